/* moat update: change a container's resource limits (runc update). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/util.h"
#include "oci/config.h"
#include "oci/err.h"
#include "oci/json.h"
#include "oci/state.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"

static const char g_update_usage[] =
        "Usage: moat update [OPTIONS] ID\n"
        "\n"
        "Changes the resource limits of container ID, as runc update does:\n"
        "  -r, --resources FILE   a runtime-spec linux.resources object (`-`: stdin);\n"
        "                         the options below override its fields\n"
        "  --memory BYTES         memory limit of the apps (suffixes k, m, g, t; -1: none);\n"
        "                         the host cgroup gets moat's kernel headroom on top\n"
        "  --memory-swap BYTES    memory + swap (needs --memory; -1: unlimited swap)\n"
        "  --pids-limit N         live tasks (threads count); -1 or 0: no limit\n"
        "  --cpu-shares N         relative CPU weight (also --cpu-share)\n"
        "  --cpu-quota US         CPU time per period, microseconds (-1: none)\n"
        "  --cpu-period US        the period, microseconds\n"
        "The host cgroup of the whole sandbox changes; the pids limit also in\n"
        "moat's kernel (clone fails with EAGAIN past it), so --pids-limit needs a\n"
        "running container (not created or paused). --memory also changes the\n"
        "apps' limit in moat's kernel (MemTotal, the point where an app is killed)\n"
        "of a running container created with one (else a warning says it does not).\n"
        "cpuset, realtime, blkio, kernel-memory, memory-reservation, l3-cache and\n"
        "mem-bw options are refused (not supported).\n";

#define RESOURCES_MAX (1 << 20)

/* A byte count as runc reads it: N[kmgt][b] (case-insensitive), -1. */
static int parse_bytes(const char *s, int64_t *out)
{
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (e == s || errno)
        return -1;
    if (v == -1 && !*e) {
        *out = -1;
        return 0;
    }
    if (v < 0)
        return -1;
    int shift = 0;
    switch (tolower((unsigned char)*e)) {
    case 'k': shift = 10; e++; break;
    case 'm': shift = 20; e++; break;
    case 'g': shift = 30; e++; break;
    case 't': shift = 40; e++; break;
    default: break;
    }
    if (tolower((unsigned char)*e) == 'b')
        e++;
    if (*e || (shift && v > (INT64_MAX >> shift)))
        return -1;
    *out = (int64_t)v << shift;
    return 0;
}

static int parse_int(const char *s, int64_t *out)
{
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (e == s || *e || errno)
        return -1;
    *out = v;
    return 0;
}

static int read_resources(const char *path, struct oci_resources *res, struct rt_err **err)
{
    int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rt_err_make(err, errno, "update: cannot open `%s`", path);
    char *buf = malloc(RESOURCES_MAX + 1);
    size_t len = 0;
    ssize_t n = 0;
    while (buf && len < RESOURCES_MAX && (n = read(fd, buf + len, RESOURCES_MAX - len)) > 0)
        len += (size_t)n;
    int e = n < 0 ? errno : 0;
    close(fd);
    if (!buf)
        return rt_err_make(err, ENOMEM, "update");
    if (e) {
        free(buf);
        return rt_err_make(err, e, "update: reading `%s`", path);
    }
    buf[len] = '\0';
    struct json *doc = NULL;
    char perr[256];
    int r = json_parse(buf, len, &doc, perr, sizeof(perr));
    free(buf);
    if (r < 0)
        return rt_err_make(err, 0, "update: `%s`: invalid JSON: %s", path, perr);
    char field[64];
    snprintf(field, sizeof(field), "resources");
    r = oci_resources_parse(doc, field, res, err);
    json_free(doc);
    return r;
}

/* The host pid of the sandbox's kernel process: PID itself or the child
 * of PID, its keeper (sandbox.c). -1 if neither. */
static pid_t kernel_pid(pid_t pid)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (!fgets(comm, sizeof(comm), f))
            comm[0] = '\0';
        fclose(f);
    }
    if (strncmp(comm, "moat-kernel", 11) == 0)
        return pid;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    f = fopen(path, "re");
    int child = -1;
    if (f) {
        if (fscanf(f, "%d", &child) != 1)
            child = -1;
        fclose(f);
    }
    return child;
}

