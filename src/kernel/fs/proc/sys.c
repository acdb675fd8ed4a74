/*
 * System-wide /proc files, the sandbox's view: memory from moat's memory
 * file and address spaces (mm_meminfo), processes from moat's task table,
 * the CPU model from CPUID (never the host's /proc).
 *
 * Where moat differs from Linux:
 * - CPU time is not tracked: /proc/stat reports every CPU idle since boot,
 *   loadavg is 0.00, ctxt/intr are 0.
 * - "processes" (forks since boot) is the highest live pid, a lower bound.
 */
#include <cpuid.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/fs/proc/proc_internal.h"
#include "kernel/host/host.h"
#include "kernel/ipc/pipe.h"
#include "kernel/mm/memfile.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "kernel/task/uts.h"
#include "kernel/vfs/notify.h"

/* What uname(2) reports (sys_info.c): keep in step. */
#define PROC_OSRELEASE "6.1.0-moat"
#define PROC_VERSION   "#1 SMP moat"
/* The task table's pid limit (task.c). */
#define PROC_PID_MAX 4194304
#define CLK_TCK      100ULL

/* ---- process counts ---- */

struct proc_counts {
    int procs, running, max_pid, threads;
};

static int count_one(int pid, void *arg)
{
    struct proc_counts *c = arg;
    struct thread_group *tg = task_lookup_tg(pid);
    if (!tg)
        return 0;
    struct tg_info info;
    tg_info(tg, &info);
    tg_put(tg);
    if (info.state == 'Z')
        return 0;
    c->procs++;
    c->threads += info.nr_threads > 0 ? info.nr_threads : 1;
    if (info.state == 'R' || pid == proc_self_pid())
        c->running++;
    if (pid > c->max_pid)
        c->max_pid = pid;
    return 0;
}

static void proc_counts(struct proc_counts *c)
{
    memset(c, 0, sizeof(*c));
    proc_for_each_pid(count_one, c);
}

static uint64_t uptime_ns(void)
{
    int64_t s = 0, ns = 0;
    host_clock_gettime(CLOCK_BOOTTIME, &s, &ns);
    return (uint64_t)s * 1000000000ULL + (uint64_t)ns;
}

/* ---- memory ---- */

static int show_meminfo(struct gen_inode *gi, struct sbuf *b)
{
    struct mm_meminfo m;
    mm_meminfo(&m);
    /* The sandbox's view (mm_meminfo): MemTotal is its memory limit (the
     * host's RAM without one), all of its memory is in moat's memory file
     * and none of it can be swapped or reclaimed, so tmpfs and shared
     * memory (Shmem) are the whole page cache and count as anon LRU pages
     * as on Linux, and MemAvailable is MemFree. */
    const struct {
        const char *name;
        uint64_t bytes;
    } rows[] = {
            {"MemTotal", m.total},
            {"MemFree", m.free},
            {"MemAvailable", m.free},
            {"Buffers", 0},
            {"Cached", m.shmem},
            {"SwapCached", 0},
            {"Active", m.anon + m.shmem},
            {"Inactive", 0},
            {"Active(anon)", m.anon + m.shmem},
            {"Inactive(anon)", 0},
            {"Active(file)", 0},
            {"Inactive(file)", 0},
            {"Unevictable", m.locked},
            {"Mlocked", m.locked},
            {"SwapTotal", 0},
            {"SwapFree", 0},
            {"Zswap", 0},
            {"Zswapped", 0},
            {"Dirty", 0},
            {"Writeback", 0},
            {"AnonPages", m.anon},
            {"Mapped", m.mapped},
            {"Shmem", m.shmem},
            {"KReclaimable", 0},
            {"Slab", 0},
            {"SReclaimable", 0},
            {"SUnreclaim", 0},
            {"KernelStack", 0},
            {"PageTables", 0},
            {"SecPageTables", 0},
            {"NFS_Unstable", 0},
            {"Bounce", 0},
            {"WritebackTmp", 0},
            {"CommitLimit", m.total / 2},
            {"Committed_AS", m.committed},
            {"VmallocTotal", 34359738367ULL * 1024},
            {"VmallocUsed", 0},
            {"VmallocChunk", 0},
            {"Percpu", 0},
            {"HardwareCorrupted", 0},
            {"AnonHugePages", 0},
            {"ShmemHugePages", 0},
            {"ShmemPmdMapped", 0},
            {"FileHugePages", 0},
            {"FilePmdMapped", 0},
    };
    (void)gi;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s:", rows[i].name);
        sbuf_printf(b, "%-16s%8" PRIu64 " kB\n", name, rows[i].bytes / 1024);
    }
    sbuf_printf(b, "HugePages_Total:%8d\nHugePages_Free: %8d\nHugePages_Rsvd: %8d\n"
                   "HugePages_Surp: %8d\n",
                0, 0, 0, 0);
    sbuf_printf(b, "%-16s%8d kB\n", "Hugepagesize:", 2048);
    sbuf_printf(b, "%-16s%8d kB\n", "Hugetlb:", 0);
    return 0;
}

