/*
 * A syscall fuzzer meant to run inside moat (never natively: it refuses
 * without --in-sandbox). A parent forks WORKERS processes; each issues
 * random syscalls (numbers 0..460, x32 and out-of-range ones now and then)
 * with random and semi-valid arguments: pointers into a read-write buffer
 * (filled with random bytes and with pointers into itself, so iovecs and
 * msghdrs chain), a read-only page, a guard page, the end of the buffer
 * running into the guard page, unmapped and kernel addresses; fds that
 * exist (file, directory, pipe, socketpair, eventfd, /dev/null, epoll);
 * path strings; flag mixes; sizes around page boundaries.
 *
 * A worker killed by a signal, or one that makes no progress for 3 s (a
 * blocking call with SIGALRM blocked), is replaced. The parent prints the
 * number of syscalls executed, then exits 0. The reproducer of a worker is
 * its seed (printed with -v): `syscall-fuzz --in-sandbox -w 1 -s SEED -v`.
 *
 * Each worker runs THREADS threads (default 2) fuzzing at once.
 *
 *   syscall-fuzz --in-sandbox [-t SECONDS] [-w WORKERS] [-s SEED] [-T THREADS] [-v]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 32
#define BUF_SIZE    (64 * 1024)
#define NR_MAX      460
#define X32_BIT     0x40000000UL

struct slot {
    uint64_t count;    /* syscalls done by the current worker */
    uint64_t progress; /* bumped before each call */
    volatile uint64_t seed;
    volatile long nr; /* the call in flight */
};

static struct slot *g_slots;
static __thread uint64_t g_rng;
static int g_threads = 2; /* per worker */
static char *g_buf;       /* BUF_SIZE read-write, then a guard page */
static char *g_ro;        /* a read-only page */
static char *g_guard;     /* PROT_NONE */
static int g_fds[16];
static int g_nfds;
static bool g_verbose;

