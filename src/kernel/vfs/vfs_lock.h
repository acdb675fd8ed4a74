/*
 * Advisory file locks (src/kernel/vfs/lock.c): flock(2), POSIX record locks
 * and open-file-description locks, for the file syscalls and the fd table.
 */
#ifndef MOAT_KERNEL_VFS_VFS_LOCK_H
#define MOAT_KERNEL_VFS_VFS_LOCK_H

#include <stdint.h>

struct file;

/* struct flock as x86-64 Linux lays it out. */
struct linux_flock {
    int16_t l_type;
    int16_t l_whence;
    int64_t l_start;
    int64_t l_len;
    int32_t l_pid;
};

#define VFS_LOCK_SH 1
#define VFS_LOCK_EX 2
#define VFS_LOCK_NB 4
#define VFS_LOCK_UN 8

#define VFS_F_OFD_GETLK  36
#define VFS_F_OFD_SETLK  37
#define VFS_F_OFD_SETLKW 38

/* flock(2) on F with OP (LOCK_SH/EX/UN, | LOCK_NB). 0 or -errno
 * (-EWOULDBLOCK, -ERESTARTSYS, -EINVAL). */
int vfs_flock(struct file *f, int op);
/* fcntl record lock command CMD (F_GETLK/SETLK/SETLKW, F_OFD_*) on F for
 * OWNER (the caller's fd table) and PID (its process id, for F_GETLK);
 * FL is updated for the GETLK commands. 0 or -errno (-EAGAIN, -EDEADLK,
 * -EBADF, -EINVAL, -ERESTARTSYS). */
int vfs_posix_lock(struct file *f, const void *owner, int pid, int cmd, struct linux_flock *fl);
/* A process (fd table OWNER) closed an fd on F: drops its POSIX locks on
 * F's inode. */
void vfs_locks_close(struct file *f, const void *owner);
/* The last reference to F goes: drops its flock and OFD locks. */
void vfs_locks_release_file(struct file *f);

#endif
