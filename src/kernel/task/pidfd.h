/* pidfds (pidfd_open, CLONE_PIDFD, pidfd_send_signal, waitid P_PIDFD). */
#ifndef MOAT_KERNEL_TASK_PIDFD_H
#define MOAT_KERNEL_TASK_PIDFD_H

struct file;
struct thread_group;

/* A new pidfd file for TG (borrowed; the file takes a reference). FLAGS:
 * O_NONBLOCK. 0 or -errno. */
int pidfd_create(struct thread_group *tg, int flags, struct file **out);
/* The process F names, with a new reference, or NULL if F is no pidfd. */
struct thread_group *pidfd_tg(struct file *f);

#endif
