/*
 * The VFS: mounts, dentries, inodes, open file descriptions, fd tables and
 * path walk. The functions below are what the rest of the kernel calls;
 * file systems and the file syscalls also use kernel/vfs/vfs_fs.h (objects
 * and ops tables).
 *
 * Paths are walked by moat: ".." never leaves the task's root, symlinks are
 * resolved inside the sandbox (-ELOOP after 40), mounts are crossed, and
 * host file systems are only ever asked for one component at a time.
 *
 * Lock order (details in vfs_fs.h):
 *   file->pos_lock
 *     g_vfs_ns_lock
 *       fs-internal locks (overlay, then tmpfs/hostfs)
 *         inode->lock
 *           g_dcache_lock
 *   fdtable->lock, fs_struct->lock: leaves.
 *
 * References: functions returning a struct file / fs_struct / fdtable
 * through OUT return a new reference; arguments are borrowed unless a comment
 * says "consumed".
 */
#ifndef MOAT_KERNEL_VFS_VFS_H
#define MOAT_KERNEL_VFS_VFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct task;
struct file;
struct fdtable;
struct fs_struct;

/* Builds the sandbox's mount tree: an overlay whose read-only lower layer is
 * the host directory HOST_ROOT_FD (consumed) and whose upper layer is memory,
 * plus /dev (devfs) and /proc (procfs). Returns the initial fs_struct (root
 * and cwd at "/", umask 022), count 1. 0 or -errno. */
int vfs_init(int host_root_fd, struct fs_struct **out_fs);
/* Makes the root mount read-only (OCI root.readonly, moat do --read-only),
 * before the first task runs. */
void vfs_root_set_readonly(void);

/* fs_struct: root, cwd, umask. */
int fs_struct_copy(struct fs_struct *fs, struct fs_struct **out);
void fs_struct_get(struct fs_struct *fs);
void fs_struct_put(struct fs_struct *fs);
/* chdir for task T (used for the initial cwd). 0 or -errno. */
int vfs_chdir(struct task *t, const char *path);

/* fd tables. */
int fdtable_new(struct fdtable **out);
int fdtable_copy(struct fdtable *fdt, struct fdtable **out); /* fork */
void fdtable_get(struct fdtable *fdt);
void fdtable_put(struct fdtable *fdt);
void fdtable_close_on_exec(struct fdtable *fdt);
/* Installs FILE (borrowed: the table takes its own reference) at FD. */
int fdtable_install_at(struct fdtable *fdt, int fd, struct file *file, bool cloexec);
/* The file at FD with a new reference, or NULL. */
struct file *fdtable_get_file(struct fdtable *fdt, int fd);

/* Open file descriptions. */
void file_get(struct file *f);
void file_put(struct file *f);
/* Wraps host fd HOST_FD (consumed) as a file opened with O_* FLAGS; reads,
 * writes and tty ioctls go to the host fd. */
int hostfile_new(int host_fd, int flags, struct file **out);

/* Opens PATH (relative to T's cwd) for exec: follows symlinks; -ENOENT,
 * -EACCES (not a regular file or no exec permission), -ENOTDIR, -ELOOP …
 * Returns a new reference in *out. */
int vfs_open_exec(struct task *t, const char *path, struct file **out);
/* access(2) semantics for T. 0 or -errno. */
int vfs_access(struct task *t, const char *path, int mode);
/* Reads from F at OFF into a kernel buffer. Bytes read or -errno. */
ssize_t vfs_pread(struct file *f, void *buf, size_t n, uint64_t off);
/* The path of F inside the sandbox, as /proc/PID/fd links show it.
 * Length or -errno (-ENAMETOOLONG). */
int vfs_file_path(struct file *f, char *buf, size_t size);
/* Mode (S_IF* | permission bits) and size of F's data (its I/O inode:
 * never takes an overlay's lock; mm calls it under mm locks). */
int vfs_file_mode(struct file *f, uint32_t *out_mode, uint64_t *out_size);
/* The inode F does its I/O on (borrowed: F holds it), e.g. an overlay
 * file's upper or lower inode. Identifies the file for mm's truncate zap. */
struct inode *vfs_file_inode(struct file *f);

/* ---- Additions for the file syscalls (sys_file.c, sys_fs.c) ---- */

struct linux_stat;
struct linux_dirent64;
struct linux_timespec;

/* Largest fd number + 1 a table may hold (RLIMIT_NOFILE is capped to it). */
#define VFS_NR_OPEN (1024 * 1024)

