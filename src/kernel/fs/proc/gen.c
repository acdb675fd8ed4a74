/*
 * Generated file systems: inodes of gen_entry tables, directory lookup and
 * listing, files generated into a buffer, symlinks and magic links. Used by
 * procfs and sysfs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/proc/proc_internal.h"
#include "kernel/host/host.h"
#include "lib/log.h"

void sbuf_put(struct sbuf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        sbuf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sbuf_put(b, big, (size_t)n);
    free(big);
}

void sbuf_free(struct sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

int gen_parse_num(const char *s)
{
    if (!*s || (s[0] == '0' && s[1]))
        return -1;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 0x7fffffff / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v > 0x7fffffff ? -1 : (int)v;
}

int gen_nr_cpus(void)
{
    int n = host_nr_cpus();
    return n > 0 ? n : 1;
}

uint64_t gen_ino(const struct gen_inode *dir, const char *name)
{
    /* FNV-1a over the parent's number and the name: stable across lookups
     * (dentries of generated trees are not cached). */
    uint64_t h = 1469598103934665603ULL ^ dir->base.ino;
    for (const char *c = name; *c; c++) {
        h ^= (unsigned char)*c;
        h *= 1099511628211ULL;
    }
    h &= 0x7fffffffffffffffULL;
    return h > 1 ? h : h + 2;
}

struct gen_inode *gen_inode_new(struct vfs_sb *sb, const struct gen_entry *e, uint64_t ino,
                                int pid, int tid, int fd, uint32_t uid, uint32_t gid)
{
    struct gen_inode *gi = calloc(1, sizeof(*gi));
    if (!gi)
        return NULL;
    inode_init(&gi->base, sb, e && e->get_link ? &g_gen_link_iops : &g_gen_iops,
               e ? e->mode : VFS_S_IFREG | 0666);
    gi->ent = e;
    gi->pid = pid;
    gi->tid = tid;
    gi->fd = fd;
    gi->base.ino = ino;
    gi->base.uid = uid;
    gi->base.gid = gid;
    if (inode_is_dir(&gi->base)) {
        unsigned n = 2 + (e ? e->extra_nlink : 0);
        for (const struct gen_entry *c = e ? e->children : NULL; c && c->name; c++)
            if ((c->mode & VFS_S_IFMT) == VFS_S_IFDIR)
                n++;
        gi->base.nlink = n;
    }
    return gi;
}

struct gen_inode *gen_child_new(struct gen_inode *dir, const struct gen_entry *e, int fd)
{
    return gen_inode_new(dir->base.sb, e, gen_ino(dir, e->name), dir->pid, dir->tid, fd,
                         dir->base.uid, dir->base.gid);
}

int gen_emit(struct gen_inode *dir, struct dir_emit *ctx, const char *name, uint32_t mode)
{
    return ctx->emit(ctx, name, strlen(name), gen_ino(dir, name), vfs_dtype(mode));
}

static int gen_lookup(struct inode *inode, const char *name, struct inode **out)
{
    struct gen_inode *dir = GI(inode);
    const struct gen_entry *e = dir->ent;
    if (!e || !inode_is_dir(inode))
        return -ENOTDIR;
    for (const struct gen_entry *c = e->children; c && c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            struct gen_inode *gi = gen_child_new(dir, c, dir->fd);
            if (!gi)
                return -ENOMEM;
            *out = &gi->base;
            return 0;
        }
    }
    if (e->lookup)
        return e->lookup(dir, name, out);
    return -ENOENT;
}

static int gen_readdir(struct inode *inode, struct dir_emit *ctx)
{
    struct gen_inode *dir = GI(inode);
    const struct gen_entry *e = dir->ent;
    if (!e || !inode_is_dir(inode))
        return -ENOTDIR;
    int r = 0;
    for (const struct gen_entry *c = e->children; r == 0 && c && c->name; c++)
        r = gen_emit(dir, ctx, c->name, c->mode);
    if (r == 0 && e->list)
        r = e->list(dir, ctx);
    return r;
}

static int gen_readlink(struct inode *inode, char *buf, size_t size)
{
    struct gen_inode *gi = GI(inode);
    const struct gen_entry *e = gi->ent;
    if (!e || !inode_is_lnk(inode))
        return -EINVAL;
    struct sbuf b = {0};
    /* Magic links read as the path of their target, which show gives. */
    int r = e->show ? e->show(gi, &b) : -EINVAL;
    if (r == 0 && b.oom)
        r = -ENOMEM;
    if (r >= 0) {
        r = (int)MIN(b.len, size);
        memcpy(buf, b.p, (size_t)r);
    }
    sbuf_free(&b);
    return r;
}

