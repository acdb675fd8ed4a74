/*
 * fd tables (per process, shared by CLONE_FILES threads) and fs_structs
 * (root, cwd, umask).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/task/task.h"
#include "kernel/vfs/vfs_internal.h"
#include "kernel/vfs/vfs_lock.h"

/* A reserved slot: invisible to lookups until installed. */
#define FD_RESERVED ((struct file *)1)

struct fdtable {
    struct refcount ref;
    pthread_mutex_t lock;
    int size;                /* (l) slots allocated */
    int lowest_free;         /* (l) no free slot below this */
    struct file **files;     /* (l) NULL, FD_RESERVED or a counted file */
    uint8_t *cloexec;        /* (l) */
};

int fdtable_new(struct fdtable **out)
{
    struct fdtable *fdt = calloc(1, sizeof(*fdt));
    if (!fdt)
        return -ENOMEM;
    refcount_init(&fdt->ref);
    pthread_mutex_init(&fdt->lock, NULL);
    *out = fdt;
    return 0;
}

static int fdtable_grow_locked(struct fdtable *fdt, int need)
{
    if (need <= fdt->size)
        return 0;
    int n = fdt->size ? fdt->size : 64;
    while (n < need)
        n *= 2;
    if (n > VFS_NR_OPEN)
        n = VFS_NR_OPEN;
    if (n < need)
        return -EMFILE;
    struct file **files = realloc(fdt->files, n * sizeof(*files));
    if (!files)
        return -ENOMEM;
    fdt->files = files;
    uint8_t *ce = realloc(fdt->cloexec, n);
    if (!ce)
        return -ENOMEM;
    fdt->cloexec = ce;
    memset(fdt->files + fdt->size, 0, (n - fdt->size) * sizeof(*files));
    memset(fdt->cloexec + fdt->size, 0, n - fdt->size);
    fdt->size = n;
    return 0;
}

int fdtable_copy(struct fdtable *fdt, struct fdtable **out)
{
    struct fdtable *n;
    int r = fdtable_new(&n);
    if (r < 0)
        return r;
    pthread_mutex_lock(&fdt->lock);
    r = fdtable_grow_locked(n, fdt->size);
    if (r < 0) {
        pthread_mutex_unlock(&fdt->lock);
        fdtable_put(n);
        return r;
    }
    for (int i = 0; i < fdt->size; i++) {
        struct file *f = fdt->files[i];
        if (!f || f == FD_RESERVED)
            continue;
        file_get(f);
        n->files[i] = f;
        n->cloexec[i] = fdt->cloexec[i];
    }
    n->lowest_free = 0;
    pthread_mutex_unlock(&fdt->lock);
    *out = n;
    return 0;
}

void fdtable_get(struct fdtable *fdt)
{
    refcount_inc(&fdt->ref);
}

void fdtable_put(struct fdtable *fdt)
{
    if (!fdt || !refcount_dec(&fdt->ref))
        return;
    for (int i = 0; i < fdt->size; i++) {
        if (fdt->files[i] && fdt->files[i] != FD_RESERVED) {
            vfs_locks_close(fdt->files[i], fdt);
            file_put(fdt->files[i]);
        }
    }
    free(fdt->files);
    free(fdt->cloexec);
    pthread_mutex_destroy(&fdt->lock);
    free(fdt);
}

void fdtable_close_on_exec(struct fdtable *fdt)
{
    for (;;) {
        struct file *f = NULL;
        pthread_mutex_lock(&fdt->lock);
        for (int i = 0; i < fdt->size; i++) {
            if (fdt->cloexec[i] && fdt->files[i] && fdt->files[i] != FD_RESERVED) {
                f = fdt->files[i];
                fdt->files[i] = NULL;
                fdt->cloexec[i] = 0;
                if (i < fdt->lowest_free)
                    fdt->lowest_free = i;
                break;
            }
        }
        pthread_mutex_unlock(&fdt->lock);
        if (!f)
            return;
        vfs_locks_close(f, fdt);
        file_put(f);
    }
}

