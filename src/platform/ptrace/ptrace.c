/*
 * The ptrace platform (PTRACE_SYSEMU).
 *
 * Each address space is a stub process exec'd from a memfd holding the stub
 * program (src/platform/stub/stub.c), traced by the kernel thread that
 * created it. App syscalls stop the stub before they execute (SYSEMU skips
 * them); faults stop it with their signal. The kernel changes the stub's
 * memory by injecting mmap/munmap/mprotect through the stub's gadget, the
 * only address the stub's seccomp filter lets a syscall come from.
 *
 * Only the tracer thread may issue ptrace requests on a stub thread, so a
 * context is owned by the kernel thread that created it (platform.h).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/list.h"
#include "lib/log.h"
#include "lib/util.h"
#include "platform/platform.h"

#define STUB_MEMFD      3
#define STUB_EXEC_FD    4
#define INTERRUPT_SIGNAL SIGSTOP

extern const unsigned char g_stub_elf[];
extern const size_t g_stub_elf_size;
/* Link address of the stub's "syscall; int3" gadget (read off the stub's
 * symbol table at build time). */
extern const uint64_t g_stub_gadget_addr;

/*
 * Each context is one stub process with one thread. Contexts of one address
 * space are CLONE_VM siblings (cloned from a stub through the gadget), so a
 * mapping change made through any of them is seen by all, and each can be
 * traced by its own kernel thread.
 */
struct platform_ctx {
    pid_t pid;                      /* (c) host pid of the stub process */
    pid_t tid;                      /* (c) host tid of its thread (== pid) */
    struct platform_as *as;         /* (c) */
    struct list_head link;          /* (a) as->lock */
    struct user_regs_struct inject; /* (o) register template for injections */
    uint64_t gadget;                /* (c) address of the syscall gadget */
    bool adopted;                   /* (o) traced by its owner */
};

struct platform_as {
    pthread_mutex_t lock;
    struct list_head ctxs; /* (a) lock: live contexts */
};

/* The contexts the calling kernel thread owns (injections go through the
 * one in the right address space): one, or two while it execs. */
static __thread struct platform_ctx *t_owned[2];

static void ptrace_kthread_reset(void)
{
    t_owned[0] = t_owned[1] = NULL; /* a new task: it owns nothing yet */
}

static void own(struct platform_ctx *ctx)
{
    for (int i = 0; i < 2; i++) {
        if (!t_owned[i]) {
            t_owned[i] = ctx;
            return;
        }
    }
    log_error("internal: a kernel thread owns more than two stub contexts");
}

static void disown(struct platform_ctx *ctx)
{
    for (int i = 0; i < 2; i++)
        if (t_owned[i] == ctx)
            t_owned[i] = NULL;
}

static bool owns(struct platform_ctx *ctx)
{
    return t_owned[0] == ctx || t_owned[1] == ctx;
}

#define STUB_CLONE_FLAGS (CLONE_VM | CLONE_PARENT | CLONE_PTRACE | SIGCHLD)

static int g_memfd = -1;
static int g_stub_fd = -1;
static int g_nr_cpus = 1;
static unsigned g_next_cpu; /* round-robin placement of tracer+stub pairs */

_Static_assert(sizeof(struct platform_regs) == sizeof(struct user_regs_struct), "regs layout");