/* Lowest free fd >= MINFD and < LIMIT, installing FILE (borrowed) there.
 * The fd or -EMFILE / -EINVAL. */
int fdtable_alloc(struct fdtable *fdt, int minfd, int limit, struct file *file, bool cloexec);
/* Removes FD; the file is put. 0 or -EBADF. */
int fdtable_close(struct fdtable *fdt, int fd);
/* The lowest fd >= FROM in use, or -1 (for /proc/PID/fd listings). */
int fdtable_next_fd(struct fdtable *fdt, int from);
/* Close-on-exec flag of FD: 0/1, or -EBADF. */
int fdtable_get_cloexec(struct fdtable *fdt, int fd);
int fdtable_set_cloexec(struct fdtable *fdt, int fd, bool cloexec);
/* dup2/dup3: installs OLDFD's file at NEWFD (closing what was there).
 * NEWFD, or -EBADF / -EINVAL. */
int fdtable_dup_to(struct fdtable *fdt, int oldfd, int newfd, int limit, bool cloexec);

/* umask of T's fs_struct; vfs_set_umask returns the old one. */
uint32_t vfs_umask(struct task *t);
uint32_t vfs_set_umask(struct task *t, uint32_t mask);

/* File status flags (F_GETFL) and F_SETFL (O_APPEND, O_NONBLOCK, O_ASYNC,
 * O_DIRECT, O_NOATIME are changeable; others ignored as Linux does). */
unsigned vfs_file_flags(struct file *f);
int vfs_file_set_flags(struct file *f, unsigned flags);

/* openat(2) for T: DIRFD may be AT_FDCWD. *out is a new reference; the
 * caller installs it. */
int vfs_openat(struct task *t, int dirfd, const char *path, int flags, uint32_t mode,
               struct file **out);
/* openat2(2): RESOLVE (RESOLVE_* bits) restricts the walk: NO_XDEV (no
 * mount crossing: -EXDEV), NO_MAGICLINKS (-ELOOP), NO_SYMLINKS (-ELOOP),
 * BENEATH (absolute paths, ".." above DIRFD and magic links: -EXDEV),
 * IN_ROOT (DIRFD is the walk's root), CACHED (-EAGAIN: retry without). */
int vfs_openat2(struct task *t, int dirfd, const char *path, int flags, uint32_t mode,
                unsigned resolve, struct file **out);
/* I/O on kernel buffers. read/write use and advance f->pos; the p-variants
 * use OFF (-ESPIPE unless seekable). Bytes or -errno. */
ssize_t vfs_read(struct file *f, void *buf, size_t n);
ssize_t vfs_write(struct file *f, const void *buf, size_t n);
ssize_t vfs_pwrite(struct file *f, const void *buf, size_t n, uint64_t off);
int64_t vfs_llseek(struct file *f, int64_t off, int whence);
/* Whether read/write on F may sleep for a long time (ttys, pipes): callers
 * should then not hold anything while calling. */
bool vfs_file_is_seekable(struct file *f);
/* getdents64 from f->pos into a kernel buffer of SIZE bytes, in the
 * linux_dirent64 layout (OLD: the getdents(2) layout). Bytes or -errno
 * (-EINVAL if SIZE is too small for the next entry, -ENOTDIR). */
ssize_t vfs_getdents(struct file *f, void *buf, size_t size, bool old);
long vfs_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg);
int vfs_fsync(struct file *f);
/* fallocate(2) with Linux's argument checks; the file system's op does the
 * work (-EOPNOTSUPP without one). */
int vfs_fallocate(struct file *f, int mode, int64_t off, int64_t len);
int vfs_fstat(struct file *f, struct linux_stat *st);
int vfs_ftruncate(struct file *f, uint64_t len);
int vfs_fchmod(struct task *t, struct file *f, uint32_t mode);
int vfs_fchown(struct task *t, struct file *f, uint32_t uid, uint32_t gid);
/* Whether F was opened through a noexec mount (mmap PROT_EXEC: -EPERM,
 * execve: -EACCES) or a nosuid one (exec ignores set-id bits). */
bool vfs_file_noexec(struct file *f);
bool vfs_file_nosuid(struct file *f);
/* Whether a MAP_SHARED mapping of F made now may ever become writable
 * (file_ops mmap_may_write; false for a write-sealed memfd). */
bool vfs_file_mmap_may_write(struct file *f);
/* Whether F is an O_PATH file (fds on which most calls return -EBADF). */
bool vfs_file_is_opath(struct file *f);

