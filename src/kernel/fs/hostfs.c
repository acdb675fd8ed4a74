/*
 * hostfs: a view of a host directory tree the kernel holds an fd to: the
 * container rootfs (read-only, the overlay's lower layer) and bind mounts
 * (read-only, or read-write: writes go through to the host).
 *
 * Every host file is reached one component at a time: openat(parent fd,
 * name, O_NOFOLLOW | O_CLOEXEC | O_PATH) through host_fs.c, so moat never
 * names a host path and the host never follows a symlink; symlinks are read
 * with readlinkat and resolved by the VFS inside the sandbox. Directories
 * keep an O_RDONLY | O_DIRECTORY fd (O_PATH if the host refuses reading),
 * other files their O_PATH fd; a regular file gets an O_RDONLY fd, opened
 * through the parent's fd and name and checked to be the same host inode,
 * on its first open. Device nodes, FIFOs and sockets of the host tree can
 * be stat'ed but not opened.
 *
 * A writable instance (hostfs_new_rw, a read-write bind) changes the host
 * tree the same way: every call names one component relative to a held
 * directory fd (mkdirat, mknodat for FIFOs and sockets, symlinkat, linkat
 * and unlinkat of a name, renameat2), attributes are set on the file's own
 * fd (fchownat/fchmodat2/utimensat with AT_EMPTY_PATH, never through a
 * name), file data through an O_RDWR fd opened by name and checked to be
 * the inode looked up. The host never resolves a symlink or ".." for moat,
 * so nothing outside the bind's directory can be named. The VFS checked
 * the app's permissions; the kernel process makes the host calls with
 * CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN and CAP_FSETID (kept only when a
 * read-write bind exists, sandbox/confine.c) and gives new files the
 * creating task's fsuid and fsgid (the directory's group when it is
 * set-gid), as runc without a user namespace would: ids inside are ids on
 * the host. Attributes are read from the host on every stat (other host
 * processes may change the tree); names stay cached in the dcache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernel/fs/fs.h"
#include "kernel/fs/pagecache.h"
#include "kernel/ipc/pipe.h"
#include "kernel/mm/memfile.h"
#include "kernel/host/host_fs.h"
#include "kernel/task/task.h"
#include "lib/log.h"

#define HOSTFS_ITAB 256

struct hostfs_sb {
    bool writable; /* (c) a read-write bind */
    /* (c) a bind mount: the host may change the tree behind the sandbox's
     * back (an editor on the host, another container), so names are not
     * cached (every walk asks the host) and attributes are reread; the
     * inodes of host files are kept unique through ITAB (locks, shared
     * mappings and inotify marks hang off them). */
    bool shared;
    pthread_mutex_t itab_lock;
    struct list_head itab[HOSTFS_ITAB]; /* (t) itab_lock: live inodes by host identity */
};

struct hostfs_listing;

struct hostfs_inode {
    struct inode base;
    int fd;                        /* (c) */
    int rdfd;                      /* (i) base.lock; -1 until the first open */
    int wfd;                       /* (i) base.lock; O_RDWR (writable instance), -1 until used */
    struct hostfs_inode *parent;   /* (i) counted; NULL for the root; changed by rename */
    char *name;                    /* (i) changed by rename */
    char *link;                    /* (i) cached symlink target */
    uint64_t host_dev;             /* (c) */
    struct pagecache *pc;          /* (i) writable instances: the file's data in the memory
                                    * file once it was mapped MAP_SHARED (see cache below) */
    bool pc_dirty;                 /* (i) a writable shared mapping may have changed it */
    /* (i) read-only, unshared trees (the rootfs): the file's pages that
     * private mappings (program text, libraries) map copy-on-write, each
     * filled from the host once on first use and then shared by every
     * mapping in the sandbox; RO_FILLED has a bit per page of the file. */
    struct pagecache *ro_pc;
    uint64_t *ro_filled;
    struct hostfs_listing *listing; /* (i) set once: read-only, unshared trees' directories */
    struct list_head ilink;        /* (t) in the instance's itab (shared instances) */
    bool hashed;                   /* (t) */
    int64_t blocks, blksize;       /* (c) */
};

static const struct inode_ops hostfs_iops;
static const struct file_ops hostfs_fops;

static struct hostfs_inode *HI(struct inode *i)
{
    return container_of(i, struct hostfs_inode, base);
}

static struct hostfs_inode *hostfs_inode_new(struct vfs_sb *sb, int fd, const struct stat *st)
{
    struct hostfs_inode *hi = calloc(1, sizeof(*hi));
    if (!hi)
        return NULL;
    inode_init(&hi->base, sb, &hostfs_iops, st->st_mode);
    hi->fd = fd;
    hi->rdfd = -1;
    hi->wfd = -1;
    list_init(&hi->ilink);
    hi->host_dev = st->st_dev;
    hi->base.ino = st->st_ino;
    hi->base.uid = st->st_uid;
    hi->base.gid = st->st_gid;
    hi->base.nlink = (uint32_t)st->st_nlink;
    hi->base.size = (uint64_t)st->st_size;
    hi->base.rdev = st->st_rdev;
    hi->base.atime = (struct linux_timespec){st->st_atim.tv_sec, st->st_atim.tv_nsec};
    hi->base.mtime = (struct linux_timespec){st->st_mtim.tv_sec, st->st_mtim.tv_nsec};
    hi->base.ctime = (struct linux_timespec){st->st_ctim.tv_sec, st->st_ctim.tv_nsec};
    hi->blocks = st->st_blocks;
    hi->blksize = st->st_blksize;
    return hi;
}

