/*
 * Tasks and thread groups.
 *
 * One kernel host thread runs each task: it switches into the app through the
 * platform, handles the trap, and loops. Sandbox ids (pid, tid) are moat's
 * own; the init process of a sandbox is pid 1.
 *
 * Lock order:
 *   g_tasks_lock (the pid table, parent/child links, zombie state)
 *     thread_group->lock
 */
#ifndef MOAT_KERNEL_TASK_TASK_H
#define MOAT_KERNEL_TASK_TASK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "abi/linux/types.h"
#include "kernel/signal/signal.h"
#include "kernel/task/cred.h"
#include "kernel/task/ktimer.h"
#include "kernel/task/waitq.h"
#include "lib/list.h"
#include "lib/refcount.h"
#include "platform/platform.h"

struct mm;
struct fdtable;
struct fs_struct;
struct file;
struct sandbox_init;
struct seccomp_filter;
struct ptimer_set;


struct sighand {
    struct refcount ref;
    pthread_mutex_t lock;
    struct linux_sigaction action[LINUX_NSIG]; /* (l) lock; index = signo - 1 */
    struct waitq signalfd_wq;        /* woken (LPOLLIN) whenever a signal is queued */
    uint64_t id;                     /* (c) names this set of actions (for the platform) */
    uint64_t gen;                    /* (l) new whenever action[] changes */
};

/* Every change of SH->action calls this (caller holds SH->lock, or SH is
 * not shared yet): before a thread using SH runs app code again, the
 * platform gets the new actions (sigactions_sync). */
void sighand_changed_locked(struct sighand *sh);

/* A process. */
/* ITIMER_VIRTUAL / ITIMER_PROF: expiry in process CPU time, checked by a
 * kernel timer armed for the earliest wall time the process could reach
 * it (and re-checked then). */
struct cpu_itimer {
    struct ktimer timer;         /* (c) */
    struct thread_group *tg;     /* (c) */
    int which;                   /* (c) 1 VIRTUAL (app time), 2 PROF (app + kernel time) */
    uint64_t expires;            /* (g) tg->lock: CPU ns; 0 disarmed */
    uint64_t incr;               /* (g) */
};

struct thread_group {
    struct refcount ref;
    int pid;                         /* (c) */
    struct thread_group *parent;     /* (T) g_tasks_lock; NULL for init */
    struct list_head children;       /* (T) of thread_group.sibling */
    struct list_head sibling;        /* (T) */
    int pgid, sid;                   /* (T) */
    struct sighand *sighand;         /* (c) counted reference */
    struct linux_rlimit rlim[LINUX_RLIM_NLIMITS]; /* (g) lock */
    struct file *exe;                /* (g) lock; counted; what /proc/PID/exe names */
    int nr_threads;                  /* (T) live threads */
    bool zombie;                     /* (T) exited, not yet reaped */
    uint32_t zombie_uid;             /* (T) real uid of its last thread (RLIMIT_NPROC counts zombies) */
    int exit_status;                 /* (T) wait status, as wait4 reports it */
    bool group_exiting;              /* (g) exit_group in progress */
    struct task *leader;             /* (T) the thread whose tid is the pid, or another live one */
    struct list_head threads;        /* (T) of task.thread_node */
    struct waitq thread_wq;          /* woken as its threads exit (exec waits on it) */
    struct waitq exit_wq;            /* woken when the process exits (pidfd pollers) */
    struct list_head all;            /* (T) on the list of all processes */
    bool vfork_pending;              /* (T) a vfork parent waits for exec or exit */
    struct sigpending shared_pending; /* (s) sighand->lock: process-directed */
    struct waitq child_wq;           /* wait4 sleepers; woken when a child changes state */
    bool stopped;                    /* (s) in a group stop */
    int stop_report;                 /* (T) wait status of a stop/continue not yet reported */
    pthread_mutex_t lock;
    uint64_t start_time_ns;          /* (c) */
    /* Where exec put the command line and environment in the app's
     * memory (for /proc/PID/cmdline and environ). */
    uint64_t arg_start, arg_end, env_start, env_end; /* (g) lock */
    struct ktimer itimer_real;       /* ITIMER_REAL / alarm: SIGALRM; cancelled when the last thread exits */
    struct cpu_itimer itimer_cpu[2]; /* ITIMER_VIRTUAL, ITIMER_PROF; cancelled likewise */
    struct ktimer rlim_cpu_timer;    /* RLIMIT_CPU's next check; cancelled likewise */
    struct ptimer_set *ptimers;      /* (g) lock: POSIX timers (kernel/time/ptimer.h), or NULL */
    /* CPU time in ns: app ("user") and kernel ("system") time of threads
     * that exited, and of reaped children (getrusage, times, wait4). */
    uint64_t dead_utime, dead_stime;   /* (T) */
    bool child_subreaper;            /* (T) PR_SET_CHILD_SUBREAPER */
    int exit_signal;                 /* (T) sent to the parent at exit (clone's CSIGNAL; 0: none) */
    /* Its session was made outside the sandbox (init, moat exec) and may
     * have a host terminal: opening a pty does not make it the session's
     * controlling terminal (TIOCSCTTY still does). Cleared by setsid. */
    bool host_session;               /* (T) */
    int nice;                        /* (g) lock: setpriority */
    uint64_t child_utime, child_stime; /* (T) */
};

