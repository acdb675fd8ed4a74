/*
 * Memory-backed files without a name (see shmem.h): memfd_create(2) files
 * and SysV shared memory segments.
 *
 * Where moat differs from Linux:
 * - F_SEAL_WRITE is refused with EBUSY while any page of the file is mapped
 *   shared (Linux refuses only while a mapping may become writable: a
 *   shared mapping made through a read-only open does not count).
 * - Regular files of tmpfs mounts (/dev/shm) are shmem files on Linux, with
 *   F_SEAL_SEAL from the start; here they are tmpfs files that report that
 *   seal (tmpfs_sealed_file()) and refuse others, which is what apps see.
 */
#include "kernel/ipc/shmem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel/fs/pagecache.h"
#include "kernel/host/host_fs.h"
#include "kernel/mm/memfile.h"
#include "kernel/task/task.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/util.h"

#define L_FALLOC_FL_KEEP_SIZE  0x01
#define L_FALLOC_FL_PUNCH_HOLE 0x02

struct shmem_inode {
    struct inode base;
    struct pagecache data; /* (i) base.lock */
    unsigned seals;        /* (i) base.lock: SHMEM_SEAL_* */
    char *dname;           /* (c) what /proc/PID/fd links show */
};

static struct vfs_sb *g_shmem_sb;
static pthread_once_t g_shmem_once = PTHREAD_ONCE_INIT;

static void shmem_sb_init(void)
{
    /* Linux's internal shm mount is a tmpfs instance. */
    g_shmem_sb = vfs_sb_new("tmpfs", true);
}

static const struct inode_ops shmem_iops;
static const struct file_ops shmem_fops;

static struct shmem_inode *SI(struct inode *i)
{
    return container_of(i, struct shmem_inode, base);
}

bool shmem_is_file(struct file *f)
{
    return f && f->inode && f->inode->ops == &shmem_iops;
}

/* Grows or shrinks the data to SIZE; base.lock held. Bytes between the two
 * sizes are zeroed (shrinking gives whole pages back). */
static int resize_locked(struct shmem_inode *si, uint64_t size)
{
    uint64_t old = si->base.size;
    int r = pagecache_reserve(&si->data, size);
    if (r < 0)
        return r;
    if (size > old)
        pagecache_zero(&si->data, old, size);
    else
        pagecache_zero(&si->data, size, MIN(ALIGN_UP(old, PAGE_SIZE), si->data.cap));
    si->base.size = size;
    return 0;
}

int shmem_inode_new(const char *dname, uint32_t perm, uint64_t size, unsigned seals,
                    const struct cred *cred, struct inode **out)
{
    pthread_once(&g_shmem_once, shmem_sb_init);
    if (!g_shmem_sb)
        return -ENOMEM;
    struct shmem_inode *si = calloc(1, sizeof(*si));
    if (!si)
        return -ENOMEM;
    si->dname = strdup(dname);
    if (!si->dname) {
        free(si);
        return -ENOMEM;
    }
    inode_init(&si->base, g_shmem_sb, &shmem_iops, VFS_S_IFREG | (perm & 07777));
    si->base.ino = vfs_sb_next_ino(g_shmem_sb);
    si->base.nlink = 0; /* never linked anywhere */
    if (cred) {
        si->base.uid = cred->fsuid;
        si->base.gid = cred->fsgid;
    }
    si->seals = seals;
    if (size) {
        int r = resize_locked(si, size);
        if (r < 0) {
            inode_put(&si->base);
            return r;
        }
    }
    *out = &si->base;
    return 0;
}

struct file *shmem_file_open(struct inode *inode, unsigned flags, const struct file_ops *ops,
                             void *priv)
{
    struct file *f = file_alloc(inode, NULL, flags);
    if (!f)
        return NULL;
    f->ops = ops ? ops : &shmem_fops;
    f->priv = priv;
    f->fmode |= FMODE_LSEEK | FMODE_ATOMIC_POS;
    return f;
}

/* ---- inode ops ---- */

static int shmem_setattr(struct inode *inode, const struct vfs_attr *attr)
{
    struct shmem_inode *si = SI(inode);
    int r = 0;
    pthread_mutex_lock(&inode->lock);
    if ((attr->valid & VFS_ATTR_MODE) && (si->seals & SHMEM_SEAL_EXEC) &&
        ((attr->mode ^ inode->mode) & 0111))
        r = -EPERM;
    if (r == 0 && (attr->valid & VFS_ATTR_SIZE)) {
        if ((attr->size < inode->size && (si->seals & SHMEM_SEAL_SHRINK)) ||
            (attr->size > inode->size && (si->seals & SHMEM_SEAL_GROW)))
            r = -EPERM;
        else
            r = resize_locked(si, attr->size);
    }
    pthread_mutex_unlock(&inode->lock);
    if (r < 0)
        return r;
    inode_apply_attr(inode, attr);
    return 0;
}