static int ptrace_init(int memfd)
{
    g_memfd = memfd;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        g_nr_cpus = CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
    int fd = memfd_create("moat-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    size_t done = 0;
    while (done < g_stub_elf_size) {
        ssize_t n = write(fd, g_stub_elf + done, g_stub_elf_size - done);
        if (n < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        done += n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        log_debug("ptrace: cannot seal the stub memfd: %s", strerror(errno));
    g_stub_fd = fd;
    return 0;
}

/* Waits for TID to stop. Returns the stop signal (with 0x80 for syscall
 * stops), or -ESRCH if it exited or was killed. */
static int wait_stop(pid_t tid, int *out_status)
{
    int status;
    for (;;) {
        pid_t r = waitpid(tid, &status, __WALL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        break;
    }
    if (out_status)
        *out_status = status;
    if (WIFEXITED(status) || WIFSIGNALED(status))
        return -ESRCH;
    if (!WIFSTOPPED(status))
        return -ESRCH;
    return WSTOPSIG(status);
}

/* Runs one host syscall inside the stub through the gadget. */
static long inject(struct platform_ctx *ctx, long nr, long a0, long a1, long a2, long a3, long a4,
                   long a5)
{
    struct user_regs_struct r = ctx->inject;
    r.rip = ctx->gadget;
    r.rax = nr;
    r.orig_rax = nr;
    r.rdi = a0;
    r.rsi = a1;
    r.rdx = a2;
    r.r10 = a3;
    r.r8 = a4;
    r.r9 = a5;
    if (ptrace(PTRACE_SETREGS, ctx->tid, 0, &r) < 0)
        return -errno;
    if (ptrace(PTRACE_CONT, ctx->tid, 0, 0) < 0)
        return -errno;
    for (;;) {
        int sig = wait_stop(ctx->tid, NULL);
        if (sig < 0)
            return sig;
        if (sig == SIGTRAP)
            break;
        /* An interrupt that raced with the injection: swallow it. */
        if (ptrace(PTRACE_CONT, ctx->tid, 0, 0) < 0)
            return -errno;
    }
    if (ptrace(PTRACE_GETREGS, ctx->tid, 0, &r) < 0)
        return -errno;
    return (long)r.rax;
}

static void kill_stub(pid_t pid)
{
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
        ;
}

/*
 * A ptrace stop is a blocking wake-up between the stub thread and its tracer.
 * Across cores that costs 40-60 us on these machines, on one core a few us:
 * so each tracer thread and its stub run pinned to the same CPU, pairs
 * spread round-robin over the CPUs the kernel process may use.
 */
static int pick_cpu(cpu_set_t *out)
{
    cpu_set_t allowed;
    CPU_ZERO(out);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
        return -errno;
    int want = (int)(__atomic_fetch_add(&g_next_cpu, 1, __ATOMIC_RELAXED) % g_nr_cpus);
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        if (seen++ == want) {
            CPU_SET(cpu, out);
            return 0;
        }
    }
    return -EINVAL;
}

/* In the vfork child: becomes the stub. Only raw, async-signal-safe calls. */
static NORETURN void stub_child(const cpu_set_t *cpu)
{
    if (cpu)
        sched_setaffinity(0, sizeof(*cpu), cpu);
    sigset_t none;
    sigemptyset(&none);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
        _exit(126);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Out of the caller's session: terminal signals are for the app's
     * processes as the kernel sees them, not for stubs. */
    setsid();
    /* Move the memory file to fd 3 and the stub program to fd 4 (closed by
     * exec); nothing else survives into the stub. */
    int mem = fcntl(g_memfd, F_DUPFD, STUB_EXEC_FD + 1);
    int prog = fcntl(g_stub_fd, F_DUPFD, STUB_EXEC_FD + 1);
    if (mem < 0 || prog < 0)
        _exit(126);
    if (dup2(mem, STUB_MEMFD) < 0 || dup3(prog, STUB_EXEC_FD, O_CLOEXEC) < 0)
        _exit(126);
    syscall(SYS_close_range, 0, 2, 0);
    syscall(SYS_close_range, STUB_EXEC_FD + 1, ~0U, 0);
    char *const argv[] = {(char *)"moat-stub", NULL};
    char *const envp[] = {NULL};
    syscall(SYS_execveat, STUB_EXEC_FD, "", argv, envp, AT_EMPTY_PATH);
    _exit(127);
}

static void as_add_ctx(struct platform_as *as, struct platform_ctx *ctx)
{
    ctx->as = as;
    pthread_mutex_lock(&as->lock);
    list_add_tail(&ctx->link, &as->ctxs);
    pthread_mutex_unlock(&as->lock);
}

/* Removes CTX from its address space; frees the space with its last. */
static void as_remove_ctx(struct platform_ctx *ctx)
{
    struct platform_as *as = ctx->as;
    pthread_mutex_lock(&as->lock);
    list_del(&ctx->link);
    bool last = list_empty(&as->ctxs);
    pthread_mutex_unlock(&as->lock);
    if (last) {
        pthread_mutex_destroy(&as->lock);
        free(as);
    }
}

static int ptrace_as_new(struct platform_as **out_as, struct platform_ctx **out_ctx)
{
    struct platform_as *as = calloc(1, sizeof(*as));
    struct platform_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!as || !ctx) {
        free(as);
        free(ctx);
        return -ENOMEM;
    }
    cpu_set_t cpu;
    volatile bool pinned = pick_cpu(&cpu) == 0;
    if (pinned)
        pthread_setaffinity_np(pthread_self(), sizeof(cpu), &cpu);
    pid_t pid = vfork();
    if (pid < 0) {
        int e = -errno;
        free(as);
        free(ctx);
        return e;
    }
    if (pid == 0)
        stub_child(pinned ? &cpu : NULL);

    int r;
    int status;
    /* The exec stop, then the stub's own int3 after it installed its filter. */
    int sig = wait_stop(pid, &status);
    if (sig != SIGTRAP) {
        log_error("stub did not start (status %#x)", status);
        r = -ECHILD;
        goto out_kill;
    }
    if (ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) < 0) {
        r = -errno;
        goto out_kill;
    }
    if (ptrace(PTRACE_CONT, pid, 0, 0) < 0) {
        r = -errno;
        goto out_kill;
    }
    sig = wait_stop(pid, &status);
    if (sig != SIGTRAP) {
        log_error("stub failed to install its filter (status %#x)", status);
        r = -ECHILD;
        goto out_kill;
    }
    if (ptrace(PTRACE_GETREGS, pid, 0, &ctx->inject) < 0) {
        r = -errno;
        goto out_kill;
    }
    ctx->gadget = g_stub_gadget_addr;
    ctx->pid = pid;
    ctx->tid = pid;
    ctx->adopted = true;
    pthread_mutex_init(&as->lock, NULL);
    list_init(&as->ctxs);
    as_add_ctx(as, ctx);

    /* Leave nothing in the stub but its own pages. */
    long ret = inject(ctx, SYS_munmap, 0, PLATFORM_STUB_BASE, 0, 0, 0, 0);
    if (ret == 0)
        ret = inject(ctx, SYS_munmap, PLATFORM_STUB_END, PLATFORM_APP_MAX - PLATFORM_STUB_END, 0,
                     0, 0, 0);
    if (ret != 0) {
        log_error("stub: cannot clear its address space: %s", strerror((int)-ret));
        r = (int)ret;
        goto out_kill;
    }
    own(ctx);
    *out_as = as;
    *out_ctx = ctx;
    return 0;

out_kill:
    kill_stub(pid);
    free(as);
    free(ctx);
    return r;
}

static int ptrace_ctx_new(struct platform_ctx *from, struct platform_ctx **out)
{
    if (!owns(from))
        return -EINVAL;
    struct platform_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    /* The clone starts traced by us (CLONE_PTRACE) with a SIGSTOP; it is
     * left group-stopped and untraced for its owner to attach. */
    long pid = inject(from, SYS_clone, STUB_CLONE_FLAGS, 0, 0, 0, 0, 0);
    if (pid <= 0) {
        free(ctx);
        return pid < 0 ? (int)pid : -EIO;
    }
    int status;
    int sig = wait_stop((pid_t)pid, &status);
    if (sig < 0 || ptrace(PTRACE_DETACH, (pid_t)pid, 0, SIGSTOP) < 0) {
        kill((pid_t)pid, SIGKILL);
        free(ctx);
        return sig < 0 ? sig : -errno;
    }
    ctx->pid = ctx->tid = (pid_t)pid;
    ctx->gadget = from->gadget;
    ctx->inject = from->inject;
    as_add_ctx(from->as, ctx);
    *out = ctx;
    return 0;
}

static int ptrace_ctx_adopt(struct platform_ctx *ctx)
{
    cpu_set_t cpu;
    if (pick_cpu(&cpu) == 0) {
        pthread_setaffinity_np(pthread_self(), sizeof(cpu), &cpu);
        sched_setaffinity(ctx->pid, sizeof(cpu), &cpu);
    }
    if (ptrace(PTRACE_ATTACH, ctx->pid, 0, 0) < 0)
        return -errno;
    /* It is stopped already: the attach reports that stop. */
    int status;
    int sig = wait_stop(ctx->pid, &status);
    if (sig < 0)
        return sig;
    if (ptrace(PTRACE_SETOPTIONS, ctx->pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) < 0)
        return -errno;
    ctx->adopted = true;
    own(ctx);
    return 0;
}

static void ptrace_ctx_destroy(struct platform_ctx *ctx)
{
    if (!ctx)
        return;
    kill(ctx->pid, SIGKILL);
    /* Only the tracer (or, untraced, any thread of the parent) reaps it. */
    if (!ctx->adopted || owns(ctx)) {
        int status;
        while (waitpid(ctx->pid, &status, __WALL) < 0 && errno == EINTR)
            ;
    }
    disown(ctx);
    as_remove_ctx(ctx);
    free(ctx);
}

static struct platform_as *ptrace_ctx_as(struct platform_ctx *ctx)
{
    return ctx->as;
}

/* The context the calling thread may inject through for AS. */
static struct platform_ctx *injector(struct platform_as *as)
{
    for (int i = 0; i < 2; i++)
        if (t_owned[i] && t_owned[i]->as == as)
            return t_owned[i];
    log_error("internal: address space change from a thread with no context in it");
    return NULL;
}

static int ptrace_map(struct platform_as *as, uint64_t addr, uint64_t len, int prot,
                      uint64_t file_off)
{
    struct platform_ctx *ctx = injector(as);
    if (!ctx)
        return -EINVAL;
    long r = inject(ctx, SYS_mmap, (long)addr, (long)len, prot, MAP_SHARED | MAP_FIXED,
                    STUB_MEMFD, (long)file_off);
    if (r < 0 && r > -4096)
        return (int)r;
    if ((uint64_t)r != addr)
        return -EFAULT;
    return 0;
}

static int ptrace_unmap(struct platform_as *as, uint64_t addr, uint64_t len)
{
    struct platform_ctx *ctx = injector(as);
    return ctx ? (int)inject(ctx, SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0) : -EINVAL;
}

static int ptrace_protect(struct platform_as *as, uint64_t addr, uint64_t len, int prot)
{
    struct platform_ctx *ctx = injector(as);
    return ctx ? (int)inject(ctx, SYS_mprotect, (long)addr, (long)len, prot, 0, 0, 0) : -EINVAL;
}

static int ptrace_switch(struct platform_ctx *ctx, struct platform_regs *regs,
                         struct platform_trap *out)
{
    struct user_regs_struct *r = (struct user_regs_struct *)regs;
    /* Segment selectors are the host's user ones, whatever the app asked. */
    r->cs = ctx->inject.cs;
    r->ss = ctx->inject.ss;
    r->ds = ctx->inject.ds;
    r->es = ctx->inject.es;
    r->fs = ctx->inject.fs;
    r->gs = ctx->inject.gs;
    if (ptrace(PTRACE_SETREGS, ctx->tid, 0, r) < 0)
        return -errno;
    int inject_sig = 0;
    for (;;) {
        if (ptrace(PTRACE_SYSEMU, ctx->tid, 0, inject_sig) < 0)
            return -errno;
        int status;
        int sig = wait_stop(ctx->tid, &status);
        if (sig < 0)
            return sig;
        if (ptrace(PTRACE_GETREGS, ctx->tid, 0, r) < 0)
            return -errno;
        if (sig == (SIGTRAP | 0x80)) {
            /* The `syscall` instruction leaves rcx = rip and r11 = rflags.
             * Anything else entered through `int 0x80`, the 32-bit ABI,
             * whose numbers and arguments are not x86-64's: moat has no
             * such ABI and answers as Linux without IA32 emulation does
             * (SIGSEGV), never with an x86-64 syscall of the same number. */
            if (unlikely(r->rcx != r->rip || r->r11 != r->eflags)) {
                log_warn_once("int 0x80 (the 32-bit syscall ABI) is not supported: SIGSEGV");
                out->ev = PLATFORM_EV_FAULT;
                out->signo = SIGSEGV;
                out->code = 0x80; /* SI_KERNEL */
                out->addr = 0;
                out->trapno = 13; /* #GP */
                return 0;
            }
            out->ev = PLATFORM_EV_SYSCALL;
            return 0;
        }
        switch (sig) {
        case SIGSEGV:
        case SIGBUS:
        case SIGFPE:
        case SIGILL:
        case SIGTRAP: {
            siginfo_t si;
            if (ptrace(PTRACE_GETSIGINFO, ctx->tid, 0, &si) < 0)
                return -errno;
            if (si.si_code <= 0 && sig != SIGTRAP) {
                /* Sent by someone (si_code SI_USER/SI_TKILL), not a fault. */
                out->ev = PLATFORM_EV_INTERRUPTED;
                return 0;
            }
            out->ev = PLATFORM_EV_FAULT;
            out->signo = sig;
            out->code = si.si_code;
            out->addr = (uint64_t)(uintptr_t)si.si_addr;
            out->trapno = -1;
            return 0;
        }
        case INTERRUPT_SIGNAL:
            out->ev = PLATFORM_EV_INTERRUPTED;
            return 0;
        default:
            /* A host signal the stub has no business with: drop it. */
            inject_sig = 0;
            continue;
        }
    }
}

#define NT_X86_XSTATE_NOTE 0x202

static int ptrace_get_fpstate(struct platform_ctx *ctx, struct platform_fpstate *out)
{
    struct iovec iov = {out->bytes, platform_xstate_size()};
    if (ptrace(PTRACE_GETREGSET, ctx->tid, NT_X86_XSTATE_NOTE, &iov) < 0)
        return -errno;
    return 0;
}

static int ptrace_set_fpstate(struct platform_ctx *ctx, const struct platform_fpstate *fp)
{
    struct iovec iov = {(void *)fp->bytes, platform_xstate_size()};
    if (ptrace(PTRACE_SETREGSET, ctx->tid, NT_X86_XSTATE_NOTE, &iov) < 0)
        return -errno;
    return 0;
}

static int ptrace_cputime(struct platform_ctx *ctx, bool process, uint64_t *out_ns)
{
    /* The host's CPU clock of the stub process (clock_getcpuclockid(3)
     * encoding, CPUCLOCK_SCHED). The host refuses per-thread clocks of
     * other processes; a stub runs one app thread, so its process clock
     * is the thread's too. */
    (void)process;
    clockid_t clk = (clockid_t)((~(unsigned)ctx->pid << 3) | 2);
    struct timespec ts;
    if (clock_gettime(clk, &ts) < 0)
        return -errno;
    *out_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    return 0;
}

static void ptrace_interrupt(struct platform_ctx *ctx)
{
    syscall(SYS_tgkill, ctx->pid, ctx->tid, INTERRUPT_SIGNAL);
}

const struct platform_ops g_ptrace_platform = {
    .name = "ptrace",
    .init = ptrace_init,
    .as_new = ptrace_as_new,
    .ctx_new = ptrace_ctx_new,
    .ctx_adopt = ptrace_ctx_adopt,
    .ctx_destroy = ptrace_ctx_destroy,
    .ctx_as = ptrace_ctx_as,
    .map = ptrace_map,
    .unmap = ptrace_unmap,
    .protect = ptrace_protect,
    .ctx_switch = ptrace_switch,
    .ctx_get_fpstate = ptrace_get_fpstate,
    .ctx_set_fpstate = ptrace_set_fpstate,
    .ctx_cputime = ptrace_cputime,
    .ctx_interrupt = ptrace_interrupt,
    .kthread_reset = ptrace_kthread_reset,
};
