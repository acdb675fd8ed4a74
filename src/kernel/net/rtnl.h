/*
 * The sandbox's network view, read from the host: links, addresses and
 * routes of the network namespace the kernel process lives in (under
 * --network=none the sandbox's own namespace, which has only lo; under
 * --network=host the host's).
 *
 * The kernel asks with a NETLINK_ROUTE dump on a host socket of its own
 * (kernel/host/host_net.c) and keeps only what it validated: each reply
 * message is checked (lengths, type, family header) and rebuilt from an
 * allow-list of attributes whose sizes are checked; nested attributes and
 * anything unknown are dropped. Apps' netlink sockets (netlink.c) and
 * /proc/net files are served from these rebuilt messages, never from host
 * bytes passed through.
 */
#ifndef MOAT_KERNEL_NET_RTNL_H
#define MOAT_KERNEL_NET_RTNL_H

#include <stddef.h>
#include <stdint.h>

#define LX_RTM_NEWLINK  16
#define LX_RTM_GETLINK  18
#define LX_RTM_NEWADDR  20
#define LX_RTM_GETADDR  22
#define LX_RTM_NEWROUTE 24
#define LX_RTM_GETROUTE 26

#define LX_IFLA_ADDRESS   1
#define LX_IFLA_BROADCAST 2
#define LX_IFLA_IFNAME    3
#define LX_IFLA_MTU       4
#define LX_IFLA_STATS64   23

#define LX_IFA_ADDRESS 1
#define LX_IFA_LOCAL   2
#define LX_IFA_LABEL   3
#define LX_IFA_FLAGS   8

#define LX_RTA_DST      1
#define LX_RTA_OIF      4
#define LX_RTA_GATEWAY  5
#define LX_RTA_PRIORITY 6
#define LX_RTA_TABLE    15

/* One validated message: the family header (ifinfomsg, ifaddrmsg or
 * rtmsg) followed by 4-byte aligned attributes, as in a netlink payload. */
struct rtnl_msg {
    uint16_t type; /* RTM_NEWLINK, RTM_NEWADDR or RTM_NEWROUTE */
    size_t len;    /* bytes of DATA */
    uint8_t *data;
};

struct rtnl_dump {
    struct rtnl_msg *msgs;
    size_t n;
};

/* Dumps GET_TYPE (LX_RTM_GETLINK, GETADDR or GETROUTE) of FAMILY (AF_UNSPEC,
 * AF_INET or AF_INET6; others mean all) into *OUT. 0 or -errno. */
int rtnl_dump(int get_type, int family, struct rtnl_dump *out);
void rtnl_dump_free(struct rtnl_dump *d);
/* The payload of attribute TYPE of M (its length in *OUT_LEN), or NULL. */
const void *rtnl_attr(const struct rtnl_msg *m, int type, size_t *out_len);
/* The size of M's family header. */
size_t rtnl_hdr_size(uint16_t type);

#endif
