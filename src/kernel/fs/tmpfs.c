/*
 * tmpfs: files in memory. Also the upper layer of the overlay root (with
 * whiteouts and opaque directories) and the store of devfs.
 *
 * Lock order: tmpfs->lock (every directory's entries) -> inode->lock
 * (attributes and file data).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/fs/pagecache.h"
#include "kernel/host/host_fs.h"
#include "kernel/ipc/pipe.h"
#include "kernel/task/task.h"
#include "lib/log.h"

struct tmpfs {
    struct vfs_sb *sb;
    pthread_mutex_t lock;
};

struct tmpfs_dirent {
    struct list_head link;
    char *name;
    struct inode *inode; /* counted */
};

struct tmpfs_inode {
    struct inode base;
    struct tmpfs *fs;            /* (c) */
    /* regular files: the data lives in the memory file, so MAP_SHARED
     * mappings share it with read/write */
    struct pagecache data;       /* (i) base.lock */
    /* symlinks */
    char *target;                /* (c) */
    /* directories */
    struct list_head entries;    /* (t) fs->lock */
    size_t nentries;             /* (t) */
    bool opaque;                 /* atomic: overlay opaque directory */
    uint64_t origin;             /* atomic: overlay inode number after copy-up */
    struct list_head xattrs;     /* (i) base.lock: of struct tmpfs_xattr */
};

struct tmpfs_xattr {
    struct list_head link;
    char *name;
    void *value;
    size_t size;
};

static const struct inode_ops tmpfs_iops;
static const struct file_ops tmpfs_fops;

static struct tmpfs_inode *TI(struct inode *i)
{
    return container_of(i, struct tmpfs_inode, base);
}

static bool is_tmpfs(struct inode *i)
{
    return i->ops == &tmpfs_iops;
}

static struct tmpfs_inode *tmpfs_inode_new(struct tmpfs *fs, uint32_t mode, const struct cred *c)
{
    struct tmpfs_inode *ti = calloc(1, sizeof(*ti));
    if (!ti)
        return NULL;
    inode_init(&ti->base, fs->sb, &tmpfs_iops, mode);
    ti->base.ino = vfs_sb_next_ino(fs->sb);
    ti->fs = fs;
    list_init(&ti->entries);
    list_init(&ti->xattrs);
    if (c) {
        ti->base.uid = c->fsuid;
        ti->base.gid = c->fsgid;
    }
    if ((mode & VFS_S_IFMT) == VFS_S_IFDIR)
        ti->base.nlink = 2;
    return ti;
}

int tmpfs_new(uint32_t root_mode, struct inode **out_root)
{
    struct tmpfs *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return -ENOMEM;
    fs->sb = vfs_sb_new("tmpfs", false);
    if (!fs->sb) {
        free(fs);
        return -ENOMEM;
    }
    pthread_mutex_init(&fs->lock, NULL);
    struct tmpfs_inode *root = tmpfs_inode_new(fs, VFS_S_IFDIR | (root_mode & 07777), NULL);
    if (!root)
        return -ENOMEM;
    *out_root = &root->base;
    return 0;
}