static uint64_t rnd(void)
{
    /* xorshift64* */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ULL;
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* Calls that would end the harness itself rather than test the kernel:
 * the parent (pid 1) must not be killed, and fork-like calls only make a
 * fork bomb. exit/exit_group just end a worker (replaced). */
static bool skipped(long nr)
{
    switch (nr) {
    case SYS_kill:
    case SYS_tkill:
    case SYS_tgkill:
    case SYS_pidfd_send_signal:
    case SYS_rt_sigqueueinfo:
    case SYS_rt_tgsigqueueinfo:
    case SYS_fork:
    case SYS_vfork:
    case SYS_clone:
    case SYS_clone3:
    case SYS_execve:
    case SYS_execveat:
    case SYS_reboot:
    case SYS_setpgid: /* the parent kills workers by pid, not group: harmless, but noisy */
        return true;
    default:
        return false;
    }
}

/* Calls that could reach the parent (pid 1 of the sandbox) are pointed
 * at nothing: it must outlive the workers to count them. */
static void sanitize(long nr, uint64_t *a)
{
    switch (nr) {
    case SYS_prlimit64:
    case SYS_process_vm_writev:
    case SYS_process_vm_readv:
        a[0] = 0;
        break;
    case SYS_ptrace:
        if (a[1] == 1 || a[1] == (uint64_t)getppid())
            a[1] = 0;
        break;
    default:
        break;
    }
}

static const char *const g_paths[] = {
        "/",
        "/tmp",
        "/tmp/fuzz",
        "/tmp/fuzz/a",
        "/proc/self/mem",
        "/proc/self/fd/0",
        "/dev/null",
        "/dev/zero",
        "/etc/passwd",
        "..",
        "../../..",
        "/proc/self/exe",
        "/sys",
        "/dev/ptmx",
        "a/b/c",
        "",
        "/proc/self/task",
};

static void fill_buffer(void)
{
    uint64_t *w = (uint64_t *)(void *)g_buf;
    for (size_t i = 0; i < BUF_SIZE / 8; i++) {
        switch (below(8)) {
        case 0: /* a pointer into the buffer (iovec bases, msghdr fields) */
            w[i] = (uint64_t)(uintptr_t)(g_buf + below(BUF_SIZE));
            break;
        case 1: /* a small length */
            w[i] = below(4096);
            break;
        case 2:
            w[i] = (uint64_t)(uintptr_t)g_guard;
            break;
        default:
            w[i] = rnd();
        }
    }
    /* Some NUL-terminated paths. */
    for (int k = 0; k < 4; k++) {
        const char *p = g_paths[below(sizeof(g_paths) / sizeof(g_paths[0]))];
        size_t off = below(BUF_SIZE - 64);
        memcpy(g_buf + off, p, strlen(p) + 1);
    }
}

static uint64_t pointer_arg(void)
{
    switch (below(9)) {
    case 0:
        return (uint64_t)(uintptr_t)(g_buf + below(BUF_SIZE));
    case 1: /* the end of the buffer, running into the guard page */
        return (uint64_t)(uintptr_t)(g_buf + BUF_SIZE - below(64));
    case 2:
        return (uint64_t)(uintptr_t)g_ro + below(4096);
    case 3:
        return (uint64_t)(uintptr_t)g_guard + below(4096);
    case 4:
        return 0;
    case 5: /* kernel half, non-canonical */
        return below(2) ? 0xffffffff81000000ULL : 0x0000800000000000ULL + below(1 << 20);
    case 6: /* low, unmapped */
        return below(1 << 16);
    case 7: {
        const char *p = g_paths[below(sizeof(g_paths) / sizeof(g_paths[0]))];
        size_t off = below(BUF_SIZE - 64);
        memcpy(g_buf + off, p, strlen(p) + 1);
        return (uint64_t)(uintptr_t)(g_buf + off);
    }
    default:
        return (uint64_t)(uintptr_t)g_buf;
    }
}

static uint64_t arg(void)
{
    switch (below(12)) {
    case 0:
    case 1:
        return pointer_arg();
    case 2:
    case 3:
        return (uint64_t)g_fds[below((uint64_t)g_nfds)];
    case 4:
        return below(2) ? (uint64_t)-1 : (uint64_t)-100; /* AT_FDCWD */
    case 5:
        return below(65);
    case 6: /* sizes around page boundaries */
        return 4096 * below(4) + below(3) - 1;
    case 7: /* a flag mix */
        return (1ULL << below(32)) | (below(2) ? 1ULL << below(32) : 0) |
               (below(4) == 0 ? 0x80000ULL : 0); /* O_CLOEXEC-ish */
    case 8:
        return rnd();
    case 9:
        return (uint64_t)(int64_t)(int32_t)rnd();
    case 10:
        return 1ULL << below(64);
    default:
        return 0;
    }
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void setup_worker_state(void)
{
    g_buf = mmap(NULL, BUF_SIZE + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_buf == MAP_FAILED)
        _exit(3);
    g_guard = g_buf + BUF_SIZE;
    mprotect(g_guard, 4096, PROT_NONE);
    g_ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_ro == MAP_FAILED)
        _exit(3);
    memset(g_ro, 'r', 4096);
    mprotect(g_ro, 4096, PROT_READ);
    g_nfds = 0;
    int p[2], s[2];
    if (pipe2(p, O_NONBLOCK) == 0) {
        g_fds[g_nfds++] = p[0];
        g_fds[g_nfds++] = p[1];
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) == 0) {
        g_fds[g_nfds++] = s[0];
        g_fds[g_nfds++] = s[1];
    }
    mkdir("/tmp/fuzz", 0777);
    int fd = open("/tmp/fuzz/a", O_RDWR | O_CREAT, 0644);
    if (fd >= 0)
        g_fds[g_nfds++] = fd;
    fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    if (fd >= 0)
        g_fds[g_nfds++] = fd;
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0)
        g_fds[g_nfds++] = fd;
    fd = eventfd(0, EFD_NONBLOCK);
    if (fd >= 0)
        g_fds[g_nfds++] = fd;
    fd = epoll_create1(0);
    if (fd >= 0)
        g_fds[g_nfds++] = fd;
    g_fds[g_nfds++] = 0;
    g_fds[g_nfds++] = 1000; /* not open */
}

struct fuzz_thread {
    struct slot *sl;
    uint64_t seed;
};

static void fuzz_loop(struct slot *sl) __attribute__((noreturn));
static void fuzz_loop(struct slot *sl)
{
    for (uint64_t i = 0;; i++) {
        if ((i & 63) == 0)
            fill_buffer();
        long nr = (long)below(NR_MAX);
        switch (below(64)) {
        case 0:
            nr |= (long)X32_BIT;
            break;
        case 1:
            nr = (long)rnd();
            break;
        default:
            break;
        }
        if (skipped(nr & ~(long)X32_BIT))
            continue;
        uint64_t a[6];
        for (int k = 0; k < 6; k++)
            a[k] = arg();
        sanitize(nr & ~(long)X32_BIT, a);
        sl->nr = nr;
        __atomic_fetch_add(&sl->progress, 1, __ATOMIC_RELAXED);
        if (g_verbose)
            fprintf(stderr, "%d: %ld(%#llx, %#llx, %#llx, %#llx, %#llx, %#llx)\n", getpid(), nr,
                    (unsigned long long)a[0], (unsigned long long)a[1], (unsigned long long)a[2],
                    (unsigned long long)a[3], (unsigned long long)a[4], (unsigned long long)a[5]);
        syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        __atomic_fetch_add(&sl->count, 1, __ATOMIC_RELAXED);
    }
}

