/*
 * The sandbox's mount tree: overlay root (hostfs lower + tmpfs upper),
 * devfs on /dev, procfs on /proc, sysfs on /sys and cgroup2 on
 * /sys/fs/cgroup; the table of those mounts (/proc/PID/mountinfo) and their
 * statfs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/ipc/mqueue.h"
#include "kernel/host/host.h"
#include "kernel/mm/memfile.h"
#include "kernel/vfs/vfs_internal.h"
#include "lib/log.h"

static const struct cred g_init_cred; /* root */

/* statfs f_type values (Linux's magic.h numbers). */
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define TMPFS_MAGIC           0x01021994
#define PROC_SUPER_MAGIC      0x9fa0
#define SYSFS_MAGIC           0x62656572
#define CGROUP2_SUPER_MAGIC   0x63677270
#define DEVPTS_SUPER_MAGIC    0x1cd1
#define MQUEUE_MAGIC          0x19800202
#define ANON_INODE_FS_MAGIC   0x09041934
/* statfs f_flags. */
#define ST_RDONLY   0x0001
#define ST_NOSUID   0x0002
#define ST_NODEV    0x0004
#define ST_NOEXEC   0x0008
#define ST_VALID       0x0020
#define ST_NOATIME     0x0400
#define ST_NODIRATIME  0x0800
#define ST_RELATIME    0x1000
#define ST_NOSYMFOLLOW 0x2000

int vfs_mount_id(const struct mount *mnt)
{
    return mnt ? mnt->id : 0;
}

/* "rw,nosuid,nodev,noexec,relatime" for mount flags FL. */
static void flags_string(unsigned fl, bool ro, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s%s%s%s", ro ? "ro" : "rw", (fl & VFS_MNT_NOSUID) ? ",nosuid" : "",
             (fl & VFS_MNT_NODEV) ? ",nodev" : "", (fl & VFS_MNT_NOEXEC) ? ",noexec" : "",
             (fl & VFS_MNT_NOATIME) ? ",noatime" : "",
             (fl & VFS_MNT_NODIRATIME) ? ",nodiratime" : "",
             (fl & VFS_MNT_RELATIME) ? ",relatime" : "",
             (fl & VFS_MNT_NOSYMFOLLOW) ? ",nosymfollow" : "");
}

int vfs_mount_views(struct task *t, struct vfs_mount_view **out, size_t *out_n)
{
    struct mount *small[64], **all = small;
    size_t n = vfs_mounts_snapshot(small, ARRAY_SIZE(small));
    if (n > ARRAY_SIZE(small)) {
        all = calloc(n + 16, sizeof(*all));
        if (!all)
            return -ENOMEM;
        n = vfs_mounts_snapshot(all, n + 16);
    }
    struct path root;
    if (t && t->fs)
        fs_get_root(t->fs, &root);
    else
        vfs_root_path(&root);
    struct vfs_mount_view *v = calloc(n ? n : 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; v && i < n; i++) {
        struct mount *m = all[i];
        if (!m->info)
            continue;
        struct path at = {m, m->root};
        if (!vfs_path_is_under(&at, &root))
            continue; /* outside the reader's root, as Linux hides it */
        struct vfs_mount_view *x = &v[k];
        x->id = m->id;
        pthread_mutex_lock(&g_dcache_lock);
        x->parent_id = m->parent && !m->detached_top ? m->parent->id : 20;
        pthread_mutex_unlock(&g_dcache_lock);
        x->dev = m->sb->dev;
        x->source = m->info->source;
        x->fstype = m->info->fstype;
        bool sb_ro = __atomic_load_n(&m->sb->rdonly, __ATOMIC_RELAXED);
        flags_string(mnt_flags(m), mnt_is_readonly(m), x->opts, sizeof(x->opts));
        if (m->info->super_opts[0]) {
            /* /proc/mounts: the file system's own options follow. */
            size_t len = strlen(x->opts);
            snprintf(x->opts + len, sizeof(x->opts) - len, ",%s", m->info->super_opts);
        }
        flags_string(mnt_flags(m), mnt_flags(m) & VFS_MNT_RDONLY, x->mi_opts, sizeof(x->mi_opts));
        snprintf(x->super_opts, sizeof(x->super_opts), "%s%s%s", sb_ro ? "ro" : "rw",
                 m->info->super_opts[0] ? "," : "", m->info->super_opts);
        if (m->prop == VFS_PROP_SHARED)
            snprintf(x->optional, sizeof(x->optional), "shared:%d", m->group);
        else if (m->prop == VFS_PROP_UNBINDABLE)
            snprintf(x->optional, sizeof(x->optional), "unbindable");
        if (vfs_dentry_fs_path(m->root, x->root, sizeof(x->root)) < 0)
            snprintf(x->root, sizeof(x->root), "/");
        if (vfs_path_string(&at, &root, x->mountpoint, sizeof(x->mountpoint), false) < 0)
            snprintf(x->mountpoint, sizeof(x->mountpoint), "?");
        k++;
    }
    path_put(&root);
    if (all != small)
        free(all);
    if (!v)
        return -ENOMEM;
    *out = v;
    *out_n = k;
    return 0;
}

