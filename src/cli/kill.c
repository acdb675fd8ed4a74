/* moat kill: send a signal to a container. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "oci/err.h"
#include "oci/state.h"

static const char g_kill_usage[] =
        "Usage: moat kill [--all] ID [SIGNAL]\n"
        "\n"
        "Sends SIGNAL (a name such as TERM or SIGKILL, or a number; default TERM)\n"
        "to container ID. Termination signals go to the container's first process;\n"
        "KILL ends the whole sandbox (a paused one is thawed to let it die).\n"
        "--all: every process of the container.\n";

static const struct {
    const char *name;
    int sig;
} g_signals[] = {
        {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
        {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
        {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
        {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},   {"STOP", SIGSTOP},
        {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},
        {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
        {"WINCH", SIGWINCH}, {"IO", SIGIO},         {"POLL", SIGPOLL},   {"PWR", SIGPWR},
        {"SYS", SIGSYS},
};

static int parse_signal(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s && !*end)
        return n > 0 && n < NSIG ? (int)n : -1;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof(g_signals) / sizeof(g_signals[0]); i++)
        if (strcasecmp(s, g_signals[i].name) == 0)
            return g_signals[i].sig;
    if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
        int base = strncasecmp(s, "RTMIN", 5) == 0 ? SIGRTMIN : SIGRTMAX;
        int off = s[5] ? atoi(s + 5) : 0;
        int sig = base + off;
        return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -1;
    }
    return -1;
}

int cmd_kill(int argc, char **argv)
{
    bool all = false;
    const struct cli_opt opts[] = {{"all", 'a', NULL, &all}, {NULL, 0, NULL, NULL}};
    int i;
    int r = cli_parse_opts("kill", argc, argv, opts, g_kill_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    if (i >= argc || argc - i > 2) {
        rt_err_make(&err, 0, "kill: %s; see moat kill --help",
                    i >= argc ? "missing the container id" : "too many arguments");
        return rt_err_report(&err);
    }
    const char *id = argv[i];
    int sig = SIGTERM;
    if (i + 1 < argc && (sig = parse_signal(argv[i + 1])) < 0) {
        rt_err_make(&err, 0, "kill: unknown signal `%s`", argv[i + 1]);
        return rt_err_report(&err);
    }
    struct oci_container ct = {.dirfd = -1};
    if (oci_container_open(cli_state_root(), id, true, &ct, &err) < 0)
        return rt_err_report(&err);
    struct oci_state s;
    if (oci_state_read(&ct, &s, &err) < 0) {
        oci_container_close(&ct);
        return rt_err_report(&err);
    }
    enum oci_status st = oci_state_status(&ct, &s);
    if (st == OCI_STOPPED) {
        rt_err_make(&err, 0, "container `%s` is not running", id);
    } else if (all && sig != SIGKILL && st == OCI_PAUSED) {
        /* Its kernel is frozen: the control channel would not answer. */
        rt_err_make(&err, 0, "container `%s` is paused; resume it first", id);
    } else if (all && sig != SIGKILL && st == OCI_RUNNING) {
        /* Every process of the sandbox, through its control channel
         * (KILL ends the whole sandbox more surely from outside). */
        char req[16], *rep = NULL;
        int n = snprintf(req, sizeof(req), "A%d", sig);
        if (cli_ctl_request(ct.dir, req, (size_t)n, &rep, &err) == 0)
            free(rep);
    } else if (kill(s.pid, sig) < 0 && errno != ESRCH) {
        rt_err_make(&err, errno, "kill %d (container `%s`)", (int)s.pid, id);
    } else if (sig == SIGKILL && st == OCI_PAUSED) {
        /* A frozen process dies only once thawed. */
        cli_freeze(&ct, false, &err);
    }
    oci_state_free(&s);
    oci_container_close(&ct);
    return err ? rt_err_report(&err) : 0;
}
