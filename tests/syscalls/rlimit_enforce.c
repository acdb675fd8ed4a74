/*
 * Probe: the resource limits Linux enforces, each in a child process (the
 * sandbox's init ignores signals it has no handler for):
 * RLIMIT_FSIZE (write, pwrite, writev, O_APPEND, truncate, ftruncate,
 * fallocate, copy_file_range, sendfile on a disk file, a memfd and a
 * /dev/shm file: SIGXFSZ then EFBIG past it, writes cut across it, SIGXFSZ's
 * default action), RLIMIT_CPU (SIGXCPU at the soft limit, which then rises
 * by a second; SIGKILL at the hard limit), RLIMIT_NPROC (fork EAGAIN for a
 * non-root user; a change to a user past it makes the next execve fail
 * with EAGAIN), RLIMIT_SIGPENDING (real-time sigqueue EAGAIN, kill and
 * standard signals still pending without their info, POSIX timers
 * holding an entry each), RLIMIT_NICE
 * (setpriority EACCES), RLIMIT_RTPRIO (sched_setscheduler EPERM) and
 * RLIMIT_CORE 0 (no core dumped in the wait status).
 */
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

/* Set in main: uids only this run of the probe uses (see tap_private_uid). */
static uid_t OTHER_UID, THIRD_UID;

static volatile sig_atomic_t g_sigs;
static volatile int g_code, g_pid;

static void on_sig(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    g_sigs++;
    g_code = si->si_code;
    g_pid = si->si_pid;
}

static void catch_sig(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO;
    sigaction(sig, &sa, NULL);
}

/* Sets the soft limit, and the hard one unless MAX is KEEP (raising a hard
 * limit needs CAP_SYS_RESOURCE, which a container may lack). */
#define KEEP ((rlim_t)-2)
static void set_limit(int res, rlim_t cur, rlim_t max)
{
    struct rlimit r;
    getrlimit(res, &r);
    r.rlim_cur = cur;
    if (max != KEEP)
        r.rlim_max = max;
    if (setrlimit(res, &r) < 0)
        tap_bail("setrlimit");
}

/* Runs FN in a child and returns its wait status. The child's TAP lines
 * go to the shared stdout; its counts come back through a pipe. */
static int g_counts_fd = -1; /* in a child: where its counts go */

static int in_child(void (*fn)(void))
{
    int cp[2];
    if (pipe2(cp, O_CLOEXEC) < 0)
        tap_bail("pipe");
    pid_t c = fork();
    if (c == 0) {
        close(cp[0]);
        g_counts_fd = cp[1];
        fn();
        int counts[2] = {tap_count, tap_failed};
        if (write(cp[1], counts, sizeof(counts)) != sizeof(counts))
            _exit(2);
        _exit(tap_failed ? 1 : 0);
    }
    close(cp[1]);
    int counts[2];
    if (read(cp[0], counts, sizeof(counts)) == sizeof(counts)) {
        tap_count = counts[0];
        tap_failed = counts[1];
    }
    close(cp[0]);
    int st = 0;
    waitpid(c, &st, 0);
    return st;
}

static void drop_to_other_user(void)
{
    if (setresgid(OTHER_UID, OTHER_UID, OTHER_UID) < 0 ||
        setresuid(OTHER_UID, OTHER_UID, OTHER_UID) < 0)
        tap_bail("setresuid");
}

/* ---- RLIMIT_FSIZE ---- */

/* MEMFS: tmpfs and memfds, whose fallocate checks the limit even with
 * FALLOC_FL_KEEP_SIZE (Linux's shmem_fallocate; ext4 and xfs do not). */
