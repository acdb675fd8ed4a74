/*
 * Host calls of the memory manager (see host_mem.h). Each returns -errno from
 * the host call unchanged: the memory manager handles them itself and none
 * of them reaches an app as is.
 */
#include "kernel/host/host_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
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

void host_mem_close(int fd)
{
    close(fd);
}
