/*
 * AF_INET/AF_INET6 sockets over host sockets (issue 6). Each app socket is
 * a moat file ("sockfs" inode) owning one non-blocking host socket; the app
 * never sees the host fd. Every sockaddr and option is decoded, checked
 * against an allow-list and rebuilt in kernel memory before the host call
 * (kernel/host/host_net.c). Blocking, SO_RCVTIMEO/SO_SNDTIMEO and signals
 * are moat's: a would-block host call sleeps on the socket's wait queue,
 * which the host epoll loop (host_io.c) wakes on any readiness change.
 *
 * Which network the host sockets live in is chosen when the sandbox starts
 * (--network=none: a namespace with only lo; host: the host's).
 *
 * Wait queues are never freed (the host epoll loop may hold a pointer to
 * one after its fd closed): a closed socket's queue goes to a free list
 * and a later socket reuses it; a stale wake-up is only spurious.
 *
 * Ancillary data: the control messages of a send are parsed and checked as
 * Linux checks them (lengths, value ranges, which levels a protocol looks
 * at) and rebuilt for the host from an allow-list (IP_PKTINFO, IP_TTL,
 * IP_TOS, IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_DONTFRAG,
 * UDP_SEGMENT). The host's control messages of a receive are parsed the
 * same way and rebuilt for the app from an allow-list (timestamps, packet
 * info, TTL/hop limit, TOS/traffic class, original destination, path
 * MTU, drop counts, and IP_RECVERR/IPV6_RECVERR from the error queue
 * (MSG_ERRQUEUE)); sys_socket.c copies them out with Linux's truncation
 * rules (MSG_CTRUNC).
 *
 * Differences from Linux: options outside the allow-list fail with
 * ENOPROTOOPT; control messages outside it fail with EINVAL on send (and
 * are logged) and are dropped on receive (logged); no transmit
 * timestamps (SO_TIMESTAMPING through the error queue).
 */
#include "kernel/net/inet.h"
#include "kernel/net/sockaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "abi/linux/errno.h"
#include "abi/linux/types.h"
#include "kernel/host/host.h"
#include "kernel/host/host_io.h"
#include "kernel/host/host_net.h"
#include "kernel/mm/mm.h"
#include "kernel/net/netdev.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/util.h"

#define LX_IPPROTO_IP   0
#define LX_IPPROTO_TCP  6
#define LX_IPPROTO_UDP  17
#define LX_IPPROTO_UDPLITE 136
#define LX_IPPROTO_IPV6 41
#define LX_SOL_SOCKET   1
#define LX_SCM_RIGHTS   1
#define LX_SCM_CREDENTIALS 2
#define LX_SO_PRIORITY        12
#define LX_SO_TIMESTAMP_OLD   29
#define LX_SO_MARK            36
#define LX_SO_TIMESTAMPING_OLD 37
#define LX_SCM_TXTIME         61
#define LX_SO_TIMESTAMPING_NEW 65
#define LX_SOF_TIMESTAMPING_TX_RECORD_MASK 0x303u
#define LX_SO_TIMESTAMPNS_OLD 35
#define LX_SO_RXQ_OVFL        40
#define LX_SO_TIMESTAMP_NEW   63
#define LX_SO_TIMESTAMPNS_NEW 64
#define LX_IP_TOS       1
#define LX_IP_TTL       2
#define LX_IP_RETOPTS   7
#define LX_IP_PKTINFO   8
#define LX_IP_RECVERR   11
#define LX_IP_ORIGDSTADDR 20
#define LX_IPV6_RECVERR 25
#define LX_IPV6_PKTINFO 50
#define LX_IPV6_HOPLIMIT 52
#define LX_IPV6_PATHMTU 61
#define LX_IPV6_DONTFRAG 62
#define LX_IPV6_TCLASS  67
#define LX_IPV6_ORIGDSTADDR 74
#define LX_UDP_SEGMENT  103
#define LX_SO_RCVTIMEO  20
#define LX_SO_SNDTIMEO  21
#define LX_FIONREAD     0x541B

struct wq_slot {
    struct waitq wq;
    struct wq_slot *next_free;
};

struct inet_sock {
    struct inode base;
    int hfd;                 /* (c) the host socket; closed on release */
    int family, type, proto; /* (c) */
    struct wq_slot *slot;    /* (c) woken by the host epoll loop */
    pthread_mutex_t lock;
    struct linux_timeval rcvtimeo, sndtimeo; /* (l) */
    struct list_head all;    /* (g_all_lock) on g_all while the file is open */
};

/* The open inet sockets, for /proc/net. A socket leaves before its host fd
 * closes, so a walker holding g_all_lock may use each hfd. */
static pthread_mutex_t g_all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_all = LIST_HEAD_INIT(g_all); /* (g_all_lock) */

static struct vfs_sb *g_inet_sb;
static pthread_once_t g_inet_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_slot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wq_slot *g_free_slots; /* (g_slot_lock) */
static const struct file_ops inet_fops;

static void inet_sb_init(void)
{
    g_inet_sb = vfs_sb_new("sockfs", true);
}

static struct inet_sock *S(struct file *f)
{
    return container_of(f->inode, struct inet_sock, base);
}

static struct waitq *WQ(struct inet_sock *s)
{
    return &s->slot->wq;
}

static struct wq_slot *slot_get(void)
{
    pthread_mutex_lock(&g_slot_lock);
    struct wq_slot *w = g_free_slots;
    if (w)
        g_free_slots = w->next_free;
    pthread_mutex_unlock(&g_slot_lock);
    if (!w) {
        w = calloc(1, sizeof(*w));
        if (w)
            waitq_init(&w->wq);
    }
    return w;
}

static void slot_put(struct wq_slot *w)
{
    pthread_mutex_lock(&g_slot_lock);
    w->next_free = g_free_slots;
    g_free_slots = w;
    pthread_mutex_unlock(&g_slot_lock);
}

