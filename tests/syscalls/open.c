/* Probe: openat, open, close. */
#include <limits.h>

#include "tap.h"

static long sys_open(const char *path, int flags, int mode)
{
    return syscall(SYS_open, path, flags, mode);
}

static long sys_openat(int dirfd, const char *path, int flags, int mode)
{
    return syscall(SYS_openat, dirfd, path, flags, mode);
}

static long file_mode(const char *path)
{
    struct stat st;
    if (syscall(SYS_stat, path, &st) != 0)
        return -1;
    return st.st_mode & 07777;
}

static void test_open(void)
{
    char buf[8];
    long old_umask = syscall(SYS_umask, 022);

    int fd = T_OK(sys_open("a", O_RDWR | O_CREAT | O_EXCL, 0640), "open O_CREAT|O_EXCL creates");
    T_EQ(file_mode("a"), 0640, "O_CREAT uses the mode");
    T_EQ(syscall(SYS_write, fd, "data", 4), 4, "write to the new file");
    T_OK(close(fd), "close");
    T_ERRNO(sys_open("a", O_RDWR | O_CREAT | O_EXCL, 0640), EEXIST, "O_CREAT|O_EXCL on an existing file: EEXIST");
    fd = T_OK(sys_open("a", O_RDWR | O_CREAT, 0600), "O_CREAT without O_EXCL opens an existing file");
    T_EQ(syscall(SYS_read, fd, buf, sizeof(buf)), 4, "the existing content is kept");
    close(fd);
    T_EQ(file_mode("a"), 0640, "O_CREAT of an existing file keeps its mode");

    fd = T_OK(sys_open("b", O_WRONLY | O_CREAT, 0777), "create with mode 0777");
    close(fd);
    T_EQ(file_mode("b"), 0755, "the umask (022) is applied to the mode");

    fd = T_OK(sys_open("a", O_RDWR | O_TRUNC, 0), "open O_TRUNC");
    struct stat st;
    T_OK(syscall(SYS_fstat, fd, &st), "fstat");
    T_EQ(st.st_size, 0, "O_TRUNC empties the file");
    close(fd);

    T_ERRNO(sys_open("missing", O_RDONLY, 0), ENOENT, "open a missing file: ENOENT");
    T_ERRNO(sys_open("nodir/x", O_RDWR | O_CREAT, 0644), ENOENT, "O_CREAT in a missing dir: ENOENT");
    T_ERRNO(sys_open("a/x", O_RDONLY, 0), ENOTDIR, "a file used as a directory: ENOTDIR");
    T_ERRNO(sys_open("a/", O_RDONLY, 0), ENOTDIR, "a file with a trailing slash: ENOTDIR");
    T_ERRNO(sys_open("a", O_RDONLY | O_DIRECTORY, 0), ENOTDIR, "O_DIRECTORY on a file: ENOTDIR");
    T_ERRNO(sys_open("", O_RDONLY, 0), ENOENT, "empty path: ENOENT");
    T_ERRNO(sys_open(BAD_PTR, O_RDONLY, 0), EFAULT, "bad path pointer: EFAULT");

    T_OK(mkdir("d", 0755), "mkdir d");
    fd = T_OK(sys_open("d", O_RDONLY, 0), "open a directory O_RDONLY");
    close(fd);
    fd = T_OK(sys_open("d/", O_RDONLY | O_DIRECTORY, 0), "open a directory with a trailing slash");
    close(fd);
    T_ERRNO(sys_open("d", O_WRONLY, 0), EISDIR, "open a directory O_WRONLY: EISDIR");
    T_ERRNO(sys_open("d", O_RDWR, 0), EISDIR, "open a directory O_RDWR: EISDIR");
    T_ERRNO(sys_open("d", O_RDONLY | O_CREAT, 0644), EISDIR, "O_CREAT on a directory: EISDIR");
    T_ERRNO(sys_open("new/", O_RDWR | O_CREAT, 0644), EISDIR, "O_CREAT of a name ending in /: EISDIR");

    char name[NAME_MAX + 2];
    tap_name_of_len(name, NAME_MAX + 1);
    T_ERRNO(sys_open(name, O_RDWR | O_CREAT, 0644), ENAMETOOLONG, "a 256-byte name: ENAMETOOLONG");
    tap_name_of_len(name, NAME_MAX);
    fd = T_OK(sys_open(name, O_RDWR | O_CREAT, 0644), "a 255-byte name is fine");
    close(fd);
    static char path[PATH_MAX + 2];
    for (int i = 0; i < PATH_MAX; i += 2)
        memcpy(path + i, "./", 2);
    path[PATH_MAX] = '\0';
    T_ERRNO(sys_open(path, O_RDONLY, 0), ENAMETOOLONG, "a path of PATH_MAX bytes: ENAMETOOLONG");
    path[PATH_MAX - 2] = '\0';
    fd = T_OK(sys_open(path, O_RDONLY, 0), "a path of PATH_MAX - 1 bytes is fine");
    close(fd);

    /* The lowest free fd is used. */
    int f1 = sys_open("a", O_RDONLY, 0), f2 = sys_open("a", O_RDONLY, 0);
    T_EQ(f2, f1 + 1, "fds are allocated in order");
    close(f1);
    int f3 = sys_open("a", O_RDONLY, 0);
    T_EQ(f3, f1, "the lowest free fd is reused");
    close(f3);
    close(f2);

    fd = T_OK(sys_open("a", O_RDONLY | O_CLOEXEC, 0), "open O_CLOEXEC");
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "O_CLOEXEC sets FD_CLOEXEC");
    close(fd);
    fd = T_OK(sys_open("a", O_RDONLY, 0), "open without O_CLOEXEC");
    T_EQ(fcntl(fd, F_GETFD), 0, "FD_CLOEXEC is clear by default");
    close(fd);

    /* Host files are visible (read-only root is the host's /). */
    fd = T_OK(sys_open("/bin/busybox", O_RDONLY, 0), "open a host file");
    T_EQ(syscall(SYS_read, fd, buf, 4), 4, "read the host file");
    T_TRUE(memcmp(buf, "\177ELF", 4) == 0, "the host file holds its content");
    close(fd);

    syscall(SYS_umask, old_umask);
}

