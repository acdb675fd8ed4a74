/*
 * Probe: wait and clone flags and friends: waitid P_PGID (and P_PGID 0),
 * __WCLONE/__WALL with a child whose exit signal is not SIGCHLD,
 * SA_NOCLDSTOP, SA_NOCLDWAIT, CLONE_PARENT, CLONE_VFORK suspension,
 * execveat (AT_FDCWD, AT_EMPTY_PATH, errors), sigwaitinfo and
 * rt_tgsigqueueinfo to a thread of one's own.
 */
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

extern char **environ;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_pgid(void)
{
    pid_t g1 = fork();
    if (g1 == 0) {
        setpgid(0, 0);
        usleep(50000);
        _exit(1);
    }
    setpgid(g1, g1);
    pid_t g2 = fork();
    if (g2 == 0) {
        setpgid(0, g1);
        usleep(50000);
        _exit(2);
    }
    setpgid(g2, g1);
    pid_t other = fork();
    if (other == 0)
        _exit(3);
    siginfo_t si;
    int got = 0;
    for (int i = 0; i < 2; i++) {
        memset(&si, 0, sizeof(si));
        if (waitid(P_PGID, g1, &si, WEXITED) == 0 && (si.si_pid == g1 || si.si_pid == g2))
            got++;
    }
    T_EQ(got, 2, "waitid P_PGID reaps the group's two members");
    T_ERRNO(waitid(P_PGID, g1, &si, WEXITED), ECHILD, "then ECHILD for that group");
    memset(&si, 0, sizeof(si));
    T_OK(waitid(P_PGID, 0, &si, WEXITED), "waitid P_PGID 0: our own group");
    T_EQ(si.si_pid, other, "the child in our group");
    T_EQ(si.si_status, 3, "its status");
    T_ERRNO(waitid(P_PGID, -1, &si, WEXITED), EINVAL, "P_PGID -1: EINVAL");
    T_ERRNO(waitid(P_ALL, 0, &si, 0), EINVAL, "waitid without WEXITED/WSTOPPED/WCONTINUED: EINVAL");
}

static char g_stack[65536] __attribute__((aligned(16)));

static int clone_fn(void *arg)
{
    _exit((int)(intptr_t)arg);
}

static void test_wclone(void)
{
    /* A "clone" child: its exit signal is not SIGCHLD. */
    pid_t c = clone(clone_fn, g_stack + sizeof(g_stack), 0 /* no exit signal */, (void *)7);
    T_TRUE(c > 0, "clone with exit signal 0");
    pid_t n = fork();
    if (n == 0)
        _exit(8);
    int st;
    T_EQ(waitpid(-1, &st, 0), n, "plain wait sees only the normal child");
    T_ERRNO(waitpid(-1, &st, WNOHANG), ECHILD, "and then ECHILD (the clone child is not waited for)");
    T_EQ(waitpid(-1, &st, __WCLONE), c, "__WCLONE reaps the clone child");
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 7, "its status");
    c = clone(clone_fn, g_stack + sizeof(g_stack), 0, (void *)9);
    n = fork();
    if (n == 0)
        _exit(10);
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        pid_t r = waitpid(-1, &st, __WALL);
        if ((r == c && WEXITSTATUS(st) == 9) || (r == n && WEXITSTATUS(st) == 10))
            seen++;
    }
    T_EQ(seen, 2, "__WALL reaps both kinds");
}

static volatile sig_atomic_t g_chld;

static void on_chld(int sig)
{
    g_chld++;
}

static void test_nocldstop(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, &old);
    g_chld = 0;
    pid_t c = fork();
    if (c == 0) {
        raise(SIGSTOP);
        _exit(0);
    }
    int st;
    T_EQ(waitpid(c, &st, WUNTRACED), c, "the child stopped");
    usleep(50000);
    T_EQ(g_chld, 0, "SA_NOCLDSTOP: no SIGCHLD for the stop");
    kill(c, SIGCONT);
    waitpid(c, &st, 0);
    usleep(20000);
    T_EQ(g_chld, 1, "one SIGCHLD for the exit");
    sigaction(SIGCHLD, &old, NULL);
}

static void test_nocldwait(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &sa, &old);
    for (int i = 0; i < 3; i++)
        if (fork() == 0)
            _exit(0);
    int st;
    T_ERRNO(wait(&st), ECHILD, "SA_NOCLDWAIT: children are reaped by themselves (wait: ECHILD)");
    sigaction(SIGCHLD, &old, NULL);
}

