/*
 * The interface ioctls of sockets (SIOCGIF*), answered from the sandbox's
 * network view (rtnl.h), as glibc's if_nametoindex/if_indextoname and
 * ifconfig-style tools use them. Setting anything is EPERM: the sandbox
 * has no CAP_NET_ADMIN over its network.
 */
#include "kernel/net/netdev.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/mm/mm.h"
#include "kernel/net/rtnl.h"
#include "kernel/task/task.h"
#include "lib/log.h"
#include "lib/util.h"

#define SIOCGIFNAME_L    0x8910
#define SIOCGIFCONF_L    0x8912
#define SIOCGIFFLAGS_L   0x8913
#define SIOCSIFFLAGS_L   0x8914
#define SIOCGIFADDR_L    0x8915
#define SIOCGIFBRDADDR_L 0x8919
#define SIOCGIFNETMASK_L 0x891b
#define SIOCGIFMTU_L     0x8921
#define SIOCGIFHWADDR_L  0x8927
#define SIOCGIFINDEX_L   0x8933
#define SIOCGIFTXQLEN_L  0x8942

#define IFNAMSIZ_L 16
#define LX_IFLA_TXQLEN 13
#define LX_IFA_BROADCAST 4

/* struct ifreq: a name, then a 24-byte union. */
struct lx_ifreq {
    char name[IFNAMSIZ_L];
    union {
        uint8_t raw[24];
        struct {
            uint16_t family;
            uint8_t data[14];
        } sa;
        int16_t flags;
        int32_t ivalue;
    };
};

struct lx_ifconf {
    int32_t len;
    int32_t pad;
    uint64_t buf;
};

bool netdev_is_ioctl(unsigned cmd)
{
    return cmd >= 0x8900 && cmd <= 0x89ff;
}

static int32_t link_index(const struct rtnl_msg *m)
{
    int32_t idx;
    memcpy(&idx, m->data + 4, 4);
    return idx;
}

/* The link named NAME or with index INDEX (> 0) in D, or NULL. */
static const struct rtnl_msg *find_link(const struct rtnl_dump *d, const char *name, int index)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct rtnl_msg *m = &d->msgs[i];
        if (index > 0) {
            if (link_index(m) == index)
                return m;
            continue;
        }
        const char *nm = rtnl_attr(m, LX_IFLA_IFNAME, NULL);
        if (nm && strcmp(nm, name) == 0)
            return m;
    }
    return NULL;
}

static void put_in4(struct lx_ifreq *r, const uint8_t *a4)
{
    memset(r->raw, 0, sizeof(r->raw));
    r->sa.family = AF_INET;
    memcpy(r->sa.data + 2, a4, 4); /* sin_port is 0 */
}

/* The IPv4 address of interface NAME (by label, as Linux matches it). */
static int addr_ioctl(unsigned cmd, struct lx_ifreq *r)
{
    struct rtnl_dump d;
    int ret = rtnl_dump(LX_RTM_GETADDR, AF_INET, &d);
    if (ret < 0)
        return ret;
    struct rtnl_dump links;
    ret = rtnl_dump(LX_RTM_GETLINK, AF_UNSPEC, &links);
    if (ret < 0) {
        rtnl_dump_free(&d);
        return ret;
    }
    bool have_link = find_link(&links, r->name, 0) != NULL;
    rtnl_dump_free(&links);
    ret = have_link ? -EADDRNOTAVAIL : -ENODEV;
    for (size_t i = 0; i < d.n; i++) {
        const struct rtnl_msg *m = &d.msgs[i];
        const char *label = rtnl_attr(m, LX_IFA_LABEL, NULL);
        if (!label || strcmp(label, r->name) != 0)
            continue;
        const uint8_t *local = rtnl_attr(m, LX_IFA_LOCAL, NULL);
        const uint8_t *brd = rtnl_attr(m, LX_IFA_BROADCAST, NULL);
        if (!local)
            local = rtnl_attr(m, LX_IFA_ADDRESS, NULL);
        if (cmd == SIOCGIFADDR_L && local) {
            put_in4(r, local);
            ret = 0;
        } else if (cmd == SIOCGIFNETMASK_L) {
            unsigned plen = m->data[1];
            uint32_t mask = plen ? ~0u << (32 - MIN(plen, 32u)) : 0;
            uint8_t b[4] = {mask >> 24, mask >> 16, mask >> 8, mask};
            put_in4(r, b);
            ret = 0;
        } else if (cmd == SIOCGIFBRDADDR_L) {
            uint8_t zero[4] = {0};
            put_in4(r, brd ? brd : zero);
            ret = 0;
        }
        break;
    }
    rtnl_dump_free(&d);
    return ret;
}

