/*
 * Unit tests of timerfd's TFD_TIMER_CANCEL_ON_SET (kernel/ipc/timerfd.c).
 * A real cancellation needs the host's realtime clock to be set, which no
 * test may do; here the host clock watch is a fake that records the
 * callback timerfd registers, and the tests call it as the host epoll loop
 * would after the host timerfd reported ECANCELED. Everything timerfd.c
 * uses outside itself is faked below: files, wait queues (wake-ups are
 * counted), the timer service (armed deadlines are recorded and fired by
 * hand) and the clocks (a settable fake time). Reads are non-blocking.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/host/host.h"
#include "kernel/host/host_io.h"
#include "kernel/ipc/anon.h"
#include "kernel/ipc/timerfd.h"
#include "kernel/task/ktimer.h"
#include "kernel/task/task.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"

#define SEC 1000000000ULL
#define CLK_REALTIME  0
#define CLK_MONOTONIC 1

/* ---- fakes ---- */

static uint64_t g_mono = 1000 * SEC;     /* fake CLOCK_MONOTONIC */
static uint64_t g_real = 1700000000 * SEC; /* fake CLOCK_REALTIME */
static int g_wakes;                      /* waitq_wake_* calls */
static void (*g_clock_fn)(void);         /* what timerfd asked the host watch to call */
static int g_watch_calls;
static int g_watch_err;                  /* what the fake watch returns */
static struct ktimer *g_last_kt;         /* the last timer ktimer_init saw */

uint64_t host_monotonic_ns(void)
{
    return g_mono;
}

int host_clock_gettime(int clock, int64_t *out_sec, int64_t *out_nsec)
{
    uint64_t v = clock == CLK_REALTIME ? g_real : g_mono;
    *out_sec = (int64_t)(v / SEC);
    *out_nsec = (int64_t)(v % SEC);
    return 0;
}

int host_io_watch_clock_set(void (*fn)(void))
{
    g_watch_calls++;
    if (g_watch_err)
        return g_watch_err;
    ck_assert(!g_clock_fn || g_clock_fn == fn);
    g_clock_fn = fn;
    return 0;
}

void ktimer_init(struct ktimer *k, void (*fire)(struct ktimer *k, void *arg), void *arg)
{
    memset(k, 0, sizeof(*k));
    k->fire = fire;
    k->arg = arg;
    g_last_kt = k;
}

void ktimer_arm(struct ktimer *k, uint64_t deadline, uint64_t interval)
{
    k->deadline = deadline;
    k->interval = interval;
}

void ktimer_cancel(struct ktimer *k)
{
    k->deadline = 0;
}

void waitq_init(struct waitq *wq)
{
    memset(wq, 0, sizeof(*wq));
}

void waitq_add(struct waitq *wq, struct waiter *w, struct task *t)
{
}

void waitq_del(struct waitq *wq, struct waiter *w)
{
}

void waitq_wake_all(struct waitq *wq)
{
    g_wakes++;
}

void waitq_wake_key(struct waitq *wq, unsigned key)
{
    g_wakes++;
}

void poll_wait(struct poll_table *pt, struct waitq *wq)
{
}

struct task *task_current(void)
{
    return NULL;
}

uint32_t task_wake_seq(struct task *t)
{
    return 0;
}

int task_sleep(struct task *t, uint32_t seq, uint64_t deadline_ns)
{
    ck_abort_msg("a test read would block");
    return -EINTR;
}

unsigned vfs_file_flags(struct file *f)
{
    return f->flags;
}

int anon_file_new(const char *name, const struct file_ops *ops, void *priv, unsigned flags,
                  struct file **out)
{
    struct file *f = calloc(1, sizeof(*f));
    f->ops = ops;
    f->priv = priv;
    f->flags = flags;
    *out = f;
    return 0;
}

int anon_dname(struct file *f, char *buf, size_t size)
{
    return 0;
}

/* ---- helpers ---- */

struct tf {
    struct file *f;
    struct ktimer *kt;
};

