/* The state directory of each container. */
#include "oci/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup.h"

static const char *const g_status_names[OCI_STATUS_MAX] = {"creating", "created", "running",
                                                            "stopped",  "paused"};

const char *oci_status_name(enum oci_status s)
{
    return s < OCI_STATUS_MAX ? g_status_names[s] : "unknown";
}

int oci_check_id(const char *id, struct rt_err **err)
{
    size_t n = strlen(id);
    if (n == 0 || n > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return rt_err_make(err, 0, "invalid container id `%s`", id);
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '+'))
            return rt_err_make(err, 0, "invalid container id `%s`: use [A-Za-z0-9_.+-]", id);
    }
    return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    if (strlen(path) >= sizeof(buf))
        return -ENAMETOOLONG;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int oci_container_new(const char *root, const char *id, struct oci_container *out,
                      struct rt_err **err)
{
    int r = oci_check_id(id, err);
    if (r < 0)
        return r;
    r = mkdir_p(root, 0711);
    if (r < 0)
        return rt_err_make(err, -r, "state root `%s`", root);
    if (asprintf(&out->dir, "%s/%s", root, id) < 0)
        return rt_err_make(err, ENOMEM, "state");
    if (mkdir(out->dir, 0711) < 0) {
        int e = errno;
        free(out->dir);
        out->dir = NULL;
        if (e == EEXIST)
            return rt_err_make(err, 0, "container with id `%s` already exists", id);
        return rt_err_make(err, e, "creating the state directory of `%s`", id);
    }
    out->dirfd = open(out->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (out->dirfd < 0 || flock(out->dirfd, LOCK_EX) < 0) {
        int e = errno;
        rmdir(out->dir);
        if (out->dirfd >= 0)
            close(out->dirfd);
        free(out->dir);
        out->dir = NULL;
        return rt_err_make(err, e, "locking the state directory of `%s`", id);
    }
    return 0;
}

int oci_container_open(const char *root, const char *id, bool exclusive,
                       struct oci_container *out, struct rt_err **err)
{
    int r = oci_check_id(id, err);
    if (r < 0)
        return r;
    if (asprintf(&out->dir, "%s/%s", root, id) < 0)
        return rt_err_make(err, ENOMEM, "state");
    out->dirfd = open(out->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (out->dirfd < 0) {
        int e = errno;
        free(out->dir);
        out->dir = NULL;
        if (e == ENOENT)
            return rt_err_make(err, 0, "container `%s` does not exist", id);
        return rt_err_make(err, e, "container `%s`", id);
    }
    if (flock(out->dirfd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
        int e = errno;
        oci_container_close(out);
        return rt_err_make(err, e, "locking container `%s`", id);
    }
    /* Removed while we waited for the lock (a concurrent delete)? */
    struct stat st;
    if (fstat(out->dirfd, &st) < 0 || st.st_nlink == 0) {
        oci_container_close(out);
        return rt_err_make(err, 0, "container `%s` does not exist", id);
    }
    return 0;
}

void oci_container_close(struct oci_container *c)
{
    if (c->dirfd >= 0)
        close(c->dirfd); /* drops the flock */
    c->dirfd = -1;
    free(c->dir);
    c->dir = NULL;
}

int oci_container_remove(struct oci_container *c, struct rt_err **err)
{
    DIR *d = fdopendir(dup(c->dirfd));
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(c->dirfd, e->d_name, 0);
        closedir(d);
    }
    if (rmdir(c->dir) < 0 && errno != ENOENT)
        return rt_err_make(err, errno, "removing `%s`", c->dir);
    return 0;
}

static void put_field(FILE *f, const char *indent, const char *key, const char *val, bool comma)
{
    fprintf(f, "%s", indent);
    json_write_string(f, key);
    fputs(": ", f);
    json_write_string(f, val ? val : "");
    fputs(comma ? ",\n" : "\n", f);
}

int oci_state_write(struct oci_container *c, const struct oci_state *s, struct rt_err **err)
{
    int fd = openat(c->dirfd, "state.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return rt_err_make(err, errno, "writing %s/state.json", c->dir);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return rt_err_make(err, ENOMEM, "writing %s/state.json", c->dir);
    }
    fputs("{\"id\":", f);
    json_write_string(f, s->id);
    fputs(",\"bundle\":", f);
    json_write_string(f, s->bundle);
    fputs(",\"rootfs\":", f);
    json_write_string(f, s->rootfs);
    fputs(",\"created\":", f);
    json_write_string(f, s->created);
    fputs(",\"owner\":", f);
    json_write_string(f, s->owner ? s->owner : "");
    fprintf(f, ",\"pid\":%d,\"start_time\":%llu", (int)s->pid,
            (unsigned long long)s->start_time);
    if (s->annotations) {
        fputs(",\"annotations\":", f);
        json_write(f, s->annotations);
    }
    fputs("}\n", f);
    if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
        int e = errno;
        fclose(f);
        return rt_err_make(err, e, "writing %s/state.json", c->dir);
    }
    fclose(f);
    if (renameat(c->dirfd, "state.json.tmp", c->dirfd, "state.json") < 0)
        return rt_err_make(err, errno, "writing %s/state.json", c->dir);
    return 0;
}

static char *dup_str(const struct json *obj, const char *key)
{
    const struct json *j = json_get(obj, key);
    return strdup(j && j->type == JSON_STRING ? j->str : "");
}

int oci_state_read(struct oci_container *c, struct oci_state *s, struct rt_err **err)
{
    memset(s, 0, sizeof(*s));
    int fd = openat(c->dirfd, "state.json", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rt_err_make(err, errno, "reading %s/state.json", c->dir);
    char buf[1 << 16];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)n;
    close(fd);
    struct json *doc;
    char perr[128];
    if (json_parse(buf, len, &doc, perr, sizeof(perr)) < 0)
        return rt_err_make(err, 0, "%s/state.json is corrupt: %s", c->dir, perr);
    s->id = dup_str(doc, "id");
    s->bundle = dup_str(doc, "bundle");
    s->rootfs = dup_str(doc, "rootfs");
    s->created = dup_str(doc, "created");
    s->owner = dup_str(doc, "owner");
    const struct json *j = json_get(doc, "pid");
    s->pid = j && j->is_int ? (pid_t)j->integer : 0;
    j = json_get(doc, "start_time");
    s->start_time = j && j->is_int ? (uint64_t)j->integer : 0;
    for (size_t i = 0; i < doc->len; i++) {
        if (strcmp(doc->items[i]->key, "annotations") == 0) {
            s->annotations = doc->items[i];
            doc->items[i] = doc->items[--doc->len];
            break;
        }
    }
    json_free(doc);
    return 0;
}

void oci_state_free(struct oci_state *s)
{
    free(s->id);
    free(s->bundle);
    free(s->rootfs);
    free(s->created);
    free(s->owner);
    json_free(s->annotations);
    memset(s, 0, sizeof(*s));
}

uint64_t oci_pid_start_time(pid_t pid, bool *out_zombie)
{
    char path[64], buf[1024];
    *out_zombie = false;
    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "pid (comm) S ppid ..." : comm may hold spaces and parentheses. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    p += 2;
    *out_zombie = *p == 'Z' || *p == 'X';
    /* Fields after comm: state is field 3; starttime is field 22. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return 0;
        p++;
    }
    return strtoull(p, NULL, 10);
}

bool oci_pid_alive(pid_t pid, uint64_t start)
{
    bool zombie;
    uint64_t t = oci_pid_start_time(pid, &zombie);
    return t != 0 && t == start && !zombie;
}

enum oci_status oci_state_status(struct oci_container *c, const struct oci_state *s)
{
    if (!oci_pid_alive(s->pid, s->start_time))
        return OCI_STOPPED;
    /* Frozen by moat pause: the cgroup freezer says so (runc's order:
     * paused before created). */
    struct cgroup *cg;
    if (cgroup_load(c->dirfd, OCI_CGROUP_FILE, &cg) == 0) {
        bool frozen = cgroup_frozen(cg) == 1;
        cgroup_free(cg);
        if (frozen)
            return OCI_PAUSED;
    }
    if (faccessat(c->dirfd, "exec.fifo", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return OCI_CREATED;
    return OCI_RUNNING;
}

void oci_state_print(FILE *f, const struct oci_state *s, enum oci_status st)
{
    fputs("{\n", f);
    put_field(f, "  ", "ociVersion", OCI_VERSION, true);
    put_field(f, "  ", "id", s->id, true);
    fprintf(f, "  \"pid\": %d,\n", st == OCI_STOPPED ? 0 : (int)s->pid);
    put_field(f, "  ", "status", oci_status_name(st), true);
    put_field(f, "  ", "bundle", s->bundle, true);
    put_field(f, "  ", "rootfs", s->rootfs, true);
    put_field(f, "  ", "created", s->created, true);
    put_field(f, "  ", "owner", s->owner, !!s->annotations);
    if (s->annotations) {
        fputs("  \"annotations\": {", f);
        for (size_t i = 0; i < s->annotations->len; i++) {
            fputs(i ? ",\n    " : "\n    ", f);
            json_write_string(f, s->annotations->items[i]->key);
            fputs(": ", f);
            json_write(f, s->annotations->items[i]);
        }
        fputs(s->annotations->len ? "\n  }\n" : "}\n", f);
    }
    fputs("}\n", f);
}

char *oci_now_rfc3339(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char *out = NULL;
    if (asprintf(&out, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec) < 0)
        return NULL;
    return out;
}
