/* moat: entry point, global options and command dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "oci/err.h"
#include "oci/state.h"
#include "platform/platform.h"

struct cli_global g_cli;

static const char g_usage[] =
        "Usage: moat [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
        "\n"
        "moat runs programs in a sandbox whose application kernel implements the\n"
        "Linux system-call interface itself: the app never talks to the host kernel.\n"
        "It is also an OCI runtime with runc's command line (docs/oci.md).\n"
        "\n"
        "Commands:\n"
        "  do [OPTIONS] [--] CMD [ARGS...]   run CMD sandboxed, with / as a read-only\n"
        "                                    root and an in-memory writable layer\n"
        "  debug syscalls                    print the syscall compatibility table\n"
        "  debug seccomp                     the kernel process's host-syscall allow-list\n"
        "  debug seccomp-profile FILE        FILE's linux.seccomp as moat compiles it\n"
        "                                    (raw classic-BPF records on stdout)\n"
        "\n"
        "OCI runtime commands (runc-compatible):\n"
        "  spec [--bundle DIR]               write a default config.json\n"
        "  create [--bundle DIR] [--pid-file F] [--console-socket S] ID\n"
        "  start ID                          run the created container's process\n"
        "  run [--bundle DIR] [--detach] [--pid-file F] ID   create + start (+ wait)\n"
        "  state ID                          print the OCI state JSON\n"
        "  kill [--all] ID [SIGNAL]          send SIGNAL (default SIGTERM)\n"
        "  delete [--force] ID               remove a stopped (or, forced, any) container\n"
        "  list [--format table|json] [-q]   list containers\n"
        "  ps [--format table|json] ID       the container's processes (json: host pids)\n"
        "  exec [OPTIONS] ID CMD [ARGS...]   run CMD in the running container\n"
        "  events [--stats] [--interval T] ID   stats as JSON lines\n"
        "  pause ID / resume ID              freeze / thaw the whole sandbox (cgroup freezer)\n"
        "  update [-r FILE] [--memory B] [--pids-limit N] [--cpu-*] ID   change its limits\n"
        "  features                          what this runtime supports (JSON)\n"
        "\n"
        "Global options:\n"
        "  --platform=NAME     how app code is intercepted: systrap (the default:\n"
        "                      seccomp traps handled in the stub; ptrace when the host\n"
        "                      lacks FSGSBASE or seccomp traps) or ptrace (needs only\n"
        "                      ptrace); MOAT_PLATFORM sets the default\n"
        "  --no-syscall-patch  systrap: never rewrite the app's syscall instructions into\n"
        "                      jumps to trampolines (on by default where the host allows;\n"
        "                      MOAT_SYSTRAP_PATCH=0 does the same)\n"
        "  --strace            log every syscall of the app with its arguments and result\n"
        "  --debug             verbose kernel logging\n"
        "  --debug-log=FILE    write logs (and --strace) to FILE instead of stderr\n"
        "  --root=DIR          container state directory (default " OCI_DEFAULT_ROOT ")\n"
        "  --log=FILE          errors and warnings of OCI commands also go to FILE\n"
        "  --log-format=FMT    text (default) or json\n"
        "  --systemd-cgroup    linux.cgroupsPath is systemd's slice:prefix:name\n"
        "  -h, --help          this help; `moat COMMAND --help` for a command\n"
        "  -v, --version       print the version\n";

int cli_parse_global(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *val = NULL;
    /* runc (urfave/cli) also accepts one dash before long names. */
    char dashed[64];
    if (a[0] == '-' && a[1] != '-' && a[1] && a[2] && strlen(a) + 2 < sizeof(dashed)) {
        snprintf(dashed, sizeof(dashed), "-%s", a);
        a = dashed;
    }
    size_t n = strcspn(a, "=");
    bool has_eq = a[n] == '=';
#define OPT_IS(name) (strncmp(a, name, n) == 0 && strlen(name) == n)
    if (OPT_IS("--strace") && !has_eq) {
        g_cli.strace = true;
        return 1;
    }
    if (OPT_IS("--no-syscall-patch") && !has_eq) {
        g_cli.no_syscall_patch = true;
        return 1;
    }
    if (OPT_IS("--debug") && !has_eq) {
        g_cli.debug = true;
        return 1;
    }
    if (OPT_IS("--systemd-cgroup")) {
        g_cli.systemd_cgroup = !has_eq || strcmp(a + n + 1, "false") != 0;
        return 1;
    }
    if (!OPT_IS("--platform") && !OPT_IS("--debug-log") && !OPT_IS("--root") &&
        !OPT_IS("--log") && !OPT_IS("--log-format"))
        return 0;
    if (has_eq) {
        val = a + n + 1;
    } else if (*i + 1 < argc) {
        val = argv[++*i];
    } else {
        fprintf(stderr, "moat: option %s needs a value\n", a);
        return -1;
    }
    if (OPT_IS("--platform")) {
        if (!platform_lookup(val)) {
            fprintf(stderr, "moat: unknown platform `%s` (available: ptrace, systrap)\n", val);
            return -1;
        }
        g_cli.platform = val;
    } else if (OPT_IS("--root")) {
        g_cli.root = val;
    } else if (OPT_IS("--log")) {
        g_cli.log = val;
    } else if (OPT_IS("--log-format")) {
        if (strcmp(val, "json") != 0 && strcmp(val, "text") != 0) {
            fprintf(stderr, "moat: --log-format: `%s` is not text or json\n", val);
            return -1;
        }
        g_cli.log_json = strcmp(val, "json") == 0;
    } else {
        g_cli.debug_log = val;
    }