static struct tf tfd(int clockid)
{
    struct tf t;
    ck_assert_int_eq(timerfd_create_file(clockid, O_NONBLOCK, &t.f), 0);
    t.kt = g_last_kt;
    return t;
}

static void tfd_close(struct tf t)
{
    t.f->ops->release(t.f);
    free(t.f);
}

/* Arms T at fake realtime + SECS (ABSTIME) or in SECS (relative); 0 disarms. */
static int arm(struct tf t, int flags, uint64_t secs)
{
    uint64_t ov, oi;
    uint64_t value = !secs ? 0 : flags & TIMERFD_ABSTIME ? g_real + secs * SEC : secs * SEC;
    return timerfd_settime_file(t.f, flags, value, 0, &ov, &oi);
}

static long rd(struct tf t, uint64_t *v)
{
    uint64_t pos = 0;
    *v = 0;
    return t.f->ops->read(t.f, v, sizeof(*v), &pos);
}

static bool readable(struct tf t)
{
    return t.f->ops->poll(t.f, NULL) & LPOLLIN;
}

/* Moves the fake time to T's deadline and fires it as the timer service
 * would. */
static void expire(struct tf t)
{
    ck_assert_uint_ne(t.kt->deadline, 0);
    uint64_t d = t.kt->deadline - g_mono;
    g_mono += d;
    g_real += d;
    t.kt->deadline = t.kt->interval ? t.kt->deadline + t.kt->interval : 0;
    t.kt->fire(t.kt, t.kt->arg);
}

/* The host clock was set (by D ns): what the host epoll loop does. */
static void clock_set(int64_t d)
{
    g_real += (uint64_t)d;
    ck_assert_ptr_nonnull(g_clock_fn);
    g_clock_fn();
}

#define CANCEL_FLAGS (TIMERFD_ABSTIME | TIMERFD_CANCEL_ON_SET)

/* ---- tests ---- */

START_TEST(test_cancel)
{
    struct tf t = tfd(CLK_REALTIME);
    uint64_t v;
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 60), 0);
    ck_assert_int_eq(g_watch_calls, 1);
    ck_assert_ptr_eq(g_clock_fn, timerfd_clock_was_set);
    ck_assert(!readable(t));
    ck_assert_int_eq(rd(t, &v), -EAGAIN);
    int wakes = g_wakes;
    clock_set(-3600 * (int64_t)SEC);
    ck_assert_int_gt(g_wakes, wakes);
    ck_assert(readable(t));
    ck_assert_int_eq(rd(t, &v), -ECANCELED);
    ck_assert(!readable(t));
    ck_assert_int_eq(rd(t, &v), -EAGAIN);
    /* Still armed, as in Linux: it expires later and counts again. */
    ck_assert_uint_ne(t.kt->deadline, 0);
    expire(t);
    ck_assert_int_eq(rd(t, &v), 8);
    ck_assert_uint_eq(v, 1);
    tfd_close(t);
}
END_TEST

START_TEST(test_cancel_drops_count)
{
    struct tf t = tfd(CLK_REALTIME);
    uint64_t v;
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 5), 0);
    expire(t);
    ck_assert(readable(t));
    clock_set(SEC);
    ck_assert_int_eq(rd(t, &v), -ECANCELED);
    ck_assert_int_eq(rd(t, &v), -EAGAIN);
    /* Two sets before a read: one ECANCELED. */
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 5), 0);
    clock_set(SEC);
    clock_set(SEC);
    ck_assert_int_eq(rd(t, &v), -ECANCELED);
    ck_assert_int_eq(rd(t, &v), -EAGAIN);
    tfd_close(t);
}
END_TEST

