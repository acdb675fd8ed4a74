/* Probe: rt_sigaction, rt_sigprocmask (state only; delivery needs kill/tgkill). */
#include <signal.h>
#include <stdint.h>

#include "tap.h"

/* The kernel's struct sigaction on x86-64. */
struct k_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

#define K_SA_RESTORER 0x04000000UL
#define BIT(sig) (1ULL << ((sig) - 1))

static void handler(int sig)
{
    (void)sig;
}

static void restorer(void)
{
}

static long sigaction_raw(int sig, const struct k_sigaction *act, struct k_sigaction *old)
{
    return syscall(SYS_rt_sigaction, sig, act, old, 8);
}

static long sigmask_raw(int how, const uint64_t *set, uint64_t *old)
{
    return syscall(SYS_rt_sigprocmask, how, set, old, 8);
}

static void test_sigaction(void)
{
    struct k_sigaction act, old;

    memset(&old, 0xff, sizeof(old));
    T_OK(sigaction_raw(SIGUSR1, NULL, &old), "get the SIGUSR1 action");
    T_TRUE(old.handler == SIG_DFL, "SIGUSR1 starts as SIG_DFL");

    act = (struct k_sigaction){ handler, SA_SIGINFO | SA_RESTART | K_SA_RESTORER, restorer,
        BIT(SIGUSR2) | BIT(SIGTERM) };
    T_OK(sigaction_raw(SIGUSR1, &act, NULL), "set a SIGUSR1 handler");
    memset(&old, 0, sizeof(old));
    T_OK(sigaction_raw(SIGUSR1, NULL, &old), "get it back");
    T_TRUE(old.handler == handler, "the handler round-trips");
    T_EQ(old.flags, SA_SIGINFO | SA_RESTART | K_SA_RESTORER, "the flags round-trip");
    T_TRUE(old.restorer == restorer, "the restorer round-trips");
    T_EQ(old.mask, BIT(SIGUSR2) | BIT(SIGTERM), "the mask round-trips");

    struct k_sigaction ign = { SIG_IGN, K_SA_RESTORER, restorer, BIT(SIGKILL) | BIT(SIGSTOP) | BIT(SIGINT) };
    memset(&old, 0, sizeof(old));
    T_OK(sigaction_raw(SIGUSR1, &ign, &old), "set SIG_IGN and get the old action at once");
    T_TRUE(old.handler == handler && old.mask == (BIT(SIGUSR2) | BIT(SIGTERM)),
            "the old action is returned");
    T_OK(sigaction_raw(SIGUSR1, NULL, &old), "get the SIG_IGN action");
    T_TRUE(old.handler == SIG_IGN, "SIG_IGN round-trips");
    T_EQ(old.mask, BIT(SIGINT), "SIGKILL and SIGSTOP are dropped from sa_mask");

    struct k_sigaction dfl = { SIG_DFL, K_SA_RESTORER, restorer, 0 };
    T_OK(sigaction_raw(SIGUSR1, &dfl, NULL), "back to SIG_DFL");
    T_OK(sigaction_raw(SIGRTMIN + 2, &act, NULL), "set a handler for a real-time signal");
    T_OK(sigaction_raw(64, &act, NULL), "set a handler for signal 64");
    T_OK(sigaction_raw(64, &dfl, &old), "reset signal 64");
    T_TRUE(old.handler == handler, "signal 64 kept its handler");

    T_ERRNO(sigaction_raw(SIGKILL, &act, NULL), EINVAL, "a handler for SIGKILL: EINVAL");
    T_ERRNO(sigaction_raw(SIGSTOP, &ign, NULL), EINVAL, "SIG_IGN for SIGSTOP: EINVAL");
    T_OK(sigaction_raw(SIGKILL, NULL, &old), "reading the SIGKILL action is allowed");
    T_TRUE(old.handler == SIG_DFL, "SIGKILL is SIG_DFL");
    T_ERRNO(sigaction_raw(0, NULL, &old), EINVAL, "signal 0: EINVAL");
    T_ERRNO(sigaction_raw(65, NULL, &old), EINVAL, "signal 65: EINVAL");
    T_ERRNO(sigaction_raw(-1, NULL, &old), EINVAL, "signal -1: EINVAL");
    T_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4), EINVAL, "sigsetsize 4: EINVAL");
    T_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 16), EINVAL, "sigsetsize 16: EINVAL");
    T_ERRNO(sigaction_raw(SIGUSR1, BAD_PTR, NULL), EFAULT, "a bad act pointer: EFAULT");
    T_ERRNO(sigaction_raw(SIGUSR1, NULL, BAD_PTR), EFAULT, "a bad oldact pointer: EFAULT");
    T_OK(sigaction_raw(SIGUSR1, NULL, &old), "get SIGUSR1 after the failures");
    T_TRUE(old.handler == SIG_DFL, "failed calls changed nothing");
}

