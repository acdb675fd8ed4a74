/*
 * Advisory file locks: flock(2), POSIX record locks (fcntl F_SETLK,
 * F_SETLKW, F_GETLK) and open-file-description locks (F_OFD_*).
 *
 * Locks hang off the inode a file's name resolves to (the overlay inode for
 * the root file system, so copy-up does not lose them), in a small hash
 * table keyed by inode. Owners, as in Linux:
 *   flock  the open file description; released on its last close
 *   OFD    the open file description; released on its last close
 *   POSIX  the fd table (the process); all of a process's locks on an inode
 *          go when it closes any fd on that inode, and at exit
 * flock locks only conflict with flock locks; POSIX and OFD locks share one
 * byte-range space. Blocked POSIX waiters are checked for deadlock cycles
 * (-EDEADLK). Waiting is interruptible (-ERESTARTSYS).
 *
 * Lock order: g_locks_lock, then waitq locks. No other lock is held while
 * g_locks_lock is (inodes are resolved before taking it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/errno.h"
#include "kernel/task/task.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/vfs_internal.h"
#include "kernel/vfs/vfs_lock.h"

#define LOCK_BUCKETS 64
#define RANGE_MAX    UINT64_MAX /* "to the end of the file, and beyond" */
#define DEADLOCK_MAX_DEPTH 64

enum lock_kind { LK_FLOCK, LK_POSIX, LK_OFD, LK_KIND_MAX };

struct file_lock {
    struct list_head link; /* (g) in inode_locks.locks */
    enum lock_kind kind;
    int type;              /* F_RDLCK or F_WRLCK */
    const void *owner;     /* fdtable (POSIX) or file (flock, OFD) */
    int pid;               /* reported by F_GETLK: the owner's pid, -1 for OFD */
    uint64_t start, end;   /* inclusive byte range */
};

struct inode_locks {
    struct list_head link;  /* (g) in a bucket */
    struct inode *inode;    /* (c) counted */
    struct list_head locks; /* (g) of struct file_lock */
    struct waitq wq;        /* waiters for any change */
    int waiters;            /* (g) tasks sleeping on WQ */
};

/* A blocked POSIX waiter, for deadlock detection. */
struct lock_waiter {
    struct list_head link; /* (g) in g_blocked */
    const void *owner;
    const void *blocker;
};

static pthread_mutex_t g_locks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_buckets[LOCK_BUCKETS]; /* (g) */
static struct list_head g_blocked = LIST_HEAD_INIT(g_blocked); /* (g) */
static pthread_once_t g_locks_once = PTHREAD_ONCE_INIT;
static int g_nr_inodes; /* atomic: inode_locks in the table (fast path) */

static void locks_init(void)
{
    for (int i = 0; i < LOCK_BUCKETS; i++)
        list_init(&g_buckets[i]);
}

static struct list_head *bucket(const struct inode *inode)
{
    uintptr_t h = (uintptr_t)inode;
    h ^= h >> 9;
    return &g_buckets[(h >> 4) % LOCK_BUCKETS];
}

/* The inode locks go on: the name's (overlay) inode if F has a name. New
 * reference. */
static struct inode *lock_inode(struct file *f)
{
    struct inode *inode = f->path.dentry ? dentry_inode(f->path.dentry) : NULL;
    if (!inode) {
        inode = f->inode;
        inode_get(inode);
    }
    return inode;
}

static struct inode_locks *find_locked(struct inode *inode)
{
    struct inode_locks *il;
    list_for_each_entry(il, bucket(inode), link)
    {
        if (il->inode == inode)
            return il;
    }
    return NULL;
}

static struct inode_locks *get_locked(struct inode *inode)
{
    struct inode_locks *il = find_locked(inode);
    if (il)
        return il;
    il = calloc(1, sizeof(*il));
    if (!il)
        return NULL;
    inode_get(inode);
    il->inode = inode;
    list_init(&il->locks);
    waitq_init(&il->wq);
    list_add_tail(&il->link, bucket(inode));
    __atomic_add_fetch(&g_nr_inodes, 1, __ATOMIC_RELAXED);
    return il;
}

/* Frees IL if it holds no lock and no one waits; returns the inode to put
 * (after dropping g_locks_lock) or NULL. */
static struct inode *maybe_free_locked(struct inode_locks *il)
{
    if (!list_empty(&il->locks) || il->waiters)
        return NULL;
    list_del(&il->link);
    __atomic_sub_fetch(&g_nr_inodes, 1, __ATOMIC_RELAXED);
    struct inode *inode = il->inode;
    free(il);
    return inode;
}

