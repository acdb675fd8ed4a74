/* Probe: memfd_create and file seals (F_ADD_SEALS, F_GET_SEALS). */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "tap.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

static void test_basic(void)
{
    int fd = T_OK(memfd_create("probe", MFD_CLOEXEC), "memfd_create");
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "MFD_CLOEXEC");
    T_EQ(fcntl(fd, F_GETFL), O_RDWR | 0100000, "opened read-write (and O_LARGEFILE)");
    char path[64], link[128];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    link[n < 0 ? 0 : n] = 0;
    T_STREQ(link, "/memfd:probe (deleted)", "the fd link");
    struct stat st;
    T_OK(fstat(fd, &st), "fstat");
    T_TRUE(S_ISREG(st.st_mode), "a regular file");
    T_EQ(st.st_mode & 07777, 0777, "mode 0777 (executable: vm.memfd_noexec 0)");
    T_EQ(st.st_nlink, 0, "no links");
    T_EQ(st.st_size, 0, "empty");
    T_EQ(write(fd, "hello world", 11), 11, "write");
    T_EQ(lseek(fd, 0, SEEK_CUR), 11, "position advanced");
    char buf[32] = {0};
    T_EQ(pread(fd, buf, sizeof(buf), 6), 5, "pread");
    T_STREQ(buf, "world", "read back");
    T_OK(ftruncate(fd, 8192), "ftruncate grows");
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    T_TRUE(p != MAP_FAILED, "mmap shared");
    T_EQ(memcmp(p, "hello", 5), 0, "the mapping shows the data");
    pid_t c = fork();
    if (c == 0) {
        memcpy(p + 4096, "from child", 10);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    memset(buf, 0, sizeof(buf));
    T_EQ(pread(fd, buf, 10, 4096), 10, "pread what the child wrote through its mapping");
    T_STREQ(buf, "from child", "shared across fork");
    T_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL, "without MFD_ALLOW_SEALING: F_SEAL_SEAL");
    T_ERRNO(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM, "adding a seal: EPERM");
    munmap(p, 8192);
    /* Reopening through /proc gives a new description on the same file. */
    int fd2 = T_OK(open(path, O_RDONLY), "open /proc/self/fd/N");
    memset(buf, 0, sizeof(buf));
    T_EQ(read(fd2, buf, 5), 5, "read the reopened file from its own offset 0");
    T_STREQ(buf, "hello", "same data");
    T_ERRNO(write(fd2, "x", 1), EBADF, "the read-only reopen cannot write");
    close(fd2);
    close(fd);

    T_ERRNO(memfd_create("x", 0x100), EINVAL, "unknown flag: EINVAL");
    T_ERRNO(memfd_create("x", MFD_EXEC | MFD_NOEXEC_SEAL), EINVAL, "EXEC with NOEXEC_SEAL: EINVAL");
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    T_ERRNO(memfd_create(longname, 0), EINVAL, "a name over 249 bytes: EINVAL");
    longname[249] = 0;
    fd = T_OK(memfd_create(longname, 0), "a name of 249 bytes");
    close(fd);
    T_ERRNO(memfd_create(BAD_PTR, 0), EFAULT, "bad name pointer: EFAULT");
}

