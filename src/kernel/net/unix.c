/*
 * AF_UNIX sockets, entirely in the kernel (unix(7)): SOCK_STREAM,
 * SOCK_DGRAM and SOCK_SEQPACKET; filesystem names (a socket inode made in
 * the sandbox's VFS) and the abstract namespace (per sandbox); SCM_RIGHTS
 * and SCM_CREDENTIALS; SO_PEERCRED.
 *
 * A socket is an inode of "sockfs" (its memory) plus the open file on it
 * (its life: the file's release closes the socket). A connected pair holds
 * counted references on each other until either closes; a listener holds
 * its not yet accepted connections. Each message is a unix_skb on the
 * receiver's queue; stream reads may merge messages, datagram and seqpacket
 * reads never do. Flow control: a sender waits while the receiver has
 * rcvbuf bytes queued.
 *
 * Differences from Linux: file descriptors in flight are not garbage
 * collected (a socket sent over itself and then closed leaks); MSG_OOB is
 * not supported; a filesystem name is found by (st_dev, st_ino).
 *
 * Lock order: g_unix_lock (names) and each unix_sock->lock are never held
 * together, nor two socket locks at once, except a listener's lock while it
 * sets up a new, still private, connection. waitq locks nest inside.
 */
#include "kernel/net/netdev.h"
#include "kernel/net/sockaddr.h"
#include "kernel/net/socket.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/errno.h"
#include "abi/linux/types.h"
#include "kernel/mm/mm.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/list.h"
#include "lib/util.h"

#define UNIX_DEF_BUF    212992
#define UNIX_MIN_BUF    2048
#define UNIX_MAX_DGRAMS 512
#define UNIX_CHUNK      65536

enum unix_state { US_UNCONN, US_LISTEN, US_CONN, US_STATE_MAX };

struct unix_skb {
    struct list_head link;
    size_t len, off;
    struct file **fds;
    int nfds;
    struct sock_cred cred;
    struct unix_addr from;
    uint8_t data[];
};

struct unix_sock {
    struct inode base;
    pthread_mutex_t lock;
    int type;                   /* (c) */
    enum unix_state state;      /* (l) lock */
    bool dead;                  /* (l) closed */
    bool shut_rd, shut_wr;      /* (l) our shutdown(2) */
    bool peer_shut_rd;          /* (l) the peer will not read (closed or shut down) */
    bool peer_shut_wr;          /* (l) the peer will not write */
    struct unix_sock *peer;     /* (l) counted */
    struct list_head rcvq;      /* (l) of unix_skb */
    size_t rcv_bytes;           /* (l) */
    int rcv_count;              /* (l) */
    size_t rcvbuf, sndbuf;      /* (l) as SO_RCVBUF/SO_SNDBUF report them */
    struct list_head acceptq;   /* (l) listener: counted unix_sock.acc_link */
    struct list_head acc_link;  /* (l) of the listener */
    int nacc, backlog;          /* (l) */
    struct unix_addr addr;      /* (l) bound name */
    bool bound;                 /* (l) */
    bool registered;            /* (g) g_unix_lock: in g_names */
    struct list_head name_link; /* (g) */
    bool fsname;                /* (c after bind) a filesystem name: DEV/INO */
    uint64_t dev, ino;          /* (c after bind) */
    bool passcred;              /* (l) */
    struct sock_cred peercred;  /* (l) */
    bool has_peercred;          /* (l) */
    int err;                    /* (l) SO_ERROR */
    struct waitq wq;            /* readers, writers, accepters, pollers */
    struct list_head all;       /* (a) g_all_lock: on g_all while it has a file */
    bool listed;                /* (a) */
};

/* Sockets with a file, for /proc/net/unix. Lock order: g_all_lock is
 * taken alone, or before a socket's lock (walkers only try that lock). */
static pthread_mutex_t g_all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_all = LIST_HEAD_INIT(g_all); /* (a) */

static struct vfs_sb *g_sock_sb;
static pthread_once_t g_sock_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_unix_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_names = LIST_HEAD_INIT(g_names); /* (g) bound sockets */
static uint32_t g_autobind;                                /* (g) */
static const struct file_ops unix_fops;

static void sock_sb_init(void)
{
    g_sock_sb = vfs_sb_new("sockfs", true);
}

static struct unix_sock *U(struct file *f)
{
    return container_of(f->inode, struct unix_sock, base);
}

static void us_get(struct unix_sock *u)
{
    inode_get(&u->base);
}

static void us_put(struct unix_sock *u)
{
    if (u)
        inode_put(&u->base);
}

static void skb_free(struct unix_skb *s)
{
    for (int i = 0; i < s->nfds; i++)
        file_put(s->fds[i]);
    free(s->fds);
    free(s);
}

