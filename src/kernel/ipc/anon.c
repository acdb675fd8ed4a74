/* Anonymous inode files (see anon.h). */
#include "kernel/ipc/anon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel/vfs/vfs_fs.h"
#include "lib/util.h"

struct anon_inode {
    struct inode base;
    const char *name; /* (c) */
};

static struct vfs_sb *g_anon_sb;
static pthread_once_t g_anon_once = PTHREAD_ONCE_INIT;

static void anon_sb_init(void)
{
    g_anon_sb = vfs_sb_new("anon_inodefs", true);
}

static void anon_evict(struct inode *inode)
{
    free(container_of(inode, struct anon_inode, base));
}

static const struct inode_ops anon_iops = {
        .evict = anon_evict,
};

int anon_file_new(const char *name, const struct file_ops *ops, void *priv, unsigned flags,
                  struct file **out)
{
    pthread_once(&g_anon_once, anon_sb_init);
    if (!g_anon_sb)
        return -ENOMEM;
    struct anon_inode *ai = calloc(1, sizeof(*ai));
    if (!ai)
        return -ENOMEM;
    /* Linux's anon inodes have no file type bits and mode 0600. */
    inode_init(&ai->base, g_anon_sb, &anon_iops, 0600);
    ai->base.ino = vfs_sb_next_ino(g_anon_sb);
    ai->name = name;
    struct file *f = file_alloc(&ai->base, NULL, flags);
    inode_put(&ai->base);
    if (!f)
        return -ENOMEM;
    f->ops = ops;
    f->priv = priv;
    f->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    *out = f;
    return 0;
}

int anon_dname(struct file *f, char *buf, size_t size)
{
    struct anon_inode *ai = container_of(f->inode, struct anon_inode, base);
    int n = snprintf(buf, size, "anon_inode:[%s]", ai->name);
    return n < (int)size ? n : -ENAMETOOLONG;
}
