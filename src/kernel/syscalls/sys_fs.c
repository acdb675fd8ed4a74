/*
 * Names and metadata: stat, lstat, newfstatat, statx, access, faccessat,
 * faccessat2, getcwd, chdir, fchdir, readlink, readlinkat, mkdir, mkdirat,
 * mknod, mknodat, unlink, unlinkat, rmdir, rename, renameat, renameat2,
 * symlink, symlinkat, link, linkat, chmod, fchmod, fchmodat, chown, fchown,
 * lchown, fchownat, truncate, utimensat, futimesat, utimes, utime, umask,
 * statfs, fstatfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/log.h"

#define L_STATX_BASIC_STATS 0x7ffu
#define L_STATX_MNT_ID      0x1000u
#define L_STATX_ATTR_MOUNT_ROOT 0x2000u
#define L_STATX__RESERVED   0x80000000u
#define L_AT_STATX_SYNC_TYPE 0x6000

/* A path argument in a kernel buffer of LINUX_PATH_MAX bytes (freed by the
 * caller). Empty paths are returned as such: callers decide (-ENOENT unless
 * AT_EMPTY_PATH). */
static long path_in(struct task *t, uint64_t upath, char **out)
{
    char *p = malloc(LINUX_PATH_MAX);
    if (!p)
        return -ENOMEM;
    long r = copy_path_in(t, p, upath);
    if (r < 0) {
        free(p);
        return r;
    }
    *out = p;
    return 0;
}

static long do_stat(struct task *t, int dirfd, uint64_t upath, uint64_t ustat, int flags)
{
    char *path;
    long r = path_in(t, upath, &path);
    if (r < 0)
        return r;
    struct linux_stat st;
    r = vfs_statat(t, dirfd, path, flags, &st);
    free(path);
    if (r == 0)
        r = copy_out(t, ustat, &st, sizeof(st));
    return r;
}

static long sys_stat(struct task *t, const struct sys_args *a)
{
    return do_stat(t, AT_FDCWD, a->arg[0], a->arg[1], 0);
}
SYSCALL_DEFINE(stat, sys_stat, "sp", SYS_FULL, NULL);

static long sys_lstat(struct task *t, const struct sys_args *a)
{
    return do_stat(t, AT_FDCWD, a->arg[0], a->arg[1], AT_SYMLINK_NOFOLLOW);
}
SYSCALL_DEFINE(lstat, sys_lstat, "sp", SYS_FULL, NULL);

static long sys_newfstatat(struct task *t, const struct sys_args *a)
{
    return do_stat(t, (int)a->arg[0], a->arg[1], a->arg[2], (int)a->arg[3]);
}
SYSCALL_DEFINE(newfstatat, sys_newfstatat, "fspx", SYS_FULL, NULL);

