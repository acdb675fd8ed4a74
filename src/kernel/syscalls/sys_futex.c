/*
 * Futexes: futex, set_robust_list's companion get_robust_list.
 * (set_robust_list is in sys_task.c with the other per-thread settings.)
 */
#include <errno.h>

#include "kernel/ipc/futex.h"
#include "kernel/syscalls/syscall.h"

static long sys_futex(struct task *t, const struct sys_args *a)
{
    return futex_op(t, a->arg[0], (int)a->arg[1], (uint32_t)a->arg[2], a->arg[3], a->arg[4],
                    (uint32_t)a->arg[5]);
}
SYSCALL_DEFINE(futex, sys_futex, "pxupux", SYS_PARTIAL,
               "PI futexes (and requeue-PI) without priority boosting");

static long sys_get_robust_list(struct task *t, const struct sys_args *a)
{
    int pid = (int)a->arg[0];
    if (pid != 0 && pid != t->tid)
        return -EPERM; /* FIXME(issue 4): other threads' lists */
    uint64_t len = 24;
    if (copy_out(t, a->arg[1], &t->robust_list, sizeof(uint64_t)) < 0 ||
        copy_out(t, a->arg[2], &len, sizeof(len)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(get_robust_list, sys_get_robust_list, "dpp", SYS_PARTIAL,
               "the caller's own list only");
