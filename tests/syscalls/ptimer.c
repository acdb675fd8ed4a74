/* Probe: POSIX timers: timer_create, timer_settime, timer_gettime,
 * timer_getoverrun, timer_delete (raw syscalls, and glibc's SIGEV_THREAD). */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

/* The kernel's struct sigevent. */
struct ksigevent {
    union sigval value;
    int signo;
    int notify;
    union {
        int tid;
        char pad[48];
    };
};

static int k_create(clockid_t c, struct ksigevent *ev, int *id)
{
    return (int)syscall(SYS_timer_create, c, ev, id);
}
static int k_settime(int id, int flags, const struct itimerspec *n, struct itimerspec *o)
{
    return (int)syscall(SYS_timer_settime, id, flags, n, o);
}
static int k_gettime(int id, struct itimerspec *cur)
{
    return (int)syscall(SYS_timer_gettime, id, cur);
}
static int k_getoverrun(int id)
{
    return (int)syscall(SYS_timer_getoverrun, id);
}
static int k_delete(int id)
{
    return (int)syscall(SYS_timer_delete, id);
}

static struct ksigevent sig_event(int notify, int signo, int value)
{
    struct ksigevent ev;
    memset(&ev, 0, sizeof(ev));
    ev.notify = notify;
    ev.signo = signo;
    ev.value.sival_int = value;
    return ev;
}

static struct itimerspec ms(long value_ms, long interval_ms)
{
    struct itimerspec its = {{interval_ms / 1000, interval_ms % 1000 * 1000000},
                             {value_ms / 1000, value_ms % 1000 * 1000000}};
    return its;
}

static int wait_sig(int sig, siginfo_t *si, long timeout_ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    struct timespec ts = {timeout_ms / 1000, timeout_ms % 1000 * 1000000};
    memset(si, 0, sizeof(*si));
    return sigtimedwait(&set, si, &ts);
}

static void block(int sig)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

static void test_errors(void)
{
    int id;
    struct ksigevent ev = sig_event(SIGEV_SIGNAL, SIGUSR1, 0);
    T_ERRNO(k_create(42, &ev, &id), EINVAL, "unknown clock: EINVAL");
    T_ERRNO(k_create(CLOCK_MONOTONIC_RAW, &ev, &id), EOPNOTSUPP,
            "CLOCK_MONOTONIC_RAW has no timers: EOPNOTSUPP");
    T_ERRNO(k_create(CLOCK_MONOTONIC_COARSE, &ev, &id), EOPNOTSUPP,
            "CLOCK_MONOTONIC_COARSE: EOPNOTSUPP");
    ev = sig_event(99, SIGUSR1, 0);
    T_ERRNO(k_create(CLOCK_MONOTONIC, &ev, &id), EINVAL, "unknown sigev_notify: EINVAL");
    ev = sig_event(SIGEV_SIGNAL, 0, 0);
    T_ERRNO(k_create(CLOCK_MONOTONIC, &ev, &id), EINVAL, "signal 0: EINVAL");
    ev = sig_event(SIGEV_SIGNAL, 65, 0);
    T_ERRNO(k_create(CLOCK_MONOTONIC, &ev, &id), EINVAL, "signal 65: EINVAL");
    ev = sig_event(SIGEV_THREAD_ID, SIGUSR1, 0);
    ev.tid = 999999;
    T_ERRNO(k_create(CLOCK_MONOTONIC, &ev, &id), EINVAL,
            "SIGEV_THREAD_ID to a thread of no process of ours: EINVAL");
    ev = sig_event(SIGEV_NONE, 0, 0);
    T_ERRNO(k_create(CLOCK_MONOTONIC, &ev, (int *)8), EFAULT, "bad timerid pointer: EFAULT");
    T_ERRNO(k_create(CLOCK_MONOTONIC, (struct ksigevent *)8, &id), EFAULT,
            "bad sigevent pointer: EFAULT");

    struct itimerspec its = ms(10, 0), cur;
    T_ERRNO(k_settime(12345, 0, &its, NULL), EINVAL, "settime of no timer: EINVAL");
    T_ERRNO(k_gettime(12345, &cur), EINVAL, "gettime of no timer: EINVAL");
    T_ERRNO(k_getoverrun(12345), EINVAL, "getoverrun of no timer: EINVAL");
    T_ERRNO(k_delete(12345), EINVAL, "delete of no timer: EINVAL");

    T_OK(k_create(CLOCK_MONOTONIC, &ev, &id), "create a SIGEV_NONE timer");
    T_ERRNO(k_settime(id, 0, NULL, NULL), EINVAL, "settime without a value: EINVAL");
    its.it_value.tv_nsec = 1000000000;
    T_ERRNO(k_settime(id, 0, &its, NULL), EINVAL, "tv_nsec of 1e9: EINVAL");
    its = ms(10, 0);
    its.it_interval.tv_sec = -1;
    T_ERRNO(k_settime(id, 0, &its, NULL), EINVAL, "negative interval: EINVAL");
    T_ERRNO(k_gettime(id, (struct itimerspec *)8), EFAULT, "gettime to a bad pointer: EFAULT");
    T_OK(k_delete(id), "delete");
    T_ERRNO(k_delete(id), EINVAL, "delete twice: EINVAL");
}

