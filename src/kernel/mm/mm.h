/*
 * Address spaces of the app: VMAs, brk, mmap/munmap/mprotect, fork copies,
 * and copy-in/copy-out through the kernel's mapping of the memory file.
 *
 * Every VMA is backed by a range of the memory file and is mapped into the
 * stub eagerly when created: the host pages in memory-file pages on first
 * touch, so touching fresh memory costs no trip into moat's kernel.
 *
 * Lock order:
 *   mm->mutate (mutex: serializes VMA changes and the platform calls for them)
 *     mm->lock (rwlock: readers copy in/out, writers change the VMA array;
 *               never held across a platform call)
 *       memfile lock
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
struct platform_ctx;

/* A new empty address space, count 1. NULL only for ENOMEM. */
struct mm *mm_new(void);
void mm_get(struct mm *mm);
void mm_put(struct mm *mm);

/* Binds MM to platform address space AS (borrowed; the caller keeps it alive
 * while MM uses it) and maps every existing VMA into it. 0 or -errno. */
int mm_attach(struct mm *mm, struct platform_as *as);
/* The platform address space MM is bound to, or NULL. */
struct platform_as *mm_as(struct mm *mm);
/* Another context now runs in MM's address space (CLONE_VM, threads). */
void mm_ctx_add(struct mm *mm);
/* Destroys CTX, a context in MM's address space (MM may be NULL). The
 * address space goes with its last context: MM forgets it first, so that a
 * holder of MM that outlives it (/proc readers, mm_file_resized) never
 * reaches the freed platform_as. */
void mm_ctx_destroy(struct mm *mm, struct platform_ctx *ctx);

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
/* Sets the initial break (end of the loaded image, plus the loader's
 * random offset); used by the loader. */
void mm_set_brk_start(struct mm *mm, uint64_t start);

/* The layout of a fresh address space, chosen by the loader (randomised
 * unless ADDR_NO_RANDOMIZE): the top of the initial stack (exclusive) and
 * the base below which mmap(NULL) allocations go. Both page aligned; the
 * stub range stays excluded whatever they are. */
void mm_set_layout(struct mm *mm, uint64_t stack_top, uint64_t mmap_base);
/* The stack top set by mm_set_layout (a fixed default before that). */
uint64_t mm_stack_top(struct mm *mm);

/* Resource limits the mm enforces, in bytes (MM_UNLIMITED: none). The
 * syscall layer refreshes them from the thread group's rlimits before each
 * call that maps memory; stack growth on a fault uses the last values. */
#define MM_UNLIMITED UINT64_MAX
struct mm_limits {
    uint64_t as;    /* RLIMIT_AS: every mapping (mmap, brk, mremap, stack growth) */
    uint64_t data;  /* RLIMIT_DATA: private writable non-stack mappings and brk */
    uint64_t stack; /* RLIMIT_STACK: how far a MAP_GROWSDOWN mapping may grow */
    uint64_t memlock; /* RLIMIT_MEMLOCK (MM_UNLIMITED with CAP_IPC_LOCK): what
                       * MAP_LOCKED and mappings under mlockall(MCL_FUTURE) may
                       * lock (EAGAIN past it) */
};
void mm_set_limits(struct mm *mm, const struct mm_limits *lim);
/* The gap Linux keeps free below a growing stack (stack_guard_gap). */
#define MM_STACK_GUARD_GAP (256ULL * 4096)

/* personality(2) persona of the tasks using MM: inherited by fork (copied
 * with the mm) and by exec (the loader copies it to the new mm). Only
 * ADDR_NO_RANDOMIZE changes what mm does (through the loader). */
uint32_t mm_personality(struct mm *mm);
/* The process MM was built for (the loader sets it; fork copies it), named
 * by the memory-limit log line when mm_fault() does not get a pid. */
void mm_set_pid(struct mm *mm, int pid);
void mm_set_personality(struct mm *mm, uint32_t persona);

/* Copy between kernel buffers and app memory, honouring VMA protections
 * (copy_in needs PROT_READ, copy_out PROT_WRITE, as Linux's uaccess).
 * 0 or -EFAULT; a partial copy may have happened on -EFAULT. */
