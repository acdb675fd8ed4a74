/*
 * Futexes (see futex.h), PI locks and requeue-PI included. Waiters sleep on
 * moat's per-task wake word, so a signal or timeout ends a wait like any
 * other sleep in the kernel.
 */
#include "kernel/ipc/futex.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abi/linux/errno.h"
#include "abi/linux/futex.h"
#include "kernel/host/host.h"
#include "kernel/mm/mm.h"
#include "kernel/signal/signal.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task.h"
#include "kernel/task/waitq.h"
#include "lib/list.h"
#include "lib/log.h"

#define NR_BUCKETS 256

struct futex_key {
    const void *mm; /* NULL for shared memory */
    uint64_t addr;  /* app address, or memory-file offset when shared */
};

struct futex_bucket {
    pthread_mutex_t lock;
    struct list_head waiters; /* (l) of struct futex_waiter */
};

struct futex_waiter {
    struct list_head link;        /* (b) bucket->lock */
    struct futex_bucket *bucket;  /* (b) changes on requeue, under both locks */
    struct futex_key key;         /* (b) */
    uint32_t bitset;              /* (c) */
    struct task *task;            /* (c) */
    bool woken;                   /* (b) */
    int kind;                     /* (b) WAITER_* */
    struct futex_key pi_key;      /* (c) WAIT_REQUEUE_PI: the PI futex it may move to */
    bool pi_owned;                /* (b) the requeuer took the PI futex for it */
};

enum { WAITER_PLAIN, WAITER_PI, WAITER_REQUEUE_PI };

static struct futex_bucket g_buckets[NR_BUCKETS];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void buckets_init(void)
{
    for (int i = 0; i < NR_BUCKETS; i++) {
        pthread_mutex_init(&g_buckets[i].lock, NULL);
        list_init(&g_buckets[i].waiters);
    }
}

static struct futex_bucket *bucket_of(const struct futex_key *k)
{
    uint64_t h = (uint64_t)(uintptr_t)k->mm * 0x9e3779b97f4a7c15ULL ^ k->addr;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return &g_buckets[h % NR_BUCKETS];
}

static bool key_eq(const struct futex_key *a, const struct futex_key *b)
{
    return a->mm == b->mm && a->addr == b->addr;
}

static int read_word(uint32_t *w, void *arg)
{
    *(uint32_t *)arg = __atomic_load_n(w, __ATOMIC_SEQ_CST);
    return 0;
}

/* The key of the futex word at ADDR, and its current value if OUT_VAL. */
static int get_key(struct task *t, uint64_t addr, bool private_op, struct futex_key *out,
                   uint32_t *out_val)
{
    struct mm_word_key wk;
    uint32_t v = 0;
    int r = mm_word_op(t->mm, addr, false, out_val ? read_word : NULL, &v, &wk);
    if (r < 0)
        return r;
    if (wk.shared && !private_op) {
        out->mm = NULL;
        out->addr = wk.memfile_off;
    } else {
        out->mm = t->mm;
        out->addr = addr;
    }
    if (out_val)
        *out_val = v;
    return 0;
}

static void lock_two(struct futex_bucket *a, struct futex_bucket *b)
{
    if (a == b) {
        pthread_mutex_lock(&a->lock);
    } else if (a < b) {
        pthread_mutex_lock(&a->lock);
        pthread_mutex_lock(&b->lock);
    } else {
        pthread_mutex_lock(&b->lock);
        pthread_mutex_lock(&a->lock);
    }
}

static void unlock_two(struct futex_bucket *a, struct futex_bucket *b)
{
    pthread_mutex_unlock(&a->lock);
    if (a != b)
        pthread_mutex_unlock(&b->lock);
}

/* Locks the bucket W is on now (requeue may move it). */
static struct futex_bucket *lock_waiter_bucket(struct futex_waiter *w)
{
    for (;;) {
        struct futex_bucket *b = __atomic_load_n(&w->bucket, __ATOMIC_ACQUIRE);
        pthread_mutex_lock(&b->lock);
        if (__atomic_load_n(&w->bucket, __ATOMIC_ACQUIRE) == b)
            return b;
        pthread_mutex_unlock(&b->lock);
    }
}

