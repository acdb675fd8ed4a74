/* Probe: inotify_init, inotify_init1 (IN_NONBLOCK, IN_CLOEXEC),
 * inotify_add_watch (event masks, IN_ONLYDIR, IN_DONT_FOLLOW,
 * IN_EXCL_UNLINK, IN_MASK_ADD, IN_MASK_CREATE, IN_ONESHOT),
 * inotify_rm_watch (IN_IGNORED); the events of file operations on the
 * probe's directory and on procfs: access, modify, attrib, close, open,
 * moves with cookies, create, delete, delete_self (also deferred while the
 * file is open), move_self, IN_ISDIR, coalescing, IN_Q_OVERFLOW; read,
 * FIONREAD, poll and epoll readiness, /proc/sys/fs/inotify, fdinfo. */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "tap.h"

static char g_buf[256 * 1024] __attribute__((aligned(8)));

static const struct {
    uint32_t bit;
    const char *name;
} g_bits[] = {
        {IN_ACCESS, "ACCESS"},
        {IN_MODIFY, "MODIFY"},
        {IN_ATTRIB, "ATTRIB"},
        {IN_CLOSE_WRITE, "CLOSE_WRITE"},
        {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
        {IN_OPEN, "OPEN"},
        {IN_MOVED_FROM, "MOVED_FROM"},
        {IN_MOVED_TO, "MOVED_TO"},
        {IN_CREATE, "CREATE"},
        {IN_DELETE, "DELETE"},
        {IN_DELETE_SELF, "DELETE_SELF"},
        {IN_MOVE_SELF, "MOVE_SELF"},
        {IN_UNMOUNT, "UNMOUNT"},
        {IN_Q_OVERFLOW, "Q_OVERFLOW"},
        {IN_IGNORED, "IGNORED"},
        {IN_ISDIR, "ISDIR"},
};

/* Reads every queued event (FD must be non-blocking) into OUT as
 * "wd:MASK[:name][:cN]" items separated by spaces; cookies are numbered by
 * first appearance (c1, c2 …) so the values themselves do not matter. */
static void drain(int fd, char *out, size_t size)
{
    uint32_t cookies[16] = {0};
    int ncookies = 0;
    size_t o = 0;
    out[0] = '\0';
    for (;;) {
        ssize_t n = read(fd, g_buf, sizeof(g_buf));
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n;) {
            struct inotify_event *e = (struct inotify_event *)(g_buf + off);
            o += snprintf(out + o, size - o, "%s%d:", o ? " " : "", e->wd);
            int first = 1;
            for (size_t i = 0; i < sizeof(g_bits) / sizeof(g_bits[0]); i++) {
                if (e->mask & g_bits[i].bit) {
                    o += snprintf(out + o, size - o, "%s%s", first ? "" : "|", g_bits[i].name);
                    first = 0;
                }
            }
            if (e->len)
                o += snprintf(out + o, size - o, ":%s", e->name);
            if (e->cookie) {
                int c = 0;
                while (c < ncookies && cookies[c] != e->cookie)
                    c++;
                if (c == ncookies && ncookies < 16)
                    cookies[ncookies++] = e->cookie;
                o += snprintf(out + o, size - o, ":c%d", c + 1);
            }
            off += sizeof(*e) + e->len;
            if (o >= size - 64)
                return;
        }
    }
}

#define EXPECT(fd, want, name)         \
    do {                               \
        char got_[4096];               \
        drain(fd, got_, sizeof(got_)); \
        T_STREQ(got_, want, name);     \
    } while (0)

static void touch(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0)
        close(fd);
}

