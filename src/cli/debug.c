/* moat debug: introspection for developers and docs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kernel/host/seccomp_allow.h"
#include "kernel/syscalls/syscall.h"
#include "oci/err.h"
#include "oci/json.h"
#include "oci/seccomp_profile.h"

/* moat debug seccomp-profile FILE: the classic-BPF program moat compiles
 * from FILE's linux.seccomp (a config.json, or a bare profile object), as
 * raw struct sock_filter records on stdout (for tests and inspection). */
static int debug_seccomp_profile(const char *path)
{
    struct rt_err *err = NULL;
    FILE *f = fopen(path, "re");
    if (!f) {
        rt_err_make(&err, errno, "debug: `%s`", path);
        return rt_err_report(&err);
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *n = realloc(text, cap);
            if (!n)
                break;
            text = n;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    struct json *doc = NULL;
    char perr[256];
    if (!text || json_parse(text, len, &doc, perr, sizeof(perr)) < 0) {
        free(text);
        rt_err_make(&err, 0, "debug: `%s`: invalid JSON: %s", path, perr);
        return rt_err_report(&err);
    }
    free(text);
    const struct json *sc = json_get(json_get(doc, "linux"), "seccomp");
    if (!sc && json_get(doc, "defaultAction"))
        sc = doc;
    struct oci_seccomp prog;
    int r = oci_seccomp_compile(sc, "linux.seccomp", &prog, &err);
    json_free(doc);
    if (r < 0)
        return rt_err_report(&err);
    if (prog.len)
        fwrite(prog.prog, sizeof(*prog.prog), prog.len, stdout);
    fprintf(stderr, "%u instructions\n", prog.len);
    oci_seccomp_free(&prog);
    return 0;
}

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
    if (argc == 3 && strcmp(argv[1], "seccomp-profile") == 0)
        return debug_seccomp_profile(argv[2]);
    fprintf(stderr, "Usage: moat debug syscalls|seccomp|seccomp-profile CONFIG.json\n");
    return EXIT_MOAT_ERROR;
}
