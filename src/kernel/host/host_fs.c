/*
 * Host calls of the VFS and file systems (see host_fs.h for the rules).
 */
#include "kernel/host/host_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "kernel/host/host.h"

#define RETRY_EINTR(expr)                                                                          \
    ({                                                                                             \
        long _r;                                                                                   \
        do {                                                                                       \
            _r = (long)(expr);                                                                     \
        } while (_r < 0 && errno == EINTR);                                                        \
        _r < 0 ? (long)host_err_to_guest(errno) : _r;                                              \
    })

int host_fs_openat(int dirfd, const char *name, int flags)
{
    if (dirfd < 0 || name[0] == '\0' || strchr(name, '/') || strcmp(name, "..") == 0)
        return -EINVAL;
    if (flags & ~(O_PATH | O_DIRECTORY | O_ACCMODE))
        return -EINVAL;
    if ((flags & O_ACCMODE) != O_RDONLY)
        return -EINVAL;
    return (int)RETRY_EINTR(openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC));
}

/* A name a writable-tree call may use: one component, not "." or "..". */
static bool plain_name(const char *name)
{
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int host_fs_openat_rw(int dirfd, const char *name, int flags, uint32_t mode)
{
    if (dirfd < 0 || !plain_name(name))
        return -EINVAL;
    int acc = flags & O_ACCMODE;
    if ((acc != O_RDWR && acc != O_WRONLY) ||
        (flags & ~(O_ACCMODE | O_CREAT | O_EXCL | O_NONBLOCK)) ||
        ((flags & O_CREAT) && !(flags & O_EXCL)))
        return -EINVAL;
    return (int)RETRY_EINTR(openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, (mode_t)(mode & 07777)));
}

int host_fs_mkdirat(int dirfd, const char *name, uint32_t mode)
{
    if (dirfd < 0 || !plain_name(name))
        return -EINVAL;
    return (int)RETRY_EINTR(mkdirat(dirfd, name, (mode_t)(mode & 07777)));
}

int host_fs_mknodat(int dirfd, const char *name, uint32_t mode)
{
    if (dirfd < 0 || !plain_name(name))
        return -EINVAL;
    if ((mode & S_IFMT) != S_IFIFO && (mode & S_IFMT) != S_IFSOCK)
        return -EPERM;
    return (int)RETRY_EINTR(mknodat(dirfd, name, (mode_t)(mode & (S_IFMT | 07777)), 0));
}

int host_fs_symlinkat(const char *target, int dirfd, const char *name)
{
    if (dirfd < 0 || !plain_name(name) || !target[0])
        return -EINVAL;
    return (int)RETRY_EINTR(symlinkat(target, dirfd, name));
}

int host_fs_linkat(int odirfd, const char *oname, int ndirfd, const char *nname)
{
    if (odirfd < 0 || ndirfd < 0 || !plain_name(oname) || !plain_name(nname))
        return -EINVAL;
    return (int)RETRY_EINTR(linkat(odirfd, oname, ndirfd, nname, 0));
}

int host_fs_unlinkat(int dirfd, const char *name, bool removedir)
{
    if (dirfd < 0 || !plain_name(name))
        return -EINVAL;
    return (int)RETRY_EINTR(unlinkat(dirfd, name, removedir ? AT_REMOVEDIR : 0));
}

int host_fs_renameat(int odirfd, const char *oname, int ndirfd, const char *nname,
                     unsigned flags)
{
    if (odirfd < 0 || ndirfd < 0 || !plain_name(oname) || !plain_name(nname) ||
        (flags & ~(unsigned)RENAME_NOREPLACE))
        return -EINVAL;
    return (int)RETRY_EINTR(syscall(SYS_renameat2, odirfd, oname, ndirfd, nname, flags));
}

