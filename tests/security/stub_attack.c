/*
 * Attacks on the platform stub from app code, run inside `moat do`
 * (test_stub_attack.py). Each attack runs in a forked child; the parent
 * reports how the child ended, then makes syscalls of its own to show the
 * kernel survived. A child that exits 99 got a real host mapping of the
 * memory file: an escape.
 *
 *   jump-mmap     jumps to every `syscall` (0f 05) in the stub's code with
 *                 mmap(A, 4096, PROT_READ, MAP_SHARED|MAP_FIXED, 3, 0)
 *   jump-other    the same with mprotect of the stub code, a futex outside
 *                 the stub region and a clone
 *   jump-start    jumps to the start of the stub's code (its helper loop
 *                 waits forever): the parent must be able to kill it
 *   scribble      writes garbage on every writable stub page, then makes
 *                 syscalls
 *   write-ro      writes to the stub's code and read-only pages
 *   remap         munmap/mprotect/mmap MAP_FIXED over the stub region
 *   recycle       a child leaves a marker in every writable stub page it
 *                 can reach and in its vector registers, and exits; the
 *                 next child (which may get the same stub, recycled)
 *                 must find the marker nowhere: "recycle: N rounds, M
 *                 leaks"
 *   tramp         systrap's syscall trampolines (below 64 KiB, readable):
 *                 jumps into them and into every byte of their common code
 *                 in the stub with garbage registers and stacks, with %gs
 *                 not the thread's slot (the trampoline must fall back to
 *                 an ordinary trapped syscall: "tramp-fallback: exit 42"),
 *                 with a garbage thread page (state, kind, saved
 *                 registers) before patched syscalls, and a child stuck
 *                 in the trampoline's wait loop must still be killable
 *   state-scribble a thread keeps overwriting another thread's state word
 *                 (systrap's thread page) while that thread makes syscalls,
 *                 then the process exits: the exit must complete (the
 *                 kernel stops waiting for a thread that cannot answer),
 *                 "state-scribble: exit 0" or "signal 9", never "stuck"
 *   fd-scribble   a thread keeps writing garbage over the stub's result
 *                 page (where systrap's helper receives the host files it
 *                 maps for the kernel) while the other maps a big
 *                 read-only file again and again and checks what it
 *                 reads; then a fresh process (maybe on the recycled
 *                 stub) does the same unhindered: "fd-scribble: N maps,
 *                 0 wrong; after: 0 wrong" (a failed mmap is fine)
 *
 * Output: one line per attack, "<mode> <detail>: exit N" or "signal N",
 * then "alive <ppid>".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STUB_BASE 0x7ffbf0000000ULL
#define STUB_PROBE_END (STUB_BASE + 0x20000ULL + 4 * 0x8000ULL)
#define TARGET 0x500000000ULL

static sigjmp_buf g_jb;

static void on_fault(int sig)
{
    siglongjmp(g_jb, sig);
}

static void guard_faults(void)
{
    struct sigaction sa = {.sa_handler = on_fault, .sa_flags = SA_NODEFER};
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

/* Whether ADDR can be read (1 byte), without dying. */
static int readable(uintptr_t addr, uint8_t *out)
{
    if (sigsetjmp(g_jb, 1))
        return 0;
    *out = *(volatile uint8_t *)addr;
    return 1;
}

static int writable(uintptr_t addr)
{
    if (sigsetjmp(g_jb, 1))
        return 0;
    volatile uint8_t *p = (volatile uint8_t *)addr;
    *p = *p;
    return 1;
}

static volatile uintptr_t g_jump_to;

/* After the jump, any fault lands here: did the host map something at
 * TARGET? Exit 98: the jump faulted on its target itself (a `0f 05` pair
 * in a page that is not executable, e.g. the file bytes after the stub's
 * rodata): no stub code ran. */
static void after_jump(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (sig == SIGSEGV && (uintptr_t)si->si_addr == g_jump_to)
        _exit(98);
    struct sigaction sa = {.sa_handler = on_fault, .sa_flags = SA_NODEFER};
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    uint8_t b;
    _exit(readable(TARGET, &b) ? 99 : 0);
}

/* Every fault after a jump to TO lands in after_jump, on an alternate
 * stack (the jump may leave rsp anywhere). */
static void catch_jump_faults(uintptr_t to)
{
    struct sigaction sa = {.sa_sigaction = after_jump,
                           .sa_flags = SA_NODEFER | SA_ONSTACK | SA_SIGINFO};
    static char altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    sigaltstack(&ss, NULL);
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    g_jump_to = to;
}

