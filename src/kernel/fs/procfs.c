/*
 * procfs (minimal), generated from kernel state, never the host's:
 *   /proc/self          -> the caller's pid
 *   /proc/PID/exe       -> the process's executable (a "magic" link: a walk
 *                          through it reaches the very file, as Linux)
 *   /proc/PID/fd/N      -> the file at fd N (magic as well; for files without
 *                          a path, opening it reopens the same object)
 * Dentries are not cached (the tree changes with every process).
 *
 * FIXME: PID/fd of another process needs an accessor for a thread group's
 * fd table in task.h; until then only the caller's own process lists fds.
 * Listing /proc shows "self" and the caller's pid only (no task iterator).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/task/task.h"
#include "lib/log.h"

enum proc_kind {
    PROC_ROOT,
    PROC_SELF,
    PROC_PID_DIR,
    PROC_EXE,
    PROC_FD_DIR,
    PROC_FD_LINK,
    PROC_ANON, /* a file without a path, reached through PID/fd/N */
    PROC_KIND_MAX,
};

struct proc_inode {
    struct inode base;
    enum proc_kind kind;   /* (c) */
    int pid;               /* (c) */
    int fd;                /* (c) */
    struct file *file;     /* (c) counted, PROC_ANON */
};

static const struct inode_ops proc_iops;
static const struct inode_ops proc_self_iops;
static struct vfs_sb *g_proc_sb;
static struct mount *g_proc_mnt;

static struct proc_inode *PI(struct inode *i)
{
    return container_of(i, struct proc_inode, base);
}

static struct proc_inode *proc_inode_new(enum proc_kind kind, uint32_t mode, int pid, int fd)
{
    struct proc_inode *pi = calloc(1, sizeof(*pi));
    if (!pi)
        return NULL;
    /* /proc/self is an ordinary symlink; the others are magic. */
    inode_init(&pi->base, g_proc_sb, kind == PROC_SELF ? &proc_self_iops : &proc_iops, mode);
    pi->kind = kind;
    pi->pid = pid;
    pi->fd = fd;
    /* Stable numbers: kind, pid and fd. */
    pi->base.ino = ((uint64_t)pid << 32) ^ ((uint64_t)(fd + 1) << 8) ^ (uint64_t)kind ^ 1;
    if (inode_is_dir(&pi->base))
        pi->base.nlink = 2;
    return pi;
}

int procfs_new(struct inode **out_root)
{
    if (!g_proc_sb)
        g_proc_sb = vfs_sb_new("proc", true);
    if (!g_proc_sb)
        return -ENOMEM;
    struct proc_inode *root = proc_inode_new(PROC_ROOT, VFS_S_IFDIR | 0555, 0, -1);
    if (!root)
        return -ENOMEM;
    *out_root = &root->base;
    return 0;
}

void procfs_set_mount(struct mount *mnt)
{
    g_proc_mnt = mnt;
}

static int parse_num(const char *s)
{
    if (!*s || (s[0] == '0' && s[1]))
        return -1;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 0x7fffffff / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return (int)v;
}

/* The fd table of process PID, borrowed from the calling task, or NULL. */
static struct fdtable *proc_files(int pid)
{
    struct task *cur = task_current();
    if (cur && cur->tg && cur->tg->pid == pid)
        return cur->files;
    return NULL;
}

static struct file *proc_fd_file(int pid, int fd)
{
    struct fdtable *fdt = proc_files(pid);
    return fdt ? fdtable_get_file(fdt, fd) : NULL;
}

static struct file *proc_exe(int pid)
{
    struct thread_group *tg = task_lookup_tg(pid);
    if (!tg)
        return NULL;
    pthread_mutex_lock(&tg->lock);
    struct file *f = tg->exe;
    if (f)
        file_get(f);
    pthread_mutex_unlock(&tg->lock);
    tg_put(tg);
    return f;
}

