/*
 * Address spaces: VMAs, their memory-file backing, the stub's mappings and
 * copy-in/copy-out. See mm.h for the model and mm_internal.h for the locks.
 *
 * Invariants (checked by tests/unit/mm against the fake platform):
 * - when attached, the stub maps exactly the VMAs, each at its prot and its
 *   memory-file offset;
 * - a VMA's memory-file pages are released (their reference dropped) only
 *   after the stub stopped mapping them, so offsets handed out again are
 *   never visible to a stale mapping;
 * - a private page shared with another address space (count > 1) is mapped
 *   without PROT_WRITE (its VMA has VMA_COW) and is never written: a write
 *   fault, a copy-out or a futex write first gives this mm its own copy.
 *
 * Copy-on-write after fork: mm_fork write-protects the parent's private
 * memory, takes a second reference on its pages and gives the child the same
 * offsets. The first write to a COW page in either copies a run of up to
 * MM_COW_RUN bytes around it (only the pages holding data: holes stay holes)
 * into fresh pages, or, when nobody else holds the pages any more, just makes
 * them writable again.
 *
 * A fork of a single-threaded process whose private writable memory holds
 * little data (at most g_mm_fork_copy_max bytes over those VMAs) gives the
 * child a copy of it at once instead (mm_fork): a copy-on-write fault costs
 * a trap and a stub call or two (tens of microseconds), and small processes
 * write most of those pages right after fork anyway (the stack, libc's
 * globals). The parent keeps its pages writable and unshared.
 *
 * Read-only private mappings of the read-only rootfs share the file's cache
 * pages (VMA_COW). Big ones (an ELF image's span) are lazy (VMA_LAZY): the
 * cache hands out its pages unfilled, the stub maps those past the end of
 * the memory file, and the first access faults (SIGBUS): mm_fault_signal
 * fills the MM_LAZY_WINDOW around the page from the host file and maps it.
 * The kernel fills what it reads itself (mm_lazy_fill in the copy paths,
 * copy-on-write and futex words), so it never sees an unfilled page as
 * zeros; a process start then copies what it uses instead of every byte of
 * every library it maps.
 *
 * Where the platform can (map_file: systrap), a lazy VMA's file pages are
 * not copied at all: the stub maps the host file itself, read-only and
 * private (lazy_host_fd), so the app reads the host's page cache as a
 * native process does, and the memory file holds only what the kernel
 * read itself and what copy-on-write gave the app (writes fault to the
 * kernel as before: the stub's mapping is never writable). A python3
 * start copied 7.8 MB into the memory file before, 3.1 MB after (its data
 * segment, written at once, is copied as before).
 */
#include "kernel/mm/mm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "abi/linux/types.h"
#include "kernel/fs/pagecache.h"
#include "kernel/host/host.h"
#include "kernel/mm/memfile.h"
#include "kernel/mm/mm_internal.h"
#include "kernel/vfs/vfs.h"
#include "lib/log.h"
#include "lib/util.h"
#include "platform/platform.h"

/* The layout before mm_set_layout (the loader always sets one). */
#define MM_STACK_TOP PLATFORM_APP_MAX
#define MM_MMAP_BASE PLATFORM_STUB_BASE
/* A fault below the initial stack grows it by at least this much (to an
 * aligned boundary), so a deep recursion takes one trip per step. */
#define MM_STACK_GROW_STEP (256ULL << 10)
/* MAP_32BIT hands out addresses in [1 GiB, 2 GiB), as Linux on x86-64. */
#define MM_32BIT_LO 0x40000000ULL
#define MM_32BIT_HI 0x80000000ULL

#define PROT_RWX (PROT_READ | PROT_WRITE | PROT_EXEC)
#define PROT_SEM 0x8 /* Linux ABI; glibc does not define it */
/* How much one copy-on-write fault copies: a run around the faulting page,
 * so a process rewriting a big region after fork takes one fault per run,
 * not per page. Holes are not copied, so a sparse run costs what it uses. */
#define MM_COW_RUN (64 * PAGE_SIZE)
/* What patching a syscall site copies of the text around it (mm_patch_text). */
#define MM_PATCH_RUN (16 * PAGE_SIZE)
/* The most data fork copies for the child at once (fork_copy_small_locked). */
#define MM_FORK_COPY_MAX (64 * PAGE_SIZE)
/* Private mappings of a read-only file's shared cache at least this big
 * are filled lazily (VMA_LAZY): an ELF image maps its whole span, much of
 * which a run never reads. Smaller ones are filled at once (one fault
 * would cost more than the copy), unless the stub maps the host file
 * itself (file_host_fd): then every size is lazy, with nothing to fill. */
#define MM_LAZY_MIN (128 * 1024)
/* What a fault on a lazy page fills and maps: the aligned window around
 * it (Linux's fault-around maps 16 pages of the page cache; a fault
 * costs moat a round trip to the kernel and one to the stub's helper, so
 * it fills more). */
#define MM_LAZY_WINDOW (128 * 1024)
/* Filled runs shorter than this inside a lazy VMA are left to fault when
 * the whole VMA is mapped again (after fork): fewer stub calls. */
#define MM_LAZY_MAP_MIN (64 * 1024)
/* A fault on a lazy page maps the run of filled pages around it (filled by
 * pagecache_file_private_prefetch meanwhile), up to this far each way. */
#define MM_LAZY_MAP_MAX (2 * 1024 * 1024)

/* Pieces taken out of the VMA array, released (or reused) by the caller. */
struct vma_vec {
    struct vma *v;
    size_t nr, cap;
};

static uint64_t vma_len(const struct vma *v)
{
    return v->end - v->start;
}

/* The protection the stub maps V with. */
static int vma_stub_prot(const struct vma *v)
{
    return (v->flags & VMA_COW) ? v->prot & ~PROT_WRITE : v->prot;
}

/* ------------------------------------------------------------------------ */
/* Shared anonymous backing. */

static struct mm_shared *shared_new(uint64_t len)
{
    struct mm_shared *s = malloc(sizeof(*s));
    if (!s)
        return NULL;
    if (memfile_alloc(len, &s->off) < 0) {
        free(s);
        return NULL;
    }
    s->len = len;
    refcount_init(&s->ref);
    return s;
}

static void shared_get(struct mm_shared *s)
{
    refcount_inc(&s->ref);
}

static void shared_put(struct mm_shared *s)
{
    if (s && refcount_dec(&s->ref)) {
        memfile_free(s->off, s->len);
        free(s);
    }
}

/* Drops what V holds: its private range, its share of a shared object, its
 * file reference. The stub must no longer map V. */
static void vma_release(struct vma *v)
{
    if (v->shared)
        shared_put(v->shared);
    else if (!(v->flags & VMA_NOBACK))
        memfile_free(v->off, vma_len(v));
    if (v->file)
        file_put(v->file);
}

