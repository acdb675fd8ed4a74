/*
 * SysV shared memory: shmget, shmat, shmdt, shmctl.
 *
 * A segment is a shmem inode (shmem.h) whose pages live in the memory file.
 * Each shmat opens a file of its own on it and maps it MAP_SHARED; every
 * VMA of the mapping (forked copies and split pieces included) holds one
 * reference on that file, so a segment's attach count (shm_nattch) is the
 * sum of its attach files' counts, and the last VMA going (shmdt, munmap,
 * exec, exit) releases the attach. A segment marked with IPC_RMID lives on
 * (with key IPC_PRIVATE and SHM_DEST) until its last attach is released.
 *
 * Where moat differs from Linux: SHM_HUGETLB is EINVAL (logged); SHM_LOCK
 * only sets the SHM_LOCKED mode bit.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "kernel/ipc/shmem.h"
#include "kernel/ipc/sysv.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/util.h"

struct shm_seg {
    struct ipc_obj perm;
    struct inode *inode;          /* (c) counted: the shmem inode */
    uint64_t size;                /* (c) shm_segsz */
    int64_t atime, dtime, ctime;  /* (k) g_shm_lock */
    int cpid, lpid;               /* (k) */
    struct list_head attaches;    /* (k) of struct shm_attach */
};

/* One shmat: the file its VMAs hold. */
struct shm_attach {
    struct list_head link;        /* (k) in seg->attaches */
    struct shm_seg *seg;          /* (c) */
    struct file *file;            /* (c) not counted: the VMAs hold it */
};

static pthread_mutex_t g_shm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ipc_ids g_shm_ids;  /* (k) */
static uint64_t g_shm_tot;        /* (k) pages of all segments */

static int cur_pid(void)
{
    struct task *t = task_current();
    return t ? t->tg->pid : 0;
}

static uint64_t seg_pages(const struct shm_seg *s)
{
    return ALIGN_UP(s->size, PAGE_SIZE) / PAGE_SIZE;
}

/* shm_nattch: the references the attach files' VMAs hold. g_shm_lock held. */
static uint64_t nattch_locked(const struct shm_seg *s)
{
    uint64_t n = 0;
    const struct shm_attach *a;
    list_for_each_entry(a, &s->attaches, link)
        n += (uint64_t)refcount_read(&a->file->ref);
    return n;
}

/* Removes S from the table and frees it; g_shm_lock held, no attach left. */
static void seg_destroy_locked(struct shm_seg *s)
{
    if (!s->perm.deleted)
        ipc_ids_remove(&g_shm_ids, &s->perm);
    g_shm_tot -= seg_pages(s);
    inode_put(s->inode);
    free(s);
}

static void shm_attach_release(struct file *f)
{
    struct shm_attach *a = f->priv;
    struct shm_seg *s = a->seg;
    pthread_mutex_lock(&g_shm_lock);
    list_del(&a->link);
    s->dtime = ipc_now();
    s->lpid = cur_pid();
    if ((s->perm.mode & LINUX_SHM_DEST) && list_empty(&s->attaches))
        seg_destroy_locked(s);
    pthread_mutex_unlock(&g_shm_lock);
    free(a);
}

static const struct file_ops shm_attach_fops = {
        .dname = shmem_fops_dname,
        .mmap_backing = shmem_fops_mmap_backing,
        .release = shm_attach_release,
};

static struct shm_seg *seg_of(struct ipc_obj *o)
{
    return container_of(o, struct shm_seg, perm);
}