static int parent_fn(void *arg)
{
    _exit(11);
}

static void test_clone_parent(void)
{
    pid_t me = getpid();
    int p[2];
    if (pipe(p) < 0)
        tap_bail("pipe");
    pid_t c = fork();
    if (c == 0) {
        pid_t gc = clone(parent_fn, g_stack + sizeof(g_stack), CLONE_PARENT | SIGCHLD, NULL);
        write(p[1], &gc, sizeof(gc));
        _exit(0);
    }
    pid_t gc = 0;
    read(p[0], &gc, sizeof(gc));
    close(p[0]);
    close(p[1]);
    int st;
    waitpid(c, &st, 0);
    T_TRUE(gc > 0, "clone CLONE_PARENT");
    T_EQ(waitpid(gc, &st, 0), gc, "the sibling is our child (we wait for it)");
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 11, "its status");
    (void)me;
}

static void test_vfork(void)
{
    double t0 = now_s();
    pid_t c = vfork();
    if (c == 0) {
        usleep(100000);
        _exit(12);
    }
    T_TRUE(now_s() - t0 >= 0.09, "vfork: the parent waits until the child exits");
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 12, "vfork child status");
}

static int run_exit(int (*fn)(void))
{
    pid_t c = fork();
    if (c == 0)
        _exit(fn());
    int st;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int exec_at_cwd(void)
{
    char *argv[] = {(char *)"wait", (char *)"exit42", NULL};
    syscall(SYS_execveat, AT_FDCWD, "/proc/self/exe", argv, environ, 0);
    return 99;
}

static int exec_empty_path(void)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    char *argv[] = {(char *)"wait", (char *)"exit42", NULL};
    syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
    return 98;
}

static void test_execveat(void)
{
    T_EQ(run_exit(exec_at_cwd), 42, "execveat(AT_FDCWD, path)");
    T_EQ(run_exit(exec_empty_path), 42, "execveat(fd, \"\", AT_EMPTY_PATH)");
    char *argv[] = {(char *)"x", NULL};
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    T_ERRNO(syscall(SYS_execveat, fd, "", argv, environ, 0), ENOENT, "empty path without AT_EMPTY_PATH: ENOENT");
    T_ERRNO(syscall(SYS_execveat, AT_FDCWD, "/proc/self/exe", argv, environ, 0x8000), EINVAL,
            "unknown flag: EINVAL");
    T_ERRNO(syscall(SYS_execveat, 9999, "rel", argv, environ, 0), EBADF, "relative to a bad fd: EBADF");
    close(fd);
}

static void test_sigwaitinfo(void)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1);
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    T_EQ(sigwaitinfo(&set, &si), SIGUSR1, "sigwaitinfo takes the pending signal");
    T_TRUE(si.si_code == SI_TKILL || si.si_code == SI_USER, "a user si_code");
    T_EQ(si.si_pid, getpid(), "from us");

    /* rt_tgsigqueueinfo to our own thread, with a value. */
    memset(&si, 0, sizeof(si));
    si.si_signo = SIGUSR1;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = 4242;
    T_OK(syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1, &si),
         "rt_tgsigqueueinfo to our own thread");
    siginfo_t got;
    memset(&got, 0, sizeof(got));
    T_EQ(sigwaitinfo(&set, &got), SIGUSR1, "sigwaitinfo gets it");
    T_EQ(got.si_code, SI_QUEUE, "si_code SI_QUEUE");
    T_EQ(got.si_value.sival_int, 4242, "its value");
    T_ERRNO(syscall(SYS_rt_tgsigqueueinfo, 0, 1, SIGUSR1, &si), EINVAL, "tgid 0: EINVAL");
    T_ERRNO(syscall(SYS_rt_tgsigqueueinfo, getpid(), 0, SIGUSR1, &si), EINVAL, "tid 0: EINVAL");
    T_ERRNO(syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1, BAD_PTR),
            EFAULT, "bad siginfo: EFAULT");
    T_ERRNO(syscall(SYS_rt_tgsigqueueinfo, getpid(), 999999, SIGUSR1, &si), ESRCH, "no such thread: ESRCH");
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "exit42") == 0)
        return 42;
    tap_init("wait");
    test_pgid();
    test_wclone();
    test_nocldstop();
    test_nocldwait();
    test_clone_parent();
    test_vfork();
    test_execveat();
    test_sigwaitinfo();
    return tap_done();
}