static void test_init(void)
{
    T_ERRNO(inotify_init1(0x10), EINVAL, "inotify_init1 with unknown flags: EINVAL");
    int fd = T_OK(inotify_init1(IN_NONBLOCK | IN_CLOEXEC), "inotify_init1(IN_NONBLOCK|IN_CLOEXEC)");
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "IN_CLOEXEC sets close-on-exec");
    T_EQ(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE), O_NONBLOCK | O_RDONLY,
         "IN_NONBLOCK: O_NONBLOCK, read-only");
    int fd2 = T_OK(syscall(SYS_inotify_init), "inotify_init");
    T_EQ(fcntl(fd2, F_GETFD), 0, "inotify_init: no close-on-exec");
    T_EQ(fcntl(fd2, F_GETFL) & O_NONBLOCK, 0, "inotify_init: blocking");
    char link[64], target[128] = {0};
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    T_OK(readlink(link, target, sizeof(target) - 1), "readlink /proc/self/fd/N");
    T_STREQ(target, "anon_inode:inotify", "the fd is anon_inode:inotify");
    char c;
    T_ERRNO(read(fd, &c, 1), EAGAIN, "read of an empty non-blocking instance: EAGAIN");
    T_ERRNO(write(fd2, "x", 1), EBADF, "write: EBADF");
    close(fd2);
    close(fd);
}

static void test_add_errors(void)
{
    int fd = inotify_init1(IN_NONBLOCK);
    touch("f");
    T_OK(symlink("f", "lnk"), "symlink lnk -> f");
    T_ERRNO(inotify_add_watch(fd, ".", 0), EINVAL, "mask 0: EINVAL");
    T_ERRNO(inotify_add_watch(fd, ".", IN_MASK_ADD | IN_MASK_CREATE | IN_OPEN), EINVAL,
            "IN_MASK_ADD with IN_MASK_CREATE: EINVAL");
    T_ERRNO(inotify_add_watch(-1, ".", IN_OPEN), EBADF, "bad fd: EBADF");
    int nfd = open("f", O_RDONLY);
    T_ERRNO(inotify_add_watch(nfd, ".", IN_OPEN), EINVAL, "fd of a regular file: EINVAL");
    T_ERRNO(inotify_rm_watch(nfd, 1), EINVAL, "rm_watch on a regular file: EINVAL");
    close(nfd);
    T_ERRNO(inotify_add_watch(fd, "missing", IN_OPEN), ENOENT, "missing path: ENOENT");
    T_ERRNO(inotify_add_watch(fd, "", IN_OPEN), ENOENT, "empty path: ENOENT");
    T_ERRNO(inotify_add_watch(fd, BAD_PTR, IN_OPEN), EFAULT, "bad path pointer: EFAULT");
    T_ERRNO(inotify_add_watch(fd, "f", IN_OPEN | IN_ONLYDIR), ENOTDIR, "IN_ONLYDIR on a file");
    T_ERRNO(inotify_add_watch(fd, "f/x", IN_OPEN), ENOTDIR, "path through a file: ENOTDIR");
    T_EQ(inotify_add_watch(fd, ".", IN_OPEN | IN_ONLYDIR), 1, "IN_ONLYDIR on a directory: wd 1");
    T_EQ(inotify_add_watch(fd, "f", IN_ONLYDIR | IN_DONT_FOLLOW), -1,
         "flags without events on a file with IN_ONLYDIR fail");
    T_EQ(inotify_add_watch(fd, "f", IN_DONT_FOLLOW), 2, "flags alone are a valid mask: wd 2");
    T_EQ(inotify_add_watch(fd, "lnk", IN_OPEN), 2, "lnk followed: the same file, wd 2");
    T_EQ(inotify_add_watch(fd, "lnk", IN_OPEN | IN_DONT_FOLLOW), 3,
         "IN_DONT_FOLLOW watches the link itself: wd 3");
    T_ERRNO(inotify_add_watch(fd, "f", IN_OPEN | IN_MASK_CREATE), EEXIST,
            "IN_MASK_CREATE on a watched file: EEXIST");
    T_ERRNO(inotify_rm_watch(fd, 99), EINVAL, "rm_watch of an unknown wd: EINVAL");
    T_ERRNO(inotify_rm_watch(-1, 1), EBADF, "rm_watch with a bad fd: EBADF");
    T_OK(inotify_rm_watch(fd, 3), "rm_watch 3");
    T_ERRNO(inotify_rm_watch(fd, 3), EINVAL, "rm_watch 3 again: EINVAL");
    T_EQ(inotify_add_watch(fd, "lnk", IN_OPEN | IN_DONT_FOLLOW), 4,
         "watch numbers are not reused at once: wd 4");
    EXPECT(fd, "3:IGNORED", "rm_watch queued IN_IGNORED");
    unlink("lnk");
    unlink("f");
    close(fd);
}

