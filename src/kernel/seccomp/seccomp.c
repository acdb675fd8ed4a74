/*
 * seccomp for apps: filter chains, installing them (with TSYNC), and the
 * actions taken on a syscall.
 *
 * Why the dispatch path reads t->seccomp_filter without a lock or a
 * reference: only T itself and a TSYNC in another thread of its process
 * change it, both under g_tasks_lock. TSYNC only ever replaces a chain by
 * one that contains it (it refuses threads whose chain is not an ancestor
 * of the caller's), so the chain T is walking stays referenced by the new
 * one:
 *
 *   T (dispatch)                    U (seccomp TSYNC)
 *   f = load(t->seccomp_filter)
 *   bpf_run(f ...)                  new->prev ... -> f  (counted)
 *                                   xchg(t->seccomp_filter, new); put(f)
 *   bpf_run(f->prev ...)            f still held by new's chain
 */
#include "kernel/seccomp/seccomp.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/errno.h"
#include "abi/linux/syscall_nr.h"
#include "kernel/mm/mm.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "lib/log.h"

/* Linux's MAX_INSNS_PER_PATH: the chain, counting 4 extra per filter. */
#define SECCOMP_MAX_PATH_INSNS 32768
#define LINUX_MAX_ERRNO        4095

static void seccomp_filter_put(struct seccomp_filter *f)
{
    /* Iterative: a chain may be thousands of filters deep. */
    while (f && refcount_dec(&f->ref)) {
        struct seccomp_filter *prev = f->prev;
        free(f);
        f = prev;
    }
}

static struct seccomp_filter *seccomp_filter_load(struct task *t)
{
    return __atomic_load_n(&t->seccomp_filter, __ATOMIC_ACQUIRE);
}

void seccomp_task_inherit(struct task *child, struct task *parent)
{
    struct seccomp_filter *f = seccomp_filter_load(parent);
    if (f)
        refcount_inc(&f->ref);
    child->seccomp_filter = f;
    child->seccomp_mode = __atomic_load_n(&parent->seccomp_mode, __ATOMIC_ACQUIRE);
}

void seccomp_task_release(struct task *t)
{
    seccomp_filter_put(t->seccomp_filter);
    t->seccomp_filter = NULL;
}

int seccomp_get_mode(struct task *t)
{
    return __atomic_load_n(&t->seccomp_mode, __ATOMIC_ACQUIRE);
}

int seccomp_filter_count(struct task *t)
{
    struct seccomp_filter *f = seccomp_filter_load(t);
    return f ? (int)f->depth : 0;
}

/* ---- actions ---- */

/* SECCOMP_RET_TRAP: a forced SIGSYS carrying the syscall. A handler the
 * app installed sees the full siginfo; blocked or ignored, the default
 * action (a core-dump kill) applies, as Linux's force_sig_seccomp. */
static void seccomp_send_sigsys(struct task *t, int nr, uint32_t data)
{
    struct linux_siginfo info;
    memset(&info, 0, sizeof(info));
    info.si_signo = SIGSYS;
    info.si_errno = (int32_t)data;
    info.si_code = LINUX_SYS_SECCOMP;
    struct seccomp_sigsys sys = {t->regs.rip, nr, LINUX_AUDIT_ARCH_X86_64};
    memcpy(info.raw, &sys, sizeof(sys));

    struct sighand *sh = t->tg->sighand;
    pthread_mutex_lock(&g_tasks_lock);
    pthread_mutex_lock(&sh->lock);
    uint64_t h = sh->action[SIGSYS - 1].handler;
    bool caught = !(t->sigmask & SIG_BIT(SIGSYS)) && h != (uint64_t)(uintptr_t)SIG_DFL &&
                  h != (uint64_t)(uintptr_t)SIG_IGN;
    pthread_mutex_unlock(&sh->lock);
    if (caught)
        signal_send_task_locked(t, SIGSYS, &info);
    pthread_mutex_unlock(&g_tasks_lock);
    if (!caught)
        signal_force_fault(t, SIGSYS, LINUX_SYS_SECCOMP, t->regs.rip);
}

/* Ends T (its thread only) with the signal SIG as its status, as Linux's
 * do_exit(SIG); if it is the last thread, the process ends so. */
static void seccomp_exit_thread(struct task *t, int sig)
{
    t->exit_code = sig;
    t->exiting = true;
}

static void seccomp_kill(struct task *t, uint32_t action)
{
    pthread_mutex_lock(&g_tasks_lock);
    int nr_threads = t->tg->nr_threads;
    pthread_mutex_unlock(&g_tasks_lock);
    /* KILL_THREAD of the last thread (and any unknown action) ends the
     * process as KILL_PROCESS does. */
    if (action == SECCOMP_RET_KILL_THREAD && nr_threads > 1)
        seccomp_exit_thread(t, SIGSYS);
    else
        task_exit_group(t, SIGSYS);
}

