/*
 * What the systrap stub and the kernel side share: the layout of the stub
 * region and of the pages both map. Included by the freestanding stub, so
 * only constants and plain structs.
 *
 * Stub region ([PLATFORM_STUB_BASE, PLATFORM_STUB_END)):
 *
 *   +0x00000  the stub program (text, rodata, data), at most 64 KiB
 *   +0x10000  request page: read-only in the stub, written by the kernel
 *   +0x11000  result page: written by the stub's helper thread
 *   +0x12000  signal actions page: read-only in the stub, written by the
 *             kernel (struct systrap_sigacts)
 *   +0x20000  thread slots, SYSTRAP_SLOT_SIZE each: a thread page
 *             (struct systrap_thread, then the setup stack at its top)
 *             and the thread's signal stack
 *
 * Everything but the program and the request page is writable by app code
 * (it shares the address space), so the kernel treats every value it reads
 * there as hostile.
 */
#ifndef MOAT_PLATFORM_SYSTRAP_ABI_H
#define MOAT_PLATFORM_SYSTRAP_ABI_H

#include <stdint.h>

#include "platform/platform.h"

#define SYSTRAP_PROG_MAX    0x10000ULL
#define SYSTRAP_CTL_ADDR    (PLATFORM_STUB_BASE + 0x10000ULL)
#define SYSTRAP_REQ_ADDR    SYSTRAP_CTL_ADDR
#define SYSTRAP_RES_ADDR    (SYSTRAP_CTL_ADDR + 0x1000ULL)
#define SYSTRAP_SIGACT_ADDR (SYSTRAP_CTL_ADDR + 0x2000ULL)
#define SYSTRAP_CTL_SIZE    0x3000ULL
#define SYSTRAP_SLOTS_ADDR  (PLATFORM_STUB_BASE + 0x20000ULL)
#define SYSTRAP_SLOT_SIZE   0x8000ULL
#define SYSTRAP_SLOT_PAGE   0x1000ULL /* the thread page; the signal stack follows */
#define SYSTRAP_NSLOTS      ((PLATFORM_STUB_END - SYSTRAP_SLOTS_ADDR) / SYSTRAP_SLOT_SIZE)

/* The stub region lies in one 4 GiB-aligned window, so a seccomp filter
 * recognises its addresses from the high and low words. */
#define SYSTRAP_REGION_HI   ((uint32_t)(PLATFORM_STUB_BASE >> 32))
#define SYSTRAP_REGION_LO   ((uint32_t)PLATFORM_STUB_BASE)
#define SYSTRAP_REGION_LO_END ((uint32_t)PLATFORM_STUB_END)
_Static_assert((PLATFORM_STUB_BASE >> 32) == ((PLATFORM_STUB_END - 1) >> 32), "one window");
_Static_assert((uint32_t)PLATFORM_STUB_END > (uint32_t)PLATFORM_STUB_BASE, "no wrap");
_Static_assert((SYSTRAP_SLOTS_ADDR & (SYSTRAP_SLOT_SIZE - 1)) == 0, "slots aligned");

/* The memory file's descriptor in the stub. */
#define SYSTRAP_MEMFD 3
/* The stub's end of a unix socket pair: the kernel passes it the host
 * files it maps privately (systrap_map_file), one at a time, SCM_RIGHTS;
 * the helper receives each (recvmsg), maps it and closes it again. */
#define SYSTRAP_SOCKFD 4
/* Where in the result page the helper's recvmsg finds its msghdr (the
 * kernel writes it before the call; app code may change it, so the kernel
 * checks what comes back). */
#define SYSTRAP_RES_MSG_OFF 0x800

/* The signal the kernel interrupts a running app thread with. */
#define SYSTRAP_SIG_INTERRUPT 10 /* SIGUSR1 */

/* clone flags of an app thread made by the helper (the only clone the
 * filter allows): VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|CHILD_CLEARTID. */
#define SYSTRAP_THREAD_FLAGS 0x250f00ULL

