/*
 * Probe: RLIMIT_AS, RLIMIT_DATA and RLIMIT_STACK as mmap/brk/mremap and
 * stack growth see them; MAP_GROWSDOWN growth on a fault; SIGBUS for file
 * mapping pages past EOF (si_code, si_addr).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "fault.h"
#include "tap.h"

#define PAGE 4096UL
#define MIB (1UL << 20)

static void *map(void *addr, size_t len, int prot, int flags)
{
    return mmap(addr, len, prot, flags, -1, 0);
}

static void set_limit(int res, rlim_t cur)
{
    struct rlimit rl;
    getrlimit(res, &rl);
    rl.rlim_cur = cur;
    if (setrlimit(res, &rl) != 0)
        tap_bail("setrlimit");
}

static void test_as(void)
{
    struct rlimit old;
    getrlimit(RLIMIT_AS, &old);
    set_limit(RLIMIT_AS, 1024 * MIB);
    T_TRUE(map(NULL, 2048 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS) == MAP_FAILED &&
                   errno == ENOMEM,
           "RLIMIT_AS: mmap past it is ENOMEM (even PROT_NONE)");
    char *p = map(NULL, 16 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    T_TRUE(p != MAP_FAILED, "RLIMIT_AS: mmap within it works");
    T_TRUE(mremap(p, 16 * MIB, 2048 * MIB, MREMAP_MAYMOVE) == MAP_FAILED && errno == ENOMEM,
           "RLIMIT_AS: mremap growing past it is ENOMEM");
    uintptr_t cur = syscall(SYS_brk, 0);
    T_EQ(syscall(SYS_brk, cur + 2048 * MIB), cur, "RLIMIT_AS: brk past it keeps the old break");
    munmap(p, 16 * MIB);
    set_limit(RLIMIT_AS, old.rlim_cur);
    p = map(NULL, 2048 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    T_TRUE(p != MAP_FAILED, "RLIMIT_AS raised again: the same mmap works");
    munmap(p, 2048 * MIB);
}

static void test_data(void)
{
    struct rlimit old;
    getrlimit(RLIMIT_DATA, &old);
    set_limit(RLIMIT_DATA, 64 * MIB);
    T_TRUE(map(NULL, 128 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS) ==
                           MAP_FAILED &&
                   errno == ENOMEM,
           "RLIMIT_DATA: private writable mmap past it is ENOMEM");
    void *r = map(NULL, 128 * MIB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    T_TRUE(r != MAP_FAILED, "RLIMIT_DATA: a read-only mapping does not count");
    void *s = map(NULL, 128 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    T_TRUE(s != MAP_FAILED, "RLIMIT_DATA: a shared mapping does not count");
    uintptr_t cur = syscall(SYS_brk, 0);
    T_EQ(syscall(SYS_brk, cur + 128 * MIB), cur, "RLIMIT_DATA: brk past it keeps the old break");
    T_EQ(syscall(SYS_brk, cur + 16 * PAGE), cur + 16 * PAGE, "RLIMIT_DATA: brk within it works");
    syscall(SYS_brk, cur);
    munmap(r, 128 * MIB);
    munmap(s, 128 * MIB);
    set_limit(RLIMIT_DATA, old.rlim_cur);
}

static void test_growsdown(void)
{
    /* A one-page grows-down mapping with room below it. */
    char *area = map(NULL, 64 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    munmap(area, 64 * MIB);
    char *top = area + 48 * MIB;
    char *g = mmap(top, PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED, -1, 0);
    T_TRUE(g == top, "MAP_GROWSDOWN mapping");
    T_EQ(touch(top - 100 * PAGE, 1), 0, "a write 100 pages below it grows it");
    T_EQ(touch(top - 100 * PAGE, 0), 0, "and the grown page reads");
    T_EQ(mprotect(top - 100 * PAGE, 100 * PAGE, PROT_READ | PROT_WRITE), 0,
         "the pages up to the mapping are mapped now");
    /* Past RLIMIT_STACK below its top: SIGSEGV. */
    set_limit(RLIMIT_STACK, 8 * MIB);
    (void)map(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS); /* moat reads limits here */
    T_EQ(touch(top - 16 * MIB, 1), SIGSEGV, "growing past RLIMIT_STACK is SIGSEGV");
    /* A mapping just below keeps the guard gap free. */
    char *low = map(top - 200 * PAGE - 64 * PAGE, PAGE, PROT_READ,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    T_TRUE(low != MAP_FAILED, "a mapping 164 pages below");
    T_EQ(touch(top - 150 * PAGE, 1), SIGSEGV, "growing into the guard gap is SIGSEGV");
    munmap(low, PAGE);
    munmap(top - 48 * MIB, 49 * MIB);
}

static int recurse(int n)
{
    volatile char frame[64 * 1024];
    frame[0] = (char)n;
    frame[sizeof(frame) - 1] = (char)n;
    if (n == 0)
        return frame[0];
    return recurse(n - 1) + frame[sizeof(frame) - 1];
}

static void test_main_stack(void)
{
    set_limit(RLIMIT_STACK, 64 * MIB);
    (void)map(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS); /* moat reads limits here */
    /* 24 MiB of frames: past the 8 MiB moat maps at exec. */
    T_TRUE(recurse(384) >= 0, "24 MiB of stack under a 64 MiB RLIMIT_STACK");
}

static void test_sigbus(void)
{
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, "0123456789", 10) != 10)
        tap_bail("file");
    for (int shared = 0; shared <= 1; shared++) {
        char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE,
                       fd, 0);
        T_TRUE(p != MAP_FAILED, shared ? "shared: mmap 4 pages of a 10-byte file"
                                       : "private: mmap 4 pages of a 10-byte file");
        T_EQ(touch(p + 5, 0), 0, "the first page reads");
        T_EQ(touch(p + PAGE - 1, 0), 0, "its tail past EOF reads (zero)");
        T_TRUE(p[PAGE - 1] == 0, "as zero");
        int sig = touch(p + 2 * PAGE + 8, 0);
        T_EQ(sig, SIGBUS, "a page wholly past EOF: SIGBUS");
        T_EQ(g_code, BUS_ADRERR, "si_code BUS_ADRERR");
        T_TRUE(g_addr == p + 2 * PAGE + 8, "si_addr is the address");
        T_EQ(touch(p + PAGE, 1), SIGBUS, "a write there too");
        munmap(p, 4 * PAGE);
    }
    close(fd);
}

int main(void)
{
    tap_init("mm_limits");
    fault_init();
    test_as();
    test_data();
    test_growsdown();
    test_main_stack();
    test_sigbus();
    return tap_done();
}
