/*
 * Probe: brk, mmap, munmap, mprotect (anonymous memory).
 * Whether a range is mapped is checked with mprotect (ENOMEM on a hole), so
 * no probe here needs to take a fault; faults on unmapped memory are tested
 * in tests/apps through the exit status of a killed app.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "tap.h"

#define PAGE 4096UL

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int mapped(void *addr, size_t len)
{
    return syscall(SYS_mprotect, addr, len, PROT_READ | PROT_WRITE) == 0;
}

static void test_brk(void)
{
    uintptr_t cur = syscall(SYS_brk, 0);

    T_TRUE(cur != 0, "brk(0) returns the current break");
    T_EQ(syscall(SYS_brk, 0), cur, "brk(0) is stable");
    uintptr_t grown = syscall(SYS_brk, cur + 64 * PAGE);
    T_EQ(grown, cur + 64 * PAGE, "brk grows by 64 pages");
    volatile char *p = (char *)cur;
    int zero = 1;
    for (size_t i = 0; i < 64 * PAGE; i += PAGE / 2)
        zero &= p[i] == 0;
    T_TRUE(zero, "new brk memory is zeroed");
    for (size_t i = 0; i < 64 * PAGE; i += 8)
        p[i] = (char)i;
    int same = 1;
    for (size_t i = 0; i < 64 * PAGE; i += 8)
        same &= p[i] == (char)i;
    T_TRUE(same, "new brk memory keeps what is written");

    uintptr_t odd = syscall(SYS_brk, cur + 64 * PAGE + 100);
    T_EQ(odd, cur + 64 * PAGE + 100, "brk accepts an unaligned break");
    T_EQ(syscall(SYS_brk, cur + 8 * PAGE), cur + 8 * PAGE, "brk shrinks");
    T_TRUE(p[8] == 8, "memory below the shrunken break is kept");
    T_TRUE(!mapped((void *)(cur + 16 * PAGE), PAGE), "memory above the shrunken break is unmapped");
    T_EQ(syscall(SYS_brk, cur + 16 * PAGE), cur + 16 * PAGE, "brk grows again");
    T_TRUE(p[12 * PAGE + 8] == 0, "memory regrown after a shrink is zeroed again");
    T_EQ(syscall(SYS_brk, 1), cur + 16 * PAGE, "brk below the start fails: old break returned");
    T_EQ(syscall(SYS_brk, cur), cur, "brk back to the start");
}

static void test_mmap(void)
{
    const size_t len = 16 * PAGE;
    char *p = sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    T_TRUE(p != MAP_FAILED, "mmap anonymous private");
    T_EQ((uintptr_t)p % PAGE, 0, "mmap returns a page-aligned address");
    int zero = 1;
    for (size_t i = 0; i < len; i++)
        zero &= p[i] == 0;
    T_TRUE(zero, "new anonymous memory is zeroed");
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 7);
    int same = 1;
    for (size_t i = 0; i < len; i++)
        same &= p[i] == (char)(i * 7);
    T_TRUE(same, "anonymous memory keeps what is written");

    /* munmap a page in the middle: a hole between two mappings. */
    T_OK(syscall(SYS_munmap, p + 4 * PAGE, PAGE), "munmap one page in the middle");
    T_TRUE(!mapped(p + 4 * PAGE, PAGE), "the unmapped page is gone");
    T_TRUE(mapped(p + 3 * PAGE, PAGE) && mapped(p + 5 * PAGE, PAGE), "its neighbours stay");
    T_TRUE(p[3 * PAGE + 1] == (char)((3 * PAGE + 1) * 7) && p[5 * PAGE] == (char)(5 * PAGE * 7),
            "the neighbours keep their content");
    T_OK(syscall(SYS_munmap, p + 4 * PAGE, PAGE), "munmap of a hole succeeds");

    /* MAP_FIXED replaces what is there with fresh zeroed memory. */
    char *q = sys_mmap(p + 2 * PAGE, 3 * PAGE, PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    T_TRUE(q == p + 2 * PAGE, "MAP_FIXED maps at the address");
    T_TRUE(q[0] == 0 && q[2 * PAGE + 5] == 0, "MAP_FIXED replaces the old contents with zeros");
    T_TRUE(mapped(p + 4 * PAGE, PAGE), "MAP_FIXED filled the hole");
    T_TRUE(p[PAGE] == (char)(PAGE * 7), "memory before the MAP_FIXED range is kept");
    char *r = sys_mmap(p, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    T_EQ((long)r, -1, "MAP_FIXED_NOREPLACE over a mapping fails");
    T_EQ(errno, EEXIST, "MAP_FIXED_NOREPLACE over a mapping: EEXIST");

    /* mprotect */
    T_OK(syscall(SYS_mprotect, p, PAGE, PROT_READ), "mprotect PROT_READ");
    T_TRUE(p[1] == 7, "a read-only page is still readable");
    T_OK(syscall(SYS_mprotect, p, PAGE, PROT_NONE), "mprotect PROT_NONE");
    T_OK(syscall(SYS_mprotect, p, PAGE, PROT_READ | PROT_WRITE), "mprotect back to read-write");
    p[1] = 'w';
    T_TRUE(p[1] == 'w' && p[2] == 14, "the page keeps its content through PROT_NONE");
    T_ERRNO(syscall(SYS_mprotect, p + 1, PAGE, PROT_READ), EINVAL, "mprotect of an unaligned address: EINVAL");
    T_OK(syscall(SYS_mprotect, p, 1, PROT_READ | PROT_WRITE), "mprotect rounds the length up");
    T_ERRNO(syscall(SYS_mprotect, p, PAGE, 0x100), EINVAL, "mprotect with an unknown prot bit: EINVAL");
    T_OK(syscall(SYS_mprotect, p, 0, PROT_READ), "mprotect of length 0 succeeds");

    T_OK(syscall(SYS_munmap, p, len), "munmap the whole range");
    T_TRUE(!mapped(p, PAGE) && !mapped(p + len - PAGE, PAGE), "the range is gone");
    T_ERRNO(syscall(SYS_mprotect, p, len, PROT_READ), ENOMEM, "mprotect of unmapped memory: ENOMEM");
}

static void test_mmap_errors(void)
{
    int rw = PROT_READ | PROT_WRITE, priv = MAP_PRIVATE | MAP_ANONYMOUS;

    T_ERRNO((long)sys_mmap(NULL, 0, rw, priv, -1, 0), EINVAL, "mmap of length 0: EINVAL");
    T_ERRNO((long)sys_mmap(NULL, PAGE, rw, MAP_ANONYMOUS, -1, 0), EINVAL,
            "mmap without MAP_PRIVATE or MAP_SHARED: EINVAL");
    T_ERRNO((long)sys_mmap((void *)(0x10000000 + 1), PAGE, rw, priv | MAP_FIXED, -1, 0), EINVAL,
            "MAP_FIXED at an unaligned address: EINVAL");
    T_ERRNO((long)sys_mmap(NULL, PAGE, rw, MAP_PRIVATE, -1, 0), EBADF,
            "a file mapping with fd -1: EBADF");
    T_ERRNO((long)sys_mmap(NULL, (size_t)-PAGE, rw, priv, -1, 0), ENOMEM, "mmap of almost 2^64 bytes: ENOMEM");
    T_ERRNO(syscall(SYS_munmap, (char *)0x10000000 + 1, PAGE), EINVAL, "munmap of an unaligned address: EINVAL");
    T_ERRNO(syscall(SYS_munmap, (void *)0x10000000, 0), EINVAL, "munmap of length 0: EINVAL");

    /* A large reservation costs nothing until touched. */
    size_t big = 1UL << 30;
    char *p = sys_mmap(NULL, big, rw, priv | MAP_NORESERVE, -1, 0);
    if (T_TRUE(p != MAP_FAILED, "mmap 1 GiB MAP_NORESERVE")) {
        p[0] = 1;
        p[big / 2] = 2;
        p[big - 1] = 3;
        T_TRUE(p[0] == 1 && p[big / 2] == 2 && p[big - 1] == 3 && p[PAGE] == 0,
                "touching a few pages of it works");
        T_OK(syscall(SYS_munmap, p, big), "munmap 1 GiB");
    }

    /* A hint is only a hint, but a free, aligned one is honoured by Linux. */
    char *hint = (char *)0x200000000000UL;
    p = sys_mmap(hint, PAGE, rw, priv, -1, 0);
    T_TRUE(p == hint, "a free aligned hint address is used");
    syscall(SYS_munmap, p, PAGE);
}

int main(void)
{
    tap_init("mm");
    test_brk();
    test_mmap();
    test_mmap_errors();
    return tap_done();
}
