/*
 * Signal sending, delivery and return (see signal.h).
 *
 * FIXME(issue 4): with one thread per process, a process-directed signal
 * goes to the leader; thread selection comes with CLONE_THREAD.
 */
#include "kernel/signal/signal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "abi/linux/errno.h"
#include "abi/linux/syscall_nr.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "lib/log.h"
#include "lib/util.h"

struct sigqueue {
    struct list_head link;
    struct linux_siginfo info;
    struct sigqueue_owner *owner; /* or NULL */
    uint32_t uid;                 /* (c) the real uid charged for it (RLIMIT_SIGPENDING) */
    bool charged;                 /* (c) false for an owner's entry (charged at its creation) */
};

/* RLIMIT_SIGPENDING: queued entries per real uid of the receiver, across
 * the sandbox (Linux counts per user of the user namespace). */
struct sigq_user {
    uint32_t uid;
    uint64_t count;
};
static pthread_mutex_t g_sigq_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigq_user *g_sigq_users; /* (q) g_sigq_lock */
static size_t g_sigq_nusers;           /* (q) */

/* Charges one entry to UID: true if that keeps its count within LIMIT
 * (or OVERRIDE: counted anyway), false (nothing charged) otherwise. */
static bool sigq_charge(uint32_t uid, uint64_t limit, bool override)
{
    bool ok = false;
    pthread_mutex_lock(&g_sigq_lock);
    struct sigq_user *u = NULL;
    for (size_t i = 0; i < g_sigq_nusers; i++)
        if (g_sigq_users[i].uid == uid)
            u = &g_sigq_users[i];
    if (!u) {
        struct sigq_user *n = realloc(g_sigq_users, (g_sigq_nusers + 1) * sizeof(*n));
        if (n) {
            g_sigq_users = n;
            u = &n[g_sigq_nusers++];
            *u = (struct sigq_user){.uid = uid};
        }
    }
    if (u && (override || u->count + 1 <= limit)) {
        u->count++;
        ok = true;
    }
    pthread_mutex_unlock(&g_sigq_lock);
    return ok;
}

static void sigq_uncharge(uint32_t uid)
{
    pthread_mutex_lock(&g_sigq_lock);
    for (size_t i = 0; i < g_sigq_nusers; i++) {
        if (g_sigq_users[i].uid == uid && g_sigq_users[i].count) {
            g_sigq_users[i].count--;
            break;
        }
    }
    pthread_mutex_unlock(&g_sigq_lock);
}

int signal_charge_prealloc(struct task *t, uint32_t *out_uid)
{
    uint64_t limit = __atomic_load_n(&t->tg->rlim[RLIMIT_SIGPENDING].rlim_cur, __ATOMIC_RELAXED);
    if (!sigq_charge(t->cred.uid, limit, false))
        return -EAGAIN;
    *out_uid = t->cred.uid;
    return 0;
}

void signal_uncharge_prealloc(uint32_t uid)
{
    sigq_uncharge(uid);
}

/* Unlinks and frees Q. Caller holds sighand->lock (or owns P alone). */
static void sigqueue_free(struct sigqueue *q)
{
    list_del(&q->link);
    if (q->charged)
        sigq_uncharge(q->uid);
    if (q->owner) {
        q->owner->queued = false;
        q->owner->overrun = 0;
    }
    free(q);
}

#define SI_USER_CODE   0
#define SI_KERNEL_CODE 0x80
#define FIX_EFLAGS     0x50dd5ULL /* AC OF DF TF SF ZF AF PF CF RF: restorable by the app */
#define USER_CS        0x33
#define USER_SS        0x2b
#define RED_ZONE       128
#define SS_ONSTACK_F   1
#define SS_DISABLE_F   2

void sigpending_init(struct sigpending *p)
{
    p->set = 0;
    list_init(&p->queue);
}

void sigpending_flush(struct sigpending *p)
{
    struct sigqueue *q, *n;
    list_for_each_entry_safe(q, n, &p->queue, link)
        sigqueue_free(q);
    p->set = 0;
}

