/* stat() of an existing file, in ns per call. */
#include "bench.h"
#include <sys/stat.h>

static void op(long n, void *ctx)
{
    const char *path = ctx;
    struct stat st;
    for (long i = 0; i < n; i++)
        if (stat(path, &st) != 0)
            bench_die("stat");
}

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 1, .path = "/usr/bin/busybox", .mib = 1 };
    bench_parse(argc, argv, &o);
    bench_result("ns_per_call", bench_loop(op, (void *)o.path, o.budget_s));
    return 0;
}
