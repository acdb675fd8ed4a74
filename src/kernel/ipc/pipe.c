/*
 * Pipes: a ring buffer in the kernel with a reader and a writer queue.
 *
 * Semantics from pipe(7): writes of at most PIPE_BUF bytes are atomic;
 * larger blocking writes may be split; a read returns what is there (0 at
 * end of file once every writer is gone); a write with no reader left gets
 * SIGPIPE and EPIPE; O_NONBLOCK gives EAGAIN instead of waiting. Waiting is
 * on moat's wait queues, so signals interrupt it (ERESTARTSYS).
 *
 * Named pipes (FIFOs) share the same object: the first open of a FIFO inode
 * makes a pipe for it, the last close of that pipe's ends drops it (and what
 * was left in it), as Linux does. Opening a FIFO for reading waits for a
 * writer and vice versa; O_RDWR never waits; O_WRONLY|O_NONBLOCK with no
 * reader is ENXIO.
 *
 * Lock order: g_fifo_lock, then pipe->lock, then waitq locks.
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
    struct waitq rwq;   /* readers waiting for data (and FIFO opens for a writer) */
    struct waitq wwq;   /* writers waiting for room (and FIFO opens for a reader) */
    unsigned r_counter; /* (l) read ends ever opened (FIFO opens wait for a change) */
    unsigned w_counter; /* (l) write ends ever opened */
    /* FIFOs only */
    struct inode *fifo;          /* (g) g_fifo_lock: the FIFO inode (not counted: every
                                  * open end's file holds it), NULL for pipe(2) */
    int fifo_users;              /* (g) open ends */
    struct list_head fifo_link;  /* (g) in g_fifos */
};

static pthread_mutex_t g_fifo_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_fifos = LIST_HEAD_INIT(g_fifos); /* (g) */

static struct vfs_sb *g_pipe_sb;
static pthread_once_t g_pipe_once = PTHREAD_ONCE_INIT;
static const struct file_ops pipe_fops;

static void pipe_sb_init(void)
{
    g_pipe_sb = vfs_sb_new("pipefs", true);
}

