/*
 * Probe: AF_NETLINK / NETLINK_ROUTE queries (link, address and route
 * dumps, one link, acks, errors) and what glibc builds on them
 * (getifaddrs, if_nameindex). Only facts true in any network namespace
 * are checked (lo is index 1 with 127.0.0.1/8 and ::1).
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "tap.h"

static int nl_open(void)
{
    return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

struct req {
    struct nlmsghdr h;
    union {
        struct ifinfomsg ifi;
        struct ifaddrmsg ifa;
        struct rtmsg rtm;
    };
    char attrs[64];
};

static int send_req(int fd, int type, int flags, int seq, const void *body, size_t blen,
                    const void *attr, size_t alen)
{
    struct req r;
    memset(&r, 0, sizeof(r));
    r.h.nlmsg_len = NLMSG_LENGTH(blen) + alen;
    r.h.nlmsg_type = type;
    r.h.nlmsg_flags = flags;
    r.h.nlmsg_seq = seq;
    memcpy(&r.ifi, body, blen);
    memcpy((char *)&r + NLMSG_LENGTH(blen), attr, alen);
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    return (int)sendto(fd, &r, r.h.nlmsg_len, 0, (struct sockaddr *)&k, sizeof(k));
}

/* Reads replies to SEQ until NLMSG_DONE or an error/ack: the messages of
 * TYPE go to FN. Returns the error code of NLMSG_ERROR (0 for an ack or a
 * completed dump), or 1 on a bad reply. */
static int collect(int fd, int seq, uint32_t portid, int type,
                   void (*fn)(struct nlmsghdr *h, void *arg), void *arg, int *out_bad)
{
    static char buf[65536];
    *out_bad = 0;
    for (;;) {
        struct sockaddr_nl from;
        struct iovec iov = {buf, sizeof(buf)};
        struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                           .msg_iovlen = 1};
        ssize_t n = recvmsg(fd, &m, 0);
        if (n <= 0 || m.msg_namelen != sizeof(from) || from.nl_pid != 0)
            return 1;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if ((int)h->nlmsg_seq != seq || h->nlmsg_pid != portid)
                (*out_bad)++;
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR)
                return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
            if (h->nlmsg_type == type)
                fn(h, arg);
            else
                (*out_bad)++;
        }
    }
}

struct link_seen {
    int count, lo_index, lo_flags, lo_mtu_ok;
};

static void on_link(struct nlmsghdr *h, void *arg)
{
    struct link_seen *s = arg;
    struct ifinfomsg *ifi = NLMSG_DATA(h);
    s->count++;
    int len = IFLA_PAYLOAD(h);
    for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFLA_IFNAME && strcmp(RTA_DATA(a), "lo") == 0) {
            s->lo_index = ifi->ifi_index;
            s->lo_flags = (int)ifi->ifi_flags;
        }
        if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) == 4 && *(int *)RTA_DATA(a) > 0)
            s->lo_mtu_ok = 1;
    }
}

struct addr_seen {
    int count, v4_lo, v6_lo, other_family;
    int want_family;
};

static void on_addr(struct nlmsghdr *h, void *arg)
{
    struct addr_seen *s = arg;
    struct ifaddrmsg *ifa = NLMSG_DATA(h);
    s->count++;
    if (s->want_family && ifa->ifa_family != s->want_family)
        s->other_family++;
    int len = IFA_PAYLOAD(h);
    for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type != IFA_ADDRESS)
            continue;
        if (ifa->ifa_family == AF_INET && RTA_PAYLOAD(a) == 4 &&
            *(uint32_t *)RTA_DATA(a) == htonl(INADDR_LOOPBACK) && ifa->ifa_prefixlen == 8 &&
            ifa->ifa_index == 1)
            s->v4_lo = 1;
        if (ifa->ifa_family == AF_INET6 && RTA_PAYLOAD(a) == 16 &&
            memcmp(RTA_DATA(a), &in6addr_loopback, 16) == 0 && ifa->ifa_prefixlen == 128)
            s->v6_lo = 1;
    }
}

static void on_route(struct nlmsghdr *h, void *arg)
{
    int *n = arg;
    (*n)++;
    (void)h;
}

