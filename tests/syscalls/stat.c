/* Probe: fstat, newfstatat, stat, lstat, statx. */
#include <limits.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "tap.h"

static void test_stat(void)
{
    struct stat st, st2;
    long t0 = time(NULL);

    syscall(SYS_umask, 0);
    int fd = open("f", O_RDWR | O_CREAT | O_EXCL, 0640);
    T_EQ(write(fd, "12345", 5), 5, "create a 5-byte file");

    T_OK(syscall(SYS_stat, "f", &st), "stat a file");
    T_TRUE(S_ISREG(st.st_mode), "stat: regular file");
    T_EQ(st.st_mode & 07777, 0640, "stat: permission bits");
    T_EQ(st.st_size, 5, "stat: size");
    T_EQ(st.st_nlink, 1, "stat: one link");
    T_EQ(st.st_uid, geteuid(), "stat: owned by the euid");
    T_EQ(st.st_gid, getegid(), "stat: group is the egid");
    T_TRUE(st.st_ino != 0, "stat: inode number set");
    T_TRUE(st.st_blksize > 0, "stat: st_blksize > 0");
    T_TRUE(st.st_mtime >= t0 - 2 && st.st_mtime <= time(NULL) + 2, "stat: mtime is now");
    T_TRUE(st.st_ctime >= t0 - 2 && st.st_ctime <= time(NULL) + 2, "stat: ctime is now");

    T_OK(syscall(SYS_fstat, fd, &st2), "fstat the open file");
    T_TRUE(st2.st_ino == st.st_ino && st2.st_dev == st.st_dev, "fstat: same inode as stat");
    T_EQ(st2.st_size, 5, "fstat: size");
    T_EQ(write(fd, "678", 3), 3, "write 3 more bytes");
    T_OK(syscall(SYS_fstat, fd, &st2), "fstat again");
    T_EQ(st2.st_size, 8, "fstat sees the new size");
    T_OK(syscall(SYS_lstat, "f", &st2), "lstat a regular file");
    T_TRUE(st2.st_ino == st.st_ino && S_ISREG(st2.st_mode), "lstat of a non-link is stat");

    T_OK(syscall(SYS_stat, ".", &st), "stat a directory");
    T_TRUE(S_ISDIR(st.st_mode), "stat: directory");
    T_EQ(st.st_mode & 07777, 0700, "stat: mkdtemp dir is 0700");
    T_OK(syscall(SYS_stat, "/", &st), "stat /");
    T_TRUE(S_ISDIR(st.st_mode), "/ is a directory");
    T_OK(syscall(SYS_stat, "/bin/busybox", &st), "stat a host file");
    T_TRUE(S_ISREG(st.st_mode) && (st.st_mode & 0111) && st.st_size > 4096, "host file: executable, sized");

    T_ERRNO(syscall(SYS_stat, "missing", &st), ENOENT, "stat a missing file: ENOENT");
    T_ERRNO(syscall(SYS_stat, "f/x", &st), ENOTDIR, "stat under a file: ENOTDIR");
    T_ERRNO(syscall(SYS_stat, "", &st), ENOENT, "stat of an empty path: ENOENT");
    T_ERRNO(syscall(SYS_stat, BAD_PTR, &st), EFAULT, "stat of a bad path pointer: EFAULT");
    T_ERRNO(syscall(SYS_stat, "f", BAD_PTR), EFAULT, "stat into a bad buffer: EFAULT");
    T_ERRNO(syscall(SYS_lstat, "f", BAD_PTR), EFAULT, "lstat into a bad buffer: EFAULT");
    T_ERRNO(syscall(SYS_fstat, fd, BAD_PTR), EFAULT, "fstat into a bad buffer: EFAULT");
    char name[NAME_MAX + 2];
    tap_name_of_len(name, NAME_MAX + 1);
    T_ERRNO(syscall(SYS_stat, name, &st), ENAMETOOLONG, "stat a 256-byte name: ENAMETOOLONG");
    T_ERRNO(syscall(SYS_lstat, "missing", &st), ENOENT, "lstat a missing file: ENOENT");
    close(fd);
    T_ERRNO(syscall(SYS_fstat, fd, &st), EBADF, "fstat a closed fd: EBADF");
    T_ERRNO(syscall(SYS_fstat, -1, &st), EBADF, "fstat fd -1: EBADF");

    const char *link = tap_host_symlink();
    if (T_TRUE(link != NULL, "the host root has a symlink (/bin, /lib, ...)")) {
        T_OK(syscall(SYS_lstat, link, &st), "lstat a symlink");
        T_TRUE(S_ISLNK(st.st_mode), "lstat: the link itself");
        T_TRUE(st.st_size > 0, "lstat: size is the target's length");
        T_OK(syscall(SYS_stat, link, &st2), "stat through the symlink");
        T_TRUE(S_ISDIR(st2.st_mode), "stat follows the link to its directory");
    }
}

