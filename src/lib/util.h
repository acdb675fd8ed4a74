/* Small helpers shared by every part of moat. */
#ifndef MOAT_LIB_UTIL_H
#define MOAT_LIB_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define ALIGN_DOWN(x, a)                ((x) & ~((__typeof__(x))(a)-1))
#define ALIGN_UP(x, a)                  ALIGN_DOWN((x) + (a)-1, (a))
#define IS_ALIGNED(x, a)                (((x) & ((__typeof__(x))(a)-1)) == 0)
#define MIN(a, b)                       ((a) < (b) ? (a) : (b))
#define MAX(a, b)                       ((a) > (b) ? (a) : (b))
#define likely(x)                       __builtin_expect(!!(x), 1)
#define unlikely(x)                     __builtin_expect(!!(x), 0)
#define UNUSED                          __attribute__((unused))
#define NORETURN                        __attribute__((noreturn))
#define PRINTF_FMT(a, b)                __attribute__((format(printf, a, b)))

#ifndef PAGE_SIZE
#define PAGE_SIZE 4096UL
#endif
#define PAGE_SHIFT 12

/* A condition variable whose timed waits take CLOCK_MONOTONIC deadlines. */
static inline void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}

/* Scope cleanup (systemd, crun). Allowed in cli/, oci/, tests and for scratch
 * buffers in the kernel; never mixed with goto unwinding in one function. */
static inline void freep(void *p)
{
    free(*(void **)p);
}
static inline void closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
#define _cleanup_free_  __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))
#define TAKE_PTR(p)                     \
    ({                                  \
        __typeof__(p) _tp = (p);        \
        (p) = NULL;                     \
        _tp;                            \
    })
#define TAKE_FD(fd)                     \
    ({                                  \
        int _tf = (fd);                 \
        (fd) = -1;                      \
        _tf;                            \
    })

#endif
