/* Host cgroups for a whole sandbox (v1 and v2); see cgroup.h. */
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

#define CGROUP_ROOT        "/sys/fs/cgroup"
#define CGROUP2_MAGIC      0x63677270
#define DEFAULT_CPU_PERIOD 100000

/* One hierarchy: where it is mounted and where the caller sits in it. */
struct hier {
    char mnt[PATH_MAX];
    char own[PATH_MAX]; /* the caller's cgroup, "/..." */
    char ctl[64];       /* v1: its controllers ("cpu,cpuacct"); v2: "" */
};

/* The v1 controllers moat uses; memory and pids are required, freezer
 * (moat pause) optional. */
static const char *const g_v1_ctls[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};

static void errf(char *buf, size_t size, const char *fmt, ...) PRINTF_FMT(3, 4);
static void errf(char *buf, size_t size, const char *fmt, ...)
{
    if (!buf || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

static bool has_token(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, tok, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

/* The caller's cgroup in the hierarchy with controllers CTLS (v2: ""). */
static int own_cgroup(const char *ctls, char *out, size_t size)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -errno;
    char line[PATH_MAX + 128];
    int r = -ENOENT;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *list = c1 + 1;
        bool match;
        if (!ctls[0]) {
            match = strcmp(line, "0") == 0 && !*list;
        } else {
            /* Every controller of the hierarchy must be on the line. */
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "%s", ctls);
            match = true;
            for (char *s = NULL, *t = strtok_r(tmp, ",", &s); t; t = strtok_r(NULL, ",", &s))
                if (!has_token(list, t))
                    match = false;
        }
        if (match) {
            snprintf(out, size, "%s", c2 + 1);
            r = 0;
            break;
        }
    }
    fclose(f);
    return r;
}

/* The hierarchies to use: 2 (one in *out) or 1 (up to CGROUP_MAX_DIRS). */
static int discover(struct hier *out, size_t *out_n, char *errbuf, size_t errsize)
{
    struct statfs sf;
    if (statfs(CGROUP_ROOT, &sf) < 0) {
        int e = errno;
        errf(errbuf, errsize, "cgroups: %s: %s", CGROUP_ROOT, strerror(e));
        return -e;
    }
    if (sf.f_type == CGROUP2_MAGIC) {
        snprintf(out[0].mnt, sizeof(out[0].mnt), "%s", CGROUP_ROOT);
        out[0].ctl[0] = '\0';
        if (own_cgroup("", out[0].own, sizeof(out[0].own)) < 0)
            snprintf(out[0].own, sizeof(out[0].own), "/");
        *out_n = 1;
        return 2;
    }
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        int e = errno;
        errf(errbuf, errsize, "cgroups: /proc/self/mountinfo: %s", strerror(e));
        return -e;
    }
    size_t n = 0;
    char line[4096];
    while (fgets(line, sizeof(line), f) && n < CGROUP_MAX_DIRS) {
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        char fstype[32], source[256], super[512];
        if (sscanf(sep + 3, "%31s %255s %511s", fstype, source, super) != 3 ||
            strcmp(fstype, "cgroup") != 0)
            continue;
        char root[PATH_MAX], mnt[PATH_MAX];
        if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
            continue;
        char ctls[64] = "";
        for (size_t i = 0; i < ARRAY_SIZE(g_v1_ctls); i++)
            if (has_token(super, g_v1_ctls[i]))
                snprintf(ctls + strlen(ctls), sizeof(ctls) - strlen(ctls), "%s%s",
                         ctls[0] ? "," : "", g_v1_ctls[i]);
        if (!ctls[0])
            continue;
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(out[i].ctl, ctls) == 0)
                dup = true;
        if (dup)
            continue;
        struct hier *h = &out[n];
        snprintf(h->mnt, sizeof(h->mnt), "%s", mnt);
        snprintf(h->ctl, sizeof(h->ctl), "%s", ctls);
        if (own_cgroup(ctls, h->own, sizeof(h->own)) < 0)
            snprintf(h->own, sizeof(h->own), "/");
        /* A hierarchy mounted from a sub-cgroup (ROOT != /): paths in
         * /proc/self/cgroup are relative to the hierarchy's real root. */
        if (strcmp(root, "/") != 0 && strncmp(h->own, root, strlen(root)) == 0) {
            char tmp[PATH_MAX];
            snprintf(tmp, sizeof(tmp), "%s", h->own + strlen(root));
            snprintf(h->own, sizeof(h->own), "%s", tmp[0] ? tmp : "/");
        }
        n++;
    }
    fclose(f);
    bool mem = false, pids = false;
    for (size_t i = 0; i < n; i++) {
        mem |= has_token(out[i].ctl, "memory");
        pids |= has_token(out[i].ctl, "pids");
    }
    if (!mem || !pids) {
        errf(errbuf, errsize, "cgroups: no %s controller mounted (cgroup v1 under %s)",
             !mem ? "memory" : "pids", CGROUP_ROOT);
        return -ENOTSUP;
    }
    *out_n = n;
    return 1;
}

