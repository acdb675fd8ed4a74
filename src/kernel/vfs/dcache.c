/*
 * Dentries (with a cache of unused ones), mounts and paths.
 *
 * A cached dentry is linked in its parent's children; it holds a count on
 * its parent and its inode, the parent's list holds none on it. When its
 * count drops to zero a cached dentry stays (on the LRU) until evicted; an
 * uncached one (dead, or from a nocache file system) is freed. Only leaves
 * can be unused (children count their parent), so eviction goes leaf first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/vfs/notify.h"
#include "kernel/vfs/vfs_internal.h"
#include "lib/log.h"

pthread_mutex_t g_dcache_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_vfs_ns_lock = PTHREAD_MUTEX_INITIALIZER;

static struct list_head g_dentry_lru = LIST_HEAD_INIT(g_dentry_lru); /* (d) */
static size_t g_lru_len;                                            /* (d) */
static struct list_head g_mounts = LIST_HEAD_INIT(g_mounts);        /* (d) */
static struct mount *g_root_mnt;                                    /* (c) after vfs_init */

/* Unused dentries kept; each may pin a host fd (hostfs). */
#define DCACHE_LRU_MAX 4096

static struct dentry *dentry_alloc(const char *name, struct dentry *parent, struct inode *inode)
{
    struct dentry *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->name = strdup(name);
    if (!d->name) {
        free(d);
        return NULL;
    }
    d->count = 1;
    d->parent = parent;
    d->inode = inode;
    list_init(&d->children);
    list_init(&d->sibling);
    list_init(&d->lru);
    return d;
}

struct dentry *dentry_new_root(struct inode *inode)
{
    struct dentry *d = dentry_alloc("/", NULL, inode);
    if (d)
        inode_get(inode);
    return d;
}

void dentry_get(struct dentry *d)
{
    pthread_mutex_lock(&g_dcache_lock);
    if (d->count++ == 0) {
        list_del(&d->lru);
        g_lru_len--;
    }
    pthread_mutex_unlock(&g_dcache_lock);
}

static void dentry_get_locked(struct dentry *d)
{
    if (d->count++ == 0) {
        list_del(&d->lru);
        g_lru_len--;
    }
}

/* Unlinks D (count 0) from the tree; the caller then frees it with
 * dentry_free() outside the lock. */
static void dentry_unhash_locked(struct dentry *d)
{
    if (d->cached) {
        list_del(&d->sibling);
        d->cached = false;
    }
}

/* Frees D and returns its parent, whose count the caller must drop. */
static struct dentry *dentry_free(struct dentry *d)
{
    struct dentry *parent = d->parent;
    fsnotify_dentry_free(d);
    inode_put(d->inode);
    free(d->name);
    free(d);
    return parent;
}

/* Evicts unused dentries beyond KEEP; called with g_dcache_lock held.
 * Returns a list (linked through ->lru) to free after unlocking. */
static void dcache_evict_locked(size_t keep, struct list_head *out)
{
    while (g_lru_len > keep && !list_empty(&g_dentry_lru)) {
        struct dentry *v = list_first_entry(&g_dentry_lru, struct dentry, lru);
        list_del(&v->lru);
        g_lru_len--;
        dentry_unhash_locked(v);
        list_add_tail(&v->lru, out);
    }
}

static void dentry_free_list(struct list_head *victims)
{
    struct dentry *v, *n;
    list_for_each_entry_safe(v, n, victims, lru)
    {
        list_del(&v->lru);
        dentry_put(dentry_free(v));
    }
}

