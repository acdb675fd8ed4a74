/*
 * Signal-driven I/O: O_ASYNC (fcntl F_SETFL or ioctl FIOASYNC), F_SETOWN /
 * F_GETOWN and F_SETSIG / F_GETSIG on sockets, pipes, FIFOs and ttys.
 *
 * A file with O_ASYNC and an owner has callback waiters on its wait queues
 * (as an epoll item has). A wake-up records which readiness bits changed;
 * the kernel's timer service then sends the signal from a context holding
 * no lock: SIGIO (si_code SI_KERNEL), or the F_SETSIG signal with si_code
 * POLL_IN/POLL_OUT/POLL_ERR/POLL_HUP, si_band and si_fd. POLL_IN is sent
 * for new input, POLL_OUT/ERR/HUP when the file becomes writable or fails
 * (as Linux sockets report write space only after being full).
 *
 * Lock order: file->lock, then the fasync's own leaf lock; wait-queue
 * callbacks take only the leaf lock and the timer service lock.
 */
#ifndef MOAT_KERNEL_IPC_FASYNC_H
#define MOAT_KERNEL_IPC_FASYNC_H

#include <stdbool.h>

struct file;
struct task;

/* True if F can deliver SIGIO (sockets, pipes, FIFOs, character devices
 * with a poll op); FIOASYNC on others is ENOTTY. */
bool fasync_supported(struct file *f);
/* Turns signal-driven I/O of F on or off (O_ASYNC changed); FD is the
 * descriptor reported in si_fd. 0 or -ENOMEM. */
int fasync_set(struct file *f, int fd, bool on);
/* F_OWNER_* of struct f_owner_ex. */
#define FASYNC_OWNER_TID  0
#define FASYNC_OWNER_PID  1
#define FASYNC_OWNER_PGRP 2

/* F_SETOWN: OWNER is a pid (> 0), a process group (< 0) or 0 (none).
 * 0, -EINVAL or -ESRCH. */
int fasync_setown(struct file *f, int owner);
int fasync_getown(struct file *f);
/* F_SETOWN_EX / F_GETOWN_EX: TYPE FASYNC_OWNER_*, ID a tid, pid or
 * process group (0: none). 0, -EINVAL or -ESRCH. */
int fasync_setown_ex(struct file *f, int type, int id);
void fasync_getown_ex(struct file *f, int *out_type, int *out_id);
/* F_SETSIG / F_GETSIG: 0 means SIGIO with kernel info. 0 or -EINVAL. */
int fasync_setsig(struct file *f, int sig);
int fasync_getsig(struct file *f);
/* Called on F's last put: no signal for F is sent after it returns. */
void fasync_release(struct file *f);

#endif
