/*
 * VFS objects and ops tables, for file system implementations (src/kernel/fs)
 * and the file syscalls. The rest of the kernel uses vfs.h only.
 *
 * Objects (after Linux's model):
 *   vfs_sb   one per file system instance; never freed (no umount yet)
 *   inode    a file; refcounted; ops in inode_ops; freed by ops->evict
 *   dentry   a name in a directory, positive (inode) or negative; refcounted;
 *            unused dentries stay cached (LRU) until evicted
 *   mount    a file system instance attached at a dentry of a parent mount
 *   path     {mount, dentry}: only the dentry is counted (mounts live forever)
 *   file     an open file description; refcounted; ops in file_ops
 *
 * Lock order (see also vfs.h):
 *   file->pos_lock                    (held across one read/write/getdents)
 *     g_vfs_ns_lock                   (namespace changes and dcache misses)
 *       fs-internal locks             (ovl->lock, then tmpfs/hostfs inode locks)
 *         inode->lock
 *           g_dcache_lock             (dentry tree, dentry counts, mounts, LRU)
 *   fdtable->lock and fs_struct->lock are leaves: no file or inode op is
 *   called while holding them.
 */
#ifndef MOAT_KERNEL_VFS_VFS_FS_H
#define MOAT_KERNEL_VFS_VFS_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "abi/linux/types.h"
#include "kernel/vfs/vfs.h"
#include "lib/list.h"
#include "lib/refcount.h"

struct cred;
struct inode;
struct dentry;
struct mount;
struct path;

/* Linux file type bits (same values as S_IF*). */
#define VFS_S_IFMT   0170000
#define VFS_S_IFSOCK 0140000
#define VFS_S_IFLNK  0120000
#define VFS_S_IFREG  0100000
#define VFS_S_IFBLK  0060000
#define VFS_S_IFDIR  0040000
#define VFS_S_IFCHR  0020000
#define VFS_S_IFIFO  0010000

#define VFS_MAY_EXEC  1
#define VFS_MAY_WRITE 2
#define VFS_MAY_READ  4

/* Linux's encoding of dev_t as stat reports it. */
#define VFS_MKDEV(ma, mi)                                                                          \
    ((((uint64_t)(mi)) & 0xff) | (((uint64_t)(ma)) << 8) | ((((uint64_t)(mi)) & ~0xffull) << 12))
#define VFS_MAJOR(d) ((unsigned)(((d) >> 8) & 0xfff))
#define VFS_MINOR(d) ((unsigned)(((d) & 0xff) | (((d) >> 12) & 0xfff00)))

/* A file system instance. */
struct vfs_sb {
    const char *type;        /* (c) "tmpfs", "hostfs", "overlay", "proc", ... */
    uint64_t dev;            /* (c) st_dev of its inodes */
    bool nocache;            /* (c) dentries are not cached (generated trees) */
    bool rdonly;             /* atomic; changed under g_vfs_ns_lock: mounted read-only
                              * (every mount of it refuses writes: -EROFS) */
    uint64_t next_ino;       /* atomic: vfs_sb_next_ino() */
    void *priv;              /* (c) the file system's */
};

/* A new file system instance with a fresh anonymous device number. NULL only
 * for ENOMEM. Never freed. */
struct vfs_sb *vfs_sb_new(const char *type, bool nocache);
uint64_t vfs_sb_next_ino(struct vfs_sb *sb);

/* Fields of a setattr request. */
#define VFS_ATTR_MODE  0x01
#define VFS_ATTR_UID   0x02
#define VFS_ATTR_GID   0x04
#define VFS_ATTR_SIZE  0x08
#define VFS_ATTR_ATIME 0x10
#define VFS_ATTR_MTIME 0x20
#define VFS_ATTR_CTIME 0x40
struct vfs_attr {
    unsigned valid;
    uint32_t mode; /* permission bits only (07777) */
    uint32_t uid, gid;
    uint64_t size;
    struct linux_timespec atime, mtime, ctime;
};

/* Callback for readdir: 0 to go on, or -errno to stop (propagated). */
struct dir_emit {
    int (*emit)(struct dir_emit *ctx, const char *name, size_t len, uint64_t ino, unsigned type);
};
/* d_type value of a mode. */
unsigned vfs_dtype(uint32_t mode);

/*
 * Inode operations. NULL member = unsupported; the VFS picks the errno
 * (-EPERM for name changes, -EINVAL for readlink, -ENOTDIR for lookups).
 * Directory-changing ops (create … rename) run with g_vfs_ns_lock held and
 * after the VFS checked: DIR is a live directory, the name is a normal
 * component (not "." / ".."), the caller may write and search DIR, and the
 * name is negative (create, symlink, link) or is VICTIM (unlink, rmdir).
 * Inodes returned through OUT are new references.
 */
