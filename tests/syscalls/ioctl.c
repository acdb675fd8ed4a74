/*
 * Probe: ioctl on non-tty fds (regular files, directories).
 * Terminal ioctls must fail with ENOTTY; the generic ones Linux handles for
 * every fd (FIOCLEX, FIONCLEX, FIONBIO, FIONREAD on regular files) work.
 * Pipes are left to the pipe probe (pipe2 is not part of the foundation).
 */
#include <sys/ioctl.h>
#include <termios.h>

#include "tap.h"

static long sys_ioctl(int fd, unsigned long req, void *arg)
{
    return syscall(SYS_ioctl, fd, req, arg);
}

static void test_ioctl(void)
{
    struct termios tio;
    struct winsize ws;
    int n;

    int fd = T_OK(open("f", O_RDWR | O_CREAT | O_TRUNC, 0644), "create a regular file");
    T_ERRNO(sys_ioctl(fd, TCGETS, &tio), ENOTTY, "TCGETS on a regular file: ENOTTY");
    T_ERRNO(sys_ioctl(fd, TIOCGWINSZ, &ws), ENOTTY, "TIOCGWINSZ on a regular file: ENOTTY");
    T_ERRNO(sys_ioctl(fd, TCSETS, &tio), ENOTTY, "TCSETS on a regular file: ENOTTY");
    T_ERRNO(sys_ioctl(fd, TIOCGPGRP, &n), ENOTTY, "TIOCGPGRP on a regular file: ENOTTY");
    T_ERRNO(sys_ioctl(fd, 0x12345678, &n), ENOTTY, "an unknown request on a regular file: ENOTTY");
    T_EQ(isatty(fd), 0, "isatty on a regular file is 0");

    /* FIONREAD on a regular file: bytes between the offset and the end. */
    T_EQ(write(fd, "0123456789", 10), 10, "write 10 bytes");
    n = -1;
    T_OK(sys_ioctl(fd, FIONREAD, &n), "FIONREAD on a regular file");
    T_EQ(n, 0, "FIONREAD at the end is 0");
    lseek(fd, 3, SEEK_SET);
    T_OK(sys_ioctl(fd, FIONREAD, &n), "FIONREAD after a seek");
    T_EQ(n, 7, "FIONREAD counts the bytes left");
    T_ERRNO(sys_ioctl(fd, FIONREAD, BAD_PTR), EFAULT, "FIONREAD into a bad pointer: EFAULT");

    /* FIOCLEX / FIONCLEX toggle close-on-exec. */
    T_OK(sys_ioctl(fd, FIOCLEX, NULL), "FIOCLEX");
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "FIOCLEX sets FD_CLOEXEC");
    T_OK(sys_ioctl(fd, FIONCLEX, NULL), "FIONCLEX");
    T_EQ(fcntl(fd, F_GETFD), 0, "FIONCLEX clears FD_CLOEXEC");

    /* FIONBIO toggles O_NONBLOCK. */
    n = 1;
    T_OK(sys_ioctl(fd, FIONBIO, &n), "FIONBIO 1");
    T_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK, "FIONBIO 1 sets O_NONBLOCK");
    n = 0;
    T_OK(sys_ioctl(fd, FIONBIO, &n), "FIONBIO 0");
    T_TRUE(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "FIONBIO 0 clears O_NONBLOCK");
    T_ERRNO(sys_ioctl(fd, FIONBIO, BAD_PTR), EFAULT, "FIONBIO from a bad pointer: EFAULT");
    close(fd);

    int dfd = T_OK(open(".", O_RDONLY | O_DIRECTORY), "open a directory");
    T_ERRNO(sys_ioctl(dfd, TCGETS, &tio), ENOTTY, "TCGETS on a directory: ENOTTY");
    T_ERRNO(sys_ioctl(dfd, TIOCGWINSZ, &ws), ENOTTY, "TIOCGWINSZ on a directory: ENOTTY");
    T_OK(sys_ioctl(dfd, FIOCLEX, NULL), "FIOCLEX on a directory");
    T_EQ(fcntl(dfd, F_GETFD), FD_CLOEXEC, "FIOCLEX works on any fd");
    close(dfd);

    int hfd = T_OK(open("/bin/busybox", O_RDONLY), "open a host file");
    T_ERRNO(sys_ioctl(hfd, TCGETS, &tio), ENOTTY, "TCGETS on a host file: ENOTTY");
    T_OK(sys_ioctl(hfd, FIONREAD, &n), "FIONREAD on a host file");
    T_TRUE(n > 4096, "FIONREAD on a host file: its size");
    close(hfd);

    T_ERRNO(sys_ioctl(fd, TCGETS, &tio), EBADF, "ioctl on a closed fd: EBADF");
    T_ERRNO(sys_ioctl(-1, FIOCLEX, NULL), EBADF, "ioctl on fd -1: EBADF");
}

int main(void)
{
    tap_init("ioctl");
    test_ioctl();
    return tap_done();
}
