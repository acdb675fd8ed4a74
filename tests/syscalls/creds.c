/*
 * Probe: credentials and capabilities: capget, capset, prctl
 * (CAPBSET_READ/DROP, CAP_AMBIENT, KEEPCAPS, SECUREBITS), the capability
 * effects of setuid/setresuid/seteuid/setfsuid, execve's recomputation,
 * setgroups/getgroups and /proc/self/status, and the permission checks the
 * capabilities govern (DAC override and read-search, fowner, chown, fsetid,
 * mknod, sticky directories, access(2) with real ids, kill, prlimit and
 * setpriority on another process).
 *
 * Needs root (as the suite runs); the sets are compared with the bounding
 * set the probe starts with, never printed, so hosts may differ. Every
 * change of credentials happens in a child, which reports the first check
 * that failed.
 */
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/fsuid.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "tap.h"

#define CAP_CHOWN            0
#define CAP_DAC_OVERRIDE     1
#define CAP_DAC_READ_SEARCH  2
#define CAP_FOWNER           3
#define CAP_FSETID           4
#define CAP_KILL             5
#define CAP_SETGID           6
#define CAP_SETUID           7
#define CAP_SETPCAP          8
#define CAP_NET_BIND_SERVICE 10
#define CAP_SYS_ADMIN        21
#define CAP_SYS_NICE         23
#define CAP_SYS_RESOURCE     24
#define CAP_MKNOD            27
#define LAST_CAP             40

#define BIT(c) (1ULL << (c))

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_LOWER 3
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#define SECBIT_NO_SETUID_FIXUP  (1 << 2)
#define SECBIT_KEEP_CAPS        (1 << 4)
#define SECBIT_KEEP_CAPS_LOCKED (1 << 5)

struct cap_hdr {
    uint32_t version;
    int pid;
};
struct cap_dat {
    uint32_t effective, permitted, inheritable;
};
#define V1 0x19980330
#define V3 0x20080522

struct caps {
    uint64_t eff, prm, inh;
};

static uint64_t g_bset; /* the bounding set the probe started with */

static int caps_get(int pid, struct caps *c)
{
    struct cap_hdr h = {V3, pid};
    struct cap_dat d[2];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) < 0)
        return -1;
    c->eff = (uint64_t)d[1].effective << 32 | d[0].effective;
    c->prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
    c->inh = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
    return 0;
}

static int caps_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
    struct cap_hdr h = {V3, 0};
    struct cap_dat d[2] = {{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
                           {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)}};
    return (int)syscall(SYS_capset, &h, d);
}

static uint64_t bset_read(void)
{
    uint64_t b = 0;
    for (int c = 0; c <= LAST_CAP; c++)
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
            b |= BIT(c);
    return b;
}

static uint64_t ambient_read(void)
{
    uint64_t a = 0;
    for (int c = 0; c <= LAST_CAP; c++)
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
            a |= BIT(c);
    return a;
}

/* Drops CAP from the effective set. */
static int eff_drop(int cap)
{
    struct caps c;
    if (caps_get(0, &c) < 0)
        return -1;
    return caps_set(c.eff & ~BIT(cap), c.prm, c.inh);
}

