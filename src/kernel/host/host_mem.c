/*
 * Host calls of the memory manager (see host_mem.h). Each returns -errno from
 * the host call unchanged: the memory manager handles them itself and none
 * of them reaches an app as is.
 */
#include "kernel/host/host_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int host_mem_create(const char *name, uint64_t size, int *out_fd)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    *out_fd = fd;
    return 0;
}

/* The limited file's tmpfs (a detached mount), kept open so that a
 * privileged caller outside (`moat update --memory`) can resize it through
 * /proc/PID/fd; -1 without one. */
static int g_limited_mnt = -1;

int host_mem_limited_mount(void)
{
    return g_limited_mnt;
}

int host_mem_create_limited(uint64_t size, uint64_t limit, int *out_fd)
{
    char opt[32];
    int r, mnt = -1, fd = -1;

    int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0)
        return -errno;
    snprintf(opt, sizeof(opt), "%" PRIu64, limit);
    if (fsconfig(fs, FSCONFIG_SET_STRING, "size", opt, 0) < 0 ||
        fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
        fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        goto out_err;
    /* Not noexec: stubs map app code from it. */
    mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (mnt < 0)
        goto out_err;
    fd = openat(mnt, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
        goto out_err;
    if (g_limited_mnt >= 0)
        close(g_limited_mnt);
    g_limited_mnt = mnt;
    close(fs);
    *out_fd = fd;
    return 0;
out_err:
    r = -errno;
    if (fd >= 0)
        close(fd);
    if (mnt >= 0)
        close(mnt);
    close(fs);
    return r;
}

int host_mem_allocate(int fd, uint64_t off, uint64_t len)
{
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
        return -errno;
    return 0;
}

int host_mem_write(int fd, uint64_t off, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -ENOSPC;
        p += w;
        off += (uint64_t)w;
        n -= (size_t)w;
    }
    return 0;
}

int host_mem_read(int fd, uint64_t off, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = pread(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            return -EIO; /* past the end: not an offset the memory file has */
        p += got;
        off += (uint64_t)got;
        n -= (size_t)got;
    }
    return 0;
}

int host_mem_resident(int fd, uint64_t *out_bytes)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    *out_bytes = (uint64_t)st.st_blocks * 512;
    return 0;
}

int host_mem_map(int fd, uint64_t size, uint8_t **out_base)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    *out_base = p;
    return 0;
}

void host_mem_unmap(uint8_t *base, uint64_t size)
{
    munmap(base, size);
}

int host_mem_punch(int fd, uint64_t off, uint64_t len)
{
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
        return -errno;
    return 0;
}

static int seek(int fd, uint64_t off, int whence, uint64_t *out)
{
    off_t r = lseek(fd, (off_t)off, whence);
    if (r < 0)
        return -errno;
    *out = (uint64_t)r;
    return 0;
}

int host_mem_seek_data(int fd, uint64_t off, uint64_t *out)
{
    return seek(fd, off, SEEK_DATA, out);
}

int host_mem_seek_hole(int fd, uint64_t off, uint64_t *out)
{
    return seek(fd, off, SEEK_HOLE, out);
}

int host_mem_incore(const uint8_t *addr, uint64_t len, uint8_t *vec)
{
    return mincore((void *)addr, (size_t)len, vec) == 0 ? 0 : -errno;
}

void host_mem_close(int fd)
{
    close(fd);
}