static void fsize_on(int fd, const char *what, int memfs)
{
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    g_sigs = 0;
    T_EQ(ftruncate(fd, 0), 0, "truncated to 0");
    T_EQ(write(fd, buf, 3000), 3000, "write within the limit");
    T_EQ(write(fd, buf, 4000), 2000, "write across the limit is cut at it");
    T_EQ(g_sigs, 0, "no SIGXFSZ for a cut write");
    T_ERRNO(write(fd, buf, 10), EFBIG, "write at the limit: EFBIG");
    tap_result(g_sigs == 1 && g_code == SI_USER && g_pid == getpid(),
               "%s: SIGXFSZ (SI_USER from ourselves)", what);
    T_EQ(write(fd, buf, 0), 0, "an empty write at the limit is fine");
    T_ERRNO(pwrite(fd, buf, 10, 9000), EFBIG, "pwrite past the limit: EFBIG");
    T_EQ(pwrite(fd, buf, 100, 4950), 50, "pwrite across it is cut");
    struct iovec iov[2] = {{buf, 10}, {buf, 10}};
    lseek(fd, 4990, SEEK_SET);
    T_EQ(writev(fd, iov, 2), 10, "writev across it is cut");
    T_ERRNO(ftruncate(fd, 5001), EFBIG, "ftruncate above the limit: EFBIG");
    T_EQ(ftruncate(fd, 5000), 0, "ftruncate to the limit is fine");
    T_EQ(ftruncate(fd, 100), 0, "shrinking is fine");
    int r = fallocate(fd, 0, 4000, 2000);
    int e = errno;
    tap_result(r == -1 && e == EFBIG, "%s: fallocate growing past the limit: EFBIG", what);
    /* With KEEP_SIZE it depends on the file system (and the disk file's
     * may be on an overlay over tmpfs in a sandbox): memory ones only. */
    if (memfs) {
        r = fallocate(fd, FALLOC_FL_KEEP_SIZE, 4000, 2000);
        e = errno;
        tap_result(r == -1 && e == EFBIG, "%s: fallocate with KEEP_SIZE past the limit: EFBIG", what);
    }
    T_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 4000, 2000), 0,
         "punching a hole is not limited");
    T_EQ(g_sigs, 4 + memfs, "a SIGXFSZ for each EFBIG");
}

static void fsize_child(void)
{
    catch_sig(SIGXFSZ);
    set_limit(RLIMIT_FSIZE, 5000, KEEP);

    int fd = open("big", O_RDWR | O_CREAT | O_TRUNC, 0600);
    fsize_on(fd, "disk file", 0);
    int m = memfd_create("big", 0);
    fsize_on(m, "memfd", 1);
    char shm[64]; /* /dev/shm is host-wide natively: a name of this run's own */
    snprintf(shm, sizeof(shm), "/dev/shm/moat-probe-fsize-%d", (int)getpid());
    int s = open(shm, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (s >= 0) {
        unlink(shm);
        fsize_on(s, "/dev/shm file", 1);
        close(s);
    } else {
        tap_skip("/dev/shm file", "no /dev/shm");
    }

    /* O_APPEND starts at the end. */
    char buf[8192];
    memset(buf, 'y', sizeof(buf));
    g_sigs = 0;
    ftruncate(fd, 4990);
    int a = open("big", O_WRONLY | O_APPEND);
    T_EQ(write(a, buf, 100), 10, "O_APPEND write across the limit is cut");
    T_ERRNO(write(a, buf, 100), EFBIG, "O_APPEND write at the limit: EFBIG");
    close(a);
    T_ERRNO(truncate("big", 6000), EFBIG, "truncate(2) above the limit: EFBIG");
    T_EQ(g_sigs, 2, "SIGXFSZ for each");

    /* copy_file_range (from a file on the same file system) and sendfile
     * into the file. */
    ftruncate(m, 0);
    pwrite(m, buf, 4096, 0);
    int src = open("src", O_RDWR | O_CREAT | O_TRUNC, 0600);
    pwrite(src, buf, 4096, 0);
    ftruncate(fd, 0);
    loff_t in = 0, out = 4000;
    g_sigs = 0;
    T_EQ(syscall(SYS_copy_file_range, src, &in, fd, &out, 3000, 0), 1000, "copy_file_range across the limit is cut");
    in = 0;
    T_ERRNO(syscall(SYS_copy_file_range, src, &in, fd, &out, 3000, 0), EFBIG, "copy_file_range at the limit: EFBIG");
    close(src);
    unlink("src");
    T_EQ(g_sigs, 1, "one SIGXFSZ");
    lseek(fd, 4500, SEEK_SET);
    off_t soff = 0;
    T_EQ(sendfile(fd, m, &soff, 3000), 500, "sendfile across the limit is cut");
    T_EQ(g_sigs, 2, "and sends SIGXFSZ (it writes again at the limit)");
    T_ERRNO(sendfile(fd, m, &soff, 3000), EFBIG, "sendfile at the limit: EFBIG");
    T_EQ(g_sigs, 3, "one more SIGXFSZ");

    /* Not regular files: no limit. */
    int dn = open("/dev/null", O_WRONLY);
    lseek(dn, 100000, SEEK_SET);
    T_EQ(write(dn, buf, 100), 100, "/dev/null is not limited");
    int p[2];
    pipe(p);
    set_limit(RLIMIT_FSIZE, 0, KEEP);
    T_EQ(write(p[1], buf, 100), 100, "a pipe is not limited (limit 0)");
    close(p[0]);
    close(p[1]);
    close(dn);
    close(m);
    close(fd);
    unlink("big");
}

static void fsize_default_child(void)
{
    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_FSIZE, 10, KEEP);
    int fd = open("small", O_RDWR | O_CREAT | O_TRUNC, 0600);
    unlink("small");
    char buf[20] = {0};
    write(fd, buf, 20);
    write(fd, buf, 20);
    _exit(0);
}

