/*
 * Probe: clock_gettime, gettimeofday. Raw syscalls, so the kernel (not the
 * vDSO) answers; the libc calls, which may use the vDSO, must agree.
 */
#include <sys/time.h>
#include <time.h>

#include "tap.h"

static long long ns(const struct timespec *ts)
{
    return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int valid(const struct timespec *ts)
{
    return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

static void test_clock_gettime(void)
{
    struct timespec a, b, r;

    T_OK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a), "CLOCK_MONOTONIC");
    T_TRUE(valid(&a), "CLOCK_MONOTONIC: a valid timespec");
    int ok = 1;
    struct timespec prev = a;
    for (int i = 0; i < 1000; i++) {
        syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
        ok &= valid(&b) && ns(&b) >= ns(&prev);
        prev = b;
    }
    T_TRUE(ok, "CLOCK_MONOTONIC never goes back (1000 reads)");
    T_TRUE(ns(&b) > ns(&a), "CLOCK_MONOTONIC advances");
    T_TRUE(ns(&b) - ns(&a) < 5000000000LL, "1000 reads take less than 5 s");

    T_OK(syscall(SYS_clock_gettime, CLOCK_REALTIME, &r), "CLOCK_REALTIME");
    T_TRUE(valid(&r), "CLOCK_REALTIME: a valid timespec");
    time_t now = time(NULL);
    T_TRUE(r.tv_sec >= now - 2 && r.tv_sec <= now + 2, "CLOCK_REALTIME is close to time()");
    T_TRUE(r.tv_sec > 1600000000, "CLOCK_REALTIME is after 2020");

    static const struct {
        clockid_t id;
        const char *name;
    } clocks[] = {
        { CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW" },
        { CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE" },
        { CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE" },
        { CLOCK_BOOTTIME, "CLOCK_BOOTTIME" },
        { CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID" },
        { CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID" },
    };
    for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
        struct timespec ts = { -1, -1 };
        long rc = syscall(SYS_clock_gettime, clocks[i].id, &ts);
        tap_result(rc == 0 && valid(&ts), "%s", clocks[i].name);
    }
    struct timespec cpu;
    syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &cpu);
    T_TRUE(ns(&cpu) > 0, "the process has used some CPU time");

    struct timespec libc;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_MONOTONIC, &libc);
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
    T_TRUE(ns(&a) <= ns(&libc) && ns(&libc) <= ns(&b), "libc (vDSO) CLOCK_MONOTONIC agrees with the syscall");
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &a);
    clock_gettime(CLOCK_REALTIME, &libc);
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &b);
    T_TRUE(ns(&a) <= ns(&libc) && ns(&libc) <= ns(&b), "libc (vDSO) CLOCK_REALTIME agrees with the syscall");

    T_ERRNO(syscall(SYS_clock_gettime, 12345, &a), EINVAL, "an unknown clock id: EINVAL");
    T_ERRNO(syscall(SYS_clock_gettime, -1, &a), EINVAL, "clock id -1: EINVAL");
    T_ERRNO(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, BAD_PTR), EFAULT, "a bad timespec pointer: EFAULT");
}

static void test_gettimeofday(void)
{
    struct timeval tv, tv2;
    struct timespec ts;

    T_OK(syscall(SYS_gettimeofday, &tv, NULL), "gettimeofday");
    T_TRUE(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec is in range");
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
    long long diff = ts.tv_sec * 1000000LL + ts.tv_nsec / 1000 - (tv.tv_sec * 1000000LL + tv.tv_usec);
    T_TRUE(diff >= 0 && diff < 2000000, "gettimeofday agrees with CLOCK_REALTIME");
    T_OK(syscall(SYS_gettimeofday, &tv2, NULL), "gettimeofday again");
    T_TRUE(tv2.tv_sec > tv.tv_sec || (tv2.tv_sec == tv.tv_sec && tv2.tv_usec >= tv.tv_usec),
            "gettimeofday does not go back");
    struct timezone tz = { 12345, 12345 };
    T_OK(syscall(SYS_gettimeofday, NULL, &tz), "gettimeofday with only a timezone");
    T_OK(syscall(SYS_gettimeofday, NULL, NULL), "gettimeofday(NULL, NULL)");
    T_ERRNO(syscall(SYS_gettimeofday, BAD_PTR, NULL), EFAULT, "a bad timeval pointer: EFAULT");
    T_ERRNO(syscall(SYS_gettimeofday, NULL, BAD_PTR), EFAULT, "a bad timezone pointer: EFAULT");
}

/* Only calls that fail before anything is set: the probe also runs
 * natively, where it must not change the host's clock. */
static void test_settime_invalid(void)
{
    struct timespec ts = {0, 0};
    T_ERRNO(syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts), EINVAL,
            "clock_settime(CLOCK_MONOTONIC): EINVAL");
    T_ERRNO(syscall(SYS_clock_settime, 42, &ts), EINVAL, "clock_settime of no clock: EINVAL");
    T_ERRNO(syscall(SYS_clock_settime, CLOCK_REALTIME, (void *)8), EFAULT,
            "clock_settime from a bad pointer: EFAULT");
    ts.tv_nsec = 2000000000;
    T_ERRNO(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts), EINVAL,
            "clock_settime with tv_nsec 2e9: EINVAL");
    ts.tv_sec = -1;
    ts.tv_nsec = 0;
    T_ERRNO(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts), EINVAL,
            "clock_settime before the epoch: EINVAL");
    struct timeval tv = {0, 2000000};
    T_ERRNO(syscall(SYS_settimeofday, &tv, NULL), EINVAL, "settimeofday with tv_usec 2e6: EINVAL");
    T_ERRNO(syscall(SYS_settimeofday, (void *)8, NULL), EFAULT,
            "settimeofday from a bad pointer: EFAULT");
}

int main(void)
{
    tap_init("time");
    test_clock_gettime();
    test_gettimeofday();
    test_settime_invalid();
    return tap_done();
}