/* Removes every queued SIG from P. */
static void sigpending_remove(struct sigpending *p, int sig)
{
    struct sigqueue *q, *n;
    list_for_each_entry_safe(q, n, &p->queue, link) {
        if (q->info.si_signo == sig)
            sigqueue_free(q);
    }
    __atomic_and_fetch(&p->set, ~SIG_BIT(sig), __ATOMIC_RELEASE);
}

enum sig_default signal_default_action(int sig)
{
    switch (sig) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
        return SIGDFL_IGNORE;
    case SIGCONT:
        return SIGDFL_CONT;
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
        return SIGDFL_STOP;
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
        return SIGDFL_CORE;
    default:
        return SIGDFL_TERM;
    }
}

static uint64_t handler_of(struct thread_group *tg, int sig)
{
    return tg->sighand->action[sig - 1].handler;
}

static bool is_ignored_locked(struct thread_group *tg, int sig)
{
    uint64_t h = handler_of(tg, sig);
    if (h == (uint64_t)(uintptr_t)SIG_IGN)
        return true;
    return h == (uint64_t)(uintptr_t)SIG_DFL && signal_default_action(sig) == SIGDFL_IGNORE;
}

/* Makes T notice a signal: wakes it if it sleeps in the kernel, stops its
 * app code if it runs. Caller holds sighand->lock. */
void signal_kick_locked(struct task *t)
{
    task_wake(t);
    struct platform_ctx *ctx = __atomic_load_n(&t->ctx, __ATOMIC_ACQUIRE);
    if (t->in_app && ctx)
        g_platform->ctx_interrupt(ctx);
}

/* Queues SIG with INFO on P, for the receiving thread RCV (its real uid
 * is charged, within its RLIMIT_SIGPENDING; NULL: not counted). */
static int queue_locked(struct sigpending *p, int sig, const struct linux_siginfo *info,
                        struct sigqueue_owner *owner, struct task *rcv)
{
    if (owner && owner->queued) {
        owner->overrun += 1 + info->timer.overrun;
        return 0;
    }
    /* Standard signals do not queue twice. */
    if (sig < LINUX_SIGRTMIN && (p->set & SIG_BIT(sig)))
        return 0;
    /* As Linux's __send_signal_locked: standard signals from the kernel
     * or kill() are queued past RLIMIT_SIGPENDING (counted all the same);
     * a timer's entry was charged when the timer was made. Past the limit a real-time signal with
     * queued info (sigqueue, tgkill's SI_TKILL…) fails with EAGAIN; any
     * other signal is still made pending, without its info. */
    bool special = !info;
    bool override = sig < LINUX_SIGRTMIN && (special || info->si_code >= 0);
    uint32_t uid = rcv ? rcv->cred.uid : 0;
    uint64_t limit = rcv ? __atomic_load_n(&rcv->tg->rlim[RLIMIT_SIGPENDING].rlim_cur,
                                           __ATOMIC_RELAXED)
                         : UINT64_MAX;
    struct sigqueue *q = NULL;
    if (owner) {
        q = calloc(1, sizeof(*q)); /* charged when its owner was made */
    } else if (sigq_charge(uid, limit, override)) {
        q = calloc(1, sizeof(*q));
        if (!q)
            sigq_uncharge(uid);
    }
    if (!q) {
        if (!special && sig >= LINUX_SIGRTMIN && info->si_code != SI_USER_CODE)
            return -EAGAIN;
        /* Pending without its info (dequeued as SI_USER from pid 0). */
        __atomic_or_fetch(&p->set, SIG_BIT(sig), __ATOMIC_RELEASE);
        return 0;
    }
    q->uid = uid;
    q->charged = !owner;
    if (info) {
        q->info = *info;
    } else {
        q->info.si_code = SI_KERNEL_CODE;
    }
    q->info.si_signo = sig;
    if (owner) {
        q->owner = owner;
        owner->queued = true;
        owner->overrun = info->timer.overrun;
    }
    list_add_tail(&q->link, &p->queue);
    __atomic_or_fetch(&p->set, SIG_BIT(sig), __ATOMIC_RELEASE);
    return 0;
}

static void kick_all_locked(struct thread_group *tg)
{
    struct task *t;
    list_for_each_entry(t, &tg->threads, thread_node)
        signal_kick_locked(t);
}

