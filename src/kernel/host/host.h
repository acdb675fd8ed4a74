/*
 * Host calls of the kernel outside file systems (host_fs.h) and memory
 * (host_mem.h). Everything the kernel asks of the host goes through
 * src/kernel/host/, so the kernel's host-call surface can be read off one
 * folder.
 */
#ifndef MOAT_KERNEL_HOST_HOST_H
#define MOAT_KERNEL_HOST_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Host errno (positive) to the -errno an app sees. The one place to audit
 * what host state leaks into the guest. */
int host_err_to_guest(int host_errno);

/* clock_gettime on the host; CLOCK is a Linux clock id. 0 or -errno. */
int host_clock_gettime(int clock, int64_t *out_sec, int64_t *out_nsec);
int host_clock_getres(int clock, int64_t *out_sec, int64_t *out_nsec);
/* Sleeps the calling kernel thread. Returns 0, or -EINTR if woken. */
int host_nanosleep(int64_t sec, int64_t nsec);
/* Fills BUF with random bytes. 0 or -errno. */
int host_getrandom(void *buf, size_t n);
/* CPUID leaf 1 EDX, for AT_HWCAP. */
uint64_t host_hwcap(void);
/* Total and free host RAM in bytes, number of CPUs online. */
void host_meminfo(uint64_t *out_total, uint64_t *out_free);
int host_nr_cpus(void);
/* Ports below this need CAP_NET_BIND_SERVICE to bind (the sandbox's
 * network namespace's value, read before confinement). */
int host_unprivileged_port_start(void);
/* Sets it instead (a namespace not made yet: the network broker). */
void host_set_unprivileged_port_start(int v);
/* The kernel process's own limit for RESOURCE (the caller's, inherited):
 * the defaults a sandbox starts with. For RLIMIT_NOFILE, the caller's from
 * before host_prepare_fds. */
void host_getrlimit(int resource, uint64_t *out_cur, uint64_t *out_max);
/* Readies the kernel process for the host fds it holds (one per app file
 * and per cached rootfs inode). Once, before its first thread:
 * - its soft RLIMIT_NOFILE goes up to the hard limit (the usual soft 1024
 *   made `find /usr` fail with EMFILE inside the sandbox); the apps still
 *   start with the caller's limit (host_getrlimit);
 * - its fd table is grown to 4096 entries (or the limit) now: the host
 *   doubles a full table, and in a process with threads each doubling
 *   waits for an RCU grace period (expand_fdtable's synchronize_rcu),
 *   milliseconds here (python3 -c pass took ~30 ms instead of ~21 when
 *   the caller left no fd above 64 open). */
void host_prepare_fds(void);

/* Futex wait on a kernel word (private to the kernel process) while *WORD
 * == VAL, until DEADLINE_NS on CLOCK_MONOTONIC (0 = none). 0, -EAGAIN,
 * -ETIMEDOUT or -EINTR. */
int host_futex_wait(uint32_t *word, uint32_t val, uint64_t deadline_ns);
void host_futex_wake(uint32_t *word, int n);
uint64_t host_monotonic_ns(void);
/* The kernel process's own host and domain names (its UTS namespace, set
 * up before the sandbox starts), each at most SIZE bytes with NUL. */
int host_uts_names(char *hostname, char *domainname, size_t size);
/* CPU time the calling kernel thread used, in ns. */
uint64_t host_thread_cputime_ns(void);

#endif
