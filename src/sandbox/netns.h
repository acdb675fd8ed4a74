/*
 * The sandbox's own network namespace (--network=none): only lo, up. The
 * kernel's host sockets (kernel/net/inet.c) live there, so apps reach
 * only themselves.
 *
 * Making one costs ~0.5 ms of host kernel time here. `moat do` run as root
 * has it made by a helper process started first thing (netns_maker_start),
 * on another CPU while the CLI and the kernel process set up; the kernel
 * process joins it (setns on the helper's pidfd) in netns_enter, before it
 * has a second thread. Without a helper, or if it failed, netns_enter
 * makes the namespace itself.
 */
#ifndef MOAT_SANDBOX_NETNS_H
#define MOAT_SANDBOX_NETNS_H

/* In the CLI, before it makes any other namespace or child: starts the
 * helper. If it cannot, netns_enter makes the namespace itself. */
void netns_maker_start(void);

/* In the CLI once it forked the kernel process: lets go of the helper
 * (it exits once the kernel process joined or died). */
void netns_maker_forget(void);

/* In the kernel process, which must have one thread: enters the sandbox's
 * network namespace (the helper's, or a new one). 0 or -errno; *OUT_STEP
 * says what failed. */
int netns_enter(const char **out_step);

#endif