#define C(cond)                                                                    \
    do {                                                                           \
        if (!(cond)) {                                                             \
            tap_printf("# check failed at line %d: %s (errno %s)\n", __LINE__,     \
                       #cond, tap_errname(errno));                                 \
            _exit(1);                                                              \
        }                                                                          \
    } while (0)
#define C_ERR(expr, e) C((expr) == -1 && errno == (e))

/* Runs FN in a child; the test passes if it exits 0. */
static void in_child(void (*fn)(void), const char *name)
{
    pid_t c = fork();
    if (c == 0) {
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, name);
}

/* ---- capget, capset ---- */

static void test_capget(void)
{
    struct caps c;
    T_OK(caps_get(0, &c), "capget V3 of itself");
    T_EQ(c.prm, g_bset, "root after exec: permitted = bounding set");
    T_EQ(c.eff, c.prm, "root after exec: effective = permitted");
    T_EQ(c.inh, 0, "inheritable starts empty");
    T_EQ(ambient_read(), 0, "ambient starts empty");

    struct cap_hdr h = {0x12345678, 0};
    struct cap_dat d[2];
    T_ERRNO(syscall(SYS_capget, &h, d), EINVAL, "capget with a bad version: EINVAL");
    T_EQ(h.version, V3, "capget writes the preferred version back");
    h.version = 0x12345678;
    T_EQ(syscall(SYS_capget, &h, NULL), 0, "capget version query with NULL data: 0");
    T_EQ(h.version, V3, "the version query writes the version");
    h = (struct cap_hdr){V3, -1};
    T_ERRNO(syscall(SYS_capget, &h, d), EINVAL, "capget pid -1: EINVAL");
    T_ERRNO(syscall(SYS_capget, BAD_PTR, d), EFAULT, "capget bad header: EFAULT");
    h = (struct cap_hdr){V3, 0};
    T_ERRNO(syscall(SYS_capget, &h, BAD_PTR), EFAULT, "capget bad data: EFAULT");

    struct cap_dat d1[2];
    memset(d1, 0xab, sizeof(d1));
    h = (struct cap_hdr){V1, 0};
    T_OK(syscall(SYS_capget, &h, d1), "capget V1");
    T_EQ(d1[0].permitted, (uint32_t)c.prm, "V1 gives the low 32 capabilities");
    T_EQ(d1[1].permitted, 0xabababab, "V1 writes one word only");

    pid_t gone = fork();
    if (gone == 0)
        _exit(0);
    waitpid(gone, NULL, 0);
    h = (struct cap_hdr){V3, gone};
    T_ERRNO(syscall(SYS_capget, &h, d), ESRCH, "capget of a reaped pid: ESRCH");

    /* Another process's sets. */
    int p[2], q[2];
    if (pipe(p) < 0 || pipe(q) < 0)
        tap_bail("pipe");
    pid_t k = fork();
    if (k == 0) {
        char x = eff_drop(CAP_CHOWN) == 0 ? 'y' : 'n';
        write(p[1], &x, 1);
        read(q[0], &x, 1);
        _exit(0);
    }
    char x = 0;
    read(p[0], &x, 1);
    struct caps kc;
    T_OK(caps_get(k, &kc), "capget of another process");
    T_EQ(kc.eff, c.eff & ~BIT(CAP_CHOWN), "it shows that process's effective set");
    T_EQ(kc.prm, c.prm, "and its permitted set");
    write(q[1], "x", 1);
    waitpid(k, NULL, 0);
    close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}

static void child_capset(void)
{
    struct caps c, n;
    C(caps_get(0, &c) == 0);
    /* Effective within permitted, both up and down. */
    C(caps_set(c.eff & ~BIT(CAP_CHOWN), c.prm, 0) == 0);
    C(caps_get(0, &n) == 0 && n.eff == (c.eff & ~BIT(CAP_CHOWN)) && n.prm == c.prm);
    C(caps_set(c.eff, c.prm, 0) == 0);
    C(caps_get(0, &n) == 0 && n.eff == c.eff);
    /* Effective beyond permitted. */
    C_ERR(caps_set(c.eff, c.prm & ~BIT(CAP_CHOWN), 0), EPERM);
    /* Permitted only shrinks. */
    C(caps_set(c.eff & ~BIT(CAP_MKNOD), c.prm & ~BIT(CAP_MKNOD), 0) == 0);
    C_ERR(caps_set(c.eff, c.prm, 0), EPERM);
    C(caps_get(0, &n) == 0 && !(n.prm & BIT(CAP_MKNOD)));
    /* Inheritable: with CAP_SETPCAP anything in the bounding set... */
    C(caps_set(n.eff, n.prm, BIT(CAP_MKNOD)) == 0);
    C(caps_get(0, &n) == 0 && n.inh == BIT(CAP_MKNOD));
    C(caps_set(n.eff, n.prm, 0) == 0);
    /* ...without it, only what is permitted or already inheritable. */
    C(caps_set(n.eff & ~BIT(CAP_SETPCAP), n.prm, 0) == 0);
    C_ERR(caps_set(n.eff & ~BIT(CAP_SETPCAP), n.prm, BIT(CAP_MKNOD)), EPERM);
    C(caps_set(n.eff & ~BIT(CAP_SETPCAP), n.prm, BIT(CAP_CHOWN)) == 0);
    /* Another pid. */
    struct cap_hdr h = {V3, getppid()};
    struct cap_dat d[2];
    memset(d, 0, sizeof(d));
    C_ERR(syscall(SYS_capset, &h, d), EPERM);
    h.pid = getpid();
    C(caps_get(0, &n) == 0);
    d[0] = (struct cap_dat){(uint32_t)n.eff, (uint32_t)n.prm, (uint32_t)n.inh};
    d[1] = (struct cap_dat){(uint32_t)(n.eff >> 32), (uint32_t)(n.prm >> 32),
                            (uint32_t)(n.inh >> 32)};
    C(syscall(SYS_capset, &h, d) == 0);
    /* V1 sets the low 32 capabilities and clears the others. */
    h = (struct cap_hdr){V1, 0};
    C(syscall(SYS_capset, &h, d) == 0);
    C(caps_get(0, &n) == 0 && (n.prm >> 32) == 0 && (uint32_t)n.prm == d[0].permitted);
    /* Bad version. */
    h = (struct cap_hdr){1, 0};
    C_ERR(syscall(SYS_capset, &h, d), EINVAL);
}

/* ---- prctl ---- */

static void child_bset(void)
{
    C(bset_read() == g_bset);
    C_ERR(prctl(PR_CAPBSET_READ, LAST_CAP + 1, 0, 0, 0), EINVAL);
    C_ERR(prctl(PR_CAPBSET_READ, -1L, 0, 0, 0), EINVAL);
    C(prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) == 0);
    C(prctl(PR_CAPBSET_READ, CAP_MKNOD, 0, 0, 0) == 0);
    C(prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) == 0); /* again: fine */
    C_ERR(prctl(PR_CAPBSET_DROP, LAST_CAP + 1, 0, 0, 0), EINVAL);
    struct caps c;
    C(caps_get(0, &c) == 0 && (c.eff & BIT(CAP_MKNOD))); /* the bounding set alone */
    /* Dropping a bounding capability that is not inheritable: now EPERM to
     * add it to the inheritable set, even with CAP_SETPCAP. */
    C_ERR(caps_set(c.eff, c.prm, BIT(CAP_MKNOD)), EPERM);
    C(eff_drop(CAP_SETPCAP) == 0);
    C_ERR(prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0), EPERM);
    C(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) == 1);
}

