/*
 * File system instances and inodes: counts, permissions, attributes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/host/host_fs.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "kernel/vfs/vfs_fs.h"

/* Anonymous device minors for file system instances (major 0, as Linux's
 * get_anon_bdev). */
static unsigned g_next_anon_minor = 16;

struct vfs_sb *vfs_sb_new(const char *type, bool nocache)
{
    struct vfs_sb *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return NULL;
    sb->type = type;
    sb->nocache = nocache;
    sb->dev = VFS_MKDEV(0, __atomic_fetch_add(&g_next_anon_minor, 1, __ATOMIC_RELAXED));
    sb->next_ino = 1;
    return sb;
}

uint64_t vfs_sb_next_ino(struct vfs_sb *sb)
{
    return __atomic_fetch_add(&sb->next_ino, 1, __ATOMIC_RELAXED);
}

unsigned vfs_dtype(uint32_t mode)
{
    /* DT_* is the file type field shifted down. */
    return (mode & VFS_S_IFMT) >> 12;
}

void inode_init(struct inode *inode, struct vfs_sb *sb, const struct inode_ops *ops,
                uint32_t mode)
{
    refcount_init(&inode->ref);
    pthread_mutex_init(&inode->lock, NULL);
    inode->sb = sb;
    inode->ops = ops;
    inode->mode = mode;
    inode->nlink = 1;
    inode->linkable = false;
    host_fs_now(&inode->mtime);
    inode->atime = inode->mtime;
    inode->ctime = inode->mtime;
}

void inode_get(struct inode *inode)
{
    refcount_inc(&inode->ref);
}

void inode_put(struct inode *inode)
{
    if (!inode)
        return;
    if (refcount_dec(&inode->ref)) {
        pthread_mutex_destroy(&inode->lock);
        inode->ops->evict(inode);
    }
}

int inode_permission(struct inode *inode, const struct cred *cred, int mask)
{
    pthread_mutex_lock(&inode->lock);
    uint32_t mode = inode->mode, uid = inode->uid, gid = inode->gid;
    pthread_mutex_unlock(&inode->lock);

    unsigned bits;
    if (cred->fsuid == uid)
        bits = (mode >> 6) & 7;
    else if (cred_in_group(cred, gid))
        bits = (mode >> 3) & 7;
    else
        bits = mode & 7;
    /* VFS_MAY_* use the rwx bit positions. */
    if ((bits & (unsigned)mask) == (unsigned)mask)
        return 0;
    /* Linux's generic_permission: CAP_DAC_READ_SEARCH reads any file and
     * searches any directory; CAP_DAC_OVERRIDE does anything, except run
     * a file without any x bit. */
    if ((mode & VFS_S_IFMT) == VFS_S_IFDIR) {
        if (!(mask & VFS_MAY_WRITE) && cred_capable(cred, CAP_DAC_READ_SEARCH))
            return 0;
        if (cred_capable(cred, CAP_DAC_OVERRIDE))
            return 0;
        return -EACCES;
    }
    if ((!(mask & VFS_MAY_EXEC) || (mode & 0111)) && cred_capable(cred, CAP_DAC_OVERRIDE))
        return 0;
    if (mask == VFS_MAY_READ && cred_capable(cred, CAP_DAC_READ_SEARCH))
        return 0;
    return -EACCES;
}

int vfs_getattr(struct inode *inode, struct linux_stat *st)
{
    if (inode->ops->getattr)
        return inode->ops->getattr(inode, st);
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
    st->st_blksize = 4096;
    st->st_blocks = (int64_t)((inode->size + 511) / 512);
    st->st_atim = inode->atime;
    st->st_mtim = inode->mtime;
    st->st_ctim = inode->ctime;
    pthread_mutex_unlock(&inode->lock);
    return 0;
}

void inode_apply_attr(struct inode *inode, const struct vfs_attr *attr)
{
    struct linux_timespec now;
    host_fs_now(&now);
    pthread_mutex_lock(&inode->lock);
    if (attr->valid & VFS_ATTR_MODE)
        inode->mode = (inode->mode & VFS_S_IFMT) | (attr->mode & 07777);
    if (attr->valid & VFS_ATTR_UID)
        inode->uid = attr->uid;
    if (attr->valid & VFS_ATTR_GID)
        inode->gid = attr->gid;
    if (attr->valid & VFS_ATTR_SIZE) {
        inode->size = attr->size;
        inode->mtime = now;
    }
    if (attr->valid & VFS_ATTR_ATIME)
        inode->atime = attr->atime;
    if (attr->valid & VFS_ATTR_MTIME)
        inode->mtime = attr->mtime;
    inode->ctime = (attr->valid & VFS_ATTR_CTIME) ? attr->ctime : now;
    pthread_mutex_unlock(&inode->lock);
}

int vfs_truncate_check(struct inode *inode, uint64_t len)
{
    struct linux_stat st;
    int r = vfs_getattr(inode, &st);
    if (r < 0 || len <= (uint64_t)st.st_size)
        return 0;
    return task_fsize_grow_check(len);
}

int vfs_setattr(struct inode *inode, const struct vfs_attr *attr)
{
    if ((attr->valid & VFS_ATTR_SIZE)) {
        if (inode_is_dir(inode))
            return -EISDIR;
        if (!inode_is_reg(inode))
            return -EINVAL;
    }
    if (inode->ops->setattr) {
        int r = inode->ops->setattr(inode, attr);
        /* Mapped pages now past the end raise SIGBUS (Linux's truncate
         * zaps them in every address space). */
        if (r == 0 && (attr->valid & VFS_ATTR_SIZE))
            mm_file_resized(inode, attr->size);
        return r;
    }
    if (attr->valid & VFS_ATTR_SIZE)
        return -EPERM;
    inode_apply_attr(inode, attr);
    return 0;
}

void inode_touch(struct inode *inode, bool atime)
{
    struct linux_timespec now;
    host_fs_now(&now);
    pthread_mutex_lock(&inode->lock);
    inode->mtime = now;
    inode->ctime = now;
    if (atime)
        inode->atime = now;
    pthread_mutex_unlock(&inode->lock);
}
