/*
 * Starting a sandbox: the CLI forks the kernel process as the first process
 * of a new PID namespace (so when the kernel dies, every stub dies with it)
 * with its own mount, IPC and UTS namespaces, then waits for it and passes
 * termination signals on.
 *
 * FIXME(issue 9): the kernel process's own confinement (pivot_root into an
 * empty directory, dropped capabilities, its seccomp allow-list).
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/mm/memfile.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task.h"
#include "kernel/vfs/vfs.h"
#include "lib/log.h"
#include "platform/platform.h"

#define MEMFILE_SIZE (1ULL << 40)

static const int g_forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

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

/* The kernel process. Never returns. */
static void NORETURN kernel_main(const struct sandbox_config *cfg, uid_t uid, gid_t gid)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "moat-kernel");

    if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
        log_debug("cannot unshare mount/IPC/UTS namespaces: %s", strerror(errno));
    else
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);

    int rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        log_error("cannot open the sandbox root %s: %s", cfg->root, strerror(errno));
        _exit(125);
    }
    struct sandbox_init init = {
        .argv = cfg->argv,
        .envp = cfg->envp,
        .cwd = cfg->cwd,
        .strace = cfg->strace,
        .cred = {uid, uid, uid, uid, gid, gid, gid, gid},
    };
    for (int fd = 0; fd < 3; fd++)
        init.host_stdio[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 3);

    g_platform = platform_lookup(cfg->platform);
    if (!g_platform) {
        log_error("unknown platform `%s` (available: ptrace)", cfg->platform);
        _exit(125);
    }
    int r = memfile_init_limited(MEMFILE_SIZE, cfg->memory_limit);
    if (r < 0) {
        log_error("cannot create the memory file: %s", strerror(-r));
        _exit(125);
    }
    r = g_platform->init(g_memfile_fd);
    if (r < 0) {
        log_error("platform %s: cannot start: %s", g_platform->name, strerror(-r));
        _exit(125);
    }
    syscall_table_init();
    r = vfs_init(rootfd, &init.fs);
    if (r < 0) {
        log_error("cannot build the sandbox's file systems: %s", strerror(-r));
        _exit(125);
    }

    /* Every kernel thread blocks host signals; one thread takes the ones
     * meant for the sandbox. */
    sigset_t all, fwd;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    sigemptyset(&fwd);
    for (size_t i = 0; i < ARRAY_SIZE(g_forwarded); i++)
        sigaddset(&fwd, g_forwarded[i]);
    pthread_t th;
    if (pthread_create(&th, NULL, signal_thread, &fwd) != 0) {
        log_error("cannot start the signal thread");
        _exit(125);
    }

    int status = 0;
    r = task_run_init(&init, &status);
    if (r < 0) {
        log_error("cannot start the sandbox's first process: %s", strerror(-r));
        _exit(125);
    }
    if (WIFSIGNALED(status))
        _exit(128 + WTERMSIG(status));
    _exit(WEXITSTATUS(status));
}

static volatile pid_t g_kernel_pid;

static void forward_signal(int sig)
{
    if (g_kernel_pid > 0)
        kill(g_kernel_pid, sig);
}

int sandbox_run(const struct sandbox_config *cfg)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    int flags = CLONE_NEWPID;
    if (geteuid() != 0)
        flags |= CLONE_NEWUSER;
    if (unshare(flags) < 0) {
        log_error("cannot create the sandbox's namespaces: %s", strerror(errno));
        return 125;
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
            log_error("cannot map ids into the sandbox's user namespace: %s", strerror(-r));
            return 125;
        }
    }

    /* Forward termination signals; set up before the child exists so none
     * is lost in between. */
    struct sigaction sa = {.sa_handler = forward_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < ARRAY_SIZE(g_forwarded); i++)
        sigaction(g_forwarded[i], &sa, NULL);

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot start the kernel process: %s", strerror(errno));
        return 125;
    }
    if (pid == 0) {
        for (size_t i = 0; i < ARRAY_SIZE(g_forwarded); i++)
            signal(g_forwarded[i], SIG_DFL);
        kernel_main(cfg, uid, gid);
    }
    g_kernel_pid = pid;

    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            log_error("lost the kernel process: %s", strerror(errno));
            return 125;
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    log_error("the sandbox kernel died of signal %d (%s)", WTERMSIG(status),
              strsignal(WTERMSIG(status)));
    return 128 + WTERMSIG(status);
}
