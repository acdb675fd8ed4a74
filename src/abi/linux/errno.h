/* Kernel-internal error codes that must never reach an app (Linux's
 * include/linux/errno.h values). The syscall dispatcher translates them. */
#ifndef MOAT_ABI_LINUX_ERRNO_H
#define MOAT_ABI_LINUX_ERRNO_H

#include <errno.h>

#define ERESTARTSYS           512
#define ERESTARTNOINTR        513
#define ERESTARTNOHAND        514
#define ERESTART_RESTARTBLOCK 516

#endif
