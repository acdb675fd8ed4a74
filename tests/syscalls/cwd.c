/* Probe: getcwd, chdir. */
#include <limits.h>

#include "tap.h"

static long sys_getcwd(char *buf, size_t size)
{
    return syscall(SYS_getcwd, buf, size);
}

static void test_cwd(void)
{
    char buf[PATH_MAX], want[PATH_MAX];
    long n;

    n = T_OK(sys_getcwd(buf, sizeof(buf)), "getcwd");
    T_STREQ(buf, tap_dir, "getcwd is the temp dir the probe entered");
    T_EQ(n, strlen(tap_dir) + 1, "getcwd returns the length with the NUL");
    T_ERRNO(sys_getcwd(buf, strlen(tap_dir)), ERANGE, "a buffer one byte short: ERANGE");
    T_EQ(sys_getcwd(buf, strlen(tap_dir) + 1), n, "a buffer of the exact size");
    T_ERRNO(sys_getcwd(buf, 0), ERANGE, "a zero-sized buffer: ERANGE");
    T_ERRNO(sys_getcwd(BAD_PTR, sizeof(buf)), EFAULT, "a bad buffer: EFAULT");

    T_OK(mkdir("sub", 0755), "mkdir sub");
    T_OK(mkdir("sub/deeper", 0755), "mkdir sub/deeper");
    T_OK(syscall(SYS_chdir, "sub/deeper"), "chdir sub/deeper");
    sys_getcwd(buf, sizeof(buf));
    snprintf(want, sizeof(want), "%s/sub/deeper", tap_dir);
    T_STREQ(buf, want, "getcwd follows a relative chdir");
    T_OK(syscall(SYS_chdir, ".."), "chdir ..");
    sys_getcwd(buf, sizeof(buf));
    snprintf(want, sizeof(want), "%s/sub", tap_dir);
    T_STREQ(buf, want, "getcwd after chdir ..");
    T_OK(syscall(SYS_chdir, "./deeper/../../sub/./deeper//"), "chdir through . .. and //");
    sys_getcwd(buf, sizeof(buf));
    snprintf(want, sizeof(want), "%s/sub/deeper", tap_dir);
    T_STREQ(buf, want, "getcwd is canonical");
    T_EQ(tap_write_file("here", "x"), 0, "create a file relative to the new cwd");
    T_OK(syscall(SYS_faccessat, AT_FDCWD, want, F_OK), "the new cwd exists");
    snprintf(want, sizeof(want), "%s/sub/deeper/here", tap_dir);
    T_OK(syscall(SYS_faccessat, AT_FDCWD, want, F_OK), "relative paths resolve from the new cwd");

    T_OK(syscall(SYS_chdir, "/"), "chdir /");
    sys_getcwd(buf, sizeof(buf));
    T_STREQ(buf, "/", "getcwd is /");
    T_OK(syscall(SYS_chdir, ".."), "chdir .. at /");
    sys_getcwd(buf, sizeof(buf));
    T_STREQ(buf, "/", ".. of / is /");
    T_OK(syscall(SYS_chdir, "/tmp/"), "chdir /tmp/");
    sys_getcwd(buf, sizeof(buf));
    T_STREQ(buf, "/tmp", "getcwd drops the trailing slash");

    T_OK(syscall(SYS_chdir, tap_dir), "chdir back to the temp dir");
    T_ERRNO(syscall(SYS_chdir, "missing"), ENOENT, "chdir to a missing dir: ENOENT");
    T_ERRNO(syscall(SYS_chdir, "sub/deeper/here"), ENOTDIR, "chdir to a file: ENOTDIR");
    T_ERRNO(syscall(SYS_chdir, "sub/deeper/here/x"), ENOTDIR, "chdir under a file: ENOTDIR");
    T_ERRNO(syscall(SYS_chdir, ""), ENOENT, "chdir to an empty path: ENOENT");
    T_ERRNO(syscall(SYS_chdir, BAD_PTR), EFAULT, "chdir to a bad pointer: EFAULT");
    char name[NAME_MAX + 2];
    tap_name_of_len(name, NAME_MAX + 1);
    T_ERRNO(syscall(SYS_chdir, name), ENAMETOOLONG, "chdir to a 256-byte name: ENAMETOOLONG");
    sys_getcwd(buf, sizeof(buf));
    T_STREQ(buf, tap_dir, "failed chdirs leave the cwd alone");
}

int main(void)
{
    tap_init("cwd");
    test_cwd();
    return tap_done();
}
