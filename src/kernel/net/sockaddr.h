/*
 * Pure decoding of what apps pass to socket calls: AF_UNIX and AF_INET/
 * AF_INET6 sockaddrs and the control-message (cmsg) framing of sendmsg.
 * No state, no I/O: unix.c, inet.c and sys_socket.c act on the results, and
 * tests/fuzz/libfuzzer/fuzz_sockaddr.c fuzzes them.
 */
#ifndef MOAT_KERNEL_NET_SOCKADDR_H
#define MOAT_KERNEL_NET_SOCKADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "kernel/net/socket.h"

#define SUN_PATH_OFF 2

/* An AF_UNIX name as the app sees it. */
struct unix_addr {
    uint32_t len; /* whole sockaddr length; 0: unnamed */
    uint8_t sa[SOCK_ADDR_MAX];
};

/* Decodes a sockaddr_un ADDR/LEN into *OUT: abstract or unnamed (*OUT_FS
 * false), or a filesystem path (*OUT_FS true), NUL-terminated in PATH
 * (SOCK_ADDR_MAX bytes). 0 or -EINVAL. */
int sockaddr_un_decode(const void *addr, size_t len, struct unix_addr *out, char *path,
                       bool *out_fs);

/* Rebuilds the app's AF_INET/AF_INET6/AF_UNSPEC sockaddr ADDR/LEN as a host
 * one in *SS (*SSLEN): only the fields of a known family are copied.
 * 0, -EINVAL or -EAFNOSUPPORT. */
int sockaddr_inet_decode(const void *addr, size_t len, struct sockaddr_storage *ss,
                         socklen_t *sslen);

/* Host address SS/LEN as the app's sockaddr into ADDR (SOCK_ADDR_MAX bytes)
 * and *ADDRLEN. */
void sockaddr_inet_encode(const struct sockaddr_storage *ss, socklen_t len, void *addr,
                          uint32_t *addrlen);

/* One control message of a sendmsg control buffer. */
struct cmsg_item {
    int32_t level, type;
    const uint8_t *data; /* inside the buffer */
    size_t len;          /* bytes of data */
};

#define CMSG_HDR_SIZE 16 /* struct cmsghdr on x86-64 */

/* Steps through the control buffer BUF/LEN from *OFF: 1 with *IT filled and
 * *OFF moved to the next message, 0 when no whole header is left, -EINVAL
 * for a header whose length is too short or runs past the buffer. */
int cmsg_next(const uint8_t *buf, size_t len, size_t *off, struct cmsg_item *it);

#endif
