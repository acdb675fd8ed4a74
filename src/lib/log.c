#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/refcount.h"

int g_log_level = LOG_LVL_WARN;
static int g_log_fd = 2;

int log_open(const char *file)
{
    if (!file)
        return 0;
    int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    g_log_fd = fd;
    return 0;
}

int log_fd(void)
{
    return g_log_fd;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "moat: %s: ", lvl == LOG_LVL_ERROR ? "error" : names[lvl]);
    if (lvl == LOG_LVL_ERROR)
        n = snprintf(buf, sizeof(buf), "moat: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if (n > (int)sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    buf[n++] = '\n';
    /* One write per line so lines from many threads do not interleave. */
    ssize_t r = write(g_log_fd, buf, n);
    (void)r;
}

void refcount_underflow(const char *file, int line)
{
    log_error("refcount underflow at %s:%d", file, line);
    abort();
}