/* Resizes the tmpfs holding the kernel's memory file (fd MNT of process
 * KPID, a detached mount) to BYTES: the host's bound on the apps' pages. */
static int resize_memory_mount(pid_t kpid, int mnt, uint64_t bytes)
{
    char path[64], size[32];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)kpid, mnt);
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int fc = fspick(fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC | FSPICK_NO_AUTOMOUNT);
    int e = errno;
    close(fd);
    if (fc < 0)
        return -e;
    snprintf(size, sizeof(size), "%llu", (unsigned long long)bytes);
    int r = 0;
    if (fsconfig(fc, FSCONFIG_SET_STRING, "size", size, 0) < 0 ||
        fsconfig(fc, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
        r = -errno;
    close(fc);
    return r;
}

static uint64_t stat_value(const char *stats, const char *name, bool *found)
{
    size_t n = strlen(name);
    for (const char *l = stats; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, name, n) == 0 && l[n] == ' ') {
            *found = true;
            return strtoull(l + n + 1, NULL, 10);
        }
    *found = false;
    return 0;
}

/* The apps' memory limit in the running kernel of the container in DIR
 * (keeper PID): its memory file's tmpfs and its own accounting (MemTotal,
 * the ENOMEM/SIGKILL point), raised host side first, lowered kernel side
 * first. 1 when the sandbox has no limit of its own to change (created
 * without one), 0 when changed, <0 with *err set. */
static int kernel_memory_update(const char *dir, pid_t pid, uint64_t limit, struct rt_err **err)
{
    char *stats = NULL;
    int r = cli_ctl_request(dir, "T", 1, &stats, err);
    if (r < 0)
        return r;
    bool f1, f2, f3;
    uint64_t cur = stat_value(stats, "memory_limit", &f1);
    long long mnt = (long long)stat_value(stats, "memory_mount_fd", &f2);
    uint64_t used = stat_value(stats, "memory_used", &f3);
    free(stats);
    if (!f1 || !f2 || cur == 0)
        return 1;
    /* As the host refuses a cgroup limit below what it cannot reclaim. */
    if (f3 && limit < used)
        return rt_err_make(err, 0, "update: --memory %llu: the apps hold more than that "
                           "(%llu bytes; limit left at %llu)", (unsigned long long)limit,
                           (unsigned long long)used, (unsigned long long)cur);
    pid_t kpid = kernel_pid(pid);
    if (kpid <= 0)
        return rt_err_make(err, ESRCH, "update: the sandbox's kernel process");
    limit = (limit + 4095) & ~4095ULL;
    char req[32];
    int n = snprintf(req, sizeof(req), "M%llu", (unsigned long long)limit);
    char *rep = NULL;
    if (limit > cur) {
        if ((r = resize_memory_mount(kpid, (int)mnt, limit)) < 0)
            return rt_err_make(err, -r, "update: --memory: resizing the sandbox's memory file");
        if (cli_ctl_request(dir, req, (size_t)n, &rep, err) < 0) {
            resize_memory_mount(kpid, (int)mnt, cur);
            return -1;
        }
        free(rep);
        return 0;
    }
    if (cli_ctl_request(dir, req, (size_t)n, &rep, err) < 0)
        return -1;
    free(rep);
    if ((r = resize_memory_mount(kpid, (int)mnt, limit)) < 0) {
        /* tmpfs refuses a size below what it holds: the apps use more. */
        n = snprintf(req, sizeof(req), "M%llu", (unsigned long long)cur);
        struct rt_err *ignored = NULL;
        if (cli_ctl_request(dir, req, (size_t)n, &rep, &ignored) == 0)
            free(rep);
        rt_err_free(&ignored);
        return rt_err_make(err, r == -EINVAL ? 0 : -r,
                           "update: --memory %llu: the apps hold more than that (limit left at "
                           "%llu)", (unsigned long long)limit, (unsigned long long)cur);
    }
    return 0;
}

