/*
 * Address spaces of the app: VMAs, brk, mmap/munmap/mprotect, fork copies,
 * and copy-in/copy-out through the kernel's mapping of the memory file.
 *
 * Every VMA is backed by a range of the memory file and is mapped into the
 * stub eagerly when created: the host pages in memory-file pages on first
 * touch, so touching fresh memory costs no trip into moat's kernel.
 *
 * Lock order:
 *   mm->lock (rwlock: readers copy in/out, writers change VMAs)
 *     memfile lock
 */
#ifndef MOAT_KERNEL_MM_MM_H
#define MOAT_KERNEL_MM_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mm;
struct file;
struct platform_as;

/* A new empty address space, count 1. NULL only for ENOMEM. */
struct mm *mm_new(void);
void mm_get(struct mm *mm);
void mm_put(struct mm *mm);

/* Binds MM to platform address space AS (borrowed; the caller keeps it alive
 * while MM uses it) and maps every existing VMA into it. 0 or -errno. */
int mm_attach(struct mm *mm, struct platform_as *as);
/* The platform address space MM is bound to, or NULL. */
struct platform_as *mm_as(struct mm *mm);

/* A copy of PARENT for fork: same VMAs, private memory copied (shared
 * mappings shared). Not yet attached. 0 or -errno. */
int mm_fork(struct mm *parent, struct mm **out_child);

/* mmap(2): ADDR, LEN, PROT, FLAGS as the syscall; FILE (borrowed, may be NULL)
 * and OFF for file mappings. 0 and *out_addr, or -errno. */
int mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, int prot, int flags, struct file *file,
            uint64_t off, uint64_t *out_addr);
int mm_munmap(struct mm *mm, uint64_t addr, uint64_t len);
int mm_mprotect(struct mm *mm, uint64_t addr, uint64_t len, int prot);
/* brk(2): returns the new (or unchanged) break. */
uint64_t mm_brk(struct mm *mm, uint64_t brk);
/* Sets the initial break (end of the loaded image); used by the loader. */
void mm_set_brk_start(struct mm *mm, uint64_t start);
/* Where the loader should put the initial stack (its top, exclusive), and
 * the base below which mmap(NULL) allocations go. */
uint64_t mm_stack_top(struct mm *mm);

/* Copy between kernel buffers and app memory, honouring VMA protections
 * (copy_in needs PROT_READ, copy_out PROT_WRITE, as Linux's uaccess).
 * 0 or -EFAULT; a partial copy may have happened on -EFAULT. */
int mm_copy_in(struct mm *mm, void *dst, uint64_t src, size_t n);
int mm_copy_out(struct mm *mm, uint64_t dst, const void *src, size_t n);
/* Writes regardless of VMA protection (the loader filling read-only text). */
int mm_copy_out_force(struct mm *mm, uint64_t dst, const void *src, size_t n);
/* Copies a NUL-terminated string of at most MAX bytes (NUL included).
 * Returns its length, -EFAULT, or -ENAMETOOLONG when no NUL within MAX. */
long mm_strncpy_in(struct mm *mm, char *dst, uint64_t src, size_t max);

/* A fault the app took at ADDR. 0 when moat resolved it (the app retries),
 * or -EFAULT: the caller raises SIGSEGV (*out_code SEGV_MAPERR/ACCERR). */
int mm_fault(struct mm *mm, uint64_t addr, bool write, int *out_code);

/* Formats /proc/PID/maps into BUF; returns the length (truncated at SIZE). */
size_t mm_format_maps(struct mm *mm, char *buf, size_t size);

#endif
