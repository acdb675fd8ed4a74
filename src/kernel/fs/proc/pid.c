/*
 * /proc/PID (and /proc/PID/task/TID): per-process files generated from the
 * task table, the process's mm, fd table and fs_struct.
 *
 * Where moat differs from Linux:
 * - fault and context-switch counts are 0 (not tracked).
 * - task/ lists the process's pid, plus the caller's own tid when it reads
 *   its own process: the task table has no per-thread iterator yet.
 * - ns/ links read as "type:[N]" with numbers fixed per sandbox, but are
 *   plain symlinks: they cannot be opened (no nsfs, no setns).
 * - oom_score_adj is remembered per process, with no effect; it is not
 *   inherited across fork.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/proc/proc_internal.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "kernel/vfs/vfs_internal.h"

#define PAGE_BYTES ((uint64_t)4096)
#define CLK_TCK    ((uint64_t)100)

/* The process of a /proc/PID inode (new reference) and its snapshot. */
static int pid_tg(struct gen_inode *gi, struct thread_group **out_tg, struct tg_info *out_info)
{
    struct thread_group *tg = task_lookup_tg(gi->pid);
    if (!tg)
        return -ESRCH;
    if (out_info) {
        tg_info(tg, out_info);
        /* The reader is in the kernel on behalf of its own process, which
         * Linux reports as running. */
        if (tg->pid == proc_self_pid() && out_info->state == 'S')
            out_info->state = 'R';
    }
    *out_tg = tg;
    return 0;
}

static const char *state_name(char s)
{
    switch (s) {
    case 'R':
        return "R (running)";
    case 'S':
        return "S (sleeping)";
    case 'T':
        return "T (stopped)";
    case 'Z':
        return "Z (zombie)";
    default:
        return "D (disk sleep)";
    }
}

/* ---- memory figures ---- */

struct mm_figures {
    uint64_t size, rss, stack, exe, lib, data, locked;
};

/* mm_format_maps into B, grown until it fits. */
static void format_maps(struct mm *mm, struct sbuf *b)
{
    for (size_t size = 16384; size <= (64u << 20); size *= 4) {
        char *p = malloc(size);
        if (!p) {
            b->oom = true;
            return;
        }
        size_t n = mm_format_maps(mm, p, size);
        if (n + 1 < size) {
            sbuf_put(b, p, n);
            free(p);
            return;
        }
        free(p);
    }
}

static uint64_t resident_bytes(struct mm *mm, uint64_t start, uint64_t end)
{
    static const uint64_t chunk = 4096 * PAGE_BYTES;
    uint8_t *vec = malloc(chunk / PAGE_BYTES);
    uint64_t n = 0;
    if (!vec)
        return 0;
    for (uint64_t a = start; a < end; a += chunk) {
        uint64_t len = MIN(chunk, end - a);
        if (mm_mincore(mm, a, len, vec) < 0)
            break;
        for (uint64_t i = 0; i < len / PAGE_BYTES; i++)
            n += vec[i];
    }
    free(vec);
    return n * PAGE_BYTES;
}

/* Figures of MM from its maps: the first file mapped executable is the
 * program (VmExe), later ones libraries (VmLib). */
