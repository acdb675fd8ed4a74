/*
 * The sandbox's network namespace: see netns.h.
 */
#include "sandbox/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"

/* The helper: a CLONE_VM child of the CLI with its own stack. It shares
 * the CLI's memory (errno included), so it makes raw system calls only. */
struct netns_maker {
    int pidfd;     /* the helper's pidfd (setns), -1 if none */
    int ready_r;   /* one byte when done: 0, or the errno it failed with */
    int ready_w;
    int release_r; /* EOF once the kernel process joined or died */
    int release_w;
};
static struct netns_maker g_maker = {-1, -1, -1, -1, -1};
/* The helper's own copy (the CLI changes g_maker meanwhile). */
static struct netns_maker g_maker_arg;
static char g_maker_stack[16384] __attribute__((aligned(16)));

static long raw6(long nr, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

/* Brings lo up in the caller's network namespace; CALL makes the system
 * calls. 0 or -errno. */
static long lo_up(long (*call)(long, long, long, long))
{
    long fd = call(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    long r = call(SYS_ioctl, fd, SIOCGIFFLAGS, (long)&ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = call(SYS_ioctl, fd, SIOCSIFFLAGS, (long)&ifr);
    }
    call(SYS_close, fd, 0, 0);
    return r;
}

static int maker_main(void *arg)
{
    const struct netns_maker *m = arg;
    raw6(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0);
    raw6(SYS_close, m->ready_r, 0, 0);
    raw6(SYS_close, m->release_w, 0, 0);
    long r = raw6(SYS_unshare, CLONE_NEWNET, 0, 0);
    if (r == 0)
        r = lo_up(raw6);
    uint8_t st = (uint8_t)-r;
    raw6(SYS_write, m->ready_w, (long)&st, 1);
    char b;
    while (raw6(SYS_read, m->release_r, (long)&b, 1) == -EINTR)
        ;
    raw6(SYS_exit, 0, 0, 0);
    return 0;
}

static void close_maker(void)
{
    int *fds[] = {&g_maker.pidfd, &g_maker.ready_r, &g_maker.ready_w, &g_maker.release_r,
                  &g_maker.release_w};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

void netns_maker_start(void)
{
    int rp[2], lp[2];
    if (pipe2(rp, O_CLOEXEC) < 0)
        return;
    if (pipe2(lp, O_CLOEXEC) < 0) {
        close(rp[0]);
        close(rp[1]);
        return;
    }
    g_maker = (struct netns_maker){-1, rp[0], rp[1], lp[0], lp[1]};
    g_maker_arg = g_maker;
    /* No exit signal: the CLI never waits for it (a zombie until the CLI
     * ends). */
    int pidfd = -1;
    pid_t pid = clone(maker_main, g_maker_stack + sizeof(g_maker_stack), CLONE_VM | CLONE_PIDFD,
                      &g_maker_arg, &pidfd);
    if (pid < 0) {
        log_debug("no network namespace helper: %s", strerror(errno));
        close_maker();
        return;
    }
    g_maker.pidfd = pidfd;
    close(g_maker.ready_w);
    close(g_maker.release_r);
    g_maker.ready_w = g_maker.release_r = -1;
}

void netns_maker_forget(void)
{
    close_maker();
}

/* Whether the calling process has one thread (a setns or unshare of the
 * network namespace moves only the calling thread). */
static int thread_count(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, "\nThreads:");
    return p ? atoi(p + 9) : -1;
}

static bool join_maker(void)
{
    if (g_maker.pidfd < 0)
        return false;
    uint8_t st = 0;
    ssize_t n;
    while ((n = read(g_maker.ready_r, &st, 1)) < 0 && errno == EINTR)
        ;
    bool ok = false;
    if (n != 1)
        log_debug("the network namespace helper died");
    else if (st != 0)
        log_debug("the network namespace helper failed: %s", strerror(st));
    else if (setns(g_maker.pidfd, CLONE_NEWNET) < 0)
        log_debug("cannot join the helper's network namespace: %s", strerror(errno));
    else
        ok = true;
    close_maker();
    return ok;
}

int netns_enter(const char **out_step)
{
    int threads = thread_count();
    if (threads != 1) {
        /* Not expected: every thread is made later. */
        *out_step = "the kernel process has more than one thread";
        close_maker();
        return threads < 0 ? -EIO : -EBUSY;
    }
    if (join_maker())
        return 0;
    if (unshare(CLONE_NEWNET) < 0) {
        *out_step = "cannot create the sandbox's network namespace";
        return -errno;
    }
    long r = lo_up(raw6);
    if (r < 0) {
        *out_step = "cannot bring up lo in the sandbox's network namespace";
        return (int)r;
    }
    return 0;
}
