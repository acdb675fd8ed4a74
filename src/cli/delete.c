/* moat delete: remove a container. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/hooks.h"
#include "oci/state.h"
#include "sandbox/cgroup.h"

static const char g_delete_usage[] =
        "Usage: moat delete [--force] ID\n"
        "\n"
        "Removes container ID's state. A created container is killed first; a\n"
        "running or paused one only with --force (SIGKILL to the whole sandbox).\n";

/* Kills the kernel process and waits (bounded) until it is gone. */
static int kill_and_wait(struct oci_container *ct, const struct oci_state *s, bool paused,
                         struct rt_err **err)
{
    if (kill(s->pid, SIGKILL) < 0 && errno != ESRCH)
        return rt_err_make(err, errno, "kill %d", (int)s->pid);
    /* A frozen process dies only once thawed. */
    if (paused && cli_freeze(ct, false, err) < 0)
        return -1;
    for (int i = 0; i < 1000; i++) {
        if (!oci_pid_alive(s->pid, s->start_time))
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return rt_err_make(err, ETIMEDOUT, "the sandbox (pid %d) did not die", (int)s->pid);
}

void cli_poststop(struct oci_container *ct, const struct oci_state *s)
{
    /* runtime-spec: a failing poststop hook is a warning; delete goes on. */
    struct oci_hooks h;
    struct rt_err *err = NULL;
    if (oci_hooks_load(ct, &h, &err) < 0 ||
        oci_hooks_run(&h, OCI_HOOK_POSTSTOP, s, OCI_STOPPED, &err) < 0) {
        rt_warn("%s", err->msg);
        rt_err_free(&err);
    }
    oci_hooks_free(&h);
}

int cli_remove_cgroup(struct oci_container *ct, struct rt_err **err)
{
    struct cgroup *cg;
    int r = cgroup_load(ct->dirfd, OCI_CGROUP_FILE, &cg);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return rt_err_make(err, -r, "reading %s/%s", ct->dir, OCI_CGROUP_FILE);
    r = cgroup_destroy(cg, 10000);
    if (r < 0)
        rt_err_make(err, -r, "removing the cgroup %s", cg->dirs[0]);
    cgroup_free(cg);
    return r;
}

int cmd_delete(int argc, char **argv)
{
    bool force = false;
    const struct cli_opt opts[] = {{"force", 'f', NULL, &force}, {NULL, 0, NULL, NULL}};
    int i;
    int r = cli_parse_opts("delete", argc, argv, opts, g_delete_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    const char *id = cli_one_id("delete", argc, argv, i);
    if (!id)
        return 1;
    struct oci_container ct = {.dirfd = -1};
    if (oci_container_open(cli_state_root(), id, true, &ct, &err) < 0) {
        /* runc: deleting a missing container with --force succeeds. */
        if (force && err && err->errnum == 0) {
            rt_err_free(&err);
            return 0;
        }
        return rt_err_report(&err);
    }
    struct oci_state s;
    if (oci_state_read(&ct, &s, &err) < 0) {
        /* A half-written state (a create that crashed): nothing runs. */
        rt_err_free(&err);
        cli_remove_cgroup(&ct, &err);
        if (!err)
            oci_container_remove(&ct, &err);
        oci_container_close(&ct);
        return err ? rt_err_report(&err) : 0;
    }
    enum oci_status st = oci_state_status(&ct, &s);
    if ((st == OCI_RUNNING || st == OCI_PAUSED) && !force)
        rt_err_make(&err, 0, "cannot delete container `%s` that is not stopped: %s", id,
                    oci_status_name(st));
    else if (st != OCI_STOPPED)
        kill_and_wait(&ct, &s, st == OCI_PAUSED, &err);
    if (!err)
        cli_remove_cgroup(&ct, &err);
    if (!err)
        cli_poststop(&ct, &s);
    if (!err)
        oci_container_remove(&ct, &err);
    oci_state_free(&s);
    oci_container_close(&ct);
    return err ? rt_err_report(&err) : 0;
}