static int hostfs_make(int host_dirfd, bool writable, bool shared, struct inode **out_root)
{
    struct stat st;
    int r = host_fs_fstat(host_dirfd, &st);
    if (r < 0)
        goto out_close;
    if (!S_ISDIR(st.st_mode)) {
        r = -ENOTDIR;
        goto out_close;
    }
    struct vfs_sb *sb = vfs_sb_new("hostfs", shared);
    struct hostfs_sb *hs = sb ? calloc(1, sizeof(*hs)) : NULL;
    struct hostfs_inode *root = hs ? hostfs_inode_new(sb, host_dirfd, &st) : NULL;
    if (!root) {
        free(hs);
        r = -ENOMEM;
        goto out_close;
    }
    hs->writable = writable;
    hs->shared = shared;
    pthread_mutex_init(&hs->itab_lock, NULL);
    for (size_t i = 0; i < HOSTFS_ITAB; i++)
        list_init(&hs->itab[i]);
    sb->priv = hs;
    root->name = strdup("/");
    *out_root = &root->base;
    return 0;
out_close:
    host_fs_close(host_dirfd);
    return r;
}

int hostfs_new(int host_dirfd, struct inode **out_root)
{
    return hostfs_make(host_dirfd, false, false, out_root);
}

int hostfs_new_file(int fd, bool writable, struct inode **out_root)
{
    struct stat st;
    int r = host_fs_fstat(fd, &st);
    if (r == 0 && !S_ISREG(st.st_mode))
        r = -EINVAL;
    struct vfs_sb *sb = r == 0 ? vfs_sb_new("hostfs", false) : NULL;
    struct hostfs_sb *hs = sb ? calloc(1, sizeof(*hs)) : NULL;
    struct hostfs_inode *hi = hs ? hostfs_inode_new(sb, fd, &st) : NULL;
    if (!hi) {
        free(hs);
        host_fs_close(fd);
        return r < 0 ? r : -ENOMEM;
    }
    hs->writable = writable;
    sb->priv = hs;
    hi->name = strdup("/");
    /* The fd itself serves reads (and writes): no parent to reopen from. */
    if (writable)
        hi->wfd = fd;
    else
        hi->rdfd = fd;
    *out_root = &hi->base;
    return 0;
}

int hostfs_new_bind(int host_dirfd, bool writable, struct inode **out_root)
{
    return hostfs_make(host_dirfd, writable, true, out_root);
}

static bool writable(struct inode *inode)
{
    struct hostfs_sb *hs = inode->sb->priv;
    return hs && hs->writable;
}

/* Whether INODE's attributes must be reread (the host may change them). */
static bool volatile_attrs(struct inode *inode)
{
    struct hostfs_sb *hs = inode->sb->priv;
    return hs && (hs->writable || hs->shared);
}

static struct list_head *ibucket(struct hostfs_sb *hs, uint64_t dev, uint64_t ino)
{
    return &hs->itab[(dev * 31 + ino) % HOSTFS_ITAB];
}

/* The live inode of host file ST (a new reference), or NULL. A dead entry
 * of the same identity (the host file was deleted and its inode number
 * reused) is dropped from the table. itab_lock held. */
static struct hostfs_inode *itab_find_locked(struct hostfs_sb *hs, const struct stat *st)
{
    struct hostfs_inode *x;
    list_for_each_entry(x, ibucket(hs, st->st_dev, st->st_ino), ilink)
    {
        if (x->host_dev != st->st_dev || x->base.ino != st->st_ino)
            continue;
        struct stat cur;
        if (host_fs_fstat(x->fd, &cur) < 0 || cur.st_nlink == 0 ||
            (cur.st_mode & S_IFMT) != (st->st_mode & S_IFMT)) {
            list_del(&x->ilink);
            list_init(&x->ilink);
            x->hashed = false;
            return NULL;
        }
        return refcount_inc_not_zero(&x->base.ref) ? x : NULL;
    }
    return NULL;
}