static int shmem_open(struct inode *inode, struct file *f)
{
    f->ops = &shmem_fops;
    return 0;
}

static void shmem_evict(struct inode *inode)
{
    struct shmem_inode *si = SI(inode);
    pagecache_release(&si->data);
    free(si->dname);
    free(si);
}

static const struct inode_ops shmem_iops = {
        .setattr = shmem_setattr,
        .open = shmem_open,
        .evict = shmem_evict,
};

/* ---- file ops ---- */

static ssize_t shmem_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct shmem_inode *si = SI(f->inode);
    pthread_mutex_lock(&si->base.lock);
    ssize_t done = pagecache_read_at(&si->data, si->base.size, buf, n, pos);
    pthread_mutex_unlock(&si->base.lock);
    return done;
}

static ssize_t shmem_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    struct shmem_inode *si = SI(f->inode);
    bool append = vfs_file_flags(f) & O_APPEND;
    ssize_t r = (ssize_t)n;
    int lr;
    pthread_mutex_lock(&si->base.lock);
    if (append)
        *pos = si->base.size;
    uint64_t end;
    /* RLIMIT_FSIZE is checked before the seals, as in Linux. */
    if ((lr = task_fsize_write_check(*pos, &n)) < 0) {
        r = lr;
    } else if (si->seals & (SHMEM_SEAL_WRITE | SHMEM_SEAL_FUTURE_WRITE)) {
        r = -EPERM;
    } else if (__builtin_add_overflow(*pos, n, &end) || (int64_t)end < 0) {
        r = -EFBIG;
    } else if (end > si->base.size && (si->seals & SHMEM_SEAL_GROW)) {
        r = -EPERM;
    } else if (n) {
        if (end > si->base.size) {
            int e = resize_locked(si, end);
            if (e < 0)
                r = e;
        }
        if (r >= 0 && pagecache_write(&si->data, buf, n, *pos) < 0)
            r = -ENOSPC; /* the sandbox memory limit */
        if (r >= 0) {
            r = (ssize_t)n; /* cut at RLIMIT_FSIZE */
            *pos = end;
            host_fs_now(&si->base.mtime);
            si->base.ctime = si->base.mtime;
        }
    }
    pthread_mutex_unlock(&si->base.lock);
    return r;
}

int shmem_fops_mmap_backing(struct file *f, uint64_t off, uint64_t len, uint64_t *out_moff,
                            uint64_t *out_len)
{
    struct shmem_inode *si = SI(f->inode);
    pthread_mutex_lock(&si->base.lock);
    int r = pagecache_backing(&si->data, off, len, out_moff, out_len);
    pthread_mutex_unlock(&si->base.lock);
    return r;
}

int shmem_fops_dname(struct file *f, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s", SI(f->inode)->dname);
    return n < (int)size ? n : -ENAMETOOLONG;
}

static int shmem_fallocate(struct file *f, int mode, uint64_t off, uint64_t len)
{
    if (mode & ~(L_FALLOC_FL_KEEP_SIZE | L_FALLOC_FL_PUNCH_HOLE))
        return -EOPNOTSUPP;
    struct shmem_inode *si = SI(f->inode);
    uint64_t end = off + len;
    int r = 0;
    /* RLIMIT_FSIZE applies even with KEEP_SIZE here, as in Linux's
     * shmem_fallocate (the VFS checked the size-changing case). */
    if ((mode & L_FALLOC_FL_KEEP_SIZE) && !(mode & L_FALLOC_FL_PUNCH_HOLE) &&
        (r = vfs_truncate_check(f->inode, end)) < 0)
        return r;
    pthread_mutex_lock(&si->base.lock);
    if (mode & L_FALLOC_FL_PUNCH_HOLE) {
        if (si->seals & (SHMEM_SEAL_WRITE | SHMEM_SEAL_FUTURE_WRITE)) {
            r = -EPERM;
        } else {
            uint64_t to = MIN(end, si->base.size);
            if (off < to)
                pagecache_zero(&si->data, off, to);
        }
    } else if (!(mode & L_FALLOC_FL_KEEP_SIZE) && end > si->base.size) {
        r = (si->seals & SHMEM_SEAL_GROW) ? -EPERM : resize_locked(si, end);
    }
    if (r == 0) {
        host_fs_now(&si->base.mtime);
        si->base.ctime = si->base.mtime;
    }
    pthread_mutex_unlock(&si->base.lock);
    return r;
}

