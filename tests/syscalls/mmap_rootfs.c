/*
 * Private and read-only shared mappings of a file of the read-only rootfs
 * (the probe's own binary): moat maps the file's pages from one cache
 * shared by every mapping, copy-on-write, so writes through one mapping,
 * in a forked child, or MADV_DONTNEED must behave as private copies do.
 */
#include "tap.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096L

static char want[3 * PAGE];

int main(void)
{
    tap_init("mmap_rootfs");
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    T_OK(fd, "open the probe's own binary");
    struct stat st;
    T_OK(fstat(fd, &st), "fstat");
    T_TRUE(st.st_size > 3 * PAGE, "the binary is more than three pages");
    T_EQ(pread(fd, want, sizeof(want), 0), (long)sizeof(want), "pread its first pages");

    unsigned char *a = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    unsigned char *b = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    T_TRUE(a != MAP_FAILED && b != MAP_FAILED, "two private mappings");
    T_TRUE(memcmp(a, want, sizeof(want)) == 0 && memcmp(b, want, sizeof(want)) == 0,
           "both read the file");
    unsigned char *c = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE);
    T_TRUE(c != MAP_FAILED && memcmp(c, want + PAGE, 2 * PAGE) == 0,
           "a mapping at an offset reads the file there");

    T_OK(mprotect(b, 3 * PAGE, PROT_READ | PROT_WRITE), "mprotect one writable");
    b[0] = 'X';
    b[PAGE + 5] = 'Y';
    T_TRUE(b[0] == 'X' && b[PAGE + 5] == 'Y', "the writes show in that mapping");
    T_TRUE(memcmp(a, want, sizeof(want)) == 0, "the other mapping still reads the file");
    T_TRUE(memcmp(c, want + PAGE, 2 * PAGE) == 0, "so does the one at an offset");
    char now[16];
    T_EQ(pread(fd, now, sizeof(now), 0), 16L, "pread after the write");
    T_TRUE(memcmp(now, want, sizeof(now)) == 0, "the file is unchanged");

    unsigned char *w = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    T_TRUE(w != MAP_FAILED && memcmp(w, want, sizeof(want)) == 0,
           "a writable private mapping reads the file");
    w[2 * PAGE] = 'W';
    T_TRUE(w[2 * PAGE] == 'W' && a[2 * PAGE] == (unsigned char)want[2 * PAGE],
           "its write stays in it");

    unsigned char *d = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    T_TRUE(d != MAP_FAILED && memcmp(d, want, sizeof(want)) == 0,
           "a mapping made after the write reads the file");

    int p[2];
    T_OK(pipe(p), "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        char ok = 1;
        if (mprotect(a, 3 * PAGE, PROT_READ | PROT_WRITE) != 0)
            ok = 0;
        a[1] = 'C';
        if (b[0] != 'X' || a[1] != 'C' || memcmp(d, want, sizeof(want)) != 0)
            ok = 0;
        b[0] = 'D';
        if (write(p[1], &ok, 1) != 1)
            _exit(2);
        _exit(0);
    }
    char ok = 0;
    T_EQ(read(p[0], &ok, 1), 1L, "the child reports");
    T_TRUE(ok, "the child sees the parent's private write and its own");
    int status;
    T_EQ(waitpid(pid, &status, 0), (long)pid, "wait");
    T_TRUE(a[1] == want[1] && b[0] == 'X', "the child's writes stay in the child");

    T_OK(madvise(b, 3 * PAGE, MADV_DONTNEED), "MADV_DONTNEED on the written mapping");
    T_TRUE(memcmp(b, want, sizeof(want)) == 0, "it reads the file again");

    unsigned char *s = mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    T_TRUE(s != MAP_FAILED && memcmp(s, want, sizeof(want)) == 0,
           "a read-only MAP_SHARED mapping reads the file");
    T_ERRNO(mprotect(s, PAGE, PROT_READ | PROT_WRITE), EACCES,
            "it cannot become writable (opened read-only)");

    /* The last page: zero past the end of the file. */
    off_t last = (st.st_size - 1) & ~(PAGE - 1);
    unsigned char *e = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, last);
    T_TRUE(e != MAP_FAILED, "map the file's last page");
    long tail = st.st_size - last, nonzero = 0;
    for (long i = tail; i < PAGE; i++)
        nonzero += e[i] != 0;
    T_EQ(nonzero, 0L, "past the end of the file it reads zero");

    /* Far past the end of the file (moat copies such a mapping). */
    size_t big = ((size_t)st.st_size & ~(PAGE - 1)) + (64L << 20);
    unsigned char *h = mmap(NULL, big, PROT_READ, MAP_PRIVATE, fd, 0);
    T_TRUE(h != MAP_FAILED && memcmp(h, want, sizeof(want)) == 0,
           "a mapping 64 MiB longer than the file reads it");
    T_OK(munmap(h, big), "munmap it");

    /* ld.so's way: a span mapped at offset 0, then part of it replaced by
     * another MAP_FIXED mapping of the same file. */
    unsigned char *f = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    unsigned char *g = mmap(f + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 2 * PAGE);
    T_TRUE(g == f + PAGE, "MAP_FIXED over part of a file mapping");
    T_TRUE(memcmp(f, want, PAGE) == 0 && memcmp(g, want + 2 * PAGE, PAGE) == 0 &&
           memcmp(f + 2 * PAGE, want + 2 * PAGE, PAGE) == 0,
           "each part reads its own offset");
    T_OK(munmap(f, 3 * PAGE), "munmap");
    T_TRUE(memcmp(a, want, sizeof(want)) == 0, "the first mapping is untouched by it all");
    close(fd);
    return tap_done();
}