/* Rereads HI's attributes from the host (writable instances). */
static int hostfs_refresh(struct hostfs_inode *hi)
{
    struct stat st;
    int r = host_fs_fstat(hi->fd, &st);
    if (r < 0)
        return r;
    pthread_mutex_lock(&hi->base.lock);
    hi->base.mode = (hi->base.mode & VFS_S_IFMT) | (st.st_mode & 07777);
    hi->base.uid = st.st_uid;
    hi->base.gid = st.st_gid;
    hi->base.nlink = (uint32_t)st.st_nlink;
    hi->base.size = (uint64_t)st.st_size;
    hi->base.atime = (struct linux_timespec){st.st_atim.tv_sec, st.st_atim.tv_nsec};
    hi->base.mtime = (struct linux_timespec){st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
    hi->base.ctime = (struct linux_timespec){st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
    hi->blocks = st.st_blocks;
    hi->blksize = st.st_blksize;
    pthread_mutex_unlock(&hi->base.lock);
    return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int hostfs_lookup(struct inode *dir, const char *name, struct inode **out)
{
    struct hostfs_inode *d = HI(dir);
    int fd = host_fs_openat(d->fd, name, O_PATH);
    if (fd < 0)
        return fd == -ELOOP ? -ENOENT : fd;
    struct stat st;
    int r = host_fs_fstat(fd, &st);
    if (r < 0)
        goto out_close;
    if (S_ISDIR(st.st_mode)) {
        /* Prefer a readable directory fd; keep O_PATH if the host says no. */
        int dfd = host_fs_openat(d->fd, name, O_RDONLY | O_DIRECTORY);
        struct stat st2;
        if (dfd >= 0 && host_fs_fstat(dfd, &st2) == 0 && same_file(&st, &st2)) {
            host_fs_close(fd);
            fd = dfd;
        } else if (dfd >= 0) {
            host_fs_close(dfd);
        }
    }
    struct hostfs_sb *hs = dir->sb->priv;
    if (hs && hs->shared) {
        pthread_mutex_lock(&hs->itab_lock);
        struct hostfs_inode *found = itab_find_locked(hs, &st);
        if (found) {
            pthread_mutex_unlock(&hs->itab_lock);
            host_fs_close(fd);
            /* Its latest name (the host may have renamed it). */
            char *n = strdup(name);
            pthread_mutex_lock(&found->base.lock);
            struct hostfs_inode *oldp = NULL;
            if (n && (found->parent != d || strcmp(found->name, name) != 0)) {
                oldp = found->parent;
                inode_get(dir);
                found->parent = d;
                free(found->name);
                found->name = n;
                n = NULL;
            }
            pthread_mutex_unlock(&found->base.lock);
            free(n);
            if (oldp)
                inode_put(&oldp->base);
            if (volatile_attrs(&found->base))
                hostfs_refresh(found);
            *out = &found->base;
            return 0;
        }
    }
    struct hostfs_inode *hi = hostfs_inode_new(dir->sb, fd, &st);
    char *hname = hi ? strdup(name) : NULL;
    if (!hi || !hname) {
        if (hs && hs->shared)
            pthread_mutex_unlock(&hs->itab_lock);
        free(hname);
        if (hi) {
            inode_put(&hi->base);
            return -ENOMEM;
        }
        r = -ENOMEM;
        goto out_close;
    }
    hi->name = hname;
    inode_get(dir);
    hi->parent = d;
    if (hs && hs->shared) {
        list_add(&hi->ilink, ibucket(hs, st.st_dev, st.st_ino));
        hi->hashed = true;
        pthread_mutex_unlock(&hs->itab_lock);
    }
    *out = &hi->base;
    return 0;
out_close:
    host_fs_close(fd);
    return r;
}

struct linux_dirent64_hdr {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
} __attribute__((packed));

static int readdir_host(struct inode *dir, struct dir_emit *ctx)
{
    struct hostfs_inode *d = HI(dir);
    int fd = host_fs_openat(d->fd, ".", O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return fd;
    char *buf = malloc(32768);
    int r = buf ? 0 : -ENOMEM;
    while (r == 0) {
        ssize_t n = host_fs_getdents(fd, buf, 32768);
        if (n <= 0) {
            r = (int)n;
            break;
        }
        for (ssize_t off = 0; off < n && r == 0;) {
            struct linux_dirent64_hdr h;
            memcpy(&h, buf + off, sizeof(h));
            const char *name = buf + off + 19;
            if (h.d_reclen == 0)
                break;
            if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
                r = ctx->emit(ctx, name, strlen(name), h.d_ino, h.d_type);
            off += h.d_reclen;
        }
    }
    free(buf);
    host_fs_close(fd);
    return r;
}

/* A directory's entries, kept for directories of read-only, unshared
 * trees (the rootfs), which never change while the sandbox runs: every
 * listing after the first is served without asking the host. */
struct hostfs_listing {
    size_t n, cap;
    struct hostfs_dent {
        char *name;
        uint64_t ino;
        unsigned type;
    } *e;
};

struct listing_ctx {
    struct dir_emit base;
    struct hostfs_listing *l;
};

static int listing_emit(struct dir_emit *ctx, const char *name, size_t len, uint64_t ino,
                        unsigned type)
{
    struct hostfs_listing *l = container_of(ctx, struct listing_ctx, base)->l;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct hostfs_dent *e = realloc(l->e, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        l->e = e;
        l->cap = cap;
    }
    char *nm = strndup(name, len);
    if (!nm)
        return -ENOMEM;
    l->e[l->n++] = (struct hostfs_dent){nm, ino, type};
    return 0;
}

static void listing_free(struct hostfs_listing *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].name);
    free(l->e);
    free(l);
}

static int hostfs_readdir(struct inode *dir, struct dir_emit *ctx)
{
    struct hostfs_inode *d = HI(dir);
    struct hostfs_sb *hs = dir->sb->priv;
    if (!hs || hs->writable || hs->shared)
        return readdir_host(dir, ctx);
    pthread_mutex_lock(&dir->lock);
    struct hostfs_listing *l = d->listing;
    if (!l) {
        l = calloc(1, sizeof(*l));
        struct listing_ctx lc = {.base.emit = listing_emit, .l = l};
        int r = l ? readdir_host(dir, &lc.base) : -ENOMEM;
        if (r < 0) {
            pthread_mutex_unlock(&dir->lock);
            listing_free(l);
            return r;
        }
        d->listing = l;
    }
    pthread_mutex_unlock(&dir->lock);
    /* Never changed once set; freed with the inode, which the caller holds. */
    for (size_t i = 0; i < l->n; i++) {
        int r = ctx->emit(ctx, l->e[i].name, strlen(l->e[i].name), l->e[i].ino, l->e[i].type);
        if (r < 0)
            return r;
    }
    return 0;
}

static int hostfs_readlink(struct inode *inode, char *buf, size_t size)
{
    struct hostfs_inode *hi = HI(inode);
    int r = 0;
    pthread_mutex_lock(&inode->lock);
    if (!hi->link) {
        char *tmp = malloc(LINUX_PATH_MAX);
        if (!tmp) {
            r = -ENOMEM;
            goto out_unlock;
        }
        ssize_t n = host_fs_readlink(hi->fd, tmp, LINUX_PATH_MAX - 1);
        if (n < 0) {
            free(tmp);
            r = (int)n;
            goto out_unlock;
        }
        tmp[n] = '\0';
        hi->link = tmp;
    }
    size_t n = strlen(hi->link);
    if (n > size)
        n = size;
    memcpy(buf, hi->link, n);
    r = (int)n;
out_unlock:
    pthread_mutex_unlock(&inode->lock);
    return r;
}

static int hostfs_getattr(struct inode *inode, struct linux_stat *st)
{
    struct hostfs_inode *hi = HI(inode);
    /* A read-only rootfs's attributes read at lookup stay valid; a bind's
     * are reread. Reported with the sandbox's device number. */
    if (volatile_attrs(inode))
        hostfs_refresh(hi);
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&inode->lock);
    st->st_dev = inode->sb->dev;
    st->st_ino = inode->ino;
    st->st_nlink = inode->nlink;
    st->st_mode = inode->mode;
    st->st_uid = inode->uid;
    st->st_gid = inode->gid;
    st->st_rdev = inode->rdev;
    st->st_size = (int64_t)inode->size;
    st->st_blksize = hi->blksize;
    st->st_blocks = hi->blocks;
    st->st_atim = inode->atime;
    st->st_mtim = inode->mtime;
    st->st_ctim = inode->ctime;
    pthread_mutex_unlock(&inode->lock);
    return 0;
}

static int hostfs_wfd(struct hostfs_inode *hi);
static int cache_writeback_locked(struct hostfs_inode *hi);

static int hostfs_setattr(struct inode *inode, const struct vfs_attr *attr)
{
    struct hostfs_inode *hi = HI(inode);
    if (!writable(inode))
        return -EROFS;
    int r = 0;
    if (attr->valid & VFS_ATTR_SIZE) {
        if (!inode_is_reg(inode))
            return -EINVAL;
        int fd = hostfs_wfd(hi);
        r = fd < 0 ? fd : host_fs_ftruncate(fd, attr->size);
        pthread_mutex_lock(&inode->lock);
        if (r == 0 && hi->pc) {
            if (attr->size < inode->size)
                pagecache_zero(hi->pc, attr->size, inode->size);
            else
                r = pagecache_reserve(hi->pc, attr->size);
            inode->size = attr->size;
        }
        pthread_mutex_unlock(&inode->lock);
    }
    if (r == 0 && (attr->valid & (VFS_ATTR_UID | VFS_ATTR_GID)))
        r = host_fs_fchown(hi->fd, (attr->valid & VFS_ATTR_UID) ? attr->uid : (uint32_t)-1,
                           (attr->valid & VFS_ATTR_GID) ? attr->gid : (uint32_t)-1);
    if (r == 0 && (attr->valid & VFS_ATTR_MODE))
        r = host_fs_fchmod(hi->fd, attr->mode & 07777);
    if (r == 0 && (attr->valid & (VFS_ATTR_ATIME | VFS_ATTR_MTIME))) {
        const long omit = (1l << 30) - 2l; /* UTIME_OMIT */
        struct linux_timespec ts[2] = {{0, omit}, {0, omit}};
        if (attr->valid & VFS_ATTR_ATIME)
            ts[0] = attr->atime;
        if (attr->valid & VFS_ATTR_MTIME)
            ts[1] = attr->mtime;
        r = host_fs_futimens(hi->fd, ts);
    }
    hostfs_refresh(hi);
    return r;
}

/* The O_RDONLY fd of regular file HI, opened on first use. */
static int hostfs_rdfd(struct hostfs_inode *hi)
{
    pthread_mutex_lock(&hi->base.lock);
    int r = hi->rdfd;
    if (r >= 0)
        goto out_unlock;
    if (hi->wfd >= 0) {
        r = hi->wfd; /* O_RDWR: reads too */
        goto out_unlock;
    }
    if (!hi->parent) {
        r = -EBADF;
        goto out_unlock;
    }
    int fd = host_fs_openat(hi->parent->fd, hi->name, O_RDONLY);
    if (fd < 0) {
        r = fd == -ELOOP ? -ESTALE : fd;
        goto out_unlock;
    }
    struct stat st;
    r = host_fs_fstat(fd, &st);
    if (r == 0 && (st.st_dev != hi->host_dev || st.st_ino != hi->base.ino || !S_ISREG(st.st_mode))) {
        /* Replaced on the host since lookup. */
        r = -ESTALE;
    }
    if (r < 0) {
        host_fs_close(fd);
        goto out_unlock;
    }
    hi->rdfd = r = fd;
out_unlock:
    pthread_mutex_unlock(&hi->base.lock);
    return r;
}

/* The O_RDWR fd of regular file HI of a writable instance, opened on
 * first use by name and checked to be the inode looked up. */
static int hostfs_wfd(struct hostfs_inode *hi)
{
    pthread_mutex_lock(&hi->base.lock);
    int r = hi->wfd;
    if (r >= 0 || !hi->parent)
        goto out_unlock;
    int fd = host_fs_openat_rw(hi->parent->fd, hi->name, O_RDWR | O_NONBLOCK, 0);
    if (fd < 0) {
        r = fd == -ELOOP ? -ESTALE : fd;
        goto out_unlock;
    }
    struct stat st;
    r = host_fs_fstat(fd, &st);
    if (r == 0 && (st.st_dev != hi->host_dev || st.st_ino != hi->base.ino || !S_ISREG(st.st_mode)))
        r = -ESTALE; /* replaced on the host since lookup */
    if (r < 0) {
        host_fs_close(fd);
        goto out_unlock;
    }
    hi->wfd = r = fd;
out_unlock:
    pthread_mutex_unlock(&hi->base.lock);
    return r;
}

static int hostfs_open(struct inode *inode, struct file *f)
{
    if ((inode->mode & VFS_S_IFMT) == VFS_S_IFIFO)
        return pipe_open_fifo(inode, f); /* a sandbox pipe, never the host's */
    if (!inode_is_reg(inode)) {
        log_warn_once("open of a host device node, FIFO or socket refused (rootfs is data only)");
        return -EACCES;
    }
    if (f->fmode & FMODE_WRITE) {
        if (!writable(inode))
            return -EROFS;
        int fd = hostfs_wfd(HI(inode));
        if (fd < 0)
            return fd;
        f->ops = &hostfs_fops;
        return 0;
    }
    int fd = hostfs_rdfd(HI(inode));
    if (fd < 0)
        return fd;
    f->ops = &hostfs_fops;
    return 0;
}

static ssize_t hostfs_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    struct hostfs_inode *hi = HI(f->inode);
    int fd = hostfs_wfd(hi);
    if (fd < 0)
        return fd;
    if (vfs_file_flags(f) & O_APPEND) {
        struct stat st;
        int r = host_fs_fstat(fd, &st);
        if (r < 0)
            return r;
        *pos = (uint64_t)st.st_size;
    }
    int lr = task_fsize_write_check(*pos, &n);
    if (lr < 0)
        return lr;
    ssize_t r = host_fs_pwrite(fd, buf, n, *pos);
    if (r > 0) {
        pthread_mutex_lock(&hi->base.lock);
        if (hi->pc && pagecache_reserve(hi->pc, *pos + (uint64_t)r) == 0)
            pagecache_write(hi->pc, buf, (size_t)r, *pos);
        *pos += (uint64_t)r;
        if (*pos > hi->base.size)
            hi->base.size = *pos;
        pthread_mutex_unlock(&hi->base.lock);
    }
    return r;
}

