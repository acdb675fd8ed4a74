/*
 * mount(2), umount2(2) and chroot(2) inside the sandbox.
 *
 * Only the sandbox's root user (euid 0) may call them, and only on the
 * sandbox's own tree: new tmpfs instances, further mounts of the sandbox's
 * proc and sysfs, and bind mounts of in-sandbox directories. Nothing here
 * reaches a host path. Unmounting detaches a mount (lazily, as MNT_DETACH
 * does): what is open inside it keeps working.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/task/task.h"
#include "kernel/vfs/vfs_internal.h"
#include "lib/log.h"

#define L_MS_RDONLY      0x1
#define L_MS_NOSUID      0x2
#define L_MS_NODEV       0x4
#define L_MS_NOEXEC      0x8
#define L_MS_REMOUNT     0x20
#define L_MS_BIND        0x1000
#define L_MS_MOVE        0x2000
#define L_MS_REC         0x4000
#define L_MS_SILENT      0x8000
#define L_MS_UNBINDABLE  (1 << 17)
#define L_MS_PRIVATE     (1 << 18)
#define L_MS_SLAVE       (1 << 19)
#define L_MS_SHARED      (1 << 20)
#define L_MS_PROPAGATION (L_MS_UNBINDABLE | L_MS_PRIVATE | L_MS_SLAVE | L_MS_SHARED)
#define L_MS_MGC_MSK     0xffff0000u
#define L_MS_MGC_VAL     0xc0ed0000u

#define L_MNT_FORCE       1
#define L_MNT_DETACH      2
#define L_MNT_EXPIRE      4
#define L_UMOUNT_NOFOLLOW 8

int vfs_chroot(struct task *t, const char *path)
{
    struct path p;
    int r = vfs_resolve_path(t, AT_FDCWD, path, true, true, &p);
    if (r < 0)
        return r;
    struct inode *inode = dentry_inode(p.dentry);
    r = inode ? inode_permission(inode, &t->cred, VFS_MAY_EXEC) : -ENOENT;
    inode_put(inode);
    if (r == 0 && t->cred.euid != 0)
        r = -EPERM;
    if (r == 0)
        fs_set_root(t->fs, &p);
    path_put(&p);
    return r;
}

/* The sandbox's own mount of FSTYPE (proc, sysfs), or NULL. */
static struct mount *find_mount(const char *fstype)
{
    for (size_t i = 0; i < vfs_mount_count(); i++) {
        const struct vfs_mount_info *m = vfs_mount_info_at(i);
        if (m && m->mnt && strcmp(m->fstype, fstype) == 0)
            return m->mnt;
    }
    return NULL;
}

