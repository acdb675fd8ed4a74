/*
 * Process and identity syscalls: getpid, getppid, gettid, getuid, geteuid,
 * getgid, getegid, getresuid, getresgid, set_tid_address,
 * set_robust_list, get_robust_list, exit, exit_group, wait4, clone, fork,
 * vfork, execve, execveat, arch_prctl, prctl, getpgrp, getpgid, setpgid,
 * getsid, setsid, sched_yield, getrlimit, setrlimit, prlimit64, getrusage,
 * times, waitid, pidfd_open, pidfd_send_signal, clone3.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "kernel/fs/fs.h"
#include "kernel/host/host.h"
#include "kernel/seccomp/seccomp.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/pidfd.h"
#include "kernel/task/task_internal.h"
#include "kernel/vfs/vfs.h"
#include "lib/log.h"
#include "lib/util.h"

#define CLONE_PIDFD_L 0x1000
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

static long sys_getpid(struct task *t, const struct sys_args *a)
{
    return t->tg->pid;
}
SYSCALL_DEFINE(getpid, sys_getpid, "", SYS_FULL, NULL);

static long sys_getppid(struct task *t, const struct sys_args *a)
{
    return task_ppid(t);
}
SYSCALL_DEFINE(getppid, sys_getppid, "", SYS_FULL, NULL);

static long sys_gettid(struct task *t, const struct sys_args *a)
{
    return t->tid;
}
SYSCALL_DEFINE(gettid, sys_gettid, "", SYS_FULL, NULL);

static long sys_getuid(struct task *t, const struct sys_args *a)
{
    return t->cred.uid;
}
SYSCALL_DEFINE(getuid, sys_getuid, "", SYS_FULL, NULL);

static long sys_geteuid(struct task *t, const struct sys_args *a)
{
    return t->cred.euid;
}
SYSCALL_DEFINE(geteuid, sys_geteuid, "", SYS_FULL, NULL);

static long sys_getgid(struct task *t, const struct sys_args *a)
{
    return t->cred.gid;
}
SYSCALL_DEFINE(getgid, sys_getgid, "", SYS_FULL, NULL);

static long sys_getegid(struct task *t, const struct sys_args *a)
{
    return t->cred.egid;
}
SYSCALL_DEFINE(getegid, sys_getegid, "", SYS_FULL, NULL);

static long put_three_ids(struct task *t, const struct sys_args *a, uint32_t r, uint32_t e,
                          uint32_t s)
{
    if (copy_out(t, a->arg[0], &r, 4) < 0 || copy_out(t, a->arg[1], &e, 4) < 0 ||
        copy_out(t, a->arg[2], &s, 4) < 0)
        return -EFAULT;
    return 0;
}

static long sys_getresuid(struct task *t, const struct sys_args *a)
{
    return put_three_ids(t, a, t->cred.uid, t->cred.euid, t->cred.suid);
}
SYSCALL_DEFINE(getresuid, sys_getresuid, "ppp", SYS_FULL, NULL);

static long sys_getresgid(struct task *t, const struct sys_args *a)
{
    return put_three_ids(t, a, t->cred.gid, t->cred.egid, t->cred.sgid);
}
SYSCALL_DEFINE(getresgid, sys_getresgid, "ppp", SYS_FULL, NULL);

static long sys_set_tid_address(struct task *t, const struct sys_args *a)
{
    t->clear_child_tid = a->arg[0];
    return t->tid;
}
SYSCALL_DEFINE(set_tid_address, sys_set_tid_address, "p", SYS_FULL, NULL);

static long sys_set_robust_list(struct task *t, const struct sys_args *a)
{
    if (a->arg[1] != 24) /* sizeof(struct robust_list_head) */
        return -EINVAL;
    t->robust_list = a->arg[0];
    t->robust_len = a->arg[1];
    return 0;
}
SYSCALL_DEFINE(set_robust_list, sys_set_robust_list, "pu", SYS_FULL, NULL);

static long sys_exit(struct task *t, const struct sys_args *a)
{
    task_exit_thread(t, (int)a->arg[0]);
    return 0;
}
SYSCALL_DEFINE(exit, sys_exit, "d", SYS_FULL, NULL);

static long sys_exit_group(struct task *t, const struct sys_args *a)
{
    task_exit_group(t, ((int)a->arg[0] & 0xff) << 8);
    return 0;
}
SYSCALL_DEFINE(exit_group, sys_exit_group, "d", SYS_FULL, NULL);

/* struct rusage: only the times are accounted; the counters stay 0. */
struct linux_rusage {
    struct linux_timeval utime, stime;
    int64_t counters[14];
};

static void ns_to_timeval(uint64_t ns, struct linux_timeval *tv)
{
    tv->tv_sec = (int64_t)(ns / 1000000000ULL);
    tv->tv_usec = (int64_t)(ns % 1000000000ULL / 1000);
}