static void child_ambient(void)
{
    struct caps c;
    C(caps_get(0, &c) == 0);
    C(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) == 0);
    C_ERR(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0), EPERM); /* not inheritable */
    C(caps_set(c.eff, c.prm, BIT(CAP_KILL) | BIT(CAP_CHOWN)) == 0);
    C(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0) == 0);
    C(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0) == 0);
    C(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) == 1);
    C(ambient_read() == (BIT(CAP_KILL) | BIT(CAP_CHOWN)));
    C(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_KILL, 0, 0) == 0);
    C(ambient_read() == BIT(CAP_CHOWN));
    C_ERR(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, LAST_CAP + 1, 0, 0), EINVAL);
    C_ERR(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 1, 0), EINVAL);
    C_ERR(prctl(PR_CAP_AMBIENT, 99, CAP_KILL, 0, 0), EINVAL);
    C_ERR(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0), EINVAL);
    /* Leaving the inheritable set takes a capability out of ambient. */
    C(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0) == 0);
    C(caps_set(c.eff, c.prm, BIT(CAP_KILL)) == 0);
    C(ambient_read() == BIT(CAP_KILL));
    C(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0);
    C(ambient_read() == 0);
}

static void child_securebits(void)
{
    C(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0);
    C(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == 0);
    C_ERR(prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL);
    C(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);
    C(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
    C(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == SECBIT_KEEP_CAPS);
    C_ERR(prctl(PR_SET_SECUREBITS, 1 << 20, 0, 0, 0), EPERM); /* unknown bit */
    C(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0) == 0);
    C_ERR(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), EPERM); /* locked */
    C_ERR(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0, 0, 0), EPERM); /* no unlocking */
    C(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0) == 0);
    C(eff_drop(CAP_SETPCAP) == 0);
    C_ERR(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED |
                                       SECBIT_NO_SETUID_FIXUP, 0, 0, 0), EPERM);
}

