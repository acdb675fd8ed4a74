/*
 * The memory file and its offset allocator.
 *
 * Free offsets are kept as extents in a treap ordered by offset, each node
 * also holding the largest extent length in its subtree, so that allocation
 * (lowest fitting offset), freeing with coalescing and reserving a given
 * range are all O(log n) expected. First fit from the lowest offset keeps the
 * file dense, which keeps SEEK_DATA walks short.
 *
 * Every allocated page has a reference count (g_mf_refs, one 32-bit word per
 * page in a second sparse memfd, so only the counts of used pages cost
 * memory). Allocation sets it to 1; memfile_ref() adds owners (a forked
 * address space sharing a private page copy-on-write, a mapping of a file's
 * page cache); memfile_free() drops one and releases the pages that reach
 * zero. Counts change with atomics outside g_mf_lock: a page reaching zero
 * is seen by exactly one caller, which alone releases it.
 */
#include "kernel/mm/memfile.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/host/host_mem.h"
#include "lib/log.h"
#include "lib/util.h"

int g_memfile_fd = -1;
uint8_t *g_memfile_base;
uint64_t g_memfile_limit;             /* (c) after memfile_init_limited; memfile_set_limit */
static uint32_t *g_mf_refs;           /* (a) atomic; (c) pointer after memfile_init */

struct fext {
    uint64_t start, len;
    uint64_t max;        /* largest len in this subtree */
    uint32_t prio;       /* heap order: a parent's prio >= its children's */
    struct fext *left, *right;
};

static pthread_mutex_t g_mf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fext *g_free_root;      /* (m) g_mf_lock */
static uint64_t g_mf_size;            /* (c) after memfile_init */
static uint64_t g_mf_used;            /* (m) */
static uint64_t g_mf_extents;         /* (m) */
static uint32_t g_mf_seed = 2463534242u; /* (m) */

static uint32_t next_prio(void)
{
    uint32_t x = g_mf_seed;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    g_mf_seed = x;
    return x;
}

static void fix(struct fext *n)
{
    uint64_t m = n->len;
    if (n->left && n->left->max > m)
        m = n->left->max;
    if (n->right && n->right->max > m)
        m = n->right->max;
    n->max = m;
}

static struct fext *fext_new(uint64_t start, uint64_t len)
{
    struct fext *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->start = start;
    n->len = len;
    n->max = len;
    n->prio = next_prio();
    g_mf_extents++;
    return n;
}

static void fext_free(struct fext *n)
{
    g_mf_extents--;
    free(n);
}

/* Every key of A is below every key of B. */
static struct fext *merge(struct fext *a, struct fext *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (a->prio >= b->prio) {
        a->right = merge(a->right, b);
        fix(a);
        return a;
    }
    b->left = merge(a, b->left);
    fix(b);
    return b;
}

/* Splits T into extents starting below KEY (*l) and at or above it (*r). */
static void split(struct fext *t, uint64_t key, struct fext **l, struct fext **r)
{
    if (!t) {
        *l = *r = NULL;
        return;
    }
    if (t->start < key) {
        split(t->right, key, &t->right, r);
        fix(t);
        *l = t;
    } else {
        split(t->left, key, l, &t->left);
        fix(t);
        *r = t;
    }
}

/* Detaches the highest (or lowest) extent of *T and returns it. */
static struct fext *pop_max(struct fext **t)
{
    struct fext *n = *t;
    if (!n)
        return NULL;
    if (n->right) {
        struct fext *m = pop_max(&n->right);
        fix(n);
        return m;
    }
    *t = n->left;
    n->left = NULL;
    return n;
}

static struct fext *pop_min(struct fext **t)
{
    struct fext *n = *t;
    if (!n)
        return NULL;
    if (n->left) {
        struct fext *m = pop_min(&n->left);
        fix(n);
        return m;
    }
    *t = n->right;
    n->right = NULL;
    return n;
}

