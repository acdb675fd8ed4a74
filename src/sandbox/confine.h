/*
 * Confinement of the kernel process itself (issue 9, the second wall): even a
 * compromised moat kernel must be able to do little on the host. Applied by
 * kernel_main once everything the kernel needs is held as an fd (rootfs
 * directory fd, memory file, stub memfds, stdio/console, debug log, host
 * sockets, a procfs of its own PID namespace) and before the first app instruction runs:
 *
 *   1. pivot_root into an empty, read-only tmpfs: no host path is left;
 *   2. every capability dropped (effective, permitted, inheritable, ambient
 *      and the bounding set): the platforms need none, since the kernel is
 *      the parent of every stub it traces; with read-write host bind
 *      mounts, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER and CAP_FSETID stay
 *      (effective and permitted only), so that files keep the sandbox's
 *      owners and the app's permission checks (done by moat's VFS) are the
 *      ones that count (kernel/fs/hostfs.c); CAP_NET_BIND_SERVICE stays
 *      when the app's bounding set has it, for its binds of ports below
 *      1024 (which moat checks against the app's own capability first);
 *   3. RLIMIT_CORE 0 (no core file of kernel memory on the host);
 *   4. no_new_privs;
 *   5. the seccomp allow-list of src/kernel/host/seccomp_allow.c on every
 *      kernel thread (SECCOMP_FILTER_FLAG_TSYNC).
 *
 * MOAT_SECCOMP=log turns a forbidden syscall into a log line (once per
 * number) instead of the sandbox's death; MOAT_SECCOMP=off skips the filter
 * (the other steps still apply). For debugging only.
 */
#ifndef MOAT_SANDBOX_CONFINE_H
#define MOAT_SANDBOX_CONFINE_H

#include <stdbool.h>

struct confine_opts {
    bool host_net; /* host (or namespaced loopback) inet sockets are used */
    bool host_write; /* read-write host bind mounts exist: file capabilities and the
                        host-write seccomp group stay */
    bool net_bind; /* the apps may bind privileged ports: CAP_NET_BIND_SERVICE stays */
    bool read_any; /* the apps may read any file (CAP_DAC_READ_SEARCH or CAP_DAC_OVERRIDE
                      in their bounding set): CAP_DAC_READ_SEARCH stays, so the host lets
                      the kernel read rootfs and bind files moat's VFS allowed */
    int log_fd;    /* where violations are reported */
    bool own_mounts; /* already in a private mount namespace of its own */
    bool net_broker; /* in the caller's network namespace, sockets from the CLI's broker */
};

/* Makes a procfs of the kernel's PID namespace with only its pid
 * directories (subset=pid), as a detached read-only mount held by
 * g_host_proc_fd: after the pivot, the platforms' opens of "/proc/PID/..."
 * are reopened under it (seccomp_allow.c). Call before confine_kernel.
 * 0 or -errno. */
int confine_keep_proc(void);

/* Steps 1 to 5 above. On failure: -errno and *OUT_STEP names the step. */
int confine_kernel(const struct confine_opts *o, const char **out_step);

#endif
