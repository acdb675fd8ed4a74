/*
 * Constructors of moat's file systems, and the few layer-specific calls the
 * overlay makes on its tmpfs upper and hostfs lower layers.
 *
 * Lock order inside file systems: ovl->lock, then tmpfs->lock, then
 * inode->lock (hostfs takes only inode->lock).
 */
#ifndef MOAT_KERNEL_FS_FS_H
#define MOAT_KERNEL_FS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel/vfs/vfs_fs.h"

/* tmpfs: a new instance; *out_root (new reference) is its root directory
 * with mode ROOT_MODE (S_IFDIR added). 0 or -ENOMEM. */
int tmpfs_new(uint32_t root_mode, struct inode **out_root);
/* Whether INODE is a tmpfs whiteout (char device 0:0). */
bool tmpfs_is_whiteout(struct inode *inode);
/* Creates a whiteout NAME in tmpfs directory DIR (replacing a whiteout). */
int tmpfs_make_whiteout(struct inode *dir, const char *name);
/* Removes every whiteout in DIR. */
void tmpfs_drop_whiteouts(struct inode *dir);
bool tmpfs_is_opaque(struct inode *dir);
void tmpfs_set_opaque(struct inode *dir, bool opaque);
/* The inode number an overlay reports for this upper inode (0 = unset). */
uint64_t tmpfs_get_origin(struct inode *inode);
void tmpfs_set_origin(struct inode *inode, uint64_t ino);
/* Copies the extended attributes of tmpfs inode FROM to tmpfs inode TO
 * (overlay copy-up between tmpfs layers; a no-op otherwise). 0 or -errno. */
int tmpfs_copy_xattrs(struct inode *from, struct inode *to);
/* Writes into a tmpfs regular file without a struct file. */
ssize_t tmpfs_pwrite(struct inode *inode, const void *buf, size_t n, uint64_t off);
/* Calls CB for every entry of tmpfs directory DIR, whiteouts included
 * (CB must not call back into this tmpfs). Stops at CB's first nonzero. */
int tmpfs_list(struct inode *dir, int (*cb)(void *arg, const char *name, struct inode *inode),
               void *arg);

/* hostfs over the host directory HOST_DIRFD (consumed): a read-only file
 * system; *out_root is its root (new reference). */
int hostfs_new(int host_dirfd, struct inode **out_root);
/* hostfs over a bind mount's host directory (consumed): WRITABLE ones
 * write through to it (see hostfs.c for how changes stay inside it); names
 * are not cached and attributes are reread, as the host may change the
 * tree while the sandbox runs. */
int hostfs_new_bind(int host_dirfd, bool writable, struct inode **out_root);
/* hostfs whose root is the host regular file FD (consumed; opened O_RDONLY,
 * or O_RDWR when WRITABLE): a file bind mount. */
int hostfs_new_file(int fd, bool writable, struct inode **out_root);
/* Reads a hostfs regular file (no struct file needed). */
ssize_t hostfs_pread(struct inode *inode, void *buf, size_t n, uint64_t off);

/* overlay of LOWER (hostfs root) and UPPER (tmpfs root), both borrowed. */
int overlay_new(struct inode *lower, struct inode *upper, struct inode **out_root);

/* devfs: a tmpfs holding null, zero, full, random, urandom, tty, the fd
 * links, shm/ and pts/. */
int devfs_new(struct inode **out_root);

/* devpts (devpts.c): the /dev/pts file system (one instance), and the
 * opens of /dev/ptmx (a new pty; F becomes its master) and /dev/tty (the
 * slave of the caller's session's controlling pty, -ENXIO without one). */
int devpts_new(struct inode **out_root);
int devpts_open_master(struct inode *inode, struct file *f);
int devpts_open_ctty(struct file *f);
/* The session leader of SID exited: its controlling terminal (if any) loses
 * the session, and its foreground group gets SIGHUP. */
void devpts_session_end(int sid);
/* The controlling terminal of session SID as /proc/PID/stat's tty_nr (0:
 * none), with its foreground group in *OUT_TPGID (-1: none). */
