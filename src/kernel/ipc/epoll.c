/* epoll sets (see epoll.h for the design and lock order). */
#include "kernel/ipc/epoll.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "kernel/ipc/anon.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/list.h"
#include "lib/refcount.h"
#include "lib/util.h"

/* Nesting depth Linux allows for sets inside sets (EP_MAX_NESTS). */
#define EP_MAX_NESTS 4
/* Bits that are not readiness bits. */
#define EP_CTL_BITS  (EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET)
#define EP_WATCH_BUCKETS 256

enum ep_rdstate {
    EP_IDLE,     /* not queued */
    EP_READY,    /* on the ready list (or the list a scan took) */
    EP_SCANNING, /* being polled by a scan: a wake-up sets REWAKE */
    EP_RDSTATE_MAX,
};

struct epoll {
    struct refcount ref;     /* the file, and one per item */
    pthread_mutex_t mtx;
    pthread_mutex_t rdlock;
    struct list_head items;  /* (m) mtx: of epitem.link */
    struct list_head ready;  /* (r) rdlock: of epitem.rdlink */
    struct waitq wq;         /* epoll_wait sleepers and pollers of the set */
};

struct epitem;

struct ep_wait {
    struct waiter w;
    struct waitq *wq;
    struct epitem *it;
};

struct epitem {
    struct list_head link;   /* (m) in ep->items while LINKED */
    struct list_head rdlink; /* (r) on the ready list when EP_READY */
    struct list_head flink;  /* (g) g_ep_watch_lock: in the file's bucket while IN_FLIST */
    struct epoll *ep;        /* (c) counted */
    struct file *file;       /* (c) not counted: valid while LINKED (see ep_file_released) */
    int fd;                  /* (c) */
    uint32_t events;         /* (m)+(r): written under both, read under either */
    uint64_t data;           /* (m) */
    enum ep_rdstate rdstate; /* (r) */
    bool rewake;             /* (r) woken while EP_SCANNING */
    bool linked;             /* (m) */
    bool in_flist;           /* (g) */
    struct ep_wait *waits;   /* (m) registrations on the file's queues */
    int nwaits, capwaits;    /* (m) */
};

static const struct file_ops epoll_fops;

static pthread_mutex_t g_ep_loop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_ep_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_ep_watch[EP_WATCH_BUCKETS]; /* (g) of epitem.flink */
static int g_ep_nwatch;                                /* (g), read atomically */
static pthread_once_t g_ep_once = PTHREAD_ONCE_INIT;

static void ep_file_released(struct file *f);

/* Appends every entry of FROM to TO; FROM ends up empty. */
static void ep_list_move_all(struct list_head *from, struct list_head *to)
{
    if (list_empty(from))
        return;
    struct list_head *first = from->next, *last = from->prev;
    first->prev = to->prev;
    to->prev->next = first;
    last->next = to;
    to->prev = last;
    list_init(from);
}

static void ep_global_init(void)
{
    for (int i = 0; i < EP_WATCH_BUCKETS; i++)
        list_init(&g_ep_watch[i]);
    __atomic_store_n(&g_file_release_hook, ep_file_released, __ATOMIC_RELEASE);
}

static struct list_head *ep_bucket(struct file *f)
{
    uintptr_t h = (uintptr_t)f;
    h ^= h >> 9;
    h ^= h >> 17;
    return &g_ep_watch[h % EP_WATCH_BUCKETS];
}

static void ep_get(struct epoll *ep)
{
    refcount_inc(&ep->ref);
}

static void ep_put(struct epoll *ep)
{
    if (!ep || !refcount_dec(&ep->ref))
        return;
    pthread_mutex_destroy(&ep->mtx);
    pthread_mutex_destroy(&ep->rdlock);
    free(ep);
}

static struct epoll *EP(struct file *f)
{
    return f->priv;
}

bool epoll_is_epoll(struct file *f)
{
    return f->ops == &epoll_fops;
}

/* ---- wake-up callbacks ---- */

static void ep_callback(struct waiter *w, unsigned key)
{
    struct ep_wait *ew = container_of(w, struct ep_wait, w);
    struct epitem *it = ew->it;
    struct epoll *ep = it->ep;
    bool wake = false;
    pthread_mutex_lock(&ep->rdlock);
    uint32_t want = it->events & ~EP_CTL_BITS;
    if (want && (!key || (key & (want | LPOLLERR | LPOLLHUP)))) {
        if (it->rdstate == EP_IDLE) {
            list_add_tail(&it->rdlink, &ep->ready);
            it->rdstate = EP_READY;
            wake = true;
        } else if (it->rdstate == EP_SCANNING) {
            it->rewake = true;
        }
    }
    pthread_mutex_unlock(&ep->rdlock);
    if (wake)
        waitq_wake_key(&ep->wq, LPOLLIN | LPOLLRDNORM);
}