static bool ranges_overlap(const struct file_lock *a, uint64_t start, uint64_t end)
{
    return a->start <= end && start <= a->end;
}

static bool same_owner(const struct file_lock *l, enum lock_kind kind, const void *owner)
{
    /* POSIX and OFD owners are different kinds of objects, so pointer
     * equality is enough between them. */
    return l->owner == owner && (l->kind == LK_FLOCK) == (kind == LK_FLOCK);
}

/* The first lock of another owner conflicting with a TYPE lock over
 * [START, END], or NULL. */
static struct file_lock *conflict_locked(struct inode_locks *il, enum lock_kind kind,
                                         const void *owner, int type, uint64_t start,
                                         uint64_t end)
{
    struct file_lock *l;
    list_for_each_entry(l, &il->locks, link)
    {
        if ((l->kind == LK_FLOCK) != (kind == LK_FLOCK))
            continue;
        if (same_owner(l, kind, owner))
            continue;
        if (type != F_WRLCK && l->type != F_WRLCK)
            continue;
        if (kind != LK_FLOCK && !ranges_overlap(l, start, end))
            continue;
        return l;
    }
    return NULL;
}

/* Whether OWNER waiting for BLOCKER closes a cycle of blocked POSIX
 * owners. */
static bool would_deadlock_locked(const void *owner, const void *blocker)
{
    for (int depth = 0; depth < DEADLOCK_MAX_DEPTH; depth++) {
        if (blocker == owner)
            return true;
        struct lock_waiter *w;
        const void *next = NULL;
        list_for_each_entry(w, &g_blocked, link)
        {
            if (w->owner == blocker) {
                next = w->blocker;
                break;
            }
        }
        if (!next)
            return false;
        blocker = next;
    }
    return false;
}

static struct file_lock *lock_new(enum lock_kind kind, int type, const void *owner, int pid,
                                  uint64_t start, uint64_t end)
{
    struct file_lock *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->kind = kind;
    l->type = type;
    l->owner = owner;
    l->pid = pid;
    l->start = start;
    l->end = end;
    return l;
}

/* Removes OWNER's range locks over [START, END], splitting those that
 * stick out. SPARE is a preallocated lock used for a split in the middle
 * (set to NULL when used). */
static void carve_locked(struct inode_locks *il, enum lock_kind kind, const void *owner,
                         uint64_t start, uint64_t end, struct file_lock **spare)
{
    struct file_lock *l, *n;
    list_for_each_entry_safe(l, n, &il->locks, link)
    {
        if (l->kind != kind || l->owner != owner || !ranges_overlap(l, start, end))
            continue;
        bool left = l->start < start, right = l->end > end;
        if (left && right) {
            struct file_lock *r = *spare;
            *spare = NULL;
            *r = *l;
            r->start = end + 1;
            list_add(&r->link, &l->link);
            l->end = start - 1;
        } else if (left) {
            l->end = start - 1;
        } else if (right) {
            l->start = end + 1;
        } else {
            list_del(&l->link);
            free(l);
        }
    }
}

/* Merges OWNER's lock NL with its same-type neighbours. */
static void merge_locked(struct inode_locks *il, struct file_lock *nl)
{
    struct file_lock *l, *n;
    list_for_each_entry_safe(l, n, &il->locks, link)
    {
        if (l == nl || l->kind != nl->kind || l->owner != nl->owner || l->type != nl->type)
            continue;
        bool touch = (l->end != RANGE_MAX && l->end + 1 == nl->start) ||
                     (nl->end != RANGE_MAX && nl->end + 1 == l->start);
        if (!touch)
            continue;
        nl->start = MIN(nl->start, l->start);
        nl->end = MAX(nl->end, l->end);
        list_del(&l->link);
        free(l);
    }
}

/* Sleeps on IL's queue (g_locks_lock held on entry and exit). 0 or
 * -ERESTARTSYS. */
static int wait_locked(struct inode_locks *il, const void *owner, const void *blocker,
                       bool posix)
{
    struct task *t = task_current();
    struct lock_waiter lw = {.owner = owner, .blocker = blocker};
    struct waiter w;
    uint32_t seq = task_wake_seq(t);
    waitq_add(&il->wq, &w, t);
    if (posix)
        list_add_tail(&lw.link, &g_blocked);
    il->waiters++;
    pthread_mutex_unlock(&g_locks_lock);
    int r = task_sleep(t, seq, 0);
    pthread_mutex_lock(&g_locks_lock);
    il->waiters--;
    if (posix)
        list_del(&lw.link);
    waitq_del(&il->wq, &w);
    return r == -EINTR ? -ERESTARTSYS : 0;
}

