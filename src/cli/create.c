/* moat create: set up a container from an OCI bundle, ready to start. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "kernel/vfs/vfs_fs.h"
#include "cli/cli.h"
#include "oci/config.h"
#include "oci/err.h"
#include "lib/util.h"
#include "oci/state.h"
#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"

static const char g_create_usage[] =
        "Usage: moat create [OPTIONS] ID\n"
        "\n"
        "Creates container ID from the bundle (a directory with config.json and the\n"
        "root file system it names). The sandbox's kernel is started and waits;\n"
        "`moat start ID` runs the container's process.\n"
        "\n"
        "Options:\n"
        "  -b, --bundle DIR        the bundle (default: the current directory)\n"
        "  --pid-file FILE         write the container's pid (the kernel process) to FILE\n"
        "  --console-socket SOCK   send the terminal's master fd to this unix socket\n"
        "                          (process.terminal: true)\n"
        "  --no-pivot, --no-new-keyring, --preserve-fds N   accepted, no effect\n";

/* Sends FD over the unix socket at PATH (SCM_RIGHTS), as runc does. */
static int send_console(const char *path, int fd, struct rt_err **err)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return rt_err_make(err, errno, "--console-socket: socket");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        close(s);
        return rt_err_make(err, ENAMETOOLONG, "--console-socket `%s`", path);
    }
    strcpy(sa.sun_path, path);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(s);
        return rt_err_make(err, e, "--console-socket: connecting to `%s`", path);
    }
    char name[] = "/dev/ptmx";
    struct iovec iov = {.iov_base = name, .iov_len = sizeof(name) - 1};
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof(cbuf));
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n = sendmsg(s, &msg, 0);
    int e = errno;
    close(s);
    if (n < 0)
        return rt_err_make(err, e, "--console-socket: sending the terminal to `%s`", path);
    return 0;
}

/* A new pty: the master goes to the console socket, *out_slave (opened
 * without becoming our controlling tty) becomes the app's stdio. */
int cli_make_console(const char *socket_path, int *out_slave, struct rt_err **err)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return rt_err_make(err, errno, "process.terminal: opening /dev/ptmx");
    char name[64];
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0) {
        int e = errno;
        close(m);
        return rt_err_make(err, e, "process.terminal: setting up the pty");
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int e = errno;
        close(m);
        return rt_err_make(err, e, "process.terminal: opening %s", name);
    }
    int r = send_console(socket_path, m, err);
    close(m);
    if (r < 0) {
        close(s);
        return r;
    }
    *out_slave = s;
    return 0;
}

int cli_write_pid_file(const char *path, pid_t pid, struct rt_err **err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.moat-tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return rt_err_make(err, errno, "--pid-file `%s`", path);
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
    if (write(fd, buf, (size_t)n) != n) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return rt_err_make(err, e, "--pid-file `%s`", path);
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return rt_err_make(err, e, "--pid-file `%s`", path);
    }
    return 0;
}

/* systemd's "SLICE:PREFIX:NAME" (--systemd-cgroup) as a cgroupfs path:
 * a-b.slice nests as /a.slice/a-b.slice; the unit is PREFIX-NAME.scope. */
static int systemd_path(const char *spec, char *out, size_t size)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", spec);
    char *c1 = strchr(tmp, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return -EINVAL;
    *c1 = *c2 = '\0';
    const char *slice = tmp[0] ? tmp : "system.slice";
    size_t len = strlen(slice);
    if (len < 6 || strcmp(slice + len - 6, ".slice") != 0 || strchr(slice, '/'))
        return -EINVAL;
    size_t n = 0;
    out[0] = '\0';
    if (strcmp(slice, "-.slice") != 0) {
        for (const char *d = slice;; d++) {
            if (*d == '-' || *d == '.') {
                if (*d == '.' && strcmp(d, ".slice") != 0)
                    continue;
                n += (size_t)snprintf(out + n, size - MIN(n, size), "/%.*s.slice",
                                      (int)(d - slice), slice);
                if (*d == '.')
                    break;
            }
        }
    }
    if (strchr(c1 + 1, '/') || strchr(c2 + 1, '/'))
        return -EINVAL;
    if (c1[1])
        n += (size_t)snprintf(out + n, size - MIN(n, size), "/%s-%s.scope", c1 + 1, c2 + 1);
    else
        n += (size_t)snprintf(out + n, size - MIN(n, size), "/%s", c2 + 1);
    return n < size ? 0 : -ENAMETOOLONG;
}