struct inode_ops {
    /* NAME in DIR: 0 and *out, -ENOENT, or another -errno. */
    int (*lookup)(struct inode *dir, const char *name, struct inode **out);
    /* Any non-symlink type in MODE (S_IF* | 07777 after umask). */
    int (*create)(struct inode *dir, const char *name, uint32_t mode, uint64_t rdev,
                  const struct cred *cred, struct inode **out);
    int (*symlink)(struct inode *dir, const char *name, const char *target,
                   const struct cred *cred, struct inode **out);
    /* Hard link to INODE (not a directory). */
    int (*link)(struct inode *dir, const char *name, struct inode *inode);
    int (*unlink)(struct inode *dir, const char *name, struct inode *victim);
    /* VICTIM is a directory; -ENOTEMPTY unless empty. */
    int (*rmdir)(struct inode *dir, const char *name, struct inode *victim);
    /* Moves ONAME (SRC) to NNAME, replacing TARGET (may be NULL; the VFS
     * checked type compatibility and, for directories, nothing else). */
    int (*rename)(struct inode *odir, const char *oname, struct inode *src, struct inode *ndir,
                  const char *nname, struct inode *target);
    /* Entries of DIR except "." and "..". */
    int (*readdir)(struct inode *dir, struct dir_emit *ctx);
    /* Symlink target into BUF (not NUL-terminated, truncated at SIZE):
     * length or -errno. */
    int (*readlink)(struct inode *inode, char *buf, size_t size);
    /* "Magic" links (procfs): the target as a path, a new reference.
     * Takes precedence over readlink during a walk. */
    int (*get_link)(struct inode *inode, struct path *out);
    /* Optional; the default reads the inode fields. */
    int (*getattr)(struct inode *inode, struct linux_stat *st);
    /* Optional; the default sets the fields (size only for non-regular
     * files: -EINVAL… see vfs_setattr). */
    int (*setattr)(struct inode *inode, const struct vfs_attr *attr);
    /* Non-directories: prepares F (sets f->ops, f->priv; overlay replaces
     * f->inode with the real inode). NULL: -ENXIO. */
    int (*open)(struct inode *inode, struct file *f);
    /* Count reached zero: frees the inode. Cannot fail. */
    void (*evict)(struct inode *inode);
    /* Extended attributes (NULL: -ENODATA for get/remove, an empty list,
     * -EOPNOTSUPP for set). NAME is a full "user.x" name; the VFS checked
     * the namespace and the caller's rights. getxattr/listxattr: with
     * SIZE 0 the size needed, else the bytes copied or -ERANGE.
     * setxattr FLAGS: VFS_XATTR_CREATE / VFS_XATTR_REPLACE. */
    ssize_t (*getxattr)(struct inode *inode, const char *name, void *buf, size_t size);
    int (*setxattr)(struct inode *inode, const char *name, const void *value, size_t size,
                    int flags);
    ssize_t (*listxattr)(struct inode *inode, char *buf, size_t size);
    int (*removexattr)(struct inode *inode, const char *name);
};

#define VFS_XATTR_CREATE  1
#define VFS_XATTR_REPLACE 2

struct inode {
    struct refcount ref;
    pthread_mutex_t lock;
    struct vfs_sb *sb;            /* (c) */
    const struct inode_ops *ops;  /* (c) */
    uint64_t ino;                 /* (c) */
    uint32_t mode;                /* (i) lock; type bits constant */
    uint32_t uid, gid;            /* (i) */
    uint32_t nlink;               /* (i) */
    uint64_t size;                /* (i) */
    uint64_t rdev;                /* (c) */
    struct linux_timespec atime, mtime, ctime; /* (i) */
    bool linkable;                /* (n) g_vfs_ns_lock: an O_TMPFILE file linkat may name */
};

/* Initialises the common part (count 1, times now). */
void inode_init(struct inode *inode, struct vfs_sb *sb, const struct inode_ops *ops,
                uint32_t mode);
