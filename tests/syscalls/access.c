/* Probe: access, faccessat. */
#include <limits.h>

#include "tap.h"

static long sys_access(const char *path, int mode)
{
    return syscall(SYS_access, path, mode);
}

static long sys_faccessat(int dirfd, const char *path, int mode)
{
    return syscall(SYS_faccessat, dirfd, path, mode);
}

static void test_access(void)
{
    int fd = open("rw", O_WRONLY | O_CREAT, 0644);
    close(fd);
    fd = open("exe", O_WRONLY | O_CREAT, 0755);
    close(fd);
    mkdir("dir", 0755);
    int root = geteuid() == 0;

    T_OK(sys_access("rw", F_OK), "F_OK on a file");
    T_OK(sys_access("rw", R_OK), "R_OK on a 0644 file");
    T_OK(sys_access("rw", R_OK | W_OK), "R_OK|W_OK on a 0644 file");
    T_ERRNO(sys_access("rw", X_OK), EACCES, "X_OK on a file without x bits: EACCES (even for root)");
    T_OK(sys_access("exe", X_OK), "X_OK on a 0755 file");
    T_OK(sys_access("dir", X_OK), "X_OK on a directory");
    T_OK(sys_access("/bin/busybox", R_OK | X_OK), "R_OK|X_OK on a host executable");
    T_OK(sys_access("/", F_OK), "F_OK on /");

    T_ERRNO(sys_access("missing", F_OK), ENOENT, "F_OK on a missing file: ENOENT");
    T_ERRNO(sys_access("missing", R_OK), ENOENT, "R_OK on a missing file: ENOENT");
    T_ERRNO(sys_access("rw/x", F_OK), ENOTDIR, "a file used as a dir: ENOTDIR");
    T_ERRNO(sys_access("rw", 8), EINVAL, "an unknown mode bit: EINVAL");
    T_ERRNO(sys_access("rw", -1), EINVAL, "mode -1: EINVAL");
    T_ERRNO(sys_access("", F_OK), ENOENT, "an empty path: ENOENT");
    T_ERRNO(sys_access(BAD_PTR, F_OK), EFAULT, "a bad path: EFAULT");
    char name[NAME_MAX + 2];
    tap_name_of_len(name, NAME_MAX + 1);
    T_ERRNO(sys_access(name, F_OK), ENAMETOOLONG, "a 256-byte name: ENAMETOOLONG");

    if (root) {
        /* root passes R_OK/W_OK whatever the mode bits (CAP_DAC_OVERRIDE). */
        fd = open("none", O_WRONLY | O_CREAT, 0);
        close(fd);
        T_OK(sys_access("none", R_OK | W_OK), "root: R_OK|W_OK on a mode-0 file");
    } else {
        tap_skip("root: R_OK|W_OK on a mode-0 file", "not root");
    }

    int dfd = open("dir", O_RDONLY | O_DIRECTORY);
    fd = open("dir/inner", O_WRONLY | O_CREAT, 0600);
    close(fd);
    T_OK(sys_faccessat(dfd, "inner", R_OK | W_OK), "faccessat relative to a dirfd");
    T_OK(sys_faccessat(AT_FDCWD, "dir/inner", F_OK), "faccessat AT_FDCWD");
    T_OK(sys_faccessat(dfd, "../rw", F_OK), "faccessat with .. from a dirfd");
    T_OK(sys_faccessat(9999, "/bin/busybox", X_OK), "an absolute path ignores the dirfd");
    T_ERRNO(sys_faccessat(dfd, "missing", F_OK), ENOENT, "faccessat of a missing name: ENOENT");
    T_ERRNO(sys_faccessat(9999, "rw", F_OK), EBADF, "a relative path with a closed dirfd: EBADF");
    int ffd = open("rw", O_RDONLY);
    T_ERRNO(sys_faccessat(ffd, "x", F_OK), ENOTDIR, "a relative path with a file dirfd: ENOTDIR");
    T_ERRNO(sys_faccessat(dfd, "inner", 0x10), EINVAL, "faccessat with an unknown mode bit: EINVAL");
    close(ffd);
    close(dfd);
}

int main(void)
{
    tap_init("access");
    test_access();
    return tap_done();
}
