/*
 * Tasks: the process table, the per-task kernel thread and its run loop,
 * clone (processes, threads, CLONE_VM), exit and wait.
 *
 * Every task has a kernel thread and a platform context of its own (the
 * thread may have run an ended task before: kworker_park). Threads
 * and CLONE_VM children share their creator's mm and address space; their
 * context is made by the creator (which owns a context there) and handed
 * to the new task's kernel thread (ctx_adopt).
 */
#include "kernel/task/task.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <time.h>

#include "kernel/fs/fs.h"
#include "kernel/host/host.h"
#include "kernel/ipc/futex.h"
#include "kernel/ipc/sysv.h"
#include "kernel/mm/mm.h"
#include "kernel/seccomp/seccomp.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task_internal.h"
#include "kernel/task/waitq.h"
#include "kernel/time/ptimer.h"
#include "kernel/vfs/vfs.h"
#include "lib/log.h"
#include "lib/util.h"

pthread_mutex_t g_tasks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_all_tgs = LIST_HEAD_INIT(g_all_tgs); /* (T) */
static int g_last_pid;                                         /* (T) */
/* Live tasks (threads count, as the pids cgroup counts them) and the
 * sandbox's limit on them (0: none; moat do --pids, OCI pids.limit). */
static atomic_int g_nr_tasks;
static _Atomic int g_task_max; /* moat update may change it at any time */
#define PID_MAX 4194304

static pthread_cond_t g_init_exit = PTHREAD_COND_INITIALIZER;
static bool g_init_done;   /* (T) */
static void (*g_on_last_exit)(int wstatus); /* sandbox_init.on_last_exit */
static bool g_init_started; /* (T) task_run_init made pid 1 (task_spawn waits for it) */
static int g_init_status;  /* (T) */

static __thread struct task *t_current;

struct task *task_current(void)
{
    return t_current;
}

void tg_get(struct thread_group *tg)
{
    refcount_inc(&tg->ref);
}

static void sighand_put(struct sighand *sh)
{
    if (sh && refcount_dec(&sh->ref)) {
        pthread_mutex_destroy(&sh->lock);
        free(sh);
    }
}

void tg_put(struct thread_group *tg)
{
    if (!tg || !refcount_dec(&tg->ref))
        return;
    sigpending_flush(&tg->shared_pending);
    sighand_put(tg->sighand);
    if (tg->exe)
        file_put(tg->exe);
    pthread_mutex_destroy(&tg->lock);
    free(tg);
}

struct thread_group *task_lookup_tg_locked(int pid)
{
    struct thread_group *tg;
    list_for_each_entry(tg, &g_all_tgs, all)
        if (tg->pid == pid)
            return tg;
    return NULL;
}

struct task *task_lookup_tid_locked(int tid)
{
    struct thread_group *tg;
    list_for_each_entry(tg, &g_all_tgs, all) {
        struct task *t;
        list_for_each_entry(t, &tg->threads, thread_node)
            if (t->tid == tid)
                return t;
    }
    return NULL;
}

struct list_head *task_all_tgs(void)
{
    return &g_all_tgs;
}

void task_for_each_tg(void (*fn)(struct thread_group *tg, void *arg), void *arg)
{
    struct thread_group *tg;
    pthread_mutex_lock(&g_tasks_lock);
    list_for_each_entry(tg, &g_all_tgs, all)
        fn(tg, arg);
    pthread_mutex_unlock(&g_tasks_lock);
}

/* The leader's resources are read under g_tasks_lock, which task_finish()
 * holds while it clears tg->leader; the leader frees them only after. */
