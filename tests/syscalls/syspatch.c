/*
 * syspatch: syscall sites of the forms moat's systrap platform patches
 * (`mov $nr,%eax; syscall` and glibc syscall()'s `mov 8(%rsp),%r9;
 * syscall`), called often enough to be patched, then exercised where a
 * patched site is delicate: signals arriving during the syscalls (handlers
 * that use the same sites and the FPU), SA_RESTART restarting a blocked
 * read, rt_sigreturn resuming on a site's `syscall` instruction, threads,
 * fork children (which inherit the patched text), exec and text moved by
 * mremap. Natively these
 * are plain syscalls; under moat (patching on) the same sites go through
 * the trampolines, and the outputs must agree.
 */

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

/* Sites of our own, in this (static, file-backed) program's text. */
long site_getppid(void);
long site_read(long fd, void *buf, long n);
long site_kick(long pid, long tid, long sig);
extern char site_getppid_sc[], site_kick_back[];
/* A site alone on a page of text, for mremap to move (section 7). */
long site_paged(void);
__asm__(".text\n"
        ".balign 4096\n"
        ".globl site_paged\n"
        "site_paged:\n"
        "    mov $39, %eax\n"
        "    syscall\n"
        "    ret\n"
        ".balign 4096, 0xcc\n");
__asm__(".text\n"
        ".globl site_getppid\n"
        "site_getppid:\n"
        "    mov $110, %eax\n"
        ".globl site_getppid_sc\n"
        "site_getppid_sc:\n"
        "    syscall\n"
        "    jmp *%r12\n"          /* r12 = the return label, see site_kick */
        ".globl site_read\n"
        "site_read:\n"
        "    mov $0, %eax\n"
        "    syscall\n"
        "    ret\n"
        /* tgkill(pid, tid, sig) with r12 ready for site_getppid's jmp; a
         * handler may send it there (kick_handler). Returns rax. */
        ".globl site_kick\n"
        "site_kick:\n"
        "    push %r12\n"
        "    lea site_kick_back(%rip), %r12\n"
        "    mov $234, %eax\n"
        "    syscall\n"
        ".globl site_kick_back\n"
        "site_kick_back:\n"
        "    pop %r12\n"
        "    ret\n");

/* site_getppid for C callers: r12 holds the return label. */
static long call_getppid(void)
{
    long ret;
    __asm__ volatile("lea 1f(%%rip), %%r12\n"
                     "jmp site_getppid\n"
                     "1:\n"
                     : "=a"(ret)
                     :
                     : "rcx", "r11", "r12", "memory");
    return ret;
}

static volatile sig_atomic_t g_alarms, g_bad;
static long g_ppid;

static void alarm_handler(int sig)
{
    (void)sig;
    /* The same sites, and FPU registers the interrupted code uses. */
    volatile double d = 1.5;
    for (int i = 0; i < 4; i++)
        d = d * 3.0 + 0.25;
    if (call_getppid() != g_ppid || syscall(SYS_getppid) != g_ppid || d < 100.0)
        g_bad = 1;
    g_alarms++;
}

/* Sends the interrupted site_kick to site_getppid's `syscall` with rax =
 * getppid: it resumes on the syscall instruction of a (patched) site. With
 * g_kick_between, in the state a signal that came between a patched site's
 * two instructions leaves (see the handler). */
static volatile int g_kick_between;
static void kick_handler(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    if ((uintptr_t)uc->uc_mcontext.gregs[REG_RIP] != (uintptr_t)site_kick_back)
        return;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)site_getppid_sc;
    uc->uc_mcontext.gregs[REG_RAX] = 110;
    if (g_kick_between && *(const uint8_t *)site_getppid == 0xb9) {
        /* The site is patched (`mov $T,%ecx; jmp *%rcx`): what a signal
         * between those two instructions leaves, before the trampoline's
         * `mov $110,%eax`: rcx = T, rax anything. Natively the same spot
         * holds rax = 110 (the syscall), as set above. */
        uint32_t tramp;
        memcpy(&tramp, (const uint8_t *)site_getppid + 1, 4);
        uc->uc_mcontext.gregs[REG_RCX] = tramp;
        uc->uc_mcontext.gregs[REG_RAX] = 0xfffffffa;
    }
}

static void *thread_main(void *arg)
{
    long bad = 0;
    for (int i = 0; i < 3000; i++)
        if (call_getppid() != g_ppid || syscall(SYS_getppid) != g_ppid || getppid() != g_ppid)
            bad++;
    return (void *)bad;
}

