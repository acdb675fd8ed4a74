/*
 * File-descriptor objects: epoll_create, epoll_create1, epoll_ctl,
 * epoll_wait, epoll_pwait, epoll_pwait2, eventfd, eventfd2, timerfd_create,
 * timerfd_settime, timerfd_gettime, signalfd, signalfd4.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "kernel/host/host.h"
#include "kernel/ipc/epoll.h"
#include "kernel/ipc/eventfd.h"
#include "kernel/ipc/signalfd.h"
#include "kernel/ipc/timerfd.h"
#include "kernel/signal/signal.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"

#define EP_MAX_EVENTS (INT32_MAX / (int)sizeof(struct linux_epoll_event))

/* Installs FILE (consumed) at the lowest free fd: the fd or -errno. */
static long install(struct task *t, struct file *file, bool cloexec)
{
    int limit = (int)t->tg->rlim[RLIMIT_NOFILE].rlim_cur;
    int fd = fdtable_alloc(t->files, 0, limit, file, cloexec);
    file_put(file);
    return fd;
}

/* ---- epoll ---- */

static long do_epoll_create(struct task *t, int flags)
{
    if (flags & ~O_CLOEXEC)
        return -EINVAL;
    struct file *f;
    int r = epoll_create_file(&f);
    if (r < 0)
        return r;
    return install(t, f, flags & O_CLOEXEC);
}

static long sys_epoll_create(struct task *t, const struct sys_args *a)
{
    if ((int)a->arg[0] <= 0)
        return -EINVAL;
    return do_epoll_create(t, 0);
}
SYSCALL_DEFINE(epoll_create, sys_epoll_create, "d", SYS_FULL, NULL);

static long sys_epoll_create1(struct task *t, const struct sys_args *a)
{
    return do_epoll_create(t, (int)a->arg[0]);
}
SYSCALL_DEFINE(epoll_create1, sys_epoll_create1, "x", SYS_FULL, NULL);

static long sys_epoll_ctl(struct task *t, const struct sys_args *a)
{
    int op = (int)a->arg[1];
    int fd = (int)a->arg[2];
    struct linux_epoll_event ev = {0, 0};
    if (op != EPOLL_CTL_DEL && copy_in(t, &ev, a->arg[3], sizeof(ev)) < 0)
        return -EFAULT;
    struct file *ep = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!ep)
        return -EBADF;
    struct file *target = fdtable_get_file(t->files, fd);
    long r;
    if (!target)
        r = -EBADF;
    else
        r = epoll_ctl_file(ep, op, fd, target, &ev);
    file_put(target);
    file_put(ep);
    return r;
}
SYSCALL_DEFINE(epoll_ctl, sys_epoll_ctl, "fdfp", SYS_PARTIAL,
               "EPOLLEXCLUSIVE accepted (all waiters wake); EPOLLWAKEUP ignored");

/* TIMEOUT_NS < 0: forever. */
static long do_epoll_wait(struct task *t, int epfd, uint64_t uevents, int maxevents,
                          int64_t timeout_ns, uint64_t sigmask, uint64_t sigsetsize)
{
    if (maxevents <= 0 || maxevents > EP_MAX_EVENTS)
        return -EINVAL;
    struct file *ep = fdtable_get_file(t->files, epfd);
    if (!ep)
        return -EBADF;
    long r;
    if (!epoll_is_epoll(ep)) {
        r = -EINVAL;
        goto out_put;
    }
    r = copy_in_temporary_sigmask(t, sigmask, sigsetsize);
    if (r < 0)
        goto out_put;
    /* The kernel buffer: MAXEVENTS, bounded by the set's size (no wait
     * returns more events than items) so a huge MAXEVENTS costs nothing;
     * Linux returns up to MAXEVENTS in one call, so must we. */
    int n = maxevents;
    if (n > 1024) {
        int items = epoll_nitems(ep);
        n = items > n ? n : items < 1024 ? 1024 : items;
    }
    struct linux_epoll_event *ev = calloc((size_t)n, sizeof(*ev));
    if (!ev) {
        r = -ENOMEM;
        goto out_put;
    }
    uint64_t deadline = timeout_ns > 0 ? host_monotonic_ns() + (uint64_t)timeout_ns : 0;
    r = epoll_wait_file(t, ep, ev, n, deadline, timeout_ns == 0);
    if (r > 0 && copy_out(t, uevents, ev, (size_t)r * sizeof(*ev)) < 0)
        r = -EFAULT;
    free(ev);
out_put:
    file_put(ep);
    return r;
}

