/* Platform selection. */
#include "platform/platform.h"

#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

extern const struct platform_ops g_ptrace_platform;
extern const struct platform_ops g_systrap_platform;

const struct platform_ops *g_platform;

static const struct platform_ops *const g_platforms[] = {
    &g_ptrace_platform, /* the default */
    &g_systrap_platform,
};

const struct platform_ops *platform_lookup(const char *name)
{
    /* MOAT_PLATFORM picks the default (tests run the suite on each). */
    if (!name)
        name = getenv("MOAT_PLATFORM");
    if (!name || !*name)
        return g_platforms[0];
    for (size_t i = 0; i < sizeof(g_platforms) / sizeof(g_platforms[0]); i++)
        if (strcmp(g_platforms[i]->name, name) == 0)
            return g_platforms[i];
    return NULL;
}

uint32_t platform_xstate_size(void)
{
    static uint32_t size;
    if (!size) {
        unsigned a, b, c, d;
        uint32_t v = 512 + 64; /* FXSAVE area + xsave header */
        if (__get_cpuid_count(0xd, 0, &a, &b, &c, &d) && b > v)
            v = b;
        if (v > PLATFORM_XSTATE_MAX)
            v = PLATFORM_XSTATE_MAX;
        __atomic_store_n(&size, v, __ATOMIC_RELAXED);
    }
    return size;
}

uint64_t platform_xfeatures(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
        return 3; /* x87 + SSE */
    return ((uint64_t)d << 32) | a;
}
