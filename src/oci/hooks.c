/* OCI hooks: parsing, saving with the container's state, running. */
#include "oci/hooks.h"
#include "oci/config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const g_hook_names[OCI_HOOK_MAX] = {
        [OCI_HOOK_PRESTART] = "prestart",
        [OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
        [OCI_HOOK_CREATE_CONTAINER] = "createContainer",
        [OCI_HOOK_START_CONTAINER] = "startContainer",
        [OCI_HOOK_POSTSTART] = "poststart",
        [OCI_HOOK_POSTSTOP] = "poststop",
};

const char *oci_hook_name(enum oci_hook_kind k)
{
    return k < OCI_HOOK_MAX ? g_hook_names[k] : "?";
}

/* A NULL-terminated copy of string array J (NULL if J is absent). */
static int copy_strv(const struct json *j, const char *file, const char *field, char ***out,
                     struct rt_err **err)
{
    *out = NULL;
    if (!j || j->type == JSON_NULL)
        return 0;
    if (j->type != JSON_ARRAY)
        return rt_err_make(err, 0, "%s: %s: must be an array of strings", file, field);
    char **v = calloc(j->len + 1, sizeof(*v));
    if (!v)
        return rt_err_make(err, ENOMEM, "%s: %s", file, field);
    for (size_t i = 0; i < j->len; i++) {
        if (j->items[i]->type != JSON_STRING || !(v[i] = strdup(j->items[i]->str))) {
            oci_strv_free(v);
            return rt_err_make(err, 0, "%s: %s[%zu]: must be a string", file, field, i);
        }
    }
    *out = v;
    return 0;
}

static int parse_hook(const struct json *j, const char *file, const char *field,
                      struct oci_hook *h, struct rt_err **err)
{
    if (j->type != JSON_OBJECT)
        return rt_err_make(err, 0, "%s: %s: must be an object", file, field);
    char f[96];
    const struct json *path = json_get(j, "path");
    if (!path || path->type != JSON_STRING || path->str[0] != '/')
        return rt_err_make(err, 0, "%s: %s.path: must be an absolute path", file, field);
    if (!(h->path = strdup(path->str)))
        return rt_err_make(err, ENOMEM, "%s: %s", file, field);
    snprintf(f, sizeof(f), "%s.args", field);
    int r = copy_strv(json_get(j, "args"), file, f, &h->args, err);
    if (r < 0)
        return r;
    snprintf(f, sizeof(f), "%s.env", field);
    if ((r = copy_strv(json_get(j, "env"), file, f, &h->env, err)) < 0)
        return r;
    const struct json *t = json_get(j, "timeout");
    if (t && t->type != JSON_NULL) {
        if (t->type != JSON_NUMBER || !t->is_int || t->integer <= 0 || t->integer > 86400)
            return rt_err_make(err, 0, "%s: %s.timeout: must be a number of seconds above 0",
                               file, field);
        h->timeout = (int)t->integer;
    }
    return 0;
}

int oci_hooks_parse(const struct json *hooks, const char *file, struct oci_hooks *out,
                    struct rt_err **err)
{
    memset(out, 0, sizeof(*out));
    if (!hooks || hooks->type == JSON_NULL)
        return 0;
    if (hooks->type != JSON_OBJECT)
        return rt_err_make(err, 0, "%s: hooks: must be an object", file);
    for (size_t i = 0; i < hooks->len; i++) {
        const struct json *list = hooks->items[i];
        int k = -1;
        for (int n = 0; n < OCI_HOOK_MAX; n++)
            if (strcmp(list->key, g_hook_names[n]) == 0)
                k = n;
        if (k < 0) {
            rt_warn("%s: hooks.%s: not a hook moat knows, ignored", file, list->key);
            continue;
        }
        if (list->type == JSON_NULL)
            continue;
        if (list->type != JSON_ARRAY) {
            oci_hooks_free(out);
            return rt_err_make(err, 0, "%s: hooks.%s: must be an array", file, list->key);
        }
        out->list[k] = calloc(list->len ? list->len : 1, sizeof(struct oci_hook));
        if (!out->list[k]) {
            oci_hooks_free(out);
            return rt_err_make(err, ENOMEM, "%s: hooks", file);
        }
        for (size_t n = 0; n < list->len; n++) {
            char field[64];
            snprintf(field, sizeof(field), "hooks.%s[%zu]", list->key, n);
            out->len[k] = n + 1;
            int r = parse_hook(list->items[n], file, field, &out->list[k][n], err);
            if (r < 0) {
                oci_hooks_free(out);
                return r;
            }
        }
    }
    return 0;
}

void oci_hooks_free(struct oci_hooks *h)
{
    for (int k = 0; k < OCI_HOOK_MAX; k++) {
        for (size_t i = 0; i < h->len[k]; i++) {
            free(h->list[k][i].path);
            oci_strv_free(h->list[k][i].args);
            oci_strv_free(h->list[k][i].env);
        }
        free(h->list[k]);
    }
    memset(h, 0, sizeof(*h));
}