#define L_FALLOC_FL_KEEP_SIZE  0x01
#define L_FALLOC_FL_PUNCH_HOLE 0x02

/* Preallocation and hole punching on the host file (the VFS checked the
 * arguments and that F is open for writing). */
static int hostfs_fallocate(struct file *f, int mode, uint64_t off, uint64_t len)
{
    struct hostfs_inode *hi = HI(f->inode);
    int fd = hostfs_wfd(hi);
    if (fd < 0)
        return fd;
    int r = host_fs_fallocate(fd, mode, off, len);
    if (r == 0) {
        pthread_mutex_lock(&hi->base.lock);
        if (hi->pc) {
            /* Keep the mapped copy in step (punched: zeroes; grown: room). */
            if (mode & L_FALLOC_FL_PUNCH_HOLE)
                pagecache_zero(hi->pc, off, MIN(off + len, hi->base.size));
            else if (!(mode & L_FALLOC_FL_KEEP_SIZE) && off + len > hi->base.size &&
                     pagecache_reserve(hi->pc, off + len) == 0)
                hi->base.size = off + len;
        }
        pthread_mutex_unlock(&hi->base.lock);
        hostfs_refresh(hi);
    }
    return r;
}

static int hostfs_fsync(struct file *f)
{
    struct hostfs_inode *hi = HI(f->inode);
    pthread_mutex_lock(&hi->base.lock);
    int fd = hi->wfd;
    int r = cache_writeback_locked(hi);
    pthread_mutex_unlock(&hi->base.lock);
    if (r < 0)
        return r;
    return fd >= 0 ? host_fs_fsync(fd) : 0;
}