/* ---- CPUs ---- */

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

/* Feature flag names by CPUID register bit, as Linux's cpuinfo spells them. */
struct cpu_flag_word {
    unsigned leaf, sub, reg; /* reg: 0 eax, 1 ebx, 2 ecx, 3 edx */
    const char *names[32];
};

static const struct cpu_flag_word g_flag_words[] = {
        {1, 0, 3, {"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", NULL,
                   "sep", "mtrr", "pge", "mca", "cmov", "pat", "pse36", "pn", "clflush", NULL,
                   "dts", "acpi", "mmx", "fxsr", "sse", "sse2", "ss", "ht", "tm", "ia64", "pbe"}},
        {0x80000001, 0, 3, {[11] = "syscall", [20] = "nx", [22] = "mmxext", [25] = "fxsr_opt",
                            [26] = "pdpe1gb", [27] = "rdtscp", [29] = "lm", [30] = "3dnowext",
                            [31] = "3dnow"}},
        {1, 0, 2, {"pni", "pclmulqdq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est",
                   "tm2", "ssse3", "cid", "sdbg", "fma", "cx16", "xtpr", "pdcm", NULL, "pcid",
                   "dca", "sse4_1", "sse4_2", "x2apic", "movbe", "popcnt", "tsc_deadline_timer",
                   "aes", "xsave", NULL, "avx", "f16c", "rdrand", "hypervisor"}},
        {0x80000001, 0, 2, {"lahf_lm", "cmp_legacy", "svm", "extapic", "cr8_legacy", "abm",
                            "sse4a", "misalignsse", "3dnowprefetch", "osvw", "ibs", "xop",
                            "skinit", "wdt", NULL, "lwp", "fma4", "tce", NULL, "nodeid_msr",
                            NULL, "tbm", "topoext", "perfctr_core", "perfctr_nb", NULL, "bpext",
                            "ptsc", "perfctr_llc", "mwaitx"}},
        {7, 0, 1, {"fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2", NULL, "smep", "bmi2",
                   "erms", "invpcid", "rtm", NULL, NULL, "mpx", NULL, "avx512f", "avx512dq",
                   "rdseed", "adx", "smap", "avx512ifma", NULL, "clflushopt", "clwb",
                   "intel_pt", "avx512pf", "avx512er", "avx512cd", "sha_ni", "avx512bw",
                   "avx512vl"}},
        {0xd, 1, 0, {"xsaveopt", "xsavec", "xgetbv1", "xsaves"}},
        {7, 0, 2, {[1] = "avx512vbmi", [2] = "umip", [3] = "pku", [4] = "ospke", [5] = "waitpkg",
                   [6] = "avx512_vbmi2", [8] = "gfni", [9] = "vaes", [10] = "vpclmulqdq",
                   [11] = "avx512_vnni", [12] = "avx512_bitalg", [13] = "tme",
                   [14] = "avx512_vpopcntdq", [16] = "la57", [22] = "rdpid",
                   [25] = "cldemote", [27] = "movdiri", [28] = "movdir64b"}},
        {7, 0, 3, {[2] = "avx512_4vnniw", [3] = "avx512_4fmaps", [4] = "fsrm",
                   [10] = "md_clear", [14] = "serialize", [16] = "tsxldtrk", [18] = "pconfig",
                   [19] = "arch_lbr", [22] = "amx_bf16", [23] = "avx512_fp16",
                   [24] = "amx_tile", [25] = "amx_int8", [28] = "flush_l1d",
                   [29] = "arch_capabilities"}},
};

