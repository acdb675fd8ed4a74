/* Unit tests of the memory file and its offset allocator. */
#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/mm/memfile.h"
#include "lib/util.h"

#define TEST_SIZE (64ULL << 30)

static void setup(void)
{
    ck_assert_int_eq(memfile_init(TEST_SIZE), 0);
}

static uint64_t extents(void)
{
    uint64_t n;
    memfile_stats(NULL, NULL, &n);
    return n;
}

static uint64_t used(void)
{
    uint64_t n;
    memfile_stats(&n, NULL, NULL);
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(alloc_is_zero_and_distinct)
{
    uint64_t a, b;
    ck_assert_int_eq(memfile_alloc(2 * PAGE_SIZE, &a), 0);
    ck_assert_int_eq(memfile_alloc(PAGE_SIZE, &b), 0);
    ck_assert(a + 2 * PAGE_SIZE <= b || b + PAGE_SIZE <= a);
    ck_assert_uint_eq(used(), 3 * PAGE_SIZE);
    memset(memfile_ptr(a), 0xab, 2 * PAGE_SIZE);
    memfile_free(a, 2 * PAGE_SIZE);
    uint64_t c;
    ck_assert_int_eq(memfile_alloc(2 * PAGE_SIZE, &c), 0);
    ck_assert_uint_eq(c, a); /* first fit */
    for (size_t i = 0; i < 2 * PAGE_SIZE; i++)
        ck_assert_int_eq(((uint8_t *)memfile_ptr(c))[i], 0);
    ck_assert_int_eq(memfile_alloc(0, &c), -EINVAL);
    ck_assert_int_eq(memfile_alloc(100, &c), -EINVAL);
}
END_TEST

START_TEST(coalescing)
{
    uint64_t o[5];
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(memfile_alloc(PAGE_SIZE, &o[i]), 0);
    ck_assert_uint_eq(extents(), 1);
    memfile_free(o[1], PAGE_SIZE);
    memfile_free(o[3], PAGE_SIZE);
    ck_assert_uint_eq(extents(), 3);
    memfile_free(o[2], PAGE_SIZE); /* joins both neighbours */
    ck_assert_uint_eq(extents(), 2);
    memfile_free(o[4], PAGE_SIZE); /* joins the tail */
    ck_assert_uint_eq(extents(), 1);
    memfile_free(o[0], PAGE_SIZE);
    ck_assert_uint_eq(extents(), 1);
    ck_assert_uint_eq(used(), 0);
    uint64_t big;
    ck_assert_int_eq(memfile_alloc(TEST_SIZE, &big), 0); /* everything is one extent again */
    ck_assert_uint_eq(big, 0);
    uint64_t x;
    ck_assert_int_eq(memfile_alloc(PAGE_SIZE, &x), -ENOMEM);
}
END_TEST

START_TEST(alloc_at)
{
    uint64_t a;
    ck_assert_int_eq(memfile_alloc(4 * PAGE_SIZE, &a), 0);
    ck_assert_int_eq(memfile_alloc_at(a, PAGE_SIZE), -ENOMEM);          /* taken */
    ck_assert_int_eq(memfile_alloc_at(a + 3 * PAGE_SIZE, 2 * PAGE_SIZE), -ENOMEM); /* partly */
    ck_assert_int_eq(memfile_alloc_at(a + 4 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
    ck_assert_int_eq(memfile_alloc_at(a + 10 * PAGE_SIZE, PAGE_SIZE), 0); /* middle of free */
    ck_assert_uint_eq(extents(), 2);
    ck_assert_uint_eq(used(), 7 * PAGE_SIZE);
    uint64_t b;
    ck_assert_int_eq(memfile_alloc(4 * PAGE_SIZE, &b), 0);
    ck_assert_uint_eq(b, a + 6 * PAGE_SIZE); /* the hole left before a+10 pages */
    ck_assert_int_eq(memfile_alloc_at(TEST_SIZE, PAGE_SIZE), -ENOMEM);
    ck_assert_int_eq(memfile_alloc_at(a + 1, PAGE_SIZE), -EINVAL);
}
END_TEST

START_TEST(double_free_aborts)
{
    uint64_t a;
    ck_assert_int_eq(memfile_alloc(PAGE_SIZE, &a), 0);
    memfile_free(a, PAGE_SIZE);
    memfile_free(a, PAGE_SIZE);
}
END_TEST

START_TEST(next_data)
{
    uint64_t a, s, e;
    ck_assert_int_eq(memfile_alloc(16 * PAGE_SIZE, &a), 0);
    ck_assert_int_eq(memfile_next_data(a, a + 16 * PAGE_SIZE, &s, &e), -ENXIO);
    ((uint8_t *)memfile_ptr(a + 3 * PAGE_SIZE))[10] = 1;
    ((uint8_t *)memfile_ptr(a + 4 * PAGE_SIZE))[10] = 1;
    ((uint8_t *)memfile_ptr(a + 9 * PAGE_SIZE))[0] = 1;
    ck_assert_int_eq(memfile_next_data(a, a + 16 * PAGE_SIZE, &s, &e), 0);
    ck_assert_uint_eq(s, a + 3 * PAGE_SIZE);
    ck_assert_uint_eq(e, a + 5 * PAGE_SIZE);
    ck_assert_int_eq(memfile_next_data(e, a + 16 * PAGE_SIZE, &s, &e), 0);
    ck_assert_uint_eq(s, a + 9 * PAGE_SIZE);
    ck_assert_uint_eq(e, a + 10 * PAGE_SIZE);
    ck_assert_int_eq(memfile_next_data(e, a + 16 * PAGE_SIZE, &s, &e), -ENXIO);
    /* The end bound clips. */
    ck_assert_int_eq(memfile_next_data(a, a + 4 * PAGE_SIZE, &s, &e), 0);
    ck_assert_uint_eq(e, a + 4 * PAGE_SIZE);
    memfile_discard(a, 16 * PAGE_SIZE);
    ck_assert_int_eq(memfile_next_data(a, a + 16 * PAGE_SIZE, &s, &e), -ENXIO);
}
END_TEST

/* Random operations checked against a page bitmap. */
START_TEST(random_vs_model)
{
    enum { PAGES = 4096, SLOTS = 256 };
    static uint8_t owner[PAGES];
    struct { uint64_t off, len; } slot[SLOTS] = {{0}};
    uint64_t base, x;

    /* Confine the test to a 4096-page window: take everything else. */
    ck_assert_int_eq(memfile_alloc(PAGES * PAGE_SIZE, &base), 0);
    ck_assert_int_eq(memfile_alloc(TEST_SIZE - PAGES * PAGE_SIZE, &x), 0);
    memfile_free(base, PAGES * PAGE_SIZE);
    memset(owner, 0, sizeof(owner));
    srand(1);
    uint64_t model_used = 0;
    for (int it = 0; it < 100000; it++) {
        int s = rand() % SLOTS;
        if (slot[s].len) {
            memfile_free(slot[s].off, slot[s].len);
            for (uint64_t p = 0; p < slot[s].len / PAGE_SIZE; p++)
                owner[(slot[s].off - base) / PAGE_SIZE + p] = 0;
            model_used -= slot[s].len;
            slot[s].len = 0;
            continue;
        }
        uint64_t len = (uint64_t)(1 + rand() % 64) * PAGE_SIZE, off;
        int r;
        if (rand() % 4 == 0) {
            off = base + (uint64_t)(rand() % PAGES) * PAGE_SIZE;
            r = memfile_alloc_at(off, len);
            bool free_in_model = off + len <= base + PAGES * PAGE_SIZE;
            for (uint64_t p = 0; free_in_model && p < len / PAGE_SIZE; p++)
                free_in_model = !owner[(off - base) / PAGE_SIZE + p];
            ck_assert_int_eq(r == 0, free_in_model);
        } else {
            r = memfile_alloc(len, &off);
            if (r == 0) {
                /* First fit: no lower free run of LEN pages exists. */
                uint64_t run = 0, first = UINT64_MAX;
                for (uint64_t p = 0; p < PAGES && first == UINT64_MAX; p++) {
                    run = owner[p] ? 0 : run + 1;
                    if (run == len / PAGE_SIZE)
                        first = base + (p + 1 - run) * PAGE_SIZE;
                }
                ck_assert_uint_eq(off, first);
            }
        }
        if (r < 0)
            continue;
        ck_assert(off >= base && off + len <= base + PAGES * PAGE_SIZE);
        for (uint64_t p = 0; p < len / PAGE_SIZE; p++) {
            ck_assert(!owner[(off - base) / PAGE_SIZE + p]);
            owner[(off - base) / PAGE_SIZE + p] = 1;
        }
        slot[s].off = off;
        slot[s].len = len;
        model_used += len;
        ck_assert_uint_eq(used(), model_used + TEST_SIZE - PAGES * PAGE_SIZE);
    }
}
END_TEST

/* Not a check: prints allocator throughput under fragmentation. */
START_TEST(bench_ops)
{
    enum { LIVE = 100000, OPS = 1000000 };
    uint64_t *off = calloc(LIVE, sizeof(*off)), *len = calloc(LIVE, sizeof(*len));
    srand(2);
    for (int i = 0; i < LIVE; i++) {
        len[i] = (uint64_t)(1 + rand() % 16) * PAGE_SIZE;
        ck_assert_int_eq(memfile_alloc(len[i], &off[i]), 0);
    }
    for (int i = 0; i < LIVE; i += 2) {
        memfile_free(off[i], len[i]);
        len[i] = 0;
    }
    double t0 = now();
    for (int it = 0; it < OPS; it++) {
        int i = rand() % LIVE;
        if (len[i]) {
            memfile_free(off[i], len[i]);
            len[i] = 0;
        } else {
            len[i] = (uint64_t)(1 + rand() % 16) * PAGE_SIZE;
            ck_assert_int_eq(memfile_alloc(len[i], &off[i]), 0);
        }
    }
    double dt = now() - t0;
    printf("memfile: %d alloc/free ops with ~%d live ranges, %lu free extents: %.0f ops/s "
           "(each free includes its punch)\n",
           OPS, LIVE / 2, (unsigned long)extents(), OPS / dt);
    free(off);
    free(len);
}
END_TEST

START_TEST(init_one_tib)
{
    /* The production size: sparse and NORESERVE, so it costs nothing. */
    ck_assert_int_eq(memfile_init(1ULL << 40), 0);
    uint64_t a;
    ck_assert_int_eq(memfile_alloc(PAGE_SIZE, &a), 0);
    ck_assert_int_eq(memfile_alloc_at((1ULL << 40) - PAGE_SIZE, PAGE_SIZE), 0);
    ((uint8_t *)memfile_ptr((1ULL << 40) - PAGE_SIZE))[0] = 7;
    memfile_free((1ULL << 40) - PAGE_SIZE, PAGE_SIZE);
}
END_TEST

static Suite *memfile_suite(void)
{
    Suite *s = suite_create("memfile");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, alloc_is_zero_and_distinct);
    tcase_add_test(tc, coalescing);
    tcase_add_test(tc, alloc_at);
    tcase_add_test_raise_signal(tc, double_free_aborts, SIGABRT);
    tcase_add_test(tc, next_data);
    tcase_add_test(tc, random_vs_model);
    tcase_add_test(tc, bench_ops);
    suite_add_tcase(s, tc);
    TCase *big = tcase_create("size");
    tcase_add_test(big, init_one_tib);
    suite_add_tcase(s, big);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(memfile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
