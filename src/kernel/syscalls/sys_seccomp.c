/*
 * seccomp. (prctl's PR_SET_SECCOMP and PR_GET_SECCOMP are in sys_task.c.)
 */
#include "kernel/seccomp/seccomp.h"
#include "kernel/syscalls/syscall.h"
#include "lib/log.h"

/* struct seccomp_notif_sizes: what user notification would exchange. */
struct seccomp_notif_sizes {
    uint16_t seccomp_notif;
    uint16_t seccomp_notif_resp;
    uint16_t seccomp_data;
};

static long seccomp_action_avail(struct task *t, unsigned int flags, uint64_t uaction)
{
    uint32_t action;
    if (flags)
        return -EINVAL;
    if (copy_in(t, &action, uaction, sizeof(action)) < 0)
        return -EFAULT;
    switch (action) {
    case SECCOMP_RET_KILL_PROCESS:
    case SECCOMP_RET_KILL_THREAD:
    case SECCOMP_RET_TRAP:
    case SECCOMP_RET_ERRNO:
    case SECCOMP_RET_USER_NOTIF:
    case SECCOMP_RET_TRACE:
    case SECCOMP_RET_LOG:
    case SECCOMP_RET_ALLOW:
        return 0;
    }
    return -EOPNOTSUPP;
}

static long sys_seccomp(struct task *t, const struct sys_args *a)
{
    unsigned int op = (unsigned int)a->arg[0];
    unsigned int flags = (unsigned int)a->arg[1];
    uint64_t uargs = a->arg[2];
    switch (op) {
    case SECCOMP_SET_MODE_STRICT:
        return seccomp_set_mode_strict(t, flags, uargs);
    case SECCOMP_SET_MODE_FILTER:
        return seccomp_set_mode_filter(t, flags, uargs);
    case SECCOMP_GET_ACTION_AVAIL:
        return seccomp_action_avail(t, flags, uargs);
    case SECCOMP_GET_NOTIF_SIZES: {
        if (flags)
            return -EINVAL;
        struct seccomp_notif_sizes s = {80, 24, sizeof(struct seccomp_data)};
        return copy_out(t, uargs, &s, sizeof(s)) < 0 ? -EFAULT : 0;
    }
    default:
        return -EINVAL;
    }
}
SYSCALL_DEFINE(seccomp, sys_seccomp, "uxp", SYS_PARTIAL,
               "classic-BPF filters, stacking, TSYNC, all actions; TRACE and USER_NOTIF "
               "return ENOSYS (no tracer, no listener); NEW_LISTENER EINVAL");
