/*
 * The sandbox's mount tree: overlay root (hostfs lower + tmpfs upper),
 * devfs on /dev, procfs on /proc, an empty tmpfs on /sys.
 */
#include <errno.h>

#include "kernel/fs/fs.h"
#include "kernel/vfs/vfs_internal.h"
#include "lib/log.h"

static const struct cred g_init_cred; /* root */

/* The directory NAME under the root of MNT, created if missing; *out is a
 * new reference. */
static int ensure_dir(struct mount *mnt, const char *name, struct path *out)
{
    struct dentry *d;
    pthread_mutex_lock(&g_vfs_ns_lock);
    int r = d_lookup(mnt->root, name, true, &d);
    if (r < 0)
        goto out_unlock;
    struct inode *inode = dentry_inode(d);
    if (!inode) {
        struct inode *dir = dentry_inode(mnt->root);
        r = dir->ops->create(dir, name, VFS_S_IFDIR | 0755, 0, &g_init_cred, &inode);
        inode_put(dir);
        if (r == 0)
            d_instantiate(d, inode);
    }
    if (r == 0 && !inode_is_dir(inode))
        r = -ENOTDIR;
    inode_put(inode);
    if (r < 0) {
        dentry_put(d);
        goto out_unlock;
    }
    out->mnt = mnt;
    out->dentry = d;
out_unlock:
    pthread_mutex_unlock(&g_vfs_ns_lock);
    return r;
}

/* Mounts the file system whose root is ROOT (consumed) on /NAME. */
static int mount_on(struct mount *rootmnt, const char *name, struct inode *root,
                    struct mount **out_mnt)
{
    struct path at;
    int r = ensure_dir(rootmnt, name, &at);
    if (r < 0) {
        inode_put(root);
        return r;
    }
    struct vfs_sb *sb = root->sb;
    struct dentry *d = dentry_new_root(root);
    inode_put(root);
    if (!d) {
        path_put(&at);
        return -ENOMEM;
    }
    r = vfs_mount(&at, sb, d, out_mnt);
    dentry_put(d);
    path_put(&at);
    return r;
}

int vfs_init(int host_root_fd, struct fs_struct **out_fs)
{
    struct inode *lower, *upper, *root;
    int r = hostfs_new(host_root_fd, &lower);
    if (r < 0)
        return r;
    r = tmpfs_new(0755, &upper);
    if (r < 0) {
        inode_put(lower);
        return r;
    }
    r = overlay_new(lower, upper, &root);
    inode_put(lower);
    inode_put(upper);
    if (r < 0)
        return r;
    struct dentry *droot = dentry_new_root(root);
    inode_put(root);
    if (!droot)
        return -ENOMEM;
    struct mount *mnt = vfs_mount_root(droot->inode->sb, droot);
    dentry_put(droot);
    if (!mnt)
        return -ENOMEM;

    struct inode *dev, *proc;
    r = devfs_new(&dev);
    if (r == 0)
        r = mount_on(mnt, "dev", dev, NULL);
    if (r < 0) {
        log_error("vfs: mounting /dev: error %d", r);
        return r;
    }
    struct mount *pm;
    r = procfs_new(&proc);
    if (r == 0)
        r = mount_on(mnt, "proc", proc, &pm);
    if (r < 0) {
        log_error("vfs: mounting /proc: error %d", r);
        return r;
    }
    procfs_set_mount(pm);

    /* The host's /sys must not show through the root's lower layer: an
     * empty tmpfs covers it. FIXME(issue 5): a sysfs generated from the
     * sandbox's own state (cpu topology, cgroup limits). */
    struct inode *sys;
    r = tmpfs_new(0555, &sys);
    if (r == 0)
        r = mount_on(mnt, "sys", sys, NULL);
    if (r < 0) {
        log_error("vfs: mounting /sys: error %d", r);
        return r;
    }

    struct path rp = {mnt, mnt->root};
    return fs_struct_new(&rp, out_fs);
}
