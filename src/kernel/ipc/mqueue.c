/*
 * POSIX message queues: mq_open, mq_unlink, mq_timedsend, mq_timedreceive,
 * mq_notify, mq_getsetattr, and the mqueue file system that lists the
 * sandbox's queues (one instance per sandbox, as one IPC namespace).
 *
 * A queue is an inode of the mqueue file system; an mq descriptor is an
 * open file on it, so poll/select/epoll see it through its readiness
 * (readable with a message queued, writable with room), and read(2) gives
 * Linux's "QSIZE:... NOTIFY:... SIGNO:... NOTIFY_PID:..." line.
 *
 * RLIMIT_MSGQUEUE is charged per real uid as Linux computes it (the
 * queue's message slots and its maximum message bytes).
 *
 * SIGEV_THREAD notification (glibc's) sends the registered 32-byte cookie
 * back on the caller's netlink socket, its last byte NOTIFY_WOKENUP when
 * the notification fires and NOTIFY_REMOVED when it is unregistered.
 *
 * Where moat differs from Linux: the notification is dropped when a description of the
 * queue is closed for the last time by its owner (Linux: any close).
 *
 * Lock order: g_mq_lock (the name table and every queue's state) ->
 * a queue's wait queue lock. g_tasks_lock is never taken under g_mq_lock.
 */
#include "kernel/ipc/mqueue.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "abi/linux/errno.h"
#include "abi/linux/ipc.h"
#include "kernel/host/host.h"
#include "kernel/host/host_fs.h"
#include "kernel/ipc/sysv.h"
#include "kernel/net/netlink.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/list.h"
#include "lib/util.h"

#define MQ_PRIO_MAX     32768
#define HARD_MSGMAX     65536
#define HARD_MSGSIZEMAX (16 * 1024 * 1024)
#define MQ_NAME_MAX     255
#define L_SI_MESGQ      (-3)
#define NOTIFY_WOKENUP  1 /* the cookie's last byte: the notification fired */
#define NOTIFY_REMOVED  2 /* ... or it was unregistered */

struct mq_msg {
    struct list_head link;
    unsigned prio;
    size_t size;
    char data[];
};

struct mq_inode {
    struct inode base;
    char *name;                   /* (q) g_mq_lock; NULL for the root */
    bool linked;                  /* (q) in g_mq_names */
    struct list_head name_link;   /* (q) */
    long maxmsg, msgsize;         /* (c) */
    long curmsgs;                 /* (q) */
    uint64_t qsize;               /* (q) bytes of queued messages */
    struct list_head msgs;        /* (q) by priority, highest first, FIFO within */
    struct waitq wq;              /* senders, receivers and pollers */
    int notify_pid;               /* (q) owner of the notification, 0: none */
    struct linux_sigevent notify; /* (q) */
    struct file *notify_sock;     /* (q) counted: SIGEV_THREAD's netlink socket */
    uint8_t notify_cookie[MQ_COOKIE_LEN]; /* (q) what glibc gets back on it */
    uint32_t owner_uid;           /* (c) real uid charged for the queue */
    uint64_t charged;             /* (c) bytes charged against RLIMIT_MSGQUEUE */
};

/* RLIMIT_MSGQUEUE use of one real uid. */
struct mq_user {
    struct list_head link;        /* (q) in g_mq_users */
    uint32_t uid;
    uint64_t bytes;               /* (q) */
};

static pthread_mutex_t g_mq_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_mq_names = LIST_HEAD_INIT(g_mq_names); /* (q) */
static int g_mq_count;                                            /* (q) */
static struct list_head g_mq_users = LIST_HEAD_INIT(g_mq_users); /* (q) */
static struct vfs_sb *g_mq_sb;
static struct mq_inode *g_mq_root;
static pthread_once_t g_mq_once = PTHREAD_ONCE_INIT;

static const struct inode_ops mq_dir_iops, mq_iops;
static const struct file_ops mq_fops;

static struct mq_inode *MQ(struct inode *i)
{
    return container_of(i, struct mq_inode, base);
}