/* The request page: one host call for the helper thread. The kernel makes
 * seq odd, writes the call, makes seq even again and wakes seq; the helper
 * runs a call whose seq it read unchanged around it. */
struct systrap_map_ent {
    /* mmap(addr, len, prot, MAP_SHARED|MAP_FIXED, memfd, off), or with
     * (fd + 1) << 32 in prot: mmap(..., MAP_PRIVATE|MAP_FIXED, fd, off) of
     * a host file the stub holds (map_file). */
    uint64_t addr, len, prot, off;
};

/* nr SYSTRAP_NR_MAP_BATCH: arg[0] (at most SYSTRAP_MAP_BATCH_MAX) memory
 * file mappings from ent[], in order, stopping at the first that fails;
 * the result is 0 or that failure. One helper round trip maps a whole new
 * address space (fork, exec). */
#define SYSTRAP_NR_MAP_BATCH  0x10000ULL
#define SYSTRAP_MAP_BATCH_MAX 120

struct systrap_req {
    uint32_t seq;
    uint32_t pad;
    uint64_t nr;
    uint64_t arg[6];
    struct systrap_map_ent ent[SYSTRAP_MAP_BATCH_MAX];
};
_Static_assert(sizeof(struct systrap_req) <= 0x1000, "one request page");

/* The result page. ready is SYSTRAP_READY once the helper serves requests;
 * seq is the last request done, with its return value in ret. */
struct systrap_res {
    uint32_t seq;
    uint32_t ready;
    int64_t ret;
};
#define SYSTRAP_READY 0x53545250U

/* The signal actions page: the actions of the one thread group running in
 * the address space, in the layout rt_sigaction returns them, for the
 * trampoline to answer queries (rt_sigaction(sig, NULL, old, 8)) without
 * the kernel. A seqlock: the kernel makes seq odd, writes, makes it even;
 * the trampoline copies an entry out and answers only if seq was even,
 * not 0 (nothing published, or withdrawn), and unchanged around the copy. */
struct systrap_sigact {
    uint64_t handler, flags, restorer, mask;
};
struct systrap_sigacts {
    uint32_t seq;
    uint32_t pad[15];
    struct systrap_sigact act[64]; /* index = signo - 1 */
};
#define SYSTRAP_SIGACTS_ACT 64
_Static_assert(__builtin_offsetof(struct systrap_sigacts, act) == SYSTRAP_SIGACTS_ACT, "act");
_Static_assert(sizeof(struct systrap_sigacts) <= 0x1000, "one page");

/* Thread states (the state word is also the thread's clear_child_tid: the
 * host zeroes it and wakes it when the thread exits). */
enum systrap_state {
    SYSTRAP_DEAD = 0,
    SYSTRAP_STARTING = 1,
    SYSTRAP_TRAPPED = 2, /* stub -> kernel: a signal frame is ready */
    SYSTRAP_RUN = 3,     /* kernel -> stub: return into the app */
    SYSTRAP_EXIT = 4,    /* kernel -> stub: end the thread */
    SYSTRAP_CONVERT = 5, /* kernel -> trampoline: stop again with a signal frame */
    SYSTRAP_STATE_MAX,
};

/* What stopped a TRAPPED thread (kind): its signal handler, with a frame
 * (uc), or the syscall trampoline, with the registers in regs. */
enum systrap_kind {
    SYSTRAP_KIND_FRAME = 0,
    SYSTRAP_KIND_PATCHED = 1,
};

/* Registers the trampoline saves at a patched syscall and restores on the
 * way back (written by the kernel then). */
struct systrap_pregs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags, fs_base;
};

/*
 * Syscall patching (see systrap.c). Trampolines: TRAMP_SIZE bytes each in
 * [SYSTRAP_TRAMP_ADDR, PLATFORM_APP_MIN), below anything an app can map:
 *   +0  the site's first instruction (5 bytes: mov $nr,%eax or
 *       mov 8(%rsp),%r9)
 *   +5  movabs $site+7, %rcx      (the raw entry: rax already holds nr)
 *   +15 movabs $stub_tramp_entry, %r11
 *   +25 jmp *%r11
 *   +28 int3 x 4
 */