static int wake_locked(struct futex_bucket *b, const struct futex_key *k, int n, uint32_t bitset)
{
    int woken = 0;
    struct futex_waiter *w, *tmp;
    list_for_each_entry_safe(w, tmp, &b->waiters, link) {
        if (woken >= n)
            break;
        if (!key_eq(&w->key, k) || !(w->bitset & bitset))
            continue;
        list_del(&w->link);
        w->woken = true;
        task_wake(w->task);
        woken++;
    }
    return woken;
}

/* Converts a futex timeout to an absolute CLOCK_MONOTONIC deadline (0 for
 * none). ABSOLUTE timeouts are on CLOCK_REALTIME if REALTIME, else
 * CLOCK_MONOTONIC. */
static int futex_deadline(struct task *t, uint64_t utime, bool absolute, bool realtime,
                          uint64_t *out)
{
    *out = 0;
    if (!utime)
        return 0;
    struct linux_timespec ts;
    if (copy_in(t, &ts, utime, sizeof(ts)) < 0)
        return -EFAULT;
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000)
        return -EINVAL;
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    uint64_t now = host_monotonic_ns();
    if (!absolute) {
        *out = now + ns;
    } else if (realtime) {
        int64_t s, n;
        host_clock_gettime(CLOCK_REALTIME, &s, &n);
        uint64_t rnow = (uint64_t)s * 1000000000ULL + (uint64_t)n;
        *out = ns > rnow ? now + (ns - rnow) : now;
    } else {
        *out = ns;
    }
    if (*out == 0)
        *out = 1;
    return 0;
}

static long futex_wait(struct task *t, uint64_t uaddr, bool priv, uint32_t val,
                       uint64_t deadline, uint32_t bitset)
{
    if (!bitset)
        return -EINVAL;
    struct futex_waiter w = {.bitset = bitset, .task = t};
    uint32_t cur;
    uint32_t seq = task_wake_seq(t);
    struct futex_key k;
    int r = get_key(t, uaddr, priv, &k, NULL);
    if (r < 0)
        return r;
    struct futex_bucket *b = bucket_of(&k);
    pthread_mutex_lock(&b->lock);
    /* Read the value under the bucket lock: a waker that changed it takes
     * this lock after us and sees us queued (futex(2)'s ordering). */
    r = mm_word_op(t->mm, uaddr, false, read_word, &cur, NULL);
    if (r < 0 || cur != val) {
        pthread_mutex_unlock(&b->lock);
        return r < 0 ? r : -EAGAIN;
    }
    w.key = k;
    w.bucket = b;
    list_add_tail(&w.link, &b->waiters);
    pthread_mutex_unlock(&b->lock);

    for (;;) {
        int s = task_sleep(t, seq, deadline);
        b = lock_waiter_bucket(&w);
        if (w.woken) {
            pthread_mutex_unlock(&b->lock);
            return 0;
        }
        if (s == -ETIMEDOUT || s == -EINTR) {
            list_del(&w.link);
            pthread_mutex_unlock(&b->lock);
            return s == -ETIMEDOUT ? -ETIMEDOUT : -ERESTARTSYS;
        }
        /* Woken for something else. A waker sets w.woken under this lock
         * before it bumps the sequence, so reading it here loses nothing. */
        seq = task_wake_seq(t);
        pthread_mutex_unlock(&b->lock);
    }
}

/* CHECK_PI: fail with EINVAL on PI waiters, as FUTEX_WAKE does; robust-list
 * cleanup wakes them all the same so that they take the dead owner's lock. */
static long futex_wake(struct task *t, uint64_t uaddr, bool priv, int n, uint32_t bitset,
                       bool check_pi)
{
    if (!bitset)
        return -EINVAL;
    struct futex_key k;
    int r = get_key(t, uaddr, priv, &k, NULL);
    if (r < 0)
        return r;
    struct futex_bucket *b = bucket_of(&k);
    pthread_mutex_lock(&b->lock);
    /* Linux refuses to wake PI waiters (or requeue-PI waiters) this way. */
    int seen = 0;
    struct futex_waiter *w;
    list_for_each_entry(w, &b->waiters, link) {
        if (seen >= n)
            break;
        if (!key_eq(&w->key, &k) || !(w->bitset & bitset))
            continue;
        if (check_pi && w->kind != WAITER_PLAIN) {
            pthread_mutex_unlock(&b->lock);
            return -EINVAL;
        }
        seen++;
    }
    int woken = wake_locked(b, &k, n, bitset);
    pthread_mutex_unlock(&b->lock);
    return woken;
}

