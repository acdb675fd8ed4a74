/*
 * Threads: pthread create/join, 200 threads contending on one mutex and
 * condition variable, thread-local storage, gettid per thread, a signal to
 * one thread (pthread_kill), exit of a non-main thread, fork and exec from
 * a threaded process, and futex timeouts.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#define NTHREADS 200
#define ROUNDS   50

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static long g_counter;
static int g_turn;
static __thread int t_local = 7;

static void *contend(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&g_lock);
        g_counter++;
        pthread_mutex_unlock(&g_lock);
    }
    t_local = (int)id;
    return (void *)(long)(t_local == (int)id);
}

/* Threads take turns in order through one condition variable. */
static void *relay(void *arg)
{
    int me = (int)(long)arg;
    pthread_mutex_lock(&g_lock);
    while (g_turn != me)
        pthread_cond_wait(&g_cond, &g_lock);
    g_turn++;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

static void *report_tid(void *arg)
{
    *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
    return NULL;
}

static volatile sig_atomic_t g_got_usr1;
static pid_t g_usr1_tid;

static void on_usr1(int sig)
{
    g_got_usr1 = 1;
    g_usr1_tid = (pid_t)syscall(SYS_gettid);
}

static void *wait_for_usr1(void *arg)
{
    *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
    while (!g_got_usr1)
        usleep(1000);
    return NULL;
}

static void *exit_early(void *arg)
{
    pthread_exit((void *)42);
}

static void *forker(void *arg)
{
    pid_t p = fork();
    if (p == 0) {
        execl("/bin/busybox", "true", (char *)NULL);
        _exit(127);
    }
    int st = -1;
    waitpid(p, &st, 0);
    return (void *)(long)(WIFEXITED(st) ? WEXITSTATUS(st) : 128);
}

int main(void)
{
    tap_init("threads");
    pthread_t th[NTHREADS];
    int created = 0;
    for (long i = 0; i < NTHREADS; i++)
        if (pthread_create(&th[i], NULL, contend, (void *)i) == 0)
            created++;
    T_EQ(created, NTHREADS, "200 threads created");
    int tls_ok = 0;
    for (int i = 0; i < created; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        tls_ok += (int)(long)ret;
    }
    T_EQ(g_counter, (long)NTHREADS * ROUNDS, "mutex: no lost increments");
    T_EQ(tls_ok, NTHREADS, "each thread has its own TLS");
    T_EQ(t_local, 7, "the main thread's TLS is untouched");

    g_turn = 0;
    for (long i = 0; i < 32; i++)
        pthread_create(&th[i], NULL, relay, (void *)(31 - i));
    for (int i = 0; i < 32; i++)
        pthread_join(th[i], NULL);
    T_EQ(g_turn, 32, "condition variable relay in order");

    pid_t tid = 0;
    pthread_create(&th[0], NULL, report_tid, &tid);
    pthread_join(th[0], NULL);
    T_TRUE(tid > 0 && tid != getpid(), "a thread has its own tid");

    signal(SIGUSR1, on_usr1);
    pid_t wtid = 0;
    pthread_create(&th[0], NULL, wait_for_usr1, &wtid);
    while (!wtid)
        usleep(1000);
    T_EQ(pthread_kill(th[0], SIGUSR1), 0, "pthread_kill");
    pthread_join(th[0], NULL);
    T_TRUE(g_got_usr1, "the signal was handled");
    T_EQ(g_usr1_tid, wtid, "by the thread it was sent to");

    void *ret = NULL;
    pthread_create(&th[0], NULL, exit_early, NULL);
    pthread_join(th[0], &ret);
    T_EQ((long)ret, 42L, "pthread_exit value reaches join");

    ret = NULL;
    pthread_create(&th[0], NULL, forker, NULL);
    pthread_join(th[0], &ret);
    T_EQ((long)ret, 0L, "fork+exec+wait from a thread");

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&g_lock);
    int r = pthread_cond_timedwait(&g_cond, &g_lock, &ts);
    pthread_mutex_unlock(&g_lock);
    T_EQ(r, ETIMEDOUT, "cond_timedwait times out");
    return tap_done();
}
