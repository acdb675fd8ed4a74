/* Listing a directory of 10,000 entries (-f DIR, made by the harness):
 * open + getdents64 until the end + close, in µs per listing. */
#include "bench.h"
#include <fcntl.h>
#include <sys/syscall.h>

static char buf[32 << 10];

static void op(long n, void *ctx)
{
    const char *dir = ctx;
    for (long i = 0; i < n; i++) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY);
        if (fd < 0)
            bench_die("open");
        long entries = 0;
        for (;;) {
            long r = syscall(SYS_getdents64, fd, buf, sizeof(buf));
            if (r < 0)
                bench_die("getdents64");
            if (r == 0)
                break;
            for (long off = 0; off < r; off += *(unsigned short *)(buf + off + 16))
                entries++;
        }
        close(fd);
        if (entries != 10002) {
            fprintf(stderr, "bench: %s has %ld entries, want 10000 + . and ..\n", dir, entries);
            exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    struct bench_opts o = {.budget_s = 0.5, .reps = 1, .path = "/bench/dir10k", .mib = 1};
    bench_parse(argc, argv, &o);
    bench_result("us_per_listing", bench_loop(op, (void *)o.path, o.budget_s) / 1000);
    return 0;
}
