/*
 * Scheduling: sched_getaffinity, sched_setaffinity, sched_getscheduler,
 * sched_setscheduler, sched_getparam, sched_setparam,
 * sched_get_priority_max, sched_get_priority_min, getpriority,
 * setpriority, getcpu, personality.
 *
 * moat places each app thread itself (next to its kernel thread); an
 * affinity mask is recorded and reported, the placement stays moat's.
 * Scheduling policies and real-time priorities are recorded per thread
 * and reported, with Linux's permission checks; the placement stays moat's.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>

#include "kernel/host/host.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task_internal.h"

static struct task *sched_target(struct task *t, int pid)
{
    if (pid < 0)
        return NULL;
    if (pid == 0 || pid == t->tid)
        return t;
    return task_lookup_tid_locked(pid);
}

static long sys_sched_getaffinity(struct task *t, const struct sys_args *a)
{
    uint64_t len = a->arg[1];
    int ncpu = host_nr_cpus();
    size_t need = ((size_t)ncpu + 63) / 64 * 8;
    if (len < need || (len & 7))
        return -EINVAL;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *x = sched_target(t, (int)a->arg[0]);
    uint64_t mask = x ? x->affinity : 0;
    pthread_mutex_unlock(&g_tasks_lock);
    if (!x)
        return -ESRCH;
    uint64_t buf[16];
    memset(buf, 0, sizeof(buf));
    buf[0] = mask;
    size_t n = MIN((size_t)len, sizeof(buf));
    if (copy_out(t, a->arg[2], buf, need) < 0)
        return -EFAULT;
    (void)n;
    return (long)need;
}
SYSCALL_DEFINE(sched_getaffinity, sys_sched_getaffinity, "dup", SYS_FULL, NULL);

static long sys_sched_setaffinity(struct task *t, const struct sys_args *a)
{
    uint64_t mask = 0;
    size_t len = MIN((size_t)a->arg[1], sizeof(mask));
    if (len && copy_in(t, &mask, a->arg[2], len) < 0)
        return -EFAULT;
    int ncpu = host_nr_cpus();
    uint64_t all = ncpu >= 64 ? ~0ULL : (1ULL << ncpu) - 1;
    mask &= all;
    if (!mask)
        return -EINVAL;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *x = sched_target(t, (int)a->arg[0]);
    if (x)
        x->affinity = mask;
    pthread_mutex_unlock(&g_tasks_lock);
    return x ? 0 : -ESRCH;
}
SYSCALL_DEFINE(sched_setaffinity, sys_sched_setaffinity, "dup", SYS_PARTIAL,
               "recorded and reported; moat keeps placing app threads itself");

static long sys_sched_getscheduler(struct task *t, const struct sys_args *a)
{
    if ((int)a->arg[0] < 0)
        return -EINVAL;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *x = sched_target(t, (int)a->arg[0]);
    long r = !x ? -ESRCH : x->sched_policy | (x->sched_reset_on_fork ? SCHED_RESET_ON_FORK : 0);
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}
SYSCALL_DEFINE(sched_getscheduler, sys_sched_getscheduler, "d", SYS_FULL, NULL);

static long sys_sched_getparam(struct task *t, const struct sys_args *a)
{
    if ((int)a->arg[0] < 0 || !a->arg[1])
        return -EINVAL;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *x = sched_target(t, (int)a->arg[0]);
    int32_t prio = x ? x->rt_priority : 0;
    pthread_mutex_unlock(&g_tasks_lock);
    if (!x)
        return -ESRCH;
    return copy_out(t, a->arg[1], &prio, sizeof(prio));
}
SYSCALL_DEFINE(sched_getparam, sys_sched_getparam, "dp", SYS_FULL, NULL);

static bool rt_policy(int policy)
{
    return policy == SCHED_FIFO || policy == SCHED_RR;
}

/* Linux's can_nice: may X's process take nice value NICE without
 * CAP_SYS_NICE? (RLIMIT_NICE counts 20 - nice.) Caller holds g_tasks_lock. */
static bool can_nice(struct task *x, int nice)
{
    return (uint64_t)(20 - nice) <= x->tg->rlim[RLIMIT_NICE].rlim_cur;
}