static void mq_init(void)
{
    g_mq_sb = vfs_sb_new("mqueue", true);
    if (!g_mq_sb)
        return;
    struct mq_inode *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    inode_init(&r->base, g_mq_sb, &mq_dir_iops, VFS_S_IFDIR | 01777);
    r->base.ino = vfs_sb_next_ino(g_mq_sb);
    r->base.nlink = 2;
    list_init(&r->msgs);
    waitq_init(&r->wq);
    g_mq_root = r;
}

int mqueue_root(struct vfs_sb **out_sb, struct inode **out_root)
{
    pthread_once(&g_mq_once, mq_init);
    if (!g_mq_root)
        return -ENOMEM;
    inode_get(&g_mq_root->base);
    *out_sb = g_mq_sb;
    *out_root = &g_mq_root->base;
    return 0;
}

static struct mq_inode *find_locked(const char *name)
{
    struct mq_inode *q;
    list_for_each_entry(q, &g_mq_names, name_link)
        if (strcmp(q->name, name) == 0)
            return q;
    return NULL;
}

static struct mq_user *user_locked(uint32_t uid, bool create)
{
    struct mq_user *u;
    list_for_each_entry(u, &g_mq_users, link)
        if (u->uid == uid)
            return u;
    if (!create)
        return NULL;
    u = calloc(1, sizeof(*u));
    if (u) {
        u->uid = uid;
        list_add_tail(&u->link, &g_mq_users);
    }
    return u;
}

/* Linux's charge for a queue: each slot's struct msg_msg (48 bytes) and
 * priority tree node (48), plus the message bytes. */
static uint64_t queue_bytes(long maxmsg, long msgsize)
{
    return (uint64_t)maxmsg * 48 + (uint64_t)MIN(maxmsg, MQ_PRIO_MAX) * 48 +
           (uint64_t)maxmsg * (uint64_t)msgsize;
}

/* Past the sysctl limits: CAP_SYS_RESOURCE, as Linux's mqueue checks. */
static bool is_capable(const struct cred *c)
{
    return cred_capable(c, CAP_SYS_RESOURCE);
}

/* A new queue NAME (not yet in the table) with ATTR (NULL: defaults),
 * charged to CRED's real uid within LIMIT (RLIMIT_MSGQUEUE). g_mq_lock held. */
static int queue_new(const char *name, uint32_t mode, const struct linux_mq_attr *attr,
                     const struct cred *cred, uint64_t limit, struct mq_inode **out)
{
    long maxmsg, msgsize;
    if (attr) {
        if (attr->mq_maxmsg <= 0 || attr->mq_msgsize <= 0)
            return -EINVAL;
        if (is_capable(cred)) {
            if (attr->mq_maxmsg > HARD_MSGMAX || attr->mq_msgsize > HARD_MSGSIZEMAX)
                return -EINVAL;
        } else if (attr->mq_maxmsg > __atomic_load_n(&g_ipc_limits.mq_msg_max, __ATOMIC_RELAXED) ||
                   attr->mq_msgsize >
                           __atomic_load_n(&g_ipc_limits.mq_msgsize_max, __ATOMIC_RELAXED)) {
            return -EINVAL;
        }
        maxmsg = attr->mq_maxmsg;
        msgsize = attr->mq_msgsize;
    } else {
        maxmsg = MIN(__atomic_load_n(&g_ipc_limits.mq_msg_default, __ATOMIC_RELAXED),
                     __atomic_load_n(&g_ipc_limits.mq_msg_max, __ATOMIC_RELAXED));
        msgsize = MIN(__atomic_load_n(&g_ipc_limits.mq_msgsize_default, __ATOMIC_RELAXED),
                      __atomic_load_n(&g_ipc_limits.mq_msgsize_max, __ATOMIC_RELAXED));
    }
    if (g_mq_count >= __atomic_load_n(&g_ipc_limits.mq_queues_max, __ATOMIC_RELAXED) &&
        !is_capable(cred))
        return -ENOSPC;
    uint64_t bytes = queue_bytes(maxmsg, msgsize);
    struct mq_user *u = user_locked(cred->uid, true);
    if (!u)
        return -ENOMEM;
    if (u->bytes + bytes < u->bytes || u->bytes + bytes > limit)
        return -EMFILE;
    struct mq_inode *q = calloc(1, sizeof(*q));
    char *nm = strdup(name);
    if (!q || !nm) {
        free(q);
        free(nm);
        return -ENOMEM;
    }
    u->bytes += bytes;
    q->owner_uid = cred->uid;
    q->charged = bytes;
    inode_init(&q->base, g_mq_sb, &mq_iops, VFS_S_IFREG | (mode & 07777));
    q->base.ino = vfs_sb_next_ino(g_mq_sb);
    q->base.uid = cred->fsuid;
    q->base.gid = cred->fsgid;
    q->base.size = 80; /* Linux's FILENT_SIZE */
    q->name = nm;
    q->maxmsg = maxmsg;
    q->msgsize = msgsize;
    list_init(&q->msgs);
    waitq_init(&q->wq);
    *out = q;
    return 0;
}

