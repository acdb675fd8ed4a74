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

#include <stddef.h>
#include <stdint.h>

extern int g_memfile_fd;
extern uint8_t *g_memfile_base;

/* Creates the memfd of SIZE bytes (sparse) and maps it. 0 or -errno. */
int memfile_init(uint64_t size);

/* Reserves LEN bytes (page multiple) of file offsets. The pages read as
 * zero. 0 and *out_off, or -ENOMEM. */
int memfile_alloc(uint64_t len, uint64_t *out_off);

/* Releases [off, off+len): the range is punched (its memory goes back to the
 * host) and may be handed out again. */
void memfile_free(uint64_t off, uint64_t len);

/* Punches [off, off+len) without releasing the offsets (madvise DONTNEED). */
void memfile_discard(uint64_t off, uint64_t len);

/* Reserves exactly [off, off+len) if all of it is free (growing a range in
 * place). 0 or -ENOMEM. */
int memfile_alloc_at(uint64_t off, uint64_t len);

/* The first extent of pages holding data in [off, end): 0 and
 * [*out_start, *out_end), or -ENXIO when the rest of the range is a hole.
 * Never-touched and punched pages are holes. */
int memfile_next_data(uint64_t off, uint64_t end, uint64_t *out_start, uint64_t *out_end);

/* Bytes handed out, the file size, and the number of free extents. */
void memfile_stats(uint64_t *out_used, uint64_t *out_size, uint64_t *out_free_extents);

static inline void *memfile_ptr(uint64_t off)
{
    return g_memfile_base + off;
}

#endif
