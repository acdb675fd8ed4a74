/*
 * File data in memory-file chunks; see pagecache.h.
 */
#include "kernel/fs/pagecache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/mm/memfile.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/log.h"
#include "lib/util.h"

#define PAGECACHE_MAX_SIZE  ((uint64_t)1 << 40)
/* Growth beyond this is linear: doubling a huge file would reserve as many
 * offsets again, which the memory file may not have. */
#define PAGECACHE_MAX_GROW  ((uint64_t)1 << 30)

int pagecache_reserve(struct pagecache *pc, uint64_t size)
{
    if (size <= pc->cap)
        return 0;
    if (size > PAGECACHE_MAX_SIZE)
        return -EFBIG;
    if (memfile_ensure() < 0)
        return -ENOSPC;
    uint64_t need = ALIGN_UP(size, PAGE_SIZE) - pc->cap;
    uint64_t grow = MAX(need, MIN(pc->cap, PAGECACHE_MAX_GROW));
    struct pagecache_chunk *last = pc->nr ? &pc->chunks[pc->nr - 1] : NULL;

    /* In place first (one chunk keeps a mapping one piece), then anywhere;
     * the doubled size first, then just what is needed. */
    for (int attempt = 0; attempt < 2; attempt++, grow = need) {
        if (last && memfile_alloc_at(last->moff + last->len, grow) == 0) {
            last->len += grow;
            pc->cap += grow;
            return 0;
        }
    }
    grow = MAX(need, MIN(pc->cap, PAGECACHE_MAX_GROW));
    if (pc->nr == pc->nr_cap) {
        size_t n = pc->nr_cap ? pc->nr_cap * 2 : 4;
        struct pagecache_chunk *c = realloc(pc->chunks, n * sizeof(*c));
        if (!c)
            return -ENOSPC;
        pc->chunks = c;
        pc->nr_cap = n;
    }
    uint64_t moff;
    if (memfile_alloc(grow, &moff) < 0) {
        grow = need;
        if (memfile_alloc(grow, &moff) < 0)
            return -ENOSPC;
    }
    pc->chunks[pc->nr++] = (struct pagecache_chunk){pc->cap, moff, grow};
    pc->cap += grow;
    return 0;
}

/* The chunk holding file offset OFF (< cap). */
static const struct pagecache_chunk *chunk_of(const struct pagecache *pc, uint64_t off)
{
    size_t lo = 0, hi = pc->nr;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (pc->chunks[mid].foff <= off)
            lo = mid;
        else
            hi = mid;
    }
    return &pc->chunks[lo];
}

/* Calls FN on each contiguous memory-file piece of [OFF, OFF+N). */
#define FOR_EACH_PIECE(pc, off, n, ptr, len, body)                                                \
    do {                                                                                           \
        uint64_t at_ = (off), end_ = (off) + (n);                                                  \
        while (at_ < end_) {                                                                       \
            const struct pagecache_chunk *c_ = chunk_of((pc), at_);                                \
            uint64_t len = MIN(end_, c_->foff + c_->len) - at_;                                    \
            uint64_t ptr = c_->moff + (at_ - c_->foff);                                            \
            body;                                                                                  \
            at_ += len;                                                                            \
        }                                                                                          \
    } while (0)

int pagecache_read(const struct pagecache *pc, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    int r = 0;
    /* Through the host's read path, not the mapping: a sparse file's
     * holes stay holes (a load would make the host allocate each page,
     * and raise SIGBUS in the kernel under the sandbox memory limit). P
     * may be a mapping of this very file; pread copies as Linux's read
     * into such a mapping does. */
    FOR_EACH_PIECE(pc, off, n, moff, len, {
        if (r == 0 && memfile_read(moff, p, len) < 0)
            r = -EIO;
        p += len;
    });
    return r;
}

