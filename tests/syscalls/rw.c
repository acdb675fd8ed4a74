/* Probe: read, write, readv, writev, pread64, pwrite64, lseek. */
#include <limits.h>
#include <sys/uio.h>

#include "tap.h"

static long sys_read(int fd, void *buf, size_t n)
{
    return syscall(SYS_read, fd, buf, n);
}

static long sys_write(int fd, const void *buf, size_t n)
{
    return syscall(SYS_write, fd, buf, n);
}

static long sys_lseek(int fd, long off, int whence)
{
    return syscall(SYS_lseek, fd, off, whence);
}

static int open_file(const char *path, int flags)
{
    return syscall(SYS_openat, AT_FDCWD, path, flags, 0644);
}

static void test_read_write(void)
{
    char buf[64];
    int fd = T_OK(open_file("f", O_RDWR | O_CREAT | O_TRUNC), "openat creates the file");

    T_EQ(sys_write(fd, "hello world", 11), 11, "write returns the byte count");
    T_EQ(sys_write(fd, "", 0), 0, "write of 0 bytes returns 0");
    T_EQ(sys_lseek(fd, 0, SEEK_CUR), 11, "write advances the offset");
    T_EQ(sys_read(fd, buf, sizeof(buf)), 0, "read at end of file returns 0");
    T_EQ(sys_lseek(fd, 0, SEEK_SET), 0, "lseek SEEK_SET to 0");
    memset(buf, 0, sizeof(buf));
    T_EQ(sys_read(fd, buf, 5), 5, "read returns the requested count");
    T_TRUE(memcmp(buf, "hello", 5) == 0, "read returns the written bytes");
    T_EQ(sys_read(fd, buf, sizeof(buf)), 6, "read is short at end of file");
    T_TRUE(memcmp(buf, " world", 6) == 0, "second read continues at the offset");
    T_EQ(sys_read(fd, buf, 0), 0, "read of 0 bytes returns 0");

    T_EQ(sys_lseek(fd, 0, SEEK_SET), 0, "rewind");
    T_ERRNO(sys_read(fd, BAD_PTR, 4), EFAULT, "read into a bad buffer: EFAULT");
    T_EQ(sys_lseek(fd, 0, SEEK_CUR), 0, "failed read leaves the offset alone");
    T_ERRNO(sys_write(fd, BAD_PTR, 4), EFAULT, "write from a bad buffer: EFAULT");
    T_EQ(sys_lseek(fd, 0, SEEK_END), 11, "failed write leaves the size alone");

    /* Writing past the end leaves a hole that reads back as zeros. */
    T_EQ(sys_lseek(fd, 20, SEEK_SET), 20, "lseek past end of file");
    T_EQ(sys_write(fd, "Z", 1), 1, "write past end of file");
    T_EQ(sys_lseek(fd, 0, SEEK_END), 21, "size grows to the new end");
    T_EQ(sys_lseek(fd, 11, SEEK_SET), 11, "seek to the hole");
    memset(buf, 'x', sizeof(buf));
    T_EQ(sys_read(fd, buf, sizeof(buf)), 10, "read across the hole");
    T_TRUE(memcmp(buf, "\0\0\0\0\0\0\0\0\0Z", 10) == 0, "the hole reads as zeros");
    T_EQ(close(fd), 0, "close");

    T_ERRNO(sys_read(fd, buf, 1), EBADF, "read on a closed fd: EBADF");
    T_ERRNO(sys_write(fd, "x", 1), EBADF, "write on a closed fd: EBADF");
    T_ERRNO(sys_read(-1, buf, 1), EBADF, "read on fd -1: EBADF");
    T_ERRNO(sys_write(1000000, "x", 1), EBADF, "write on a huge fd: EBADF");

    fd = T_OK(open_file("f", O_RDONLY), "open O_RDONLY");
    T_ERRNO(sys_write(fd, "x", 1), EBADF, "write on an O_RDONLY fd: EBADF");
    close(fd);
    fd = T_OK(open_file("f", O_WRONLY), "open O_WRONLY");
    T_ERRNO(sys_read(fd, buf, 1), EBADF, "read on an O_WRONLY fd: EBADF");
    close(fd);

    fd = T_OK(open_file("f", O_WRONLY | O_APPEND), "open O_APPEND");
    T_EQ(sys_write(fd, "END", 3), 3, "append write");
    T_EQ(sys_lseek(fd, 0, SEEK_CUR), 24, "O_APPEND writes at the end");
    T_EQ(sys_lseek(fd, 0, SEEK_SET), 0, "seek an O_APPEND fd to 0");
    T_EQ(sys_write(fd, "!", 1), 1, "append write after seek");
    T_EQ(sys_lseek(fd, 0, SEEK_CUR), 25, "O_APPEND ignores the seek");
    close(fd);

    fd = T_OK(syscall(SYS_openat, AT_FDCWD, ".", O_RDONLY | O_DIRECTORY), "open the dir");
    T_ERRNO(sys_read(fd, buf, sizeof(buf)), EISDIR, "read on a directory: EISDIR");
    close(fd);
}

