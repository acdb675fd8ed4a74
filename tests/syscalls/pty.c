/* Probe: /dev/ptmx and /dev/pts/N: TIOCGPTN, TIOCSPTLCK, termios (ICANON
 * editing, ECHO, ICRNL, ONLCR, raw mode), window size and SIGWINCH,
 * TIOCSCTTY, TIOCGPGRP/TIOCSPGRP, ISIG signals to the foreground group,
 * /dev/tty, poll, hangup. */
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

#include "tap.h"

static int m, s;
static char sname[64];

static long rd(int fd, char *buf, size_t n)
{
    long r = read(fd, buf, n - 1);
    buf[r > 0 ? r : 0] = '\0';
    return r;
}

static volatile int g_sig;
static void on_sig(int sig)
{
    g_sig = sig;
}

static int child_session(void)
{
    if (setsid() < 0)
        return 1;
    if (ioctl(s, TIOCSCTTY, 0) != 0)
        return 2;
    pid_t pg = 0;
    if (ioctl(s, TIOCGPGRP, &pg) != 0 || pg != getpid())
        return 3;
    int t = open("/dev/tty", O_RDWR);
    if (t < 0)
        return 4;
    close(t);
    struct sigaction sa = {0};
    sa.sa_handler = on_sig; /* no SA_RESTART: the read below must see EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    struct termios tio;
    tcgetattr(s, &tio);
    tio.c_lflag |= ICANON | ISIG | ECHO;
    tcsetattr(s, TCSANOW, &tio);
    write(s, "ready\n", 6);
    char c;
    for (int i = 0; i < 100 && g_sig != SIGINT; i++)
        if (read(s, &c, 1) < 0 && errno != EINTR)
            return 5;
    if (g_sig != SIGINT)
        return 8;
    g_sig = 0;
    write(s, "int\n", 4);
    for (int i = 0; i < 300 && g_sig != SIGWINCH; i++)
        usleep(10000);
    if (g_sig != SIGWINCH)
        return 7;
    signal(SIGHUP, SIG_IGN); /* a leader's TIOCNOTTY hangs up its foreground group */
    if (ioctl(s, TIOCNOTTY) != 0)
        return 6;
    return 0;
}