static int write_at(const char *dir, const char *file, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = n < 0 ? errno : 0;
    close(fd);
    return n < 0 ? -e : 0;
}

static int read_at(const char *dir, const char *file, char *buf, size_t size)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", dir, file);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    ssize_t n;
    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    return (int)len;
}

static uint64_t read_u64(const char *dir, const char *file)
{
    char b[64];
    if (!dir || read_at(dir, file, b, sizeof(b)) <= 0 || strncmp(b, "max", 3) == 0)
        return 0;
    return strtoull(b, NULL, 10);
}

/* The value of KEY in a "key value" file. */
static uint64_t read_key(const char *dir, const char *file, const char *key)
{
    char b[4096];
    if (!dir || read_at(dir, file, b, sizeof(b)) <= 0)
        return 0;
    size_t n = strlen(key);
    for (char *p = b; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, n) == 0 && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
    return 0;
}

/* The cgroup's directory that has controller CTL (v2: the only one). */
static const char *dir_for(const struct cgroup *cg, const char *ctl)
{
    if (cg->version == 2)
        return cg->dirs[0];
    for (size_t i = 0; i < cg->ndirs; i++)
        if (has_token(cg->ctls[i], ctl))
            return cg->dirs[i];
    return NULL;
}

static bool dir_has_procs(const char *dir)
{
    char b[64];
    return read_at(dir, "cgroup.procs", b, sizeof(b)) > 0;
}

/* mkdir -p of REL below MNT; v2 turns the controllers on on the way. */
static int make_path(int version, const char *mnt, const char *rel, char *errbuf, size_t errsize)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%.2000s", mnt);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", rel);
    char *save = NULL;
    for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0) {
            errf(errbuf, errsize, "cgroups: path `%s`: `.` and `..` are not allowed", rel);
            return -EINVAL;
        }
        if (version == 2) {
            static const char *const ctls[] = {"+memory", "+pids", "+cpu"};
            char avail[256] = "";
            read_at(p, "cgroup.controllers", avail, sizeof(avail));
            for (size_t i = 0; i < ARRAY_SIZE(ctls); i++) {
                int r = write_at(p, "cgroup.subtree_control", ctls[i]);
                if (r < 0 && i < 2) {
                    errf(errbuf, errsize,
                         "cgroups: cannot enable %s in %s/cgroup.subtree_control: %s%s",
                         ctls[i] + 1, p, strerror(-r),
                         r == -EBUSY
                                 ? " (that cgroup has processes of its own; give an absolute cgroupsPath)"
                                 : "");
                    return r;
                }
            }
        }
        size_t len = strlen(p);
        snprintf(p + len, sizeof(p) - len, "/%s", c);
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            errf(errbuf, errsize, "cgroups: cannot create %s: %s", p, strerror(e));
            return -e;
        }
    }
    return 0;
}

