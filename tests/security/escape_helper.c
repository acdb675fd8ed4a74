/*
 * Runs inside `moat do --root=DIR` and tries to reach files outside DIR.
 * Prints one line per attempt: "NAME: <errno name>" or "NAME: read <data>";
 * test_escape.py checks that the secret never shows up. ARGV[1] is the
 * secret file's host path (which must mean nothing inside the sandbox).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, int fd)
{
    if (fd < 0) {
        printf("%s: %s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
        return;
    }
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    printf("%s: read %s\n", name, buf);
    close(fd);
}

static void try_open(const char *name, const char *path)
{
    report(name, open(path, O_RDONLY));
}

struct open_how_l {
    unsigned long long flags, mode, resolve;
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *host_secret = argc > 1 ? argv[1] : "/nonexistent";
    try_open("inside control", "/inside");
    try_open("absolute host path", host_secret);
    try_open("dotdot from root", "/../secret");
    try_open("many dotdots", "/../../../../../../secret");
    try_open("relative dotdots", "../../../secret");
    chdir("/");
    for (int i = 0; i < 10; i++)
        chdir("..");
    try_open("chdir dotdot", "secret");
    char cwd[256] = "";
    printf("cwd after chdir dotdot: %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");

    mkdir("/tmp", 0777);
    symlink("/../secret", "/tmp/abs");
    try_open("absolute symlink", "/tmp/abs");
    symlink("../../../../secret", "/tmp/rel");
    try_open("relative symlink", "/tmp/rel");
    symlink("/..", "/tmp/updir");
    try_open("symlink to dotdot dir", "/tmp/updir/secret");
    symlink(host_secret, "/tmp/hostpath");
    try_open("symlink to host path", "/tmp/hostpath");

    try_open("proc self root", "/proc/self/root/../secret");
    try_open("proc 1 root", "/proc/1/root/../../secret");
    try_open("proc self cwd", "/proc/self/cwd/../secret");
    try_open("proc 1 cwd", "/proc/1/cwd/../../secret");
    int rootfd = open("/", O_PATH | O_DIRECTORY);
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d/../secret", rootfd);
    try_open("proc fd dotdot", p);
    report("openat root fd dotdot", openat(rootfd, "../secret", O_RDONLY));

    struct open_how_l how = {.flags = O_RDONLY, .resolve = 0x10 /* RESOLVE_IN_ROOT */};
    report("openat2 in_root", (int)syscall(SYS_openat2, rootfd, "../secret", &how, sizeof(how)));
    how.resolve = 0x08; /* RESOLVE_BENEATH */
    report("openat2 beneath", (int)syscall(SYS_openat2, rootfd, "../secret", &how, sizeof(how)));
    how.resolve = 0;
    report("openat2 plain", (int)syscall(SYS_openat2, rootfd, "/../secret", &how, sizeof(how)));

    /* A directory moved while we stand in it: ".." must still stop at /. */
    mkdir("/tmp/a", 0777);
    mkdir("/tmp/a/b", 0777);
    chdir("/tmp/a/b");
    rename("/tmp/a", "/tmp/z");
    try_open("rename race dotdots", "../../../../../secret");

    link("/../secret", "/tmp/hard");
    try_open("hard link via dotdot", "/tmp/hard");
    link(host_secret, "/tmp/hard2");
    try_open("hard link via host path", "/tmp/hard2");
    printf("done\n");
    return 0;
}