static void test_openat(void)
{
    T_OK(mkdir("sub", 0755), "mkdir sub");
    int dfd = T_OK(sys_openat(AT_FDCWD, "sub", O_RDONLY | O_DIRECTORY, 0), "openat AT_FDCWD dir");
    int fd = T_OK(sys_openat(dfd, "in", O_RDWR | O_CREAT | O_EXCL, 0644), "openat relative to a dirfd");
    close(fd);
    T_OK(syscall(SYS_faccessat, AT_FDCWD, "sub/in", F_OK), "the file is created inside the dirfd");
    fd = T_OK(sys_openat(dfd, "../a", O_RDONLY, 0), "openat with .. from a dirfd");
    close(fd);
    fd = T_OK(sys_openat(dfd, ".", O_RDONLY | O_DIRECTORY, 0), "openat . from a dirfd");
    close(fd);
    fd = T_OK(sys_openat(-1, "/bin/busybox", O_RDONLY, 0), "an absolute path ignores a bad dirfd");
    close(fd);
    fd = T_OK(sys_openat(9999, "/", O_RDONLY, 0), "an absolute path ignores a closed dirfd");
    close(fd);
    T_ERRNO(sys_openat(9999, "in", O_RDONLY, 0), EBADF, "a relative path with a closed dirfd: EBADF");
    int ffd = sys_openat(dfd, "in", O_RDONLY, 0);
    T_ERRNO(sys_openat(ffd, "x", O_RDONLY, 0), ENOTDIR, "a relative path with a file dirfd: ENOTDIR");
    close(ffd);
    T_ERRNO(sys_openat(dfd, "missing", O_RDONLY, 0), ENOENT, "openat a missing name: ENOENT");
    close(dfd);
}

static void test_close(void)
{
    int fd = sys_open("a", O_RDONLY, 0);
    T_EQ(syscall(SYS_close, fd), 0, "close an open fd");
    T_ERRNO(syscall(SYS_close, fd), EBADF, "close it again: EBADF");
    T_ERRNO(syscall(SYS_close, -1), EBADF, "close -1: EBADF");
    T_ERRNO(syscall(SYS_close, 1 << 20), EBADF, "close a huge fd: EBADF");
    T_ERRNO(syscall(SYS_fstat, fd, &(struct stat){ 0 }), EBADF, "a closed fd is gone");
}

int main(void)
{
    tap_init("open");
    test_open();
    test_openat();
    test_close();
    return tap_done();
}
