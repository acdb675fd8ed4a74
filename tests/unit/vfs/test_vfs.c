/*
 * Unit tests of the VFS, hostfs, tmpfs, overlay, devfs and procfs over a
 * temporary host tree. Each test runs in its own process (check forks) with
 * a fresh mount tree; the host tree is checked unchanged at the end.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/host/host.h"
#include "kernel/fs/fs.h"
#include "kernel/host/host_io.h"
#include "kernel/ipc/mqueue.h"
#include "kernel/ipc/sysv.h"
#include "kernel/mm/mm.h"
#include "kernel/net/inet.h"
#include "kernel/net/rtnl.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"

#include "vfs_fakes.h"

/* ---- the host tree ---- */

static char g_host[256];
static char g_snapshot_before[65536];

static void must(bool ok, const char *what)
{
    if (!ok) {
        perror(what);
        exit(2);
    }
}

static void put_file(const char *rel, const char *content, mode_t mode)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_host, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    must(fd >= 0, p);
    must(write(fd, content, strlen(content)) == (ssize_t)strlen(content), p);
    close(fd);
    chmod(p, mode);
}

static void put_dir(const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_host, rel);
    must(mkdir(p, 0755) == 0, p);
}

static void put_link(const char *rel, const char *target)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_host, rel);
    must(symlink(target, p) == 0, p);
}

static char *g_snap;
static size_t g_snap_len, g_snap_cap;

static int snap_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    char line[1024];
    char content[64] = "";
    if (S_ISREG(st->st_mode)) {
        int fd = open(path, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, content, sizeof(content) - 1) : -1;
        content[n > 0 ? n : 0] = '\0';
        if (fd >= 0)
            close(fd);
    } else if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlink(path, content, sizeof(content) - 1);
        content[n > 0 ? n : 0] = '\0';
    }
    int n = snprintf(line, sizeof(line), "%s %o %lld %lld [%s]\n", path + strlen(g_host),
                     st->st_mode, (long long)st->st_size, (long long)st->st_mtim.tv_sec, content);
    if (g_snap_len + n < g_snap_cap) {
        memcpy(g_snap + g_snap_len, line, n);
        g_snap_len += n;
    }
    return 0;
}

static void snapshot(char *out, size_t size)
{
    g_snap = out;
    g_snap_len = 0;
    g_snap_cap = size - 1;
    nftw(g_host, snap_one, 16, FTW_PHYS);
    out[g_snap_len] = '\0';
}

