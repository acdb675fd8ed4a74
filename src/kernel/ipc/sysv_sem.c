/*
 * SysV semaphores: semget, semop, semtimedop, semctl, and SEM_UNDO.
 *
 * A semop applies all its operations or none. One that cannot proceed
 * sleeps on its set's wait queue (moat's task_sleep: signals and timeouts
 * end it) and retries whenever a value of the set changes; IPC_RMID wakes
 * it with EIDRM. Sleepers are listed on their set, so GETNCNT/GETZCNT count
 * each blocked operation as Linux does.
 *
 * SEM_UNDO adjustments are kept per process (all its threads share them, as
 * with CLONE_SYSVSEM) and applied when its last thread exits.
 *
 * Where moat differs from Linux: fork with CLONE_SYSVSEM does not share the
 * parent's adjustments (the child starts with none, as after a plain fork).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abi/linux/errno.h"
#include "kernel/host/host.h"
#include "kernel/ipc/sysv.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "lib/list.h"
#include "lib/refcount.h"
#include "lib/util.h"

#define SEMVMX 32767
#define SEMAEM SEMVMX

struct sem {
    int val;                      /* (k) g_sem_lock */
    int pid;                      /* (k) sempid */
};

struct sem_set {
    struct ipc_obj perm;
    struct refcount ref;          /* the table's, and each sleeper's */
    int nsems;                    /* (c) */
    struct sem *sems;             /* (k) */
    int64_t otime, ctime;         /* (k) */
    struct waitq wq;              /* sleepers in semop */
    struct list_head sleepers;    /* (k) of struct sem_sleeper */
    struct list_head undos;       /* (k) of struct sem_undo.set_link */
};

struct sem_sleeper {
    struct list_head link;
    const struct linux_sembuf *ops;
    size_t n;
};

/* One process's adjustments on one set. */
struct sem_undo {
    struct list_head proc_link;   /* (k) in its sem_undo_list */
    struct list_head set_link;    /* (k) in set->undos */
    struct sem_set *set;          /* (k) not counted: IPC_RMID frees the undo first */
    short *adj;                   /* (k) one per semaphore */
};

/* A process's adjustments (found by its thread group). */
struct sem_undo_list {
    struct list_head link;        /* (k) in g_undo_lists */
    struct thread_group *tg;      /* (c) not counted: sem_exit() frees the list */
    struct list_head undos;       /* (k) */
};

static pthread_mutex_t g_sem_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ipc_ids g_sem_ids;                                     /* (k) */
static int64_t g_sem_total;                                          /* (k) semaphores in use */
static struct list_head g_undo_lists = LIST_HEAD_INIT(g_undo_lists); /* (k) */

static struct sem_set *set_of(struct ipc_obj *o)
{
    return container_of(o, struct sem_set, perm);
}

static void set_put(struct sem_set *s)
{
    if (s && refcount_dec(&s->ref)) {
        free(s->sems);
        free(s);
    }
}

long sem_get(struct task *t, int32_t key, int nsems, int flags)
{
    if (nsems < 0 || nsems > __atomic_load_n(&g_ipc_limits.semmsl, __ATOMIC_RELAXED))
        return -EINVAL;
    long r;
    pthread_mutex_lock(&g_sem_lock);
    struct ipc_obj *o = key == LINUX_IPC_PRIVATE ? NULL : ipc_ids_find_key(&g_sem_ids, key);
    if (o) {
        r = ipc_get_existing(&t->cred, o, flags, nsems <= set_of(o)->nsems);
        goto out_unlock;
    }
    if (key != LINUX_IPC_PRIVATE && !(flags & LINUX_IPC_CREAT)) {
        r = -ENOENT;
        goto out_unlock;
    }
    if (nsems == 0) {
        r = -EINVAL;
        goto out_unlock;
    }
    if (g_sem_total + nsems > __atomic_load_n(&g_ipc_limits.semmns, __ATOMIC_RELAXED)) {
        r = -ENOSPC;
        goto out_unlock;
    }
    struct sem_set *s = calloc(1, sizeof(*s));
    struct sem *sems = calloc((size_t)nsems, sizeof(*sems));
    if (!s || !sems) {
        free(s);
        free(sems);
        r = -ENOMEM;
        goto out_unlock;
    }
    refcount_init(&s->ref);
    s->nsems = nsems;
    s->sems = sems;
    ipc_obj_init(&s->perm, &t->cred, key, flags);
    s->ctime = ipc_now();
    waitq_init(&s->wq);
    list_init(&s->sleepers);
    list_init(&s->undos);
    r = ipc_ids_add(&g_sem_ids, &s->perm, __atomic_load_n(&g_ipc_limits.semmni, __ATOMIC_RELAXED));
    if (r < 0) {
        set_put(s);
        goto out_unlock;
    }
    g_sem_total += nsems;
    r = s->perm.id;
out_unlock:
    pthread_mutex_unlock(&g_sem_lock);
    return r;
}