static bool path_ok(const char *path)
{
    return path && path[0] && strlen(path) < PATH_MAX / 2;
}

int cgroup_create(const char *path, const char *name, struct cgroup **out, char *errbuf,
                  size_t errsize)
{
    struct hier h[CGROUP_MAX_DIRS];
    size_t n = 0;
    int version = discover(h, &n, errbuf, errsize);
    if (version < 0)
        return version;
    char def[PATH_MAX];
    if (!path) {
        snprintf(def, sizeof(def), "%smoat/%s", version == 2 ? "/" : "", name);
        path = def;
    }
    if (!path_ok(path)) {
        errf(errbuf, errsize, "cgroups: bad cgroup path `%s`", path);
        return -EINVAL;
    }
    struct cgroup *cg = calloc(1, sizeof(*cg));
    if (!cg) {
        errf(errbuf, errsize, "cgroups: out of memory");
        return -ENOMEM;
    }
    cg->version = version;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        char rel[PATH_MAX];
        if (path[0] == '/')
            snprintf(rel, sizeof(rel), "%s", path);
        else
            snprintf(rel, sizeof(rel), "%s/%s", strcmp(h[i].own, "/") == 0 ? "" : h[i].own, path);
        char full[PATH_MAX * 2];
        snprintf(full, sizeof(full), "%.4000s%.4000s", h[i].mnt, rel);
        while (strlen(full) > 1 && full[strlen(full) - 1] == '/')
            full[strlen(full) - 1] = '\0';
        char procs[PATH_MAX * 2 + 16];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", full);
        size_t j = cg->ndirs;
        cg->dirs[j] = strdup(full);
        cg->ctls[j] = strdup(h[i].ctl);
        cg->procs[j] = strdup(procs);
        cg->ndirs = j + 1;
        if (!cg->dirs[j] || !cg->ctls[j] || !cg->procs[j]) {
            errf(errbuf, errsize, "cgroups: out of memory");
            r = -ENOMEM;
            break;
        }
        struct stat st;
        bool existed = stat(full, &st) == 0;
        /* Another sandbox's clean-up may remove an empty `moat` parent
         * between our mkdir of it and of the leaf: try again. */
        for (int tries = 0; tries < 5; tries++)
            if ((r = make_path(version, h[i].mnt, rel, errbuf, errsize)) != -ENOENT)
                break;
        if (r < 0 && version == 1 && strcmp(h[i].ctl, "freezer") == 0) {
            /* The freezer is optional (only moat pause needs it). */
            free(cg->dirs[j]);
            free(cg->ctls[j]);
            free(cg->procs[j]);
            cg->dirs[j] = cg->ctls[j] = cg->procs[j] = NULL;
            cg->ndirs = j;
            r = 0;
            continue;
        }
        if (r == 0 && existed && dir_has_procs(full)) {
            errf(errbuf, errsize, "cgroups: %s already has processes", full);
            r = -EBUSY;
        }
    }
    if (r < 0) {
        cgroup_destroy(cg, 0);
        cgroup_free(cg);
        return r;
    }
    *out = cg;
    return 0;
}

static int set_one(const char *dir, const char *file, const char *val, char *errbuf, size_t errsize)
{
    if (!dir) {
        errf(errbuf, errsize, "cgroups: no hierarchy for %s", file);
        return -ENOTSUP;
    }
    int r = write_at(dir, file, val);
    if (r < 0)
        errf(errbuf, errsize, "cgroups: cannot write `%s` to %s/%s: %s", val, dir, file,
             strerror(-r));
    return r;
}

static void fmt_limit(char *buf, size_t size, int64_t v, bool v2)
{
    if (v < 0)
        snprintf(buf, size, "%s", v2 ? "max" : "-1");
    else
        snprintf(buf, size, "%lld", (long long)v);
}

