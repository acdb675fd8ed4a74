/*
 * Confinement of the kernel process (see confine.h).
 */
#include "sandbox/confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel/host/seccomp_allow.h"
#include "lib/log.h"

int confine_keep_proc(void)
{
    /* A procfs of the kernel's PID namespace with only the pid directories
     * (subset=pid: no /proc/sys, /proc/sysrq-trigger, /proc/kcore ...), as
     * a detached mount: it needs no path and outlives the pivot_root. */
    int fs = fsopen("proc", FSOPEN_CLOEXEC);
    if (fs < 0)
        return -errno;
    int r = 0;
    if (fsconfig(fs, FSCONFIG_SET_STRING, "subset", "pid", 0) < 0 ||
        fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        r = -errno;
        close(fs);
        return r;
    }
    int mnt = fsmount(fs, FSMOUNT_CLOEXEC,
                      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_RDONLY);
    if (mnt < 0)
        r = -errno;
    close(fs);
    if (mnt < 0)
        return r;
    g_host_proc_fd = mnt;
    return 0;
}

/* pivot_root into a fresh tmpfs mounted over the kernel's private /proc
 * mount point (any directory of the private mount namespace would do), then
 * detach the old root and make the new one read-only. */
static int pivot_to_empty(bool own_mounts)
{
    /* A mount namespace of our own if kernel_main's unshare failed: the
     * mounts below must never touch the caller's. */
    if (!own_mounts && unshare(CLONE_NEWNS) < 0)
        return -errno;
    if (!own_mounts && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -errno;
    if (mount("moat-empty", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=4k,nr_inodes=2,mode=0555") < 0)
        return -errno;
    if (chdir("/proc") < 0)
        return -errno;
    /* pivot_root(".", "."): the old root ends up stacked on the new one and
     * is detached right after. */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return -errno;
    if (umount2(".", MNT_DETACH) < 0)
        return -errno;
    if (chdir("/") < 0)
        return -errno;
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return -errno;
    return 0;
}

/* Drops every capability but those in KEEP (a mask of capability numbers
 * below 32), which stay effective and permitted. */
static int drop_caps(uint32_t keep)
{
    for (int c = 0; c <= 63; c++) {
        if (c < 32 && (keep & (1u << c)))
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break; /* past the host's last capability */
            return -errno;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    d[0].effective = d[0].permitted = keep;
    if (syscall(SYS_capset, &h, d) < 0)
        return -errno;
    return 0;
}

static enum host_seccomp_mode seccomp_mode(bool *out_off)
{
    const char *m = getenv("MOAT_SECCOMP");
    *out_off = m && strcmp(m, "off") == 0;
    if (m && strcmp(m, "log") == 0)
        return HOST_SECCOMP_LOG;
    return HOST_SECCOMP_ENFORCE;
}

int confine_kernel(const struct confine_opts *o, const char **out_step)
{
    int r;
    bool off;
    enum host_seccomp_mode mode = seccomp_mode(&off);
    int report_fd = o->log_fd;
    if (!off && mode == HOST_SECCOMP_LOG) {
        /* MOAT_SECCOMP_LOG=FILE: where log mode appends its lines (opened
         * now: no path can be opened once confined). */
        const char *file = getenv("MOAT_SECCOMP_LOG");
        int fd = file ? open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
        if (fd >= 0)
            report_fd = fd;
    }
    *out_step = "pivot_root into an empty directory";
    r = pivot_to_empty(o->own_mounts);
    if (r < 0)
        return r;
    *out_step = "dropping capabilities";
    /* Read-write binds: hostfs makes files with the sandbox's owners and
     * writes what moat's VFS allowed (kernel/fs/hostfs.c). */
    const uint32_t file_caps = (1u << CAP_CHOWN) | (1u << CAP_DAC_OVERRIDE) | (1u << CAP_FOWNER) |
                               (1u << CAP_FSETID);
    /* A root app reads a 0700 directory of another owner in its rootfs, as
     * under runc: moat's VFS checks the app's credentials first, and the host
     * must then let the kernel read what was allowed (reads only: the rootfs
     * and read-only binds are read-only mounts to the host). */
    r = drop_caps((o->host_write ? file_caps : 0) | (o->net_bind ? 1u << CAP_NET_BIND_SERVICE : 0) |
                  (o->read_any ? 1u << CAP_DAC_READ_SEARCH : 0));
    if (r < 0)
        return r;
    *out_step = "RLIMIT_CORE";
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_CORE, &rl) < 0)
        return -errno;
    *out_step = "no_new_privs";
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    if (off) {
        log_warn("MOAT_SECCOMP=off: the kernel process runs without its seccomp filter");
        return 0;
    }
    if (mode == HOST_SECCOMP_LOG)
        log_warn("MOAT_SECCOMP=log: forbidden host syscalls of the kernel are logged, not fatal");
    *out_step = "installing the seccomp filter";
    struct host_seccomp_opts so = {
            .host_net = o->host_net, .host_write = o->host_write, .net_broker = o->net_broker};
    r = host_seccomp_install(&so, mode, report_fd);
    if (r < 0)
        return r;
    /* tests/security/test_confine.py: a forbidden call on purpose: mkdirat,
     * or (MOAT_SECCOMP_SELFTEST=socket) an inet socket, or (=unix-bind) a
     * name for a unix socket pair, which only the kernel process of a
     * sandbox with a network namespace of its own may make. */
    const char *st = getenv("MOAT_SECCOMP_SELFTEST");
    if (st && strcmp(st, "socket") == 0) {
        long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
            close((int)fd);
    } else if (st && strcmp(st, "unix-bind") == 0) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
            struct sockaddr_un sa = {.sun_family = AF_UNIX};
            memcpy(sa.sun_path, "\0moat-selftest", 14);
            syscall(SYS_bind, sv[0], &sa, offsetof(struct sockaddr_un, sun_path) + 14);
            close(sv[0]);
            close(sv[1]);
        }
    } else if (st) {
        syscall(SYS_mkdirat, AT_FDCWD, "/moat-selftest", 0700);
    }
    return 0;
}
