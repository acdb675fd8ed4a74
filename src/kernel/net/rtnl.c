/* The sandbox's network view from host NETLINK_ROUTE dumps (see rtnl.h). */
#include "kernel/net/rtnl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/host/host_net.h"
#include "lib/log.h"

#define NL_HDRLEN     16
#define NL_ALIGN(n)   (((n) + 3) & ~(size_t)3)
#define NLMSG_ERROR_T 2
#define NLMSG_DONE_T  3
#define NLM_F_REQUEST 0x1
#define NLM_F_DUMP    0x300
#define HOST_AF_NETLINK 16
#define HOST_NETLINK_ROUTE 0
#define RECV_BUF      65536
#define MAX_MSGS      65536

/* How an attribute's payload is checked. */
enum attr_kind {
    A_U8,   /* exactly 1 byte */
    A_U32,  /* exactly 4 bytes */
    A_STR,  /* NUL-terminated, at most SIZE bytes with the NUL */
    A_BYTES,/* 0..SIZE bytes (hardware addresses) */
    A_ADDR, /* 4 (AF_INET) or 16 (AF_INET6) bytes, as the header's family */
    A_FIXED,/* exactly SIZE bytes */
    A_MIN,  /* at least SIZE bytes; the first SIZE are kept */
};

struct attr_rule {
    uint16_t type;
    uint8_t kind;
    uint16_t size;
};

/* ifinfomsg attributes (IFLA_*). */
static const struct attr_rule g_link_rules[] = {
        {1, A_BYTES, 32},  /* IFLA_ADDRESS */
        {2, A_BYTES, 32},  /* IFLA_BROADCAST */
        {3, A_STR, 16},    /* IFLA_IFNAME */
        {4, A_U32, 0},     /* IFLA_MTU */
        {5, A_U32, 0},     /* IFLA_LINK */
        {6, A_STR, 32},    /* IFLA_QDISC */
        {7, A_FIXED, 96},  /* IFLA_STATS (struct rtnl_link_stats) */
        {10, A_U32, 0},    /* IFLA_MASTER */
        {13, A_U32, 0},    /* IFLA_TXQLEN */
        {16, A_U8, 0},     /* IFLA_OPERSTATE */
        {17, A_U8, 0},     /* IFLA_LINKMODE */
        {23, A_MIN, 192},  /* IFLA_STATS64: the 24 counters every kernel has */
        {27, A_U32, 0},    /* IFLA_GROUP */
        {30, A_U32, 0},    /* IFLA_PROMISCUITY */
        {31, A_U32, 0},    /* IFLA_NUM_TX_QUEUES */
        {32, A_U32, 0},    /* IFLA_NUM_RX_QUEUES */
        {33, A_U8, 0},     /* IFLA_CARRIER */
        {35, A_U32, 0},    /* IFLA_CARRIER_CHANGES */
        {40, A_U32, 0},    /* IFLA_GSO_MAX_SEGS */
        {41, A_U32, 0},    /* IFLA_GSO_MAX_SIZE */
        {50, A_U32, 0},    /* IFLA_MIN_MTU */
        {51, A_U32, 0},    /* IFLA_MAX_MTU */
};

/* ifaddrmsg attributes (IFA_*). */
static const struct attr_rule g_addr_rules[] = {
        {1, A_ADDR, 0},    /* IFA_ADDRESS */
        {2, A_ADDR, 0},    /* IFA_LOCAL */
        {3, A_STR, 16},    /* IFA_LABEL */
        {4, A_ADDR, 0},    /* IFA_BROADCAST */
        {5, A_ADDR, 0},    /* IFA_ANYCAST */
        {6, A_FIXED, 16},  /* IFA_CACHEINFO */
        {8, A_U32, 0},     /* IFA_FLAGS */
        {9, A_U32, 0},     /* IFA_RT_PRIORITY */
        {11, A_U8, 0},     /* IFA_PROTO */
};

/* rtmsg attributes (RTA_*). */
static const struct attr_rule g_route_rules[] = {
        {1, A_ADDR, 0},    /* RTA_DST */
        {2, A_ADDR, 0},    /* RTA_SRC */
        {3, A_U32, 0},     /* RTA_IIF */
        {4, A_U32, 0},     /* RTA_OIF */
        {5, A_ADDR, 0},    /* RTA_GATEWAY */
        {6, A_U32, 0},     /* RTA_PRIORITY */
        {7, A_ADDR, 0},    /* RTA_PREFSRC */
        {15, A_U32, 0},    /* RTA_TABLE */
        {20, A_U8, 0},     /* RTA_PREF */
};

