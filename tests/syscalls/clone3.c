/*
 * Probe: clone3's extras: the size of struct clone_args (E2BIG past a page
 * or with unknown non-zero bytes, EINVAL below the first version), set_tid
 * (a chosen pid; EEXIST, EINVAL and EPERM as Linux), CLONE_CLEAR_SIGHAND,
 * CLONE_INTO_CGROUP with fds that are not cgroup2 directories, and the
 * argument checks of clone3_args_valid. Runs as PID 1 of fresh namespaces
 * natively (--host-state) so pids are the sandbox's.
 */
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "tap.h"

#define OTHER_UID 54321

struct args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t set_tid, set_tid_size, cgroup;
};

static long clone3(void *a, size_t size)
{
    return syscall(SYS_clone3, a, size);
}

/* clone3 with CA as a fork: the child exits with CHILD() (NULL: 0). The
 * parent's result: the pid, or -1 with errno. */
static long fork3(struct args *ca, size_t size, int (*child)(void))
{
    long r = clone3(ca, size);
    if (r == 0)
        _exit(child ? child() : 0);
    return r;
}

/* The child's exit status, 255 if it did not exit. */
static int reap(long pid)
{
    int st = 0;
    if (pid <= 0 || waitpid((pid_t)pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static int report_pid(void)
{
    return getpid() == 500 ? 0 : 1;
}

static void test_size(void)
{
    struct {
        struct args a;
        uint64_t more[8];
    } big;
    memset(&big, 0, sizeof(big));
    big.a.exit_signal = SIGCHLD;
    T_ERRNO(clone3(&big, 63), EINVAL, "size 63 (below CLONE_ARGS_SIZE_VER0): EINVAL");
    T_ERRNO(clone3(&big, 4097), E2BIG, "size past a page: E2BIG");
    T_ERRNO(clone3(&big, 0), EINVAL, "size 0: EINVAL");
    big.more[3] = 1;
    T_ERRNO(clone3(&big, sizeof(big)), E2BIG, "unknown trailing bytes not zero: E2BIG");
    big.more[3] = 0;
    long r = fork3(&big.a, sizeof(big), NULL);
    T_EQ(reap(r), 0, "a larger struct with zero trailing bytes works");
    r = fork3(&big.a, 64, NULL);
    T_EQ(reap(r), 0, "the first version's 64 bytes work");
    T_ERRNO(clone3(BAD_PTR, 88), EFAULT, "a bad pointer: EFAULT");
}

static void test_valid(void)
{
    struct args ca;
    memset(&ca, 0, sizeof(ca));
    ca.exit_signal = 65;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "exit_signal 65: EINVAL");
    ca.exit_signal = 0x100 | SIGCHLD;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "exit_signal with bits past CSIGNAL: EINVAL");
    ca.exit_signal = SIGCHLD;
    ca.flags = CLONE_DETACHED;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "CLONE_DETACHED: EINVAL");
    ca.flags = 1ULL << 40;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "an unknown flag: EINVAL");
    ca.flags = CLONE_PARENT;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "CLONE_PARENT with an exit signal: EINVAL");
    ca.flags = 0;
    ca.stack_size = 4096;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "a stack size without a stack: EINVAL");
    ca.stack_size = 0;
    ca.stack = 4096;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "a stack without a size: EINVAL");
    ca.stack = 0;
    ca.flags = CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "CLONE_SIGHAND with CLONE_CLEAR_SIGHAND: EINVAL");
}