struct cpu_model {
    char vendor[13];
    char name[49];
    unsigned family, model, stepping, max_leaf;
    unsigned clflush, phys_bits, virt_bits;
    unsigned cache_kb;
    double mhz;
    char flags[2048];
};

static struct cpu_model g_cpu;
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;

static void cpu_model_init(void)
{
    struct cpu_model *c = &g_cpu;
    unsigned r[4];
    cpuid(0, 0, r);
    c->max_leaf = r[0];
    memcpy(c->vendor, &r[1], 4);
    memcpy(c->vendor + 4, &r[3], 4);
    memcpy(c->vendor + 8, &r[2], 4);
    cpuid(1, 0, r);
    unsigned fam = (r[0] >> 8) & 0xf, model = (r[0] >> 4) & 0xf;
    if (fam == 0xf)
        fam += (r[0] >> 20) & 0xff;
    if (fam >= 6)
        model |= ((r[0] >> 16) & 0xf) << 4;
    c->family = fam;
    c->model = model;
    c->stepping = r[0] & 0xf;
    c->clflush = ((r[1] >> 8) & 0xff) * 8;
    cpuid(0x80000000, 0, r);
    unsigned max_ext = r[0];
    if (max_ext >= 0x80000004) {
        for (unsigned i = 0; i < 3; i++) {
            cpuid(0x80000002 + i, 0, r);
            memcpy(c->name + 16 * i, r, 16);
        }
        /* Trim the padding some vendors put around the brand string. */
        char *s = c->name;
        while (*s == ' ')
            s++;
        memmove(c->name, s, strlen(s) + 1);
        for (size_t n = strlen(c->name); n && c->name[n - 1] == ' '; n--)
            c->name[n - 1] = '\0';
    }
    /* "cache size" as Linux shows it: the L2 on AMD, the last level the
     * deterministic cache leaf describes on Intel. */
    if (strcmp(c->vendor, "GenuineIntel") == 0 && c->max_leaf >= 4) {
        for (unsigned i = 0; i < 16; i++) {
            cpuid(4, i, r);
            if ((r[0] & 0x1f) == 0)
                break;
            uint64_t bytes = (uint64_t)((r[1] >> 22) + 1) * (((r[1] >> 12) & 0x3ff) + 1) *
                             ((r[1] & 0xfff) + 1) * ((uint64_t)r[2] + 1);
            c->cache_kb = (unsigned)(bytes / 1024);
        }
    } else if (max_ext >= 0x80000006) {
        cpuid(0x80000006, 0, r);
        c->cache_kb = r[2] >> 16;
    }
    c->phys_bits = 36;
    c->virt_bits = 48;
    if (max_ext >= 0x80000008) {
        cpuid(0x80000008, 0, r);
        c->phys_bits = r[0] & 0xff;
        c->virt_bits = (r[0] >> 8) & 0xff;
    }
    if (c->max_leaf >= 0x16) {
        cpuid(0x16, 0, r);
        c->mhz = r[0] & 0xffff;
    }
    if (c->mhz == 0) {
        /* "… @ 2.20GHz" in the brand string. */
        const char *at = strstr(c->name, "@ ");
        double ghz;
        if (at && sscanf(at + 2, "%lfGHz", &ghz) == 1)
            c->mhz = ghz * 1000;
    }
    if (c->mhz == 0) {
        /* Neither says: time the TSC against the host's monotonic clock
         * (once, 20 ms). */
        uint64_t t0 = host_monotonic_ns(), c0 = __builtin_ia32_rdtsc();
        host_nanosleep(0, 20000000);
        uint64_t t1 = host_monotonic_ns(), c1 = __builtin_ia32_rdtsc();
        if (t1 > t0)
            c->mhz = (double)(c1 - c0) * 1000.0 / (double)(t1 - t0);
    }
    size_t len = 0;
    for (size_t w = 0; w < sizeof(g_flag_words) / sizeof(g_flag_words[0]); w++) {
        const struct cpu_flag_word *fw = &g_flag_words[w];
        unsigned max = fw->leaf >= 0x80000000 ? max_ext : c->max_leaf;
        if (fw->leaf > max)
            continue;
        cpuid(fw->leaf, fw->sub, r);
        for (unsigned bit = 0; bit < 32; bit++) {
            if (!fw->names[bit] || !(r[fw->reg] & (1u << bit)))
                continue;
            int n = snprintf(c->flags + len, sizeof(c->flags) - len, "%s%s", len ? " " : "",
                             fw->names[bit]);
            if (n > 0 && (size_t)n < sizeof(c->flags) - len)
                len += (size_t)n;
        }
    }
}

