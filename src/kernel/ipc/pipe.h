/* Pipes (pipe(2), pipe2(2)). */
#ifndef MOAT_KERNEL_IPC_PIPE_H
#define MOAT_KERNEL_IPC_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct file;
struct inode;

/* A new pipe: its read end in *out_read, write end in *out_write (each a
 * new reference), with O_NONBLOCK and O_DIRECT from FLAGS. 0 or -errno. */
int pipe_create(int flags, struct file **out_read, struct file **out_write);

/* Opens FIFO INODE (a named pipe of any file system) as F, a new file on
 * it with its access mode and O_NONBLOCK in f->flags: sets f->ops and
 * f->priv. Every open of the same inode reaches the same pipe while one end
 * is open. Blocks (interruptibly: -ERESTARTSYS) for a writer when opened
 * read-only, for a reader when write-only, unless O_NONBLOCK; -ENXIO for
 * O_WRONLY|O_NONBLOCK without a reader. 0 or -errno (F's release is then
 * not to be called). */
int pipe_open_fifo(struct inode *inode, struct file *f);

/* For splice, tee and vmsplice (sys_splice.c). */
bool pipe_file_is_pipe(struct file *f);
/* Reads up to N bytes from pipe end F (-EBADF unless readable), waiting for
 * data unless NONBLOCK or O_NONBLOCK; PEEK copies without consuming (then
 * pipe_consume() drops what was used). Bytes (0: no writer left) or -errno. */
ssize_t pipe_splice_read(struct file *f, void *buf, size_t n, bool nonblock, bool peek);
void pipe_consume(struct file *f, size_t n);
/* pipe_write with NONBLOCK added to the file's O_NONBLOCK. */
ssize_t pipe_splice_write(struct file *f, const void *buf, size_t n, bool nonblock);
/* The pipe's capacity in bytes. */
size_t pipe_file_size(struct file *f);
/* /proc/sys/fs/pipe-max-size: the largest capacity an unprivileged
 * F_SETPIPE_SZ may ask for (Linux's default; not settable). */
#define PIPE_MAX_SIZE (1024 * 1024)
/* fcntl F_GETPIPE_SZ / F_SETPIPE_SZ on F (-EBADF unless a pipe or FIFO).
 * SET: ARG (an unsigned int, as Linux reads it) rounded up to a power of
 * two of at least a page; -EINVAL above 2^31, -EPERM when growing past
 * PIPE_MAX_SIZE unless PRIVILEGED, -EBUSY when what the pipe holds does
 * not fit. The new capacity or -errno. */
long pipe_get_size(struct file *f);
long pipe_set_size(struct file *f, unsigned arg, bool privileged);

#endif
