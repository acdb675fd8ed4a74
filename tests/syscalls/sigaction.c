/*
 * sigaction: rt_sigaction queries (act NULL) made from one syscall site
 * often enough that moat's systrap patches it and then answers them in
 * the stub, from the actions the kernel published: the answers must stay
 * right after every way the actions change (rt_sigaction, SA_RESETHAND,
 * fork, vfork children with their own actions, threads, exec), bad
 * pointers must still give EFAULT, bad arguments EINVAL, and signals
 * must still arrive while a thread does nothing but ask.
 */

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

/* The kernel's struct sigaction. */
struct ksa {
    uint64_t handler, flags, restorer, mask;
};

/* rt_sigaction(sig, act, old, size) from one `mov $13,%eax; syscall`
 * site; returns rax (0 or -errno). */
long site_sigaction(long sig, const struct ksa *act, struct ksa *old, long size);
__asm__(".text\n"
        ".globl site_sigaction\n"
        "site_sigaction:\n"
        "    mov %rcx, %r10\n"
        "    mov $13, %eax\n"
        "    syscall\n"
        "    ret\n");

extern void restorer_stub(void);
__asm__(".text\n"
        ".globl restorer_stub\n"
        "restorer_stub:\n"
        "    mov $15, %eax\n"
        "    syscall\n"
        "    hlt\n");

static void handler_a(int sig)
{
    (void)sig;
}

static void handler_b(int sig)
{
    (void)sig;
}

static long query(int sig, struct ksa *out)
{
    memset(out, 0xa5, sizeof(*out));
    return site_sigaction(sig, NULL, out, 8);
}

static long set(int sig, uint64_t handler, uint64_t flags, uint64_t mask)
{
    struct ksa a = {handler, flags | SA_RESTORER, (uint64_t)(uintptr_t)restorer_stub, mask};
    return site_sigaction(sig, &a, NULL, 8);
}

/* Whether SIG's action is HANDLER with FLAGS (SA_RESTORER added) and MASK,
 * asked N times. */
