/* moat start: run the process of a created container. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/hooks.h"
#include "oci/state.h"
#include "sandbox/sandbox.h"

static const char g_start_usage[] =
        "Usage: moat start ID\n"
        "\n"
        "Runs the process of created container ID (see moat create).\n";

static bool kernel_alive(void *arg)
{
    const struct oci_state *s = arg;
    return oci_pid_alive(s->pid, s->start_time);
}

int cli_start_container(const char *id, struct rt_err **err)
{
    struct oci_container ct = {.dirfd = -1};
    int r = oci_container_open(cli_state_root(), id, true, &ct, err);
    if (r < 0)
        return r;
    struct oci_state s;
    r = oci_state_read(&ct, &s, err);
    if (r < 0)
        goto out_close;
    enum oci_status st = oci_state_status(&ct, &s);
    if (st != OCI_CREATED) {
        r = rt_err_make(err, 0, "cannot start container `%s`: it is %s, not created", id,
                        oci_status_name(st));
        goto out_state;
    }
    char fifo[PATH_MAX];
    snprintf(fifo, sizeof(fifo), "%s/exec.fifo", ct.dir);
    r = sandbox_start(fifo, kernel_alive, &s);
    unlink(fifo);
    if (r == -ESRCH)
        r = rt_err_make(err, 0, "cannot start container `%s`: its sandbox exited", id);
    else if (r < 0)
        r = rt_err_make(err, -r, "cannot start container `%s`: %s", id, fifo);
    if (r == 0) {
        /* runtime-spec: a failing poststart hook is a warning; the
         * container runs on. */
        struct oci_hooks h;
        struct rt_err *herr = NULL;
        if (oci_hooks_load(&ct, &h, &herr) < 0 ||
            oci_hooks_run(&h, OCI_HOOK_POSTSTART, &s, OCI_RUNNING, &herr) < 0) {
            rt_warn("%s", herr->msg);
            rt_err_free(&herr);
        }
        oci_hooks_free(&h);
    }
out_state:
    oci_state_free(&s);
out_close:
    oci_container_close(&ct);
    return r;
}

int cmd_start(int argc, char **argv)
{
    int i;
    int r = cli_parse_opts("start", argc, argv, NULL, g_start_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    const char *id = cli_one_id("start", argc, argv, i);
    if (!id)
        return 1;
    if (cli_start_container(id, &err) < 0)
        return rt_err_report(&err);
    return 0;
}
