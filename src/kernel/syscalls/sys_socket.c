/*
 * Sockets: socket, socketpair, bind, listen, accept, accept4, connect,
 * getsockname, getpeername, shutdown, sendto, recvfrom, sendmsg, recvmsg,
 * sendmmsg, recvmmsg, getsockopt, setsockopt.
 *
 * Decodes sockaddrs, iovecs and control messages (SCM_RIGHTS,
 * SCM_CREDENTIALS) and calls kernel/net: unix.c for AF_UNIX, inet.c for
 * AF_INET/AF_INET6 (host sockets; IP/IPv6 control messages checked and
 * rebuilt there, copied out here with Linux's truncation), netlink.c for
 * AF_NETLINK (NETLINK_ROUTE, answered by the kernel).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kernel/net/inet.h"
#include "kernel/net/netlink.h"
#include "kernel/net/sockaddr.h"
#include "kernel/net/socket.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"
#include "lib/util.h"

#define LX_SOCK_NONBLOCK 0x800
#define LX_SOCK_CLOEXEC  0x80000
#define LX_SOCK_TYPE_MASK 0xf
#define LX_SOL_SOCKET    1
#define LX_SCM_RIGHTS    1
#define LX_SCM_CREDENTIALS 2
#define MAX_IOV          1024
#define MAX_IO           (64u << 20)
#define MAX_CONTROL      (64u << 10)

struct linux_msghdr {
    uint64_t name;
    uint32_t namelen;
    uint32_t pad0;
    uint64_t iov;
    uint64_t iovlen;
    uint64_t control;
    uint64_t controllen;
    int32_t flags;
    uint32_t pad1;
};

struct linux_mmsghdr {
    struct linux_msghdr hdr;
    uint32_t len;
    uint32_t pad;
};

struct linux_cmsghdr {
    uint64_t len;
    int32_t level;
    int32_t type;
};

#define CMSG_ALIGN8(n) (((n) + 7) & ~(size_t)7)
#define CMSG_HDR       sizeof(struct linux_cmsghdr)

static int nofile(struct task *t)
{
    return (int)t->tg->rlim[RLIMIT_NOFILE].rlim_cur;
}

/* The socket at FD (new reference) or NULL with *OUT_ERR. */
static struct file *get_sock(struct task *t, int fd, long *out_err)
{
    struct file *f = fdtable_get_file(t->files, fd);
    if (!f) {
        *out_err = -EBADF;
        return NULL;
    }
    if (!sock_is_socket(f) && !inet_is_socket(f) && !netlink_is_socket(f)) {
        file_put(f);
        *out_err = -ENOTSOCK;
        return NULL;
    }
    return f;
}

static int addr_in(struct task *t, uint64_t uaddr, uint64_t len, uint8_t *buf)
{
    if (len > SOCK_ADDR_MAX || (int64_t)len < 0)
        return -EINVAL;
    if (len && copy_in(t, buf, uaddr, len) < 0)
        return -EFAULT;
    return 0;
}

/* Writes ADDR (LEN bytes) to UADDR truncated to *ULENP, and LEN to ULENP. */
static int addr_out(struct task *t, uint64_t uaddr, uint64_t ulenp, const void *addr,
                    uint32_t len)
{
    if (!uaddr || !ulenp)
        return 0;
    int32_t ulen;
    if (copy_in(t, &ulen, ulenp, sizeof(ulen)) < 0)
        return -EFAULT;
    if (ulen < 0)
        return -EINVAL;
    if (copy_out(t, uaddr, addr, MIN((uint32_t)ulen, len)) < 0)
        return -EFAULT;
    return copy_out(t, ulenp, &len, sizeof(len)) < 0 ? -EFAULT : 0;
}

