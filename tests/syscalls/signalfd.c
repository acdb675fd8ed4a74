/* Probe: signalfd, signalfd4. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "tap.h"

static void *killer(void *arg)
{
    usleep(20000);
    kill(getpid(), SIGUSR2);
    return arg;
}

int main(void)
{
    tap_init("signalfd");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    T_ERRNO(signalfd(-1, &set, 0x1), EINVAL, "bad flags: EINVAL");
    T_ERRNO(syscall(SYS_signalfd4, -1, &set, 4, 0), EINVAL, "bad mask size: EINVAL");
    int fd = T_OK(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC), "signalfd4");
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "SFD_CLOEXEC");
    struct signalfd_siginfo si;
    T_ERRNO(read(fd, &si, sizeof(si)), EAGAIN, "nothing pending: EAGAIN");
    T_ERRNO(read(fd, &si, 16), EINVAL, "short buffer: EINVAL");
    struct pollfd pf = {fd, POLLIN, 0};
    T_EQ(poll(&pf, 1, 0), 0, "not readable");
    union sigval sv = {.sival_int = 77};
    sigqueue(getpid(), SIGUSR1, sv);
    T_EQ(poll(&pf, 1, 0), 1, "readable with a pending signal");
    T_EQ(read(fd, &si, sizeof(si)), sizeof(si), "read one record");
    T_EQ(si.ssi_signo, SIGUSR1, "ssi_signo");
    T_EQ(si.ssi_code, SI_QUEUE, "ssi_code SI_QUEUE");
    T_EQ(si.ssi_pid, getpid(), "ssi_pid");
    T_EQ(si.ssi_int, 77, "ssi_int carries the value");
    sigset_t pend;
    sigpending(&pend);
    T_EQ(sigismember(&pend, SIGUSR1), 0, "the read consumed the signal");

    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR2);
    struct signalfd_siginfo two[2];
    T_EQ(read(fd, two, sizeof(two)), 2 * sizeof(si), "two records in one read");
    T_EQ(two[0].ssi_signo, SIGUSR1, "lowest first");
    T_EQ(two[1].ssi_signo, SIGUSR2, "then the next");

    sigset_t only1;
    sigemptyset(&only1);
    sigaddset(&only1, SIGUSR1);
    T_EQ(signalfd(fd, &only1, 0), fd, "signalfd on an existing fd changes its mask");
    kill(getpid(), SIGUSR2);
    T_ERRNO(read(fd, &si, sizeof(si)), EAGAIN, "a signal outside the mask is not read");
    T_EQ(signalfd(fd, &set, 0), fd, "restore the mask");
    T_EQ(read(fd, &si, sizeof(si)), sizeof(si), "now it is");

    /* Blocking: read and epoll wake up for a signal sent later. */
    int bfd = signalfd(-1, &set, 0);
    pthread_t th;
    pthread_create(&th, NULL, killer, NULL);
    T_EQ(read(bfd, &si, sizeof(si)), sizeof(si), "a blocking read waits for a signal");
    T_EQ(si.ssi_signo, SIGUSR2, "the signal sent later");
    pthread_join(th, NULL);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    T_EQ(epoll_wait(ep, &ev, 1, 0), 0, "epoll: nothing pending");
    pthread_create(&th, NULL, killer, NULL);
    T_EQ(epoll_wait(ep, &ev, 1, 5000), 1, "epoll wakes for a signal");
    pthread_join(th, NULL);
    T_EQ(read(fd, &si, sizeof(si)), sizeof(si), "read it");
    int p[2];
    pipe(p);
    T_ERRNO(signalfd(p[0], &set, 0), EINVAL, "signalfd on a pipe: EINVAL");
    close(ep);
    close(bfd);
    close(fd);
    return tap_done();
}
