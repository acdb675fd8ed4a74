/* Probe: preadv, pwritev, preadv2, pwritev2 (RWF_*), close_range, sync,
 * syncfs, sync_file_range, fallocate, utimes, futimesat, utime, sendfile,
 * copy_file_range, splice, tee, vmsplice. */
#include <sys/time.h>
#include <sys/uio.h>
#include <utime.h>

#include "tap.h"

#ifndef RWF_HIPRI
#define RWF_HIPRI  0x01
#define RWF_DSYNC  0x02
#define RWF_SYNC   0x04
#define RWF_NOWAIT 0x08
#define RWF_APPEND 0x10
#endif
#define L_CLOSE_RANGE_CLOEXEC 0x4
#define L_SPLICE_F_NONBLOCK   0x02

static int open_file(const char *path, int flags)
{
    return syscall(SYS_openat, AT_FDCWD, path, flags, 0644);
}

static void test_vectors(void)
{
    char a[4] = {0}, b[8] = {0};
    struct iovec w[2] = {{(void *)"abcd", 4}, {(void *)"efghijkl", 8}};
    struct iovec r[2] = {{a, 4}, {b, 8}};
    int fd = T_OK(open_file("v", O_RDWR | O_CREAT | O_TRUNC), "create v");

    T_EQ(syscall(SYS_pwritev, fd, w, 2, 10, 0), 12, "pwritev writes both vectors");
    T_EQ(lseek(fd, 0, SEEK_CUR), 0, "pwritev leaves the offset");
    T_EQ(syscall(SYS_preadv, fd, r, 2, 10, 0), 12, "preadv reads both vectors");
    T_TRUE(!memcmp(a, "abcd", 4) && !memcmp(b, "efghijkl", 8), "preadv data");
    T_ERRNO(syscall(SYS_preadv, fd, r, 2, (long)-1, 0), EINVAL, "preadv at -1: EINVAL");
    T_ERRNO(syscall(SYS_preadv, fd, r, 2, (long)-5, 0), EINVAL, "preadv at -5: EINVAL");

    T_EQ(syscall(SYS_pwritev2, fd, w, 1, 0, 0, RWF_DSYNC | RWF_SYNC | RWF_HIPRI), 4,
         "pwritev2 with DSYNC|SYNC|HIPRI");
    T_EQ(lseek(fd, 0, SEEK_CUR), 0, "pwritev2 at an offset leaves the position");
    T_EQ(syscall(SYS_pwritev2, fd, w, 1, (long)-1, 0, 0), 4, "pwritev2 at -1 uses the position");
    T_EQ(lseek(fd, 0, SEEK_CUR), 4, "pwritev2 at -1 advances the position");
    T_EQ(syscall(SYS_pwritev2, fd, w, 1, 0, 0, RWF_APPEND), 4, "pwritev2 RWF_APPEND");
    T_EQ(lseek(fd, 0, SEEK_END), 26, "RWF_APPEND wrote at the end");
    T_ERRNO(syscall(SYS_pwritev2, fd, w, 1, 0, 0, 0x1000), EOPNOTSUPP,
            "pwritev2 unknown flag: EOPNOTSUPP");
    T_ERRNO(syscall(SYS_preadv2, fd, r, 2, (long)-2, 0, 0), EINVAL, "preadv2 at -2: EINVAL");
    lseek(fd, 0, SEEK_SET);
    T_EQ(syscall(SYS_preadv2, fd, r, 1, (long)-1, 0, 0), 4, "preadv2 at -1 reads at the position");
    T_EQ(lseek(fd, 0, SEEK_CUR), 4, "preadv2 at -1 advances");
    T_EQ(syscall(SYS_preadv2, fd, r, 1, 0, 0, RWF_HIPRI), 4, "preadv2 RWF_HIPRI");
    close(fd);

    int p[2];
    T_OK(pipe(p), "pipe");
    T_ERRNO(syscall(SYS_preadv2, p[0], r, 1, (long)-1, 0, RWF_NOWAIT), EAGAIN,
            "preadv2 RWF_NOWAIT on an empty pipe: EAGAIN");
    T_EQ(write(p[1], "xy", 2), 2, "fill the pipe");
    T_EQ(syscall(SYS_preadv2, p[0], r, 1, (long)-1, 0, RWF_NOWAIT), 2,
         "preadv2 RWF_NOWAIT with data");
    T_ERRNO(syscall(SYS_preadv, p[0], r, 1, 0, 0), ESPIPE, "preadv on a pipe: ESPIPE");
    close(p[0]);
    close(p[1]);
}