/* Stop and continue take effect when sent, as in Linux. */
static void stop_cont_side_effects_locked(struct thread_group *tg, int sig)
{
    struct task *t;
    if (sig == SIGCONT) {
        static const int stops[] = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU};
        for (size_t i = 0; i < ARRAY_SIZE(stops); i++) {
            sigpending_remove(&tg->shared_pending, stops[i]);
            list_for_each_entry(t, &tg->threads, thread_node)
                sigpending_remove(&t->pending, stops[i]);
        }
        if (tg->stopped) {
            tg->stopped = false;
            tg->stop_report = 0xffff; /* WIFCONTINUED */
            if (tg->parent) {
                struct linux_siginfo ci = {.si_code = CLD_CONTINUED};
                ci.chld.pid = tg->pid;
                ci.chld.status = SIGCONT;
                if (!(tg->parent->sighand->action[SIGCHLD - 1].flags & SA_NOCLDSTOP))
                    signal_send_tg_locked(tg->parent, SIGCHLD, &ci, true);
                waitq_wake_all(&tg->parent->child_wq);
            }
            list_for_each_entry(t, &tg->threads, thread_node)
                task_wake(t);
        }
    } else if (signal_default_action(sig) == SIGDFL_STOP || sig == SIGSTOP) {
        sigpending_remove(&tg->shared_pending, SIGCONT);
        list_for_each_entry(t, &tg->threads, thread_node)
            sigpending_remove(&t->pending, SIGCONT);
    }
}

bool signal_may_send_locked(struct task *sender, struct task *target, struct thread_group *tg,
                            int sig)
{
    if (!sender || tg == sender->tg || !target)
        return true;
    const struct cred *c = &sender->cred, *tc = &target->cred;
    if (c->euid == tc->suid || c->euid == tc->uid || c->uid == tc->suid || c->uid == tc->uid)
        return true;
    if (task_capable(sender, CAP_KILL))
        return true;
    return sig == SIGCONT && tg->sid == sender->tg->sid;
}

static int send_tg_locked(struct thread_group *tg, int sig, const struct linux_siginfo *info,
                          bool from_outside, struct sigqueue_owner *owner)
{
    if (sig < 1 || sig > LINUX_NSIG)
        return -EINVAL;
    if (tg->zombie || tg->group_exiting)
        return 0;
    struct sighand *sh = tg->sighand;
    pthread_mutex_lock(&sh->lock);
    uint64_t h = handler_of(tg, sig);
    /* The thread to tell: the first that does not block SIG (none: it stays
     * pending for whoever unblocks it). */
    struct task *t, *target = NULL;
    list_for_each_entry(t, &tg->threads, thread_node) {
        if (!(t->sigmask & SIG_BIT(sig))) {
            target = t;
            break;
        }
    }
    /* The sandbox's init only gets signals it has a handler for (or has
     * blocked: the handler may come later), unless they come from outside
     * (pid_namespaces(7)). */
    /* A thread waiting for SIG in rt_sigtimedwait counts as blocking it
     * (Linux's real_blocked): the signal is not dropped. */
    bool droppable = target && !(__atomic_load_n(&target->real_blocked, __ATOMIC_ACQUIRE) &
                                 SIG_BIT(sig));
    if (tg->pid == 1 && !from_outside && droppable && h == (uint64_t)(uintptr_t)SIG_DFL) {
        pthread_mutex_unlock(&sh->lock);
        return 0;
    }
    stop_cont_side_effects_locked(tg, sig);
    if (sig == SIGKILL) {
        tg->exit_status = SIGKILL;
        __atomic_store_n(&tg->group_exiting, true, __ATOMIC_RELEASE);
        tg->stopped = false;
        kick_all_locked(tg);
        pthread_mutex_unlock(&sh->lock);
        return 0;
    }
    if (droppable && is_ignored_locked(tg, sig)) {
        pthread_mutex_unlock(&sh->lock);
        return 0;
    }
    struct task *rcv = target;
    if (!rcv && !list_empty(&tg->threads))
        rcv = list_first_entry(&tg->threads, struct task, thread_node);
    int r = queue_locked(&tg->shared_pending, sig, info, owner, rcv);
    if (r == 0)
        waitq_wake_key(&sh->signalfd_wq, LPOLLIN | LPOLLRDNORM);
    if (r == 0 && target)
        signal_kick_locked(target);
    if (r == 0 && signal_default_action(sig) == SIGDFL_STOP)
        kick_all_locked(tg);
    pthread_mutex_unlock(&sh->lock);
    return r;
}