struct task {
    int tid;                         /* (c) sandbox tid */
    struct thread_group *tg;         /* (c) counted */
    struct mm *mm;                   /* (o) owner thread; counted */
    struct fdtable *files;           /* (o) counted */
    struct fs_struct *fs;            /* (o) counted: root, cwd, umask */
    struct cred cred;                /* (o) written by task_commit_cred() under g_tasks_lock */
    struct list_head thread_node;    /* (T) in tg->threads */
    struct platform_ctx *ctx;        /* (o) the app thread on the platform */
    bool ctx_adopted;                /* (o) ctx handed over to this thread */
    bool killed;                     /* (T) another thread's exec ends this one */
    struct platform_regs regs;       /* (o) app registers while in the kernel */
    uint64_t sigmask;                /* (s) blocked signals, bit (signo-1) */
    struct sigpending pending;       /* (s) sighand->lock: thread-directed */
    struct linux_stack altstack;     /* (o) sigaltstack */
    uint64_t saved_sigmask;          /* (o) restored after a sigsuspend handler */
    uint64_t real_blocked;           /* (o) atomic: the mask before rt_sigtimedwait unblocked its set; counts as blocked when deciding to drop a signal */
    bool restore_sigmask;            /* (o) */
    uint32_t wake_seq;               /* futex word: see waitq.h */
    bool regs_set;                   /* (o) the syscall replaced regs: keep rax */
    bool after_syscall;              /* (o) regs.rax holds a syscall result */
    /* restart_syscall(2): how to resume a sleep cut short by a stop or an
     * ignored signal (-ERESTART_RESTARTBLOCK). */
    struct {
        uint64_t deadline_ns;        /* (o) CLOCK_MONOTONIC */
        uint64_t rem_addr;           /* (o) where nanosleep reports the time left */
    } restart;
    bool in_app;                     /* (s) running app code: interrupt via platform */
    uint64_t clear_child_tid;        /* (o) */
    uint64_t robust_list, robust_len;/* (o) */
    char comm[16];                   /* (o) */
    bool exiting;                    /* (o) the loop ends after this syscall */
    int exit_code;                   /* (o) exit status of this thread */
    pthread_t thread;                /* (c) kernel host thread */
    uint64_t thread_cpu_base;        /* (c) its CPU time when it took this task (reused) */
    bool strace;                     /* (c) log each syscall */
    int pdeathsig;                   /* (o) PR_SET_PDEATHSIG */
    bool no_new_privs;               /* (o) PR_SET_NO_NEW_PRIVS: kept across fork and exec */
    bool nproc_exceeded;             /* (o) the last real-uid change went past RLIMIT_NPROC */
    bool secureexec;                 /* (o) the last exec raised privileges (AT_SECURE) */
    uint64_t affinity;               /* (o) sched_setaffinity mask (CPUs 0..63) */
    /* sched_setscheduler: recorded and reported (moat's placement of the
     * app thread does not change). */
    int sched_policy;                /* (T) g_tasks_lock: SCHED_* */
    int rt_priority;                 /* (T) 1..99 for FIFO/RR, else 0 */
    bool sched_reset_on_fork;        /* (T) */
    const struct sandbox_init *init; /* (c) set for the sandbox's first task only */
    /* seccomp (kernel/seccomp/seccomp.h): changed by T or by a TSYNC in
     * another thread of its process, under g_tasks_lock; T's dispatch reads
     * them without a lock (atomic loads). Kept across fork and exec. */
    int seccomp_mode;                /* (T) SECCOMP_MODE_* */
    struct seccomp_filter *seccomp_filter; /* (T) counted: the newest filter, or NULL */
};