static long sys_wait4(struct task *t, const struct sys_args *a)
{
    int options = (int)a->arg[2];
    if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE | __WNOTHREAD))
        return -EINVAL;
    struct task_wait_result res;
    long r = task_wait(t, (int)a->arg[0], options | WEXITED, &res);
    if (r <= 0)
        return r;
    int32_t st = res.status;
    if (a->arg[1] && copy_out(t, a->arg[1], &st, sizeof(st)) < 0)
        return -EFAULT;
    if (a->arg[3]) {
        struct linux_rusage lr;
        memset(&lr, 0, sizeof(lr));
        ns_to_timeval(res.utime, &lr.utime);
        ns_to_timeval(res.stime, &lr.stime);
        if (copy_out(t, a->arg[3], &lr, sizeof(lr)) < 0)
            return -EFAULT;
    }
    return r;
}
SYSCALL_DEFINE(wait4, sys_wait4, "dpxp", SYS_PARTIAL,
               "rusage has CPU times (app time as user, kernel time as system), no counters");

#define P_ALL_L   0
#define P_PID_L   1
#define P_PGID_L  2
#define P_PIDFD_L 3

static long sys_waitid(struct task *t, const struct sys_args *a)
{
    int which = (int)a->arg[0], id = (int)a->arg[1], options = (int)a->arg[3];
    if (!(options & (WEXITED | WSTOPPED | WCONTINUED)))
        return -EINVAL;
    int pid;
    switch (which) {
    case P_ALL_L:
        pid = -1;
        break;
    case P_PID_L:
        if (id <= 0)
            return -EINVAL;
        pid = id;
        break;
    case P_PGID_L:
        if (id < 0)
            return -EINVAL;
        pid = id ? -id : 0;
        break;
    case P_PIDFD_L: {
        struct file *f = fdtable_get_file(t->files, id);
        if (!f)
            return -EBADF;
        struct thread_group *tg = pidfd_tg(f);
        file_put(f);
        if (!tg)
            return -EINVAL;
        pid = tg->pid;
        tg_put(tg);
        break;
    }
    default:
        return -EINVAL;
    }
    struct task_wait_result res;
    long r = task_wait(t, pid, options, &res);
    if (r < 0)
        return r;
    if (a->arg[2]) {
        struct linux_siginfo si;
        memset(&si, 0, sizeof(si));
        if (r > 0) {
            si.si_signo = SIGCHLD;
            si.si_code = res.code;
            si.chld.pid = res.pid;
            si.chld.uid = t->cred.uid;
            si.chld.status = res.exit_info;
        }
        if (copy_out(t, a->arg[2], &si, sizeof(si)) < 0)
            return -EFAULT;
    }
    if (a->arg[4]) {
        struct linux_rusage lr;
        memset(&lr, 0, sizeof(lr));
        ns_to_timeval(res.utime, &lr.utime);
        ns_to_timeval(res.stime, &lr.stime);
        if (copy_out(t, a->arg[4], &lr, sizeof(lr)) < 0)
            return -EFAULT;
    }
    return 0;
}
SYSCALL_DEFINE(waitid, sys_waitid, "ddpxp", SYS_PARTIAL,
               "rusage has CPU times only");

static long sys_pidfd_open(struct task *t, const struct sys_args *a)
{
    int pid = (int)a->arg[0];
    unsigned flags = (unsigned)a->arg[1];
    if (flags & ~(unsigned)O_NONBLOCK)
        return -EINVAL;
    if (pid <= 0)
        return -EINVAL;
    struct thread_group *tg = task_lookup_tg(pid);
    if (!tg)
        return -ESRCH;
    struct file *f;
    int r = pidfd_create(tg, (int)flags, &f);
    tg_put(tg);
    if (r < 0)
        return r;
    r = fdtable_alloc(t->files, 0, (int)t->tg->rlim[RLIMIT_NOFILE].rlim_cur, f, true);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(pidfd_open, sys_pidfd_open, "dx", SYS_FULL, NULL);

static long sys_pidfd_send_signal(struct task *t, const struct sys_args *a)
{
    int sig = (int)a->arg[1];
    if (a->arg[3])
        return -EINVAL;
    if (sig < 0 || sig > LINUX_NSIG)
        return -EINVAL;
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    struct thread_group *tg = pidfd_tg(f);
    /* As on Linux, an fd on a /proc/PID directory names that process too.
     * Linux pins the struct pid there; moat's proc inode holds the number,
     * so a process gone since the open gives ESRCH (a reused pid would be
     * the new process). */
    int procpid = tg ? 0 : procfs_tgid_dir_pid(f);
    file_put(f);
    if (!tg && !procpid)
        return -EBADF;
    if (!tg && !(tg = task_lookup_tg(procpid)))
        return -ESRCH;
    struct linux_siginfo info;
    memset(&info, 0, sizeof(info));
    if (a->arg[2]) {
        if (copy_in(t, &info, a->arg[2], sizeof(info)) < 0) {
            tg_put(tg);
            return -EFAULT;
        }
        if (info.si_signo != sig || ((info.si_code >= 0 || info.si_code == -6) && tg != t->tg)) {
            tg_put(tg);
            return -EPERM;
        }
    } else {
        info.si_signo = sig;
        info.si_code = 0; /* SI_USER */
        info.kill.pid = t->tg->pid;
        info.kill.uid = t->cred.uid;
    }
    long r = 0;
    pthread_mutex_lock(&g_tasks_lock);
    if (tg->zombie)
        r = -ESRCH;
    else if (!signal_may_send_locked(t, tg->leader, tg, sig))
        r = -EPERM;
    else if (sig)
        r = signal_send_tg_locked(tg, sig, &info, false);
    pthread_mutex_unlock(&g_tasks_lock);
    tg_put(tg);
    return r;
}
SYSCALL_DEFINE(pidfd_send_signal, sys_pidfd_send_signal, "ddpx", SYS_FULL, NULL);

/* struct clone_args (clone3). */
struct linux_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t set_tid, set_tid_size, cgroup;
};

