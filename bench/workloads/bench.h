/* Shared helpers for moat's microbenchmarks (bench/workloads/NAME.c).
 *
 * Each workload is a static binary that prints exactly one line on stdout:
 *     result <unit> <value>
 * and exits 0; anything else (a message on stderr, a non-zero exit) means the
 * cell failed. Loop workloads calibrate their batch size to the runtime they
 * find themselves in, run batches for a time budget and report the median
 * per-op time over the batches, so a slow runtime costs time, not a hang.
 *
 * Common options: -t SECONDS  time budget of a loop workload (default 0.5)
 *                 -r N        in-process repetitions of a one-shot workload
 *                 -f PATH     file for open/stat (default /usr/bin/busybox)
 *                 -m MIB      size for page touch and pipe
 */
#ifndef MOAT_BENCH_H
#define MOAT_BENCH_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct bench_opts {
    double budget_s;
    int reps;
    const char *path;
    long mib;
};

static inline void bench_die(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        bench_die("clock_gettime");
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void bench_parse(int argc, char **argv, struct bench_opts *o)
{
    int c;
    while ((c = getopt(argc, argv, "t:r:f:m:")) != -1) {
        switch (c) {
        case 't': o->budget_s = atof(optarg); break;
        case 'r': o->reps = atoi(optarg); break;
        case 'f': o->path = optarg; break;
        case 'm': o->mib = atol(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-t sec] [-r reps] [-f path] [-m MiB]\n", argv[0]);
            exit(2);
        }
    }
    if (o->budget_s <= 0 || o->reps < 1 || o->mib < 1) {
        fprintf(stderr, "bench: bad option value\n");
        exit(2);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define BENCH_MAX_BATCHES 256
#define BENCH_MIN_BATCHES 5

/* Runs op(n, ctx) in batches for about budget_s seconds and returns the
 * median nanoseconds per op. The batch size grows until one batch takes about
 * 1/20 of the budget (at least 1 ms), so the clock reads are negligible even
 * where clock_gettime is itself trapped. */
static inline double bench_loop(void (*op)(long n, void *ctx), void *ctx, double budget_s)
{
    uint64_t budget = (uint64_t)(budget_s * 1e9);
    uint64_t target = budget / 20 < 1000000 ? 1000000 : budget / 20;
    uint64_t start = now_ns();
    long n = 1;
    uint64_t t;

    op(1, ctx); /* warm up */
    for (;;) {
        uint64_t t0 = now_ns();
        op(n, ctx);
        t = now_ns() - t0;
        if (t >= target || now_ns() - start > budget / 2)
            break;
        long next = t ? (long)((double)n * (double)target / (double)t * 1.2) : n * 16;
        if (next > n * 16)
            next = n * 16;
        n = next > n ? next : n * 2;
    }

    static double per_op[BENCH_MAX_BATCHES];
    int k = 0;
    per_op[k++] = (double)t / (double)n;
    while (k < BENCH_MAX_BATCHES && (k < BENCH_MIN_BATCHES || now_ns() - start < budget)) {
        uint64_t t0 = now_ns();
        op(n, ctx);
        per_op[k++] = (double)(now_ns() - t0) / (double)n;
    }
    return median(per_op, k);
}

static inline void bench_result(const char *unit, double value)
{
    printf("result %s %.1f\n", unit, value);
    fflush(stdout);
}

#endif
