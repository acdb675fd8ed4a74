/*
 * read/write/pread/pwrite between regular files and app buffers at the
 * edges moat's one-copy path (data moved straight between the file and
 * the app's pages) must get right: buffers that end in an inaccessible
 * page, read-only buffers, copy-on-write pages after fork, a buffer that
 * is a shared mapping of the file itself. A file in the probe's temp dir
 * (tmpfs in moat) and one of the rootfs (the probe's binary).
 */
#include "tap.h"

#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096L

static void edges(int fd, const char *what)
{
    char name[160];
    char *two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(two + PAGE, PAGE, PROT_NONE);
    lseek(fd, 0, SEEK_SET);
    snprintf(name, sizeof(name), "%s: read into a buffer whose second page is PROT_NONE: the first page", what);
    T_EQ(read(fd, two, 2 * PAGE), PAGE, name);
    snprintf(name, sizeof(name), "%s: the offset advanced by what was read", what);
    T_EQ(lseek(fd, 0, SEEK_CUR), PAGE, name);
    snprintf(name, sizeof(name), "%s: read into a PROT_NONE page: EFAULT", what);
    T_ERRNO(read(fd, two + PAGE, 16), EFAULT, name);
    snprintf(name, sizeof(name), "%s: ... and the offset stays", what);
    T_EQ(lseek(fd, 0, SEEK_CUR), PAGE, name);
    mprotect(two, PAGE, PROT_READ);
    snprintf(name, sizeof(name), "%s: pread into a read-only buffer: EFAULT", what);
    T_ERRNO(pread(fd, two, 16, 0), EFAULT, name);
    snprintf(name, sizeof(name), "%s: pread of 0 bytes into it: 0", what);
    T_EQ(pread(fd, two, 0, 0), 0, name);
    munmap(two, 2 * PAGE);
}

int main(void)
{
    tap_init("rw_direct");
    static char data[3 * PAGE];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7 + 1);

    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
    T_OK(fd, "create a file");
    T_EQ(write(fd, data, sizeof(data)), (long)sizeof(data), "write three pages");
    edges(fd, "temp file");
    int rfd = open("/proc/self/exe", O_RDONLY);
    T_OK(rfd, "open the probe's binary");
    edges(rfd, "rootfs file");

    /* Writes from a buffer that ends in an inaccessible page. */
    char *two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(two, 'w', PAGE);
    mprotect(two + PAGE, PAGE, PROT_NONE);
    T_EQ(pwrite(fd, two, 2 * PAGE, PAGE), PAGE, "pwrite from a buffer whose second page is PROT_NONE: the first page");
    char back[PAGE];
    T_EQ(pread(fd, back, PAGE, PAGE), PAGE, "pread it back");
    T_TRUE(memcmp(back, two, PAGE) == 0, "the first page was written");
    T_EQ(pread(fd, back, PAGE, 2 * PAGE), PAGE, "pread the page after");
    T_TRUE(memcmp(back, data + 2 * PAGE, PAGE) == 0, "the page after is untouched");
    T_ERRNO(pwrite(fd, two + PAGE, 16, 0), EFAULT, "pwrite from a PROT_NONE page: EFAULT");
    struct stat st;
    T_OK(fstat(fd, &st), "fstat");
    T_EQ(st.st_size, (long)sizeof(data), "the size did not change");
    munmap(two, 2 * PAGE);

    /* A buffer shared copy-on-write with a forked child. */
    char *cow = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(cow, 'p', PAGE);
    int p[2];
    T_OK(pipe(p), "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        char ok = pread(fd, cow, PAGE, 0) == PAGE && memcmp(cow, data, PAGE) == 0;
        if (write(p[1], &ok, 1) != 1)
            _exit(2);
        _exit(0);
    }
    char ok = 0;
    T_EQ(read(p[0], &ok, 1), 1L, "the child reports");
    T_TRUE(ok, "the child read the file into its copy-on-write page");
    int status;
    T_EQ(waitpid(pid, &status, 0), (long)pid, "wait");
    T_TRUE(cow[0] == 'p' && cow[PAGE - 1] == 'p', "the parent's page is unchanged");
    T_EQ(pread(fd, cow, PAGE, 0), PAGE, "the parent reads into it too");
    T_TRUE(memcmp(cow, data, PAGE) == 0, "and sees the file");

    /* Read from the file into a shared mapping of the file itself. */
    char *m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    T_TRUE(m != MAP_FAILED, "map the file shared");
    T_EQ(pread(fd, m + 2 * PAGE, PAGE, 0), PAGE, "pread its first page into its third");
    T_TRUE(memcmp(m + 2 * PAGE, data, PAGE) == 0, "the mapping shows the first page there");
    T_EQ(pread(fd, back, PAGE, 2 * PAGE), PAGE, "pread the third page");
    T_TRUE(memcmp(back, data, PAGE) == 0, "the file has it too");
    T_EQ(pwrite(fd, m + 2 * PAGE, PAGE, 0), PAGE, "pwrite from the mapping into the file");
    munmap(m, 3 * PAGE);

    /* Appending past the end in a page that was partly written, then a gap. */
    T_OK(ftruncate(fd, 100), "truncate to 100 bytes");
    T_EQ(pwrite(fd, "xyz", 3, 200), 3L, "pwrite past the end");
    char z[300];
    T_EQ(pread(fd, z, sizeof(z), 0), 203L, "the file is 203 bytes");
    int zeros = 1;
    for (int i = 100; i < 200; i++)
        zeros &= z[i] == 0;
    T_TRUE(zeros && memcmp(z + 200, "xyz", 3) == 0 && memcmp(z, data, 100) == 0,
           "the gap reads zero, the data is in place");
    T_EQ(pwrite(fd, "ab", 2, 8190), 2L, "pwrite across nothing into the second page");
    T_EQ(pread(fd, z, sizeof(z), 203), 300L, "read the gap after the old end");
    zeros = 1;
    for (int i = 0; i < 300; i++)
        zeros &= z[i] == 0;
    T_TRUE(zeros, "it reads zero");
    T_EQ(pread(fd, z, 10, 100000), 0L, "pread past the end: 0");
    lseek(fd, 0, SEEK_END);
    T_EQ(read(fd, z, 10), 0L, "read at the end: 0");
    T_EQ(pread(rfd, z, 10, 1L << 40), 0L, "pread past the end of a rootfs file: 0");
    close(fd);
    close(rfd);
    return tap_done();
}