struct mm *tg_get_mm(struct thread_group *tg)
{
    struct mm *mm = NULL;
    pthread_mutex_lock(&g_tasks_lock);
    if (tg->leader && tg->leader->mm && !tg->zombie) {
        mm = tg->leader->mm;
        mm_get(mm);
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return mm;
}

struct fdtable *tg_get_files(struct thread_group *tg)
{
    struct fdtable *f = NULL;
    pthread_mutex_lock(&g_tasks_lock);
    if (tg->leader && tg->leader->files && !tg->zombie) {
        f = tg->leader->files;
        fdtable_get(f);
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return f;
}

struct fs_struct *tg_get_fs(struct thread_group *tg)
{
    struct fs_struct *fs = NULL;
    pthread_mutex_lock(&g_tasks_lock);
    if (tg->leader && tg->leader->fs && !tg->zombie) {
        fs = tg->leader->fs;
        fs_struct_get(fs);
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return fs;
}

/* The CPU time kernel thread TH has used, in ns (0 if unknown). */
static uint64_t kthread_cpu_ns(pthread_t th)
{
    clockid_t cid;
    struct timespec ts;
    if (pthread_getcpuclockid(th, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The CPU time a live thread used: its stub's and its kernel thread's
 * (since the thread took this task). */
static void thread_cputime(struct task *t, uint64_t *user, uint64_t *sys)
{
    uint64_t app = 0;
    if (t->ctx)
        g_platform->ctx_cputime(t->ctx, false, &app);
    *user = app;
    uint64_t ns = kthread_cpu_ns(t->thread);
    *sys = ns > t->thread_cpu_base ? ns - t->thread_cpu_base : 0;
}

void task_cputime(struct task *t, bool whole_process, uint64_t *out_user, uint64_t *out_sys)
{
    if (!whole_process) {
        thread_cputime(t, out_user, out_sys);
        return;
    }
    tg_cputime(t->tg, out_user, out_sys);
}

void tg_cputime(struct thread_group *tg, uint64_t *out_user, uint64_t *out_sys)
{
    pthread_mutex_lock(&g_tasks_lock);
    uint64_t u = tg->dead_utime, s = tg->dead_stime;
    struct task *o;
    list_for_each_entry(o, &tg->threads, thread_node) {
        uint64_t ou, os;
        thread_cputime(o, &ou, &os);
        u += ou;
        s += os;
    }
    pthread_mutex_unlock(&g_tasks_lock);
    *out_user = u;
    *out_sys = s;
}

void tg_info(struct thread_group *tg, struct tg_info *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&g_tasks_lock);
    out->ppid = tg->parent ? tg->parent->pid : 0;
    out->pgid = tg->pgid;
    out->sid = tg->sid;
    out->nr_threads = tg->nr_threads;
    out->start_time_ns = tg->start_time_ns;
    struct task *t = tg->leader;
    pthread_mutex_lock(&tg->sighand->lock);
    if (tg->zombie || !t)
        out->state = 'Z';
    else if (tg->stopped)
        out->state = 'T';
    else
        out->state = t->in_app ? 'R' : 'S';
    if (t) {
        memcpy(out->comm, t->comm, sizeof(out->comm));
        out->cred = t->cred;
        out->cred.groups = NULL; /* tg_groups() */
        out->sigmask = t->sigmask;
        out->sigpending = t->pending.set;
        out->seccomp_mode = seccomp_get_mode(t);
        out->seccomp_filters = seccomp_filter_count(t);
        out->no_new_privs = t->no_new_privs;
        out->sched_policy = t->sched_policy;
        out->rt_priority = t->rt_priority;
    }
    out->nice = __atomic_load_n(&tg->nice, __ATOMIC_RELAXED);
    out->sigpending |= tg->shared_pending.set;
    out->utime = tg->dead_utime;
    out->stime = tg->dead_stime;
    out->cutime = tg->child_utime;
    out->cstime = tg->child_stime;
    struct task *th;
    list_for_each_entry(th, &tg->threads, thread_node) {
        uint64_t u, s;
        thread_cputime(th, &u, &s);
        out->utime += u;
        out->stime += s;
    }
    for (int i = 0; i < LINUX_NSIG; i++) {
        uint64_t h = tg->sighand->action[i].handler;
        if (h == (uint64_t)(uintptr_t)SIG_IGN)
            out->sigignored |= 1ULL << i;
        else if (h != (uint64_t)(uintptr_t)SIG_DFL)
            out->sigcaught |= 1ULL << i;
    }
    pthread_mutex_unlock(&tg->sighand->lock);
    pthread_mutex_unlock(&g_tasks_lock);
}

struct group_info *tg_groups(struct thread_group *tg)
{
    struct group_info *g = NULL;
    pthread_mutex_lock(&g_tasks_lock);
    if (tg->leader && !tg->zombie) {
        g = tg->leader->cred.groups;
        group_info_get(g);
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return g;
}

int tg_cred(struct thread_group *tg, struct cred *out)
{
    int r = -ESRCH;
    pthread_mutex_lock(&g_tasks_lock);
    if (tg->leader) {
        *out = tg->leader->cred;
        out->groups = NULL;
        r = 0;
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}

static uint64_t nproc_count_locked(uint32_t uid, const struct task *exclude);

void task_commit_cred(struct task *t, const struct cred *new)
{
    pthread_mutex_lock(&g_tasks_lock);
    if (new->uid != t->cred.uid) {
        /* A new real uid already past its RLIMIT_NPROC: the change stands
         * (programs rarely check), the next execve fails with EAGAIN if it
         * still is (Linux's PF_NPROC_EXCEEDED). */
        uint64_t limit = __atomic_load_n(&t->tg->rlim[RLIMIT_NPROC].rlim_cur, __ATOMIC_RELAXED);
        t->nproc_exceeded = new->uid != 0 && limit != RLIM_INFINITY &&
                            nproc_count_locked(new->uid, t) > limit;
    }
    struct group_info *old = t->cred.groups;
    t->cred = *new;
    pthread_mutex_unlock(&g_tasks_lock);
    group_info_put(old);
}

bool task_pgrp_orphaned_locked(int pgrp, const struct thread_group *ignore)
{
    struct thread_group *tg;
    list_for_each_entry(tg, &g_all_tgs, all) {
        if (tg->pgid != pgrp || tg == ignore || tg->zombie)
            continue;
        struct thread_group *p = tg->parent;
        if (p && p->pgid != pgrp && p->sid == tg->sid)
            return false;
    }
    return true;
}

static bool pgrp_has_stopped_locked(int pgrp)
{
    struct thread_group *tg;
    list_for_each_entry(tg, &g_all_tgs, all)
        if (tg->pgid == pgrp && !tg->zombie && tg->stopped)
            return true;
    return false;
}

/* Linux's kill_orphaned_pgrp: TG's exit (FATHER NULL), or the exit of
 * FATHER, TG's former parent, orphaned TG's process group while some of it
 * is stopped: SIGHUP then SIGCONT to the group. Caller holds g_tasks_lock. */
static void kill_orphaned_pgrp_locked(struct thread_group *tg, struct thread_group *father)
{
    struct thread_group *ignore = father ? NULL : tg;
    struct thread_group *p = father ? father : tg->parent;
    if (!p || p->pgid == tg->pgid || p->sid != tg->sid)
        return;
    if (!task_pgrp_orphaned_locked(tg->pgid, ignore) || !pgrp_has_stopped_locked(tg->pgid))
        return;
    int sigs[2] = {SIGHUP, SIGCONT};
    for (int i = 0; i < 2; i++) {
        struct thread_group *m;
        list_for_each_entry(m, &g_all_tgs, all)
            if (m->pgid == tg->pgid && !m->zombie)
                signal_send_tg_locked(m, sigs[i], NULL, false);
    }
}

struct thread_group *task_lookup_tg(int pid)
{
    struct thread_group *tg, *found = NULL;
    pthread_mutex_lock(&g_tasks_lock);
    list_for_each_entry(tg, &g_all_tgs, all) {
        if (tg->pid == pid) {
            tg_get(tg);
            found = tg;
            break;
        }
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return found;
}

static bool pid_in_use_locked(int pid)
{
    struct thread_group *tg;
    list_for_each_entry(tg, &g_all_tgs, all)
        if (tg->pid == pid || tg->pgid == pid || tg->sid == pid)
            return true;
    return false;
}

/* Allocates a pid. Caller holds g_tasks_lock. -EAGAIN when none is free. */
static int pid_alloc_locked(void)
{
    for (int i = 0; i < PID_MAX; i++) {
        g_last_pid = g_last_pid >= PID_MAX - 1 ? 1 : g_last_pid + 1;
        if (!pid_in_use_locked(g_last_pid))
            return g_last_pid;
    }
    return -EAGAIN;
}

static uint64_t now_ns(void)
{
    int64_t s = 0, ns = 0;
    host_clock_gettime(CLOCK_MONOTONIC, &s, &ns);
    return (uint64_t)s * 1000000000ULL + (uint64_t)ns;
}

static void itimer_real_fire(struct ktimer *k, void *arg)
{
    struct thread_group *tg = arg;
    struct linux_siginfo info;
    memset(&info, 0, sizeof(info));
    info.si_code = 0x80; /* SI_KERNEL, as Linux's it_real_fn sends it */
    pthread_mutex_lock(&g_tasks_lock);
    signal_send_tg_locked(tg, SIGALRM, &info, false);
    pthread_mutex_unlock(&g_tasks_lock);
}

/* CPU time of TG (app time for ITIMER_VIRTUAL, app + kernel for PROF).
 * Caller holds g_tasks_lock. */
static uint64_t tg_cputime_locked(struct thread_group *tg, int which)
{
    uint64_t u = tg->dead_utime, s = tg->dead_stime;
    struct task *o;
    list_for_each_entry(o, &tg->threads, thread_node) {
        uint64_t ou, os;
        thread_cputime(o, &ou, &os);
        u += ou;
        s += os;
    }
    return which == 1 ? u : u + s;
}

/* The shortest wall time in which a process of NR_THREADS threads can use
 * LEFT ns of CPU: each thread runs at most one CPU's worth. */
static uint64_t cpu_left_wall_ns(uint64_t left, int nr_threads)
{
    int par = nr_threads < 1 ? 1 : nr_threads;
    int ncpu = host_nr_cpus();
    if (ncpu > 0 && par > ncpu)
        par = ncpu;
    return left / (uint64_t)par;
}

/* Arms IT's timer for the earliest wall time its process can have used
 * LEFT more ns of CPU. Caller holds tg->lock. */
static void cpu_itimer_rearm_locked(struct cpu_itimer *it, uint64_t left, int nr_threads)
{
    ktimer_arm(&it->timer, host_monotonic_ns() + (cpu_left_wall_ns(left, nr_threads) ?: 1), 0);
}

static void cpu_itimer_fire(struct ktimer *k, void *arg)
{
    struct cpu_itimer *it = arg;
    struct thread_group *tg = it->tg;
    pthread_mutex_lock(&g_tasks_lock);
    if (tg->zombie || tg->group_exiting) {
        pthread_mutex_unlock(&g_tasks_lock);
        return;
    }
    uint64_t now = tg_cputime_locked(tg, it->which);
    bool fire = false;
    pthread_mutex_lock(&tg->lock);
    if (it->expires && now >= it->expires) {
        fire = true;
        it->expires = it->incr ? it->expires + it->incr : 0;
    }
    if (it->expires)
        cpu_itimer_rearm_locked(it, it->expires > now ? it->expires - now : 0, tg->nr_threads);
    pthread_mutex_unlock(&tg->lock);
    if (fire) {
        struct linux_siginfo info;
        memset(&info, 0, sizeof(info));
        info.si_code = 0x80; /* SI_KERNEL */
        signal_send_tg_locked(tg, it->which == 1 ? SIGVTALRM : SIGPROF, &info, false);
    }
    pthread_mutex_unlock(&g_tasks_lock);
}

void task_itimer_cpu_get(struct task *t, int which, uint64_t *out_value, uint64_t *out_interval)
{
    struct thread_group *tg = t->tg;
    struct cpu_itimer *it = &tg->itimer_cpu[which - 1];
    pthread_mutex_lock(&g_tasks_lock);
    uint64_t now = tg_cputime_locked(tg, which);
    pthread_mutex_lock(&tg->lock);
    /* An expiry not yet delivered reads as the smallest time left. */
    *out_value = !it->expires ? 0 : it->expires > now ? it->expires - now : 1000;
    *out_interval = it->incr;
    pthread_mutex_unlock(&tg->lock);
    pthread_mutex_unlock(&g_tasks_lock);
}

void task_itimer_cpu_set(struct task *t, int which, uint64_t value, uint64_t interval)
{
    struct thread_group *tg = t->tg;
    struct cpu_itimer *it = &tg->itimer_cpu[which - 1];
    pthread_mutex_lock(&g_tasks_lock);
    uint64_t now = value ? tg_cputime_locked(tg, which) : 0;
    int nr = tg->nr_threads;
    pthread_mutex_unlock(&g_tasks_lock);
    pthread_mutex_lock(&tg->lock);
    it->expires = value ? now + value : 0;
    it->incr = value ? interval : 0;
    if (value)
        cpu_itimer_rearm_locked(it, value, nr);
    pthread_mutex_unlock(&tg->lock);
    if (!value)
        ktimer_cancel(&it->timer); /* the callback sees expires 0 and stays disarmed */
}

/* ---- RLIMIT_FSIZE ---- */

static int fsize_exceeded(struct task *t)
{
    struct linux_siginfo info;
    memset(&info, 0, sizeof(info));
    info.si_code = 0; /* SI_USER from the task itself, as Linux's send_sig(..., 0) */
    info.kill.pid = t->tg->pid;
    info.kill.uid = t->cred.uid;
    signal_send_self(t, SIGXFSZ, &info);
    return -EFBIG;
}

int task_fsize_write_check(uint64_t pos, size_t *n)
{
    struct task *t = task_current();
    if (!t || !*n)
        return 0;
    uint64_t lim = __atomic_load_n(&t->tg->rlim[RLIMIT_FSIZE].rlim_cur, __ATOMIC_RELAXED);
    if (lim == RLIM_INFINITY)
        return 0;
    if (pos >= lim)
        return fsize_exceeded(t);
    if (*n > lim - pos)
        *n = (size_t)(lim - pos);
    return 0;
}

int task_fsize_grow_check(uint64_t size)
{
    struct task *t = task_current();
    if (!t)
        return 0;
    uint64_t lim = __atomic_load_n(&t->tg->rlim[RLIMIT_FSIZE].rlim_cur, __ATOMIC_RELAXED);
    return lim != RLIM_INFINITY && size > lim ? fsize_exceeded(t) : 0;
}

/* ---- RLIMIT_CPU ---- */

#define NS_PER_SEC 1000000000ULL
/* The shortest wait before looking again at a process already past its
 * soft limit (Linux looks at every tick). */
#define RLIM_CPU_RECHECK_NS 4000000ULL

/* Sends what TG's RLIMIT_CPU calls for at its CPU time now and arms the
 * next check. Caller holds g_tasks_lock. */
static void rlim_cpu_check_locked(struct thread_group *tg)
{
    if (tg->zombie || tg->group_exiting || tg->nr_threads == 0)
        return;
    uint64_t now = tg_cputime_locked(tg, 2);
    int sig = 0;
    uint64_t next = 0;
    pthread_mutex_lock(&tg->lock);
    uint64_t soft = tg->rlim[RLIMIT_CPU].rlim_cur, hard = tg->rlim[RLIMIT_CPU].rlim_max;
    if (soft != RLIM_INFINITY) {
        uint64_t softns = soft > UINT64_MAX / NS_PER_SEC ? UINT64_MAX : soft * NS_PER_SEC;
        uint64_t hardns = hard > UINT64_MAX / NS_PER_SEC ? UINT64_MAX : hard * NS_PER_SEC;
        if (hard != RLIM_INFINITY && now >= hardns) {
            sig = SIGKILL;
        } else {
            if (now >= softns) {
                /* A SIGXCPU per second past it: the soft limit moves on
                 * (even past the hard one, as in Linux). */
                sig = SIGXCPU;
                tg->rlim[RLIMIT_CPU].rlim_cur = soft + 1;
                softns += NS_PER_SEC;
            }
            next = hard != RLIM_INFINITY && hardns < softns ? hardns : softns;
        }
    }
    if (next) {
        uint64_t left = cpu_left_wall_ns(next > now ? next - now : 0, tg->nr_threads);
        ktimer_arm(&tg->rlim_cpu_timer, host_monotonic_ns() + MAX(left, RLIM_CPU_RECHECK_NS), 0);
    }
    pthread_mutex_unlock(&tg->lock);
    if (sig == SIGKILL) {
        /* From the kernel: it ends even the sandbox's init. */
        signal_send_tg_locked(tg, SIGKILL, NULL, true);
    } else if (sig) {
        struct linux_siginfo info;
        memset(&info, 0, sizeof(info));
        info.si_code = 0x80; /* SI_KERNEL */
        signal_send_tg_locked(tg, sig, &info, false);
    }
}

static void rlim_cpu_fire(struct ktimer *k, void *arg)
{
    (void)k;
    pthread_mutex_lock(&g_tasks_lock);
    rlim_cpu_check_locked(arg);
    pthread_mutex_unlock(&g_tasks_lock);
}

void task_rlimit_cpu_changed(struct thread_group *tg)
{
    pthread_mutex_lock(&g_tasks_lock);
    rlim_cpu_check_locked(tg);
    pthread_mutex_unlock(&g_tasks_lock);
}

static void cpu_itimers_stop(struct thread_group *tg)
{
    for (int i = 0; i < 2; i++) {
        pthread_mutex_lock(&tg->lock);
        tg->itimer_cpu[i].expires = 0;
        pthread_mutex_unlock(&tg->lock);
        ktimer_cancel(&tg->itimer_cpu[i].timer);
    }
}

static struct thread_group *tg_new(void)
{
    struct thread_group *tg = calloc(1, sizeof(*tg));
    if (!tg)
        return NULL;
    refcount_init(&tg->ref);
    list_init(&tg->children);
    list_init(&tg->sibling);
    list_init(&tg->all);
    list_init(&tg->threads);
    waitq_init(&tg->thread_wq);
    waitq_init(&tg->exit_wq);
    pthread_mutex_init(&tg->lock, NULL);
    sigpending_init(&tg->shared_pending);
    waitq_init(&tg->child_wq);
    ktimer_init(&tg->itimer_real, itimer_real_fire, tg);
    for (int i = 0; i < 2; i++) {
        tg->itimer_cpu[i].tg = tg;
        tg->itimer_cpu[i].which = i + 1;
        ktimer_init(&tg->itimer_cpu[i].timer, cpu_itimer_fire, &tg->itimer_cpu[i]);
    }
    ktimer_init(&tg->rlim_cpu_timer, rlim_cpu_fire, tg);
    tg->start_time_ns = now_ns();
    return tg;
}

/* Names of sets of signal actions and their generations: one sequence. */
static uint64_t g_sighand_gen;

void sighand_changed_locked(struct sighand *sh)
{
    sh->gen = __atomic_add_fetch(&g_sighand_gen, 1, __ATOMIC_RELAXED);
}

static struct sighand *sighand_new(const struct sighand *from)
{
    struct sighand *sh = calloc(1, sizeof(*sh));
    if (!sh)
        return NULL;
    sh->id = __atomic_add_fetch(&g_sighand_gen, 1, __ATOMIC_RELAXED);
    sighand_changed_locked(sh);
    refcount_init(&sh->ref);
    pthread_mutex_init(&sh->lock, NULL);
    waitq_init(&sh->signalfd_wq);
    if (from) {
        pthread_mutex_lock((pthread_mutex_t *)&from->lock);
        memcpy(sh->action, from->action, sizeof(sh->action));
        pthread_mutex_unlock((pthread_mutex_t *)&from->lock);
    }
    return sh;
}

int task_ppid(struct task *t)
{
    pthread_mutex_lock(&g_tasks_lock);
    int ppid = t->tg->parent ? t->tg->parent->pid : 0;
    pthread_mutex_unlock(&g_tasks_lock);
    return ppid;
}

/* ---- the run loop ---- */

static void task_handle_fault(struct task *t, const struct platform_trap *trap)
{
    int code = trap->code, signo = trap->signo;
    if (signo == SIGSEGV || signo == SIGBUS) {
        if (mm_fault_signal(t->mm, trap->addr, false, trap->signo, t->tg->pid, &signo, &code) ==
            0)
            return;
    }
    log_debug("[%d] %s at %#llx (code %d, rip %#llx)", t->tid, strsignal(signo),
              (unsigned long long)trap->addr, code, (unsigned long long)t->regs.rip);
    if (signo == SIGKILL) {
        /* The sandbox memory limit refused the page (mm logged it). */
        task_exit_group(t, SIGKILL);
        return;
    }
    signal_force_fault(t, signo, code, trap->addr);
}

/* ---- syscall patching (the platform's patch ops; systrap) ---- */

static bool insn_prefix(uint8_t b)
{
    return (b >= 0x40 && b <= 0x4f) || b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 ||
           b == 0xf3 || b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 ||
           b == 0x65;
}

/* Syscalls whose every stop needs the thread's FPU state (the child's
 * copy, the frame sigreturn restores): at a patched site that state is
 * live in the host thread and each of them would first convert the stop
 * to a frame stop, one more round trip than the trap they replace. */
static bool patch_never(uint64_t nr)
{
    return nr == LINUX_SYS_rt_sigreturn || nr == LINUX_SYS_clone || nr == LINUX_SYS_fork ||
           nr == LINUX_SYS_vfork || nr == LINUX_SYS_clone3;
}

/* T's syscall trapped at a site the platform may patch: if the 7 bytes
 * before its rip are `mov $nr,%eax; syscall` (the number it made) or
 * glibc syscall()'s `mov 8(%rsp),%r9; syscall`, not preceded by a prefix
 * byte, they become `mov $tramp,%ecx; jmp *%rcx` (mm_patch_text checks the
 * mapping). Before the syscall runs: T resumes past the site either way. */
static void task_patch_site(struct task *t)
{
    static const uint8_t r9_form[7] = {0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05};
    uint64_t rip = t->regs.rip, site = rip - 7, tramp;
    uint8_t b[8];
    bool ok = false;
    if (patch_never(t->regs.orig_rax)) {
        g_platform->patch_refuse(t->ctx, site);
        return;
    }
    if (!mm_patch_worth(t->mm, site))
        return; /* maybe at its next syscall */
    if ((site >> 12) == ((rip - 1) >> 12) && mm_copy_in(t->mm, b, site - 1, 8) == 0 &&
        !insn_prefix(b[0])) {
        uint32_t imm;
        memcpy(&imm, b + 2, 4);
        ok = (b[1] == 0xb8 && imm == t->regs.orig_rax && b[6] == 0x0f && b[7] == 0x05) ||
             memcmp(b + 1, r9_form, 7) == 0;
    }
    if (ok) {
        int r = g_platform->patch_site(t->ctx, site, b + 1, &tramp);
        if (r == -EBUSY)
            return; /* another thread runs: maybe later */
        if (r == 0) {
            uint8_t nw[7];
            platform_patch_bytes(tramp, nw);
            r = mm_patch_text(t->mm, site, b + 1, nw, 7);
            if (r == 0 || r == -EBUSY)
                return;
            log_debug("[%d] cannot patch the syscall at %#llx: %s", t->tid,
                      (unsigned long long)site, strerror(-r));
        }
    }
    g_platform->patch_refuse(t->ctx, site);
}

/* T resumes at a new rip (a restarted syscall, rt_sigreturn): if that is
 * the `syscall` of a patched site (its last two bytes now `jmp *%rcx`),
 * it resumes in the site's trampoline instead, after its first
 * instruction, which makes the syscall in rax and returns past the site.
 * Not when rcx holds the trampoline: the thread was stopped between the
 * patch's two instructions (`mov $T,%ecx` done, an interrupt, then a
 * signal handler and its rt_sigreturn), before the site's `mov $nr,%eax`
 * ran, so rax is no syscall number; its `jmp *%rcx` runs that. */
static void task_patch_fix_resume(struct task *t)
{
    uint64_t rip = t->regs.rip, site = rip - 5;
    uint8_t b[7];
    if (rip < PLATFORM_APP_MIN + 5 || rip >= PLATFORM_APP_MAX)
        return;
    if (!g_platform->patch_lookup(g_platform->ctx_as(t->ctx), site))
        return;
    if (mm_copy_in(t->mm, b, site, 7) < 0 || b[0] != 0xb9 || b[5] != 0xff || b[6] != 0xe1)
        return;
    uint32_t tramp;
    memcpy(&tramp, b + 1, 4);
    if (tramp >= PLATFORM_APP_MIN || tramp < 0x1000 || (tramp & 31) || t->regs.rcx == tramp)
        return;
    t->regs.rip = tramp + 5;
}

static void task_set_in_app(struct task *t, bool v)
{
    struct sighand *sh = t->tg->sighand;
    pthread_mutex_lock(&sh->lock);
    t->in_app = v;
    if (v && g_platform->sigactions_sync)
        g_platform->sigactions_sync(t->ctx, sh->id, sh->gen, sh->action);
    pthread_mutex_unlock(&sh->lock);
}

static void task_loop(struct task *t)
{
    struct platform_trap trap;
    uint64_t stop_rip = 0;
    while (!t->exiting && !__atomic_load_n(&t->killed, __ATOMIC_ACQUIRE)) {
        signal_deliver(t);
        if (__atomic_load_n(&t->tg->group_exiting, __ATOMIC_ACQUIRE) ||
            __atomic_load_n(&t->killed, __ATOMIC_ACQUIRE))
            break;
        if (t->regs.rip != stop_rip && g_platform->patch_lookup)
            task_patch_fix_resume(t);
        task_set_in_app(t, true);
        trap.patchable = false;
        int r = g_platform->ctx_switch(t->ctx, &t->regs, &trap);
        stop_rip = t->regs.rip;
        task_set_in_app(t, false);
        if (r < 0) {
            log_debug("[%d] stub lost: %s", t->tid, strerror(-r));
            task_exit_group(t, SIGKILL);
            break;
        }
        switch (trap.ev) {
        case PLATFORM_EV_SYSCALL:
            if (trap.patchable)
                task_patch_site(t);
            syscall_dispatch(t);
            break;
        case PLATFORM_EV_FAULT:
            task_handle_fault(t, &trap);
            break;
        case PLATFORM_EV_INTERRUPTED:
        case PLATFORM_EV_MAX:
            break;
        }
    }
    if (!t->exiting) {
        t->exiting = true;
        t->exit_code = t->tg->exit_status;
    }
}

void task_exit_group(struct task *t, int status)
{
    struct thread_group *tg = t->tg;
    pthread_mutex_lock(&g_tasks_lock);
    pthread_mutex_lock(&tg->sighand->lock);
    if (!tg->group_exiting) {
        tg->exit_status = status;
        __atomic_store_n(&tg->group_exiting, true, __ATOMIC_RELEASE);
        /* Every other thread stops what it does and exits. */
        struct task *o;
        list_for_each_entry(o, &tg->threads, thread_node)
            if (o != t)
                signal_kick_locked(o);
    }
    t->exit_code = tg->exit_status;
    pthread_mutex_unlock(&tg->sighand->lock);
    pthread_mutex_unlock(&g_tasks_lock);
    t->exiting = true;
}

void task_exit_thread(struct task *t, int code)
{
    /* exit(2) ends this thread; the process ends with its last thread,
     * with that thread's status. */
    t->exit_code = (code & 0xff) << 8;
    t->exiting = true;
}

/* Ends every other thread of T's process (exec's de_thread) and waits for
 * them to be gone. */
static void task_kill_other_threads(struct task *t)
{
    struct thread_group *tg = t->tg;
    struct waiter w;
    pthread_mutex_lock(&g_tasks_lock);
    pthread_mutex_lock(&tg->sighand->lock);
    struct task *o;
    list_for_each_entry(o, &tg->threads, thread_node) {
        if (o != t) {
            __atomic_store_n(&o->killed, true, __ATOMIC_RELEASE);
            signal_kick_locked(o);
        }
    }
    pthread_mutex_unlock(&tg->sighand->lock);
    pthread_mutex_unlock(&g_tasks_lock);
    waitq_add(&tg->thread_wq, &w, t);
    for (;;) {
        uint32_t seq = task_wake_seq(t);
        pthread_mutex_lock(&g_tasks_lock);
        int n = tg->nr_threads;
        pthread_mutex_unlock(&g_tasks_lock);
        if (n == 1)
            break;
        if (task_sleep(t, seq, 0) == -EINTR)
            host_futex_wait(&t->wake_seq, seq, host_monotonic_ns() + 1000000);
    }
    waitq_del(&tg->thread_wq, &w);
    /* The exec'ing thread takes over the process's pid, as in Linux. */
    pthread_mutex_lock(&g_tasks_lock);
    t->tid = tg->pid;
    tg->leader = t;
    pthread_mutex_unlock(&g_tasks_lock);
}

void task_exec_single_thread(struct task *t)
{
    if (t->tg->nr_threads > 1)
        task_kill_other_threads(t);
}

void task_vfork_done(struct task *t)
{
    pthread_mutex_lock(&g_tasks_lock);
    if (t->tg->vfork_pending) {
        t->tg->vfork_pending = false;
        if (t->tg->parent)
            waitq_wake_all(&t->tg->parent->child_wq);
    }
    pthread_mutex_unlock(&g_tasks_lock);
}

/* Tells the parent that TG exited: SIGCHLD and a wake-up of its wait4
 * sleepers; or reaps TG at once when the parent ignores SIGCHLD (or set
 * SA_NOCLDWAIT), as Linux does. Returns true if TG was reaped. Caller
 * holds g_tasks_lock. */
static bool notify_parent_exit_locked(struct thread_group *tg)
{
    struct thread_group *p = tg->parent;
    struct linux_sigaction *act = &p->sighand->action[SIGCHLD - 1];
    int st = tg->exit_status;
    int sig = tg->exit_signal;
    struct linux_siginfo ci = {.si_code = WIFSIGNALED(st) ? CLD_KILLED : CLD_EXITED};
    ci.chld.pid = tg->pid;
    ci.chld.status = WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st);
    /* Only children that signal SIGCHLD are reaped by themselves. */
    bool autoreap = sig == SIGCHLD && (act->handler == (uint64_t)(uintptr_t)SIG_IGN ||
                                       (act->flags & SA_NOCLDWAIT));
    if (sig)
        signal_send_tg_locked(p, sig, &ci, true);
    waitq_wake_all(&p->child_wq);
    if (!autoreap)
        return false;
    list_del(&tg->sibling);
    list_del(&tg->all);
    return true;
}

/* The wait status of T's process if T is its last thread: the group
 * exit's, else T's own. */
static int final_status(const struct thread_group *tg, const struct task *t)
{
    return tg->group_exiting ? tg->exit_status : t->exit_code;
}

/* Releases what T holds, then makes its process a zombie for the parent.
 * Consumes T. */
static void task_finish(struct task *t)
{
    struct thread_group *tg = t->tg;

    futex_exit_robust_list(t);
    if (t->clear_child_tid && t->mm)
        futex_clear_and_wake(t->mm, t->clear_child_tid);
    uint64_t ut, st;
    thread_cputime(t, &ut, &st);
    /* Detached under g_tasks_lock: tg_get_mm/files/fs (ps over the control
     * channel, /proc/PID) take a reference under it and must never see a
     * pointer whose last reference is being dropped; tg_info and
     * tg_cputime (stats, /proc/PID/stat) read a thread's CPU time through
     * its context under it and must never use one being destroyed. */
    pthread_mutex_lock(&g_tasks_lock);
    struct platform_ctx *ctx = t->ctx;
    struct mm *mm = t->mm;
    struct fdtable *files = t->files;
    struct fs_struct *fs = t->fs;
    t->ctx = NULL;
    t->mm = NULL;
    t->files = NULL;
    t->fs = NULL;
    /* The program file goes with the last thread, as Linux drops exe_file
     * with the mm: its close (inotify's CLOSE_NOWRITE) happens before the
     * parent can reap, and a zombie's /proc/PID/exe is gone. The only
     * thread cannot gain siblings while it exits. */
    struct file *exe = NULL;
    if (tg->nr_threads == 1) {
        pthread_mutex_lock(&tg->lock);
        exe = tg->exe;
        tg->exe = NULL;
        pthread_mutex_unlock(&tg->lock);
    }
    /* The sandbox's last process ends: its status is final (no other
     * thread or process can change it or do anything any more). */
    bool last_of_all = tg->pid == 1 && tg->nr_threads == 1 && g_on_last_exit &&
                       g_all_tgs.next == &tg->all && g_all_tgs.prev == &tg->all;
    int last_status = final_status(tg, t);
    pthread_mutex_unlock(&g_tasks_lock);
    if (last_of_all)
        g_on_last_exit(last_status);
    if (ctx)
        mm_ctx_destroy(mm, ctx);
    if (mm)
        mm_put(mm);
    if (files)
        fdtable_put(files);
    if (fs)
        fs_struct_put(fs);
    if (exe)
        file_put(exe);

    pthread_mutex_lock(&g_tasks_lock);
    pthread_mutex_lock(&tg->sighand->lock);
    sigpending_flush(&t->pending);
    list_del(&t->thread_node);
    if (tg->leader == t)
        tg->leader = list_empty(&tg->threads)
                             ? NULL
                             : list_first_entry(&tg->threads, struct task, thread_node);
    pthread_mutex_unlock(&tg->sighand->lock);
    waitq_wake_all(&tg->thread_wq);
    tg->dead_utime += ut;
    tg->dead_stime += st;
    bool last = tg->nr_threads == 1;
    atomic_fetch_sub(&g_nr_tasks, 1);
    if (--tg->nr_threads == 0) {
        sem_exit(tg); /* SEM_UNDO, before the parent can see the exit */
        tg->zombie = true;
        tg->zombie_uid = t->cred.uid;
        waitq_wake_all(&tg->exit_wq);
        tg->exit_status = final_status(tg, t);
        tg->vfork_pending = false;
        /* Orphans go to the nearest living subreaper ancestor, else to
         * init, as Linux reparents them. */
        struct thread_group *init = NULL, *it;
        for (it = tg->parent; it && !init; it = it->parent)
            if (it->child_subreaper && !it->zombie)
                init = it;
        if (!init)
            list_for_each_entry(it, &g_all_tgs, all)
                if (it->pid == 1 && !it->zombie)
                    init = it;
        kill_orphaned_pgrp_locked(tg, NULL);
        struct thread_group *child, *tmp;
        list_for_each_entry_safe(child, tmp, &tg->children, sibling) {
            /* PR_SET_PDEATHSIG: the parent is gone. */
            struct task *ct;
            list_for_each_entry(ct, &child->threads, thread_node) {
                if (ct->pdeathsig) {
                    signal_send_task_locked(ct, ct->pdeathsig, NULL);
                }
            }
            list_del(&child->sibling);
            if (init) {
                child->parent = init;
                child->exit_signal = SIGCHLD; /* as Linux's reparent_leader */
                list_add_tail(&child->sibling, &init->children);
            } else {
                child->parent = NULL;
            }
            kill_orphaned_pgrp_locked(child, tg);
        }
        if (init)
            waitq_wake_all(&init->child_wq);
        if (tg->parent) {
            if (notify_parent_exit_locked(tg))
                tg_put(tg); /* reaped: the table's reference */
        } else {
            /* Init or an orphan nobody reaps: nobody waits for it. */
            list_del(&tg->all);
            if (tg->pid == 1) {
                g_init_done = true;
                g_init_status = tg->exit_status;
                pthread_cond_broadcast(&g_init_exit);
            }
            tg_put(tg); /* the table's reference */
        }
    }
    pthread_mutex_unlock(&g_tasks_lock);
    if (last) {
        if (tg->pid == tg->sid)
            devpts_session_end(tg->sid); /* the leader's terminal hangs up its foreground */
        ktimer_cancel(&tg->itimer_real); /* drops its reference if armed */
        cpu_itimers_stop(tg);
        ktimer_cancel(&tg->rlim_cpu_timer);
        ptimer_delete_all(tg);
    }
    tg_put(tg); /* the task's reference */
    seccomp_task_release(t);
    cred_release(&t->cred);
    free(t);
}

/* Gives a new task its app context: the one its creator made in a shared
 * address space (threads, CLONE_VM), or a new stub for its own copy. */
static int task_start_stub(struct task *t)
{
    if (t->ctx) {
        int r = g_platform->ctx_adopt(t->ctx);
        if (r == 0)
            t->ctx_adopted = true;
        return r;
    }
    struct platform_as *as;
    struct platform_ctx *ctx;
    int r = g_platform->as_new(&as, &ctx);
    if (r < 0)
        return r;
    t->ctx = ctx;
    t->ctx_adopted = true;
    return mm_attach(t->mm, as);
}

static void task_init_start(struct task *t);

static void *task_thread_main(void *arg)
{
    struct task *t = arg;
    t_current = t;
    if (t->init) {
        task_init_start(t);
    } else {
        int r = task_start_stub(t);
        if (r < 0) {
            log_error("cannot start the stub of task %d: %s", t->tid, strerror(-r));
            task_exit_group(t, SIGKILL);
            task_vfork_done(t);
        }
    }
    task_loop(t);
    task_finish(t);
    return NULL;
}

/* Kernel threads outlive their tasks: one whose task ended waits up to
 * KWORKER_IDLE_NS for the next (a fork, a new thread), so a fork costs a
 * wake-up instead of a pthread_create (a clone, a stack, the new thread's
 * start-up: ~20 us of the ~250 us fork+exit+wait). At most KWORKER_IDLE_MAX
 * wait; the others, and those whose wait ends, exit. */
#define KWORKER_IDLE_MAX 4
#define KWORKER_IDLE_NS (2ULL * 1000000000ULL)

struct kworker {
    struct task *task;          /* (g_kworker_lock) the next task to run, or NULL */
    pthread_cond_t wake;
    struct kworker *next_idle;  /* (g_kworker_lock) */
    pthread_t thread;           /* (w) set by itself before it first parks */
};

static pthread_mutex_t g_kworker_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kworker *g_kworker_idle; /* (g_kworker_lock) */
static int g_kworker_nr_idle;          /* (g_kworker_lock) */

/* Parks W until it gets a task (returned) or its wait ends (NULL: it
 * left the idle list and is to exit). */
static struct task *kworker_park(struct kworker *w)
{
    pthread_mutex_lock(&g_kworker_lock);
    if (g_kworker_nr_idle >= KWORKER_IDLE_MAX) {
        pthread_mutex_unlock(&g_kworker_lock);
        return NULL;
    }
    w->task = NULL;
    w->next_idle = g_kworker_idle;
    g_kworker_idle = w;
    g_kworker_nr_idle++;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += KWORKER_IDLE_NS / 1000000000ULL;
    while (!w->task) {
        if (pthread_cond_timedwait(&w->wake, &g_kworker_lock, &dl) == ETIMEDOUT && !w->task) {
            /* Still idle: leave the list (it may be anywhere in it). */
            for (struct kworker **p = &g_kworker_idle; *p; p = &(*p)->next_idle) {
                if (*p == w) {
                    *p = w->next_idle;
                    g_kworker_nr_idle--;
                    break;
                }
            }
            break;
        }
    }
    struct task *t = w->task;
    pthread_mutex_unlock(&g_kworker_lock);
    return t;
}

static void *kworker_main(void *arg)
{
    struct kworker *w = arg;
    struct task *t = w->task;
    w->thread = pthread_self(); /* read once W is idle (task_spawn_thread) */
    while (t) {
        if (g_platform->kthread_reset)
            g_platform->kthread_reset();
        task_thread_main(t);
        t = kworker_park(w);
    }
    pthread_cond_destroy(&w->wake);
    free(w);
    return NULL;
}

static int task_spawn_thread(struct task *t)
{
    pthread_mutex_lock(&g_kworker_lock);
    struct kworker *w = g_kworker_idle;
    if (w) {
        g_kworker_idle = w->next_idle;
        g_kworker_nr_idle--;
        /* As a new thread would: its creator's CPUs (the platform pins it
         * from there), and CPU time counted from now. */
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0)
            pthread_setaffinity_np(w->thread, sizeof(set), &set);
        t->thread_cpu_base = kthread_cpu_ns(w->thread);
        t->thread = w->thread;
        w->task = t;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&g_kworker_lock);
        return 0;
    }
    pthread_mutex_unlock(&g_kworker_lock);
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    cond_init_monotonic(&w->wake);
    w->task = t;
    t->thread_cpu_base = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 1024 * 1024);
    /* pthread_create sets T's thread before the thread runs (readers of
     * its CPU time may look at once); the thread notes its own id in W. */
    int r = pthread_create(&t->thread, &attr, kworker_main, w);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        pthread_cond_destroy(&w->wake);
        free(w);
    }
    return -r;
}

/* ---- fork ---- */

#define CLONE_SUPPORTED                                                                    \
    (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_VFORK |       \
     CLONE_PARENT | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID |        \
     CLONE_SETTLS | CLONE_SYSVSEM | CLONE_DETACHED | 0xff)

/* Checks FLAGS as Linux's copy_process does. */
static int clone_check_flags(uint64_t flags)
{
    if (flags & ~(uint64_t)CLONE_SUPPORTED) {
        log_warn_once("clone flags %#llx are not supported",
                      (unsigned long long)(flags & ~(uint64_t)CLONE_SUPPORTED));
        return -EINVAL;
    }
    if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND))
        return -EINVAL;
    if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM))
        return -EINVAL;
    return 0;
}

