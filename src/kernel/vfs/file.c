/*
 * Open file descriptions: counts, I/O wrappers, seeking, directory
 * listings, and the character devices every tmpfs/devfs node can name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/host/host.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "kernel/vfs/notify.h"
#include "kernel/vfs/vfs_internal.h"
#include "kernel/vfs/vfs_lock.h"
#include "lib/log.h"

struct file *file_alloc(struct inode *inode, const struct path *path, unsigned flags)
{
    struct file *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    refcount_init(&f->ref);
    pthread_mutex_init(&f->pos_lock, NULL);
    pthread_mutex_init(&f->lock, NULL);
    inode_get(inode);
    f->inode = inode;
    if (path) {
        f->path = *path;
        path_get(&f->path);
        if (f->path.mnt)
            __atomic_add_fetch(&f->path.mnt->files, 1, __ATOMIC_ACQ_REL);
    }
    f->flags = flags;
    if (flags & O_PATH) {
        f->fmode = FMODE_PATH;
    } else {
        unsigned acc = flags & O_ACCMODE;
        if (acc == O_RDONLY || acc == O_RDWR)
            f->fmode |= FMODE_READ;
        if (acc == O_WRONLY || acc == O_RDWR)
            f->fmode |= FMODE_WRITE;
    }
    return f;
}

void file_get(struct file *f)
{
    refcount_inc(&f->ref);
}

void (*g_file_release_hook)(struct file *f);
void (*g_file_fasync_release)(struct file *f);

void file_put(struct file *f)
{
    if (!f || !refcount_dec(&f->ref))
        return;
    vfs_locks_release_file(f);
    void (*hook)(struct file *) = __atomic_load_n(&g_file_release_hook, __ATOMIC_ACQUIRE);
    if (hook)
        hook(f);
    if (f->fasync && g_file_fasync_release)
        g_file_fasync_release(f);
    if (f->ops)
        fsnotify_close(f);
    if (f->ops && f->ops->release)
        f->ops->release(f);
    if (f->dir) {
        vfs_dirsnap_free(f->dir);
        free(f->dir);
    }
    inode_put(f->inode);
    if (f->fmode & FMODE_WRITER)
        __atomic_sub_fetch(&f->path.mnt->writers, 1, __ATOMIC_ACQ_REL);
    if (f->path.mnt)
        __atomic_sub_fetch(&f->path.mnt->files, 1, __ATOMIC_ACQ_REL);
    path_put(&f->path);
    pthread_mutex_destroy(&f->pos_lock);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

bool vfs_file_is_opath(struct file *f)
{
    return f->fmode & FMODE_PATH;
}

bool vfs_file_is_seekable(struct file *f)
{
    return f->fmode & FMODE_LSEEK;
}

unsigned vfs_file_flags(struct file *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned fl = f->flags;
    pthread_mutex_unlock(&f->lock);
    return fl;
}

int vfs_file_set_flags(struct file *f, unsigned flags)
{
    const unsigned settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
    pthread_mutex_lock(&f->lock);
    f->flags = (f->flags & ~settable) | (flags & settable);
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static void pos_lock(struct file *f)
{
    if (f->fmode & FMODE_ATOMIC_POS)
        pthread_mutex_lock(&f->pos_lock);
}

static void pos_unlock(struct file *f)
{
    if (f->fmode & FMODE_ATOMIC_POS)
        pthread_mutex_unlock(&f->pos_lock);
}

ssize_t vfs_read(struct file *f, void *buf, size_t n)
{
    if (!(f->fmode & FMODE_READ))
        return -EBADF;
    if (!f->ops->read)
        return -EINVAL;
    pos_lock(f);
    uint64_t pos = f->pos;
    ssize_t r = f->ops->read(f, buf, n, &pos);
    if (r > 0)
        f->pos = pos;
    pos_unlock(f);
    return r;
}

ssize_t vfs_write(struct file *f, const void *buf, size_t n)
{
    if (!(f->fmode & FMODE_WRITE))
        return -EBADF;
    if (!f->ops->write)
        return -EINVAL;
    pos_lock(f);
    uint64_t pos = f->pos;
    ssize_t r = f->ops->write(f, buf, n, &pos);
    if (r > 0)
        f->pos = pos;
    pos_unlock(f);
    return r;
}

ssize_t vfs_pread(struct file *f, void *buf, size_t n, uint64_t off)
{
    if (!(f->fmode & FMODE_READ))
        return -EBADF;
    if (!(f->fmode & FMODE_LSEEK))
        return -ESPIPE;
    if (!f->ops->read)
        return -EINVAL;
    if ((int64_t)off < 0)
        return -EINVAL;
    return f->ops->read(f, buf, n, &off);
}

ssize_t vfs_pwrite(struct file *f, const void *buf, size_t n, uint64_t off)
{
    if (!(f->fmode & FMODE_WRITE))
        return -EBADF;
    if (!(f->fmode & FMODE_LSEEK))
        return -ESPIPE;
    if (!f->ops->write)
        return -EINVAL;
    if ((int64_t)off < 0)
        return -EINVAL;
    return f->ops->write(f, buf, n, &off);
}

int64_t vfs_generic_llseek(struct file *f, int64_t off, int whence)
{
    /* Called with pos_lock held (for FMODE_ATOMIC_POS files). */
    int64_t base;
    struct linux_stat st;
    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)f->pos;
        break;
    case SEEK_END:
    case SEEK_DATA:
    case SEEK_HOLE: {
        int r = vfs_getattr(f->inode, &st);
        if (r < 0)
            return r;
        if (whence == SEEK_END) {
            base = st.st_size;
            break;
        }
        if (off < 0 || off >= st.st_size)
            return -ENXIO;
        /* No holes are tracked: all data up to the size. */
        f->pos = whence == SEEK_DATA ? (uint64_t)off : (uint64_t)st.st_size;
        return (int64_t)f->pos;
    }
    default:
        return -EINVAL;
    }
    int64_t n;
    if (__builtin_add_overflow(base, off, &n) || n < 0)
        return -EINVAL;
    f->pos = (uint64_t)n;
    return n;
}