static void jump(uintptr_t to, long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    catch_jump_faults(to);
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    register long r9 __asm__("r9") = a5;
    __asm__ volatile("jmp *%%rbx"
                     :
                     : "b"(to), "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                     : "memory");
    __builtin_unreachable();
}

static void report(const char *what, uintptr_t at, pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) < 0) {
        printf("%s %#lx: waitpid: %s\n", what, (unsigned long)at, strerror(errno));
        return;
    }
    if (WIFEXITED(status))
        printf("%s %#lx: exit %d\n", what, (unsigned long)at, WEXITSTATUS(status));
    else
        printf("%s %#lx: signal %d\n", what, (unsigned long)at, WTERMSIG(status));
    fflush(stdout);
}

/* Addresses of `syscall` byte pairs in the stub's code. */
static int find_syscalls(uintptr_t *out, int max)
{
    int n = 0;
    guard_faults();
    for (uintptr_t a = STUB_BASE; a < STUB_BASE + 0x10000 - 1 && n < max; a++) {
        uint8_t b0, b1;
        if (!readable(a, &b0)) {
            a = (a | 0xfff);
            continue;
        }
        if (b0 == 0x0f && readable(a + 1, &b1) && b1 == 0x05)
            out[n++] = a;
    }
    return n;
}

static void run_jumps(const char *mode)
{
    uintptr_t sc[64];
    int n = find_syscalls(sc, 64);
    printf("%s: %d syscall instructions in the stub\n", mode, n);
    fflush(stdout);
    close(3);
    for (int i = 0; i < n; i++) {
        for (int kind = 0; kind < (strcmp(mode, "jump-mmap") == 0 ? 1 : 3); kind++) {
            pid_t pid = fork();
            if (pid == 0) {
                if (strcmp(mode, "jump-mmap") == 0)
                    jump(sc[i], SYS_mmap, (long)TARGET, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, 3,
                         0);
                else if (kind == 0)
                    jump(sc[i], SYS_mprotect, (long)STUB_BASE, 0x10000,
                         PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0);
                else if (kind == 1)
                    jump(sc[i], SYS_futex, (long)&g_jb, 1 /* FUTEX_WAKE */, 1, 0, 0, 0);
                else
                    jump(sc[i], SYS_clone, 0x250f00, 0, 0, 0, 0, 0);
            }
            report(mode, sc[i], pid);
        }
    }
}

static void run_jump_start(void)
{
    pid_t pid = fork();
    if (pid == 0)
        jump(STUB_BASE + 0x1000, 0, 0, 0, 0, 0, 0, 0);
    usleep(300000);
    kill(pid, SIGKILL);
    report("jump-start", STUB_BASE + 0x1000, pid);
}

static void run_scribble(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        guard_faults();
        int pages = 0;
        for (uintptr_t a = STUB_BASE; a < STUB_PROBE_END; a += 4096) {
            if (!writable(a))
                continue;
            pages++;
            for (size_t i = 0; i < 4096; i += 8)
                *(volatile uint64_t *)(a + i) = 0x4141414100000000ULL + i;
        }
        /* The app keeps running on what the kernel gives back. */
        long ppid = syscall(SYS_getppid);
        printf("scribble: %d writable pages, getppid %ld\n", pages, ppid);
        fflush(stdout);
        _exit(0);
    }
    report("scribble", STUB_BASE, pid);
}

static void run_write_ro(void)
{
    uintptr_t targets[] = {STUB_BASE + 0x1000, STUB_BASE + 0x10000};
    for (size_t i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGSEGV, SIG_DFL);
            *(volatile uint64_t *)targets[i] = 0;
            _exit(0);
        }
        report("write-ro", targets[i], pid);
    }
}

/* Jumps to TO with the given rax, rbx, rdi and rsp (faults land in
 * after_jump, on the alternate stack). */
static void jump_regs(uintptr_t to, uint64_t rax, uint64_t rbx, uint64_t rdi, uint64_t rsp)
{
    catch_jump_faults(to);
    __asm__ volatile("mov %[sp], %%rsp\n"
                     "jmp *%[to]"
                     :
                     : [to] "r"(to), [sp] "r"(rsp), "a"(rax), "b"(rbx), "D"(rdi)
                     : "memory");
    __builtin_unreachable();
}

static uint64_t rdgs(void)
{
    uint64_t v;
    __asm__ volatile("rdgsbase %0" : "=r"(v));
    return v;
}