int cgroup_set(const struct cgroup *cg, const struct cgroup_limits *l, char *errbuf, size_t errsize)
{
    bool v2 = cg->version == 2;
    const char *mem = dir_for(cg, "memory");
    char v[64];
    int r = 0;
    if (v2) {
        if (l->memory) {
            fmt_limit(v, sizeof(v), l->memory, true);
            if ((r = set_one(mem, "memory.max", v, errbuf, errsize)) < 0)
                return r;
        }
        if (l->memory_swap) {
            if (l->memory_swap < 0) {
                snprintf(v, sizeof(v), "max");
            } else if (l->memory <= 0 || l->memory_swap < l->memory) {
                errf(errbuf, errsize,
                     "cgroups: memory.swap (%lld) needs a memory limit no larger than it",
                     (long long)l->memory_swap);
                return -EINVAL;
            } else {
                snprintf(v, sizeof(v), "%lld", (long long)(l->memory_swap - l->memory));
            }
            r = write_at(mem, "memory.swap.max", v);
            if (r == -ENOENT && l->memory_swap == l->memory)
                r = 0; /* no swap accounting: no swap to limit */
            if (r < 0) {
                errf(errbuf, errsize, "cgroups: cannot write `%s` to %s/memory.swap.max: %s", v,
                     mem, strerror(-r));
                return r;
            }
        }
    } else {
        if (l->memory) {
            fmt_limit(v, sizeof(v), l->memory, false);
            r = write_at(mem, "memory.limit_in_bytes", v);
            if (r == -EINVAL && l->memory_swap) {
                /* Raising past the current memory+swap limit: that first. */
                char s[64];
                fmt_limit(s, sizeof(s), l->memory_swap, false);
                if (write_at(mem, "memory.memsw.limit_in_bytes", s) == 0)
                    r = write_at(mem, "memory.limit_in_bytes", v);
            }
            if (r < 0) {
                errf(errbuf, errsize, "cgroups: cannot write `%s` to %s/memory.limit_in_bytes: %s",
                     v, mem, strerror(-r));
                return r;
            }
        }
        if (l->memory_swap) {
            fmt_limit(v, sizeof(v), l->memory_swap, false);
            r = write_at(mem, "memory.memsw.limit_in_bytes", v);
            if (r == -ENOENT && l->memory_swap == l->memory)
                r = 0; /* no swap accounting: no swap to limit */
            if (r < 0) {
                errf(errbuf, errsize,
                     "cgroups: cannot write `%s` to %s/memory.memsw.limit_in_bytes: %s", v, mem,
                     strerror(-r));
                return r;
            }
        }
    }
    if (l->pids) {
        fmt_limit(v, sizeof(v), l->pids, true);
        if ((r = set_one(dir_for(cg, "pids"), "pids.max", v, errbuf, errsize)) < 0)
            return r;
    }
    const char *cpu = dir_for(cg, "cpu");
    if (l->cpu_shares) {
        if (v2) {
            uint64_t s = MIN(MAX(l->cpu_shares, 2), 262144);
            snprintf(v, sizeof(v), "%llu", (unsigned long long)(1 + ((s - 2) * 9999) / 262142));
            r = set_one(cpu, "cpu.weight", v, errbuf, errsize);
        } else {
            snprintf(v, sizeof(v), "%llu", (unsigned long long)l->cpu_shares);
            r = set_one(cpu, "cpu.shares", v, errbuf, errsize);
        }
        if (r < 0)
            return r;
    }
    if (l->cpu_quota || l->cpu_period) {
        if (v2) {
            char q[32];
            if (l->cpu_quota > 0)
                snprintf(q, sizeof(q), "%lld", (long long)l->cpu_quota);
            else
                snprintf(q, sizeof(q), "max");
            snprintf(v, sizeof(v), "%s %llu", q,
                     (unsigned long long)(l->cpu_period ? l->cpu_period : DEFAULT_CPU_PERIOD));
            if ((r = set_one(cpu, "cpu.max", v, errbuf, errsize)) < 0)
                return r;
        } else {
            if (l->cpu_period) {
                snprintf(v, sizeof(v), "%llu", (unsigned long long)l->cpu_period);
                if ((r = set_one(cpu, "cpu.cfs_period_us", v, errbuf, errsize)) < 0)
                    return r;
            }
            if (l->cpu_quota) {
                fmt_limit(v, sizeof(v), l->cpu_quota, false);
                if ((r = set_one(cpu, "cpu.cfs_quota_us", v, errbuf, errsize)) < 0)
                    return r;
            }
        }
    }
    return 0;
}

