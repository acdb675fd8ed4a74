/*
 * Probe: controlling terminals and job control on a pty pair: a session
 * leader's open without O_NOCTTY acquires the terminal (not with it, not a
 * non-leader), TIOCSCTTY when the session has one, /proc/PID/stat tty_nr
 * and tpgid, SIGTTIN for background reads (EIO when ignored), SIGTTOU for
 * background writes with TOSTOP and for tcsetattr (allowed when ignored or
 * blocked), SIGHUP to the foreground group when the session leader exits,
 * and SIGHUP + SIGCONT to a stopped process group orphaned by its parent's
 * exit. Every scenario runs in children of a new session with an alarm as
 * a safety net, and reports the first failed check.
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

#include "tap.h"

#define C(cond)                                                                    \
    do {                                                                           \
        if (!(cond)) {                                                             \
            tap_printf("# check failed at line %d: %s (errno %s)\n", __LINE__,     \
                       #cond, tap_errname(errno));                                 \
            _exit(1);                                                              \
        }                                                                          \
    } while (0)

static void in_child(void (*fn)(void), const char *name)
{
    pid_t c = fork();
    if (c == 0) {
        alarm(20);
        C(setsid() == getpid());
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, name);
}

/* A new pty pair: the master, and the slave's path in SNAME. */
static int new_pty(char *sname, size_t size)
{
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
    if (m < 0)
        return -1;
    int n, unlock = 0;
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0 || ioctl(m, TIOCGPTN, &n) < 0)
        return -1;
    snprintf(sname, size, "/dev/pts/%d", n);
    return m;
}

/* Fields 7 and 8 of /proc/self/stat: tty_nr and tpgid. */
static void stat_tty(int *tty_nr, int *tpgid)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    *tty_nr = *tpgid = -2;
    if (n <= 0)
        return;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %d %d", tty_nr, tpgid);
}

static int wait_stopped(pid_t c)
{
    int st;
    if (waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st))
        return -1;
    return WSTOPSIG(st);
}

