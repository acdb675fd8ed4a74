#include "fakes.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "kernel/fs/pagecache.h"
#include "kernel/host/host.h"
#include "kernel/ipc/shmem.h"
#include "kernel/mm/memfile.h"
#include "kernel/mm/mm_internal.h"
#include "kernel/vfs/vfs.h"
#include "lib/util.h"

#define REQUIRE_MSG(cond, ...)                                                 \
    do {                                                                       \
        if (!(cond))                                                           \
            ck_abort_msg(__VA_ARGS__);                                         \
    } while (0)

/* ---- the fake stub address space ---- */

static void as_grow(struct platform_as *as, size_t extra)
{
    if (as->nr + extra <= as->cap)
        return;
    as->cap = (as->nr + extra) * 2;
    as->m = realloc(as->m, as->cap * sizeof(*as->m));
    REQUIRE(as->m);
}

static void as_remove(struct platform_as *as, uint64_t s, uint64_t e)
{
    as_grow(as, 2);
    for (size_t i = 0; i < as->nr; i++) {
        struct fake_map *m = &as->m[i];
        if (m->end <= s || m->start >= e)
            continue;
        if (m->start < s && m->end > e) {
            struct fake_map right = *m;
            right.off += e - m->start;
            right.start = e;
            m->end = s;
            memmove(&as->m[i + 2], &as->m[i + 1], (as->nr - i - 1) * sizeof(*m));
            as->m[i + 1] = right;
            as->nr++;
            return;
        }
        if (m->start < s) {
            m->end = s;
        } else if (m->end > e) {
            m->off += e - m->start;
            m->start = e;
        } else {
            memmove(m, m + 1, (as->nr - i - 1) * sizeof(*m));
            as->nr--;
            i--;
        }
    }
}

static void as_insert(struct platform_as *as, struct fake_map nm)
{
    size_t i = 0;
    as_grow(as, 1);
    while (i < as->nr && as->m[i].start < nm.start)
        i++;
    memmove(&as->m[i + 1], &as->m[i], (as->nr - i) * sizeof(nm));
    as->m[i] = nm;
    as->nr++;
}

static int fail_check(struct platform_as *as)
{
    int r = as->fail_next;
    as->fail_next = 0;
    return r;
}

static int fake_map(struct platform_as *as, uint64_t addr, uint64_t len, int prot, uint64_t off)
{
    REQUIRE(IS_ALIGNED(addr | len | off, PAGE_SIZE) && len > 0);
    REQUIRE(addr >= PLATFORM_APP_MIN && addr + len <= PLATFORM_APP_MAX);
    REQUIRE(addr + len <= PLATFORM_STUB_BASE || addr >= PLATFORM_STUB_END);
    as->nr_map++;
    int r = fail_check(as);
    if (r)
        return r;
    as_remove(as, addr, addr + len);
    as_insert(as, (struct fake_map){addr, addr + len, prot, off});
    return 0;
}

static int fake_unmap(struct platform_as *as, uint64_t addr, uint64_t len)
{
    REQUIRE(IS_ALIGNED(addr | len, PAGE_SIZE) && len > 0);
    REQUIRE(addr + len <= PLATFORM_STUB_BASE || addr >= PLATFORM_STUB_END);
    as->nr_unmap++;
    int r = fail_check(as);
    if (r)
        return r;
    as_remove(as, addr, addr + len);
    return 0;
}

static int fake_protect(struct platform_as *as, uint64_t addr, uint64_t len, int prot)
{
    REQUIRE(IS_ALIGNED(addr | len, PAGE_SIZE) && len > 0);
    as->nr_protect++;
    int r = fail_check(as);
    if (r)
        return r;
    /* Like mprotect(2): the whole range must be mapped. */
    uint64_t at = addr;
    for (size_t i = 0; i < as->nr && at < addr + len; i++)
        if (as->m[i].end > at) {
            if (as->m[i].start > at)
                return -ENOMEM;
            at = as->m[i].end;
        }
    if (at < addr + len)
        return -ENOMEM;
    struct fake_map *copy = malloc(as->nr * sizeof(*copy));
    size_t n = 0;
    for (size_t i = 0; i < as->nr; i++) {
        struct fake_map m = as->m[i];
        if (m.end > addr && m.start < addr + len) {
            uint64_t s = MAX(m.start, addr), e = MIN(m.end, addr + len);
            copy[n++] = (struct fake_map){s, e, prot, m.off + (s - m.start)};
        }
    }
    as_remove(as, addr, addr + len);
    for (size_t i = 0; i < n; i++)
        as_insert(as, copy[i]);
    free(copy);
    return 0;
}

static void fake_ctx_destroy(struct platform_ctx *ctx)
{
    ctx->destroyed++;
}

const struct platform_ops fake_platform_ops = {
        .name = "fake",
        .ctx_destroy = fake_ctx_destroy,
        .map = fake_map,
        .unmap = fake_unmap,
        .protect = fake_protect,
};
const struct platform_ops *g_platform = &fake_platform_ops;

