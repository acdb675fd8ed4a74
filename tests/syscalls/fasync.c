/* Probe: signal-driven I/O: O_ASYNC (F_SETFL, FIOASYNC), F_SETOWN/F_GETOWN,
 * F_SETSIG/F_GETSIG on sockets and pipes. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "tap.h"

static int wait_sig(int sig, siginfo_t *si, long ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000};
    memset(si, 0, sizeof(*si));
    return sigtimedwait(&set, si, &ts);
}

int main(void)
{
    tap_init("fasync");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGIO);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, NULL);

    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    T_EQ(fcntl(sv[0], F_GETOWN), 0, "no owner at first");
    T_ERRNO(fcntl(sv[0], F_SETOWN, 0x3ff00000), ESRCH, "F_SETOWN to no process: ESRCH");
    T_OK(fcntl(sv[0], F_SETOWN, getpid()), "F_SETOWN to ourselves");
    T_EQ(fcntl(sv[0], F_GETOWN), getpid(), "F_GETOWN");
    struct f_owner_ex ex = {F_OWNER_PGRP, getpgrp()};
    T_OK(fcntl(sv[0], F_SETOWN_EX, &ex), "F_SETOWN_EX process group");
    T_EQ(fcntl(sv[0], F_GETOWN), -getpgrp(), "F_GETOWN: minus the group");
    memset(&ex, 0, sizeof(ex));
    T_OK(fcntl(sv[0], F_GETOWN_EX, &ex), "F_GETOWN_EX");
    T_TRUE(ex.type == F_OWNER_PGRP && ex.pid == getpgrp(), "type and id");
    ex.type = 7;
    T_ERRNO(fcntl(sv[0], F_SETOWN_EX, &ex), EINVAL, "F_SETOWN_EX bad type: EINVAL");
    T_OK(fcntl(sv[0], F_SETOWN, getpid()), "F_SETOWN back to ourselves");
    T_OK(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_ASYNC), "F_SETFL O_ASYNC");
    T_TRUE(fcntl(sv[0], F_GETFL) & O_ASYNC, "O_ASYNC reads back");
    siginfo_t si;
    T_ERRNO(wait_sig(SIGIO, &si, 50), EAGAIN, "no SIGIO before input");
    write(sv[1], "x", 1);
    T_EQ(wait_sig(SIGIO, &si, 3000), SIGIO, "input raises SIGIO");
    T_EQ(si.si_code, SI_KERNEL, "si_code SI_KERNEL");
    char c;
    read(sv[0], &c, 1);

    T_EQ(fcntl(sv[0], F_GETSIG), 0, "F_GETSIG: 0 (SIGIO)");
    T_OK(fcntl(sv[0], F_SETSIG, SIGRTMIN), "F_SETSIG SIGRTMIN");
    T_EQ(fcntl(sv[0], F_GETSIG), SIGRTMIN, "F_GETSIG");
    T_ERRNO(fcntl(sv[0], F_SETSIG, 65), EINVAL, "F_SETSIG 65: EINVAL");
    write(sv[1], "y", 1);
    T_EQ(wait_sig(SIGRTMIN, &si, 3000), SIGRTMIN, "input raises the F_SETSIG signal");
    T_EQ(si.si_code, POLL_IN, "si_code POLL_IN");
    T_EQ(si.si_fd, sv[0], "si_fd");
    T_TRUE(si.si_band & POLLIN, "si_band has POLLIN");
    read(sv[0], &c, 1);
    while (wait_sig(SIGRTMIN, &si, 0) > 0)
        ;
    T_OK(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) & ~O_ASYNC), "clear O_ASYNC");
    write(sv[1], "z", 1);
    T_ERRNO(wait_sig(SIGRTMIN, &si, 100), EAGAIN, "no signal without O_ASYNC");
    close(sv[0]);
    close(sv[1]);

    int p[2];
    pipe(p);
    int on = 1;
    T_OK(fcntl(p[0], F_SETOWN, getpid()), "pipe: F_SETOWN");
    T_OK(ioctl(p[0], FIOASYNC, &on), "pipe: FIOASYNC on");
    T_TRUE(fcntl(p[0], F_GETFL) & O_ASYNC, "sets O_ASYNC");
    write(p[1], "x", 1);
    T_EQ(wait_sig(SIGIO, &si, 3000), SIGIO, "pipe input raises SIGIO");
    on = 0;
    T_OK(ioctl(p[0], FIOASYNC, &on), "FIOASYNC off");
    T_TRUE(!(fcntl(p[0], F_GETFL) & O_ASYNC), "clears O_ASYNC");
    close(p[0]);
    close(p[1]);

    int fd = open("file", O_CREAT | O_RDWR, 0600);
    on = 1;
    T_ERRNO(ioctl(fd, FIOASYNC, &on), ENOTTY, "regular file: FIOASYNC ENOTTY");
    close(fd);
    return tap_done();
}
