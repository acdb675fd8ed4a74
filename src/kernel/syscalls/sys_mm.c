/*
 * Memory syscalls: brk, mmap, munmap, mprotect, mremap, madvise, msync,
 * mincore, mlock, mlock2, munlock, mlockall, munlockall.
 *
 * The handlers decode arguments and call the memory manager (kernel/mm).
 */
#include <sys/mman.h>
#include <sys/resource.h>

#include "kernel/ipc/shmem.h"
#include "kernel/mm/mm.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"
#include "lib/util.h"
#include "platform/platform.h"

static uint64_t memlock_limit(struct task *t);

/* Hands the thread group's RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK and
 * RLIMIT_MEMLOCK to T's mm before a call that maps memory (setrlimit may
 * have changed them). */
static void refresh_limits(struct task *t)
{
    struct mm_limits lim;
    pthread_mutex_lock(&t->tg->lock);
    lim.as = t->tg->rlim[RLIMIT_AS].rlim_cur;
    lim.data = t->tg->rlim[RLIMIT_DATA].rlim_cur;
    lim.stack = t->tg->rlim[RLIMIT_STACK].rlim_cur;
    pthread_mutex_unlock(&t->tg->lock);
    lim.memlock = memlock_limit(t);
    mm_set_limits(t->mm, &lim);
}

static long sys_brk(struct task *t, const struct sys_args *a)
{
    refresh_limits(t);
    return (long)mm_brk(t->mm, a->arg[0]);
}

static long sys_mmap(struct task *t, const struct sys_args *a)
{
    uint64_t addr = a->arg[0], len = a->arg[1], off = a->arg[5];
    int prot = (int)a->arg[2], flags = (int)a->arg[3], fd = (int)a->arg[4];
    struct file *file = NULL;
    uint64_t out;

    if (!IS_ALIGNED(off, PAGE_SIZE))
        return -EINVAL;
    /* Linux: locking needs CAP_IPC_LOCK or a non-zero RLIMIT_MEMLOCK. */
    if ((flags & MAP_LOCKED) && memlock_limit(t) == 0)
        return -EPERM;
    if (!(flags & MAP_ANONYMOUS)) {
        file = fdtable_get_file(t->files, fd);
        if (!file)
            return -EBADF;
    }
    refresh_limits(t);
    int r = file ? shmem_mmap_check(file, prot, flags) : 0; /* memfd write seals */
    if (r == 0)
        r = mm_mmap(t->mm, addr, len, prot, flags, file, off, &out);
    if (file)
        file_put(file);
    return r < 0 ? r : (long)out;
}

static long sys_munmap(struct task *t, const struct sys_args *a)
{
    return mm_munmap(t->mm, a->arg[0], a->arg[1]);
}

static long sys_mprotect(struct task *t, const struct sys_args *a)
{
    return mm_mprotect(t->mm, a->arg[0], a->arg[1], (int)a->arg[2]);
}

static long sys_mremap(struct task *t, const struct sys_args *a)
{
    uint64_t out;
    refresh_limits(t);
    int r = mm_mremap(t->mm, a->arg[0], a->arg[1], a->arg[2], (int)a->arg[3], a->arg[4], &out);
    return r < 0 ? r : (long)out;
}

static long sys_madvise(struct task *t, const struct sys_args *a)
{
    return mm_madvise(t->mm, a->arg[0], a->arg[1], (int)a->arg[2]);
}

static long sys_msync(struct task *t, const struct sys_args *a)
{
    return mm_msync(t->mm, a->arg[0], a->arg[1], (int)a->arg[2]);
}

static long sys_mincore(struct task *t, const struct sys_args *a)
{
    uint64_t addr = a->arg[0], len = a->arg[1], vec = a->arg[2];
    uint8_t buf[4096];

    if (!IS_ALIGNED(addr, PAGE_SIZE))
        return -EINVAL;
    uint64_t alen = ALIGN_UP(len, PAGE_SIZE);
    if (alen < len || addr > PLATFORM_APP_MAX || alen > PLATFORM_APP_MAX - addr)
        return -ENOMEM;
    /* One page of results per round, as Linux does. */
    while (alen > 0) {
        uint64_t chunk = MIN(alen, (uint64_t)sizeof(buf) * PAGE_SIZE);
        int r = mm_mincore(t->mm, addr, chunk, buf);
        if (r < 0)
            return r;
        r = copy_out(t, vec, buf, chunk / PAGE_SIZE);
        if (r < 0)
            return r;
        addr += chunk;
        vec += chunk / PAGE_SIZE;
        alen -= chunk;
    }
    return 0;
}

