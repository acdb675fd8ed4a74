/*
 * libFuzzer target: moat's classic-BPF validator and interpreter (the
 * seccomp filters apps install run in moat's kernel). The input is a
 * seccomp_data (64 bytes) followed by instructions; a program the validator
 * accepts is run and must return (no crash, no out-of-bounds access).
 * Built with -Dlibfuzzer=true (clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/seccomp/bpf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seccomp_data d;
    if (size < sizeof(d))
        return 0;
    memcpy(&d, data, sizeof(d));
    size_t n = (size - sizeof(d)) / sizeof(struct bpf_insn);
    if (n == 0 || n > BPF_MAXINSNS)
        return 0;
    /* Exactly N instructions on the heap, so ASan sees any overrun. */
    struct bpf_insn *prog = malloc(n * sizeof(*prog));
    if (!prog)
        return 0;
    memcpy(prog, data + sizeof(d), n * sizeof(*prog));
    if (bpf_validate(prog, n) == 0)
        bpf_run(prog, &d);
    free(prog);
    return 0;
}