/* Sets (or with F_UNLCK clears) a lock. */
static int set_lock(struct inode *inode, enum lock_kind kind, const void *owner, int pid,
                    int type, uint64_t start, uint64_t end, bool wait)
{
    pthread_once(&g_locks_once, locks_init);
    struct file_lock *nl = NULL, *spare = NULL;
    if (type != F_UNLCK) {
        nl = lock_new(kind, type, owner, pid, start, end);
        if (!nl)
            return -ENOMEM;
    }
    if (kind != LK_FLOCK) {
        spare = lock_new(kind, type, owner, pid, start, end);
        if (!spare) {
            free(nl);
            return -ENOMEM;
        }
    }
    int r = 0;
    struct inode *put = NULL;
    pthread_mutex_lock(&g_locks_lock);
    struct inode_locks *il = type == F_UNLCK ? find_locked(inode) : get_locked(inode);
    if (!il) {
        r = type == F_UNLCK ? 0 : -ENOMEM;
        goto out_unlock;
    }
    if (type == F_UNLCK) {
        if (kind == LK_FLOCK)
            carve_locked(il, kind, owner, 0, RANGE_MAX, &spare);
        else
            carve_locked(il, kind, owner, start, end, &spare);
        waitq_wake_all(&il->wq);
        put = maybe_free_locked(il);
        goto out_unlock;
    }
    bool dropped = false;
    for (;;) {
        struct file_lock *c = conflict_locked(il, kind, owner, type, start, end);
        if (!c)
            break;
        if (!wait) {
            r = -EAGAIN;
            break;
        }
        if (kind == LK_FLOCK && !dropped) {
            /* Converting a flock lock drops the old one first (Linux does
             * the same, so others can get in meanwhile). */
            carve_locked(il, kind, owner, 0, RANGE_MAX, &spare);
            waitq_wake_all(&il->wq);
            dropped = true;
        }
        if (kind == LK_POSIX && c->kind == LK_POSIX && would_deadlock_locked(owner, c->owner)) {
            r = -EDEADLK;
            break;
        }
        r = wait_locked(il, owner, c->owner, kind == LK_POSIX);
        if (r < 0)
            break;
    }
    if (r == 0) {
        /* Replace what OWNER had over the range (an upgrade, downgrade or
         * merge), then insert. */
        if (kind == LK_FLOCK)
            carve_locked(il, kind, owner, 0, RANGE_MAX, &spare);
        else
            carve_locked(il, kind, owner, start, end, &spare);
        list_add_tail(&nl->link, &il->locks);
        if (kind != LK_FLOCK)
            merge_locked(il, nl);
        nl = NULL;
        waitq_wake_all(&il->wq); /* a downgrade may let readers in */
    } else {
        put = maybe_free_locked(il);
    }
out_unlock:
    pthread_mutex_unlock(&g_locks_lock);
    inode_put(put);
    free(nl);
    free(spare);
    return r;
}

int vfs_flock(struct file *f, int op)
{
    if (f->fmode & FMODE_PATH)
        return -EBADF;
    bool nb = op & VFS_LOCK_NB;
    int type;
    switch (op & ~VFS_LOCK_NB) {
    case VFS_LOCK_SH:
        type = F_RDLCK;
        break;
    case VFS_LOCK_EX:
        type = F_WRLCK;
        break;
    case VFS_LOCK_UN:
        type = F_UNLCK;
        break;
    default:
        return -EINVAL;
    }
    struct inode *inode = lock_inode(f);
    int r = set_lock(inode, LK_FLOCK, f, -1, type, 0, RANGE_MAX, !nb);
    inode_put(inode);
    return r == -EAGAIN ? -EWOULDBLOCK : r;
}

/* [start, end] of FL for F, or -EINVAL / -EOVERFLOW. */
static int flock_range(struct file *f, const struct linux_flock *fl, uint64_t *out_start,
                       uint64_t *out_end)
{
    int64_t base;
    switch (fl->l_whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        if (f->fmode & FMODE_ATOMIC_POS)
            pthread_mutex_lock(&f->pos_lock);
        base = (int64_t)f->pos;
        if (f->fmode & FMODE_ATOMIC_POS)
            pthread_mutex_unlock(&f->pos_lock);
        break;
    case SEEK_END: {
        struct linux_stat st;
        int r = vfs_fstat(f, &st);
        if (r < 0)
            return r;
        base = st.st_size;
        break;
    }
    default:
        return -EINVAL;
    }
    int64_t start;
    if (__builtin_add_overflow(base, fl->l_start, &start))
        return -EOVERFLOW;
    if (start < 0)
        return -EINVAL;
    if (fl->l_len > 0) {
        int64_t end;
        if (__builtin_add_overflow(start, fl->l_len - 1, &end))
            return -EOVERFLOW;
        *out_start = (uint64_t)start;
        *out_end = (uint64_t)end;
    } else if (fl->l_len < 0) {
        int64_t s2;
        if (__builtin_add_overflow(start, fl->l_len, &s2) || s2 < 0)
            return -EINVAL;
        *out_start = (uint64_t)s2;
        *out_end = (uint64_t)start - 1;
    } else {
        *out_start = (uint64_t)start;
        *out_end = RANGE_MAX;
    }
    return 0;
}