static void task_free_unstarted(struct task *c)
{
    if (c->ctx)
        mm_ctx_destroy(c->mm, c->ctx);
    if (c->mm)
        mm_put(c->mm);
    if (c->files)
        fdtable_put(c->files);
    if (c->fs)
        fs_struct_put(c->fs);
    cred_release(&c->cred);
    free(c);
}

/* A new process for a fork-like clone. Returns it with the table's
 * reference (not yet in the table), or NULL for ENOMEM. */
static struct thread_group *clone_new_tg(struct task *t, uint64_t flags)
{
    struct thread_group *tg = tg_new();
    if (!tg)
        return NULL;
    if (flags & CLONE_SIGHAND) {
        refcount_inc(&t->tg->sighand->ref);
        tg->sighand = t->tg->sighand;
    } else {
        tg->sighand = sighand_new(t->tg->sighand);
    }
    if (!tg->sighand) {
        tg_put(tg);
        return NULL;
    }
    pthread_mutex_lock(&t->tg->lock);
    memcpy(tg->rlim, t->tg->rlim, sizeof(tg->rlim));
    tg->nice = t->tg->nice;
    tg->exe = t->tg->exe;
    if (tg->exe)
        file_get(tg->exe);
    tg->arg_start = t->tg->arg_start;
    tg->arg_end = t->tg->arg_end;
    tg->env_start = t->tg->env_start;
    tg->env_end = t->tg->env_end;
    pthread_mutex_unlock(&t->tg->lock);
    return tg;
}

