/* Task internals shared by task.c, exec.c and the task syscalls. */
#ifndef MOAT_KERNEL_TASK_TASK_INTERNAL_H
#define MOAT_KERNEL_TASK_TASK_INTERNAL_H

#include "kernel/task/task.h"

extern pthread_mutex_t g_tasks_lock;

/* The process PID (no reference taken), or NULL. Caller holds g_tasks_lock. */
struct thread_group *task_lookup_tg_locked(int pid);
/* The live thread TID (no reference taken), or NULL. Caller holds
 * g_tasks_lock. */
struct task *task_lookup_tid_locked(int tid);
/* The list of all processes (thread_group.all). Caller holds g_tasks_lock. */
struct list_head *task_all_tgs(void);

/* Replaces T's image with the program at PATH (a path inside the sandbox),
 * ARGV and ENVP (kernel copies, NULL-terminated). On success T runs the new
 * program when it next switches; on failure T is unchanged. 0 or -errno. */
int task_exec(struct task *t, const char *path, char *const *argv, char *const *envp);

/* execve's RLIMIT_NPROC check: after a change of real uid past the limit,
 * -EAGAIN while the uid still has more tasks than T's limit; else 0 (and
 * the mark is cleared). */
int task_exec_nproc_check(struct task *t);

/* fork/vfork/clone for T. Returns the child's pid or -errno. */
long task_clone(struct task *t, uint64_t flags, uint64_t stack, uint64_t parent_tid,
                uint64_t child_tid, uint64_t tls);
/* What clone3 adds to clone. */
struct task_clone_extra {
    bool has_set_tid;   /* a pid is asked for: */
    int set_tid;        /* the child's pid (set_tid[0]) */
    bool clear_sighand; /* CLONE_CLEAR_SIGHAND: handled signals back to SIG_DFL */
};
/* task_clone with clone3's extras: a pid asked for (EINVAL out of range,
 * EPERM without CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, EEXIST if in use
 * as a pid, process group or session) and CLONE_CLEAR_SIGHAND. */
long task_clone_ex(struct task *t, uint64_t flags, uint64_t stack, uint64_t parent_tid,
                   uint64_t child_tid, uint64_t tls, const struct task_clone_extra *x);

/* What a wait reaped or saw. */
struct task_wait_result {
    int pid;            /* the child */
    int status;         /* wait status, as wait4 reports it */
    int code;           /* CLD_EXITED, CLD_KILLED, CLD_STOPPED, CLD_CONTINUED */
    int exit_info;      /* exit code or signal, as waitid's si_status reports it */
    uint64_t utime, stime; /* the child's CPU times (ns) */
};

/* Waits for a child of T matching PID (wait4's encoding: > 0 one child,
 * -1 any, 0 T's group, < -1 that group) with wait4/waitid OPTIONS
 * (WEXITED must be set to see exits). The child's pid, 0 (WNOHANG and
 * nothing yet), -ECHILD, -EINVAL or -ERESTARTSYS. */
long task_wait(struct task *t, int pid, int options, struct task_wait_result *out);

/* Ends the calling task (exit(2)); the loop stops after the syscall. */
void task_exit_thread(struct task *t, int code);

/* Waits until the sandbox's first process exists (a control request can
 * come in before task_run_init made it). 0, or -ESRCH once it is gone. */
int task_wait_init_started(void);

/* exec's point of no return: ends T's other threads; T takes the pid. */
void task_exec_single_thread(struct task *t);

/* Called by exec and exit: a vfork parent waiting on T may go on. */
void task_vfork_done(struct task *t);

/* Is process group PGRP orphaned, IGNORE (may be NULL) left out: no live
 * member has a parent in another group of the same session
 * (will_become_orphaned_pgrp). Caller holds g_tasks_lock. */
bool task_pgrp_orphaned_locked(int pgrp, const struct thread_group *ignore);

/* The parent's pid as T sees it (0 for init). */
int task_ppid(struct task *t);

/* A further process started from outside (moat exec): see task.c. 0 and
 * *out_tg (a new reference), or -errno (-ESRCH: init has not started or
 * has exited). */
int task_spawn(const struct sandbox_init *init, struct thread_group **out_tg);

#endif
