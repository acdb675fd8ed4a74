/* Probe: AF_UNIX sockets: socket, socketpair, bind, listen, accept4,
 * connect, getsockname, getpeername, shutdown, sendto, recvfrom, sendmsg,
 * recvmsg (SCM_RIGHTS, SCM_CREDENTIALS), sendmmsg, recvmmsg, options. */
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "tap.h"

static socklen_t mkaddr(struct sockaddr_un *a, const char *path, bool abstract)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    if (abstract) {
        memcpy(a->sun_path + 1, path, strlen(path));
        return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
    }
    strcpy(a->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static void test_pair(void)
{
    int sv[2];
    char buf[16];
    T_ERRNO(socket(AF_UNIX, SOCK_RDM, 0), ESOCKTNOSUPPORT, "bad type: ESOCKTNOSUPPORT");
    T_ERRNO(socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT, "bad family: EAFNOSUPPORT");
    T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair stream");
    T_EQ(fcntl(sv[0], F_GETFD), FD_CLOEXEC, "SOCK_CLOEXEC");
    T_EQ(write(sv[0], "hello", 5), 5, "write");
    T_EQ(recv(sv[1], buf, 2, MSG_PEEK), 2, "MSG_PEEK");
    T_EQ(read(sv[1], buf, sizeof(buf)), 5, "read gets it all");
    T_TRUE(memcmp(buf, "hello", 5) == 0, "the bytes");
    T_ERRNO(recv(sv[1], buf, 1, MSG_DONTWAIT), EAGAIN, "MSG_DONTWAIT: EAGAIN");
    send(sv[0], "ab", 2, 0);
    send(sv[0], "cd", 2, 0);
    T_EQ(recv(sv[1], buf, 4, MSG_WAITALL), 4, "stream merges writes");
    struct ucred uc;
    socklen_t l = sizeof(uc);
    T_OK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &l), "SO_PEERCRED");
    T_EQ(uc.pid, getpid(), "peer pid");
    int v;
    l = sizeof(v);
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l);
    T_EQ(v, SOCK_STREAM, "SO_TYPE");
    T_OK(shutdown(sv[0], SHUT_WR), "shutdown SHUT_WR");
    T_EQ(read(sv[1], buf, 1), 0, "peer reads EOF");
    struct pollfd p = {sv[1], POLLIN | POLLRDHUP, 0};
    T_EQ(poll(&p, 1, 0), 1, "poll after shutdown");
    T_EQ(p.revents, POLLIN | POLLRDHUP, "POLLIN|POLLRDHUP");
    close(sv[1]);
    signal(SIGPIPE, SIG_IGN);
    T_ERRNO(write(sv[0], "x", 1), EPIPE, "write to a shut socket: EPIPE");
    close(sv[0]);

    T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
    close(sv[1]);
    T_ERRNO(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE, "peer closed: EPIPE");
    close(sv[0]);

    T_OK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), "socketpair seqpacket");
    send(sv[0], "abc", 3, 0);
    send(sv[0], "de", 2, 0);
    T_EQ(recv(sv[1], buf, 2, 0), 2, "seqpacket: a short read");
    T_EQ(recv(sv[1], buf, sizeof(buf), 0), 2, "keeps message boundaries");
    send(sv[0], "abc", 3, 0);
    T_EQ(recv(sv[1], buf, 1, MSG_TRUNC), 3, "MSG_TRUNC gives the real length");
    close(sv[0]);
    T_EQ(recv(sv[1], buf, 1, 0), 0, "EOF after the peer closed");
    close(sv[1]);
}