static int gen_get_link(struct inode *inode, struct path *out)
{
    struct gen_inode *gi = GI(inode);
    if (!gi->ent || !gi->ent->get_link)
        return -EINVAL;
    return gi->ent->get_link(gi, out);
}

static int gen_getattr(struct inode *inode, struct linux_stat *st)
{
    struct gen_inode *gi = GI(inode);
    if (!gi->ent && gi->file) {
        int r = vfs_fstat(gi->file, st);
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
    st->st_blksize = 4096;
    if (inode_is_reg(inode) && strcmp(inode->sb->type, "sysfs") == 0)
        st->st_size = 4096; /* sysfs attribute files report a page, as Linux */
    st->st_atim = st->st_mtim = st->st_ctim = inode->mtime;
    return 0;
}

static int gen_setattr(struct inode *inode, const struct vfs_attr *attr)
{
    struct gen_inode *gi = GI(inode);
    /* open("/dev/stdout", O_TRUNC) by shells: the reopened object is a host
     * fd or a pipe; its size is not moat's to change. Linux truncates a
     * regular file there; moat leaves it (FIXME when files get reopen).
     * O_TRUNC on a writable generated file (echo 1 > oom_score_adj) is
     * ignored as Linux's procfs does. */
    if (attr->valid == VFS_ATTR_SIZE && (!gi->ent || gi->ent->store))
        return 0;
    return -EPERM;
}

/* An open generated file: the contents as of the last read at offset 0. */
struct gen_file {
    struct sbuf b;
    bool filled;
};

static int gen_fill(struct file *f)
{
    struct gen_inode *gi = GI(f->inode);
    struct gen_file *gf = f->priv;
    sbuf_free(&gf->b);
    int r = gi->ent->show(gi, &gf->b);
    if (r == 0 && gf->b.oom)
        r = -ENOMEM;
    if (r < 0) {
        sbuf_free(&gf->b);
        return r;
    }
    gf->filled = true;
    return 0;
}

static ssize_t gen_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    struct gen_file *gf = f->priv;
    if (*pos == 0 || !gf->filled) {
        int r = gen_fill(f);
        if (r < 0)
            return r;
    }
    if (*pos >= gf->b.len)
        return 0;
    size_t k = MIN(n, gf->b.len - (size_t)*pos);
    memcpy(buf, gf->b.p + *pos, k);
    *pos += k;
    return (ssize_t)k;
}

static ssize_t gen_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    struct gen_inode *gi = GI(f->inode);
    if (!gi->ent->store)
        return -EINVAL;
    ssize_t r = gi->ent->store(gi, buf, n);
    if (r > 0)
        *pos += (uint64_t)r;
    return r;
}

static void gen_release(struct file *f)
{
    struct gen_file *gf = f->priv;
    if (gf) {
        sbuf_free(&gf->b);
        free(gf);
    }
}

static const struct file_ops g_gen_fops = {
        .read = gen_read,
        .write = gen_write,
        .release = gen_release,
};

static int gen_open(struct inode *inode, struct file *f)
{
    struct gen_inode *gi = GI(inode);
    if (!gi->ent) {
        struct file *target = gi->file;
        if (!target || !target->ops || !target->ops->reopen)
            return -ENXIO;
        /* The new description is anonymous like its target. */
        path_put(&f->path);
        inode_put(f->inode);
        inode_get(target->inode);
        f->inode = target->inode;
        return target->ops->reopen(target, f);
    }
    if (!inode_is_reg(inode) || !gi->ent->show)
        return -ENXIO;
    /* Linux's procfs opens read-only files for writing (root passes the
     * permission check) and fails the write; sysfs refuses the open. */
    if ((f->fmode & FMODE_WRITE) && !gi->ent->store && strcmp(inode->sb->type, "proc") != 0)
        return -EACCES;
    struct gen_file *gf = calloc(1, sizeof(*gf));
    if (!gf)
        return -ENOMEM;
    f->priv = gf;
    f->ops = &g_gen_fops;
    return 0;
}

static void gen_evict(struct inode *inode)
{
    struct gen_inode *gi = GI(inode);
    if (gi->file)
        file_put(gi->file);
    free(gi);
}

const struct inode_ops g_gen_iops = {
        .lookup = gen_lookup,
        .readdir = gen_readdir,
        .readlink = gen_readlink,
        .getattr = gen_getattr,
        .setattr = gen_setattr,
        .open = gen_open,
        .evict = gen_evict,
};

const struct inode_ops g_gen_link_iops = {
        .readlink = gen_readlink,
        .get_link = gen_get_link,
        .getattr = gen_getattr,
        .setattr = gen_setattr,
        .evict = gen_evict,
};