static struct tmpfs_dirent *find_locked(struct tmpfs_inode *dir, const char *name)
{
    struct tmpfs_dirent *e;
    list_for_each_entry(e, &dir->entries, link)
    {
        if (strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}

static int add_locked(struct tmpfs_inode *dir, const char *name, struct inode *inode)
{
    struct tmpfs_dirent *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->name = strdup(name);
    if (!e->name) {
        free(e);
        return -ENOMEM;
    }
    inode_get(inode);
    e->inode = inode;
    list_add_tail(&e->link, &dir->entries);
    dir->nentries++;
    return 0;
}

/* Removes E; returns its inode (the entry's reference) for the caller to put. */
static struct inode *remove_locked(struct tmpfs_inode *dir, struct tmpfs_dirent *e)
{
    struct inode *inode = e->inode;
    list_del(&e->link);
    dir->nentries--;
    free(e->name);
    free(e);
    return inode;
}

static void nlink_add(struct inode *inode, int delta)
{
    pthread_mutex_lock(&inode->lock);
    inode->nlink += delta;
    pthread_mutex_unlock(&inode->lock);
}

static int tmpfs_lookup(struct inode *dir, const char *name, struct inode **out)
{
    struct tmpfs_inode *d = TI(dir);
    pthread_mutex_lock(&d->fs->lock);
    struct tmpfs_dirent *e = find_locked(d, name);
    if (e) {
        inode_get(e->inode);
        *out = e->inode;
    }
    pthread_mutex_unlock(&d->fs->lock);
    return e ? 0 : -ENOENT;
}

static int tmpfs_add_new(struct inode *dir, const char *name, struct tmpfs_inode *ti,
                         struct inode **out)
{
    struct tmpfs_inode *d = TI(dir);
    pthread_mutex_lock(&d->fs->lock);
    int r = find_locked(d, name) ? -EEXIST : add_locked(d, name, &ti->base);
    if (r == 0 && inode_is_dir(&ti->base))
        nlink_add(dir, 1);
    pthread_mutex_unlock(&d->fs->lock);
    if (r == 0) {
        inode_touch(dir, false);
        *out = &ti->base;
    } else {
        inode_put(&ti->base);
    }
    return r;
}

static int tmpfs_create(struct inode *dir, const char *name, uint32_t mode, uint64_t rdev,
                        const struct cred *cred, struct inode **out)
{
    struct tmpfs_inode *d = TI(dir);
    struct tmpfs_inode *ti = tmpfs_inode_new(d->fs, mode, cred);
    if (!ti)
        return -ENOMEM;
    ti->base.rdev = rdev;
    if (dir->mode & S_ISGID) {
        /* BSD group semantics of set-gid directories. */
        ti->base.gid = dir->gid;
        if (inode_is_dir(&ti->base))
            ti->base.mode |= S_ISGID;
    }
    return tmpfs_add_new(dir, name, ti, out);
}

static int tmpfs_symlink(struct inode *dir, const char *name, const char *target,
                         const struct cred *cred, struct inode **out)
{
    struct tmpfs_inode *ti = tmpfs_inode_new(TI(dir)->fs, VFS_S_IFLNK | 0777, cred);
    if (!ti)
        return -ENOMEM;
    ti->target = strdup(target);
    if (!ti->target) {
        inode_put(&ti->base);
        return -ENOMEM;
    }
    ti->base.size = strlen(target);
    return tmpfs_add_new(dir, name, ti, out);
}

static int tmpfs_link(struct inode *dir, const char *name, struct inode *inode)
{
    if (!is_tmpfs(inode) || TI(inode)->fs != TI(dir)->fs)
        return -EXDEV;
    struct tmpfs_inode *d = TI(dir);
    pthread_mutex_lock(&d->fs->lock);
    int r = find_locked(d, name) ? -EEXIST : add_locked(d, name, inode);
    pthread_mutex_unlock(&d->fs->lock);
    if (r == 0) {
        nlink_add(inode, 1);
        inode_touch(dir, false);
    }
    return r;
}

static int tmpfs_remove(struct inode *dir, const char *name, struct inode *victim, bool rmdir)
{
    struct tmpfs_inode *d = TI(dir);
    struct inode *put = NULL;
    int r = 0;
    pthread_mutex_lock(&d->fs->lock);
    struct tmpfs_dirent *e = find_locked(d, name);
    if (!e || e->inode != victim) {
        r = -ENOENT;
    } else if (rmdir && TI(victim)->nentries) {
        r = -ENOTEMPTY;
    } else {
        put = remove_locked(d, e);
        if (rmdir) {
            nlink_add(dir, -1);
            pthread_mutex_lock(&victim->lock);
            victim->nlink = 0;
            pthread_mutex_unlock(&victim->lock);
        } else {
            nlink_add(victim, -1);
        }
    }
    pthread_mutex_unlock(&d->fs->lock);
    if (r == 0)
        inode_touch(dir, false);
    inode_put(put);
    return r;
}

static int tmpfs_unlink(struct inode *dir, const char *name, struct inode *victim)
{
    return tmpfs_remove(dir, name, victim, false);
}

static int tmpfs_rmdir(struct inode *dir, const char *name, struct inode *victim)
{
    return tmpfs_remove(dir, name, victim, true);
}

static int tmpfs_rename(struct inode *odir, const char *oname, struct inode *src,
                        struct inode *ndir, const char *nname, struct inode *target)
{
    struct tmpfs_inode *od = TI(odir), *nd = TI(ndir);
    struct inode *put = NULL;
    int r = 0;
    char *name = strdup(nname);
    if (!name)
        return -ENOMEM;
    pthread_mutex_lock(&od->fs->lock);
    struct tmpfs_dirent *e = find_locked(od, oname);
    struct tmpfs_dirent *te = find_locked(nd, nname);
    if (!e || e->inode != src || (te && te->inode != target) || (!te && target)) {
        r = -ENOENT;
        goto out_unlock;
    }
    if (te && te == e)
        goto out_unlock;
    bool dir = inode_is_dir(src);
    if (te) {
        if (inode_is_dir(te->inode) && TI(te->inode)->nentries) {
            r = -ENOTEMPTY;
            goto out_unlock;
        }
        bool tdir = inode_is_dir(te->inode);
        put = remove_locked(nd, te);
        pthread_mutex_lock(&put->lock);
        put->nlink = tdir ? 0 : put->nlink - 1;
        pthread_mutex_unlock(&put->lock);
        if (tdir)
            nlink_add(ndir, -1);
    }
    list_del(&e->link);
    od->nentries--;
    free(e->name);
    e->name = name;
    name = NULL;
    list_add_tail(&e->link, &nd->entries);
    nd->nentries++;
    if (dir && od != nd) {
        nlink_add(odir, -1);
        nlink_add(ndir, 1);
    }
out_unlock:
    pthread_mutex_unlock(&od->fs->lock);
    free(name);
    if (r == 0) {
        inode_touch(odir, false);
        if (ndir != odir)
            inode_touch(ndir, false);
        pthread_mutex_lock(&src->lock);
        host_fs_now(&src->ctime);
        pthread_mutex_unlock(&src->lock);
    }
    inode_put(put);
    return r;
}

int tmpfs_list(struct inode *dir, int (*cb)(void *arg, const char *name, struct inode *inode),
               void *arg)
{
    struct tmpfs_inode *d = TI(dir);
    int r = 0;
    pthread_mutex_lock(&d->fs->lock);
    struct tmpfs_dirent *e;
    list_for_each_entry(e, &d->entries, link)
    {
        r = cb(arg, e->name, e->inode);
        if (r)
            break;
    }
    pthread_mutex_unlock(&d->fs->lock);
    return r;
}

struct readdir_arg {
    struct dir_emit *ctx;
};

static int readdir_cb(void *arg, const char *name, struct inode *inode)
{
    struct dir_emit *ctx = arg;
    if (tmpfs_is_whiteout(inode))
        return 0;
    return ctx->emit(ctx, name, strlen(name), inode->ino, vfs_dtype(inode->mode));
}

static int tmpfs_readdir(struct inode *dir, struct dir_emit *ctx)
{
    return tmpfs_list(dir, readdir_cb, ctx);
}

static int tmpfs_readlink(struct inode *inode, char *buf, size_t size)
{
    struct tmpfs_inode *ti = TI(inode);
    size_t n = strlen(ti->target);
    if (n > size)
        n = size;
    memcpy(buf, ti->target, n);
    return (int)n;
}

/* Grows or shrinks the data of TI to SIZE; base.lock held. The bytes
 * between the two sizes are zeroed either way: growing must not show what a
 * shared mapping wrote past the end, and shrinking gives the memory back.
 * Mapped pages wholly past the new end raise SIGBUS from then on
 * (vfs_setattr calls mm_file_resized once this returns). */
static int resize_locked(struct tmpfs_inode *ti, uint64_t size)
{
    uint64_t old = ti->base.size;
    int r = pagecache_reserve(&ti->data, size);
    if (r < 0)
        return r;
    if (size > old)
        pagecache_zero(&ti->data, old, size);
    else
        pagecache_zero(&ti->data, size, MIN(ALIGN_UP(old, PAGE_SIZE), ti->data.cap));
    ti->base.size = size;
    return 0;
}

static int tmpfs_setattr(struct inode *inode, const struct vfs_attr *attr)
{
    if (attr->valid & VFS_ATTR_SIZE) {
        struct tmpfs_inode *ti = TI(inode);
        pthread_mutex_lock(&inode->lock);
        int r = resize_locked(ti, attr->size);
        pthread_mutex_unlock(&inode->lock);
        if (r < 0)
            return r;
    }
    inode_apply_attr(inode, attr);
    return 0;
}

static ssize_t tmpfs_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct tmpfs_inode *ti = TI(f->inode);
    pthread_mutex_lock(&ti->base.lock);
    ssize_t done = pagecache_read_at(&ti->data, ti->base.size, buf, n, pos);
    pthread_mutex_unlock(&ti->base.lock);
    return done;
}

static ssize_t tmpfs_write_locked(struct tmpfs_inode *ti, const void *buf, size_t n,
                                  uint64_t *pos, bool append, bool app)
{
    if (append)
        *pos = ti->base.size;
    /* An app's write: within its RLIMIT_FSIZE. */
    int lr = app ? task_fsize_write_check(*pos, &n) : 0;
    if (lr < 0)
        return lr;
    uint64_t end;
    if (__builtin_add_overflow(*pos, n, &end) || (int64_t)end < 0)
        return -EFBIG;
    uint64_t old = ti->base.size;
    if (end > old) {
        /* Grows without zeroing what the write covers: only the gap
         * before it and, in the old last page (the one part past the end
         * a shared mapping can have written), what follows it. Whole pages
         * past the old end are zero already (resize_locked). */
        int r = pagecache_reserve(&ti->data, end);
        if (r < 0)
            return r;
        uint64_t dirty_end = MIN(ALIGN_UP(old, PAGE_SIZE), ti->data.cap);
        if (*pos > old)
            pagecache_zero(&ti->data, old, *pos);
        if (end < dirty_end)
            pagecache_zero(&ti->data, MAX(end, old), dirty_end);
        ti->base.size = end;
    }
    if (pagecache_write(&ti->data, buf, n, *pos) < 0) {
        if (end > old)
            resize_locked(ti, old);
        return -ENOSPC; /* the sandbox memory limit */
    }
    *pos = end;
    host_fs_now(&ti->base.mtime);
    ti->base.ctime = ti->base.mtime;
    return (ssize_t)n;
}

static ssize_t tmpfs_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    struct tmpfs_inode *ti = TI(f->inode);
    bool append = vfs_file_flags(f) & O_APPEND;
    pthread_mutex_lock(&ti->base.lock);
    ssize_t r = tmpfs_write_locked(ti, buf, n, pos, append, true);
    pthread_mutex_unlock(&ti->base.lock);
    return r;
}

