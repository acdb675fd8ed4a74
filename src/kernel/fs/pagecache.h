/*
 * File data kept in the memory file, so that MAP_SHARED mappings of a file
 * map the very pages read(2) and write(2) use (tmpfs, hence the overlay's
 * upper layer). A file's data is a few memory-file chunks that never move:
 * growth doubles the capacity, extending the last chunk in place when the
 * offsets after it are free, so a file is one chunk or O(log size) chunks.
 *
 * The pagecache holds one memory-file reference on each of its pages; a
 * mapping takes its own (pagecache_backing), so mapped pages outlive the
 * file (unlinked and closed while mapped).
 *
 * Locking: the owner serialises every call on one pagecache (tmpfs holds
 * inode->lock); memory-file references are atomic.
 */
#ifndef MOAT_KERNEL_FS_PAGECACHE_H
#define MOAT_KERNEL_FS_PAGECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct file;

struct pagecache_chunk {
    uint64_t foff, moff, len;   /* file offset, memory-file offset, bytes */
};

struct pagecache {
    struct pagecache_chunk *chunks; /* sorted, covering [0, cap) without gaps */
    size_t nr, nr_cap;
    uint64_t cap;                   /* bytes of backing (page multiple) */
};

/* Makes the backing cover [0, SIZE). Bytes past the file's size are zero
 * (the caller zeroes them when it shrinks). 0, -EFBIG or -ENOSPC. */
int pagecache_reserve(struct pagecache *pc, uint64_t size);
/* Copies between BUF and [OFF, OFF+N), which must be reserved. Writes go
 * through the host's write path (memfile_write: fresh pages are not
 * faulted in and zeroed first): 0, or -ENOSPC when the host refuses a page
 * (the sandbox memory limit; what was written before stays). Reads: 0, or
 * -EIO if the host read fails (BUF a mapping it cannot fill). */
int pagecache_read(const struct pagecache *pc, void *buf, size_t n, uint64_t off);
/* read(2) of a memory file of SIZE bytes backed by PC at *POS (the
 * inode's lock held): what lies before SIZE, *POS advanced; -EIO. */
ssize_t pagecache_read_at(const struct pagecache *pc, uint64_t size, void *buf, size_t n,
                          uint64_t *pos);
int pagecache_write(struct pagecache *pc, const void *buf, size_t n, uint64_t off);
/* Zeroes [FROM, TO) of the reserved range (whole pages are punched). */
void pagecache_zero(struct pagecache *pc, uint64_t from, uint64_t to);
/* Drops the pagecache's references (mapped pages live on). */
void pagecache_release(struct pagecache *pc);
/* The memory-file pages backing [OFF, OFF+LEN) (page aligned), reserving
 * them if needed: *out_moff backs OFF and *out_len (<= LEN) bytes follow
 * contiguously there. Returns with one new memory-file reference on each of
 * those pages, for the caller to drop with memfile_free(). 0 or -errno. */
int pagecache_backing(struct pagecache *pc, uint64_t off, uint64_t len, uint64_t *out_moff,
                      uint64_t *out_len);

/* For mm: the memory-file backing of [OFF, OFF+LEN) of the open file F
 * (borrowed) through its file_ops mmap_backing, as pagecache_backing().
 * -ENODEV when F's data does not live in the memory file. */
int pagecache_file_backing(struct file *f, uint64_t off, uint64_t len, uint64_t *out_moff,
                           uint64_t *out_len);

/* The same through F's file_ops mmap_private_backing (read-only files
 * shared by private mappings). -ENODEV when F has none. */
int pagecache_file_private_backing(struct file *f, uint64_t off, uint64_t len,
                                   uint64_t *out_moff, uint64_t *out_len);
/* The same without filling the pages (mm fills them when first read:
 * pagecache_file_private_fill). -ENODEV when F cannot do that. */
int pagecache_file_private_backing_lazy(struct file *f, uint64_t off, uint64_t len,
                                        uint64_t *out_moff, uint64_t *out_len);
/* F's mmap_private_fill and mmap_private_filled (vfs_fs.h). */
int pagecache_file_private_fill(struct file *f, uint64_t off, uint64_t len, uint64_t moff);
int pagecache_file_private_filled(struct file *f, uint64_t off, uint64_t lo, uint64_t hi,
                                  uint64_t *out_lo, uint64_t *out_hi);
/* Fills [OFF, OFF+LEN) of F's cache (at MOFF, which the caller's backing
 * handed out) on a thread of its own, in the order asked, so that the
 * faults of a lazy mapping mostly find their pages filled and map long
 * runs. Holds a reference on F's inode (not on F) meanwhile. Best effort:
 * nothing happens under a sandbox memory limit (only what the app touches
 * is filled then) or when the thread cannot be made. */
void pagecache_file_private_prefetch(struct file *f, uint64_t off, uint64_t len, uint64_t moff);
/* F's host descriptor for mapping its read-only data directly
 * (mmap_host_fd), or -ENODEV. */
int pagecache_file_host_fd(struct file *f);

#endif
