/*
 * The kernel process's host-syscall allow-list and its BPF compiler (see
 * seccomp_allow.h). The list was measured: the whole test suite on ptrace
 * and systrap with MOAT_SECCOMP=log, plus `strace -f -c` of busybox, bash
 * and python3 (threads, multiprocessing) sandboxes.
 *
 * Filter layout: architecture check (x86-64 only, x32 numbers refused);
 * calls from the stub region pass (the stub's own filter governs them); in
 * log mode, calls from the log handler's own `syscall` instruction pass;
 * then one block per table entry, tried in order: a block compares the
 * number, then its argument checks, and returns ALLOW (or an errno) when all
 * hold, else falls through to the next block. Entries may repeat a number:
 * they are alternatives. After the last block: SECCOMP_RET_TRAP, whose
 * SIGSYS handler prints one line and ends the kernel process with SIGSYS
 * (through a kill(0, SIGSYS, DIE_MAGIC, DIE_MAGIC) that the filter answers
 * with KILL_PROCESS): every stub of its PID namespace dies with it; never a
 * hang.
 */
#include "kernel/host/seccomp_allow.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "lib/util.h"
#include "platform/platform.h"

enum chk_kind {
    CHK_NONE,
    CHK_EQ32,     /* (u32)arg == val */
    CHK_CLEAR32,  /* ((u32)arg & mask) == 0 */
    CHK_SET32,    /* ((u32)arg & mask) == mask */
    CHK_NONNEG32, /* (int)arg >= 0 */
    CHK_POS32,    /* (int)arg > 0 */
    CHK_KIND_MAX,
};

struct chk {
    uint8_t kind;
    uint8_t arg;
    uint32_t val; /* the value, or the mask */
};

/* GRP_OWN_NET: the kernel is in a network namespace of the sandbox (or
 * the host's with --network=host); GRP_BROKER: it is in the caller's and
 * gets its sockets from the CLI (host_net.h, the network broker). */
enum allow_group { GRP_BASE, GRP_INET, GRP_WRITE, GRP_OWN_NET, GRP_BROKER, GRP_MAX };

/* allow_entry.err: not an errno but "trap, and the SIGSYS handler emulates
 * the call" (see emulate_openat). */
#define ERR_EMULATE (-1)

struct allow_entry {
    int nr;
    const char *name;
    enum allow_group group;
    int err; /* 0: allow; > 0: fail with -err (ENOSYS for clone3); ERR_EMULATE */
    struct chk chk[3];
    const char *rule; /* the argument rule in words */
    const char *reason;
};

/* clang-format off */
#define EQ(a, v)    {CHK_EQ32, a, (uint32_t)(v)}
#define CLEAR(a, m) {CHK_CLEAR32, a, (uint32_t)(m)}
#define SET(a, m)   {CHK_SET32, a, (uint32_t)(m)}
#define NONNEG(a)   {CHK_NONNEG32, a, 0}
#define POS(a)      {CHK_POS32, a, 0}
/* clang-format on */

#define NS_FLAGS                                                                               \
    (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | \
     CLONE_NEWCGROUP | CLONE_NEWTIME)

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

#define E(n, ...) SYS_##n, #n, __VA_ARGS__

