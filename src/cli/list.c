/* moat list: the containers under the state root. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/json.h"
#include "oci/state.h"

static const char g_list_usage[] =
        "Usage: moat list [-f table|json] [-q]\n"
        "\n"
        "Lists the containers under the state root (--root).\n";

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int cmd_list(int argc, char **argv)
{
    const char *format = "table";
    bool quiet = false;
    const struct cli_opt opts[] = {{"format", 'f', &format, NULL},
                                   {"quiet", 'q', NULL, &quiet},
                                   {NULL, 0, NULL, NULL}};
    int i;
    int r = cli_parse_opts("list", argc, argv, opts, g_list_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    bool json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "table") != 0) {
        rt_err_make(&err, 0, "list: --format: `%s` is not table or json", format);
        return rt_err_report(&err);
    }
    struct dirent **names = NULL;
    int n = scandir(cli_state_root(), &names, NULL, by_name);
    if (n < 0)
        n = 0; /* no root yet: no containers */
    if (json)
        fputs("[", stdout);
    else if (!quiet)
        printf("%-12s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
               "OWNER");
    bool first = true;
    for (int k = 0; k < n; k++) {
        const char *id = names[k]->d_name;
        struct oci_container ct = {.dirfd = -1};
        struct oci_state s;
        if (id[0] == '.' || oci_container_open(cli_state_root(), id, false, &ct, &err) < 0) {
            rt_err_free(&err);
            free(names[k]);
            continue;
        }
        if (oci_state_read(&ct, &s, &err) < 0) {
            rt_err_free(&err);
            oci_container_close(&ct);
            free(names[k]);
            continue;
        }
        enum oci_status st = oci_state_status(&ct, &s);
        int pid = st == OCI_STOPPED ? 0 : (int)s.pid;
        if (quiet && !json) {
            printf("%s\n", id);
        } else if (json) {
            printf("%s{\"ociVersion\":\"%s\",\"id\":", first ? "" : ",", OCI_VERSION);
            json_write_string(stdout, s.id);
            printf(",\"pid\":%d,\"status\":\"%s\",\"bundle\":", pid, oci_status_name(st));
            json_write_string(stdout, s.bundle);
            fputs(",\"rootfs\":", stdout);
            json_write_string(stdout, s.rootfs);
            fputs(",\"created\":", stdout);
            json_write_string(stdout, s.created);
            fputs(",\"owner\":", stdout);
            json_write_string(stdout, s.owner);
            if (s.annotations) {
                fputs(",\"annotations\":", stdout);
                json_write(stdout, s.annotations);
            }
            fputs("}", stdout);
        } else {
            printf("%-12s %-10d %-10s %-40s %-30s %s\n", id, pid, oci_status_name(st), s.bundle,
                   s.created, s.owner);
        }
        first = false;
        oci_state_free(&s);
        oci_container_close(&ct);
        free(names[k]);
    }
    free(names);
    if (json)
        fputs("]\n", stdout);
    return 0;
}