int64_t vfs_llseek(struct file *f, int64_t off, int whence)
{
    if (f->fmode & FMODE_PATH)
        return -EBADF;
    int64_t r;
    pos_lock(f);
    if (f->ops->llseek)
        r = f->ops->llseek(f, off, whence);
    else if (f->fmode & FMODE_LSEEK)
        r = vfs_generic_llseek(f, off, whence);
    else
        r = -ESPIPE;
    if (r == 0 && f->dir) {
        /* rewinddir: list again on the next getdents. */
        vfs_dirsnap_free(f->dir);
        free(f->dir);
        f->dir = NULL;
    }
    pos_unlock(f);
    return r;
}

long vfs_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg)
{
    if (f->fmode & FMODE_PATH)
        return -EBADF;
    if (!f->ops->ioctl) {
        /* FIONREAD on a regular file: the bytes from the offset to EOF. */
        if (cmd == 0x541B && inode_is_reg(f->inode)) {
            struct linux_stat st;
            int r = vfs_getattr(f->inode, &st);
            if (r < 0)
                return r;
            pos_lock(f);
            int64_t left = st.st_size - (int64_t)f->pos;
            pos_unlock(f);
            int32_t v = left > 0 ? (int32_t)MIN(left, (int64_t)INT32_MAX) : 0;
            return mm_copy_out(t->mm, arg, &v, sizeof(v));
        }
        return -ENOTTY;
    }
    return f->ops->ioctl(f, t, cmd, arg);
}

int vfs_fsync(struct file *f)
{
    if (f->fmode & FMODE_PATH)
        return -EBADF;
    if (f->ops->fsync)
        return f->ops->fsync(f);
    /* Linux has no fsync for pipes, sockets and character devices (EINVAL);
     * files and directories of moat's memory file systems have nothing to
     * flush. */
    uint32_t type = f->inode->mode & VFS_S_IFMT;
    if (type == VFS_S_IFIFO || type == VFS_S_IFSOCK || type == VFS_S_IFCHR)
        return -EINVAL;
    return 0;
}