static int shmem_reopen(struct file *old, struct file *new_file)
{
    new_file->ops = &shmem_fops;
    new_file->fmode |= FMODE_LSEEK | FMODE_ATOMIC_POS;
    return 0;
}

/* After a write seal, new shared mappings can never be made writable. */
static bool shmem_mmap_may_write(struct file *f)
{
    struct shmem_inode *si = SI(f->inode);
    pthread_mutex_lock(&si->base.lock);
    bool ok = !(si->seals & (SHMEM_SEAL_WRITE | SHMEM_SEAL_FUTURE_WRITE));
    pthread_mutex_unlock(&si->base.lock);
    return ok;
}

static const struct file_ops shmem_fops = {
        .mmap_may_write = shmem_mmap_may_write,
        .read = shmem_read,
        .write = shmem_write,
        .dname = shmem_fops_dname,
        .reopen = shmem_reopen,
        .mmap_backing = shmem_fops_mmap_backing,
        .fallocate = shmem_fallocate,
};

/* ---- seals ---- */

/* A regular file opened through a tmpfs mount: Linux's shmem file with
 * F_SEAL_SEAL (it can never be sealed further). */
static bool tmpfs_sealed_file(struct file *f)
{
    return f->path.mnt && strcmp(f->path.mnt->sb->type, "tmpfs") == 0 &&
           (f->inode->mode & VFS_S_IFMT) == VFS_S_IFREG;
}

int shmem_get_seals(struct file *f)
{
    if (!shmem_is_file(f))
        return tmpfs_sealed_file(f) ? SHMEM_SEAL_SEAL : -EINVAL;
    struct shmem_inode *si = SI(f->inode);
    pthread_mutex_lock(&si->base.lock);
    int s = (int)si->seals;
    pthread_mutex_unlock(&si->base.lock);
    return s;
}

/* Whether a page of SI's data is mapped (held by a mapping besides the
 * pagecache); base.lock held. */
static bool mapped_locked(struct shmem_inode *si)
{
    for (size_t i = 0; i < si->data.nr; i++)
        if (!memfile_exclusive(si->data.chunks[i].moff, si->data.chunks[i].len))
            return true;
    return false;
}

int shmem_add_seals(struct file *f, unsigned seals)
{
    /* Linux's order: the open mode, the bits, then whether F has seals. */
    if (!(f->fmode & FMODE_WRITE))
        return -EPERM;
    if (seals & ~(unsigned)SHMEM_SEAL_ALL)
        return -EINVAL;
    if (!shmem_is_file(f))
        return tmpfs_sealed_file(f) ? -EPERM /* F_SEAL_SEAL */ : -EINVAL;
    struct shmem_inode *si = SI(f->inode);
    int r = 0;
    pthread_mutex_lock(&si->base.lock);
    if (si->seals & SHMEM_SEAL_SEAL) {
        r = -EPERM;
        goto out_unlock;
    }
    /* F_SEAL_EXEC on an executable file also seals writes (W^X). */
    if ((seals & SHMEM_SEAL_EXEC) && (si->base.mode & 0111))
        seals |= SHMEM_SEAL_SHRINK | SHMEM_SEAL_GROW | SHMEM_SEAL_WRITE |
                 SHMEM_SEAL_FUTURE_WRITE;
    if ((seals & SHMEM_SEAL_WRITE) && !(si->seals & SHMEM_SEAL_WRITE) && mapped_locked(si)) {
        r = -EBUSY;
        goto out_unlock;
    }
    si->seals |= seals;
out_unlock:
    pthread_mutex_unlock(&si->base.lock);
    return r;
}

int shmem_mmap_check(struct file *f, int prot, int flags)
{
    if (!shmem_is_file(f) || (flags & MAP_TYPE) == MAP_PRIVATE || !(prot & PROT_WRITE))
        return 0;
    struct shmem_inode *si = SI(f->inode);
    pthread_mutex_lock(&si->base.lock);
    bool sealed = si->seals & (SHMEM_SEAL_WRITE | SHMEM_SEAL_FUTURE_WRITE);
    pthread_mutex_unlock(&si->base.lock);
    return sealed ? -EPERM : 0;
}

uint64_t shmem_resident(struct inode *inode)
{
    struct shmem_inode *si = SI(inode);
    uint64_t total = 0;
    pthread_mutex_lock(&si->base.lock);
    for (size_t i = 0; i < si->data.nr; i++) {
        uint64_t at = si->data.chunks[i].moff, end = at + si->data.chunks[i].len, s, e;
        while (at < end && memfile_next_data(at, end, &s, &e) == 0) {
            total += e - s;
            at = e;
        }
    }
    pthread_mutex_unlock(&si->base.lock);
    return total;
}