/* ---- undo ---- */

static struct sem_undo_list *undo_list_locked(struct thread_group *tg, bool create)
{
    struct sem_undo_list *ul;
    list_for_each_entry(ul, &g_undo_lists, link)
        if (ul->tg == tg)
            return ul;
    if (!create)
        return NULL;
    ul = calloc(1, sizeof(*ul));
    if (!ul)
        return NULL;
    ul->tg = tg;
    list_init(&ul->undos);
    list_add_tail(&ul->link, &g_undo_lists);
    return ul;
}

/* TG's adjustments on S, made if needed. NULL only for ENOMEM. */
static struct sem_undo *undo_get_locked(struct thread_group *tg, struct sem_set *s)
{
    struct sem_undo_list *ul = undo_list_locked(tg, true);
    if (!ul)
        return NULL;
    struct sem_undo *u;
    list_for_each_entry(u, &ul->undos, proc_link)
        if (u->set == s)
            return u;
    u = calloc(1, sizeof(*u));
    short *adj = calloc((size_t)s->nsems, sizeof(*adj));
    if (!u || !adj) {
        free(u);
        free(adj);
        return NULL;
    }
    u->set = s;
    u->adj = adj;
    list_add_tail(&u->proc_link, &ul->undos);
    list_add_tail(&u->set_link, &s->undos);
    return u;
}

static void undo_free_locked(struct sem_undo *u)
{
    list_del(&u->proc_link);
    list_del(&u->set_link);
    free(u->adj);
    free(u);
}

void sem_exit(struct thread_group *tg)
{
    pthread_mutex_lock(&g_sem_lock);
    struct sem_undo_list *ul = undo_list_locked(tg, false);
    if (ul) {
        struct sem_undo *u, *n;
        list_for_each_entry_safe(u, n, &ul->undos, proc_link)
        {
            struct sem_set *s = u->set;
            bool changed = false;
            for (int i = 0; i < s->nsems; i++) {
                if (!u->adj[i])
                    continue;
                int v = s->sems[i].val + u->adj[i];
                s->sems[i].val = v < 0 ? 0 : v > SEMVMX ? SEMVMX : v;
                s->sems[i].pid = tg->pid;
                changed = true;
            }
            if (changed)
                waitq_wake_all(&s->wq);
            undo_free_locked(u);
        }
        list_del(&ul->link);
        free(ul);
    }
    pthread_mutex_unlock(&g_sem_lock);
}

/* ---- semop ---- */

/* Tries OPS[N] on S all at once: 0 (done), 1 (would block), -EAGAIN
 * (would block with IPC_NOWAIT), -ERANGE. g_sem_lock held. */
static int try_ops_locked(struct sem_set *s, const struct linux_sembuf *ops, size_t n,
                          struct sem_undo *undo, int pid, int *vals)
{
    for (size_t i = 0; i < n; i++) {
        const struct linux_sembuf *op = &ops[i];
        int v = s->sems[op->sem_num].val;
        for (size_t j = 0; j < i; j++)
            if (ops[j].sem_num == op->sem_num)
                v = vals[j];
        if (op->sem_op == 0 ? v != 0 : v + op->sem_op < 0)
            return (op->sem_flg & LINUX_IPC_NOWAIT) ? -EAGAIN : 1;
        v += op->sem_op;
        if (v > SEMVMX)
            return -ERANGE;
        if ((op->sem_flg & LINUX_SEM_UNDO) && undo) {
            int adj = undo->adj[op->sem_num] - op->sem_op;
            for (size_t j = 0; j < i; j++)
                if (ops[j].sem_num == op->sem_num && (ops[j].sem_flg & LINUX_SEM_UNDO))
                    adj -= ops[j].sem_op;
            if (adj < -SEMAEM - 1 || adj > SEMAEM)
                return -ERANGE;
        }
        vals[i] = v;
    }
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        struct sem *sem = &s->sems[ops[i].sem_num];
        changed |= ops[i].sem_op != 0;
        sem->val = vals[i];
        sem->pid = pid;
        if ((ops[i].sem_flg & LINUX_SEM_UNDO) && undo)
            undo->adj[ops[i].sem_num] = (short)(undo->adj[ops[i].sem_num] - ops[i].sem_op);
    }
    s->otime = ipc_now();
    if (changed)
        waitq_wake_all(&s->wq);
    return 0;
}