static void wrgs(uint64_t v)
{
    __asm__ volatile("wrgsbase %0" ::"r"(v));
}

/* Waits for PID up to 2 s, then kills it: "<what> <at>: exit N" /
 * "signal N", "killed" if it had to be killed. */
static void report_kill(const char *what, uintptr_t at, pid_t pid)
{
    int status;
    for (int i = 0; i < 200; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(status))
                printf("%s %#lx: exit %d\n", what, (unsigned long)at, WEXITSTATUS(status));
            else
                printf("%s %#lx: signal %d\n", what, (unsigned long)at, WTERMSIG(status));
            return;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    printf("%s %#lx: killed\n", what, (unsigned long)at);
}

#define TRAMP_ADDR 0x1000UL

static void run_tramp(void)
{
    uint8_t b;
    guard_faults();
    if (!readable(TRAMP_ADDR, &b)) {
        /* Patching is off, or this is not systrap: nothing to attack. */
        printf("tramp: none\n");
        return;
    }
    int n = 0;
    while (n < 1920 && readable(TRAMP_ADDR + 32 * (uintptr_t)n, &b) && b != 0)
        n++;
    uint64_t entry;
    memcpy(&entry, (const void *)(TRAMP_ADDR + 17), 8); /* movabs $entry, %r11 */
    printf("tramp: %d trampolines, entry in the stub: %s\n", n,
           entry >= STUB_BASE && entry < STUB_BASE + 0x10000 ? "yes" : "no");
    uint64_t junk = 0x4141414141414141ULL;
    /* Every trampoline with a garbage stack and number. */
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            jump_regs(TRAMP_ADDR + 32 * (uintptr_t)i, junk, junk, junk, 8);
        report_kill("tramp-bad-stack", TRAMP_ADDR + 32 * (uintptr_t)i, pid);
    }
    /* %gs not a slot (0, or inside a slot): the fallback makes the
     * syscall in rax, trapped as usual. */
    uint64_t gs_vals[] = {0, rdgs() + 8};
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            wrgs(gs_vals[i]);
            static char stack[4096] __attribute__((aligned(16)));
            jump_regs(entry, SYS_exit_group, junk, 42, (uint64_t)(stack + sizeof(stack)));
        }
        report_kill("tramp-fallback", (uintptr_t)i, pid);
    }
    /* Every byte of the common code and of the rt_sigaction answer after
     * it (stub_sa_fast), with garbage registers (rbx too, the thread page
     * pointer of its second half) and a valid stack. */
    int ended = 0, killed = 0;
    for (uintptr_t off = 0; off < 0x2e0; off++) {
        pid_t pid = fork();
        if (pid == 0) {
            static char stack[8192] __attribute__((aligned(16)));
            jump_regs(entry + off, junk, junk, junk, (uint64_t)(stack + sizeof(stack) - 256));
        }
        int status;
        pid_t r = 0;
        for (int k = 0; k < 100 && r == 0; k++) {
            r = waitpid(pid, &status, WNOHANG);
            if (r == 0)
                usleep(2000);
        }
        if (r == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            killed++;
        } else {
            ended++;
        }
    }
    printf("tramp-mid: %d jumps ended, %d killed\n", ended, killed);
    /* The wait loop with rbx = the thread page, a garbage state: it
     * sleeps there, and must still be killable. */
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t slot = rdgs();
        *(volatile uint32_t *)slot = 0x41414141;
        static char stack[4096] __attribute__((aligned(16)));
        /* Past the entry checks: from the first futex wake test on. */
        for (uintptr_t off = 0; off < 0x200; off++) {
            const uint8_t *p = (const uint8_t *)(entry + off);
            /* cmpl $0, 48(%rbx): 83 7b 30 00 */
            if (p[0] == 0x83 && p[1] == 0x7b && p[2] == 0x30 && p[3] == 0x00)
                jump_regs(entry + off, junk, slot, junk, (uint64_t)(stack + sizeof(stack)));
        }
        _exit(3);
    }
    report_kill("tramp-wait", 0, pid);
    /* A garbage thread page, then syscalls at patched sites. */
    pid = fork();
    if (pid == 0) {
        volatile uint64_t *th = (volatile uint64_t *)rdgs();
        for (int i = 0; i < 512; i++)
            th[i] = junk + (uint64_t)i;
        th[0] = 0x0000000100000002ULL; /* TRAPPED, then a signo */
        th[8] = 1;                     /* kind PATCHED */
        long a = syscall(SYS_getppid);
        long b2 = getppid();
        _exit(a == b2 ? 0 : 1);
    }
    report_kill("tramp-scribble", 0, pid);
}

