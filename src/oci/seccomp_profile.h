/*
 * OCI linux.seccomp (runtime-spec config-linux.md "Seccomp") compiled to a
 * classic-BPF program, as runc does with libseccomp. moat's kernel installs
 * it on the container's first process (and exec'd ones) before their
 * program runs, and runs it with its own BPF interpreter
 * (src/kernel/seccomp): the host never sees it.
 *
 * What is compiled: defaultAction (+ defaultErrnoRet), architectures
 * (SCMP_ARCH_X86_64 is native; SCMP_ARCH_X32 numbers are matched by their
 * x86-64 number; any other listed architecture's calls, e.g. int 0x80,
 * get ENOSYS; an unlisted one kills the thread as libseccomp's default bad
 * architecture action), flags (SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW,
 * _TSYNC), syscalls[].names / action / errnoRet / args (index, value,
 * valueTwo, op: SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ; the args
 * of one rule must all match). Rules are tried in order, the first match
 * wins, then the default action. Names unknown on x86-64 are skipped (as
 * runc does). SCMP_ACT_NOTIFY (a listener) is refused.
 */
#ifndef MOAT_OCI_SECCOMP_PROFILE_H
#define MOAT_OCI_SECCOMP_PROFILE_H

#include <stdint.h>

#include "kernel/seccomp/bpf.h"
#include "oci/err.h"
#include "oci/json.h"

struct oci_seccomp {
    struct bpf_insn *prog; /* NULL: no profile */
    uint32_t len;
    unsigned int flags; /* SECCOMP_FILTER_FLAG_* */
};

/* Compiles the linux.seccomp object SC (FIELD names it in errors). <0 with
 * *err set; *out is filled (free with oci_seccomp_free). */
int oci_seccomp_compile(const struct json *sc, const char *field, struct oci_seccomp *out,
                        struct rt_err **err);
void oci_seccomp_free(struct oci_seccomp *s);

#endif
