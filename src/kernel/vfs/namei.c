/*
 * Path walk and the operations on names: open, create, mkdir, unlink,
 * rename, links, attributes by path, cwd.
 *
 * The walk runs entirely on moat's dentries: "." and ".." are handled here
 * (".." stops at the task's root and climbs out of mounts), mounts are
 * crossed on the way down, and symlinks are resolved by walking their target
 * from the directory holding them (or from the task's root when absolute),
 * at most 40 of them per walk (-ELOOP). File systems see single names only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/host/host_fs.h"
#include "kernel/vfs/notify.h"
#include "kernel/vfs/vfs_internal.h"
#include "lib/log.h"

#define MAX_SYMLINKS 40
#define NAME_MAX_LEN 255

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE 2
#endif
#ifndef UTIME_NOW
#define UTIME_NOW  ((1l << 30) - 1l)
#define UTIME_OMIT ((1l << 30) - 2l)
#endif

#define WALK_FOLLOW 0x1 /* follow a final symlink */
#define WALK_DIR    0x2 /* the result must be a directory */

enum last_type { LAST_NORM, LAST_ROOT, LAST_DOT, LAST_DOTDOT };

static const struct cred g_root_cred = CRED_KERNEL_INIT; /* the kernel's own lookups */

/* openat2 RESOLVE_* flags. */
#define L_RESOLVE_NO_XDEV       0x01
#define L_RESOLVE_NO_MAGICLINKS 0x02
#define L_RESOLVE_NO_SYMLINKS   0x04
#define L_RESOLVE_BENEATH       0x08
#define L_RESOLVE_IN_ROOT       0x10
#define L_RESOLVE_CACHED        0x20

struct nameidata {
    const struct cred *cred;
    struct path root; /* counted */
    struct path cur;  /* counted */
    int nlinks;
    unsigned resolve;        /* L_RESOLVE_* */
    struct mount *start_mnt; /* RESOLVE_NO_XDEV: the only mount allowed */
};

static void nd_release(struct nameidata *nd)
{
    path_put(&nd->cur);
    path_put(&nd->root);
}

static int inode_of(const struct path *p, struct inode **out)
{
    *out = dentry_inode(p->dentry);
    return *out ? 0 : -ENOENT;
}

static bool path_is_dir(const struct path *p)
{
    struct inode *i = dentry_inode(p->dentry);
    bool r = i && inode_is_dir(i);
    inode_put(i);
    return r;
}

/* Sets up a walk of PATH for T from DIRFD (AT_FDCWD: the cwd). */
static int nd_start(struct nameidata *nd, struct task *t, int dirfd, const char *path)
{
    memset(nd, 0, sizeof(*nd));
    nd->cred = t ? &t->cred : &g_root_cred;
    if (t && t->fs)
        fs_get_root(t->fs, &nd->root);
    else
        vfs_root_path(&nd->root);
    if (!nd->root.dentry)
        return -ENOENT;
    if (path[0] == '/') {
        nd->cur = nd->root;
        path_get(&nd->cur);
        return 0;
    }
    if (dirfd == AT_FDCWD) {
        if (t && t->fs)
            fs_get_cwd(t->fs, &nd->cur);
        else {
            nd->cur = nd->root;
            path_get(&nd->cur);
        }
        return 0;
    }
    struct file *f = t ? fdtable_get_file(t->files, dirfd) : NULL;
    if (!f) {
        nd_release(nd);
        return -EBADF;
    }
    int r = 0;
    if (!f->path.dentry || !path_is_dir(&f->path)) {
        r = -ENOTDIR;
    } else {
        nd->cur = f->path;
        path_get(&nd->cur);
    }
    file_put(f);
    if (r < 0)
        nd_release(nd);
    return r;
}

/* Applies openat2's RESOLVE flags to a started walk: BENEATH and IN_ROOT
 * make the starting directory the root of the walk (BENEATH then refuses
 * what would leave it instead of clamping). */
static void nd_scope(struct nameidata *nd, const char *path, unsigned resolve)
{
    nd->resolve = resolve;
    (void)path; /* absolute: BENEATH refuses it in walk(); IN_ROOT starts at DIRFD */
    if (resolve & (L_RESOLVE_BENEATH | L_RESOLVE_IN_ROOT)) {
        path_put(&nd->root);
        nd->root = nd->cur;
        path_get(&nd->root);
    }
    nd->start_mnt = nd->cur.mnt;
}

/* nd_start + nd_scope: a scoped walk (BENEATH, IN_ROOT) of an absolute
 * PATH still starts at DIRFD. */
static int nd_start_scoped(struct nameidata *nd, struct task *t, int dirfd, const char *path,
                           unsigned resolve)
{
    bool scoped = resolve & (L_RESOLVE_BENEATH | L_RESOLVE_IN_ROOT);
    int r = nd_start(nd, t, dirfd, scoped && path[0] == '/' ? "." : path);
    if (r == 0)
        nd_scope(nd, path, resolve);
    return r;
}

/* The errno for following link INODE under nd->resolve, or 0. */
static int link_allowed(struct nameidata *nd, struct inode *link)
{
    if (nd->resolve & L_RESOLVE_NO_SYMLINKS)
        return -ELOOP;
    if (link->ops->get_link) {
        if (nd->resolve & L_RESOLVE_NO_MAGICLINKS)
            return -ELOOP;
        if (nd->resolve & (L_RESOLVE_BENEATH | L_RESOLVE_IN_ROOT | L_RESOLVE_NO_XDEV))
            return -EXDEV;
    }
    return 0;
}

void vfs_follow_mounts(struct path *p)
{
    struct mount *m;
    while ((m = lookup_mnt(p->mnt, p->dentry))) {
        dentry_get(m->root);
        dentry_put(p->dentry);
        p->mnt = m;
        p->dentry = m->root;
    }
}

static void step_dotdot(struct nameidata *nd)
{
    for (;;) {
        if (path_equal(&nd->cur, &nd->root))
            return;
        if (nd->cur.dentry != nd->cur.mnt->root) {
            struct dentry *parent = d_parent(nd->cur.dentry);
            if (!parent)
                return;
            dentry_put(nd->cur.dentry);
            nd->cur.dentry = parent;
            break;
        }
        struct path up;
        if (vfs_mount_up(&nd->cur, &up) < 0)
            return; /* the sandbox root (or a detached tree's): ".." is itself */
        path_put(&nd->cur);
        nd->cur = up;
    }
    vfs_follow_mounts(&nd->cur);
}

static int walk(struct nameidata *nd, const char *name, unsigned flags);

/* Resolves the symlink INODE met during a walk (nd->cur is its directory);
 * on success nd->cur is the link's target. */
static int follow_link(struct nameidata *nd, struct mount *mnt, struct inode *link)
{
    int lr = link_allowed(nd, link);
    if (lr < 0)
        return lr;
    if (mnt_flags(mnt) & VFS_MNT_NOSYMFOLLOW)
        return -ELOOP;
    if (++nd->nlinks > MAX_SYMLINKS)
        return -ELOOP;
    if (link->ops->get_link) {
        struct path target;
        int r = link->ops->get_link(link, &target);
        if (r < 0)
            return r;
        path_put(&nd->cur);
        nd->cur = target;
        return 0;
    }
    if (!link->ops->readlink)
        return -EINVAL;
    char *buf = malloc(LINUX_PATH_MAX);
    if (!buf)
        return -ENOMEM;
    int r = link->ops->readlink(link, buf, LINUX_PATH_MAX - 1);
    if (r >= 0 && r >= LINUX_PATH_MAX - 1)
        r = -ENAMETOOLONG;
    if (r == 0)
        r = -ENOENT;
    if (r > 0) {
        buf[r] = '\0';
        r = walk(nd, buf, WALK_FOLLOW);
    }
    free(buf);
    return r;
}

/* Walks NAME from nd->cur (or nd->root if absolute); on success nd->cur is
 * the (positive) result. An empty NAME leaves nd->cur. */
