/* The sandbox's host and domain names (see uts.h). */
#include "kernel/task/uts.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "kernel/host/host.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_hostname[UTS_LEN + 1];   /* (l) */
static char g_domainname[UTS_LEN + 1]; /* (l) */

static void uts_init(void)
{
    if (host_uts_names(g_hostname, g_domainname, UTS_LEN + 1) < 0) {
        strcpy(g_hostname, "localhost");
        strcpy(g_domainname, "(none)");
    }
}

void uts_get(char *hostname, char *domainname)
{
    pthread_once(&g_once, uts_init);
    pthread_mutex_lock(&g_lock);
    if (hostname)
        memcpy(hostname, g_hostname, UTS_LEN + 1);
    if (domainname)
        memcpy(domainname, g_domainname, UTS_LEN + 1);
    pthread_mutex_unlock(&g_lock);
}

static int set(char *dst, const char *name, size_t len)
{
    if (len > UTS_LEN)
        return -EINVAL;
    pthread_once(&g_once, uts_init);
    pthread_mutex_lock(&g_lock);
    memcpy(dst, name, len);
    dst[len] = '\0';
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int uts_set_hostname(const char *name, size_t len)
{
    return set(g_hostname, name, len);
}

int uts_set_domainname(const char *name, size_t len)
{
    return set(g_domainname, name, len);
}
