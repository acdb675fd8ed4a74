/*
 * timerfd: a timer on the kernel's timer service whose expirations are
 * counted and read(2) as a uint64_t (blocking at zero). Absolute REALTIME
 * and BOOTTIME deadlines are converted to CLOCK_MONOTONIC when set: the
 * sandbox's wall clock cannot jump, because moat never sets the clock
 * (clock_settime and settimeofday are EPERM, as for a process without
 * CAP_SYS_TIME).
 *
 * TFD_TIMER_CANCEL_ON_SET (with TFD_TIMER_ABSTIME on CLOCK_REALTIME(_ALARM);
 * ignored otherwise, as in Linux): apps cannot set the clock, but the host's
 * realtime clock can be stepped (NTP, date -s). The first such timer makes
 * the kernel watch the host clock (host_io_watch_clock_set: a host timerfd
 * with CANCEL_ON_SET in the host epoll loop); each host clock set cancels
 * every timer armed with the flag: its next read fails with ECANCELED (it
 * is readable until then) and its count is dropped. As in Linux the timer
 * stays armed, and a later settime does not clear a cancellation that was
 * not read yet.
 * The same watch moves absolute deadlines on the realtime clocks: each
 * host clock set converts their realtime expiry to CLOCK_MONOTONIC again
 * (a step past it fires them at once).
 * Difference from Linux: relative timers on CLOCK_REALTIME keep their
 * CLOCK_MONOTONIC deadline (Linux's move with a clock set).
 *
 * Lock order: g_rt_lock, then timerfd->lock, then waitq locks. The
 * ktimer callback takes timerfd->lock with no service lock held; the clock
 * watch calls timerfd_clock_was_set() under its own queue's lock.
 */
#include "kernel/ipc/timerfd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/errno.h"
#include "kernel/host/host.h"
#include "kernel/host/host_io.h"
#include "kernel/ipc/anon.h"
#include "kernel/task/ktimer.h"
#include "kernel/task/task.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/list.h"

#define CLK_REALTIME       0
#define CLK_MONOTONIC      1
#define CLK_BOOTTIME       7
#define CLK_REALTIME_ALARM 8
#define CLK_BOOTTIME_ALARM 9

struct timerfd {
    pthread_mutex_t lock;
    int clockid;        /* (c) */
    struct ktimer kt;
    uint64_t ticks;     /* (l) expirations not yet read */
    uint64_t next;      /* (l) monotonic deadline of the next expiry, 0 = disarmed */
    uint64_t interval;  /* (l) */
    bool cancelled;     /* (l) the host clock was set since the last read */
    bool rt_abs;        /* (l) armed ABSTIME on a realtime clock: NEXT follows it */
    int64_t rt_off;     /* (l) if rt_abs: realtime - monotonic when NEXT was computed */
    bool might_cancel;  /* (l) armed with CANCEL_ON_SET */
    bool listed;        /* (g_rt_lock and l) last set ABSTIME on a realtime clock */
    struct list_head rt_link; /* (g_rt_lock) on g_rt if listed */
    struct waitq wq;
};

/* The timers last set with TFD_TIMER_ABSTIME on a realtime clock (those
 * with TFD_TIMER_CANCEL_ON_SET among them): a host clock set concerns them. */
static pthread_mutex_t g_rt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_rt = LIST_HEAD_INIT(g_rt); /* (g_rt_lock) */

static const struct file_ops timerfd_fops;

static struct timerfd *T(struct file *f)
{
    return f->priv;
}

bool timerfd_is_timerfd(struct file *f)
{
    return f->ops == &timerfd_fops;
}

static void timerfd_fire(struct ktimer *k, void *arg)
{
    struct timerfd *tf = arg;
    (void)k;
    uint64_t now = host_monotonic_ns();
    pthread_mutex_lock(&tf->lock);
    /* Early: a callback that was under way when a host clock set moved
     * the deadline later. */
    if (!tf->next || now < tf->next) {
        pthread_mutex_unlock(&tf->lock);
        return;
    }
    uint64_t n = 1;
    if (tf->interval) {
        if (now > tf->next)
            n += (now - tf->next) / tf->interval;
        tf->next += n * tf->interval;
    } else {
        tf->next = 0;
    }
    tf->ticks += n;
    pthread_mutex_unlock(&tf->lock);
    waitq_wake_key(&tf->wq, LPOLLIN | LPOLLRDNORM);
}

