/* The moat command line: one file per command. */
#ifndef MOAT_CLI_CLI_H
#define MOAT_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Options that apply to every command (before or after the command name). */
struct cli_global {
    const char *platform;
    const char *debug_log;
    bool debug;
    bool strace;
    bool no_syscall_patch;  /* --no-syscall-patch */
    /* runc's global options, as Docker and containerd pass them. */
    const char *root;       /* --root: state directory (default /run/moat) */
    const char *log;        /* --log: where errors and warnings go */
    bool log_json;          /* --log-format=json */
    bool systemd_cgroup;    /* --systemd-cgroup: cgroupsPath is slice:prefix:name */
};

extern struct cli_global g_cli;

/* Parses one global option at ARGV[*I] (advancing *I past its value).
 * Returns 1 if it was one, 0 if not, -1 on a bad value (error printed). */
int cli_parse_global(int argc, char **argv, int *i);
/* Applies logging options; 0 or -1 (error printed). */
int cli_apply_global(void);

/* A command's option, runc style: --name, --name=VALUE, --name VALUE,
 * -name, and -N for a one-letter SHORT. */
struct cli_opt {
    const char *name;
    char short_name;   /* 0: none */
    const char **value; /* takes a value; NULL for a flag */
    bool *flag;
};
/* Parses the options of command CMD from ARGV[1]; global options are also
 * accepted. *out_next is the first operand. 0, or -1 after printing an
 * error (unknown option, missing value). "-h"/"--help" print USAGE and
 * return 1. */
int cli_parse_opts(const char *cmd, int argc, char **argv, const struct cli_opt *opts,
                   const char *usage, int *out_next);
/* The one operand of CMD, the container id at ARGV[NEXT], or NULL after
 * reporting that it is missing or that more follow. */
const char *cli_one_id(const char *cmd, int argc, char **argv, int next);

/* Reports an error object and returns runc's failure status (1). */
struct rt_err;

int cmd_do(int argc, char **argv);
int cmd_debug(int argc, char **argv);
int cmd_spec(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_update(int argc, char **argv);

/* The control channel to a running sandbox (src/cli/ctl_client.c; protocol
 * in kernel/task/ctl.h). DIR is the container's state directory. */
int cli_ctl_listen(const char *dir, struct rt_err **err);  /* listening fd, or <0 */
int cli_ctl_connect(const char *dir, struct rt_err **err); /* connected fd, or <0 */
/* Sends one message with up to 3 fds. 0 or -errno. */
int cli_ctl_send(int s, const char *msg, size_t len, const int *fds, int nfds);
/* One request, one reply: *out (malloc'd, NUL-terminated) or <0 with *err
 * set (an "F" reply too). */
int cli_ctl_request(const char *dir, const char *msg, size_t len, char **out,
                    struct rt_err **err);
/* A new pty whose master goes to the unix socket SOCKET_PATH (runc's
 * --console-socket); *out_slave is the app's side (src/cli/create.c). */
int cli_make_console(const char *socket_path, int *out_slave, struct rt_err **err);
/* Writes PID to PATH atomically, as runc's --pid-file. */
int cli_write_pid_file(const char *path, pid_t pid, struct rt_err **err);

/* Shared by create and run (src/cli/create.c). */
struct oci_container;
struct oci_state;
struct cli_create_opts {
    const char *id;
    const char *bundle;      /* default "." */
    const char *pid_file;
    const char *console_socket;
};
/* Creates the container: on success *out_pid is its kernel process (our
 * child), left waiting for start. 0 or <0 with *err set (nothing left
 * behind: no state directory, no process). */
int cli_create_container(const struct cli_create_opts *o, pid_t *out_pid, struct rt_err **err);
/* Starts created container ID (locks it). */
int cli_start_container(const char *id, struct rt_err **err);
/* Runs the poststop hooks saved with container CT (warnings on failure). */
struct oci_container;
struct oci_state;
void cli_poststop(struct oci_container *ct, const struct oci_state *s);
/* The state root: --root or the default. */
const char *cli_state_root(void);

#define EXIT_MOAT_ERROR 125 /* moat itself failed, as env(1) and docker run use */

struct oci_container;
struct rt_err;
/* Removes container CT's host cgroup (sandbox/cgroup.h), killing whatever
 * is still in it; 0 if it has none. <0 with *err set. */
int cli_remove_cgroup(struct oci_container *ct, struct rt_err **err);

/* Freezes (FREEZE) or thaws container CT's cgroup (src/cli/pause.c). 0 or
 * <0 with *err set. */
int cli_freeze(struct oci_container *ct, bool freeze, struct rt_err **err);

#endif