#define CLONE_CLEAR_SIGHAND_L 0x100000000ULL
#define CLONE_INTO_CGROUP_L 0x200000000ULL

/* Makes a pidfd for the new child PID and writes its number to ADDR. */
static long clone_pidfd(struct task *t, long pid, uint64_t addr)
{
    struct thread_group *tg = task_lookup_tg((int)pid);
    if (!tg)
        return 0; /* it already exited and was reaped */
    struct file *f;
    int r = pidfd_create(tg, 0, &f);
    tg_put(tg);
    if (r < 0)
        return r;
    int fd = fdtable_alloc(t->files, 0, (int)t->tg->rlim[RLIMIT_NOFILE].rlim_cur, f, true);
    file_put(f);
    if (fd < 0)
        return fd;
    int32_t v = fd;
    return copy_out(t, addr, &v, sizeof(v));
}

#define CLONE_ARGS_SIZE_VER0 64
#define CLONE_ARGS_SIZE_VER2 88
#define MAX_PID_NS_LEVEL     32
#define CSIGNAL_L            0xffULL
#define CLONE_NEWTIME_L      0x80ULL
#define CLONE_DETACHED_L     0x400000ULL

static long sys_clone3(struct task *t, const struct sys_args *a)
{
    struct linux_clone_args ca;
    size_t size = a->arg[1];
    /* As Linux's copy_clone_args_from_user and clone3_args_valid. */
    if (size > 4096)
        return -E2BIG;
    if (size < CLONE_ARGS_SIZE_VER0)
        return -EINVAL;
    memset(&ca, 0, sizeof(ca));
    if (copy_in(t, &ca, a->arg[0], MIN(size, sizeof(ca))) < 0)
        return -EFAULT;
    if (size > sizeof(ca)) {
        /* A newer struct: what moat does not know must be zero. */
        uint8_t rest[4096];
        size_t n = size - sizeof(ca);
        if (copy_in(t, rest, a->arg[0] + sizeof(ca), n) < 0)
            return -EFAULT;
        for (size_t i = 0; i < n; i++)
            if (rest[i])
                return -E2BIG;
    }
    if (ca.set_tid_size > MAX_PID_NS_LEVEL || (!ca.set_tid && ca.set_tid_size) ||
        (ca.set_tid && !ca.set_tid_size))
        return -EINVAL;
    if ((ca.exit_signal & ~CSIGNAL_L) || ca.exit_signal > LINUX_NSIG)
        return -EINVAL;
    if ((ca.flags & CLONE_INTO_CGROUP_L) && (ca.cgroup > INT32_MAX || size < CLONE_ARGS_SIZE_VER2))
        return -EINVAL;
    int32_t set_tid[MAX_PID_NS_LEVEL];
    if (ca.set_tid_size && copy_in(t, set_tid, ca.set_tid, ca.set_tid_size * sizeof(int32_t)) < 0)
        return -EFAULT;
    if ((ca.flags & ~(0xffffffffULL | CLONE_CLEAR_SIGHAND_L | CLONE_INTO_CGROUP_L)) ||
        (ca.flags & (CLONE_DETACHED_L | (CSIGNAL_L & ~CLONE_NEWTIME_L))) ||
        ((ca.flags & CLONE_SIGHAND) && (ca.flags & CLONE_CLEAR_SIGHAND_L)) ||
        ((ca.flags & (CLONE_THREAD | CLONE_PARENT)) && ca.exit_signal) ||
        (!ca.stack && ca.stack_size) || (ca.stack && !ca.stack_size))
        return -EINVAL;
    if ((ca.flags & CLONE_PIDFD_L) && (ca.flags & CLONE_THREAD))
        return -EINVAL;
    if (ca.flags & CLONE_NEWTIME_L) {
        log_warn_once("clone3 CLONE_NEWTIME: time namespaces are not supported");
        return -EINVAL;
    }
    /* One PID namespace: set_tid holds at most its pid in it. */
    if (ca.set_tid_size > 1)
        return -EINVAL;
    if (ca.flags & CLONE_INTO_CGROUP_L) {
        /* The sandbox has one cgroup, its root, which every process is
         * in: placing the child there is what happens anyway. Any other
         * fd is not a cgroup2 directory: EBADF, as Linux. */
        struct file *f = fdtable_get_file(t->files, (int)ca.cgroup);
        if (!f)
            return -EBADF;
        bool cg = cgroupfs_is_cgroup(f->inode);
        file_put(f);
        if (!cg)
            return -EBADF;
    }
    struct task_clone_extra x = {
        .has_set_tid = ca.set_tid_size != 0,
        .set_tid = ca.set_tid_size ? set_tid[0] : 0,
        .clear_sighand = (ca.flags & CLONE_CLEAR_SIGHAND_L) != 0,
    };
    uint64_t stack = ca.stack ? ca.stack + ca.stack_size : 0;
    uint64_t flags = (ca.flags & ~(uint64_t)(CLONE_PIDFD_L | CLONE_CLEAR_SIGHAND_L |
                                             CLONE_INTO_CGROUP_L)) |
                     ca.exit_signal;
    long pid = task_clone_ex(t, flags, stack, ca.parent_tid, ca.child_tid, ca.tls, &x);
    if (pid > 0 && (ca.flags & CLONE_PIDFD_L)) {
        long r = clone_pidfd(t, pid, ca.pidfd);
        if (r < 0)
            return r;
    }
    return pid;
}
SYSCALL_DEFINE(clone3, sys_clone3, "pu", SYS_PARTIAL,
               "set_tid in moat's one PID namespace (size 1); CLONE_INTO_CGROUP into the "
               "sandbox's one cgroup (other fds EBADF); no CLONE_NEW* namespaces");

