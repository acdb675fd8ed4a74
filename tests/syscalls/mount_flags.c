/* Probe: per-mount flags (MS_RDONLY and EROFS on every write path,
 * MS_NOEXEC, MS_NODEV, MS_NOSYMFOLLOW), remounts, statfs f_flags,
 * /proc/self/mounts and mountinfo, propagation flags, umount2 flags,
 * MS_MOVE, rbind, single-file binds, and finally pivot_root (the probe
 * ends in a new root). As root in fresh namespaces natively (--host-state),
 * as the sandbox's root in moat. */
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "tap.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

/* The options field of PATH's line in /proc/self/mounts (the last such
 * line), or "" if none. */
static const char *mount_opts(const char *path)
{
    static char opts[256];
    char line[1024];
    opts[0] = '\0';
    FILE *f = fopen("/proc/self/mounts", "r");
    if (!f)
        return opts;
    while (fgets(line, sizeof(line), f)) {
        char src[128], mp[256], type[64], o[256];
        if (sscanf(line, "%127s %255s %63s %255s", src, mp, type, o) == 4 && strcmp(mp, path) == 0)
            snprintf(opts, sizeof(opts), "%s", o);
    }
    fclose(f);
    return opts;
}

/* The mountinfo id of the mount at PATH (the last such line), or -1. */
static int mountinfo_id(const char *path)
{
    char line[1024];
    int found = -1;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char root[256], mp[256];
        int id, pid;
        unsigned ma, mi;
        if (sscanf(line, "%d %d %u:%u %255s %255s", &id, &pid, &ma, &mi, root, mp) == 6 &&
            strcmp(mp, path) == 0)
            found = id;
    }
    fclose(f);
    return found;
}

/* The per-mount and super options of PATH in mountinfo, as "mnt|super". */
static const char *mountinfo_opts(const char *path)
{
    static char out[512];
    char line[1024];
    out[0] = '\0';
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return out;
    while (fgets(line, sizeof(line), f)) {
        char root[256], mp[256], o[256], type[64], src[128], so[256];
        int id, pid;
        unsigned ma, mi;
        if (sscanf(line, "%d %d %u:%u %255s %255s %255s", &id, &pid, &ma, &mi, root, mp, o) != 7 ||
            strcmp(mp, path) != 0)
            continue;
        char *dash = strstr(line, " - ");
        if (dash && sscanf(dash + 3, "%63s %127s %255s", type, src, so) == 3)
            snprintf(out, sizeof(out), "%s|%s|%s", root, o, so);
    }
    fclose(f);
    return out;
}

static void abs_path(const char *rel, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", tap_dir, rel);
}