static void unix_evict(struct inode *inode)
{
    struct unix_sock *u = container_of(inode, struct unix_sock, base);
    struct unix_skb *s, *tmp;
    list_for_each_entry_safe(s, tmp, &u->rcvq, link)
        skb_free(s);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

static const struct inode_ops unix_iops = {
        .evict = unix_evict,
};

static struct unix_sock *us_new(int type)
{
    pthread_once(&g_sock_once, sock_sb_init);
    if (!g_sock_sb)
        return NULL;
    struct unix_sock *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    inode_init(&u->base, g_sock_sb, &unix_iops, VFS_S_IFSOCK | 0777);
    u->base.ino = vfs_sb_next_ino(g_sock_sb);
    pthread_mutex_init(&u->lock, NULL);
    u->type = type;
    list_init(&u->rcvq);
    list_init(&u->acceptq);
    list_init(&u->acc_link);
    list_init(&u->name_link);
    u->rcvbuf = u->sndbuf = UNIX_DEF_BUF;
    waitq_init(&u->wq);
    return u;
}

static struct sock_cred cred_of(struct task *t)
{
    struct sock_cred c = {t->tg->pid, t->cred.euid, t->cred.egid};
    return c;
}

static bool conn_oriented(const struct unix_sock *u)
{
    return u->type != LX_SOCK_DGRAM;
}

/* A file (count 1) for U (borrowed). */
static int us_file(struct unix_sock *u, unsigned flags, struct file **out)
{
    struct file *f = file_alloc(&u->base, NULL, O_RDWR | (flags & O_NONBLOCK));
    if (!f)
        return -ENOMEM;
    f->ops = &unix_fops;
    f->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    struct task *t = task_current();
    if (t) {
        u->base.uid = t->cred.fsuid;
        u->base.gid = t->cred.fsgid;
    }
    pthread_mutex_lock(&g_all_lock);
    if (!u->listed) {
        list_add_tail(&u->all, &g_all);
        u->listed = true;
    }
    pthread_mutex_unlock(&g_all_lock);
    *out = f;
    return 0;
}

bool sock_is_socket(struct file *f)
{
    return f->ops == &unix_fops;
}

static bool nonblocking(struct file *f, int flags)
{
    return (flags & LX_MSG_DONTWAIT) || (vfs_file_flags(f) & O_NONBLOCK);
}

/* Sleeps on WQ with U->lock held on entry and exit (SEQ read before the
 * condition). 0 or -ERESTARTSYS. */
static int us_wait(struct unix_sock *u, struct waitq *wq, uint32_t seq)
{
    struct task *t = task_current();
    struct waiter w;
    waitq_add(wq, &w, t);
    pthread_mutex_unlock(&u->lock);
    int r = task_sleep(t, seq, 0);
    waitq_del(wq, &w);
    pthread_mutex_lock(&u->lock);
    return r == -EINTR ? -ERESTARTSYS : 0;
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

/* ---- names ---- */

/* The bound socket with abstract name A or fs name DEV/INO, counted. */
static struct unix_sock *lookup_locked(const struct unix_addr *a, bool fs, uint64_t dev,
                                       uint64_t ino)
{
    struct unix_sock *u;
    list_for_each_entry(u, &g_names, name_link) {
        if (fs ? (u->fsname && u->dev == dev && u->ino == ino)
               : (!u->fsname && u->addr.len == a->len && !memcmp(u->addr.sa, a->sa, a->len))) {
            us_get(u);
            return u;
        }
    }
    return NULL;
}

/* Finds the socket named by ADDR for T: counted, or -errno. */
static int resolve(struct task *t, const void *addr, size_t len, struct unix_sock **out)
{
    struct unix_addr a;
    char path[SOCK_ADDR_MAX];
    bool fs;
    int r = sockaddr_un_decode(addr, len, &a, path, &fs);
    if (r < 0)
        return r;
    if (a.len == SUN_PATH_OFF)
        return -EINVAL;
    struct linux_stat st;
    if (fs) {
        r = vfs_statat(t, AT_FDCWD, path, 0, &st);
        if (r < 0)
            return r;
        if ((st.st_mode & VFS_S_IFMT) != VFS_S_IFSOCK)
            return -ECONNREFUSED;
        r = vfs_faccessat(t, AT_FDCWD, path, 2 /* W_OK */, 0);
        if (r < 0)
            return r;
    }
    pthread_mutex_lock(&g_unix_lock);
    struct unix_sock *u = lookup_locked(&a, fs, fs ? st.st_dev : 0, fs ? st.st_ino : 0);
    pthread_mutex_unlock(&g_unix_lock);
    if (!u)
        return -ECONNREFUSED;
    *out = u;
    return 0;
}

static void unregister(struct unix_sock *u)
{
    pthread_mutex_lock(&g_unix_lock);
    if (u->registered) {
        list_del(&u->name_link);
        u->registered = false;
    }
    pthread_mutex_unlock(&g_unix_lock);
}

int sock_bind(struct task *t, struct file *f, const void *addr, size_t len)
{
    struct unix_sock *u = U(f);
    struct unix_addr a;
    char path[SOCK_ADDR_MAX];
    bool fs;
    int r = sockaddr_un_decode(addr, len, &a, path, &fs);
    if (r < 0)
        return r;
    pthread_mutex_lock(&u->lock);
    bool bound = u->bound;
    pthread_mutex_unlock(&u->lock);
    if (bound)
        return -EINVAL;
    uint64_t dev = 0, ino = 0;
    if (fs) {
        uint32_t mode = VFS_S_IFSOCK | (0777 & ~vfs_umask(t));
        r = vfs_mknodat(t, AT_FDCWD, path, mode, 0);
        if (r == -EEXIST)
            return -EADDRINUSE;
        if (r < 0)
            return r;
        struct linux_stat st;
        r = vfs_statat(t, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, &st);
        if (r < 0)
            return r;
        dev = st.st_dev;
        ino = st.st_ino;
    }
    pthread_mutex_lock(&g_unix_lock);
    if (a.len == SUN_PATH_OFF) {
        /* Autobind: an abstract name of five hex digits. */
        for (int i = 0; i < 0x100000; i++) {
            memset(&a, 0, sizeof(a));
            a.sa[0] = LX_AF_UNIX;
            snprintf((char *)a.sa + 3, 6, "%05x", g_autobind++ & 0xfffff);
            a.len = SUN_PATH_OFF + 6;
            struct unix_sock *o = lookup_locked(&a, false, 0, 0);
            if (!o)
                break;
            us_put(o);
        }
    } else if (!fs) {
        struct unix_sock *o = lookup_locked(&a, false, 0, 0);
        if (o) {
            pthread_mutex_unlock(&g_unix_lock);
            us_put(o);
            return -EADDRINUSE;
        }
    }
    pthread_mutex_lock(&u->lock);
    if (u->bound) {
        pthread_mutex_unlock(&u->lock);
        pthread_mutex_unlock(&g_unix_lock);
        return -EINVAL;
    }
    u->bound = true;
    u->addr = a;
    u->fsname = fs;
    u->dev = dev;
    u->ino = ino;
    pthread_mutex_unlock(&u->lock);
    list_add_tail(&u->name_link, &g_names);
    u->registered = true;
    pthread_mutex_unlock(&g_unix_lock);
    return 0;
}

static int us_getname(struct unix_sock *u, bool peer, void *addr, uint32_t *addrlen)
{
    struct unix_sock *p = u;
    pthread_mutex_lock(&u->lock);
    if (peer) {
        p = u->peer;
        if (!p || (conn_oriented(u) && u->state != US_CONN)) {
            pthread_mutex_unlock(&u->lock);
            return -ENOTCONN;
        }
        us_get(p);
        pthread_mutex_unlock(&u->lock);
        pthread_mutex_lock(&p->lock);
    }
    uint8_t *o = addr;
    memset(o, 0, SOCK_ADDR_MAX);
    if (p->bound) {
        memcpy(o, p->addr.sa, p->addr.len);
        *addrlen = p->addr.len;
    } else {
        *addrlen = SUN_PATH_OFF;
    }
    o[0] = LX_AF_UNIX;
    o[1] = 0;
    pthread_mutex_unlock(&p->lock);
    if (p != u)
        us_put(p);
    return 0;
}

int sock_getname(struct file *f, bool peer, void *addr, uint32_t *addrlen)
{
    return us_getname(U(f), peer, addr, addrlen);
}

/* ---- creation and connection ---- */

int sock_create(int family, int type, int protocol, unsigned flags, struct file **out)
{
    if (family == LX_AF_INET || family == LX_AF_INET6)
        return -EAFNOSUPPORT; /* FIXME(issue 6): host-socket backend */
    if (family != LX_AF_UNIX)
        return -EAFNOSUPPORT;
    if (type != LX_SOCK_STREAM && type != LX_SOCK_DGRAM && type != LX_SOCK_SEQPACKET)
        return -ESOCKTNOSUPPORT;
    if (protocol != 0 && protocol != LX_AF_UNIX)
        return -EPROTONOSUPPORT;
    struct unix_sock *u = us_new(type);
    if (!u)
        return -ENOMEM;
    int r = us_file(u, flags, out);
    us_put(u);
    return r;
}

int sock_socketpair(int family, int type, int protocol, unsigned flags, struct file *out[2])
{
    if (family != LX_AF_UNIX)
        return family == LX_AF_INET || family == LX_AF_INET6 ? -EOPNOTSUPP : -EAFNOSUPPORT;
    if (type != LX_SOCK_STREAM && type != LX_SOCK_DGRAM && type != LX_SOCK_SEQPACKET)
        return -ESOCKTNOSUPPORT;
    if (protocol != 0 && protocol != LX_AF_UNIX)
        return -EPROTONOSUPPORT;
    struct unix_sock *a = us_new(type), *b = us_new(type);
    if (!a || !b) {
        us_put(a);
        us_put(b);
        return -ENOMEM;
    }
    struct sock_cred c = cred_of(task_current());
    a->peer = b;
    b->peer = a;
    us_get(a);
    us_get(b);
    a->state = b->state = US_CONN;
    a->peercred = b->peercred = c;
    a->has_peercred = b->has_peercred = true;
    int r = us_file(a, flags, &out[0]);
    if (r == 0) {
        r = us_file(b, flags, &out[1]);
        if (r < 0)
            file_put(out[0]);
    }
    us_put(a);
    us_put(b);
    return r;
}

int sock_listen(struct file *f, int backlog)
{
    struct unix_sock *u = U(f);
    if (!conn_oriented(u))
        return -EOPNOTSUPP;
    pthread_mutex_lock(&u->lock);
    int r = 0;
    if (!u->bound || u->state == US_CONN) {
        r = -EINVAL;
    } else {
        if (backlog < 0 || backlog > 4096)
            backlog = 4096;
        u->backlog = backlog;
        if (u->state != US_LISTEN) {
            u->state = US_LISTEN;
            u->peercred = cred_of(task_current());
            u->has_peercred = true;
        }
    }
    pthread_mutex_unlock(&u->lock);
    waitq_wake_all(&u->wq);
    return r;
}

static int connect_stream(struct task *t, struct file *f, struct unix_sock *u,
                          struct unix_sock *l)
{
    pthread_mutex_lock(&u->lock);
    int r = 0;
    if (u->state == US_CONN)
        r = -EISCONN;
    else if (u->state == US_LISTEN)
        r = -EINVAL;
    pthread_mutex_unlock(&u->lock);
    if (r < 0)
        return r;
    if (l->type != u->type)
        return -ECONNREFUSED;
    struct unix_sock *s = us_new(u->type);
    if (!s)
        return -ENOMEM;
    struct sock_cred lcred;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        if (l->state != US_LISTEN || l->dead) {
            r = -ECONNREFUSED;
            break;
        }
        if (l->nacc <= l->backlog)
            break;
        if (nonblocking(f, 0)) {
            r = -EAGAIN;
            break;
        }
        r = us_wait(l, &l->wq, task_wake_seq(t));
        if (r < 0)
            break;
    }
    if (r < 0) {
        pthread_mutex_unlock(&l->lock);
        us_put(s);
        return r;
    }
    /* S is private until it is on the queue. */
    s->state = US_CONN;
    s->peer = u;
    us_get(u);
    s->peercred = cred_of(t);
    s->has_peercred = true;
    s->bound = l->bound;
    s->addr = l->addr;
    s->passcred = l->passcred;
    lcred = l->peercred;
    list_add_tail(&s->acc_link, &l->acceptq); /* the queue keeps our reference */
    l->nacc++;
    pthread_mutex_lock(&u->lock);
    u->peer = s;
    us_get(s);
    u->state = US_CONN;
    u->peercred = lcred;
    u->has_peercred = true;
    pthread_mutex_unlock(&u->lock);
    pthread_mutex_unlock(&l->lock);
    waitq_wake_key(&l->wq, LPOLLIN | LPOLLRDNORM);
    waitq_wake_key(&u->wq, LPOLLOUT | LPOLLWRNORM);
    return 0;
}

int sock_connect(struct task *t, struct file *f, const void *addr, size_t len)
{
    struct unix_sock *u = U(f);
    if (len >= SUN_PATH_OFF && !conn_oriented(u)) {
        const uint8_t *a = addr;
        if ((a[0] | (a[1] << 8)) == 0 /* AF_UNSPEC: dissolve */) {
            pthread_mutex_lock(&u->lock);
            struct unix_sock *old = u->peer;
            u->peer = NULL;
            pthread_mutex_unlock(&u->lock);
            us_put(old);
            return 0;
        }
    }
    struct unix_sock *l;
    int r = resolve(t, addr, len, &l);
    if (r < 0)
        return r;
    if (conn_oriented(u)) {
        r = connect_stream(t, f, u, l);
        us_put(l);
        return r;
    }
    if (l->type != LX_SOCK_DGRAM) {
        us_put(l);
        return -EPROTOTYPE;
    }
    pthread_mutex_lock(&u->lock);
    struct unix_sock *old = u->peer;
    u->peer = l;
    u->state = US_CONN;
    pthread_mutex_unlock(&u->lock);
    us_put(old);
    return 0;
}

int sock_accept(struct task *t, struct file *f, unsigned flags, struct file **out, void *addr,
                uint32_t *addrlen)
{
    struct unix_sock *l = U(f);
    if (!conn_oriented(l))
        return -EOPNOTSUPP;
    pthread_mutex_lock(&l->lock);
    int r = 0;
    while (!r) {
        if (l->state != US_LISTEN) {
            r = -EINVAL;
            break;
        }
        if (!list_empty(&l->acceptq))
            break;
        if (nonblocking(f, 0)) {
            r = -EAGAIN;
            break;
        }
        r = us_wait(l, &l->wq, task_wake_seq(t));
    }
    if (r < 0) {
        pthread_mutex_unlock(&l->lock);
        return r;
    }
    struct unix_sock *s = list_first_entry(&l->acceptq, struct unix_sock, acc_link);
    list_del(&s->acc_link);
    l->nacc--;
    pthread_mutex_unlock(&l->lock);
    waitq_wake_key(&l->wq, LPOLLOUT);
    r = us_file(s, flags, out);
    if (r == 0 && addr) {
        us_getname(s, true, addr, addrlen);
    }
    if (r < 0) {
        /* Put it back: the connection stays pending. */
        pthread_mutex_lock(&l->lock);
        list_add(&s->acc_link, &l->acceptq);
        l->nacc++;
        pthread_mutex_unlock(&l->lock);
        return r;
    }
    us_put(s);
    return 0;
}

/* ---- closing ---- */

static void us_close(struct unix_sock *u)
{
    unregister(u);
    struct list_head q, acc;
    list_init(&q);
    list_init(&acc);
    pthread_mutex_lock(&u->lock);
    u->dead = true;
    u->shut_rd = u->shut_wr = true;
    struct unix_sock *p = u->peer;
    u->peer = NULL;
    while (!list_empty(&u->rcvq)) {
        struct list_head *e = u->rcvq.next;
        list_del(e);
        list_add_tail(e, &q);
    }
    u->rcv_bytes = 0;
    u->rcv_count = 0;
    while (!list_empty(&u->acceptq)) {
        struct list_head *e = u->acceptq.next;
        list_del(e);
        list_add_tail(e, &acc);
    }
    u->nacc = 0;
    u->state = US_UNCONN;
    pthread_mutex_unlock(&u->lock);
    waitq_wake_all(&u->wq);
    if (p) {
        struct unix_sock *back = NULL;
        pthread_mutex_lock(&p->lock);
        if (p->peer == u) {
            if (conn_oriented(p)) {
                p->peer_shut_rd = p->peer_shut_wr = true;
                back = p->peer;
                p->peer = NULL;
            } else {
                /* A datagram peer's sends now fail with ECONNREFUSED. */
                p->err = ECONNREFUSED;
            }
        }
        pthread_mutex_unlock(&p->lock);
        waitq_wake_all(&p->wq);
        us_put(back);
        us_put(p);
    }
    struct unix_skb *s, *tmp;
    list_for_each_entry_safe(s, tmp, &q, link)
        skb_free(s);
    struct unix_sock *e, *etmp;
    list_for_each_entry_safe(e, etmp, &acc, acc_link) {
        list_del(&e->acc_link);
        us_close(e);
        us_put(e);
    }
}

static void unix_release(struct file *f)
{
    struct unix_sock *u = U(f);
    pthread_mutex_lock(&g_all_lock);
    if (u->listed) {
        list_del(&u->all);
        u->listed = false;
    }
    pthread_mutex_unlock(&g_all_lock);
    us_close(u);
}

void unix_for_each(void (*fn)(const struct sock_info *si, void *arg), void *arg)
{
    /* A socket's lock may be held by a thread that waits for g_all_lock
     * (closing its file): take it only with trylock, and start over. */
    for (int tries = 0;; tries++) {
        pthread_mutex_lock(&g_all_lock);
        size_t n = 0, i = 0;
        struct unix_sock *u;
        list_for_each_entry(u, &g_all, all)
            n++;
        struct sock_info *si = calloc(n ? n : 1, sizeof(*si));
        bool busy = false;
        list_for_each_entry(u, &g_all, all) {
            if (!si)
                break;
            if (pthread_mutex_trylock(&u->lock) != 0) {
                busy = true;
                break;
            }
            struct sock_info *o = &si[i++];
            o->family = LX_AF_UNIX;
            o->type = u->type;
            o->listening = u->state == US_LISTEN;
            o->state = u->state == US_CONN ? 3 : 1;
            o->uid = u->base.uid;
            o->ino = u->base.ino;
            o->refs = (int)__atomic_load_n(&u->base.ref.v, __ATOMIC_RELAXED);
            if (u->bound && u->addr.len > SUN_PATH_OFF) {
                o->pathlen = u->addr.len - SUN_PATH_OFF;
                memcpy(o->path, u->addr.sa + SUN_PATH_OFF, o->pathlen);
            }
            pthread_mutex_unlock(&u->lock);
        }
        pthread_mutex_unlock(&g_all_lock);
        if (busy && tries < 100) {
            free(si);
            sched_yield();
            continue;
        }
        for (size_t k = 0; si && k < i; k++)
            fn(&si[k], arg);
        free(si);
        return;
    }
}

/* ---- data ---- */

static struct unix_skb *skb_new(struct task *t, const struct sock_smsg *m, const void *buf,
                                size_t len, bool first, struct unix_sock *from)
{
    struct unix_skb *s = malloc(sizeof(*s) + len);
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    memcpy(s->data, buf, len);
    s->len = len;
    s->cred = m->has_cred ? m->cred : cred_of(t);
    if (first && m->nfds) {
        s->fds = calloc((size_t)m->nfds, sizeof(*s->fds));
        if (!s->fds) {
            free(s);
            return NULL;
        }
        for (int i = 0; i < m->nfds; i++) {
            file_get(m->fds[i]);
            s->fds[i] = m->fds[i];
        }
        s->nfds = m->nfds;
    }
    pthread_mutex_lock(&from->lock);
    if (from->bound)
        s->from = from->addr;
    pthread_mutex_unlock(&from->lock);
    return s;
}

/* Whether peer P (locked) takes no CHUNK now. A seqpacket record must fit
 * (a record bigger than the buffer goes into an empty queue). A stream
 * takes a chunk while its queue is below the buffer size, overshooting it
 * by up to one chunk, as Linux's allocation against sk_sndbuf does: so a
 * non-blocking send that poll calls writable sends (part of) its data
 * instead of failing with EAGAIN. */
static bool stream_full(const struct unix_sock *p, size_t chunk, bool seq)
{
    if (seq)
        return p->rcv_bytes && p->rcv_bytes + chunk > p->rcvbuf;
    return p->rcv_bytes >= p->rcvbuf;
}

static ssize_t send_stream(struct task *t, struct file *f, struct unix_sock *u,
                           const struct sock_smsg *m, int flags)
{
    pthread_mutex_lock(&u->lock);
    struct unix_sock *p = u->peer;
    int r = 0;
    if (u->shut_wr || (u->state == US_CONN && !p))
        r = -EPIPE;
    else if (u->state != US_CONN)
        r = -ENOTCONN;
    else
        us_get(p);
    pthread_mutex_unlock(&u->lock);
    if (r == -EPIPE && !(flags & LX_MSG_NOSIGNAL))
        raise_sigpipe(t);
    if (r < 0)
        return r;
    bool seq = u->type == LX_SOCK_SEQPACKET;
    if (seq && m->len > u->sndbuf) {
        us_put(p);
        return -EMSGSIZE;
    }
    size_t done = 0;
    bool first = true;
    while (first || done < m->len) {
        size_t chunk = seq ? m->len : MIN(m->len - done, (size_t)UNIX_CHUNK);
        uint32_t wseq = task_wake_seq(t);
        pthread_mutex_lock(&p->lock);
        if (p->dead || p->shut_rd) {
            pthread_mutex_unlock(&p->lock);
            r = -EPIPE;
            break;
        }
        if (stream_full(p, chunk, seq)) {
            pthread_mutex_unlock(&p->lock);
            if (nonblocking(f, flags)) {
                r = -EAGAIN;
                break;
            }
            /* The reader wakes its peer (us) when it takes data. */
            struct waiter w;
            waitq_add(&u->wq, &w, t);
            pthread_mutex_lock(&p->lock);
            bool full = stream_full(p, chunk, seq) && !p->dead && !p->shut_rd;
            pthread_mutex_unlock(&p->lock);
            int sr = full ? task_sleep(t, wseq, 0) : 0;
            waitq_del(&u->wq, &w);
            if (sr == -EINTR) {
                r = -ERESTARTSYS;
                break;
            }
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        struct unix_skb *s = skb_new(t, m, (const uint8_t *)m->buf + done, chunk, first, u);
        if (!s) {
            r = -ENOMEM;
            break;
        }
        pthread_mutex_lock(&p->lock);
        if (p->dead || p->shut_rd) {
            pthread_mutex_unlock(&p->lock);
            skb_free(s);
            r = -EPIPE;
            break;
        }
        list_add_tail(&s->link, &p->rcvq);
        p->rcv_bytes += chunk;
        p->rcv_count++;
        pthread_mutex_unlock(&p->lock);
        waitq_wake_key(&p->wq, LPOLLIN | LPOLLRDNORM);
        done += chunk;
        first = false;
    }
    us_put(p);
    if (done)
        return (ssize_t)done;
    if (r == -EPIPE && !(flags & LX_MSG_NOSIGNAL))
        raise_sigpipe(t);
    return r;
}

static ssize_t send_dgram(struct task *t, struct file *f, struct unix_sock *u,
                          const struct sock_smsg *m, int flags)
{
    struct unix_sock *p;
    int r = 0;
    if (m->name) {
        r = resolve(t, m->name, m->namelen, &p);
        if (r < 0)
            return r;
    } else {
        pthread_mutex_lock(&u->lock);
        p = u->peer;
        if (p)
            us_get(p);
        int err = u->err;
        pthread_mutex_unlock(&u->lock);
        if (!p)
            return err ? -err : -ENOTCONN;
    }
    if (p->type != LX_SOCK_DGRAM) {
        us_put(p);
        return -EPROTOTYPE;
    }
    if (m->len > u->sndbuf) {
        us_put(p);
        return -EMSGSIZE;
    }
    struct unix_skb *s = skb_new(t, m, m->buf, m->len, true, u);
    if (!s) {
        us_put(p);
        return -ENOMEM;
    }
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->dead) {
            r = -ECONNREFUSED;
            break;
        }
        if (p->peer && p->peer != u) {
            r = -EPERM;
            break;
        }
        if (p->shut_rd) {
            r = -EPIPE;
            break;
        }
        if (p->rcv_count < UNIX_MAX_DGRAMS &&
            (p->rcv_bytes == 0 || p->rcv_bytes + m->len <= p->rcvbuf))
            break;
        if (nonblocking(f, flags)) {
            r = -EAGAIN;
            break;
        }
        r = us_wait(p, &p->wq, task_wake_seq(t));
        if (r < 0)
            break;
    }
    if (r == 0) {
        list_add_tail(&s->link, &p->rcvq);
        p->rcv_bytes += m->len;
        p->rcv_count++;
    }
    pthread_mutex_unlock(&p->lock);
    if (r == 0)
        waitq_wake_key(&p->wq, LPOLLIN | LPOLLRDNORM);
    else
        skb_free(s);
    us_put(p);
    if (r == -EPIPE && !(flags & LX_MSG_NOSIGNAL))
        raise_sigpipe(t);
    return r < 0 ? r : (ssize_t)m->len;
}