ssize_t pagecache_read_at(const struct pagecache *pc, uint64_t size, void *buf, size_t n,
                          uint64_t *pos)
{
    if (*pos >= size)
        return 0;
    size_t done = (size_t)MIN((uint64_t)n, size - *pos);
    if (pagecache_read(pc, buf, done, *pos) < 0)
        return -EIO;
    *pos += done;
    return (ssize_t)done;
}

int pagecache_write(struct pagecache *pc, const void *buf, size_t n, uint64_t off)
{
    const uint8_t *p = buf;
    int r = 0;
    FOR_EACH_PIECE(pc, off, n, moff, len, {
        if (r == 0 && memfile_write(moff, p, len) < 0)
            r = -ENOSPC;
        p += len;
    });
    return r;
}

/* Zeroes part of a page through the host's write path. A page the host
 * refuses (-ENOMEM under the sandbox memory limit) was a hole, which
 * reads as zeros already; a store through the mapping would raise
 * SIGBUS in the kernel there. */
static void zero_part(uint64_t moff, uint64_t len)
{
    static const uint8_t zeros[PAGE_SIZE];
    memfile_write(moff, zeros, len);
}

void pagecache_zero(struct pagecache *pc, uint64_t from, uint64_t to)
{
    if (from >= to)
        return;
    uint64_t a = ALIGN_UP(from, PAGE_SIZE), b = ALIGN_DOWN(to, PAGE_SIZE);
    if (a >= b) {
        FOR_EACH_PIECE(pc, from, to - from, moff, len, zero_part(moff, len));
        return;
    }
    FOR_EACH_PIECE(pc, from, a - from, moff, len, zero_part(moff, len));
    FOR_EACH_PIECE(pc, a, b - a, moff, len, memfile_discard(moff, len));
    FOR_EACH_PIECE(pc, b, to - b, moff, len, zero_part(moff, len));
}

void pagecache_release(struct pagecache *pc)
{
    for (size_t i = 0; i < pc->nr; i++)
        memfile_free(pc->chunks[i].moff, pc->chunks[i].len);
    free(pc->chunks);
    *pc = (struct pagecache){0};
}

int pagecache_backing(struct pagecache *pc, uint64_t off, uint64_t len, uint64_t *out_moff,
                      uint64_t *out_len)
{
    if (!IS_ALIGNED(off | len, PAGE_SIZE) || len == 0 || off + len < off)
        return -EINVAL;
    int r = pagecache_reserve(pc, off + len);
    if (r < 0)
        return r == -EFBIG ? -EFBIG : -ENOMEM;
    const struct pagecache_chunk *c = chunk_of(pc, off);
    *out_moff = c->moff + (off - c->foff);
    *out_len = MIN(len, c->foff + c->len - off);
    memfile_ref(*out_moff, *out_len);
    return 0;
}

int pagecache_file_backing(struct file *f, uint64_t off, uint64_t len, uint64_t *out_moff,
                           uint64_t *out_len)
{
    if (!f->ops || !f->ops->mmap_backing)
        return -ENODEV;
    return f->ops->mmap_backing(f, off, len, out_moff, out_len);
}

int pagecache_file_private_backing(struct file *f, uint64_t off, uint64_t len,
                                   uint64_t *out_moff, uint64_t *out_len)
{
    if (!f->ops || !f->ops->mmap_private_backing)
        return -ENODEV;
    return f->ops->mmap_private_backing(f, off, len, true, out_moff, out_len);
}

int pagecache_file_private_backing_lazy(struct file *f, uint64_t off, uint64_t len,
                                        uint64_t *out_moff, uint64_t *out_len)
{
    if (!f->ops || !f->ops->mmap_private_backing || !f->ops->mmap_private_fill ||
        !f->ops->mmap_private_filled)
        return -ENODEV;
    return f->ops->mmap_private_backing(f, off, len, false, out_moff, out_len);
}

int pagecache_file_private_fill(struct file *f, uint64_t off, uint64_t len, uint64_t moff)
{
    if (!f->ops || !f->ops->mmap_private_fill)
        return -EIO;
    return f->ops->mmap_private_fill(f->inode, off, len, moff);
}

