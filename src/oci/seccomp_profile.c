/* OCI linux.seccomp to classic BPF; see seccomp_profile.h. */
#include "oci/seccomp_profile.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/linux/syscall_names.h"
#include "kernel/seccomp/seccomp.h"
#include "lib/util.h"

#define X32_BIT 0x40000000u
/* struct seccomp_data: nr, arch, instruction_pointer, args[6]. */
#define OFF_NR       0
#define OFF_ARCH     4
#define OFF_ARG(i)   (16 + 8 * (i))
#define LINUX_EPERM  1
#define LINUX_ENOSYS 38

/*
 * The program is emitted backwards (last instruction first), so every jump
 * goes to an instruction already emitted and its offset is known at once.
 * A position is a reverse index: the number of instructions emitted before
 * it. An instruction emitted at reverse index R jumping to T skips R-T-1.
 */
struct emit {
    struct bpf_insn *rev;
    size_t len, cap;
    bool overflow;
};

static size_t emit(struct emit *e, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
    if (e->len == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        struct bpf_insn *n = realloc(e->rev, cap * sizeof(*n));
        if (!n) {
            e->overflow = true;
            return e->len;
        }
        e->rev = n;
        e->cap = cap;
    }
    e->rev[e->len] = (struct bpf_insn){code, jt, jf, k};
    return e->len++;
}

/* The forward distance from the next instruction to TARGET. */
static size_t dist(const struct emit *e, size_t target)
{
    return e->len - target - 1;
}

static size_t emit_ja(struct emit *e, size_t target)
{
    return emit(e, BPF_JMP | BPF_JA, 0, 0, (uint32_t)dist(e, target));
}

/* A conditional jump with targets JT and JF (positions); a target too far
 * for 8 bits goes through a `ja` emitted first. Returns the position of
 * the first instruction of the sequence. */
static size_t emit_jcond(struct emit *e, uint16_t op, uint32_t k, size_t jt, size_t jf)
{
    if (dist(e, jt) > 255) {
        jt = emit_ja(e, jt);
    }
    if (dist(e, jf) > 255) {
        size_t t = jt;
        jf = emit_ja(e, jf);
        if (dist(e, t) > 255) { /* both far: the `ja` for JT again, nearer */
            t = emit_ja(e, t);
        }
        jt = t;
    }
    return emit(e, BPF_JMP | op | BPF_K, (uint8_t)dist(e, jt), (uint8_t)dist(e, jf), k);
}

static size_t emit_ld(struct emit *e, uint32_t off)
{
    return emit(e, BPF_LD | BPF_W | BPF_ABS, 0, 0, off);
}

static size_t emit_ret(struct emit *e, uint32_t v)
{
    return emit(e, BPF_RET | BPF_K, 0, 0, v);
}

static int parse_action(const struct json *j, const char *field, uint32_t errno_ret, uint32_t *out,
                        struct rt_err **err)
{
    if (!j || j->type != JSON_STRING)
        return rt_err_make(err, 0, "config.json: %s: must be a string", field);
    const char *a = j->str;
    if (strcmp(a, "SCMP_ACT_ALLOW") == 0)
        *out = SECCOMP_RET_ALLOW;
    else if (strcmp(a, "SCMP_ACT_ERRNO") == 0)
        *out = SECCOMP_RET_ERRNO | (errno_ret & SECCOMP_RET_DATA);
    else if (strcmp(a, "SCMP_ACT_KILL") == 0 || strcmp(a, "SCMP_ACT_KILL_THREAD") == 0)
        *out = SECCOMP_RET_KILL_THREAD;
    else if (strcmp(a, "SCMP_ACT_KILL_PROCESS") == 0)
        *out = SECCOMP_RET_KILL_PROCESS;
    else if (strcmp(a, "SCMP_ACT_TRAP") == 0)
        *out = SECCOMP_RET_TRAP;
    else if (strcmp(a, "SCMP_ACT_TRACE") == 0)
        *out = SECCOMP_RET_TRACE | (errno_ret & SECCOMP_RET_DATA);
    else if (strcmp(a, "SCMP_ACT_LOG") == 0)
        *out = SECCOMP_RET_LOG;
    else if (strcmp(a, "SCMP_ACT_NOTIFY") == 0)
        return rt_err_make(
                err, 0,
                "config.json: %s: SCMP_ACT_NOTIFY (a seccomp listener) is not supported by moat",
                field);
    else
        return rt_err_make(err, 0, "config.json: %s: unknown action `%s`", field, a);
    return 0;
}

