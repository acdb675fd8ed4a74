/*
 * Extended attributes: getxattr, lgetxattr, fgetxattr, listxattr,
 * llistxattr, flistxattr, setxattr, lsetxattr, fsetxattr, removexattr,
 * lremovexattr, fremovexattr.
 *
 * user.*, trusted.* and security.* attributes live on tmpfs inodes (and so
 * on the overlay's upper layer: setting one copies a lower file up). Host
 * files of the read-only lower layer have none (ENODATA): host xattrs are
 * never read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"

#define XATTR_SIZE_MAX 65536

struct xattr_target {
    char *path;      /* NULL for an fd */
    struct file *f;  /* counted, or NULL */
    bool follow;
};

static void target_release(struct xattr_target *x)
{
    free(x->path);
    file_put(x->f);
}

/* MODE: 'p' path, 'l' path without following, 'f' fd. */
static long target_in(struct task *t, char mode, uint64_t arg, struct xattr_target *x)
{
    x->path = NULL;
    x->f = NULL;
    x->follow = mode == 'p';
    if (mode == 'f') {
        x->f = fdtable_get_file(t->files, (int)arg);
        return x->f ? 0 : -EBADF;
    }
    x->path = malloc(LINUX_PATH_MAX);
    if (!x->path)
        return -ENOMEM;
    long r = copy_path_in(t, x->path, arg);
    if (r == 0 && !x->path[0])
        r = -ENOENT;
    return r;
}

static long name_in(struct task *t, uint64_t uname, char *name, size_t size)
{
    long n = mm_strncpy_in(t->mm, name, uname, size);
    if (n == -ENAMETOOLONG)
        return -ERANGE;
    if (n < 0)
        return n;
    return n == 0 ? -ERANGE : 0;
}

static long do_get(struct task *t, const struct sys_args *a, char mode)
{
    char name[256];
    long r = name_in(t, a->arg[1], name, sizeof(name));
    if (r < 0)
        return r;
    struct xattr_target x;
    r = target_in(t, mode, a->arg[0], &x);
    size_t size = MIN((size_t)a->arg[3], (size_t)XATTR_SIZE_MAX);
    void *buf = NULL;
    if (r == 0 && size) {
        buf = malloc(size);
        if (!buf)
            r = -ENOMEM;
    }
    if (r == 0)
        r = vfs_getxattr(t, x.path, x.follow, x.f, name, buf, size);
    if (r > 0 && size && copy_out(t, a->arg[2], buf, (size_t)r) < 0)
        r = -EFAULT;
    free(buf);
    target_release(&x);
    return r;
}

static long do_list(struct task *t, const struct sys_args *a, char mode)
{
    struct xattr_target x;
    long r = target_in(t, mode, a->arg[0], &x);
    size_t size = MIN((size_t)a->arg[2], (size_t)XATTR_SIZE_MAX);
    char *buf = NULL;
    if (r == 0 && size) {
        buf = malloc(size);
        if (!buf)
            r = -ENOMEM;
    }
    if (r == 0)
        r = vfs_listxattr(t, x.path, x.follow, x.f, buf, size);
    if (r > 0 && size && copy_out(t, a->arg[1], buf, (size_t)r) < 0)
        r = -EFAULT;
    free(buf);
    target_release(&x);
    return r;
}

static long do_set(struct task *t, const struct sys_args *a, char mode)
{
    char name[256];
    long r = name_in(t, a->arg[1], name, sizeof(name));
    if (r < 0)
        return r;
    size_t size = (size_t)a->arg[3];
    if (size > XATTR_SIZE_MAX)
        return -E2BIG;
    struct xattr_target x;
    r = target_in(t, mode, a->arg[0], &x);
    void *buf = NULL;
    if (r == 0 && size) {
        buf = malloc(size);
        if (!buf)
            r = -ENOMEM;
        else if (copy_in(t, buf, a->arg[2], size) < 0)
            r = -EFAULT;
    }
    if (r == 0)
        r = vfs_setxattr(t, x.path, x.follow, x.f, name, buf ? buf : "", size, (int)a->arg[4]);
    free(buf);
    target_release(&x);
    return r;
}

static long do_remove(struct task *t, const struct sys_args *a, char mode)
{
    char name[256];
    long r = name_in(t, a->arg[1], name, sizeof(name));
    if (r < 0)
        return r;
    struct xattr_target x;
    r = target_in(t, mode, a->arg[0], &x);
    if (r == 0)
        r = vfs_removexattr(t, x.path, x.follow, x.f, name);
    target_release(&x);
    return r;
}

#define XATTR_NOTE "tmpfs, overlay-upper and read-write volume files; host lower files have none"

static long sys_getxattr(struct task *t, const struct sys_args *a) { return do_get(t, a, 'p'); }
SYSCALL_DEFINE(getxattr, sys_getxattr, "ssBu", SYS_PARTIAL, XATTR_NOTE);
static long sys_lgetxattr(struct task *t, const struct sys_args *a) { return do_get(t, a, 'l'); }
SYSCALL_DEFINE(lgetxattr, sys_lgetxattr, "ssBu", SYS_PARTIAL, XATTR_NOTE);
static long sys_fgetxattr(struct task *t, const struct sys_args *a) { return do_get(t, a, 'f'); }
SYSCALL_DEFINE(fgetxattr, sys_fgetxattr, "fsBu", SYS_PARTIAL, XATTR_NOTE);
static long sys_listxattr(struct task *t, const struct sys_args *a) { return do_list(t, a, 'p'); }
SYSCALL_DEFINE(listxattr, sys_listxattr, "spu", SYS_PARTIAL, XATTR_NOTE);
static long sys_llistxattr(struct task *t, const struct sys_args *a) { return do_list(t, a, 'l'); }
SYSCALL_DEFINE(llistxattr, sys_llistxattr, "spu", SYS_PARTIAL, XATTR_NOTE);
static long sys_flistxattr(struct task *t, const struct sys_args *a) { return do_list(t, a, 'f'); }
SYSCALL_DEFINE(flistxattr, sys_flistxattr, "fpu", SYS_PARTIAL, XATTR_NOTE);
static long sys_setxattr(struct task *t, const struct sys_args *a) { return do_set(t, a, 'p'); }
SYSCALL_DEFINE(setxattr, sys_setxattr, "ssbux", SYS_PARTIAL, XATTR_NOTE);
static long sys_lsetxattr(struct task *t, const struct sys_args *a) { return do_set(t, a, 'l'); }
SYSCALL_DEFINE(lsetxattr, sys_lsetxattr, "ssbux", SYS_PARTIAL, XATTR_NOTE);
static long sys_fsetxattr(struct task *t, const struct sys_args *a) { return do_set(t, a, 'f'); }
SYSCALL_DEFINE(fsetxattr, sys_fsetxattr, "fsbux", SYS_PARTIAL, XATTR_NOTE);
static long sys_removexattr(struct task *t, const struct sys_args *a)
{
    return do_remove(t, a, 'p');
}
SYSCALL_DEFINE(removexattr, sys_removexattr, "ss", SYS_PARTIAL, XATTR_NOTE);
static long sys_lremovexattr(struct task *t, const struct sys_args *a)
{
    return do_remove(t, a, 'l');
}
SYSCALL_DEFINE(lremovexattr, sys_lremovexattr, "ss", SYS_PARTIAL, XATTR_NOTE);
static long sys_fremovexattr(struct task *t, const struct sys_args *a)
{
    return do_remove(t, a, 'f');
}
SYSCALL_DEFINE(fremovexattr, sys_fremovexattr, "fs", SYS_PARTIAL, XATTR_NOTE);