int vfs_statfs(const struct mount *mnt, struct linux_statfs *out)
{
    const struct vfs_mount_info *m = mnt ? mnt->info : NULL;
    memset(out, 0, sizeof(*out));
    out->f_type = m ? (int64_t)m->magic : ANON_INODE_FS_MAGIC;
    out->f_bsize = out->f_frsize = 4096;
    out->f_namelen = 255;
    unsigned fl = mnt_flags(mnt);
    uint64_t st = ST_VALID;
    if (mnt_is_readonly(mnt))
        st |= ST_RDONLY;
    if (fl & VFS_MNT_NOSUID)
        st |= ST_NOSUID;
    if (fl & VFS_MNT_NODEV)
        st |= ST_NODEV;
    if (fl & VFS_MNT_NOEXEC)
        st |= ST_NOEXEC;
    if (fl & VFS_MNT_NOATIME)
        st |= ST_NOATIME;
    if (fl & VFS_MNT_NODIRATIME)
        st |= ST_NODIRATIME;
    if (fl & VFS_MNT_RELATIME)
        st |= ST_RELATIME;
    if (fl & VFS_MNT_NOSYMFOLLOW)
        st |= ST_NOSYMFOLLOW;
    out->f_flags = (int64_t)st;
    if (mnt) {
        out->f_fsid[0] = (int32_t)(uint32_t)mnt->sb->dev;
        out->f_fsid[1] = (int32_t)(uint32_t)(mnt->sb->dev >> 32);
    }
    if (m && (m->magic == TMPFS_MAGIC || m->magic == OVERLAYFS_SUPER_MAGIC)) {
        /* Memory-backed: the root's upper layer and tmpfs hold their data
         * in moat's memory. Size: the host's RAM (half of it for tmpfs, as
         * Linux's default); used: what the memory file holds. */
        uint64_t total, host_free, used, size, extents;
        host_meminfo(&total, &host_free);
        memfile_stats(&used, &size, &extents);
        if (m->magic == TMPFS_MAGIC)
            total /= 2;
        uint64_t blocks = total / 4096, used_blocks = used / 4096;
        out->f_blocks = blocks;
        out->f_bfree = out->f_bavail = blocks > used_blocks ? blocks - used_blocks : 0;
        out->f_files = blocks / 2;
        out->f_ffree = out->f_files;
    }
    return 0;
}

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

/* The existing directory at absolute PATH, crossing mounts; *out is a new
 * reference. */
static int lookup_dir(struct mount *rootmnt, const char *path, struct path *out)
{
    struct path cur = {rootmnt, rootmnt->root};
    path_get(&cur);
    char name[256];
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        if (n >= sizeof(name)) {
            path_put(&cur);
            return -ENAMETOOLONG;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        p += n;
        struct dentry *d;
        int r = d_lookup(cur.dentry, name, false, &d);
        if (r < 0) {
            path_put(&cur);
            return r;
        }
        struct mount *mnt = cur.mnt;
        path_put(&cur);
        cur.mnt = mnt;
        cur.dentry = d;
        struct mount *m;
        while ((m = lookup_mnt(cur.mnt, cur.dentry))) {
            dentry_get(m->root);
            dentry_put(cur.dentry);
            cur.mnt = m;
            cur.dentry = m->root;
        }
        struct inode *inode = dentry_inode(cur.dentry);
        bool dir = inode && inode_is_dir(inode);
        inode_put(inode);
        if (!dir) {
            path_put(&cur);
            return inode ? -ENOTDIR : -ENOENT;
        }
    }
    *out = cur;
    return 0;
}

/* Mounts the file system whose root is ROOT (consumed) on PATH: a
 * directory made if missing when PATH is /NAME, else an existing one. INFO
 * describes the mount for the table. */
static int mount_on(struct mount *rootmnt, const char *path, struct inode *root,
                    const struct vfs_mount_info *info, struct mount **out_mnt)
{
    struct path at;
    int r = strchr(path + 1, '/') ? lookup_dir(rootmnt, path, &at)
                                  : ensure_dir(rootmnt, path + 1, &at);
    if (r < 0) {
        inode_put(root);
        return r;
    }
    struct mount *mnt;
    struct vfs_sb *sb = root->sb;
    struct dentry *d = dentry_new_root(root);
    inode_put(root);
    if (!d) {
        path_put(&at);
        return -ENOMEM;
    }
    r = vfs_mount(&at, sb, d, info, info->mnt_flags, &mnt);
    dentry_put(d);
    path_put(&at);
    if (r < 0)
        return r;
    if (out_mnt)
        *out_mnt = mnt;
    return 0;
}

#define NSN (VFS_MNT_NOSUID | VFS_MNT_NODEV | VFS_MNT_NOEXEC)
static const struct vfs_mount_info g_root_info = {
        .source = "overlay", .fstype = "overlay", .super_opts = "",
        .magic = OVERLAYFS_SUPER_MAGIC, .mnt_flags = VFS_MNT_RELATIME};
