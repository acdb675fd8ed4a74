/*
 * The kernel's timer service: one kernel thread sleeps until the earliest
 * armed timer is due and runs its callback (interval timers re-arm). No
 * polling: with nothing armed the thread sleeps until a timer is armed.
 * Used by alarm/setitimer (per process) and later POSIX timers and timerfd.
 *
 * Lock order: a callback runs with no service lock held, so it may take
 * g_tasks_lock and signal locks.
 */
#ifndef MOAT_KERNEL_TASK_KTIMER_H
#define MOAT_KERNEL_TASK_KTIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/list.h"

struct ktimer {
    struct list_head link; /* (s) service lock: on the armed list */
    uint64_t deadline;     /* (s) CLOCK_MONOTONIC ns; 0 = disarmed */
    uint64_t interval;     /* (s) re-arm period in ns, 0 = one shot */
    uint64_t generation;   /* (s) bumped on every arm/cancel */
    void (*fire)(struct ktimer *k, void *arg); /* (c) */
    void *arg;             /* (c) */
};

void ktimer_init(struct ktimer *k, void (*fire)(struct ktimer *k, void *arg), void *arg);
/* Arms K for DEADLINE (absolute monotonic ns), then every INTERVAL ns if
 * nonzero; re-arming replaces the previous setting. */
void ktimer_arm(struct ktimer *k, uint64_t deadline, uint64_t interval);
/* Disarms K. On return its callback is not running and will not run again
 * (unless re-armed). Must not be called from K's own callback. */
void ktimer_cancel(struct ktimer *k);
/* The armed deadline and interval (deadline 0: disarmed). */
void ktimer_get(struct ktimer *k, uint64_t *out_deadline, uint64_t *out_interval);

#endif
