/* --strace: one line per syscall with decoded arguments and the result. */
#ifndef MOAT_KERNEL_SYSCALLS_STRACE_H
#define MOAT_KERNEL_SYSCALLS_STRACE_H

#include "kernel/syscalls/syscall.h"

void strace_enter(struct task *t, const struct syscall_def *d, const struct sys_args *a);
void strace_exit(struct task *t, const struct syscall_def *d, const struct sys_args *a, long r);
/* The Linux name of syscall NR, or NULL. */
const char *syscall_name(uint64_t nr);

#endif
