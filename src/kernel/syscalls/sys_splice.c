/*
 * Moving data between files in the kernel: sendfile, copy_file_range,
 * splice and tee.
 *
 * Data goes through a bounded kernel buffer (XFER_CHUNK bytes at a time),
 * never through the app. Reads from a pipe peek first and consume only what
 * was written on, so a short or failed write loses nothing; a seekable
 * source read at its file position is rewound by what was not written.
 * Once some bytes moved, the transfer stops rather than wait for more (as
 * Linux returns a short count).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "kernel/ipc/pipe.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task.h"
#include "kernel/vfs/notify.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"

#define XFER_CHUNK (256 * 1024)
#define MAX_RW     0x7ffff000ul

#define L_SPLICE_F_MOVE     0x01
#define L_SPLICE_F_NONBLOCK 0x02
#define L_SPLICE_F_MORE     0x04
#define L_SPLICE_F_GIFT     0x08
#define L_SPLICE_F_ALL      0x0f

/* A transfer's source or sink: the file, and the offset to use (NULL: the
 * file position). */
struct xfer_end {
    struct file *f;
    int64_t *off;
    bool pipe;
};

static bool pipe_can(struct file *f, unsigned mask)
{
    return (f->ops->poll(f, NULL) & (mask | LPOLLERR | LPOLLHUP)) != 0;
}

/* Moves up to LEN bytes from IN to OUT. Bytes moved, or -errno when none. */
static long xfer(struct xfer_end *in, struct xfer_end *out, size_t len, bool nonblock)
{
    if (len > MAX_RW)
        len = MAX_RW;
    size_t cap = XFER_CHUNK;
    if (out->pipe)
        cap = MIN(cap, pipe_file_size(out->f));
    char *buf = malloc(MIN(len, cap) ? MIN(len, cap) : 1);
    if (!buf)
        return -ENOMEM;
    size_t done = 0;
    long r = 0;
    while (done < len) {
        size_t chunk = MIN(len - done, cap);
        /* Never wait once something moved. */
        if (done && in->pipe && !pipe_can(in->f, LPOLLIN))
            break;
        if (done && out->pipe && !pipe_can(out->f, LPOLLOUT))
            break;
        ssize_t got;
        if (in->pipe)
            got = pipe_splice_read(in->f, buf, chunk, nonblock, true);
        else if (in->off)
            got = vfs_pread(in->f, buf, chunk, (uint64_t)*in->off);
        else
            got = vfs_read(in->f, buf, chunk);
        if (got <= 0) {
            r = got;
            break;
        }
        size_t put = 0;
        ssize_t w = 0;
        while (put < (size_t)got) {
            if (out->pipe)
                w = pipe_splice_write(out->f, buf + put, (size_t)got - put, nonblock);
            else if (out->off)
                w = vfs_pwrite(out->f, buf + put, (size_t)got - put, (uint64_t)*out->off + put);
            else
                w = vfs_write(out->f, buf + put, (size_t)got - put);
            if (w <= 0)
                break;
            put += (size_t)w;
        }
        if (in->pipe)
            pipe_consume(in->f, put);
        else if (in->off)
            *in->off += (int64_t)put;
        else if (put < (size_t)got && vfs_file_is_seekable(in->f))
            vfs_llseek(in->f, -(int64_t)((size_t)got - put), SEEK_CUR);
        if (out->off)
            *out->off += (int64_t)put;
        done += put;
        if (w < 0) {
            r = w;
            break;
        }
        if (put < (size_t)got || (size_t)got < chunk)
            break;
    }
    free(buf);
    if (done) {
        fsnotify_file(in->f, FSN_ACCESS);
        fsnotify_file(out->f, FSN_MODIFY);
    }
    return done ? (long)done : r;
}

static struct file *get_file(struct task *t, uint64_t fd)
{
    struct file *f = fdtable_get_file(t->files, (int)fd);
    if (f && vfs_file_is_opath(f)) {
        file_put(f);
        return NULL;
    }
    return f;
}

/* Reads an app offset (NULL pointer: none). 0, -EFAULT or -EINVAL. */
static int off_in(struct task *t, uint64_t uoff, int64_t *off, int64_t **out)
{
    *out = NULL;
    if (!uoff)
        return 0;
    if (copy_in(t, off, uoff, sizeof(*off)) < 0)
        return -EFAULT;
    if (*off < 0)
        return -EINVAL;
    *out = off;
    return 0;
}

