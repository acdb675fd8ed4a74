/* Probe: anonymous pipes: pipe2 flags, O_NONBLOCK reads and writes (EAGAIN,
 * partial writes only above PIPE_BUF), writes of PIPE_BUF bytes from two
 * processes never interleave, readers/writers accounting (EOF, EPIPE), and
 * SIGPIPE: caught (with its siginfo), ignored, and by default fatal. */
#include <limits.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "tap.h"

static volatile sig_atomic_t g_sigpipes, g_code, g_self;

static void on_sigpipe(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    g_sigpipes++;
    g_code = si->si_code;
    g_self = si->si_pid == getpid();
}

static char g_big[2 * 200 * PIPE_BUF];

int main(void)
{
    tap_init("pipe");
    int p[2];
    char buf[PIPE_BUF + 1];
    memset(buf, 'a', sizeof(buf));

    T_ERRNO(pipe2(p, 0x1), EINVAL, "pipe2 with an unknown flag: EINVAL");
    T_OK(pipe2(p, O_CLOEXEC | O_NONBLOCK), "pipe2 O_CLOEXEC|O_NONBLOCK");
    T_EQ(fcntl(p[0], F_GETFL), O_RDONLY | O_NONBLOCK, "read end: O_RDONLY|O_NONBLOCK");
    T_EQ(fcntl(p[1], F_GETFL), O_WRONLY | O_NONBLOCK, "write end: O_WRONLY|O_NONBLOCK");
    T_EQ(fcntl(p[1], F_GETFD), FD_CLOEXEC, "FD_CLOEXEC on both");
    T_ERRNO(read(p[0], buf, 1), EAGAIN, "empty, a writer open: EAGAIN");
    T_ERRNO(write(p[0], buf, 1), EBADF, "write to the read end: EBADF");
    T_ERRNO(read(p[1], buf, 1), EBADF, "read from the write end: EBADF");

    /* Capacity 64 KiB (16 pages); below PIPE_BUF all or nothing. */
    static char fill[65536];
    T_EQ(write(p[1], fill, sizeof(fill)), 65536, "fills 64 KiB without blocking");
    int n = -1;
    T_OK(ioctl(p[0], FIONREAD, &n), "FIONREAD");
    T_EQ(n, 65536, "FIONREAD counts the 64 KiB");
    T_ERRNO(write(p[1], buf, 1), EAGAIN, "full: one byte is EAGAIN");
    T_EQ(read(p[0], fill, PIPE_BUF), PIPE_BUF, "read one page");
    T_EQ(write(p[1], buf, PIPE_BUF + 1), PIPE_BUF, "PIPE_BUF+1 into one free page: partial");
    T_ERRNO(write(p[1], buf, 1), EAGAIN, "full again: EAGAIN");
    T_EQ(read(p[0], fill, 2 * PIPE_BUF), 2 * PIPE_BUF, "read two pages");
    T_EQ(write(p[1], buf, PIPE_BUF), PIPE_BUF, "PIPE_BUF fits");
    T_EQ(write(p[1], buf, PIPE_BUF), PIPE_BUF, "and another");
    T_ERRNO(write(p[1], buf, 100), EAGAIN, "100 bytes do not: EAGAIN, nothing written");
    T_OK(ioctl(p[0], FIONREAD, &n), "FIONREAD again");
    T_EQ(n, 65536, "64 KiB queued");
    close(p[1]);
    long total = 0;
    ssize_t r;
    while ((r = read(p[0], fill, sizeof(fill))) > 0)
        total += r;
    T_EQ(total, 65536, "the rest drains");
    T_EQ(r, 0, "then EOF: no writer left");
    close(p[0]);

    /* Two writers of PIPE_BUF-byte chunks: each chunk lands whole. */
    T_OK(pipe(p), "pipe");
    pid_t w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = fork();
        if (w[i] == 0) {
            char chunk[PIPE_BUF];
            memset(chunk, 'A' + i, sizeof(chunk));
            close(p[0]);
            for (int k = 0; k < 200; k++)
                if (write(p[1], chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
                    _exit(1);
            _exit(0);
        }
    }
    close(p[1]);
    total = 0;
    while (total < (long)sizeof(g_big) && (r = read(p[0], g_big + total, sizeof(g_big) - total)) > 0)
        total += r;
    T_EQ(total, (long)sizeof(g_big), "all 400 chunks read");
    int torn = 0, as = 0;
    for (long off = 0; off < total; off += PIPE_BUF) {
        as += g_big[off] == 'A';
        for (long j = 1; j < PIPE_BUF; j++)
            if (g_big[off + j] != g_big[off]) {
                torn++;
                break;
            }
    }
    T_EQ(torn, 0, "no PIPE_BUF write was interleaved with another");
    T_EQ(as, 200, "200 chunks from each writer");
    for (int i = 0; i < 2; i++) {
        int st;
        waitpid(w[i], &st, 0);
        T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer wrote every chunk whole");
    }
    close(p[0]);

    /* Readers accounting: a second read end keeps the pipe alive. */
    T_OK(pipe(p), "pipe");
    int r2 = dup(p[0]);
    close(p[0]);
    T_EQ(write(p[1], "x", 1), 1, "a dup'd reader is a reader");
    close(r2);

    /* No reader left: SIGPIPE (caught) and EPIPE. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigpipe;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGPIPE, &sa, NULL);
    T_ERRNO(write(p[1], "x", 1), EPIPE, "no reader: EPIPE");
    T_EQ(g_sigpipes, 1, "and one SIGPIPE");
    T_EQ(g_code, SI_USER, "si_code SI_USER");
    T_EQ(g_self, 1, "si_pid is the writer");
    struct iovec iov = {.iov_base = buf, .iov_len = 10};
    T_ERRNO(writev(p[1], &iov, 1), EPIPE, "writev: EPIPE");
    T_EQ(g_sigpipes, 2, "another SIGPIPE");
    signal(SIGPIPE, SIG_IGN);
    T_ERRNO(write(p[1], "x", 1), EPIPE, "SIGPIPE ignored: EPIPE only");
    T_EQ(g_sigpipes, 2, "no signal");
    signal(SIGPIPE, SIG_DFL);
    pid_t c = fork();
    if (c == 0) {
        write(p[1], "x", 1);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "default SIGPIPE kills the writer");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &set, NULL);
    T_ERRNO(write(p[1], "x", 1), EPIPE, "SIGPIPE blocked: EPIPE");
    sigset_t pend;
    sigpending(&pend);
    T_TRUE(sigismember(&pend, SIGPIPE), "and SIGPIPE pending");
    close(p[1]);
    return tap_done();
}
