/* Probe: SysV message queues (msgget, msgsnd, msgrcv, msgctl). Runs in a
 * fresh IPC namespace natively (--host-state). */
#include <signal.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

struct m {
    long type;
    char text[64];
};

static int snd(int id, long type, const char *s, int flags)
{
    struct m b = {type, {0}};
    strncpy(b.text, s, sizeof(b.text) - 1);
    return msgsnd(id, &b, strlen(s) + 1, flags);
}

static long rcv(int id, long type, int flags, char *out)
{
    struct m b = {0, {0}};
    ssize_t n = msgrcv(id, &b, sizeof(b.text), type, flags);
    if (n < 0)
        return -1;
    if (out)
        strcpy(out, b.text);
    return b.type;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_basic(void)
{
    int id = T_OK(msgget(IPC_PRIVATE, 0600), "msgget");
    T_EQ(id, 0, "the first id of a fresh namespace is 0");
    struct msqid_ds ds;
    T_OK(msgctl(id, IPC_STAT, &ds), "IPC_STAT");
    T_EQ(ds.msg_qbytes, 16384, "msg_qbytes is msgmnb");
    T_EQ(ds.msg_qnum, 0, "empty");
    T_OK(snd(id, 1, "one", 0), "send type 1");
    T_OK(snd(id, 2, "two", 0), "send type 2");
    T_OK(snd(id, 3, "three", 0), "send type 3");
    T_OK(snd(id, 1, "uno", 0), "send type 1 again");
    T_OK(msgctl(id, IPC_STAT, &ds), "IPC_STAT");
    T_EQ(ds.msg_qnum, 4, "four messages");
    T_EQ(ds.msg_cbytes, 4 + 4 + 6 + 4, "bytes queued");
    T_EQ(ds.msg_lspid, getpid(), "lspid");
    char buf[64];
    T_EQ(rcv(id, 2, 0, buf), 2, "msgtyp > 0: the first of that type");
    T_STREQ(buf, "two", "its text");
    T_EQ(rcv(id, 1, MSG_EXCEPT, buf), 3, "MSG_EXCEPT: the first of another type");
    T_EQ(rcv(id, -5, 0, buf), 1, "msgtyp < 0: the lowest type");
    T_STREQ(buf, "one", "the first of the lowest");
    T_EQ(rcv(id, 0, 0, buf), 1, "msgtyp 0: the first");
    T_STREQ(buf, "uno", "its text");
    T_ERRNO(rcv(id, 0, IPC_NOWAIT, NULL), ENOMSG, "empty with IPC_NOWAIT: ENOMSG");

    T_OK(snd(id, 7, "a long message", 0), "send");
    struct m small;
    T_ERRNO(msgrcv(id, &small, 4, 0, 0), E2BIG, "buffer too small: E2BIG");
    T_EQ(msgrcv(id, &small, 4, 0, MSG_NOERROR), 4, "MSG_NOERROR truncates");
    T_EQ(memcmp(small.text, "a lo", 4), 0, "the first bytes");
    T_OK(msgctl(id, IPC_STAT, &ds), "IPC_STAT");
    T_EQ(ds.msg_qnum, 0, "the truncated message is gone");
    T_EQ(ds.msg_lrpid, getpid(), "lrpid");

    T_OK(snd(id, 4, "first", 0), "send");
    T_OK(snd(id, 5, "second", 0), "send");
    T_EQ(rcv(id, 1, MSG_COPY | IPC_NOWAIT, buf), 5, "MSG_COPY: the message at index 1");
    T_STREQ(buf, "second", "its text");
    T_ERRNO(rcv(id, 5, MSG_COPY | IPC_NOWAIT, NULL), ENOMSG, "MSG_COPY past the end: ENOMSG");
    T_ERRNO(rcv(id, 0, MSG_COPY, NULL), EINVAL, "MSG_COPY without IPC_NOWAIT: EINVAL");
    T_OK(msgctl(id, IPC_STAT, &ds), "IPC_STAT");
    T_EQ(ds.msg_qnum, 2, "MSG_COPY left both");

    struct m b = {0, "x"};
    T_ERRNO(msgsnd(id, &b, 2, 0), EINVAL, "mtype 0: EINVAL");
    b.type = 1;
    T_ERRNO(msgsnd(id, &b, 8193, 0), EINVAL, "bigger than msgmax: EINVAL");
    T_ERRNO(msgsnd(id, BAD_PTR, 2, 0), EFAULT, "bad buffer: EFAULT");
    T_ERRNO(msgsnd(1234, &b, 2, 0), EINVAL, "unknown id: EINVAL");

    ds.msg_qbytes = 20;
    T_OK(msgctl(id, IPC_SET, &ds), "IPC_SET msg_qbytes 20");
    T_ERRNO(snd(id, 1, "0123456789", IPC_NOWAIT), EAGAIN, "full with IPC_NOWAIT: EAGAIN");
    struct msginfo mi;
    T_EQ(msgctl(0, IPC_INFO, (struct msqid_ds *)&mi), 0, "IPC_INFO");
    T_EQ(mi.msgmax, 8192, "msgmax");
    T_EQ(mi.msgmnb, 16384, "msgmnb");
    T_EQ(mi.msgmni, 32000, "msgmni");
    T_EQ(msgctl(0, MSG_STAT, &ds), id, "MSG_STAT by index");
    T_OK(msgctl(id, IPC_RMID, NULL), "IPC_RMID");
    T_ERRNO(msgctl(id, IPC_STAT, &ds), EINVAL, "gone");
    int k = T_OK(msgget(0x99, IPC_CREAT | 0600), "msgget with a key");
    T_EQ(msgget(0x99, 0), k, "found by key");
    T_ERRNO(msgget(0x99, IPC_CREAT | IPC_EXCL), EEXIST, "IPC_EXCL: EEXIST");
    T_ERRNO(msgget(0x98, 0), ENOENT, "missing: ENOENT");
    T_OK(msgctl(k, IPC_RMID, NULL), "remove");
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void test_blocking(void)
{
    int id = T_OK(msgget(IPC_PRIVATE, 0600), "msgget");
    pid_t c = fork();
    if (c == 0) {
        char buf[64];
        long t = rcv(id, 9, 0, buf);
        if (t != 9 || strcmp(buf, "wake") != 0)
            _exit(1);
        _exit(snd(id, 10, "reply", 0) == 0 ? 0 : 2);
    }
    sleep_ms(50);
    T_OK(snd(id, 8, "not for you", 0), "a message the child skips");
    T_OK(snd(id, 9, "wake", 0), "the one it waits for");
    char buf[64];
    T_EQ(rcv(id, 10, 0, buf), 10, "the child's reply");
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child received its message");

    /* A full queue blocks the sender until a receive makes room. */
    struct msqid_ds ds;
    msgctl(id, IPC_STAT, &ds);
    ds.msg_qbytes = 32;
    T_OK(msgctl(id, IPC_SET, &ds), "shrink the queue");
    T_EQ(rcv(id, 8, 0, buf), 8, "drain");
    T_OK(snd(id, 1, "0123456789abcdefghijklmnopqrs", 0), "fill it");
    c = fork();
    if (c == 0)
        _exit(snd(id, 2, "later", 0) == 0 ? 0 : 1);
    sleep_ms(50);
    T_EQ(rcv(id, 1, 0, buf), 1, "make room");
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the blocked sender went through");
    T_EQ(rcv(id, 0, IPC_NOWAIT, buf), 2, "its message");

    /* IPC_RMID wakes receivers with EIDRM. */
    c = fork();
    if (c == 0) {
        long r = rcv(id, 0, 0, NULL);
        _exit(r == -1 && errno == EIDRM ? 0 : 1);
    }
    sleep_ms(50);
    T_OK(msgctl(id, IPC_RMID, NULL), "IPC_RMID");
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the receiver got EIDRM");

    id = T_OK(msgget(IPC_PRIVATE, 0600), "msgget");
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    T_ERRNO(rcv(id, 0, 0, NULL), EINTR, "a handled signal interrupts msgrcv: EINTR");
    T_OK(msgctl(id, IPC_RMID, NULL), "remove");
}

int main(void)
{
    tap_init("sysv_msg");
    test_basic();
    test_blocking();
    return tap_done();
}
