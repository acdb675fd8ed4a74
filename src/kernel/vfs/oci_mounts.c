/* Extra mounts from an OCI bundle: tmpfs and host-directory binds. */
#include "kernel/vfs/oci_mounts.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/host/host_fs.h"
#include "kernel/task/task.h"
#include "kernel/vfs/vfs_fs.h"
#include "kernel/vfs/vfs_internal.h"

static const struct cred g_root_cred; /* mount points are made as root */

/* Follows mounts stacked on CUR (a counted path, updated in place). */
static void cross_mounts(struct path *cur)
{
    struct mount *m;
    while ((m = lookup_mnt(cur->mnt, cur->dentry))) {
        dentry_get(m->root);
        dentry_put(cur->dentry);
        cur->mnt = m;
        cur->dentry = m->root;
    }
}

/* The directory (or with LAST_FILE, for a file bind, the regular file) at
 * absolute PATH from ROOT, making missing components (0755 directories,
 * an empty 0644 file; root-owned) as it goes. Symlinks are not followed:
 * an OCI destination that crosses one is refused (-ELOOP), as it could
 * point anywhere. *out is a new reference. */
static int walk_make_dirs(const struct path *root, const char *path, bool last_file,
                          struct path *out)
{
    struct path cur = *root;
    path_get(&cur);
    cross_mounts(&cur);
    char name[256];
    int r = 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        if (n >= sizeof(name)) {
            r = -ENAMETOOLONG;
            goto out_put;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        p += n;
        if (strcmp(name, ".") == 0)
            continue;
        if (strcmp(name, "..") == 0) {
            r = -EINVAL;
            goto out_put;
        }
        struct dentry *d;
        pthread_mutex_lock(&g_vfs_ns_lock);
        r = d_lookup(cur.dentry, name, true, &d);
        if (r < 0) {
            pthread_mutex_unlock(&g_vfs_ns_lock);
            goto out_put;
        }
        bool file = last_file && p[strspn(p, "/")] == '\0';
        struct inode *inode = dentry_inode(d);
        if (!inode) {
            struct inode *dir = dentry_inode(cur.dentry);
            uint32_t mode = file ? VFS_S_IFREG | 0644 : VFS_S_IFDIR | 0755;
            r = dir->ops->create ? dir->ops->create(dir, name, mode, 0, &g_root_cred, &inode)
                                 : -EROFS;
            inode_put(dir);
            if (r == 0)
                d_instantiate(d, inode);
        }
        pthread_mutex_unlock(&g_vfs_ns_lock);
        if (r == 0 && inode_is_lnk(inode))
            r = -ELOOP;
        else if (r == 0 && file && inode_is_dir(inode))
            r = -EISDIR;
        else if (r == 0 && !file && !inode_is_dir(inode))
            r = -ENOTDIR;
        inode_put(inode);
        if (r < 0) {
            dentry_put(d);
            goto out_put;
        }
        dentry_put(cur.dentry);
        cur.dentry = d;
        cross_mounts(&cur);
    }
    *out = cur;
    return 0;
out_put:
    path_put(&cur);
    return r;
}

/* The root inode of the file system M asks for (new reference). */
static int make_fs(const struct vfs_extra_mount *m, struct inode **out)
{
    int r;
    switch (m->kind) {
    case VFS_EXTRA_TMPFS:
        return tmpfs_new(m->mode & 07777, out);
    case VFS_EXTRA_BIND_RO:
        if (m->is_file)
            return hostfs_new_file(m->host_fd, false, out);
        return hostfs_new_bind(m->host_fd, false, out);
    case VFS_EXTRA_BIND_RW:
        if (m->is_file)
            return hostfs_new_file(m->host_fd, true, out);
        return hostfs_new_bind(m->host_fd, true, out);
    case VFS_EXTRA_BIND_COPY: {
        struct inode *lower, *upper;
        r = hostfs_new(m->host_fd, &lower);
        if (r < 0)
            return r;
        r = tmpfs_new(0755, &upper);
        if (r < 0) {
            inode_put(lower);
            return r;
        }
        r = overlay_new(lower, upper, out);
        inode_put(lower);
        inode_put(upper);
        return r;
    }
    default:
        return -EINVAL;
    }
}

/* What /proc/PID/mounts shows for M (kept: mounts are never freed). */
static const struct vfs_mount_info *mount_info(const struct vfs_extra_mount *m)
{
    static const struct vfs_mount_info tmpfs = {
            .source = "tmpfs", .fstype = "tmpfs", .super_opts = "", .magic = 0x01021994,
            .mnt_flags = VFS_MNT_RELATIME};
    /* Host binds show as Linux shows a bind of a directory of the host's
     * file system: its type is not the sandbox's business (gVisor shows
     * 9p); moat names it after the file system that serves it. */
    static const struct vfs_mount_info bind = {
            .source = "none", .fstype = "hostfs", .super_opts = "", .magic = 0x6d6f6174,
            .mnt_flags = VFS_MNT_RELATIME};
    static const struct vfs_mount_info copy = {
            .source = "overlay", .fstype = "overlay", .super_opts = "", .magic = 0x794c7630,
            .mnt_flags = VFS_MNT_RELATIME};
    switch (m->kind) {
    case VFS_EXTRA_TMPFS:
        return &tmpfs;
    case VFS_EXTRA_BIND_COPY:
        return &copy;
    default:
        return &bind;
    }
}

static unsigned mount_flags(const struct vfs_extra_mount *m)
{
    unsigned f = mount_info(m)->mnt_flags | (m->mnt_flags & VFS_MNT_USER_MASK);
    if (m->kind == VFS_EXTRA_BIND_RO)
        f |= VFS_MNT_RDONLY;
    return f;
}

static int mount_one(const struct path *root, const struct vfs_extra_mount *m)
{
    struct path at;
    if (m->kind == VFS_EXTRA_BIND_COPY && m->is_file) {
        host_fs_close(m->host_fd);
        return -ENOTDIR; /* an overlay needs a directory */
    }
    int r = walk_make_dirs(root, m->dest, m->is_file, &at);
    if (r < 0) {
        if (m->kind != VFS_EXTRA_TMPFS)
            host_fs_close(m->host_fd);
        return r;
    }
    struct inode *fsroot;
    r = make_fs(m, &fsroot);
    if (r < 0) {
        path_put(&at);
        return r;
    }
    struct dentry *d = dentry_new_root(fsroot);
    struct vfs_sb *sb = fsroot->sb;
    inode_put(fsroot);
    if (!d) {
        path_put(&at);
        return -ENOMEM;
    }
    r = vfs_mount(&at, sb, d, mount_info(m), mount_flags(m), NULL);
    dentry_put(d);
    path_put(&at);
    return r;
}

int vfs_mount_extra(struct fs_struct *fs, const struct vfs_extra_mount *m, size_t n,
                    size_t *out_failed)
{
    struct path root;
    pthread_mutex_lock(&fs->lock);
    root = fs->root;
    path_get(&root);
    pthread_mutex_unlock(&fs->lock);
    int r = 0;
    size_t i = 0;
    for (; i < n; i++) {
        r = mount_one(&root, &m[i]);
        if (r < 0)
            break;
    }
    if (r < 0) {
        *out_failed = i;
        for (size_t k = i + 1; k < n; k++)
            if (m[k].kind != VFS_EXTRA_TMPFS)
                host_fs_close(m[k].host_fd);
    }
    path_put(&root);
    return r;
}