int fdtable_install_at(struct fdtable *fdt, int fd, struct file *file, bool cloexec)
{
    if (fd < 0 || fd >= VFS_NR_OPEN)
        return -EBADF;
    pthread_mutex_lock(&fdt->lock);
    int r = fdtable_grow_locked(fdt, fd + 1);
    if (r < 0) {
        pthread_mutex_unlock(&fdt->lock);
        return r;
    }
    if (fdt->files[fd] == FD_RESERVED) {
        pthread_mutex_unlock(&fdt->lock);
        return -EBUSY;
    }
    struct file *old = fdt->files[fd];
    file_get(file);
    fdt->files[fd] = file;
    fdt->cloexec[fd] = cloexec;
    pthread_mutex_unlock(&fdt->lock);
    if (old) {
        vfs_locks_close(old, fdt);
        file_put(old);
    }
    return 0;
}

int fdtable_alloc(struct fdtable *fdt, int minfd, int limit, struct file *file, bool cloexec)
{
    if (minfd < 0)
        return -EINVAL;
    if (limit > VFS_NR_OPEN || limit <= 0)
        limit = VFS_NR_OPEN;
    if (minfd >= limit)
        return -EINVAL;
    pthread_mutex_lock(&fdt->lock);
    int fd = minfd > fdt->lowest_free ? minfd : fdt->lowest_free;
    while (fd < fdt->size && fdt->files[fd])
        fd++;
    if (fd >= limit) {
        pthread_mutex_unlock(&fdt->lock);
        return -EMFILE;
    }
    int r = fdtable_grow_locked(fdt, fd + 1);
    if (r < 0) {
        pthread_mutex_unlock(&fdt->lock);
        return r;
    }
    file_get(file);
    fdt->files[fd] = file;
    fdt->cloexec[fd] = cloexec;
    if (minfd <= fdt->lowest_free)
        fdt->lowest_free = fd + 1;
    pthread_mutex_unlock(&fdt->lock);
    return fd;
}

int fdtable_close(struct fdtable *fdt, int fd)
{
    pthread_mutex_lock(&fdt->lock);
    if (fd < 0 || fd >= fdt->size || !fdt->files[fd] || fdt->files[fd] == FD_RESERVED) {
        pthread_mutex_unlock(&fdt->lock);
        return -EBADF;
    }
    struct file *f = fdt->files[fd];
    fdt->files[fd] = NULL;
    fdt->cloexec[fd] = 0;
    if (fd < fdt->lowest_free)
        fdt->lowest_free = fd;
    pthread_mutex_unlock(&fdt->lock);
    vfs_locks_close(f, fdt);
    file_put(f);
    return 0;
}

struct file *fdtable_get_file(struct fdtable *fdt, int fd)
{
    struct file *f = NULL;
    pthread_mutex_lock(&fdt->lock);
    if (fd >= 0 && fd < fdt->size && fdt->files[fd] && fdt->files[fd] != FD_RESERVED) {
        f = fdt->files[fd];
        file_get(f);
    }
    pthread_mutex_unlock(&fdt->lock);
    return f;
}

int fdtable_next_fd(struct fdtable *fdt, int from)
{
    int r = -1;
    pthread_mutex_lock(&fdt->lock);
    for (int i = from < 0 ? 0 : from; i < fdt->size; i++) {
        if (fdt->files[i] && fdt->files[i] != FD_RESERVED) {
            r = i;
            break;
        }
    }
    pthread_mutex_unlock(&fdt->lock);
    return r;
}

int fdtable_get_cloexec(struct fdtable *fdt, int fd)
{
    int r = -EBADF;
    pthread_mutex_lock(&fdt->lock);
    if (fd >= 0 && fd < fdt->size && fdt->files[fd] && fdt->files[fd] != FD_RESERVED)
        r = fdt->cloexec[fd];
    pthread_mutex_unlock(&fdt->lock);
    return r;
}