/* ---- uid changes ---- */

static void child_setresuid_drops(void)
{
    struct caps c;
    C(setresuid(1000, 1000, 1000) == 0);
    C(caps_get(0, &c) == 0 && c.eff == 0 && c.prm == 0 && c.inh == 0);
    C(bset_read() == g_bset); /* the bounding set stays */
    C_ERR(caps_set(BIT(CAP_CHOWN), BIT(CAP_CHOWN), 0), EPERM);
    C_ERR(setuid(0), EPERM);
    C_ERR(setgroups(0, NULL), EPERM);
    C_ERR(setgid(5), EPERM);
}

static void child_keepcaps(void)
{
    struct caps c;
    C(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);
    C(setresuid(1000, 1000, 1000) == 0);
    C(caps_get(0, &c) == 0 && c.eff == 0 && c.prm == g_bset);
    C(caps_set(BIT(CAP_SETUID), c.prm, 0) == 0); /* effective again from permitted */
    C(setresuid(2000, 2000, 2000) == 0);         /* CAP_SETUID works for a non-root uid */
    C(caps_get(0, &c) == 0 && c.eff == BIT(CAP_SETUID) && c.prm == g_bset); /* no root involved */
}

static void child_seteuid(void)
{
    struct caps c;
    C(seteuid(1000) == 0);
    C(caps_get(0, &c) == 0 && c.eff == 0 && c.prm == g_bset);
    C(seteuid(0) == 0);
    C(caps_get(0, &c) == 0 && c.eff == g_bset);
    /* fsuid: only the file-system capabilities go. */
    C(setfsuid(1000) == 0);
    C(caps_get(0, &c) == 0);
    C(!(c.eff & BIT(CAP_CHOWN)) && !(c.eff & BIT(CAP_DAC_OVERRIDE)) &&
      !(c.eff & BIT(CAP_FOWNER)) && !(c.eff & BIT(CAP_MKNOD)));
    C((c.eff & BIT(CAP_KILL)) && (c.eff & BIT(CAP_SETUID)));
    C(setfsuid(-1) == 1000); /* a query */
    C(setfsuid(0) == 1000);
    C(caps_get(0, &c) == 0 && c.eff == g_bset);
    /* SECBIT_NO_SETUID_FIXUP: ids change, capabilities stay. */
    C(prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) == 0);
    C(setresuid(1000, 1000, 1000) == 0);
    C(caps_get(0, &c) == 0 && c.eff == g_bset && c.prm == g_bset);
}

/* ---- execve ---- */

static const char *g_self;