static int walk(struct nameidata *nd, const char *name, unsigned flags)
{
    char comp[NAME_MAX_LEN + 1];

    if (*name == '/') {
        if (nd->resolve & L_RESOLVE_BENEATH)
            return -EXDEV;
        path_put(&nd->cur);
        nd->cur = nd->root;
        path_get(&nd->cur);
        if ((nd->resolve & L_RESOLVE_NO_XDEV) && nd->cur.mnt != nd->start_mnt)
            return -EXDEV;
        while (*name == '/')
            name++;
    }
    if (*name == '\0') {
        if ((flags & WALK_DIR) && !path_is_dir(&nd->cur))
            return -ENOTDIR;
        return 0;
    }
    for (;;) {
        size_t len = strcspn(name, "/");
        const char *rest = name + len;
        bool trailing = false;
        while (*rest == '/') {
            rest++;
            trailing = true;
        }
        bool last = *rest == '\0';
        if (len > NAME_MAX_LEN)
            return -ENAMETOOLONG;

        struct inode *dir;
        int r = inode_of(&nd->cur, &dir);
        if (r < 0)
            return r;
        if (!inode_is_dir(dir)) {
            inode_put(dir);
            return -ENOTDIR;
        }
        r = inode_permission(dir, nd->cred, VFS_MAY_EXEC);
        inode_put(dir);
        if (r < 0)
            return r;

        if (len == 1 && name[0] == '.') {
            /* stays */
        } else if (len == 2 && name[0] == '.' && name[1] == '.') {
            if ((nd->resolve & L_RESOLVE_BENEATH) && path_equal(&nd->cur, &nd->root))
                return -EXDEV;
            step_dotdot(nd);
        } else {
            memcpy(comp, name, len);
            comp[len] = '\0';
            struct dentry *child;
            r = d_lookup(nd->cur.dentry, comp, false, &child);
            if (r < 0)
                return r;
            struct path next = {nd->cur.mnt, child};
            vfs_follow_mounts(&next);
            struct inode *ci = dentry_inode(next.dentry);
            if (!ci) {
                path_put(&next);
                return -ENOENT;
            }
            if (inode_is_lnk(ci) && (!last || trailing || (flags & WALK_FOLLOW))) {
                r = follow_link(nd, next.mnt, ci);
                inode_put(ci);
                path_put(&next);
                if (r < 0)
                    return r;
            } else {
                inode_put(ci);
                path_put(&nd->cur);
                nd->cur = next;
            }
        }
        if ((nd->resolve & L_RESOLVE_NO_XDEV) && nd->cur.mnt != nd->start_mnt)
            return -EXDEV;
        if (last) {
            if ((trailing || (flags & WALK_DIR)) && !path_is_dir(&nd->cur))
                return -ENOTDIR;
            return 0;
        }
        name = rest;
    }
}

/* Walks all but the last component of PATH; nd->cur is then the parent
 * directory and LAST (NAME_MAX_LEN + 1 bytes) the final name. */
static int walk_parent(struct nameidata *nd, const char *path, char *last, enum last_type *type,
                       bool *trailing)
{
    size_t n = strlen(path);
    size_t end = n;
    while (end > 0 && path[end - 1] == '/')
        end--;
    *trailing = end < n;
    if (end == 0) {
        /* Only slashes: the root itself. */
        *type = LAST_ROOT;
        last[0] = '\0';
        return walk(nd, path, WALK_FOLLOW);
    }
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    if (end - start > NAME_MAX_LEN)
        return -ENAMETOOLONG;
    memcpy(last, path + start, end - start);
    last[end - start] = '\0';
    if (strcmp(last, ".") == 0)
        *type = LAST_DOT;
    else if (strcmp(last, "..") == 0)
        *type = LAST_DOTDOT;
    else
        *type = LAST_NORM;

    char *dir = strndup(path, start);
    if (!dir)
        return -ENOMEM;
    int r = walk(nd, dir, WALK_FOLLOW | WALK_DIR);
    free(dir);
    if (r == 0 && !path_is_dir(&nd->cur))
        r = -ENOTDIR;
    return r;
}

/* Resolves (DIRFD, PATH) for T honouring AT_SYMLINK_NOFOLLOW and
 * AT_EMPTY_PATH. *out_path (may be empty for an anonymous file) and
 * *out_inode are new references. */
static int resolve_at(struct task *t, int dirfd, const char *path, int at_flags, unsigned wflags,
                      struct path *out_path, struct inode **out_inode)
{
    memset(out_path, 0, sizeof(*out_path));
    if (path[0] == '\0') {
        if (!(at_flags & AT_EMPTY_PATH))
            return -ENOENT;
        if (dirfd == AT_FDCWD) {
            if (!t || !t->fs)
                return -ENOENT;
            fs_get_cwd(t->fs, out_path);
            return inode_of(out_path, out_inode);
        }
        struct file *f = t ? fdtable_get_file(t->files, dirfd) : NULL;
        if (!f)
            return -EBADF;
        int r = 0;
        if (f->path.dentry) {
            *out_path = f->path;
            path_get(out_path);
            r = inode_of(out_path, out_inode);
        } else {
            inode_get(f->inode);
            *out_inode = f->inode;
        }
        file_put(f);
        if ((wflags & WALK_DIR) && r == 0 && !inode_is_dir(*out_inode)) {
            inode_put(*out_inode);
            path_put(out_path);
            r = -ENOTDIR;
        }
        return r;
    }
    struct nameidata nd;
    int r = nd_start(&nd, t, dirfd, path);
    if (r < 0)
        return r;
    if (!(at_flags & AT_SYMLINK_NOFOLLOW))
        wflags |= WALK_FOLLOW;
    r = walk(&nd, path, wflags);
    if (r == 0)
        r = inode_of(&nd.cur, out_inode);
    if (r == 0) {
        *out_path = nd.cur;
        nd.cur.dentry = NULL;
    }
    nd_release(&nd);
    return r;
}

int vfs_resolve_path(struct task *t, int dirfd, const char *path, bool follow, bool dir,
                     struct path *out)
{
    struct inode *inode;
    int r = resolve_at(t, dirfd, path, follow ? 0 : AT_SYMLINK_NOFOLLOW, dir ? WALK_DIR : 0, out,
                       &inode);
    if (r < 0)
        return r;
    inode_put(inode);
    if (!out->dentry) {
        path_put(out);
        return -ENOENT;
    }
    return 0;
}

/* ---- open ---- */

static ssize_t dir_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    return -EISDIR;
}

static ssize_t dir_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    return -EISDIR;
}

static const struct file_ops g_dir_fops = {.read = dir_read, .write = dir_write};
static const struct file_ops g_opath_fops = {0};

/* SKIP_PERM: the file was just created (or exec checked it). */
static int do_open(struct nameidata *nd, const struct path *p, int flags, bool skip_perm,
                   struct file **out)
{
    struct inode *inode;
    int r = inode_of(p, &inode);
    if (r < 0)
        return r;
    struct file *f = NULL;
    unsigned acc = flags & O_ACCMODE;
    const unsigned keep = ~(unsigned)(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);

