/*
 * Process management: waitid (P_PID, P_ALL, WNOWAIT, WSTOPPED/WCONTINUED),
 * pidfd_open/pidfd_send_signal/waitid(P_PIDFD), clone3, the set*id family,
 * prctl (NAME, PDEATHSIG, NO_NEW_PRIVS, CHILD_SUBREAPER), setitimer/alarm,
 * getrusage/times, sched_getaffinity/getscheduler/priority (also of a
 * process group and a user), sched_setattr/getattr/rr_get_interval,
 * personality.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct clone_args_l {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static volatile int g_alarms;
static void on_alarm(int s)
{
    g_alarms++;
}

/* Set in main: a user of this run's own (see tap_private_uid). */
static uid_t g_user;

/* A child that says it is ready on the pipe READY, waits for a byte on FD,
 * then exits 0 (after setpgid(0,0) if NEWPGRP, or as g_user if USER). */
static pid_t waiter(int fd, const int ready[2], int newpgrp, int user)
{
    pid_t c = fork();
    if (c == 0) {
        if (newpgrp)
            setpgid(0, 0);
        if (user && (setresgid(g_user, g_user, g_user) < 0 || setresuid(g_user, g_user, g_user) < 0))
            _exit(3);
        char b = 'r';
        if (write(ready[1], &b, 1) != 1 || read(fd, &b, 1) < 0)
            _exit(1);
        _exit(0);
    }
    char b;
    if (read(ready[0], &b, 1) != 1)
        tap_bail("ready");
    return c;
}

static int prio_of(int which, int who)
{
    errno = 0;
    int n = getpriority(which, who);
    return errno ? -100 - errno : n;
}

/* getpriority/setpriority on a process group and on a user. */
static void test_prio_groups(int nice0)
{
    int p[2], r[2];
    if (pipe(p) < 0 || pipe(r) < 0)
        tap_bail("pipe");
    pid_t a = waiter(p[0], r, 1, 0);
    setpgid(a, a); /* whichever of us gets there first */
    pid_t b = fork();
    if (b == 0) {
        setpgid(0, a);
        char c;
        if (read(p[0], &c, 1) < 0)
            _exit(1);
        _exit(0);
    }
    setpgid(b, a);
    pid_t u = waiter(p[0], r, 0, 1);
    /* Our own group (natively we came with the group of the process that
     * made the namespace; in moat, PID 1 leads its session already). */
    setpgid(0, 0);
    int n = nice0 < 15 ? nice0 + 3 : 18;
    T_OK(setpriority(PRIO_PGRP, a, n), "setpriority(PRIO_PGRP)");
    T_TRUE(prio_of(PRIO_PROCESS, a) == n && prio_of(PRIO_PROCESS, b) == n, "both processes of the group");
    T_EQ(prio_of(PRIO_PROCESS, 0), nice0, "not the caller (another group)");
    T_OK(setpriority(PRIO_PROCESS, b, n + 1), "one of them one higher");
    T_EQ(prio_of(PRIO_PGRP, a), n, "getpriority(PRIO_PGRP): the group's lowest nice");
    T_EQ(prio_of(PRIO_PGRP, 0), nice0, "PRIO_PGRP 0: the caller's group");
    T_EQ(prio_of(PRIO_PGRP, 31999), -100 - ESRCH, "an empty group: ESRCH");
    T_ERRNO(setpriority(PRIO_PGRP, 31999, 5), ESRCH, "setpriority on an empty group: ESRCH");
    T_OK(setpriority(PRIO_USER, g_user, n), "setpriority(PRIO_USER)");
    T_EQ(prio_of(PRIO_PROCESS, u), n, "that user's process");
    T_EQ(prio_of(PRIO_USER, g_user), n, "getpriority(PRIO_USER)");
    T_EQ(prio_of(PRIO_USER, g_user + 1), -100 - ESRCH, "a user without processes: ESRCH");
    T_ERRNO(setpriority(3, 0, 0), EINVAL, "which 3: EINVAL");
    for (int i = 0; i < 3; i++)
        if (write(p[1], "x", 1) != 1)
            tap_bail("write");
    int st, ok = 1;
    ok &= waitpid(a, &st, 0) == a && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    ok &= waitpid(b, &st, 0) == b && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    ok &= waitpid(u, &st, 0) == u && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    T_TRUE(ok, "the three children ended");
    close(p[0]);
    close(p[1]);
    close(r[0]);
    close(r[1]);
}

struct sattr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t prio;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
};

/* sched_getattr, sched_setattr and sched_rr_get_interval, in a child (it
 * takes real-time policies). Exits with the number of failures. */