#define SYSTRAP_TRAMP_ADDR 0x1000ULL
#define SYSTRAP_TRAMP_SIZE 32
#define SYSTRAP_TRAMP_LEN  (PLATFORM_APP_MIN - SYSTRAP_TRAMP_ADDR)
#define SYSTRAP_TRAMP_MAX  (SYSTRAP_TRAMP_LEN / SYSTRAP_TRAMP_SIZE)
#define SYSTRAP_TRAMP_RAW  5

/* The thread page, at the start of each slot. */
struct systrap_thread {
    uint32_t state;
    uint32_t signo;
    int32_t code;
    int32_t nr; /* SIGSYS: the syscall number */
    uint64_t addr;
    uint64_t uc;      /* stub address of the signal frame's ucontext */
    uint64_t fs_base; /* both ways: the app thread's fs/gs base */
    uint64_t gs_base;
    uint32_t kwait;   /* the kernel thread sleeps (or is about to) on state: wake it */
    uint32_t swait;   /* the handler sleeps (or is about to) on state: wake it */
    uint64_t spin_tsc; /* kernel -> stub: TSC ticks to poll state before FUTEX_WAIT */
    uint32_t kind;     /* stub -> kernel: enum systrap_kind of a TRAPPED stop */
    uint32_t intr;     /* stub only: an interrupt to report once the kernel answers */
    uint32_t intr_early; /* stub only: an interrupt came before the trampoline decided
                          * whether to trap: it must trap (no rt_sigaction answer) */
    uint32_t pad1;
    uint64_t pad2[6];
    struct systrap_pregs regs; /* KIND_PATCHED: the app's registers, both ways */
};
/* Offsets the trampoline code (stub_systrap.c, assembly) uses. */
#define SYSTRAP_TH_KWAIT 48
#define SYSTRAP_TH_SWAIT 52
#define SYSTRAP_TH_SPIN  56
#define SYSTRAP_TH_KIND  64
#define SYSTRAP_TH_INTR  68
#define SYSTRAP_TH_INTR_EARLY 72
#define SYSTRAP_TH_REGS  128
_Static_assert(__builtin_offsetof(struct systrap_thread, kwait) == SYSTRAP_TH_KWAIT, "kwait");
_Static_assert(__builtin_offsetof(struct systrap_thread, swait) == SYSTRAP_TH_SWAIT, "swait");
_Static_assert(__builtin_offsetof(struct systrap_thread, spin_tsc) == SYSTRAP_TH_SPIN, "spin");
_Static_assert(__builtin_offsetof(struct systrap_thread, kind) == SYSTRAP_TH_KIND, "kind");
_Static_assert(__builtin_offsetof(struct systrap_thread, intr) == SYSTRAP_TH_INTR, "intr");
_Static_assert(__builtin_offsetof(struct systrap_thread, intr_early) == SYSTRAP_TH_INTR_EARLY,
               "intr_early");
_Static_assert(__builtin_offsetof(struct systrap_thread, regs) == SYSTRAP_TH_REGS, "regs");
_Static_assert(sizeof(struct systrap_pregs) == 19 * 8, "pregs");

/* x86-64 signal frame pieces (the host's struct ucontext / sigcontext). */
struct systrap_mcontext {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2, fpstate;
    uint64_t reserved[8];
};

struct systrap_ucontext {
    uint64_t flags;
    uint64_t link;
    uint64_t ss_sp;
    int32_t ss_flags;
    int32_t ss_pad;
    uint64_t ss_size;
    struct systrap_mcontext mc;
    uint64_t sigmask;
};
_Static_assert(sizeof(struct systrap_mcontext) == 256, "sigcontext");
_Static_assert(__builtin_offsetof(struct systrap_ucontext, sigmask) == 296, "ucontext");

#endif