static void test_set_tid(void)
{
    struct args ca;
    memset(&ca, 0, sizeof(ca));
    ca.exit_signal = SIGCHLD;
    pid_t want[40] = {500};
    ca.set_tid_size = 1;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "set_tid_size without set_tid: EINVAL");
    ca.set_tid = (uintptr_t)want;
    ca.set_tid_size = 0;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "set_tid without a size: EINVAL");
    ca.set_tid_size = 33;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "set_tid_size 33 (past MAX_PID_NS_LEVEL): EINVAL");
    ca.set_tid_size = 3;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "more pids than nested namespaces: EINVAL");
    ca.set_tid_size = 1;
    ca.set_tid = (uintptr_t)BAD_PTR;
    T_ERRNO(clone3(&ca, sizeof(ca)), EFAULT, "a bad set_tid pointer: EFAULT");
    ca.set_tid = (uintptr_t)want;

    /* A chosen pid. */
    int p[2];
    if (pipe(p) < 0)
        tap_bail("pipe");
    long r = clone3(&ca, sizeof(ca));
    if (r == 0) {
        char b;
        close(p[1]);
        int ok = report_pid() == 0;
        if (read(p[0], &b, 1) < 0)
            ok = 0;
        _exit(ok ? 0 : 1);
    }
    close(p[0]);
    T_EQ(r, 500, "set_tid 500: the child is pid 500");
    T_ERRNO(clone3(&ca, sizeof(ca)), EEXIST, "pid 500 in use: EEXIST");
    close(p[1]);
    T_EQ(reap(r), 0, "the child sees getpid() == 500");
    r = fork3(&ca, sizeof(ca), report_pid);
    T_EQ(reap(r), 0, "reaped, pid 500 can be had again");

    want[0] = 1;
    T_ERRNO(clone3(&ca, sizeof(ca)), EEXIST, "pid 1 (ourselves): EEXIST");
    want[0] = 0;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "pid 0: EINVAL");
    want[0] = -5;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "pid -5: EINVAL");

    /* Without CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE: EPERM. */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        if (setresgid(OTHER_UID, OTHER_UID, OTHER_UID) < 0 ||
            setresuid(OTHER_UID, OTHER_UID, OTHER_UID) < 0)
            _exit(3);
        want[0] = 600;
        long rr = clone3(&ca, sizeof(ca));
        if (rr == 0)
            _exit(0);
        _exit(rr == -1 && errno == EPERM ? 0 : 1);
    }
    T_EQ(reap(c), 0, "set_tid without the capabilities: EPERM");
}

static void on_usr1(int sig)
{
    (void)sig;
}

static int check_cleared(void)
{
    struct sigaction a1, a2;
    sigaction(SIGUSR1, NULL, &a1);
    sigaction(SIGUSR2, NULL, &a2);
    if (a1.sa_handler != SIG_DFL || a1.sa_flags & SA_RESTART)
        return 1;
    if (a2.sa_handler != SIG_IGN)
        return 2;
    return 0;
}

static int check_kept(void)
{
    struct sigaction a1;
    sigaction(SIGUSR1, NULL, &a1);
    return a1.sa_handler == on_usr1 ? 0 : 1;
}

static void test_clear_sighand(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGUSR2, SIG_IGN);
    struct args ca;
    memset(&ca, 0, sizeof(ca));
    ca.exit_signal = SIGCHLD;
    ca.flags = CLONE_CLEAR_SIGHAND;
    long r = fork3(&ca, sizeof(ca), check_cleared);
    T_EQ(reap(r), 0, "CLONE_CLEAR_SIGHAND: handlers back to SIG_DFL, SIG_IGN kept");
    ca.flags = 0;
    r = fork3(&ca, sizeof(ca), check_kept);
    T_EQ(reap(r), 0, "without it the child keeps the handler");
    T_EQ(check_kept(), 0, "the parent's handler is untouched");
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
}

static void test_into_cgroup(void)
{
    struct args ca;
    memset(&ca, 0, sizeof(ca));
    ca.exit_signal = SIGCHLD;
    ca.flags = CLONE_INTO_CGROUP;
    ca.cgroup = 1ULL << 31;
    T_ERRNO(clone3(&ca, sizeof(ca)), EINVAL, "cgroup fd past INT_MAX: EINVAL");
    ca.cgroup = 0;
    T_ERRNO(clone3(&ca, 80), EINVAL, "CLONE_INTO_CGROUP in an 80-byte struct: EINVAL");
    ca.cgroup = 999;
    T_ERRNO(clone3(&ca, sizeof(ca)), EBADF, "a closed fd: EBADF");
    int d = open("/", O_RDONLY | O_DIRECTORY);
    ca.cgroup = (uint64_t)d;
    T_ERRNO(clone3(&ca, sizeof(ca)), EBADF, "a directory that is not a cgroup: EBADF");
    close(d);
    int f = open("/proc/self/status", O_RDONLY);
    ca.cgroup = (uint64_t)f;
    T_ERRNO(clone3(&ca, sizeof(ca)), EBADF, "a file: EBADF");
    close(f);
}

int main(void)
{
    tap_init("clone3");
    test_size();
    test_valid();
    test_set_tid();
    test_clear_sighand();
    test_into_cgroup();
    return tap_done();
}