bool oci_hooks_empty(const struct oci_hooks *h)
{
    for (int k = 0; k < OCI_HOOK_MAX; k++)
        if (h->len[k])
            return false;
    return true;
}

int oci_hooks_save(struct oci_container *c, const struct json *hooks, struct rt_err **err)
{
    if (!hooks || hooks->type != JSON_OBJECT)
        return 0;
    int fd = openat(c->dirfd, OCI_HOOKS_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return rt_err_make(err, e, "writing %s/%s", c->dir, OCI_HOOKS_FILE);
    }
    json_write(f, hooks);
    fputc('\n', f);
    if (fflush(f) != 0) {
        int e = errno;
        fclose(f);
        return rt_err_make(err, e, "writing %s/%s", c->dir, OCI_HOOKS_FILE);
    }
    fclose(f);
    return 0;
}

int oci_hooks_load(struct oci_container *c, struct oci_hooks *out, struct rt_err **err)
{
    memset(out, 0, sizeof(*out));
    int fd = openat(c->dirfd, OCI_HOOKS_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : rt_err_make(err, errno, "reading %s/%s", c->dir,
                                                 OCI_HOOKS_FILE);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n = 0;
    while (buf && (n = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)n;
        if (len == cap) {
            char *b = cap < (64u << 20) ? realloc(buf, cap *= 2) : NULL;
            if (!b)
                free(buf);
            buf = b;
        }
    }
    close(fd);
    if (!buf || n < 0) {
        free(buf);
        return rt_err_make(err, buf ? errno : ENOMEM, "reading %s/%s", c->dir, OCI_HOOKS_FILE);
    }
    struct json *doc;
    char perr[128];
    int r = json_parse(buf, len, &doc, perr, sizeof(perr));
    free(buf);
    if (r < 0)
        return rt_err_make(err, 0, "%s/%s is corrupt: %s", c->dir, OCI_HOOKS_FILE, perr);
    r = oci_hooks_parse(doc, OCI_HOOKS_FILE, out, err);
    json_free(doc);
    return r;
}

/* Waits for CHILD up to TIMEOUT seconds (0: forever); kills it after. */
static int wait_hook(pid_t child, int timeout, int *status, bool *timed_out)
{
    *timed_out = false;
    int pfd = timeout > 0 ? (int)syscall(SYS_pidfd_open, child, 0) : -1;
    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int n;
        while ((n = poll(&p, 1, timeout * 1000)) < 0 && errno == EINTR)
            ;
        close(pfd);
        if (n == 0) {
            *timed_out = true;
            kill(child, SIGKILL);
        }
    }
    while (waitpid(child, status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

static int run_one(const struct oci_hook *h, const char *field, const char *state, size_t len,
                   struct rt_err **err)
{
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return rt_err_make(err, errno, "%s: `%s`", field, h->path);
    char *argv0[] = {h->path, NULL};
    char *env0[] = {NULL};
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        close(in[0]);
        close(in[1]);
        return rt_err_make(err, e, "%s: `%s`", field, h->path);
    }
    if (child == 0) {
        dup2(in[0], STDIN_FILENO);
        signal(SIGPIPE, SIG_DFL);
        execve(h->path, h->args ? h->args : argv0, h->env ? h->env : env0);
        fprintf(stderr, "moat: %s: cannot run `%s`: %s\n", field, h->path, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    /* A hook need not read its stdin: a full pipe or EPIPE is its choice. */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(in[1], state + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(in[1]);
    signal(SIGPIPE, old);
    int status;
    bool timed_out;
    int r = wait_hook(child, h->timeout, &status, &timed_out);
    if (r < 0)
        return rt_err_make(err, -r, "%s: waiting for `%s`", field, h->path);
    if (timed_out)
        return rt_err_make(err, 0, "%s: `%s` did not finish within its timeout of %d s", field,
                           h->path, h->timeout);
    if (WIFSIGNALED(status))
        return rt_err_make(err, 0, "%s: `%s` was killed by signal %d", field, h->path,
                           WTERMSIG(status));
    if (WEXITSTATUS(status) != 0)
        return rt_err_make(err, 0, "%s: `%s` exited with status %d", field, h->path,
                           WEXITSTATUS(status));
    return 0;
}

int oci_hooks_run(const struct oci_hooks *h, enum oci_hook_kind k, const struct oci_state *s,
                  enum oci_status st, struct rt_err **err)
{
    if (!h || !h->len[k])
        return 0;
    char *state = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&state, &len);
    if (!f)
        return rt_err_make(err, ENOMEM, "hooks.%s", g_hook_names[k]);
    oci_state_print(f, s, st);
    fclose(f);
    int r = 0;
    for (size_t i = 0; i < h->len[k] && r == 0; i++) {
        char field[64];
        snprintf(field, sizeof(field), "hooks.%s[%zu]", g_hook_names[k], i);
        rt_debug("running %s: %s", field, h->list[k][i].path);
        r = run_one(&h->list[k][i], field, state, len, err);
    }
    free(state);
    return r;
}
