/* getppid loop: the bare syscall round trip, in ns per call. */
#include "bench.h"
#include <sys/syscall.h>

static void op(long n, void *ctx)
{
    (void)ctx;
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
}

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 1, .path = "/usr/bin/busybox", .mib = 1 };
    bench_parse(argc, argv, &o);
    bench_result("ns_per_call", bench_loop(op, NULL, o.budget_s));
    return 0;
}