/* Puts Q in the table (the table takes a reference). g_mq_lock held. */
static void link_locked(struct mq_inode *q)
{
    inode_get(&q->base);
    list_add_tail(&q->name_link, &g_mq_names);
    q->linked = true;
    g_mq_count++;
}

/* Takes Q out of the table; returns the table's reference to put. */
static struct inode *unlink_locked(struct mq_inode *q)
{
    list_del(&q->name_link);
    q->linked = false;
    g_mq_count--;
    pthread_mutex_lock(&q->base.lock);
    q->base.nlink = 0;
    pthread_mutex_unlock(&q->base.lock);
    return &q->base;
}

/* ---- the file system ---- */

static int mq_lookup(struct inode *dir, const char *name, struct inode **out)
{
    pthread_mutex_lock(&g_mq_lock);
    struct mq_inode *q = find_locked(name);
    if (q) {
        inode_get(&q->base);
        *out = &q->base;
    }
    pthread_mutex_unlock(&g_mq_lock);
    return q ? 0 : -ENOENT;
}

static int mq_create(struct inode *dir, const char *name, uint32_t mode, uint64_t rdev,
                     const struct cred *cred, struct inode **out)
{
    if ((mode & VFS_S_IFMT) != VFS_S_IFREG)
        return -EINVAL;
    struct mq_inode *q;
    pthread_mutex_lock(&g_mq_lock);
    struct task *t = task_current();
    uint64_t limit = t ? t->tg->rlim[RLIMIT_MSGQUEUE].rlim_cur : UINT64_MAX;
    int r = find_locked(name) ? -EEXIST : queue_new(name, mode, NULL, cred, limit, &q);
    if (r == 0) {
        q->base.nlink = 1;
        link_locked(q);
        *out = &q->base;
    }
    pthread_mutex_unlock(&g_mq_lock);
    return r;
}

static int mq_unlink_op(struct inode *dir, const char *name, struct inode *victim)
{
    struct inode *put = NULL;
    pthread_mutex_lock(&g_mq_lock);
    struct mq_inode *q = find_locked(name);
    int r = q && &q->base == victim ? 0 : -ENOENT;
    if (r == 0)
        put = unlink_locked(q);
    pthread_mutex_unlock(&g_mq_lock);
    inode_put(put);
    if (r == 0)
        inode_touch(dir, false);
    return r;
}

static int mq_readdir(struct inode *dir, struct dir_emit *ctx)
{
    /* Names are copied first: emit may fault on app memory. */
    pthread_mutex_lock(&g_mq_lock);
    int n = g_mq_count, i = 0;
    char **names = calloc((size_t)n + 1, sizeof(*names));
    uint64_t *inos = calloc((size_t)n + 1, sizeof(*inos));
    struct mq_inode *q;
    if (names && inos)
        list_for_each_entry(q, &g_mq_names, name_link)
        {
            names[i] = strdup(q->name);
            inos[i++] = q->base.ino;
        }
    pthread_mutex_unlock(&g_mq_lock);
    int r = names && inos ? 0 : -ENOMEM;
    for (int j = 0; j < i; j++) {
        if (r == 0 && names[j])
            r = ctx->emit(ctx, names[j], strlen(names[j]), inos[j], vfs_dtype(VFS_S_IFREG));
        free(names[j]);
    }
    free(names);
    free(inos);
    return r;
}

