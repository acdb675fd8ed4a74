/*
 * Container state under the runtime root (--root, default /run/moat): one
 * directory per container holding
 *   state.json  what `moat state` reports, written once at create
 *   exec.fifo   present while the container is `created`; `start` opens it
 *   (the directory itself is flock()ed to serialise CLI calls on one id)
 * The status is computed, never stored: the kernel process alive (same
 * start time, not a zombie) with exec.fifo present is `created`, alive
 * without it `running`, anything else `stopped`; a live one whose cgroup
 * freezer is frozen (moat pause) is `paused`.
 */
#ifndef MOAT_OCI_STATE_H
#define MOAT_OCI_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "oci/err.h"
#include "oci/json.h"

#define OCI_DEFAULT_ROOT "/run/moat"
#define OCI_VERSION      "1.2.0"
/* The container's host cgroup (sandbox/cgroup.h, cgroup_save), if any. */
#define OCI_CGROUP_FILE  "cgroup"

enum oci_status {
    OCI_CREATING,
    OCI_CREATED,
    OCI_RUNNING,
    OCI_STOPPED,
    OCI_PAUSED,
    OCI_STATUS_MAX
};

struct oci_state {
    char *id;
    char *bundle;
    char *rootfs;
    char *created;          /* RFC 3339 */
    char *owner;
    pid_t pid;              /* the kernel process (host pid) */
    uint64_t start_time;    /* its start time (/proc/PID/stat field 22) */
    struct json *annotations; /* an object, or NULL */
};

/* An open container directory, locked. */
struct oci_container {
    char *dir;   /* ROOT/ID */
    int dirfd;   /* flock()ed */
};

const char *oci_status_name(enum oci_status s);
/* Valid ids: [A-Za-z0-9_.+-]{1,1024}, not "." or "..". */
int oci_check_id(const char *id, struct rt_err **err);

/* Creates ROOT/ID (the id must be new) and locks it exclusively. */
int oci_container_new(const char *root, const char *id, struct oci_container *out,
                      struct rt_err **err);
/* Opens and locks existing ROOT/ID (EXCLUSIVE or shared). */
int oci_container_open(const char *root, const char *id, bool exclusive,
                       struct oci_container *out, struct rt_err **err);
/* Unlocks and closes. */
void oci_container_close(struct oci_container *c);
/* Removes ROOT/ID and everything in it (the container stays locked until
 * closed). */
int oci_container_remove(struct oci_container *c, struct rt_err **err);

int oci_state_write(struct oci_container *c, const struct oci_state *s, struct rt_err **err);
int oci_state_read(struct oci_container *c, struct oci_state *s, struct rt_err **err);
void oci_state_free(struct oci_state *s);
enum oci_status oci_state_status(struct oci_container *c, const struct oci_state *s);
/* Writes the OCI state JSON (runc's field order), indented like runc's. */
void oci_state_print(FILE *f, const struct oci_state *s, enum oci_status st);

/* The start time of PID from /proc, 0 if it is gone; *out_zombie when it
 * has exited but is not reaped. */
uint64_t oci_pid_start_time(pid_t pid, bool *out_zombie);
/* Whether the kernel process PID (started at START) still runs. */
bool oci_pid_alive(pid_t pid, uint64_t start);
/* The current time in RFC 3339 with nanoseconds (malloc'd). */
char *oci_now_rfc3339(void);

#endif
