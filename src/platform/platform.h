/*
 * The platform: how moat runs application code and learns about its
 * syscalls, faults and signals. The kernel never knows which backend runs.
 *
 * An address space (struct platform_as) is a host stub process whose memory
 * is built only from ranges of the kernel's memory file. A context (struct
 * platform_ctx) is one application thread inside it.
 *
 * Threading rule: a context is switched and destroyed by one kernel thread
 * only (its owner). map/unmap/protect on an address space are called by a
 * kernel thread that owns a context in that address space (ptrace must
 * inject the host call through a thread it traces). An address space lives
 * until its last context is destroyed.
 */
#ifndef MOAT_PLATFORM_PLATFORM_H
#define MOAT_PLATFORM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* General-purpose registers, in the order of the host's user_regs_struct. */
struct platform_regs {
    uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
    uint64_t rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
    uint64_t fs_base, gs_base, ds, es, fs, gs;
};

/* The extended FPU state (xsave layout: the 512-byte FXSAVE area, the
 * xsave header, then AVX and later components), as large as the host's
 * enabled features need (platform_xstate_size()). */
#define PLATFORM_XSTATE_MAX 8192
struct platform_fpstate {
    uint8_t bytes[PLATFORM_XSTATE_MAX];
} __attribute__((aligned(64)));

enum platform_event {
    PLATFORM_EV_SYSCALL,     /* the app made a syscall; regs.orig_rax is its number */
    PLATFORM_EV_FAULT,       /* a synchronous fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) */
    PLATFORM_EV_INTERRUPTED, /* platform_interrupt() stopped the context */
    PLATFORM_EV_MAX,
};

struct platform_trap {
    enum platform_event ev;
    int signo;      /* FAULT: the host signal the fault raised */
    int code;       /* FAULT: its si_code */
    uint64_t addr;  /* FAULT: its si_addr */
    int trapno;     /* FAULT: hardware trap number where known, else -1 */
    bool patchable; /* SYSCALL: its site may be worth patching (ops patch_site) */
};

struct platform_as;
struct platform_ctx;

/* A patched syscall site: where, its trampoline and the first 5 bytes it
 * had (the 7 were those and `syscall`, 0f 05). */
struct platform_patch {
    uint64_t site, tramp;
    uint8_t insn[5];
};

/* The 7 bytes a site patched to trampoline TRAMP holds: `mov $TRAMP,%ecx;
 * jmp *%rcx` (trampolines live below 4 GiB). */
static inline void platform_patch_bytes(uint64_t tramp, uint8_t out[7])
{
    uint32_t t32 = (uint32_t)tramp;
    out[0] = 0xb9;
    memcpy(out + 1, &t32, 4);
    out[5] = 0xff;
    out[6] = 0xe1;
}

struct platform_ops {
    const char *name;
    /* Once per kernel process. MEMFD is the memory file. 0 or -errno. */
    int (*init)(int memfd);
    /* Optional: once the kernel process is confined (no capabilities, its
     * seccomp filter on), before the first as_new. Threads that fork stubs
     * start here: capabilities are per thread, so a thread made before
     * confinement would keep them and hand them to every stub it forks.
     * 0 or -errno. */
    int (*start)(void);
    /* A new, empty address space. The calling kernel thread becomes the owner
     * of its first context, returned in out_ctx. 0 or -errno. */
    int (*as_new)(struct platform_as **out_as, struct platform_ctx **out_ctx);
    /* Another context in FROM's address space (a thread, or a CLONE_VM
     * process), starting with FROM's FPU state. The caller owns FROM; the
     * new context belongs to nobody until ctx_adopt(). 0 or -errno. */
    int (*ctx_new)(struct platform_ctx *from, struct platform_ctx **out);
    /* Makes the calling kernel thread the owner of CTX (once, before its
     * first switch). 0 or -errno. */
    int (*ctx_adopt)(struct platform_ctx *ctx);
    /* Destroys CTX (called by its owner, or by anyone for a context never
     * adopted); its address space goes with its last context. */
    void (*ctx_destroy)(struct platform_ctx *ctx);
    /* The address space CTX runs in. */
    struct platform_as *(*ctx_as)(struct platform_ctx *ctx);
    /* Maps [addr, addr+len) to the memory file at FILE_OFF with PROT (PROT_*),
     * replacing whatever was there. 0 or -errno. */
    int (*map)(struct platform_as *as, uint64_t addr, uint64_t len, int prot, uint64_t file_off);
    /* Maps [addr, addr+len) privately to the host file HOST_FD (the
     * kernel's descriptor; the stub gets its own) at FILE_OFF, with PROT
     * (never PROT_WRITE), replacing whatever was there: the app then reads
     * the host's cached pages of a file that does not change, with no copy
     * in the memory file. NULL where the platform cannot; -errno, and the
     * caller maps the memory file instead. */
    int (*map_file)(struct platform_as *as, uint64_t addr, uint64_t len, int prot, int host_fd,
                    uint64_t file_off);
    int (*unmap)(struct platform_as *as, uint64_t addr, uint64_t len);
    int (*protect)(struct platform_as *as, uint64_t addr, uint64_t len, int prot);
    /* Runs CTX with REGS (and FP state if fp_dirty) until it traps; on return
     * REGS hold the app's registers and OUT what happened. 0 or -errno (the
     * stub died: the caller ends the task). */
    int (*ctx_switch)(struct platform_ctx *ctx, struct platform_regs *regs,
                      struct platform_trap *out);
    /* Reads or writes the FPU state of a stopped context, in xsave layout,
     * platform_xstate_size() bytes. Writing validates the state (a bad
     * xsave header is -EINVAL). 0 or -errno. */
    int (*ctx_get_fpstate)(struct platform_ctx *ctx, struct platform_fpstate *out);
    int (*ctx_set_fpstate)(struct platform_ctx *ctx, const struct platform_fpstate *fp);
    /* CPU time the app thread (or its whole stub process, PROCESS) used on
     * the host, in ns. 0 or -errno. */
    int (*ctx_cputime)(struct platform_ctx *ctx, bool process, uint64_t *out_ns);
    /* From any thread: makes a running ctx_switch() return INTERRUPTED soon.
     * Harmless if the context is not running. */
    void (*ctx_interrupt)(struct platform_ctx *ctx);
    /* Optional: the calling kernel thread, whose task ended, starts
     * another (kernel threads are reused): forget what was per thread. */
    void (*kthread_reset)(void);