static int proc_lookup(struct inode *dir, const char *name, struct inode **out)
{
    struct proc_inode *d = PI(dir), *pi = NULL;
    int n;
    switch (d->kind) {
    case PROC_ROOT:
        if (strcmp(name, "self") == 0) {
            pi = proc_inode_new(PROC_SELF, VFS_S_IFLNK | 0777, 0, -1);
            break;
        }
        n = parse_num(name);
        if (n <= 0)
            return -ENOENT;
        struct thread_group *tg = task_lookup_tg(n);
        if (!tg)
            return -ENOENT;
        tg_put(tg);
        pi = proc_inode_new(PROC_PID_DIR, VFS_S_IFDIR | 0555, n, -1);
        break;
    case PROC_PID_DIR:
        if (strcmp(name, "exe") == 0)
            pi = proc_inode_new(PROC_EXE, VFS_S_IFLNK | 0777, d->pid, -1);
        else if (strcmp(name, "fd") == 0)
            pi = proc_inode_new(PROC_FD_DIR, VFS_S_IFDIR | 0500, d->pid, -1);
        else
            return -ENOENT;
        break;
    case PROC_FD_DIR: {
        n = parse_num(name);
        struct file *f = n >= 0 ? proc_fd_file(d->pid, n) : NULL;
        if (!f)
            return -ENOENT;
        uint32_t mode = VFS_S_IFLNK | ((f->fmode & FMODE_READ) ? 0500 : 0) |
                        ((f->fmode & FMODE_WRITE) ? 0200 : 0);
        file_put(f);
        pi = proc_inode_new(PROC_FD_LINK, mode, d->pid, n);
        break;
    }
    default:
        return -ENOTDIR;
    }
    if (!pi)
        return -ENOMEM;
    *out = &pi->base;
    return 0;
}

static int proc_readdir(struct inode *dir, struct dir_emit *ctx)
{
    struct proc_inode *d = PI(dir);
    char buf[16];
    int r = 0;
    switch (d->kind) {
    case PROC_ROOT: {
        r = ctx->emit(ctx, "self", 4, 2, 10);
        struct task *cur = task_current();
        if (r == 0 && cur && cur->tg) {
            int n = snprintf(buf, sizeof(buf), "%d", cur->tg->pid);
            r = ctx->emit(ctx, buf, (size_t)n, (uint64_t)cur->tg->pid << 32, 4);
        }
        return r;
    }
    case PROC_PID_DIR:
        r = ctx->emit(ctx, "exe", 3, 3, 10);
        if (r == 0)
            r = ctx->emit(ctx, "fd", 2, 4, 4);
        return r;
    case PROC_FD_DIR: {
        struct fdtable *fdt = proc_files(d->pid);
        for (int fd = fdt ? fdtable_next_fd(fdt, 0) : -1; fd >= 0 && r == 0;
             fd = fdtable_next_fd(fdt, fd + 1)) {
            int n = snprintf(buf, sizeof(buf), "%d", fd);
            r = ctx->emit(ctx, buf, (size_t)n, 100 + (uint64_t)fd, 10);
        }
        return r;
    }
    default:
        return -ENOTDIR;
    }
}

/* The file a link names (new reference), or NULL. */
static struct file *link_file(struct proc_inode *pi)
{
    if (pi->kind == PROC_EXE)
        return proc_exe(pi->pid);
    if (pi->kind == PROC_FD_LINK)
        return proc_fd_file(pi->pid, pi->fd);
    return NULL;
}

static int proc_readlink(struct inode *inode, char *buf, size_t size)
{
    struct proc_inode *pi = PI(inode);
    char tmp[LINUX_PATH_MAX];
    int n;
    if (pi->kind == PROC_SELF) {
        struct task *cur = task_current();
        if (!cur || !cur->tg)
            return -ENOENT;
        n = snprintf(tmp, sizeof(tmp), "%d", cur->tg->pid);
    } else {
        struct file *f = link_file(pi);
        if (!f)
            return -ENOENT;
        n = vfs_file_path(f, tmp, sizeof(tmp));
        file_put(f);
        if (n < 0)
            return n;
    }
    size_t len = MIN((size_t)n, size);
    memcpy(buf, tmp, len);
    return (int)len;
}