/* ---- changing a writable tree ---- */

/* Makes the entry NAME just created in DIR (host fd IOFD for a regular
 * file, else -1, consumed) the sandbox's: owned by UID:GID (best effort:
 * an unmapped id in a user namespace keeps the kernel's), mode MODE
 * exactly (the kernel process's umask and chown's set-id clearing undone). */
static int finish_create(struct inode *dir, const char *name, int iofd, uint32_t uid, uint32_t gid,
                         int32_t mode, struct inode **out)
{
    struct inode *inode;
    int r = hostfs_lookup(dir, name, &inode);
    if (r < 0) {
        if (iofd >= 0)
            host_fs_close(iofd);
        return r;
    }
    struct hostfs_inode *hi = HI(inode);
    if (iofd >= 0) {
        struct stat st;
        if (host_fs_fstat(iofd, &st) < 0 || st.st_dev != hi->host_dev || st.st_ino != inode->ino) {
            host_fs_close(iofd);
            inode_put(inode);
            return -ESTALE; /* replaced on the host at once */
        }
        hi->wfd = iofd;
    }
    int cr = host_fs_fchown(hi->fd, uid, gid);
    if (cr < 0)
        log_debug("hostfs: chown of new %s to %u:%u: error %d", name, uid, gid, cr);
    if (mode >= 0) {
        r = host_fs_fchmod(hi->fd, (uint32_t)mode);
        if (r < 0)
            log_debug("hostfs: chmod of new %s: error %d", name, r);
    }
    hostfs_refresh(hi);
    *out = inode;
    return 0;
}

/* The group of a new entry of DIR: the directory's when it is set-gid. */
static uint32_t new_gid(struct inode *dir, const struct cred *cred)
{
    return (dir->mode & S_ISGID) ? dir->gid : cred->fsgid;
}

static int hostfs_create(struct inode *dir, const char *name, uint32_t mode, uint64_t rdev,
                         const struct cred *cred, struct inode **out)
{
    struct hostfs_inode *d = HI(dir);
    if (!writable(dir))
        return -EROFS;
    uint32_t perm = mode & 07777;
    int iofd = -1, r;
    switch (mode & VFS_S_IFMT) {
    case VFS_S_IFREG:
        r = iofd = host_fs_openat_rw(d->fd, name, O_RDWR | O_CREAT | O_EXCL, perm);
        break;
    case VFS_S_IFDIR:
        r = host_fs_mkdirat(d->fd, name, perm);
        if (dir->mode & S_ISGID)
            perm |= S_ISGID; /* inherited, as the host does */
        break;
    case VFS_S_IFIFO:
    case VFS_S_IFSOCK:
        r = host_fs_mknodat(d->fd, name, mode);
        break;
    default:
        log_warn_once("hostfs: device nodes cannot be made in a host bind mount");
        return -EPERM;
    }
    if (r < 0)
        return r;
    return finish_create(dir, name, iofd, cred->fsuid, new_gid(dir, cred), (int32_t)perm, out);
}

static int hostfs_symlink(struct inode *dir, const char *name, const char *target,
                          const struct cred *cred, struct inode **out)
{
    if (!writable(dir))
        return -EROFS;
    int r = host_fs_symlinkat(target, HI(dir)->fd, name);
    if (r < 0)
        return r;
    return finish_create(dir, name, -1, cred->fsuid, new_gid(dir, cred), -1, out);
}

/* A copy of HI's current parent fd holder and name (for calls by name). */
static int name_of(struct hostfs_inode *hi, struct hostfs_inode **out_parent, char **out_name)
{
    pthread_mutex_lock(&hi->base.lock);
    struct hostfs_inode *p = hi->parent;
    char *n = hi->name ? strdup(hi->name) : NULL;
    if (p)
        inode_get(&p->base);
    pthread_mutex_unlock(&hi->base.lock);
    if (!p || !n) {
        if (p)
            inode_put(&p->base);
        free(n);
        return p ? -ENOMEM : -EBUSY;
    }
    *out_parent = p;
    *out_name = n;
    return 0;
}

