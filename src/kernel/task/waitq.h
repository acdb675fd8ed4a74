/*
 * Wait queues: how a kernel thread blocks on behalf of its task.
 *
 * Every task sleeps on its own futex word (task->wake_seq). A waker bumps
 * the word and wakes the futex; a signal does the same, so any sleep is
 * interruptible without knowing what the task sleeps on. No wake-up is
 * lost: the sleeper reads the word *before* it checks its condition, and
 * the futex wait returns at once if the word moved since.
 *
 *   seq = task_wake_seq(t);          CPU0 (sleeper)
 *   waitq_add(wq, &w);
 *   if (!condition && !signal)       CPU1 (waker): condition = true;
 *       task_sleep(t, seq, ...);                   waitq_wake_all(wq) -> seq++
 *   waitq_del(wq, &w);
 *
 * Lock order: waitq->lock is a leaf (taken inside any subsystem lock).
 */
#ifndef MOAT_KERNEL_TASK_WAITQ_H
#define MOAT_KERNEL_TASK_WAITQ_H

#include <pthread.h>
#include <stdint.h>

#include "lib/list.h"

struct task;

struct waitq {
    pthread_mutex_t lock;
    struct list_head waiters; /* (l) of struct waiter */
};

struct waiter {
    struct list_head link;
    struct task *task;
};

void waitq_init(struct waitq *wq);
void waitq_add(struct waitq *wq, struct waiter *w, struct task *t);
void waitq_del(struct waitq *wq, struct waiter *w);
/* Wakes every task waiting on WQ. */
void waitq_wake_all(struct waitq *wq);

/* The task's wake sequence, to read before checking the condition. */
uint32_t task_wake_seq(struct task *t);
/* Wakes T: its current or next task_sleep() returns. */
void task_wake(struct task *t);
/* Sleeps until T is woken after SEQ was read, until DEADLINE_NS
 * (CLOCK_MONOTONIC, 0 = none) or until a signal is pending. Returns 0
 * (woken; re-check the condition), -ETIMEDOUT or -EINTR (signal pending). */
int task_sleep(struct task *t, uint32_t seq, uint64_t deadline_ns);

#endif