/* Hot calls first: the filter is a linear scan. One row per entry. */
/* clang-format off */
static const struct allow_entry g_allow[] = {
    /* synchronisation and the platform hand-off */
    {E(futex, GRP_BASE, 0, {{0}}), "any", "kernel wait queues, platform hand-off with systrap stubs, pthreads"},
    {E(rt_sigreturn, GRP_BASE, 0, {{0}}), "any", "return from the kernel's own signal handlers"},
    {E(ptrace, GRP_BASE, 0, {{0}}), "any (only stubs are tracees)", "ptrace platform: SYSEMU, register get/set, injected calls"},
    {E(wait4, GRP_BASE, 0, {{0}}), "any", "ptrace platform: stops of stub threads; reaping stubs"},
    {E(waitid, GRP_BASE, 0, {{0}}), "any", "reaping stubs (pidfd waits)"},
    /* I/O on fds the kernel holds */
    {E(read, GRP_BASE, 0, {{0}}), "any fd", "host files of the rootfs, ttys, pipes, control sockets"},
    {E(write, GRP_BASE, 0, {{0}}), "any fd", "ttys, stdio, debug log"},
    {E(pread64, GRP_BASE, 0, {{0}}), "any fd", "rootfs files, memory file"},
    {E(pwrite64, GRP_BASE, 0, {{0}}), "any fd", "memory file"},
    {E(writev, GRP_BASE, 0, {{0}}), "any fd", "glibc fatal messages (assert, malloc checks)"},
    {E(lseek, GRP_BASE, 0, {{0}}), "any fd", "host file offsets"},
    {E(getdents64, GRP_BASE, 0, {{0}}), "any fd", "reading rootfs directories"},
    {E(fcntl, GRP_BASE, 0, {{0}}), "any", "F_GETFL/F_SETFL/F_DUPFD_CLOEXEC on held fds"},
    {E(close, GRP_BASE, 0, {{0}}), "any", "closing held fds"},
    {E(close_range, GRP_BASE, 0, {{0}}), "any", "vfork child of stub creation closes the kernel's fds"},
    {E(dup2, GRP_BASE, 0, {{0}}), "any", "vfork child places the stub's fds"},
    {E(dup3, GRP_BASE, 0, {{0}}), "any", "vfork child places the stub's fds"},
    {E(poll, GRP_BASE, 0, {{0}}), "any", "readiness of host fds"},
    {E(epoll_wait, GRP_BASE, 0, {{0}}), "any", "host readiness loop"},
    {E(epoll_ctl, GRP_BASE, 0, {{0}}), "any", "host readiness loop"},
    {E(epoll_create1, GRP_BASE, 0, {{0}}), "any", "host readiness loop"},
    {E(pipe2, GRP_BASE, 0, {{0}}), "any", "internal wake-up pipes"},
    {E(eventfd2, GRP_BASE, 0, {{0}}), "any", "internal wake-ups"},
    {E(timerfd_create, GRP_BASE, 0, {EQ(0, CLOCK_REALTIME)}), "CLOCK_REALTIME",
     "watching the host clock being set (TFD_TIMER_CANCEL_ON_SET, host_io.c)"},
    {E(timerfd_settime, GRP_BASE, 0, {EQ(1, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)}),
     "flags ABSTIME|CANCEL_ON_SET", "watching the host clock being set (host_io.c)"},
    {E(ioctl, GRP_BASE, 0, {EQ(1, TCGETS)}), "cmd TCGETS", "host tty of the sandbox"},
    {E(ioctl, GRP_BASE, 0, {EQ(1, TCSETS)}), "cmd TCSETS", "host tty of the sandbox"},
    {E(ioctl, GRP_BASE, 0, {EQ(1, TCSETSW)}), "cmd TCSETSW", "host tty of the sandbox"},
    {E(ioctl, GRP_BASE, 0, {EQ(1, TCSETSF)}), "cmd TCSETSF", "host tty of the sandbox"},
    {E(ioctl, GRP_BASE, 0, {EQ(1, TIOCGWINSZ)}), "cmd TIOCGWINSZ", "host tty window size"},
    {E(ioctl, GRP_BASE, 0, {EQ(1, TIOCSWINSZ)}), "cmd TIOCSWINSZ", "host tty window size"},
    {E(ioctl, GRP_BASE, 0, {EQ(1, FIONREAD)}), "cmd FIONREAD", "bytes queued on a host socket or pipe"},
    {E(ioctl, GRP_BASE, 0, {EQ(1, FIONBIO)}), "cmd FIONBIO", "non-blocking host fds"},
    /* files: only relative to a held directory fd, never a path from / or cwd */
    {E(openat, GRP_BASE, ERR_EMULATE, {EQ(0, AT_FDCWD)}),
     "AT_FDCWD: trapped; \"/proc/...\" reopened under the kernel's own /proc fd, "
     "anything else fails with ENOENT",
     "no host path exists after pivot_root; systrap reads stubs' /proc/PID/task/TID/schedstat, "
     "glibc probes /sys (and falls back)"},
    {E(openat, GRP_BASE, 0, {NONNEG(0), SET(2, O_NOFOLLOW)}),
     "dirfd >= 0 (never AT_FDCWD), O_NOFOLLOW", "rootfs walk one component at a time (hostfs)"},
    {E(newfstatat, GRP_BASE, 0, {NONNEG(0), SET(3, AT_EMPTY_PATH)}),
     "dirfd >= 0, AT_EMPTY_PATH", "fstat of held fds"},
    {E(readlinkat, GRP_BASE, 0, {NONNEG(0)}), "dirfd >= 0", "rootfs symlinks (O_PATH fd, empty name)"},
    {E(ftruncate, GRP_BASE, 0, {{0}}), "any fd", "memory file size"},
    {E(fallocate, GRP_BASE, 0, {{0}}), "any fd", "memory file: allocate and punch pages"},
    {E(fsync, GRP_BASE, 0, {{0}}), "any fd", "flushing host files"},
    {E(memfd_create, GRP_BASE, 0, {{0}}), "any", "stub executables, systrap shared pages"},
    /* memory: never executable for the kernel itself */
    {E(mmap, GRP_BASE, 0, {CLEAR(2, PROT_EXEC)}), "no PROT_EXEC",
     "kernel heap, thread stacks, mapping the memory file"},
    {E(mprotect, GRP_BASE, 0, {CLEAR(2, PROT_EXEC)}), "no PROT_EXEC", "guard pages, allocator"},
    {E(munmap, GRP_BASE, 0, {{0}}), "any", "kernel heap, memory file windows"},
    {E(mremap, GRP_BASE, 0, {{0}}), "any", "allocator"},
    {E(madvise, GRP_BASE, 0, {{0}}), "any", "allocator (MADV_DONTNEED), memory file windows"},
    {E(brk, GRP_BASE, 0, {{0}}), "any", "allocator"},
    {E(mincore, GRP_BASE, 0, {{0}}), "any", "residency of memory file pages"},
    /* threads and stubs */
    {E(clone, GRP_BASE, 0, {CLEAR(0, NS_FLAGS)}), "no namespace flags",
     "kernel threads (pthreads), vfork of stub creation"},
    {E(clone3, GRP_BASE, ENOSYS, {{0}}), "returns ENOSYS (its flags are in memory)",
     "glibc falls back to clone"},
    {E(vfork, GRP_BASE, 0, {{0}}), "any", "stub creation (vfork + execveat)"},
    {E(execveat, GRP_BASE, 0, {NONNEG(0), EQ(4, AT_EMPTY_PATH)}),
     "fd >= 0, flags == AT_EMPTY_PATH", "exec of the stub memfd (stub creation)"},
    {E(exit, GRP_BASE, 0, {{0}}), "any", "kernel thread exit"},
    {E(exit_group, GRP_BASE, 0, {{0}}), "any", "sandbox exit"},
    {E(set_robust_list, GRP_BASE, 0, {{0}}), "any", "pthreads"},
    {E(rseq, GRP_BASE, 0, {{0}}), "any", "glibc thread start"},
    {E(set_tid_address, GRP_BASE, 0, {{0}}), "any", "pthreads"},
    {E(sched_yield, GRP_BASE, 0, {{0}}), "any", "spinning hand-off"},
    {E(sched_getaffinity, GRP_BASE, 0, {{0}}), "any", "CPU count, platform thread placement"},
    {E(sched_setaffinity, GRP_BASE, 0, {{0}}), "any", "keeping app and kernel thread together"},
    {E(getpid, GRP_BASE, 0, {{0}}), "none", "own pid"},
    {E(gettid, GRP_BASE, 0, {{0}}), "none", "own tid"},
    {E(getuid, GRP_BASE, 0, {{0}}), "none", "ids"},
    {E(geteuid, GRP_BASE, 0, {{0}}), "none", "ids"},
    {E(getgid, GRP_BASE, 0, {{0}}), "none", "ids"},
    {E(getegid, GRP_BASE, 0, {{0}}), "none", "ids"},
    {E(setsid, GRP_BASE, 0, {{0}}), "none", "stub creation: the stub's own session"},
    {E(kill, GRP_BASE, 0, {POS(0)}), "pid > 0", "killing stubs; no process groups, no -1"},
    {E(tgkill, GRP_BASE, 0, {POS(0)}), "tgid > 0", "interrupting stub and kernel threads"},
    {E(pidfd_open, GRP_BASE, 0, {{0}}), "any", "stub lifetime"},
    {E(pidfd_send_signal, GRP_BASE, 0, {{0}}), "any", "signals to stubs"},
    {E(prctl, GRP_BASE, 0, {EQ(0, PR_SET_PDEATHSIG)}), "PR_SET_PDEATHSIG", "vfork child of stub creation"},
    {E(prctl, GRP_BASE, 0, {EQ(0, PR_SET_NAME)}), "PR_SET_NAME", "thread names"},
    {E(prctl, GRP_BASE, 0, {EQ(0, PR_GET_NAME)}), "PR_GET_NAME", "thread names"},
    {E(prctl, GRP_BASE, 0, {EQ(0, PR_SET_NO_NEW_PRIVS)}), "PR_SET_NO_NEW_PRIVS", "stub set-up"},
    {E(prctl, GRP_BASE, 0, {EQ(0, PR_SET_DUMPABLE)}), "PR_SET_DUMPABLE", "stub set-up"},
    {E(prctl, GRP_BASE, 0, {EQ(0, PR_GET_DUMPABLE)}), "PR_GET_DUMPABLE", "stub set-up"},
    {E(prctl, GRP_BASE, 0, {EQ(0, PR_SET_PTRACER)}), "PR_SET_PTRACER", "stub set-up"},
    /* signals of the kernel process */
    {E(rt_sigaction, GRP_BASE, 0, {{0}}), "any", "kernel's own handlers"},
    {E(rt_sigprocmask, GRP_BASE, 0, {{0}}), "any", "kernel threads block host signals"},
    {E(rt_sigtimedwait, GRP_BASE, 0, {{0}}), "any", "the signal thread (sigwait)"},
    {E(sigaltstack, GRP_BASE, 0, {{0}}), "any", "thread set-up"},
    /* time, randomness, system facts */
    {E(clock_gettime, GRP_BASE, 0, {{0}}), "any", "clocks (vDSO fallback), stub CPU clocks"},
    {E(clock_getres, GRP_BASE, 0, {{0}}), "any", "clock_getres for apps"},
    {E(clock_nanosleep, GRP_BASE, 0, {{0}}), "any", "sleeps"},
    {E(nanosleep, GRP_BASE, 0, {{0}}), "any", "sleeps"},
    {E(gettimeofday, GRP_BASE, 0, {{0}}), "any", "clocks"},
    {E(personality, GRP_BASE, 0, {EQ(0, 0xffffffffu)}), "0xffffffff (query only)",
     "the loader reads the host's personality flags"},
    {E(getrandom, GRP_BASE, 0, {{0}}), "any", "getrandom, AT_RANDOM, ASLR"},
    {E(sysinfo, GRP_BASE, 0, {{0}}), "any", "/proc/meminfo, sysinfo"},
    {E(uname, GRP_BASE, 0, {{0}}), "any", "host release facts"},
    {E(prlimit64, GRP_BASE, 0, {EQ(0, 0)}), "pid 0 (itself)", "default limits"},
    {E(restart_syscall, GRP_BASE, 0, {{0}}), "any", "restarted sleeps"},
    /* unix sockets the kernel holds (control socket, console socket) */
    {E(socket, GRP_OWN_NET, 0, {EQ(0, AF_UNIX)}), "AF_UNIX only", "control and console sockets"},
    {E(socketpair, GRP_OWN_NET, 0, {EQ(0, AF_UNIX)}), "AF_UNIX only",
     "systrap: each stub's socket, over which it gets the host files it maps"},
    /* In the caller's network namespace a datagram socket could send to its
     * abstract unix names; a connected stream or seqpacket pair reaches
     * only its peer (and bind, which would name it there, is not allowed). */
    {E(socketpair, GRP_BROKER, 0, {EQ(0, AF_UNIX), CLEAR(1, SOCK_DGRAM)}),
     "AF_UNIX, stream or seqpacket", "systrap: each stub's socket"},
    {E(kcmp, GRP_BASE, 0, {EQ(2, 0 /* KCMP_FILE */)}), "KCMP_FILE only",
     "systrap: a stub's descriptor is the host file the kernel sent it"},
    {E(socket, GRP_OWN_NET, 0, {EQ(0, AF_NETLINK), EQ(2, NETLINK_ROUTE)}), "AF_NETLINK, NETLINK_ROUTE only", "dumps of the sandbox's links, addresses, routes (net/rtnl.c)"},
    {E(sendmsg, GRP_BASE, 0, {{0}}), "any fd", "held sockets (SCM_RIGHTS on the control socket)"},
    {E(recvmsg, GRP_BASE, 0, {{0}}), "any fd", "held sockets"},
    {E(accept4, GRP_BASE, 0, {{0}}), "any fd", "held listening sockets"},
    {E(shutdown, GRP_BASE, 0, {{0}}), "any fd", "held sockets"},
    {E(getsockopt, GRP_BASE, 0, {{0}}), "any fd", "held sockets"},
    {E(setsockopt, GRP_BASE, 0, {{0}}), "any fd", "held sockets"},
    {E(getsockname, GRP_BASE, 0, {{0}}), "any fd", "held sockets"},
    {E(getpeername, GRP_BASE, 0, {{0}}), "any fd", "held sockets"},
    /* Host inet sockets opened by the kernel (host_net.c, net/inet.c).
     * FIXME(issue 9): always on (struct confine_opts.host_net), because
     * --network=none uses host sockets too, inside the sandbox's own network
     * namespace; make it depend on the backend once a netstack exists. */
    {E(socket, GRP_INET, 0, {EQ(0, AF_INET)}), "AF_INET", "inet sockets (host_net.c)"},
    {E(socket, GRP_INET, 0, {EQ(0, AF_INET6)}), "AF_INET6", "inet sockets (host_net.c)"},
    {E(bind, GRP_INET, 0, {{0}}), "any fd", "inet sockets (host_net.c)"},
    /* On held sockets only: the broker's inet sockets too. A connected
     * unix pair refuses both (EISCONN, EINVAL). */
    {E(connect, GRP_BASE, 0, {{0}}), "any fd", "inet sockets (host_net.c)"},
    {E(listen, GRP_BASE, 0, {{0}}), "any fd", "inet sockets (host_net.c)"},
    /* Read-write host bind mounts (hostfs.c through host_fs.c): only when
     * one exists. Every call names one component relative to a held
     * directory fd (never AT_FDCWD; nothing followed), or acts on a held fd
     * itself (AT_EMPTY_PATH); O_CREAT opens pass the openat rule above. */
    {E(mkdirat, GRP_WRITE, 0, {NONNEG(0)}), "dirfd >= 0", "mkdir in a read-write bind"},
    {E(mknodat, GRP_WRITE, 0, {NONNEG(0), CLEAR(2, 0160000 & ~S_IFIFO), SET(2, S_IFIFO)}),
     "dirfd >= 0, S_IFIFO only", "FIFOs in a read-write bind"},
    {E(mknodat, GRP_WRITE, 0, {NONNEG(0), CLEAR(2, 0030000), SET(2, S_IFSOCK)}),
     "dirfd >= 0, S_IFSOCK only", "socket nodes in a read-write bind"},
    {E(symlinkat, GRP_WRITE, 0, {NONNEG(1)}), "newdirfd >= 0", "symlinks in a read-write bind"},
    {E(linkat, GRP_WRITE, 0, {NONNEG(0), NONNEG(2), EQ(4, 0)}),
     "both dirfds >= 0, flags 0 (no AT_EMPTY_PATH, no following)", "hard links inside a read-write bind"},
    {E(unlinkat, GRP_WRITE, 0, {NONNEG(0)}), "dirfd >= 0", "unlink and rmdir in a read-write bind"},
    {E(renameat2, GRP_WRITE, 0, {NONNEG(0), NONNEG(2), CLEAR(4, ~(uint32_t)RENAME_NOREPLACE)}),
     "both dirfds >= 0, flags 0 or RENAME_NOREPLACE", "rename inside a read-write bind"},
    {E(fchownat, GRP_WRITE, 0, {NONNEG(0), EQ(4, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)}),
     "fd >= 0, AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW (the fd itself)", "owners in a read-write bind"},
    {E(fchmodat2, GRP_WRITE, 0, {NONNEG(0), EQ(3, AT_EMPTY_PATH)}),
     "fd >= 0, AT_EMPTY_PATH (the fd itself)", "modes in a read-write bind"},
    {E(utimensat, GRP_WRITE, 0, {NONNEG(0), EQ(3, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)}),
     "fd >= 0, AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW (the fd itself)", "times in a read-write bind"},
    {E(fgetxattr, GRP_WRITE, 0, {NONNEG(0)}), "fd >= 0", "xattrs of read-write bind files"},
    {E(flistxattr, GRP_WRITE, 0, {NONNEG(0)}), "fd >= 0", "xattrs of read-write bind files"},
    {E(fsetxattr, GRP_WRITE, 0, {NONNEG(0), CLEAR(4, ~3u)}), "fd >= 0, flags 0/CREATE/REPLACE",
     "xattrs of read-write bind files"},
    {E(fremovexattr, GRP_WRITE, 0, {NONNEG(0)}), "fd >= 0", "xattrs of read-write bind files"},
};
/* clang-format on */

