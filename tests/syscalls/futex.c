/*
 * Probe: futex operations: WAIT/WAKE (private and shared across processes
 * through a MAP_SHARED mapping), value mismatch, timeouts (relative, and
 * absolute on both clocks with WAIT_BITSET), REQUEUE, CMP_REQUEUE,
 * WAKE_OP, WAIT_BITSET/WAKE_BITSET masks, LOCK_PI/UNLOCK_PI/TRYLOCK_PI,
 * robust-list clean-up when an owner thread dies or execs, CLONE_CHILD_CLEARTID
 * wake-up (pthread_join), and argument errors. Keys: shared futexes in a
 * memfd or file mapped at different addresses in two processes meet,
 * private ones (and private memory at one address) do not.
 * get_robust_list of another thread or process (ptrace read access).
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

static long fx(uint32_t *uaddr, int op, uint32_t val, const void *timeout, uint32_t *uaddr2,
               uint32_t val3)
{
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

static void ms_sleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint32_t g_word, g_word2;
static volatile int g_woken;

static void *waiter(void *arg)
{
    int op = (int)(intptr_t)arg;
    long r = fx(&g_word, op, 0, NULL, NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == 0)
        __atomic_add_fetch(&g_woken, 1, __ATOMIC_SEQ_CST);
    return (void *)r;
}

static void *bitset_waiter(void *arg)
{
    uint32_t mask = (uint32_t)(uintptr_t)arg;
    long r = fx(&g_word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, mask);
    if (r == 0)
        __atomic_add_fetch(&g_woken, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Waits until N threads sleep on the futex (by waking none until then is
 * not observable): a pause long enough for them to get there. */
static void settle(void)
{
    ms_sleep(100);
}

static void test_wait_wake(void)
{
    g_word = 1;
    T_ERRNO(fx(&g_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EAGAIN, "WAIT with a changed value: EAGAIN");
    struct timespec to = {0, 20000000};
    g_word = 0;
    T_ERRNO(fx(&g_word, FUTEX_WAIT_PRIVATE, 0, &to, NULL, 0), ETIMEDOUT, "WAIT relative timeout: ETIMEDOUT");
    T_EQ(fx(&g_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0, "WAKE with no waiter: 0");
    T_ERRNO(fx((uint32_t *)BAD_PTR, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EFAULT, "WAIT on a bad address: EFAULT");
    T_ERRNO(fx((uint32_t *)((char *)&g_word + 1), FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EINVAL,
            "WAIT on an unaligned address: EINVAL");
    T_ERRNO(fx(&g_word, 99, 0, NULL, NULL, 0), ENOSYS, "unknown op: ENOSYS");
    to.tv_nsec = 1000000000;
    T_ERRNO(fx(&g_word, FUTEX_WAIT_PRIVATE, 0, &to, NULL, 0), EINVAL, "WAIT with tv_nsec 1e9: EINVAL");

    pthread_t th[3];
    g_woken = 0;
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, waiter, (void *)(intptr_t)FUTEX_WAIT_PRIVATE);
    settle();
    T_EQ(fx(&g_word, FUTEX_WAKE_PRIVATE, 2, NULL, NULL, 0), 2, "WAKE 2 of 3 waiters: 2");
    ms_sleep(50);
    T_EQ(g_woken, 2, "two woke");
    T_EQ(fx(&g_word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0), 1, "WAKE all: the last one");
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    T_EQ(g_woken, 3, "all three woke with 0");
}

static void test_abs_timeouts(void)
{
    g_word = 0;
    struct timespec now, dl;
    clock_gettime(CLOCK_MONOTONIC, &now);
    dl = now;
    dl.tv_nsec += 30000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    T_ERRNO(fx(&g_word, FUTEX_WAIT_BITSET_PRIVATE, 0, &dl, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT,
            "WAIT_BITSET absolute CLOCK_MONOTONIC deadline: ETIMEDOUT");
    struct timespec after;
    clock_gettime(CLOCK_MONOTONIC, &after);
    T_TRUE(after.tv_sec > dl.tv_sec || (after.tv_sec == dl.tv_sec && after.tv_nsec >= dl.tv_nsec),
           "not before the deadline");
    clock_gettime(CLOCK_REALTIME, &now);
    dl = now;
    dl.tv_nsec += 30000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    T_ERRNO(fx(&g_word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &dl, NULL,
               FUTEX_BITSET_MATCH_ANY),
            ETIMEDOUT, "WAIT_BITSET | CLOCK_REALTIME absolute deadline: ETIMEDOUT");
    dl.tv_sec -= 10;
    T_ERRNO(fx(&g_word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &dl, NULL,
               FUTEX_BITSET_MATCH_ANY), ETIMEDOUT,
            "a deadline in the past: ETIMEDOUT at once");
    T_ERRNO(fx(&g_word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0), EINVAL, "WAIT_BITSET with mask 0: EINVAL");
}

static void test_bitset(void)
{
    g_word = 0;
    g_woken = 0;
    pthread_t a, b;
    pthread_create(&a, NULL, bitset_waiter, (void *)(uintptr_t)0x1);
    pthread_create(&b, NULL, bitset_waiter, (void *)(uintptr_t)0x2);
    settle();
    T_EQ(fx(&g_word, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 0x4), 0, "WAKE_BITSET with a disjoint mask: 0");
    T_EQ(fx(&g_word, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 0x2), 1, "WAKE_BITSET mask 2 wakes one");
    T_EQ(fx(&g_word, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0), 1, "plain WAKE wakes the other");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    T_EQ(g_woken, 2, "both woke");
}

static void test_requeue(void)
{
    g_word = 0;
    g_word2 = 0;
    g_woken = 0;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, waiter, (void *)(intptr_t)FUTEX_WAIT_PRIVATE);
    settle();
    T_EQ(fx(&g_word, FUTEX_REQUEUE_PRIVATE, 1, (void *)1, &g_word2, 0), 2,
         "REQUEUE: wakes 1, moves 1 (returns 2)");
    T_ERRNO(fx(&g_word, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)1, &g_word2, 5), EAGAIN,
            "CMP_REQUEUE with a wrong value: EAGAIN");
    T_EQ(fx(&g_word, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)10, &g_word2, 0), 2,
         "CMP_REQUEUE: moves the remaining 2");
    T_EQ(fx(&g_word, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0), 0, "nobody left on the first word");
    T_EQ(fx(&g_word2, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0), 3, "three on the second word");
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    T_EQ(g_woken, 4, "all four woke");
    T_ERRNO(fx(&g_word, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)-1L, &g_word2, 0), EINVAL,
            "CMP_REQUEUE with a negative count: EINVAL");
}

