/* Probe: eventfd, eventfd2 (EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC). */
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>

#include "tap.h"

static void test_counter(void)
{
    uint64_t v;
    int fd = T_OK(eventfd(3, EFD_NONBLOCK), "eventfd with an initial value");
    T_EQ(read(fd, &v, 8), 8, "read takes the counter");
    T_EQ(v, 3, "the counter was 3");
    T_ERRNO(read(fd, &v, 8), EAGAIN, "read at zero: EAGAIN with EFD_NONBLOCK");
    T_ERRNO(read(fd, &v, 4), EINVAL, "read of 4 bytes: EINVAL");
    v = 5;
    T_EQ(write(fd, &v, 8), 8, "write adds");
    v = 7;
    T_EQ(write(fd, &v, 8), 8, "write adds again");
    T_EQ(read(fd, &v, 8), 8, "read the sum");
    T_EQ(v, 12, "the counter was 12");
    v = UINT64_MAX;
    T_ERRNO(write(fd, &v, 8), EINVAL, "write of 2^64-1: EINVAL");
    v = UINT64_MAX - 1;
    T_EQ(write(fd, &v, 8), 8, "write up to the maximum");
    v = 1;
    T_ERRNO(write(fd, &v, 8), EAGAIN, "write past the maximum: EAGAIN");
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    T_EQ(poll(&p, 1, 0), 1, "poll at the maximum");
    T_EQ(p.revents, POLLIN, "readable, not writable");
    T_EQ(read(fd, &v, 8), 8, "drain");
    p.revents = 0;
    T_EQ(poll(&p, 1, 0), 1, "poll at zero");
    T_EQ(p.revents, POLLOUT, "writable, not readable");
    close(fd);
}

static void test_semaphore(void)
{
    uint64_t v;
    int fd = T_OK(eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC), "eventfd2 semaphore");
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "EFD_CLOEXEC sets close-on-exec");
    T_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK, "EFD_NONBLOCK sets O_NONBLOCK");
    T_EQ(read(fd, &v, 8), 8, "semaphore read");
    T_EQ(v, 1, "semaphore read returns 1");
    T_EQ(read(fd, &v, 8), 8, "second semaphore read");
    T_EQ(v, 1, "returns 1 again");
    T_ERRNO(read(fd, &v, 8), EAGAIN, "then EAGAIN");
    close(fd);
    T_ERRNO(syscall(SYS_eventfd2, 0, 0x10), EINVAL, "eventfd2 with unknown flags: EINVAL");
    char path[64], link[64];
    fd = T_OK(syscall(SYS_eventfd, 0), "eventfd (no flags)");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    link[n < 0 ? 0 : n] = 0;
    T_STREQ(link, "anon_inode:[eventfd]", "the fd link names the eventfd");
    close(fd);
}

static void *writer(void *arg)
{
    int fd = *(int *)arg;
    usleep(20000);
    uint64_t v = 9;
    if (write(fd, &v, 8) != 8)
        abort();
    return NULL;
}

#include <pthread.h>

static void test_blocking(void)
{
    int fd = eventfd(0, 0);
    pthread_t th;
    pthread_create(&th, NULL, writer, &fd);
    uint64_t v = 0;
    T_EQ(read(fd, &v, 8), 8, "a blocking read waits for a writer");
    T_EQ(v, 9, "and gets its value");
    pthread_join(th, NULL);
    close(fd);
}

int main(void)
{
    tap_init("eventfd");
    test_counter();
    test_semaphore();
    test_blocking();
    return tap_done();
}