static void mm_figures(struct mm *mm, struct mm_figures *out)
{
    memset(out, 0, sizeof(*out));
    struct sbuf maps = {0};
    format_maps(mm, &maps);
    char exe[LINUX_PATH_MAX] = "";
    for (char *line = maps.p; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        uint64_t s, e;
        char perms[8] = "";
        int name_at = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %n", &s, &e, perms,
                   &name_at) >= 3) {
            const char *name = name_at ? line + name_at : "";
            uint64_t len = e - s;
            out->size += len;
            if (strcmp(name, "[vvar]") != 0)
                out->rss += resident_bytes(mm, s, e);
            if (strcmp(name, "[stack]") == 0) {
                out->stack += len;
            } else if (perms[2] == 'x' && name[0] == '/') {
                if (!exe[0])
                    snprintf(exe, sizeof(exe), "%s", name);
                if (strcmp(exe, name) == 0)
                    out->exe += len;
                else
                    out->lib += len;
            } else if (perms[1] == 'w' && perms[3] == 'p') {
                out->data += len;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    sbuf_free(&maps);
    out->locked = mm_locked_bytes(mm);
}

/* ---- files ---- */

static int show_maps(struct gen_inode *gi, struct sbuf *b)
{
    struct thread_group *tg;
    int r = pid_tg(gi, &tg, NULL);
    if (r < 0)
        return r;
    struct mm *mm = tg_get_mm(tg);
    tg_put(tg);
    if (mm) {
        format_maps(mm, b);
        mm_put(mm);
    }
    return 0;
}

/* /proc/PID/smaps: mm_format_smaps, grown until it fits. */
static int show_smaps(struct gen_inode *gi, struct sbuf *b)
{
    struct thread_group *tg;
    int r = pid_tg(gi, &tg, NULL);
    if (r < 0)
        return r;
    struct mm *mm = tg_get_mm(tg);
    tg_put(tg);
    for (size_t size = 65536; mm && size <= (256u << 20); size *= 4) {
        char *p = malloc(size);
        if (!p) {
            b->oom = true;
            break;
        }
        size_t n = mm_format_smaps(mm, p, size);
        if (n + 1 < size) {
            sbuf_put(b, p, n);
            free(p);
            break;
        }
        free(p);
    }
    mm_put(mm);
    return 0;
}

/* The bytes of [START, END) in TG's memory (cmdline, environ). */
static int show_mem_range(struct gen_inode *gi, struct sbuf *b, bool env)
{
    struct thread_group *tg;
    int r = pid_tg(gi, &tg, NULL);
    if (r < 0)
        return r;
    pthread_mutex_lock(&tg->lock);
    uint64_t start = env ? tg->env_start : tg->arg_start;
    uint64_t end = env ? tg->env_end : tg->arg_end;
    pthread_mutex_unlock(&tg->lock);
    struct mm *mm = tg_get_mm(tg);
    tg_put(tg);
    if (!mm)
        return 0; /* a zombie: empty, as Linux */
    char chunk[4096];
    if (end > start && end - start > (4u << 20))
        end = start + (4u << 20);
    for (uint64_t a = start; a < end;) {
        size_t n = (size_t)MIN(sizeof(chunk), end - a);
        if (mm_copy_in(mm, chunk, a, n) < 0)
            break;
        sbuf_put(b, chunk, n);
        a += n;
    }
    mm_put(mm);
    return 0;
}

static int show_cmdline(struct gen_inode *gi, struct sbuf *b)
{
    return show_mem_range(gi, b, false);
}

static int show_environ(struct gen_inode *gi, struct sbuf *b)
{
    return show_mem_range(gi, b, true);
}

static int show_comm(struct gen_inode *gi, struct sbuf *b)
{
    struct thread_group *tg;
    struct tg_info info;
    int r = pid_tg(gi, &tg, &info);
    if (r < 0)
        return r;
    tg_put(tg);
    sbuf_printf(b, "%.16s\n", info.comm);
    return 0;
}

static int show_stat(struct gen_inode *gi, struct sbuf *b)
{
    struct thread_group *tg;
    struct tg_info info;
    int r = pid_tg(gi, &tg, &info);
    if (r < 0)
        return r;
    pthread_mutex_lock(&tg->lock);
    uint64_t as = tg->arg_start, ae = tg->arg_end, es = tg->env_start, ee = tg->env_end;
    uint64_t rss_lim = tg->rlim[5].rlim_cur;
    pthread_mutex_unlock(&tg->lock);
    struct mm *mm = tg_get_mm(tg);
    tg_put(tg);
    struct mm_figures mf = {0};
    if (mm) {
        mm_figures(mm, &mf);
        mm_put(mm);
    }
    int pid = gi->tid ? gi->tid : gi->pid;
    uint64_t start = info.start_time_ns / (1000000000ULL / CLK_TCK);
    /* pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt
     * majflt cmajflt utime stime cutime cstime priority nice num_threads
     * itrealvalue starttime vsize rss rsslim */
    const uint64_t tick = 1000000000ULL / CLK_TCK;
    int tpgid;
    int tty_nr = devpts_session_tty(info.sid, &tpgid);
    /* priority: 20 + nice, or -1 - the real-time priority (Linux's
     * task_prio). */
    int prio = info.rt_priority ? -1 - info.rt_priority : 20 + info.nice;
    sbuf_printf(b, "%d (%.16s) %c %d %d %d %d %d 4194560 0 0 0 0 %" PRIu64 " %" PRIu64 " %" PRIu64
                   " %" PRIu64 " %d %d %d 0 %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64,
                pid, info.comm, info.state, info.ppid, info.pgid, info.sid, tty_nr, tpgid,
                info.utime / tick,
                info.stime / tick, info.cutime / tick, info.cstime / tick, prio, info.nice,
                info.nr_threads,
                start, mf.size, mf.rss / PAGE_BYTES, rss_lim);
    /* startcode endcode startstack kstkesp kstkeip signal blocked sigignore
     * sigcatch wchan nswap cnswap exit_signal processor rt_priority policy
     * delayacct guest_time cguest_time start_data end_data start_brk
     * arg_start arg_end env_start env_end exit_code. Addresses Linux hides
     * from other users are 0 here for everyone. */
    sbuf_printf(b, " 0 0 0 0 0 %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                   " 0 0 0 17 0 %d %d 0 0 0 0 0 0 %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                   " 0\n",
                info.sigpending & 0x7fffffff, info.sigmask & 0x7fffffff,
                info.sigignored & 0x7fffffff, info.sigcaught & 0x7fffffff, info.rt_priority,
                info.sched_policy, as, ae, es, ee);
    return 0;
}

static int show_statm(struct gen_inode *gi, struct sbuf *b)
{
    struct thread_group *tg;
    int r = pid_tg(gi, &tg, NULL);
    if (r < 0)
        return r;
    struct mm *mm = tg_get_mm(tg);
    tg_put(tg);
    struct mm_figures mf = {0};
    if (mm) {
        mm_figures(mm, &mf);
        mm_put(mm);
    }
    sbuf_printf(b, "%" PRIu64 " %" PRIu64 " 0 %" PRIu64 " 0 %" PRIu64 " 0\n", mf.size / PAGE_BYTES,
                mf.rss / PAGE_BYTES, mf.exe / PAGE_BYTES, (mf.data + mf.stack) / PAGE_BYTES);
    return 0;
}

static int fdtable_count_size(struct fdtable *fdt)
{
    int last = -1;
    for (int fd = fdtable_next_fd(fdt, 0); fd >= 0; fd = fdtable_next_fd(fdt, fd + 1))
        last = fd;
    int size = 64;
    while (size <= last)
        size *= 2;
    return size;
}

static int show_status(struct gen_inode *gi, struct sbuf *b)
{
    struct thread_group *tg;
    struct tg_info info;
    int r = pid_tg(gi, &tg, &info);
    if (r < 0)
        return r;
    struct mm *mm = tg_get_mm(tg);
    struct fdtable *fdt = tg_get_files(tg);
    struct fs_struct *fs = tg_get_fs(tg);
    pthread_mutex_lock(&tg->lock);
    uint64_t sigq_max = tg->rlim[11].rlim_cur;
    pthread_mutex_unlock(&tg->lock);
    struct group_info *groups = tg_groups(tg);
    tg_put(tg);
    uint32_t umask = 022;
    if (fs) {
        pthread_mutex_lock(&fs->lock);
        umask = fs->umask;
        pthread_mutex_unlock(&fs->lock);
        fs_struct_put(fs);
    }
    int fdsize = 0;
    if (fdt) {
        fdsize = fdtable_count_size(fdt);
        fdtable_put(fdt);
    }
    struct mm_figures mf = {0};
    if (mm) {
        mm_figures(mm, &mf);
        mm_put(mm);
    }
    const struct cred *c = &info.cred;
    int tid = gi->tid ? gi->tid : gi->pid;
    sbuf_printf(b, "Name:\t%.16s\nUmask:\t%04o\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\n"
                   "PPid:\t%d\nTracerPid:\t0\n",
                info.comm, umask, state_name(info.state), gi->pid, tid, info.ppid);
    sbuf_printf(b, "Uid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\nFDSize:\t%d\nGroups:\t",
                c->uid, c->euid, c->suid, c->fsuid, c->gid, c->egid, c->sgid, c->fsgid, fdsize);
    for (int i = 0; groups && i < groups->ngroups; i++)
        sbuf_printf(b, "%s%u", i ? " " : "", groups->gid[i]);
    group_info_put(groups);
    sbuf_printf(b, " \n"); /* Linux ends the list with a space, even an empty one */
    sbuf_printf(b, "NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\n", gi->pid, tid, info.pgid,
                info.sid);
    if (mm) {
        sbuf_printf(b,
                    "VmPeak:\t%8" PRIu64 " kB\nVmSize:\t%8" PRIu64 " kB\nVmLck:\t%8" PRIu64
                    " kB\nVmPin:\t%8d kB\nVmHWM:\t%8" PRIu64 " kB\nVmRSS:\t%8" PRIu64 " kB\n",
                    mf.size >> 10, mf.size >> 10, mf.locked >> 10, 0, mf.rss >> 10, mf.rss >> 10);
        sbuf_printf(b,
                    "RssAnon:\t%8" PRIu64 " kB\nRssFile:\t%8d kB\nRssShmem:\t%8d kB\n"
                    "VmData:\t%8" PRIu64 " kB\nVmStk:\t%8" PRIu64 " kB\nVmExe:\t%8" PRIu64
                    " kB\nVmLib:\t%8" PRIu64 " kB\nVmPTE:\t%8d kB\nVmSwap:\t%8d kB\n"
                    "HugetlbPages:\t%8d kB\n",
                    mf.rss >> 10, 0, 0, mf.data >> 10, mf.stack >> 10, mf.exe >> 10,
                    mf.lib >> 10, 0, 0, 0);
    }
    sbuf_printf(b, "CoreDumping:\t0\nTHP_enabled:\t0\nThreads:\t%d\nSigQ:\t0/%" PRIu64 "\n",
                info.nr_threads, sigq_max);
    sbuf_printf(b, "SigPnd:\t%016" PRIx64 "\nShdPnd:\t%016" PRIx64 "\nSigBlk:\t%016" PRIx64
                   "\nSigIgn:\t%016" PRIx64 "\nSigCgt:\t%016" PRIx64 "\n",
                info.sigpending, info.sigpending, info.sigmask, info.sigignored, info.sigcaught);
    sbuf_printf(b, "CapInh:\t%016" PRIx64 "\nCapPrm:\t%016" PRIx64 "\nCapEff:\t%016" PRIx64
                   "\nCapBnd:\t%016" PRIx64 "\nCapAmb:\t%016" PRIx64 "\n",
                c->cap_inheritable, c->cap_permitted, c->cap_effective, c->cap_bset,
                c->cap_ambient);
    int n = gen_nr_cpus();
    sbuf_printf(b, "NoNewPrivs:\t%d\nSeccomp:\t%d\nSeccomp_filters:\t%d\n"
                   "Speculation_Store_Bypass:\tthread vulnerable\n"
                   "SpeculationIndirectBranch:\tconditional enabled\n",
                info.no_new_privs, info.seccomp_mode, info.seccomp_filters);
    sbuf_printf(b, "Cpus_allowed:\t");
    for (int w = (n - 1) / 32; w >= 0; w--) {
        int bits = MIN(32, n - w * 32);
        uint32_t m = bits == 32 ? 0xffffffffu : ((1u << bits) - 1);
        sbuf_printf(b, w ? "%08x," : "%08x\n", m);
    }
    if (n == 1)
        sbuf_printf(b, "Cpus_allowed_list:\t0\n");
    else
        sbuf_printf(b, "Cpus_allowed_list:\t0-%d\n", n - 1);
    sbuf_printf(b, "Mems_allowed:\t00000001\nMems_allowed_list:\t0\n"
                   "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
    return 0;
}

static const struct {
    const char *name, *unit;
} g_limit_names[LINUX_RLIM_NLIMITS] = {
        {"Max cpu time", "seconds"},   {"Max file size", "bytes"},
        {"Max data size", "bytes"},    {"Max stack size", "bytes"},
        {"Max core file size", "bytes"}, {"Max resident set", "bytes"},
        {"Max processes", "processes"}, {"Max open files", "files"},
        {"Max locked memory", "bytes"}, {"Max address space", "bytes"},
        {"Max file locks", "locks"},   {"Max pending signals", "signals"},
        {"Max msgqueue size", "bytes"}, {"Max nice priority", NULL},
        {"Max realtime priority", NULL}, {"Max realtime timeout", "us"},
};

static void limit_value(struct sbuf *b, uint64_t v)
{
    if (v == LINUX_RLIM_INFINITY)
        sbuf_printf(b, "%-20s ", "unlimited");
    else
        sbuf_printf(b, "%-20" PRIu64 " ", v);
}

static int show_limits(struct gen_inode *gi, struct sbuf *b)
{
    struct thread_group *tg;
    int r = pid_tg(gi, &tg, NULL);
    if (r < 0)
        return r;
    struct linux_rlimit rl[LINUX_RLIM_NLIMITS];
    pthread_mutex_lock(&tg->lock);
    memcpy(rl, tg->rlim, sizeof(rl));
    pthread_mutex_unlock(&tg->lock);
    tg_put(tg);
    sbuf_printf(b, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units");
    for (int i = 0; i < LINUX_RLIM_NLIMITS; i++) {
        sbuf_printf(b, "%-25s ", g_limit_names[i].name);
        limit_value(b, rl[i].rlim_cur);
        limit_value(b, rl[i].rlim_max);
        if (g_limit_names[i].unit)
            sbuf_printf(b, "%-10s", g_limit_names[i].unit);
        sbuf_put(b, "\n", 1);
    }
    return 0;
}

static int show_pid_mounts(struct gen_inode *gi, struct sbuf *b)
{
    return proc_show_mounts(b);
}

static int show_pid_mountinfo(struct gen_inode *gi, struct sbuf *b)
{
    return proc_show_mountinfo(b);
}

static int show_cgroup(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "0::/\n");
    return 0;
}

static int show_loginuid(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "4294967295");
    return 0;
}

static int show_zero(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "0\n");
    return 0;
}

