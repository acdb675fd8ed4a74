/*
 * The memory file: one memfd holding every page of app memory in the sandbox.
 * The kernel maps it once (g_memfile_base) so copy-in/copy-out is a lookup
 * plus memcpy; stubs map ranges of it. Offsets are handed out by a range
 * allocator; freed ranges are punched out so the host gets the memory back.
 *
 * Lock order: memfile lock is a leaf.
 */
#ifndef MOAT_KERNEL_MM_MEMFILE_H
#define MOAT_KERNEL_MM_MEMFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What memfile_ensure() creates when nothing called memfile_init(). */
#define MEMFILE_DEFAULT_SIZE (1ULL << 40)

extern int g_memfile_fd;
extern uint8_t *g_memfile_base;

/* Creates the memfd of SIZE bytes (sparse) and maps it. 0 or -errno. */
int memfile_init(uint64_t size);

/* memfile_init, with the sandbox memory limit: the file lives on a tmpfs of
 * its own holding at most LIMIT bytes of pages (0: no limit, a memfd), so
 * the host itself refuses pages past the limit (a stub touching one gets
 * SIGBUS; mm turns that into the limit's SIGKILL). 0 or -errno. */
int memfile_init_limited(uint64_t size, uint64_t limit);
/* The sandbox memory limit in bytes, 0 if none. */
extern uint64_t g_memfile_limit;
/* Changes a limited sandbox's limit to LIMIT bytes (page-aligned up): 0,
 * or -EINVAL without a limit at start (no tmpfs to bound the pages). The
 * host side (the tmpfs's size, memfile_mount_fd) is the caller's. */
int memfile_set_limit(uint64_t limit);
/* The fd of the limited memory file's tmpfs mount, or -1. */
int memfile_mount_fd(void);
/* Bytes of memory-file pages the host holds for the sandbox now. */
uint64_t memfile_resident(void);
/* An offset past the end of the memory file: a stub mapping pages there
 * gets SIGBUS (BUS_ADRERR) on access (file pages past EOF). */
uint64_t memfile_bus_off(void);
/* With a memory limit, makes the host allocate the pages of [off, off+len)
 * now, so that the kernel can fill them without risking SIGBUS. 0 or
 * -ENOMEM (the limit). Without a limit, 0 and nothing happens. */
int memfile_commit(uint64_t off, uint64_t len);
/* Copies N bytes of BUF to [off, off+n) of the memory file through the
 * host's write path: pages not yet allocated are allocated without a
 * fault and without being zeroed first, about twice as fast as a memcpy
 * through the mapping for fresh pages. 0, or -ENOMEM when the host refuses
 * a page (the memory limit). */
int memfile_write(uint64_t off, const void *buf, size_t n);
/* Reads N bytes at OFF into BUF through the host's read path: holes read
 * as zeros and stay holes (a load through the mapping would make the host
 * allocate them, and raise SIGBUS under the sandbox memory limit). 0 or
 * -errno. */
int memfile_read(uint64_t off, void *buf, size_t n);
/* Makes the host allocate the pages of [off, off+len) now (MAP_POPULATE,
 * mlock): they read as they did and count as resident. 0 or -ENOMEM. */
int memfile_populate(uint64_t off, uint64_t len);
/* Logs the memory limit line once per PID ("moat: sandbox memory limit (N
 * bytes) reached: killed pid P"). */
void memfile_log_limit(int pid);

/* memcpy(DST, SRC, N) where either side may be memory-file pages: when the
 * host refuses a page (the memory limit), the copy stops and -ENOMEM comes
 * back instead of the kernel dying of SIGBUS. The caller must hold no lock
 * it cannot keep holding (the copy simply returns early). 0 or -ENOMEM. */
int memfile_copy_guarded(void *dst, const void *src, size_t n);
static inline int memfile_copy(void *dst, const void *src, size_t n);

/* Creates the memory file with MEMFILE_DEFAULT_SIZE unless it exists (for
 * file systems whose unit tests run without the sandbox's setup). 0 or
 * -ENOMEM. */
int memfile_ensure(void);

/* Reserves LEN bytes (page multiple) of file offsets, each page with
 * reference count 1. The pages read as zero. 0 and *out_off, or -ENOMEM. */
int memfile_alloc(uint64_t len, uint64_t *out_off);

/* Drops one reference on each page of [off, off+len). Pages whose count
 * reaches zero are punched (their memory goes back to the host) and may be
 * handed out again. A count going below zero aborts. */
void memfile_free(uint64_t off, uint64_t len);

/* Adds one reference to each page of [off, off+len) (all allocated). */
void memfile_ref(uint64_t off, uint64_t len);
/* Whether every page of [off, off+len) has exactly one reference: its owner
 * may then write it in place. */
bool memfile_exclusive(uint64_t off, uint64_t len);
/* The reference count of the page at OFF (tests). */
uint32_t memfile_refcount(uint64_t off);

/* Punches [off, off+len) without releasing the offsets (madvise DONTNEED).
 * The caller must own the pages exclusively. */
void memfile_discard(uint64_t off, uint64_t len);

/* Reserves exactly [off, off+len) if all of it is free (growing a range in
 * place), each page with count 1. 0 or -ENOMEM. */
int memfile_alloc_at(uint64_t off, uint64_t len);

/* The first extent of pages holding data in [off, end): 0 and
 * [*out_start, *out_end), or -ENXIO when the rest of the range is a hole.
 * Never-touched and punched pages are holes. */
int memfile_next_data(uint64_t off, uint64_t end, uint64_t *out_start, uint64_t *out_end);

/* Which pages of [off, off+len) hold data, in one host call: VEC[i] & 1 for
 * page i (as memfile_next_data sees them, except that pages a commit
 * allocated and nothing wrote yet count too). 0 or -errno. */
int memfile_incore(uint64_t off, uint64_t len, uint8_t *vec);

/* Bytes handed out, the file size, and the number of free extents. */
void memfile_stats(uint64_t *out_used, uint64_t *out_size, uint64_t *out_free_extents);

static inline void *memfile_ptr(uint64_t off)
{
    return g_memfile_base + off;
}

static inline int memfile_copy(void *dst, const void *src, size_t n)
{
    if (!g_memfile_limit) {
        __builtin_memcpy(dst, src, n);
        return 0;
    }
    return memfile_copy_guarded(dst, src, n);
}

#endif