static long futex_requeue(struct task *t, uint64_t uaddr, bool priv, int nwake, int nmove,
                          uint64_t uaddr2, bool cmp, uint32_t val3)
{
    if (nwake < 0 || nmove < 0)
        return -EINVAL;
    struct futex_key k1, k2;
    int r = get_key(t, uaddr, priv, &k1, NULL);
    if (r == 0)
        r = get_key(t, uaddr2, priv, &k2, NULL);
    if (r < 0)
        return r;
    struct futex_bucket *b1 = bucket_of(&k1), *b2 = bucket_of(&k2);
    lock_two(b1, b2);
    if (cmp) {
        uint32_t cur;
        r = mm_word_op(t->mm, uaddr, false, read_word, &cur, NULL);
        if (r < 0 || cur != val3) {
            unlock_two(b1, b2);
            return r < 0 ? r : -EAGAIN;
        }
    }
    struct futex_waiter *w, *tmp;
    list_for_each_entry(w, &b1->waiters, link) {
        if (key_eq(&w->key, &k1) && w->kind != WAITER_PLAIN) {
            unlock_two(b1, b2);
            return -EINVAL;
        }
    }
    long done = wake_locked(b1, &k1, nwake, FUTEX_BITSET_MATCH_ANY);
    int moved = 0;
    list_for_each_entry_safe(w, tmp, &b1->waiters, link) {
        if (moved >= nmove)
            break;
        if (!key_eq(&w->key, &k1))
            continue;
        list_del(&w->link);
        w->key = k2;
        __atomic_store_n(&w->bucket, b2, __ATOMIC_RELEASE);
        list_add_tail(&w->link, &b2->waiters);
        moved++;
    }
    unlock_two(b1, b2);
    /* Both requeue operations count the waiters woken and moved, as Linux's
     * futex_requeue returns them (the man page says only "woken" for
     * FUTEX_REQUEUE). */
    return done + moved;
}

struct wake_op_arg {
    uint32_t encoded;
    uint32_t old;
};

static int do_wake_op(uint32_t *word, void *argp)
{
    struct wake_op_arg *a = argp;
    unsigned op = (a->encoded >> 28) & 7;
    bool shift = (a->encoded >> 28) & 8;
    uint32_t oparg = (a->encoded >> 12) & 0xfff;
    if (shift)
        oparg = oparg > 31 ? 0 : 1u << oparg;
    uint32_t old = __atomic_load_n(word, __ATOMIC_SEQ_CST), nv;
    do {
        switch (op) {
        case FUTEX_OP_SET: nv = oparg; break;
        case FUTEX_OP_ADD: nv = old + oparg; break;
        case FUTEX_OP_OR: nv = old | oparg; break;
        case FUTEX_OP_ANDN: nv = old & ~oparg; break;
        case FUTEX_OP_XOR: nv = old ^ oparg; break;
        default: return -ENOSYS;
        }
    } while (!__atomic_compare_exchange_n(word, &old, nv, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST));
    a->old = old;
    return 0;
}

static bool wake_op_cmp(uint32_t encoded, uint32_t old)
{
    unsigned cmp = (encoded >> 24) & 15;
    int32_t cmparg = (int32_t)(encoded & 0xfff);
    int32_t o = (int32_t)old;
    switch (cmp) {
    case FUTEX_OP_CMP_EQ: return o == cmparg;
    case FUTEX_OP_CMP_NE: return o != cmparg;
    case FUTEX_OP_CMP_LT: return o < cmparg;
    case FUTEX_OP_CMP_LE: return o <= cmparg;
    case FUTEX_OP_CMP_GT: return o > cmparg;
    case FUTEX_OP_CMP_GE: return o >= cmparg;
    default: return false;
    }
}