static uint64_t monotonic_ns(void)
{
    int64_t sec = 0, ns = 0;
    host_clock_gettime(CLOCK_MONOTONIC, &sec, &ns);
    return (uint64_t)sec * 1000000000ULL + (uint64_t)ns;
}

long sem_op(struct task *t, int id, struct linux_sembuf *ops, size_t n, int64_t timeout_ns)
{
    int maxnum = 0;
    bool undos = false, alter = false;
    for (size_t i = 0; i < n; i++) {
        maxnum = MAX(maxnum, (int)ops[i].sem_num);
        undos |= (ops[i].sem_flg & LINUX_SEM_UNDO) != 0;
        alter |= ops[i].sem_op != 0;
    }
    uint64_t deadline = timeout_ns >= 0 ? monotonic_ns() + (uint64_t)timeout_ns : 0;
    if (timeout_ns == 0)
        deadline = 1; /* already past */
    int *vals = malloc(n * sizeof(*vals)); /* the values the ops would leave */
    if (!vals)
        return -ENOMEM;
    long r;
    pthread_mutex_lock(&g_sem_lock);
    struct ipc_obj *o = ipc_ids_find_id(&g_sem_ids, id);
    if (!o) {
        r = -EINVAL;
        goto out_unlock;
    }
    struct sem_set *s = set_of(o);
    if (maxnum >= s->nsems) {
        r = -EFBIG;
        goto out_unlock;
    }
    r = ipc_check_perms(&t->cred, o, alter ? 0222 : 0444);
    if (r < 0)
        goto out_unlock;
    struct sem_undo *undo = NULL;
    if (undos) {
        undo = undo_get_locked(t->tg, s);
        if (!undo) {
            r = -ENOMEM;
            goto out_unlock;
        }
    }
    for (;;) {
        r = try_ops_locked(s, ops, n, undo, t->tg->pid, vals);
        if (r != 1)
            break;
        struct waiter w;
        struct sem_sleeper sl = {.ops = ops, .n = n};
        uint32_t seq = task_wake_seq(t);
        waitq_add(&s->wq, &w, t);
        list_add_tail(&sl.link, &s->sleepers);
        refcount_inc(&s->ref);
        pthread_mutex_unlock(&g_sem_lock);
        int sr = task_sleep(t, seq, deadline);
        pthread_mutex_lock(&g_sem_lock);
        list_del(&sl.link);
        waitq_del(&s->wq, &w);
        bool gone = s->perm.deleted;
        set_put(s);
        if (gone) {
            r = -EIDRM;
            break;
        }
        if (sr == -ETIMEDOUT) {
            r = -EAGAIN;
            break;
        }
        if (sr == -EINTR) {
            r = -EINTR; /* semop is never restarted (signal(7)) */
            break;
        }
        if (undos) {
            /* The undo may have gone with a SETVAL-free IPC_RMID race;
             * find it again. */
            undo = undo_get_locked(t->tg, s);
            if (!undo) {
                r = -ENOMEM;
                break;
            }
        }
    }
out_unlock:
    pthread_mutex_unlock(&g_sem_lock);
    free(vals);
    return r;
}

/* ---- semctl ---- */

static int count_waiters_locked(struct sem_set *s, int num, bool zero)
{
    int c = 0;
    struct sem_sleeper *sl;
    list_for_each_entry(sl, &s->sleepers, link)
        for (size_t i = 0; i < sl->n; i++)
            if (sl->ops[i].sem_num == num && !(sl->ops[i].sem_flg & LINUX_IPC_NOWAIT) &&
                (zero ? sl->ops[i].sem_op == 0 : sl->ops[i].sem_op < 0))
                c++;
    return c;
}

