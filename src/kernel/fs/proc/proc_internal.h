/*
 * Generated file systems (procfs, sysfs): shared by src/kernel/fs/procfs.c,
 * src/kernel/fs/proc/ *.c and src/kernel/fs/sysfs.c only.
 *
 * A tree is described by const tables of struct gen_entry. Directories list
 * static children and may add dynamic ones (pids, fds); regular files are
 * generated into a buffer when opened (and again on every read at offset
 * 0); symlinks are generated text; "magic" links resolve to the very object
 * (PID/exe, PID/fd/N) as Linux's do.
 *
 * Nothing here takes a lock of its own. Generators call into the task table
 * (g_tasks_lock), mm and fd tables, so they run with no VFS lock held except
 * file->pos_lock (the top of the VFS order).
 */
#ifndef MOAT_KERNEL_FS_PROC_PROC_INTERNAL_H
#define MOAT_KERNEL_FS_PROC_PROC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/fs/fs.h"
#include "kernel/vfs/vfs_fs.h"

/* A growable text buffer. On ENOMEM it stops growing and sets oom. */
struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_put(struct sbuf *b, const void *data, size_t n);
void sbuf_free(struct sbuf *b);

struct gen_inode;

struct gen_entry {
    const char *name;
    uint32_t mode;                      /* S_IF* | permission bits */
    /* Directories: static children, terminated by a NULL name. */
    const struct gen_entry *children;
    /* Directories: dynamic children after the static ones. lookup: 0 and
     * *out (new reference) or -ENOENT; list: calls gen_emit per child. */
    int (*lookup)(struct gen_inode *dir, const char *name, struct inode **out);
    int (*list)(struct gen_inode *dir, struct dir_emit *ctx);
    /* Regular files: the contents; symlinks: the target. 0 or -errno. */
    int (*show)(struct gen_inode *gi, struct sbuf *b);
    /* Magic links: the target (a new reference). 0 or -errno. */
    int (*get_link)(struct gen_inode *gi, struct path *out);
    /* Writable files: one write(2) of N bytes. Bytes taken or -errno. */
    ssize_t (*store)(struct gen_inode *gi, const char *buf, size_t n);
    /* Directories: the dynamic children's count to add to nlink. */
    unsigned extra_nlink;
};

struct gen_inode {
    struct inode base;
    const struct gen_entry *ent; /* (c) NULL for an anonymous file */
    int pid;                     /* (c) process of a /proc/PID subtree, else 0 */
    int tid;                     /* (c) thread of /proc/PID/task/TID, else 0 */
    int fd;                      /* (c) fd of PID/fd/N and fdinfo/N, else -1 */
    struct file *file;           /* (c) counted: the file an anonymous inode reopens */
};

static inline struct gen_inode *GI(struct inode *i)
{
    return container_of(i, struct gen_inode, base);
}

/* A new inode of entry E in SB with number INO; PID/TID/FD as above; owned
 * by UID:GID. NULL only for ENOMEM. */
struct gen_inode *gen_inode_new(struct vfs_sb *sb, const struct gen_entry *e, uint64_t ino,
                                int pid, int tid, int fd, uint32_t uid, uint32_t gid);
/* The child E of directory DIR (inherits pid, tid, fd and owner). */
struct gen_inode *gen_child_new(struct gen_inode *dir, const struct gen_entry *e, int fd);
/* The stable inode number of NAME in directory DIR. */
uint64_t gen_ino(const struct gen_inode *dir, const char *name);
/* Emits NAME of type MODE in DIR to a readdir context. */
int gen_emit(struct gen_inode *dir, struct dir_emit *ctx, const char *name, uint32_t mode);
/* Parses a canonical decimal (no sign, no leading 0) up to INT_MAX, or -1. */
int gen_parse_num(const char *s);

/* procfs parts. */
extern const struct gen_entry g_proc_pid_entry;  /* /proc/PID */
extern const struct gen_entry g_proc_root_children[]; /* meminfo, sys/, … (proc/sys.c) */
extern const struct gen_entry g_proc_net_children[];  /* PID/net: dev, tcp, unix … (proc/net.c) */
int proc_pid_lookup(struct gen_inode *dir, const char *name, struct inode **out);
int proc_pid_list(struct gen_inode *dir, struct dir_emit *ctx);
/* PID of the calling task's process, or 0. */
int proc_self_pid(void);
int proc_self_tid(void);
/* An anonymous inode for F (borrowed) reached through a magic link: a
 * private dentry on the proc mount whose open reopens F. */
int proc_anon_path(struct file *f, struct path *out);

/* /proc/mounts and /proc/PID/mountinfo lines of the sandbox's mounts. */
int proc_show_mounts(struct sbuf *b);
int proc_show_mountinfo(struct sbuf *b);

/* Calls FN for every live process with its pid (no lock held while FN runs);
 * stops at FN's first nonzero return, which it returns. */
int proc_for_each_pid(int (*fn)(int pid, void *arg), void *arg);

/* The ops every generated inode uses (magic links get their own). */
extern const struct inode_ops g_gen_iops;
extern const struct inode_ops g_gen_link_iops;

/* /proc/sysvipc, /proc/sys/fs/mqueue and the IPC tunables of
 * /proc/sys/kernel (proc/sysvipc.c). */
extern const struct gen_entry g_proc_sysvipc_children[];
extern const struct gen_entry g_proc_sys_fs_mqueue[];
#define PROC_IPC_TUNABLE(name)                                                                     \
    int proc_ipc_show_##name(struct gen_inode *gi, struct sbuf *b);                               \
    ssize_t proc_ipc_store_##name(struct gen_inode *gi, const char *buf, size_t n);
PROC_IPC_TUNABLE(msgmax)
PROC_IPC_TUNABLE(msgmnb)
PROC_IPC_TUNABLE(msgmni)
PROC_IPC_TUNABLE(sem_limits)
PROC_IPC_TUNABLE(shmall)
PROC_IPC_TUNABLE(shmmax)
PROC_IPC_TUNABLE(shmmni)
PROC_IPC_TUNABLE(mq_queues_max)
PROC_IPC_TUNABLE(mq_msg_max)
PROC_IPC_TUNABLE(mq_msgsize_max)
PROC_IPC_TUNABLE(mq_msg_default)
PROC_IPC_TUNABLE(mq_msgsize_default)
#define PROC_IPC_ENTRY(name_, fn_)                                                                 \
    {.name = name_, .mode = VFS_S_IFREG | 0644, .show = proc_ipc_show_##fn_,                      \
     .store = proc_ipc_store_##fn_}

/* sysfs: host CPU count as the sandbox shows it. */
int gen_nr_cpus(void);

#endif