static int mq_open_op(struct inode *inode, struct file *f)
{
    f->ops = &mq_fops;
    f->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    return 0;
}

static void mq_evict(struct inode *inode)
{
    struct mq_inode *q = MQ(inode);
    if (q->notify_sock)
        file_put(q->notify_sock);
    if (q->charged) {
        pthread_mutex_lock(&g_mq_lock);
        struct mq_user *u = user_locked(q->owner_uid, false);
        if (u)
            u->bytes -= q->charged;
        pthread_mutex_unlock(&g_mq_lock);
    }
    struct mq_msg *m, *n;
    list_for_each_entry_safe(m, n, &q->msgs, link)
        free(m);
    free(q->name);
    free(q);
}

static const struct inode_ops mq_dir_iops = {
        .lookup = mq_lookup,
        .create = mq_create,
        .unlink = mq_unlink_op,
        .readdir = mq_readdir,
        .evict = mq_evict,
};

static const struct inode_ops mq_iops = {
        .open = mq_open_op,
        .evict = mq_evict,
};

/* ---- descriptors ---- */

bool mq_is_file(struct file *f)
{
    return f && f->ops == &mq_fops;
}

static ssize_t mq_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct mq_inode *q = MQ(f->inode);
    char line[128];
    pthread_mutex_lock(&g_mq_lock);
    int notify = q->notify_pid ? q->notify.sigev_notify : 0;
    int signo = q->notify_pid && q->notify.sigev_notify == LINUX_SIGEV_SIGNAL
                        ? q->notify.sigev_signo
                        : 0;
    int len = snprintf(line, sizeof(line), "QSIZE:%-10llu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n",
                       (unsigned long long)q->qsize, notify, signo, q->notify_pid);
    pthread_mutex_unlock(&g_mq_lock);
    if (*pos >= (uint64_t)len)
        return 0;
    size_t k = MIN(n, (size_t)len - *pos);
    memcpy(buf, line + *pos, k);
    *pos += k;
    return (ssize_t)k;
}

static unsigned mq_poll(struct file *f, struct poll_table *pt)
{
    struct mq_inode *q = MQ(f->inode);
    poll_wait(pt, &q->wq);
    unsigned mask = 0;
    pthread_mutex_lock(&g_mq_lock);
    if (q->curmsgs)
        mask |= LPOLLIN | LPOLLRDNORM;
    if (q->curmsgs < q->maxmsg)
        mask |= LPOLLOUT | LPOLLWRNORM;
    pthread_mutex_unlock(&g_mq_lock);
    return mask;
}

static int mq_dname(struct file *f, char *buf, size_t size)
{
    struct mq_inode *q = MQ(f->inode);
    pthread_mutex_lock(&g_mq_lock);
    int n = snprintf(buf, size, "/%s", q->name ? q->name : "");
    pthread_mutex_unlock(&g_mq_lock);
    return n < (int)size ? n : -ENAMETOOLONG;
}

/* A notification taken out of a queue under g_mq_lock, sent after it. */
struct mq_pending {
    int pid;                      /* SIGEV_SIGNAL: the process to signal, or 0 */
    struct linux_sigevent ev;
    struct file *sock;            /* SIGEV_THREAD: counted, or NULL */
    uint8_t cookie[MQ_COOKIE_LEN];
};

/* Unregisters Q's notification into *P, which then says what to send: the
 * signal when FIRED (a message arrived), the cookie marked WOKENUP or
 * REMOVED for SIGEV_THREAD. g_mq_lock held. */
static void notify_take_locked(struct mq_inode *q, bool fired, struct mq_pending *p)
{
    memset(p, 0, sizeof(*p));
    if (!q->notify_pid)
        return;
    if (fired && q->notify.sigev_notify == LINUX_SIGEV_SIGNAL) {
        p->pid = q->notify_pid;
        p->ev = q->notify;
    }
    if (q->notify_sock) {
        p->sock = q->notify_sock;
        memcpy(p->cookie, q->notify_cookie, MQ_COOKIE_LEN);
        p->cookie[MQ_COOKIE_LEN - 1] = fired ? NOTIFY_WOKENUP : NOTIFY_REMOVED;
        q->notify_sock = NULL;
    }
    q->notify_pid = 0;
}