static void test_fsize(void)
{
    int st = in_child(fsize_child);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "RLIMIT_FSIZE child ran through");
    st = in_child(fsize_default_child);
    T_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ, "SIGXFSZ's default action ends the process");
    T_TRUE(!WCOREDUMP(st), "no core dumped (RLIMIT_CORE 0)");
}

/* ---- RLIMIT_CPU ---- */

static int g_cpu_pipe[2];

static void cpu_child(void)
{
    catch_sig(SIGXCPU);
    set_limit(RLIMIT_CPU, 1, 2);
    int reported = 0;
    for (;;) {
        if (g_sigs > reported) {
            struct rlimit r;
            getrlimit(RLIMIT_CPU, &r);
            char msg[2] = {(char)g_sigs, (char)r.rlim_cur};
            if (g_code != 0x80)
                msg[1] = 100; /* not SI_KERNEL */
            write(g_cpu_pipe[1], msg, 2);
            reported = g_sigs;
        }
    }
}

static void test_cpu(void)
{
    pipe(g_cpu_pipe);
    int st = in_child(cpu_child);
    close(g_cpu_pipe[1]);
    char msg[16];
    ssize_t n = read(g_cpu_pipe[0], msg, sizeof(msg));
    close(g_cpu_pipe[0]);
    T_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "RLIMIT_CPU: SIGKILL at the hard limit");
    T_EQ(n, 2, "one SIGXCPU before it");
    T_EQ(n >= 2 ? msg[0] : -1, 1, "SIGXCPU at the soft limit");
    T_EQ(n >= 2 ? msg[1] : -1, 2, "the soft limit then rises by a second (SI_KERNEL)");
}

/* ---- RLIMIT_NPROC ---- */