static int wait_exit(pid_t c)
{
    int st;
    if (waitpid(c, &st, 0) != c)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- acquiring ---- */

static void child_acquire(void)
{
    char sname[64];
    int tty_nr, tpgid;
    stat_tty(&tty_nr, &tpgid);
    C(tty_nr == 0 && tpgid == -1); /* a new session has none */
    int m = new_pty(sname, sizeof(sname));
    C(m >= 0);
    int sid;
    C(ioctl(m, TIOCGSID, &sid) == -1 && errno == ENOTTY); /* the master has no session yet */
    int s = open(sname, O_RDWR | O_NOCTTY);
    C(s >= 0);
    C(ioctl(s, TIOCGSID, &sid) == -1 && errno == ENOTTY); /* O_NOCTTY: not acquired */
    close(s);
    s = open(sname, O_RDWR);
    C(s >= 0);
    C(ioctl(s, TIOCGSID, &sid) == 0 && sid == getpid());
    pid_t pg;
    C(ioctl(s, TIOCGPGRP, &pg) == 0 && pg == getpid());
    C(tcgetpgrp(s) == getpid());
    struct stat st;
    C(fstat(s, &st) == 0);
    stat_tty(&tty_nr, &tpgid);
    C(tty_nr == (int)((minor(st.st_rdev) & 0xff) | (major(st.st_rdev) << 8) |
                      ((minor(st.st_rdev) & ~0xffu) << 12)));
    C(tpgid == getpid());
    /* /dev/tty now opens it. */
    int t = open("/dev/tty", O_RDWR);
    C(t >= 0);
    close(t);
    /* A second terminal: TIOCSCTTY refused while the session has one. */
    char sname2[64];
    int m2 = new_pty(sname2, sizeof(sname2));
    C(m2 >= 0);
    int s2 = open(sname2, O_RDWR); /* no acquiring either */
    C(s2 >= 0);
    C(ioctl(s2, TIOCGSID, &sid) == -1 && errno == ENOTTY);
    C(ioctl(s2, TIOCSCTTY, 0) == -1 && errno == EPERM);
    /* A child (not a session leader) sees the terminal in its stat. */
    pid_t c = fork();
    if (c == 0) {
        int tn, tp;
        stat_tty(&tn, &tp);
        _exit(tn == tty_nr && tp == getppid() ? 0 : 1);
    }
    C(wait_exit(c) == 0);
    /* TIOCNOTTY by the leader gives it up (SIGHUP, SIGCONT to its group). */
    signal(SIGHUP, SIG_IGN);
    C(ioctl(s, TIOCNOTTY) == 0);
    stat_tty(&tty_nr, &tpgid);
    C(tty_nr == 0 && tpgid == -1);
    C(open("/dev/tty", O_RDWR) == -1 && errno == ENXIO);
}

static void child_nonleader(void)
{
    char sname[64];
    int m = new_pty(sname, sizeof(sname));
    C(m >= 0);
    pid_t c = fork();
    if (c == 0) {
        int s = open(sname, O_RDWR); /* not a session leader: no acquiring */
        int sid;
        _exit(s >= 0 && ioctl(s, TIOCGSID, &sid) == -1 && errno == ENOTTY ? 0 : 1);
    }
    C(wait_exit(c) == 0);
}

/* A session leader with its terminal: returns the master; *S the slave. */
static int leader_with_tty(int *s)
{
    char sname[64];
    int m = new_pty(sname, sizeof(sname));
    C(m >= 0);
    *s = open(sname, O_RDWR);
    C(*s >= 0);
    C(tcgetpgrp(*s) == getpid());
    return m;
}

/* ---- background groups ---- */

static void child_ttin(void)
{
    int s, m = leader_with_tty(&s);
    int go[2];
    C(pipe(go) == 0);
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        char b[8];
        ssize_t n = read(s, b, sizeof(b)); /* background: SIGTTIN stops it, then it reads */
        _exit(n == 2 && b[0] == 'x' ? 0 : 1);
    }
    setpgid(c, c);
    C(wait_stopped(c) == SIGTTIN);
    C(tcsetpgrp(s, c) == 0); /* the child's group to the foreground */
    C(kill(c, SIGCONT) == 0);
    C(write(m, "x\n", 2) == 2);
    C(wait_exit(c) == 0);

    /* SIGTTIN ignored: EIO. */
    signal(SIGTTOU, SIG_IGN);
    C(tcsetpgrp(s, getpid()) == 0);
    signal(SIGTTOU, SIG_DFL);
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        signal(SIGTTIN, SIG_IGN);
        char b[8];
        _exit(read(s, b, sizeof(b)) == -1 && errno == EIO ? 0 : 1);
    }
    setpgid(c, c);
    C(wait_exit(c) == 0);
}

static void child_ttou(void)
{
    int s, m = leader_with_tty(&s);
    (void)m;
    /* Without TOSTOP a background write goes through. */
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        _exit(write(s, "a", 1) == 1 ? 0 : 1);
    }
    setpgid(c, c);
    C(wait_exit(c) == 0);
    struct termios tio;
    C(tcgetattr(s, &tio) == 0);
    tio.c_lflag |= TOSTOP;
    C(tcsetattr(s, TCSANOW, &tio) == 0);
    /* With TOSTOP: SIGTTOU stops it; in the foreground it writes. */
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        _exit(write(s, "b", 1) == 1 ? 0 : 1);
    }
    setpgid(c, c);
    C(wait_stopped(c) == SIGTTOU);
    C(tcsetpgrp(s, c) == 0);
    C(kill(c, SIGCONT) == 0);
    C(wait_exit(c) == 0);
    signal(SIGTTOU, SIG_IGN);
    C(tcsetpgrp(s, getpid()) == 0); /* from the background, SIGTTOU ignored */
    signal(SIGTTOU, SIG_DFL);
    /* SIGTTOU ignored: the write goes through. */
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        signal(SIGTTOU, SIG_IGN);
        _exit(write(s, "c", 1) == 1 ? 0 : 1);
    }
    setpgid(c, c);
    C(wait_exit(c) == 0);
    /* tcsetattr from the background: SIGTTOU; blocked: allowed. */
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        struct termios t2;
        tcgetattr(s, &t2);
        _exit(tcsetattr(s, TCSANOW, &t2) == 0 ? 0 : 1);
    }
    setpgid(c, c);
    C(wait_stopped(c) == SIGTTOU);
    C(kill(c, SIGKILL) == 0);
    C(wait_exit(c) == 128 + SIGKILL);
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTTOU);
        sigprocmask(SIG_BLOCK, &set, NULL);
        struct termios t2;
        tcgetattr(s, &t2);
        _exit(tcsetattr(s, TCSANOW, &t2) == 0 ? 0 : 1);
    }
    setpgid(c, c);
    C(wait_exit(c) == 0);
    /* A background group whose parent left (orphaned): EIO, no stop. */
    int rp[2];
    C(pipe(rp) == 0);
    c = fork();
    if (c == 0) {
        pid_t me = getpid();
        if (fork() == 0) {
            setpgid(0, 0);
            while (getppid() == me)
                usleep(10000);
            char v = write(s, "d", 1) == -1 && errno == EIO ? 'E' : 'n';
            write(rp[1], &v, 1);
            _exit(0);
        }
        _exit(0);
    }
    C(wait_exit(c) == 0);
    close(rp[1]);
    char v = 0;
    C(read(rp[0], &v, 1) == 1 && v == 'E');
}