static void *fuzz_thread_main(void *arg)
{
    struct fuzz_thread *ft = arg;
    g_rng = ft->seed ? ft->seed : 1;
    fuzz_loop(ft->sl);
}

static void worker_main(struct slot *sl, uint64_t seed) __attribute__((noreturn));
static void worker_main(struct slot *sl, uint64_t seed)
{
    g_rng = seed ? seed : 1;
    sl->seed = seed;
    /* Die with the parent; stdin/stdout are the parent's business. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        if (!g_verbose)
            dup2(null, 2);
        close(null);
    }
    setup_worker_state();
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    /* SIGALRM every 50 ms ends calls that block. */
    struct itimerval it = {{0, 50000}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    for (int t = 1; t < g_threads; t++) {
        pthread_t th;
        struct fuzz_thread *ft = malloc(sizeof(*ft));
        if (!ft)
            break;
        ft->sl = sl;
        ft->seed = seed * 31 + (uint64_t)t;
        pthread_create(&th, NULL, fuzz_thread_main, ft);
    }
    fuzz_loop(sl);
}

static pid_t spawn(int w, uint64_t seed)
{
    pid_t p = fork();
    if (p == 0)
        worker_main(&g_slots[w], seed);
    return p;
}

int main(int argc, char **argv)
{
    int seconds = 60, workers = 4;
    uint64_t seed = (uint64_t)time(NULL) * 2654435761ULL;
    bool ok = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--in-sandbox") == 0)
            ok = true;
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            seconds = atoi(argv[++i]);
        else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
            workers = atoi(argv[++i]);
        else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "-T") == 0 && i + 1 < argc)
            g_threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "-v") == 0)
            g_verbose = true;
        else {
            fprintf(stderr, "usage: syscall-fuzz --in-sandbox [-t SECONDS] [-w WORKERS] "
                            "[-s SEED] [-T THREADS] [-v]\n");
            return 2;
        }
    }
    if (!ok) {
        fprintf(stderr, "syscall-fuzz: refusing to run without --in-sandbox (run it inside "
                        "moat: tools/fuzz.sh)\n");
        return 2;
    }
    if (workers < 1 || workers > MAX_WORKERS || seconds < 1)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_slots = mmap(NULL, sizeof(struct slot) * MAX_WORKERS, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_slots == MAP_FAILED)
        return 3;
    printf("syscall-fuzz: %d workers, %d s, seed %#llx\n", workers, seconds,
           (unsigned long long)seed);
    pid_t pids[MAX_WORKERS];
    uint64_t last_progress[MAX_WORKERS] = {0};
    int stalled[MAX_WORKERS] = {0};
    uint64_t total = 0, generation = 0, replaced = 0, by_signal = 0;
    for (int w = 0; w < workers; w++)
        pids[w] = spawn(w, seed + (uint64_t)w * 0x9e3779b97f4a7c15ULL);
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
            for (int w = 0; w < workers; w++) {
                if (pids[w] != p)
                    continue;
                total += g_slots[w].count;
                if (WIFSIGNALED(st))
                    by_signal++;
                if (g_verbose)
                    fprintf(stderr, "worker %d (seed %#llx) ended (%s %d) in call %ld\n", w,
                            (unsigned long long)g_slots[w].seed,
                            WIFSIGNALED(st) ? "signal" : "exit",
                            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), g_slots[w].nr);
                g_slots[w].count = 0;
                generation++;
                replaced++;
                pids[w] = spawn(w, seed + generation * 0x2545f4914f6cdd1dULL + (uint64_t)w);
                stalled[w] = 0;
            }
        }
        /* A worker stuck in one call for 3 s: replaced. */
        for (int w = 0; w < workers; w++) {
            if (g_slots[w].progress != last_progress[w]) {
                last_progress[w] = g_slots[w].progress;
                stalled[w] = 0;
            } else if (++stalled[w] >= 30 && pids[w] > 0) {
                if (g_verbose)
                    fprintf(stderr, "worker %d stuck in call %ld: killed\n", w, g_slots[w].nr);
                syscall(SYS_kill, pids[w], SIGKILL);
                stalled[w] = 0;
            }
        }
    }
    for (int w = 0; w < workers; w++)
        if (pids[w] > 0)
            syscall(SYS_kill, pids[w], SIGKILL);
    int st;
    while (wait(&st) > 0 || errno == EINTR)
        ;
    for (int w = 0; w < workers; w++)
        total += g_slots[w].count;
    printf("syscall-fuzz: %llu syscalls executed, %llu workers replaced (%llu killed by a "
           "signal)\n",
           (unsigned long long)total, (unsigned long long)replaced, (unsigned long long)by_signal);
    return 0;
}
