/*
 * seccomp for apps: each task has a mode (disabled, strict, filter) and a
 * chain of classic-BPF filters, newest first, shared with the tasks it
 * was inherited by. dispatch.c asks seccomp_syscall_allowed() before each
 * syscall of a task whose mode is not disabled.
 *
 * Lock order: g_tasks_lock (every change of a task's mode or chain; TSYNC
 * changes other threads' chains under it).
 */
#ifndef MOAT_KERNEL_SECCOMP_SECCOMP_H
#define MOAT_KERNEL_SECCOMP_SECCOMP_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/seccomp/bpf.h"
#include "lib/refcount.h"

struct task;

#define SECCOMP_MODE_DISABLED 0
#define SECCOMP_MODE_STRICT   1
#define SECCOMP_MODE_FILTER   2

/* seccomp(2) operations and filter flags. */
#define SECCOMP_SET_MODE_STRICT                0
#define SECCOMP_SET_MODE_FILTER                1
#define SECCOMP_GET_ACTION_AVAIL               2
#define SECCOMP_GET_NOTIF_SIZES                3
#define SECCOMP_FILTER_FLAG_TSYNC              (1u << 0)
#define SECCOMP_FILTER_FLAG_LOG                (1u << 1)
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW         (1u << 2)
#define SECCOMP_FILTER_FLAG_NEW_LISTENER       (1u << 3)
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH        (1u << 4)
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1u << 5)

/* Filter return values: the action in the high 16 bits (signed: lower is
 * more restrictive), data in the low 16. */
#define SECCOMP_RET_KILL_PROCESS 0x80000000u
#define SECCOMP_RET_KILL_THREAD  0x00000000u
#define SECCOMP_RET_TRAP         0x00030000u
#define SECCOMP_RET_ERRNO        0x00050000u
#define SECCOMP_RET_USER_NOTIF   0x7fc00000u
#define SECCOMP_RET_TRACE        0x7ff00000u
#define SECCOMP_RET_LOG          0x7ffc0000u
#define SECCOMP_RET_ALLOW        0x7fff0000u
#define SECCOMP_RET_ACTION_FULL  0xffff0000u
#define SECCOMP_RET_DATA         0x0000ffffu

#define LINUX_AUDIT_ARCH_X86_64 0xc000003eu
#define LINUX_SYS_SECCOMP       1 /* si_code of a SECCOMP_RET_TRAP SIGSYS */

/* The _sigsys member of siginfo (at the union, offset 16). */
struct seccomp_sigsys {
    uint64_t call_addr;
    int32_t syscall;
    uint32_t arch;
};

/* One installed program. Immutable once installed; freed with its last
 * reference (a task, or a newer filter's prev). */
struct seccomp_filter {
    struct refcount ref;
    struct seccomp_filter *prev; /* (c) counted; the filter installed before, or NULL */
    uint32_t depth;              /* (c) filters in the chain, this one included */
    uint32_t path_insns;         /* (c) instructions of the chain, plus 4 per filter */
    bool log;                    /* (c) SECCOMP_FILTER_FLAG_LOG */
    uint32_t len;                /* (c) instructions */
    struct bpf_insn prog[];      /* (c) */
};

/* Runs T's mode or filters on syscall NR with ARGS. True: the syscall
 * runs. False: it is skipped and *OUT_RET is the result the app sees
 * (or T is ending: t->exiting). Called by T's own thread only. */
bool seccomp_syscall_allowed(struct task *t, uint64_t nr, const uint64_t args[6], long *out_ret);

/* CHILD (not yet visible to other threads' TSYNC unless the caller holds
 * g_tasks_lock) takes PARENT's mode and a new reference to its chain. */
void seccomp_task_inherit(struct task *child, struct task *parent);
/* Drops T's chain reference (T is being freed). */
void seccomp_task_release(struct task *t);

/* seccomp(2) and prctl(PR_SET_SECCOMP) for T. 0, a thread id (TSYNC
 * failed on that thread) or -errno. */
long seccomp_set_mode_strict(struct task *t, unsigned int flags, uint64_t uargs);
long seccomp_set_mode_filter(struct task *t, unsigned int flags, uint64_t uprog);
/* Installs PROG (LEN instructions, copied) on T as the runtime does for
 * an OCI linux.seccomp profile: no no_new_privs or privilege check.
 * FLAGS: TSYNC, LOG, SPEC_ALLOW. 0 or -errno. */
long seccomp_install_prog(struct task *t, const struct bpf_insn *prog, uint32_t len,
                          unsigned int flags);
/* T's mode (SECCOMP_MODE_*). */
int seccomp_get_mode(struct task *t);

/* The number of filters in T's chain (/proc/PID/status). */
int seccomp_filter_count(struct task *t);

#endif
