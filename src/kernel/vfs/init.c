/*
 * The sandbox's mount tree: overlay root (hostfs lower + tmpfs upper),
 * devfs on /dev, procfs on /proc, sysfs on /sys and cgroup2 on
 * /sys/fs/cgroup; the table of those mounts (/proc/PID/mountinfo) and their
 * statfs.
 */
#include <errno.h>
#include <string.h>

#include "kernel/fs/fs.h"
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
#define ANON_INODE_FS_MAGIC   0x09041934
/* statfs f_flags. */
#define ST_RDONLY   0x0001
#define ST_NOSUID   0x0002
#define ST_NODEV    0x0004
#define ST_NOEXEC   0x0008
#define ST_VALID    0x0020
#define ST_RELATIME 0x1000

#define MOUNT_TABLE_MAX 64
/* Written by vfs_init only, before any task runs; read-only after. */
static struct vfs_mount_info g_mount_table[MOUNT_TABLE_MAX];
static size_t g_mount_count;

size_t vfs_mount_count(void)
{
    return g_mount_count;
}

const struct vfs_mount_info *vfs_mount_info_at(size_t i)
{
    return i < g_mount_count ? &g_mount_table[i] : NULL;
}

const struct vfs_mount_info *vfs_mount_info_of(const struct mount *mnt)
{
    for (size_t i = 0; mnt && i < g_mount_count; i++)
        if (g_mount_table[i].mnt == mnt)
            return &g_mount_table[i];
    return NULL;
}

int vfs_mount_id(const struct mount *mnt)
{
    const struct vfs_mount_info *m = vfs_mount_info_of(mnt);
    return m ? m->id : 0;
}

/* Records MNT with the fields of TEMPLATE (ids filled in here). */
/* Serialises mount(2)/umount(2) table changes; readers go unlocked (the
 * entries' strings are never freed, the count is published last). */
static pthread_mutex_t g_mount_table_lock = PTHREAD_MUTEX_INITIALIZER;

int vfs_mount_table_add(struct mount *mnt, const struct vfs_mount_info *info)
{
    pthread_mutex_lock(&g_mount_table_lock);
    int r = -ENOSPC;
    if (g_mount_count < MOUNT_TABLE_MAX) {
        struct vfs_mount_info *m = &g_mount_table[g_mount_count];
        *m = *info;
        m->mnt = mnt;
        int id = 21;
        for (size_t i = 0; i < g_mount_count; i++)
            id = MAX(id, g_mount_table[i].id + 1);
        m->id = id;
        m->parent_id = mnt->parent ? vfs_mount_id(mnt->parent) : 20;
        __atomic_store_n(&g_mount_count, g_mount_count + 1, __ATOMIC_RELEASE);
        r = 0;
    }
    pthread_mutex_unlock(&g_mount_table_lock);
    return r;
}

void vfs_mount_table_del(struct mount *mnt)
{
    pthread_mutex_lock(&g_mount_table_lock);
    for (size_t i = 0; i < g_mount_count; i++) {
        if (g_mount_table[i].mnt != mnt)
            continue;
        for (size_t j = i; j + 1 < g_mount_count; j++)
            g_mount_table[j] = g_mount_table[j + 1];
        __atomic_store_n(&g_mount_count, g_mount_count - 1, __ATOMIC_RELEASE);
        break;
    }
    pthread_mutex_unlock(&g_mount_table_lock);
}

static void mount_record(struct mount *mnt, const struct vfs_mount_info *template)
{
    if (g_mount_count == MOUNT_TABLE_MAX)
        return;
    struct vfs_mount_info *m = &g_mount_table[g_mount_count];
    *m = *template;
    m->mnt = mnt;
    /* Containers' numbering: the root's parent is outside the sandbox. */
    m->id = 21 + (int)g_mount_count;
    m->parent_id = mnt->parent ? vfs_mount_id(mnt->parent) : 20;
    g_mount_count++;
}

