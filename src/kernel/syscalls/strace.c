/*
 * --strace output, strace-like: "[pid N] name(args) = result". Syscalls that
 * may block or never return (read, wait4, execve, exit) are also announced
 * on entry so a hang shows where it is.
 */
#include "kernel/syscalls/strace.h"

#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define LINE_MAX_LEN 1024
#define STR_PREVIEW  48

struct line {
    char buf[LINE_MAX_LEN];
    size_t len;
};

static void put(struct line *l, const char *fmt, ...) PRINTF_FMT(2, 3);
static void put(struct line *l, const char *fmt, ...)
{
    if (l->len >= sizeof(l->buf) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len = MIN(l->len + (size_t)n, sizeof(l->buf) - 1);
}

/* Quotes LEN bytes of app memory at ADDR, escaped, at most STR_PREVIEW. */
static void put_mem(struct line *l, struct task *t, uint64_t addr, uint64_t len, bool cstring)
{
    char tmp[STR_PREVIEW + 1];
    size_t n;
    if (cstring) {
        long r = mm_strncpy_in(t->mm, tmp, addr, sizeof(tmp));
        if (r == -ENAMETOOLONG) {
            n = STR_PREVIEW;
        } else if (r < 0) {
            put(l, "%#llx", (unsigned long long)addr);
            return;
        } else {
            n = (size_t)r;
        }
    } else {
        n = MIN(len, (uint64_t)STR_PREVIEW);
        if (copy_in(t, tmp, addr, n) < 0) {
            put(l, "%#llx", (unsigned long long)addr);
            return;
        }
    }
    put(l, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tmp[i];
        if (c == '\n')
            put(l, "\\n");
        else if (c == '\t')
            put(l, "\\t");
        else if (c == '"' || c == '\\')
            put(l, "\\%c", c);
        else if (c < 32 || c >= 127)
            put(l, "\\x%02x", c);
        else
            put(l, "%c", c);
    }
    put(l, "\"");
    if ((cstring && n == STR_PREVIEW) || (!cstring && len > n))
        put(l, "...");
}

static void put_args(struct line *l, struct task *t, const struct syscall_def *d,
                     const struct sys_args *a, long r, bool done)
{
    const char *fmt = d ? d->argfmt : "xxxxxx";
    for (int i = 0; fmt[i] && i < 6; i++) {
        uint64_t v = a->arg[i];
        if (i)
            put(l, ", ");
        switch (fmt[i]) {
        case 'd':
            put(l, "%lld", (long long)v);
            break;
        case 'u':
            put(l, "%llu", (unsigned long long)v);
            break;
        case 'o':
            put(l, "%#llo", (unsigned long long)v);
            break;
        case 'f':
            if ((int)v == AT_FDCWD)
                put(l, "AT_FDCWD");
            else
                put(l, "%d", (int)v);
            break;
        case 's':
            put_mem(l, t, v, 0, true);
            break;
        case 'b':
            put_mem(l, t, v, i + 1 < 6 ? a->arg[i + 1] : 0, false);
            break;
        case 'B':
            if (done && r > 0)
                put_mem(l, t, v, (uint64_t)r, false);
            else
                put(l, "%#llx", (unsigned long long)v);
            break;
        case 'p':
        case 'x':
        default:
            put(l, "%#llx", (unsigned long long)v);
            break;
        }
    }
}

static const char *name_of(const struct syscall_def *d, const struct sys_args *a, char *buf,
                           size_t size)
{
    if (d)
        return d->name;
    const char *n = syscall_name(a->nr);
    if (n)
        return n;
    snprintf(buf, size, "syscall_%llu", (unsigned long long)a->nr);
    return buf;
}

static bool announce_on_entry(uint64_t nr)
{
    switch (nr) {
    case LINUX_SYS_execve:
    case LINUX_SYS_execveat:
    case LINUX_SYS_exit:
    case LINUX_SYS_exit_group:
    case LINUX_SYS_read:
    case LINUX_SYS_wait4:
    case LINUX_SYS_nanosleep:
    case LINUX_SYS_clock_nanosleep:
    case LINUX_SYS_vfork:
        return true;
    default:
        return false;
    }
}

void strace_enter(struct task *t, const struct syscall_def *d, const struct sys_args *a)
{
    if (!announce_on_entry(a->nr))
        return;
    struct line l = {.len = 0};
    char nb[32];
    put(&l, "[pid %d] %s(", t->tid, name_of(d, a, nb, sizeof(nb)));
    put_args(&l, t, d, a, 0, false);
    put(&l, ") ...\n");
    ssize_t w = write(log_fd(), l.buf, l.len);
    (void)w;
}

void strace_exit(struct task *t, const struct syscall_def *d, const struct sys_args *a, long r)
{
    struct line l = {.len = 0};
    char nb[32];
    put(&l, "[pid %d] %s(", t->tid, name_of(d, a, nb, sizeof(nb)));
    if (t->mm && !(a->nr == LINUX_SYS_execve || a->nr == LINUX_SYS_execveat) )
        put_args(&l, t, d, a, r, true);
    else
        put(&l, "...");
    if (r < 0 && r > -4096)
        put(&l, ") = -1 %s (%s)\n", strerrorname_np((int)-r) ? strerrorname_np((int)-r) : "E?",
            strerror((int)-r));
    else if (r > 0xffff || r < -4096)
        put(&l, ") = %#lx\n", (unsigned long)r);
    else
        put(&l, ") = %ld\n", r);
    ssize_t w = write(log_fd(), l.buf, l.len);
    (void)w;
}