#undef OPT_IS
    return 1;
}

int cli_apply_global(void)
{
    rt_log_setup(g_cli.log, g_cli.log_json, g_cli.debug);
    if (g_cli.debug)
        g_log_level = LOG_LVL_DEBUG;
    if (g_cli.debug_log) {
        if (g_log_level < LOG_LVL_INFO)
            g_log_level = LOG_LVL_INFO;
        int r = log_open(g_cli.debug_log);
        if (r < 0) {
            fprintf(stderr, "moat: cannot open the debug log %s: %s\n", g_cli.debug_log,
                    strerror(-r));
            return -1;
        }
    }
    return 0;
}

const char *cli_state_root(void)
{
    return g_cli.root ? g_cli.root : OCI_DEFAULT_ROOT;
}

const char *cli_one_id(const char *cmd, int argc, char **argv, int next)
{
    if (next + 1 == argc)
        return argv[next];
    struct rt_err *err = NULL;
    rt_err_make(&err, 0, "%s: %s; see moat %s --help", cmd,
                next >= argc ? "missing the container id" : "too many arguments", cmd);
    rt_err_report(&err);
    return NULL;
}

int cli_parse_opts(const char *cmd, int argc, char **argv, const struct cli_opt *opts,
                   const char *usage, int *out_next)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-help") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        const char *name = a + 1 + (a[1] == '-');
        size_t n = strcspn(name, "=");
        const struct cli_opt *o = NULL;
        for (const struct cli_opt *p = opts; p && p->name; p++) {
            if ((strncmp(p->name, name, n) == 0 && strlen(p->name) == n) ||
                (a[1] != '-' && n == 1 && p->short_name == name[0]))
                o = p;
        }
        if (!o) {
            int r = cli_parse_global(argc, argv, &i);
            if (r < 0)
                return -1;
            if (r > 0)
                continue;
            fprintf(stderr, "moat %s: unknown option `%s`; see moat %s --help\n", cmd, a, cmd);
            return -1;
        }
        if (!o->value) {
            if (name[n] == '=')
                *o->flag = strcmp(name + n + 1, "false") != 0;
            else
                *o->flag = true;
            continue;
        }
        if (name[n] == '=') {
            *o->value = name + n + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            fprintf(stderr, "moat %s: option %s needs a value\n", cmd, a);
            return -1;
        }
    }
    *out_next = i;
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} g_commands[] = {
        {"do", cmd_do},         {"debug", cmd_debug},       {"spec", cmd_spec},
        {"create", cmd_create}, {"start", cmd_start},       {"state", cmd_state},
        {"kill", cmd_kill},     {"delete", cmd_delete},     {"run", cmd_run},
        {"list", cmd_list},     {"features", cmd_features}, {"ps", cmd_ps},
        {"exec", cmd_exec},     {"events", cmd_events},     {"pause", cmd_pause},
        {"resume", cmd_resume}, {"update", cmd_update},
};

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(g_usage, stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf("moat version %s\nspec: %s\n", MOAT_VERSION, OCI_VERSION);
            return 0;
        }
        int r = cli_parse_global(argc, argv, &i);
        if (r < 0)
            return EXIT_MOAT_ERROR;
        if (r == 0)
            break;
    }
    if (i >= argc) {
        fputs(g_usage, stderr);
        return EXIT_MOAT_ERROR;
    }
    const char *cmd = argv[i];
    for (size_t k = 0; k < sizeof(g_commands) / sizeof(g_commands[0]); k++)
        if (strcmp(cmd, g_commands[k].name) == 0)
            return g_commands[k].fn(argc - i, argv + i);
    if (cmd[0] == '-')
        fprintf(stderr, "moat: unknown option `%s`; see moat --help\n", cmd);
    else
        fprintf(stderr, "moat: unknown command `%s`; see moat --help\n", cmd);
    return EXIT_MOAT_ERROR;
}