/* Tasks of real uid UID (threads, and zombies until reaped), EXCLUDE
 * aside. Caller holds g_tasks_lock. */
static uint64_t nproc_count_locked(uint32_t uid, const struct task *exclude)
{
    uint64_t n = 0;
    struct thread_group *tg;
    list_for_each_entry(tg, &g_all_tgs, all) {
        struct task *o;
        list_for_each_entry(o, &tg->threads, thread_node)
            n += o != exclude && o->cred.uid == uid;
        n += tg->zombie && tg->zombie_uid == uid;
    }
    return n;
}

/* RLIMIT_NPROC, as Linux's copy_process: would one more task of T's real
 * uid be more than T's limit allows? Root and holders of CAP_SYS_RESOURCE
 * or CAP_SYS_ADMIN are exempt. Caller holds g_tasks_lock. */
static bool nproc_exceeded_locked(struct task *t)
{
    uint64_t limit = __atomic_load_n(&t->tg->rlim[RLIMIT_NPROC].rlim_cur, __ATOMIC_RELAXED);
    uint32_t uid = t->cred.uid;
    if (limit == RLIM_INFINITY || uid == 0 || task_capable(t, CAP_SYS_RESOURCE) ||
        task_capable(t, CAP_SYS_ADMIN))
        return false;
    return nproc_count_locked(uid, NULL) + 1 > limit; /* with the new one */
}