static void test_file_events(void)
{
    int fd = inotify_init1(IN_NONBLOCK);
    mkdir("d", 0755);
    touch("d/f");
    int wdd = inotify_add_watch(fd, "d", IN_ALL_EVENTS);
    int wdf = inotify_add_watch(fd, "d/f", IN_ALL_EVENTS);
    T_EQ(wdd, 1, "watch d");
    T_EQ(wdf, 2, "watch d/f");
    int f = open("d/f", O_RDWR);
    EXPECT(fd, "1:OPEN:f 2:OPEN", "open: OPEN to the directory (named) and to the file");
    write(f, "hello", 5);
    write(f, "world", 5);
    EXPECT(fd, "1:MODIFY:f 2:MODIFY 1:MODIFY:f 2:MODIFY", "two writes: MODIFY each");
    write(f, "!", 1);
    EXPECT(fd, "1:MODIFY:f 2:MODIFY", "another write");
    int wdf2 = inotify_rm_watch(fd, wdf);
    T_EQ(wdf2, 0, "rm_watch of d/f");
    EXPECT(fd, "2:IGNORED", "IN_IGNORED");
    write(f, "a", 1);
    write(f, "b", 1);
    EXPECT(fd, "1:MODIFY:f", "two writes to one watch: merged into one MODIFY");
    wdf = inotify_add_watch(fd, "d/f", IN_ALL_EVENTS);
    T_EQ(wdf, 3, "watch d/f again: wd 3, numbers are not reused at once");
    char b[16];
    pread(f, b, sizeof(b), 0);
    EXPECT(fd, "1:ACCESS:f 3:ACCESS", "pread: ACCESS");
    T_EQ(read(f, b, sizeof(b)), 0, "read at EOF");
    EXPECT(fd, "", "a read of 0 bytes: no event");
    struct iovec iov[2] = {{b, 2}, {b + 2, 2}};
    preadv(f, iov, 2, 0);
    EXPECT(fd, "1:ACCESS:f 3:ACCESS", "preadv: ACCESS");
    pwrite(f, "xy", 2, 1);
    EXPECT(fd, "1:MODIFY:f 3:MODIFY", "pwrite: MODIFY");
    ftruncate(f, 3);
    EXPECT(fd, "1:MODIFY:f 3:MODIFY", "ftruncate: MODIFY");
    fchmod(f, 0600);
    EXPECT(fd, "1:ATTRIB:f 3:ATTRIB", "fchmod: ATTRIB");
    close(f);
    EXPECT(fd, "1:CLOSE_WRITE:f 3:CLOSE_WRITE", "close of a writable file: CLOSE_WRITE");
    f = open("d/f", O_RDONLY);
    close(f);
    EXPECT(fd, "1:OPEN:f 3:OPEN 1:CLOSE_NOWRITE:f 3:CLOSE_NOWRITE",
           "open and close read-only: CLOSE_NOWRITE");
    f = open("d/f", O_PATH);
    close(f);
    EXPECT(fd, "", "O_PATH open and close: no events");
    f = open("d/f", O_WRONLY | O_TRUNC);
    close(f);
    EXPECT(fd, "1:OPEN:f 3:OPEN 1:MODIFY:f 3:MODIFY 1:CLOSE_WRITE:f 3:CLOSE_WRITE",
           "O_TRUNC of an existing file: OPEN, then MODIFY");
    chmod("d/f", 0644);
    EXPECT(fd, "1:ATTRIB:f 3:ATTRIB", "chmod: ATTRIB");
    chown("d/f", getuid(), getgid());
    EXPECT(fd, "1:ATTRIB:f 3:ATTRIB", "chown: ATTRIB");
    chown("d/f", -1, -1);
    EXPECT(fd, "", "chown(-1, -1): no event");
    utimes("d/f", NULL);
    EXPECT(fd, "1:ATTRIB:f 3:ATTRIB", "utimes: ATTRIB");
    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    utimensat(AT_FDCWD, "d/f", ts, 0);
    EXPECT(fd, "1:ACCESS:f 3:ACCESS", "utimensat of atime alone: ACCESS");
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_nsec = UTIME_NOW;
    utimensat(AT_FDCWD, "d/f", ts, 0);
    EXPECT(fd, "1:MODIFY:f 3:MODIFY", "utimensat of mtime alone: MODIFY");
    truncate("d/f", 10);
    EXPECT(fd, "1:MODIFY:f 3:MODIFY", "truncate: MODIFY");
    if (setxattr("d/f", "user.probe", "v", 1, 0) == 0) {
        EXPECT(fd, "1:ATTRIB:f 3:ATTRIB", "setxattr: ATTRIB");
        removexattr("d/f", "user.probe");
        EXPECT(fd, "1:ATTRIB:f 3:ATTRIB", "removexattr: ATTRIB");
    } else {
        tap_skip("setxattr: ATTRIB", "no user xattrs here");
        tap_skip("removexattr: ATTRIB", "no user xattrs here");
    }
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    EXPECT(fd, "1:OPEN|ISDIR", "open of the directory: OPEN|ISDIR to it alone");
    char dents[4096];
    syscall(SYS_getdents64, dfd, dents, sizeof(dents));
    syscall(SYS_getdents64, dfd, dents, sizeof(dents));
    EXPECT(fd, "1:ACCESS|ISDIR", "getdents (twice): ACCESS|ISDIR, merged");
    close(dfd);
    EXPECT(fd, "1:CLOSE_NOWRITE|ISDIR", "close of the directory: CLOSE_NOWRITE|ISDIR");
    close(fd);
    unlink("d/f");
    rmdir("d");
}