#undef E

/* ---------------------------------------------------------------- compiler */

#define MAX_INSNS 1024
#define A_NR      offsetof(struct seccomp_data, nr)
#define A_ARCH    offsetof(struct seccomp_data, arch)
#define A_IP_LO   offsetof(struct seccomp_data, instruction_pointer)
#define A_IP_HI   (offsetof(struct seccomp_data, instruction_pointer) + 4)
#define A_ARG(i)  (offsetof(struct seccomp_data, args) + 8 * (i))

struct prog {
    struct sock_filter insn[MAX_INSNS];
    size_t len;
    bool overflow;
};

static size_t emit(struct prog *p, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
    if (p->len >= MAX_INSNS) {
        p->overflow = true;
        return p->len;
    }
    p->insn[p->len] = (struct sock_filter){code, jt, jf, k};
    return p->len++;
}

#define LD(p, off) emit(p, BPF_LD | BPF_W | BPF_ABS, (uint32_t)(off), 0, 0)
#define RET(p, v)  emit(p, BPF_RET | BPF_K, (v), 0, 0)

/* Patches the "fail" branches of a block to jump to END. Each fail branch
 * was emitted with 0xff as a marker in the field to patch. */
static void patch_block(struct prog *p, size_t from, size_t end)
{
    for (size_t i = from; i < end && i < MAX_INSNS; i++) {
        struct sock_filter *f = &p->insn[i];
        if (BPF_CLASS(f->code) != BPF_JMP)
            continue;
        if (f->jt == 0xff)
            f->jt = (uint8_t)(end - (i + 1));
        if (f->jf == 0xff)
            f->jf = (uint8_t)(end - (i + 1));
    }
}

