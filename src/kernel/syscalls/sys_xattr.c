/*
 * Extended attributes: getxattr, lgetxattr, fgetxattr, listxattr,
 * llistxattr, flistxattr, setxattr, lsetxattr, fsetxattr, removexattr,
 * lremovexattr, fremovexattr.
 *
 * No file system in moat stores extended attributes yet, so each call
 * checks its file as Linux does (ENOENT, EBADF, ENOTDIR, ELOOP …) and then
 * answers as Linux does for a file system without xattr support:
 * EOPNOTSUPP. FIXME(issue 5): user.* and trusted.* attributes on tmpfs and
 * the overlay's upper layer.
 */
#include <errno.h>
#include <fcntl.h>

#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"

static long check_path(struct task *t, uint64_t upath, bool follow)
{
    char path[LINUX_PATH_MAX];
    int r = copy_path_in(t, path, upath);
    if (r < 0)
        return r;
    if (!path[0])
        return -ENOENT;
    struct linux_stat st;
    r = vfs_statat(t, AT_FDCWD, path, follow ? 0 : AT_SYMLINK_NOFOLLOW, &st);
    return r < 0 ? r : -EOPNOTSUPP;
}

static long check_fd(struct task *t, int fd)
{
    struct file *f = fdtable_get_file(t->files, fd);
    if (!f)
        return -EBADF;
    bool opath = vfs_file_is_opath(f);
    file_put(f);
    return opath ? -EBADF : -EOPNOTSUPP;
}

static long check_name(struct task *t, uint64_t uname)
{
    char name[256];
    long n = mm_strncpy_in(t->mm, name, uname, sizeof(name));
    if (n == -ENAMETOOLONG)
        return -ERANGE;
    if (n < 0)
        return n;
    return n == 0 ? -ERANGE : 0;
}

static long sys_getxattr(struct task *t, const struct sys_args *a)
{
    long r = check_name(t, a->arg[1]);
    return r < 0 ? r : check_path(t, a->arg[0], true);
}
SYSCALL_DEFINE(getxattr, sys_getxattr, "ssBu", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_lgetxattr(struct task *t, const struct sys_args *a)
{
    long r = check_name(t, a->arg[1]);
    return r < 0 ? r : check_path(t, a->arg[0], false);
}
SYSCALL_DEFINE(lgetxattr, sys_lgetxattr, "ssBu", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_fgetxattr(struct task *t, const struct sys_args *a)
{
    long r = check_name(t, a->arg[1]);
    return r < 0 ? r : check_fd(t, (int)a->arg[0]);
}
SYSCALL_DEFINE(fgetxattr, sys_fgetxattr, "fsBu", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_listxattr(struct task *t, const struct sys_args *a)
{
    return check_path(t, a->arg[0], true);
}
SYSCALL_DEFINE(listxattr, sys_listxattr, "spu", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_llistxattr(struct task *t, const struct sys_args *a)
{
    return check_path(t, a->arg[0], false);
}
SYSCALL_DEFINE(llistxattr, sys_llistxattr, "spu", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_flistxattr(struct task *t, const struct sys_args *a)
{
    return check_fd(t, (int)a->arg[0]);
}
SYSCALL_DEFINE(flistxattr, sys_flistxattr, "fpu", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_setxattr(struct task *t, const struct sys_args *a)
{
    long r = check_name(t, a->arg[1]);
    return r < 0 ? r : check_path(t, a->arg[0], true);
}
SYSCALL_DEFINE(setxattr, sys_setxattr, "ssbux", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_lsetxattr(struct task *t, const struct sys_args *a)
{
    long r = check_name(t, a->arg[1]);
    return r < 0 ? r : check_path(t, a->arg[0], false);
}
SYSCALL_DEFINE(lsetxattr, sys_lsetxattr, "ssbux", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_fsetxattr(struct task *t, const struct sys_args *a)
{
    long r = check_name(t, a->arg[1]);
    return r < 0 ? r : check_fd(t, (int)a->arg[0]);
}
SYSCALL_DEFINE(fsetxattr, sys_fsetxattr, "fsbux", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_removexattr(struct task *t, const struct sys_args *a)
{
    long r = check_name(t, a->arg[1]);
    return r < 0 ? r : check_path(t, a->arg[0], true);
}
SYSCALL_DEFINE(removexattr, sys_removexattr, "ss", SYS_PARTIAL, "no xattrs stored: EOPNOTSUPP");

static long sys_lremovexattr(struct task *t, const struct sys_args *a)
{
    long r = check_name(t, a->arg[1]);
    return r < 0 ? r : check_path(t, a->arg[0], false);
}
SYSCALL_DEFINE(lremovexattr, sys_lremovexattr, "ss", SYS_PARTIAL,
               "no xattrs stored: EOPNOTSUPP");

static long sys_fremovexattr(struct task *t, const struct sys_args *a)
{
    long r = check_name(t, a->arg[1]);
    return r < 0 ? r : check_fd(t, (int)a->arg[0]);
}
SYSCALL_DEFINE(fremovexattr, sys_fremovexattr, "fs", SYS_PARTIAL,
               "no xattrs stored: EOPNOTSUPP");