/* Runs this probe again as "creds report FD": it writes its sets there. */
static int exec_report_path(const char *path, uint64_t out[6])
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", p[1]);
        execl(path, "creds", "report", fd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    ssize_t n = read(p[0], out, 6 * sizeof(uint64_t));
    close(p[0]);
    int st;
    waitpid(c, &st, 0);
    return n == 6 * sizeof(uint64_t) && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int exec_report(uint64_t out[6])
{
    return exec_report_path(g_self, out);
}

static int report(int fd)
{
    struct caps c;
    if (caps_get(0, &c) < 0)
        return 1;
    uid_t r, e, su;
    getresuid(&r, &e, &su);
    uint64_t v[6] = {c.eff, c.prm, c.inh, bset_read(), ambient_read(),
                     (uint64_t)r << 42 | (uint64_t)e << 21 | su |
                             (uint64_t)(getauxval(AT_SECURE) != 0) << 63};
    return write(fd, v, sizeof(v)) == sizeof(v) ? 0 : 1;
}

static void child_exec_root(void)
{
    uint64_t r[6];
    /* Root regains its whole bounding set, whatever it dropped before. */
    struct caps c;
    C(caps_get(0, &c) == 0);
    C(caps_set(0, c.prm & ~BIT(CAP_KILL), 0) == 0);
    C(exec_report(r) == 0);
    C(r[0] == g_bset && r[1] == g_bset && r[2] == 0 && r[3] == g_bset && r[4] == 0);
    /* A dropped bounding capability stays out. */
    C(caps_set(c.eff & ~BIT(CAP_KILL), c.prm & ~BIT(CAP_KILL), 0) == 0);
    C(prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) == 0);
    C(exec_report(r) == 0);
    C(r[1] == (g_bset & ~BIT(CAP_MKNOD)) && r[0] == r[1] && r[3] == r[1]);
    /* KEEPCAPS does not survive exec. */
    C(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);
    C(exec_report(r) == 0);
    /* A root real uid with another euid: permitted, not effective. */
    C(setresuid(0, 1000, 1000) == 0);
    C(exec_report(r) == 0);
    C(r[1] == (g_bset & ~BIT(CAP_MKNOD)) && r[0] == 0);
}

static void child_exec_user(void)
{
    uint64_t r[6];
    struct caps c;
    C(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);
    C(setresuid(1000, 1000, 1000) == 0);
    C(caps_get(0, &c) == 0 && c.prm == g_bset);
    /* A non-root user loses what it kept... */
    C(exec_report(r) == 0);
    C(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[4] == 0);
    /* ...except ambient capabilities (which must be inheritable). */
    uint64_t amb = BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_KILL);
    C(caps_set(c.prm, c.prm, amb) == 0);
    C(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) == 0);
    C(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0) == 0);
    C(exec_report(r) == 0);
    C(r[0] == amb && r[1] == amb && r[2] == amb && r[4] == amb);
    C(!(r[5] >> 63)); /* ambient capabilities alone are no AT_SECURE */
}

