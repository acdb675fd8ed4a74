/* Probe: fcntl (F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD/F_SETFD, F_GETFL/F_SETFL), dup, dup2, dup3. */
#include "tap.h"

static long sys_fcntl(int fd, int cmd, long arg)
{
    return syscall(SYS_fcntl, fd, cmd, arg);
}

/* The kernel's O_LARGEFILE (glibc defines it as 0 on x86-64). */
#define KERNEL_O_LARGEFILE 0100000

/* F_GETFL without O_LARGEFILE, which 64-bit Linux adds on its own. */
static long getfl(int fd)
{
    long fl = sys_fcntl(fd, F_GETFL, 0);
    return fl < 0 ? fl : fl & ~(long)KERNEL_O_LARGEFILE;
}

static void test_fd_flags(void)
{
    int fd = T_OK(open("f", O_RDWR | O_CREAT | O_TRUNC, 0644), "create a file");

    T_EQ(sys_fcntl(fd, F_GETFD, 0), 0, "F_GETFD: no FD_CLOEXEC by default");
    T_OK(sys_fcntl(fd, F_SETFD, FD_CLOEXEC), "F_SETFD FD_CLOEXEC");
    T_EQ(sys_fcntl(fd, F_GETFD, 0), FD_CLOEXEC, "F_GETFD reads FD_CLOEXEC back");
    T_OK(sys_fcntl(fd, F_SETFD, 0), "F_SETFD 0");
    T_EQ(sys_fcntl(fd, F_GETFD, 0), 0, "F_GETFD reads 0 back");
    T_OK(sys_fcntl(fd, F_SETFD, ~0L), "F_SETFD with all bits");
    T_EQ(sys_fcntl(fd, F_GETFD, 0), FD_CLOEXEC, "F_SETFD keeps only FD_CLOEXEC");
    sys_fcntl(fd, F_SETFD, 0);

    T_EQ(getfl(fd), O_RDWR, "F_GETFL: O_RDWR");
    T_OK(sys_fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK), "F_SETFL O_APPEND|O_NONBLOCK");
    T_EQ(getfl(fd), O_RDWR | O_APPEND | O_NONBLOCK, "F_GETFL reads the status flags back");
    T_OK(sys_fcntl(fd, F_SETFL, O_RDONLY | O_CREAT | O_TRUNC | O_EXCL), "F_SETFL with fixed flags");
    T_EQ(getfl(fd), O_RDWR, "F_SETFL ignores the access mode and creation flags");
    T_EQ(write(fd, "ab", 2), 2, "the fd is still writable");
    close(fd);

    fd = open("f", O_WRONLY | O_APPEND);
    T_EQ(getfl(fd), O_WRONLY | O_APPEND, "F_GETFL: O_WRONLY|O_APPEND from open");
    T_OK(sys_fcntl(fd, F_SETFL, 0), "F_SETFL 0 clears O_APPEND");
    lseek(fd, 0, SEEK_SET);
    T_EQ(write(fd, "X", 1), 1, "write after clearing O_APPEND");
    T_EQ(lseek(fd, 0, SEEK_CUR), 1, "the write went to the offset, not the end");
    close(fd);
    fd = open("f", O_RDONLY);
    T_EQ(getfl(fd), O_RDONLY, "F_GETFL: O_RDONLY");
    close(fd);

    T_ERRNO(sys_fcntl(fd, F_GETFD, 0), EBADF, "F_GETFD on a closed fd: EBADF");
    T_ERRNO(sys_fcntl(fd, F_SETFL, 0), EBADF, "F_SETFL on a closed fd: EBADF");
    T_ERRNO(sys_fcntl(-1, F_GETFL, 0), EBADF, "F_GETFL on fd -1: EBADF");
    fd = open("f", O_RDONLY);
    T_ERRNO(sys_fcntl(fd, 0x7fff, 0), EINVAL, "an unknown command: EINVAL");
    close(fd);
}

static void test_dupfd(void)
{
    int fd = open("f", O_RDWR);

    int d = T_OK(sys_fcntl(fd, F_DUPFD, 0), "F_DUPFD 0");
    T_EQ(d, fd + 1, "F_DUPFD 0 takes the lowest free fd");
    close(d);
    d = T_OK(sys_fcntl(fd, F_DUPFD, 100), "F_DUPFD 100");
    T_EQ(d, 100, "F_DUPFD takes the lowest fd >= arg");
    int d2 = sys_fcntl(fd, F_DUPFD, 100);
    T_EQ(d2, 101, "F_DUPFD skips fds in use");
    T_EQ(sys_fcntl(d, F_GETFD, 0), 0, "F_DUPFD clears FD_CLOEXEC");
    close(d2);
    close(d);
    d = T_OK(sys_fcntl(fd, F_DUPFD_CLOEXEC, 50), "F_DUPFD_CLOEXEC 50");
    T_EQ(d, 50, "F_DUPFD_CLOEXEC takes the lowest fd >= arg");
    T_EQ(sys_fcntl(d, F_GETFD, 0), FD_CLOEXEC, "F_DUPFD_CLOEXEC sets FD_CLOEXEC");
    T_EQ(sys_fcntl(fd, F_GETFD, 0), 0, "the original keeps its own fd flags");
    close(d);
    T_ERRNO(sys_fcntl(fd, F_DUPFD, -1), EINVAL, "F_DUPFD -1: EINVAL");
    T_ERRNO(sys_fcntl(fd, F_DUPFD, 1 << 30), EINVAL, "F_DUPFD beyond RLIMIT_NOFILE: EINVAL");
    T_ERRNO(sys_fcntl(9999, F_DUPFD, 0), EBADF, "F_DUPFD of a closed fd: EBADF");
    close(fd);
}

