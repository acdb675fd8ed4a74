/*
 * SysV message queues: msgget, msgsnd, msgrcv, msgctl.
 *
 * Senders wait for room and receivers for a matching message on the
 * queue's wait queue (task_sleep: signals end the wait with EINTR, unless
 * the signal ran no handler, then the call restarts, as Linux's
 * ERESTARTNOHAND); IPC_RMID wakes both with EIDRM.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/errno.h"
#include "kernel/ipc/sysv.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "lib/list.h"
#include "lib/refcount.h"
#include "lib/util.h"

#define MSGSSZ 16
#define MSGSEG 0xffff

struct msg_msg {
    struct list_head link;
    int64_t type;
    size_t size;
    char text[];
};

struct msg_queue {
    struct ipc_obj perm;
    struct refcount ref;          /* the table's, and each sleeper's */
    struct list_head msgs;        /* (k) g_msg_lock */
    uint64_t qbytes, cbytes, qnum;/* (k) */
    int64_t stime, rtime, ctime;  /* (k) */
    int lspid, lrpid;             /* (k) */
    struct waitq wq;              /* senders and receivers */
};

static pthread_mutex_t g_msg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ipc_ids g_msg_ids; /* (k) */
static uint64_t g_msg_bytes, g_msg_count; /* (k) in all queues */

static struct msg_queue *q_of(struct ipc_obj *o)
{
    return container_of(o, struct msg_queue, perm);
}

static void q_put(struct msg_queue *q)
{
    if (q && refcount_dec(&q->ref))
        free(q);
}

long msg_get(struct task *t, int32_t key, int flags)
{
    long r;
    pthread_mutex_lock(&g_msg_lock);
    struct ipc_obj *o = key == LINUX_IPC_PRIVATE ? NULL : ipc_ids_find_key(&g_msg_ids, key);
    if (o) {
        r = ipc_get_existing(&t->cred, o, flags, true);
        goto out_unlock;
    }
    if (key != LINUX_IPC_PRIVATE && !(flags & LINUX_IPC_CREAT)) {
        r = -ENOENT;
        goto out_unlock;
    }
    struct msg_queue *q = calloc(1, sizeof(*q));
    if (!q) {
        r = -ENOMEM;
        goto out_unlock;
    }
    refcount_init(&q->ref);
    list_init(&q->msgs);
    waitq_init(&q->wq);
    q->qbytes = (uint64_t)__atomic_load_n(&g_ipc_limits.msgmnb, __ATOMIC_RELAXED);
    ipc_obj_init(&q->perm, &t->cred, key, flags);
    q->ctime = ipc_now();
    r = ipc_ids_add(&g_msg_ids, &q->perm, __atomic_load_n(&g_ipc_limits.msgmni, __ATOMIC_RELAXED));
    if (r < 0) {
        free(q);
        goto out_unlock;
    }
    r = q->perm.id;
out_unlock:
    pthread_mutex_unlock(&g_msg_lock);
    return r;
}

/* Sleeps on Q (g_msg_lock held, dropped while asleep): 0 to retry, or
 * -EIDRM / -ERESTARTNOHAND. */
static int wait_locked(struct task *t, struct msg_queue *q)
{
    struct waiter w;
    uint32_t seq = task_wake_seq(t);
    waitq_add(&q->wq, &w, t);
    refcount_inc(&q->ref);
    pthread_mutex_unlock(&g_msg_lock);
    int sr = task_sleep(t, seq, 0);
    pthread_mutex_lock(&g_msg_lock);
    waitq_del(&q->wq, &w);
    bool gone = q->perm.deleted;
    q_put(q);
    if (gone)
        return -EIDRM;
    return sr == -EINTR ? -ERESTARTNOHAND : 0;
}

long msg_snd(struct task *t, int id, uint64_t msgp, uint64_t size, int flags)
{
    if (size > (uint64_t)__atomic_load_n(&g_ipc_limits.msgmax, __ATOMIC_RELAXED) ||
        (int64_t)size < 0 || id < 0)
        return -EINVAL;
    int64_t type;
    if (mm_copy_in(t->mm, &type, msgp, sizeof(type)) < 0)
        return -EFAULT;
    if (type < 1)
        return -EINVAL;
    struct msg_msg *m = malloc(sizeof(*m) + size);
    if (!m)
        return -ENOMEM;
    m->type = type;
    m->size = size;
    if (mm_copy_in(t->mm, m->text, msgp + sizeof(type), size) < 0) {
        free(m);
        return -EFAULT;
    }
    long r;
    pthread_mutex_lock(&g_msg_lock);
    struct ipc_obj *o = ipc_ids_find_id(&g_msg_ids, id);
    if (!o) {
        r = -EINVAL;
        goto out_unlock;
    }
    struct msg_queue *q = q_of(o);
    r = ipc_check_perms(&t->cred, o, 0222);
    if (r < 0)
        goto out_unlock;
    for (;;) {
        if (size + q->cbytes <= q->qbytes && 1 + q->qnum <= q->qbytes)
            break;
        if (flags & LINUX_IPC_NOWAIT) {
            r = -EAGAIN;
            goto out_unlock;
        }
        r = wait_locked(t, q);
        if (r < 0)
            goto out_unlock;
    }
    list_add_tail(&m->link, &q->msgs);
    m = NULL;
    q->cbytes += size;
    q->qnum++;
    q->lspid = t->tg->pid;
    q->stime = ipc_now();
    g_msg_bytes += size;
    g_msg_count++;
    waitq_wake_all(&q->wq);
    r = 0;
out_unlock:
    pthread_mutex_unlock(&g_msg_lock);
    free(m);
    return r;
}

