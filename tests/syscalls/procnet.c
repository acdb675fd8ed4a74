/*
 * Probe: /proc/net (a link to self/net) and its files: the probe's own
 * sockets appear in tcp, tcp6, udp, udp6 and unix with their addresses,
 * states and inode numbers; dev, if_inet6 and route have Linux's layout
 * and lo. Only the probe's own sockets are looked for: natively the files
 * also list the host's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "tap.h"

static char g_buf[1 << 20];

static const char *slurp(const char *path)
{
    g_buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return g_buf;
    size_t n = fread(g_buf, 1, sizeof(g_buf) - 1, f);
    g_buf[n] = '\0';
    fclose(f);
    return g_buf;
}

static unsigned long ino_of(int fd)
{
    struct stat st;
    fstat(fd, &st);
    return (unsigned long)st.st_ino;
}

/* Finds the line of PATH whose inode column (field INO_FIELD, 0-based) is
 * INO; copies it to OUT. */
static int find_ino(const char *path, int ino_field, unsigned long ino, char *out, size_t size)
{
    slurp(path);
    char *save = NULL;
    for (char *line = strtok_r(g_buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char copy[512];
        snprintf(copy, sizeof(copy), "%s", line);
        char *s2 = NULL;
        int i = 0;
        for (char *tok = strtok_r(copy, " ", &s2); tok; tok = strtok_r(NULL, " ", &s2), i++) {
            if (i == ino_field && strtoul(tok, NULL, 10) == ino) {
                snprintf(out, size, "%s", line);
                return 1;
            }
        }
    }
    return 0;
}

/* Field N (0-based, space-separated) of LINE. */
static const char *field(const char *line, int n)
{
    static char f[256];
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", line);
    char *save = NULL;
    int i = 0;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
        if (i == n) {
            snprintf(f, sizeof(f), "%s", tok);
            return f;
        }
    }
    return "";
}

static void test_layout(void)
{
    char target[64] = "";
    T_TRUE(readlink("/proc/net", target, sizeof(target) - 1) > 0, "/proc/net is a link");
    T_STREQ(target, "self/net", "to self/net");
    struct stat st;
    T_OK(stat("/proc/self/net", &st), "/proc/self/net");
    T_TRUE(S_ISDIR(st.st_mode), "a directory");
    const char *files[] = {"dev", "if_inet6", "route", "tcp", "tcp6", "udp", "udp6", "unix"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/net/%s", files[i]);
        T_OK(stat(p, &st), p);
    }
    slurp("/proc/net/dev");
    T_TRUE(strncmp(g_buf, "Inter-|   Receive", 17) == 0, "dev: header");
    T_TRUE(strstr(g_buf, "    lo: ") != NULL, "dev: lo");
    slurp("/proc/net/if_inet6");
    T_TRUE(strstr(g_buf, "00000000000000000000000000000001 01 80 10 80       lo\n") != NULL,
           "if_inet6: ::1 on lo");
    slurp("/proc/net/route");
    T_TRUE(strncmp(g_buf, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask", 50) ==
                   0,
           "route: header");
    T_EQ(strchr(g_buf, '\n') - g_buf, 127, "route: lines padded to 127");
    slurp("/proc/net/tcp");
    T_TRUE(strncmp(g_buf, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
                          "retrnsmt   uid  timeout inode",
                   95) == 0,
           "tcp: header");
    T_EQ(strchr(g_buf, '\n') - g_buf, 149, "tcp: lines padded to 149");
    slurp("/proc/net/unix");
    T_TRUE(strncmp(g_buf, "Num       RefCount Protocol Flags    Type St Inode Path\n", 56) == 0,
           "unix: header");
}

static void test_tcp(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bind(l, (struct sockaddr *)&a, sizeof(a));
    listen(l, 8);
    getsockname(l, (struct sockaddr *)&a, &len);
    char line[512], want[64];
    T_TRUE(find_ino("/proc/net/tcp", 9, ino_of(l), line, sizeof(line)),
           "tcp: the listener, by inode");
    snprintf(want, sizeof(want), "0100007F:%04X", ntohs(a.sin_port));
    T_STREQ(field(line, 1), want, "local 127.0.0.1:port");
    T_STREQ(field(line, 2), "00000000:0000", "no remote");
    T_STREQ(field(line, 3), "0A", "LISTEN");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof(a));
    int s = accept(l, NULL, NULL);
    T_TRUE(find_ino("/proc/net/tcp", 9, ino_of(c), line, sizeof(line)), "tcp: the client");
    T_STREQ(field(line, 2), want, "remote is the listener");
    T_STREQ(field(line, 3), "01", "ESTABLISHED");
    T_TRUE(find_ino("/proc/net/tcp", 9, ino_of(s), line, sizeof(line)), "tcp: the accepted one");
    T_STREQ(field(line, 1), want, "local is the listener's address");
    T_STREQ(field(line, 3), "01", "ESTABLISHED");
    close(s);
    close(c);
    close(l);

    l = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
    len = sizeof(a6);
    bind(l, (struct sockaddr *)&a6, sizeof(a6));
    listen(l, 8);
    getsockname(l, (struct sockaddr *)&a6, &len);
    T_TRUE(find_ino("/proc/net/tcp6", 9, ino_of(l), line, sizeof(line)), "tcp6: the listener");
    snprintf(want, sizeof(want), "00000000000000000000000001000000:%04X", ntohs(a6.sin6_port));
    T_STREQ(field(line, 1), want, "local [::1]:port");
    T_STREQ(field(line, 3), "0A", "LISTEN");
    close(l);
}