static bool seccomp_strict_allowed(struct task *t, uint64_t nr)
{
    switch (nr) {
    case LINUX_SYS_read:
    case LINUX_SYS_write:
    case LINUX_SYS_exit:
    case LINUX_SYS_rt_sigreturn:
        return true;
    }
    log_debug("seccomp strict mode: syscall %llu kills task %d", (unsigned long long)nr, t->tid);
    seccomp_exit_thread(t, SIGKILL);
    return false;
}

bool seccomp_syscall_allowed(struct task *t, uint64_t nr, const uint64_t args[6], long *out_ret)
{
    int mode = seccomp_get_mode(t);
    if (mode == SECCOMP_MODE_STRICT) {
        *out_ret = -ENOSYS;
        return seccomp_strict_allowed(t, nr);
    }
    struct seccomp_data d = {
            .nr = (int32_t)nr,
            .arch = LINUX_AUDIT_ARCH_X86_64,
            .instruction_pointer = t->regs.rip,
    };
    memcpy(d.args, args, sizeof(d.args));

    /* Newest first; the most restrictive action wins, the newest among
     * equals. */
    uint32_t ret = SECCOMP_RET_ALLOW;
    const struct seccomp_filter *match = NULL;
    for (const struct seccomp_filter *f = seccomp_filter_load(t); f; f = f->prev) {
        uint32_t cur = bpf_run(f->prog, &d);
        if ((int32_t)(cur & SECCOMP_RET_ACTION_FULL) < (int32_t)(ret & SECCOMP_RET_ACTION_FULL)) {
            ret = cur;
            match = f;
        }
    }
    uint32_t action = ret & SECCOMP_RET_ACTION_FULL;
    uint32_t data = ret & SECCOMP_RET_DATA;
    if (action != SECCOMP_RET_ALLOW && ((match && match->log) || action == SECCOMP_RET_LOG))
        log_debug("seccomp: task %d syscall %d action %#x data %u", t->tid, d.nr, action, data);
    switch (action) {
    case SECCOMP_RET_ALLOW:
    case SECCOMP_RET_LOG:
        return true;
    case SECCOMP_RET_ERRNO:
        *out_ret = -(long)(data > LINUX_MAX_ERRNO ? LINUX_MAX_ERRNO : data);
        return false;
    case SECCOMP_RET_TRAP:
        seccomp_send_sigsys(t, d.nr, data);
        /* The app's rax is rolled back to the syscall number. */
        *out_ret = (long)nr;
        return false;
    case SECCOMP_RET_TRACE:
    case SECCOMP_RET_USER_NOTIF:
        /* No tracer and no listener (moat has neither): as Linux then. */
        *out_ret = -ENOSYS;
        return false;
    default:
        seccomp_kill(t, action);
        *out_ret = -ENOSYS;
        return false;
    }
}

/* ---- installing ---- */

