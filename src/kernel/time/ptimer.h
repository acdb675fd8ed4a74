/*
 * POSIX per-process timers (timer_create(2) and friends) on the kernel's
 * timer service (kernel/task/ktimer.h).
 *
 * Wall clocks (REALTIME, MONOTONIC, BOOTTIME, TAI) keep their next expiry
 * as a CLOCK_MONOTONIC deadline: absolute REALTIME/TAI settings are
 * converted when set (moat never sets the clock, so they cannot drift).
 * CPU-time clocks (PROCESS_CPUTIME_ID, THREAD_CPUTIME_ID) keep a deadline in
 * CPU ns; the service wakes them at the earliest wall time the CPU time
 * could reach it (all host CPUs busy) and checks again.
 *
 * A signal-notifying timer owns its queued signal (signal.h,
 * struct sigqueue_owner): expiries while it is queued become si_overrun.
 *
 * Lock order: ptimer->lock -> g_tasks_lock (CPU clocks are read under it)
 * -> sighand->lock, and ptimer->lock -> the timer service lock;
 * thread_group->lock (the set) is never held with a ptimer lock. A timer
 * callback sends its signal with no ptimer lock held.
 */
#ifndef MOAT_KERNEL_TIME_PTIMER_H
#define MOAT_KERNEL_TIME_PTIMER_H

#include <stdbool.h>
#include <stdint.h>

struct task;
struct thread_group;

/* The decoded struct sigevent of timer_create (NULL in the call: SIGALRM
 * to the process with the timer id as value). */
struct ptimer_event {
    int notify;     /* SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD or SIGEV_THREAD_ID */
    int signo;
    int tid;        /* SIGEV_THREAD_ID */
    uint64_t value; /* sigev_value */
};

/* Creates a timer of T's process. EV NULL: the default event. The new id in
 * *out_id; 0 or -EINVAL (clock, event, thread), -EOPNOTSUPP (clock without
 * timers), -EAGAIN, -ENOMEM. */
int ptimer_create(struct task *t, int clockid, const struct ptimer_event *ev, int *out_id);
/* Deletes timer ID: 0 or -EINVAL. Its queued signal is dropped. */
int ptimer_delete(struct task *t, int id);
/* Arms (VALUE nonzero) or disarms timer ID; values in ns; ABSTIME: VALUE is
 * a time on the timer's clock. The old setting goes to OUT_* (may be NULL).
 * 0 or -EINVAL. */
int ptimer_settime(struct task *t, int id, bool abstime, uint64_t value, uint64_t interval,
                   uint64_t *out_value, uint64_t *out_interval);
int ptimer_gettime(struct task *t, int id, uint64_t *out_value, uint64_t *out_interval);
/* The overrun count of the last signal taken: >= 0 or -EINVAL. */
int ptimer_getoverrun(struct task *t, int id);
/* Deletes all of TG's timers (exec, and the exit of its last thread). */
void ptimer_delete_all(struct thread_group *tg);

#endif
