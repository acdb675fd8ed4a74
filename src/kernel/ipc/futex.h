/*
 * Futexes: WAIT/WAKE (with bitsets), REQUEUE, CMP_REQUEUE, WAKE_OP, the PI
 * lock operations, and the exit-time work (CLONE_CHILD_CLEARTID wake-up,
 * robust lists).
 *
 * A private futex is keyed by (mm, address); a futex in shared memory by
 * its memory-file offset, which is the same in every process mapping it.
 * Lock order: a bucket lock, then (briefly) mm->lock inside mm_word_op.
 */
#ifndef MOAT_KERNEL_IPC_FUTEX_H
#define MOAT_KERNEL_IPC_FUTEX_H

#include <stdint.h>

struct task;
struct mm;

/* futex(2) for T. */
long futex_op(struct task *t, uint64_t uaddr, int op, uint32_t val, uint64_t utime,
              uint64_t uaddr2, uint32_t val3);

/* Writes 0 to the app word at ADDR of MM and wakes one waiter (thread exit
 * with CLONE_CHILD_CLEARTID). */
void futex_clear_and_wake(struct mm *mm, uint64_t addr);

/* Walks T's robust list at thread death: marks each futex it holds
 * FUTEX_OWNER_DIED and wakes a waiter. */
void futex_exit_robust_list(struct task *t);

#endif
