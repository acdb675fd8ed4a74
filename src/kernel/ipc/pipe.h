/* Pipes (pipe(2), pipe2(2)). */
#ifndef MOAT_KERNEL_IPC_PIPE_H
#define MOAT_KERNEL_IPC_PIPE_H

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

#endif
