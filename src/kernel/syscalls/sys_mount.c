/*
 * Mounts and roots: mount, umount2, chroot, pivot_root. The work is in
 * kernel/vfs/mount.c; these copy the arguments in.
 */
#include <errno.h>
#include <stdlib.h>

#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"

#define MOUNT_STR_MAX 256
#define MOUNT_DATA_MAX 4096

/* A NUL-terminated string of at most SIZE bytes from app address U (NULL
 * stays NULL). 0, -EFAULT or -ENAMETOOLONG. */
static long str_in(struct task *t, uint64_t u, size_t size, char **out)
{
    *out = NULL;
    if (!u)
        return 0;
    char *s = malloc(size);
    if (!s)
        return -ENOMEM;
    size_t i = 0;
    for (; i < size; i++) {
        if (copy_in(t, &s[i], u + i, 1) < 0) {
            free(s);
            return -EFAULT;
        }
        if (s[i] == '\0')
            break;
    }
    if (i == size) {
        free(s);
        return -ENAMETOOLONG;
    }
    *out = s;
    return 0;
}

static long sys_mount(struct task *t, const struct sys_args *a)
{
    char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
    long r = str_in(t, a->arg[0], LINUX_PATH_MAX, &source);
    if (r == 0)
        r = a->arg[1] ? str_in(t, a->arg[1], LINUX_PATH_MAX, &target) : -EFAULT;
    if (r == 0)
        r = str_in(t, a->arg[2], MOUNT_STR_MAX, &fstype);
    if (r == 0)
        r = str_in(t, a->arg[4], MOUNT_DATA_MAX, &data);
    if (r == 0)
        r = target[0] ? vfs_do_mount(t, source, target, fstype, a->arg[3], data) : -ENOENT;
    free(source);
    free(target);
    free(fstype);
    free(data);
    return r;
}
SYSCALL_DEFINE(mount, sys_mount, "sssxs", SYS_PARTIAL,
               "tmpfs, proc, sysfs, bind (rbind, files too), move, remount with per-mount flags "
               "inside the sandbox; propagation types recorded, nothing propagates");

static long sys_umount2(struct task *t, const struct sys_args *a)
{
    char *target;
    long r = str_in(t, a->arg[0], LINUX_PATH_MAX, &target);
    if (r == 0 && !target)
        r = -EFAULT;
    if (r < 0)
        return r;
    r = target[0] ? vfs_umount(t, target, (int)a->arg[1]) : -ENOENT;
    free(target);
    return r;
}
SYSCALL_DEFINE(umount2, sys_umount2, "sx", SYS_FULL, NULL);

static long sys_chroot(struct task *t, const struct sys_args *a)
{
    char *path = malloc(LINUX_PATH_MAX);
    if (!path)
        return -ENOMEM;
    long r = copy_path_in(t, path, a->arg[0]);
    if (r == 0)
        r = path[0] ? vfs_chroot(t, path) : -ENOENT;
    free(path);
    return r;
}
SYSCALL_DEFINE(chroot, sys_chroot, "s", SYS_FULL, NULL);

static long sys_pivot_root(struct task *t, const struct sys_args *a)
{
    char *nw = NULL, *old = NULL;
    long r = a->arg[0] ? str_in(t, a->arg[0], LINUX_PATH_MAX, &nw) : -EFAULT;
    if (r == 0)
        r = a->arg[1] ? str_in(t, a->arg[1], LINUX_PATH_MAX, &old) : -EFAULT;
    if (r == 0)
        r = nw[0] && old[0] ? vfs_pivot_root(t, nw, old) : -ENOENT;
    free(nw);
    free(old);
    return r;
}
SYSCALL_DEFINE(pivot_root, sys_pivot_root, "ss", SYS_PARTIAL,
               "only away from the sandbox's root mount");
