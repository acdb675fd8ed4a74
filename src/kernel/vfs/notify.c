/*
 * fsnotify core: the mark table and the VFS hooks (see notify.h).
 */
#include "kernel/vfs/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/host/host.h"
#include "kernel/vfs/vfs_internal.h"

pthread_mutex_t g_fsnotify_lock = PTHREAD_MUTEX_INITIALIZER;
int g_fsnotify_nmarks;

#define HASH_SIZE 256
static struct list_head g_hash[HASH_SIZE]; /* (n) lazily initialised */
static bool g_hash_ready;                  /* (n) */

static struct list_head *bucket(const struct vfs_sb *sb, uint64_t ino)
{
    uint64_t h = ((uintptr_t)sb >> 4) ^ ino ^ (ino >> 17);
    h *= 0x9e3779b97f4a7c15ull;
    return &g_hash[h >> 56];
}

void fsnotify_mark_add_locked(struct fsnotify_mark *m, struct inode *inode)
{
    if (!g_hash_ready) {
        for (int i = 0; i < HASH_SIZE; i++)
            list_init(&g_hash[i]);
        g_hash_ready = true;
    }
    m->sb = inode->sb;
    m->ino = inode->ino;
    list_add_tail(&m->hlink, bucket(m->sb, m->ino));
    m->linked = true;
    __atomic_add_fetch(&g_fsnotify_nmarks, 1, __ATOMIC_RELAXED);
}

void fsnotify_mark_del_locked(struct fsnotify_mark *m)
{
    if (!m->linked)
        return;
    list_del(&m->hlink);
    m->linked = false;
    __atomic_sub_fetch(&g_fsnotify_nmarks, 1, __ATOMIC_RELAXED);
}

static bool is_dir(struct inode *inode)
{
    return inode && inode_is_dir(inode);
}

/* Delivers MASK to the marks on (SB, INO) that ask for it. NAME: an event
 * on a child. Lock held. */
static void deliver_locked(struct vfs_sb *sb, uint64_t ino, uint32_t mask, uint32_t cookie,
                           const char *name, bool unlinked)
{
    if (!g_hash_ready)
        return;
    struct list_head *b = bucket(sb, ino);
    struct fsnotify_mark *m, *n;
    list_for_each_entry_safe (m, n, b, hlink) {
        if (m->sb != sb || m->ino != ino)
            continue;
        if (!(mask & m->mask & FSN_ALL_EVENTS))
            continue;
        if (name && unlinked && (m->mask & FSN_EXCL_UNLINK))
            continue;
        m->ops->event(m, mask, cookie, name);
    }
}

void fsnotify(uint32_t mask, struct inode *inode, struct inode *dir, const char *name,
              uint32_t cookie, bool unlinked)
{
    pthread_mutex_lock(&g_fsnotify_lock);
    if (dir && name)
        deliver_locked(dir->sb, dir->ino, mask, cookie, name, unlinked);
    if (inode)
        deliver_locked(inode->sb, inode->ino, mask, cookie, NULL, false);
    pthread_mutex_unlock(&g_fsnotify_lock);
}

/* DELETE_SELF to INODE's marks, then each mark is dropped (IN_IGNORED). */
static void inode_gone(struct inode *inode)
{
    pthread_mutex_lock(&g_fsnotify_lock);
    /* Linux 6.x sends the self events without IN_ISDIR. */
    uint32_t mask = FSN_DELETE_SELF;
    deliver_locked(inode->sb, inode->ino, mask, 0, NULL, false);
    if (g_hash_ready) {
        struct list_head *b = bucket(inode->sb, inode->ino);
        struct fsnotify_mark *m, *n;
        list_for_each_entry_safe (m, n, b, hlink) {
            if (m->sb == inode->sb && m->ino == inode->ino)
                m->ops->gone(m);
        }
    }
    pthread_mutex_unlock(&g_fsnotify_lock);
}

/* ---- hooks ---- */