int cgroup_join(const struct cgroup *cg)
{
    for (size_t i = 0; i < cg->ndirs; i++) {
        int fd = open(cg->procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        ssize_t n = write(fd, "0", 1);
        int e = errno;
        close(fd);
        if (n != 1)
            return -e;
    }
    return 0;
}

int cgroup_add_pid(const struct cgroup *cg, pid_t pid)
{
    char v[32];
    snprintf(v, sizeof(v), "%d", (int)pid);
    for (size_t i = 0; i < cg->ndirs; i++) {
        int r = write_at(cg->dirs[i], "cgroup.procs", v);
        if (r < 0)
            return r;
    }
    return 0;
}

int cgroup_stats(const struct cgroup *cg, struct cgroup_stats *out)
{
    memset(out, 0, sizeof(*out));
    const char *mem = dir_for(cg, "memory");
    const char *pids = dir_for(cg, "pids");
    const char *cpu = dir_for(cg, "cpu");
    const char *acct = dir_for(cg, "cpuacct");
    if (!mem || access(mem, F_OK) < 0)
        return -ENOENT;
    out->pids_current = read_u64(pids, "pids.current");
    out->pids_limit = read_u64(pids, "pids.max");
    if (cg->version == 2) {
        out->memory_usage = read_u64(mem, "memory.current");
        out->memory_max_usage = read_u64(mem, "memory.peak");
        out->memory_limit = read_u64(mem, "memory.max");
        out->memory_failcnt = read_key(mem, "memory.events", "max");
        out->oom_kills = read_key(mem, "memory.events", "oom_kill");
        out->cpu_total_ns = read_key(cpu, "cpu.stat", "usage_usec") * 1000;
        out->cpu_user_ns = read_key(cpu, "cpu.stat", "user_usec") * 1000;
        out->cpu_system_ns = read_key(cpu, "cpu.stat", "system_usec") * 1000;
        out->cpu_periods = read_key(cpu, "cpu.stat", "nr_periods");
        out->cpu_throttled_periods = read_key(cpu, "cpu.stat", "nr_throttled");
        out->cpu_throttled_ns = read_key(cpu, "cpu.stat", "throttled_usec") * 1000;
        return 0;
    }
    out->memory_usage = read_u64(mem, "memory.usage_in_bytes");
    out->memory_max_usage = read_u64(mem, "memory.max_usage_in_bytes");
    out->memory_limit = read_u64(mem, "memory.limit_in_bytes");
    out->memory_failcnt = read_u64(mem, "memory.failcnt");
    out->oom_kills = read_key(mem, "memory.oom_control", "oom_kill");
    if (acct) {
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t ns_per_tick = hz > 0 ? 1000000000ULL / (uint64_t)hz : 10000000ULL;
        out->cpu_total_ns = read_u64(acct, "cpuacct.usage");
        out->cpu_user_ns = read_key(acct, "cpuacct.stat", "user") * ns_per_tick;
        out->cpu_system_ns = read_key(acct, "cpuacct.stat", "system") * ns_per_tick;
    }
    out->cpu_periods = read_key(cpu, "cpu.stat", "nr_periods");
    out->cpu_throttled_periods = read_key(cpu, "cpu.stat", "nr_throttled");
    out->cpu_throttled_ns = read_key(cpu, "cpu.stat", "throttled_time");
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cgroup_frozen(const struct cgroup *cg)
{
    const char *dir = dir_for(cg, "freezer");
    char b[256];
    if (!dir)
        return -ENOTSUP;
    if (cg->version == 2) {
        if (read_at(dir, "cgroup.freeze", b, sizeof(b)) < 0)
            return -ENOENT;
        return b[0] == '1';
    }
    if (read_at(dir, "freezer.state", b, sizeof(b)) < 0)
        return -ENOENT;
    return strncmp(b, "THAWED", 6) != 0;
}

/* Whether the kernel reports the whole cgroup frozen (not still freezing). */
static bool fully_frozen(const struct cgroup *cg, const char *dir)
{
    char b[256];
    if (cg->version == 2)
        return read_key(dir, "cgroup.events", "frozen") == 1;
    return read_at(dir, "freezer.state", b, sizeof(b)) > 0 && strncmp(b, "FROZEN", 6) == 0;
}

int cgroup_freeze(const struct cgroup *cg, bool freeze, char *errbuf, size_t errsize)
{
    const char *dir = dir_for(cg, "freezer");
    if (!dir) {
        errf(errbuf, errsize, "cgroups: the container's cgroup has no freezer (%s)",
             cg->version == 2 ? "cgroup v2" : "no v1 freezer hierarchy mounted");
        return -ENOTSUP;
    }
    bool v2 = cg->version == 2;
    const char *file = v2 ? "cgroup.freeze" : "freezer.state";
    const char *val = freeze ? (v2 ? "1" : "FROZEN") : (v2 ? "0" : "THAWED");
    int r = write_at(dir, file, val);
    if (r < 0) {
        errf(errbuf, errsize, "cgroups: cannot write `%s` to %s/%s: %s", val, dir, file,
             strerror(-r));
        return r;
    }
    if (!freeze)
        return 0;
    /* v1 can stay FREEZING while a task is in an uninterruptible sleep;
     * writing FROZEN again retries it, as runc does. */
    for (int i = 0; i < 500; i++) {
        if (fully_frozen(cg, dir))
            return 0;
        if (!v2 && i % 10 == 9)
            write_at(dir, file, val);
        sleep_ms(10);
    }
    write_at(dir, file, v2 ? "0" : "THAWED");
    errf(errbuf, errsize, "cgroups: %s did not freeze within 5 s (thawed again)", dir);
    return -EBUSY;
}

static int kill_all_in(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
    FILE *f = fopen(p, "re");
    if (!f)
        return -errno;
    int n = 0, pid;
    while (fscanf(f, "%d", &pid) == 1)
        if (pid > 0 && kill(pid, SIGKILL) == 0)
            n++;
    fclose(f);
    return n;
}

/* Removes DIR (killing what is in it), then its parent if that is an empty
 * `moat` directory. 0 or -errno. */
static int remove_dir(const char *dir, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            break;
        int e = errno;
        if (e != EBUSY || waited >= timeout_ms)
            return -e;
        kill_all_in(dir);
        sleep_ms(10);
    }
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        const char *base = strrchr(parent, '/');
        if (base && strcmp(base + 1, "moat") == 0)
            rmdir(parent); /* fails while another sandbox uses it */
    }
    return 0;
}