    /* Syscall patching (optional: NULL where the platform has none). A
     * patch rewrites the 7 bytes of a syscall site (ending at the address
     * after its `syscall`) into `mov $T,%ecx; jmp *%rcx`, T a trampoline of
     * the platform's; the kernel checks and writes the text (mm_patch_text).
     * patch_site: the trampoline for SITE, whose first 5 bytes INSN the
     * trampoline runs first; CTX must be the only context of its address
     * space (else -EBUSY). 0 and *out_tramp, or -errno (no patching). */
    int (*patch_site)(struct platform_ctx *ctx, uint64_t site, const uint8_t insn[5],
                      uint64_t *out_tramp);
    /* SITE is not to be patched: later traps there are not patchable. */
    void (*patch_refuse)(struct platform_ctx *ctx, uint64_t site);
    /* A trampoline AS's fork family holds for SITE (any), or 0. */
    uint64_t (*patch_lookup)(struct platform_as *as, uint64_t site);
    /* The patched sites of AS's fork family in [LO, HI): fills up to MAX of
     * OUT and returns how many there are (more than MAX: call again with
     * room for them all). */
    size_t (*patch_sites)(struct platform_as *as, uint64_t lo, uint64_t hi,
                          struct platform_patch *out, size_t max);
    /* The trampolines of AS's fork family, a counted reference (NULL if
     * none), for the child of a fork, whose text holds the same patches;
     * patch_family_set gives them to the child's address space (mapping
     * them; it takes its own reference); patch_family_put drops one. */
    void *(*patch_family_get)(struct platform_as *as);
    int (*patch_family_set)(struct platform_as *as, void *fam);
    void (*patch_family_put)(void *fam);

    /* Optional: lets the platform answer rt_sigaction queries without a
     * trap. Before each resume of CTX the kernel passes the signal actions
     * of its thread group (ACTS: LINUX_NSIG of them, as rt_sigaction
     * returns them), OWNER, which names that set of actions (shared by
     * CLONE_SIGHAND), and GEN, which changes whenever they do (both unique
     * in the kernel's lifetime); the caller holds their lock. The
     * platform publishes them in CTX's address space when GEN is new
     * there; once a second OWNER runs in it (CLONE_VM without
     * CLONE_SIGHAND) it withdraws them for good: every query traps. */
    void (*sigactions_sync)(struct platform_ctx *ctx, uint64_t owner, uint64_t gen,
                            const void *acts);
};

/* Lowest and highest+1 address an app may map. The stub's own code and data
 * live in [PLATFORM_STUB_BASE, PLATFORM_STUB_END), which apps can never map:
 * the stub program in its first 64 KiB, then (systrap) the per-thread pages
 * and signal stacks, 32 KiB per app thread. */
#define PLATFORM_APP_MIN   0x10000ULL
#define PLATFORM_APP_MAX   0x7ffffffff000ULL
#define PLATFORM_STUB_BASE 0x7ffbf0000000ULL
#define PLATFORM_STUB_END  (PLATFORM_STUB_BASE + 0x4000000ULL)

extern const struct platform_ops *g_platform;

/* Bytes of xsave state for the host's enabled features (CPUID 0xD), at
 * least 512 and at most PLATFORM_XSTATE_MAX. */
uint32_t platform_xstate_size(void);
/* The xsave feature mask the host enables (XCR0). */
uint64_t platform_xfeatures(void);

/* Selects a backend by name ("systrap", "ptrace"); NULL picks the default
 * (MOAT_PLATFORM, else systrap). NULL for an unknown name. */
const struct platform_ops *platform_lookup(const char *name);

/* Looks up NAME (as platform_lookup) and starts it (init) as g_platform.
 * When no platform was named (neither NAME nor MOAT_PLATFORM) and the
 * default cannot run on this host (systrap needs FSGSBASE and seccomp
 * traps), ptrace is started instead. 0, -ENOENT for an unknown name, or
 * -errno; *out_failed is the name of the platform started or tried. */
int platform_start(const char *name, int memfd, const char **out_failed);

/* Runs g_platform's start op, once the kernel process is confined. */
int platform_confined(void);

/* Set before platform_start: no syscall patching (`--no-syscall-patch`;
 * MOAT_SYSTRAP_PATCH=0 does the same). */
extern bool g_platform_no_patch;

/* Why the last init failed, in words ("" if it did not say). */
extern char g_platform_why[160];

#endif