static int show_id_map(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "%10u %10u %10u\n", 0u, 0u, 4294967295u);
    return 0;
}

static int show_setgroups(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "allow\n");
    return 0;
}

static ssize_t store_eperm(struct gen_inode *gi, const char *buf, size_t n)
{
    return -EPERM;
}

/* ---- oom_score_adj: remembered per process (pid and start time) ---- */

struct oom_adj {
    int pid;
    uint64_t start_ns;
    int value;
};
static pthread_mutex_t g_oom_lock = PTHREAD_MUTEX_INITIALIZER;
static struct oom_adj *g_oom;   /* (o) g_oom_lock */
static size_t g_oom_n, g_oom_cap; /* (o) */

static int show_oom_score_adj(struct gen_inode *gi, struct sbuf *b)
{
    struct thread_group *tg;
    struct tg_info info;
    int r = pid_tg(gi, &tg, &info);
    if (r < 0)
        return r;
    tg_put(tg);
    int v = 0;
    pthread_mutex_lock(&g_oom_lock);
    for (size_t i = 0; i < g_oom_n; i++)
        if (g_oom[i].pid == gi->pid && g_oom[i].start_ns == info.start_time_ns)
            v = g_oom[i].value;
    pthread_mutex_unlock(&g_oom_lock);
    sbuf_printf(b, "%d\n", v);
    return 0;
}

