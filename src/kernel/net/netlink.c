/*
 * AF_NETLINK / NETLINK_ROUTE sockets (see netlink.h).
 *
 * A request is handled when it is sent: the replies (one datagram per
 * ~4 KiB of messages, as Linux sizes dump parts; NLMSG_DONE closes a dump;
 * NLMSG_ERROR carries errors and requested acks) are queued on the socket
 * and read with recvmsg. Port ids are moat's: the first socket of a
 * process autobinds to its pid, later ones to negative ids, as in Linux.
 *
 * Lock order: nl_sock->lock, then waitq locks; g_port_lock alone.
 */
#include "kernel/net/netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "abi/linux/errno.h"
#include "kernel/net/rtnl.h"
#include "kernel/task/task.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/util.h"

#define LX_SOCK_DGRAM_T   2
#define LX_SOCK_RAW_T     3
#define LX_NETLINK_ROUTE  0
#define LX_SOL_SOCKET_N   1
#define LX_SOL_NETLINK    270

#define LX_SO_TYPE        3
#define LX_SO_ERROR       4
#define LX_SO_SNDBUF      7
#define LX_SO_RCVBUF      8
#define LX_SO_PASSCRED    16
#define LX_SO_SNDBUFFORCE 32
#define LX_SO_RCVBUFFORCE 33
#define LX_SO_PROTOCOL    38
#define LX_SO_DOMAIN      39

#define LX_NETLINK_ADD_MEMBERSHIP  1
#define LX_NETLINK_DROP_MEMBERSHIP 2
#define LX_NETLINK_BROADCAST_ERROR 4
#define LX_NETLINK_NO_ENOBUFS      5
#define LX_NETLINK_CAP_ACK         10
#define LX_NETLINK_EXT_ACK         11
#define LX_NETLINK_GET_STRICT_CHK  12

#define NLMSG_HDR      16
#define NL_ALIGN(n)    (((n) + 3) & ~(size_t)3)
#define NLMSG_MIN_TYPE 0x10
#define NLMSG_ERROR_T  2
#define NLMSG_DONE_T   3
#define NLM_F_REQUEST  0x1
#define NLM_F_MULTI    0x2
#define NLM_F_ACK      0x4
#define NLM_F_DUMP     0x300
#define NLM_F_CAPPED   0x100
#define RTM_BASE       16
#define RTM_MAX        127

/* Replies are cut into datagrams of about this size (Linux's
 * NLMSG_GOODSIZE on 4 KiB pages). */
#define DGRAM_GOOD    3776
/* Bound on what one socket keeps queued. */
#define QUEUE_MAX     (16u << 20)
#define SNDBUF_DEF    212992
#define RCVBUF_DEF    212992
#define BUF_MAX       212992

struct nl_dgram {
    struct list_head link;
    size_t len;
    uint8_t data[];
};

struct nl_sock {
    struct inode base;
    int type;              /* (c) SOCK_RAW or SOCK_DGRAM */
    pthread_mutex_t lock;
    struct list_head queue;/* (l) of nl_dgram, oldest first */
    size_t queued;         /* (l) bytes */
    struct waitq wq;
    bool bound;            /* (l) */
    uint32_t portid;       /* (l) */
    uint32_t groups;       /* (l) multicast groups 1..32 joined */
    uint32_t dst_pid, dst_group; /* (l) connect() */
    int rcvbuf, sndbuf;    /* (l) as getsockopt reports them */
    bool passcred;         /* (l) */
    bool cap_ack, ext_ack, strict, bcast_err, no_enobufs; /* (l) */
};

/* Bound port ids. */
static pthread_mutex_t g_port_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *g_ports;       /* (g_port_lock) */
static size_t g_nports;         /* (g_port_lock) */
static int32_t g_rover = -4096; /* (g_port_lock) next negative id */

static struct vfs_sb *g_nl_sb;
static pthread_once_t g_nl_once = PTHREAD_ONCE_INIT;
static const struct file_ops nl_fops;

static void nl_sb_init(void)
{
    g_nl_sb = vfs_sb_new("sockfs", true);
}

static struct nl_sock *N(struct file *f)
{
    return container_of(f->inode, struct nl_sock, base);
}

