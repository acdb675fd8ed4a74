/*
 * Time: clock_gettime, clock_getres, gettimeofday, time, nanosleep,
 * clock_nanosleep.
 *
 * FIXME(issue 3): a vDSO keeps clock reads off the trap path. FIXME(issue
 * 4): CPU-time clocks.
 */
#include <errno.h>
#include <time.h>

#include "kernel/host/host.h"
#include "kernel/syscalls/syscall.h"
#include "platform/platform.h"
#include "kernel/task/waitq.h"

/* CPU time of T's process or thread: the app's time in its stub plus the
 * kernel thread's time working for it. */
static int task_cputime(struct task *t, bool process, struct linux_timespec *out)
{
    uint64_t app = 0;
    int r = g_platform->ctx_cputime(t->ctx, process, &app);
    if (r < 0)
        return r;
    uint64_t ns = app + host_thread_cputime_ns();
    out->tv_sec = (int64_t)(ns / 1000000000ULL);
    out->tv_nsec = (int64_t)(ns % 1000000000ULL);
    return 0;
}

static long sys_clock_gettime(struct task *t, const struct sys_args *a)
{
    struct linux_timespec ts;
    int clock = (int)a->arg[0];
    int r;
    if (clock == CLOCK_PROCESS_CPUTIME_ID || clock == CLOCK_THREAD_CPUTIME_ID)
        r = task_cputime(t, clock == CLOCK_PROCESS_CPUTIME_ID, &ts);
    else
        r = host_clock_gettime(clock, &ts.tv_sec, &ts.tv_nsec);
    if (r < 0)
        return r;
    return copy_out(t, a->arg[1], &ts, sizeof(ts));
}
SYSCALL_DEFINE(clock_gettime, sys_clock_gettime, "dp", SYS_PARTIAL,
               "clocks of other processes (clock_getcpuclockid) are EINVAL");

static long sys_clock_getres(struct task *t, const struct sys_args *a)
{
    struct linux_timespec ts;
    int clock = (int)a->arg[0];
    if (clock == CLOCK_PROCESS_CPUTIME_ID || clock == CLOCK_THREAD_CPUTIME_ID)
        clock = CLOCK_MONOTONIC; /* same resolution: 1 ns */
    int r = host_clock_getres(clock, &ts.tv_sec, &ts.tv_nsec);
    if (r < 0)
        return r;
    if (!a->arg[1])
        return 0;
    return copy_out(t, a->arg[1], &ts, sizeof(ts));
}
SYSCALL_DEFINE(clock_getres, sys_clock_getres, "dp", SYS_PARTIAL, "as clock_gettime");

static long sys_gettimeofday(struct task *t, const struct sys_args *a)
{
    struct linux_timespec ts;
    int r = host_clock_gettime(CLOCK_REALTIME, &ts.tv_sec, &ts.tv_nsec);
    if (r < 0)
        return r;
    if (a->arg[0]) {
        struct linux_timeval tv = {ts.tv_sec, ts.tv_nsec / 1000};
        if (copy_out(t, a->arg[0], &tv, sizeof(tv)) < 0)
            return -EFAULT;
    }
    if (a->arg[1]) {
        struct linux_timezone tz = {0, 0};
        if (copy_out(t, a->arg[1], &tz, sizeof(tz)) < 0)
            return -EFAULT;
    }
    return 0;
}
SYSCALL_DEFINE(gettimeofday, sys_gettimeofday, "pp", SYS_FULL, NULL);

static long sys_time(struct task *t, const struct sys_args *a)
{
    struct linux_timespec ts;
    int r = host_clock_gettime(CLOCK_REALTIME, &ts.tv_sec, &ts.tv_nsec);
    if (r < 0)
        return r;
    if (a->arg[0] && copy_out(t, a->arg[0], &ts.tv_sec, sizeof(ts.tv_sec)) < 0)
        return -EFAULT;
    return ts.tv_sec;
}
SYSCALL_DEFINE(time, sys_time, "p", SYS_FULL, NULL);

/* Sleeps T for REQ on the monotonic clock; a signal ends the sleep early
 * and the time left goes to REM_ADDR (if set). */
static int sleep_for(struct task *t, const struct linux_timespec *req, uint64_t rem_addr)
{
    if (req->tv_nsec < 0 || req->tv_nsec >= 1000000000 || req->tv_sec < 0)
        return -EINVAL;
    uint64_t ns = (uint64_t)req->tv_sec * 1000000000ULL + (uint64_t)req->tv_nsec;
    uint64_t deadline = host_monotonic_ns() + ns;
    if (deadline < ns)
        deadline = UINT64_MAX - 1;
    for (;;) {
        uint32_t seq = task_wake_seq(t);
        int r = task_sleep(t, seq, deadline);
        if (r == -ETIMEDOUT)
            return 0;
        if (r == -EINTR) {
            uint64_t now = host_monotonic_ns();
            uint64_t left = deadline > now ? deadline - now : 0;
            struct linux_timespec rem = {(int64_t)(left / 1000000000ULL),
                                         (int64_t)(left % 1000000000ULL)};
            if (rem_addr && copy_out(t, rem_addr, &rem, sizeof(rem)) < 0)
                return -EFAULT;
            return -ERESTART_RESTARTBLOCK;
        }
    }
}

static long sys_nanosleep(struct task *t, const struct sys_args *a)
{
    struct linux_timespec req;
    if (copy_in(t, &req, a->arg[0], sizeof(req)) < 0)
        return -EFAULT;
    return sleep_for(t, &req, a->arg[1]);
}
SYSCALL_DEFINE(nanosleep, sys_nanosleep, "pp", SYS_PARTIAL,
               "a restarted sleep (no handler ran) sleeps its full length again");

static long sys_clock_nanosleep(struct task *t, const struct sys_args *a)
{
    int clock = (int)a->arg[0];
    int flags = (int)a->arg[1];
    struct linux_timespec req;
    if (flags & ~TIMER_ABSTIME)
        return -EINVAL;
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME &&
        clock != CLOCK_TAI)
        return clock == CLOCK_THREAD_CPUTIME_ID ? -EINVAL : -EOPNOTSUPP;
    if (copy_in(t, &req, a->arg[2], sizeof(req)) < 0)
        return -EFAULT;
    if (req.tv_nsec < 0 || req.tv_nsec >= 1000000000 || req.tv_sec < 0)
        return -EINVAL;
    if (flags & TIMER_ABSTIME) {
        struct linux_timespec now;
        int r = host_clock_gettime(clock, &now.tv_sec, &now.tv_nsec);
        if (r < 0)
            return r;
        int64_t ns = (req.tv_sec - now.tv_sec) * 1000000000LL + (req.tv_nsec - now.tv_nsec);
        if (ns <= 0)
            return 0;
        req.tv_sec = ns / 1000000000LL;
        req.tv_nsec = ns % 1000000000LL;
    }
    return sleep_for(t, &req, (flags & TIMER_ABSTIME) ? 0 : a->arg[3]);
}
SYSCALL_DEFINE(clock_nanosleep, sys_clock_nanosleep, "dxpp", SYS_PARTIAL,
               "sleeps on the monotonic clock; REALTIME deadlines ignore clock changes");