int pagecache_file_private_filled(struct file *f, uint64_t off, uint64_t lo, uint64_t hi,
                                  uint64_t *out_lo, uint64_t *out_hi)
{
    if (!f->ops || !f->ops->mmap_private_filled) {
        *out_lo = lo;
        *out_hi = hi;
        return 1;
    }
    return f->ops->mmap_private_filled(f, off, lo, hi, out_lo, out_hi);
}

/* ---- filling lazy private mappings ahead of their faults ---- */

/* What the prefetch thread fills per call: the file's lock is held that
 * long, so a fault filling its own window waits at most this much. */
#define PREFETCH_CHUNK (64 * 1024)
/* Queued work beyond this is dropped (faults fill what is used). */
#define PREFETCH_MAX_JOBS 256

struct prefetch_job {
    struct inode *inode; /* counted */
    int (*fill)(struct inode *inode, uint64_t off, uint64_t len, uint64_t moff);
    uint64_t off, len, moff;
    struct prefetch_job *next;
};

static pthread_mutex_t g_prefetch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_prefetch_cond = PTHREAD_COND_INITIALIZER;
static struct prefetch_job *g_prefetch_head, **g_prefetch_tail = &g_prefetch_head; /* (lock) */
static int g_prefetch_nr;                                                        /* (lock) */
static bool g_prefetch_started, g_prefetch_failed;                               /* (lock) */

static void *prefetch_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&g_prefetch_lock);
        while (!g_prefetch_head)
            pthread_cond_wait(&g_prefetch_cond, &g_prefetch_lock);
        struct prefetch_job *j = g_prefetch_head;
        g_prefetch_head = j->next;
        if (!g_prefetch_head)
            g_prefetch_tail = &g_prefetch_head;
        g_prefetch_nr--;
        pthread_mutex_unlock(&g_prefetch_lock);
        for (uint64_t at = 0; at < j->len; at += PREFETCH_CHUNK) {
            uint64_t n = MIN((uint64_t)PREFETCH_CHUNK, j->len - at);
            if (j->fill(j->inode, j->off + at, n, j->moff + at) < 0)
                break; /* the faults will say what went wrong */
        }
        inode_put(j->inode);
        free(j);
    }
    return NULL;
}

void pagecache_file_private_prefetch(struct file *f, uint64_t off, uint64_t len, uint64_t moff)
{
    /* Under a memory limit only what the app touches is filled. */
    if (g_memfile_limit || !f->ops || !f->ops->mmap_private_fill || len == 0)
        return;
    struct prefetch_job *j = malloc(sizeof(*j));
    if (!j)
        return;
    *j = (struct prefetch_job){
        .inode = f->inode, .fill = f->ops->mmap_private_fill, .off = off, .len = len, .moff = moff};
    pthread_mutex_lock(&g_prefetch_lock);
    if (!g_prefetch_started && !g_prefetch_failed) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, prefetch_main, NULL) == 0) {
            g_prefetch_started = true;
        } else {
            g_prefetch_failed = true;
            log_debug("pagecache: no prefetch thread; faults fill lazy mappings");
        }
        pthread_attr_destroy(&attr);
    }
    if (!g_prefetch_started || g_prefetch_nr >= PREFETCH_MAX_JOBS) {
        pthread_mutex_unlock(&g_prefetch_lock);
        free(j);
        return;
    }
    inode_get(f->inode);
    *g_prefetch_tail = j;
    g_prefetch_tail = &j->next;
    g_prefetch_nr++;
    pthread_cond_signal(&g_prefetch_cond);
    pthread_mutex_unlock(&g_prefetch_lock);
}

int pagecache_file_host_fd(struct file *f)
{
    if (!f->ops || !f->ops->mmap_private_backing || !f->ops->mmap_host_fd)
        return -ENODEV;
    return f->ops->mmap_host_fd(f);
}