static void emit_entry(struct prog *p, const struct allow_entry *e)
{
    size_t start = p->len;
    LD(p, A_NR);
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)e->nr, 0, 0xff);
    for (size_t c = 0; c < ARRAY_SIZE(e->chk) && e->chk[c].kind != CHK_NONE; c++) {
        const struct chk *k = &e->chk[c];
        LD(p, A_ARG(k->arg));
        switch (k->kind) {
        case CHK_EQ32:
            emit(p, BPF_JMP | BPF_JEQ | BPF_K, k->val, 0, 0xff);
            break;
        case CHK_CLEAR32:
            emit(p, BPF_JMP | BPF_JSET | BPF_K, k->val, 0xff, 0);
            break;
        case CHK_SET32:
            emit(p, BPF_ALU | BPF_AND | BPF_K, k->val, 0, 0);
            emit(p, BPF_JMP | BPF_JEQ | BPF_K, k->val, 0, 0xff);
            break;
        case CHK_NONNEG32:
            emit(p, BPF_JMP | BPF_JSET | BPF_K, 0x80000000u, 0xff, 0);
            break;
        case CHK_POS32:
            emit(p, BPF_JMP | BPF_JSET | BPF_K, 0x80000000u, 0xff, 0);
            emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 0xff, 0);
            break;
        default:
            break;
        }
    }
    RET(p, e->err == ERR_EMULATE ? SECCOMP_RET_TRAP
           : e->err              ? SECCOMP_RET_ERRNO | (uint32_t)e->err
                                 : SECCOMP_RET_ALLOW);
    patch_block(p, start, p->len);
}