void inode_get(struct inode *inode);
void inode_put(struct inode *inode);
static inline bool inode_is_dir(const struct inode *inode)
{
    return (inode->mode & VFS_S_IFMT) == VFS_S_IFDIR;
}
static inline bool inode_is_reg(const struct inode *inode)
{
    return (inode->mode & VFS_S_IFMT) == VFS_S_IFREG;
}
static inline bool inode_is_lnk(const struct inode *inode)
{
    return (inode->mode & VFS_S_IFMT) == VFS_S_IFLNK;
}
/* Permission check of CRED for MASK (VFS_MAY_*). 0 or -EACCES. */
int inode_permission(struct inode *inode, const struct cred *cred, int mask);
/* stat of INODE (ops->getattr or the fields). */
int vfs_getattr(struct inode *inode, struct linux_stat *st);
/* Before truncating INODE to LEN: growing it past the caller's
 * RLIMIT_FSIZE sends SIGXFSZ and fails with -EFBIG (Linux's
 * inode_newsize_ok). 0 or -errno. */
int vfs_truncate_check(struct inode *inode, uint64_t len);
/* Applies ATTR through ops->setattr or to the fields. */
int vfs_setattr(struct inode *inode, const struct vfs_attr *attr);
/* Applies ATTR to the fields of INODE; takes inode->lock. For setattr ops. */
void inode_apply_attr(struct inode *inode, const struct vfs_attr *attr);
/* Sets mtime and ctime (and atime if ATIME) to now. */
void inode_touch(struct inode *inode, bool atime);

struct dentry {
    int count;                    /* (d) g_dcache_lock; 0 = unused, on the LRU */
    char *name;                   /* (d) */
    struct dentry *parent;        /* (d) counted; NULL for a mount root */
    struct inode *inode;          /* (d) counted; NULL = negative */
    struct list_head children;    /* (d) cached children */
    struct list_head sibling;     /* (d) in parent->children if cached */
    struct list_head lru;         /* (d) on g_dentry_lru if count == 0 */
    int mounted;                  /* (d) mounts on this dentry */
    bool cached;                  /* (d) in parent->children */
    bool dead;                    /* (d) unlinked or replaced */
    bool notify_gone;             /* (d) fsnotify: DELETE_SELF when freed */
};

/* Per-mount flags (struct mount.flags), Linux's MNT_* set by mount(2). */
#define VFS_MNT_RDONLY      0x01
#define VFS_MNT_NOSUID      0x02
#define VFS_MNT_NODEV       0x04
#define VFS_MNT_NOEXEC      0x08
#define VFS_MNT_NOATIME     0x10
#define VFS_MNT_NODIRATIME  0x20
#define VFS_MNT_RELATIME    0x40
#define VFS_MNT_NOSYMFOLLOW 0x80
#define VFS_MNT_ATIME_MASK  (VFS_MNT_NOATIME | VFS_MNT_NODIRATIME | VFS_MNT_RELATIME)
#define VFS_MNT_USER_MASK   0xff

/* Propagation types (one mount namespace per sandbox: recorded and
 * reported; no peer receives events, see mount.c). */
enum vfs_mnt_prop { VFS_PROP_PRIVATE, VFS_PROP_SHARED, VFS_PROP_SLAVE, VFS_PROP_UNBINDABLE,
                    VFS_PROP_MAX };

struct mount {
    struct mount *parent;         /* (d) g_dcache_lock; NULL for the sandbox root */
    struct dentry *mountpoint;    /* (d) counted, in PARENT (changed by MS_MOVE, pivot_root) */
    struct dentry *root;          /* (c) counted */
    struct vfs_sb *sb;            /* (c) */
    struct list_head link;        /* (d) g_mounts, in mount order */
    bool attached;                /* (d) in the tree (false once unmounted) */
    bool detached_top;            /* (d) umount2 detached it from its parent */
    int id;                       /* (c) as /proc/PID/mountinfo numbers it */
    unsigned flags;               /* atomic; changed under g_vfs_ns_lock: VFS_MNT_* */
    int writers;                  /* atomic: open files that may write through it */
    int files;                    /* atomic: open files opened through it (umount: EBUSY) */
    int expiry_mark;              /* atomic: umount2(MNT_EXPIRE) marked it, unused since */
    enum vfs_mnt_prop prop;       /* (n) g_vfs_ns_lock */
    int group;                    /* (n) peer group id when shared (0: none) */
    const struct vfs_mount_info *info; /* (n) what /proc/PID/mounts shows; NULL: internal */
};

struct path {
    struct mount *mnt;
    struct dentry *dentry;
};

void dentry_get(struct dentry *d);
void dentry_put(struct dentry *d);
/* A root dentry for INODE (borrowed). NULL only for ENOMEM. */
struct dentry *dentry_new_root(struct inode *inode);
/* The inode of D with a new reference, or NULL for a negative dentry. */
struct inode *dentry_inode(struct dentry *d);
/* Whether writes through MNT are refused (the mount or its file system is
 * read-only). MNT NULL (anonymous files): false. */