static void test_names(void)
{
    int fd = inotify_init1(IN_NONBLOCK);
    mkdir("d", 0755);
    mkdir("e", 0755);
    inotify_add_watch(fd, "d", IN_ALL_EVENTS);
    inotify_add_watch(fd, "e", IN_ALL_EVENTS);
    int f = open("d/a", O_CREAT | O_WRONLY, 0644);
    close(f);
    EXPECT(fd, "1:CREATE:a 1:OPEN:a 1:CLOSE_WRITE:a", "creat: CREATE, OPEN, CLOSE_WRITE");
    mkdir("d/sub", 0755);
    EXPECT(fd, "1:CREATE|ISDIR:sub", "mkdir: CREATE|ISDIR");
    mknod("d/fifo", S_IFIFO | 0644, 0);
    EXPECT(fd, "1:CREATE:fifo", "mknod fifo: CREATE");
    symlink("a", "d/sl");
    EXPECT(fd, "1:CREATE:sl", "symlink: CREATE");
    link("d/a", "d/hard");
    EXPECT(fd, "1:CREATE:hard", "link: CREATE");
    int wa = inotify_add_watch(fd, "d/a", IN_ALL_EVENTS);
    T_EQ(wa, 3, "watch d/a");
    link("d/a", "e/hard2");
    EXPECT(fd, "3:ATTRIB 2:CREATE:hard2", "link of a watched file: ATTRIB to it, CREATE");
    unlink("e/hard2");
    EXPECT(fd, "3:ATTRIB 2:DELETE:hard2", "unlink of one of two names: ATTRIB, DELETE");
    rename("d/a", "e/b");
    EXPECT(fd, "1:MOVED_FROM:a:c1 2:MOVED_TO:b:c1 3:MOVE_SELF",
           "rename across directories: MOVED_FROM, MOVED_TO (one cookie), MOVE_SELF");
    rename("d/sub", "d/sub2");
    EXPECT(fd, "1:MOVED_FROM|ISDIR:sub:c1 1:MOVED_TO|ISDIR:sub2:c1", "rename of a directory");
    int wh = inotify_add_watch(fd, "d/hard", IN_ALL_EVENTS);
    T_EQ(wh, 3, "d/hard is the same file as e/b: wd 3 again");
    touch("d/t");
    EXPECT(fd, "1:CREATE:t 1:OPEN:t 1:CLOSE_WRITE:t", "touch d/t");
    int wt = inotify_add_watch(fd, "d/t", IN_ALL_EVENTS);
    rename("d/t", "d/hard");
    char want[256];
    snprintf(want, sizeof(want), "1:MOVED_FROM:t:c1 1:MOVED_TO:hard:c1 3:ATTRIB %d:MOVE_SELF", wt);
    EXPECT(fd, want, "rename over a file with another name: ATTRIB to it, no DELETE_SELF");
    unlink("e/b");
    EXPECT(fd, "3:ATTRIB 3:DELETE_SELF 3:IGNORED 2:DELETE:b",
           "unlink of the last name: ATTRIB, DELETE_SELF, IGNORED, DELETE");
    touch("d/v");
    drain(fd, want, sizeof(want));
    int wv = inotify_add_watch(fd, "d/v", IN_ALL_EVENTS);
    rename("d/hard", "d/v");
    snprintf(
            want, sizeof(want),
            "1:MOVED_FROM:hard:c1 1:MOVED_TO:v:c1 %d:ATTRIB %d:MOVE_SELF %d:DELETE_SELF %d:IGNORED",
            wv, wt, wv, wv);
    EXPECT(fd, want, "rename over a file's last name: ATTRIB, MOVE_SELF, DELETE_SELF, IGNORED");
    int ws = inotify_add_watch(fd, "d/sub2", IN_ALL_EVENTS);
    rmdir("d/sub2");
    snprintf(want, sizeof(want), "%d:DELETE_SELF %d:IGNORED 1:DELETE|ISDIR:sub2", ws, ws);
    EXPECT(fd, want, "rmdir: DELETE_SELF, IGNORED, DELETE|ISDIR");
    unlink("d/fifo");
    unlink("d/sl");
    EXPECT(fd, "1:DELETE:fifo 1:DELETE:sl", "unlink: DELETE");
    mkdir("d/x", 0755);
    touch("d/y");
    drain(fd, want, sizeof(want));
    T_OK(syscall(SYS_renameat2, AT_FDCWD, "d/x", AT_FDCWD, "d/y", 2 /* RENAME_EXCHANGE */),
         "renameat2 RENAME_EXCHANGE");
    EXPECT(fd, "1:MOVED_FROM|ISDIR:x:c1 1:MOVED_TO|ISDIR:y:c1 1:MOVED_FROM:y:c2 1:MOVED_TO:x:c2",
           "exchange: two moves with two cookies");
    unlink("d/x");
    rmdir("d/y");
    unlink("d/v");
    drain(fd, want, sizeof(want));
    int wdd = inotify_add_watch(fd, "e", IN_ALL_EVENTS);
    T_EQ(wdd, 2, "e is still wd 2");
    rmdir("e");
    EXPECT(fd, "2:DELETE_SELF 2:IGNORED", "rmdir of a watched directory: DELETE_SELF");
    rename("d", "d2");
    EXPECT(fd, "1:MOVE_SELF", "rename of a watched directory: MOVE_SELF");
    chmod("d2", 0700);
    EXPECT(fd, "1:ATTRIB|ISDIR", "chmod of a watched directory: ATTRIB|ISDIR");
    rmdir("d2");
    EXPECT(fd, "1:DELETE_SELF 1:IGNORED", "and the other");
    close(fd);
}