    if (flags & O_PATH) {
        if ((flags & O_DIRECTORY) && !inode_is_dir(inode)) {
            r = -ENOTDIR;
            goto out_put;
        }
        f = file_alloc(inode, p, flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW));
        if (!f) {
            r = -ENOMEM;
            goto out_put;
        }
        f->ops = &g_opath_fops;
        goto out_done;
    }
    if (inode_is_lnk(inode)) {
        r = -ELOOP;
        goto out_put;
    }
    if ((flags & O_DIRECTORY) && !inode_is_dir(inode)) {
        r = -ENOTDIR;
        goto out_put;
    }
    if (inode_is_dir(inode) && (acc != O_RDONLY || (flags & O_TRUNC))) {
        r = -EISDIR;
        goto out_put;
    }
    unsigned type = inode->mode & VFS_S_IFMT;
    bool special = type == VFS_S_IFCHR || type == VFS_S_IFBLK || type == VFS_S_IFIFO ||
                   type == VFS_S_IFSOCK;
    if (!skip_perm) {
        int mask = 0;
        if (acc == O_RDONLY || acc == O_RDWR)
            mask |= VFS_MAY_READ;
        if (acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC))
            mask |= VFS_MAY_WRITE;
        /* Linux's may_open order: device nodes on a nodev mount, a
         * read-only file system, truncation on a read-only mount, then
         * the permission bits. */
        if ((type == VFS_S_IFCHR || type == VFS_S_IFBLK) && (mnt_flags(p->mnt) & VFS_MNT_NODEV)) {
            r = -EACCES;
            goto out_put;
        }
        if ((mask & VFS_MAY_WRITE) && !special && p->mnt &&
            __atomic_load_n(&p->mnt->sb->rdonly, __ATOMIC_RELAXED)) {
            r = -EROFS;
            goto out_put;
        }
        if ((flags & O_TRUNC) && inode_is_reg(inode) && (r = mnt_want_write(p->mnt)) < 0)
            goto out_put;
        r = inode_permission(inode, nd->cred, mask);
        if (r < 0)
            goto out_put;
    }
    bool writer = (acc == O_WRONLY || acc == O_RDWR) && !special && p->mnt;
    if (writer && (r = mnt_want_write(p->mnt)) < 0)
        goto out_put;
    f = file_alloc(inode, p, flags & keep);
    if (!f) {
        r = -ENOMEM;
        goto out_put;
    }
    if (flags & O_NOCTTY)
        f->fmode |= FMODE_NOCTTY;
    if (writer) {
        /* Counted until the file's release: a remount read-only of the
         * mount is -EBUSY meanwhile. */
        f->fmode |= FMODE_WRITER;
        __atomic_add_fetch(&p->mnt->writers, 1, __ATOMIC_ACQ_REL);
    }
    if (inode_is_dir(inode)) {
        f->ops = &g_dir_fops;
        f->fmode |= FMODE_LSEEK | FMODE_ATOMIC_POS;
        goto out_done;
    }
    if (inode_is_reg(inode))
        f->fmode |= FMODE_LSEEK | FMODE_ATOMIC_POS;
    else if ((inode->mode & VFS_S_IFMT) == VFS_S_IFCHR)
        f->fmode |= FMODE_LSEEK;
    if ((flags & O_TRUNC) && inode_is_reg(inode)) {
        struct vfs_attr a = {.valid = VFS_ATTR_SIZE, .size = 0};
        r = vfs_setattr(inode, &a);
        if (r < 0)
            goto out_put_file;
    }
    if (!inode->ops->open) {
        r = -ENXIO;
        goto out_put_file;
    }
    r = inode->ops->open(inode, f);
    if (r < 0)
        goto out_put_file;
out_done:
    inode_put(inode);
    *out = f;
    return 0;
out_put_file:
    f->ops = NULL; /* no release for a file its fs never opened */
    file_put(f);
out_put:
    inode_put(inode);
    return r;
}

/* May nd->cred add names to PARENT? g_vfs_ns_lock held. */
static int check_create(struct nameidata *nd, const struct path *parent)
{
    if (d_is_dead(parent->dentry))
        return -ENOENT;
    struct inode *dir;
    int r = inode_of(parent, &dir);
    if (r < 0)
        return r;
    r = inode_permission(dir, nd->cred, VFS_MAY_WRITE | VFS_MAY_EXEC);
    inode_put(dir);
    return r;
}

static int open_create(struct nameidata *nd, struct task *t, const char *path, int flags,
                       uint32_t mode, struct path *out, bool *created)
{
    char last[NAME_MAX_LEN + 1];
    enum last_type type;
    bool trailing;
    int r = walk_parent(nd, path, last, &type, &trailing);
    if (r < 0)
        return r;
    if (type != LAST_NORM || trailing)
        return -EISDIR;

    pthread_mutex_lock(&g_vfs_ns_lock);
    struct dentry *child;
    r = d_lookup(nd->cur.dentry, last, true, &child);
    if (r < 0)
        goto out_unlock;
    struct path cp = {nd->cur.mnt, child};
    vfs_follow_mounts(&cp);
    struct inode *ci = dentry_inode(cp.dentry);
    if (!ci) {
        r = mnt_want_write(nd->cur.mnt);
        if (r == 0)
            r = check_create(nd, &nd->cur);
        struct inode *dir = NULL, *inode = NULL;
        if (r == 0)
            r = inode_of(&nd->cur, &dir);
        if (r == 0) {
            uint32_t um = t && t->fs ? vfs_umask(t) : 022;
            r = dir->ops->create ? dir->ops->create(dir, last, VFS_S_IFREG | (mode & 07777 & ~um),
                                                    0, nd->cred, &inode)
                                 : -EPERM;
            inode_put(dir);
        }
        if (r == 0) {
            d_instantiate(cp.dentry, inode);
            fsnotify_create(nd->cur.dentry, last, inode);
            inode_put(inode);
            *created = true;
            *out = cp;
        } else {
            path_put(&cp);
        }
        goto out_unlock;
    }
    pthread_mutex_unlock(&g_vfs_ns_lock);
    if (flags & O_EXCL) {
        r = -EEXIST;
    } else if (inode_is_lnk(ci)) {
        if (flags & O_NOFOLLOW) {
            r = -ELOOP;
        } else if (mnt_flags(cp.mnt) & VFS_MNT_NOSYMFOLLOW) {
            r = -ELOOP;
        } else if ((r = link_allowed(nd, ci)) < 0) {
            /* refused by RESOLVE_* */
        } else if (++nd->nlinks > MAX_SYMLINKS) {
            r = -ELOOP;
        } else if (ci->ops->get_link) {
            r = ci->ops->get_link(ci, out);
        } else {
            char *buf = malloc(LINUX_PATH_MAX);
            r = buf ? (ci->ops->readlink ? ci->ops->readlink(ci, buf, LINUX_PATH_MAX - 1)
                                         : -EINVAL)
                    : -ENOMEM;
            if (r >= LINUX_PATH_MAX - 1)
                r = -ENAMETOOLONG;
            if (r == 0)
                r = -ENOENT;
            if (r > 0) {
                buf[r] = '\0';
                /* The target is created if missing, as Linux does. */
                r = open_create(nd, t, buf, flags, mode, out, created);
            }
            free(buf);
        }
    } else if (inode_is_dir(ci)) {
        r = -EISDIR;
    } else {
        *out = cp;
        cp.dentry = NULL;
    }
    inode_put(ci);
    path_put(&cp);
    return r;
out_unlock:
    pthread_mutex_unlock(&g_vfs_ns_lock);
    return r;
}

/* O_TMPFILE: a regular file made in the directory PATH under a private
 * name that is removed at once, so only the open file reaches it; without
 * O_EXCL linkat(AT_EMPTY_PATH) may give it a name later. Memory-backed file
 * systems only (tmpfs, the overlay's upper layer): -EOPNOTSUPP elsewhere. */
static int open_tmpfile(struct task *t, int dirfd, const char *path, int flags, uint32_t mode,
                        unsigned resolve, struct file **out)
{
    static uint64_t g_tmpfile_seq;
    unsigned acc = flags & O_ACCMODE;
    if (acc != O_WRONLY && acc != O_RDWR)
        return -EINVAL;
    struct nameidata nd;
    int r = nd_start_scoped(&nd, t, dirfd, path, resolve);
    if (r < 0)
        return r;
    r = walk(&nd, path, WALK_FOLLOW | WALK_DIR);
    struct inode *dir = NULL;
    if (r == 0)
        r = mnt_want_write(nd.cur.mnt);
    if (r == 0)
        r = inode_of(&nd.cur, &dir);
    if (r == 0 && strcmp(dir->sb->type, "tmpfs") != 0 && strcmp(dir->sb->type, "overlay") != 0)
        r = -EOPNOTSUPP;
    if (r < 0)
        goto out;
    char name[64];
    struct path cp = {0};
    struct inode *inode = NULL;
    pthread_mutex_lock(&g_vfs_ns_lock);
    r = check_create(&nd, &nd.cur);
    for (int tries = 0; r == 0 && tries < 16; tries++) {
        uint64_t seq = __atomic_add_fetch(&g_tmpfile_seq, 1, __ATOMIC_RELAXED);
        snprintf(name, sizeof(name), ".#moat-tmpfile-%llu", (unsigned long long)seq);
        struct dentry *child;
        r = d_lookup(nd.cur.dentry, name, true, &child);
        if (r < 0)
            break;
        struct inode *ci = dentry_inode(child);
        if (ci) {
            inode_put(ci);
            dentry_put(child);
            continue;
        }
        uint32_t um = t && t->fs ? vfs_umask(t) : 022;
        r = dir->ops->create ? dir->ops->create(dir, name, VFS_S_IFREG | (mode & 07777 & ~um), 0,
                                                nd.cred, &inode)
                             : -EOPNOTSUPP;
        if (r < 0) {
            dentry_put(child);
            break;
        }
        d_instantiate(child, inode);
        r = dir->ops->unlink ? dir->ops->unlink(dir, name, inode) : -EOPNOTSUPP;
        d_delete(child);
        cp.mnt = nd.cur.mnt;
        cp.dentry = child;
        break;
    }
    pthread_mutex_unlock(&g_vfs_ns_lock);
    if (r == 0 && !cp.dentry)
        r = -EEXIST;
    if (r == 0) {
        struct inode *named = dentry_inode(cp.dentry);
        if (named) {
            named->linkable = !(flags & O_EXCL);
            inode_put(named);
        }
        r = do_open(&nd, &cp, flags & ~(O_TMPFILE | O_CREAT | O_EXCL | O_TRUNC), true, out);
        if (r == 0)
            fsnotify_open(*out);
    }
    inode_put(inode);
    if (cp.dentry)
        path_put(&cp);
out:
    inode_put(dir);
    nd_release(&nd);
    return r;
}

