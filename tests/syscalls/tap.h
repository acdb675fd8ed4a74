/*
 * tap.h: the probes' TAP harness (kselftest-like, header only).
 *
 * A probe runs natively and inside moat; run_probe.py compares the two
 * outputs line by line, so everything printed here is deterministic: test
 * names never contain addresses, host pids, times or temp-dir names, and the
 * "# got X, want Y" diagnostics only appear on failure.
 *
 * Output goes straight to fd 1 with write(2), one line per call, so nothing
 * is lost in a stdio buffer when a probe crashes. Probes must not close or
 * redirect fd 1.
 *
 *     tap_init("name");            TAP header; mkdtemp /tmp/moat-probe-name-XXXXXX, chdir into it
 *     T_EQ(a, b, "name");          a == b (as long long)
 *     T_OK(expr, "name");          expr != -1 (reports errno otherwise)
 *     T_ERRNO(expr, ENOENT, "n");  expr == -1 && errno == ENOENT
 *     return tap_done();           plan line, tallies, cleanup; 0 iff all passed
 */
#ifndef MOAT_TESTS_TAP_H
#define MOAT_TESTS_TAP_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int tap_count;
static int tap_failed;
static char tap_dir[256]; /* the probe's temp dir, "" if none */

/* A bad user pointer: never mapped in any x86-64 process. */
#define BAD_PTR ((void *)8)

static inline void __attribute__((format(printf, 1, 2))) tap_printf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    for (int off = 0; off < n;) {
        ssize_t w = write(1, buf + off, n - off);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            _exit(99); /* stdout is gone: nothing sensible left to do */
        }
        off += w;
    }
}

static inline const char *tap_errname(int e)
{
    const char *s = strerrorname_np(e);
    return s ? s : "E?";
}

/* Records one result; returns cond so callers can skip dependent checks. */
static inline int __attribute__((format(printf, 2, 3))) tap_result(int cond, const char *fmt, ...)
{
    char name[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    tap_count++;
    if (!cond)
        tap_failed++;
    tap_printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, name);
    return cond;
}

/* "ok N - name # SKIP why": counts as a pass, the reason is part of the output. */
static inline void tap_skip(const char *name, const char *why)
{
    tap_count++;
    tap_printf("ok %d - %s # SKIP %s\n", tap_count, name, why);
}

#define T_TRUE(cond, name) tap_result(!!(cond), "%s", name)

