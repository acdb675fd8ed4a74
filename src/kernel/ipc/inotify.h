/*
 * inotify instances (see inotify.c); the syscalls are in sys_inotify.c and
 * the events come from the VFS through kernel/vfs/notify.h.
 */
#ifndef MOAT_KERNEL_IPC_INOTIFY_H
#define MOAT_KERNEL_IPC_INOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct file;
struct inode;

/* A new instance owned by EUID (FLAGS: O_NONBLOCK): *OUT count 1.
 * 0, -EMFILE (max_user_instances) or -ENOMEM. */
int inotify_create(uint32_t euid, unsigned flags, struct file **out);
bool inotify_is_file(struct file *f);
/* Watches INODE (borrowed) with MASK (IN_* events and IN_ONESHOT,
 * IN_EXCL_UNLINK, IN_MASK_ADD, IN_MASK_CREATE): the watch descriptor, or
 * -EEXIST (IN_MASK_CREATE on a watched file), -ENOSPC (max_user_watches). */
int inotify_add(struct file *f, struct inode *inode, uint32_t mask);
/* Removes watch WD (queues IN_IGNORED): 0 or -EINVAL. */
int inotify_rm(struct file *f, int wd);

#endif
