/*
 * Readiness syscalls: poll, ppoll, select, pselect6.
 *
 * FIXME(issue 6): epoll, eventfd, timerfd, signalfd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kernel/host/host.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"

struct linux_pollfd {
    int32_t fd;
    int16_t events;
    int16_t revents;
};

#define NO_DEADLINE 0
#define MAX_POLL_FDS (1 << 20)

/* Turns a relative timeout into an absolute CLOCK_MONOTONIC deadline;
 * *out_nonblock when it is zero. -EINVAL for a bad timespec. */
static int deadline_of(const struct linux_timespec *ts, uint64_t *out_deadline,
                       bool *out_nonblock)
{
    *out_nonblock = false;
    *out_deadline = NO_DEADLINE;
    if (!ts)
        return 0;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
        return -EINVAL;
    if (ts->tv_sec == 0 && ts->tv_nsec == 0) {
        *out_nonblock = true;
        return 0;
    }
    uint64_t ns = (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
    *out_deadline = host_monotonic_ns() + ns;
    return 0;
}

/* The poll loop over FDS (kernel copy); fills revents. Returns the number
 * of ready entries, 0 on timeout, or -ERESTARTNOHAND on a signal. */
static long do_poll(struct task *t, struct linux_pollfd *fds, size_t n, uint64_t deadline,
                    bool nonblock)
{
    struct poll_table pt;
    poll_table_init(&pt, t);
    bool registered = nonblock;
    long ready;
    for (;;) {
        uint32_t seq = task_wake_seq(t);
        ready = 0;
        for (size_t i = 0; i < n; i++) {
            fds[i].revents = 0;
            if (fds[i].fd < 0)
                continue;
            struct file *f = fdtable_get_file(t->files, fds[i].fd);
            if (!f) {
                fds[i].revents = LPOLLNVAL;
                ready++;
                continue;
            }
            unsigned mask = vfs_poll(f, registered ? NULL : &pt);
            file_put(f);
            mask &= (unsigned)(uint16_t)fds[i].events | LPOLLERR | LPOLLHUP | LPOLLNVAL;
            fds[i].revents = (int16_t)mask;
            if (mask)
                ready++;
        }
        registered = true;
        if (ready || nonblock)
            break;
        if (pt.error) {
            ready = pt.error;
            break;
        }
        if (signal_pending(t)) {
            ready = -ERESTARTNOHAND;
            break;
        }
        if (task_sleep(t, seq, deadline) == -ETIMEDOUT) {
            ready = 0;
            break;
        }
    }
    poll_table_free(&pt);
    return ready;
}

static long poll_common(struct task *t, uint64_t ufds, uint64_t nfds,
                        const struct linux_timespec *timeout)
{
    if (nfds > t->tg->rlim[RLIMIT_NOFILE].rlim_cur || nfds > MAX_POLL_FDS)
        return -EINVAL;
    uint64_t deadline;
    bool nonblock;
    int r = deadline_of(timeout, &deadline, &nonblock);
    if (r < 0)
        return r;
    struct linux_pollfd *fds = NULL;
    if (nfds) {
        fds = calloc(nfds, sizeof(*fds));
        if (!fds)
            return -ENOMEM;
        if (copy_in(t, fds, ufds, nfds * sizeof(*fds)) < 0) {
            free(fds);
            return -EFAULT;
        }
    }
    long ready = do_poll(t, fds, nfds, deadline, nonblock);
    if (ready >= 0 && nfds) {
        for (size_t i = 0; i < nfds; i++) {
            uint64_t at = ufds + i * sizeof(*fds) + offsetof(struct linux_pollfd, revents);
            if (copy_out(t, at, &fds[i].revents, sizeof(fds[i].revents)) < 0) {
                ready = -EFAULT;
                break;
            }
        }
    }
    free(fds);
    return ready;
}

static long sys_poll(struct task *t, const struct sys_args *a)
{
    int ms = (int)a->arg[2];
    struct linux_timespec ts = {ms / 1000, (int64_t)(ms % 1000) * 1000000};
    return poll_common(t, a->arg[0], a->arg[1], ms < 0 ? NULL : &ts);
}
SYSCALL_DEFINE(poll, sys_poll, "pud", SYS_FULL, NULL);

static long sys_ppoll(struct task *t, const struct sys_args *a)
{
    struct linux_timespec ts;
    if (a->arg[2] && copy_in(t, &ts, a->arg[2], sizeof(ts)) < 0)
        return -EFAULT;
    int r = copy_in_temporary_sigmask(t, a->arg[3], a->arg[4]);
    if (r < 0)
        return r;
    return poll_common(t, a->arg[0], a->arg[1], a->arg[2] ? &ts : NULL);
}
SYSCALL_DEFINE(ppoll, sys_ppoll, "puppu", SYS_PARTIAL, "the timeout is not updated");

#define SEL_IN  (LPOLLIN | LPOLLRDNORM | LPOLLHUP | LPOLLERR)
#define SEL_OUT (LPOLLOUT | LPOLLWRNORM | LPOLLERR)
#define SEL_EX  (LPOLLPRI)

static long select_common(struct task *t, int nfds, uint64_t inp, uint64_t outp, uint64_t exp,
                          const struct linux_timespec *timeout)
{
    if (nfds < 0)
        return -EINVAL;
    if ((uint64_t)nfds > t->tg->rlim[RLIMIT_NOFILE].rlim_cur)
        nfds = (int)t->tg->rlim[RLIMIT_NOFILE].rlim_cur;
    size_t words = ((size_t)nfds + 63) / 64;
    size_t bytes = words * 8;
    uint64_t *sets[3] = {NULL, NULL, NULL};
    uint64_t addrs[3] = {inp, outp, exp};
    struct linux_pollfd *fds = NULL;
    long r = 0;
    uint64_t deadline;
    bool nonblock;
    r = deadline_of(timeout, &deadline, &nonblock);
    if (r < 0)
        return r;
    for (int k = 0; k < 3; k++) {
        if (!addrs[k] || !bytes)
            continue;
        sets[k] = calloc(words, 8);
        if (!sets[k]) {
            r = -ENOMEM;
            goto out;
        }
        /* Only the bytes covering nfds bits are the app's. */
        size_t ubytes = ((size_t)nfds + 7) / 8;
        if (copy_in(t, sets[k], addrs[k], ubytes) < 0) {
            r = -EFAULT;
            goto out;
        }
    }
    size_t n = 0;
    fds = calloc((size_t)nfds + 1, sizeof(*fds));
    if (!fds) {
        r = -ENOMEM;
        goto out;
    }
    for (int fd = 0; fd < nfds; fd++) {
        unsigned ev = 0;
        for (int k = 0; k < 3; k++)
            if (sets[k] && (sets[k][fd / 64] >> (fd % 64)) & 1)
                ev |= k == 0 ? SEL_IN : k == 1 ? SEL_OUT : SEL_EX;
        if (!ev)
            continue;
        fds[n].fd = fd;
        fds[n].events = (int16_t)ev;
        n++;
    }
    r = do_poll(t, fds, n, deadline, nonblock);
    if (r < 0)
        goto out;
    for (int k = 0; k < 3; k++)
        if (sets[k])
            memset(sets[k], 0, bytes);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = fds[i].fd;
        unsigned rev = (uint16_t)fds[i].revents;
        if (rev & LPOLLNVAL) {
            r = -EBADF;
            goto out;
        }
        unsigned ev = (uint16_t)fds[i].events;
        if ((ev & LPOLLIN) && (rev & SEL_IN)) {
            sets[0][fd / 64] |= 1ULL << (fd % 64);
            count++;
        }
        if ((ev & LPOLLOUT) && (rev & SEL_OUT)) {
            sets[1][fd / 64] |= 1ULL << (fd % 64);
            count++;
        }
        if ((ev & LPOLLPRI) && (rev & SEL_EX)) {
            sets[2][fd / 64] |= 1ULL << (fd % 64);
            count++;
        }
    }
    for (int k = 0; k < 3; k++) {
        if (sets[k] && copy_out(t, addrs[k], sets[k], ((size_t)nfds + 7) / 8) < 0) {
            r = -EFAULT;
            goto out;
        }
    }
    r = count;
out:
    for (int k = 0; k < 3; k++)
        free(sets[k]);
    free(fds);
    return r;
}

