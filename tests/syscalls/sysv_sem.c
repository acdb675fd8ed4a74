/* Probe: SysV semaphores (semget, semop, semtimedop, semctl, SEM_UNDO).
 * Runs in a fresh IPC namespace natively (--host-state). */
#include <signal.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sched.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *info;
};

static int op(int id, int num, int delta, int flags)
{
    struct sembuf b = {(unsigned short)num, (short)delta, (short)flags};
    return semop(id, &b, 1);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits until semaphore NUM of ID has N waiters of the kind CMD counts. */
static int wait_count(int id, int num, int cmd, int n)
{
    for (int i = 0; i < 500; i++) {
        if (semctl(id, num, cmd) == n)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void test_basic(void)
{
    int id = T_OK(semget(IPC_PRIVATE, 3, IPC_CREAT | 0600), "semget 3 semaphores");
    T_EQ(id, 0, "the first id of a fresh namespace is 0");
    T_EQ(semctl(id, 0, GETVAL), 0, "initially 0");
    T_OK(semctl(id, 1, SETVAL, (union semun){.val = 5}), "SETVAL");
    T_EQ(semctl(id, 1, GETVAL), 5, "GETVAL");
    T_EQ(semctl(id, 1, GETPID), getpid(), "GETPID after SETVAL");
    T_ERRNO(semctl(id, 1, SETVAL, (union semun){.val = 40000}), ERANGE, "SETVAL over SEMVMX: ERANGE");
    T_ERRNO(semctl(id, 1, SETVAL, (union semun){.val = -1}), ERANGE, "SETVAL negative: ERANGE");
    T_ERRNO(semctl(id, 3, GETVAL), EINVAL, "semnum out of range: EINVAL");
    unsigned short vals[3] = {1, 2, 3};
    T_OK(semctl(id, 0, SETALL, (union semun){.array = vals}), "SETALL");
    unsigned short got[3] = {0};
    T_OK(semctl(id, 0, GETALL, (union semun){.array = got}), "GETALL");
    T_TRUE(got[0] == 1 && got[1] == 2 && got[2] == 3, "GETALL reads what SETALL wrote");
    struct semid_ds ds;
    T_OK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}), "IPC_STAT");
    T_EQ(ds.sem_nsems, 3, "sem_nsems");
    T_EQ(ds.sem_perm.mode, 0600, "mode");
    T_EQ(ds.sem_otime, 0, "no semop yet");

    struct sembuf two[2] = {{0, -1, 0}, {2, -3, 0}};
    T_OK(semop(id, two, 2), "two operations at once");
    T_OK(semctl(id, 0, GETALL, (union semun){.array = got}), "GETALL");
    T_TRUE(got[0] == 0 && got[1] == 2 && got[2] == 0, "both applied");
    struct sembuf fail[2] = {{1, -1, 0}, {0, -1, IPC_NOWAIT}};
    T_ERRNO(semop(id, fail, 2), EAGAIN, "one would block with IPC_NOWAIT: EAGAIN");
    T_EQ(semctl(id, 1, GETVAL), 2, "nothing applied (all or nothing)");
    T_ERRNO(op(id, 0, -1, IPC_NOWAIT), EAGAIN, "decrement below 0 with IPC_NOWAIT: EAGAIN");
    T_ERRNO(op(id, 1, 0, IPC_NOWAIT), EAGAIN, "wait-for-zero on 2 with IPC_NOWAIT: EAGAIN");
    T_OK(op(id, 0, 0, 0), "wait-for-zero on 0 returns at once");
    T_ERRNO(op(id, 1, 32767, 0), ERANGE, "over SEMVMX: ERANGE");
    T_ERRNO(op(id, 5, 1, 0), EFBIG, "sem_num out of range: EFBIG");
    T_ERRNO(semop(id, two, 0), EINVAL, "nsops 0: EINVAL");
    T_ERRNO(semop(id, two, 501), E2BIG, "nsops over SEMOPM: E2BIG");
    T_ERRNO(semop(id, BAD_PTR, 1), EFAULT, "bad sops: EFAULT");
    T_ERRNO(op(1234, 0, 1, 0), EINVAL, "unknown id: EINVAL");
    T_OK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}), "IPC_STAT");
    T_TRUE(ds.sem_otime != 0, "sem_otime set by semop");

    struct timespec ts = {0, 50 * 1000000L};
    struct sembuf dec = {0, -1, 0};
    T_ERRNO(semtimedop(id, &dec, 1, &ts), EAGAIN, "semtimedop times out: EAGAIN");
    ts.tv_nsec = 1000000000L;
    T_ERRNO(semtimedop(id, &dec, 1, &ts), EINVAL, "bad timeout: EINVAL");

    struct seminfo si;
    T_EQ(semctl(0, 0, IPC_INFO, (union semun){.info = &si}), 0, "IPC_INFO returns the highest index");
    T_EQ(si.semmsl, 32000, "semmsl");
    T_EQ(si.semopm, 500, "semopm");
    T_EQ(si.semvmx, 32767, "semvmx");
    T_EQ(semctl(0, 0, SEM_STAT, (union semun){.buf = &ds}), id, "SEM_STAT by index");
    T_ERRNO(semget(IPC_PRIVATE, 0, 0600), EINVAL, "a new set of 0 semaphores: EINVAL");
    T_ERRNO(semget(IPC_PRIVATE, 32001, 0600), EINVAL, "more than SEMMSL: EINVAL");
    int k = T_OK(semget(0x55, 2, IPC_CREAT | 0600), "semget with a key");
    T_EQ(semget(0x55, 0, 0), k, "found with nsems 0");
    T_ERRNO(semget(0x55, 3, 0), EINVAL, "more semaphores than the set: EINVAL");
    T_ERRNO(semget(0x55, 2, IPC_CREAT | IPC_EXCL), EEXIST, "IPC_EXCL: EEXIST");
    T_OK(semctl(k, 0, IPC_RMID), "remove it");
    T_ERRNO(semctl(k, 0, GETVAL), EINVAL, "gone");
    T_OK(semctl(id, 0, IPC_RMID), "remove");
}

