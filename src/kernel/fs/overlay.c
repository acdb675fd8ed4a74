/*
 * overlay: the sandbox root. A read-only lower layer (hostfs over the
 * container rootfs) under a writable upper layer (tmpfs), as Linux's
 * overlayfs:
 *   - a name is looked up in the upper directory first; a whiteout there
 *     (char device 0:0) hides the lower name; an upper directory merges with
 *     a lower directory of the same name unless it is opaque;
 *   - anything that changes a lower file (open for write, truncate, chmod,
 *     chown, utimes, link, rename) first copies it up, creating its upper
 *     parents;
 *   - removing a name that exists in the lower layer leaves a whiteout;
 *     a directory created where a whiteout was is opaque;
 *   - renaming a directory that has a lower part returns -EXDEV (overlayfs
 *     without redirect_dir does the same; mv falls back to copying).
 * The host tree is never modified.
 *
 * Inode numbers: the lower inode's when there is one (kept after copy-up as
 * the upper's "origin"), else the upper's with bit 62 set.
 *
 * Lock order: ovl->lock (all overlay state: upper pointers, names, parent
 * links) -> tmpfs->lock -> inode->lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/task/task.h"
#include "lib/log.h"

#define OVL_UPPER_INO_BIT (1ull << 62)
#define COPY_CHUNK        (64 * 1024)

struct ovl_fs {
    struct vfs_sb *sb;
    pthread_mutex_t lock;
};

struct ovl_inode {
    struct inode base;
    struct ovl_fs *fs;           /* (c) */
    struct inode *upper;         /* (o) fs->lock; counted; NULL until copied up */
    struct inode *lower;         /* (c) counted; may be NULL */
    struct ovl_inode *parent;    /* (o) counted; NULL for the root */
    char *name;                  /* (o) */
};

static const struct inode_ops ovl_iops;

static struct ovl_inode *OI(struct inode *i)
{
    return container_of(i, struct ovl_inode, base);
}

static struct inode *ovl_real_locked(struct ovl_inode *o)
{
    return o->upper ? o->upper : o->lower;
}

static uint64_t ovl_ino_of(struct inode *upper, struct inode *lower)
{
    if (lower)
        return lower->ino;
    uint64_t origin = tmpfs_get_origin(upper);
    return origin ? origin : (upper->ino | OVL_UPPER_INO_BIT);
}

/* Copies mode, owner of the real inode into the overlay inode's fields
 * (used by the VFS's permission checks). */
static void ovl_sync_attrs(struct ovl_inode *o, struct inode *real)
{
    struct linux_stat st;
    if (vfs_getattr(real, &st) < 0)
        return;
    pthread_mutex_lock(&o->base.lock);
    o->base.mode = st.st_mode;
    o->base.uid = st.st_uid;
    o->base.gid = st.st_gid;
    o->base.nlink = (uint32_t)st.st_nlink;
    o->base.size = (uint64_t)st.st_size;
    pthread_mutex_unlock(&o->base.lock);
}

/* UPPER and LOWER are consumed. */
static struct ovl_inode *ovl_inode_new(struct ovl_fs *fs, struct ovl_inode *parent,
                                       const char *name, struct inode *upper, struct inode *lower)
{
    struct ovl_inode *o = calloc(1, sizeof(*o));
    char *nm = strdup(name);
    if (!o || !nm) {
        free(o);
        free(nm);
        inode_put(upper);
        inode_put(lower);
        return NULL;
    }
    struct inode *real = upper ? upper : lower;
    inode_init(&o->base, fs->sb, &ovl_iops, real->mode);
    o->base.ino = ovl_ino_of(upper, lower);
    o->fs = fs;
    o->upper = upper;
    o->lower = lower;
    o->name = nm;
    if (parent) {
        inode_get(&parent->base);
        o->parent = parent;
    }
    ovl_sync_attrs(o, real);
    return o;
}