/* Sends what notify_take_locked() took (no lock held), as sent by T. */
static void notify_send(struct task *t, struct mq_pending *p)
{
    if (p->pid) {
        struct linux_siginfo info;
        memset(&info, 0, sizeof(info));
        info.si_signo = p->ev.sigev_signo;
        info.si_code = L_SI_MESGQ;
        info.kill.pid = t ? t->tg->pid : 0;
        info.kill.uid = t ? t->cred.uid : 0;
        info.kill.value = p->ev.sigev_value;
        pthread_mutex_lock(&g_tasks_lock);
        struct thread_group *tg = task_lookup_tg_locked(p->pid);
        if (tg && p->ev.sigev_signo)
            signal_send_tg_locked(tg, p->ev.sigev_signo, &info, false);
        pthread_mutex_unlock(&g_tasks_lock);
    }
    if (p->sock) {
        netlink_deliver_kernel(p->sock, p->cookie, MQ_COOKIE_LEN);
        file_put(p->sock);
    }
}

static void mq_release(struct file *f)
{
    struct mq_inode *q = MQ(f->inode);
    struct task *t = task_current();
    struct mq_pending p = {0};
    pthread_mutex_lock(&g_mq_lock);
    if (t && q->notify_pid == t->tg->pid)
        notify_take_locked(q, false, &p);
    pthread_mutex_unlock(&g_mq_lock);
    notify_send(t, &p);
}

static int mq_reopen(struct file *old, struct file *new_file)
{
    return mq_open_op(old->inode, new_file);
}

static const struct file_ops mq_fops = {
        .read = mq_read,
        .poll = mq_poll,
        .dname = mq_dname,
        .reopen = mq_reopen,
        .release = mq_release,
};

/* ---- syscalls ---- */

/* Sets the queues up once, then checks NAME as Linux does: 0, or -ENOMEM,
 * -ENOENT (empty), -ENAMETOOLONG or -EACCES ('/', "." or ".."). */
static int mq_start(const char *name)
{
    pthread_once(&g_mq_once, mq_init);
    if (!g_mq_root)
        return -ENOMEM;
    size_t len = strlen(name);
    if (len == 0)
        return -ENOENT;
    if (len > MQ_NAME_MAX)
        return -ENAMETOOLONG;
    if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -EACCES;
    return 0;
}