ssize_t sock_sendmsg(struct task *t, struct file *f, const struct sock_smsg *m, int flags)
{
    struct unix_sock *u = U(f);
    if (flags & LX_MSG_OOB)
        return -EOPNOTSUPP;
    if (m->name && conn_oriented(u)) {
        pthread_mutex_lock(&u->lock);
        bool conn = u->state == US_CONN;
        pthread_mutex_unlock(&u->lock);
        if (!conn)
            return -EOPNOTSUPP;
        /* A connected stream socket ignores the address, as Linux. */
    }
    if (conn_oriented(u))
        return send_stream(t, f, u, m, flags);
    return send_dgram(t, f, u, m, flags);
}

/* Moves the files and credentials of S into M (once per message). */
static void take_control(struct unix_sock *u, struct unix_skb *s, struct sock_rmsg *m, bool peek)
{
    if (u->passcred && !m->has_cred) {
        m->has_cred = true;
        m->cred = s->cred;
    }
    if (!s->nfds || m->fds)
        return;
    if (peek) {
        m->fds = calloc((size_t)s->nfds, sizeof(*m->fds));
        if (!m->fds)
            return;
        for (int i = 0; i < s->nfds; i++) {
            file_get(s->fds[i]);
            m->fds[i] = s->fds[i];
        }
    } else {
        m->fds = s->fds;
        s->fds = NULL;
    }
    m->nfds = s->nfds;
    if (!peek)
        s->nfds = 0;
}

