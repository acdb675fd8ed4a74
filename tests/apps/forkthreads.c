/*
 * Forks N short-lived children that make threads: threads that return and
 * are joined, a thread that forks, and threads still running app code when
 * the child calls _exit. Prints "done" when every child exited 0.
 *
 * It is the regression program for the systrap race of issue 8 (threads of
 * freshly forked processes hung or the kernel crashed when several
 * sandboxes ran it at once): a thread's context and its process's last
 * context were destroyed at the same time, and the address space was freed
 * under the thread still using it. test_concurrent.py runs it in several
 * sandboxes at once.
 *
 *     forkthreads [N]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int g_stop;

static void *spin(void *a)
{
    (void)a;
    while (!g_stop)
        syscall(SYS_getppid);
    return NULL;
}

static void *quick(void *a)
{
    (void)a;
    syscall(SYS_getppid);
    return NULL;
}

static void *forker(void *a)
{
    (void)a;
    pid_t c = fork();
    if (c == 0)
        _exit(3);
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st))
        return (void *)-1L;
    return (void *)(long)WEXITSTATUS(st);
}

static int child(int i)
{
    pthread_t t[3];
    for (int j = 0; j < 2; j++)
        if (pthread_create(&t[j], NULL, quick, NULL) != 0)
            return 4;
    for (int j = 0; j < 2; j++)
        pthread_join(t[j], NULL);
    void *r;
    if (pthread_create(&t[0], NULL, forker, NULL) != 0)
        return 5;
    pthread_join(t[0], &r);
    if ((long)r != 3)
        return 6;
    for (int j = 0; j < 3; j++)
        if (pthread_create(&t[j], NULL, spin, NULL) != 0)
            return 7;
    if (i & 1) {
        g_stop = 1;
        for (int j = 0; j < 3; j++)
            pthread_join(t[j], NULL);
    }
    return 0; /* even i: the threads are still running */
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20;
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0) {
            perror("fork");
            return 1;
        }
        if (c == 0)
            _exit(child(i));
        int st;
        if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("child %d: status %#x\n", i, st);
            return 1;
        }
    }
    printf("done\n");
    return 0;
}