enum { SEARCH_ANY, SEARCH_EQUAL, SEARCH_NOTEQUAL, SEARCH_LESSEQUAL, SEARCH_NUMBER };

static struct msg_msg *find_locked(struct msg_queue *q, int mode, int64_t type)
{
    struct msg_msg *m, *found = NULL;
    int64_t n = 0;
    list_for_each_entry(m, &q->msgs, link)
    {
        switch (mode) {
        case SEARCH_ANY:
            return m;
        case SEARCH_EQUAL:
            if (m->type == type)
                return m;
            break;
        case SEARCH_NOTEQUAL:
            if (m->type != type)
                return m;
            break;
        case SEARCH_LESSEQUAL:
            if (m->type <= type && (!found || m->type < found->type))
                found = m;
            break;
        default:
            if (n++ == type)
                return m;
            break;
        }
    }
    return found;
}

long msg_rcv(struct task *t, int id, uint64_t msgp, uint64_t size, int64_t type, int flags)
{
    if (id < 0 || (int64_t)size < 0)
        return -EINVAL;
    int mode;
    if (flags & LINUX_MSG_COPY) {
        if ((flags & LINUX_MSG_EXCEPT) || !(flags & LINUX_IPC_NOWAIT))
            return -EINVAL;
        mode = SEARCH_NUMBER;
    } else if (type == 0) {
        mode = SEARCH_ANY;
    } else if (type < 0) {
        type = type == INT64_MIN ? INT64_MAX : -type;
        mode = SEARCH_LESSEQUAL;
    } else {
        mode = (flags & LINUX_MSG_EXCEPT) ? SEARCH_NOTEQUAL : SEARCH_EQUAL;
    }
    long r;
    struct msg_msg *m = NULL, *copy = NULL;
    pthread_mutex_lock(&g_msg_lock);
    struct ipc_obj *o = ipc_ids_find_id(&g_msg_ids, id);
    if (!o) {
        r = -EINVAL;
        goto out_unlock;
    }
    struct msg_queue *q = q_of(o);
    r = ipc_check_perms(&t->cred, o, 0444);
    if (r < 0)
        goto out_unlock;
    for (;;) {
        m = find_locked(q, mode, type);
        if (m)
            break;
        if (flags & LINUX_IPC_NOWAIT) {
            r = -ENOMSG;
            goto out_unlock;
        }
        r = wait_locked(t, q);
        if (r < 0)
            goto out_unlock;
    }
    if (size < m->size && !(flags & LINUX_MSG_NOERROR)) {
        r = -E2BIG;
        m = NULL;
        goto out_unlock;
    }
    if (mode == SEARCH_NUMBER) {
        copy = malloc(sizeof(*copy) + m->size);
        if (!copy) {
            r = -ENOMEM;
            m = NULL;
            goto out_unlock;
        }
        memcpy(copy, m, sizeof(*copy) + m->size);
        m = copy;
    } else {
        list_del(&m->link);
        q->qnum--;
        q->cbytes -= m->size;
        q->lrpid = t->tg->pid;
        q->rtime = ipc_now();
        g_msg_bytes -= m->size;
        g_msg_count--;
        waitq_wake_all(&q->wq);
    }
    r = 0;
out_unlock:
    pthread_mutex_unlock(&g_msg_lock);
    if (r < 0 || !m)
        return r;
    size_t n = MIN(size, m->size);
    if (mm_copy_out(t->mm, msgp, &m->type, sizeof(m->type)) < 0 ||
        mm_copy_out(t->mm, msgp + sizeof(m->type), m->text, n) < 0)
        r = -EFAULT;
    else
        r = (long)n;
    free(m);
    return r;
}

static void fill_ds(struct msg_queue *q, struct linux_msqid64_ds *ds)
{
    memset(ds, 0, sizeof(*ds));
    ipc_fill_perm(&q->perm, &ds->msg_perm);
    ds->msg_stime = q->stime;
    ds->msg_rtime = q->rtime;
    ds->msg_ctime = q->ctime;
    ds->msg_cbytes = q->cbytes;
    ds->msg_qnum = q->qnum;
    ds->msg_qbytes = q->qbytes;
    ds->msg_lspid = q->lspid;
    ds->msg_lrpid = q->lrpid;
}