static uint32_t portid_of(int fd)
{
    struct sockaddr_nl a;
    socklen_t len = sizeof(a);
    memset(&a, 0, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    return a.nl_pid;
}

static void test_socket(void)
{
    T_ERRNO(socket(AF_NETLINK, SOCK_RAW, 32), EPROTONOSUPPORT, "protocol 32: EPROTONOSUPPORT");
    T_ERRNO(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE), ESOCKTNOSUPPORT,
            "SOCK_STREAM: ESOCKTNOSUPPORT");
    int sv[2];
    T_ERRNO(socketpair(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, sv), EOPNOTSUPP,
            "socketpair: EOPNOTSUPP");
    int fd = T_OK(nl_open(), "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)");
    T_OK(socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE), "SOCK_DGRAM works too");
    T_EQ(portid_of(fd), 0, "unbound: port id 0");
    struct sockaddr_nl a = {.nl_family = AF_NETLINK};
    T_ERRNO(bind(fd, (struct sockaddr *)&a, 4), EINVAL, "bind with a short address: EINVAL");
    a.nl_family = AF_INET;
    T_ERRNO(bind(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL, "bind as AF_INET: EINVAL");
    a.nl_family = AF_NETLINK;
    T_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)), "bind to port 0 (autobind)");
    T_EQ(portid_of(fd), getpid(), "the first socket gets the pid");
    int fd2 = nl_open();
    T_OK(bind(fd2, (struct sockaddr *)&a, sizeof(a)), "bind a second socket");
    T_TRUE((int32_t)portid_of(fd2) < 0, "the second gets a negative id");
    a.nl_pid = portid_of(fd);
    int fd3 = nl_open();
    T_ERRNO(bind(fd3, (struct sockaddr *)&a, sizeof(a)), EADDRINUSE, "a used id: EADDRINUSE");
    close(fd3);
    close(fd2);
    T_ERRNO(listen(fd, 1), EOPNOTSUPP, "listen: EOPNOTSUPP");
    T_ERRNO(shutdown(fd, SHUT_RDWR), EOPNOTSUPP, "shutdown: EOPNOTSUPP");
    int v = 0;
    socklen_t len = sizeof(v);
    T_OK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), "SO_TYPE");
    T_EQ(v, SOCK_RAW, "SOCK_RAW");
    T_OK(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len), "SO_DOMAIN");
    T_EQ(v, AF_NETLINK, "AF_NETLINK");
    T_OK(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len), "SO_PROTOCOL");
    T_EQ(v, NETLINK_ROUTE, "NETLINK_ROUTE");
    v = 32768;
    T_OK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), "SO_RCVBUF");
    T_OK(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len), "get SO_RCVBUF");
    T_EQ(v, 65536, "doubled as Linux reports it");
    v = 1;
    T_OK(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, sizeof(v)), "NETLINK_EXT_ACK");
    T_OK(setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &(int){RTNLGRP_LINK}, sizeof(int)),
         "join RTNLGRP_LINK");
    v = 0;
    T_OK(getsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, &len), "get NETLINK_EXT_ACK");
    T_EQ(v, 1, "set");
    v = 1;
    T_OK(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, 2), "a short value");
    T_OK(getsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, &len), "get NETLINK_EXT_ACK");
    T_EQ(v, 0, "reads as 0");
    T_ERRNO(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, 2), EINVAL, "short SOL_SOCKET value: EINVAL");
    char b[16];
    T_ERRNO(recv(fd, b, sizeof(b), MSG_DONTWAIT), EAGAIN, "nothing queued: EAGAIN");
    struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = 0x7ffe1234};
    struct nlmsghdr h = {.nlmsg_len = sizeof(h), .nlmsg_type = RTM_GETLINK,
                         .nlmsg_flags = NLM_F_REQUEST};
    T_ERRNO(sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&to, sizeof(to)), ECONNREFUSED,
            "to a port nobody holds: ECONNREFUSED");
    close(fd);
}