#define L_FALLOC_FL_KEEP_SIZE      0x01
#define L_FALLOC_FL_PUNCH_HOLE     0x02
#define L_FALLOC_FL_NO_HIDE_STALE  0x04
#define L_FALLOC_FL_COLLAPSE_RANGE 0x08
#define L_FALLOC_FL_ZERO_RANGE     0x10
#define L_FALLOC_FL_INSERT_RANGE   0x20
#define L_FALLOC_FL_UNSHARE_RANGE  0x40
#define L_FALLOC_SUPPORTED                                                                         \
    (L_FALLOC_FL_KEEP_SIZE | L_FALLOC_FL_PUNCH_HOLE | L_FALLOC_FL_NO_HIDE_STALE |                  \
     L_FALLOC_FL_COLLAPSE_RANGE | L_FALLOC_FL_ZERO_RANGE | L_FALLOC_FL_INSERT_RANGE |              \
     L_FALLOC_FL_UNSHARE_RANGE)

int vfs_fallocate(struct file *f, int mode, int64_t off, int64_t len)
{
    if (f->fmode & FMODE_PATH)
        return -EBADF;
    if (off < 0 || len <= 0)
        return -EINVAL;
    if (mode & ~L_FALLOC_SUPPORTED)
        return -EOPNOTSUPP;
    /* The combinations Linux accepts. */
    if ((mode & L_FALLOC_FL_PUNCH_HOLE) && !(mode & L_FALLOC_FL_KEEP_SIZE))
        return -EOPNOTSUPP;
    if ((mode & L_FALLOC_FL_PUNCH_HOLE) && (mode & L_FALLOC_FL_ZERO_RANGE))
        return -EOPNOTSUPP;
    if ((mode & (L_FALLOC_FL_COLLAPSE_RANGE | L_FALLOC_FL_INSERT_RANGE)) &&
        (mode & ~(L_FALLOC_FL_COLLAPSE_RANGE | L_FALLOC_FL_INSERT_RANGE)))
        return -EINVAL;
    if ((mode & L_FALLOC_FL_COLLAPSE_RANGE) && (mode & L_FALLOC_FL_INSERT_RANGE))
        return -EINVAL;
    if (!(f->fmode & FMODE_WRITE))
        return -EBADF;
    uint32_t type = f->inode->mode & VFS_S_IFMT;
    if (type == VFS_S_IFIFO)
        return -ESPIPE;
    if (type == VFS_S_IFDIR)
        return -EISDIR;
    if (type != VFS_S_IFREG)
        return -ENODEV;
    int64_t end;
    if (__builtin_add_overflow(off, len, &end))
        return -EFBIG;
    if (!f->ops->fallocate)
        return -EOPNOTSUPP;
    /* Growing the file: within RLIMIT_FSIZE (inode_newsize_ok). */
    if (!(mode & (L_FALLOC_FL_KEEP_SIZE | L_FALLOC_FL_COLLAPSE_RANGE | L_FALLOC_FL_INSERT_RANGE))) {
        struct linux_stat st;
        int sr = vfs_getattr(f->inode, &st);
        if (sr == 0 && (uint64_t)end > (uint64_t)st.st_size &&
            (sr = task_fsize_grow_check((uint64_t)end)) < 0)
            return sr;
    }
    int r = f->ops->fallocate(f, mode, (uint64_t)off, (uint64_t)len);
    if (r == 0)
        fsnotify_file(f, FSN_MODIFY);
    return r;
}

int vfs_fstat(struct file *f, struct linux_stat *st)
{
    /* The name's inode (overlay) rather than the one I/O goes to. */
    struct inode *inode = f->path.dentry ? dentry_inode(f->path.dentry) : NULL;
    int r = vfs_getattr(inode ? inode : f->inode, st);
    inode_put(inode);
    return r;
}