long msg_ctl(struct task *t, int id, int cmd, uint64_t buf)
{
    long r = 0;
    if (id < 0 || cmd < 0)
        return -EINVAL;
    switch (cmd) {
    case LINUX_IPC_INFO:
    case LINUX_MSG_INFO: {
        int32_t mni = __atomic_load_n(&g_ipc_limits.msgmni, __ATOMIC_RELAXED);
        int32_t mnb = __atomic_load_n(&g_ipc_limits.msgmnb, __ATOMIC_RELAXED);
        struct linux_msginfo mi = {
                .msgmni = mni,
                .msgmax = __atomic_load_n(&g_ipc_limits.msgmax, __ATOMIC_RELAXED),
                .msgmnb = mnb,
                .msgssz = MSGSSZ,
                .msgseg = MSGSEG,
        };
        pthread_mutex_lock(&g_msg_lock);
        if (cmd == LINUX_MSG_INFO) {
            mi.msgpool = g_msg_ids.in_use;
            mi.msgmap = (int32_t)g_msg_count;
            mi.msgtql = (int32_t)g_msg_bytes;
        } else {
            /* Linux's compile-time defaults (MSGMAP, MSGPOOL, MSGTQL). */
            mi.msgmap = 16384;
            mi.msgpool = 32000 * 16384 / 1024;
            mi.msgtql = 16384;
        }
        r = MAX(ipc_ids_max_idx(&g_msg_ids), 0);
        pthread_mutex_unlock(&g_msg_lock);
        if (mm_copy_out(t->mm, buf, &mi, sizeof(mi)) < 0)
            return -EFAULT;
        return r;
    }
    case LINUX_IPC_STAT:
    case LINUX_MSG_STAT:
    case LINUX_MSG_STAT_ANY: {
        struct linux_msqid64_ds ds;
        struct ipc_obj *o;
        pthread_mutex_lock(&g_msg_lock);
        r = ipc_stat_lookup(&g_msg_ids, &t->cred, id, cmd == LINUX_IPC_STAT,
                            cmd == LINUX_MSG_STAT_ANY, &o);
        if (r >= 0)
            fill_ds(q_of(o), &ds);
        pthread_mutex_unlock(&g_msg_lock);
        if (r >= 0 && mm_copy_out(t->mm, buf, &ds, sizeof(ds)) < 0)
            return -EFAULT;
        return r;
    }
    case LINUX_IPC_SET:
    case LINUX_IPC_RMID: {
        struct linux_msqid64_ds ds;
        if (cmd == LINUX_IPC_SET && mm_copy_in(t->mm, &ds, buf, sizeof(ds)) < 0)
            return -EFAULT;
        pthread_mutex_lock(&g_msg_lock);
        struct ipc_obj *o = ipc_ctl_lookup(&g_msg_ids, &t->cred, id, &r);
        struct msg_queue *q = o ? q_of(o) : NULL;
        if (o && cmd == LINUX_IPC_SET) {
            if (ds.msg_qbytes > (uint64_t)__atomic_load_n(&g_ipc_limits.msgmnb, __ATOMIC_RELAXED) &&
                !task_capable(t, CAP_SYS_RESOURCE)) {
                r = -EPERM;
            } else {
                q->qbytes = ds.msg_qbytes;
                ipc_set_perm(o, &ds.msg_perm);
                q->ctime = ipc_now();
                waitq_wake_all(&q->wq);
            }
        } else if (o) {
            struct msg_msg *m, *n;
            list_for_each_entry_safe(m, n, &q->msgs, link)
            {
                g_msg_bytes -= m->size;
                g_msg_count--;
                free(m);
            }
            list_init(&q->msgs);
            ipc_ids_remove(&g_msg_ids, o);
            waitq_wake_all(&q->wq);
            q_put(q);
        }
        pthread_mutex_unlock(&g_msg_lock);
        return r;
    }
    default:
        return -EINVAL;
    }
}

void msg_proc_show(const struct ipc_sbuf_fn *out)
{
    out->printf(out->b, "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  "
                        "cuid  cgid      stime      rtime      ctime\n");
    pthread_mutex_lock(&g_msg_lock);
    for (int i = 0; i < g_msg_ids.nslots; i++) {
        struct ipc_obj *o = g_msg_ids.slot[i];
        if (!o)
            continue;
        struct msg_queue *q = q_of(o);
        out->printf(out->b, "%10d %10d  %4o  %10llu %10llu %5d %5d %5u %5u %5u %5u %10lld %10lld %10lld\n",
                    o->key, o->id, o->mode, (unsigned long long)q->cbytes,
                    (unsigned long long)q->qnum, q->lspid, q->lrpid, o->uid, o->gid, o->cuid,
                    o->cgid, (long long)q->stime, (long long)q->rtime, (long long)q->ctime);
    }
    pthread_mutex_unlock(&g_msg_lock);
}
