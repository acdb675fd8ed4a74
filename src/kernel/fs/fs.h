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
/* Writes into a tmpfs regular file without a struct file. */
ssize_t tmpfs_pwrite(struct inode *inode, const void *buf, size_t n, uint64_t off);
/* Calls CB for every entry of tmpfs directory DIR, whiteouts included
 * (CB must not call back into this tmpfs). Stops at CB's first nonzero. */
int tmpfs_list(struct inode *dir, int (*cb)(void *arg, const char *name, struct inode *inode),
               void *arg);

/* hostfs over the host directory HOST_DIRFD (consumed): a read-only file
 * system; *out_root is its root (new reference). */
int hostfs_new(int host_dirfd, struct inode **out_root);
/* Reads a hostfs regular file (no struct file needed). */
ssize_t hostfs_pread(struct inode *inode, void *buf, size_t n, uint64_t off);

/* overlay of LOWER (hostfs root) and UPPER (tmpfs root), both borrowed. */
int overlay_new(struct inode *lower, struct inode *upper, struct inode **out_root);

/* devfs: a tmpfs holding null, zero, full, random, urandom, tty, the fd
 * links, shm/ and pts/. */
int devfs_new(struct inode **out_root);

/* procfs (self, PID/exe, PID/fd/N). MNT is where it is mounted (used to
 * name the files /proc/PID/fd links reopen). */
int procfs_new(struct inode **out_root);
void procfs_set_mount(struct mount *mnt);

#endif