static void test_flags(void)
{
    int fd = inotify_init1(IN_NONBLOCK);
    mkdir("d", 0755);
    touch("d/f");
    int w = inotify_add_watch(fd, "d/f", IN_MODIFY | IN_ONESHOT);
    int f = open("d/f", O_WRONLY);
    write(f, "a", 1);
    write(f, "a", 1);
    close(f);
    char want[256];
    snprintf(want, sizeof(want), "%d:MODIFY %d:IGNORED", w, w);
    EXPECT(fd, want, "IN_ONESHOT: one event, then IN_IGNORED");
    w = inotify_add_watch(fd, "d/f", IN_OPEN);
    T_EQ(inotify_add_watch(fd, "d/f", IN_CLOSE | IN_MASK_ADD), w, "IN_MASK_ADD: the same wd");
    f = open("d/f", O_RDONLY);
    close(f);
    snprintf(want, sizeof(want), "%d:OPEN %d:CLOSE_NOWRITE", w, w);
    EXPECT(fd, want, "IN_MASK_ADD added CLOSE to OPEN");
    T_EQ(inotify_add_watch(fd, "d/f", IN_CLOSE), w, "a mask without IN_MASK_ADD replaces");
    f = open("d/f", O_RDONLY);
    close(f);
    snprintf(want, sizeof(want), "%d:CLOSE_NOWRITE", w);
    EXPECT(fd, want, "only CLOSE now");
    inotify_rm_watch(fd, w);
    drain(fd, want, sizeof(want));

    /* IN_EXCL_UNLINK: no events about a child after its unlink. */
    int wd1 = inotify_add_watch(fd, "d", IN_MODIFY | IN_EXCL_UNLINK);
    f = open("d/f", O_WRONLY);
    unlink("d/f");
    write(f, "b", 1);
    EXPECT(fd, "", "IN_EXCL_UNLINK: no MODIFY of an unlinked child");
    T_EQ(inotify_add_watch(fd, "d", IN_MODIFY), wd1, "the same watch without IN_EXCL_UNLINK");
    write(f, "c", 1);
    snprintf(want, sizeof(want), "%d:MODIFY:f", wd1);
    EXPECT(fd, want, "without it: MODIFY of the unlinked child, named");
    close(f);

    /* DELETE_SELF waits for the last close of an open unlinked file. */
    touch("d/g");
    int wg = inotify_add_watch(fd, "d/g", IN_ALL_EVENTS);
    f = open("d/g", O_RDWR);
    drain(fd, want, sizeof(want));
    unlink("d/g");
    snprintf(want, sizeof(want), "%d:ATTRIB", wg);
    EXPECT(fd, want, "unlink of an open file: ATTRIB only");
    write(f, "x", 1);
    snprintf(want, sizeof(want), "%d:MODIFY:g %d:MODIFY", wd1, wg);
    EXPECT(fd, want, "writes still reach the file's watch (and the directory's, named)");
    close(f);
    snprintf(want, sizeof(want), "%d:CLOSE_WRITE %d:DELETE_SELF %d:IGNORED", wg, wg, wg);
    EXPECT(fd, want, "last close: CLOSE_WRITE, DELETE_SELF, IGNORED");
    close(fd);
    rmdir("d");
}