#define RUSAGE_SELF_L     0
#define RUSAGE_CHILDREN_L (-1)
#define RUSAGE_THREAD_L   1

static long sys_getrusage(struct task *t, const struct sys_args *a)
{
    int who = (int)a->arg[0];
    uint64_t u, s;
    if (who == RUSAGE_SELF_L || who == RUSAGE_THREAD_L) {
        task_cputime(t, who == RUSAGE_SELF_L, &u, &s);
    } else if (who == RUSAGE_CHILDREN_L) {
        pthread_mutex_lock(&g_tasks_lock);
        u = t->tg->child_utime;
        s = t->tg->child_stime;
        pthread_mutex_unlock(&g_tasks_lock);
    } else {
        return -EINVAL;
    }
    struct linux_rusage lr;
    memset(&lr, 0, sizeof(lr));
    ns_to_timeval(u, &lr.utime);
    ns_to_timeval(s, &lr.stime);
    return copy_out(t, a->arg[1], &lr, sizeof(lr));
}
SYSCALL_DEFINE(getrusage, sys_getrusage, "dp", SYS_PARTIAL,
               "CPU times only (app time as user, kernel time as system)");

static long sys_times(struct task *t, const struct sys_args *a)
{
    uint64_t u, s;
    task_cputime(t, true, &u, &s);
    pthread_mutex_lock(&g_tasks_lock);
    uint64_t cu = t->tg->child_utime, cs = t->tg->child_stime;
    pthread_mutex_unlock(&g_tasks_lock);
    const uint64_t tick = 10000000ULL; /* USER_HZ 100 */
    int64_t tms[4] = {(int64_t)(u / tick), (int64_t)(s / tick), (int64_t)(cu / tick),
                      (int64_t)(cs / tick)};
    if (a->arg[0] && copy_out(t, a->arg[0], tms, sizeof(tms)) < 0)
        return -EFAULT;
    int64_t sec, nsec;
    host_clock_gettime(CLOCK_BOOTTIME, &sec, &nsec);
    return (long)(((uint64_t)sec * 1000000000ULL + (uint64_t)nsec) / tick);
}
SYSCALL_DEFINE(times, sys_times, "p", SYS_FULL, NULL);

static long clone_pidfd(struct task *t, long pid, uint64_t addr);

static long sys_clone(struct task *t, const struct sys_args *a)
{
    /* x86-64 order: flags, stack, parent_tid, child_tid, tls. With
     * CLONE_PIDFD the pidfd goes to parent_tid (so no PARENT_SETTID). */
    uint64_t flags = a->arg[0];
    if ((flags & CLONE_PIDFD_L) && (flags & (CLONE_PARENT_SETTID | CLONE_THREAD)))
        return -EINVAL;
    long pid = task_clone(t, flags & ~(uint64_t)CLONE_PIDFD_L, a->arg[1], a->arg[2], a->arg[3],
                          a->arg[4]);
    if (pid > 0 && (flags & CLONE_PIDFD_L)) {
        long r = clone_pidfd(t, pid, a->arg[2]);
        if (r < 0)
            return r;
    }
    return pid;
}
SYSCALL_DEFINE(clone, sys_clone, "xppppx", SYS_PARTIAL,
               "no CLONE_NEW* namespaces, CLONE_PTRACE or CLONE_UNTRACED");

