/* Atomic reference counts. Going below zero aborts with file:line: it is
 * always a moat bug, never bad input. */
#ifndef MOAT_LIB_REFCOUNT_H
#define MOAT_LIB_REFCOUNT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct refcount {
    int v;
};

static inline void refcount_init(struct refcount *r)
{
    __atomic_store_n(&r->v, 1, __ATOMIC_RELAXED);
}

static inline void refcount_inc(struct refcount *r)
{
    __atomic_add_fetch(&r->v, 1, __ATOMIC_RELAXED);
}

void refcount_underflow(const char *file, int line) __attribute__((noreturn));

/* Returns true when the count dropped to zero: the caller frees. */
#define refcount_dec(r) refcount_dec_at((r), __FILE__, __LINE__)
static inline bool refcount_dec_at(struct refcount *r, const char *file, int line)
{
    int v = __atomic_sub_fetch(&r->v, 1, __ATOMIC_ACQ_REL);
    if (v < 0)
        refcount_underflow(file, line);
    return v == 0;
}

/* Takes a reference unless the count already reached zero (an object being
 * freed, still findable in a table whose lock the caller holds). */
static inline bool refcount_inc_not_zero(struct refcount *r)
{
    int v = __atomic_load_n(&r->v, __ATOMIC_RELAXED);
    while (v > 0)
        if (__atomic_compare_exchange_n(&r->v, &v, v + 1, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return true;
    return false;
}

static inline int refcount_read(const struct refcount *r)
{
    return __atomic_load_n(&r->v, __ATOMIC_RELAXED);
}

#endif
