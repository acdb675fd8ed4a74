/* Fakes for the mm unit tests: a platform whose address spaces are interval
 * models of a stub (what it maps, at which prot and memory-file offset), and
 * files with contents in memory. */
#ifndef MOAT_TESTS_UNIT_MM_FAKES_H
#define MOAT_TESTS_UNIT_MM_FAKES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>

#include "platform/platform.h"

/* An assertion that costs nothing when it holds (check's ck_assert writes a
 * record to its pipe on every call, too slow inside loops). */
#define REQUIRE(cond, ...)                                                     \
    do {                                                                       \
        if (!(cond))                                                           \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);              \
    } while (0)

struct fake_map {
    uint64_t start, end;
    int prot;
    uint64_t off;
};

struct platform_as {
    struct fake_map *m;
    size_t nr, cap;
    int nr_map, nr_unmap, nr_protect; /* calls seen */
    int fail_next;                    /* next call fails with this -errno */
};

#define FAKE_FILE_CHUNKS 4

struct file {
    int refs;
    const char *path;
    uint32_t mode;
    const uint8_t *data;
    uint64_t size;
    unsigned flags;          /* O_ flags: O_RDONLY unless set */
    /* A page cache in the memory file (fake_file_back): FAKE_FILE_CHUNKS
     * chunks of CHUNK bytes at scattered offsets, one reference each. */
    uint64_t chunk;
    uint64_t moff[FAKE_FILE_CHUNKS];
    /* Private mappings share those pages too (a read-only rootfs file's
     * mmap_private_backing) instead of getting a copy. */
    bool private_cache;
};

extern const struct platform_ops fake_platform_ops;

/* A context: fake_platform_ops.ctx_destroy only counts its calls. */
struct platform_ctx {
    int destroyed;
};
struct platform_as *fake_as_new(void);
void fake_as_free(struct platform_as *as);
/* Reads or writes app memory the way the stub sees it. false if unmapped
 * (or, for writes, not writable). */
bool fake_as_read(struct platform_as *as, uint64_t addr, void *buf, size_t n);
bool fake_as_write(struct platform_as *as, uint64_t addr, const void *buf, size_t n);

/* Gives F a memory-file page cache of FAKE_FILE_CHUNKS chunks of CHUNK
 * bytes (not contiguous), so MAP_SHARED maps it in several pieces. */
void fake_file_back(struct file *f, uint64_t chunk);
/* Drops F's page-cache references (the file goes away; mappings stay). */
void fake_file_unback(struct file *f);

struct mm;
/* Asserts (with check) that AS maps exactly MM's VMAs at their prot and
 * offsets. */
void fake_check_consistent(struct mm *mm, struct platform_as *as);
/* Bytes of memory file that MM's private VMAs own plus its shared objects'
 * (each counted once). */
uint64_t fake_mm_backing_bytes(struct mm *mm);

#endif
