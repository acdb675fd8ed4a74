/*
 * Extra mounts an OCI bundle asks for (config.json "mounts"), added to the
 * sandbox's mount tree after vfs_init and before the first task runs.
 * The mount points are made in the root's overlay (in memory) when missing;
 * the host rootfs is never modified.
 * They are listed in /proc/PID/mounts like the sandbox's own.
 */
#ifndef MOAT_KERNEL_VFS_OCI_MOUNTS_H
#define MOAT_KERNEL_VFS_OCI_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fs_struct;

enum vfs_extra_kind {
    VFS_EXTRA_TMPFS,     /* a new tmpfs with MODE */
    VFS_EXTRA_BIND_RO,   /* the host directory HOST_FD, read-only (hostfs) */
    VFS_EXTRA_BIND_COPY, /* the host directory HOST_FD with an in-memory upper layer:
                            writes stay in the sandbox */
    VFS_EXTRA_BIND_RW,   /* the host directory HOST_FD, read-write: writes reach the host */
    VFS_EXTRA_KIND_MAX
};

struct vfs_extra_mount {
    enum vfs_extra_kind kind;
    const char *dest;  /* absolute path in the sandbox */
    int host_fd;       /* binds: a directory fd (a detached clone of the mount from
                          open_tree, or an O_DIRECTORY fd), or a regular file's fd opened
                          O_RDONLY or (BIND_RW) O_RDWR; consumed, also on error */
    bool is_file;      /* binds: HOST_FD is a regular file (a file mounted on a file) */
    uint32_t mode;     /* tmpfs: root directory mode */
    unsigned mnt_flags; /* VFS_MNT_* asked for ("nosuid", "nodev", "noexec", "ro"...) */
};

/* Mounts M[0..N) in order on the root of FS (borrowed). Stops at the first
 * failure: returns -errno and *out_failed is its index. Fds of mounts not
 * reached are closed. */
int vfs_mount_extra(struct fs_struct *fs, const struct vfs_extra_mount *m, size_t n,
                    size_t *out_failed);

#endif