void dentry_put(struct dentry *d)
{
    struct list_head victims = LIST_HEAD_INIT(victims);

    while (d) {
        pthread_mutex_lock(&g_dcache_lock);
        if (d->count <= 0)
            refcount_underflow(__FILE__, __LINE__);
        if (--d->count > 0) {
            pthread_mutex_unlock(&g_dcache_lock);
            break;
        }
        if (d->cached && !d->dead) {
            list_add_tail(&d->lru, &g_dentry_lru);
            g_lru_len++;
            dcache_evict_locked(DCACHE_LRU_MAX, &victims);
            pthread_mutex_unlock(&g_dcache_lock);
            break;
        }
        dentry_unhash_locked(d);
        pthread_mutex_unlock(&g_dcache_lock);
        d = dentry_free(d);
    }
    dentry_free_list(&victims);
}

void dcache_shrink(size_t keep)
{
    struct list_head victims = LIST_HEAD_INIT(victims);
    /* Freeing victims puts parents on the LRU: repeat until stable. */
    for (;;) {
        pthread_mutex_lock(&g_dcache_lock);
        dcache_evict_locked(keep, &victims);
        pthread_mutex_unlock(&g_dcache_lock);
        if (list_empty(&victims))
            break;
        dentry_free_list(&victims);
    }
}

struct inode *dentry_inode(struct dentry *d)
{
    pthread_mutex_lock(&g_dcache_lock);
    struct inode *inode = d->inode;
    if (inode)
        inode_get(inode);
    pthread_mutex_unlock(&g_dcache_lock);
    return inode;
}

struct dentry *d_parent(struct dentry *d)
{
    pthread_mutex_lock(&g_dcache_lock);
    struct dentry *p = d->parent;
    if (p)
        dentry_get_locked(p);
    pthread_mutex_unlock(&g_dcache_lock);
    return p;
}

bool d_is_dead(struct dentry *d)
{
    pthread_mutex_lock(&g_dcache_lock);
    bool dead = d->dead;
    pthread_mutex_unlock(&g_dcache_lock);
    return dead;
}

bool d_is_ancestor(struct dentry *anc, struct dentry *d)
{
    pthread_mutex_lock(&g_dcache_lock);
    bool r = false;
    for (; d; d = d->parent) {
        if (d == anc) {
            r = true;
            break;
        }
    }
    pthread_mutex_unlock(&g_dcache_lock);
    return r;
}