static void test_blocking(void)
{
    int id = T_OK(semget(IPC_PRIVATE, 2, 0600), "semget");
    pid_t c = fork();
    if (c == 0) {
        /* Blocks until the parent posts. */
        _exit(op(id, 0, -2, 0) == 0 ? 0 : 1);
    }
    T_TRUE(wait_count(id, 0, GETNCNT, 1), "GETNCNT sees the sleeper");
    T_EQ(semctl(id, 0, GETZCNT), 0, "GETZCNT 0");
    T_OK(op(id, 0, 1, 0), "post 1");
    sleep_ms(50);
    T_EQ(semctl(id, 0, GETNCNT), 1, "still waiting for 2");
    T_OK(op(id, 0, 1, 0), "post another");
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the sleeper got both");
    T_EQ(semctl(id, 0, GETVAL), 0, "value back to 0");
    T_EQ(semctl(id, 0, GETPID), c, "GETPID names the child's semop");

    /* Wait-for-zero. */
    T_OK(semctl(id, 1, SETVAL, (union semun){.val = 1}), "SETVAL 1");
    c = fork();
    if (c == 0)
        _exit(op(id, 1, 0, 0) == 0 ? 0 : 1);
    T_TRUE(wait_count(id, 1, GETZCNT, 1), "GETZCNT sees the sleeper");
    T_OK(op(id, 1, -1, 0), "take it to 0");
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the zero waiter woke");

    /* IPC_RMID wakes sleepers with EIDRM. */
    c = fork();
    if (c == 0) {
        int r = op(id, 0, -1, 0);
        _exit(r == -1 && errno == EIDRM ? 0 : 1);
    }
    T_TRUE(wait_count(id, 0, GETNCNT, 1), "a sleeper");
    T_OK(semctl(id, 0, IPC_RMID), "IPC_RMID");
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the sleeper got EIDRM");

    /* A signal interrupts semop with EINTR, even with SA_RESTART. */
    id = T_OK(semget(IPC_PRIVATE, 1, 0600), "semget");
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    T_ERRNO(op(id, 0, -1, 0), EINTR, "interrupted by a handled signal: EINTR");
    T_OK(semctl(id, 0, IPC_RMID), "remove");
}

