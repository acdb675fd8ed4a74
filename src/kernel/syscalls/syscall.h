/*
 * The syscall table. Each sys_<family>.c defines its handlers and registers
 * them with SYSCALL_DEFINE; dispatch.c builds the table from the
 * registrations at start-up. A number nobody registered returns -ENOSYS and
 * is logged once.
 */
#ifndef MOAT_KERNEL_SYSCALLS_SYSCALL_H
#define MOAT_KERNEL_SYSCALLS_SYSCALL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/linux/errno.h"
#include "abi/linux/syscall_nr.h"
#include "abi/linux/types.h"
#include "kernel/mm/mm.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"

struct sys_args {
    uint64_t nr;
    uint64_t arg[6];
};

typedef long sys_handler_t(struct task *t, const struct sys_args *a);

enum sys_status {
    SYS_FULL,    /* implemented as Linux documents it */
    SYS_PARTIAL, /* implemented; note says what differs */
    SYS_STATUS_MAX,
};

/*
 * ARGFMT has one letter per argument, for --strace:
 *   d signed decimal   u unsigned   x hex   p pointer   f fd (AT_FDCWD aware)
 *   s path (string in app memory)   o octal (modes)
 *   b buffer in (length in the next argument)   B buffer out (length = result)
 */
struct syscall_def {
    int nr;
    sys_handler_t *fn;
    const char *name;
    const char *argfmt;
    enum sys_status status;
    const char *note;
};

#define SYSCALL_DEFINE(name_, fn_, argfmt_, status_, note_)                            \
    static const struct syscall_def sysdef_##name_                                     \
            __attribute__((used, section("moat_syscalls"), aligned(8))) = {           \
                    LINUX_SYS_##name_, fn_, #name_, argfmt_, status_, note_}

/* Builds the table. Called once before any task runs. */
void syscall_table_init(void);
/* Handles the syscall in t->regs and writes the result to t->regs.rax. */
void syscall_dispatch(struct task *t);
/* The registration for NR, or NULL. */
const struct syscall_def *syscall_lookup(int nr);
/* Prints the table as a Markdown compatibility table (docs/compatibility.md). */
void syscall_print_table(int fd);

/* Copy helpers on the calling task's address space. 0 or -EFAULT. */
static inline int copy_in(struct task *t, void *dst, uint64_t src, size_t n)
{
    return mm_copy_in(t->mm, dst, src, n);
}
static inline int copy_out(struct task *t, uint64_t dst, const void *src, size_t n)
{
    return mm_copy_out(t->mm, dst, src, n);
}
/* The sigmask argument of ppoll, pselect6 and epoll_pwait: if MASK_ADDR is
 * set, blocks that set for the rest of the syscall. 0, -EINVAL (SIZE is not
 * 8) or -EFAULT. */
static inline int copy_in_temporary_sigmask(struct task *t, uint64_t mask_addr, uint64_t size)
{
    if (!mask_addr)
        return 0;
    if (size != 8)
        return -EINVAL;
    uint64_t set;
    if (mm_copy_in(t->mm, &set, mask_addr, sizeof(set)) < 0)
        return -EFAULT;
    signal_set_temporary_mask(t, set);
    return 0;
}

/* Copies a path argument into BUF (LINUX_PATH_MAX bytes). 0, -EFAULT,
 * -ENAMETOOLONG, or -ENOENT for an empty path (unless the caller allows it). */
static inline int copy_path_in(struct task *t, char *buf, uint64_t src)
{
    long n = mm_strncpy_in(t->mm, buf, src, LINUX_PATH_MAX);
    if (n < 0)
        return (int)n;
    return 0;
}

#endif
