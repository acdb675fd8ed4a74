/*
 * Starting a sandbox: the CLI forks the kernel process as the first process
 * of a new PID namespace (so when the kernel dies, every stub dies with it)
 * with its own mount, IPC and UTS namespaces.
 *
 * `moat do` (sandbox_run) waits for it, or only for its word that the
 * sandbox's last process has ended (report_last_exit), and passes
 * termination signals on.
 * OCI `create` (sandbox_create) detaches it: the kernel process builds the
 * sandbox, reports "ready" (or one error line) over a pipe, and blocks
 * opening the state directory's exec.fifo for writing; `start` opens the
 * fifo for reading, which releases it to run the app. Until then the
 * termination signals end it (exit 128+N) so a created container can be
 * killed; afterwards they go to the app.
 *
 * Before the app's first instruction the kernel process confines itself
 * (confine.c): pivot_root into an empty directory, no capabilities,
 * no_new_privs, its seccomp allow-list.
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel/fs/fs.h"
#include "kernel/host/host.h"
#include "kernel/host/host_net.h"
#include "kernel/mm/memfile.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/ctl.h"
#include "kernel/task/task.h"
#include "kernel/task/uts.h"
#include "kernel/vfs/vfs.h"
#include "lib/log.h"
#include "platform/platform.h"
#include "sandbox/confine.h"
#include "sandbox/netns.h"

#define MEMFILE_SIZE (1ULL << 40)
/* Host cgroup headroom for the kernel itself (sandbox_host_limits). */
#define SANDBOX_KERNEL_MEMORY       (128ULL << 20)
#define SANDBOX_HOST_TASKS_PER_TASK 3  /* systrap: a stub's two threads + a kernel thread */
#define SANDBOX_KERNEL_TASKS        64 /* kernel threads, pool stubs, the OCI keeper */

static const int g_forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
                                  SIGUSR2, SIGALRM, SIGWINCH, SIGCONT};

static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        log_debug("host signal %d for the sandbox", sig);
        task_host_signal(sig);
    }
    return NULL;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = n < 0 ? -errno : 0;
    close(fd);
    return e;
}

/* Where the kernel process reports a start-up failure: the log (for `moat
 * do`) or, for `create`, one line on the sync pipe that the CLI prints. */
static int g_sync_fd = -1;

static void NORETURN setup_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void NORETURN setup_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (g_sync_fd >= 0) {
        char line[520];
        int n = snprintf(line, sizeof(line), "E%s", msg);
        if (write(g_sync_fd, line, (size_t)n) < 0) {
            /* the CLI is gone; nothing else to tell */
        }
    } else {
        log_error("%s", msg);
    }
    _exit(125);
}

/* OCI: the pipe to the keeper (oci_keeper), or -1. */
static int g_status_fd = -1;

/* `moat do`: the pipe on which the kernel tells the CLI the sandbox's exit
 * code as soon as its last process has ended (report_last_exit), or -1.
 * The CLI then exits with it, and the kernel, its child, dies of
 * PR_SET_PDEATHSIG while the host frees its memory and its stubs: that
 * teardown (~1-2 ms) no longer delays the caller. */
static int g_last_exit_fd = -1;

static int exit_code_of(int wstatus)
{
    return WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
}

static void report_last_exit(int wstatus)
{
    uint8_t code = (uint8_t)exit_code_of(wstatus);
    if (write(g_last_exit_fd, &code, 1) < 0) {
        /* the CLI is gone: nobody waits for the status */
    }
}

/* Tells the keeper that the container's first process died of SIG, so it
 * dies of it too. Async-signal-safe. */
static void tell_keeper(int sig)
{
    char b[8];
    int n = 0;
    b[n++] = 'S';
    if (sig >= 10)
        b[n++] = (char)('0' + sig / 10);
    b[n++] = (char)('0' + sig % 10);
    if (write(g_status_fd, b, (size_t)n) < 0) {
        /* the keeper is gone: nobody waits for the status */
    }
}

static void created_signal(int sig)
{
    if (g_status_fd >= 0)
        tell_keeper(sig);
    _exit(128 + sig);
}

/* OCI process.rlimits become the first process's limits in moat's kernel,
 * which enforces them (kernel/task/task.c and the syscalls that check
 * tg->rlim). None is set on the kernel process: RLIMIT_FSIZE, CPU or
 * NOFILE there would limit or kill the whole sandbox, not the app.
 * oci/config.c has checked each entry (known type, soft <= hard). */
static void apply_rlimits(const struct sandbox_config *cfg, struct sandbox_init *init)
{
    for (size_t i = 0; i < cfg->rlimits_len; i++) {
        const struct sandbox_rlimit *l = &cfg->rlimits[i];
        if (l->resource < 0 || l->resource >= LINUX_RLIM_NLIMITS)
            setup_fail("process.rlimits: unknown resource %d", l->resource);
        init->rlim[l->resource].rlim_cur = l->soft;
        init->rlim[l->resource].rlim_max = l->hard;
        init->rlim_set |= 1u << l->resource;
    }
}