static void test_sigprocmask(void)
{
    uint64_t m0 = ~0ULL, old, set, cur;

    T_OK(sigmask_raw(SIG_BLOCK, NULL, &m0), "get the signal mask");
    T_EQ(m0 & (BIT(SIGKILL) | BIT(SIGSTOP)), 0, "SIGKILL and SIGSTOP are never blocked");

    set = BIT(SIGUSR1);
    T_OK(sigmask_raw(SIG_BLOCK, &set, &old), "SIG_BLOCK SIGUSR1");
    T_EQ(old, m0, "SIG_BLOCK returns the old mask");
    sigmask_raw(SIG_BLOCK, NULL, &cur);
    T_EQ(cur, m0 | BIT(SIGUSR1), "SIGUSR1 is now blocked");
    set = BIT(SIGUSR2) | BIT(SIGRTMIN + 1);
    T_OK(sigmask_raw(SIG_BLOCK, &set, NULL), "SIG_BLOCK more, without old");
    sigmask_raw(SIG_BLOCK, NULL, &cur);
    T_EQ(cur, m0 | BIT(SIGUSR1) | BIT(SIGUSR2) | BIT(SIGRTMIN + 1), "SIG_BLOCK adds to the mask");
    set = BIT(SIGUSR1);
    T_OK(sigmask_raw(SIG_UNBLOCK, &set, &old), "SIG_UNBLOCK SIGUSR1");
    T_EQ(old, m0 | BIT(SIGUSR1) | BIT(SIGUSR2) | BIT(SIGRTMIN + 1), "SIG_UNBLOCK returns the old mask");
    sigmask_raw(SIG_BLOCK, NULL, &cur);
    T_EQ(cur, (m0 | BIT(SIGUSR2) | BIT(SIGRTMIN + 1)) & ~BIT(SIGUSR1), "SIG_UNBLOCK removes from the mask");

    set = ~0ULL;
    T_OK(sigmask_raw(SIG_SETMASK, &set, NULL), "SIG_SETMASK everything");
    sigmask_raw(SIG_BLOCK, NULL, &cur);
    T_EQ(cur, ~(BIT(SIGKILL) | BIT(SIGSTOP)), "everything but SIGKILL and SIGSTOP is blocked");
    T_OK(sigmask_raw(SIG_SETMASK, &m0, &old), "SIG_SETMASK back to the start");
    T_EQ(old, ~(BIT(SIGKILL) | BIT(SIGSTOP)), "SIG_SETMASK returns the old mask");
    sigmask_raw(SIG_BLOCK, NULL, &cur);
    T_EQ(cur, m0, "the mask round-trips");

    set = BIT(SIGUSR1);
    T_ERRNO(sigmask_raw(3, &set, NULL), EINVAL, "an unknown how: EINVAL");
    T_OK(sigmask_raw(99, NULL, &cur), "an unknown how is ignored without a set");
    T_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4), EINVAL, "sigsetsize 4: EINVAL");
    T_ERRNO(sigmask_raw(SIG_BLOCK, BAD_PTR, NULL), EFAULT, "a bad set pointer: EFAULT");
    T_ERRNO(sigmask_raw(SIG_BLOCK, NULL, BAD_PTR), EFAULT, "a bad oldset pointer: EFAULT");
    sigmask_raw(SIG_BLOCK, NULL, &cur);
    T_EQ(cur, m0, "failed calls changed nothing");
}

int main(void)
{
    tap_init("signal");
    test_sigaction();
    test_sigprocmask();
    return tap_done();
}
