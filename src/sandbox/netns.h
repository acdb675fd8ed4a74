/*
 * The sandbox's own network namespace (--network=none): only lo, up. The
 * kernel's host sockets (kernel/net/inet.c, net/rtnl.c) live there, so apps
 * reach only themselves.
 *
 * Either the kernel process enters a new one itself, before it has a second
 * thread (netns_enter: unprivileged `moat do`, OCI containers), or, for
 * `moat do` run as root, it stays in the caller's namespace and the CLI
 * brokers its sockets (see the network broker in kernel/host/host_net.h):
 * the CLI makes the namespace only when the sandbox asks for its first
 * socket, and most programs never do.
 */
#ifndef MOAT_SANDBOX_NETNS_H
#define MOAT_SANDBOX_NETNS_H

/* In the kernel process, which must have one thread: enters a new network
 * namespace and brings lo up. 0 or -errno; *OUT_STEP says what failed. */
int netns_enter(const char **out_step);

/* In the CLI: the broker's socket pair. *KERNEL_FD is the kernel process's
 * end (the CLI closes it once the kernel process is forked:
 * netns_broker_forked). 0 or -errno. */
int netns_broker_start(int *kernel_fd);
void netns_broker_forked(void);
/* In the kernel process: drops the CLI's end it inherited. */
void netns_broker_child(void);
/* The CLI's end, to poll for requests, or -1 (none, or the kernel's end
 * is closed). */
int netns_broker_fd(void);
/* Serves the requests waiting at the CLI's end (never blocks). */
void netns_broker_serve(void);

#endif
