/*
 * The stub: the only moat code inside a stub process. It is exec'd from a
 * memfd, freestanding, at PLATFORM_STUB_BASE. It sets no_new_privs, installs
 * the stub seccomp filter and stops with int3; from then on the kernel drives
 * it: app code runs in it, and the kernel injects mmap/munmap/mprotect through
 * stub_gadget (the only place a host syscall may come from).
 *
 * The filter kills the whole stub on any syscall that does not come from
 * stub_gadget, on any non-x86-64 or x32 call, on an mmap of any fd but the
 * memory file (fd 3), and on a clone other than a CLONE_VM sibling stub. Under the ptrace platform app syscalls never reach
 * the filter (PTRACE_SYSEMU skips them); the filter is the second wall.
 */
#include <stddef.h>
#include <stdint.h>

#define NR_mmap     9
#define NR_mprotect 10
#define NR_munmap   11
#define NR_prctl    157
#define NR_capset   126
#define NR_seccomp  317

#define PR_SET_NAME                15
#define PR_SET_NO_NEW_PRIVS        38
#define SECCOMP_SET_MODE_FILTER    1
#define SECCOMP_RET_KILL_PROCESS   0x80000000U
#define SECCOMP_RET_ALLOW          0x7fff0000U
#define AUDIT_ARCH_X86_64          0xc000003eU
#define X32_SYSCALL_BIT            0x40000000U
#define STUB_MEMFD                 3

struct bpf_insn {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};

struct bpf_prog {
    unsigned short len;
    struct bpf_insn *filter;
};

#define LD_W_ABS 0x20 /* BPF_LD | BPF_W | BPF_ABS */
#define JEQ_K    0x15 /* BPF_JMP | BPF_JEQ | BPF_K */
#define JGE_K    0x35 /* BPF_JMP | BPF_JGE | BPF_K */
#define RET_K    0x06 /* BPF_RET | BPF_K */

/* seccomp_data offsets */
#define OFF_NR      0
#define OFF_ARCH    4
#define OFF_IP_LO   8
#define OFF_IP_HI   12
#define OFF_ARG4_LO (16 + 4 * 8)
#define OFF_ARG4_HI (16 + 4 * 8 + 4)

#define IP_LO_INDEX 5
#define IP_HI_INDEX 7

#define NR_clone          56
#define STUB_CLONE_FLAGS  (0x100 | 0x8000 | 0x2000 | 17) /* VM|PARENT|PTRACE|SIGCHLD */
#define OFF_ARG0_LO (16)
#define OFF_ARG0_HI (16 + 4)

static struct bpf_insn g_filter[] = {
    /* 0 */ {LD_W_ABS, 0, 0, OFF_ARCH},
    /* 1 */ {JEQ_K, 0, 19, AUDIT_ARCH_X86_64},   /* else kill (21) */
    /* 2 */ {LD_W_ABS, 0, 0, OFF_NR},
    /* 3 */ {JGE_K, 17, 0, X32_SYSCALL_BIT},      /* -> kill */
    /* 4 */ {LD_W_ABS, 0, 0, OFF_IP_LO},
    /* 5 */ {JEQ_K, 0, 15, 0 /* gadget ip low, patched */},
    /* 6 */ {LD_W_ABS, 0, 0, OFF_IP_HI},
    /* 7 */ {JEQ_K, 0, 13, 0 /* gadget ip high, patched */},
    /* 8 */ {LD_W_ABS, 0, 0, OFF_NR},
    /* 9 */ {JEQ_K, 12, 0, NR_munmap},            /* -> allow (22) */
    /* 10 */ {JEQ_K, 11, 0, NR_mprotect},         /* -> allow */
    /* 11 */ {JEQ_K, 1, 0, NR_mmap},              /* -> 13 */
    /* 12 */ {JEQ_K, 4, 8, NR_clone},             /* -> 17, else kill */
    /* 13 */ {LD_W_ABS, 0, 0, OFF_ARG4_HI},       /* mmap: only of the memory file */
    /* 14 */ {JEQ_K, 0, 6, 0},
    /* 15 */ {LD_W_ABS, 0, 0, OFF_ARG4_LO},
    /* 16 */ {JEQ_K, 5, 4, STUB_MEMFD},           /* -> allow, else kill */
    /* 17 */ {LD_W_ABS, 0, 0, OFF_ARG0_HI},       /* clone: only a CLONE_VM sibling */
    /* 18 */ {JEQ_K, 0, 2, 0},
    /* 19 */ {LD_W_ABS, 0, 0, OFF_ARG0_LO},
    /* 20 */ {JEQ_K, 1, 0, STUB_CLONE_FLAGS},     /* -> allow */
    /* 21 */ {RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS},
    /* 22 */ {RET_K, 0, 0, SECCOMP_RET_ALLOW},
};

extern char stub_gadget[] __attribute__((visibility("hidden")));
extern char stub_gadget_ret[] __attribute__((visibility("hidden")));

/* The gadget: the kernel sets rip=stub_gadget and the syscall registers,
 * resumes, and regains control at the int3. */
__asm__(".text\n"
        ".globl stub_gadget\n"
        "stub_gadget:\n"
        "    syscall\n"
        ".globl stub_gadget_ret\n"
        "stub_gadget_ret:\n"
        "    int3\n"
        "    jmp stub_gadget\n");

static long stub_syscall3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

static long stub_syscall5(long nr, long a, long b, long c, long d, long e)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
}

void _start(void) __attribute__((noreturn, used));
void _start(void)
{
    uint64_t ip = (uint64_t)(uintptr_t)stub_gadget_ret;

    g_filter[IP_LO_INDEX].k = (uint32_t)ip;
    g_filter[IP_HI_INDEX].k = (uint32_t)(ip >> 32);

    static const char name[16] = "moat-stub";
    struct bpf_prog prog = {sizeof(g_filter) / sizeof(g_filter[0]), g_filter};
    stub_syscall5(NR_prctl, PR_SET_NAME, (long)name, 0, 0, 0);
    /* No capability at all: a root exec got the kernel's bounding set. */
    /* Static: _start's stack is not aligned the way compiled code assumes. */
    static uint32_t cap_hdr[2] = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
    static const uint32_t cap_data[6];
    if (stub_syscall3(NR_capset, (long)cap_hdr, (long)cap_data, 0) != 0 ||
        stub_syscall5(NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        stub_syscall3(NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog) != 0) {
        /* Without the filter the stub must not run: crash on purpose. */
        __asm__ volatile("ud2");
    }
    for (;;)
        __asm__ volatile("int3");
}