static const struct sandbox_config *g_kernel_cfg; /* kernel_main's */
static pid_t g_keeper_pid;                        /* the container's pid */

/* OCI startContainer hooks, as runc runs them in the container just before
 * the user's program: each a process of the sandbox (the first process's
 * credentials, root and mounts; no parent inside) with the state JSON on
 * stdin, waited for in order. Called on the first process's task before
 * its exec (struct sandbox_init.before_exec). A failure is logged naming
 * the hook (and what it printed) and ends that process with status 1. */
static int run_start_hooks(const struct sandbox_init *first)
{
    const struct sandbox_config *cfg = g_kernel_cfg;
    for (size_t i = 0; cfg && i < cfg->start_hooks_len; i++) {
        const struct sandbox_hook *h = &cfg->start_hooks[i];
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) < 0) {
            log_error("hooks.startContainer[%zu]: %s", i, strerror(errno));
            return 1 << 8;
        }
        if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0) {
            log_error("hooks.startContainer[%zu]: %s", i, strerror(errno));
            close(in[0]);
            close(in[1]);
            return 1 << 8;
        }
        char *state = cfg->hook_state ? cfg->hook_state(cfg->hook_state_arg, g_keeper_pid) : NULL;
        /* A pipe holds the few hundred bytes; a hook need not read them. */
        for (size_t off = 0, len = state ? strlen(state) : 0; off < len;) {
            ssize_t n = write(in[1], state + off, len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        free(state);
        close(in[1]);
        char *argv0[] = {(char *)h->path, NULL};
        char *env0[] = {NULL};
        struct sandbox_init hi = {
                .argv = h->argv ? h->argv : argv0,
                .envp = h->envp ? h->envp : env0,
                .path = h->path,
                .cwd = "/",
                .cred = first->cred,
                .nice = first->nice,
                .strace = first->strace,
                .host_stdio = {in[0], out[1], fcntl(out[1], F_DUPFD_CLOEXEC, 3)},
        };
        int status = 0;
        int r = ctl_run_process(&hi, h->timeout, &status);
        if (r < 0 && r != -ETIMEDOUT)
            for (int k = 0; k < 3; k++)
                if (hi.host_stdio[k] >= 0)
                    close(hi.host_stdio[k]);
        char said[512];
        ssize_t n = read(out[0], said, sizeof(said) - 1);
        said[n > 0 ? n : 0] = '\0';
        said[strcspn(said, "\n")] = '\0';
        close(out[0]);
        if (r == -ETIMEDOUT)
            log_error("hooks.startContainer[%zu]: `%s` did not finish within its timeout of %d s",
                      i, h->path, h->timeout);
        else if (r < 0)
            log_error("hooks.startContainer[%zu]: cannot run `%s`: %s", i, h->path,
                      strerror(-r));
        else if (WIFSIGNALED(status))
            log_error("hooks.startContainer[%zu]: `%s` was killed by signal %d", i, h->path,
                      WTERMSIG(status));
        else if (WEXITSTATUS(status) != 0)
            log_error("hooks.startContainer[%zu]: `%s` exited with status %d%s%s", i, h->path,
                      WEXITSTATUS(status), said[0] ? ": " : "", said);
        else
            continue;
        return 1 << 8;
    }
    return 0;
}

/* OCI linux.sysctl, as runc writes /proc/sys/KEY in the container: net.*
 * keys in the sandbox's network namespace (the host kernel's, where moat's
 * sockets live; this process is in it and its /proc is still there), the
 * others in moat's kernel (its /proc/sys, IPC limits, domain name). */
static void apply_sysctl(const struct sandbox_config *cfg)
{
    for (size_t i = 0; i < cfg->sysctl_len; i++) {
        const char *k = cfg->sysctl[2 * i], *v = cfg->sysctl[2 * i + 1];
        int r;
        if (strncmp(k, "net.", 4) == 0) {
            char path[512];
            int n = snprintf(path, sizeof(path), "/proc/sys/%s", k);
            if (n < 0 || (size_t)n >= sizeof(path) || strstr(k, ".."))
                setup_fail("linux.sysctl: `%s`: bad key", k);
            for (char *p = path + 10; *p; p++)
                if (*p == '.')
                    *p = '/';
            int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
            r = fd < 0 ? -errno : 0;
            if (fd >= 0) {
                if (write(fd, v, strlen(v)) < 0)
                    r = -errno;
                close(fd);
            }
        } else if (strcmp(k, "kernel.domainname") == 0) {
            r = uts_set_domainname(v, strlen(v));
        } else {
            r = procfs_sysctl_write(k, v);
        }
        if (r == -ENOENT)
            setup_fail("linux.sysctl: `%s` is not supported by moat (no such /proc/sys file)", k);
        if (r < 0)
            setup_fail("linux.sysctl: cannot set `%s` to `%s`: %s", k, v, strerror(-r));
    }
}

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#define L_MOUNT_ATTR_RDONLY 0x1
#define L_MOUNT_ATTR_NOSUID 0x2
#define L_MOUNT_ATTR_NODEV  0x4