ssize_t tmpfs_pwrite(struct inode *inode, const void *buf, size_t n, uint64_t off)
{
    struct tmpfs_inode *ti = TI(inode);
    pthread_mutex_lock(&ti->base.lock);
    ssize_t r = tmpfs_write_locked(ti, buf, n, &off, false, false);
    pthread_mutex_unlock(&ti->base.lock);
    return r;
}

static int tmpfs_open(struct inode *inode, struct file *f)
{
    switch (inode->mode & VFS_S_IFMT) {
    case VFS_S_IFREG:
        f->ops = &tmpfs_fops;
        return 0;
    case VFS_S_IFCHR:
        return vfs_chrdev_open(inode, f);
    case VFS_S_IFIFO:
        return pipe_open_fifo(inode, f);
    default:
        return -ENXIO;
    }
}

static void tmpfs_evict(struct inode *inode)
{
    struct tmpfs_inode *ti = TI(inode);
    struct tmpfs_dirent *e, *n;
    list_for_each_entry_safe(e, n, &ti->entries, link)
    {
        struct inode *child = remove_locked(ti, e);
        inode_put(child);
    }
    pagecache_release(&ti->data);
    struct tmpfs_xattr *x, *xn;
    list_for_each_entry_safe(x, xn, &ti->xattrs, link)
    {
        free(x->name);
        free(x->value);
        free(x);
    }
    free(ti->target);
    free(ti);
}