int vfs_openat(struct task *t, int dirfd, const char *path, int flags, uint32_t mode,
               struct file **out)
{
    return vfs_openat2(t, dirfd, path, flags, mode, 0, out);
}

int vfs_openat2(struct task *t, int dirfd, const char *path, int flags, uint32_t mode,
                unsigned resolve, struct file **out)
{
    if (path[0] == '\0')
        return -ENOENT;
    if (resolve & L_RESOLVE_CACHED)
        return -EAGAIN; /* nothing is promised to be cached: the caller retries */
    if ((flags & O_TMPFILE) == O_TMPFILE)
        return open_tmpfile(t, dirfd, path, flags, mode, resolve, out);
    if (flags & O_PATH)
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    struct nameidata nd;
    int r = nd_start_scoped(&nd, t, dirfd, path, resolve);
    if (r < 0)
        return r;
    struct path p = {0};
    bool created = false;
    if (flags & O_CREAT) {
        r = open_create(&nd, t, path, flags, mode, &p, &created);
        if (r == 0 && (flags & O_DIRECTORY) && !path_is_dir(&p))
            r = -ENOTDIR;
    } else {
        unsigned wf = (flags & O_NOFOLLOW) ? 0 : WALK_FOLLOW;
        if (flags & O_DIRECTORY)
            wf |= WALK_DIR;
        r = walk(&nd, path, wf);
        if (r == 0) {
            p = nd.cur;
            path_get(&p);
        }
    }
    if (r == 0)
        r = do_open(&nd, &p, flags, created, out);
    if (r == 0) {
        fsnotify_open(*out);
        if ((flags & O_TRUNC) && !created && !(flags & O_PATH) && inode_is_reg((*out)->inode))
            fsnotify_file(*out, FSN_MODIFY);
    }
    path_put(&p);
    nd_release(&nd);
    return r;
}

int vfs_open_exec(struct task *t, const char *path, struct file **out)
{
    struct path p;
    struct inode *inode;
    if (path[0] == '\0')
        return -ENOENT;
    int r = resolve_at(t, AT_FDCWD, path, 0, 0, &p, &inode);
    if (r < 0)
        return r;
    const struct cred *cred = t ? &t->cred : &g_root_cred;
    if (!inode_is_reg(inode))
        r = -EACCES;
    if (r == 0)
        r = inode_permission(inode, cred, VFS_MAY_EXEC);
    if (r == 0 && (mnt_flags(p.mnt) & VFS_MNT_NOEXEC))
        r = -EACCES; /* path_noexec */
    inode_put(inode);
    if (r == 0) {
        struct nameidata nd = {.cred = cred};
        r = do_open(&nd, &p, O_RDONLY, true, out);
        if (r == 0)
            fsnotify_open(*out);
    }
    path_put(&p);
    return r;
}

/* ---- attributes by path ---- */

int vfs_statat(struct task *t, int dirfd, const char *path, int at_flags, struct linux_stat *st)
{
    int id;
    bool root;
    return vfs_statat_mnt(t, dirfd, path, at_flags, st, &id, &root);
}

int vfs_statat_mnt(struct task *t, int dirfd, const char *path, int at_flags,
                   struct linux_stat *st, int *out_mnt_id, bool *out_mount_root)
{
    if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT))
        return -EINVAL;
    struct path p;
    struct inode *inode;
    int r = resolve_at(t, dirfd, path, at_flags, 0, &p, &inode);
    if (r < 0)
        return r;
    r = vfs_getattr(inode, st);
    *out_mnt_id = p.mnt ? p.mnt->id : 0;
    *out_mount_root = p.mnt && p.dentry == p.mnt->root;
    inode_put(inode);
    path_put(&p);
    return r;
}

int vfs_faccessat(struct task *t, int dirfd, const char *path, int mode, int at_flags)
{
    if (mode & ~7)
        return -EINVAL;
    if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH))
        return -EINVAL;
    struct path p;
    struct inode *inode;
    int r = resolve_at(t, dirfd, path, at_flags, 0, &p, &inode);
    if (r < 0)
        return r;
    struct cred c = t ? t->cred : g_root_cred;
    if (!(at_flags & AT_EACCESS)) {
        /* access(2) checks with the real ids; the real root keeps its
         * permitted capabilities, anyone else has none. */
        c.fsuid = c.uid;
        c.fsgid = c.gid;
        if (!(c.securebits & SECBIT_NO_SETUID_FIXUP))
            c.cap_effective = c.uid == 0 ? c.cap_permitted : 0;
    }
    if (mode)
        r = inode_permission(inode, &c, mode);
    /* SuS: a read-only file system is reported too (not for devices,
     * FIFOs and sockets). */
    unsigned type = inode->mode & VFS_S_IFMT;
    if (r == 0 && (mode & VFS_MAY_WRITE) &&
        (type == VFS_S_IFREG || type == VFS_S_IFDIR || type == VFS_S_IFLNK))
        r = mnt_want_write(p.mnt);
    inode_put(inode);
    path_put(&p);
    return r;
}

int vfs_access(struct task *t, const char *path, int mode)
{
    return vfs_faccessat(t, AT_FDCWD, path, mode, 0);
}

static bool is_owner(const struct cred *c, struct inode *inode)
{
    return c->fsuid == inode->uid || cred_capable(c, CAP_FOWNER);
}

static int chmod_inode(struct task *t, struct inode *inode, uint32_t mode)
{
    const struct cred *c = t ? &t->cred : &g_root_cred;
    if (!is_owner(c, inode))
        return -EPERM;
    mode &= 07777;
    if (!cred_in_group(c, inode->gid) && !cred_capable(c, CAP_FSETID))
        mode &= ~(uint32_t)S_ISGID;
    struct vfs_attr a = {.valid = VFS_ATTR_MODE, .mode = mode};
    return vfs_setattr(inode, &a);
}

static int chown_inode(struct task *t, struct inode *inode, uint32_t uid, uint32_t gid)
{
    const struct cred *c = t ? &t->cred : &g_root_cred;
    struct vfs_attr a = {0};
    if (uid != (uint32_t)-1) {
        if (!(c->fsuid == inode->uid && uid == inode->uid) && !cred_capable(c, CAP_CHOWN))
            return -EPERM;
        a.valid |= VFS_ATTR_UID;
        a.uid = uid;
    }
    if (gid != (uint32_t)-1) {
        if (!(c->fsuid == inode->uid && (gid == inode->gid || cred_in_group(c, gid))) &&
            !cred_capable(c, CAP_CHOWN))
            return -EPERM;
        a.valid |= VFS_ATTR_GID;
        a.gid = gid;
    }
    if (!a.valid)
        return 0;
    if (!inode_is_dir(inode) && (inode->mode & (S_ISUID | S_ISGID))) {
        /* Linux drops set-id bits on chown (set-gid only with group exec). */
        uint32_t m = inode->mode & 07777 & ~(uint32_t)S_ISUID;
        if (m & S_IXGRP)
            m &= ~(uint32_t)S_ISGID;
        a.valid |= VFS_ATTR_MODE;
        a.mode = m;
    }
    return vfs_setattr(inode, &a);
}