int cmd_update(int argc, char **argv)
{
    const char *resources = NULL, *memory = NULL, *swap = NULL, *pids = NULL,
               *shares = NULL, *share = NULL, *quota = NULL, *period = NULL;
    const char *unsupported[10] = {NULL};
    static const char *const unsupported_names[10] = {
            "blkio-weight", "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus",
            "cpuset-mems", "kernel-memory", "kernel-memory-tcp", "memory-reservation",
            "l3-cache-schema", "mem-bw-schema"};
    struct cli_opt opts[] = {
            {"resources", 'r', &resources, NULL},
            {"memory", 0, &memory, NULL},
            {"memory-swap", 0, &swap, NULL},
            {"pids-limit", 0, &pids, NULL},
            {"cpu-shares", 0, &shares, NULL},
            {"cpu-share", 0, &share, NULL},
            {"cpu-quota", 0, &quota, NULL},
            {"cpu-period", 0, &period, NULL},
            {unsupported_names[0], 0, &unsupported[0], NULL},
            {unsupported_names[1], 0, &unsupported[1], NULL},
            {unsupported_names[2], 0, &unsupported[2], NULL},
            {unsupported_names[3], 0, &unsupported[3], NULL},
            {unsupported_names[4], 0, &unsupported[4], NULL},
            {unsupported_names[5], 0, &unsupported[5], NULL},
            {unsupported_names[6], 0, &unsupported[6], NULL},
            {unsupported_names[7], 0, &unsupported[7], NULL},
            {unsupported_names[8], 0, &unsupported[8], NULL},
            {unsupported_names[9], 0, &unsupported[9], NULL},
            {NULL, 0, NULL, NULL},
    };
    int i;
    int r = cli_parse_opts("update", argc, argv, opts, g_update_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    const char *id = cli_one_id("update", argc, argv, i);
    if (!id)
        return 1;
    for (size_t k = 0; k < ARRAY_SIZE(unsupported); k++)
        if (unsupported[k]) {
            rt_err_make(&err, 0, "update: --%s is not supported by moat", unsupported_names[k]);
            return rt_err_report(&err);
        }
    struct oci_resources res = {0};
    if (resources && read_resources(resources, &res, &err) < 0)
        return rt_err_report(&err);
    int64_t v;
    if (share && !shares)
        shares = share;
    if (memory && (parse_bytes(memory, &v) < 0 || (v >= 0 && v < (1 << 20)))) {
        rt_err_make(&err, 0, "update: --memory `%s`: not a byte count of at least 1 MiB (or -1)",
                    memory);
        return rt_err_report(&err);
    }
    if (memory)
        res.memory_limit = v;
    if (swap && parse_bytes(swap, &v) < 0) {
        rt_err_make(&err, 0, "update: --memory-swap `%s`: not a byte count (or -1)", swap);
        return rt_err_report(&err);
    }
    if (swap)
        res.memory_swap = v;
    if (pids && parse_int(pids, &v) < 0) {
        rt_err_make(&err, 0, "update: --pids-limit `%s`: not a number", pids);
        return rt_err_report(&err);
    }
    if (pids)
        res.pids_limit = v <= 0 ? -1 : v;
    if (shares && (parse_int(shares, &v) < 0 || v < 0)) {
        rt_err_make(&err, 0, "update: --cpu-shares `%s`: not a positive number", shares);
        return rt_err_report(&err);
    }
    if (shares)
        res.cpu_shares = (uint64_t)v;
    if (quota && (parse_int(quota, &v) < 0 || v < -1 || v == 0)) {
        rt_err_make(&err, 0, "update: --cpu-quota `%s`: not a positive number (or -1)", quota);
        return rt_err_report(&err);
    }
    if (quota)
        res.cpu_quota = v;
    if (period && (parse_int(period, &v) < 0 || v <= 0)) {
        rt_err_make(&err, 0, "update: --cpu-period `%s`: not a positive number", period);
        return rt_err_report(&err);
    }
    if (period)
        res.cpu_period = (uint64_t)v;
    if (res.memory_swap && res.memory_limit <= 0) {
        rt_err_make(&err, 0,
                    "update: a swap limit needs a memory limit with it (--memory): moat adds "
                    "its kernel's headroom to both");
        return rt_err_report(&err);
    }
    if (res.memory_swap > 0 && res.memory_swap < res.memory_limit) {
        rt_err_make(&err, 0, "update: --memory-swap must be at least --memory (it is memory + swap)");
        return rt_err_report(&err);
    }

    struct oci_container ct = {.dirfd = -1};
    if (oci_container_open(cli_state_root(), id, true, &ct, &err) < 0)
        return rt_err_report(&err);
    struct oci_state s;
    if (oci_state_read(&ct, &s, &err) < 0) {
        oci_container_close(&ct);
        return rt_err_report(&err);
    }
    enum oci_status st = oci_state_status(&ct, &s);
    pid_t cpid = s.pid;
    oci_state_free(&s);
    struct cgroup *cg = NULL;
    if (st == OCI_STOPPED) {
        rt_err_make(&err, 0, "container `%s` is not running", id);
    } else if (res.pids_limit && st != OCI_RUNNING) {
        /* The kernel's own task limit goes through its control channel,
         * served once the container runs and not while it is frozen. */
        rt_err_make(&err, 0, "update: container `%s` is %s: its kernel takes a new pids limit "
                             "only while it runs (%s)", id, oci_status_name(st),
                    st == OCI_PAUSED ? "resume it first" : "start it first");
    } else if ((r = cgroup_load(ct.dirfd, OCI_CGROUP_FILE, &cg)) < 0) {
        rt_err_make(&err, r == -ENOENT ? 0 : -r, "update: container `%s` has no host cgroup", id);
    }
    if (err) {
        oci_container_close(&ct);
        return rt_err_report(&err);
    }
    /* The same mapping as create: the host cgroup bounds the apps plus
     * the kernel process and the stubs. */
    struct cgroup_limits l;
    sandbox_host_limits(res.memory_limit > 0 ? (uint64_t)res.memory_limit : 0,
                        res.pids_limit > 0 ? (int)MIN(res.pids_limit, 4194304) : 0, &l);
    if (res.memory_limit < 0)
        l.memory = -1;
    if (res.memory_swap < 0)
        l.memory_swap = -1;
    else if (res.memory_swap > 0 && res.memory_limit > 0)
        l.memory_swap = l.memory + (res.memory_swap - res.memory_limit);
    if (res.pids_limit < 0)
        l.pids = -1;
    l.cpu_shares = res.cpu_shares;
    l.cpu_quota = res.cpu_quota;
    l.cpu_period = res.cpu_period;
    /* The kernel's own limit first: it refuses one below what the apps
     * hold, and the host cgroup then stays as it was. */
    if (res.memory_limit > 0 && st == OCI_RUNNING) {
        r = kernel_memory_update(ct.dir, cpid, (uint64_t)res.memory_limit, &err);
        if (r == 1)
            rt_warn("update: the container was created without a memory limit: moat's kernel "
                    "takes none later, only the host cgroup's changed");
        if (r < 0) {
            cgroup_free(cg);
            oci_container_close(&ct);
            return rt_err_report(&err);
        }
    }
    char msg[512];
    if ((r = cgroup_set(cg, &l, msg, sizeof(msg))) < 0)
        rt_err_make(&err, -r, "update: %s", msg);
    cgroup_free(cg);
    if (!err && res.pids_limit) {
        char req[32], *rep = NULL;
        int n = snprintf(req, sizeof(req), "L%d",
                         res.pids_limit > 0 ? (int)MIN(res.pids_limit, 4194304) : 0);
        if (cli_ctl_request(ct.dir, req, (size_t)n, &rep, &err) == 0)
            free(rep);
    }
    if (!err && res.memory_limit && !(res.memory_limit > 0 && st == OCI_RUNNING)) {
        rt_warn("update: the apps' memory limit in moat's kernel changes only while the "
                "container runs with one (set at create); only the host cgroup's changed");
    }
    oci_container_close(&ct);
    return err ? rt_err_report(&err) : 0;
}
