/* Probe: named pipes (mkfifo + open): blocking open rules, O_NONBLOCK, data flow, EOF. */
#include <signal.h>
#include <sys/wait.h>

#include "tap.h"

static void on_alarm(int sig)
{
    (void)sig;
}

int main(void)
{
    tap_init("fifo");
    T_OK(mkfifo("p", 0600), "mkfifo");
    struct stat st;
    T_OK(stat("p", &st), "stat fifo");
    T_TRUE(S_ISFIFO(st.st_mode), "it is a FIFO");

    T_ERRNO(open("p", O_WRONLY | O_NONBLOCK), ENXIO, "O_WRONLY|O_NONBLOCK without reader: ENXIO");
    int r = T_OK(open("p", O_RDONLY | O_NONBLOCK), "O_RDONLY|O_NONBLOCK opens at once");
    char buf[64];
    T_EQ(read(r, buf, sizeof(buf)), 0, "read without writer: EOF");
    int w = T_OK(open("p", O_WRONLY | O_NONBLOCK), "O_WRONLY|O_NONBLOCK with a reader");
    T_ERRNO(read(r, buf, sizeof(buf)), EAGAIN, "read with an idle writer: EAGAIN");
    T_EQ(write(w, "hello", 5), 5, "write 5");
    T_EQ(read(r, buf, sizeof(buf)), 5, "read 5");
    T_TRUE(memcmp(buf, "hello", 5) == 0, "same bytes");
    close(w);
    T_EQ(read(r, buf, sizeof(buf)), 0, "EOF after the writer closed");
    close(r);

    int rw = T_OK(open("p", O_RDWR), "O_RDWR never blocks");
    T_EQ(write(rw, "x", 1), 1, "write through O_RDWR");
    T_EQ(read(rw, buf, 1), 1, "read it back");
    close(rw);

    /* Blocking opens meet. */
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("p", O_WRONLY);
        if (fd < 0)
            _exit(1);
        if (write(fd, "from child", 10) != 10)
            _exit(2);
        close(fd);
        _exit(0);
    }
    r = T_OK(open("p", O_RDONLY), "blocking O_RDONLY waits for the writer");
    size_t got = 0;
    for (;;) {
        ssize_t n = read(r, buf + got, sizeof(buf) - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    T_EQ(got, 10, "read all the child wrote");
    T_TRUE(memcmp(buf, "from child", 10) == 0, "child's bytes");
    close(r);
    int status;
    waitpid(pid, &status, 0);
    T_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0, "child wrote");

    /* A blocked open is interrupted by a signal. */
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    T_ERRNO(open("p", O_WRONLY), EINTR, "blocked O_WRONLY open: EINTR on a signal");
    alarm(0);

    /* Data left when the last end closes is gone. */
    r = open("p", O_RDONLY | O_NONBLOCK);
    w = open("p", O_WRONLY | O_NONBLOCK);
    T_EQ(write(w, "zz", 2), 2, "write 2");
    close(w);
    close(r);
    r = open("p", O_RDONLY | O_NONBLOCK);
    T_EQ(read(r, buf, sizeof(buf)), 0, "a reopened FIFO is empty");
    close(r);
    T_OK(unlink("p"), "unlink fifo");
    return tap_done();
}