static int proc_get_link(struct inode *inode, struct path *out)
{
    struct proc_inode *pi = PI(inode);
    struct file *f = link_file(pi);
    if (!f)
        return -ENOENT;
    int r = 0;
    if (f->path.dentry) {
        *out = f->path;
        path_get(out);
    } else if (!g_proc_mnt) {
        r = -ENOENT;
    } else {
        /* A file without a name: a private dentry whose open reopens it. */
        struct linux_stat st;
        r = vfs_fstat(f, &st);
        struct proc_inode *anon = r == 0 ? proc_inode_new(PROC_ANON,
                                                          (st.st_mode & VFS_S_IFMT) | 0666, 0, -1)
                                         : NULL;
        if (r == 0 && !anon)
            r = -ENOMEM;
        if (r == 0) {
            struct task *cur = task_current();
            anon->base.uid = cur ? cur->cred.fsuid : 0;
            anon->base.gid = cur ? cur->cred.fsgid : 0;
            file_get(f);
            anon->file = f;
            struct dentry *d = dentry_new_root(&anon->base);
            inode_put(&anon->base);
            if (!d) {
                r = -ENOMEM;
            } else {
                out->mnt = g_proc_mnt;
                out->dentry = d;
            }
        }
    }
    file_put(f);
    return r;
}

static int proc_getattr(struct inode *inode, struct linux_stat *st)
{
    struct proc_inode *pi = PI(inode);
    if (pi->kind == PROC_ANON) {
        int r = vfs_fstat(pi->file, st);
        st->st_mode = inode->mode;
        return r;
    }
    memset(st, 0, sizeof(*st));
    st->st_dev = inode->sb->dev;
    st->st_ino = inode->ino;
    st->st_nlink = inode->nlink;
    st->st_mode = inode->mode;
    st->st_uid = inode->uid;
    st->st_gid = inode->gid;
    st->st_blksize = 1024;
    st->st_atim = st->st_mtim = st->st_ctim = inode->mtime;
    return 0;
}

static int proc_setattr(struct inode *inode, const struct vfs_attr *attr)
{
    /* open("/dev/stdout", O_TRUNC) by shells: the reopened object is a host
     * fd or a pipe; its size is not moat's to change. Linux truncates a
     * regular file there; moat leaves it (FIXME when files get reopen). */
    if (PI(inode)->kind == PROC_ANON && attr->valid == VFS_ATTR_SIZE)
        return 0;
    return -EPERM;
}

static int proc_open(struct inode *inode, struct file *f)
{
    struct proc_inode *pi = PI(inode);
    if (pi->kind != PROC_ANON)
        return -ENXIO;
    struct file *target = pi->file;
    if (!target->ops || !target->ops->reopen)
        return -ENXIO;
    /* The new description is anonymous like its target. */
    path_put(&f->path);
    inode_put(f->inode);
    inode_get(target->inode);
    f->inode = target->inode;
    return target->ops->reopen(target, f);
}

static void proc_evict(struct inode *inode)
{
    struct proc_inode *pi = PI(inode);
    if (pi->file)
        file_put(pi->file);
    free(pi);
}

static const struct inode_ops proc_iops = {
        .lookup = proc_lookup,
        .readdir = proc_readdir,
        .readlink = proc_readlink,
        .get_link = proc_get_link,
        .getattr = proc_getattr,
        .setattr = proc_setattr,
        .open = proc_open,
        .evict = proc_evict,
};

static const struct inode_ops proc_self_iops = {
        .readlink = proc_readlink,
        .getattr = proc_getattr,
        .setattr = proc_setattr,
        .evict = proc_evict,
};
