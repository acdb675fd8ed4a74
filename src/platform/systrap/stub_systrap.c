/*
 * The systrap stub: the only moat code in a systrap stub process. It is
 * exec'd from a memfd, freestanding, at PLATFORM_STUB_BASE, with the memory
 * file on fd 3 and the memory-file offset of its control pages in argv[1].
 *
 * Two kinds of threads run in it:
 *
 * - The helper (the first thread) never runs app code. It loops in
 *   stub_helper, without a stack, running the host calls the kernel writes
 *   in the request page (read-only here): mmap/munmap/mprotect of the
 *   memory file and clone of new app threads.
 * - App threads. Each starts in stub_thread_entry, sets up its signal stack,
 *   adds the app filter and stops with int3. From then on every syscall the
 *   app makes raises SIGSYS (SECCOMP_RET_TRAP) and every fault its signal;
 *   stub_handler, on the thread's signal stack, publishes the frame in the
 *   thread page, wakes the kernel thread and waits on the futex until the
 *   kernel has written the registers to resume with.
 *
 * The filters. The base filter (all threads) traps every syscall from
 * outside the stub region, kills every non-x86-64 call, and from inside the
 * region allows only: futex WAIT/WAKE on stub-region words, rt_sigreturn,
 * and exit anywhere; at the helper's one syscall instruction: mmap of the
 * memory file (fd 3, MAP_SHARED|MAP_FIXED) or of any other fd but the
 * socket (fd 4) MAP_PRIVATE|MAP_FIXED without PROT_WRITE (host files the
 * kernel passed), recvmsg on the socket (CMSG_CLOEXEC|DONTWAIT), close of any fd
 * but those two, munmap, mprotect and clone (SYSTEM_THREAD_FLAGS only); at
 * the batch's: mmap as at the helper's; sigaltstack, rt_sigprocmask and
 * seccomp in the thread setup code. The app filter, added by every app thread before it runs app
 * code, kills anything from the stub region but futex, rt_sigreturn and
 * exit: an app that jumps into the helper or setup code dies.
 *
 * Code that runs with only the base filter (the helper, a new thread before
 * its app filter) uses no memory the app can write except the new thread's
 * sigaltstack argument: app threads can write every page of the process but
 * the program, the request page and the signal actions page.
 */
#include <stddef.h>
#include <stdint.h>

#include "platform/systrap/systrap_abi.h"

/* Every symbol is local to the stub: no GOT, RIP-relative addressing only
 * (clang would otherwise reach extern labels through GOTPCREL). */
#pragma GCC visibility push(hidden)

#define NR_rt_sigaction   13
#define NR_rt_sigprocmask 14
#define NR_rt_sigreturn   15
#define NR_mmap           9
#define NR_mprotect       10
#define NR_munmap         11
#define NR_clone          56
#define NR_close          3
#define NR_recvmsg        47
#define NR_exit           60
#define NR_sigaltstack    131
#define NR_prctl          157
#define NR_capset         126
#define NR_futex          202
#define NR_seccomp        317

#define PR_SET_NAME             15
#define PR_SET_NO_NEW_PRIVS     38
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#define SECCOMP_RET_TRAP        0x00030000U
#define SECCOMP_RET_ALLOW       0x7fff0000U
#define AUDIT_ARCH_X86_64       0xc000003eU
#define FUTEX_WAIT              0
#define FUTEX_WAKE              1
#define PROT_READ               1
#define PROT_WRITE              2
#define MAP_SHARED              1
#define MAP_PRIVATE             2
#define MSG_CMSG_CLOEXEC        0x40000000
#define MSG_DONTWAIT            0x40
#define MAP_FIXED               0x10
#define SA_SIGINFO              4
#define SA_ONSTACK              0x08000000
#define SA_RESTORER             0x04000000

struct bpf_insn {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};

struct bpf_prog {
    unsigned short len;
    const struct bpf_insn *filter;
};

#define LD_W_ABS 0x20 /* BPF_LD | BPF_W | BPF_ABS */
#define JEQ_K    0x15
#define JGE_K    0x35
#define JGT_K    0x25
#define JSET_K   0x45
#define RET_K    0x06

/* seccomp_data offsets */
#define OFF_NR    0
#define OFF_ARCH  4
#define OFF_IP_LO 8
#define OFF_IP_HI 12
#define OFF_ARG_LO(i) (16 + 8 * (i))
#define OFF_ARG_HI(i) (16 + 8 * (i) + 4)

/* ---- the app filter: constant, in read-only memory ---- */

__attribute__((used)) static const struct bpf_insn g_app_filter[] = {
    /* 0 */ {LD_W_ABS, 0, 0, OFF_IP_HI},
    /* 1 */ {JEQ_K, 0, 8, SYSTRAP_REGION_HI},  /* -> allow (10) */
    /* 2 */ {LD_W_ABS, 0, 0, OFF_IP_LO},
    /* 3 */ {JGE_K, 0, 6, SYSTRAP_REGION_LO},   /* -> allow */
    /* 4 */ {JGE_K, 5, 0, SYSTRAP_REGION_LO_END}, /* -> allow */
    /* 5 */ {LD_W_ABS, 0, 0, OFF_NR},
    /* 6 */ {JEQ_K, 3, 0, NR_futex},
    /* 7 */ {JEQ_K, 2, 0, NR_rt_sigreturn},
    /* 8 */ {JEQ_K, 1, 0, NR_exit},
    /* 9 */ {RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS},
    /* 10 */ {RET_K, 0, 0, SECCOMP_RET_ALLOW}, /* the base filter decides */
};
_Static_assert(sizeof(g_app_filter) / sizeof(g_app_filter[0]) == 11, "g_app_prog length");
__attribute__((used)) static const uint64_t g_empty_mask = 0;
/* Its sock_fprog, written in assembly: a C initializer with a pointer would
 * land in .data.rel.ro, which nothing makes read-only in a static program,
 * and a new thread must not read an app-writable program pointer. */