int cgroup_destroy(const struct cgroup *cg, int timeout_ms)
{
    int ret = 0;
    /* SIGKILL to a frozen task takes effect only once it is thawed. */
    if (cgroup_frozen(cg) == 1) {
        for (size_t i = 0; i < cg->ndirs; i++)
            if (cg->dirs[i])
                kill_all_in(cg->dirs[i]);
        cgroup_freeze(cg, false, NULL, 0);
    }
    for (size_t i = 0; i < cg->ndirs; i++) {
        if (!cg->dirs[i])
            continue;
        kill_all_in(cg->dirs[i]);
        int r = remove_dir(cg->dirs[i], timeout_ms);
        if (r < 0 && ret == 0)
            ret = r;
    }
    return ret;
}

void cgroup_free(struct cgroup *cg)
{
    if (!cg)
        return;
    for (size_t i = 0; i < CGROUP_MAX_DIRS; i++) {
        free(cg->dirs[i]);
        free(cg->ctls[i]);
        free(cg->procs[i]);
    }
    free(cg);
}

int cgroup_save(const struct cgroup *cg, int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -ENOMEM;
    }
    fprintf(f, "v%d\n", cg->version);
    for (size_t i = 0; i < cg->ndirs; i++)
        fprintf(f, "%s %s\n", cg->ctls[i][0] ? cg->ctls[i] : "-", cg->dirs[i]);
    return fclose(f) == 0 ? 0 : -EIO;
}