long shm_get(struct task *t, int32_t key, uint64_t size, int flags)
{
    if (flags & LINUX_SHM_HUGETLB) {
        log_warn_once("shmget: SHM_HUGETLB unsupported");
        return -EINVAL;
    }
    long r;
    pthread_mutex_lock(&g_shm_lock);
    struct ipc_obj *o = key == LINUX_IPC_PRIVATE ? NULL : ipc_ids_find_key(&g_shm_ids, key);
    if (o) {
        r = ipc_get_existing(&t->cred, o, flags, size <= seg_of(o)->size);
        goto out_unlock;
    }
    if (key != LINUX_IPC_PRIVATE && !(flags & LINUX_IPC_CREAT)) {
        r = -ENOENT;
        goto out_unlock;
    }
    uint64_t shmmax = __atomic_load_n(&g_ipc_limits.shmmax, __ATOMIC_RELAXED);
    uint64_t shmall = __atomic_load_n(&g_ipc_limits.shmall, __ATOMIC_RELAXED);
    uint64_t pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    if (size < 1 || size > shmmax) {
        r = -EINVAL;
        goto out_unlock;
    }
    if (size + PAGE_SIZE - 1 < size || g_shm_tot + pages < g_shm_tot ||
        g_shm_tot + pages > shmall) {
        r = -ENOSPC;
        goto out_unlock;
    }
    struct shm_seg *s = calloc(1, sizeof(*s));
    if (!s) {
        r = -ENOMEM;
        goto out_unlock;
    }
    char name[48];
    snprintf(name, sizeof(name), "/SYSV%08x (deleted)", (unsigned)key);
    struct inode *inode;
    r = shmem_inode_new(name, (uint32_t)flags & 0777, size, 0, &t->cred, &inode);
    if (r < 0) {
        free(s);
        r = r == -EFBIG || r == -ENOSPC ? -ENOMEM : r;
        goto out_unlock;
    }
    s->inode = inode;
    s->size = size;
    ipc_obj_init(&s->perm, &t->cred, key, flags);
    s->cpid = t->tg->pid;
    s->ctime = ipc_now();
    list_init(&s->attaches);
    r = ipc_ids_add(&g_shm_ids, &s->perm,
                    (int)MIN(__atomic_load_n(&g_ipc_limits.shmmni, __ATOMIC_RELAXED),
                             (uint64_t)IPC_MNI));
    if (r < 0) {
        inode_put(inode);
        free(s);
        goto out_unlock;
    }
    g_shm_tot += pages;
    r = s->perm.id;
out_unlock:
    pthread_mutex_unlock(&g_shm_lock);
    return r;
}

long shm_at(struct task *t, int id, uint64_t addr, int flags)
{
    int mflags = MAP_SHARED;
    if (addr) {
        if (addr & (PAGE_SIZE - 1)) {
            if (!(flags & LINUX_SHM_RND))
                return -EINVAL;
            addr &= ~(PAGE_SIZE - 1);
            if (!addr && (flags & LINUX_SHM_REMAP))
                return -EINVAL;
        }
        mflags |= (flags & LINUX_SHM_REMAP) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
    } else if (flags & LINUX_SHM_REMAP) {
        return -EINVAL;
    }
    int prot, acc;
    unsigned oflags;
    if (flags & LINUX_SHM_RDONLY) {
        prot = PROT_READ;
        acc = 0444;
        oflags = O_RDONLY;
    } else {
        prot = PROT_READ | PROT_WRITE;
        acc = 0666;
        oflags = O_RDWR;
    }
    if (flags & LINUX_SHM_EXEC) {
        prot |= PROT_EXEC;
        acc |= 0111;
    }

    struct shm_attach *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    pthread_mutex_lock(&g_shm_lock);
    struct ipc_obj *o = ipc_ids_find_id(&g_shm_ids, id);
    long r = o ? ipc_check_perms(&t->cred, o, acc) : -EINVAL;
    if (r < 0) {
        pthread_mutex_unlock(&g_shm_lock);
        free(a);
        return r;
    }
    struct shm_seg *s = seg_of(o);
    uint64_t size = s->size;
    /* The file joins the segment now: its own reference counts as an
     * attach until mm holds it, so IPC_RMID cannot free the segment under
     * the mapping being made. */
    a->seg = s;
    a->file = shmem_file_open(s->inode, oflags, &shm_attach_fops, a);
    if (!a->file) {
        pthread_mutex_unlock(&g_shm_lock);
        free(a);
        return -ENOMEM;
    }
    list_add_tail(&a->link, &s->attaches);
    pthread_mutex_unlock(&g_shm_lock);

    uint64_t out = 0;
    if (addr && addr + size < addr) {
        r = -EINVAL;
    } else {
        r = mm_mmap(t->mm, addr, size, prot, mflags, a->file, 0, &out);
        if (r == -EEXIST)
            r = -EINVAL; /* Linux: the range overlaps a mapping */
    }
    if (r == 0) {
        pthread_mutex_lock(&g_shm_lock);
        s->atime = ipc_now();
        s->lpid = t->tg->pid;
        pthread_mutex_unlock(&g_shm_lock);
    }
    file_put(a->file); /* the VMA holds it now, or it is released */
    return r < 0 ? r : (long)out;
}

