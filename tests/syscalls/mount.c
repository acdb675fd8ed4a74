/* Probe: mount (tmpfs, proc, bind), umount2, chroot; as root in fresh
 * namespaces natively (--host-state), as the sandbox's root in moat. */
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "tap.h"

#define TMPFS_MAGIC 0x01021994

static int run_child(int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn());
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int child_chroot(void)
{
    if (syscall(SYS_chroot, "r") != 0)
        return 1;
    if (chdir("/") != 0)
        return 2;
    struct stat st;
    if (stat("/inside", &st) != 0)
        return 3;
    if (stat("/../../inside", &st) != 0)
        return 4; /* ".." stops at the new root */
    if (access("/r", F_OK) == 0)
        return 5;
    return 0;
}

static int child_unprivileged(void)
{
    /* Paths the user can reach (the probe's directory is 0700). */
    if (chdir("/") != 0 || setuid(1000) != 0)
        return 1;
    if (mount("none", "/tmp", "tmpfs", 0, NULL) != -1 || errno != EPERM)
        return 2;
    if (syscall(SYS_chroot, "/") != -1 || errno != EPERM)
        return 3;
    if (umount2("/proc", 0) != -1 || errno != EPERM)
        return 4;
    return 0;
}

int main(void)
{
    struct stat st, dot;
    struct statfs sf;
    tap_init("mount");
    T_OK(mkdir("m", 0755), "mkdir m");
    T_OK(mount("none", "m", "tmpfs", 0, "mode=0700"), "mount tmpfs");
    T_OK(stat("m", &st), "stat the mount");
    T_EQ(st.st_mode & 07777, 0700, "mode= applied to the root");
    stat(".", &dot);
    T_NE(st.st_dev, dot.st_dev, "a new device");
    T_OK(statfs("m", &sf), "statfs");
    T_EQ(sf.f_type, TMPFS_MAGIC, "tmpfs magic");
    close(T_OK(open("m/f", O_CREAT | O_WRONLY, 0644), "create a file in it"));
    T_OK(umount2("m", 0), "umount2");
    T_ERRNO(stat("m/f", &st), ENOENT, "the file went with the mount");
    T_ERRNO(umount2("m", 0), EINVAL, "umount2 of a non-mount: EINVAL");
    T_ERRNO(umount2("m", 0x100), EINVAL, "umount2 bad flags: EINVAL");
    T_ERRNO(umount2("nope", 0), ENOENT, "umount2 missing: ENOENT");

    T_OK(mkdir("src", 0755), "mkdir src");
    close(open("src/f", O_CREAT | O_WRONLY, 0644));
    T_OK(mkdir("b", 0755), "mkdir b");
    T_OK(mount("src", "b", NULL, MS_BIND, NULL), "bind mount");
    T_OK(stat("b/f", &st), "the source's file shows");
    close(T_OK(open("b/g", O_CREAT | O_WRONLY, 0644), "create through the bind"));
    T_OK(stat("src/g", &st), "visible at the source");
    T_OK(mount(NULL, "b", NULL, MS_PRIVATE, NULL), "MS_PRIVATE");
    T_OK(umount2("b", MNT_DETACH), "umount2 MNT_DETACH");
    T_ERRNO(stat("b/f", &st), ENOENT, "bind gone");

    T_OK(mkdir("p", 0755), "mkdir p");
    T_OK(mount("proc", "p", "proc", 0, NULL), "mount proc");
    T_OK(stat("p/self", &st), "p/self exists");
    T_OK(umount2("p", 0), "umount proc");

    T_ERRNO(mount("none", "m", "nosuchfs", 0, NULL), ENODEV, "unknown type: ENODEV");
    T_ERRNO(mount("none", "missing", "tmpfs", 0, NULL), ENOENT, "missing target: ENOENT");

    T_OK(mkdir("r", 0755), "mkdir r");
    close(open("r/inside", O_CREAT | O_WRONLY, 0644));
    T_EQ(run_child(child_chroot), 0, "chroot confines the child");
    T_EQ(run_child(child_unprivileged), 0, "non-root: EPERM for mount, chroot, umount");
    T_OK(stat("r/inside", &st), "the parent's root unchanged");
    return tap_done();
}
