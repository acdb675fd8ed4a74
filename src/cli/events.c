/* moat events: a container's statistics as JSON lines, as runc prints them. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/json.h"
#include "oci/state.h"

static const char g_events_usage[] =
        "Usage: moat events [--stats] [--interval DURATION] ID\n"
        "\n"
        "Prints container ID's statistics as JSON lines ({\"type\":\"stats\",...}:\n"
        "cpu, memory of the sandbox's memory file, pids) every DURATION (default\n"
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

/* One stats line; false when the container is gone. */
static bool print_stats(const char *id, const char *dir, struct rt_err **err)
{
    char *rep = NULL;
    if (cli_ctl_request(dir, "T", 1, &rep, err) < 0)
        return false;
    uint64_t user = field(rep, "cpu_user_ns"), sys = field(rep, "cpu_system_ns");
    printf("{\"type\":\"stats\",\"id\":");
    json_write_string(stdout, id);
    printf(",\"data\":{\"cpu\":{\"usage\":{\"total\":%llu,\"kernel\":%llu,\"user\":%llu},"
           "\"throttling\":{}},"
           "\"memory\":{\"usage\":{\"limit\":%llu,\"usage\":%llu},\"raw\":{\"resident\":%llu}},"
           "\"pids\":{\"current\":%llu},\"blkio\":{},\"hugetlb\":{}}}\n",
           (unsigned long long)(user + sys), (unsigned long long)sys, (unsigned long long)user,
           (unsigned long long)field(rep, "memory_limit"),
           (unsigned long long)field(rep, "memory_used"),
           (unsigned long long)field(rep, "memory_resident"),
           (unsigned long long)field(rep, "pids"));
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
    if (i + 1 != argc) {
        rt_err_make(&err, 0, "events: %s; see moat events --help",
                    i >= argc ? "missing the container id" : "too many arguments");
        return rt_err_report(&err);
    }
    const char *id = argv[i];
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