static int is(int sig, uint64_t handler, uint64_t flags, uint64_t mask, int n)
{
    for (int i = 0; i < n; i++) {
        struct ksa k;
        if (query(sig, &k) != 0 || k.handler != handler)
            return 0;
        if (handler > 1 && (k.flags != (flags | SA_RESTORER) || k.mask != mask ||
                            k.restorer != (uint64_t)(uintptr_t)restorer_stub))
            return 0;
    }
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile int g_alarms;
static void alarm_handler(int sig)
{
    (void)sig;
    g_alarms++;
}

static volatile int g_seen;
static void *watcher(void *arg)
{
    (void)arg;
    double end = now() + 10;
    struct ksa k;
    while (now() < end) {
        if (query(SIGUSR2, &k) == 0 && k.handler == (uint64_t)(uintptr_t)handler_b) {
            g_seen = 1;
            break;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t ha = (uint64_t)(uintptr_t)handler_a, hb = (uint64_t)(uintptr_t)handler_b;
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
        /* Handled signals went back to SIG_DFL, ignored ones stayed. */
        _exit(is(SIGUSR1, (uint64_t)(uintptr_t)SIG_IGN, 0, 0, 100) &&
                              is(SIGUSR2, (uint64_t)(uintptr_t)SIG_DFL, 0, 0, 100)
                      ? 7
                      : 1);
    }
    tap_init("sigaction");

    /* 1. Queries, many times from one site (patched after the second). */
    int dfl = 1;
    for (int sig = 1; sig <= 64; sig++)
        dfl &= is(sig, (uint64_t)(uintptr_t)SIG_DFL, 0, 0, 4);
    T_EQ(dfl, 1, "every signal starts at SIG_DFL");
    T_EQ(set(SIGUSR1, ha, SA_RESTART | SA_NODEFER, 0x5a00), 0, "set SIGUSR1");
    T_EQ(is(SIGUSR1, ha, SA_RESTART | SA_NODEFER, 0x5a00, 50), 1, "the query sees it at once");
    T_EQ(set(SIGRTMIN + 3, hb, SA_SIGINFO, 1ULL << 40), 0, "set a real-time signal");
    T_EQ(is(SIGRTMIN + 3, hb, SA_SIGINFO, 1ULL << 40, 50), 1, "its query too");
    T_EQ(set(SIGUSR1, (uint64_t)(uintptr_t)SIG_IGN, 0, 0), 0, "ignore SIGUSR1");
    T_EQ(is(SIGUSR1, (uint64_t)(uintptr_t)SIG_IGN, 0, 0, 50), 1, "the query sees SIG_IGN");
    struct ksa k;
    T_EQ(site_sigaction(SIGKILL, NULL, &k, 8), 0, "SIGKILL can be asked");
    T_EQ(k.handler, (uint64_t)(uintptr_t)SIG_DFL, "SIGKILL is SIG_DFL");
    T_EQ(site_sigaction(SIGUSR1, NULL, NULL, 8), 0, "a query with no old is 0");
    T_EQ(site_sigaction((long)0x100000000L + SIGUSR1, NULL, &k, 8), 0, "the signal is an int");
    T_EQ(k.handler, (uint64_t)(uintptr_t)SIG_IGN, "so 2^32+SIGUSR1 is SIGUSR1");

    /* 2. Bad arguments. */
    T_EQ(site_sigaction(0, NULL, &k, 8), -EINVAL, "signal 0: EINVAL");
    T_EQ(site_sigaction(65, NULL, &k, 8), -EINVAL, "signal 65: EINVAL");
    T_EQ(site_sigaction(-1, NULL, &k, 8), -EINVAL, "signal -1: EINVAL");
    T_EQ(site_sigaction(SIGUSR1, NULL, &k, 4), -EINVAL, "size 4: EINVAL");
    T_EQ(site_sigaction(SIGUSR1, NULL, &k, 8 + (1L << 32)), -EINVAL, "size 2^32+8: EINVAL");

    /* 3. Where old points. */
    T_EQ(site_sigaction(SIGUSR1, NULL, BAD_PTR, 8), -EFAULT, "old unmapped: EFAULT");
    uint8_t *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_TRUE(p != MAP_FAILED, "mmap three pages");
    /* The first page never touched: the answer is written there. */
    T_EQ(site_sigaction(SIGUSR1, NULL, (struct ksa *)(p + 64), 8), 0, "old in an untouched page");
    T_EQ(((struct ksa *)(p + 64))->handler, (uint64_t)(uintptr_t)SIG_IGN,
         "and it holds the answer");
    mprotect(p + 4096, 4096, PROT_READ);
    T_EQ(site_sigaction(SIGUSR1, NULL, (struct ksa *)(p + 4096), 8), -EFAULT,
         "old read-only: EFAULT");
    T_EQ(site_sigaction(SIGUSR1, NULL, (struct ksa *)(p + 4096 - 16), 8), -EFAULT,
         "old running into a read-only page: EFAULT");
    munmap(p + 2 * 4096, 4096);
    T_EQ(site_sigaction(SIGUSR1, NULL, (struct ksa *)(p + 3 * 4096 - 8), 8), -EFAULT,
         "old running off the mapping: EFAULT");
    /* Where moat's stub lives (unmapped natively, never the app's in moat). */
    unsigned char vec;
    uintptr_t stub = 0x7ffbf0011000;
    if (mincore((void *)stub, 4096, &vec) < 0 && errno == ENOMEM &&
        mincore((void *)(stub - 4096), 4096, &vec) < 0 && errno == ENOMEM) {
        T_EQ(site_sigaction(SIGUSR1, NULL, (struct ksa *)stub, 8), -EFAULT,
             "old where no map is: EFAULT");
        T_EQ(site_sigaction(SIGUSR1, NULL, (struct ksa *)(stub - 16), 8), -EFAULT,
             "old running into where no map is: EFAULT");
    } else {
        tap_skip("old where no map is: EFAULT", "mapped here");
        tap_skip("old running into where no map is: EFAULT", "mapped here");
    }

    /* 4. SA_RESETHAND: delivery resets the handler. */
    T_EQ(set(SIGUSR2, hb, SA_RESETHAND | SA_SIGINFO, 0x10), 0, "SIGUSR2 one-shot");
    T_EQ(is(SIGUSR2, hb, SA_RESETHAND | SA_SIGINFO, 0x10, 10), 1, "asked before");
    raise(SIGUSR2);
    T_EQ(query(SIGUSR2, &k), 0, "asked after delivery");
    T_EQ(k.handler, (uint64_t)(uintptr_t)SIG_DFL, "the handler is SIG_DFL again");
    T_EQ(k.flags, SA_RESETHAND | SA_SIGINFO | SA_RESTORER, "the flags stay");
    T_EQ(k.mask, 0x10, "the mask stays");

    /* 5. A fork child has a copy; its changes stay its own. */
    set(SIGUSR2, ha, 0, 0);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = is(SIGUSR2, ha, 0, 0, 50);
        set(SIGUSR2, hb, 0, 0);
        ok &= is(SIGUSR2, hb, 0, 0, 50);
        _exit(ok ? 7 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    T_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 7, "fork child: inherited, then its own");
    T_EQ(is(SIGUSR2, ha, 0, 0, 50), 1, "the parent keeps its own");

    /* 6. Another thread sees a change made by this one. */
    set(SIGUSR2, ha, 0, 0);
    pthread_t th;
    pthread_create(&th, NULL, watcher, NULL);
    struct timespec ms = {0, 2000000};
    nanosleep(&ms, NULL);
    set(SIGUSR2, hb, 0, 0);
    pthread_join(th, NULL);
    T_EQ(g_seen, 1, "a thread asking in a loop sees another's change");

    /* 7. Signals arrive while the thread does nothing but ask. */
    struct sigaction sa = {.sa_handler = alarm_handler, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    double end = now() + 10;
    int wrong = 0;
    while (g_alarms < 50 && now() < end)
        for (int i = 0; i < 100; i++)
            if (query(SIGUSR2, &k) != 0 || k.handler != hb)
                wrong++;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    T_EQ(g_alarms >= 50, 1, "timer signals arrived during queries");
    T_EQ(wrong, 0, "and every answer was right");

    /* 8. exec: handled signals back to SIG_DFL, ignored ones stay. */
    set(SIGUSR1, (uint64_t)(uintptr_t)SIG_IGN, 0, 0);
    set(SIGUSR2, ha, 0, 0);
    pid = fork();
    if (pid == 0) {
        char child[] = "exec-child";
        char *args[] = {argv[0], child, NULL};
        execv("/proc/self/exe", args);
        _exit(2);
    }
    waitpid(pid, &st, 0);
    T_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 7, "after exec: SIG_DFL, SIG_IGN kept");
    /* 9. A vfork child (same memory, its own actions); last, as moat
     * answers no query in the stub after it. */
    volatile int child_ok = 0;
    pid = vfork();
    if (pid == 0) {
        int ok = is(SIGUSR2, ha, 0, 0, 20);
        set(SIGUSR2, (uint64_t)(uintptr_t)SIG_IGN, 0, 0);
        ok &= is(SIGUSR2, (uint64_t)(uintptr_t)SIG_IGN, 0, 0, 20);
        child_ok = ok;
        _exit(0);
    }
    waitpid(pid, &st, 0);
    T_EQ(child_ok, 1, "vfork child: inherited, then its own");
    T_EQ(is(SIGUSR2, ha, 0, 0, 50), 1, "the vfork parent keeps its own");
    T_EQ(set(SIGUSR2, hb, 0, 0), 0, "the vfork parent changes it");
    T_EQ(is(SIGUSR2, hb, 0, 0, 50), 1, "and sees the change");

    return tap_done();
}