ssize_t sock_recvmsg(struct task *t, struct file *f, struct sock_rmsg *m, int flags)
{
    struct unix_sock *u = U(f);
    bool peek = flags & LX_MSG_PEEK;
    if (flags & LX_MSG_OOB)
        return -EOPNOTSUPP;
    m->namelen = 0;
    m->nfds = 0;
    m->fds = NULL;
    m->has_cred = false;
    m->flags = 0;
    size_t done = 0;
    ssize_t r = 0;
    pthread_mutex_lock(&u->lock);
    for (;;) {
        if (list_empty(&u->rcvq)) {
            if (done && !(flags & LX_MSG_WAITALL))
                break;
            if (u->shut_rd || u->peer_shut_wr || (u->dead))
                break;
            if (conn_oriented(u) && u->state != US_CONN) {
                r = u->state == US_LISTEN || !done ? -EINVAL : 0;
                break;
            }
            if (nonblocking(f, flags)) {
                r = -EAGAIN;
                break;
            }
            r = us_wait(u, &u->wq, task_wake_seq(t));
            if (r < 0)
                break;
            continue;
        }
        struct unix_skb *s = list_first_entry(&u->rcvq, struct unix_skb, link);
        if (!done && s->from.len) {
            memcpy(m->name, s->from.sa, s->from.len);
            m->namelen = s->from.len;
        }
        if (u->type != LX_SOCK_STREAM) {
            size_t n = MIN(m->len, s->len);
            memcpy(m->buf, s->data, n);
            take_control(u, s, m, peek);
            done = n;
            if (s->len > m->len)
                m->flags |= LX_MSG_TRUNC;
            r = (flags & LX_MSG_TRUNC) ? (ssize_t)s->len : (ssize_t)n;
            if (!peek) {
                list_del(&s->link);
                u->rcv_bytes -= s->len;
                u->rcv_count--;
                skb_free(s);
            }
            pthread_mutex_unlock(&u->lock);
            goto out_woken;
        }
        /* Stream: merge messages, but stop after one that carried files. */
        struct list_head *pos = &s->link;
        bool stop = false;
        while (pos != &u->rcvq && done < m->len && !stop) {
            struct unix_skb *c = list_entry(pos, struct unix_skb, link);
            struct list_head *next = pos->next;
            if (done && c->nfds)
                break;
            size_t n = MIN(m->len - done, c->len - c->off);
            memcpy((uint8_t *)m->buf + done, c->data + c->off, n);
            done += n;
            bool had_fds = c->nfds > 0;
            take_control(u, c, m, peek);
            stop = had_fds;
            if (!peek) {
                c->off += n;
                u->rcv_bytes -= n;
                if (c->off == c->len) {
                    list_del(&c->link);
                    u->rcv_count--;
                    skb_free(c);
                }
            }
            pos = next;
        }
        if (peek || stop || done == m->len || !(flags & LX_MSG_WAITALL))
            break;
    }
    if (r >= 0)
        r = (ssize_t)done;
    else if (done)
        r = (ssize_t)done;
    struct unix_sock *p = NULL;
    if (!peek && done && u->peer) {
        p = u->peer;
        us_get(p);
    }
    pthread_mutex_unlock(&u->lock);
    if (p) {
        waitq_wake_key(&p->wq, LPOLLOUT | LPOLLWRNORM);
        us_put(p);
    }
out_woken:
    if (!peek && done)
        waitq_wake_key(&u->wq, LPOLLOUT | LPOLLWRNORM);
    return r;
}

