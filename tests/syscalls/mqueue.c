/* Probe: POSIX message queues (mq_open, mq_unlink, mq_timedsend,
 * mq_timedreceive, mq_notify, mq_getsetattr), pollable descriptors and the
 * mqueue file system. Runs in fresh namespaces natively (--host-state). */
#include <mqueue.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

static volatile sig_atomic_t g_sig, g_code, g_value;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    g_sig = sig;
    g_code = si->si_code;
    g_value = si->si_value.sival_int;
}

static struct timespec in_ms(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static void test_basic(void)
{
    struct mq_attr attr = {0, 4, 64, 0, {0}};
    mqd_t q = T_OK(mq_open("/probe", O_RDWR | O_CREAT | O_EXCL, 0600, &attr), "mq_open O_CREAT");
    T_ERRNO(mq_open("/probe", O_RDWR | O_CREAT | O_EXCL, 0600, &attr), EEXIST, "O_EXCL: EEXIST");
    T_ERRNO(mq_open("/missing", O_RDONLY), ENOENT, "missing: ENOENT");
    T_ERRNO(syscall(SYS_mq_open, "a/b", O_RDONLY, 0, NULL), EACCES, "a name with '/': EACCES");
    T_ERRNO(syscall(SYS_mq_open, "", O_RDONLY, 0, NULL), ENOENT, "empty name: ENOENT");
    T_ERRNO(mq_open("/probe", O_WRONLY | O_RDWR), EINVAL, "access mode 3: EINVAL");
    struct mq_attr bad = {0, 0, 64, 0, {0}};
    T_ERRNO(mq_open("/bad", O_RDWR | O_CREAT, 0600, &bad), EINVAL, "mq_maxmsg 0: EINVAL");
    bad.mq_maxmsg = 100000;
    T_ERRNO(mq_open("/bad", O_RDWR | O_CREAT, 0600, &bad), EINVAL, "mq_maxmsg over the hard limit: EINVAL");

    struct mq_attr got;
    T_OK(mq_getattr(q, &got), "mq_getattr");
    T_EQ(got.mq_maxmsg, 4, "mq_maxmsg");
    T_EQ(got.mq_msgsize, 64, "mq_msgsize");
    T_EQ(got.mq_curmsgs, 0, "empty");
    T_EQ(got.mq_flags, 0, "blocking");

    T_OK(mq_send(q, "low", 4, 1), "send prio 1");
    T_OK(mq_send(q, "high", 5, 9), "send prio 9");
    T_OK(mq_send(q, "low2", 5, 1), "send prio 1 again");
    T_OK(mq_send(q, "mid", 4, 5), "send prio 5");
    T_ERRNO(mq_send(q, "x", 2, 32768), EINVAL, "prio 32768: EINVAL");
    char big[100] = {0};
    T_ERRNO(mq_send(q, big, 65, 0), EMSGSIZE, "longer than mq_msgsize: EMSGSIZE");
    struct timespec ts = in_ms(50);
    T_ERRNO(mq_timedsend(q, "x", 2, 0, &ts), ETIMEDOUT, "full: mq_timedsend times out");
    ts.tv_nsec = 1000000000L;
    T_ERRNO(mq_timedsend(q, "x", 2, 0, &ts), EINVAL, "bad timeout: EINVAL");

    char buf[64];
    unsigned prio = 0;
    T_ERRNO(mq_receive(q, buf, 10, &prio), EMSGSIZE, "a buffer smaller than mq_msgsize: EMSGSIZE");
    T_EQ(mq_receive(q, buf, sizeof(buf), &prio), 5, "the highest priority first");
    T_STREQ(buf, "high", "its text");
    T_EQ(prio, 9, "its priority");
    T_EQ(mq_receive(q, buf, sizeof(buf), &prio), 4, "then priority 5");
    T_EQ(mq_receive(q, buf, sizeof(buf), &prio), 4, "then the first of priority 1");
    T_STREQ(buf, "low", "FIFO within a priority");
    T_EQ(mq_receive(q, buf, sizeof(buf), &prio), 5, "then the second");
    ts = in_ms(50);
    T_ERRNO(mq_timedreceive(q, buf, sizeof(buf), &prio, &ts), ETIMEDOUT, "empty: times out");

    struct mq_attr nb = {O_NONBLOCK, 0, 0, 0, {0}}, old;
    T_OK(mq_setattr(q, &nb, &old), "mq_setattr O_NONBLOCK");
    T_EQ(old.mq_flags, 0, "was blocking");
    T_ERRNO(mq_receive(q, buf, sizeof(buf), &prio), EAGAIN, "non-blocking receive: EAGAIN");
    T_EQ(fcntl(q, F_GETFL) & O_NONBLOCK, O_NONBLOCK, "the descriptor is O_NONBLOCK");
    nb.mq_flags = 0x1234;
    T_ERRNO(mq_setattr(q, &nb, &old), EINVAL, "other flags: EINVAL");
    T_ERRNO(mq_send(0, "x", 2, 0), EBADF, "not a queue: EBADF");

    /* read(2) on the descriptor. */
    T_OK(mq_send(q, "abc", 3, 0), "send");
    char line[128] = {0};
    T_TRUE(read(q, line, sizeof(line) - 1) > 0, "read the descriptor");
    T_STREQ(line, "QSIZE:3          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n", "the QSIZE line");
    T_OK(mq_close(q), "mq_close");

    mqd_t r = T_OK(mq_open("/probe", O_RDONLY), "open it again read-only");
    T_ERRNO(mq_send(r, "x", 2, 0), EBADF, "send on a read-only descriptor: EBADF");
    T_OK(mq_unlink("/probe"), "mq_unlink");
    T_ERRNO(mq_open("/probe", O_RDONLY), ENOENT, "the name is gone");
    T_EQ(mq_receive(r, buf, sizeof(buf), &prio), 3, "the open queue still works");
    T_ERRNO(mq_unlink("/probe"), ENOENT, "mq_unlink again: ENOENT");
    mq_close(r);
}

static void test_poll_notify(void)
{
    struct mq_attr attr = {0, 2, 16, 0, {0}};
    mqd_t q = T_OK(mq_open("/poll", O_RDWR | O_CREAT, 0600, &attr), "mq_open");
    struct pollfd p = {q, POLLIN | POLLOUT, 0};
    T_EQ(poll(&p, 1, 0), 1, "poll an empty queue");
    T_EQ(p.revents, POLLOUT, "writable only");
    mq_send(q, "a", 1, 0);
    mq_send(q, "b", 1, 0);
    p.revents = 0;
    T_EQ(poll(&p, 1, 0), 1, "poll a full queue");
    T_EQ(p.revents, POLLIN, "readable only");
    char buf[16];
    mq_receive(q, buf, sizeof(buf), NULL);
    mq_receive(q, buf, sizeof(buf), NULL);

    int ep = T_OK(epoll_create1(0), "epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
    T_OK(epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev), "epoll_ctl ADD the queue");
    T_EQ(epoll_wait(ep, &ev, 1, 0), 0, "nothing yet");
    pid_t c = fork();
    if (c == 0) {
        struct timespec d = {0, 50 * 1000000L};
        nanosleep(&d, NULL);
        _exit(mq_send(q, "hi", 2, 0) == 0 ? 0 : 1);
    }
    T_EQ(epoll_wait(ep, &ev, 1, 5000), 1, "epoll_wait wakes on the child's send");
    T_EQ(ev.data.u32, 7, "the queue's event");
    waitpid(c, NULL, 0);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(q, &rs);
    struct timeval tv = {0, 0};
    T_EQ(select(q + 1, &rs, NULL, NULL, &tv), 1, "select sees it readable");
    mq_receive(q, buf, sizeof(buf), NULL);
    close(ep);

    /* SIGEV_SIGNAL: sent when a message arrives in the empty queue. */
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 42;
    T_OK(mq_notify(q, &sev), "mq_notify SIGEV_SIGNAL");
    T_ERRNO(mq_notify(q, &sev), EBUSY, "a second registration: EBUSY");
    char line[128] = {0};
    T_TRUE(pread(q, line, sizeof(line) - 1, 0) > 0 || read(q, line, sizeof(line) - 1) > 0,
           "read the descriptor");
    c = fork();
    if (c == 0)
        _exit(mq_send(q, "n", 1, 0) == 0 ? 0 : 1);
    waitpid(c, NULL, 0);
    for (int i = 0; i < 100 && !g_sig; i++) {
        struct timespec d = {0, 10 * 1000000L};
        nanosleep(&d, NULL);
    }
    T_EQ(g_sig, SIGUSR1, "the notification signal arrived");
    T_EQ(g_code, SI_MESGQ, "si_code SI_MESGQ");
    T_EQ(g_value, 42, "si_value");
    T_OK(mq_notify(q, &sev), "the notification was one-shot: register again");
    T_OK(mq_notify(q, NULL), "unregister");
    T_OK(mq_notify(q, &sev), "and register once more");
    T_OK(mq_notify(q, NULL), "unregister");
    sev.sigev_notify = 99;
    T_ERRNO(mq_notify(q, &sev), EINVAL, "unknown sigev_notify: EINVAL");
    mq_close(q);
    mq_unlink("/poll");
}

static void first_line(const char *file, char *buf, size_t size)
{
    buf[0] = 0;
    FILE *f = fopen(file, "r");
    if (!f)
        return;
    if (!fgets(buf, (int)size, f))
        buf[0] = 0;
    fclose(f);
}

static void test_fs(void)
{
    char line[128];
    mqd_t q = T_OK(mq_open("/listed", O_RDWR | O_CREAT, 0640, NULL), "mq_open with defaults");
    struct mq_attr got;
    mq_getattr(q, &got);
    T_EQ(got.mq_maxmsg, 10, "default mq_maxmsg");
    T_EQ(got.mq_msgsize, 8192, "default mq_msgsize");
    char path[64], link[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", q);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    link[n < 0 ? 0 : n] = 0;
    T_STREQ(link, "/listed", "the fd link names the queue");
    first_line("/proc/sys/fs/mqueue/msg_max", line, sizeof(line));
    T_STREQ(line, "10\n", "/proc/sys/fs/mqueue/msg_max");
    first_line("/proc/sys/fs/mqueue/msgsize_max", line, sizeof(line));
    T_STREQ(line, "8192\n", "/proc/sys/fs/mqueue/msgsize_max");
    first_line("/proc/sys/fs/mqueue/queues_max", line, sizeof(line));
    T_STREQ(line, "256\n", "/proc/sys/fs/mqueue/queues_max");
    int fd = T_OK(open("/proc/sys/fs/mqueue/msg_max", O_WRONLY), "open msg_max for writing");
    T_EQ(write(fd, "20", 2), 2, "raise msg_max to 20");
    close(fd);
    mqd_t u = -1;
    pid_t c = fork();
    if (c == 0) {
        /* Unprivileged creators are held to msg_max. */
        if (setuid(1000))
            _exit(2);
        struct mq_attr a20 = {0, 20, 64, 0, {0}}, a21 = {0, 21, 64, 0, {0}};
        u = mq_open("/user20", O_RDWR | O_CREAT, 0600, &a20);
        if (u < 0)
            _exit(3);
        mq_unlink("/user20");
        if (mq_open("/user21", O_RDWR | O_CREAT, 0600, &a21) != -1 || errno != EINVAL)
            _exit(4);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a non-root creator is held to msg_max");
    fd = open("/proc/sys/fs/mqueue/msg_max", O_WRONLY);
    T_EQ(write(fd, "10\n", 3), 3, "restore msg_max");
    close(fd);
    mkdir("mqmnt", 0755);
    T_OK(mount("mqueue", "mqmnt", "mqueue", 0, NULL), "mount -t mqueue");
    struct stat sb;
    T_OK(stat("mqmnt/listed", &sb), "the queue is a file there");
    T_EQ(sb.st_mode & 07777, 0640, "with its mode");
    T_TRUE(S_ISREG(sb.st_mode), "a regular file");
    T_OK(stat("mqmnt", &sb), "stat the mount");
    T_EQ(sb.st_mode & 07777, 01777, "its root is mode 1777");
    fd = T_OK(open("mqmnt/listed", O_RDONLY), "open it by path");
    memset(line, 0, sizeof(line));
    T_TRUE(read(fd, line, sizeof(line) - 1) > 0, "read it");
    T_STREQ(line, "QSIZE:0          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n", "the QSIZE line");
    close(fd);
    fd = T_OK(open("mqmnt/made", O_RDWR | O_CREAT, 0600), "open(O_CREAT) in the file system");
    close(fd);
    mqd_t made = T_OK(mq_open("/made", O_RDWR), "makes a queue mq_open finds");
    mq_getattr(made, &got);
    T_EQ(got.mq_maxmsg, 10, "with the default mq_maxmsg");
    mq_close(made);
    DIR *d = opendir("mqmnt");
    int names = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.')
            names++;
    if (d)
        closedir(d);
    T_EQ(names, 2, "the directory lists both queues");
    T_OK(unlink("mqmnt/made"), "unlink through the file system");
    T_ERRNO(mq_open("/made", O_RDONLY), ENOENT, "removes the queue");
    T_OK(umount("mqmnt"), "umount");
    rmdir("mqmnt");
    T_OK(mq_unlink("/listed"), "mq_unlink");
    mq_close(q);
}

/* RLIMIT_MSGQUEUE: a queue of the default size charges 10 * 8192 bytes of
 * messages plus 96 bytes of bookkeeping per slot. */
static void test_rlimit(void)
{
    /* The charge is per real uid across the whole (host) kernel: a uid of
     * its own keeps concurrent runs of this probe from sharing it. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uid_t uid = 200000 + (uid_t)(now.tv_nsec % 1000000);
    pid_t c = fork();
    if (c == 0) {
        struct rlimit rl = {100000, 100000};
        if (setrlimit(RLIMIT_MSGQUEUE, &rl) || setuid(uid))
            _exit(2);
        mqd_t a = mq_open("/rl1", O_RDWR | O_CREAT, 0600, NULL);
        if (a < 0)
            _exit(3);
        int bad = 0;
        if (mq_open("/rl2", O_RDWR | O_CREAT, 0600, NULL) != -1 || errno != EMFILE)
            bad |= 1;
        struct mq_attr small = {0, 2, 64, 0, {0}};
        mqd_t b = mq_open("/rl3", O_RDWR | O_CREAT, 0600, &small);
        if (b < 0)
            bad |= 2;
        mq_unlink("/rl1");
        mq_close(a);
        /* The charge goes with the queue. */
        a = mq_open("/rl1", O_RDWR | O_CREAT, 0600, NULL);
        if (a < 0)
            bad |= 4;
        mq_unlink("/rl1");
        mq_unlink("/rl3");
        _exit(bad);
    }
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st), "the child exited");
    T_EQ(WEXITSTATUS(st), 0, "RLIMIT_MSGQUEUE refused the second queue with EMFILE (bitmask)");
}