int task_exec_nproc_check(struct task *t)
{
    if (!t->nproc_exceeded)
        return 0;
    pthread_mutex_lock(&g_tasks_lock);
    uint64_t limit = __atomic_load_n(&t->tg->rlim[RLIMIT_NPROC].rlim_cur, __ATOMIC_RELAXED);
    bool over = limit != RLIM_INFINITY && nproc_count_locked(t->cred.uid, NULL) > limit;
    pthread_mutex_unlock(&g_tasks_lock);
    if (over)
        return -EAGAIN;
    t->nproc_exceeded = false;
    return 0;
}

void task_set_max(int n)
{
    atomic_store(&g_task_max, n);
}

int task_get_max(void)
{
    return atomic_load(&g_task_max);
}

long task_clone(struct task *t, uint64_t flags, uint64_t stack, uint64_t parent_tid,
                uint64_t child_tid, uint64_t tls)
{
    return task_clone_ex(t, flags, stack, parent_tid, child_tid, tls, NULL);
}

/* The pid clone3's set_tid asks for, as Linux's alloc_pid. Caller holds
 * g_tasks_lock. The pid, or -errno. */
static int pid_alloc_set_locked(struct task *t, int tid)
{
    if (tid < 1 || tid >= PID_MAX)
        return -EINVAL;
    if (!task_capable(t, CAP_SYS_ADMIN) && !task_capable(t, CAP_CHECKPOINT_RESTORE))
        return -EPERM;
    return pid_in_use_locked(tid) ? -EEXIST : tid;
}