static long sys_statx(struct task *t, const struct sys_args *a)
{
    int flags = (int)a->arg[2];
    uint32_t mask = (uint32_t)a->arg[3];
    if (mask & L_STATX__RESERVED)
        return -EINVAL;
    if ((flags & L_AT_STATX_SYNC_TYPE) == L_AT_STATX_SYNC_TYPE)
        return -EINVAL;
    char *path;
    long r = path_in(t, a->arg[1], &path);
    if (r < 0)
        return r;
    struct linux_stat st;
    int mnt_id;
    bool mount_root;
    r = vfs_statat_mnt(t, (int)a->arg[0], path, flags & ~L_AT_STATX_SYNC_TYPE, &st, &mnt_id,
                       &mount_root);
    free(path);
    if (r < 0)
        return r;
    struct linux_statx sx;
    memset(&sx, 0, sizeof(sx));
    /* Linux reports the mount id and STATX_ATTR_MOUNT_ROOT whatever was
     * asked. */
    sx.stx_mask = L_STATX_BASIC_STATS | L_STATX_MNT_ID;
    sx.stx_mnt_id = (uint64_t)mnt_id;
    sx.stx_attributes_mask = L_STATX_ATTR_MOUNT_ROOT;
    sx.stx_attributes = mount_root ? L_STATX_ATTR_MOUNT_ROOT : 0;
    sx.stx_blksize = (uint32_t)st.st_blksize;
    sx.stx_nlink = (uint32_t)st.st_nlink;
    sx.stx_uid = st.st_uid;
    sx.stx_gid = st.st_gid;
    sx.stx_mode = (uint16_t)st.st_mode;
    sx.stx_ino = st.st_ino;
    sx.stx_size = (uint64_t)st.st_size;
    sx.stx_blocks = (uint64_t)st.st_blocks;
    sx.stx_atime = (struct linux_statx_timestamp){st.st_atim.tv_sec, (uint32_t)st.st_atim.tv_nsec, 0};
    sx.stx_mtime = (struct linux_statx_timestamp){st.st_mtim.tv_sec, (uint32_t)st.st_mtim.tv_nsec, 0};
    sx.stx_ctime = (struct linux_statx_timestamp){st.st_ctim.tv_sec, (uint32_t)st.st_ctim.tv_nsec, 0};
    sx.stx_rdev_major = VFS_MAJOR(st.st_rdev);
    sx.stx_rdev_minor = VFS_MINOR(st.st_rdev);
    sx.stx_dev_major = VFS_MAJOR(st.st_dev);
    sx.stx_dev_minor = VFS_MINOR(st.st_dev);
    return copy_out(t, a->arg[4], &sx, sizeof(sx));
}
SYSCALL_DEFINE(statx, sys_statx, "fsxxp", SYS_PARTIAL,
               "no btime; of the attributes only STATX_ATTR_MOUNT_ROOT");

static long do_access(struct task *t, int dirfd, uint64_t upath, int mode, int flags)
{
    char *path;
    long r = path_in(t, upath, &path);
    if (r < 0)
        return r;
    r = vfs_faccessat(t, dirfd, path, mode, flags);
    free(path);
    return r;
}

static long sys_access(struct task *t, const struct sys_args *a)
{
    return do_access(t, AT_FDCWD, a->arg[0], (int)a->arg[1], 0);
}
SYSCALL_DEFINE(access, sys_access, "sd", SYS_FULL, NULL);

static long sys_faccessat(struct task *t, const struct sys_args *a)
{
    return do_access(t, (int)a->arg[0], a->arg[1], (int)a->arg[2], 0);
}
SYSCALL_DEFINE(faccessat, sys_faccessat, "fsd", SYS_FULL, NULL);

static long sys_faccessat2(struct task *t, const struct sys_args *a)
{
    return do_access(t, (int)a->arg[0], a->arg[1], (int)a->arg[2], (int)a->arg[3]);
}
SYSCALL_DEFINE(faccessat2, sys_faccessat2, "fsdx", SYS_FULL, NULL);

static long sys_getcwd(struct task *t, const struct sys_args *a)
{
    size_t size = MIN((size_t)a->arg[1], (size_t)LINUX_PATH_MAX);
    char *buf = malloc(LINUX_PATH_MAX);
    if (!buf)
        return -ENOMEM;
    long r = vfs_getcwd(t, buf, LINUX_PATH_MAX);
    if (r > (long)size)
        r = -ERANGE;
    if (r > 0 && copy_out(t, a->arg[0], buf, (size_t)r) < 0)
        r = -EFAULT;
    free(buf);
    return r;
}
SYSCALL_DEFINE(getcwd, sys_getcwd, "pu", SYS_FULL, NULL);

static long sys_chdir(struct task *t, const struct sys_args *a)
{
    char *path;
    long r = path_in(t, a->arg[0], &path);
    if (r < 0)
        return r;
    r = path[0] ? vfs_chdir(t, path) : -ENOENT;
    free(path);
    return r;
}
SYSCALL_DEFINE(chdir, sys_chdir, "s", SYS_FULL, NULL);