void fsnotify_dentry_slow(struct dentry *d, struct inode *fallback, uint32_t mask)
{
    struct inode *inode = d ? dentry_inode(d) : NULL;
    if (!inode && fallback) {
        inode = fallback;
        inode_get(inode);
    }
    if (!inode)
        return;
    if (is_dir(inode))
        mask |= FSN_ISDIR;
    struct dentry *pd = d ? d_parent(d) : NULL;
    struct inode *dir = pd ? dentry_inode(pd) : NULL;
    char *name = NULL;
    bool dead = false;
    if (dir) {
        pthread_mutex_lock(&g_dcache_lock);
        name = strdup(d->name);
        dead = d->dead;
        pthread_mutex_unlock(&g_dcache_lock);
    }
    fsnotify(mask, inode, name ? dir : NULL, name, 0, dead);
    free(name);
    inode_put(dir);
    if (pd)
        dentry_put(pd);
    inode_put(inode);
}

void fsnotify_path_slow(const struct path *p, struct inode *inode, uint32_t mask)
{
    fsnotify_dentry_slow(p->dentry, inode, mask);
}

void fsnotify_file_slow(struct file *f, uint32_t mask)
{
    fsnotify_dentry_slow(f->path.dentry, f->inode, mask);
}

void fsnotify_open(struct file *f)
{
    if (!(f->fmode & FMODE_PATH))
        fsnotify_file(f, FSN_OPEN);
}

void fsnotify_close(struct file *f)
{
    if (!(f->fmode & FMODE_PATH))
        fsnotify_file(f, (f->fmode & FMODE_WRITE) ? FSN_CLOSE_WRITE : FSN_CLOSE_NOWRITE);
}

void fsnotify_name_slow(struct dentry *dir, const char *name, struct inode *child, uint32_t mask,
                        uint32_t cookie)
{
    struct inode *di = dentry_inode(dir);
    if (!di)
        return;
    if (is_dir(child))
        mask |= FSN_ISDIR;
    fsnotify(mask, NULL, di, name, cookie, false);
    inode_put(di);
}

void fsnotify_inode_slow(struct inode *inode, uint32_t mask)
{
    fsnotify(mask, inode, NULL, NULL, 0, false);
}

void fsnotify_link(struct dentry *dir, const char *name, struct inode *inode)
{
    if (!fsnotify_active())
        return;
    fsnotify_inode_slow(inode, FSN_ATTRIB);
    fsnotify_name_slow(dir, name, inode, FSN_CREATE, 0);
}

/* TARGET (at dentry D) lost its last name: DELETE_SELF now if nobody else
 * holds D (the caller's reference only), else when D is freed, as Linux
 * sends it from the last dput of an unlinked dentry. */
static void last_name_gone(struct dentry *d, struct inode *target)
{
    pthread_mutex_lock(&g_dcache_lock);
    bool busy = d->count > 1;
    if (busy)
        d->notify_gone = true;
    pthread_mutex_unlock(&g_dcache_lock);
    if (!busy)
        inode_gone(target);
}

void fsnotify_unlink(struct dentry *dir, const char *name, struct dentry *child,
                     struct inode *victim, bool last)
{
    if (!fsnotify_active())
        return;
    if (!is_dir(victim))
        fsnotify_inode_slow(victim, FSN_ATTRIB);
    if (last)
        last_name_gone(child, victim);
    fsnotify_name_slow(dir, name, victim, FSN_DELETE, 0);
}

static uint32_t new_cookie(void)
{
    static uint32_t g_cookie;
    uint32_t c;
    do
        c = __atomic_add_fetch(&g_cookie, 1, __ATOMIC_RELAXED);
    while (c == 0);
    return c;
}

void fsnotify_rename(struct dentry *odir, const char *oname, struct dentry *ndir, const char *nname,
                     struct dentry *srcd, struct inode *src, struct dentry *tgtd,
                     struct inode *target, bool target_last)
{
    if (!fsnotify_active())
        return;
    (void)srcd;
    uint32_t cookie = new_cookie();
    fsnotify_name_slow(odir, oname, src, FSN_MOVED_FROM, cookie);
    fsnotify_name_slow(ndir, nname, src, FSN_MOVED_TO, cookie);
    if (target)
        fsnotify_inode_slow(target, FSN_ATTRIB);
    fsnotify_inode_slow(src, FSN_MOVE_SELF);
    if (target && tgtd && target_last)
        last_name_gone(tgtd, target);
}

