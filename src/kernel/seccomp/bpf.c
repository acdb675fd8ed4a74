/*
 * Classic BPF for seccomp: validation and interpretation.
 *
 * Registers A and X and the scratch memory M[16] are 32-bit; the packet is
 * struct seccomp_data, read only by 32-bit aligned absolute loads. A
 * program ends with a return; the validator guarantees every path does,
 * so the interpreter needs no bounds checks.
 */
#include "kernel/seccomp/bpf.h"

#include <errno.h>
#include <string.h>

/* The instructions seccomp allows, after BPF_LEN loads are rewritten. */
static bool bpf_code_allowed(uint16_t code)
{
    switch (code) {
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_IMM:
    case BPF_LDX | BPF_IMM:
    case BPF_LD | BPF_MEM:
    case BPF_LDX | BPF_MEM:
    case BPF_ST:
    case BPF_STX:
    case BPF_MISC | BPF_TAX:
    case BPF_MISC | BPF_TXA:
    case BPF_RET | BPF_K:
    case BPF_RET | BPF_A:
    case BPF_ALU | BPF_NEG:
    case BPF_JMP | BPF_JA:
        return true;
    }
    switch (BPF_CLASS(code)) {
    case BPF_ALU:
        if (code & ~(0xf0 | 0x08 | 0x07))
            return false;
        switch (BPF_OP(code)) {
        case BPF_ADD:
        case BPF_SUB:
        case BPF_MUL:
        case BPF_DIV:
        case BPF_AND:
        case BPF_OR:
        case BPF_XOR:
        case BPF_LSH:
        case BPF_RSH:
            return true; /* BPF_MOD is classic BPF but not seccomp's */
        }
        return false;
    case BPF_JMP:
        if (code & ~(0xf0 | 0x08 | 0x07))
            return false;
        switch (BPF_OP(code)) {
        case BPF_JEQ:
        case BPF_JGT:
        case BPF_JGE:
        case BPF_JSET:
            return true;
        }
        return false;
    }
    return false;
}

/* Every read of a scratch slot must follow a write on every path. One
 * forward pass: jumps only go forward, so when we reach an instruction,
 * all its predecessors have merged their "written" sets into it. */
static int bpf_check_scratch(const struct bpf_insn *prog, size_t len)
{
    uint16_t in[BPF_MAXINSNS];
    for (size_t i = 0; i < len; i++)
        in[i] = 0xffff;
    uint16_t cur = 0;
    for (size_t pc = 0; pc < len; pc++) {
        const struct bpf_insn *p = &prog[pc];
        cur &= in[pc];
        switch (p->code) {
        case BPF_ST:
        case BPF_STX:
            cur |= (uint16_t)(1u << p->k);
            break;
        case BPF_LD | BPF_MEM:
        case BPF_LDX | BPF_MEM:
            if (!(cur & (1u << p->k)))
                return -EINVAL;
            break;
        case BPF_JMP | BPF_JA:
            in[pc + 1 + p->k] &= cur;
            cur = 0xffff;
            break;
        case BPF_RET | BPF_K:
        case BPF_RET | BPF_A:
            cur = 0xffff;
            break;
        default:
            if (BPF_CLASS(p->code) == BPF_JMP) {
                in[pc + 1 + p->jt] &= cur;
                in[pc + 1 + p->jf] &= cur;
                cur = 0xffff;
            }
            break;
        }
    }
    return 0;
}

