/*
 * File descriptors and I/O: read, write, readv, writev, pread64, pwrite64,
 * open, openat, openat2, creat, close, fstat, lseek, getdents, getdents64, ioctl,
 * fcntl, dup, dup2, dup3, fsync, fdatasync, ftruncate, preadv, pwritev,
 * preadv2, pwritev2, vmsplice, close_range, sync, syncfs, sync_file_range,
 * fallocate, name_to_handle_at and open_by_handle_at (refused).
 *
 * Data moves between app memory and files through a bounded kernel buffer
 * (IO_CHUNK bytes at a time), or, for files whose I/O only copies
 * (file_ops direct_io: tmpfs, hostfs), straight between the file and the
 * app's pages (mm_io_user); a fault after some bytes moved returns the
 * count moved so far.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kernel/ipc/pipe.h"
#include "kernel/ipc/shmem.h"
#include "kernel/ipc/fasync.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/vfs/notify.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "kernel/vfs/vfs_lock.h"
#include "lib/log.h"

#define IO_CHUNK   (64 * 1024)
#define IOV_MAX_NR 1024
#define MAX_RW     0x7ffff000ul /* Linux's MAX_RW_COUNT */

#define L_FIONCLEX 0x5450
#define L_FIOCLEX  0x5451
#define L_FIONBIO  0x5421
#define L_FIOASYNC 0x5452

/* RLIMIT_NOFILE of T, capped to VFS_NR_OPEN. */
static int nofile_limit(struct task *t)
{
    pthread_mutex_lock(&t->tg->lock);
    uint64_t cur = t->tg->rlim[RLIMIT_NOFILE].rlim_cur;
    pthread_mutex_unlock(&t->tg->lock);
    return cur > VFS_NR_OPEN ? VFS_NR_OPEN : (int)cur;
}

/* The file at FD (new reference) that is not O_PATH, or NULL (-EBADF). */
static struct file *get_io_file(struct task *t, uint64_t fd)
{
    struct file *f = fdtable_get_file(t->files, (int)fd);
    if (f && vfs_file_is_opath(f)) {
        file_put(f);
        return NULL;
    }
    return f;
}

/* Files whose read and write only copy (file_ops direct_io: tmpfs,
 * hostfs) move data straight between the file and app memory. */
struct direct_io {
    struct file *f;
    int64_t off; /* < 0: at f->pos */
};

static long direct_read(void *ctx, void *p, size_t len)
{
    struct direct_io *d = ctx;
    ssize_t got = d->off < 0 ? vfs_read(d->f, p, len) : vfs_pread(d->f, p, len, (uint64_t)d->off);
    if (got > 0 && d->off >= 0)
        d->off += got;
    return got;
}

static long direct_write(void *ctx, void *p, size_t len)
{
    struct direct_io *d = ctx;
    ssize_t put = d->off < 0 ? vfs_write(d->f, p, len) : vfs_pwrite(d->f, p, len, (uint64_t)d->off);
    if (put > 0 && d->off >= 0)
        d->off += put;
    return put;
}

/* Reads up to N bytes at app address BUF: OFF < 0 means at f->pos. */
static long do_read(struct task *t, struct file *f, uint64_t buf, size_t n, int64_t off)
{
    if (n > MAX_RW)
        n = MAX_RW;
    if (n == 0) {
        /* Still reports EBADF/EISDIR as Linux does. */
        char c;
        ssize_t r = off < 0 ? vfs_read(f, &c, 0) : vfs_pread(f, &c, 0, (uint64_t)off);
        return r < 0 ? r : 0;
    }
    if (f->ops && f->ops->direct_io) {
        struct direct_io d = {f, off};
        long r = mm_io_user(t->mm, buf, n, true, direct_read, &d);
        if (r != -EOPNOTSUPP)
            return r;
    }
    char *kbuf = malloc(MIN(n, (size_t)IO_CHUNK));
    if (!kbuf)
        return -ENOMEM;
    size_t done = 0;
    long r = 0;
    while (done < n) {
        size_t chunk = MIN(n - done, (size_t)IO_CHUNK);
        ssize_t got = off < 0 ? vfs_read(f, kbuf, chunk)
                              : vfs_pread(f, kbuf, chunk, (uint64_t)off + done);
        if (got < 0) {
            r = got;
            break;
        }
        if (got == 0)
            break;
        if (copy_out(t, buf + done, kbuf, (size_t)got) < 0) {
            /* Give a seekable file its offset back, as Linux leaves it
             * where the copy stopped. FIXME: bytes read from a pipe or
             * tty into a bad buffer are lost. */
            if (off < 0 && vfs_file_is_seekable(f))
                vfs_llseek(f, -(int64_t)got, SEEK_CUR);
            r = -EFAULT;
            break;
        }
        done += (size_t)got;
        if ((size_t)got < chunk)
            break; /* short read: don't block for more */
    }
    free(kbuf);
    return done ? (long)done : r;
}

