/* Signal-driven I/O (see fasync.h). */
#include "kernel/ipc/fasync.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/types.h"
#include "kernel/host/host.h"
#include "kernel/signal/signal.h"
#include "kernel/task/ktimer.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/list.h"

#define POLL_IN_CODE  1
#define POLL_OUT_CODE 2
#define POLL_ERR_CODE 4
#define POLL_HUP_CODE 6
#define SI_KERNEL_CODE 0x80

struct fasync_reg {
    struct waiter w;
    struct waitq *wq;
    struct fasync *fa;
};

struct fasync {
    struct file *f;          /* (c) borrowed: freed in fasync_release before F */
    int owner_type;          /* (f) file->lock: FASYNC_OWNER_* */
    int owner;               /* (f) the tid, pid or process group; 0: none */
    int signo;               /* (f) 0: SIGIO */
    int fd;                  /* (f) for si_fd */
    bool on;                 /* (f) registered on F's queues */
    struct fasync_reg *regs; /* (g_set_lock) */
    int nregs;               /* (g_set_lock) */
    struct ktimer kt;        /* delivers with no lock held */
    pthread_mutex_t lock;    /* leaf */
    unsigned key;            /* (lock) LPOLL bits woken since the last delivery */
    bool any;                /* (lock) a wake-up without bits */
    unsigned last;           /* (lock) readiness at the last delivery */
};

bool fasync_supported(struct file *f)
{
    if (!f->ops || !f->ops->poll)
        return false;
    uint32_t type = f->inode->mode & VFS_S_IFMT;
    return type == VFS_S_IFSOCK || type == VFS_S_IFIFO || type == VFS_S_IFCHR;
}

static void fasync_wake(struct waiter *w, unsigned key)
{
    struct fasync_reg *r = container_of(w, struct fasync_reg, w);
    struct fasync *fa = r->fa;
    pthread_mutex_lock(&fa->lock);
    fa->key |= key;
    fa->any |= key == 0;
    pthread_mutex_unlock(&fa->lock);
    ktimer_arm(&fa->kt, host_monotonic_ns(), 0);
}

/* Collects F's queues; the waiters go on them only once all are known
 * (the array may move while it grows). */
static void queue_proc(struct poll_table *pt, struct waitq *wq)
{
    struct fasync *fa = pt->priv;
    struct fasync_reg *regs = realloc(fa->regs, (size_t)(fa->nregs + 1) * sizeof(*regs));
    if (!regs) {
        pt->error = -ENOMEM;
        return;
    }
    fa->regs = regs;
    struct fasync_reg *r = &fa->regs[fa->nregs++];
    r->wq = wq;
    r->fa = fa;
}

/* The thread TID, or NULL. Caller holds g_tasks_lock. */
static struct task *find_thread_locked(int tid)
{
    struct thread_group *tg;
    list_for_each_entry(tg, task_all_tgs(), all) {
        struct task *t;
        list_for_each_entry(t, &tg->threads, thread_node)
            if (t->tid == tid)
                return t;
    }
    return NULL;
}

static void deliver(struct ktimer *k, void *arg)
{
    struct fasync *fa = arg;
    (void)k;
    unsigned mask = vfs_poll(fa->f, NULL);
    pthread_mutex_lock(&fa->lock);
    unsigned key = fa->key, last = fa->last;
    bool any = fa->any;
    fa->key = 0;
    fa->any = false;
    fa->last = mask;
    pthread_mutex_unlock(&fa->lock);
    int code = 0;
    if ((mask & LPOLLIN) && ((key & LPOLLIN) || (any && !(last & LPOLLIN))))
        code = POLL_IN_CODE;
    else if ((mask & LPOLLOUT) && !(last & LPOLLOUT))
        code = POLL_OUT_CODE;
    else if ((mask & LPOLLERR) && !(last & LPOLLERR))
        code = POLL_ERR_CODE;
    else if ((mask & LPOLLHUP) && !(last & LPOLLHUP))
        code = POLL_HUP_CODE;
    if (!code)
        return;
    pthread_mutex_lock(&fa->f->lock);
    int owner = fa->owner, type = fa->owner_type, signo = fa->signo, fd = fa->fd;
    bool on = fa->on;
    pthread_mutex_unlock(&fa->f->lock);
    if (!owner || !on)
        return;
    struct linux_siginfo info;
    memset(&info, 0, sizeof(info));
    if (signo) {
        int64_t band = (int64_t)mask;
        int32_t fd32 = fd;
        info.si_code = code;
        memcpy(info.raw, &band, sizeof(band));
        memcpy(info.raw + 8, &fd32, sizeof(fd32));
    } else {
        info.si_code = SI_KERNEL_CODE;
    }
    int sig = signo ? signo : SIGIO;
    pthread_mutex_lock(&g_tasks_lock);
    struct thread_group *tg;
    if (type == FASYNC_OWNER_PID) {
        tg = task_lookup_tg_locked(owner);
        if (tg)
            signal_send_tg_locked(tg, sig, &info, false);
    } else if (type == FASYNC_OWNER_PGRP) {
        list_for_each_entry(tg, task_all_tgs(), all)
            if (tg->pgid == owner && !tg->zombie)
                signal_send_tg_locked(tg, sig, &info, false);
    } else {
        struct task *t = find_thread_locked(owner);
        if (t)
            signal_send_task_locked(t, sig, &info);
    }
    pthread_mutex_unlock(&g_tasks_lock);
}