static int show_cpuinfo(struct gen_inode *gi, struct sbuf *b)
{
    pthread_once(&g_cpu_once, cpu_model_init);
    const struct cpu_model *c = &g_cpu;
    int n = gen_nr_cpus();
    for (int i = 0; i < n; i++) {
        sbuf_printf(b, "processor\t: %d\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\n"
                       "model name\t: %s\nstepping\t: %u\n",
                    i, c->vendor, c->family, c->model, c->name, c->stepping);
        if (c->mhz > 0)
            sbuf_printf(b, "cpu MHz\t\t: %.3f\n", c->mhz);
        if (c->cache_kb)
            sbuf_printf(b, "cache size\t: %u KB\n", c->cache_kb);
        sbuf_printf(b, "physical id\t: 0\nsiblings\t: %d\ncore id\t\t: %d\ncpu cores\t: %d\n"
                       "apicid\t\t: %d\ninitial apicid\t: %d\nfpu\t\t: yes\n"
                       "fpu_exception\t: yes\ncpuid level\t: %u\nwp\t\t: yes\nflags\t\t: %s\n"
                       "bugs\t\t:\n",
                    n, i, n, i, i, c->max_leaf, c->flags);
        if (c->mhz > 0)
            sbuf_printf(b, "bogomips\t: %.2f\n", c->mhz * 2);
        sbuf_printf(b, "clflush size\t: %u\ncache_alignment\t: %u\n"
                       "address sizes\t: %u bits physical, %u bits virtual\n"
                       "power management:\n\n",
                    c->clflush, c->clflush, c->phys_bits, c->virt_bits);
    }
    return 0;
}

static int show_stat(struct gen_inode *gi, struct sbuf *b)
{
    int n = gen_nr_cpus();
    uint64_t up = uptime_ns();
    uint64_t idle = up / (1000000000ULL / CLK_TCK);
    struct proc_counts pc;
    proc_counts(&pc);
    int64_t s = 0, ns = 0;
    host_clock_gettime(CLOCK_REALTIME, &s, &ns);
    int64_t btime = s - (int64_t)(up / 1000000000ULL);
    sbuf_printf(b, "cpu  0 0 0 %" PRIu64 " 0 0 0 0 0 0\n", idle * (uint64_t)n);
    for (int i = 0; i < n; i++)
        sbuf_printf(b, "cpu%d 0 0 0 %" PRIu64 " 0 0 0 0 0 0\n", i, idle);
    sbuf_printf(b, "intr 0\nctxt 0\nbtime %" PRId64 "\nprocesses %d\nprocs_running %d\n"
                   "procs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
                btime, pc.max_pid, pc.running ? pc.running : 1);
    return 0;
}

