/* moat run: create and start a container, and wait for it unless --detach. */
#include <signal.h>
#include <stdio.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/state.h"
#include "sandbox/sandbox.h"

static const char g_run_usage[] =
        "Usage: moat run [OPTIONS] ID\n"
        "\n"
        "Creates container ID from the bundle and starts it. Without --detach, waits\n"
        "for it, exits with its status (128+N for signal N) and deletes it.\n"
        "\n"
        "Options:\n"
        "  -b, --bundle DIR        the bundle (default: the current directory)\n"
        "  -d, --detach            return once the container runs\n"
        "  --pid-file FILE         write the container's pid to FILE\n"
        "  --console-socket SOCK   send the terminal's master fd there (terminal: true)\n"
        "  --no-pivot, --no-new-keyring, --preserve-fds N   accepted, no effect\n";

static void remove_container(const char *id)
{
    struct rt_err *err = NULL;
    struct oci_container ct = {.dirfd = -1};
    if (oci_container_open(cli_state_root(), id, true, &ct, &err) < 0) {
        rt_err_free(&err);
        return;
    }
    cli_remove_cgroup(&ct, &err);
    rt_err_free(&err);
    struct oci_state s;
    if (oci_state_read(&ct, &s, &err) == 0) {
        cli_poststop(&ct, &s);
        oci_state_free(&s);
    }
    rt_err_free(&err);
    oci_container_remove(&ct, &err);
    rt_err_free(&err);
    oci_container_close(&ct);
}

int cmd_run(int argc, char **argv)
{
    struct cli_create_opts o = {0};
    const char *preserve = NULL;
    bool detach = false, no_pivot = false, no_keyring = false, keep = false;
    const struct cli_opt opts[] = {
            {"bundle", 'b', &o.bundle, NULL},
            {"pid-file", 0, &o.pid_file, NULL},
            {"console-socket", 0, &o.console_socket, NULL},
            {"detach", 'd', NULL, &detach},
            {"keep", 0, NULL, &keep},
            {"preserve-fds", 0, &preserve, NULL},
            {"no-pivot", 0, NULL, &no_pivot},
            {"no-new-keyring", 0, NULL, &no_keyring},
            {NULL, 0, NULL, NULL},
    };
    int i;
    int r = cli_parse_opts("run", argc, argv, opts, g_run_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    const char *id = cli_one_id("run", argc, argv, i);
    if (!id)
        return 1;
    o.id = id;
    pid_t pid;
    if (cli_create_container(&o, &pid, &err) < 0)
        return rt_err_report(&err);
    if (cli_start_container(o.id, &err) < 0) {
        rt_err_report(&err);
        if (!detach) {
            kill(pid, SIGKILL);
            sandbox_wait(pid, true);
            remove_container(o.id);
        }
        return 1;
    }
    if (detach)
        return 0;
    int status = sandbox_wait(pid, true);
    if (!keep)
        remove_container(o.id);
    return status;
}
