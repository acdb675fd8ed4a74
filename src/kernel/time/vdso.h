/*
 * The vDSO: a small shared object (vdso_image.c) mapped into every new
 * image together with its data page (vdso_data.h), so clock_gettime,
 * gettimeofday, time, clock_getres and getcpu run without a trap.
 *
 * The kernel owns one data page in the memory file and a time thread that
 * refreshes it once a second from the host clocks; every address space maps
 * that same page read-only (mm_map_kernel_range).
 *
 * Lock order: the time thread takes no lock; the data page has one writer.
 */
#ifndef MOAT_KERNEL_TIME_VDSO_H
#define MOAT_KERNEL_TIME_VDSO_H

#include <stdint.h>

struct mm;

/* Maps the data page and the vDSO image into MM (borrowed, attached),
 * wherever mmap(NULL) would put them: the data page first, the image one
 * page above it. The first call sets up the data page and starts the time
 * thread. 0 and *out_base (the image's ELF header: AT_SYSINFO_EHDR), or
 * -errno. */
int vdso_map(struct mm *mm, uint64_t *out_base);

#endif