long shm_dt(struct task *t, uint64_t addr)
{
    if (addr & (PAGE_SIZE - 1))
        return -EINVAL;
    uint64_t at = addr, s, e, foff, size = 0;
    struct file *f = NULL, *seg_file = NULL;
    /* The mapping of a segment attached at ADDR: the first one above ADDR
     * whose file offset says its segment starts at ADDR. */
    while (mm_find_vma(t->mm, at, &s, &e, &f, &foff) == 0) {
        if (f && f->ops == &shm_attach_fops && s >= addr && s - addr == foff) {
            seg_file = f;
            size = ((struct shm_attach *)f->priv)->seg->size;
            break;
        }
        if (f)
            file_put(f);
        at = e;
    }
    if (!seg_file)
        return -EINVAL;
    struct shm_seg *seg = ((struct shm_attach *)seg_file->priv)->seg;
    pthread_mutex_lock(&g_shm_lock);
    seg->dtime = ipc_now();
    seg->lpid = t->tg->pid;
    pthread_mutex_unlock(&g_shm_lock);
    /* Every mapping of that attach within the segment's size from ADDR. */
    uint64_t end = addr + ALIGN_UP(size, PAGE_SIZE);
    mm_munmap(t->mm, s, e - s);
    at = e;
    while (at < end && mm_find_vma(t->mm, at, &s, &e, &f, &foff) == 0 && s < end) {
        if (f == seg_file && s - addr == foff)
            mm_munmap(t->mm, s, MIN(e, end) - s);
        if (f)
            file_put(f);
        at = e;
    }
    file_put(seg_file);
    return 0;
}

static void fill_ds(struct shm_seg *s, struct linux_shmid64_ds *ds)
{
    memset(ds, 0, sizeof(*ds));
    ipc_fill_perm(&s->perm, &ds->shm_perm);
    ds->shm_segsz = s->size;
    ds->shm_atime = s->atime;
    ds->shm_dtime = s->dtime;
    ds->shm_ctime = s->ctime;
    ds->shm_cpid = s->cpid;
    ds->shm_lpid = s->lpid;
    ds->shm_nattch = nattch_locked(s);
}

