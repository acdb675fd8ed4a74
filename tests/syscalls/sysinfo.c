/* Probe: sysinfo. */
#include <sys/sysinfo.h>

#include "tap.h"

static void test_sysinfo(void)
{
    struct sysinfo si;

    memset(&si, 0xff, sizeof(si));
    T_OK(syscall(SYS_sysinfo, &si), "sysinfo");
    T_TRUE(si.mem_unit >= 1, "mem_unit >= 1");
    T_TRUE(si.totalram > 0, "totalram > 0");
    T_TRUE((unsigned long long)si.totalram * si.mem_unit >= 64ULL << 20, "totalram is at least 64 MiB");
    T_TRUE(si.freeram <= si.totalram, "freeram <= totalram");
    T_TRUE(si.sharedram <= si.totalram && si.bufferram <= si.totalram, "shared and buffer RAM <= totalram");
    T_TRUE(si.freeswap <= si.totalswap, "freeswap <= totalswap");
    T_TRUE(si.freehigh <= si.totalhigh, "freehigh <= totalhigh");
    T_TRUE(si.uptime >= 0, "uptime >= 0");
    T_TRUE(si.procs >= 1, "at least one process");

    struct sysinfo again;
    syscall(SYS_sysinfo, &again);
    T_TRUE(again.uptime >= si.uptime && again.totalram == si.totalram, "uptime does not go back, RAM stays");
    T_ERRNO(syscall(SYS_sysinfo, BAD_PTR), EFAULT, "sysinfo into a bad pointer: EFAULT");
    T_ERRNO(syscall(SYS_sysinfo, NULL), EFAULT, "sysinfo into NULL: EFAULT");
}

int main(void)
{
    tap_init("sysinfo");
    test_sysinfo();
    return tap_done();
}
