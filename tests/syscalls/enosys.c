/*
 * Probe: numbers Linux does not assign return -1/ENOSYS and nothing else
 * happens. moat must do the same for every syscall it does not implement,
 * never forward it to the host.
 *
 * Not 335 or 336: Linux 6.11+ took them on x86-64 for uretprobe (SIGILL
 * when called from outside a uretprobe trampoline) and uprobe (ENXIO).
 * -1 matters because ptrace-based interception uses it to mean "skip".
 */
#include "tap.h"

static void test_enosys(void)
{
    static const long numbers[] = { 400, 1000, 100000, 0x3fffffff, -1 };

    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        errno = 0;
        long rc = syscall(numbers[i], 1, 2, 3, 4, 5, 6);
        int e = errno;
        if (!tap_result(rc == -1 && e == ENOSYS, "syscall(%ld): ENOSYS", numbers[i]))
            tap_printf("# got %ld errno %s\n", rc, tap_errname(e));
    }
    T_EQ(syscall(SYS_getpid), getpid(), "the process is fine afterwards");
}

int main(void)
{
    tap_init("enosys");
    test_enosys();
    return tap_done();
}