int bpf_validate(struct bpf_insn *prog, size_t len)
{
    if (len == 0 || len > BPF_MAXINSNS)
        return -EINVAL;
    for (size_t pc = 0; pc < len; pc++) {
        struct bpf_insn *p = &prog[pc];
        /* The length of seccomp_data is a constant. */
        if (p->code == (BPF_LD | BPF_W | BPF_LEN)) {
            p->code = BPF_LD | BPF_IMM;
            p->k = sizeof(struct seccomp_data);
        } else if (p->code == (BPF_LDX | BPF_W | BPF_LEN)) {
            p->code = BPF_LDX | BPF_IMM;
            p->k = sizeof(struct seccomp_data);
        }
        if (!bpf_code_allowed(p->code))
            return -EINVAL;
        size_t rest = len - pc - 1; /* instructions after this one */
        switch (BPF_CLASS(p->code)) {
        case BPF_LD:
            if (BPF_MODE(p->code) == BPF_ABS && (p->k >= sizeof(struct seccomp_data) || (p->k & 3)))
                return -EINVAL;
            if (BPF_MODE(p->code) == BPF_MEM && p->k >= BPF_MEMWORDS)
                return -EINVAL;
            break;
        case BPF_LDX:
            if (BPF_MODE(p->code) == BPF_MEM && p->k >= BPF_MEMWORDS)
                return -EINVAL;
            break;
        case BPF_ST:
        case BPF_STX:
            if (p->k >= BPF_MEMWORDS)
                return -EINVAL;
            break;
        case BPF_ALU:
            if (BPF_SRC(p->code) == BPF_K) {
                if (BPF_OP(p->code) == BPF_DIV && p->k == 0)
                    return -EINVAL;
                if ((BPF_OP(p->code) == BPF_LSH || BPF_OP(p->code) == BPF_RSH) && p->k >= 32)
                    return -EINVAL;
            }
            break;
        case BPF_JMP:
            if (BPF_OP(p->code) == BPF_JA) {
                if (p->k >= rest)
                    return -EINVAL;
            } else if (p->jt >= rest || p->jf >= rest) {
                return -EINVAL;
            }
            break;
        }
    }
    if (BPF_CLASS(prog[len - 1].code) != BPF_RET)
        return -EINVAL;
    return bpf_check_scratch(prog, len);
}

static uint32_t bpf_load_word(const struct seccomp_data *d, uint32_t off)
{
    uint32_t w;
    memcpy(&w, (const char *)d + off, sizeof(w));
    return w;
}

uint32_t bpf_run(const struct bpf_insn *prog, const struct seccomp_data *d)
{
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
    for (const struct bpf_insn *p = prog;; p++) {
        uint32_t k = p->k;
        uint32_t src = BPF_SRC(p->code) == BPF_X ? x : k;
        switch (p->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            a = bpf_load_word(d, k);
            continue;
        case BPF_LD | BPF_IMM:
            a = k;
            continue;
        case BPF_LDX | BPF_IMM:
            x = k;
            continue;
        case BPF_LD | BPF_MEM:
            a = mem[k];
            continue;
        case BPF_LDX | BPF_MEM:
            x = mem[k];
            continue;
        case BPF_ST:
            mem[k] = a;
            continue;
        case BPF_STX:
            mem[k] = x;
            continue;
        case BPF_MISC | BPF_TAX:
            x = a;
            continue;
        case BPF_MISC | BPF_TXA:
            a = x;
            continue;
        case BPF_RET | BPF_K:
            return k;
        case BPF_RET | BPF_A:
            return a;
        case BPF_ALU | BPF_NEG:
            a = -a;
            continue;
        case BPF_JMP | BPF_JA:
            p += k;
            continue;
        }
        if (BPF_CLASS(p->code) == BPF_ALU) {
            switch (BPF_OP(p->code)) {
            case BPF_ADD:
                a += src;
                break;
            case BPF_SUB:
                a -= src;
                break;
            case BPF_MUL:
                a *= src;
                break;
            case BPF_DIV:
                if (src == 0)
                    return 0; /* as Linux: the program ends, returning 0 */
                a /= src;
                break;
            case BPF_AND:
                a &= src;
                break;
            case BPF_OR:
                a |= src;
                break;
            case BPF_XOR:
                a ^= src;
                break;
            /* A shift by X of 32 or more: x86-64 Linux counts mod 32. */
            case BPF_LSH:
                a <<= (src & 31);
                break;
            case BPF_RSH:
                a >>= (src & 31);
                break;
            }
            continue;
        }
        /* Conditional jumps (the validator allowed nothing else). */
        bool cond;
        switch (BPF_OP(p->code)) {
        case BPF_JEQ:
            cond = a == src;
            break;
        case BPF_JGT:
            cond = a > src;
            break;
        case BPF_JGE:
            cond = a >= src;
            break;
        default:
            cond = (a & src) != 0;
            break;
        }
        p += cond ? p->jt : p->jf;
    }
}
