/*
 * signalfd: read(2) dequeues pending signals of the reading thread that are
 * in the mask (thread-directed first, then process-directed) as struct
 * signalfd_siginfo records; readable while one is pending.
 *
 * Wake-ups: signalfd users block the signals they read, so queueing one
 * does not kick any task; instead every queued signal wakes the process's
 * sighand->signalfd_wq. Readers and pollers wait there and on the
 * signalfd's own queue (mask changes).
 *
 * Lock order: signalfd->lock, then waitq locks; sighand->lock is taken by
 * signal_dequeue_set() with no signalfd lock held.
 */
#include "kernel/ipc/signalfd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/errno.h"
#include "kernel/host/host.h"
#include "kernel/ipc/anon.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"

struct linux_signalfd_siginfo {
    uint32_t ssi_signo;
    int32_t ssi_errno;
    int32_t ssi_code;
    uint32_t ssi_pid;
    uint32_t ssi_uid;
    int32_t ssi_fd;
    uint32_t ssi_tid;
    uint32_t ssi_band;
    uint32_t ssi_overrun;
    uint32_t ssi_trapno;
    int32_t ssi_status;
    int32_t ssi_int;
    uint64_t ssi_ptr;
    uint64_t ssi_utime;
    uint64_t ssi_stime;
    uint64_t ssi_addr;
    uint16_t ssi_addr_lsb;
    uint16_t pad2;
    int32_t ssi_syscall;
    uint64_t ssi_call_addr;
    uint32_t ssi_arch;
    uint8_t pad[28];
};
_Static_assert(sizeof(struct linux_signalfd_siginfo) == 128, "signalfd_siginfo layout");

#define SIGCHLD_NR 17
#define SIGSEGV_NR 11
#define SIGBUS_NR  7
#define SIGILL_NR  4
#define SIGFPE_NR  8
#define SIGTRAP_NR 5
#define SI_TIMER_CODE (-2)

struct signalfd {
    pthread_mutex_t lock;
    uint64_t mask;          /* (l) */
    struct waitq wq;        /* woken when the mask changes */
};

static const struct file_ops signalfd_fops;

static struct signalfd *S(struct file *f)
{
    return f->priv;
}

bool signalfd_is_signalfd(struct file *f)
{
    return f->ops == &signalfd_fops;
}

static uint64_t sanitize(uint64_t mask)
{
    return mask & ~SIG_UNBLOCKABLE;
}

void signalfd_set_mask(struct file *f, uint64_t mask)
{
    struct signalfd *s = S(f);
    pthread_mutex_lock(&s->lock);
    s->mask = sanitize(mask);
    pthread_mutex_unlock(&s->lock);
    waitq_wake_all(&s->wq);
}

static uint64_t pending_of(struct task *t)
{
    return __atomic_load_n(&t->pending.set, __ATOMIC_ACQUIRE) |
           __atomic_load_n(&t->tg->shared_pending.set, __ATOMIC_ACQUIRE);
}

static void fill(struct linux_signalfd_siginfo *o, const struct linux_siginfo *i)
{
    memset(o, 0, sizeof(*o));
    o->ssi_signo = (uint32_t)i->si_signo;
    o->ssi_errno = i->si_errno;
    o->ssi_code = i->si_code;
    switch (i->si_signo) {
    case SIGCHLD_NR:
        o->ssi_pid = (uint32_t)i->chld.pid;
        o->ssi_uid = i->chld.uid;
        o->ssi_status = i->chld.status;
        o->ssi_utime = (uint64_t)i->chld.utime;
        o->ssi_stime = (uint64_t)i->chld.stime;
        return;
    case SIGSEGV_NR:
    case SIGBUS_NR:
    case SIGILL_NR:
    case SIGFPE_NR:
    case SIGTRAP_NR:
        if (i->si_code > 0) {
            o->ssi_addr = i->fault.addr;
            return;
        }
        break;
    default:
        break;
    }
    if (i->si_code == SI_TIMER_CODE) {
        o->ssi_tid = (uint32_t)i->timer.tid;
        o->ssi_overrun = (uint32_t)i->timer.overrun;
        o->ssi_int = (int32_t)i->timer.value;
        o->ssi_ptr = i->timer.value;
        return;
    }
    o->ssi_pid = (uint32_t)i->kill.pid;
    o->ssi_uid = i->kill.uid;
    o->ssi_int = (int32_t)i->kill.value;
    o->ssi_ptr = i->kill.value;
}

static ssize_t signalfd_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct signalfd *s = S(f);
    struct task *t = task_current();
    (void)pos;
    if (n < sizeof(struct linux_signalfd_siginfo))
        return -EINVAL;
    size_t done = 0;
    struct waiter w, w2;
    bool waiting = false;
    for (;;) {
        uint32_t seq = task_wake_seq(t);
        pthread_mutex_lock(&s->lock);
        uint64_t mask = s->mask;
        pthread_mutex_unlock(&s->lock);
        while (n - done >= sizeof(struct linux_signalfd_siginfo)) {
            struct linux_siginfo info;
            if (!signal_dequeue_set(t, mask, &info))
                break;
            struct linux_signalfd_siginfo o;
            fill(&o, &info);
            memcpy((char *)buf + done, &o, sizeof(o));
            done += sizeof(o);
        }
        if (done || (vfs_file_flags(f) & O_NONBLOCK))
            break;
        if (!waiting) {
            waitq_add(&s->wq, &w, t);
            waitq_add(&t->tg->sighand->signalfd_wq, &w2, t);
            waiting = true;
            continue;
        }
        if (task_sleep(t, seq, 0) == -EINTR)
            break;
    }
    if (waiting) {
        waitq_del(&s->wq, &w);
        waitq_del(&t->tg->sighand->signalfd_wq, &w2);
    }
    if (done)
        return (ssize_t)done;
    return (vfs_file_flags(f) & O_NONBLOCK) ? -EAGAIN : -ERESTARTSYS;
}

static unsigned signalfd_poll(struct file *f, struct poll_table *pt)
{
    struct signalfd *s = S(f);
    struct task *t = task_current();
    poll_wait(pt, &s->wq);
    if (t)
        poll_wait(pt, &t->tg->sighand->signalfd_wq);
    pthread_mutex_lock(&s->lock);
    uint64_t mask = s->mask;
    pthread_mutex_unlock(&s->lock);
    bool ready = t && (pending_of(t) & mask);
    return ready ? LPOLLIN | LPOLLRDNORM : 0;
}

static void signalfd_release(struct file *f)
{
    struct signalfd *s = S(f);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct file_ops signalfd_fops = {
        .read = signalfd_read,
        .poll = signalfd_poll,
        .dname = anon_dname,
        .release = signalfd_release,
};

int signalfd_create_file(uint64_t mask, unsigned flags, struct file **out)
{
    struct signalfd *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->mask = sanitize(mask);
    waitq_init(&s->wq);
    int r = anon_file_new("signalfd", &signalfd_fops, s, O_RDWR | (flags & O_NONBLOCK), out);
    if (r < 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
    }
    return r;
}
