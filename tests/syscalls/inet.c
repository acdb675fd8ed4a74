/* Probe: AF_INET/AF_INET6 TCP and UDP over loopback: socket, bind,
 * listen, accept4, connect (blocking and non-blocking with SO_ERROR),
 * getsockname, getpeername, shutdown, send/recv flags, sendmsg/recvmsg,
 * sendmmsg/recvmmsg, poll, options, and the usual errors. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "loopback.h"
#include "tap.h"

/* A listener on an ephemeral loopback port. */
static int listener(int family)
{
    int s = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(family, &ss, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, (struct sockaddr *)&ss, l) < 0 || listen(s, 16) < 0)
        return -1;
    return s;
}

static void *echo_thread(void *arg)
{
    int s = (int)(intptr_t)arg;
    int c = accept(s, NULL, NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(c, buf, sizeof(buf))) > 0)
        if (write(c, buf, (size_t)n) != n)
            break;
    close(c);
    return NULL;
}

static void test_tcp_echo(int family, const char *fam)
{
    char name[128];
    int s = listener(family);
    snprintf(name, sizeof(name), "%s: listener", fam);
    T_TRUE(s >= 0, name);
    pthread_t th;
    pthread_create(&th, NULL, echo_thread, (void *)(intptr_t)s);
    int c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(family, &ss, port_of(s));
    snprintf(name, sizeof(name), "%s: connect", fam);
    T_OK(connect(c, (struct sockaddr *)&ss, l), name);
    int one = 1;
    snprintf(name, sizeof(name), "%s: TCP_NODELAY", fam);
    T_OK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), name);
    struct sockaddr_storage peer;
    socklen_t pl = sizeof(peer);
    snprintf(name, sizeof(name), "%s: getpeername", fam);
    T_OK(getpeername(c, (struct sockaddr *)&peer, &pl), name);
    snprintf(name, sizeof(name), "%s: peer length", fam);
    T_EQ(pl, l, name);
    snprintf(name, sizeof(name), "%s: peer port", fam);
    T_TRUE(memcmp(&peer, &ss, l) == 0 || port_of(s) != 0, name);
    static char big[200000], back[200000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);
    size_t got = 0;
    snprintf(name, sizeof(name), "%s: send 200000 bytes", fam);
    /* Echo in pieces so neither side's buffers fill. */
    bool ok = true;
    for (size_t off = 0; off < sizeof(big); off += 20000) {
        if (send(c, big + off, 20000, 0) != 20000)
            ok = false;
        ssize_t n = recv(c, back + off, 20000, MSG_WAITALL);
        if (n != 20000)
            ok = false;
        got += n > 0 ? (size_t)n : 0;
    }
    T_TRUE(ok, name);
    snprintf(name, sizeof(name), "%s: echoed intact", fam);
    T_TRUE(got == sizeof(big) && memcmp(big, back, sizeof(big)) == 0, name);
    char b;
    snprintf(name, sizeof(name), "%s: MSG_DONTWAIT with nothing queued", fam);
    T_ERRNO(recv(c, &b, 1, MSG_DONTWAIT), EAGAIN, name);
    send(c, "ping", 4, 0);
    char buf[8];
    snprintf(name, sizeof(name), "%s: MSG_PEEK", fam);
    T_EQ(recv(c, buf, 4, MSG_PEEK | MSG_WAITALL), 4, name);
    int avail = 0;
    ioctl(c, FIONREAD, &avail);
    snprintf(name, sizeof(name), "%s: FIONREAD", fam);
    T_EQ(avail, 4, name);
    snprintf(name, sizeof(name), "%s: read after peek", fam);
    T_EQ(read(c, buf, sizeof(buf)), 4, name);
    snprintf(name, sizeof(name), "%s: shutdown SHUT_WR", fam);
    T_OK(shutdown(c, SHUT_WR), name);
    snprintf(name, sizeof(name), "%s: EOF after the server closes", fam);
    T_EQ(read(c, buf, sizeof(buf)), 0, name);
    pthread_join(th, NULL);
    snprintf(name, sizeof(name), "%s: EPIPE after shutdown", fam);
    T_ERRNO(send(c, "x", 1, MSG_NOSIGNAL), EPIPE, name);
    close(c);
    close(s);
}