static void test_stream_listen(bool abstract)
{
    struct sockaddr_un a, got;
    /* Abstract names are host-wide natively: one of this run's own (CI
     * runs the probe natively twice at once). */
    char abs_name[64];
    snprintf(abs_name, sizeof(abs_name), "moat-probe-abs-%d", (int)getpid());
    socklen_t len = mkaddr(&a, abstract ? abs_name : "sock", abstract);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    T_ERRNO(listen(l, 5), EINVAL, "listen unbound: EINVAL");
    T_OK(bind(l, (struct sockaddr *)&a, len), abstract ? "bind abstract" : "bind path");
    if (!abstract) {
        struct stat st;
        T_OK(stat("sock", &st), "the socket file exists");
        T_TRUE(S_ISSOCK(st.st_mode), "S_IFSOCK");
    }
    int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
    T_ERRNO(bind(l2, (struct sockaddr *)&a, len), EADDRINUSE, "bind twice: EADDRINUSE");
    close(l2);
    socklen_t gl = sizeof(got);
    T_OK(getsockname(l, (struct sockaddr *)&got, &gl), "getsockname");
    T_EQ(gl, len, "getsockname length");
    T_TRUE(memcmp(&got, &a, len) == 0, "getsockname address");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    T_ERRNO(connect(c, (struct sockaddr *)&a, len), ECONNREFUSED, "not listening: ECONNREFUSED");
    close(c);
    T_OK(listen(l, 5), "listen");
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    T_OK(connect(c, (struct sockaddr *)&a, len), "connect");
    T_ERRNO(connect(c, (struct sockaddr *)&a, len), EISCONN, "connect again: EISCONN");
    struct pollfd p = {l, POLLIN, 0};
    T_EQ(poll(&p, 1, 0), 1, "listener readable");
    int s = T_OK(accept4(l, NULL, NULL, SOCK_NONBLOCK), "accept4");
    T_EQ(fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK, "SOCK_NONBLOCK");
    gl = sizeof(got);
    T_OK(getpeername(c, (struct sockaddr *)&got, &gl), "getpeername");
    T_EQ(gl, len, "peer address length");
    gl = sizeof(got);
    T_OK(getpeername(s, (struct sockaddr *)&got, &gl), "getpeername of the accepted");
    T_EQ(gl, sizeof(sa_family_t), "an unbound peer has no name");
    T_EQ(write(c, "ping", 4), 4, "client writes");
    char buf[8];
    T_EQ(read(s, buf, 8), 4, "server reads");
    close(s);
    close(c);
    close(l);
    if (!abstract) {
        c = socket(AF_UNIX, SOCK_STREAM, 0);
        T_ERRNO(connect(c, (struct sockaddr *)&a, len), ECONNREFUSED, "closed listener: ECONNREFUSED");
        close(c);
        unlink("sock");
    }
}

static void test_dgram(void)
{
    struct sockaddr_un a, b, from;
    socklen_t la = mkaddr(&a, "d1", false), lb = mkaddr(&b, "d2", false);
    int x = socket(AF_UNIX, SOCK_DGRAM, 0), y = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(x, (struct sockaddr *)&a, la);
    bind(y, (struct sockaddr *)&b, lb);
    T_EQ(sendto(x, "one", 3, 0, (struct sockaddr *)&b, lb), 3, "sendto");
    T_EQ(sendto(x, "two!", 4, 0, (struct sockaddr *)&b, lb), 4, "sendto again");
    char buf[8];
    socklen_t fl = sizeof(from);
    T_EQ(recvfrom(y, buf, 8, 0, (struct sockaddr *)&from, &fl), 3, "recvfrom one datagram");
    T_EQ(fl, la, "the sender's address length");
    T_STREQ(from.sun_path, "d1", "the sender's address");
    T_EQ(recv(y, buf, 2, 0), 2, "a short read of a datagram");
    T_ERRNO(recv(y, buf, 2, MSG_DONTWAIT), EAGAIN, "the rest was dropped");
    T_ERRNO(send(x, "z", 1, 0), ENOTCONN, "send unconnected: ENOTCONN");
    T_OK(connect(x, (struct sockaddr *)&b, lb), "connect a datagram socket");
    T_EQ(send(x, "z", 1, 0), 1, "send to the connected peer");
    T_EQ(recv(y, buf, 8, 0), 1, "received");
    struct sockaddr_un none;
    socklen_t ln = mkaddr(&none, "nosuch", false);
    T_ERRNO(sendto(y, "q", 1, 0, (struct sockaddr *)&none, ln), ENOENT, "sendto a missing path: ENOENT");
    close(x);
    close(y);
}

