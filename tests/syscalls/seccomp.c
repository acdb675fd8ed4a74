/*
 * seccomp(2) and prctl(PR_SET_SECCOMP): classic-BPF filters and their
 * actions, stacking, argument checks, TSYNC, strict mode, validation.
 *
 * Every filter is installed in a forked child, so the probe itself stays
 * unfiltered; a child reports through its exit code (0: all its checks
 * passed, else the number of the first check that failed) or the signal
 * that ended it.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ucontext.h>
#include <sys/wait.h>

#include "tap.h"

#define ARCH_NR   AUDIT_ARCH_X86_64
#define NR_OFF    offsetof(struct seccomp_data, nr)
#define ARCH_OFF  offsetof(struct seccomp_data, arch)
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)

#define CHECK(n, cond)  \
    do {                \
        if (!(cond))    \
            return (n); \
    } while (0)

static long sys_seccomp(unsigned op, unsigned flags, void *args)
{
    return syscall(SYS_seccomp, op, flags, args);
}

static long install(struct sock_filter *f, unsigned short len, unsigned flags)
{
    struct sock_fprog p = {len, f};
    return sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &p);
}

/* A filter: syscall NR returns RET, everything else is allowed. */
static long install_nr(int nr, uint32_t ret, unsigned flags)
{
    struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH_OFF),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, ret),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    return install(f, sizeof(f) / sizeof(f[0]), flags);
}

static int nnp(void)
{
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* Runs FN in a child; its wait status. */
static int in_child(int (*fn)(void))
{
    pid_t c = fork();
    if (c == 0)
        _exit(fn());
    int st = -1;
    if (waitpid(c, &st, 0) != c)
        return -1;
    return st;
}

/* "exit N" or "signal S": what a wait status means, for comparing. */
static long outcome(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 1000 + WTERMSIG(st);
    return -1;
}
#define KILLED_BY(s) (1000 + (s))

static int status_field(const char *key)
{
    char buf[4096];
    if (tap_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
        return -1;
    char *p = strstr(buf, key);
    if (!p)
        return -1;
    return atoi(p + strlen(key));
}

/* ---- children ---- */

static int c_errno(void)
{
    int before = status_field("\nSeccomp_filters:\t");
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | ENOTTY, 0) == 0);
    errno = 0;
    CHECK(3, syscall(SYS_getppid) == -1 && errno == ENOTTY);
    CHECK(4, syscall(SYS_getpid) == getpid());
    CHECK(5, prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2);
    CHECK(6, status_field("\nSeccomp:\t") == 2);
    CHECK(7, status_field("\nNoNewPrivs:\t") == 1);
    CHECK(8, status_field("\nSeccomp_filters:\t") == before + 1);
    return 0;
}

static int c_errno_max(void)
{
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | 0xffff, 0) == 0);
    errno = 0;
    CHECK(3, syscall(SYS_getppid) == -1 && errno == 4095);
    return 0;
}

static volatile int g_sig, g_code, g_errno, g_syscall, g_arch_ok, g_addr_ok, g_rax;
static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    g_sig = sig;
    g_code = si->si_code;
    g_errno = si->si_errno;
    g_syscall = si->si_syscall;
    g_arch_ok = si->si_arch == AUDIT_ARCH_X86_64;
    g_addr_ok = (uint64_t)(uintptr_t)si->si_call_addr == (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    g_rax = (int)uc->uc_mcontext.gregs[REG_RAX];
}

static int c_trap(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    CHECK(1, sigaction(SIGSYS, &sa, NULL) == 0);
    CHECK(2, nnp() == 0);
    CHECK(3, install_nr(SYS_getppid, SECCOMP_RET_TRAP | 42, 0) == 0);
    long r = syscall(SYS_getppid);
    CHECK(4, g_sig == SIGSYS);
    CHECK(5, g_code == 1 /* SYS_SECCOMP */);
    CHECK(6, g_errno == 42);
    CHECK(7, g_syscall == SYS_getppid);
    CHECK(8, g_arch_ok);
    CHECK(9, g_addr_ok);
    CHECK(10, g_rax == SYS_getppid);
    CHECK(11, r == SYS_getppid); /* the skipped syscall leaves its number in rax */
    return 0;
}

static int c_trap_blocked(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGSYS);
    sigprocmask(SIG_BLOCK, &s, NULL);
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, SECCOMP_RET_TRAP, 0) == 0);
    syscall(SYS_getppid);
    return 3;
}

