/*
 * Fakes for what the VFS uses outside vfs_src/fs_src, so the VFS and its
 * file systems link without a platform: the unit tests (test_vfs.c) and the
 * path-walk fuzz target (tests/fuzz/libfuzzer/fuzz_path_walk.c) share them.
 * g_task (thread 1 of g_tg, pid 1) is the only task.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kernel/host/host.h"
#include "kernel/fs/fs.h"
#include "kernel/host/host_io.h"
#include "kernel/ipc/mqueue.h"
#include "kernel/ipc/sysv.h"
#include "kernel/mm/mm.h"
#include "kernel/net/inet.h"
#include "kernel/net/rtnl.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/task/uts.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "vfs_fakes.h"

struct task g_task;
struct thread_group g_tg;

struct task *task_current(void)
{
    return &g_task;
}

/* No task runs here: no RLIMIT_FSIZE applies. */
int task_fsize_write_check(uint64_t pos, size_t *n)
{
    (void)pos;
    (void)n;
    return 0;
}

int task_fsize_grow_check(uint64_t size)
{
    (void)size;
    return 0;
}

struct thread_group *task_lookup_tg(int pid)
{
    return pid == g_tg.pid ? &g_tg : NULL;
}

void tg_get(struct thread_group *tg)
{
}

void tg_put(struct thread_group *tg)
{
}

int mm_copy_in(struct mm *mm, void *dst, uint64_t src, size_t n)
{
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return 0;
}

int mm_copy_out(struct mm *mm, uint64_t dst, const void *src, size_t n)
{
    memcpy((void *)(uintptr_t)dst, src, n);
    return 0;
}

long mm_strncpy_in(struct mm *mm, char *dst, uint64_t src, size_t max)
{
    size_t n = strnlen((const char *)(uintptr_t)src, max);
    if (n == max)
        return -ENAMETOOLONG;
    memcpy(dst, (const char *)(uintptr_t)src, n + 1);
    return (long)n;
}

/* The process table: g_tg is the only process; its thread g_task owns the
 * files and fs_struct; there is no address space. */
void task_for_each_tg(void (*fn)(struct thread_group *tg, void *arg), void *arg)
{
    fn(&g_tg, arg);
}

struct mm *tg_get_mm(struct thread_group *tg)
{
    return NULL;
}

struct fdtable *tg_get_files(struct thread_group *tg)
{
    if (tg != &g_tg || !g_task.files)
        return NULL;
    fdtable_get(g_task.files);
    return g_task.files;
}

struct fs_struct *tg_get_fs(struct thread_group *tg)
{
    if (tg != &g_tg || !g_task.fs)
        return NULL;
    fs_struct_get(g_task.fs);
    return g_task.fs;
}

bool task_pgrp_orphaned_locked(int pgrp, const struct thread_group *ignore)
{
    return false;
}

struct group_info *tg_groups(struct thread_group *tg)
{
    return NULL;
}

void tg_info(struct thread_group *tg, struct tg_info *out)
{
    memset(out, 0, sizeof(*out));
    out->state = 'S';
    out->pgid = out->sid = tg->pid;
    out->nr_threads = 1;
    memcpy(out->comm, g_task.comm, sizeof(out->comm));
    out->cred = g_task.cred;
    out->sigmask = g_task.sigmask;
}

void mm_put(struct mm *mm)
{
}

size_t mm_format_maps(struct mm *mm, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    return 0;
}

uint64_t mm_locked_bytes(struct mm *mm)
{
    return 0;
}

size_t mm_format_smaps(struct mm *mm, char *buf, size_t size)
{
    return mm_format_maps(mm, buf, size);
}

int mm_mincore(struct mm *mm, uint64_t addr, uint64_t len, uint8_t *vec)
{
    return -ENOMEM;
}

void host_meminfo(uint64_t *out_total, uint64_t *out_free)
{
    *out_total = 8ULL << 30;
    *out_free = 4ULL << 30;
}

int host_nr_cpus(void)
{
    return 4;
}

uint64_t host_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int host_nanosleep(int64_t sec, int64_t nsec)
{
    struct timespec ts = {sec, nsec};
    nanosleep(&ts, NULL);
    return 0;
}

