/*
 * Signal state: rt_sigaction, rt_sigprocmask, sigaltstack.
 *
 * FIXME(issue 4): delivery (frames, rt_sigreturn, restart), kill/tgkill,
 * sigsuspend, sigtimedwait. Until then handlers are recorded and masks kept,
 * as apps set them up at start, and fatal signals take their default action.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "kernel/syscalls/syscall.h"

#define SIGSET_SIZE 8
#define SIG_BIT(s)  (1ULL << ((s)-1))
#define UNBLOCKABLE (SIG_BIT(SIGKILL) | SIG_BIT(SIGSTOP))

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
    if (a->arg[1])
        sh->action[sig - 1] = act;
    pthread_mutex_unlock(&sh->lock);
    if (a->arg[2] && copy_out(t, a->arg[2], &old, sizeof(old)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(rt_sigaction, sys_rt_sigaction, "dppu", SYS_PARTIAL,
               "actions recorded; delivery to handlers comes with issue 4");

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
    }
    if (a->arg[2] && copy_out(t, a->arg[2], &old, sizeof(old)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(rt_sigprocmask, sys_rt_sigprocmask, "dppu", SYS_PARTIAL,
               "mask kept; delivery comes with issue 4");
