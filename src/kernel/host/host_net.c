/* Host sockets for the inet backend (see host_net.h). */
#include "kernel/host/host_net.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int ret(long r)
{
    return r < 0 ? -errno : (int)r;
}

int host_net_socket(int family, int type, int protocol)
{
    return ret(socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
}

int host_net_close(int fd)
{
    return ret(close(fd));
}

int host_net_bind(int fd, const struct sockaddr_storage *sa, socklen_t len)
{
    return ret(bind(fd, (const struct sockaddr *)sa, len));
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
