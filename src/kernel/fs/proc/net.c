/*
 * /proc/PID/net (and /proc/net, a link to self/net): dev, if_inet6 and
 * route from the sandbox's network view (kernel/net/rtnl.h); tcp, tcp6,
 * udp, udp6 and unix from moat's own sockets, in Linux's formats.
 *
 * Differences from Linux: only the sandbox's own sockets are listed (under
 * --network=host the host's other sockets are not); the TCP timer columns
 * are 0 (moat does not see the host's timers); udp rx_queue is the size of
 * the next datagram. No snmp, netstat or sockstat: moat has no counters
 * for them and does not invent any.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/fs/proc/proc_internal.h"
#include "kernel/net/inet.h"
#include "kernel/net/rtnl.h"
#include "kernel/net/socket.h"

#define LX_IFA_FLAGS_ATTR 8
#define RT_TABLE_MAIN_L   254
#define RTN_UNICAST_L     1
#define RTN_UNREACHABLE_L 7
#define RTN_PROHIBIT_L    8
#define RTN_BLACKHOLE_L   6
#define RTF_UP_L          0x1
#define RTF_GATEWAY_L     0x2
#define RTF_HOST_L        0x4
#define RTF_REJECT_L      0x200

/* The name of link INDEX in LINKS, or "*". */
static const char *link_name(const struct rtnl_dump *links, int32_t index)
{
    for (size_t i = 0; i < links->n; i++) {
        int32_t idx;
        memcpy(&idx, links->msgs[i].data + 4, 4);
        if (idx == index) {
            const char *n = rtnl_attr(&links->msgs[i], LX_IFLA_IFNAME, NULL);
            return n ? n : "*";
        }
    }
    return "*";
}

static int show_dev(struct gen_inode *gi, struct sbuf *b)
{
    (void)gi;
    struct rtnl_dump d;
    int r = rtnl_dump(LX_RTM_GETLINK, AF_UNSPEC, &d);
    if (r < 0)
        return r;
    sbuf_printf(b, "Inter-|   Receive                                                |  Transmit\n"
                   " face |bytes    packets errs drop fifo frame compressed multicast|"
                   "bytes    packets errs drop fifo colls carrier compressed\n");
    for (size_t i = 0; i < d.n; i++) {
        const struct rtnl_msg *m = &d.msgs[i];
        const char *name = rtnl_attr(m, LX_IFLA_IFNAME, NULL);
        if (!name)
            continue;
        uint64_t st[24] = {0};
        size_t len = 0;
        const void *p = rtnl_attr(m, LX_IFLA_STATS64, &len);
        if (p && len >= sizeof(st))
            memcpy(st, p, sizeof(st));
        /* rtnl_link_stats64: rx_packets, tx_packets, rx_bytes, tx_bytes,
         * rx_errors, tx_errors, rx_dropped, tx_dropped, multicast,
         * collisions, rx_length, rx_over, rx_crc, rx_frame, rx_fifo,
         * rx_missed, tx_aborted, tx_carrier, tx_fifo, tx_heartbeat,
         * tx_window, rx_compressed, tx_compressed, rx_nohandler. */
        sbuf_printf(b,
                    "%6s: %7llu %7llu %4llu %4llu %4llu %5llu %10llu %9llu "
                    "%8llu %7llu %4llu %4llu %4llu %5llu %7llu %10llu\n",
                    name, (unsigned long long)st[2], (unsigned long long)st[0],
                    (unsigned long long)st[4], (unsigned long long)(st[6] + st[15]),
                    (unsigned long long)st[14],
                    (unsigned long long)(st[10] + st[11] + st[12] + st[13]),
                    (unsigned long long)st[21], (unsigned long long)st[8],
                    (unsigned long long)st[3], (unsigned long long)st[1],
                    (unsigned long long)st[5], (unsigned long long)st[7],
                    (unsigned long long)st[18], (unsigned long long)st[9],
                    (unsigned long long)(st[17] + st[16] + st[20] + st[19]),
                    (unsigned long long)st[22]);
    }
    rtnl_dump_free(&d);
    return 0;
}

/* The IPv6 scope /proc/net/if_inet6 prints for a netlink scope. */
static unsigned v6_scope(uint8_t rt_scope)
{
    switch (rt_scope) {
    case 254: /* RT_SCOPE_HOST */
        return 0x10;
    case 253: /* RT_SCOPE_LINK */
        return 0x20;
    case 200: /* RT_SCOPE_SITE */
        return 0x40;
    default:
        return 0x00;
    }
}

/* Dumps TYPE for FAMILY into D and the links (for their names) into
 * LINKS: 0, or negative with neither to free. */
static int dump_with_links(int type, int family, struct rtnl_dump *d, struct rtnl_dump *links)
{
    int r = rtnl_dump(type, family, d);
    if (r < 0)
        return r;
    r = rtnl_dump(LX_RTM_GETLINK, AF_UNSPEC, links);
    if (r < 0)
        rtnl_dump_free(d);
    return r;
}