int vfs_fchmodat(struct task *t, int dirfd, const char *path, uint32_t mode, int at_flags)
{
    if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct path p;
    struct inode *inode;
    int r = resolve_at(t, dirfd, path, at_flags, 0, &p, &inode);
    if (r < 0)
        return r;
    if (inode_is_lnk(inode))
        r = -EOPNOTSUPP;
    else if ((r = mnt_want_write(p.mnt)) == 0)
        r = chmod_inode(t, inode, mode);
    if (r == 0)
        fsnotify_path(&p, inode, FSN_ATTRIB);
    inode_put(inode);
    path_put(&p);
    return r;
}

int vfs_fchownat(struct task *t, int dirfd, const char *path, uint32_t uid, uint32_t gid,
                 int at_flags)
{
    if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct path p;
    struct inode *inode;
    int r = resolve_at(t, dirfd, path, at_flags, 0, &p, &inode);
    if (r < 0)
        return r;
    r = mnt_want_write(p.mnt);
    if (r == 0)
        r = chown_inode(t, inode, uid, gid);
    if (r == 0 && (uid != (uint32_t)-1 || gid != (uint32_t)-1))
        fsnotify_path(&p, inode, FSN_ATTRIB);
    inode_put(inode);
    path_put(&p);
    return r;
}

static struct inode *file_name_inode(struct file *f)
{
    struct inode *inode = f->path.dentry ? dentry_inode(f->path.dentry) : NULL;
    if (!inode) {
        inode = f->inode;
        inode_get(inode);
    }
    return inode;
}

int vfs_fchmod(struct task *t, struct file *f, uint32_t mode)
{
    if (f->fmode & FMODE_PATH)
        return -EBADF;
    int r = mnt_want_write(f->path.mnt);
    if (r < 0)
        return r;
    struct inode *inode = file_name_inode(f);
    r = chmod_inode(t, inode, mode);
    if (r == 0)
        fsnotify_file(f, FSN_ATTRIB);
    inode_put(inode);
    return r;
}

int vfs_fchown(struct task *t, struct file *f, uint32_t uid, uint32_t gid)
{
    if (f->fmode & FMODE_PATH)
        return -EBADF;
    int r = mnt_want_write(f->path.mnt);
    if (r < 0)
        return r;
    struct inode *inode = file_name_inode(f);
    r = chown_inode(t, inode, uid, gid);
    if (r == 0 && (uid != (uint32_t)-1 || gid != (uint32_t)-1))
        fsnotify_file(f, FSN_ATTRIB);
    inode_put(inode);
    return r;
}

int vfs_truncate(struct task *t, const char *path, uint64_t len)
{
    if ((int64_t)len < 0)
        return -EINVAL;
    struct path p;
    struct inode *inode;
    int r = resolve_at(t, AT_FDCWD, path, 0, 0, &p, &inode);
    if (r < 0)
        return r;
    if (inode_is_dir(inode))
        r = -EISDIR;
    else if (!inode_is_reg(inode))
        r = -EINVAL;
    else if ((r = mnt_want_write(p.mnt)) == 0)
        r = inode_permission(inode, t ? &t->cred : &g_root_cred, VFS_MAY_WRITE);
    if (r == 0)
        r = vfs_truncate_check(inode, len);
    if (r == 0) {
        struct vfs_attr a = {.valid = VFS_ATTR_SIZE, .size = len};
        r = vfs_setattr(inode, &a);
    }
    if (r == 0)
        fsnotify_path(&p, inode, FSN_MODIFY);
    inode_put(inode);
    path_put(&p);
    return r;
}

int vfs_utimensat(struct task *t, int dirfd, const char *path,
                  const struct linux_timespec *times, int at_flags)
{
    if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct vfs_attr a = {0};
    struct linux_timespec now;
    host_fs_now(&now);
    bool all_now = true;
    if (times) {
        for (int i = 0; i < 2; i++) {
            int64_t ns = times[i].tv_nsec;
            if (ns != UTIME_NOW && ns != UTIME_OMIT && (ns < 0 || ns > 999999999))
                return -EINVAL;
            if (ns != UTIME_NOW)
                all_now = false;
        }
        if (times[0].tv_nsec != UTIME_OMIT) {
            a.valid |= VFS_ATTR_ATIME;
            a.atime = times[0].tv_nsec == UTIME_NOW ? now : times[0];
        }
        if (times[1].tv_nsec != UTIME_OMIT) {
            a.valid |= VFS_ATTR_MTIME;
            a.mtime = times[1].tv_nsec == UTIME_NOW ? now : times[1];
        }
    } else {
        a.valid = VFS_ATTR_ATIME | VFS_ATTR_MTIME;
        a.atime = a.mtime = now;
    }
    struct path p;
    struct inode *inode;
    int r = resolve_at(t, dirfd, path, at_flags, 0, &p, &inode);
    if (r < 0)
        return r;
    const struct cred *c = t ? &t->cred : &g_root_cred;
    r = mnt_want_write(p.mnt);
    if (r == 0 && !is_owner(c, inode)) {
        if (!all_now)
            r = -EPERM;
        else
            r = inode_permission(inode, c, VFS_MAY_WRITE);
    }
    if (r == 0 && a.valid)
        r = vfs_setattr(inode, &a);
    if (r == 0 && a.valid)
        fsnotify_path(&p, inode, fsnotify_attr_mask(a.valid));
    inode_put(inode);
    path_put(&p);
    return r;
}

/* ---- names ---- */

/* Walks to the parent of PATH and takes g_vfs_ns_lock with the final name
 * looked up in *OUT_CHILD (maybe negative). On error nothing is held. */
static int lock_last(struct nameidata *nd, struct task *t, int dirfd, const char *path, char *last,
                     enum last_type *type, bool *trailing, struct dentry **out_child)
{
    if (path[0] == '\0')
        return -ENOENT;
    int r = nd_start(nd, t, dirfd, path);
    if (r < 0)
        return r;
    r = walk_parent(nd, path, last, type, trailing);
    if (r < 0)
        goto out_release;
    *out_child = NULL;
    pthread_mutex_lock(&g_vfs_ns_lock);
    if (*type == LAST_NORM) {
        r = d_lookup(nd->cur.dentry, last, true, out_child);
        if (r < 0) {
            pthread_mutex_unlock(&g_vfs_ns_lock);
            goto out_release;
        }
    }
    return 0;
out_release:
    nd_release(nd);
    return r;
}

static void unlock_last(struct nameidata *nd, struct dentry *child)
{
    pthread_mutex_unlock(&g_vfs_ns_lock);
    if (child)
        dentry_put(child);
    nd_release(nd);
}

/* Creates a node at the negative CHILD: kind 'f' mknod, 'd' mkdir, 'l'
 * symlink (TARGET). g_vfs_ns_lock held. */
static int create_node(struct nameidata *nd, struct dentry *child, const char *name, char kind,
                       uint32_t mode, uint64_t rdev, const char *target)
{
    int r = mnt_want_write(nd->cur.mnt);
    if (r == 0)
        r = check_create(nd, &nd->cur);
    if (r < 0)
        return r;
    struct inode *dir, *inode = NULL;
    r = inode_of(&nd->cur, &dir);
    if (r < 0)
        return r;
    if (kind == 'l')
        r = dir->ops->symlink ? dir->ops->symlink(dir, name, target, nd->cred, &inode) : -EPERM;
    else
        r = dir->ops->create ? dir->ops->create(dir, name, mode, rdev, nd->cred, &inode) : -EPERM;
    if (r == 0) {
        d_instantiate(child, inode);
        fsnotify_create(nd->cur.dentry, name, inode);
        inode_put(inode);
    }
    inode_put(dir);
    return r;
}

int vfs_mkdirat(struct task *t, int dirfd, const char *path, uint32_t mode)
{
    struct nameidata nd;
    char last[NAME_MAX_LEN + 1];
    enum last_type type;
    bool trailing;
    struct dentry *child;
    int r = lock_last(&nd, t, dirfd, path, last, &type, &trailing, &child);
    if (r < 0)
        return r;
    struct inode *ci = child ? dentry_inode(child) : NULL;
    if (type != LAST_NORM || ci) {
        r = -EEXIST;
    } else {
        uint32_t um = t && t->fs ? vfs_umask(t) : 022;
        r = create_node(&nd, child, last, 'd', VFS_S_IFDIR | (mode & 01777 & ~um), 0, NULL);
    }
    inode_put(ci);
    unlock_last(&nd, child);
    return r;
}