/* The sandbox's host cgroup from linux.resources and linux.cgroupsPath
 * (src/sandbox/cgroup.h). As root one is always made (runc does; `events`
 * reads it); unprivileged, only when limits ask for one. *out NULL: none. */
static int make_cgroup(const struct oci_config *c, const char *id, struct cgroup **out,
                       struct rt_err **err)
{
    *out = NULL;
    const struct oci_resources *res = &c->resources;
    bool limits = res->memory_limit || res->memory_swap || res->pids_limit ||
                  res->cpu_shares || res->cpu_quota || res->cpu_period;
    if (!limits && !c->cgroups_path && geteuid() != 0)
        return 0;
    const char *path = c->cgroups_path && c->cgroups_path[0] ? c->cgroups_path : NULL;
    char sd[PATH_MAX];
    if (path && g_cli.systemd_cgroup) {
        if (systemd_path(path, sd, sizeof(sd)) < 0)
            return rt_err_make(err, 0, "config.json: linux.cgroupsPath: `%s` is not slice:prefix:name (--systemd-cgroup)",
                               path);
        path = sd;
    }
    struct cgroup_limits l;
    sandbox_host_limits(res->memory_limit > 0 ? (uint64_t)res->memory_limit : 0,
                        res->pids_limit > 0 ? (int)MIN(res->pids_limit, 4194304) : 0, &l);
    if (res->memory_limit < 0)
        l.memory = -1;
    if (res->memory_swap < 0)
        l.memory_swap = -1;
    else if (res->memory_swap > 0 && res->memory_limit > 0)
        l.memory_swap = l.memory + (res->memory_swap - res->memory_limit);
    if (res->pids_limit < 0)
        l.pids = -1;
    l.cpu_shares = res->cpu_shares;
    l.cpu_quota = res->cpu_quota;
    l.cpu_period = res->cpu_period;
    char msg[512];
    struct cgroup *cg;
    int r = cgroup_create(path, id, &cg, msg, sizeof(msg));
    if (r == 0 && (r = cgroup_set(cg, &l, msg, sizeof(msg))) < 0) {
        cgroup_destroy(cg, 1000);
        cgroup_free(cg);
    }
    if (r < 0) {
        if (!limits && !c->cgroups_path) {
            rt_warn("linux.resources: the sandbox runs without a host cgroup: %s", msg);
            return 0;
        }
        return rt_err_make(err, -r, "linux.resources: %s", msg);
    }
    *out = cg;
    return 0;
}

static int build_mounts(const struct oci_config *c, struct sandbox_mount **out, size_t *out_len)
{
    struct sandbox_mount *m = calloc(c->mounts_len ? c->mounts_len : 1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < c->mounts_len; i++) {
        const struct oci_mount *o = &c->mounts[i];
        unsigned fl = o->mnt_flags | (o->readonly ? VFS_MNT_RDONLY : 0);
        if (o->kind == OCI_MOUNT_TMPFS) {
            m[n++] = (struct sandbox_mount){.kind = VFS_EXTRA_TMPFS, .dest = o->destination,
                                            .mode = o->tmpfs_mode, .mnt_flags = fl};
        } else if (o->kind == OCI_MOUNT_BIND) {
            struct stat st;
            if (stat(o->source, &st) == 0 && !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
                rt_warn("config.json: mounts[%zu]: `%s` is neither a directory nor a regular file: not mounted on `%s`",
                        i, o->source, o->destination);
                continue;
            }
            /* Read-write binds write through to the host, as runc's do
             * (kernel/fs/hostfs.c keeps every change inside the source). */
            m[n++] = (struct sandbox_mount){
                    .kind = o->readonly ? VFS_EXTRA_BIND_RO : VFS_EXTRA_BIND_RW,
                    .dest = o->destination, .source = o->source, .mnt_flags = fl};
        }
    }
    *out = m;
    *out_len = n;
    return 0;
}

