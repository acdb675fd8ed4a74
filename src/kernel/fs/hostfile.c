/*
 * Files over host fds the kernel was given: the caller's stdio (a tty, a
 * pipe, a regular file or /dev/null on the host). moat does the I/O on the
 * fd it holds; tty ioctls are decoded and validated here and done with the
 * kernel's own copy of the structure; every other ioctl is -ENOTTY.
 *
 * Pipes, ttys and sockets are watched by the host epoll loop (host_io.c):
 * a blocking read or write waits on moat's wait queue until the host fd is
 * ready, so signals interrupt it and poll/select see it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernel/fs/fs.h"
#include "kernel/host/host_fs.h"
#include "kernel/host/host_io.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/task/waitq.h"
#include "kernel/vfs/poll.h"
#include "kernel/syscalls/syscall.h"
#include "lib/log.h"

#define H_TCGETS     0x5401
#define H_TCSETS     0x5402
#define H_TCSETSW    0x5403
#define H_TCSETSF    0x5404
#define H_TIOCGPGRP  0x540F
#define H_TIOCSPGRP  0x5410
#define H_TIOCGWINSZ 0x5413
#define H_TIOCSWINSZ 0x5414

struct hostfile {
    struct refcount ref;
    int fd;            /* (c) */
    bool tty;          /* (c) */
    uint32_t type;     /* (c) S_IF* of the host fd */
    struct waitq *wq;  /* (c) woken by the host epoll loop; never freed */
    bool watched;      /* (c) registered with the host epoll loop */
};

static const struct inode_ops hostfile_iops;
static const struct file_ops hostfile_fops;
static struct vfs_sb *g_hostfile_sb;
static pthread_once_t g_hostfile_once = PTHREAD_ONCE_INIT;

static void hostfile_sb_init(void)
{
    g_hostfile_sb = vfs_sb_new("hostfile", true);
}

struct hostfile_inode {
    struct inode base;
    struct hostfile *hf; /* (c) counted */
};

static void hf_put(struct hostfile *hf)
{
    if (refcount_dec(&hf->ref)) {
        host_fs_close(hf->fd);
        /* A watched fd's queue outlives it: the host description may live
         * on in the caller and still raise events. */
        if (!hf->watched)
            free(hf->wq);
        free(hf);
    }
}

static int hostfile_getattr(struct inode *inode, struct linux_stat *st)
{
    struct hostfile *hf = container_of(inode, struct hostfile_inode, base)->hf;
    struct stat hs;
    int r = host_fs_fstat(hf->fd, &hs);
    if (r < 0)
        return r;
    memset(st, 0, sizeof(*st));
    st->st_dev = inode->sb->dev;
    st->st_ino = inode->ino;
    st->st_nlink = 1;
    st->st_uid = inode->uid;
    st->st_gid = inode->gid;
    if (hf->tty) {
        /* A pseudo-terminal of the sandbox, whatever the host's is. */
        st->st_mode = VFS_S_IFCHR | 0620;
        st->st_rdev = VFS_MKDEV(136, 0);
        st->st_blksize = 1024;
    } else {
        st->st_mode = hs.st_mode;
        st->st_size = S_ISREG(hs.st_mode) ? hs.st_size : 0;
        st->st_blksize = hs.st_blksize;
        st->st_blocks = S_ISREG(hs.st_mode) ? hs.st_blocks : 0;
    }
    st->st_atim = (struct linux_timespec){hs.st_atim.tv_sec, hs.st_atim.tv_nsec};
    st->st_mtim = (struct linux_timespec){hs.st_mtim.tv_sec, hs.st_mtim.tv_nsec};
    st->st_ctim = (struct linux_timespec){hs.st_ctim.tv_sec, hs.st_ctim.tv_nsec};
    return 0;
}

static void hostfile_evict(struct inode *inode)
{
    struct hostfile_inode *hi = container_of(inode, struct hostfile_inode, base);
    hf_put(hi->hf);
    free(hi);
}

static const struct inode_ops hostfile_iops = {
        .getattr = hostfile_getattr,
        .evict = hostfile_evict,
};

static struct hostfile *HF(struct file *f)
{
    return f->priv;
}

