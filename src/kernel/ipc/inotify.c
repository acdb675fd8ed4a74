/*
 * inotify instances (inotify(7)): a group of fsnotify marks ("watches",
 * numbered per instance from 1, cyclically as Linux's idr) and a queue of
 * events read as struct inotify_event records.
 *
 *   - Consecutive identical events (wd, mask, cookie, name) are merged.
 *   - Past max_queued_events (read when the instance is made) one
 *     IN_Q_OVERFLOW event (wd -1) is queued and further events dropped
 *     until the reader catches up.
 *   - A watch that goes away (inotify_rm_watch, IN_ONESHOT after its
 *     event, its file deleted) queues IN_IGNORED.
 *   - Instances and watches count per effective uid against
 *     max_user_instances (-EMFILE) and max_user_watches (-ENOSPC).
 *   - read(2) returns whole events only (-EINVAL if the first does not
 *     fit), blocks while the queue is empty unless O_NONBLOCK; poll/epoll
 *     report POLLIN while events are queued; FIONREAD gives the bytes
 *     queued; /proc/PID/fdinfo lists the watches.
 * Differences from Linux: IN_UNMOUNT is never sent (umount here always
 * detaches lazily and the file system stays alive); fdinfo lines carry no
 * file handle (name_to_handle_at is refused in moat); changes the host
 * makes to files of a bind mount are not reported (only the sandbox's own
 * operations go through moat's VFS).
 *
 * Lock order: g_fsnotify_lock (watches, per-user counts) -> inotify->lock
 * (queue) -> waitq locks.
 */
#include "kernel/ipc/inotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/errno.h"
#include "kernel/ipc/anon.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/notify.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/util.h"

#define EVENT_HDR  16 /* sizeof(struct inotify_event) */
#define L_FIONREAD 0x541B

struct inotify_user {
    struct list_head link; /* (n) g_users */
    uint32_t uid;          /* (c) */
    int instances;         /* (n) */
    int watches;           /* (n) */
};

static struct list_head g_users = LIST_HEAD_INIT(g_users); /* (n) g_fsnotify_lock */

struct inotify;

struct inotify_watch {
    struct fsnotify_mark mark; /* (n) */
    struct list_head glink;    /* (n) inotify->watches */
    struct inotify *in;        /* (c) */
    int wd;                    /* (c) */
    uint64_t st_ino, st_dev;   /* (c) for fdinfo */
};

struct inotify_qevent {
    struct list_head link;
    int32_t wd;
    uint32_t mask, cookie;
    uint32_t len; /* name bytes with padding (0: no name) */
    char name[];
};

struct inotify {
    pthread_mutex_t lock;
    struct list_head events;   /* (l) of struct inotify_qevent */
    int nevents;               /* (l) the overflow event included */
    size_t bytes;              /* (l) what read would return in all */
    bool overflow_queued;      /* (l) */
    int max_events;            /* (c) */
    struct waitq wq;           /* readers and pollers */
    struct list_head watches;  /* (n) g_fsnotify_lock */
    int last_wd;               /* (n) */
    struct inotify_user *user; /* (c) */
};

static const struct fsnotify_group_ops g_inotify_group_ops;

static struct inotify_user *user_get_locked(uint32_t uid)
{
    struct inotify_user *u;
    list_for_each_entry (u, &g_users, link) {
        if (u->uid == uid)
            return u;
    }
    u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->uid = uid;
    list_add_tail(&u->link, &g_users);
    return u;
}

static bool same_event(const struct inotify_qevent *e, int32_t wd, uint32_t mask, uint32_t cookie,
                       const char *name)
{
    if (e->wd != wd || e->mask != mask || e->cookie != cookie)
        return false;
    if (!name)
        return e->len == 0;
    return e->len != 0 && strcmp(e->name, name) == 0;
}

/* Queues one event (NAME may be NULL) and wakes readers. */
static void queue_event(struct inotify *in, int32_t wd, uint32_t mask, uint32_t cookie,
                        const char *name)
{
    size_t nlen = name ? strlen(name) : 0;
    /* The name with its NUL, padded to the header's size (Linux). */
    uint32_t len = nlen ? (uint32_t)ALIGN_UP(nlen + 1, EVENT_HDR) : 0;
    pthread_mutex_lock(&in->lock);
    if (in->nevents >= in->max_events) {
        if (in->overflow_queued) {
            pthread_mutex_unlock(&in->lock);
            return;
        }
        wd = -1;
        mask = FSN_Q_OVERFLOW;
        cookie = 0;
        name = NULL;
        len = 0;
        nlen = 0;
        in->overflow_queued = true;
    } else if (!list_empty(&in->events)) {
        struct inotify_qevent *last = list_entry(in->events.prev, struct inotify_qevent, link);
        if (same_event(last, wd, mask, cookie, name)) {
            pthread_mutex_unlock(&in->lock);
            return;
        }
    }
    struct inotify_qevent *e = calloc(1, sizeof(*e) + len);
    if (!e) {
        pthread_mutex_unlock(&in->lock);
        return; /* FIXME: Linux queues the overflow event on ENOMEM too */
    }
    e->wd = wd;
    e->mask = mask;
    e->cookie = cookie;
    e->len = len;
    if (nlen)
        memcpy(e->name, name, nlen);
    list_add_tail(&e->link, &in->events);
    in->nevents++;
    in->bytes += EVENT_HDR + len;
    pthread_mutex_unlock(&in->lock);
    waitq_wake_key(&in->wq, LPOLLIN | LPOLLRDNORM);
}

