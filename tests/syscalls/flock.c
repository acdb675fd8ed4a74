/* Probe: flock(2), fcntl record locks (F_SETLK/F_SETLKW/F_GETLK) and OFD locks. */
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "tap.h"

static int lk(int fd, int cmd, int type, off_t start, off_t len)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

/* F_GETLK as seen by a child process: "type start len" or "unlck". */
static int child_getlk(int fd, int type, off_t start, off_t len, struct flock *out)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
        if (fcntl(fd, F_GETLK, &fl) < 0)
            fl.l_type = -1;
        if (write(pfd[1], &fl, sizeof(fl)) != sizeof(fl))
            _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    int r = read(pfd[0], out, sizeof(*out)) == sizeof(*out) ? 0 : -1;
    close(pfd[0]);
    waitpid(pid, NULL, 0);
    return r;
}

/* Child tries F_SETLK; returns its errno (0 = got it). */
static int child_setlk(int fd, int type, off_t start, off_t len)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(lk(fd, F_SETLK, type, start, len) == 0 ? 0 : errno);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void on_alarm(int sig)
{
    (void)sig;
}

int main(void)
{
    tap_init("flock");
    int fd = T_OK(open("f", O_RDWR | O_CREAT, 0644), "create");
    T_EQ(write(fd, "0123456789", 10), 10, "fill");

    /* flock */
    int fd2 = T_OK(open("f", O_RDWR), "second description");
    T_OK(flock(fd, LOCK_SH), "LOCK_SH");
    T_OK(flock(fd2, LOCK_SH | LOCK_NB), "second LOCK_SH shares");
    T_ERRNO(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK, "LOCK_EX against a shared lock");
    T_OK(flock(fd, LOCK_UN), "LOCK_UN");
    T_OK(flock(fd2, LOCK_EX | LOCK_NB), "now LOCK_EX");
    T_ERRNO(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK, "LOCK_SH against LOCK_EX");
    int dupfd = dup(fd2);
    close(fd2);
    T_ERRNO(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK, "a dup keeps the description's lock");
    close(dupfd);
    T_OK(flock(fd, LOCK_EX | LOCK_NB), "closing the last fd drops it");
    T_OK(flock(fd, LOCK_UN), "unlock");
    T_ERRNO(flock(fd, 0), EINVAL, "bad op");

    /* POSIX locks */
    T_OK(lk(fd, F_SETLK, F_WRLCK, 0, 5), "F_WRLCK [0,5)");
    struct flock g;
    T_OK(child_getlk(fd, F_RDLCK, 2, 1, &g), "child F_GETLK");
    T_EQ(g.l_type, F_WRLCK, "conflict type");
    T_EQ(g.l_start, 0, "conflict start");
    T_EQ(g.l_len, 5, "conflict len");
    T_TRUE(g.l_pid == getpid(), "conflict pid is ours");
    T_OK(child_getlk(fd, F_WRLCK, 5, 5, &g), "child F_GETLK beyond");
    T_EQ(g.l_type, F_UNLCK, "no conflict past the range");
    T_EQ(child_setlk(fd, F_RDLCK, 4, 1), EAGAIN, "child F_SETLK conflicts: EAGAIN");
    T_EQ(child_setlk(fd, F_WRLCK, 5, 0), 0, "child locks [5,EOF)");
    /* Splitting: unlock the middle. */
    T_OK(lk(fd, F_SETLK, F_UNLCK, 1, 2), "unlock [1,3)");
    T_EQ(child_setlk(fd, F_WRLCK, 1, 2), 0, "child can lock the hole");
    T_EQ(child_setlk(fd, F_WRLCK, 0, 1), EAGAIN, "left part still locked");
    T_EQ(child_setlk(fd, F_WRLCK, 3, 2), EAGAIN, "right part still locked");
    T_OK(lk(fd, F_SETLK, F_RDLCK, 0, 5), "downgrade to F_RDLCK");
    T_EQ(child_setlk(fd, F_RDLCK, 0, 5), 0, "readers share");
    /* Our own locks never conflict with us. */
    T_OK(child_getlk(fd, F_WRLCK, 0, 0, &g), "whole-file F_GETLK");
    T_EQ(g.l_type, F_RDLCK, "sees our read lock");
    struct flock me = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    T_OK(fcntl(fd, F_GETLK, &me), "own F_GETLK");
    T_EQ(me.l_type, F_UNLCK, "own locks do not conflict");
    /* Closing any fd drops the process's locks. */
    int other = open("f", O_RDONLY);
    close(other);
    T_EQ(child_setlk(fd, F_WRLCK, 0, 0), 0, "close of another fd released them");

    int ro = open("f", O_RDONLY);
    T_ERRNO(lk(ro, F_SETLK, F_WRLCK, 0, 1), EBADF, "F_WRLCK on a read-only fd");
    close(ro);
    T_ERRNO(lk(fd, F_SETLK, 42, 0, 1), EINVAL, "bad l_type");
    struct flock neg = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = -1, .l_len = 1};
    T_ERRNO(fcntl(fd, F_SETLK, &neg), EINVAL, "negative start");

    /* F_SETLKW waits and is interrupted by a signal. */
    pid_t holder = fork();
    int go[2];
    if (holder == 0) {
        lk(fd, F_SETLK, F_WRLCK, 0, 1);
        pause();
        _exit(0);
    }
    usleep(200000);
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    T_ERRNO(lk(fd, F_SETLKW, F_WRLCK, 0, 1), EINTR, "F_SETLKW interrupted: EINTR");
    alarm(0);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    T_OK(lk(fd, F_SETLKW, F_WRLCK, 0, 1), "F_SETLKW after the holder died");
    (void)go;

    T_OK(lk(fd, F_SETLK, F_UNLCK, 0, 0), "unlock all");

    /* OFD locks: per description. */
    int a = open("f", O_RDWR), b = open("f", O_RDWR);
    T_OK(lk(a, F_OFD_SETLK, F_WRLCK, 0, 1), "OFD lock on a");
    T_ERRNO(lk(b, F_OFD_SETLK, F_WRLCK, 0, 1), EAGAIN, "OFD lock on b conflicts");
    struct flock og = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    T_OK(fcntl(b, F_OFD_GETLK, &og), "F_OFD_GETLK");
    T_EQ(og.l_pid, -1, "OFD owner pid is -1");
    struct flock bad = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1};
    T_ERRNO(fcntl(b, F_OFD_SETLK, &bad), EINVAL, "OFD with l_pid set: EINVAL");
    close(a);
    T_OK(lk(b, F_OFD_SETLK, F_WRLCK, 0, 1), "closing a released its OFD lock");
    close(b);
    close(fd);
    return tap_done();
}