static void hostfile_setup(struct file *f, struct hostfile *hf)
{
    refcount_inc(&hf->ref);
    f->priv = hf;
    f->ops = &hostfile_fops;
    f->fmode &= ~(unsigned)(FMODE_LSEEK | FMODE_ATOMIC_POS);
    if (hf->type == S_IFREG)
        f->fmode |= FMODE_LSEEK | FMODE_ATOMIC_POS;
}

int hostfile_new(int host_fd, int flags, struct file **out)
{
    pthread_once(&g_hostfile_once, hostfile_sb_init);
    if (!g_hostfile_sb)
        return -ENOMEM;
    struct stat hs;
    int r = host_fs_fstat(host_fd, &hs);
    if (r < 0)
        return r;
    struct hostfile *hf = calloc(1, sizeof(*hf));
    struct hostfile_inode *hi = calloc(1, sizeof(*hi));
    if (!hf || !hi) {
        free(hf);
        free(hi);
        return -ENOMEM;
    }
    refcount_init(&hf->ref);
    hf->fd = host_fd;
    hf->type = hs.st_mode & S_IFMT;
    hf->wq = malloc(sizeof(*hf->wq));
    if (!hf->wq) {
        free(hf);
        free(hi);
        return -ENOMEM;
    }
    waitq_init(hf->wq);
    /* Pipes, ttys and sockets wait through the host epoll loop; files
     * that are always ready (regular files, /dev/null) cannot be added
     * to an epoll set and need no waiting. */
    if (hf->type != S_IFREG && hf->type != S_IFDIR && host_io_watch(host_fd, hf->wq) == 0)
        hf->watched = true;
    struct linux_termios tio;
    hf->tty = hf->type == S_IFCHR && host_fs_tcgets(host_fd, &tio) == 0;
    inode_init(&hi->base, g_hostfile_sb, &hostfile_iops, hs.st_mode);
    hi->base.ino = vfs_sb_next_ino(g_hostfile_sb);
    hi->hf = hf; /* the inode owns the first count */
    struct file *f = file_alloc(&hi->base, NULL, (unsigned)flags & ~(unsigned)O_CLOEXEC);
    inode_put(&hi->base);
    if (!f)
        return -ENOMEM;
    hostfile_setup(f, hf);
    if (hf->type == S_IFREG) {
        int64_t pos = host_fs_lseek(host_fd, 0, SEEK_CUR);
        f->pos = pos > 0 ? (uint64_t)pos : 0;
    }
    *out = f;
    return 0;
}

/*
 * A host fd is a proxy for the caller's open file description (the app's
 * stdio is the same description as the shell's): reads, writes and seeks go
 * to the host description and its shared offset, never to a private copy,
 * so `moat do cmd >>log` and a shell writing to the same file interleave as
 * they would without moat.
 */
/* Waits until the host fd is ready for EVENTS, on moat's wait queue so a
 * signal interrupts the wait. 0, -EAGAIN (O_NONBLOCK) or -ERESTARTSYS. */
static int hostfile_wait(struct file *f, unsigned events)
{
    struct hostfile *hf = HF(f);
    if (!hf->watched)
        return 0; /* regular files and the like are always ready */
    struct task *t = task_current();
    for (;;) {
        uint32_t seq = task_wake_seq(t);
        struct waiter w;
        waitq_add(hf->wq, &w, t);
        unsigned got = host_io_poll_now(hf->fd, events);
        if (got & (events | POLLHUP | POLLERR | POLLNVAL)) {
            waitq_del(hf->wq, &w);
            return 0;
        }
        if (vfs_file_flags(f) & O_NONBLOCK) {
            waitq_del(hf->wq, &w);
            return -EAGAIN;
        }
        int r = task_sleep(t, seq, 0);
        waitq_del(hf->wq, &w);
        if (r == -EINTR)
            return -ERESTARTSYS;
    }
}

static ssize_t hostfile_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    int r = hostfile_wait(f, POLLIN);
    if (r < 0)
        return r;
    return host_fs_read(HF(f)->fd, buf, n);
}

static ssize_t hostfile_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    int r = hostfile_wait(f, POLLOUT);
    if (r < 0)
        return r;
    ssize_t w = host_fs_write(HF(f)->fd, buf, n);
    struct task *t = task_current();
    if (w == -EPIPE && t) {
        /* A host pipe or socket with no reader (`moat do sh -c ls | head`):
         * the writer gets SIGPIPE as well, as from any pipe (unless it is
         * the sandbox's init, which ignores it: Linux too). */
        struct linux_siginfo info;
        memset(&info, 0, sizeof(info));
        info.kill.pid = t->tg->pid;
        info.kill.uid = t->cred.uid;
        pthread_mutex_lock(&g_tasks_lock);
        signal_send_task_locked(t, SIGPIPE, &info);
        pthread_mutex_unlock(&g_tasks_lock);
    }
    return w;
}