/* Removes W; REPORT queues IN_IGNORED. g_fsnotify_lock held. */
static void watch_remove_locked(struct inotify_watch *w, bool report)
{
    fsnotify_mark_del_locked(&w->mark);
    list_del(&w->glink);
    w->in->user->watches--;
    if (report)
        queue_event(w->in, w->wd, FSN_IGNORED, 0, NULL);
    free(w);
}

static void inotify_mark_event(struct fsnotify_mark *m, uint32_t mask, uint32_t cookie,
                               const char *name)
{
    struct inotify_watch *w = container_of(m, struct inotify_watch, mark);
    queue_event(w->in, w->wd, mask, cookie, name);
    if (m->mask & FSN_ONESHOT)
        watch_remove_locked(w, true);
}

static void inotify_mark_gone(struct fsnotify_mark *m)
{
    watch_remove_locked(container_of(m, struct inotify_watch, mark), true);
}

static const struct fsnotify_group_ops g_inotify_group_ops = {
        .event = inotify_mark_event,
        .gone = inotify_mark_gone,
};

/* ---- the file ---- */

static struct inotify *IN(struct file *f)
{
    return f->priv;
}

static ssize_t inotify_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct inotify *in = IN(f);
    (void)pos;
    struct task *t = task_current();
    pthread_mutex_lock(&in->lock);
    while (list_empty(&in->events)) {
        if (vfs_file_flags(f) & O_NONBLOCK) {
            pthread_mutex_unlock(&in->lock);
            return -EAGAIN;
        }
        uint32_t seq = task_wake_seq(t);
        struct waiter w;
        waitq_add(&in->wq, &w, t);
        pthread_mutex_unlock(&in->lock);
        int r = task_sleep(t, seq, 0);
        waitq_del(&in->wq, &w);
        if (r == -EINTR)
            return -ERESTARTSYS;
        pthread_mutex_lock(&in->lock);
    }
    size_t done = 0;
    while (!list_empty(&in->events)) {
        struct inotify_qevent *e = list_first_entry(&in->events, struct inotify_qevent, link);
        size_t sz = EVENT_HDR + e->len;
        if (done + sz > n)
            break;
        uint8_t *p = (uint8_t *)buf + done;
        memcpy(p, &e->wd, 4);
        memcpy(p + 4, &e->mask, 4);
        memcpy(p + 8, &e->cookie, 4);
        memcpy(p + 12, &e->len, 4);
        memcpy(p + EVENT_HDR, e->name, e->len);
        done += sz;
        list_del(&e->link);
        in->nevents--;
        in->bytes -= sz;
        if (e->mask == FSN_Q_OVERFLOW && e->wd == -1)
            in->overflow_queued = false;
        free(e);
    }
    pthread_mutex_unlock(&in->lock);
    return done ? (ssize_t)done : -EINVAL;
}

static unsigned inotify_poll(struct file *f, struct poll_table *pt)
{
    struct inotify *in = IN(f);
    poll_wait(pt, &in->wq);
    pthread_mutex_lock(&in->lock);
    bool ready = !list_empty(&in->events);
    pthread_mutex_unlock(&in->lock);
    return ready ? (LPOLLIN | LPOLLRDNORM) : 0;
}

static long inotify_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg)
{
    struct inotify *in = IN(f);
    if (cmd != L_FIONREAD)
        return -ENOTTY;
    pthread_mutex_lock(&in->lock);
    int32_t v = (int32_t)MIN(in->bytes, (size_t)INT32_MAX);
    pthread_mutex_unlock(&in->lock);
    return mm_copy_out(t->mm, arg, &v, sizeof(v));
}

static size_t inotify_show_fdinfo(struct file *f, char *buf, size_t size)
{
    struct inotify *in = IN(f);
    size_t need = 0;
    pthread_mutex_lock(&g_fsnotify_lock);
    struct inotify_watch *w;
    list_for_each_entry (w, &in->watches, glink) {
        /* sdev is the kernel's dev_t (major << 20 | minor). */
        unsigned sdev = (VFS_MAJOR(w->st_dev) << 20) | VFS_MINOR(w->st_dev);
        uint32_t mask = w->mark.mask & (FSN_ALL_EVENTS | FSN_ONESHOT | FSN_EXCL_UNLINK);
        int k = snprintf(need < size ? buf + need : NULL, need < size ? size - need : 0,
                         "inotify wd:%x ino:%llx sdev:%x mask:%x ignored_mask:0\n", w->wd,
                         (unsigned long long)w->st_ino, sdev, mask);
        if (k > 0)
            need += (size_t)k;
    }
    pthread_mutex_unlock(&g_fsnotify_lock);
    return need;
}