int signal_send_tg_locked(struct thread_group *tg, int sig, const struct linux_siginfo *info,
                          bool from_outside)
{
    return send_tg_locked(tg, sig, info, from_outside, NULL);
}

static int send_task_locked(struct task *t, int sig, const struct linux_siginfo *info,
                            struct sigqueue_owner *owner)
{
    struct thread_group *tg = t->tg;
    if (sig == SIGKILL || (signal_default_action(sig) == SIGDFL_STOP && sig == SIGSTOP) ||
        sig == SIGCONT)
        return send_tg_locked(tg, sig, info, false, owner);
    if (tg->zombie || tg->group_exiting)
        return 0;
    struct sighand *sh = tg->sighand;
    pthread_mutex_lock(&sh->lock);
    bool blocked = (t->sigmask & SIG_BIT(sig)) != 0;
    bool droppable = !blocked && !(__atomic_load_n(&t->real_blocked, __ATOMIC_ACQUIRE) &
                                   SIG_BIT(sig));
    if (tg->pid == 1 && droppable && handler_of(tg, sig) == (uint64_t)(uintptr_t)SIG_DFL) {
        pthread_mutex_unlock(&sh->lock);
        return 0;
    }
    if (droppable && is_ignored_locked(tg, sig)) {
        pthread_mutex_unlock(&sh->lock);
        return 0;
    }
    int r = queue_locked(&t->pending, sig, info, owner, t);
    if (r == 0)
        waitq_wake_key(&sh->signalfd_wq, LPOLLIN | LPOLLRDNORM);
    if (r == 0 && !blocked)
        signal_kick_locked(t);
    pthread_mutex_unlock(&sh->lock);
    return r;
}

int signal_send_task_locked(struct task *t, int sig, const struct linux_siginfo *info)
{
    return send_task_locked(t, sig, info, NULL);
}

int signal_send_self(struct task *t, int sig, const struct linux_siginfo *info)
{
    /* Thread-directed and not a stop, continue or kill: only T's
     * sighand->lock is needed, and T (the caller) is alive. */
    return send_task_locked(t, sig, info, NULL);
}

int signal_send_owned_locked(struct thread_group *tg, struct task *t, int sig,
                             const struct linux_siginfo *info, struct sigqueue_owner *owner)
{
    if (tg)
        return send_tg_locked(tg, sig, info, false, owner);
    return send_task_locked(t, sig, info, owner);
}

/* Removes OWNER's entries from P, keeping P->set right. */
static void disown_pending(struct sigpending *p, struct sigqueue_owner *owner)
{
    struct sigqueue *q, *n;
    list_for_each_entry_safe(q, n, &p->queue, link) {
        if (q->owner != owner)
            continue;
        int sig = q->info.si_signo;
        sigqueue_free(q);
        bool more = false;
        struct sigqueue *o;
        list_for_each_entry(o, &p->queue, link)
            more |= o->info.si_signo == sig;
        if (!more)
            __atomic_and_fetch(&p->set, ~SIG_BIT(sig), __ATOMIC_RELEASE);
    }
}

void signal_disown_locked(struct thread_group *tg, struct sigqueue_owner *owner)
{
    struct sighand *sh = tg->sighand;
    pthread_mutex_lock(&sh->lock);
    if (owner->queued) {
        disown_pending(&tg->shared_pending, owner);
        struct task *t;
        list_for_each_entry(t, &tg->threads, thread_node)
            disown_pending(&t->pending, owner);
    }
    owner->queued = false;
    pthread_mutex_unlock(&sh->lock);
}

bool signal_pending(struct task *t)
{
    struct thread_group *tg = t->tg;
    if (__atomic_load_n(&tg->group_exiting, __ATOMIC_ACQUIRE))
        return true;
    uint64_t set = __atomic_load_n(&t->pending.set, __ATOMIC_ACQUIRE) |
                   __atomic_load_n(&tg->shared_pending.set, __ATOMIC_ACQUIRE);
    return (set & ~__atomic_load_n(&t->sigmask, __ATOMIC_RELAXED)) != 0;
}