static int get_u64(const struct json *j, const char *field, uint64_t *out, struct rt_err **err)
{
    if (!j || j->type != JSON_NUMBER)
        return rt_err_make(err, 0, "config.json: %s: must be a number", field);
    if (j->is_int)
        *out = (uint64_t)j->integer;
    else if (j->number >= 0 && j->number < 18446744073709551616.0 &&
             j->number == (double)(uint64_t)j->number)
        *out = (uint64_t)j->number;
    else
        return rt_err_make(err, 0, "config.json: %s: must be an unsigned integer", field);
    return 0;
}

static int syscall_nr(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(g_linux_syscall_names); i++)
        if (g_linux_syscall_names[i] && strcmp(g_linux_syscall_names[i], name) == 0)
            return (int)i;
    return -1;
}

enum cmp_op { CMP_NE, CMP_LT, CMP_LE, CMP_EQ, CMP_GE, CMP_GT, CMP_MASKED_EQ, CMP_MAX };

struct arg_cmp {
    unsigned index;
    uint64_t value, value_two;
    enum cmp_op op;
};

static int parse_args(const struct json *args, const char *field, struct arg_cmp **out,
                      size_t *out_len, struct rt_err **err)
{
    *out = NULL;
    *out_len = 0;
    if (!args || args->type == JSON_NULL)
        return 0;
    if (args->type != JSON_ARRAY)
        return rt_err_make(err, 0, "config.json: %s: must be an array", field);
    struct arg_cmp *a = calloc(args->len ? args->len : 1, sizeof(*a));
    if (!a)
        return rt_err_make(err, ENOMEM, "config.json: %s", field);
    static const char *const ops[CMP_MAX] = {"SCMP_CMP_NE",       "SCMP_CMP_LT", "SCMP_CMP_LE",
                                             "SCMP_CMP_EQ",       "SCMP_CMP_GE", "SCMP_CMP_GT",
                                             "SCMP_CMP_MASKED_EQ"};
    int r = 0;
    for (size_t i = 0; i < args->len && r == 0; i++) {
        const struct json *o = args->items[i];
        char f[192];
        snprintf(f, sizeof(f), "%.150s[%zu]", field, i);
        if (o->type != JSON_OBJECT) {
            r = rt_err_make(err, 0, "config.json: %s: must be an object", f);
            break;
        }
        uint64_t idx = 0;
        char f2[256];
        snprintf(f2, sizeof(f2), "%s.index", f);
        if ((r = get_u64(json_get(o, "index"), f2, &idx, err)) < 0)
            break;
        if (idx > 5) {
            r = rt_err_make(err, 0, "config.json: %s: %llu is not 0..5", f2,
                            (unsigned long long)idx);
            break;
        }
        a[i].index = (unsigned)idx;
        snprintf(f2, sizeof(f2), "%s.value", f);
        if ((r = get_u64(json_get(o, "value"), f2, &a[i].value, err)) < 0)
            break;
        if (json_get(o, "valueTwo")) {
            snprintf(f2, sizeof(f2), "%s.valueTwo", f);
            if ((r = get_u64(json_get(o, "valueTwo"), f2, &a[i].value_two, err)) < 0)
                break;
        }
        const struct json *op = json_get(o, "op");
        snprintf(f2, sizeof(f2), "%s.op", f);
        int k = -1;
        for (int n = 0; op && op->type == JSON_STRING && n < CMP_MAX; n++)
            if (strcmp(op->str, ops[n]) == 0)
                k = n;
        if (k < 0) {
            r = rt_err_make(
                    err, 0,
                    "config.json: %s: must be one of SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ",
                    f2);
            break;
        }
        a[i].op = (enum cmp_op)k;
    }
    if (r < 0) {
        free(a);
        return r;
    }
    *out = a;
    *out_len = args->len;
    return 0;
}

/* One comparison, emitted backwards: falls through to PASS (the position
 * emitted last before it) or jumps to FAIL. */