static int hostfs_link(struct inode *dir, const char *name, struct inode *inode)
{
    if (!writable(dir) || inode->sb != dir->sb)
        return writable(dir) ? -EXDEV : -EROFS;
    struct hostfs_inode *src = HI(inode), *sp;
    char *sname;
    int r = name_of(src, &sp, &sname);
    if (r < 0)
        return r;
    r = host_fs_linkat(sp->fd, sname, HI(dir)->fd, name);
    if (r == 0) {
        /* The name linked must still be this inode (else the host changed
         * it meanwhile: undone). */
        int fd = host_fs_openat(HI(dir)->fd, name, O_PATH);
        struct stat st;
        if (fd < 0 || host_fs_fstat(fd, &st) < 0 || st.st_dev != src->host_dev ||
            st.st_ino != inode->ino) {
            host_fs_unlinkat(HI(dir)->fd, name, false);
            r = -ESTALE;
        }
        if (fd >= 0)
            host_fs_close(fd);
    }
    inode_put(&sp->base);
    free(sname);
    hostfs_refresh(src);
    return r;
}

static int hostfs_unlink(struct inode *dir, const char *name, struct inode *victim)
{
    if (!writable(dir))
        return -EROFS;
    int r = host_fs_unlinkat(HI(dir)->fd, name, false);
    if (r == 0)
        hostfs_refresh(HI(victim));
    return r;
}

static int hostfs_rmdir(struct inode *dir, const char *name, struct inode *victim)
{
    if (!writable(dir))
        return -EROFS;
    return host_fs_unlinkat(HI(dir)->fd, name, true);
}

static int hostfs_rename(struct inode *odir, const char *oname, struct inode *src,
                         struct inode *ndir, const char *nname, struct inode *target)
{
    if (!writable(odir))
        return -EROFS;
    if (odir->sb != ndir->sb)
        return -EXDEV;
    int r = host_fs_renameat(HI(odir)->fd, oname, HI(ndir)->fd, nname, 0);
    if (r < 0)
        return r;
    struct hostfs_inode *hi = HI(src);
    char *n = strdup(nname);
    pthread_mutex_lock(&src->lock);
    struct hostfs_inode *oldp = hi->parent;
    if (n) {
        free(hi->name);
        hi->name = n;
        inode_get(ndir);
        hi->parent = HI(ndir);
    } else {
        oldp = NULL; /* keeps the old name: later opens by name fail with ESTALE */
    }
    pthread_mutex_unlock(&src->lock);
    if (oldp)
        inode_put(&oldp->base);
    if (target)
        hostfs_refresh(HI(target));
    return 0;
}

/*
 * Shared mappings of files of a writable instance. MAP_SHARED needs the
 * file's pages in the memory file (the stubs map nothing else), so on the
 * first such mapping the file's data is copied into a pagecache; from then
 * on reads are served from it, write(2) goes both to the host and to it,
 * and what mappings changed is written back to the host at fsync, at the
 * last close of a file opened for writing and at eviction (msync is not
 * seen by the file system: FIXME(mm) when mm_msync calls vfs_fsync). Other
 * host processes see mapped changes only then.
 */

/* Copies HI's host data into a new pagecache. inode->lock held. */
static int cache_load_locked(struct hostfs_inode *hi, int fd)
{
    struct pagecache *pc = calloc(1, sizeof(*pc));
    char *buf = malloc(65536);
    int r = pc && buf ? pagecache_reserve(pc, hi->base.size) : -ENOMEM;
    for (uint64_t off = 0; r == 0 && off < hi->base.size;) {
        size_t want = (size_t)MIN((uint64_t)65536, hi->base.size - off);
        ssize_t n = host_fs_pread(fd, buf, want, off);
        if (n <= 0) {
            r = n < 0 ? (int)n : 0; /* shorter on the host: the rest stays zero */
            break;
        }
        pagecache_write(pc, buf, (size_t)n, off);
        off += (uint64_t)n;
    }
    free(buf);
    if (r < 0) {
        if (pc)
            pagecache_release(pc);
        free(pc);
        return r;
    }
    hi->pc = pc;
    return 0;
}

/* Writes the cached data back to the host. inode->lock held. */
static int cache_writeback_locked(struct hostfs_inode *hi)
{
    if (!hi->pc || !hi->pc_dirty || hi->wfd < 0)
        return 0;
    char *buf = malloc(65536);
    if (!buf)
        return -ENOMEM;
    int r = 0;
    for (uint64_t off = 0; off < hi->base.size;) {
        size_t n = (size_t)MIN((uint64_t)65536, hi->base.size - off);
        if (pagecache_read(hi->pc, buf, n, off) < 0) {
            r = -EIO;
            break;
        }
        ssize_t w = host_fs_pwrite(hi->wfd, buf, n, off);
        if (w <= 0) {
            r = w < 0 ? (int)w : -EIO;
            break;
        }
        off += (uint64_t)w;
    }
    free(buf);
    return r;
}

static int hostfs_mmap_backing(struct file *f, uint64_t off, uint64_t len, uint64_t *out_moff,
                               uint64_t *out_len)
{
    struct hostfs_inode *hi = HI(f->inode);
    if (!writable(f->inode))
        return -ENODEV; /* read-only trees: private copies will do */
    int fd = hostfs_wfd(hi);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&hi->base.lock);
    int r = hi->pc ? 0 : cache_load_locked(hi, fd);
    if (r == 0)
        r = pagecache_backing(hi->pc, off, len, out_moff, out_len);
    if (r == 0 && (f->fmode & FMODE_WRITE))
        hi->pc_dirty = true; /* only files open for writing map writably */
    pthread_mutex_unlock(&hi->base.lock);
    return r;
}

/* Whether private mappings of HI may share its pages (ro_pc): its data
 * never changes while the sandbox runs. */
static bool ro_cacheable(struct hostfs_inode *hi)
{
    struct hostfs_sb *hs = hi->base.sb->priv;
    /* A file bind (hostfs_new_file, no parent) may change on the host. */
    return hs && !hs->writable && !hs->shared && hi->parent && inode_is_reg(&hi->base);
}

#define RO_FILL_BUF (128 * 1024)
#define RO_PAST_EOF_MAX ((uint64_t)16 << 20)

/* Fills the pages of [off, off+len) (page aligned, backed by ro_pc from
 * MOFF on, contiguously) that hold file data and were not filled yet,
 * from the host through a buffer the size of a cache (memfile_write: no
 * page faults). inode->lock held. */
