/*
 * mount(2), umount2(2), pivot_root(2) and chroot(2) inside the sandbox.
 *
 * Only a task with CAP_SYS_ADMIN (chroot: CAP_SYS_CHROOT) may call them, and only on the
 * sandbox's own tree: new tmpfs instances, further mounts of the sandbox's
 * proc and sysfs, bind mounts (recursive or not) of in-sandbox directories
 * and files, MS_MOVE, remounts changing a mount's flags (ro, nosuid, nodev,
 * noexec, atime, nosymfollow) or its file system's read-only state, and
 * propagation types. Nothing here reaches a host path. The checks and their
 * order follow Linux's fs/namespace.c (path_mount, do_umount, pivot_root).
 * Unmounted mounts are never freed: what is open inside keeps working.
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
#define L_MS_NOSYMFOLLOW 0x100
#define L_MS_NOATIME     0x400
#define L_MS_NODIRATIME  0x800
#define L_MS_BIND        0x1000
#define L_MS_MOVE        0x2000
#define L_MS_REC         0x4000
#define L_MS_SILENT      0x8000
#define L_MS_UNBINDABLE  (1 << 17)
#define L_MS_PRIVATE     (1 << 18)
#define L_MS_SLAVE       (1 << 19)
#define L_MS_SHARED      (1 << 20)
#define L_MS_RELATIME    (1 << 21)
#define L_MS_STRICTATIME (1 << 24)
#define L_MS_NOUSER      (1ul << 31)
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
    if (r == 0 && !task_capable(t, CAP_SYS_CHROOT))
        r = -EPERM;
    if (r == 0)
        fs_set_root(t->fs, &p);
    path_put(&p);
    return r;
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

/* A copy of TEMPLATE naming SOURCE and (when not NULL) SUPER_OPTS, kept
 * forever: mounts are never freed. */
static const struct vfs_mount_info *info_with(const struct vfs_mount_info *template,
                                              const char *source, const char *super_opts)
{
    if ((!source || strcmp(source, template->source) == 0) && !super_opts)
        return template;
    struct vfs_mount_info *i = malloc(sizeof(*i));
    char *s = strdup(source ? source : template->source);
    char *o = super_opts ? strdup(super_opts) : NULL;
    if (!i || !s || (super_opts && !o)) {
        free(i);
        free(s);
        free(o);
        return template;
    }
    *i = *template;
    i->source = s;
    if (o)
        i->super_opts = o;
    return i;
}

static bool path_mounted(const struct path *p)
{
    return p->dentry == p->mnt->root;
}

/* Per-mount flags a mount(2) FLAGS asks for (Linux's path_mount). */
static unsigned mnt_flags_of(unsigned long flags, const struct mount *cur)
{
    unsigned f = 0;
    if (!(flags & L_MS_NOATIME))
        f |= VFS_MNT_RELATIME;
    if (flags & L_MS_NOSUID)
        f |= VFS_MNT_NOSUID;
    if (flags & L_MS_NODEV)
        f |= VFS_MNT_NODEV;
    if (flags & L_MS_NOEXEC)
        f |= VFS_MNT_NOEXEC;
    if (flags & L_MS_NOATIME)
        f |= VFS_MNT_NOATIME;
    if (flags & L_MS_NODIRATIME)
        f |= VFS_MNT_NODIRATIME;
    if (flags & L_MS_STRICTATIME)
        f &= ~(unsigned)(VFS_MNT_RELATIME | VFS_MNT_NOATIME);
    if (flags & L_MS_RDONLY)
        f |= VFS_MNT_RDONLY;
    if (flags & L_MS_NOSYMFOLLOW)
        f |= VFS_MNT_NOSYMFOLLOW;
    /* A remount that names no atime flag keeps the mount's. */
    if ((flags & L_MS_REMOUNT) &&
        !(flags & (L_MS_NOATIME | L_MS_NODIRATIME | L_MS_RELATIME | L_MS_STRICTATIME))) {
        f &= ~(unsigned)VFS_MNT_ATIME_MASK;
        f |= mnt_flags(cur) & VFS_MNT_ATIME_MASK;
    }
    return f;
}

/* Whether any attached mount of SB (or only MNT when not NULL) has open
 * files that may write. */
