/* moat exec: run a new process in a running container. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kernel/task/ctl.h"
#include "oci/config.h"
#include "oci/err.h"
#include "oci/state.h"

static const char g_exec_usage[] =
        "Usage: moat exec [OPTIONS] ID [COMMAND [ARGS...]]\n"
        "\n"
        "Runs COMMAND (or the process described by --process) inside running\n"
        "container ID, as a new process of its sandbox. Without --detach, moat\n"
        "waits and exits with its status (128+N for signal N), passing on the\n"
        "signals it receives.\n"
        "\n"
        "Options:\n"
        "  -p, --process FILE      the process (runtime-spec process JSON: args, env,\n"
        "                          cwd, user, terminal) instead of COMMAND\n"
        "  -t, --tty               give it a terminal (pty)\n"
        "  --console-socket SOCK   send the pty's master fd to this unix socket\n"
        "  --pid-file FILE         write the pid of the process that stands for it\n"
        "  -d, --detach            do not wait: a background moat process stands for\n"
        "                          it (its pid in --pid-file) and ends with its status\n"
        "  --cwd DIR               working directory in the container\n"
        "  -e, --env NAME=VALUE    set an environment variable (repeatable)\n"
        "  -u, --user UID[:GID]    run as UID and GID\n"
        "  --cap, --apparmor, --process-label, --no-new-privs, --preserve-fds,\n"
        "  --cgroup, --ignore-paused   accepted, no effect\n";

/* Signals received while waiting go to the process (self-pipe). */
static int g_sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    unsigned char c = (unsigned char)sig;
    int e = errno;
    if (write(g_sig_pipe[1], &c, 1) < 0) {
        /* full: the signal is dropped, as a coalesced one would be */
    }
    errno = e;
}

static const int g_passed[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM,
                               SIGALRM, SIGCONT, SIGWINCH, SIGTSTP, SIGTTIN, SIGTTOU,
                               SIGPWR,  SIGIO,   SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ};