int overlay_new(struct inode *lower, struct inode *upper, struct inode **out_root)
{
    struct ovl_fs *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return -ENOMEM;
    fs->sb = vfs_sb_new("overlay", false);
    if (!fs->sb) {
        free(fs);
        return -ENOMEM;
    }
    pthread_mutex_init(&fs->lock, NULL);
    /* The upper root takes the lower root's attributes. */
    struct linux_stat st;
    int r = vfs_getattr(lower, &st);
    if (r < 0)
        return r;
    struct vfs_attr a = {.valid = VFS_ATTR_MODE | VFS_ATTR_UID | VFS_ATTR_GID | VFS_ATTR_ATIME |
                                  VFS_ATTR_MTIME,
                         .mode = st.st_mode & 07777,
                         .uid = st.st_uid,
                         .gid = st.st_gid,
                         .atime = st.st_atim,
                         .mtime = st.st_mtim};
    vfs_setattr(upper, &a);
    inode_get(lower);
    inode_get(upper);
    struct ovl_inode *root = ovl_inode_new(fs, NULL, "/", upper, lower);
    if (!root)
        return -ENOMEM;
    *out_root = &root->base;
    return 0;
}

static int ovl_lookup(struct inode *dir, const char *name, struct inode **out)
{
    struct ovl_inode *d = OI(dir);
    struct inode *u = NULL, *l = NULL;
    int r = 0;
    pthread_mutex_lock(&d->fs->lock);
    if (d->upper) {
        r = d->upper->ops->lookup(d->upper, name, &u);
        if (r < 0 && r != -ENOENT)
            goto out_unlock;
        r = 0;
        if (u && tmpfs_is_whiteout(u)) {
            r = -ENOENT;
            goto out_unlock;
        }
    }
    bool want_lower = d->lower && (!u || (inode_is_dir(u) && !tmpfs_is_opaque(u)));
    if (d->upper && tmpfs_is_opaque(d->upper))
        want_lower = false;
    if (want_lower) {
        r = d->lower->ops->lookup(d->lower, name, &l);
        if (r < 0) {
            l = NULL;
            if (!u)
                goto out_unlock; /* -ENOENT, or the host's error */
        }
        r = 0;
        if (u && l && !(inode_is_dir(u) && inode_is_dir(l))) {
            inode_put(l);
            l = NULL;
        }
    }
    if (!u && !l) {
        r = -ENOENT;
        goto out_unlock;
    }
    struct ovl_inode *o = ovl_inode_new(d->fs, d, name, u, l);
    u = l = NULL;
    if (!o)
        r = -ENOMEM;
    else
        *out = &o->base;
out_unlock:
    pthread_mutex_unlock(&d->fs->lock);
    inode_put(u);
    inode_put(l);
    return r;
}

/* Copies O to the upper layer (with its data unless !DATA), creating the
 * upper parents first. fs->lock held. */
static int copy_up_locked(struct ovl_inode *o, bool data)
{
    if (o->upper)
        return 0;
    if (!o->parent || !o->lower)
        return -EIO;
    int r = copy_up_locked(o->parent, true);
    if (r < 0)
        return r;
    struct inode *pu = o->parent->upper, *l = o->lower, *u = NULL;
    struct linux_stat st;
    r = vfs_getattr(l, &st);
    if (r < 0)
        return r;
    struct cred owner = {.fsuid = st.st_uid, .fsgid = st.st_gid};
    uint32_t type = st.st_mode & VFS_S_IFMT;

    /* A stale whiteout cannot be there: O is visible. */
    if (type == VFS_S_IFLNK) {
        char *buf = malloc(LINUX_PATH_MAX);
        if (!buf)
            return -ENOMEM;
        r = l->ops->readlink(l, buf, LINUX_PATH_MAX - 1);
        if (r >= 0) {
            buf[r] = '\0';
            r = pu->ops->symlink(pu, o->name, buf, &owner, &u);
        }
        free(buf);
    } else {
        r = pu->ops->create(pu, o->name, st.st_mode, st.st_rdev, &owner, &u);
    }
    if (r < 0)
        return r;
    if (type == VFS_S_IFREG && data && st.st_size > 0) {
        char *buf = malloc(COPY_CHUNK);
        r = buf ? 0 : -ENOMEM;
        for (uint64_t off = 0; r == 0 && off < (uint64_t)st.st_size;) {
            ssize_t n = hostfs_pread(l, buf, COPY_CHUNK, off);
            if (n < 0)
                r = (int)n;
            if (n <= 0)
                break;
            ssize_t w = tmpfs_pwrite(u, buf, (size_t)n, off);
            if (w < 0)
                r = (int)w;
            off += (uint64_t)n;
        }
        free(buf);
        if (r < 0) {
            pu->ops->unlink(pu, o->name, u);
            inode_put(u);
            return r;
        }
    }
    if (type != VFS_S_IFLNK) {
        struct vfs_attr a = {.valid = VFS_ATTR_MODE | VFS_ATTR_ATIME | VFS_ATTR_MTIME,
                             .mode = st.st_mode & 07777,
                             .atime = st.st_atim,
                             .mtime = st.st_mtim};
        vfs_setattr(u, &a);
    }
    tmpfs_set_origin(u, o->base.ino);
    o->upper = u;
    return 0;
}