static long futex_wake_op(struct task *t, uint64_t uaddr, bool priv, int n1, uint64_t uaddr2,
                          int n2, uint32_t encoded)
{
    struct futex_key k1, k2;
    int r = get_key(t, uaddr, priv, &k1, NULL);
    if (r == 0)
        r = get_key(t, uaddr2, priv, &k2, NULL);
    if (r < 0)
        return r;
    struct futex_bucket *b1 = bucket_of(&k1), *b2 = bucket_of(&k2);
    lock_two(b1, b2);
    struct wake_op_arg arg = {.encoded = encoded};
    r = mm_word_op(t->mm, uaddr2, true, do_wake_op, &arg, NULL);
    if (r < 0) {
        unlock_two(b1, b2);
        return r;
    }
    long woken = wake_locked(b1, &k1, n1, FUTEX_BITSET_MATCH_ANY);
    if (wake_op_cmp(encoded, arg.old))
        woken += wake_locked(b2, &k2, n2, FUTEX_BITSET_MATCH_ANY);
    unlock_two(b1, b2);
    return woken;
}

/* ---- priority-inheritance locks, without the priority boosting (the
 * sandbox has no real-time scheduling to boost) ---- */

struct pi_arg {
    uint32_t tid;
    uint32_t seen;
    int mode; /* 0: try to take, 1: mark waiters, 2: release */
    uint32_t next; /* release: the value to leave */
};

