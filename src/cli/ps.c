/* moat ps: the host processes of a container. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/state.h"

static const char g_ps_usage[] =
        "Usage: moat ps [-f table|json] ID [PS OPTIONS]\n"
        "\n"
        "table (the default): the container's processes as its sandbox's kernel\n"
        "knows them (sandbox pids). json: an array of host pids, as runc prints\n"
        "(what `docker top` reads): the sandbox's kernel process and the stub\n"
        "processes that hold the app's address spaces. With PS OPTIONS, ps(1) on\n"
        "those host pids.\n";

static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    char state;
    int ppid;
    if (sscanf(p + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return ppid;
}

/* PID and its descendants, in /proc order. */
static size_t collect(pid_t root, pid_t *out, size_t max)
{
    size_t n = 0;
    out[n++] = root;
    for (size_t done = 0; done < n; done++) {
        DIR *d = opendir("/proc");
        if (!d)
            break;
        struct dirent *e;
        while ((e = readdir(d)) && n < max) {
            pid_t pid = (pid_t)atoi(e->d_name);
            if (pid > 0 && parent_of(pid) == out[done])
                out[n++] = pid;
        }
        closedir(d);
    }
    return n;
}

int cmd_ps(int argc, char **argv)
{
    const char *format = "table";
    const struct cli_opt opts[] = {{"format", 'f', &format, NULL}, {NULL, 0, NULL, NULL}};
    int i;
    int r = cli_parse_opts("ps", argc, argv, opts, g_ps_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    if (i >= argc) {
        rt_err_make(&err, 0, "ps: missing the container id; see moat ps --help");
        return rt_err_report(&err);
    }
    bool json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "table") != 0) {
        rt_err_make(&err, 0, "ps: --format: `%s` is not table or json", format);
        return rt_err_report(&err);
    }
    struct oci_container ct = {.dirfd = -1};
    if (oci_container_open(cli_state_root(), argv[i], false, &ct, &err) < 0)
        return rt_err_report(&err);
    struct oci_state s;
    if (oci_state_read(&ct, &s, &err) < 0) {
        oci_container_close(&ct);
        return rt_err_report(&err);
    }
    enum oci_status st = oci_state_status(&ct, &s);
    if (!json && st == OCI_RUNNING && argc == i + 1) {
        /* The sandbox's own processes, as its kernel knows them. */
        char *rep = NULL;
        r = cli_ctl_request(ct.dir, "S", 1, &rep, &err);
        oci_state_free(&s);
        oci_container_close(&ct);
        if (r < 0)
            return rt_err_report(&err);
        printf("%-7s %-7s %-4s %-6s %-3s %s\n", "PID", "PPID", "STAT", "UID", "NLWP", "CMD");
        for (char *line = strtok(rep, "\n"); line; line = strtok(NULL, "\n")) {
            int pid, ppid, nlwp;
            char state;
            unsigned uid;
            int off = 0;
            if (sscanf(line, "%d %d %c %u %d %n", &pid, &ppid, &state, &uid, &nlwp, &off) < 5)
                continue;
            char *comm = line + off, *tab = strchr(comm, '\t');
            const char *cmd = comm;
            if (tab) {
                *tab = '\0';
                if (tab[1])
                    cmd = tab + 1;
            }
            printf("%-7d %-7d %-4c %-6u %-3d %s\n", pid, ppid, state, uid, nlwp, cmd);
        }
        free(rep);
        return 0;
    }
    pid_t pids[4096];
    size_t n = st == OCI_STOPPED ? 0 : collect(s.pid, pids, 4096);
    oci_state_free(&s);
    oci_container_close(&ct);
    if (json) {
        fputs("[", stdout);
        for (size_t k = 0; k < n; k++)
            printf("%s%d", k ? "," : "", (int)pids[k]);
        fputs("]\n", stdout);
        return 0;
    }
    /* table: ps(1) on those pids, with the caller's extra ps options. */
    if (n == 0) {
        printf("UID          PID    PPID  C STIME TTY          TIME CMD\n");
        return 0;
    }
    size_t cap = n * 12 + 1;
    char *list = calloc(1, cap);
    for (size_t k = 0; list && k < n; k++)
        snprintf(list + strlen(list), cap - strlen(list), "%s%d", k ? "," : "", (int)pids[k]);
    char **args = calloc((size_t)argc + 6, sizeof(char *));
    if (!list || !args) {
        rt_err_make(&err, ENOMEM, "ps");
        return rt_err_report(&err);
    }
    size_t a = 0;
    args[a++] = (char *)"ps";
    for (int k = i + 1; k < argc; k++)
        args[a++] = argv[k];
    if (argc == i + 1)
        args[a++] = (char *)"-f";
    args[a++] = (char *)"-p";
    args[a++] = list;
    fflush(stdout);
    execvp("ps", args);
    rt_err_make(&err, errno, "ps: cannot run ps(1)");
    return rt_err_report(&err);
}