static struct pipe *P(struct file *f)
{
    return f->priv;
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

/* Reads (PEEK: copies without consuming) up to N bytes; NB: don't wait. */
static ssize_t pipe_do_read(struct file *f, void *buf, size_t n, bool nb, bool peek)
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
        if (nb) {
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
    if (peek) {
        size_t at = p->head;
        while (done < n && done < p->len) {
            size_t chunk = MIN(n - done, MIN(p->len - done, p->size - at));
            memcpy((uint8_t *)buf + done, p->buf + at, chunk);
            at = (at + chunk) % p->size;
            done += chunk;
        }
        pthread_mutex_unlock(&p->lock);
        return (ssize_t)done;
    }
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

static ssize_t pipe_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    return pipe_do_read(f, buf, n, nonblocking(f), false);
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

static ssize_t pipe_do_write(struct file *f, const void *buf, size_t n, bool nb)
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
            if (nb) {
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

static ssize_t pipe_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    return pipe_do_write(f, buf, n, nonblocking(f));
}

bool pipe_file_is_pipe(struct file *f)
{
    return f->ops == &pipe_fops;
}

ssize_t pipe_splice_read(struct file *f, void *buf, size_t n, bool nonblock, bool peek)
{
    if (!(f->fmode & FMODE_READ))
        return -EBADF;
    return pipe_do_read(f, buf, n, nonblock || nonblocking(f), peek);
}

void pipe_consume(struct file *f, size_t n)
{
    struct pipe *p = P(f);
    pthread_mutex_lock(&p->lock);
    n = MIN(n, p->len);
    p->head = (p->head + n) % p->size;
    p->len -= n;
    if (p->len == 0)
        p->head = 0;
    pthread_mutex_unlock(&p->lock);
    waitq_wake_all(&p->wwq);
}

ssize_t pipe_splice_write(struct file *f, const void *buf, size_t n, bool nonblock)
{
    if (!(f->fmode & FMODE_WRITE))
        return -EBADF;
    return pipe_do_write(f, buf, n, nonblock || nonblocking(f));
}

size_t pipe_file_size(struct file *f)
{
    struct pipe *p = P(f);
    pthread_mutex_lock(&p->lock);
    size_t n = p->size;
    pthread_mutex_unlock(&p->lock);
    return n;
}

#define PIPE_PAGE 4096

long pipe_get_size(struct file *f)
{
    if (!pipe_file_is_pipe(f))
        return -EBADF;
    return (long)pipe_file_size(f);
}

long pipe_set_size(struct file *f, unsigned arg, bool privileged)
{
    if (!pipe_file_is_pipe(f))
        return -EBADF;
    if (arg > (1u << 31))
        return -EINVAL;
    size_t size = PIPE_PAGE;
    while (size < arg)
        size <<= 1;
    struct pipe *p = P(f);
    uint8_t *nbuf = malloc(size);
    if (!nbuf)
        return -ENOMEM;
    pthread_mutex_lock(&p->lock);
    long r = (long)size;
    if (size > p->size && size > PIPE_MAX_SIZE && !privileged) {
        r = -EPERM;
    } else if ((p->len + PIPE_PAGE - 1) / PIPE_PAGE > size / PIPE_PAGE) {
        /* Linux counts page buffers: what is queued must fit in the new
         * number of slots. */
        r = -EBUSY;
    } else {
        for (size_t i = 0; i < p->len; i++)
            nbuf[i] = p->buf[(p->head + i) % p->size];
        uint8_t *old = p->buf;
        p->buf = nbuf;
        p->size = size;
        p->head = 0;
        nbuf = old;
    }
    pthread_mutex_unlock(&p->lock);
    free(nbuf);
    if (r > 0) {
        /* More room may let blocked writers go on. */
        waitq_wake_all(&p->wwq);
    }
    return r;
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

static void pipe_end_open_locked(struct pipe *p, unsigned fmode)
{
    if (fmode & FMODE_READ) {
        p->readers++;
        p->r_counter++;
    }
    if (fmode & FMODE_WRITE) {
        p->writers++;
        p->w_counter++;
    }
}

static void pipe_end_open(struct pipe *p, unsigned fmode)
{
    pthread_mutex_lock(&p->lock);
    pipe_end_open_locked(p, fmode);
    pthread_mutex_unlock(&p->lock);
}

static int pipe_reopen(struct file *old, struct file *new_file)
{
    struct pipe *p = P(old);
    if (p->fifo) {
        pthread_mutex_lock(&g_fifo_lock);
        p->fifo_users++;
        pthread_mutex_unlock(&g_fifo_lock);
    }
    new_file->ops = &pipe_fops;
    new_file->priv = p;
    new_file->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    pipe_end_open(p, new_file->fmode);
    return 0;
}

/* Drops one open end of FIFO pipe P; the last one frees it. */
static void fifo_put(struct pipe *p)
{
    pthread_mutex_lock(&g_fifo_lock);
    bool last = --p->fifo_users == 0;
    if (last)
        list_del(&p->fifo_link);
    pthread_mutex_unlock(&g_fifo_lock);
    if (last)
        inode_put(&p->base);
}

static void pipe_end_close(struct pipe *p, unsigned fmode)
{
    pthread_mutex_lock(&p->lock);
    if (fmode & FMODE_READ)
        p->readers--;
    if (fmode & FMODE_WRITE)
        p->writers--;
    pthread_mutex_unlock(&p->lock);
    waitq_wake_all(&p->rwq);
    waitq_wake_all(&p->wwq);
    if (p->fifo)
        fifo_put(p);
}

static void pipe_release(struct file *f)
{
    pipe_end_close(P(f), f->fmode);
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

/* A new pipe object (count 1), or NULL (ENOMEM). */
static struct pipe *pipe_alloc(void)
{
    pthread_once(&g_pipe_once, pipe_sb_init);
    if (!g_pipe_sb)
        return NULL;
    struct pipe *p = calloc(1, sizeof(*p));
    uint8_t *buf = malloc(PIPE_DEF_SIZE);
    if (!p || !buf) {
        free(p);
        free(buf);
        return NULL;
    }
    inode_init(&p->base, g_pipe_sb, &pipe_iops, VFS_S_IFIFO | 0600);
    p->base.ino = vfs_sb_next_ino(g_pipe_sb);
    pthread_mutex_init(&p->lock, NULL);
    waitq_init(&p->rwq);
    waitq_init(&p->wwq);
    list_init(&p->fifo_link);
    p->buf = buf;
    p->size = PIPE_DEF_SIZE;
    return p;
}

int pipe_create(int flags, struct file **out_read, struct file **out_write)
{
    struct pipe *p = pipe_alloc();
    if (!p)
        return -ENOMEM;
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
    r->priv = w->priv = p;
    r->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    w->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    pipe_end_open(p, r->fmode);
    pipe_end_open(p, w->fmode);
    *out_read = r;
    *out_write = w;
    return 0;
}

/* Waits, P->lock held, until *COUNTER moves from SEEN (an end of the other
 * kind opened). 0 or -ERESTARTSYS. */
static int fifo_wait_open(struct pipe *p, struct waitq *wq, const unsigned *counter,
                          unsigned seen)
{
    struct task *t = task_current();
    while (*counter == seen) {
        uint32_t seq = task_wake_seq(t);
        int r = pipe_wait(p, wq, seq);
        if (r < 0)
            return r;
    }
    return 0;
}

int pipe_open_fifo(struct inode *inode, struct file *f)
{
    unsigned acc = f->flags & O_ACCMODE;
    if (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR)
        return -EINVAL;
    struct pipe *fresh = NULL;
    pthread_mutex_lock(&g_fifo_lock);
    struct pipe *p = NULL, *it;
    list_for_each_entry(it, &g_fifos, fifo_link)
    {
        if (it->fifo == inode) {
            p = it;
            break;
        }
    }
    if (!p) {
        pthread_mutex_unlock(&g_fifo_lock);
        fresh = pipe_alloc();
        if (!fresh)
            return -ENOMEM;
        fresh->fifo = inode;
        pthread_mutex_lock(&g_fifo_lock);
        /* Someone may have made one meanwhile. */
        list_for_each_entry(it, &g_fifos, fifo_link)
        {
            if (it->fifo == inode) {
                p = it;
                break;
            }
        }
        if (!p) {
            p = fresh;
            fresh = NULL;
            list_add_tail(&p->fifo_link, &g_fifos);
        }
    }
    p->fifo_users++;
    pthread_mutex_unlock(&g_fifo_lock);
    if (fresh)
        inode_put(&fresh->base);

    f->ops = &pipe_fops;
    f->priv = p;
    f->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    bool nonblock = (f->flags & O_NONBLOCK) != 0;
    int r = 0;
    pthread_mutex_lock(&p->lock);
    if (acc == O_WRONLY && nonblock && p->readers == 0) {
        pthread_mutex_unlock(&p->lock);
        fifo_put(p);
        return -ENXIO;
    }
    pipe_end_open_locked(p, f->fmode);
    unsigned rc = p->r_counter, wc = p->w_counter;
    pthread_mutex_unlock(&p->lock);
    if (f->fmode & FMODE_READ)
        waitq_wake_all(&p->wwq);
    if (f->fmode & FMODE_WRITE)
        waitq_wake_all(&p->rwq);
    if (nonblock || acc == O_RDWR)
        return 0;
    pthread_mutex_lock(&p->lock);
    if (acc == O_RDONLY && p->writers == 0)
        r = fifo_wait_open(p, &p->rwq, &p->w_counter, wc);
    else if (acc == O_WRONLY && p->readers == 0)
        r = fifo_wait_open(p, &p->wwq, &p->r_counter, rc);
    pthread_mutex_unlock(&p->lock);
    if (r < 0)
        pipe_end_close(p, f->fmode); /* the caller will not call release */
    return r;
}
