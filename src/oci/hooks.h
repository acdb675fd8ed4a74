/*
 * OCI hooks (config.json "hooks"): host programs the runtime runs at points
 * of a container's life, each given the container's state JSON on stdin.
 *
 *   prestart, createRuntime, createContainer   `create`, after the sandbox
 *                                               is built, before it waits
 *   poststart                                  `start`, after the release
 *   poststop                                   `delete`
 *
 * All of those run in the runtime's namespaces, as moat's caller:
 * createContainer ones too (after the network namespace exists, which is
 * what they are used for; the sandbox's other namespaces are its kernel's,
 * which host programs cannot enter). startContainer hooks are programs of
 * the container's, run by the sandbox's kernel as processes inside it after
 * `start`, before the first process's program (sandbox.c,
 * run_start_hooks), as runc runs them in the container.
 *
 * The hooks are saved in the container's state directory at create, so
 * `start` and `delete` do not depend on the bundle still being there.
 */
#ifndef MOAT_OCI_HOOKS_H
#define MOAT_OCI_HOOKS_H

#include <stddef.h>

#include "oci/err.h"
#include "oci/json.h"
#include "oci/state.h"

#define OCI_HOOKS_FILE "hooks.json"

enum oci_hook_kind {
    OCI_HOOK_PRESTART,
    OCI_HOOK_CREATE_RUNTIME,
    OCI_HOOK_CREATE_CONTAINER,
    OCI_HOOK_START_CONTAINER,
    OCI_HOOK_POSTSTART,
    OCI_HOOK_POSTSTOP,
    OCI_HOOK_MAX
};

struct oci_hook {
    char *path;    /* absolute */
    char **args;   /* NULL-terminated; NULL: { path } */
    char **env;    /* NULL-terminated; NULL: empty */
    int timeout;   /* seconds; 0: none */
};

struct oci_hooks {
    struct oci_hook *list[OCI_HOOK_MAX];
    size_t len[OCI_HOOK_MAX];
};

const char *oci_hook_name(enum oci_hook_kind k);

/* Parses a runtime-spec "hooks" object (NULL: none). FILE names the
 * document in errors ("config.json"). <0 with *err set. */
int oci_hooks_parse(const struct json *hooks, const char *file, struct oci_hooks *out,
                    struct rt_err **err);
void oci_hooks_free(struct oci_hooks *h);
bool oci_hooks_empty(const struct oci_hooks *h);

/* Saves HOOKS (the "hooks" object of config.json; NULL: nothing) as
 * OCI_HOOKS_FILE in the container's directory. */
int oci_hooks_save(struct oci_container *c, const struct json *hooks, struct rt_err **err);
/* Loads what oci_hooks_save saved; none if there is no file. */
int oci_hooks_load(struct oci_container *c, struct oci_hooks *out, struct rt_err **err);

/* Runs the hooks of kind K in order, each with S (status ST) on stdin,
 * waiting for each (up to its timeout, then SIGKILL). Stops at the first
 * that fails: <0 with *err naming it (hooks.KIND[i]), its path and how it
 * failed. */
int oci_hooks_run(const struct oci_hooks *h, enum oci_hook_kind k, const struct oci_state *s,
                  enum oci_status st, struct rt_err **err);

#endif