static bool has_writers(struct vfs_sb *sb, struct mount *mnt)
{
    struct mount *small[64];
    size_t n = vfs_mounts_snapshot(small, ARRAY_SIZE(small));
    bool busy = false;
    if (mnt)
        return __atomic_load_n(&mnt->writers, __ATOMIC_ACQUIRE) > 0;
    for (size_t i = 0; i < MIN(n, ARRAY_SIZE(small)); i++)
        if (small[i]->sb == sb && __atomic_load_n(&small[i]->writers, __ATOMIC_ACQUIRE) > 0)
            busy = true;
    return busy;
}

/* Sets MNT's flags to F; -EBUSY when it would turn read-only while files
 * open for writing through it exist (Linux's mnt_make_readonly). */
static int set_mount_flags(struct mount *mnt, unsigned f)
{
    if ((f & VFS_MNT_RDONLY) && !(mnt_flags(mnt) & VFS_MNT_RDONLY) && has_writers(NULL, mnt))
        return -EBUSY;
    __atomic_store_n(&mnt->flags, f, __ATOMIC_RELEASE);
    return 0;
}

/* MS_REMOUNT|MS_BIND: the mount's own flags only. */
static int do_reconfigure_mnt(const struct path *at, unsigned f)
{
    if (!path_mounted(at) || !vfs_mount_is_attached(at->mnt))
        return -EINVAL;
    return set_mount_flags(at->mnt, f);
}

/* MS_REMOUNT: the file system's read-only state and the mount's flags.
 * File-system options in DATA are not changed (tmpfs mode=, size=, proc's
 * hidepid= are accepted and ignored: FIXME when they are supported). */
static int do_remount(const struct path *at, unsigned long flags, unsigned f, const char *data)
{
    if (!path_mounted(at) || !vfs_mount_is_attached(at->mnt))
        return -EINVAL;
    struct vfs_sb *sb = at->mnt->sb;
    bool ro = flags & L_MS_RDONLY;
    if (data && *data)
        log_debug("mount: remount options \"%s\" not applied", data);
    if (ro && !__atomic_load_n(&sb->rdonly, __ATOMIC_RELAXED) && has_writers(sb, NULL))
        return -EBUSY;
    __atomic_store_n(&sb->rdonly, ro, __ATOMIC_RELEASE);
    __atomic_store_n(&at->mnt->flags, f, __ATOMIC_RELEASE);
    return 0;
}

/* MS_SHARED, MS_PRIVATE, MS_SLAVE, MS_UNBINDABLE (with MS_REC: the whole
 * subtree). One mount namespace per sandbox: the type is kept and shown in
 * mountinfo, but no mount or unmount event propagates between peers. */
static int do_change_type(const struct path *at, unsigned long flags)
{
    static int g_next_group = 1;
    if (!path_mounted(at))
        return -EINVAL;
    unsigned long type = flags & ~(unsigned long)(L_MS_REC | L_MS_SILENT);
    enum vfs_mnt_prop prop;
    switch (type) {
    case L_MS_SHARED:
        prop = VFS_PROP_SHARED;
        break;
    case L_MS_PRIVATE:
        prop = VFS_PROP_PRIVATE;
        break;
    case L_MS_SLAVE:
        prop = VFS_PROP_SLAVE;
        break;
    case L_MS_UNBINDABLE:
        prop = VFS_PROP_UNBINDABLE;
        break;
    default:
        return -EINVAL;
    }
    if (prop == VFS_PROP_SHARED)
        log_warn_once("mount: MS_SHARED recorded; events do not propagate between peers");
    struct mount *small[64];
    size_t n = MIN(vfs_mounts_snapshot(small, ARRAY_SIZE(small)), ARRAY_SIZE(small));
    for (size_t i = 0; i < n; i++) {
        struct mount *m = small[i];
        bool below = m == at->mnt;
        if (!below && (flags & L_MS_REC)) {
            struct path mp = {m, m->root};
            below = vfs_path_is_under(&mp, at);
        }
        if (!below)
            continue;
        if (prop == VFS_PROP_SHARED) {
            if (m->prop != VFS_PROP_SHARED)
                m->group = __atomic_fetch_add(&g_next_group, 1, __ATOMIC_RELAXED);
        } else if (prop == VFS_PROP_SLAVE && m->prop != VFS_PROP_SHARED) {
            /* A slave of nothing: Linux leaves it private (or unbindable
             * → private). */
            m->prop = VFS_PROP_PRIVATE;
            m->group = 0;
            continue;
        } else {
            m->group = 0;
        }
        m->prop = prop;
    }
    return 0;
}