/* SIOCGIFCONF: one ifreq per IPv4 address, named by its label. */
static long ifconf_ioctl(struct task *t, uint64_t arg)
{
    struct lx_ifconf ic;
    if (mm_copy_in(t->mm, &ic, arg, sizeof(ic)) < 0)
        return -EFAULT;
    struct rtnl_dump d;
    int r = rtnl_dump(LX_RTM_GETADDR, AF_INET, &d);
    if (r < 0)
        return r;
    int32_t used = 0;
    for (size_t i = 0; i < d.n; i++) {
        const struct rtnl_msg *m = &d.msgs[i];
        const char *label = rtnl_attr(m, LX_IFA_LABEL, NULL);
        const uint8_t *local = rtnl_attr(m, LX_IFA_LOCAL, NULL);
        if (!local)
            local = rtnl_attr(m, LX_IFA_ADDRESS, NULL);
        if (!label || !local)
            continue;
        if (ic.buf) {
            if (used + (int32_t)sizeof(struct lx_ifreq) > ic.len)
                break;
            struct lx_ifreq q;
            memset(&q, 0, sizeof(q));
            strncpy(q.name, label, sizeof(q.name) - 1);
            put_in4(&q, local);
            if (mm_copy_out(t->mm, ic.buf + (uint64_t)used, &q, sizeof(q)) < 0) {
                rtnl_dump_free(&d);
                return -EFAULT;
            }
        }
        used += (int32_t)sizeof(struct lx_ifreq);
    }
    rtnl_dump_free(&d);
    ic.len = used;
    return mm_copy_out(t->mm, arg, &ic.len, sizeof(ic.len)) < 0 ? -EFAULT : 0;
}

/* SIOCADDRT, SIOCDELRT and the SIOCSIF* calls. */
static bool is_set_ioctl(unsigned cmd)
{
    static const unsigned set[] = {0x890b, 0x890c, SIOCSIFFLAGS_L, 0x8916, 0x8918, 0x891a,
                                   0x891c, 0x891e, 0x8922, 0x8923, 0x8924, 0x8943};
    for (size_t i = 0; i < ARRAY_SIZE(set); i++)
        if (set[i] == cmd)
            return true;
    return false;
}

long netdev_ioctl(struct task *t, bool inet, unsigned cmd, uint64_t arg)
{
    /* As in Linux, only inet sockets answer the address calls. */
    if (!inet && (cmd == SIOCGIFADDR_L || cmd == SIOCGIFBRDADDR_L || cmd == SIOCGIFNETMASK_L))
        return -ENOTTY;
    if (cmd == SIOCGIFCONF_L)
        return ifconf_ioctl(t, arg);
    switch (cmd) {
    case SIOCGIFNAME_L:
    case SIOCGIFFLAGS_L:
    case SIOCGIFADDR_L:
    case SIOCGIFBRDADDR_L:
    case SIOCGIFNETMASK_L:
    case SIOCGIFMTU_L:
    case SIOCGIFHWADDR_L:
    case SIOCGIFINDEX_L:
    case SIOCGIFTXQLEN_L:
        break;
    default:
        /* These change the network: no CAP_NET_ADMIN here. */
        if (is_set_ioctl(cmd)) {
            log_warn_once("socket ioctl %#x: changing interfaces is not allowed (EPERM)", cmd);
            return -EPERM;
        }
        log_warn_once("socket ioctl %#x is not supported", cmd);
        return -ENOTTY;
    }
    struct lx_ifreq r;
    if (mm_copy_in(t->mm, &r, arg, sizeof(r)) < 0)
        return -EFAULT;
    r.name[IFNAMSIZ_L - 1] = '\0';
    long ret;
    if (cmd == SIOCGIFADDR_L || cmd == SIOCGIFBRDADDR_L || cmd == SIOCGIFNETMASK_L) {
        ret = addr_ioctl(cmd, &r);
    } else {
        struct rtnl_dump d;
        ret = rtnl_dump(LX_RTM_GETLINK, AF_UNSPEC, &d);
        if (ret < 0)
            return ret;
        const struct rtnl_msg *m;
        if (cmd == SIOCGIFNAME_L)
            m = r.ivalue > 0 ? find_link(&d, "", r.ivalue) : NULL;
        else
            m = find_link(&d, r.name, 0);
        ret = m ? 0 : -ENODEV;
        if (m) {
            uint32_t u32;
            size_t alen;
            const void *p;
            switch (cmd) {
            case SIOCGIFNAME_L:
                memset(r.name, 0, sizeof(r.name));
                p = rtnl_attr(m, LX_IFLA_IFNAME, NULL);
                strncpy(r.name, p ? p : "", sizeof(r.name) - 1);
                break;
            case SIOCGIFINDEX_L:
                r.ivalue = link_index(m);
                break;
            case SIOCGIFFLAGS_L:
                memcpy(&u32, m->data + 8, 4);
                r.flags = (int16_t)(u32 & 0xffff);
                break;
            case SIOCGIFMTU_L:
                p = rtnl_attr(m, LX_IFLA_MTU, NULL);
                u32 = 0;
                if (p)
                    memcpy(&u32, p, 4);
                r.ivalue = (int32_t)u32;
                break;
            case SIOCGIFTXQLEN_L:
                p = rtnl_attr(m, LX_IFLA_TXQLEN, NULL);
                u32 = 0;
                if (p)
                    memcpy(&u32, p, 4);
                r.ivalue = (int32_t)u32;
                break;
            case SIOCGIFHWADDR_L: {
                uint16_t type;
                memcpy(&type, m->data + 2, 2);
                memset(r.raw, 0, sizeof(r.raw));
                r.sa.family = type;
                p = rtnl_attr(m, LX_IFLA_ADDRESS, &alen);
                if (p)
                    memcpy(r.sa.data, p, MIN(alen, sizeof(r.sa.data)));
                break;
            }
            }
        }
        rtnl_dump_free(&d);
    }
    if (ret < 0)
        return ret;
    return mm_copy_out(t->mm, arg, &r, sizeof(r)) < 0 ? -EFAULT : 0;
}
