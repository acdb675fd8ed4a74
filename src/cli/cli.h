/* The moat command line: one file per command. */
#ifndef MOAT_CLI_CLI_H
#define MOAT_CLI_CLI_H

#include <stdbool.h>

/* Options that apply to every command (before or after the command name). */
struct cli_global {
    const char *platform;
    const char *debug_log;
    bool debug;
    bool strace;
};

extern struct cli_global g_cli;

/* Parses one global option at ARGV[*I] (advancing *I past its value).
 * Returns 1 if it was one, 0 if not, -1 on a bad value (error printed). */
int cli_parse_global(int argc, char **argv, int *i);
/* Applies logging options; 0 or -1 (error printed). */
int cli_apply_global(void);

int cmd_do(int argc, char **argv);
int cmd_debug(int argc, char **argv);

#define EXIT_MOAT_ERROR 125 /* moat itself failed, as env(1) and docker run use */

#endif