static void pass_signals(void)
{
    if (pipe2(g_sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return;
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(g_passed) / sizeof(g_passed[0]); i++)
        sigaction(g_passed[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Waits on connection S for the process's end, passing signals on.
 * Returns its wait status, or -1 if the sandbox went away. */
static int wait_exit(int s)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = s, .events = POLLIN}, {.fd = g_sig_pipe[0], .events = POLLIN}};
        if (poll(p, g_sig_pipe[0] >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p[1].revents & POLLIN) {
            unsigned char sigs[64];
            ssize_t n = read(g_sig_pipe[0], sigs, sizeof(sigs));
            for (ssize_t i = 0; i < n; i++) {
                char msg[16];
                int len = snprintf(msg, sizeof(msg), "K%d", sigs[i]);
                cli_ctl_send(s, msg, (size_t)len, NULL, 0);
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[128];
            ssize_t n = recv(s, buf, sizeof(buf) - 1, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return -1;
            buf[n] = '\0';
            if (buf[0] == 'X')
                return atoi(buf + 2);
        }
    }
}

/* Ends this process the way the exec'd one ended (--detach: containerd's
 * shim waits on our pid for its status). */
static void NORETURN exit_like(int status)
{
    if (status < 0) /* the sandbox ended: its processes were killed with it */
        status = SIGKILL;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    _exit(WEXITSTATUS(status));
}

static char **strv_dup_add(char **v, const char *s)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **nv = realloc(v, (n + 2) * sizeof(char *));
    if (!nv)
        return NULL;
    nv[n] = strdup(s);
    nv[n + 1] = NULL;
    return nv;
}

/* Sets NAME=VALUE in the NULL-terminated environment *ENV (replacing NAME). */
static int env_set(char ***env, const char *kv)
{
    size_t klen = strcspn(kv, "=");
    for (char **e = *env; e && *e; e++)
        if (strncmp(*e, kv, klen) == 0 && (*e)[klen] == '=') {
            char *d = strdup(kv);
            if (!d)
                return -ENOMEM;
            free(*e);
            *e = d;
            return 0;
        }
    char **n = strv_dup_add(*env, kv);
    if (!n)
        return -ENOMEM;
    *env = n;
    return 0;
}

/* Appends field S (with its NUL) to the request in BUF. */
static int put(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s) + 1;
    if (*len + n > *cap) {
        size_t c = (*cap + n) * 2;
        char *b = realloc(*buf, c);
        if (!b)
            return -ENOMEM;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    return 0;
}

static int put_strv(char **buf, size_t *len, size_t *cap, char **v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char num[24];
    snprintf(num, sizeof(num), "%zu", n);
    int r = put(buf, len, cap, num);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = put(buf, len, cap, v[i]);
    return r;
}

struct exec_opts {
    const char *process, *console_socket, *pid_file, *cwd, *user;
    bool tty, detach;
    char **env; /* --env values */
};

/* runc exec's options, with --env and --cap repeatable. 0, 1 (help) or -1. */
static int parse(int argc, char **argv, struct exec_opts *o, int *out_next)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(g_exec_usage, stdout);
            return 1;
        }
        const char *name = a + 1 + (a[1] == '-');
        size_t n = strcspn(name, "=");
        const char *eq = name[n] == '=' ? name + n + 1 : NULL;
#define IS(long_name, short_ch)                                                           \
    ((strlen(long_name) == n && strncmp(name, long_name, n) == 0) ||                       \
     (short_ch && a[1] != '-' && n == 1 && name[0] == short_ch))
        bool *flag = NULL;
        const char **val = NULL;
        const char *ignored = NULL;
        bool is_env = false;
        if (IS("tty", 't'))
            flag = &o->tty;
        else if (IS("detach", 'd'))
            flag = &o->detach;
        else if (IS("no-new-privs", 0) || IS("ignore-paused", 0)) {
            continue;
        } else if (IS("process", 'p'))
            val = &o->process;
        else if (IS("console-socket", 0))
            val = &o->console_socket;
        else if (IS("pid-file", 0))
            val = &o->pid_file;
        else if (IS("cwd", 0))
            val = &o->cwd;
        else if (IS("user", 'u'))
            val = &o->user;
        else if (IS("env", 'e'))
            is_env = true;
        else if (IS("cap", 'c') || IS("apparmor", 0) || IS("process-label", 0) ||
                 IS("preserve-fds", 0) || IS("cgroup", 0))
            val = &ignored;
        else {
            int r = cli_parse_global(argc, argv, &i);
            if (r < 0)
                return -1;
            if (r > 0)
                continue;
            fprintf(stderr, "moat exec: unknown option `%s`; see moat exec --help\n", a);
            return -1;
        }
#undef IS
        if (flag) {
            *flag = !eq || strcmp(eq, "false") != 0;
            continue;
        }
        const char *v = eq;
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "moat exec: option %s needs a value\n", a);
                return -1;
            }
            v = argv[++i];
        }
        if (is_env) {
            char **e = strv_dup_add(o->env, v);
            if (!e)
                return -1;
            o->env = e;
        } else {
            *val = v;
        }
    }
    *out_next = i;
    return 0;
}

static char **strv_copy(char *const *v)
{
    char **out = calloc(1, sizeof(char *));
    for (size_t i = 0; out && v && v[i]; i++)
        out = strv_dup_add(out, v[i]);
    return out;
}