bool netlink_is_socket(struct file *f)
{
    return f->ops == &nl_fops;
}

static bool port_used_locked(uint32_t id)
{
    for (size_t i = 0; i < g_nports; i++)
        if (g_ports[i] == id)
            return true;
    return false;
}

static int port_add_locked(uint32_t id)
{
    uint32_t *p = realloc(g_ports, (g_nports + 1) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    g_ports = p;
    g_ports[g_nports++] = id;
    return 0;
}

static void port_del(uint32_t id)
{
    pthread_mutex_lock(&g_port_lock);
    for (size_t i = 0; i < g_nports; i++) {
        if (g_ports[i] == id) {
            g_ports[i] = g_ports[--g_nports];
            break;
        }
    }
    pthread_mutex_unlock(&g_port_lock);
}

/* Binds S to WANT (0: pick one, the pid of T's process first). Caller
 * holds s->lock. */
static int bind_locked(struct task *t, struct nl_sock *s, uint32_t want)
{
    pthread_mutex_lock(&g_port_lock);
    int r = 0;
    if (want) {
        if (port_used_locked(want))
            r = -EADDRINUSE;
    } else {
        want = t ? (uint32_t)t->tg->pid : 0;
        if (!want || port_used_locked(want)) {
            do {
                want = (uint32_t)g_rover;
                g_rover = g_rover <= INT32_MIN + 1 ? -4096 : g_rover - 1;
            } while (port_used_locked(want));
        }
    }
    if (r == 0)
        r = port_add_locked(want);
    pthread_mutex_unlock(&g_port_lock);
    if (r == 0) {
        s->portid = want;
        s->bound = true;
    }
    return r;
}

static void nl_evict(struct inode *inode)
{
    struct nl_sock *s = container_of(inode, struct nl_sock, base);
    struct nl_dgram *d, *n;
    list_for_each_entry_safe(d, n, &s->queue, link) {
        list_del(&d->link);
        free(d);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct inode_ops nl_iops = {
        .evict = nl_evict,
};

int netlink_create(int type, int protocol, unsigned flags, struct file **out)
{
    if (type != LX_SOCK_RAW_T && type != LX_SOCK_DGRAM_T)
        return -ESOCKTNOSUPPORT;
    if (protocol != LX_NETLINK_ROUTE) {
        log_warn_once("netlink: only NETLINK_ROUTE is supported (protocol %d asked)", protocol);
        return -EPROTONOSUPPORT;
    }
    pthread_once(&g_nl_once, nl_sb_init);
    struct nl_sock *s = g_nl_sb ? calloc(1, sizeof(*s)) : NULL;
    if (!s)
        return -ENOMEM;
    inode_init(&s->base, g_nl_sb, &nl_iops, VFS_S_IFSOCK | 0777);
    s->base.ino = vfs_sb_next_ino(g_nl_sb);
    s->type = type;
    pthread_mutex_init(&s->lock, NULL);
    list_init(&s->queue);
    waitq_init(&s->wq);
    s->rcvbuf = RCVBUF_DEF;
    s->sndbuf = SNDBUF_DEF;
    struct file *f = file_alloc(&s->base, NULL, O_RDWR | (flags & O_NONBLOCK));
    if (!f) {
        inode_put(&s->base);
        return -ENOMEM;
    }
    f->ops = &nl_fops;
    f->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    inode_put(&s->base);
    *out = f;
    return 0;
}

/* A decoded struct sockaddr_nl. */
struct nl_addr {
    uint32_t pid, groups;
};

static int addr_decode(const void *addr, size_t len, struct nl_addr *out)
{
    uint8_t b[12];
    if (len < sizeof(b))
        return -EINVAL;
    memcpy(b, addr, sizeof(b));
    uint16_t fam;
    memcpy(&fam, b, 2);
    if (fam != LX_AF_NETLINK)
        return -EINVAL;
    memcpy(&out->pid, b + 4, 4);
    memcpy(&out->groups, b + 8, 4);
    return 0;
}

static void addr_encode(uint32_t pid, uint32_t groups, void *addr, uint32_t *addrlen)
{
    uint8_t b[12] = {0};
    uint16_t fam = LX_AF_NETLINK;
    memcpy(b, &fam, 2);
    memcpy(b + 4, &pid, 4);
    memcpy(b + 8, &groups, 4);
    memcpy(addr, b, sizeof(b));
    *addrlen = sizeof(b);
}

int netlink_bind(struct task *t, struct file *f, const void *addr, size_t len)
{
    struct nl_sock *s = N(f);
    struct nl_addr a;
    int r = addr_decode(addr, len, &a);
    if (r < 0)
        return r;
    pthread_mutex_lock(&s->lock);
    if (s->bound) {
        if (a.pid && a.pid != s->portid)
            r = -EINVAL;
    } else {
        r = bind_locked(t, s, a.pid);
    }
    if (r == 0)
        s->groups = a.groups;
    pthread_mutex_unlock(&s->lock);
    return r;
}

int netlink_connect(struct task *t, struct file *f, const void *addr, size_t len)
{
    struct nl_sock *s = N(f);
    if (len >= 2) {
        uint16_t fam;
        memcpy(&fam, addr, 2);
        if (fam == 0 /* AF_UNSPEC: dissolve */) {
            pthread_mutex_lock(&s->lock);
            s->dst_pid = s->dst_group = 0;
            pthread_mutex_unlock(&s->lock);
            return 0;
        }
    }
    struct nl_addr a;
    int r = addr_decode(addr, len, &a);
    if (r < 0)
        return r;
    if (a.groups)
        return -EPERM; /* sending to groups needs CAP_NET_ADMIN for NETLINK_ROUTE */
    pthread_mutex_lock(&s->lock);
    if (!s->bound)
        r = bind_locked(t, s, 0);
    if (r == 0) {
        s->dst_pid = a.pid;
        s->dst_group = a.groups;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

int netlink_getname(struct file *f, bool peer, void *addr, uint32_t *addrlen)
{
    struct nl_sock *s = N(f);
    pthread_mutex_lock(&s->lock);
    if (peer)
        addr_encode(s->dst_pid, s->dst_group, addr, addrlen);
    else
        addr_encode(s->portid, s->groups, addr, addrlen);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* The options a request's handling reads (copied under the lock). */
struct nl_opts {
    bool cap_ack, strict;
    int sndbuf;
};

/* ---- building replies ---- */

struct reply {
    struct list_head dgrams; /* finished and current, of nl_dgram */
    struct nl_dgram *cur;    /* the one being filled, or NULL */
    size_t cap;              /* capacity of cur->data */
    uint32_t portid;
    int err;                 /* -ENOMEM once an allocation failed */
};

static void reply_init(struct reply *rp, uint32_t portid)
{
    list_init(&rp->dgrams);
    rp->cur = NULL;
    rp->cap = 0;
    rp->portid = portid;
    rp->err = 0;
}

static void reply_free(struct reply *rp)
{
    struct nl_dgram *d, *n;
    list_for_each_entry_safe(d, n, &rp->dgrams, link) {
        list_del(&d->link);
        free(d);
    }
}

/* Ends the current datagram: the next message starts a new one. */
static void reply_cut(struct reply *rp)
{
    rp->cur = NULL;
}

/* Appends one message: header and the payload parts P1/L1, P2/L2. */
static void reply_msg(struct reply *rp, uint16_t type, uint16_t flags, uint32_t seq,
                      const void *p1, size_t l1, const void *p2, size_t l2)
{
    if (rp->err)
        return;
    size_t len = NLMSG_HDR + l1 + l2;
    size_t need = NL_ALIGN(len);
    if (rp->cur && rp->cur->len + need > rp->cap)
        rp->cur = NULL;
    if (!rp->cur) {
        size_t cap = need > DGRAM_GOOD ? need : DGRAM_GOOD;
        struct nl_dgram *d = malloc(sizeof(*d) + cap);
        if (!d) {
            rp->err = -ENOMEM;
            return;
        }
        d->len = 0;
        list_add_tail(&d->link, &rp->dgrams);
        rp->cur = d;
        rp->cap = cap;
    }
    uint8_t *o = rp->cur->data + rp->cur->len;
    uint32_t len32 = (uint32_t)len;
    memcpy(o, &len32, 4);
    memcpy(o + 4, &type, 2);
    memcpy(o + 6, &flags, 2);
    memcpy(o + 8, &seq, 4);
    memcpy(o + 12, &rp->portid, 4);
    if (l1)
        memcpy(o + NLMSG_HDR, p1, l1);
    if (l2)
        memcpy(o + NLMSG_HDR + l1, p2, l2);
    memset(o + len, 0, need - len);
    rp->cur->len += need;
}

/* NLMSG_ERROR for the request REQ (REQLEN bytes): ERR 0 is an ack. */
static void reply_error(struct reply *rp, const struct nl_opts *s, const uint8_t *req,
                        size_t reqlen, int err)
{
    uint32_t seq;
    memcpy(&seq, req + 8, 4);
    int32_t e = err;
    bool full = err != 0 && !s->cap_ack;
    uint16_t flags = full ? 0 : NLM_F_CAPPED;
    uint8_t head[4 + NLMSG_HDR];
    memcpy(head, &e, 4);
    memcpy(head + 4, req, NLMSG_HDR);
    reply_msg(rp, NLMSG_ERROR_T, flags, seq, head, sizeof(head), req + NLMSG_HDR,
              full ? reqlen - NLMSG_HDR : 0);
    reply_cut(rp);
}

/* ---- requests ---- */

/* The family byte of a GET request's payload (AF_UNSPEC if none). */
static int req_family(const uint8_t *p, size_t len)
{
    return len >= 1 ? p[0] : AF_UNSPEC;
}

/* A dump: every message of the view, then NLMSG_DONE. */
static int do_dump(struct reply *rp, const struct nl_opts *s, uint16_t type, uint32_t seq,
                   const uint8_t *p, size_t len)
{
    int family = req_family(p, len);
    struct rtnl_dump d;
    int r = rtnl_dump(type, family, &d);
    if (r < 0)
        return r;
    /* With NETLINK_GET_STRICT_CHK, an address dump may name one link. */
    int32_t only_index = 0;
    if (type == LX_RTM_GETADDR && s->strict && len >= 8)
        memcpy(&only_index, p + 4, 4);
    for (size_t i = 0; i < d.n; i++) {
        const struct rtnl_msg *m = &d.msgs[i];
        if (only_index) {
            int32_t idx;
            memcpy(&idx, m->data + 4, 4);
            if (idx != only_index)
                continue;
        }
        reply_msg(rp, m->type, NLM_F_MULTI, seq, m->data, m->len, NULL, 0);
    }
    rtnl_dump_free(&d);
    int32_t zero = 0;
    reply_msg(rp, NLMSG_DONE_T, NLM_F_MULTI, seq, &zero, sizeof(zero), NULL, 0);
    reply_cut(rp);
    return rp->err;
}

/* RTM_GETLINK for one link, by ifi_index or IFLA_IFNAME. */
static int do_getlink(struct reply *rp, uint32_t seq, const uint8_t *p, size_t len)
{
    if (len < 16)
        return -EINVAL;
    int32_t index;
    memcpy(&index, p + 4, 4);
    char name[16] = "";
    for (size_t off = 16; off + 4 <= len;) {
        uint16_t alen, atype;
        memcpy(&alen, p + off, 2);
        memcpy(&atype, p + off + 2, 2);
        if (alen < 4 || alen > len - off)
            return -EINVAL;
        if ((atype & 0x3fff) == LX_IFLA_IFNAME) {
            size_t n = alen - 4u;
            if (n == 0 || n > sizeof(name) || !memchr(p + off + 4, 0, n))
                return -EINVAL;
            memcpy(name, p + off + 4, n);
        }
        off += NL_ALIGN(alen);
    }
    if (index <= 0 && !name[0])
        return -EINVAL;
    struct rtnl_dump d;
    int r = rtnl_dump(LX_RTM_GETLINK, AF_UNSPEC, &d);
    if (r < 0)
        return r;
    r = -ENODEV;
    for (size_t i = 0; i < d.n; i++) {
        const struct rtnl_msg *m = &d.msgs[i];
        int32_t idx;
        memcpy(&idx, m->data + 4, 4);
        const char *nm = rtnl_attr(m, LX_IFLA_IFNAME, NULL);
        if ((index > 0 && idx == index) || (index <= 0 && nm && strcmp(nm, name) == 0)) {
            reply_msg(rp, m->type, 0, seq, m->data, m->len, NULL, 0);
            reply_cut(rp);
            r = rp->err;
            break;
        }
    }
    rtnl_dump_free(&d);
    return r;
}

/* Handles one request message. 1: answered (a dump: no ack follows), 0:
 * done (ack if asked), or -errno for NLMSG_ERROR. */
static int handle(struct reply *rp, const struct nl_opts *s, const uint8_t *msg, size_t len)
{
    uint16_t type, flags;
    uint32_t seq;
    memcpy(&type, msg + 4, 2);
    memcpy(&flags, msg + 6, 2);
    memcpy(&seq, msg + 8, 4);
    const uint8_t *p = msg + NLMSG_HDR;
    size_t plen = len - NLMSG_HDR;
    if (type > RTM_MAX)
        return -EOPNOTSUPP;
    bool get = ((type - RTM_BASE) & 3) == 2;
    if (!get) {
        log_warn_once("netlink: changing the network (type %u) is not allowed (EPERM)", type);
        return -EPERM;
    }
    bool dump = (flags & NLM_F_DUMP) != 0;
    if (type == LX_RTM_GETLINK || type == LX_RTM_GETADDR || type == LX_RTM_GETROUTE) {
        if (dump) {
            int r = do_dump(rp, s, type, seq, p, plen);
            return r < 0 ? r : 1;
        }
        if (type == LX_RTM_GETLINK)
            return do_getlink(rp, seq, p, plen);
    }
    log_warn_once("netlink: request type %u%s is not supported (EOPNOTSUPP)", type,
                  dump ? " (dump)" : "");
    return -EOPNOTSUPP;
}

ssize_t netlink_sendmsg(struct task *t, struct file *f, const struct sock_smsg *m, int flags)
{
    struct nl_sock *s = N(f);
    if (flags & LX_MSG_OOB)
        return -EOPNOTSUPP;
    struct nl_addr dst = {0, 0};
    if (m->name && m->namelen) {
        int r = addr_decode(m->name, m->namelen, &dst);
        if (r < 0)
            return r;
    }
    pthread_mutex_lock(&s->lock);
    if (!m->name || !m->namelen) {
        dst.pid = s->dst_pid;
        dst.groups = s->dst_group;
    }
    int r = 0;
    if (!s->bound)
        r = bind_locked(t, s, 0);
    uint32_t portid = s->portid;
    struct nl_opts snap = {s->cap_ack, s->strict, s->sndbuf};
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        return r;
    if (dst.groups)
        return -EPERM;
    if (dst.pid) {
        log_warn_once("netlink: messages between app sockets are not supported");
        return -ECONNREFUSED;
    }
    if (m->len > (size_t)snap.sndbuf)
        return -EMSGSIZE;

    struct reply rp;
    reply_init(&rp, portid);
    const uint8_t *b = m->buf;
    for (size_t off = 0; off + NLMSG_HDR <= m->len;) {
        uint32_t mlen;
        uint16_t mtype, mflags;
        memcpy(&mlen, b + off, 4);
        memcpy(&mtype, b + off + 4, 2);
        memcpy(&mflags, b + off + 6, 2);
        if (mlen < NLMSG_HDR || mlen > m->len - off)
            break; /* as Linux: the rest is ignored */
        int err = 0;
        if ((mflags & NLM_F_REQUEST) && mtype >= NLMSG_MIN_TYPE)
            err = handle(&rp, &snap, b + off, mlen);
        if (rp.err)
            break;
        if (err < 0 || (err == 0 && (mflags & NLM_F_ACK)))
            reply_error(&rp, &snap, b + off, mlen, err < 0 ? err : 0);
        off += NL_ALIGN(mlen);
    }
    if (rp.err) {
        reply_free(&rp);
        return rp.err;
    }
    pthread_mutex_lock(&s->lock);
    bool any = false;
    struct nl_dgram *d, *n;
    list_for_each_entry_safe(d, n, &rp.dgrams, link) {
        list_del(&d->link);
        if (s->queued + d->len > QUEUE_MAX) {
            free(d);
            continue;
        }
        s->queued += d->len;
        list_add_tail(&d->link, &s->queue);
        any = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (any)
        waitq_wake_key(&s->wq, LPOLLIN | LPOLLRDNORM);
    return (ssize_t)m->len;
}

ssize_t netlink_recvmsg(struct task *t, struct file *f, struct sock_rmsg *m, int flags)
{
    struct nl_sock *s = N(f);
    if (flags & LX_MSG_OOB)
        return -EOPNOTSUPP;
    pthread_mutex_lock(&s->lock);
    while (list_empty(&s->queue)) {
        if ((vfs_file_flags(f) & O_NONBLOCK) || (flags & LX_MSG_DONTWAIT)) {
            pthread_mutex_unlock(&s->lock);
            return -EAGAIN;
        }
        uint32_t seq = task_wake_seq(t);
        struct waiter w;
        waitq_add(&s->wq, &w, t);
        pthread_mutex_unlock(&s->lock);
        int r = task_sleep(t, seq, 0);
        waitq_del(&s->wq, &w);
        if (r == -EINTR)
            return -ERESTARTSYS;
        pthread_mutex_lock(&s->lock);
    }
    struct nl_dgram *d = list_first_entry(&s->queue, struct nl_dgram, link);
    size_t n = MIN(d->len, m->len);
    memcpy(m->buf, d->data, n);
    size_t full = d->len;
    if (full > m->len)
        m->flags |= LX_MSG_TRUNC;
    if (!(flags & LX_MSG_PEEK)) {
        list_del(&d->link);
        s->queued -= d->len;
        free(d);
    }
    pthread_mutex_unlock(&s->lock);
    addr_encode(0, 0, m->name, &m->namelen);
    return (flags & LX_MSG_TRUNC) ? (ssize_t)full : (ssize_t)n;
}


int netlink_setsockopt(struct file *f, int level, int name, const void *val, uint32_t len)
{
    struct nl_sock *s = N(f);
    /* SOL_SOCKET needs an int; SOL_NETLINK reads a shorter value as 0
     * (as Linux's netlink_setsockopt does). */
    int v = 0, r = 0;
    if (len >= sizeof(int))
        memcpy(&v, val, sizeof(int));
    else if (level == LX_SOL_SOCKET_N)
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    if (level == LX_SOL_SOCKET_N) {
        switch (name) {
        case LX_SO_SNDBUF:
        case LX_SO_SNDBUFFORCE:
            v = MIN(v < 0 ? 0 : v, BUF_MAX);
            s->sndbuf = MAX(v * 2, 4608);
            break;
        case LX_SO_RCVBUF:
        case LX_SO_RCVBUFFORCE:
            v = MIN(v < 0 ? 0 : v, BUF_MAX);
            s->rcvbuf = MAX(v * 2, 2304);
            break;
        case LX_SO_PASSCRED:
            s->passcred = v != 0;
            break;
        default:
            r = -ENOPROTOOPT;
        }
    } else if (level == LX_SOL_NETLINK) {
        switch (name) {
        case LX_NETLINK_ADD_MEMBERSHIP:
        case LX_NETLINK_DROP_MEMBERSHIP:
            if (v <= 0 || v > 32) {
                r = v <= 0 ? -EINVAL : -ENOPROTOOPT;
                log_warn_once("netlink: groups above 32 are not supported");
                break;
            }
            if (name == LX_NETLINK_ADD_MEMBERSHIP)
                s->groups |= 1u << (v - 1);
            else
                s->groups &= ~(1u << (v - 1));
            break;
        case LX_NETLINK_BROADCAST_ERROR:
            s->bcast_err = v != 0;
            break;
        case LX_NETLINK_NO_ENOBUFS:
            s->no_enobufs = v != 0;
            break;
        case LX_NETLINK_CAP_ACK:
            s->cap_ack = v != 0;
            break;
        case LX_NETLINK_EXT_ACK:
            s->ext_ack = v != 0;
            break;
        case LX_NETLINK_GET_STRICT_CHK:
            s->strict = v != 0;
            break;
        default:
            r = -ENOPROTOOPT;
        }
    } else {
        r = -ENOPROTOOPT;
    }
    pthread_mutex_unlock(&s->lock);
    if (r == -ENOPROTOOPT)
        log_warn_once("netlink: setsockopt level %d option %d is not supported", level, name);
    return r;
}

int netlink_getsockopt(struct file *f, int level, int name, void *val, uint32_t *len)
{
    struct nl_sock *s = N(f);
    if (*len < sizeof(int))
        return -EINVAL;
    int v = 0, r = 0;
    pthread_mutex_lock(&s->lock);
    if (level == LX_SOL_SOCKET_N) {
        switch (name) {
        case LX_SO_TYPE:
            v = s->type;
            break;
        case LX_SO_ERROR:
            v = 0;
            break;
        case LX_SO_SNDBUF:
            v = s->sndbuf;
            break;
        case LX_SO_RCVBUF:
            v = s->rcvbuf;
            break;
        case LX_SO_PASSCRED:
            v = s->passcred;
            break;
        case LX_SO_PROTOCOL:
            v = LX_NETLINK_ROUTE;
            break;
        case LX_SO_DOMAIN:
            v = LX_AF_NETLINK;
            break;
        default:
            r = -ENOPROTOOPT;
        }
    } else if (level == LX_SOL_NETLINK) {
        switch (name) {
        case LX_NETLINK_BROADCAST_ERROR:
            v = s->bcast_err;
            break;
        case LX_NETLINK_NO_ENOBUFS:
            v = s->no_enobufs;
            break;
        case LX_NETLINK_CAP_ACK:
            v = s->cap_ack;
            break;
        case LX_NETLINK_EXT_ACK:
            v = s->ext_ack;
            break;
        case LX_NETLINK_GET_STRICT_CHK:
            v = s->strict;
            break;
        default:
            r = -ENOPROTOOPT;
        }
    } else {
        r = -ENOPROTOOPT;
    }
    pthread_mutex_unlock(&s->lock);
    if (r < 0) {
        log_warn_once("netlink: getsockopt level %d option %d is not supported", level, name);
        return r;
    }
    memcpy(val, &v, sizeof(v));
    *len = sizeof(v);
    return 0;
}

/* ---- file operations ---- */

static ssize_t nl_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct sock_rmsg m;
    memset(&m, 0, sizeof(m));
    m.buf = buf;
    m.len = n;
    return netlink_recvmsg(task_current(), f, &m, 0);
}

static ssize_t nl_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct sock_smsg m = {.buf = buf, .len = n};
    return netlink_sendmsg(task_current(), f, &m, 0);
}

static unsigned nl_poll(struct file *f, struct poll_table *pt)
{
    struct nl_sock *s = N(f);
    poll_wait(pt, &s->wq);
    pthread_mutex_lock(&s->lock);
    unsigned mask = LPOLLOUT | LPOLLWRNORM;
    if (!list_empty(&s->queue))
        mask |= LPOLLIN | LPOLLRDNORM;
    pthread_mutex_unlock(&s->lock);
    return mask;
}

static int nl_dname(struct file *f, char *buf, size_t size)
{
    int n = snprintf(buf, size, "socket:[%llu]", (unsigned long long)f->inode->ino);
    return n < (int)size ? n : -ENAMETOOLONG;
}

static void nl_release(struct file *f)
{
    struct nl_sock *s = N(f);
    pthread_mutex_lock(&s->lock);
    bool bound = s->bound;
    s->bound = false;
    pthread_mutex_unlock(&s->lock);
    if (bound)
        port_del(s->portid);
    waitq_wake_all(&s->wq);
}

static const struct file_ops nl_fops = {
        .read = nl_read,
        .write = nl_write,
        .poll = nl_poll,
        .dname = nl_dname,
        .release = nl_release,
};

int netlink_deliver_kernel(struct file *f, const void *data, size_t len)
{
    if (!netlink_is_socket(f))
        return -EINVAL;
    struct nl_sock *s = N(f);
    struct nl_dgram *d = malloc(sizeof(*d) + len);
    if (!d)
        return -ENOMEM;
    d->len = len;
    memcpy(d->data, data, len);
    pthread_mutex_lock(&s->lock);
    if (s->queued + len > QUEUE_MAX) {
        pthread_mutex_unlock(&s->lock);
        free(d);
        return -EAGAIN;
    }
    s->queued += len;
    list_add_tail(&d->link, &s->queue);
    pthread_mutex_unlock(&s->lock);
    waitq_wake_key(&s->wq, LPOLLIN | LPOLLRDNORM);
    return 0;
}