static void test_errors(void)
{
    struct sockaddr_storage ss;
    T_ERRNO(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT,
            "stream with UDP: EPROTONOSUPPORT");
    int s = listener(AF_INET);
    uint16_t port = port_of(s);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t l = mkaddr(AF_INET, &ss, port);
    T_ERRNO(bind(t, (struct sockaddr *)&ss, l), EADDRINUSE, "bind a used port: EADDRINUSE");
    T_ERRNO(bind(t, (struct sockaddr *)&ss, 4), EINVAL, "short sockaddr: EINVAL");
    T_ERRNO(listen(socket(AF_INET, SOCK_DGRAM, 0), 1), EOPNOTSUPP, "listen on UDP: EOPNOTSUPP");
    close(s);
    /* Nothing listens on the port we just closed. */
    l = mkaddr(AF_INET, &ss, port);
    T_ERRNO(connect(t, (struct sockaddr *)&ss, l), ECONNREFUSED, "connect: ECONNREFUSED");
    close(t);
    t = socket(AF_INET, SOCK_STREAM, 0);
    char b;
    T_ERRNO(recv(t, &b, 1, 0), ENOTCONN, "recv unconnected: ENOTCONN");
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    T_ERRNO(getpeername(t, (struct sockaddr *)&a, &al), ENOTCONN, "getpeername: ENOTCONN");
    T_OK(getsockname(t, (struct sockaddr *)&a, &al), "getsockname unbound");
    T_EQ(al, sizeof(a), "sockaddr_in length");
    T_EQ(a.sin_port, 0, "port 0");
    int v = 1;
    T_ERRNO(setsockopt(t, SOL_SOCKET, SO_ERROR, &v, sizeof(v)), ENOPROTOOPT,
            "set SO_ERROR: ENOPROTOOPT");
    T_ERRNO(shutdown(t, SHUT_RDWR), ENOTCONN, "shutdown unconnected: ENOTCONN");
    close(t);
}

static void test_nonblocking_connect(void)
{
    int s = listener(AF_INET6);
    int c = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(AF_INET6, &ss, port_of(s));
    int r = connect(c, (struct sockaddr *)&ss, l);
    T_TRUE(r == 0 || errno == EINPROGRESS, "non-blocking connect: 0 or EINPROGRESS");
    struct pollfd p = {c, POLLOUT, 0};
    T_EQ(poll(&p, 1, 5000), 1, "poll: writable");
    int err = -1;
    socklen_t el = sizeof(err);
    T_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), "SO_ERROR");
    T_EQ(err, 0, "connected");
    int a = accept4(s, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    T_TRUE(a >= 0, "accept4");
    T_EQ(fcntl(a, F_GETFL) & O_NONBLOCK, O_NONBLOCK, "accept4 SOCK_NONBLOCK");
    T_EQ(fcntl(a, F_GETFD), FD_CLOEXEC, "accept4 SOCK_CLOEXEC");
    char b;
    T_ERRNO(read(a, &b, 1), EAGAIN, "non-blocking read: EAGAIN");
    p.fd = a;
    p.events = POLLIN;
    T_EQ(poll(&p, 1, 0), 0, "poll: not readable");
    write(c, "z", 1);
    T_EQ(poll(&p, 1, 5000), 1, "poll: readable");
    T_EQ(read(a, &b, 1), 1, "read");
    close(c);
    p.events = POLLIN | POLLRDHUP;
    T_EQ(poll(&p, 1, 5000), 1, "poll after close");
    T_TRUE(p.revents & POLLRDHUP, "POLLRDHUP");
    close(a);

    /* Refused, seen through SO_ERROR. */
    int port = port_of(s);
    close(s);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    l = mkaddr(AF_INET, &ss, (uint16_t)port);
    r = connect(c, (struct sockaddr *)&ss, l);
    if (r < 0 && errno == EINPROGRESS) {
        p.fd = c;
        p.events = POLLOUT;
        poll(&p, 1, 5000);
        el = sizeof(err);
        getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
    } else {
        err = r < 0 ? errno : 0;
    }
    T_EQ(err, ECONNREFUSED, "refused: SO_ERROR ECONNREFUSED");
    close(c);
}