static void test_rights(void)
{
    int sv[2], p[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    char data = 'R';
    struct iovec iov = {&data, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof(u.buf);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[1], sizeof(int));
    T_EQ(sendmsg(sv[0], &m, 0), 1, "sendmsg with SCM_RIGHTS");
    close(p[1]);
    char rb;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } r;
    struct iovec riov = {&rb, 1};
    struct msghdr rm = {0};
    rm.msg_iov = &riov;
    rm.msg_iovlen = 1;
    rm.msg_control = r.buf;
    rm.msg_controllen = sizeof(r.buf);
    T_EQ(recvmsg(sv[1], &rm, MSG_CMSG_CLOEXEC), 1, "recvmsg");
    c = CMSG_FIRSTHDR(&rm);
    T_TRUE(c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)), "an SCM_RIGHTS message");
    int fd = -1;
    if (c)
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "MSG_CMSG_CLOEXEC");
    T_EQ(write(fd, "via", 3), 3, "the received fd is the pipe's write end");
    char pb[4];
    T_EQ(read(p[0], pb, 4), 3, "and the pipe gets the bytes");
    close(fd);
    close(p[0]);

    int on = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
    send(sv[0], "c", 1, 0);
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } cr;
    rm.msg_control = cr.buf;
    rm.msg_controllen = sizeof(cr.buf);
    T_EQ(recvmsg(sv[1], &rm, 0), 1, "recvmsg with SO_PASSCRED");
    c = CMSG_FIRSTHDR(&rm);
    T_TRUE(c && c->cmsg_type == SCM_CREDENTIALS, "an SCM_CREDENTIALS message");
    struct ucred uc = {0};
    if (c)
        memcpy(&uc, CMSG_DATA(c), sizeof(uc));
    T_EQ(uc.pid, getpid(), "the sender's pid");
    T_EQ(uc.uid, getuid(), "the sender's uid");
    close(sv[0]);
    close(sv[1]);
}

static void test_mmsg(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct mmsghdr mm[3];
    struct iovec iov[3];
    char out[3][4] = {"a", "bb", "ccc"}, in[3][8];
    memset(mm, 0, sizeof(mm));
    for (int i = 0; i < 3; i++) {
        iov[i].iov_base = out[i];
        iov[i].iov_len = strlen(out[i]);
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    T_EQ(sendmmsg(sv[0], mm, 3, 0), 3, "sendmmsg sends 3");
    T_EQ(mm[2].msg_len, 3, "msg_len of the third");
    for (int i = 0; i < 3; i++) {
        iov[i].iov_base = in[i];
        iov[i].iov_len = 8;
    }
    T_EQ(recvmmsg(sv[1], mm, 3, MSG_DONTWAIT, NULL), 3, "recvmmsg gets 3");
    T_EQ(mm[1].msg_len, 2, "with their lengths");
    close(sv[0]);
    close(sv[1]);
}

/* A full stream pair: poll's POLLOUT and a non-blocking send agree (a send
 * when poll says writable takes data, one when it does not fails with
 * EAGAIN), as Python's sendall with a timeout relies on. */
static void test_stream_full(void)
{
    int sv[2];
    T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair for the full test");
    static char big[65536];
    memset(big, 'x', sizeof(big));
    long total = 0;
    int writable_fail = 0;
    for (int i = 0; i < 1000; i++) {
        struct pollfd p = {.fd = sv[0], .events = POLLOUT};
        int ready = poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
        ssize_t n = send(sv[0], big, sizeof(big), MSG_DONTWAIT);
        if (n < 0) {
            if (ready)
                writable_fail++;
            break;
        }
        total += n;
    }
    T_TRUE(total > 65536 && total < 4 * 1024 * 1024, "a stream fills up");
    T_EQ(writable_fail, 0, "no EAGAIN on a socket poll calls writable");
    struct pollfd p = {.fd = sv[0], .events = POLLOUT};
    T_EQ(poll(&p, 1, 0), 0, "a full stream is not writable");
    T_ERRNO(send(sv[0], big, 1, MSG_DONTWAIT), EAGAIN, "a byte more: EAGAIN");
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    tap_init("unix");
    test_pair();
    test_stream_listen(false);
    test_stream_listen(true);
    test_dgram();
    test_rights();
    test_mmsg();
    test_stream_full();
    return tap_done();
}
