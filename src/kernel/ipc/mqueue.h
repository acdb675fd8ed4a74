/*
 * POSIX message queues (mqueue.c): the queues of the sandbox, their
 * descriptors, and the mqueue file system listing them.
 */
#ifndef MOAT_KERNEL_IPC_MQUEUE_H
#define MOAT_KERNEL_IPC_MQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/linux/ipc.h"
#include "abi/linux/types.h"

struct file;
struct inode;
struct task;
struct vfs_sb;

/* The mqueue file system (one per sandbox): its sb and root directory (a
 * new reference), for mount -t mqueue. 0 or -ENOMEM. */
int mqueue_root(struct vfs_sb **out_sb, struct inode **out_root);

/* mq_open(2) of NAME (the leading '/' already removed by the C library),
 * O_ flags OFLAG (access mode, O_CREAT, O_EXCL, O_NONBLOCK), MODE and ATTR
 * (NULL: defaults) for a new queue. 0 and *out (a new file), or -errno. */
int mq_open_name(struct task *t, const char *name, int oflag, uint32_t mode,
                 const struct linux_mq_attr *attr, struct file **out);
int mq_unlink_name(struct task *t, const char *name);
/* Whether F is a message queue descriptor. */
bool mq_is_file(struct file *f);
/* The message size limit of queue descriptor F, or -EBADF when F is not
 * one or not open for writing (WRITE) / reading. */
long mq_file_msgsize(struct file *f, bool write);
/* mq_timedsend: MSG (a kernel copy of LEN bytes), PRIO < 32768 (checked
 * by the caller), ABS a CLOCK_REALTIME deadline or NULL. 0 or -errno. */
long mq_send_file(struct task *t, struct file *f, const void *msg, size_t len, unsigned prio,
                  const struct linux_timespec *abs);
/* mq_timedreceive into a buffer of LEN bytes: the message size, with
 * *out_msg its data (malloc'd: the caller copies it out and frees it) and
 * *out_prio its priority; or -errno. */
long mq_receive_file(struct task *t, struct file *f, void **out_msg, size_t len,
                     unsigned *out_prio, const struct linux_timespec *abs);
/* The cookie SIGEV_THREAD registers and gets back (Linux's NOTIFY_COOKIE_LEN). */
#define MQ_COOKIE_LEN 32
/* mq_notify: EV NULL unregisters the caller's notification; else
 * registers EV (checked by the caller): SIGEV_SIGNAL, SIGEV_NONE, or
 * SIGEV_THREAD with SOCK (a netlink socket, borrowed: the queue takes its
 * own reference) and COOKIE (MQ_COOKIE_LEN bytes). */
int mq_notify_file(struct task *t, struct file *f, const struct linux_sigevent *ev,
                   struct file *sock, const uint8_t *cookie);
/* mq_getsetattr: SET (may be NULL) changes O_NONBLOCK; *out_old gets the
 * attributes before. */
int mq_getsetattr_file(struct file *f, const struct linux_mq_attr *set,
                       struct linux_mq_attr *out_old);

#endif