/* RLIMIT_FSIZE once for a whole write of *N bytes to the regular file F
 * at OFF (< 0: its position, or its end with O_APPEND), as Linux checks
 * one write: cut at the limit, or SIGXFSZ and -EFBIG at it. The file
 * system's own check then never fires for a later piece of the same
 * write (chunks, iovecs, VMA pieces). 0 or -EFBIG. */
static long fsize_clamp(struct task *t, struct file *f, int64_t off, size_t *n)
{
    if (__atomic_load_n(&t->tg->rlim[RLIMIT_FSIZE].rlim_cur, __ATOMIC_RELAXED) == RLIM_INFINITY ||
        (f->inode->mode & VFS_S_IFMT) != VFS_S_IFREG)
        return 0;
    int64_t pos = off;
    struct linux_stat st;
    if (pos < 0 && (vfs_file_flags(f) & O_APPEND))
        pos = vfs_fstat(f, &st) == 0 ? st.st_size : -1;
    else if (pos < 0)
        pos = vfs_llseek(f, 0, SEEK_CUR);
    return pos >= 0 ? task_fsize_write_check((uint64_t)pos, n) : 0;
}

static long do_write(struct task *t, struct file *f, uint64_t buf, size_t n, int64_t off)
{
    if (n > MAX_RW)
        n = MAX_RW;
    if (n == 0) {
        ssize_t r = off < 0 ? vfs_write(f, "", 0) : vfs_pwrite(f, "", 0, (uint64_t)off);
        return r < 0 ? r : 0;
    }
    long lr = fsize_clamp(t, f, off, &n);
    if (lr < 0)
        return lr;
    if (f->ops && f->ops->direct_io) {
        struct direct_io d = {f, off};
        long r = mm_io_user(t->mm, buf, n, false, direct_write, &d);
        if (r != -EOPNOTSUPP)
            return r;
    }
    char *kbuf = malloc(MIN(n, (size_t)IO_CHUNK));
    if (!kbuf)
        return -ENOMEM;
    size_t done = 0;
    long r = 0;
    while (done < n) {
        size_t chunk = MIN(n - done, (size_t)IO_CHUNK);
        if (copy_in(t, kbuf, buf + done, chunk) < 0) {
            r = -EFAULT;
            break;
        }
        ssize_t put = off < 0 ? vfs_write(f, kbuf, chunk)
                              : vfs_pwrite(f, kbuf, chunk, (uint64_t)off + done);
        if (put < 0) {
            r = put;
            break;
        }
        done += (size_t)put;
        if ((size_t)put < chunk)
            break;
    }
    free(kbuf);
    return done ? (long)done : r;
}

/* One IN_ACCESS / IN_MODIFY per call that moved bytes: R. */
static long rw_notify(struct file *f, long r, bool write)
{
    if (r > 0)
        fsnotify_file(f, write ? FSN_MODIFY : FSN_ACCESS);
    return r;
}

