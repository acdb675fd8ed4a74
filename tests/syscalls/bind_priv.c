/* bind(2) of privileged ports: CAP_NET_BIND_SERVICE decides (EACCES
 * without it), ports from ip_unprivileged_port_start up need nothing, and
 * port 0 is always allowed. Runs as root; drops the capability from its
 * effective set half-way. */
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tap.h"

static int bind_port(int family, int port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int r;
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        r = bind(fd, (struct sockaddr *)&a, sizeof(a));
    } else {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
        r = bind(fd, (struct sockaddr *)&a, sizeof(a));
    }
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static int drop_bind_cap(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -1;
    d[0].effective &= ~(1u << CAP_NET_BIND_SERVICE);
    return (int)syscall(SYS_capset, &h, d);
}

int main(void)
{
    tap_init("bind_priv");
    T_OK(bind_port(AF_INET, 1023), "root binds 1023 (v4)");
    T_OK(bind_port(AF_INET6, 1021), "root binds 1021 (v6)");
    T_OK(drop_bind_cap(), "drop CAP_NET_BIND_SERVICE from the effective set");
    T_ERRNO(bind_port(AF_INET, 1023), EACCES, "1023 without the capability (v4)");
    T_ERRNO(bind_port(AF_INET6, 80), EACCES, "80 without the capability (v6)");
    T_ERRNO(bind_port(AF_INET, 1), EACCES, "port 1 without the capability");
    T_OK(bind_port(AF_INET, 0), "port 0 without the capability");
    T_OK(bind_port(AF_INET, 1024), "1024 without the capability");
    T_OK(bind_port(AF_INET6, 40001), "40001 without the capability (v6)");
    return tap_done();
}