/* FA of F, created if missing. Caller holds f->lock. NULL: ENOMEM. */
static struct fasync *get_locked(struct file *f)
{
    if (f->fasync)
        return f->fasync;
    struct fasync *fa = calloc(1, sizeof(*fa));
    if (!fa)
        return NULL;
    fa->f = f;
    fa->owner_type = FASYNC_OWNER_PID;
    pthread_mutex_init(&fa->lock, NULL);
    ktimer_init(&fa->kt, deliver, fa);
    __atomic_store_n(&g_file_fasync_release, fasync_release, __ATOMIC_RELEASE);
    f->fasync = fa;
    return fa;
}

static void unregister(struct fasync *fa)
{
    for (int i = 0; i < fa->nregs; i++)
        waitq_del(fa->regs[i].wq, &fa->regs[i].w);
    free(fa->regs);
    fa->regs = NULL;
    fa->nregs = 0;
}

/* Serialises turning O_ASYNC on and off (vfs_poll must run without
 * f->lock, which some poll ops take). */
static pthread_mutex_t g_set_lock = PTHREAD_MUTEX_INITIALIZER;

int fasync_set(struct file *f, int fd, bool on)
{
    pthread_mutex_lock(&g_set_lock);
    pthread_mutex_lock(&f->lock);
    struct fasync *fa = get_locked(f);
    if (fa)
        fa->fd = fd;
    bool was = fa && fa->on;
    pthread_mutex_unlock(&f->lock);
    int r = fa ? 0 : -ENOMEM;
    if (!fa || on == was)
        goto out;
    if (on) {
        struct poll_table pt;
        poll_table_init(&pt, NULL);
        pt.qproc = queue_proc;
        pt.priv = fa;
        unsigned mask = vfs_poll(f, &pt);
        if (pt.error) {
            free(fa->regs);
            fa->regs = NULL;
            fa->nregs = 0;
            r = pt.error;
            goto out;
        }
        pthread_mutex_lock(&fa->lock);
        fa->last = mask;
        pthread_mutex_unlock(&fa->lock);
        for (int i = 0; i < fa->nregs; i++)
            waitq_add_func(fa->regs[i].wq, &fa->regs[i].w, fasync_wake);
    } else {
        unregister(fa);
        ktimer_cancel(&fa->kt);
    }
    pthread_mutex_lock(&f->lock);
    fa->on = on;
    pthread_mutex_unlock(&f->lock);
out:
    pthread_mutex_unlock(&g_set_lock);
    return r;
}

int fasync_setown_ex(struct file *f, int type, int id)
{
    if (type != FASYNC_OWNER_TID && type != FASYNC_OWNER_PID && type != FASYNC_OWNER_PGRP)
        return -EINVAL;
    if (id < 0)
        return -EINVAL;
    if (id != 0) {
        pthread_mutex_lock(&g_tasks_lock);
        bool found = false;
        if (type == FASYNC_OWNER_PID) {
            found = task_lookup_tg_locked(id) != NULL;
        } else if (type == FASYNC_OWNER_PGRP) {
            struct thread_group *tg;
            list_for_each_entry(tg, task_all_tgs(), all)
                found |= tg->pgid == id;
        } else {
            found = find_thread_locked(id) != NULL;
        }
        pthread_mutex_unlock(&g_tasks_lock);
        if (!found)
            return -ESRCH;
    }
    pthread_mutex_lock(&f->lock);
    struct fasync *fa = get_locked(f);
    if (fa) {
        fa->owner_type = type;
        fa->owner = id;
    }
    pthread_mutex_unlock(&f->lock);
    return fa ? 0 : -ENOMEM;
}

int fasync_setown(struct file *f, int owner)
{
    if (owner == INT32_MIN)
        return -EINVAL;
    return owner < 0 ? fasync_setown_ex(f, FASYNC_OWNER_PGRP, -owner)
                     : fasync_setown_ex(f, FASYNC_OWNER_PID, owner);
}

void fasync_getown_ex(struct file *f, int *out_type, int *out_id)
{
    pthread_mutex_lock(&f->lock);
    *out_type = f->fasync ? f->fasync->owner_type : FASYNC_OWNER_PID;
    *out_id = f->fasync ? f->fasync->owner : 0;
    pthread_mutex_unlock(&f->lock);
}

int fasync_getown(struct file *f)
{
    int type, id;
    fasync_getown_ex(f, &type, &id);
    return type == FASYNC_OWNER_PGRP ? -id : id;
}

int fasync_setsig(struct file *f, int sig)
{
    if (sig < 0 || sig > LINUX_NSIG)
        return -EINVAL;
    pthread_mutex_lock(&f->lock);
    struct fasync *fa = get_locked(f);
    if (fa)
        fa->signo = sig;
    pthread_mutex_unlock(&f->lock);
    return fa ? 0 : -ENOMEM;
}

int fasync_getsig(struct file *f)
{
    pthread_mutex_lock(&f->lock);
    int s = f->fasync ? f->fasync->signo : 0;
    pthread_mutex_unlock(&f->lock);
    return s;
}

void fasync_release(struct file *f)
{
    struct fasync *fa = f->fasync;
    if (!fa)
        return;
    f->fasync = NULL;
    unregister(fa);
    ktimer_cancel(&fa->kt);
    pthread_mutex_destroy(&fa->lock);
    free(fa);
}
