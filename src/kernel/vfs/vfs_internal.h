/*
 * Helpers shared by the files of src/kernel/vfs only.
 */
#ifndef MOAT_KERNEL_VFS_VFS_INTERNAL_H
#define MOAT_KERNEL_VFS_VFS_INTERNAL_H

#include "kernel/task/task.h"
#include "kernel/vfs/vfs_fs.h"

extern pthread_mutex_t g_dcache_lock;

/* NAME in PARENT (a new reference; may be negative). Takes g_vfs_ns_lock on
 * a cache miss unless NS_LOCKED (the caller holds it). -ENOENT if PARENT
 * was removed, or the file system's error. */
int d_lookup(struct dentry *parent, const char *name, bool ns_locked, struct dentry **out);
/* Makes negative dentry D positive with INODE (borrowed). ns lock held. */
void d_instantiate(struct dentry *d, struct inode *inode);
/* Removes D from the cache and marks it dead (unlinked). ns lock held. */
void d_delete(struct dentry *d);
/* Moves D under NEWPARENT as NEWNAME (copied). 0 or -ENOMEM. ns lock held. */
int d_move(struct dentry *d, struct dentry *newparent, const char *newname);
/* Swaps the names and parents of A and B (RENAME_EXCHANGE). ns lock held. */
void d_exchange(struct dentry *a, struct dentry *b);
/* The parent of D (a new reference), or NULL for a root. */
struct dentry *d_parent(struct dentry *d);
bool d_is_dead(struct dentry *d);
/* Whether D is ANC or below it (same file system tree). */
bool d_is_ancestor(struct dentry *anc, struct dentry *d);
/* The mount on (MNT, D), or NULL. */
struct mount *lookup_mnt(struct mount *mnt, struct dentry *d);
/* The path of P as seen from ROOT into BUF (NUL-terminated); appends
 * " (deleted)" for dead dentries if MARK_DEAD. Length or -ENAMETOOLONG. */
int vfs_path_string(const struct path *p, const struct path *root, char *buf, size_t size,
                    bool mark_dead);

struct vfs_mount_info;

/* Resolves PATH (relative to DIRFD) for T into *out (a new reference);
 * FOLLOW: a final symlink; DIR: must be a directory. 0 or -errno. */
int vfs_resolve_path(struct task *t, int dirfd, const char *path, bool follow, bool dir,
                     struct path *out);
/* Detaches MNT from the tree (umount): with TREE everything mounted below
 * goes with it (MNT_DETACH), else -EBUSY if something is mounted in it;
 * -EINVAL for the root mount or a detached one. The mounts are never freed:
 * open files and cwds inside keep working. Caller holds g_vfs_ns_lock. */
int vfs_mount_detach(struct mount *mnt, bool tree);
/* MS_MOVE: MNT (with what is below it) now sits on TO (borrowed). -ELOOP if
 * TO is inside MNT. Caller holds g_vfs_ns_lock and checked MNT is attached. */
int vfs_mount_move(struct mount *mnt, const struct path *to);
/* pivot_root: NEW_ROOT (attached, not the root) becomes the root mount and
 * the old root mount is put on PUT_OLD (borrowed, inside NEW_ROOT). Caller
 * holds g_vfs_ns_lock and checked the arguments. 0. */
int vfs_mount_pivot(struct mount *new_root, const struct path *put_old);
/* Moves P (counted) down through the mounts stacked on it. */
void vfs_follow_mounts(struct path *p);
/* The mount point of P's mount in its parent (*out a new reference), or
 * -ENOENT for the root mount and a detached one. */
int vfs_mount_up(const struct path *p, struct path *out);
/* The attached mounts in mount order: fills OUT[0..MAX) and returns how
 * many there are (may be more than MAX). Mounts are never freed. */
size_t vfs_mounts_snapshot(struct mount **out, size_t max);
/* The first attached mount of the root of a FSTYPE instance ("proc"). */
struct mount *vfs_find_mount_of_type(const char *fstype);
bool vfs_mount_is_attached(struct mount *mnt);
/* Whether P lies at or below ROOT in the mount tree. */
bool vfs_path_is_under(const struct path *p, const struct path *root);
/* The path of D from the root of its file system ("/" for the root) into
 * BUF. Length or -ENAMETOOLONG. */
int vfs_dentry_fs_path(struct dentry *d, char *buf, size_t size);
/* The template description of the sandbox's own mounts of FSTYPE
 * ("proc", "sysfs", "tmpfs"), or NULL. */
const struct vfs_mount_info *vfs_mount_template(const char *fstype);

/* fs_struct internals. */
struct fs_struct {
    struct refcount ref;
    pthread_mutex_t lock;
    struct path root;  /* (l) counted */
    struct path cwd;   /* (l) counted */
    uint32_t umask;    /* (l) */
};
/* A new fs_struct with root and cwd at ROOT (borrowed), umask 022. */
int fs_struct_new(const struct path *root, struct fs_struct **out);
void fs_get_root(struct fs_struct *fs, struct path *out);
void fs_get_cwd(struct fs_struct *fs, struct path *out);
/* Sets cwd to P (borrowed). */
void fs_set_cwd(struct fs_struct *fs, const struct path *p);
/* Sets root to P (borrowed): chroot. */
void fs_set_root(struct fs_struct *fs, const struct path *p);

/* Directory listing snapshot, taken on the first getdents after open or a
 * rewind; d_off of entry i is i + 1. */
struct vfs_dirent {
    uint64_t ino;
    unsigned type;
    char *name;
};
struct vfs_dirsnap {
    size_t n, cap;
    struct vfs_dirent *e;
};
void vfs_dirsnap_free(struct vfs_dirsnap *s);

#endif