static int ro_fill_locked(struct hostfs_inode *hi, int fd, uint64_t off, uint64_t len,
                          uint64_t moff)
{
    _cleanup_free_ uint8_t *buf = NULL;
    uint64_t size = hi->base.size;
    uint64_t end = MIN(off + len, ALIGN_UP(size, PAGE_SIZE));
    for (uint64_t at = off; at < end;) {
        uint64_t pg = at / PAGE_SIZE;
        if (hi->ro_filled[pg / 64] & (1ULL << (pg % 64))) {
            at += PAGE_SIZE;
            continue;
        }
        /* A run of unfilled pages. */
        uint64_t run_end = at + PAGE_SIZE;
        while (run_end < end) {
            uint64_t p = run_end / PAGE_SIZE;
            if (hi->ro_filled[p / 64] & (1ULL << (p % 64)))
                break;
            run_end += PAGE_SIZE;
        }
        if (!buf && !(buf = malloc(RO_FILL_BUF)))
            return -ENOMEM;
        for (uint64_t done = at; done < MIN(run_end, size);) {
            size_t want = (size_t)MIN(MIN(run_end, size) - done, (uint64_t)RO_FILL_BUF);
            ssize_t n = host_fs_pread(fd, buf, want, done);
            if (n < 0)
                return (int)n;
            if (n == 0)
                break; /* shorter on the host: the rest reads as zero */
            if (memfile_write(moff + (done - off), buf, (size_t)n) < 0)
                return -ENOMEM; /* the host refused a page (the memory limit) */
            done += (uint64_t)n;
        }
        for (uint64_t p = at / PAGE_SIZE; p < run_end / PAGE_SIZE; p++)
            hi->ro_filled[p / 64] |= 1ULL << (p % 64);
        at = run_end;
    }
    return 0;
}

static int hostfs_mmap_private_backing(struct file *f, uint64_t off, uint64_t len, bool fill,
                                       uint64_t *out_moff, uint64_t *out_len)
{
    struct hostfs_inode *hi = HI(f->inode);
    if (!ro_cacheable(hi))
        return -ENODEV;
    /* The cache reserves memory-file offsets (not memory) for as much as
     * is mapped, for as long as the inode lives: a little past the end (an
     * ELF image's span with its bss) is fine, a huge mapping past it gets
     * a private copy instead. */
    if (off + len < off || off + len > ALIGN_UP(hi->base.size, PAGE_SIZE) + RO_PAST_EOF_MAX)
        return -ENODEV;
    int fd = fill ? hostfs_rdfd(hi) : 0;
    if (fd < 0)
        return fd;
    int r = 0;
    pthread_mutex_lock(&hi->base.lock);
    if (!hi->ro_pc) {
        uint64_t pages = ALIGN_UP(hi->base.size, PAGE_SIZE) / PAGE_SIZE;
        hi->ro_pc = calloc(1, sizeof(*hi->ro_pc));
        hi->ro_filled = calloc(pages / 64 + 1, sizeof(uint64_t));
        if (!hi->ro_pc || !hi->ro_filled) {
            free(hi->ro_pc);
            free(hi->ro_filled);
            hi->ro_pc = NULL;
            hi->ro_filled = NULL;
            r = -ENOMEM;
        }
    }
    if (r == 0)
        r = pagecache_backing(hi->ro_pc, off, len, out_moff, out_len);
    if (r == 0 && fill) {
        r = ro_fill_locked(hi, fd, off, *out_len, *out_moff);
        if (r < 0)
            memfile_free(*out_moff, *out_len);
    }
    pthread_mutex_unlock(&hi->base.lock);
    return r;
}

static int hostfs_mmap_host_fd(struct file *f)
{
    struct hostfs_inode *hi = HI(f->inode);
    return ro_cacheable(hi) ? hostfs_rdfd(hi) : -ENODEV;
}

static int hostfs_mmap_private_fill(struct inode *inode, uint64_t off, uint64_t len, uint64_t moff)
{
    struct hostfs_inode *hi = HI(inode);
    int fd = hostfs_rdfd(hi);
    if (fd < 0)
        return fd;
    int r = 0;
    pthread_mutex_lock(&hi->base.lock);
    if (!hi->ro_pc)
        r = -EIO; /* never handed out: not what the caller maps */
    for (uint64_t at = off, m, n; r == 0 && at < off + len; at += n) {
        /* Only offsets the caller holds (references) are looked up: the
         * cache's chunks never move, so they are where they were. */
        r = pagecache_backing(hi->ro_pc, at, off + len - at, &m, &n);
        if (r < 0)
            break;
        if (m != moff + (at - off))
            r = -EIO;
        else
            r = ro_fill_locked(hi, fd, at, n, m);
        memfile_free(m, n);
    }
    pthread_mutex_unlock(&hi->base.lock);
    return r;
}

static int hostfs_mmap_private_filled(struct file *f, uint64_t off, uint64_t lo, uint64_t hi_off,
                                      uint64_t *out_lo, uint64_t *out_hi)
{
    struct hostfs_inode *hi = HI(f->inode);
    pthread_mutex_lock(&hi->base.lock);
    /* Pages past the end of the file hold zeros: filled as far as any
     * reader can tell (mappings send the app SIGBUS there anyway). */
    uint64_t eof = ALIGN_UP(hi->base.size, PAGE_SIZE);
#define RO_FILLED(a) \
    ((a) >= eof || (hi->ro_filled && (hi->ro_filled[(a) / PAGE_SIZE / 64] >> ((a) / PAGE_SIZE % 64) & 1)))
    int state = RO_FILLED(off) ? 1 : 0;
    uint64_t s = off, e = off + PAGE_SIZE;
    while (s > lo && (RO_FILLED(s - PAGE_SIZE) ? 1 : 0) == state)
        s -= PAGE_SIZE;
    while (e < hi_off && (RO_FILLED(e) ? 1 : 0) == state)
        e += PAGE_SIZE;
#undef RO_FILLED
    pthread_mutex_unlock(&hi->base.lock);
    *out_lo = s;
    *out_hi = e;
    return state;
}