static int pi_word(uint32_t *word, void *argp)
{
    struct pi_arg *a = argp;
    uint32_t old = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    a->seen = old;
    switch (a->mode) {
    case 0:
        if ((old & FUTEX_TID_MASK) == 0) {
            /* Free (or its owner died): take it, keeping the waiters bit. */
            uint32_t nv = a->tid | (old & FUTEX_WAITERS);
            if (__atomic_compare_exchange_n(word, &old, nv, false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST))
                return 1;
            a->seen = old;
        }
        return 0;
    case 1:
        if ((old & FUTEX_TID_MASK) == 0)
            return 0;
        if (!(old & FUTEX_WAITERS) &&
            !__atomic_compare_exchange_n(word, &old, old | FUTEX_WAITERS, false,
                                         __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            a->seen = old;
            return 0;
        }
        a->seen = old | FUTEX_WAITERS;
        return 1;
    default:
        if ((old & FUTEX_TID_MASK) != a->tid)
            return -EPERM;
        __atomic_store_n(word, a->next, __ATOMIC_SEQ_CST);
        return 0;
    }
}

static long futex_lock_pi(struct task *t, uint64_t uaddr, bool priv, uint64_t deadline,
                          bool trylock)
{
    struct futex_key k;
    int r = get_key(t, uaddr, priv, &k, NULL);
    if (r < 0)
        return r;
    struct futex_bucket *b = bucket_of(&k);
    for (;;) {
        uint32_t seq = task_wake_seq(t);
        struct pi_arg a = {.tid = (uint32_t)t->tid};
        pthread_mutex_lock(&b->lock);
        r = mm_word_op(t->mm, uaddr, true, pi_word, &a, NULL);
        if (r != 0) {
            pthread_mutex_unlock(&b->lock);
            return r < 0 ? r : 0; /* 1: taken */
        }
        if ((a.seen & FUTEX_TID_MASK) == (uint32_t)t->tid) {
            pthread_mutex_unlock(&b->lock);
            return -EDEADLK;
        }
        if (trylock) {
            pthread_mutex_unlock(&b->lock);
            return -EAGAIN;
        }
        a.mode = 1;
        r = mm_word_op(t->mm, uaddr, true, pi_word, &a, NULL);
        if (r <= 0) {
            pthread_mutex_unlock(&b->lock);
            if (r < 0)
                return r;
            continue; /* released meanwhile: try again */
        }
        struct futex_waiter w = {.bitset = FUTEX_BITSET_MATCH_ANY, .task = t, .key = k,
                                 .bucket = b, .kind = WAITER_PI};
        list_add_tail(&w.link, &b->waiters);
        pthread_mutex_unlock(&b->lock);
        int s = task_sleep(t, seq, deadline);
        b = lock_waiter_bucket(&w);
        if (!w.woken)
            list_del(&w.link);
        pthread_mutex_unlock(&b->lock);
        if (s == -ETIMEDOUT)
            return -ETIMEDOUT;
        if (s == -EINTR)
            return -ERESTARTNOINTR;
    }
}

static long futex_unlock_pi(struct task *t, uint64_t uaddr, bool priv)
{
    struct futex_key k;
    int r = get_key(t, uaddr, priv, &k, NULL);
    if (r < 0)
        return r;
    struct futex_bucket *b = bucket_of(&k);
    pthread_mutex_lock(&b->lock);
    bool more = false;
    struct futex_waiter *w;
    int n = 0;
    list_for_each_entry(w, &b->waiters, link)
        if (key_eq(&w->key, &k))
            n++;
    more = n > 1;
    /* The word goes free; a woken waiter takes it in its retry loop. */
    struct pi_arg a = {.tid = (uint32_t)t->tid, .mode = 2, .next = more ? FUTEX_WAITERS : 0};
    r = mm_word_op(t->mm, uaddr, true, pi_word, &a, NULL);
    if (r == 0)
        wake_locked(b, &k, 1, FUTEX_BITSET_MATCH_ANY);
    pthread_mutex_unlock(&b->lock);
    return r;
}

/* ---- requeue-PI: a condition-variable wait on UADDR that ends owning the
 * PI futex UADDR2, and the signal/broadcast side that moves such waiters ---- */

static long futex_wait_requeue_pi(struct task *t, uint64_t uaddr, bool priv, uint32_t val,
                                  uint64_t deadline, uint64_t uaddr2)
{
    if (uaddr == uaddr2)
        return -EINVAL;
    struct futex_key k1, k2;
    int r = get_key(t, uaddr, priv, &k1, NULL);
    if (r == 0)
        r = get_key(t, uaddr2, priv, &k2, NULL);
    if (r < 0)
        return r;
    struct futex_waiter w = {.bitset = FUTEX_BITSET_MATCH_ANY, .task = t,
                             .kind = WAITER_REQUEUE_PI, .pi_key = k2};
    uint32_t seq = task_wake_seq(t);
    struct futex_bucket *b = bucket_of(&k1);
    pthread_mutex_lock(&b->lock);
    uint32_t cur;
    r = mm_word_op(t->mm, uaddr, false, read_word, &cur, NULL);
    if (r < 0 || cur != val) {
        pthread_mutex_unlock(&b->lock);
        return r < 0 ? r : -EAGAIN;
    }
    if (key_eq(&k1, &k2)) { /* two addresses of one shared word */
        pthread_mutex_unlock(&b->lock);
        return -EINVAL;
    }
    w.key = k1;
    w.bucket = b;
    list_add_tail(&w.link, &b->waiters);
    pthread_mutex_unlock(&b->lock);

    for (;;) {
        int s = task_sleep(t, seq, deadline);
        b = lock_waiter_bucket(&w);
        bool requeued = w.kind == WAITER_PI;
        if (w.woken) {
            bool owned = w.pi_owned;
            pthread_mutex_unlock(&b->lock);
            if (owned)
                return 0;
            if (!requeued)
                return -EAGAIN; /* Linux's spurious-wakeup answer */
            /* Requeued, and the owner released UADDR2: contend for it. */
            long lr = futex_lock_pi(t, uaddr2, priv, deadline, false);
            return lr == -ERESTARTNOINTR ? -EAGAIN : lr;
        }
        if (s == -ETIMEDOUT || s == -EINTR) {
            list_del(&w.link);
            pthread_mutex_unlock(&b->lock);
            if (s == -ETIMEDOUT)
                return -ETIMEDOUT;
            /* Before the requeue the call restarts; after it, Linux answers
             * EAGAIN rather than restart into a changed condition word. */
            return requeued ? -EAGAIN : -ERESTARTNOINTR;
        }
        seq = task_wake_seq(t);
        pthread_mutex_unlock(&b->lock);
    }
}

static long futex_cmp_requeue_pi(struct task *t, uint64_t uaddr, bool priv, int nwake, int nmove,
                                 uint64_t uaddr2, uint32_t val3)
{
    if (nwake < 0 || nmove < 0)
        return -EINVAL;
    if (uaddr == uaddr2 || nwake != 1)
        return -EINVAL;
    struct futex_key k1, k2;
    int r = get_key(t, uaddr, priv, &k1, NULL);
    if (r == 0)
        r = get_key(t, uaddr2, priv, &k2, NULL);
    if (r < 0)
        return r;
    if (key_eq(&k1, &k2))
        return -EINVAL;
    struct futex_bucket *b1 = bucket_of(&k1), *b2 = bucket_of(&k2);
    lock_two(b1, b2);
    uint32_t cur;
    r = mm_word_op(t->mm, uaddr, false, read_word, &cur, NULL);
    if (r < 0 || cur != val3) {
        unlock_two(b1, b2);
        return r < 0 ? r : -EAGAIN;
    }
    long count = 0;
    struct futex_waiter *w, *tmp;
    /* The top waiter takes UADDR2 now if it is free. */
    list_for_each_entry(w, &b1->waiters, link) {
        if (!key_eq(&w->key, &k1))
            continue;
        if (w->kind != WAITER_REQUEUE_PI || !key_eq(&w->pi_key, &k2)) {
            unlock_two(b1, b2);
            return -EINVAL;
        }
        struct pi_arg a = {.tid = (uint32_t)w->task->tid};
        r = mm_word_op(t->mm, uaddr2, true, pi_word, &a, NULL);
        if (r < 0) {
            unlock_two(b1, b2);
            return r;
        }
        if (r == 1) {
            list_del(&w->link);
            w->pi_owned = true;
            w->woken = true;
            task_wake(w->task);
            count++;
        } else if ((a.seen & FUTEX_TID_MASK) == (uint32_t)w->task->tid) {
            unlock_two(b1, b2);
            return -EDEADLK;
        }
        break;
    }
    /* Like Linux, the nr_wake slot counts the top waiter when it is requeued
     * rather than woken: up to 1 + NMOVE waiters are handled. */
    long limit = (long)nmove + 1 - count;
    long moved = 0, ret = 0;
    list_for_each_entry_safe(w, tmp, &b1->waiters, link) {
        if (moved >= limit)
            break;
        if (!key_eq(&w->key, &k1))
            continue;
        if (w->kind != WAITER_REQUEUE_PI || !key_eq(&w->pi_key, &k2)) {
            ret = -EINVAL;
            break;
        }
        list_del(&w->link);
        w->key = k2;
        w->kind = WAITER_PI;
        __atomic_store_n(&w->bucket, b2, __ATOMIC_RELEASE);
        list_add_tail(&w->link, &b2->waiters);
        moved++;
    }
    count += moved;
    if (moved) {
        /* The owner must come to the kernel to unlock. If the word went free
         * meanwhile (an uncontended user-space unlock), wake one mover to
         * take it. */
        struct pi_arg a = {.mode = 1};
        r = mm_word_op(t->mm, uaddr2, true, pi_word, &a, NULL);
        if (r == 0)
            wake_locked(b2, &k2, 1, FUTEX_BITSET_MATCH_ANY);
    }
    unlock_two(b1, b2);
    return ret ? ret : count;
}

long futex_op(struct task *t, uint64_t uaddr, int op, uint32_t val, uint64_t utime,
              uint64_t uaddr2, uint32_t val3)
{
    pthread_once(&g_once, buckets_init);
    int cmd = op & FUTEX_CMD_MASK;
    bool priv = (op & FUTEX_PRIVATE_FLAG) != 0;
    bool realtime = (op & FUTEX_CLOCK_REALTIME) != 0;
    uint64_t deadline;
    int r;
    if (realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET &&
        cmd != FUTEX_WAIT_REQUEUE_PI && cmd != FUTEX_LOCK_PI2)
        return -ENOSYS;
    switch (cmd) {
    case FUTEX_WAIT:
        r = futex_deadline(t, utime, false, false, &deadline);
        return r < 0 ? r : futex_wait(t, uaddr, priv, val, deadline, FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAIT_BITSET:
        r = futex_deadline(t, utime, true, realtime, &deadline);
        return r < 0 ? r : futex_wait(t, uaddr, priv, val, deadline, val3);
    case FUTEX_WAKE:
        return futex_wake(t, uaddr, priv, (int)MIN(val, (uint32_t)INT_MAX),
                          FUTEX_BITSET_MATCH_ANY, true);
    case FUTEX_WAKE_BITSET:
        return futex_wake(t, uaddr, priv, (int)MIN(val, (uint32_t)INT_MAX), val3, true);
    case FUTEX_REQUEUE:
        return futex_requeue(t, uaddr, priv, (int)val, (int)utime, uaddr2, false, 0);
    case FUTEX_CMP_REQUEUE:
        return futex_requeue(t, uaddr, priv, (int)val, (int)utime, uaddr2, true, val3);
    case FUTEX_WAKE_OP:
        return futex_wake_op(t, uaddr, priv, (int)val, uaddr2, (int)utime, val3);
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
        r = futex_deadline(t, utime, true, cmd == FUTEX_LOCK_PI || realtime, &deadline);
        return r < 0 ? r : futex_lock_pi(t, uaddr, priv, deadline, false);
    case FUTEX_TRYLOCK_PI:
        return futex_lock_pi(t, uaddr, priv, 0, true);
    case FUTEX_UNLOCK_PI:
        return futex_unlock_pi(t, uaddr, priv);
    case FUTEX_WAIT_REQUEUE_PI:
        r = futex_deadline(t, utime, true, realtime, &deadline);
        return r < 0 ? r : futex_wait_requeue_pi(t, uaddr, priv, val, deadline, uaddr2);
    case FUTEX_CMP_REQUEUE_PI:
        return futex_cmp_requeue_pi(t, uaddr, priv, (int)val, (int)utime, uaddr2, val3);
    default:
        log_warn_once("futex op %d is not supported", cmd);
        return -ENOSYS;
    }
}

static int clear_word(uint32_t *w, void *arg)
{
    __atomic_store_n(w, 0, __ATOMIC_SEQ_CST);
    return 0;
}

void futex_clear_and_wake(struct mm *mm, uint64_t addr)
{
    pthread_once(&g_once, buckets_init);
    struct mm_word_key wk;
    if (mm_word_op(mm, addr, true, clear_word, NULL, &wk) < 0)
        return;
    /* glibc waits on it as a private futex (pthread_join). */
    struct futex_key k = {mm, addr};
    struct futex_bucket *b = bucket_of(&k);
    pthread_mutex_lock(&b->lock);
    wake_locked(b, &k, 1, FUTEX_BITSET_MATCH_ANY);
    pthread_mutex_unlock(&b->lock);
    if (wk.shared) {
        struct futex_key ks = {NULL, wk.memfile_off};
        b = bucket_of(&ks);
        pthread_mutex_lock(&b->lock);
        wake_locked(b, &ks, 1, FUTEX_BITSET_MATCH_ANY);
        pthread_mutex_unlock(&b->lock);
    }
}

struct owner_died_arg {
    uint32_t tid;
    bool marked;
    bool waiters;
};

static int mark_owner_died(uint32_t *w, void *argp)
{
    struct owner_died_arg *a = argp;
    uint32_t old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
    for (;;) {
        if ((old & FUTEX_TID_MASK) != a->tid)
            return 0;
        uint32_t nv = (old & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        if (__atomic_compare_exchange_n(w, &old, nv, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            a->marked = true;
            a->waiters = (old & FUTEX_WAITERS) != 0;
            return 0;
        }
    }
}

static void robust_one(struct task *t, uint64_t entry, int64_t offset)
{
    uint64_t word = entry + (uint64_t)offset;
    struct owner_died_arg a = {.tid = (uint32_t)t->tid};
    if (mm_word_op(t->mm, word, true, mark_owner_died, &a, NULL) < 0 || !a.marked)
        return;
    futex_wake(t, word, false, 1, FUTEX_BITSET_MATCH_ANY, false);
    futex_wake(t, word, true, 1, FUTEX_BITSET_MATCH_ANY, false);
}

void futex_exit_robust_list(struct task *t)
{
    pthread_once(&g_once, buckets_init);
    if (!t->robust_list || !t->mm)
        return;
    /* struct robust_list_head { next; futex_offset; list_op_pending; } */
    uint64_t head[3];
    if (copy_in(t, head, t->robust_list, sizeof(head)) < 0)
        return;
    int64_t offset = (int64_t)head[1];
    uint64_t entry = head[0];
    for (int n = 0; entry != t->robust_list && n < 2048; n++) {
        uint64_t next;
        if (copy_in(t, &next, entry & ~1ULL, sizeof(next)) < 0)
            break;
        if ((entry & ~1ULL) != head[2])
            robust_one(t, entry & ~1ULL, offset);
        entry = next;
    }
    if (head[2])
        robust_one(t, head[2] & ~1ULL, offset);
}