static void inotify_release(struct file *f)
{
    struct inotify *in = IN(f);
    pthread_mutex_lock(&g_fsnotify_lock);
    struct inotify_watch *w, *n;
    list_for_each_entry_safe (w, n, &in->watches, glink)
        watch_remove_locked(w, false);
    in->user->instances--;
    pthread_mutex_unlock(&g_fsnotify_lock);
    struct inotify_qevent *e, *en;
    list_for_each_entry_safe (e, en, &in->events, link)
        free(e);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

static int inotify_dname(struct file *f, char *buf, size_t size)
{
    int n = snprintf(buf, size, "anon_inode:inotify");
    return n < (int)size ? n : -ENAMETOOLONG;
}

static const struct file_ops g_inotify_fops = {
        .read = inotify_read,
        .poll = inotify_poll,
        .ioctl = inotify_ioctl,
        .dname = inotify_dname,
        .show_fdinfo = inotify_show_fdinfo,
        .release = inotify_release,
};

bool inotify_is_file(struct file *f)
{
    return f->ops == &g_inotify_fops;
}

int inotify_create(uint32_t euid, unsigned flags, struct file **out)
{
    struct inotify_limits lim;
    inotify_get_limits(&lim);
    struct inotify *in = calloc(1, sizeof(*in));
    if (!in)
        return -ENOMEM;
    pthread_mutex_init(&in->lock, NULL);
    list_init(&in->events);
    list_init(&in->watches);
    waitq_init(&in->wq);
    in->max_events = lim.max_queued_events;
    pthread_mutex_lock(&g_fsnotify_lock);
    struct inotify_user *u = user_get_locked(euid);
    int r = 0;
    if (!u)
        r = -ENOMEM;
    else if (u->instances >= lim.max_user_instances)
        r = -EMFILE;
    else
        u->instances++;
    in->user = u;
    pthread_mutex_unlock(&g_fsnotify_lock);
    if (r == 0)
        r = anon_file_new("inotify", &g_inotify_fops, in, O_RDONLY | (flags & O_NONBLOCK), out);
    if (r < 0) {
        if (u && r != -EMFILE) {
            pthread_mutex_lock(&g_fsnotify_lock);
            u->instances--;
            pthread_mutex_unlock(&g_fsnotify_lock);
        }
        pthread_mutex_destroy(&in->lock);
        free(in);
    }
    return r;
}

static struct inotify_watch *find_watch_locked(struct inotify *in, struct vfs_sb *sb, uint64_t ino)
{
    struct inotify_watch *w;
    list_for_each_entry (w, &in->watches, glink) {
        if (w->mark.sb == sb && w->mark.ino == ino)
            return w;
    }
    return NULL;
}

static bool wd_used_locked(struct inotify *in, int wd)
{
    struct inotify_watch *w;
    list_for_each_entry (w, &in->watches, glink) {
        if (w->wd == wd)
            return true;
    }
    return false;
}

int inotify_add(struct file *f, struct inode *inode, uint32_t mask)
{
    struct inotify *in = IN(f);
    uint32_t keep = FSN_ALL_EVENTS | FSN_ONESHOT | FSN_EXCL_UNLINK;
    struct linux_stat st;
    int r = vfs_getattr(inode, &st);
    if (r < 0)
        return r;
    struct inotify_limits lim;
    inotify_get_limits(&lim);
    pthread_mutex_lock(&g_fsnotify_lock);
    struct inotify_watch *w = find_watch_locked(in, inode->sb, inode->ino);
    if (w) {
        if (mask & FSN_MASK_CREATE)
            r = -EEXIST;
        else if (mask & FSN_MASK_ADD)
            w->mark.mask |= mask & keep;
        else
            w->mark.mask = mask & keep;
        r = r < 0 ? r : w->wd;
        goto out_unlock;
    }
    if (in->user->watches >= lim.max_user_watches) {
        r = -ENOSPC;
        goto out_unlock;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        r = -ENOMEM;
        goto out_unlock;
    }
    int wd = in->last_wd;
    do
        wd = wd == INT32_MAX ? 1 : wd + 1;
    while (wd_used_locked(in, wd));
    in->last_wd = wd;
    w->in = in;
    w->wd = wd;
    w->st_ino = st.st_ino;
    w->st_dev = st.st_dev;
    w->mark.mask = mask & keep;
    w->mark.ops = &g_inotify_group_ops;
    list_add_tail(&w->glink, &in->watches);
    in->user->watches++;
    fsnotify_mark_add_locked(&w->mark, inode);
    r = wd;
out_unlock:
    pthread_mutex_unlock(&g_fsnotify_lock);
    return r;
}

int inotify_rm(struct file *f, int wd)
{
    struct inotify *in = IN(f);
    int r = -EINVAL;
    pthread_mutex_lock(&g_fsnotify_lock);
    struct inotify_watch *w;
    list_for_each_entry (w, &in->watches, glink) {
        if (w->wd == wd) {
            watch_remove_locked(w, true);
            r = 0;
            break;
        }
    }
    pthread_mutex_unlock(&g_fsnotify_lock);
    return r;
}
