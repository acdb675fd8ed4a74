/*
 * Internals of the memory manager, shared by mm.c and the mm unit tests
 * (which check the VMA list against what the fake platform mapped). Nothing
 * outside src/kernel/mm and tests/unit/mm includes this.
 */
#ifndef MOAT_KERNEL_MM_MM_INTERNAL_H
#define MOAT_KERNEL_MM_MM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/mm/mm.h"
#include "lib/refcount.h"

/* The backing of MAP_SHARED anonymous memory: one memory-file range shared by
 * every VMA (in this mm and in forked ones) that maps part of it; freed when
 * the last of them goes. */
struct mm_shared {
    struct refcount ref;
    uint64_t off, len;          /* (c) the memory-file range */
};

enum {
    VMA_SHARED = 1u << 0,       /* MAP_SHARED: of anonymous memory (shared set) or a file */
    VMA_GROWSDOWN = 1u << 1,    /* MAP_GROWSDOWN: a fault below it grows it (mm_fault) */
    VMA_LOCKED = 1u << 2,       /* mlock()ed: accounting only */
    VMA_DONTFORK = 1u << 3,     /* madvise(MADV_DONTFORK) */
    VMA_WIPEONFORK = 1u << 4,   /* madvise(MADV_WIPEONFORK): the child reads zeros */
    VMA_KERNEL = 1u << 5,       /* mm_map_kernel_range(): never writable, never punched */
    VMA_COW = 1u << 6,          /* private pages that may be shared with another address
                                 * space since fork: the stub maps them without PROT_WRITE,
                                 * and a write first gives this mm its own copy */
    VMA_NOMAYWRITE = 1u << 7,   /* shared file mapping of a file not open for writing:
                                 * mprotect(PROT_WRITE) is EACCES (Linux VM_MAYWRITE) */
    VMA_SHARED_COPY = 1u << 8,  /* MAP_SHARED of a file whose data is not in the memory
                                 * file (read-only hostfs): served as a private copy,
                                 * shown as shared */
    VMA_NOBACK = 1u << 9,       /* part of a grown shared anonymous mapping that lies past
                                 * its shared object's end: no memory-file pages (off,
                                 * shared and file unused), every access is SIGBUS
                                 * (BUS_ADRERR) and the kernel's copies fail (EFAULT) */
    VMA_LAZY = 1u << 10,        /* private pages of a read-only file's shared cache
                                 * (VMA_COW) not all filled yet: the stub maps the
                                 * unfilled ones past the end of the memory file, a
                                 * fault there fills a window around it and maps it
                                 * (mm_fault_signal), and the kernel fills what it
                                 * reads first (mm_lazy_fill) */
};

/* One mapping [start, end). Unless it is shared anonymous memory (shared
 * set), a VMA holds one memory-file reference on each page of
 * [off, off + end - start): private memory (VMA_SHARED clear; shared with a
 * forked address space while VMA_COW) and shared file mappings (VMA_SHARED,
 * FILE set: the file's page-cache pages). */
struct vma {
    uint64_t start, end;
    int prot;                   /* PROT_READ | PROT_WRITE | PROT_EXEC */
    unsigned flags;             /* VMA_* */
    uint64_t off;               /* memory-file offset backing START */
    struct mm_shared *shared;   /* counted; set for shared anonymous memory */
    struct file *file;          /* counted or NULL: the mapped file */
    uint64_t file_off;          /* file offset of START when FILE is set */
};

/*
 * Locking: mm->mutate is held by everything that changes the VMA set or the
 * stub's mappings (mmap, munmap, mprotect, brk, mremap, madvise, mlock,
 * attach, fork of this mm, fault repair), for the whole operation including
 * the platform calls, so the stub's mappings change in the same order as the
 * VMAs. Those paths read the VMA array with mutate alone. Writing the array
 * also takes mm->lock for writing, briefly; copy-in/out, maps and mincore
 * read it under mm->lock for reading, so they never wait on the platform.
 */
struct mm {
    struct refcount ref;
    pthread_mutex_t mutate;
    pthread_rwlock_t lock;
    struct platform_as *as;     /* (M) mutate; set by mm_attach, NULL once its
                                 * last context is gone (mm_ctx_destroy) */
    unsigned nr_ctx;            /* (M) contexts running in as */
    struct vma *vmas;           /* (M+L) sorted by start, non-overlapping */
    size_t nr_vmas, cap_vmas;   /* (M+L) */
    uint64_t brk_start, brk;    /* (M) brk is the app's value, not page aligned */
    uint64_t mmap_base;         /* (M) mmap(NULL) allocates top-down below this */
    uint64_t stack_top;         /* (M) top of the initial stack (mm_set_layout) */
    struct mm_limits lim;       /* (M) RLIMIT_AS/DATA/STACK in bytes (mm_set_limits) */
    uint32_t personality;       /* (M) the persona of the tasks using this mm */
    int pid;                    /* (M) the process the loader built it for (log lines) */
    bool lock_future;           /* (M) mlockall(MCL_FUTURE) */
    uint64_t repaired_page;     /* (M) last page mm_fault() re-mapped, or 0 */
    void *patch_fam;            /* (M) the platform's syscall trampolines this mm's text
                                 * may jump to (a counted reference from the forked
                                 * parent), given to the platform by mm_attach */
    bool fork_child;            /* (M) made by fork (not exec): patches copy their page only */
    uint64_t patch_seen[64];    /* (a) syscall sites trapped once (mm_patch_worth) */
    struct mm *all_prev, *all_next; /* g_mm_all_lock: every live mm, for the
                                     * truncate zap (mm_file_resized) */
};

/* The most bytes of data a fork copies for the child at once rather than
 * share copy-on-write (mm_fork; 0: none). Tests of copy-on-write set 0. */
extern uint64_t g_mm_fork_copy_max;

/* Gives MM its own copy of the copy-on-write pages in [start, end) (page
 * aligned), so the kernel may write them. Takes mutate. 0 or -errno. */
int mm_cow_break(struct mm *mm, uint64_t start, uint64_t end);

/* Makes sure the pages of V (VMA_LAZY) in [s, e) hold the file's data
 * before the kernel reads them; nothing for other VMAs. Caller holds
 * mm->lock or mutate. 0 or -errno. */
int mm_lazy_fill(const struct vma *v, uint64_t s, uint64_t e);

#endif
