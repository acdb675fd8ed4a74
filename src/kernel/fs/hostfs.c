/*
 * hostfs: a read-only view of a host directory tree the kernel holds an fd
 * to (the container rootfs).
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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernel/fs/fs.h"
#include "kernel/ipc/pipe.h"
#include "kernel/host/host_fs.h"
#include "lib/log.h"

struct hostfs_inode {
    struct inode base;
    int fd;                        /* (c) */
    int rdfd;                      /* (i) base.lock; -1 until the first open */
    struct hostfs_inode *parent;   /* (c) counted; NULL for the root */
    char *name;                    /* (c) */
    char *link;                    /* (i) cached symlink target */
    uint64_t host_dev;             /* (c) */
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

int hostfs_new(int host_dirfd, struct inode **out_root)
{
    struct stat st;
    int r = host_fs_fstat(host_dirfd, &st);
    if (r < 0)
        goto out_close;
    if (!S_ISDIR(st.st_mode)) {
        r = -ENOTDIR;
        goto out_close;
    }
    struct vfs_sb *sb = vfs_sb_new("hostfs", false);
    struct hostfs_inode *root = sb ? hostfs_inode_new(sb, host_dirfd, &st) : NULL;
    if (!root) {
        r = -ENOMEM;
        goto out_close;
    }
    root->name = strdup("/");
    *out_root = &root->base;
    return 0;
out_close:
    host_fs_close(host_dirfd);
    return r;
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
    struct hostfs_inode *hi = hostfs_inode_new(dir->sb, fd, &st);
    if (!hi) {
        r = -ENOMEM;
        goto out_close;
    }
    hi->name = strdup(name);
    if (!hi->name) {
        inode_put(&hi->base);
        return -ENOMEM;
    }
    inode_get(dir);
    hi->parent = d;
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

static int hostfs_readdir(struct inode *dir, struct dir_emit *ctx)
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
    memset(st, 0, sizeof(*st));
    /* The host tree is read-only to moat: the attributes read at lookup
     * stay valid. Reported with the sandbox's device number. */
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
    return 0;
}

static int hostfs_setattr(struct inode *inode, const struct vfs_attr *attr)
{
    return -EROFS;
}

/* The O_RDONLY fd of regular file HI, opened on first use. */
static int hostfs_rdfd(struct hostfs_inode *hi)
{
    pthread_mutex_lock(&hi->base.lock);
    int r = hi->rdfd;
    if (r >= 0 || !hi->parent)
        goto out_unlock;
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

static int hostfs_open(struct inode *inode, struct file *f)
{
    if ((inode->mode & VFS_S_IFMT) == VFS_S_IFIFO)
        return pipe_open_fifo(inode, f); /* a sandbox pipe, never the host's */
    if (!inode_is_reg(inode)) {
        log_warn_once("open of a host device node, FIFO or socket refused (rootfs is data only)");
        return -EACCES;
    }
    if (f->fmode & FMODE_WRITE)
        return -EROFS;
    int fd = hostfs_rdfd(HI(inode));
    if (fd < 0)
        return fd;
    f->ops = &hostfs_fops;
    return 0;
}

ssize_t hostfs_pread(struct inode *inode, void *buf, size_t n, uint64_t off)
{
    int fd = hostfs_rdfd(HI(inode));
    if (fd < 0)
        return fd;
    return host_fs_pread(fd, buf, n, off);
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
    host_fs_close(hi->fd);
    if (hi->rdfd >= 0)
        host_fs_close(hi->rdfd);
    if (hi->parent)
        inode_put(&hi->parent->base);
    free(hi->name);
    free(hi->link);
    free(hi);
}

static const struct inode_ops hostfs_iops = {
        .lookup = hostfs_lookup,
        .readdir = hostfs_readdir,
        .readlink = hostfs_readlink,
        .getattr = hostfs_getattr,
        .setattr = hostfs_setattr,
        .open = hostfs_open,
        .evict = hostfs_evict,
};

static const struct file_ops hostfs_fops = {
        .read = hostfs_read,
};
