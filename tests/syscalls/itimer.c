/*
 * Probe: interval timers on CPU time: setitimer/getitimer ITIMER_VIRTUAL
 * (user time, SIGVTALRM) and ITIMER_PROF (user + system time, SIGPROF):
 * expiry while computing, none while sleeping, intervals, old values,
 * siginfo, no inheritance by fork, argument errors. ITIMER_REAL is in the
 * process probe.
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

static volatile sig_atomic_t g_vt, g_prof, g_code;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
    if (sig == SIGVTALRM)
        g_vt++;
    else
        g_prof++;
    g_code = si->si_code;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* User + system CPU time (Linux splits them by sampling). */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Computes until *COUNTER reaches N or LIMIT seconds of wall time pass. */
static int spin_until(volatile sig_atomic_t *counter, int n, double limit)
{
    double end = now_s() + limit;
    volatile unsigned long x = 0;
    while (*counter < n && now_s() < end)
        for (int i = 0; i < 100000; i++)
            x += i;
    return *counter >= n;
}

int main(void)
{
    tap_init("itimer");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGVTALRM, &sa, NULL);
    sigaction(SIGPROF, &sa, NULL);

    struct itimerval it, old;
    T_OK(getitimer(ITIMER_VIRTUAL, &old), "getitimer ITIMER_VIRTUAL");
    T_TRUE(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0, "ITIMER_VIRTUAL starts disarmed");
    T_OK(getitimer(ITIMER_PROF, &old), "getitimer ITIMER_PROF");
    T_TRUE(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0, "ITIMER_PROF starts disarmed");
    T_ERRNO(getitimer(3, &old), EINVAL, "getitimer(3): EINVAL");
    it = (struct itimerval){{0, 0}, {0, 1000000}};
    T_ERRNO(setitimer(ITIMER_VIRTUAL, &it, NULL), EINVAL, "tv_usec 1000000: EINVAL");
    T_ERRNO(setitimer(3, &it, NULL), EINVAL, "setitimer(3): EINVAL");
    T_ERRNO(syscall(SYS_getitimer, ITIMER_VIRTUAL, BAD_PTR), EFAULT, "getitimer to a bad pointer: EFAULT");

    /* One expiry after 50 ms of computing. */
    double u0 = cpu_s();
    it = (struct itimerval){{0, 0}, {0, 50000}};
    T_OK(setitimer(ITIMER_VIRTUAL, &it, NULL), "setitimer ITIMER_VIRTUAL 50 ms");
    T_OK(getitimer(ITIMER_VIRTUAL, &old), "getitimer while armed");
    T_TRUE(old.it_value.tv_sec == 0 && old.it_value.tv_usec > 0 && old.it_value.tv_usec <= 60000,
           "the time left is about the value set (Linux rounds to its tick)");
    T_TRUE(spin_until(&g_vt, 1, 10), "SIGVTALRM after computing");
    double used = cpu_s() - u0;
    /* Linux samples user time by ticks, so under load it may count 50 ms
     * before getrusage's precise total says so: a loose lower bound. */
    T_TRUE(used >= 0.02, "not long before 50 ms of CPU time");
    T_EQ(g_code, SI_KERNEL, "si_code SI_KERNEL");
    T_OK(getitimer(ITIMER_VIRTUAL, &old), "getitimer after a one-shot expiry");
    T_TRUE(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0, "a one-shot timer is disarmed");

    /* Sleeping uses no CPU time: no expiry. */
    g_vt = 0;
    it = (struct itimerval){{0, 0}, {0, 100000}};
    T_OK(setitimer(ITIMER_VIRTUAL, &it, NULL), "arm 100 ms");
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    T_EQ(g_vt, 0, "no SIGVTALRM while sleeping 300 ms");
    T_OK(getitimer(ITIMER_VIRTUAL, &old), "getitimer after sleeping");
    T_TRUE(old.it_value.tv_usec > 50000, "most of the time is still left");
    struct itimerval zero = {{0, 0}, {0, 0}};
    T_OK(setitimer(ITIMER_VIRTUAL, &zero, &old), "disarm, reading the old value");
    T_TRUE(old.it_value.tv_usec > 50000 && old.it_interval.tv_usec == 0, "the old value is returned");
    T_OK(getitimer(ITIMER_VIRTUAL, &old), "getitimer after disarming");
    T_TRUE(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0, "disarmed");

    /* A periodic ITIMER_PROF. */
    it = (struct itimerval){{0, 20000}, {0, 20000}};
    T_OK(setitimer(ITIMER_PROF, &it, NULL), "setitimer ITIMER_PROF every 20 ms");
    T_OK(getitimer(ITIMER_PROF, &old), "getitimer ITIMER_PROF");
    T_EQ(old.it_interval.tv_usec, 20000, "the interval is kept");
    T_TRUE(spin_until(&g_prof, 3, 10), "three SIGPROFs while computing");

    /* Not inherited by a fork child. */
    pid_t c = fork();
    if (c == 0) {
        struct itimerval ci;
        getitimer(ITIMER_PROF, &ci);
        _exit(ci.it_value.tv_sec == 0 && ci.it_value.tv_usec == 0 &&
              ci.it_interval.tv_usec == 0 ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a fork child has no CPU itimers");
    T_OK(setitimer(ITIMER_PROF, &zero, NULL), "disarm ITIMER_PROF");
    int n = g_prof;
    ts.tv_nsec = 100000000;
    nanosleep(&ts, NULL);
    T_EQ(g_prof, n, "no SIGPROF after disarming");
    return tap_done();
}