/* The task the calling kernel thread runs, or NULL. */
struct task *task_current(void);

/* True if T has capability CAP in its effective set; T NULL is the kernel
 * itself, which may do anything. */
static inline bool task_capable(const struct task *t, int cap);
/* Replaces the calling task T's credentials with NEW (its group reference
 * is consumed). */
void task_commit_cred(struct task *t, const struct cred *new);

/* The process table. task_lookup_tg() returns a new reference or NULL. */
struct thread_group *task_lookup_tg(int pid);
void tg_get(struct thread_group *tg);
void tg_put(struct thread_group *tg);

/* Starts the sandbox's init task: runs ARGV[0] (resolved through PATH in
 * ENVP inside the sandbox) with ENVP in CWD. Returns when init exits;
 * *out_status is its wait status. Errors finding or starting the program
 * are reported on stderr as a shell would, with status 127 or 126. */
struct bpf_insn;
struct sandbox_init {
    char *const *argv;
    char *const *envp;
    const char *cwd;
    struct fs_struct *fs;      /* root and cwd (consumed) */
    int host_stdio[3];         /* host fds for the app's 0, 1, 2 (consumed) */
    struct cred cred;          /* ids, capabilities and groups (its group reference stays the caller's) */
    int nice;                  /* the starting nice value (the caller's) */
    /* OCI process.rlimits: resource I starts at rlim[I] where bit I of
     * RLIM_SET is on, else at the kernel process's own limit (the
     * caller's). Enforced by moat's kernel, never set on the host. */
    struct linux_rlimit rlim[LINUX_RLIM_NLIMITS];
    uint32_t rlim_set;
    bool no_new_privs;         /* PR_SET_NO_NEW_PRIVS from the start (OCI noNewPrivileges) */
    bool strace;
    /* OCI linux.seccomp compiled to classic BPF (oci/seccomp_profile.h):
     * installed on the process before its program is exec'd. */
    const struct bpf_insn *seccomp_prog;
    uint32_t seccomp_len; /* 0: none */
    unsigned int seccomp_flags;
    /* The program to exec; NULL: argv[0], looked up as a shell does (OCI
     * hooks give a path apart from their argv). */
    const char *path;
    /* Called on the new process's task before its program is exec'd (OCI
     * startContainer hooks run there for the container's first process):
     * 0 to go on, else the wait status the process ends with. */
    int (*before_exec)(const struct sandbox_init *init);
    /* Called once, with the process's wait status, when the first
     * process's last thread ends while no other process of the sandbox is
     * left, before the kernel frees what it held: nothing of the sandbox
     * can act any more, so the caller may report the status at once. NULL:
     * not needed. */
    void (*on_last_exit)(int wstatus);
};
int task_run_init(const struct sandbox_init *init, int *out_status);
/* At most N live tasks (threads included) in the sandbox: clone fails
 * with EAGAIN past it, as under a pids cgroup. 0: no limit. */
void task_set_max(int n);
int task_get_max(void);

