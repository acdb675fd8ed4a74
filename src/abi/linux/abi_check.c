/* Compile-time checks that the C library's constants used by the kernel
 * carry the x86-64 Linux ABI values apps expect, and that our structures
 * have the ABI's sizes. Nothing here runs. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "abi/linux/types.h"

_Static_assert(sizeof(struct linux_stat) == 144, "struct stat");
_Static_assert(sizeof(struct linux_statx) == 256, "struct statx");
_Static_assert(sizeof(struct linux_sigaction) == 32, "struct sigaction");
_Static_assert(sizeof(struct linux_utsname) == 390, "struct utsname");
_Static_assert(sizeof(struct linux_sysinfo) == 112, "struct sysinfo");
_Static_assert(sizeof(struct linux_termios) == 36, "struct termios");
_Static_assert(sizeof(struct linux_siginfo) == 128, "siginfo");
_Static_assert(sizeof(struct linux_sigcontext) == 256, "sigcontext");
_Static_assert(sizeof(struct linux_ucontext) == 304, "ucontext");
_Static_assert(sizeof(struct linux_rt_sigframe) == 440, "rt_sigframe");
_Static_assert(sizeof(struct linux_fpx_sw_bytes) == 48, "fpx_sw_bytes");
_Static_assert(O_CREAT == 0100 && O_EXCL == 0200 && O_TRUNC == 01000 && O_APPEND == 02000,
               "open flags");
_Static_assert(O_NONBLOCK == 04000 && O_DIRECTORY == 0200000 && O_NOFOLLOW == 0400000 &&
                       O_CLOEXEC == 02000000 && O_PATH == 010000000,
               "open flags");
_Static_assert(AT_FDCWD == -100 && AT_SYMLINK_NOFOLLOW == 0x100 && AT_REMOVEDIR == 0x200 &&
                       AT_EMPTY_PATH == 0x1000,
               "at flags");
_Static_assert(PROT_READ == 1 && PROT_WRITE == 2 && PROT_EXEC == 4, "prot");
_Static_assert(MAP_SHARED == 1 && MAP_PRIVATE == 2 && MAP_FIXED == 0x10 && MAP_ANONYMOUS == 0x20,
               "map flags");
_Static_assert(ENOENT == 2 && EFAULT == 14 && ENOSYS == 38 && ENAMETOOLONG == 36, "errno");