static const struct vfs_mount_info g_dev_info = {
        .source = "tmpfs", .fstype = "tmpfs", .super_opts = "mode=755", .magic = TMPFS_MAGIC,
        .mnt_flags = VFS_MNT_NOSUID};
static const struct vfs_mount_info g_pts_info = {
        .source = "devpts", .fstype = "devpts", .super_opts = "gid=5,mode=620,ptmxmode=666",
        .magic = DEVPTS_SUPER_MAGIC, .mnt_flags = VFS_MNT_NOSUID | VFS_MNT_NOEXEC | VFS_MNT_RELATIME};
static const struct vfs_mount_info g_proc_info = {
        .source = "proc", .fstype = "proc", .super_opts = "", .magic = PROC_SUPER_MAGIC,
        .mnt_flags = NSN | VFS_MNT_RELATIME};
static const struct vfs_mount_info g_sys_info = {
        .source = "sysfs", .fstype = "sysfs", .super_opts = "", .magic = SYSFS_MAGIC,
        .mnt_flags = VFS_MNT_RDONLY | NSN | VFS_MNT_RELATIME};
static const struct vfs_mount_info g_cgroup_info = {
        .source = "cgroup", .fstype = "cgroup2", .super_opts = "nsdelegate",
        .magic = CGROUP2_SUPER_MAGIC, .mnt_flags = VFS_MNT_RDONLY | NSN | VFS_MNT_RELATIME};
static const struct vfs_mount_info g_mqueue_info = {
        .source = "mqueue", .fstype = "mqueue", .super_opts = "", .magic = MQUEUE_MAGIC,
        .mnt_flags = NSN | VFS_MNT_RELATIME};
static const struct vfs_mount_info g_tmpfs_info = {
        .source = "tmpfs", .fstype = "tmpfs", .super_opts = "", .magic = TMPFS_MAGIC,
        .mnt_flags = VFS_MNT_RELATIME};

const struct vfs_mount_info *vfs_mount_template(const char *fstype)
{
    if (strcmp(fstype, "tmpfs") == 0)
        return &g_tmpfs_info;
    if (strcmp(fstype, "proc") == 0)
        return &g_proc_info;
    if (strcmp(fstype, "sysfs") == 0)
        return &g_sys_info;
    if (strcmp(fstype, "mqueue") == 0)
        return &g_mqueue_info;
    return NULL;
}

void vfs_root_set_readonly(void)
{
    struct path root;
    vfs_root_path(&root);
    if (root.mnt)
        __atomic_or_fetch(&root.mnt->flags, VFS_MNT_RDONLY, __ATOMIC_RELEASE);
    path_put(&root);
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
    struct mount *mnt = vfs_mount_root(droot->inode->sb, droot, &g_root_info,
                                       g_root_info.mnt_flags);
    dentry_put(droot);
    if (!mnt)
        return -ENOMEM;

    struct inode *dev, *proc;
    r = devfs_new(&dev);
    if (r == 0)
        r = mount_on(mnt, "/dev", dev, &g_dev_info, NULL);
    struct inode *pts;
    if (r == 0)
        r = devpts_new(&pts);
    if (r == 0)
        r = mount_on(mnt, "/dev/pts", pts, &g_pts_info, NULL);
    /* The IPC namespace's POSIX message queues, where container runtimes
     * put them. */
    struct inode *mq;
    struct vfs_sb *mq_sb;
    if (r == 0)
        r = mqueue_root(&mq_sb, &mq);
    if (r == 0)
        r = mount_on(mnt, "/dev/mqueue", mq, &g_mqueue_info, NULL);
    if (r < 0) {
        log_error("vfs: mounting /dev: error %d", r);
        return r;
    }
    struct mount *pm;
    r = procfs_new(&proc);
    if (r == 0)
        r = mount_on(mnt, "/proc", proc, &g_proc_info, &pm);
    if (r < 0) {
        log_error("vfs: mounting /proc: error %d", r);
        return r;
    }
    procfs_set_mount(pm);

    /* sysfs also covers the host's /sys, which must never show through
     * the root's lower layer. */
    struct inode *sys, *cg;
    r = sysfs_new(&sys);
    if (r == 0)
        sys->sb->rdonly = true; /* as a container's /sys: ro, super ro */
    if (r == 0)
        r = mount_on(mnt, "/sys", sys, &g_sys_info, NULL);
    if (r == 0)
        r = cgroupfs_new(&cg);
    if (r == 0)
        cg->sb->rdonly = true;
    if (r == 0)
        r = mount_on(mnt, "/sys/fs/cgroup", cg, &g_cgroup_info, NULL);
    if (r < 0) {
        log_error("vfs: mounting /sys: error %d", r);
        return r;
    }

    struct path rp = {mnt, mnt->root};
    return fs_struct_new(&rp, out_fs);
}
