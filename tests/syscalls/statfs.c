/* Probe: statfs, fstatfs. f_type of the file systems every sandbox mounts
 * (proc, sysfs, tmpfs on /dev), relations between the sizes, errors. */
#include <sys/statfs.h>

#include "tap.h"

#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC      0x62656572
#define TMPFS_MAGIC      0x01021994
#define ST_VALID_FLAG    0x0020

static void check_sizes(const struct statfs *s, const char *what)
{
    char name[128];
    snprintf(name, sizeof(name), "%s: bfree <= blocks, bavail <= bfree, ffree <= files", what);
    T_TRUE(s->f_bfree <= s->f_blocks && s->f_bavail <= s->f_bfree && s->f_ffree <= s->f_files,
           name);
    snprintf(name, sizeof(name), "%s: bsize > 0, namelen 255, ST_VALID", what);
    T_TRUE(s->f_bsize > 0 && s->f_namelen == 255 && (s->f_flags & ST_VALID_FLAG), name);
}

static void test_types(void)
{
    struct statfs s;
    T_OK(statfs("/proc", &s), "statfs /proc");
    T_EQ(s.f_type, PROC_SUPER_MAGIC, "/proc is proc");
    check_sizes(&s, "/proc");
    T_OK(statfs("/proc/self/status", &s), "statfs a file in /proc");
    T_EQ(s.f_type, PROC_SUPER_MAGIC, "a file in /proc is on proc");
    T_OK(statfs("/sys", &s), "statfs /sys");
    T_EQ(s.f_type, SYSFS_MAGIC, "/sys is sysfs");
    T_OK(statfs("/sys/devices/system/cpu", &s), "statfs /sys/devices/system/cpu");
    T_EQ(s.f_type, SYSFS_MAGIC, "/sys/devices/system/cpu is sysfs");
    T_OK(statfs("/dev", &s), "statfs /dev");
    T_EQ(s.f_type, TMPFS_MAGIC, "/dev is tmpfs or devtmpfs");
    check_sizes(&s, "/dev");
    T_TRUE(s.f_blocks > 0, "/dev has a size");
    T_OK(statfs("/", &s), "statfs /");
    check_sizes(&s, "/");
    T_TRUE(s.f_blocks > 0, "/ has a size");
    T_OK(statfs(".", &s), "statfs the probe's directory");
    check_sizes(&s, ".");
}

static void test_fstatfs(void)
{
    struct statfs a, b;
    int fd = open("/proc/self/status", O_RDONLY);
    T_OK(fstatfs(fd, &a), "fstatfs a proc file");
    T_EQ(a.f_type, PROC_SUPER_MAGIC, "fstatfs: proc");
    close(fd);
    fd = open("/dev/null", O_RDONLY);
    T_OK(fstatfs(fd, &a), "fstatfs /dev/null");
    statfs("/dev", &b);
    T_EQ(a.f_type, b.f_type, "fstatfs and statfs agree on /dev");
    close(fd);
    fd = open("/sys", O_PATH | O_DIRECTORY);
    T_OK(fstatfs(fd, &a), "fstatfs on an O_PATH fd");
    T_EQ(a.f_type, SYSFS_MAGIC, "fstatfs O_PATH /sys: sysfs");
    close(fd);
    fd = open("f", O_RDWR | O_CREAT, 0644);
    T_OK(fstatfs(fd, &a), "fstatfs a new file");
    T_OK(statfs("f", &b), "statfs it by name");
    T_EQ(a.f_type, b.f_type, "same file system either way");
    close(fd);
}

static void test_errors(void)
{
    struct statfs s;
    T_ERRNO(statfs("/nonexistent/x", &s), ENOENT, "statfs a missing path: ENOENT");
    T_ERRNO(statfs("", &s), ENOENT, "statfs empty path: ENOENT");
    T_ERRNO(syscall(SYS_statfs, BAD_PTR, &s), EFAULT, "statfs bad path pointer: EFAULT");
    T_ERRNO(syscall(SYS_statfs, "/proc", BAD_PTR), EFAULT, "statfs bad buffer: EFAULT");
    T_ERRNO(fstatfs(-1, &s), EBADF, "fstatfs -1: EBADF");
    T_ERRNO(fstatfs(9999, &s), EBADF, "fstatfs unused fd: EBADF");
    int fd = open("/proc", O_RDONLY);
    T_ERRNO(syscall(SYS_fstatfs, fd, BAD_PTR), EFAULT, "fstatfs bad buffer: EFAULT");
    close(fd);
    close(open("g", O_CREAT | O_WRONLY, 0644));
    T_ERRNO(statfs("g/x", &s), ENOTDIR, "statfs through a file: ENOTDIR");
}

int main(void)
{
    tap_init("statfs");
    test_types();
    test_fstatfs();
    test_errors();
    return tap_done();
}
