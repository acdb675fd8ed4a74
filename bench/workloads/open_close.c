/* open(O_RDONLY) + close of an existing file, in ns per pair. */
#include "bench.h"
#include <fcntl.h>

static void op(long n, void *ctx)
{
    const char *path = ctx;
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            bench_die("open");
        if (close(fd) != 0)
            bench_die("close");
    }
}

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 1, .path = "/usr/bin/busybox", .mib = 1 };
    bench_parse(argc, argv, &o);
    bench_result("ns_per_pair", bench_loop(op, (void *)o.path, o.budget_s));
    return 0;
}