/* The log handler's own `syscall` instruction: moat_seccomp_raw(nr, a0..a5). */
extern long moat_seccomp_raw(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
extern const char moat_seccomp_raw_ret[];
__asm__(".text\n"
        ".globl moat_seccomp_raw\n"
        ".type moat_seccomp_raw,@function\n"
        "moat_seccomp_raw:\n"
        "  mov %rdi, %rax\n"
        "  mov %rsi, %rdi\n"
        "  mov %rdx, %rsi\n"
        "  mov %rcx, %rdx\n"
        "  mov %r8, %r10\n"
        "  mov %r9, %r8\n"
        "  mov 8(%rsp), %r9\n"
        "  syscall\n"
        ".globl moat_seccomp_raw_ret\n"
        "moat_seccomp_raw_ret:\n"
        "  ret\n"
        ".size moat_seccomp_raw, .-moat_seccomp_raw\n");

/* kill(2)'s unused third and fourth arguments when the handler ends the
 * process (see build). */
#define DIE_MAGIC 0x6d6f6174u /* "moat" */

static bool group_on(const struct host_seccomp_opts *o, enum allow_group g)
{
    return g == GRP_BASE || (g == GRP_INET && o->host_net && !o->net_broker) ||
           (g == GRP_WRITE && o->host_write) || (g == GRP_OWN_NET && !o->net_broker) ||
           (g == GRP_BROKER && o->net_broker);
}

static int build(struct prog *p, const struct host_seccomp_opts *o, enum host_seccomp_mode mode)
{
    p->len = 0;
    p->overflow = false;
    /* x86-64 only; x32 numbers refused. TRAP, not KILL_PROCESS: stubs
     * inherit this filter, and an app's int 0x80 or x32 call must reach
     * the stub's own filter's decision (the more restrictive one wins). The
     * kernel process never makes such calls: its SIGSYS handler ends it. */
    LD(p, A_ARCH);
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    RET(p, SECCOMP_RET_TRAP);
    LD(p, A_NR);
    emit(p, BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
    RET(p, SECCOMP_RET_TRAP);
    /* stub code: governed by the stub's own filter */
    LD(p, A_IP_HI);
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(PLATFORM_STUB_BASE >> 32), 0, 4);
    LD(p, A_IP_LO);
    emit(p, BPF_JMP | BPF_JGE | BPF_K, (uint32_t)PLATFORM_STUB_BASE, 0, 2);
    emit(p, BPF_JMP | BPF_JGE | BPF_K, (uint32_t)PLATFORM_STUB_END, 1, 0);
    RET(p, SECCOMP_RET_ALLOW);
    /* The SIGSYS handler's way out: kill(0, SIGSYS, MAGIC, MAGIC) ends the
     * process with SIGSYS as its status (seccomp's kill does not spare a
     * PID-namespace init, unlike a signal it sends itself). In a stub, only
     * the app itself could ask for this, and only to end its own stub. */
    LD(p, A_NR);
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, SYS_kill, 0, 7);
    LD(p, A_ARG(0));
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 5);
    LD(p, A_ARG(2));
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, DIE_MAGIC, 0, 3);
    LD(p, A_ARG(3));
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, DIE_MAGIC, 0, 1);
    RET(p, SECCOMP_RET_KILL_PROCESS);
    if (mode == HOST_SECCOMP_LOG) {
        uint64_t ip = (uint64_t)(uintptr_t)moat_seccomp_raw_ret;
        LD(p, A_IP_HI);
        emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(ip >> 32), 0, 3);
        LD(p, A_IP_LO);
        emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ip, 0, 1);
        RET(p, SECCOMP_RET_ALLOW);
    }
    for (size_t i = 0; i < ARRAY_SIZE(g_allow); i++) {
        const struct allow_entry *e = &g_allow[i];
        if (group_on(o, e->group))
            emit_entry(p, e);
    }
    RET(p, SECCOMP_RET_TRAP);
    return p->overflow ? -E2BIG : 0;
}