/* Takes the lowest pending signal in SET (thread-directed first). */
static int dequeue_set_locked(struct task *t, uint64_t set, struct linux_siginfo *out)
{
    struct sigpending *lists[2] = {&t->pending, &t->tg->shared_pending};
    for (int l = 0; l < 2; l++) {
        struct sigpending *p = lists[l];
        uint64_t ready = p->set & set;
        if (!ready)
            continue;
        int sig = __builtin_ctzll(ready) + 1;
        struct sigqueue *q, *found = NULL;
        bool more = false;
        list_for_each_entry(q, &p->queue, link) {
            if (q->info.si_signo != sig)
                continue;
            if (!found)
                found = q;
            else
                more = true;
        }
        if (found) {
            *out = found->info;
            if (found->owner) {
                int64_t o = found->owner->overrun;
                out->timer.overrun = o > INT32_MAX ? INT32_MAX : (int32_t)o;
                found->owner->last_overrun = out->timer.overrun;
            }
            sigqueue_free(found);
        } else {
            /* Queued without its info (past RLIMIT_SIGPENDING or out of
             * memory): Linux reports SI_USER from pid 0. */
            memset(out, 0, sizeof(*out));
            out->si_signo = sig;
            out->si_code = SI_USER_CODE;
        }
        if (!more)
            __atomic_and_fetch(&p->set, ~SIG_BIT(sig), __ATOMIC_RELEASE);
        return sig;
    }
    return 0;
}

/* Takes the lowest deliverable signal (thread-directed first). */
static int dequeue_locked(struct task *t, struct linux_siginfo *out)
{
    return dequeue_set_locked(t, ~t->sigmask, out);
}

void signal_set_temporary_mask(struct task *t, uint64_t set)
{
    t->saved_sigmask = t->sigmask;
    t->restore_sigmask = true;
    __atomic_store_n(&t->sigmask, set & ~SIG_UNBLOCKABLE, __ATOMIC_RELEASE);
}

int signal_dequeue_set(struct task *t, uint64_t set, struct linux_siginfo *out)
{
    pthread_mutex_lock(&t->tg->sighand->lock);
    int sig = dequeue_set_locked(t, set, out);
    pthread_mutex_unlock(&t->tg->sighand->lock);
    return sig;
}


/* Resolves an interrupted syscall's -ERESTART* result. HANDLER: a handler
 * is about to run, with ACT. */
static void restart_fixup(struct task *t, const struct linux_sigaction *act, bool handler)
{
    long r = (long)t->regs.rax;
    bool restart;
    switch (-r) {
    case ERESTART_RESTARTBLOCK:
        if (!handler) {
            /* Resume through restart_syscall(2), which continues from
             * t->restart (the time left), not from the original args. */
            t->regs.rax = LINUX_SYS_restart_syscall;
            t->regs.rip -= 2;
        } else {
            t->regs.rax = (uint64_t)-EINTR;
        }
        return;
    case ERESTARTNOHAND:
        restart = !handler;
        break;
    case ERESTARTSYS:
        restart = !handler || (act->flags & SA_RESTART);
        break;
    case ERESTARTNOINTR:
        restart = true;
        break;
    default:
        return;
    }
    if (restart) {
        t->regs.rax = t->regs.orig_rax;
        t->regs.rip -= 2; /* back onto the syscall instruction */
    } else {
        t->regs.rax = (uint64_t)-EINTR;
    }
}

static bool on_altstack(const struct task *t, uint64_t sp)
{
    return t->altstack.ss_size && sp > t->altstack.ss_sp &&
           sp <= t->altstack.ss_sp + t->altstack.ss_size;
}

/* Builds the rt frame for SIG and points T's registers at the handler.
 * 0 or -EFAULT (the caller kills T with SIGSEGV). */
