/* Probe: F_GETPIPE_SZ / F_SETPIPE_SZ on pipes and FIFOs: rounding to a
 * power of two of at least a page, EBUSY when the content does not fit,
 * EPERM above /proc/sys/fs/pipe-max-size for the unprivileged, EBADF on
 * other files. */
#include <sys/wait.h>

#include "tap.h"

static int child_unprivileged(void)
{
    int p[2];
    if (setuid(1000) != 0 || pipe(p) != 0)
        return 1;
    if (fcntl(p[0], F_SETPIPE_SZ, 2 * 1024 * 1024) != -1 || errno != EPERM)
        return 2;
    if (fcntl(p[0], F_SETPIPE_SZ, 1024 * 1024) != 1024 * 1024)
        return 3;
    if (fcntl(p[0], F_SETPIPE_SZ, 4096) != 4096)
        return 4; /* shrinking is always allowed */
    return 0;
}

int main(void)
{
    int p[2];
    char buf[16384], max[32] = {0};
    tap_init("pipe_size");
    T_OK(pipe(p), "pipe");
    T_EQ(fcntl(p[0], F_GETPIPE_SZ), 65536, "default capacity 64 KiB");
    T_EQ(fcntl(p[1], F_GETPIPE_SZ), 65536, "same on the write end");
    T_EQ(fcntl(p[1], F_SETPIPE_SZ, 5000), 8192, "5000 rounds up to 8192");
    T_EQ(fcntl(p[0], F_GETPIPE_SZ), 8192, "both ends see it");
    T_EQ(fcntl(p[1], F_SETPIPE_SZ, 0), 4096, "0 means one page");
    T_EQ(fcntl(p[1], F_SETPIPE_SZ, 100), 4096, "below a page: one page");
    T_ERRNO(fcntl(p[1], F_SETPIPE_SZ, (1u << 31) + 1), EINVAL, "above 2^31: EINVAL");
    T_EQ(fcntl(p[1], F_SETPIPE_SZ, 1u << 20), 1 << 20, "1 MiB");
    memset(buf, 'x', sizeof(buf));
    T_EQ(write(p[1], buf, 10000), 10000, "fill 10000 bytes");
    T_ERRNO(fcntl(p[1], F_SETPIPE_SZ, 4096), EBUSY, "shrinking below the content: EBUSY");
    T_EQ(fcntl(p[1], F_SETPIPE_SZ, 16384), 16384, "shrinking to what still fits");
    T_EQ(read(p[0], buf, sizeof(buf)), 10000, "content kept");
    T_EQ(write(p[1], "abc", 3), 3, "a little");
    T_EQ(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096, "one page fits it");
    T_EQ(read(p[0], buf, 3), 3, "read it back");
    T_TRUE(memcmp(buf, "abc", 3) == 0, "same bytes");
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    memset(buf, 'y', sizeof(buf));
    T_EQ(write(p[1], buf, 8192), 4096, "a nonblocking write fills one page");
    T_ERRNO(write(p[1], buf, 1), EAGAIN, "then EAGAIN");
    close(p[0]);
    close(p[1]);

    T_OK(mkfifo("fifo", 0600), "mkfifo");
    int f = T_OK(open("fifo", O_RDWR), "open the FIFO");
    T_EQ(fcntl(f, F_GETPIPE_SZ), 65536, "FIFO default 64 KiB");
    T_EQ(fcntl(f, F_SETPIPE_SZ, 12288), 16384, "FIFO resized");
    int f2 = T_OK(open("fifo", O_WRONLY), "a second open");
    T_EQ(fcntl(f2, F_GETPIPE_SZ), 16384, "shares the capacity");
    close(f2);
    close(f);

    int reg = T_OK(open("reg", O_CREAT | O_RDWR, 0600), "a regular file");
    T_ERRNO(fcntl(reg, F_GETPIPE_SZ), EBADF, "F_GETPIPE_SZ on a file: EBADF");
    T_ERRNO(fcntl(reg, F_SETPIPE_SZ, 4096), EBADF, "F_SETPIPE_SZ on a file: EBADF");
    close(reg);

    int m = T_OK(open("/proc/sys/fs/pipe-max-size", O_RDONLY), "open pipe-max-size");
    T_TRUE(read(m, max, sizeof(max) - 1) > 0 && strcmp(max, "1048576\n") == 0,
           "pipe-max-size is 1048576");
    close(m);
    /* Going past it needs CAP_SYS_RESOURCE, which the test host's root may
     * lack: not probed. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(child_unprivileged());
    int st = 0;
    waitpid(pid, &st, 0);
    T_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : 99, 0, "unprivileged: EPERM past pipe-max-size");
    return tap_done();
}
