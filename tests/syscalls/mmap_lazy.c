/*
 * Large private mappings of a file of the read-only rootfs (the probe's own
 * binary, ~800 KiB), which moat fills lazily from the file's shared cache
 * (a fault fills and maps a window of pages): first touches in any order,
 * the kernel's own reads of pages the app never touched (write(2) from the
 * mapping, a futex word, a path), fork before any touch, copy-on-write after
 * mprotect, MADV_DONTNEED, mremap and MAP_FIXED over part of it must all see
 * the file's bytes, writes must stay in their own mapping and process, and
 * the file itself never changes.
 */
#include "tap.h"

#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fault.h"

#define PAGE 4096L

static unsigned char *want;
static size_t size, npages;

static int same(const unsigned char *m, size_t off, size_t n)
{
    return memcmp(m + off, want + off, n) == 0;
}

static unsigned char *map_ro(int fd)
{
    unsigned char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    return m == MAP_FAILED ? NULL : m;
}

/* Runs FN in a child; returns whether it exited with 0. */
static int in_child(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg) ? 0 : 1);
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

static int child_reads_all(void *arg)
{
    return same(arg, 0, size);
}

static int child_writes_own(void *arg)
{
    unsigned char *m = arg;
    if (mprotect(m, size, PROT_READ | PROT_WRITE) != 0)
        return 0;
    m[7 * PAGE + 1] = 'c';
    m[size - 1] ^= 0xff;
    return m[7 * PAGE + 1] == 'c' && same(m, 0, 7 * PAGE) && same(m, 8 * PAGE, size - 8 * PAGE - 1);
}

/* The written mapping C (see main) in a child: its writes, and the file's
 * bytes on every other page, filled or not when the parent forked. */
static size_t g_w1, g_w2;
static int child_reads_written(void *arg)
{
    unsigned char *m = arg;
    return m[3 * PAGE] == 'X' && m[g_w1] == 'Y' && same(m, 0, 3 * PAGE) &&
           same(m, 3 * PAGE + 1, g_w1 - 3 * PAGE - 1) && same(m, g_w1 + 1, g_w2 - g_w1 - 1);
}

static unsigned char *g_t;
static size_t g_toff;
static int child_reads_small(void *arg)
{
    (void)arg;
    return memcmp(g_t, want + g_toff, 40 * PAGE) == 0;
}