static int vec_reserve(struct vma_vec *vv, size_t n)
{
    if (vv->nr + n <= vv->cap)
        return 0;
    size_t cap = MAX(vv->cap * 2, vv->nr + n);
    struct vma *nv = realloc(vv->v, cap * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    vv->v = nv;
    vv->cap = cap;
    return 0;
}

static void vec_release_all(struct vma_vec *vv)
{
    for (size_t i = 0; i < vv->nr; i++)
        vma_release(&vv->v[i]);
    free(vv->v);
    vv->v = NULL;
    vv->nr = vv->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* The VMA array. */

/* Index of the first VMA that ends above ADDR (nr_vmas if none). */
static size_t vma_lower_bound(const struct mm *mm, uint64_t addr)
{
    size_t lo = 0, hi = mm->nr_vmas;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mm->vmas[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct vma *vma_lookup(const struct mm *mm, uint64_t addr)
{
    size_t i = vma_lower_bound(mm, addr);
    if (i < mm->nr_vmas && mm->vmas[i].start <= addr)
        return &mm->vmas[i];
    return NULL;
}

static bool range_is_free(const struct mm *mm, uint64_t start, uint64_t end)
{
    size_t i = vma_lower_bound(mm, start);
    return i == mm->nr_vmas || mm->vmas[i].start >= end;
}

/* True when every page of [start, end) is mapped. */
static bool range_is_mapped(const struct mm *mm, uint64_t start, uint64_t end)
{
    size_t i = vma_lower_bound(mm, start);
    uint64_t at = start;
    for (; i < mm->nr_vmas && at < end; i++) {
        if (mm->vmas[i].start > at)
            return false;
        at = mm->vmas[i].end;
    }
    return at >= end;
}

static size_t count_overlap(const struct mm *mm, uint64_t start, uint64_t end)
{
    size_t n = 0;
    for (size_t i = vma_lower_bound(mm, start); i < mm->nr_vmas && mm->vmas[i].start < end; i++)
        n++;
    return n;
}

/* Makes room for EXTRA more VMAs, so that the splits and inserts that follow
 * cannot fail. Caller holds mutate (not lock). */
static int vmas_reserve(struct mm *mm, size_t extra)
{
    if (mm->nr_vmas + extra <= mm->cap_vmas)
        return 0;
    size_t cap = MAX(mm->cap_vmas * 2, mm->nr_vmas + extra);
    cap = MAX(cap, (size_t)16);
    pthread_rwlock_wrlock(&mm->lock);
    struct vma *nv = realloc(mm->vmas, cap * sizeof(*nv));
    if (nv) {
        mm->vmas = nv;
        mm->cap_vmas = cap;
    }
    pthread_rwlock_unlock(&mm->lock);
    return nv ? 0 : -ENOMEM;
}

/* The following _locked helpers need mutate and lock (write) held, and the
 * capacity reserved by vmas_reserve(). */

static void vma_insert_locked(struct mm *mm, size_t i, const struct vma *v)
{
    memmove(&mm->vmas[i + 1], &mm->vmas[i], (mm->nr_vmas - i) * sizeof(*v));
    mm->vmas[i] = *v;
    mm->nr_vmas++;
}

static void vma_remove_locked(struct mm *mm, size_t i)
{
    memmove(&mm->vmas[i], &mm->vmas[i + 1], (mm->nr_vmas - i - 1) * sizeof(struct vma));
    mm->nr_vmas--;
}

/* Splits vmas[i] at ADDR (strictly inside it) into two entries. */
static void vma_split_locked(struct mm *mm, size_t i, uint64_t addr)
{
    struct vma right = mm->vmas[i];
    uint64_t delta = addr - right.start;

    right.start = addr;
    right.off += delta;
    right.file_off += delta;
    if (right.shared)
        shared_get(right.shared);
    if (right.file)
        file_get(right.file);
    mm->vmas[i].end = addr;
    vma_insert_locked(mm, i + 1, &right);
}

static bool vma_can_merge(const struct vma *a, const struct vma *b)
{
    return a->end == b->start && a->prot == b->prot && a->flags == b->flags &&
           a->shared == b->shared && a->file == b->file && a->off + vma_len(a) == b->off &&
           (!a->file || a->file_off + vma_len(a) == b->file_off);
}

/* Private pieces that Linux would hold as one VMA: adjacent, same prot,
 * flags and file (at contiguous file offsets), though their memory-file
 * backing is not contiguous (a heap grown twice, a mapping grown by mremap).
 * mremap and /proc/PID/maps treat them as one. */
static bool vma_same_logical(const struct vma *a, const struct vma *b)
{
    if (a->end != b->start || a->prot != b->prot)
        return false;
    if (a->shared || (a->flags & VMA_NOBACK))
        /* Shared anonymous memory grown by mremap: the object's pages, then
         * the part past its end. */
        return (a->flags & ~VMA_NOBACK) == (b->flags & ~VMA_NOBACK) &&
               ((b->flags & VMA_NOBACK) ||
                (a->shared == b->shared && a->off + vma_len(a) == b->off));
    return (a->flags & ~(VMA_COW | VMA_LAZY)) == (b->flags & ~(VMA_COW | VMA_LAZY)) && !b->shared &&
           !(b->flags & VMA_NOBACK) && a->file == b->file &&
           (!a->file || a->file_off + vma_len(a) == b->file_off);
}

/* Merges vmas[i] and vmas[i+1] when they can be one VMA. */
static void vma_try_merge_locked(struct mm *mm, size_t i)
{
    if (i + 1 >= mm->nr_vmas || !vma_can_merge(&mm->vmas[i], &mm->vmas[i + 1]))
        return;
    struct vma *b = &mm->vmas[i + 1];
    mm->vmas[i].end = b->end;
    /* vmas[i] holds its own references: these cannot be the last. */
    if (b->shared)
        shared_put(b->shared);
    if (b->file)
        file_put(b->file);
    vma_remove_locked(mm, i + 1);
}

/* Ensures VMA boundaries at START and END (splitting at most two VMAs). */
static void split_range_locked(struct mm *mm, uint64_t start, uint64_t end)
{
    size_t i = vma_lower_bound(mm, start);
    if (i < mm->nr_vmas && mm->vmas[i].start < start && mm->vmas[i].end > start)
        vma_split_locked(mm, i, start);
    i = vma_lower_bound(mm, end);
    if (i < mm->nr_vmas && mm->vmas[i].start < end && mm->vmas[i].end > end)
        vma_split_locked(mm, i, end);
}

/* Merges what can be merged among the VMAs overlapping [start, end) and
 * their two neighbours. */
static void merge_range_locked(struct mm *mm, uint64_t start, uint64_t end)
{
    size_t i = vma_lower_bound(mm, start);
    if (i > 0)
        i--;
    while (i + 1 < mm->nr_vmas && mm->vmas[i].start <= end) {
        size_t before = mm->nr_vmas;
        vma_try_merge_locked(mm, i);
        if (mm->nr_vmas == before)
            i++;
    }
}

/* Moves the parts of VMAs inside [start, end) into OUT (capacity reserved
 * for count_overlap() entries). */
static void remove_range_locked(struct mm *mm, uint64_t start, uint64_t end, struct vma_vec *out)
{
    /* A page mapped here again faults afresh: its first fault is no
     * repeat of one before the unmap (mm_fault_signal). */
    if (mm->repaired_page >= start && mm->repaired_page < end)
        mm->repaired_page = 0;
    split_range_locked(mm, start, end);
    size_t i = vma_lower_bound(mm, start);
    while (i < mm->nr_vmas && mm->vmas[i].start < end) {
        out->v[out->nr++] = mm->vmas[i];
        vma_remove_locked(mm, i);
    }
}

/* ------------------------------------------------------------------------ */
/* The stub's mappings. Caller holds mutate. */

/* Bytes of V backed by memory: for a file mapping, pages wholly past the
 * file's end are not (an access raises SIGBUS); nothing of a VMA_NOBACK
 * piece is. vma_len(V) otherwise. */
static uint64_t vma_file_bytes(const struct vma *v)
{
    uint32_t mode;
    uint64_t size;
    if (v->flags & VMA_NOBACK)
        return 0;
    if (!v->file || (v->flags & VMA_KERNEL) || vfs_file_mode(v->file, &mode, &size) < 0 ||
        !S_ISREG(mode))
        return vma_len(v);
    uint64_t eof = ALIGN_UP(size, PAGE_SIZE);
    if (eof <= v->file_off)
        return 0;
    return MIN(vma_len(v), eof - v->file_off);
}

/* The host descriptor a stub may map FILE's pages from (platform
 * map_file), or -1: its file system says its data never changes
 * (mmap_host_fd), the platform can, and MOAT_MAP_FILES=0 is not set. */
static int file_host_fd(struct file *file)
{
    static int off = -1;
    if (off < 0) {
        const char *e = getenv("MOAT_MAP_FILES");
        __atomic_store_n(&off, e && strcmp(e, "0") == 0, __ATOMIC_RELAXED);
    }
    if (off || !g_platform->map_file)
        return -1;
    int fd = pagecache_file_host_fd(file);
    return fd >= 0 ? fd : -1;
}

/* The host descriptor the stub maps the lazy VMA V's pages from, or -1:
 * only while V is not writable (VMA_LAZY is copy-on-write: a write must
 * fault to the kernel). */
static int lazy_host_fd(const struct vma *v)
{
    if (!(v->flags & VMA_LAZY) || (vma_stub_prot(v) & PROT_WRITE))
        return -1;
    return file_host_fd(v->file);
}

/* Maps [s, e) of the lazy VMA V: straight from the host file where the
 * platform can (no copy in the memory file at all; the kernel still fills
 * the cache for what it reads itself), else the filled runs of its pages
 * at their offsets, the rest (and filled runs shorter than
 * MM_LAZY_MAP_MIN) past the end of the memory file, where an access
 * faults (mm_fault_signal). */
static int stub_map_lazy(struct mm *mm, const struct vma *v, uint64_t s, uint64_t e)
{
    uint64_t bus = s; /* start of the pending not-mapped-yet part */
    int r = 0;
    int hfd = lazy_host_fd(v);
    if (hfd >= 0 && g_platform->map_file(mm->as, s, e - s, vma_stub_prot(v), hfd,
                                         v->file_off + (s - v->start)) == 0)
        return 0;
    for (uint64_t at = s; r == 0 && at < e;) {
        uint64_t lo, hi;
        int filled = pagecache_file_private_filled(v->file, v->file_off + (at - v->start),
                                                   v->file_off + (s - v->start),
                                                   v->file_off + (e - v->start), &lo, &hi);
        uint64_t run_end = v->start + (hi - v->file_off);
        if (filled == 1 && (run_end - at >= MM_LAZY_MAP_MIN || (at == s && run_end == e))) {
            if (bus < at)
                r = g_platform->map(mm->as, bus, at - bus, vma_stub_prot(v), memfile_bus_off());
            if (r == 0)
                r = g_platform->map(mm->as, at, run_end - at, vma_stub_prot(v),
                                    v->off + (at - v->start));
            bus = run_end;
        }
        at = run_end;
    }
    if (r == 0 && bus < e)
        r = g_platform->map(mm->as, bus, e - bus, vma_stub_prot(v), memfile_bus_off());
    return r;
}

static int stub_map(struct mm *mm, const struct vma *v)
{
    if (!mm->as)
        return 0;
    uint64_t n = vma_file_bytes(v);
    int r = 0;
    if (n && (v->flags & VMA_LAZY))
        r = stub_map_lazy(mm, v, v->start, v->start + n);
    else if (n)
        r = g_platform->map(mm->as, v->start, n, vma_stub_prot(v), v->off);
    /* File pages wholly past EOF: mapped past the end of the memory file,
     * so the host raises SIGBUS (BUS_ADRERR, the address) as Linux does. */
    if (r == 0 && n < vma_len(v))
        r = g_platform->map(mm->as, v->start + n, vma_len(v) - n, vma_stub_prot(v),
                            memfile_bus_off());
    return r;
}

/* Unmaps the address ranges of the pieces in VV (coalescing neighbours).
 * Returns the first error. */
static int stub_unmap_vec(struct mm *mm, const struct vma_vec *vv)
{
    int ret = 0;
    if (!mm->as)
        return 0;
    for (size_t i = 0; i < vv->nr;) {
        uint64_t s = vv->v[i].start, e = vv->v[i].end;
        for (i++; i < vv->nr && vv->v[i].start == e; i++)
            e = vv->v[i].end;
        int r = g_platform->unmap(mm->as, s, e - s);
        if (r < 0 && ret == 0)
            ret = r;
    }
    return ret;
}

/* Releases pieces the stub may still map because unmapping failed (the stub
 * is dying): the memory is punched, the offsets leak, so no other address
 * space can ever see them through the stale mapping. */
static void vec_release_unmapped(struct vma_vec *vv, int unmap_err)
{
    if (unmap_err == 0) {
        vec_release_all(vv);
        return;
    }
    log_error("mm: stub unmap failed (%d); leaking the offsets of %zu mappings", unmap_err,
              vv->nr);
    for (size_t i = 0; i < vv->nr; i++) {
        struct vma *v = &vv->v[i];
        if (v->shared)
            shared_put(v->shared); /* the platform only fails when the stub is dying */
        else if (!(v->flags & VMA_NOBACK))
            memfile_discard(v->off, vma_len(v));
        if (v->file)
            file_put(v->file);
    }
    free(vv->v);
    vv->v = NULL;
    vv->nr = vv->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* Lifetime. */

struct off_range {
    uint64_t off, len;
};

static int off_range_cmp(const void *a, const void *b)
{
    const struct off_range *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* vma_release of each of the N VMAs at V, with the private pages released
 * in offset order and adjacent ranges together: one punch for a run of
 * them (the copies a fork made sit side by side in the memory file). */
static void vmas_release_all(struct vma *v, size_t n)
{
    struct off_range *r = n ? malloc(n * sizeof(*r)) : NULL;
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        if (r && !v[i].shared && !(v[i].flags & VMA_NOBACK)) {
            r[nr++] = (struct off_range){v[i].off, vma_len(&v[i])};
            v[i].flags |= VMA_NOBACK; /* released below */
        }
        vma_release(&v[i]);
    }
    if (nr > 1)
        qsort(r, nr, sizeof(*r), off_range_cmp);
    for (size_t i = 0; i < nr;) {
        uint64_t off = r[i].off, end = off + r[i].len;
        for (i++; i < nr && r[i].off == end; i++)
            end += r[i].len;
        memfile_free(off, end - off);
    }
    free(r);
}

/* Every mm with references, so that a file shrinking reaches each address
 * space mapping it (mm_file_resized). Leaf lock. */
static pthread_mutex_t g_mm_all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mm *g_mm_all;

static void mm_all_add(struct mm *mm)
{
    pthread_mutex_lock(&g_mm_all_lock);
    mm->all_prev = NULL;
    mm->all_next = g_mm_all;
    if (g_mm_all)
        g_mm_all->all_prev = mm;
    g_mm_all = mm;
    pthread_mutex_unlock(&g_mm_all_lock);
}

static void mm_all_del(struct mm *mm)
{
    pthread_mutex_lock(&g_mm_all_lock);
    if (mm->all_prev)
        mm->all_prev->all_next = mm->all_next;
    else
        g_mm_all = mm->all_next;
    if (mm->all_next)
        mm->all_next->all_prev = mm->all_prev;
    pthread_mutex_unlock(&g_mm_all_lock);
}

/* A reference on MM unless its count already reached zero (it is being
 * freed). Caller holds g_mm_all_lock. */
static bool mm_tryget(struct mm *mm)
{
    int v = __atomic_load_n(&mm->ref.v, __ATOMIC_RELAXED);
    while (v > 0)
        if (__atomic_compare_exchange_n(&mm->ref.v, &v, v + 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return true;
    return false;
}

struct mm *mm_new(void)
{
    struct mm *mm = calloc(1, sizeof(*mm));
    if (!mm)
        return NULL;
    refcount_init(&mm->ref);
    pthread_mutex_init(&mm->mutate, NULL);
    /* Writers first: threads copying in a loop must not starve mmap. Safe
     * because no reader takes mm->lock twice. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&mm->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    mm->mmap_base = MM_MMAP_BASE;
    mm->stack_top = MM_STACK_TOP;
    mm->lim.as = mm->lim.data = mm->lim.stack = mm->lim.memlock = MM_UNLIMITED;
    mm_all_add(mm);
    return mm;
}

void mm_get(struct mm *mm)
{
    refcount_inc(&mm->ref);
}

void mm_put(struct mm *mm)
{
    if (!mm || !refcount_dec(&mm->ref))
        return;
    mm_all_del(mm);
    /* The stub is destroyed separately; nothing maps this memory once the
     * last reference is gone. */
    vmas_release_all(mm->vmas, mm->nr_vmas);
    free(mm->vmas);
    if (mm->patch_fam)
        g_platform->patch_family_put(mm->patch_fam);
    pthread_rwlock_destroy(&mm->lock);
    pthread_mutex_destroy(&mm->mutate);
    free(mm);
}

int mm_attach(struct mm *mm, struct platform_as *as)
{
    int r = 0;
    pthread_mutex_lock(&mm->mutate);
    mm->as = as;
    mm->nr_ctx = 1;
    if (mm->patch_fam)
        r = g_platform->patch_family_set(as, mm->patch_fam);
    for (size_t i = 0; i < mm->nr_vmas && r == 0; i++)
        r = stub_map(mm, &mm->vmas[i]);
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

struct platform_as *mm_as(struct mm *mm)
{
    pthread_mutex_lock(&mm->mutate);
    struct platform_as *as = mm->as;
    pthread_mutex_unlock(&mm->mutate);
    return as;
}

void mm_ctx_add(struct mm *mm)
{
    pthread_mutex_lock(&mm->mutate);
    mm->nr_ctx++;
    pthread_mutex_unlock(&mm->mutate);
}

void mm_ctx_destroy(struct mm *mm, struct platform_ctx *ctx)
{
    if (!ctx)
        return;
    if (mm) {
        /* Every map/unmap/protect of mm->as happens under mutate: once it
         * is NULL here, none can reach the address space the platform
         * frees with this context. The count only drops before a destroy,
         * so it never undercounts the platform's live contexts. */
        pthread_mutex_lock(&mm->mutate);
        if (mm->nr_ctx > 0 && --mm->nr_ctx == 0)
            mm->as = NULL;
        pthread_mutex_unlock(&mm->mutate);
    }
    g_platform->ctx_destroy(ctx);
}

uint64_t mm_stack_top(struct mm *mm)
{
    pthread_mutex_lock(&mm->mutate);
    uint64_t top = mm->stack_top;
    pthread_mutex_unlock(&mm->mutate);
    return top;
}

void mm_set_layout(struct mm *mm, uint64_t stack_top, uint64_t mmap_base)
{
    pthread_mutex_lock(&mm->mutate);
    mm->stack_top = ALIGN_DOWN(MIN(stack_top, PLATFORM_APP_MAX), PAGE_SIZE);
    mm->mmap_base = ALIGN_DOWN(MAX(mmap_base, PLATFORM_APP_MIN), PAGE_SIZE);
    pthread_mutex_unlock(&mm->mutate);
}

void mm_set_limits(struct mm *mm, const struct mm_limits *lim)
{
    pthread_mutex_lock(&mm->mutate);
    mm->lim = *lim;
    pthread_mutex_unlock(&mm->mutate);
}

uint32_t mm_personality(struct mm *mm)
{
    pthread_mutex_lock(&mm->mutate);
    uint32_t p = mm->personality;
    pthread_mutex_unlock(&mm->mutate);
    return p;
}

void mm_set_pid(struct mm *mm, int pid)
{
    pthread_mutex_lock(&mm->mutate);
    mm->pid = pid;
    pthread_mutex_unlock(&mm->mutate);
}

void mm_set_personality(struct mm *mm, uint32_t persona)
{
    pthread_mutex_lock(&mm->mutate);
    mm->personality = persona;
    pthread_mutex_unlock(&mm->mutate);
}

/* ------------------------------------------------------------------------ */
/* Limits. Caller holds mutate. */

/* Linux's data_vm: private writable mappings that are not stacks. */
static bool counts_as_data(int prot, unsigned flags)
{
    return (prot & PROT_WRITE) && !(flags & (VMA_SHARED | VMA_GROWSDOWN | VMA_KERNEL));
}

/* Whether MM may grow by LEN bytes of mapping (DATA: of data) once the
 * REPLACED bytes already mapped where it goes are gone: RLIMIT_AS and
 * RLIMIT_DATA as Linux's may_expand_vm(), then the sandbox memory limit as
 * Linux's heuristic overcommit (one request larger than all the memory the
 * sandbox may have fails; ACCOUNT says the request is committed memory). */
static bool may_expand_locked(const struct mm *mm, uint64_t len, bool data, uint64_t replaced,
                              bool account)
{
    uint64_t total = 0, data_now = 0;
    for (size_t i = 0; i < mm->nr_vmas; i++) {
        const struct vma *v = &mm->vmas[i];
        total += vma_len(v);
        if (counts_as_data(v->prot, v->flags))
            data_now += vma_len(v);
    }
    uint64_t grow = len > replaced ? len - replaced : 0;
    if (mm->lim.as != MM_UNLIMITED && total + grow > mm->lim.as)
        return false;
    if (data && mm->lim.data != MM_UNLIMITED && data_now + grow > mm->lim.data)
        return false;
    if (account && g_memfile_limit && len > g_memfile_limit)
        return false;
    return true;
}

static uint64_t locked_bytes_locked(const struct mm *mm);

/* Whether LEN more bytes may be locked under RLIMIT_MEMLOCK. */
static bool may_lock_locked(const struct mm *mm, uint64_t len)
{
    return mm->lim.memlock == MM_UNLIMITED || locked_bytes_locked(mm) + len <= mm->lim.memlock;
}

/* Bytes of [start, end) that are mapped. */
static uint64_t mapped_bytes_locked(const struct mm *mm, uint64_t start, uint64_t end)
{
    uint64_t n = 0;
    for (size_t i = vma_lower_bound(mm, start); i < mm->nr_vmas && mm->vmas[i].start < end; i++)
        n += MIN(mm->vmas[i].end, end) - MAX(mm->vmas[i].start, start);
    return n;
}

void mm_set_brk_start(struct mm *mm, uint64_t start)
{
    pthread_mutex_lock(&mm->mutate);
    mm->brk_start = mm->brk = ALIGN_UP(start, PAGE_SIZE);
    pthread_mutex_unlock(&mm->mutate);
}

/* ------------------------------------------------------------------------ */
/* Backing. */

/* Fills the memory-file range [off, off+len) from FILE at FOFF; what lies
 * past the end of the file stays zero. 0 or -errno. */
#define FILL_BUF (128 * 1024)

static int fill_from_file(struct file *file, uint64_t foff, uint64_t off, uint64_t len)
{
    uint64_t done = 0;

    /* Through a buffer the size of a cache and the host's write path
     * (memfile_write): fresh pages are neither faulted in nor zeroed
     * first, and a page the memory limit refuses is an error, not SIGBUS. */
    _cleanup_free_ uint8_t *buf = malloc((size_t)MIN(len, (uint64_t)FILL_BUF));
    if (!buf)
        return -ENOMEM;
    while (done < len) {
        size_t chunk = (size_t)MIN(len - done, (uint64_t)FILL_BUF);
        ssize_t n = vfs_pread(file, buf, chunk, foff + done);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
        if (memfile_write(off + done, buf, (size_t)n) < 0)
            return -ENOMEM; /* the host refused a page (the memory limit) */
        done += (uint64_t)n;
    }
    return 0;
}

/* Gives V (start, end, file, file_off, flags set) its backing: fresh private
 * memory, filled from the file if any. 0 or -errno. */
static int vma_back_private(struct vma *v)
{
    int r = memfile_alloc(vma_len(v), &v->off);
    if (r < 0)
        return r;
    if (v->file) {
        r = fill_from_file(v->file, v->file_off, v->off, vma_len(v));
        if (r < 0) {
            memfile_free(v->off, vma_len(v));
            return r;
        }
    }
    return 0;
}

/* Drops the backing of a VMA that was never installed (and its file ref). */
static void vma_unback(struct vma *v)
{
    vma_release(v);
}

/* ------------------------------------------------------------------------ */
/* Placement. */

/* Where the free space below V ends for placement: a growing stack keeps
 * the guard gap below it free (Linux vm_start_gap). */
static uint64_t vma_start_gap(const struct vma *v)
{
    if ((v->flags & VMA_GROWSDOWN) && v->start > MM_STACK_GUARD_GAP)
        return v->start - MM_STACK_GUARD_GAP;
    return v->start;
}

/* The highest LEN-byte free range inside [lo, hi), or 0. */
static uint64_t find_free_topdown(const struct mm *mm, uint64_t len, uint64_t lo, uint64_t hi)
{
    if (hi < lo || hi - lo < len)
        return 0;
    size_t i = vma_lower_bound(mm, hi);
    uint64_t gap_end = hi;
    /* vmas[i] (if any) ends above hi; walk the VMAs below it downwards. */
    if (i < mm->nr_vmas && vma_start_gap(&mm->vmas[i]) < hi)
        gap_end = vma_start_gap(&mm->vmas[i]);
    while (true) {
        uint64_t gap_start = i > 0 ? MAX(mm->vmas[i - 1].end, lo) : lo;
        if (gap_end >= gap_start && gap_end - gap_start >= len)
            return gap_end - len;
        if (i == 0)
            return 0;
        i--;
        gap_end = vma_start_gap(&mm->vmas[i]);
        if (gap_end <= lo)
            return 0;
    }
}

/* Whether [addr, addr+len) may hold app mappings at all. */
static bool range_allowed(uint64_t addr, uint64_t len)
{
    if (addr < PLATFORM_APP_MIN || addr > PLATFORM_APP_MAX || len > PLATFORM_APP_MAX - addr)
        return false;
    return addr + len <= PLATFORM_STUB_BASE || addr >= PLATFORM_STUB_END;
}

static uint64_t find_free(const struct mm *mm, uint64_t len, bool low32)
{
    uint64_t a;
    if (low32)
        return find_free_topdown(mm, len, MM_32BIT_LO, MM_32BIT_HI);
    a = find_free_topdown(mm, len, PLATFORM_APP_MIN, MIN(mm->mmap_base, PLATFORM_STUB_BASE));
    if (a)
        return a;
    return find_free_topdown(mm, len, PLATFORM_STUB_END, PLATFORM_APP_MAX);
}

/* Inserts the N pieces NV (sorted, adjacent, backed, references held) over
 * [nv[0].start, nv[n-1].end), replacing what was mapped there. Caller holds
 * mutate. On failure NV is untouched and still owned by the caller (if the
 * stub had taken part of the new mapping, the range is left unmapped, as
 * Linux may leave it after a failed MAP_FIXED). 0 or -errno. */
static int install_vec_locked(struct mm *mm, const struct vma *nv, size_t n)
{
    uint64_t start = nv[0].start, end = nv[n - 1].end;
    struct vma_vec old = {0};
    size_t mapped = 0;
    int r;

    r = vec_reserve(&old, count_overlap(mm, start, end));
    if (r == 0)
        r = vmas_reserve(mm, n + 2);
    for (; r == 0 && mapped < n; mapped++)
        r = stub_map(mm, &nv[mapped]);
    if (r < 0) {
        if (mapped > 1) {
            pthread_rwlock_wrlock(&mm->lock);
            remove_range_locked(mm, start, end, &old);
            pthread_rwlock_unlock(&mm->lock);
            int r2 = mm->as ? g_platform->unmap(mm->as, start, end - start) : 0;
            vec_release_unmapped(&old, r2);
        }
        free(old.v);
        return r;
    }
    pthread_rwlock_wrlock(&mm->lock);
    remove_range_locked(mm, start, end, &old);
    for (size_t i = 0; i < n; i++)
        vma_insert_locked(mm, vma_lower_bound(mm, nv[i].start), &nv[i]);
    merge_range_locked(mm, start, end);
    pthread_rwlock_unlock(&mm->lock);
    /* The stub's map replaced the old pieces: nothing maps them now. */
    vec_release_all(&old);
    return 0;
}

static int install_locked(struct mm *mm, const struct vma *nv)
{
    return install_vec_locked(mm, nv, 1);
}

/* Unmaps [start, end) (page aligned). Caller holds mutate. 0 or -errno. */
static int munmap_locked(struct mm *mm, uint64_t start, uint64_t end)
{
    struct vma_vec old = {0};
    int r;

    size_t n = count_overlap(mm, start, end);
    if (n == 0)
        return 0;
    r = vec_reserve(&old, n);
    if (r == 0)
        r = vmas_reserve(mm, 2);
    if (r < 0) {
        free(old.v);
        return r;
    }
    pthread_rwlock_wrlock(&mm->lock);
    remove_range_locked(mm, start, end, &old);
    pthread_rwlock_unlock(&mm->lock);
    vec_release_unmapped(&old, stub_unmap_vec(mm, &old));
    return 0;
}

/* ------------------------------------------------------------------------ */
/* mmap, munmap, mprotect, brk. */

#define MAP_KNOWN                                                                              \
    (MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_DENYWRITE | MAP_EXECUTABLE |   \
     MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB |      \
     MAP_32BIT | MAP_FIXED_NOREPLACE | (0x3fU << 26) /* MAP_HUGE_SHIFT sizes */)

/* Decides what kind of file mapping FILE gives: 0 (private copy), 1 (treat
 * as anonymous: /dev/zero) or -errno. */
/* Allocates the memory-file pages of what [start, end) maps (never the
 * SIGBUS parts past a file's end), as a fault on each would. Best effort,
 * as Linux's populate. Caller holds mutate. */
static void populate_locked(struct mm *mm, uint64_t start, uint64_t end)
{
    for (size_t i = vma_lower_bound(mm, start); i < mm->nr_vmas && mm->vmas[i].start < end; i++) {
        const struct vma *v = &mm->vmas[i];
        if (!(v->prot & (PROT_READ | PROT_WRITE)) || (v->flags & (VMA_KERNEL | VMA_COW)))
            continue;
        uint64_t s = MAX(v->start, start), e = MIN(v->start + vma_file_bytes(v), end);
        if (s < e && memfile_populate(v->off + (s - v->start), e - s) < 0)
            return;
    }
}

static int file_map_kind(struct file *file)
{
    uint32_t mode;
    uint64_t size;
    char path[16];

    int r = vfs_file_mode(file, &mode, &size);
    if (r < 0)
        return r;
    if (S_ISREG(mode))
        return 0;
    if (S_ISCHR(mode)) {
        /* FIXME: ask the file (a file_ops mmap hook) once the VFS has one;
         * until then /dev/zero is recognised by its name. */
        r = vfs_file_path(file, path, sizeof(path));
        if (r > 0 && strcmp(path, "/dev/zero") == 0)
            return 1;
    }
    return -ENODEV;
}

typedef int (*file_backing_fn)(struct file *f, uint64_t off, uint64_t len, uint64_t *out_moff,
                               uint64_t *out_len);

/* The pieces of a mapping of [foff, foff+len) of FILE made of its pages in
 * the memory file as BACKING hands them out, as VMAs based at 0 made from
 * TMPL, each holding a file reference and its pages' references. 0 and
 * *out_v, *out_n (malloc'd), -ENODEV when FILE's data is not in the memory
 * file, or another -errno. */

static int file_pieces(struct file *file, uint64_t foff, uint64_t len, const struct vma *tmpl,
                       file_backing_fn backing, struct vma **out_v, size_t *out_n)
{
    struct vma *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t at = 0, moff, mlen;
    int r = 0;

    while (at < len) {
        r = backing(file, foff + at, len - at, &moff, &mlen);
        if (r < 0)
            goto out_fail;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 2;
            struct vma *nvv = realloc(v, ncap * sizeof(*nvv));
            if (!nvv) {
                memfile_free(moff, mlen);
                r = -ENOMEM;
                goto out_fail;
            }
            v = nvv;
            cap = ncap;
        }
        v[n] = *tmpl;
        v[n].start = at;
        v[n].end = at + mlen;
        v[n].off = moff;
        v[n].file = file;
        v[n].file_off = foff + at;
        file_get(file);
        n++;
        at += mlen;
    }
    *out_v = v;
    *out_n = n;
    return 0;
out_fail:
    for (size_t i = 0; i < n; i++)
        vma_release(&v[i]);
    free(v);
    return r;
}

/* A MAP_SHARED mapping: the file's page-cache pages. */
static int shared_file_pieces(struct file *file, uint64_t foff, uint64_t len,
                              const struct vma *tmpl, struct vma **out_v, size_t *out_n)
{
    return file_pieces(file, foff, len, tmpl, pagecache_file_backing, out_v, out_n);
}

/* The pieces of a private mapping of [foff, foff+len) of FILE whose pages
 * its file system shares read-only (mmap_private_backing): the file's
 * cached pages, copy-on-write (VMA_COW), so that every process mapping a
 * library or program shares one copy and writes get their own. As
 * shared_file_pieces; -ENODEV when FILE has no such pages. */
static int private_file_pieces(struct file *file, uint64_t foff, uint64_t len, bool populate,
                               const struct vma *tmpl, struct vma **out_v, size_t *out_n)
{
    struct vma t = *tmpl;
    t.flags |= VMA_COW;
    /* Small ones too when the stub maps the host file: no copy, no fault. */
    if ((len >= MM_LAZY_MIN || file_host_fd(file) >= 0) && !populate) {
        t.flags |= VMA_LAZY;
        int r = file_pieces(file, foff, len, &t, pagecache_file_private_backing_lazy, out_v, out_n);
        if (r != -ENODEV)
            return r;
        t.flags &= ~VMA_LAZY;
    }
    return file_pieces(file, foff, len, &t, pagecache_file_private_backing, out_v, out_n);
}

int mm_lazy_fill(const struct vma *v, uint64_t s, uint64_t e)
{
    if (!(v->flags & VMA_LAZY))
        return 0;
    s = MAX(ALIGN_DOWN(s, PAGE_SIZE), v->start);
    e = MIN(ALIGN_UP(e, PAGE_SIZE), v->end);
    if (s >= e)
        return 0;
    return pagecache_file_private_fill(v->file, v->file_off + (s - v->start), e - s,
                                       v->off + (s - v->start));
}

int mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, int prot, int flags, struct file *file,
            uint64_t off, uint64_t *out_addr)
{
    struct vma nv = {0};
    struct vma *pieces = &nv;
    size_t npieces = 1;
    bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
    int type = flags & MAP_TYPE;
    int r;

    if (len == 0 || !IS_ALIGNED(off, PAGE_SIZE))
        return -EINVAL;
    uint64_t alen = ALIGN_UP(len, PAGE_SIZE);
    if (alen < len || alen == 0)
        return -ENOMEM;
    if (off + alen < off)
        return -EOVERFLOW;
    if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
        return -EINVAL;
    if (type == MAP_SHARED_VALIDATE && (flags & MAP_ANONYMOUS))
        return -EINVAL; /* Linux validates flags for file mappings only */
    if (type == MAP_SHARED_VALIDATE && (flags & ~MAP_KNOWN))
        return -EOPNOTSUPP;
    if (fixed && !IS_ALIGNED(addr, PAGE_SIZE))
        return -EINVAL;
    if (fixed && addr < PLATFORM_APP_MIN)
        return -EPERM; /* Linux: below vm.mmap_min_addr */
    if (fixed && !range_allowed(addr, alen))
        return -ENOMEM;

    bool shared = type != MAP_PRIVATE;
    bool anon = flags & MAP_ANONYMOUS;
    bool may_write = true;
    if (!anon) {
        if (!file)
            return -EBADF;
        r = file_map_kind(file);
        if (r < 0)
            return r;
        if (r == 1)
            anon = true;
    }
    if (!anon) {
        unsigned acc = vfs_file_flags(file) & O_ACCMODE;
        if (acc == O_WRONLY)
            return -EACCES; /* every file mapping reads the file */
        /* A write-sealed memfd's shared mappings may never become writable. */
        may_write = acc == O_RDWR && vfs_file_mmap_may_write(file);
        if (shared && (prot & PROT_WRITE) && !may_write)
            return -EACCES;
        if ((prot & PROT_EXEC) && vfs_file_noexec(file))
            return -EPERM; /* a noexec mount (Linux: path_noexec in do_mmap) */
    }

    nv.prot = prot & PROT_RWX;
    nv.flags = (shared ? VMA_SHARED : 0) | ((flags & MAP_GROWSDOWN) ? VMA_GROWSDOWN : 0) |
               ((flags & MAP_LOCKED) ? VMA_LOCKED : 0);
    nv.start = 0;
    nv.end = alen; /* rebased once placed */
    if (shared && !anon) {
        if (!may_write)
            nv.flags |= VMA_NOMAYWRITE;
        r = shared_file_pieces(file, off, alen, &nv, &pieces, &npieces);
        if (r == -ENODEV && !may_write) {
            /* The file's data is not in the memory file: a read-only hostfs
             * file (the overlay's lower layer, a read-only bind mount). Its
             * contents never change while the sandbox runs (a write open
             * copies it up to a new tmpfs file, and Linux's overlayfs also
             * leaves an earlier mapping on the lower file), and this mapping
             * can never become writable (VMA_NOMAYWRITE), so a private copy
             * is indistinguishable from sharing the pages. */
            nv.flags = (nv.flags & ~VMA_SHARED) | VMA_SHARED_COPY;
            shared = false;
            pieces = &nv;
            npieces = 1;
        } else if (r < 0) {
            if (r == -ENODEV)
                log_warn_once("mm: MAP_SHARED of a writable file outside the memory file "
                              "(ENODEV)");
            return r;
        }
    }
    if (shared && anon) {
        nv.shared = shared_new(alen);
        if (!nv.shared)
            return -ENOMEM;
        nv.off = nv.shared->off;
    } else if (!shared) {
        /* A writable private mapping (a data segment) is written soon
         * after: a copy of its own now costs less than copy-on-write
         * faults later. */
        r = -ENODEV;
        if (!anon && !(prot & PROT_WRITE))
            r = private_file_pieces(file, off, alen, flags & (MAP_POPULATE | MAP_LOCKED), &nv,
                                    &pieces, &npieces);
        if (r == -ENODEV) {
            pieces = &nv;
            npieces = 1;
            if (!anon) {
                file_get(file);
                nv.file = file;
                nv.file_off = off;
            }
            r = vma_back_private(&nv);
            if (r < 0) {
                if (nv.file)
                    file_put(nv.file);
                return r;
            }
        } else if (r < 0) {
            return r;
        }
    }

    pthread_mutex_lock(&mm->mutate);
    if (mm->lock_future)
        nv.flags |= VMA_LOCKED;
    if ((nv.flags & VMA_LOCKED) && !may_lock_locked(mm, alen)) {
        r = -EAGAIN; /* Linux's mlock_future_ok() */
        goto out_unlock;
    }
    if (fixed) {
        /* Also together with MAP_FIXED, as Linux. */
        if ((flags & MAP_FIXED_NOREPLACE) && !range_is_free(mm, addr, addr + alen)) {
            r = -EEXIST;
            goto out_unlock;
        }
    } else {
        uint64_t hint = ALIGN_UP(addr, PAGE_SIZE);
        if (hint && hint >= addr && range_allowed(hint, alen) &&
            range_is_free(mm, hint, hint + alen) &&
            (!(flags & MAP_32BIT) || hint + alen <= MM_32BIT_HI)) {
            addr = hint;
        } else {
            addr = find_free(mm, alen, flags & MAP_32BIT);
            if (addr == 0) {
                r = -ENOMEM;
                goto out_unlock;
            }
        }
    }
    /* Linux accounts private writable memory and shared anonymous memory
     * unless MAP_NORESERVE (overcommit heuristic). */
    bool account = (prot & PROT_WRITE) && !(flags & MAP_NORESERVE) && (!shared || anon);
    if (!may_expand_locked(mm, alen, counts_as_data(nv.prot, nv.flags),
                           fixed ? mapped_bytes_locked(mm, addr, addr + alen) : 0, account)) {
        r = -ENOMEM;
        goto out_unlock;
    }
    for (size_t i = 0; i < npieces; i++) {
        pieces[i].start += addr;
        pieces[i].end += addr;
        pieces[i].flags |= nv.flags & VMA_LOCKED;
    }
    r = install_vec_locked(mm, pieces, npieces);
    if (r == 0) {
        *out_addr = addr;
        /* Lazy pieces: fill their pages ahead of the app's faults (none
         * when the app reads the host file itself). */
        for (size_t i = 0; i < npieces; i++)
            if ((pieces[i].flags & VMA_LAZY) && lazy_host_fd(&pieces[i]) < 0)
                pagecache_file_private_prefetch(pieces[i].file, pieces[i].file_off,
                                                vma_file_bytes(&pieces[i]), pieces[i].off);
        /* Linux faults in MAP_POPULATE and locked mappings at once (and
         * ignores what it could not). */
        if ((flags & (MAP_POPULATE | MAP_LOCKED)) || mm->lock_future)
            populate_locked(mm, addr, addr + alen);
    }
out_unlock:
    pthread_mutex_unlock(&mm->mutate);
    if (r < 0)
        for (size_t i = 0; i < npieces; i++)
            vma_unback(&pieces[i]);
    if (pieces != &nv)
        free(pieces);
    return r;
}

int mm_map_kernel_range(struct mm *mm, uint64_t addr, uint64_t len, int prot, uint64_t off)
{
    if (len == 0 || !IS_ALIGNED(addr | len | off, PAGE_SIZE) || (prot & ~(PROT_READ | PROT_EXEC)))
        return -EINVAL;
    if (!range_allowed(addr, len))
        return -ENOMEM;
    /* A shared object of its own holding one more reference on the pages,
     * so munmap and fork count it as any shared mapping; the owner's
     * reference keeps the pages when the last mapping goes. */
    struct mm_shared *s = malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->off = off;
    s->len = len;
    refcount_init(&s->ref);
    memfile_ref(off, len);
    struct vma nv = {.start = addr, .end = addr + len, .prot = prot,
                     .flags = VMA_SHARED | VMA_KERNEL, .off = off, .shared = s};
    pthread_mutex_lock(&mm->mutate);
    int r = install_locked(mm, &nv);
    pthread_mutex_unlock(&mm->mutate);
    if (r < 0)
        shared_put(s);
    return r;
}

int mm_munmap(struct mm *mm, uint64_t addr, uint64_t len)
{
    if (!IS_ALIGNED(addr, PAGE_SIZE) || len == 0)
        return -EINVAL;
    uint64_t alen = ALIGN_UP(len, PAGE_SIZE);
    if (alen < len || addr > PLATFORM_APP_MAX || alen > PLATFORM_APP_MAX - addr)
        return -EINVAL;
    pthread_mutex_lock(&mm->mutate);
    int r = munmap_locked(mm, addr, addr + alen);
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

static int private_reback_locked(struct mm *mm, uint64_t s, uint64_t e, bool copy);

/* Maps the pages of MM's mappings of INODE that now lie wholly past the
 * file's end at the SIGBUS offset, and gives private ones their memory back
 * (a fault after the file grows again re-reads them). */
static void zap_past_eof(struct mm *mm, const struct inode *inode, uint64_t size)
{
    uint64_t eof = ALIGN_UP(size, PAGE_SIZE);
    pthread_mutex_lock(&mm->mutate);
    for (size_t i = 0; i < mm->nr_vmas; i++) {
        const struct vma *v = &mm->vmas[i];
        if (!v->file || (v->flags & (VMA_KERNEL | VMA_NOBACK)) || vfs_file_inode(v->file) != inode)
            continue;
        /* SIZE, not vma_file_bytes(): the caller may hold file system
         * locks a stat would take (the overlay's). */
        uint64_t backed = eof <= v->file_off ? 0 : MIN(vma_len(v), eof - v->file_off);
        if (backed >= vma_len(v))
            continue;
        uint64_t s = v->start + backed, e = v->end;
        if (!(v->flags & VMA_SHARED)) {
            if (!(v->flags & VMA_COW) || memfile_exclusive(v->off + backed, e - s)) {
                memfile_discard(v->off + backed, e - s);
            } else if (private_reback_locked(mm, s, e, false) == 0) {
                /* Shared with a forked mm: pages of its own (zeros). */
                i = vma_lower_bound(mm, s);
                v = &mm->vmas[i];
            }
        }
        if (mm->as)
            g_platform->map(mm->as, s, e - s, vma_stub_prot(v), memfile_bus_off());
    }
    mm->repaired_page = 0;
    pthread_mutex_unlock(&mm->mutate);
}

void mm_file_resized(const struct inode *inode, uint64_t size)
{
    struct mm **mms = NULL;
    size_t n = 0, cap = 0;

    pthread_mutex_lock(&g_mm_all_lock);
    for (struct mm *mm = g_mm_all; mm; mm = mm->all_next) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct mm **nm = realloc(mms, ncap * sizeof(*nm));
            if (!nm)
                break; /* FIXME: the rest keep their pages mapped */
            mms = nm;
            cap = ncap;
        }
        if (mm_tryget(mm))
            mms[n++] = mm;
    }
    pthread_mutex_unlock(&g_mm_all_lock);
    for (size_t i = 0; i < n; i++) {
        zap_past_eof(mms[i], inode, size);
        mm_put(mms[i]);
    }
    free(mms);
}

int mm_mprotect(struct mm *mm, uint64_t addr, uint64_t len, int prot)
{
    int r = 0;

    if (!IS_ALIGNED(addr, PAGE_SIZE))
        return -EINVAL;
    if (prot & ~(PROT_RWX | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP))
        return -EINVAL;
    if ((prot & PROT_GROWSDOWN) && (prot & PROT_GROWSUP))
        return -EINVAL;
    if (len == 0)
        return 0;
    uint64_t alen = ALIGN_UP(len, PAGE_SIZE);
    if (alen < len || addr + alen < addr)
        return -ENOMEM;
    uint64_t start = addr, end = addr + alen;

    pthread_mutex_lock(&mm->mutate);
    if (prot & (PROT_GROWSDOWN | PROT_GROWSUP)) {
        struct vma *v = vma_lookup(mm, start);
        /* x86-64 has no grows-up mappings. */
        if (!v || (prot & PROT_GROWSUP) || !(v->flags & VMA_GROWSDOWN)) {
            r = v ? -EINVAL : -ENOMEM;
            goto out_unlock;
        }
        start = v->start;
    }
    prot &= PROT_RWX;
    if (!range_is_mapped(mm, start, end)) {
        r = -ENOMEM;
        goto out_unlock;
    }
    for (size_t i = vma_lower_bound(mm, start);
         (prot & PROT_WRITE) && i < mm->nr_vmas && mm->vmas[i].start < end; i++)
        if (mm->vmas[i].flags & (VMA_KERNEL | VMA_NOMAYWRITE)) {
            /* Linux: no VM_MAYWRITE (the vDSO data page; a shared mapping of
             * a file not open for writing) */
            r = -EACCES;
            goto out_unlock;
        }
    r = vmas_reserve(mm, 2);
    if (r < 0)
        goto out_unlock;
    /* One call per run of VMAs the stub maps alike: copy-on-write pages
     * stay without PROT_WRITE. */
    for (size_t i = vma_lower_bound(mm, start); mm->as && i < mm->nr_vmas &&
                                                mm->vmas[i].start < end;) {
        uint64_t s = MAX(mm->vmas[i].start, start), e = s;
        bool cow = mm->vmas[i].flags & VMA_COW;
        for (; i < mm->nr_vmas && mm->vmas[i].start < end &&
               !!(mm->vmas[i].flags & VMA_COW) == cow;
             i++)
            e = MIN(mm->vmas[i].end, end);
        r = g_platform->protect(mm->as, s, e - s, cow ? prot & ~PROT_WRITE : prot);
        if (r < 0)
            goto out_unlock;
    }
    pthread_rwlock_wrlock(&mm->lock);
    split_range_locked(mm, start, end);
    for (size_t i = vma_lower_bound(mm, start); i < mm->nr_vmas && mm->vmas[i].start < end; i++)
        mm->vmas[i].prot = prot;
    merge_range_locked(mm, start, end);
    pthread_rwlock_unlock(&mm->lock);
out_unlock:
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

/* Grows the heap from OLDEND to NEWEND (both aligned, the range free).
 * Caller holds mutate. 0 or -errno. */
static int brk_grow_locked(struct mm *mm, uint64_t oldend, uint64_t newend)
{
    uint64_t delta = newend - oldend;
    struct vma *prev = vma_lookup(mm, oldend - 1);
    int r;

    /* Extend the last heap piece in place when the offsets after it are free. */
    if (prev && prev->end == oldend && prev->start >= mm->brk_start && !prev->shared &&
        !prev->file && prev->prot == (PROT_READ | PROT_WRITE) && !(prev->flags & VMA_COW) &&
        memfile_alloc_at(prev->off + vma_len(prev), delta) == 0) {
        struct vma ext = *prev;
        ext.start = oldend;
        ext.end = newend;
        ext.off = prev->off + vma_len(prev);
        r = stub_map(mm, &ext);
        if (r < 0) {
            memfile_free(ext.off, delta);
            return r;
        }
        pthread_rwlock_wrlock(&mm->lock);
        vma_lookup(mm, oldend - 1)->end = newend;
        pthread_rwlock_unlock(&mm->lock);
        return 0;
    }
    struct vma nv = {
            .start = oldend,
            .end = newend,
            .prot = PROT_READ | PROT_WRITE,
            .flags = mm->lock_future ? VMA_LOCKED : 0,
    };
    r = vma_back_private(&nv);
    if (r < 0)
        return r;
    r = install_locked(mm, &nv);
    if (r < 0)
        vma_unback(&nv);
    return r;
}

uint64_t mm_brk(struct mm *mm, uint64_t brk)
{
    pthread_mutex_lock(&mm->mutate);
    uint64_t old = mm->brk;
    uint64_t oldend = ALIGN_UP(old, PAGE_SIZE);
    uint64_t newend = ALIGN_UP(brk, PAGE_SIZE);

    if (brk < mm->brk_start || newend < brk || mm->brk_start == 0)
        goto out;
    if (newend < oldend) {
        if (munmap_locked(mm, newend, oldend) < 0)
            goto out;
    } else if (newend > oldend) {
        if (!range_allowed(oldend, newend - oldend) || !range_is_free(mm, oldend, newend))
            goto out;
        if (!may_expand_locked(mm, newend - oldend, true, 0, true))
            goto out;
        if (mm->lock_future && !may_lock_locked(mm, newend - oldend))
            goto out;
        if (brk_grow_locked(mm, oldend, newend) < 0)
            goto out;
    }
    mm->brk = brk;
out:
    brk = mm->brk;
    pthread_mutex_unlock(&mm->mutate);
    return brk;
}

/* ------------------------------------------------------------------------ */
/* mremap. */

/* Backing for [start, end) that continues V (same kind, prot, flags): an
 * in-place extension of V's private range when free, else a new range,
 * filled from V's file. 0 or -errno. */
static int vma_continuation(const struct vma *v, uint64_t vend_off, uint64_t start, uint64_t end,
                            struct vma *out)
{
    int r;
    *out = *v;
    out->start = start;
    out->end = end;
    out->shared = NULL;
    out->flags &= ~(VMA_COW | VMA_LAZY); /* fresh pages */
    out->file_off = v->file_off + (vend_off - v->off);
    if (v->file)
        file_get(v->file);
    if (memfile_alloc_at(vend_off, end - start) == 0) {
        out->off = vend_off;
        if (v->file) {
            r = fill_from_file(v->file, out->file_off, out->off, end - start);
            if (r < 0) {
                vma_release(out);
                return r;
            }
        }
        return 0;
    }
    r = vma_back_private(out);
    if (r < 0 && out->file)
        file_put(out->file);
    return r;
}

/* Releases the pieces of VV that were never installed, and VV itself. */
static void vec_unback_all(struct vma_vec *vv)
{
    for (size_t i = 0; i < vv->nr; i++)
        vma_unback(&vv->v[i]);
    free(vv->v);
    vv->v = NULL;
    vv->nr = vv->cap = 0;
}

/* Appends to OUT the pieces that continue V (a piece ending where the
 * mapping being grown ends) over [start, end): more private memory for a
 * private mapping (filled from its file), the file's own pages for a shared
 * file mapping (pages past EOF raise SIGBUS as any), and for shared
 * anonymous memory the object's pages up to its end, then a VMA_NOBACK
 * piece: Linux's shared anonymous object keeps the size it was created
 * with, so what a grown mapping has past it raises SIGBUS. 0 or -errno
 * (OUT unchanged). */
static int continuation_pieces(const struct vma *v, uint64_t start, uint64_t end,
                               struct vma_vec *out)
{
    uint64_t len = end - start, vend_off = v->off + vma_len(v);
    int r;

    if (v->shared || (v->flags & VMA_NOBACK)) {
        r = vec_reserve(out, 2);
        if (r < 0)
            return r;
        uint64_t in_obj = 0;
        if (v->shared) {
            uint64_t obj_end = v->shared->off + v->shared->len;
            in_obj = vend_off < obj_end ? MIN(len, obj_end - vend_off) : 0;
        }
        struct vma p = *v;
        if (in_obj) {
            p.start = start;
            p.end = start + in_obj;
            p.off = vend_off;
            shared_get(p.shared);
            out->v[out->nr++] = p;
        }
        if (in_obj < len) {
            p.start = start + in_obj;
            p.end = end;
            p.off = 0;
            p.shared = NULL;
            p.flags |= VMA_NOBACK;
            out->v[out->nr++] = p;
        }
        return 0;
    }
    if ((v->flags & VMA_SHARED) && v->file) {
        struct vma *pv;
        size_t n;
        r = shared_file_pieces(v->file, v->file_off + vma_len(v), len, v, &pv, &n);
        if (r < 0)
            return r;
        r = vec_reserve(out, n);
        for (size_t i = 0; i < n; i++) {
            pv[i].start += start;
            pv[i].end += start;
            if (r == 0)
                out->v[out->nr++] = pv[i];
            else
                vma_release(&pv[i]);
        }
        free(pv);
        return r;
    }
    r = vec_reserve(out, 1);
    if (r == 0)
        r = vma_continuation(v, vend_off, start, end, &out->v[out->nr]);
    if (r == 0)
        out->nr++;
    return r;
}

/* For MREMAP_DONTUNMAP: what [start, end) maps once its pages moved away,
 * as Linux leaves it: the same VMAs, unlocked, whose private memory is
 * fresh (zeros, or the file's contents again) while shared memory and
 * shared file pages stay shared. 0 and OUT, or -errno. */
static int dontunmap_pieces(struct mm *mm, uint64_t start, uint64_t end, struct vma_vec *out)
{
    int r = vec_reserve(out, count_overlap(mm, start, end));
    for (size_t i = vma_lower_bound(mm, start);
         r == 0 && i < mm->nr_vmas && mm->vmas[i].start < end; i++) {
        struct vma p = mm->vmas[i];
        uint64_t s = MAX(p.start, start), e = MIN(p.end, end);
        p.off += s - p.start;
        p.file_off += s - p.start;
        p.start = s;
        p.end = e;
        p.flags &= ~(VMA_LOCKED | VMA_COW | VMA_LAZY);
        if (p.shared) {
            shared_get(p.shared);
        } else if (p.flags & VMA_NOBACK) {
            /* nothing held */
        } else if (p.flags & VMA_SHARED) {
            memfile_ref(p.off, vma_len(&p));
        } else {
            if (p.file)
                file_get(p.file);
            r = vma_back_private(&p);
            if (r < 0) {
                if (p.file)
                    file_put(p.file);
                break;
            }
            out->v[out->nr++] = p;
            continue;
        }
        if (p.file)
            file_get(p.file);
        out->v[out->nr++] = p;
    }
    if (r < 0)
        vec_unback_all(out);
    return r;
}

/* Moves [old_addr, old_addr+olen) (one logical VMA, possibly several
 * pieces) to NEW_ADDR, resized to NLEN, replacing what is mapped there. The
 * backing stays: only addresses change. With DONTUNMAP (olen == nlen) the
 * old range stays mapped (dontunmap_pieces). Caller holds mutate. 0 or
 * -errno. */
static void unpatch_moved_locked(struct mm *mm, uint64_t old, uint64_t len, uint64_t new);

static int mremap_move_locked(struct mm *mm, uint64_t old_addr, uint64_t olen, uint64_t new_addr,
                              uint64_t nlen, bool dontunmap)
{
    struct vma_vec moved = {0}, replaced = {0}, ext = {0}, stay = {0}, dest = {0};
    int r;

    if (nlen < olen) {
        r = munmap_locked(mm, old_addr + nlen, old_addr + olen);
        if (r < 0)
            return r;
        olen = nlen;
    }
    uint64_t old_end = old_addr + olen;
    if (nlen > olen) {
        /* Continue the last piece, clipped to the old range. */
        struct vma tail = *vma_lookup(mm, old_end - 1);
        tail.end = old_end;
        r = continuation_pieces(&tail, new_addr + olen, new_addr + nlen, &ext);
        if (r < 0)
            return r;
    }
    if (dontunmap) {
        r = dontunmap_pieces(mm, old_addr, old_end, &stay);
        if (r < 0)
            goto out_free;
    }
    size_t k = count_overlap(mm, old_addr, old_end);
    r = vec_reserve(&moved, k);
    if (r == 0)
        r = vec_reserve(&replaced, count_overlap(mm, new_addr, new_addr + nlen) + k + 1);
    if (r == 0)
        r = vmas_reserve(mm, 3 * k + ext.nr + 6);
    /* Where the pieces land (what the gaps between them face is kept). */
    if (r == 0)
        r = vec_reserve(&dest, k + 1);
    for (size_t i = vma_lower_bound(mm, old_addr);
         r == 0 && i < mm->nr_vmas && mm->vmas[i].start < old_end; i++) {
        struct vma p = mm->vmas[i];
        uint64_t s = MAX(p.start, old_addr), e = MIN(p.end, old_end);
        p.off += s - p.start;
        p.file_off += s - p.start;
        p.start = s - old_addr + new_addr;
        p.end = e - old_addr + new_addr;
        if (dest.nr && dest.v[dest.nr - 1].end == p.start)
            dest.v[dest.nr - 1].end = p.end;
        else
            dest.v[dest.nr++] = p;
        r = stub_map(mm, &p);
    }
    if (r == 0 && nlen > olen)
        dest.v[dest.nr++] = (struct vma){.start = new_addr + olen, .end = new_addr + nlen};
    for (size_t i = 0; r == 0 && i < ext.nr; i++)
        r = stub_map(mm, &ext.v[i]);
    if (r < 0)
        goto out_free;
    pthread_rwlock_wrlock(&mm->lock);
    for (size_t i = 0; i < dest.nr; i++)
        remove_range_locked(mm, dest.v[i].start, dest.v[i].end, &replaced);
    remove_range_locked(mm, old_addr, old_end, &moved);
    /* The moved pieces carry their references and backing along. */
    for (size_t i = 0; i < moved.nr; i++) {
        struct vma *p = &moved.v[i];
        p->start = p->start - old_addr + new_addr;
        p->end = p->end - old_addr + new_addr;
        vma_insert_locked(mm, vma_lower_bound(mm, p->start), p);
    }
    for (size_t i = 0; i < ext.nr; i++)
        vma_insert_locked(mm, vma_lower_bound(mm, ext.v[i].start), &ext.v[i]);
    ext.nr = 0;
    merge_range_locked(mm, new_addr, new_addr + nlen);
    pthread_rwlock_unlock(&mm->lock);
    if (dontunmap) {
        /* Maps over the old range (replacing the stub's old mapping). */
        int r2 = install_vec_locked(mm, stay.v, stay.nr);
        if (r2 < 0) {
            log_debug("mm: MREMAP_DONTUNMAP could not remap the old range (%d)", r2);
            if (mm->as)
                g_platform->unmap(mm->as, old_addr, olen);
        } else {
            stay.nr = 0;
        }
    } else if (mm->as) {
        g_platform->unmap(mm->as, old_addr, olen); /* if it fails, the stub dies anyway */
    }
    vec_release_all(&replaced);
    unpatch_moved_locked(mm, old_addr, olen, new_addr);
out_free:
    free(dest.v);
    free(moved.v);
    free(replaced.v);
    vec_unback_all(&ext);
    vec_unback_all(&stay);
    return r;
}

int mm_mremap(struct mm *mm, uint64_t old_addr, uint64_t old_len, uint64_t new_len, int flags,
              uint64_t new_addr, uint64_t *out_addr)
{
    struct vma mv;
    int r;

    if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP))
        return -EINVAL;
    if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
        return -EINVAL;
    bool dontunmap = flags & MREMAP_DONTUNMAP;
    /* DONTUNMAP moves the pages and leaves the mapping: same size only. */
    if (dontunmap && (!(flags & MREMAP_MAYMOVE) || old_len != new_len))
        return -EINVAL;
    if (!IS_ALIGNED(old_addr, PAGE_SIZE))
        return -EINVAL;
    uint64_t olen = ALIGN_UP(old_len, PAGE_SIZE), nlen = ALIGN_UP(new_len, PAGE_SIZE);
    if (olen < old_len || nlen < new_len || nlen == 0)
        return -EINVAL;
    if (flags & MREMAP_FIXED) {
        if (!IS_ALIGNED(new_addr, PAGE_SIZE))
            return -EINVAL;
        if (!range_allowed(new_addr, nlen))
            return -EINVAL;
        if (new_addr < old_addr + olen && old_addr < new_addr + nlen)
            return -EINVAL;
    }

    pthread_mutex_lock(&mm->mutate);
    struct vma *v = vma_lookup(mm, old_addr);
    if (!v) {
        r = -EFAULT;
        goto out_unlock;
    }
    if (olen == 0) {
        /* A second mapping of the same shared pages. */
        if (!v->shared || !(flags & MREMAP_MAYMOVE)) {
            r = v->shared ? -ENOMEM : -EINVAL;
            goto out_unlock;
        }
        uint64_t off = v->off + (old_addr - v->start);
        if (off + nlen > v->shared->off + v->shared->len) {
            r = -EINVAL;
            goto out_unlock;
        }
        uint64_t dst = (flags & MREMAP_FIXED) ? new_addr : find_free(mm, nlen, false);
        if (dst == 0) {
            r = -ENOMEM;
            goto out_unlock;
        }
        mv = *v;
        mv.start = dst;
        mv.end = dst + nlen;
        mv.off = off;
        shared_get(mv.shared);
        r = install_locked(mm, &mv);
        if (r < 0)
            shared_put(mv.shared);
        else
            *out_addr = dst;
        goto out_unlock;
    }
    /* The old range must lie in one (logical) VMA; LV holds its end. As
     * Linux 6.17+, a move to a fixed address without resizing may take
     * several VMAs and the gaps between them (which stay gaps), and a
     * shrink or a same-size call without a move only unmaps. */
    bool move_only = (flags & MREMAP_FIXED) && nlen == olen;
    bool unmap_only = !(flags & MREMAP_FIXED) && !dontunmap && nlen <= olen;
    size_t first = (size_t)(v - mm->vmas), last = first;
    while (!move_only && !unmap_only && mm->vmas[last].end < old_addr + olen) {
        if (last + 1 >= mm->nr_vmas || !vma_same_logical(&mm->vmas[last], &mm->vmas[last + 1])) {
            r = -EFAULT;
            goto out_unlock;
        }
        last++;
    }
    struct vma *lv = &mm->vmas[last];
    if (v->flags & VMA_KERNEL) {
        /* Linux: the vvar page is VM_PFNMAP | VM_DONTEXPAND. */
        if (dontunmap || nlen > olen) {
            r = dontunmap ? -EINVAL : -EFAULT;
            goto out_unlock;
        }
    }
    uint64_t grow = dontunmap ? nlen : nlen > olen ? nlen - olen : 0;
    if (grow && !may_expand_locked(mm, grow, counts_as_data(lv->prot, lv->flags), 0,
                                   (lv->prot & PROT_WRITE) && !(lv->flags & VMA_SHARED))) {
        r = -ENOMEM;
        goto out_unlock;
    }
    if (!(flags & MREMAP_FIXED) && !dontunmap) {
        if (nlen <= olen) {
            r = munmap_locked(mm, old_addr + nlen, old_addr + olen);
            if (r == 0)
                *out_addr = old_addr;
            goto out_unlock;
        }
        uint64_t grow_end = old_addr + nlen;
        if (old_addr + olen == lv->end && range_allowed(old_addr, nlen) &&
            range_is_free(mm, lv->end, grow_end)) {
            struct vma_vec ext = {0};
            r = continuation_pieces(lv, lv->end, grow_end, &ext);
            if (r == 0)
                r = install_vec_locked(mm, ext.v, ext.nr);
            if (r == 0) {
                free(ext.v);
                *out_addr = old_addr;
            } else {
                vec_unback_all(&ext);
            }
            goto out_unlock;
        }
        if (!(flags & MREMAP_MAYMOVE)) {
            r = -ENOMEM;
            goto out_unlock;
        }
    }
    if (!(flags & MREMAP_FIXED)) {
        new_addr = find_free(mm, nlen, false);
        if (new_addr == 0) {
            r = -ENOMEM;
            goto out_unlock;
        }
    }
    r = mremap_move_locked(mm, old_addr, olen, new_addr, nlen, dontunmap);
    if (r == 0)
        *out_addr = new_addr;
out_unlock:
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

/* Copies the pages of [src, src+len) that hold data into [dst, dst+len);
 * holes stay holes, so a sparse range costs only what it uses. */
static int copy_data(uint64_t src, uint64_t dst, uint64_t len)
{
    uint64_t at = src, end = src + len, ds, de;
    int r;
    while (at < end && (r = memfile_next_data(at, end, &ds, &de)) == 0) {
        if (memfile_copy(memfile_ptr(dst + (ds - src)), memfile_ptr(ds), de - ds) < 0)
            return -ENOMEM;
        at = de;
    }
    return (at >= end || r == -ENXIO) ? 0 : r;
}

/* ------------------------------------------------------------------------ */
/* Copy-on-write. Caller holds mutate for the _locked helpers. */

/* Gives [s, e) (page aligned, inside one private VMA) new pages of its own:
 * a copy of the old contents if COPY, else zeroes. The old pages lose this
 * mm's reference. 0 or -errno (nothing changed). */
static int private_reback_locked(struct mm *mm, uint64_t s, uint64_t e, bool copy)
{
    uint64_t len = e - s, noff;
    int r = vmas_reserve(mm, 2);
    if (r < 0)
        return r;
    r = memfile_alloc(len, &noff);
    if (r < 0)
        return r;
    struct vma piece = *vma_lookup(mm, s);
    uint64_t old = piece.off + (s - piece.start);
    piece.file_off += s - piece.start;
    piece.start = s;
    piece.end = e;
    piece.off = noff;
    piece.flags &= ~(VMA_COW | VMA_LAZY);
    const struct vma *v = vma_lookup(mm, s);
    if (copy && lazy_host_fd(v) >= 0) {
        /* The stub maps these pages from the host file, so the kernel's
         * cache of the file mostly lacks them: read them straight into the
         * new pages (filling the cache and then copying it cost three
         * times as much, ~6 us a page). */
        r = fill_from_file(piece.file, piece.file_off, noff, len);
    } else if (copy) {
        r = mm_lazy_fill(v, s, e);
        if (r == 0)
            r = copy_data(old, noff, len);
    }
    if (r == 0)
        r = stub_map(mm, &piece);
    if (r < 0) {
        memfile_free(noff, len);
        return r;
    }
    pthread_rwlock_wrlock(&mm->lock);
    split_range_locked(mm, s, e);
    struct vma *m = vma_lookup(mm, s);
    m->off = noff;
    m->flags &= ~(VMA_COW | VMA_LAZY);
    merge_range_locked(mm, s, e);
    pthread_rwlock_unlock(&mm->lock);
    /* The stub maps the new pages there now. */
    memfile_free(old, len);
    return 0;
}

/* Makes [s, e) (inside one VMA_COW VMA) this mm's alone. */
static int cow_break_piece_locked(struct mm *mm, uint64_t s, uint64_t e)
{
    int r = vmas_reserve(mm, 2);
    if (r < 0)
        return r;
    const struct vma *v = vma_lookup(mm, s);
    if (v->flags & VMA_LAZY) {
        /* Pages of the file's cache (which holds them too): always a copy,
         * never made writable in place. */
        return private_reback_locked(mm, s, e, true);
    }
    if (memfile_exclusive(v->off, vma_len(v))) {
        /* The other side copied or went away: write in place. */
        s = v->start;
        e = v->end;
    } else if (!memfile_exclusive(v->off + (s - v->start), e - s)) {
        return private_reback_locked(mm, s, e, true);
    }
    if (mm->as && (v->prot & PROT_WRITE)) {
        r = g_platform->protect(mm->as, s, e - s, v->prot);
        if (r < 0)
            return r;
    }
    pthread_rwlock_wrlock(&mm->lock);
    split_range_locked(mm, s, e);
    vma_lookup(mm, s)->flags &= ~VMA_COW;
    merge_range_locked(mm, s, e);
    pthread_rwlock_unlock(&mm->lock);
    return 0;
}

static int cow_break_locked(struct mm *mm, uint64_t start, uint64_t end)
{
    uint64_t at = start;
    while (at < end) {
        size_t i = vma_lower_bound(mm, at);
        if (i >= mm->nr_vmas || mm->vmas[i].start >= end)
            break;
        const struct vma *v = &mm->vmas[i];
        uint64_t s = MAX(v->start, at), e = MIN(v->end, end);
        at = e;
        if (v->flags & VMA_COW) {
            int r = cow_break_piece_locked(mm, s, e);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

bool mm_patch_worth(struct mm *mm, uint64_t site)
{
    /* Two slots a site may sit in: two sites that share one still both
     * get patched when they take turns (a read and a write loop). */
    size_t n = ARRAY_SIZE(mm->patch_seen);
    uint64_t *a = &mm->patch_seen[(site ^ (site >> 7)) % n];
    uint64_t *b = &mm->patch_seen[(site ^ (site >> 13) ^ (site >> 23)) % n];
    uint64_t in_a = __atomic_load_n(a, __ATOMIC_RELAXED);
    if (in_a == site || __atomic_load_n(b, __ATOMIC_RELAXED) == site)
        return true;
    __atomic_store_n(in_a ? b : a, site, __ATOMIC_RELAXED);
    return false;
}

/* mm_patch_text's work, with mutate held: the page is made this mm's own
 * (with the aligned RUN around it, within its VMA), then the N bytes at
 * ADDR go from OLD to NEW. */
static int patch_text_locked(struct mm *mm, uint64_t addr, const uint8_t *old, const uint8_t *new,
                             size_t n, uint64_t run)
{
    uint64_t page = ALIGN_DOWN(addr, PAGE_SIZE);
    const struct vma *v = vma_lookup(mm, addr);
    if (!v || v->end < addr + n)
        return -EFAULT;
    /* Private, file-backed, executable and not writable: the program and
     * libraries as loaded. Never a shared mapping, nor memory the app
     * writes. */
    if (!v->file || v->shared ||
        (v->flags & (VMA_SHARED | VMA_KERNEL | VMA_NOBACK | VMA_SHARED_COPY)) ||
        !(v->prot & PROT_EXEC) || (v->prot & PROT_WRITE))
        return -EPERM;
    /* This mm's own copy of the page: the file's cached page, mapped by
     * every process using the library, is never written. */
    uint64_t run_lo = MAX(v->start, ALIGN_DOWN(page, run));
    uint64_t run_hi = MIN(v->end, ALIGN_DOWN(page, run) + run);
    int r = cow_break_locked(mm, run_lo, run_hi);
    if (r < 0)
        return r;
    v = vma_lookup(mm, addr);
    if (!v || (v->flags & VMA_COW) || !memfile_exclusive(v->off + (page - v->start), PAGE_SIZE))
        return -EBUSY;
    uint8_t *p = memfile_ptr(v->off + (addr - v->start));
    if (memcmp(p, old, n) != 0)
        return -EAGAIN;
    uint8_t *w = (uint8_t *)ALIGN_DOWN((uintptr_t)p, 16);
    if ((uintptr_t)p + n <= (uintptr_t)w + 16) {
        /* One locked 16-byte store when the bytes share an aligned 16-byte
         * block (belt and braces: no other thread runs this text). */
        uint64_t cur[2], nv[2];
        memcpy(cur, w, 16);
        memcpy(nv, cur, 16);
        memcpy((uint8_t *)nv + (p - w), new, n);
        bool ok;
        __asm__ volatile("lock cmpxchg16b %1"
                         : "=@ccz"(ok), "+m"(*(volatile uint64_t(*)[2])w), "+a"(cur[0]),
                           "+d"(cur[1])
                         : "b"(nv[0]), "c"(nv[1])
                         : "memory");
        if (!ok)
            return -EAGAIN;
    } else {
        memcpy(p, new, n);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    return 0;
}

int mm_patch_text(struct mm *mm, uint64_t addr, const uint8_t *old, const uint8_t *new, size_t n)
{
    if (n == 0 || n > 16 || addr + n < addr ||
        ALIGN_DOWN(addr + n - 1, PAGE_SIZE) != ALIGN_DOWN(addr, PAGE_SIZE))
        return -EINVAL;
    int r = -EBUSY;
    pthread_mutex_lock(&mm->mutate);
    /* No other context runs app code here that could be between the old
     * instructions (and none can appear: only this one could make it).
     * The copy covers the aligned MM_PATCH_RUN around the page: a
     * program's patched sites cluster, and text copied page by page would
     * be a piece of its own per page, each one more mmap for the stub of
     * every fork child (and one more stub call here). Not in a fork child:
     * it mostly execs or exits soon, and patches the few sites only it
     * runs (_exit, execve) far from its parent's. */
    if (mm->nr_ctx == 1)
        r = patch_text_locked(mm, addr, old, new, n, mm->fork_child ? PAGE_SIZE : MM_PATCH_RUN);
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

/* After mremap moved [OLD, OLD+LEN) to NEW: the patched syscall sites
 * that moved get their original bytes back. A trampoline returns to the
 * address after its site, the old one, which the move left unmapped (or
 * to other code). Caller holds mutate. */
static void unpatch_moved_locked(struct mm *mm, uint64_t old, uint64_t len, uint64_t new)
{
    if (!mm->as || !g_platform || !g_platform->patch_sites)
        return;
    struct platform_patch few[16], *sites = few;
    size_t n = g_platform->patch_sites(mm->as, old, old + len, few, ARRAY_SIZE(few));
    if (n > ARRAY_SIZE(few)) {
        sites = calloc(n, sizeof(*sites));
        if (!sites) {
            log_warn("mm: no memory to undo the syscall patches of text mremap moved");
            return;
        }
        n = MIN(n, g_platform->patch_sites(mm->as, old, old + len, sites, n));
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t at = sites[i].site - old + new;
        uint8_t cur[7], orig[7];
        platform_patch_bytes(sites[i].tramp, cur);
        memcpy(orig, sites[i].insn, 5);
        orig[5] = 0x0f;
        orig[6] = 0x05;
        int r = patch_text_locked(mm, at, cur, orig, 7, PAGE_SIZE);
        if (r < 0 && r != -EAGAIN && r != -EFAULT)
            log_debug("mm: cannot undo the syscall patch at %#llx (moved): %s",
                      (unsigned long long)at, strerror(-r));
    }
    if (sites != few)
        free(sites);
}

int mm_cow_break(struct mm *mm, uint64_t start, uint64_t end)
{
    pthread_mutex_lock(&mm->mutate);
    int r = cow_break_locked(mm, ALIGN_DOWN(start, PAGE_SIZE), ALIGN_UP(end, PAGE_SIZE));
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

/* ------------------------------------------------------------------------ */
/* madvise, msync, mincore, mlock. */

static int set_flags_locked(struct mm *mm, uint64_t start, uint64_t end, unsigned set,
                            unsigned clear)
{
    int r = vmas_reserve(mm, 2);
    if (r < 0)
        return r;
    pthread_rwlock_wrlock(&mm->lock);
    split_range_locked(mm, start, end);
    for (size_t i = vma_lower_bound(mm, start); i < mm->nr_vmas && mm->vmas[i].start < end; i++)
        mm->vmas[i].flags = (mm->vmas[i].flags & ~clear) | set;
    merge_range_locked(mm, start, end);
    pthread_rwlock_unlock(&mm->lock);
    return 0;
}

/* Zeroes (or, for private file mappings, re-reads) the private memory of
 * [start, end); shared memory is left alone (REMOVE punches it too). */
static int discard_locked(struct mm *mm, uint64_t start, uint64_t end, bool remove_shared)
{
    uint64_t at = start;
    while (at < end) {
        size_t i = vma_lower_bound(mm, at);
        if (i >= mm->nr_vmas || mm->vmas[i].start >= end)
            break;
        struct vma *v = &mm->vmas[i];
        uint64_t s = MAX(v->start, at), e = MIN(v->end, end);
        uint64_t off = v->off + (s - v->start);
        at = e;
        if ((v->flags & VMA_SHARED) && !remove_shared)
            continue;
        if ((v->flags & VMA_COW) && !memfile_exclusive(off, e - s)) {
            /* Shared with another mm since fork: new pages, never a punch. */
            int r = private_reback_locked(mm, s, e, false);
            if (r < 0)
                return r;
            v = vma_lookup(mm, s);
            if (!v)
                return -EFAULT; /* cannot happen: the piece was just made */
            off = v->off + (s - v->start);
        } else {
            memfile_discard(off, e - s);
        }
        if (v->file && !(v->flags & VMA_SHARED)) {
            int r = fill_from_file(v->file, v->file_off + (s - v->start), off, e - s);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

int mm_madvise(struct mm *mm, uint64_t addr, uint64_t len, int advice)
{
    int r = 0;

    if (!IS_ALIGNED(addr, PAGE_SIZE))
        return -EINVAL;
    switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
    case MADV_FREE:
    case MADV_REMOVE:
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
    case MADV_DONTNEED_LOCKED:
        break;
    default:
        return -EINVAL;
    }
    uint64_t alen = ALIGN_UP(len, PAGE_SIZE);
    if (alen < len || addr + alen < addr)
        return -EINVAL;
    if (alen == 0)
        return 0;
    uint64_t start = addr, end = addr + alen;

    pthread_mutex_lock(&mm->mutate);
    if (!range_is_mapped(mm, start, end)) {
        /* Linux applies the advice to the mapped parts, then reports the hole. */
        r = -ENOMEM;
        if (advice != MADV_DONTNEED && advice != MADV_FREE && advice != MADV_DONTNEED_LOCKED)
            goto out_unlock;
    }
    switch (advice) {
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED: {
        int r2 = discard_locked(mm, start, end, false);
        if (r2 < 0)
            r = r2;
        break;
    }
    case MADV_FREE:
        for (size_t i = vma_lower_bound(mm, start); i < mm->nr_vmas && mm->vmas[i].start < end;
             i++)
            if ((mm->vmas[i].flags & VMA_SHARED) || mm->vmas[i].file) {
                r = -EINVAL;
                goto out_unlock;
            }
        discard_locked(mm, start, end, false);
        break;
    case MADV_REMOVE:
        for (size_t i = vma_lower_bound(mm, start); i < mm->nr_vmas && mm->vmas[i].start < end;
             i++)
            if (!mm->vmas[i].shared || (mm->vmas[i].flags & VMA_KERNEL)) {
                r = -EINVAL;
                goto out_unlock;
            }
        discard_locked(mm, start, end, true);
        break;
    case MADV_DONTFORK:
        r = set_flags_locked(mm, start, end, VMA_DONTFORK, 0);
        break;
    case MADV_DOFORK:
        r = set_flags_locked(mm, start, end, 0, VMA_DONTFORK);
        break;
    case MADV_WIPEONFORK:
        for (size_t i = vma_lower_bound(mm, start); i < mm->nr_vmas && mm->vmas[i].start < end;
             i++)
            if ((mm->vmas[i].flags & VMA_SHARED) || mm->vmas[i].file) {
                r = -EINVAL;
                goto out_unlock;
            }
        r = set_flags_locked(mm, start, end, VMA_WIPEONFORK, 0);
        break;
    case MADV_KEEPONFORK:
        r = set_flags_locked(mm, start, end, 0, VMA_WIPEONFORK);
        break;
    default:
        /* Hints: the host pages the memory file in and out as it sees fit. */
        break;
    }
out_unlock:
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

int mm_msync(struct mm *mm, uint64_t addr, uint64_t len, int flags)
{
    if (!IS_ALIGNED(addr, PAGE_SIZE))
        return -EINVAL;
    if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC))
        return -EINVAL;
    if ((flags & MS_ASYNC) && (flags & MS_SYNC))
        return -EINVAL;
    uint64_t alen = ALIGN_UP(len, PAGE_SIZE);
    if (alen < len || addr + alen < addr)
        return -ENOMEM;
    if (alen == 0)
        return 0;
    pthread_rwlock_rdlock(&mm->lock);
    bool ok = range_is_mapped(mm, addr, addr + alen);
    pthread_rwlock_unlock(&mm->lock);
    /* Shared file mappings map the file's own pages (tmpfs data lives in the
     * memory file; read-only hostfs files never change): nothing to write
     * back, and MS_INVALIDATE has nothing stale to drop. */
    return ok ? 0 : -ENOMEM;
}

int mm_mincore(struct mm *mm, uint64_t addr, uint64_t len, uint8_t *vec)
{
    int r = 0;

    if (!IS_ALIGNED(addr, PAGE_SIZE))
        return -EINVAL;
    uint64_t alen = ALIGN_UP(len, PAGE_SIZE);
    if (alen < len || addr + alen < addr)
        return -ENOMEM;
    uint64_t end = addr + alen;
    memset(vec, 0, alen / PAGE_SIZE);
    pthread_rwlock_rdlock(&mm->lock);
    if (!range_is_mapped(mm, addr, end)) {
        r = -ENOMEM;
        goto out_unlock;
    }
    for (size_t i = vma_lower_bound(mm, addr); i < mm->nr_vmas && mm->vmas[i].start < end; i++) {
        const struct vma *v = &mm->vmas[i];
        if (v->flags & VMA_NOBACK)
            continue;
        uint64_t s = MAX(v->start, addr), e = MIN(v->end, end);
        uint64_t off = v->off + (s - v->start), off_end = off + (e - s);
        uint64_t ds, de;
        while (off < off_end && memfile_next_data(off, off_end, &ds, &de) == 0) {
            uint64_t a = s + (ds - (v->off + (s - v->start)));
            uint64_t b = a + (de - ds);
            for (uint64_t p = ALIGN_DOWN(a, PAGE_SIZE); p < b; p += PAGE_SIZE)
                vec[(p - addr) / PAGE_SIZE] = 1;
            off = de;
        }
    }
out_unlock:
    pthread_rwlock_unlock(&mm->lock);
    return r;
}

static uint64_t locked_bytes_locked(const struct mm *mm)
{
    uint64_t n = 0;
    for (size_t i = 0; i < mm->nr_vmas; i++)
        if (mm->vmas[i].flags & VMA_LOCKED)
            n += vma_len(&mm->vmas[i]);
    return n;
}

int mm_mlock(struct mm *mm, uint64_t addr, uint64_t len, bool lock, bool populate,
             uint64_t limit)
{
    int r = 0;
    uint64_t start = ALIGN_DOWN(addr, PAGE_SIZE);
    uint64_t end = ALIGN_UP(addr + len, PAGE_SIZE);

    if (addr + len < addr || end < addr + len)
        return -ENOMEM;
    if (start == end)
        return 0;
    pthread_mutex_lock(&mm->mutate);
    if (!range_is_mapped(mm, start, end)) {
        r = -ENOMEM;
        goto out_unlock;
    }
    if (lock) {
        uint64_t already = 0;
        for (size_t i = vma_lower_bound(mm, start); i < mm->nr_vmas && mm->vmas[i].start < end;
             i++)
            if (mm->vmas[i].flags & VMA_LOCKED)
                already += MIN(mm->vmas[i].end, end) - MAX(mm->vmas[i].start, start);
        if (locked_bytes_locked(mm) - already + (end - start) > limit) {
            r = -ENOMEM;
            goto out_unlock;
        }
    }
    r = set_flags_locked(mm, start, end, lock ? VMA_LOCKED : 0, lock ? 0 : VMA_LOCKED);
    if (r == 0 && lock && populate)
        populate_locked(mm, start, end);
out_unlock:
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

int mm_mlockall(struct mm *mm, int flags, uint64_t limit)
{
    int r = 0;
    pthread_mutex_lock(&mm->mutate);
    if (flags & MCL_CURRENT) {
        uint64_t total = 0;
        for (size_t i = 0; i < mm->nr_vmas; i++)
            total += vma_len(&mm->vmas[i]);
        if (total > limit) {
            r = -ENOMEM;
            goto out_unlock;
        }
        pthread_rwlock_wrlock(&mm->lock);
        for (size_t i = 0; i < mm->nr_vmas; i++)
            mm->vmas[i].flags |= VMA_LOCKED;
        merge_range_locked(mm, 0, UINT64_MAX);
        pthread_rwlock_unlock(&mm->lock);
        if (!(flags & MCL_ONFAULT))
            populate_locked(mm, 0, UINT64_MAX);
    }
    /* New mappings are locked (and refused past RLIMIT_MEMLOCK: EAGAIN). */
    mm->lock_future = flags & MCL_FUTURE;
out_unlock:
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

void mm_munlockall(struct mm *mm)
{
    pthread_mutex_lock(&mm->mutate);
    pthread_rwlock_wrlock(&mm->lock);
    for (size_t i = 0; i < mm->nr_vmas; i++)
        mm->vmas[i].flags &= ~VMA_LOCKED;
    merge_range_locked(mm, 0, UINT64_MAX);
    pthread_rwlock_unlock(&mm->lock);
    mm->lock_future = false;
    pthread_mutex_unlock(&mm->mutate);
}

uint64_t mm_locked_bytes(struct mm *mm)
{
    pthread_rwlock_rdlock(&mm->lock);
    uint64_t n = locked_bytes_locked(mm);
    pthread_rwlock_unlock(&mm->lock);
    return n;
}

uint64_t mm_total_bytes(struct mm *mm)
{
    uint64_t n = 0;
    pthread_rwlock_rdlock(&mm->lock);
    for (size_t i = 0; i < mm->nr_vmas; i++)
        n += vma_len(&mm->vmas[i]);
    pthread_rwlock_unlock(&mm->lock);
    return n;
}

/* ------------------------------------------------------------------------ */
/* fork. */

/* Before fork shares MM's private pages: write-protects them in the stub
 * (one call per run of adjacent writable VMAs) and marks them VMA_COW. From
 * then on neither the app's threads nor the kernel write them in place.
 * VMAs whose COPIED entry is not MM_NO_COPY (the child got a copy) stay as
 * they are. */
#define MM_NO_COPY UINT64_MAX
static int cow_protect_locked(struct mm *mm, const uint64_t *copied)
{
#define COW_CANDIDATE(i)                                                                           \
    (!(mm->vmas[i].flags & (VMA_SHARED | VMA_COW | VMA_DONTFORK | VMA_WIPEONFORK)) &&             \
     copied[i] == MM_NO_COPY)
    for (size_t i = 0; mm->as && i < mm->nr_vmas;) {
        const struct vma *v = &mm->vmas[i];
        if (!COW_CANDIDATE(i) || !(v->prot & PROT_WRITE)) {
            i++;
            continue;
        }
        uint64_t s = v->start, e = v->end;
        int prot = v->prot;
        for (i++; i < mm->nr_vmas && mm->vmas[i].start == e && COW_CANDIDATE(i) &&
                  mm->vmas[i].prot == prot;
             i++)
            e = mm->vmas[i].end;
        int r = g_platform->protect(mm->as, s, e - s, prot & ~PROT_WRITE);
        if (r < 0)
            return r; /* the stub is dying; the repair path of mm_fault copes */
    }
    pthread_rwlock_wrlock(&mm->lock);
    for (size_t i = 0; i < mm->nr_vmas; i++)
        if (COW_CANDIDATE(i))
            mm->vmas[i].flags |= VMA_COW;
    pthread_rwlock_unlock(&mm->lock);
    return 0;
#undef COW_CANDIDATE
}

uint64_t g_mm_fork_copy_max = MM_FORK_COPY_MAX;

/* Whether fork may give the child a copy of V's pages at once: private,
 * writable memory with pages of its own (not shared memory, not a kernel
 * range, not one fork treats specially). */
static bool fork_copy_candidate(const struct vma *v)
{
    return (v->prot & PROT_WRITE) && !v->shared &&
           !(v->flags & (VMA_SHARED | VMA_SHARED_COPY | VMA_DONTFORK | VMA_WIPEONFORK |
                         VMA_KERNEL | VMA_NOBACK | VMA_LAZY));
}

/* Copies the pages of the private VMA V marked in VEC (memfile_incore of
 * its pages) into the fresh pages at DST, a run at a time, through the
 * host's write path: the new pages are neither faulted in nor zeroed
 * first, and the others stay holes. 0 or -ENOMEM. */
static int copy_incore(const struct vma *v, const uint8_t *vec, uint64_t dst)
{
    uint64_t n = vma_len(v) / PAGE_SIZE;
    for (uint64_t i = 0; i < n;) {
        if (!(vec[i] & 1)) {
            i++;
            continue;
        }
        uint64_t j = i + 1;
        while (j < n && (vec[j] & 1))
            j++;
        if (memfile_write(dst + i * PAGE_SIZE, memfile_ptr(v->off + i * PAGE_SIZE),
                          (j - i) * PAGE_SIZE) < 0)
            return -ENOMEM;
        i = j;
    }
    return 0;
}

/* The most pages of a VMA fork_copy_small_locked looks at (one byte each). */
#define FORK_COPY_SCAN_MAX 16384
/* Up to this many pages, mincore finds a VMA's data in one host call;
 * bigger ones are walked by SEEK_DATA (mincore looks up every page). */
#define FORK_INCORE_MAX 64

/* Marks in VEC (a byte a page, bit 0) the pages of V that hold data;
 * returns how many, or more than MAX once there are (the map is then
 * incomplete), or UINT64_MAX if the host cannot tell. */
static uint64_t data_map(const struct vma *v, uint8_t *vec, uint64_t max)
{
    uint64_t pages = vma_len(v) / PAGE_SIZE, n = 0;
    if (pages <= FORK_INCORE_MAX) {
        if (memfile_incore(v->off, vma_len(v), vec) < 0)
            return UINT64_MAX;
        for (uint64_t p = 0; p < pages; p++)
            n += vec[p] & 1;
        return n;
    }
    memset(vec, 0, pages);
    uint64_t at = v->off, end = v->off + vma_len(v), ds, de;
    int r = 0;
    while (at < end && n <= max && (r = memfile_next_data(at, end, &ds, &de)) == 0) {
        for (uint64_t p = (ds - v->off) / PAGE_SIZE; p < (de - v->off) / PAGE_SIZE; p++)
            vec[p] = 1;
        n += (de - ds) / PAGE_SIZE;
        at = de;
    }
    return at >= end || n > max || r == -ENXIO ? n : UINT64_MAX;
}

/* Chooses the VMAs of PARENT (a fork with no other thread in it) whose
 * pages the child gets a copy of now, at most g_mm_fork_copy_max bytes of
 * data in all, from the top of the address space down (the stack first),
 * and makes the copies: COPIED[i] is the child's memory-file offset for
 * VMA i, or MM_NO_COPY (shared copy-on-write as usual). Caller holds
 * mutate; mm->lock is held for writing meanwhile, so no copy-out from
 * another process (process_vm_writev, /proc/PID/mem) changes the pages
 * half-way through a copy. Failures just leave VMAs to copy-on-write. */
static void fork_copy_small_locked(struct mm *parent, uint64_t *copied)
{
    uint64_t budget = g_mm_fork_copy_max;
    if (budget == 0 || parent->nr_ctx > 1)
        return;
    uint8_t *vec = malloc(FORK_COPY_SCAN_MAX);
    if (!vec)
        return;
    pthread_rwlock_wrlock(&parent->lock);
    for (size_t i = parent->nr_vmas; i-- > 0 && budget > 0;) {
        const struct vma *v = &parent->vmas[i];
        uint64_t pages = vma_len(v) / PAGE_SIZE;
        if (!fork_copy_candidate(v) || pages > FORK_COPY_SCAN_MAX)
            continue;
        /* A file's pages only once they are this mm's own copy: the file
         * system's shared pages (private_file_pieces) are its business. */
        if (v->file && !memfile_exclusive(v->off, vma_len(v)))
            continue;
        uint64_t n = data_map(v, vec, budget / PAGE_SIZE);
        if (n * PAGE_SIZE > budget)
            continue;
        uint64_t off;
        if (memfile_alloc(vma_len(v), &off) < 0)
            break;
        if (copy_incore(v, vec, off) < 0) {
            memfile_free(off, vma_len(v));
            break; /* the memory limit: copy-on-write costs nothing now */
        }
        copied[i] = off;
        budget -= n * PAGE_SIZE;
    }
    pthread_rwlock_unlock(&parent->lock);
    free(vec);
}

int mm_fork(struct mm *parent, struct mm **out_child)
{
    struct mm *c = mm_new();
    uint64_t *copied = NULL;
    int r = 0;

    if (!c)
        return -ENOMEM;
    pthread_mutex_lock(&parent->mutate);
    c->vmas = calloc(MAX(parent->nr_vmas, (size_t)1), sizeof(struct vma));
    if (!c->vmas) {
        r = -ENOMEM;
        goto out_unlock;
    }
    c->cap_vmas = MAX(parent->nr_vmas, (size_t)1);
    c->brk_start = parent->brk_start;
    c->brk = parent->brk;
    c->mmap_base = parent->mmap_base;
    c->stack_top = parent->stack_top;
    c->lim = parent->lim;
    c->personality = parent->personality;
    c->pid = parent->pid;
    c->fork_child = true;
    /* The child's text holds the parent's syscall patches: it needs their
     * trampolines (mapped by mm_attach). */
    if (parent->as && g_platform && g_platform->patch_family_get)
        c->patch_fam = g_platform->patch_family_get(parent->as);
    copied = malloc(MAX(parent->nr_vmas, (size_t)1) * sizeof(*copied));
    if (!copied) {
        r = -ENOMEM;
        goto out_unlock;
    }
    for (size_t i = 0; i < parent->nr_vmas; i++)
        copied[i] = MM_NO_COPY;
    fork_copy_small_locked(parent, copied);
    r = cow_protect_locked(parent, copied);
    if (r < 0)
        goto out_unlock;
    for (size_t i = 0; i < parent->nr_vmas; i++) {
        const struct vma *pv = &parent->vmas[i];
        struct vma cv = *pv;
        if (pv->flags & VMA_DONTFORK)
            continue;
        cv.flags &= ~VMA_LOCKED; /* memory locks are not inherited */
        if (copied[i] != MM_NO_COPY) {
            /* A copy of its own (fork_copy_small_locked). */
            cv.off = copied[i];
            cv.flags &= ~VMA_COW;
            copied[i] = MM_NO_COPY;
        } else if (pv->shared) {
            shared_get(cv.shared);
        } else if (pv->flags & VMA_NOBACK) {
            /* nothing to share */
        } else if (pv->flags & VMA_WIPEONFORK) {
            r = memfile_alloc(vma_len(pv), &cv.off);
            if (r < 0)
                goto out_unlock;
            cv.flags &= ~(VMA_COW | VMA_LAZY);
        } else {
            /* Private memory (marked VMA_COW by cow_protect_locked) and
             * shared file pages: the same pages, one more reference. */
            memfile_ref(pv->off, vma_len(pv));
        }
        if (cv.file)
            file_get(cv.file);
        c->vmas[c->nr_vmas++] = cv;
    }
out_unlock:
    /* Copies not handed to the child (an error part-way). */
    for (size_t i = 0; copied && i < parent->nr_vmas; i++)
        if (copied[i] != MM_NO_COPY)
            memfile_free(copied[i], vma_len(&parent->vmas[i]));
    free(copied);
    pthread_mutex_unlock(&parent->mutate);
    if (r < 0) {
        mm_put(c);
        return r;
    }
    *out_child = c;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Stack growth. */

/* Grows the MAP_GROWSDOWN mapping just above ADDR (which nothing maps) down
 * to cover it, as Linux's expand_stack(): the whole logical mapping stays
 * within RLIMIT_STACK and the address space within RLIMIT_AS, and an
 * accessible mapping below keeps MM_STACK_GUARD_GAP of distance. The initial
 * stack grows by MM_STACK_GROW_STEP when those allow. Caller holds mutate. 0, -EFAULT (no
 * stack above ADDR) or -ENOMEM (a limit). */
static int stack_grow_locked(struct mm *mm, uint64_t addr)
{
    size_t i = vma_lower_bound(mm, addr);
    if (i >= mm->nr_vmas)
        return -EFAULT;
    const struct vma *v = &mm->vmas[i];
    if (!(v->flags & VMA_GROWSDOWN) || v->start <= addr || v->shared || v->file)
        return -EFAULT;
    uint64_t page = ALIGN_DOWN(addr, PAGE_SIZE);
    uint64_t top = v->end;
    for (size_t j = i; j + 1 < mm->nr_vmas && vma_same_logical(&mm->vmas[j], &mm->vmas[j + 1]);
         j++)
        top = mm->vmas[j + 1].end;
    uint64_t floor = PLATFORM_APP_MIN;
    if (mm->lim.stack != MM_UNLIMITED)
        floor = MAX(floor, top > mm->lim.stack ? ALIGN_UP(top - mm->lim.stack, PAGE_SIZE) : 0);
    if (i > 0) {
        const struct vma *prev = &mm->vmas[i - 1];
        uint64_t pe = prev->end;
        if (!(prev->flags & VMA_GROWSDOWN) && (prev->prot & PROT_RWX))
            pe += MM_STACK_GUARD_GAP;
        floor = MAX(floor, pe);
    }
    if (v->start >= PLATFORM_STUB_END)
        floor = MAX(floor, PLATFORM_STUB_END);
    if (page < floor)
        return -ENOMEM;
    /* The initial stack grows by steps; an app's own MAP_GROWSDOWN mapping
     * to the page, as Linux (the app can see where its mapping starts). */
    uint64_t step = top == mm->stack_top ? MM_STACK_GROW_STEP : PAGE_SIZE;
    uint64_t start = MAX(ALIGN_DOWN(page, step), floor);
    uint64_t len = v->start - start;
    if (!may_expand_locked(mm, len, false, 0, false))
        return -ENOMEM;
    struct vma nv = *v;
    nv.start = start;
    nv.end = v->start;
    nv.flags &= ~VMA_COW;
    /* Offsets just below the stack's own keep it one VMA. */
    if (!(v->flags & VMA_COW) && v->off >= len && memfile_alloc_at(v->off - len, len) == 0)
        nv.off = v->off - len;
    else if (memfile_alloc(len, &nv.off) < 0)
        return -ENOMEM;
    int r = install_locked(mm, &nv);
    if (r < 0)
        memfile_free(nv.off, len);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Copy-in/copy-out and faults. */

enum copy_dir { COPY_IN, COPY_OUT, COPY_OUT_FORCE };

static int copy_user(struct mm *mm, uint64_t addr, void *buf, size_t n, enum copy_dir dir)
{
    int need = dir == COPY_IN ? PROT_READ : dir == COPY_OUT ? PROT_WRITE : 0;
    uint8_t *p = buf;
    int r = 0;

    if (n == 0)
        return 0;
    if (addr + n < addr)
        return -EFAULT;
restart:
    pthread_rwlock_rdlock(&mm->lock);
    size_t i = vma_lower_bound(mm, addr);
    while (n > 0) {
        if (i < mm->nr_vmas && mm->vmas[i].start > addr &&
            (mm->vmas[i].flags & VMA_GROWSDOWN)) {
            /* Below a growing stack (a signal frame past its extent):
             * grow it as an app access would, then look again. */
            pthread_rwlock_unlock(&mm->lock);
            pthread_mutex_lock(&mm->mutate);
            int g = stack_grow_locked(mm, addr);
            pthread_mutex_unlock(&mm->mutate);
            if (g < 0)
                return -EFAULT;
            goto restart;
        }
        if (i >= mm->nr_vmas || mm->vmas[i].start > addr ||
            (mm->vmas[i].prot & need) != need) {
            r = -EFAULT;
            break;
        }
        const struct vma *v = &mm->vmas[i];
        size_t chunk = (size_t)MIN((uint64_t)n, v->end - addr);
        if (v->flags & VMA_NOBACK) {
            r = -EFAULT; /* the app would get SIGBUS there */
            break;
        }
        if (dir != COPY_IN && (v->flags & VMA_COW)) {
            /* Shared since fork: get our own pages first (that takes
             * mutate, which comes before mm->lock), then look again. */
            pthread_rwlock_unlock(&mm->lock);
            if (mm_cow_break(mm, addr, addr + chunk) < 0)
                return -EFAULT;
            goto restart;
        }
        if (mm_lazy_fill(v, addr, addr + chunk) < 0) {
            r = -EFAULT;
            break;
        }
        uint8_t *mem = memfile_ptr(v->off + (addr - v->start));
        /* Under a memory limit the host may refuse a page: -EFAULT then. */
        if ((dir == COPY_IN ? memfile_copy(p, mem, chunk) : memfile_copy(mem, p, chunk)) < 0) {
            r = -EFAULT;
            break;
        }
        p += chunk;
        addr += chunk;
        n -= chunk;
        i++;
    }
    pthread_rwlock_unlock(&mm->lock);
    return r;
}

int mm_copy_in(struct mm *mm, void *dst, uint64_t src, size_t n)
{
    return copy_user(mm, src, dst, n, COPY_IN);
}

int mm_copy_out(struct mm *mm, uint64_t dst, const void *src, size_t n)
{
    return copy_user(mm, dst, (void *)src, n, COPY_OUT);
}

int mm_copy_out_force(struct mm *mm, uint64_t dst, const void *src, size_t n)
{
    return copy_user(mm, dst, (void *)src, n, COPY_OUT_FORCE);
}

long mm_io_user(struct mm *mm, uint64_t addr, size_t n, bool out, mm_io_fn fn, void *ctx)
{
    int need = out ? PROT_WRITE : PROT_READ;
    size_t done = 0;
    long r = -EFAULT;

    if (g_memfile_limit)
        return -EOPNOTSUPP; /* FN's copies could meet SIGBUS on a refused page */
    if (n == 0)
        return 0;
    if (addr + n < addr)
        return -EFAULT;
restart:
    pthread_rwlock_rdlock(&mm->lock);
    size_t i = vma_lower_bound(mm, addr);
    while (done < n) {
        if (i < mm->nr_vmas && mm->vmas[i].start > addr &&
            (mm->vmas[i].flags & VMA_GROWSDOWN)) {
            pthread_rwlock_unlock(&mm->lock); /* as copy_user */
            pthread_mutex_lock(&mm->mutate);
            int g = stack_grow_locked(mm, addr);
            pthread_mutex_unlock(&mm->mutate);
            if (g < 0)
                return done ? (long)done : -EFAULT;
            goto restart;
        }
        if (i >= mm->nr_vmas || mm->vmas[i].start > addr ||
            (mm->vmas[i].prot & need) != need || (mm->vmas[i].flags & VMA_NOBACK))
            break;
        const struct vma *v = &mm->vmas[i];
        size_t chunk = (size_t)MIN((uint64_t)(n - done), v->end - addr);
        if (out && (v->flags & VMA_COW)) {
            pthread_rwlock_unlock(&mm->lock);
            if (mm_cow_break(mm, addr, addr + chunk) < 0)
                return done ? (long)done : -EFAULT;
            goto restart;
        }
        if (mm_lazy_fill(v, addr, addr + chunk) < 0)
            break;
        long got = fn(ctx, memfile_ptr(v->off + (addr - v->start)), chunk);
        if (got < 0) {
            r = got;
            break;
        }
        done += (size_t)got;
        addr += (uint64_t)got;
        if ((size_t)got < chunk) {
            r = 0; /* a short count (0 at EOF) ends it */
            break;
        }
        i++;
    }
    pthread_rwlock_unlock(&mm->lock);
    return done ? (long)done : r;
}

long mm_strncpy_in(struct mm *mm, char *dst, uint64_t src, size_t max)
{
    size_t done = 0;
    long r = -ENAMETOOLONG;

    pthread_rwlock_rdlock(&mm->lock);
    size_t i = vma_lower_bound(mm, src);
    while (done < max) {
        if (i >= mm->nr_vmas || mm->vmas[i].start > src || !(mm->vmas[i].prot & PROT_READ) ||
            (mm->vmas[i].flags & VMA_NOBACK)) {
            r = -EFAULT;
            break;
        }
        const struct vma *v = &mm->vmas[i];
        /* A page at a time: never touch app pages past the NUL. */
        size_t chunk = (size_t)MIN((uint64_t)(max - done),
                                   MIN(v->end, ALIGN_DOWN(src, PAGE_SIZE) + PAGE_SIZE) - src);
        const char *mem = memfile_ptr(v->off + (src - v->start));
        if (mm_lazy_fill(v, src, src + chunk) < 0 || memfile_copy(dst + done, mem, chunk) < 0) {
            r = -EFAULT;
            break;
        }
        const char *nul = memchr(dst + done, 0, chunk);
        if (nul) {
            r = (long)(nul - dst);
            break;
        }
        done += chunk;
        src += chunk;
        if (src == v->end)
            i++;
    }
    pthread_rwlock_unlock(&mm->lock);
    return r;
}

int mm_fault_signal(struct mm *mm, uint64_t addr, bool write, int host_signo, int pid,
                    int *out_signo, int *out_code)
{
    int r = -EFAULT;
    uint64_t page = ALIGN_DOWN(addr, PAGE_SIZE);

    *out_signo = SIGSEGV;
    pthread_mutex_lock(&mm->mutate);
    struct vma *v = vma_lookup(mm, addr);
    if (!v) {
        *out_code = SEGV_MAPERR;
        if (stack_grow_locked(mm, addr) == 0) {
            r = 0;
            mm->repaired_page = 0;
        }
        goto out_unlock;
    }
    *out_code = SEGV_ACCERR;
    if ((write && !(v->prot & PROT_WRITE)) || !(v->prot & PROT_READ))
        goto out_unlock;
    if (v->flags & VMA_NOBACK) {
        /* Past the end of a grown shared anonymous object. */
        *out_signo = SIGBUS;
        *out_code = BUS_ADRERR;
        goto out_unlock;
    }
    if (v->file && !(v->flags & VMA_KERNEL) && (host_signo == SIGBUS || host_signo == 0)) {
        uint64_t backed = vma_file_bytes(v);
        if (page >= v->start + backed) {
            *out_signo = SIGBUS;
            *out_code = BUS_ADRERR;
            goto out_unlock;
        }
        if ((v->flags & VMA_LAZY) && mm->as && mm->repaired_page != page) {
            /* Not filled yet (or filled by another address space, or left
             * unmapped by stub_map_lazy): fill the window around the page
             * and map it. */
            uint64_t win = ALIGN_DOWN(page, MM_LAZY_WINDOW);
            uint64_t ws = MAX(v->start, win), we = MIN(v->start + backed, win + MM_LAZY_WINDOW);
            int r2 = mm_lazy_fill(v, ws, we);
            if (r2 == 0) {
                /* With the pages filled around it. */
                uint64_t lo = v->start + (page - v->start > MM_LAZY_MAP_MAX
                                              ? page - v->start - MM_LAZY_MAP_MAX : 0);
                uint64_t hi = MIN(v->start + backed, page + MM_LAZY_MAP_MAX);
                uint64_t rs, re;
                if (pagecache_file_private_filled(v->file, v->file_off + (page - v->start),
                                                  v->file_off + (lo - v->start),
                                                  v->file_off + (hi - v->start), &rs, &re) == 1) {
                    ws = MIN(ws, v->start + (rs - v->file_off));
                    we = MAX(we, v->start + (re - v->file_off));
                }
                r2 = g_platform->map(mm->as, ws, we - ws, vma_stub_prot(v),
                                     v->off + (ws - v->start));
            }
            if (r2 == 0) {
                mm->repaired_page = page;
                r = 0;
            } else if (r2 == -ENOMEM && g_memfile_limit) {
                memfile_log_limit(pid);
                *out_signo = SIGKILL;
                *out_code = SI_KERNEL;
            } else {
                log_debug("mm: filling the file page at %#" PRIx64 " failed (%d)", addr, r2);
                *out_signo = SIGBUS;
                *out_code = BUS_ADRERR;
            }
            goto out_unlock;
        }
        if (host_signo == SIGBUS && mm->as && mm->repaired_page != page) {
            /* Mapped past EOF, but the file has grown since: a private
             * mapping reads the new data (if still its own), then the page
             * is mapped as any other. */
            uint64_t off = v->off + (page - v->start);
            if (!(v->flags & VMA_SHARED)) {
                if ((v->flags & VMA_COW) && !memfile_exclusive(off, PAGE_SIZE)) {
                    if (private_reback_locked(mm, page, page + PAGE_SIZE, false) < 0)
                        goto out_unlock;
                    v = vma_lookup(mm, page);
                    off = v->off + (page - v->start);
                }
                if (fill_from_file(v->file, v->file_off + (page - v->start), off, PAGE_SIZE) < 0)
                    goto out_unlock;
            }
            if (g_platform->map(mm->as, page, PAGE_SIZE, vma_stub_prot(v), off) == 0) {
                mm->repaired_page = page;
                r = 0;
            }
            goto out_unlock;
        }
    }
    if (host_signo == 0 && !((v->flags & VMA_COW) && (v->prot & PROT_WRITE)) && g_memfile_limit &&
        memfile_resident() + PAGE_SIZE > g_memfile_limit) {
        /* mm_fault() without the host's signal: a full memory file says
         * this was the host refusing the page. */
        host_signo = SIGBUS;
        pid = mm->pid;
    }
    if (host_signo == SIGBUS) {
        /* A page the VMA allows and the host refused: the memory limit. */
        if (g_memfile_limit) {
            memfile_log_limit(pid);
            *out_signo = SIGKILL;
            *out_code = SI_KERNEL;
        } else {
            *out_signo = SIGBUS;
            *out_code = BUS_ADRERR;
        }
        goto out_unlock;
    }
    if ((v->flags & VMA_COW) && (v->prot & PROT_WRITE)) {
        /* The stub maps COW pages read-only, so this was a write (the
         * platform cannot tell us): copy the run around the page. */
        uint64_t run = ALIGN_DOWN(addr, MM_COW_RUN);
        int r2 = cow_break_locked(mm, MAX(v->start, run), MIN(v->end, run + MM_COW_RUN));
        if (r2 == 0) {
            r = 0;
            mm->repaired_page = 0;
        } else if (r2 == -ENOMEM && g_memfile_limit) {
            memfile_log_limit(pid);
            *out_signo = SIGKILL;
            *out_code = SI_KERNEL;
        } else {
            log_debug("mm: copy-on-write at %#" PRIx64 " failed (%d)", addr, r2);
        }
        goto out_unlock;
    }
    /* The VMA allows the access, yet the stub faulted: its mapping is out of
     * step (or this was an instruction fetch, which we cannot tell apart).
     * Re-map the page once; a second fault on it is the app's error. */
    if (mm->repaired_page == page || !mm->as) {
        mm->repaired_page = 0;
        goto out_unlock;
    }
    if (g_platform->map(mm->as, page, PAGE_SIZE, vma_stub_prot(v), v->off + (page - v->start)) ==
        0) {
        mm->repaired_page = page;
        r = 0;
    }
out_unlock:
    pthread_mutex_unlock(&mm->mutate);
    return r;
}

int mm_fault(struct mm *mm, uint64_t addr, bool write, int *out_code)
{
    int signo;
    /* The host's signal unknown: a page past EOF still gives BUS_ADRERR
     * (the caller raises the host's signal, SIGBUS for those pages). */
    return mm_fault_signal(mm, addr, write, 0, 0, &signo, out_code);
}

/* ------------------------------------------------------------------------ */
/* /proc/PID/maps. */

struct maps_buf {
    char *buf;
    size_t size, len;
};

PRINTF_FMT(2, 3) static void maps_printf(struct maps_buf *mb, const char *fmt, ...)
{
    va_list ap;
    size_t room = mb->len < mb->size ? mb->size - mb->len : 0;
    va_start(ap, fmt);
    int n = vsnprintf(mb->buf + MIN(mb->len, mb->size), room, fmt, ap);
    va_end(ap);
    if (n > 0)
        mb->len += (size_t)n;
}

/* Resident pages of [off, off+len) of the memory file: bytes (RSS), the
 * proportional share (PSS, in bytes << PSS_SHIFT) and the bytes of pages
 * only one owner holds (PRIVATE). */
#define PSS_SHIFT 12
struct rss_count {
    uint64_t rss, pss, private_bytes;
};

static void count_resident(uint64_t off, uint64_t len, struct rss_count *c)
{
    uint64_t at = off, end = off + len, ds, de;
    while (at < end && memfile_next_data(at, end, &ds, &de) == 0) {
        for (uint64_t p = ds; p < de; p += PAGE_SIZE) {
            uint32_t refs = memfile_refcount(p);
            c->rss += PAGE_SIZE;
            if (refs <= 1) {
                c->private_bytes += PAGE_SIZE;
                c->pss += (uint64_t)PAGE_SIZE << PSS_SHIFT;
            } else {
                c->pss += ((uint64_t)PAGE_SIZE << PSS_SHIFT) / refs;
            }
        }
        at = de;
    }
}

static void smaps_fields(struct maps_buf *mb, const struct mm *mm, size_t first, size_t last)
{
    struct rss_count c = {0};
    uint64_t size = 0;
    const struct vma *v = &mm->vmas[first];
    for (size_t k = first; k <= last; k++) {
        const struct vma *p = &mm->vmas[k];
        size += vma_len(p);
        if (!(p->flags & VMA_NOBACK))
            count_resident(p->off, vma_len(p), &c);
    }
    bool anon = !v->file && !(v->flags & VMA_SHARED);
    uint64_t shared = c.rss - c.private_bytes;
#define KB(x) ((x) >> 10)
    maps_printf(mb,
                "Size:           %8" PRIu64 " kB\n"
                "KernelPageSize: %8d kB\n"
                "MMUPageSize:    %8d kB\n"
                "Rss:            %8" PRIu64 " kB\n"
                "Pss:            %8" PRIu64 " kB\n"
                "Pss_Dirty:      %8" PRIu64 " kB\n"
                "Shared_Clean:   %8d kB\n"
                "Shared_Dirty:   %8" PRIu64 " kB\n"
                "Private_Clean:  %8d kB\n"
                "Private_Dirty:  %8" PRIu64 " kB\n"
                "Referenced:     %8" PRIu64 " kB\n"
                "Anonymous:      %8" PRIu64 " kB\n"
                "KSM:            %8d kB\n"
                "LazyFree:       %8d kB\n"
                "AnonHugePages:  %8d kB\n"
                "ShmemPmdMapped: %8d kB\n"
                "FilePmdMapped:  %8d kB\n"
                "Shared_Hugetlb: %8d kB\n"
                "Private_Hugetlb:%8d kB\n"
                "Swap:           %8d kB\n"
                "SwapPss:        %8d kB\n"
                "Locked:         %8" PRIu64 " kB\n"
                "THPeligible:    %8d\n"
                "VmFlags:%s%s%s%s%s%s%s%s\n",
                KB(size), (int)(PAGE_SIZE >> 10), (int)(PAGE_SIZE >> 10), KB(c.rss),
                KB(c.pss >> PSS_SHIFT), KB(c.pss >> PSS_SHIFT), 0, KB(shared), 0,
                KB(c.private_bytes), KB(c.rss), anon ? KB(c.rss) : 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                (v->flags & VMA_LOCKED) ? KB(c.pss >> PSS_SHIFT) : 0, 0,
                (v->prot & PROT_READ) ? " rd" : "", (v->prot & PROT_WRITE) ? " wr" : "",
                (v->prot & PROT_EXEC) ? " ex" : "", (v->flags & VMA_SHARED) ? " sh" : "",
                " mr", (v->flags & VMA_NOMAYWRITE) ? "" : " mw", " me",
                (v->flags & VMA_GROWSDOWN) ? " gd" : "");
#undef KB
}

int mm_find_vma(struct mm *mm, uint64_t addr, uint64_t *out_start, uint64_t *out_end,
                struct file **out_file, uint64_t *out_file_off)
{
    int r = -ENOENT;
    pthread_rwlock_rdlock(&mm->lock);
    size_t i = vma_lower_bound(mm, addr);
    if (i < mm->nr_vmas) {
        const struct vma *v = &mm->vmas[i];
        *out_start = v->start;
        *out_end = v->end;
        *out_file = (v->flags & VMA_KERNEL) ? NULL : v->file;
        *out_file_off = v->file_off;
        if (*out_file)
            file_get(*out_file);
        r = 0;
    }
    pthread_rwlock_unlock(&mm->lock);
    return r;
}

static size_t format_maps(struct mm *mm, char *buf, size_t size, bool smaps)
{
    struct maps_buf mb = {buf, size, 0};
    char name[LINUX_PATH_MAX];

    if (size)
        buf[0] = 0;
    pthread_rwlock_rdlock(&mm->lock);
    for (size_t i = 0; i < mm->nr_vmas; i++) {
        const struct vma *v = &mm->vmas[i];
        size_t first = i;
        uint64_t start = v->start, end = v->end;
        /* Pieces Linux would hold as one VMA print as one line. */
        while (i + 1 < mm->nr_vmas && vma_same_logical(&mm->vmas[i], &mm->vmas[i + 1])) {
            i++;
            end = mm->vmas[i].end;
        }
        name[0] = 0;
        if (v->file) {
            int r = vfs_file_path(v->file, name, sizeof(name));
            if (r < 0)
                snprintf(name, sizeof(name), "[unknown]");
        } else if (v->flags & VMA_KERNEL) {
            snprintf(name, sizeof(name), "[vvar]");
        } else if (v->shared || (v->flags & VMA_NOBACK)) {
            snprintf(name, sizeof(name), "/dev/zero (deleted)");
        } else if (mm->brk_start && start < ALIGN_UP(mm->brk, PAGE_SIZE) &&
                   end > mm->brk_start) {
            snprintf(name, sizeof(name), "[heap]");
        } else if (start < mm->stack_top && end >= mm->stack_top) {
            snprintf(name, sizeof(name), "[stack]");
        }
        size_t line_start = mb.len;
        /* FIXME: device and inode numbers of mapped files need a stat
         * accessor in vfs.h; 00:00 0 until then. */
        maps_printf(&mb, "%08" PRIx64 "-%08" PRIx64 " %c%c%c%c %08" PRIx64 " 00:00 0 ", start, end,
                    (v->prot & PROT_READ) ? 'r' : '-', (v->prot & PROT_WRITE) ? 'w' : '-',
                    (v->prot & PROT_EXEC) ? 'x' : '-',
                    (v->flags & (VMA_SHARED | VMA_SHARED_COPY)) ? 's' : 'p',
                    v->file ? v->file_off : 0);
        if (name[0]) {
            /* Linux pads the fields to 72 columns, then one space. */
            size_t col = mb.len - line_start;
            maps_printf(&mb, "%*s %s", col < 72 ? (int)(72 - col) : 0, "", name);
        }
        maps_printf(&mb, "\n");
        if (smaps)
            smaps_fields(&mb, mm, first, i);
    }
    pthread_rwlock_unlock(&mm->lock);
    if (mb.len >= size) {
        if (size)
            buf[size - 1] = 0;
        return size ? size - 1 : 0;
    }
    return mb.len;
}

size_t mm_format_maps(struct mm *mm, char *buf, size_t size)
{
    return format_maps(mm, buf, size, false);
}

size_t mm_format_smaps(struct mm *mm, char *buf, size_t size)
{
    return format_maps(mm, buf, size, true);
}

uint64_t mm_resident_bytes(struct mm *mm)
{
    struct rss_count c = {0};
    pthread_rwlock_rdlock(&mm->lock);
    for (size_t i = 0; i < mm->nr_vmas; i++)
        if (!(mm->vmas[i].flags & (VMA_KERNEL | VMA_NOBACK)))
            count_resident(mm->vmas[i].off, vma_len(&mm->vmas[i]), &c);
    pthread_rwlock_unlock(&mm->lock);
    return c.rss;
}

/* ------------------------------------------------------------------------ */
/* /proc/meminfo. */

struct range_set {
    struct { uint64_t s, e; } *r;
    size_t nr, cap;
};

static void range_add(struct range_set *rs, uint64_t s, uint64_t e)
{
    if (rs->nr == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        void *n = realloc(rs->r, cap * sizeof(*rs->r));
        if (!n)
            return; /* the totals come out low */
        rs->r = n;
        rs->cap = cap;
    }
    rs->r[rs->nr].s = s;
    rs->r[rs->nr].e = e;
    rs->nr++;
}

static int range_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Resident bytes in the union of the memory-file ranges of RS (freed). */
static uint64_t range_resident(struct range_set *rs)
{
    uint64_t n = 0, at = 0, ds, de;
    qsort(rs->r, rs->nr, sizeof(*rs->r), range_cmp);
    for (size_t i = 0; i < rs->nr; i++) {
        uint64_t s = MAX(rs->r[i].s, at), e = rs->r[i].e;
        while (s < e && memfile_next_data(s, e, &ds, &de) == 0) {
            n += de - ds;
            s = de;
        }
        at = MAX(at, e);
    }
    free(rs->r);
    *rs = (struct range_set){0};
    return n;
}

/* The memory-file ranges of every mm's mappings: shared ones into SHARED,
 * the others into ANON (both optional), mlocked ones into LOCKED; returns
 * the bytes committed (Committed_AS). */
static uint64_t collect_ranges(struct range_set *anon, struct range_set *shared,
                               struct range_set *locked)
{
    uint64_t committed = 0;
    pthread_mutex_lock(&g_mm_all_lock);
    for (struct mm *mm = g_mm_all; mm; mm = mm->all_next) {
        /* mm->lock is taken inside g_mm_all_lock: nothing takes them the
         * other way round (mm_put drops mm->lock before the list's). */
        pthread_rwlock_rdlock(&mm->lock);
        for (size_t i = 0; i < mm->nr_vmas; i++) {
            const struct vma *v = &mm->vmas[i];
            if (v->flags & (VMA_KERNEL | VMA_NOBACK))
                continue;
            uint64_t s = v->off, e = v->off + vma_len(v);
            struct range_set *rs = (v->flags & VMA_SHARED) ? shared : anon;
            if (rs)
                range_add(rs, s, e);
            if (locked && (v->flags & VMA_LOCKED))
                range_add(locked, s, e);
            if (((v->prot & PROT_WRITE) && !(v->flags & VMA_SHARED)) || v->shared)
                committed += vma_len(v);
        }
        pthread_rwlock_unlock(&mm->lock);
    }
    pthread_mutex_unlock(&g_mm_all_lock);
    return committed;
}

/* The sandbox's memory: OUT->total (its limit, or the host's RAM), used
 * (the memory file's resident bytes) and free. */
static void meminfo_totals(struct mm_meminfo *out)
{
    uint64_t host_total, host_free;
    host_meminfo(&host_total, &host_free);
    memset(out, 0, sizeof(*out));
    out->used = memfile_resident();
    out->total = g_memfile_limit && g_memfile_limit < host_total ? g_memfile_limit : host_total;
    out->free = out->total > out->used ? out->total - out->used : 0;
    if (out->free > host_free)
        out->free = host_free;
}

void mm_meminfo_brief(struct mm_meminfo *out)
{
    struct range_set shared = {0};
    collect_ranges(NULL, &shared, NULL);
    meminfo_totals(out);
    out->mapped = MIN(range_resident(&shared), out->used);
}

void mm_meminfo(struct mm_meminfo *out)
{
    struct range_set anon = {0}, shared = {0}, locked = {0};
    uint64_t committed = collect_ranges(&anon, &shared, &locked);
    meminfo_totals(out);
    uint64_t anon_bytes = range_resident(&anon), shared_bytes = range_resident(&shared);
    out->anon = MIN(anon_bytes, out->used);
    out->shmem = out->used - out->anon;
    out->mapped = MIN(shared_bytes, out->shmem);
    out->locked = range_resident(&locked);
    out->committed = committed;
}