static int setup_frame(struct task *t, int sig, const struct linux_siginfo *info,
                       const struct linux_sigaction *act, uint64_t oldmask)
{
    uint64_t sp = t->regs.rsp;
    bool use_alt = (act->flags & SA_ONSTACK) && t->altstack.ss_size &&
                   !(t->altstack.ss_flags & SS_DISABLE_F) && !on_altstack(t, sp);
    if (use_alt)
        sp = t->altstack.ss_sp + t->altstack.ss_size;
    else
        sp -= RED_ZONE;

    uint32_t xsize = platform_xstate_size();
    static __thread struct platform_fpstate fp;
    int r = g_platform->ctx_get_fpstate(t->ctx, &fp);
    if (r < 0)
        return r;
    struct linux_fpx_sw_bytes sw = {
        .magic1 = LINUX_FP_XSTATE_MAGIC1,
        .extended_size = xsize + 4,
        .xfeatures = platform_xfeatures(),
        .xstate_size = xsize,
    };
    memcpy(fp.bytes + LINUX_FP_SW_BYTES_OFFSET, &sw, sizeof(sw));
    uint32_t magic2 = LINUX_FP_XSTATE_MAGIC2;
    memcpy(fp.bytes + xsize, &magic2, 4);

    sp = ALIGN_DOWN(sp - (xsize + 4), 64);
    uint64_t fpaddr = sp;
    sp = ALIGN_DOWN(sp - sizeof(struct linux_rt_sigframe), 16) - 8;

    struct linux_rt_sigframe f;
    memset(&f, 0, sizeof(f));
    f.pretcode = act->restorer;
    f.uc.uc_flags = LINUX_UC_FP_XSTATE | LINUX_UC_SIGCONTEXT_SS | LINUX_UC_STRICT_RESTORE_SS;
    f.uc.uc_stack.ss_sp = t->altstack.ss_sp;
    f.uc.uc_stack.ss_size = t->altstack.ss_size;
    f.uc.uc_stack.ss_flags = t->altstack.ss_size == 0        ? SS_DISABLE_F
                             : on_altstack(t, t->regs.rsp) ? SS_ONSTACK_F
                                                            : t->altstack.ss_flags;
    struct linux_sigcontext *mc = &f.uc.uc_mcontext;
    const struct platform_regs *g = &t->regs;
    mc->r8 = g->r8, mc->r9 = g->r9, mc->r10 = g->r10, mc->r11 = g->r11;
    mc->r12 = g->r12, mc->r13 = g->r13, mc->r14 = g->r14, mc->r15 = g->r15;
    mc->rdi = g->rdi, mc->rsi = g->rsi, mc->rbp = g->rbp, mc->rbx = g->rbx;
    mc->rdx = g->rdx, mc->rax = g->rax, mc->rcx = g->rcx, mc->rsp = g->rsp;
    mc->rip = g->rip, mc->eflags = g->eflags;
    mc->cs = USER_CS;
    mc->ss = USER_SS;
    mc->oldmask = oldmask;
    mc->fpstate = fpaddr;
    if (sig == SIGSEGV || sig == SIGBUS)
        mc->cr2 = info->fault.addr;
    f.uc.uc_sigmask = oldmask;
    f.info = *info;

    if (mm_copy_out(t->mm, fpaddr, fp.bytes, xsize + 4) < 0 ||
        mm_copy_out(t->mm, sp, &f, sizeof(f)) < 0)
        return -EFAULT;

    /* The handler starts with a clean FPU: x87 and SSE control words at
     * their defaults, every xsave component in its initial state. */
    memset(fp.bytes, 0, xsize);
    uint16_t fcw = 0x37f;
    uint32_t mxcsr = 0x1f80;
    memcpy(fp.bytes, &fcw, 2);
    memcpy(fp.bytes + 24, &mxcsr, 4);
    r = g_platform->ctx_set_fpstate(t->ctx, &fp);
    if (r < 0)
        return r;

    t->regs.rsp = sp;
    t->regs.rip = act->handler;
    t->regs.rdi = (uint64_t)sig;
    t->regs.rsi = sp + offsetof(struct linux_rt_sigframe, info);
    t->regs.rdx = sp + offsetof(struct linux_rt_sigframe, uc);
    t->regs.rax = 0;
    t->regs.eflags &= ~(0x100ULL | 0x400ULL); /* TF, DF */
    return 0;
}