static long sys_read(struct task *t, const struct sys_args *a)
{
    struct file *f = get_io_file(t, a->arg[0]);
    if (!f)
        return -EBADF;
    long r = rw_notify(f, do_read(t, f, a->arg[1], a->arg[2], -1), false);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(read, sys_read, "fBu", SYS_FULL, NULL);

static long sys_write(struct task *t, const struct sys_args *a)
{
    struct file *f = get_io_file(t, a->arg[0]);
    if (!f)
        return -EBADF;
    long r = rw_notify(f, do_write(t, f, a->arg[1], a->arg[2], -1), true);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(write, sys_write, "fbu", SYS_FULL, NULL);

static long sys_pread64(struct task *t, const struct sys_args *a)
{
    if ((int64_t)a->arg[3] < 0)
        return -EINVAL;
    struct file *f = get_io_file(t, a->arg[0]);
    if (!f)
        return -EBADF;
    long r = rw_notify(f, do_read(t, f, a->arg[1], a->arg[2], (int64_t)a->arg[3]), false);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(pread64, sys_pread64, "fBud", SYS_FULL, NULL);

static long sys_pwrite64(struct task *t, const struct sys_args *a)
{
    if ((int64_t)a->arg[3] < 0)
        return -EINVAL;
    struct file *f = get_io_file(t, a->arg[0]);
    if (!f)
        return -EBADF;
    long r = rw_notify(f, do_write(t, f, a->arg[1], a->arg[2], (int64_t)a->arg[3]), true);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(pwrite64, sys_pwrite64, "fbud", SYS_FULL, NULL);

/* readv/writev and the positioned variants: OFF < 0 means at f->pos. */
static long do_rwv(struct task *t, uint64_t fd, uint64_t uiov, uint64_t cnt, int64_t off,
                   bool write)
{
    if (cnt > IOV_MAX_NR)
        return -EINVAL;
    struct file *f = get_io_file(t, fd);
    if (!f)
        return -EBADF;
    struct linux_iovec *iov = NULL;
    long r = 0;
    if (cnt) {
        iov = malloc(cnt * sizeof(*iov));
        if (!iov) {
            r = -ENOMEM;
            goto out_put;
        }
        if (copy_in(t, iov, uiov, cnt * sizeof(*iov)) < 0) {
            r = -EFAULT;
            goto out_free;
        }
    }
    uint64_t total = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        if ((int64_t)iov[i].iov_len < 0 || total + iov[i].iov_len < total ||
            (int64_t)(total + iov[i].iov_len) < 0) {
            r = -EINVAL;
            goto out_free;
        }
        total += iov[i].iov_len;
    }
    if (cnt == 0) {
        r = write ? do_write(t, f, 0, 0, off) : do_read(t, f, 0, 0, off);
        goto out_free;
    }
    if (write && total) {
        /* RLIMIT_FSIZE once for the whole vector (see fsize_clamp). */
        size_t allowed = (size_t)total;
        if ((r = fsize_clamp(t, f, off, &allowed)) < 0)
            goto out_free;
        for (uint64_t i = 0; i < cnt; i++) {
            iov[i].iov_len = MIN(iov[i].iov_len, allowed);
            allowed -= iov[i].iov_len;
        }
    }
    long done = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        if (iov[i].iov_len == 0)
            continue;
        int64_t at = off < 0 ? -1 : off + done;
        long n = write ? do_write(t, f, iov[i].iov_base, iov[i].iov_len, at)
                       : do_read(t, f, iov[i].iov_base, iov[i].iov_len, at);
        if (n < 0) {
            if (done == 0)
                r = n;
            break;
        }
        done += n;
        if ((uint64_t)n < iov[i].iov_len)
            break;
    }
    if (done)
        r = rw_notify(f, done, write);
out_free:
    free(iov);
out_put:
    file_put(f);
    return r;
}

static long sys_readv(struct task *t, const struct sys_args *a)
{
    return do_rwv(t, a->arg[0], a->arg[1], a->arg[2], -1, false);
}
SYSCALL_DEFINE(readv, sys_readv, "fpu", SYS_FULL, NULL);

static long sys_writev(struct task *t, const struct sys_args *a)
{
    return do_rwv(t, a->arg[0], a->arg[1], a->arg[2], -1, true);
}
SYSCALL_DEFINE(writev, sys_writev, "fpu", SYS_FULL, NULL);

/* ---- open/close ---- */

static long do_openat(struct task *t, int dirfd, uint64_t upath, int flags, uint32_t mode)
{
    char *path = malloc(LINUX_PATH_MAX);
    if (!path)
        return -ENOMEM;
    long r = copy_path_in(t, path, upath);
    if (r < 0)
        goto out_free;
    if (path[0] == '\0') {
        r = -ENOENT;
        goto out_free;
    }
    struct file *f;
    r = vfs_openat(t, dirfd, path, flags, mode, &f);
    if (r < 0)
        goto out_free;
    r = fdtable_alloc(t->files, 0, nofile_limit(t), f, flags & O_CLOEXEC);
    file_put(f);
out_free:
    free(path);
    return r;
}

static long sys_open(struct task *t, const struct sys_args *a)
{
    return do_openat(t, AT_FDCWD, a->arg[0], (int)a->arg[1], (uint32_t)a->arg[2]);
}
SYSCALL_DEFINE(open, sys_open, "sxo", SYS_PARTIAL, "O_TMPFILE on memory-backed file systems only");

static long sys_openat(struct task *t, const struct sys_args *a)
{
    return do_openat(t, (int)a->arg[0], a->arg[1], (int)a->arg[2], (uint32_t)a->arg[3]);
}
SYSCALL_DEFINE(openat, sys_openat, "fsxo", SYS_PARTIAL,
               "O_TMPFILE on memory-backed file systems only");

/* openat2: struct open_how {u64 flags, mode, resolve} of SIZE bytes (larger
 * structs are accepted if the extra bytes are zero). */
#define L_OPEN_HOW_SIZE 24
#define L_RESOLVE_ALL   0x3f
#define L_VALID_OPEN_FLAGS                                                                         \
    (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |         \
     O_ASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC |         \
     O_SYNC | O_PATH | O_TMPFILE)

static long sys_openat2(struct task *t, const struct sys_args *a)
{
    uint64_t size = a->arg[3];
    if (size < L_OPEN_HOW_SIZE)
        return -EINVAL;
    if (size > 4096)
        return -E2BIG;
    uint64_t how[3];
    if (copy_in(t, how, a->arg[2], sizeof(how)) < 0)
        return -EFAULT;
    for (uint64_t off = sizeof(how); off < size; off += 8) {
        uint8_t tail[8] = {0};
        size_t n = MIN((size_t)(size - off), sizeof(tail));
        if (copy_in(t, tail, a->arg[2] + off, n) < 0)
            return -EFAULT;
        for (size_t i = 0; i < n; i++)
            if (tail[i])
                return -E2BIG;
    }
    uint64_t flags = how[0], mode = how[1], resolve = how[2];
    if (flags & ~(uint64_t)(unsigned)L_VALID_OPEN_FLAGS)
        return -EINVAL;
    if (resolve & ~(uint64_t)L_RESOLVE_ALL)
        return -EINVAL;
    if ((resolve & 0x08) && (resolve & 0x10)) /* BENEATH with IN_ROOT */
        return -EINVAL;
    if (mode & ~07777ull)
        return -EINVAL;
    if (mode && !(flags & O_CREAT) && (flags & O_TMPFILE) != O_TMPFILE)
        return -EINVAL;
    if ((flags & O_PATH) && (flags & ~(uint64_t)(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)))
        return -EINVAL;
    if ((resolve & 0x20) && (flags & (O_CREAT | O_TRUNC | O_TMPFILE)))
        return -EAGAIN;
    char *path = malloc(LINUX_PATH_MAX);
    if (!path)
        return -ENOMEM;
    long r = copy_path_in(t, path, a->arg[1]);
    if (r < 0)
        goto out_free;
    struct file *f;
    r = vfs_openat2(t, (int)a->arg[0], path, (int)flags, (uint32_t)mode, (unsigned)resolve, &f);
    if (r < 0)
        goto out_free;
    r = fdtable_alloc(t->files, 0, nofile_limit(t), f, flags & O_CLOEXEC);
    file_put(f);
out_free:
    free(path);
    return r;
}
SYSCALL_DEFINE(openat2, sys_openat2, "fspu", SYS_FULL, NULL);

static long sys_creat(struct task *t, const struct sys_args *a)
{
    return do_openat(t, AT_FDCWD, a->arg[0], O_CREAT | O_WRONLY | O_TRUNC, (uint32_t)a->arg[1]);
}
SYSCALL_DEFINE(creat, sys_creat, "so", SYS_FULL, NULL);

static long sys_close(struct task *t, const struct sys_args *a)
{
    return fdtable_close(t->files, (int)a->arg[0]);
}
SYSCALL_DEFINE(close, sys_close, "f", SYS_FULL, NULL);

static long sys_fstat(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    struct linux_stat st;
    long r = vfs_fstat(f, &st);
    file_put(f);
    if (r == 0)
        r = copy_out(t, a->arg[1], &st, sizeof(st));
    return r;
}
SYSCALL_DEFINE(fstat, sys_fstat, "fp", SYS_FULL, NULL);

static long sys_lseek(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = vfs_llseek(f, (int64_t)a->arg[1], (int)a->arg[2]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(lseek, sys_lseek, "fdd", SYS_FULL, NULL);

static long do_getdents(struct task *t, const struct sys_args *a, bool old)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    size_t n = MIN((size_t)a->arg[2], (size_t)IO_CHUNK);
    char *kbuf = malloc(n ? n : 1);
    long r = kbuf ? vfs_getdents(f, kbuf, n, old) : -ENOMEM;
    if (r > 0 && copy_out(t, a->arg[1], kbuf, (size_t)r) < 0)
        r = -EFAULT;
    free(kbuf);
    file_put(f);
    return r;
}

static long sys_getdents64(struct task *t, const struct sys_args *a)
{
    return do_getdents(t, a, false);
}
SYSCALL_DEFINE(getdents64, sys_getdents64, "fpu", SYS_FULL, NULL);

static long sys_getdents(struct task *t, const struct sys_args *a)
{
    return do_getdents(t, a, true);
}
SYSCALL_DEFINE(getdents, sys_getdents, "fpu", SYS_FULL, NULL);

static long sys_ioctl(struct task *t, const struct sys_args *a)
{
    int fd = (int)a->arg[0];
    unsigned cmd = (unsigned)a->arg[1];
    struct file *f = fdtable_get_file(t->files, fd);
    if (!f)
        return -EBADF;
    long r;
    if (vfs_file_is_opath(f)) {
        r = -EBADF;
    } else if (cmd == L_FIOCLEX || cmd == L_FIONCLEX) {
        r = fdtable_set_cloexec(t->files, fd, cmd == L_FIOCLEX);
    } else if (cmd == L_FIOASYNC) {
        int on;
        r = copy_in(t, &on, a->arg[2], sizeof(on));
        if (r == 0) {
            unsigned fl = vfs_file_flags(f);
            bool was = fl & O_ASYNC;
            if ((on != 0) != was) {
                r = fasync_supported(f) ? fasync_set(f, fd, on != 0) : -ENOTTY;
                if (r == 0)
                    r = vfs_file_set_flags(f, on ? fl | O_ASYNC : fl & ~(unsigned)O_ASYNC);
            }
        }
    } else if (cmd == L_FIONBIO) {
        int on;
        r = copy_in(t, &on, a->arg[2], sizeof(on));
        if (r == 0) {
            unsigned fl = vfs_file_flags(f);
            r = vfs_file_set_flags(f, on ? fl | O_NONBLOCK : fl & ~(unsigned)O_NONBLOCK);
        }
    } else {
        r = vfs_ioctl(f, t, cmd, a->arg[2]);
    }
    file_put(f);
    return r;
}
SYSCALL_DEFINE(ioctl, sys_ioctl, "fxx", SYS_PARTIAL, "host ttys: termios, winsize, pgrp only");

#define L_F_SETPIPE_SZ 1031
#define L_F_GETPIPE_SZ 1032

static long sys_fcntl(struct task *t, const struct sys_args *a)
{
    int fd = (int)a->arg[0];
    int cmd = (int)a->arg[1];
    uint64_t arg = a->arg[2];
    struct file *f = fdtable_get_file(t->files, fd);
    if (!f)
        return -EBADF;
    long r;
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int lim = nofile_limit(t);
        r = (int64_t)(int)arg < 0 || (int)arg >= lim
                    ? -EINVAL
                    : fdtable_alloc(t->files, (int)arg, lim, f, cmd == F_DUPFD_CLOEXEC);
        break;
    }
    case F_GETFD:
        r = fdtable_get_cloexec(t->files, fd);
        if (r > 0)
            r = FD_CLOEXEC;
        break;
    case F_SETFD:
        r = fdtable_set_cloexec(t->files, fd, arg & FD_CLOEXEC);
        break;
    case F_GETFL: {
        unsigned fl = vfs_file_flags(f);
        r = (long)(fl | (vfs_file_is_opath(f) ? O_PATH : 0));
        break;
    }
    case F_SETFL: {
        if (vfs_file_is_opath(f)) {
            r = -EBADF;
            break;
        }
        bool was_async = vfs_file_flags(f) & O_ASYNC;
        bool async = arg & O_ASYNC;
        r = 0;
        if (async != was_async && fasync_supported(f))
            r = fasync_set(f, fd, async);
        if (r == 0)
            r = vfs_file_set_flags(f, (unsigned)arg);
        break;
    }
    case F_SETOWN:
        r = fasync_setown(f, (int)arg);
        break;
    case F_GETOWN:
        r = fasync_getown(f);
        break;
    case F_SETOWN_EX: {
        int32_t ex[2];
        r = copy_in(t, ex, arg, sizeof(ex));
        if (r == 0)
            r = fasync_setown_ex(f, ex[0], ex[1]);
        break;
    }
    case F_GETOWN_EX: {
        int ex[2];
        fasync_getown_ex(f, &ex[0], &ex[1]);
        r = copy_out(t, arg, ex, sizeof(ex));
        break;
    }
    case F_SETSIG:
        r = fasync_setsig(f, (int)arg);
        break;
    case F_GETSIG:
        r = fasync_getsig(f);
        break;
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW: {
        struct linux_flock fl;
        r = copy_in(t, &fl, arg, sizeof(fl));
        if (r < 0)
            break;
        r = vfs_posix_lock(f, t->files, t->tg->pid, cmd, &fl);
        if (r == 0 && (cmd == F_GETLK || cmd == F_OFD_GETLK))
            r = copy_out(t, arg, &fl, sizeof(fl));
        break;
    }
    case L_F_SETPIPE_SZ:
        /* FIXME(tasks): CAP_SYS_RESOURCE once credentials carry
         * capabilities; root has it. */
        r = pipe_set_size(f, (unsigned)arg, task_capable(t, CAP_SYS_RESOURCE));
        break;
    case L_F_GETPIPE_SZ:
        r = pipe_get_size(f);
        break;
    case F_GETLEASE:
        r = F_UNLCK;
        break;
    case F_SETLEASE:
        r = (int)arg == F_UNLCK ? 0 : -EINVAL; /* leases refused cleanly */
        break;
    case F_ADD_SEALS:
        r = shmem_add_seals(f, (unsigned)arg);
        break;
    case F_GET_SEALS:
        r = shmem_get_seals(f);
        break;
    default:
        log_warn_once("fcntl: command %d unsupported", cmd);
        r = -EINVAL;
        break;
    }
    file_put(f);
    return r;
}
SYSCALL_DEFINE(fcntl, sys_fcntl, "fdx", SYS_PARTIAL,
               "leases refused; no F_SETOWN; seals on memfds (tmpfs files: F_SEAL_SEAL); "
               "F_SETPIPE_SZ has no per-user page limits");

static long sys_dup(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = fdtable_alloc(t->files, 0, nofile_limit(t), f, false);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(dup, sys_dup, "f", SYS_FULL, NULL);

static long sys_dup2(struct task *t, const struct sys_args *a)
{
    int oldfd = (int)a->arg[0], newfd = (int)a->arg[1];
    if (oldfd == newfd) {
        struct file *f = fdtable_get_file(t->files, oldfd);
        if (!f)
            return -EBADF;
        file_put(f);
        return newfd;
    }
    return fdtable_dup_to(t->files, oldfd, newfd, nofile_limit(t), false);
}
SYSCALL_DEFINE(dup2, sys_dup2, "ff", SYS_FULL, NULL);

static long sys_dup3(struct task *t, const struct sys_args *a)
{
    int oldfd = (int)a->arg[0], newfd = (int)a->arg[1];
    int flags = (int)a->arg[2];
    if (flags & ~O_CLOEXEC)
        return -EINVAL;
    if (oldfd == newfd)
        return -EINVAL;
    return fdtable_dup_to(t->files, oldfd, newfd, nofile_limit(t), flags & O_CLOEXEC);
}
SYSCALL_DEFINE(dup3, sys_dup3, "ffx", SYS_FULL, NULL);

static long sys_fsync(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = vfs_fsync(f);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(fsync, sys_fsync, "f", SYS_FULL, NULL);
SYSCALL_DEFINE(fdatasync, sys_fsync, "f", SYS_FULL, NULL);

static long sys_ftruncate(struct task *t, const struct sys_args *a)
{
    if ((int64_t)a->arg[1] < 0)
        return -EINVAL;
    struct file *f = get_io_file(t, a->arg[0]);
    if (!f)
        return -EBADF;
    long r = vfs_ftruncate(f, a->arg[1]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(ftruncate, sys_ftruncate, "fd", SYS_FULL, NULL);

static long sys_flock(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = vfs_flock(f, (int)a->arg[1]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(flock, sys_flock, "fx", SYS_FULL, NULL);

/* ---- preadv/pwritev (and the 2 variants), vmsplice ---- */

#define L_RWF_HIPRI  0x01
#define L_RWF_DSYNC  0x02
#define L_RWF_SYNC   0x04
#define L_RWF_NOWAIT 0x08
#define L_RWF_APPEND 0x10
#define L_RWF_ALL    (L_RWF_HIPRI | L_RWF_DSYNC | L_RWF_SYNC | L_RWF_NOWAIT | L_RWF_APPEND)

static long sys_preadv(struct task *t, const struct sys_args *a)
{
    if ((int64_t)a->arg[3] < 0)
        return -EINVAL;
    return do_rwv(t, a->arg[0], a->arg[1], a->arg[2], (int64_t)a->arg[3], false);
}
SYSCALL_DEFINE(preadv, sys_preadv, "fpud", SYS_FULL, NULL);

static long sys_pwritev(struct task *t, const struct sys_args *a)
{
    if ((int64_t)a->arg[3] < 0)
        return -EINVAL;
    return do_rwv(t, a->arg[0], a->arg[1], a->arg[2], (int64_t)a->arg[3], true);
}
SYSCALL_DEFINE(pwritev, sys_pwritev, "fpud", SYS_FULL, NULL);

/* preadv2/pwritev2: OFF -1 is the file position; RWF_HIPRI, DSYNC and SYNC
 * change nothing here (memory-backed or written through at once);
 * RWF_NOWAIT gives -EAGAIN where a pipe or tty would block; RWF_APPEND
 * writes at the end of the file. */
static long do_rwv2(struct task *t, const struct sys_args *a, bool write)
{
    int64_t off = (int64_t)a->arg[3];
    unsigned flags = (unsigned)a->arg[5];
    if (off < -1)
        return -EINVAL;
    if (flags & ~L_RWF_ALL)
        return -EOPNOTSUPP;
    if ((flags & L_RWF_APPEND) && !write)
        return -EOPNOTSUPP;
    if (flags & (L_RWF_NOWAIT | L_RWF_APPEND)) {
        struct file *f = get_io_file(t, a->arg[0]);
        if (!f)
            return -EBADF;
        long r = 0;
        if ((flags & L_RWF_NOWAIT) && !vfs_file_is_seekable(f)) {
            if (!f->ops->poll) {
                r = -EOPNOTSUPP;
            } else {
                unsigned want = write ? LPOLLOUT : LPOLLIN | LPOLLHUP;
                if (!(f->ops->poll(f, NULL) & (want | LPOLLERR)))
                    r = -EAGAIN;
            }
        }
        if (r == 0 && (flags & L_RWF_APPEND) && vfs_file_is_seekable(f)) {
            if (off >= 0) {
                uint32_t mode;
                uint64_t size;
                r = vfs_file_mode(f, &mode, &size);
                off = (int64_t)size;
            } else {
                int64_t e = vfs_llseek(f, 0, SEEK_END);
                r = e < 0 ? e : 0;
            }
        }
        file_put(f);
        if (r < 0)
            return r;
    }
    return do_rwv(t, a->arg[0], a->arg[1], a->arg[2], off, write);
}

static long sys_preadv2(struct task *t, const struct sys_args *a)
{
    return do_rwv2(t, a, false);
}
SYSCALL_DEFINE(preadv2, sys_preadv2, "fpuddx", SYS_FULL, NULL);

static long sys_pwritev2(struct task *t, const struct sys_args *a)
{
    return do_rwv2(t, a, true);
}
SYSCALL_DEFINE(pwritev2, sys_pwritev2, "fpuddx", SYS_FULL, NULL);

#define L_SPLICE_F_NONBLOCK 0x02
#define L_SPLICE_F_ALL      0x0f

/* vmsplice: the pages are copied (as writev/readv on the pipe would). */
static long sys_vmsplice(struct task *t, const struct sys_args *a)
{
    unsigned flags = (unsigned)a->arg[3];
    if (flags & ~L_SPLICE_F_ALL)
        return -EINVAL;
    struct file *f = get_io_file(t, a->arg[0]);
    if (!f)
        return -EBADF;
    long r;
    if (!pipe_file_is_pipe(f)) {
        r = -EBADF;
    } else if (flags & L_SPLICE_F_NONBLOCK) {
        unsigned want = (f->fmode & FMODE_WRITE) ? LPOLLOUT : LPOLLIN | LPOLLHUP;
        r = (f->ops->poll(f, NULL) & (want | LPOLLERR)) ? 0 : -EAGAIN;
    } else {
        r = 0;
    }
    bool write = (f->fmode & FMODE_WRITE) != 0;
    if (r == 0 && (f->fmode & FMODE_READ) && write)
        r = -EBADF; /* an O_RDWR FIFO: Linux needs one direction */
    file_put(f);
    if (r < 0)
        return r;
    return do_rwv(t, a->arg[0], a->arg[1], a->arg[2], -1, write);
}
SYSCALL_DEFINE(vmsplice, sys_vmsplice, "fpux", SYS_PARTIAL, "pages are copied, never gifted");

/* ---- close_range, sync family, fallocate, file handles ---- */

#define L_CLOSE_RANGE_UNSHARE 0x2
#define L_CLOSE_RANGE_CLOEXEC 0x4

static long sys_close_range(struct task *t, const struct sys_args *a)
{
    unsigned first = (unsigned)a->arg[0], last = (unsigned)a->arg[1];
    unsigned flags = (unsigned)a->arg[2];
    if (flags & ~(L_CLOSE_RANGE_UNSHARE | L_CLOSE_RANGE_CLOEXEC))
        return -EINVAL;
    if (first > last)
        return -EINVAL;
    if (flags & L_CLOSE_RANGE_UNSHARE) {
        /* A private copy of the table first (the closes then act on it
         * only), swapped in under g_tasks_lock as /proc readers take it. */
        struct fdtable *copy;
        int r = fdtable_copy(t->files, &copy);
        if (r < 0)
            return r;
        pthread_mutex_lock(&g_tasks_lock);
        struct fdtable *old = t->files;
        t->files = copy;
        pthread_mutex_unlock(&g_tasks_lock);
        fdtable_put(old);
    }
    if (first > (unsigned)INT32_MAX)
        return 0;
    int fd = first;
    while ((fd = fdtable_next_fd(t->files, fd)) >= 0 && (unsigned)fd <= last) {
        if (flags & L_CLOSE_RANGE_CLOEXEC)
            fdtable_set_cloexec(t->files, fd, true);
        else
            fdtable_close(t->files, fd);
        fd++;
    }
    return 0;
}
SYSCALL_DEFINE(close_range, sys_close_range, "ffx", SYS_FULL, NULL);

/* Nothing is cached on the way to the host: data written reached the
 * memory file or the host file already. */
static long sys_sync(struct task *t, const struct sys_args *a)
{
    (void)t;
    (void)a;
    return 0;
}
SYSCALL_DEFINE(sync, sys_sync, "", SYS_FULL, NULL);

static long sys_syncfs(struct task *t, const struct sys_args *a)
{
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    long r = vfs_file_is_opath(f) ? -EBADF : 0;
    file_put(f);
    return r;
}
SYSCALL_DEFINE(syncfs, sys_syncfs, "f", SYS_FULL, NULL);

static long sys_sync_file_range(struct task *t, const struct sys_args *a)
{
    int64_t off = (int64_t)a->arg[1], n = (int64_t)a->arg[2];
    unsigned flags = (unsigned)a->arg[3];
    if (flags & ~7u)
        return -EINVAL;
    int64_t end;
    if (off < 0 || n < 0 || __builtin_add_overflow(off, n, &end))
        return -EINVAL;
    struct file *f = get_io_file(t, a->arg[0]);
    if (!f)
        return -EBADF;
    uint32_t type = f->inode->mode & VFS_S_IFMT;
    long r = (type == VFS_S_IFREG || type == VFS_S_IFDIR || type == VFS_S_IFBLK ||
              type == VFS_S_IFLNK)
                     ? 0
                     : -ESPIPE;
    file_put(f);
    return r;
}
SYSCALL_DEFINE(sync_file_range, sys_sync_file_range, "fddx", SYS_FULL, NULL);

static long sys_fallocate(struct task *t, const struct sys_args *a)
{
    struct file *f = get_io_file(t, a->arg[0]);
    if (!f)
        return -EBADF;
    long r = vfs_fallocate(f, (int)a->arg[1], (int64_t)a->arg[2], (int64_t)a->arg[3]);
    file_put(f);
    return r;
}
SYSCALL_DEFINE(fallocate, sys_fallocate, "fxdd", SYS_PARTIAL,
               "tmpfs, the overlay upper and read-write volumes: allocate, KEEP_SIZE, PUNCH_HOLE");

/* File handles would let a process open files by identity past the path
 * walk that confines it: refused. */
static long sys_name_to_handle_at(struct task *t, const struct sys_args *a)
{
    (void)t;
    (void)a;
    return -EOPNOTSUPP;
}
SYSCALL_DEFINE(name_to_handle_at, sys_name_to_handle_at, "fsppx", SYS_PARTIAL,
               "refused: EOPNOTSUPP");

static long sys_open_by_handle_at(struct task *t, const struct sys_args *a)
{
    (void)t;
    (void)a;
    return -EOPNOTSUPP;
}
SYSCALL_DEFINE(open_by_handle_at, sys_open_by_handle_at, "fpx", SYS_PARTIAL,
               "refused: EOPNOTSUPP");
