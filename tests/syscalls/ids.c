/*
 * Probe: getpid, getppid, gettid, getuid, geteuid, getgid, getegid,
 * set_tid_address. Values differ between hosts and sandboxes, so only
 * relations are checked. run_probe.py runs this one natively in new
 * namespaces (--host-state), where it is PID 1 as in moat.
 */
#include "tap.h"

static void test_pids(void)
{
    long pid = syscall(SYS_getpid), ppid = syscall(SYS_getppid), tid = syscall(SYS_gettid);

    T_TRUE(pid > 0, "getpid > 0");
    T_TRUE(ppid >= 0, "getppid >= 0");
    T_NE(ppid, pid, "getppid != getpid");
    T_EQ(tid, pid, "gettid == getpid in a single-threaded process");
    T_EQ(syscall(SYS_getpid), pid, "getpid is stable");
    T_EQ(syscall(SYS_getppid), ppid, "getppid is stable");
    T_EQ(syscall(SYS_gettid), tid, "gettid is stable");
    T_EQ(getpid(), pid, "the libc getpid agrees");
    T_TRUE(pid != 1 || ppid == 0, "PID 1 has parent 0 (init of its namespace)");

    int word = 12345;
    T_EQ(syscall(SYS_set_tid_address, &word), tid, "set_tid_address returns the tid");
    T_EQ(word, 12345, "set_tid_address does not write the word");
    T_EQ(syscall(SYS_set_tid_address, NULL), tid, "set_tid_address(NULL) returns the tid");
    T_EQ(syscall(SYS_set_tid_address, BAD_PTR), tid, "set_tid_address does not check the pointer");
    syscall(SYS_set_tid_address, NULL);
}

static void test_ids(void)
{
    long uid = syscall(SYS_getuid), euid = syscall(SYS_geteuid);
    long gid = syscall(SYS_getgid), egid = syscall(SYS_getegid);

    T_TRUE(uid >= 0 && euid >= 0 && gid >= 0 && egid >= 0, "ids are not negative");
    T_EQ(euid, uid, "geteuid == getuid (not setuid)");
    T_EQ(egid, gid, "getegid == getgid (not setgid)");
    T_EQ(syscall(SYS_getuid), uid, "getuid is stable");
    T_EQ(syscall(SYS_getgid), gid, "getgid is stable");
    T_EQ(getuid(), uid, "the libc getuid agrees");

    struct stat st;
    int fd = open("owned", O_WRONLY | O_CREAT, 0600);
    T_OK(fstat(fd, &st), "fstat a new file");
    T_EQ(st.st_uid, euid, "a new file is owned by the euid");
    T_EQ(st.st_gid, egid, "a new file's group is the egid");
    close(fd);
}

int main(void)
{
    tap_init("ids");
    test_pids();
    test_ids();
    return tap_done();
}
