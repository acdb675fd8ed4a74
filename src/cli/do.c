/* moat do: run a host command sandboxed. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/vfs/vfs_fs.h"
#include "cli/cli.h"
#include "lib/log.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"

extern char **environ;

/* BYTES with an optional k/m/g suffix (powers of 1024). 0 and *out, or -EINVAL. */
static int parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if ((*end == 'b' || *end == 'B') && shift)
        end++;
    if (*end || v == 0 || v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

/* "HOST:DEST[:ro|:rw]" into *out (strings kept for the process's life).
 * Prints the error; -1 on a bad value. */
static int parse_volume(const char *v, struct sandbox_mount *out)
{
    char *s = strdup(v);
    char *c1 = s ? strchr(s, ':') : NULL;
    if (!c1 || c1 == s) {
        fprintf(stderr, "moat do: bad --volume `%s` (HOST:DEST[:ro])\n", v);
        free(s);
        return -1;
    }
    *c1 = '\0';
    char *dest = c1 + 1, *mode = strchr(dest, ':');
    bool ro = false;
    if (mode) {
        *mode++ = '\0';
        if (strcmp(mode, "ro") == 0)
            ro = true;
        else if (strcmp(mode, "rw") != 0) {
            fprintf(stderr, "moat do: bad --volume mode `%s` (ro or rw)\n", mode);
            free(s);
            return -1;
        }
    }
    if (dest[0] != '/') {
        fprintf(stderr, "moat do: --volume `%s`: DEST must be an absolute path\n", v);
        free(s);
        return -1;
    }
    char *host = realpath(s, NULL);
    if (!host) {
        fprintf(stderr, "moat do: --volume `%s`: %s: %s\n", v, s, strerror(errno));
        free(s);
        return -1;
    }
    *out = (struct sandbox_mount){.kind = ro ? VFS_EXTRA_BIND_RO : VFS_EXTRA_BIND_RW,
                                  .dest = dest, .source = host,
                                  .mnt_flags = ro ? VFS_MNT_RDONLY : 0};
    return 0;
}

static const char g_do_usage[] =
        "Usage: moat do [OPTIONS] [--] CMD [ARGS...]\n"
        "\n"
        "Runs CMD in a new sandbox. Its root is the host's / seen read-only, with an\n"
        "in-memory layer on top that takes every write (the host is never modified,\n"
        "except inside --volume directories).\n"
        "CMD is looked up in $PATH inside the sandbox; the app gets this process's\n"
        "working directory, environment and standard input/output, and sees itself\n"
        "as PID 1. moat exits with the app's status, or 128+N if signal N ended it;\n"
        "127 if CMD is not found, 126 if it cannot be executed, 125 if moat failed.\n"
        "It exits once the sandbox's last process has ended; the host frees the\n"
        "sandbox right after, in the background.\n"
        "\n"
        "Options:\n"
        "  --platform=NAME     interception backend: systrap (default; ptrace when the\n"
        "                      host cannot run it) or ptrace\n"
        "  --no-syscall-patch  systrap: trap every syscall instead of rewriting hot\n"
        "                      `mov $nr,%eax; syscall` sites into jumps to trampolines\n"
        "  --root=DIR          host directory that becomes the sandbox's / (default /);\n"
        "                      the command starts in / there\n"
        "  --memory=BYTES      memory the sandbox's apps may hold (suffix k, m, g: KiB,\n"
        "                      MiB, GiB); past it the app that needs more is killed.\n"
        "                      The whole sandbox (kernel included) also runs in a host\n"
        "                      cgroup bounded at BYTES plus the kernel's overhead.\n"
        "                      Inside, /proc/meminfo and sysinfo show BYTES as MemTotal\n"
        "  --pids=N            at most N tasks (threads count) in the sandbox: fork and\n"
        "                      clone fail with EAGAIN past it; host cgroup pids limit too\n"
        "  --cpus=X            CPU time of the whole sandbox, in CPUs (e.g. 0.5, 2):\n"
        "                      host cgroup CPU quota\n"
        "  -v, --volume=HOST:DEST[:ro]\n"
        "                      bind the host directory or file HOST on DEST in the\n"
        "                      sandbox; read-write by default: the app's changes land\n"
        "                      in HOST (and nowhere else on the host); :ro refuses\n"
        "                      writes (EROFS). Repeatable\n"
        "  --read-only         the sandbox's / refuses writes (EROFS), as docker run\n"
        "                      --read-only; mounts inside it (/dev, /proc, volumes) do not\n"
        "  --network=MODE      none (default): only loopback, in a network of the\n"
        "                      sandbox's own; host: the host's network\n"
        "  --strace            log each syscall with decoded arguments and result\n"
        "  --debug             verbose kernel logging\n"
        "  --debug-log=FILE    logs and --strace output go to FILE\n"
        "  -h, --help          this help\n";

int cmd_do(int argc, char **argv)
{
    const char *root = NULL;
    uint64_t memory_limit = 0;
    long pids_limit = 0;
    double cpus = 0;
    bool network_none = true;
    bool root_readonly = false;
    struct sandbox_mount vols[64];
    size_t nvols = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(g_do_usage, stdout);
            return 0;
        }
        if (a[0] != '-')
            break;
        if (strncmp(a, "--root=", 7) == 0 || strcmp(a, "--root") == 0) {
            root = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : "");
            if (!root[0]) {
                fprintf(stderr, "moat do: --root needs a directory\n");
                return EXIT_MOAT_ERROR;
            }
            continue;
        }
        if (strncmp(a, "--volume=", 9) == 0 || strcmp(a, "--volume") == 0 || strcmp(a, "-v") == 0) {
            const char *v = strncmp(a, "--volume=", 9) == 0 ? a + 9 : (i + 1 < argc ? argv[++i] : "");
            if (nvols == sizeof(vols) / sizeof(vols[0]) || parse_volume(v, &vols[nvols]) < 0)
                return EXIT_MOAT_ERROR;
            nvols++;
            continue;
        }
        if (strcmp(a, "--read-only") == 0) {
            root_readonly = true;
            continue;
        }
        if (strncmp(a, "--network=", 10) == 0 || strcmp(a, "--network") == 0) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : "");
            if (strcmp(v, "none") != 0 && strcmp(v, "host") != 0) {
                fprintf(stderr, "moat do: bad --network `%s` (none or host)\n", v);
                return EXIT_MOAT_ERROR;
            }
            network_none = strcmp(v, "none") == 0;
            continue;
        }
        if (strncmp(a, "--memory=", 9) == 0 || strcmp(a, "--memory") == 0) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : "");
            if (parse_bytes(v, &memory_limit) < 0 || memory_limit < (1u << 20)) {
                fprintf(stderr, "moat do: bad --memory `%s` (bytes, with k/m/g; at least 1m)\n",
                        v);
                return EXIT_MOAT_ERROR;
            }
            continue;
        }
        if (strncmp(a, "--pids=", 7) == 0 || strcmp(a, "--pids") == 0) {
            const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : "");
            char *end;
            errno = 0;
            pids_limit = strtol(v, &end, 10);
            if (errno || end == v || *end || pids_limit < 1 || pids_limit > 4194304) {
                fprintf(stderr, "moat do: bad --pids `%s` (a number of tasks, at least 1)\n", v);
                return EXIT_MOAT_ERROR;
            }
            continue;
        }
        if (strncmp(a, "--cpus=", 7) == 0 || strcmp(a, "--cpus") == 0) {
            const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : "");
            char *end;
            errno = 0;
            cpus = strtod(v, &end);
            if (errno || end == v || *end || !(cpus >= 0.01 && cpus <= 4096)) {
                fprintf(stderr, "moat do: bad --cpus `%s` (CPUs, e.g. 0.5; at least 0.01)\n", v);
                return EXIT_MOAT_ERROR;
            }
            continue;
        }
        int r = cli_parse_global(argc, argv, &i);
        if (r < 0)
            return EXIT_MOAT_ERROR;
        if (r == 0) {
            fprintf(stderr, "moat do: unknown option `%s`; see moat do --help\n", a);
            return EXIT_MOAT_ERROR;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "moat do: missing command; see moat do --help\n");
        return EXIT_MOAT_ERROR;
    }
    if (cli_apply_global() < 0)
        return EXIT_MOAT_ERROR;

    char cwd[PATH_MAX];
    if (root || !getcwd(cwd, sizeof(cwd)))
        strcpy(cwd, "/");
    /* Host cgroup of the whole sandbox, when a limit asks for one. */
    struct cgroup *cg = NULL;
    if (memory_limit || pids_limit || cpus > 0) {
        cgroup_sweep_stale();
        struct cgroup_limits l;
        sandbox_host_limits(memory_limit, (int)pids_limit, &l);
        if (cpus > 0) {
            l.cpu_period = 100000;
            l.cpu_quota = (int64_t)(cpus * 100000.0 + 0.5);
        }
        char name[64], err[512];
        cgroup_do_name(name, sizeof(name));
        int r = cgroup_create(NULL, name, &cg, err, sizeof(err));
        if (r == 0 && (r = cgroup_set(cg, &l, err, sizeof(err))) < 0) {
            cgroup_destroy(cg, 1000);
            cgroup_free(cg);
        }
        if (r < 0) {
            fprintf(stderr, "moat do: the sandbox's resource limits need a host cgroup: %s\n",
                    err);
            return EXIT_MOAT_ERROR;
        }
        log_debug("host cgroup %s", cg->dirs[0]);
    }
    struct sandbox_config cfg = {
        .argv = argv + i,
        .envp = environ,
        .cwd = cwd,
        .root = root ? root : "/",
        .platform = g_cli.platform,
        .no_syscall_patch = g_cli.no_syscall_patch,
        .strace = g_cli.strace,
        .memory_limit = memory_limit,
        .network_none = network_none,
        .mounts = vols,
        .mounts_len = nvols,
        .root_readonly = root_readonly,
        .pids_limit = (int)pids_limit,
        .cgroup = cg,
    };
    int status = sandbox_run(&cfg);
    if (cg) {
        struct cgroup_stats st;
        if (cgroup_stats(cg, &st) == 0 && st.oom_kills)
            log_error("the sandbox's host cgroup hit its memory limit (%llu bytes): the host "
                      "killed %llu of its processes",
                      (unsigned long long)st.memory_limit, (unsigned long long)st.oom_kills);
        int r = cgroup_destroy(cg, 5000);
        if (r < 0)
            log_error("cannot remove the sandbox's cgroup %s: %s", cg->dirs[0], strerror(-r));
        cgroup_free(cg);
    }
    return status;
}
