/* Probe: readlink (and readlinkat). */
#include <limits.h>

#include "tap.h"

static const char *probe_name;

static void test_readlink(void)
{
    char buf[PATH_MAX];
    long n;

    memset(buf, 'x', sizeof(buf));
    n = T_OK(syscall(SYS_readlink, "/proc/self/exe", buf, sizeof(buf)), "readlink /proc/self/exe");
    if (n > 0) {
        T_EQ(buf[n], 'x', "readlink does not NUL-terminate");
        buf[n] = '\0';
        size_t len = strlen(probe_name);
        T_TRUE(buf[0] == '/', "/proc/self/exe is an absolute path");
        T_TRUE((size_t)n > len && buf[n - len - 1] == '/' && !strcmp(buf + n - len, probe_name),
                "/proc/self/exe ends with /<probe name>");
        char exe[PATH_MAX];
        memcpy(exe, buf, n + 1);
        struct stat a, b;
        T_TRUE(stat(exe, &a) == 0 && stat("/proc/self/exe", &b) == 0 && a.st_ino == b.st_ino,
                "/proc/self/exe names this program");
        memset(buf, 'x', sizeof(buf));
        T_EQ(syscall(SYS_readlink, "/proc/self/exe", buf, 4), 4, "a short buffer truncates");
        T_TRUE(memcmp(buf, exe, 4) == 0 && buf[4] == 'x', "the truncated bytes are the start");
        T_EQ(syscall(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", buf, sizeof(buf)), n,
                "readlinkat AT_FDCWD agrees");
    }

    const char *link = tap_host_symlink();
    struct stat st;
    if (T_TRUE(link != NULL && lstat(link, &st) == 0, "the host root has a symlink (/bin, /lib, ...)")) {
        n = syscall(SYS_readlink, link, buf, sizeof(buf));
        T_EQ(n, st.st_size, "readlink of a host symlink: lstat's size");
        int root = open("/", O_RDONLY | O_DIRECTORY);
        T_EQ(syscall(SYS_readlinkat, root, link + 1, buf, sizeof(buf)), n, "readlinkat relative to /");
        close(root);
        char with_slash[64];
        snprintf(with_slash, sizeof(with_slash), "%s/", link);
        T_ERRNO(syscall(SYS_readlink, with_slash, buf, sizeof(buf)), EINVAL,
                "readlink of link/ (the directory): EINVAL");
    }

    tap_write_file("file", "data");
    mkdir("dir", 0755);
    T_ERRNO(syscall(SYS_readlink, "file", buf, sizeof(buf)), EINVAL, "readlink of a regular file: EINVAL");
    T_ERRNO(syscall(SYS_readlink, "dir", buf, sizeof(buf)), EINVAL, "readlink of a directory: EINVAL");
    T_ERRNO(syscall(SYS_readlink, "missing", buf, sizeof(buf)), ENOENT, "readlink of a missing file: ENOENT");
    T_ERRNO(syscall(SYS_readlink, "file/x", buf, sizeof(buf)), ENOTDIR, "readlink under a file: ENOTDIR");
    T_ERRNO(syscall(SYS_readlink, "/proc/self/exe", buf, 0), EINVAL, "bufsiz 0: EINVAL");
    T_ERRNO(syscall(SYS_readlink, "/proc/self/exe", buf, -1), EINVAL, "bufsiz -1: EINVAL");
    T_ERRNO(syscall(SYS_readlink, "/proc/self/exe", BAD_PTR, sizeof(buf)), EFAULT, "a bad buffer: EFAULT");
    T_ERRNO(syscall(SYS_readlink, BAD_PTR, buf, sizeof(buf)), EFAULT, "a bad path: EFAULT");
    T_ERRNO(syscall(SYS_readlink, "", buf, sizeof(buf)), ENOENT, "an empty path: ENOENT");
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *slash = strrchr(argv[0], '/');
    probe_name = slash ? slash + 1 : argv[0];
    tap_init("readlink");
    test_readlink();
    return tap_done();
}
