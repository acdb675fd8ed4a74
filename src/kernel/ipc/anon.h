/*
 * Anonymous inode files (eventfd, epoll, timerfd, signalfd): a file on a
 * fresh inode of the "anon_inode" file system, named "anon_inode:[NAME]"
 * in /proc/PID/fd.
 */
#ifndef MOAT_KERNEL_IPC_ANON_H
#define MOAT_KERNEL_IPC_ANON_H

#include <stddef.h>

struct file;
struct file_ops;

/* A new file (count 1 in *OUT) with OPS, PRIV in f->priv and O_ FLAGS
 * (access mode plus O_NONBLOCK). NAME must be static: the dname op of OPS
 * may print it with anon_dname(). 0 or -ENOMEM. OPS->release frees PRIV. */
int anon_file_new(const char *name, const struct file_ops *ops, void *priv, unsigned flags,
                  struct file **out);
/* "anon_inode:[NAME]" of a file made by anon_file_new(). */
int anon_dname(struct file *f, char *buf, size_t size);

#endif
