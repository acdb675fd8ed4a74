/*
 * Signal delivery: handlers with siginfo, FPU state preserved across a
 * handler, SIGSEGV caught on an alternate stack with the fault address,
 * SA_RESETHAND, SA_NODEFER masks, sigsuspend, sigpending, SIGCHLD with
 * the child's status, and the exit status of a child killed by a signal.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static volatile int g_sig, g_code, g_count;
static volatile pid_t g_pid;
static volatile uintptr_t g_addr, g_sp;
static sigjmp_buf g_jb;
static char *g_alt;

static void on_info(int sig, siginfo_t *si, void *uc)
{
    g_sig = sig;
    g_code = si->si_code;
    g_pid = si->si_pid;
    g_count++;
    /* Clobber FPU registers: the interrupted code must not see it. */
    volatile double x = 3.25;
    for (int i = 0; i < 10; i++)
        x = x * 1.5 + 0.25;
    (void)x;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    char here;
    g_addr = (uintptr_t)si->si_addr;
    g_code = si->si_code;
    g_sp = (uintptr_t)&here;
    siglongjmp(g_jb, 1);
}

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    g_sig = sig;
    g_code = si->si_code;
    g_pid = si->si_pid;
    g_count = si->si_status;
}

int main(void)
{
    tap_init("sigframe");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    T_OK(sigaction(SIGUSR1, &sa, NULL), "install a SIGUSR1 handler");

    volatile double before = 1.0 / 3.0;
    T_OK(kill(getpid(), SIGUSR1), "kill self");
    T_EQ(g_sig, SIGUSR1, "the handler ran");
    T_EQ(g_code, SI_USER, "si_code SI_USER");
    T_EQ(g_pid, getpid(), "si_pid is the sender");
    T_TRUE(before == 1.0 / 3.0, "FPU state survives the handler");

    /* Blocked signals stay pending until unblocked. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    g_count = 0;
    raise(SIGUSR1);
    sigset_t pend;
    sigpending(&pend);
    T_TRUE(sigismember(&pend, SIGUSR1), "a blocked signal is pending");
    T_EQ(g_count, 0, "and not delivered");
    sigprocmask(SIG_SETMASK, &old, NULL);
    T_EQ(g_count, 1, "delivered once unblocked");

    /* sigsuspend: wait with a temporary mask. */
    sigprocmask(SIG_BLOCK, &set, &old);
    g_count = 0;
    pid_t child = fork();
    if (child == 0) {
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, SIGUSR1);
    int r = sigsuspend(&wait_mask);
    T_EQ(r, -1, "sigsuspend returns -1");
    T_EQ(g_count, 1, "after the handler ran");
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    T_TRUE(sigismember(&now, SIGUSR1), "and restores the blocked mask");
    sigprocmask(SIG_SETMASK, &old, NULL);
    waitpid(child, NULL, 0);

    /* SA_RESETHAND: one shot. */
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    struct sigaction cur;
    sigaction(SIGUSR2, NULL, &cur);
    T_TRUE(cur.sa_handler == SIG_DFL, "SA_RESETHAND resets to SIG_DFL");

    /* SIGSEGV on an alternate stack. */
    stack_t ss = {.ss_sp = g_alt = malloc(65536), .ss_size = 65536};
    T_OK(sigaltstack(&ss, NULL), "sigaltstack");
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    if (!sigsetjmp(g_jb, 1))
        *(volatile int *)64 = 1;
    T_EQ(g_addr, (uintptr_t)64, "SIGSEGV si_addr is the faulting address");
    T_EQ(g_code, SEGV_MAPERR, "si_code SEGV_MAPERR");
    T_TRUE(g_sp >= (uintptr_t)g_alt && g_sp < (uintptr_t)g_alt + 65536,
           "the handler ran on the alternate stack");

    /* SIGCHLD with the child's status. */
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGCHLD, &sa, NULL);
    g_sig = 0;
    child = fork();
    if (child == 0)
        _exit(7);
    int st;
    while (waitpid(child, &st, 0) < 0)
        ;
    T_EQ(g_sig, SIGCHLD, "SIGCHLD delivered");
    T_EQ(g_code, CLD_EXITED, "si_code CLD_EXITED");
    T_EQ(g_count, 7, "si_status is the exit code");
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 7, "wait status 7");

    /* A child killed by a signal. */
    signal(SIGCHLD, SIG_DFL);
    child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    kill(child, SIGTERM);
    waitpid(child, &st, 0);
    T_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "child killed by SIGTERM");
    return tap_done();
}
