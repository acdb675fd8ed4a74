/*
 * crun-style error objects for the OCI layer (STYLE.md §3): a failing
 * function fills *err with the errno and one message naming the file,
 * field, mount or syscall at fault; callers add context with rt_err_wrap();
 * main() prints it once (to stderr and to --log).
 */
#ifndef MOAT_OCI_ERR_H
#define MOAT_OCI_ERR_H

#include <stdbool.h>

struct rt_err {
    int errnum;  /* errno of the cause, 0 if none */
    char *msg;
};

/* Sets *ERR (if it is not already set) to FMT..., followed by ": strerror"
 * when ERRNUM != 0. Returns -ERRNUM, or -EINVAL when ERRNUM is 0. */
int rt_err_make(struct rt_err **err, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Prefixes *ERR's message with FMT... and ": ". Returns -(*err)->errnum or -EINVAL. */
int rt_err_wrap(struct rt_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rt_err_free(struct rt_err **err);

/* Where messages go besides stderr: runc's --log and --log-format. */
void rt_log_setup(const char *path, bool json, bool debug);
/* Prints ERR once ("moat: MSG" on stderr, an "error" entry in the log),
 * frees it, and returns 1 (the exit code of a failed runc command). */
int rt_err_report(struct rt_err **err);
/* A warning line on stderr and in the log. */
void rt_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A debug entry in the log (and stderr when --debug). */
void rt_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
