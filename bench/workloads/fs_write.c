/* Sequential write of -m MiB (default 1024) to a new file -f PATH in 1 MiB
 * write(2)s, then close (no fsync: the file system's write path, not the
 * disk), in MiB/s; the file is removed afterwards. */
#include "bench.h"
#include <fcntl.h>

#define CHUNK (1 << 20)

static char buf[CHUNK];

int main(int argc, char **argv)
{
    struct bench_opts o = {.budget_s = 0.5, .reps = 1, .path = "/tmp/bench-write", .mib = 1024};
    bench_parse(argc, argv, &o);
    memset(buf, 0x5a, sizeof(buf));
    double v[64];
    int k = 0;
    for (int r = 0; r < o.reps && k < 64; r++) {
        unlink(o.path);
        uint64_t t0 = now_ns();
        int fd = open(o.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            bench_die("open");
        for (long i = 0; i < o.mib; i++) {
            if (write(fd, buf, CHUNK) != CHUNK)
                bench_die("write");
        }
        if (close(fd) != 0)
            bench_die("close");
        v[k++] = (double)o.mib / ((double)(now_ns() - t0) / 1e9);
        if (unlink(o.path) != 0)
            bench_die("unlink");
    }
    bench_result("MiB_per_s", median(v, k));
    return 0;
}