struct platform_as *fake_as_new(void)
{
    struct platform_as *as = calloc(1, sizeof(*as));
    ck_assert_ptr_nonnull(as);
    return as;
}

void fake_as_free(struct platform_as *as)
{
    if (as) {
        free(as->m);
        free(as);
    }
}

static bool as_rw(struct platform_as *as, uint64_t addr, void *buf, size_t n, bool write)
{
    uint8_t *p = buf;
    while (n > 0) {
        const struct fake_map *m = NULL;
        for (size_t i = 0; i < as->nr; i++)
            if (as->m[i].start <= addr && addr < as->m[i].end)
                m = &as->m[i];
        if (!m || !(m->prot & (write ? PROT_WRITE : PROT_READ)))
            return false;
        size_t chunk = MIN(n, m->end - addr);
        uint8_t *mem = memfile_ptr(m->off + (addr - m->start));
        if (write)
            memcpy(mem, p, chunk);
        else
            memcpy(p, mem, chunk);
        p += chunk;
        addr += chunk;
        n -= chunk;
    }
    return true;
}

bool fake_as_read(struct platform_as *as, uint64_t addr, void *buf, size_t n)
{
    return as_rw(as, addr, buf, n, false);
}

bool fake_as_write(struct platform_as *as, uint64_t addr, const void *buf, size_t n)
{
    return as_rw(as, addr, (void *)buf, n, true);
}

/* Merges neighbours with the same prot and contiguous offsets. */
static size_t normalize(struct fake_map *m, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        /* Every offset past the memory file's end is the same SIGBUS page. */
        if (m[i].off >= memfile_bus_off())
            m[i].off = memfile_bus_off();
        if (o > 0 && m[o - 1].end == m[i].start && m[o - 1].prot == m[i].prot &&
            (m[o - 1].off + (m[o - 1].end - m[o - 1].start) == m[i].off ||
             (m[i].off == memfile_bus_off() && m[o - 1].off == memfile_bus_off())))
            m[o - 1].end = m[i].end;
        else
            m[o++] = m[i];
    }
    return o;
}