bool mnt_is_readonly(const struct mount *mnt);
/* -EROFS if mnt_is_readonly(MNT), else 0 (Linux's mnt_want_write). */
int mnt_want_write(const struct mount *mnt);
static inline unsigned mnt_flags(const struct mount *mnt)
{
    return mnt ? __atomic_load_n(&mnt->flags, __ATOMIC_RELAXED) : 0;
}
void path_get(const struct path *p);
void path_put(struct path *p);
static inline bool path_equal(const struct path *a, const struct path *b)
{
    return a->mnt == b->mnt && a->dentry == b->dentry;
}
struct vfs_mount_info;
/* Mounts ROOT (borrowed: the mount takes a reference) at AT: a directory on
 * a directory, a non-directory on a non-directory (-ENOTDIR otherwise).
 * INFO (must live forever; NULL: not listed) describes it for
 * /proc/PID/mounts; FLAGS are its VFS_MNT_* flags. 0 or -errno. OUT_MNT may
 * be NULL. */
int vfs_mount(const struct path *at, struct vfs_sb *sb, struct dentry *root,
              const struct vfs_mount_info *info, unsigned flags, struct mount **out_mnt);
/* A new root mount (no parent) of ROOT. */
struct mount *vfs_mount_root(struct vfs_sb *sb, struct dentry *root,
                             const struct vfs_mount_info *info, unsigned flags);
/* The sandbox's root path, a new reference. */
void vfs_root_path(struct path *out);
/* Drops unused cached dentries (all of them if KEEP == 0). */
void dcache_shrink(size_t keep);

/* Open file descriptions. */
#define FMODE_READ       0x1
#define FMODE_WRITE      0x2
#define FMODE_PATH       0x4  /* O_PATH: no I/O */
#define FMODE_LSEEK      0x8  /* seekable; pread/pwrite allowed */
#define FMODE_ATOMIC_POS 0x10 /* pos_lock held across I/O */
#define FMODE_WRITER     0x20 /* counted in path.mnt->writers (dropped at release) */
#define FMODE_NOCTTY     0x40 /* opened with O_NOCTTY (a terminal's open sees it) */

struct poll_table;