static void ep_queue_proc(struct poll_table *pt, struct waitq *wq)
{
    struct epitem *it = pt->priv;
    if (it->nwaits == it->capwaits) {
        /* Waiters are linked into queues: never move them. Files have at
         * most a few queues; grow a fresh array only before any is added. */
        if (it->nwaits) {
            pt->error = -ENOMEM;
            return;
        }
        it->waits = calloc(4, sizeof(*it->waits));
        if (!it->waits) {
            pt->error = -ENOMEM;
            return;
        }
        it->capwaits = 4;
    }
    struct ep_wait *ew = &it->waits[it->nwaits++];
    ew->wq = wq;
    ew->it = it;
    waitq_add_func(wq, &ew->w, ep_callback);
}

static void ep_unregister(struct epitem *it)
{
    for (int i = 0; i < it->nwaits; i++)
        waitq_del(it->waits[i].wq, &it->waits[i].w);
    it->nwaits = 0;
    struct epoll *ep = it->ep;
    pthread_mutex_lock(&ep->rdlock);
    if (it->rdstate == EP_READY)
        list_del(&it->rdlink);
    it->rdstate = EP_IDLE;
    pthread_mutex_unlock(&ep->rdlock);
}

static void ep_item_free(struct epitem *it)
{
    struct epoll *ep = it->ep;
    free(it->waits);
    free(it);
    ep_put(ep);
}

/* Removes IT from its set. Caller holds ep->mtx; IT is LINKED. */
static void ep_remove_locked(struct epitem *it)
{
    list_del(&it->link);
    it->linked = false;
    ep_unregister(it);
    pthread_mutex_lock(&g_ep_watch_lock);
    bool mine = it->in_flist;
    if (mine) {
        list_del(&it->flink);
        it->in_flist = false;
        g_ep_nwatch--;
    }
    pthread_mutex_unlock(&g_ep_watch_lock);
    /* Otherwise ep_file_released() took it off the file's list and frees it. */
    if (mine)
        ep_item_free(it);
}

/* The last put of F: drops F from every set. Runs before F's release op,
 * so a set scanning under its mtx can still poll F until we get there. */
static void ep_file_released(struct file *f)
{
    if (__atomic_load_n(&g_ep_nwatch, __ATOMIC_ACQUIRE) == 0)
        return;
    struct list_head mine;
    list_init(&mine);
    pthread_mutex_lock(&g_ep_watch_lock);
    struct list_head *b = ep_bucket(f);
    struct epitem *it, *tmp;
    list_for_each_entry_safe(it, tmp, b, flink) {
        if (it->file != f)
            continue;
        list_del(&it->flink);
        it->in_flist = false;
        g_ep_nwatch--;
        list_add_tail(&it->flink, &mine);
    }
    pthread_mutex_unlock(&g_ep_watch_lock);
    list_for_each_entry_safe(it, tmp, &mine, flink) {
        struct epoll *ep = it->ep;
        pthread_mutex_lock(&ep->mtx);
        if (it->linked) {
            list_del(&it->link);
            it->linked = false;
            ep_unregister(it);
        }
        pthread_mutex_unlock(&ep->mtx);
        list_del(&it->flink);
        ep_item_free(it);
    }
}

/* ---- the set ---- */

static struct epitem *ep_find_locked(struct epoll *ep, struct file *f, int fd)
{
    struct epitem *it;
    list_for_each_entry(it, &ep->items, link)
        if (it->file == f && it->fd == fd)
            return it;
    return NULL;
}

/* Current events of IT (no registration). Caller holds ep->mtx. */
static uint32_t ep_item_poll(struct epitem *it, uint32_t events)
{
    unsigned mask = vfs_poll(it->file, NULL);
    return mask & ((events & ~EP_CTL_BITS) | LPOLLERR | LPOLLHUP);
}

static void ep_mark_ready(struct epoll *ep, struct epitem *it)
{
    bool wake = false;
    pthread_mutex_lock(&ep->rdlock);
    if (it->rdstate == EP_IDLE) {
        list_add_tail(&it->rdlink, &ep->ready);
        it->rdstate = EP_READY;
        wake = true;
    }
    pthread_mutex_unlock(&ep->rdlock);
    if (wake)
        waitq_wake_key(&ep->wq, LPOLLIN | LPOLLRDNORM);
}

/* Whether adding TARGET (an epoll) to EP would close a loop or nest too
 * deep: -ELOOP, else 0. Caller holds g_ep_loop_lock (so sets-in-sets do not
 * change) and no mtx. */
