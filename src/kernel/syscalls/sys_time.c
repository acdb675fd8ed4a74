/*
 * Time: clock_gettime, clock_getres, gettimeofday, time, nanosleep,
 * clock_nanosleep, alarm, setitimer, getitimer.
 *
 * timer_create, timer_settime, timer_gettime, timer_getoverrun, timer_delete.
 * clock_settime, settimeofday: validated, then EPERM (the sandbox's clock
 * is the host's and is never set, as without CAP_SYS_TIME).
 *
 * alarm, setitimer and getitimer: ITIMER_REAL on the kernel's timer
 * service; ITIMER_VIRTUAL and ITIMER_PROF count the process's CPU time
 * (kernel/task/task.c).
 */
#include <errno.h>
#include <time.h>

#include "kernel/host/host.h"
#include "kernel/syscalls/syscall.h"
#include "platform/platform.h"
#include "kernel/task/ktimer.h"
#include "kernel/task/waitq.h"
#include "kernel/time/ptimer.h"
#include "lib/log.h"

/* CPU time of T's process or thread (app time in the stubs plus kernel
 * time spent for them). */
static int cputime_clock(struct task *t, bool process, struct linux_timespec *out)
{
    uint64_t u, s;
    task_cputime(t, process, &u, &s);
    uint64_t ns = u + s;
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
        r = cputime_clock(t, clock == CLOCK_PROCESS_CPUTIME_ID, &ts);
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
            t->restart.deadline_ns = deadline;
            t->restart.rem_addr = rem_addr;
            return -ERESTART_RESTARTBLOCK;
        }
    }
}

/* Sleeps until T's saved deadline: a sleep resumed by restart_syscall. */
static long sleep_until(struct task *t, uint64_t deadline, uint64_t rem_addr)
{
    uint64_t now = host_monotonic_ns();
    uint64_t left = deadline > now ? deadline - now : 0;
    struct linux_timespec ts = {(int64_t)(left / 1000000000ULL), (int64_t)(left % 1000000000ULL)};
    return sleep_for(t, &ts, rem_addr);
}

static long sys_restart_syscall(struct task *t, const struct sys_args *a)
{
    if (!t->restart.deadline_ns)
        return -EINTR;
    uint64_t deadline = t->restart.deadline_ns;
    t->restart.deadline_ns = 0;
    return sleep_until(t, deadline, t->restart.rem_addr);
}
SYSCALL_DEFINE(restart_syscall, sys_restart_syscall, "", SYS_PARTIAL,
               "resumes interrupted nanosleep/clock_nanosleep");

static long sys_nanosleep(struct task *t, const struct sys_args *a)
{
    struct linux_timespec req;
    if (copy_in(t, &req, a->arg[0], sizeof(req)) < 0)
        return -EFAULT;
    return sleep_for(t, &req, a->arg[1]);
}
SYSCALL_DEFINE(nanosleep, sys_nanosleep, "pp", SYS_PARTIAL,
               "on the monotonic clock");

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

struct linux_itimerval {
    struct linux_timeval interval;
    struct linux_timeval value;
};

#define ITIMER_REAL_L 0
#define ITIMER_VIRTUAL_L 1
#define ITIMER_PROF_L 2