static ssize_t store_oom_score_adj(struct gen_inode *gi, const char *buf, size_t n)
{
    char tmp[32];
    if (n >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, buf, n);
    tmp[n] = '\0';
    char *end;
    long v = strtol(tmp, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    if (end == tmp || *end || v < -1000 || v > 1000)
        return -EINVAL;
    struct thread_group *tg;
    struct tg_info info;
    int r = pid_tg(gi, &tg, &info);
    if (r < 0)
        return r;
    tg_put(tg);
    r = -ENOMEM;
    pthread_mutex_lock(&g_oom_lock);
    size_t i = 0, free_slot = g_oom_n;
    for (; i < g_oom_n; i++) {
        if (g_oom[i].pid == gi->pid)
            break;
        /* A slot of a process that is gone can be reused. */
        struct thread_group *other = task_lookup_tg(g_oom[i].pid);
        if (!other)
            free_slot = i;
        else
            tg_put(other);
    }
    if (i == g_oom_n && free_slot < g_oom_n)
        i = free_slot;
    if (i == g_oom_n) {
        if (g_oom_n == g_oom_cap) {
            size_t cap = g_oom_cap ? g_oom_cap * 2 : 16;
            struct oom_adj *p = realloc(g_oom, cap * sizeof(*p));
            if (!p)
                goto out_unlock;
            g_oom = p;
            g_oom_cap = cap;
        }
        g_oom_n++;
    }
    g_oom[i] = (struct oom_adj){gi->pid, info.start_time_ns, (int)v};
    r = (int)n;
out_unlock:
    pthread_mutex_unlock(&g_oom_lock);
    return r;
}

/* ---- links ---- */

/* The path string of P as the calling task sees it. */
static int show_path(const struct path *p, struct sbuf *b)
{
    char tmp[LINUX_PATH_MAX];
    struct task *cur = task_current();
    struct path root;
    if (cur && cur->fs)
        fs_get_root(cur->fs, &root);
    else
        vfs_root_path(&root);
    int n = vfs_path_string(p, &root, tmp, sizeof(tmp), true);
    path_put(&root);
    if (n < 0)
        return n;
    sbuf_put(b, tmp, (size_t)n);
    return 0;
}

static int show_file(struct file *f, struct sbuf *b)
{
    char tmp[LINUX_PATH_MAX];
    int n = vfs_file_path(f, tmp, sizeof(tmp));
    if (n < 0)
        return n;
    sbuf_put(b, tmp, (size_t)n);
    return 0;
}

static int file_link(struct file *f, struct path *out)
{
    if (f->path.dentry) {
        *out = f->path;
        path_get(out);
        return 0;
    }
    return proc_anon_path(f, out);
}

static struct file *exe_file(struct gen_inode *gi)
{
    struct thread_group *tg = task_lookup_tg(gi->pid);
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

static int show_exe(struct gen_inode *gi, struct sbuf *b)
{
    struct file *f = exe_file(gi);
    if (!f)
        return -ENOENT;
    int r = show_file(f, b);
    file_put(f);
    return r;
}

static int link_exe(struct gen_inode *gi, struct path *out)
{
    struct file *f = exe_file(gi);
    if (!f)
        return -ENOENT;
    int r = file_link(f, out);
    file_put(f);
    return r;
}

/* cwd or root of the process. */
static int fs_path(struct gen_inode *gi, bool cwd, struct path *out)
{
    struct thread_group *tg = task_lookup_tg(gi->pid);
    if (!tg)
        return -ENOENT;
    struct fs_struct *fs = tg_get_fs(tg);
    tg_put(tg);
    if (!fs)
        return -ENOENT;
    if (cwd)
        fs_get_cwd(fs, out);
    else
        fs_get_root(fs, out);
    fs_struct_put(fs);
    return 0;
}

static int show_fs_path(struct gen_inode *gi, struct sbuf *b, bool cwd)
{
    struct path p;
    int r = fs_path(gi, cwd, &p);
    if (r < 0)
        return r;
    r = show_path(&p, b);
    path_put(&p);
    return r;
}

static int show_cwd(struct gen_inode *gi, struct sbuf *b)
{
    return show_fs_path(gi, b, true);
}

static int show_root(struct gen_inode *gi, struct sbuf *b)
{
    return show_fs_path(gi, b, false);
}

static int link_cwd(struct gen_inode *gi, struct path *out)
{
    return fs_path(gi, true, out);
}

static int link_root(struct gen_inode *gi, struct path *out)
{
    return fs_path(gi, false, out);
}

/* ---- fd/ and fdinfo/ ---- */

static struct fdtable *pid_files(struct gen_inode *gi)
{
    struct thread_group *tg = task_lookup_tg(gi->pid);
    if (!tg)
        return NULL;
    struct fdtable *fdt = tg_get_files(tg);
    tg_put(tg);
    return fdt;
}

static struct file *fd_file(struct gen_inode *gi)
{
    struct fdtable *fdt = pid_files(gi);
    if (!fdt)
        return NULL;
    struct file *f = fdtable_get_file(fdt, gi->fd);
    fdtable_put(fdt);
    return f;
}

static int show_fd(struct gen_inode *gi, struct sbuf *b)
{
    struct file *f = fd_file(gi);
    if (!f)
        return -ENOENT;
    int r = show_file(f, b);
    file_put(f);
    return r;
}

static int link_fd(struct gen_inode *gi, struct path *out)
{
    struct file *f = fd_file(gi);
    if (!f)
        return -ENOENT;
    int r = file_link(f, out);
    file_put(f);
    return r;
}

static int show_fdinfo(struct gen_inode *gi, struct sbuf *b)
{
    struct fdtable *fdt = pid_files(gi);
    if (!fdt)
        return -ENOENT;
    struct file *f = fdtable_get_file(fdt, gi->fd);
    int cloexec = f ? fdtable_get_cloexec(fdt, gi->fd) : 0;
    fdtable_put(fdt);
    if (!f)
        return -ENOENT;
    struct linux_stat st;
    uint64_t ino = vfs_fstat(f, &st) == 0 ? st.st_ino : 0;
    /* O_LARGEFILE: every open on x86-64 Linux has it; pipes and other
     * files without a path do not. */
    unsigned flags = vfs_file_flags(f) | (cloexec > 0 ? 02000000u : 0) |
                     (f->path.dentry ? 0100000u : 0);
    uint64_t pos = __atomic_load_n(&f->pos, __ATOMIC_RELAXED);
    int mnt_id = f->path.mnt ? vfs_mount_id(f->path.mnt) : 0;
    sbuf_printf(b, "pos:\t%" PRIu64 "\nflags:\t0%o\nmnt_id:\t%d\nino:\t%" PRIu64 "\n", pos, flags,
                mnt_id, ino);
    int r = 0;
    if (f->ops && f->ops->show_fdinfo) {
        /* Type-specific lines (inotify watches). */
        size_t need = f->ops->show_fdinfo(f, NULL, 0);
        char *extra = need ? malloc(need + 1) : NULL;
        if (need && !extra)
            r = -ENOMEM;
        if (extra) {
            f->ops->show_fdinfo(f, extra, need + 1);
            sbuf_printf(b, "%s", extra);
            free(extra);
        }
    }
    file_put(f);
    return r;
}

static const struct gen_entry g_fd_entry = {
        .name = "fd", .mode = VFS_S_IFLNK | 0700, .show = show_fd, .get_link = link_fd};
static const struct gen_entry g_fdinfo_entry = {
        .name = "fdinfo", .mode = VFS_S_IFREG | 0444, .show = show_fdinfo};

static int fd_lookup_common(struct gen_inode *dir, const char *name, struct inode **out,
                            bool info)
{
    int fd = gen_parse_num(name);
    if (fd < 0)
        return -ENOENT;
    struct fdtable *fdt = pid_files(dir);
    struct file *f = fdt ? fdtable_get_file(fdt, fd) : NULL;
    if (fdt)
        fdtable_put(fdt);
    if (!f)
        return -ENOENT;
    uint32_t mode = info ? VFS_S_IFREG | 0444
                         : VFS_S_IFLNK | ((f->fmode & FMODE_READ) ? 0500 : 0) |
                                   ((f->fmode & FMODE_WRITE) ? 0200 : 0);
    file_put(f);
    struct gen_inode *gi = gen_inode_new(dir->base.sb, info ? &g_fdinfo_entry : &g_fd_entry,
                                         gen_ino(dir, name), dir->pid, dir->tid, fd,
                                         dir->base.uid, dir->base.gid);
    if (!gi)
        return -ENOMEM;
    gi->base.mode = mode;
    *out = &gi->base;
    return 0;
}

static int fd_lookup(struct gen_inode *dir, const char *name, struct inode **out)
{
    return fd_lookup_common(dir, name, out, false);
}

static int fdinfo_lookup(struct gen_inode *dir, const char *name, struct inode **out)
{
    return fd_lookup_common(dir, name, out, true);
}

static int fd_list_common(struct gen_inode *dir, struct dir_emit *ctx, uint32_t mode)
{
    struct fdtable *fdt = pid_files(dir);
    if (!fdt)
        return 0;
    char buf[16];
    int r = 0;
    for (int fd = fdtable_next_fd(fdt, 0); fd >= 0 && r == 0; fd = fdtable_next_fd(fdt, fd + 1)) {
        snprintf(buf, sizeof(buf), "%d", fd);
        r = gen_emit(dir, ctx, buf, mode);
    }
    fdtable_put(fdt);
    return r;
}

static int fd_list(struct gen_inode *dir, struct dir_emit *ctx)
{
    return fd_list_common(dir, ctx, VFS_S_IFLNK);
}

static int fdinfo_list(struct gen_inode *dir, struct dir_emit *ctx)
{
    return fd_list_common(dir, ctx, VFS_S_IFREG);
}

/* ---- ns/ ---- */

/* Namespace ids: fixed per sandbox (one of each kind), distinct from the
 * numbers of a host's initial namespaces. */
#define NS_SHOW(kind, name, num)                                                                   \
    static int show_ns_##kind(struct gen_inode *gi, struct sbuf *b)                                \
    {                                                                                              \
        sbuf_printf(b, "%s:[%u]", name, (unsigned)(num));                                           \
        return 0;                                                                                  \
    }
NS_SHOW(cgroup, "cgroup", 4026532601u)
NS_SHOW(ipc, "ipc", 4026532602u)
NS_SHOW(mnt, "mnt", 4026532603u)
NS_SHOW(net, "net", 4026532604u)
NS_SHOW(pid, "pid", 4026532605u)
NS_SHOW(time, "time", 4026532606u)
NS_SHOW(user, "user", 4026532607u)
NS_SHOW(uts, "uts", 4026532608u)

#define NS_LINK(name_, kind) {.name = name_, .mode = VFS_S_IFLNK | 0777, .show = show_ns_##kind}
static const struct gen_entry g_ns_children[] = {
        NS_LINK("cgroup", cgroup), NS_LINK("ipc", ipc),
        NS_LINK("mnt", mnt),       NS_LINK("net", net),
        NS_LINK("pid", pid),       NS_LINK("pid_for_children", pid),
        NS_LINK("time", time),     NS_LINK("time_for_children", time),
        NS_LINK("user", user),     NS_LINK("uts", uts),
        {0},
};

/* ---- task/ ---- */

static int task_lookup(struct gen_inode *dir, const char *name, struct inode **out);
static int task_list(struct gen_inode *dir, struct dir_emit *ctx);

#define REG(name_, mode_, show_) {.name = name_, .mode = VFS_S_IFREG | (mode_), .show = show_}
#define RW(name_, mode_, show_, store_)                                                            \
    {.name = name_, .mode = VFS_S_IFREG | (mode_), .show = show_, .store = store_}
#define MAGIC(name_, show_, link_)                                                                 \
    {.name = name_, .mode = VFS_S_IFLNK | 0777, .show = show_, .get_link = link_}

/* Entries of both PID and PID/task/TID, in Linux's (alphabetical) order. */
#define PID_COMMON_ENTRIES                                                                         \
    REG("cgroup", 0444, show_cgroup), REG("cmdline", 0444, show_cmdline),                          \
            RW("comm", 0644, show_comm, store_eperm), MAGIC("cwd", show_cwd, link_cwd),            \
            REG("environ", 0400, show_environ), MAGIC("exe", show_exe, link_exe),                  \
            {.name = "fd", .mode = VFS_S_IFDIR | 0500, .lookup = fd_lookup, .list = fd_list},      \
            {.name = "fdinfo",                                                                     \
             .mode = VFS_S_IFDIR | 0555,                                                           \
             .lookup = fdinfo_lookup,                                                              \
             .list = fdinfo_list},                                                                 \
            RW("gid_map", 0644, show_id_map, store_eperm), REG("limits", 0444, show_limits),       \
            RW("loginuid", 0644, show_loginuid, store_eperm), REG("maps", 0444, show_maps),        \
            REG("mountinfo", 0444, show_pid_mountinfo), REG("mounts", 0444, show_pid_mounts),      \
            {.name = "net", .mode = VFS_S_IFDIR | 0555, .children = g_proc_net_children},       \
            {.name = "ns", .mode = VFS_S_IFDIR | 0511, .children = g_ns_children},                 \
            REG("oom_score", 0444, show_zero),                                                     \
            RW("oom_score_adj", 0644, show_oom_score_adj, store_oom_score_adj),                    \
            MAGIC("root", show_root, link_root), RW("setgroups", 0644, show_setgroups, store_eperm), \
            REG("smaps", 0444, show_smaps), \
            REG("stat", 0444, show_stat), REG("statm", 0444, show_statm),                          \
            REG("status", 0444, show_status)

static const struct gen_entry g_pid_children[] = {
        PID_COMMON_ENTRIES,
        {.name = "task", .mode = VFS_S_IFDIR | 0555, .lookup = task_lookup, .list = task_list},
        RW("uid_map", 0644, show_id_map, store_eperm),
        {0},
};

static const struct gen_entry g_tid_children[] = {
        PID_COMMON_ENTRIES,
        RW("uid_map", 0644, show_id_map, store_eperm),
        {0},
};

const struct gen_entry g_proc_pid_entry = {
        .name = "pid", .mode = VFS_S_IFDIR | 0555, .children = g_pid_children};
static const struct gen_entry g_proc_tid_entry = {
        .name = "tid", .mode = VFS_S_IFDIR | 0555, .children = g_tid_children};

/* A pid dir inode for process PID (TID for a task/ entry), owned by its
 * effective ids as Linux does for dumpable processes. */
static int pid_dir_new(struct gen_inode *parent, const char *name, int pid, int tid,
                       struct inode **out)
{
    struct thread_group *tg = task_lookup_tg(pid);
    if (!tg)
        return -ENOENT;
    struct tg_info info;
    tg_info(tg, &info);
    tg_put(tg);
    struct gen_inode *gi =
            gen_inode_new(parent->base.sb, tid ? &g_proc_tid_entry : &g_proc_pid_entry,
                          gen_ino(parent, name), pid, tid, -1, info.cred.euid, info.cred.egid);
    if (!gi)
        return -ENOMEM;
    gi->base.nlink = 2 + (unsigned)(info.nr_threads > 0 ? info.nr_threads : 1);
    *out = &gi->base;
    return 0;
}

int proc_pid_lookup(struct gen_inode *dir, const char *name, struct inode **out)
{
    int pid = gen_parse_num(name);
    if (pid <= 0)
        return -ENOENT;
    return pid_dir_new(dir, name, pid, 0, out);
}

struct pid_emit {
    struct gen_inode *dir;
    struct dir_emit *ctx;
};

static int emit_pid(int pid, void *arg)
{
    struct pid_emit *pe = arg;
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", pid);
    return gen_emit(pe->dir, pe->ctx, buf, VFS_S_IFDIR);
}

int proc_pid_list(struct gen_inode *dir, struct dir_emit *ctx)
{
    struct pid_emit pe = {dir, ctx};
    return proc_for_each_pid(emit_pid, &pe);
}

/* Threads known for DIR's process: its pid, and the caller's tid when the
 * caller reads its own process. */
static int task_lookup(struct gen_inode *dir, const char *name, struct inode **out)
{
    int tid = gen_parse_num(name);
    if (tid <= 0)
        return -ENOENT;
    if (tid != dir->pid && !(dir->pid == proc_self_pid() && tid == proc_self_tid()))
        return -ENOENT;
    return pid_dir_new(dir, name, dir->pid, tid, out);
}

static int task_list(struct gen_inode *dir, struct dir_emit *ctx)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", dir->pid);
    int r = gen_emit(dir, ctx, buf, VFS_S_IFDIR);
    int self = proc_self_tid();
    if (r == 0 && dir->pid == proc_self_pid() && self != dir->pid) {
        snprintf(buf, sizeof(buf), "%d", self);
        r = gen_emit(dir, ctx, buf, VFS_S_IFDIR);
    }
    return r;
}