/* MS_BIND (MS_REC: with the mounts below SRC). */
static int do_loopback(struct task *t, const struct path *at, const char *source, bool rec)
{
    if (!source || !*source)
        return -EINVAL;
    struct path src;
    int r = vfs_resolve_path(t, AT_FDCWD, source, true, false, &src);
    if (r < 0)
        return r;
    if (src.mnt->prop == VFS_PROP_UNBINDABLE || !vfs_mount_is_attached(src.mnt)) {
        path_put(&src);
        return -EINVAL;
    }
    struct mount *top;
    const struct vfs_mount_info *info = src.mnt->info ? src.mnt->info : vfs_mount_template("tmpfs");
    r = vfs_mount(at, src.mnt->sb, src.dentry, info, mnt_flags(src.mnt), &top);
    if (r < 0 || !rec) {
        path_put(&src);
        return r;
    }
    /* rbind: clone every mount below SRC, each on its clone parent. */
    struct mount *small[64], *clone[64];
    size_t n = MIN(vfs_mounts_snapshot(small, ARRAY_SIZE(small)), ARRAY_SIZE(small));
    for (size_t i = 0; i < n; i++) {
        clone[i] = NULL;
        struct mount *m = small[i];
        if (m == top || m == src.mnt)
            continue;
        struct path up;
        if (vfs_mount_up(&(struct path){m, m->root}, &up) < 0)
            continue;
        struct mount *cparent = NULL;
        if (up.mnt == src.mnt) {
            struct path mp = {m, m->root};
            if (vfs_path_is_under(&mp, &src))
                cparent = top;
        } else {
            for (size_t k = 0; k < i; k++)
                if (small[k] == up.mnt)
                    cparent = clone[k];
        }
        if (cparent && m->prop != VFS_PROP_UNBINDABLE) {
            struct path cat = {cparent, up.dentry};
            r = vfs_mount(&cat, m->sb, m->root, m->info, mnt_flags(m), &clone[i]);
        }
        path_put(&up);
        if (r < 0)
            break;
    }
    path_put(&src);
    return r;
}

/* MS_MOVE of the mount at SOURCE onto AT. */
static int do_move(struct task *t, const struct path *at, const char *source)
{
    if (!source || !*source)
        return -EINVAL;
    struct path old;
    int r = vfs_resolve_path(t, AT_FDCWD, source, true, false, &old);
    if (r < 0)
        return r;
    if (!path_mounted(&old) || !vfs_mount_is_attached(old.mnt) || !old.mnt->parent ||
        !vfs_mount_is_attached(at->mnt))
        r = -EINVAL;
    else if (old.mnt->parent->prop == VFS_PROP_SHARED)
        r = -EINVAL; /* Linux refuses moving a mount out of a shared parent */
    else
        r = vfs_mount_move(old.mnt, at);
    path_put(&old);
    return r;
}