static int c_kill_process(void)
{
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0) == 0);
    syscall(SYS_getppid);
    return 3;
}

static int c_kill_thread_single(void)
{
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0) == 0);
    syscall(SYS_getppid);
    return 3;
}

static void *t_getppid(void *arg)
{
    syscall(SYS_getppid);
    *(int *)arg = 1; /* not reached */
    return NULL;
}

static int c_kill_thread(void)
{
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0) == 0);
    int reached = 0;
    pthread_t th;
    CHECK(3, pthread_create(&th, NULL, t_getppid, &reached) == 0);
    CHECK(4, pthread_join(th, NULL) == 0);
    CHECK(5, reached == 0);
    return 0;
}

static int c_kill_unknown(void)
{
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, 0x00010000 /* no such action */, 0) == 0);
    syscall(SYS_getppid);
    return 3;
}

static int c_trace_notif_log(void)
{
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, SECCOMP_RET_TRACE | 5, 0) == 0);
    errno = 0;
    CHECK(3, syscall(SYS_getppid) == -1 && errno == ENOSYS);
    CHECK(4, install_nr(SYS_getuid, SECCOMP_RET_USER_NOTIF, 0) == 0);
    errno = 0;
    CHECK(5, syscall(SYS_getuid) == -1 && errno == ENOSYS);
    CHECK(6, install_nr(SYS_getgid, SECCOMP_RET_LOG, SECCOMP_FILTER_FLAG_LOG) == 0);
    CHECK(7, syscall(SYS_getgid) == getegid() || getgid() == (gid_t)syscall(SYS_getgid));
    return 0;
}

static int c_stack(void)
{
    int before = status_field("\nSeccomp_filters:\t");
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | 5, 0) == 0);
    CHECK(3, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | 6, 0) == 0);
    errno = 0;
    CHECK(4, syscall(SYS_getppid) == -1 && errno == 6); /* equal actions: the newest */
    CHECK(5, install_nr(SYS_getppid, SECCOMP_RET_ALLOW, 0) == 0);
    CHECK(6, install_nr(SYS_getppid, SECCOMP_RET_LOG, 0) == 0);
    errno = 0;
    CHECK(7, syscall(SYS_getppid) == -1 && errno == 6); /* ERRNO beats ALLOW and LOG */
    CHECK(8, install_nr(SYS_getpid, SECCOMP_RET_ERRNO | 7, 0) == 0);
    errno = 0;
    CHECK(9, syscall(SYS_getpid) == -1 && errno == 7);
    CHECK(10, status_field("\nSeccomp_filters:\t") == before + 5);
    /* An older TRAP beats a newer ERRNO. */
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    CHECK(11, sigaction(SIGSYS, &sa, NULL) == 0);
    CHECK(12, install_nr(SYS_getuid, SECCOMP_RET_TRAP | 9, 0) == 0);
    CHECK(13, install_nr(SYS_getuid, SECCOMP_RET_ERRNO | 8, 0) == 0);
    g_sig = 0;
    CHECK(14, syscall(SYS_getuid) == SYS_getuid);
    CHECK(15, g_sig == SIGSYS && g_errno == 9);
    /* KILL_PROCESS beats everything. */
    CHECK(16, install_nr(SYS_getuid, SECCOMP_RET_KILL_PROCESS, 0) == 0);
    CHECK(17, install_nr(SYS_getuid, SECCOMP_RET_ERRNO | 8, 0) == 0);
    syscall(SYS_getuid);
    return 18;
}

/* write(2, ...) gets EROFS; getpriority(who) with a nonzero high word of
 * its second argument gets EDOM: the filter reads both halves. */
static int c_args(void)
{
    struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 3),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 6),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EROFS),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpriority, 0, 4),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_HI(1)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EDOM),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    CHECK(1, nnp() == 0);
    CHECK(2, install(f, sizeof(f) / sizeof(f[0]), 0) == 0);
    errno = 0;
    CHECK(3, write(2, "", 0) == -1 && errno == EROFS);
    int p[2];
    CHECK(4, pipe(p) == 0);
    CHECK(5, write(p[1], "x", 1) == 1);
    errno = 0;
    CHECK(6, syscall(SYS_getpriority, PRIO_PROCESS, 0x100000000ULL) == -1 && errno == EDOM);
    CHECK(7, syscall(SYS_getpriority, PRIO_PROCESS, 0) >= 0);
    return 0;
}

/* Every ALU operation, scratch memory, TAX/TXA, the length load, each
 * jump and RET A: the program computes ERRNO|44 for getppid. */