static int show_uptime(struct gen_inode *gi, struct sbuf *b)
{
    uint64_t up = uptime_ns() / 10000000ULL; /* centiseconds */
    uint64_t idle = up * (uint64_t)gen_nr_cpus();
    sbuf_printf(b, "%" PRIu64 ".%02" PRIu64 " %" PRIu64 ".%02" PRIu64 "\n", up / 100, up % 100,
                idle / 100, idle % 100);
    return 0;
}

static int show_loadavg(struct gen_inode *gi, struct sbuf *b)
{
    struct proc_counts pc;
    proc_counts(&pc);
    sbuf_printf(b, "0.00 0.00 0.00 %d/%d %d\n", pc.running ? pc.running : 1, pc.threads,
                pc.max_pid);
    return 0;
}

static int show_version(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "Linux version " PROC_OSRELEASE " (moat@moat) (moat application kernel) "
                   PROC_VERSION "\n");
    return 0;
}

static int show_filesystems(struct gen_inode *gi, struct sbuf *b)
{
    static const char *const fs[] = {"sysfs", "tmpfs", "proc", "cgroup2", "devtmpfs",
                                     "overlay"};
    for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
        sbuf_printf(b, "nodev\t%s\n", fs[i]);
    return 0;
}

static int show_mounts_link(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "self/mounts");
    return 0;
}

static int show_net_link(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "self/net");
    return 0;
}

/* The mounts as the current task sees them (from its root). */
static int mount_views(struct vfs_mount_view **v, size_t *n)
{
    return vfs_mount_views(task_current(), v, n);
}

int proc_show_mounts(struct sbuf *b)
{
    struct vfs_mount_view *v;
    size_t n;
    int r = mount_views(&v, &n);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        sbuf_printf(b, "%s %s %s %s 0 0\n", v[i].source, v[i].mountpoint, v[i].fstype,
                    v[i].opts);
    free(v);
    return 0;
}

int proc_show_mountinfo(struct sbuf *b)
{
    struct vfs_mount_view *v;
    size_t n;
    int r = mount_views(&v, &n);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        sbuf_printf(b, "%d %d %u:%u %s %s %s %s%s- %s %s %s\n", v[i].id, v[i].parent_id,
                    VFS_MAJOR(v[i].dev), VFS_MINOR(v[i].dev), v[i].root, v[i].mountpoint,
                    v[i].mi_opts, v[i].optional, v[i].optional[0] ? " " : "", v[i].fstype,
                    v[i].source, v[i].super_opts);
    free(v);
    return 0;
}

/* ---- /proc/sys ---- */

static int show_hostname(struct gen_inode *gi, struct sbuf *b)
{
    char host[UTS_LEN + 1];
    uts_get(host, NULL);
    sbuf_printf(b, "%s\n", host);
    return 0;
}

static int show_domainname(struct gen_inode *gi, struct sbuf *b)
{
    char domain[UTS_LEN + 1];
    uts_get(NULL, domain);
    sbuf_printf(b, "%s\n", domain);
    return 0;
}

#define SHOW_TEXT(fn, text)                                                                        \
    static int fn(struct gen_inode *gi, struct sbuf *b)                                           \
    {                                                                                              \
        sbuf_printf(b, "%s\n", text);                                                              \
        return 0;                                                                                  \
    }
SHOW_TEXT(show_ostype, "Linux")
SHOW_TEXT(show_osrelease, PROC_OSRELEASE)
SHOW_TEXT(show_kversion, PROC_VERSION)
SHOW_TEXT(show_cap_last_cap, "40")
SHOW_TEXT(show_ngroups_max, "65536")
SHOW_TEXT(show_overcommit_memory, "0")
SHOW_TEXT(show_max_map_count, "65530")
SHOW_TEXT(show_file_max, "9223372036854775807")
SHOW_TEXT(show_somaxconn, "4096")