static int show_if_inet6(struct gen_inode *gi, struct sbuf *b)
{
    (void)gi;
    struct rtnl_dump d, links;
    int r = dump_with_links(LX_RTM_GETADDR, AF_INET6, &d, &links);
    if (r < 0)
        return r;
    for (size_t i = 0; i < d.n; i++) {
        const struct rtnl_msg *m = &d.msgs[i];
        const uint8_t *a = rtnl_attr(m, LX_IFA_ADDRESS, NULL);
        if (!a)
            continue;
        int32_t index;
        memcpy(&index, m->data + 4, 4);
        uint32_t flags = m->data[2];
        const void *fl = rtnl_attr(m, LX_IFA_FLAGS_ATTR, NULL);
        if (fl)
            memcpy(&flags, fl, 4);
        for (int k = 0; k < 16; k++)
            sbuf_printf(b, "%02x", a[k]);
        sbuf_printf(b, " %02x %02x %02x %02x %8s\n", (unsigned)index, m->data[1],
                    v6_scope(m->data[3]), flags & 0xff, link_name(&links, index));
    }
    rtnl_dump_free(&links);
    rtnl_dump_free(&d);
    return 0;
}

static int show_route(struct gen_inode *gi, struct sbuf *b)
{
    (void)gi;
    struct rtnl_dump d, links;
    int r = dump_with_links(LX_RTM_GETROUTE, AF_INET, &d, &links);
    if (r < 0)
        return r;
    sbuf_printf(b, "%-127s\n",
                "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU"
                "\tWindow\tIRTT");
    for (size_t i = 0; i < d.n; i++) {
        const struct rtnl_msg *m = &d.msgs[i];
        /* rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type */
        uint32_t table = m->data[4];
        const void *tp = rtnl_attr(m, LX_RTA_TABLE, NULL);
        if (tp)
            memcpy(&table, tp, 4);
        uint8_t type = m->data[7];
        if (table != RT_TABLE_MAIN_L)
            continue;
        if (type != RTN_UNICAST_L && type != RTN_UNREACHABLE_L && type != RTN_PROHIBIT_L &&
            type != RTN_BLACKHOLE_L)
            continue;
        unsigned plen = m->data[1];
        uint32_t dst = 0, gw = 0, oif = 0, prio = 0;
        const void *p;
        if ((p = rtnl_attr(m, LX_RTA_DST, NULL)))
            memcpy(&dst, p, 4);
        if ((p = rtnl_attr(m, LX_RTA_GATEWAY, NULL)))
            memcpy(&gw, p, 4);
        if ((p = rtnl_attr(m, LX_RTA_OIF, NULL)))
            memcpy(&oif, p, 4);
        if ((p = rtnl_attr(m, LX_RTA_PRIORITY, NULL)))
            memcpy(&prio, p, 4);
        uint32_t mask = htonl(plen ? ~0u << (32 - (plen > 32 ? 32 : plen)) : 0);
        unsigned flags = 0;
        if (type == RTN_UNICAST_L)
            flags |= RTF_UP_L;
        else
            flags |= RTF_REJECT_L;
        if (gw)
            flags |= RTF_GATEWAY_L;
        if (mask == 0xffffffffu)
            flags |= RTF_HOST_L;
        char line[160];
        snprintf(line, sizeof(line), "%s\t%08X\t%08X\t%04X\t%d\t%u\t%d\t%08X\t%d\t%u\t%u",
                 oif ? link_name(&links, (int32_t)oif) : "*", dst, gw, flags, 0, 0u, (int)prio,
                 mask, 0, 0u, 0u);
        sbuf_printf(b, "%-127s\n", line);
    }
    rtnl_dump_free(&links);
    rtnl_dump_free(&d);
    return 0;
}

struct sock_walk {
    struct sbuf *b;
    int n;
};

static void put_addr(struct sbuf *b, int family, const uint8_t *a, uint16_t port)
{
    if (family == LX_AF_INET) {
        uint32_t v;
        memcpy(&v, a, 4);
        sbuf_printf(b, "%08X:%04X", v, port);
        return;
    }
    for (int k = 0; k < 4; k++) {
        uint32_t v;
        memcpy(&v, a + 4 * k, 4);
        sbuf_printf(b, "%08X", v);
    }
    sbuf_printf(b, ":%04X", port);
}

/* Ends the line in L: IPv4 lines are padded to WIDTH as Linux pads them. */
static void end_line(struct sbuf *b, struct sbuf *l, int width)
{
    if (l->oom || !l->p) {
        b->oom = true;
    } else if (width) {
        sbuf_printf(b, "%-*s\n", width, l->p);
    } else {
        sbuf_printf(b, "%s\n", l->p);
    }
    sbuf_free(l);
}

