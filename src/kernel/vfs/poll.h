/*
 * Readiness: every pollable object has a poll function and wait queues.
 * poll, select (and later epoll) and blocking I/O all use this one
 * mechanism (DESIGN "Waiting").
 *
 * A file's poll op returns its current POLL* mask and, when given a poll
 * table, registers the polling task on the object's wait queue(s) with
 * poll_wait(); the object wakes its queue when readiness may have changed.
 */
#ifndef MOAT_KERNEL_VFS_POLL_H
#define MOAT_KERNEL_VFS_POLL_H

#include <stdbool.h>

#include "kernel/task/waitq.h"

struct file;
struct task;

/* Linux poll bits (uapi/asm-generic/poll.h). */
#define LPOLLIN     0x0001
#define LPOLLPRI    0x0002
#define LPOLLOUT    0x0004
#define LPOLLERR    0x0008
#define LPOLLHUP    0x0010
#define LPOLLNVAL   0x0020
#define LPOLLRDNORM 0x0040
#define LPOLLRDBAND 0x0080
#define LPOLLWRNORM 0x0100
#define LPOLLWRBAND 0x0200
#define LPOLLRDHUP  0x2000

/* What a file without a poll op reports: always ready (Linux DEFAULT_POLLMASK). */
#define POLL_DEFAULT_MASK (LPOLLIN | LPOLLOUT | LPOLLRDNORM | LPOLLWRNORM)

struct poll_entry {
    struct waiter w;
    struct waitq *wq;
};

struct poll_table;
/* Registration hook: called by poll_wait() instead of adding a task waiter
 * (epoll uses it to hang callback waiters on the queues). */
typedef void poll_queue_proc_t(struct poll_table *pt, struct waitq *wq);

struct poll_table {
    struct task *task;
    poll_queue_proc_t *qproc;   /* NULL: register TASK (poll_table_init) */
    void *priv;                 /* for QPROC */
    struct poll_entry **entries; /* registrations to undo in poll_table_free() */
    int n, cap;
    int error;                  /* -ENOMEM if a registration failed */
};

void poll_table_init(struct poll_table *pt, struct task *t);
/* Registers PT's task on WQ (PT may be NULL: no registration). */
void poll_wait(struct poll_table *pt, struct waitq *wq);
/* Removes every registration. */
void poll_table_free(struct poll_table *pt);

/* The readiness of F, registering on its queues if PT is set. */
unsigned vfs_poll(struct file *f, struct poll_table *pt);

#endif
