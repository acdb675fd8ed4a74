/*
 * Readiness of host fds the kernel holds (the caller's stdio now; host
 * sockets later): one host epoll set watched by one kernel thread, which
 * wakes the moat wait queue registered with each fd (DESIGN "Waiting").
 */
#ifndef MOAT_KERNEL_HOST_HOST_IO_H
#define MOAT_KERNEL_HOST_HOST_IO_H

struct waitq;

/* Watches FD: any readiness change wakes WQ, which must stay valid for as
 * long as the kernel runs (host fds are few and live as long as the sandbox).
 * 0 or -errno. */
int host_io_watch(int fd, struct waitq *wq);
/* The current LPOLL* readiness of FD among EVENTS (never blocks). */
unsigned host_io_poll_now(int fd, unsigned events);
/* Calls FN from the host epoll loop each time the host's realtime clock is
 * set (stepped by NTP, date -s, ...), as a host CLOCK_REALTIME timerfd
 * armed with TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET reports it; the
 * timerfd is re-armed after each report. Set up by the first call, which
 * FN must be the same for every call. FN runs under a wait-queue lock: it
 * may take subsystem locks and wake other queues. 0 or -errno. */
int host_io_watch_clock_set(void (*fn)(void));

#endif