static void tcp_line(const struct sock_info *si, void *arg)
{
    struct sock_walk *w = arg;
    struct sbuf l = {0};
    sbuf_printf(&l, "%4d: ", w->n++);
    put_addr(&l, si->family, si->laddr, si->lport);
    sbuf_printf(&l, " ");
    put_addr(&l, si->family, si->raddr, si->rport);
    sbuf_printf(&l,
                " %02X %08X:%08X 00:00000000 00000000 %5u %8d %llu %d 0000000000000000 %u %u %u "
                "%u %d",
                si->state, si->txq, si->rxq, si->uid, 0, (unsigned long long)si->ino, si->refs,
                si->rto, si->ato, 0u, si->cwnd, si->listening ? 0 : si->ssthresh);
    end_line(w->b, &l, si->family == LX_AF_INET ? 149 : 0);
}

static void udp_line(const struct sock_info *si, void *arg)
{
    struct sock_walk *w = arg;
    struct sbuf l = {0};
    sbuf_printf(&l, "%5d: ", w->n++);
    put_addr(&l, si->family, si->laddr, si->lport);
    sbuf_printf(&l, " ");
    put_addr(&l, si->family, si->raddr, si->rport);
    sbuf_printf(&l, " %02X %08X:%08X 00:00000000 00000000 %5u %8d %llu %d 0000000000000000 0",
                si->state, si->txq, si->rxq, si->uid, 0, (unsigned long long)si->ino,
                si->refs);
    end_line(w->b, &l, si->family == LX_AF_INET ? 127 : 0);
}

static int show_inet(struct sbuf *b, int family, int type)
{
    struct sock_walk w = {b, 0};
    if (type == LX_SOCK_STREAM) {
        if (family == LX_AF_INET)
            sbuf_printf(b, "%-149s\n",
                        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
                        "retrnsmt   uid  timeout inode");
        else
            sbuf_printf(b, "  sl  local_address                         remote_address          "
                           "              st tx_queue rx_queue tr tm->when retrnsmt   uid  "
                           "timeout inode\n");
        inet_for_each(family, type, tcp_line, &w);
    } else {
        if (family == LX_AF_INET)
            sbuf_printf(b, "%-127s\n",
                        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
                        "retrnsmt   uid  timeout inode ref pointer drops");
        else
            sbuf_printf(b, "  sl  local_address                         remote_address          "
                           "              st tx_queue rx_queue tr tm->when retrnsmt   uid  "
                           "timeout inode ref pointer drops\n");
        inet_for_each(family, type, udp_line, &w);
    }
    return 0;
}

static int show_tcp(struct gen_inode *gi, struct sbuf *b)
{
    (void)gi;
    return show_inet(b, LX_AF_INET, LX_SOCK_STREAM);
}

static int show_tcp6(struct gen_inode *gi, struct sbuf *b)
{
    (void)gi;
    return show_inet(b, LX_AF_INET6, LX_SOCK_STREAM);
}

static int show_udp(struct gen_inode *gi, struct sbuf *b)
{
    (void)gi;
    return show_inet(b, LX_AF_INET, LX_SOCK_DGRAM);
}

static int show_udp6(struct gen_inode *gi, struct sbuf *b)
{
    (void)gi;
    return show_inet(b, LX_AF_INET6, LX_SOCK_DGRAM);
}

static void unix_line(const struct sock_info *si, void *arg)
{
    struct sock_walk *w = arg;
    sbuf_printf(w->b, "0000000000000000: %08X %08X %08X %04X %02X %5llu", (unsigned)si->refs, 0u,
                si->listening ? 0x10000u : 0u, (unsigned)si->type, (unsigned)si->state,
                (unsigned long long)si->ino);
    if (si->pathlen) {
        sbuf_printf(w->b, " ");
        bool abstract = si->path[0] == 0;
        size_t n = si->pathlen;
        if (!abstract) {
            size_t k = 0;
            while (k < n && si->path[k])
                k++;
            n = k;
        }
        for (size_t k = 0; k < n; k++)
            sbuf_printf(w->b, "%c", si->path[k] ? (char)si->path[k] : '@');
    }
    sbuf_printf(w->b, "\n");
}

static int show_unix(struct gen_inode *gi, struct sbuf *b)
{
    (void)gi;
    struct sock_walk w = {b, 0};
    sbuf_printf(b, "Num       RefCount Protocol Flags    Type St Inode Path\n");
    unix_for_each(unix_line, &w);
    return 0;
}

#define NETREG(name_, show_) {.name = name_, .mode = VFS_S_IFREG | 0444, .show = show_}

const struct gen_entry g_proc_net_children[] = {
        NETREG("dev", show_dev),   NETREG("if_inet6", show_if_inet6),
        NETREG("route", show_route), NETREG("tcp", show_tcp),
        NETREG("tcp6", show_tcp6), NETREG("udp", show_udp),
        NETREG("udp6", show_udp6), NETREG("unix", show_unix),
        {0},
};
