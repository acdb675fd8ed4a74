/* eventfd(2) objects. */
#ifndef MOAT_KERNEL_IPC_EVENTFD_H
#define MOAT_KERNEL_IPC_EVENTFD_H

struct file;

#define EVENTFD_SEMAPHORE 1 /* EFD_SEMAPHORE */

/* A new eventfd file (count 1 in *OUT) with counter INITVAL; FLAGS:
 * EVENTFD_SEMAPHORE | O_NONBLOCK. 0 or -ENOMEM. */
int eventfd_create(unsigned initval, unsigned flags, struct file **out);

#endif