static int c_alu(void)
{
    struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF), /* A = nr */
            BPF_STMT(BPF_ST, 0),                        /* M[0] = nr */
            BPF_STMT(BPF_LDX | BPF_IMM, 3),             /* X = 3 */
            BPF_STMT(BPF_ALU | BPF_MUL | BPF_X, 0),     /* A = 3nr */
            BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 3),     /* A = nr */
            BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 10),
            BPF_STMT(BPF_ALU | BPF_SUB | BPF_X, 0), /* A = nr + 7 */
            BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 4),
            BPF_STMT(BPF_ALU | BPF_RSH | BPF_X, 0), /* A = 2(nr + 7) */
            BPF_STMT(BPF_ALU | BPF_NEG, 0),
            BPF_STMT(BPF_ALU | BPF_NEG, 0),
            BPF_STMT(BPF_ALU | BPF_XOR | BPF_K, 0xff00),
            BPF_STMT(BPF_ALU | BPF_XOR | BPF_K, 0xff00),
            BPF_STMT(BPF_ALU | BPF_OR | BPF_K, 0),
            BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xffff),
            BPF_STMT(BPF_MISC | BPF_TAX, 0), /* X = 2(nr + 7) */
            BPF_STMT(BPF_LD | BPF_MEM, 0),   /* A = nr */
            BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 7),
            BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 1),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, 1, 0), /* A == X */
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sizeof(struct seccomp_data), 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_LD | BPF_MEM, 0),
            BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, SYS_getppid, 5, 0),
            BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SYS_getppid, 0, 4),
            BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1, 3, 0), /* 110 is even */
            BPF_STMT(BPF_LDX | BPF_IMM, SECCOMP_RET_ERRNO | 44),
            BPF_STMT(BPF_MISC | BPF_TXA, 0),
            BPF_STMT(BPF_RET | BPF_A, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    CHECK(1, nnp() == 0);
    CHECK(2, install(f, sizeof(f) / sizeof(f[0]), 0) == 0);
    errno = 0;
    CHECK(3, syscall(SYS_getppid) == -1 && errno == 44);
    CHECK(4, syscall(SYS_getpid) == getpid());
    return 0;
}

static int g_pipe[2], g_pipe2[2];
static volatile long g_thread_res, g_thread_errno;
static void *t_wait_then_getppid(void *arg)
{
    char c;
    if (read(g_pipe[0], &c, 1) != 1)
        return NULL;
    errno = 0;
    g_thread_res = syscall(SYS_getppid);
    g_thread_errno = errno;
    return NULL;
}

static int c_tsync(void)
{
    CHECK(1, pipe(g_pipe) == 0);
    pthread_t th;
    CHECK(2, pthread_create(&th, NULL, t_wait_then_getppid, NULL) == 0);
    CHECK(3, nnp() == 0);
    CHECK(4, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | EXDEV, SECCOMP_FILTER_FLAG_TSYNC) == 0);
    CHECK(5, write(g_pipe[1], "x", 1) == 1);
    CHECK(6, pthread_join(th, NULL) == 0);
    CHECK(7, g_thread_res == -1 && g_thread_errno == EXDEV);
    return 0;
}

static volatile long g_thread_tid;
static void *t_own_filter(void *arg)
{
    g_thread_tid = syscall(SYS_gettid);
    if (install_nr(SYS_getuid, SECCOMP_RET_ERRNO | 1, 0) != 0)
        g_thread_tid = -1;
    char c = 'x';
    if (write(g_pipe2[1], &c, 1) != 1)
        return NULL;
    if (read(g_pipe[0], &c, 1) != 1)
        return NULL;
    return NULL;
}

/* TSYNC fails (with the tid, or ESRCH) when a thread has a filter that is
 * not an ancestor of the caller's. */
static int c_tsync_fail(void)
{
    CHECK(1, pipe(g_pipe) == 0 && pipe(g_pipe2) == 0);
    CHECK(2, nnp() == 0);
    pthread_t th;
    CHECK(3, pthread_create(&th, NULL, t_own_filter, NULL) == 0);
    char c;
    CHECK(4, read(g_pipe2[0], &c, 1) == 1);
    CHECK(5, g_thread_tid > 0);
    CHECK(6, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | 1, SECCOMP_FILTER_FLAG_TSYNC) ==
                     g_thread_tid);
    errno = 0;
    CHECK(7, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | 1,
                        SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH) == -1 &&
                     errno == ESRCH);
    CHECK(8, syscall(SYS_getppid) == getppid()); /* nothing was installed */
    CHECK(9, write(g_pipe[1], "x", 1) == 1);
    CHECK(10, pthread_join(th, NULL) == 0);
    return 0;
}