START_TEST(test_not_cancelled)
{
    /* Without ABSTIME, without the flag, or on CLOCK_MONOTONIC: the flag
     * does not apply (Linux), a clock set changes nothing. */
    struct tf rel = tfd(CLK_REALTIME), abs = tfd(CLK_REALTIME), mono = tfd(CLK_MONOTONIC);
    uint64_t v;
    ck_assert_int_eq(arm(rel, TIMERFD_CANCEL_ON_SET, 60), 0);
    ck_assert_int_eq(arm(mono, CANCEL_FLAGS, 60), 0);
    ck_assert_int_eq(g_watch_calls, 0);
    ck_assert_int_eq(arm(abs, TIMERFD_ABSTIME, 60), 0);
    ck_assert_int_eq(g_watch_calls, 1); /* its deadline follows the clock */
    struct tf c = tfd(CLK_REALTIME); /* one that is cancelled, for the watch */
    ck_assert_int_eq(arm(c, CANCEL_FLAGS, 60), 0);
    clock_set(SEC);
    ck_assert(!readable(rel) && !readable(abs) && !readable(mono));
    ck_assert_int_eq(rd(rel, &v), -EAGAIN);
    ck_assert_int_eq(rd(abs, &v), -EAGAIN);
    ck_assert_int_eq(rd(mono, &v), -EAGAIN);
    ck_assert_int_eq(rd(c, &v), -ECANCELED);
    tfd_close(rel);
    tfd_close(abs);
    tfd_close(mono);
    tfd_close(c);
}
END_TEST

START_TEST(test_rearm)
{
    struct tf t = tfd(CLK_REALTIME);
    uint64_t v;
    /* Re-armed without the flag: off the list. */
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 60), 0);
    ck_assert_int_eq(arm(t, TIMERFD_ABSTIME, 60), 0);
    clock_set(SEC);
    ck_assert_int_eq(rd(t, &v), -EAGAIN);
    /* Disarmed with the flag: still cancelled by a set (Linux keeps the
     * timer on its cancel list). */
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 0), 0);
    clock_set(SEC);
    ck_assert_int_eq(rd(t, &v), -ECANCELED);
    /* A cancellation not read survives a settime, which drops the count:
     * the next expiry reads ECANCELED (as Linux). */
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 60), 0);
    clock_set(SEC);
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 60), 0);
    ck_assert(!readable(t));
    expire(t);
    ck_assert_int_eq(rd(t, &v), -ECANCELED);
    /* Armed twice with the flag: on the list once (a set cancels it once,
     * and closing it leaves nothing behind for the next set). */
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 60), 0);
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 60), 0);
    tfd_close(t);
    clock_set(SEC); /* a freed timer on the list would be used here */
}
END_TEST

START_TEST(test_many)
{
    struct tf t[8];
    uint64_t v;
    for (int i = 0; i < 8; i++) {
        t[i] = tfd(CLK_REALTIME);
        ck_assert_int_eq(arm(t[i], CANCEL_FLAGS, 10 + i), 0);
    }
    tfd_close(t[3]);
    clock_set(-SEC);
    for (int i = 0; i < 8; i++) {
        if (i == 3)
            continue;
        ck_assert_int_eq(rd(t[i], &v), -ECANCELED);
        tfd_close(t[i]);
    }
}
END_TEST

START_TEST(test_watch_fails)
{
    /* The host watch cannot be set up: settime fails and leaves the timer
     * as it was. */
    struct tf t = tfd(CLK_REALTIME);
    uint64_t v;
    g_watch_err = -EMFILE;
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 60), -ENOMEM);
    ck_assert_uint_eq(t.kt->deadline, 0);
    g_watch_err = 0;
    ck_assert_int_eq(arm(t, CANCEL_FLAGS, 60), 0);
    clock_set(SEC);
    ck_assert_int_eq(rd(t, &v), -ECANCELED);
    tfd_close(t);
}
END_TEST