static void run_remap(void)
{
    long r1 = syscall(SYS_munmap, STUB_BASE, 0x10000);
    long r2 = syscall(SYS_mprotect, STUB_BASE, 0x10000, PROT_READ | PROT_WRITE);
    void *r3 = mmap((void *)STUB_BASE, 0x10000, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("remap: munmap %ld mprotect %ld mmap %s\n", r1 == 0 ? 0L : -1L, r2 == 0 ? 0L : -1L,
           r3 == (void *)STUB_BASE ? "mapped" : "refused");
}

/* The marker, made at run time so the binary's own pages never hold it. */
static uint64_t marker(void)
{
    return 0x5245435943004c4bULL ^ 0x1111111111111111ULL;
}

static void run_recycle(void)
{
    int leaks = 0, rounds = 20;
    for (int round = 0; round < rounds; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            guard_faults();
            uint64_t m = marker();
            /* Below the handler's stack and frame: the low half of each
             * slot, the thread page after its header, the result page,
             * any writable page of the stub program. */
            for (uintptr_t a = STUB_BASE; a < STUB_PROBE_END; a += 4096) {
                if ((a - STUB_BASE) % 0x8000 >= 0x5000 || !writable(a))
                    continue;
                for (size_t i = 0x100; i < 4096; i += 8)
                    *(volatile uint64_t *)(a + i) = m;
            }
            __asm__ volatile("movq %0, %%xmm0\n"
                             "punpcklqdq %%xmm0, %%xmm0\n"
                             "movdqa %%xmm0, %%xmm1\n"
                             "movdqa %%xmm0, %%xmm7\n"
                             "movdqa %%xmm0, %%xmm15\n"
                             "mov $231, %%eax\n"
                             "xor %%edi, %%edi\n"
                             "syscall\n" ::"r"(m)
                             : "rax", "rdi", "rcx", "r11", "xmm0", "xmm1", "xmm7", "xmm15",
                               "memory");
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        int fds[2];
        if (pipe(fds) < 0)
            return;
        pid = fork();
        if (pid == 0) {
            uint64_t x[2] __attribute__((aligned(16)));
            __asm__ volatile("movdqa %%xmm0, %0" : "=m"(x));
            int found = 0;
            guard_faults();
            /* Readable pages first (faults trap into the kernel), then the
             * scan, with no trap while the marker is in a register. */
            static uintptr_t pages[64];
            int np = 0;
            uint8_t b;
            for (uintptr_t a = STUB_BASE; a < STUB_PROBE_END && np < 64; a += 4096)
                if (readable(a, &b))
                    pages[np++] = a;
            uint64_t m = marker();
            found += x[0] == m || x[1] == m;
            for (int i = 0; i < np; i++)
                for (size_t o = 0; o < 4096; o += 8)
                    if (*(volatile uint64_t *)(pages[i] + o) == m)
                        found++;
            char c = found ? 'L' : 'C';
            if (write(fds[1], &c, 1) != 1)
                _exit(1);
            _exit(0);
        }
        close(fds[1]);
        char c = 0;
        if (read(fds[0], &c, 1) != 1 || c != 'C')
            leaks++;
        close(fds[0]);
        waitpid(pid, &status, 0);
    }
    printf("recycle: %d rounds, %d leaks\n", rounds, leaks);
}

static volatile uintptr_t g_victim_slot;

static void *victim(void *arg)
{
    (void)arg;
    /* Under syscall patching %gs holds the thread's slot; otherwise the
     * second thread of a fresh stub has slot 1. */
    uint64_t g = rdgs();
    g_victim_slot = g ? g : STUB_BASE + 0x20000 + 0x8000;
    for (;;)
        syscall(SYS_getppid);
    return NULL;
}

/* Waits up to SECS for PID; true if it ended (STATUS set). */
static bool wait_for(pid_t pid, int secs, int *status)
{
    for (int i = 0; i < secs * 20; i++) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return true;
        usleep(50000);
    }
    return false;
}

