/*
 * The sandbox's network namespace: see netns.h.
 */
#include "sandbox/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel/host/host_net.h"
#include "lib/log.h"
#include "lib/scm.h"

/* Brings lo up in the caller's network namespace. 0 or -errno. */
static int lo_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    int r = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    if (r < 0)
        r = -errno;
    close(fd);
    return r;
}

/* The calling process's thread count, from /proc/self/status; -1 if it
 * cannot tell. */
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

/* Moves the caller into a new network namespace with lo up. 0 or -errno;
 * *OUT_STEP says what failed. */
static int new_netns(const char **out_step)
{
    if (unshare(CLONE_NEWNET) < 0) {
        *out_step = "cannot create the sandbox's network namespace";
        return -errno;
    }
    int r = lo_up();
    if (r < 0)
        *out_step = "cannot bring up lo in the sandbox's network namespace";
    return r;
}

int netns_enter(const char **out_step)
{
    /* unshare moves only the calling thread: every thread is made later. */
    int threads = thread_count();
    if (threads != 1) {
        *out_step = "a network namespace for a kernel process with more than one thread";
        return threads < 0 ? -EIO : -EBUSY;
    }
    return new_netns(out_step);
}

/* ---- the broker (the CLI's side) ---- */

static int g_broker = -1;        /* the CLI's end */
static int g_broker_kernel = -1; /* the kernel's end, until the fork */
static int g_netns_state;        /* 0: not made yet; 1: the CLI is in it; -errno: failed */

int netns_broker_start(int *kernel_fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    g_broker = sv[0];
    g_broker_kernel = sv[1];
    *kernel_fd = sv[1];
    return 0;
}

void netns_broker_forked(void)
{
    if (g_broker_kernel >= 0)
        close(g_broker_kernel);
    g_broker_kernel = -1;
}

void netns_broker_child(void)
{
    if (g_broker >= 0)
        close(g_broker);
    g_broker = -1;
}

int netns_broker_fd(void)
{
    return g_broker;
}

/* The CLI enters the sandbox's network namespace (once): its sockets are
 * made there from then on. */
static int ensure_netns(void)
{
    if (g_netns_state == 0) {
        const char *step;
        int r = new_netns(&step);
        g_netns_state = r < 0 ? r : 1;
        if (r < 0)
            log_error("%s: %s", step, strerror(-r));
    }
    return g_netns_state < 0 ? g_netns_state : 0;
}

/* Only what kernel/net/inet.c and net/rtnl.c ask for: REQ->count (at
 * most NET_BROKER_BATCH) sockets into OUT, their number in *N. */
static int broker_socket(const struct net_broker_req *req, int *out, int *n)
{
    int type = req->type & 0xf, proto = req->protocol;
    bool ok;
    switch (req->family) {
    case AF_INET:
    case AF_INET6:
        ok = (type == SOCK_STREAM || type == SOCK_DGRAM) &&
             (proto == 0 || proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
              proto == IPPROTO_UDPLITE);
        break;
    case AF_NETLINK:
        ok = (type == SOCK_RAW || type == SOCK_DGRAM) && proto == NETLINK_ROUTE;
        break;
    default:
        return -EAFNOSUPPORT;
    }
    if (!ok)
        return -EINVAL;
    if (req->count < 1 || req->count > NET_BROKER_BATCH)
        return -EINVAL;
    int r = ensure_netns();
    if (r < 0)
        return r;
    for (*n = 0; *n < (int)req->count; (*n)++) {
        out[*n] = socket(req->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        if (out[*n] < 0)
            return *n ? 0 : -errno; /* the ones made so far, or the error */
    }
    return 0;
}

/* Binds an inet socket of the sandbox's namespace, nothing else. */
static int broker_bind(int fd, const struct net_broker_req *req)
{
    int domain = -1;
    socklen_t dl = sizeof(domain);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0)
        return -errno;
    if (domain != AF_INET && domain != AF_INET6)
        return -EINVAL;
    sa_family_t fam;
    if (req->addr_len < sizeof(fam) || req->addr_len > sizeof(req->addr))
        return -EINVAL;
    memcpy(&fam, req->addr, sizeof(fam));
    if (fam != domain)
        return -EAFNOSUPPORT;
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof(sa));
    memcpy(&sa, req->addr, req->addr_len);
    return bind(fd, (struct sockaddr *)&sa, req->addr_len) < 0 ? -errno : 0;
}

/* Answers one request: 1, 0 if none is waiting, -1 once the kernel's end
 * is gone. Everything in it is hostile: the kernel process may be an
 * attacker's. */
static int serve_one(void)
{
    struct net_broker_req req;
    union scm_one c;
    struct iovec iov = {&req, sizeof(req)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    scm_room(&m, &c);
    ssize_t n = recvmsg(g_broker, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0)
        return -1;
    int got = scm_get_fd(&m);
    int out[NET_BROKER_BATCH], nout = 0;
    struct net_broker_rep rep = {-EINVAL};
    if (n == (ssize_t)sizeof(req) && !(m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        if (req.op == NET_BROKER_SOCKET && got < 0)
            rep.result = broker_socket(&req, out, &nout);
        else if (req.op == NET_BROKER_BIND && got >= 0)
            rep.result = broker_bind(got, &req);
    }
    struct iovec riov = {&rep, sizeof(rep)};
    struct msghdr r = {.msg_iov = &riov, .msg_iovlen = 1};
    if (rep.result == 0 && nout > 0)
        scm_put_fds(&r, &c, out, nout);
    while (sendmsg(g_broker, &r, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
    for (int i = 0; i < nout; i++)
        close(out[i]);
    if (got >= 0)
        close(got);
    return 1;
}

void netns_broker_serve(void)
{
    int r = 1;
    while (g_broker >= 0 && (r = serve_one()) > 0)
        ;
    if (r < 0) {
        close(g_broker);
        g_broker = -1;
    }
}