static void nproc_child(void)
{
    /* Root is exempt. */
    set_limit(RLIMIT_NPROC, 0, KEEP);
    pid_t c = fork();
    if (c == 0)
        _exit(0);
    T_TRUE(c > 0, "root forks past RLIMIT_NPROC");
    waitpid(c, NULL, 0);

    drop_to_other_user(); /* the only task of that user */
    set_limit(RLIMIT_NPROC, 1, KEEP);
    errno = 0;
    c = fork();
    if (c == 0)
        _exit(0);
    T_TRUE(c == -1 && errno == EAGAIN, "another user at its RLIMIT_NPROC: fork fails with EAGAIN");
    set_limit(RLIMIT_NPROC, 2, KEEP);
    c = fork();
    if (c == 0) {
        pid_t g = fork();
        _exit(g == -1 && errno == EAGAIN ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    T_TRUE(c > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "limit 2: one child, which cannot fork again");
    c = fork();
    if (c == 0)
        _exit(0);
    T_TRUE(c > 0, "a reaped child no longer counts");
    /* Until it is reaped, a zombie still counts. */
    siginfo_t si;
    waitid(P_PID, c, &si, WEXITED | WNOWAIT);
    pid_t c2 = fork();
    if (c2 == 0)
        _exit(0);
    T_TRUE(c2 == -1 && errno == EAGAIN, "a zombie child still counts: EAGAIN");
    if (c2 > 0)
        waitpid(c2, NULL, 0);
    waitpid(c, NULL, 0);
    c = fork();
    if (c == 0)
        _exit(0);
    T_TRUE(c > 0, "reaped, it no longer does");
    waitpid(c, NULL, 0);
}

static char *g_argv0;

/* execve of ourselves (which then exits 0 at once): 0, or the errno. */
static int exec_self(void)
{
    char *args[] = {g_argv0, (char *)"exit-now", NULL};
    execv(g_argv0, args);
    return errno;
}

/* A change of real uid to a user already past RLIMIT_NPROC succeeds; the
 * next execve fails with EAGAIN while it still is. */
static void nproc_exec_child(void)
{
    set_limit(RLIMIT_NPROC, 0, KEEP);
    int p[2], ready[2];
    if (pipe(p) < 0 || pipe(ready) < 0)
        tap_bail("pipe");
    pid_t g = fork();
    if (g == 0) {
        char b = 'r';
        close(p[1]);
        if (setresgid(THIRD_UID, THIRD_UID, THIRD_UID) < 0 ||
            setresuid(THIRD_UID, THIRD_UID, THIRD_UID) < 0)
            _exit(3);
        if (write(ready[1], &b, 1) != 1 || read(p[0], &b, 1) < 0)
            _exit(1);
        _exit(0);
    }
    close(p[0]);
    close(ready[1]);
    char b;
    if (read(ready[0], &b, 1) != 1) /* until it has changed users */
        tap_bail("read");
    close(ready[0]);
    T_EQ(setresgid(THIRD_UID, THIRD_UID, THIRD_UID), 0, "setresgid");
    T_EQ(setresuid(THIRD_UID, THIRD_UID, THIRD_UID), 0,
         "setresuid to a user past RLIMIT_NPROC succeeds");
    T_EQ(exec_self(), EAGAIN, "the next execve: EAGAIN");
    close(p[1]);
    waitpid(g, NULL, 0);
    T_EQ(exec_self(), EAGAIN, "still past the limit (ourselves, limit 0): EAGAIN");
    set_limit(RLIMIT_NPROC, 1, KEEP);
    fflush(stdout);
    int counts[2] = {tap_count, tap_failed};
    if (write(g_counts_fd, counts, sizeof(counts)) != sizeof(counts))
        _exit(2);
    exec_self(); /* within the limit now: exits 0 */
    _exit(4);
}

static void test_nproc(void)
{
    int st = in_child(nproc_child);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "RLIMIT_NPROC child ran through");
    st = in_child(nproc_exec_child);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "within the limit again, execve works");
}

/* ---- RLIMIT_SIGPENDING ---- */

