/*
 * AF_INET/AF_INET6 sockets (TCP and UDP) backed by host sockets the kernel
 * owns (inet.c); host calls go through kernel/host/host_net.h only. The
 * calls mirror socket.h; sys_socket.c picks them for inet files.
 */
#ifndef MOAT_KERNEL_NET_INET_H
#define MOAT_KERNEL_NET_INET_H

#include "kernel/net/socket.h"

/* Largest option value inet_getsockopt/inet_setsockopt take (TCP_INFO). */
#define INET_OPT_MAX 256

bool inet_is_socket(struct file *f);
/* Calls FN for each of the sandbox's inet sockets of FAMILY and TYPE (only
 * the sandbox's own: under --network=host the host's other sockets are not
 * listed). */
void inet_for_each(int family, int type, void (*fn)(const struct sock_info *si, void *arg),
                   void *arg);
int inet_create(int family, int type, int protocol, unsigned flags, struct file **out);
int inet_bind(const struct task *t, struct file *f, const void *addr, size_t len);
int inet_listen(struct file *f, int backlog);
int inet_accept(struct task *t, struct file *f, unsigned flags, struct file **out, void *addr,
                uint32_t *addrlen);
int inet_connect(struct task *t, struct file *f, const void *addr, size_t len);
int inet_getname(struct file *f, bool peer, void *addr, uint32_t *addrlen);
int inet_shutdown(struct file *f, int how);
ssize_t inet_sendmsg(struct task *t, struct file *f, const struct sock_smsg *m, int flags);
ssize_t inet_recvmsg(struct task *t, struct file *f, struct sock_rmsg *m, int flags);
/* VAL holds INET_OPT_MAX bytes; *LEN in (<= INET_OPT_MAX) and out. */
int inet_getsockopt(struct file *f, int level, int name, void *val, uint32_t *len);
int inet_setsockopt(struct file *f, int level, int name, const void *val, uint32_t len);

#endif
