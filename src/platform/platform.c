/* Platform selection. */
#include "platform/platform.h"

#include <string.h>

extern const struct platform_ops g_ptrace_platform;

const struct platform_ops *g_platform;

static const struct platform_ops *const g_platforms[] = {
    &g_ptrace_platform,
};

const struct platform_ops *platform_lookup(const char *name)
{
    if (!name)
        return g_platforms[0];
    for (size_t i = 0; i < sizeof(g_platforms) / sizeof(g_platforms[0]); i++)
        if (strcmp(g_platforms[i]->name, name) == 0)
            return g_platforms[i];
    return NULL;
}