/* Removes a whiteout NAME from upper directory PU if there is one; 1 if it
 * was there. fs->lock held. */
static int drop_whiteout_locked(struct inode *pu, const char *name)
{
    struct inode *x = NULL;
    if (pu->ops->lookup(pu, name, &x) < 0)
        return 0;
    int r = 0;
    if (tmpfs_is_whiteout(x))
        r = pu->ops->unlink(pu, name, x) == 0 ? 1 : 0;
    inode_put(x);
    return r;
}

static int ovl_make(struct inode *dir, const char *name, uint32_t mode, uint64_t rdev,
                    const char *target, const struct cred *cred, struct inode **out)
{
    struct ovl_inode *d = OI(dir);
    struct inode *u = NULL;
    pthread_mutex_lock(&d->fs->lock);
    int r = copy_up_locked(d, true);
    if (r < 0)
        goto out_unlock;
    struct inode *pu = d->upper;
    bool had_whiteout = drop_whiteout_locked(pu, name) == 1;
    if (target)
        r = pu->ops->symlink(pu, name, target, cred, &u);
    else
        r = pu->ops->create(pu, name, mode, rdev, cred, &u);
    if (r < 0) {
        if (had_whiteout)
            tmpfs_make_whiteout(pu, name);
        goto out_unlock;
    }
    if (inode_is_dir(u) && had_whiteout)
        tmpfs_set_opaque(u, true);
    struct ovl_inode *o = ovl_inode_new(d->fs, d, name, u, NULL);
    if (!o)
        r = -ENOMEM;
    else
        *out = &o->base;
out_unlock:
    pthread_mutex_unlock(&d->fs->lock);
    return r;
}

static int ovl_create(struct inode *dir, const char *name, uint32_t mode, uint64_t rdev,
                      const struct cred *cred, struct inode **out)
{
    return ovl_make(dir, name, mode, rdev, NULL, cred, out);
}

static int ovl_symlink(struct inode *dir, const char *name, const char *target,
                       const struct cred *cred, struct inode **out)
{
    return ovl_make(dir, name, 0, 0, target, cred, out);
}

static int ovl_link(struct inode *dir, const char *name, struct inode *inode)
{
    struct ovl_inode *d = OI(dir), *o = OI(inode);
    if (inode->ops != &ovl_iops)
        return -EXDEV;
    pthread_mutex_lock(&d->fs->lock);
    int r = copy_up_locked(o, true);
    if (r == 0)
        r = copy_up_locked(d, true);
    if (r == 0) {
        bool had_whiteout = drop_whiteout_locked(d->upper, name) == 1;
        r = d->upper->ops->link(d->upper, name, o->upper);
        if (r < 0 && had_whiteout)
            tmpfs_make_whiteout(d->upper, name);
    }
    if (r == 0)
        ovl_sync_attrs(o, o->upper);
    pthread_mutex_unlock(&d->fs->lock);
    return r;
}

/* ---- merged listings ---- */

struct ovl_ent {
    char *name;
    uint64_t ino;
    unsigned type;
    bool whiteout;
    bool opaque_dir;
};

struct ovl_list {
    struct ovl_ent *e;
    size_t n, cap;
    /* Open-addressing index of names into e[]: -1 = empty. */
    long *idx;
    size_t nidx;
};

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static long ovl_list_find(struct ovl_list *L, const char *name)
{
    if (!L->nidx)
        return -1;
    for (size_t i = name_hash(name) & (L->nidx - 1);; i = (i + 1) & (L->nidx - 1)) {
        if (L->idx[i] < 0)
            return -1;
        if (strcmp(L->e[L->idx[i]].name, name) == 0)
            return L->idx[i];
    }
}

