/*
 * Pipes: pipe, pipe2.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "kernel/ipc/pipe.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"

static long do_pipe2(struct task *t, uint64_t addr, int flags)
{
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
        return -EINVAL;
    struct file *r, *w;
    int err = pipe_create(flags, &r, &w);
    if (err < 0)
        return err;
    int limit = (int)t->tg->rlim[RLIMIT_NOFILE].rlim_cur;
    bool cloexec = flags & O_CLOEXEC;
    int fds[2] = {-1, -1};
    fds[0] = fdtable_alloc(t->files, 0, limit, r, cloexec);
    if (fds[0] >= 0)
        fds[1] = fdtable_alloc(t->files, 0, limit, w, cloexec);
    err = fds[0] < 0 ? fds[0] : fds[1] < 0 ? fds[1] : 0;
    if (err == 0 && copy_out(t, addr, fds, sizeof(fds)) < 0)
        err = -EFAULT;
    if (err < 0) {
        if (fds[0] >= 0)
            fdtable_close(t->files, fds[0]);
        if (fds[1] >= 0)
            fdtable_close(t->files, fds[1]);
    }
    file_put(r);
    file_put(w);
    return err;
}

static long sys_pipe(struct task *t, const struct sys_args *a)
{
    return do_pipe2(t, a->arg[0], 0);
}
SYSCALL_DEFINE(pipe, sys_pipe, "p", SYS_FULL, NULL);

static long sys_pipe2(struct task *t, const struct sys_args *a)
{
    return do_pipe2(t, a->arg[0], (int)a->arg[1]);
}
SYSCALL_DEFINE(pipe2, sys_pipe2, "px", SYS_PARTIAL, "O_DIRECT (packet mode) is accepted, not honoured");