static volatile sig_atomic_t g_hup;

static void on_hup(int sig)
{
    g_hup = 1;
}

/* The session leader exits: its foreground group gets SIGHUP. */
static void child_leader_exit(void)
{
    int rp[2];
    C(pipe(rp) == 0);
    pid_t leader = fork();
    if (leader == 0) {
        C(setsid() == getpid());
        int s, m = leader_with_tty(&s);
        (void)m;
        int ready[2];
        C(pipe(ready) == 0);
        pid_t c = fork();
        if (c == 0) {
            signal(SIGHUP, on_hup);
            write(ready[1], "r", 1);
            for (int i = 0; i < 500 && !g_hup; i++)
                usleep(10000);
            int sid;
            char v = g_hup && ioctl(s, TIOCGSID, &sid) == -1 && errno == ENOTTY ? 'H' : 'n';
            write(rp[1], &v, 1);
            _exit(0);
        }
        char x;
        C(read(ready[0], &x, 1) == 1);
        _exit(0); /* the session leader exits; the master stays open in C */
    }
    close(rp[1]);
    C(wait_exit(leader) == 0);
    char v = 0;
    C(read(rp[0], &v, 1) == 1);
    C(v == 'H');
}

/* A stopped group orphaned by its parent's exit: SIGHUP, then SIGCONT. */
static void child_orphaned(void)
{
    C(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0); /* orphans come back to us */
    int rp[2];
    C(pipe(rp) == 0);
    pid_t p = fork();
    if (p == 0) {
        C(setsid() == getpid()); /* so that we, the new parent, are outside its session */
        int ready[2];
        C(pipe(ready) == 0);
        pid_t c = fork();
        if (c == 0) {
            setpgid(0, 0);
            signal(SIGHUP, on_hup);
            write(ready[1], "r", 1);
            raise(SIGSTOP);
            /* continued by the SIGCONT after the SIGHUP */
            char v = g_hup ? 'H' : 'n';
            write(rp[1], &v, 1);
            _exit(0);
        }
        setpgid(c, c);
        char x;
        C(read(ready[0], &x, 1) == 1);
        C(wait_stopped(c) == SIGSTOP);
        _exit(0); /* its group is orphaned now, with a stopped member */
    }
    close(rp[1]);
    C(wait_exit(p) == 0);
    struct pollfd pfd = {rp[0], POLLIN, 0};
    C(poll(&pfd, 1, 5000) == 1);
    char v = 0;
    C(read(rp[0], &v, 1) == 1);
    C(v == 'H');
    while (wait(NULL) > 0) {
    }
}

int main(void)
{
    tap_init("jobctl");
    if (access("/dev/ptmx", R_OK | W_OK) != 0) {
        tap_skip("jobctl", "no /dev/ptmx");
        return tap_done();
    }
    in_child(child_acquire, "a session leader's open acquires; O_NOCTTY, TIOCSCTTY, stat tty_nr/tpgid, TIOCNOTTY");
    in_child(child_nonleader, "a non-leader's open does not acquire");
    in_child(child_ttin, "background read: SIGTTIN, then the read in the foreground; ignored: EIO");
    in_child(child_ttou, "background write with TOSTOP and tcsetattr: SIGTTOU; ignored or blocked: allowed");
    in_child(child_leader_exit, "the session leader's exit: SIGHUP to the foreground group, terminal released");
    in_child(child_orphaned, "a stopped group orphaned by its parent's exit: SIGHUP and SIGCONT");
    return tap_done();
}
