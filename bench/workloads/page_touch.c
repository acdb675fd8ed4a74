/* First write to each 4 KiB page of a fresh anonymous mapping (default
 * 256 MiB), in ns per page; median over -r mappings, each unmapped after. */
#include "bench.h"
#include <sys/mman.h>

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 3, .path = "/usr/bin/busybox", .mib = 256 };
    bench_parse(argc, argv, &o);
    size_t len = (size_t)o.mib << 20, pages = len / 4096;
    double *v = calloc((size_t)o.reps, sizeof(*v));
    if (!v)
        bench_die("calloc");
    for (int r = 0; r < o.reps; r++) {
        volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            bench_die("mmap");
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < pages; i++)
            p[i * 4096] = 1;
        v[r] = (double)(now_ns() - t0) / (double)pages;
        if (munmap((void *)p, len) != 0)
            bench_die("munmap");
    }
    bench_result("ns_per_page", median(v, o.reps));
    return 0;
}