static void test_fstatat(void)
{
    struct stat st, ref;

    syscall(SYS_stat, "f", &ref);
    mkdir("d", 0755);
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    close(openat(dfd, "g", O_WRONLY | O_CREAT, 0600));
    int ffd = open("f", O_RDONLY);

    T_OK(syscall(SYS_newfstatat, AT_FDCWD, "f", &st, 0), "newfstatat AT_FDCWD");
    T_TRUE(st.st_ino == ref.st_ino, "newfstatat AT_FDCWD: same inode");
    T_OK(syscall(SYS_newfstatat, dfd, "g", &st, 0), "newfstatat relative to a dirfd");
    T_TRUE(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600, "newfstatat finds the file in the dir");
    T_OK(syscall(SYS_newfstatat, dfd, "../f", &st, 0), "newfstatat with .. from a dirfd");
    T_TRUE(st.st_ino == ref.st_ino, "newfstatat ..: same inode");
    T_OK(syscall(SYS_newfstatat, ffd, "", &st, AT_EMPTY_PATH), "newfstatat AT_EMPTY_PATH on a file fd");
    T_TRUE(st.st_ino == ref.st_ino && st.st_size == ref.st_size, "AT_EMPTY_PATH stats the fd");
    T_OK(syscall(SYS_newfstatat, AT_FDCWD, "", &st, AT_EMPTY_PATH), "AT_EMPTY_PATH with AT_FDCWD");
    T_TRUE(S_ISDIR(st.st_mode), "AT_EMPTY_PATH with AT_FDCWD stats the cwd");
    T_ERRNO(syscall(SYS_newfstatat, ffd, "", &st, 0), ENOENT, "empty path without AT_EMPTY_PATH: ENOENT");
    T_OK(syscall(SYS_newfstatat, 9999, "/", &st, 0), "an absolute path ignores the dirfd");
    T_ERRNO(syscall(SYS_newfstatat, 9999, "f", &st, 0), EBADF, "a relative path with a closed dirfd: EBADF");
    T_ERRNO(syscall(SYS_newfstatat, ffd, "x", &st, 0), ENOTDIR, "a relative path with a file dirfd: ENOTDIR");
    T_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, "f", &st, 0x1), EINVAL, "unknown flags: EINVAL");
    T_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, "f", BAD_PTR, 0), EFAULT, "bad buffer: EFAULT");
    T_ERRNO(syscall(SYS_newfstatat, dfd, "missing", &st, 0), ENOENT, "a missing name: ENOENT");

    const char *link = tap_host_symlink();
    if (link) {
        T_OK(syscall(SYS_newfstatat, AT_FDCWD, link, &st, AT_SYMLINK_NOFOLLOW), "AT_SYMLINK_NOFOLLOW");
        T_TRUE(S_ISLNK(st.st_mode), "AT_SYMLINK_NOFOLLOW stats the link");
        T_OK(syscall(SYS_newfstatat, AT_FDCWD, link, &st, 0), "newfstatat follows links");
        T_TRUE(S_ISDIR(st.st_mode), "without AT_SYMLINK_NOFOLLOW the target is stated");
    }
    close(ffd);
    close(dfd);
}

static void test_statx(void)
{
    struct statx stx;
    struct stat ref;

    syscall(SYS_stat, "f", &ref);
    memset(&stx, 0xff, sizeof(stx));
    T_OK(syscall(SYS_statx, AT_FDCWD, "f", 0, STATX_BASIC_STATS, &stx), "statx a file");
    unsigned want = STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID | STATX_INO | STATX_SIZE;
    T_EQ(stx.stx_mask & want, want, "statx: the basic fields are returned");
    T_EQ(stx.stx_mode, ref.st_mode, "statx: mode matches stat");
    T_EQ(stx.stx_size, ref.st_size, "statx: size matches stat");
    T_EQ(stx.stx_ino, ref.st_ino, "statx: inode matches stat");
    T_EQ(stx.stx_nlink, ref.st_nlink, "statx: nlink matches stat");
    T_EQ(stx.stx_uid, ref.st_uid, "statx: uid matches stat");
    T_EQ(makedev(stx.stx_dev_major, stx.stx_dev_minor), ref.st_dev, "statx: device matches stat");
    T_EQ(stx.stx_mtime.tv_sec, ref.st_mtime, "statx: mtime matches stat");
    T_EQ(stx.stx_blksize, ref.st_blksize, "statx: blksize matches stat");

    int fd = open("f", O_RDONLY);
    T_OK(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), "statx AT_EMPTY_PATH");
    T_EQ(stx.stx_ino, ref.st_ino, "statx AT_EMPTY_PATH stats the fd");
    T_OK(syscall(SYS_statx, AT_FDCWD, "d", 0, STATX_TYPE, &stx), "statx a dir");
    T_TRUE(S_ISDIR(stx.stx_mode), "statx: directory");

    const char *link = tap_host_symlink();
    if (link) {
        T_OK(syscall(SYS_statx, AT_FDCWD, link, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx),
                "statx AT_SYMLINK_NOFOLLOW");
        T_TRUE(S_ISLNK(stx.stx_mode), "statx AT_SYMLINK_NOFOLLOW stats the link");
    }

    T_ERRNO(syscall(SYS_statx, AT_FDCWD, "f", 0x80000000, STATX_BASIC_STATS, &stx), EINVAL,
            "statx with unknown flags: EINVAL");
    T_ERRNO(syscall(SYS_statx, AT_FDCWD, "f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC,
                    STATX_BASIC_STATS, &stx),
            EINVAL, "statx FORCE_SYNC|DONT_SYNC: EINVAL");
    T_ERRNO(syscall(SYS_statx, AT_FDCWD, "f", 0, STATX__RESERVED, &stx), EINVAL,
            "statx with the reserved mask bit: EINVAL");
    T_ERRNO(syscall(SYS_statx, AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &stx), ENOENT,
            "statx a missing file: ENOENT");
    T_ERRNO(syscall(SYS_statx, AT_FDCWD, "f", 0, STATX_BASIC_STATS, BAD_PTR), EFAULT,
            "statx into a bad buffer: EFAULT");
    T_ERRNO(syscall(SYS_statx, 9999, "f", 0, STATX_BASIC_STATS, &stx), EBADF,
            "statx with a closed dirfd: EBADF");
    close(fd);
}

int main(void)
{
    tap_init("stat");
    test_stat();
    test_fstatat();
    test_statx();
    return tap_done();
}
