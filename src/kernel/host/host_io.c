/* The host epoll loop (see host_io.h). */
#include "kernel/host/host_io.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
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
