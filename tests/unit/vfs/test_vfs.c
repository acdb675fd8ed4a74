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
#include "kernel/host/host_io.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"

/* ---- fakes for what the VFS uses outside vfs_src/fs_src ---- */

static struct task g_task;
static struct thread_group g_tg;

struct task *task_current(void)
{
    return &g_task;
}

struct thread_group *task_lookup_tg(int pid)
{
    return pid == g_tg.pid ? &g_tg : NULL;
}

void tg_get(struct thread_group *tg)
{
}

void tg_put(struct thread_group *tg)
{
}

int mm_copy_in(struct mm *mm, void *dst, uint64_t src, size_t n)
{
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return 0;
}

int mm_copy_out(struct mm *mm, uint64_t dst, const void *src, size_t n)
{
    memcpy((void *)(uintptr_t)dst, src, n);
    return 0;
}

long mm_strncpy_in(struct mm *mm, char *dst, uint64_t src, size_t max)
{
    size_t n = strnlen((const char *)(uintptr_t)src, max);
    if (n == max)
        return -ENAMETOOLONG;
    memcpy(dst, (const char *)(uintptr_t)src, n + 1);
    return (long)n;
}

/* Waiting: the unit tests never block, so queues only keep their lists. */
void waitq_init(struct waitq *wq)
{
    pthread_mutex_init(&wq->lock, NULL);
    list_init(&wq->waiters);
}

void waitq_add(struct waitq *wq, struct waiter *w, struct task *t)
{
    w->task = t;
    list_add_tail(&w->link, &wq->waiters);
}

void waitq_del(struct waitq *wq, struct waiter *w)
{
    list_del(&w->link);
}

void waitq_wake_all(struct waitq *wq)
{
}

uint32_t task_wake_seq(struct task *t)
{
    return 0;
}

int task_sleep(struct task *t, uint32_t seq, uint64_t deadline_ns)
{
    return -EINTR;
}

int host_io_watch(int fd, struct waitq *wq)
{
    return -EPERM; /* as for a regular file: never waited on */
}

unsigned host_io_poll_now(int fd, unsigned events)
{
    return events;
}

int host_err_to_guest(int host_errno)
{
    return host_errno > 0 && host_errno < 512 ? -host_errno : -EIO;
}

int host_clock_gettime(int clock, int64_t *out_sec, int64_t *out_nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *out_sec = ts.tv_sec;
    *out_nsec = ts.tv_nsec;
    return 0;
}

int host_getrandom(void *buf, size_t n)
{
    memset(buf, 0x5a, n);
    return 0;
}

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