int vfs_mknodat(struct task *t, int dirfd, const char *path, uint32_t mode, uint64_t dev)
{
    uint32_t type = mode & VFS_S_IFMT;
    if (type == 0)
        type = VFS_S_IFREG;
    switch (type) {
    case VFS_S_IFREG:
    case VFS_S_IFIFO:
    case VFS_S_IFSOCK:
        dev = 0;
        break;
    case VFS_S_IFCHR:
    case VFS_S_IFBLK:
        if (!task_capable(t, CAP_MKNOD))
            return -EPERM;
        break;
    case VFS_S_IFDIR:
        return -EPERM;
    default:
        return -EINVAL;
    }
    struct nameidata nd;
    char last[NAME_MAX_LEN + 1];
    enum last_type lt;
    bool trailing;
    struct dentry *child;
    int r = lock_last(&nd, t, dirfd, path, last, &lt, &trailing, &child);
    if (r < 0)
        return r;
    struct inode *ci = child ? dentry_inode(child) : NULL;
    if (lt != LAST_NORM || ci) {
        r = -EEXIST;
    } else if (trailing) {
        r = -ENOENT;
    } else {
        uint32_t um = t && t->fs ? vfs_umask(t) : 022;
        r = create_node(&nd, child, last, 'f', type | (mode & 07777 & ~um), dev, NULL);
    }
    inode_put(ci);
    unlock_last(&nd, child);
    return r;
}

int vfs_symlinkat(struct task *t, const char *target, int dirfd, const char *path)
{
    if (target[0] == '\0')
        return -ENOENT;
    struct nameidata nd;
    char last[NAME_MAX_LEN + 1];
    enum last_type type;
    bool trailing;
    struct dentry *child;
    int r = lock_last(&nd, t, dirfd, path, last, &type, &trailing, &child);
    if (r < 0)
        return r;
    struct inode *ci = child ? dentry_inode(child) : NULL;
    if (type != LAST_NORM || ci)
        r = -EEXIST;
    else if (trailing)
        r = -ENOENT;
    else
        r = create_node(&nd, child, last, 'l', 0, 0, target);
    inode_put(ci);
    unlock_last(&nd, child);
    return r;
}

static int check_sticky(const struct cred *c, struct inode *dir, struct inode *victim)
{
    if (!(dir->mode & S_ISVTX))
        return 0;
    if (c->fsuid == dir->uid || c->fsuid == victim->uid || cred_capable(c, CAP_FOWNER))
        return 0;
    return -EPERM;
}

/* Whether INODE has one name at most (for DELETE_SELF; only asked while
 * somebody watches). */
static bool only_link(struct inode *inode)
{
    struct linux_stat st;
    return fsnotify_active() && (vfs_getattr(inode, &st) < 0 || st.st_nlink <= 1);
}

/* Checks that NAME in nd->cur can be removed by nd->cred (ns lock held). */
static int check_delete(struct nameidata *nd, struct dentry *child, struct inode *victim)
{
    int r = check_create(nd, &nd->cur);
    if (r < 0)
        return r;
    struct inode *dir;
    r = inode_of(&nd->cur, &dir);
    if (r < 0)
        return r;
    r = check_sticky(nd->cred, dir, victim);
    inode_put(dir);
    if (r < 0)
        return r;
    pthread_mutex_lock(&g_dcache_lock);
    bool busy = child->mounted > 0;
    pthread_mutex_unlock(&g_dcache_lock);
    return busy ? -EBUSY : 0;
}

int vfs_unlinkat(struct task *t, int dirfd, const char *path, int at_flags)
{
    if (at_flags & ~AT_REMOVEDIR)
        return -EINVAL;
    bool rmdir = at_flags & AT_REMOVEDIR;
    struct nameidata nd;
    char last[NAME_MAX_LEN + 1];
    enum last_type type;
    bool trailing;
    struct dentry *child;
    int r = lock_last(&nd, t, dirfd, path, last, &type, &trailing, &child);
    if (r < 0)
        return r;
    if (type != LAST_NORM) {
        if (!rmdir)
            r = -EISDIR;
        else
            r = type == LAST_DOT ? -EINVAL : type == LAST_DOTDOT ? -ENOTEMPTY : -EBUSY;
        goto out_unlock;
    }
    r = mnt_want_write(nd.cur.mnt);
    if (r < 0)
        goto out_unlock;
    struct inode *victim = dentry_inode(child);
    if (!victim) {
        r = -ENOENT;
        goto out_unlock;
    }
    if (rmdir && !inode_is_dir(victim))
        r = -ENOTDIR;
    else if (!rmdir && inode_is_dir(victim))
        r = -EISDIR;
    else if (!rmdir && trailing)
        r = -ENOTDIR;
    if (r == 0)
        r = check_delete(&nd, child, victim);
    if (r == 0) {
        struct inode *dir = dentry_inode(nd.cur.dentry);
        bool last_link = rmdir || only_link(victim);
        if (rmdir)
            r = dir->ops->rmdir ? dir->ops->rmdir(dir, last, victim) : -EPERM;
        else
            r = dir->ops->unlink ? dir->ops->unlink(dir, last, victim) : -EPERM;
        if (r == 0) {
            d_delete(child);
            fsnotify_unlink(nd.cur.dentry, last, child, victim, last_link);
        }
        inode_put(dir);
    }
    inode_put(victim);
out_unlock:
    unlock_last(&nd, child);
    return r;
}

/* RENAME_EXCHANGE as three renames through a private name in ODIR, all under
 * g_vfs_ns_lock (so no other namespace change sees the middle), undone on
 * failure. The file system checks what its rename checks (the overlay:
 * lower directories stay -EXDEV). */
static int rename_exchange_fs(struct inode *odir, const char *oname, struct inode *a,
                              struct inode *ndir, const char *nname, struct inode *b)
{
    static uint64_t g_xchg_seq;
    if (!odir->ops->rename || !ndir->ops->rename)
        return -EPERM;
    char tmp[64];
    for (int tries = 0;; tries++) {
        uint64_t seq = __atomic_add_fetch(&g_xchg_seq, 1, __ATOMIC_RELAXED);
        snprintf(tmp, sizeof(tmp), ".#moat-exchange-%llu", (unsigned long long)seq);
        struct inode *there = NULL;
        if (!odir->ops->lookup || odir->ops->lookup(odir, tmp, &there) < 0)
            break;
        inode_put(there);
        if (tries == 16)
            return -EEXIST;
    }
    int r = odir->ops->rename(odir, oname, a, odir, tmp, NULL);
    if (r < 0)
        return r;
    r = ndir->ops->rename(ndir, nname, b, odir, oname, NULL);
    if (r < 0) {
        odir->ops->rename(odir, tmp, a, odir, oname, NULL);
        return r;
    }
    r = odir->ops->rename(odir, tmp, a, ndir, nname, NULL);
    if (r < 0) {
        odir->ops->rename(odir, oname, b, ndir, nname, NULL);
        odir->ops->rename(odir, tmp, a, odir, oname, NULL);
    }
    return r;
}

