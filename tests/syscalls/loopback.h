/*
 * Loopback addresses for inet probes: mkaddr() fills 127.0.0.1 or ::1 with
 * PORT for FAMILY and returns its length; port_of() is a bound socket's
 * port.
 */
#ifndef MOAT_TESTS_LOOPBACK_H
#define MOAT_TESTS_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

static socklen_t mkaddr(int family, struct sockaddr_storage *ss, uint16_t port)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof(*a);
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    return sizeof(*a);
}

static uint16_t port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &l);
    return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

#endif
