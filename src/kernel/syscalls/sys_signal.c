/*
 * Signals: rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack,
 * rt_sigpending, pause, rt_sigsuspend, kill, tkill, tgkill,
 * rt_sigqueueinfo, rt_tgsigqueueinfo, rt_sigtimedwait. Delivery itself is
 * in kernel/signal/signal.c.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "kernel/host/host.h"
#include "kernel/signal/signal.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task_internal.h"
#include "kernel/task/waitq.h"

#define SIGSET_SIZE 8
#define UNBLOCKABLE SIG_UNBLOCKABLE

static long sys_rt_sigaction(struct task *t, const struct sys_args *a)
{
    int sig = (int)a->arg[0];
    if (a->arg[3] != SIGSET_SIZE)
        return -EINVAL;
    if (sig < 1 || sig > LINUX_NSIG)
        return -EINVAL;
    struct linux_sigaction act;
    if (a->arg[1]) {
        if (sig == SIGKILL || sig == SIGSTOP)
            return -EINVAL;
        if (copy_in(t, &act, a->arg[1], sizeof(act)) < 0)
            return -EFAULT;
        act.mask &= ~UNBLOCKABLE;
    }
    struct sighand *sh = t->tg->sighand;
    pthread_mutex_lock(&sh->lock);
    struct linux_sigaction old = sh->action[sig - 1];
    if (a->arg[1]) {
        sh->action[sig - 1] = act;
        sighand_changed_locked(sh);
    }
    pthread_mutex_unlock(&sh->lock);
    if (a->arg[2] && copy_out(t, a->arg[2], &old, sizeof(old)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(rt_sigaction, sys_rt_sigaction, "dppu", SYS_FULL, NULL);

static long sys_rt_sigprocmask(struct task *t, const struct sys_args *a)
{
    int how = (int)a->arg[0];
    if (a->arg[3] != SIGSET_SIZE)
        return -EINVAL;
    uint64_t old = t->sigmask;
    if (a->arg[1]) {
        uint64_t set;
        if (copy_in(t, &set, a->arg[1], sizeof(set)) < 0)
            return -EFAULT;
        switch (how) {
        case SIG_BLOCK:
            t->sigmask |= set;
            break;
        case SIG_UNBLOCK:
            t->sigmask &= ~set;
            break;
        case SIG_SETMASK:
            t->sigmask = set;
            break;
        default:
            return -EINVAL;
        }
        t->sigmask &= ~UNBLOCKABLE;
        /* Unblocking may make a pending signal deliverable: the loop
         * delivers it before the app runs again. */
    }
    if (a->arg[2] && copy_out(t, a->arg[2], &old, sizeof(old)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(rt_sigprocmask, sys_rt_sigprocmask, "dppu", SYS_FULL, NULL);

static long sys_rt_sigreturn(struct task *t, const struct sys_args *a)
{
    signal_sigreturn(t);
    return 0;
}
SYSCALL_DEFINE(rt_sigreturn, sys_rt_sigreturn, "", SYS_FULL, NULL);

#define SS_ONSTACK_FLAG  1
#define SS_DISABLE_FLAG  2
#define SS_AUTODISARM    (1u << 31)
#define MINSIGSTKSZ_LINUX 2048

static long sys_sigaltstack(struct task *t, const struct sys_args *a)
{
    struct linux_stack old = t->altstack;
    bool on = old.ss_size && t->regs.rsp > old.ss_sp && t->regs.rsp <= old.ss_sp + old.ss_size;
    if (old.ss_size == 0)
        old.ss_flags = SS_DISABLE_FLAG;
    else if (on)
        old.ss_flags |= SS_ONSTACK_FLAG;
    if (a->arg[0]) {
        struct linux_stack ns;
        if (copy_in(t, &ns, a->arg[0], sizeof(ns)) < 0)
            return -EFAULT;
        if (on)
            return -EPERM;
        unsigned mode = (unsigned)ns.ss_flags & ~SS_AUTODISARM;
        if (mode != 0 && mode != SS_DISABLE_FLAG && mode != SS_ONSTACK_FLAG)
            return -EINVAL;
        if (mode == SS_DISABLE_FLAG) {
            memset(&t->altstack, 0, sizeof(t->altstack));
        } else {
            if (ns.ss_size < MINSIGSTKSZ_LINUX)
                return -ENOMEM;
            t->altstack.ss_sp = ns.ss_sp;
            t->altstack.ss_size = ns.ss_size;
            t->altstack.ss_flags = (int32_t)(ns.ss_flags & SS_AUTODISARM);
        }
    }
    if (a->arg[1] && copy_out(t, a->arg[1], &old, sizeof(old)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(sigaltstack, sys_sigaltstack, "pp", SYS_FULL, NULL);

static long sys_rt_sigpending(struct task *t, const struct sys_args *a)
{
    if (a->arg[1] > SIGSET_SIZE)
        return -EINVAL;
    pthread_mutex_lock(&t->tg->sighand->lock);
    uint64_t set = (t->pending.set | t->tg->shared_pending.set) & t->sigmask;
    pthread_mutex_unlock(&t->tg->sighand->lock);
    return copy_out(t, a->arg[0], &set, a->arg[1]);
}
SYSCALL_DEFINE(rt_sigpending, sys_rt_sigpending, "pu", SYS_FULL, NULL);

/* Sleeps until a signal is delivered: the restart code makes the
 * dispatcher's delivery step turn it into -EINTR after the handler. */
static long wait_for_signal(struct task *t)
{
    for (;;) {
        uint32_t seq = task_wake_seq(t);
        if (signal_pending(t))
            return -ERESTARTNOHAND;
        task_sleep(t, seq, 0);
    }
}

static long sys_pause(struct task *t, const struct sys_args *a)
{
    return wait_for_signal(t);
}
SYSCALL_DEFINE(pause, sys_pause, "", SYS_FULL, NULL);

static long sys_rt_sigsuspend(struct task *t, const struct sys_args *a)
{
    uint64_t set;
    if (a->arg[1] != SIGSET_SIZE)
        return -EINVAL;
    if (copy_in(t, &set, a->arg[0], sizeof(set)) < 0)
        return -EFAULT;
    signal_set_temporary_mask(t, set);
    return wait_for_signal(t);
}
SYSCALL_DEFINE(rt_sigsuspend, sys_rt_sigsuspend, "pu", SYS_FULL, NULL);

/* kill(2) targets: a process, the caller's group, a group, or everyone.
 * Linux's rules for who may signal whom are in signal_may_send_locked(). */
static long do_kill(struct task *t, int pid, int sig, const struct linux_siginfo *info)
{
    if (sig < 0 || sig > LINUX_NSIG)
        return -EINVAL;
    long r = -ESRCH;
    pthread_mutex_lock(&g_tasks_lock);
    if (pid > 0) {
        struct thread_group *tg = task_lookup_tg_locked(pid);
        if (!tg)
            r = -ESRCH;
        else if (!signal_may_send_locked(t, tg->leader, tg, sig))
            r = -EPERM;
        else
            r = sig ? signal_send_tg_locked(tg, sig, info, false) : 0;
    } else if (pid == -1) {
        /* Every process but init and the caller; EPERM alone is no error. */
        int count = 0;
        r = 0;
        struct thread_group *tg;
        list_for_each_entry(tg, task_all_tgs(), all) {
            if (tg->pid == 1 || tg == t->tg)
                continue;
            count++;
            int e = !signal_may_send_locked(t, tg->leader, tg, sig) ? -EPERM
                    : sig                                           ? signal_send_tg_locked(tg, sig, info, false)
                                                                    : 0;
            if (e != -EPERM)
                r = e;
        }
        if (!count)
            r = -ESRCH;
    } else {
        /* A process group: success if any member got it. */
        int pgid = pid == 0 ? t->tg->pgid : -pid;
        bool success = false;
        struct thread_group *tg;
        list_for_each_entry(tg, task_all_tgs(), all) {
            if (tg->pgid != pgid)
                continue;
            int e = !signal_may_send_locked(t, tg->leader, tg, sig) ? -EPERM
                    : sig                                           ? signal_send_tg_locked(tg, sig, info, false)
                                                                    : 0;
            success |= e == 0;
            r = e;
        }
        if (success)
            r = 0;
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}

static void user_siginfo(struct task *t, int sig, int code, struct linux_siginfo *out)
{
    memset(out, 0, sizeof(*out));
    out->si_signo = sig;
    out->si_code = code;
    out->kill.pid = t->tg->pid;
    out->kill.uid = t->cred.uid;
}

#define SI_USER_C  0
#define SI_TKILL_C (-6)

static long sys_kill(struct task *t, const struct sys_args *a)
{
    struct linux_siginfo info;
    user_siginfo(t, (int)a->arg[1], SI_USER_C, &info);
    return do_kill(t, (int)a->arg[0], (int)a->arg[1], &info);
}
SYSCALL_DEFINE(kill, sys_kill, "dd", SYS_FULL, NULL);

static long do_tkill(struct task *t, int tgid, int tid, int sig,
                     const struct linux_siginfo *info)
{
    if (tid <= 0 || (tgid != -1 && tgid <= 0) || sig < 0 || sig > LINUX_NSIG)
        return -EINVAL;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *target = task_lookup_tid_locked(tid);
    long r = -ESRCH;
    if (target && (tgid == -1 || target->tg->pid == tgid)) {
        if (!signal_may_send_locked(t, target, target->tg, sig))
            r = -EPERM;
        else
            r = sig ? signal_send_task_locked(target, sig, info) : 0;
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}

static long sys_tkill(struct task *t, const struct sys_args *a)
{
    struct linux_siginfo info;
    user_siginfo(t, (int)a->arg[1], SI_TKILL_C, &info);
    return do_tkill(t, -1, (int)a->arg[0], (int)a->arg[1], &info);
}
SYSCALL_DEFINE(tkill, sys_tkill, "dd", SYS_FULL, NULL);

static long sys_tgkill(struct task *t, const struct sys_args *a)
{
    struct linux_siginfo info;
    user_siginfo(t, (int)a->arg[2], SI_TKILL_C, &info);
    return do_tkill(t, (int)a->arg[0], (int)a->arg[1], (int)a->arg[2], &info);
}
SYSCALL_DEFINE(tgkill, sys_tgkill, "ddd", SYS_FULL, NULL);

static long sys_rt_sigqueueinfo(struct task *t, const struct sys_args *a)
{
    struct linux_siginfo info;
    if (copy_in(t, &info, a->arg[2], sizeof(info)) < 0)
        return -EFAULT;
    /* Only the kernel may claim SI_USER or kernel codes for another
     * process (Linux: EPERM). */
    if ((info.si_code >= 0 || info.si_code == SI_TKILL_C) && (int)a->arg[0] != t->tid)
        return -EPERM;
    info.si_signo = (int)a->arg[1];
    return do_kill(t, (int)a->arg[0], (int)a->arg[1], &info);
}
SYSCALL_DEFINE(rt_sigqueueinfo, sys_rt_sigqueueinfo, "ddp", SYS_FULL, NULL);

static long sys_rt_tgsigqueueinfo(struct task *t, const struct sys_args *a)
{
    int tgid = (int)a->arg[0], tid = (int)a->arg[1], sig = (int)a->arg[2];
    if (tgid <= 0 || tid <= 0)
        return -EINVAL;
    struct linux_siginfo info;
    if (copy_in(t, &info, a->arg[3], sizeof(info)) < 0)
        return -EFAULT;
    if ((info.si_code >= 0 || info.si_code == SI_TKILL_C) && tid != t->tid)
        return -EPERM;
    info.si_signo = sig;
    return do_tkill(t, tgid, tid, sig, &info);
}
SYSCALL_DEFINE(rt_tgsigqueueinfo, sys_rt_tgsigqueueinfo, "dddp", SYS_FULL, NULL);

static long sys_rt_sigtimedwait(struct task *t, const struct sys_args *a)
{
    uint64_t set;
    if (a->arg[3] != SIGSET_SIZE)
        return -EINVAL;
    if (copy_in(t, &set, a->arg[0], sizeof(set)) < 0)
        return -EFAULT;
    set &= ~UNBLOCKABLE;
    uint64_t deadline = 0;
    bool poll_only = false;
    if (a->arg[2]) {
        struct linux_timespec ts;
        if (copy_in(t, &ts, a->arg[2], sizeof(ts)) < 0)
            return -EFAULT;
        if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000)
            return -EINVAL;
        uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        if (ns == 0)
            poll_only = true;
        else
            deadline = host_monotonic_ns() + ns;
    }
    struct linux_siginfo info;
    int sig = signal_dequeue_set(t, set, &info);
    if (!sig && !poll_only) {
        /* While waiting, the signals in SET are unblocked so that their
         * arrival wakes us; the mask comes back before we return. */
        uint64_t saved = t->sigmask;
        __atomic_store_n(&t->real_blocked, saved, __ATOMIC_RELEASE);
        __atomic_store_n(&t->sigmask, saved & ~set, __ATOMIC_RELEASE);
        for (;;) {
            uint32_t seq = task_wake_seq(t);
            sig = signal_dequeue_set(t, set, &info);
            if (sig || signal_pending(t))
                break;
            if (task_sleep(t, seq, deadline) == -ETIMEDOUT) {
                sig = signal_dequeue_set(t, set, &info);
                break;
            }
        }
        __atomic_store_n(&t->sigmask, saved, __ATOMIC_RELEASE);
        __atomic_store_n(&t->real_blocked, 0, __ATOMIC_RELEASE);
        if (!sig && !deadline)
            return -ERESTARTNOHAND; /* another signal came in */
        if (!sig && host_monotonic_ns() < deadline)
            return -ERESTARTNOHAND;
    }
    if (!sig)
        return -EAGAIN;
    if (a->arg[1] && copy_out(t, a->arg[1], &info, sizeof(info)) < 0)
        return -EFAULT;
    return sig;
}
SYSCALL_DEFINE(rt_sigtimedwait, sys_rt_sigtimedwait, "pppu", SYS_FULL, NULL);