static void *late_touch(void *arg)
{
    usleep(100 * 1000);
    touch((const char *)arg);
    return NULL;
}

static void test_reading(void)
{
    int fd = inotify_init1(IN_NONBLOCK);
    mkdir("d", 0755);
    int w = inotify_add_watch(fd, "d", IN_CREATE);
    int n = -1;
    T_OK(ioctl(fd, FIONREAD, &n), "FIONREAD");
    T_EQ(n, 0, "FIONREAD of an empty queue: 0");
    struct pollfd p = {fd, POLLIN, 0};
    T_EQ(poll(&p, 1, 0), 0, "poll: not readable");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    T_EQ(epoll_wait(ep, &out, 1, 0), 0, "epoll: not ready");
    touch("d/a");
    touch("d/bbbbbbbbbbbbbbbbbbbb");
    T_OK(ioctl(fd, FIONREAD, &n), "FIONREAD");
    T_EQ(n, 16 + 16 + 16 + 32, "FIONREAD: two events with names padded to 16 and 32");
    T_EQ(poll(&p, 1, 0), 1, "poll: readable");
    T_EQ(p.revents, POLLIN, "POLLIN");
    T_EQ(epoll_wait(ep, &out, 1, 0), 1, "epoll: ready");
    T_EQ(out.data.u32, 7, "epoll data");
    char small[16];
    T_ERRNO(read(fd, small, sizeof(small)), EINVAL, "read buffer too small for an event: EINVAL");
    char buf[64] __attribute__((aligned(8)));
    T_EQ(read(fd, buf, 40), 32, "read returns whole events only");
    struct inotify_event *e = (struct inotify_event *)buf;
    T_EQ(e->wd, w, "wd");
    T_EQ(e->mask, IN_CREATE, "mask");
    T_EQ(e->cookie, 0, "cookie 0");
    T_EQ(e->len, 16, "len: name, NUL and padding");
    T_STREQ(e->name, "a", "name");
    T_EQ(read(fd, buf, sizeof(buf)), 48, "the second event");
    T_EQ(e->len, 32, "len 32");
    T_ERRNO(read(fd, buf, sizeof(buf)), EAGAIN, "empty: EAGAIN");

    /* A blocking read waits for an event. */
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    pthread_t th;
    pthread_create(&th, NULL, late_touch, (void *)"d/late");
    T_EQ(read(fd, buf, sizeof(buf)), 32, "a blocking read returns when the event comes");
    T_STREQ(e->name, "late", "named late");
    pthread_join(th, NULL);
    pthread_create(&th, NULL, late_touch, (void *)"d/late2");
    T_EQ(epoll_wait(ep, &out, 1, 5000), 1, "epoll_wait wakes for the event");
    pthread_join(th, NULL);
    fcntl(fd, F_SETFL, flags);
    drain(fd, buf, sizeof(buf));
    close(ep);
    close(fd);
    unlink("d/a");
    unlink("d/bbbbbbbbbbbbbbbbbbbb");
    unlink("d/late");
    unlink("d/late2");
    rmdir("d");
}

