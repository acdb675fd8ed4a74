/* Host calls for time, randomness and machine facts. */
#include "kernel/host/host.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int host_err_to_guest(int host_errno)
{
    if (host_errno <= 0 || host_errno >= 4096)
        return -EIO;
    /* Host and guest share the x86-64 Linux errno numbering; internal
     * restart codes never come back from a host call. */
    if (host_errno >= 512)
        return -EINTR;
    return -host_errno;
}

/* Clocks moat exposes; per-process and per-thread CPU clocks are the
 * kernel's own accounting, not the host's. */
static int host_clock_ok(int clock)
{
    switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
        return 1;
    default:
        return 0;
    }
}

int host_clock_gettime(int clock, int64_t *out_sec, int64_t *out_nsec)
{
    struct timespec ts;
    if (!host_clock_ok(clock))
        return -EINVAL;
    if (clock_gettime(clock, &ts) < 0)
        return host_err_to_guest(errno);
    *out_sec = ts.tv_sec;
    *out_nsec = ts.tv_nsec;
    return 0;
}

int host_clock_getres(int clock, int64_t *out_sec, int64_t *out_nsec)
{
    struct timespec ts;
    if (!host_clock_ok(clock))
        return -EINVAL;
    if (clock_getres(clock, &ts) < 0)
        return host_err_to_guest(errno);
    *out_sec = ts.tv_sec;
    *out_nsec = ts.tv_nsec;
    return 0;
}

int host_nanosleep(int64_t sec, int64_t nsec)
{
    struct timespec ts = {sec, nsec};
    if (nanosleep(&ts, NULL) < 0)
        return host_err_to_guest(errno);
    return 0;
}

int host_getrandom(void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = getrandom((char *)buf + done, n - done, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return host_err_to_guest(errno);
        }
        done += r;
    }
    return 0;
}

uint64_t host_hwcap(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return d;
}

void host_meminfo(uint64_t *out_total, uint64_t *out_free)
{
    struct sysinfo si;
    if (sysinfo(&si) < 0) {
        *out_total = *out_free = 0;
        return;
    }
    *out_total = (uint64_t)si.totalram * si.mem_unit;
    *out_free = (uint64_t)si.freeram * si.mem_unit;
}

int host_nr_cpus(void)
{
    /* Counted once: glibc reads /sys/devices/system/cpu/online, which the
     * confined kernel process no longer has (it then falls back to its own
     * affinity, one CPU when pinned). sandbox.c asks before confining. */
    static int g_ncpus;
    int n = __atomic_load_n(&g_ncpus, __ATOMIC_RELAXED);
    if (n > 0)
        return n;
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? (int)c : 1;
    __atomic_store_n(&g_ncpus, n, __ATOMIC_RELAXED);
    return n;
}

/* Read once, before confinement (sandbox.c): the network namespace's
 * net.ipv4.ip_unprivileged_port_start, which the host applies to the
 * kernel's own binds too. */
static int g_start = -1;

void host_set_unprivileged_port_start(int v)
{
    __atomic_store_n(&g_start, v, __ATOMIC_RELAXED);
}

int host_unprivileged_port_start(void)
{
    int v = __atomic_load_n(&g_start, __ATOMIC_RELAXED);
    if (v >= 0)
        return v;
    v = 1024;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
    if (f) {
        int n;
        if (fscanf(f, "%d", &n) == 1 && n >= 0 && n <= 65536)
            v = n;
        fclose(f);
    }
    __atomic_store_n(&g_start, v, __ATOMIC_RELAXED);
    return v;
}

/* The caller's RLIMIT_NOFILE, from before host_prepare_fds (valid when
 * g_nofile_saved). */
static struct rlimit g_nofile;
static bool g_nofile_saved;

/* Entries the fd table is grown to at start (32 KiB of host memory). */
#define HOST_FD_TABLE 4096

void host_prepare_fds(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    g_nofile = rl;
    g_nofile_saved = true;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            rl.rlim_cur = g_nofile.rlim_cur;
    }
    /* An fd numbered n - 1 makes the table n entries; closed at once, the
     * table stays. */
    int n = rl.rlim_cur < HOST_FD_TABLE ? (int)rl.rlim_cur : HOST_FD_TABLE;
    int any = open("/", O_PATH | O_CLOEXEC);
    int hi = any >= 0 && n > any + 1 ? fcntl(any, F_DUPFD_CLOEXEC, n - 1) : -1;
    if (hi >= 0)
        close(hi);
    if (any >= 0)
        close(any);
}

void host_getrlimit(int resource, uint64_t *out_cur, uint64_t *out_max)
{
    struct rlimit rl;
    if (resource == RLIMIT_NOFILE && g_nofile_saved) {
        *out_cur = g_nofile.rlim_cur;
        *out_max = g_nofile.rlim_max;
        return;
    }
    if (getrlimit(resource, &rl) < 0) {
        *out_cur = *out_max = RLIM_INFINITY;
        return;
    }
    *out_cur = rl.rlim_cur;
    *out_max = rl.rlim_max;
}

#define HOST_FUTEX_WAKE          1
#define HOST_FUTEX_WAIT_BITSET   9
#define HOST_FUTEX_PRIVATE_FLAG  128
#define HOST_FUTEX_BITSET_ANY    0xffffffffU

int host_futex_wait(uint32_t *word, uint32_t val, uint64_t deadline_ns)
{
    struct timespec ts, *tsp = NULL;
    if (deadline_ns) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000ULL);
        ts.tv_nsec = (long)(deadline_ns % 1000000000ULL);
        tsp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
    long r = syscall(SYS_futex, word, HOST_FUTEX_WAIT_BITSET | HOST_FUTEX_PRIVATE_FLAG, val, tsp, NULL,
                     HOST_FUTEX_BITSET_ANY);
    if (r < 0)
        return errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR ? -errno : -EIO;
    return 0;
}

void host_futex_wake(uint32_t *word, int n)
{
    syscall(SYS_futex, word, HOST_FUTEX_WAKE | HOST_FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

uint64_t host_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t host_thread_cputime_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int host_uts_names(char *hostname, char *domainname, size_t size)
{
    struct utsname u;
    if (uname(&u) < 0)
        return host_err_to_guest(errno);
    snprintf(hostname, size, "%s", u.nodename);
    snprintf(domainname, size, "%s", u.domainname);
    return 0;
}