long task_clone_ex(struct task *t, uint64_t flags, uint64_t stack, uint64_t parent_tid,
                   uint64_t child_tid, uint64_t tls, const struct task_clone_extra *x)
{
    int r = clone_check_flags(flags);
    if (r < 0)
        return r;
    bool thread = flags & CLONE_THREAD;
    struct task *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    sigpending_init(&c->pending);
    list_init(&c->thread_node);

    /* Memory: shared (threads, vfork, CLONE_VM) or a copy. */
    if (flags & CLONE_VM) {
        mm_get(t->mm);
        c->mm = t->mm;
        /* A context of its own in the same address space. */
        r = g_platform->ctx_new(t->ctx, &c->ctx);
        if (r == 0)
            mm_ctx_add(c->mm);
    } else {
        r = mm_fork(t->mm, &c->mm);
    }
    if (r == 0) {
        if (flags & CLONE_FILES) {
            fdtable_get(t->files);
            c->files = t->files;
        } else {
            r = fdtable_copy(t->files, &c->files);
        }
    }
    if (r == 0) {
        if (flags & CLONE_FS) {
            fs_struct_get(t->fs);
            c->fs = t->fs;
        } else {
            r = fs_struct_copy(t->fs, &c->fs);
        }
    }
    struct thread_group *tg = NULL;
    if (r == 0 && !thread) {
        tg = clone_new_tg(t, flags);
        if (!tg)
            r = -ENOMEM;
    }
    if (r == 0 && x && x->clear_sighand && tg) {
        /* As Linux's flush_signal_handlers(child, 0): handled signals go
         * back to SIG_DFL, ignored ones stay ignored; flags, masks and
         * restorers are cleared. (Never with CLONE_SIGHAND.) */
        for (int i = 0; i < LINUX_NSIG; i++) {
            struct linux_sigaction *act = &tg->sighand->action[i];
            if (act->handler != (uint64_t)(uintptr_t)SIG_IGN)
                act->handler = (uint64_t)(uintptr_t)SIG_DFL;
            act->flags = act->restorer = act->mask = 0;
        }
        sighand_changed_locked(tg->sighand);
    }
    if (r < 0) {
        task_free_unstarted(c);
        return r;
    }
    cred_copy(&c->cred, &t->cred);
    c->sigmask = t->sigmask;
    c->strace = t->strace;
    c->no_new_privs = t->no_new_privs;
    c->affinity = t->affinity;
    c->sched_policy = t->sched_policy;
    c->rt_priority = t->rt_priority;
    if (t->sched_reset_on_fork) {
        /* SCHED_RESET_ON_FORK: the child starts with a normal policy. */
        if (c->sched_policy == SCHED_FIFO || c->sched_policy == SCHED_RR) {
            c->sched_policy = SCHED_OTHER;
            c->rt_priority = 0;
        }
    }
    if (thread)
        c->altstack = (struct linux_stack){0, 0, 0, 0};
    else
        c->altstack = t->altstack;
    memcpy(c->comm, t->comm, sizeof(c->comm));
    c->regs = t->regs;
    c->regs.rax = 0;
    if (stack)
        c->regs.rsp = stack;
    if (flags & CLONE_SETTLS)
        c->regs.fs_base = tls;
    if (flags & CLONE_CHILD_CLEARTID)
        c->clear_child_tid = child_tid;

    pthread_mutex_lock(&g_tasks_lock);
    /* Tasks are only added under g_tasks_lock: the limit is exact. */
    int max = atomic_load(&g_task_max);
    int tid = max > 0 && atomic_load(&g_nr_tasks) >= max ? -EAGAIN
              : nproc_exceeded_locked(t)                 ? -EAGAIN
              : x && x->has_set_tid                      ? pid_alloc_set_locked(t, x->set_tid)
                                                         : pid_alloc_locked();
    if (tid == -EAGAIN && max > 0)
        log_warn_once("sandbox task limit (%d) reached: clone fails with EAGAIN", max);
    if (tid < 0 || t->tg->group_exiting) {
        pthread_mutex_unlock(&g_tasks_lock);
        if (tg)
            tg_put(tg);
        task_free_unstarted(c);
        return tid < 0 ? tid : -EINTR;
    }
    c->tid = tid;
    /* The RLIMIT_NPROC mark of a real-uid change goes to the child; the
     * parent, which just passed the check, loses it (Linux's copy_process). */
    c->nproc_exceeded = t->nproc_exceeded;
    t->nproc_exceeded = false;
    /* seccomp mode and filters: copied under g_tasks_lock, so a TSYNC in
     * another thread cannot miss the new task. */
    seccomp_task_inherit(c, t);
    if (thread) {
        tg = t->tg;
        tg_get(tg); /* the task's reference */
        c->tg = tg;
        pthread_mutex_lock(&tg->sighand->lock);
        list_add_tail(&c->thread_node, &tg->threads);
        tg->nr_threads++;
        atomic_fetch_add(&g_nr_tasks, 1);
        pthread_mutex_unlock(&tg->sighand->lock);
    } else {
        tg->pid = tid;
        tg->exit_signal = (int)(flags & 0xff);
        struct thread_group *parent = (flags & CLONE_PARENT) && t->tg->parent ? t->tg->parent
                                                                              : t->tg;
        tg->parent = parent;
        tg->pgid = t->tg->pgid;
        tg->sid = t->tg->sid;
        tg->nr_threads = 1;
        atomic_fetch_add(&g_nr_tasks, 1);
        tg->leader = c;
        tg->vfork_pending = (flags & CLONE_VFORK) != 0;
        c->tg = tg;
        tg_get(tg); /* the task's reference; the table holds the first */
        list_add_tail(&c->thread_node, &tg->threads);
        list_add_tail(&tg->sibling, &parent->children);
        list_add_tail(&tg->all, &g_all_tgs);
    }
    pthread_mutex_unlock(&g_tasks_lock);

    if (flags & CLONE_CHILD_SETTID) {
        uint32_t v = (uint32_t)tid;
        mm_copy_out(c->mm, child_tid, &v, sizeof(v));
    }
    if (flags & CLONE_PARENT_SETTID) {
        uint32_t v = (uint32_t)tid;
        copy_out(t, parent_tid, &v, sizeof(v));
    }

    tg_get(tg); /* held across the vfork wait below */
    r = task_spawn_thread(c);
    if (r == 0 && !thread && tg->rlim[RLIMIT_CPU].rlim_cur != RLIM_INFINITY)
        task_rlimit_cpu_changed(tg); /* the limit is inherited */
    if (r < 0) {
        /* The child never ran: it ends as if killed before its first
         * instruction. */
        c->exit_code = SIGKILL;
        c->exiting = true;
        if (!thread) {
            pthread_mutex_lock(&g_tasks_lock);
            tg->group_exiting = true;
            tg->exit_status = SIGKILL;
            pthread_mutex_unlock(&g_tasks_lock);
        }
        task_finish(c);
        tg_put(tg);
        return r;
    }
    if (flags & CLONE_VFORK) {
        /* Until the child execs or exits; only SIGKILL cuts this short. */
        struct waiter w;
        waitq_add(&t->tg->child_wq, &w, t);
        for (;;) {
            uint32_t seq = task_wake_seq(t);
            pthread_mutex_lock(&g_tasks_lock);
            bool pending = tg->vfork_pending;
            pthread_mutex_unlock(&g_tasks_lock);
            if (!pending || __atomic_load_n(&t->tg->group_exiting, __ATOMIC_ACQUIRE))
                break;
            if (task_sleep(t, seq, 0) == -EINTR) {
                /* Other signals wait until the child lets go. */
                host_futex_wait(&t->wake_seq, seq, host_monotonic_ns() + 1000000);
            }
        }
        waitq_del(&t->tg->child_wq, &w);
    }
    tg_put(tg);
    return tid;
}