/* A new file system instance of FSTYPE on AT. */
static int do_new_mount(const struct path *at, const char *source, const char *fstype,
                        unsigned long flags, unsigned f, const char *data)
{
    if (!fstype)
        return -EINVAL;
    if (strcmp(fstype, "tmpfs") == 0) {
        uint32_t mode;
        struct inode *root = NULL;
        int r = tmpfs_mode(data, 01777, &mode);
        if (r == 0)
            r = tmpfs_new(mode, &root);
        if (r < 0)
            return r;
        struct dentry *d = dentry_new_root(root);
        if (!d) {
            inode_put(root);
            return -ENOMEM;
        }
        root->sb->rdonly = flags & L_MS_RDONLY;
        char so[32] = "";
        if (mode != 01777)
            snprintf(so, sizeof(so), "mode=%o", mode);
        r = vfs_mount(at, root->sb, d, info_with(vfs_mount_template("tmpfs"), source, so), f, NULL);
        dentry_put(d);
        inode_put(root);
        return r;
    }
    if (strcmp(fstype, "proc") == 0 || strcmp(fstype, "sysfs") == 0 ||
        strcmp(fstype, "mqueue") == 0) {
        /* The sandbox's one instance again (as a PID namespace has one
         * procfs, an IPC namespace one mqueue). */
        struct mount *own = vfs_find_mount_of_type(fstype);
        if (!own)
            return -ENODEV;
        return vfs_mount(at, own->sb, own->root,
                         info_with(vfs_mount_template(fstype), source, NULL), f, NULL);
    }
    log_warn_once("mount: file system type %s unsupported", fstype);
    return -ENODEV;
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
    if (flags & L_MS_NOUSER) {
        r = -EINVAL;
        goto out;
    }
    if (!task_capable(t, CAP_SYS_ADMIN)) {
        r = -EPERM; /* after the lookup, as Linux orders it */
        goto out;
    }
    unsigned f = mnt_flags_of(flags, at.mnt);
    pthread_mutex_lock(&g_vfs_ns_lock);
    if ((flags & (L_MS_REMOUNT | L_MS_BIND)) == (L_MS_REMOUNT | L_MS_BIND))
        r = do_reconfigure_mnt(&at, f);
    else if (flags & L_MS_REMOUNT)
        r = do_remount(&at, flags, f, data);
    else if (d_is_dead(at.dentry))
        r = -ENOENT;
    else if (flags & L_MS_BIND)
        r = do_loopback(t, &at, source, flags & L_MS_REC);
    else if (flags & L_MS_PROPAGATION)
        r = do_change_type(&at, flags);
    else if (flags & L_MS_MOVE)
        r = do_move(t, &at, source);
    else
        r = do_new_mount(&at, source, fstype, flags, f, data);
    pthread_mutex_unlock(&g_vfs_ns_lock);
out:
    path_put(&at);
    return r;
}

struct pid_list {
    int pids[1024];
    size_t n;
};

static void collect_pid(struct thread_group *tg, void *arg)
{
    struct pid_list *l = arg;
    if (l->n < ARRAY_SIZE(l->pids) && !tg->zombie)
        l->pids[l->n++] = tg->pid;
}

/* Whether MNT is in use as Linux's propagate_mount_busy sees it: files
 * opened through it, or a process's cwd or root in it. */
static bool mount_busy(struct mount *mnt)
{
    if (__atomic_load_n(&mnt->files, __ATOMIC_ACQUIRE) > 0)
        return true;
    struct pid_list *l = calloc(1, sizeof(*l));
    if (!l)
        return false;
    task_for_each_tg(collect_pid, l);
    bool busy = false;
    for (size_t i = 0; i < l->n && !busy; i++) {
        struct thread_group *tg = task_lookup_tg(l->pids[i]);
        struct fs_struct *fs = tg ? tg_get_fs(tg) : NULL;
        if (tg)
            tg_put(tg);
        if (!fs)
            continue;
        struct path p;
        fs_get_root(fs, &p);
        busy = p.mnt == mnt;
        path_put(&p);
        fs_get_cwd(fs, &p);
        busy = busy || p.mnt == mnt;
        path_put(&p);
        fs_struct_put(fs);
    }
    free(l);
    return busy;
}

int vfs_umount(struct task *t, const char *target, int flags)
{
    if (flags & ~(L_MNT_FORCE | L_MNT_DETACH | L_MNT_EXPIRE | L_UMOUNT_NOFOLLOW))
        return -EINVAL;
    struct path at;
    int r = vfs_resolve_path(t, AT_FDCWD, target, !(flags & L_UMOUNT_NOFOLLOW), false, &at);
    if (r < 0)
        return r;
    /* The mount on top of the result, as umount's LOOKUP_MOUNTPOINT walk
     * finds it ("." after pivot_root(".", ".") names the old root). */
    vfs_follow_mounts(&at);
    struct path root;
    fs_get_root(t->fs, &root);
    if (!task_capable(t, CAP_SYS_ADMIN)) {
        r = -EPERM;
    } else if (!path_mounted(&at) || !vfs_mount_is_attached(at.mnt)) {
        r = -EINVAL; /* not a mount point */
    } else if (flags & L_MNT_EXPIRE) {
        if ((flags & (L_MNT_FORCE | L_MNT_DETACH)) || at.mnt == root.mnt)
            r = -EINVAL;
        else if (mount_busy(at.mnt))
            r = -EBUSY;
        else if (!__atomic_exchange_n(&at.mnt->expiry_mark, 1, __ATOMIC_ACQ_REL))
            r = -EAGAIN; /* marked: a second MNT_EXPIRE without use in between unmounts */
    }
    /* Without MNT_DETACH, a mount in use stays (Linux: EBUSY). */
    if (r == 0 && !(flags & L_MNT_DETACH) && mount_busy(at.mnt))
        r = -EBUSY;
    if (r == 0) {
        pthread_mutex_lock(&g_vfs_ns_lock);
        r = vfs_mount_detach(at.mnt, flags & L_MNT_DETACH);
        pthread_mutex_unlock(&g_vfs_ns_lock);
    }
    path_put(&root);
    dentry_put(at.dentry); /* not path_put: that would clear the expiry mark */
    return r;
}


