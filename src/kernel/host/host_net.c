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

/* Spare sockets the broker sent, by kind. */
#define BROKER_KINDS 8
static struct broker_stock {
    int family, type, protocol;
    int n;
    int fd[NET_BROKER_BATCH];
} g_stock[BROKER_KINDS]; /* (b) g_broker_lock */

void host_net_use_broker(int fd)
{
    g_broker_fd = fd;
}

/* One request to the broker, with FD (>= 0) attached; its result. The
 * descriptors it sent back go to OUT (room for SCM_MAX), their number to
 * *OUT_N; without OUT any are closed. g_broker_lock held. */
static int broker_call_locked(struct net_broker_req *req, int fd, int *out, int *out_n)
{
    union scm_one c;
    struct net_broker_rep rep = {-EPROTO};
    struct iovec iov = {req, sizeof(*req)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0)
        scm_put_fd(&m, &c, fd);
    ssize_t n;
    while ((n = sendmsg(g_broker_fd, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(*req))
        return n < 0 ? -errno : -EPROTO;
    struct iovec riov = {&rep, sizeof(rep)};
    struct msghdr r = {.msg_iov = &riov, .msg_iovlen = 1};
    scm_room(&r, &c);
    while ((n = recvmsg(g_broker_fd, &r, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    int got[SCM_MAX];
    int ngot = n > 0 ? scm_get_fds(&r, got) : 0;
    if (n != (ssize_t)sizeof(rep))
        rep.result = n < 0 ? -errno : -EPROTO;
    else if (out && rep.result == 0 && ngot == 0)
        rep.result = -EPROTO;
    if (out && rep.result == 0) {
        memcpy(out, got, (size_t)ngot * sizeof(int));
        *out_n = ngot;
        ngot = 0;
    }
    for (int i = 0; i < ngot; i++)
        close(got[i]);
    return rep.result;
}

/* A socket from the broker: a spare of the same kind, or a new batch. */
static int broker_socket(int family, int type, int protocol)
{
    pthread_mutex_lock(&g_broker_lock);
    struct broker_stock *k = NULL, *free_slot = NULL;
    for (int i = 0; i < BROKER_KINDS; i++) {
        struct broker_stock *s = &g_stock[i];
        if (s->n > 0 && s->family == family && s->type == type && s->protocol == protocol)
            k = s;
        else if (s->n == 0 && !free_slot)
            free_slot = s;
    }
    int fd;
    if (k) {
        fd = k->fd[--k->n];
    } else {
        struct net_broker_req req = {NET_BROKER_SOCKET, family, type, protocol,
                                     free_slot ? NET_BROKER_BATCH : 1, 0, {0}};
        int got[SCM_MAX], n = 0;
        fd = broker_call_locked(&req, -1, got, &n);
        if (fd == 0) {
            fd = got[0];
            for (int i = 1; i < n; i++) {
                if (free_slot && i - 1 < NET_BROKER_BATCH) {
                    free_slot->fd[free_slot->n++] = got[i];
                } else {
                    close(got[i]);
                }
            }
            if (free_slot && free_slot->n) {
                free_slot->family = family;
                free_slot->type = type;
                free_slot->protocol = protocol;
            }
        }
    }
    pthread_mutex_unlock(&g_broker_lock);
    return fd;
}

int host_net_socket(int family, int type, int protocol)
{
    if (g_broker_fd < 0)
        return ret(socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
    return broker_socket(family, type, protocol);
}

int host_net_close(int fd)
{
    return ret(close(fd));
}

int host_net_bind(int fd, const struct sockaddr_storage *sa, socklen_t len)
{
    if (g_broker_fd < 0)
        return ret(bind(fd, (const struct sockaddr *)sa, len));
    struct net_broker_req req = {NET_BROKER_BIND, 0, 0, 0, 0, 0, {0}};
    if (len > sizeof(req.addr))
        return -EINVAL;
    req.addr_len = len;
    memcpy(req.addr, sa, len);
    pthread_mutex_lock(&g_broker_lock);
    int r = broker_call_locked(&req, fd, NULL, NULL);
    pthread_mutex_unlock(&g_broker_lock);
    return r;
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