static void inet_evict(struct inode *inode)
{
    struct inet_sock *s = container_of(inode, struct inet_sock, base);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct inode_ops inet_iops = {
        .evict = inet_evict,
};

bool inet_is_socket(struct file *f)
{
    return f->ops == &inet_fops;
}

/* Wraps host socket HFD (consumed) in a new file (count 1). */
static int inet_file(int hfd, int family, int type, int proto, unsigned flags,
                     struct file **out)
{
    pthread_once(&g_inet_once, inet_sb_init);
    struct inet_sock *s = g_inet_sb ? calloc(1, sizeof(*s)) : NULL;
    struct wq_slot *slot = s ? slot_get() : NULL;
    if (!slot) {
        free(s);
        host_net_close(hfd);
        return -ENOMEM;
    }
    inode_init(&s->base, g_inet_sb, &inet_iops, VFS_S_IFSOCK | 0777);
    s->base.ino = vfs_sb_next_ino(g_inet_sb);
    pthread_mutex_init(&s->lock, NULL);
    s->hfd = hfd;
    s->family = family;
    s->type = type;
    s->proto = proto;
    s->slot = slot;
    int r = host_io_watch(hfd, &slot->wq);
    struct file *f = r == 0 ? file_alloc(&s->base, NULL, O_RDWR | (flags & O_NONBLOCK)) : NULL;
    if (!f) {
        host_net_close(hfd);
        s->hfd = -1;
        slot_put(slot);
        inode_put(&s->base);
        return r < 0 ? r : -ENOMEM;
    }
    f->ops = &inet_fops;
    f->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    struct task *t = task_current();
    if (t) {
        s->base.uid = t->cred.fsuid;
        s->base.gid = t->cred.fsgid;
    }
    pthread_mutex_lock(&g_all_lock);
    list_add_tail(&s->all, &g_all);
    pthread_mutex_unlock(&g_all_lock);
    inode_put(&s->base);
    *out = f;
    return 0;
}

int inet_create(int family, int type, int protocol, unsigned flags, struct file **out)
{
    if (family != LX_AF_INET && family != LX_AF_INET6)
        return -EAFNOSUPPORT;
    int hproto;
    if (type == LX_SOCK_STREAM) {
        if (protocol != 0 && protocol != LX_IPPROTO_TCP)
            return -EPROTONOSUPPORT;
        hproto = IPPROTO_TCP;
    } else if (type == LX_SOCK_DGRAM) {
        /* UDP, or UDP-Lite (RFC 3828) when asked for by number. */
        if (protocol != 0 && protocol != LX_IPPROTO_UDP && protocol != LX_IPPROTO_UDPLITE)
            return -EPROTONOSUPPORT;
        hproto = protocol == LX_IPPROTO_UDPLITE ? IPPROTO_UDPLITE : IPPROTO_UDP;
    } else if (type == 3 /* SOCK_RAW */ || type == 10 /* SOCK_PACKET */) {
        return -EPERM;
    } else {
        return -ESOCKTNOSUPPORT;
    }
    int hfd = host_net_socket(family == LX_AF_INET ? AF_INET : AF_INET6,
                              type == LX_SOCK_STREAM ? SOCK_STREAM : SOCK_DGRAM, hproto);
    if (hfd < 0)
        return hfd;
    return inet_file(hfd, family, type, hproto, flags, out);
}

/* ---- addresses ---- */

/* ---- waiting ---- */

static bool nonblocking(struct file *f, int flags)
{
    return (flags & LX_MSG_DONTWAIT) || (vfs_file_flags(f) & O_NONBLOCK);
}

/* The CLOCK_MONOTONIC deadline of timeout TV (0: none). */
static uint64_t deadline_of(struct inet_sock *s, bool snd)
{
    pthread_mutex_lock(&s->lock);
    struct linux_timeval tv = snd ? s->sndtimeo : s->rcvtimeo;
    pthread_mutex_unlock(&s->lock);
    if (tv.tv_sec <= 0 && tv.tv_usec <= 0)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec +
           (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

/* Sleeps until the host socket reports one of EVENTS (or an error or
 * hang-up). 0 (re-try the call), -EAGAIN past DEADLINE, -ERESTARTSYS
 * (-EINTR with a timeout) on a signal. */
static int inet_wait(struct task *t, struct inet_sock *s, unsigned events, uint64_t deadline)
{
    uint32_t seq = task_wake_seq(t);
    struct waiter w;
    waitq_add(WQ(s), &w, t);
    int r = 0;
    if (!host_io_poll_now(s->hfd, events | POLLERR | POLLHUP))
        r = task_sleep(t, seq, deadline);
    waitq_del(WQ(s), &w);
    if (r == -EINTR)
        return deadline ? -EINTR : -ERESTARTSYS;
    if (r == -ETIMEDOUT)
        return -EAGAIN;
    return 0;
}

static void raise_sigpipe(struct task *t)
{
    struct linux_siginfo info;
    memset(&info, 0, sizeof(info));
    info.kill.pid = t->tg->pid;
    info.kill.uid = t->cred.uid;
    pthread_mutex_lock(&g_tasks_lock);
    signal_send_task_locked(t, SIGPIPE, &info);
    pthread_mutex_unlock(&g_tasks_lock);
}

/* ---- control messages ---- */

#define CMSG_SPACE8(n) (CMSG_HDR_SIZE + (((n) + 7) & ~(size_t)7))

/* Appends a control message with LEN bytes of DATA to BUF at *OFF (the
 * caller sized BUF). */
static void ctl_put(uint8_t *buf, size_t *off, int level, int type, const void *data,
                    size_t len)
{
    uint64_t clen = CMSG_HDR_SIZE + len;
    int32_t lv[2] = {level, type};
    memcpy(buf + *off, &clen, 8);
    memcpy(buf + *off + 8, lv, 8);
    memcpy(buf + *off + CMSG_HDR_SIZE, data, len);
    memset(buf + *off + clen, 0, CMSG_SPACE8(len) - clen);
    *off += CMSG_SPACE8(len);
}

static int32_t ctl_int(const struct cmsg_item *it)
{
    int32_t v;
    memcpy(&v, it->data, sizeof(v));
    return v;
}

/* Whether the datagram goes to an IPv4-mapped address (an AF_INET6 socket
 * then sends over IPv4 and Linux reads IPv4 control messages). */
static bool v4mapped_dest(struct inet_sock *s, const struct sockaddr_storage *to)
{
    struct sockaddr_storage peer;
    if (!to) {
        socklen_t len = sizeof(peer);
        if (host_net_getname(s->hfd, 1, &peer, &len) < 0)
            return false;
        to = &peer;
    }
    if (to->ss_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)to)->sin6_addr;
    return IN6_IS_ADDR_V4MAPPED(a);
}

/* One SOL_SOCKET control message of an inet send (as Linux's
 * __sock_cmsg_send). */
static int ctl_sol_socket(const struct cmsg_item *it, uint8_t *out, size_t *off)
{
    switch (it->type) {
    case LX_SCM_RIGHTS:
    case LX_SCM_CREDENTIALS:
        return 0; /* AF_UNIX's: Linux ignores them here */
    case LX_SO_PRIORITY: {
        if (it->len != sizeof(int32_t))
            return -EINVAL;
        int32_t v = ctl_int(it);
        /* Above 6 needs CAP_NET_ADMIN or CAP_NET_RAW over the network,
         * which the sandbox never has. */
        if (v < 0 || v > 6)
            return -EPERM;
        ctl_put(out, off, SOL_SOCKET, SO_PRIORITY, &v, sizeof(v));
        return 0;
    }
    case LX_SO_MARK:
        return -EPERM; /* needs CAP_NET_ADMIN over the network */
    case LX_SO_TIMESTAMPING_OLD:
    case LX_SO_TIMESTAMPING_NEW: {
        if (it->len != sizeof(uint32_t))
            return -EINVAL;
        uint32_t v = (uint32_t)ctl_int(it);
        if (v & ~LX_SOF_TIMESTAMPING_TX_RECORD_MASK)
            return -EINVAL;
        if (v) {
            /* Transmit timestamps go to the error queue moat lacks. */
            log_warn_once("sendmsg: transmit timestamps (SO_TIMESTAMPING) are not supported");
            return -EINVAL;
        }
        return 0;
    }
    case LX_SCM_TXTIME:
        return -EINVAL; /* SO_TXTIME is never on */
    default:
        log_warn_once("sendmsg: SOL_SOCKET control message %d on an inet socket is not "
                      "supported",
                      it->type);
        return -EINVAL;
    }
}

/* One IPv4 control message of a UDP send (as Linux's ip_cmsg_send). */
static int ctl_ip(const struct cmsg_item *it, uint8_t *out, size_t *off)
{
    switch (it->type) {
    case LX_IP_PKTINFO: {
        struct in_pktinfo pi;
        if (it->len != sizeof(pi))
            return -EINVAL;
        memcpy(&pi, it->data, sizeof(pi));
        ctl_put(out, off, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
        return 0;
    }
    case LX_IP_TTL: {
        if (it->len != sizeof(int32_t))
            return -EINVAL;
        int32_t v = ctl_int(it);
        if (v < 1 || v > 255)
            return -EINVAL;
        ctl_put(out, off, IPPROTO_IP, IP_TTL, &v, sizeof(v));
        return 0;
    }
    case LX_IP_TOS: {
        int32_t v;
        if (it->len == sizeof(int32_t))
            v = ctl_int(it);
        else if (it->len == 1)
            v = it->data[0];
        else
            return -EINVAL;
        if (v < 0 || v > 255)
            return -EINVAL;
        ctl_put(out, off, IPPROTO_IP, IP_TOS, &v, sizeof(v));
        return 0;
    }
    case LX_IP_RETOPTS:
        log_warn_once("sendmsg: IP_RETOPTS control messages are not supported");
        return -EINVAL;
    default:
        return -EINVAL;
    }
}

/* One IPv6 control message of a UDP send (as Linux's
 * ip6_datagram_send_ctl). */
static int ctl_ipv6(const struct cmsg_item *it, uint8_t *out, size_t *off)
{
    switch (it->type) {
    case LX_IPV6_PKTINFO: {
        struct in6_pktinfo pi;
        if (it->len < sizeof(pi))
            return -EINVAL;
        memcpy(&pi, it->data, sizeof(pi));
        ctl_put(out, off, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
        return 0;
    }
    case LX_IPV6_HOPLIMIT:
    case LX_IPV6_TCLASS: {
        if (it->len != sizeof(int32_t))
            return -EINVAL;
        int32_t v = ctl_int(it);
        if (v < -1 || v > 255)
            return -EINVAL;
        ctl_put(out, off, IPPROTO_IPV6,
                it->type == LX_IPV6_HOPLIMIT ? IPV6_HOPLIMIT : IPV6_TCLASS, &v, sizeof(v));
        return 0;
    }
    case LX_IPV6_DONTFRAG: {
        if (it->len != sizeof(int32_t))
            return -EINVAL;
        int32_t v = ctl_int(it) != 0;
        ctl_put(out, off, IPPROTO_IPV6, IPV6_DONTFRAG, &v, sizeof(v));
        return 0;
    }
    default:
        log_warn_once("sendmsg: IPv6 control message type %d is not supported", it->type);
        return -EINVAL;
    }
}

/* Checks the app's control messages M->ctl as Linux would for socket S
 * sending to TO (NULL: the peer) and rebuilds the allowed ones for the
 * host in OUT (*OUTLEN). Levels a protocol does not read are skipped, as
 * Linux skips them. */
static int ctl_to_host(struct inet_sock *s, const struct sock_smsg *m,
                       const struct sockaddr_storage *to, uint8_t *out, size_t *outlen)
{
    bool udp = s->type == LX_SOCK_DGRAM;
    bool mapped = udp && s->family == LX_AF_INET6 && v4mapped_dest(s, to);
    bool ip4 = udp && (s->family == LX_AF_INET || mapped);
    size_t in = 0, off = 0;
    struct cmsg_item it;
    int r;
    while ((r = cmsg_next(m->ctl, m->ctllen, &in, &it)) > 0) {
        if (it.level == LX_SOL_SOCKET) {
            r = ctl_sol_socket(&it, out, &off);
            if (r < 0)
                return udp ? r : -EINVAL; /* TCP reports every error as EINVAL */
            continue;
        }
        if (!udp)
            continue; /* TCP reads only SOL_SOCKET */
        if (it.level == LX_IPPROTO_UDP) {
            uint16_t gso;
            if (it.type != LX_UDP_SEGMENT || it.len != sizeof(gso))
                return -EINVAL;
            memcpy(&gso, it.data, sizeof(gso));
            ctl_put(out, &off, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso));
        } else if (it.level == LX_IPPROTO_IP && ip4) {
            r = ctl_ip(&it, out, &off);
            if (r < 0)
                return r;
        } else if (it.level == LX_IPPROTO_IPV6 && mapped) {
            /* Over IPv4 only the source address of IPV6_PKTINFO counts,
             * and it must be IPv4-mapped (Linux's ip_cmsg_send). */
            struct in6_pktinfo pi;
            if (it.type != LX_IPV6_PKTINFO)
                continue;
            if (it.len < sizeof(pi))
                return -EINVAL;
            memcpy(&pi, it.data, sizeof(pi));
            if (!IN6_IS_ADDR_V4MAPPED(&pi.ipi6_addr))
                return -EINVAL;
            ctl_put(out, &off, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
        } else if (it.level == LX_IPPROTO_IPV6 && s->family == LX_AF_INET6) {
            r = ctl_ipv6(&it, out, &off);
            if (r < 0)
                return r;
        }
    }
    if (r < 0)
        return r;
    *outlen = off;
    return 0;
}

/* What a received control message holds besides plain numbers. */
enum ctl_kind {
    CK_BYTES,   /* numbers and raw addresses only */
    CK_SIN,     /* a sockaddr_in at SA_OFF */
    CK_SIN6,    /* a sockaddr_in6 at SA_OFF */
    CK_SIN_OPT, /* a sockaddr_in at SA_OFF, or zeros (no offender) */
    CK_SIN6_OPT,
};

struct ctl_rule {
    int hlevel, htype; /* host */
    int level, type;   /* Linux */
    enum ctl_kind kind;
    size_t len;        /* exact data length */
    size_t sa_off;     /* where the sockaddr starts */
};

/* The host control messages a receive passes on (the options that ask for
 * them are in g_opts). IP_RECVERR/IPV6_RECVERR: struct sock_extended_err
 * (16 bytes), then the offender's address. */
static const struct ctl_rule g_rctl[] = {
        {SOL_SOCKET, SO_TIMESTAMP_OLD, LX_SOL_SOCKET, LX_SO_TIMESTAMP_OLD, CK_BYTES, 16, 0},
        {SOL_SOCKET, SO_TIMESTAMPNS_OLD, LX_SOL_SOCKET, LX_SO_TIMESTAMPNS_OLD, CK_BYTES, 16, 0},
        {SOL_SOCKET, SO_TIMESTAMP_NEW, LX_SOL_SOCKET, LX_SO_TIMESTAMP_NEW, CK_BYTES, 16, 0},
        {SOL_SOCKET, SO_TIMESTAMPNS_NEW, LX_SOL_SOCKET, LX_SO_TIMESTAMPNS_NEW, CK_BYTES, 16, 0},
        {SOL_SOCKET, SO_RXQ_OVFL, LX_SOL_SOCKET, LX_SO_RXQ_OVFL, CK_BYTES, 4, 0},
        {IPPROTO_IP, IP_PKTINFO, LX_IPPROTO_IP, LX_IP_PKTINFO, CK_BYTES, 12, 0},
        {IPPROTO_IP, IP_TTL, LX_IPPROTO_IP, LX_IP_TTL, CK_BYTES, 4, 0},
        {IPPROTO_IP, IP_TOS, LX_IPPROTO_IP, LX_IP_TOS, CK_BYTES, 1, 0},
        {IPPROTO_IP, IP_ORIGDSTADDR, LX_IPPROTO_IP, LX_IP_ORIGDSTADDR, CK_SIN, 16, 0},
        {IPPROTO_IP, IP_RECVERR, LX_IPPROTO_IP, LX_IP_RECVERR, CK_SIN_OPT, 32, 16},
        {IPPROTO_IPV6, IPV6_PKTINFO, LX_IPPROTO_IPV6, LX_IPV6_PKTINFO, CK_BYTES, 20, 0},
        {IPPROTO_IPV6, IPV6_HOPLIMIT, LX_IPPROTO_IPV6, LX_IPV6_HOPLIMIT, CK_BYTES, 4, 0},
        {IPPROTO_IPV6, IPV6_TCLASS, LX_IPPROTO_IPV6, LX_IPV6_TCLASS, CK_BYTES, 4, 0},
        {IPPROTO_IPV6, IPV6_ORIGDSTADDR, LX_IPPROTO_IPV6, LX_IPV6_ORIGDSTADDR, CK_SIN6, 28, 0},
        {IPPROTO_IPV6, IPV6_PATHMTU, LX_IPPROTO_IPV6, LX_IPV6_PATHMTU, CK_SIN6, 32, 0},
        {IPPROTO_IPV6, IPV6_RECVERR, LX_IPPROTO_IPV6, LX_IPV6_RECVERR, CK_SIN6_OPT, 44, 16},
};

/* Rebuilds the host's control messages HCTL/HLEN for the app into M->ctl:
 * only allow-listed ones with the expected length; addresses re-encoded. */
static void ctl_from_host(const uint8_t *hctl, size_t hlen, struct sock_rmsg *m)
{
    size_t in = 0, off = 0;
    struct cmsg_item it;
    while (cmsg_next(hctl, hlen, &in, &it) > 0) {
        const struct ctl_rule *c = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(g_rctl); i++)
            if (g_rctl[i].hlevel == it.level && g_rctl[i].htype == it.type)
                c = &g_rctl[i];
        if (!c || it.len != c->len) {
            log_warn_once("recvmsg: host control message (%d, %d) of %zu bytes dropped",
                          it.level, it.type, it.len);
            continue;
        }
        if (off + CMSG_SPACE8(c->len) > sizeof(m->ctl)) {
            m->flags |= LX_MSG_CTRUNC;
            break;
        }
        uint8_t data[64];
        memcpy(data, it.data, c->len);
        if (c->kind != CK_BYTES) {
            bool v6 = c->kind == CK_SIN6 || c->kind == CK_SIN6_OPT;
            bool opt = c->kind == CK_SIN_OPT || c->kind == CK_SIN6_OPT;
            size_t alen = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
            struct sockaddr_storage ss;
            memset(&ss, 0, sizeof(ss));
            memcpy(&ss, it.data + c->sa_off, alen);
            uint8_t sa[SOCK_ADDR_MAX];
            memset(sa, 0, sizeof(sa));
            if (ss.ss_family == (v6 ? AF_INET6 : AF_INET)) {
                uint32_t salen = 0;
                sockaddr_inet_encode(&ss, (socklen_t)alen, sa, &salen);
            } else if (!(opt && ss.ss_family == AF_UNSPEC)) {
                continue;
            }
            memcpy(data + c->sa_off, sa, alen);
        }
        ctl_put(m->ctl, &off, c->level, c->type, data, c->len);
    }
    m->ctllen = (uint32_t)off;
}

/* ---- calls ---- */

int inet_bind(const struct task *t, struct file *f, const void *addr, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int r = sockaddr_inet_decode(addr, len, &ss, &sslen);
    if (r < 0)
        return S(f)->family == LX_AF_INET6 && r == -EAFNOSUPPORT ? -EINVAL : r;
    /* Linux: privileged ports need CAP_NET_BIND_SERVICE, checked before
     * the address is looked at. The app's capability is moat's to check;
     * the kernel process keeps the host one only for sandboxes whose apps
     * may have it (sandbox/confine.c). */
    uint16_t port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
    if (port && port < host_unprivileged_port_start() &&
        !task_capable(t, CAP_NET_BIND_SERVICE))
        return -EACCES;
    return host_net_bind(S(f)->hfd, &ss, sslen);
}

int inet_listen(struct file *f, int backlog)
{
    return host_net_listen(S(f)->hfd, backlog);
}

int inet_accept(struct task *t, struct file *f, unsigned flags, struct file **out, void *addr,
                uint32_t *addrlen)
{
    struct inet_sock *s = S(f);
    uint64_t deadline = deadline_of(s, false);
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int hfd = host_net_accept(s->hfd, &ss, &sslen);
        if (hfd >= 0) {
            sockaddr_inet_encode(&ss, sslen, addr, addrlen);
            return inet_file(hfd, s->family, s->type, s->proto, flags, out);
        }
        if (hfd != -EAGAIN || nonblocking(f, 0))
            return hfd;
        int r = inet_wait(t, s, POLLIN, deadline);
        if (r < 0)
            return r;
    }
}

int inet_connect(struct task *t, struct file *f, const void *addr, size_t len)
{
    struct inet_sock *s = S(f);
    struct sockaddr_storage ss;
    socklen_t sslen;
    int r = sockaddr_inet_decode(addr, len, &ss, &sslen);
    if (r < 0)
        return r;
    r = host_net_connect(s->hfd, &ss, sslen);
    if (r != -EINPROGRESS || nonblocking(f, 0))
        return r;
    uint64_t deadline = deadline_of(s, true);
    for (;;) {
        if (host_io_poll_now(s->hfd, POLLOUT | POLLERR | POLLHUP))
            break;
        r = inet_wait(t, s, POLLOUT, deadline);
        if (r == -EAGAIN)
            return -EINPROGRESS;
        if (r < 0)
            return r;
    }
    int err = 0;
    socklen_t elen = sizeof(err);
    r = host_net_getsockopt(s->hfd, SOL_SOCKET, SO_ERROR, &err, &elen);
    return r < 0 ? r : -err;
}

int inet_getname(struct file *f, bool peer, void *addr, uint32_t *addrlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int r = host_net_getname(S(f)->hfd, peer, &ss, &sslen);
    if (r < 0)
        return r;
    sockaddr_inet_encode(&ss, sslen, addr, addrlen);
    return 0;
}

int inet_shutdown(struct file *f, int how)
{
    if (how < 0 || how > 2)
        return -EINVAL;
    return host_net_shutdown(S(f)->hfd, how);
}

static ssize_t send_loop(struct task *t, struct file *f, const struct sock_smsg *m,
                         const struct sockaddr_storage *to, socklen_t tolen, const uint8_t *ctl,
                         size_t ctllen, int flags);

/* Flags passed on to the host; DONTWAIT, NOSIGNAL and WAITALL are moat's. */
#define SEND_FLAGS (MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE | MSG_CONFIRM)
#define RECV_FLAGS (MSG_OOB | MSG_PEEK | MSG_TRUNC | MSG_ERRQUEUE)

ssize_t inet_sendmsg(struct task *t, struct file *f, const struct sock_smsg *m, int flags)
{
    struct inet_sock *s = S(f);
    if (m->nfds || m->has_cred)
        return -EINVAL; /* no SCM_RIGHTS / SCM_CREDENTIALS on inet */
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    if (m->name) {
        int r = sockaddr_inet_decode(m->name, m->namelen, &ss, &sslen);
        if (r < 0)
            return r;
    }
    uint8_t *hctl = NULL;
    size_t hctllen = 0;
    if (m->ctllen) {
        /* Rebuilt messages are never longer than the app's. */
        hctl = malloc(m->ctllen + 8);
        if (!hctl)
            return -ENOMEM;
        int r = ctl_to_host(s, m, m->name ? &ss : NULL, hctl, &hctllen);
        if (r < 0) {
            free(hctl);
            return r;
        }
    }
    ssize_t res = send_loop(t, f, m, m->name ? &ss : NULL, sslen, hctl, hctllen, flags);
    free(hctl);
    return res;
}

static ssize_t send_loop(struct task *t, struct file *f, const struct sock_smsg *m,
                         const struct sockaddr_storage *to, socklen_t tolen, const uint8_t *ctl,
                         size_t ctllen, int flags)
{
    struct inet_sock *s = S(f);
    uint64_t deadline = 0;
    bool have_deadline = false;
    size_t done = 0;
    bool stream = s->type == LX_SOCK_STREAM;
    for (;;) {
        /* The control messages go with the first part of a stream only. */
        ssize_t n = host_net_sendmsg(s->hfd, (const uint8_t *)m->buf + done, m->len - done, to,
                                     tolen, done ? NULL : ctl, done ? 0 : ctllen,
                                     flags & SEND_FLAGS);
        if (n >= 0) {
            done += (size_t)n;
            if (!stream || done >= m->len || nonblocking(f, flags))
                return (ssize_t)done;
            continue;
        }
        if (n == -EPIPE && !(flags & LX_MSG_NOSIGNAL))
            raise_sigpipe(t);
        if (n != -EAGAIN || nonblocking(f, flags))
            return done ? (ssize_t)done : n;
        if (!have_deadline) {
            deadline = deadline_of(s, true);
            have_deadline = true;
        }
        int r = inet_wait(t, s, POLLOUT, deadline);
        if (r < 0)
            return done ? (ssize_t)done : r;
    }
}

ssize_t inet_recvmsg(struct task *t, struct file *f, struct sock_rmsg *m, int flags)
{
    struct inet_sock *s = S(f);
    bool errqueue = flags & MSG_ERRQUEUE;
    bool waitall = (flags & LX_MSG_WAITALL) && s->type == LX_SOCK_STREAM &&
                   !(flags & (LX_MSG_PEEK | LX_MSG_DONTWAIT)) && !errqueue;
    uint64_t deadline = 0;
    bool have_deadline = false;
    size_t done = 0;
    m->flags = 0;
    m->namelen = 0;
    m->ctllen = 0;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int oflags = 0;
        uint8_t hctl[SOCK_CTL_MAX] __attribute__((aligned(8)));
        size_t hctllen = m->want_ctl ? sizeof(hctl) : 0;
        ssize_t n = host_net_recvmsg(s->hfd, (uint8_t *)m->buf + done, m->len - done, &ss,
                                     &sslen, hctl, &hctllen, flags & RECV_FLAGS, &oflags);
        if (n >= 0) {
            if (!done && (s->type != LX_SOCK_STREAM || errqueue))
                sockaddr_inet_encode(&ss, sslen, m->name, &m->namelen);
            m->flags |= oflags & (MSG_TRUNC | MSG_OOB | MSG_EOR | MSG_CTRUNC | MSG_ERRQUEUE);
            if (hctllen)
                ctl_from_host(hctl, hctllen, m);
            done += (size_t)n;
            if (!waitall || n == 0 || done >= m->len)
                return (ssize_t)done;
            continue;
        }
        /* The error queue never blocks (Linux). */
        if (n != -EAGAIN || nonblocking(f, flags) || errqueue)
            return done ? (ssize_t)done : n;
        if (!have_deadline) {
            deadline = deadline_of(s, false);
            have_deadline = true;
        }
        int r = inet_wait(t, s, POLLIN | POLLRDHUP, deadline);
        if (r < 0)
            return done ? (ssize_t)done : r;
    }
}

/* ---- options ---- */

enum opt_kind {
    OPT_INT,
    OPT_LINGER,
    OPT_TCPINFO,
    OPT_MREQ,
    OPT_MREQ6,
    OPT_PKTINFO6, /* struct in6_pktinfo (IPV6_PKTINFO's sticky source) */
    OPT_MTUINFO6, /* struct ip6_mtuinfo, read-only (IPV6_PATHMTU) */
    OPT_RO,
};

struct opt_rule {
    int level, name;       /* Linux */
    int hlevel, hname;     /* host */
    enum opt_kind kind;
};

static const struct opt_rule g_opts[] = {
        {LX_SOL_SOCKET, 2, SOL_SOCKET, SO_REUSEADDR, OPT_INT},
        {LX_SOL_SOCKET, 3, SOL_SOCKET, SO_TYPE, OPT_RO},
        {LX_SOL_SOCKET, 4, SOL_SOCKET, SO_ERROR, OPT_RO},
        {LX_SOL_SOCKET, 6, SOL_SOCKET, SO_BROADCAST, OPT_INT},
        {LX_SOL_SOCKET, 7, SOL_SOCKET, SO_SNDBUF, OPT_INT},
        {LX_SOL_SOCKET, 8, SOL_SOCKET, SO_RCVBUF, OPT_INT},
        {LX_SOL_SOCKET, 9, SOL_SOCKET, SO_KEEPALIVE, OPT_INT},
        {LX_SOL_SOCKET, 10, SOL_SOCKET, SO_OOBINLINE, OPT_INT},
        {LX_SOL_SOCKET, 12, SOL_SOCKET, SO_PRIORITY, OPT_INT},
        {LX_SOL_SOCKET, 13, SOL_SOCKET, SO_LINGER, OPT_LINGER},
        {LX_SOL_SOCKET, 15, SOL_SOCKET, SO_REUSEPORT, OPT_INT},
        {LX_SOL_SOCKET, 18, SOL_SOCKET, SO_RCVLOWAT, OPT_INT},
        {LX_SOL_SOCKET, 19, SOL_SOCKET, SO_SNDLOWAT, OPT_INT},
        {LX_SOL_SOCKET, LX_SO_TIMESTAMP_OLD, SOL_SOCKET, SO_TIMESTAMP_OLD, OPT_INT},
        {LX_SOL_SOCKET, LX_SO_TIMESTAMPNS_OLD, SOL_SOCKET, SO_TIMESTAMPNS_OLD, OPT_INT},
        {LX_SOL_SOCKET, LX_SO_RXQ_OVFL, SOL_SOCKET, SO_RXQ_OVFL, OPT_INT},
        {LX_SOL_SOCKET, LX_SO_TIMESTAMP_NEW, SOL_SOCKET, SO_TIMESTAMP_NEW, OPT_INT},
        {LX_SOL_SOCKET, LX_SO_TIMESTAMPNS_NEW, SOL_SOCKET, SO_TIMESTAMPNS_NEW, OPT_INT},
        {LX_SOL_SOCKET, 30, SOL_SOCKET, SO_ACCEPTCONN, OPT_RO},
        {LX_SOL_SOCKET, 38, SOL_SOCKET, SO_PROTOCOL, OPT_RO},
        {LX_SOL_SOCKET, 39, SOL_SOCKET, SO_DOMAIN, OPT_RO},
        {LX_IPPROTO_TCP, 1, IPPROTO_TCP, TCP_NODELAY, OPT_INT},
        {LX_IPPROTO_TCP, 2, IPPROTO_TCP, TCP_MAXSEG, OPT_INT},
        {LX_IPPROTO_TCP, 3, IPPROTO_TCP, TCP_CORK, OPT_INT},
        {LX_IPPROTO_TCP, 4, IPPROTO_TCP, TCP_KEEPIDLE, OPT_INT},
        {LX_IPPROTO_TCP, 5, IPPROTO_TCP, TCP_KEEPINTVL, OPT_INT},
        {LX_IPPROTO_TCP, 6, IPPROTO_TCP, TCP_KEEPCNT, OPT_INT},
        {LX_IPPROTO_TCP, 9, IPPROTO_TCP, TCP_DEFER_ACCEPT, OPT_INT},
        {LX_IPPROTO_TCP, 11, IPPROTO_TCP, TCP_INFO, OPT_TCPINFO},
        {LX_IPPROTO_TCP, 12, IPPROTO_TCP, TCP_QUICKACK, OPT_INT},
        {LX_IPPROTO_TCP, 18, IPPROTO_TCP, TCP_USER_TIMEOUT, OPT_INT},
        {LX_IPPROTO_TCP, 23, IPPROTO_TCP, TCP_FASTOPEN, OPT_INT},
        {LX_IPPROTO_IP, 1, IPPROTO_IP, IP_TOS, OPT_INT},
        {LX_IPPROTO_IP, 2, IPPROTO_IP, IP_TTL, OPT_INT},
        {LX_IPPROTO_IP, 8, IPPROTO_IP, IP_PKTINFO, OPT_INT},
        {LX_IPPROTO_IP, 10, IPPROTO_IP, IP_MTU_DISCOVER, OPT_INT},
        {LX_IPPROTO_IP, LX_IP_RECVERR, IPPROTO_IP, IP_RECVERR, OPT_INT},
        {LX_IPPROTO_IP, 12, IPPROTO_IP, IP_RECVTTL, OPT_INT},
        {LX_IPPROTO_IP, 13, IPPROTO_IP, IP_RECVTOS, OPT_INT},
        {LX_IPPROTO_IP, 14, IPPROTO_IP, IP_MTU, OPT_RO},
        {LX_IPPROTO_IP, 15, IPPROTO_IP, IP_FREEBIND, OPT_INT},
        {LX_IPPROTO_IP, 20, IPPROTO_IP, IP_RECVORIGDSTADDR, OPT_INT},
        {LX_IPPROTO_IP, 24, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, OPT_INT},
        {LX_IPPROTO_IP, 32, IPPROTO_IP, IP_MULTICAST_IF, OPT_MREQ},
        {LX_IPPROTO_IP, 33, IPPROTO_IP, IP_MULTICAST_TTL, OPT_INT},
        {LX_IPPROTO_IP, 34, IPPROTO_IP, IP_MULTICAST_LOOP, OPT_INT},
        {LX_IPPROTO_IP, 35, IPPROTO_IP, IP_ADD_MEMBERSHIP, OPT_MREQ},
        {LX_IPPROTO_IP, 36, IPPROTO_IP, IP_DROP_MEMBERSHIP, OPT_MREQ},
        {LX_IPPROTO_IPV6, 16, IPPROTO_IPV6, IPV6_UNICAST_HOPS, OPT_INT},
        {LX_IPPROTO_IPV6, 17, IPPROTO_IPV6, IPV6_MULTICAST_IF, OPT_INT},
        {LX_IPPROTO_IPV6, 18, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, OPT_INT},
        {LX_IPPROTO_IPV6, 19, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, OPT_INT},
        {LX_IPPROTO_IPV6, 20, IPPROTO_IPV6, IPV6_JOIN_GROUP, OPT_MREQ6},
        {LX_IPPROTO_IPV6, 21, IPPROTO_IPV6, IPV6_LEAVE_GROUP, OPT_MREQ6},
        {LX_IPPROTO_IPV6, 23, IPPROTO_IPV6, IPV6_MTU_DISCOVER, OPT_INT},
        {LX_IPPROTO_IPV6, 24, IPPROTO_IPV6, IPV6_MTU, OPT_INT},
        {LX_IPPROTO_IPV6, LX_IPV6_RECVERR, IPPROTO_IPV6, IPV6_RECVERR, OPT_INT},
        {LX_IPPROTO_IPV6, 26, IPPROTO_IPV6, IPV6_V6ONLY, OPT_INT},
        {LX_IPPROTO_IPV6, 49, IPPROTO_IPV6, IPV6_RECVPKTINFO, OPT_INT},
        {LX_IPPROTO_IPV6, 50, IPPROTO_IPV6, IPV6_PKTINFO, OPT_PKTINFO6},
        {LX_IPPROTO_IPV6, 51, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, OPT_INT},
        {LX_IPPROTO_IPV6, 52, IPPROTO_IPV6, IPV6_HOPLIMIT, OPT_INT},
        {LX_IPPROTO_IPV6, 60, IPPROTO_IPV6, IPV6_RECVPATHMTU, OPT_INT},
        {LX_IPPROTO_IPV6, 61, IPPROTO_IPV6, IPV6_PATHMTU, OPT_MTUINFO6},
        {LX_IPPROTO_IPV6, 62, IPPROTO_IPV6, IPV6_DONTFRAG, OPT_INT},
        {LX_IPPROTO_IPV6, 66, IPPROTO_IPV6, IPV6_RECVTCLASS, OPT_INT},
        {LX_IPPROTO_IPV6, 67, IPPROTO_IPV6, IPV6_TCLASS, OPT_INT},
        {LX_IPPROTO_IPV6, 74, IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, OPT_INT},
        {LX_IPPROTO_IPV6, 78, IPPROTO_IPV6, IPV6_FREEBIND, OPT_INT},
};

static const struct opt_rule *opt_find(int level, int name)
{
    for (size_t i = 0; i < ARRAY_SIZE(g_opts); i++)
        if (g_opts[i].level == level && g_opts[i].name == name)
            return &g_opts[i];
    return NULL;
}

/* Largest value of KIND the host call sees. */
static uint32_t opt_max(enum opt_kind kind)
{
    switch (kind) {
    case OPT_LINGER:
        return sizeof(struct linger);
    case OPT_TCPINFO:
        return MIN((uint32_t)sizeof(struct tcp_info), (uint32_t)INET_OPT_MAX);
    case OPT_MREQ:
        return sizeof(struct ip_mreqn);
    case OPT_MREQ6:
        return sizeof(struct ipv6_mreq);
    case OPT_PKTINFO6:
        return sizeof(struct in6_pktinfo);
    case OPT_MTUINFO6:
        return 32; /* struct ip6_mtuinfo */
    default:
        return sizeof(int);
    }
}

static int timeo_get(struct inet_sock *s, int name, void *val, uint32_t *len)
{
    pthread_mutex_lock(&s->lock);
    struct linux_timeval tv = name == LX_SO_RCVTIMEO ? s->rcvtimeo : s->sndtimeo;
    pthread_mutex_unlock(&s->lock);
    *len = MIN(*len, (uint32_t)sizeof(tv));
    memcpy(val, &tv, *len);
    return 0;
}

static int timeo_set(struct inet_sock *s, int name, const void *val, uint32_t len)
{
    struct linux_timeval tv;
    if (len < sizeof(tv))
        return -EINVAL;
    memcpy(&tv, val, sizeof(tv));
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
        return -EDOM;
    if (tv.tv_sec < 0)
        tv.tv_sec = tv.tv_usec = 0;
    pthread_mutex_lock(&s->lock);
    if (name == LX_SO_RCVTIMEO)
        s->rcvtimeo = tv;
    else
        s->sndtimeo = tv;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int inet_getsockopt(struct file *f, int level, int name, void *val, uint32_t *len)
{
    struct inet_sock *s = S(f);
    if (level == LX_SOL_SOCKET && (name == LX_SO_RCVTIMEO || name == LX_SO_SNDTIMEO))
        return timeo_get(s, name, val, len);
    const struct opt_rule *o = opt_find(level, name);
    if (!o) {
        log_warn_once("getsockopt(%d, %d) on an inet socket: not supported", level, name);
        return -ENOPROTOOPT;
    }
    uint8_t buf[INET_OPT_MAX];
    memset(buf, 0, sizeof(buf));
    socklen_t hlen = MIN(*len, opt_max(o->kind));
    int r = host_net_getsockopt(s->hfd, o->hlevel, o->hname, buf, &hlen);
    if (r < 0)
        return r;
    *len = MIN((uint32_t)hlen, *len);
    memcpy(val, buf, *len);
    return 0;
}

int inet_setsockopt(struct file *f, int level, int name, const void *val, uint32_t len)
{
    struct inet_sock *s = S(f);
    if (level == LX_SOL_SOCKET && (name == LX_SO_RCVTIMEO || name == LX_SO_SNDTIMEO))
        return timeo_set(s, name, val, len);
    const struct opt_rule *o = opt_find(level, name);
    if (!o) {
        log_warn_once("setsockopt(%d, %d) on an inet socket: not supported", level, name);
        return -ENOPROTOOPT;
    }
    if (o->kind == OPT_RO || o->kind == OPT_TCPINFO || o->kind == OPT_MTUINFO6)
        return -ENOPROTOOPT;
    uint8_t buf[INET_OPT_MAX];
    memset(buf, 0, sizeof(buf));
    uint32_t n = MIN(len, opt_max(o->kind));
    memcpy(buf, val, n);
    return host_net_setsockopt(s->hfd, o->hlevel, o->hname, buf, n);
}

/* ---- file operations ---- */

static unsigned inet_poll(struct file *f, struct poll_table *pt)
{
    struct inet_sock *s = S(f);
    poll_wait(pt, WQ(s));
    unsigned got = host_io_poll_now(s->hfd, POLLIN | POLLPRI | POLLOUT | POLLRDHUP |
                                                    POLLRDNORM | POLLRDBAND | POLLWRNORM |
                                                    POLLWRBAND);
    unsigned mask = 0;
    static const unsigned map[][2] = {
            {POLLIN, LPOLLIN},         {POLLPRI, LPOLLPRI},       {POLLOUT, LPOLLOUT},
            {POLLERR, LPOLLERR},       {POLLHUP, LPOLLHUP},       {POLLRDNORM, LPOLLRDNORM},
            {POLLRDBAND, LPOLLRDBAND}, {POLLWRNORM, LPOLLWRNORM}, {POLLWRBAND, LPOLLWRBAND},
            {POLLRDHUP, LPOLLRDHUP},
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (got & map[i][0])
            mask |= map[i][1];
    return mask;
}

static ssize_t inet_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct sock_rmsg m;
    memset(&m, 0, sizeof(m));
    m.buf = buf;
    m.len = n;
    return inet_recvmsg(task_current(), f, &m, 0);
}

static ssize_t inet_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct sock_smsg m = {.buf = buf, .len = n};
    return inet_sendmsg(task_current(), f, &m, 0);
}

static long inet_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg)
{
    if (netdev_is_ioctl(cmd))
        return netdev_ioctl(t, true, cmd, arg);
    if (cmd != LX_FIONREAD)
        return -ENOTTY;
    int n = 0;
    int r = host_net_pending(S(f)->hfd, &n);
    if (r < 0)
        return r;
    int32_t v = n;
    return mm_copy_out(t->mm, arg, &v, sizeof(v));
}

