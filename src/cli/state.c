/* moat state: print a container's OCI state. */
#include <stdio.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/state.h"

static const char g_state_usage[] =
        "Usage: moat state ID\n"
        "\n"
        "Prints the OCI state of container ID as JSON: ociVersion, id, status\n"
        "(created, running or stopped), pid, bundle, rootfs, created, annotations.\n";

int cmd_state(int argc, char **argv)
{
    int i;
    int r = cli_parse_opts("state", argc, argv, NULL, g_state_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    const char *id = cli_one_id("state", argc, argv, i);
    if (!id)
        return 1;
    struct oci_container ct = {.dirfd = -1};
    if (oci_container_open(cli_state_root(), id, false, &ct, &err) < 0)
        return rt_err_report(&err);
    struct oci_state s;
    if (oci_state_read(&ct, &s, &err) < 0) {
        oci_container_close(&ct);
        return rt_err_report(&err);
    }
    oci_state_print(stdout, &s, oci_state_status(&ct, &s));
    oci_state_free(&s);
    oci_container_close(&ct);
    return 0;
}
