/*
 * Probe: MAP_SHARED file mappings (coherent with read/write and across
 * fork, surviving unlink), their permission rules, msync, and copy-on-write
 * private memory across fork.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "tap.h"

#define PAGE 4096UL

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/* Runs FN in a child; returns its exit status, or -1. */
static int in_child(int (*fn)(void *), void *arg)
{
    int st;
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static int child_writes_shared(void *arg)
{
    char *m = arg;
    m[PAGE + 1] = 'C';
    return m[0] == 'W' ? 0 : 1;
}

static void test_shared_file(void)
{
    char buf[16] = {0};
    int fd = T_OK(open("shared", O_RDWR | O_CREAT | O_TRUNC, 0600), "create a file");
    T_OK(ftruncate(fd, 2 * PAGE), "ftruncate to two pages");
    char *m = sys_mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (!T_TRUE(m != MAP_FAILED, "mmap MAP_SHARED read-write"))
        return;
    T_TRUE(m[0] == 0 && m[2 * PAGE - 1] == 0, "a fresh shared mapping reads zeros");

    m[0] = 'W';
    T_EQ(pread(fd, buf, 1, 0), 1, "pread after a store through the mapping");
    T_EQ(buf[0], 'W', "read(2) sees the store at once");
    T_EQ(pwrite(fd, "P", 1, PAGE + 7), 1, "pwrite into the second page");
    T_EQ(m[PAGE + 7], 'P', "the mapping sees write(2) at once");

    T_EQ(in_child(child_writes_shared, m), 0, "a forked child sees the parent's store");
    T_EQ(m[PAGE + 1], 'C', "the parent sees the child's store");
    T_EQ(pread(fd, buf, 1, PAGE + 1), 1, "pread the child's byte");
    T_EQ(buf[0], 'C', "so does read(2)");

    char *m2 = sys_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, PAGE);
    T_TRUE(m2 != MAP_FAILED && m2[7] == 'P', "a second mapping at an offset shares the pages");
    T_OK(msync(m, 2 * PAGE, MS_SYNC), "msync MS_SYNC");
    T_OK(msync(m, PAGE, MS_ASYNC | MS_INVALIDATE), "msync MS_ASYNC|MS_INVALIDATE");

    T_OK(ftruncate(fd, 4 * PAGE), "grow the file under the mapping");
    T_EQ(pwrite(fd, "G", 1, 3 * PAGE), 1, "write into the grown part");
    char *m3 = sys_mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    T_TRUE(m3 != MAP_FAILED && m3[3 * PAGE] == 'G' && m3[0] == 'W',
           "a mapping of the grown file sees old and new data");
    m3[PAGE + 7] = 'Q';
    T_EQ(m[PAGE + 7], 'Q', "two mappings of one file share the pages");

    T_OK(unlink("shared"), "unlink the mapped file");
    T_OK(close(fd), "close it");
    m[5] = 'U';
    T_EQ(m3[5], 'U', "mappings outlive unlink and close");
    T_OK(munmap(m, 2 * PAGE), "munmap");
    T_OK(munmap(m2, PAGE), "munmap the second mapping");
    T_OK(munmap(m3, 4 * PAGE), "munmap the third mapping");
}

static void test_permissions(void)
{
    int fd = T_OK(open("ro", O_RDWR | O_CREAT | O_TRUNC, 0600), "create another file");
    T_EQ(write(fd, "hello", 5), 5, "write it");
    close(fd);
    fd = T_OK(open("ro", O_RDONLY), "open it read-only");
    T_TRUE(sys_mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
                   errno == EACCES,
           "MAP_SHARED|PROT_WRITE on a read-only fd is EACCES");
    char *m = sys_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    T_TRUE(m != MAP_FAILED && memcmp(m, "hello", 5) == 0, "MAP_SHARED|PROT_READ on it works");
    T_ERRNO(mprotect(m, PAGE, PROT_READ | PROT_WRITE), EACCES,
            "mprotect(PROT_WRITE) of that mapping is EACCES");
    char *p = sys_mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    T_TRUE(p != MAP_FAILED, "MAP_PRIVATE|PROT_WRITE on a read-only fd works");
    p[0] = 'j';
    T_EQ(m[0], 'h', "a private copy's store stays private");
    munmap(p, PAGE);
    munmap(m, PAGE);
    close(fd);

    fd = T_OK(open("ro", O_WRONLY), "open it write-only");
    T_TRUE(sys_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES,
           "mmap of a write-only fd is EACCES");
    close(fd);

    /* A file of the image (read-only lower layer inside moat). */
    char want[64];
    fd = T_OK(open("/bin/sh", O_RDONLY), "open /bin/sh");
    T_EQ(pread(fd, want, sizeof(want), 0), (long long)sizeof(want), "read its start");
    m = sys_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    T_TRUE(m != MAP_FAILED && memcmp(m, want, sizeof(want)) == 0,
           "MAP_SHARED|PROT_READ of an image file shows its contents");
    munmap(m, PAGE);
    close(fd);
}

struct cow {
    char *priv;
    size_t len;
};

static int child_cow(void *arg)
{
    struct cow *c = arg;
    int bad = 0;
    for (size_t i = 0; i < c->len; i += PAGE)
        bad |= c->priv[i] != (char)(i / PAGE);
    for (size_t i = 0; i < c->len; i += PAGE)
        c->priv[i] = 'c';
    for (size_t i = 0; i < c->len; i += PAGE)
        bad |= c->priv[i] != 'c';
    return bad;
}

static void test_cow(void)
{
    struct cow c = {.len = 4 << 20};
    c.priv = sys_mmap(NULL, c.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!T_TRUE(c.priv != MAP_FAILED, "map 4 MiB private"))
        return;
    for (size_t i = 0; i < c.len; i += PAGE)
        c.priv[i] = (char)(i / PAGE);
    T_EQ(in_child(child_cow, &c), 0, "a child sees the parent's memory and rewrites it");
    int same = 1;
    for (size_t i = 0; i < c.len; i += PAGE)
        same &= c.priv[i] == (char)(i / PAGE);
    T_TRUE(same, "the parent's private memory is unchanged by the child");

    /* The kernel writing into shared-since-fork memory (read(2) into it). */
    int fds[2];
    T_OK(pipe(fds), "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        int ok = read(fds[0], c.priv, 3) == 3 && memcmp(c.priv, "abc", 3) == 0;
        _exit(ok ? 0 : 1);
    }
    T_EQ(write(fds[1], "abc", 3), 3, "write to the child");
    int st = 0;
    waitpid(pid, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "read(2) in the child fills its copy");
    T_TRUE(c.priv[0] == 0 && c.priv[PAGE] == 1, "and leaves the parent's alone");
    c.priv[0] = 'p';
    T_EQ(c.priv[0], 'p', "the parent writes its memory after the child exited");
    close(fds[0]);
    close(fds[1]);
    munmap(c.priv, c.len);
}

int main(void)
{
    tap_init("mmap_shared");
    test_shared_file();
    test_permissions();
    test_cow();
    return tap_done();
}
