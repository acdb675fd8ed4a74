/* Bytes over a loopback TCP connection (127.0.0.1) from a child writer to
 * the parent reader (default 1 GiB, 64 KiB writes and reads), in MiB/s;
 * median over -r transfers. */
#include "bench.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define CHUNK (64 << 10)

static char buf[CHUNK];

static double transfer(size_t total)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0)
        bench_die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0)
        bench_die("bind/listen");
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork");
    if (pid == 0) {
        close(l);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0)
            bench_die("connect");
        for (size_t left = total; left > 0;) {
            ssize_t w = write(c, buf, left < CHUNK ? left : CHUNK);
            if (w <= 0)
                bench_die("write");
            left -= (size_t)w;
        }
        close(c);
        _exit(0);
    }
    int s = accept(l, NULL, NULL);
    if (s < 0)
        bench_die("accept");
    close(l);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(s, buf, CHUNK);
        if (r < 0)
            bench_die("read");
        if (r == 0)
            break;
        got += (size_t)r;
    }
    uint64_t t = now_ns() - t0;
    close(s);
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
