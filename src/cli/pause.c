/* moat pause / resume: freeze and thaw a whole sandbox with the host cgroup
 * freezer (the keeper, the kernel process and every stub are in the
 * container's cgroup). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/state.h"
#include "sandbox/cgroup.h"

static const char g_pause_usage[] =
        "Usage: moat pause ID\n"
        "\n"
        "Freezes every process of container ID (its application kernel, its\n"
        "apps) with the host cgroup freezer; `moat state` then reports `paused`.\n"
        "Only a created or running container can be paused.\n";

static const char g_resume_usage[] =
        "Usage: moat resume ID\n"
        "\n"
        "Thaws container ID, paused by moat pause.\n";

int cli_freeze(struct oci_container *ct, bool freeze, struct rt_err **err)
{
    struct cgroup *cg;
    int r = cgroup_load(ct->dirfd, OCI_CGROUP_FILE, &cg);
    if (r == -ENOENT)
        return rt_err_make(err, 0, "container has no cgroup to %s", freeze ? "freeze" : "thaw");
    if (r < 0)
        return rt_err_make(err, -r, "reading %s/%s", ct->dir, OCI_CGROUP_FILE);
    char msg[512] = "";
    r = cgroup_freeze(cg, freeze, msg, sizeof(msg));
    cgroup_free(cg);
    return r < 0 ? rt_err_make(err, 0, "%s", msg) : 0;
}

static int pause_resume(int argc, char **argv, bool pause)
{
    const char *cmd = pause ? "pause" : "resume";
    int i;
    int r = cli_parse_opts(cmd, argc, argv, NULL, pause ? g_pause_usage : g_resume_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    const char *id = cli_one_id(cmd, argc, argv, i);
    if (!id)
        return 1;
    struct oci_container ct = {.dirfd = -1};
    if (oci_container_open(cli_state_root(), id, true, &ct, &err) < 0)
        return rt_err_report(&err);
    struct oci_state s;
    if (oci_state_read(&ct, &s, &err) < 0) {
        oci_container_close(&ct);
        return rt_err_report(&err);
    }
    enum oci_status st = oci_state_status(&ct, &s);
    /* runc's rules and messages: pause needs created or running, resume
     * paused. */
    if (pause && st != OCI_RUNNING && st != OCI_CREATED)
        rt_err_make(&err, 0, "container not running");
    else if (!pause && st != OCI_PAUSED)
        rt_err_make(&err, 0, "container not paused");
    else
        cli_freeze(&ct, pause, &err);
    oci_state_free(&s);
    oci_container_close(&ct);
    return err ? rt_err_report(&err) : 0;
}

int cmd_pause(int argc, char **argv)
{
    return pause_resume(argc, argv, true);
}

int cmd_resume(int argc, char **argv)
{
    return pause_resume(argc, argv, false);
}