/* A detached copy of the mount tree at PATH (open_tree(OPEN_TREE_CLONE |
 * AT_RECURSIVE)) with ATTRS set on every mount of it (mount_setattr), as
 * an O_PATH fd, or -errno. ".." from its root goes nowhere, and a
 * read-only copy refuses writes whatever the capabilities: even a
 * compromised kernel process can neither climb out of it on the host nor
 * write through it. */
static int open_detached(const char *path, uint64_t attrs)
{
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path,
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (fd < 0)
        return -errno;
    struct {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
    } attr = {.attr_set = attrs};
    if (attrs && syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                         sizeof(attr)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* The host fd a bind mount's kernel file system works on. A directory is
 * held as a detached copy of its mount (open_detached; read-only unless
 * the bind is read-write); a read-write bind must have one. A regular file
 * is opened for reading, or reading and writing. */
static int open_bind_source(const struct sandbox_mount *s, bool *out_is_file)
{
    struct stat st;
    if (stat(s->source, &st) < 0)
        setup_fail("mount `%s` on `%s`: %s", s->source, s->dest, strerror(errno));
    *out_is_file = false;
    if (S_ISREG(st.st_mode)) {
        *out_is_file = true;
        int fd = open(s->source, (s->kind == VFS_EXTRA_BIND_RW ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0)
            setup_fail("mount `%s` on `%s`: %s", s->source, s->dest, strerror(errno));
        return fd;
    }
    if (!S_ISDIR(st.st_mode))
        setup_fail("mount `%s` on `%s`: only directories and regular files can be bind-mounted",
                   s->source, s->dest);
    bool rw = s->kind == VFS_EXTRA_BIND_RW;
    int fd = open_detached(s->source, L_MOUNT_ATTR_NOSUID | L_MOUNT_ATTR_NODEV |
                                              (rw ? 0 : L_MOUNT_ATTR_RDONLY));
    if (fd >= 0)
        return fd;
    if (rw)
        setup_fail("mount `%s` on `%s`: a read-write bind needs a detached copy of the mount "
                   "(open_tree, mount_setattr): %s", s->source, s->dest, strerror(-fd));
    log_debug("bind `%s`: no detached copy (%s); opened in place", s->source, strerror(-fd));
    fd = open(s->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        setup_fail("mount `%s` on `%s`: %s", s->source, s->dest, strerror(errno));
    return fd;
}

static bool has_rw_binds(const struct sandbox_config *cfg)
{
    for (size_t i = 0; i < cfg->mounts_len; i++)
        if (cfg->mounts[i].kind == VFS_EXTRA_BIND_RW)
            return true;
    return false;
}

static void setup_mounts(const struct sandbox_config *cfg, struct fs_struct *fs)
{
    if (cfg->mounts_len == 0)
        return;
    struct vfs_extra_mount *m = calloc(cfg->mounts_len, sizeof(*m));
    if (!m)
        setup_fail("mounts: out of memory");
    for (size_t i = 0; i < cfg->mounts_len; i++) {
        const struct sandbox_mount *s = &cfg->mounts[i];
        m[i].kind = s->kind;
        m[i].dest = s->dest;
        m[i].mode = s->mode;
        m[i].host_fd = -1;
        m[i].mnt_flags = s->mnt_flags;
        if (s->kind == VFS_EXTRA_TMPFS)
            continue;
        m[i].host_fd = open_bind_source(s, &m[i].is_file);
    }
    size_t failed = 0;
    int r = vfs_mount_extra(fs, m, cfg->mounts_len, &failed);
    if (r < 0)
        setup_fail("mount `%s` on `%s`: %s",
                   cfg->mounts[failed].source ? cfg->mounts[failed].source : "tmpfs",
                   cfg->mounts[failed].dest, strerror(-r));
    free(m);
}

/* Waits (in the created state) until `start` opens the exec fifo. */
static void wait_for_start(const char *fifo)
{
    struct sigaction sa = {.sa_handler = created_signal};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < ARRAY_SIZE(g_forwarded); i++)
        if (g_forwarded[i] != SIGWINCH && g_forwarded[i] != SIGCONT)
            sigaction(g_forwarded[i], &sa, NULL);
    int fd;
    while ((fd = open(fifo, O_WRONLY | O_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (fd < 0) {
        log_error("cannot open %s: %s", fifo, strerror(errno));
        _exit(125);
    }
    if (write(fd, "0", 1) != 1) {
        log_error("start: writing %s: %s", fifo, strerror(errno));
        _exit(125);
    }
    close(fd);
}

/* `moat do` as root: the kernel process's end of the CLI's network
 * broker (netns.h), or -1. */
static int g_net_broker_fd = -1;

static void enter_network_none(void)
{
    const char *step;
    int r = netns_enter(&step);
    if (r < 0)
        setup_fail("%s: %s", step, strerror(-r));
}

/* OCI: the kernel process ends the way the container's first process did,
 * so containerd's shim and Docker, which wait on its pid, read the same
 * status runc's would give them. Only a process that is not a PID-namespace
 * init can (see oci_keeper). No core dump. */
static void NORETURN die_of_signal(int sig)
{
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    /* To this thread: the signal thread's sigwait must not take it. */
    pthread_kill(pthread_self(), sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    _exit(128 + sig); /* a signal whose default is to ignore or stop */
}

/* The caller's capability sets: a sandbox's app starts with them (as a
 * program the caller ran would) unless the bundle gives its own. Read
 * before entering the sandbox's namespaces, with its supplementary
 * groups and nice value. */
static struct sandbox_caps g_caller_caps;
static uint32_t g_caller_groups[NGROUPS_MAX_LINUX];
static int g_caller_ngroups;
static int g_caller_nice;

static void read_caller_caps(void)
{
    struct {
        uint32_t version;
        int pid;
    } h = {0x20080522, 0}; /* _LINUX_CAPABILITY_VERSION_3 */
    struct {
        uint32_t effective, permitted, inheritable;
    } d[2];
    memset(&g_caller_caps, 0, sizeof(g_caller_caps));
    errno = 0;
    g_caller_nice = getpriority(PRIO_PROCESS, 0);
    if (errno)
        g_caller_nice = 0;
    g_caller_ngroups = getgroups(NGROUPS_MAX_LINUX, (gid_t *)g_caller_groups);
    if (g_caller_ngroups < 0)
        g_caller_ngroups = 0;
    if (syscall(SYS_capget, &h, d) == 0) {
        g_caller_caps.effective = (uint64_t)d[1].effective << 32 | d[0].effective;
        g_caller_caps.permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
        g_caller_caps.inheritable = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
    }
    for (int c = 0; c <= CAP_LAST_CAP; c++) {
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
            g_caller_caps.bounding |= 1ULL << c;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
            g_caller_caps.ambient |= 1ULL << c;
    }
}

/* The kernel process. Never returns. */
static void NORETURN kernel_main(const struct sandbox_config *cfg, uid_t uid, gid_t gid,
                                 bool oci)
{
    if (!oci)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    else
        setsid();
    prctl(PR_SET_NAME, "moat-kernel");
    g_kernel_cfg = cfg;
    host_prepare_fds();

    bool own_mounts = false;
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
        log_debug("cannot unshare mount/IPC/UTS namespaces: %s", strerror(errno));
    } else {
        own_mounts = mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
        /* The kernel's own /proc shows its PID namespace (the stubs' pids,
         * which the platforms read for CPU times). The sandbox never sees
         * it: its /proc is moat's procfs. */
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            log_debug("cannot mount the kernel's /proc: %s", strerror(errno));
    }
    /* FIXME(issue 6): the app's uname(2) does not read this yet. */
    if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
        log_debug("sethostname: %s", strerror(errno));

    /* The root as a read-only detached copy (see open_detached): the kernel
     * process may keep file capabilities for read-write binds, and then
     * must not be able to write (or climb) anywhere else. */
    int rootfd = open_detached(cfg->root, L_MOUNT_ATTR_RDONLY | L_MOUNT_ATTR_NOSUID |
                                                  L_MOUNT_ATTR_NODEV);
    if (rootfd < 0 && has_rw_binds(cfg))
        setup_fail("cannot make a read-only copy of the sandbox root %s (needed with read-write "
                   "binds): %s", cfg->root, strerror(-rootfd));
    if (rootfd < 0) {
        log_debug("root %s: no detached copy (%s); opened in place", cfg->root, strerror(-rootfd));
        rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (rootfd < 0)
        setup_fail("cannot open the sandbox root %s: %s", cfg->root, strerror(errno));
    if (cfg->set_ids) {
        uid = cfg->uid;
        gid = cfg->gid;
    }
    struct sandbox_init init = {
        .argv = cfg->argv,
        .envp = cfg->envp,
        .cwd = cfg->cwd,
        .strace = cfg->strace,
        .cred = {uid, uid, uid, uid, gid, gid, gid, gid},
        .nice = g_caller_nice,
        .seccomp_prog = cfg->seccomp_prog,
        .seccomp_len = cfg->seccomp_len,
        .seccomp_flags = cfg->seccomp_flags,
        .before_exec = cfg->start_hooks_len ? run_start_hooks : NULL,
        .on_last_exit = g_last_exit_fd >= 0 ? report_last_exit : NULL,
    };
    const struct sandbox_caps *caps = cfg->caps ? cfg->caps : &g_caller_caps;
    init.cred.cap_effective = caps->effective & CAP_FULL_SET;
    init.cred.cap_permitted = caps->permitted & CAP_FULL_SET;
    init.cred.cap_inheritable = caps->inheritable & CAP_FULL_SET;
    init.cred.cap_bset = caps->bounding & CAP_FULL_SET;
    init.cred.cap_ambient = caps->ambient & CAP_FULL_SET;
    /* Supplementary groups: the bundle's, or (moat do) the caller's. */
    const uint32_t *gids = cfg->set_ids ? cfg->additional_gids : g_caller_groups;
    int ngids = cfg->set_ids ? (int)cfg->additional_gids_len : g_caller_ngroups;
    if (ngids) {
        init.cred.groups = group_info_new(gids, ngids);
        if (!init.cred.groups)
            setup_fail("out of memory for the supplementary groups");
    }
    if (oci && cfg->console_fd >= 0) {
        /* The terminal becomes the kernel's controlling tty, so a hang-up or
         * a resize reaches the sandbox. */
        ioctl(cfg->console_fd, TIOCSCTTY, 0);
        for (int fd = 0; fd < 3; fd++)
            init.host_stdio[fd] = fcntl(cfg->console_fd, F_DUPFD_CLOEXEC, 3);
        /* The kernel's own stdio too: the caller's (a pipe containerd's
         * shim reads `create`'s output from until EOF) must not live on. */
        for (int fd = 0; fd < 3; fd++)
            dup2(cfg->console_fd, fd);
        close(cfg->console_fd);
    } else {
        for (int fd = 0; fd < 3; fd++)
            init.host_stdio[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    }

    int r = memfile_init_limited(MEMFILE_SIZE, cfg->memory_limit);
    if (r < 0)
        setup_fail("cannot create the memory file: %s", strerror(-r));
    const char *pname;
    g_platform_no_patch = cfg->no_syscall_patch;
    r = platform_start(cfg->platform, g_memfile_fd, &pname);
    if (r == -ENOENT)
        setup_fail("unknown platform `%s` (available: systrap, ptrace)", pname);
    if (r < 0)
        setup_fail("platform %s: cannot start: %s", pname,
                   g_platform_why[0] ? g_platform_why : strerror(-r));
    syscall_table_init();
    task_set_max(cfg->pids_limit);
    r = vfs_init(rootfd, &init.fs);
    if (r < 0)
        setup_fail("cannot build the sandbox's file systems: %s", strerror(-r));
    setup_mounts(cfg, init.fs);
    if (cfg->root_readonly)
        vfs_root_set_readonly();
    apply_rlimits(cfg, &init);
    if (cfg->domainname)
        uts_set_domainname(cfg->domainname, strlen(cfg->domainname));
    /* Before net sysctls and before any thread (a thread keeps the network
     * namespace it was made in). With the CLI's broker the kernel stays in
     * the caller's: the sandbox's is made on its first socket (netns.h). */
    if (g_net_broker_fd >= 0) {
        host_net_use_broker(g_net_broker_fd);
        host_set_unprivileged_port_start(1024); /* a new namespace's */
    } else if (cfg->network_none) {
        enter_network_none();
    }
    apply_sysctl(cfg);
    /* OCI noNewPrivileges: the app's own flag in moat's kernel (set-id and
     * file-capability execs inside the sandbox stop elevating; prctl and
     * /proc/PID/status report it). The kernel process has its own anyway
     * (confine.c). */
    init.no_new_privs = cfg->no_new_privs;

    if (oci) {
        if (write(g_sync_fd, "K", 1) != 1)
            _exit(125);
        close(g_sync_fd);
        g_sync_fd = -1;
        if (cfg->exec_fifo)
            wait_for_start(cfg->exec_fifo);
    }

    /* The second wall (issue 9): from here on the kernel process has no
     * host path, only the few capabilities confine.c keeps and only its
     * seccomp allow-list. */
    const char *step;
    host_nr_cpus(); /* counted while /sys is still there (host.c) */
    if (confine_keep_proc() < 0)
        log_debug("the kernel's /proc is not available: %s", strerror(errno));
    /* FIXME(issue 9): kernel/net/inet.c uses host inet sockets for
     * --network=none too (in the sandbox's own netns), so the inet group is
     * on unless the CLI brokers them; narrow it if a netstack backend
     * replaces them. */
    host_unprivileged_port_start(); /* read while /proc/sys is there */
    struct confine_opts co = {.host_net = g_net_broker_fd < 0,
                              .net_broker = g_net_broker_fd >= 0,
                              .host_write = has_rw_binds(cfg),
                              .net_bind = caps->bounding & (1ULL << 10 /* CAP_NET_BIND_SERVICE */),
                              .read_any = caps->bounding & ((1ULL << 1 /* CAP_DAC_OVERRIDE */) |
                                                            (1ULL << 2 /* CAP_DAC_READ_SEARCH */)),
                              .log_fd = log_fd(),
                              .own_mounts = own_mounts};
    r = confine_kernel(&co, &step);
    if (r < 0)
        setup_fail("cannot confine the kernel process (%s): %s", step, strerror(-r));
    r = platform_confined();
    if (r < 0)
        setup_fail("platform %s: cannot start its threads: %s", g_platform->name, strerror(-r));

    /* Every kernel thread blocks host signals; one thread takes the ones
     * meant for the sandbox. */
    sigset_t all, fwd;
    sigfillset(&all);
    sigdelset(&all, SIGSYS); /* the seccomp filter's report (confine.c) */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(g_forwarded); i++)
        signal(g_forwarded[i], SIG_DFL);
    sigemptyset(&fwd);
    for (size_t i = 0; i < ARRAY_SIZE(g_forwarded); i++)
        sigaddset(&fwd, g_forwarded[i]);
    pthread_t th;
    if (pthread_create(&th, NULL, signal_thread, &fwd) != 0) {
        log_error("cannot start the signal thread");
        _exit(125);
    }

    /* The control channel (exec, kill --all, ps, stats: issue 7). */
    if (oci && cfg->ctl_fd >= 0 && (r = ctl_start(cfg->ctl_fd, &init)) < 0)
        log_debug("cannot serve the control socket: %s", strerror(-r));

    int status = 0;
    r = task_run_init(&init, &status);
    if (r < 0) {
        log_error("cannot start the sandbox's first process: %s", strerror(-r));
        _exit(125);
    }
    if (WIFSIGNALED(status) && g_status_fd >= 0)
        tell_keeper(WTERMSIG(status));
    _exit(exit_code_of(status));
}

static volatile pid_t g_kernel_pid;

static void forward_signal(int sig)
{
    if (g_kernel_pid > 0)
        kill(g_kernel_pid, sig);
}

/* New PID (and, unprivileged, user) namespace for the next child. */
static int enter_namespaces(uid_t uid, gid_t gid, bool pid_ns, char *errbuf, size_t errsize)
{
    int flags = pid_ns ? CLONE_NEWPID : 0; /* OCI: the kernel makes it (own_pid_namespace) */
    if (geteuid() != 0)
        flags |= CLONE_NEWUSER;
    if (flags && unshare(flags) < 0) {
        int e = errno;
        snprintf(errbuf, errsize, "cannot create the sandbox's namespaces: %s", strerror(e));
        return -e;
    }
    if (flags & CLONE_NEWUSER) {
        char map[64];
        snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
        int r = write_file("/proc/self/setgroups", "deny");
        if (r == 0)
            r = write_file("/proc/self/uid_map", map);
        snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
        if (r == 0)
            r = write_file("/proc/self/gid_map", map);
        if (r < 0) {
            snprintf(errbuf, errsize, "cannot map ids into the sandbox's user namespace: %s",
                     strerror(-r));
            return r;
        }
    }
    return 0;
}

static void install_forwarding(void)
{
    struct sigaction sa = {.sa_handler = forward_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < ARRAY_SIZE(g_forwarded); i++)
        sigaction(g_forwarded[i], &sa, NULL);
}

/* The exit code the kernel reported on FD (report_last_exit), or -1 if it
 * ended without one. */
static int read_last_exit(int fd)
{
    uint8_t code;
    ssize_t n;
    while ((n = read(fd, &code, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? code : -1;
}

/* Until the kernel process ends, or (with LAST_EXIT_FD) reports the exit
 * code, which is then returned, the CLI serves its network broker. -1:
 * the kernel is gone (or the broker is), wait for it. */
static int serve_broker(void)
{
    for (;;) {
        struct pollfd p[2] = {{netns_broker_fd(), POLLIN, 0}, {g_last_exit_fd, POLLIN, 0}};
        if (p[0].fd < 0)
            return -1;
        if (poll(p, p[1].fd >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p[0].revents)
            netns_broker_serve(); /* closes it at EOF: the kernel is gone */
        if (p[1].fd >= 0 && p[1].revents) {
            int code = read_last_exit(g_last_exit_fd);
            close(g_last_exit_fd);
            g_last_exit_fd = -1;
            return code;
        }
    }
}

int sandbox_wait(pid_t pid, bool oci)
{
    g_kernel_pid = pid;
    install_forwarding();
    if (netns_broker_fd() >= 0) {
        int code = serve_broker();
        if (code >= 0)
            return code; /* our exit kills the kernel (PR_SET_PDEATHSIG) */
    }
    if (g_last_exit_fd >= 0) {
        int code = read_last_exit(g_last_exit_fd);
        close(g_last_exit_fd);
        g_last_exit_fd = -1;
        if (code >= 0)
            return code; /* our exit kills the kernel (PR_SET_PDEATHSIG) */
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            log_error("lost the kernel process: %s", strerror(errno));
            return 125;
        }
    }
    g_kernel_pid = 0;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (oci) /* the keeper died as the container's first process did */
        return 128 + WTERMSIG(status);
    log_error("the sandbox kernel died of signal %d (%s)%s", WTERMSIG(status),
              strsignal(WTERMSIG(status)),
              WTERMSIG(status) == SIGSYS ? ": a host syscall outside its seccomp allow-list "
                                           "(MOAT_SECCOMP=log to list them)" : "");
    return 128 + WTERMSIG(status);
}

void sandbox_host_limits(uint64_t app_memory, int app_pids, struct cgroup_limits *out)
{
    memset(out, 0, sizeof(*out));
    if (app_memory) {
        /* The kernel process's heap, thread stacks, page reference counts
         * (they grow with the size of app mappings: a 100 GiB mapping costs
         * 100 MiB of them) and the stubs' page tables come on top of the
         * apps' pages; no swap. */
        uint64_t m = app_memory + SANDBOX_KERNEL_MEMORY + app_memory / 4;
        out->memory = (int64_t)MIN(m, (uint64_t)INT64_MAX);
        out->memory_swap = out->memory;
    }
    if (app_pids)
        out->pids = (int64_t)app_pids * SANDBOX_HOST_TASKS_PER_TASK + SANDBOX_KERNEL_TASKS;
}

int sandbox_run(const struct sandbox_config *cfg)
{
    /* --network=none: the sandbox's network namespace only once it opens
     * a socket (netns.h). Root only: unprivileged, the namespace must
     * belong to the user namespace made below, and the kernel makes it. */
    if (cfg->network_none && geteuid() == 0 && netns_broker_start(&g_net_broker_fd) < 0)
        g_net_broker_fd = -1;
    read_caller_caps();
    uid_t uid = getuid();
    gid_t gid = getgid();
    char err[256];
    if (enter_namespaces(uid, gid, true, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 125;
    }

    /* Forward termination signals; set up before the child exists so none
     * is lost in between. */
    install_forwarding();

    /* The exit code comes early unless the CLI has more to do once the
     * kernel is gone (remove the host cgroup) or the kernel has more to
     * say after the app's end (--debug, --strace logs). */
    int ep[2] = {-1, -1};
    if (!cfg->cgroup && !cfg->strace && g_log_level < LOG_LVL_INFO && pipe2(ep, O_CLOEXEC) < 0)
        ep[0] = ep[1] = -1;

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot start the kernel process: %s", strerror(errno));
        return 125;
    }
    if (pid == 0) {
        if (ep[0] >= 0)
            close(ep[0]);
        g_last_exit_fd = ep[1];
        netns_broker_child();
        /* First: everything the kernel process starts is in the cgroup. */
        int r = cfg->cgroup ? cgroup_join(cfg->cgroup) : 0;
        if (r < 0) {
            log_error("cannot join the sandbox's cgroup %s: %s", cfg->cgroup->dirs[0],
                      strerror(-r));
            _exit(125);
        }
        for (size_t i = 0; i < ARRAY_SIZE(g_forwarded); i++)
            signal(g_forwarded[i], SIG_DFL);
        kernel_main(cfg, uid, gid, false);
    }
    netns_broker_forked();
    g_net_broker_fd = -1;
    if (ep[1] >= 0)
        close(ep[1]);
    g_last_exit_fd = ep[0];
    return sandbox_wait(pid, false);
}

/*
 * OCI: the container's pid (state, --pid-file) is a small "keeper" process
 * in the caller's PID namespace, the kernel process's parent. The kernel
 * process must be the init of the sandbox's PID namespace (its threads
 * cannot be made after unshare(CLONE_NEWPID), and the namespace's end
 * takes every stub with it), and a namespace init cannot die of a signal it
 * sends itself. The keeper passes the signals it gets on to the kernel,
 * and ends as the container's first process did: its exit code or the same
 * signal, which containerd's shim and Docker read from its wait status.
 * The kernel dies with it (PR_SET_PDEATHSIG).
 *
 * Called in the child that sandbox_create forked: returns in the kernel
 * process; never returns in the keeper.
 */
static void oci_keeper(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0 || unshare(CLONE_NEWPID) < 0)
        _exit(125);
    setsid();
    g_keeper_pid = getpid(); /* the kernel, init of its PID namespace, has no parent there */
    pid_t k = fork();
    if (k < 0)
        _exit(125);
    if (k == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(p[0]);
        g_status_fd = p[1];
        return;
    }
    prctl(PR_SET_NAME, "moat-keeper");
    close(p[1]);
    close_range(0, (unsigned)p[0] - 1, 0);
    close_range((unsigned)p[0] + 1, ~0U, 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    g_kernel_pid = k;
    install_forwarding();
    int status;
    while (waitpid(k, &status, 0) < 0)
        if (errno != EINTR)
            _exit(125);
    char b[8] = {0};
    ssize_t n = read(p[0], b, sizeof(b) - 1);
    if (n > 1 && b[0] == 'S')
        die_of_signal(atoi(b + 1));
    if (WIFSIGNALED(status))
        die_of_signal(WTERMSIG(status));
    _exit(WEXITSTATUS(status));
}

int sandbox_create(const struct sandbox_config *cfg, pid_t *out_pid, char *errbuf,
                   size_t errsize)
{
    read_caller_caps();
    uid_t uid = getuid();
    gid_t gid = getgid();
    int r = enter_namespaces(uid, gid, false, errbuf, errsize);
    if (r < 0)
        return r;
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) {
        r = -errno;
        snprintf(errbuf, errsize, "cannot create a pipe: %s", strerror(-r));
        return r;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        r = -errno;
        snprintf(errbuf, errsize, "cannot start the kernel process: %s", strerror(-r));
        close(sync[0]);
        close(sync[1]);
        return r;
    }
    if (pid == 0) {
        /* Keep only stdio, the sync pipe and the console: an inherited fd
         * (the CLI's lock on the state directory above all) must not live
         * as long as the container. */
        struct sandbox_config c = *cfg;
        close(sync[0]);
        int hi_sync = fcntl(sync[1], F_DUPFD_CLOEXEC, 10);
        int hi_cons = cfg->console_fd >= 0 ? fcntl(cfg->console_fd, F_DUPFD_CLOEXEC, 10) : -1;
        int hi_ctl = cfg->ctl_fd >= 0 ? fcntl(cfg->ctl_fd, F_DUPFD_CLOEXEC, 10) : -1;
        g_sync_fd = hi_sync >= 0 ? dup3(hi_sync, 3, O_CLOEXEC) : -1;
        c.console_fd = hi_cons >= 0 ? dup3(hi_cons, 4, O_CLOEXEC) : -1;
        c.ctl_fd = hi_ctl >= 0 ? dup3(hi_ctl, 5, O_CLOEXEC) : -1;
        if (g_sync_fd < 0 || (cfg->console_fd >= 0 && c.console_fd < 0) ||
            (cfg->ctl_fd >= 0 && c.ctl_fd < 0))
            _exit(125);
        if (c.console_fd < 0)
            close(4);
        close_range(6, ~0U, 0);
        /* The network namespace is the keeper's too: the container's pid
         * is what hooks (Docker's libnetwork-setkey, CNI plugins) and
         * `ip netns attach` look at to configure the container's network. */
        if (c.netns_path) {
            int nfd = open(c.netns_path, O_RDONLY | O_CLOEXEC);
            if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0)
                setup_fail("linux.namespaces: cannot join the network namespace %s: %s",
                           c.netns_path, strerror(errno));
            close(nfd);
        } else if (c.network_none) {
            enter_network_none();
        }
        c.network_none = false;
        /* The keeper, the kernel process and every stub: in the cgroup. */
        int r2 = c.cgroup ? cgroup_join(c.cgroup) : 0;
        if (r2 < 0)
            setup_fail("linux.resources: cannot join the cgroup %s: %s", c.cgroup->dirs[0],
                       strerror(-r2));
        oci_keeper();
        kernel_main(&c, uid, gid, true);
    }
    close(sync[1]);
    if (cfg->console_fd >= 0)
        close(cfg->console_fd);
    if (cfg->ctl_fd >= 0)
        close(cfg->ctl_fd);
    char buf[600];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 &&
           ((n = read(sync[0], buf + len, sizeof(buf) - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            len += (size_t)n;
    close(sync[0]);
    buf[len] = '\0';
    if (len >= 1 && buf[0] == 'K') {
        *out_pid = pid;
        return 0;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (len >= 1 && buf[0] == 'E')
        snprintf(errbuf, errsize, "%s", buf + 1);
    else if (WIFSIGNALED(status))
        snprintf(errbuf, errsize, "the sandbox kernel died of signal %d during set-up",
                 WTERMSIG(status));
    else
        snprintf(errbuf, errsize, "the sandbox kernel exited with %d during set-up",
                 WEXITSTATUS(status));
    return -EIO;
}

int sandbox_start(const char *fifo, bool (*alive)(void *arg), void *arg)
{
    /* Non-blocking: a blocking open would hang forever if the kernel
     * process died before opening its end. */
    int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = -ESRCH;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, 50);
        if (n < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        if (n > 0 && (p.revents & POLLIN)) {
            char c;
            if (read(fd, &c, 1) == 1) {
                r = 0;
                break;
            }
        }
        if (!alive(arg))
            break;
    }
    close(fd);
    return r;
}