size_t rtnl_hdr_size(uint16_t type)
{
    switch (type) {
    case LX_RTM_NEWLINK:
        return 16; /* ifinfomsg */
    case LX_RTM_NEWADDR:
        return 8; /* ifaddrmsg */
    case LX_RTM_NEWROUTE:
        return 12; /* rtmsg */
    default:
        return 0;
    }
}

static const struct attr_rule *find_rule(uint16_t msg_type, uint16_t attr_type)
{
    const struct attr_rule *rules;
    size_t n;
    if (msg_type == LX_RTM_NEWLINK) {
        rules = g_link_rules;
        n = sizeof(g_link_rules) / sizeof(g_link_rules[0]);
    } else if (msg_type == LX_RTM_NEWADDR) {
        rules = g_addr_rules;
        n = sizeof(g_addr_rules) / sizeof(g_addr_rules[0]);
    } else {
        rules = g_route_rules;
        n = sizeof(g_route_rules) / sizeof(g_route_rules[0]);
    }
    for (size_t i = 0; i < n; i++)
        if (rules[i].type == attr_type)
            return &rules[i];
    return NULL;
}

/* How many payload bytes of an attribute of LEN bytes to keep under R, or
 * -1 to drop it. FAMILY: the message's address family. */
static long keep_len(const struct attr_rule *r, const uint8_t *p, size_t len, int family)
{
    switch (r->kind) {
    case A_U8:
        return len == 1 ? 1 : -1;
    case A_U32:
        return len == 4 ? 4 : -1;
    case A_STR:
        if (len == 0 || len > r->size || memchr(p, 0, len) == NULL)
            return -1;
        return (long)(strlen((const char *)p) + 1);
    case A_BYTES:
        return len <= r->size ? (long)len : -1;
    case A_ADDR:
        if (family == AF_INET)
            return len == 4 ? 4 : -1;
        if (family == AF_INET6)
            return len == 16 ? 16 : -1;
        return -1;
    case A_FIXED:
        return len == r->size ? (long)len : -1;
    case A_MIN:
        return len >= r->size ? (long)r->size : -1;
    }
    return -1;
}

/* Validates one host message of TYPE (payload P/LEN) and appends its
 * rebuilt copy to D. Malformed messages are dropped (and logged). */
static int rebuild(struct rtnl_dump *d, uint16_t type, const uint8_t *p, size_t len)
{
    size_t hl = rtnl_hdr_size(type);
    if (!hl || len < hl) {
        log_debug("rtnl: dropped a host message of type %u, %zu bytes", type, len);
        return 0;
    }
    if (d->n >= MAX_MSGS)
        return -E2BIG;
    int family = p[0];
    uint8_t *out = malloc(len + 4); /* the last attribute may gain padding */
    if (!out)
        return -ENOMEM;
    memcpy(out, p, hl);
    if (type == LX_RTM_NEWLINK)
        out[1] = 0; /* ifi_pad */
    size_t olen = hl;
    for (size_t off = NL_ALIGN(hl); off + 4 <= len;) {
        uint16_t alen, atype;
        memcpy(&alen, p + off, 2);
        memcpy(&atype, p + off + 2, 2);
        if (alen < 4 || alen > len - off)
            break; /* malformed: keep what came before */
        atype &= 0x3fff; /* NLA_F_NESTED, NLA_F_NET_BYTEORDER */
        const struct attr_rule *r = find_rule(type, atype);
        long keep = r ? keep_len(r, p + off + 4, alen - 4u, family) : -1;
        if (keep >= 0) {
            uint16_t nl = (uint16_t)(4 + keep);
            memcpy(out + olen, &nl, 2);
            memcpy(out + olen + 2, &atype, 2);
            memcpy(out + olen + 4, p + off + 4, (size_t)keep);
            size_t padded = NL_ALIGN(nl);
            memset(out + olen + nl, 0, padded - nl);
            olen += padded;
        }
        off += NL_ALIGN(alen);
    }
    struct rtnl_msg *m = realloc(d->msgs, (d->n + 1) * sizeof(*m));
    if (!m) {
        free(out);
        return -ENOMEM;
    }
    d->msgs = m;
    m[d->n].type = type;
    m[d->n].len = olen;
    m[d->n].data = out;
    d->n++;
    return 0;
}

void rtnl_dump_free(struct rtnl_dump *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i].data);
    free(d->msgs);
    d->msgs = NULL;
    d->n = 0;
}