/* ---- extended attributes ---- */

static struct tmpfs_xattr *xattr_find_locked(struct tmpfs_inode *ti, const char *name)
{
    struct tmpfs_xattr *x;
    list_for_each_entry(x, &ti->xattrs, link)
    {
        if (strcmp(x->name, name) == 0)
            return x;
    }
    return NULL;
}

static ssize_t tmpfs_getxattr(struct inode *inode, const char *name, void *buf, size_t size)
{
    struct tmpfs_inode *ti = TI(inode);
    pthread_mutex_lock(&inode->lock);
    struct tmpfs_xattr *x = xattr_find_locked(ti, name);
    ssize_t r;
    if (!x)
        r = -ENODATA;
    else if (size == 0)
        r = (ssize_t)x->size;
    else if (size < x->size)
        r = -ERANGE;
    else {
        memcpy(buf, x->value, x->size);
        r = (ssize_t)x->size;
    }
    pthread_mutex_unlock(&inode->lock);
    return r;
}

static int tmpfs_setxattr(struct inode *inode, const char *name, const void *value, size_t size,
                          int flags)
{
    struct tmpfs_inode *ti = TI(inode);
    void *copy = malloc(size ? size : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, value, size);
    pthread_mutex_lock(&inode->lock);
    struct tmpfs_xattr *x = xattr_find_locked(ti, name);
    int r = 0;
    if (x && (flags & VFS_XATTR_CREATE)) {
        r = -EEXIST;
    } else if (!x && (flags & VFS_XATTR_REPLACE)) {
        r = -ENODATA;
    } else if (x) {
        free(x->value);
        x->value = copy;
        x->size = size;
        copy = NULL;
    } else {
        x = calloc(1, sizeof(*x));
        char *nm = x ? strdup(name) : NULL;
        if (!nm) {
            free(x);
            r = -ENOMEM;
        } else {
            x->name = nm;
            x->value = copy;
            x->size = size;
            copy = NULL;
            list_add_tail(&x->link, &ti->xattrs);
        }
    }
    if (r == 0)
        host_fs_now(&inode->ctime);
    pthread_mutex_unlock(&inode->lock);
    free(copy);
    return r;
}

