/* timerfd_create(2) timers, on the kernel's timer service (ktimer). */
#ifndef MOAT_KERNEL_IPC_TIMERFD_H
#define MOAT_KERNEL_IPC_TIMERFD_H

#include <stdbool.h>
#include <stdint.h>

struct file;

#define TIMERFD_ABSTIME 1 /* TFD_TIMER_ABSTIME */
#define TIMERFD_CANCEL_ON_SET 2

/* A new timerfd (count 1 in *OUT) on CLOCKID (REALTIME, MONOTONIC,
 * BOOTTIME and their _ALARM forms); FLAGS: O_NONBLOCK. 0, -EINVAL or
 * -ENOMEM. */
int timerfd_create_file(int clockid, unsigned flags, struct file **out);
bool timerfd_is_timerfd(struct file *f);
/* Values and intervals in ns. settime: VALUE 0 disarms; ABSTIME: VALUE is
 * an absolute time of the timer's clock. Both return the old setting
 * (remaining time, interval). 0 or -errno. */
int timerfd_settime_file(struct file *f, int flags, uint64_t value, uint64_t interval,
                         uint64_t *out_value, uint64_t *out_interval);
void timerfd_gettime_file(struct file *f, uint64_t *out_value, uint64_t *out_interval);
/* The host's realtime clock was set: cancels every timer armed with
 * TFD_TIMER_CANCEL_ON_SET (called from the host clock watch; unit tests
 * call it directly). */
void timerfd_clock_was_set(void);

#endif