#define T_EQ(a, b, name)                                                              \
    ({                                                                                \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                       \
        int t_ok_ = tap_result(t_a_ == t_b_, "%s", name);                             \
        if (!t_ok_)                                                                   \
            tap_printf("# got %lld, want %lld (%s == %s)\n", t_a_, t_b_, #a, #b);     \
        t_ok_;                                                                        \
    })

#define T_NE(a, b, name)                                                              \
    ({                                                                                \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                       \
        int t_ok_ = tap_result(t_a_ != t_b_, "%s", name);                             \
        if (!t_ok_)                                                                   \
            tap_printf("# got %lld, want anything else (%s != %s)\n", t_a_, #a, #b);  \
        t_ok_;                                                                        \
    })

#define T_STREQ(a, b, name)                                                           \
    ({                                                                                \
        const char *t_a_ = (a), *t_b_ = (b);                                          \
        int t_ok_ = tap_result(t_a_ && t_b_ && strcmp(t_a_, t_b_) == 0, "%s", name);  \
        if (!t_ok_)                                                                   \
            tap_printf("# got \"%s\", want \"%s\"\n", t_a_ ? t_a_ : "(null)",         \
                    t_b_ ? t_b_ : "(null)");                                          \
        t_ok_;                                                                        \
    })

/* expr must succeed: anything but -1. Evaluates to the result. */
#define T_OK(expr, name)                                                              \
    ({                                                                                \
        errno = 0;                                                                    \
        long long t_r_ = (long long)(expr);                                           \
        int t_e_ = errno;                                                             \
        if (!tap_result(t_r_ != -1, "%s", name))                                      \
            tap_printf("# got -1 errno %s, want success (%s)\n", tap_errname(t_e_),   \
                    #expr);                                                           \
        t_r_;                                                                         \
    })

/* expr must fail: return -1 with errno == err. */
#define T_ERRNO(expr, err, name)                                                      \
    ({                                                                                \
        errno = 0;                                                                    \
        long long t_r_ = (long long)(expr);                                           \
        int t_e_ = errno;                                                             \
        int t_ok_ = tap_result(t_r_ == -1 && t_e_ == (err), "%s", name);              \
        if (!t_ok_)                                                                   \
            tap_printf("# got %lld errno %s, want -1 errno %s (%s)\n", t_r_,          \
                    t_r_ == -1 ? tap_errname(t_e_) : "-", tap_errname(err), #expr);   \
        t_ok_;                                                                        \
    })

/* Stops the probe: the missing plan line marks the run as failed. */
static inline void __attribute__((noreturn)) tap_bail(const char *why)
{
    tap_printf("Bail out! %s\n", why);
    _exit(1);
}

/* Removes everything under dirfd, then nothing else; silent (moat may lack unlinkat). */
static inline void tap_rm_tree_at(int dirfd)
{
    DIR *d = fdopendir(dirfd);
    struct dirent *e;

    if (!d) {
        close(dirfd);
        return;
    }
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dirfd, e->d_name, 0) == 0)
            continue;
        int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (sub >= 0) {
            tap_rm_tree_at(sub);
            unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
        }
    }
    closedir(d);
}

/* A uid (K of 0..3) that no other process on the host uses: probes that
 * count a user's processes or signals (RLIMIT_NPROC, RLIMIT_SIGPENDING,
 * PRIO_USER) run natively in the host's user namespace, where two probes
 * (or two runs of one, as CI's test passes do) with a fixed uid would see
 * each other's processes. Derived from our pid, which is unique on the
 * host while we run. */
static inline uid_t tap_private_uid(int k)
{
    return 1000000 + 4 * (uid_t)getpid() + (uid_t)k;
}

/* Reads up to SIZE-1 bytes of PATH into BUF, NUL-terminated (one read,
 * as /proc files are read). Bytes read, or -1. */
static inline ssize_t tap_read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* Prints the TAP header and moves into a fresh /tmp/moat-probe-<name>-XXXXXX. */
static inline void tap_init(const char *name)
{
    tap_printf("TAP version 13\n");
    tap_printf("# probe %s\n", name);
    snprintf(tap_dir, sizeof(tap_dir), "/tmp/moat-probe-%s-XXXXXX", name);
    if (!mkdtemp(tap_dir) || chdir(tap_dir) != 0)
        tap_bail("cannot create or enter the temp dir");
}

static inline int tap_done(void)
{
    if (tap_dir[0]) {
        if (chdir("/") == 0) {
            int fd = open(tap_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            if (fd >= 0)
                tap_rm_tree_at(fd);
            rmdir(tap_dir);
        }
        tap_dir[0] = '\0';
    }
    tap_printf("1..%d\n", tap_count);
    tap_printf("# passed %d, failed %d\n", tap_count - tap_failed, tap_failed);
    return tap_failed ? 1 : 0;
}

/* Small helpers the probes share. */

/* Creates (or truncates) a file in the current dir holding `data`; returns 0 or -1. */
static inline int tap_write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(data);
    ssize_t w = write(fd, data, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

/* Fills buf with a name of len 'n's: len 256 (NAME_MAX + 1) gives ENAMETOOLONG. */
static inline char *tap_name_of_len(char *buf, size_t len)
{
    memset(buf, 'n', len);
    buf[len] = '\0';
    return buf;
}

/* A symlink the host root is known to have (Debian's usrmerge links), or NULL. */
static inline const char *tap_host_symlink(void)
{
    static const char *const candidates[] = { "/bin", "/lib", "/sbin", "/lib64" };
    struct stat st;

    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
        if (syscall(SYS_lstat, candidates[i], &st) == 0 && S_ISLNK(st.st_mode))
            return candidates[i];
    return NULL;
}

/* Whether fd is open: fcntl(F_GETFD) succeeds. */
static inline int tap_fd_open(int fd)
{
    return syscall(SYS_fcntl, fd, F_GETFD) != -1;
}

#endif