static int read_int(const char *path)
{
    char b[32] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    read(fd, b, sizeof(b) - 1);
    close(fd);
    return atoi(b);
}

static void test_overflow(void)
{
    /*
     * The host's values are its administrator's (CI machines raise
     * max_user_instances); moat's are Linux's defaults. Both are sane
     * positive limits, and the overflow below follows whichever is set.
     */
    int max = read_int("/proc/sys/fs/inotify/max_queued_events");
    T_TRUE(max > 0, "/proc/sys/fs/inotify/max_queued_events: positive");
    T_TRUE(read_int("/proc/sys/fs/inotify/max_user_instances") > 0,
           "/proc/sys/fs/inotify/max_user_instances: positive");
    T_TRUE(read_int("/proc/sys/fs/inotify/max_user_watches") > 0,
           "/proc/sys/fs/inotify/max_user_watches: positive");
    struct stat st;
    T_OK(stat("/proc/sys/fs/inotify/max_user_watches", &st), "stat max_user_watches");
    T_EQ(st.st_mode, S_IFREG | 0644, "mode 0644");
    if (max <= 0 || max > (1 << 20))
        return;
    int fd = inotify_init1(IN_NONBLOCK);
    touch("a");
    touch("b");
    inotify_add_watch(fd, "a", IN_MODIFY);
    inotify_add_watch(fd, "b", IN_MODIFY);
    int fa = open("a", O_WRONLY), fb = open("b", O_WRONLY);
    /* Alternating files: no two consecutive events merge. */
    for (int i = 0; i < max + 10; i++)
        write(i % 2 ? fb : fa, "x", 1);
    int n = 0;
    ioctl(fd, FIONREAD, &n);
    T_EQ(n, (max + 1) * 16, "the queue holds max_queued_events events and the overflow one");
    int events = 0, overflow = 0, last_wd = 0;
    for (;;) {
        ssize_t r = read(fd, g_buf, sizeof(g_buf));
        if (r <= 0)
            break;
        for (ssize_t off = 0; off < r; off += 16) {
            struct inotify_event *e = (struct inotify_event *)(g_buf + off);
            events++;
            if (e->mask & IN_Q_OVERFLOW) {
                overflow++;
                last_wd = e->wd;
            }
        }
    }
    T_EQ(events, max + 1, "read all of them");
    T_EQ(overflow, 1, "one IN_Q_OVERFLOW");
    T_EQ(last_wd, -1, "with wd -1");
    write(fa, "x", 1);
    char got[64];
    drain(fd, got, sizeof(got));
    T_STREQ(got, "1:MODIFY", "events queue again once read");
    close(fa);
    close(fb);
    close(fd);
    unlink("a");
    unlink("b");
}