/* Every process whose root or cwd is OLD moves to NEW (Linux's
 * chroot_fs_refs). */
static void move_fs_refs(const struct path *old, const struct path *nw)
{
    struct pid_list *l = calloc(1, sizeof(*l));
    if (!l)
        return;
    task_for_each_tg(collect_pid, l);
    for (size_t i = 0; i < l->n; i++) {
        struct thread_group *tg = task_lookup_tg(l->pids[i]);
        struct fs_struct *fs = tg ? tg_get_fs(tg) : NULL;
        if (tg)
            tg_put(tg);
        if (!fs)
            continue;
        struct path p;
        fs_get_root(fs, &p);
        if (path_equal(&p, old))
            fs_set_root(fs, nw);
        path_put(&p);
        fs_get_cwd(fs, &p);
        if (path_equal(&p, old))
            fs_set_cwd(fs, nw);
        path_put(&p);
        fs_struct_put(fs);
    }
    free(l);
}

int vfs_pivot_root(struct task *t, const char *new_root, const char *put_old)
{
    if (!task_capable(t, CAP_SYS_ADMIN))
        return -EPERM;
    struct path nw, old, root;
    int r = vfs_resolve_path(t, AT_FDCWD, new_root, true, true, &nw);
    if (r < 0)
        return r;
    r = vfs_resolve_path(t, AT_FDCWD, put_old, true, true, &old);
    if (r < 0) {
        path_put(&nw);
        return r;
    }
    fs_get_root(t->fs, &root);
    pthread_mutex_lock(&g_vfs_ns_lock);
    struct mount *root_mnt = root.mnt;
    struct path root_top = {0};
    if (old.mnt->prop == VFS_PROP_SHARED ||
        (nw.mnt->parent && nw.mnt->parent->prop == VFS_PROP_SHARED))
        r = -EINVAL;
    else if (!vfs_mount_is_attached(nw.mnt) || !vfs_mount_is_attached(root_mnt))
        r = -EINVAL;
    else if (d_is_dead(nw.dentry) || d_is_dead(old.dentry))
        r = -ENOENT;
    else if (nw.mnt == root_mnt || old.mnt == root_mnt)
        r = -EBUSY;
    else if (!path_mounted(&root))
        r = -EINVAL; /* the caller's root is not a mount's root (chroot) */
    else if (!path_mounted(&nw) || vfs_mount_up(&nw, &root_top) < 0)
        r = -EINVAL; /* new_root is not a mount point */
    else if (!vfs_path_is_under(&old, &nw))
        r = -EINVAL; /* put_old must be reachable from new_root */
    else if (!vfs_path_is_under(&nw, &root))
        r = -EINVAL;
    /* Only the sandbox's root mount can be pivoted away from: it plays the
     * part of a container's root, whose parent lies outside. */
    if (r == 0 && root_mnt->parent) {
        log_warn_once("pivot_root: only from the sandbox's root mount");
        r = -EINVAL;
    }
    path_put(&root_top);
    if (r == 0)
        r = vfs_mount_pivot(nw.mnt, &old);
    pthread_mutex_unlock(&g_vfs_ns_lock);
    if (r == 0) {
        struct path nroot = {nw.mnt, nw.mnt->root};
        move_fs_refs(&root, &nroot);
    }
    path_put(&root);
    path_put(&old);
    path_put(&nw);
    return r;
}