/* ------------------------------------------------------------- violations */

int g_host_proc_fd = -1;

static enum host_seccomp_mode g_mode;
static int g_report_fd = 2;
static uint8_t g_logged[1024];

static const char *entry_name(int nr)
{
    for (size_t i = 0; i < ARRAY_SIZE(g_allow); i++)
        if (g_allow[i].nr == nr)
            return g_allow[i].name;
    return "not in the allow-list";
}

/* openat(AT_FDCWD, PATH): the kernel process has no host path left, except
 * its own /proc (its PID namespace: itself and its stubs), kept as
 * g_host_proc_fd. "/proc/REST" is reopened as openat(g_host_proc_fd, REST,
 * O_NOFOLLOW), which the filter allows anyway; anything else is ENOENT, as
 * the empty root would answer. No ".." components. */
static long emulate_openat(const long a[6])
{
    const char *path = (const char *)a[1];
    if (g_host_proc_fd < 0 || strncmp(path, "/proc/", 6) != 0 || strstr(path, ".."))
        return -ENOENT;
    return moat_seccomp_raw(SYS_openat, g_host_proc_fd, (long)(path + 6), a[2] | O_NOFOLLOW, a[3],
                            0, 0);
}

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
    (void)sig;
    ucontext_t *uc = uc_;
    greg_t *g = uc->uc_mcontext.gregs;
    int nr = si->si_syscall;
    long a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
    if (nr == SYS_openat && (int)a[0] == AT_FDCWD && si->si_arch == AUDIT_ARCH_X86_64) {
        g[REG_RAX] = emulate_openat(a);
        return;
    }
    bool first = nr < 0 || nr >= (int)sizeof(g_logged) ||
                 !__atomic_exchange_n(&g_logged[nr], 1, __ATOMIC_RELAXED);
    if (first || g_mode == HOST_SECCOMP_ENFORCE) {
        char line[384];
        /* A path argument says most about a stray open (log mode only: in
         * enforce mode the kernel may be compromised, so no pointer is
         * followed). */
        const char *path = g_mode == HOST_SECCOMP_LOG && nr == SYS_openat ? (const char *)a[1] : "";
        int n = snprintf(line, sizeof(line),
                         "moat: kernel made forbidden host syscall %d (%s) args %#lx %#lx %#lx "
                         "%#lx at %p%s%.96s\n",
                         nr, entry_name(nr), a[0], a[1], a[2], a[3], si->si_call_addr,
                         g_mode == HOST_SECCOMP_LOG ? " [MOAT_SECCOMP=log: allowed] " : "", path);
        if (n > 0 && write(g_report_fd, line, (size_t)n) < 0) {
            /* nowhere else to say it */
        }
    }
    if (g_mode == HOST_SECCOMP_ENFORCE) {
        moat_seccomp_raw(SYS_kill, 0, SIGSYS, DIE_MAGIC, DIE_MAGIC, 0, 0);
        moat_seccomp_raw(SYS_exit_group, 128 + SIGSYS, 0, 0, 0, 0, 0); /* not reached */
    }
    g[REG_RAX] = moat_seccomp_raw(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int host_seccomp_install(const struct host_seccomp_opts *o, enum host_seccomp_mode mode, int log_fd)
{
    static struct prog p;
    int r = build(&p, o, mode);
    if (r < 0)
        return r;
    g_mode = mode;
    g_report_fd = log_fd;
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0)
        return -errno;
    struct sock_fprog fp = {.len = (unsigned short)p.len, .filter = p.insn};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fp) != 0)
        return errno ? -errno : -ESRCH; /* TSYNC returns a thread id on failure */
    return 0;
}

