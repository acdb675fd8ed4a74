/*
 * Host cgroups for a whole sandbox: the kernel process, every stub and (OCI)
 * the keeper live in one cgroup whose memory, pids and CPU limits bound what
 * the sandbox can take from the host, whatever its kernel does.
 *
 * cgroup v2 (a cgroup2 file system at /sys/fs/cgroup) and v1 (one hierarchy
 * per controller; moat uses memory, pids, cpu and cpuacct) are both
 * supported; v1's freezer hierarchy is used too when mounted (moat pause).
 * The CLI creates the cgroup before the kernel process exists;
 * the kernel process's first act is cgroup_join, so everything it starts
 * is inside. The CLI removes it when the sandbox ends (killing whatever is
 * left), and cgroup_sweep_stale removes the ones of `moat do` runs whose CLI
 * was killed.
 *
 * Paths (OCI cgroupsPath, as runc reads it with the cgroupfs driver): an
 * absolute path is below each hierarchy's root; a relative one below the
 * caller's own cgroup in that hierarchy. moat's default is
 * `moat/NAME` relative to the caller's cgroup (v1; v2 when the caller's
 * cgroup can have children with controllers), else `/moat/NAME`.
 */
#ifndef MOAT_SANDBOX_CGROUP_H
#define MOAT_SANDBOX_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CGROUP_MAX_DIRS 6

struct cgroup {
    int version;                  /* 1 or 2 */
    size_t ndirs;                 /* v2: 1 */
    char *dirs[CGROUP_MAX_DIRS];  /* the cgroup's directory in each hierarchy */
    char *ctls[CGROUP_MAX_DIRS];  /* v1: the controller the directory is for */
    char *procs[CGROUP_MAX_DIRS]; /* DIR/cgroup.procs, ready for cgroup_join after fork */
};

/* What to set; a field left at 0 is not touched. -1: unlimited. */
struct cgroup_limits {
    int64_t memory;      /* bytes */
    int64_t memory_swap; /* memory + swap, bytes (the OCI/v1 meaning; v2 gets the difference) */
    int64_t pids;        /* tasks (threads count) */
    uint64_t cpu_shares; /* v1 shares (2..262144); v2 gets the weight runc derives */
    int64_t cpu_quota;   /* microseconds per period; -1 unlimited */
    uint64_t cpu_period; /* microseconds */
};

struct cgroup_stats {
    uint64_t memory_usage, memory_max_usage, memory_limit, memory_failcnt;
    uint64_t oom_kills;
    uint64_t pids_current, pids_limit; /* limit 0: unlimited */
    uint64_t cpu_total_ns, cpu_user_ns, cpu_system_ns;
    uint64_t cpu_periods, cpu_throttled_periods, cpu_throttled_ns;
};

/* Creates the cgroup at PATH (see above; NULL: moat's default `moat/NAME`).
 * An existing directory is reused only if no process is in it. 0 and a new
 * *out (cgroup_free), or -errno with one line in ERRBUF. */
int cgroup_create(const char *path, const char *name, struct cgroup **out, char *errbuf,
                  size_t errsize);
/* Sets the limits L. 0, or -errno with one line in ERRBUF naming the file. */
int cgroup_set(const struct cgroup *cg, const struct cgroup_limits *l, char *errbuf,
               size_t errsize);
/* Moves the calling process into the cgroup. Async-signal-safe (no
 * allocation): meant for the child right after fork. 0 or -errno. */
int cgroup_join(const struct cgroup *cg);
/* Moves process PID into the cgroup. 0 or -errno. */
int cgroup_add_pid(const struct cgroup *cg, pid_t pid);
int cgroup_stats(const struct cgroup *cg, struct cgroup_stats *out);
/* Freezes (FREEZE) or thaws every process of the cgroup: v1's freezer
 * controller (freezer.state), v2's cgroup.freeze. Freezing waits (at most
 * about 5 s) until the kernel reports the whole cgroup frozen. 0, or
 * -errno with one line in ERRBUF (-ENOTSUP: no freezer for this cgroup). */
int cgroup_freeze(const struct cgroup *cg, bool freeze, char *errbuf, size_t errsize);
/* 1 if the cgroup is frozen (or freezing), 0 if not, -errno if unknown. */
int cgroup_frozen(const struct cgroup *cg);
/* Kills every process still in the cgroup, waits (at most TIMEOUT_MS) for
 * them to be gone, and removes its directories (and an empty `moat`
 * parent). 0, or -errno if a directory is still there. */
int cgroup_destroy(const struct cgroup *cg, int timeout_ms);
void cgroup_free(struct cgroup *cg);

/* Saving the cgroup in a container's state directory (DIRFD/NAME), one
 * directory per line, and loading it back for delete/events/update. */
int cgroup_save(const struct cgroup *cg, int dirfd, const char *name);
/* 0 and *out; -ENOENT if there is none. */
int cgroup_load(int dirfd, const char *name, struct cgroup **out);

/* Removes the cgroups `moat do` runs left behind when their CLI was killed
 * (name do-PID-START with that process gone). */
void cgroup_sweep_stale(void);
/* The name a `moat do` run uses for its cgroup. */
void cgroup_do_name(char *buf, size_t size);

#endif
