/* clock_gettime(CLOCK_MONOTONIC) loop through libc, in ns per call: the vDSO
 * where the runtime provides one, a trapped syscall where it does not. */
#include "bench.h"

static void op(long n, void *ctx)
{
    (void)ctx;
    struct timespec ts;
    for (long i = 0; i < n; i++)
        if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
            bench_die("clock_gettime");
}

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 1, .path = "/usr/bin/busybox", .mib = 1 };
    bench_parse(argc, argv, &o);
    bench_result("ns_per_call", bench_loop(op, NULL, o.budget_s));
    return 0;
}
