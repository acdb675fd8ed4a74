/*
 * AF_NETLINK sockets, NETLINK_ROUTE only, in the kernel (netlink.c): the
 * GET requests of glibc's getifaddrs/if_nameindex and of iproute2 (link,
 * address and route dumps, one link by index or name) are answered from
 * the sandbox's network view (rtnl.h). Requests that change the network
 * are EPERM (the sandbox has no CAP_NET_ADMIN over it); other families are
 * EPROTONOSUPPORT. No multicast events are sent (groups can be joined).
 * The calls mirror socket.h; sys_socket.c picks them for netlink files.
 */
#ifndef MOAT_KERNEL_NET_NETLINK_H
#define MOAT_KERNEL_NET_NETLINK_H

#include "kernel/net/socket.h"

#define LX_AF_NETLINK 16

bool netlink_is_socket(struct file *f);
int netlink_create(int type, int protocol, unsigned flags, struct file **out);
int netlink_bind(struct task *t, struct file *f, const void *addr, size_t len);
int netlink_connect(struct task *t, struct file *f, const void *addr, size_t len);
int netlink_getname(struct file *f, bool peer, void *addr, uint32_t *addrlen);
ssize_t netlink_sendmsg(struct task *t, struct file *f, const struct sock_smsg *m, int flags);
ssize_t netlink_recvmsg(struct task *t, struct file *f, struct sock_rmsg *m, int flags);
/* VAL/LEN in and out (LEN <= 16 on entry). */
int netlink_getsockopt(struct file *f, int level, int name, void *val, uint32_t *len);
int netlink_setsockopt(struct file *f, int level, int name, const void *val, uint32_t len);
/* Queues DATA (LEN bytes) on netlink socket F as a datagram from the
 * kernel (port 0): mq_notify's SIGEV_THREAD cookies. 0, -EINVAL (F is not
 * a netlink socket), -ENOMEM or -EAGAIN (F's queue is full: dropped). */
int netlink_deliver_kernel(struct file *f, const void *data, size_t len);

#endif
