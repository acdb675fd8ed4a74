/*
 * Sockaddr and control-message decoding (see sockaddr.h).
 */
#include "kernel/net/sockaddr.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "lib/util.h"

/* Decodes a sockaddr_un: abstract (*OUT_PATH NULL) or a path copied into
 * PATH (SOCK_ADDR_MAX bytes). */
int sockaddr_un_decode(const void *addr, size_t len, struct unix_addr *out, char *path,
                       bool *out_fs)
{
    if (len < SUN_PATH_OFF || len > SOCK_ADDR_MAX)
        return -EINVAL;
    const uint8_t *a = addr;
    if ((a[0] | (a[1] << 8)) != LX_AF_UNIX)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (len == SUN_PATH_OFF) {
        out->len = SUN_PATH_OFF;
        *out_fs = false;
        return 0;
    }
    if (a[SUN_PATH_OFF] == 0) {
        memcpy(out->sa, a, len);
        out->len = (uint32_t)len;
        *out_fs = false;
        return 0;
    }
    size_t n = 0;
    while (SUN_PATH_OFF + n < len && a[SUN_PATH_OFF + n])
        n++;
    memcpy(path, a + SUN_PATH_OFF, n);
    path[n] = 0;
    out->sa[0] = LX_AF_UNIX;
    memcpy(out->sa + SUN_PATH_OFF, path, n + 1 <= SOCK_ADDR_MAX - SUN_PATH_OFF ? n + 1 : n);
    out->len = (uint32_t)(SUN_PATH_OFF + n + 1 <= SOCK_ADDR_MAX ? SUN_PATH_OFF + n + 1 : SOCK_ADDR_MAX);
    *out_fs = true;
    return 0;
}

/* Rebuilds the app's sockaddr ADDR/LEN in *SS (*SSLEN): only the fields of
 * a known family are copied. */
int sockaddr_inet_decode(const void *addr, size_t len, struct sockaddr_storage *ss,
                         socklen_t *sslen)
{
    memset(ss, 0, sizeof(*ss));
    if (len < sizeof(uint16_t))
        return -EINVAL;
    uint16_t fam;
    memcpy(&fam, addr, sizeof(fam));
    if (fam == LX_AF_INET) {
        struct sockaddr_in in;
        if (len < sizeof(in))
            return -EINVAL;
        memcpy(&in, addr, sizeof(in));
        struct sockaddr_in *o = (struct sockaddr_in *)ss;
        o->sin_family = AF_INET;
        o->sin_port = in.sin_port;
        o->sin_addr = in.sin_addr;
        *sslen = sizeof(*o);
    } else if (fam == LX_AF_INET6) {
        struct sockaddr_in6 in6;
        if (len < 24) /* SIN6_LEN_RFC2133: without sin6_scope_id */
            return -EINVAL;
        memset(&in6, 0, sizeof(in6));
        memcpy(&in6, addr, MIN(len, sizeof(in6)));
        struct sockaddr_in6 *o = (struct sockaddr_in6 *)ss;
        o->sin6_family = AF_INET6;
        o->sin6_port = in6.sin6_port;
        o->sin6_flowinfo = in6.sin6_flowinfo;
        o->sin6_addr = in6.sin6_addr;
        o->sin6_scope_id = in6.sin6_scope_id;
        *sslen = sizeof(*o);
    } else if (fam == 0 /* AF_UNSPEC */) {
        /* connect(AF_UNSPEC) dissolves an association; bind accepts it as
         * INADDR_ANY on AF_INET sockets. Only the address bytes matter. */
        struct sockaddr_in in;
        memset(&in, 0, sizeof(in));
        memcpy(&in, addr, MIN(len, sizeof(in)));
        struct sockaddr_in *o = (struct sockaddr_in *)ss;
        o->sin_family = AF_UNSPEC;
        o->sin_port = in.sin_port;
        o->sin_addr = in.sin_addr;
        *sslen = (socklen_t)MIN(len, sizeof(in));
    } else {
        return -EAFNOSUPPORT;
    }
    return 0;
}

/* Host address SS/LEN into ADDR (SOCK_ADDR_MAX bytes) / *ADDRLEN. */
void sockaddr_inet_encode(const struct sockaddr_storage *ss, socklen_t len, void *addr,
                          uint32_t *addrlen)
{
    uint8_t out[SOCK_ADDR_MAX];
    memset(out, 0, sizeof(out));
    uint32_t n = 0;
    if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        uint16_t fam = LX_AF_INET;
        memcpy(out, &fam, 2);
        memcpy(out + 2, &in->sin_port, 2);
        memcpy(out + 4, &in->sin_addr, 4);
        n = 16;
    } else if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        uint16_t fam = LX_AF_INET6;
        memcpy(out, &fam, 2);
        memcpy(out + 2, &in6->sin6_port, 2);
        memcpy(out + 4, &in6->sin6_flowinfo, 4);
        memcpy(out + 8, &in6->sin6_addr, 16);
        memcpy(out + 24, &in6->sin6_scope_id, 4);
        n = 28;
    } else if (len >= sizeof(uint16_t)) {
        uint16_t fam = ss->ss_family; /* AF_UNSPEC from an unconnected UDP peer */
        memcpy(out, &fam, 2);
        n = MIN((uint32_t)len, 16u);
    }
    memcpy(addr, out, n);
    *addrlen = n;
}

int cmsg_next(const uint8_t *buf, size_t len, size_t *off, struct cmsg_item *it)
{
    if (*off > len || len - *off < CMSG_HDR_SIZE)
        return 0;
    uint64_t hlen;
    memcpy(&hlen, buf + *off, sizeof(hlen));
    if (hlen < CMSG_HDR_SIZE || hlen > len - *off)
        return -EINVAL;
    memcpy(&it->level, buf + *off + 8, sizeof(it->level));
    memcpy(&it->type, buf + *off + 12, sizeof(it->type));
    it->data = buf + *off + CMSG_HDR_SIZE;
    it->len = (size_t)hlen - CMSG_HDR_SIZE;
    *off += ((size_t)hlen + 7) & ~(size_t)7;
    return 1;
}