void fake_check_consistent(struct mm *mm, struct platform_as *as)
{
    struct fake_map *a = malloc((2 * mm->nr_vmas + 1) * sizeof(*a));
    struct fake_map *b = malloc((as->nr + 1) * sizeof(*b));
    size_t n = 0;
    for (size_t i = 0; i < mm->nr_vmas; i++) {
        const struct vma *v = &mm->vmas[i];
        REQUIRE_MSG(v->start < v->end, "empty vma");
        if (i > 0)
            REQUIRE_MSG(mm->vmas[i - 1].end <= v->start, "vmas overlap or unsorted");
        REQUIRE(!v->shared || (v->flags & VMA_SHARED));
        REQUIRE(v->shared || !(v->flags & VMA_SHARED) || v->file || (v->flags & VMA_NOBACK));
        REQUIRE(!(v->flags & VMA_NOBACK) || (!v->shared && !v->file && (v->flags & VMA_SHARED)));
        REQUIRE(!(v->flags & VMA_COW) || !(v->flags & VMA_SHARED));
        int prot = (v->flags & VMA_COW) ? v->prot & ~PROT_WRITE : v->prot;
        /* Pages of a regular file's mapping wholly past EOF are mapped past
         * the end of the memory file (SIGBUS). */
        uint64_t backed = (v->flags & VMA_NOBACK) ? 0 : v->end - v->start;
        if (v->file && !(v->flags & VMA_KERNEL) && S_ISREG(v->file->mode)) {
            uint64_t eof = (v->file->size + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
            backed = eof <= v->file_off ? 0 : eof - v->file_off;
            if (backed > v->end - v->start)
                backed = v->end - v->start;
        }
        if (backed)
            a[n++] = (struct fake_map){v->start, v->start + backed, prot, v->off};
        if (v->start + backed < v->end)
            a[n++] = (struct fake_map){v->start + backed, v->end, prot, memfile_bus_off()};
    }
    if (as->nr)
        memcpy(b, as->m, as->nr * sizeof(*b));
    size_t na = normalize(a, n), nb = normalize(b, as->nr);
    REQUIRE_MSG(na == nb, "stub has %zu mappings, mm %zu", nb, na);
    for (size_t i = 0; i < na; i++) {
        REQUIRE_MSG(a[i].start == b[i].start && a[i].end == b[i].end && a[i].prot == b[i].prot &&
                              a[i].off == b[i].off,
                      "mapping %zu: vma [%#lx,%#lx) p%d off %#lx, stub [%#lx,%#lx) p%d off %#lx",
                      i, (unsigned long)a[i].start, (unsigned long)a[i].end, a[i].prot,
                      (unsigned long)a[i].off, (unsigned long)b[i].start,
                      (unsigned long)b[i].end, b[i].prot, (unsigned long)b[i].off);
    }
    free(a);
    free(b);
}

uint64_t fake_mm_backing_bytes(struct mm *mm)
{
    uint64_t n = 0;
    for (size_t i = 0; i < mm->nr_vmas; i++) {
        const struct vma *v = &mm->vmas[i];
        if (v->flags & VMA_NOBACK)
            continue;
        if (!v->shared) {
            n += v->end - v->start;
            continue;
        }
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= mm->vmas[j].shared == v->shared;
        if (!seen)
            n += v->shared->len;
    }
    return n;
}

/* ---- fake VFS ---- */

void file_get(struct file *f)
{
    f->refs++;
}

void file_put(struct file *f)
{
    if (f) {
        REQUIRE(f->refs > 0);
        f->refs--;
    }
}

ssize_t vfs_pread(struct file *f, void *buf, size_t n, uint64_t off)
{
    if (!S_ISREG(f->mode))
        return -EINVAL;
    if (off >= f->size)
        return 0;
    n = MIN(n, f->size - off);
    memcpy(buf, f->data + off, n);
    return (ssize_t)n;
}

int vfs_file_path(struct file *f, char *buf, size_t size)
{
    size_t n = strlen(f->path);
    if (n + 1 > size)
        return -ENAMETOOLONG;
    memcpy(buf, f->path, n + 1);
    return (int)n;
}

int vfs_file_mode(struct file *f, uint32_t *out_mode, uint64_t *out_size)
{
    *out_mode = f->mode;
    *out_size = f->size;
    return 0;
}

struct inode *vfs_file_inode(struct file *f)
{
    return (struct inode *)f; /* one fake file is one inode */
}

unsigned vfs_file_flags(struct file *f)
{
    return f->flags;
}

/* sys_mm.c asks shmem about memfd write seals; fake files have none. */
int shmem_mmap_check(struct file *f, int prot, int flags)
{
    return 0;
}

bool vfs_file_noexec(struct file *f)
{
    return false; /* the fake files live on no mount */
}

bool vfs_file_mmap_may_write(struct file *f)
{
    return true; /* fake files have no seals */
}

void fake_file_back(struct file *f, uint64_t chunk)
{
    uint64_t gap[FAKE_FILE_CHUNKS];
    f->chunk = chunk;
    for (int i = 0; i < FAKE_FILE_CHUNKS; i++) {
        REQUIRE(memfile_alloc(chunk, &f->moff[i]) == 0);
        /* A page between chunks keeps them apart. */
        REQUIRE(memfile_alloc(PAGE_SIZE, &gap[i]) == 0);
    }
    for (int i = 0; i < FAKE_FILE_CHUNKS; i++)
        memfile_free(gap[i], PAGE_SIZE);
    for (int i = 0; i < FAKE_FILE_CHUNKS; i++)
        for (uint64_t o = 0; o < chunk && i * chunk + o < f->size; o++)
            *(uint8_t *)memfile_ptr(f->moff[i] + o) = f->data[i * chunk + o];
}

void fake_file_unback(struct file *f)
{
    for (int i = 0; i < FAKE_FILE_CHUNKS; i++)
        memfile_free(f->moff[i], f->chunk);
    f->chunk = 0;
}

int pagecache_file_backing(struct file *f, uint64_t off, uint64_t len, uint64_t *out_moff,
                           uint64_t *out_len)
{
    if (!f->chunk)
        return -ENODEV;
    uint64_t i = off / f->chunk;
    if (i >= FAKE_FILE_CHUNKS)
        return -ENOMEM;
    *out_moff = f->moff[i] + off % f->chunk;
    *out_len = MIN(len, f->chunk - off % f->chunk);
    memfile_ref(*out_moff, *out_len);
    return 0;
}

int pagecache_file_private_backing(struct file *f, uint64_t off, uint64_t len,
                                   uint64_t *out_moff, uint64_t *out_len)
{
    if (!f->private_cache)
        return -ENODEV;
    return pagecache_file_backing(f, off, len, out_moff, out_len);
}

/* The fake cache is filled from the start: lazy mappings behave as
 * filled ones. */
int pagecache_file_private_backing_lazy(struct file *f, uint64_t off, uint64_t len,
                                        uint64_t *out_moff, uint64_t *out_len)
{
    return pagecache_file_private_backing(f, off, len, out_moff, out_len);
}

int pagecache_file_private_fill(struct file *f, uint64_t off, uint64_t len, uint64_t moff)
{
    return 0;
}

int pagecache_file_private_filled(struct file *f, uint64_t off, uint64_t lo, uint64_t hi,
                                  uint64_t *out_lo, uint64_t *out_hi)
{
    *out_lo = lo;
    *out_hi = hi;
    return 1;
}

void pagecache_file_private_prefetch(struct file *f, uint64_t off, uint64_t len, uint64_t moff)
{
}

int pagecache_file_host_fd(struct file *f)
{
    return -ENODEV; /* the fake files have no host descriptor */
}

/* ---- fake host ---- */

void host_meminfo(uint64_t *out_total, uint64_t *out_free)
{
    *out_total = 1ULL << 34;
    *out_free = 1ULL << 33;
}