static void test_lseek(void)
{
    int fd = T_OK(open_file("s", O_RDWR | O_CREAT | O_TRUNC), "create a file for lseek");

    T_EQ(sys_write(fd, "0123456789", 10), 10, "write 10 bytes");
    T_EQ(sys_lseek(fd, 3, SEEK_SET), 3, "SEEK_SET 3");
    T_EQ(sys_lseek(fd, 2, SEEK_CUR), 5, "SEEK_CUR +2");
    T_EQ(sys_lseek(fd, -1, SEEK_CUR), 4, "SEEK_CUR -1");
    T_EQ(sys_lseek(fd, -4, SEEK_END), 6, "SEEK_END -4");
    T_EQ(sys_lseek(fd, 100, SEEK_END), 110, "SEEK_END past the end");
    T_EQ(sys_lseek(fd, 0, SEEK_END), 10, "seeking does not change the size");
    T_ERRNO(sys_lseek(fd, -11, SEEK_END), EINVAL, "negative resulting offset: EINVAL");
    T_ERRNO(sys_lseek(fd, -1, SEEK_SET), EINVAL, "SEEK_SET -1: EINVAL");
    T_EQ(sys_lseek(fd, 0, SEEK_CUR), 10, "failed lseek leaves the offset alone");
    T_ERRNO(sys_lseek(fd, 0, 17), EINVAL, "bad whence: EINVAL");
    T_ERRNO(sys_lseek(fd, LONG_MAX, SEEK_CUR), EINVAL, "offset overflow: EINVAL");
    T_EQ(sys_lseek(fd, 0, SEEK_DATA), 0, "SEEK_DATA at 0");
    T_EQ(sys_lseek(fd, 0, SEEK_HOLE), 10, "SEEK_HOLE finds the end of file");
    T_ERRNO(sys_lseek(fd, 10, SEEK_DATA), ENXIO, "SEEK_DATA at end of file: ENXIO");
    close(fd);
    T_ERRNO(sys_lseek(fd, 0, SEEK_SET), EBADF, "lseek on a closed fd: EBADF");
}

static void test_vectors(void)
{
    char a[4], b[8], c[16];
    char abc[] = "abc", defghij[] = "defghij", x[] = "xy";
    struct iovec wv[3] = {
        { abc, 3 },
        { NULL, 0 }, /* zero-length entries are skipped, even with a NULL base */
        { defghij, 7 },
    };
    int fd = T_OK(open_file("v", O_RDWR | O_CREAT | O_TRUNC), "create a file for readv/writev");

    T_EQ(syscall(SYS_writev, fd, wv, 3), 10, "writev returns the total");
    T_EQ(syscall(SYS_writev, fd, wv, 0), 0, "writev of 0 iovecs returns 0");
    T_EQ(sys_lseek(fd, 0, SEEK_CUR), 10, "writev advances the offset");
    sys_lseek(fd, 0, SEEK_SET);

    struct iovec rv[3] = { { a, 4 }, { b, 0 }, { c, sizeof(c) } };
    memset(c, 0, sizeof(c));
    T_EQ(syscall(SYS_readv, fd, rv, 3), 10, "readv returns what the file holds");
    T_TRUE(memcmp(a, "abcd", 4) == 0, "readv fills the first iovec first");
    T_TRUE(memcmp(c, "efghij", 6) == 0, "readv continues in the next non-empty iovec");
    T_EQ(syscall(SYS_readv, fd, rv, 3), 0, "readv at end of file returns 0");

    T_ERRNO(syscall(SYS_readv, fd, rv, -1), EINVAL, "readv with iovcnt -1: EINVAL");
    T_ERRNO(syscall(SYS_writev, fd, wv, IOV_MAX + 1), EINVAL, "writev with iovcnt > IOV_MAX: EINVAL");
    struct iovec huge[2] = { { x, 1 }, { x + 1, (size_t)SSIZE_MAX + 1 } };
    T_ERRNO(syscall(SYS_writev, fd, huge, 2), EINVAL, "writev with an iov_len above SSIZE_MAX: EINVAL");
    T_ERRNO(syscall(SYS_readv, fd, BAD_PTR, 1), EFAULT, "readv with a bad iovec array: EFAULT");
    sys_lseek(fd, 0, SEEK_SET);
    struct iovec bad[1] = { { BAD_PTR, 4 } };
    T_ERRNO(syscall(SYS_readv, fd, bad, 1), EFAULT, "readv into a bad buffer: EFAULT");
    T_ERRNO(syscall(SYS_writev, fd, bad, 1), EFAULT, "writev from a bad buffer: EFAULT");
    close(fd);
    T_ERRNO(syscall(SYS_writev, fd, wv, 3), EBADF, "writev on a closed fd: EBADF");
}