static long sys_epoll_wait(struct task *t, const struct sys_args *a)
{
    int ms = (int)a->arg[3];
    return do_epoll_wait(t, (int)a->arg[0], a->arg[1], (int)a->arg[2],
                         ms < 0 ? -1 : (int64_t)ms * 1000000, 0, 0);
}
SYSCALL_DEFINE(epoll_wait, sys_epoll_wait, "fpdd", SYS_FULL, NULL);

static long sys_epoll_pwait(struct task *t, const struct sys_args *a)
{
    int ms = (int)a->arg[3];
    return do_epoll_wait(t, (int)a->arg[0], a->arg[1], (int)a->arg[2],
                         ms < 0 ? -1 : (int64_t)ms * 1000000, a->arg[4], a->arg[5]);
}
SYSCALL_DEFINE(epoll_pwait, sys_epoll_pwait, "fpddpu", SYS_FULL, NULL);

static long sys_epoll_pwait2(struct task *t, const struct sys_args *a)
{
    int64_t ns = -1;
    if (a->arg[3]) {
        struct linux_timespec ts;
        if (copy_in(t, &ts, a->arg[3], sizeof(ts)) < 0)
            return -EFAULT;
        if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000)
            return -EINVAL;
        ns = ts.tv_sec > INT64_MAX / 1000000000 - 1 ? INT64_MAX
                                                     : ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    return do_epoll_wait(t, (int)a->arg[0], a->arg[1], (int)a->arg[2], ns, a->arg[4],
                         a->arg[5]);
}
SYSCALL_DEFINE(epoll_pwait2, sys_epoll_pwait2, "fpdppu", SYS_FULL, NULL);

/* ---- eventfd ---- */

static long do_eventfd(struct task *t, unsigned initval, int flags)
{
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | EVENTFD_SEMAPHORE))
        return -EINVAL;
    struct file *f;
    int r = eventfd_create(initval, (unsigned)flags & (O_NONBLOCK | EVENTFD_SEMAPHORE), &f);
    if (r < 0)
        return r;
    return install(t, f, flags & O_CLOEXEC);
}

static long sys_eventfd(struct task *t, const struct sys_args *a)
{
    return do_eventfd(t, (unsigned)a->arg[0], 0);
}
SYSCALL_DEFINE(eventfd, sys_eventfd, "u", SYS_FULL, NULL);

static long sys_eventfd2(struct task *t, const struct sys_args *a)
{
    return do_eventfd(t, (unsigned)a->arg[0], (int)a->arg[1]);
}
SYSCALL_DEFINE(eventfd2, sys_eventfd2, "ux", SYS_FULL, NULL);

/* ---- timerfd ---- */

struct linux_itimerspec {
    struct linux_timespec interval;
    struct linux_timespec value;
};

static long sys_timerfd_create(struct task *t, const struct sys_args *a)
{
    int flags = (int)a->arg[1];
    if (flags & ~(O_CLOEXEC | O_NONBLOCK))
        return -EINVAL;
    struct file *f;
    int r = timerfd_create_file((int)a->arg[0], (unsigned)flags & O_NONBLOCK, &f);
    if (r < 0)
        return r;
    return install(t, f, flags & O_CLOEXEC);
}
SYSCALL_DEFINE(timerfd_create, sys_timerfd_create, "dx", SYS_PARTIAL,
               "a host clock set cancels TFD_TIMER_CANCEL_ON_SET timers and moves absolute "
               "CLOCK_REALTIME deadlines; relative CLOCK_REALTIME timers do not move");