static int ovl_list_add(struct ovl_list *L, const char *name, uint64_t ino, unsigned type,
                    bool whiteout, bool opaque)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 32;
        struct ovl_ent *e = realloc(L->e, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        L->e = e;
        L->cap = cap;
    }
    if ((L->n + 1) * 2 > L->nidx) {
        size_t nidx = L->nidx ? L->nidx * 2 : 64;
        long *idx = malloc(nidx * sizeof(*idx));
        if (!idx)
            return -ENOMEM;
        for (size_t i = 0; i < nidx; i++)
            idx[i] = -1;
        for (size_t k = 0; k < L->n; k++) {
            size_t i = name_hash(L->e[k].name) & (nidx - 1);
            while (idx[i] >= 0)
                i = (i + 1) & (nidx - 1);
            idx[i] = (long)k;
        }
        free(L->idx);
        L->idx = idx;
        L->nidx = nidx;
    }
    char *nm = strdup(name);
    if (!nm)
        return -ENOMEM;
    L->e[L->n] = (struct ovl_ent){nm, ino, type, whiteout, opaque};
    size_t i = name_hash(name) & (L->nidx - 1);
    while (L->idx[i] >= 0)
        i = (i + 1) & (L->nidx - 1);
    L->idx[i] = (long)L->n;
    L->n++;
    return 0;
}

static void ovl_list_free(struct ovl_list *L)
{
    for (size_t i = 0; i < L->n; i++)
        free(L->e[i].name);
    free(L->e);
    free(L->idx);
}

static int upper_cb(void *arg, const char *name, struct inode *inode)
{
    struct ovl_list *L = arg;
    bool dir = inode_is_dir(inode);
    return ovl_list_add(L, name, ovl_ino_of(inode, NULL), vfs_dtype(inode->mode),
                    tmpfs_is_whiteout(inode), dir && tmpfs_is_opaque(inode));
}

struct lower_ctx {
    struct dir_emit base;
    struct ovl_list *L;
};

static int lower_emit(struct dir_emit *ctx, const char *name, size_t len, uint64_t ino,
                      unsigned type)
{
    struct lower_ctx *c = container_of(ctx, struct lower_ctx, base);
    long k = ovl_list_find(c->L, name);
    if (k >= 0) {
        struct ovl_ent *e = &c->L->e[k];
        /* A merged directory reports the lower inode number, as lookup. */
        if (!e->whiteout && !e->opaque_dir && e->type == 4 && type == 4)
            e->ino = ino;
        return 0;
    }
    return ovl_list_add(c->L, name, ino, type, false, false);
}

/* The merged listing of D (whiteouts marked). fs->lock held. */
static int merged_list_locked(struct ovl_inode *d, struct ovl_list *L)
{
    memset(L, 0, sizeof(*L));
    int r = 0;
    if (d->upper)
        r = tmpfs_list(d->upper, upper_cb, L);
    bool opaque = d->upper && tmpfs_is_opaque(d->upper);
    if (r == 0 && d->lower && !opaque) {
        struct lower_ctx c = {.base.emit = lower_emit, .L = L};
        r = d->lower->ops->readdir(d->lower, &c.base);
    }
    if (r < 0)
        ovl_list_free(L);
    return r;
}

static int ovl_readdir(struct inode *dir, struct dir_emit *ctx)
{
    struct ovl_inode *d = OI(dir);
    struct ovl_list L;
    pthread_mutex_lock(&d->fs->lock);
    int r = merged_list_locked(d, &L);
    pthread_mutex_unlock(&d->fs->lock);
    if (r < 0)
        return r;
    for (size_t i = 0; i < L.n && r == 0; i++) {
        if (!L.e[i].whiteout)
            r = ctx->emit(ctx, L.e[i].name, strlen(L.e[i].name), L.e[i].ino, L.e[i].type);
    }
    ovl_list_free(&L);
    return r;
}

/* 0 if directory D shows no entries, -ENOTEMPTY if it does. fs->lock held. */
static int check_empty_locked(struct ovl_inode *d)
{
    struct ovl_list L;
    int r = merged_list_locked(d, &L);
    if (r < 0)
        return r;
    for (size_t i = 0; i < L.n; i++) {
        if (!L.e[i].whiteout) {
            r = -ENOTEMPTY;
            break;
        }
    }
    ovl_list_free(&L);
    return r;
}

/* ---- removal and rename ---- */

static int ovl_remove(struct inode *dir, const char *name, struct inode *victim, bool rmdir)
{
    struct ovl_inode *d = OI(dir), *v = OI(victim);
    pthread_mutex_lock(&d->fs->lock);
    int r = rmdir ? check_empty_locked(v) : 0;
    if (r == 0)
        r = copy_up_locked(d, true);
    if (r < 0)
        goto out_unlock;
    struct inode *pu = d->upper;
    if (v->upper) {
        if (rmdir) {
            tmpfs_drop_whiteouts(v->upper);
            r = pu->ops->rmdir(pu, name, v->upper);
        } else {
            r = pu->ops->unlink(pu, name, v->upper);
        }
        if (r < 0)
            goto out_unlock;
    }
    if (v->lower)
        r = tmpfs_make_whiteout(pu, name);
out_unlock:
    pthread_mutex_unlock(&d->fs->lock);
    return r;
}