static void test_dup(void)
{
    char c;
    int fd = open("f", O_RDWR | O_TRUNC);
    write(fd, "0123456789", 10);

    int d = T_OK(syscall(SYS_dup, fd), "dup");
    T_EQ(d, fd + 1, "dup takes the lowest free fd");
    lseek(fd, 4, SEEK_SET);
    T_EQ(lseek(d, 0, SEEK_CUR), 4, "a dup shares the file offset");
    T_EQ(read(d, &c, 1), 1, "read through the dup");
    T_EQ(c, '4', "the dup reads at the shared offset");
    T_EQ(lseek(fd, 0, SEEK_CUR), 5, "the original sees the dup's read");
    sys_fcntl(d, F_SETFL, O_APPEND);
    T_TRUE(sys_fcntl(fd, F_GETFL, 0) & O_APPEND, "a dup shares the status flags");
    sys_fcntl(d, F_SETFL, 0);
    sys_fcntl(fd, F_SETFD, FD_CLOEXEC);
    int d2 = syscall(SYS_dup, fd);
    T_EQ(sys_fcntl(d2, F_GETFD, 0), 0, "dup clears FD_CLOEXEC on the copy");
    sys_fcntl(fd, F_SETFD, 0);
    close(d2);
    T_OK(close(fd), "close the original");
    T_EQ(read(d, &c, 1), 1, "the dup still works after the original is closed");
    T_EQ(c, '5', "and keeps the offset");
    fd = d;

    T_ERRNO(syscall(SYS_dup, 9999), EBADF, "dup of a closed fd: EBADF");
    T_ERRNO(syscall(SYS_dup, -1), EBADF, "dup of fd -1: EBADF");

    /* dup2 */
    T_EQ(syscall(SYS_dup2, fd, 60), 60, "dup2 to a free fd");
    T_EQ(lseek(60, 0, SEEK_CUR), lseek(fd, 0, SEEK_CUR), "dup2 shares the offset");
    int other = open("f", O_RDONLY);
    T_EQ(syscall(SYS_dup2, other, 60), 60, "dup2 onto an open fd");
    T_EQ(getfl(60), O_RDONLY, "dup2 replaced the old file silently");
    sys_fcntl(60, F_SETFD, FD_CLOEXEC);
    T_EQ(syscall(SYS_dup2, fd, 60), 60, "dup2 onto a close-on-exec fd");
    T_EQ(sys_fcntl(60, F_GETFD, 0), 0, "dup2 clears FD_CLOEXEC");
    T_EQ(syscall(SYS_dup2, fd, fd), fd, "dup2 of an fd onto itself returns it");
    T_ERRNO(syscall(SYS_dup2, 9999, 9999), EBADF, "dup2 of a closed fd onto itself: EBADF");
    T_ERRNO(syscall(SYS_dup2, 9999, 61), EBADF, "dup2 of a closed fd: EBADF");
    T_EQ(tap_fd_open(61), 0, "a failed dup2 creates nothing");
    T_ERRNO(syscall(SYS_dup2, fd, -1), EBADF, "dup2 to -1: EBADF");
    T_ERRNO(syscall(SYS_dup2, fd, 1 << 30), EBADF, "dup2 beyond RLIMIT_NOFILE: EBADF");
    close(other);
    close(60);

    /* dup3 */
    T_EQ(syscall(SYS_dup3, fd, 70, 0), 70, "dup3 flags 0");
    T_EQ(sys_fcntl(70, F_GETFD, 0), 0, "dup3 flags 0: no FD_CLOEXEC");
    T_EQ(syscall(SYS_dup3, fd, 70, O_CLOEXEC), 70, "dup3 O_CLOEXEC onto an open fd");
    T_EQ(sys_fcntl(70, F_GETFD, 0), FD_CLOEXEC, "dup3 O_CLOEXEC sets FD_CLOEXEC");
    T_ERRNO(syscall(SYS_dup3, fd, fd, 0), EINVAL, "dup3 of an fd onto itself: EINVAL");
    T_ERRNO(syscall(SYS_dup3, fd, 71, O_NONBLOCK), EINVAL, "dup3 with a flag other than O_CLOEXEC: EINVAL");
    T_EQ(tap_fd_open(71), 0, "a failed dup3 creates nothing");
    T_ERRNO(syscall(SYS_dup3, 9999, 71, 0), EBADF, "dup3 of a closed fd: EBADF");
    T_ERRNO(syscall(SYS_dup3, fd, 1 << 30, 0), EBADF, "dup3 beyond RLIMIT_NOFILE: EBADF");
    close(70);
    close(fd);
}

int main(void)
{
    tap_init("fcntl");
    test_fd_flags();
    test_dupfd();
    test_dup();
    return tap_done();
}