int sock_shutdown(struct file *f, int how)
{
    struct unix_sock *u = U(f);
    if (how < 0 || how > 2)
        return -EINVAL;
    bool rd = how == 0 || how == 2, wr = how == 1 || how == 2;
    pthread_mutex_lock(&u->lock);
    if (conn_oriented(u) && u->state != US_CONN) {
        pthread_mutex_unlock(&u->lock);
        return -ENOTCONN;
    }
    if (rd)
        u->shut_rd = true;
    if (wr)
        u->shut_wr = true;
    struct unix_sock *p = conn_oriented(u) ? u->peer : NULL;
    if (p)
        us_get(p);
    pthread_mutex_unlock(&u->lock);
    waitq_wake_all(&u->wq);
    if (p) {
        pthread_mutex_lock(&p->lock);
        if (rd)
            p->peer_shut_rd = true;
        if (wr)
            p->peer_shut_wr = true;
        pthread_mutex_unlock(&p->lock);
        waitq_wake_all(&p->wq);
        us_put(p);
    }
    return 0;
}

/* ---- readiness, file I/O ---- */

static unsigned unix_poll(struct file *f, struct poll_table *pt)
{
    struct unix_sock *u = U(f);
    poll_wait(pt, &u->wq);
    unsigned mask = 0;
    pthread_mutex_lock(&u->lock);
    if (u->err)
        mask |= LPOLLERR;
    bool rcv_shut = u->shut_rd || u->peer_shut_wr;
    bool snd_shut = u->shut_wr || u->peer_shut_rd;
    if (rcv_shut)
        mask |= LPOLLRDHUP | LPOLLIN | LPOLLRDNORM;
    if (rcv_shut && snd_shut)
        mask |= LPOLLHUP;
    if (!list_empty(&u->rcvq))
        mask |= LPOLLIN | LPOLLRDNORM;
    if (u->state == US_LISTEN) {
        if (!list_empty(&u->acceptq))
            mask |= LPOLLIN | LPOLLRDNORM;
        pthread_mutex_unlock(&u->lock);
        return mask;
    }
    if (conn_oriented(u) && u->state != US_CONN)
        mask |= LPOLLHUP;
    struct unix_sock *p = u->peer;
    bool writable = true;
    if (p && conn_oriented(u)) {
        /* Read without the peer's lock: a hint, re-checked by write. */
        size_t queued = __atomic_load_n(&p->rcv_bytes, __ATOMIC_RELAXED);
        writable = queued < p->rcvbuf;
    }
    pthread_mutex_unlock(&u->lock);
    if (writable && (u->state == US_CONN || !conn_oriented(u)))
        mask |= LPOLLOUT | LPOLLWRNORM;
    else if (snd_shut)
        mask |= LPOLLOUT | LPOLLWRNORM;
    return mask;
}

