/*
 * Probe: requeue-PI futexes (FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI):
 * argument errors, value mismatch, absolute timeouts on both clocks, the
 * requeuer taking a free PI futex for the top waiter, waiters requeued onto
 * a held PI futex acquiring it in turn, FUTEX_WAKE and plain CMP_REQUEUE
 * refusing requeue-PI waiters; and a pthread condition variable used with a
 * PTHREAD_PRIO_INHERIT mutex.
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "tap.h"

static long fx(uint32_t *uaddr, int op, uint32_t val, const void *timeout, uint32_t *uaddr2,
               uint32_t val3)
{
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

static void settle(void)
{
    struct timespec ts = {0, 100000000L};
    nanosleep(&ts, NULL);
}

static struct timespec deadline_in(clockid_t clk, long ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_nsec += ms * 1000000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static uint32_t g_cond, g_pi, g_other;
static volatile int g_got;

/* Waits on g_cond for requeue onto g_pi; on success checks it owns g_pi and
 * unlocks it. Returns 1 for success, else -errno. */
static void *rq_waiter(void *arg)
{
    (void)arg;
    long r = fx(&g_cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, NULL, &g_pi, 0);
    if (r != 0)
        return (void *)(intptr_t)-errno;
    uint32_t tid = (uint32_t)syscall(SYS_gettid);
    int ok = (g_pi & FUTEX_TID_MASK) == tid;
    __atomic_add_fetch(&g_got, 1, __ATOMIC_SEQ_CST);
    if (fx(&g_pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) != 0)
        ok = 0;
    return (void *)(intptr_t)ok;
}

static void test_errors(void)
{
    g_cond = 0;
    g_pi = 0;
    T_ERRNO(fx(&g_cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, NULL, &g_cond, 0), EINVAL,
            "WAIT_REQUEUE_PI with uaddr == uaddr2: EINVAL");
    T_ERRNO(fx(&g_cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 1, NULL, &g_pi, 0), EAGAIN,
            "WAIT_REQUEUE_PI on a changed value: EAGAIN");
    T_ERRNO(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)1, &g_cond, 0), EINVAL,
            "CMP_REQUEUE_PI with uaddr == uaddr2: EINVAL");
    T_ERRNO(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 2, (void *)1, &g_pi, 0), EINVAL,
            "CMP_REQUEUE_PI with nr_wake 2: EINVAL");
    T_ERRNO(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 0, (void *)1, &g_pi, 0), EINVAL,
            "CMP_REQUEUE_PI with nr_wake 0: EINVAL");
    T_ERRNO(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)1, &g_pi, 7), EAGAIN,
            "CMP_REQUEUE_PI with a mismatched value: EAGAIN");
    T_EQ(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)1, &g_pi, 0), 0,
         "CMP_REQUEUE_PI with no waiters: 0");
    T_ERRNO(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE | FUTEX_CLOCK_REALTIME, 1, (void *)1, &g_pi, 0),
            ENOSYS, "CMP_REQUEUE_PI with FUTEX_CLOCK_REALTIME: ENOSYS");
    T_EQ(g_pi, 0, "the PI word is untouched");
}

static void test_timeouts(void)
{
    g_cond = 0;
    struct timespec dl = deadline_in(CLOCK_MONOTONIC, 30);
    T_ERRNO(fx(&g_cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, &dl, &g_pi, 0), ETIMEDOUT,
            "WAIT_REQUEUE_PI times out at a CLOCK_MONOTONIC deadline");
    dl = deadline_in(CLOCK_REALTIME, 30);
    T_ERRNO(fx(&g_cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &dl, &g_pi, 0),
            ETIMEDOUT, "WAIT_REQUEUE_PI times out at a CLOCK_REALTIME deadline");
    struct timespec bad = {0, 1000000000L};
    T_ERRNO(fx(&g_cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, &bad, &g_pi, 0), EINVAL,
            "WAIT_REQUEUE_PI with tv_nsec out of range: EINVAL");
}

static void test_free_lock(void)
{
    g_cond = 0;
    g_pi = 0;
    g_got = 0;
    pthread_t th;
    pthread_create(&th, NULL, rq_waiter, NULL);
    settle();
    T_EQ(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)0, &g_pi, 0), 1,
         "CMP_REQUEUE_PI on a free PI futex wakes the waiter: 1");
    void *ok;
    pthread_join(th, &ok);
    T_EQ((long)(intptr_t)ok, 1, "the waiter returned 0 owning the PI futex");
    T_EQ(g_pi, 0, "the PI futex is free after its unlock");
}