static void clear_adj_locked(struct sem_set *s, int num)
{
    struct sem_undo *u;
    list_for_each_entry(u, &s->undos, set_link)
    {
        if (num < 0)
            memset(u->adj, 0, (size_t)s->nsems * sizeof(*u->adj));
        else
            u->adj[num] = 0;
    }
}

static void set_remove_locked(struct sem_set *s)
{
    struct sem_undo *u, *n;
    list_for_each_entry_safe(u, n, &s->undos, set_link)
        undo_free_locked(u);
    ipc_ids_remove(&g_sem_ids, &s->perm);
    g_sem_total -= s->nsems;
    waitq_wake_all(&s->wq);
    set_put(s);
}

static void fill_ds(struct sem_set *s, struct linux_semid64_ds *ds)
{
    memset(ds, 0, sizeof(*ds));
    ipc_fill_perm(&s->perm, &ds->sem_perm);
    ds->sem_otime = s->otime;
    ds->sem_ctime = s->ctime;
    ds->sem_nsems = (uint64_t)s->nsems;
}

long sem_ctl(struct task *t, int id, int num, int cmd, uint64_t arg)
{
    long r = 0;
    if (id < 0)
        return -EINVAL;
    switch (cmd) {
    case LINUX_IPC_INFO:
    case LINUX_SEM_INFO: {
        struct linux_seminfo si = {
                .semmni = __atomic_load_n(&g_ipc_limits.semmni, __ATOMIC_RELAXED),
                .semmns = __atomic_load_n(&g_ipc_limits.semmns, __ATOMIC_RELAXED),
                .semmsl = __atomic_load_n(&g_ipc_limits.semmsl, __ATOMIC_RELAXED),
                .semopm = __atomic_load_n(&g_ipc_limits.semopm, __ATOMIC_RELAXED),
                .semvmx = SEMVMX,
        };
        si.semmnu = si.semmap = si.semmns;
        si.semume = si.semopm;
        pthread_mutex_lock(&g_sem_lock);
        if (cmd == LINUX_SEM_INFO) {
            si.semusz = g_sem_ids.in_use;
            si.semaem = (int32_t)g_sem_total;
        } else {
            si.semusz = 20;
            si.semaem = SEMAEM;
        }
        r = MAX(ipc_ids_max_idx(&g_sem_ids), 0);
        pthread_mutex_unlock(&g_sem_lock);
        if (mm_copy_out(t->mm, arg, &si, sizeof(si)) < 0)
            return -EFAULT;
        return r;
    }
    case LINUX_IPC_STAT:
    case LINUX_SEM_STAT:
    case LINUX_SEM_STAT_ANY: {
        struct linux_semid64_ds ds;
        struct ipc_obj *o;
        pthread_mutex_lock(&g_sem_lock);
        r = ipc_stat_lookup(&g_sem_ids, &t->cred, id, cmd == LINUX_IPC_STAT,
                            cmd == LINUX_SEM_STAT_ANY, &o);
        if (r >= 0)
            fill_ds(set_of(o), &ds);
        pthread_mutex_unlock(&g_sem_lock);
        if (r >= 0 && mm_copy_out(t->mm, arg, &ds, sizeof(ds)) < 0)
            return -EFAULT;
        return r;
    }
    case LINUX_GETALL:
    case LINUX_SETALL: {
        pthread_mutex_lock(&g_sem_lock);
        struct ipc_obj *o = ipc_ids_find_id(&g_sem_ids, id);
        r = !o ? -EINVAL : ipc_check_perms(&t->cred, o, cmd == LINUX_SETALL ? 0222 : 0444);
        int nsems = r == 0 ? set_of(o)->nsems : 0;
        uint16_t *vals = r == 0 ? calloc((size_t)nsems, sizeof(*vals)) : NULL;
        if (r == 0 && !vals)
            r = -ENOMEM;
        if (r == 0 && cmd == LINUX_GETALL)
            for (int i = 0; i < nsems; i++)
                vals[i] = (uint16_t)set_of(o)->sems[i].val;
        int got_id = r == 0 ? o->id : -1;
        pthread_mutex_unlock(&g_sem_lock);
        if (r < 0)
            return r;
        if (cmd == LINUX_GETALL) {
            r = mm_copy_out(t->mm, arg, vals, (size_t)nsems * sizeof(*vals)) < 0 ? -EFAULT : 0;
            free(vals);
            return r;
        }
        if (mm_copy_in(t->mm, vals, arg, (size_t)nsems * sizeof(*vals)) < 0) {
            free(vals);
            return -EFAULT;
        }
        for (int i = 0; i < nsems; i++)
            if (vals[i] > SEMVMX) {
                free(vals);
                return -ERANGE;
            }
        pthread_mutex_lock(&g_sem_lock);
        o = ipc_ids_find_id(&g_sem_ids, got_id);
        if (!o) {
            r = -EIDRM;
        } else {
            struct sem_set *s = set_of(o);
            for (int i = 0; i < nsems; i++) {
                s->sems[i].val = vals[i];
                s->sems[i].pid = t->tg->pid;
            }
            clear_adj_locked(s, -1);
            s->ctime = ipc_now();
            waitq_wake_all(&s->wq);
        }
        pthread_mutex_unlock(&g_sem_lock);
        free(vals);
        return r;
    }
    case LINUX_SETVAL: {
        int val = (int)(uint32_t)arg;
        if (val < 0 || val > SEMVMX)
            return -ERANGE;
    }
        /* fall through */
    case LINUX_GETVAL:
    case LINUX_GETPID:
    case LINUX_GETNCNT:
    case LINUX_GETZCNT: {
        pthread_mutex_lock(&g_sem_lock);
        struct ipc_obj *o = ipc_ids_find_id(&g_sem_ids, id);
        struct sem_set *s = o ? set_of(o) : NULL;
        if (!o)
            r = -EINVAL;
        else if (cmd == LINUX_SETVAL && (num < 0 || num >= s->nsems))
            r = -EINVAL;
        else
            r = ipc_check_perms(&t->cred, o, cmd == LINUX_SETVAL ? 0222 : 0444);
        if (r == 0 && (num < 0 || num >= s->nsems))
            r = -EINVAL;
        if (r == 0) {
            switch (cmd) {
            case LINUX_SETVAL:
                s->sems[num].val = (int)(uint32_t)arg;
                s->sems[num].pid = t->tg->pid;
                clear_adj_locked(s, num);
                s->ctime = ipc_now();
                waitq_wake_all(&s->wq);
                break;
            case LINUX_GETVAL:
                r = s->sems[num].val;
                break;
            case LINUX_GETPID:
                r = s->sems[num].pid;
                break;
            case LINUX_GETNCNT:
                r = count_waiters_locked(s, num, false);
                break;
            default:
                r = count_waiters_locked(s, num, true);
                break;
            }
        }
        pthread_mutex_unlock(&g_sem_lock);
        return r;
    }
    case LINUX_IPC_SET:
    case LINUX_IPC_RMID: {
        struct linux_semid64_ds ds;
        if (cmd == LINUX_IPC_SET && mm_copy_in(t->mm, &ds, arg, sizeof(ds)) < 0)
            return -EFAULT;
        pthread_mutex_lock(&g_sem_lock);
        struct ipc_obj *o = ipc_ctl_lookup(&g_sem_ids, &t->cred, id, &r);
        if (o && cmd == LINUX_IPC_SET) {
            ipc_set_perm(o, &ds.sem_perm);
            set_of(o)->ctime = ipc_now();
        } else if (o) {
            set_remove_locked(set_of(o));
        }
        pthread_mutex_unlock(&g_sem_lock);
        return r;
    }
    default:
        return -EINVAL;
    }
}

void sem_proc_show(const struct ipc_sbuf_fn *out)
{
    out->printf(out->b, "       key      semid perms      nsems   uid   gid  cuid  cgid      otime "
                        "     ctime\n");
    pthread_mutex_lock(&g_sem_lock);
    for (int i = 0; i < g_sem_ids.nslots; i++) {
        struct ipc_obj *o = g_sem_ids.slot[i];
        if (!o)
            continue;
        struct sem_set *s = set_of(o);
        out->printf(out->b, "%10d %10d  %4o %10d %5u %5u %5u %5u %10lld %10lld\n", o->key, o->id,
                    o->mode, s->nsems, o->uid, o->gid, o->cuid, o->cgid, (long long)s->otime,
                    (long long)s->ctime);
    }
    pthread_mutex_unlock(&g_sem_lock);
}