static void test_default_event(void)
{
    block(SIGALRM);
    int id = -1;
    T_OK(k_create(CLOCK_MONOTONIC, NULL, &id), "create with no sigevent");
    T_EQ(id, 0, "the first timer of a process has id 0");
    struct itimerspec its = ms(10, 0);
    T_OK(k_settime(id, 0, &its, NULL), "arm 10 ms");
    siginfo_t si;
    T_EQ(wait_sig(SIGALRM, &si, 3000), SIGALRM, "no sigevent: SIGALRM");
    T_EQ(si.si_code, SI_TIMER, "si_code SI_TIMER");
    T_EQ(si.si_value.sival_int, id, "si_value is the timer id");
    T_EQ(si.si_timerid, id, "si_timerid");
    T_EQ(si.si_overrun, 0, "no overrun");
    struct itimerspec cur;
    T_OK(k_gettime(id, &cur), "gettime");
    T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "one-shot disarmed after expiry");
    T_OK(k_delete(id), "delete");
}

static void test_signal_and_overrun(void)
{
    block(SIGRTMIN);
    int id;
    struct ksigevent ev = sig_event(SIGEV_SIGNAL, SIGRTMIN, 0x1234);
    T_OK(k_create(CLOCK_MONOTONIC, &ev, &id), "create SIGEV_SIGNAL SIGRTMIN");
    struct itimerspec its = ms(2, 2), cur, old;
    T_OK(k_settime(id, 0, &its, NULL), "arm a 2 ms interval timer");
    T_OK(k_gettime(id, &cur), "gettime");
    T_TRUE(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 2000000,
           "interval reported");
    T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
                   cur.it_value.tv_nsec <= 2000000,
           "time left within the interval");
    usleep(100000);
    siginfo_t si;
    T_EQ(wait_sig(SIGRTMIN, &si, 3000), SIGRTMIN, "signal taken");
    T_EQ(si.si_value.sival_int, 0x1234, "sigev_value carried");
    T_TRUE(si.si_overrun >= 10, "expiries while queued counted in si_overrun");
    T_EQ(k_getoverrun(id), si.si_overrun, "timer_getoverrun matches the last si_overrun");
    struct timespec z = {0, 0};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    memset(&its, 0, sizeof(its));
    T_OK(k_settime(id, 0, &its, &old), "disarm");
    T_TRUE(old.it_interval.tv_nsec == 2000000, "old setting returned");
    /* At most one more (queued just before the disarm). */
    sigtimedwait(&set, &si, &z);
    usleep(20000);
    T_ERRNO(sigtimedwait(&set, &si, &z), EAGAIN, "no signal once disarmed");
    T_OK(k_delete(id), "delete");
}

