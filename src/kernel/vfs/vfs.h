/*
 * The VFS: mounts, dentries, inodes, open file descriptions, fd tables and
 * path walk. (Owned by the VFS work; the functions below are what the rest of
 * the kernel calls and must keep their meaning.)
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
/* Mode (S_IF* | permission bits) and size of F. */
int vfs_file_mode(struct file *f, uint32_t *out_mode, uint64_t *out_size);

#endif