static long sys_fork(struct task *t, const struct sys_args *a)
{
    return task_clone(t, SIGCHLD, 0, 0, 0, 0);
}
SYSCALL_DEFINE(fork, sys_fork, "", SYS_FULL, NULL);

static long sys_vfork(struct task *t, const struct sys_args *a)
{
    return task_clone(t, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0);
}
SYSCALL_DEFINE(vfork, sys_vfork, "", SYS_FULL, NULL);

/* Copies a NULL-terminated vector of strings from the app. *out_vec is a
 * malloc'd NULL-terminated array of malloc'd strings. */
static int copy_strv_in(struct task *t, uint64_t addr, size_t *total, char ***out_vec)
{
    size_t n = 0, cap = 16;
    char **v = calloc(cap, sizeof(char *));
    if (!v)
        return -ENOMEM;
    int r = 0;
    for (; addr; n++) {
        uint64_t p;
        r = copy_in(t, &p, addr + n * 8, 8);
        if (r < 0)
            break;
        if (!p)
            break;
        if (n + 2 > cap) {
            cap *= 2;
            char **nv = realloc(v, cap * sizeof(char *));
            if (!nv) {
                r = -ENOMEM;
                break;
            }
            v = nv;
        }
        char *s = malloc(32 * 4096);
        if (!s) {
            r = -ENOMEM;
            break;
        }
        long len = mm_strncpy_in(t->mm, s, p, 32 * 4096);
        if (len < 0) {
            free(s);
            r = len == -ENAMETOOLONG ? -E2BIG : (int)len;
            break;
        }
        *total += (size_t)len + 1 + 8;
        if (*total > (2u << 20)) {
            free(s);
            r = -E2BIG;
            break;
        }
        v[n] = realloc(s, (size_t)len + 1) ?: s;
        v[n + 1] = NULL;
    }
    if (r < 0) {
        for (size_t i = 0; i < n && v[i]; i++)
            free(v[i]);
        free(v);
        return r;
    }
    v[n] = NULL;
    *out_vec = v;
    return 0;
}