static void test_none(void)
{
    int id;
    struct ksigevent ev = sig_event(SIGEV_NONE, 0, 0);
    T_OK(k_create(CLOCK_MONOTONIC, &ev, &id), "create SIGEV_NONE");
    struct itimerspec its = ms(1000, 0), cur;
    T_OK(k_settime(id, 0, &its, NULL), "arm 1 s");
    T_OK(k_gettime(id, &cur), "gettime");
    T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 500000000,
           "time left counts down");
    its = ms(10, 10);
    T_OK(k_settime(id, 0, &its, NULL), "arm 10 ms interval");
    usleep(35000);
    T_OK(k_gettime(id, &cur), "gettime after expiries");
    T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
                   cur.it_value.tv_nsec <= 10000000,
           "next expiry within one interval");
    its = ms(5, 0);
    T_OK(k_settime(id, 0, &its, NULL), "arm 5 ms one-shot");
    usleep(20000);
    T_OK(k_gettime(id, &cur), "gettime after expiry");
    T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "expired one-shot reads 0");
    T_OK(k_delete(id), "delete");
}

static void test_abstime(void)
{
    block(SIGUSR1);
    int id;
    struct ksigevent ev = sig_event(SIGEV_SIGNAL, SIGUSR1, 7);
    T_OK(k_create(CLOCK_REALTIME, &ev, &id), "create on CLOCK_REALTIME");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct itimerspec its = {{0, 0}, now};
    its.it_value.tv_nsec += 30000000;
    if (its.it_value.tv_nsec >= 1000000000) {
        its.it_value.tv_sec++;
        its.it_value.tv_nsec -= 1000000000;
    }
    T_OK(k_settime(id, TIMER_ABSTIME, &its, NULL), "arm TIMER_ABSTIME now + 30 ms");
    struct itimerspec cur;
    k_gettime(id, &cur);
    T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
                   cur.it_value.tv_nsec <= 30000000,
           "gettime is relative");
    siginfo_t si;
    T_EQ(wait_sig(SIGUSR1, &si, 3000), SIGUSR1, "absolute timer fires");
    struct timespec after;
    clock_gettime(CLOCK_REALTIME, &after);
    T_TRUE(after.tv_sec > its.it_value.tv_sec ||
                   (after.tv_sec == its.it_value.tv_sec &&
                    after.tv_nsec >= its.it_value.tv_nsec),
           "not before the deadline");
    its.it_value.tv_sec -= 10;
    T_OK(k_settime(id, TIMER_ABSTIME, &its, NULL), "arm a deadline in the past");
    T_EQ(wait_sig(SIGUSR1, &si, 3000), SIGUSR1, "a past deadline fires at once");
    T_OK(k_delete(id), "delete");

    T_OK(k_create(CLOCK_BOOTTIME, &ev, &id), "create on CLOCK_BOOTTIME");
    its = ms(10, 0);
    T_OK(k_settime(id, 0, &its, NULL), "arm 10 ms");
    T_EQ(wait_sig(SIGUSR1, &si, 3000), SIGUSR1, "BOOTTIME timer fires");
    T_OK(k_delete(id), "delete");
}

static int g_thread_tid;
static siginfo_t g_thread_si;
static int g_thread_got;

static void *thread_waiter(void *arg)
{
    sem_t *ready = arg;
    g_thread_tid = (int)syscall(SYS_gettid);
    sem_post(ready);
    g_thread_got = wait_sig(SIGUSR2, &g_thread_si, 3000);
    return NULL;
}

static void test_thread_id(void)
{
    block(SIGUSR2);
    sem_t ready;
    sem_init(&ready, 0, 0);
    pthread_t th;
    pthread_create(&th, NULL, thread_waiter, &ready);
    sem_wait(&ready);
    int id;
    struct ksigevent ev = sig_event(SIGEV_THREAD_ID, SIGUSR2, 99);
    ev.tid = g_thread_tid;
    T_OK(k_create(CLOCK_MONOTONIC, &ev, &id), "create SIGEV_THREAD_ID");
    struct itimerspec its = ms(10, 0);
    T_OK(k_settime(id, 0, &its, NULL), "arm 10 ms");
    pthread_join(th, NULL);
    T_EQ(g_thread_got, SIGUSR2, "the target thread takes the signal");
    T_EQ(g_thread_si.si_code, SI_TIMER, "si_code SI_TIMER");
    T_EQ(g_thread_si.si_value.sival_int, 99, "value");
    sigset_t pend;
    sigpending(&pend);
    T_TRUE(!sigismember(&pend, SIGUSR2), "nothing left for the process");
    T_OK(k_delete(id), "delete");
}

static sem_t g_thread_fired;
static int g_thread_value;