int vfs_ftruncate(struct file *f, uint64_t len)
{
    if (!(f->fmode & FMODE_WRITE))
        return -EINVAL;
    if ((int64_t)len < 0)
        return -EINVAL;
    struct inode *inode = f->path.dentry ? dentry_inode(f->path.dentry) : NULL;
    struct vfs_attr a = {.valid = VFS_ATTR_SIZE, .size = len};
    int r = vfs_truncate_check(inode ? inode : f->inode, len);
    if (r == 0)
        r = vfs_setattr(inode ? inode : f->inode, &a);
    inode_put(inode);
    if (r == 0)
        fsnotify_file(f, FSN_MODIFY);
    return r;
}

int vfs_file_path(struct file *f, char *buf, size_t size)
{
    if (f->path.dentry) {
        struct path root;
        vfs_root_path(&root);
        int r = vfs_path_string(&f->path, &root, buf, size, true);
        path_put(&root);
        return r;
    }
    if (f->ops && f->ops->dname)
        return f->ops->dname(f, buf, size);
    int n = snprintf(buf, size, "anon_inode:[%llu]", (unsigned long long)f->inode->ino);
    return n < (int)size ? n : -ENAMETOOLONG;
}

int vfs_file_mode(struct file *f, uint32_t *out_mode, uint64_t *out_size)
{
    /* The inode I/O goes to, not the name's: same type and size, and an
     * overlay's getattr would take its lock, which ovl_setattr holds while
     * mm zaps mappings of the upper file (mm_file_resized). */
    struct linux_stat st;
    int r = vfs_getattr(f->inode, &st);
    if (r < 0)
        return r;
    *out_mode = st.st_mode;
    *out_size = (uint64_t)st.st_size;
    return 0;
}

struct inode *vfs_file_inode(struct file *f)
{
    return f->inode;
}

/* ---- Directory listings ---- */

void vfs_dirsnap_free(struct vfs_dirsnap *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].name);
    free(s->e);
    s->e = NULL;
    s->n = s->cap = 0;
}

struct snap_ctx {
    struct dir_emit base;
    struct vfs_dirsnap *s;
};

static int snap_add(struct vfs_dirsnap *s, const char *name, size_t len, uint64_t ino,
                    unsigned type)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        struct vfs_dirent *e = realloc(s->e, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        s->e = e;
        s->cap = cap;
    }
    char *nm = strndup(name, len);
    if (!nm)
        return -ENOMEM;
    s->e[s->n].name = nm;
    s->e[s->n].ino = ino;
    s->e[s->n].type = type;
    s->n++;
    return 0;
}

static int snap_emit(struct dir_emit *ctx, const char *name, size_t len, uint64_t ino,
                     unsigned type)
{
    struct snap_ctx *c = container_of(ctx, struct snap_ctx, base);
    return snap_add(c->s, name, len, ino, type);
}

static int dir_snapshot(struct file *f)
{
    struct inode *dir = f->path.dentry ? dentry_inode(f->path.dentry) : NULL;
    if (!dir) {
        dir = f->inode;
        inode_get(dir);
    }
    struct vfs_dirsnap *s = calloc(1, sizeof(*s));
    int r = -ENOMEM;
    if (!s)
        goto out_put;
    struct linux_stat st;
    uint64_t ino = vfs_getattr(dir, &st) == 0 ? st.st_ino : dir->ino;
    uint64_t pino = ino;
    struct dentry *pd = f->path.dentry ? d_parent(f->path.dentry) : NULL;
    if (pd) {
        struct inode *pi = dentry_inode(pd);
        if (pi && vfs_getattr(pi, &st) == 0)
            pino = st.st_ino;
        inode_put(pi);
        dentry_put(pd);
    }
    r = snap_add(s, ".", 1, ino, 4);
    if (r == 0)
        r = snap_add(s, "..", 2, pino, 4);
    struct snap_ctx ctx = {.base.emit = snap_emit, .s = s};
    if (r == 0 && dir->ops->readdir)
        r = dir->ops->readdir(dir, &ctx.base);
    if (r < 0) {
        vfs_dirsnap_free(s);
        free(s);
        goto out_put;
    }
    f->dir = s;
out_put:
    inode_put(dir);
    return r;
}