static int ep_loop_check(struct epoll *ep, struct epoll *target, int depth)
{
    if (target == ep)
        return -ELOOP;
    if (depth >= EP_MAX_NESTS)
        return -ELOOP;
    int r = 0;
    pthread_mutex_lock(&target->mtx);
    struct epitem *it;
    list_for_each_entry(it, &target->items, link) {
        if (!epoll_is_epoll(it->file))
            continue;
        r = ep_loop_check(ep, EP(it->file), depth + 1);
        if (r < 0)
            break;
    }
    pthread_mutex_unlock(&target->mtx);
    return r;
}

static int ep_add_locked(struct epoll *ep, struct file *f, int fd,
                         const struct linux_epoll_event *ev)
{
    struct epitem *it = calloc(1, sizeof(*it));
    if (!it)
        return -ENOMEM;
    it->ep = ep;
    ep_get(ep);
    it->file = f;
    it->fd = fd;
    it->events = ev->events | LPOLLERR | LPOLLHUP;
    it->data = ev->data;
    it->rdstate = EP_IDLE;
    list_add_tail(&it->link, &ep->items);
    it->linked = true;
    pthread_mutex_lock(&g_ep_watch_lock);
    list_add_tail(&it->flink, ep_bucket(f));
    it->in_flist = true;
    g_ep_nwatch++;
    pthread_mutex_unlock(&g_ep_watch_lock);

    struct poll_table pt;
    poll_table_init(&pt, NULL);
    pt.qproc = ep_queue_proc;
    pt.priv = it;
    unsigned mask = vfs_poll(f, &pt);
    if (pt.error) {
        ep_remove_locked(it);
        return pt.error;
    }
    if (mask & ((it->events & ~EP_CTL_BITS) | LPOLLERR | LPOLLHUP))
        ep_mark_ready(ep, it);
    return 0;
}

int epoll_ctl_file(struct file *epf, int op, int fd, struct file *target,
                   const struct linux_epoll_event *ev)
{
    if (!epoll_is_epoll(epf) || epf == target)
        return -EINVAL;
    if (!target->ops || !target->ops->poll)
        return -EPERM;
    struct epoll *ep = EP(epf);
    if (op != EPOLL_CTL_DEL && (ev->events & EPOLLEXCLUSIVE)) {
        if (op == EPOLL_CTL_MOD)
            return -EINVAL;
        if ((ev->events & EPOLLONESHOT) || epoll_is_epoll(target))
            return -EINVAL;
    }
    bool nested = op == EPOLL_CTL_ADD && epoll_is_epoll(target);
    int r = 0;
    if (nested) {
        pthread_mutex_lock(&g_ep_loop_lock);
        r = ep_loop_check(ep, EP(target), 0);
        if (r < 0) {
            pthread_mutex_unlock(&g_ep_loop_lock);
            return r;
        }
    }
    pthread_mutex_lock(&ep->mtx);
    struct epitem *it = ep_find_locked(ep, target, fd);
    switch (op) {
    case EPOLL_CTL_ADD:
        r = it ? -EEXIST : ep_add_locked(ep, target, fd, ev);
        break;
    case EPOLL_CTL_DEL:
        if (!it)
            r = -ENOENT;
        else
            ep_remove_locked(it);
        break;
    case EPOLL_CTL_MOD:
        if (!it) {
            r = -ENOENT;
            break;
        }
        if (it->events & EPOLLEXCLUSIVE) {
            r = -EINVAL;
            break;
        }
        pthread_mutex_lock(&ep->rdlock);
        it->events = ev->events | LPOLLERR | LPOLLHUP;
        pthread_mutex_unlock(&ep->rdlock);
        it->data = ev->data;
        if (ep_item_poll(it, it->events))
            ep_mark_ready(ep, it);
        break;
    default:
        r = -EINVAL;
    }
    pthread_mutex_unlock(&ep->mtx);
    if (nested)
        pthread_mutex_unlock(&g_ep_loop_lock);
    return r;
}