START_TEST(test_abs_follows_clock)
{
    struct tf t = tfd(CLK_REALTIME), rel = tfd(CLK_REALTIME), mono = tfd(CLK_MONOTONIC);
    uint64_t v, left, iv;
    ck_assert_int_eq(arm(t, TIMERFD_ABSTIME, 60), 0);
    ck_assert_int_eq(arm(rel, 0, 60), 0);
    ck_assert_int_eq(arm(mono, TIMERFD_ABSTIME, 60), 0);
    uint64_t rel_d = rel.kt->deadline, mono_d = mono.kt->deadline;
    ck_assert_uint_eq(t.kt->deadline, g_mono + 60 * SEC);
    /* Forward 30 s: due in 30 s; back 60 s: due in 90 s. */
    clock_set(30 * (int64_t)SEC);
    ck_assert_uint_eq(t.kt->deadline, g_mono + 30 * SEC);
    timerfd_gettime_file(t.f, &left, &iv);
    ck_assert_uint_eq(left, 30 * SEC);
    ck_assert_int_eq(rd(t, &v), -EAGAIN); /* no CANCEL_ON_SET: not cancelled */
    clock_set(-60 * (int64_t)SEC);
    ck_assert_uint_eq(t.kt->deadline, g_mono + 90 * SEC);
    /* Relative and CLOCK_MONOTONIC timers do not move. */
    ck_assert_uint_eq(rel.kt->deadline, rel_d);
    ck_assert_uint_eq(mono.kt->deadline, mono_d);
    /* Past the expiry: due now, fires once. */
    clock_set(1000 * (int64_t)SEC);
    ck_assert_uint_eq(t.kt->deadline, g_mono);
    expire(t);
    ck_assert_int_eq(rd(t, &v), 8);
    ck_assert_uint_eq(v, 1);
    /* A one-shot that expired is left alone by later sets. */
    clock_set(-1000 * (int64_t)SEC);
    ck_assert_uint_eq(t.kt->deadline, 0);
    tfd_close(t);
    tfd_close(rel);
    tfd_close(mono);
}
END_TEST

START_TEST(test_abs_periodic)
{
    struct tf t = tfd(CLK_REALTIME);
    uint64_t ov, oi, v;
    ck_assert_int_eq(timerfd_settime_file(t.f, TIMERFD_ABSTIME, g_real + 10 * SEC, 5 * SEC, &ov,
                                          &oi),
                     0);
    expire(t); /* at +10 s; next at +15 s */
    ck_assert_int_eq(rd(t, &v), 8);
    clock_set(3 * (int64_t)SEC);
    ck_assert_uint_eq(t.kt->deadline, g_mono + 2 * SEC);
    ck_assert_uint_eq(t.kt->interval, 5 * SEC);
    /* A callback already under way for the old deadline counts nothing. */
    t.kt->fire(t.kt, t.kt->arg);
    ck_assert_int_eq(rd(t, &v), -EAGAIN);
    expire(t);
    ck_assert_int_eq(rd(t, &v), 8);
    ck_assert_uint_eq(v, 1);
    /* With CANCEL_ON_SET too: cancelled and moved. */
    ck_assert_int_eq(timerfd_settime_file(t.f, CANCEL_FLAGS, g_real + 10 * SEC, 0, &ov, &oi),
                     0);
    clock_set(-10 * (int64_t)SEC);
    ck_assert_uint_eq(t.kt->deadline, g_mono + 20 * SEC);
    ck_assert_int_eq(rd(t, &v), -ECANCELED);
    tfd_close(t);
}
END_TEST

/* Each test starts with fresh counters (also with CK_FORK=no). */
static void reset(void)
{
    g_watch_calls = 0;
    g_watch_err = 0;
}

int main(void)
{
    Suite *s = suite_create("timerfd");
    TCase *tc = tcase_create("cancel_on_set");
    tcase_add_checked_fixture(tc, reset, NULL);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_cancel_drops_count);
    tcase_add_test(tc, test_not_cancelled);
    tcase_add_test(tc, test_rearm);
    tcase_add_test(tc, test_many);
    tcase_add_test(tc, test_watch_fails);
    tcase_add_test(tc, test_abs_follows_clock);
    tcase_add_test(tc, test_abs_periodic);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