int rtnl_dump(int get_type, int family, struct rtnl_dump *out)
{
    out->msgs = NULL;
    out->n = 0;
    uint16_t want;
    size_t hl;
    if (get_type == LX_RTM_GETLINK) {
        want = LX_RTM_NEWLINK;
        family = AF_UNSPEC;
    } else if (get_type == LX_RTM_GETADDR) {
        want = LX_RTM_NEWADDR;
    } else if (get_type == LX_RTM_GETROUTE) {
        want = LX_RTM_NEWROUTE;
    } else {
        return -EOPNOTSUPP;
    }
    hl = rtnl_hdr_size(want);
    if (family != AF_INET && family != AF_INET6)
        family = AF_UNSPEC;

    int fd = host_net_socket(HOST_AF_NETLINK, SOCK_RAW, HOST_NETLINK_ROUTE);
    if (fd < 0) {
        log_warn_once("rtnl: cannot open a host netlink socket (%d)", fd);
        return fd;
    }
    /* Our own request: header, then a zeroed family header. */
    uint8_t req[NL_HDRLEN + 16];
    memset(req, 0, sizeof(req));
    uint32_t rlen = (uint32_t)(NL_HDRLEN + hl);
    uint16_t rtype = (uint16_t)get_type, rflags = NLM_F_REQUEST | NLM_F_DUMP;
    uint32_t seq = 1;
    memcpy(req, &rlen, 4);
    memcpy(req + 4, &rtype, 2);
    memcpy(req + 6, &rflags, 2);
    memcpy(req + 8, &seq, 4);
    req[NL_HDRLEN] = (uint8_t)family;
    struct sockaddr_storage to;
    memset(&to, 0, sizeof(to));
    to.ss_family = HOST_AF_NETLINK; /* nl_pid 0: the host kernel */
    ssize_t s = host_net_send(fd, req, rlen, &to, 12, 0);
    int r = s < 0 ? (int)s : 0;
    uint8_t *buf = r == 0 ? malloc(RECV_BUF) : NULL;
    if (r == 0 && !buf)
        r = -ENOMEM;
    bool done = false;
    int idle = 0;
    while (r == 0 && !done) {
        int oflags = 0;
        ssize_t n = host_net_recv(fd, buf, RECV_BUF, NULL, NULL, 0, &oflags);
        if (n == -EINTR && ++idle < 10)
            continue;
        if (n == -EAGAIN) {
            /* Linux queues each part of a dump before the send or the
             * recv that asked for it returns: nothing more is coming. */
            r = -EIO;
            break;
        }
        if (n < 0) {
            r = (int)n;
            break;
        }
        idle = 0;
        for (size_t off = 0; off + NL_HDRLEN <= (size_t)n;) {
            uint32_t mlen;
            uint16_t mtype;
            uint32_t mseq;
            memcpy(&mlen, buf + off, 4);
            memcpy(&mtype, buf + off + 4, 2);
            memcpy(&mseq, buf + off + 8, 4);
            if (mlen < NL_HDRLEN || mlen > (size_t)n - off) {
                r = -EIO;
                break;
            }
            if (mseq == seq) {
                if (mtype == NLMSG_DONE_T) {
                    done = true;
                    break;
                }
                if (mtype == NLMSG_ERROR_T) {
                    int32_t e = -EIO;
                    if (mlen >= NL_HDRLEN + 4)
                        memcpy(&e, buf + off + NL_HDRLEN, 4);
                    r = e < 0 && e > -4096 ? e : -EIO;
                    break;
                }
                if (mtype == want) {
                    r = rebuild(out, want, buf + off + NL_HDRLEN, mlen - NL_HDRLEN);
                    if (r < 0)
                        break;
                }
            }
            off += NL_ALIGN(mlen);
        }
    }
    free(buf);
    host_net_close(fd);
    if (r < 0) {
        log_debug("rtnl: host dump %d failed (%d)", get_type, r);
        rtnl_dump_free(out);
    }
    return r;
}

const void *rtnl_attr(const struct rtnl_msg *m, int type, size_t *out_len)
{
    size_t hl = rtnl_hdr_size(m->type);
    for (size_t off = NL_ALIGN(hl); off + 4 <= m->len;) {
        uint16_t alen, atype;
        memcpy(&alen, m->data + off, 2);
        memcpy(&atype, m->data + off + 2, 2);
        if (alen < 4 || alen > m->len - off)
            return NULL;
        if (atype == type) {
            if (out_len)
                *out_len = alen - 4u;
            return m->data + off + 4;
        }
        off += NL_ALIGN(alen);
    }
    return NULL;
}
