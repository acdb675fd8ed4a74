/*
 * Host calls of the VFS and the file systems: the only place where moat's
 * file code asks the host kernel for anything.
 *
 * Rules these wrappers enforce:
 *   - names are single path components relative to a directory fd the
 *     kernel already holds (never an absolute host path, never AT_FDCWD);
 *   - every open adds O_NOFOLLOW | O_CLOEXEC, so a host symlink is never
 *     followed by the host (the VFS resolves links itself);
 *   - ioctls are limited to the tty requests listed below, on kernel buffers.
 * Every function returns >= 0 or -errno (host errors through
 * host_err_to_guest()). EINTR is retried.
 */
#ifndef MOAT_KERNEL_HOST_HOST_FS_H
#define MOAT_KERNEL_HOST_HOST_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "abi/linux/types.h"

/* openat(DIRFD, NAME, FLAGS | O_NOFOLLOW | O_CLOEXEC). NAME must be one
 * component ("." allowed, "" / ".." / anything with '/' refused with
 * -EINVAL). FLAGS may only hold O_PATH, O_RDONLY, O_DIRECTORY. New fd or
 * -errno. */
int host_fs_openat(int dirfd, const char *name, int flags);

/* Writable host directories (hostfs over a read-write bind mount). Same
 * rules: DIRFD is a held directory fd, NAME one component (never "." or
 * ".."), nothing is followed. Each returns >= 0 or -errno. */
/* openat for I/O: FLAGS is O_RDWR or O_WRONLY, optionally with
 * O_CREAT | O_EXCL (then MODE), O_NONBLOCK. New fd. */
int host_fs_openat_rw(int dirfd, const char *name, int flags, uint32_t mode);
int host_fs_mkdirat(int dirfd, const char *name, uint32_t mode);
/* FIFOs and sockets only (MODE's type S_IFIFO or S_IFSOCK). */
int host_fs_mknodat(int dirfd, const char *name, uint32_t mode);
int host_fs_symlinkat(const char *target, int dirfd, const char *name);
/* Hard link of ONAME in ODIRFD (not followed) as NNAME in NDIRFD. */
int host_fs_linkat(int odirfd, const char *oname, int ndirfd, const char *nname);
/* REMOVEDIR: rmdir. */
int host_fs_unlinkat(int dirfd, const char *name, bool removedir);
/* renameat2 with flags 0 or RENAME_NOREPLACE. */
int host_fs_renameat(int odirfd, const char *oname, int ndirfd, const char *nname,
                     unsigned flags);
/* Attributes of the file FD itself (an O_PATH fd will do; a symlink's own
 * attributes, never its target's). */
int host_fs_fchown(int fd, uint32_t uid, uint32_t gid);
int host_fs_fchmod(int fd, uint32_t mode);
/* TIMES: [atime, mtime]; UTIME_OMIT leaves one. */
int host_fs_futimens(int fd, const struct linux_timespec times[2]);
int host_fs_ftruncate(int fd, uint64_t len);
int host_fs_fsync(int fd);
/* fallocate(2) on a held file fd; MODE limited to KEEP_SIZE and
 * PUNCH_HOLE (with KEEP_SIZE). */
int host_fs_fallocate(int fd, int mode, uint64_t off, uint64_t len);
/* Extended attributes of a held fd (not O_PATH). FLAGS of set: 0,
 * XATTR_CREATE (1) or XATTR_REPLACE (2). Sizes or -errno. */
ssize_t host_fs_fgetxattr(int fd, const char *name, void *buf, size_t size);
ssize_t host_fs_flistxattr(int fd, char *buf, size_t size);
int host_fs_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
int host_fs_fremovexattr(int fd, const char *name);
/* fstatat(FD, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW). */
int host_fs_fstat(int fd, struct stat *st);
/* readlinkat(FD, "") on an O_PATH fd of a symlink. Length (not terminated). */
ssize_t host_fs_readlink(int fd, char *buf, size_t size);
/* getdents64 on a directory fd opened O_RDONLY. */
ssize_t host_fs_getdents(int fd, void *buf, size_t size);
ssize_t host_fs_pread(int fd, void *buf, size_t n, uint64_t off);
/* read/write/lseek on a host fd the kernel was given (the caller's stdio). */
ssize_t host_fs_read(int fd, void *buf, size_t n);
ssize_t host_fs_write(int fd, const void *buf, size_t n);
ssize_t host_fs_pwrite(int fd, const void *buf, size_t n, uint64_t off);
/* The host fd's O_ flags (F_GETFL). */
int host_fs_getfl(int fd);
int64_t host_fs_lseek(int fd, int64_t off, int whence);
int host_fs_close(int fd);

/* Tty requests on a host fd: TCGETS fills T, TCSETS* apply it (REQ is
 * 0 for TCSETS, 1 for TCSETSW, 2 for TCSETSF), winsize get/set. */
int host_fs_tcgets(int fd, struct linux_termios *t);
int host_fs_tcsets(int fd, int req, const struct linux_termios *t);
int host_fs_get_winsize(int fd, struct linux_winsize *ws);
int host_fs_set_winsize(int fd, const struct linux_winsize *ws);

/* CLOCK_REALTIME now, for file timestamps. */
void host_fs_now(struct linux_timespec *ts);

#endif
