/* pthread_create + pthread_join of a thread that returns at once, in µs per
 * cycle. */
#include "bench.h"
#include <pthread.h>

static void *nothing(void *arg)
{
    return arg;
}

static void op(long n, void *ctx)
{
    (void)ctx;
    for (long i = 0; i < n; i++) {
        pthread_t th;
        if (pthread_create(&th, NULL, nothing, NULL) != 0)
            bench_die("pthread_create");
        if (pthread_join(th, NULL) != 0)
            bench_die("pthread_join");
    }
}

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 1, .path = "/usr/bin/busybox", .mib = 1 };
    bench_parse(argc, argv, &o);
    bench_result("us_per_cycle", bench_loop(op, NULL, o.budget_s) / 1000.0);
    return 0;
}
