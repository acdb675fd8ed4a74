/*
 * System information: uname, sethostname, setdomainname, sysinfo,
 * getrandom.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "kernel/host/host.h"
#include "kernel/mm/mm.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/uts.h"

/* What apps see of the kernel: a recent Linux, so feature checks pass for
 * the syscalls moat implements. */
#define MOAT_UTS_RELEASE "6.1.0-moat"
#define MOAT_UTS_VERSION "#1 SMP moat"

static long sys_uname(struct task *t, const struct sys_args *a)
{
    struct linux_utsname u;
    memset(&u, 0, sizeof(u));
    strcpy(u.sysname, "Linux");
    uts_get(u.nodename, u.domainname);
    strcpy(u.release, MOAT_UTS_RELEASE);
    strcpy(u.version, MOAT_UTS_VERSION);
    strcpy(u.machine, "x86_64");
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
    struct mm_meminfo m;
    mm_meminfo_brief(&m); /* the same totals as /proc/meminfo */
    si.totalram = m.total;
    si.freeram = m.free;
    si.sharedram = m.mapped; /* /proc/meminfo's Mapped: shared mappings' pages */
    si.mem_unit = 1;
    si.procs = 1;
    return copy_out(t, a->arg[0], &si, sizeof(si));
}
SYSCALL_DEFINE(sysinfo, sys_sysinfo, "p", SYS_PARTIAL,
               "RAM totals are the sandbox's (/proc/meminfo); load averages and process count "
               "are not tracked yet");

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

/* Setting the names needs CAP_SYS_ADMIN in the sandbox's UTS namespace. */
static long set_uts_name(struct task *t, uint64_t addr, uint64_t len, bool host)
{
    char name[UTS_LEN];
    if (!task_capable(t, CAP_SYS_ADMIN))
        return -EPERM;
    if ((int64_t)len < 0 || len > UTS_LEN)
        return -EINVAL;
    if (len && copy_in(t, name, addr, len) < 0)
        return -EFAULT;
    return host ? uts_set_hostname(name, len) : uts_set_domainname(name, len);
}

static long sys_sethostname(struct task *t, const struct sys_args *a)
{
    return set_uts_name(t, a->arg[0], a->arg[1], true);
}
SYSCALL_DEFINE(sethostname, sys_sethostname, "bu", SYS_FULL, NULL);

static long sys_setdomainname(struct task *t, const struct sys_args *a)
{
    return set_uts_name(t, a->arg[0], a->arg[1], false);
}
SYSCALL_DEFINE(setdomainname, sys_setdomainname, "bu", SYS_FULL, NULL);