int host_fs_fchown(int fd, uint32_t uid, uint32_t gid)
{
    return (int)RETRY_EINTR(fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

int host_fs_fchmod(int fd, uint32_t mode)
{
    return (int)RETRY_EINTR(syscall(SYS_fchmodat2, fd, "", mode & 07777, AT_EMPTY_PATH));
}

int host_fs_futimens(int fd, const struct linux_timespec times[2])
{
    struct timespec ts[2] = {{times[0].tv_sec, times[0].tv_nsec},
                             {times[1].tv_sec, times[1].tv_nsec}};
    return (int)RETRY_EINTR(utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
}

int host_fs_ftruncate(int fd, uint64_t len)
{
    return (int)RETRY_EINTR(ftruncate(fd, (off_t)len));
}

int host_fs_fsync(int fd)
{
    return (int)RETRY_EINTR(fsync(fd));
}

ssize_t host_fs_fgetxattr(int fd, const char *name, void *buf, size_t size)
{
    return RETRY_EINTR(fgetxattr(fd, name, buf, size));
}

ssize_t host_fs_flistxattr(int fd, char *buf, size_t size)
{
    return RETRY_EINTR(flistxattr(fd, buf, size));
}

int host_fs_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
    if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
        return -EINVAL;
    return (int)RETRY_EINTR(fsetxattr(fd, name, value, size, flags));
}

int host_fs_fremovexattr(int fd, const char *name)
{
    return (int)RETRY_EINTR(fremovexattr(fd, name));
}

int host_fs_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
        return -EOPNOTSUPP;
    return (int)RETRY_EINTR(fallocate(fd, mode, (off_t)off, (off_t)len));
}

int host_fs_fstat(int fd, struct stat *st)
{
    return (int)RETRY_EINTR(fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
}

ssize_t host_fs_readlink(int fd, char *buf, size_t size)
{
    return RETRY_EINTR(readlinkat(fd, "", buf, size));
}

ssize_t host_fs_getdents(int fd, void *buf, size_t size)
{
    return RETRY_EINTR(syscall(SYS_getdents64, fd, buf, size));
}

ssize_t host_fs_pread(int fd, void *buf, size_t n, uint64_t off)
{
    return RETRY_EINTR(pread(fd, buf, n, (off_t)off));
}

ssize_t host_fs_read(int fd, void *buf, size_t n)
{
    return RETRY_EINTR(read(fd, buf, n));
}

ssize_t host_fs_write(int fd, const void *buf, size_t n)
{
    return RETRY_EINTR(write(fd, buf, n));
}

ssize_t host_fs_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
    return RETRY_EINTR(pwrite(fd, buf, n, (off_t)off));
}

int host_fs_getfl(int fd)
{
    return (int)RETRY_EINTR(fcntl(fd, F_GETFL));
}

int64_t host_fs_lseek(int fd, int64_t off, int whence)
{
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END)
        return -EINVAL;
    return RETRY_EINTR(lseek(fd, (off_t)off, whence));
}

int host_fs_close(int fd)
{
    /* close is not retried on EINTR: the fd is gone either way on Linux. */
    if (close(fd) < 0 && errno != EINTR)
        return host_err_to_guest(errno);
    return 0;
}

/* The kernel's struct termios (36 bytes), not glibc's: the ioctls below
 * move exactly the ABI structure. */
_Static_assert(sizeof(struct linux_termios) == 36, "termios");

int host_fs_tcgets(int fd, struct linux_termios *t)
{
    return (int)RETRY_EINTR(ioctl(fd, TCGETS, t));
}

int host_fs_tcsets(int fd, int req, const struct linux_termios *t)
{
    static const unsigned long reqs[] = {TCSETS, TCSETSW, TCSETSF};
    if (req < 0 || req > 2)
        return -EINVAL;
    struct linux_termios copy = *t;
    return (int)RETRY_EINTR(ioctl(fd, reqs[req], &copy));
}

int host_fs_get_winsize(int fd, struct linux_winsize *ws)
{
    return (int)RETRY_EINTR(ioctl(fd, TIOCGWINSZ, ws));
}

int host_fs_set_winsize(int fd, const struct linux_winsize *ws)
{
    struct linux_winsize copy = *ws;
    return (int)RETRY_EINTR(ioctl(fd, TIOCSWINSZ, &copy));
}

void host_fs_now(struct linux_timespec *ts)
{
    int64_t sec = 0, nsec = 0;
    if (host_clock_gettime(CLOCK_REALTIME, &sec, &nsec) < 0) {
        sec = 0;
        nsec = 0;
    }
    ts->tv_sec = sec;
    ts->tv_nsec = nsec;
}