static long sys_fchdir(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = vfs_fchdir(t, f);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(fchdir, sys_fchdir, "f", SYS_FULL, NULL);

static long do_readlink(struct task *t, int dirfd, uint64_t upath, uint64_t ubuf, int64_t size)
{
    if (size <= 0)
        return -EINVAL;
    char *path;
    long r = path_in(t, upath, &path);
    if (r < 0)
        return r;
    size_t n = MIN((size_t)size, (size_t)LINUX_PATH_MAX);
    char *buf = malloc(n);
    if (!buf)
        r = -ENOMEM;
    else if (path[0] == '\0' && dirfd == AT_FDCWD)
        r = -ENOENT;
    else
        r = vfs_readlinkat(t, dirfd, path, buf, n);
    if (r > 0 && copy_out(t, ubuf, buf, (size_t)r) < 0)
        r = -EFAULT;
    free(buf);
    free(path);
    return r;
}

static long sys_readlink(struct task *t, const struct sys_args *a)
{
    return do_readlink(t, AT_FDCWD, a->arg[0], a->arg[1], (int)a->arg[2]);
}
SYSCALL_DEFINE(readlink, sys_readlink, "sBd", SYS_FULL, NULL);

static long sys_readlinkat(struct task *t, const struct sys_args *a)
{
    return do_readlink(t, (int)a->arg[0], a->arg[1], a->arg[2], (int)a->arg[3]);
}
SYSCALL_DEFINE(readlinkat, sys_readlinkat, "fsBd", SYS_FULL, NULL);

static long do_mkdir(struct task *t, int dirfd, uint64_t upath, uint32_t mode)
{
    char *path;
    long r = path_in(t, upath, &path);
    if (r < 0)
        return r;
    r = vfs_mkdirat(t, dirfd, path, mode);
    free(path);
    return r;
}

static long sys_mkdir(struct task *t, const struct sys_args *a)
{
    return do_mkdir(t, AT_FDCWD, a->arg[0], (uint32_t)a->arg[1]);
}
SYSCALL_DEFINE(mkdir, sys_mkdir, "so", SYS_FULL, NULL);

static long sys_mkdirat(struct task *t, const struct sys_args *a)
{
    return do_mkdir(t, (int)a->arg[0], a->arg[1], (uint32_t)a->arg[2]);
}
SYSCALL_DEFINE(mkdirat, sys_mkdirat, "fso", SYS_FULL, NULL);

static long do_mknod(struct task *t, int dirfd, uint64_t upath, uint32_t mode, uint64_t dev)
{
    char *path;
    long r = path_in(t, upath, &path);
    if (r < 0)
        return r;
    /* The app's dev_t (glibc's encoding == Linux's for x86-64 stat). */
    r = vfs_mknodat(t, dirfd, path, mode, dev);
    free(path);
    return r;
}

static long sys_mknod(struct task *t, const struct sys_args *a)
{
    return do_mknod(t, AT_FDCWD, a->arg[0], (uint32_t)a->arg[1], a->arg[2]);
}
SYSCALL_DEFINE(mknod, sys_mknod, "sox", SYS_PARTIAL, "FIFOs and sockets can be created, not opened");

static long sys_mknodat(struct task *t, const struct sys_args *a)
{
    return do_mknod(t, (int)a->arg[0], a->arg[1], (uint32_t)a->arg[2], a->arg[3]);
}
SYSCALL_DEFINE(mknodat, sys_mknodat, "fsox", SYS_PARTIAL,
               "FIFOs and sockets can be created, not opened");

static long do_unlink(struct task *t, int dirfd, uint64_t upath, int flags)
{
    char *path;
    long r = path_in(t, upath, &path);
    if (r < 0)
        return r;
    r = vfs_unlinkat(t, dirfd, path, flags);
    free(path);
    return r;
}

static long sys_unlink(struct task *t, const struct sys_args *a)
{
    return do_unlink(t, AT_FDCWD, a->arg[0], 0);
}
SYSCALL_DEFINE(unlink, sys_unlink, "s", SYS_FULL, NULL);

static long sys_unlinkat(struct task *t, const struct sys_args *a)
{
    return do_unlink(t, (int)a->arg[0], a->arg[1], (int)a->arg[2]);
}
SYSCALL_DEFINE(unlinkat, sys_unlinkat, "fsx", SYS_FULL, NULL);

static long sys_rmdir(struct task *t, const struct sys_args *a)
{
    return do_unlink(t, AT_FDCWD, a->arg[0], AT_REMOVEDIR);
}
SYSCALL_DEFINE(rmdir, sys_rmdir, "s", SYS_FULL, NULL);

static long do_rename(struct task *t, int odfd, uint64_t uold, int ndfd, uint64_t unew,
                      unsigned flags)
{
    char *op, *np;
    long r = path_in(t, uold, &op);
    if (r < 0)
        return r;
    r = path_in(t, unew, &np);
    if (r < 0) {
        free(op);
        return r;
    }
    r = vfs_renameat2(t, odfd, op, ndfd, np, flags);
    free(op);
    free(np);
    return r;
}

static long sys_rename(struct task *t, const struct sys_args *a)
{
    return do_rename(t, AT_FDCWD, a->arg[0], AT_FDCWD, a->arg[1], 0);
}
SYSCALL_DEFINE(rename, sys_rename, "ss", SYS_PARTIAL, "a lower-layer directory: EXDEV");

static long sys_renameat(struct task *t, const struct sys_args *a)
{
    return do_rename(t, (int)a->arg[0], a->arg[1], (int)a->arg[2], a->arg[3], 0);
}
SYSCALL_DEFINE(renameat, sys_renameat, "fsfs", SYS_PARTIAL, "a lower-layer directory: EXDEV");

static long sys_renameat2(struct task *t, const struct sys_args *a)
{
    return do_rename(t, (int)a->arg[0], a->arg[1], (int)a->arg[2], a->arg[3],
                     (unsigned)a->arg[4]);
}
SYSCALL_DEFINE(renameat2, sys_renameat2, "fsfsx", SYS_PARTIAL,
               "no RENAME_WHITEOUT; a lower-layer directory: EXDEV");

static long do_symlink(struct task *t, uint64_t utarget, int dirfd, uint64_t upath)
{
    char *target, *path;
    long r = path_in(t, utarget, &target);
    if (r < 0)
        return r;
    r = path_in(t, upath, &path);
    if (r < 0) {
        free(target);
        return r;
    }
    r = vfs_symlinkat(t, target, dirfd, path);
    free(target);
    free(path);
    return r;
}

static long sys_symlink(struct task *t, const struct sys_args *a)
{
    return do_symlink(t, a->arg[0], AT_FDCWD, a->arg[1]);
}
SYSCALL_DEFINE(symlink, sys_symlink, "ss", SYS_FULL, NULL);

static long sys_symlinkat(struct task *t, const struct sys_args *a)
{
    return do_symlink(t, a->arg[0], (int)a->arg[1], a->arg[2]);
}
SYSCALL_DEFINE(symlinkat, sys_symlinkat, "sfs", SYS_FULL, NULL);

static long do_link(struct task *t, int odfd, uint64_t uold, int ndfd, uint64_t unew, int flags)
{
    char *op, *np;
    long r = path_in(t, uold, &op);
    if (r < 0)
        return r;
    r = path_in(t, unew, &np);
    if (r < 0) {
        free(op);
        return r;
    }
    r = vfs_linkat(t, odfd, op, ndfd, np, flags);
    free(op);
    free(np);
    return r;
}

static long sys_link(struct task *t, const struct sys_args *a)
{
    return do_link(t, AT_FDCWD, a->arg[0], AT_FDCWD, a->arg[1], 0);
}
SYSCALL_DEFINE(link, sys_link, "ss", SYS_PARTIAL, "lower files are copied up first");

static long sys_linkat(struct task *t, const struct sys_args *a)
{
    return do_link(t, (int)a->arg[0], a->arg[1], (int)a->arg[2], a->arg[3], (int)a->arg[4]);
}
SYSCALL_DEFINE(linkat, sys_linkat, "fsfsx", SYS_PARTIAL, "lower files are copied up first");

static long do_chmod(struct task *t, int dirfd, uint64_t upath, uint32_t mode, int flags)
{
    char *path;
    long r = path_in(t, upath, &path);
    if (r < 0)
        return r;
    r = vfs_fchmodat(t, dirfd, path, mode, flags);
    free(path);
    return r;
}

static long sys_chmod(struct task *t, const struct sys_args *a)
{
    return do_chmod(t, AT_FDCWD, a->arg[0], (uint32_t)a->arg[1], 0);
}
SYSCALL_DEFINE(chmod, sys_chmod, "so", SYS_FULL, NULL);

static long sys_fchmodat(struct task *t, const struct sys_args *a)
{
    return do_chmod(t, (int)a->arg[0], a->arg[1], (uint32_t)a->arg[2], 0);
}
SYSCALL_DEFINE(fchmodat, sys_fchmodat, "fso", SYS_FULL, NULL);

static long sys_fchmod(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = vfs_fchmod(t, f, (uint32_t)a->arg[1]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(fchmod, sys_fchmod, "fo", SYS_FULL, NULL);

static long do_chown(struct task *t, int dirfd, uint64_t upath, uint64_t uid, uint64_t gid,
                     int flags)
{
    char *path;
    long r = path_in(t, upath, &path);
    if (r < 0)
        return r;
    r = vfs_fchownat(t, dirfd, path, (uint32_t)uid, (uint32_t)gid, flags);
    free(path);
    return r;
}

static long sys_chown(struct task *t, const struct sys_args *a)
{
    return do_chown(t, AT_FDCWD, a->arg[0], a->arg[1], a->arg[2], 0);
}
SYSCALL_DEFINE(chown, sys_chown, "sdd", SYS_FULL, NULL);

static long sys_lchown(struct task *t, const struct sys_args *a)
{
    return do_chown(t, AT_FDCWD, a->arg[0], a->arg[1], a->arg[2], AT_SYMLINK_NOFOLLOW);
}
SYSCALL_DEFINE(lchown, sys_lchown, "sdd", SYS_FULL, NULL);

static long sys_fchownat(struct task *t, const struct sys_args *a)
{
    return do_chown(t, (int)a->arg[0], a->arg[1], a->arg[2], a->arg[3], (int)a->arg[4]);
}
SYSCALL_DEFINE(fchownat, sys_fchownat, "fsddx", SYS_FULL, NULL);

static long sys_fchown(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = vfs_fchown(t, f, (uint32_t)a->arg[1], (uint32_t)a->arg[2]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(fchown, sys_fchown, "fdd", SYS_FULL, NULL);

static long sys_truncate(struct task *t, const struct sys_args *a)
{
    char *path;
    long r = path_in(t, a->arg[0], &path);
    if (r < 0)
        return r;
    r = path[0] ? vfs_truncate(t, path, a->arg[1]) : -ENOENT;
    free(path);
    return r;
}
SYSCALL_DEFINE(truncate, sys_truncate, "sd", SYS_FULL, NULL);

static long sys_utimensat(struct task *t, const struct sys_args *a)
{
    int dirfd = (int)a->arg[0];
    int flags = (int)a->arg[3];
    struct linux_timespec ts[2];
    if (a->arg[2] && copy_in(t, ts, a->arg[2], sizeof(ts)) < 0)
        return -EFAULT;
    char *path = NULL;
    long r;
    if (a->arg[1] == 0) {
        /* futimens: the file at DIRFD itself. */
        if (dirfd == AT_FDCWD)
            return -EFAULT;
        r = vfs_utimensat(t, dirfd, "", a->arg[2] ? ts : NULL, flags | AT_EMPTY_PATH);
        return r;
    }
    r = path_in(t, a->arg[1], &path);
    if (r < 0)
        return r;
    r = vfs_utimensat(t, dirfd, path, a->arg[2] ? ts : NULL, flags);
    free(path);
    return r;
}
SYSCALL_DEFINE(utimensat, sys_utimensat, "fspx", SYS_FULL, NULL);

/* futimesat/utimes: microsecond timevals (NULL: now); utime: seconds. */
static long do_utimes(struct task *t, int dirfd, uint64_t upath, uint64_t utv)
{
    struct linux_timespec ts[2];
    if (utv) {
        struct linux_timeval tv[2];
        if (copy_in(t, tv, utv, sizeof(tv)) < 0)
            return -EFAULT;
        for (int i = 0; i < 2; i++) {
            if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
                return -EINVAL;
            ts[i].tv_sec = tv[i].tv_sec;
            ts[i].tv_nsec = tv[i].tv_usec * 1000;
        }
    }
    if (upath == 0) /* futimesat(fd, NULL, ...): the file at DIRFD */
        return dirfd == AT_FDCWD ? -EFAULT
                                 : vfs_utimensat(t, dirfd, "", utv ? ts : NULL, AT_EMPTY_PATH);
    char *path;
    long r = path_in(t, upath, &path);
    if (r < 0)
        return r;
    r = path[0] ? vfs_utimensat(t, dirfd, path, utv ? ts : NULL, 0) : -ENOENT;
    free(path);
    return r;
}

static long sys_futimesat(struct task *t, const struct sys_args *a)
{
    return do_utimes(t, (int)a->arg[0], a->arg[1], a->arg[2]);
}
SYSCALL_DEFINE(futimesat, sys_futimesat, "fsp", SYS_FULL, NULL);

static long sys_utimes(struct task *t, const struct sys_args *a)
{
    if (a->arg[0] == 0)
        return -EFAULT;
    return do_utimes(t, AT_FDCWD, a->arg[0], a->arg[1]);
}
SYSCALL_DEFINE(utimes, sys_utimes, "sp", SYS_FULL, NULL);

static long sys_utime(struct task *t, const struct sys_args *a)
{
    if (a->arg[0] == 0)
        return -EFAULT;
    struct linux_timespec ts[2];
    if (a->arg[1]) {
        int64_t ub[2]; /* struct utimbuf: actime, modtime */
        if (copy_in(t, ub, a->arg[1], sizeof(ub)) < 0)
            return -EFAULT;
        ts[0] = (struct linux_timespec){.tv_sec = ub[0], .tv_nsec = 0};
        ts[1] = (struct linux_timespec){.tv_sec = ub[1], .tv_nsec = 0};
    }
    char *path;
    long r = path_in(t, a->arg[0], &path);
    if (r < 0)
        return r;
    r = path[0] ? vfs_utimensat(t, AT_FDCWD, path, a->arg[1] ? ts : NULL, 0) : -ENOENT;
    free(path);
    return r;
}
SYSCALL_DEFINE(utime, sys_utime, "sp", SYS_FULL, NULL);

static long sys_umask(struct task *t, const struct sys_args *a)
{
    return vfs_set_umask(t, (uint32_t)a->arg[0]);
}
SYSCALL_DEFINE(umask, sys_umask, "o", SYS_FULL, NULL);

/* The mount F was opened through decides the file system statfs reports
 * (an overlay file's inode is its upper or lower layer's). */
static long statfs_out(struct task *t, struct file *f, uint64_t ubuf)
{
    struct linux_statfs st;
    long r = vfs_statfs(f->path.mnt, &st);
    if (r == 0)
        r = copy_out(t, ubuf, &st, sizeof(st));
    return r;
}

static long sys_statfs(struct task *t, const struct sys_args *a)
{
    char *path;
    long r = path_in(t, a->arg[0], &path);
    if (r < 0)
        return r;
    struct file *f = NULL;
    r = path[0] ? vfs_openat(t, AT_FDCWD, path, O_PATH, 0, &f) : -ENOENT;
    free(path);
    if (r < 0)
        return r;
    r = statfs_out(t, f, a->arg[1]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(statfs, sys_statfs, "sp", SYS_PARTIAL,
               "sizes are the sandbox's: memory-backed file systems report host RAM");

static long sys_fstatfs(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = statfs_out(t, f, a->arg[1]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(fstatfs, sys_fstatfs, "fp", SYS_PARTIAL,
               "sizes are the sandbox's: memory-backed file systems report host RAM");