static int ovl_unlink(struct inode *dir, const char *name, struct inode *victim)
{
    return ovl_remove(dir, name, victim, false);
}

static int ovl_rmdir(struct inode *dir, const char *name, struct inode *victim)
{
    return ovl_remove(dir, name, victim, true);
}

static int ovl_rename(struct inode *odir, const char *oname, struct inode *src,
                      struct inode *ndir, const char *nname, struct inode *target)
{
    struct ovl_inode *od = OI(odir), *nd = OI(ndir), *s = OI(src);
    struct ovl_inode *t = target ? OI(target) : NULL;
    char *newname = strdup(nname);
    if (!newname)
        return -ENOMEM;
    pthread_mutex_lock(&od->fs->lock);
    int r = 0;
    if (inode_is_dir(src) && s->lower) {
        r = -EXDEV;
        goto out_unlock;
    }
    if (t && inode_is_dir(target)) {
        r = check_empty_locked(t);
        if (r < 0)
            goto out_unlock;
    }
    r = copy_up_locked(s, true);
    if (r == 0)
        r = copy_up_locked(od, true);
    if (r == 0)
        r = copy_up_locked(nd, true);
    if (r < 0)
        goto out_unlock;
    struct inode *opu = od->upper, *npu = nd->upper, *ut = NULL;
    if (npu->ops->lookup(npu, nname, &ut) < 0)
        ut = NULL;
    bool need_opaque = inode_is_dir(src) && ((t && t->lower) || (ut && tmpfs_is_whiteout(ut)));
    if (ut && inode_is_dir(ut))
        tmpfs_drop_whiteouts(ut);
    r = opu->ops->rename(opu, oname, s->upper, npu, nname, ut);
    inode_put(ut);
    if (r < 0)
        goto out_unlock;
    if (need_opaque)
        tmpfs_set_opaque(s->upper, true);
    if (s->lower)
        r = tmpfs_make_whiteout(opu, oname);
    inode_get(&nd->base);
    struct ovl_inode *oldparent = s->parent;
    s->parent = nd;
    free(s->name);
    s->name = newname;
    newname = NULL;
    pthread_mutex_unlock(&od->fs->lock);
    inode_put(&oldparent->base);
    return r;
out_unlock:
    pthread_mutex_unlock(&od->fs->lock);
    free(newname);
    return r;
}

/* ---- attributes, links, open ---- */

static int ovl_readlink(struct inode *inode, char *buf, size_t size)
{
    struct ovl_inode *o = OI(inode);
    pthread_mutex_lock(&o->fs->lock);
    struct inode *real = ovl_real_locked(o);
    inode_get(real);
    pthread_mutex_unlock(&o->fs->lock);
    int r = real->ops->readlink ? real->ops->readlink(real, buf, size) : -EINVAL;
    inode_put(real);
    return r;
}

static int ovl_getattr(struct inode *inode, struct linux_stat *st)
{
    struct ovl_inode *o = OI(inode);
    pthread_mutex_lock(&o->fs->lock);
    struct inode *real = ovl_real_locked(o);
    inode_get(real);
    pthread_mutex_unlock(&o->fs->lock);
    int r = vfs_getattr(real, st);
    inode_put(real);
    st->st_dev = inode->sb->dev;
    st->st_ino = inode->ino;
    return r;
}

static int ovl_setattr(struct inode *inode, const struct vfs_attr *attr)
{
    struct ovl_inode *o = OI(inode);
    pthread_mutex_lock(&o->fs->lock);
    bool data = !((attr->valid & VFS_ATTR_SIZE) && attr->size == 0);
    int r = copy_up_locked(o, data);
    if (r == 0)
        r = vfs_setattr(o->upper, attr);
    if (r == 0)
        ovl_sync_attrs(o, o->upper);
    pthread_mutex_unlock(&o->fs->lock);
    return r;
}