static void test_udp(int family, const char *fam)
{
    char name[128];
    int a = socket(family, SOCK_DGRAM, 0), b = socket(family, SOCK_DGRAM, IPPROTO_UDP);
    struct sockaddr_storage sa, sb;
    socklen_t la = mkaddr(family, &sa, 0), lb = mkaddr(family, &sb, 0);
    bind(a, (struct sockaddr *)&sa, la);
    bind(b, (struct sockaddr *)&sb, lb);
    la = mkaddr(family, &sa, port_of(a));
    lb = mkaddr(family, &sb, port_of(b));
    snprintf(name, sizeof(name), "%s udp: sendto", fam);
    T_EQ(sendto(a, "hello", 5, 0, (struct sockaddr *)&sb, lb), 5, name);
    char buf[16];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    snprintf(name, sizeof(name), "%s udp: MSG_TRUNC gives the full length", fam);
    T_EQ(recvfrom(b, buf, 2, MSG_TRUNC, (struct sockaddr *)&from, &fl), 5, name);
    snprintf(name, sizeof(name), "%s udp: source", fam);
    T_TRUE(fl == la && memcmp(&from, &sa, la) == 0, name);
    /* sendmmsg / recvmmsg */
    char one[] = "one", two[] = "two", three[] = "three";
    struct iovec iov[3] = {{one, 3}, {two, 3}, {three, 5}};
    struct mmsghdr mm[3];
    memset(mm, 0, sizeof(mm));
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_name = &sb;
        mm[i].msg_hdr.msg_namelen = lb;
    }
    snprintf(name, sizeof(name), "%s udp: sendmmsg", fam);
    T_EQ(sendmmsg(a, mm, 3, 0), 3, name);
    char rb[3][8];
    struct iovec riov[3] = {{rb[0], 8}, {rb[1], 8}, {rb[2], 8}};
    memset(mm, 0, sizeof(mm));
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &riov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    usleep(10000);
    snprintf(name, sizeof(name), "%s udp: recvmmsg", fam);
    T_EQ(recvmmsg(b, mm, 3, MSG_DONTWAIT, NULL), 3, name);
    snprintf(name, sizeof(name), "%s udp: third message", fam);
    T_TRUE(mm[2].msg_len == 5 && memcmp(rb[2], "three", 5) == 0, name);
    /* connected UDP, recvmsg with a cut message */
    connect(a, (struct sockaddr *)&sb, lb);
    send(a, "abcdefgh", 8, 0);
    struct msghdr h;
    memset(&h, 0, sizeof(h));
    struct iovec ri = {buf, 4};
    h.msg_iov = &ri;
    h.msg_iovlen = 1;
    snprintf(name, sizeof(name), "%s udp: recvmsg cut", fam);
    T_EQ(recvmsg(b, &h, 0), 4, name);
    snprintf(name, sizeof(name), "%s udp: MSG_TRUNC flag", fam);
    T_EQ(h.msg_flags & MSG_TRUNC, MSG_TRUNC, name);
    struct timeval tv = {0, 50000};
    setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    snprintf(name, sizeof(name), "%s udp: SO_RCVTIMEO expires", fam);
    T_ERRNO(recv(b, buf, 4, 0), EAGAIN, name);
    close(a);
    close(b);
}