static sem_t g_thread_sem;
static volatile int g_thread_value;

static void on_thread(union sigval v)
{
    g_thread_value = v.sival_int;
    sem_post(&g_thread_sem);
}

/* SIGEV_THREAD: glibc registers a cookie with a netlink socket its helper
 * thread reads; the kernel sends it back when the notification fires. */
static void test_thread_notify(void)
{
    mqd_t q = T_OK(mq_open("/thread", O_RDWR | O_CREAT, 0600, NULL), "mq_open");
    sem_init(&g_thread_sem, 0, 0);
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = on_thread;
    sev.sigev_value.sival_int = 77;
    T_OK(mq_notify(q, &sev), "mq_notify SIGEV_THREAD");
    T_ERRNO(mq_notify(q, &sev), EBUSY, "registered once");
    T_OK(mq_send(q, "t", 1, 0), "send");
    struct timespec ts = in_ms(5000);
    T_OK(sem_timedwait(&g_thread_sem, &ts), "the notification thread ran");
    T_EQ(g_thread_value, 77, "with sigev_value");
    T_OK(mq_notify(q, &sev), "one-shot: register again");
    T_OK(mq_notify(q, NULL), "unregister");
    struct sigevent bad = {0};
    bad.sigev_notify = SIGEV_THREAD;
    bad.sigev_signo = 0; /* fd 0 is not a socket */
    static char cookie[32];
    bad.sigev_value.sival_ptr = cookie;
    T_ERRNO(syscall(SYS_mq_notify, q, &bad), ENOTSOCK, "raw SIGEV_THREAD on a non-socket: ENOTSOCK");
    bad.sigev_signo = 999;
    T_ERRNO(syscall(SYS_mq_notify, q, &bad), EBADF, "raw SIGEV_THREAD on a bad fd: EBADF");
    mq_close(q);
    mq_unlink("/thread");
}

int main(void)
{
    tap_init("mqueue");
    test_basic();
    test_poll_notify();
    test_thread_notify();
    test_fs();
    test_rlimit();
    return tap_done();
}
