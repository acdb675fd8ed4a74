/*
 * Probe: madvise (DONTNEED, FREE, WILLNEED, REMOVE, DONTFORK/DOFORK,
 * WIPEONFORK, HUGEPAGE and the other hints), msync flags and errors,
 * mincore, mlock/mlock2/munlock/mlockall/munlockall accounting (VmLck) and
 * RLIMIT_MEMLOCK without root,
 * MAP_POPULATE, MAP_LOCKED, MAP_STACK, MAP_FIXED_NOREPLACE, PROT_NONE guard
 * pages, and SIGSEGV's si_code (SEGV_MAPERR vs SEGV_ACCERR) and si_addr.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "fault.h"
#include "tap.h"

#define PAGE 4096UL

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

static char *map(void *addr, size_t len, int prot, int flags, int fd)
{
    return (char *)syscall(SYS_mmap, addr, len, prot, flags, fd, 0);
}

#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define RW (PROT_READ | PROT_WRITE)

/* Pages of [p, p+n pages) mincore reports resident, or -1 on error. */
static int resident(void *p, size_t n)
{
    unsigned char vec[256];
    if (n > sizeof(vec) || syscall(SYS_mincore, p, n * PAGE, vec) != 0)
        return -1;
    int r = 0;
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    return r;
}