static void notify_parent_stop_locked(struct thread_group *tg, int sig)
{
    tg->stop_report = (sig << 8) | 0x7f;
    struct thread_group *p = tg->parent;
    if (!p)
        return;
    struct linux_siginfo ci = {.si_code = CLD_STOPPED};
    ci.chld.pid = tg->pid;
    ci.chld.status = sig;
    if (!(p->sighand->action[SIGCHLD - 1].flags & SA_NOCLDSTOP))
        signal_send_tg_locked(p, SIGCHLD, &ci, true);
    waitq_wake_all(&p->child_wq);
}

void signal_deliver(struct task *t)
{
    struct thread_group *tg = t->tg;
    struct sighand *sh = tg->sighand;
    bool syscall = t->after_syscall;
    t->after_syscall = false;

    for (;;) {
        if (__atomic_load_n(&tg->group_exiting, __ATOMIC_ACQUIRE))
            return; /* the loop ends the task */
        uint32_t seq = task_wake_seq(t);
        pthread_mutex_lock(&sh->lock);
        if (tg->stopped) {
            pthread_mutex_unlock(&sh->lock);
            /* Stopped: sleep until SIGCONT or SIGKILL. */
            task_sleep(t, seq, 0);
            continue;
        }
        struct linux_siginfo info;
        int sig = dequeue_locked(t, &info);
        if (!sig) {
            pthread_mutex_unlock(&sh->lock);
            break;
        }
        struct linux_sigaction act = sh->action[sig - 1];
        if (act.handler == (uint64_t)(uintptr_t)SIG_IGN) {
            pthread_mutex_unlock(&sh->lock);
            continue;
        }
        if (act.handler == (uint64_t)(uintptr_t)SIG_DFL) {
            enum sig_default d = signal_default_action(sig);
            if (d == SIGDFL_IGNORE || d == SIGDFL_CONT) {
                pthread_mutex_unlock(&sh->lock);
                continue;
            }
            if (d == SIGDFL_STOP) {
                tg->stopped = true;
                pthread_mutex_unlock(&sh->lock);
                pthread_mutex_lock(&g_tasks_lock);
                pthread_mutex_lock(&sh->lock);
                if (tg->stopped)
                    notify_parent_stop_locked(tg, sig);
                pthread_mutex_unlock(&sh->lock);
                pthread_mutex_unlock(&g_tasks_lock);
                continue;
            }
            pthread_mutex_unlock(&sh->lock);
            /* No core dumps: the wait status carries the signal only. */
            task_exit_group(t, sig);
            return;
        }
        if (act.flags & SA_RESETHAND) {
            /* Only the handler, as Linux: flags and mask stay. */
            sh->action[sig - 1].handler = (uint64_t)(uintptr_t)SIG_DFL;
            sighand_changed_locked(sh);
        }
        uint64_t oldmask = t->restore_sigmask ? t->saved_sigmask : t->sigmask;
        t->restore_sigmask = false;
        uint64_t newmask = t->sigmask | act.mask;
        if (!(act.flags & SA_NODEFER))
            newmask |= SIG_BIT(sig);
        __atomic_store_n(&t->sigmask, newmask & ~SIG_UNBLOCKABLE, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&sh->lock);

        if (syscall)
            restart_fixup(t, &act, true);
        syscall = false;
        if (setup_frame(t, sig, &info, &act, oldmask) < 0) {
            log_debug("[%d] cannot build a frame for signal %d: killed", t->tid, sig);
            task_exit_group(t, SIGSEGV);
        }
        return;
    }
    if (syscall)
        restart_fixup(t, NULL, false);
    if (t->restore_sigmask) {
        t->restore_sigmask = false;
        __atomic_store_n(&t->sigmask, t->saved_sigmask, __ATOMIC_RELEASE);
    }
}