/* The RLIMIT_MEMLOCK that applies to T, in bytes; ~0 with CAP_IPC_LOCK. */
static uint64_t memlock_limit(struct task *t)
{
    if (task_capable(t, CAP_IPC_LOCK))
        return ~0ULL;
    pthread_mutex_lock(&t->tg->lock);
    uint64_t lim = t->tg->rlim[RLIMIT_MEMLOCK].rlim_cur;
    pthread_mutex_unlock(&t->tg->lock);
    return lim;
}

static long do_mlock(struct task *t, uint64_t addr, uint64_t len, bool lock, bool populate)
{
    uint64_t limit = ~0ULL;
    if (lock) {
        limit = memlock_limit(t);
        if (limit == 0)
            return -EPERM; /* Linux: no CAP_IPC_LOCK and a zero limit */
    }
    return mm_mlock(t->mm, addr, len, lock, populate, limit);
}

static long sys_mlock(struct task *t, const struct sys_args *a)
{
    return do_mlock(t, a->arg[0], a->arg[1], true, true);
}

static long sys_mlock2(struct task *t, const struct sys_args *a)
{
    if (a->arg[2] & ~(uint64_t)MLOCK_ONFAULT)
        return -EINVAL;
    return do_mlock(t, a->arg[0], a->arg[1], true, !(a->arg[2] & MLOCK_ONFAULT));
}

static long sys_munlock(struct task *t, const struct sys_args *a)
{
    return do_mlock(t, a->arg[0], a->arg[1], false, false);
}

static long sys_mlockall(struct task *t, const struct sys_args *a)
{
    uint64_t flags = a->arg[0];
    if (!flags || (flags & ~(uint64_t)(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) ||
        flags == MCL_ONFAULT)
        return -EINVAL;
    uint64_t limit = memlock_limit(t);
    if (limit == 0)
        return -EPERM;
    return mm_mlockall(t->mm, (int)flags, limit);
}

static long sys_munlockall(struct task *t, const struct sys_args *a)
{
    (void)a;
    mm_munlockall(t->mm);
    return 0;
}

SYSCALL_DEFINE(brk, sys_brk, "p", SYS_FULL, "");
SYSCALL_DEFINE(mmap, sys_mmap, "puxxfx", SYS_PARTIAL,
               "shared mappings of host files opened for write are ENODEV; "
               "MAP_HUGETLB gives normal pages");
SYSCALL_DEFINE(munmap, sys_munmap, "pu", SYS_FULL, "");
SYSCALL_DEFINE(mprotect, sys_mprotect, "pux", SYS_FULL, "");
SYSCALL_DEFINE(mremap, sys_mremap, "puuxp", SYS_FULL,
               "Linux 6.18: MREMAP_DONTUNMAP of any mapping; a same-size MREMAP_FIXED "
               "move may span several mappings and gaps");
SYSCALL_DEFINE(madvise, sys_madvise, "pud", SYS_PARTIAL,
               "hints accepted and ignored; KSM advice returns EINVAL");
SYSCALL_DEFINE(msync, sys_msync, "pux", SYS_FULL,
               "shared file pages are the file's own pages: nothing to write back");
SYSCALL_DEFINE(mincore, sys_mincore, "pup", SYS_FULL, "");
SYSCALL_DEFINE(mlock, sys_mlock, "pu", SYS_PARTIAL,
               "pages made resident and counted (VmLck); nothing is pinned");
SYSCALL_DEFINE(mlock2, sys_mlock2, "pux", SYS_PARTIAL,
               "pages made resident (unless MLOCK_ONFAULT) and counted; nothing is pinned");
SYSCALL_DEFINE(munlock, sys_munlock, "pu", SYS_FULL, "");
SYSCALL_DEFINE(mlockall, sys_mlockall, "x", SYS_PARTIAL,
               "pages made resident (unless MCL_ONFAULT) and counted (VmLck); nothing is "
               "pinned");
SYSCALL_DEFINE(munlockall, sys_munlockall, "", SYS_FULL, "");
