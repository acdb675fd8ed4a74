/*
 * fsnotify: file-system events for watchers (inotify), after Linux's
 * fs/notify. A watcher (a "group": one inotify instance) puts marks on
 * files; the VFS reports what happens to files through the few hooks below,
 * each one line at the place the operation succeeds, and every mark whose
 * mask asks for the event hands it to its group.
 *
 * Marks are keyed by (file system instance, inode number), not by inode
 * object: hostfs and overlay make a new inode object when a name is looked
 * up again after its dentry was evicted, and hard links in the overlay are
 * different objects with one number. Events on a child are reported to the
 * child's marks (without a name) and to its parent directory's marks (with
 * the name), the parent's first, as Linux does.
 *
 * Every hook returns at once while no mark exists anywhere (one atomic
 * load), so the I/O paths pay nothing when nobody watches.
 *
 * Lock order: g_fsnotify_lock is taken inside every VFS lock (g_vfs_ns_lock,
 * inode locks; never with g_dcache_lock held); a group's event callback runs
 * under it and takes only its own queue lock and wait-queue locks.
 */
#ifndef MOAT_KERNEL_VFS_NOTIFY_H
#define MOAT_KERNEL_VFS_NOTIFY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/list.h"

struct dentry;
struct file;
struct inode;
struct path;
struct vfs_sb;

/* Event bits: Linux's IN_* values (uapi/linux/inotify.h). */
#define FSN_ACCESS        0x00000001u
#define FSN_MODIFY        0x00000002u
#define FSN_ATTRIB        0x00000004u
#define FSN_CLOSE_WRITE   0x00000008u
#define FSN_CLOSE_NOWRITE 0x00000010u
#define FSN_OPEN          0x00000020u
#define FSN_MOVED_FROM    0x00000040u
#define FSN_MOVED_TO      0x00000080u
#define FSN_CREATE        0x00000100u
#define FSN_DELETE        0x00000200u
#define FSN_DELETE_SELF   0x00000400u
#define FSN_MOVE_SELF     0x00000800u
#define FSN_UNMOUNT       0x00002000u
#define FSN_Q_OVERFLOW    0x00004000u
#define FSN_IGNORED       0x00008000u
#define FSN_ALL_EVENTS    0x00000fffu
#define FSN_ONLYDIR       0x01000000u
#define FSN_DONT_FOLLOW   0x02000000u
#define FSN_EXCL_UNLINK   0x04000000u
#define FSN_MASK_CREATE   0x10000000u
#define FSN_MASK_ADD      0x20000000u
#define FSN_ISDIR         0x40000000u
#define FSN_ONESHOT       0x80000000u

extern pthread_mutex_t g_fsnotify_lock;
extern int g_fsnotify_nmarks; /* atomic: marks alive in the sandbox */

struct fsnotify_mark;

struct fsnotify_group_ops {
    /* Event MASK (one event bit, maybe | FSN_ISDIR) on M's file; NAME is
     * the child's name for an event on a child of a watched directory,
     * else NULL. g_fsnotify_lock held; may remove M (fsnotify_mark_del). */
    void (*event)(struct fsnotify_mark *m, uint32_t mask, uint32_t cookie, const char *name);
    /* M's file is gone (DELETE_SELF was sent): the group removes M with
     * fsnotify_mark_del and reports it (IN_IGNORED). g_fsnotify_lock held. */
    void (*gone)(struct fsnotify_mark *m);
};

/* A mark, embedded in the group's own watch object. */
struct fsnotify_mark {
    struct list_head hlink;               /* (n) g_fsnotify_lock: hash bucket */
    struct vfs_sb *sb;                    /* (c) */
    uint64_t ino;                         /* (c) inode->ino */
    uint32_t mask;                        /* (n) FSN_ALL_EVENTS bits | ONESHOT | EXCL_UNLINK */
    const struct fsnotify_group_ops *ops; /* (c) */
    bool linked;                          /* (n) in the hash */
};

/* Mark table, g_fsnotify_lock held. */
void fsnotify_mark_add_locked(struct fsnotify_mark *m, struct inode *inode);
void fsnotify_mark_del_locked(struct fsnotify_mark *m);

/* The one delivery function: event MASK on INODE (may be NULL: its own
 * marks, no name) and on NAME in DIR (may be NULL: DIR's marks, with the
 * name; UNLINKED: the child is no longer in DIR, for IN_EXCL_UNLINK). */
void fsnotify(uint32_t mask, struct inode *inode, struct inode *dir, const char *name,
              uint32_t cookie, bool unlinked);

static inline bool fsnotify_active(void)
{
    return __atomic_load_n(&g_fsnotify_nmarks, __ATOMIC_RELAXED) > 0;
}