static int c_inherit(void)
{
    CHECK(1, nnp() == 0);
    CHECK(2, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | ENOLINK, 0) == 0);
    pid_t c = fork();
    if (c == 0) {
        errno = 0;
        _exit(syscall(SYS_getppid) == -1 && errno == ENOLINK ? 0 : 9);
    }
    int st;
    CHECK(3, waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    c = fork();
    if (c == 0) {
        execl("/proc/self/exe", "seccomp", "exec-check", (char *)NULL);
        _exit(8);
    }
    CHECK(4, waitpid(c, &st, 0) == c && WIFEXITED(st));
    return WEXITSTATUS(st) == 0 ? 0 : 10 + WEXITSTATUS(st);
}

static int exec_check(void)
{
    errno = 0;
    CHECK(1, syscall(SYS_getppid) == -1 && errno == ENOLINK);
    CHECK(2, prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2);
    CHECK(3, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
    return 0;
}

static int c_prctl(void)
{
    struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOMSG),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = {4, f};
    CHECK(1, nnp() == 0);
    errno = 0;
    CHECK(2, prctl(PR_SET_SECCOMP, 3, &p, 0, 0) == -1 && errno == EINVAL);
    CHECK(3, prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p, 0, 0) == 0);
    errno = 0;
    CHECK(4, syscall(SYS_getppid) == -1 && errno == ENOMSG);
    CHECK(5, prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2);
    errno = 0;
    CHECK(6, sys_seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL) == -1 && errno == EINVAL);
    return 0;
}

static int c_strict_ok(void)
{
    int p[2];
    CHECK(1, pipe(p) == 0);
    CHECK(2, sys_seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL) == 0);
    if (syscall(SYS_write, p[1], "ab", 2) != 2)
        syscall(SYS_exit, 3);
    char b[2];
    if (syscall(SYS_read, p[0], b, 2) != 2 || b[1] != 'b')
        syscall(SYS_exit, 4);
    syscall(SYS_exit, 7);
    return 5;
}

static int c_strict_kill(void)
{
    CHECK(1, prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) == 0);
    syscall(SYS_getpid);
    syscall(SYS_exit, 2);
    return 3;
}

static int c_strict_bad_args(void)
{
    errno = 0;
    CHECK(1, sys_seccomp(SECCOMP_SET_MODE_STRICT, 1, NULL) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(2, sys_seccomp(SECCOMP_SET_MODE_STRICT, 0, (void *)8) == -1 && errno == EINVAL);
    return 0;
}

/* Unprivileged callers need no_new_privs; root may skip it. */
static int c_nnp_root(void)
{
    CHECK(1, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | 3, 0) == 0);
    errno = 0;
    CHECK(2, syscall(SYS_getppid) == -1 && errno == 3);
    CHECK(3, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
    return 0;
}

static int c_nnp_user(void)
{
    CHECK(1, setresgid(65534, 65534, 65534) == 0);
    CHECK(2, setresuid(65534, 65534, 65534) == 0);
    errno = 0;
    CHECK(3, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | 3, 0) == -1 && errno == EACCES);
    CHECK(4, syscall(SYS_getppid) == getppid());
    CHECK(5, nnp() == 0);
    CHECK(6, install_nr(SYS_getppid, SECCOMP_RET_ERRNO | 3, 0) == 0);
    errno = 0;
    CHECK(7, syscall(SYS_getppid) == -1 && errno == 3);
    return 0;
}

/* ---- invalid programs: each tried in a child, which exits with errno ---- */

static struct sock_filter *g_bad;
static unsigned short g_bad_len;
static unsigned g_bad_flags;
static int c_bad(void)
{
    if (nnp() != 0)
        return 100;
    errno = 0;
    long r = install(g_bad, g_bad_len, g_bad_flags);
    if (r == 0)
        return 0;
    if (syscall(SYS_getppid) != getppid())
        return 101; /* something got installed after all */
    return errno;
}

static void try_bad(struct sock_filter *f, unsigned short len, unsigned flags, int want,
                    const char *name)
{
    g_bad = f;
    g_bad_len = len;
    g_bad_flags = flags;
    T_EQ(outcome(in_child(c_bad)), want, name);
}