static uint64_t tv_ns(const struct linux_timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

static void ns_tv(uint64_t ns, struct linux_timeval *tv)
{
    tv->tv_sec = (int64_t)(ns / 1000000000ULL);
    tv->tv_usec = (int64_t)(ns % 1000000000ULL / 1000);
}

/* The current ITIMER_REAL setting of T's process. */
static void itimer_real_get(struct task *t, struct linux_itimerval *out)
{
    uint64_t deadline, interval;
    ktimer_get(&t->tg->itimer_real, &deadline, &interval);
    uint64_t now = host_monotonic_ns();
    uint64_t left = deadline > now ? deadline - now : (deadline ? 1000 : 0);
    ns_tv(left, &out->value);
    ns_tv(interval, &out->interval);
}

static void itimer_real_set(struct task *t, const struct linux_itimerval *nv)
{
    uint64_t v = tv_ns(&nv->value);
    if (!v)
        ktimer_cancel(&t->tg->itimer_real);
    else
        ktimer_arm(&t->tg->itimer_real, host_monotonic_ns() + v, tv_ns(&nv->interval));
}

/* The current setting of timer WHICH of T's process. */
static void itimer_get(struct task *t, int which, struct linux_itimerval *out)
{
    if (which == ITIMER_REAL_L) {
        itimer_real_get(t, out);
        return;
    }
    uint64_t value, interval;
    task_itimer_cpu_get(t, which, &value, &interval);
    ns_tv(value, &out->value);
    ns_tv(interval, &out->interval);
}

static long sys_getitimer(struct task *t, const struct sys_args *a)
{
    struct linux_itimerval cur;
    int which = (int)a->arg[0];
    if (which != ITIMER_REAL_L && which != ITIMER_VIRTUAL_L && which != ITIMER_PROF_L)
        return -EINVAL;
    itimer_get(t, which, &cur);
    return copy_out(t, a->arg[1], &cur, sizeof(cur));
}
SYSCALL_DEFINE(getitimer, sys_getitimer, "dp", SYS_FULL, NULL);

static long sys_setitimer(struct task *t, const struct sys_args *a)
{
    int which = (int)a->arg[0];
    if (which != ITIMER_REAL_L && which != ITIMER_VIRTUAL_L && which != ITIMER_PROF_L)
        return -EINVAL;
    struct linux_itimerval nv, old;
    if (a->arg[1]) {
        if (copy_in(t, &nv, a->arg[1], sizeof(nv)) < 0)
            return -EFAULT;
        if (nv.value.tv_usec < 0 || nv.value.tv_usec >= 1000000 || nv.value.tv_sec < 0 ||
            nv.interval.tv_usec < 0 || nv.interval.tv_usec >= 1000000 ||
            nv.interval.tv_sec < 0)
            return -EINVAL;
    }
    itimer_get(t, which, &old);
    if (a->arg[1]) {
        if (which == ITIMER_REAL_L)
            itimer_real_set(t, &nv);
        else
            task_itimer_cpu_set(t, which, tv_ns(&nv.value), tv_ns(&nv.interval));
    }
    if (a->arg[2] && copy_out(t, a->arg[2], &old, sizeof(old)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(setitimer, sys_setitimer, "dpp", SYS_PARTIAL,
               "VIRTUAL: the app's CPU time; PROF adds the kernel's time spent for it");

static long sys_alarm(struct task *t, const struct sys_args *a)
{
    struct linux_itimerval old, nv = {{0, 0}, {(int64_t)(uint32_t)a->arg[0], 0}};
    itimer_real_get(t, &old);
    itimer_real_set(t, &nv);
    /* The seconds left, rounded as Linux does (never 0 while armed). */
    long left = (long)old.value.tv_sec;
    if (old.value.tv_usec >= 500000 || (left == 0 && old.value.tv_usec))
        left++;
    return left;
}
SYSCALL_DEFINE(alarm, sys_alarm, "u", SYS_FULL, NULL);

/* POSIX timers (kernel/time/ptimer.c). */

struct linux_sigevent {
    uint64_t value;
    int32_t signo;
    int32_t notify;
    union {
        int32_t tid;
        uint8_t pad[48];
    };
};

struct linux_itimerspec_t {
    struct linux_timespec interval;
    struct linux_timespec value;
};

static bool ts_valid(const struct linux_timespec *ts)
{
    return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

static uint64_t ts_ns(const struct linux_timespec *ts)
{
    if ((uint64_t)ts->tv_sec >= UINT64_MAX / 1000000000ULL - 1)
        return UINT64_MAX / 2;
    return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

static void ns_ts(uint64_t ns, struct linux_timespec *ts)
{
    ts->tv_sec = (int64_t)(ns / 1000000000ULL);
    ts->tv_nsec = (int64_t)(ns % 1000000000ULL);
}

static long sys_timer_create(struct task *t, const struct sys_args *a)
{
    struct linux_sigevent sev;
    struct ptimer_event ev, *evp = NULL;
    if (a->arg[1]) {
        if (copy_in(t, &sev, a->arg[1], sizeof(sev)) < 0)
            return -EFAULT;
        ev.notify = sev.notify;
        ev.signo = sev.signo;
        ev.tid = sev.tid;
        ev.value = sev.value;
        evp = &ev;
    }
    int id;
    int r = ptimer_create(t, (int)a->arg[0], evp, &id);
    if (r < 0)
        return r;
    int32_t id32 = id;
    if (copy_out(t, a->arg[2], &id32, sizeof(id32)) < 0) {
        ptimer_delete(t, id);
        return -EFAULT;
    }
    return 0;
}
SYSCALL_DEFINE(timer_create, sys_timer_create, "dpp", SYS_PARTIAL,
               "alarm clocks are EOPNOTSUPP; CPU clocks of other processes are EINVAL");

static long sys_timer_settime(struct task *t, const struct sys_args *a)
{
    struct linux_itimerspec_t nv, old;
    if (!a->arg[2])
        return -EINVAL;
    if (copy_in(t, &nv, a->arg[2], sizeof(nv)) < 0)
        return -EFAULT;
    if (!ts_valid(&nv.value) || !ts_valid(&nv.interval))
        return -EINVAL;
    uint64_t ov, oi;
    int r = ptimer_settime(t, (int)a->arg[0], (a->arg[1] & TIMER_ABSTIME) != 0,
                           ts_ns(&nv.value), ts_ns(&nv.interval), &ov, &oi);
    if (r < 0)
        return r;
    if (a->arg[3]) {
        ns_ts(ov, &old.value);
        ns_ts(oi, &old.interval);
        if (copy_out(t, a->arg[3], &old, sizeof(old)) < 0)
            return -EFAULT;
    }
    return 0;
}
SYSCALL_DEFINE(timer_settime, sys_timer_settime, "dxpp", SYS_FULL, NULL);

static long sys_timer_gettime(struct task *t, const struct sys_args *a)
{
    uint64_t v, i;
    int r = ptimer_gettime(t, (int)a->arg[0], &v, &i);
    if (r < 0)
        return r;
    struct linux_itimerspec_t cur;
    ns_ts(v, &cur.value);
    ns_ts(i, &cur.interval);
    return copy_out(t, a->arg[1], &cur, sizeof(cur));
}
SYSCALL_DEFINE(timer_gettime, sys_timer_gettime, "dp", SYS_FULL, NULL);

static long sys_timer_getoverrun(struct task *t, const struct sys_args *a)
{
    return ptimer_getoverrun(t, (int)a->arg[0]);
}
SYSCALL_DEFINE(timer_getoverrun, sys_timer_getoverrun, "d", SYS_FULL, NULL);

static long sys_timer_delete(struct task *t, const struct sys_args *a)
{
    return ptimer_delete(t, (int)a->arg[0]);
}
SYSCALL_DEFINE(timer_delete, sys_timer_delete, "d", SYS_FULL, NULL);

static long sys_clock_settime(struct task *t, const struct sys_args *a)
{
    int clock = (int)a->arg[0];
    if (clock != CLOCK_REALTIME) {
        /* Linux: the other clocks cannot be set; unknown ones are invalid. */
        return -EINVAL;
    }
    struct linux_timespec ts;
    if (copy_in(t, &ts, a->arg[1], sizeof(ts)) < 0)
        return -EFAULT;
    if (!ts_valid(&ts))
        return -EINVAL;
    log_warn_once("clock_settime: the sandbox's clock cannot be set (EPERM)");
    return -EPERM;
}
SYSCALL_DEFINE(clock_settime, sys_clock_settime, "dp", SYS_PARTIAL,
               "setting CLOCK_REALTIME is EPERM (no CAP_SYS_TIME in the sandbox)");

static long sys_settimeofday(struct task *t, const struct sys_args *a)
{
    if (a->arg[0]) {
        struct linux_timeval tv;
        if (copy_in(t, &tv, a->arg[0], sizeof(tv)) < 0)
            return -EFAULT;
        if (tv.tv_usec < 0 || tv.tv_usec >= 1000000 || tv.tv_sec < 0)
            return -EINVAL;
    }
    if (a->arg[1]) {
        struct linux_timezone tz;
        if (copy_in(t, &tz, a->arg[1], sizeof(tz)) < 0)
            return -EFAULT;
        /* Linux checks the zone only after the permission check. */
    }
    log_warn_once("settimeofday: the sandbox's clock cannot be set (EPERM)");
    return -EPERM;
}
SYSCALL_DEFINE(settimeofday, sys_settimeofday, "pp", SYS_PARTIAL,
               "EPERM after validation (no CAP_SYS_TIME in the sandbox)");