static unsigned hostfile_poll(struct file *f, struct poll_table *pt)
{
    struct hostfile *hf = HF(f);
    if (!hf->watched)
        return POLL_DEFAULT_MASK;
    poll_wait(pt, hf->wq);
    unsigned want = 0;
    if (f->fmode & FMODE_READ)
        want |= POLLIN | POLLPRI | POLLRDHUP;
    if (f->fmode & FMODE_WRITE)
        want |= POLLOUT;
    return host_io_poll_now(hf->fd, want);
}

static int64_t hostfile_llseek(struct file *f, int64_t off, int whence)
{
    struct hostfile *hf = HF(f);
    if (hf->type != S_IFREG && hf->type != S_IFBLK)
        return -ESPIPE;
    int64_t r = host_fs_lseek(hf->fd, off, whence);
    if (r >= 0)
        f->pos = (uint64_t)r;
    return r;
}

static long hostfile_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg)
{
    struct hostfile *hf = HF(f);
    if (!hf->tty)
        return -ENOTTY;
    struct linux_termios tio;
    struct linux_winsize ws;
    int r;
    switch (cmd) {
    case H_TCGETS:
        r = host_fs_tcgets(hf->fd, &tio);
        if (r == 0)
            r = copy_out(t, arg, &tio, sizeof(tio));
        return r;
    case H_TCSETS:
    case H_TCSETSW:
    case H_TCSETSF:
        r = copy_in(t, &tio, arg, sizeof(tio));
        if (r == 0)
            r = host_fs_tcsets(hf->fd, (int)(cmd - H_TCSETS), &tio);
        return r;
    case H_TIOCGWINSZ:
        r = host_fs_get_winsize(hf->fd, &ws);
        if (r == 0)
            r = copy_out(t, arg, &ws, sizeof(ws));
        return r;
    case H_TIOCSWINSZ:
        r = copy_in(t, &ws, arg, sizeof(ws));
        if (r == 0)
            r = host_fs_set_winsize(hf->fd, &ws);
        return r;
    case H_TIOCGPGRP: {
        /* FIXME: the foreground group belongs to a session's terminal;
         * until sessions own ttys, the caller's group is in front. */
        int32_t pgid = t->tg ? t->tg->pgid : 0;
        return copy_out(t, arg, &pgid, sizeof(pgid));
    }
    case H_TIOCSPGRP: {
        int32_t pgid;
        r = copy_in(t, &pgid, arg, sizeof(pgid));
        if (r == 0 && pgid < 0)
            r = -EINVAL;
        if (r == 0)
            log_warn_once("TIOCSPGRP on a host tty: accepted, job control not enforced");
        return r;
    }
    default:
        return -ENOTTY;
    }
}

static int hostfile_dname(struct file *f, char *buf, size_t size)
{
    struct hostfile *hf = HF(f);
    int n;
    if (hf->tty)
        n = snprintf(buf, size, "/dev/pts/0");
    else if (hf->type == S_IFIFO)
        n = snprintf(buf, size, "pipe:[%llu]", (unsigned long long)f->inode->ino);
    else if (hf->type == S_IFSOCK)
        n = snprintf(buf, size, "socket:[%llu]", (unsigned long long)f->inode->ino);
    else
        n = snprintf(buf, size, "hostfile:[%llu]", (unsigned long long)f->inode->ino);
    return n < (int)size ? n : -ENAMETOOLONG;
}

static int hostfile_reopen(struct file *old, struct file *new_file)
{
    hostfile_setup(new_file, HF(old));
    return 0;
}

static void hostfile_release(struct file *f)
{
    hf_put(HF(f));
}

static const struct file_ops hostfile_fops = {
        .read = hostfile_read,
        .write = hostfile_write,
        .llseek = hostfile_llseek,
        .poll = hostfile_poll,
        .ioctl = hostfile_ioctl,
        .dname = hostfile_dname,
        .reopen = hostfile_reopen,
        .release = hostfile_release,
};