int vfs_renameat2(struct task *t, int odirfd, const char *opath, int ndirfd, const char *npath,
                  unsigned flags)
{
    if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
        return -EINVAL;
    if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
        return -EINVAL;
    if (opath[0] == '\0' || npath[0] == '\0')
        return -ENOENT;
    struct nameidata ond, nnd;
    char olast[NAME_MAX_LEN + 1], nlast[NAME_MAX_LEN + 1];
    enum last_type otype, ntype;
    bool otrail, ntrail;
    int r = nd_start(&ond, t, odirfd, opath);
    if (r < 0)
        return r;
    r = walk_parent(&ond, opath, olast, &otype, &otrail);
    if (r < 0)
        goto out_old;
    r = nd_start(&nnd, t, ndirfd, npath);
    if (r < 0)
        goto out_old;
    r = walk_parent(&nnd, npath, nlast, &ntype, &ntrail);
    if (r < 0)
        goto out_new;
    if (ond.cur.mnt != nnd.cur.mnt) {
        r = -EXDEV;
        goto out_new;
    }
    if (otype != LAST_NORM) {
        r = -EBUSY;
        goto out_new;
    }
    if (ntype != LAST_NORM) {
        r = (flags & RENAME_NOREPLACE) ? -EEXIST : -EBUSY;
        goto out_new;
    }
    r = mnt_want_write(ond.cur.mnt);
    if (r < 0)
        goto out_new;

    pthread_mutex_lock(&g_vfs_ns_lock);
    struct dentry *od = NULL, *ndn = NULL;
    struct inode *src = NULL, *target = NULL, *odir = NULL, *ndir = NULL;
    r = d_lookup(ond.cur.dentry, olast, true, &od);
    if (r < 0)
        goto out_unlock;
    src = dentry_inode(od);
    if (!src) {
        r = -ENOENT;
        goto out_unlock;
    }
    r = d_lookup(nnd.cur.dentry, nlast, true, &ndn);
    if (r < 0)
        goto out_unlock;
    target = dentry_inode(ndn);
    if ((otrail || ntrail) && !inode_is_dir(src)) {
        r = -ENOTDIR;
        goto out_unlock;
    }
    if (target && (flags & RENAME_NOREPLACE)) {
        r = -EEXIST;
        goto out_unlock;
    }
    if (flags & RENAME_EXCHANGE) {
        if (!target) {
            r = -ENOENT;
            goto out_unlock;
        }
        if (ntrail && !inode_is_dir(target)) {
            r = -ENOTDIR;
            goto out_unlock;
        }
        if (target == src)
            goto out_unlock;
        if (d_is_ancestor(od, nnd.cur.dentry) || d_is_ancestor(ndn, ond.cur.dentry)) {
            r = -EINVAL;
            goto out_unlock;
        }
        r = check_delete(&ond, od, src);
        if (r == 0)
            r = check_delete(&nnd, ndn, target);
        if (r == 0 && ond.cur.dentry != nnd.cur.dentry && inode_is_dir(src))
            r = inode_permission(src, ond.cred, VFS_MAY_WRITE);
        if (r == 0 && ond.cur.dentry != nnd.cur.dentry && inode_is_dir(target))
            r = inode_permission(target, nnd.cred, VFS_MAY_WRITE);
        if (r < 0)
            goto out_unlock;
        odir = dentry_inode(ond.cur.dentry);
        ndir = dentry_inode(nnd.cur.dentry);
        r = odir && ndir ? rename_exchange_fs(odir, olast, src, ndir, nlast, target) : -ENOENT;
        if (r == 0) {
            d_exchange(od, ndn);
            fsnotify_exchange(ond.cur.dentry, olast, src, nnd.cur.dentry, nlast, target);
        }
        goto out_unlock;
    }
    if (target == src)
        goto out_unlock; /* same file: nothing to do */
    if (target && inode_is_dir(src) && !inode_is_dir(target)) {
        r = -ENOTDIR;
        goto out_unlock;
    }
    if (target && !inode_is_dir(src) && inode_is_dir(target)) {
        r = -EISDIR;
        goto out_unlock;
    }
    if (d_is_ancestor(od, nnd.cur.dentry)) {
        r = -EINVAL;
        goto out_unlock;
    }
    if (target && d_is_ancestor(ndn, ond.cur.dentry)) {
        r = -ENOTEMPTY;
        goto out_unlock;
    }
    r = check_delete(&ond, od, src);
    if (r == 0)
        r = target ? check_delete(&nnd, ndn, target) : check_create(&nnd, &nnd.cur);
    if (r == 0 && inode_is_dir(src) && ond.cur.dentry != nnd.cur.dentry)
        r = inode_permission(src, ond.cred, VFS_MAY_WRITE);
    if (r < 0)
        goto out_unlock;
    odir = dentry_inode(ond.cur.dentry);
    ndir = dentry_inode(nnd.cur.dentry);
    if (!odir || !ndir) {
        r = -ENOENT;
        goto out_unlock;
    }
    bool target_last = target && (inode_is_dir(target) || only_link(target));
    r = odir->ops->rename ? odir->ops->rename(odir, olast, src, ndir, nlast, target) : -EPERM;
    if (r == 0) {
        if (target)
            d_delete(ndn);
        r = d_move(od, nnd.cur.dentry, nlast);
        if (r == 0)
            fsnotify_rename(ond.cur.dentry, olast, nnd.cur.dentry, nlast, od, src, ndn, target,
                            target_last);
    }
out_unlock:
    pthread_mutex_unlock(&g_vfs_ns_lock);
    inode_put(odir);
    inode_put(ndir);
    inode_put(src);
    inode_put(target);
    if (od)
        dentry_put(od);
    if (ndn)
        dentry_put(ndn);
out_new:
    nd_release(&nnd);
out_old:
    nd_release(&ond);
    return r;
}

