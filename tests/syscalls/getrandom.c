/* Probe: getrandom. */
#include <sys/random.h>

#include "tap.h"

static long sys_getrandom(void *buf, size_t len, unsigned flags)
{
    return syscall(SYS_getrandom, buf, len, flags);
}

static void test_getrandom(void)
{
    unsigned char a[256], b[256];

    memset(a, 0, sizeof(a));
    T_EQ(sys_getrandom(a, sizeof(a), 0), sizeof(a), "getrandom fills 256 bytes");
    int zeros = 0;
    for (size_t i = 0; i < sizeof(a); i++)
        zeros += a[i] == 0;
    T_TRUE(zeros < 32, "the bytes are not mostly zero");
    memset(b, 0, sizeof(b));
    T_EQ(sys_getrandom(b, sizeof(b), GRND_NONBLOCK), sizeof(b), "GRND_NONBLOCK fills 256 bytes");
    T_TRUE(memcmp(a, b, sizeof(a)) != 0, "two calls return different bytes");
    T_EQ(sys_getrandom(a, 1, 0), 1, "a 1-byte request");
    T_EQ(sys_getrandom(a, 0, 0), 0, "a 0-byte request returns 0");
    T_EQ(sys_getrandom(NULL, 0, 0), 0, "a 0-byte request ignores the buffer");

    /* Large requests: at least 256 bytes, up to the whole buffer (Linux caps at 32 MiB - 1). */
    static unsigned char big[1 << 20];
    long n = sys_getrandom(big, sizeof(big), 0);
    T_TRUE(n >= 256 && n <= (long)sizeof(big), "a 1 MiB request returns at least 256 bytes");
    int seen_nonzero = 0;
    for (long i = n - 64; i < n; i++)
        seen_nonzero |= big[i] != 0;
    T_TRUE(seen_nonzero, "the end of a large request is filled too");

    T_EQ(sys_getrandom(a, 16, GRND_RANDOM | GRND_NONBLOCK), 16, "GRND_RANDOM|GRND_NONBLOCK");
    T_EQ(sys_getrandom(a, 16, GRND_INSECURE), 16, "GRND_INSECURE");
    T_ERRNO(sys_getrandom(a, 16, 0x100), EINVAL, "an unknown flag: EINVAL");
    T_ERRNO(sys_getrandom(a, 16, GRND_INSECURE | GRND_RANDOM), EINVAL, "GRND_INSECURE|GRND_RANDOM: EINVAL");
    T_ERRNO(sys_getrandom(BAD_PTR, 16, 0), EFAULT, "a bad buffer: EFAULT");
}

int main(void)
{
    tap_init("getrandom");
    test_getrandom();
    return tap_done();
}