static void emit_cmp(struct emit *e, const struct arg_cmp *c, size_t fail)
{
    size_t pass = e->len - 1;
    uint32_t lo_off = OFF_ARG(c->index), hi_off = OFF_ARG(c->index) + 4;
    uint32_t vlo = (uint32_t)c->value, vhi = (uint32_t)(c->value >> 32);
    uint32_t dlo = (uint32_t)c->value_two, dhi = (uint32_t)(c->value_two >> 32);
    size_t lo_start;
    switch (c->op) {
    case CMP_EQ:
        emit_jcond(e, BPF_JEQ, vlo, pass, fail);
        lo_start = emit_ld(e, lo_off);
        emit_jcond(e, BPF_JEQ, vhi, lo_start, fail);
        emit_ld(e, hi_off);
        break;
    case CMP_NE:
        emit_jcond(e, BPF_JEQ, vlo, fail, pass);
        lo_start = emit_ld(e, lo_off);
        emit_jcond(e, BPF_JEQ, vhi, lo_start, pass);
        emit_ld(e, hi_off);
        break;
    case CMP_MASKED_EQ: /* (arg & value) == valueTwo */
        emit_jcond(e, BPF_JEQ, dlo, pass, fail);
        emit(e, BPF_ALU | BPF_AND | BPF_K, 0, 0, vlo);
        lo_start = emit_ld(e, lo_off);
        emit_jcond(e, BPF_JEQ, dhi, lo_start, fail);
        emit(e, BPF_ALU | BPF_AND | BPF_K, 0, 0, vhi);
        emit_ld(e, hi_off);
        break;
    case CMP_GT:
    case CMP_GE:
        /* hi > v.hi: pass; hi < v.hi: fail; equal: the low words decide. */
        emit_jcond(e, c->op == CMP_GT ? BPF_JGT : BPF_JGE, vlo, pass, fail);
        lo_start = emit_ld(e, lo_off);
        emit_jcond(e, BPF_JEQ, vhi, lo_start, fail);
        emit_jcond(e, BPF_JGT, vhi, pass, e->len - 1);
        emit_ld(e, hi_off);
        break;
    case CMP_LT:
    case CMP_LE:
        /* hi < v.hi: pass; hi > v.hi: fail; equal: the low words decide. */
        emit_jcond(e, c->op == CMP_LT ? BPF_JGE : BPF_JGT, vlo, fail, pass);
        lo_start = emit_ld(e, lo_off);
        emit_jcond(e, BPF_JEQ, vhi, lo_start, pass);
        emit_jcond(e, BPF_JGT, vhi, fail, e->len - 1);
        emit_ld(e, hi_off);
        break;
    default:
        break;
    }
}

struct rule {
    uint32_t action;
    int *nrs;
    size_t nrs_len;
    struct arg_cmp *args;
    size_t args_len;
};

/* A rule, backwards: NEXT is the first instruction of the following rule
 * (or the default action). Returns the rule's first instruction. */
static size_t emit_rule(struct emit *e, const struct rule *r, size_t next)
{
    size_t match;
    size_t ret;
    if (r->args_len) {
        size_t fail = emit_ja(e, next);
        ret = emit_ret(e, r->action);
        for (size_t i = r->args_len; i-- > 0;)
            emit_cmp(e, &r->args[i], fail);
        match = e->len - 1;
    } else {
        ret = emit_ret(e, r->action);
        match = ret;
    }
    emit_ja(e, next); /* no name matched */
    for (size_t i = r->nrs_len; i-- > 0;)
        emit_jcond(e, BPF_JEQ, (uint32_t)r->nrs[i], match, e->len - 1);
    /* A = the syscall number (x32 bit cleared), kept in M[0]. */
    return emit(e, BPF_LD | BPF_MEM, 0, 0, 0);
}

void oci_seccomp_free(struct oci_seccomp *s)
{
    free(s->prog);
    s->prog = NULL;
    s->len = 0;
}