static int ovl_open(struct inode *inode, struct file *f)
{
    struct ovl_inode *o = OI(inode);
    pthread_mutex_lock(&o->fs->lock);
    int r = 0;
    /* A FIFO is copied up on any open, so readers and writers meet on one
     * inode (and one pipe). */
    if ((f->fmode & FMODE_WRITE) || (inode->mode & VFS_S_IFMT) == VFS_S_IFIFO)
        r = copy_up_locked(o, true);
    struct inode *real = ovl_real_locked(o);
    inode_get(real);
    pthread_mutex_unlock(&o->fs->lock);
    if (r < 0) {
        inode_put(real);
        return r;
    }
    /* I/O goes to the real inode; the name (f->path) stays the overlay's. */
    inode_put(f->inode);
    f->inode = real;
    if (!real->ops->open)
        return -ENXIO;
    return real->ops->open(real, f);
}

/* Extended attributes: read from the real inode (a host lower file has
 * none: its host xattrs are never read), written to the upper one after a
 * copy-up. */
static struct inode *ovl_real_get(struct ovl_inode *o)
{
    pthread_mutex_lock(&o->fs->lock);
    struct inode *real = ovl_real_locked(o);
    inode_get(real);
    pthread_mutex_unlock(&o->fs->lock);
    return real;
}

static ssize_t ovl_getxattr(struct inode *inode, const char *name, void *buf, size_t size)
{
    struct inode *real = ovl_real_get(OI(inode));
    ssize_t r = real->ops->getxattr ? real->ops->getxattr(real, name, buf, size) : -ENODATA;
    inode_put(real);
    return r;
}

static ssize_t ovl_listxattr(struct inode *inode, char *buf, size_t size)
{
    struct inode *real = ovl_real_get(OI(inode));
    ssize_t r = real->ops->listxattr ? real->ops->listxattr(real, buf, size) : 0;
    inode_put(real);
    return r;
}

/* The upper inode of O after a copy-up (new reference), or -errno. */
static int ovl_upper_get(struct ovl_inode *o, struct inode **out)
{
    pthread_mutex_lock(&o->fs->lock);
    int r = copy_up_locked(o, true);
    if (r == 0) {
        inode_get(o->upper);
        *out = o->upper;
    }
    pthread_mutex_unlock(&o->fs->lock);
    return r;
}

static int ovl_setxattr(struct inode *inode, const char *name, const void *value, size_t size,
                        int flags)
{
    struct ovl_inode *o = OI(inode);
    struct inode *real = ovl_real_get(o);
    /* XATTR_REPLACE of a missing attribute must not copy the file up. */
    bool exists = real->ops->getxattr && real->ops->getxattr(real, name, NULL, 0) >= 0;
    inode_put(real);
    if ((flags & VFS_XATTR_REPLACE) && !exists)
        return -ENODATA;
    struct inode *up = NULL;
    int r = ovl_upper_get(o, &up);
    if (r < 0 || !up)
        return r < 0 ? r : -EIO;
    r = up->ops->setxattr ? up->ops->setxattr(up, name, value, size, flags) : -EOPNOTSUPP;
    inode_put(up);
    return r;
}

static int ovl_removexattr(struct inode *inode, const char *name)
{
    struct ovl_inode *o = OI(inode);
    struct inode *real = ovl_real_get(o);
    bool exists = real->ops->getxattr && real->ops->getxattr(real, name, NULL, 0) >= 0;
    inode_put(real);
    if (!exists)
        return -ENODATA;
    struct inode *up = NULL;
    int r = ovl_upper_get(o, &up);
    if (r < 0 || !up)
        return r < 0 ? r : -EIO;
    r = up->ops->removexattr ? up->ops->removexattr(up, name) : -ENODATA;
    inode_put(up);
    return r;
}

static void ovl_evict(struct inode *inode)
{
    struct ovl_inode *o = OI(inode);
    inode_put(o->upper);
    inode_put(o->lower);
    if (o->parent)
        inode_put(&o->parent->base);
    free(o->name);
    free(o);
}

static const struct inode_ops ovl_iops = {
        .lookup = ovl_lookup,
        .create = ovl_create,
        .symlink = ovl_symlink,
        .link = ovl_link,
        .unlink = ovl_unlink,
        .rmdir = ovl_rmdir,
        .rename = ovl_rename,
        .readdir = ovl_readdir,
        .readlink = ovl_readlink,
        .getattr = ovl_getattr,
        .setattr = ovl_setattr,
        .open = ovl_open,
        .evict = ovl_evict,
        .getxattr = ovl_getxattr,
        .setxattr = ovl_setxattr,
        .listxattr = ovl_listxattr,
        .removexattr = ovl_removexattr,
};
