/*
 * Probe: execve of ELF programs and #! scripts: the interpreter line split
 * as Linux does (interpreter, one optional argument with its inner spaces,
 * the script path, then the caller's arguments), nested scripts, E2BIG for
 * an over-long argument, ENOEXEC, a randomised layout (ASLR) and a
 * non-executable stack (PT_GNU_STACK).
 *
 * The probe re-executes itself (argv[0], an absolute path under
 * run_probe.py): with any argument it is a child that prints its arguments
 * (or, with "layout", its layout) and never runs the tests.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "tap.h"

/* As a child: writes its arguments, one per line, to fd 1. */
static int print_args(int argc, char **argv)
{
    char buf[4096];
    size_t n = 0;
    for (int i = 1; i < argc && n < sizeof(buf) - 256; i++) {
        /* The script path is the probe's temp dir: print only its base name. */
        const char *a = argv[i];
        const char *slash = strrchr(a, '/');
        if (slash && strstr(a, "/moat-probe-"))
            a = slash + 1;
        int w = strlen(a) > 64 ? snprintf(buf + n, sizeof(buf) - n, "[%zu bytes]", strlen(a))
                               : snprintf(buf + n, sizeof(buf) - n, "[%s]", a);
        if (w < 0 || (size_t)w >= sizeof(buf) - n)
            break;
        n += w;
    }
    buf[n++] = '\n';
    return write(1, buf, n) == (ssize_t)n ? 0 : 1;
}

/* As a child: writes the address of a fresh mapping and of a stack
 * variable, and whether the stack is executable. */
static int print_layout(void)
{
    char line[512], buf[256];
    int x = 0;
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int exec_stack = -1;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strstr(line, "[stack]"))
            exec_stack = line[strcspn(line, " ") + 3] == 'x';
    if (f)
        fclose(f);
    int n = snprintf(buf, sizeof(buf), "%p %p %d\n", m, (void *)&x, exec_stack);
    return write(1, buf, n) == n ? 0 : 1;
}

/* Runs PATH with ARGV (and an empty environment), capturing its stdout
 * into OUT. Returns the exit status, or -errno if execve failed. */