static int sites_ok(int rounds)
{
    int bad = 0;
    for (int i = 0; i < rounds; i++)
        if (call_getppid() != g_ppid || syscall(SYS_getppid) != g_ppid || getppid() != g_ppid)
            bad++;
    return bad;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
        g_ppid = getppid();
        _exit(sites_ok(1000) == 0 ? 7 : 1);
    }
    tap_init("syspatch");
    g_ppid = getppid();

    /* 1. The sites, many times (patched after the first). */
    T_EQ(sites_ok(2000), 0, "sites return getppid");

    /* 2. A signal storm over the sites; FPU state survives. */
    struct sigaction sa = {.sa_handler = alarm_handler, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    int bad = 0, fp_bad = 0;
    register double x __asm__("xmm7") = 2.0;
    for (int round = 0; round < 10 || (g_alarms < 20 && round < 2000); round++) {
        for (int i = 0; i < 500; i++) {
            __asm__ volatile("" : "+x"(x));
            if (call_getppid() != g_ppid || syscall(SYS_getppid) != g_ppid)
                bad++;
            __asm__ volatile("" : "+x"(x));
            if (x != 2.0)
                fp_bad++;
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    T_EQ(bad, 0, "sites during a signal storm");
    T_EQ(fp_bad, 0, "xmm7 kept across syscalls and handlers");
    T_EQ(g_bad, 0, "handlers use the sites");
    T_EQ(g_alarms >= 20, 1, "signals arrived");

    /* 2b. A signal generated while the kernel handles a (patched) syscall,
     * right before it returns to code that spins without syscalls until
     * the handler ran: the signal must still interrupt the spin. */
    int spins = 0;
    for (int round = 0; round < 500; round++) {
        int before = g_alarms;
        struct itimerval shot = {{0, 0}, {0, 5 + round % 40}};
        setitimer(ITIMER_REAL, &shot, NULL);
        for (int i = 0; i < 5; i++)
            call_getppid();
        while (g_alarms == before)
            spins++;
    }
    T_EQ(spins >= 0, 1, "signals interrupted spins after syscalls");

    /* 3. SA_RESTART: a read blocked at a patched site, interrupted by a
     * handled signal, restarts there and gets the data written later. */
    int p[2];
    T_OK(pipe(p), "pipe");
    char buf[8];
    T_EQ(write(p[1], "x", 1), 1, "prime write");
    T_EQ(site_read(p[0], buf, 1), 1, "prime read");
    T_EQ(write(p[1], "y", 1), 1, "prime write 2");
    T_EQ(site_read(p[0], buf, 1), 1, "prime read 2");
    g_alarms = 0;
    pid_t w = fork();
    if (w == 0) {
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        _exit(write(p[1], "hello", 5) == 5 ? 0 : 1);
    }
    struct itimerval once = {{0, 0}, {0, 50 * 1000}};
    setitimer(ITIMER_REAL, &once, NULL);
    long n = site_read(p[0], buf, sizeof(buf));
    T_EQ(n, 5, "restarted read gets the data");
    T_EQ(g_alarms, 1, "the read was interrupted once");
    int st;
    T_EQ(waitpid(w, &st, 0), w, "writer waited");
    T_EQ(WIFEXITED(st) && WEXITSTATUS(st) == 0, 1, "writer ok");

    /* 4. rt_sigreturn onto a site's `syscall` instruction (rax = nr). */
    struct sigaction ka = {.sa_sigaction = kick_handler, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR1, &ka, NULL);
    int kick_bad = 0;
    for (int i = 0; i < 50; i++)
        if (site_kick(getpid(), gettid(), SIGUSR1) != g_ppid)
            kick_bad++;
    T_EQ(kick_bad, 0, "sigreturn onto a patched syscall makes it");
    g_kick_between = 1;
    kick_bad = 0;
    for (int i = 0; i < 50; i++)
        if (site_kick(getpid(), gettid(), SIGUSR1) != g_ppid)
            kick_bad++;
    g_kick_between = 0;
    T_EQ(kick_bad, 0, "sigreturn between a patched site's two instructions makes its syscall");

    /* 5. Threads share the patched text (and take signals there). */
    setitimer(ITIMER_REAL, &it, NULL);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, thread_main, NULL);
    long tbad = sites_ok(3000);
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(th[i], &r);
        tbad += (long)r;
    }
    setitimer(ITIMER_REAL, &off, NULL);
    T_EQ(tbad, 0, "threads on the sites");
    T_EQ(g_bad, 0, "handlers in threads");

    /* 6. A fork child runs the inherited (patched) text; one that execs
     * gets a fresh image. */
    pid_t c = fork();
    if (c == 0) {
        g_ppid = getppid();
        _exit(sites_ok(2000) == 0 ? 5 : 1);
    }
    T_EQ(waitpid(c, &st, 0), c, "fork child waited");
    T_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 5, "fork child ran the sites");
    c = fork();
    if (c == 0) {
        sites_ok(100);
        execl("/proc/self/exe", "syspatch", "exec-child", (char *)NULL);
        _exit(2);
    }
    T_EQ(waitpid(c, &st, 0), c, "exec child waited");
    T_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 7, "exec child ran the sites");
    T_EQ(sites_ok(1000), 0, "parent sites after the children");

    /* 7. mremap moves a page of text holding a (patched) site, and back:
     * the moved site still returns to its caller (a trampoline would
     * return after the old site, now unmapped). In a fork child, which
     * patches a site from its second call; the parent's text stays. */
    c = fork();
    if (c == 0) {
        long me = getpid(), ok = 1;
        for (int i = 0; i < 5; i++)
            ok &= site_paged() == me;
        void *hole = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        void *dst = (char *)hole + 4096;
        void *at = mremap((void *)site_paged, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
        if (hole == MAP_FAILED || at != dst)
            _exit(2);
        long (*moved)(void) = (long (*)(void))at;
        for (int i = 0; i < 5; i++)
            ok &= moved() == me;
        if (mremap(at, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)site_paged) !=
            (void *)site_paged)
            _exit(3);
        for (int i = 0; i < 5; i++)
            ok &= site_paged() == me;
        _exit(ok ? 9 : 1);
    }
    T_EQ(waitpid(c, &st, 0), c, "mremap child waited");
    T_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -100 - (WIFSIGNALED(st) ? WTERMSIG(st) : 0), 9,
         "a site moved by mremap (and back) still returns to its caller");
    return tap_done();
}
