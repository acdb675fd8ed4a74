/*
 * libFuzzer target: config.json parsing. The input is parsed as JSON; the
 * tree is written back and parsed again (must succeed), and the parts of
 * config.json that moat compiles are run on it: linux.resources and
 * linux.seccomp (whose BPF program must pass moat's own validator and is
 * run on a few syscalls). Built with -Dlibfuzzer=true (clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/seccomp/bpf.h"
#include "oci/config.h"
#include "oci/err.h"
#include "oci/json.h"
#include "oci/seccomp_profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json *doc = NULL;
    char perr[256];
    if (json_parse((const char *)data, size, &doc, perr, sizeof(perr)) < 0)
        return 0;
    /* Round trip: what moat writes it must read back. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        json_write(f, doc);
        fclose(f);
        struct json *again = NULL;
        if (json_parse(buf, len, &again, perr, sizeof(perr)) < 0) {
            fprintf(stderr, "round trip failed: %s\n%s\n", perr, buf);
            abort();
        }
        json_free(again);
        free(buf);
    }
    const struct json *lx = json_get(doc, "linux");
    struct rt_err *err = NULL;
    struct oci_resources res;
    if (oci_resources_parse(json_get(lx, "resources"), "linux.resources", &res, &err) < 0)
        rt_err_free(&err);
    const struct json *sc = json_get(lx, "seccomp");
    if (!sc && json_get(doc, "defaultAction"))
        sc = doc;
    struct oci_seccomp prog;
    if (oci_seccomp_compile(sc, "linux.seccomp", &prog, &err) < 0) {
        rt_err_free(&err);
    } else if (prog.len) {
        if (bpf_validate(prog.prog, prog.len) < 0) {
            fprintf(stderr, "moat compiled a program its validator refuses\n");
            abort();
        }
        static const uint32_t nrs[] = {0, 1, 39, 56, 101, 250, 272, 0x40000027};
        for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
            struct seccomp_data d = {.nr = (int)nrs[i], .arch = 0xc000003e};
            d.args[0] = 0x7e020000ULL * i;
            d.args[1] = 0x100000000ULL + i;
            bpf_run(prog.prog, &d);
        }
        oci_seccomp_free(&prog);
    }
    json_free(doc);
    return 0;
}