static void build_host_tree(void)
{
    strcpy(g_host, "/tmp/moat-vfs-test-XXXXXX");
    must(mkdtemp(g_host) != NULL, "mkdtemp");
    put_dir("etc");
    put_file("etc/passwd", "root:x:0:0\n", 0644);
    put_dir("bin");
    put_file("bin/sh", "\177ELF-not-really", 0755);
    put_dir("dir");
    put_file("dir/a.txt", "hello", 0644);
    put_dir("dir/sub");
    put_file("dir/sub/b.txt", "bee", 0600);
    put_link("link_abs", "/dir/a.txt");
    put_link("link_rel", "dir/a.txt");
    put_link("link_up", "../../../../dir");
    put_link("dirlink", "dir");
    put_link("loop1", "loop2");
    put_link("loop2", "loop1");
    put_dir("tmp");
    chmod(g_host, 0755);
    snapshot(g_snapshot_before, sizeof(g_snapshot_before));
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static void remove_host_tree(void)
{
    nftw(g_host, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    int fd = open(g_host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    memset(&g_task, 0, sizeof(g_task));
    memset(&g_tg, 0, sizeof(g_tg));
    pthread_mutex_init(&g_tg.lock, NULL);
    g_tg.pid = 1;
    g_task.tid = 1;
    g_task.tg = &g_tg;
    g_task.cred = (struct cred)CRED_KERNEL_INIT;
    ck_assert_int_eq(vfs_init(fd, &g_task.fs), 0);
    ck_assert_int_eq(fdtable_new(&g_task.files), 0);
}

static void teardown(void)
{
    /* The host tree must be exactly as built, whatever the test did. */
    char after[sizeof(g_snapshot_before)];
    snapshot(after, sizeof(after));
    ck_assert_str_eq(after, g_snapshot_before);
}

/* ---- helpers ---- */

static struct task *T = &g_task;

static int stat_of(const char *path, int flags, struct linux_stat *st)
{
    return vfs_statat(T, AT_FDCWD, path, flags, st);
}

static int open_fd(const char *path, int flags, uint32_t mode)
{
    struct file *f;
    int r = vfs_openat(T, AT_FDCWD, path, flags, mode, &f);
    if (r < 0)
        return r;
    r = fdtable_alloc(T->files, 0, 1024, f, false);
    file_put(f);
    return r;
}

static struct file *fd_file(int fd)
{
    struct file *f = fdtable_get_file(T->files, fd);
    ck_assert_ptr_nonnull(f);
    return f;
}

static ssize_t read_path(const char *path, char *buf, size_t size)
{
    struct file *f;
    int r = vfs_openat(T, AT_FDCWD, path, O_RDONLY, 0, &f);
    if (r < 0)
        return r;
    ssize_t n = vfs_read(f, buf, size - 1);
    file_put(f);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* Names listed by getdents64 on PATH, as " a b c " (sorted by listing order). */
static int list_dir(const char *path, char *out, size_t size)
{
    struct file *f;
    int r = vfs_openat(T, AT_FDCWD, path, O_RDONLY | O_DIRECTORY, 0, &f);
    if (r < 0)
        return r;
    char buf[4096];
    out[0] = '\0';
    strcat(out, " ");
    for (;;) {
        ssize_t n = vfs_getdents(f, buf, sizeof(buf), false);
        ck_assert_int_ge(n, 0);
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            uint16_t reclen;
            memcpy(&reclen, buf + off + 16, 2);
            const char *name = buf + off + 19;
            if (strcmp(name, ".") && strcmp(name, "..") && strlen(out) + strlen(name) + 2 < size) {
                strcat(out, name);
                strcat(out, " ");
            }
            off += reclen;
        }
    }
    file_put(f);
    return 0;
}

static bool has_name(const char *listing, const char *name)
{
    char pat[300];
    snprintf(pat, sizeof(pat), " %s ", name);
    return strstr(listing, pat) != NULL;
}

/* ---- path walk ---- */

START_TEST(walk_basic)
{
    struct linux_stat st, st2;
    ck_assert_int_eq(stat_of("/dir/a.txt", 0, &st), 0);
    ck_assert_int_eq(st.st_size, 5);
    ck_assert_int_eq(stat_of("/dir/../dir/./a.txt", 0, &st2), 0);
    ck_assert_int_eq(st.st_ino, st2.st_ino);
    ck_assert_int_eq(stat_of("dir//sub///b.txt", 0, &st), 0);
    ck_assert_int_eq(st.st_size, 3);
    ck_assert_int_eq(stat_of("/nope", 0, &st), -ENOENT);
    ck_assert_int_eq(stat_of("/nope/x", 0, &st), -ENOENT);
    ck_assert_int_eq(stat_of("", 0, &st), -ENOENT);
    ck_assert_int_eq(stat_of("/dir/a.txt/", 0, &st), -ENOTDIR);
    ck_assert_int_eq(stat_of("/dir/a.txt/x", 0, &st), -ENOTDIR);
    ck_assert_int_eq(stat_of("/dir/", 0, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    char longname[300];
    memset(longname, 'x', 256);
    longname[0] = '/';
    longname[257] = '\0';
    memset(longname + 1, 'x', 256);
    ck_assert_int_eq(stat_of(longname, 0, &st), -ENAMETOOLONG);
}
END_TEST

START_TEST(walk_dotdot_at_root)
{
    struct linux_stat root, st;
    ck_assert_int_eq(stat_of("/", 0, &root), 0);
    ck_assert_int_eq(stat_of("/..", 0, &st), 0);
    ck_assert_int_eq(st.st_ino, root.st_ino);
    ck_assert_int_eq(stat_of("/../../../etc/passwd", 0, &st), 0);
    ck_assert_int_eq(st.st_size, 11);
    ck_assert_int_eq(stat_of("../../..", 0, &st), 0);
    ck_assert_int_eq(st.st_ino, root.st_ino);
}
END_TEST

START_TEST(walk_symlinks)
{
    struct linux_stat st;
    ck_assert_int_eq(stat_of("/link_abs", 0, &st), 0);
    ck_assert_int_eq(st.st_size, 5);
    ck_assert_int_eq(stat_of("/link_rel", 0, &st), 0);
    ck_assert_int_eq(st.st_size, 5);
    /* "../../../../dir" from / stays inside the sandbox root. */
    ck_assert_int_eq(stat_of("/link_up/a.txt", 0, &st), 0);
    ck_assert_int_eq(st.st_size, 5);
    ck_assert_int_eq(stat_of("/dirlink/sub/b.txt", 0, &st), 0);
    ck_assert_int_eq(stat_of("/link_abs", AT_SYMLINK_NOFOLLOW, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(stat_of("/loop1", 0, &st), -ELOOP);
    ck_assert_int_eq(stat_of("/loop1", AT_SYMLINK_NOFOLLOW, &st), 0);
    ck_assert_int_eq(stat_of("/loop1/x", AT_SYMLINK_NOFOLLOW, &st), -ELOOP);
    ck_assert_int_eq(stat_of("/dirlink/", AT_SYMLINK_NOFOLLOW, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    char buf[64];
    int n = vfs_readlinkat(T, AT_FDCWD, "/link_up", buf, sizeof(buf));
    ck_assert_int_eq(n, 15);
    ck_assert_int_eq(vfs_readlinkat(T, AT_FDCWD, "/dir", buf, sizeof(buf)), -EINVAL);
    ck_assert_int_eq(open_fd("/link_abs", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
    int fd = open_fd("/link_abs", O_PATH | O_NOFOLLOW, 0);
    ck_assert_int_ge(fd, 0);
    /* A chain of 41 links is too many. */
    char name[32], target[32];
    for (int i = 0; i < 41; i++) {
        snprintf(name, sizeof(name), "/tmp/l%d", i);
        snprintf(target, sizeof(target), i == 40 ? "/dir" : "/tmp/l%d", i + 1);
        ck_assert_int_eq(vfs_symlinkat(T, target, AT_FDCWD, name), 0);
    }
    ck_assert_int_eq(stat_of("/tmp/l1", 0, &st), 0);
    ck_assert_int_eq(stat_of("/tmp/l0", 0, &st), -ELOOP);
}
END_TEST

START_TEST(walk_mounts_and_cwd)
{
    struct linux_stat st, root;
    ck_assert_int_eq(stat_of("/dev/null", 0, &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
    ck_assert_int_eq(stat_of("/", 0, &root), 0);
    ck_assert_int_eq(stat_of("/dev/..", 0, &st), 0);
    ck_assert_int_eq(st.st_ino, root.st_ino);
    ck_assert_int_eq(st.st_dev, root.st_dev);
    ck_assert_int_eq(vfs_chdir(T, "/dev/shm"), 0);
    char buf[256];
    ck_assert_int_eq(vfs_getcwd(T, buf, sizeof(buf)), 9);
    ck_assert_str_eq(buf, "/dev/shm");
    ck_assert_int_eq(vfs_chdir(T, "../.."), 0);
    ck_assert_int_eq(vfs_getcwd(T, buf, sizeof(buf)), 2);
    ck_assert_str_eq(buf, "/");
    ck_assert_int_eq(vfs_chdir(T, "dir/a.txt"), -ENOTDIR);
    ck_assert_int_eq(vfs_chdir(T, "dir"), 0);
    ck_assert_int_eq(stat_of("a.txt", 0, &st), 0);

    /* /dev devices */
    int fd = open_fd("/dev/zero", O_RDONLY, 0);
    ck_assert_int_ge(fd, 0);
    struct file *f = fd_file(fd);
    char z[8] = "abcdefg";
    ck_assert_int_eq(vfs_read(f, z, sizeof(z)), 8);
    ck_assert_int_eq(z[3], 0);
    file_put(f);
    fd = open_fd("/dev/full", O_WRONLY, 0);
    f = fd_file(fd);
    ck_assert_int_eq(vfs_write(f, "x", 1), -ENOSPC);
    file_put(f);
    ck_assert_int_eq(open_fd("/dev/tty", O_RDWR, 0), -ENXIO);
}
END_TEST

/* ---- overlay ---- */

START_TEST(overlay_copy_up)
{
    char buf[64];
    int fd = open_fd("/dir/a.txt", O_RDWR, 0);
    ck_assert_int_ge(fd, 0);
    struct file *f = fd_file(fd);
    ck_assert_int_eq(vfs_read(f, buf, 2), 2);
    ck_assert_int_eq(vfs_write(f, "LLO!", 4), 4);
    file_put(f);
    ck_assert_int_eq(read_path("/dir/a.txt", buf, sizeof(buf)), 6);
    ck_assert_str_eq(buf, "heLLO!");

    struct linux_stat st;
    ck_assert_int_eq(stat_of("/dir/a.txt", 0, &st), 0);
    ck_assert_int_eq(st.st_size, 6);

    /* O_TRUNC and O_APPEND on a lower file */
    fd = open_fd("/etc/passwd", O_WRONLY | O_TRUNC | O_APPEND, 0);
    ck_assert_int_ge(fd, 0);
    f = fd_file(fd);
    ck_assert_int_eq(vfs_write(f, "ab", 2), 2);
    ck_assert_int_eq(vfs_write(f, "cd", 2), 2);
    file_put(f);
    ck_assert_int_eq(read_path("/etc/passwd", buf, sizeof(buf)), 4);
    ck_assert_str_eq(buf, "abcd");

    /* chmod copies up metadata only */
    ck_assert_int_eq(vfs_fchmodat(T, AT_FDCWD, "/bin/sh", 0700, 0), 0);
    ck_assert_int_eq(stat_of("/bin/sh", 0, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0700);
    ck_assert_int_eq(read_path("/bin/sh", buf, sizeof(buf)), 15);

    /* O_CREAT | O_EXCL */
    ck_assert_int_ge(open_fd("/dir/sub/new", O_CREAT | O_EXCL | O_WRONLY, 0644), 0);
    ck_assert_int_eq(open_fd("/dir/sub/new", O_CREAT | O_EXCL | O_WRONLY, 0644), -EEXIST);
    ck_assert_int_eq(open_fd("/dir/sub/", O_CREAT | O_WRONLY, 0644), -EISDIR);
    ck_assert_int_eq(open_fd("/dir", O_WRONLY, 0), -EISDIR);
    ck_assert_int_eq(open_fd("/dir/a.txt", O_RDONLY | O_DIRECTORY, 0), -ENOTDIR);
    /* creating through a dangling symlink creates its target */
    ck_assert_int_eq(vfs_symlinkat(T, "/tmp/target", AT_FDCWD, "/tmp/dangling"), 0);
    ck_assert_int_ge(open_fd("/tmp/dangling", O_CREAT | O_WRONLY, 0644), 0);
    ck_assert_int_eq(stat_of("/tmp/target", 0, &st), 0);
    ck_assert_int_eq(vfs_truncate(T, "/dir/sub/b.txt", 1), 0);
    ck_assert_int_eq(read_path("/dir/sub/b.txt", buf, sizeof(buf)), 1);
}
END_TEST

START_TEST(overlay_whiteout_and_readdir)
{
    char l[1024];
    struct linux_stat st;
    ck_assert_int_eq(list_dir("/dir", l, sizeof(l)), 0);
    ck_assert(has_name(l, "a.txt") && has_name(l, "sub"));

    ck_assert_int_eq(vfs_unlinkat(T, AT_FDCWD, "/dir/a.txt", 0), 0);
    ck_assert_int_eq(stat_of("/dir/a.txt", 0, &st), -ENOENT);
    ck_assert_int_eq(vfs_unlinkat(T, AT_FDCWD, "/dir/a.txt", 0), -ENOENT);
    ck_assert_int_eq(vfs_unlinkat(T, AT_FDCWD, "/dir/sub", 0), -EISDIR);
    ck_assert_int_eq(vfs_unlinkat(T, AT_FDCWD, "/dir/sub", AT_REMOVEDIR), -ENOTEMPTY);
    ck_assert_int_ge(open_fd("/dir/c.txt", O_CREAT | O_WRONLY, 0644), 0);
    ck_assert_int_eq(list_dir("/dir", l, sizeof(l)), 0);
    ck_assert(!has_name(l, "a.txt"));
    ck_assert(has_name(l, "c.txt") && has_name(l, "sub"));

    /* rmdir of a lower dir, then mkdir: an opaque empty dir */
    ck_assert_int_eq(vfs_unlinkat(T, AT_FDCWD, "/dir/sub/b.txt", 0), 0);
    ck_assert_int_eq(vfs_unlinkat(T, AT_FDCWD, "/dir/sub", AT_REMOVEDIR), 0);
    ck_assert_int_eq(stat_of("/dir/sub", 0, &st), -ENOENT);
    ck_assert_int_eq(vfs_mkdirat(T, AT_FDCWD, "/dir/sub", 0755), 0);
    ck_assert_int_eq(vfs_mkdirat(T, AT_FDCWD, "/dir/sub", 0755), -EEXIST);
    ck_assert_int_eq(stat_of("/dir/sub/b.txt", 0, &st), -ENOENT);
    ck_assert_int_eq(list_dir("/dir/sub", l, sizeof(l)), 0);
    ck_assert_str_eq(l, " ");
    /* and it survives dropping the dentry cache */
    dcache_shrink(0);
    ck_assert_int_eq(stat_of("/dir/sub/b.txt", 0, &st), -ENOENT);
    ck_assert_int_eq(stat_of("/dir/a.txt", 0, &st), -ENOENT);
    ck_assert_int_eq(stat_of("/dir/c.txt", 0, &st), 0);

    /* re-creating a whited-out file */
    ck_assert_int_ge(open_fd("/dir/a.txt", O_CREAT | O_WRONLY, 0600), 0);
    ck_assert_int_eq(stat_of("/dir/a.txt", 0, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
}
END_TEST

START_TEST(overlay_rename_link)
{
    struct linux_stat st, st2;
    char buf[64], l[1024];
    ck_assert_int_eq(stat_of("/dir/a.txt", 0, &st), 0);
    ck_assert_int_eq(vfs_renameat2(T, AT_FDCWD, "/dir/a.txt", AT_FDCWD, "/tmp/z.txt", 0), 0);
    ck_assert_int_eq(stat_of("/dir/a.txt", 0, &st2), -ENOENT);
    ck_assert_int_eq(stat_of("/tmp/z.txt", 0, &st2), 0);
    ck_assert_int_eq(st.st_ino, st2.st_ino);
    ck_assert_int_eq(read_path("/tmp/z.txt", buf, sizeof(buf)), 5);
    ck_assert_int_eq(list_dir("/dir", l, sizeof(l)), 0);
    ck_assert(!has_name(l, "a.txt"));
    /* a lower directory cannot move */
    ck_assert_int_eq(vfs_renameat2(T, AT_FDCWD, "/dir", AT_FDCWD, "/dir2", 0), -EXDEV);
    /* an upper directory can, but not into itself */
    ck_assert_int_eq(vfs_mkdirat(T, AT_FDCWD, "/up", 0755), 0);
    ck_assert_int_eq(vfs_renameat2(T, AT_FDCWD, "/up", AT_FDCWD, "/up/in", 0), -EINVAL);
    ck_assert_int_eq(vfs_renameat2(T, AT_FDCWD, "/up", AT_FDCWD, "/tmp/up2", 0), 0);
    ck_assert_int_eq(stat_of("/tmp/up2", 0, &st), 0);
    /* NOREPLACE */
    ck_assert_int_eq(vfs_renameat2(T, AT_FDCWD, "/etc/passwd", AT_FDCWD, "/bin/sh", 1), -EEXIST);
    ck_assert_int_eq(vfs_renameat2(T, AT_FDCWD, "/etc/passwd", AT_FDCWD, "/bin/sh", 0), 0);
    ck_assert_int_eq(read_path("/bin/sh", buf, sizeof(buf)), 11);
    /* hard links of a lower file (copied up) */
    ck_assert_int_eq(vfs_linkat(T, AT_FDCWD, "/dir/sub/b.txt", AT_FDCWD, "/tmp/b2", 0), 0);
    ck_assert_int_eq(stat_of("/tmp/b2", 0, &st), 0);
    ck_assert_int_eq(st.st_nlink, 2);
    ck_assert_int_eq(vfs_linkat(T, AT_FDCWD, "/dir", AT_FDCWD, "/tmp/d", 0), -EPERM);
}
END_TEST

/* ---- procfs ---- */

START_TEST(proc_self_exe_and_fd)
{
    struct file *exe;
    ck_assert_int_eq(vfs_open_exec(T, "/bin/sh", &exe), 0);
    g_tg.exe = exe;
    char buf[256];
    int n = vfs_readlinkat(T, AT_FDCWD, "/proc/self/exe", buf, sizeof(buf));
    ck_assert_int_eq(n, 7);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "/bin/sh");
    n = vfs_readlinkat(T, AT_FDCWD, "/proc/self", buf, sizeof(buf));
    buf[n] = '\0';
    ck_assert_str_eq(buf, "1");
    struct file *f;
    ck_assert_int_eq(vfs_open_exec(T, "/proc/self/exe", &f), 0);
    n = vfs_file_path(f, buf, sizeof(buf));
    ck_assert_str_eq(buf, "/bin/sh");
    file_put(f);
    ck_assert_int_eq(vfs_open_exec(T, "/dir", &f), -EACCES);
    ck_assert_int_eq(vfs_open_exec(T, "/dir/a.txt", &f), -EACCES);

    int fd = open_fd("/dir/sub/b.txt", O_RDONLY, 0);
    snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
    char link[256];
    n = vfs_readlinkat(T, AT_FDCWD, buf, link, sizeof(link));
    link[n > 0 ? n : 0] = '\0';
    ck_assert_str_eq(link, "/dir/sub/b.txt");
    char l[1024];
    ck_assert_int_eq(list_dir("/proc/self/fd", l, sizeof(l)), 0);
    ck_assert(has_name(l, "0"));
    /* /dev/stdin -> /proc/self/fd/0 -> the file at fd 0 */
    struct linux_stat st;
    ck_assert_int_eq(stat_of("/dev/stdin", 0, &st), 0);
    ck_assert_int_eq(st.st_size, 3);
    /* an anonymous file reached through /proc/self/fd reopens its object */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    struct file *hf;
    ck_assert_int_eq(hostfile_new(p[1], O_WRONLY, &hf), 0);
    ck_assert_int_eq(fdtable_install_at(T->files, 5, hf, false), 0);
    file_put(hf);
    int wfd = open_fd("/dev/fd/5", O_WRONLY, 0);
    ck_assert_int_ge(wfd, 0);
    struct file *w = fd_file(wfd);
    ck_assert_int_eq(vfs_write(w, "ok", 2), 2);
    ck_assert_int_eq(vfs_llseek(w, 0, SEEK_SET), -ESPIPE);
    file_put(w);
    ck_assert_int_eq(read(p[0], buf, 2), 2);
    ck_assert_int_eq(memcmp(buf, "ok", 2), 0);
}
END_TEST

/* The whole of the generated file PATH into BUF (NUL-terminated). */
static ssize_t read_all(const char *path, char *buf, size_t size)
{
    int fd = open_fd(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    struct file *f = fd_file(fd);
    size_t done = 0;
    ssize_t n;
    while (done + 1 < size && (n = vfs_read(f, buf + done, size - 1 - done)) > 0)
        done += (size_t)n;
    buf[done] = '\0';
    file_put(f);
    fdtable_close(T->files, fd);
    return (ssize_t)done;
}

START_TEST(proc_tree)
{
    char buf[8192], l[4096];
    strcpy(g_task.comm, "tester");
    ck_assert_int_eq(list_dir("/proc", l, sizeof(l)), 0);
    ck_assert(has_name(l, "1") && has_name(l, "self") && has_name(l, "thread-self"));
    ck_assert(has_name(l, "meminfo") && has_name(l, "cpuinfo") && has_name(l, "sys"));
    ck_assert_int_eq(list_dir("/proc/self", l, sizeof(l)), 0);
    static const char *const names[] = {"stat", "status", "statm", "cmdline", "environ", "comm",
                                        "exe", "cwd", "root", "fd", "fdinfo", "maps", "limits",
                                        "mounts", "mountinfo", "cgroup", "ns", "task",
                                        "loginuid", "oom_score_adj"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(has_name(l, names[i]), "/proc/self/%s listed", names[i]);
    /* every listed name can be stat'ed */
    struct linux_stat st;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(buf, sizeof(buf), "/proc/1/%s", names[i]);
        ck_assert_int_eq(stat_of(buf, AT_SYMLINK_NOFOLLOW, &st), 0);
    }
    ck_assert_int_eq(stat_of("/proc/2", 0, &st), -ENOENT);
    ck_assert_int_eq(stat_of("/proc/01", 0, &st), -ENOENT);

    ck_assert_int_gt(read_all("/proc/self/status", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "Name:\ttester\n"));
    ck_assert_ptr_nonnull(strstr(buf, "Pid:\t1\n"));
    ck_assert_ptr_nonnull(strstr(buf, "State:\tR (running)\n"));
    ck_assert_ptr_nonnull(strstr(buf, "Umask:\t0022\n"));
    ck_assert_int_gt(read_all("/proc/self/stat", buf, sizeof(buf)), 0);
    ck_assert(strncmp(buf, "1 (tester) R 0 1 1 ", 19) == 0);
    ck_assert_int_gt(read_all("/proc/self/comm", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "tester\n");
    ck_assert_int_gt(read_all("/proc/self/cgroup", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "0::/\n");

    g_tg.rlim[7] = (struct linux_rlimit){1024, 4096};
    g_tg.rlim[0] = (struct linux_rlimit){LINUX_RLIM_INFINITY, LINUX_RLIM_INFINITY};
    ck_assert_int_gt(read_all("/proc/1/limits", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "Max open files            1024                 4096                 files     \n"));
    ck_assert_ptr_nonnull(strstr(buf, "Max cpu time              unlimited            unlimited            seconds   \n"));

    int n = vfs_readlinkat(T, AT_FDCWD, "/proc/self/cwd", buf, sizeof(buf));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(vfs_chdir(T, "/dir/sub"), 0);
    n = vfs_readlinkat(T, AT_FDCWD, "/proc/1/cwd", buf, sizeof(buf));
    buf[n > 0 ? n : 0] = '\0';
    ck_assert_str_eq(buf, "/dir/sub");
    /* the cwd link is magic: a walk through it reaches the directory */
    ck_assert_int_eq(stat_of("/proc/self/cwd/b.txt", 0, &st), 0);
    n = vfs_readlinkat(T, AT_FDCWD, "/proc/thread-self", buf, sizeof(buf));
    buf[n > 0 ? n : 0] = '\0';
    ck_assert_str_eq(buf, "1/task/1");
    ck_assert_int_eq(stat_of("/proc/thread-self/status", 0, &st), 0);
    n = vfs_readlinkat(T, AT_FDCWD, "/proc/self/ns/pid", buf, sizeof(buf));
    buf[n > 0 ? n : 0] = '\0';
    ck_assert(strncmp(buf, "pid:[", 5) == 0);

    int fd = open_fd("/dir/a.txt", O_RDONLY, 0);
    ck_assert_int_eq(fdtable_set_cloexec(T->files, fd, true), 0);
    snprintf(l, sizeof(l), "/proc/self/fdinfo/%d", fd);
    ck_assert_int_gt(read_all(l, buf, sizeof(buf)), 0);
    ck_assert_msg(strstr(buf, "pos:\t0\nflags:\t02100000\nmnt_id:\t21\n"), "%s", buf);

    /* oom_score_adj is remembered; out of range is EINVAL */
    int w = open_fd("/proc/self/oom_score_adj", O_WRONLY, 0);
    ck_assert_int_ge(w, 0);
    struct file *wf = fd_file(w);
    ck_assert_int_eq(vfs_write(wf, "-500\n", 5), 5);
    ck_assert_int_eq(vfs_write(wf, "1001", 4), -EINVAL);
    file_put(wf);
    ck_assert_int_gt(read_all("/proc/1/oom_score_adj", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "-500\n");
    /* read-only files refuse writes (root may open them, as Linux) */
    w = open_fd("/proc/self/status", O_WRONLY, 0);
    ck_assert_int_ge(w, 0);
    wf = fd_file(w);
    ck_assert_int_eq(vfs_write(wf, "x", 1), -EINVAL);
    file_put(wf);
}
END_TEST

START_TEST(proc_system_files)
{
    char buf[16384];
    ck_assert_int_gt(read_all("/proc/meminfo", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "MemTotal:        8388608 kB\n"));
    ck_assert_ptr_nonnull(strstr(buf, "MemAvailable:"));
    ck_assert_ptr_nonnull(strstr(buf, "SwapTotal:"));
    ck_assert_int_gt(read_all("/proc/cpuinfo", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "processor\t: 3\n"));
    ck_assert_ptr_null(strstr(buf, "processor\t: 4\n"));
    ck_assert_ptr_nonnull(strstr(buf, "flags\t\t: fpu"));
    ck_assert_int_gt(read_all("/proc/stat", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\ncpu3 "));
    ck_assert_ptr_nonnull(strstr(buf, "\nbtime "));
    ck_assert_ptr_nonnull(strstr(buf, "\nprocesses 1\n"));
    ck_assert_int_gt(read_all("/proc/loadavg", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "0.00 0.00 0.00 1/1 1\n");
    ck_assert_int_gt(read_all("/proc/mounts", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "overlay / overlay rw,relatime 0 0\n"));
    ck_assert_ptr_nonnull(strstr(buf, "proc /proc proc "));
    ck_assert_ptr_nonnull(strstr(buf, "sysfs /sys sysfs ro,"));
    ck_assert_ptr_nonnull(strstr(buf, "cgroup /sys/fs/cgroup cgroup2 ro,"));
    ck_assert_int_gt(read_all("/proc/self/mountinfo", buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, " / / rw,relatime - overlay overlay rw\n"));
    ck_assert_int_gt(read_all("/proc/sys/kernel/ostype", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "Linux\n");
    ck_assert_int_gt(read_all("/proc/sys/fs/nr_open", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "1048576\n");
    char a[64], b[64];
    ck_assert_int_eq(read_all("/proc/sys/kernel/random/boot_id", a, sizeof(a)), 37);
    ck_assert_int_eq(read_all("/proc/sys/kernel/random/boot_id", b, sizeof(b)), 37);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(read_all("/proc/sys/kernel/random/uuid", a, sizeof(a)), 37);
    ck_assert_int_eq(a[14], '4');
}
END_TEST

START_TEST(sysfs_tree)
{
    char buf[4096], l[4096];
    ck_assert_int_gt(read_all("/sys/devices/system/cpu/online", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "0-3\n");
    ck_assert_int_eq(list_dir("/sys/devices/system/cpu", l, sizeof(l)), 0);
    ck_assert(has_name(l, "cpu0") && has_name(l, "cpu3") && !has_name(l, "cpu4"));
    ck_assert(has_name(l, "possible") && has_name(l, "present"));
    ck_assert_int_gt(read_all("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "always madvise [never]\n");
    /* /sys/fs/cgroup is a cgroup2 mount */
    ck_assert_int_gt(read_all("/sys/fs/cgroup/memory.max", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "max\n");
    ck_assert_int_gt(read_all("/sys/fs/cgroup/cpu.max", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "max 100000\n");
    ck_assert_int_gt(read_all("/sys/fs/cgroup/pids.max", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "max\n");
    ck_assert_int_gt(read_all("/sys/fs/cgroup/cgroup.procs", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "1\n");
    /* read-only mounts, as a container's /sys and /sys/fs/cgroup */
    ck_assert_int_eq(open_fd("/sys/fs/cgroup/memory.max", O_WRONLY, 0), -EROFS);
    ck_assert_int_eq(vfs_mkdirat(T, AT_FDCWD, "/sys/x", 0755), -EROFS);
    struct linux_stat st;
    ck_assert_int_eq(stat_of("/sys/devices/system/cpu/cpu4", 0, &st), -ENOENT);
    /* the host's /sys never shows: only generated entries */
    ck_assert_int_eq(list_dir("/sys", l, sizeof(l)), 0);
    ck_assert(has_name(l, "devices") && has_name(l, "fs") && has_name(l, "kernel"));
}
END_TEST

START_TEST(statfs_types)
{
    static const struct {
        const char *path;
        int64_t magic;
    } want[] = {
            {"/dir/a.txt", 0x794c7630},  {"/dev/null", 0x01021994},
            {"/proc/self", 0x9fa0},      {"/sys/devices", 0x62656572},
            {"/sys/fs/cgroup", 0x63677270},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int fd = open_fd(want[i].path, O_PATH | O_NOFOLLOW, 0);
        ck_assert_int_ge(fd, 0);
        struct file *f = fd_file(fd);
        struct linux_statfs sf;
        ck_assert_int_eq(vfs_statfs(f->path.mnt, &sf), 0);
        ck_assert_msg(sf.f_type == want[i].magic, "%s: f_type %llx", want[i].path,
                      (long long)sf.f_type);
        ck_assert_int_eq(sf.f_bsize, 4096);
        ck_assert_int_eq(sf.f_namelen, 255);
        ck_assert(sf.f_bfree <= sf.f_blocks);
        file_put(f);
    }
}
END_TEST

/* ---- fd table ---- */

START_TEST(fdtable_basics)
{
    int a = open_fd("/dir/a.txt", O_RDONLY, 0);
    int b = open_fd("/dir/a.txt", O_RDONLY, 0);
    ck_assert_int_eq(a, 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(fdtable_close(T->files, a), 0);
    ck_assert_int_eq(fdtable_close(T->files, a), -EBADF);
    ck_assert_int_eq(open_fd("/dir/a.txt", O_RDONLY, 0), 0);
    ck_assert_int_eq(fdtable_dup_to(T->files, b, 10, 1024, true), 10);
    ck_assert_int_eq(fdtable_get_cloexec(T->files, 10), 1);
    struct fdtable *copy;
    ck_assert_int_eq(fdtable_copy(T->files, &copy), 0);
    fdtable_close_on_exec(copy);
    ck_assert_ptr_null(fdtable_get_file(copy, 10));
    struct file *f = fdtable_get_file(copy, 1);
    ck_assert_ptr_nonnull(f);
    file_put(f);
    fdtable_put(copy);
    struct file *d = fd_file(b);
    ck_assert_int_eq(vfs_llseek(d, 3, SEEK_SET), 3);
    char c;
    ck_assert_int_eq(vfs_read(d, &c, 1), 1);
    ck_assert_int_eq(c, 'l');
    ck_assert_int_eq(vfs_llseek(d, -1, SEEK_SET), -EINVAL);
    ck_assert_int_eq(vfs_write(d, "x", 1), -EBADF);
    file_put(d);
}
END_TEST

/* One case per test, so CK_RUN_CASE=<name> CK_FORK=no runs one under gdb. */
#define ADD(s, fn)                                                                                 \
    do {                                                                                           \
        TCase *tc = tcase_create(#fn);                                                             \
        tcase_add_checked_fixture(tc, setup, teardown);                                            \
        tcase_add_test(tc, fn);                                                                    \
        suite_add_tcase(s, tc);                                                                    \
    } while (0)

static Suite *vfs_suite(void)
{
    Suite *s = suite_create("vfs");
    ADD(s, walk_basic);
    ADD(s, walk_dotdot_at_root);
    ADD(s, walk_symlinks);
    ADD(s, walk_mounts_and_cwd);
    ADD(s, overlay_copy_up);
    ADD(s, overlay_whiteout_and_readdir);
    ADD(s, overlay_rename_link);
    ADD(s, proc_self_exe_and_fd);
    ADD(s, proc_tree);
    ADD(s, proc_system_files);
    ADD(s, sysfs_tree);
    ADD(s, statfs_types);
    ADD(s, fdtable_basics);
    return s;
}

int main(void)
{
    build_host_tree();
    SRunner *sr = srunner_create(vfs_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_host_tree();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