static void sigpending_child(void)
{
    drop_to_other_user(); /* nothing else of this user has signals pending */
    set_limit(RLIMIT_SIGPENDING, 3, KEEP);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigaddset(&set, SIGRTMIN + 1);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    union sigval v;
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        v.sival_int = i + 1;
        ok &= sigqueue(getpid(), SIGRTMIN, v) == 0;
    }
    T_TRUE(ok, "three queued real-time signals (the limit)");
    v.sival_int = 4;
    T_ERRNO(sigqueue(getpid(), SIGRTMIN, v), EAGAIN, "a fourth sigqueue: EAGAIN");
    T_ERRNO(syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGRTMIN,
                    &(siginfo_t){.si_signo = SIGRTMIN, .si_code = SI_QUEUE}),
            EAGAIN, "rt_tgsigqueueinfo: EAGAIN");
    T_EQ(kill(getpid(), SIGRTMIN + 1), 0, "kill() of a real-time signal past the limit works");
    v.sival_int = 9;
    T_EQ(sigqueue(getpid(), SIGUSR1, v), 0, "sigqueue of a standard signal past the limit works");
    T_EQ(kill(getpid(), SIGUSR2), 0, "kill() of a standard signal works");
    siginfo_t si;
    struct timespec zero = {0, 0};
    int vals = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    for (int i = 0; i < 3; i++) {
        if (sigtimedwait(&set, &si, &zero) == SIGRTMIN && si.si_code == SI_QUEUE)
            vals = vals * 10 + si.si_value.sival_int;
    }
    T_EQ(vals, 123, "the three queued signals keep their values");
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    T_EQ(sigtimedwait(&set, &si, &zero), SIGRTMIN + 1, "the kill()ed one is pending");
    T_TRUE(si.si_code == SI_USER && si.si_pid == 0, "without its info (SI_USER, pid 0)");
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    T_EQ(sigtimedwait(&set, &si, &zero), SIGUSR1, "the sigqueue()d standard signal is pending");
    T_TRUE(si.si_code == SI_USER && si.si_pid == 0, "without its info");
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    T_EQ(sigtimedwait(&set, &si, &zero), SIGUSR2, "the kill()ed standard signal is pending");
    T_TRUE(si.si_code == SI_USER && si.si_pid == getpid(), "with its info (kill() is never refused)");
    v.sival_int = 5;
    T_EQ(sigqueue(getpid(), SIGRTMIN, v), 0, "queued entries taken: sigqueue works again");
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    T_EQ(sigtimedwait(&set, &si, &zero), SIGRTMIN, "and it is delivered");

    /* A POSIX timer holds an entry for its life, whatever its event. */
    set_limit(RLIMIT_SIGPENDING, 2, KEEP);
    timer_t t1, t2, t3;
    struct sigevent ev;
    memset(&ev, 0, sizeof(ev));
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN;
    T_EQ(timer_create(CLOCK_MONOTONIC, &ev, &t1), 0, "a timer");
    ev.sigev_notify = SIGEV_NONE;
    T_EQ(timer_create(CLOCK_MONOTONIC, &ev, &t2), 0, "a SIGEV_NONE timer");
    T_ERRNO(timer_create(CLOCK_MONOTONIC, &ev, &t3), EAGAIN, "a third past the limit of 2: EAGAIN");
    v.sival_int = 6;
    T_ERRNO(sigqueue(getpid(), SIGRTMIN, v), EAGAIN, "the timers' entries count for sigqueue too");
    T_EQ(timer_delete(t2), 0, "one deleted");
    T_EQ(sigqueue(getpid(), SIGRTMIN, v), 0, "sigqueue works again");
    T_ERRNO(timer_create(CLOCK_MONOTONIC, &ev, &t3), EAGAIN, "the queued signal counts for timers");
    sigtimedwait(&set, &si, &zero);
    /* A firing timer's signal does not count twice. */
    struct itimerspec its = {{0, 0}, {0, 1000000}};
    T_EQ(timer_settime(t1, 0, &its, NULL), 0, "armed");
    T_EQ(sigtimedwait(&set, &si, &(struct timespec){5, 0}), SIGRTMIN, "it fired");
    T_EQ(si.si_code, SI_TIMER, "SI_TIMER");
    T_EQ(timer_create(CLOCK_MONOTONIC, &ev, &t3), 0, "room for one more timer again");
    timer_delete(t3);
    timer_delete(t1);
}

static void test_sigpending(void)
{
    int st = in_child(sigpending_child);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "RLIMIT_SIGPENDING child ran through");
}

/* ---- RLIMIT_NICE, RLIMIT_RTPRIO ---- */

/* Soft limit 0 and hard limit MAX for RES if allowed (raising a hard
 * limit needs CAP_SYS_RESOURCE); else soft 0 under the current hard one. */
static int zero_soft_raise_hard(int res, rlim_t max)
{
    struct rlimit r = {0, max};
    if (setrlimit(res, &r) == 0)
        return 1;
    set_limit(res, 0, KEEP);
    return 0;
}