static void test_seals(void)
{
    int fd = T_OK(memfd_create("sealed", MFD_ALLOW_SEALING), "memfd_create MFD_ALLOW_SEALING");
    T_EQ(fcntl(fd, F_GET_SEALS), 0, "no seals");
    T_EQ(write(fd, "abcdefgh", 8), 8, "write");
    T_ERRNO(fcntl(fd, F_ADD_SEALS, 0x1000), EINVAL, "unknown seal: EINVAL");

    T_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), "F_SEAL_SHRINK");
    T_ERRNO(ftruncate(fd, 4), EPERM, "shrinking: EPERM");
    T_OK(ftruncate(fd, 16), "growing is allowed");
    T_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), "F_SEAL_GROW");
    T_ERRNO(ftruncate(fd, 32), EPERM, "growing: EPERM");
    T_ERRNO(pwrite(fd, "x", 1, 16), EPERM, "writing past the end: EPERM");
    T_EQ(pwrite(fd, "X", 1, 0), 1, "writing inside is allowed");
    T_ERRNO(fallocate(fd, 0, 0, 4096), EPERM, "fallocate past the end: EPERM");
    T_OK(ftruncate(fd, 16), "ftruncate to the same size");

    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    T_TRUE(p != MAP_FAILED, "a shared writable mapping");
    T_ERRNO(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY, "F_SEAL_WRITE while mapped: EBUSY");
    munmap(p, 4096);
    T_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), "F_SEAL_WRITE once unmapped");
    T_ERRNO(write(fd, "x", 1), EPERM, "write: EPERM");
    T_ERRNO(pwrite(fd, "x", 1, 0), EPERM, "pwrite: EPERM");
    T_TRUE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
                   errno == EPERM,
           "shared writable mmap: EPERM");
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    T_TRUE(p != MAP_FAILED, "a private writable mapping is allowed");
    T_EQ(p[0], 'X', "it shows the data");
    munmap(p, 4096);
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    T_TRUE(p != MAP_FAILED, "a shared read-only mapping is allowed");
    T_ERRNO(mprotect(p, 4096, PROT_READ | PROT_WRITE), EACCES,
            "it can never become writable: EACCES");
    munmap(p, 4096);
    T_ERRNO(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4), EPERM,
            "punching a hole: EPERM");
    T_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, "F_GET_SEALS");
    T_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), "F_SEAL_SEAL");
    T_ERRNO(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), EPERM, "no more seals: EPERM");
    int ro = open("/proc/self/fd/3", O_RDONLY);
    if (ro >= 0) {
        T_ERRNO(fcntl(ro, F_ADD_SEALS, 0), EPERM, "F_ADD_SEALS on a read-only fd: EPERM");
        close(ro);
    }
    close(fd);

    fd = T_OK(memfd_create("future", MFD_ALLOW_SEALING), "another memfd");
    T_OK(ftruncate(fd, 4096), "size it");
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    T_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), "F_SEAL_FUTURE_WRITE while mapped");
    p[0] = 'y';
    T_EQ(p[0], 'y', "the existing mapping still writes");
    T_ERRNO(write(fd, "x", 1), EPERM, "write: EPERM");
    T_TRUE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
                   errno == EPERM,
           "a new shared writable mapping: EPERM");
    munmap(p, 4096);
    close(fd);

    T_ERRNO(fcntl(0, F_GET_SEALS), EINVAL, "F_GET_SEALS of a non-memfd: EINVAL");
    int t = T_OK(open("sealtest", O_RDWR | O_CREAT, 0600), "a file in the probe's directory");
    T_ERRNO(fcntl(t, F_GET_SEALS), EINVAL, "F_GET_SEALS there (not tmpfs): EINVAL");
    T_ERRNO(fcntl(t, F_ADD_SEALS, F_SEAL_WRITE), EINVAL, "F_ADD_SEALS there: EINVAL");
    int rof = T_OK(open("sealtest", O_RDONLY), "open it read-only");
    T_ERRNO(fcntl(rof, F_ADD_SEALS, F_SEAL_WRITE), EPERM, "F_ADD_SEALS read-only: EPERM first");
    close(rof);
    close(t);
    unlink("sealtest");
    char shm[64]; /* /dev/shm is host-wide natively: a name of this run's own */
    snprintf(shm, sizeof(shm), "/dev/shm/moat-probe-seal-%d", (int)getpid());
    t = T_OK(open(shm, O_RDWR | O_CREAT | O_EXCL, 0600), "a /dev/shm file");
    unlink(shm);
    T_EQ(fcntl(t, F_GET_SEALS), F_SEAL_SEAL, "tmpfs files carry F_SEAL_SEAL");
    T_ERRNO(fcntl(t, F_ADD_SEALS, F_SEAL_WRITE), EPERM, "and take no other seal: EPERM");
    T_ERRNO(fcntl(t, F_ADD_SEALS, 0x1000), EINVAL, "unknown seal bits: EINVAL first");
    close(t);
}

static void test_noexec(void)
{
    int fd = T_OK(memfd_create("noexec", MFD_NOEXEC_SEAL), "MFD_NOEXEC_SEAL");
    struct stat st;
    T_OK(fstat(fd, &st), "fstat");
    T_EQ(st.st_mode & 07777, 0666, "mode 0666");
    T_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_EXEC, "F_SEAL_EXEC set, sealing allowed");
    T_ERRNO(fchmod(fd, 0755), EPERM, "chmod +x: EPERM");
    T_OK(fchmod(fd, 0600), "chmod without exec bits is allowed");
    close(fd);
    fd = T_OK(memfd_create("exec", MFD_EXEC | MFD_ALLOW_SEALING), "MFD_EXEC");
    T_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC), "F_SEAL_EXEC on an executable memfd");
    T_EQ(fcntl(fd, F_GET_SEALS),
         F_SEAL_EXEC | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE,
         "it also seals writes");
    close(fd);
}

int main(void)
{
    tap_init("memfd");
    test_basic();
    test_seals();
    test_noexec();
    return tap_done();
}