#define RET_ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static void invalid_programs(void)
{
    struct sock_filter ok[] = {RET_ALLOW};
    try_bad(ok, 1, 0, 0, "a one-instruction program is valid");
    try_bad(ok, 0, 0, EINVAL, "empty program: EINVAL");
    static struct sock_filter big[4097];
    for (int i = 0; i < 4097; i++)
        big[i] = (struct sock_filter)RET_ALLOW;
    try_bad(big, 4096, 0, 0, "4096 instructions are valid");
    try_bad(big, 4097, 0, EINVAL, "4097 instructions: EINVAL");
    try_bad(NULL, 1, 0, EINVAL, "NULL instructions: EINVAL");
    try_bad(BAD_PTR, 1, 0, EFAULT, "bad instruction pointer: EFAULT");
    try_bad(ok, 1, 1u << 10, EINVAL, "unknown flag: EINVAL");

    struct sock_filter noret[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF)};
    try_bad(noret, 1, 0, EINVAL, "no final return: EINVAL");
    struct sock_filter ja[] = {BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0), RET_ALLOW};
    try_bad(ja, 2, 0, EINVAL, "JA past the end: EINVAL");
    struct sock_filter jt[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), RET_ALLOW};
    try_bad(jt, 2, 0, EINVAL, "jt past the end: EINVAL");
    struct sock_filter jf[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), RET_ALLOW};
    try_bad(jf, 2, 0, EINVAL, "jf past the end: EINVAL");
    struct sock_filter jok[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), RET_ALLOW, RET_ALLOW};
    try_bad(jok, 3, 0, 0, "a jump to the last instruction is valid");
    struct sock_filter unk[] = {{0xffff, 0, 0, 0}, RET_ALLOW};
    try_bad(unk, 2, 0, EINVAL, "unknown opcode: EINVAL");
    struct sock_filter ld64[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), RET_ALLOW};
    try_bad(ld64, 2, 0, EINVAL, "load past seccomp_data: EINVAL");
    struct sock_filter ld60[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 60), RET_ALLOW};
    try_bad(ld60, 2, 0, 0, "load of the last word is valid");
    struct sock_filter ld2[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), RET_ALLOW};
    try_bad(ld2, 2, 0, EINVAL, "misaligned load: EINVAL");
    struct sock_filter ldh[] = {BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), RET_ALLOW};
    try_bad(ldh, 2, 0, EINVAL, "half-word load: EINVAL");
    struct sock_filter ldind[] = {BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0), RET_ALLOW};
    try_bad(ldind, 2, 0, EINVAL, "indirect load: EINVAL");
    struct sock_filter mod[] = {BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), RET_ALLOW};
    try_bad(mod, 2, 0, EINVAL, "BPF_MOD: EINVAL");
    struct sock_filter div0[] = {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), RET_ALLOW};
    try_bad(div0, 2, 0, EINVAL, "division by constant 0: EINVAL");
    struct sock_filter sh32[] = {BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), RET_ALLOW};
    try_bad(sh32, 2, 0, EINVAL, "shift by 32: EINVAL");
    struct sock_filter st16[] = {BPF_STMT(BPF_ST, 16), RET_ALLOW};
    try_bad(st16, 2, 0, EINVAL, "scratch slot 16: EINVAL");
    struct sock_filter ldm[] = {BPF_STMT(BPF_LD | BPF_MEM, 2), RET_ALLOW};
    try_bad(ldm, 2, 0, EINVAL, "scratch read before write: EINVAL");
    struct sock_filter ldm_path[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
            BPF_STMT(BPF_ST, 2),
            BPF_STMT(BPF_LD | BPF_MEM, 2),
            RET_ALLOW,
    };
    try_bad(ldm_path, 5, 0, EINVAL, "scratch written on one path only: EINVAL");
    struct sock_filter ldm_ok[] = {BPF_STMT(BPF_ST, 2), BPF_STMT(BPF_LD | BPF_MEM, 2), RET_ALLOW};
    try_bad(ldm_ok, 3, 0, 0, "scratch written then read is valid");
    struct sock_filter retx[] = {{BPF_RET | BPF_X, 0, 0, 0}};
    try_bad(retx, 1, 0, EINVAL, "RET X: EINVAL");
}