static bool alloc_first_fit(struct fext **pp, uint64_t len, uint64_t *out)
{
    struct fext *n = *pp;
    if (!n || n->max < len)
        return false;
    bool ok;
    if (n->left && n->left->max >= len) {
        ok = alloc_first_fit(&n->left, len, out);
    } else if (n->len >= len) {
        *out = n->start;
        n->start += len;
        n->len -= len;
        if (n->len == 0) {
            *pp = merge(n->left, n->right);
            fext_free(n);
            return true;
        }
        ok = true;
    } else {
        ok = alloc_first_fit(&n->right, len, out);
    }
    fix(n);
    return ok;
}

static void install_bus_handler(void);

int memfile_init(uint64_t size)
{
    return memfile_init_limited(size, 0);
}

int memfile_init_limited(uint64_t size, uint64_t limit)
{
    int fd, r;
    uint8_t *base;

    size = ALIGN_DOWN(size, PAGE_SIZE);
    if (limit) {
        limit = ALIGN_UP(limit, PAGE_SIZE);
        r = host_mem_create_limited(size, limit, &fd);
    } else {
        r = host_mem_create("moat-memory", size, &fd);
    }
    if (r < 0)
        return r;
    r = host_mem_map(fd, size, &base);
    if (r < 0) {
        host_mem_close(fd);
        return r;
    }
    /* The counts live in a memfd of their own: sparse like the memory file,
     * and mapped NORESERVE by host_mem_map. */
    uint64_t refs_size = ALIGN_UP(size / PAGE_SIZE * sizeof(uint32_t), PAGE_SIZE);
    int rfd;
    uint8_t *refs;
    r = host_mem_create("moat-memory-refs", refs_size, &rfd);
    if (r < 0)
        goto out_unmap;
    r = host_mem_map(rfd, refs_size, &refs);
    host_mem_close(rfd);
    if (r < 0)
        goto out_unmap;
    pthread_mutex_lock(&g_mf_lock);
    struct fext *n = fext_new(0, size);
    if (!n) {
        pthread_mutex_unlock(&g_mf_lock);
        host_mem_unmap(refs, refs_size);
        r = -ENOMEM;
        goto out_unmap;
    }
    g_mf_refs = (uint32_t *)(void *)refs;
    g_free_root = n;
    g_mf_size = size;
    g_mf_used = 0;
    g_memfile_fd = fd;
    g_memfile_base = base;
    g_memfile_limit = limit;
    pthread_mutex_unlock(&g_mf_lock);
    if (limit)
        install_bus_handler();
    return 0;
out_unmap:
    host_mem_unmap(base, size);
    host_mem_close(fd);
    return r;
}

static pthread_once_t g_mf_once = PTHREAD_ONCE_INIT;

static void memfile_default_init(void)
{
    if (g_memfile_fd < 0 && memfile_init(MEMFILE_DEFAULT_SIZE) < 0)
        log_error("memfile: cannot create the default memory file");
}

int memfile_ensure(void)
{
    if (__atomic_load_n(&g_memfile_base, __ATOMIC_ACQUIRE))
        return 0;
    pthread_once(&g_mf_once, memfile_default_init);
    return g_memfile_base ? 0 : -ENOMEM;
}

static void refs_set_one(uint64_t off, uint64_t len)
{
    for (uint64_t p = off / PAGE_SIZE, e = (off + len) / PAGE_SIZE; p < e; p++)
        __atomic_store_n(&g_mf_refs[p], 1, __ATOMIC_RELAXED);
}

void memfile_ref(uint64_t off, uint64_t len)
{
    for (uint64_t p = off / PAGE_SIZE, e = (off + len) / PAGE_SIZE; p < e; p++) {
        uint32_t old = __atomic_fetch_add(&g_mf_refs[p], 1, __ATOMIC_RELAXED);
        if (old == 0 || old == UINT32_MAX) {
            log_error("memfile: reference to page %#lx with count %u", (unsigned long)(p * PAGE_SIZE),
                      old);
            abort();
        }
    }
}

