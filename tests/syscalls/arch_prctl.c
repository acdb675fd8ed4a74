/* Probe: arch_prctl (ARCH_GET_FS/ARCH_SET_FS, ARCH_GET_GS/ARCH_SET_GS). */
#include <asm/prctl.h>
#include <stdint.h>

#include "tap.h"

static __thread int tls_var = 42;

/* A raw syscall that touches no TLS (errno lives there), for use while FS is switched. */
static long raw_syscall2(long nr, long a, long b)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return ret;
}

static uintptr_t read_fs0(void)
{
    uintptr_t v;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(v));
    return v;
}

static void test_fs(void)
{
    uintptr_t fs = 0;

    T_OK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs), "ARCH_GET_FS");
    T_TRUE(fs != 0, "the FS base is set (libc TLS)");
    T_EQ(read_fs0(), fs, "%fs:0 holds the TCB's self pointer == the FS base");
    uintptr_t var = (uintptr_t)&tls_var;
    T_TRUE(var < fs && fs - var < 65536, "a __thread variable sits just below the FS base");
    T_EQ(tls_var, 42, "the __thread variable holds its initial value");

    /* Switch FS to our own block, look through it, and switch back. */
    static uintptr_t block[8] __attribute__((aligned(64)));
    block[0] = (uintptr_t)block;
    block[1] = 0x5a5a5a5a;
    long set = raw_syscall2(SYS_arch_prctl, ARCH_SET_FS, (long)block);
    uintptr_t seen = read_fs0(), got = 0;
    long get = raw_syscall2(SYS_arch_prctl, ARCH_GET_FS, (long)&got);
    long restore = raw_syscall2(SYS_arch_prctl, ARCH_SET_FS, (long)fs);
    T_EQ(set, 0, "ARCH_SET_FS to a new block");
    T_EQ(seen, (uintptr_t)block, "%fs:0 reads through the new FS base");
    T_EQ(get, 0, "ARCH_GET_FS after the switch");
    T_EQ(got, (uintptr_t)block, "ARCH_GET_FS returns the new base");
    T_EQ(restore, 0, "ARCH_SET_FS back to the libc TLS");
    T_EQ(read_fs0(), fs, "the TLS is back");
    T_EQ(tls_var, 42, "__thread variables work again");

    T_ERRNO(syscall(SYS_arch_prctl, ARCH_GET_FS, BAD_PTR), EFAULT, "ARCH_GET_FS into a bad pointer: EFAULT");
    T_ERRNO(syscall(SYS_arch_prctl, ARCH_SET_FS, 1UL << 63), EPERM,
            "ARCH_SET_FS to a kernel address: EPERM");
    T_EQ(read_fs0(), fs, "a failed ARCH_SET_FS leaves FS alone");
}

static void test_gs(void)
{
    uintptr_t gs = 1, orig;

    T_OK(syscall(SYS_arch_prctl, ARCH_GET_GS, &orig), "ARCH_GET_GS");
    T_OK(syscall(SYS_arch_prctl, ARCH_SET_GS, 0x12340000UL), "ARCH_SET_GS");
    T_OK(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs), "ARCH_GET_GS after a set");
    T_EQ(gs, 0x12340000UL, "ARCH_GET_GS returns what was set");
    T_OK(syscall(SYS_arch_prctl, ARCH_SET_GS, orig), "ARCH_SET_GS back");
    T_ERRNO(syscall(SYS_arch_prctl, ARCH_SET_GS, 1UL << 63), EPERM, "ARCH_SET_GS to a kernel address: EPERM");
}

static void test_bad_code(void)
{
    uintptr_t v;
    T_ERRNO(syscall(SYS_arch_prctl, 0x9999, &v), EINVAL, "an unknown code: EINVAL");
    T_ERRNO(syscall(SYS_arch_prctl, 0, &v), EINVAL, "code 0: EINVAL");
}

int main(void)
{
    tap_init("arch_prctl");
    test_fs();
    test_gs();
    test_bad_code();
    return tap_done();
}