static void prio_child(void)
{
    int nice_ok = zero_soft_raise_hard(RLIMIT_NICE, 25);
    int rt_ok = zero_soft_raise_hard(RLIMIT_RTPRIO, 10);
    drop_to_other_user();
    T_EQ(setpriority(PRIO_PROCESS, 0, 10), 0, "nice 10");
    T_ERRNO(setpriority(PRIO_PROCESS, 0, 5), EACCES, "RLIMIT_NICE 0: lowering nice: EACCES");
    T_EQ(setpriority(PRIO_PROCESS, 0, 12), 0, "raising it is fine");
    if (nice_ok) {
        set_limit(RLIMIT_NICE, 25, KEEP);
        T_EQ(setpriority(PRIO_PROCESS, 0, 5), 0, "RLIMIT_NICE 25: nice 5");
        T_EQ(setpriority(PRIO_PROCESS, 0, -5), 0, "nice -5 (20 - -5 = 25)");
        T_ERRNO(setpriority(PRIO_PROCESS, 0, -6), EACCES, "nice -6: EACCES");
        errno = 0;
        T_EQ(getpriority(PRIO_PROCESS, 0), -5, "getpriority: -5");
    } else {
        tap_skip("RLIMIT_NICE 25", "no CAP_SYS_RESOURCE to raise the hard limit");
    }

    struct sched_param sp = {.sched_priority = 1};
    T_ERRNO(sched_setscheduler(0, SCHED_FIFO, &sp), EPERM, "RLIMIT_RTPRIO 0: SCHED_FIFO: EPERM");
    T_ERRNO(sched_setscheduler(0, SCHED_RR, &sp), EPERM, "RLIMIT_RTPRIO 0: SCHED_RR: EPERM");
    if (rt_ok) {
        set_limit(RLIMIT_RTPRIO, 10, KEEP);
        sp.sched_priority = 11;
        T_ERRNO(sched_setscheduler(0, SCHED_FIFO, &sp), EPERM, "RLIMIT_RTPRIO 10: priority 11: EPERM");
        sp.sched_priority = 5;
        T_EQ(sched_setscheduler(0, SCHED_RR, &sp), 0, "SCHED_RR priority 5");
        T_EQ(sched_getscheduler(0), SCHED_RR, "sched_getscheduler: SCHED_RR");
        sp.sched_priority = 0;
        sched_getparam(0, &sp);
        T_EQ(sp.sched_priority, 5, "sched_getparam: 5");
        sp.sched_priority = 0;
        T_EQ(sched_setscheduler(0, SCHED_OTHER, &sp), 0, "back to SCHED_OTHER");
    } else {
        tap_skip("RLIMIT_RTPRIO 10", "no CAP_SYS_RESOURCE to raise the hard limit");
    }
    sp.sched_priority = 0;
    T_EQ(sched_setscheduler(0, SCHED_BATCH, &sp), 0, "SCHED_BATCH needs no limit");
    T_EQ(sched_getscheduler(0), SCHED_BATCH, "sched_getscheduler: SCHED_BATCH");
    T_EQ(sched_setscheduler(0, SCHED_IDLE, &sp), 0, "SCHED_IDLE needs no limit");
    T_EQ(sched_getscheduler(0), SCHED_IDLE, "sched_getscheduler: SCHED_IDLE");
    T_ERRNO(sched_setscheduler(0, SCHED_OTHER, &sp), EPERM,
            "leaving SCHED_IDLE needs RLIMIT_NICE to cover the nice value: EPERM");
}

static void test_prio(void)
{
    int st = in_child(prio_child);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "RLIMIT_NICE/RTPRIO child ran through");
}

/* ---- RLIMIT_CORE ---- */

static void core_child(void)
{
    set_limit(RLIMIT_CORE, 0, KEEP);
    signal(SIGABRT, SIG_DFL);
    raise(SIGABRT);
    _exit(0);
}

static void test_core(void)
{
    int st = in_child(core_child);
    T_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "SIGABRT ends the process");
    T_TRUE(!WCOREDUMP(st), "RLIMIT_CORE 0: no core dumped");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return 0; /* exec'd by exec_self */
    g_argv0 = argv[0];
    OTHER_UID = tap_private_uid(0);
    THIRD_UID = tap_private_uid(1);
    tap_init("rlimit_enforce");
    test_fsize();
    test_nproc();
    test_sigpending();
    test_prio();
    test_core();
    test_cpu();
    return tap_done();
}
