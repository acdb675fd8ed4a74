/*
 * Classic BPF as seccomp(2) accepts it: a validator that rejects what Linux
 * rejects, and an interpreter over struct seccomp_data.
 *
 * Our own implementation of the documented semantics (bpf(4) on the BSDs,
 * Documentation/networking/filter.rst, seccomp(2)); no locks, no state.
 */
#ifndef MOAT_KERNEL_SECCOMP_BPF_H
#define MOAT_KERNEL_SECCOMP_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct sock_filter: one instruction, as the app hands it in. */
struct bpf_insn {
    uint16_t code;
    uint8_t jt;
    uint8_t jf;
    uint32_t k;
};

/* struct seccomp_data: what a seccomp program reads (64 bytes). */
struct seccomp_data {
    int32_t nr;
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t args[6];
};

#define BPF_MAXINSNS 4096
#define BPF_MEMWORDS 16

/* Instruction fields. */
#define BPF_CLASS(c)  ((c)&0x07)
#define BPF_LD        0x00
#define BPF_LDX       0x01
#define BPF_ST        0x02
#define BPF_STX       0x03
#define BPF_ALU       0x04
#define BPF_JMP       0x05
#define BPF_RET       0x06
#define BPF_MISC      0x07
#define BPF_SIZE(c)   ((c)&0x18)
#define BPF_W         0x00
#define BPF_H         0x08
#define BPF_B         0x10
#define BPF_MODE(c)   ((c)&0xe0)
#define BPF_IMM       0x00
#define BPF_ABS       0x20
#define BPF_IND       0x40
#define BPF_MEM       0x60
#define BPF_LEN       0x80
#define BPF_MSH       0xa0
#define BPF_OP(c)     ((c)&0xf0)
#define BPF_ADD       0x00
#define BPF_SUB       0x10
#define BPF_MUL       0x20
#define BPF_DIV       0x30
#define BPF_OR        0x40
#define BPF_AND       0x50
#define BPF_LSH       0x60
#define BPF_RSH       0x70
#define BPF_NEG       0x80
#define BPF_MOD       0x90
#define BPF_XOR       0xa0
#define BPF_JA        0x00
#define BPF_JEQ       0x10
#define BPF_JGT       0x20
#define BPF_JGE       0x30
#define BPF_JSET      0x40
#define BPF_SRC(c)    ((c)&0x08)
#define BPF_K         0x00
#define BPF_X         0x08
#define BPF_RVAL(c)   ((c)&0x18)
#define BPF_A         0x10
#define BPF_MISCOP(c) ((c)&0xf8)
#define BPF_TAX       0x00
#define BPF_TXA       0x80

/* Checks PROG (LEN instructions) as Linux's seccomp does and rewrites the
 * length loads (BPF_LEN) into immediates. 0 or -EINVAL (empty or too long,
 * unknown or disallowed opcode, a jump out of the program, a load outside
 * seccomp_data or misaligned, a scratch slot read before it is written on
 * some path, division by a constant 0, a shift by 32 or more, no final
 * return). */
int bpf_validate(struct bpf_insn *prog, size_t len);

/* Runs a validated PROG on D; the 32-bit return value. */
uint32_t bpf_run(const struct bpf_insn *prog, const struct seccomp_data *d);

#endif