static ssize_t unix_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct sock_rmsg m = {.buf = buf, .len = n};
    ssize_t r = sock_recvmsg(task_current(), f, &m, 0);
    for (int i = 0; i < m.nfds; i++)
        file_put(m.fds[i]);
    free(m.fds);
    return r;
}

static ssize_t unix_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct sock_smsg m = {.buf = buf, .len = n};
    return sock_sendmsg(task_current(), f, &m, 0);
}

#define FIONREAD_CMD 0x541B

static long unix_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg)
{
    struct unix_sock *u = U(f);
    if (netdev_is_ioctl(cmd))
        return netdev_ioctl(t, false, cmd, arg);
    if (cmd != FIONREAD_CMD)
        return -ENOTTY;
    pthread_mutex_lock(&u->lock);
    int32_t n = 0;
    if (u->type == LX_SOCK_STREAM) {
        n = (int32_t)u->rcv_bytes;
    } else if (!list_empty(&u->rcvq)) {
        n = (int32_t)list_first_entry(&u->rcvq, struct unix_skb, link)->len;
    }
    pthread_mutex_unlock(&u->lock);
    return mm_copy_out(t->mm, arg, &n, sizeof(n));
}

static int unix_dname(struct file *f, char *buf, size_t size)
{
    int n = snprintf(buf, size, "socket:[%llu]", (unsigned long long)f->inode->ino);
    return n < (int)size ? n : -ENAMETOOLONG;
}