static void notify_fn(union sigval v)
{
    g_thread_value = v.sival_int;
    sem_post(&g_thread_fired);
}

static void test_glibc_thread(void)
{
    sem_init(&g_thread_fired, 0, 0);
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = notify_fn;
    sev.sigev_value.sival_int = 42;
    timer_t tid;
    T_OK(timer_create(CLOCK_MONOTONIC, &sev, &tid), "glibc timer_create SIGEV_THREAD");
    struct itimerspec its = ms(10, 0);
    T_OK(timer_settime(tid, 0, &its, NULL), "arm 10 ms");
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 3;
    T_OK(sem_timedwait(&g_thread_fired, &dl), "notify function ran");
    T_EQ(g_thread_value, 42, "with sigev_value");
    T_OK(timer_delete(tid), "timer_delete");
}

static void spin_until_pending(int sig, clockid_t cpu_clock, struct timespec *cpu_at)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    sigset_t pend;
    for (;;) {
        for (volatile int i = 0; i < 100000; i++)
            ;
        sigpending(&pend);
        if (sigismember(&pend, sig))
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 10)
            break;
    }
    clock_gettime(cpu_clock, cpu_at);
}

static void test_cpu_clocks(void)
{
    static const clockid_t clocks[] = {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
    static const char *names[] = {"process", "thread"};
    block(SIGUSR1);
    for (int c = 0; c < 2; c++) {
        char name[100];
        int id;
        struct ksigevent ev = sig_event(SIGEV_SIGNAL, SIGUSR1, c);
        snprintf(name, sizeof(name), "create on the %s CPU clock", names[c]);
        T_OK(k_create(clocks[c], &ev, &id), name);
        struct timespec base;
        clock_gettime(clocks[c], &base);
        struct itimerspec its = ms(30, 0), cur;
        T_OK(k_settime(id, 0, &its, NULL), "arm 30 ms of CPU time");
        T_OK(k_gettime(id, &cur), "gettime");
        T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
                       cur.it_value.tv_nsec <= 30000000,
               "CPU time left");
        struct timespec at;
        spin_until_pending(SIGUSR1, clocks[c], &at);
        siginfo_t si;
        snprintf(name, sizeof(name), "%s CPU timer fires", names[c]);
        T_EQ(wait_sig(SIGUSR1, &si, 0), SIGUSR1, name);
        long long used = (at.tv_sec - base.tv_sec) * 1000000000LL + (at.tv_nsec - base.tv_nsec);
        T_TRUE(used >= 30000000, "not before 30 ms of CPU time");
        T_OK(k_delete(id), "delete");
    }
}

static void test_fork_exec(const char *self)
{
    int id;
    struct ksigevent ev = sig_event(SIGEV_NONE, 0, 0);
    T_OK(k_create(CLOCK_MONOTONIC, &ev, &id), "create before fork");
    pid_t pid = fork();
    if (pid == 0) {
        struct itimerspec cur;
        _exit(k_gettime(id, &cur) == -1 && errno == EINVAL ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "timers are not inherited by fork");
    T_OK(k_delete(id), "delete");

    pid = fork();
    if (pid == 0) {
        /* SIGALRM's default action would kill the new image if the timer
         * survived exec. */
        int cid;
        if (k_create(CLOCK_MONOTONIC, NULL, &cid) != 0)
            _exit(2);
        struct itimerspec its = ms(20, 0);
        k_settime(cid, 0, &its, NULL);
        char idbuf[16];
        snprintf(idbuf, sizeof(idbuf), "%d", cid);
        execl(self, self, "after-exec", idbuf, (char *)NULL);
        _exit(3);
    }
    waitpid(pid, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "timers are deleted by exec");
}

static int after_exec(const char *idstr)
{
    usleep(100000);
    struct itimerspec cur;
    int r = k_gettime(atoi(idstr), &cur);
    return r == -1 && errno == EINVAL ? 0 : 4;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "after-exec") == 0)
        return after_exec(argv[2]);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    tap_init("ptimer");
    test_default_event();
    test_errors();
    test_signal_and_overrun();
    test_none();
    test_abstime();
    test_thread_id();
    test_glibc_thread();
    test_cpu_clocks();
    test_fork_exec(self);
    return tap_done();
}