ssize_t hostfs_pread(struct inode *inode, void *buf, size_t n, uint64_t off)
{
    struct hostfs_inode *hi = HI(inode);
    pthread_mutex_lock(&inode->lock);
    if (hi->pc) {
        ssize_t r = 0;
        if (off < inode->size) {
            r = (ssize_t)MIN((uint64_t)n, inode->size - off);
            if (pagecache_read(hi->pc, buf, (size_t)r, off) < 0)
                r = -EIO;
        }
        pthread_mutex_unlock(&inode->lock);
        return r;
    }
    pthread_mutex_unlock(&inode->lock);
    int fd = hostfs_rdfd(hi);
    if (fd < 0)
        return fd;
    return host_fs_pread(fd, buf, n, off);
}

static void hostfs_release(struct file *f)
{
    struct hostfs_inode *hi = HI(f->inode);
    if (!(f->fmode & FMODE_WRITE))
        return;
    pthread_mutex_lock(&hi->base.lock);
    int r = cache_writeback_locked(hi);
    pthread_mutex_unlock(&hi->base.lock);
    if (r < 0)
        log_warn("hostfs: writing a mapped file back to the host failed: error %d", r);
}

static ssize_t hostfs_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    ssize_t r = hostfs_pread(f->inode, buf, n, *pos);
    if (r > 0)
        *pos += (uint64_t)r;
    return r;
}

static void hostfs_evict(struct inode *inode)
{
    struct hostfs_inode *hi = HI(inode);
    struct hostfs_sb *hs = inode->sb->priv;
    if (hs && hs->shared) {
        pthread_mutex_lock(&hs->itab_lock);
        if (hi->hashed)
            list_del(&hi->ilink);
        pthread_mutex_unlock(&hs->itab_lock);
    }
    if (hi->pc) {
        if (cache_writeback_locked(hi) < 0)
            log_warn("hostfs: writing a mapped file back to the host failed");
        pagecache_release(hi->pc);
        free(hi->pc);
    }
    listing_free(hi->listing);
    if (hi->ro_pc) {
        pagecache_release(hi->ro_pc); /* mapped pages live on */
        free(hi->ro_pc);
        free(hi->ro_filled);
    }
    host_fs_close(hi->fd);
    if (hi->rdfd >= 0 && hi->rdfd != hi->fd)
        host_fs_close(hi->rdfd);
    if (hi->wfd >= 0 && hi->wfd != hi->fd)
        host_fs_close(hi->wfd);
    if (hi->parent)
        inode_put(&hi->parent->base);
    free(hi->name);
    free(hi->link);
    free(hi);
}

/* ---- extended attributes (writable instances; a read-only tree shows
 * none, as the overlay's lower layer always has) ---- */

/* A readable host fd of INODE for the f*xattr calls (new if *OUT_CLOSE). */
static int xattr_fd(struct inode *inode, bool *out_close)
{
    struct hostfs_inode *hi = HI(inode);
    *out_close = false;
    if (inode_is_reg(inode))
        return hostfs_rdfd(hi);
    if (!inode_is_dir(inode))
        return -EPERM;
    /* A directory's fd may be O_PATH (a bind's root, an unreadable one). */
    int fd = host_fs_openat(hi->fd, ".", O_RDONLY | O_DIRECTORY);
    *out_close = fd >= 0;
    return fd;
}

static ssize_t hostfs_getxattr(struct inode *inode, const char *name, void *buf, size_t size)
{
    if (!writable(inode))
        return -ENODATA;
    bool c;
    int fd = xattr_fd(inode, &c);
    if (fd < 0)
        return fd == -EPERM ? -ENODATA : fd;
    ssize_t r = host_fs_fgetxattr(fd, name, buf, size);
    if (c)
        host_fs_close(fd);
    return r;
}

static ssize_t hostfs_listxattr(struct inode *inode, char *buf, size_t size)
{
    if (!writable(inode))
        return 0;
    bool c;
    int fd = xattr_fd(inode, &c);
    if (fd < 0)
        return fd == -EPERM ? 0 : fd;
    ssize_t r = host_fs_flistxattr(fd, buf, size);
    if (c)
        host_fs_close(fd);
    return r;
}

static int hostfs_setxattr(struct inode *inode, const char *name, const void *value, size_t size,
                           int flags)
{
    if (!writable(inode))
        return -EROFS;
    bool c;
    int fd = xattr_fd(inode, &c);
    if (fd < 0)
        return fd;
    int r = host_fs_fsetxattr(fd, name, value, size, flags);
    if (c)
        host_fs_close(fd);
    return r;
}

static int hostfs_removexattr(struct inode *inode, const char *name)
{
    if (!writable(inode))
        return -EROFS;
    bool c;
    int fd = xattr_fd(inode, &c);
    if (fd < 0)
        return fd == -EPERM ? -ENODATA : fd;
    int r = host_fs_fremovexattr(fd, name);
    if (c)
        host_fs_close(fd);
    return r;
}

static const struct inode_ops hostfs_iops = {
        .getxattr = hostfs_getxattr,
        .listxattr = hostfs_listxattr,
        .setxattr = hostfs_setxattr,
        .removexattr = hostfs_removexattr,
        .lookup = hostfs_lookup,
        .create = hostfs_create,
        .symlink = hostfs_symlink,
        .link = hostfs_link,
        .unlink = hostfs_unlink,
        .rmdir = hostfs_rmdir,
        .rename = hostfs_rename,
        .readdir = hostfs_readdir,
        .readlink = hostfs_readlink,
        .getattr = hostfs_getattr,
        .setattr = hostfs_setattr,
        .open = hostfs_open,
        .evict = hostfs_evict,
};

static const struct file_ops hostfs_fops = {
        .direct_io = true,
        .read = hostfs_read,
        .write = hostfs_write,
        .fsync = hostfs_fsync,
        .release = hostfs_release,
        .mmap_backing = hostfs_mmap_backing,
        .mmap_private_backing = hostfs_mmap_private_backing,
        .mmap_private_fill = hostfs_mmap_private_fill,
        .mmap_private_filled = hostfs_mmap_private_filled,
        .mmap_host_fd = hostfs_mmap_host_fd,
        .fallocate = hostfs_fallocate,
};