static void test_dumps(void)
{
    int fd = nl_open();
    int bad;
    struct rtgenmsg g = {AF_PACKET};
    T_OK(send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, &g, sizeof(g), NULL, 0),
         "RTM_GETLINK dump request");
    uint32_t me = portid_of(fd);
    T_EQ(me, getpid(), "sending autobinds");
    struct pollfd pf = {fd, POLLIN, 0};
    T_EQ(poll(&pf, 1, 1000), 1, "readable");
    struct link_seen ls = {0};
    T_EQ(collect(fd, 1, me, RTM_NEWLINK, on_link, &ls, &bad), 0, "dump ends with NLMSG_DONE");
    T_EQ(bad, 0, "every reply has our seq and port id");
    T_TRUE(ls.count >= 1, "at least one link");
    T_EQ(ls.lo_index, 1, "lo is index 1");
    T_TRUE((ls.lo_flags & IFF_LOOPBACK) && (ls.lo_flags & IFF_UP), "lo is up, a loopback");
    T_TRUE(ls.lo_mtu_ok, "IFLA_MTU");

    int fams[] = {AF_UNSPEC, AF_INET, AF_INET6};
    for (int i = 0; i < 3; i++) {
        struct ifaddrmsg ifa = {.ifa_family = fams[i]};
        send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 2 + i, &ifa, sizeof(ifa), NULL,
                 0);
        struct addr_seen as = {.want_family = fams[i]};
        char name[80];
        snprintf(name, sizeof(name), "RTM_GETADDR dump, family %d", fams[i]);
        T_EQ(collect(fd, 2 + i, me, RTM_NEWADDR, on_addr, &as, &bad), 0, name);
        T_EQ(bad, 0, "well-formed replies");
        T_EQ(as.other_family, 0, "only the family asked for");
        if (fams[i] != AF_INET6)
            T_TRUE(as.v4_lo, "127.0.0.1/8 on lo");
        if (fams[i] != AF_INET)
            T_TRUE(as.v6_lo, "::1/128");
    }
    struct rtmsg rtm = {.rtm_family = AF_INET};
    send_req(fd, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 9, &rtm, sizeof(rtm), NULL, 0);
    int routes = 0;
    T_EQ(collect(fd, 9, me, RTM_NEWROUTE, on_route, &routes, &bad), 0, "RTM_GETROUTE dump");
    T_EQ(bad, 0, "only RTM_NEWROUTE messages");
    T_TRUE(routes >= 1, "the local routes of lo at least");
    close(fd);
}

static void test_get_one(void)
{
    int fd = nl_open();
    int bad;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = 1};
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 20, &ifi, sizeof(ifi), NULL, 0);
    uint32_t me = portid_of(fd);
    struct link_seen ls = {0};
    T_EQ(collect(fd, 20, me, RTM_NEWLINK, on_link, &ls, &bad), 0, "GETLINK index 1, then an ack");
    T_TRUE(ls.count == 1 && ls.lo_index == 1, "one link: lo");
    char attr[RTA_SPACE(3)];
    struct rtattr *a = (struct rtattr *)attr;
    a->rta_len = RTA_LENGTH(3);
    a->rta_type = IFLA_IFNAME;
    memcpy(RTA_DATA(a), "lo", 3);
    ifi.ifi_index = 0;
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, 21, &ifi, sizeof(ifi), attr, sizeof(attr));
    memset(&ls, 0, sizeof(ls));
    struct pollfd pf = {fd, POLLIN, 0};
    poll(&pf, 1, 1000);
    char buf[8192];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_TRUNC);
    T_TRUE(n > (ssize_t)NLMSG_HDRLEN, "MSG_PEEK|MSG_TRUNC gives the length");
    struct iovec iov = {buf, 8};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    T_EQ(recvmsg(fd, &m, MSG_PEEK), 8, "a short peek");
    T_TRUE(m.msg_flags & MSG_TRUNC, "MSG_TRUNC flag");
    n = recv(fd, buf, sizeof(buf), 0);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    T_TRUE(n > 0 && h->nlmsg_type == RTM_NEWLINK && h->nlmsg_seq == 21, "GETLINK by IFLA_IFNAME");
    T_EQ(((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index, 1, "lo");
    T_ERRNO(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN, "no ack unless asked");

    ifi.ifi_index = 99999;
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, 22, &ifi, sizeof(ifi), NULL, 0);
    T_EQ(collect(fd, 22, me, RTM_NEWLINK, on_link, &ls, &bad), -ENODEV, "no such link: ENODEV");
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, 23, &ifi, 4, NULL, 0);
    T_EQ(collect(fd, 23, me, RTM_NEWLINK, on_link, &ls, &bad), -EINVAL,
         "a short request: EINVAL");
    send_req(fd, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, 24, &ifi, 0, NULL, 0);
    T_EQ(collect(fd, 24, me, RTM_NEWLINK, on_link, &ls, &bad), 0, "NLMSG_NOOP: acked");
    send_req(fd, RTM_GETLINK, NLM_F_ACK, 25, &ifi, sizeof(ifi), NULL, 0);
    T_EQ(collect(fd, 25, me, RTM_NEWLINK, on_link, &ls, &bad), 0,
         "no NLM_F_REQUEST: only acked");
    close(fd);
}