struct file_ops {
    /* read and write only copy to or from BUF and never wait for another
     * task (regular files of tmpfs and hostfs): the syscall layer may pass
     * the kernel's view of app memory as BUF (mm_io_user), so data moves
     * with one copy. */
    bool direct_io;
    /* Reads up to N bytes at *POS into kernel BUF and advances *POS.
     * Bytes (0 at EOF) or -errno. Called with pos_lock held when
     * FMODE_ATOMIC_POS. */
    ssize_t (*read)(struct file *f, void *buf, size_t n, uint64_t *pos);
    /* Writes; honours O_APPEND in f->flags (sets *POS to the end first). */
    ssize_t (*write)(struct file *f, const void *buf, size_t n, uint64_t *pos);
    /* NULL: vfs_generic_llseek if FMODE_LSEEK, else -ESPIPE. */
    int64_t (*llseek)(struct file *f, int64_t off, int whence);
    /* CMD with ARG an app address; may copy app memory (no VFS lock held).
     * NULL: -ENOTTY. */
    long (*ioctl)(struct file *f, struct task *t, unsigned cmd, uint64_t arg);
    /* NULL: 0 (nothing to sync). */
    int (*fsync)(struct file *f);
    /* Current readiness (LPOLL* bits, kernel/vfs/poll.h); registers PT's
     * task on the object's wait queues with poll_wait() when PT is set.
     * Must not block. NULL: always ready (POLL_DEFAULT_MASK). */
    unsigned (*poll)(struct file *f, struct poll_table *pt);
    /* Name of a file without a path ("pipe:[12]"): length or -errno. */
    int (*dname)(struct file *f, char *buf, size_t size);
    /* Optional: sets up NEW (a fresh description with its own flags) on
     * the same object as OLD, for opening /proc/PID/fd/N of a file without
     * a path (pipes, host stdio). 0 or -errno. */
    int (*reopen)(struct file *old, struct file *new_file);
    /* Last put. */
    void (*release)(struct file *f);
    /* Optional, for MAP_SHARED mappings: the memory-file pages backing
     * [OFF, OFF+LEN) of the file (page aligned), reserved if needed (the
     * file's size does not change): *out_moff backs OFF and *out_len
     * (<= LEN) bytes follow contiguously there, each page with one new
     * memory-file reference for the caller (dropped with memfile_free()).
     * No lock held on entry. NULL: the data is not in the memory file.
     * 0 or -errno. */
    int (*mmap_backing)(struct file *f, uint64_t off, uint64_t len, uint64_t *out_moff,
                        uint64_t *out_len);
    /* Optional, for MAP_PRIVATE mappings (and read-only MAP_SHARED ones)
     * of a file whose data never changes while the sandbox runs (the
     * read-only rootfs): memory-file pages holding [OFF, OFF+LEN) of the
     * file (zero past its end), filled once and shared by every such
     * mapping; the caller maps them copy-on-write. Contract as
     * mmap_backing's. NULL or -ENODEV: the caller makes a private copy.
     * Without FILL the pages are handed out as they are: those not filled
     * yet read as zero until mmap_private_fill fills them. */
    int (*mmap_private_backing)(struct file *f, uint64_t off, uint64_t len, bool fill,
                                uint64_t *out_moff, uint64_t *out_len);
    /* With mmap_private_backing: fills the pages of [OFF, OFF+LEN) (page
     * aligned) of INODE's data not filled yet; MOFF is where the caller's
     * backing put OFF (its references keep them there). 0 or -errno (-EIO:
     * MOFF is not the file's). By inode, so that filling ahead after the
     * file is closed keeps no file open (its mount stays free to go). No
     * lock held on entry. */
    int (*mmap_private_fill)(struct inode *inode, uint64_t off, uint64_t len, uint64_t moff);
    /* With mmap_private_backing: 1 if the page at OFF is filled, 0 if not,
     * and [*out_lo, *out_hi), the longest run of pages in the same state
     * around it within [LO, HI) (page aligned, LO <= OFF < HI). Pages past
     * the file's end count as filled (zero). */
    int (*mmap_private_filled)(struct file *f, uint64_t off, uint64_t lo, uint64_t hi,
                               uint64_t *out_lo, uint64_t *out_hi);
    /* Optional, with mmap_private_backing: a host descriptor of the same
     * data, which the platform may map into the app instead of those pages
     * (platform map_file). Owned by the inode: valid while F is held. */
    int (*mmap_host_fd)(struct file *f);
    /* Optional: whether a MAP_SHARED mapping made now may ever be writable
     * (false: mprotect(PROT_WRITE) on it is EACCES, as a write-sealed
     * memfd's). NULL: as the open mode allows. No lock held on entry. */
    bool (*mmap_may_write)(struct file *f);
    /* fallocate(2) MODE (FALLOC_FL_* bits) over [OFF, OFF+LEN); the VFS
     * checked the arguments and that F is a writable regular file.
     * NULL: -EOPNOTSUPP. */
    int (*fallocate)(struct file *f, int mode, uint64_t off, uint64_t len);
    /* Optional: lines /proc/PID/fdinfo/N shows after the common ones, into
     * BUF (NUL-terminated, truncated at SIZE): the length they need. */
    size_t (*show_fdinfo)(struct file *f, char *buf, size_t size);
};

struct file {
    struct refcount ref;
    pthread_mutex_t pos_lock;
    pthread_mutex_t lock;
    struct path path;             /* (c) counted; mnt NULL for anonymous files */
    struct inode *inode;          /* (c) counted; the inode ops act on */
    unsigned flags;               /* (l) lock: O_ flags (access mode, O_APPEND…) */
    unsigned fmode;               /* (c) FMODE_* */
    uint64_t pos;                 /* (p) pos_lock */
    const struct file_ops *ops;   /* (c) */
    void *priv;                   /* (c) owner: ops */
    struct vfs_dirsnap *dir;      /* (p) directory listing snapshot */
    struct fasync *fasync;        /* (l) signal-driven I/O (ipc/fasync.c), or NULL */
};

/* A new file on INODE (borrowed) with PATH (borrowed, may be NULL) and
 * O_ flags; f->ops is left NULL for the caller to set. Count 1. */
struct file *file_alloc(struct inode *inode, const struct path *path, unsigned flags);
int64_t vfs_generic_llseek(struct file *f, int64_t off, int whence);
/* Called on every file's last put, before ops->release, with no lock held
 * (epoll sets it: a closed file leaves every epoll set). NULL: none. */
extern void (*g_file_release_hook)(struct file *f);
/* Likewise for files with signal-driven I/O state (ipc/fasync.c sets it). */
extern void (*g_file_fasync_release)(struct file *f);

/* Character devices: OPEN for major/minor, used by tmpfs/devfs nodes. */
int vfs_chrdev_open(struct inode *inode, struct file *f);

/* Serialises namespace changes and dcache misses. */
extern pthread_mutex_t g_vfs_ns_lock;

#endif
