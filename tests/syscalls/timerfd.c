/* Probe: timerfd_create, timerfd_settime, timerfd_gettime. */
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
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

/* TFD_TIMER_CANCEL_ON_SET: accepted with ABSTIME on CLOCK_REALTIME (and
 * ignored elsewhere); the clock is not set here, so the timer just expires. */
static void test_cancel_on_set(void)
{
    int fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct itimerspec its = {{0, 0}, now}, cur;
    its.it_value.tv_sec += 1;
    T_OK(timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL),
         "CANCEL_ON_SET with ABSTIME on CLOCK_REALTIME");
    T_OK(timerfd_gettime(fd, &cur), "gettime");
    T_TRUE(cur.it_value.tv_sec <= 1 && (cur.it_value.tv_sec > 0 || cur.it_value.tv_nsec > 0),
           "armed, time left relative");
    uint64_t v;
    T_ERRNO(read(fd, &v, 8), EAGAIN, "not cancelled while the clock is not set");
    /* A second one, far off, on a blocking fd: not readable, in poll and
     * epoll alike, while nothing sets the clock. */
    int far = timerfd_create(CLOCK_REALTIME, 0);
    struct itimerspec fits = {{0, 0}, now};
    fits.it_value.tv_sec += 3600;
    T_OK(timerfd_settime(far, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &fits, NULL),
         "a second CANCEL_ON_SET timer, an hour off");
    struct pollfd fp = {far, POLLIN, 0};
    T_EQ(poll(&fp, 1, 50), 0, "not readable");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, far, &ev);
    T_EQ(epoll_wait(ep, &got, 1, 50), 0, "epoll: not ready");
    T_OK(timerfd_settime(far, 0, &fits, NULL), "re-armed without the flag");
    fits.it_value.tv_sec = 0;
    T_OK(timerfd_settime(far, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &fits, NULL),
         "disarmed with the flag");
    T_OK(timerfd_gettime(far, &cur), "gettime of the disarmed timer");
    T_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "disarmed");
    close(ep);
    close(far);
    its.it_value = now;
    its.it_value.tv_sec -= 1;
    T_OK(timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL),
         "a past deadline");
    struct pollfd pf = {fd, POLLIN, 0};
    T_EQ(poll(&pf, 1, 2000), 1, "expires");
    T_EQ(read(fd, &v, 8), 8, "reads the expiry count, not ECANCELED");
    its.it_value.tv_sec = 0;
    its.it_value.tv_nsec = 10000000;
    T_OK(timerfd_settime(fd, TFD_TIMER_CANCEL_ON_SET, &its, NULL),
         "CANCEL_ON_SET without ABSTIME: accepted and ignored");
    T_EQ(poll(&pf, 1, 2000), 1, "relative timer expires");
    T_EQ(read(fd, &v, 8), 8, "read");
    close(fd);
    fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    T_OK(timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL),
         "CANCEL_ON_SET on CLOCK_MONOTONIC: accepted and ignored");
    pf.fd = fd;
    T_EQ(poll(&pf, 1, 2000), 1, "a deadline in the past expires");
    close(fd);
}

int main(void)
{
    tap_init("timerfd");
    test_errors();
    test_expiry();
    test_abstime();
    test_cancel_on_set();
    return tap_done();
}