static void test_options(void)
{
    int s = socket(AF_INET6, SOCK_STREAM, 0);
    int v = -1;
    socklen_t l = sizeof(v);
    T_OK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l), "SO_TYPE");
    T_EQ(v, SOCK_STREAM, "SO_TYPE stream");
    getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &l);
    T_EQ(v, AF_INET6, "SO_DOMAIN");
    getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l);
    T_EQ(v, IPPROTO_TCP, "SO_PROTOCOL");
    v = 1;
    T_OK(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)), "IPV6_V6ONLY");
    v = 0;
    getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l);
    T_EQ(v, 1, "IPV6_V6ONLY reads back");
    v = 1;
    T_OK(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)), "SO_KEEPALIVE");
    v = 30;
    T_OK(setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)), "TCP_KEEPIDLE");
    v = 0;
    getsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, &l);
    T_EQ(v, 30, "TCP_KEEPIDLE reads back");
    struct linger lg = {1, 5};
    T_OK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), "SO_LINGER");
    memset(&lg, 0, sizeof(lg));
    l = sizeof(lg);
    getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &l);
    T_TRUE(lg.l_onoff == 1 && lg.l_linger == 5, "SO_LINGER reads back");
    struct tcp_info ti;
    l = sizeof(ti);
    T_OK(getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l), "TCP_INFO");
    T_EQ(ti.tcpi_state, 7 /* TCP_CLOSE */, "TCP_INFO state");
    v = 1;
    T_ERRNO(setsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, sizeof(v)), ENOPROTOOPT,
            "set SO_ACCEPTCONN: ENOPROTOOPT");
    close(s);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    v = 64;
    T_OK(setsockopt(s, IPPROTO_IP, IP_TTL, &v, sizeof(v)), "IP_TTL");
    v = 1;
    T_OK(setsockopt(s, SOL_SOCKET, SO_BROADCAST, &v, sizeof(v)), "SO_BROADCAST");
    close(s);
}

/* A blocking accept in a child process, interrupted by nothing: the
 * parent connects and the child echoes one message back. */
static void test_fork(void)
{
    int s = listener(AF_INET);
    uint16_t port = port_of(s);
    pid_t pid = fork();
    if (pid == 0) {
        int c = accept(s, NULL, NULL);
        char buf[32];
        ssize_t n = read(c, buf, sizeof(buf));
        write(c, buf, n > 0 ? (size_t)n : 0);
        _exit(0);
    }
    close(s);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(AF_INET, &ss, port);
    T_OK(connect(c, (struct sockaddr *)&ss, l), "fork: connect to the child");
    write(c, "across", 6);
    char buf[8];
    T_EQ(recv(c, buf, 6, MSG_WAITALL), 6, "fork: echoed");
    int st;
    waitpid(pid, &st, 0);
    T_EQ(st, 0, "fork: child exit");
    close(c);
}

/* UDP-Lite (IPPROTO_UDPLITE, 136), which Python's test_socket uses: a
 * datagram round trip on loopback and SO_PROTOCOL; not for streams. */
static void test_udplite(int family, const char *fam)
{
    char name[128];
    int a = socket(family, SOCK_DGRAM, 136), b = socket(family, SOCK_DGRAM, 136);
    snprintf(name, sizeof(name), "%s udplite: socket", fam);
    T_TRUE(a >= 0 && b >= 0, name);
    int proto = 0;
    socklen_t pl = sizeof(proto);
    getsockopt(a, SOL_SOCKET, SO_PROTOCOL, &proto, &pl);
    snprintf(name, sizeof(name), "%s udplite: SO_PROTOCOL 136", fam);
    T_EQ(proto, 136, name);
    struct sockaddr_storage sb;
    socklen_t lb = mkaddr(family, &sb, 0);
    bind(b, (struct sockaddr *)&sb, lb);
    lb = mkaddr(family, &sb, port_of(b));
    snprintf(name, sizeof(name), "%s udplite: sendto", fam);
    T_EQ(sendto(a, "lite", 4, 0, (struct sockaddr *)&sb, lb), 4, name);
    char buf[8];
    snprintf(name, sizeof(name), "%s udplite: recv", fam);
    T_EQ(recv(b, buf, sizeof(buf), 0), 4, name);
    snprintf(name, sizeof(name), "%s udplite: SOCK_STREAM: EPROTONOSUPPORT", fam);
    T_ERRNO(socket(family, SOCK_STREAM, 136), EPROTONOSUPPORT, name);
    close(a);
    close(b);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    tap_init("inet");
    test_tcp_echo(AF_INET, "ipv4");
    test_tcp_echo(AF_INET6, "ipv6");
    test_errors();
    test_nonblocking_connect();
    test_udp(AF_INET, "ipv4");
    test_udp(AF_INET6, "ipv6");
    test_udplite(AF_INET, "ipv4");
    test_udplite(AF_INET6, "ipv6");
    test_options();
    test_fork();
    return tap_done();
}