static long sys_sendfile(struct task *t, const struct sys_args *a)
{
    struct file *in = get_file(t, a->arg[1]);
    struct file *out = get_file(t, a->arg[0]);
    long r;
    if (!in || !out) {
        r = -EBADF;
        goto out;
    }
    if (!(in->fmode & FMODE_READ) || !(out->fmode & FMODE_WRITE)) {
        r = -EBADF;
        goto out;
    }
    if (vfs_file_flags(out) & O_APPEND) {
        r = -EINVAL;
        goto out;
    }
    int64_t off, *poff;
    r = off_in(t, a->arg[2], &off, &poff);
    if (r < 0)
        goto out;
    if (poff && !vfs_file_is_seekable(in)) {
        r = -ESPIPE;
        goto out;
    }
    struct xfer_end src = {.f = in, .off = poff, .pipe = pipe_file_is_pipe(in)};
    struct xfer_end dst = {.f = out, .off = NULL, .pipe = pipe_file_is_pipe(out)};
    r = a->arg[3] ? xfer(&src, &dst, (size_t)a->arg[3], false) : 0;
    if (poff && copy_out(t, a->arg[2], &off, sizeof(off)) < 0 && r >= 0)
        r = -EFAULT;
out:
    if (in)
        file_put(in);
    if (out)
        file_put(out);
    return r;
}
SYSCALL_DEFINE(sendfile, sys_sendfile, "ffpu", SYS_FULL, NULL);

static long sys_copy_file_range(struct task *t, const struct sys_args *a)
{
    if (a->arg[5])
        return -EINVAL;
    struct file *in = get_file(t, a->arg[0]);
    struct file *out = get_file(t, a->arg[2]);
    long r;
    if (!in || !out) {
        r = -EBADF;
        goto out;
    }
    uint32_t ti = in->inode->mode & VFS_S_IFMT, to = out->inode->mode & VFS_S_IFMT;
    if (ti == VFS_S_IFDIR || to == VFS_S_IFDIR) {
        r = -EISDIR;
        goto out;
    }
    if (ti != VFS_S_IFREG || to != VFS_S_IFREG) {
        r = -EINVAL;
        goto out;
    }
    if (!(in->fmode & FMODE_READ) || !(out->fmode & FMODE_WRITE) ||
        (vfs_file_flags(out) & O_APPEND)) {
        r = -EBADF;
        goto out;
    }
    int64_t oi, oo, *poi, *poo;
    r = off_in(t, a->arg[1], &oi, &poi);
    if (r == 0)
        r = off_in(t, a->arg[3], &oo, &poo);
    if (r < 0)
        goto out;
    size_t len = (size_t)a->arg[4];
    if (len > MAX_RW)
        len = MAX_RW;
    /* RLIMIT_FSIZE for the whole copy, up front (as Linux's
     * generic_copy_file_checks: a copy across the limit is cut without a
     * signal, where sendfile and splice write again and get SIGXFSZ). */
    int64_t wpos = poo ? oo : vfs_llseek(out, 0, SEEK_CUR);
    if (wpos >= 0 && (r = task_fsize_write_check((uint64_t)wpos, &len)) < 0)
        goto out;
    /* The same file: the ranges must not overlap. */
    if (in->inode == out->inode) {
        int64_t si = poi ? oi : vfs_llseek(in, 0, SEEK_CUR);
        int64_t so = poo ? oo : vfs_llseek(out, 0, SEEK_CUR);
        if (si < 0 || so < 0 || (si < so + (int64_t)len && so < si + (int64_t)len)) {
            r = -EINVAL;
            goto out;
        }
    }
    struct xfer_end src = {.f = in, .off = poi};
    struct xfer_end dst = {.f = out, .off = poo};
    r = len ? xfer(&src, &dst, len, false) : 0;
    if (r > 0) {
        if (poi && copy_out(t, a->arg[1], &oi, sizeof(oi)) < 0)
            r = -EFAULT;
        if (poo && copy_out(t, a->arg[3], &oo, sizeof(oo)) < 0)
            r = -EFAULT;
    }
out:
    if (in)
        file_put(in);
    if (out)
        file_put(out);
    return r;
}
SYSCALL_DEFINE(copy_file_range, sys_copy_file_range, "fpfpux", SYS_FULL, NULL);

