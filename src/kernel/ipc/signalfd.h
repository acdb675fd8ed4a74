/* signalfd(2) files. */
#ifndef MOAT_KERNEL_IPC_SIGNALFD_H
#define MOAT_KERNEL_IPC_SIGNALFD_H

#include <stdbool.h>
#include <stdint.h>

struct file;

/* A new signalfd (count 1 in *OUT) for the signals in MASK (bit signo-1;
 * SIGKILL and SIGSTOP are dropped); FLAGS: O_NONBLOCK. 0 or -ENOMEM. */
int signalfd_create_file(uint64_t mask, unsigned flags, struct file **out);
bool signalfd_is_signalfd(struct file *f);
/* Replaces the mask of an existing signalfd. */
void signalfd_set_mask(struct file *f, uint64_t mask);

#endif