ssize_t vfs_getdents(struct file *f, void *buf, size_t size, bool old)
{
    if (f->fmode & FMODE_PATH)
        return -EBADF;
    if (!inode_is_dir(f->inode))
        return -ENOTDIR;
    pthread_mutex_lock(&f->pos_lock);
    ssize_t r = 0;
    if (!f->dir || f->pos == 0) {
        if (f->dir) {
            vfs_dirsnap_free(f->dir);
            free(f->dir);
            f->dir = NULL;
        }
        r = dir_snapshot(f);
        if (r < 0)
            goto out_unlock;
    }
    size_t done = 0;
    while (f->pos < f->dir->n) {
        struct vfs_dirent *e = &f->dir->e[f->pos];
        size_t nlen = strlen(e->name);
        /* dirent64: ino, off, reclen, type, name, NUL; old dirent: ino, off,
         * reclen, name, NUL, pad, type (last byte). */
        size_t reclen = old ? ALIGN_UP(18 + nlen + 2, 8) : ALIGN_UP(19 + nlen + 1, 8);
        if (done + reclen > size) {
            if (done == 0)
                r = -EINVAL;
            break;
        }
        uint8_t *p = (uint8_t *)buf + done;
        memset(p, 0, reclen);
        uint64_t off = f->pos + 1;
        uint16_t rl = (uint16_t)reclen;
        memcpy(p, &e->ino, 8);
        memcpy(p + 8, &off, 8);
        memcpy(p + 16, &rl, 2);
        if (old) {
            memcpy(p + 18, e->name, nlen);
            p[reclen - 1] = (uint8_t)e->type;
        } else {
            p[18] = (uint8_t)e->type;
            memcpy(p + 19, e->name, nlen);
        }
        done += reclen;
        f->pos++;
    }
    if (r == 0)
        r = (ssize_t)done;
out_unlock:
    pthread_mutex_unlock(&f->pos_lock);
    if (r >= 0)
        fsnotify_file(f, FSN_ACCESS);
    return r;
}

/* ---- Character devices ---- */

static ssize_t null_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    return 0;
}

static ssize_t null_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    return (ssize_t)n;
}

static ssize_t zero_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    memset(buf, 0, n);
    return (ssize_t)n;
}

static ssize_t full_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    return -ENOSPC;
}

static ssize_t random_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    int r = host_getrandom(buf, n);
    return r < 0 ? r : (ssize_t)n;
}

static int64_t dev_llseek(struct file *f, int64_t off, int whence)
{
    /* Linux's null/zero/random devices accept any seek and stay at 0. */
    f->pos = 0;
    return 0;
}

static const struct file_ops null_fops = {
        .read = null_read, .write = null_write, .llseek = dev_llseek};
static const struct file_ops zero_fops = {
        .read = zero_read, .write = null_write, .llseek = dev_llseek};
static const struct file_ops full_fops = {
        .read = zero_read, .write = full_write, .llseek = dev_llseek};
static const struct file_ops random_fops = {
        .read = random_read, .write = null_write, .llseek = dev_llseek};

int vfs_chrdev_open(struct inode *inode, struct file *f)
{
    unsigned ma = VFS_MAJOR(inode->rdev), mi = VFS_MINOR(inode->rdev);
    if (ma == 1) {
        switch (mi) {
        case 3:
            f->ops = &null_fops;
            return 0;
        case 5:
            f->ops = &zero_fops;
            return 0;
        case 7:
            f->ops = &full_fops;
            return 0;
        case 8:
        case 9:
            f->ops = &random_fops;
            return 0;
        }
    }
    if (ma == 5 && mi == 0)
        return devpts_open_ctty(f);
    if (ma == 5 && mi == 2)
        return devpts_open_master(inode, f);
    if (ma != 0 || mi != 0)
        log_warn_once("open of character device %u:%u unsupported", ma, mi);
    return -ENXIO;
}

bool vfs_file_noexec(struct file *f)
{
    return mnt_flags(f->path.mnt) & VFS_MNT_NOEXEC;
}

bool vfs_file_nosuid(struct file *f)
{
    return mnt_flags(f->path.mnt) & VFS_MNT_NOSUID;
}

bool vfs_file_mmap_may_write(struct file *f)
{
    return !f->ops || !f->ops->mmap_may_write || f->ops->mmap_may_write(f);
}