bool memfile_exclusive(uint64_t off, uint64_t len)
{
    for (uint64_t p = off / PAGE_SIZE, e = (off + len) / PAGE_SIZE; p < e; p++)
        if (__atomic_load_n(&g_mf_refs[p], __ATOMIC_ACQUIRE) != 1)
            return false;
    return true;
}

uint32_t memfile_refcount(uint64_t off)
{
    return __atomic_load_n(&g_mf_refs[off / PAGE_SIZE], __ATOMIC_ACQUIRE);
}

int memfile_alloc(uint64_t len, uint64_t *out_off)
{
    if (len == 0 || !IS_ALIGNED(len, PAGE_SIZE))
        return -EINVAL;
    pthread_mutex_lock(&g_mf_lock);
    bool ok = alloc_first_fit(&g_free_root, len, out_off);
    if (ok)
        g_mf_used += len;
    pthread_mutex_unlock(&g_mf_lock);
    if (!ok)
        return -ENOMEM;
    refs_set_one(*out_off, len);
    return 0;
}

int memfile_alloc_at(uint64_t off, uint64_t len)
{
    struct fext *l, *r, *p, *back = NULL;
    int ret = -ENOMEM;

    if (len == 0 || !IS_ALIGNED(len | off, PAGE_SIZE) || off + len < off)
        return -EINVAL;
    pthread_mutex_lock(&g_mf_lock);
    split(g_free_root, off + 1, &l, &r);
    p = pop_max(&l);
    if (p && p->start + p->len >= off + len) {
        uint64_t end = p->start + p->len;
        if (end > off + len) {
            back = fext_new(off + len, end - off - len);
            if (!back)
                goto out_restore;
        }
        ret = 0;
        g_mf_used += len;
        p->len = off - p->start;
        if (p->len == 0) {
            fext_free(p);
            p = NULL;
        } else {
            fix(p);
        }
    }
out_restore:
    if (p)
        l = merge(l, p);
    if (back)
        r = merge(back, r);
    g_free_root = merge(l, r);
    pthread_mutex_unlock(&g_mf_lock);
    if (ret == 0)
        refs_set_one(off, len);
    return ret;
}

/* Returns [off, off+len) to the free extents. Caller holds g_mf_lock. */
static void release_locked(uint64_t off, uint64_t len)
{
    struct fext *l, *r, *pred, *succ, *n;

    split(g_free_root, off, &l, &r);
    pred = pop_max(&l);
    succ = pop_min(&r);
    if ((pred && pred->start + pred->len > off) || (succ && succ->start < off + len)) {
        log_error("memfile: double free of [%#lx, %#lx)", (unsigned long)off,
                  (unsigned long)(off + len));
        abort();
    }
    if (pred && pred->start + pred->len == off) {
        pred->len += len;
        if (succ && succ->start == off + len) {
            pred->len += succ->len;
            fext_free(succ);
            succ = NULL;
        }
        n = pred;
        pred = NULL;
    } else if (succ && succ->start == off + len) {
        succ->start = off;
        succ->len += len;
        n = succ;
        succ = NULL;
    } else {
        n = fext_new(off, len);
        if (!n) {
            /* The offsets leak (never memory: they are punched). */
            log_error("memfile: out of memory, leaking %lu bytes of offsets",
                      (unsigned long)len);
        }
    }
    if (pred) {
        fix(pred);
        l = merge(l, pred);
    }
    if (succ) {
        fix(succ);
        r = merge(succ, r);
    }
    if (n) {
        fix(n);
        l = merge(l, n);
    }
    g_free_root = merge(l, r);
    g_mf_used -= len;
}

