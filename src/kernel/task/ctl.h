/*
 * The control channel: how the moat CLI talks to a running sandbox kernel
 * (exec, signals, ps, stats). The CLI makes a listening AF_UNIX
 * SOCK_SEQPACKET socket in the container's state directory and hands it to
 * the kernel process; ctl_start() serves it on a thread of its own, one
 * more thread per connection.
 *
 * Wire format: one request per message, a one-letter op then NUL-separated
 * text fields; replies are one line each.
 *
 *   E uid gid cwd argc argv... envc env...  + SCM_RIGHTS stdin, stdout, stderr
 *        -> "P <pid>\n" once it runs (or "F <errno> <reason>\n"), then
 *           "X <wait status>\n" when it ends. On that connection, later
 *           "K <signo>" messages signal the process; closing the connection
 *           before it ends kills it (the CLI that stood for it is gone).
 *   A <signo>  -> "O\n" or "F ...": the signal to every process (kill --all)
 *   S          -> ps: lines "<pid> <ppid> <state> <uid> <nthreads> <comm>\t<cmdline>"
 *   T          -> stats: lines "<name> <value>" (pids, pids_limit, memory_used, ...)
 *   L <n>      -> "O\n": at most N live app tasks from now on (moat update
 *                 --pids-limit; 0: no limit); tasks already there stay
 *   M <bytes>  -> "O\n" or "F ...": the apps' memory limit (moat update
 *                 --memory; only for a sandbox created with one). The
 *                 caller resizes the memory file's tmpfs, whose mount is
 *                 fd "memory_mount_fd" of the stats (T) in this process
 */
#ifndef MOAT_KERNEL_TASK_CTL_H
#define MOAT_KERNEL_TASK_CTL_H

#include "kernel/task/task.h"

#define CTL_SOCKET_NAME "ctl"       /* in the container's state directory */
#define CTL_MSG_MAX (256 * 1024)    /* largest request (exec's argv + env) */

/* Serves the listening socket LISTEN_FD (consumed) on a new thread.
 * DEFAULTS: the first process's settings (its cred and strace flag) for
 * processes started later. 0 or -errno. */
/* Runs INIT as a process of the sandbox with no parent inside (as exec'd
 * ones: OCI startContainer hooks), in the root and mounts of pid 1, which
 * must exist, and waits for its end: 0 and its wait status in *STATUS,
 * -ETIMEDOUT when it was killed after TIMEOUT seconds (0: none), or -errno
 * (it did not start; INIT's stdio fds are then still the caller's). */
int ctl_run_process(struct sandbox_init *init, int timeout, int *status);
int ctl_start(int listen_fd, const struct sandbox_init *defaults);

#endif