static long sys_splice(struct task *t, const struct sys_args *a)
{
    unsigned flags = (unsigned)a->arg[5];
    if (flags & ~L_SPLICE_F_ALL)
        return -EINVAL;
    struct file *in = get_file(t, a->arg[0]);
    struct file *out = get_file(t, a->arg[2]);
    long r;
    if (!in || !out) {
        r = -EBADF;
        goto out;
    }
    if (!(in->fmode & FMODE_READ) || !(out->fmode & FMODE_WRITE)) {
        r = -EBADF;
        goto out;
    }
    bool ip = pipe_file_is_pipe(in), op = pipe_file_is_pipe(out);
    if (!ip && !op) {
        r = -EINVAL;
        goto out;
    }
    if ((ip && a->arg[1]) || (op && a->arg[3])) {
        r = -ESPIPE;
        goto out;
    }
    if (ip && op && in->priv == out->priv) {
        r = -EINVAL;
        goto out;
    }
    if (!op && (vfs_file_flags(out) & O_APPEND)) {
        r = -EINVAL;
        goto out;
    }
    int64_t oi, oo, *poi, *poo;
    r = off_in(t, a->arg[1], &oi, &poi);
    if (r == 0)
        r = off_in(t, a->arg[3], &oo, &poo);
    if (r < 0)
        goto out;
    if ((poi && !vfs_file_is_seekable(in)) || (poo && !vfs_file_is_seekable(out))) {
        r = -ESPIPE;
        goto out;
    }
    struct xfer_end src = {.f = in, .off = poi, .pipe = ip};
    struct xfer_end dst = {.f = out, .off = poo, .pipe = op};
    r = a->arg[4] ? xfer(&src, &dst, (size_t)a->arg[4], flags & L_SPLICE_F_NONBLOCK) : 0;
    if (r > 0) {
        if (poi && copy_out(t, a->arg[1], &oi, sizeof(oi)) < 0)
            r = -EFAULT;
        if (poo && copy_out(t, a->arg[3], &oo, sizeof(oo)) < 0)
            r = -EFAULT;
    }
out:
    if (in)
        file_put(in);
    if (out)
        file_put(out);
    return r;
}
SYSCALL_DEFINE(splice, sys_splice, "fpfpux", SYS_PARTIAL, "data is copied, not moved by page");

/* tee: the bytes are copied into OUT and left in IN. */
static long sys_tee(struct task *t, const struct sys_args *a)
{
    unsigned flags = (unsigned)a->arg[3];
    if (flags & ~L_SPLICE_F_ALL)
        return -EINVAL;
    struct file *in = get_file(t, a->arg[0]);
    struct file *out = get_file(t, a->arg[1]);
    long r;
    if (!in || !out) {
        r = -EBADF;
        goto out;
    }
    if (!pipe_file_is_pipe(in) || !pipe_file_is_pipe(out) || in->priv == out->priv) {
        r = -EINVAL;
        goto out;
    }
    if (!(in->fmode & FMODE_READ) || !(out->fmode & FMODE_WRITE)) {
        r = -EBADF;
        goto out;
    }
    size_t len = MIN((size_t)a->arg[2], pipe_file_size(out));
    if (len == 0) {
        r = 0;
        goto out;
    }
    bool nb = flags & L_SPLICE_F_NONBLOCK;
    char *buf = malloc(len);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    ssize_t got = pipe_splice_read(in, buf, len, nb, true);
    r = got;
    if (got > 0) {
        size_t put = 0;
        while (put < (size_t)got) {
            ssize_t w = pipe_splice_write(out, buf + put, (size_t)got - put, nb || put > 0);
            if (w <= 0) {
                if (put == 0)
                    r = w;
                break;
            }
            put += (size_t)w;
        }
        if (put)
            r = (long)put;
    }
    free(buf);
out:
    if (in)
        file_put(in);
    if (out)
        file_put(out);
    return r;
}
SYSCALL_DEFINE(tee, sys_tee, "ffux", SYS_FULL, NULL);
