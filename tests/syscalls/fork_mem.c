/*
 * fork_mem: a forked child's private memory is a snapshot of the parent's,
 * isolated both ways, for every kind of private memory (globals, stack,
 * heap, anonymous mappings, small and past the size moat copies at fork
 * time), after several forks in a row, from a grandchild, and with another
 * thread running in the parent; MAP_SHARED stays shared, MADV_WIPEONFORK
 * reads zeros.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <time.h>

#include "tap.h"

#define BIG (1u << 20) /* past what moat copies at fork time */

static volatile int g_data = 1;  /* .data */
static volatile int g_bss;       /* .bss */
static volatile char *g_heap;    /* malloc'd, small */
static volatile char *g_anon;    /* one private anonymous page */
static volatile char *g_big;     /* BIG bytes, every page touched */
static volatile int *g_shared;   /* MAP_SHARED anonymous */
static volatile char *g_wipe;    /* MADV_WIPEONFORK */

/* Child side: checks it sees the fork-time values (A for the parent's
 * memory), waits for the parent to write its own values, checks they did
 * not reach it, writes new ones and exits with a bit per mismatch. */
static int child_check(volatile int *stack, int a, int rfd, int wfd)
{
    int bad = 0;
    if (g_data != a || g_bss != a || *stack != a || g_heap[0] != (char)a ||
        g_anon[100] != (char)a || g_big[0] != (char)a || g_big[BIG - 1] != (char)a)
        bad |= 1;
    if (g_wipe[0] != 0)
        bad |= 2;
    char c = 'c';
    if (write(wfd, &c, 1) != 1 || read(rfd, &c, 1) != 1) /* the parent writes now */
        bad |= 4;
    if (g_data != a || g_bss != a || *stack != a || g_heap[0] != (char)a ||
        g_anon[100] != (char)a || g_big[BIG / 2] != (char)a)
        bad |= 8;
    /* Our writes stay ours. */
    g_data = g_bss = *stack = 100;
    g_heap[0] = g_anon[100] = g_big[0] = 100;
    *g_shared = a + 1000;
    return bad;
}

static void set_all(volatile int *stack, int v)
{
    g_data = g_bss = *stack = v;
    g_heap[0] = g_anon[100] = (char)v;
    for (unsigned i = 0; i < BIG; i += 4096)
        g_big[i] = (char)v;
    g_big[BIG - 1] = (char)v;
    g_wipe[0] = (char)v;
}

/* One fork: the child checks (above); the parent writes new values while
 * the child waits, then checks the child's writes did not reach it and the
 * shared page did. Returns the child's status bits, or -1. */
static int fork_round(volatile int *stack, int a)
{
    int p2c[2], c2p[2];
    if (pipe(p2c) < 0 || pipe(c2p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(child_check(stack, a, p2c[0], c2p[1]));
    char c;
    if (read(c2p[0], &c, 1) != 1)
        return -1;
    set_all(stack, a + 1);
    if (write(p2c[1], &c, 1) != 1)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    int bad = WEXITSTATUS(st);
    if (g_data != a + 1 || g_bss != a + 1 || *stack != a + 1 || g_heap[0] != (char)(a + 1) ||
        g_anon[100] != (char)(a + 1) || g_big[0] != (char)(a + 1))
        bad |= 16;
    if (*g_shared != a + 1000)
        bad |= 32;
    close(p2c[0]);
    close(p2c[1]);
    close(c2p[0]);
    close(c2p[1]);
    return bad;
}

static volatile int g_spin_stop;
static volatile unsigned long g_spins;

static void *spinner(void *arg)
{
    (void)arg;
    while (!g_spin_stop)
        g_spins++;
    return NULL;
}

int main(void)
{
    tap_init("fork_mem");
    volatile int stack = 0;
    g_heap = malloc(64);
    g_anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    g_wipe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!g_heap || g_anon == MAP_FAILED || g_big == MAP_FAILED || g_shared == MAP_FAILED ||
        g_wipe == MAP_FAILED) {
        T_OK(-1, "set-up mappings");
        return tap_done();
    }
    T_OK(madvise((void *)g_wipe, 4096, MADV_WIPEONFORK), "madvise WIPEONFORK");

    set_all(&stack, 1);
    T_EQ(fork_round(&stack, 1), 0, "first fork: both sides keep their own memory");
    int bad = 0;
    for (int i = 2; i < 22; i++) {
        /* In a loop: the second and later forks start from pages moat
         * may have handled differently on the first. */
        set_all(&stack, i * 2);
        int r = fork_round(&stack, i * 2);
        if (r != 0 && bad == 0)
            bad = r;
    }
    T_EQ(bad, 0, "20 forks in a row: isolated each time");

    /* A grandchild forked by a child (whose memory came from a fork). */
    set_all(&stack, 60);
    pid_t pid = fork();
    if (pid == 0) {
        set_all(&stack, 70);
        int r = fork_round(&stack, 70);
        _exit(r < 0 ? 255 : r | (g_data == 71 ? 0 : 64));
    }
    int st = -1;
    T_EQ(waitpid(pid, &st, 0), pid, "waitpid the middle child");
    T_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0, "grandchild and child isolated");
    T_EQ(g_data + g_bss + stack + g_heap[0] + g_anon[100] + g_big[0], 6 * 60,
         "the parent keeps its values across a grandchild's fork");

    /* Another thread runs (and writes) while the parent forks. */
    pthread_t th;
    T_EQ(pthread_create(&th, NULL, spinner, NULL), 0, "pthread_create a writer");
    /* Running before the fork (a loaded machine may start it late). */
    for (int k = 0; k < 5000 && g_spins == 0; k++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    set_all(&stack, 80);
    T_EQ(fork_round(&stack, 80), 0, "fork with another thread running: isolated");
    g_spin_stop = 1;
    T_EQ(pthread_join(th, NULL), 0, "join the writer");
    T_EQ(g_spins > 0, 1, "the writer ran");
    return tap_done();
}