int main(void)
{
    tap_init("mmap_lazy");
    fault_init();
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    T_OK(fd, "open the probe's own binary");
    struct stat st;
    T_OK(fstat(fd, &st), "fstat");
    size = (size_t)st.st_size;
    npages = (size + PAGE - 1) / PAGE;
    T_TRUE(size > 512 * 1024, "the binary is more than 512 KiB");
    want = malloc(size);
    T_EQ(pread(fd, want, size, 0), (long)size, "pread all of it");

    /* The kernel reads pages the app never touched. */
    unsigned char *a = map_ro(fd);
    T_TRUE(a != NULL, "a private read-only mapping of all of it");
    int p[2];
    T_OK(pipe(p), "pipe");
    unsigned char buf[3 * PAGE];
    /* Near the end: past what the ELF loader maps (symbols, strings), so
     * nothing read those pages before. */
    size_t mid = (npages - 8) * PAGE - 100;
    T_EQ(write(p[1], a + mid, sizeof(buf)), (long)sizeof(buf), "write(2) from untouched pages");
    T_EQ(read(p[0], buf, sizeof(buf)), (long)sizeof(buf), "read them back");
    T_TRUE(memcmp(buf, want + mid, sizeof(buf)) == 0, "the kernel read the file's bytes");
    uint32_t *word = (uint32_t *)(a + (npages - 3) * PAGE + 64);
    uint32_t val;
    memcpy(&val, want + (npages - 3) * PAGE + 64, 4);
    T_ERRNO(syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val ^ 1, NULL, NULL, 0), EAGAIN,
            "FUTEX_WAIT on an untouched page compares the file's word");

    /* A small writable one nobody touched, then fork (which may copy small
     * writable mappings for the child at once). */
    size_t toff = (npages - 41) * PAGE;
    unsigned char *t = mmap(NULL, 40 * PAGE, PROT_READ, MAP_PRIVATE, fd, (off_t)toff);
    T_TRUE(t != MAP_FAILED, "a 160 KiB mapping near the end of the file");
    T_OK(mprotect(t, 40 * PAGE, PROT_READ | PROT_WRITE), "made writable, untouched");
    g_t = t;
    g_toff = toff;
    T_TRUE(in_child(child_reads_small, NULL), "a child reads the file through it");
    T_TRUE(memcmp(t, want + toff, 40 * PAGE) == 0, "so does the parent");

    /* First touches out of order, then everything. */
    int ok = 1;
    for (size_t i = npages; i-- > 0;)
        if (i % 13 == 5)
            ok &= a[i * PAGE + (i % 7) * 3] == want[i * PAGE + (i % 7) * 3] || i * PAGE >= size;
    T_TRUE(ok, "pages touched backwards with a stride read the file");
    T_TRUE(same(a, 0, size), "the whole mapping reads the file");
    long tail = (long)(npages * PAGE - size), nonzero = 0;
    for (long i = 0; i < tail; i++)
        nonzero += a[size + i] != 0;
    T_EQ(nonzero, 0L, "the rest of the last page reads zero");

    /* Fork before any touch: child and parent both read the file. */
    unsigned char *b = map_ro(fd);
    T_TRUE(b != NULL && in_child(child_reads_all, b), "a child reads an untouched mapping");
    T_TRUE(same(b, 0, size), "so does the parent afterwards");

    /* Writes after mprotect, on pages never touched before. */
    unsigned char *c = map_ro(fd);
    unsigned char *d = map_ro(fd);
    T_TRUE(c != NULL && d != NULL, "two more mappings");
    T_OK(mprotect(c, size, PROT_READ | PROT_WRITE), "mprotect one writable");
    c[3 * PAGE] = 'X';
    g_w1 = (npages / 2) * PAGE + 9;
    g_w2 = size - 2;
    c[g_w1] = 'Y';
    c[g_w2] ^= 0x5a;
    T_TRUE(c[3 * PAGE] == 'X' && c[(npages / 2) * PAGE + 9] == 'Y', "the writes show there");
    T_TRUE(same(c, 0, 3 * PAGE) && same(c, 3 * PAGE + 1, 4 * PAGE),
           "the rest of its written pages reads the file");
    T_TRUE(same(d, 0, size) && same(a, 0, size), "the other mappings still read the file");
    unsigned char now[PAGE];
    T_EQ(pread(fd, now, PAGE, 3 * PAGE), PAGE, "pread the written page");
    T_TRUE(memcmp(now, want + 3 * PAGE, PAGE) == 0, "the file is unchanged");
    T_TRUE(in_child(child_reads_written, c), "a child sees the parent's writes and the file");
    T_TRUE(in_child(child_writes_own, d), "a child writes its own copy");
    T_TRUE(same(d, 0, size), "the parent's mapping still reads the file");
    T_TRUE(c[3 * PAGE] == 'X', "and the parent's writes are still there");

    /* MADV_DONTNEED drops the private copy: the file's bytes again. */
    T_OK(madvise(c, size, MADV_DONTNEED), "MADV_DONTNEED on the written mapping");
    T_TRUE(same(c, 0, size), "it reads the file again");

    /* mremap an untouched mapping elsewhere. */
    unsigned char *e = map_ro(fd);
    unsigned char *to = mmap(NULL, size + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_TRUE(e != NULL && to != MAP_FAILED, "an untouched mapping and a place to move it");
    unsigned char *moved = mremap(e, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to + PAGE);
    T_TRUE(moved == to + PAGE && same(moved, 0, size), "moved with mremap, it reads the file");

    /* Grown in place or moved by mremap before anything read it. */
    size_t part = (npages / 3) * PAGE;
    unsigned char *gr = mmap(NULL, part, PROT_READ, MAP_PRIVATE, fd, 0);
    T_TRUE(gr != MAP_FAILED, "a mapping of the file's first third");
    unsigned char *grown = mremap(gr, part, npages * PAGE, MREMAP_MAYMOVE);
    T_TRUE(grown != MAP_FAILED && same(grown, 0, size), "grown to all of it, it reads the file");

    /* ld.so's way: a span, then MAP_FIXED pieces of it at other offsets. */
    unsigned char *f = map_ro(fd);
    size_t half = (npages / 2) * PAGE;
    unsigned char *g = mmap(f + PAGE, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd,
                            half);
    T_TRUE(f != NULL && g == f + PAGE, "MAP_FIXED over part of an untouched mapping");
    T_TRUE(same(f, 0, PAGE) && memcmp(g, want + half, 2 * PAGE) == 0 &&
               same(f, 3 * PAGE, size - 3 * PAGE),
           "each part reads its own offset");

    /* Past the end of the file: SIGBUS, as for any file mapping. */
    unsigned char *h = mmap(NULL, npages * PAGE + 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    T_TRUE(h != MAP_FAILED, "a mapping two pages longer than the file");
    T_EQ(touch((char *)h + npages * PAGE + PAGE, 0), SIGBUS, "a page past the end: SIGBUS");
    T_TRUE(g_addr == h + npages * PAGE + PAGE, "si_addr is the address");
    T_EQ(touch((char *)h + (npages - 1) * PAGE, 0), 0, "the file's last page reads");
    T_TRUE(same(h, 0, size), "and the mapping reads the file");
    close(fd);
    return tap_done();
}