int fdtable_set_cloexec(struct fdtable *fdt, int fd, bool cloexec)
{
    int r = -EBADF;
    pthread_mutex_lock(&fdt->lock);
    if (fd >= 0 && fd < fdt->size && fdt->files[fd] && fdt->files[fd] != FD_RESERVED) {
        fdt->cloexec[fd] = cloexec;
        r = 0;
    }
    pthread_mutex_unlock(&fdt->lock);
    return r;
}

int fdtable_dup_to(struct fdtable *fdt, int oldfd, int newfd, int limit, bool cloexec)
{
    if (limit > VFS_NR_OPEN || limit <= 0)
        limit = VFS_NR_OPEN;
    struct file *f = fdtable_get_file(fdt, oldfd);
    if (!f)
        return -EBADF;
    if (newfd < 0 || newfd >= limit) {
        file_put(f);
        return -EBADF;
    }
    int r = fdtable_install_at(fdt, newfd, f, cloexec);
    file_put(f);
    return r < 0 ? r : newfd;
}

/* ---- fs_struct ---- */

int fs_struct_new(const struct path *root, struct fs_struct **out)
{
    struct fs_struct *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return -ENOMEM;
    refcount_init(&fs->ref);
    pthread_mutex_init(&fs->lock, NULL);
    fs->root = *root;
    path_get(&fs->root);
    fs->cwd = *root;
    path_get(&fs->cwd);
    fs->umask = 022;
    *out = fs;
    return 0;
}

int fs_struct_copy(struct fs_struct *fs, struct fs_struct **out)
{
    struct fs_struct *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    refcount_init(&n->ref);
    pthread_mutex_init(&n->lock, NULL);
    pthread_mutex_lock(&fs->lock);
    n->root = fs->root;
    path_get(&n->root);
    n->cwd = fs->cwd;
    path_get(&n->cwd);
    n->umask = fs->umask;
    pthread_mutex_unlock(&fs->lock);
    *out = n;
    return 0;
}

void fs_struct_get(struct fs_struct *fs)
{
    refcount_inc(&fs->ref);
}

void fs_struct_put(struct fs_struct *fs)
{
    if (!fs || !refcount_dec(&fs->ref))
        return;
    path_put(&fs->root);
    path_put(&fs->cwd);
    pthread_mutex_destroy(&fs->lock);
    free(fs);
}

void fs_get_root(struct fs_struct *fs, struct path *out)
{
    pthread_mutex_lock(&fs->lock);
    *out = fs->root;
    path_get(out);
    pthread_mutex_unlock(&fs->lock);
}

void fs_get_cwd(struct fs_struct *fs, struct path *out)
{
    pthread_mutex_lock(&fs->lock);
    *out = fs->cwd;
    path_get(out);
    pthread_mutex_unlock(&fs->lock);
}

void fs_set_cwd(struct fs_struct *fs, const struct path *p)
{
    path_get(p);
    pthread_mutex_lock(&fs->lock);
    struct path old = fs->cwd;
    fs->cwd = *p;
    pthread_mutex_unlock(&fs->lock);
    path_put(&old);
}

void fs_set_root(struct fs_struct *fs, const struct path *p)
{
    path_get(p);
    pthread_mutex_lock(&fs->lock);
    struct path old = fs->root;
    fs->root = *p;
    pthread_mutex_unlock(&fs->lock);
    path_put(&old);
}

uint32_t vfs_umask(struct task *t)
{
    pthread_mutex_lock(&t->fs->lock);
    uint32_t m = t->fs->umask;
    pthread_mutex_unlock(&t->fs->lock);
    return m;
}

uint32_t vfs_set_umask(struct task *t, uint32_t mask)
{
    pthread_mutex_lock(&t->fs->lock);
    uint32_t m = t->fs->umask;
    t->fs->umask = mask & 0777;
    pthread_mutex_unlock(&t->fs->lock);
    return m;
}