__asm__(".section .rodata\n"
        ".balign 8\n"
        "g_app_prog:\n"
        "    .short 11\n"
        "    .zero 6\n"
        "    .quad g_app_filter\n"
        ".text\n");

/* ---- the base filter: built once at start, with the code's addresses ---- */

enum {
    L_KILL = 230,
    L_TRAP,
    L_ALLOW,
    L_HELPER,
    L_CLONE,
    L_FUTEX,
    L_SETUP,
    L_MMAP,
    L_MMAP_MEM,
    L_MMAP_FILE,
    L_BATCH,
    L_RECVMSG,
    L_CLOSE,
    L_NEXT = 255
};

static struct bpf_insn g_base[96];
static uint8_t g_base_jt[96], g_base_jf[96];
static int g_base_len;
static int g_label_pos[256];

static void emit(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
    if (g_base_len >= (int)(sizeof(g_base) / sizeof(g_base[0])))
        __builtin_trap();
    g_base[g_base_len].code = code;
    g_base[g_base_len].k = k;
    g_base_jt[g_base_len] = jt;
    g_base_jf[g_base_len] = jf;
    g_base_len++;
}

static void label(int l)
{
    g_label_pos[l] = g_base_len;
}

#define LD(off)            emit(LD_W_ABS, (off), 0, 0)
#define JEQ(k, t, f)       emit(JEQ_K, (k), (t), (f))
#define JGE(k, t, f)       emit(JGE_K, (k), (t), (f))
#define JGT(k, t, f)       emit(JGT_K, (k), (t), (f))
#define JSET(k, t, f)      emit(JSET_K, (k), (t), (f))
#define RET(k)             emit(RET_K, (k), 0, 0)

extern char stub_helper_ret[], stub_helper_batch_ret[], stub_setup_start[], stub_setup_end[];
extern char __bss_start[], _end[];

/* Loads argument I's low word; a high word other than 0 kills. */
static void ld_arg32(int i)
{
    LD(OFF_ARG_HI(i));
    JEQ(0, L_NEXT, L_KILL);
    LD(OFF_ARG_LO(i));
}

static void build_base_filter(void)
{
    LD(OFF_ARCH);
    JEQ(AUDIT_ARCH_X86_64, L_NEXT, L_KILL);
    LD(OFF_IP_HI);
    JEQ(SYSTRAP_REGION_HI, L_NEXT, L_TRAP);
    LD(OFF_IP_LO);
    JGE(SYSTRAP_REGION_LO, L_NEXT, L_TRAP);
    JGE(SYSTRAP_REGION_LO_END, L_TRAP, L_NEXT);
    /* From the stub region. */
    LD(OFF_NR);
    JEQ(NR_futex, L_FUTEX, L_NEXT);
    JEQ(NR_rt_sigreturn, L_ALLOW, L_NEXT);
    JEQ(NR_exit, L_ALLOW, L_NEXT);
    LD(OFF_IP_LO);
    JEQ((uint32_t)(uintptr_t)stub_helper_ret, L_HELPER, L_NEXT);
    JEQ((uint32_t)(uintptr_t)stub_helper_batch_ret, L_BATCH, L_NEXT);
    JGE((uint32_t)(uintptr_t)stub_setup_start, L_NEXT, L_KILL);
    JGT((uint32_t)(uintptr_t)stub_setup_end, L_KILL, L_SETUP);
    label(L_SETUP);
    LD(OFF_NR);
    JEQ(NR_sigaltstack, L_ALLOW, L_NEXT);
    JEQ(NR_rt_sigprocmask, L_ALLOW, L_NEXT);
    JEQ(NR_seccomp, L_ALLOW, L_KILL);
    label(L_HELPER);
    LD(OFF_NR);
    JEQ(NR_munmap, L_ALLOW, L_NEXT);
    JEQ(NR_mprotect, L_ALLOW, L_NEXT);
    JEQ(NR_clone, L_CLONE, L_NEXT);
    JEQ(NR_recvmsg, L_RECVMSG, L_NEXT);
    JEQ(NR_close, L_CLOSE, L_NEXT);
    JEQ(NR_mmap, L_MMAP, L_KILL);
    label(L_BATCH);
    LD(OFF_NR);
    JEQ(NR_mmap, L_MMAP, L_KILL);
    label(L_MMAP);
    ld_arg32(4);
    JEQ(SYSTRAP_MEMFD, L_MMAP_MEM, L_NEXT);
    JEQ(SYSTRAP_SOCKFD, L_KILL, L_MMAP_FILE);
    label(L_MMAP_FILE);
    LD(OFF_ARG_LO(3));
    JEQ(MAP_PRIVATE | MAP_FIXED, L_NEXT, L_KILL);
    LD(OFF_ARG_LO(2));
    JSET(PROT_WRITE, L_KILL, L_ALLOW);
    label(L_MMAP_MEM);
    LD(OFF_ARG_LO(3));
    JEQ(MAP_SHARED | MAP_FIXED, L_ALLOW, L_KILL);
    label(L_RECVMSG);
    ld_arg32(0);
    JEQ(SYSTRAP_SOCKFD, L_NEXT, L_KILL);
    LD(OFF_ARG_LO(2));
    JEQ(MSG_CMSG_CLOEXEC | MSG_DONTWAIT, L_ALLOW, L_KILL);
    label(L_CLOSE);
    ld_arg32(0);
    JEQ(SYSTRAP_MEMFD, L_KILL, L_NEXT);
    JEQ(SYSTRAP_SOCKFD, L_KILL, L_ALLOW);
    label(L_CLONE);
    ld_arg32(0);
    JEQ((uint32_t)SYSTRAP_THREAD_FLAGS, L_ALLOW, L_KILL);
    label(L_FUTEX);
    LD(OFF_ARG_HI(0));
    JEQ(SYSTRAP_REGION_HI, L_NEXT, L_KILL);
    LD(OFF_ARG_LO(0));
    JGE(SYSTRAP_REGION_LO, L_NEXT, L_KILL);
    JGE(SYSTRAP_REGION_LO_END, L_KILL, L_NEXT);
    LD(OFF_ARG_LO(1));
    JEQ(FUTEX_WAIT, L_ALLOW, L_NEXT);
    JEQ(FUTEX_WAKE, L_ALLOW, L_KILL);
    label(L_KILL);
    RET(SECCOMP_RET_KILL_PROCESS);
    label(L_TRAP);
    RET(SECCOMP_RET_TRAP);
    label(L_ALLOW);
    RET(SECCOMP_RET_ALLOW);

    for (int i = 0; i < g_base_len; i++) {
        if (g_base[i].code != JEQ_K && g_base[i].code != JGE_K && g_base[i].code != JGT_K &&
            g_base[i].code != JSET_K)
            continue;
        int t = g_base_jt[i] == L_NEXT ? i + 1 : g_label_pos[g_base_jt[i]];
        int f = g_base_jf[i] == L_NEXT ? i + 1 : g_label_pos[g_base_jf[i]];
        g_base[i].jt = (uint8_t)(t - i - 1);
        g_base[i].jf = (uint8_t)(f - i - 1);
    }
}