static void test_libc(void)
{
    struct ifaddrs *ifs;
    T_OK(getifaddrs(&ifs), "getifaddrs");
    int v4 = 0, v6 = 0, pkt = 0;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, "lo") != 0 || !i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET &&
            ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            v4 = 1;
        if (i->ifa_addr->sa_family == AF_INET6)
            v6 = 1;
        if (i->ifa_addr->sa_family == AF_PACKET)
            pkt = 1;
    }
    freeifaddrs(ifs);
    T_TRUE(v4 && v6 && pkt, "lo with 127.0.0.1, an IPv6 and a packet entry");
    struct if_nameindex *ni = if_nameindex();
    T_TRUE(ni != NULL, "if_nameindex");
    int lo = 0;
    for (struct if_nameindex *p = ni; p && p->if_index; p++)
        lo |= p->if_index == 1 && strcmp(p->if_name, "lo") == 0;
    if_freenameindex(ni);
    T_TRUE(lo, "lists lo as 1");
    T_EQ(if_nametoindex("lo"), 1, "if_nametoindex");
    char name[IF_NAMESIZE];
    T_TRUE(if_indextoname(1, name) && strcmp(name, "lo") == 0, "if_indextoname");
    T_EQ(if_nametoindex("nosuchif0"), 0, "unknown name: 0");
}

static void test_ioctls(void)
{
    int fds[2] = {socket(AF_UNIX, SOCK_DGRAM, 0), socket(AF_INET, SOCK_DGRAM, 0)};
    for (int i = 0; i < 2; i++) {
        int fd = fds[i];
        struct ifreq r;
        memset(&r, 0, sizeof(r));
        strcpy(r.ifr_name, "lo");
        T_OK(ioctl(fd, SIOCGIFINDEX, &r), i ? "SIOCGIFINDEX (inet socket)" : "SIOCGIFINDEX (unix socket)");
        T_EQ(r.ifr_ifindex, 1, "lo is 1");
        memset(r.ifr_name, 0, sizeof(r.ifr_name));
        T_OK(ioctl(fd, SIOCGIFNAME, &r), "SIOCGIFNAME");
        T_STREQ(r.ifr_name, "lo", "1 is lo");
        T_OK(ioctl(fd, SIOCGIFFLAGS, &r), "SIOCGIFFLAGS");
        T_TRUE((r.ifr_flags & IFF_UP) && (r.ifr_flags & IFF_LOOPBACK), "up, loopback");
        T_OK(ioctl(fd, SIOCGIFMTU, &r), "SIOCGIFMTU");
        T_TRUE(r.ifr_mtu > 0, "an MTU");
        T_OK(ioctl(fd, SIOCGIFHWADDR, &r), "SIOCGIFHWADDR");
        T_EQ(r.ifr_hwaddr.sa_family, 772 /* ARPHRD_LOOPBACK */, "ARPHRD_LOOPBACK");
        if (i == 0) {
            T_ERRNO(ioctl(fd, SIOCGIFADDR, &r), ENOTTY, "SIOCGIFADDR on a unix socket: ENOTTY");
            close(fd);
            continue;
        }
        T_OK(ioctl(fd, SIOCGIFADDR, &r), "SIOCGIFADDR");
        T_EQ(((struct sockaddr_in *)&r.ifr_addr)->sin_addr.s_addr, htonl(INADDR_LOOPBACK),
             "127.0.0.1");
        T_OK(ioctl(fd, SIOCGIFNETMASK, &r), "SIOCGIFNETMASK");
        T_EQ(((struct sockaddr_in *)&r.ifr_netmask)->sin_addr.s_addr, htonl(0xff000000),
             "255.0.0.0");
        strcpy(r.ifr_name, "nosuchif0");
        T_ERRNO(ioctl(fd, SIOCGIFINDEX, &r), ENODEV, "unknown interface: ENODEV");
        struct ifconf ic = {.ifc_len = 0, .ifc_buf = NULL};
        T_OK(ioctl(fd, SIOCGIFCONF, &ic), "SIOCGIFCONF size query");
        T_TRUE(ic.ifc_len >= (int)sizeof(struct ifreq) && ic.ifc_len % sizeof(struct ifreq) == 0,
               "room for whole ifreqs");
        struct ifreq reqs[64];
        ic.ifc_len = sizeof(reqs);
        ic.ifc_req = reqs;
        T_OK(ioctl(fd, SIOCGIFCONF, &ic), "SIOCGIFCONF");
        int lo = 0;
        for (int k = 0; k < ic.ifc_len / (int)sizeof(struct ifreq); k++)
            lo |= strcmp(reqs[k].ifr_name, "lo") == 0;
        T_TRUE(lo, "lists lo");
        close(fd);
    }
}

int main(void)
{
    tap_init("netlink");
    test_socket();
    test_dumps();
    test_get_one();
    test_libc();
    test_ioctls();
    return tap_done();
}
