/*
 * Sockets: what the socket syscalls (sys_socket.c) call. AF_UNIX lives
 * entirely in the kernel (unix.c). AF_INET/AF_INET6 are planned as a
 * host-socket backend (issue 6, second half) and return -EAFNOSUPPORT.
 *
 * Messages cross this interface in kernel buffers: sys_socket.c gathers
 * iovecs and decodes control messages, then scatters the result back.
 */
#ifndef MOAT_KERNEL_NET_SOCKET_H
#define MOAT_KERNEL_NET_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct file;
struct task;

#define LX_AF_UNIX  1
#define LX_AF_INET  2
#define LX_AF_INET6 10

#define LX_SOCK_STREAM    1
#define LX_SOCK_DGRAM     2
#define LX_SOCK_SEQPACKET 5

#define LX_MSG_OOB          0x1
#define LX_MSG_PEEK         0x2
#define LX_MSG_CTRUNC       0x8
#define LX_MSG_TRUNC        0x20
#define LX_MSG_DONTWAIT     0x40
#define LX_MSG_EOR          0x80
#define LX_MSG_WAITALL      0x100
#define LX_MSG_NOSIGNAL     0x4000
#define LX_MSG_CMSG_CLOEXEC 0x40000000

#define SOCK_SCM_MAX_FD 253
#define SOCK_ADDR_MAX   110 /* sizeof(struct sockaddr_un) */

struct sock_cred {
    int32_t pid;
    uint32_t uid, gid;
};

/* A message to send. Files in FDS are borrowed (the socket takes its own
 * references). NAME: the destination (NULL: the connected peer). */
struct sock_smsg {
    const void *buf;
    size_t len;
    const void *name;
    size_t namelen;
    struct file **fds;
    int nfds;
    bool has_cred;
    struct sock_cred cred;
    /* inet: the app's control buffer as given (a kernel copy), which
     * inet.c validates and rebuilds for the host. */
    const uint8_t *ctl;
    size_t ctllen;
};

#define SOCK_CTL_MAX 512

/* A received message: BUF/LEN in; the rest out. FDS: new references the
 * caller installs (or puts), malloc'd array. */
struct sock_rmsg {
    void *buf;
    size_t len;
    uint8_t name[SOCK_ADDR_MAX];
    uint32_t namelen;
    struct file **fds;
    int nfds;
    bool has_cred;
    struct sock_cred cred;
    int flags; /* LX_MSG_TRUNC for a cut message */
    /* inet: WANT_CTL in (the app passed a msghdr); out, the message's
     * control messages in Linux's layout, each padded to 8 bytes (CTLLEN
     * bytes), for the caller to copy out with Linux's truncation rules. */
    bool want_ctl;
    uint32_t ctllen;
    uint8_t ctl[SOCK_CTL_MAX] __attribute__((aligned(8)));
};

/* One socket as /proc/net lists it. Addresses in network byte order. */
struct sock_info {
    int family;            /* LX_AF_INET, LX_AF_INET6 or LX_AF_UNIX */
    int type;              /* LX_SOCK_* */
    int state;             /* inet: TCP_* state number (UDP: 1 connected, 7 not);
                            * unix: SS_* (1 unconnected, 3 connected) */
    bool listening;
    uint8_t laddr[16], raddr[16];
    uint16_t lport, rport; /* host byte order */
    uint32_t txq, rxq;
    uint32_t uid;
    uint64_t ino;
    int refs;
    /* TCP, from the host socket's TCP_INFO: in clock ticks (USER_HZ). */
    uint32_t rto, ato, cwnd;
    int ssthresh;          /* -1 while in initial slow start */
    /* unix: the bound name (sockaddr_un without the family), 0: none. */
    uint8_t path[SOCK_ADDR_MAX];
    uint32_t pathlen;
};

/* Calls FN for each of the sandbox's AF_UNIX sockets that has a file. */
void unix_for_each(void (*fn)(const struct sock_info *si, void *arg), void *arg);

bool sock_is_socket(struct file *f);
/* socket(2): a new socket file (count 1). TYPE without flag bits; FLAGS:
 * O_NONBLOCK. 0 or -errno. */
int sock_create(int family, int type, int protocol, unsigned flags, struct file **out);
int sock_socketpair(int family, int type, int protocol, unsigned flags, struct file *out[2]);
int sock_bind(struct task *t, struct file *f, const void *addr, size_t len);
int sock_listen(struct file *f, int backlog);
/* A new file for the accepted connection in *OUT; its peer address in
 * ADDR/ *ADDRLEN (SOCK_ADDR_MAX bytes). */
int sock_accept(struct task *t, struct file *f, unsigned flags, struct file **out, void *addr,
                uint32_t *addrlen);
int sock_connect(struct task *t, struct file *f, const void *addr, size_t len);
/* Own (PEER false) or peer address into ADDR (SOCK_ADDR_MAX bytes). */
int sock_getname(struct file *f, bool peer, void *addr, uint32_t *addrlen);
int sock_shutdown(struct file *f, int how);
/* Bytes sent or -errno (-EPIPE after raising SIGPIPE unless
 * LX_MSG_NOSIGNAL). */
ssize_t sock_sendmsg(struct task *t, struct file *f, const struct sock_smsg *m, int flags);
/* Bytes received (the full length with LX_MSG_TRUNC) or -errno. */
ssize_t sock_recvmsg(struct task *t, struct file *f, struct sock_rmsg *m, int flags);
/* SOL_SOCKET options; VAL/LEN in and out (LEN <= 16 on entry). */
int sock_getsockopt(struct task *t, struct file *f, int level, int name, void *val,
                    uint32_t *len);
int sock_setsockopt(struct file *f, int level, int name, const void *val, uint32_t len);

#endif