void fsnotify_exchange(struct dentry *odir, const char *oname, struct inode *a, struct dentry *ndir,
                       const char *nname, struct inode *b)
{
    if (!fsnotify_active())
        return;
    uint32_t cookie = new_cookie();
    fsnotify_name_slow(odir, oname, a, FSN_MOVED_FROM, cookie);
    fsnotify_name_slow(ndir, nname, a, FSN_MOVED_TO, cookie);
    fsnotify_inode_slow(a, FSN_MOVE_SELF);
    cookie = new_cookie();
    fsnotify_name_slow(ndir, nname, b, FSN_MOVED_FROM, cookie);
    fsnotify_name_slow(odir, oname, b, FSN_MOVED_TO, cookie);
    fsnotify_inode_slow(b, FSN_MOVE_SELF);
}

void fsnotify_dentry_free(struct dentry *d)
{
    if (d->notify_gone && d->inode && fsnotify_active())
        inode_gone(d->inode);
}

uint32_t fsnotify_attr_mask(unsigned valid)
{
    uint32_t mask = 0;
    if (valid & (VFS_ATTR_UID | VFS_ATTR_GID | VFS_ATTR_MODE))
        mask |= FSN_ATTRIB;
    if (valid & VFS_ATTR_SIZE)
        mask |= FSN_MODIFY;
    if ((valid & (VFS_ATTR_ATIME | VFS_ATTR_MTIME)) == (VFS_ATTR_ATIME | VFS_ATTR_MTIME))
        mask |= FSN_ATTRIB;
    else if (valid & VFS_ATTR_ATIME)
        mask |= FSN_ACCESS;
    else if (valid & VFS_ATTR_MTIME)
        mask |= FSN_MODIFY;
    return mask;
}

int fsnotify_lookup(struct task *t, const char *path, bool follow, bool dir, struct inode **out)
{
    struct path p;
    int r = vfs_resolve_path(t, AT_FDCWD, path, follow, dir, &p);
    if (r < 0)
        return r;
    struct inode *inode = p.dentry ? dentry_inode(p.dentry) : NULL;
    path_put(&p);
    if (!inode)
        return -ENOENT;
    static const struct cred root; /* all zero: root */
    r = inode_permission(inode, t ? &t->cred : &root, VFS_MAY_READ);
    if (r < 0) {
        inode_put(inode);
        return r;
    }
    *out = inode;
    return 0;
}

/* ---- limits ---- */

static struct inotify_limits g_limits = {.max_queued_events = 16384, .max_user_instances = 128};

/* Linux's default for max_user_watches: 1% of memory at its per-watch cost
 * (a mark plus two inodes, about 1.3 KiB on x86-64), within [8192, 1M]. */
#define INOTIFY_WATCH_COST 1312

void inotify_get_limits(struct inotify_limits *out)
{
    pthread_mutex_lock(&g_fsnotify_lock);
    if (g_limits.max_user_watches == 0) {
        uint64_t total = 0, avail = 0;
        host_meminfo(&total, &avail);
        uint64_t w = total / 100 / INOTIFY_WATCH_COST;
        if (w < 8192)
            w = 8192;
        if (w > 1048576)
            w = 1048576;
        g_limits.max_user_watches = (int)w;
    }
    *out = g_limits;
    pthread_mutex_unlock(&g_fsnotify_lock);
}

int inotify_set_limit(int which, long value)
{
    if (value < 0 || value > INT32_MAX)
        return -EINVAL;
    struct inotify_limits cur;
    inotify_get_limits(&cur);
    pthread_mutex_lock(&g_fsnotify_lock);
    if (which == 0)
        g_limits.max_queued_events = (int)value;
    else if (which == 1)
        g_limits.max_user_instances = (int)value;
    else
        g_limits.max_user_watches = (int)value;
    pthread_mutex_unlock(&g_fsnotify_lock);
    return 0;
}
