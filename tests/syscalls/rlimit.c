/* Probe: prlimit64 (and the limits it sets: RLIMIT_NOFILE on fd allocation). */
#include <sys/resource.h>

#include "tap.h"

static long sys_prlimit(pid_t pid, int res, const struct rlimit *new, struct rlimit *old)
{
    return syscall(SYS_prlimit64, pid, res, new, old);
}

static int le(rlim_t a, rlim_t b)
{
    return b == RLIM_INFINITY || (a != RLIM_INFINITY && a <= b);
}

static void test_read(void)
{
    struct rlimit r;

    T_OK(sys_prlimit(0, RLIMIT_STACK, NULL, &r), "read RLIMIT_STACK");
    T_TRUE(le(r.rlim_cur, r.rlim_max), "RLIMIT_STACK: soft <= hard");
    T_TRUE(r.rlim_cur >= 65536, "RLIMIT_STACK: soft is at least 64 KiB");
    T_OK(sys_prlimit(0, RLIMIT_NOFILE, NULL, &r), "read RLIMIT_NOFILE");
    T_TRUE(le(r.rlim_cur, r.rlim_max), "RLIMIT_NOFILE: soft <= hard");
    T_TRUE(r.rlim_cur >= 64 && r.rlim_cur != RLIM_INFINITY, "RLIMIT_NOFILE: soft is finite and >= 64");
    struct rlimit self;
    T_OK(sys_prlimit(getpid(), RLIMIT_NOFILE, NULL, &self), "prlimit64 with our own pid");
    T_TRUE(self.rlim_cur == r.rlim_cur && self.rlim_max == r.rlim_max, "our own pid is the same as 0");

    static const struct {
        int res;
        const char *name;
    } all[] = {
        { RLIMIT_CPU, "RLIMIT_CPU" }, { RLIMIT_FSIZE, "RLIMIT_FSIZE" }, { RLIMIT_DATA, "RLIMIT_DATA" },
        { RLIMIT_CORE, "RLIMIT_CORE" }, { RLIMIT_RSS, "RLIMIT_RSS" }, { RLIMIT_NPROC, "RLIMIT_NPROC" },
        { RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK" }, { RLIMIT_AS, "RLIMIT_AS" }, { RLIMIT_LOCKS, "RLIMIT_LOCKS" },
        { RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING" }, { RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE" },
        { RLIMIT_NICE, "RLIMIT_NICE" }, { RLIMIT_RTPRIO, "RLIMIT_RTPRIO" }, { RLIMIT_RTTIME, "RLIMIT_RTTIME" },
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        long rc = sys_prlimit(0, all[i].res, NULL, &r);
        tap_result(rc == 0 && le(r.rlim_cur, r.rlim_max), "%s reads, soft <= hard", all[i].name);
    }

    T_ERRNO(sys_prlimit(0, RLIM_NLIMITS, NULL, &r), EINVAL, "resource RLIM_NLIMITS: EINVAL");
    T_ERRNO(sys_prlimit(0, -1, NULL, &r), EINVAL, "resource -1: EINVAL");
    T_ERRNO(sys_prlimit(0, RLIMIT_NOFILE, NULL, BAD_PTR), EFAULT, "a bad old pointer: EFAULT");
    T_ERRNO(sys_prlimit(0, RLIMIT_NOFILE, BAD_PTR, NULL), EFAULT, "a bad new pointer: EFAULT");
    T_OK(sys_prlimit(0, RLIMIT_NOFILE, NULL, NULL), "prlimit64 with neither pointer");
}

static void test_set(void)
{
    struct rlimit orig, r, got;

    sys_prlimit(0, RLIMIT_NOFILE, NULL, &orig);
    r = (struct rlimit){ 32, orig.rlim_max };
    struct rlimit old;
    T_OK(sys_prlimit(0, RLIMIT_NOFILE, &r, &old), "set RLIMIT_NOFILE soft to 32");
    T_TRUE(old.rlim_cur == orig.rlim_cur && old.rlim_max == orig.rlim_max, "the old value is returned");
    T_OK(sys_prlimit(0, RLIMIT_NOFILE, NULL, &got), "read it back");
    T_TRUE(got.rlim_cur == 32 && got.rlim_max == orig.rlim_max, "soft 32, hard unchanged");

    /* The limit applies to new fds. */
    int base = open("/", O_RDONLY);
    T_ERRNO(syscall(SYS_dup2, base, 32), EBADF, "dup2 to fd 32 with a limit of 32: EBADF");
    T_ERRNO(syscall(SYS_fcntl, base, F_DUPFD, 32), EINVAL, "F_DUPFD 32 with a limit of 32: EINVAL");
    T_EQ(syscall(SYS_dup2, base, 31), 31, "dup2 to fd 31 is fine");
    close(31);
    int fds[40], n = 0, last_errno = 0;
    for (; n < 40; n++) {
        fds[n] = open("/", O_RDONLY);
        if (fds[n] < 0) {
            last_errno = errno;
            break;
        }
    }
    T_TRUE(n > 0 && n < 32, "opens stop below the limit");
    T_EQ(last_errno, EMFILE, "the open past the limit fails with EMFILE");
    while (n-- > 0)
        close(fds[n]);
    close(base);

    r = (struct rlimit){ 64, 32 };
    T_ERRNO(sys_prlimit(0, RLIMIT_NOFILE, &r, NULL), EINVAL, "soft > hard: EINVAL");
    r = (struct rlimit){ orig.rlim_cur, orig.rlim_max };
    T_OK(sys_prlimit(0, RLIMIT_NOFILE, &r, NULL), "restore RLIMIT_NOFILE");
    sys_prlimit(0, RLIMIT_NOFILE, NULL, &got);
    T_TRUE(got.rlim_cur == orig.rlim_cur && got.rlim_max == orig.rlim_max, "restored");

    sys_prlimit(0, RLIMIT_CORE, NULL, &orig);
    r = (struct rlimit){ 0, orig.rlim_max };
    T_OK(sys_prlimit(0, RLIMIT_CORE, &r, NULL), "set RLIMIT_CORE soft to 0");
    sys_prlimit(0, RLIMIT_CORE, NULL, &got);
    T_EQ(got.rlim_cur, 0, "RLIMIT_CORE soft reads back 0");
    T_OK(sys_prlimit(0, RLIMIT_CORE, &orig, NULL), "restore RLIMIT_CORE");
}

int main(void)
{
    tap_init("rlimit");
    test_read();
    test_set();
    return tap_done();
}