int vfs_linkat(struct task *t, int odirfd, const char *opath, int ndirfd, const char *npath,
               int at_flags)
{
    if (at_flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct path op;
    struct inode *src;
    int r = resolve_at(t, odirfd, opath, (at_flags & AT_EMPTY_PATH) |
                                                 ((at_flags & AT_SYMLINK_FOLLOW) ? 0 : AT_SYMLINK_NOFOLLOW),
                       0, &op, &src);
    if (r < 0)
        return r;
    if (!op.dentry) {
        r = -ENOENT;
        goto out_put;
    }
    if (inode_is_dir(src)) {
        r = -EPERM;
        goto out_put;
    }
    struct linux_stat sst;
    if (vfs_getattr(src, &sst) == 0 && sst.st_nlink == 0 && !src->linkable) {
        r = -ENOENT; /* unlinked, and not an O_TMPFILE file */
        goto out_put;
    }
    struct nameidata nd;
    char last[NAME_MAX_LEN + 1];
    enum last_type type;
    bool trailing;
    struct dentry *child;
    r = lock_last(&nd, t, ndirfd, npath, last, &type, &trailing, &child);
    if (r < 0)
        goto out_put;
    struct inode *ci = child ? dentry_inode(child) : NULL;
    if (type != LAST_NORM || ci)
        r = -EEXIST;
    else if (trailing)
        r = -ENOENT;
    else if ((r = mnt_want_write(nd.cur.mnt)) < 0)
        ; /* read-only */
    else if (nd.cur.mnt != op.mnt)
        r = -EXDEV;
    else
        r = check_create(&nd, &nd.cur);
    if (r == 0) {
        struct inode *dir = dentry_inode(nd.cur.dentry);
        r = dir->ops->link ? dir->ops->link(dir, last, src) : -EPERM;
        if (r == 0) {
            d_instantiate(child, src);
            src->linkable = false;
            fsnotify_link(nd.cur.dentry, last, src);
        }
        inode_put(dir);
    }
    inode_put(ci);
    unlock_last(&nd, child);
out_put:
    inode_put(src);
    path_put(&op);
    return r;
}

int vfs_readlinkat(struct task *t, int dirfd, const char *path, char *buf, size_t size)
{
    struct path p;
    struct inode *inode;
    int r = resolve_at(t, dirfd, path, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, 0, &p, &inode);
    if (r < 0)
        return r;
    if (!inode_is_lnk(inode)) {
        r = -EINVAL;
    } else if (inode->ops->readlink) {
        r = inode->ops->readlink(inode, buf, size);
    } else if (inode->ops->get_link) {
        struct path target, root;
        r = inode->ops->get_link(inode, &target);
        if (r == 0) {
            char *tmp = malloc(LINUX_PATH_MAX);
            vfs_root_path(&root);
            r = tmp ? vfs_path_string(&target, &root, tmp, LINUX_PATH_MAX, true) : -ENOMEM;
            if (r >= 0) {
                r = (int)MIN((size_t)r, size);
                memcpy(buf, tmp, r);
            }
            free(tmp);
            path_put(&root);
            path_put(&target);
        }
    } else {
        r = -EINVAL;
    }
    inode_put(inode);
    path_put(&p);
    return r;
}

/* ---- cwd ---- */

int vfs_chdir(struct task *t, const char *path)
{
    struct path p;
    struct inode *inode;
    int r = resolve_at(t, AT_FDCWD, path, 0, WALK_DIR, &p, &inode);
    if (r < 0)
        return r;
    r = inode_permission(inode, &t->cred, VFS_MAY_EXEC);
    if (r == 0)
        fs_set_cwd(t->fs, &p);
    inode_put(inode);
    path_put(&p);
    return r;
}

int vfs_fchdir(struct task *t, struct file *f)
{
    if (!f->path.dentry || !inode_is_dir(f->inode))
        return -ENOTDIR;
    struct inode *inode;
    int r = inode_of(&f->path, &inode);
    if (r < 0)
        return r;
    r = inode_permission(inode, &t->cred, VFS_MAY_EXEC);
    if (r == 0)
        fs_set_cwd(t->fs, &f->path);
    inode_put(inode);
    return r;
}

int vfs_getcwd(struct task *t, char *buf, size_t size)
{
    struct path cwd, root;
    fs_get_cwd(t->fs, &cwd);
    fs_get_root(t->fs, &root);
    int r;
    if (d_is_dead(cwd.dentry)) {
        r = -ENOENT;
    } else {
        r = vfs_path_string(&cwd, &root, buf, size, false);
        if (r == -ENAMETOOLONG)
            r = -ERANGE;
        else if (r >= 0)
            r++;
    }
    path_put(&cwd);
    path_put(&root);
    return r;
}

/* ---- extended attributes ---- */

#define XATTR_NAME_MAX 255
#define XATTR_SIZE_MAX 65536

enum xattr_ns { XNS_USER, XNS_TRUSTED, XNS_SECURITY, XNS_OTHER };

static enum xattr_ns xattr_ns_of(const char *name)
{
    if (strncmp(name, "user.", 5) == 0 && name[5])
        return XNS_USER;
    if (strncmp(name, "trusted.", 8) == 0 && name[8])
        return XNS_TRUSTED;
    if (strncmp(name, "security.", 9) == 0 && name[9])
        return XNS_SECURITY;
    return XNS_OTHER;
}

/* The inode an xattr call acts on: F's name, or PATH (following a final
 * symlink if FOLLOW). New reference. */
static int xattr_inode(struct task *t, const char *path, bool follow, struct file *f,
                       struct inode **out, bool *out_ro)
{
    if (f) {
        if (f->fmode & FMODE_PATH)
            return -EBADF;
        *out = file_name_inode(f);
        *out_ro = mnt_is_readonly(f->path.mnt);
        return 0;
    }
    struct path p;
    int r = resolve_at(t, AT_FDCWD, path, follow ? 0 : AT_SYMLINK_NOFOLLOW, 0, &p, out);
    *out_ro = r == 0 && mnt_is_readonly(p.mnt);
    path_put(&p);
    return r;
}

/* ATTRIB for an xattr change of F or PATH (walked again: only while
 * somebody watches). */
static void xattr_notify(struct task *t, const char *path, bool follow, struct file *f)
{
    if (!fsnotify_active())
        return;
    if (f) {
        fsnotify_file(f, FSN_ATTRIB);
        return;
    }
    struct path p;
    struct inode *inode;
    if (resolve_at(t, AT_FDCWD, path, follow ? 0 : AT_SYMLINK_NOFOLLOW, 0, &p, &inode) < 0)
        return;
    fsnotify_path(&p, inode, FSN_ATTRIB);
    inode_put(inode);
    path_put(&p);
}

/* Linux's rules: user.* only on regular files and directories, with read
 * or write permission; trusted.* for CAP_SYS_ADMIN (root) only;
 * security.* left to the file system; others unsupported. */
static int xattr_permission(const struct cred *c, struct inode *inode, const char *name,
                            bool write)
{
    switch (xattr_ns_of(name)) {
    case XNS_USER:
        if (!inode_is_reg(inode) && !inode_is_dir(inode))
            return write ? -EPERM : -ENODATA;
        return inode_permission(inode, c, write ? VFS_MAY_WRITE : VFS_MAY_READ);
    case XNS_TRUSTED:
        if (!cred_capable(c, CAP_SYS_ADMIN))
            return write ? -EPERM : -ENODATA;
        return 0;
    case XNS_SECURITY:
        if (write && !is_owner(c, inode))
            return -EPERM;
        return 0;
    default:
        return -EOPNOTSUPP;
    }
}

static int xattr_check_name(const char *name)
{
    size_t n = strlen(name);
    return n == 0 || n > XATTR_NAME_MAX ? -ERANGE : 0;
}

ssize_t vfs_getxattr(struct task *t, const char *path, bool follow, struct file *f,
                     const char *name, void *buf, size_t size)
{
    int r = xattr_check_name(name);
    if (r < 0)
        return r;
    struct inode *inode;
    bool ro;
    r = xattr_inode(t, path, follow, f, &inode, &ro);
    if (r < 0)
        return r;
    const struct cred *c = t ? &t->cred : &g_root_cred;
    ssize_t n = xattr_permission(c, inode, name, false);
    if (n == 0) {
        if (size > XATTR_SIZE_MAX)
            size = XATTR_SIZE_MAX;
        n = inode->ops->getxattr ? inode->ops->getxattr(inode, name, buf, size) : -ENODATA;
    }
    inode_put(inode);
    return n;
}

int vfs_setxattr(struct task *t, const char *path, bool follow, struct file *f,
                 const char *name, const void *value, size_t size, int flags)
{
    if (flags & ~(VFS_XATTR_CREATE | VFS_XATTR_REPLACE))
        return -EINVAL;
    int r = xattr_check_name(name);
    if (r < 0)
        return r;
    if (size > XATTR_SIZE_MAX)
        return -E2BIG;
    struct inode *inode;
    bool ro;
    r = xattr_inode(t, path, follow, f, &inode, &ro);
    if (r < 0)
        return r;
    const struct cred *c = t ? &t->cred : &g_root_cred;
    r = ro ? -EROFS : xattr_permission(c, inode, name, true);
    if (r == 0)
        r = inode->ops->setxattr ? inode->ops->setxattr(inode, name, value, size, flags)
                                 : -EOPNOTSUPP;
    inode_put(inode);
    if (r == 0)
        xattr_notify(t, path, follow, f);
    return r;
}

int vfs_removexattr(struct task *t, const char *path, bool follow, struct file *f,
                    const char *name)
{
    int r = xattr_check_name(name);
    if (r < 0)
        return r;
    struct inode *inode;
    bool ro;
    r = xattr_inode(t, path, follow, f, &inode, &ro);
    if (r < 0)
        return r;
    const struct cred *c = t ? &t->cred : &g_root_cred;
    r = ro ? -EROFS : xattr_permission(c, inode, name, true);
    if (r == 0)
        r = inode->ops->removexattr ? inode->ops->removexattr(inode, name) : -ENODATA;
    inode_put(inode);
    if (r == 0)
        xattr_notify(t, path, follow, f);
    return r;
}

ssize_t vfs_listxattr(struct task *t, const char *path, bool follow, struct file *f, char *buf,
                      size_t size)
{
    struct inode *inode;
    bool ro;
    int r = xattr_inode(t, path, follow, f, &inode, &ro);
    if (r < 0)
        return r;
    const struct cred *c = t ? &t->cred : &g_root_cred;
    ssize_t n = inode->ops->listxattr ? inode->ops->listxattr(inode, NULL, 0) : 0;
    char *all = NULL;
    if (n > 0) {
        all = malloc((size_t)n);
        n = all ? inode->ops->listxattr(inode, all, (size_t)n) : -ENOMEM;
    }
    inode_put(inode);
    if (n < 0) {
        free(all);
        return n == -ERANGE ? -EAGAIN : n; /* it grew meanwhile: let the app retry */
    }
    /* Hide trusted.* from the unprivileged. */
    size_t out = 0;
    for (ssize_t off = 0; off < n;) {
        size_t len = strlen(all + off) + 1;
        if (xattr_ns_of(all + off) != XNS_TRUSTED || cred_capable(c, CAP_SYS_ADMIN)) {
            if (size) {
                if (out + len > size) {
                    free(all);
                    return -ERANGE;
                }
                memcpy(buf + out, all + off, len);
            }
            out += len;
        }
        off += (ssize_t)len;
    }
    free(all);
    if (size == 0 && out > XATTR_SIZE_MAX)
        return -E2BIG;
    return (ssize_t)out;
}