/* A /proc/self/status field in kB, or -1. */
static long status_kb(const char *field)
{
    char buf[4096];
    if (tap_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
        return -1;
    char *at = strstr(buf, field);
    return at ? strtol(at + strlen(field) + 1, NULL, 10) : -1;
}

static int in_child_reads(volatile char *p, char want)
{
    pid_t pid = fork();
    if (pid == 0) {
        int sig = touch(p, 0);
        _exit(sig ? 100 + sig : *p == want ? 0 : 1);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void test_madvise(void)
{
    char *p = map(NULL, 8 * PAGE, RW, ANON, -1);
    memset(p, 'a', 8 * PAGE);
    T_OK(madvise(p, 8 * PAGE, MADV_DONTNEED), "MADV_DONTNEED on private memory");
    T_EQ(resident(p, 8), 0, "mincore: the pages are gone");
    T_TRUE(p[0] == 0 && p[8 * PAGE - 1] == 0, "private memory reads zeros after it");
    memset(p, 'b', 8 * PAGE);
    T_EQ(resident(p, 8), 8, "mincore: written pages are resident");
    T_OK(madvise(p, 8 * PAGE, MADV_WILLNEED), "MADV_WILLNEED");
    T_OK(madvise(p, 8 * PAGE, MADV_FREE), "MADV_FREE on private memory");
    p[0] = 'c';
    T_EQ(p[0], 'c', "memory written after MADV_FREE keeps the write");
    for (int adv = 0; adv <= 1; adv++) /* NORMAL, RANDOM */
        T_OK(madvise(p, 8 * PAGE, adv), adv ? "MADV_RANDOM" : "MADV_NORMAL");
    T_OK(madvise(p, 8 * PAGE, MADV_SEQUENTIAL), "MADV_SEQUENTIAL");
    T_OK(madvise(p, 8 * PAGE, MADV_HUGEPAGE), "MADV_HUGEPAGE");
    T_OK(madvise(p, 8 * PAGE, MADV_NOHUGEPAGE), "MADV_NOHUGEPAGE");
    T_OK(madvise(p, 8 * PAGE, MADV_DONTDUMP), "MADV_DONTDUMP");
    T_OK(madvise(p, 8 * PAGE, MADV_DODUMP), "MADV_DODUMP");
    T_OK(madvise(p, 8 * PAGE, MADV_COLD), "MADV_COLD");
    T_OK(madvise(p, 8 * PAGE, MADV_PAGEOUT), "MADV_PAGEOUT");
    T_EQ(p[0], 'c', "hints keep the data");
    T_ERRNO(madvise(p + 1, PAGE, MADV_DONTNEED), EINVAL, "an unaligned address: EINVAL");
    T_ERRNO(madvise(p, PAGE, 999), EINVAL, "an unknown advice: EINVAL");
    T_OK(madvise(p, 0, MADV_DONTNEED), "length 0 succeeds");
    munmap(p + 4 * PAGE, PAGE);
    memset(p, 'd', 4 * PAGE);
    T_ERRNO(madvise(p, 8 * PAGE, MADV_DONTNEED), ENOMEM, "MADV_DONTNEED over a hole: ENOMEM");
    T_EQ(p[0], 0, "but the mapped part was dropped");
    T_ERRNO(madvise(p, 8 * PAGE, MADV_NORMAL), ENOMEM, "a hint over a hole: ENOMEM");
    munmap(p, 8 * PAGE);

    char *s = map(NULL, 4 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS, -1);
    memset(s, 's', 4 * PAGE);
    T_OK(madvise(s, 4 * PAGE, MADV_DONTNEED), "MADV_DONTNEED on shared memory");
    T_EQ(s[0], 's', "shared memory keeps its data");
    T_ERRNO(madvise(s, 4 * PAGE, MADV_FREE), EINVAL, "MADV_FREE on shared memory: EINVAL");
    T_ERRNO(madvise(s, 4 * PAGE, MADV_WIPEONFORK), EINVAL,
            "MADV_WIPEONFORK on shared memory: EINVAL");
    T_OK(madvise(s, PAGE, MADV_REMOVE), "MADV_REMOVE on shared memory");
    T_TRUE(s[0] == 0 && s[PAGE] == 's', "it punches the page");
    munmap(s, 4 * PAGE);
    p = map(NULL, PAGE, RW, ANON, -1);
    T_ERRNO(madvise(p, PAGE, MADV_REMOVE), EINVAL, "MADV_REMOVE on private memory: EINVAL");

    /* Fork behaviour. */
    p[0] = 'f';
    T_OK(madvise(p, PAGE, MADV_DONTFORK), "MADV_DONTFORK");
    T_EQ(in_child_reads(p, 'f'), 100 + SIGSEGV, "a child has no such mapping (SIGSEGV)");
    T_OK(madvise(p, PAGE, MADV_DOFORK), "MADV_DOFORK");
    T_EQ(in_child_reads(p, 'f'), 0, "a child has it again, with the data");
    T_OK(madvise(p, PAGE, MADV_WIPEONFORK), "MADV_WIPEONFORK");
    T_EQ(in_child_reads(p, 0), 0, "a child reads zeros");
    T_EQ(p[0], 'f', "the parent keeps its data");
    T_OK(madvise(p, PAGE, MADV_KEEPONFORK), "MADV_KEEPONFORK");
    T_EQ(in_child_reads(p, 'f'), 0, "a child sees the data again");
    munmap(p, PAGE);
}

static void test_msync_mincore(void)
{
    char *p = map(NULL, 4 * PAGE, RW, ANON, -1);
    T_OK(msync(p, 4 * PAGE, MS_SYNC), "msync MS_SYNC of anonymous memory");
    T_OK(msync(p, 4 * PAGE, MS_ASYNC), "msync MS_ASYNC");
    T_OK(msync(p, 4 * PAGE, MS_INVALIDATE), "msync MS_INVALIDATE");
    T_OK(msync(p, 0, MS_SYNC), "msync of length 0");
    T_ERRNO(msync(p, PAGE, MS_SYNC | MS_ASYNC), EINVAL, "msync MS_SYNC|MS_ASYNC: EINVAL");
    T_ERRNO(msync(p, PAGE, 0x100), EINVAL, "msync with an unknown flag: EINVAL");
    T_ERRNO(msync(p + 1, PAGE, MS_SYNC), EINVAL, "msync of an unaligned address: EINVAL");
    munmap(p + 2 * PAGE, PAGE);
    T_ERRNO(msync(p, 4 * PAGE, MS_SYNC), ENOMEM, "msync over a hole: ENOMEM");

    unsigned char vec[4];
    T_ERRNO(syscall(SYS_mincore, p + 1, PAGE, vec), EINVAL, "mincore unaligned: EINVAL");
    T_ERRNO(syscall(SYS_mincore, p, 4 * PAGE, vec), ENOMEM, "mincore over a hole: ENOMEM");
    T_ERRNO(syscall(SYS_mincore, p, PAGE, BAD_PTR), EFAULT, "mincore into a bad vector: EFAULT");
    T_EQ(resident(p, 2), 0, "mincore: untouched anonymous pages are not resident");
    p[PAGE] = 1;
    T_EQ(resident(p, 2), 1, "mincore: a written page is");
    munmap(p, 4 * PAGE);

    p = map(NULL, 16 * PAGE, RW, ANON | MAP_POPULATE, -1);
    T_EQ(resident(p, 16), 16, "MAP_POPULATE: every page resident at once");
    T_EQ(p[5 * PAGE], 0, "and zeroed");
    munmap(p, 16 * PAGE);
}

static void test_mlock(void)
{
    long base = status_kb("VmLck:");
    char *p = map(NULL, 8 * PAGE, RW, ANON, -1);
    T_OK(mlock(p, 4 * PAGE), "mlock 4 pages");
    T_EQ(status_kb("VmLck:") - base, 16, "VmLck counts them");
    T_OK(mlock(p + 1, 2 * PAGE), "mlock of an unaligned range (rounded)");
    T_EQ(status_kb("VmLck:") - base, 16, "locking again adds nothing");
    T_OK(munlock(p, 2 * PAGE), "munlock 2 pages");
    T_EQ(status_kb("VmLck:") - base, 8, "VmLck drops");
    T_OK(syscall(SYS_mlock2, p, 8 * PAGE, MLOCK_ONFAULT), "mlock2 MLOCK_ONFAULT");
    T_EQ(status_kb("VmLck:") - base, 32, "VmLck counts the whole range");
    T_ERRNO(syscall(SYS_mlock2, p, PAGE, 2), EINVAL, "mlock2 with an unknown flag: EINVAL");
    T_OK(munlock(p, 8 * PAGE), "munlock all of it");
    T_EQ(status_kb("VmLck:") - base, 0, "VmLck is back");
    munmap(p + 4 * PAGE, PAGE);
    T_ERRNO(mlock(p, 8 * PAGE), ENOMEM, "mlock over a hole: ENOMEM");
    T_ERRNO(munlock(p, 8 * PAGE), ENOMEM, "munlock over a hole: ENOMEM");
    munmap(p, 8 * PAGE);

    p = map(NULL, 4 * PAGE, RW, ANON | MAP_LOCKED, -1);
    T_TRUE(p != MAP_FAILED, "MAP_LOCKED");
    T_EQ(status_kb("VmLck:") - base, 16, "MAP_LOCKED memory counts in VmLck");
    T_EQ(resident(p, 4), 4, "and is resident");
    munmap(p, 4 * PAGE);
    T_EQ(status_kb("VmLck:") - base, 0, "munmap drops it");

    T_ERRNO(mlockall(0), EINVAL, "mlockall(0): EINVAL");
    T_ERRNO(mlockall(MCL_ONFAULT), EINVAL, "mlockall(MCL_ONFAULT) alone: EINVAL");
    T_ERRNO(mlockall(0x100), EINVAL, "mlockall with an unknown flag: EINVAL");
    char *u = map(NULL, 4 * PAGE, RW, ANON, -1);
    T_EQ(resident(u, 4), 0, "an untouched mapping is not resident");
    T_OK(mlockall(MCL_CURRENT), "mlockall(MCL_CURRENT)");
    T_EQ(resident(u, 4), 4, "mlockall(MCL_CURRENT) makes it resident");
    /* All but the vDSO's pages (Linux never locks those). */
    long unlocked = status_kb("VmSize:") - status_kb("VmLck:");
    T_TRUE(unlocked >= 0 && unlocked <= 64, "every mapping is locked");
    p = map(NULL, 4 * PAGE, RW, ANON, -1);
    T_EQ(status_kb("VmSize:") - status_kb("VmLck:"), unlocked + 16, "a new mapping is not");
    munmap(p, 4 * PAGE);
    T_OK(mlockall(MCL_CURRENT | MCL_FUTURE), "mlockall(MCL_CURRENT|MCL_FUTURE)");
    p = map(NULL, 4 * PAGE, RW, ANON, -1);
    T_EQ(status_kb("VmSize:") - status_kb("VmLck:"), unlocked,
         "with MCL_FUTURE a new mapping is locked");
    munmap(p, 4 * PAGE);
    T_OK(munlockall(), "munlockall");
    munmap(u, 4 * PAGE);
    T_EQ(status_kb("VmLck:"), 0, "nothing is locked");
    p = map(NULL, 4 * PAGE, RW, ANON, -1);
    T_EQ(status_kb("VmLck:"), 0, "and MCL_FUTURE is off");
    munmap(p, 4 * PAGE);
}

/* RLIMIT_MEMLOCK binds a process without CAP_IPC_LOCK: run in a child that
 * gave up root. Results land in shared memory for the parent to report. */
static void test_memlock_limit(void)
{
    enum { N = 10 };
    static const char *const names[N] = {
            "unprivileged: MAP_LOCKED within RLIMIT_MEMLOCK works",
            "MAP_LOCKED past it: EAGAIN",
            "mlock past it: ENOMEM",
            "mlockall(MCL_FUTURE) within it works",
            "then a mapping past it: EAGAIN",
            "and a small one works",
            "and brk past it keeps the old break",
            "RLIMIT_MEMLOCK 0: MAP_LOCKED is EPERM",
            "RLIMIT_MEMLOCK 0: mlock is EPERM",
            "RLIMIT_MEMLOCK 0: mlockall is EPERM",
    };
    int *res = (int *)map(NULL, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS, -1);
    for (int i = 0; i < N; i++)
        res[i] = -1;
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {64 * 1024, 64 * 1024};
        if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0 || setresgid(65534, 65534, 65534) != 0 ||
            setresuid(65534, 65534, 65534) != 0)
            _exit(1);
        char *p = map(NULL, 8 * PAGE, RW, ANON | MAP_LOCKED, -1);
        res[0] = p != MAP_FAILED;
        res[1] = map(NULL, 32 * PAGE, RW, ANON | MAP_LOCKED, -1) == MAP_FAILED && errno == EAGAIN;
        munmap(p, 8 * PAGE);
        char *q = map(NULL, 32 * PAGE, RW, ANON, -1);
        res[2] = mlock(q, 32 * PAGE) == -1 && errno == ENOMEM;
        res[3] = mlockall(MCL_FUTURE) == 0;
        res[4] = map(NULL, 32 * PAGE, RW, ANON, -1) == MAP_FAILED && errno == EAGAIN;
        p = map(NULL, 4 * PAGE, RW, ANON, -1);
        res[5] = p != MAP_FAILED;
        uintptr_t cur = syscall(SYS_brk, 0);
        res[6] = (uintptr_t)syscall(SYS_brk, cur + 64 * PAGE) == cur;
        munlockall();
        rl.rlim_cur = 0;
        setrlimit(RLIMIT_MEMLOCK, &rl);
        res[7] = map(NULL, PAGE, RW, ANON | MAP_LOCKED, -1) == MAP_FAILED && errno == EPERM;
        res[8] = mlock(q, PAGE) == -1 && errno == EPERM;
        res[9] = mlockall(MCL_CURRENT) == -1 && errno == EPERM;
        _exit(0);
    }
    int st;
    T_TRUE(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "a child drops root under a 64 KiB RLIMIT_MEMLOCK");
    for (int i = 0; i < N; i++)
        T_EQ(res[i], 1, names[i]);
    munmap(res, PAGE);
}

static void test_faults(void)
{
    char *p = map(NULL, 3 * PAGE, RW, ANON, -1);
    T_OK(mprotect(p + PAGE, PAGE, PROT_NONE), "a PROT_NONE guard page in the middle");
    T_EQ(touch(p + PAGE + 5, 0), SIGSEGV, "reading the guard page: SIGSEGV");
    T_EQ(g_code, SEGV_ACCERR, "si_code SEGV_ACCERR");
    T_TRUE(g_addr == p + PAGE + 5, "si_addr is the address");
    T_EQ(touch(p + PAGE, 1), SIGSEGV, "writing it: SIGSEGV");
    T_EQ(touch(p + 2 * PAGE, 1), 0, "the page after it works");
    T_OK(mprotect(p, PAGE, PROT_READ), "a read-only page");
    T_EQ(touch(p + 9, 0), 0, "reads");
    T_EQ(touch(p + 9, 1), SIGSEGV, "a write: SIGSEGV");
    T_EQ(g_code, SEGV_ACCERR, "si_code SEGV_ACCERR");
    T_TRUE(g_addr == p + 9, "si_addr is the address");
    munmap(p, 3 * PAGE);
    T_EQ(touch(p + 17, 0), SIGSEGV, "reading unmapped memory: SIGSEGV");
    T_EQ(g_code, SEGV_MAPERR, "si_code SEGV_MAPERR");
    T_TRUE(g_addr == p + 17, "si_addr is the address");
    T_EQ(touch(BAD_PTR, 1), SIGSEGV, "writing page 0: SIGSEGV");
    T_EQ(g_code, SEGV_MAPERR, "si_code SEGV_MAPERR");

    char *g = map(NULL, 4 * PAGE, PROT_NONE, ANON | MAP_NORESERVE, -1);
    T_TRUE(g != MAP_FAILED, "a PROT_NONE reservation");
    T_EQ(touch(g + 3 * PAGE, 0), SIGSEGV, "touching it: SIGSEGV");
    T_EQ(g_code, SEGV_ACCERR, "si_code SEGV_ACCERR");
    T_OK(mprotect(g, 2 * PAGE, RW), "mprotect part of it read-write");
    T_EQ(touch(g + PAGE, 1), 0, "that part works");
    T_EQ(g[PAGE], 'w', "and keeps the write");
    munmap(g, 4 * PAGE);
}

static void test_map_flags(void)
{
    char *hole = map(NULL, 8 * PAGE, PROT_NONE, ANON, -1);
    munmap(hole, 8 * PAGE);
    char *p = map(hole, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1);
    T_TRUE(p == hole, "MAP_FIXED_NOREPLACE on free space maps there");
    T_ERRNO((long)map(hole + PAGE, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1), EEXIST,
            "MAP_FIXED_NOREPLACE overlapping a mapping: EEXIST");
    T_TRUE(p[PAGE] == 0, "the mapping is untouched");
    T_ERRNO((long)map(hole + PAGE, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE | MAP_FIXED, -1),
            EEXIST, "with MAP_FIXED too: EEXIST");
    munmap(hole, 8 * PAGE);
    char *s = map(NULL, 4 * PAGE, RW, ANON | MAP_STACK, -1);
    T_TRUE(s != MAP_FAILED && touch(s + 3 * PAGE, 1) == 0, "MAP_STACK");
    munmap(s, 4 * PAGE);
    s = map(NULL, 4 * PAGE, RW, ANON | MAP_STACK | MAP_GROWSDOWN, -1);
    T_TRUE(s != MAP_FAILED && touch(s, 1) == 0, "MAP_STACK|MAP_GROWSDOWN");
    munmap(s, 4 * PAGE);
    T_ERRNO((long)map(NULL, PAGE, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1), EINVAL,
            "MAP_SHARED_VALIDATE of anonymous memory: EINVAL");
    int fd = open("v", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, PAGE) != 0)
        tap_bail("file");
    T_ERRNO((long)map(NULL, PAGE, RW, MAP_SHARED_VALIDATE | 0x800000, fd), EOPNOTSUPP,
            "MAP_SHARED_VALIDATE of a file with an unknown flag: EOPNOTSUPP");
    s = map(NULL, PAGE, RW, MAP_SHARED_VALIDATE | MAP_POPULATE, fd);
    T_TRUE(s != MAP_FAILED, "MAP_SHARED_VALIDATE of a file with known flags");
    munmap(s, PAGE);
    close(fd);
}

int main(void)
{
    tap_init("mm_advise");
    fault_init();
    test_madvise();
    test_msync_mincore();
    test_mlock();
    test_memlock_limit();
    test_faults();
    test_map_flags();
    return tap_done();
}