/* ---- wait ---- */

static bool wait_matches(struct thread_group *parent, struct thread_group *child, int pid,
                         int options)
{
    /* __WALL: every child; __WCLONE: only those whose exit signal is not
     * SIGCHLD; otherwise only those whose is. */
    if (!(options & __WALL) && ((child->exit_signal != SIGCHLD) != !!(options & __WCLONE)))
        return false;
    if (pid > 0)
        return child->pid == pid;
    if (pid == -1)
        return true;
    if (pid == 0)
        return child->pgid == parent->pgid;
    return child->pgid == -pid;
}

long task_wait(struct task *t, int pid, int options, struct task_wait_result *out)
{
    if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | WEXITED | WNOWAIT | __WALL | __WCLONE |
                    __WNOTHREAD))
        return -EINVAL;
    struct thread_group *me = t->tg;
    struct waiter w;
    long ret;
    memset(out, 0, sizeof(*out));
    waitq_add(&me->child_wq, &w, t);
    for (;;) {
        uint32_t seq = task_wake_seq(t);
        pthread_mutex_lock(&g_tasks_lock);
        bool any = false;
        struct thread_group *child;
        list_for_each_entry(child, &me->children, sibling) {
            if (!wait_matches(me, child, pid, options))
                continue;
            any = true;
            int rep = child->stop_report;
            if (!child->zombie && rep &&
                ((WIFSTOPPED(rep) && (options & WUNTRACED)) ||
                 (WIFCONTINUED(rep) && (options & WCONTINUED)))) {
                if (!(options & WNOWAIT))
                    child->stop_report = 0;
                out->pid = child->pid;
                out->status = rep;
                out->code = WIFSTOPPED(rep) ? CLD_STOPPED : CLD_CONTINUED;
                out->exit_info = WIFSTOPPED(rep) ? WSTOPSIG(rep) : SIGCONT;
                pthread_mutex_unlock(&g_tasks_lock);
                ret = out->pid;
                goto out;
            }
            if (!child->zombie || !(options & WEXITED))
                continue;
            int st = child->exit_status;
            out->pid = child->pid;
            out->status = st;
            out->code = WIFSIGNALED(st) ? CLD_KILLED : CLD_EXITED;
            out->exit_info = WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st);
            out->utime = child->dead_utime;
            out->stime = child->dead_stime;
            if (!(options & WNOWAIT)) {
                list_del(&child->sibling);
                list_del(&child->all);
                me->child_utime += child->dead_utime + child->child_utime;
                me->child_stime += child->dead_stime + child->child_stime;
                pthread_mutex_unlock(&g_tasks_lock);
                tg_put(child);
            } else {
                pthread_mutex_unlock(&g_tasks_lock);
            }
            ret = out->pid;
            goto out;
        }
        pthread_mutex_unlock(&g_tasks_lock);
        if (!any) {
            ret = -ECHILD;
            goto out;
        }
        if (options & WNOHANG) {
            ret = 0;
            goto out;
        }
        /* Children are scanned before signals are looked at, as in Linux:
         * a child whose exit raised the SIGCHLD is reaped, not missed. */
        if (signal_pending(t)) {
            ret = -ERESTARTSYS;
            goto out;
        }
        task_sleep(t, seq, 0);
    }
out:
    waitq_del(&me->child_wq, &w);
    return ret;
}

/* ---- the sandbox's first task ---- */

static const int g_rlimit_resources = LINUX_RLIM_NLIMITS;

/* A first process's limits: the caller's, with INIT's (OCI) over them. */
static void init_rlimits(struct thread_group *tg, const struct sandbox_init *init)
{
    for (int i = 0; i < g_rlimit_resources; i++) {
        if (init->rlim_set & (1u << i))
            tg->rlim[i] = init->rlim[i];
        else
            host_getrlimit(i, &tg->rlim[i].rlim_cur, &tg->rlim[i].rlim_max);
    }
}

/* Finds CMD as a shell does: a name with a slash is used as is, others
 * are looked up in PATH from ENVP. Returns 0 with the path in BUF, or the
 * -errno of the best candidate. */
