/* Sequential read of the file -f PATH (-m MiB, default 1024) in 1 MiB
 * read(2)s, in MiB/s. If PATH does not exist it is first written (not
 * timed) and removed at the end: on tmpfs the data is then in memory, as a
 * file read back on the same file system is. */
#include "bench.h"
#include <fcntl.h>
#include <sys/stat.h>

#define CHUNK (1 << 20)

static char buf[CHUNK];

int main(int argc, char **argv)
{
    struct bench_opts o = {.budget_s = 0.5, .reps = 1, .path = "/bench/big.dat", .mib = 1024};
    bench_parse(argc, argv, &o);
    struct stat st;
    int made = 0;
    if (stat(o.path, &st) != 0) {
        int fd = open(o.path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            bench_die("create");
        memset(buf, 0x5a, sizeof(buf));
        for (long i = 0; i < o.mib; i++)
            if (write(fd, buf, CHUNK) != CHUNK)
                bench_die("write");
        close(fd);
        made = 1;
    } else if (st.st_size != (off_t)o.mib << 20) {
        fprintf(stderr, "bench: %s is %lld bytes, want %ld MiB\n", o.path, (long long)st.st_size,
                o.mib);
        exit(1);
    }
    double v[64];
    int k = 0;
    for (int r = 0; r < o.reps && k < 64; r++) {
        uint64_t t0 = now_ns();
        int fd = open(o.path, O_RDONLY);
        if (fd < 0)
            bench_die("open");
        long total = 0;
        for (;;) {
            ssize_t n = read(fd, buf, CHUNK);
            if (n < 0)
                bench_die("read");
            if (n == 0)
                break;
            total += n;
        }
        close(fd);
        if (total != o.mib << 20) {
            fprintf(stderr, "bench: read %ld bytes, want %ld\n", total, o.mib << 20);
            exit(1);
        }
        v[k++] = (double)o.mib / ((double)(now_ns() - t0) / 1e9);
    }
    if (made)
        unlink(o.path);
    bench_result("MiB_per_s", median(v, k));
    return 0;
}
