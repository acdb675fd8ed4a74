/*
 * The sandbox's host and domain names (one UTS namespace per sandbox): what
 * uname(2) and /proc/sys/kernel/{hostname,domainname} report and what
 * sethostname/setdomainname change. They start as the kernel process's own
 * (the caller's for `moat do`, config.json's `hostname` for OCI containers,
 * set in the kernel's UTS namespace before it starts); changes inside the
 * sandbox never reach the host.
 */
#ifndef MOAT_KERNEL_TASK_UTS_H
#define MOAT_KERNEL_TASK_UTS_H

#include <stddef.h>

#define UTS_LEN 64

/* Copies the names (NUL-terminated, at most UTS_LEN bytes + NUL). */
void uts_get(char *hostname, char *domainname);
/* Sets one of them (LEN bytes, not NUL-terminated). 0 or -EINVAL. */
int uts_set_hostname(const char *name, size_t len);
int uts_set_domainname(const char *name, size_t len);

#endif
