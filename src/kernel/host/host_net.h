/*
 * Host sockets for the inet backend (kernel/net/inet.c): the only place
 * moat makes AF_INET/AF_INET6 host calls. Every argument is built by the
 * kernel (sockaddrs rebuilt from validated fields, option values copied
 * into kernel buffers); host fds are non-blocking and close-on-exec and
 * never reach the app. Each call returns its result or -errno.
 */
#ifndef MOAT_KERNEL_HOST_HOST_NET_H
#define MOAT_KERNEL_HOST_HOST_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * The network broker (--network=none of `moat do` run as root). Making a
 * network namespace costs ~0.5 ms here, and tearing it down more, in the
 * host's workqueues, while the next sandbox starts; most programs never
 * open an inet socket. So the kernel process stays in the caller's network
 * namespace, where its seccomp filter lets it make no socket and bind none
 * (host_seccomp_opts.net_broker), and asks the CLI, over a SOCK_SEQPACKET
 * pair, for every inet and netlink socket and every bind: the CLI makes
 * the sandbox's namespace (only lo, up) on the first request and serves
 * them all from inside it (sandbox/netns.c). Binds go through the broker
 * too because a unix socket the kernel holds (its socketpairs) would bind
 * its name in the caller's namespace.
 */
enum net_broker_op {
    NET_BROKER_SOCKET = 1, /* family, type, protocol: up to count new sockets, SCM_RIGHTS */
    NET_BROKER_BIND = 2,   /* the socket (SCM_RIGHTS), addr: bind it */
};
/* Sockets asked for at once: the kernel keeps the spares for the next
 * host_net_socket of the same kind (a round trip to the CLI costs ~80 us
 * here, its wake-ups crossing CPUs). */
#define NET_BROKER_BATCH 8
struct net_broker_req {
    uint32_t op;
    int32_t family, type, protocol;
    uint32_t count; /* SOCKET: 1 to NET_BROKER_BATCH */
    uint32_t addr_len;
    uint8_t addr[28]; /* a sockaddr_in or sockaddr_in6 */
};
struct net_broker_rep {
    int32_t result; /* 0 or -errno */
};

/* Every later host_net_socket and host_net_bind goes to the broker at
 * FD (the kernel's end of the pair). */
void host_net_use_broker(int fd);

/* A new non-blocking host socket. */
int host_net_socket(int family, int type, int protocol);
int host_net_close(int fd);
int host_net_bind(int fd, const struct sockaddr_storage *sa, socklen_t len);
int host_net_listen(int fd, int backlog);
/* A new non-blocking connection; its peer in SA / *LEN (in: room). */
int host_net_accept(int fd, struct sockaddr_storage *sa, socklen_t *len);
int host_net_connect(int fd, const struct sockaddr_storage *sa, socklen_t len);
int host_net_getname(int fd, int peer, struct sockaddr_storage *sa, socklen_t *len);
int host_net_shutdown(int fd, int how);
/* One non-blocking send (MSG_DONTWAIT | MSG_NOSIGNAL added). */
ssize_t host_net_send(int fd, const void *buf, size_t len, const struct sockaddr_storage *to,
                      socklen_t tolen, int flags);
/* One non-blocking receive; the source in FROM / *FROMLEN (may be NULL);
 * the host's msg_flags in *OFLAGS. */
ssize_t host_net_recv(int fd, void *buf, size_t len, struct sockaddr_storage *from,
                      socklen_t *fromlen, int flags, int *oflags);
/* host_net_send with control messages CTL/CTLLEN, which the caller built
 * from validated fields (inet.c). */
ssize_t host_net_sendmsg(int fd, const void *buf, size_t len, const struct sockaddr_storage *to,
                         socklen_t tolen, const void *ctl, size_t ctllen, int flags);
/* host_net_recv that also takes the host's control messages into CTL
 * (*CTLLEN in: room, out: bytes used); the caller parses them. */
ssize_t host_net_recvmsg(int fd, void *buf, size_t len, struct sockaddr_storage *from,
                         socklen_t *fromlen, void *ctl, size_t *ctllen, int flags, int *oflags);
int host_net_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int host_net_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
/* FIONREAD / SIOCOUTQ-style byte counts. */
int host_net_pending(int fd, int *out);

#endif
