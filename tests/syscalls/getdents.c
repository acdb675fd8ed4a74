/* Probe: getdents64. */
#include <stddef.h>
#include <stdint.h>

#include "tap.h"

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

#define MAX_NAMES 64

struct listing {
    int count;
    char names[MAX_NAMES][64];
    unsigned char types[MAX_NAMES];
    int bad_reclen; /* records with a misaligned or too short d_reclen */
    int zero_ino;
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Reads the whole directory with buffers of bufsize bytes; returns 0 or -1 (errno set). */
static int list_dir(int fd, size_t bufsize, struct listing *out)
{
    char buf[4096] __attribute__((aligned(8)));

    memset(out, 0, sizeof(*out));
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, bufsize);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (void *)(buf + off);
            size_t min = offsetof(struct linux_dirent64, d_name) + strlen(d->d_name) + 1;
            if (d->d_reclen % 8 || d->d_reclen < min)
                out->bad_reclen++;
            if (d->d_ino == 0)
                out->zero_ino++;
            if (out->count < MAX_NAMES) {
                snprintf(out->names[out->count], sizeof(out->names[0]), "%s", d->d_name);
                out->types[out->count] = d->d_type;
                out->count++;
            }
            if (d->d_reclen == 0)
                return -1; /* would loop forever */
            off += d->d_reclen;
        }
    }
    return 0;
}

static unsigned char type_of(const struct listing *l, const char *name)
{
    for (int i = 0; i < l->count; i++)
        if (!strcmp(l->names[i], name))
            return l->types[i];
    return 0xff;
}

static void names_joined(struct listing *l, char *out, size_t size)
{
    qsort(l->names, l->count, sizeof(l->names[0]), cmp_names);
    out[0] = '\0';
    for (int i = 0; i < l->count; i++) {
        strncat(out, l->names[i], size - strlen(out) - 1);
        strncat(out, " ", size - strlen(out) - 1);
    }
}

static void test_getdents(void)
{
    struct listing l;
    char joined[1024];
    char buf[4096] __attribute__((aligned(8)));

    T_OK(mkdir("d", 0755), "mkdir d");
    T_OK(tap_write_file("d/file-a", "a"), "create d/file-a");
    T_OK(tap_write_file("d/file-b", "b"), "create d/file-b");
    T_OK(mkdir("d/sub", 0755), "mkdir d/sub");
    static const char long_name[] = "a-much-longer-name-to-vary-the-record-length-0123456789";
    char path[128];
    snprintf(path, sizeof(path), "d/%s", long_name);
    T_OK(tap_write_file(path, "c"), "create a file with a long name");

    int fd = T_OK(open("d", O_RDONLY | O_DIRECTORY), "open d");
    T_OK(list_dir(fd, sizeof(buf), &l), "getdents64 reads the directory");
    T_EQ(l.count, 6, "six entries (with . and ..)");
    T_EQ(l.bad_reclen, 0, "every d_reclen is 8-aligned and holds its name");
    T_EQ(l.zero_ino, 0, "every d_ino is non-zero");
    T_EQ(type_of(&l, "file-a"), DT_REG, "d_type of a file: DT_REG");
    T_EQ(type_of(&l, "sub"), DT_DIR, "d_type of a dir: DT_DIR");
    T_EQ(type_of(&l, "."), DT_DIR, "d_type of .: DT_DIR");
    names_joined(&l, joined, sizeof(joined));
    T_STREQ(joined, ". .. a-much-longer-name-to-vary-the-record-length-0123456789 file-a file-b sub ",
            "the names, sorted");

    T_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0, "getdents64 at the end returns 0");
    T_EQ(lseek(fd, 0, SEEK_SET), 0, "rewind the directory");
    T_OK(list_dir(fd, 96, &l), "getdents64 with a 96-byte buffer (one or two entries a call)");
    T_EQ(l.count, 6, "small buffers see the same six entries");
    names_joined(&l, joined, sizeof(joined));
    T_STREQ(joined, ". .. a-much-longer-name-to-vary-the-record-length-0123456789 file-a file-b sub ",
            "small buffers: same names");

    T_EQ(lseek(fd, 0, SEEK_SET), 0, "rewind again");
    T_ERRNO(syscall(SYS_getdents64, fd, buf, 1), EINVAL, "a buffer too small for one entry: EINVAL");
    T_ERRNO(syscall(SYS_getdents64, fd, buf, 0), EINVAL, "a zero-sized buffer: EINVAL");
    T_ERRNO(syscall(SYS_getdents64, fd, BAD_PTR, sizeof(buf)), EFAULT, "a bad buffer: EFAULT");

    /* Entries created and removed between two listings. */
    T_OK(unlink("d/file-b"), "unlink d/file-b");
    T_OK(tap_write_file("d/file-c", "c"), "create d/file-c");
    lseek(fd, 0, SEEK_SET);
    T_OK(list_dir(fd, sizeof(buf), &l), "list after changes");
    names_joined(&l, joined, sizeof(joined));
    T_STREQ(joined, ". .. a-much-longer-name-to-vary-the-record-length-0123456789 file-a file-c sub ",
            "the listing shows the changes");
    close(fd);

    int empty = open("d/sub", O_RDONLY | O_DIRECTORY);
    T_OK(list_dir(empty, sizeof(buf), &l), "list an empty directory");
    names_joined(&l, joined, sizeof(joined));
    T_STREQ(joined, ". .. ", "an empty directory has . and ..");
    close(empty);

    int ffd = open("d/file-a", O_RDONLY);
    T_ERRNO(syscall(SYS_getdents64, ffd, buf, sizeof(buf)), ENOTDIR, "getdents64 on a file: ENOTDIR");
    close(ffd);
    T_ERRNO(syscall(SYS_getdents64, ffd, buf, sizeof(buf)), EBADF, "getdents64 on a closed fd: EBADF");

    /* A host directory is listed through the read-only root. */
    int root = open("/", O_RDONLY | O_DIRECTORY);
    T_OK(list_dir(root, sizeof(buf), &l), "list /");
    int has_tmp = 0, has_etc = 0;
    for (int i = 0; i < l.count; i++) {
        has_tmp |= !strcmp(l.names[i], "tmp");
        has_etc |= !strcmp(l.names[i], "etc");
    }
    T_TRUE(has_tmp && has_etc, "/ holds tmp and etc");
    close(root);
}

int main(void)
{
    tap_init("getdents");
    test_getdents();
    return tap_done();
}