int mm_copy_in(struct mm *mm, void *dst, uint64_t src, size_t n);
int mm_copy_out(struct mm *mm, uint64_t dst, const void *src, size_t n);
/* Writes regardless of VMA protection (the loader filling read-only text). */
int mm_copy_out_force(struct mm *mm, uint64_t dst, const void *src, size_t n);
/* Zero-copy I/O on app memory: calls FN(CTX, P, LEN) on the kernel's own
 * view (the memory file) of [addr, addr+n), one piece per VMA, in order,
 * with the VMA array held for reading, so the pieces stay mapped. The
 * range must be readable (OUT false: FN reads it) or writable (OUT true:
 * FN fills it; copy-on-write pages are made this mm's own first). FN
 * returns bytes (fewer than LEN stops) or -errno, must not block for long
 * and must not call into mm. Returns the bytes FN handled, else FN's
 * error or -EFAULT (a bad range); -EOPNOTSUPP under a sandbox memory
 * limit (the caller copies through a buffer of its own then). */
typedef long (*mm_io_fn)(void *ctx, void *p, size_t len);
long mm_io_user(struct mm *mm, uint64_t addr, size_t n, bool out, mm_io_fn fn, void *ctx);
/* Copies a NUL-terminated string of at most MAX bytes (NUL included).
 * Returns its length, -EFAULT, or -ENAMETOOLONG when no NUL within MAX. */
long mm_strncpy_in(struct mm *mm, char *dst, uint64_t src, size_t max);

/* A fault the app took at ADDR. 0 when moat resolved it (the app retries),
 * or -EFAULT: the caller raises SIGSEGV (*out_code SEGV_MAPERR/ACCERR).
 * Grows MAP_GROWSDOWN mappings (within RLIMIT_STACK, RLIMIT_AS and the
 * guard gap) for an address below them. */
int mm_fault(struct mm *mm, uint64_t addr, bool write, int *out_code);
/* mm_fault with the signal to raise: HOST_SIGNO is what the host reported
 * (SIGSEGV or SIGBUS). On -EFAULT, *out_signo and *out_code say what the
 * app gets: SIGSEGV (SEGV_MAPERR/ACCERR), SIGBUS BUS_ADRERR (a file mapping
 * page wholly past the end of the file), or SIGKILL when the sandbox memory
 * limit refused the page (then the caller kills the thread group; mm has
 * logged the limit line, naming PID). */
int mm_fault_signal(struct mm *mm, uint64_t addr, bool write, int host_signo, int pid,
                    int *out_signo, int *out_code);

/* The file of INODE changed size to SIZE (truncate, ftruncate, O_TRUNC): in every
 * address space, pages of its mappings now wholly past the end raise SIGBUS
 * (BUS_ADRERR) on the next access, including pages already touched, and
 * private copies of them are dropped, as Linux's truncate zaps them. Takes
 * each mm's mutate and never calls into the VFS: the caller holds no mm or
 * inode lock (file system locks are fine). */
struct inode;
void mm_file_resized(const struct inode *inode, uint64_t size);

/* mremap(2) with the syscall's arguments. 0 and *out_addr, or -errno. */
int mm_mremap(struct mm *mm, uint64_t old_addr, uint64_t old_len, uint64_t new_len, int flags,
              uint64_t new_addr, uint64_t *out_addr);
/* madvise(2) on [ADDR, ADDR+LEN). 0 or -errno. */
int mm_madvise(struct mm *mm, uint64_t addr, uint64_t len, int advice);
/* msync(2): validates the range and flags (no shared file mappings exist to
 * write back). 0 or -errno. */
int mm_msync(struct mm *mm, uint64_t addr, uint64_t len, int flags);
/* mincore(2) for the pages of [ADDR, ADDR+LEN) (ADDR page aligned): one
 * byte per page into the kernel buffer VEC, 1 where the backing page holds
 * memory. 0, -EINVAL or -ENOMEM (an unmapped page). */
int mm_mincore(struct mm *mm, uint64_t addr, uint64_t len, uint8_t *vec);
/* mlock(2)/munlock(2) accounting. LOCK says which; POPULATE (mlock, not
 * MLOCK_ONFAULT) makes the pages resident now; LIMIT is the caller's
 * RLIMIT_MEMLOCK in bytes (~0 for unlimited). 0 or -errno. */
int mm_mlock(struct mm *mm, uint64_t addr, uint64_t len, bool lock, bool populate,
             uint64_t limit);
/* mlockall(2) with MCL_* FLAGS (validated by the caller) and munlockall(2). */
int mm_mlockall(struct mm *mm, int flags, uint64_t limit);
void mm_munlockall(struct mm *mm);
/* Bytes in locked VMAs (VmLck) and in all VMAs (VmSize). */
uint64_t mm_locked_bytes(struct mm *mm);
uint64_t mm_total_bytes(struct mm *mm);

