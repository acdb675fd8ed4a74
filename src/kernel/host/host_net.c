/* Host sockets for the inet backend (see host_net.h). */
#include "kernel/host/host_net.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/scm.h"

static int ret(long r)
{
    return r < 0 ? -errno : (int)r;
}

static int g_broker_fd = -1; /* (c) after host_net_use_broker */
static pthread_mutex_t g_broker_lock = PTHREAD_MUTEX_INITIALIZER;

void host_net_use_broker(int fd)
{
    g_broker_fd = fd;
}

/* One request to the broker, with FD (>= 0) attached; its result, and the
 * socket it sent back in *OUT_FD (when OUT_FD is not NULL). */
static int broker_call(struct net_broker_req *req, int fd, int *out_fd)
{
    union scm_one c;
    struct net_broker_rep rep = {-EPROTO};
    struct iovec iov = {req, sizeof(*req)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0)
        scm_put_fd(&m, &c, fd);
    pthread_mutex_lock(&g_broker_lock);
    ssize_t n;
    while ((n = sendmsg(g_broker_fd, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(*req)) {
        pthread_mutex_unlock(&g_broker_lock);
        return n < 0 ? -errno : -EPROTO;
    }
    struct iovec riov = {&rep, sizeof(rep)};
    struct msghdr r = {.msg_iov = &riov, .msg_iovlen = 1};
    scm_room(&r, &c);
    while ((n = recvmsg(g_broker_fd, &r, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    pthread_mutex_unlock(&g_broker_lock);
    int got = n > 0 ? scm_get_fd(&r) : -1;
    if (n != (ssize_t)sizeof(rep))
        rep.result = n < 0 ? -errno : -EPROTO;
    else if (out_fd && rep.result == 0 && got < 0)
        rep.result = -EPROTO;
    if (out_fd && rep.result == 0) {
        *out_fd = got;
        got = -1;
    }
    if (got >= 0)
        close(got);
    return rep.result;
}

int host_net_socket(int family, int type, int protocol)
{
    if (g_broker_fd < 0)
        return ret(socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
    struct net_broker_req req = {NET_BROKER_SOCKET, family, type, protocol, 0, {0}};
    int fd = -1;
    int r = broker_call(&req, -1, &fd);
    return r < 0 ? r : fd;
}

int host_net_close(int fd)
{
    return ret(close(fd));
}

int host_net_bind(int fd, const struct sockaddr_storage *sa, socklen_t len)
{
    if (g_broker_fd < 0)
        return ret(bind(fd, (const struct sockaddr *)sa, len));
    struct net_broker_req req = {NET_BROKER_BIND, 0, 0, 0, 0, {0}};
    if (len > sizeof(req.addr))
        return -EINVAL;
    req.addr_len = len;
    memcpy(req.addr, sa, len);
    return broker_call(&req, fd, NULL);
}

int host_net_listen(int fd, int backlog)
{
    return ret(listen(fd, backlog));
}

int host_net_accept(int fd, struct sockaddr_storage *sa, socklen_t *len)
{
    return ret(accept4(fd, (struct sockaddr *)sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

int host_net_connect(int fd, const struct sockaddr_storage *sa, socklen_t len)
{
    return ret(connect(fd, (const struct sockaddr *)sa, len));
}

int host_net_getname(int fd, int peer, struct sockaddr_storage *sa, socklen_t *len)
{
    if (peer)
        return ret(getpeername(fd, (struct sockaddr *)sa, len));
    return ret(getsockname(fd, (struct sockaddr *)sa, len));
}

int host_net_shutdown(int fd, int how)
{
    return ret(shutdown(fd, how));
}

ssize_t host_net_send(int fd, const void *buf, size_t len, const struct sockaddr_storage *to,
                      socklen_t tolen, int flags)
{
    return host_net_sendmsg(fd, buf, len, to, tolen, NULL, 0, flags);
}

ssize_t host_net_sendmsg(int fd, const void *buf, size_t len, const struct sockaddr_storage *to,
                         socklen_t tolen, const void *ctl, size_t ctllen, int flags)
{
    struct iovec iov = {(void *)buf, len};
    struct msghdr h = {
            .msg_name = (void *)to,
            .msg_namelen = to ? tolen : 0,
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = ctllen ? (void *)ctl : NULL,
            .msg_controllen = ctllen,
    };
    ssize_t r = sendmsg(fd, &h, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    return r < 0 ? -errno : r;
}

ssize_t host_net_recv(int fd, void *buf, size_t len, struct sockaddr_storage *from,
                      socklen_t *fromlen, int flags, int *oflags)
{
    return host_net_recvmsg(fd, buf, len, from, fromlen, NULL, NULL, flags, oflags);
}

ssize_t host_net_recvmsg(int fd, void *buf, size_t len, struct sockaddr_storage *from,
                         socklen_t *fromlen, void *ctl, size_t *ctllen, int flags, int *oflags)
{
    struct iovec iov = {buf, len};
    struct msghdr h = {
            .msg_name = from,
            .msg_namelen = from ? *fromlen : 0,
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = ctllen && *ctllen ? ctl : NULL,
            .msg_controllen = ctllen ? *ctllen : 0,
    };
    ssize_t r = recvmsg(fd, &h, flags | MSG_DONTWAIT);
    if (r < 0)
        return -errno;
    if (from)
        *fromlen = h.msg_namelen;
    if (ctllen)
        *ctllen = h.msg_control ? h.msg_controllen : 0;
    *oflags = h.msg_flags;
    return r;
}

int host_net_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    return ret(setsockopt(fd, level, name, val, len));
}

int host_net_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    return ret(getsockopt(fd, level, name, val, len));
}

int host_net_pending(int fd, int *out)
{
    return ret(ioctl(fd, FIONREAD, out));
}