/* ---- raw syscalls ---- */

static long sc6(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static void die(void)
{
    for (;;)
        __asm__ volatile("ud2");
}

/* ---- the helper loop and thread setup (no stack, no app-writable data) ---- */

/*
 * stub_helper: r12d = the last request done, rsp = 0. A clone child comes
 * back from the syscall with rsp = its stack (never 0) and goes to thread
 * setup with rbx free to use.
 */
__asm__(".text\n"
        ".globl stub_helper\n"
        "stub_helper:\n"
        "    xor %r12d, %r12d\n"
        "    xor %esp, %esp\n"
        "1:  movabs $" "0x7ffbf0010000" ", %rbx\n"
        "    mov (%rbx), %eax\n"
        "    cmp %eax, %r12d\n"
        "    jne 2f\n"
        "3:  mov %eax, %edx\n"
        "    mov $202, %eax\n"
        "    mov %rbx, %rdi\n"
        "    xor %esi, %esi\n"
        "    xor %r10d, %r10d\n"
        "    syscall\n"
        "    jmp 1b\n"
        "2:  test $1, %al\n"
        "    jnz 3b\n"
        "    mov %eax, %r13d\n"
        "    mov 8(%rbx), %rax\n"
        "    mov 16(%rbx), %rdi\n"
        "    mov 24(%rbx), %rsi\n"
        "    mov 32(%rbx), %rdx\n"
        "    mov 40(%rbx), %r10\n"
        "    mov 48(%rbx), %r8\n"
        "    mov 56(%rbx), %r9\n"
        "    mov (%rbx), %r14d\n"
        "    cmp %r14d, %r13d\n"
        "    jne 1b\n"
        "    cmp $" "0x10000" ", %rax\n"
        "    je 4f\n"
        "    syscall\n"
        ".globl stub_helper_ret\n"
        "stub_helper_ret:\n"
        "    test %rsp, %rsp\n"
        "    jnz stub_thread_entry\n"
        "8:  movabs $" "0x7ffbf0011000" ", %rbx\n"
        "    mov %rax, 8(%rbx)\n"
        "    mov %r13d, (%rbx)\n"
        "    mov $202, %eax\n"
        "    mov %rbx, %rdi\n"
        "    mov $1, %esi\n"
        "    mov $1, %edx\n"
        "    syscall\n"
        "    mov %r13d, %r12d\n"
        "    jmp 1b\n"
        /* A batch of mmaps (SYSTRAP_NR_MAP_BATCH): arg[0] entries from
         * +64 of the request page; the result is 0 or the first failure. */
        "4:  mov %rdi, %r14\n"
        "    cmp $" "120" ", %r14\n"
        "    ja 7f\n"
        "    lea 64(%rbx), %r15\n"
        "5:  test %r14, %r14\n"
        "    jz 6f\n"
        "    mov $9, %eax\n"
        "    mov (%r15), %rdi\n"
        "    mov 8(%r15), %rsi\n"
        "    mov 16(%r15), %rdx\n"          /* prot | (fd + 1) << 32 */
        "    mov %rdx, %r8\n"
        "    shr $32, %r8\n"
        "    mov %edx, %edx\n"
        "    mov $0x11, %r10d\n"            /* MAP_SHARED|MAP_FIXED */
        "    test %r8, %r8\n"
        "    jnz 20f\n"
        "    mov $3, %r8d\n"                /* the memory file */
        "    jmp 21f\n"
        "20: dec %r8\n"                     /* a host file the kernel sent */
        "    mov $0x12, %r10d\n"            /* MAP_PRIVATE|MAP_FIXED */
        "21: mov 24(%r15), %r9\n"
        "    syscall\n"
        ".globl stub_helper_batch_ret\n"
        "stub_helper_batch_ret:\n"
        "    cmp %rdi, %rax\n"
        "    jne 8b\n"
        "    add $32, %r15\n"
        "    dec %r14\n"
        "    jmp 5b\n"
        "6:  xor %eax, %eax\n"
        "    jmp 8b\n"
        "7:  mov $-22, %rax\n"
        "    jmp 8b\n"
        /* A new app thread: rsp = its slot + SYSTRAP_SLOT_PAGE. */
        "stub_thread_entry:\n"
        "    mov %rsp, %rbx\n"
        "    and $-0x8000, %rbx\n"
        "    pushq $0x7000\n"        /* ss_size */
        "    pushq $0\n"             /* ss_flags */
        "    lea 0x1000(%rbx), %rcx\n"
        "    push %rcx\n"            /* ss_sp */
        ".globl stub_setup_start\n"
        "stub_setup_start:\n"
        "    mov %rsp, %rdi\n"
        "    xor %esi, %esi\n"
        "    mov $131, %eax\n"
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jnz 9f\n"
        "    mov $14, %eax\n"
        "    mov $2, %edi\n"
        "    movabs $g_empty_mask, %rsi\n"
        "    xor %edx, %edx\n"
        "    mov $8, %r10d\n"
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jnz 9f\n"
        "    mov $317, %eax\n"
        "    mov $1, %edi\n"
        "    xor %esi, %esi\n"
        "    movabs $g_app_prog, %rdx\n"
        "    syscall\n"
        ".globl stub_setup_end\n"
        "stub_setup_end:\n"
        "    test %rax, %rax\n"
        "    jnz 9f\n"
        /* App filter on: report in with a first trap. */
        "    lea 0x1000(%rbx), %rsp\n"
        "    int3\n"
        "9:  ud2\n"
        "    jmp 9b\n"
        /* The signal restorer. */
        ".globl stub_restorer\n"
        "stub_restorer:\n"
        "    mov $15, %eax\n"
        "    syscall\n"
        "    ud2\n");

/*
 * The syscall trampoline's common part (see "Syscall patching" in
 * systrap.c). A patched site jumps to its trampoline below
 * PLATFORM_APP_MIN, which jumps here with rax = the syscall number, rcx =
 * the return address (site + 7) and r11 free, on the app's stack, with the
 * app's flags, FPU state and everything else live. %gs base is the
 * thread's slot (the kernel sets it so while the app's own is 0).
 *
 * 1. Save the flags and rcx 16 bytes below the red zone (the app stack
 *    takes a signal frame there anyway) and check that gs is a slot; if
 *    not, ud2 at stub_tramp_fallback: the handler turns that into the
 *    syscall trap it stands for.
 * 2. Store every register in the thread page (regs), kind PATCHED, and
 *    publish TRAPPED (stub_tramp_publish: an xchg, seq_cst like the
 *    handler's store), waking the kernel thread if it sleeps.
 * 3. Poll, then sleep, until the kernel answers: RUN (restore every
 *    register it wrote and jump to its rip), EXIT (end the thread) or
 *    CONVERT (ud2 at stub_tramp_convert: the handler then publishes a
 *    signal frame, which the kernel needs to reach the FPU state).
 * Only general registers are used: the FPU state stays the app's. The
 * handler knows these addresses (see stub_handler) for signals arriving
 * in here. Nothing here is trusted by the kernel: an app jumping in with
 * any registers gets at most what it could do with a syscall.
 */
__asm__(".text\n"
        ".globl stub_tramp_entry\n"
        "stub_tramp_entry:\n"
        "    lea -128(%rsp), %rsp\n"
        "    pushfq\n"
        "    push %rcx\n"
        "    rdgsbase %rcx\n"
        "    movabs $0x7ffbf0020000, %r11\n"
        "    sub %r11, %rcx\n"
        "    cmp $0x3fe0000, %rcx\n"
        "    jae 18f\n"
        "    test $0x7fff, %ecx\n"
        "    jnz 18f\n"
        "    cmp $13, %rax\n"             /* rt_sigaction: perhaps a query */
        "    je stub_sa_fast\n"
        ".globl stub_tramp_bail\n"
        "stub_tramp_bail:\n"
        "    rdgsbase %r11\n"
        "    movl $0, 72(%r11)\n"         /* intr_early: this trap reports it */
        "    pop %rcx\n"
        "    popq 264(%r11)\n"            /* rflags */
        "    lea 128(%rsp), %rsp\n"
        "    mov %rsp, 184(%r11)\n"
        "    mov %rcx, 256(%r11)\n"        /* rip */
        "    mov %rax, 128(%r11)\n"
        "    mov %rbx, 136(%r11)\n"
        "    mov %rcx, 144(%r11)\n"
        "    mov %rdx, 152(%r11)\n"
        "    mov %rsi, 160(%r11)\n"
        "    mov %rdi, 168(%r11)\n"
        "    mov %rbp, 176(%r11)\n"
        "    mov %r8, 192(%r11)\n"
        "    mov %r9, 200(%r11)\n"
        "    mov %r10, 208(%r11)\n"
        "    mov %r12, 224(%r11)\n"
        "    mov %r13, 232(%r11)\n"
        "    mov %r14, 240(%r11)\n"
        "    mov %r15, 248(%r11)\n"
        "    rdfsbase %rax\n"
        "    mov %rax, 272(%r11)\n"
        "    mov %r11, %rbx\n"
        "    lea 0x1000(%rbx), %rsp\n"
        "    movl $1, 64(%rbx)\n"          /* kind = PATCHED */
        "    mov $2, %eax\n"               /* TRAPPED */
        ".globl stub_tramp_publish\n"
        "stub_tramp_publish:\n"
        "    xchg %eax, (%rbx)\n"
        "    cmpl $0, 48(%rbx)\n"          /* kwait */
        "    je 11f\n"
        "    mov $202, %eax\n"
        "    mov %rbx, %rdi\n"
        "    mov $1, %esi\n"
        "    mov $1, %edx\n"
        "    syscall\n"
        "11: mov 56(%rbx), %r12\n"         /* spin budget in TSC ticks */
        "    rdtsc\n"
        "    shl $32, %rdx\n"
        "    or %rdx, %rax\n"
        "    mov %rax, %r13\n"
        "12: mov (%rbx), %eax\n"
        "    mov %eax, %r14d\n"            /* the state the futex waits on */
        "    cmp $3, %eax\n"               /* RUN */
        "    je 15f\n"
        "    cmp $4, %eax\n"               /* EXIT */
        "    je 16f\n"
        "    cmp $5, %eax\n"               /* CONVERT */
        "    je 17f\n"
        "    test %r12, %r12\n"
        "    jz 13f\n"
        "    rdtsc\n"
        "    shl $32, %rdx\n"
        "    or %rdx, %rax\n"
        "    sub %r13, %rax\n"
        "    cmp %r12, %rax\n"
        "    jae 13f\n"
        "    pause\n"
        "    jmp 12b\n"
        "13: xor %r12d, %r12d\n"
        "    cmpl $0, 52(%rbx)\n"          /* swait */
        "    jne 14f\n"
        "    mov $1, %ecx\n"
        "    xchg %ecx, 52(%rbx)\n"
        "    jmp 12b\n"
        /* Sleep on the state seen at 12, after swait was set: reading
         * it again here would lose a RUN (and its wake) that came in
         * between, and sleep on RUN for ever. */
        "14: mov %r14d, %edx\n"
        "    mov $202, %eax\n"
        "    mov %rbx, %rdi\n"
        "    xor %esi, %esi\n"
        "    xor %r10d, %r10d\n"
        "    syscall\n"
        "    jmp 12b\n"
        "15: movl $0, 52(%rbx)\n"
        "    cmpl $0, 68(%rbx)\n"         /* intr: see stub_handler */
        "    jne 19f\n"
        "    pushq 264(%rbx)\n"
        "    popfq\n"
        "    mov 128(%rbx), %rax\n"
        "    mov 144(%rbx), %rcx\n"
        "    mov 152(%rbx), %rdx\n"
        "    mov 160(%rbx), %rsi\n"
        "    mov 168(%rbx), %rdi\n"
        "    mov 176(%rbx), %rbp\n"
        "    mov 192(%rbx), %r8\n"
        "    mov 200(%rbx), %r9\n"
        "    mov 208(%rbx), %r10\n"
        "    mov 216(%rbx), %r11\n"
        "    mov 224(%rbx), %r12\n"
        "    mov 232(%rbx), %r13\n"
        "    mov 240(%rbx), %r14\n"
        "    mov 248(%rbx), %r15\n"
        "    mov 184(%rbx), %rsp\n"
        "    mov %gs:136, %rbx\n"
        ".globl stub_tramp_jmp\n"
        "stub_tramp_jmp:\n"
        "    jmp *%gs:256\n"
        "16: mov $60, %eax\n"
        "    xor %edi, %edi\n"
        "    syscall\n"
        "    ud2\n"
        ".globl stub_tramp_convert\n"
        "stub_tramp_convert:\n"
        "17: ud2\n"
        ".globl stub_tramp_intr_clear\n"
        "stub_tramp_intr_clear:\n"
        "19: movl $0, 68(%rbx)\n"
        ".globl stub_tramp_intr\n"
        "stub_tramp_intr:\n"
        "    ud2\n"
        "18: pop %rcx\n"
        "    popfq\n"
        "    lea 128(%rsp), %rsp\n"
        ".globl stub_tramp_fallback\n"
        "stub_tramp_fallback:\n"
        "    ud2\n"
        /* rt_sigaction(sig, NULL, old, 8): old = the published action,
         * rax = 0, straight back to the app. Entered with rax
         * = 13 and the stack as at stub_tramp_bail; until stub_sa_tail
         * only rax, rcx, r11 and flags change (and *old), so the handler
         * sends a fault or interrupt in here to stub_tramp_bail with rax
         * = 13: the kernel answers instead. */
        ".globl stub_sa_fast\n"
        "stub_sa_fast:\n"
        "    rdgsbase %r11\n"
        "    cmpl $0, 72(%r11)\n"         /* intr_early */
        "    jne stub_tramp_bail\n"
        "    test %rsi, %rsi\n"
        "    jnz stub_tramp_bail\n"
        "    cmp $8, %r10\n"
        "    jne stub_tramp_bail\n"
        "    lea -1(%rdi), %ecx\n"        /* the kernel takes sig as an int */
        "    cmp $63, %ecx\n"
        "    ja stub_tramp_bail\n"
        "    test %rdx, %rdx\n"
        "    jz 3f\n"
        /* Nothing that overlaps the stub region: the kernel says EFAULT. */
        "    movabs $-0x7ffbefffffe1, %r11\n"
        "    add %rdx, %r11\n"
        "    cmp $0x400001f, %r11\n"
        "    jb stub_tramp_bail\n"
        "    shl $5, %ecx\n"
        "    movabs $0x7ffbf0012000, %r11\n"
        "    mov (%r11), %eax\n"           /* seq */
        "    test $1, %eax\n"
        "    jnz 4f\n"
        "    test %eax, %eax\n"
        "    jz 4f\n"
        "    add %rcx, %r11\n"
        "    mov 64(%r11), %rcx\n"
        "    mov %rcx, (%rdx)\n"
        "    mov 72(%r11), %rcx\n"
        "    mov %rcx, 8(%rdx)\n"
        "    mov 80(%r11), %rcx\n"
        "    mov %rcx, 16(%rdx)\n"
        "    mov 88(%r11), %rcx\n"
        "    mov %rcx, 24(%rdx)\n"
        "    movabs $0x7ffbf0012000, %r11\n"
        "    cmp (%r11), %eax\n"
        "    je 3f\n"
        "4:  mov $13, %eax\n"             /* eax held seq */
        "    jmp stub_tramp_bail\n"
        "3:  mov 8(%rsp), %r11\n"         /* r11 = the flags, rax = 0, */
        "    xor %eax, %eax\n"            /* as syscall leaves them */
        /* From here the handler completes the return (sa_finish). */
        ".globl stub_sa_tail\n"
        "stub_sa_tail:\n"
        "    pop %rcx\n"                  /* rcx = the return address */
        ".globl stub_sa_popf\n"
        "stub_sa_popf:\n"
        "    popfq\n"
        ".globl stub_sa_lea\n"
        "stub_sa_lea:\n"
        "    lea 128(%rsp), %rsp\n"
        ".globl stub_sa_jmp\n"
        "stub_sa_jmp:\n"
        "    jmp *%rcx\n");

_Static_assert(SYSTRAP_TH_REGS == 128 && SYSTRAP_TH_KIND == 64 && SYSTRAP_TH_INTR == 68 && SYSTRAP_TH_KWAIT == 48 &&
                       SYSTRAP_TH_SWAIT == 52 && SYSTRAP_TH_SPIN == 56 &&
                       SYSTRAP_KIND_PATCHED == 1 && SYSTRAP_TRAPPED == 2 && SYSTRAP_RUN == 3 &&
                       SYSTRAP_EXIT == 4 && SYSTRAP_CONVERT == 5,
               "thread page layout in stub_tramp_entry");
_Static_assert(SYSTRAP_TH_INTR_EARLY == 72 && SYSTRAP_SIGACT_ADDR == 0x7ffbf0012000ULL &&
                       SYSTRAP_SIGACTS_ACT == 64 && sizeof(struct systrap_sigact) == 32 &&
                       PLATFORM_STUB_BASE - 31 == 0x7ffbefffffe1ULL &&
                       PLATFORM_STUB_END - PLATFORM_STUB_BASE + 31 == 0x400001fULL,
               "rt_sigaction answers in stub_sa_fast");
_Static_assert(SYSTRAP_SLOTS_ADDR == 0x7ffbf0020000ULL &&
                       PLATFORM_STUB_END - SYSTRAP_SLOTS_ADDR == 0x3fe0000ULL,
               "slot range in stub_tramp_entry");

_Static_assert(SYSTRAP_REQ_ADDR == 0x7ffbf0010000ULL, "request page address in stub_helper");
_Static_assert(SYSTRAP_RES_ADDR == 0x7ffbf0011000ULL, "result page address in stub_helper");
_Static_assert(SYSTRAP_SLOT_SIZE == 0x8000 && SYSTRAP_SLOT_PAGE == 0x1000, "slot layout in asm");
_Static_assert(SYSTRAP_NR_MAP_BATCH == 0x10000 && SYSTRAP_MAP_BATCH_MAX == 120 &&
                       SYSTRAP_MEMFD == 3 && sizeof(struct systrap_map_ent) == 32 &&
                       __builtin_offsetof(struct systrap_req, ent) == 64,
               "map batches in stub_helper");

/* ---- the signal handler (app threads, on their signal stack) ---- */

struct k_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

struct k_siginfo {
    int32_t signo, err, code, pad;
    uint64_t addr; /* si_addr, or SIGSYS si_call_addr */
    int32_t syscall;
    uint32_t arch;
};

extern char stub_restorer[];
extern char stub_tramp_entry[], stub_tramp_publish[], stub_tramp_jmp[], stub_tramp_fallback[],
        stub_tramp_intr[], stub_tramp_intr_clear[];
extern char stub_tramp_bail[], stub_sa_fast[], stub_sa_tail[], stub_sa_popf[], stub_sa_lea[],
        stub_sa_jmp[];
void stub_handler(int sig, struct k_siginfo *si, struct systrap_ucontext *uc);

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline uint64_t rdfsbase(void)
{
    uint64_t v;
    __asm__ volatile("rdfsbase %0" : "=r"(v));
    return v;
}

static inline uint64_t rdgsbase(void)
{
    uint64_t v;
    __asm__ volatile("rdgsbase %0" : "=r"(v));
    return v;
}

/* The registers the kernel wrote for a patched stop, into the frame the
 * handler returns through. */
static inline void pregs_to_mc(volatile struct systrap_pregs *p, struct systrap_mcontext *mc)
{
    mc->rax = p->rax;
    mc->rbx = p->rbx;
    mc->rcx = p->rcx;
    mc->rdx = p->rdx;
    mc->rsi = p->rsi;
    mc->rdi = p->rdi;
    mc->rbp = p->rbp;
    mc->rsp = p->rsp;
    mc->r8 = p->r8;
    mc->r9 = p->r9;
    mc->r10 = p->r10;
    mc->r11 = p->r11;
    mc->r12 = p->r12;
    mc->r13 = p->r13;
    mc->r14 = p->r14;
    mc->r15 = p->r15;
    mc->rip = p->rip;
    mc->eflags = p->rflags;
}

/* A signal in stub_sa_fast's return path (at RIP): the rest of that
 * path, done on the frame MC, so the thread stops where the app resumes. */
static void sa_finish(struct systrap_mcontext *mc, uint64_t rip)
{
    const volatile uint64_t *sp = (const volatile uint64_t *)mc->rsp;
    if (rip == (uintptr_t)stub_sa_tail) {
        mc->rcx = sp[0];
        mc->eflags = sp[1];
        mc->rsp += 16 + 128;
    } else if (rip == (uintptr_t)stub_sa_popf) {
        mc->eflags = sp[0];
        mc->rsp += 8 + 128;
    } else if (rip == (uintptr_t)stub_sa_lea) {
        mc->rsp += 128;
    }
    mc->rip = mc->rcx;
}

void stub_handler(int sig, struct k_siginfo *si, struct systrap_ucontext *uc)
{
    uintptr_t slot = (uintptr_t)__builtin_frame_address(0) & ~(uintptr_t)(SYSTRAP_SLOT_SIZE - 1);
    if (slot < SYSTRAP_SLOTS_ADDR || slot >= PLATFORM_STUB_END)
        die();
    volatile struct systrap_thread *th = (volatile struct systrap_thread *)slot;
    uint64_t rip = uc->mc.rip;
    int32_t code = si->code, nr = si->syscall;
    uint64_t addr = si->addr;
    if (rip >= (uintptr_t)stub_sa_fast && rip < (uintptr_t)stub_sa_tail) {
        /* A fault copying an rt_sigaction answer out, or an interrupt
         * before it is given: the kernel answers instead. */
        uc->mc.rip = (uintptr_t)stub_tramp_bail;
        uc->mc.rax = 13;
        return;
    }
    if (rip >= (uintptr_t)stub_sa_tail && rip <= (uintptr_t)stub_sa_jmp) {
        /* The answer is given: stop where the app resumes. */
        sa_finish(&uc->mc, rip);
        sig = SYSTRAP_SIG_INTERRUPT;
        code = 0;
        nr = 0;
        addr = 0;
    } else if (((rip >= (uintptr_t)stub_tramp_entry && rip <= (uintptr_t)stub_tramp_jmp) ||
                (rip >= (uintptr_t)stub_tramp_intr_clear && rip <= (uintptr_t)stub_tramp_intr)) &&
               sig == SYSTRAP_SIG_INTERRUPT) {
        /* The kernel's interrupt, in the trampoline. Before the trap is
         * published, and while the kernel has it (TRAPPED), it is moot: the
         * kernel looks at signals before it answers. Once it answered
         * (RUN), the thread is on its way back: stop it where it lands,
         * with the registers the kernel wrote. */
        uint32_t s = __atomic_load_n(&th->state, __ATOMIC_ACQUIRE);
        if (s == SYSTRAP_EXIT)
            sc6(NR_exit, 0, 0, 0, 0, 0, 0);
        if (rip <= (uintptr_t)stub_tramp_publish) {
            /* ... unless the trampoline answers an rt_sigaction itself:
             * it does not once this is set (stub_tramp_bail clears it). */
            __atomic_store_n(&th->intr_early, 1, __ATOMIC_RELAXED);
            return;
        }
        if (s == SYSTRAP_TRAPPED || s == SYSTRAP_CONVERT) {
            /* The kernel has the trap and may have looked at signals
             * already: stop once it answers (the trampoline's return
             * path, or this handler's, checks intr). */
            __atomic_store_n(&th->intr, 1, __ATOMIC_RELAXED);
            return;
        }
        if (s == SYSTRAP_RUN) {
            __atomic_store_n(&th->intr, 0, __ATOMIC_RELAXED);
            pregs_to_mc(&th->regs, &uc->mc);
        }
    } else if (rip == (uintptr_t)stub_tramp_intr && sig == 4 /* SIGILL */) {
        /* The trampoline's return path found an interrupt that arrived
         * while the kernel had the trap: stop where it would land. */
        pregs_to_mc(&th->regs, &uc->mc);
        sig = SYSTRAP_SIG_INTERRUPT;
        code = 0;
    } else if (rip == (uintptr_t)stub_tramp_fallback && sig == 4 /* SIGILL */) {
        /* %gs was not a slot: the syscall the trampoline stands for, as
         * the seccomp trap would have reported it (rcx = return address,
         * r11 = flags). */
        uc->mc.rip = uc->mc.rcx;
        uc->mc.r11 = uc->mc.eflags;
        sig = 31; /* SIGSYS */
        code = 1; /* SYS_SECCOMP */
        nr = (int32_t)uc->mc.rax;
        addr = uc->mc.rip;
    }
    th->kind = SYSTRAP_KIND_FRAME;
    th->signo = (uint32_t)sig;
    th->code = code;
    th->addr = addr;
    th->nr = nr;
    th->uc = (uint64_t)(uintptr_t)uc;
    th->fs_base = rdfsbase();
    th->gs_base = rdgsbase();
again:
    /* Dekker with the kernel's wait_state: TRAPPED before kwait is read,
     * its kwait before it reads state (both seq_cst). */
    __atomic_store_n(&th->state, SYSTRAP_TRAPPED, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&th->kwait, __ATOMIC_SEQ_CST))
        sc6(NR_futex, (long)&th->state, FUTEX_WAKE, 1, 0, 0, 0);
    /* Poll for the reply first when the kernel asked (its thread runs on
     * another CPU), then sleep, saying so in swait. */
    uint64_t budget = th->spin_tsc, t0 = budget ? rdtsc() : 0;
    for (;;) {
        uint32_t s = __atomic_load_n(&th->state, __ATOMIC_ACQUIRE);
        if (s == SYSTRAP_RUN)
            break;
        if (s == SYSTRAP_EXIT)
            sc6(NR_exit, 0, 0, 0, 0, 0, 0);
        if (budget && rdtsc() - t0 < budget) {
            __builtin_ia32_pause();
            continue;
        }
        if (!__atomic_load_n(&th->swait, __ATOMIC_RELAXED)) {
            __atomic_store_n(&th->swait, 1, __ATOMIC_SEQ_CST);
            continue; /* look at state once more before sleeping */
        }
        sc6(NR_futex, (long)&th->state, FUTEX_WAIT, s, 0, 0, 0);
    }
    __atomic_store_n(&th->swait, 0, __ATOMIC_RELAXED);
    if (__atomic_load_n(&th->intr, __ATOMIC_RELAXED)) {
        /* An interrupt came while the kernel had a patched trap that it
         * then converted to this frame: stop again, where the app would
         * resume (the frame and fs/gs bases hold what the kernel wrote). */
        __atomic_store_n(&th->intr, 0, __ATOMIC_RELAXED);
        th->kind = SYSTRAP_KIND_FRAME;
        th->signo = SYSTRAP_SIG_INTERRUPT;
        th->code = 0;
        th->addr = 0;
        th->nr = 0;
        goto again;
    }
    uint64_t fs = th->fs_base, gs = th->gs_base;
    __asm__ volatile("wrfsbase %0" ::"r"(fs));
    __asm__ volatile("wrgsbase %0" ::"r"(gs));
    /* Whatever a forged rt_sigreturn left, the app runs with nothing
     * blocked and this thread's signal stack. */
    uc->sigmask = 0;
    uc->ss_sp = slot + SYSTRAP_SLOT_PAGE;
    uc->ss_flags = 0;
    uc->ss_size = SYSTRAP_SLOT_SIZE - SYSTRAP_SLOT_PAGE;
}

