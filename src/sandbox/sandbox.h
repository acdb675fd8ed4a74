/* Host-side set-up of a sandbox and the start of its kernel process. */
#ifndef MOAT_SANDBOX_SANDBOX_H
#define MOAT_SANDBOX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel/vfs/oci_mounts.h"
#include "sandbox/cgroup.h"

struct sandbox_rlimit {
    int resource; /* RLIMIT_* */
    uint64_t soft, hard;
};

/* A mount to add inside the sandbox (OCI "mounts"). */
struct sandbox_mount {
    enum vfs_extra_kind kind;
    const char *dest;   /* absolute, in the sandbox */
    const char *source; /* binds: the host directory or regular file */
    uint32_t mode;      /* tmpfs */
    unsigned mnt_flags; /* VFS_MNT_* from the mount's options (nosuid, nodev, noexec, ...) */
};

/* Capability sets (bit N: capability N). */
struct sandbox_caps {
    uint64_t effective, permitted, inheritable, bounding, ambient;
};

/* An OCI startContainer hook: a program of the container's, run inside
 * the sandbox after `start`, before the first process's program. */
struct sandbox_hook {
    const char *path;   /* absolute, in the sandbox */
    char *const *argv;  /* NULL: { path } */
    char *const *envp;  /* NULL: empty */
    int timeout;        /* seconds; 0: none */
};

struct sandbox_config {
    char *const *argv;    /* the app's command line; argv[0] resolved in the sandbox */
    char *const *envp;    /* its environment */
    const char *cwd;      /* its working directory (a path inside the sandbox) */
    const char *root;     /* host directory that becomes the sandbox's / */
    bool root_readonly;   /* the root mount is read-only (OCI root.readonly, --read-only) */
    const char *platform; /* NULL: the default */
    bool no_syscall_patch; /* systrap: no syscall patching */
    bool strace;
    uint64_t memory_limit; /* bytes of memory the sandbox's apps may hold; 0: none */
    bool network_none;     /* a network namespace of its own with only lo (else the caller's) */
    const char *netns_path; /* OCI: join this network namespace instead (Docker's, CNI's) */
    int pids_limit;        /* live tasks (threads count) the apps may have; 0: none */
    const struct cgroup *cgroup; /* host cgroup the whole sandbox runs in; NULL: none */
    /* OCI linux.seccomp as classic BPF, installed by the kernel on the
     * container's processes (struct sandbox_init). */
    const struct bpf_insn *seccomp_prog;
    uint32_t seccomp_len;
    unsigned int seccomp_flags;
    /* OCI containers (sandbox_create) only: */
    bool set_ids;         /* run the app as UID:GID (else the caller's ids) */
    uint32_t uid, gid;
    bool no_new_privs;
    /* The app's capability sets before the exec of its program (which
     * transforms them as Linux's execve does); NULL: the caller's own. */
    const struct sandbox_caps *caps;
    const uint32_t *additional_gids; /* supplementary groups */
    size_t additional_gids_len;
    const char *hostname; /* NULL: unchanged */
    const char *domainname; /* NULL: unchanged */
    /* OCI linux.sysctl (key, value pairs), already checked by the caller
     * (oci/config.c): net.* ones go to the sandbox's host network
     * namespace, the others to the sandbox kernel's /proc/sys. */
    const char *const *sysctl;
    size_t sysctl_len;
    const struct sandbox_rlimit *rlimits;
    size_t rlimits_len;
    const struct sandbox_mount *mounts;
    size_t mounts_len;
    const char *exec_fifo; /* the kernel waits until `start` opens it */
    /* OCI startContainer hooks, in order; a failing one ends the sandbox
     * (status 1) before the first process's program runs. Their stdin:
     * HOOK_STATE(HOOK_STATE_ARG, PID), the state JSON (malloc'd) of the
     * container whose pid is PID (the keeper's). */
    const struct sandbox_hook *start_hooks;
    size_t start_hooks_len;
    char *(*hook_state)(void *arg, pid_t pid);
    void *hook_state_arg;
    int console_fd;        /* >= 0: the app's stdio is this terminal (consumed) */
    int ctl_fd;            /* >= 0: the listening control socket (kernel/task/ctl.h; consumed) */
};

/* The host cgroup limits for a sandbox whose apps may hold APP_MEMORY bytes
 * (0: no limit) and APP_PIDS tasks (0: no limit): the kernel's own memory
 * and the platform's host tasks per app task on top (see docs/security.md).
 * CPU fields are left at 0. */
void sandbox_host_limits(uint64_t app_memory, int app_pids, struct cgroup_limits *out);

/* Runs the sandbox to completion: starts the kernel process in new
 * namespaces, forwards termination signals to it, and returns the exit
 * code the CLI should exit with (the app's, 128+signal, or 125 when the
 * sandbox could not start; the error is already printed). */
int sandbox_run(const struct sandbox_config *cfg);

/* `create`: starts the kernel process in new namespaces, detached from the
 * caller (own session; it survives the CLI and is reparented to the
 * caller's subreaper), builds the sandbox's file systems and mounts, then
 * leaves the kernel waiting on CFG->exec_fifo. The pid is the container's
 * keeper, the kernel process's parent (sandbox.c, oci_keeper): it exits
 * with the app's exit code or dies of the app's signal (125 if the sandbox
 * could not start). Returns 0 and its pid, or -errno with a one-line reason in ERRBUF (the
 * kernel process is then gone). */
int sandbox_create(const struct sandbox_config *cfg, pid_t *out_pid, char *errbuf,
                   size_t errsize);

/* `start`: releases a created kernel process waiting on FIFO. Gives up
 * with -ESRCH as soon as ALIVE(ARG) says the kernel process is gone, so a
 * dead sandbox never makes `start` hang. 0 or -errno. */
int sandbox_start(const char *fifo, bool (*alive)(void *arg), void *arg);

/* Waits for our child PID (the kernel process, or with OCI the container's
 * keeper process) while forwarding the termination signals the CLI
 * receives; returns the CLI's exit code as sandbox_run does (OCI: death by
 * signal N is the container's status, 128+N, not an error). */
int sandbox_wait(pid_t pid, bool oci);

#endif
