/* moat debug: introspection for developers and docs. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "kernel/syscalls/syscall.h"

int cmd_debug(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "syscalls") == 0) {
        syscall_table_init();
        fflush(stdout);
        syscall_print_table(1);
        return 0;
    }
    fprintf(stderr, "Usage: moat debug syscalls\n");
    return EXIT_MOAT_ERROR;
}
