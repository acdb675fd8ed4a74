/* Probe: file calls the other probes leave out: faccessat2 (flags),
 * fdatasync/fsync on files and pipes, fchdir, the l*xattr calls on a symlink
 * and a file, and the /dev/fd and /dev/std* links. */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/xattr.h>

#include "tap.h"

#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

static long faccessat2_(int dfd, const char *path, int mode, int flags)
{
    return syscall(SYS_faccessat2, dfd, path, mode, flags);
}

int main(void)
{
    tap_init("fs_misc");
    int fd = T_OK(open("f", O_CREAT | O_RDWR, 0640), "create f");
    T_EQ(write(fd, "data", 4), 4, "write");
    T_OK(symlink("f", "l"), "symlink l -> f");
    T_OK(symlink("nowhere", "dangling"), "dangling symlink");

    T_OK(faccessat2_(AT_FDCWD, "f", R_OK | W_OK, 0), "faccessat2 R_OK|W_OK");
    T_OK(faccessat2_(AT_FDCWD, "f", R_OK, AT_EACCESS), "faccessat2 AT_EACCESS");
    T_ERRNO(faccessat2_(AT_FDCWD, "f", X_OK, 0), EACCES, "faccessat2 X_OK of a 0640 file: EACCES");
    T_ERRNO(faccessat2_(AT_FDCWD, "dangling", F_OK, 0), ENOENT, "dangling link followed: ENOENT");
    T_OK(faccessat2_(AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW),
         "AT_SYMLINK_NOFOLLOW: the link itself");
    T_OK(faccessat2_(fd, "", R_OK, AT_EMPTY_PATH), "AT_EMPTY_PATH on the fd");
    T_ERRNO(faccessat2_(AT_FDCWD, "f", R_OK, 0x1), EINVAL, "unknown flag: EINVAL");
    T_ERRNO(faccessat2_(AT_FDCWD, "f", 8, 0), EINVAL, "unknown mode bit: EINVAL");

    T_OK(fdatasync(fd), "fdatasync of a file");
    T_OK(fsync(fd), "fsync of a file");
    int p[2];
    T_OK(pipe(p), "pipe");
    T_ERRNO(fdatasync(p[0]), EINVAL, "fdatasync of a pipe: EINVAL");
    T_ERRNO(fsync(p[1]), EINVAL, "fsync of a pipe: EINVAL");
    T_ERRNO(fdatasync(-1), EBADF, "fdatasync -1: EBADF");
    int sv[2];
    T_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
    T_ERRNO(fsync(sv[0]), EINVAL, "fsync of a socket: EINVAL");
    int null = T_OK(open("/dev/null", O_WRONLY), "open /dev/null");
    T_ERRNO(fdatasync(null), EINVAL, "fdatasync of /dev/null: EINVAL");
    int mfd = T_OK(memfd_create("m", 0), "memfd_create");
    T_OK(fsync(mfd), "fsync of a memfd");
    int dot = T_OK(open(".", O_RDONLY | O_DIRECTORY), "open . for reading");
    T_OK(fsync(dot), "fsync of a directory");
    int opath = T_OK(open("f", O_PATH), "O_PATH of f");
    T_ERRNO(fsync(opath), EBADF, "fsync of an O_PATH fd: EBADF");
    close(sv[0]);
    close(sv[1]);
    close(null);
    close(mfd);
    close(dot);
    close(opath);

    T_OK(mkdir("d", 0755), "mkdir d");
    int dfd = T_OK(open("d", O_RDONLY | O_DIRECTORY), "open d");
    int here = T_OK(open(".", O_PATH | O_DIRECTORY), "O_PATH of .");
    struct stat a, b;
    T_OK(fchdir(dfd), "fchdir d");
    T_OK(stat(".", &a), "stat .");
    fstat(dfd, &b);
    T_TRUE(a.st_ino == b.st_ino && a.st_dev == b.st_dev, "cwd is d");
    T_OK(fchdir(here), "fchdir to an O_PATH fd");
    T_OK(access("f", F_OK), "back in the probe dir");
    T_ERRNO(fchdir(fd), ENOTDIR, "fchdir to a file: ENOTDIR");
    T_ERRNO(fchdir(12345), EBADF, "fchdir to a closed fd: EBADF");

    char v[64];
    T_ERRNO(lsetxattr("l", "user.x", "1", 1, 0), EPERM, "lsetxattr user.* on a symlink: EPERM");
    T_ERRNO(lgetxattr("l", "user.x", v, sizeof(v)), ENODATA, "lgetxattr on the link: ENODATA");
    T_OK(lsetxattr("f", "user.x", "val", 3, 0), "lsetxattr on a file");
    T_EQ(lgetxattr("f", "user.x", v, sizeof(v)), 3, "lgetxattr reads it");
    T_ERRNO(lsetxattr("f", "user.x", "w", 1, XATTR_CREATE), EEXIST, "XATTR_CREATE again: EEXIST");
    T_EQ(getxattr("l", "user.x", v, sizeof(v)), 3, "getxattr follows the link to f");
    char list[256];
    ssize_t n = llistxattr("f", list, sizeof(list));
    int found = 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
        found += strcmp(list + i, "user.x") == 0;
    T_EQ(found, 1, "llistxattr lists user.x");
    T_ERRNO(llistxattr("f", list, 1), ERANGE, "llistxattr into 1 byte: ERANGE");
    T_OK(lremovexattr("f", "user.x"), "lremovexattr");
    T_ERRNO(lremovexattr("f", "user.x"), ENODATA, "again: ENODATA");
    T_ERRNO(lremovexattr("l", "user.x"), EPERM, "lremovexattr user.* on the link: EPERM");

    char t[64];
    ssize_t k = readlink("/dev/fd", t, sizeof(t) - 1);
    t[k > 0 ? k : 0] = '\0';
    T_STREQ(t, "/proc/self/fd", "/dev/fd -> /proc/self/fd");
    const char *std[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr"};
    for (int i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof(want), "/proc/self/fd/%d", i);
        k = readlink(std[i], t, sizeof(t) - 1);
        t[k > 0 ? k : 0] = '\0';
        T_STREQ(t, want, std[i]);
    }
    char path[64];
    snprintf(path, sizeof(path), "/dev/fd/%d", fd);
    int again = T_OK(open(path, O_RDONLY), "open /dev/fd/N");
    T_EQ(read(again, v, sizeof(v)), 4, "reads the file from its start");
    T_TRUE(memcmp(v, "data", 4) == 0, "same bytes");
    close(again);
    close(fd);
    close(dfd);
    close(here);
    return tap_done();
}