int cgroup_load(int dirfd, const char *name, struct cgroup **out)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return -ENOMEM;
    }
    struct cgroup *cg = calloc(1, sizeof(*cg));
    char line[PATH_MAX + 80];
    int r = 0;
    if (!cg || !fgets(line, sizeof(line), f) || line[0] != 'v') {
        r = cg ? -EINVAL : -ENOMEM;
        goto out;
    }
    cg->version = atoi(line + 1);
    while (cg->ndirs < CGROUP_MAX_DIRS && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp || sp[1] != '/')
            continue;
        *sp = '\0';
        size_t i = cg->ndirs++;
        cg->ctls[i] = strdup(strcmp(line, "-") == 0 ? "" : line);
        cg->dirs[i] = strdup(sp + 1);
        char procs[PATH_MAX + 16];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", sp + 1);
        cg->procs[i] = strdup(procs);
        if (!cg->ctls[i] || !cg->dirs[i] || !cg->procs[i]) {
            r = -ENOMEM;
            goto out;
        }
    }
    if (cg->ndirs == 0 || (cg->version != 1 && cg->version != 2))
        r = -EINVAL;
out:
    fclose(f);
    if (r < 0) {
        cgroup_free(cg);
        return r;
    }
    *out = cg;
    return 0;
}

/* Field 22 of /proc/PID/stat; 0 if the process is gone. */
static unsigned long long start_time(pid_t pid)
{
    char p[64], b[1024];
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, b, sizeof(b) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    b[n] = '\0';
    char *s = strrchr(b, ')');
    if (!s)
        return 0;
    unsigned long long v = 0;
    char state;
    /* state is field 3; start time field 22. */
    if (sscanf(s + 2,
               "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
               &state, &v) != 2 ||
        state == 'Z')
        return 0;
    return v;
}

void cgroup_do_name(char *buf, size_t size)
{
    snprintf(buf, size, "do-%d-%llu", (int)getpid(), start_time(getpid()));
}

void cgroup_sweep_stale(void)
{
    struct hier h[CGROUP_MAX_DIRS];
    size_t n = 0;
    int version = discover(h, &n, NULL, 0);
    if (version < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        char parent[PATH_MAX * 2];
        if (version == 2 || strcmp(h[i].own, "/") == 0)
            snprintf(parent, sizeof(parent), "%.4000s/moat", h[i].mnt);
        else
            snprintf(parent, sizeof(parent), "%.4000s%.4000s/moat", h[i].mnt, h[i].own);
        DIR *d = opendir(parent);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            int pid;
            unsigned long long st;
            char tail;
            if (sscanf(e->d_name, "do-%d-%llu%c", &pid, &st, &tail) != 2)
                continue;
            if (pid > 0 && start_time(pid) == st)
                continue; /* its CLI still runs */
            char dir[PATH_MAX * 3];
            snprintf(dir, sizeof(dir), "%s/%s", parent, e->d_name);
            kill_all_in(dir);
            remove_dir(dir, 1000);
        }
        closedir(d);
    }
}