static long sys_socket(struct task *t, const struct sys_args *a)
{
    int type = (int)a->arg[1];
    if (type & ~(LX_SOCK_TYPE_MASK | LX_SOCK_NONBLOCK | LX_SOCK_CLOEXEC))
        return -EINVAL;
    struct file *f;
    int family = (int)a->arg[0];
    unsigned fl = type & LX_SOCK_NONBLOCK ? O_NONBLOCK : 0;
    int r = family == LX_AF_INET || family == LX_AF_INET6
                    ? inet_create(family, type & LX_SOCK_TYPE_MASK, (int)a->arg[2], fl, &f)
            : family == LX_AF_NETLINK
                    ? netlink_create(type & LX_SOCK_TYPE_MASK, (int)a->arg[2], fl, &f)
                    : sock_create(family, type & LX_SOCK_TYPE_MASK, (int)a->arg[2], fl, &f);
    if (r < 0)
        return r;
    int fd = fdtable_alloc(t->files, 0, nofile(t), f, type & LX_SOCK_CLOEXEC);
    file_put(f);
    return fd;
}
SYSCALL_DEFINE(socket, sys_socket, "ddd", SYS_PARTIAL,
               "AF_UNIX; AF_INET/AF_INET6 TCP and UDP over host sockets; raw and packet "
               "sockets EPERM; AF_NETLINK: NETLINK_ROUTE queries only");

static long sys_socketpair(struct task *t, const struct sys_args *a)
{
    int type = (int)a->arg[1];
    if (type & ~(LX_SOCK_TYPE_MASK | LX_SOCK_NONBLOCK | LX_SOCK_CLOEXEC))
        return -EINVAL;
    struct file *f[2];
    if ((int)a->arg[0] == LX_AF_NETLINK)
        return -EOPNOTSUPP;
    int r = sock_socketpair((int)a->arg[0], type & LX_SOCK_TYPE_MASK, (int)a->arg[2],
                            type & LX_SOCK_NONBLOCK ? O_NONBLOCK : 0, f);
    if (r < 0)
        return r;
    bool cloexec = type & LX_SOCK_CLOEXEC;
    int fds[2] = {-1, -1};
    fds[0] = fdtable_alloc(t->files, 0, nofile(t), f[0], cloexec);
    if (fds[0] >= 0)
        fds[1] = fdtable_alloc(t->files, 0, nofile(t), f[1], cloexec);
    r = fds[0] < 0 ? fds[0] : fds[1] < 0 ? fds[1] : 0;
    if (r == 0 && copy_out(t, a->arg[3], fds, sizeof(fds)) < 0)
        r = -EFAULT;
    if (r < 0) {
        if (fds[0] >= 0)
            fdtable_close(t->files, fds[0]);
        if (fds[1] >= 0)
            fdtable_close(t->files, fds[1]);
    }
    file_put(f[0]);
    file_put(f[1]);
    return r;
}
SYSCALL_DEFINE(socketpair, sys_socketpair, "dddp", SYS_PARTIAL, "AF_UNIX only");

