/* Calibration, run natively only: the bare PTRACE_SYSEMU round trip of a
 * minimal tracer (stop, GETREGS, SETREGS, resume) for a getppid loop in a
 * traced child, in ns per trapped syscall. This is the floor under any
 * ptrace-platform syscall at this moment on this machine; moat's getppid
 * minus this is the application kernel's own cost. Tracer and tracee share
 * one CPU, as moat's ptrace platform pins them. */
#include "bench.h"
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

static pid_t child;

static void op(long n, void *ctx)
{
    (void)ctx;
    struct user_regs_struct r;
    int st;
    for (long i = 0; i < n; i++) {
        if (ptrace(PTRACE_SYSEMU, child, 0, 0) < 0)
            bench_die("PTRACE_SYSEMU");
        if (waitpid(child, &st, __WALL) != child || !WIFSTOPPED(st))
            bench_die("waitpid");
        if (ptrace(PTRACE_GETREGS, child, 0, &r) < 0)
            bench_die("PTRACE_GETREGS");
        r.rax = 1;
        if (ptrace(PTRACE_SETREGS, child, 0, &r) < 0)
            bench_die("PTRACE_SETREGS");
    }
}

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 1, .path = "/usr/bin/busybox", .mib = 1 };
    bench_parse(argc, argv, &o);
    cpu_set_t cpus, one;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) {
        CPU_ZERO(&one);
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &cpus)) {
                CPU_SET(c, &one);
                break;
            }
        sched_setaffinity(0, sizeof(one), &one);
    }
    child = fork();
    if (child < 0)
        bench_die("fork");
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
            _exit(1);
        raise(SIGSTOP);
        for (;;)
            syscall(SYS_getppid);
    }
    int st;
    if (waitpid(child, &st, 0) != child || !WIFSTOPPED(st))
        bench_die("waitpid");
    ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_EXITKILL);
    double v = bench_loop(op, NULL, o.budget_s);
    kill(child, SIGKILL);
    waitpid(child, &st, 0);
    bench_result("ns_per_call", v);
    return 0;
}