static void test_readonly(void)
{
    char p[512];
    struct stat st;
    struct statvfs sv;
    T_OK(mkdir("ro", 0755), "mkdir ro");
    T_OK(mount("none", "ro", "tmpfs", 0, "mode=0755"), "mount tmpfs");
    close(T_OK(open("ro/f", O_CREAT | O_WRONLY, 0644), "create ro/f"));
    T_OK(mkdir("ro/d", 0755), "mkdir ro/d");
    T_OK(symlink("f", "ro/l"), "symlink ro/l");
    int wfd = T_OK(open("ro/f", O_WRONLY), "open ro/f for writing");
    T_ERRNO(mount(NULL, "ro", NULL, MS_REMOUNT | MS_RDONLY, NULL), EBUSY,
            "remount ro with a file open for writing: EBUSY");
    T_ERRNO(mount(NULL, "ro", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), EBUSY,
            "bind remount ro with a writer: EBUSY");
    close(wfd);
    int rfd = T_OK(open("ro/f", O_RDONLY), "open ro/f for reading");
    T_OK(mount(NULL, "ro", NULL, MS_REMOUNT | MS_RDONLY, NULL), "remount ro");
    abs_path("ro", p, sizeof(p));
    T_STREQ(mount_opts(p), "ro,relatime,mode=755", "/proc/self/mounts: ro,relatime,mode=755");
    T_STREQ(mountinfo_opts(p), "/|ro,relatime|ro,mode=755", "mountinfo: ro mount, ro super");
    T_OK(statvfs("ro", &sv), "statvfs");
    T_EQ(sv.f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC), ST_RDONLY, "ST_RDONLY");

    T_ERRNO(open("ro/f", O_WRONLY), EROFS, "open O_WRONLY: EROFS");
    T_ERRNO(open("ro/f", O_RDWR), EROFS, "open O_RDWR: EROFS");
    T_ERRNO(open("ro/f", O_RDONLY | O_TRUNC), EROFS, "open O_TRUNC: EROFS");
    T_ERRNO(open("ro/new", O_CREAT | O_WRONLY, 0644), EROFS, "O_CREAT: EROFS");
    T_ERRNO(open("ro/f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST,
            "O_CREAT|O_EXCL existing: EEXIST");
    int fd = open("ro/f", O_CREAT | O_RDONLY, 0644);
    T_TRUE(fd >= 0, "O_CREAT|O_RDONLY of an existing file works");
    if (fd >= 0)
        close(fd);
    T_ERRNO(open("ro", O_TMPFILE | O_WRONLY, 0600), EROFS, "O_TMPFILE: EROFS");
    T_ERRNO(creat("ro/c", 0644), EROFS, "creat: EROFS");
    T_ERRNO(mkdir("ro/m", 0755), EROFS, "mkdir: EROFS");
    T_ERRNO(mkdir("ro/d", 0755), EEXIST, "mkdir existing: EEXIST first");
    T_ERRNO(mknod("ro/fifo", S_IFIFO | 0644, 0), EROFS, "mknod FIFO: EROFS");
    T_ERRNO(symlink("x", "ro/s"), EROFS, "symlink: EROFS");
    T_ERRNO(link("ro/f", "ro/h"), EROFS, "link: EROFS");
    T_ERRNO(unlink("ro/f"), EROFS, "unlink: EROFS");
    T_ERRNO(unlink("ro/missing"), EROFS, "unlink missing: EROFS before ENOENT");
    T_ERRNO(rmdir("ro/d"), EROFS, "rmdir: EROFS");
    T_ERRNO(rename("ro/f", "ro/g"), EROFS, "rename: EROFS");
    T_ERRNO(chmod("ro/f", 0600), EROFS, "chmod: EROFS");
    T_ERRNO(fchmod(rfd, 0600), EROFS, "fchmod: EROFS");
    T_ERRNO(chown("ro/f", 1, 1), EROFS, "chown: EROFS");
    T_ERRNO(lchown("ro/l", 1, 1), EROFS, "lchown: EROFS");
    T_ERRNO(fchown(rfd, 1, 1), EROFS, "fchown: EROFS");
    T_ERRNO(utimes("ro/f", NULL), EROFS, "utimes: EROFS");
    T_ERRNO(futimens(rfd, NULL), EROFS, "futimens: EROFS");
    T_ERRNO(truncate("ro/f", 0), EROFS, "truncate: EROFS");
    T_ERRNO(setxattr("ro/f", "user.a", "1", 1, 0), EROFS, "setxattr: EROFS");
    T_ERRNO(fsetxattr(rfd, "user.a", "1", 1, 0), EROFS, "fsetxattr: EROFS");
    T_ERRNO(removexattr("ro/f", "user.a"), EROFS, "removexattr: EROFS");
    T_ERRNO(access("ro/f", W_OK), EROFS, "access W_OK: EROFS");
    T_OK(access("ro/f", R_OK), "access R_OK works");
    T_OK(stat("ro/f", &st), "stat works");
    char c;
    T_EQ(read(rfd, &c, 1), 0, "reading works");
    close(rfd);

    T_OK(mount(NULL, "ro", NULL, MS_REMOUNT, NULL), "remount rw");
    close(T_OK(open("ro/f", O_WRONLY), "writable again"));
    T_STREQ(mount_opts(p), "rw,relatime,mode=755", "mounts: rw again");
    struct statx sx;
    T_OK(statx(AT_FDCWD, "ro", 0, STATX_BASIC_STATS, &sx), "statx the mount root");
    T_TRUE(sx.stx_mask & STATX_MNT_ID, "STATX_MNT_ID reported unasked");
    T_EQ((int)sx.stx_mnt_id, mountinfo_id(p), "stx_mnt_id is the mountinfo id");
    T_TRUE((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                   (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT),
           "STATX_ATTR_MOUNT_ROOT on the mount root");
    T_OK(statx(AT_FDCWD, "ro/f", 0, STATX_BASIC_STATS, &sx), "statx a file in it");
    T_EQ((int)sx.stx_mnt_id, mountinfo_id(p), "same mount id");
    T_EQ(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT, 0, "not a mount root");
    T_OK(umount2("ro", 0), "umount");
}

static void test_bind_flags(void)
{
    char p[512];
    struct statvfs sv;
    T_OK(mkdir("src", 0755), "mkdir src");
    T_OK(mount("none", "src", "tmpfs", 0, NULL), "tmpfs on src");
    close(open("src/f", O_CREAT | O_WRONLY, 0755));
    T_OK(mkdir("b", 0755), "mkdir b");
    T_OK(mount("src", "b", NULL, MS_BIND | MS_RDONLY, NULL), "MS_BIND|MS_RDONLY");
    close(T_OK(open("b/f", O_WRONLY), "MS_RDONLY is ignored by a plain bind"));
    T_OK(mount(NULL, "b", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
               NULL),
         "remount,bind,ro,nosuid,nodev,noexec");
    abs_path("b", p, sizeof(p));
    T_STREQ(mount_opts(p), "ro,nosuid,nodev,noexec,relatime", "mounts shows the flags");
    T_STREQ(mountinfo_opts(p), "/|ro,nosuid,nodev,noexec,relatime|rw", "mountinfo: super rw");
    T_OK(statvfs("b", &sv), "statvfs b");
    T_EQ(sv.f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC),
         ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC, "statvfs flags");
    T_ERRNO(open("b/f", O_WRONLY), EROFS, "write through the ro bind: EROFS");
    close(T_OK(open("src/f", O_WRONLY), "the source stays writable"));
    T_OK(statvfs("src", &sv), "statvfs src");
    T_EQ(sv.f_flag & ST_RDONLY, 0, "source not ST_RDONLY");
    char arg0[] = "f";
    char *argv[] = {arg0, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execv("b/f", argv);
        _exit(errno == EACCES ? 0 : 1);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    T_EQ(WIFEXITED(ws) ? WEXITSTATUS(ws) : 99, 0, "execve on noexec: EACCES");
    int xfd = open("b/f", O_RDONLY);
    T_ERRNO(mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, xfd, 0) == MAP_FAILED ? -1 : 0,
            EPERM, "mmap PROT_EXEC on noexec: EPERM");
    close(xfd);
    T_OK(mknod("src/null", S_IFCHR | 0666, makedev(1, 3)), "mknod a device in the source");
    close(T_OK(open("src/null", O_WRONLY), "open the device through the source"));
    T_ERRNO(open("b/null", O_WRONLY), EACCES, "open it through the nodev bind: EACCES");
    T_OK(mount(NULL, "b", NULL, MS_REMOUNT | MS_BIND, NULL), "remount,bind rw");
    T_STREQ(mount_opts(p), "rw,relatime", "flags cleared");
    T_OK(mount(NULL, "b", NULL, MS_REMOUNT | MS_BIND | MS_NOATIME, NULL), "remount,bind noatime");
    T_STREQ(mount_opts(p), "rw,noatime", "noatime shows");
    T_OK(mount(NULL, "b", NULL, MS_REMOUNT | MS_BIND | MS_NOSYMFOLLOW, NULL), "nosymfollow");
    T_OK(symlink("f", "src/l"), "symlink in the source");
    T_ERRNO(open("b/l", O_RDONLY), ELOOP, "following a link on nosymfollow: ELOOP");
    close(T_OK(open("src/l", O_RDONLY), "the source follows it"));
    char buf[8];
    T_EQ(readlink("b/l", buf, sizeof(buf)), 1, "readlink still works");
    T_OK(statvfs("b", &sv), "statvfs");
    T_EQ(sv.f_flag & ST_NOSYMFOLLOW, ST_NOSYMFOLLOW, "ST_NOSYMFOLLOW");
    T_OK(umount2("b", 0), "umount b");
    T_OK(umount2("src", 0), "umount src");
}