static void test_udp(void)
{
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bind(u, (struct sockaddr *)&a, sizeof(a));
    getsockname(u, (struct sockaddr *)&a, &len);
    char line[512], want[64];
    T_TRUE(find_ino("/proc/net/udp", 9, ino_of(u), line, sizeof(line)), "udp: bound socket");
    snprintf(want, sizeof(want), "0100007F:%04X", ntohs(a.sin_port));
    T_STREQ(field(line, 1), want, "local 127.0.0.1:port");
    T_STREQ(field(line, 3), "07", "unconnected: CLOSE");
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof(a));
    T_TRUE(find_ino("/proc/net/udp", 9, ino_of(c), line, sizeof(line)), "udp: connected socket");
    T_STREQ(field(line, 2), want, "remote");
    T_STREQ(field(line, 3), "01", "connected: ESTABLISHED");
    close(c);
    close(u);
    int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
    bind(u6, (struct sockaddr *)&a6, sizeof(a6));
    T_TRUE(find_ino("/proc/net/udp6", 9, ino_of(u6), line, sizeof(line)), "udp6: bound socket");
    T_TRUE(strncmp(field(line, 1), "00000000000000000000000001000000:", 33) == 0, "local [::1]");
    close(u6);
}

static void test_unix(void)
{
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char name[64];
    snprintf(name, sizeof(name), "moat-procnet-%d", (int)getpid());
    memcpy(a.sun_path + 1, name, strlen(name));
    bind(l, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                               strlen(name)));
    listen(l, 4);
    char line[512], want[80];
    T_TRUE(find_ino("/proc/net/unix", 6, ino_of(l), line, sizeof(line)),
           "unix: abstract listener, by inode");
    T_STREQ(field(line, 3), "00010000", "__SO_ACCEPTCON");
    T_STREQ(field(line, 4), "0001", "SOCK_STREAM");
    T_STREQ(field(line, 5), "01", "unconnected");
    snprintf(want, sizeof(want), "@%s", name);
    T_STREQ(field(line, 7), want, "@name");
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un p = {.sun_family = AF_UNIX};
    snprintf(p.sun_path, sizeof(p.sun_path), "%.100s/sock", tap_dir);
    bind(d, (struct sockaddr *)&p, sizeof(p));
    T_TRUE(find_ino("/proc/net/unix", 6, ino_of(d), line, sizeof(line)), "unix: path-bound dgram");
    T_STREQ(field(line, 4), "0002", "SOCK_DGRAM");
    T_STREQ(field(line, 7), p.sun_path, "path");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    T_TRUE(find_ino("/proc/net/unix", 6, ino_of(sv[0]), line, sizeof(line)), "unix: socketpair");
    T_STREQ(field(line, 5), "03", "connected");
    T_STREQ(field(line, 7), "", "unnamed");
    close(sv[0]);
    close(sv[1]);
    close(d);
    close(l);
}

int main(void)
{
    tap_init("procnet");
    test_layout();
    test_tcp();
    test_udp();
    test_unix();
    return tap_done();
}