int vfs_posix_lock(struct file *f, const void *owner, int pid, int cmd, struct linux_flock *fl)
{
    if (f->fmode & FMODE_PATH)
        return -EBADF;
    bool ofd = cmd == VFS_F_OFD_GETLK || cmd == VFS_F_OFD_SETLK || cmd == VFS_F_OFD_SETLKW;
    bool get = cmd == F_GETLK || cmd == VFS_F_OFD_GETLK;
    bool wait = cmd == F_SETLKW || cmd == VFS_F_OFD_SETLKW;
    if (ofd && fl->l_pid != 0)
        return -EINVAL;
    if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK && fl->l_type != F_UNLCK)
        return -EINVAL;
    uint64_t start, end;
    int r = flock_range(f, fl, &start, &end);
    if (r < 0)
        return r;
    enum lock_kind kind = ofd ? LK_OFD : LK_POSIX;
    const void *own = ofd ? (const void *)f : owner;
    if (get) {
        if (fl->l_type == F_UNLCK)
            return -EINVAL;
        pthread_once(&g_locks_once, locks_init);
        struct inode *inode = lock_inode(f);
        pthread_mutex_lock(&g_locks_lock);
        struct inode_locks *il = find_locked(inode);
        struct file_lock *c =
                il ? conflict_locked(il, kind, own, fl->l_type, start, end) : NULL;
        if (c) {
            fl->l_type = (int16_t)c->type;
            fl->l_whence = SEEK_SET;
            fl->l_start = (int64_t)c->start;
            fl->l_len = c->end == RANGE_MAX ? 0 : (int64_t)(c->end - c->start + 1);
            fl->l_pid = c->kind == LK_OFD ? -1 : c->pid;
        } else {
            fl->l_type = F_UNLCK;
        }
        pthread_mutex_unlock(&g_locks_lock);
        inode_put(inode);
        return 0;
    }
    if (fl->l_type == F_RDLCK && !(f->fmode & FMODE_READ))
        return -EBADF;
    if (fl->l_type == F_WRLCK && !(f->fmode & FMODE_WRITE))
        return -EBADF;
    struct inode *inode = lock_inode(f);
    r = set_lock(inode, kind, own, ofd ? -1 : pid, fl->l_type, start, end, wait);
    inode_put(inode);
    return r;
}

/* Drops every lock of KIND (LK_KIND_MAX: flock and OFD) owned by OWNER on
 * INODE. */
static void release_owner(struct inode *inode, enum lock_kind kind, const void *owner)
{
    struct inode *put = NULL;
    pthread_mutex_lock(&g_locks_lock);
    struct inode_locks *il = find_locked(inode);
    if (il) {
        bool changed = false;
        struct file_lock *l, *n;
        list_for_each_entry_safe(l, n, &il->locks, link)
        {
            bool match = kind == LK_KIND_MAX ? l->kind != LK_POSIX : l->kind == kind;
            if (match && l->owner == owner) {
                list_del(&l->link);
                free(l);
                changed = true;
            }
        }
        if (changed)
            waitq_wake_all(&il->wq);
        put = maybe_free_locked(il);
    }
    pthread_mutex_unlock(&g_locks_lock);
    inode_put(put);
}

void vfs_locks_close(struct file *f, const void *owner)
{
    if (__atomic_load_n(&g_nr_inodes, __ATOMIC_RELAXED) == 0 || (f->fmode & FMODE_PATH))
        return;
    struct inode *inode = lock_inode(f);
    release_owner(inode, LK_POSIX, owner);
    inode_put(inode);
}

void vfs_locks_release_file(struct file *f)
{
    if (__atomic_load_n(&g_nr_inodes, __ATOMIC_RELAXED) == 0 || (f->fmode & FMODE_PATH))
        return;
    struct inode *inode = lock_inode(f);
    release_owner(inode, LK_KIND_MAX, f);
    inode_put(inode);
}
