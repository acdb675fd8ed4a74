/* The host epoll loop (see host_io.h). */
#include "kernel/host/host_io.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "kernel/task/waitq.h"
#include "lib/log.h"

static int g_epfd = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void *host_io_thread(void *arg)
{
    struct epoll_event ev[32];
    for (;;) {
        int n = epoll_wait(g_epfd, ev, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("host epoll loop failed: %d", errno);
            return NULL;
        }
        for (int i = 0; i < n; i++)
            waitq_wake_all(ev[i].data.ptr);
    }
}

static void host_io_start(void)
{
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g_epfd < 0)
        return;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, host_io_thread, NULL) != 0) {
        close(g_epfd);
        g_epfd = -1;
    }
    pthread_attr_destroy(&attr);
}

int host_io_watch(int fd, struct waitq *wq)
{
    pthread_once(&g_once, host_io_start);
    if (g_epfd < 0)
        return -ENOMEM;
    /* Edge-triggered: each change wakes the queue once; sleepers re-check
     * with host_io_poll_now(). */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = wq};
    if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST)
        return -errno; /* EPERM: a regular file, always ready */
    return 0;
}

unsigned host_io_poll_now(int fd, unsigned events)
{
    struct pollfd p = {.fd = fd, .events = (short)events};
    int r = poll(&p, 1, 0);
    if (r <= 0)
        return 0;
    return (unsigned)p.revents;
}

/* ---- the host's realtime clock being set ---- */

static pthread_mutex_t g_clock_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_clock_fd = -1;            /* (g_clock_lock, then constant) */
static void (*g_clock_fn)(void);       /* (g_clock_lock, then constant) */
static struct waitq g_clock_wq;
static struct waiter g_clock_waiter;

/* Arms the host timerfd far in the future: only a clock set ends it. */
static int clock_arm(int fd)
{
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)1 << 40}};
    if (timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0)
        return -errno;
    return 0;
}

/* The host loop saw the timerfd change: a read says ECANCELED when the
 * clock was set (Linux re-arms the cancel state on that read). */
static void clock_woken(struct waiter *w, unsigned key)
{
    (void)w;
    (void)key;
    uint64_t n;
    ssize_t r = read(g_clock_fd, &n, sizeof(n));
    if (r < 0 && errno == ECANCELED) {
        clock_arm(g_clock_fd);
        g_clock_fn();
    } else if (r == (ssize_t)sizeof(n)) {
        clock_arm(g_clock_fd); /* the clock went past 2^40 s: keep watching */
    }
}

int host_io_watch_clock_set(void (*fn)(void))
{
    pthread_mutex_lock(&g_clock_lock);
    int r = 0;
    if (g_clock_fd < 0) {
        int fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
        r = fd < 0 ? -errno : clock_arm(fd);
        if (r == 0) {
            waitq_init(&g_clock_wq);
            g_clock_fn = fn;
            g_clock_fd = fd;
            waitq_add_func(&g_clock_wq, &g_clock_waiter, clock_woken);
            r = host_io_watch(fd, &g_clock_wq);
            if (r < 0) {
                waitq_del(&g_clock_wq, &g_clock_waiter);
                g_clock_fd = -1;
            }
        }
        if (r < 0 && fd >= 0)
            close(fd);
    }
    pthread_mutex_unlock(&g_clock_lock);
    if (r < 0)
        log_warn("cannot watch the host clock for TFD_TIMER_CANCEL_ON_SET: %d", r);
    return r;
}