int oci_seccomp_compile(const struct json *sc, const char *field, struct oci_seccomp *out,
                        struct rt_err **err)
{
    memset(out, 0, sizeof(*out));
    if (!sc || sc->type == JSON_NULL)
        return 0;
    if (sc->type != JSON_OBJECT)
        return rt_err_make(err, 0, "config.json: %s: must be an object", field);
    char f[160];
    int r;
    uint64_t def_errno = LINUX_EPERM;
    if (json_get(sc, "defaultErrnoRet")) {
        snprintf(f, sizeof(f), "%s.defaultErrnoRet", field);
        if ((r = get_u64(json_get(sc, "defaultErrnoRet"), f, &def_errno, err)) < 0)
            return r;
    }
    uint32_t def_action;
    snprintf(f, sizeof(f), "%s.defaultAction", field);
    if ((r = parse_action(json_get(sc, "defaultAction"), f, (uint32_t)def_errno, &def_action,
                          err)) < 0)
        return r;

    /* Architectures. */
    bool x32 = false, other_arch = false;
    const struct json *arches = json_get(sc, "architectures");
    if (arches && arches->type != JSON_NULL) {
        snprintf(f, sizeof(f), "%s.architectures", field);
        if (arches->type != JSON_ARRAY)
            return rt_err_make(err, 0, "config.json: %s: must be an array", f);
        for (size_t i = 0; i < arches->len; i++) {
            const struct json *a = arches->items[i];
            if (a->type != JSON_STRING || strncmp(a->str, "SCMP_ARCH_", 10) != 0)
                return rt_err_make(err, 0, "config.json: %s[%zu]: not an SCMP_ARCH_ name", f, i);
            if (strcmp(a->str, "SCMP_ARCH_X32") == 0)
                x32 = true;
            else if (strcmp(a->str, "SCMP_ARCH_X86_64") != 0)
                other_arch = true;
        }
    }