static ssize_t tmpfs_listxattr(struct inode *inode, char *buf, size_t size)
{
    struct tmpfs_inode *ti = TI(inode);
    pthread_mutex_lock(&inode->lock);
    size_t need = 0;
    struct tmpfs_xattr *x;
    list_for_each_entry(x, &ti->xattrs, link)
        need += strlen(x->name) + 1;
    ssize_t r = (ssize_t)need;
    if (size && size < need) {
        r = -ERANGE;
    } else if (size) {
        size_t off = 0;
        list_for_each_entry(x, &ti->xattrs, link)
        {
            size_t n = strlen(x->name) + 1;
            memcpy(buf + off, x->name, n);
            off += n;
        }
    }
    pthread_mutex_unlock(&inode->lock);
    return r;
}

static int tmpfs_removexattr(struct inode *inode, const char *name)
{
    struct tmpfs_inode *ti = TI(inode);
    pthread_mutex_lock(&inode->lock);
    struct tmpfs_xattr *x = xattr_find_locked(ti, name);
    if (x) {
        list_del(&x->link);
        host_fs_now(&inode->ctime);
    }
    pthread_mutex_unlock(&inode->lock);
    if (!x)
        return -ENODATA;
    free(x->name);
    free(x->value);
    free(x);
    return 0;
}

int tmpfs_copy_xattrs(struct inode *from, struct inode *to)
{
    if (!is_tmpfs(from) || !is_tmpfs(to))
        return 0;
    char *list = NULL;
    ssize_t n = tmpfs_listxattr(from, NULL, 0);
    if (n <= 0)
        return (int)n;
    list = malloc((size_t)n);
    if (!list)
        return -ENOMEM;
    n = tmpfs_listxattr(from, list, (size_t)n);
    int r = n < 0 ? (int)n : 0;
    for (ssize_t off = 0; r == 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
        ssize_t vs = tmpfs_getxattr(from, list + off, NULL, 0);
        void *v = vs >= 0 ? malloc((size_t)vs + 1) : NULL;
        if (vs < 0 || !v) {
            free(v);
            continue;
        }
        vs = tmpfs_getxattr(from, list + off, v, (size_t)vs + 1);
        if (vs >= 0)
            r = tmpfs_setxattr(to, list + off, v, (size_t)vs, 0);
        free(v);
    }
    free(list);
    return r;
}

static const struct inode_ops tmpfs_iops = {
        .lookup = tmpfs_lookup,
        .create = tmpfs_create,
        .symlink = tmpfs_symlink,
        .link = tmpfs_link,
        .unlink = tmpfs_unlink,
        .rmdir = tmpfs_rmdir,
        .rename = tmpfs_rename,
        .readdir = tmpfs_readdir,
        .readlink = tmpfs_readlink,
        .setattr = tmpfs_setattr,
        .open = tmpfs_open,
        .evict = tmpfs_evict,
        .getxattr = tmpfs_getxattr,
        .setxattr = tmpfs_setxattr,
        .listxattr = tmpfs_listxattr,
        .removexattr = tmpfs_removexattr,
};

static int tmpfs_mmap_backing(struct file *f, uint64_t off, uint64_t len, uint64_t *out_moff,
                              uint64_t *out_len)
{
    struct tmpfs_inode *ti = TI(f->inode);
    pthread_mutex_lock(&ti->base.lock);
    int r = pagecache_backing(&ti->data, off, len, out_moff, out_len);
    pthread_mutex_unlock(&ti->base.lock);
    return r;
}

#define L_FALLOC_FL_KEEP_SIZE  0x01
#define L_FALLOC_FL_PUNCH_HOLE 0x02

