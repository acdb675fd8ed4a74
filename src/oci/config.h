/*
 * config.json (OCI runtime-spec 1.x) as moat uses it. Parsing validates
 * every field moat reads and names the field at fault; fields moat does
 * not implement yet produce a warning naming them.
 */
#ifndef MOAT_OCI_CONFIG_H
#define MOAT_OCI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oci/err.h"
#include "oci/hooks.h"
#include "oci/json.h"
#include "oci/seccomp_profile.h"

enum oci_mount_kind {
    OCI_MOUNT_BUILTIN, /* already provided by the sandbox's kernel (proc, sysfs, /dev ...) */
    OCI_MOUNT_TMPFS,
    OCI_MOUNT_BIND,
    OCI_MOUNT_IGNORED, /* unsupported type: warned about and skipped */
    OCI_MOUNT_KIND_MAX
};

struct oci_mount {
    char *destination; /* absolute path in the container */
    char *type;        /* "" when absent */
    char *source;      /* for binds: absolute host path (resolved against the bundle) */
    enum oci_mount_kind kind;
    bool readonly;
    unsigned mnt_flags;  /* VFS_MNT_* of the options (nosuid, nodev, noexec, atime flags) */
    uint32_t tmpfs_mode; /* tmpfs mode= option, default 01777 */
};

struct oci_rlimit {
    int resource; /* RLIMIT_* */
    uint64_t soft, hard;
};

enum oci_ns_type {
    OCI_NS_PID, OCI_NS_NETWORK, OCI_NS_MOUNT, OCI_NS_IPC, OCI_NS_UTS, OCI_NS_USER,
    OCI_NS_CGROUP, OCI_NS_TIME, OCI_NS_MAX
};

struct oci_namespace {
    enum oci_ns_type type;
    char *path; /* NULL: a new one */
};

/* linux.resources as moat applies them: a host cgroup of the whole sandbox
 * (src/sandbox/cgroup.h), plus the kernel's own accounting for memory and
 * tasks. 0: unset; -1: unlimited. */
struct oci_resources {
    int64_t memory_limit; /* memory.limit, bytes */
    int64_t memory_swap;  /* memory.swap: memory + swap, bytes */
    int64_t pids_limit;   /* pids.limit */
    uint64_t cpu_shares;  /* cpu.shares */
    int64_t cpu_quota;    /* cpu.quota, microseconds per period */
    uint64_t cpu_period;  /* cpu.period, microseconds */
};

struct oci_config {
    struct json *doc;        /* the whole document */
    char *oci_version;
    char *bundle;            /* absolute */
    /* process */
    char **args;             /* NULL-terminated */
    char **env;              /* NULL-terminated */
    char *cwd;
    uint32_t uid, gid;
    uint32_t *additional_gids;   /* process.user.additionalGids */
    size_t additional_gids_len;
    bool has_caps;           /* process.capabilities present */
    uint64_t cap_bounding, cap_effective, cap_inheritable, cap_permitted, cap_ambient;
    bool terminal;
    bool no_new_privileges;
    struct oci_rlimit *rlimits;
    size_t rlimits_len;
    /* root */
    char *rootfs;            /* absolute host path */
    bool root_readonly;
    char *hostname;          /* NULL if absent */
    char *domainname;        /* NULL if absent */
    /* linux.sysctl: key, value, key, value ... (strings in DOC), checked
     * against the namespaces moat's sandbox has its own of. */
    const char **sysctl;
    size_t sysctl_len;       /* pairs */
    struct oci_mount *mounts;
    size_t mounts_len;
    struct oci_namespace *namespaces;
    size_t namespaces_len;
    /* The network namespace the sandbox's host sockets live in: none in
     * linux.namespaces is the caller's (runc's rule), one without a path a
     * new one with only lo up, one with a path that namespace (Docker's,
     * CNI's). */
    bool netns_new;
    const char *netns_path;  /* in NAMESPACES; NULL unless joining */
    struct oci_hooks hooks;
    struct oci_resources resources;
    char *cgroups_path;      /* linux.cgroupsPath; NULL if absent */
    struct oci_seccomp seccomp; /* linux.seccomp compiled; prog NULL if absent */
    const struct json *annotations; /* in DOC; NULL if absent */
};

/* Loads BUNDLE/config.json. *out is new (oci_config_free). <0 with *err set. */
int oci_config_load(const char *bundle, struct oci_config **out, struct rt_err **err);
void oci_config_free(struct oci_config *c);
/* Loads a runtime-spec process object from PATH (`exec --process`): fills
 * the process fields of a new *out. <0 with *err set. */
int oci_process_load(const char *path, struct oci_config **out, struct rt_err **err);

const char *oci_ns_name(enum oci_ns_type t);
/* Frees a NULL-terminated string array and its strings (NULL is fine). */
void oci_strv_free(char **v);

/* Parses a runtime-spec linux.resources object RES (FIELD names it in
 * errors: "linux.resources", or the file `moat update -r` reads). Fields
 * moat cannot apply are warned about by name. <0 with *err set. */
int oci_resources_parse(const struct json *res, const char *field, struct oci_resources *out,
                        struct rt_err **err);

#endif