static int resolve_command(struct task *t, const char *cmd, char *const *envp, char *buf,
                           size_t size)
{
    if (strchr(cmd, '/')) {
        if (strlen(cmd) >= size)
            return -ENAMETOOLONG;
        strcpy(buf, cmd);
        return 0;
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path = *e + 5;
    int best = -ENOENT;
    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int n = len ? snprintf(buf, size, "%.*s/%s", (int)len, p, cmd)
                    : snprintf(buf, size, "%s", cmd);
        if (n > 0 && (size_t)n < size) {
            struct linux_stat st;
            int r = vfs_statat(t, AT_FDCWD, buf, 0, &st);
            if (r == 0 && (st.st_mode & S_IFMT) == S_IFDIR)
                r = -ENOENT; /* a shell skips directories on PATH */
            if (r == 0)
                r = vfs_access(t, buf, X_OK);
            if (r == 0) {
                struct file *f;
                r = vfs_open_exec(t, buf, &f);
                if (r == 0) {
                    file_put(f);
                    return 0;
                }
            }
            if (r == -EACCES)
                best = -EACCES;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return best;
}

/* Why the first process (or one `moat exec` started) could not run: on the
 * kernel's stderr for init, as a shell says it; on the process's own
 * stderr for the others, so `moat exec` (and `docker exec`) show it. */
static void init_error(struct task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void init_error(struct task *t, const char *fmt, ...)
{
    char msg[LINUX_PATH_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct file *f = t->tg->pid != 1 && t->files ? fdtable_get_file(t->files, 2) : NULL;
    if (!f) {
        log_error("%s", msg);
        return;
    }
    strncat(msg, "\n", sizeof(msg) - strlen(msg) - 1);
    vfs_write(f, msg, strlen(msg));
    file_put(f);
}

static void task_init_start(struct task *t)
{
    const struct sandbox_init *init = t->init;
    const char *cmd = init->path ? init->path : init->argv[0];
    char path[LINUX_PATH_MAX];
    int status = 0;

    int r = fdtable_new(&t->files);
    for (int fd = 0; r == 0 && fd < 3; fd++) {
        if (init->host_stdio[fd] < 0)
            continue;
        struct file *f;
        r = hostfile_new(init->host_stdio[fd], fd == 0 ? O_RDONLY : O_WRONLY, &f);
        if (r == 0) {
            r = fdtable_install_at(t->files, fd, f, false);
            file_put(f);
        }
    }
    if (r < 0) {
        log_error("cannot set up the app's standard fds: %s", strerror(-r));
        status = 126 << 8;
        goto fail;
    }
    if (init->cwd && vfs_chdir(t, init->cwd) < 0)
        log_debug("cwd %s does not exist in the sandbox; staying in /", init->cwd);
    if (init->before_exec && (status = init->before_exec(init)) != 0)
        goto fail;

    if (init->seccomp_len) {
        long sr = seccomp_install_prog(t, init->seccomp_prog, init->seccomp_len,
                                       init->seccomp_flags);
        if (sr != 0) {
            init_error(t, "linux.seccomp: cannot install the filter: %s",
                       strerror(sr < 0 ? (int)-sr : ESRCH));
            status = 126 << 8;
            goto fail;
        }
    }
    r = resolve_command(t, cmd, init->envp, path, sizeof(path));
    if (r == 0)
        r = task_exec(t, path, init->argv, init->envp);
    if (r == 0)
        return;
    /* The messages and codes a shell gives. */
    switch (-r) {
    case ENOENT:
        if (strchr(cmd, '/'))
            init_error(t, "%s: No such file or directory", cmd);
        else
            init_error(t, "%s: command not found", cmd);
        status = 127 << 8;
        break;
    case ENOEXEC:
        init_error(t, "%s: cannot execute binary file: Exec format error", cmd);
        status = 126 << 8;
        break;
    case EACCES:
        init_error(t, "%s: Permission denied", cmd);
        status = 126 << 8;
        break;
    case EISDIR:
        init_error(t, "%s: Is a directory", cmd);
        status = 126 << 8;
        break;
    default:
        init_error(t, "%s: %s", cmd, strerror(-r));
        status = 126 << 8;
        break;
    }
fail:
    task_exit_group(t, status);
}

int task_run_init(const struct sandbox_init *init, int *out_status)
{
    struct task *t = calloc(1, sizeof(*t));
    struct thread_group *tg = tg_new();
    if (!t || !tg) {
        free(t);
        free(tg);
        return -ENOMEM;
    }
    tg->sighand = sighand_new(NULL);
    if (!tg->sighand) {
        free(t);
        tg_put(tg);
        return -ENOMEM;
    }
    init_rlimits(tg, init);
    g_on_last_exit = init->on_last_exit;
    tg->nice = init->nice;
    sigpending_init(&t->pending);
    int ncpu = host_nr_cpus();
    t->affinity = ncpu >= 64 ? ~0ULL : (1ULL << ncpu) - 1;
    t->fs = init->fs;
    cred_copy(&t->cred, &init->cred);
    t->strace = init->strace;
    t->no_new_privs = init->no_new_privs;
    t->init = init;
    pthread_mutex_lock(&g_tasks_lock);
    tg->pid = pid_alloc_locked();
    tg->pgid = tg->sid = tg->pid;
    tg->exit_signal = SIGCHLD;
    tg->host_session = true;
    tg->nr_threads = 1;
    atomic_fetch_add(&g_nr_tasks, 1);
    tg->leader = t;
    t->tid = tg->pid;
    t->tg = tg;
    list_add_tail(&t->thread_node, &tg->threads);
    tg_get(tg);
    list_add_tail(&tg->all, &g_all_tgs);
    g_init_started = true;
    pthread_cond_broadcast(&g_init_exit); /* task_wait_init_started() */
    pthread_mutex_unlock(&g_tasks_lock);

    tg_get(tg); /* kept until RLIMIT_CPU is armed */
    int r = task_spawn_thread(t);
    if (r == 0 && tg->rlim[RLIMIT_CPU].rlim_cur != RLIM_INFINITY)
        task_rlimit_cpu_changed(tg);
    tg_put(tg);
    if (r < 0)
        return r;
    pthread_mutex_lock(&g_tasks_lock);
    while (!g_init_done)
        pthread_cond_wait(&g_init_exit, &g_tasks_lock);
    *out_status = g_init_status;
    pthread_mutex_unlock(&g_tasks_lock);
    return 0;
}

/* ---- processes started from outside the sandbox (moat exec, ctl.c) ---- */

int task_wait_init_started(void)
{
    pthread_mutex_lock(&g_tasks_lock);
    while (!g_init_started && !g_init_done)
        pthread_cond_wait(&g_init_exit, &g_tasks_lock);
    int r = g_init_done ? -ESRCH : 0;
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}

/* As task_run_init, for a further process: it joins the sandbox as a new
 * session leader with no parent inside (ppid 0, as runc's exec'd processes
 * see it); nobody reaps it, its exit wakes tg->exit_wq. Its orphans go to
 * init. INIT must outlive the start of the task (task_init_start reads it).
 * Returns 0 and *out_tg (a new reference), or -errno. */
int task_spawn(const struct sandbox_init *init, struct thread_group **out_tg)
{
    struct thread_group *init_tg = task_lookup_tg(1);
    struct task *t = calloc(1, sizeof(*t));
    struct thread_group *tg = tg_new();
    if (!t || !tg || !(tg->sighand = sighand_new(NULL))) {
        free(t);
        if (tg)
            tg_put(tg);
        if (init_tg)
            tg_put(init_tg);
        return -ENOMEM;
    }
    if (init_tg) {
        pthread_mutex_lock(&init_tg->lock);
        memcpy(tg->rlim, init_tg->rlim, sizeof(tg->rlim));
        pthread_mutex_unlock(&init_tg->lock);
        tg->nice = init->nice;
        tg_put(init_tg);
    } else {
        init_rlimits(tg, init);
    }
    sigpending_init(&t->pending);
    list_init(&t->thread_node);
    int ncpu = host_nr_cpus();
    t->affinity = ncpu >= 64 ? ~0ULL : (1ULL << ncpu) - 1;
    t->fs = init->fs;
    cred_copy(&t->cred, &init->cred);
    t->strace = init->strace;
    t->no_new_privs = init->no_new_privs;
    t->init = init;
    pthread_mutex_lock(&g_tasks_lock);
    int pid = pid_alloc_locked();
    if (pid < 0 || !g_init_started || g_init_done) {
        pthread_mutex_unlock(&g_tasks_lock);
        t->fs = NULL;
        cred_release(&t->cred);
        free(t);
        tg_put(tg);
        return pid < 0 ? pid : -ESRCH;
    }
    tg->pid = pid;
    tg->pgid = tg->sid = pid;
    tg->exit_signal = SIGCHLD;
    tg->host_session = true;
    tg->nr_threads = 1;
    tg->leader = t;
    t->tid = pid;
    t->tg = tg;
    list_add_tail(&t->thread_node, &tg->threads);
    tg_get(tg); /* the task's reference; the table holds the first */
    list_add_tail(&tg->all, &g_all_tgs);
    pthread_mutex_unlock(&g_tasks_lock);
    tg_get(tg); /* the caller's */
    int r = task_spawn_thread(t);
    if (r < 0) {
        t->exit_code = SIGKILL;
        t->exiting = true;
        pthread_mutex_lock(&g_tasks_lock);
        tg->group_exiting = true;
        tg->exit_status = SIGKILL;
        pthread_mutex_unlock(&g_tasks_lock);
        task_finish(t);
        tg_put(tg);
        return r;
    }
    if (tg->rlim[RLIMIT_CPU].rlim_cur != RLIM_INFINITY)
        task_rlimit_cpu_changed(tg);
    *out_tg = tg;
    return 0;
}

void task_host_signal(int signo)
{
    pthread_mutex_lock(&g_tasks_lock);
    struct thread_group *tg;
    list_for_each_entry(tg, &g_all_tgs, all) {
        if (tg->pid == 1) {
            signal_send_tg_locked(tg, signo, NULL, true);
            break;
        }
    }
    pthread_mutex_unlock(&g_tasks_lock);
}
