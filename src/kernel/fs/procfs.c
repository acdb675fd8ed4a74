/*
 * procfs, generated from moat's own state (never the host's /proc):
 *   /proc/self, /proc/thread-self       the caller's pid / pid/task/tid
 *   /proc/PID/...                       every live process (proc/pid.c)
 *   /proc/meminfo, cpuinfo, stat, …     system-wide files (proc/sys.c)
 * The tree machinery (entries, generated files, magic links) is in
 * proc/gen.c and shared with sysfs. Dentries are not cached (the tree
 * changes with every process).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/proc/proc_internal.h"
#include "kernel/task/task.h"
#include "lib/log.h"

static struct vfs_sb *g_proc_sb;
static struct mount *g_proc_mnt;

int proc_self_pid(void)
{
    struct task *cur = task_current();
    return cur && cur->tg ? cur->tg->pid : 0;
}

int procfs_tgid_dir_pid(struct file *f)
{
    struct inode *i = f->inode;
    if (!g_proc_sb || !i || i->sb != g_proc_sb || GI(i)->ent != &g_proc_pid_entry)
        return 0;
    return GI(i)->pid;
}

int proc_self_tid(void)
{
    struct task *cur = task_current();
    return cur ? cur->tid : 0;
}

/* ---- the pid list ---- */

struct pid_list {
    int *pids;
    size_t n, cap;
    bool overflow;
};

static void collect_pid(struct thread_group *tg, void *arg)
{
    struct pid_list *l = arg;
    if (l->n < l->cap)
        l->pids[l->n++] = tg->pid;
    else
        l->overflow = true;
}

int proc_for_each_pid(int (*fn)(int pid, void *arg), void *arg)
{
    /* task_for_each_tg's callback must not allocate or block for long:
     * collect into a fixed array, and retry with a bigger one if full. */
    struct pid_list l = {0};
    for (size_t cap = 256;; cap *= 4) {
        free(l.pids);
        l.pids = malloc(cap * sizeof(int));
        if (!l.pids)
            return -ENOMEM;
        l.cap = cap;
        l.n = 0;
        l.overflow = false;
        task_for_each_tg(collect_pid, &l);
        if (!l.overflow)
            break;
    }
    int r = 0;
    for (size_t i = 0; i < l.n && r == 0; i++)
        r = fn(l.pids[i], arg);
    free(l.pids);
    return r;
}

/* ---- the root directory ---- */

static int self_show(struct gen_inode *gi, struct sbuf *b)
{
    int pid = proc_self_pid();
    if (!pid)
        return -ENOENT;
    sbuf_printf(b, "%d", pid);
    return 0;
}

static int thread_self_show(struct gen_inode *gi, struct sbuf *b)
{
    int pid = proc_self_pid();
    if (!pid)
        return -ENOENT;
    sbuf_printf(b, "%d/task/%d", pid, proc_self_tid());
    return 0;
}

static const struct gen_entry g_self_entry = {
        .name = "self", .mode = VFS_S_IFLNK | 0777, .show = self_show};
static const struct gen_entry g_thread_self_entry = {
        .name = "thread-self", .mode = VFS_S_IFLNK | 0777, .show = thread_self_show};

static int root_lookup(struct gen_inode *dir, const char *name, struct inode **out)
{
    const struct gen_entry *e = NULL;
    if (strcmp(name, "self") == 0)
        e = &g_self_entry;
    else if (strcmp(name, "thread-self") == 0)
        e = &g_thread_self_entry;
    if (e) {
        struct gen_inode *gi = gen_child_new(dir, e, -1);
        if (!gi)
            return -ENOMEM;
        *out = &gi->base;
        return 0;
    }
    return proc_pid_lookup(dir, name, out);
}

static int root_list(struct gen_inode *dir, struct dir_emit *ctx)
{
    int r = gen_emit(dir, ctx, "self", VFS_S_IFLNK);
    if (r == 0)
        r = gen_emit(dir, ctx, "thread-self", VFS_S_IFLNK);
    if (r == 0)
        r = proc_pid_list(dir, ctx);
    return r;
}

static const struct gen_entry g_proc_root = {
        .name = "/",
        .mode = VFS_S_IFDIR | 0555,
        .children = g_proc_root_children,
        .lookup = root_lookup,
        .list = root_list,
};

int procfs_new(struct inode **out_root)
{
    if (!g_proc_sb)
        g_proc_sb = vfs_sb_new("proc", true);
    if (!g_proc_sb)
        return -ENOMEM;
    struct gen_inode *root = gen_inode_new(g_proc_sb, &g_proc_root, 1, 0, 0, -1, 0, 0);
    if (!root)
        return -ENOMEM;
    *out_root = &root->base;
    return 0;
}

void procfs_set_mount(struct mount *mnt)
{
    g_proc_mnt = mnt;
}

int proc_anon_path(struct file *f, struct path *out)
{
    if (!g_proc_mnt)
        return -ENOENT;
    struct linux_stat st;
    int r = vfs_fstat(f, &st);
    if (r < 0)
        return r;
    struct task *cur = task_current();
    /* A file without a name: a private dentry whose open reopens it. */
    struct gen_inode *anon = gen_inode_new(g_proc_sb, NULL, st.st_ino,
                                           0, 0, -1, cur ? cur->cred.fsuid : 0,
                                           cur ? cur->cred.fsgid : 0);
    if (!anon)
        return -ENOMEM;
    anon->base.mode = (st.st_mode & VFS_S_IFMT) | 0666;
    file_get(f);
    anon->file = f;
    struct dentry *d = dentry_new_root(&anon->base);
    inode_put(&anon->base);
    if (!d)
        return -ENOMEM;
    out->mnt = g_proc_mnt;
    out->dentry = d;
    return 0;
}