static void sched_attr_child(int nice0)
{
    struct sattr at;
    memset(&at, 0xff, sizeof(at));
    T_OK(syscall(SYS_sched_getattr, 0, &at, sizeof(at), 0), "sched_getattr");
    T_TRUE(at.size == 56 && at.policy == SCHED_OTHER && at.flags == 0 && at.nice == nice0 &&
           at.prio == 0, "size 56, SCHED_OTHER, our nice, priority 0");
    T_ERRNO(syscall(SYS_sched_getattr, 0, &at, 47, 0), EINVAL, "sched_getattr size 47: EINVAL");
    T_ERRNO(syscall(SYS_sched_getattr, 0, &at, sizeof(at), 1), EINVAL, "flags 1: EINVAL");
    T_ERRNO(syscall(SYS_sched_getattr, 0, NULL, sizeof(at), 0), EINVAL, "no attr: EINVAL");
    T_ERRNO(syscall(SYS_sched_getattr, 31999, &at, sizeof(at), 0), ESRCH, "no such thread: ESRCH");

    memset(&at, 0, sizeof(at));
    at.size = sizeof(at);
    at.policy = SCHED_BATCH;
    at.nice = nice0 < 19 ? nice0 + 1 : 19;
    T_OK(syscall(SYS_sched_setattr, 0, &at, 0), "sched_setattr SCHED_BATCH with a nice value");
    T_EQ(sched_getscheduler(0), SCHED_BATCH, "SCHED_BATCH");
    T_EQ(getpriority(PRIO_PROCESS, 0), at.nice, "the nice value is set");
    at.size = 40;
    T_ERRNO(syscall(SYS_sched_setattr, 0, &at, 0), E2BIG, "size 40: E2BIG");
    T_EQ(at.size, 56, "and the size the kernel knows is written back");
    at.size = sizeof(at);
    at.flags = 1 << 10;
    T_ERRNO(syscall(SYS_sched_setattr, 0, &at, 0), EINVAL, "an unknown flag: EINVAL");
    at.flags = 0;
    T_ERRNO(syscall(SYS_sched_setattr, 0, &at, 1), EINVAL, "flags argument 1: EINVAL");

    struct timespec ts;
    T_OK(sched_rr_get_interval(0, &ts), "sched_rr_get_interval");
    at.policy = SCHED_FIFO;
    at.prio = 10;
    T_OK(syscall(SYS_sched_setattr, 0, &at, 0), "SCHED_FIFO priority 10 (CAP_SYS_NICE)");
    memset(&at, 0, sizeof(at));
    syscall(SYS_sched_getattr, 0, &at, sizeof(at), 0);
    T_TRUE(at.policy == SCHED_FIFO && at.prio == 10, "sched_getattr: SCHED_FIFO 10");
    struct sched_param sp = {0};
    sched_getparam(0, &sp);
    T_EQ(sp.sched_priority, 10, "sched_getparam: 10");
    sched_rr_get_interval(0, &ts);
    T_TRUE(ts.tv_sec == 0 && ts.tv_nsec == 0, "SCHED_FIFO: no time slice");
    sp.sched_priority = 3;
    T_OK(sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp), "SCHED_RR 3 with RESET_ON_FORK");
    T_EQ(sched_getscheduler(0), SCHED_RR | SCHED_RESET_ON_FORK, "reported with the flag");
    sched_rr_get_interval(0, &ts);
    T_TRUE(ts.tv_sec == 0 && ts.tv_nsec == 100000000, "SCHED_RR: a 100 ms slice");
    pid_t c = fork();
    if (c == 0)
        _exit(sched_getscheduler(0) == SCHED_OTHER ? 0 : 1);
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a fork child starts at SCHED_OTHER");
    sp.sched_priority = 0;
    T_OK(sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &sp), "back to SCHED_OTHER");
}