static long sys_bind(struct task *t, const struct sys_args *a)
{
    uint8_t addr[SOCK_ADDR_MAX];
    int r = addr_in(t, a->arg[1], a->arg[2], addr);
    if (r < 0)
        return r;
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    r = inet_is_socket(f)      ? inet_bind(t, f, addr, a->arg[2])
        : netlink_is_socket(f) ? netlink_bind(t, f, addr, a->arg[2])
                               : sock_bind(t, f, addr, a->arg[2]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(bind, sys_bind, "fpu", SYS_FULL, NULL);

static long sys_listen(struct task *t, const struct sys_args *a)
{
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    int r = inet_is_socket(f)      ? inet_listen(f, (int)a->arg[1])
            : netlink_is_socket(f) ? -EOPNOTSUPP
                                   : sock_listen(f, (int)a->arg[1]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(listen, sys_listen, "fd", SYS_FULL, NULL);

static long do_accept(struct task *t, const struct sys_args *a, int flags)
{
    if (flags & ~(LX_SOCK_NONBLOCK | LX_SOCK_CLOEXEC))
        return -EINVAL;
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    uint8_t addr[SOCK_ADDR_MAX];
    uint32_t alen = 0;
    struct file *nf;
    unsigned fl = flags & LX_SOCK_NONBLOCK ? O_NONBLOCK : 0;
    int r = inet_is_socket(f)      ? inet_accept(t, f, fl, &nf, addr, &alen)
            : netlink_is_socket(f) ? -EOPNOTSUPP
                                   : sock_accept(t, f, fl, &nf, addr, &alen);
    file_put(f);
    if (r < 0)
        return r;
    r = addr_out(t, a->arg[1], a->arg[2], addr, alen);
    if (r == 0)
        r = fdtable_alloc(t->files, 0, nofile(t), nf, flags & LX_SOCK_CLOEXEC);
    file_put(nf);
    return r;
}

static long sys_accept(struct task *t, const struct sys_args *a)
{
    return do_accept(t, a, 0);
}
SYSCALL_DEFINE(accept, sys_accept, "fpp", SYS_FULL, NULL);

static long sys_accept4(struct task *t, const struct sys_args *a)
{
    return do_accept(t, a, (int)a->arg[3]);
}
SYSCALL_DEFINE(accept4, sys_accept4, "fppx", SYS_FULL, NULL);

static long sys_connect(struct task *t, const struct sys_args *a)
{
    uint8_t addr[SOCK_ADDR_MAX];
    int r = addr_in(t, a->arg[1], a->arg[2], addr);
    if (r < 0)
        return r;
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    r = inet_is_socket(f)      ? inet_connect(t, f, addr, a->arg[2])
        : netlink_is_socket(f) ? netlink_connect(t, f, addr, a->arg[2])
                               : sock_connect(t, f, addr, a->arg[2]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(connect, sys_connect, "fpu", SYS_FULL, NULL);

static long do_getname(struct task *t, const struct sys_args *a, bool peer)
{
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    uint8_t addr[SOCK_ADDR_MAX];
    uint32_t alen = 0;
    int r = inet_is_socket(f)      ? inet_getname(f, peer, addr, &alen)
            : netlink_is_socket(f) ? netlink_getname(f, peer, addr, &alen)
                                   : sock_getname(f, peer, addr, &alen);
    file_put(f);
    if (r < 0)
        return r;
    if (!a->arg[1] || !a->arg[2])
        return -EFAULT;
    return addr_out(t, a->arg[1], a->arg[2], addr, alen);
}

static long sys_getsockname(struct task *t, const struct sys_args *a)
{
    return do_getname(t, a, false);
}
SYSCALL_DEFINE(getsockname, sys_getsockname, "fpp", SYS_FULL, NULL);

static long sys_getpeername(struct task *t, const struct sys_args *a)
{
    return do_getname(t, a, true);
}
SYSCALL_DEFINE(getpeername, sys_getpeername, "fpp", SYS_FULL, NULL);

static long sys_shutdown(struct task *t, const struct sys_args *a)
{
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    int r = inet_is_socket(f)      ? inet_shutdown(f, (int)a->arg[1])
            : netlink_is_socket(f) ? -EOPNOTSUPP
                                   : sock_shutdown(f, (int)a->arg[1]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(shutdown, sys_shutdown, "fd", SYS_FULL, NULL);

/* ---- messages ---- */

/* Reads the iovec array of a msghdr: total length in *OUT_LEN. */
static int iov_in(struct task *t, uint64_t uiov, uint64_t n, struct linux_iovec **out,
                  size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (n > MAX_IOV)
        return -EMSGSIZE;
    if (!n)
        return 0;
    struct linux_iovec *iov = calloc(n, sizeof(*iov));
    if (!iov)
        return -ENOMEM;
    if (copy_in(t, iov, uiov, n * sizeof(*iov)) < 0) {
        free(iov);
        return -EFAULT;
    }
    size_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        if ((int64_t)iov[i].iov_len < 0) {
            free(iov);
            return -EINVAL;
        }
        total += iov[i].iov_len;
    }
    *out = iov;
    *out_len = total;
    return 0;
}

static void put_files(struct file **fds, int n)
{
    for (int i = 0; i < n; i++)
        file_put(fds[i]);
    free(fds);
}

/* Decodes the control messages of a send into M. */
static int control_in(struct task *t, uint64_t uctl, uint64_t len, struct sock_smsg *m)
{
    if (!uctl || !len)
        return 0;
    if (len > MAX_CONTROL)
        return -ENOBUFS;
    uint8_t *buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    int r = 0;
    if (copy_in(t, buf, uctl, len) < 0) {
        r = -EFAULT;
        goto out;
    }
    size_t off = 0;
    struct cmsg_item h;
    while ((r = cmsg_next(buf, len, &off, &h)) > 0) {
        size_t dlen = h.len;
        const uint8_t *d = h.data;
        if (h.level != LX_SOL_SOCKET) {
            r = -EINVAL;
            goto out;
        }
        if (h.type == LX_SCM_RIGHTS) {
            int n = (int)(dlen / sizeof(int32_t));
            if (n + m->nfds > SOCK_SCM_MAX_FD || n <= 0) {
                r = -EINVAL;
                goto out;
            }
            struct file **fds = realloc(m->fds, (size_t)(m->nfds + n) * sizeof(*fds));
            if (!fds) {
                r = -ENOMEM;
                goto out;
            }
            m->fds = fds;
            for (int i = 0; i < n; i++) {
                int32_t fd;
                memcpy(&fd, d + (size_t)i * 4, 4);
                struct file *f = fdtable_get_file(t->files, fd);
                if (!f) {
                    r = -EBADF;
                    goto out;
                }
                m->fds[m->nfds++] = f;
            }
        } else if (h.type == LX_SCM_CREDENTIALS) {
            struct sock_cred c;
            if (dlen < sizeof(c)) {
                r = -EINVAL;
                goto out;
            }
            memcpy(&c, d, sizeof(c));
            /* Linux's scm_check_creds: another pid needs CAP_SYS_ADMIN,
             * another uid CAP_SETUID, another gid CAP_SETGID. */
            const struct cred *tc = &t->cred;
            if ((c.pid != t->tg->pid && !task_capable(t, CAP_SYS_ADMIN)) ||
                (c.uid != tc->uid && c.uid != tc->euid && c.uid != tc->suid &&
                 !task_capable(t, CAP_SETUID)) ||
                (c.gid != tc->gid && c.gid != tc->egid && c.gid != tc->sgid &&
                 !task_capable(t, CAP_SETGID))) {
                r = -EPERM;
                goto out;
            }
            m->has_cred = true;
            m->cred = c;
        } else {
            r = -EINVAL;
            goto out;
        }
    }
out:
    free(buf);
    return r;
}

static ssize_t do_sendmsg(struct task *t, struct file *f, const struct linux_msghdr *h,
                          int flags)
{
    struct sock_smsg m;
    memset(&m, 0, sizeof(m));
    uint8_t addr[SOCK_ADDR_MAX];
    struct linux_iovec *iov;
    size_t total;
    int r = iov_in(t, h->iov, h->iovlen, &iov, &total);
    if (r < 0)
        return r;
    if (total > MAX_IO)
        total = MAX_IO;
    uint8_t *buf = malloc(total ? total : 1);
    uint8_t *ctl = NULL;
    ssize_t res;
    if (!buf) {
        res = -ENOMEM;
        goto out;
    }
    size_t off = 0;
    for (uint64_t i = 0; i < h->iovlen && off < total; i++) {
        size_t n = MIN((size_t)iov[i].iov_len, total - off);
        if (n && copy_in(t, buf + off, iov[i].iov_base, n) < 0) {
            res = -EFAULT;
            goto out;
        }
        off += n;
    }
    if (h->name && h->namelen) {
        r = addr_in(t, h->name, h->namelen, addr);
        if (r < 0) {
            res = r;
            goto out;
        }
        m.name = addr;
        m.namelen = h->namelen;
    }
    if (inet_is_socket(f)) {
        /* inet.c checks and rebuilds the messages itself. */
        if (h->controllen > MAX_CONTROL) {
            res = -ENOBUFS;
            goto out;
        }
        if (h->controllen) {
            ctl = malloc(h->controllen);
            if (!ctl) {
                res = -ENOMEM;
                goto out;
            }
            if (copy_in(t, ctl, h->control, h->controllen) < 0) {
                res = -EFAULT;
                goto out;
            }
            m.ctl = ctl;
            m.ctllen = h->controllen;
        }
    } else {
        r = control_in(t, h->control, h->controllen, &m);
        if (r < 0) {
            res = r;
            goto out;
        }
    }
    m.buf = buf;
    m.len = total;
    res = inet_is_socket(f)      ? inet_sendmsg(t, f, &m, flags)
          : netlink_is_socket(f) ? netlink_sendmsg(t, f, &m, flags)
                                 : sock_sendmsg(t, f, &m, flags);
out:
    put_files(m.fds, m.nfds);
    free(ctl);
    free(buf);
    free(iov);
    return res;
}

/* Writes the control messages of a receive; installs the files. Sets
 * LX_MSG_CTRUNC in *FLAGS if they did not fit; returns the length used. */
static int control_out(struct task *t, struct sock_rmsg *m, uint64_t uctl, uint64_t len,
                       int rflags, int *flags, uint64_t *out_len)
{
    size_t off = 0;
    *out_len = 0;
    if (m->has_cred) {
        size_t need = CMSG_HDR + sizeof(struct sock_cred);
        if (!uctl || len < need) {
            *flags |= LX_MSG_CTRUNC;
        } else {
            uint8_t b[CMSG_HDR + sizeof(struct sock_cred)];
            struct linux_cmsghdr h = {need, LX_SOL_SOCKET, LX_SCM_CREDENTIALS};
            memcpy(b, &h, sizeof(h));
            memcpy(b + CMSG_HDR, &m->cred, sizeof(m->cred));
            if (copy_out(t, uctl, b, need) < 0)
                return -EFAULT;
            off = MIN(CMSG_ALIGN8(need), (size_t)len);
        }
    }
    if (m->nfds) {
        size_t room = uctl && len > off + CMSG_HDR ? (len - off - CMSG_HDR) / 4 : 0;
        int n = (int)MIN(room, (size_t)m->nfds);
        if (n < m->nfds)
            *flags |= LX_MSG_CTRUNC;
        if (n > 0) {
            int32_t *fds = calloc((size_t)n, sizeof(*fds));
            if (!fds)
                return -ENOMEM;
            int got = 0;
            for (; got < n; got++) {
                int fd = fdtable_alloc(t->files, 0, nofile(t), m->fds[got],
                                       rflags & LX_MSG_CMSG_CLOEXEC);
                if (fd < 0) {
                    *flags |= LX_MSG_CTRUNC;
                    break;
                }
                fds[got] = fd;
            }
            if (got) {
                size_t clen = CMSG_HDR + (size_t)got * 4;
                struct linux_cmsghdr h = {clen, LX_SOL_SOCKET, LX_SCM_RIGHTS};
                if (copy_out(t, uctl + off, &h, sizeof(h)) < 0 ||
                    copy_out(t, uctl + off + CMSG_HDR, fds, (size_t)got * 4) < 0) {
                    free(fds);
                    return -EFAULT;
                }
                off += MIN(CMSG_ALIGN8(clen), (size_t)len - off);
            }
            free(fds);
        }
    }
    /* Other control messages (inet), as Linux's put_cmsg: a message whose
     * header does not fit is dropped, one whose data does not is cut to
     * the room left; either sets MSG_CTRUNC. */
    size_t in = 0;
    struct cmsg_item it;
    while (cmsg_next(m->ctl, m->ctllen, &in, &it) > 0) {
        size_t clen = CMSG_HDR + it.len;
        if (!uctl || len - off < CMSG_HDR) {
            *flags |= LX_MSG_CTRUNC;
            break;
        }
        if (len - off < clen) {
            *flags |= LX_MSG_CTRUNC;
            clen = len - off;
        }
        struct linux_cmsghdr h = {clen, it.level, it.type};
        if (copy_out(t, uctl + off, &h, sizeof(h)) < 0 ||
            (clen > CMSG_HDR && copy_out(t, uctl + off + CMSG_HDR, it.data, clen - CMSG_HDR) < 0))
            return -EFAULT;
        off += MIN(CMSG_ALIGN8(CMSG_HDR + it.len), (size_t)len - off);
    }
    *out_len = off;
    return 0;
}

/* recvmsg on H (kernel copy, updated: namelen, controllen, flags). */
static ssize_t do_recvmsg(struct task *t, struct file *f, struct linux_msghdr *h, int flags)
{
    struct linux_iovec *iov;
    size_t total;
    int r = iov_in(t, h->iov, h->iovlen, &iov, &total);
    if (r < 0)
        return r;
    if (total > MAX_IO)
        total = MAX_IO;
    struct sock_rmsg m;
    memset(&m, 0, sizeof(m));
    m.buf = malloc(total ? total : 1);
    m.len = total;
    m.want_ctl = true;
    ssize_t res;
    if (!m.buf) {
        res = -ENOMEM;
        goto out;
    }
    res = inet_is_socket(f)      ? inet_recvmsg(t, f, &m, flags)
          : netlink_is_socket(f) ? netlink_recvmsg(t, f, &m, flags)
                                 : sock_recvmsg(t, f, &m, flags);
    if (res < 0)
        goto out;
    size_t got = MIN((size_t)res, total);
    size_t off = 0;
    for (uint64_t i = 0; i < h->iovlen && off < got; i++) {
        size_t n = MIN((size_t)iov[i].iov_len, got - off);
        if (n && copy_out(t, iov[i].iov_base, (uint8_t *)m.buf + off, n) < 0) {
            res = -EFAULT;
            goto out;
        }
        off += n;
    }
    int oflags = m.flags;
    if (h->name && h->namelen) {
        uint32_t n = MIN(h->namelen, m.namelen);
        if (n && copy_out(t, h->name, m.name, n) < 0) {
            res = -EFAULT;
            goto out;
        }
    }
    h->namelen = m.namelen;
    uint64_t clen;
    r = control_out(t, &m, h->control, h->controllen, flags, &oflags, &clen);
    if (r < 0) {
        res = r;
        goto out;
    }
    h->controllen = clen;
    h->flags = oflags;
out:
    put_files(m.fds, m.nfds);
    free(m.buf);
    free(iov);
    return res;
}

static long sys_sendto(struct task *t, const struct sys_args *a)
{
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    struct linux_iovec iov = {a->arg[1], a->arg[2]};
    struct sock_smsg m;
    memset(&m, 0, sizeof(m));
    uint8_t addr[SOCK_ADDR_MAX];
    long r = 0;
    if (a->arg[4]) {
        r = addr_in(t, a->arg[4], a->arg[5], addr);
        if (r == 0) {
            m.name = addr;
            m.namelen = a->arg[5];
        }
    }
    size_t len = MIN((size_t)iov.iov_len, (size_t)MAX_IO);
    uint8_t *buf = r == 0 ? malloc(len ? len : 1) : NULL;
    if (r == 0 && !buf)
        r = -ENOMEM;
    if (r == 0 && len && copy_in(t, buf, iov.iov_base, len) < 0)
        r = -EFAULT;
    if (r == 0) {
        m.buf = buf;
        m.len = len;
        r = inet_is_socket(f)      ? inet_sendmsg(t, f, &m, (int)a->arg[3])
            : netlink_is_socket(f) ? netlink_sendmsg(t, f, &m, (int)a->arg[3])
                                   : sock_sendmsg(t, f, &m, (int)a->arg[3]);
    }
    free(buf);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(sendto, sys_sendto, "fbudpu", SYS_FULL, NULL);

static long sys_recvfrom(struct task *t, const struct sys_args *a)
{
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    size_t len = MIN((size_t)a->arg[2], (size_t)MAX_IO);
    struct sock_rmsg m;
    memset(&m, 0, sizeof(m));
    m.buf = malloc(len ? len : 1);
    m.len = len;
    long r = !m.buf                ? -ENOMEM
             : inet_is_socket(f)    ? inet_recvmsg(t, f, &m, (int)a->arg[3])
             : netlink_is_socket(f) ? netlink_recvmsg(t, f, &m, (int)a->arg[3])
                                    : sock_recvmsg(t, f, &m, (int)a->arg[3]);
    if (r > 0 && copy_out(t, a->arg[1], m.buf, MIN((size_t)r, len)) < 0)
        r = -EFAULT;
    if (r >= 0 && a->arg[4]) {
        int e = addr_out(t, a->arg[4], a->arg[5], m.name, m.namelen);
        if (e < 0)
            r = e;
    }
    put_files(m.fds, m.nfds);
    free(m.buf);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(recvfrom, sys_recvfrom, "fBudpp", SYS_FULL, NULL);

static long sys_sendmsg(struct task *t, const struct sys_args *a)
{
    struct linux_msghdr h;
    if (copy_in(t, &h, a->arg[1], sizeof(h)) < 0)
        return -EFAULT;
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    long r = do_sendmsg(t, f, &h, (int)a->arg[2]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(sendmsg, sys_sendmsg, "fpx", SYS_PARTIAL,
               "inet control messages: IP_PKTINFO, IP_TTL, IP_TOS, IPV6_PKTINFO, "
               "IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_DONTFRAG, UDP_SEGMENT, SO_PRIORITY; others "
               "EINVAL");

static int msghdr_out(struct task *t, uint64_t uh, const struct linux_msghdr *h)
{
    if (copy_out(t, uh + offsetof(struct linux_msghdr, namelen), &h->namelen, 4) < 0 ||
        copy_out(t, uh + offsetof(struct linux_msghdr, controllen), &h->controllen, 8) < 0 ||
        copy_out(t, uh + offsetof(struct linux_msghdr, flags), &h->flags, 4) < 0)
        return -EFAULT;
    return 0;
}

static long sys_recvmsg(struct task *t, const struct sys_args *a)
{
    struct linux_msghdr h;
    if (copy_in(t, &h, a->arg[1], sizeof(h)) < 0)
        return -EFAULT;
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    long r = do_recvmsg(t, f, &h, (int)a->arg[2]);
    file_put(f);
    if (r >= 0 && msghdr_out(t, a->arg[1], &h) < 0)
        r = -EFAULT;
    return r;
}
SYSCALL_DEFINE(recvmsg, sys_recvmsg, "fpx", SYS_FULL, NULL);

static long sys_sendmmsg(struct task *t, const struct sys_args *a)
{
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    unsigned vlen = (unsigned)MIN(a->arg[2], (uint64_t)1024);
    long done = 0, r = 0;
    for (unsigned i = 0; i < vlen; i++) {
        uint64_t uh = a->arg[1] + i * sizeof(struct linux_mmsghdr);
        struct linux_msghdr h;
        if (copy_in(t, &h, uh, sizeof(h)) < 0) {
            r = -EFAULT;
            break;
        }
        ssize_t n = do_sendmsg(t, f, &h, (int)a->arg[3]);
        if (n < 0) {
            r = n;
            break;
        }
        uint32_t len = (uint32_t)n;
        if (copy_out(t, uh + offsetof(struct linux_mmsghdr, len), &len, 4) < 0) {
            r = -EFAULT;
            break;
        }
        done++;
    }
    file_put(f);
    return done ? done : r;
}
SYSCALL_DEFINE(sendmmsg, sys_sendmmsg, "fpux", SYS_FULL, NULL);

static long sys_recvmmsg(struct task *t, const struct sys_args *a)
{
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    unsigned vlen = (unsigned)MIN(a->arg[2], (uint64_t)1024);
    int flags = (int)a->arg[3];
    long done = 0, r = 0;
    for (unsigned i = 0; i < vlen; i++) {
        uint64_t uh = a->arg[1] + i * sizeof(struct linux_mmsghdr);
        struct linux_msghdr h;
        if (copy_in(t, &h, uh, sizeof(h)) < 0) {
            r = -EFAULT;
            break;
        }
        /* After the first message, do not wait for more (MSG_WAITFORONE
         * semantics are the common use; a timeout is not supported). */
        ssize_t n = do_recvmsg(t, f, &h, done ? flags | LX_MSG_DONTWAIT : flags);
        if (n < 0) {
            r = n;
            break;
        }
        uint32_t len = (uint32_t)n;
        if (msghdr_out(t, uh, &h) < 0 ||
            copy_out(t, uh + offsetof(struct linux_mmsghdr, len), &len, 4) < 0) {
            r = -EFAULT;
            break;
        }
        done++;
    }
    file_put(f);
    return done ? done : r;
}
SYSCALL_DEFINE(recvmmsg, sys_recvmmsg, "fpuxp", SYS_PARTIAL,
               "the timeout is ignored; returns after the first message once more would block");

static long sys_getsockopt(struct task *t, const struct sys_args *a)
{
    int32_t ulen;
    if (copy_in(t, &ulen, a->arg[4], sizeof(ulen)) < 0)
        return -EFAULT;
    if (ulen < 0)
        return -EINVAL;
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    uint8_t val[INET_OPT_MAX];
    int r;
    uint32_t len;
    if (inet_is_socket(f)) {
        len = MIN((uint32_t)ulen, (uint32_t)INET_OPT_MAX);
        r = inet_getsockopt(f, (int)a->arg[1], (int)a->arg[2], val, &len);
    } else if (netlink_is_socket(f)) {
        len = MIN((uint32_t)ulen, 16u);
        r = netlink_getsockopt(f, (int)a->arg[1], (int)a->arg[2], val, &len);
    } else {
        len = MIN((uint32_t)ulen, 16u);
        r = sock_getsockopt(t, f, (int)a->arg[1], (int)a->arg[2], val, &len);
    }
    file_put(f);
    if (r < 0)
        return r;
    if (copy_out(t, a->arg[3], val, len) < 0 || copy_out(t, a->arg[4], &len, sizeof(len)) < 0)
        return -EFAULT;
    return 0;
}
SYSCALL_DEFINE(getsockopt, sys_getsockopt, "fddpp", SYS_PARTIAL,
               "AF_UNIX: SOL_SOCKET options; inet: an allow-list (SOL_SOCKET, TCP, IP, IPv6 "
               "basics, TCP_INFO), others ENOPROTOOPT");

static long sys_setsockopt(struct task *t, const struct sys_args *a)
{
    uint8_t val[INET_OPT_MAX] = {0};
    uint32_t len = (uint32_t)a->arg[4];
    if (len && copy_in(t, val, a->arg[3], MIN(len, (uint32_t)sizeof(val))) < 0)
        return -EFAULT;
    long err;
    struct file *f = get_sock(t, (int)a->arg[0], &err);
    if (!f)
        return err;
    int r = inet_is_socket(f) ? inet_setsockopt(f, (int)a->arg[1], (int)a->arg[2], val,
                                                MIN(len, (uint32_t)sizeof(val)))
            : netlink_is_socket(f)
                    ? netlink_setsockopt(f, (int)a->arg[1], (int)a->arg[2], val,
                                         MIN(len, (uint32_t)sizeof(val)))
                    : sock_setsockopt(f, (int)a->arg[1], (int)a->arg[2], val, len);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(setsockopt, sys_setsockopt, "fddpu", SYS_PARTIAL,
               "AF_UNIX: SOL_SOCKET options; inet: an allow-list of SOL_SOCKET, TCP, IP and "
               "IPv6 options (with the IP_RECV*, IPV6_RECV* and SO_TIMESTAMP* ancillary-data "
               "ones), others ENOPROTOOPT");
