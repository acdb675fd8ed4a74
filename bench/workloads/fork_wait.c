/* fork + _exit(0) in the child + waitpid in the parent, in µs per cycle. */
#include "bench.h"
#include <sys/wait.h>

static void op(long n, void *ctx)
{
    (void)ctx;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork");
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid)
            bench_die("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench: child status %#x\n", status);
            exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 1, .path = "/usr/bin/busybox", .mib = 1 };
    bench_parse(argc, argv, &o);
    bench_result("us_per_cycle", bench_loop(op, NULL, o.budget_s) / 1000.0);
    return 0;
}