void signal_force_fault(struct task *t, int signo, int code, uint64_t addr)
{
    struct thread_group *tg = t->tg;
    struct sighand *sh = tg->sighand;
    struct linux_siginfo info;
    memset(&info, 0, sizeof(info));
    info.si_signo = signo;
    info.si_code = code;
    info.fault.addr = addr;
    pthread_mutex_lock(&sh->lock);
    struct linux_sigaction *act = &sh->action[signo - 1];
    bool blocked = (t->sigmask & SIG_BIT(signo)) != 0;
    if (blocked || act->handler == (uint64_t)(uintptr_t)SIG_IGN) {
        /* A fault cannot be blocked or ignored: it kills (Linux's
         * force_sig_info). */
        act->handler = (uint64_t)(uintptr_t)SIG_DFL;
        sighand_changed_locked(sh);
        __atomic_and_fetch(&t->sigmask, ~SIG_BIT(signo), __ATOMIC_RELEASE);
    }
    queue_locked(&t->pending, signo, &info, NULL, t);
    pthread_mutex_unlock(&sh->lock);
}

void signal_sigreturn(struct task *t)
{
    uint64_t frame = t->regs.rsp - 8;
    struct linux_ucontext uc;
    if (mm_copy_in(t->mm, &uc, frame + offsetof(struct linux_rt_sigframe, uc), sizeof(uc)) < 0)
        goto bad;
    const struct linux_sigcontext *mc = &uc.uc_mcontext;
    struct platform_regs *g = &t->regs;
    g->r8 = mc->r8, g->r9 = mc->r9, g->r10 = mc->r10, g->r11 = mc->r11;
    g->r12 = mc->r12, g->r13 = mc->r13, g->r14 = mc->r14, g->r15 = mc->r15;
    g->rdi = mc->rdi, g->rsi = mc->rsi, g->rbp = mc->rbp, g->rbx = mc->rbx;
    g->rdx = mc->rdx, g->rax = mc->rax, g->rcx = mc->rcx, g->rsp = mc->rsp;
    g->rip = mc->rip;
    g->eflags = (g->eflags & ~FIX_EFLAGS) | (mc->eflags & FIX_EFLAGS);
    g->orig_rax = (uint64_t)-1; /* no syscall restart after a sigreturn */

    if (mc->fpstate) {
        static __thread struct platform_fpstate fp;
        uint32_t xsize = platform_xstate_size();
        memset(fp.bytes, 0, xsize);
        if (mm_copy_in(t->mm, fp.bytes, mc->fpstate, 512) < 0)
            goto bad;
        struct linux_fpx_sw_bytes sw;
        memcpy(&sw, fp.bytes + LINUX_FP_SW_BYTES_OFFSET, sizeof(sw));
        uint32_t magic2 = 0;
        bool full = sw.magic1 == LINUX_FP_XSTATE_MAGIC1 && sw.xstate_size == xsize &&
                    sw.extended_size == xsize + 4 &&
                    mm_copy_in(t->mm, &magic2, mc->fpstate + xsize, 4) == 0 &&
                    magic2 == LINUX_FP_XSTATE_MAGIC2;
        if (full) {
            if (mm_copy_in(t->mm, fp.bytes, mc->fpstate, xsize) < 0)
                goto bad;
        } else {
            /* Legacy FXSAVE only: x87 and SSE from it, the rest initial. */
            memset(fp.bytes + 512, 0, xsize - 512);
            uint64_t bv = 3;
            memcpy(fp.bytes + 512, &bv, 8);
        }
        if (g_platform->ctx_set_fpstate(t->ctx, &fp) < 0)
            goto bad;
    }
    __atomic_store_n(&t->sigmask, uc.uc_sigmask & ~SIG_UNBLOCKABLE, __ATOMIC_RELEASE);
    /* The alternate stack, as sigaltstack(2) would set it. */
    if (!on_altstack(t, g->rsp) && uc.uc_stack.ss_size >= 2048 &&
        !(uc.uc_stack.ss_flags & ~(SS_DISABLE_F | (1u << 31)))) {
        t->altstack.ss_sp = uc.uc_stack.ss_sp;
        t->altstack.ss_size = uc.uc_stack.ss_size;
        t->altstack.ss_flags = uc.uc_stack.ss_flags & ~SS_ONSTACK_F;
    }
    t->regs_set = true;
    return;
bad:
    log_debug("[%d] bad signal frame at %#llx", t->tid, (unsigned long long)frame);
    task_exit_group(t, SIGSEGV);
    t->regs_set = true;
}