/* ---- start-up (before any app code exists) ---- */

static const int g_trap_signals[] = {31 /* SYS */, 11 /* SEGV */, 7 /* BUS */, 8 /* FPE */,
                                     4 /* ILL */,  5 /* TRAP */, SYSTRAP_SIG_INTERRUPT};

void stub_main(uint64_t *sp) __attribute__((noreturn, used));
void stub_main(uint64_t *sp)
{
    static const char name[16] = "moat-stub";
    char **argv = (char **)(sp + 1);
    if (sp[0] < 2)
        die();
    uint64_t off = 0;
    for (const char *p = argv[1]; *p; p++) {
        int d = *p >= 'a' ? *p - 'a' + 10 : *p - '0';
        off = off * 16 + (uint64_t)d;
    }
    uint64_t all = ~0ULL;
    sc6(NR_rt_sigprocmask, 2, (long)&all, 0, 8, 0, 0);
    sc6(NR_prctl, PR_SET_NAME, (long)name, 0, 0, 0, 0);
    if (sc6(NR_mmap, (long)SYSTRAP_REQ_ADDR, 0x1000, PROT_READ, MAP_SHARED | MAP_FIXED,
            SYSTRAP_MEMFD, (long)off) != (long)SYSTRAP_REQ_ADDR)
        die();
    if (sc6(NR_mmap, (long)SYSTRAP_RES_ADDR, 0x1000, PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_FIXED, SYSTRAP_MEMFD, (long)(off + 0x1000)) != (long)SYSTRAP_RES_ADDR)
        die();
    if (sc6(NR_mmap, (long)SYSTRAP_SIGACT_ADDR, 0x1000, PROT_READ, MAP_SHARED | MAP_FIXED,
            SYSTRAP_MEMFD, (long)(off + 0x2000)) != (long)SYSTRAP_SIGACT_ADDR)
        die();
    struct k_sigaction sa = {(void *)stub_handler, SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
                             (void *)stub_restorer, ~0ULL};
    for (size_t i = 0; i < sizeof(g_trap_signals) / sizeof(g_trap_signals[0]); i++)
        if (sc6(NR_rt_sigaction, g_trap_signals[i], (long)&sa, 0, 8, 0, 0) != 0)
            die();
    build_base_filter();
    /* The program's only writable pages (.bss: the filter being built)
     * become read-only: app code finds nothing in the program it could
     * write, so nothing it leaves there reaches the next process when the
     * kernel recycles this stub. seccomp() only reads the filter. */
    uintptr_t bss = (uintptr_t)__bss_start & ~(uintptr_t)0xfff;
    uintptr_t bss_end = ((uintptr_t)_end + 0xfff) & ~(uintptr_t)0xfff;
    if (bss_end > bss && sc6(NR_mprotect, (long)bss, (long)(bss_end - bss), PROT_READ, 0, 0, 0) != 0)
        die();
    struct bpf_prog prog = {(unsigned short)g_base_len, g_base};
    /* No capability at all: a root exec got the kernel's bounding set. */
    uint32_t cap_hdr[2] = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
    uint32_t cap_data[6] = {0};
    if (sc6(NR_capset, (long)cap_hdr, (long)cap_data, 0, 0, 0, 0) != 0 ||
        sc6(NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) != 0 ||
        sc6(NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0, 0) != 0)
        die();
    volatile struct systrap_res *res = (volatile struct systrap_res *)SYSTRAP_RES_ADDR;
    __atomic_store_n(&res->ready, SYSTRAP_READY, __ATOMIC_RELEASE);
    sc6(NR_futex, (long)&res->ready, FUTEX_WAKE, 1, 0, 0, 0);
    /* The kernel unmaps everything outside the stub region, this stack
     * included, through the helper. */
    __asm__ volatile("jmp stub_helper");
    __builtin_unreachable();
}

__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call stub_main\n"
        "    ud2\n");