static void test_propagation_and_umount(void)
{
    struct stat st;
    T_OK(mkdir("pm", 0755), "mkdir pm");
    T_ERRNO(mount(NULL, "pm", NULL, MS_PRIVATE, NULL), EINVAL, "MS_PRIVATE on a non-mount: EINVAL");
    T_OK(mount("none", "pm", "tmpfs", 0, NULL), "tmpfs on pm");
    T_OK(mount(NULL, "pm", NULL, MS_PRIVATE, NULL), "MS_PRIVATE");
    T_OK(mount(NULL, "pm", NULL, MS_SLAVE, NULL), "MS_SLAVE");
    T_OK(mount(NULL, "pm", NULL, MS_PRIVATE | MS_REC, NULL), "MS_PRIVATE|MS_REC");
    T_OK(mount(NULL, "pm", NULL, MS_UNBINDABLE, NULL), "MS_UNBINDABLE");
    T_OK(mkdir("ub", 0755), "mkdir ub");
    T_ERRNO(mount("pm", "ub", NULL, MS_BIND, NULL), EINVAL, "bind of an unbindable mount: EINVAL");
    T_OK(mount(NULL, "pm", NULL, MS_PRIVATE, NULL), "back to private");
    T_ERRNO(mount(NULL, "pm", NULL, MS_PRIVATE | MS_SHARED, NULL), EINVAL, "two types: EINVAL");
    T_ERRNO(mount("none", "pm", NULL, 0, NULL), EINVAL, "new mount without a type: EINVAL");
    T_ERRNO(mount(NULL, "ub", NULL, MS_REMOUNT, NULL), EINVAL, "remount of a non-mount: EINVAL");
    T_ERRNO(mount(NULL, "ub", NULL, MS_REMOUNT | MS_BIND, NULL), EINVAL,
            "bind remount of a non-mount: EINVAL");
    T_ERRNO(mount("", "ub", NULL, MS_BIND, NULL), EINVAL, "bind of \"\": EINVAL");

    /* submounts: plain umount is EBUSY, MNT_DETACH takes the tree */
    T_OK(mkdir("pm/in", 0755), "mkdir pm/in");
    T_OK(mount("none", "pm/in", "tmpfs", 0, NULL), "tmpfs on pm/in");
    close(open("pm/in/x", O_CREAT | O_WRONLY, 0644));
    T_ERRNO(umount2("pm", 0), EBUSY, "umount with a submount: EBUSY");
    T_ERRNO(umount2("pm", MNT_EXPIRE | MNT_DETACH), EINVAL, "MNT_EXPIRE|MNT_DETACH: EINVAL");

    /* rbind copies the submount, bind does not */
    T_OK(mount("pm", "ub", NULL, MS_BIND | MS_REC, NULL), "rbind");
    T_OK(stat("ub/in/x", &st), "rbind brings the submount");
    T_OK(umount2("ub", MNT_DETACH), "umount -l the rbind");
    T_OK(mount("pm", "ub", NULL, MS_BIND, NULL), "bind");
    T_ERRNO(stat("ub/in/x", &st), ENOENT, "plain bind leaves the submount out");
    T_OK(umount2("ub", 0), "umount the bind");

    /* MS_MOVE */
    T_OK(mkdir("mv", 0755), "mkdir mv");
    T_OK(mount("pm/in", "mv", NULL, MS_MOVE, NULL), "MS_MOVE pm/in to mv");
    T_OK(stat("mv/x", &st), "moved mount at its new place");
    T_ERRNO(stat("pm/in/x", &st), ENOENT, "gone from the old place");
    T_ERRNO(mount("ub", "mv", NULL, MS_MOVE, NULL), EINVAL, "MS_MOVE of a non-mount: EINVAL");
    T_OK(mkdir("mv/inner", 0755), "mkdir mv/inner");
    T_ERRNO(mount("mv", "mv/inner", NULL, MS_MOVE, NULL), ELOOP, "MS_MOVE below itself: ELOOP");

    /* MNT_EXPIRE: the first call marks, the second unmounts */
    T_ERRNO(umount2("mv", MNT_EXPIRE), EAGAIN, "MNT_EXPIRE first: EAGAIN");
    T_OK(umount2("mv", MNT_EXPIRE), "MNT_EXPIRE second: unmounted");
    T_ERRNO(stat("mv/x", &st), ENOENT, "expired");
    T_OK(umount2("pm", MNT_FORCE), "MNT_FORCE");

    /* busy mounts: open files and cwds inside */
    T_OK(mkdir("busy", 0755), "mkdir busy");
    T_OK(mount("none", "busy", "tmpfs", 0, NULL), "tmpfs on busy");
    int bfd = T_OK(open("busy/f", O_CREAT | O_RDWR, 0644), "open a file in it");
    T_ERRNO(umount2("busy", 0), EBUSY, "umount with an open file: EBUSY");
    T_ERRNO(umount2("busy", MNT_EXPIRE), EBUSY, "MNT_EXPIRE on a busy mount: EBUSY");
    close(bfd);
    T_OK(chdir("busy"), "chdir into it");
    T_ERRNO(umount2("../busy", 0), EBUSY, "umount with the cwd inside: EBUSY");
    T_OK(chdir(".."), "chdir back");
    bfd = T_OK(open("busy/f", O_RDWR), "open it again");
    T_OK(umount2("busy", MNT_DETACH), "MNT_DETACH of a busy mount");
    T_EQ(write(bfd, "x", 1), 1, "the open file still works");
    close(bfd);
    T_ERRNO(umount2("pm", UMOUNT_NOFOLLOW), EINVAL, "not mounted any more");
}

