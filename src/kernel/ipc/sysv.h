/*
 * SysV IPC (shared memory, semaphores, message queues) and POSIX message
 * queues: the sandbox's IPC namespace. Each sandbox is its own kernel
 * process, so the namespace is this process's global state; there is one
 * per sandbox and nothing is shared with the host's.
 *
 * Objects are found by key (shmget/semget/msgget) or by id, as Linux
 * numbers them: id = seq * 32768 + index, indexes handed out cyclically.
 *
 * Lock order: each kind has one lock (g_shm_lock, g_sem_lock, g_msg_lock,
 * the mqueue lock), taken before any wait queue lock; none is held across a
 * copy to or from app memory, a sleep or an mm call.
 */
#ifndef MOAT_KERNEL_IPC_SYSV_H
#define MOAT_KERNEL_IPC_SYSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/linux/ipc.h"

struct cred;
struct task;
struct thread_group;

#define IPC_MNI       32768 /* indexes per kind (Linux IPCMNI) */
#define IPC_SEQ_SHIFT 15

/* What every object starts with (Linux's kern_ipc_perm). */
struct ipc_obj {
    int id;                 /* (c) */
    int32_t key;            /* (k) kind lock; IPC_PRIVATE once a segment is marked destroyed */
    uint32_t uid, gid;      /* (k) owner, set by IPC_SET */
    uint32_t cuid, cgid;    /* (c) creator */
    uint32_t mode;          /* (k) permission bits plus SHM_DEST/SHM_LOCKED */
    uint16_t seq;           /* (c) */
    bool deleted;           /* (k) removed from its table */
};

/* One kind's table. All fields (k) the kind's lock. */
struct ipc_ids {
    struct ipc_obj **slot;  /* by index, NULL when free */
    int nslots;
    int in_use;
    int last_idx;           /* last index handed out (-1: none yet) */
    int seq;
};

/* Tunables of the namespace (/proc/sys/kernel), Linux's defaults. Read and
 * written with atomic word accesses. */
struct ipc_limits {
    uint64_t shmmax, shmall, shmmni;
    int32_t semmsl, semmns, semopm, semmni;
    int32_t msgmax, msgmnb, msgmni;
    /* POSIX message queues (/proc/sys/fs/mqueue) */
    int32_t mq_queues_max, mq_msg_max, mq_msgsize_max, mq_msg_default, mq_msgsize_default;
};
extern struct ipc_limits g_ipc_limits;

/* Gives O an index and id in IDS, at most MAX objects in use: 0 or -ENOSPC. */
int ipc_ids_add(struct ipc_ids *ids, struct ipc_obj *o, int max);
void ipc_ids_remove(struct ipc_ids *ids, struct ipc_obj *o);
/* The object with KEY (not IPC_PRIVATE), or NULL. */
struct ipc_obj *ipc_ids_find_key(struct ipc_ids *ids, int32_t key);
/* The object with ID, or NULL (Linux's EINVAL). */
struct ipc_obj *ipc_ids_find_id(struct ipc_ids *ids, int id);
/* The object at index IDX (the *_STAT commands), or NULL. */
struct ipc_obj *ipc_ids_at(struct ipc_ids *ids, int idx);
/* The highest index in use, or -1. */
int ipc_ids_max_idx(struct ipc_ids *ids);

/* ipcperms(): whether CRED may access O for the rwx bits of FLAG (the
 * requested S_IRUGO/S_IWUGO pattern). 0 or -EACCES. Root passes. */
int ipc_check_perms(const struct cred *cred, const struct ipc_obj *o, int flag);
/* IPC_SET / IPC_RMID rights: owner, creator or root. */
bool ipc_may_control(const struct cred *cred, const struct ipc_obj *o);
/* Fills the ipc64_perm of O. */
void ipc_fill_perm(const struct ipc_obj *o, struct linux_ipc64_perm *out);
/* Applies IPC_SET's uid, gid and permission bits to O. */
void ipc_set_perm(struct ipc_obj *o, const struct linux_ipc64_perm *in);
/* Sets a new object's key, owner and creator (CRED's euid/egid) and the
 * permission bits of FLAGS. */
void ipc_obj_init(struct ipc_obj *o, const struct cred *cred, int32_t key, int flags);
/* *get() on an existing object O: -EEXIST for IPC_CREAT|IPC_EXCL, -EINVAL
 * when !FITS (smaller than asked), the permission check of FLAGS, else
 * O's id. */
long ipc_get_existing(const struct cred *cred, const struct ipc_obj *o, int flags, bool fits);
/* The *_STAT lookup (the kind's lock held). BY_ID (IPC_STAT): ID is an id
 * and the result 0; else (SHM_STAT, SEM_STAT, MSG_STAT and their _ANY) ID
 * is an index and the result the object's id. Read permission is checked
 * unless ANY. Sets *OUT; negative errno (-EINVAL: none) on failure. */
long ipc_stat_lookup(struct ipc_ids *ids, const struct cred *cred, int id, bool by_id, bool any,
                     struct ipc_obj **out);
/* The IPC_SET / IPC_RMID lookup (the kind's lock held): the object with
 * ID that CRED may control, or NULL with *ERR -EINVAL (none) or -EPERM. */
struct ipc_obj *ipc_ctl_lookup(struct ipc_ids *ids, const struct cred *cred, int id, long *err);
/* Seconds since the epoch (the *_time fields). */
int64_t ipc_now(void);

/* ---- shared memory (sysv_shm.c) ---- */
long shm_get(struct task *t, int32_t key, uint64_t size, int flags);
long shm_at(struct task *t, int id, uint64_t addr, int flags);
long shm_dt(struct task *t, uint64_t addr);
long shm_ctl(struct task *t, int id, int cmd, uint64_t buf);

/* ---- semaphores (sysv_sem.c) ---- */
long sem_get(struct task *t, int32_t key, int nsems, int flags);
/* semop/semtimedop: OPS[N] already copied in; TIMEOUT_NS relative, or -1. */
long sem_op(struct task *t, int id, struct linux_sembuf *ops, size_t n, int64_t timeout_ns);
long sem_ctl(struct task *t, int id, int num, int cmd, uint64_t arg);
/* Applies and frees TG's SEM_UNDO adjustments; called once when the last
 * thread of TG exits, before its parent is told. */
void sem_exit(struct thread_group *tg);

/* ---- message queues (sysv_msg.c) ---- */
long msg_get(struct task *t, int32_t key, int flags);
long msg_snd(struct task *t, int id, uint64_t msgp, uint64_t size, int flags);
long msg_rcv(struct task *t, int id, uint64_t msgp, uint64_t size, int64_t type, int flags);
long msg_ctl(struct task *t, int id, int cmd, uint64_t buf);

/* ---- /proc (sysv_proc.c formats through these) ---- */
struct ipc_sbuf_fn {
    void (*printf)(void *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void *b;
};
void shm_proc_show(const struct ipc_sbuf_fn *out);
void sem_proc_show(const struct ipc_sbuf_fn *out);
void msg_proc_show(const struct ipc_sbuf_fn *out);

#endif
