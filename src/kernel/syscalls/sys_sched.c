/*
 * Scheduling: sched_getaffinity, sched_setaffinity, sched_getscheduler,
 * sched_setscheduler, sched_getparam, sched_setparam, sched_setattr,
 * sched_getattr, sched_rr_get_interval,
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
#include "lib/log.h"
#include "lib/util.h"

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

/* The policies whose nice value sched_setattr sets. */
static bool fair_policy(int policy)
{
    return policy == SCHED_OTHER || policy == SCHED_BATCH;
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
/* The common part of sched_setscheduler, sched_setparam and
 * sched_setattr: POLICY -1 keeps the thread's (and with KEEP_RESET its
 * reset-on-fork flag, else RESET sets it); NICE (or NULL) is a new nice
 * value for the process. */
static long set_policy_nice(struct task *t, int pid, int policy, int32_t prio, bool reset,
                            bool keep_reset, const int *nice)
{
    long r = 0;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *x = sched_target(t, pid);
    if (!x) {
        r = -ESRCH;
        goto out;
    }
    if (keep_reset)
        reset = x->sched_reset_on_fork;
    if (policy < 0)
        policy = x->sched_policy;
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
        int cur_nice = __atomic_load_n(&x->tg->nice, __ATOMIC_RELAXED);
        if (nice && fair_policy(policy) && *nice < cur_nice && !can_nice(x, *nice))
            r = -EPERM;
        else if (rt_policy(policy) && ((policy != x->sched_policy && !rtprio) ||
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
    if (nice && fair_policy(policy))
        __atomic_store_n(&x->tg->nice, *nice, __ATOMIC_RELAXED);
out:
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}

/* sched_setscheduler (POLICY >= 0) and sched_setparam (-1). */
static long set_policy(struct task *t, int pid, int policy, uint64_t param_addr)
{
    if (pid < 0 || !param_addr)
        return -EINVAL;
    int32_t prio;
    if (copy_in(t, &prio, param_addr, sizeof(prio)) < 0)
        return -EFAULT;
    bool reset = policy >= 0 && (policy & SCHED_RESET_ON_FORK);
    if (policy >= 0)
        policy &= ~SCHED_RESET_ON_FORK;
    return set_policy_nice(t, pid, policy, prio, reset, policy < 0, NULL);
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

/* struct sched_attr (sched_setattr(2)); the first version is 48 bytes,
 * the second adds the utilization clamps. */
struct linux_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
    uint32_t sched_util_min, sched_util_max;
};
#define SCHED_ATTR_SIZE_VER0      48
#define SCHED_DEADLINE_L          6
#define SCHED_FLAG_RESET_ON_FORK_L 0x01
#define SCHED_FLAG_KEEP_POLICY_L  0x08
#define SCHED_FLAG_KEEP_PARAMS_L  0x10
#define SCHED_FLAG_UTIL_CLAMP_L   0x60
#define SCHED_FLAG_ALL_L          0x7f

static long sys_sched_getattr(struct task *t, const struct sys_args *a)
{
    int pid = (int)a->arg[0];
    uint32_t usize = (uint32_t)a->arg[2];
    if (!a->arg[1] || pid < 0 || usize > 4096 || usize < SCHED_ATTR_SIZE_VER0 || a->arg[3])
        return -EINVAL;
    struct linux_sched_attr at;
    memset(&at, 0, sizeof(at));
    pthread_mutex_lock(&g_tasks_lock);
    struct task *x = sched_target(t, pid);
    if (x) {
        at.sched_policy = (uint32_t)x->sched_policy;
        at.sched_flags = x->sched_reset_on_fork ? SCHED_FLAG_RESET_ON_FORK_L : 0;
        at.sched_nice = __atomic_load_n(&x->tg->nice, __ATOMIC_RELAXED);
        at.sched_priority = (uint32_t)x->rt_priority;
    }
    pthread_mutex_unlock(&g_tasks_lock);
    if (!x)
        return -ESRCH;
    /* No utilization clamping (as a kernel without CONFIG_UCLAMP_TASK). */
    at.size = MIN(usize, (uint32_t)sizeof(at));
    return copy_out(t, a->arg[1], &at, at.size);
}
SYSCALL_DEFINE(sched_getattr, sys_sched_getattr, "dpux", SYS_PARTIAL,
               "policy, flags, nice and priority as recorded; no utilization clamps");

static long set_policy_nice(struct task *t, int pid, int policy, int32_t prio, bool reset,
                            bool keep_reset, const int *nice);

static long sys_sched_setattr(struct task *t, const struct sys_args *a)
{
    int pid = (int)a->arg[0];
    uint64_t uattr = a->arg[1];
    if (!uattr || pid < 0 || a->arg[2])
        return -EINVAL;
    uint32_t usize;
    if (copy_in(t, &usize, uattr, sizeof(usize)) < 0)
        return -EFAULT;
    if (usize == 0)
        usize = SCHED_ATTR_SIZE_VER0;
    if (usize < SCHED_ATTR_SIZE_VER0 || usize > 4096) {
        uint32_t k = sizeof(struct linux_sched_attr);
        copy_out(t, uattr, &k, sizeof(k)); /* tells the caller the size moat knows */
        return -E2BIG;
    }
    struct linux_sched_attr at;
    memset(&at, 0, sizeof(at));
    if (copy_in(t, &at, uattr, MIN(usize, (uint32_t)sizeof(at))) < 0)
        return -EFAULT;
    if (usize > sizeof(at)) {
        uint8_t rest[4096];
        size_t n = usize - sizeof(at);
        if (copy_in(t, rest, uattr + sizeof(at), n) < 0)
            return -EFAULT;
        for (size_t i = 0; i < n; i++) {
            if (rest[i]) {
                uint32_t k = sizeof(at);
                copy_out(t, uattr, &k, sizeof(k));
                return -E2BIG;
            }
        }
    }
    if ((at.sched_flags & SCHED_FLAG_UTIL_CLAMP_L) && usize < sizeof(at))
        return -EINVAL;
    int nice = at.sched_nice < -20 ? -20 : at.sched_nice > 19 ? 19 : at.sched_nice;
    if ((int32_t)at.sched_policy < 0)
        return -EINVAL;
    int policy = (at.sched_flags & SCHED_FLAG_KEEP_POLICY_L) ? -1 : (int)at.sched_policy;
    if (at.sched_flags & ~(uint64_t)SCHED_FLAG_ALL_L)
        return -EINVAL;
    if (at.sched_flags & SCHED_FLAG_UTIL_CLAMP_L) {
        log_warn_once("sched_setattr: utilization clamps are not supported");
        return -EOPNOTSUPP; /* as a kernel without CONFIG_UCLAMP_TASK */
    }
    if (policy == SCHED_DEADLINE_L) {
        log_warn_once("sched_setattr: SCHED_DEADLINE is not supported");
        return -EINVAL;
    }
    bool keep_params = at.sched_flags & SCHED_FLAG_KEEP_PARAMS_L;
    return set_policy_nice(t, pid, policy, (int32_t)at.sched_priority,
                           (at.sched_flags & SCHED_FLAG_RESET_ON_FORK_L) != 0, false,
                           keep_params ? NULL : &nice);
}
SYSCALL_DEFINE(sched_setattr, sys_sched_setattr, "dpx", SYS_PARTIAL,
               "normal and real-time policies, nice and priority, recorded (see "
               "sched_setscheduler); SCHED_DEADLINE EINVAL, utilization clamps EOPNOTSUPP, logged");

static long sys_sched_rr_get_interval(struct task *t, const struct sys_args *a)
{
    int pid = (int)a->arg[0];
    if (pid < 0)
        return -EINVAL;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *x = sched_target(t, pid);
    int policy = x ? x->sched_policy : 0;
    pthread_mutex_unlock(&g_tasks_lock);
    if (!x)
        return -ESRCH;
    /* SCHED_RR: Linux's default time slice (sched_rr_timeslice_ms 100);
     * FIFO none; the fair classes' base slice (0.75 ms) is under a tick,
     * which Linux reports as 0. */
    struct linux_timespec ts = {0, policy == SCHED_RR ? 100000000 : 0};
    return copy_out(t, a->arg[1], &ts, sizeof(ts));
}
SYSCALL_DEFINE(sched_rr_get_interval, sys_sched_rr_get_interval, "dp", SYS_FULL, NULL);

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

/* Nice values are per process here (Linux keeps one per thread; moat's
 * threads of a process share it). PRIO_PGRP and PRIO_USER reach every
 * process of the group (WHO 0: the caller's) or of the real uid (WHO 0:
 * the caller's), as Linux's getpriority/setpriority. */

/* Does process TG match WHICH/WHO for T? Caller holds g_tasks_lock. */
static bool prio_match_locked(struct task *t, struct thread_group *tg, int which, int who)
{
    if (tg->zombie || !tg->leader)
        return false;
    switch (which) {
    case PRIO_PROCESS: {
        /* WHO is a thread id: its process. */
        struct task *x = who ? task_lookup_tid_locked(who) : t;
        return x && x->tg == tg;
    }
    case PRIO_PGRP:
        return tg->pgid == (who ? who : t->tg->pgid);
    default:
        return tg->leader->cred.uid == (who ? (uint32_t)who : t->cred.uid);
    }
}

static long sys_getpriority(struct task *t, const struct sys_args *a)
{
    int which = (int)a->arg[0], who = (int)a->arg[1];
    if (which < PRIO_PROCESS || which > PRIO_USER)
        return -EINVAL;
    long r = -ESRCH;
    pthread_mutex_lock(&g_tasks_lock);
    struct thread_group *tg;
    list_for_each_entry(tg, task_all_tgs(), all) {
        if (!prio_match_locked(t, tg, which, who))
            continue;
        long v = 20 - __atomic_load_n(&tg->nice, __ATOMIC_RELAXED);
        if (v > r)
            r = v; /* the highest priority of them: the raw syscall returns 20 - nice */
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}
SYSCALL_DEFINE(getpriority, sys_getpriority, "dd", SYS_PARTIAL,
               "per-process nice values (shared by a process's threads)");

/* Linux's set_one_prio: ERR is the result so far (-ESRCH: nothing matched
 * yet); returns the new one. Caller holds g_tasks_lock. */
static long set_one_prio_locked(struct task *t, struct thread_group *tg, int nice, long err)
{
    const struct cred *tc = &tg->leader->cred;
    /* Another's process: one's euid must be its uid or euid, or CAP_SYS_NICE. */
    if (tc->uid != t->cred.euid && tc->euid != t->cred.euid && !task_capable(t, CAP_SYS_NICE))
        return -EPERM;
    long r = err == -ESRCH ? 0 : err;
    pthread_mutex_lock(&tg->lock);
    /* Lowering nice: within RLIMIT_NICE (20 - nice), or CAP_SYS_NICE. */
    if (nice < tg->nice && (uint64_t)(20 - nice) > tg->rlim[RLIMIT_NICE].rlim_cur &&
        !task_capable(t, CAP_SYS_NICE))
        r = -EACCES;
    else
        __atomic_store_n(&tg->nice, nice, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&tg->lock);
    return r;
}

static long sys_setpriority(struct task *t, const struct sys_args *a)
{
    int which = (int)a->arg[0], who = (int)a->arg[1], nice = (int)a->arg[2];
    if (which < PRIO_PROCESS || which > PRIO_USER)
        return -EINVAL;
    nice = nice < -20 ? -20 : nice > 19 ? 19 : nice;
    long r = -ESRCH;
    pthread_mutex_lock(&g_tasks_lock);
    struct thread_group *tg;
    list_for_each_entry(tg, task_all_tgs(), all) {
        if (prio_match_locked(t, tg, which, who))
            r = set_one_prio_locked(t, tg, nice, r);
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}
SYSCALL_DEFINE(setpriority, sys_setpriority, "ddd", SYS_PARTIAL,
               "per-process nice values, recorded and shown in /proc; moat's placement is "
               "unchanged");

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