static void test_held_lock(void)
{
    uint32_t me = (uint32_t)syscall(SYS_gettid);
    g_cond = 0;
    g_pi = 0;
    g_got = 0;
    T_OK(fx(&g_pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), "LOCK_PI the target");
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, rq_waiter, NULL);
    settle();
    T_ERRNO(fx(&g_cond, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), EINVAL,
            "FUTEX_WAKE on requeue-PI waiters: EINVAL");
    T_ERRNO(fx(&g_cond, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)1, &g_other, 0), EINVAL,
            "plain CMP_REQUEUE of requeue-PI waiters: EINVAL");
    T_ERRNO(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)1, &g_other, 0), EINVAL,
            "CMP_REQUEUE_PI to another PI futex than the waiters named: EINVAL");
    T_EQ(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)1, &g_pi, 0), 2,
         "CMP_REQUEUE_PI onto a held futex, nr_requeue 1: top waiter and 1 more moved");
    T_EQ(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)INT_MAX, &g_pi, 0), 1,
         "CMP_REQUEUE_PI moves the last one");
    T_EQ(g_pi, me | FUTEX_WAITERS, "the owner's word has FUTEX_WAITERS");
    T_EQ(g_got, 0, "no waiter returned while the futex is held");
    T_OK(fx(&g_pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), "UNLOCK_PI");
    int ok = 0;
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        ok += (intptr_t)r == 1;
    }
    T_EQ(ok, 3, "each requeued waiter returned 0 owning the PI futex in turn");
    T_EQ(g_pi, 0, "the PI futex is free at the end");
}

static void test_single_requeued(void)
{
    uint32_t me = (uint32_t)syscall(SYS_gettid);
    g_cond = 0;
    g_pi = 0;
    T_OK(fx(&g_pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), "LOCK_PI the target");
    pthread_t th;
    pthread_create(&th, NULL, rq_waiter, NULL);
    settle();
    T_EQ(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)0, &g_pi, 0), 1,
         "nr_requeue 0 onto a held futex still moves the top waiter");
    T_EQ(g_pi, me | FUTEX_WAITERS, "FUTEX_WAITERS set");
    T_OK(fx(&g_pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), "UNLOCK_PI");
    void *r;
    pthread_join(th, &r);
    T_EQ((long)(intptr_t)r, 1, "the waiter got it");
}

static void on_usr1(int sig)
{
    (void)sig;
}

/* A signal to a waiter already requeued ends its wait with EAGAIN (it cannot
 * restart into the condition wait); before the requeue the wait restarts. */
static void test_signal(void)
{
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &sa, NULL);
    g_cond = 0;
    g_pi = 0;
    T_OK(fx(&g_pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), "LOCK_PI the target");
    pthread_t th;
    pthread_create(&th, NULL, rq_waiter, NULL);
    settle();
    pthread_kill(th, SIGUSR1);
    settle();
    T_EQ(fx(&g_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)0, &g_pi, 0), 1,
         "a signal before the requeue restarts the wait: still there to move");
    pthread_kill(th, SIGUSR1);
    void *r;
    pthread_join(th, &r);
    T_EQ((long)(intptr_t)r, -EAGAIN, "a signal after the requeue: EAGAIN");
    T_OK(fx(&g_pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), "UNLOCK_PI");
    T_EQ(g_pi, 0, "free");
}

/* A condition variable with a priority-inheritance mutex, as applications use it. */
static pthread_mutex_t g_m;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_ready, g_done;

static void *cv_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_m);
    while (!g_ready)
        pthread_cond_wait(&g_cv, &g_m);
    g_done++;
    pthread_mutex_unlock(&g_m);
    return NULL;
}

static void test_condvar(void)
{
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_setprotocol(&at, PTHREAD_PRIO_INHERIT);
    T_OK(pthread_mutex_init(&g_m, &at), "PTHREAD_PRIO_INHERIT mutex");
    pthread_t th[16];
    for (int i = 0; i < 16; i++)
        pthread_create(&th[i], NULL, cv_thread, NULL);
    settle();
    pthread_mutex_lock(&g_m);
    g_ready = 1;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_m);
    for (int i = 0; i < 16; i++)
        pthread_join(th[i], NULL);
    T_EQ(g_done, 16, "16 condvar waiters woke by broadcast with a PI mutex");
    struct timespec dl = deadline_in(CLOCK_REALTIME, 20);
    pthread_mutex_lock(&g_m);
    T_EQ(pthread_cond_timedwait(&g_cv, &g_m, &dl), ETIMEDOUT, "pthread_cond_timedwait times out");
    pthread_mutex_unlock(&g_m);
}

int main(void)
{
    tap_init("futex_pi");
    test_errors();
    test_timeouts();
    test_free_lock();
    test_held_lock();
    test_single_requeued();
    test_signal();
    test_condvar();
    return tap_done();
}
