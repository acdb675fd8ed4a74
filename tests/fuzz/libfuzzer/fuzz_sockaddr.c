/*
 * libFuzzer target: decoding of what apps pass to socket calls
 * (src/kernel/net/sockaddr.c): sockaddr_un, AF_INET/AF_INET6 sockaddrs (with
 * the host-to-app encoding round trip) and the sendmsg control-message
 * framing. The first input byte picks the decoder; the rest is the app's
 * buffer, on the heap at exactly its length so ASan sees any overrun.
 * Built with -Dlibfuzzer=true (clang).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/net/sockaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                  \
    do {                                                          \
        if (!(c)) {                                               \
            fprintf(stderr, "fuzz-sockaddr: %s failed\n", #c);    \
            abort();                                              \
        }                                                         \
    } while (0)

static void fuzz_unix(const uint8_t *buf, size_t len)
{
    struct unix_addr a;
    char path[SOCK_ADDR_MAX];
    bool fs = false;
    if (sockaddr_un_decode(buf, len, &a, path, &fs) < 0)
        return;
    CHECK(len >= SUN_PATH_OFF && len <= SOCK_ADDR_MAX);
    CHECK(a.len >= SUN_PATH_OFF && a.len <= SOCK_ADDR_MAX);
    if (fs) {
        size_t n = strlen(path); /* NUL-terminated inside PATH */
        CHECK(n >= 1 && n <= len - SUN_PATH_OFF);
        CHECK(memcmp(path, buf + SUN_PATH_OFF, n) == 0);
        CHECK(a.sa[0] == LX_AF_UNIX);
    } else {
        CHECK(a.len == len);
    }
}

static void fuzz_inet(const uint8_t *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    int r = sockaddr_inet_decode(buf, len, &ss, &sslen);
    if (r < 0) {
        CHECK(r == -EINVAL || r == -EAFNOSUPPORT);
        return;
    }
    CHECK(sslen <= sizeof(ss));
    CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6 || ss.ss_family == AF_UNSPEC);
    uint8_t out[SOCK_ADDR_MAX];
    uint32_t outlen = 0;
    sockaddr_inet_encode(&ss, sslen, out, &outlen);
    CHECK(outlen <= SOCK_ADDR_MAX);
    /* What moat hands back names the same address. */
    if (ss.ss_family == AF_INET) {
        CHECK(outlen == 16 && memcmp(out, buf, 8) == 0);
    } else if (ss.ss_family == AF_INET6) {
        CHECK(outlen == 28 && memcmp(out, buf, 24) == 0);
        if (len >= 28)
            CHECK(memcmp(out + 24, buf + 24, 4) == 0);
    }
}

static void fuzz_cmsg(const uint8_t *buf, size_t len)
{
    size_t off = 0, prev = 0;
    struct cmsg_item it;
    int r;
    while ((r = cmsg_next(buf, len, &off, &it)) > 0) {
        /* The message lies inside the buffer and the walk moves forward. */
        CHECK(it.data >= buf + prev + CMSG_HDR_SIZE);
        CHECK(it.data + it.len <= buf + len);
        CHECK(off > prev && off % 8 == 0);
        if (it.len) {
            volatile uint8_t x = it.data[0];
            x = it.data[it.len - 1];
            (void)x;
        }
        prev = off;
    }
    CHECK(r == 0 || r == -EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, len);
    switch (data[0] % 3) {
    case 0: fuzz_unix(buf, len); break;
    case 1: fuzz_inet(buf, len); break;
    default: fuzz_cmsg(buf, len); break;
    }
    free(buf);
    return 0;
}