/* As Linux's tmpfs: preallocation (with or without KEEP_SIZE) and hole
 * punching; other modes are -EOPNOTSUPP. */
static int tmpfs_fallocate(struct file *f, int mode, uint64_t off, uint64_t len)
{
    if (mode & ~(L_FALLOC_FL_KEEP_SIZE | L_FALLOC_FL_PUNCH_HOLE))
        return -EOPNOTSUPP;
    struct tmpfs_inode *ti = TI(f->inode);
    uint64_t end = off + len;
    int r = 0;
    /* RLIMIT_FSIZE applies even with KEEP_SIZE here, as in Linux's
     * shmem_fallocate (the VFS checked the size-changing case). */
    if ((mode & L_FALLOC_FL_KEEP_SIZE) && !(mode & L_FALLOC_FL_PUNCH_HOLE) &&
        (r = vfs_truncate_check(f->inode, end)) < 0)
        return r;
    pthread_mutex_lock(&ti->base.lock);
    if (mode & L_FALLOC_FL_PUNCH_HOLE) {
        uint64_t to = MIN(end, ti->base.size);
        if (off < to)
            pagecache_zero(&ti->data, off, to);
    } else if (!(mode & L_FALLOC_FL_KEEP_SIZE) && end > ti->base.size) {
        r = resize_locked(ti, end);
    }
    if (r == 0) {
        host_fs_now(&ti->base.mtime);
        ti->base.ctime = ti->base.mtime;
    }
    pthread_mutex_unlock(&ti->base.lock);
    return r;
}

static const struct file_ops tmpfs_fops = {
        .direct_io = true,
        .read = tmpfs_read,
        .write = tmpfs_write,
        .mmap_backing = tmpfs_mmap_backing,
        .fallocate = tmpfs_fallocate,
};

/* ---- overlay support ---- */

bool tmpfs_is_whiteout(struct inode *inode)
{
    return is_tmpfs(inode) && (inode->mode & VFS_S_IFMT) == VFS_S_IFCHR && inode->rdev == 0;
}

int tmpfs_make_whiteout(struct inode *dir, const char *name)
{
    struct tmpfs_inode *d = TI(dir);
    struct tmpfs_inode *w = tmpfs_inode_new(d->fs, VFS_S_IFCHR, NULL);
    if (!w)
        return -ENOMEM;
    struct inode *put = NULL;
    pthread_mutex_lock(&d->fs->lock);
    struct tmpfs_dirent *e = find_locked(d, name);
    int r = 0;
    if (e && !tmpfs_is_whiteout(e->inode))
        r = -EEXIST;
    else if (e)
        put = remove_locked(d, e);
    if (r == 0)
        r = add_locked(d, name, &w->base);
    pthread_mutex_unlock(&d->fs->lock);
    inode_put(put);
    inode_put(&w->base);
    return r;
}

void tmpfs_drop_whiteouts(struct inode *dir)
{
    struct tmpfs_inode *d = TI(dir);
    struct list_head dead = LIST_HEAD_INIT(dead);
    struct tmpfs_dirent *e, *n;
    pthread_mutex_lock(&d->fs->lock);
    list_for_each_entry_safe(e, n, &d->entries, link)
    {
        if (tmpfs_is_whiteout(e->inode)) {
            list_del(&e->link);
            d->nentries--;
            list_add(&e->link, &dead);
        }
    }
    pthread_mutex_unlock(&d->fs->lock);
    list_for_each_entry_safe(e, n, &dead, link)
    {
        inode_put(e->inode);
        free(e->name);
        free(e);
    }
}

/* opaque and origin are single words read and written atomically, so
 * tmpfs_list callbacks (which run under fs->lock) may read them. */
bool tmpfs_is_opaque(struct inode *dir)
{
    if (!is_tmpfs(dir))
        return false;
    return __atomic_load_n(&TI(dir)->opaque, __ATOMIC_ACQUIRE);
}

void tmpfs_set_opaque(struct inode *dir, bool opaque)
{
    __atomic_store_n(&TI(dir)->opaque, opaque, __ATOMIC_RELEASE);
}

uint64_t tmpfs_get_origin(struct inode *inode)
{
    if (!is_tmpfs(inode))
        return 0;
    return __atomic_load_n(&TI(inode)->origin, __ATOMIC_ACQUIRE);
}

void tmpfs_set_origin(struct inode *inode, uint64_t ino)
{
    __atomic_store_n(&TI(inode)->origin, ino, __ATOMIC_RELEASE);
}
