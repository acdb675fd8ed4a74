/*
 * Futexes: futex, set_robust_list's companion get_robust_list.
 * (set_robust_list is in sys_task.c with the other per-thread settings.)
 */
#include <errno.h>

#include "kernel/ipc/futex.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task_internal.h"

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
    uint64_t head;
    if (pid == 0 || pid == t->tid) {
        head = t->robust_list;
    } else {
        /* Another thread: ptrace read access with real credentials, as
         * Linux's ptrace_may_access(PTRACE_MODE_READ_REALCREDS). */
        pthread_mutex_lock(&g_tasks_lock);
        struct task *x = pid > 0 ? task_lookup_tid_locked(pid) : NULL;
        long r = 0;
        if (!x)
            r = -ESRCH;
        else if (x->tg != t->tg && !cred_may_ptrace_read(&t->cred, &x->cred, false))
            r = -EPERM;
        else
            head = __atomic_load_n(&x->robust_list, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&g_tasks_lock);
        if (r < 0)
            return r;
    }
    uint64_t len = 24; /* sizeof(struct robust_list_head) */
    if (copy_out(t, a->arg[2], &len, sizeof(len)) < 0 ||
        copy_out(t, a->arg[1], &head, sizeof(head)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(get_robust_list, sys_get_robust_list, "dpp", SYS_FULL, NULL);