long shm_ctl(struct task *t, int id, int cmd, uint64_t buf)
{
    struct linux_shmid64_ds ds;
    long r = 0;
    if (cmd < 0 || id < 0)
        return -EINVAL;
    switch (cmd) {
    case LINUX_IPC_INFO: {
        struct linux_shminfo64 info = {
                .shmmax = __atomic_load_n(&g_ipc_limits.shmmax, __ATOMIC_RELAXED),
                .shmmin = 1,
                .shmmni = __atomic_load_n(&g_ipc_limits.shmmni, __ATOMIC_RELAXED),
                .shmall = __atomic_load_n(&g_ipc_limits.shmall, __ATOMIC_RELAXED),
        };
        info.shmseg = info.shmmni;
        pthread_mutex_lock(&g_shm_lock);
        r = MAX(ipc_ids_max_idx(&g_shm_ids), 0);
        pthread_mutex_unlock(&g_shm_lock);
        if (mm_copy_out(t->mm, buf, &info, sizeof(info)) < 0)
            return -EFAULT;
        return r;
    }
    case LINUX_SHM_INFO: {
        struct linux_shm_info info = {0};
        pthread_mutex_lock(&g_shm_lock);
        info.used_ids = g_shm_ids.in_use;
        info.shm_tot = g_shm_tot;
        for (int i = 0; i < g_shm_ids.nslots; i++)
            if (g_shm_ids.slot[i])
                info.shm_rss += shmem_resident(seg_of(g_shm_ids.slot[i])->inode) / PAGE_SIZE;
        r = MAX(ipc_ids_max_idx(&g_shm_ids), 0);
        pthread_mutex_unlock(&g_shm_lock);
        if (mm_copy_out(t->mm, buf, &info, sizeof(info)) < 0)
            return -EFAULT;
        return r;
    }
    case LINUX_IPC_STAT:
    case LINUX_SHM_STAT:
    case LINUX_SHM_STAT_ANY: {
        struct ipc_obj *o;
        pthread_mutex_lock(&g_shm_lock);
        r = ipc_stat_lookup(&g_shm_ids, &t->cred, id, cmd == LINUX_IPC_STAT,
                            cmd == LINUX_SHM_STAT_ANY, &o);
        if (r >= 0)
            fill_ds(seg_of(o), &ds);
        pthread_mutex_unlock(&g_shm_lock);
        if (r >= 0 && mm_copy_out(t->mm, buf, &ds, sizeof(ds)) < 0)
            return -EFAULT;
        return r;
    }
    case LINUX_IPC_SET:
        if (mm_copy_in(t->mm, &ds, buf, sizeof(ds)) < 0)
            return -EFAULT;
        /* fall through */
    case LINUX_IPC_RMID:
    case LINUX_SHM_LOCK:
    case LINUX_SHM_UNLOCK: {
        pthread_mutex_lock(&g_shm_lock);
        struct ipc_obj *o = ipc_ids_find_id(&g_shm_ids, id);
        struct shm_seg *s = o ? seg_of(o) : NULL;
        if (!o) {
            r = -EINVAL;
        } else if (cmd == LINUX_SHM_LOCK || cmd == LINUX_SHM_UNLOCK) {
            /* Without CAP_IPC_LOCK: the owner or creator only, and SHM_LOCK
             * needs a non-zero RLIMIT_MEMLOCK. */
            bool locker = task_capable(t, CAP_IPC_LOCK);
            if ((!locker && t->cred.euid != o->uid && t->cred.euid != o->cuid) ||
                (cmd == LINUX_SHM_LOCK && !locker &&
                 t->tg->rlim[RLIMIT_MEMLOCK].rlim_cur == 0))
                r = -EPERM;
            else if (cmd == LINUX_SHM_LOCK)
                o->mode |= LINUX_SHM_LOCKED;
            else
                o->mode &= ~(uint32_t)LINUX_SHM_LOCKED;
        } else if (!ipc_may_control(&t->cred, o)) {
            r = -EPERM;
        } else if (cmd == LINUX_IPC_SET) {
            ipc_set_perm(o, &ds.shm_perm);
            s->ctime = ipc_now();
        } else if (list_empty(&s->attaches)) {
            seg_destroy_locked(s);
        } else {
            o->mode |= LINUX_SHM_DEST;
            o->key = LINUX_IPC_PRIVATE;
        }
        pthread_mutex_unlock(&g_shm_lock);
        return r;
    }
    default:
        return -EINVAL;
    }
}

void shm_proc_show(const struct ipc_sbuf_fn *out)
{
    out->printf(out->b, "       key      shmid perms                  size  cpid  lpid nattch   "
                        "uid   gid  cuid  cgid      atime      dtime      ctime                   "
                        "rss                  swap\n");
    pthread_mutex_lock(&g_shm_lock);
    for (int i = 0; i < g_shm_ids.nslots; i++) {
        struct ipc_obj *o = g_shm_ids.slot[i];
        if (!o)
            continue;
        struct shm_seg *s = seg_of(o);
        out->printf(out->b,
                    "%10d %10d  %4o %21llu %5d %5d  %5llu %5u %5u %5u %5u %10lld %10lld %10lld "
                    "%21llu %21llu\n",
                    o->key, o->id, o->mode, (unsigned long long)s->size, s->cpid, s->lpid,
                    (unsigned long long)nattch_locked(s), o->uid, o->gid, o->cuid, o->cgid,
                    (long long)s->atime, (long long)s->dtime, (long long)s->ctime,
                    (unsigned long long)shmem_resident(s->inode), 0ULL);
    }
    pthread_mutex_unlock(&g_shm_lock);
}
