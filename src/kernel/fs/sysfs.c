/*
 * sysfs and cgroup2, read-only and generated from the sandbox's state
 * (never the host's /sys):
 *   /sys/devices/system/cpu/{online,possible,present,cpuN/}   host CPU count
 *   /sys/kernel/mm/transparent_hugepage/{enabled,defrag}      never (moat
 *                                                              backs memory
 *                                                              with 4 KiB pages)
 *   /sys/fs/cgroup/ (a cgroup2 mount): the sandbox is the root of its
 *   cgroup namespace; limits read "max" until the OCI work sets them
 *   (FIXME(OCI): memory.max, cpu.max, pids.max from the bundle's limits).
 * Both use the generated-tree machinery of procfs (proc/gen.c). Their
 * dentries are cached (the trees do not change), so /sys/fs/cgroup can be a
 * mount point.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kernel/fs/proc/proc_internal.h"
#include "kernel/mm/memfile.h"
#include "kernel/task/task.h"

static int show_cpu_range(struct gen_inode *gi, struct sbuf *b)
{
    int n = gen_nr_cpus();
    if (n == 1)
        sbuf_printf(b, "0\n");
    else
        sbuf_printf(b, "0-%d\n", n - 1);
    return 0;
}

static int show_kernel_max(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "%d\n", gen_nr_cpus() - 1);
    return 0;
}

static int show_newline(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_put(b, "\n", 1);
    return 0;
}

static int show_one(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "1\n");
    return 0;
}

static int show_thp_enabled(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "always madvise [never]\n");
    return 0;
}

static int show_thp_defrag(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "always defer defer+madvise madvise [never]\n");
    return 0;
}

#define REG(name_, show_) {.name = name_, .mode = VFS_S_IFREG | 0444, .show = show_}
#define DIR(name_, children_) {.name = name_, .mode = VFS_S_IFDIR | 0755, .children = children_}
#define EMPTY_DIR(name_) {.name = name_, .mode = VFS_S_IFDIR | 0755}

/* cpuN/: "online" exists for every CPU but the boot CPU, as on Linux. */
static const struct gen_entry g_cpu_n_children[] = {
        REG("online", show_one),
        {0},
};
static const struct gen_entry g_cpu0_entry = {.name = "cpu0", .mode = VFS_S_IFDIR | 0755};
static const struct gen_entry g_cpu_n_entry = {
        .name = "cpuN", .mode = VFS_S_IFDIR | 0755, .children = g_cpu_n_children};

static int cpu_lookup(struct gen_inode *dir, const char *name, struct inode **out)
{
    if (strncmp(name, "cpu", 3) != 0)
        return -ENOENT;
    int n = gen_parse_num(name + 3);
    if (n < 0 || n >= gen_nr_cpus())
        return -ENOENT;
    struct gen_inode *gi = gen_inode_new(dir->base.sb, n ? &g_cpu_n_entry : &g_cpu0_entry,
                                         gen_ino(dir, name), 0, 0, -1, 0, 0);
    if (!gi)
        return -ENOMEM;
    *out = &gi->base;
    return 0;
}

static int cpu_list(struct gen_inode *dir, struct dir_emit *ctx)
{
    char buf[16];
    int r = 0;
    for (int i = 0; i < gen_nr_cpus() && r == 0; i++) {
        snprintf(buf, sizeof(buf), "cpu%d", i);
        r = gen_emit(dir, ctx, buf, VFS_S_IFDIR);
    }
    return r;
}

static const struct gen_entry g_cpu_children[] = {
        REG("kernel_max", show_kernel_max),
        REG("offline", show_newline),
        REG("online", show_cpu_range),
        REG("possible", show_cpu_range),
        REG("present", show_cpu_range),
        {0},
};

static const struct gen_entry g_system_children[] = {
        {.name = "cpu",
         .mode = VFS_S_IFDIR | 0755,
         .children = g_cpu_children,
         .lookup = cpu_lookup,
         .list = cpu_list},
        {0},
};

static const struct gen_entry g_devices_children[] = {
        DIR("system", g_system_children),
        {0},
};

static const struct gen_entry g_thp_children[] = {
        REG("defrag", show_thp_defrag),
        REG("enabled", show_thp_enabled),
        {0},
};

static const struct gen_entry g_kernel_mm_children[] = {
        DIR("transparent_hugepage", g_thp_children),
        {0},
};

static const struct gen_entry g_kernel_children[] = {
        DIR("mm", g_kernel_mm_children),
        {0},
};