/* Punches and releases [off, off+len), whose pages reached count zero. */
static void release_run(uint64_t off, uint64_t len)
{
    int r = host_mem_punch(g_memfile_fd, off, len);
    if (r < 0) {
        /* Pages we cannot zero must never be handed out again. */
        log_error("memfile: punching [%#lx, +%#lx) failed (%d); leaking it", (unsigned long)off,
                  (unsigned long)len, r);
        return;
    }
    pthread_mutex_lock(&g_mf_lock);
    release_locked(off, len);
    pthread_mutex_unlock(&g_mf_lock);
}

void memfile_free(uint64_t off, uint64_t len)
{
    uint64_t run = 0, run_len = 0;

    for (uint64_t p = off / PAGE_SIZE, e = (off + len) / PAGE_SIZE; p < e; p++) {
        /* A count of 1 is the caller's own reference: nobody else holds
         * the page, so nobody else can change the count, and a plain
         * store does (a locked decrement per page cost ~15 us for an
         * 8 MiB stack). The acquire pairs with the release of whoever
         * dropped the count to 1. */
        uint32_t old = __atomic_load_n(&g_mf_refs[p], __ATOMIC_ACQUIRE);
        if (old == 1)
            __atomic_store_n(&g_mf_refs[p], 0, __ATOMIC_RELAXED);
        else
            old = __atomic_fetch_sub(&g_mf_refs[p], 1, __ATOMIC_ACQ_REL);
        if (old == 0) {
            log_error("memfile: count of page %#lx below zero", (unsigned long)(p * PAGE_SIZE));
            abort();
        }
        if (old == 1) {
            if (run_len == 0)
                run = p * PAGE_SIZE;
            run_len += PAGE_SIZE;
            continue;
        }
        if (run_len)
            release_run(run, run_len);
        run_len = 0;
    }
    if (run_len)
        release_run(run, run_len);
}

void memfile_discard(uint64_t off, uint64_t len)
{
    if (len == 0)
        return;
    int r = host_mem_punch(g_memfile_fd, off, len);
    if (r < 0)
        log_error("memfile: punching [%#lx, +%#lx) failed (%d)", (unsigned long)off,
                  (unsigned long)len, r);
}

int memfile_next_data(uint64_t off, uint64_t end, uint64_t *out_start, uint64_t *out_end)
{
    uint64_t d, h;
    int r;

    if (off >= end)
        return -ENXIO;
    r = host_mem_seek_data(g_memfile_fd, off, &d);
    if (r < 0)
        return r;
    if (d >= end)
        return -ENXIO;
    r = host_mem_seek_hole(g_memfile_fd, d, &h);
    if (r < 0)
        return r;
    *out_start = d;
    *out_end = MIN(h, end);
    return 0;
}

int memfile_incore(uint64_t off, uint64_t len, uint8_t *vec)
{
    return host_mem_incore(memfile_ptr(off), len, vec);
}

void memfile_stats(uint64_t *out_used, uint64_t *out_size, uint64_t *out_free_extents)
{
    pthread_mutex_lock(&g_mf_lock);
    if (out_used)
        *out_used = g_mf_used;
    if (out_size)
        *out_size = g_mf_size;
    if (out_free_extents)
        *out_free_extents = g_mf_extents;
    pthread_mutex_unlock(&g_mf_lock);
}

int memfile_set_limit(uint64_t limit)
{
    if (!g_memfile_limit || !limit)
        return -EINVAL;
    __atomic_store_n(&g_memfile_limit, ALIGN_UP(limit, PAGE_SIZE), __ATOMIC_RELAXED);
    return 0;
}

int memfile_mount_fd(void)
{
    return g_memfile_limit ? host_mem_limited_mount() : -1;
}

uint64_t memfile_resident(void)
{
    uint64_t n = 0;
    if (g_memfile_fd >= 0 && host_mem_resident(g_memfile_fd, &n) < 0)
        n = 0;
    return n;
}

