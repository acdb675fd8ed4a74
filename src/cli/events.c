/* moat events: a container's statistics as JSON lines, as runc prints them. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/json.h"
#include "oci/state.h"
#include "sandbox/cgroup.h"

static const char g_events_usage[] =
        "Usage: moat events [--stats] [--interval DURATION] ID\n"
        "\n"
        "Prints container ID's statistics as JSON lines ({\"type\":\"stats\",...}:\n"
        "cpu and memory of the sandbox's host cgroup, kernel included, or without\n"
        "one the apps' own use as moat's kernel counts it; pids: the app's tasks)\n"
        "every DURATION (default\n"
        "5s; Go syntax such as 500ms, 2s, 1m) until the container stops.\n"
        "--stats: once, then exit.\n";

/* A Go duration ("1m30s", "500ms", "2s"), in ns; 0 if malformed. */
static uint64_t parse_duration(const char *s)
{
    uint64_t total = 0;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s)
            return 0;
        uint64_t unit;
        if (strncmp(end, "ns", 2) == 0)
            unit = 1, end += 2;
        else if (strncmp(end, "us", 2) == 0)
            unit = 1000, end += 2;
        else if (strncmp(end, "ms", 2) == 0)
            unit = 1000000, end += 2;
        else if (*end == 's')
            unit = 1000000000ULL, end++;
        else if (*end == 'm')
            unit = 60000000000ULL, end++;
        else if (*end == 'h')
            unit = 3600000000000ULL, end++;
        else
            return 0;
        total += (uint64_t)(v * (double)unit);
        s = end;
    }
    return total;
}

static uint64_t field(const char *rep, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = rep; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
    return 0;
}

/* The container's host cgroup statistics; false if it has none. */
static bool cgroup_stats_of(const char *dir, struct cgroup_stats *out)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct cgroup *cg;
    int r = cgroup_load(fd, OCI_CGROUP_FILE, &cg);
    close(fd);
    if (r < 0)
        return false;
    r = cgroup_stats(cg, out);
    cgroup_free(cg);
    return r == 0;
}

/* One stats line; false when the container is gone. Memory, pids and CPU
 * come from the sandbox's host cgroup when it has one (kernel process
 * included), else from moat's kernel (the apps' own use). */
static bool print_stats(const char *id, const char *dir, struct rt_err **err)
{
    char *rep = NULL;
    if (cli_ctl_request(dir, "T", 1, &rep, err) < 0)
        return false;
    uint64_t user = field(rep, "cpu_user_ns"), sys = field(rep, "cpu_system_ns");
    uint64_t total = user + sys;
    uint64_t mem_usage = field(rep, "memory_used"), mem_limit = field(rep, "memory_limit");
    uint64_t mem_max = 0, failcnt = 0, pids = field(rep, "pids"), host_tasks = 0;
    uint64_t periods = 0, throttled = 0, throttled_ns = 0, oom = 0;
    struct cgroup_stats cs;
    bool cg = cgroup_stats_of(dir, &cs);
    if (cg) {
        total = cs.cpu_total_ns;
        user = cs.cpu_user_ns;
        sys = cs.cpu_system_ns;
        mem_usage = cs.memory_usage;
        mem_max = cs.memory_max_usage;
        mem_limit = cs.memory_limit;
        failcnt = cs.memory_failcnt;
        /* pids stay the kernel's count of app tasks: the cgroup's also
         * counts the kernel's threads and stubs (raw.host_tasks). */
        host_tasks = cs.pids_current;
        periods = cs.cpu_periods;
        throttled = cs.cpu_throttled_periods;
        throttled_ns = cs.cpu_throttled_ns;
        oom = cs.oom_kills;
    }
    printf("{\"type\":\"stats\",\"id\":");
    json_write_string(stdout, id);
    printf(",\"data\":{\"cpu\":{\"usage\":{\"total\":%llu,\"kernel\":%llu,\"user\":%llu},"
           "\"throttling\":{\"periods\":%llu,\"throttledPeriods\":%llu,\"throttledTime\":%llu}},"
           "\"memory\":{\"usage\":{\"limit\":%llu,\"usage\":%llu,\"max\":%llu,\"failcnt\":%llu},"
           "\"raw\":{\"resident\":%llu,\"app_used\":%llu,\"app_limit\":%llu,\"oom_kill\":%llu,\"host_tasks\":%llu}},"
           "\"pids\":{\"current\":%llu},\"blkio\":{},\"hugetlb\":{}}}\n",
           (unsigned long long)total, (unsigned long long)sys, (unsigned long long)user,
           (unsigned long long)periods, (unsigned long long)throttled,
           (unsigned long long)throttled_ns, (unsigned long long)mem_limit,
           (unsigned long long)mem_usage, (unsigned long long)mem_max,
           (unsigned long long)failcnt, (unsigned long long)field(rep, "memory_resident"),
           (unsigned long long)field(rep, "memory_used"),
           (unsigned long long)field(rep, "memory_limit"), (unsigned long long)oom,
           (unsigned long long)host_tasks, (unsigned long long)pids);
    fflush(stdout);
    free(rep);
    return true;
}

int cmd_events(int argc, char **argv)
{
    bool stats = false;
    const char *interval = "5s";
    const struct cli_opt opts[] = {{"stats", 0, NULL, &stats},
                                   {"interval", 0, &interval, NULL},
                                   {NULL, 0, NULL, NULL}};
    int i;
    int r = cli_parse_opts("events", argc, argv, opts, g_events_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    const char *id = cli_one_id("events", argc, argv, i);
    if (!id)
        return 1;
    uint64_t every = parse_duration(interval);
    if (every == 0) {
        rt_err_make(&err, 0, "events: --interval `%s` is not a duration", interval);
        return rt_err_report(&err);
    }
    struct oci_container ct = {.dirfd = -1};
    if (oci_container_open(cli_state_root(), id, false, &ct, &err) < 0)
        return rt_err_report(&err);
    struct oci_state s;
    if (oci_state_read(&ct, &s, &err) < 0) {
        oci_container_close(&ct);
        return rt_err_report(&err);
    }
    enum oci_status st = oci_state_status(&ct, &s);
    oci_state_free(&s);
    char *dir = strdup(ct.dir);
    oci_container_close(&ct);
    if (!dir) {
        rt_err_make(&err, ENOMEM, "events");
        return rt_err_report(&err);
    }
    if (st != OCI_RUNNING) {
        free(dir);
        rt_err_make(&err, 0, "container `%s` is not running", id);
        return rt_err_report(&err);
    }
    if (stats) {
        bool ok = print_stats(id, dir, &err);
        free(dir);
        return ok ? 0 : rt_err_report(&err);
    }
    while (print_stats(id, dir, &err)) {
        struct timespec ts = {(time_t)(every / 1000000000ULL), (long)(every % 1000000000ULL)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    /* The container stopped: the stream ends, as runc's does. */
    rt_err_free(&err);
    free(dir);
    return 0;
}
