/* Logging. Everything goes to stderr or to the --debug-log file. The kernel
 * logs only at debug level, plus "unsupported" warnings once per site. */
#ifndef MOAT_LIB_LOG_H
#define MOAT_LIB_LOG_H

#include <stdbool.h>

#include "lib/util.h"

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_MAX };

extern int g_log_level;

/* Opens FILE (append) as the log destination; NULL means stderr. */
int log_open(const char *file);
/* The fd log lines go to (stderr unless log_open() named a file). */
int log_fd(void);
void log_msg(enum log_level lvl, const char *fmt, ...) PRINTF_FMT(2, 3);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)                                                          \
    do {                                                                       \
        if (g_log_level >= LOG_LVL_INFO)                                       \
            log_msg(LOG_LVL_INFO, __VA_ARGS__);                                \
    } while (0)
#define log_debug(...)                                                         \
    do {                                                                       \
        if (unlikely(g_log_level >= LOG_LVL_DEBUG))                            \
            log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                               \
    } while (0)

/* An app used something moat does not support: said once per call site,
 * at info level (with --debug or in the --debug-log file), so it never
 * mixes into the app's own stderr. */
#define log_warn_once(...)                                                     \
    do {                                                                       \
        static int _warned;                                                    \
        if (g_log_level >= LOG_LVL_INFO &&                                     \
            !__atomic_exchange_n(&_warned, 1, __ATOMIC_RELAXED))               \
            log_msg(LOG_LVL_INFO, __VA_ARGS__);                                \
    } while (0)

#endif
