/*
 * Signals: pending sets and queues, sending, delivery with x86-64 rt signal
 * frames (full xsave state), rt_sigreturn, syscall restart, default actions
 * (terminate, ignore, stop, continue).
 *
 * Lock order: g_tasks_lock -> sighand->lock (guards actions and every
 * pending set of the thread group).
 */
#ifndef MOAT_KERNEL_SIGNAL_SIGNAL_H
#define MOAT_KERNEL_SIGNAL_SIGNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "abi/linux/types.h"
#include "lib/list.h"

struct task;
struct thread_group;

#define SIG_BIT(s)        (1ULL << ((s)-1))
#define SIG_UNBLOCKABLE   (SIG_BIT(9) | SIG_BIT(19)) /* SIGKILL, SIGSTOP */
#define LINUX_SIGRTMIN    32

struct sigpending {
    uint64_t set;           /* signals with at least one queued entry */
    struct list_head queue; /* of struct sigqueue, oldest first */
};

/* A sender that owns the entries it queues (a POSIX timer): while one of
 * its entries is queued, further sends only count overruns, and taking the
 * entry reports them in si_overrun (timer_create(2)). Fields are guarded
 * by the receiving process's sighand->lock. */
struct sigqueue_owner {
    bool queued;          /* (s) an entry of this owner is queued */
    int64_t overrun;      /* (s) expirations folded into the queued entry */
    int last_overrun;     /* (s) si_overrun of the entry taken last */
};

void sigpending_init(struct sigpending *p);
void sigpending_flush(struct sigpending *p);

/* Sends SIG to the process TG (process-directed) or to one task. INFO may
 * be NULL (SI_KERNEL). FROM_OUTSIDE: sent from outside the sandbox (the
 * host), so the init protection of pid namespaces does not apply.
 * Caller holds g_tasks_lock. 0 or -errno. */
int signal_send_tg_locked(struct thread_group *tg, int sig, const struct linux_siginfo *info,
                          bool from_outside);
int signal_send_task_locked(struct task *t, int sig, const struct linux_siginfo *info);
/* Sends SIG (not SIGKILL, SIGSTOP or SIGCONT) to the calling task T
 * itself, thread-directed. Needs no g_tasks_lock, so it may be called with
 * file system locks held. */
int signal_send_self(struct task *t, int sig, const struct linux_siginfo *info);

/* As signal_send_tg_locked (TG) or signal_send_task_locked (T, when TG
 * is NULL) for an entry owned by OWNER: if OWNER already has an entry
 * queued, adds 1 + INFO->timer.overrun to its overrun count instead of
 * queueing another. Caller holds g_tasks_lock. */
int signal_send_owned_locked(struct thread_group *tg, struct task *t, int sig,
                             const struct linux_siginfo *info, struct sigqueue_owner *owner);
/* RLIMIT_SIGPENDING for a sender that owns its entry (a POSIX timer, as
 * Linux preallocates its sigqueue): charges T's real uid one entry within
 * T's limit for the owner's life. 0 and *OUT_UID (for the uncharge), or
 * -EAGAIN past the limit. */
int signal_charge_prealloc(struct task *t, uint32_t *out_uid);
void signal_uncharge_prealloc(uint32_t uid);

/* Removes OWNER's queued entries from TG and its threads (the timer is
 * deleted). Caller holds g_tasks_lock. */
void signal_disown_locked(struct thread_group *tg, struct sigqueue_owner *owner);
/* May SENDER send SIG (0: only the check) to the process TG, or to its
 * thread TARGET (NULL once every thread has exited)? Linux's kill rules:
 * one of the sender's real or effective uid is the target's real or saved
 * uid, or the sender has CAP_KILL, or SIGCONT within a session. Caller
 * holds g_tasks_lock. */
bool signal_may_send_locked(struct task *sender, struct task *target, struct thread_group *tg,
                            int sig);

/* Makes T notice pending work (wakes it, or stops its app code). Caller
 * holds T's sighand->lock. */
void signal_kick_locked(struct task *t);

/* Takes the lowest pending signal of T that is in SET (thread-directed
 * first) into OUT. The signal number, or 0. */
int signal_dequeue_set(struct task *t, uint64_t set, struct linux_siginfo *out);

/* Blocks SET (less SIGKILL/SIGSTOP) for the rest of T's syscall: the old
 * mask comes back when the syscall returns, or after the handler of a
 * signal the temporary mask let in (sigsuspend, ppoll, pselect6,
 * epoll_pwait). */
void signal_set_temporary_mask(struct task *t, uint64_t set);

/* True if T has a pending signal it does not block (or a fatal one). */
bool signal_pending(struct task *t);

/* Called by the task loop before T returns to the app: resolves a syscall
 * restart (regs.rax holding -ERESTART*) and delivers at most one pending
 * signal (a handler frame, or its default action). */
void signal_deliver(struct task *t);

/* rt_sigreturn: restores T's registers, FPU state, mask and alternate
 * stack from the frame at regs.rsp - 8. Kills T with SIGSEGV on a bad
 * frame. */
void signal_sigreturn(struct task *t);

/* A fault the app took: delivers SIGNO to T as a forced synchronous
 * signal (blocked or ignored means the default action). */
void signal_force_fault(struct task *t, int signo, int code, uint64_t addr);

/* The default action of SIG. */
enum sig_default { SIGDFL_TERM, SIGDFL_CORE, SIGDFL_IGNORE, SIGDFL_STOP, SIGDFL_CONT };
enum sig_default signal_default_action(int sig);

#endif
