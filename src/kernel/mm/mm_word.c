/*
 * Atomic access to one 32-bit word of app memory, for futexes: the word's
 * kernel address is used under mm->lock (read), so no munmap can free its
 * page meanwhile, and the operation is a real atomic on the memory the app
 * threads (in other stub processes) use concurrently.
 *
 * A write to a page shared copy-on-write since fork first gives this mm its
 * own copy (as copy_out does).
 */
#include <errno.h>
#include <sys/mman.h>

#include "kernel/mm/memfile.h"
#include "kernel/mm/mm.h"
#include "kernel/mm/mm_internal.h"
#include "lib/util.h"

int mm_word_op(struct mm *mm, uint64_t addr, bool write,
               int (*fn)(uint32_t *word, void *arg), void *arg, struct mm_word_key *out_key)
{
    if (addr & 3)
        return -EINVAL;
    int need = write ? (PROT_READ | PROT_WRITE) : PROT_READ;
    int r;
restart:
    pthread_rwlock_rdlock(&mm->lock);
    size_t lo = 0, hi = mm->nr_vmas;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (mm->vmas[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= mm->nr_vmas || mm->vmas[lo].start > addr || (mm->vmas[lo].prot & need) != need ||
        (mm->vmas[lo].flags & VMA_NOBACK)) {
        r = -EFAULT;
        goto out;
    }
    const struct vma *v = &mm->vmas[lo];
    if (write && (v->flags & VMA_COW)) {
        pthread_rwlock_unlock(&mm->lock);
        r = mm_cow_break(mm, addr, addr + sizeof(uint32_t));
        if (r < 0)
            return -EFAULT;
        goto restart;
    }
    if (mm_lazy_fill(v, addr, addr + sizeof(uint32_t)) < 0) {
        r = -EFAULT;
        goto out;
    }
    uint64_t off = v->off + (addr - v->start);
    if (out_key) {
        out_key->shared = (v->flags & VMA_SHARED) != 0;
        out_key->memfile_off = off;
    }
    /* Under the sandbox memory limit (memfile_commit does nothing without
     * one) the page is allocated first: a load from a page the host then
     * refuses would raise SIGBUS in the kernel. */
    if (fn && memfile_commit(ALIGN_DOWN(off, PAGE_SIZE), PAGE_SIZE) < 0) {
        r = -EFAULT;
        goto out;
    }
    r = fn ? fn((uint32_t *)memfile_ptr(off), arg) : 0;
out:
    pthread_rwlock_unlock(&mm->lock);
    return r;
}
