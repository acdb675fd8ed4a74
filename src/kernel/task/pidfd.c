/*
 * pidfds: a file that names a process (pidfd_open, CLONE_PIDFD). It polls
 * readable once the process has exited; pidfd_send_signal and
 * waitid(P_PIDFD) act on the process it names.
 */
#include "kernel/task/pidfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel/task/task_internal.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/util.h"

struct pidfd_inode {
    struct inode base;
    struct thread_group *tg; /* (c) counted */
};

static struct vfs_sb *g_pidfd_sb;
static pthread_once_t g_pidfd_once = PTHREAD_ONCE_INIT;

static void pidfd_sb_init(void)
{
    g_pidfd_sb = vfs_sb_new("anon_inode", true);
}

static struct pidfd_inode *PI(struct file *f)
{
    return container_of(f->inode, struct pidfd_inode, base);
}

static void pidfd_evict(struct inode *inode)
{
    struct pidfd_inode *pi = container_of(inode, struct pidfd_inode, base);
    tg_put(pi->tg);
    free(pi);
}

static const struct inode_ops pidfd_iops = {
        .evict = pidfd_evict,
};

static unsigned pidfd_poll(struct file *f, struct poll_table *pt)
{
    struct thread_group *tg = PI(f)->tg;
    poll_wait(pt, &tg->exit_wq);
    pthread_mutex_lock(&g_tasks_lock);
    bool dead = tg->zombie || tg->nr_threads == 0;
    pthread_mutex_unlock(&g_tasks_lock);
    return dead ? (LPOLLIN | LPOLLRDNORM) : 0;
}

static int pidfd_dname(struct file *f, char *buf, size_t size)
{
    int n = snprintf(buf, size, "anon_inode:[pidfd]");
    return n < (int)size ? n : -ENAMETOOLONG;
}

static const struct file_ops pidfd_fops = {
        .poll = pidfd_poll,
        .dname = pidfd_dname,
};

int pidfd_create(struct thread_group *tg, int flags, struct file **out)
{
    pthread_once(&g_pidfd_once, pidfd_sb_init);
    if (!g_pidfd_sb)
        return -ENOMEM;
    struct pidfd_inode *pi = calloc(1, sizeof(*pi));
    if (!pi)
        return -ENOMEM;
    inode_init(&pi->base, g_pidfd_sb, &pidfd_iops, 0600);
    pi->base.ino = vfs_sb_next_ino(g_pidfd_sb);
    tg_get(tg);
    pi->tg = tg;
    struct file *f = file_alloc(&pi->base, NULL, O_RDWR | ((unsigned)flags & O_NONBLOCK));
    inode_put(&pi->base);
    if (!f)
        return -ENOMEM;
    f->ops = &pidfd_fops;
    f->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    *out = f;
    return 0;
}

struct thread_group *pidfd_tg(struct file *f)
{
    if (f->ops != &pidfd_fops)
        return NULL;
    tg_get(PI(f)->tg);
    return PI(f)->tg;
}