int main(void)
{
    g_user = tap_private_uid(0); /* g_user + 1: no process of ours */
    tap_init("process");

    /* waitid with WNOWAIT leaves the child to be reaped again. */
    pid_t c = fork();
    if (c == 0)
        _exit(3);
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    T_OK(waitid(P_PID, c, &si, WEXITED | WNOWAIT), "waitid WNOWAIT");
    T_EQ(si.si_pid, c, "si_pid");
    T_EQ(si.si_code, CLD_EXITED, "si_code CLD_EXITED");
    T_EQ(si.si_status, 3, "si_status is the exit code");
    memset(&si, 0, sizeof(si));
    T_OK(waitid(P_ALL, 0, &si, WEXITED), "the same child again with P_ALL");
    T_EQ(si.si_pid, c, "still there after WNOWAIT");
    T_ERRNO(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), ECHILD, "no children: ECHILD");
    T_ERRNO(waitid(P_PID, 1, &si, 0), EINVAL, "no WEXITED/WSTOPPED/WCONTINUED: EINVAL");

    /* Stop and continue reports. */
    c = fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    kill(c, SIGSTOP);
    int st;
    T_EQ(waitpid(c, &st, WUNTRACED), c, "waitpid WUNTRACED");
    T_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, "stopped by SIGSTOP");
    kill(c, SIGCONT);
    T_EQ(waitpid(c, &st, WCONTINUED), c, "waitpid WCONTINUED");
    T_TRUE(WIFCONTINUED(st), "continued");
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    T_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed");

    /* pidfds. */
    c = fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    int pfd = (int)syscall(SYS_pidfd_open, c, 0);
    T_TRUE(pfd >= 0, "pidfd_open");
    T_OK(syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0), "pidfd_send_signal");
    memset(&si, 0, sizeof(si));
    T_OK(waitid(P_PIDFD, pfd, &si, WEXITED), "waitid P_PIDFD");
    T_EQ(si.si_code, CLD_KILLED, "killed through the pidfd");
    T_EQ(si.si_status, SIGTERM, "by SIGTERM");
    close(pfd);
    T_ERRNO(syscall(SYS_pidfd_open, -1, 0), EINVAL, "pidfd_open(-1): EINVAL");

    /* An fd on /proc/PID (not /proc/PID/task/TID, not a file) is a pidfd
     * for pidfd_send_signal (Python's test_signal uses it). */
    c = fork();
    if (c == 0) {
        for (;;)
            pause();
    }
    char pp[64];
    snprintf(pp, sizeof(pp), "/proc/%d", (int)c);
    int dfd = open(pp, O_RDONLY | O_DIRECTORY);
    T_TRUE(dfd >= 0, "open /proc/PID");
    snprintf(pp, sizeof(pp), "/proc/%d/task/%d", (int)c, (int)c);
    int tfd = open(pp, O_RDONLY | O_DIRECTORY);
    T_TRUE(tfd >= 0, "open /proc/PID/task/TID");
    T_ERRNO(syscall(SYS_pidfd_send_signal, tfd, SIGTERM, NULL, 0), EBADF,
            "pidfd_send_signal on /proc/PID/task/TID: EBADF");
    int sfd = open("/proc/self/status", O_RDONLY);
    T_ERRNO(syscall(SYS_pidfd_send_signal, sfd, 0, NULL, 0), EBADF,
            "pidfd_send_signal on a /proc file: EBADF");
    T_ERRNO(syscall(SYS_pidfd_send_signal, 0x7ff0, 0, NULL, 0), EBADF,
            "pidfd_send_signal on a closed fd: EBADF");
    T_OK(syscall(SYS_pidfd_send_signal, dfd, 0, NULL, 0), "pidfd_send_signal(/proc/PID, 0)");
    T_OK(syscall(SYS_pidfd_send_signal, dfd, SIGTERM, NULL, 0),
         "pidfd_send_signal(/proc/PID, SIGTERM)");
    T_EQ(waitpid(c, &st, 0), c, "waitpid after the /proc/PID signal");
    T_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "killed through /proc/PID");
    T_ERRNO(syscall(SYS_pidfd_send_signal, dfd, 0, NULL, 0), ESRCH,
            "pidfd_send_signal on /proc/PID of a reaped process: ESRCH");
    close(sfd);
    close(tfd);
    close(dfd);

    /* clone3 as fork, with CLONE_PIDFD. */
    int cfd = -1;
    struct clone_args_l ca = {.flags = 0x1000 /* CLONE_PIDFD */,
                              .pidfd = (uint64_t)(uintptr_t)&cfd, .exit_signal = SIGCHLD};
    long r = syscall(SYS_clone3, &ca, sizeof(ca));
    if (r == 0)
        _exit(9);
    T_TRUE(r > 0, "clone3");
    T_TRUE(cfd >= 0, "clone3 CLONE_PIDFD gives a pidfd");
    waitpid((pid_t)r, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 9, "clone3 child exit status");
    ca.flags = 0xff; /* a signal in flags is invalid for clone3 */
    T_ERRNO(syscall(SYS_clone3, &ca, sizeof(ca)), EINVAL, "clone3 with CSIGNAL bits: EINVAL");

    /* set*id in a child (this process keeps its ids). */
    c = fork();
    if (c == 0) {
        int ok = setresgid(1000, 1000, 1000) == 0 && setresuid(1000, 1000, 0) == 0;
        uid_t ru, eu, su;
        getresuid(&ru, &eu, &su);
        ok = ok && ru == 1000 && eu == 1000 && su == 0;
        ok = ok && seteuid(0) == 0 && geteuid() == 0; /* back through the saved uid */
        ok = ok && setuid(1000) == 0 && setuid(0) == -1 && errno == EPERM;
        _exit(ok ? 0 : 1);
    }
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "setresuid/seteuid/setuid rules");

    /* prctl. */
    char name[16] = {0};
    T_OK(prctl(PR_SET_NAME, "probe-name"), "PR_SET_NAME");
    T_OK(prctl(PR_GET_NAME, name), "PR_GET_NAME");
    T_TRUE(strcmp(name, "probe-name") == 0, "the name round-trips");
    int sig = -1;
    T_OK(prctl(PR_SET_PDEATHSIG, SIGUSR2), "PR_SET_PDEATHSIG");
    T_OK(prctl(PR_GET_PDEATHSIG, &sig), "PR_GET_PDEATHSIG");
    T_EQ(sig, SIGUSR2, "pdeathsig round-trips");
    prctl(PR_SET_PDEATHSIG, 0);
    T_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0, "no_new_privs starts off");
    int sub = -1;
    T_OK(prctl(PR_SET_CHILD_SUBREAPER, 1), "PR_SET_CHILD_SUBREAPER");
    T_OK(prctl(PR_GET_CHILD_SUBREAPER, &sub), "PR_GET_CHILD_SUBREAPER");
    T_EQ(sub, 1, "subreaper round-trips");
    /* An orphaned grandchild is reparented to us, the subreaper. */
    c = fork();
    if (c == 0) {
        pid_t g = fork();
        if (g == 0) {
            usleep(100000);
            _exit(4);
        }
        _exit(0);
    }
    waitpid(c, &st, 0);
    pid_t g = wait(&st);
    T_TRUE(g > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 4, "the orphan is reaped by the subreaper");

    /* Interval timers. */
    signal(SIGALRM, on_alarm);
    struct itimerval it = {{0, 20000}, {0, 20000}}, old;
    T_OK(setitimer(ITIMER_REAL, &it, NULL), "setitimer ITIMER_REAL");
    while (g_alarms < 3)
        pause();
    memset(&it, 0, sizeof(it));
    T_OK(setitimer(ITIMER_REAL, &it, &old), "disarm");
    T_EQ(old.it_interval.tv_usec, 20000L, "the old interval comes back");
    T_TRUE(g_alarms >= 3, "three SIGALRMs");
    T_EQ(alarm(5), 0U, "alarm with nothing armed returns 0");
    T_EQ(alarm(0), 5U, "alarm returns the seconds left");

    /* Accounting. */
    volatile double x = 0;
    for (int i = 0; i < 20000000; i++)
        x += i;
    struct rusage ru;
    T_OK(getrusage(RUSAGE_SELF, &ru), "getrusage");
    T_TRUE(ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 0, "user time is counted");
    struct tms tm;
    T_TRUE(times(&tm) != (clock_t)-1, "times");

    /* Scheduling. */
    cpu_set_t set;
    CPU_ZERO(&set);
    T_OK(sched_getaffinity(0, sizeof(set), &set), "sched_getaffinity");
    T_TRUE(CPU_COUNT(&set) >= 1, "at least one CPU");
    T_EQ(sched_getscheduler(0), SCHED_OTHER, "SCHED_OTHER");
    errno = 0;
    int nice0 = getpriority(PRIO_PROCESS, 0); /* the caller's: `nice meson test` gives 10 */
    T_TRUE(errno == 0 && nice0 >= -20 && nice0 <= 19, "getpriority: a nice value");
    int nice1 = nice0 < 19 ? nice0 + 1 : 19;
    T_OK(setpriority(PRIO_PROCESS, 0, nice1), "setpriority one higher");
    T_EQ(getpriority(PRIO_PROCESS, 0), nice1, "getpriority sees it");
    pid_t nc = fork();
    if (nc == 0)
        _exit(getpriority(PRIO_PROCESS, 0) == nice1 ? 0 : 1);
    int nst;
    waitpid(nc, &nst, 0);
    T_TRUE(WIFEXITED(nst) && WEXITSTATUS(nst) == 0, "a fork child inherits the nice value");
    test_prio_groups(nice1);
    fflush(stdout);
    int cp[2];
    if (pipe(cp) < 0)
        tap_bail("pipe");
    pid_t sc = fork();
    if (sc == 0) {
        sched_attr_child(nice1);
        int counts[2] = {tap_count, tap_failed};
        _exit(write(cp[1], counts, sizeof(counts)) == sizeof(counts) ? 0 : 1);
    }
    int counts[2];
    if (read(cp[0], counts, sizeof(counts)) == sizeof(counts)) {
        tap_count = counts[0];
        tap_failed = counts[1];
    }
    waitpid(sc, NULL, 0);
    close(cp[0]);
    close(cp[1]);
    T_EQ(syscall(SYS_personality, 0xffffffffUL), 0L, "personality query: PER_LINUX");
    return tap_done();
}
