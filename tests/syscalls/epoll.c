/* Probe: epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait,
 * epoll_pwait2: level and edge triggering, one-shot, nesting, close. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <time.h>

#include "tap.h"

static int ctl(int ep, int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, op, fd, &ev);
}

static void test_errors(void)
{
    int p[2];
    T_ERRNO(syscall(SYS_epoll_create, 0), EINVAL, "epoll_create(0): EINVAL");
    T_ERRNO(epoll_create1(1), EINVAL, "epoll_create1 with bad flags: EINVAL");
    int ep = T_OK(epoll_create1(EPOLL_CLOEXEC), "epoll_create1(EPOLL_CLOEXEC)");
    T_EQ(fcntl(ep, F_GETFD), FD_CLOEXEC, "close-on-exec set");
    pipe(p);
    T_ERRNO(ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0), EINVAL, "adding the set to itself: EINVAL");
    T_ERRNO(ctl(p[0], EPOLL_CTL_ADD, p[1], EPOLLIN, 0), EINVAL, "epoll_ctl on a non-epoll fd: EINVAL");
    T_ERRNO(ctl(ep, EPOLL_CTL_ADD, 999, EPOLLIN, 0), EBADF, "adding a bad fd: EBADF");
    T_ERRNO(ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 0), ENOENT, "MOD of a missing fd: ENOENT");
    T_ERRNO(ctl(ep, EPOLL_CTL_DEL, p[0], 0, 0), ENOENT, "DEL of a missing fd: ENOENT");
    T_OK(ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 1), "ADD the pipe");
    T_ERRNO(ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 1), EEXIST, "ADD twice: EEXIST");
    int f = open("reg", O_RDWR | O_CREAT, 0600);
    T_ERRNO(ctl(ep, EPOLL_CTL_ADD, f, EPOLLIN, 0), EPERM, "ADD a regular file: EPERM");
    struct epoll_event ev;
    T_ERRNO(epoll_wait(ep, &ev, 0, 0), EINVAL, "maxevents 0: EINVAL");
    T_ERRNO(epoll_wait(p[0], &ev, 1, 0), EINVAL, "epoll_wait on a pipe: EINVAL");
    T_ERRNO(ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0), EINVAL,
            "EPOLLEXCLUSIVE with EPOLLONESHOT: EINVAL");
    T_OK(ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 2), "EPOLLEXCLUSIVE accepted");
    T_ERRNO(ctl(ep, EPOLL_CTL_MOD, p[1], EPOLLOUT, 2), EINVAL, "MOD of an exclusive item: EINVAL");
    close(f);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void test_level(void)
{
    int p[2];
    struct epoll_event ev[4];
    pipe(p);
    int ep = epoll_create1(0);
    ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 42);
    T_EQ(epoll_wait(ep, ev, 4, 0), 0, "empty pipe: nothing ready");
    write(p[1], "ab", 2);
    T_EQ(epoll_wait(ep, ev, 4, 0), 1, "level: readable after a write");
    T_EQ(ev[0].events, EPOLLIN, "EPOLLIN reported");
    T_EQ(ev[0].data.u64, 42, "with the item's data");
    T_EQ(epoll_wait(ep, ev, 4, 0), 1, "level: reported again while readable");
    char c[2];
    read(p[0], c, 2);
    T_EQ(epoll_wait(ep, ev, 4, 0), 0, "level: not after draining");
    ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 7);
    T_EQ(epoll_wait(ep, ev, 4, 0), 1, "write end writable");
    T_EQ(ev[0].data.u64, 7, "the write end's data");
    T_OK(ctl(ep, EPOLL_CTL_MOD, p[1], EPOLLIN, 8), "MOD to EPOLLIN");
    T_EQ(epoll_wait(ep, ev, 4, 0), 0, "the write end is never readable");
    T_OK(ctl(ep, EPOLL_CTL_DEL, p[1], 0, 0), "DEL the write end");
    close(p[1]);
    T_EQ(epoll_wait(ep, ev, 4, 0), 1, "read end reports hang-up");
    T_EQ(ev[0].events, EPOLLHUP, "EPOLLHUP without asking");
    close(p[0]);
    close(ep);
}

static void test_edge(void)
{
    int p[2];
    struct epoll_event ev[4];
    pipe(p);
    int ep = epoll_create1(0);
    write(p[1], "a", 1);
    ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET, 1);
    T_EQ(epoll_wait(ep, ev, 4, 0), 1, "edge: ready at ADD is reported");
    T_EQ(epoll_wait(ep, ev, 4, 0), 0, "edge: once");
    write(p[1], "b", 1);
    T_EQ(epoll_wait(ep, ev, 4, 0), 1, "edge: a new write reports again");
    T_EQ(epoll_wait(ep, ev, 4, 0), 0, "edge: and only once");
    char c;
    read(p[0], &c, 1);
    T_EQ(epoll_wait(ep, ev, 4, 0), 0, "edge: a partial read is not an event");
    T_OK(ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, 2), "MOD re-arms");
    T_EQ(epoll_wait(ep, ev, 4, 0), 1, "edge: MOD of a ready fd reports it");
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void test_oneshot(void)
{
    int e = eventfd(1, 0);
    struct epoll_event ev[2];
    int ep = epoll_create1(0);
    ctl(ep, EPOLL_CTL_ADD, e, EPOLLIN | EPOLLONESHOT, 5);
    T_EQ(epoll_wait(ep, ev, 2, 0), 1, "one-shot: first report");
    T_EQ(epoll_wait(ep, ev, 2, 0), 0, "one-shot: disabled after");
    uint64_t v = 1;
    write(e, &v, 8);
    T_EQ(epoll_wait(ep, ev, 2, 0), 0, "one-shot: still disabled after a write");
    ctl(ep, EPOLL_CTL_MOD, e, EPOLLIN | EPOLLONESHOT, 6);
    T_EQ(epoll_wait(ep, ev, 2, 0), 1, "one-shot: MOD re-enables");
    T_EQ(ev[0].data.u64, 6, "with the new data");
    close(e);
    close(ep);
}

static void test_nested_and_close(void)
{
    int p[2];
    struct epoll_event ev[2];
    pipe(p);
    int inner = epoll_create1(0), outer = epoll_create1(0);
    ctl(inner, EPOLL_CTL_ADD, p[0], EPOLLIN, 1);
    T_OK(ctl(outer, EPOLL_CTL_ADD, inner, EPOLLIN, 2), "add a set to a set");
    T_ERRNO(ctl(inner, EPOLL_CTL_ADD, outer, EPOLLIN, 3), ELOOP, "a loop of sets: ELOOP");
    T_EQ(epoll_wait(outer, ev, 2, 0), 0, "outer: nothing ready");
    struct pollfd pf = {inner, POLLIN, 0};
    T_EQ(poll(&pf, 1, 0), 0, "poll on an idle set: not readable");
    write(p[1], "x", 1);
    T_EQ(poll(&pf, 1, 0), 1, "poll on a set with a ready item: readable");
    T_EQ(epoll_wait(outer, ev, 2, 0), 1, "outer: the inner set is ready");
    T_EQ(ev[0].data.u64, 2, "the inner set's data");
    T_EQ(epoll_wait(inner, ev, 2, 0), 1, "inner: the pipe");
    /* Closing the last fd of a watched file drops it from the set. */
    int d = dup(p[0]);
    close(p[0]);
    T_EQ(epoll_wait(inner, ev, 2, 0), 1, "a dup keeps the item");
    close(d);
    T_EQ(epoll_wait(inner, ev, 2, 0), 0, "the last close removes the item");
    T_ERRNO(ctl(inner, EPOLL_CTL_DEL, d, 0, 0), EBADF, "the fd is gone");
    close(p[1]);
    close(inner);
    close(outer);
}

