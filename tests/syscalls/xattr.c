/* Probe: user.* extended attributes on tmpfs (/dev/shm): set/get/list/remove, flags, sizes. */
#include <sys/xattr.h>

#include "tap.h"

int main(void)
{
    tap_init("xattr");
    char path[64];
    snprintf(path, sizeof(path), "/dev/shm/moat-xattr-%d", (int)getpid());
    int fd = T_OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644), "create in /dev/shm");
    char buf[256];
    T_ERRNO(getxattr(path, "user.a", buf, sizeof(buf)), ENODATA, "missing: ENODATA");
    T_OK(setxattr(path, "user.a", "one", 3, 0), "set user.a");
    T_EQ(getxattr(path, "user.a", buf, sizeof(buf)), 3, "get size 3");
    T_TRUE(memcmp(buf, "one", 3) == 0, "value");
    T_EQ(getxattr(path, "user.a", NULL, 0), 3, "size query");
    T_ERRNO(getxattr(path, "user.a", buf, 1), ERANGE, "small buffer: ERANGE");
    T_ERRNO(setxattr(path, "user.a", "x", 1, XATTR_CREATE), EEXIST, "XATTR_CREATE on existing");
    T_ERRNO(setxattr(path, "user.b", "x", 1, XATTR_REPLACE), ENODATA, "XATTR_REPLACE missing");
    T_OK(setxattr(path, "user.a", "two!", 4, XATTR_REPLACE), "XATTR_REPLACE");
    T_EQ(fgetxattr(fd, "user.a", buf, sizeof(buf)), 4, "fgetxattr");
    T_OK(fsetxattr(fd, "user.b", "", 0, XATTR_CREATE), "empty value");
    T_EQ(getxattr(path, "user.b", buf, sizeof(buf)), 0, "empty value reads 0");
    ssize_t n = listxattr(path, buf, sizeof(buf));
    T_EQ(n, 14, "list size");
    T_TRUE(n == 14 && (memcmp(buf, "user.a\0user.b\0", 14) == 0 ||
                       memcmp(buf, "user.b\0user.a\0", 14) == 0),
           "list names");
    T_EQ(listxattr(path, NULL, 0), 14, "list size query");
    T_ERRNO(listxattr(path, buf, 3), ERANGE, "list small buffer");
    T_OK(removexattr(path, "user.a"), "remove");
    T_ERRNO(removexattr(path, "user.a"), ENODATA, "remove again");
    T_ERRNO(setxattr(path, "bogus.a", "x", 1, 0), EOPNOTSUPP, "unknown namespace");
    T_ERRNO(setxattr(path, "", "x", 1, 0), ERANGE, "empty name");
    T_ERRNO(setxattr(path, "user.a", "x", 1, 4), EINVAL, "bad flags");
    static char big[70000];
    T_ERRNO(setxattr(path, "user.big", big, sizeof(big), 0), E2BIG, "value too big");
    T_OK(setxattr(path, "user.large", big, 65536, 0), "64 KiB value");
    T_ERRNO(getxattr("/dev/shm/moat-none", "user.a", buf, 1), ENOENT, "missing file");
    T_ERRNO(fgetxattr(-1, "user.a", buf, 1), EBADF, "bad fd");
    close(fd);
    unlink(path);
    return tap_done();
}