/* Where a futex word lives: shared memory is keyed by its memory-file
 * offset (the same in every address space mapping it). */
struct mm_word_key {
    bool shared;
    uint64_t memfile_off;
};
/* Runs FN on the kernel address of the 32-bit app word at ADDR (aligned)
 * with the mapping pinned (mm->lock held for reading: FN must not block or
 * call into mm). Needs PROT_READ, and PROT_WRITE if WRITE. Fills OUT_KEY if
 * set. FN's result, or -EFAULT / -EINVAL (misaligned). */
int mm_word_op(struct mm *mm, uint64_t addr, bool write,
               int (*fn)(uint32_t *word, void *arg), void *arg, struct mm_word_key *out_key);

/* Maps the memory-file range [OFF, OFF+LEN) (page aligned), which the caller
 * owns and keeps for the life of the sandbox, at ADDR, replacing what is
 * mapped there (as MAP_FIXED). PROT may not hold PROT_WRITE. For pages the
 * kernel publishes to every app (the vDSO data page): the mapping is shared
 * and survives fork, munmap drops it without freeing the range, and the app
 * can never make it writable (mprotect: EACCES) nor punch it (MADV_REMOVE:
 * EINVAL). Shown as [vvar] in maps. 0 or -errno. */
int mm_map_kernel_range(struct mm *mm, uint64_t addr, uint64_t len, int prot, uint64_t off);

/* The first mapping that ends above ADDR (for shmdt, which looks for the
 * segment it attached): its range, and for a file mapping its file (a new
 * reference for the caller to put; NULL otherwise) and the file offset of
 * *out_start. 0, or -ENOENT when no mapping ends above ADDR. */
int mm_find_vma(struct mm *mm, uint64_t addr, uint64_t *out_start, uint64_t *out_end,
                struct file **out_file, uint64_t *out_file_off);

/* Rewrites N (at most 16) bytes of program text at ADDR, all in one page,
 * from OLD to NEW, for syscall patching: only in a private, file-backed,
 * executable, non-writable mapping, after giving this mm its own copy of
 * the page (the file's pages and other processes' copies are never
 * written), and only while MM has a single context. 0, -EAGAIN (the bytes
 * are not OLD), -EPERM (not such a mapping), -EBUSY or -errno. */
int mm_patch_text(struct mm *mm, uint64_t addr, const uint8_t *old, const uint8_t *new, size_t n);
/* Whether a syscall site at SITE is worth patching yet: from its second
 * trap on, so that a site run once (a start-up call, a fork child's _exit
 * or execve) costs one trap, not a copy of the text around it (~60 us for
 * 16 pages). Records SITE. */
bool mm_patch_worth(struct mm *mm, uint64_t site);

/* Formats /proc/PID/maps into BUF; returns the length (truncated at SIZE). */
size_t mm_format_maps(struct mm *mm, char *buf, size_t size);
/* Formats /proc/PID/smaps into BUF (each maps line followed by Size, Rss,
 * Pss and the other fields Linux prints, from the memory file's resident
 * pages); returns the length (truncated at SIZE). */
size_t mm_format_smaps(struct mm *mm, char *buf, size_t size);
/* The sandbox's memory as /proc/meminfo and sysinfo(2) show it, from the
 * memory file and every live address space. Resident bytes: ANON is private
 * memory (anonymous, and private copies of file pages: Linux's AnonPages),
 * SHMEM everything else the memory file holds (tmpfs and shared memory
 * data, mapped or not), MAPPED the part of it some address space maps
 * shared, LOCKED what mlock()ed mappings hold. Each page counts once,
 * however many address spaces share it. COMMITTED sums the mappings Linux
 * charges to its commit (private writable and shared anonymous). TOTAL is
 * the --memory limit, or the host's RAM without one; FREE what is left of
 * it (never more than the host has free). */
struct mm_meminfo {
    uint64_t total, free, used;
    uint64_t anon, shmem, mapped, locked, committed;
};
void mm_meminfo(struct mm_meminfo *out);
/* Only total, free, used and mapped (the resident bytes of shared
 * mappings), without walking every private mapping's pages (sysinfo). */
void mm_meminfo_brief(struct mm_meminfo *out);

/* Bytes of MM's mappings whose memory-file pages are resident (VmRSS). */
uint64_t mm_resident_bytes(struct mm *mm);

#endif
