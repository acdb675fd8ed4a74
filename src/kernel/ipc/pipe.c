/*
 * Pipes: a ring buffer in the kernel with a reader and a writer queue.
 *
 * Semantics from pipe(7): writes of at most PIPE_BUF bytes are atomic;
 * larger blocking writes may be split; a read returns what is there (0 at
 * end of file once every writer is gone); a write with no reader left gets
 * SIGPIPE and EPIPE; O_NONBLOCK gives EAGAIN instead of waiting. Waiting is
 * on moat's wait queues, so signals interrupt it (ERESTARTSYS).
 *
 * Lock order: pipe->lock, then waitq locks.
 */
#include "kernel/ipc/pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/errno.h"
#include "kernel/signal/signal.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/util.h"

#define PIPE_BUF_ATOMIC 4096
#define PIPE_DEF_SIZE   65536

struct pipe {
    struct inode base;
    pthread_mutex_t lock;
    uint8_t *buf;       /* (l) ring of SIZE bytes */
    size_t size;        /* (l) */
    size_t head;        /* (l) index of the first byte */
    size_t len;         /* (l) bytes in the ring */
    int readers;        /* (l) open read ends */
    int writers;        /* (l) open write ends */
    struct waitq rwq;   /* readers waiting for data */
    struct waitq wwq;   /* writers waiting for room */
};

static struct vfs_sb *g_pipe_sb;
static pthread_once_t g_pipe_once = PTHREAD_ONCE_INIT;
static const struct file_ops pipe_fops;

static void pipe_sb_init(void)
{
    g_pipe_sb = vfs_sb_new("pipefs", true);
}

static struct pipe *P(struct file *f)
{
    return container_of(f->inode, struct pipe, base);
}

static void pipe_evict(struct inode *inode)
{
    struct pipe *p = container_of(inode, struct pipe, base);
    pthread_mutex_destroy(&p->lock);
    free(p->buf);
    free(p);
}

static const struct inode_ops pipe_iops = {
        .evict = pipe_evict,
};

static bool nonblocking(struct file *f)
{
    return (vfs_file_flags(f) & O_NONBLOCK) != 0;
}

/* Sleeps on WQ until woken or a signal; with P->lock held on entry and
 * exit. 0, or -ERESTARTSYS. */
static int pipe_wait(struct pipe *p, struct waitq *wq, uint32_t seq)
{
    struct task *t = task_current();
    struct waiter w;
    waitq_add(wq, &w, t);
    pthread_mutex_unlock(&p->lock);
    int r = task_sleep(t, seq, 0);
    waitq_del(wq, &w);
    pthread_mutex_lock(&p->lock);
    return r == -EINTR ? -ERESTARTSYS : 0;
}

static ssize_t pipe_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct pipe *p = P(f);
    struct task *t = task_current();
    if (n == 0)
        return 0;
    pthread_mutex_lock(&p->lock);
    while (p->len == 0) {
        if (p->writers == 0) {
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        if (nonblocking(f)) {
            pthread_mutex_unlock(&p->lock);
            return -EAGAIN;
        }
        uint32_t seq = task_wake_seq(t);
        int r = pipe_wait(p, &p->rwq, seq);
        if (r < 0) {
            pthread_mutex_unlock(&p->lock);
            return r;
        }
    }
    size_t done = 0;
    while (done < n && p->len) {
        size_t chunk = MIN(n - done, MIN(p->len, p->size - p->head));
        memcpy((uint8_t *)buf + done, p->buf + p->head, chunk);
        p->head = (p->head + chunk) % p->size;
        p->len -= chunk;
        done += chunk;
    }
    if (p->len == 0)
        p->head = 0;
    pthread_mutex_unlock(&p->lock);
    waitq_wake_all(&p->wwq);
    return (ssize_t)done;
}

static void raise_sigpipe(struct task *t)
{
    pthread_mutex_lock(&g_tasks_lock);
    struct linux_siginfo info;
    memset(&info, 0, sizeof(info));
    info.si_code = 0; /* SI_USER, as Linux sends it */
    info.kill.pid = t->tg->pid;
    info.kill.uid = t->cred.uid;
    signal_send_task_locked(t, SIGPIPE, &info);
    pthread_mutex_unlock(&g_tasks_lock);
}

