/*
 * Memory-backed files without a name: the objects behind memfd_create(2)
 * and SysV shared memory segments (Linux's shmem files on its internal shm
 * mount). Their data lives in memory-file pages (a pagecache), so a
 * MAP_SHARED mapping of one, in any process, maps the very pages read(2)
 * and write(2) use.
 *
 * memfd sealing (F_ADD_SEALS / F_GET_SEALS) is enforced here on write,
 * truncate, fallocate and chmod, and by shmem_mmap_check() on mmap.
 *
 * Lock order: inode->lock of a shmem inode is a leaf (above the memfile
 * lock).
 */
#ifndef MOAT_KERNEL_IPC_SHMEM_H
#define MOAT_KERNEL_IPC_SHMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cred;
struct file;
struct file_ops;
struct inode;

/* Linux's seal bits (fcntl F_ADD_SEALS). */
#define SHMEM_SEAL_SEAL         0x0001
#define SHMEM_SEAL_SHRINK       0x0002
#define SHMEM_SEAL_GROW         0x0004
#define SHMEM_SEAL_WRITE        0x0008
#define SHMEM_SEAL_FUTURE_WRITE 0x0010
#define SHMEM_SEAL_EXEC         0x0020
#define SHMEM_SEAL_ALL          0x003f

/* A new shmem inode (count 1) of SIZE bytes (reserved now, in one piece
 * where the memory file allows), mode S_IFREG | PERM, owned by CRED's
 * fsuid/fsgid, named DNAME in /proc/PID/fd links (copied). SEALS are its
 * initial seals. 0 and *out, or -ENOMEM / -ENOSPC / -EFBIG. */
int shmem_inode_new(const char *dname, uint32_t perm, uint64_t size, unsigned seals,
                    const struct cred *cred, struct inode **out);
/* A new open file (count 1) on shmem inode INODE (borrowed) with O_ FLAGS.
 * OPS NULL: shmem's own file ops; else OPS (which must use shmem_fops_*
 * for what it does not override) and PRIV in f->priv. NULL for ENOMEM. */
struct file *shmem_file_open(struct inode *inode, unsigned flags, const struct file_ops *ops,
                             void *priv);
/* Whether F is a file on a shmem inode. */
bool shmem_is_file(struct file *f);

/* The pieces of shmem's file ops other file ops may reuse (SysV shm). */
int shmem_fops_mmap_backing(struct file *f, uint64_t off, uint64_t len, uint64_t *out_moff,
                            uint64_t *out_len);
int shmem_fops_dname(struct file *f, char *buf, size_t size);

/* fcntl(F_ADD_SEALS) / fcntl(F_GET_SEALS) on F: seals or 0, or -errno
 * (-EINVAL when F is not a shmem file, as Linux for non-shmem files). */
int shmem_add_seals(struct file *f, unsigned seals);
int shmem_get_seals(struct file *f);
/* Whether mmap(2) with PROT and FLAGS may map F (any file): -EPERM when a
 * write seal forbids a shared writable mapping, else 0. */
int shmem_mmap_check(struct file *f, int prot, int flags);

/* Bytes of memory-file pages INODE's data holds now (shm_rss). */
uint64_t shmem_resident(struct inode *inode);

#endif