static void *waiter2(void *arg)
{
    long r = fx(&g_word2, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    if (r == 0)
        __atomic_add_fetch(&g_woken, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_wake_op(void)
{
    g_word = 0;
    g_word2 = 0;
    g_woken = 0;
    pthread_t a, b;
    pthread_create(&a, NULL, waiter, (void *)(intptr_t)FUTEX_WAIT_PRIVATE);
    pthread_create(&b, NULL, waiter2, NULL);
    settle();
    /* *uaddr2 = 5 (SET); wake uaddr2's waiters too if the old value == 0. */
    uint32_t op = FUTEX_OP(FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 0);
    T_EQ(fx(&g_word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &g_word2, op), 2,
         "WAKE_OP: one on each word");
    T_EQ(g_word2, 5, "WAKE_OP stored its operand");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    op = FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_GT, 100);
    T_EQ(fx(&g_word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &g_word2, op), 0, "WAKE_OP, comparison false");
    T_EQ(g_word2, 8, "ADD applied");
    op = FUTEX_OP(FUTEX_OP_OR, 0x10, FUTEX_OP_CMP_NE, 0);
    fx(&g_word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &g_word2, op);
    T_EQ(g_word2, 0x18, "OR applied");
    op = FUTEX_OP(FUTEX_OP_ANDN, 0x8, FUTEX_OP_CMP_NE, 0);
    fx(&g_word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &g_word2, op);
    T_EQ(g_word2, 0x10, "ANDN applied");
    op = FUTEX_OP(FUTEX_OP_XOR, 0x11, FUTEX_OP_CMP_NE, 0);
    fx(&g_word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &g_word2, op);
    T_EQ(g_word2, 0x1, "XOR applied");
    op = FUTEX_OP(FUTEX_OP_SET, 4, FUTEX_OP_CMP_EQ, 0) | (FUTEX_OP_OPARG_SHIFT << 28);
    fx(&g_word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &g_word2, op);
    T_EQ(g_word2, 16, "OPARG_SHIFT: 1 << 4");
    T_ERRNO(fx(&g_word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, (uint32_t *)BAD_PTR, 0), EFAULT,
            "WAKE_OP on a bad second address: EFAULT");
}

static void test_shared(void)
{
    uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    T_TRUE(w != MAP_FAILED, "a shared mapping");
    *w = 0;
    pid_t c = fork();
    if (c == 0) {
        long r = fx(w, FUTEX_WAIT, 0, NULL, NULL, 0);
        _exit(r == 0 && *w == 1 ? 0 : 1);
    }
    ms_sleep(150);
    *w = 1;
    long n = 0;
    for (int i = 0; i < 50 && n == 0; i++) {
        n = fx(w, FUTEX_WAKE, 1, NULL, NULL, 0);
        if (!n)
            ms_sleep(20);
    }
    T_EQ(n, 1, "a shared WAKE reaches a waiter in another process");
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the other process woke");
    munmap(w, 4096);
}


/* Waits in a child on the word at offset 0 of memfd/file FD, mapped anew
 * there (at another address than the parent's map P); the parent wakes
 * through P. Returns the number woken. */
static long cross_wake(int fd, uint32_t *p, int child_op, int wake_op, int *child_errno)
{
    *p = 0;
    int pfd[2];
    if (pipe(pfd) < 0)
        return -100;
    pid_t c = fork();
    if (c == 0) {
        /* Map it again: a fresh address, never the parent's. */
        void *hole = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uint32_t *q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        (void)hole;
        char b = q != p ? 'y' : 'n';
        if (write(pfd[1], &b, 1) != 1)
            _exit(3);
        struct timespec to = {1, 0};
        long r = fx(q, child_op, 0, &to, NULL, 0);
        _exit(r == 0 ? 0 : errno == ETIMEDOUT ? 1 : 2);
    }
    close(pfd[1]);
    char b = 0;
    if (read(pfd[0], &b, 1) != 1 || b != 'y')
        tap_printf("# the child's mapping was not at another address\n");
    close(pfd[0]);
    ms_sleep(150);
    long n = fx(p, wake_op, 1, NULL, NULL, 0);
    int st;
    waitpid(c, &st, 0);
    *child_errno = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return n;
}

static void test_shared_keys(void)
{
    int st;
    /* A memfd, and a file on disk, mapped at different addresses in two
     * processes: a shared wake through one reaches a waiter on the other. */
    const char *kinds[] = {"memfd", "file"};
    for (int k = 0; k < 2; k++) {
        int fd = k == 0 ? memfd_create("fx", 0) : open("fxfile", O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || ftruncate(fd, 4096) < 0) {
            tap_result(0, "%s: created", kinds[k]);
            continue;
        }
        uint32_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        long n = cross_wake(fd, p, FUTEX_WAIT, FUTEX_WAKE, &st);
        tap_result(n == 1 && st == 0, "%s at two addresses: a shared wake reaches the other process", kinds[k]);
        /* A private wait keys on the waiter's address space: another
         * process's shared wake does not reach it. */
        n = cross_wake(fd, p, FUTEX_WAIT_PRIVATE, FUTEX_WAKE, &st);
        tap_result(n == 0 && st == 1, "%s: a private waiter is not woken by another process's shared wake", kinds[k]);
        /* A private wake does not reach a shared waiter in another process. */
        n = cross_wake(fd, p, FUTEX_WAIT, FUTEX_WAKE_PRIVATE, &st);
        tap_result(n == 0 && st == 1, "%s: another process's private wake does not reach a shared waiter", kinds[k]);
        munmap(p, 4096);
        close(fd);
        if (k == 1)
            unlink("fxfile");
    }

    /* The same address in two processes, private memory (copied at fork):
     * distinct futexes even for non-private operations. */
    uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *w = 0;
    pid_t c = fork();
    if (c == 0) {
        struct timespec to = {1, 0};
        long r = fx(w, FUTEX_WAIT, 0, &to, NULL, 0);
        _exit(r == 0 ? 0 : errno == ETIMEDOUT ? 1 : 2);
    }
    ms_sleep(150);
    long n = fx(w, FUTEX_WAKE, 1, NULL, NULL, 0);
    waitpid(c, &st, 0);
    T_TRUE(n == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
           "private memory at the same address in two processes: separate futexes");
    munmap(w, 4096);

    /* A shared anonymous mapping: a private wait and a shared wake in the
     * same process do not meet either; a shared wait does. */
    w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    *w = 0;
    T_EQ(fx(w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0, "no waiters: WAKE_PRIVATE wakes 0");
    munmap(w, 4096);
}

static void *robust_reader(void *arg)
{
    void *head = NULL;
    size_t len = 0;
    syscall(SYS_get_robust_list, 0, &head, &len);
    *(void **)arg = head;
    ms_sleep(300); /* stay alive while the main thread reads ours */
    return NULL;
}

static volatile pid_t g_reader_tid;

static void *robust_reader_tid(void *arg)
{
    g_reader_tid = (pid_t)syscall(SYS_gettid);
    return robust_reader(arg);
}

static void test_get_robust_other(void)
{
    void *head = NULL, *theirs = NULL;
    size_t len = 0;
    pthread_t th;
    g_reader_tid = 0;
    pthread_create(&th, NULL, robust_reader_tid, &theirs);
    while (!g_reader_tid || !theirs)
        ms_sleep(5);
    T_OK(syscall(SYS_get_robust_list, g_reader_tid, &head, &len), "get_robust_list of another thread");
    T_TRUE(head == theirs && len == 24, "it is the list that thread set");
    pthread_join(th, NULL);

    /* Another process of the same user. */
    int pfd[2], back[2];
    if (pipe(pfd) < 0 || pipe(back) < 0)
        tap_bail("pipe");
    pid_t c = fork();
    if (c == 0) {
        void *mine = NULL;
        size_t l;
        syscall(SYS_get_robust_list, 0, &mine, &l);
        char b;
        if (write(pfd[1], &mine, sizeof(mine)) != sizeof(mine) || read(back[0], &b, 1) != 1)
            _exit(1);
        /* Now as another user without capabilities: the parent (root) is
         * out of reach; our own list is not. */
        if (setresgid(54321, 54321, 54321) < 0 || setresuid(54321, 54321, 54321) < 0)
            _exit(2);
        void *h;
        int r1 = (int)syscall(SYS_get_robust_list, getppid(), &h, &l);
        int e1 = errno;
        int r2 = (int)syscall(SYS_get_robust_list, getpid(), &h, &l);
        if (write(pfd[1], &b, 1) != 1 || read(back[0], &b, 1) != 1)
            _exit(1);
        _exit(r1 == -1 && e1 == EPERM && r2 == 0 ? 0 : 3);
    }
    void *childs = NULL;
    if (read(pfd[0], &childs, sizeof(childs)) != sizeof(childs))
        tap_bail("read");
    T_OK(syscall(SYS_get_robust_list, c, &head, &len), "get_robust_list of a child process (same user)");
    T_TRUE(head == childs, "it is the child's list");
    char b = 'x';
    if (write(back[1], &b, 1) != 1 || read(pfd[0], &b, 1) != 1)
        tap_bail("pipe");
    T_OK(syscall(SYS_get_robust_list, c, &head, &len),
         "of a process of another user, with CAP_SYS_PTRACE");
    if (write(back[1], &b, 1) != 1)
        tap_bail("pipe");
    int st;
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "without CAP_SYS_PTRACE, another user's list: EPERM; one's own: fine");
    close(pfd[0]);
    close(pfd[1]);
    close(back[0]);
    close(back[1]);
    T_ERRNO(syscall(SYS_get_robust_list, 4000000, &head, &len), ESRCH, "no such thread: ESRCH");
    T_ERRNO(syscall(SYS_get_robust_list, 0, BAD_PTR, &len), EFAULT, "a bad head pointer: EFAULT");
    T_ERRNO(syscall(SYS_get_robust_list, 0, &head, BAD_PTR), EFAULT, "a bad length pointer: EFAULT");
}

static uint32_t g_pi;

static void *pi_locker(void *arg)
{
    long r = fx(&g_pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    uint32_t tid = (uint32_t)syscall(SYS_gettid);
    int ok = r == 0 && (g_pi & FUTEX_TID_MASK) == tid;
    fx(&g_pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    return (void *)(intptr_t)ok;
}

static void test_pi(void)
{
    uint32_t me = (uint32_t)syscall(SYS_gettid);
    g_pi = 0;
    T_OK(fx(&g_pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), "LOCK_PI on a free word");
    T_EQ(g_pi, me, "the word holds our tid");
    T_ERRNO(fx(&g_pi, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK, "LOCK_PI again: EDEADLK");
    T_ERRNO(fx(&g_pi, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK, "TRYLOCK_PI by the owner: EDEADLK");
    pthread_t th;
    pthread_create(&th, NULL, pi_locker, NULL);
    settle();
    T_TRUE(g_pi & FUTEX_WAITERS, "a waiter sets FUTEX_WAITERS");
    T_OK(fx(&g_pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), "UNLOCK_PI hands it over");
    void *ok;
    pthread_join(th, &ok);
    T_TRUE(ok != NULL, "the waiter got it with its tid in the word");
    T_EQ(g_pi, 0, "free again after its unlock");
    T_ERRNO(fx(&g_pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM, "UNLOCK_PI of a word we do not own: EPERM");
    T_OK(fx(&g_pi, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), "TRYLOCK_PI on a free word");
    T_EQ(g_pi, me, "TRYLOCK_PI took it");
    T_OK(fx(&g_pi, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), "UNLOCK_PI");
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 20000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    /* "Owned" by a tid that cannot exist (above PID_MAX_LIMIT, 4M): a small
     * one may be a live host thread when the probe runs natively. */
    g_pi = 0x3ff00000;
    long r = fx(&g_pi, FUTEX_LOCK_PI_PRIVATE, 0, &dl, NULL, 0);
    T_TRUE(r == -1 && (errno == ESRCH || errno == ETIMEDOUT), "LOCK_PI on a dead owner's word: ESRCH");
    g_pi = 0;
}

/* A robust mutex whose owner thread exits: the next locker gets EOWNERDEAD. */
static pthread_mutex_t g_robust;
static char *g_argv0;

static void *robust_owner(void *arg)
{
    pthread_mutex_lock(&g_robust);
    return NULL; /* exits holding it */
}

static void test_robust(void)
{
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&g_robust, &at);
    pthread_t th;
    pthread_create(&th, NULL, robust_owner, NULL);
    pthread_join(th, NULL);
    T_EQ(pthread_mutex_lock(&g_robust), EOWNERDEAD, "robust list: EOWNERDEAD after the owner died");
    T_EQ(pthread_mutex_consistent(&g_robust), 0, "made consistent");
    T_EQ(pthread_mutex_unlock(&g_robust), 0, "unlock");

    void *head;
    size_t len;
    T_OK(syscall(SYS_get_robust_list, 0, &head, &len), "get_robust_list");
    T_EQ(len, 24, "the head is 24 bytes");
    T_ERRNO(syscall(SYS_set_robust_list, head, 23), EINVAL, "set_robust_list with a bad size: EINVAL");
    T_OK(syscall(SYS_set_robust_list, head, 24), "set_robust_list");

    /* Across processes: a robust mutex in shared memory. */
    pthread_mutex_t *pm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(pm, &at);
    pid_t c = fork();
    if (c == 0) {
        pthread_mutex_lock(pm);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    T_EQ(pthread_mutex_lock(pm), EOWNERDEAD, "a process dying with a shared robust mutex: EOWNERDEAD");
    pthread_mutex_consistent(pm);
    pthread_mutex_unlock(pm);

    /* execve releases the caller's robust futexes too. */
    c = fork();
    if (c == 0) {
        pthread_mutex_lock(pm);
        char *args[] = {g_argv0, (char *)"exit-now", NULL};
        execv(g_argv0, args);
        _exit(127);
    }
    waitpid(c, &st, 0);
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child exec'd");
    T_EQ(pthread_mutex_lock(pm), EOWNERDEAD, "a robust mutex held across execve: EOWNERDEAD");
    pthread_mutex_consistent(pm);
    pthread_mutex_unlock(pm);
    munmap(pm, 4096);
}

static void *quick(void *arg)
{
    return arg;
}

static void test_cleartid(void)
{
    /* pthread_join sleeps on the thread's tid word, cleared and woken by
     * CLONE_CHILD_CLEARTID at exit. */
    int ok = 1;
    for (int i = 0; i < 50 && ok; i++) {
        pthread_t th;
        void *r = NULL;
        ok = pthread_create(&th, NULL, quick, (void *)(intptr_t)(i + 1)) == 0 &&
             pthread_join(th, &r) == 0 && r == (void *)(intptr_t)(i + 1);
    }
    T_TRUE(ok, "50 threads created and joined (CLONE_CHILD_CLEARTID wake-up)");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return 0; /* exec'd by test_robust */
    g_argv0 = argv[0];
    tap_init("futex");
    test_wait_wake();
    test_abs_timeouts();
    test_bitset();
    test_requeue();
    test_wake_op();
    test_shared();
    test_shared_keys();
    test_pi();
    test_robust();
    test_cleartid();
    test_get_robust_other();
    return tap_done();
}