/* ---- Hooks for the VFS and the file syscalls ---- */

/* MASK (ACCESS, MODIFY, OPEN, CLOSE_*, ATTRIB) on the file at dentry D
 * and its parent's watchers. */
void fsnotify_dentry_slow(struct dentry *d, struct inode *fallback, uint32_t mask);
static inline void fsnotify_dentry(struct dentry *d, uint32_t mask)
{
    if (fsnotify_active())
        fsnotify_dentry_slow(d, NULL, mask);
}
/* The same for a path from a walk (INODE: its inode, used when the path
 * has no dentry). */
void fsnotify_path_slow(const struct path *p, struct inode *inode, uint32_t mask);
static inline void fsnotify_path(const struct path *p, struct inode *inode, uint32_t mask)
{
    if (fsnotify_active() && mask)
        fsnotify_path_slow(p, inode, mask);
}
/* The same for an open file (files without a path: their inode only). */
void fsnotify_file_slow(struct file *f, uint32_t mask);
static inline void fsnotify_file(struct file *f, uint32_t mask)
{
    if (fsnotify_active())
        fsnotify_file_slow(f, mask);
}
/* Open and last close of F (not O_PATH). */
void fsnotify_open(struct file *f);
void fsnotify_close(struct file *f);
/* A name event (CREATE, DELETE, MOVED_*) for NAME in the directory at
 * dentry DIR; CHILD is the named inode (for IN_ISDIR). */
void fsnotify_name_slow(struct dentry *dir, const char *name, struct inode *child, uint32_t mask,
                        uint32_t cookie);
static inline void fsnotify_create(struct dentry *dir, const char *name, struct inode *child)
{
    if (fsnotify_active())
        fsnotify_name_slow(dir, name, child, FSN_CREATE, 0);
}
/* An event on INODE alone (its link count changed: ATTRIB). */
void fsnotify_inode_slow(struct inode *inode, uint32_t mask);
static inline void fsnotify_inode(struct inode *inode, uint32_t mask)
{
    if (fsnotify_active())
        fsnotify_inode_slow(inode, mask);
}
/* link(2): INODE got the new name NAME in DIR. */
void fsnotify_link(struct dentry *dir, const char *name, struct inode *inode);
/* NAME (dentry CHILD, inode VICTIM) was removed from DIR; LAST: it was
 * the file's last name (a directory always is). Sends ATTRIB (files),
 * DELETE_SELF (now, or when CHILD's last user lets go: fsnotify_dentry_free)
 * and DELETE. CHILD was already marked dead (d_delete). ns lock held. */
void fsnotify_unlink(struct dentry *dir, const char *name, struct dentry *child,
                     struct inode *victim, bool last);
/* ONAME in ODIR moved to NNAME in NDIR (dentry SRCD, inode SRC), replacing
 * TARGET (dentry TGTD, may be NULL; TARGET_LAST as LAST above). */
void fsnotify_rename(struct dentry *odir, const char *oname, struct dentry *ndir, const char *nname,
                     struct dentry *srcd, struct inode *src, struct dentry *tgtd,
                     struct inode *target, bool target_last);
/* RENAME_EXCHANGE of A (was ONAME in ODIR) and B (was NNAME in NDIR). */
void fsnotify_exchange(struct dentry *odir, const char *oname, struct inode *a, struct dentry *ndir,
                       const char *nname, struct inode *b);
/* Called when dentry D is freed (dcache.c). */
void fsnotify_dentry_free(struct dentry *d);
/* The event a setattr with VFS_ATTR_* bits VALID reports (Linux
 * fsnotify_change): MODIFY for a size, ATTRIB for owner/mode/both times,
 * ACCESS or MODIFY for one time alone; 0 for none. */
uint32_t fsnotify_attr_mask(unsigned valid);

/* inotify_add_watch's walk: PATH from T's cwd (FOLLOW a final symlink;
 * DIR: -ENOTDIR unless a directory), readable by T. *OUT is a new
 * reference. 0 or -errno. */
struct task;
int fsnotify_lookup(struct task *t, const char *path, bool follow, bool dir, struct inode **out);

/* ---- Limits (/proc/sys/fs/inotify), as Linux's defaults ---- */
struct inotify_limits {
    int max_queued_events;
    int max_user_instances;
    int max_user_watches;
};
/* Current values (max_user_watches from memory size on first use). */
void inotify_get_limits(struct inotify_limits *out);
/* Sets one (0 queued, 1 instances, 2 watches): 0 or -EINVAL (< 0). */
int inotify_set_limit(int which, long value);

#endif