static void test_close_range(void)
{
    int base = T_OK(open_file("c", O_RDWR | O_CREAT | O_TRUNC), "create c");
    int d1 = dup(base), d2 = dup(base), d3 = dup(base);
    T_TRUE(d1 > base && d2 > d1 && d3 > d2, "three dups");
    T_EQ(syscall(SYS_close_range, d1, d2, L_CLOSE_RANGE_CLOEXEC), 0,
         "close_range CLOSE_RANGE_CLOEXEC");
    T_EQ(fcntl(d1, F_GETFD), FD_CLOEXEC, "first fd is close-on-exec");
    T_EQ(fcntl(d2, F_GETFD), FD_CLOEXEC, "last fd is close-on-exec");
    T_EQ(fcntl(d3, F_GETFD), 0, "fd past the range untouched");
    T_EQ(syscall(SYS_close_range, d1, d2, 0), 0, "close_range closes");
    T_ERRNO(fcntl(d1, F_GETFD), EBADF, "first fd closed");
    T_ERRNO(fcntl(d2, F_GETFD), EBADF, "last fd closed");
    T_EQ(fcntl(d3, F_GETFD), 0, "fd past the range open");
    T_ERRNO(syscall(SYS_close_range, 5, 4, 0), EINVAL, "first > last: EINVAL");
    T_ERRNO(syscall(SYS_close_range, 5, 6, 0x100), EINVAL, "unknown flag: EINVAL");
    T_EQ(syscall(SYS_close_range, d3, ~0U, 0), 0, "close_range to ~0");
    T_ERRNO(fcntl(d3, F_GETFD), EBADF, "closed up to the end");
    close(base);
}