static struct dentry *d_find_child_locked(struct dentry *parent, const char *name)
{
    struct dentry *c;
    list_for_each_entry(c, &parent->children, sibling)
    {
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

int d_lookup(struct dentry *parent, const char *name, bool ns_locked, struct dentry **out)
{
    pthread_mutex_lock(&g_dcache_lock);
    struct dentry *c = d_find_child_locked(parent, name);
    if (c) {
        dentry_get_locked(c);
        pthread_mutex_unlock(&g_dcache_lock);
        *out = c;
        return 0;
    }
    pthread_mutex_unlock(&g_dcache_lock);

    if (!ns_locked)
        pthread_mutex_lock(&g_vfs_ns_lock);
    int r = 0;
    pthread_mutex_lock(&g_dcache_lock);
    c = d_find_child_locked(parent, name);
    if (c) {
        dentry_get_locked(c);
        pthread_mutex_unlock(&g_dcache_lock);
        *out = c;
        goto out_unlock_ns;
    }
    struct inode *dir = parent->inode;
    bool dead = parent->dead;
    if (dir)
        inode_get(dir);
    pthread_mutex_unlock(&g_dcache_lock);

    struct inode *inode = NULL;
    if (!dir || dead)
        r = -ENOENT;
    else if (!dir->ops->lookup)
        r = -ENOTDIR;
    else
        r = dir->ops->lookup(dir, name, &inode);
    if (r == -ENOENT && dir && !dead)
        r = 0; /* a negative dentry */
    if (r < 0)
        goto out_put_dir;

    c = dentry_alloc(name, parent, inode);
    if (!c) {
        inode_put(inode);
        r = -ENOMEM;
        goto out_put_dir;
    }
    pthread_mutex_lock(&g_dcache_lock);
    dentry_get_locked(parent);
    if (!dir->sb->nocache) {
        list_add(&c->sibling, &parent->children);
        c->cached = true;
    }
    pthread_mutex_unlock(&g_dcache_lock);
    *out = c;
out_put_dir:
    inode_put(dir);
out_unlock_ns:
    if (!ns_locked)
        pthread_mutex_unlock(&g_vfs_ns_lock);
    return r;
}

void d_instantiate(struct dentry *d, struct inode *inode)
{
    inode_get(inode);
    pthread_mutex_lock(&g_dcache_lock);
    struct inode *old = d->inode;
    d->inode = inode;
    pthread_mutex_unlock(&g_dcache_lock);
    inode_put(old);
}

void d_delete(struct dentry *d)
{
    pthread_mutex_lock(&g_dcache_lock);
    d->dead = true;
    dentry_unhash_locked(d);
    pthread_mutex_unlock(&g_dcache_lock);
}

int d_move(struct dentry *d, struct dentry *newparent, const char *newname)
{
    char *name = strdup(newname);
    if (!name)
        return -ENOMEM;
    struct dentry *oldparent;
    pthread_mutex_lock(&g_dcache_lock);
    struct dentry *other = d_find_child_locked(newparent, newname);
    if (other && other != d) {
        other->dead = true;
        dentry_unhash_locked(other);
    }
    free(d->name);
    d->name = name;
    oldparent = d->parent;
    dentry_get_locked(newparent);
    d->parent = newparent;
    if (d->cached)
        list_del(&d->sibling);
    list_add(&d->sibling, &newparent->children);
    d->cached = true;
    pthread_mutex_unlock(&g_dcache_lock);
    dentry_put(oldparent);
    return 0;
}

void d_exchange(struct dentry *a, struct dentry *b)
{
    pthread_mutex_lock(&g_dcache_lock);
    char *name = a->name;
    a->name = b->name;
    b->name = name;
    struct dentry *parent = a->parent; /* each parent keeps its one count */
    a->parent = b->parent;
    b->parent = parent;
    if (a->cached)
        list_del(&a->sibling);
    if (b->cached)
        list_del(&b->sibling);
    if (a->cached)
        list_add(&a->sibling, &a->parent->children);
    if (b->cached)
        list_add(&b->sibling, &b->parent->children);
    pthread_mutex_unlock(&g_dcache_lock);
}

void path_get(const struct path *p)
{
    if (p->dentry)
        dentry_get(p->dentry);
}

void path_put(struct path *p)
{
    /* A use of the mount: an umount2(MNT_EXPIRE) mark goes (Linux's
     * mntput; umount2 itself drops its path without this). */
    if (p->dentry && p->mnt && __atomic_load_n(&p->mnt->expiry_mark, __ATOMIC_RELAXED))
        __atomic_store_n(&p->mnt->expiry_mark, 0, __ATOMIC_RELAXED);
    if (p->dentry)
        dentry_put(p->dentry);
    p->dentry = NULL;
    p->mnt = NULL;
}

struct mount *lookup_mnt(struct mount *mnt, struct dentry *d)
{
    struct mount *m, *found = NULL;
    pthread_mutex_lock(&g_dcache_lock);
    if (d->mounted) {
        list_for_each_entry(m, &g_mounts, link)
        {
            if (m->parent == mnt && m->mountpoint == d && !m->detached_top)
                found = m; /* the last one mounted is on top */
        }
    }
    pthread_mutex_unlock(&g_dcache_lock);
    return found;
}

bool mnt_is_readonly(const struct mount *mnt)
{
    if (!mnt)
        return false;
    return (mnt_flags(mnt) & VFS_MNT_RDONLY) || __atomic_load_n(&mnt->sb->rdonly, __ATOMIC_RELAXED);
}

int mnt_want_write(const struct mount *mnt)
{
    return mnt_is_readonly(mnt) ? -EROFS : 0;
}

/* Mount ids as a container's mountinfo shows them: its root's parent (20)
 * lies outside the sandbox. */
static int g_next_mnt_id = 21;

static struct mount *mount_alloc(struct vfs_sb *sb, struct dentry *root,
                                 const struct vfs_mount_info *info, unsigned flags)
{
    struct mount *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    dentry_get(root);
    m->root = root;
    m->sb = sb;
    m->info = info;
    m->flags = flags & VFS_MNT_USER_MASK;
    m->id = __atomic_fetch_add(&g_next_mnt_id, 1, __ATOMIC_RELAXED);
    m->attached = true;
    list_init(&m->link);
    return m;
}

struct mount *vfs_mount_root(struct vfs_sb *sb, struct dentry *root,
                             const struct vfs_mount_info *info, unsigned flags)
{
    struct mount *m = mount_alloc(sb, root, info, flags);
    if (!m)
        return NULL;
    pthread_mutex_lock(&g_dcache_lock);
    list_add_tail(&m->link, &g_mounts);
    if (!g_root_mnt)
        g_root_mnt = m;
    pthread_mutex_unlock(&g_dcache_lock);
    return m;
}

int vfs_mount(const struct path *at, struct vfs_sb *sb, struct dentry *root,
              const struct vfs_mount_info *info, unsigned flags, struct mount **out_mnt)
{
    struct inode *inode = dentry_inode(at->dentry);
    struct inode *rinode = dentry_inode(root);
    int r = 0;
    if (!inode || !rinode)
        r = -ENOENT;
    else if (inode_is_dir(inode) != inode_is_dir(rinode))
        r = -ENOTDIR; /* a directory on a directory, a file on a file */
    inode_put(inode);
    inode_put(rinode);
    if (r < 0)
        return r;
    struct mount *m = mount_alloc(sb, root, info, flags);
    if (!m)
        return -ENOMEM;
    dentry_get(at->dentry);
    m->mountpoint = at->dentry;
    pthread_mutex_lock(&g_dcache_lock);
    m->parent = at->mnt;
    at->dentry->mounted++;
    list_add_tail(&m->link, &g_mounts);
    pthread_mutex_unlock(&g_dcache_lock);
    if (out_mnt)
        *out_mnt = m;
    return 0;
}

/* Whether M is MNT or below it. g_dcache_lock held. */
static bool mnt_below_locked(struct mount *m, struct mount *mnt)
{
    for (; m; m = m->parent)
        if (m == mnt)
            return true;
    return false;
}

static bool mnt_has_children_locked(struct mount *mnt)
{
    struct mount *m;
    list_for_each_entry(m, &g_mounts, link)
    {
        if (m->parent == mnt && m->attached)
            return true;
    }
    return false;
}

int vfs_mount_detach(struct mount *mnt, bool tree)
{
    int r = 0;
    pthread_mutex_lock(&g_dcache_lock);
    if (!mnt->attached || !mnt->parent || mnt == g_root_mnt)
        r = -EINVAL;
    else if (!tree && mnt_has_children_locked(mnt))
        r = -EBUSY;
    if (r == 0) {
        /* The detached tree stays connected inside (as Linux's lazy
         * umount leaves it): open files and cwds in it keep working and
         * see its submounts; it only leaves the sandbox's tree. The
         * mounts are never freed. */
        struct mount *m;
        list_for_each_entry(m, &g_mounts, link)
        {
            if (m->attached && mnt_below_locked(m, mnt))
                m->attached = false;
        }
        mnt->detached_top = true;
        mnt->mountpoint->mounted--;
    }
    pthread_mutex_unlock(&g_dcache_lock);
    return r;
}

int vfs_mount_move(struct mount *mnt, const struct path *to)
{
    struct inode *inode = dentry_inode(to->dentry);
    struct inode *rinode = dentry_inode(mnt->root);
    int r = 0;
    if (!inode || !rinode)
        r = -ENOENT;
    else if (inode_is_dir(inode) != inode_is_dir(rinode))
        r = -ENOTDIR;
    inode_put(inode);
    inode_put(rinode);
    if (r < 0)
        return r;
    dentry_get(to->dentry);
    pthread_mutex_lock(&g_dcache_lock);
    if (mnt_below_locked(to->mnt, mnt)) {
        pthread_mutex_unlock(&g_dcache_lock);
        dentry_put(to->dentry);
        return -ELOOP; /* onto itself or below: Linux says ELOOP */
    }
    struct dentry *old = mnt->mountpoint;
    if (old)
        old->mounted--;
    mnt->parent = to->mnt;
    mnt->mountpoint = to->dentry;
    to->dentry->mounted++;
    /* Keep the list in tree order: a moved mount goes after its new
     * parent's, with everything below it. */
    list_del(&mnt->link);
    list_add_tail(&mnt->link, &g_mounts);
    struct mount *m, *n;
    struct list_head moved = LIST_HEAD_INIT(moved);
    list_for_each_entry_safe(m, n, &g_mounts, link)
    {
        if (m != mnt && mnt_below_locked(m, mnt)) {
            list_del(&m->link);
            list_add_tail(&m->link, &moved);
        }
    }
    while (!list_empty(&moved)) {
        m = list_first_entry(&moved, struct mount, link);
        list_del(&m->link);
        list_add_tail(&m->link, &g_mounts);
    }
    pthread_mutex_unlock(&g_dcache_lock);
    if (old)
        dentry_put(old);
    return 0;
}

int vfs_mount_pivot(struct mount *new_root, const struct path *put_old)
{
    struct mount *old_root = g_root_mnt;
    /* new_root leaves its mount point and becomes the tree's root; the old
     * root goes on PUT_OLD (which is inside new_root). */
    dentry_get(put_old->dentry);
    pthread_mutex_lock(&g_dcache_lock);
    struct dentry *nmp = new_root->mountpoint;
    nmp->mounted--;
    new_root->parent = NULL;
    new_root->mountpoint = NULL;
    old_root->parent = put_old->mnt;
    old_root->mountpoint = put_old->dentry;
    put_old->dentry->mounted++;
    g_root_mnt = new_root;
    /* Tree order: the new root first. */
    list_del(&new_root->link);
    list_add(&new_root->link, &g_mounts);
    struct mount *m, *n;
    struct list_head below = LIST_HEAD_INIT(below);
    list_for_each_entry_safe(m, n, &g_mounts, link)
    {
        if (m != new_root && mnt_below_locked(m, new_root) && !mnt_below_locked(m, old_root)) {
            list_del(&m->link);
            list_add_tail(&m->link, &below);
        }
    }
    struct list_head *at = &new_root->link;
    while (!list_empty(&below)) {
        m = list_first_entry(&below, struct mount, link);
        list_del(&m->link);
        list_add(&m->link, at);
        at = &m->link;
    }
    pthread_mutex_unlock(&g_dcache_lock);
    dentry_put(nmp);
    return 0;
}

int vfs_mount_up(const struct path *p, struct path *out)
{
    pthread_mutex_lock(&g_dcache_lock);
    struct mount *parent = p->mnt->detached_top ? NULL : p->mnt->parent;
    struct dentry *mp = p->mnt->mountpoint;
    if (parent)
        dentry_get_locked(mp);
    pthread_mutex_unlock(&g_dcache_lock);
    if (!parent)
        return -ENOENT;
    out->mnt = parent;
    out->dentry = mp;
    return 0;
}

size_t vfs_mounts_snapshot(struct mount **out, size_t max)
{
    size_t n = 0;
    struct mount *m;
    pthread_mutex_lock(&g_dcache_lock);
    list_for_each_entry(m, &g_mounts, link)
    {
        if (!m->attached)
            continue;
        if (n < max)
            out[n] = m;
        n++;
    }
    pthread_mutex_unlock(&g_dcache_lock);
    return n;
}

struct mount *vfs_find_mount_of_type(const char *fstype)
{
    struct mount *m, *found = NULL;
    pthread_mutex_lock(&g_dcache_lock);
    list_for_each_entry(m, &g_mounts, link)
    {
        if (m->attached && m->info && strcmp(m->info->fstype, fstype) == 0 &&
            m->root->parent == NULL) {
            found = m;
            break;
        }
    }
    pthread_mutex_unlock(&g_dcache_lock);
    return found;
}

bool vfs_mount_is_attached(struct mount *mnt)
{
    pthread_mutex_lock(&g_dcache_lock);
    bool a = mnt->attached;
    pthread_mutex_unlock(&g_dcache_lock);
    return a;
}

void vfs_root_path(struct path *out)
{
    out->mnt = g_root_mnt;
    out->dentry = g_root_mnt ? g_root_mnt->root : NULL;
    path_get(out);
}

int vfs_path_string(const struct path *p, const struct path *root, char *buf, size_t size,
                    bool mark_dead)
{
    static const char deleted[] = " (deleted)";
    if (size < 2)
        return -ENAMETOOLONG;
    size_t end = size - 1, pos = end;
    buf[end] = '\0';
    struct mount *mnt = p->mnt;
    struct dentry *d = p->dentry;
    int r = 0;

    pthread_mutex_lock(&g_dcache_lock);
    bool dead = d->dead;
    while (!(mnt == root->mnt && d == root->dentry)) {
        if (d == mnt->root || !d->parent) {
            if (!mnt->parent)
                break; /* outside ROOT: shown from the sandbox root */
            d = mnt->mountpoint;
            mnt = mnt->parent;
            continue;
        }
        size_t len = strlen(d->name);
        if (len + 1 > pos) {
            r = -ENAMETOOLONG;
            break;
        }
        pos -= len;
        memcpy(buf + pos, d->name, len);
        buf[--pos] = '/';
        d = d->parent;
    }
    pthread_mutex_unlock(&g_dcache_lock);
    if (r < 0)
        return r;
    if (pos == end) {
        if (pos < 1)
            return -ENAMETOOLONG;
        buf[--pos] = '/';
    }
    size_t len = end - pos;
    memmove(buf, buf + pos, len + 1);
    if (dead && mark_dead) {
        if (len + sizeof(deleted) > size)
            return -ENAMETOOLONG;
        memcpy(buf + len, deleted, sizeof(deleted));
        len += sizeof(deleted) - 1;
    }
    return (int)len;
}

bool vfs_path_is_under(const struct path *p, const struct path *root)
{
    bool r = false;
    struct mount *mnt = p->mnt;
    struct dentry *d = p->dentry;
    pthread_mutex_lock(&g_dcache_lock);
    for (;;) {
        if (mnt == root->mnt) {
            for (struct dentry *x = d; x; x = x->parent)
                if (x == root->dentry) {
                    r = true;
                    break;
                }
            if (r)
                break;
        }
        if (d == mnt->root || !d->parent) {
            if (!mnt->parent || mnt->detached_top)
                break;
            d = mnt->mountpoint;
            mnt = mnt->parent;
            continue;
        }
        d = d->parent;
    }
    pthread_mutex_unlock(&g_dcache_lock);
    return r;
}

int vfs_dentry_fs_path(struct dentry *d, char *buf, size_t size)
{
    if (size < 2)
        return -ENAMETOOLONG;
    size_t pos = size - 1;
    buf[pos] = '\0';
    int r = 0;
    pthread_mutex_lock(&g_dcache_lock);
    for (; d->parent; d = d->parent) {
        size_t len = strlen(d->name);
        if (len + 1 > pos) {
            r = -ENAMETOOLONG;
            break;
        }
        pos -= len;
        memcpy(buf + pos, d->name, len);
        buf[--pos] = '/';
    }
    pthread_mutex_unlock(&g_dcache_lock);
    if (r < 0)
        return r;
    if (pos == size - 1)
        buf[--pos] = '/';
    size_t len = size - 1 - pos;
    memmove(buf, buf + pos, len + 1);
    return (int)len;
}