static uint64_t clock_now(int clockid)
{
    int host = clockid == CLK_REALTIME_ALARM ? CLK_REALTIME
               : clockid == CLK_BOOTTIME_ALARM ? CLK_BOOTTIME : clockid;
    int64_t s, ns;
    if (host_clock_gettime(host, &s, &ns) < 0)
        return host_monotonic_ns();
    return (uint64_t)s * 1000000000ULL + (uint64_t)ns;
}

static ssize_t timerfd_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct timerfd *tf = T(f);
    struct task *t = task_current();
    (void)pos;
    if (n < sizeof(uint64_t))
        return -EINVAL;
    pthread_mutex_lock(&tf->lock);
    while (tf->ticks == 0) {
        if (vfs_file_flags(f) & O_NONBLOCK) {
            pthread_mutex_unlock(&tf->lock);
            return -EAGAIN;
        }
        uint32_t seq = task_wake_seq(t);
        struct waiter w;
        waitq_add(&tf->wq, &w, t);
        pthread_mutex_unlock(&tf->lock);
        int r = task_sleep(t, seq, 0);
        waitq_del(&tf->wq, &w);
        if (r == -EINTR)
            return -ERESTARTSYS;
        pthread_mutex_lock(&tf->lock);
    }
    if (tf->might_cancel && tf->cancelled) {
        /* The clock was set: the count means nothing any more. */
        tf->cancelled = false;
        tf->ticks = 0;
        pthread_mutex_unlock(&tf->lock);
        return -ECANCELED;
    }
    uint64_t v = tf->ticks;
    tf->ticks = 0;
    pthread_mutex_unlock(&tf->lock);
    memcpy(buf, &v, sizeof(v));
    return sizeof(v);
}

static unsigned timerfd_poll(struct file *f, struct poll_table *pt)
{
    struct timerfd *tf = T(f);
    poll_wait(pt, &tf->wq);
    pthread_mutex_lock(&tf->lock);
    unsigned mask = tf->ticks ? LPOLLIN | LPOLLRDNORM : 0;
    pthread_mutex_unlock(&tf->lock);
    return mask;
}

void timerfd_clock_was_set(void)
{
    pthread_mutex_lock(&g_rt_lock);
    struct timerfd *tf;
    list_for_each_entry(tf, &g_rt, rt_link) {
        pthread_mutex_lock(&tf->lock);
        bool wake = tf->might_cancel;
        if (wake) {
            tf->cancelled = true;
            tf->ticks++;
        }
        if (tf->next && tf->rt_abs) {
            /* The realtime expiry, in CLOCK_MONOTONIC again; one that the
             * clock stepped past is due now. */
            int64_t real_exp = (int64_t)tf->next + tf->rt_off;
            int64_t mono = (int64_t)host_monotonic_ns();
            tf->rt_off = (int64_t)clock_now(tf->clockid) - mono;
            int64_t next = real_exp - tf->rt_off;
            if (next < mono)
                next = mono;
            if (next <= 0)
                next = 1;
            if ((uint64_t)next != tf->next) {
                tf->next = (uint64_t)next;
                ktimer_arm(&tf->kt, tf->next, tf->interval);
            }
        }
        pthread_mutex_unlock(&tf->lock);
        if (wake)
            waitq_wake_key(&tf->wq, LPOLLIN | LPOLLRDNORM);
    }
    pthread_mutex_unlock(&g_rt_lock);
}

static void timerfd_release(struct file *f)
{
    struct timerfd *tf = T(f);
    pthread_mutex_lock(&g_rt_lock);
    if (tf->listed)
        list_del(&tf->rt_link);
    pthread_mutex_unlock(&g_rt_lock);
    ktimer_cancel(&tf->kt);
    pthread_mutex_destroy(&tf->lock);
    free(tf);
}

