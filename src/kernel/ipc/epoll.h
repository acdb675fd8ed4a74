/*
 * epoll(7) sets.
 *
 * An item watches one (file, fd) pair. At EPOLL_CTL_ADD the file's poll op
 * is called with a poll table whose queue proc hangs a callback waiter on
 * each of the file's wait queues; a wake-up puts the item on the set's
 * ready list (filtered by the wake key). epoll_wait polls the ready items
 * again: a level-triggered item that is still ready goes back on the list,
 * an edge-triggered one waits for the next wake-up, a one-shot one is
 * disabled until EPOLL_CTL_MOD. Items hold no reference on their file: the
 * last close of a file removes it from every set (g_file_release_hook).
 *
 * Lock order:
 *   g_ep_loop_lock (adding an epoll file to a set: the loop check)
 *     epoll->mtx (items; held while ready items are polled)
 *       inner epoll->mtx (a nested set polled by its outer set)
 *         file/object locks of the watched files, then their waitq locks
 *           epoll->rdlock (ready list; taken by the callbacks)
 *             epoll->wq lock (callbacks wake the set's own sleepers)
 *   g_ep_watch_lock (file -> items registry): leaf, apart from epoll->rdlock.
 */
#ifndef MOAT_KERNEL_IPC_EPOLL_H
#define MOAT_KERNEL_IPC_EPOLL_H

#include <stdbool.h>
#include <stdint.h>

struct file;
struct task;

#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3

#define EPOLLEXCLUSIVE (1U << 28)
#define EPOLLWAKEUP    (1U << 29)
#define EPOLLONESHOT   (1U << 30)
#define EPOLLET        (1U << 31)

/* struct epoll_event: packed on x86-64 (12 bytes). */
struct linux_epoll_event {
    uint32_t events;
    uint64_t data;
} __attribute__((packed));

/* A new epoll file (count 1) with O_ FLAGS (O_CLOEXEC is the caller's).
 * 0 or -ENOMEM. */
int epoll_create_file(struct file **out);
bool epoll_is_epoll(struct file *f);
/* How many items set EP watches now (a bound on the events one wait returns). */
int epoll_nitems(struct file *ep);
/* epoll_ctl on EP (an epoll file) for (TARGET, FD); EV is ignored for DEL.
 * Files are borrowed. 0 or -errno. */
int epoll_ctl_file(struct file *ep, int op, int fd, struct file *target,
                   const struct linux_epoll_event *ev);
/* Waits for up to MAXEVENTS ready events into OUT (kernel buffer) until
 * DEADLINE (monotonic ns; 0 = none; NONBLOCK: do not wait). The number of
 * events, 0 on timeout, or -EINTR. */
int epoll_wait_file(struct task *t, struct file *ep, struct linux_epoll_event *out,
                    int maxevents, uint64_t deadline, bool nonblock);

#endif
