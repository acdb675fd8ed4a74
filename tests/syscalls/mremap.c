/*
 * Probe: mremap (shrink, grow in place, MREMAP_MAYMOVE, MREMAP_FIXED,
 * MREMAP_DONTUNMAP) of private, shared anonymous and shared file mappings,
 * sharing kept with a forked child; SIGBUS (BUS_ADRERR, si_addr) past the
 * end of a grown shared anonymous object and past EOF after a truncate,
 * for pages touched before it.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "fault.h"
#include "tap.h"

#define PAGE 4096UL

static char *mr(void *old, size_t olen, size_t nlen, int flags, void *new_addr)
{
    return (char *)syscall(SYS_mremap, old, olen, nlen, flags, new_addr);
}

static char *map(void *addr, size_t len, int prot, int flags, int fd)
{
    return (char *)syscall(SYS_mmap, addr, len, prot, flags, fd, 0);
}

/* LEN bytes of address space nothing maps (reserved, then released). */
static char *free_range(size_t len)
{
    char *p = map(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    if (p == MAP_FAILED)
        tap_bail("mmap");
    munmap(p, len);
    return p;
}

static int mapped(void *addr, size_t len)
{
    unsigned char vec[64];
    return syscall(SYS_mincore, addr, len, vec) == 0;
}

static void test_private(void)
{
    char *area = free_range(64 * PAGE);
    char *p = map(area, 4 * PAGE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
    memset(p, 'a', 4 * PAGE);
    T_TRUE(mr(p, 4 * PAGE, 2 * PAGE, 0, NULL) == p, "shrink in place");
    T_TRUE(!mapped(p + 2 * PAGE, PAGE), "the tail is unmapped");
    T_TRUE(mr(p, 2 * PAGE, 8 * PAGE, 0, NULL) == p, "grow in place into free space");
    T_TRUE(p[PAGE] == 'a' && p[7 * PAGE] == 0, "old data kept, the new part zeroed");
    map(p + 8 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
    T_ERRNO((long)mr(p, 8 * PAGE, 16 * PAGE, 0, NULL), ENOMEM,
            "grow in place blocked by a mapping: ENOMEM");
    char *q = mr(p, 8 * PAGE, 16 * PAGE, MREMAP_MAYMOVE, NULL);
    T_TRUE(q != MAP_FAILED && q != p, "MREMAP_MAYMOVE moves it");
    T_TRUE(q[0] == 'a' && q[15 * PAGE] == 0, "the moved mapping keeps its data");
    T_TRUE(!mapped(p, PAGE), "the old range is unmapped");
    char *dst = area + 32 * PAGE;
    char *f = mr(q, 16 * PAGE, 16 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    T_TRUE(f == dst, "MREMAP_FIXED moves it to the address");
    T_TRUE(f[0] == 'a', "with its data");
    T_ERRNO((long)mr(f, 16 * PAGE, 16 * PAGE, MREMAP_FIXED, dst - 16 * PAGE), EINVAL,
            "MREMAP_FIXED without MREMAP_MAYMOVE: EINVAL");
    T_ERRNO((long)mr(f, 16 * PAGE, 16 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, f + PAGE), EINVAL,
            "MREMAP_FIXED onto an overlapping range: EINVAL");
    T_ERRNO((long)mr(f + 1, PAGE, PAGE, 0, NULL), EINVAL, "an unaligned address: EINVAL");
    T_ERRNO((long)mr(f, PAGE, 0, 0, NULL), EINVAL, "a new length of 0: EINVAL");
    T_ERRNO((long)mr(f, PAGE, PAGE, 0x40, NULL), EINVAL, "an unknown flag: EINVAL");
    T_ERRNO((long)mr(p, PAGE, 2 * PAGE, 0, NULL), EFAULT, "an unmapped address: EFAULT");
    T_ERRNO((long)mr(f, 17 * PAGE, 18 * PAGE, MREMAP_MAYMOVE, NULL), EFAULT,
            "a range past the mapping's end: EFAULT");
    T_ERRNO((long)mr(f, 0, PAGE, MREMAP_MAYMOVE, NULL), EINVAL,
            "old length 0 of private memory: EINVAL");
    munmap(f, 16 * PAGE);
    munmap(p + 8 * PAGE, PAGE);
}

/* Linux 6.17+: a move to a fixed address without resizing may span
 * several mappings and gaps; each mapping moves as if alone. */
static void test_multi(void)
{
    char *dst = free_range(64 * PAGE);
    char *q = map(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    memset(q, 'q', 8 * PAGE);
    mprotect(q + PAGE, PAGE, PROT_READ);
    munmap(q + 3 * PAGE, PAGE);
    map(dst + 3 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1);
    char *m = mr(q, 8 * PAGE, 8 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    if (T_TRUE(m == dst, "MREMAP_FIXED moves several mappings and a gap")) {
        T_TRUE(m[0] == 'q' && m[PAGE] == 'q' && m[7 * PAGE] == 'q', "with their data");
        T_TRUE(mapped(m + 3 * PAGE, PAGE), "what the gap faces there is kept");
        T_EQ(touch(m + 3 * PAGE, 1), SIGSEGV, "as it was (read-only)");
        T_EQ(touch(m + PAGE, 1), SIGSEGV, "the read-only page stays read-only");
        T_TRUE(!mapped(q, PAGE) && !mapped(q + 7 * PAGE, PAGE), "the old range is unmapped");
    }
    char *g = map(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    munmap(g, PAGE);
    T_ERRNO((long)mr(g, 8 * PAGE, 8 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 32 * PAGE),
            EFAULT, "a range starting in a gap: EFAULT");
    mprotect(g + 2 * PAGE, PAGE, PROT_READ);
    T_ERRNO((long)mr(g + PAGE, 7 * PAGE, 9 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 32 * PAGE),
            EFAULT, "growing several mappings: EFAULT");
    T_TRUE(mr(g + PAGE, 7 * PAGE, 7 * PAGE, MREMAP_MAYMOVE, NULL) == g + PAGE,
           "the same size without a move: nothing happens");
    T_TRUE(mr(g + PAGE, 7 * PAGE, 4 * PAGE, 0, NULL) == g + PAGE, "shrinking several mappings");
    T_TRUE(!mapped(g + 5 * PAGE, PAGE) && mapped(g + 4 * PAGE, PAGE), "unmaps the tail");
    munmap(dst, 64 * PAGE);
    munmap(g, 8 * PAGE);
}

static void test_dontunmap(void)
{
    int rw = PROT_READ | PROT_WRITE;
    char *p = map(NULL, 4 * PAGE, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    memset(p, 'd', 4 * PAGE);
    T_ERRNO((long)mr(p, 4 * PAGE, 4 * PAGE, MREMAP_DONTUNMAP, NULL), EINVAL,
            "MREMAP_DONTUNMAP without MREMAP_MAYMOVE: EINVAL");
    T_ERRNO((long)mr(p, 4 * PAGE, 8 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, NULL), EINVAL,
            "MREMAP_DONTUNMAP growing: EINVAL");
    T_ERRNO((long)mr(p, 4 * PAGE, 2 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, NULL), EINVAL,
            "MREMAP_DONTUNMAP shrinking: EINVAL");
    char *q = mr(p, 4 * PAGE, 4 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, NULL);
    if (T_TRUE(q != MAP_FAILED && q != p, "MREMAP_DONTUNMAP of private memory moves it")) {
        T_TRUE(q[0] == 'd' && q[4 * PAGE - 1] == 'd', "the new range has the data");
        T_TRUE(mapped(p, 4 * PAGE), "the old range stays mapped");
        T_TRUE(p[0] == 0 && p[4 * PAGE - 1] == 0, "and reads zeros");
        p[0] = 'n';
        T_TRUE(q[0] == 'd', "a store there does not reach the moved pages");
        munmap(q, 4 * PAGE);
    }
    T_ERRNO((long)mr(p, 8 * PAGE, 8 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, NULL), EFAULT,
            "MREMAP_DONTUNMAP past the mapping: EFAULT");
    char *dst = free_range(4 * PAGE);
    memset(p, 'e', 4 * PAGE);
    q = mr(p, 4 * PAGE, 4 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    T_TRUE(q == dst && q[PAGE] == 'e' && p[PAGE] == 0, "MREMAP_DONTUNMAP with MREMAP_FIXED");
    munmap(q, 4 * PAGE);
    munmap(p, 4 * PAGE);

    char *s = map(NULL, 4 * PAGE, rw, MAP_SHARED | MAP_ANONYMOUS, -1);
    memset(s, 's', 4 * PAGE);
    q = mr(s, 4 * PAGE, 4 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, NULL);
    if (T_TRUE(q != MAP_FAILED, "MREMAP_DONTUNMAP of shared anonymous memory")) {
        T_TRUE(q[0] == 's' && s[0] == 's', "both ranges show the shared pages");
        q[1] = 'X';
        T_EQ(s[1], 'X', "and stay one memory");
        munmap(q, 4 * PAGE);
    }
    munmap(s, 4 * PAGE);

    int fd = open("dun", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 4 * PAGE) != 0 || pwrite(fd, "file", 4, 0) != 4)
        tap_bail("file");
    char *fp = map(NULL, 4 * PAGE, rw, MAP_PRIVATE, fd);
    fp[0] = 'F';
    q = mr(fp, 4 * PAGE, 4 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, NULL);
    if (T_TRUE(q != MAP_FAILED, "MREMAP_DONTUNMAP of a private file mapping")) {
        T_EQ(q[0], 'F', "the private copy moved");
        T_EQ(fp[0], 'f', "the old range reads the file again");
        munmap(q, 4 * PAGE);
    }
    munmap(fp, 4 * PAGE);
    char *fs = map(NULL, 4 * PAGE, rw, MAP_SHARED, fd);
    fs[1] = 'S';
    q = mr(fs, 4 * PAGE, 4 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, NULL);
    if (T_TRUE(q != MAP_FAILED, "MREMAP_DONTUNMAP of a shared file mapping")) {
        T_TRUE(q[1] == 'S' && fs[1] == 'S', "both ranges show the file");
        munmap(q, 4 * PAGE);
    }
    munmap(fs, 4 * PAGE);
    close(fd);

    char *l = map(NULL, 4 * PAGE, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1);
    q = mr(l, 4 * PAGE, 4 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, NULL);
    T_TRUE(q != MAP_FAILED, "MREMAP_DONTUNMAP of locked memory");
    munmap(q, 4 * PAGE);
    munmap(l, 4 * PAGE);
    char *n = map(NULL, 4 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    q = mr(n, 4 * PAGE, 4 * PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, NULL);
    T_TRUE(q != MAP_FAILED, "MREMAP_DONTUNMAP of PROT_NONE memory");
    munmap(q, 4 * PAGE);
    munmap(n, 4 * PAGE);
}

/* A forked child that checks M[AT] == WANT (and SIGBUS at M + BUS_AT) once
 * the parent has done what it tests: child_ok() releases it, then waits. */
static int g_go[2] = {-1, -1};

static int child_reads(char *m, size_t at, char want, size_t bus_at)
{
    if (pipe(g_go) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(g_go[1]);
        if (read(g_go[0], &c, 1) != 1)
            _exit(2);
        int ok = m[at] == want;
        if (bus_at)
            ok &= touch(m + bus_at, 0) == SIGBUS;
        _exit(ok ? 0 : 1);
    }
    close(g_go[0]);
    return pid;
}

static int child_ok(pid_t pid)
{
    int st;
    int go = write(g_go[1], "g", 1) == 1;
    close(g_go[1]);
    return go && pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_shared_anon_grow(void)
{
    char *area = free_range(64 * PAGE);
    char *s = map(area, 4 * PAGE, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1);
    s[0] = 'x';
    pid_t pid = child_reads(s, PAGE, 'y', 0);
    char *g = mr(s, 4 * PAGE, 8 * PAGE, 0, NULL);
    T_TRUE(g == s, "shared anonymous: grow in place");
    g[PAGE] = 'y';
    T_TRUE(child_ok(pid), "a forked child still shares the grown mapping's pages");
    T_EQ(touch(g + 3 * PAGE, 1), 0, "the object's last page is writable");
    T_EQ(touch(g + 5 * PAGE + 3, 0), SIGBUS, "past the object's end: SIGBUS");
    T_EQ(g_code, BUS_ADRERR, "si_code BUS_ADRERR");
    T_TRUE(g_addr == g + 5 * PAGE + 3, "si_addr is the address");
    char *m = mr(g, 8 * PAGE, 16 * PAGE, MREMAP_MAYMOVE, NULL);
    T_TRUE(m != MAP_FAILED, "shared anonymous: grow with MREMAP_MAYMOVE");
    T_TRUE(m[0] == 'x' && m[PAGE] == 'y', "the data comes along");
    T_EQ(touch(m + 12 * PAGE, 0), SIGBUS, "past the object's end: SIGBUS");

    char *t = map(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
    memset(t, 't', 8 * PAGE);
    pid = child_reads(t, 6 * PAGE, 'T', 0);
    T_TRUE(mr(t, 8 * PAGE, 4 * PAGE, 0, NULL) == t, "shrink a shared mapping");
    char *t2 = mr(t, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE, NULL);
    T_TRUE(t2 != MAP_FAILED, "grow it back");
    T_EQ(touch(t2 + 6 * PAGE, 0), 0, "pages within the object are there again");
    t2[6 * PAGE] = 'T';
    T_TRUE(child_ok(pid), "and shared with the child");
    munmap(m, 16 * PAGE);
    munmap(t2, 8 * PAGE);
}

static void test_shared_file_grow(void)
{
    char c = 0;
    char *area = free_range(64 * PAGE);
    int fd = open("grow", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 6 * PAGE) != 0)
        tap_bail("file");
    char *f = map(area, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd);
    f[0] = 'f';
    char *g = mr(f, 2 * PAGE, 8 * PAGE, 0, NULL);
    T_TRUE(g == f, "shared file: grow in place");
    T_EQ(pwrite(fd, "Z", 1, 5 * PAGE), 1, "pwrite into the grown part");
    T_EQ(g[5 * PAGE], 'Z', "the grown part maps the file");
    g[4 * PAGE] = 'q';
    T_TRUE(pread(fd, &c, 1, 4 * PAGE) == 1 && c == 'q', "read(2) sees a store there");
    T_EQ(touch(g + 6 * PAGE + 1, 0), SIGBUS, "a grown page past EOF: SIGBUS");
    T_TRUE(g_addr == g + 6 * PAGE + 1, "si_addr is the address");
    pid_t pid = child_reads(g, 4 * PAGE, 'r', 0);
    char *m = mr(g, 8 * PAGE, 32 * PAGE, MREMAP_MAYMOVE, NULL);
    T_TRUE(m != MAP_FAILED && m[5 * PAGE] == 'Z', "shared file: grow with MREMAP_MAYMOVE");
    m[4 * PAGE] = 'r';
    T_TRUE(child_ok(pid), "a forked child sees the store through the file");

    /* Truncate: touched pages past the new end raise SIGBUS. */
    m[3 * PAGE] = '3';
    char *pv = map(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
    pv[0] = 'p';
    pv[3 * PAGE] = 'p';
    pid = child_reads(m, 0, 'f', 3 * PAGE);
    T_OK(ftruncate(fd, 2 * PAGE - 10), "truncate the file under its mappings");
    T_EQ(touch(m + 3 * PAGE, 0), SIGBUS, "shared: a page touched before, now past EOF: SIGBUS");
    T_EQ(g_code, BUS_ADRERR, "si_code BUS_ADRERR");
    T_TRUE(g_addr == m + 3 * PAGE, "si_addr is the address");
    T_EQ(touch(m + 2 * PAGE - 1, 0), 0, "the page holding EOF still reads");
    T_EQ(m[2 * PAGE - 1], 0, "its tail past EOF reads zero");
    T_TRUE(child_ok(pid), "the forked child gets SIGBUS there too");
    T_EQ(touch(pv + 3 * PAGE, 0), SIGBUS, "private: a copied page past EOF: SIGBUS");
    T_TRUE(g_addr == pv + 3 * PAGE, "si_addr is the address");
    T_TRUE(touch(pv, 0) == 0 && pv[0] == 'p', "a private page within EOF keeps its copy");
    T_OK(ftruncate(fd, 4 * PAGE), "grow the file again");
    T_TRUE(touch(m + 3 * PAGE, 0) == 0 && m[3 * PAGE] == 0, "shared: the page is back, zeroed");
    T_TRUE(touch(pv + 3 * PAGE, 0) == 0 && pv[3 * PAGE] == 0,
           "private: the page reads the file again");
    munmap(pv, 4 * PAGE);
    munmap(m, 32 * PAGE);
    close(fd);
}

int main(void)
{
    tap_init("mremap");
    fault_init();
    test_private();
    test_multi();
    test_dontunmap();
    test_shared_anon_grow();
    test_shared_file_grow();
    return tap_done();
}
