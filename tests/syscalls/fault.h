/*
 * Catching SIGSEGV and SIGBUS in a probe: fault_init() installs on_fault,
 * and touch() reads or writes one byte and says which signal it raised;
 * g_code and g_addr then hold its si_code and si_addr.
 */
#ifndef MOAT_TESTS_FAULT_H
#define MOAT_TESTS_FAULT_H

#include <setjmp.h>
#include <signal.h>
#include <stddef.h>

static sigjmp_buf g_jb;
static volatile int g_signo, g_code;
static void *volatile g_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    g_signo = sig;
    g_code = si->si_code;
    g_addr = si->si_addr;
    siglongjmp(g_jb, 1);
}

/* Reads (or writes) the byte at P; returns the signal it raised, or 0. */
static inline int touch(volatile char *p, int write)
{
    g_signo = 0;
    g_addr = NULL;
    if (sigsetjmp(g_jb, 1) == 0) {
        if (write)
            *p = 'w';
        else
            (void)*p;
    }
    return g_signo;
}

/* Sends SIGSEGV and SIGBUS to on_fault. */
static inline void fault_init(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

#endif