/* Ends the calling task's whole thread group with wait status STATUS
 * (exit code << 8, or a signal number). The caller returns to its loop. */
void task_exit_group(struct task *t, int status);

/* Calls FN for every process that is not yet reaped, in pid order of
 * creation, with the process table locked: FN must not block, sleep or
 * call back into the task table. */
void task_for_each_tg(void (*fn)(struct thread_group *tg, void *arg), void *arg);
/* What TG's (first) thread uses, each with a new reference, or NULL once
 * it has exited. The caller puts it (mm_put, fdtable_put, fs_struct_put). */
struct mm *tg_get_mm(struct thread_group *tg);
struct fdtable *tg_get_files(struct thread_group *tg);
struct fs_struct *tg_get_fs(struct thread_group *tg);
/* A snapshot of TG for /proc: state letter (R, S, T, Z), ppid, comm,
 * credentials and thread count. */
struct tg_info {
    char state;
    int ppid, pgid, sid, nr_threads;
    char comm[16];
    struct cred cred;
    uint64_t start_time_ns;
    uint64_t sigmask, sigpending, sigignored, sigcaught;
    uint64_t utime, stime, cutime, cstime; /* ns: own and reaped children's CPU time */
    int seccomp_mode, seccomp_filters;     /* the leader's (SECCOMP_MODE_*, chain length) */
    int nice;                              /* the process's nice value */
    int sched_policy, rt_priority;         /* the leader's (sched_setscheduler) */
    bool no_new_privs;
};
void tg_info(struct thread_group *tg, struct tg_info *out);
/* The credentials of TG's leader, without groups: 0, or -ESRCH once every
 * thread has exited. */
int tg_cred(struct thread_group *tg, struct cred *out);
/* TG's supplementary groups (a new reference, or NULL: none). The cred in
 * tg_info carries none. */
struct group_info *tg_groups(struct thread_group *tg);
/* CPU time of T (THREAD) or of its whole process, in ns: app time in the
 * stub and kernel time spent for it. */
void task_cputime(struct task *t, bool whole_process, uint64_t *out_user, uint64_t *out_sys);
/* The same for the process TG. Takes g_tasks_lock. */
void tg_cputime(struct thread_group *tg, uint64_t *out_user, uint64_t *out_sys);

/* ITIMER_VIRTUAL (WHICH 1) or ITIMER_PROF (2) of T's process: the time
 * left and the interval (ns; value 0: disarmed), and setting them. */
void task_itimer_cpu_get(struct task *t, int which, uint64_t *out_value, uint64_t *out_interval);
void task_itimer_cpu_set(struct task *t, int which, uint64_t value, uint64_t interval);

/* RLIMIT_FSIZE of the calling task (none for the kernel's own work), as
 * Linux's generic_write_check_limits: a write of *N (> 0) bytes at POS to a
 * regular file past the limit sends the caller SIGXFSZ and fails with
 * -EFBIG; one across it is cut to end at the limit (*N lowered). 0 or
 * -EFBIG. Safe under file system locks. */
int task_fsize_write_check(uint64_t pos, size_t *n);
/* The same for growing a regular file to SIZE (truncate, fallocate:
 * Linux's inode_newsize_ok): SIGXFSZ and -EFBIG when SIZE is above the
 * limit. */
int task_fsize_grow_check(uint64_t size);

/* RLIMIT_CPU of TG changed (or TG is new): checks it now and arms the
 * timer that sends SIGXCPU at the soft limit (raising it by a second each
 * time, as Linux) and SIGKILL at the hard one. Takes g_tasks_lock. */
void task_rlimit_cpu_changed(struct thread_group *tg);

/* A host signal for the sandbox (the CLI forwards SIGINT, SIGTERM …): sent
 * to the sandbox's init as from outside, so its default action applies even
 * though init is protected from signals sent inside the sandbox. */
void task_host_signal(int signo);

static inline bool task_capable(const struct task *t, int cap)
{
    return !t || cred_capable(&t->cred, cap);
}

#endif