/* A set-uid-root copy of this probe, run by a user. */
static void child_exec_setuid(void)
{
    uint64_t r[6];
    int in = open(g_self, O_RDONLY), out = open("suid", O_CREAT | O_WRONLY, 0700);
    C(in >= 0 && out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        C(write(out, buf, n) == n);
    close(in);
    close(out);
    C(chmod("suid", 04755) == 0);
    C(setresuid(1000, 1000, 1000) == 0);
    C(exec_report_path("./suid", r) == 0);
    C(r[5] == ((uint64_t)1000 << 42 | 0 << 21 | 0 | 1ULL << 63)); /* euid, suid 0; AT_SECURE */
    C(r[0] == g_bset && r[1] == g_bset);
    /* no_new_privs: the set-uid bit does nothing. */
    C(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    C(exec_report_path("./suid", r) == 0);
    C(r[5] == ((uint64_t)1000 << 42 | 1000 << 21 | 1000) && r[0] == 0 && r[1] == 0);
}

/* ---- permission checks ---- */

static void child_dac(void)
{
    C(setgroups(0, NULL) == 0);
    /* Files of another user, mode 0600 / dirs 0700. */
    int fd = open("theirs", O_CREAT | O_WRONLY, 0600);
    C(fd >= 0);
    close(fd);
    C(chown("theirs", 1000, 1000) == 0);
    C(mkdir("theirdir", 0700) == 0);
    C(chown("theirdir", 1000, 1000) == 0);
    fd = open("noexec", O_CREAT | O_WRONLY, 0644);
    C(fd >= 0);
    write(fd, "#!/bin/sh\n", 10);
    close(fd);

    C((fd = open("theirs", O_RDWR)) >= 0);
    close(fd);
    C(access("noexec", X_OK) == -1 && errno == EACCES); /* no x bit at all */
    C(eff_drop(CAP_DAC_OVERRIDE) == 0);
    C_ERR(open("theirs", O_RDWR), EACCES);
    C((fd = open("theirs", O_RDONLY)) >= 0); /* CAP_DAC_READ_SEARCH */
    close(fd);
    C((fd = open("theirdir", O_RDONLY | O_DIRECTORY)) >= 0);
    close(fd);
    C_ERR(open("theirdir/new", O_CREAT | O_WRONLY, 0600), EACCES);
    C(eff_drop(CAP_DAC_READ_SEARCH) == 0);
    C_ERR(open("theirs", O_RDONLY), EACCES);
    C_ERR(open("theirdir/x", O_RDONLY), EACCES);
    struct stat st;
    C_ERR(stat("theirdir/x", &st), EACCES);

    /* CAP_FOWNER: chmod and utimes of another's file. */
    C(chmod("theirs", 0640) == 0);
    C(eff_drop(CAP_FOWNER) == 0);
    C_ERR(chmod("theirs", 0600), EPERM);
    C_ERR(utimes("theirs", NULL), EACCES); /* neither owner nor writer */

    /* CAP_CHOWN. */
    C(chown("theirs", 2000, -1) == 0);
    C(eff_drop(CAP_CHOWN) == 0);
    C_ERR(chown("theirs", 3000, -1), EPERM);
    C_ERR(chown("noexec", 1000, -1), EPERM); /* even one's own file */
    C(chown("noexec", 0, -1) == 0);           /* to itself: allowed */
    C_ERR(chown("noexec", -1, 1234), EPERM);  /* a group one is not in */
    C(chown("noexec", -1, 0) == 0);

    /* CAP_MKNOD. */
    C(mknod("null2", S_IFCHR | 0600, makedev(1, 3)) == 0);
    C(eff_drop(CAP_MKNOD) == 0);
    C_ERR(mknod("null3", S_IFCHR | 0600, makedev(1, 3)), EPERM);
    C(mknod("fifo", S_IFIFO | 0600, 0) == 0); /* FIFOs need nothing */
}

static void child_fsetid(void)
{
    C(setgroups(0, NULL) == 0);
    int fd = open("sgid", O_CREAT | O_WRONLY, 0755);
    C(fd >= 0);
    close(fd);
    C(chown("sgid", 0, 1234) == 0);
    struct stat st;
    C(chmod("sgid", 02755) == 0 && stat("sgid", &st) == 0 && (st.st_mode & 07777) == 02755);
    C(eff_drop(CAP_FSETID) == 0);
    C(chmod("sgid", 02750) == 0 && stat("sgid", &st) == 0 && (st.st_mode & 07777) == 0750);
    /* In the group through a supplementary group: kept. */
    gid_t g = 1234;
    C(setgroups(1, &g) == 0);
    C(chmod("sgid", 02750) == 0 && stat("sgid", &st) == 0 && (st.st_mode & 07777) == 02750);
}

static void child_sticky(void)
{
    C(mkdir("sticky", 01777) == 0);
    C(chown("sticky", 1000, 1000) == 0);
    int fd = open("sticky/f", O_CREAT | O_WRONLY, 0666);
    C(fd >= 0);
    close(fd);
    C(chown("sticky/f", 2000, 2000) == 0);
    C(link("sticky/f", "sticky/g") == 0);
    C(unlink("sticky/g") == 0); /* CAP_FOWNER */
    C(eff_drop(CAP_FOWNER) == 0);
    C_ERR(unlink("sticky/f"), EPERM);
    C_ERR(rename("sticky/f", "sticky/h"), EPERM);
}

static void child_access_real_ids(void)
{
    int fd = open("rootonly", O_CREAT | O_WRONLY, 0600);
    C(fd >= 0);
    close(fd);
    C(setresuid(1000, 0, 0) == 0);
    C_ERR(access("rootonly", R_OK), EACCES);            /* as the real uid, no capabilities */
    C(faccessat(AT_FDCWD, "rootonly", R_OK | W_OK, AT_EACCESS) == 0);
    C(setresuid(0, 0, 0) == 0);
    fd = open("other", O_CREAT | O_WRONLY, 0600);
    C(fd >= 0);
    close(fd);
    C(chown("other", 2000, 2000) == 0);
    C(eff_drop(CAP_DAC_OVERRIDE) == 0);
    C_ERR(faccessat(AT_FDCWD, "other", R_OK | W_OK, AT_EACCESS), EACCES);
    C(access("other", R_OK | W_OK) == 0); /* real root: its permitted set */
}

static void child_groups(void)
{
    gid_t in[4] = {7, 3, 5, 3}, out[8];
    C(setgroups(4, in) == 0);
    C(getgroups(0, NULL) == 4);
    C_ERR(getgroups(2, out), EINVAL);
    volatile int neg1 = -1;
    C_ERR(getgroups(neg1, out), EINVAL);
    C(getgroups(8, out) == 4);
    C(out[0] == 3 && out[1] == 3 && out[2] == 5 && out[3] == 7); /* sorted */
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    C(n > 0);
    buf[n] = 0;
    close(fd);
    char *gl = strstr(buf, "\nGroups:\t");
    C(gl != NULL);
    C(strncmp(gl, "\nGroups:\t3 3 5 7 \n", 18) == 0); /* Linux ends each with a space */
    volatile size_t neg = (size_t)-1; /* glibc's prototype takes a size_t */
    C_ERR(setgroups(neg, in), EINVAL);
    C_ERR(setgroups(65537, in), EINVAL);
    C_ERR(setgroups(2, BAD_PTR), EFAULT);
    C(getgroups(0, NULL) == 4); /* unchanged by the failures */
    C(setgroups(0, NULL) == 0);
    C(getgroups(0, NULL) == 0);
    fd = open("/proc/self/status", O_RDONLY);
    n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    C(n > 0);
    buf[n] = 0;
    close(fd);
    C(strstr(buf, "\nGroups:\t \n") != NULL);

    /* The group class of a file through a supplementary group. */
    fd = open("grp", O_CREAT | O_WRONLY, 0640);
    C(fd >= 0);
    close(fd);
    C(chown("grp", 2000, 55) == 0);
    gid_t g = 55;
    C(setgroups(1, &g) == 0);
    C(setresgid(1000, 1000, 1000) == 0 && setresuid(1000, 1000, 1000) == 0);
    C((fd = open("grp", O_RDONLY)) >= 0);
    close(fd);
    C_ERR(open("grp", O_WRONLY), EACCES);
    C(getgroups(0, NULL) == 1); /* kept across setuid */
}

static void child_groups_none(void)
{
    C(setgroups(0, NULL) == 0);
    C(setresgid(1000, 1000, 1000) == 0 && setresuid(1000, 1000, 1000) == 0);
    C_ERR(open("grp", O_RDONLY), EACCES);
}

static void child_kill(void)
{
    pid_t root = getppid();
    /* A peer running as the same user. */
    int p[2];
    C(pipe(p) == 0);
    pid_t peer = fork();
    if (peer == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        setresuid(1000, 1000, 1000);
        write(p[1], "x", 1);
        for (;;)
            pause();
    }
    char x;
    C(read(p[0], &x, 1) == 1);
    C(setresuid(1000, 1000, 1000) == 0);
    C_ERR(kill(root, 0), EPERM);
    C_ERR(kill(root, SIGUSR1), EPERM);
    C_ERR(syscall(SYS_tgkill, root, root, 0), EPERM);
    C_ERR(syscall(SYS_tkill, root, SIGUSR1), EPERM);
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    si.si_code = -1; /* SI_QUEUE */
    C_ERR(syscall(SYS_rt_sigqueueinfo, root, SIGUSR1, &si), EPERM);
    C_ERR(syscall(SYS_rt_tgsigqueueinfo, root, root, SIGUSR1, &si), EPERM);
    C(kill(root, SIGCONT) == 0); /* same session */
    C(kill(peer, 0) == 0);
    C(kill(getpid(), 0) == 0);
    C(kill(-1, 0) == 0); /* EPERM alone is no error for -1 */
    C(syscall(SYS_tgkill, peer, peer, 0) == 0);
    C(syscall(SYS_prlimit64, root, RLIMIT_NOFILE, NULL, &(struct rlimit){0, 0}) == -1 &&
      errno == EPERM);
    C(syscall(SYS_prlimit64, peer, RLIMIT_NOFILE, NULL, &(struct rlimit){0, 0}) == 0);
    C_ERR(setpriority(PRIO_PROCESS, root, 0), EPERM);
    errno = 0;
    int nice0 = getpriority(PRIO_PROCESS, peer);
    C(errno == 0);
    C(setpriority(PRIO_PROCESS, peer, nice0 < 19 ? nice0 + 1 : 19) == 0); /* raising is free */
    C(kill(peer, SIGKILL) == 0);
    waitpid(peer, NULL, 0);
}

static void child_kill_cap(void)
{
    pid_t root = getppid();
    C(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);
    C(setresuid(1000, 1000, 1000) == 0);
    struct caps c;
    C(caps_get(0, &c) == 0);
    C(caps_set(BIT(CAP_KILL), c.prm, 0) == 0);
    C(kill(root, 0) == 0); /* CAP_KILL */
    C(caps_set(BIT(CAP_SYS_NICE), c.prm, 0) == 0);
    errno = 0;
    int rn = getpriority(PRIO_PROCESS, root);
    C(errno == 0 && setpriority(PRIO_PROCESS, root, rn) == 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "report") == 0)
        return report(atoi(argv[2]));
    g_self = "/proc/self/exe";
    tap_init("creds");
    if (geteuid() != 0) {
        tap_skip("creds", "needs root");
        return tap_done();
    }
    chmod(".", 0755); /* the children that become other users work in here */
    g_bset = bset_read();
    T_TRUE(g_bset & BIT(CAP_SETPCAP), "the probe starts with CAP_SETPCAP in its bounding set");
    test_capget();
    in_child(child_capset, "capset: effective within permitted, permitted shrinks, inheritable rules, V1");
    in_child(child_bset, "PR_CAPBSET_READ / PR_CAPBSET_DROP");
    in_child(child_ambient, "PR_CAP_AMBIENT raise, lower, is_set, clear_all");
    in_child(child_securebits, "PR_SET/GET_KEEPCAPS, PR_SET/GET_SECUREBITS and locks");
    in_child(child_setresuid_drops, "leaving uid 0 drops every capability");
    in_child(child_keepcaps, "KEEPCAPS keeps permitted across setuid, effective is cleared");
    in_child(child_seteuid, "seteuid / setfsuid capability fix-ups, NO_SETUID_FIXUP");
    in_child(child_exec_root, "execve as root: permitted = bounding set");
    in_child(child_exec_user, "execve as a user: only ambient capabilities survive");
    in_child(child_exec_setuid, "execve of a set-uid-root file: euid 0 and root's capabilities; not under no_new_privs");
    in_child(child_dac, "DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, CHOWN, MKNOD checks");
    in_child(child_fsetid, "CAP_FSETID and chmod g+s");
    in_child(child_sticky, "sticky directories and CAP_FOWNER");
    in_child(child_access_real_ids, "access(2) with the real uid's capabilities");
    in_child(child_groups, "setgroups/getgroups, /proc Groups, group permission");
    in_child(child_groups_none, "without the supplementary group: EACCES");
    in_child(child_kill, "kill/tgkill/sigqueue/prlimit/setpriority permission across users");
    in_child(child_kill_cap, "CAP_KILL and CAP_SYS_NICE");
    return tap_done();
}