int vfs_statfs(const struct mount *mnt, struct linux_statfs *out)
{
    const struct vfs_mount_info *m = vfs_mount_info_of(mnt);
    memset(out, 0, sizeof(*out));
    out->f_type = m ? (int64_t)m->magic : ANON_INODE_FS_MAGIC;
    out->f_bsize = out->f_frsize = 4096;
    out->f_namelen = 255;
    out->f_flags = (int64_t)((m ? m->st_flags : 0) | ST_VALID);
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
    r = vfs_mount(&at, sb, d, &mnt);
    dentry_put(d);
    path_put(&at);
    if (r < 0)
        return r;
    mount_record(mnt, info);
    if (out_mnt)
        *out_mnt = mnt;
    return 0;
}

static const struct vfs_mount_info g_root_info = {
        .source = "overlay", .mountpoint = "/", .fstype = "overlay", .opts = "rw,relatime",
        .super_opts = "rw", .magic = OVERLAYFS_SUPER_MAGIC, .st_flags = ST_RELATIME};
static const struct vfs_mount_info g_dev_info = {
        .source = "tmpfs", .mountpoint = "/dev", .fstype = "tmpfs", .opts = "rw,nosuid",
        .super_opts = "rw,mode=755", .magic = TMPFS_MAGIC, .st_flags = ST_NOSUID};
static const struct vfs_mount_info g_pts_info = {
        .source = "devpts", .mountpoint = "/dev/pts", .fstype = "devpts",
        .opts = "rw,nosuid,noexec,relatime", .super_opts = "rw,gid=5,mode=620,ptmxmode=666",
        .magic = DEVPTS_SUPER_MAGIC, .st_flags = ST_NOSUID | ST_NOEXEC | ST_RELATIME};
static const struct vfs_mount_info g_proc_info = {
        .source = "proc", .mountpoint = "/proc", .fstype = "proc",
        .opts = "rw,nosuid,nodev,noexec,relatime", .super_opts = "rw",
        .magic = PROC_SUPER_MAGIC, .st_flags = ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME};
static const struct vfs_mount_info g_sys_info = {
        .source = "sysfs", .mountpoint = "/sys", .fstype = "sysfs",
        .opts = "ro,nosuid,nodev,noexec,relatime", .super_opts = "ro", .magic = SYSFS_MAGIC,
        .st_flags = ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME};
static const struct vfs_mount_info g_cgroup_info = {
        .source = "cgroup", .mountpoint = "/sys/fs/cgroup", .fstype = "cgroup2",
        .opts = "ro,nosuid,nodev,noexec,relatime", .super_opts = "ro,nsdelegate",
        .magic = CGROUP2_SUPER_MAGIC,
        .st_flags = ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME};

static const struct vfs_mount_info g_tmpfs_info = {
        .source = "tmpfs", .mountpoint = "/", .fstype = "tmpfs", .opts = "rw,relatime",
        .super_opts = "rw", .magic = TMPFS_MAGIC, .st_flags = ST_RELATIME};

const struct vfs_mount_info *vfs_mount_template(const char *fstype)
{
    if (strcmp(fstype, "tmpfs") == 0)
        return &g_tmpfs_info;
    if (strcmp(fstype, "proc") == 0)
        return &g_proc_info;
    if (strcmp(fstype, "sysfs") == 0)
        return &g_sys_info;
    return NULL;
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
    g_mount_count = 0;
    mount_record(mnt, &g_root_info);

    struct inode *dev, *proc;
    r = devfs_new(&dev);
    if (r == 0)
        r = mount_on(mnt, "/dev", dev, &g_dev_info, NULL);
    struct inode *pts;
    if (r == 0)
        r = devpts_new(&pts);
    if (r == 0)
        r = mount_on(mnt, "/dev/pts", pts, &g_pts_info, NULL);
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
        r = mount_on(mnt, "/sys", sys, &g_sys_info, NULL);
    if (r == 0)
        r = cgroupfs_new(&cg);
    if (r == 0)
        r = mount_on(mnt, "/sys/fs/cgroup", cg, &g_cgroup_info, NULL);
    if (r < 0) {
        log_error("vfs: mounting /sys: error %d", r);
        return r;
    }

    struct path rp = {mnt, mnt->root};
    return fs_struct_new(&rp, out_fs);
}