/* sched_setscheduler (POLICY >= 0) and sched_setparam (POLICY -1: keep
 * the thread's), with Linux's checks: without CAP_SYS_NICE, a real-time
 * policy needs a non-zero RLIMIT_RTPRIO and a priority within it (or no
 * higher than the thread has), leaving SCHED_IDLE needs RLIMIT_NICE to
 * cover the nice value, the target must be one's own (euid is its uid or
 * euid), and SCHED_RESET_ON_FORK cannot be cleared. */
static long set_policy(struct task *t, int pid, int policy, uint64_t param_addr)
{
    if (pid < 0 || !param_addr)
        return -EINVAL;
    int32_t prio;
    if (copy_in(t, &prio, param_addr, sizeof(prio)) < 0)
        return -EFAULT;
    long r = 0;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *x = sched_target(t, pid);
    if (!x) {
        r = -ESRCH;
        goto out;
    }
    bool reset = x->sched_reset_on_fork;
    if (policy >= 0) {
        reset = (policy & SCHED_RESET_ON_FORK) != 0;
        policy &= ~SCHED_RESET_ON_FORK;
    } else {
        policy = x->sched_policy;
    }
    if (policy != SCHED_OTHER && policy != SCHED_BATCH && policy != SCHED_IDLE &&
        !rt_policy(policy)) {
        r = -EINVAL;
        goto out;
    }
    if (prio < 0 || prio > 99 || rt_policy(policy) != (prio != 0)) {
        r = -EINVAL;
        goto out;
    }
    if (!task_capable(t, CAP_SYS_NICE)) {
        uint64_t rtprio = x->tg->rlim[RLIMIT_RTPRIO].rlim_cur;
        if (rt_policy(policy) && ((policy != x->sched_policy && !rtprio) ||
                                  (prio > x->rt_priority && (uint64_t)prio > rtprio)))
            r = -EPERM;
        else if (x->sched_policy == SCHED_IDLE && policy != SCHED_IDLE &&
                 !can_nice(x, x->tg->nice))
            r = -EPERM;
        else if (t->cred.euid != x->cred.euid && t->cred.euid != x->cred.uid)
            r = -EPERM;
        else if (x->sched_reset_on_fork && !reset)
            r = -EPERM;
        if (r < 0)
            goto out;
    }
    x->sched_policy = policy;
    x->rt_priority = prio;
    x->sched_reset_on_fork = reset;
out:
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}

static long sys_sched_setscheduler(struct task *t, const struct sys_args *a)
{
    if ((int)a->arg[1] < 0)
        return -EINVAL;
    return set_policy(t, (int)a->arg[0], (int)a->arg[1], a->arg[2]);
}
SYSCALL_DEFINE(sched_setscheduler, sys_sched_setscheduler, "ddp", SYS_PARTIAL,
               "policies and priorities recorded and reported with Linux's permission checks "
               "(RLIMIT_RTPRIO, RLIMIT_NICE); moat's placement of app threads is unchanged");

static long sys_sched_setparam(struct task *t, const struct sys_args *a)
{
    return set_policy(t, (int)a->arg[0], -1, a->arg[1]);
}
SYSCALL_DEFINE(sched_setparam, sys_sched_setparam, "dp", SYS_PARTIAL, "see sched_setscheduler");

static long sys_sched_get_priority_max(struct task *t, const struct sys_args *a)
{
    int p = (int)a->arg[0];
    if (p == SCHED_FIFO || p == SCHED_RR)
        return 99;
    if (p == SCHED_OTHER || p == SCHED_BATCH || p == SCHED_IDLE)
        return 0;
    return -EINVAL;
}
SYSCALL_DEFINE(sched_get_priority_max, sys_sched_get_priority_max, "d", SYS_FULL, NULL);

static long sys_sched_get_priority_min(struct task *t, const struct sys_args *a)
{
    int p = (int)a->arg[0];
    if (p == SCHED_FIFO || p == SCHED_RR)
        return 1;
    if (p == SCHED_OTHER || p == SCHED_BATCH || p == SCHED_IDLE)
        return 0;
    return -EINVAL;
}
SYSCALL_DEFINE(sched_get_priority_min, sys_sched_get_priority_min, "d", SYS_FULL, NULL);

/* Nice values are per process here (PRIO_PROCESS; PRIO_PGRP/USER act on
 * the caller's process only). */
