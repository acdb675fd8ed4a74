/* mmap of 1 MiB of anonymous memory + munmap, untouched, in µs per cycle:
 * the cost of creating and tearing down a mapping, not of faulting it. */
#include "bench.h"
#include <sys/mman.h>

static void op(long n, void *ctx)
{
    (void)ctx;
    for (long i = 0; i < n; i++) {
        void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            bench_die("mmap");
        if (munmap(p, 1 << 20) != 0)
            bench_die("munmap");
    }
}

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 1, .path = "/usr/bin/busybox", .mib = 1 };
    bench_parse(argc, argv, &o);
    bench_result("us_per_cycle", bench_loop(op, NULL, o.budget_s) / 1000.0);
    return 0;
}
