/*
 * inotify: inotify_init, inotify_init1, inotify_add_watch,
 * inotify_rm_watch. The instance is kernel/ipc/inotify.c, the events come
 * from the VFS hooks (kernel/vfs/notify.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "kernel/ipc/inotify.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/notify.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"

/* Linux's ALL_INOTIFY_BITS: a mask without any of them is -EINVAL. */
#define INOTIFY_ALL_BITS                                                                           \
    (FSN_ALL_EVENTS | FSN_UNMOUNT | FSN_Q_OVERFLOW | FSN_IGNORED | FSN_ONLYDIR | FSN_DONT_FOLLOW | \
     FSN_EXCL_UNLINK | FSN_MASK_ADD | FSN_MASK_CREATE | FSN_ISDIR | FSN_ONESHOT)

static long do_inotify_init(struct task *t, int flags)
{
    if (flags & ~(O_NONBLOCK | O_CLOEXEC))
        return -EINVAL;
    struct file *f;
    int r = inotify_create(t->cred.euid, (unsigned)flags & O_NONBLOCK, &f);
    if (r < 0)
        return r;
    int limit = (int)t->tg->rlim[RLIMIT_NOFILE].rlim_cur;
    int fd = fdtable_alloc(t->files, 0, limit, f, flags & O_CLOEXEC);
    file_put(f);
    return fd;
}

static long sys_inotify_init(struct task *t, const struct sys_args *a)
{
    return do_inotify_init(t, 0);
}
SYSCALL_DEFINE(inotify_init, sys_inotify_init, "", SYS_FULL, NULL);

static long sys_inotify_init1(struct task *t, const struct sys_args *a)
{
    return do_inotify_init(t, (int)a->arg[0]);
}
SYSCALL_DEFINE(inotify_init1, sys_inotify_init1, "x", SYS_FULL, NULL);

static long sys_inotify_add_watch(struct task *t, const struct sys_args *a)
{
    uint32_t mask = (uint32_t)a->arg[2];
    if (!(mask & INOTIFY_ALL_BITS))
        return -EINVAL;
    if ((mask & FSN_MASK_ADD) && (mask & FSN_MASK_CREATE))
        return -EINVAL;
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = -EINVAL;
    if (!inotify_is_file(f))
        goto out_put;
    char *path = malloc(LINUX_PATH_MAX);
    r = path ? copy_path_in(t, path, a->arg[1]) : -ENOMEM;
    struct inode *inode;
    if (r == 0)
        r = fsnotify_lookup(t, path, !(mask & FSN_DONT_FOLLOW), mask & FSN_ONLYDIR, &inode);
    free(path);
    if (r < 0)
        goto out_put;
    r = inotify_add(f, inode, mask);
    inode_put(inode);
out_put:
    file_put(f);
    return r;
}
SYSCALL_DEFINE(
        inotify_add_watch, sys_inotify_add_watch, "dsx", SYS_PARTIAL,
        "IN_UNMOUNT never sent (umount detaches lazily); host-side changes to bind mounts not reported");

static long sys_inotify_rm_watch(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = inotify_is_file(f) ? inotify_rm(f, (int)a->arg[1]) : -EINVAL;
    file_put(f);
    return r;
}
SYSCALL_DEFINE(inotify_rm_watch, sys_inotify_rm_watch, "dd", SYS_FULL, NULL);