static void test_undo(void)
{
    int id = T_OK(semget(IPC_PRIVATE, 2, 0600), "semget");
    T_OK(semctl(id, 0, SETVAL, (union semun){.val = 5}), "SETVAL 5");
    pid_t c = fork();
    if (c == 0) {
        int ok = op(id, 0, -2, SEM_UNDO) == 0 && op(id, 1, 3, SEM_UNDO) == 0 &&
                 op(id, 1, -1, SEM_UNDO) == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's SEM_UNDO operations");
    T_EQ(semctl(id, 0, GETVAL), 5, "undone at exit: back to 5");
    T_EQ(semctl(id, 1, GETVAL), 0, "undone at exit: back to 0");
    T_EQ(semctl(id, 0, GETPID), c, "sempid is the exiting process");

    /* SETVAL clears pending adjustments. */
    c = fork();
    if (c == 0) {
        if (op(id, 0, -1, SEM_UNDO) != 0)
            _exit(1);
        if (semctl(id, 0, SETVAL, (union semun){.val = 10}) != 0)
            _exit(2);
        _exit(0);
    }
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child changes it with SETVAL");
    T_EQ(semctl(id, 0, GETVAL), 10, "SETVAL cleared the adjustment");

    /* Undo clamps at 0. */
    c = fork();
    if (c == 0) {
        if (op(id, 1, 2, SEM_UNDO) != 0)
            _exit(1);
        struct sembuf b = {1, -2, 0};
        _exit(semop(id, &b, 1) == 0 ? 0 : 2);
    }
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child posts with SEM_UNDO and takes without");
    T_EQ(semctl(id, 1, GETVAL), 0, "the undo of -2 stops at 0");
    T_OK(semctl(id, 0, IPC_RMID), "remove");
}

/* A mutex made of a semaphore guards a counter in a SysV shared memory
 * segment that 4 processes increment 1000 times each. */
static void test_contention(void)
{
    int sem = T_OK(semget(IPC_PRIVATE, 1, 0600), "semget");
    int shm = T_OK(shmget(IPC_PRIVATE, 4096, 0600), "shmget");
    volatile long *counter = shmat(shm, NULL, 0);
    T_TRUE(counter != (void *)-1, "shmat");
    T_OK(semctl(sem, 0, SETVAL, (union semun){.val = 1}), "SETVAL 1 (unlocked)");
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (int i = 0; i < 1000; i++) {
                if (op(sem, 0, -1, SEM_UNDO) != 0)
                    _exit(1);
                long v = *counter;
                if (i % 64 == 0)
                    sched_yield();
                *counter = v + 1;
                if (op(sem, 0, 1, SEM_UNDO) != 0)
                    _exit(2);
            }
            _exit(0);
        }
    }
    int ok = 1;
    for (int k = 0; k < 4; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    T_TRUE(ok, "every process finished its increments");
    T_EQ(*counter, 4000, "no increment was lost");
    T_EQ(semctl(sem, 0, GETVAL), 1, "the mutex is free (the undos balanced)");
    shmdt((void *)counter);
    shmctl(shm, IPC_RMID, NULL);
    semctl(sem, 0, IPC_RMID);
}

int main(void)
{
    tap_init("sysv_sem");
    test_basic();
    test_blocking();
    test_undo();
    test_contention();
    return tap_done();
}
