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

static inline void *memfile_ptr(uint64_t off)
{
    return g_memfile_base + off;
}

#endif