static void run_state_scribble(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        uint8_t b;
        guard_faults();
        if (!readable(STUB_BASE + 0x20000, &b))
            _exit(96); /* no stub thread pages here (ptrace) */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        pthread_t t;
        if (pthread_create(&t, NULL, victim, NULL) != 0)
            _exit(97);
        while (!g_victim_slot)
            ;
        volatile uint32_t *state = (volatile uint32_t *)g_victim_slot;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
            for (int i = 0; i < 100000; i++)
                *state = 7;
            clock_gettime(CLOCK_MONOTONIC, &t1);
        } while (t1.tv_sec - t0.tv_sec < 1);
        syscall(SYS_exit_group, 0);
        _exit(0);
    }
    int status = 0;
    if (!wait_for(pid, 20, &status)) {
        kill(pid, SIGKILL);
        printf("state-scribble: %s\n", wait_for(pid, 20, &status) ? "stuck" : "unkillable");
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 96)
        printf("state-scribble: none\n");
    else if (WIFEXITED(status))
        printf("state-scribble: exit %d\n", WEXITSTATUS(status));
    else
        printf("state-scribble: signal %d\n", WTERMSIG(status));
}

static volatile bool g_scribbling;

static void *result_scribbler(void *arg)
{
    volatile uint64_t *p = arg;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    while (g_scribbling) {
        for (int i = 0; i < 0x800 / 8; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[i] = (i & 3) == 0 ? x & 0xff : x;
        }
    }
    return NULL;
}

/* Maps FD (SIZE bytes) ROUNDS times and compares pages of the mapping with
 * pread. Counts the mappings that read wrong; *MAPS: those that worked. */
static int check_maps(int fd, off_t size, int rounds, int *maps)
{
    static uint8_t want[4096];
    int wrong = 0;
    *maps = 0;
    for (int r = 0; r < rounds; r++) {
        uint8_t *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            continue;
        (*maps)++;
        for (off_t at = 0; at + 4096 <= size; at += size / 7 & ~4095L) {
            if (pread(fd, want, sizeof(want), at) != (ssize_t)sizeof(want) ||
                memcmp(m + at, want, sizeof(want)) != 0) {
                wrong++;
                break;
            }
        }
        munmap(m, (size_t)size);
    }
    return wrong;
}

static int open_big_file(off_t *size)
{
    static const char *const paths[] = {"/usr/bin/python3.11", "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                        "/bin/bash", "/bin/busybox"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        *size = lseek(fd, 0, SEEK_END);
        if (*size >= 256 * 1024)
            return fd;
        close(fd);
    }
    return -1;
}

static void run_fd_scribble(void)
{
    off_t size;
    int fd = open_big_file(&size);
    if (fd < 0) {
        printf("fd-scribble: no file\n");
        return;
    }
    int wrong[2] = {0, 0}, maps = 0;
    for (int phase = 0; phase < 2; phase++) {
        int pfd[2];
        if (pipe(pfd) < 0)
            return;
        pid_t pid = fork();
        if (pid == 0) {
            uint8_t b;
            pthread_t t;
            guard_faults();
            bool stub = readable(STUB_BASE + 0x11000, &b);
            signal(SIGSEGV, SIG_DFL);
            signal(SIGBUS, SIG_DFL);
            g_scribbling = phase == 0 && stub;
            if (g_scribbling &&
                pthread_create(&t, NULL, result_scribbler, (void *)(STUB_BASE + 0x11800)) != 0)
                _exit(97);
            int n, w = check_maps(fd, size, 200, &n);
            g_scribbling = false;
            int out[2] = {w, n};
            write(pfd[1], out, sizeof(out));
            _exit(0);
        }
        close(pfd[1]);
        int in[2] = {-1, 0}, status;
        if (read(pfd[0], in, sizeof(in)) != (ssize_t)sizeof(in))
            in[0] = -1;
        close(pfd[0]);
        waitpid(pid, &status, 0);
        wrong[phase] = in[0];
        if (phase == 0)
            maps = in[1];
    }
    close(fd);
    printf("fd-scribble: %d maps, %d wrong; after: %d wrong\n", maps, wrong[0], wrong[1]);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *m = argv[i];
        if (strncmp(m, "jump-mmap", 9) == 0 || strcmp(m, "jump-other") == 0)
            run_jumps(m);
        else if (strcmp(m, "jump-start") == 0)
            run_jump_start();
        else if (strcmp(m, "scribble") == 0)
            run_scribble();
        else if (strcmp(m, "write-ro") == 0)
            run_write_ro();
        else if (strcmp(m, "remap") == 0)
            run_remap();
        else if (strcmp(m, "recycle") == 0)
            run_recycle();
        else if (strcmp(m, "tramp") == 0)
            run_tramp();
        else if (strcmp(m, "state-scribble") == 0)
            run_state_scribble();
        else if (strcmp(m, "fd-scribble") == 0)
            run_fd_scribble();
    }
    printf("alive %ld\n", (long)syscall(SYS_getppid));
    return 0;
}
