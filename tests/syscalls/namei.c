/* Probe: umask, mkdir, unlink, rename. */
#include <limits.h>

#include "tap.h"

static long mode_of(const char *path)
{
    struct stat st;
    return syscall(SYS_lstat, path, &st) == 0 ? (long)(st.st_mode & 07777) : -1;
}

static int exists(const char *path)
{
    struct stat st;
    return syscall(SYS_lstat, path, &st) == 0;
}

static int holds(const char *path, const char *want)
{
    char buf[64];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return 0;
    buf[n] = '\0';
    return strcmp(buf, want) == 0;
}

static void test_umask(void)
{
    long orig = syscall(SYS_umask, 022);

    T_EQ(syscall(SYS_umask, 077), 022, "umask returns the previous mask");
    T_EQ(syscall(SYS_umask, 077), 077, "umask round-trips");
    close(open("f077", O_WRONLY | O_CREAT, 0666));
    T_EQ(mode_of("f077"), 0600, "umask 077: a 0666 file gets 0600");
    T_OK(syscall(SYS_mkdir, "d077", 0777), "mkdir under umask 077");
    T_EQ(mode_of("d077"), 0700, "umask 077: a 0777 dir gets 0700");
    syscall(SYS_umask, 0);
    close(open("f000", O_WRONLY | O_CREAT, 0666));
    T_EQ(mode_of("f000"), 0666, "umask 0: the mode is kept");
    T_EQ(syscall(SYS_umask, 0777 | 07000), 0, "umask with extra bits");
    T_EQ(syscall(SYS_umask, 022), 0777, "umask keeps only the 0777 bits");
    T_EQ(syscall(SYS_umask, 0xffffffff), 022, "umask with every bit set");
    T_EQ(syscall(SYS_umask, 022), 0777, "umask masks to 0777 again");
    syscall(SYS_umask, orig);
}

static void test_mkdir(void)
{
    syscall(SYS_umask, 022);
    T_OK(syscall(SYS_mkdir, "a", 0755), "mkdir a");
    struct stat st;
    T_TRUE(syscall(SYS_stat, "a", &st) == 0 && S_ISDIR(st.st_mode), "a is a directory");
    T_EQ(mode_of("a"), 0755, "mkdir uses the mode");
    T_OK(syscall(SYS_mkdir, "a/b", 0700), "mkdir a/b");
    T_EQ(mode_of("a/b"), 0700, "nested mkdir uses its mode");
    T_OK(syscall(SYS_mkdir, "a/c/", 0755), "mkdir with a trailing slash");
    T_OK(syscall(SYS_mkdir, "sticky", 01777), "mkdir with the sticky bit");
    T_EQ(mode_of("sticky"), 01755, "the sticky bit is kept, umask applied");

    T_ERRNO(syscall(SYS_mkdir, "a", 0755), EEXIST, "mkdir an existing dir: EEXIST");
    tap_write_file("file", "x");
    T_ERRNO(syscall(SYS_mkdir, "file", 0755), EEXIST, "mkdir over a file: EEXIST");
    T_ERRNO(syscall(SYS_mkdir, "missing/x", 0755), ENOENT, "mkdir with a missing parent: ENOENT");
    T_ERRNO(syscall(SYS_mkdir, "file/x", 0755), ENOTDIR, "mkdir under a file: ENOTDIR");
    T_ERRNO(syscall(SYS_mkdir, "", 0755), ENOENT, "mkdir of an empty path: ENOENT");
    T_ERRNO(syscall(SYS_mkdir, BAD_PTR, 0755), EFAULT, "mkdir of a bad pointer: EFAULT");
    T_ERRNO(syscall(SYS_mkdir, "/", 0755), EEXIST, "mkdir /: EEXIST");
    T_ERRNO(syscall(SYS_mkdir, ".", 0755), EEXIST, "mkdir .: EEXIST");
    char name[NAME_MAX + 2];
    tap_name_of_len(name, NAME_MAX + 1);
    T_ERRNO(syscall(SYS_mkdir, name, 0755), ENAMETOOLONG, "mkdir of a 256-byte name: ENAMETOOLONG");
    tap_name_of_len(name, NAME_MAX);
    T_OK(syscall(SYS_mkdir, name, 0755), "mkdir of a 255-byte name");
}