/* ---- runtime division by zero: the program returns 0 (KILL_THREAD) ---- */
static int c_div_x0(void)
{
    struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 3),
            BPF_STMT(BPF_LDX | BPF_IMM, 0),
            BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
            RET_ALLOW,
    };
    CHECK(1, nnp() == 0);
    CHECK(2, install(f, 6, 0) == 0);
    syscall(SYS_getppid);
    return 3;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec-check") == 0)
        return exec_check();
    tap_init("seccomp");

    /* GET_ACTION_AVAIL and GET_NOTIF_SIZES change nothing: in the probe. */
    static const uint32_t actions[] = {
            SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
            SECCOMP_RET_USER_NOTIF,   SECCOMP_RET_TRACE,       SECCOMP_RET_LOG,  SECCOMP_RET_ALLOW,
    };
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        uint32_t a = actions[i];
        char name[64];
        snprintf(name, sizeof(name), "GET_ACTION_AVAIL %#x", a);
        T_OK(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &a), name);
    }
    uint32_t bad_action = 0x7ff10000;
    T_ERRNO(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &bad_action), EOPNOTSUPP,
            "GET_ACTION_AVAIL of an unknown action: EOPNOTSUPP");
    T_ERRNO(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 1, &bad_action), EINVAL,
            "GET_ACTION_AVAIL with flags: EINVAL");
    T_ERRNO(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, BAD_PTR), EFAULT,
            "GET_ACTION_AVAIL bad pointer: EFAULT");
    struct seccomp_notif_sizes sz;
    T_OK(sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sz), "GET_NOTIF_SIZES");
    T_EQ(sz.seccomp_data, sizeof(struct seccomp_data), "GET_NOTIF_SIZES seccomp_data size");
    T_ERRNO(sys_seccomp(99, 0, NULL), EINVAL, "unknown operation: EINVAL");

    T_EQ(outcome(in_child(c_errno)), 0, "RET_ERRNO; PR_GET_SECCOMP and /proc status");
    T_EQ(outcome(in_child(c_errno_max)), 0, "RET_ERRNO data is capped at 4095");
    T_EQ(outcome(in_child(c_trap)), 0, "RET_TRAP: SIGSYS with the seccomp siginfo");
    T_EQ(outcome(in_child(c_trap_blocked)), KILLED_BY(SIGSYS),
         "RET_TRAP with SIGSYS blocked kills");
    T_EQ(outcome(in_child(c_kill_process)), KILLED_BY(SIGSYS), "RET_KILL_PROCESS: SIGSYS");
    T_EQ(outcome(in_child(c_kill_thread_single)), KILLED_BY(SIGSYS),
         "RET_KILL_THREAD of the only thread: SIGSYS");
    T_EQ(outcome(in_child(c_kill_thread)), 0, "RET_KILL_THREAD ends only that thread");
    T_EQ(outcome(in_child(c_kill_unknown)), KILLED_BY(SIGSYS), "an unknown action kills");
    T_EQ(outcome(in_child(c_div_x0)), KILLED_BY(SIGSYS), "division by X = 0 returns 0: kill");
    T_EQ(outcome(in_child(c_trace_notif_log)), 0, "TRACE and USER_NOTIF: ENOSYS; LOG allows");
    T_EQ(outcome(in_child(c_stack)), KILLED_BY(SIGSYS), "stacked filters: most restrictive wins");
    T_EQ(outcome(in_child(c_args)), 0, "argument matching, both halves");
    T_EQ(outcome(in_child(c_alu)), 0, "ALU, scratch memory, jumps, RET A");
    T_EQ(outcome(in_child(c_tsync)), 0, "TSYNC applies the filter to another thread");
    T_EQ(outcome(in_child(c_tsync_fail)), 0, "TSYNC fails on a diverged thread");
    T_EQ(outcome(in_child(c_inherit)), 0, "filters survive fork and exec");
    T_EQ(outcome(in_child(c_prctl)), 0, "PR_SET_SECCOMP filter; then strict: EINVAL");
    T_EQ(outcome(in_child(c_strict_ok)), 7, "strict mode allows read, write, exit");
    T_EQ(outcome(in_child(c_strict_kill)), KILLED_BY(SIGKILL), "strict mode kills on getpid");
    T_EQ(outcome(in_child(c_strict_bad_args)), 0, "strict mode with flags or args: EINVAL");
    if (geteuid() == 0) {
        T_EQ(outcome(in_child(c_nnp_root)), 0, "root may install without no_new_privs");
        T_EQ(outcome(in_child(c_nnp_user)), 0, "non-root needs no_new_privs (EACCES)");
    } else {
        tap_skip("root may install without no_new_privs", "not root");
        tap_skip("non-root needs no_new_privs (EACCES)", "not root");
    }
    invalid_programs();
    return tap_done();
}