int devpts_session_tty(int sid, int *out_tpgid);

/* procfs, generated from the sandbox's state (src/kernel/fs/procfs.c,
 * src/kernel/fs/proc/). procfs_set_mount gives where it is mounted (files
 * without a path reached through /proc/PID/fd links live there). */
int procfs_new(struct inode **out_root);
/* Writes VALUE to the sandbox's /proc/sys file KEY ("kernel.msgmax", dots
 * or slashes), as OCI linux.sysctl asks: 0, -ENOENT when moat has no such
 * file, -EROFS when it is read-only, or the file's own error (-EINVAL). */
int procfs_sysctl_write(const char *key, const char *value);
void procfs_set_mount(struct mount *mnt);
/* The pid of the /proc/PID directory F is open on (not /proc/PID/task/TID
 * or anything else), or 0: pidfd_send_signal takes such an fd as a pidfd. */
int procfs_tgid_dir_pid(struct file *f);

/* sysfs (read-only: cpu topology, transparent_hugepage) and the cgroup2
 * file system vfs_init mounts on /sys/fs/cgroup (the sandbox's limits). */
int sysfs_new(struct inode **out_root);
int cgroupfs_new(struct inode **out_root);
/* Whether INODE is a cgroup (a directory of the cgroup2 file system). The
 * sandbox has one, its root, which every process is in. */
bool cgroupfs_is_cgroup(struct inode *inode);

/* What a mount shows in /proc/PID/mounts and statfs (struct mount.info).
 * Must live forever. */
struct vfs_mount_info {
    const char *source;     /* first field of /proc/mounts */
    const char *fstype;     /* Linux's name: "overlay", "proc", "cgroup2" ... */
    const char *super_opts; /* file-system options after "rw"/"ro" ("mode=755"; "" for none) */
    uint64_t magic;         /* statfs f_type */
    unsigned mnt_flags;     /* VFS_MNT_* flags a mount of it starts with */
};
/* mountinfo id of MNT, or 0 (NULL). */
int vfs_mount_id(const struct mount *mnt);

/* One line of /proc/PID/mounts or mountinfo. */
struct vfs_mount_view {
    int id, parent_id;
    uint64_t dev;
    const char *source, *fstype;
    char opts[288];       /* /proc/mounts: "rw,nosuid,relatime,mode=755" (ro: mount or fs) */
    char mi_opts[96];     /* mountinfo's per-mount field (ro: the mount's own flag) */
    char super_opts[192]; /* per-file-system: "rw,mode=755" */
    char optional[32];    /* mountinfo's optional fields ("shared:3"), may be "" */
    char root[LINUX_PATH_MAX];       /* the mount's root inside its file system */
    char mountpoint[LINUX_PATH_MAX]; /* seen from the reader's root */
};
/* The mounts visible from T's root (T NULL: the sandbox's root), in mount
 * order: *out is a new array of *out_n views (free()). 0 or -ENOMEM. */
struct task;
int vfs_mount_views(struct task *t, struct vfs_mount_view **out, size_t *out_n);

/* statfs(2) as Linux lays it out on x86-64.
 * FIXME: belongs in src/abi/linux/types.h (owned by the ABI work). */
struct linux_statfs {
    int64_t f_type;
    int64_t f_bsize;
    uint64_t f_blocks;
    uint64_t f_bfree;
    uint64_t f_bavail;
    uint64_t f_files;
    uint64_t f_ffree;
    int32_t f_fsid[2];
    int64_t f_namelen;
    int64_t f_frsize;
    int64_t f_flags;
    int64_t f_spare[4];
};
/* statfs of the file system mounted at MNT (NULL: an anonymous file's, as
 * Linux's anon_inodefs). Sizes are the sandbox's: memory-backed file
 * systems report the host's RAM as their size and the memory file's use as
 * used. 0 or -errno. */
int vfs_statfs(const struct mount *mnt, struct linux_statfs *out);

#endif
