/* Error objects and the runc-compatible --log output. */
#include "oci/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "oci/json.h"

static const char *g_log_path;
static bool g_log_json;
static bool g_log_debug;

void rt_log_setup(const char *path, bool json, bool debug)
{
    g_log_path = path;
    g_log_json = json;
    g_log_debug = debug;
}

static char *vformat(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

int rt_err_make(struct rt_err **err, int errnum, const char *fmt, ...)
{
    int ret = errnum ? -errnum : -EINVAL;
    if (!err || *err)
        return ret;
    struct rt_err *e = calloc(1, sizeof(*e));
    if (!e)
        return ret;
    va_list ap;
    va_start(ap, fmt);
    char *m = vformat(fmt, ap);
    va_end(ap);
    e->errnum = errnum;
    if (m && errnum) {
        char *full = NULL;
        if (asprintf(&full, "%s: %s", m, strerror(errnum)) >= 0) {
            free(m);
            m = full;
        }
    }
    e->msg = m;
    *err = e;
    return ret;
}

int rt_err_wrap(struct rt_err **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -EINVAL;
    struct rt_err *e = *err;
    va_list ap;
    va_start(ap, fmt);
    char *prefix = vformat(fmt, ap);
    va_end(ap);
    char *full = NULL;
    if (prefix && asprintf(&full, "%s: %s", prefix, e->msg ? e->msg : "error") >= 0) {
        free(e->msg);
        e->msg = full;
    }
    free(prefix);
    return e->errnum ? -e->errnum : -EINVAL;
}

void rt_err_free(struct rt_err **err)
{
    if (!err || !*err)
        return;
    free((*err)->msg);
    free(*err);
    *err = NULL;
}

static void log_entry(const char *level, const char *msg)
{
    if (!g_log_path)
        return;
    int fd = open(g_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "a");
    if (!f) {
        close(fd);
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[64];
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
    if (g_log_json) {
        fputs("{\"level\":", f);
        json_write_string(f, level);
        fputs(",\"msg\":", f);
        json_write_string(f, msg);
        fputs(",\"time\":", f);
        json_write_string(f, ts);
        fputs("}\n", f);
    } else {
        fprintf(f, "time=\"%s\" level=%s msg=\"%s\"\n", ts, level, msg);
    }
    fclose(f);
}

int rt_err_report(struct rt_err **err)
{
    const char *msg = err && *err && (*err)->msg ? (*err)->msg : "unknown error";
    fprintf(stderr, "moat: %s\n", msg);
    log_entry("error", msg);
    rt_err_free(err);
    return 1;
}

void rt_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = vformat(fmt, ap);
    va_end(ap);
    if (!m)
        return;
    /* With --log (containerd, Docker), stderr is the container's: keep
     * warnings out of it, as runc does. */
    if (g_log_path)
        log_entry("warning", m);
    else
        fprintf(stderr, "moat: warning: %s\n", m);
    free(m);
}

void rt_debug(const char *fmt, ...)
{
    if (!g_log_debug)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *m = vformat(fmt, ap);
    va_end(ap);
    if (!m)
        return;
    log_entry("debug", m);
    free(m);
}
