/*
 * Hostile resource use, run inside `moat do --memory=256m --pids=64`
 * (tests/security/test_limits.py):
 *   forkbomb  processes that fork forever; contained when fork fails (EAGAIN)
 *   memhog    a 100 GiB anonymous mapping touched page by page, in a child;
 *             contained when mmap fails (ENOMEM) or the child is killed
 *   fdleak    opens files forever (also after raising RLIMIT_NOFILE to its
 *             hard limit); contained when open fails (EMFILE/ENFILE)
 * Each prints one "contained: ..." line and exits 0 when the sandbox ended
 * the abuse and still works afterwards (fork, open, mmap succeed again).
 * With a second argument "hold" it then reads stdin to its end before it
 * exits, so that the test sees the sandbox's cgroup however fast it ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int forkbomb(void)
{
    int p[2];
    if (pipe(p) < 0)
        return 2;
    pid_t leader = fork();
    if (leader < 0)
        return 2;
    if (leader == 0) {
        setpgid(0, 0);
        close(p[0]);
        for (;;) {
            pid_t c = fork();
            if (c < 0) {
                char e = (char)errno;
                if (write(p[1], &e, 1) < 0)
                    _exit(1);
                pause();
            }
        }
    }
    setpgid(leader, leader);
    close(p[1]);
    char e = 0;
    alarm(60);
    if (read(p[0], &e, 1) != 1) {
        printf("forkbomb: no fork ever failed\n");
        return 1;
    }
    alarm(0);
    /* Let the others hit the limit too, then end them all. */
    usleep(300 * 1000);
    kill(-leader, SIGKILL);
    int n = 0;
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        n++;
    pid_t again = fork();
    if (again == 0)
        _exit(7);
    int st = 0;
    if (again < 0 || waitpid(again, &st, 0) != again || !WIFEXITED(st) || WEXITSTATUS(st) != 7) {
        printf("forkbomb: fork fails after the bomb: %s\n", strerror(errno));
        return 1;
    }
    printf("contained: fork failed with %s (%s); %d processes reaped; fork works again\n",
           e == EAGAIN ? "EAGAIN" : "another error", strerror((unsigned char)e), n);
    return e == EAGAIN ? 0 : 1;
}

static void touch_all(char *p, size_t len)
{
    for (size_t off = 0; off < len; off += 4096)
        p[off] = 1;
}

static int memhog(void)
{
    pid_t c = fork();
    if (c < 0)
        return 2;
    if (c == 0) {
        size_t len = 100ULL << 30;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            printf("memhog: 100 GiB mmap: %s; 1 GiB at a time\n", strerror(errno));
            fflush(stdout);
            for (;;) {
                p = mmap(NULL, 1ULL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                         0);
                if (p == MAP_FAILED)
                    _exit(errno == ENOMEM ? 12 : 1);
                touch_all(p, 1ULL << 30);
            }
        }
        touch_all(p, len);
        _exit(3); /* touched 100 GiB: not contained */
    }
    int st;
    alarm(100);
    if (waitpid(c, &st, 0) != c)
        return 2;
    alarm(0);
    if (WIFSIGNALED(st))
        printf("contained: the 100 GiB toucher died of signal %d (%s)\n", WTERMSIG(st),
               strsignal(WTERMSIG(st)));
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 12)
        printf("contained: mmap failed with ENOMEM\n");
    else {
        printf("memhog: the toucher exited with %d\n", WEXITSTATUS(st));
        return 1;
    }
    /* The memory is back: 64 MiB can be had again. */
    char *p = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    touch_all(p, 64 << 20);
    printf("memory works again\n");
    return (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) || WIFEXITED(st) ? 0 : 1;
}

/* Near the memory limit, a 1 GiB sparse file in /tmp reads as zeros, is
 * cut to an odd size (its last page zeroed in part), and a futex waits on
 * a page never touched: none of them may make the host allocate the holes
 * (which would end the sandbox), and the app's memory stays its own. */
static int sparse(void)
{
    size_t fill = 200 << 20, big = (size_t)1 << 30;
    char *m = mmap(NULL, fill, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *untouched = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || untouched == MAP_FAILED)
        return 1;
    touch_all(m, fill);
    int fd = open("/tmp/sparse", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)big) < 0)
        return 1;
    static char buf[1 << 20];
    size_t got = 0, nonzero = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            nonzero += buf[i] != 0;
        got += (size_t)n;
    }
    if (n < 0 || got != big || nonzero) {
        printf("sparse: read %zu bytes (%zu not zero): %s\n", got, nonzero,
               n < 0 ? strerror(errno) : "short");
        return 1;
    }
    if (ftruncate(fd, 12345) < 0 || pwrite(fd, "x", 1, 1 << 20) != 1 ||
        pread(fd, buf, 4096, 12288) != 4096) {
        printf("sparse: truncate, write or read back failed: %s\n", strerror(errno));
        return 1;
    }
    for (int i = 0; i < 4096; i++)
        nonzero += buf[i] != 0;
    struct timespec ts = {0, 1000000};
    long w = syscall(SYS_futex, untouched, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    if (nonzero || w != -1 || errno != ETIMEDOUT) {
        printf("sparse: cut page not zero (%zu) or futex wait %ld (%s)\n", nonzero, w,
               strerror(errno));
        return 1;
    }
    printf("contained: a 1 GiB sparse file read as zeros with 200 MiB in use\n");
    return 0;
}

static int leak_until_error(int *out_errno)
{
    int n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            *out_errno = errno;
            return n;
        }
        n++;
    }
}

static int fdleak(void)
{
    int e1 = 0, e2 = 0;
    int n1 = leak_until_error(&e1);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int n2 = leak_until_error(&e2);
    printf("contained: %d fds then %s; %d more (RLIMIT_NOFILE raised to %llu) then %s\n", n1,
           strerror(e1), n2, (unsigned long long)rl.rlim_max, strerror(e2));
    if ((e1 != EMFILE && e1 != ENFILE) || (e2 != EMFILE && e2 != ENFILE))
        return 1;
    for (int fd = 3; fd < n1 + n2 + 3; fd++)
        close(fd);
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0)
        return 1;
    printf("open works again\n");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "hold") != 0)) {
        fprintf(stderr, "usage: limits-helper forkbomb|memhog|fdleak|sparse [hold]\n");
        return 2;
    }
    int rc = 2;
    if (strcmp(argv[1], "forkbomb") == 0)
        rc = forkbomb();
    else if (strcmp(argv[1], "memhog") == 0)
        rc = memhog();
    else if (strcmp(argv[1], "fdleak") == 0)
        rc = fdleak();
    else if (strcmp(argv[1], "sparse") == 0)
        rc = sparse();
    char buf[64];
    while (argc == 3 && read(0, buf, sizeof(buf)) > 0)
        ;
    return rc;
}
