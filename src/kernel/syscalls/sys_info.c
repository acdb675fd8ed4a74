/*
 * System information: uname, sysinfo, getrandom, getcpu.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "kernel/host/host.h"
#include "kernel/syscalls/syscall.h"

/* What apps see of the kernel: a recent Linux, so feature checks pass for
 * the syscalls moat implements. */
#define MOAT_UTS_RELEASE "6.1.0-moat"
#define MOAT_UTS_VERSION "#1 SMP moat"

static long sys_uname(struct task *t, const struct sys_args *a)
{
    struct linux_utsname u;
    memset(&u, 0, sizeof(u));
    strcpy(u.sysname, "Linux");
    /* FIXME(issue 6): sethostname/setdomainname per sandbox. */
    strcpy(u.nodename, "moat");
    strcpy(u.release, MOAT_UTS_RELEASE);
    strcpy(u.version, MOAT_UTS_VERSION);
    strcpy(u.machine, "x86_64");
    strcpy(u.domainname, "(none)");
    return copy_out(t, a->arg[0], &u, sizeof(u));
}
SYSCALL_DEFINE(uname, sys_uname, "p", SYS_FULL, NULL);

static long sys_sysinfo(struct task *t, const struct sys_args *a)
{
    struct linux_sysinfo si;
    memset(&si, 0, sizeof(si));
    int64_t s = 0, ns = 0;
    host_clock_gettime(CLOCK_BOOTTIME, &s, &ns);
    si.uptime = s;
    uint64_t total, freeram;
    host_meminfo(&total, &freeram);
    si.totalram = total;
    si.freeram = freeram;
    si.mem_unit = 1;
    si.procs = 1;
    return copy_out(t, a->arg[0], &si, sizeof(si));
}
SYSCALL_DEFINE(sysinfo, sys_sysinfo, "p", SYS_PARTIAL,
               "host RAM totals; load averages and process count are not tracked yet");

static long sys_getrandom(struct task *t, const struct sys_args *a)
{
    uint64_t buf = a->arg[0];
    size_t len = a->arg[1];
    unsigned flags = (unsigned)a->arg[2];
    if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE))
        return -EINVAL;
    if ((flags & GRND_RANDOM) && (flags & GRND_INSECURE))
        return -EINVAL;
    if (len > 33554431)
        len = 33554431;
    uint8_t tmp[4096];
    size_t done = 0;
    while (done < len) {
        size_t n = MIN(len - done, sizeof(tmp));
        int r = host_getrandom(tmp, n);
        if (r == 0)
            r = copy_out(t, buf + done, tmp, n);
        if (r < 0)
            return done ? (long)done : r;
        done += n;
    }
    return (long)done;
}
SYSCALL_DEFINE(getrandom, sys_getrandom, "pux", SYS_FULL, NULL);