static const struct gen_entry g_fs_children[] = {
        EMPTY_DIR("cgroup"),
        {0},
};

static const struct gen_entry g_sys_children[] = {
        EMPTY_DIR("block"), EMPTY_DIR("bus"),          EMPTY_DIR("class"),
        EMPTY_DIR("dev"),   DIR("devices", g_devices_children), EMPTY_DIR("firmware"),
        DIR("fs", g_fs_children), DIR("kernel", g_kernel_children), EMPTY_DIR("module"),
        {0},
};

static const struct gen_entry g_sys_root = {
        .name = "/", .mode = VFS_S_IFDIR | 0555, .children = g_sys_children};

/* ---- cgroup2 ---- */

static int count_pid(int pid, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static int list_pid(int pid, void *arg)
{
    sbuf_printf(arg, "%d\n", pid);
    return 0;
}

static int show_procs(struct gen_inode *gi, struct sbuf *b)
{
    return proc_for_each_pid(list_pid, b);
}

static int show_pids_current(struct gen_inode *gi, struct sbuf *b)
{
    int n = 0;
    int r = proc_for_each_pid(count_pid, &n);
    if (r == 0)
        sbuf_printf(b, "%d\n", n);
    return r;
}

static int show_memory_current(struct gen_inode *gi, struct sbuf *b)
{
    uint64_t used, size, extents;
    memfile_stats(&used, &size, &extents);
    sbuf_printf(b, "%" PRIu64 "\n", used);
    return 0;
}

#define SHOW_TEXT(fn, text)                                                                        \
    static int fn(struct gen_inode *gi, struct sbuf *b)                                           \
    {                                                                                              \
        sbuf_printf(b, "%s", text);                                                                \
        return 0;                                                                                  \
    }
SHOW_TEXT(show_max, "max\n")
SHOW_TEXT(show_zero, "0\n")
SHOW_TEXT(show_empty, "")
SHOW_TEXT(show_controllers, "cpu memory pids\n")
SHOW_TEXT(show_type, "domain\n")
SHOW_TEXT(show_cpu_max, "max 100000\n")
SHOW_TEXT(show_cpu_weight, "100\n")
SHOW_TEXT(show_cpu_stat, "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\n"
                         "nr_throttled 0\nthrottled_usec 0\n")
SHOW_TEXT(show_memory_events, "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")

static const struct gen_entry g_cgroup_children[] = {
        REG("cgroup.controllers", show_controllers),
        REG("cgroup.max.depth", show_max),
        REG("cgroup.max.descendants", show_max),
        REG("cgroup.procs", show_procs),
        REG("cgroup.subtree_control", show_empty),
        REG("cgroup.threads", show_procs),
        REG("cgroup.type", show_type),
        REG("cpu.max", show_cpu_max),
        REG("cpu.stat", show_cpu_stat),
        REG("cpu.weight", show_cpu_weight),
        REG("memory.current", show_memory_current),
        REG("memory.events", show_memory_events),
        REG("memory.high", show_max),
        REG("memory.low", show_zero),
        REG("memory.max", show_max),
        REG("memory.min", show_zero),
        REG("memory.swap.current", show_zero),
        REG("memory.swap.max", show_max),
        REG("pids.current", show_pids_current),
        REG("pids.max", show_max),
        {0},
};

static const struct gen_entry g_cgroup_root = {
        .name = "/", .mode = VFS_S_IFDIR | 0555, .children = g_cgroup_children};

static int gen_root(const char *type, struct vfs_sb **sbp, const struct gen_entry *e,
                    struct inode **out_root)
{
    if (!*sbp)
        *sbp = vfs_sb_new(type, false);
    if (!*sbp)
        return -ENOMEM;
    struct gen_inode *root = gen_inode_new(*sbp, e, 1, 0, 0, -1, 0, 0);
    if (!root)
        return -ENOMEM;
    *out_root = &root->base;
    return 0;
}

static struct vfs_sb *g_sysfs_sb;
static struct vfs_sb *g_cgroup_sb;

int sysfs_new(struct inode **out_root)
{
    return gen_root("sysfs", &g_sysfs_sb, &g_sys_root, out_root);
}

int cgroupfs_new(struct inode **out_root)
{
    return gen_root("cgroup2", &g_cgroup_sb, &g_cgroup_root, out_root);
}

bool cgroupfs_is_cgroup(struct inode *inode)
{
    return g_cgroup_sb && inode->sb == g_cgroup_sb && inode_is_dir(inode);
}
