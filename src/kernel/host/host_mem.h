/*
 * Host calls of the memory manager: the memory file (a memfd), the kernel's
 * own mapping of it, punching pages out and finding which pages hold data.
 * Nothing else in src/kernel/mm calls the host.
 */
#ifndef MOAT_KERNEL_HOST_HOST_MEM_H
#define MOAT_KERNEL_HOST_HOST_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Creates a memfd named NAME of SIZE bytes (sparse; no pages allocated).
 * 0 and *out_fd, or -errno. */
int host_mem_create(const char *name, uint64_t size, int *out_fd);

/* Creates a file of SIZE bytes (sparse) on a tmpfs of its own that holds at
 * most LIMIT bytes of pages (a detached mount: no path names it). Touching a
 * page past the limit through a mapping raises SIGBUS; a host call writing
 * there fails with EFAULT; punched pages count no more. 0 and *out_fd, or
 * -errno (the host cannot mount a tmpfs). */
int host_mem_create_limited(uint64_t size, uint64_t limit, int *out_fd);
/* The fd of that tmpfs's mount (open, close-on-exec), or -1: `moat update`
 * resizes it from outside (fspick through /proc/PID/fd/N). */
int host_mem_limited_mount(void);
/* Allocates the pages of [off, off+len) of FD (holes become zero pages).
 * 0, -ENOSPC past a limited file's limit, or -errno. */
int host_mem_allocate(int fd, uint64_t off, uint64_t len);
/* Writes N bytes of BUF at OFF of FD (pwrite: the host allocates the pages
 * it fills without faulting them in or zeroing them first). 0, -ENOSPC past
 * a limited file's limit, or -errno. */
int host_mem_write(int fd, uint64_t off, const void *buf, size_t n);
/* Reads N bytes at OFF of FD into BUF (pread: holes read as zeros without
 * the host allocating pages for them, as a load through a mapping would).
 * 0 or -errno. */
int host_mem_read(int fd, uint64_t off, void *buf, size_t n);
/* Bytes of FD's pages the host holds (st_blocks). 0 or -errno. */
int host_mem_resident(int fd, uint64_t *out_bytes);
/* Maps SIZE bytes of FD shared and read-write into the kernel process
 * (MAP_NORESERVE: only touched pages cost memory). 0 and *out_base, or -errno. */
int host_mem_map(int fd, uint64_t size, uint8_t **out_base);

/* Undoes host_mem_map (tests and shutdown). */
void host_mem_unmap(uint8_t *base, uint64_t size);

/* Deallocates [off, off+len) of FD: the pages read as zero afterwards and
 * their memory goes back to the host. 0 or -errno. */
int host_mem_punch(int fd, uint64_t off, uint64_t len);

/* The first offset >= OFF that holds data (SEEK_DATA) or that is a hole
 * (SEEK_HOLE). 0 and *out, -ENXIO when no data follows OFF, or -errno. */
int host_mem_seek_data(int fd, uint64_t off, uint64_t *out);
int host_mem_seek_hole(int fd, uint64_t off, uint64_t *out);

/* mincore(2) of [ADDR, ADDR+LEN) of a mapping of a memory file: VEC[i] & 1
 * for each page the file holds. 0 or -errno. */
int host_mem_incore(const uint8_t *addr, uint64_t len, uint8_t *vec);

void host_mem_close(int fd);

#endif