static const struct file_ops unix_fops = {
        .read = unix_read,
        .write = unix_write,
        .poll = unix_poll,
        .ioctl = unix_ioctl,
        .dname = unix_dname,
        .release = unix_release,
};

/* ---- options ---- */

#define LX_SOL_SOCKET    1
#define LX_SO_REUSEADDR  2
#define LX_SO_TYPE       3
#define LX_SO_ERROR      4
#define LX_SO_BROADCAST  6
#define LX_SO_SNDBUF     7
#define LX_SO_RCVBUF     8
#define LX_SO_KEEPALIVE  9
#define LX_SO_LINGER     13
#define LX_SO_PASSCRED   16
#define LX_SO_PEERCRED   17
#define LX_SO_RCVLOWAT   18
#define LX_SO_SNDLOWAT   19
#define LX_SO_RCVTIMEO   20
#define LX_SO_SNDTIMEO   21
#define LX_SO_ACCEPTCONN 30
#define LX_SO_SNDBUFFORCE 32
#define LX_SO_RCVBUFFORCE 33
#define LX_SO_PROTOCOL   38
#define LX_SO_DOMAIN     39

int sock_getsockopt(struct task *t, struct file *f, int level, int name, void *val,
                    uint32_t *len)
{
    struct unix_sock *u = U(f);
    (void)t;
    if (level != LX_SOL_SOCKET)
        return -EOPNOTSUPP;
    int32_t v = 0;
    pthread_mutex_lock(&u->lock);
    switch (name) {
    case LX_SO_TYPE:
        v = u->type;
        break;
    case LX_SO_ERROR:
        v = u->err;
        u->err = 0;
        break;
    case LX_SO_SNDBUF:
        v = (int32_t)u->sndbuf;
        break;
    case LX_SO_RCVBUF:
        v = (int32_t)u->rcvbuf;
        break;
    case LX_SO_PASSCRED:
        v = u->passcred;
        break;
    case LX_SO_ACCEPTCONN:
        v = u->state == US_LISTEN;
        break;
    case LX_SO_PROTOCOL:
        v = 0;
        break;
    case LX_SO_DOMAIN:
        v = LX_AF_UNIX;
        break;
    case LX_SO_REUSEADDR:
    case LX_SO_KEEPALIVE:
    case LX_SO_BROADCAST:
        v = 0;
        break;
    case LX_SO_RCVLOWAT:
    case LX_SO_SNDLOWAT:
        v = 1;
        break;
    case LX_SO_PEERCRED: {
        struct sock_cred c = {0, (uint32_t)-1, (uint32_t)-1};
        if (u->has_peercred)
            c = u->peercred;
        pthread_mutex_unlock(&u->lock);
        uint32_t n = MIN(*len, (uint32_t)sizeof(c));
        memcpy(val, &c, n);
        *len = n;
        return 0;
    }
    default:
        pthread_mutex_unlock(&u->lock);
        return -ENOPROTOOPT;
    }
    pthread_mutex_unlock(&u->lock);
    uint32_t n = MIN(*len, (uint32_t)sizeof(v));
    memcpy(val, &v, n);
    *len = n;
    return 0;
}