static int run(const char *path, char *const argv[], char *out, size_t size)
{
    int fds[2], errp[2];
    if (pipe(fds) != 0 || pipe2(errp, O_CLOEXEC) != 0)
        return -EIO;
    pid_t pid = fork();
    if (pid == 0) {
        char *envp[] = {NULL};
        dup2(fds[1], 1);
        syscall(SYS_execve, path, argv, envp);
        int e = errno;
        (void)!write(errp[1], &e, sizeof(e));
        _exit(127);
    }
    close(fds[1]);
    close(errp[1]);
    size_t n = 0;
    ssize_t r;
    while (n < size - 1 && (r = read(fds[0], out + n, size - 1 - n)) > 0)
        n += r;
    out[n] = 0;
    int e = 0;
    int got = read(errp[0], &e, sizeof(e));
    close(fds[0]);
    close(errp[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (got == sizeof(e))
        return -e;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int make_script(const char *name, const char *text)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, text, strlen(text));
    close(fd);
    return w == (ssize_t)strlen(text) ? 0 : -1;
}

static void test_scripts(const char *self)
{
    char text[512], out[4096], path[512];
    if (!getcwd(path, sizeof(path) - 16))
        tap_bail("getcwd");
    strcat(path, "/s1");

    snprintf(text, sizeof(text), "#!%s args\n", self);
    make_script("s1", text);
    char *a1[] = {(char *)"s1", (char *)"x", (char *)"y z", NULL};
    T_EQ(run(path, a1, out, sizeof(out)), 0, "a #! script runs its interpreter");
    T_STREQ(out, "[args][s1][x][y z]\n", "interpreter argument, script path, then the arguments");

    snprintf(text, sizeof(text), "#!  %s \t args   more  words \t \nignored\n", self);
    make_script("s1", text);
    T_EQ(run(path, a1, out, sizeof(out)), 0, "spaces and tabs around the #! line");
    T_STREQ(out, "[args   more  words][s1][x][y z]\n",
            "the rest of the line is one argument, trimmed at both ends");

    /* A script whose interpreter is a script: Linux nests. */
    snprintf(text, sizeof(text), "#!%s args outer\n", self);
    make_script("inner", text);
    char inner[512];
    snprintf(inner, sizeof(inner), "%.*s/inner", (int)(strlen(path) - 3), path);
    snprintf(text, sizeof(text), "#!%s second\n", inner);
    make_script("s1", text);
    T_EQ(run(path, a1, out, sizeof(out)), 0, "a script run by a script");
    T_STREQ(out, "[args outer][inner][second][s1][x][y z]\n", "nested arguments");

    make_script("s1", "#!\n");
    T_EQ(run(path, a1, out, sizeof(out)), -ENOEXEC, "#! with no interpreter: ENOEXEC");
    make_script("s1", "#!/nonexistent/interp\n");
    T_EQ(run(path, a1, out, sizeof(out)), -ENOENT, "a missing interpreter: ENOENT");
    make_script("s1", "\x7f" "ELFjunk");
    T_EQ(run(path, a1, out, sizeof(out)), -ENOEXEC, "a broken ELF header: ENOEXEC");
    make_script("s1", "plain text\n");
    T_EQ(run(path, a1, out, sizeof(out)), -ENOEXEC, "a text file without #!: ENOEXEC");
    chmod("s1", 0644);
    T_EQ(run(path, a1, out, sizeof(out)), -EACCES, "a file without exec permission: EACCES");
}

static void test_limits(const char *self)
{
    char out[256];
    size_t big = 200 * 1024; /* past MAX_ARG_STRLEN (32 pages) */
    char *s = malloc(big + 1);
    memset(s, 'a', big);
    s[big] = 0;
    char *a[] = {(char *)self, (char *)"args", s, NULL};
    T_EQ(run(self, a, out, sizeof(out)), -E2BIG, "one argument over 128 KiB: E2BIG");
    s[100 * 1024] = 0;
    T_EQ(run(self, a, out, sizeof(out)), 0, "one of 100 KiB works");
    T_STREQ(out, "[args][102400 bytes]\n", "and arrives whole");
    free(s);

    /* More than a quarter of the 8 MiB stack limit in total. */
    size_t n = 40;
    char **many = calloc(n + 3, sizeof(char *));
    char *chunk = malloc(64 * 1024);
    memset(chunk, 'b', 64 * 1024 - 1);
    chunk[64 * 1024 - 1] = 0;
    many[0] = (char *)self;
    many[1] = (char *)"args";
    for (size_t i = 0; i < n; i++)
        many[2 + i] = chunk;
    T_EQ(run(self, many, out, sizeof(out)), -E2BIG, "2.5 MiB of arguments: E2BIG");
    many[2 + 8] = NULL;
    T_EQ(run(self, many, out, sizeof(out)), 0, "512 KiB of arguments work");
    free(chunk);
    free(many);
}

static void test_layout(const char *self)
{
    char o1[256], o2[256];
    char *a[] = {(char *)self, (char *)"layout", NULL};
    T_EQ(run(self, a, o1, sizeof(o1)), 0, "run a child that reports its layout");
    T_EQ(run(self, a, o2, sizeof(o2)), 0, "and another");
    void *m1 = NULL, *m2 = NULL, *s1 = NULL, *s2 = NULL;
    int x1 = -2, x2 = -2;
    sscanf(o1, "%p %p %d", &m1, &s1, &x1);
    sscanf(o2, "%p %p %d", &m2, &s2, &x2);
    T_TRUE(m1 && m2 && m1 != m2, "mmap addresses differ between two execs (ASLR)");
    T_TRUE(s1 && s2 && s1 != s2, "stack addresses differ between two execs");
    T_TRUE(x1 == 0 && x2 == 0, "the stack is not executable (PT_GNU_STACK)");
}

int main(int argc, char **argv)
{
    /* With any argument this is a child: it never runs the tests again. */
    if (argc > 1)
        return strcmp(argv[1], "layout") == 0 ? print_layout() : print_args(argc, argv);
    tap_init("exec");
    if (argv[0][0] != '/')
        tap_bail("run me by an absolute path");
    test_scripts(argv[0]);
    test_limits(argv[0]);
    test_layout(argv[0]);
    return tap_done();
}