/* The state startContainer hooks read (struct sandbox_config.hook_state):
 * ARG's, with PID, status "created" (runc's). */
static char *start_hook_state(void *arg, pid_t pid)
{
    struct oci_state s = *(const struct oci_state *)arg;
    s.pid = pid;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    oci_state_print(f, &s, OCI_CREATED);
    fclose(f);
    return buf;
}

int cli_create_container(const struct cli_create_opts *o, pid_t *out_pid, struct rt_err **err)
{
    int r = oci_check_id(o->id, err);
    if (r < 0)
        return r;
    struct oci_config *c;
    r = oci_config_load(o->bundle ? o->bundle : ".", &c, err);
    if (r < 0)
        return r;

    int console = -1;
    if (c->terminal) {
        if (!o->console_socket) {
            if (isatty(STDIN_FILENO)) {
                console = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
            } else {
                r = rt_err_make(err, 0, "process.terminal is true: use --console-socket (or run from a terminal)");
                goto out_config;
            }
        } else if ((r = cli_make_console(o->console_socket, &console, err)) < 0) {
            goto out_config;
        }
    } else if (o->console_socket) {
        r = rt_err_make(err, 0, "--console-socket needs process.terminal: true in config.json");
        goto out_config;
    }

    struct oci_container ct = {.dirfd = -1};
    r = oci_container_new(cli_state_root(), o->id, &ct, err);
    if (r < 0) {
        if (console >= 0)
            close(console);
        goto out_config;
    }
    char fifo[PATH_MAX];
    snprintf(fifo, sizeof(fifo), "%s/exec.fifo", ct.dir);
    if (mkfifo(fifo, 0600) < 0) {
        r = rt_err_make(err, errno, "creating `%s`", fifo);
        if (console >= 0)
            close(console);
        goto out_remove;
    }
    /* The control channel (exec, kill --all, ps, events): the kernel
     * process serves this listening socket. */
    int ctl = cli_ctl_listen(ct.dir, err);
    if (ctl < 0) {
        r = ctl;
        if (console >= 0)
            close(console);
        goto out_remove;
    }
    struct sandbox_rlimit *rl = calloc(c->rlimits_len + 1, sizeof(*rl));
    struct sandbox_mount *mounts = NULL;
    size_t mounts_len = 0;
    if (!rl || build_mounts(c, &mounts, &mounts_len) < 0) {
        free(rl);
        if (console >= 0)
            close(console);
        close(ctl);
        r = rt_err_make(err, ENOMEM, "create");
        goto out_remove;
    }
    for (size_t i = 0; i < c->rlimits_len; i++)
        rl[i] = (struct sandbox_rlimit){c->rlimits[i].resource, c->rlimits[i].soft,
                                        c->rlimits[i].hard};
    struct cgroup *cg = NULL;
    if ((r = make_cgroup(c, o->id, &cg, err)) < 0) {
        free(rl);
        free(mounts);
        if (console >= 0)
            close(console);
        close(ctl);
        goto out_remove;
    }
    struct sandbox_caps caps = {c->cap_effective, c->cap_permitted, c->cap_inheritable,
                                c->cap_bounding, c->cap_ambient};
    /* startContainer hooks run inside the sandbox (sandbox.c), with the
     * state as it will be: the keeper's pid goes in there. */
    char *created = oci_now_rfc3339();
    struct oci_state st = {
            .id = (char *)o->id,
            .bundle = c->bundle,
            .rootfs = c->rootfs,
            .created = created,
            .owner = NULL,
            .annotations = (struct json *)c->annotations,
    };
    size_t nstart = c->hooks.len[OCI_HOOK_START_CONTAINER];
    struct sandbox_hook *start_hooks = calloc(nstart + 1, sizeof(*start_hooks));
    for (size_t i = 0; start_hooks && i < nstart; i++) {
        const struct oci_hook *h = &c->hooks.list[OCI_HOOK_START_CONTAINER][i];
        start_hooks[i] = (struct sandbox_hook){h->path, h->args, h->env, h->timeout};
    }
    struct sandbox_config cfg = {
            .caps = c->has_caps ? &caps : NULL,
            .additional_gids = c->additional_gids,
            .additional_gids_len = c->additional_gids_len,
            .argv = c->args,
            .envp = c->env,
            .cwd = c->cwd,
            .root = c->rootfs,
            .platform = g_cli.platform,
            .no_syscall_patch = g_cli.no_syscall_patch,
            .strace = g_cli.strace,
            .set_ids = true,
            .uid = c->uid,
            .gid = c->gid,
            .no_new_privs = c->no_new_privileges,
            .hostname = c->hostname,
            .domainname = c->domainname,
            .sysctl = c->sysctl,
            .sysctl_len = c->sysctl_len,
            .network_none = c->netns_new,
            .netns_path = c->netns_path,
            .rlimits = rl,
            .rlimits_len = c->rlimits_len,
            .mounts = mounts,
            .mounts_len = mounts_len,
            .root_readonly = c->root_readonly,
            .exec_fifo = fifo,
            .console_fd = console,
            .ctl_fd = ctl,
            .memory_limit = c->resources.memory_limit > 0 ? (uint64_t)c->resources.memory_limit : 0,
            .pids_limit = c->resources.pids_limit > 0 ? (int)MIN(c->resources.pids_limit, 4194304)
                                                      : 0,
            .cgroup = cg,
            .seccomp_prog = c->seccomp.prog,
            .seccomp_len = c->seccomp.len,
            .seccomp_flags = c->seccomp.flags,
            .start_hooks = start_hooks,
            .start_hooks_len = start_hooks ? nstart : 0,
            .hook_state = start_hook_state,
            .hook_state_arg = &st,
    };
    char msg[512];
    pid_t pid;
    r = sandbox_create(&cfg, &pid, msg, sizeof(msg));
    free(rl);
    free(mounts);
    free(start_hooks);
    if (r < 0) {
        free(created);
        r = rt_err_make(err, 0, "%s", msg);
        goto out_cgroup;
    }
    st.pid = pid;
    bool zombie;
    st.start_time = oci_pid_start_time(pid, &zombie);
    r = oci_state_write(&ct, &st, err);
    if (r == 0 && cg && (r = cgroup_save(cg, ct.dirfd, OCI_CGROUP_FILE)) < 0)
        r = rt_err_make(err, -r, "saving the cgroup in %s", ct.dir);
    if (r == 0)
        r = oci_hooks_save(&ct, json_get(c->doc, "hooks"), err);
    /* The sandbox is built and waits for `start`: the hooks that set up
     * its environment (Docker's network, CNI) run now. */
    for (int k = OCI_HOOK_PRESTART; r == 0 && k <= OCI_HOOK_CREATE_CONTAINER; k++)
        r = oci_hooks_run(&c->hooks, (enum oci_hook_kind)k, &st, OCI_CREATING, err);
    if (r == 0 && o->pid_file)
        r = cli_write_pid_file(o->pid_file, pid, err);
    free(created);
    if (r < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto out_cgroup;
    }
    cgroup_free(cg);
    *out_pid = pid;
    oci_container_close(&ct);
    oci_config_free(c);
    return 0;

out_cgroup:
    if (cg) {
        cgroup_destroy(cg, 5000);
        cgroup_free(cg);
    }
out_remove:
    oci_container_remove(&ct, NULL);
    oci_container_close(&ct);
out_config:
    oci_config_free(c);
    return r;
}

int cmd_create(int argc, char **argv)
{
    struct cli_create_opts o = {0};
    const char *preserve = NULL;
    bool no_pivot = false, no_keyring = false;
    const struct cli_opt opts[] = {
            {"bundle", 'b', &o.bundle, NULL},
            {"pid-file", 0, &o.pid_file, NULL},
            {"console-socket", 0, &o.console_socket, NULL},
            {"preserve-fds", 0, &preserve, NULL},
            {"no-pivot", 0, NULL, &no_pivot},
            {"no-new-keyring", 0, NULL, &no_keyring},
            {NULL, 0, NULL, NULL},
    };
    int i;
    int r = cli_parse_opts("create", argc, argv, opts, g_create_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    const char *id = cli_one_id("create", argc, argv, i);
    if (!id)
        return 1;
    o.id = id;
    pid_t pid;
    if (cli_create_container(&o, &pid, &err) < 0)
        return rt_err_report(&err);
    return 0;
}