/* Waiting: the unit tests never block, so queues only keep their lists. */
void waitq_init(struct waitq *wq)
{
    pthread_mutex_init(&wq->lock, NULL);
    list_init(&wq->waiters);
}

void waitq_add(struct waitq *wq, struct waiter *w, struct task *t)
{
    w->task = t;
    list_add_tail(&w->link, &wq->waiters);
}

void waitq_del(struct waitq *wq, struct waiter *w)
{
    list_del(&w->link);
}

void waitq_wake_all(struct waitq *wq)
{
}

uint32_t task_wake_seq(struct task *t)
{
    return 0;
}

int task_sleep(struct task *t, uint32_t seq, uint64_t deadline_ns)
{
    return -EINTR;
}

/* FIFOs need the pipe code (not linked here). */
int pipe_open_fifo(struct inode *inode, struct file *f);
int pipe_open_fifo(struct inode *inode, struct file *f)
{
    return -ENXIO;
}

/* devpts signals process groups through the task table (none here). */
pthread_mutex_t g_tasks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_no_tgs = LIST_HEAD_INIT(g_no_tgs);
struct list_head *task_all_tgs(void)
{
    return &g_no_tgs;
}

int signal_send_tg_locked(struct thread_group *tg, int sig, const struct linux_siginfo *info,
                          bool from_outside)
{
    return 0;
}

/* /proc/net reads the network view and the socket tables (none here). */
int rtnl_dump(int get_type, int family, struct rtnl_dump *out)
{
    out->msgs = NULL;
    out->n = 0;
    return 0;
}

void rtnl_dump_free(struct rtnl_dump *d)
{
}

const void *rtnl_attr(const struct rtnl_msg *m, int type, size_t *out_len)
{
    return NULL;
}

void inet_for_each(int family, int type, void (*fn)(const struct sock_info *si, void *arg),
                   void *arg)
{
}

void unix_for_each(void (*fn)(const struct sock_info *si, void *arg), void *arg)
{
}

int signal_send_task_locked(struct task *t, int sig, const struct linux_siginfo *info)
{
    return 0;
}

void uts_get(char *hostname, char *domainname)
{
    if (hostname)
        strcpy(hostname, "unit");
    if (domainname)
        strcpy(domainname, "(none)");
}

/* /proc/sysvipc and the IPC tunables (proc/sysvipc.c) read the IPC
 * namespace, which is not linked here: an empty one. */
struct ipc_limits g_ipc_limits;
void shm_proc_show(const struct ipc_sbuf_fn *out)
{
}
void sem_proc_show(const struct ipc_sbuf_fn *out)
{
}
void msg_proc_show(const struct ipc_sbuf_fn *out)
{
}
/* vfs_init mounts the mqueue file system on /dev/mqueue: a directory. */
int mqueue_root(struct vfs_sb **out_sb, struct inode **out_root)
{
    int r = tmpfs_new(01777, out_root);
    if (r == 0)
        *out_sb = (*out_root)->sb;
    return r;
}

/* /proc/meminfo (proc/sys.c) reads mm, which is not linked here. */
void mm_meminfo(struct mm_meminfo *out)
{
    memset(out, 0, sizeof(*out));
    host_meminfo(&out->total, &out->free);
}

/* No address space maps a file here: nothing to zap on truncate. */
void mm_file_resized(const struct inode *inode, uint64_t size)
{
    (void)inode;
    (void)size;
}

int host_io_watch(int fd, struct waitq *wq)
{
    return -EPERM; /* as for a regular file: never waited on */
}

unsigned host_io_poll_now(int fd, unsigned events)
{
    return events;
}

int host_err_to_guest(int host_errno)
{
    return host_errno > 0 && host_errno < 512 ? -host_errno : -EIO;
}

int host_clock_gettime(int clock, int64_t *out_sec, int64_t *out_nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *out_sec = ts.tv_sec;
    *out_nsec = ts.tv_nsec;
    return 0;
}

int host_getrandom(void *buf, size_t n)
{
    memset(buf, 0x5a, n);
    return 0;
}