static int show_pid_max(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "%d\n", PROC_PID_MAX);
    return 0;
}

static int show_nr_open(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "%d\n", VFS_NR_OPEN);
    return 0;
}

static int show_pipe_max_size(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "%d\n", PIPE_MAX_SIZE);
    return 0;
}

static void format_uuid(struct sbuf *b, const uint8_t u[16])
{
    sbuf_printf(b, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n", u[0],
                u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                u[14], u[15]);
}

static int random_uuid(uint8_t u[16])
{
    int r = host_getrandom(u, 16);
    if (r < 0)
        return r;
    u[6] = (u[6] & 0x0f) | 0x40; /* version 4 */
    u[8] = (u[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    return 0;
}

static int show_uuid(struct gen_inode *gi, struct sbuf *b)
{
    uint8_t u[16];
    int r = random_uuid(u);
    if (r == 0)
        format_uuid(b, u);
    return r;
}

/* One per sandbox (per kernel process), made on first read. */
static uint8_t g_boot_id[16];
static int g_boot_id_err;
static pthread_once_t g_boot_id_once = PTHREAD_ONCE_INIT;

static void boot_id_init(void)
{
    g_boot_id_err = random_uuid(g_boot_id);
}

static int show_boot_id(struct gen_inode *gi, struct sbuf *b)
{
    pthread_once(&g_boot_id_once, boot_id_init);
    if (g_boot_id_err)
        return g_boot_id_err;
    format_uuid(b, g_boot_id);
    return 0;
}

#define REG(name_, show_) {.name = name_, .mode = VFS_S_IFREG | 0444, .show = show_}
#define DIR(name_, children_) {.name = name_, .mode = VFS_S_IFDIR | 0555, .children = children_}

static const struct gen_entry g_sys_kernel_random[] = {
        REG("boot_id", show_boot_id),
        REG("uuid", show_uuid),
        {0},
};

static const struct gen_entry g_sys_kernel[] = {
        REG("cap_last_cap", show_cap_last_cap),
        REG("domainname", show_domainname),
        REG("hostname", show_hostname),
        PROC_IPC_ENTRY("msgmax", msgmax),
        PROC_IPC_ENTRY("msgmnb", msgmnb),
        PROC_IPC_ENTRY("msgmni", msgmni),
        REG("ngroups_max", show_ngroups_max),
        REG("osrelease", show_osrelease),
        REG("ostype", show_ostype),
        REG("pid_max", show_pid_max),
        DIR("random", g_sys_kernel_random),
        PROC_IPC_ENTRY("sem", sem_limits),
        PROC_IPC_ENTRY("shmall", shmall),
        PROC_IPC_ENTRY("shmmax", shmmax),
        PROC_IPC_ENTRY("shmmni", shmmni),
        REG("version", show_kversion),
        {0},
};

static const struct gen_entry g_sys_vm[] = {
        REG("max_map_count", show_max_map_count),
        REG("overcommit_memory", show_overcommit_memory),
        {0},
};

/* /proc/sys/fs/inotify: the sandbox's limits, root may change them. */
static int show_inotify(struct sbuf *b, int which)
{
    struct inotify_limits l;
    inotify_get_limits(&l);
    int v = which == 0 ? l.max_queued_events
                       : which == 1 ? l.max_user_instances : l.max_user_watches;
    sbuf_printf(b, "%d\n", v);
    return 0;
}

/* A decimal number, then optional blanks (as proc_dointvec takes it). */
static ssize_t store_inotify(const char *buf, size_t n, int which)
{
    size_t i = 0;
    bool neg = false;
    while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    if (i < n && (buf[i] == '-' || buf[i] == '+'))
        neg = buf[i++] == '-';
    size_t digits = 0;
    long v = 0;
    for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++, digits++) {
        if (v > (long)INT32_MAX)
            return -EINVAL;
        v = v * 10 + (buf[i] - '0');
    }
    if (digits == 0)
        return -EINVAL;
    for (; i < n; i++) {
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\0')
            return -EINVAL;
    }
    int r = inotify_set_limit(which, neg ? -v : v);
    return r < 0 ? r : (ssize_t)n;
}

#define INOTIFY_LIMIT(fn, which)                                                                   \
    static int show_##fn(struct gen_inode *gi, struct sbuf *b)                                    \
    {                                                                                              \
        return show_inotify(b, which);                                                             \
    }                                                                                              \
    static ssize_t store_##fn(struct gen_inode *gi, const char *buf, size_t n)                     \
    {                                                                                              \
        return store_inotify(buf, n, which);                                                       \
    }
INOTIFY_LIMIT(max_queued_events, 0)
INOTIFY_LIMIT(max_user_instances, 1)
INOTIFY_LIMIT(max_user_watches, 2)

#define RW(name_, show_, store_)                                                                   \
    {.name = name_, .mode = VFS_S_IFREG | 0644, .show = show_, .store = store_}

static const struct gen_entry g_sys_fs_inotify[] = {
        RW("max_queued_events", show_max_queued_events, store_max_queued_events),
        RW("max_user_instances", show_max_user_instances, store_max_user_instances),
        RW("max_user_watches", show_max_user_watches, store_max_user_watches),
        {0},
};

static const struct gen_entry g_sys_fs[] = {
        REG("file-max", show_file_max),
        DIR("inotify", g_sys_fs_inotify),
        DIR("mqueue", g_proc_sys_fs_mqueue),
        REG("nr_open", show_nr_open),
        REG("pipe-max-size", show_pipe_max_size),
        {0},
};

static const struct gen_entry g_sys_net_core[] = {
        REG("somaxconn", show_somaxconn),
        {0},
};

static const struct gen_entry g_sys_net[] = {
        DIR("core", g_sys_net_core),
        {0},
};

static const struct gen_entry g_sys[] = {
        DIR("fs", g_sys_fs),
        DIR("kernel", g_sys_kernel),
        DIR("net", g_sys_net),
        DIR("vm", g_sys_vm),
        {0},
};

int procfs_sysctl_write(const char *key, const char *value)
{
    /* KEY's components separated by dots (or slashes, as runc takes them). */
    char path[256];
    size_t len = strlen(key);
    if (len == 0 || len >= sizeof(path))
        return -ENOENT;
    memcpy(path, key, len + 1);
    const struct gen_entry *dir = g_sys, *e = NULL;
    for (char *save = NULL, *c = strtok_r(path, "./", &save); c;
         c = strtok_r(NULL, "./", &save)) {
        if (!dir)
            return -ENOENT; /* a component below a file */
        e = NULL;
        for (const struct gen_entry *it = dir; it->name; it++)
            if (strcmp(it->name, c) == 0) {
                e = it;
                break;
            }
        if (!e)
            return -ENOENT;
        dir = ((e->mode & VFS_S_IFMT) == VFS_S_IFDIR) ? e->children : NULL;
    }
    if (!e || ((e->mode & VFS_S_IFMT) == VFS_S_IFDIR))
        return -ENOENT;
    if (!e->store)
        return -EROFS;
    ssize_t r = e->store(NULL, value, strlen(value));
    return r < 0 ? (int)r : 0;
}

const struct gen_entry g_proc_root_children[] = {
        REG("cpuinfo", show_cpuinfo),
        REG("filesystems", show_filesystems),
        REG("loadavg", show_loadavg),
        REG("meminfo", show_meminfo),
        {.name = "mounts", .mode = VFS_S_IFLNK | 0777, .show = show_mounts_link},
        {.name = "net", .mode = VFS_S_IFLNK | 0777, .show = show_net_link},
        REG("stat", show_stat),
        DIR("sys", g_sys),
        DIR("sysvipc", g_proc_sysvipc_children),
        REG("uptime", show_uptime),
        REG("version", show_version),
        {0},
};
