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
 * Lock order: waitq->lock is taken inside any subsystem lock. Callback
 * waiters (waitq_add_func) run under it and may take leaf locks and other
 * queues' locks (epoll: file queue -> epoll ready lock -> epoll queue); the
 * queues form a DAG because epoll refuses cycles (ELOOP).
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

struct waiter;
/* A callback waiter's wake function: runs with the queue's lock held, so it
 * may take only leaf locks and wake other queues (never this one). KEY is
 * the LPOLL* mask the waker says changed, or 0 for "anything". */
typedef void waiter_func_t(struct waiter *w, unsigned key);

struct waiter {
    struct list_head link;
    struct task *task;   /* woken when FUNC is NULL */
    waiter_func_t *func; /* NULL: task waiter (waitq_add) */
};

void waitq_init(struct waitq *wq);
void waitq_add(struct waitq *wq, struct waiter *w, struct task *t);
/* Adds a callback waiter: wakes call FUNC instead of waking a task (epoll
 * items). On return from waitq_del() FUNC is not running. */
void waitq_add_func(struct waitq *wq, struct waiter *w, waiter_func_t *func);
void waitq_del(struct waitq *wq, struct waiter *w);
/* Wakes every task waiting on WQ (and calls every callback with key 0). */
void waitq_wake_all(struct waitq *wq);
/* As waitq_wake_all, telling callbacks which LPOLL* bits may have changed
 * (task waiters are always woken). */
void waitq_wake_key(struct waitq *wq, unsigned key);

/* The task's wake sequence, to read before checking the condition. */
uint32_t task_wake_seq(struct task *t);
/* Wakes T: its current or next task_sleep() returns. */
void task_wake(struct task *t);
/* Sleeps until T is woken after SEQ was read, until DEADLINE_NS
 * (CLOCK_MONOTONIC, 0 = none) or until a signal is pending. Returns 0
 * (woken; re-check the condition), -ETIMEDOUT or -EINTR (signal pending). */
int task_sleep(struct task *t, uint32_t seq, uint64_t deadline_ns);

#endif