int sock_setsockopt(struct file *f, int level, int name, const void *val, uint32_t len)
{
    struct unix_sock *u = U(f);
    if (level != LX_SOL_SOCKET)
        return -EOPNOTSUPP;
    int32_t v = 0;
    if (len < sizeof(v) && name != LX_SO_LINGER)
        return -EINVAL;
    memcpy(&v, val, MIN(len, (uint32_t)sizeof(v)));
    pthread_mutex_lock(&u->lock);
    int r = 0;
    switch (name) {
    case LX_SO_SNDBUF:
    case LX_SO_SNDBUFFORCE:
        u->sndbuf = MAX((size_t)(v < 0 ? 0 : v) * 2, (size_t)UNIX_MIN_BUF * 2 + 512);
        break;
    case LX_SO_RCVBUF:
    case LX_SO_RCVBUFFORCE:
        u->rcvbuf = MAX((size_t)(v < 0 ? 0 : v) * 2, (size_t)UNIX_MIN_BUF + 256);
        break;
    case LX_SO_PASSCRED:
        u->passcred = v != 0;
        break;
    case LX_SO_REUSEADDR:
    case LX_SO_KEEPALIVE:
    case LX_SO_BROADCAST:
    case LX_SO_LINGER:
    case LX_SO_RCVLOWAT:
    case LX_SO_RCVTIMEO:
    case LX_SO_SNDTIMEO:
        break; /* accepted, no effect on a unix socket here */
    default:
        r = -ENOPROTOOPT;
    }
    pthread_mutex_unlock(&u->lock);
    return r;
}
