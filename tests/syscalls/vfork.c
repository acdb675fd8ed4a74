/*
 * Probe: vfork and clone(CLONE_VM | CLONE_VFORK) share the parent's address
 * space until the child execs or exits, with the parent suspended: the
 * child's writes are seen by the parent; a child's execve leaves the
 * parent's memory intact. The probe re-executes itself (argv[0]).
 */
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include "tap.h"

static volatile int g_var;
static char g_buf[64];

static int child_fn(void *arg)
{
    (void)arg;
    g_var = 77; /* the parent cannot run until this child exits */
    strcpy(g_buf, "from the clone child");
    return 5;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0)
        return 3;
    if (argv[0][0] != '/')
        return 2;
    tap_init("vfork");

    g_var = 1;
    pid_t me = getpid();
    pid_t c = vfork();
    if (c == 0) {
        g_var = getpid() != me ? 42 : -1;
        _exit(0);
    }
    T_EQ(g_var, 42, "vfork: the child's write (in its own process) is seen by the parent");
    int st;
    T_EQ(waitpid(c, &st, 0), c, "waitpid the vfork child");
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "it exited 0");

    char local[32];
    strcpy(local, "parent stack intact");
    g_var = 1;
    c = vfork();
    if (c == 0) {
        g_var = 9; /* before exec: shared */
        char *args[] = {argv[0], (char *)"exec-child", NULL};
        execv(argv[0], args);
        _exit(127);
    }
    T_EQ(g_var, 9, "vfork+exec: the write before exec is seen");
    T_TRUE(strcmp(local, "parent stack intact") == 0, "the parent's stack is intact after the child's exec");
    T_EQ(waitpid(c, &st, 0), c, "waitpid the exec'd child");
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 3, "the exec'd image ran (status 3)");
    g_var = 2;
    T_EQ(g_var, 2, "the parent's memory still works");

    static char stack[65536] __attribute__((aligned(16)));
    g_var = 0;
    c = clone(child_fn, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
    T_TRUE(c > 0, "clone(CLONE_VM | CLONE_VFORK)");
    T_EQ(g_var, 77, "the clone child's write is seen as soon as clone returns");
    T_TRUE(strcmp(g_buf, "from the clone child") == 0, "and its string");
    T_EQ(waitpid(c, &st, 0), c, "waitpid the clone child");
    T_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 5, "its status 5");
    return tap_done();
}