static void test_positional(void)
{
    char buf[16];
    int fd = T_OK(open_file("p", O_RDWR | O_CREAT | O_TRUNC), "create a file for pread/pwrite");

    T_EQ(sys_write(fd, "abcdefgh", 8), 8, "write 8 bytes");
    T_EQ(sys_lseek(fd, 2, SEEK_SET), 2, "seek to 2");
    memset(buf, 0, sizeof(buf));
    T_EQ(syscall(SYS_pread64, fd, buf, 3, 4), 3, "pread64 at offset 4");
    T_TRUE(memcmp(buf, "efg", 3) == 0, "pread64 reads at its offset");
    T_EQ(sys_lseek(fd, 0, SEEK_CUR), 2, "pread64 leaves the file offset alone");
    T_EQ(syscall(SYS_pread64, fd, buf, sizeof(buf), 6), 2, "pread64 is short at end of file");
    T_EQ(syscall(SYS_pread64, fd, buf, sizeof(buf), 100), 0, "pread64 past end of file returns 0");
    T_EQ(syscall(SYS_pwrite64, fd, "XY", 2, 1), 2, "pwrite64 at offset 1");
    T_EQ(sys_lseek(fd, 0, SEEK_CUR), 2, "pwrite64 leaves the file offset alone");
    T_EQ(syscall(SYS_pread64, fd, buf, 8, 0), 8, "read the file back");
    T_TRUE(memcmp(buf, "aXYdefgh", 8) == 0, "pwrite64 wrote at its offset");
    T_EQ(syscall(SYS_pwrite64, fd, "Q", 1, 12), 1, "pwrite64 past end of file");
    T_EQ(sys_lseek(fd, 0, SEEK_END), 13, "pwrite64 past the end grows the file");
    T_ERRNO(syscall(SYS_pread64, fd, buf, 1, -1L), EINVAL, "pread64 at offset -1: EINVAL");
    T_ERRNO(syscall(SYS_pwrite64, fd, "x", 1, -1L), EINVAL, "pwrite64 at offset -1: EINVAL");
    T_ERRNO(syscall(SYS_pread64, fd, BAD_PTR, 1, 0), EFAULT, "pread64 into a bad buffer: EFAULT");
    close(fd);
    T_ERRNO(syscall(SYS_pread64, fd, buf, 1, 0), EBADF, "pread64 on a closed fd: EBADF");

    /* pwrite(2) BUGS: with O_APPEND, Linux appends whatever the offset. */
    fd = T_OK(open_file("p", O_RDWR | O_APPEND), "open O_APPEND");
    T_EQ(syscall(SYS_pwrite64, fd, "E", 1, 0), 1, "pwrite64 on an O_APPEND fd");
    T_EQ(syscall(SYS_pread64, fd, buf, 1, 0), 1, "read byte 0 back");
    T_EQ(buf[0], 'a', "pwrite64 with O_APPEND did not write at offset 0");
    T_EQ(sys_lseek(fd, 0, SEEK_END), 14, "pwrite64 with O_APPEND appended");
    close(fd);

    fd = T_OK(syscall(SYS_openat, AT_FDCWD, ".", O_RDONLY | O_DIRECTORY), "open the dir");
    T_ERRNO(syscall(SYS_pread64, fd, buf, 1, 0), EISDIR, "pread64 on a directory: EISDIR");
    close(fd);
}

int main(void)
{
    tap_init("rw");
    test_read_write();
    test_lseek();
    test_vectors();
    test_positional();
    return tap_done();
}