static long sys_getpriority(struct task *t, const struct sys_args *a)
{
    int which = (int)a->arg[0], who = (int)a->arg[1];
    if (which < PRIO_PROCESS || which > PRIO_USER)
        return -EINVAL;
    struct thread_group *tg = t->tg;
    if (which == PRIO_PROCESS && who != 0 && who != tg->pid) {
        tg = task_lookup_tg(who);
        if (!tg)
            return -ESRCH;
        pthread_mutex_lock(&tg->lock);
        int nice = tg->nice;
        pthread_mutex_unlock(&tg->lock);
        tg_put(tg);
        return 20 - nice;
    }
    pthread_mutex_lock(&tg->lock);
    int nice = tg->nice;
    pthread_mutex_unlock(&tg->lock);
    return 20 - nice; /* the raw syscall returns 20 - nice */
}
SYSCALL_DEFINE(getpriority, sys_getpriority, "dd", SYS_PARTIAL, "per-process nice values");

static long sys_setpriority(struct task *t, const struct sys_args *a)
{
    int which = (int)a->arg[0], who = (int)a->arg[1], nice = (int)a->arg[2];
    if (which < PRIO_PROCESS || which > PRIO_USER)
        return -EINVAL;
    nice = nice < -20 ? -20 : nice > 19 ? 19 : nice;
    struct thread_group *tg = t->tg;
    bool other = which == PRIO_PROCESS && who != 0 && who != tg->pid;
    if (other) {
        tg = task_lookup_tg(who);
        if (!tg)
            return -ESRCH;
    }
    long r = 0;
    struct cred tc;
    /* Another process: one's euid must be its uid or euid (Linux's
     * set_one_prio_perm), or CAP_SYS_NICE. */
    if (other && tg_cred(tg, &tc) == 0 && tc.uid != t->cred.euid && tc.euid != t->cred.euid &&
        !task_capable(t, CAP_SYS_NICE)) {
        tg_put(tg);
        return -EPERM;
    }
    pthread_mutex_lock(&tg->lock);
    /* Lowering nice: within RLIMIT_NICE (20 - nice), or CAP_SYS_NICE. */
    if (nice < tg->nice && (uint64_t)(20 - nice) > tg->rlim[RLIMIT_NICE].rlim_cur &&
        !task_capable(t, CAP_SYS_NICE))
        r = -EACCES;
    else
        tg->nice = nice;
    pthread_mutex_unlock(&tg->lock);
    if (other)
        tg_put(tg);
    return r;
}
SYSCALL_DEFINE(setpriority, sys_setpriority, "ddd", SYS_PARTIAL,
               "per-process nice values, recorded; moat's placement is unchanged");

static long sys_getcpu(struct task *t, const struct sys_args *a)
{
    /* The app thread runs on its kernel thread's CPU (they are pinned
     * together). */
    uint32_t cpu = (uint32_t)sched_getcpu(), node = 0;
    if (a->arg[0] && copy_out(t, a->arg[0], &cpu, sizeof(cpu)) < 0)
        return -EFAULT;
    if (a->arg[1] && copy_out(t, a->arg[1], &node, sizeof(node)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(getcpu, sys_getcpu, "ppp", SYS_FULL, NULL);

/* Persona flags moat honours or that change nothing in a 64-bit sandbox. */
#define PER_LINUX_L          0x0000
#define ADDR_NO_RANDOMIZE_L  0x0040000

static long sys_personality(struct task *t, const struct sys_args *a)
{
    uint32_t p = (uint32_t)a->arg[0];
    uint32_t old = mm_personality(t->mm);
    if (p == 0xffffffffU)
        return old;
    /* Only the Linux persona; of its flags ADDR_NO_RANDOMIZE (the next
     * exec's layout) and ADDR_COMPAT_LAYOUT (no effect on x86-64). */
    if ((p & 0xff) != PER_LINUX_L || (p & ~(uint32_t)(ADDR_NO_RANDOMIZE_L | 0x0200000)))
        return -EINVAL;
    mm_set_personality(t->mm, p);
    return old;
}
SYSCALL_DEFINE(personality, sys_personality, "x", SYS_PARTIAL,
               "PER_LINUX with ADDR_NO_RANDOMIZE / ADDR_COMPAT_LAYOUT only");
