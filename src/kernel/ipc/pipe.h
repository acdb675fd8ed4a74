/* Pipes (pipe(2), pipe2(2)). */
#ifndef MOAT_KERNEL_IPC_PIPE_H
#define MOAT_KERNEL_IPC_PIPE_H

struct file;

/* A new pipe: its read end in *out_read, write end in *out_write (each a
 * new reference), with O_NONBLOCK and O_DIRECT from FLAGS. 0 or -errno. */
int pipe_create(int flags, struct file **out_read, struct file **out_write);

#endif