static void free_strv(char **v)
{
    if (!v)
        return;
    for (size_t i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

static long do_execve(struct task *t, const char *path, uint64_t argv_addr, uint64_t envp_addr)
{
    char **argv = NULL, **envp = NULL;
    size_t total = 0;
    int r = copy_strv_in(t, argv_addr, &total, &argv);
    if (r == 0)
        r = copy_strv_in(t, envp_addr, &total, &envp);
    if (r == 0)
        r = task_exec(t, path, argv, envp);
    free_strv(argv);
    free_strv(envp);
    return r;
}

static long sys_execve(struct task *t, const struct sys_args *a)
{
    char path[LINUX_PATH_MAX];
    int r = copy_path_in(t, path, a->arg[0]);
    if (r < 0)
        return r;
    if (!path[0])
        return -ENOENT;
    return do_execve(t, path, a->arg[1], a->arg[2]);
}
SYSCALL_DEFINE(execve, sys_execve, "spp", SYS_FULL, NULL);

static long sys_execveat(struct task *t, const struct sys_args *a)
{
    char path[LINUX_PATH_MAX];
    int dirfd = (int)a->arg[0];
    int flags = (int)a->arg[4];
    if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
        return -EINVAL;
    int r = copy_path_in(t, path, a->arg[1]);
    if (r < 0)
        return r;
    if (path[0] == '/' || dirfd == AT_FDCWD) {
        if (!path[0])
            return -ENOENT;
        return do_execve(t, path, a->arg[2], a->arg[3]);
    }
    /* Relative to a directory fd, or the fd itself: name it by its path. */
    struct file *f = fdtable_get_file(t->files, dirfd);
    if (!f)
        return -EBADF;
    char full[LINUX_PATH_MAX];
    int n = vfs_file_path(f, full, sizeof(full));
    file_put(f);
    if (n < 0)
        return n;
    if (path[0]) {
        if ((size_t)n + 1 + strlen(path) >= sizeof(full))
            return -ENAMETOOLONG;
        strcat(full, "/");
        strcat(full, path);
    } else if (!(flags & AT_EMPTY_PATH)) {
        return -ENOENT;
    }
    return do_execve(t, full, a->arg[2], a->arg[3]);
}
SYSCALL_DEFINE(execveat, sys_execveat, "fsppx", SYS_PARTIAL,
               "dirfd-relative paths are resolved through the fd's path");

static long sys_arch_prctl(struct task *t, const struct sys_args *a)
{
    uint64_t v;
    switch (a->arg[0]) {
    case ARCH_SET_FS:
    case ARCH_SET_GS:
        if (a->arg[1] >= PLATFORM_APP_MAX)
            return -EPERM;
        if (a->arg[0] == ARCH_SET_FS)
            t->regs.fs_base = a->arg[1];
        else
            t->regs.gs_base = a->arg[1];
        return 0;
    case ARCH_GET_FS:
    case ARCH_GET_GS:
        v = a->arg[0] == ARCH_GET_FS ? t->regs.fs_base : t->regs.gs_base;
        return copy_out(t, a->arg[1], &v, sizeof(v));
    default:
        return -EINVAL;
    }
}
SYSCALL_DEFINE(arch_prctl, sys_arch_prctl, "xp", SYS_PARTIAL, "FS/GS base only");

#define PR_SET_CHILD_SUBREAPER_L 36
#define PR_GET_CHILD_SUBREAPER_L 37
#define PR_SET_NO_NEW_PRIVS_L    38
#define PR_GET_NO_NEW_PRIVS_L    39
#define PR_GET_TID_ADDRESS_L     40
#define PR_SET_THP_DISABLE_L     41
#define PR_GET_THP_DISABLE_L     42
#define PR_CAP_AMBIENT_L         47
#define PR_CAP_AMBIENT_IS_SET_L  1
#define PR_CAP_AMBIENT_RAISE_L   2
#define PR_CAP_AMBIENT_LOWER_L   3
#define PR_CAP_AMBIENT_CLEAR_ALL_L 4

/* The capability options of prctl (capabilities(7)). */
static long prctl_caps(struct task *t, int option, uint64_t arg2, uint64_t arg3, uint64_t arg4,
                       uint64_t arg5)
{
    struct cred c = t->cred;
    switch (option) {
    case PR_GET_KEEPCAPS:
        return (c.securebits & SECBIT_KEEP_CAPS) != 0;
    case PR_SET_KEEPCAPS:
        if (arg2 > 1)
            return -EINVAL;
        if (c.securebits & SECBIT_KEEP_CAPS_LOCKED)
            return -EPERM;
        if (arg2)
            c.securebits |= SECBIT_KEEP_CAPS;
        else
            c.securebits &= ~SECBIT_KEEP_CAPS;
        break;
    case PR_CAPBSET_READ:
        if (!CAP_VALID((int64_t)arg2))
            return -EINVAL;
        return (c.cap_bset & CAP_BIT(arg2)) != 0;
    case PR_CAPBSET_DROP:
        if (!CAP_VALID((int64_t)arg2))
            return -EINVAL;
        if (!task_capable(t, CAP_SETPCAP))
            return -EPERM;
        c.cap_bset &= ~CAP_BIT(arg2);
        break;
    case PR_GET_SECUREBITS:
        return c.securebits;
    case PR_SET_SECUREBITS: {
        uint64_t old = c.securebits;
        /* Locked bits cannot change, locks cannot be undone, unknown bits
         * cannot be set, and any change needs CAP_SETPCAP. */
        if ((((old & SECBIT_ALL_LOCKS) >> 1) & (old ^ arg2)) || (old & SECBIT_ALL_LOCKS & ~arg2) ||
            (arg2 & ~(uint64_t)(SECBIT_ALL_LOCKS | SECBIT_ALL_BITS)) ||
            !task_capable(t, CAP_SETPCAP))
            return -EPERM;
        c.securebits = (uint32_t)arg2;
        break;
    }
    case PR_CAP_AMBIENT_L:
        if (arg2 == PR_CAP_AMBIENT_CLEAR_ALL_L) {
            if (arg3 | arg4 | arg5)
                return -EINVAL;
            c.cap_ambient = 0;
            break;
        }
        if (!CAP_VALID((int64_t)arg3) || arg4 || arg5)
            return -EINVAL;
        if (arg2 == PR_CAP_AMBIENT_IS_SET_L)
            return (c.cap_ambient & CAP_BIT(arg3)) != 0;
        if (arg2 == PR_CAP_AMBIENT_RAISE_L) {
            if (!(c.cap_permitted & CAP_BIT(arg3)) || !(c.cap_inheritable & CAP_BIT(arg3)) ||
                (c.securebits & SECBIT_NO_CAP_AMBIENT_RAISE))
                return -EPERM;
            c.cap_ambient |= CAP_BIT(arg3);
        } else if (arg2 == PR_CAP_AMBIENT_LOWER_L) {
            c.cap_ambient &= ~CAP_BIT(arg3);
        } else {
            return -EINVAL;
        }
        break;
    default:
        return -EINVAL;
    }
    group_info_get(c.groups);
    task_commit_cred(t, &c);
    return 0;
}

static long sys_prctl(struct task *t, const struct sys_args *a)
{
    char name[16];
    uint64_t arg = a->arg[1];
    int v;
    switch (a->arg[0]) {
    case PR_SET_NAME: {
        memset(name, 0, sizeof(name));
        long n = mm_strncpy_in(t->mm, name, arg, sizeof(name));
        if (n == -EFAULT)
            return -EFAULT;
        name[15] = '\0';
        memcpy(t->comm, name, sizeof(t->comm));
        return 0;
    }
    case PR_GET_NAME:
        return copy_out(t, arg, t->comm, sizeof(t->comm));
    case PR_GET_DUMPABLE:
        return 1;
    case PR_SET_DUMPABLE:
        return arg <= 1 ? 0 : -EINVAL;
    case PR_SET_PDEATHSIG:
        if (arg > LINUX_NSIG)
            return -EINVAL;
        t->pdeathsig = (int)arg;
        return 0;
    case PR_GET_PDEATHSIG:
        v = t->pdeathsig;
        return copy_out(t, arg, &v, sizeof(v));
    case PR_SET_NO_NEW_PRIVS_L:
        if (arg != 1 || a->arg[2] || a->arg[3] || a->arg[4])
            return -EINVAL;
        t->no_new_privs = true;
        return 0;
    case PR_GET_NO_NEW_PRIVS_L:
        return t->no_new_privs;
    case PR_SET_KEEPCAPS:
    case PR_GET_KEEPCAPS:
    case PR_CAPBSET_READ:
    case PR_CAPBSET_DROP:
    case PR_GET_SECUREBITS:
    case PR_SET_SECUREBITS:
    case PR_CAP_AMBIENT_L:
        return prctl_caps(t, (int)a->arg[0], arg, a->arg[2], a->arg[3], a->arg[4]);
    case PR_SET_CHILD_SUBREAPER_L:
        pthread_mutex_lock(&g_tasks_lock);
        t->tg->child_subreaper = arg != 0;
        pthread_mutex_unlock(&g_tasks_lock);
        return 0;
    case PR_GET_CHILD_SUBREAPER_L:
        v = t->tg->child_subreaper;
        return copy_out(t, arg, &v, sizeof(v));
    case PR_GET_TID_ADDRESS_L:
        return copy_out(t, arg, &t->clear_child_tid, sizeof(uint64_t));
    case PR_GET_SECCOMP:
        return seccomp_get_mode(t);
    case PR_SET_SECCOMP:
        if (arg == SECCOMP_MODE_STRICT)
            return seccomp_set_mode_strict(t, 0, 0);
        if (arg == SECCOMP_MODE_FILTER)
            return seccomp_set_mode_filter(t, 0, a->arg[2]);
        return -EINVAL;
    default:
        log_warn_once("prctl option %llu is not supported yet", (unsigned long long)a->arg[0]);
        return -EINVAL;
    }
}
SYSCALL_DEFINE(prctl, sys_prctl, "xxxxx", SYS_PARTIAL,
               "NAME, DUMPABLE, PDEATHSIG, NO_NEW_PRIVS, KEEPCAPS, SECUREBITS, CAPBSET, "
               "CAP_AMBIENT, CHILD_SUBREAPER, GET_TID_ADDRESS, SECCOMP; others EINVAL");

static long sys_getpgrp(struct task *t, const struct sys_args *a)
{
    return t->tg->pgid;
}
SYSCALL_DEFINE(getpgrp, sys_getpgrp, "", SYS_FULL, NULL);

static long pgid_or_sid(struct task *t, int pid, bool sid)
{
    if (pid < 0)
        return -EINVAL;
    if (pid == 0 || pid == t->tg->pid)
        return sid ? t->tg->sid : t->tg->pgid;
    struct thread_group *tg = task_lookup_tg(pid);
    if (!tg)
        return -ESRCH;
    long r = sid ? tg->sid : tg->pgid;
    tg_put(tg);
    return r;
}

static long sys_getpgid(struct task *t, const struct sys_args *a)
{
    return pgid_or_sid(t, (int)a->arg[0], false);
}
SYSCALL_DEFINE(getpgid, sys_getpgid, "d", SYS_FULL, NULL);

static long sys_getsid(struct task *t, const struct sys_args *a)
{
    return pgid_or_sid(t, (int)a->arg[0], true);
}
SYSCALL_DEFINE(getsid, sys_getsid, "d", SYS_FULL, NULL);

static long sys_setpgid(struct task *t, const struct sys_args *a)
{
    int pid = (int)a->arg[0], pgid = (int)a->arg[1];
    if (pgid < 0)
        return -EINVAL;
    struct thread_group *tg = pid == 0 ? t->tg : task_lookup_tg(pid);
    if (!tg)
        return -ESRCH;
    pthread_mutex_lock(&g_tasks_lock);
    long r = 0;
    if (tg != t->tg && tg->parent != t->tg)
        r = -ESRCH;
    else if (tg->sid == tg->pid)
        r = -EPERM; /* a session leader */
    else if (tg->sid != t->tg->sid)
        r = -EPERM;
    else
        tg->pgid = pgid ? pgid : tg->pid;
    pthread_mutex_unlock(&g_tasks_lock);
    if (pid != 0)
        tg_put(tg);
    return r;
}
SYSCALL_DEFINE(setpgid, sys_setpgid, "dd", SYS_PARTIAL, "no check that the group exists");

static long sys_setsid(struct task *t, const struct sys_args *a)
{
    pthread_mutex_lock(&g_tasks_lock);
    long r;
    if (t->tg->pgid == t->tg->pid) {
        r = -EPERM;
    } else {
        t->tg->sid = t->tg->pgid = t->tg->pid;
        t->tg->host_session = false; /* a new session: no controlling terminal */
        r = t->tg->pid;
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}
SYSCALL_DEFINE(setsid, sys_setsid, "", SYS_FULL, NULL);

static long sys_sched_yield(struct task *t, const struct sys_args *a)
{
    sched_yield();
    return 0;
}
SYSCALL_DEFINE(sched_yield, sys_sched_yield, "", SYS_FULL, NULL);

static long do_prlimit(struct task *t, int pid, unsigned res, uint64_t new_addr,
                       uint64_t old_addr)
{
    if (res >= LINUX_RLIM_NLIMITS)
        return -EINVAL;
    struct linux_rlimit nl;
    if (new_addr) {
        if (copy_in(t, &nl, new_addr, sizeof(nl)) < 0)
            return -EFAULT;
        if (nl.rlim_cur > nl.rlim_max)
            return -EINVAL;
    }
    struct thread_group *tg = (pid == 0 || pid == t->tg->pid) ? t->tg : task_lookup_tg(pid);
    if (!tg)
        return -ESRCH;
    long r = 0;
    struct cred tc;
    /* Another process: all its uids and gids must be the caller's real
     * ones, or CAP_SYS_RESOURCE (Linux's check_prlimit_permission). */
    if (tg != t->tg && tg_cred(tg, &tc) == 0 && !task_capable(t, CAP_SYS_RESOURCE) &&
        !(tc.uid == t->cred.uid && tc.euid == t->cred.uid && tc.suid == t->cred.uid &&
          tc.gid == t->cred.gid && tc.egid == t->cred.gid && tc.sgid == t->cred.gid)) {
        tg_put(tg);
        return -EPERM;
    }
    pthread_mutex_lock(&tg->lock);
    struct linux_rlimit old = tg->rlim[res];
    if (new_addr) {
        /* Raising a hard limit needs CAP_SYS_RESOURCE. */
        if (nl.rlim_max > old.rlim_max && !task_capable(t, CAP_SYS_RESOURCE))
            r = -EPERM;
        else if (res == RLIMIT_NOFILE && nl.rlim_max > 1048576)
            r = -EPERM;
        else
            tg->rlim[res] = nl;
    }
    pthread_mutex_unlock(&tg->lock);
    /* A finite RLIMIT_CPU starts being watched (Linux's update_rlimit_cpu). */
    if (r == 0 && new_addr && res == RLIMIT_CPU && nl.rlim_cur != RLIM_INFINITY)
        task_rlimit_cpu_changed(tg);
    if (tg != t->tg)
        tg_put(tg);
    if (r == 0 && old_addr && copy_out(t, old_addr, &old, sizeof(old)) < 0)
        r = -EFAULT;
    return r;
}

static long sys_prlimit64(struct task *t, const struct sys_args *a)
{
    return do_prlimit(t, (int)a->arg[0], (unsigned)a->arg[1], a->arg[2], a->arg[3]);
}
SYSCALL_DEFINE(prlimit64, sys_prlimit64, "duppp", SYS_PARTIAL,
               "enforced as Linux: NOFILE, FSIZE, CPU, NPROC, SIGPENDING, MSGQUEUE, NICE, "
               "RTPRIO, AS, DATA, STACK, MEMLOCK; CORE recorded (no core files are written); "
               "RTTIME recorded (real-time policies do not change scheduling); RSS and LOCKS "
               "recorded (Linux ignores them too)");

static long sys_getrlimit(struct task *t, const struct sys_args *a)
{
    return do_prlimit(t, 0, (unsigned)a->arg[0], 0, a->arg[1]);
}
SYSCALL_DEFINE(getrlimit, sys_getrlimit, "up", SYS_FULL, NULL);

static long sys_setrlimit(struct task *t, const struct sys_args *a)
{
    return do_prlimit(t, 0, (unsigned)a->arg[0], a->arg[1], 0);
}
SYSCALL_DEFINE(setrlimit, sys_setrlimit, "up", SYS_PARTIAL, "see prlimit64");