/* Takes ready events into OUT (up to MAX). Caller holds ep->mtx. */
static int ep_scan_locked(struct epoll *ep, struct linux_epoll_event *out, int max)
{
    struct list_head tx;
    list_init(&tx);
    pthread_mutex_lock(&ep->rdlock);
    ep_list_move_all(&ep->ready, &tx);
    pthread_mutex_unlock(&ep->rdlock);
    int n = 0;
    while (n < max) {
        pthread_mutex_lock(&ep->rdlock);
        if (list_empty(&tx)) {
            pthread_mutex_unlock(&ep->rdlock);
            break;
        }
        struct epitem *it = list_first_entry(&tx, struct epitem, rdlink);
        list_del(&it->rdlink);
        it->rdstate = EP_SCANNING;
        it->rewake = false;
        uint32_t events = it->events;
        pthread_mutex_unlock(&ep->rdlock);

        uint32_t revents = (events & ~EP_CTL_BITS) ? ep_item_poll(it, events) : 0;
        bool requeue = false;
        pthread_mutex_lock(&ep->rdlock);
        if (revents) {
            out[n].events = revents;
            out[n].data = it->data;
            n++;
            if (it->events & EPOLLONESHOT)
                it->events &= EP_CTL_BITS;
            else if (!(it->events & EPOLLET))
                requeue = true;
        }
        if (it->rewake && (it->events & ~EP_CTL_BITS))
            requeue = true;
        if (requeue) {
            list_add_tail(&it->rdlink, &ep->ready);
            it->rdstate = EP_READY;
        } else {
            it->rdstate = EP_IDLE;
        }
        pthread_mutex_unlock(&ep->rdlock);
    }
    /* What we did not get to stays ready, ahead of newer arrivals. */
    pthread_mutex_lock(&ep->rdlock);
    ep_list_move_all(&ep->ready, &tx);
    ep_list_move_all(&tx, &ep->ready);
    pthread_mutex_unlock(&ep->rdlock);
    return n;
}

int epoll_nitems(struct file *epf)
{
    struct epoll *ep = EP(epf);
    int n = 0;
    struct list_head *pos;
    pthread_mutex_lock(&ep->mtx);
    for (pos = ep->items.next; pos != &ep->items && n < INT32_MAX; pos = pos->next)
        n++;
    pthread_mutex_unlock(&ep->mtx);
    return n;
}

int epoll_wait_file(struct task *t, struct file *epf, struct linux_epoll_event *out,
                    int maxevents, uint64_t deadline, bool nonblock)
{
    struct epoll *ep = EP(epf);
    struct waiter w;
    bool waiting = false;
    int n;
    for (;;) {
        uint32_t seq = task_wake_seq(t);
        pthread_mutex_lock(&ep->mtx);
        n = ep_scan_locked(ep, out, maxevents);
        pthread_mutex_unlock(&ep->mtx);
        if (n || nonblock)
            break;
        if (!waiting) {
            waitq_add(&ep->wq, &w, t);
            waiting = true;
            continue; /* re-scan: a wake-up may have come before we queued */
        }
        int r = task_sleep(t, seq, deadline);
        if (r == -EINTR) {
            n = -EINTR;
            break;
        }
        if (r == -ETIMEDOUT) {
            n = 0;
            break;
        }
    }
    if (waiting)
        waitq_del(&ep->wq, &w);
    return n;
}

/* A set is readable when one of its ready items is. */
static unsigned epoll_poll(struct file *f, struct poll_table *pt)
{
    struct epoll *ep = EP(f);
    poll_wait(pt, &ep->wq);
    unsigned mask = 0;
    pthread_mutex_lock(&ep->mtx);
    struct list_head tx;
    list_init(&tx);
    pthread_mutex_lock(&ep->rdlock);
    ep_list_move_all(&ep->ready, &tx);
    pthread_mutex_unlock(&ep->rdlock);
    /* Items stay EP_READY while on TX, so callbacks leave them alone. */
    struct epitem *it;
    list_for_each_entry(it, &tx, rdlink) {
        if (ep_item_poll(it, it->events)) {
            mask = LPOLLIN | LPOLLRDNORM;
            break;
        }
    }
    pthread_mutex_lock(&ep->rdlock);
    ep_list_move_all(&ep->ready, &tx);
    ep_list_move_all(&tx, &ep->ready);
    pthread_mutex_unlock(&ep->rdlock);
    pthread_mutex_unlock(&ep->mtx);
    return mask;
}

static void epoll_release(struct file *f)
{
    struct epoll *ep = EP(f);
    pthread_mutex_lock(&ep->mtx);
    struct epitem *it, *tmp;
    list_for_each_entry_safe(it, tmp, &ep->items, link)
        ep_remove_locked(it);
    pthread_mutex_unlock(&ep->mtx);
    ep_put(ep);
}

static const struct file_ops epoll_fops = {
        .poll = epoll_poll,
        .dname = anon_dname,
        .release = epoll_release,
};

int epoll_create_file(struct file **out)
{
    pthread_once(&g_ep_once, ep_global_init);
    struct epoll *ep = calloc(1, sizeof(*ep));
    if (!ep)
        return -ENOMEM;
    refcount_init(&ep->ref);
    pthread_mutex_init(&ep->mtx, NULL);
    pthread_mutex_init(&ep->rdlock, NULL);
    list_init(&ep->items);
    list_init(&ep->ready);
    waitq_init(&ep->wq);
    int r = anon_file_new("eventpoll", &epoll_fops, ep, O_RDWR, out);
    if (r < 0)
        ep_put(ep);
    return r;
}