int cmd_exec(int argc, char **argv)
{
    struct exec_opts o = {0};
    int i;
    int r = parse(argc, argv, &o, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    if (i >= argc) {
        rt_err_make(&err, 0, "exec: missing the container id; see moat exec --help");
        return rt_err_report(&err);
    }
    const char *id = argv[i++];
    if (!o.process && i >= argc) {
        rt_err_make(&err, 0, "exec: missing the command (or --process); see moat exec --help");
        return rt_err_report(&err);
    }
    struct oci_container ct = {.dirfd = -1};
    if (oci_container_open(cli_state_root(), id, false, &ct, &err) < 0)
        return rt_err_report(&err);
    struct oci_state st;
    if (oci_state_read(&ct, &st, &err) < 0) {
        oci_container_close(&ct);
        return rt_err_report(&err);
    }
    enum oci_status status = oci_state_status(&ct, &st);
    char *dir = strdup(ct.dir);
    struct oci_config *c = NULL;
    if (status == OCI_STOPPED)
        r = rt_err_make(&err, 0, "cannot exec in a stopped container `%s`", id);
    else if (status == OCI_PAUSED)
        r = rt_err_make(&err, 0, "cannot exec in a paused container `%s`; resume it first", id);
    else if (o.process)
        r = oci_process_load(o.process, &c, &err);
    else
        r = oci_config_load(st.bundle, &c, &err);
    oci_state_free(&st);
    oci_container_close(&ct);
    if (r < 0 || !dir) {
        free(dir);
        oci_config_free(c);
        return rt_err_report(&err);
    }
    char **args = o.process ? strv_copy(c->args) : strv_copy(argv + i);
    char **env = strv_copy(c->env);
    for (char **e = o.env; e && *e; e++)
        if (!strchr(*e, '=') || env_set(&env, *e) < 0) {
            rt_err_make(&err, 0, "exec: --env `%s` is not NAME=VALUE", *e);
            return rt_err_report(&err);
        }
    const char *cwd = o.cwd ? o.cwd : c->cwd;
    uint32_t uid = c->uid, gid = c->gid;
    if (o.user) {
        char *end;
        unsigned long u = strtoul(o.user, &end, 10), g = gid;
        if (*end == ':')
            g = strtoul(end + 1, &end, 10);
        if (*end || end == o.user) {
            rt_err_make(&err, 0, "exec: --user `%s`: give UID[:GID] in numbers", o.user);
            return rt_err_report(&err);
        }
        uid = (uint32_t)u;
        gid = (uint32_t)g;
    }
    bool tty = o.tty || (o.process && c->terminal);
    int stdio[3] = {0, 1, 2};
    int slave = -1;
    if (tty) {
        if (o.console_socket) {
            if (cli_make_console(o.console_socket, &slave, &err) < 0)
                return rt_err_report(&err);
        } else if (!isatty(STDIN_FILENO)) {
            rt_err_make(&err, 0, "exec: --tty needs --console-socket (or a terminal)");
            return rt_err_report(&err);
        }
        if (slave >= 0)
            stdio[0] = stdio[1] = stdio[2] = slave;
    }

    char *req = NULL;
    size_t len = 0, cap = 0;
    char num[24];
    r = put(&req, &len, &cap, "E");
    len--; /* the op letter is not NUL-terminated */
    snprintf(num, sizeof(num), "%u", uid);
    r |= put(&req, &len, &cap, num);
    snprintf(num, sizeof(num), "%u", gid);
    r |= put(&req, &len, &cap, num);
    r |= put(&req, &len, &cap, cwd ? cwd : "/");
    r |= put_strv(&req, &len, &cap, args);
    r |= put_strv(&req, &len, &cap, env);
    oci_config_free(c);
    if (r < 0 || len > CTL_MSG_MAX) {
        rt_err_make(&err, E2BIG, "exec: the command line and environment");
        return rt_err_report(&err);
    }
    pass_signals();
    int s = cli_ctl_connect(dir, &err);
    free(dir);
    if (s < 0)
        return rt_err_report(&err);
    r = cli_ctl_send(s, req, len, stdio, 3);
    free(req);
    if (slave >= 0)
        close(slave);
    if (r < 0) {
        rt_err_make(&err, -r, "exec: sending the request to the sandbox");
        return rt_err_report(&err);
    }
    char rep[600];
    ssize_t n;
    while ((n = recv(s, rep, sizeof(rep) - 1, 0)) < 0 && errno == EINTR)
        ;
    if (n <= 0 || rep[0] != 'P') {
        if (n > 0) {
            rep[n] = '\0';
            rep[strcspn(rep, "\n")] = '\0';
            const char *why = strchr(rep + 2, ' ');
            rt_err_make(&err, 0, "exec failed: %s", why ? why + 1 : rep);
        } else {
            rt_err_make(&err, 0, "exec failed: the sandbox closed the control connection");
        }
        return rt_err_report(&err);
    }
    if (o.detach) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            rt_err_make(&err, errno, "exec --detach: fork");
            return rt_err_report(&err);
        }
        if (pid == 0) {
            /* Stands for the process until it ends; holds none of the
             * caller's stdio (the process has its own copies). */
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                close(null);
            }
            exit_like(wait_exit(s));
        }
        close(s);
        if (o.pid_file && cli_write_pid_file(o.pid_file, pid, &err) < 0) {
            kill(pid, SIGKILL);
            return rt_err_report(&err);
        }
        return 0;
    }
    if (o.pid_file && cli_write_pid_file(o.pid_file, getpid(), &err) < 0) {
        close(s);
        return rt_err_report(&err);
    }
    int ws = wait_exit(s);
    close(s);
    if (ws < 0) /* the sandbox ended: its processes were killed with it */
        ws = SIGKILL;
    if (WIFSIGNALED(ws))
        return 128 + WTERMSIG(ws);
    return WEXITSTATUS(ws);
}
