/*
 * devfs: the sandbox's /dev, a tmpfs holding moat's own device nodes (never
 * the host's): null, zero, full, random, urandom, tty, the stdio and fd
 * links into /proc/self/fd, ptmx, and empty shm/ and pts/ directories (devpts
 * is mounted on pts/).
 */
#include <errno.h>

#include "kernel/fs/fs.h"
#include "kernel/task/task.h"

struct devfs_node {
    const char *name;
    uint32_t mode;
    unsigned major, minor;
    const char *target;
};

static const struct devfs_node g_nodes[] = {
        {"null", VFS_S_IFCHR | 0666, 1, 3, NULL},
        {"zero", VFS_S_IFCHR | 0666, 1, 5, NULL},
        {"full", VFS_S_IFCHR | 0666, 1, 7, NULL},
        {"random", VFS_S_IFCHR | 0666, 1, 8, NULL},
        {"urandom", VFS_S_IFCHR | 0666, 1, 9, NULL},
        {"tty", VFS_S_IFCHR | 0666, 5, 0, NULL},
        {"ptmx", VFS_S_IFCHR | 0666, 5, 2, NULL},
        {"shm", VFS_S_IFDIR | 01777, 0, 0, NULL},
        {"pts", VFS_S_IFDIR | 0755, 0, 0, NULL},
        {"mqueue", VFS_S_IFDIR | 0755, 0, 0, NULL},
        {"stdin", VFS_S_IFLNK, 0, 0, "/proc/self/fd/0"},
        {"stdout", VFS_S_IFLNK, 0, 0, "/proc/self/fd/1"},
        {"stderr", VFS_S_IFLNK, 0, 0, "/proc/self/fd/2"},
        {"fd", VFS_S_IFLNK, 0, 0, "/proc/self/fd"},
};

int devfs_new(struct inode **out_root)
{
    static const struct cred root_cred;
    struct inode *root;
    int r = tmpfs_new(0755, &root);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(g_nodes); i++) {
        const struct devfs_node *n = &g_nodes[i];
        struct inode *inode = NULL;
        if (n->target)
            r = root->ops->symlink(root, n->name, n->target, &root_cred, &inode);
        else
            r = root->ops->create(root, n->name, n->mode, VFS_MKDEV(n->major, n->minor),
                                  &root_cred, &inode);
        if (r < 0) {
            inode_put(root);
            return r;
        }
        inode_put(inode);
    }
    *out_root = root;
    return 0;
}
