/*
 * libFuzzer target: moat's path walk (namei) over the VFS root as moat
 * builds it (hostfs under an in-memory overlay, /dev, /proc), on a small
 * host tree with symlinks that point up, absolute, relative, into loops and
 * at a sentinel file placed beside the root, outside it. Each input is a
 * path (up to its first NUL) and a byte of flags; it is stat'ed, readlink'ed
 * and opened from the root and from a subdirectory. Nothing may crash, and
 * no result may be the sentinel: whatever the path, the walk stays inside
 * the root. Built with -Dlibfuzzer=true (clang); uses the unit tests' fakes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/vfs/vfs.h"
#include "vfs_fakes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define SENTINEL      "moat path-walk sentinel: outside the root\n"
#define SENTINEL_SIZE (sizeof(SENTINEL) - 1)

static char g_top[64];
static int g_subdir_fd = -1;

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz-path-walk setup: %s: %s\n", what, strerror(errno));
        abort();
    }
}

static void put(const char *rel, const char *content)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", g_top, rel);
    FILE *f = fopen(p, "w");
    must(f != NULL, p);
    fputs(content, f);
    fclose(f);
}

static void dir(const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", g_top, rel);
    must(mkdir(p, 0755) == 0, p);
}

static void link_(const char *rel, const char *target)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", g_top, rel);
    must(symlink(target, p) == 0, p);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_top);
    if (system(cmd) != 0) {
        /* left in /tmp */
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(g_top, sizeof(g_top), "/tmp/moat-fuzz-walk-XXXXXX");
    must(mkdtemp(g_top) != NULL, "mkdtemp");
    atexit(cleanup);
    /* TOP/outside is the sentinel; TOP/root becomes the VFS root. */
    put("outside", SENTINEL);
    dir("root");
    dir("root/etc");
    put("root/etc/passwd", "root:x:0:0\n");
    dir("root/dir");
    dir("root/dir/sub");
    put("root/dir/a.txt", "a\n");
    link_("root/up", "../outside");
    link_("root/up2", "../../../../outside");
    link_("root/abs", "/../outside");
    link_("root/dir/sub/back", "../../../outside");
    link_("root/dir/sub/rel", "../a.txt");
    link_("root/dir/sub/root", "/");
    link_("root/dir/dotdot", "..");
    link_("root/loop1", "loop2");
    link_("root/loop2", "loop1");
    link_("root/self", "self/x");
    link_("root/proc-self", "/proc/self/root/../outside");
    char p[256];
    snprintf(p, sizeof(p), "%s/root", g_top);
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    must(fd >= 0, p);
    memset(&g_task, 0, sizeof(g_task));
    memset(&g_tg, 0, sizeof(g_tg));
    pthread_mutex_init(&g_tg.lock, NULL);
    g_tg.pid = 1;
    g_task.tid = 1;
    g_task.tg = &g_tg;
    g_task.cred = (struct cred)CRED_KERNEL_INIT;
    must(vfs_init(fd, &g_task.fs) == 0, "vfs_init");
    must(fdtable_new(&g_task.files) == 0, "fdtable_new");
    struct file *f;
    must(vfs_openat(&g_task, AT_FDCWD, "/dir/sub", O_RDONLY | O_DIRECTORY, 0, &f) == 0,
         "open /dir/sub");
    g_subdir_fd = fdtable_alloc(g_task.files, 0, 1024, f, false);
    file_put(f);
    must(g_subdir_fd >= 0, "fdtable_alloc");
    /* The tree is visible through the VFS. */
    struct linux_stat st;
    must(vfs_statat(&g_task, AT_FDCWD, "/dir/a.txt", 0, &st) == 0 && st.st_size == 2,
         "stat /dir/a.txt");
    return 0;
}

static void check_stat(int dirfd, const char *path, int flags)
{
    struct linux_stat st;
    if (vfs_statat(&g_task, dirfd, path, flags, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size == SENTINEL_SIZE) {
        fprintf(stderr, "fuzz-path-walk: \"%s\" reached a file of the sentinel's size\n", path);
        abort();
    }
}

static void check_open(int dirfd, const char *path, int flags)
{
    struct file *f;
    if (vfs_openat(&g_task, dirfd, path, flags, 0, &f) < 0)
        return;
    char buf[sizeof(SENTINEL)];
    ssize_t n = vfs_read(f, buf, sizeof(buf) - 1);
    file_put(f);
    if (n == (ssize_t)SENTINEL_SIZE && memcmp(buf, SENTINEL, SENTINEL_SIZE) == 0) {
        fprintf(stderr, "fuzz-path-walk: \"%s\" opened the file outside the root\n", path);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096 + 1)
        return 0;
    uint8_t mode = data[0];
    /* The path on the heap at its exact length, NUL included. */
    size_t n = strnlen((const char *)data + 1, size - 1);
    char *path = malloc(n + 1);
    if (!path)
        return 0;
    memcpy(path, data + 1, n);
    path[n] = '\0';
    int dirfd = (mode & 1) ? g_subdir_fd : AT_FDCWD;
    int sflags = (mode & 2) ? AT_SYMLINK_NOFOLLOW : 0;
    if (mode & 4)
        sflags |= AT_EMPTY_PATH;
    check_stat(dirfd, path, sflags);
    char buf[256];
    (void)vfs_readlinkat(&g_task, dirfd, path, buf, sizeof(buf));
    /* Read-only opens: the walk, not the file systems' write paths. */
    check_open(dirfd, path, O_RDONLY | ((mode & 8) ? O_NOFOLLOW : 0) |
                                ((mode & 16) ? O_DIRECTORY : 0));
    free(path);
    return 0;
}
