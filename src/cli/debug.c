/* moat debug: introspection for developers and docs. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "kernel/host/seccomp_allow.h"
#include "kernel/syscalls/syscall.h"

int cmd_debug(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "syscalls") == 0) {
        syscall_table_init();
        fflush(stdout);
        syscall_print_table(1);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "seccomp") == 0) {
        /* The kernel process's own host-syscall allow-list (issue 9). */
        host_seccomp_print(stdout);
        return 0;
    }
    fprintf(stderr, "Usage: moat debug syscalls|seccomp\n");
    return EXIT_MOAT_ERROR;
}