int main(void)
{
    char buf[256];
    tap_init("pty");
    m = T_OK(open("/dev/ptmx", O_RDWR | O_NOCTTY), "open /dev/ptmx");
    unsigned n = 99999;
    T_OK(ioctl(m, TIOCGPTN, &n), "TIOCGPTN");
    snprintf(sname, sizeof(sname), "/dev/pts/%u", n);
    T_ERRNO(open(sname, O_RDWR | O_NOCTTY), EIO, "locked slave: EIO");
    int lock = 0;
    T_OK(ioctl(m, TIOCSPTLCK, &lock), "TIOCSPTLCK 0");
    s = T_OK(open(sname, O_RDWR | O_NOCTTY), "open the slave");
    struct stat st;
    T_OK(fstat(s, &st), "fstat the slave");
    T_TRUE(S_ISCHR(st.st_mode), "a character device");
    T_EQ(major(st.st_rdev), 136, "major 136");
    T_EQ(minor(st.st_rdev), n, "minor is the pty number");
    T_EQ(isatty(s), 1, "isatty slave");
    T_EQ(isatty(m), 1, "isatty master");
    T_ERRNO(lseek(s, 0, SEEK_SET), ESPIPE, "lseek: ESPIPE");

    T_EQ(write(m, "hello\r", 6), 6, "master write");
    T_EQ(rd(s, buf, sizeof(buf)), 6, "slave reads a line");
    T_STREQ(buf, "hello\n", "ICRNL turned CR into NL");
    T_EQ(rd(m, buf, sizeof(buf)), 7, "echo");
    T_STREQ(buf, "hello\r\n", "echo with ONLCR");
    T_EQ(write(s, "out\n", 4), 4, "slave write");
    T_EQ(rd(m, buf, sizeof(buf)), 5, "master reads output");
    T_STREQ(buf, "out\r\n", "ONLCR on output");

    write(m, "ab", 2);
    struct pollfd pf = {s, POLLIN, 0};
    T_EQ(poll(&pf, 1, 0), 0, "partial line: slave not readable");
    write(m, "x\x7f" "c\x15zz\x7fq\n", 9);
    T_EQ(rd(s, buf, sizeof(buf)), 3, "edited line");
    T_STREQ(buf, "zq\n", "ERASE and KILL applied");
    rd(m, buf, sizeof(buf));
    write(m, "one\ntwo\n", 8);
    T_EQ(rd(s, buf, sizeof(buf)), 4, "canonical read stops at a line end");
    T_EQ(rd(s, buf, sizeof(buf)), 4, "next line");
    write(m, "\x04", 1);
    T_EQ(rd(s, buf, sizeof(buf)), 0, "EOF char at line start: read 0");
    rd(m, buf, sizeof(buf));

    struct termios tio;
    T_OK(tcgetattr(s, &tio), "tcgetattr");
    T_TRUE(tio.c_lflag & ICANON, "canonical by default");
    cfmakeraw(&tio);
    T_OK(tcsetattr(s, TCSANOW, &tio), "tcsetattr raw");
    write(m, "\r\x03", 2);
    T_EQ(rd(s, buf, sizeof(buf)), 2, "raw bytes");
    T_EQ(buf[0] == '\r' && buf[1] == 3, 1, "no translation, no signal");
    pf.fd = m;
    pf.events = POLLIN;
    T_EQ(poll(&pf, 1, 0), 0, "no echo in raw mode");
    write(s, "a\n", 2);
    T_EQ(rd(m, buf, sizeof(buf)), 2, "no ONLCR in raw mode");
    T_OK(tcgetattr(s, &tio), "tcgetattr");
    tio.c_lflag |= ICANON | ECHO | ISIG;
    tio.c_iflag |= ICRNL;
    tio.c_oflag |= OPOST | ONLCR;
    tcsetattr(s, TCSANOW, &tio);

    struct winsize ws = {40, 100, 0, 0}, got = {0};
    T_OK(ioctl(s, TIOCSWINSZ, &ws), "TIOCSWINSZ");
    T_OK(ioctl(m, TIOCGWINSZ, &got), "TIOCGWINSZ on the master");
    T_EQ(got.ws_row * 1000 + got.ws_col, 40100, "window size");
    pid_t pg;
    T_ERRNO(ioctl(s, TIOCGPGRP, &pg), ENOTTY, "TIOCGPGRP on a non-controlling tty: ENOTTY");

    pid_t pid = fork();
    if (pid == 0)
        _exit(child_session());
    T_EQ(rd(m, buf, sizeof(buf)), 7, "child ready");
    write(m, "\x03", 1);
    /* The echo and the child's reply may come in one read or two. */
    char acc[64] = "";
    for (int i = 0; i < 4 && !strstr(acc, "int\r\n"); i++) {
        if (rd(m, buf, sizeof(buf)) <= 0)
            break;
        strncat(acc, buf, sizeof(acc) - strlen(acc) - 1);
    }
    T_STREQ(acc, "^Cint\r\n", "^C echoed, then the child saw SIGINT");
    ws.ws_row = 50;
    T_OK(ioctl(m, TIOCSWINSZ, &ws), "resize from the master");
    int wst = 0;
    waitpid(pid, &wst, 0);
    T_EQ(WIFEXITED(wst) ? WEXITSTATUS(wst) : 100, 0, "session, SIGINT, SIGWINCH, TIOCNOTTY");

    close(s);
    pf.fd = m;
    pf.events = POLLIN;
    T_EQ(poll(&pf, 1, 0), 1, "master polls after the slave closed");
    T_TRUE(pf.revents & POLLHUP, "POLLHUP");
    T_ERRNO(read(m, buf, 10), EIO, "master read after slave close: EIO");
    s = open(sname, O_RDWR | O_NOCTTY);
    close(m);
    T_EQ(read(s, buf, 10), 0, "slave read after hangup: 0");
    T_ERRNO(write(s, "x", 1), EIO, "slave write after hangup: EIO");
    close(s);
    return tap_done();
}