    /* Flags. */
    const struct json *flags = json_get(sc, "flags");
    if (flags && flags->type != JSON_NULL) {
        snprintf(f, sizeof(f), "%s.flags", field);
        if (flags->type != JSON_ARRAY)
            return rt_err_make(err, 0, "config.json: %s: must be an array", f);
        for (size_t i = 0; i < flags->len; i++) {
            const struct json *fl = flags->items[i];
            if (fl->type != JSON_STRING)
                return rt_err_make(err, 0, "config.json: %s[%zu]: must be a string", f, i);
            if (strcmp(fl->str, "SECCOMP_FILTER_FLAG_LOG") == 0)
                out->flags |= SECCOMP_FILTER_FLAG_LOG;
            else if (strcmp(fl->str, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
                out->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
            else if (strcmp(fl->str, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
                out->flags |= SECCOMP_FILTER_FLAG_TSYNC;
            else
                rt_warn("config.json: %s[%zu]: `%s` is not supported by moat, ignored", f, i,
                        fl->str);
        }
    }
    if (json_get(sc, "listenerPath") || json_get(sc, "listenerMetadata"))
        return rt_err_make(
                err, 0, "config.json: %s.listenerPath: seccomp listeners are not supported by moat",
                field);

    /* Rules. */
    const struct json *calls = json_get(sc, "syscalls");
    size_t nrules = calls && calls->type == JSON_ARRAY ? calls->len : 0;
    if (calls && calls->type != JSON_NULL && calls->type != JSON_ARRAY)
        return rt_err_make(err, 0, "config.json: %s.syscalls: must be an array", field);
    struct rule *rules = calloc(nrules ? nrules : 1, sizeof(*rules));
    if (!rules)
        return rt_err_make(err, ENOMEM, "config.json: %s", field);
    r = 0;
    size_t skipped = 0;
    for (size_t i = 0; i < nrules && r == 0; i++) {
        const struct json *o = calls->items[i];
        snprintf(f, sizeof(f), "%s.syscalls[%zu]", field, i);
        if (o->type != JSON_OBJECT) {
            r = rt_err_make(err, 0, "config.json: %s: must be an object", f);
            break;
        }
        uint64_t eret = LINUX_EPERM;
        char f2[192];
        if (json_get(o, "errnoRet")) {
            snprintf(f2, sizeof(f2), "%s.errnoRet", f);
            if ((r = get_u64(json_get(o, "errnoRet"), f2, &eret, err)) < 0)
                break;
        }
        snprintf(f2, sizeof(f2), "%s.action", f);
        if ((r = parse_action(json_get(o, "action"), f2, (uint32_t)eret, &rules[i].action, err)) <
            0)
            break;
        const struct json *names = json_get(o, "names");
        snprintf(f2, sizeof(f2), "%s.names", f);
        if (!names || names->type != JSON_ARRAY) {
            r = rt_err_make(err, 0, "config.json: %s: must be an array", f2);
            break;
        }
        rules[i].nrs = calloc(names->len ? names->len : 1, sizeof(int));
        if (!rules[i].nrs) {
            r = rt_err_make(err, ENOMEM, "config.json: %s", f2);
            break;
        }
        for (size_t k = 0; k < names->len; k++) {
            const struct json *n = names->items[k];
            if (n->type != JSON_STRING) {
                r = rt_err_make(err, 0, "config.json: %s[%zu]: must be a string", f2, k);
                break;
            }
            int nr = syscall_nr(n->str);
            if (nr < 0) {
                skipped++;
                rt_debug("config.json: %s[%zu]: `%s` is not an x86-64 syscall, skipped", f2, k,
                         n->str);
                continue;
            }
            rules[i].nrs[rules[i].nrs_len++] = nr;
        }
        if (r < 0)
            break;
        snprintf(f2, sizeof(f2), "%s.args", f);
        r = parse_args(json_get(o, "args"), f2, &rules[i].args, &rules[i].args_len, err);
    }

    struct emit e = {0};
    if (r == 0) {
        /* Backwards: the bad-architecture returns (last: Linux's checker
         * does not follow a fall-through after a return, so nothing that
         * loads M[0] may come after one reached before the store), the
         * default action, the rules from last to first, the prologue. */
        size_t bad_arch = emit_ret(&e, other_arch ? SECCOMP_RET_ERRNO | LINUX_ENOSYS
                                                  : SECCOMP_RET_KILL_THREAD);
        size_t bad_x32 = emit_ret(&e, SECCOMP_RET_KILL_THREAD);
        size_t next = emit_ret(&e, def_action);
        for (size_t i = nrules; i-- > 0;)
            if (rules[i].nrs_len)
                next = emit_rule(&e, &rules[i], next);
        /* Prologue (forward): ld arch; jeq X86_64 else bad arch; ld nr;
         * [x32: jge X32_BIT; and ~X32_BIT | else: jge X32_BIT -> bad];
         * st M[0]; the first rule. */
        size_t store = emit(&e, BPF_ST, 0, 0, 0);
        if (x32) {
            size_t and = emit(&e, BPF_ALU | BPF_AND | BPF_K, 0, 0, ~X32_BIT);
            emit_jcond(&e, BPF_JGE, X32_BIT, and, store);
        } else {
            emit_jcond(&e, BPF_JGE, X32_BIT, bad_x32, store);
        }
        size_t ldnr = emit_ld(&e, OFF_NR);
        emit_jcond(&e, BPF_JEQ, LINUX_AUDIT_ARCH_X86_64, ldnr, bad_arch);
        emit_ld(&e, OFF_ARCH);
        if (e.overflow)
            r = rt_err_make(err, ENOMEM, "config.json: %s", field);
        else if (e.len > BPF_MAXINSNS)
            r = rt_err_make(
                    err, 0,
                    "config.json: %s: the profile compiles to %zu BPF instructions (at most %d)",
                    field, e.len, BPF_MAXINSNS);
    }
    for (size_t i = 0; i < nrules; i++) {
        free(rules[i].nrs);
        free(rules[i].args);
    }
    free(rules);
    if (r < 0) {
        free(e.rev);
        return r;
    }
    /* Forward order. */
    out->prog = malloc(e.len * sizeof(*out->prog));
    if (!out->prog) {
        free(e.rev);
        return rt_err_make(err, ENOMEM, "config.json: %s", field);
    }
    for (size_t i = 0; i < e.len; i++)
        out->prog[i] = e.rev[e.len - 1 - i];
    out->len = (uint32_t)e.len;
    free(e.rev);
    rt_debug("config.json: %s: %zu rules, %zu unknown names skipped, %u BPF instructions", field,
             nrules, skipped, out->len);
    return 0;
}