static void test_sync(void)
{
    int fd = T_OK(open_file("s", O_RDWR | O_CREAT | O_TRUNC), "create s");
    T_EQ(syscall(SYS_sync), 0, "sync");
    T_EQ(syscall(SYS_syncfs, fd), 0, "syncfs");
    T_ERRNO(syscall(SYS_syncfs, 999), EBADF, "syncfs bad fd: EBADF");
    T_EQ(syscall(SYS_sync_file_range, fd, 0, 0, 7), 0, "sync_file_range");
    T_ERRNO(syscall(SYS_sync_file_range, fd, 0, 0, 8), EINVAL, "sync_file_range bad flag");
    T_ERRNO(syscall(SYS_sync_file_range, fd, (long)-1, 0, 0), EINVAL, "sync_file_range offset -1");
    int p[2];
    pipe(p);
    T_ERRNO(syscall(SYS_sync_file_range, p[0], 0, 0, 0), ESPIPE, "sync_file_range on a pipe");

    T_EQ(syscall(SYS_fallocate, fd, 0, 0, 8192), 0, "fallocate grows the file");
    T_EQ(lseek(fd, 0, SEEK_END), 8192, "size after fallocate");
    T_EQ(syscall(SYS_fallocate, fd, FALLOC_FL_KEEP_SIZE, 0, 65536), 0, "fallocate KEEP_SIZE");
    T_EQ(lseek(fd, 0, SEEK_END), 8192, "KEEP_SIZE keeps the size");
    pwrite(fd, "zzzz", 4, 100);
    T_EQ(syscall(SYS_fallocate, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), 0,
         "fallocate PUNCH_HOLE");
    char c = 1;
    pread(fd, &c, 1, 100);
    T_EQ(c, 0, "punched range reads as zeros");
    T_ERRNO(syscall(SYS_fallocate, fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP,
            "PUNCH_HOLE without KEEP_SIZE: EOPNOTSUPP");
    T_ERRNO(syscall(SYS_fallocate, fd, 0, 0, 0), EINVAL, "fallocate len 0: EINVAL");
    T_ERRNO(syscall(SYS_fallocate, fd, 0, (long)-1, 10), EINVAL, "fallocate offset -1: EINVAL");
    T_ERRNO(syscall(SYS_fallocate, p[1], 0, 0, 10), ESPIPE, "fallocate on a pipe: ESPIPE");
    T_ERRNO(syscall(SYS_fallocate, 999, 0, 0, 10), EBADF, "fallocate bad fd: EBADF");
    int ro = open_file("s", O_RDONLY);
    T_ERRNO(syscall(SYS_fallocate, ro, 0, 0, 10), EBADF, "fallocate read-only: EBADF");
    close(ro);
    int ap = open_file("s", O_WRONLY | O_APPEND);
    T_EQ(syscall(SYS_fallocate, ap, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 10), 0,
         "punch through an O_APPEND fd (only append-only inodes refuse)");
    close(ap);
    close(p[0]);
    close(p[1]);
    close(fd);
}

static void test_utimes(void)
{
    struct stat st;
    close(open_file("u", O_RDWR | O_CREAT | O_TRUNC));
    struct timeval tv[2] = {{1000, 5}, {2000, 7}};
    T_EQ(syscall(SYS_utimes, "u", tv), 0, "utimes");
    stat("u", &st);
    T_EQ(st.st_atim.tv_sec, 1000, "utimes atime");
    T_EQ(st.st_mtim.tv_nsec, 7000, "utimes mtime usec");
    tv[0].tv_usec = 1000000;
    T_ERRNO(syscall(SYS_utimes, "u", tv), EINVAL, "utimes usec out of range: EINVAL");
    tv[0].tv_usec = 0;
    tv[1].tv_sec = 3000;
    T_EQ(syscall(SYS_futimesat, AT_FDCWD, "u", tv), 0, "futimesat");
    stat("u", &st);
    T_EQ(st.st_mtim.tv_sec, 3000, "futimesat mtime");
    struct utimbuf ub = {4000, 5000};
    T_EQ(syscall(SYS_utime, "u", &ub), 0, "utime");
    stat("u", &st);
    T_EQ(st.st_atim.tv_sec, 4000, "utime atime");
    T_EQ(st.st_mtim.tv_sec, 5000, "utime mtime");
    T_EQ(st.st_mtim.tv_nsec, 0, "utime whole seconds");
    T_EQ(syscall(SYS_utime, "u", NULL), 0, "utime NULL: now");
    stat("u", &st);
    T_TRUE(st.st_mtim.tv_sec > 5000, "utime NULL set the time to now");
    T_ERRNO(syscall(SYS_utimes, "nope", NULL), ENOENT, "utimes missing: ENOENT");
}

static void test_transfer(void)
{
    static char big[300000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7 + i / 251);
    int src = T_OK(open_file("src", O_RDWR | O_CREAT | O_TRUNC), "create src");
    T_EQ(write(src, big, sizeof(big)), (long)sizeof(big), "fill src");
    int dst = T_OK(open_file("dst", O_RDWR | O_CREAT | O_TRUNC), "create dst");

    off_t off = 0;
    T_EQ(syscall(SYS_sendfile, dst, src, &off, sizeof(big) + 100), (long)sizeof(big),
         "sendfile file to file copies all");
    T_EQ(off, (long)sizeof(big), "sendfile advanced *offset");
    T_EQ(lseek(src, 0, SEEK_CUR), (long)sizeof(big), "src position untouched by offset");
    static char back[300000];
    T_EQ(pread(dst, back, sizeof(back), 0), (long)sizeof(back), "read dst back");
    T_TRUE(!memcmp(back, big, sizeof(big)), "sendfile data matches");
    lseek(src, 10, SEEK_SET);
    T_EQ(syscall(SYS_sendfile, dst, src, NULL, 5), 5, "sendfile at the position");
    T_EQ(lseek(src, 0, SEEK_CUR), 15, "sendfile advanced the source position");
    off = -1;
    T_ERRNO(syscall(SYS_sendfile, dst, src, &off, 5), EINVAL, "sendfile offset -1: EINVAL");
    int ro = open_file("dst", O_RDONLY);
    T_ERRNO(syscall(SYS_sendfile, ro, src, NULL, 5), EBADF, "sendfile to read-only: EBADF");
    int ap = open_file("dst", O_WRONLY | O_APPEND);
    T_ERRNO(syscall(SYS_sendfile, ap, src, NULL, 5), EINVAL, "sendfile to O_APPEND: EINVAL");
    close(ap);

    /* copy_file_range */
    int c = T_OK(open_file("cfr", O_RDWR | O_CREAT | O_TRUNC), "create cfr");
    loff_t oi = 1000, oo = 0;
    T_EQ(syscall(SYS_copy_file_range, src, &oi, c, &oo, 50000, 0), 50000, "copy_file_range");
    T_EQ(oi, 51000, "copy_file_range advanced off_in");
    T_EQ(oo, 50000, "copy_file_range advanced off_out");
    T_EQ(pread(c, back, 50000, 0), 50000, "read cfr");
    T_TRUE(!memcmp(back, big + 1000, 50000), "copy_file_range data matches");
    oi = sizeof(big);
    T_EQ(syscall(SYS_copy_file_range, src, &oi, c, NULL, 10, 0), 0, "copy_file_range at EOF: 0");
    T_ERRNO(syscall(SYS_copy_file_range, src, NULL, c, NULL, 10, 1), EINVAL,
            "copy_file_range flags: EINVAL");
    T_ERRNO(syscall(SYS_copy_file_range, src, NULL, ro, NULL, 10, 0), EBADF,
            "copy_file_range to read-only: EBADF");
    oi = 0;
    oo = 10;
    T_ERRNO(syscall(SYS_copy_file_range, c, &oi, c, &oo, 100, 0), EINVAL,
            "copy_file_range overlapping: EINVAL");
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    T_ERRNO(syscall(SYS_copy_file_range, dir, NULL, c, NULL, 10, 0), EISDIR,
            "copy_file_range from a dir: EISDIR");
    int p[2], q[2];
    pipe(p);
    pipe(q);
    T_ERRNO(syscall(SYS_copy_file_range, p[0], NULL, c, NULL, 10, 0), EINVAL,
            "copy_file_range from a pipe: EINVAL");

    /* splice */
    loff_t so = 0;
    T_EQ(syscall(SYS_splice, src, &so, p[1], NULL, 1000, 0), 1000, "splice file to pipe");
    T_EQ(so, 1000, "splice advanced off_in");
    T_EQ(syscall(SYS_tee, p[0], q[1], 300, 0), 300, "tee copies to the second pipe");
    char pb[1000];
    T_EQ(read(q[0], pb, sizeof(pb)), 300, "tee output read");
    T_TRUE(!memcmp(pb, big, 300), "tee data");
    so = 0;
    T_EQ(syscall(SYS_splice, p[0], NULL, c, &so, 2000, 0), 1000, "splice pipe to file");
    T_EQ(pread(c, back, 1000, 0), 1000, "read spliced data");
    T_TRUE(!memcmp(back, big, 1000), "splice left tee's bytes in the pipe");
    T_ERRNO(syscall(SYS_splice, p[0], NULL, c, NULL, 10, L_SPLICE_F_NONBLOCK), EAGAIN,
            "splice empty pipe nonblocking: EAGAIN");
    T_ERRNO(syscall(SYS_splice, src, NULL, c, NULL, 10, 0), EINVAL, "splice file to file: EINVAL");
    T_ERRNO(syscall(SYS_splice, p[0], &so, c, NULL, 10, 0), ESPIPE, "splice pipe offset: ESPIPE");
    T_ERRNO(syscall(SYS_splice, p[0], NULL, p[1], NULL, 10, 0), EINVAL, "splice same pipe: EINVAL");
    T_ERRNO(syscall(SYS_tee, p[0], p[1], 10, 0), EINVAL, "tee same pipe: EINVAL");
    T_ERRNO(syscall(SYS_tee, src, q[1], 10, 0), EINVAL, "tee from a file: EINVAL");
    T_EQ(write(p[1], "abc", 3), 3, "refill");
    T_EQ(syscall(SYS_splice, p[0], NULL, q[1], NULL, 10, 0), 3, "splice pipe to pipe");
    T_EQ(read(q[0], pb, 10), 3, "pipe to pipe data");

    /* vmsplice */
    struct iovec iov[2] = {{(void *)"hello ", 6}, {(void *)"world", 5}};
    T_EQ(syscall(SYS_vmsplice, p[1], iov, 2, 0), 11, "vmsplice into a pipe");
    char rb[11] = {0};
    struct iovec riov = {rb, sizeof(rb)};
    T_EQ(syscall(SYS_vmsplice, p[0], &riov, 1, 0), 11, "vmsplice out of a pipe");
    T_TRUE(!memcmp(rb, "hello world", 11), "vmsplice data");
    T_ERRNO(syscall(SYS_vmsplice, src, iov, 1, 0), EBADF, "vmsplice on a file: EBADF");

    /* A large transfer through a pipe, bounded by the pipe's size. */
    close(p[1]);
    T_EQ(syscall(SYS_splice, p[0], NULL, c, NULL, 10, 0), 0, "splice at pipe EOF: 0");
    close(p[0]);
    close(q[0]);
    close(q[1]);
    close(dir);
    close(ro);
    close(c);
    close(src);
    close(dst);
}

int main(void)
{
    tap_init("fileops");
    test_vectors();
    test_close_range();
    test_sync();
    test_utimes();
    test_transfer();
    return tap_done();
}