/* "mode=1777,size=10m" → the mode (DEF if absent). -EINVAL if malformed. */
static int tmpfs_mode(const char *data, uint32_t def, uint32_t *out)
{
    *out = def;
    if (!data)
        return 0;
    const char *m = strstr(data, "mode=");
    if (!m)
        return 0;
    if (m != data && m[-1] != ',')
        return 0;
    char *end;
    unsigned long v = strtoul(m + 5, &end, 8);
    if (end == m + 5 || (*end && *end != ',') || v > 07777)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static int record(struct task *t, struct mount *mnt, const struct path *at, const char *source,
                  const struct vfs_mount_info *template)
{
    (void)t;
    char *where = malloc(LINUX_PATH_MAX);
    if (!where)
        return -ENOMEM;
    struct path root;
    vfs_root_path(&root);
    int r = vfs_path_string(at, &root, where, LINUX_PATH_MAX, false);
    path_put(&root);
    struct vfs_mount_info info = *template;
    info.mountpoint = r >= 0 ? where : "?";
    info.source = strdup(source ? source : template->source);
    if (r < 0)
        free(where);
    return vfs_mount_table_add(mnt, &info);
}

int vfs_do_mount(struct task *t, const char *source, const char *target, const char *fstype,
                 unsigned long flags, const char *data)
{
    if ((flags & L_MS_MGC_MSK) == L_MS_MGC_VAL)
        flags &= ~L_MS_MGC_MSK;
    struct path at;
    int r = vfs_resolve_path(t, AT_FDCWD, target, true, false, &at);
    if (r < 0)
        return r;
    if (t->cred.euid != 0) {
        r = -EPERM; /* after the lookup, as Linux orders it */
        goto out;
    }
    if (flags & L_MS_PROPAGATION) {
        /* One mount namespace, no peers: propagation types change nothing. */
        r = 0;
        goto out;
    }
    if (flags & L_MS_REMOUNT) {
        /* Mount flags are not kept per mount: only a remount that asks for
         * nothing can be honoured. */
        r = (flags & (L_MS_RDONLY | L_MS_NOSUID | L_MS_NODEV | L_MS_NOEXEC)) ? -EPERM : 0;
        if (r < 0)
            log_warn_once("mount: MS_REMOUNT with flags unsupported");
        goto out;
    }
    if (flags & L_MS_MOVE) {
        log_warn_once("mount: MS_MOVE unsupported");
        r = -EINVAL;
        goto out;
    }
    if (flags & L_MS_RDONLY) {
        log_warn_once("mount: read-only mounts unsupported");
        r = -EPERM;
        goto out;
    }
    struct inode *ai = dentry_inode(at.dentry);
    bool dir = ai && inode_is_dir(ai);
    inode_put(ai);
    if (!dir) {
        r = -ENOTDIR; /* file bind mounts are not supported */
        goto out;
    }
    struct mount *mnt = NULL;
    pthread_mutex_lock(&g_vfs_ns_lock);
    if (d_is_dead(at.dentry)) {
        r = -ENOENT;
    } else if (flags & L_MS_BIND) {
        struct path src;
        r = source ? vfs_resolve_path(t, AT_FDCWD, source, true, false, &src) : -EFAULT;
        if (r == 0) {
            struct inode *si = dentry_inode(src.dentry);
            bool sdir = si && inode_is_dir(si);
            inode_put(si);
            const struct vfs_mount_info *sm = vfs_mount_info_of(src.mnt);
            if (!sdir) {
                r = -ENOTDIR;
            } else {
                r = vfs_mount(&at, src.mnt->sb, src.dentry, &mnt);
                if (r == 0) {
                    struct vfs_mount_info tmpl = sm ? *sm : *vfs_mount_template("tmpfs");
                    r = record(t, mnt, &at, sm ? sm->source : source, &tmpl);
                }
            }
            path_put(&src);
        }
    } else if (!fstype) {
        r = -EFAULT;
    } else if (strcmp(fstype, "tmpfs") == 0) {
        uint32_t mode;
        struct inode *root = NULL;
        r = tmpfs_mode(data, 01777, &mode);
        if (r == 0)
            r = tmpfs_new(mode, &root);
        struct dentry *d = r == 0 ? dentry_new_root(root) : NULL;
        if (r == 0 && !d)
            r = -ENOMEM;
        if (r == 0)
            r = vfs_mount(&at, root->sb, d, &mnt);
        if (r == 0)
            r = record(t, mnt, &at, source, vfs_mount_template("tmpfs"));
        if (d)
            dentry_put(d);
        inode_put(root);
    } else if (strcmp(fstype, "proc") == 0 || strcmp(fstype, "sysfs") == 0) {
        struct mount *own = find_mount(fstype);
        r = own ? vfs_mount(&at, own->sb, own->root, &mnt) : -ENODEV;
        if (r == 0)
            r = record(t, mnt, &at, source, vfs_mount_template(fstype));
    } else {
        log_warn_once("mount: file system type %s unsupported", fstype);
        r = -ENODEV;
    }
    pthread_mutex_unlock(&g_vfs_ns_lock);
out:
    path_put(&at);
    return r;
}

int vfs_umount(struct task *t, const char *target, int flags)
{
    if (flags & ~(L_MNT_FORCE | L_MNT_DETACH | L_MNT_EXPIRE | L_UMOUNT_NOFOLLOW))
        return -EINVAL;
    if ((flags & L_MNT_EXPIRE) && (flags & (L_MNT_FORCE | L_MNT_DETACH)))
        return -EINVAL;
    struct path at;
    int r = vfs_resolve_path(t, AT_FDCWD, target, !(flags & L_UMOUNT_NOFOLLOW), false, &at);
    if (r < 0)
        return r;
    if (t->cred.euid != 0) {
        r = -EPERM;
    } else if (at.dentry != at.mnt->root) {
        r = -EINVAL; /* not a mount point */
    } else if (flags & L_MNT_EXPIRE) {
        r = -EAGAIN;
    } else {
        pthread_mutex_lock(&g_vfs_ns_lock);
        r = vfs_mount_detach(at.mnt);
        if (r == 0)
            vfs_mount_table_del(at.mnt);
        pthread_mutex_unlock(&g_vfs_ns_lock);
    }
    path_put(&at);
    return r;
}
