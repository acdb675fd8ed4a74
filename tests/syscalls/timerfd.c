/* Probe: timerfd_create, timerfd_settime, timerfd_gettime. */
#include <poll.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>

#include "tap.h"

static void test_errors(void)
{
    T_ERRNO(timerfd_create(42, 0), EINVAL, "unknown clock: EINVAL");
    T_ERRNO(timerfd_create(CLOCK_MONOTONIC, 0x4), EINVAL, "unknown flags: EINVAL");
    int fd = T_OK(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create");
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "TFD_CLOEXEC");
    uint64_t v;
    T_ERRNO(read(fd, &v, 8), EAGAIN, "disarmed: EAGAIN");
    T_ERRNO(read(fd, &v, 4), EINVAL, "short read: EINVAL");
    struct itimerspec its = {{0, 0}, {0, 2000000000}};
    T_ERRNO(timerfd_settime(fd, 0, &its, NULL), EINVAL, "tv_nsec too big: EINVAL");
    T_ERRNO(timerfd_settime(fd, 0x10, &its, NULL), EINVAL, "bad flags: EINVAL");
    int p[2];
    pipe(p);
    T_ERRNO(timerfd_gettime(p[0], &its), EINVAL, "gettime on a pipe: EINVAL");
    close(p[0]);
    close(p[1]);
    close(fd);
}

static void test_expiry(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 0}, {0, 20000000}}, cur, old;
    T_OK(timerfd_settime(fd, 0, &its, NULL), "arm a one-shot 20 ms");
    T_OK(timerfd_gettime(fd, &cur), "gettime");
    T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
                   cur.it_value.tv_nsec <= 20000000,
           "remaining time counts down");
    struct pollfd pf = {fd, POLLIN, 0};
    T_EQ(poll(&pf, 1, 0), 0, "not readable before expiry");
    uint64_t v = 0;
    T_EQ(read(fd, &v, 8), 8, "a blocking read waits for the expiry");
    T_EQ(v, 1, "one expiration");
    T_OK(timerfd_gettime(fd, &cur), "gettime after expiry");
    T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "one-shot disarmed");

    its.it_interval.tv_nsec = 5000000;
    its.it_value.tv_nsec = 5000000;
    T_OK(timerfd_settime(fd, 0, &its, NULL), "arm a 5 ms interval timer");
    usleep(60000);
    T_EQ(poll(&pf, 1, 0), 1, "readable after expiries");
    T_EQ(read(fd, &v, 8), 8, "read the count");
    T_TRUE(v >= 5, "several expirations counted");
    memset(&its, 0, sizeof(its));
    T_OK(timerfd_settime(fd, 0, &its, &old), "disarm");
    T_TRUE(old.it_interval.tv_nsec == 5000000, "old interval returned");
    close(fd);
}

static void test_abstime(void)
{
    clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
    for (int i = 0; i < 3; i++) {
        int fd = timerfd_create(clocks[i], TFD_NONBLOCK);
        struct timespec now;
        clock_gettime(clocks[i], &now);
        struct itimerspec its = {{0, 0}, now};
        its.it_value.tv_nsec += 10000000;
        if (its.it_value.tv_nsec >= 1000000000) {
            its.it_value.tv_nsec -= 1000000000;
            its.it_value.tv_sec++;
        }
        T_OK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), "absolute deadline");
        struct pollfd pf = {fd, POLLIN, 0};
        T_EQ(poll(&pf, 1, 2000), 1, "fires at the absolute time");
        uint64_t v;
        T_EQ(read(fd, &v, 8), 8, "read");
        its.it_value.tv_sec -= 10;
        T_OK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), "a deadline in the past");
        T_EQ(poll(&pf, 1, 2000), 1, "fires at once");
        close(fd);
    }
}

int main(void)
{
    tap_init("timerfd");
    test_errors();
    test_expiry();
    test_abstime();
    return tap_done();
}