/* Path calls. AT_FLAGS may hold AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH (and
 * AT_SYMLINK_FOLLOW for linkat, AT_REMOVEDIR for unlinkat). */
int vfs_statat(struct task *t, int dirfd, const char *path, int at_flags, struct linux_stat *st);
/* vfs_statat plus, for statx, the id of the mount the file was reached
 * through (0 for anonymous files) and whether it is that mount's root. */
int vfs_statat_mnt(struct task *t, int dirfd, const char *path, int at_flags,
                   struct linux_stat *st, int *out_mnt_id, bool *out_mount_root);
int vfs_faccessat(struct task *t, int dirfd, const char *path, int mode, int at_flags);
int vfs_mkdirat(struct task *t, int dirfd, const char *path, uint32_t mode);
int vfs_mknodat(struct task *t, int dirfd, const char *path, uint32_t mode, uint64_t dev);
int vfs_unlinkat(struct task *t, int dirfd, const char *path, int at_flags);
/* FLAGS: 0, RENAME_NOREPLACE or RENAME_EXCHANGE (others -EINVAL). */
int vfs_renameat2(struct task *t, int odirfd, const char *opath, int ndirfd, const char *npath,
                  unsigned flags);
int vfs_symlinkat(struct task *t, const char *target, int dirfd, const char *path);
int vfs_linkat(struct task *t, int odirfd, const char *opath, int ndirfd, const char *npath,
               int at_flags);
/* Length copied into BUF (not terminated) or -errno (-EINVAL: not a link). */
int vfs_readlinkat(struct task *t, int dirfd, const char *path, char *buf, size_t size);
int vfs_fchmodat(struct task *t, int dirfd, const char *path, uint32_t mode, int at_flags);
int vfs_fchownat(struct task *t, int dirfd, const char *path, uint32_t uid, uint32_t gid,
                 int at_flags);
int vfs_truncate(struct task *t, const char *path, uint64_t len);
/* TIMES: NULL (both now) or [atime, mtime] with UTIME_NOW / UTIME_OMIT. */
int vfs_utimensat(struct task *t, int dirfd, const char *path,
                  const struct linux_timespec *times, int at_flags);
int vfs_fchdir(struct task *t, struct file *f);
/* The cwd of T as getcwd(2) returns it (with NUL): length incl. NUL, or
 * -ERANGE / -ENOENT (cwd unlinked). */
int vfs_getcwd(struct task *t, char *buf, size_t size);

/* chroot(2), mount(2), umount2(2), pivot_root(2) for T (CAP_SYS_ADMIN,
 * chroot CAP_SYS_CHROOT: else -EPERM), with Linux's checks (kernel/vfs/mount.c). mount: tmpfs (data
 * "mode=…"), proc and sysfs (the sandbox's instances again), MS_BIND
 * (MS_REC) of in-sandbox directories and files, MS_MOVE, MS_REMOUNT (with
 * MS_BIND: the mount's flags), per-mount flags (MS_RDONLY, MS_NOSUID,
 * MS_NODEV, MS_NOEXEC, atime flags, MS_NOSYMFOLLOW), propagation types
 * (recorded; no propagation between peers). 0 or -errno. */
int vfs_chroot(struct task *t, const char *path);
int vfs_do_mount(struct task *t, const char *source, const char *target, const char *fstype,
                 unsigned long flags, const char *data);
int vfs_umount(struct task *t, const char *target, int flags);
int vfs_pivot_root(struct task *t, const char *new_root, const char *put_old);

/* Extended attributes of F (when not NULL) or of PATH relative to T's cwd
 * (FOLLOW: follow a final symlink). The namespaces are Linux's: user.*
 * (regular files and directories, by permission), trusted.* (root only;
 * hidden from others' lists), security.*; others -EOPNOTSUPP.
 * get/list: with SIZE 0 the size needed; -ERANGE if SIZE is too small.
 * FLAGS of set: XATTR_CREATE (1) / XATTR_REPLACE (2). */
ssize_t vfs_getxattr(struct task *t, const char *path, bool follow, struct file *f,
                     const char *name, void *buf, size_t size);
int vfs_setxattr(struct task *t, const char *path, bool follow, struct file *f,
                 const char *name, const void *value, size_t size, int flags);
int vfs_removexattr(struct task *t, const char *path, bool follow, struct file *f,
                    const char *name);
ssize_t vfs_listxattr(struct task *t, const char *path, bool follow, struct file *f, char *buf,
                      size_t size);

#endif