static void test_fdinfo_proc(void)
{
    int fd = inotify_init1(IN_NONBLOCK);
    struct stat st;
    stat(".", &st);
    int w = inotify_add_watch(fd, ".", IN_CREATE | IN_DELETE | IN_ONESHOT);
    char path[64], info[1024] = {0}, want[256];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    int ifd = open(path, O_RDONLY);
    read(ifd, info, sizeof(info) - 1);
    close(ifd);
    snprintf(want, sizeof(want), "inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:0", w,
             (unsigned long)st.st_ino, (major(st.st_dev) << 20) | minor(st.st_dev),
             IN_CREATE | IN_DELETE | IN_ONESHOT);
    char *line = strstr(info, "inotify wd:");
    if (line)
        line[strlen(want) < strlen(line) ? strlen(want) : strlen(line)] = '\0';
    T_STREQ(line, want, "fdinfo: inotify wd, ino, sdev, mask");
    inotify_rm_watch(fd, w);

    /* procfs: our own /proc/PID/comm, which nobody else opens. */
    char comm[64];
    snprintf(comm, sizeof(comm), "/proc/%d/comm", getpid());
    w = inotify_add_watch(fd, comm, IN_ALL_EVENTS);
    T_TRUE(w > 0, "watch /proc/PID/comm");
    drain(fd, info, sizeof(info));
    int c = open(comm, O_RDONLY);
    read(c, info, sizeof(info));
    close(c);
    snprintf(want, sizeof(want), "%d:OPEN %d:ACCESS %d:CLOSE_NOWRITE", w, w, w);
    EXPECT(fd, want, "procfs file: OPEN, ACCESS, CLOSE_NOWRITE");
    close(fd);
}

/* exec of a watched program: OPEN, ACCESS (the kernel reads its header),
 * CLOSE_NOWRITE. A private copy, so no other run of this probe touches it. */
static void test_exec(void)
{
    int in = open("/proc/self/exe", O_RDONLY);
    int out = open("prog", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    ssize_t n;
    while ((n = read(in, g_buf, sizeof(g_buf))) > 0)
        write(out, g_buf, n);
    close(in);
    close(out);
    int fd = inotify_init1(IN_NONBLOCK);
    int w = inotify_add_watch(fd, "prog", IN_ALL_EVENTS);
    pid_t p = fork();
    if (p == 0) {
        execl("./prog", "prog", "--exit", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the copy ran");
    char want[128];
    snprintf(want, sizeof(want), "%d:OPEN %d:ACCESS %d:CLOSE_NOWRITE", w, w, w);
    EXPECT(fd, want, "exec: OPEN, ACCESS, CLOSE_NOWRITE");
    close(fd);
    unlink("prog");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exit") == 0)
        return 0;
    tap_init("inotify");
    test_init();
    test_add_errors();
    test_file_events();
    test_names();
    test_flags();
    test_reading();
    test_overflow();
    test_fdinfo_proc();
    test_exec();
    return tap_done();
}
