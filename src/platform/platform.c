/* Platform selection. */
#include "platform/platform.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

extern const struct platform_ops g_ptrace_platform;
extern const struct platform_ops g_systrap_platform;

const struct platform_ops *g_platform;
bool g_platform_no_patch;
char g_platform_why[160];

static const struct platform_ops *const g_platforms[] = {
    &g_systrap_platform, /* the default */
    &g_ptrace_platform,  /* the fallback */
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

int platform_start(const char *name, int memfd, const char **out_failed)
{
    if (!name) {
        name = getenv("MOAT_PLATFORM");
        if (name && !*name)
            name = NULL;
    }
    const struct platform_ops *p = platform_lookup(name);
    if (!p) {
        *out_failed = name;
        return -ENOENT;
    }
    int r = p->init(memfd);
    if (r < 0 && !name && p != &g_ptrace_platform) {
        /* Nobody asked for it: the default steps aside for ptrace, which
         * needs nothing from the host beyond ptrace itself. */
        log_debug("platform: %s cannot run here (%s), using ptrace", p->name,
                  g_platform_why[0] ? g_platform_why : strerror(-r));
        g_platform_why[0] = 0;
        p = &g_ptrace_platform;
        r = p->init(memfd);
    }
    *out_failed = p->name;
    if (r == 0)
        g_platform = p;
    return r;
}

int platform_confined(void)
{
    return g_platform->start ? g_platform->start() : 0;
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