static ssize_t pipe_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    struct pipe *p = P(f);
    struct task *t = task_current();
    size_t done = 0;
    if (n == 0)
        return 0;
    pthread_mutex_lock(&p->lock);
    while (done < n) {
        if (p->readers == 0) {
            pthread_mutex_unlock(&p->lock);
            if (done)
                return (ssize_t)done;
            raise_sigpipe(t);
            return -EPIPE;
        }
        size_t room = p->size - p->len;
        /* Up to PIPE_BUF bytes go in one piece or not at all. */
        bool atomic = n - done <= PIPE_BUF_ATOMIC && done == 0;
        if (room == 0 || (atomic && room < n)) {
            if (nonblocking(f)) {
                pthread_mutex_unlock(&p->lock);
                return done ? (ssize_t)done : -EAGAIN;
            }
            uint32_t seq = task_wake_seq(t);
            int r = pipe_wait(p, &p->wwq, seq);
            if (r < 0) {
                pthread_mutex_unlock(&p->lock);
                return done ? (ssize_t)done : r;
            }
            continue;
        }
        size_t want = MIN(n - done, room);
        while (want) {
            size_t tail = (p->head + p->len) % p->size;
            size_t chunk = MIN(want, p->size - tail);
            memcpy(p->buf + tail, (const uint8_t *)buf + done, chunk);
            p->len += chunk;
            done += chunk;
            want -= chunk;
        }
        waitq_wake_all(&p->rwq);
    }
    pthread_mutex_unlock(&p->lock);
    return (ssize_t)done;
}

static unsigned pipe_poll(struct file *f, struct poll_table *pt)
{
    struct pipe *p = P(f);
    unsigned fm = f->fmode;
    if (fm & FMODE_READ)
        poll_wait(pt, &p->rwq);
    if (fm & FMODE_WRITE)
        poll_wait(pt, &p->wwq);
    unsigned mask = 0;
    pthread_mutex_lock(&p->lock);
    if (fm & FMODE_READ) {
        if (p->len)
            mask |= LPOLLIN | LPOLLRDNORM;
        if (p->writers == 0)
            mask |= LPOLLHUP;
    }
    if (fm & FMODE_WRITE) {
        if (p->size - p->len >= PIPE_BUF_ATOMIC)
            mask |= LPOLLOUT | LPOLLWRNORM;
        if (p->readers == 0)
            mask |= LPOLLERR;
    }
    pthread_mutex_unlock(&p->lock);
    return mask;
}

#define FIONREAD_CMD 0x541B

static long pipe_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg)
{
    if (cmd != FIONREAD_CMD)
        return -ENOTTY;
    struct pipe *p = P(f);
    pthread_mutex_lock(&p->lock);
    int32_t n = (int32_t)p->len;
    pthread_mutex_unlock(&p->lock);
    return copy_out(t, arg, &n, sizeof(n));
}

static int pipe_dname(struct file *f, char *buf, size_t size)
{
    int n = snprintf(buf, size, "pipe:[%llu]", (unsigned long long)f->inode->ino);
    return n < (int)size ? n : -ENAMETOOLONG;
}

static void pipe_end_open(struct pipe *p, unsigned fmode)
{
    pthread_mutex_lock(&p->lock);
    if (fmode & FMODE_READ)
        p->readers++;
    if (fmode & FMODE_WRITE)
        p->writers++;
    pthread_mutex_unlock(&p->lock);
}

static int pipe_reopen(struct file *old, struct file *new_file)
{
    new_file->ops = &pipe_fops;
    new_file->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    pipe_end_open(P(old), new_file->fmode);
    return 0;
}

static void pipe_release(struct file *f)
{
    struct pipe *p = P(f);
    pthread_mutex_lock(&p->lock);
    if (f->fmode & FMODE_READ)
        p->readers--;
    if (f->fmode & FMODE_WRITE)
        p->writers--;
    pthread_mutex_unlock(&p->lock);
    waitq_wake_all(&p->rwq);
    waitq_wake_all(&p->wwq);
}

static const struct file_ops pipe_fops = {
        .read = pipe_read,
        .write = pipe_write,
        .poll = pipe_poll,
        .ioctl = pipe_ioctl,
        .dname = pipe_dname,
        .reopen = pipe_reopen,
        .release = pipe_release,
};

int pipe_create(int flags, struct file **out_read, struct file **out_write)
{
    pthread_once(&g_pipe_once, pipe_sb_init);
    if (!g_pipe_sb)
        return -ENOMEM;
    struct pipe *p = calloc(1, sizeof(*p));
    uint8_t *buf = malloc(PIPE_DEF_SIZE);
    if (!p || !buf) {
        free(p);
        free(buf);
        return -ENOMEM;
    }
    inode_init(&p->base, g_pipe_sb, &pipe_iops, VFS_S_IFIFO | 0600);
    p->base.ino = vfs_sb_next_ino(g_pipe_sb);
    pthread_mutex_init(&p->lock, NULL);
    waitq_init(&p->rwq);
    waitq_init(&p->wwq);
    p->buf = buf;
    p->size = PIPE_DEF_SIZE;
    unsigned keep = (unsigned)flags & (O_NONBLOCK | O_DIRECT);
    struct file *r = file_alloc(&p->base, NULL, O_RDONLY | keep);
    struct file *w = r ? file_alloc(&p->base, NULL, O_WRONLY | keep) : NULL;
    inode_put(&p->base); /* the files hold the inode */
    if (!r || !w) {
        if (r)
            file_put(r);
        return -ENOMEM;
    }
    r->ops = w->ops = &pipe_fops;
    r->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    w->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    pipe_end_open(p, r->fmode);
    pipe_end_open(p, w->fmode);
    *out_read = r;
    *out_write = w;
    return 0;
}