static const struct file_ops timerfd_fops = {
        .read = timerfd_read,
        .poll = timerfd_poll,
        .dname = anon_dname,
        .release = timerfd_release,
};

int timerfd_create_file(int clockid, unsigned flags, struct file **out)
{
    if (clockid != CLK_REALTIME && clockid != CLK_MONOTONIC && clockid != CLK_BOOTTIME &&
        clockid != CLK_REALTIME_ALARM && clockid != CLK_BOOTTIME_ALARM)
        return -EINVAL;
    struct timerfd *tf = calloc(1, sizeof(*tf));
    if (!tf)
        return -ENOMEM;
    pthread_mutex_init(&tf->lock, NULL);
    tf->clockid = clockid;
    ktimer_init(&tf->kt, timerfd_fire, tf);
    waitq_init(&tf->wq);
    int r = anon_file_new("timerfd", &timerfd_fops, tf, O_RDWR | (flags & O_NONBLOCK), out);
    if (r < 0) {
        pthread_mutex_destroy(&tf->lock);
        free(tf);
    }
    return r;
}

/* Remaining time and interval. Caller holds tf->lock. */
static void get_locked(struct timerfd *tf, uint64_t *out_value, uint64_t *out_interval)
{
    uint64_t now = host_monotonic_ns();
    *out_interval = tf->interval;
    if (!tf->next)
        *out_value = 0;
    else
        *out_value = tf->next > now ? tf->next - now : 1;
}

void timerfd_gettime_file(struct file *f, uint64_t *out_value, uint64_t *out_interval)
{
    struct timerfd *tf = T(f);
    pthread_mutex_lock(&tf->lock);
    get_locked(tf, out_value, out_interval);
    pthread_mutex_unlock(&tf->lock);
}

int timerfd_settime_file(struct file *f, int flags, uint64_t value, uint64_t interval,
                         uint64_t *out_value, uint64_t *out_interval)
{
    struct timerfd *tf = T(f);
    if (flags & ~(TIMERFD_ABSTIME | TIMERFD_CANCEL_ON_SET))
        return -EINVAL;
    bool listed = (tf->clockid == CLK_REALTIME || tf->clockid == CLK_REALTIME_ALARM) &&
                  (flags & TIMERFD_ABSTIME);
    bool might_cancel = listed && (flags & TIMERFD_CANCEL_ON_SET);
    if (listed) {
        int r = host_io_watch_clock_set(timerfd_clock_was_set);
        /* Without the watch a plain absolute timer still works (it just
         * does not follow a host clock step); one that must be cancelled
         * cannot. */
        if (r < 0 && might_cancel)
            return r == -EMFILE || r == -ENFILE ? -ENOMEM : r;
    }
    /* Cancel first: the callback then cannot race with the new setting. */
    ktimer_cancel(&tf->kt);
    pthread_mutex_lock(&g_rt_lock);
    if (listed && !tf->listed)
        list_add_tail(&tf->rt_link, &g_rt);
    else if (!listed && tf->listed)
        list_del(&tf->rt_link);
    pthread_mutex_lock(&tf->lock);
    tf->listed = listed;
    tf->might_cancel = might_cancel;
    pthread_mutex_unlock(&g_rt_lock);
    get_locked(tf, out_value, out_interval);
    tf->ticks = 0;
    tf->interval = interval;
    tf->next = 0;
    tf->rt_abs = listed && value;
    if (value) {
        uint64_t mono = host_monotonic_ns();
        uint64_t deadline;
        if (flags & TIMERFD_ABSTIME) {
            uint64_t now = clock_now(tf->clockid);
            deadline = value > now ? mono + (value - now) : mono;
            tf->rt_off = (int64_t)now - (int64_t)mono;
        } else {
            deadline = mono + value;
        }
        if (deadline == 0)
            deadline = 1;
        tf->next = deadline;
        ktimer_arm(&tf->kt, deadline, interval);
    }
    pthread_mutex_unlock(&tf->lock);
    return 0;
}