static void *late_writer(void *arg)
{
    usleep(20000);
    uint64_t v = 1;
    write(*(int *)arg, &v, 8);
    return NULL;
}

static void on_usr1(int s)
{
    (void)s;
}

static void test_blocking(void)
{
    int e = eventfd(0, 0);
    struct epoll_event ev[2];
    int ep = epoll_create(1);
    ctl(ep, EPOLL_CTL_ADD, e, EPOLLIN, 9);
    pthread_t th;
    pthread_create(&th, NULL, late_writer, &e);
    T_EQ(epoll_wait(ep, ev, 2, 5000), 1, "epoll_wait sleeps until ready");
    pthread_join(th, NULL);
    uint64_t v;
    read(e, &v, 8);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    T_EQ(epoll_wait(ep, ev, 2, 30), 0, "epoll_wait times out");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    T_TRUE(ms >= 29, "after the timeout");
    struct timespec ts = {0, 10000000};
    T_EQ(syscall(SYS_epoll_pwait2, ep, ev, 2, &ts, NULL, 8), 0, "epoll_pwait2 times out");
    /* A signal let in by epoll_pwait's mask interrupts it. */
    signal(SIGUSR1, on_usr1);
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR1);
    sigemptyset(&none);
    T_ERRNO(epoll_pwait(ep, ev, 2, 1000, &none), EINTR, "epoll_pwait: EINTR from its mask");
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    close(e);
    close(ep);
}

/* More ready items than 1024: one epoll_wait returns up to MAXEVENTS
 * (Python's EpollSelector asks for all of them), each item once. */
static void test_many(void)
{
    enum { N = 3000 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit nrl = {rl.rlim_cur < N + 64 ? N + 64 : rl.rlim_cur, rl.rlim_max};
    T_OK(rl.rlim_max >= N + 64 ? setrlimit(RLIMIT_NOFILE, &nrl) : -1, "RLIMIT_NOFILE for 3000 fds");
    int efd = eventfd(1, 0);
    int ep = epoll_create1(0);
    static int fds[N];
    int added = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = dup(efd);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (fds[i] >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) == 0)
            added++;
    }
    T_EQ(added, N, "3000 items added");
    static struct epoll_event out[N + 100];
    static char seen[N];
    int n = epoll_wait(ep, out, N + 100, 0);
    T_EQ(n, N, "one epoll_wait returns all 3000 ready items");
    int dups = 0;
    for (int i = 0; i < n; i++)
        if (out[i].data.u32 < N && seen[out[i].data.u32]++)
            dups++;
    T_EQ(dups, 0, "each once");
    T_EQ(epoll_wait(ep, out, 2000, 0), 2000, "maxevents 2000: 2000");
    for (int i = 0; i < N; i++)
        close(fds[i]);
    close(ep);
    close(efd);
    setrlimit(RLIMIT_NOFILE, &rl);
}

int main(void)
{
    tap_init("epoll");
    test_errors();
    test_level();
    test_edge();
    test_oneshot();
    test_nested_and_close();
    test_blocking();
    test_many();
    return tap_done();
}