int mq_open_name(struct task *t, const char *name, int oflag, uint32_t mode,
                 const struct linux_mq_attr *attr, struct file **out)
{
    int nr = mq_start(name);
    if (nr < 0)
        return nr;
    static const int acc_of[3] = {VFS_MAY_READ, VFS_MAY_WRITE, VFS_MAY_READ | VFS_MAY_WRITE};
    struct mq_inode *q;
    struct inode *inode = NULL;
    bool created = false;
    int r = 0;
    pthread_mutex_lock(&g_mq_lock);
    q = find_locked(name);
    if (!q) {
        if (!(oflag & O_CREAT)) {
            r = -ENOENT;
        } else {
            r = inode_permission(&g_mq_root->base, &t->cred, VFS_MAY_WRITE | VFS_MAY_EXEC);
            if (r == 0)
                r = queue_new(name, mode & ~vfs_umask(t), attr, &t->cred,
                              t->tg->rlim[RLIMIT_MSGQUEUE].rlim_cur, &q);
            if (r == 0) {
                q->base.nlink = 1;
                link_locked(q);
                inode = &q->base; /* queue_new's reference, now ours */
                created = true;
            }
        }
    } else if ((oflag & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
        r = -EEXIST;
    } else if ((oflag & O_ACCMODE) == O_ACCMODE) {
        r = -EINVAL;
    } else {
        inode_get(&q->base);
        inode = &q->base;
    }
    pthread_mutex_unlock(&g_mq_lock);
    /* The creator's open is not checked against the new queue's mode (as
     * Linux, which opens the object it just made without may_open). */
    if (r == 0 && !created)
        r = inode_permission(inode, &t->cred, acc_of[oflag & O_ACCMODE]);
    if (r == 0) {
        unsigned fl = (unsigned)oflag & (O_ACCMODE | O_NONBLOCK);
        struct file *f = file_alloc(inode, NULL, fl);
        if (!f) {
            r = -ENOMEM;
        } else {
            mq_open_op(inode, f);
            *out = f;
        }
    }
    inode_put(inode);
    return r;
}

static struct mq_inode *queue_of(struct file *f)
{
    return mq_is_file(f) ? MQ(f->inode) : NULL;
}

long mq_file_msgsize(struct file *f, bool write)
{
    struct mq_inode *q = queue_of(f);
    if (!q || !(f->fmode & (write ? FMODE_WRITE : FMODE_READ)))
        return -EBADF;
    return q->msgsize;
}

int mq_unlink_name(struct task *t, const char *name)
{
    int nr = mq_start(name);
    if (nr < 0)
        return nr;
    struct inode *put = NULL;
    pthread_mutex_lock(&g_mq_lock);
    struct mq_inode *q = find_locked(name);
    int r = q ? inode_permission(&g_mq_root->base, &t->cred, VFS_MAY_WRITE | VFS_MAY_EXEC)
              : -ENOENT;
    /* The root is sticky (01777): only the owner (or CAP_FOWNER) may unlink. */
    if (r == 0 && t->cred.fsuid != q->base.uid && !task_capable(t, CAP_FOWNER))
        r = -EPERM;
    if (r == 0)
        put = unlink_locked(q);
    pthread_mutex_unlock(&g_mq_lock);
    inode_put(put);
    return r;
}

/* CLOCK_MONOTONIC deadline for the CLOCK_REALTIME absolute time ABS, or 1
 * (already past). */
static uint64_t deadline_of(const struct linux_timespec *abs)
{
    int64_t rs = 0, rns = 0, ms = 0, mns = 0;
    host_clock_gettime(CLOCK_REALTIME, &rs, &rns);
    host_clock_gettime(CLOCK_MONOTONIC, &ms, &mns);
    int64_t now_real = rs * 1000000000LL + rns, now_mono = ms * 1000000000LL + mns;
    if (abs->tv_sec > INT64_MAX / 1000000000LL - 1)
        return 0; /* effectively never */
    int64_t want = abs->tv_sec * 1000000000LL + abs->tv_nsec;
    if (want <= now_real)
        return 1;
    return (uint64_t)(now_mono + (want - now_real));
}

/* Sleeps on Q's queue (g_mq_lock held, dropped meanwhile): 0 to retry,
 * -ETIMEDOUT or -ERESTARTSYS. */
static int wait_locked(struct task *t, struct mq_inode *q, uint64_t deadline)
{
    if (deadline == 1)
        return -ETIMEDOUT;
    struct waiter w;
    uint32_t seq = task_wake_seq(t);
    waitq_add(&q->wq, &w, t);
    pthread_mutex_unlock(&g_mq_lock);
    int r = task_sleep(t, seq, deadline);
    pthread_mutex_lock(&g_mq_lock);
    waitq_del(&q->wq, &w);
    if (r == -EINTR)
        return -ERESTARTSYS;
    return r == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

long mq_send_file(struct task *t, struct file *f, const void *msg, size_t len, unsigned prio,
                  const struct linux_timespec *abs)
{
    struct mq_inode *q = queue_of(f);
    if (!q || !(f->fmode & FMODE_WRITE))
        return -EBADF;
    if ((long)len > q->msgsize)
        return -EMSGSIZE;
    struct mq_msg *m = malloc(sizeof(*m) + len);
    if (!m)
        return -ENOMEM;
    m->prio = prio;
    m->size = len;
    memcpy(m->data, msg, len);
    uint64_t deadline = abs ? deadline_of(abs) : 0;
    struct mq_pending pend = {0};
    long r = 0;
    pthread_mutex_lock(&g_mq_lock);
    while (q->curmsgs >= q->maxmsg) {
        if (vfs_file_flags(f) & O_NONBLOCK) {
            r = -EAGAIN;
            break;
        }
        r = wait_locked(t, q, deadline);
        if (r < 0)
            break;
    }
    if (r == 0) {
        struct mq_msg *it;
        struct list_head *at = &q->msgs;
        list_for_each_entry(it, &q->msgs, link)
        {
            if (it->prio < prio) {
                at = &it->link;
                break;
            }
        }
        list_add_tail(&m->link, at); /* before the first of lower priority */
        m = NULL;
        q->curmsgs++;
        q->qsize += len;
        if (q->curmsgs == 1)
            notify_take_locked(q, true, &pend);
        waitq_wake_key(&q->wq, LPOLLIN | LPOLLRDNORM);
        struct linux_timespec now;
        host_fs_now(&now);
        pthread_mutex_lock(&q->base.lock);
        q->base.mtime = q->base.ctime = now;
        pthread_mutex_unlock(&q->base.lock);
    }
    pthread_mutex_unlock(&g_mq_lock);
    free(m);
    notify_send(t, &pend);
    return r;
}

long mq_receive_file(struct task *t, struct file *f, void **out_msg, size_t len,
                     unsigned *out_prio, const struct linux_timespec *abs)
{
    struct mq_inode *q = queue_of(f);
    if (!q || !(f->fmode & FMODE_READ))
        return -EBADF;
    if ((long)len < q->msgsize)
        return -EMSGSIZE;
    uint64_t deadline = abs ? deadline_of(abs) : 0;
    long r = 0;
    struct mq_msg *m = NULL;
    pthread_mutex_lock(&g_mq_lock);
    while (q->curmsgs == 0) {
        if (vfs_file_flags(f) & O_NONBLOCK) {
            r = -EAGAIN;
            break;
        }
        r = wait_locked(t, q, deadline);
        if (r < 0)
            break;
    }
    if (r == 0) {
        m = list_first_entry(&q->msgs, struct mq_msg, link);
        list_del(&m->link);
        q->curmsgs--;
        q->qsize -= m->size;
        waitq_wake_key(&q->wq, LPOLLOUT | LPOLLWRNORM);
        struct linux_timespec now;
        host_fs_now(&now);
        pthread_mutex_lock(&q->base.lock);
        q->base.atime = q->base.ctime = now;
        pthread_mutex_unlock(&q->base.lock);
    }
    pthread_mutex_unlock(&g_mq_lock);
    if (r < 0 || !m)
        return r;
    *out_prio = m->prio;
    r = (long)m->size;
    /* The caller copies out DATA and frees the message through *OUT_MSG. */
    memmove(m, m->data, m->size);
    *out_msg = m;
    return r;
}

int mq_notify_file(struct task *t, struct file *f, const struct linux_sigevent *ev,
                   struct file *sock, const uint8_t *cookie)
{
    struct mq_inode *q = queue_of(f);
    if (!q)
        return -EBADF;
    int r = 0;
    struct mq_pending p = {0};
    pthread_mutex_lock(&g_mq_lock);
    if (!ev) {
        if (q->notify_pid == t->tg->pid)
            notify_take_locked(q, false, &p);
    } else if (q->notify_pid) {
        r = -EBUSY;
    } else {
        q->notify_pid = t->tg->pid;
        q->notify = *ev;
        if (sock) {
            file_get(sock);
            q->notify_sock = sock;
            memcpy(q->notify_cookie, cookie, MQ_COOKIE_LEN);
        }
    }
    pthread_mutex_unlock(&g_mq_lock);
    notify_send(t, &p);
    return r;
}

int mq_getsetattr_file(struct file *f, const struct linux_mq_attr *set,
                       struct linux_mq_attr *out_old)
{
    struct mq_inode *q = queue_of(f);
    if (!q)
        return -EBADF;
    if (set && (set->mq_flags & ~(int64_t)O_NONBLOCK))
        return -EINVAL;
    unsigned fl = vfs_file_flags(f);
    memset(out_old, 0, sizeof(*out_old));
    pthread_mutex_lock(&g_mq_lock);
    out_old->mq_flags = fl & O_NONBLOCK;
    out_old->mq_maxmsg = q->maxmsg;
    out_old->mq_msgsize = q->msgsize;
    out_old->mq_curmsgs = q->curmsgs;
    pthread_mutex_unlock(&g_mq_lock);
    if (set)
        vfs_file_set_flags(f, (fl & ~(unsigned)O_NONBLOCK) | ((unsigned)set->mq_flags & O_NONBLOCK));
    return 0;
}