static long sys_select(struct task *t, const struct sys_args *a)
{
    struct linux_timeval tv;
    struct linux_timespec ts;
    if (a->arg[4]) {
        if (copy_in(t, &tv, a->arg[4], sizeof(tv)) < 0)
            return -EFAULT;
        if (tv.tv_sec < 0 || tv.tv_usec < 0)
            return -EINVAL;
        ts.tv_sec = tv.tv_sec + tv.tv_usec / 1000000;
        ts.tv_nsec = (tv.tv_usec % 1000000) * 1000;
    }
    return select_common(t, (int)a->arg[0], a->arg[1], a->arg[2], a->arg[3],
                         a->arg[4] ? &ts : NULL);
}
SYSCALL_DEFINE(select, sys_select, "dpppp", SYS_PARTIAL, "the timeout is not updated");

static long sys_pselect6(struct task *t, const struct sys_args *a)
{
    struct linux_timespec ts;
    if (a->arg[4] && copy_in(t, &ts, a->arg[4], sizeof(ts)) < 0)
        return -EFAULT;
    if (a->arg[5]) {
        struct {
            uint64_t ss;
            uint64_t len;
        } sm;
        if (copy_in(t, &sm, a->arg[5], sizeof(sm)) < 0)
            return -EFAULT;
        int r = copy_in_temporary_sigmask(t, sm.ss, sm.len);
        if (r < 0)
            return r;
    }
    return select_common(t, (int)a->arg[0], a->arg[1], a->arg[2], a->arg[3],
                         a->arg[4] ? &ts : NULL);
}
SYSCALL_DEFINE(pselect6, sys_pselect6, "dppppp", SYS_PARTIAL, "the timeout is not updated");
