/*
 * Runs inside `moat do --root=DIR` and tries to reach files outside DIR.
 * Prints one line per attempt: "NAME: <errno name>" or "NAME: read <data>";
 * test_escape.py checks that the secret never shows up. ARGV[1] is the
 * secret file's host path (which must mean nothing inside the sandbox).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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

/* Moves /tmp/r/a/b out to /tmp/r/b and back until told to stop. */
static volatile int g_stop;
static void *mover(void *arg)
{
    (void)arg;
    while (!g_stop) {
        rename("/tmp/r/a/b", "/tmp/r/b");
        rename("/tmp/r/b", "/tmp/r/a/b");
    }
    return NULL;
}

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

    /* A bind mount's source directory moved out from under the mount
     * while we stand in it: on Linux ".." then climbs past the mount's
     * root; here it must still stop at /. */
    mkdir("/tmp/bm", 0777);
    mkdir("/tmp/bm/x", 0777);
    mkdir("/tmp/bm/x/y", 0777);
    mkdir("/tmp/mnt", 0777);
    if (mount("/tmp/bm/x", "/tmp/mnt", NULL, MS_BIND, NULL) < 0)
        printf("bind mount: %s\n", strerrorname_np(errno));
    chdir("/tmp/mnt/y");
    rename("/tmp/bm/x/y", "/tmp/bm/y");
    try_open("bind mount moved-out dotdots", "../../../../../../secret");
    int ydir = open(".", O_PATH | O_DIRECTORY);
    report("bind mount moved-out openat dotdots",
           openat(ydir, "../../../../../../secret", O_RDONLY));
    close(ydir);
    chdir("/");
    umount2("/tmp/mnt", MNT_DETACH);

    /* The same with a racing thread: ".." walked while another thread
     * moves the directory in and out of its parent (and of a bind mount). */
    mkdir("/tmp/r", 0777);
    mkdir("/tmp/r/a", 0777);
    mkdir("/tmp/r/a/b", 0777);
    mkdir("/tmp/rmnt", 0777);
    mount("/tmp/r/a", "/tmp/rmnt", NULL, MS_BIND, NULL);
    int bdir = open("/tmp/r/a/b", O_PATH | O_DIRECTORY);
    pthread_t th;
    pthread_create(&th, NULL, mover, NULL);
    int reads = 0, errs = 0;
    for (int i = 0; i < 2000; i++) {
        const char *paths[] = {"../../../../../../secret", "/tmp/rmnt/b/../../../../secret"};
        for (int k = 0; k < 2; k++) {
            int fd = k == 0 ? openat(bdir, paths[0], O_RDONLY) : open(paths[1], O_RDONLY);
            if (fd < 0) {
                errs++;
                continue;
            }
            if (reads++ == 0)
                report("rename race with a thread", fd);
            else
                close(fd);
        }
    }
    g_stop = 1;
    pthread_join(th, NULL);
    printf("rename race with a thread: %d opens refused, %d succeeded\n", errs, reads);
    close(bdir);
    umount2("/tmp/rmnt", MNT_DETACH);

    link("/../secret", "/tmp/hard");
    try_open("hard link via dotdot", "/tmp/hard");
    link(host_secret, "/tmp/hard2");
    try_open("hard link via host path", "/tmp/hard2");
    printf("done\n");
    return 0;
}
