/*
 * eventfd: a 64-bit counter. read(2) takes the counter (or 1 with
 * EFD_SEMAPHORE) and blocks at zero; write(2) adds and blocks while the sum
 * would pass 0xfffffffffffffffe. Both need 8-byte buffers (eventfd(2)).
 *
 * Lock order: eventfd->lock, then waitq locks.
 */
#include "kernel/ipc/eventfd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/errno.h"
#include "kernel/ipc/anon.h"
#include "kernel/task/task.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"

#define EVENTFD_MAX 0xfffffffffffffffeULL

struct eventfd {
    pthread_mutex_t lock;
    uint64_t count;  /* (l) */
    bool semaphore;  /* (c) */
    struct waitq wq; /* readers, writers and pollers */
};

static struct eventfd *E(struct file *f)
{
    return f->priv;
}

/* Sleeps on the queue with E->lock held on entry and exit: 0 or
 * -ERESTARTSYS. */
static int eventfd_wait(struct eventfd *e, uint32_t seq)
{
    struct task *t = task_current();
    struct waiter w;
    waitq_add(&e->wq, &w, t);
    pthread_mutex_unlock(&e->lock);
    int r = task_sleep(t, seq, 0);
    waitq_del(&e->wq, &w);
    pthread_mutex_lock(&e->lock);
    return r == -EINTR ? -ERESTARTSYS : 0;
}

static ssize_t eventfd_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct eventfd *e = E(f);
    (void)pos;
    if (n < sizeof(uint64_t))
        return -EINVAL;
    pthread_mutex_lock(&e->lock);
    while (e->count == 0) {
        if (vfs_file_flags(f) & O_NONBLOCK) {
            pthread_mutex_unlock(&e->lock);
            return -EAGAIN;
        }
        int r = eventfd_wait(e, task_wake_seq(task_current()));
        if (r < 0) {
            pthread_mutex_unlock(&e->lock);
            return r;
        }
    }
    uint64_t v = e->semaphore ? 1 : e->count;
    e->count -= v;
    pthread_mutex_unlock(&e->lock);
    memcpy(buf, &v, sizeof(v));
    waitq_wake_key(&e->wq, LPOLLOUT | LPOLLWRNORM);
    return sizeof(v);
}

static ssize_t eventfd_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    struct eventfd *e = E(f);
    uint64_t v;
    (void)pos;
    if (n < sizeof(v))
        return -EINVAL;
    memcpy(&v, buf, sizeof(v));
    if (v == UINT64_MAX)
        return -EINVAL;
    pthread_mutex_lock(&e->lock);
    while (EVENTFD_MAX - e->count < v) {
        if (vfs_file_flags(f) & O_NONBLOCK) {
            pthread_mutex_unlock(&e->lock);
            return -EAGAIN;
        }
        int r = eventfd_wait(e, task_wake_seq(task_current()));
        if (r < 0) {
            pthread_mutex_unlock(&e->lock);
            return r;
        }
    }
    e->count += v;
    pthread_mutex_unlock(&e->lock);
    if (v)
        waitq_wake_key(&e->wq, LPOLLIN | LPOLLRDNORM);
    return sizeof(v);
}

static unsigned eventfd_poll(struct file *f, struct poll_table *pt)
{
    struct eventfd *e = E(f);
    poll_wait(pt, &e->wq);
    pthread_mutex_lock(&e->lock);
    uint64_t c = e->count;
    pthread_mutex_unlock(&e->lock);
    unsigned mask = 0;
    if (c > 0)
        mask |= LPOLLIN | LPOLLRDNORM;
    if (c < EVENTFD_MAX)
        mask |= LPOLLOUT | LPOLLWRNORM;
    return mask;
}

static void eventfd_release(struct file *f)
{
    struct eventfd *e = E(f);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static const struct file_ops eventfd_fops = {
        .read = eventfd_read,
        .write = eventfd_write,
        .poll = eventfd_poll,
        .dname = anon_dname,
        .release = eventfd_release,
};

int eventfd_create(unsigned initval, unsigned flags, struct file **out)
{
    struct eventfd *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    pthread_mutex_init(&e->lock, NULL);
    waitq_init(&e->wq);
    e->count = initval;
    e->semaphore = flags & EVENTFD_SEMAPHORE;
    int r = anon_file_new("eventfd", &eventfd_fops, e, O_RDWR | (flags & O_NONBLOCK), out);
    if (r < 0) {
        pthread_mutex_destroy(&e->lock);
        free(e);
    }
    return r;
}
