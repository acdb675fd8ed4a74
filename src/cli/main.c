/* moat: entry point and global options. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "platform/platform.h"

struct cli_global g_cli;

static const char g_usage[] =
        "Usage: moat [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
        "\n"
        "moat runs programs in a sandbox whose application kernel implements the\n"
        "Linux system-call interface itself: the app never talks to the host kernel.\n"
        "\n"
        "Commands:\n"
        "  do [OPTIONS] [--] CMD [ARGS...]   run CMD sandboxed, with / as a read-only\n"
        "                                    root and an in-memory writable layer\n"
        "  debug syscalls                    print the syscall compatibility table\n"
        "\n"
        "Global options:\n"
        "  --platform=NAME     how app code is intercepted: ptrace (default)\n"
        "                      or systrap (faster; MOAT_PLATFORM sets the default)\n"
        "  --strace            log every syscall of the app with its arguments and result\n"
        "  --debug             verbose kernel logging\n"
        "  --debug-log=FILE    write logs (and --strace) to FILE instead of stderr\n"
        "  -h, --help          this help; `moat COMMAND --help` for a command\n"
        "  --version           print the version\n";

int cli_parse_global(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *val = NULL;
    size_t n = strcspn(a, "=");
    bool has_eq = a[n] == '=';
#define OPT_IS(name) (strncmp(a, name, n) == 0 && strlen(name) == n)
    if (OPT_IS("--strace") && !has_eq) {
        g_cli.strace = true;
        return 1;
    }
    if (OPT_IS("--debug") && !has_eq) {
        g_cli.debug = true;
        return 1;
    }
    if (!OPT_IS("--platform") && !OPT_IS("--debug-log"))
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
    } else {
        g_cli.debug_log = val;
    }
#undef OPT_IS
    return 1;
}

int cli_apply_global(void)
{
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
            printf("moat version %s\n", MOAT_VERSION);
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
    if (strcmp(cmd, "do") == 0)
        return cmd_do(argc - i, argv + i);
    if (strcmp(cmd, "debug") == 0)
        return cmd_debug(argc - i, argv + i);
    if (cmd[0] == '-')
        fprintf(stderr, "moat: unknown option `%s`; see moat --help\n", cmd);
    else
        fprintf(stderr, "moat: unknown command `%s`; see moat --help\n", cmd);
    return EXIT_MOAT_ERROR;
}
