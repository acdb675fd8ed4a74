/* moat do: run a host command sandboxed. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandbox/sandbox.h"

extern char **environ;

static const char g_do_usage[] =
        "Usage: moat do [OPTIONS] [--] CMD [ARGS...]\n"
        "\n"
        "Runs CMD in a new sandbox. Its root is the host's / seen read-only, with an\n"
        "in-memory layer on top that takes every write (the host is never modified).\n"
        "CMD is looked up in $PATH inside the sandbox; the app gets this process's\n"
        "working directory, environment and standard input/output, and sees itself\n"
        "as PID 1. moat exits with the app's status, or 128+N if signal N ended it;\n"
        "127 if CMD is not found, 126 if it cannot be executed, 125 if moat failed.\n"
        "\n"
        "Options:\n"
        "  --platform=NAME     interception backend: ptrace (default)\n"
        "  --root=DIR          host directory that becomes the sandbox's / (default /);\n"
        "                      the command starts in / there\n"
        "  --strace            log each syscall with decoded arguments and result\n"
        "  --debug             verbose kernel logging\n"
        "  --debug-log=FILE    logs and --strace output go to FILE\n"
        "  -h, --help          this help\n";

int cmd_do(int argc, char **argv)
{
    const char *root = NULL;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(g_do_usage, stdout);
            return 0;
        }
        if (a[0] != '-')
            break;
        if (strncmp(a, "--root=", 7) == 0 || strcmp(a, "--root") == 0) {
            root = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : "");
            if (!root[0]) {
                fprintf(stderr, "moat do: --root needs a directory\n");
                return EXIT_MOAT_ERROR;
            }
            continue;
        }
        int r = cli_parse_global(argc, argv, &i);
        if (r < 0)
            return EXIT_MOAT_ERROR;
        if (r == 0) {
            fprintf(stderr, "moat do: unknown option `%s`; see moat do --help\n", a);
            return EXIT_MOAT_ERROR;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "moat do: missing command; see moat do --help\n");
        return EXIT_MOAT_ERROR;
    }
    if (cli_apply_global() < 0)
        return EXIT_MOAT_ERROR;

    char cwd[PATH_MAX];
    if (root || !getcwd(cwd, sizeof(cwd)))
        strcpy(cwd, "/");
    struct sandbox_config cfg = {
        .argv = argv + i,
        .envp = environ,
        .cwd = cwd,
        .root = root ? root : "/",
        .platform = g_cli.platform,
        .strace = g_cli.strace,
    };
    return sandbox_run(&cfg);
}