static struct file *get_timerfd(struct task *t, int fd, long *out_err)
{
    struct file *f = fdtable_get_file(t->files, fd);
    *out_err = 0;
    if (!f) {
        *out_err = -EBADF;
        return NULL;
    }
    if (!timerfd_is_timerfd(f)) {
        file_put(f);
        *out_err = -EINVAL;
        return NULL;
    }
    return f;
}

static int ts_to_ns(const struct linux_timespec *ts, uint64_t *out)
{
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
        return -EINVAL;
    *out = (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
    return 0;
}

static void ns_to_ts(uint64_t ns, struct linux_timespec *ts)
{
    ts->tv_sec = (int64_t)(ns / 1000000000ULL);
    ts->tv_nsec = (int64_t)(ns % 1000000000ULL);
}

static long sys_timerfd_settime(struct task *t, const struct sys_args *a)
{
    struct linux_itimerspec its, old;
    if (copy_in(t, &its, a->arg[2], sizeof(its)) < 0)
        return -EFAULT;
    uint64_t value, interval, ov, oi;
    if (ts_to_ns(&its.value, &value) < 0 || ts_to_ns(&its.interval, &interval) < 0)
        return -EINVAL;
    long r;
    struct file *f = get_timerfd(t, (int)a->arg[0], &r);
    if (!f)
        return r;
    r = timerfd_settime_file(f, (int)a->arg[1], value, interval, &ov, &oi);
    file_put(f);
    if (r < 0)
        return r;
    if (a->arg[3]) {
        ns_to_ts(ov, &old.value);
        ns_to_ts(oi, &old.interval);
        if (copy_out(t, a->arg[3], &old, sizeof(old)) < 0)
            return -EFAULT;
    }
    return 0;
}
SYSCALL_DEFINE(timerfd_settime, sys_timerfd_settime, "fdpp", SYS_FULL, NULL);

static long sys_timerfd_gettime(struct task *t, const struct sys_args *a)
{
    long r;
    struct file *f = get_timerfd(t, (int)a->arg[0], &r);
    if (!f)
        return r;
    uint64_t v, i;
    timerfd_gettime_file(f, &v, &i);
    file_put(f);
    struct linux_itimerspec cur;
    ns_to_ts(v, &cur.value);
    ns_to_ts(i, &cur.interval);
    return copy_out(t, a->arg[1], &cur, sizeof(cur)) < 0 ? -EFAULT : 0;
}
SYSCALL_DEFINE(timerfd_gettime, sys_timerfd_gettime, "fp", SYS_FULL, NULL);

/* ---- signalfd ---- */

static long do_signalfd(struct task *t, int fd, uint64_t umask, uint64_t size, int flags)
{
    if (flags & ~(O_CLOEXEC | O_NONBLOCK))
        return -EINVAL;
    if (size != 8)
        return -EINVAL;
    uint64_t mask;
    if (copy_in(t, &mask, umask, sizeof(mask)) < 0)
        return -EFAULT;
    if (fd != -1) {
        struct file *f = fdtable_get_file(t->files, fd);
        if (!f)
            return -EBADF;
        long r = fd;
        if (signalfd_is_signalfd(f))
            signalfd_set_mask(f, mask);
        else
            r = -EINVAL;
        file_put(f);
        return r;
    }
    struct file *f;
    int r = signalfd_create_file(mask, (unsigned)flags & O_NONBLOCK, &f);
    if (r < 0)
        return r;
    return install(t, f, flags & O_CLOEXEC);
}

static long sys_signalfd(struct task *t, const struct sys_args *a)
{
    return do_signalfd(t, (int)a->arg[0], a->arg[1], a->arg[2], 0);
}
SYSCALL_DEFINE(signalfd, sys_signalfd, "fpu", SYS_PARTIAL,
               "a blocked sleeper notices new signals within 5 ms");

static long sys_signalfd4(struct task *t, const struct sys_args *a)
{
    return do_signalfd(t, (int)a->arg[0], a->arg[1], a->arg[2], (int)a->arg[3]);
}
SYSCALL_DEFINE(signalfd4, sys_signalfd4, "fpux", SYS_PARTIAL,
               "a blocked sleeper notices new signals within 5 ms");