static int inet_dname(struct file *f, char *buf, size_t size)
{
    int n = snprintf(buf, size, "socket:[%llu]", (unsigned long long)f->inode->ino);
    return n < (int)size ? n : -ENAMETOOLONG;
}

static void inet_release(struct file *f)
{
    struct inet_sock *s = S(f);
    pthread_mutex_lock(&g_all_lock);
    list_del(&s->all);
    pthread_mutex_unlock(&g_all_lock);
    if (s->hfd >= 0)
        host_net_close(s->hfd);
    s->hfd = -1;
    waitq_wake_all(WQ(s));
    slot_put(s->slot);
    s->slot = NULL;
}

static const struct file_ops inet_fops = {
        .read = inet_read,
        .write = inet_write,
        .poll = inet_poll,
        .ioctl = inet_ioctl,
        .dname = inet_dname,
        .release = inet_release,
};

/* ---- /proc/net ---- */

/* Host address SS into SI's address and port fields (LOCAL or remote). */
static void info_addr(struct sock_info *si, const struct sockaddr_storage *ss, bool local)
{
    uint8_t *a = local ? si->laddr : si->raddr;
    uint16_t *port = local ? &si->lport : &si->rport;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        memcpy(a, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        memcpy(a, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
    }
}

#define USEC_PER_TICK 10000u /* USER_HZ 100 */

static uint32_t ti_u32(const uint8_t *ti, size_t off)
{
    uint32_t v;
    memcpy(&v, ti + off, 4);
    return v;
}

static uint64_t ti_u64(const uint8_t *ti, size_t off)
{
    uint64_t v;
    memcpy(&v, ti + off, 8);
    return v;
}

void inet_for_each(int family, int type, void (*fn)(const struct sock_info *si, void *arg),
                   void *arg)
{
    pthread_mutex_lock(&g_all_lock);
    struct inet_sock *s;
    list_for_each_entry(s, &g_all, all) {
        if (s->family != family || s->type != type || s->hfd < 0)
            continue;
        struct sock_info si;
        memset(&si, 0, sizeof(si));
        si.family = family;
        si.type = type;
        si.uid = s->base.uid;
        si.ino = s->base.ino;
        si.refs = 1;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        if (host_net_getname(s->hfd, 0, &ss, &len) == 0)
            info_addr(&si, &ss, true);
        len = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        bool connected = host_net_getname(s->hfd, 1, &ss, &len) == 0;
        if (connected)
            info_addr(&si, &ss, false);
        int pending = 0;
        if (type == LX_SOCK_STREAM) {
            /* Linux's struct tcp_info, read by offset (libc's is older). */
            uint8_t ti[256];
            socklen_t tl = sizeof(ti);
            memset(ti, 0, sizeof(ti));
            if (host_net_getsockopt(s->hfd, IPPROTO_TCP, TCP_INFO, ti, &tl) == 0 && tl >= 104) {
                si.state = ti[0];
                si.listening = ti[0] == TCP_LISTEN;
                si.rto = ti_u32(ti, 8) / USEC_PER_TICK;
                si.ato = ti_u32(ti, 12) / USEC_PER_TICK;
                si.cwnd = ti_u32(ti, 80);
                uint32_t ssthresh = ti_u32(ti, 76);
                si.ssthresh = ssthresh >= 0xffff ? -1 : (int)ssthresh;
                if (si.listening) {
                    /* TCP_INFO of a listener: tcpi_unacked is the accept
                     * queue, which Linux shows as rx_queue. */
                    si.rxq = ti_u32(ti, 24);
                } else {
                    if (tl >= 216) {
                        uint64_t sent = ti_u64(ti, 200), acked = ti_u64(ti, 120),
                                 retrans = ti_u64(ti, 208);
                        uint64_t inflight = sent > acked + retrans ? sent - acked - retrans : 0;
                        si.txq = (uint32_t)(inflight + ti_u32(ti, 144));
                    }
                    if (host_net_pending(s->hfd, &pending) == 0 && pending > 0)
                        si.rxq = (uint32_t)pending;
                }
            } else {
                si.state = TCP_CLOSE;
            }
        } else {
            si.state = connected ? TCP_ESTABLISHED : TCP_CLOSE;
            if (host_net_pending(s->hfd, &pending) == 0 && pending > 0)
                si.rxq = (uint32_t)pending;
        }
        fn(&si, arg);
    }
    pthread_mutex_unlock(&g_all_lock);
}