int memfile_commit(uint64_t off, uint64_t len)
{
    if (!g_memfile_limit || len == 0)
        return 0;
    int r = host_mem_allocate(g_memfile_fd, off, len);
    return r == 0 ? 0 : -ENOMEM;
}

int memfile_write(uint64_t off, const void *buf, size_t n)
{
    return host_mem_write(g_memfile_fd, off, buf, n) == 0 ? 0 : -ENOMEM;
}

int memfile_read(uint64_t off, void *buf, size_t n)
{
    return host_mem_read(g_memfile_fd, off, buf, n);
}

int memfile_populate(uint64_t off, uint64_t len)
{
    /* Under a limit the host allocates first (so touching cannot SIGBUS
     * the kernel). Then each page is touched: fallocated tmpfs pages still
     * read as holes to SEEK_DATA (mincore, RSS) until first accessed. An
     * atomic add of 0 never loses an app thread's concurrent store. */
    if (memfile_commit(off, len) < 0)
        return -ENOMEM;
    for (uint64_t at = 0; at < len; at += PAGE_SIZE)
        __atomic_fetch_add((uint8_t *)memfile_ptr(off + at), 0, __ATOMIC_RELAXED);
    return 0;
}

uint64_t memfile_bus_off(void)
{
    return g_mf_size;
}

void memfile_log_limit(int pid)
{
    static int last_pid = -1;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    bool again = last_pid == pid;
    last_pid = pid;
    pthread_mutex_unlock(&lock);
    if (!again)
        log_error("sandbox memory limit (%" PRIu64 " bytes) reached: killed pid %d",
                  g_memfile_limit, pid);
}

/* ------------------------------------------------------------------------ */
/* Kernel accesses to pages the host refuses.
 *
 * With a memory limit, a page of the memory file the host cannot allocate
 * raises SIGBUS in whoever touches it, the kernel included. Copies between
 * kernel buffers and app memory go through memfile_copy_guarded(), which
 * sets a per-thread recovery point; the handler jumps back there. SIGBUS
 * outside a guarded copy but inside the memory file (another kernel path
 * writing a tmpfs page) ends the sandbox with the limit's log line: the
 * kernel cannot continue the interrupted operation. Any other SIGBUS is a
 * bug of moat's and gets the default action. */

static __thread sigjmp_buf *t_bus_recover;
static __thread bool t_bus_unblocked;

static void bus_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uint8_t *a = si->si_addr;
    bool in_file = g_memfile_base && a >= g_memfile_base && a < g_memfile_base + g_mf_size;
    if (in_file && t_bus_recover) {
        sigjmp_buf *env = t_bus_recover;
        t_bus_recover = NULL;
        siglongjmp(*env, 1);
    }
    if (in_file) {
        static const char msg[] = "moat: sandbox memory limit reached inside the kernel: "
                                  "killing the sandbox\n";
        ssize_t n = write(2, msg, sizeof(msg) - 1);
        (void)n;
        _exit(128 + SIGKILL);
    }
    signal(sig, SIG_DFL); /* the fault repeats and kills the kernel, as without us */
}

static void install_bus_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = bus_handler;
    /* NODEFER: siglongjmp leaves the handler without restoring the mask. */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

int memfile_copy_guarded(void *dst, const void *src, size_t n)
{
    sigjmp_buf env;
    if (!t_bus_unblocked) {
        /* Kernel threads block every signal; a blocked SIGBUS from a fault
         * would kill the process without running the handler. */
        sigset_t bus;
        sigemptyset(&bus);
        sigaddset(&bus, SIGBUS);
        pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
        t_bus_unblocked = true;
    }
    if (sigsetjmp(env, 0)) {
        log_debug("memfile: a kernel copy hit the memory limit");
        return -ENOMEM;
    }
    t_bus_recover = &env;
    memcpy(dst, src, n);
    t_bus_recover = NULL;
    return 0;
}