static void test_unlink(void)
{
    tap_write_file("gone", "x");
    T_OK(syscall(SYS_unlink, "gone"), "unlink a file");
    T_TRUE(!exists("gone"), "the file is gone");
    T_ERRNO(syscall(SYS_unlink, "gone"), ENOENT, "unlink it again: ENOENT");
    T_ERRNO(syscall(SYS_unlink, "a"), EISDIR, "unlink a directory: EISDIR");
    T_TRUE(exists("a"), "the directory is still there");
    T_ERRNO(syscall(SYS_unlink, "missing/x"), ENOENT, "unlink under a missing dir: ENOENT");
    T_ERRNO(syscall(SYS_unlink, "file/x"), ENOTDIR, "unlink under a file: ENOTDIR");
    T_ERRNO(syscall(SYS_unlink, "file/"), ENOTDIR, "unlink a file with a trailing slash: ENOTDIR");
    T_ERRNO(syscall(SYS_unlink, ""), ENOENT, "unlink an empty path: ENOENT");
    T_ERRNO(syscall(SYS_unlink, BAD_PTR), EFAULT, "unlink a bad pointer: EFAULT");

    /* An open file outlives its name. */
    int fd = open("open-then-unlinked", O_RDWR | O_CREAT, 0644);
    write(fd, "still here", 10);
    T_OK(syscall(SYS_unlink, "open-then-unlinked"), "unlink an open file");
    T_TRUE(!exists("open-then-unlinked"), "its name is gone");
    char buf[16] = { 0 };
    T_EQ(pread(fd, buf, sizeof(buf), 0), 10, "the open fd still reads");
    T_STREQ(buf, "still here", "with the old content");
    struct stat st;
    fstat(fd, &st);
    T_EQ(st.st_nlink, 0, "fstat shows no links");
    close(fd);

    /* A name created on the upper layer over a host file is not the host file. */
    T_ERRNO(syscall(SYS_unlink, "/nonexistent-moat-probe-file"), ENOENT, "unlink a missing name in /: ENOENT");
}

static void test_rename(void)
{
    tap_write_file("src", "new");
    tap_write_file("dst", "old");
    T_OK(syscall(SYS_rename, "src", "dst"), "rename over an existing file");
    T_TRUE(!exists("src"), "the source name is gone");
    T_TRUE(holds("dst", "new"), "the target holds the source's content");

    T_OK(syscall(SYS_rename, "dst", "moved"), "rename to a new name");
    T_TRUE(!exists("dst") && holds("moved", "new"), "the file moved");
    T_OK(syscall(SYS_rename, "moved", "a/b/moved"), "rename into a subdirectory");
    T_TRUE(holds("a/b/moved", "new"), "the file is in the subdirectory");
    T_OK(syscall(SYS_rename, "a/b/moved", "a/b/moved"), "rename a file onto itself");
    T_TRUE(holds("a/b/moved", "new"), "renaming onto itself changes nothing");

    T_OK(syscall(SYS_mkdir, "dir1", 0755), "mkdir dir1");
    tap_write_file("dir1/inside", "in");
    T_OK(syscall(SYS_rename, "dir1", "dir2"), "rename a directory");
    T_TRUE(!exists("dir1") && holds("dir2/inside", "in"), "the directory moved with its content");
    T_OK(syscall(SYS_mkdir, "empty", 0755), "mkdir empty");
    T_OK(syscall(SYS_rename, "dir2", "empty"), "rename a directory over an empty one");
    T_TRUE(holds("empty/inside", "in"), "the empty directory was replaced");
    T_OK(syscall(SYS_mkdir, "full", 0755), "mkdir full");
    tap_write_file("full/x", "x");
    T_ERRNO(syscall(SYS_rename, "empty", "full"), ENOTEMPTY, "rename over a non-empty directory: ENOTEMPTY");

    T_ERRNO(syscall(SYS_rename, "missing", "other"), ENOENT, "rename a missing file: ENOENT");
    T_ERRNO(syscall(SYS_rename, "file", "missing/x"), ENOENT, "rename into a missing dir: ENOENT");
    T_ERRNO(syscall(SYS_rename, "file", "empty"), EISDIR, "rename a file over a directory: EISDIR");
    T_ERRNO(syscall(SYS_rename, "empty", "file"), ENOTDIR, "rename a directory over a file: ENOTDIR");
    T_ERRNO(syscall(SYS_rename, "a", "a/b/inside-itself"), EINVAL, "rename a directory into itself: EINVAL");
    T_ERRNO(syscall(SYS_rename, "file/x", "y"), ENOTDIR, "rename from under a file: ENOTDIR");
    T_ERRNO(syscall(SYS_rename, "", "y"), ENOENT, "rename an empty path: ENOENT");
    T_ERRNO(syscall(SYS_rename, BAD_PTR, "y"), EFAULT, "rename from a bad pointer: EFAULT");
    T_ERRNO(syscall(SYS_rename, "file", BAD_PTR), EFAULT, "rename to a bad pointer: EFAULT");
    T_TRUE(holds("file", "x"), "failed renames leave the file alone");

    /* The fd of a renamed file keeps working. */
    int fd = open("file", O_RDONLY);
    syscall(SYS_rename, "file", "file-renamed");
    char buf[4] = { 0 };
    T_EQ(read(fd, buf, 3), 1, "an open fd survives a rename");
    close(fd);
}

int main(void)
{
    tap_init("namei");
    test_umask();
    test_mkdir();
    test_unlink();
    test_rename();
    return tap_done();
}