/* ----------------------------------------------------------------- listing */

int host_seccomp_count(void)
{
    int n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(g_allow); i++) {
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            if (g_allow[j].nr == g_allow[i].nr)
                seen = true;
        if (!seen)
            n++;
    }
    return n;
}

void host_seccomp_print(FILE *out)
{
    static const char *const groups[GRP_MAX] = {"base", "host-net", "host-write", "own-netns",
                                                "net-broker"};
    fprintf(out, "%-18s %-4s %-9s %-44s %s\n", "SYSCALL", "NR", "GROUP", "ARGUMENT RULE", "REASON");
    for (size_t i = 0; i < ARRAY_SIZE(g_allow); i++) {
        const struct allow_entry *e = &g_allow[i];
        fprintf(out, "%-18s %-4d %-9s %-44s %s\n", e->name, e->nr, groups[e->group], e->rule,
                e->reason);
    }
    fprintf(out,
            "\n%d distinct host syscalls (gVisor's Sentry: about 72 base calls).\n"
            "Any syscall from the stub region [%#llx, %#llx) is left to the stub's own "
            "filter.\nAnything else: SIGSYS, one log line, the kernel process dies of SIGSYS (status %d).\n",
            host_seccomp_count(), (unsigned long long)PLATFORM_STUB_BASE,
            (unsigned long long)PLATFORM_STUB_END, 128 + SIGSYS);
}
