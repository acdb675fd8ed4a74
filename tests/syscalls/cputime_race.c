/*
 * CPU-time readers racing with exiting threads and processes.
 *
 * getrusage, times, CLOCK_PROCESS_CPUTIME_ID and /proc/PID/stat sum the CPU
 * time of every thread of a process, while other threads of it (and other
 * processes) come and go. moat's kernel once read an exiting thread's
 * platform context after the thread had freed it: a process that read its
 * own CPU time while its threads exited crashed the whole sandbox.
 *
 * The probe only checks that the readers get sane, monotonic answers for a
 * bounded time and that the process survives.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

#define RUN_NS 700000000LL /* per phase */

static volatile bool g_stop;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *short_lived(void *arg)
{
    volatile unsigned long x = 0;
    for (int i = 0; i < 2000; i++)
        x += (unsigned long)i;
    return arg;
}

/* Creates and joins short threads until told to stop. */
static void *churn(void *arg)
{
    (void)arg;
    while (!g_stop) {
        pthread_t t;
        if (pthread_create(&t, NULL, short_lived, NULL) == 0)
            pthread_join(t, NULL);
    }
    return NULL;
}

static long long process_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
        return -1;
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reads the utime+stime fields (14, 15) of /proc/PID/stat; -1 on error. */
static long long proc_stat_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (tap_read_file(path, buf, sizeof(buf)) < 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut, st;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* Checks reading V (-1: failed) against *LAST, which must never decrease. */
static void advance(long long v, long long *last, bool *ok, bool *mono)
{
    if (v < 0)
        *ok = false;
    else if (v < *last)
        *mono = false;
    else
        *last = v;
}

int main(void)
{
    tap_init("cputime_race");

    /* Phase 1: this process's own threads exit while it reads its time. */
    pthread_t workers[3];
    int started = 0;
    for (int i = 0; i < 3; i++)
        if (pthread_create(&workers[i], NULL, churn, NULL) == 0)
            started++;
    T_EQ(started, 3, "churning threads start");
    long long end = now_ns() + RUN_NS, last_cpu = 0, last_ticks = 0;
    bool mono = true, ok = true;
    while (now_ns() < end) {
        struct rusage ru;
        struct tms tm;
        if (getrusage(RUSAGE_SELF, &ru) < 0 || times(&tm) == (clock_t)-1)
            ok = false;
        advance(process_cpu_ns(), &last_cpu, &ok, &mono);
        advance(proc_stat_ticks(getpid()), &last_ticks, &ok, &mono);
    }
    g_stop = true;
    for (int i = 0; i < started; i++)
        pthread_join(workers[i], NULL);
    T_EQ(ok, true, "getrusage, times, CLOCK_PROCESS_CPUTIME_ID and /proc/self/stat answer");
    T_EQ(mono, true, "the process's CPU time never goes back");

    /* Phase 2: a child process forks short-lived children (each exits as
     * it is read) while the parent reads their /proc/PID/stat. */
    pid_t child = fork();
    if (child == 0) {
        long long cend = now_ns() + RUN_NS;
        while (now_ns() < cend) {
            pid_t g = fork();
            if (g == 0) {
                short_lived(NULL);
                _exit(0);
            }
            if (g > 0)
                waitpid(g, NULL, 0);
        }
        _exit(0);
    }
    T_OK(child, "fork");
    int reads = 0;
    end = now_ns() + RUN_NS;
    while (now_ns() < end) {
        /* The grandchildren's pids are unknown: read every process of the
         * child's session from /proc, as ps does. */
        DIR *d = opendir("/proc");
        if (!d)
            break;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] < '1' || e->d_name[0] > '9')
                continue;
            if (proc_stat_ticks((pid_t)atoi(e->d_name)) >= 0)
                reads++;
        }
        closedir(d);
    }
    int status = -1;
    T_EQ(waitpid(child, &status, 0), child, "waitpid");
    T_EQ(WIFEXITED(status) && WEXITSTATUS(status) == 0, 1, "the forking child exits 0");
    T_EQ(reads > 0, 1, "/proc/PID/stat of live processes reads");
    return tap_done();
}
