/* Parsing and validation of config.json. */
#include "oci/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/vfs/vfs_fs.h"

#define CONFIG_MAX_SIZE (16 << 20)

static const char *const g_ns_names[OCI_NS_MAX] = {
        [OCI_NS_PID] = "pid",   [OCI_NS_NETWORK] = "network", [OCI_NS_MOUNT] = "mount",
        [OCI_NS_IPC] = "ipc",   [OCI_NS_UTS] = "uts",         [OCI_NS_USER] = "user",
        [OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time"};

const char *oci_ns_name(enum oci_ns_type t)
{
    return t < OCI_NS_MAX ? g_ns_names[t] : "?";
}

static const struct {
    const char *name;
    int resource;
} g_rlimits[] = {
        {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},
        {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_DATA", RLIMIT_DATA},
        {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
        {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
        {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
        {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
};

/* ---- typed accessors: each names the field in its error ---- */

static int want_type(const struct json *j, enum json_type t, const char *field,
                     struct rt_err **err)
{
    if (j->type != t)
        return rt_err_make(err, 0, "config.json: %s: must be %s, not %s", field,
                           json_type_name(t), json_type_name(j->type));
    return 0;
}

/* *out = a copy of string member KEY of OBJ, or NULL if absent. */
static int get_string(const struct json *obj, const char *key, const char *field, char **out,
                      struct rt_err **err)
{
    *out = NULL;
    const struct json *j = json_get(obj, key);
    if (!j)
        return 0;
    int r = want_type(j, JSON_STRING, field, err);
    if (r < 0)
        return r;
    *out = strdup(j->str);
    return *out ? 0 : rt_err_make(err, ENOMEM, "config.json: %s", field);
}

static int get_bool(const struct json *obj, const char *key, const char *field, bool *out,
                    struct rt_err **err)
{
    const struct json *j = json_get(obj, key);
    if (!j)
        return 0;
    int r = want_type(j, JSON_BOOL, field, err);
    if (r == 0)
        *out = j->boolean;
    return r;
}

static int get_u32(const struct json *obj, const char *key, const char *field, uint32_t *out,
                   struct rt_err **err)
{
    const struct json *j = json_get(obj, key);
    if (!j)
        return 0;
    int r = want_type(j, JSON_NUMBER, field, err);
    if (r < 0)
        return r;
    if (!j->is_int || j->integer < 0 || j->integer > UINT32_MAX)
        return rt_err_make(err, 0, "config.json: %s: must be an integer from 0 to %u", field,
                           UINT32_MAX);
    *out = (uint32_t)j->integer;
    return 0;
}

static int get_u64(const struct json *j, const char *field, uint64_t *out, struct rt_err **err)
{
    int r = want_type(j, JSON_NUMBER, field, err);
    if (r < 0)
        return r;
    if (!j->is_int)
        return rt_err_make(err, 0, "config.json: %s: must be an integer", field);
    *out = (uint64_t)j->integer;
    return 0;
}

/* A NULL-terminated copy of the string array member KEY (NULL if absent). */
static int get_string_array(const struct json *obj, const char *key, const char *field,
                            char ***out, struct rt_err **err)
{
    *out = NULL;
    const struct json *j = json_get(obj, key);
    if (!j || j->type == JSON_NULL)
        return 0;
    int r = want_type(j, JSON_ARRAY, field, err);
    if (r < 0)
        return r;
    char **v = calloc(j->len + 1, sizeof(*v));
    if (!v)
        return rt_err_make(err, ENOMEM, "config.json: %s", field);
    for (size_t i = 0; i < j->len; i++) {
        if (j->items[i]->type != JSON_STRING) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return rt_err_make(err, 0, "config.json: %s[%zu]: must be a string, not %s", field,
                               i, json_type_name(j->items[i]->type));
        }
        v[i] = strdup(j->items[i]->str);
    }
    *out = v;
    return 0;
}

void oci_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Warns about members of OBJ (at FIELD) that moat does not know. */
static void warn_unknown(const struct json *obj, const char *field, const char *const *known)
{
    if (!obj || obj->type != JSON_OBJECT)
        return;
    for (size_t i = 0; i < obj->len; i++) {
        bool found = false;
        for (const char *const *k = known; *k; k++)
            if (strcmp(*k, obj->items[i]->key) == 0)
                found = true;
        if (!found)
            rt_warn("config.json: %s%s%s: not supported by moat yet, ignored", field,
                    *field ? "." : "", obj->items[i]->key);
    }
}

/* ---- sections ---- */

static const char *const g_cap_names[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

/* process.capabilities: each set a list of "CAP_*" names; a missing set is
 * empty. Unknown names are ignored with a warning, as runc does. */
static int parse_capabilities(struct oci_config *c, const struct json *caps,
                              struct rt_err **err)
{
    if (!caps || caps->type == JSON_NULL)
        return 0;
    int r = want_type(caps, JSON_OBJECT, "process.capabilities", err);
    if (r < 0)
        return r;
    static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted",
                                       "ambient", NULL};
    uint64_t *out[] = {&c->cap_bounding, &c->cap_effective, &c->cap_inheritable,
                       &c->cap_permitted, &c->cap_ambient};
    warn_unknown(caps, "process.capabilities", sets);
    c->has_caps = true;
    for (size_t s = 0; sets[s]; s++) {
        char field[64];
        snprintf(field, sizeof(field), "process.capabilities.%s", sets[s]);
        char **names;
        if ((r = get_string_array(caps, sets[s], field, &names, err)) < 0)
            return r;
        *out[s] = 0;
        for (size_t i = 0; names && names[i]; i++) {
            size_t k = 0;
            while (k < sizeof(g_cap_names) / sizeof(g_cap_names[0]) &&
                   strcmp(g_cap_names[k], names[i]) != 0)
                k++;
            if (k < sizeof(g_cap_names) / sizeof(g_cap_names[0]))
                *out[s] |= 1ULL << k;
            else
                rt_warn("config.json: %s: unknown capability `%s`, ignored", field, names[i]);
        }
        oci_strv_free(names);
    }
    return 0;
}

static int parse_process(struct oci_config *c, const struct json *proc, struct rt_err **err)
{
    int r;
    if (!proc)
        return rt_err_make(err, 0, "config.json: process: missing");
    if ((r = want_type(proc, JSON_OBJECT, "process", err)) < 0)
        return r;
    if ((r = get_string_array(proc, "args", "process.args", &c->args, err)) < 0)
        return r;
    if (!c->args || !c->args[0])
        return rt_err_make(err, 0, "config.json: process.args: must name the program to run");
    if ((r = get_string_array(proc, "env", "process.env", &c->env, err)) < 0)
        return r;
    if (!c->env && !(c->env = calloc(1, sizeof(char *))))
        return rt_err_make(err, ENOMEM, "config.json: process.env");
    for (size_t i = 0; c->env[i]; i++)
        if (!strchr(c->env[i], '='))
            return rt_err_make(err, 0, "config.json: process.env[%zu]: `%s` is not NAME=VALUE",
                               i, c->env[i]);
    if ((r = get_string(proc, "cwd", "process.cwd", &c->cwd, err)) < 0)
        return r;
    if (!c->cwd)
        return rt_err_make(err, 0, "config.json: process.cwd: missing");
    if (c->cwd[0] != '/')
        return rt_err_make(err, 0, "config.json: process.cwd: `%s` is not an absolute path",
                           c->cwd);
    if ((r = get_bool(proc, "terminal", "process.terminal", &c->terminal, err)) < 0)
        return r;
    if ((r = get_bool(proc, "noNewPrivileges", "process.noNewPrivileges",
                      &c->no_new_privileges, err)) < 0)
        return r;
    const struct json *user = json_get(proc, "user");
    if (user) {
        if ((r = want_type(user, JSON_OBJECT, "process.user", err)) < 0)
            return r;
        if ((r = get_u32(user, "uid", "process.user.uid", &c->uid, err)) < 0 ||
            (r = get_u32(user, "gid", "process.user.gid", &c->gid, err)) < 0)
            return r;
        static const char *const known_user[] = {"uid", "gid", "umask", "additionalGids",
                                                  NULL};
        warn_unknown(user, "process.user", known_user);
        const struct json *ag = json_get(user, "additionalGids");
        if (ag && ag->type != JSON_NULL) {
            if ((r = want_type(ag, JSON_ARRAY, "process.user.additionalGids", err)) < 0)
                return r;
            c->additional_gids = calloc(ag->len ? ag->len : 1, sizeof(uint32_t));
            if (!c->additional_gids)
                return rt_err_make(err, ENOMEM, "config.json: process.user.additionalGids");
            for (size_t i = 0; i < ag->len; i++) {
                const struct json *g = ag->items[i];
                if (g->type != JSON_NUMBER || !g->is_int || g->integer < 0 ||
                    g->integer > UINT32_MAX)
                    return rt_err_make(err, 0,
                                       "config.json: process.user.additionalGids[%zu]: must be "
                                       "an integer from 0 to %u",
                                       i, UINT32_MAX);
                c->additional_gids[c->additional_gids_len++] = (uint32_t)g->integer;
            }
        }
        if (json_get(user, "username"))
            rt_warn("config.json: process.user.username: ignored (Linux uses uid and gid)");
    }
    const struct json *rl = json_get(proc, "rlimits");
    if (rl && rl->type != JSON_NULL) {
        if ((r = want_type(rl, JSON_ARRAY, "process.rlimits", err)) < 0)
            return r;
        c->rlimits = calloc(rl->len ? rl->len : 1, sizeof(*c->rlimits));
        if (!c->rlimits)
            return rt_err_make(err, ENOMEM, "config.json: process.rlimits");
        for (size_t i = 0; i < rl->len; i++) {
            char field[64];
            const struct json *e = rl->items[i];
            snprintf(field, sizeof(field), "process.rlimits[%zu]", i);
            if ((r = want_type(e, JSON_OBJECT, field, err)) < 0)
                return r;
            const struct json *type = json_get(e, "type");
            if (!type || type->type != JSON_STRING)
                return rt_err_make(err, 0, "config.json: %s.type: must be a string", field);
            int res = -1;
            for (size_t k = 0; k < sizeof(g_rlimits) / sizeof(g_rlimits[0]); k++)
                if (strcmp(g_rlimits[k].name, type->str) == 0)
                    res = g_rlimits[k].resource;
            if (res < 0)
                return rt_err_make(err, 0, "config.json: %s.type: unknown rlimit `%s`", field,
                                   type->str);
            struct oci_rlimit *o = &c->rlimits[c->rlimits_len++];
            o->resource = res;
            const struct json *soft = json_get(e, "soft"), *hard = json_get(e, "hard");
            char f2[80];
            snprintf(f2, sizeof(f2), "%s.soft", field);
            if (!soft || (r = get_u64(soft, f2, &o->soft, err)) < 0)
                return soft ? r : rt_err_make(err, 0, "config.json: %s: missing", f2);
            snprintf(f2, sizeof(f2), "%s.hard", field);
            if (!hard || (r = get_u64(hard, f2, &o->hard, err)) < 0)
                return hard ? r : rt_err_make(err, 0, "config.json: %s: missing", f2);
            if (o->soft > o->hard)
                return rt_err_make(err, 0, "config.json: %s: soft limit above the hard limit",
                                   field);
        }
    }
    if ((r = parse_capabilities(c, json_get(proc, "capabilities"), err)) < 0)
        return r;
    if (c->terminal && json_get(proc, "consoleSize"))
        rt_debug("process.consoleSize: applied by the console socket's owner");
    static const char *const known[] = {"args", "env", "cwd", "user", "terminal",
                                        "noNewPrivileges", "rlimits", "consoleSize",
                                        "capabilities", "apparmorProfile", "selinuxLabel",
                                        "oomScoreAdj", NULL};
    warn_unknown(proc, "process", known);
    return 0;
}

static int parse_root(struct oci_config *c, const struct json *root, struct rt_err **err)
{
    int r;
    if (!root)
        return rt_err_make(err, 0, "config.json: root: missing");
    if ((r = want_type(root, JSON_OBJECT, "root", err)) < 0)
        return r;
    char *path;
    if ((r = get_string(root, "path", "root.path", &path, err)) < 0)
        return r;
    if (!path || !*path) {
        free(path);
        return rt_err_make(err, 0, "config.json: root.path: missing");
    }
    if (path[0] == '/') {
        c->rootfs = path;
    } else {
        if (asprintf(&c->rootfs, "%s/%s", c->bundle, path) < 0)
            c->rootfs = NULL;
        free(path);
        if (!c->rootfs)
            return rt_err_make(err, ENOMEM, "config.json: root.path");
    }
    struct stat st;
    if (stat(c->rootfs, &st) < 0)
        return rt_err_make(err, errno, "config.json: root.path: `%s`", c->rootfs);
    if (!S_ISDIR(st.st_mode))
        return rt_err_make(err, ENOTDIR, "config.json: root.path: `%s`", c->rootfs);
    return get_bool(root, "readonly", "root.readonly", &c->root_readonly, err);
}

static bool has_option(const struct json *opts, const char *o)
{
    for (size_t i = 0; opts && i < opts->len; i++)
        if (opts->items[i]->type == JSON_STRING && strcmp(opts->items[i]->str, o) == 0)
            return true;
    return false;
}

/* Destinations the sandbox's kernel mounts itself (vfs_init): an OCI mount
 * of the same type there is already satisfied. */
static bool is_builtin(const char *type, const char *dest)
{
    static const struct {
        const char *type, *dest;
    } builtin[] = {
            {"proc", "/proc"},         {"sysfs", "/sys"},         {"tmpfs", "/dev"},
            {"devpts", "/dev/pts"},    {"tmpfs", "/dev/shm"},     {"bind", "/dev/shm"},
            {"mqueue", "/dev/mqueue"}, {"cgroup", "/sys/fs/cgroup"},
            {"cgroup2", "/sys/fs/cgroup"},
    };
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        if (strcmp(builtin[i].type, type) == 0 && strcmp(builtin[i].dest, dest) == 0)
            return true;
    return false;
}

static int parse_mount(struct oci_config *c, const struct json *m, size_t i, struct oci_mount *o,
                       struct rt_err **err)
{
    char field[64];
    int r;
    snprintf(field, sizeof(field), "mounts[%zu]", i);
    if ((r = want_type(m, JSON_OBJECT, field, err)) < 0)
        return r;
    char f2[96];
    snprintf(f2, sizeof(f2), "%s.destination", field);
    if ((r = get_string(m, "destination", f2, &o->destination, err)) < 0)
        return r;
    if (!o->destination || o->destination[0] != '/')
        return rt_err_make(err, 0, "config.json: %s: %s", f2,
                           o->destination ? "must be an absolute path" : "missing");
    snprintf(f2, sizeof(f2), "%s.type", field);
    if ((r = get_string(m, "type", f2, &o->type, err)) < 0)
        return r;
    if (!o->type && !(o->type = strdup("")))
        return rt_err_make(err, ENOMEM, "config.json: %s", f2);
    char *source;
    snprintf(f2, sizeof(f2), "%s.source", field);
    if ((r = get_string(m, "source", f2, &source, err)) < 0)
        return r;
    const struct json *opts = json_get(m, "options");
    if (opts && opts->type != JSON_NULL) {
        snprintf(f2, sizeof(f2), "%s.options", field);
        if ((r = want_type(opts, JSON_ARRAY, f2, err)) < 0) {
            free(source);
            return r;
        }
    }
    bool bind = has_option(opts, "bind") || has_option(opts, "rbind") ||
                strcmp(o->type, "bind") == 0;
    o->readonly = has_option(opts, "ro");
    /* Per-mount flags, as runc maps them to MS_* (the last of "ro"/"rw" and
     * of the atime options wins there; moat reads each once). */
    static const struct {
        const char *name;
        unsigned flag;
    } flag_opts[] = {{"nosuid", VFS_MNT_NOSUID},         {"nodev", VFS_MNT_NODEV},
                     {"noexec", VFS_MNT_NOEXEC},         {"noatime", VFS_MNT_NOATIME},
                     {"nodiratime", VFS_MNT_NODIRATIME}, {"relatime", VFS_MNT_RELATIME},
                     {"nosymfollow", VFS_MNT_NOSYMFOLLOW}};
    o->mnt_flags = 0;
    for (size_t k = 0; k < sizeof(flag_opts) / sizeof(flag_opts[0]); k++)
        if (has_option(opts, flag_opts[k].name))
            o->mnt_flags |= flag_opts[k].flag;
    o->tmpfs_mode = 01777;
    for (size_t k = 0; opts && k < opts->len; k++) {
        const struct json *op = opts->items[k];
        if (op->type == JSON_STRING && strncmp(op->str, "mode=", 5) == 0)
            o->tmpfs_mode = (uint32_t)strtoul(op->str + 5, NULL, 8) & 07777;
    }
    if (bind) {
        o->kind = OCI_MOUNT_BIND;
        if (!source || !*source) {
            free(source);
            return rt_err_make(err, 0, "config.json: %s.source: missing for a bind mount",
                               field);
        }
        if (source[0] == '/') {
            o->source = source;
        } else {
            if (asprintf(&o->source, "%s/%s", c->bundle, source) < 0)
                o->source = NULL;
            free(source);
            if (!o->source)
                return rt_err_make(err, ENOMEM, "config.json: %s.source", field);
        }
        struct stat st;
        if (stat(o->source, &st) < 0)
            return rt_err_make(err, errno, "config.json: %s.source: `%s`", field, o->source);
        if (is_builtin("bind", o->destination))
            o->kind = OCI_MOUNT_BUILTIN;
        return 0;
    }
    o->source = source;
    if (is_builtin(o->type, o->destination))
        o->kind = OCI_MOUNT_BUILTIN;
    else if (strcmp(o->type, "tmpfs") == 0)
        o->kind = OCI_MOUNT_TMPFS;
    else if (!*o->type)
        return rt_err_make(err, 0, "config.json: %s.type: missing", field);
    else {
        o->kind = OCI_MOUNT_IGNORED;
        rt_warn("config.json: %s: type `%s` on `%s` is not supported by moat yet, skipped",
                field, o->type, o->destination);
    }
    return 0;
}

static int parse_mounts(struct oci_config *c, const struct json *mounts, struct rt_err **err)
{
    int r;
    if (!mounts || mounts->type == JSON_NULL)
        return 0;
    if ((r = want_type(mounts, JSON_ARRAY, "mounts", err)) < 0)
        return r;
    c->mounts = calloc(mounts->len ? mounts->len : 1, sizeof(*c->mounts));
    if (!c->mounts)
        return rt_err_make(err, ENOMEM, "config.json: mounts");
    for (size_t i = 0; i < mounts->len; i++) {
        r = parse_mount(c, mounts->items[i], i, &c->mounts[i], err);
        c->mounts_len = i + 1;
        if (r < 0)
            return r;
    }
    return 0;
}

/* Integer member KEY of OBJ as int64 (absent: *out unchanged; null: 0). */
static int get_i64(const struct json *obj, const char *key, const char *field, int64_t *out,
                   struct rt_err **err)
{
    const struct json *j = json_get(obj, key);
    if (!j || j->type == JSON_NULL)
        return 0;
    int r = want_type(j, JSON_NUMBER, field, err);
    if (r < 0)
        return r;
    if (!j->is_int)
        return rt_err_make(err, 0, "config.json: %s: must be an integer", field);
    *out = j->integer;
    return 0;
}

int oci_resources_parse(const struct json *res, const char *field, struct oci_resources *out,
                        struct rt_err **err)
{
    memset(out, 0, sizeof(*out));
    if (!res || res->type == JSON_NULL)
        return 0;
    int r;
    if ((r = want_type(res, JSON_OBJECT, field, err)) < 0)
        return r;
    char f[128];
    const struct json *mem = json_get(res, "memory");
    if (mem && mem->type != JSON_NULL) {
        snprintf(f, sizeof(f), "%s.memory", field);
        if ((r = want_type(mem, JSON_OBJECT, f, err)) < 0)
            return r;
        snprintf(f, sizeof(f), "%s.memory.limit", field);
        if ((r = get_i64(mem, "limit", f, &out->memory_limit, err)) < 0)
            return r;
        snprintf(f, sizeof(f), "%s.memory.swap", field);
        if ((r = get_i64(mem, "swap", f, &out->memory_swap, err)) < 0)
            return r;
        if (out->memory_limit < -1 || out->memory_swap < -1)
            return rt_err_make(err, 0, "config.json: %s.memory: limits must be -1 or positive",
                               field);
        if (out->memory_limit > 0 && out->memory_limit < (1 << 20))
            return rt_err_make(err, 0, "config.json: %s.memory.limit: %lld is below 1 MiB",
                               field, (long long)out->memory_limit);
        if (out->memory_swap > 0 && out->memory_limit > 0 && out->memory_swap < out->memory_limit)
            return rt_err_make(err, 0,
                               "config.json: %s.memory.swap: must be at least memory.limit (it is memory + swap)",
                               field);
        static const char *const known[] = {"limit", "swap", NULL};
        snprintf(f, sizeof(f), "%s.memory", field);
        warn_unknown(mem, f, known);
    }
    const struct json *pids = json_get(res, "pids");
    if (pids && pids->type != JSON_NULL) {
        snprintf(f, sizeof(f), "%s.pids", field);
        if ((r = want_type(pids, JSON_OBJECT, f, err)) < 0)
            return r;
        snprintf(f, sizeof(f), "%s.pids.limit", field);
        if ((r = get_i64(pids, "limit", f, &out->pids_limit, err)) < 0)
            return r;
        if (out->pids_limit < 0)
            out->pids_limit = -1; /* runc: no limit */
        static const char *const known[] = {"limit", NULL};
        snprintf(f, sizeof(f), "%s.pids", field);
        warn_unknown(pids, f, known);
    }
    const struct json *cpu = json_get(res, "cpu");
    if (cpu && cpu->type != JSON_NULL) {
        snprintf(f, sizeof(f), "%s.cpu", field);
        if ((r = want_type(cpu, JSON_OBJECT, f, err)) < 0)
            return r;
        int64_t shares = 0, period = 0;
        snprintf(f, sizeof(f), "%s.cpu.shares", field);
        if ((r = get_i64(cpu, "shares", f, &shares, err)) < 0)
            return r;
        snprintf(f, sizeof(f), "%s.cpu.quota", field);
        if ((r = get_i64(cpu, "quota", f, &out->cpu_quota, err)) < 0)
            return r;
        snprintf(f, sizeof(f), "%s.cpu.period", field);
        if ((r = get_i64(cpu, "period", f, &period, err)) < 0)
            return r;
        if (shares < 0 || period < 0 || out->cpu_quota < -1)
            return rt_err_make(err, 0, "config.json: %s.cpu: shares, quota and period must be positive (quota: or -1)",
                               field);
        out->cpu_shares = (uint64_t)shares;
        out->cpu_period = (uint64_t)period;
        /* cpus/mems (cpusets) and the realtime fields: not applied. */
        static const char *const known[] = {"shares", "quota", "period", NULL};
        snprintf(f, sizeof(f), "%s.cpu", field);
        warn_unknown(cpu, f, known);
    }
    /* devices: the sandbox's devices are emulated by moat's kernel, no host
     * device is reachable, so the device cgroup has nothing to guard. */
    static const char *const known[] = {"memory", "pids", "cpu", "devices", NULL};
    warn_unknown(res, field, known);
    return 0;
}

/* linux.sysctl: the keys runc accepts (those of a namespace the container
 * has its own of), refused by name otherwise. moat's sandbox always has
 * its own IPC and UTS namespaces (its kernel's); net.* ones need a network
 * namespace in linux.namespaces, as with runc. */
static int parse_sysctl(struct oci_config *c, const struct json *sc, struct rt_err **err)
{
    if (!sc)
        return 0;
    int r = want_type(sc, JSON_OBJECT, "linux.sysctl", err);
    if (r < 0)
        return r;
    static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                      "kernel.sem", "kernel.shmall", "kernel.shmmax",
                                      "kernel.shmmni", "kernel.shm_rmid_forced", NULL};
    c->sysctl = calloc(sc->len * 2 + 1, sizeof(char *));
    if (!c->sysctl)
        return rt_err_make(err, ENOMEM, "config.json: linux.sysctl");
    for (size_t i = 0; i < sc->len; i++) {
        const struct json *m = sc->items[i];
        const char *k = m->key;
        char field[300];
        snprintf(field, sizeof(field), "linux.sysctl.%s", k);
        if ((r = want_type(m, JSON_STRING, field, err)) < 0)
            return r;
        bool ok = strncmp(k, "fs.mqueue.", 10) == 0 || strcmp(k, "kernel.domainname") == 0;
        for (size_t j = 0; !ok && ipc[j]; j++)
            ok = strcmp(k, ipc[j]) == 0;
        if (strcmp(k, "kernel.hostname") == 0)
            return rt_err_make(err, 0, "config.json: linux.sysctl: `%s` conflicts with the "
                               "`hostname` field", k);
        if (strncmp(k, "net.", 4) == 0) {
            if (!c->netns_new && !c->netns_path)
                return rt_err_make(err, 0, "config.json: linux.sysctl: `%s` is not allowed in "
                                   "the host's network namespace", k);
            ok = true;
        }
        if (!ok)
            return rt_err_make(err, 0, "config.json: linux.sysctl: `%s` is not in a separate "
                               "kernel namespace", k);
        c->sysctl[c->sysctl_len * 2] = k;
        c->sysctl[c->sysctl_len * 2 + 1] = m->str;
        c->sysctl_len++;
    }
    return 0;
}

static int parse_linux(struct oci_config *c, const struct json *lx, struct rt_err **err)
{
    int r;
    if (!lx)
        return 0;
    if ((r = want_type(lx, JSON_OBJECT, "linux", err)) < 0)
        return r;
    const struct json *ns = json_get(lx, "namespaces");
    if (ns && ns->type != JSON_NULL) {
        if ((r = want_type(ns, JSON_ARRAY, "linux.namespaces", err)) < 0)
            return r;
        c->namespaces = calloc(ns->len ? ns->len : 1, sizeof(*c->namespaces));
        if (!c->namespaces)
            return rt_err_make(err, ENOMEM, "config.json: linux.namespaces");
        for (size_t i = 0; i < ns->len; i++) {
            const struct json *e = ns->items[i];
            char field[64];
            snprintf(field, sizeof(field), "linux.namespaces[%zu]", i);
            if ((r = want_type(e, JSON_OBJECT, field, err)) < 0)
                return r;
            const struct json *type = json_get(e, "type");
            if (!type || type->type != JSON_STRING)
                return rt_err_make(err, 0, "config.json: %s.type: must be a string", field);
            int t = -1;
            for (int k = 0; k < OCI_NS_MAX; k++)
                if (strcmp(g_ns_names[k], type->str) == 0)
                    t = k;
            if (t < 0)
                return rt_err_make(err, 0, "config.json: %s.type: unknown namespace type `%s`",
                                   field, type->str);
            for (size_t k = 0; k < c->namespaces_len; k++)
                if ((int)c->namespaces[k].type == t)
                    return rt_err_make(err, 0, "config.json: %s.type: namespace `%s` listed twice",
                                       field, type->str);
            struct oci_namespace *o = &c->namespaces[c->namespaces_len++];
            o->type = (enum oci_ns_type)t;
            char f2[80];
            snprintf(f2, sizeof(f2), "%s.path", field);
            if ((r = get_string(e, "path", f2, &o->path, err)) < 0)
                return r;
            if (o->path && *o->path) {
                if (access(o->path, F_OK) < 0)
                    return rt_err_make(err, errno, "config.json: %s: `%s`", f2, o->path);
                if (t == OCI_NS_NETWORK)
                    c->netns_path = o->path;
                else
                    rt_warn("config.json: %s: joining the %s namespace `%s` is not supported; the sandbox's kernel has its own",
                            f2, type->str, o->path);
            } else if (t == OCI_NS_NETWORK) {
                c->netns_new = true;
            }
        }
    }
    if ((r = oci_resources_parse(json_get(lx, "resources"), "linux.resources", &c->resources,
                                 err)) < 0)
        return r;
    if ((r = get_string(lx, "cgroupsPath", "linux.cgroupsPath", &c->cgroups_path, err)) < 0)
        return r;
    if ((r = oci_seccomp_compile(json_get(lx, "seccomp"), "linux.seccomp", &c->seccomp, err)) < 0)
        return r;
    if ((r = parse_sysctl(c, json_get(lx, "sysctl"), err)) < 0)
        return r;
    static const char *const known[] = {"namespaces", "resources", "cgroupsPath", "maskedPaths",
                                        "readonlyPaths", "uidMappings", "gidMappings",
                                        "seccomp", "devices", "sysctl", "rootfsPropagation",
                                        "mountLabel", "intelRdt", "personality", NULL};
    warn_unknown(lx, "linux", known);
    return 0;
}

static int read_config(const char *path, char **out, size_t *out_len, struct rt_err **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rt_err_make(err, errno, "bundle: cannot open `%s`", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size > CONFIG_MAX_SIZE) {
        int e = errno ? errno : EFBIG;
        close(fd);
        return rt_err_make(err, e, "bundle: `%s`", path);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t len = 0;
    while (buf && len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return rt_err_make(err, e, "bundle: reading `%s`", path);
        }
        len += (size_t)n;
    }
    close(fd);
    if (!buf)
        return rt_err_make(err, ENOMEM, "bundle: `%s`", path);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

int oci_config_load(const char *bundle, struct oci_config **out, struct rt_err **err)
{
    struct oci_config *c = calloc(1, sizeof(*c));
    if (!c)
        return rt_err_make(err, ENOMEM, "config.json");
    char abs[PATH_MAX];
    int r;
    if (!realpath(bundle, abs)) {
        r = rt_err_make(err, errno, "bundle: `%s`", bundle);
        goto fail;
    }
    c->bundle = strdup(abs);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/config.json", abs);
    char *text = NULL;
    size_t len = 0;
    if ((r = read_config(path, &text, &len, err)) < 0)
        goto fail;
    char perr[256];
    r = json_parse(text, len, &c->doc, perr, sizeof(perr));
    free(text);
    if (r < 0) {
        r = rt_err_make(err, 0, "config.json: invalid JSON: %s", perr);
        goto fail;
    }
    if ((r = want_type(c->doc, JSON_OBJECT, "the document", err)) < 0)
        goto fail;
    if ((r = get_string(c->doc, "ociVersion", "ociVersion", &c->oci_version, err)) < 0)
        goto fail;
    if (!c->oci_version) {
        r = rt_err_make(err, 0, "config.json: ociVersion: missing");
        goto fail;
    }
    if (strncmp(c->oci_version, "1.", 2) != 0) {
        r = rt_err_make(err, 0, "config.json: ociVersion: `%s` is not 1.x", c->oci_version);
        goto fail;
    }
    if ((r = parse_process(c, json_get(c->doc, "process"), err)) < 0)
        goto fail;
    if ((r = parse_root(c, json_get(c->doc, "root"), err)) < 0)
        goto fail;
    if ((r = get_string(c->doc, "hostname", "hostname", &c->hostname, err)) < 0)
        goto fail;
    if ((r = get_string(c->doc, "domainname", "domainname", &c->domainname, err)) < 0)
        goto fail;
    if ((r = parse_mounts(c, json_get(c->doc, "mounts"), err)) < 0)
        goto fail;
    if ((r = parse_linux(c, json_get(c->doc, "linux"), err)) < 0)
        goto fail;
    c->annotations = json_get(c->doc, "annotations");
    if (c->annotations && c->annotations->type != JSON_OBJECT) {
        r = rt_err_make(err, 0, "config.json: annotations: must be an object");
        goto fail;
    }
    for (size_t i = 0; c->annotations && i < c->annotations->len; i++)
        if (c->annotations->items[i]->type != JSON_STRING) {
            r = rt_err_make(err, 0, "config.json: annotations.%s: must be a string",
                            c->annotations->items[i]->key);
            goto fail;
        }
    static const char *const known[] = {"ociVersion", "process", "root", "hostname",
                                        "domainname", "mounts", "linux", "annotations",
                                        "hooks", NULL};
    warn_unknown(c->doc, "", known);
    if ((r = oci_hooks_parse(json_get(c->doc, "hooks"), "config.json", &c->hooks, err)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    oci_config_free(c);
    return r;
}

int oci_process_load(const char *path, struct oci_config **out, struct rt_err **err)
{
    struct oci_config *c = calloc(1, sizeof(*c));
    if (!c)
        return rt_err_make(err, ENOMEM, "--process");
    char *text = NULL;
    size_t len = 0;
    int r = read_config(path, &text, &len, err);
    if (r < 0)
        goto fail;
    char perr[256];
    r = json_parse(text, len, &c->doc, perr, sizeof(perr));
    free(text);
    if (r < 0) {
        r = rt_err_make(err, 0, "--process `%s`: invalid JSON: %s", path, perr);
        goto fail;
    }
    if ((r = parse_process(c, c->doc, err)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    oci_config_free(c);
    return r;
}

void oci_config_free(struct oci_config *c)
{
    if (!c)
        return;
    json_free(c->doc);
    free(c->oci_version);
    free(c->bundle);
    oci_strv_free(c->args);
    oci_strv_free(c->env);
    free(c->cwd);
    free(c->additional_gids);
    free(c->rlimits);
    free(c->rootfs);
    free(c->hostname);
    free(c->domainname);
    free(c->sysctl);
    free(c->cgroups_path);
    oci_seccomp_free(&c->seccomp);
    for (size_t i = 0; i < c->mounts_len; i++) {
        free(c->mounts[i].destination);
        free(c->mounts[i].type);
        free(c->mounts[i].source);
    }
    free(c->mounts);
    for (size_t i = 0; i < c->namespaces_len; i++)
        free(c->namespaces[i].path);
    free(c->namespaces);
    oci_hooks_free(&c->hooks);
    free(c);
}
