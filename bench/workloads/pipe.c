/* Bytes through a pipe from a child writer to the parent reader (default
 * 1 GiB, 64 KiB writes and reads), in MiB/s; median over -r transfers. */
#include "bench.h"
#include <sys/wait.h>

#define CHUNK (64 << 10)

static char buf[CHUNK];

static double transfer(size_t total)
{
    int fds[2];
    if (pipe(fds) != 0)
        bench_die("pipe");
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork");
    if (pid == 0) {
        close(fds[0]);
        for (size_t left = total; left > 0;) {
            ssize_t w = write(fds[1], buf, left < CHUNK ? left : CHUNK);
            if (w <= 0)
                bench_die("write");
            left -= (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fds[0], buf, CHUNK);
        if (r < 0)
            bench_die("read");
        if (r == 0)
            break;
        got += (size_t)r;
    }
    uint64_t t = now_ns() - t0;
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: writer failed\n");
        exit(1);
    }
    if (got != total) {
        fprintf(stderr, "bench: got %zu of %zu bytes\n", got, total);
        exit(1);
    }
    return (double)total / (1 << 20) / ((double)t / 1e9);
}

int main(int argc, char **argv)
{
    struct bench_opts o = { .budget_s = 0.5, .reps = 3, .path = "/usr/bin/busybox", .mib = 1024 };
    bench_parse(argc, argv, &o);
    memset(buf, 'x', sizeof(buf));
    double *v = calloc((size_t)o.reps, sizeof(*v));
    if (!v)
        bench_die("calloc");
    for (int r = 0; r < o.reps; r++)
        v[r] = transfer((size_t)o.mib << 20);
    bench_result("mib_per_s", median(v, o.reps));
    return 0;
}