long seccomp_set_mode_strict(struct task *t, unsigned int flags, uint64_t uargs)
{
    if (flags || uargs)
        return -EINVAL;
    long r = 0;
    pthread_mutex_lock(&g_tasks_lock);
    int mode = seccomp_get_mode(t);
    if (mode != SECCOMP_MODE_DISABLED && mode != SECCOMP_MODE_STRICT)
        r = -EINVAL;
    else
        __atomic_store_n(&t->seccomp_mode, SECCOMP_MODE_STRICT, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}

/* struct sock_fprog as the app passes it. */
struct seccomp_fprog {
    uint16_t len;
    uint16_t pad[3];
    uint64_t filter;
};

/* Copies and checks the app's program. 0 or -errno; *out_f is new. */
/* A new filter holding a copy of PROG (LEN instructions, validated). */
static int seccomp_filter_from(const struct bpf_insn *prog, uint32_t len, unsigned int flags,
                               struct seccomp_filter **out_f)
{
    if (len == 0 || len > BPF_MAXINSNS)
        return -EINVAL;
    struct seccomp_filter *f = calloc(1, sizeof(*f) + len * sizeof(struct bpf_insn));
    if (!f)
        return -ENOMEM;
    refcount_init(&f->ref);
    f->len = len;
    f->log = (flags & SECCOMP_FILTER_FLAG_LOG) != 0;
    memcpy(f->prog, prog, len * sizeof(struct bpf_insn));
    int r = bpf_validate(f->prog, f->len);
    if (r < 0) {
        free(f);
        return r;
    }
    *out_f = f;
    return 0;
}

static int seccomp_filter_new(struct task *t, uint64_t uprog, unsigned int flags,
                              struct seccomp_filter **out_f)
{
    struct seccomp_fprog fp;
    if (mm_copy_in(t->mm, &fp, uprog, sizeof(fp)) < 0)
        return -EFAULT;
    if (fp.len == 0 || fp.len > BPF_MAXINSNS)
        return -EINVAL;
    /* Without no_new_privs, a filter could make a set-uid program
     * misbehave: only a privileged caller may skip it (seccomp(2)). */
    if (!t->no_new_privs && !task_capable(t, CAP_SYS_ADMIN))
        return -EACCES;
    if (!fp.filter)
        return -EINVAL;
    struct bpf_insn *prog = malloc(fp.len * sizeof(struct bpf_insn));
    if (!prog)
        return -ENOMEM;
    if (mm_copy_in(t->mm, prog, fp.filter, fp.len * sizeof(struct bpf_insn)) < 0) {
        free(prog);
        return -EFAULT;
    }
    int r = seccomp_filter_from(prog, fp.len, flags, out_f);
    free(prog);
    return r;
}

static bool seccomp_is_ancestor(const struct seccomp_filter *anc, const struct seccomp_filter *f)
{
    if (!anc)
        return true;
    for (; f; f = f->prev)
        if (f == anc)
            return true;
    return false;
}

/* Installs F (consumed: its reference goes to O) as O's newest filter.
 * Caller holds g_tasks_lock. */
static void seccomp_install_locked(struct task *o, struct seccomp_filter *f)
{
    struct seccomp_filter *old = __atomic_exchange_n(&o->seccomp_filter, f, __ATOMIC_ACQ_REL);
    __atomic_store_n(&o->seccomp_mode, SECCOMP_MODE_FILTER, __ATOMIC_RELEASE);
    /* old is an ancestor of f: the put never frees what O may be walking. */
    seccomp_filter_put(old);
}

static long seccomp_attach(struct task *t, unsigned int flags, struct seccomp_filter *f);

long seccomp_set_mode_filter(struct task *t, unsigned int flags, uint64_t uprog)
{
    const unsigned int known = SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
                               SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_NEW_LISTENER |
                               SECCOMP_FILTER_FLAG_TSYNC_ESRCH |
                               SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    if (flags & ~known)
        return -EINVAL;
    if ((flags & SECCOMP_FILTER_FLAG_TSYNC) && (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) &&
        !(flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH))
        return -EINVAL;
    if ((flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) &&
        !(flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
        return -EINVAL;

    struct seccomp_filter *f;
    int r = seccomp_filter_new(t, uprog, flags, &f);
    if (r < 0)
        return r;
    if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        /* FIXME: user notification needs a listener fd (seccomp_unotify(2));
         * remove once moat implements it. */
        log_warn_once("seccomp: SECCOMP_FILTER_FLAG_NEW_LISTENER is not supported yet");
        seccomp_filter_put(f);
        return -EINVAL;
    }
    return seccomp_attach(t, flags, f);
}

long seccomp_install_prog(struct task *t, const struct bpf_insn *prog, uint32_t len,
                          unsigned int flags)
{
    if (flags & ~(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
                  SECCOMP_FILTER_FLAG_SPEC_ALLOW))
        return -EINVAL;
    struct seccomp_filter *f;
    int r = seccomp_filter_from(prog, len, flags, &f);
    if (r < 0)
        return r;
    return seccomp_attach(t, flags, f);
}

/* Stacks F (consumed) on T's chain, and its threads' with TSYNC. 0, a
 * thread id (TSYNC failed on that thread) or -errno. */
static long seccomp_attach(struct task *t, unsigned int flags, struct seccomp_filter *f)
{
    long ret = 0;
    pthread_mutex_lock(&g_tasks_lock);
    struct seccomp_filter *cur = seccomp_filter_load(t);
    int mode = seccomp_get_mode(t);
    if (mode != SECCOMP_MODE_DISABLED && mode != SECCOMP_MODE_FILTER) {
        ret = -EINVAL;
        goto out_unlock;
    }
    struct task *o;
    if (flags & SECCOMP_FILTER_FLAG_TSYNC) {
        list_for_each_entry (o, &t->tg->threads, thread_node) {
            if (o == t)
                continue;
            int om = seccomp_get_mode(o);
            if (om == SECCOMP_MODE_DISABLED ||
                (om == SECCOMP_MODE_FILTER && seccomp_is_ancestor(seccomp_filter_load(o), cur)))
                continue;
            ret = (flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH) ? -ESRCH : o->tid;
            goto out_unlock;
        }
    }
    f->path_insns = f->len + 4 + (cur ? cur->path_insns : 0);
    if (f->path_insns > SECCOMP_MAX_PATH_INSNS) {
        ret = -ENOMEM;
        goto out_unlock;
    }
    f->depth = 1 + (cur ? cur->depth : 0);
    if (cur)
        refcount_inc(&cur->ref);
    f->prev = cur;
    if (flags & SECCOMP_FILTER_FLAG_TSYNC) {
        list_for_each_entry (o, &t->tg->threads, thread_node) {
            if (o == t)
                continue;
            refcount_inc(&f->ref);
            /* As Linux: the synced threads get no_new_privs with the filter. */
            if (t->no_new_privs)
                o->no_new_privs = true;
            seccomp_install_locked(o, f);
        }
    }
    seccomp_install_locked(t, f);
    f = NULL;
out_unlock:
    pthread_mutex_unlock(&g_tasks_lock);
    seccomp_filter_put(f);
    return ret;
}
