/*
 * The kernel process's own seccomp filter (issue 9, the second wall): ONE
 * table of the host syscalls moat's kernel makes after confinement, each with
 * its argument rule and the reason it is needed, compiled into a classic-BPF
 * filter. `moat debug seccomp` prints the table; docs/security.md lists it.
 *
 * Syscalls made from the platform stub's code (instruction pointer inside
 * [PLATFORM_STUB_BASE, PLATFORM_STUB_END), where the kernel process maps
 * nothing) are let through this filter: stubs inherit it across
 * vfork+execveat, and the stub's own, stricter filter governs them.
 */
#ifndef MOAT_KERNEL_HOST_SECCOMP_ALLOW_H
#define MOAT_KERNEL_HOST_SECCOMP_ALLOW_H

#include <stdbool.h>
#include <stdio.h>

enum host_seccomp_mode {
    HOST_SECCOMP_ENFORCE, /* a forbidden call: one log line, then the sandbox dies */
    HOST_SECCOMP_LOG,     /* a forbidden call is logged once per number and run */
    HOST_SECCOMP_MODE_MAX,
};

/* Which optional groups of the table are allowed. */
struct host_seccomp_opts {
    bool host_net;   /* --network=host: AF_INET/AF_INET6 sockets */
    bool host_write; /* read-write host bind mounts: the calls that change a host tree */
    bool net_broker; /* the kernel is in the caller's network namespace and gets its
                        sockets from the CLI (host_net.h): it makes none, binds none */
};

/* Installs the filter on every thread of the calling process (TSYNC) and the
 * SIGSYS handler that reports violations to LOG_FD. no_new_privs must be set
 * already. 0 or -errno. */
int host_seccomp_install(const struct host_seccomp_opts *o, enum host_seccomp_mode mode,
                         int log_fd);

/* The kernel's own /proc (its PID namespace) as a directory fd, kept across
 * the pivot_root into an empty directory: platforms open a stub's
 * /proc/PID/... files relative to it. -1 until confine_keep_proc(). */
extern int g_host_proc_fd;

/* Prints the table (name, argument rule, reason) to OUT. */
void host_seccomp_print(FILE *out);

/* Number of distinct host syscalls in the table (all groups). */
int host_seccomp_count(void);

#endif