static void test_file_bind(void)
{
    struct stat st;
    char buf[16] = {0};
    T_OK(tap_write_file("fsrc", "hello"), "source file");
    T_OK(tap_write_file("ftgt", "other"), "target file");
    T_OK(mkdir("fdir", 0755), "mkdir fdir");
    T_OK(mount("fsrc", "ftgt", NULL, MS_BIND, NULL), "bind a file on a file");
    int fd = T_OK(open("ftgt", O_RDONLY), "open the target");
    T_EQ(read(fd, buf, sizeof(buf) - 1), 5, "reads the source's bytes");
    T_STREQ(buf, "hello", "source content");
    close(fd);
    T_ERRNO(unlink("ftgt"), EBUSY, "unlink of a file mount point: EBUSY");
    T_ERRNO(mount("fsrc", "fdir", NULL, MS_BIND, NULL), ENOTDIR, "file on a directory: ENOTDIR");
    T_ERRNO(mount("fdir", "ftgt", NULL, MS_BIND, NULL), ENOTDIR, "directory on a file: ENOTDIR");
    T_OK(umount2("ftgt", 0), "umount the file bind");
    T_OK(stat("ftgt", &st), "the target is back");
    T_EQ(st.st_size, 5, "its own size");
}

static void test_pivot_root(void)
{
    struct stat st;
    T_ERRNO(syscall(SYS_pivot_root, "nope", "nope"), ENOENT, "pivot_root missing: ENOENT");
    T_OK(mkdir("notmnt", 0755), "mkdir notmnt");
    T_OK(mkdir("notmnt/old", 0755), "mkdir notmnt/old");
    T_ERRNO(syscall(SYS_pivot_root, "notmnt", "notmnt/old"), EBUSY,
            "new_root on the root's mount: EBUSY");
    T_ERRNO(syscall(SYS_pivot_root, "/", "/"), EBUSY, "pivot_root to the current root: EBUSY");

    /* Done with the temp dir: the rest happens under /srv. */
    if (chdir("/") == 0) {
        int fd = open(tap_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (fd >= 0)
            tap_rm_tree_at(fd);
        rmdir(tap_dir);
        tap_dir[0] = '\0';
    }
    T_OK(mount("none", "/srv", "tmpfs", 0, "mode=0755"), "tmpfs on /srv");
    T_OK(mkdir("/srv/old", 0755), "mkdir /srv/old");
    T_OK(mkdir("/srv/elsewhere", 0755), "mkdir /srv/elsewhere");
    T_OK(tap_write_file("/srv/marker", "1"), "marker in the new root");
    T_ERRNO(syscall(SYS_pivot_root, "/srv", "/tmp"), EBUSY, "put_old on the root's mount: EBUSY");
    T_OK(mkdir("/srv/elsewhere/old", 0755), "mkdir /srv/elsewhere/old");
    T_ERRNO(syscall(SYS_pivot_root, "/srv/elsewhere", "/srv/elsewhere/old"), EINVAL,
            "new_root not a mount point: EINVAL");
    T_OK(rmdir("/srv/elsewhere/old"), "rmdir it");
    T_OK(chdir("/srv"), "chdir /srv");
    T_OK(syscall(SYS_pivot_root, ".", "old"), "pivot_root(\".\", \"old\")");
    T_OK(stat("/marker", &st), "the root is the new one");
    T_OK(stat("/old/tmp", &st), "the old root is under /old");
    T_ERRNO(stat("/old/srv/marker", &st), ENOENT, "without the new root in it");
    char cwd[64];
    T_TRUE(getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0, "cwd is /");
    T_OK(umount2("/old", MNT_DETACH), "umount -l /old");
    T_ERRNO(stat("/old/tmp", &st), ENOENT, "the old root is gone");

    /* The pivot_root(".", ".") trick. */
    T_OK(mount("none", "/elsewhere", "tmpfs", 0, "mode=0755"), "tmpfs on /elsewhere");
    T_OK(tap_write_file("/elsewhere/second", "2"), "marker in the second root");
    T_OK(chdir("/elsewhere"), "chdir /elsewhere");
    T_OK(syscall(SYS_pivot_root, ".", "."), "pivot_root(\".\", \".\")");
    T_OK(umount2(".", MNT_DETACH), "umount2(\".\", MNT_DETACH)");
    T_OK(chdir("/"), "chdir /");
    T_OK(stat("/second", &st), "the root is the second tmpfs");
    T_ERRNO(stat("/marker", &st), ENOENT, "nothing of the first");
    T_ERRNO(stat("/elsewhere", &st), ENOENT, "nor its mount point");
    FILE *f = fopen("/proc/self/mounts", "r");
    T_TRUE(f == NULL, "no /proc in the new root");
    if (f)
        fclose(f);
}

int main(void)
{
    tap_init("mount_flags");
    test_readonly();
    test_bind_flags();
    test_propagation_and_umount();
    test_file_bind();
    test_pivot_root(); /* last: the probe ends in a bare tmpfs root */
    return tap_done();
}
