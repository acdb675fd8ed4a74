/*
 * IPC: shmget, shmat, shmdt, shmctl, semget, semop, semtimedop, semctl,
 * msgget, msgsnd, msgrcv, msgctl, memfd_create.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "abi/linux/ipc.h"
#include "kernel/ipc/shmem.h"
#include "kernel/ipc/sysv.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/log.h"

/* ---- shared memory ---- */

static long sys_shmget(struct task *t, const struct sys_args *a)
{
    return shm_get(t, (int32_t)a->arg[0], a->arg[1], (int)a->arg[2]);
}
SYSCALL_DEFINE(shmget, sys_shmget, "xux", SYS_PARTIAL, "SHM_HUGETLB is EINVAL");

static long sys_shmat(struct task *t, const struct sys_args *a)
{
    return shm_at(t, (int)a->arg[0], a->arg[1], (int)a->arg[2]);
}
SYSCALL_DEFINE(shmat, sys_shmat, "dpx", SYS_FULL, NULL);

static long sys_shmdt(struct task *t, const struct sys_args *a)
{
    return shm_dt(t, a->arg[0]);
}
SYSCALL_DEFINE(shmdt, sys_shmdt, "p", SYS_FULL, NULL);

static long sys_shmctl(struct task *t, const struct sys_args *a)
{
    return shm_ctl(t, (int)a->arg[0], (int)a->arg[1], a->arg[2]);
}
SYSCALL_DEFINE(shmctl, sys_shmctl, "ddp", SYS_PARTIAL, "SHM_LOCK only marks the segment");

/* ---- semaphores ---- */

static long sys_semget(struct task *t, const struct sys_args *a)
{
    return sem_get(t, (int32_t)a->arg[0], (int)a->arg[1], (int)a->arg[2]);
}
SYSCALL_DEFINE(semget, sys_semget, "xdx", SYS_FULL, NULL);

static long do_semtimedop(struct task *t, int id, uint64_t uops, uint64_t nsops, uint64_t uts)
{
    int opm = __atomic_load_n(&g_ipc_limits.semopm, __ATOMIC_RELAXED);
    if (nsops < 1 || id < 0)
        return -EINVAL;
    if (nsops > (uint64_t)opm)
        return -E2BIG;
    struct linux_sembuf *ops = malloc(nsops * sizeof(*ops));
    if (!ops)
        return -ENOMEM;
    long r = copy_in(t, ops, uops, nsops * sizeof(*ops));
    int64_t timeout = -1;
    if (r == 0 && uts) {
        struct linux_timespec ts;
        r = copy_in(t, &ts, uts, sizeof(ts));
        if (r == 0 && (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000))
            r = -EINVAL;
        if (r == 0)
            timeout = ts.tv_sec > INT64_MAX / 1000000000 - 1
                              ? INT64_MAX
                              : ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    if (r == 0)
        r = sem_op(t, id, ops, nsops, timeout);
    free(ops);
    return r;
}

static long sys_semop(struct task *t, const struct sys_args *a)
{
    return do_semtimedop(t, (int)a->arg[0], a->arg[1], a->arg[2], 0);
}
SYSCALL_DEFINE(semop, sys_semop, "dpu", SYS_FULL, NULL);

static long sys_semtimedop(struct task *t, const struct sys_args *a)
{
    return do_semtimedop(t, (int)a->arg[0], a->arg[1], a->arg[2], a->arg[3]);
}
SYSCALL_DEFINE(semtimedop, sys_semtimedop, "dpup", SYS_FULL, NULL);

static long sys_semctl(struct task *t, const struct sys_args *a)
{
    return sem_ctl(t, (int)a->arg[0], (int)a->arg[1], (int)a->arg[2], a->arg[3]);
}
SYSCALL_DEFINE(semctl, sys_semctl, "dddx", SYS_PARTIAL,
               "SEM_UNDO adjustments are not shared through clone(CLONE_SYSVSEM) "
               "between processes (threads share them)");

/* ---- message queues ---- */

static long sys_msgget(struct task *t, const struct sys_args *a)
{
    return msg_get(t, (int32_t)a->arg[0], (int)a->arg[1]);
}
SYSCALL_DEFINE(msgget, sys_msgget, "xx", SYS_FULL, NULL);

static long sys_msgsnd(struct task *t, const struct sys_args *a)
{
    return msg_snd(t, (int)a->arg[0], a->arg[1], a->arg[2], (int)a->arg[3]);
}
SYSCALL_DEFINE(msgsnd, sys_msgsnd, "dpux", SYS_FULL, NULL);

static long sys_msgrcv(struct task *t, const struct sys_args *a)
{
    return msg_rcv(t, (int)a->arg[0], a->arg[1], a->arg[2], (int64_t)a->arg[3], (int)a->arg[4]);
}
SYSCALL_DEFINE(msgrcv, sys_msgrcv, "dpudx", SYS_FULL, NULL);

static long sys_msgctl(struct task *t, const struct sys_args *a)
{
    return msg_ctl(t, (int)a->arg[0], (int)a->arg[1], a->arg[2]);
}
SYSCALL_DEFINE(msgctl, sys_msgctl, "ddp", SYS_FULL, NULL);

/* ---- memfd ---- */

#define MFD_NAME_MAX 249 /* NAME_MAX minus "memfd:" */
#define MFD_HUGE_MASK (0x3fU << 26)
#define L_O_LARGEFILE 0100000 /* Linux sets it on memfds (F_GETFL shows it) */

static long sys_memfd_create(struct task *t, const struct sys_args *a)
{
    unsigned flags = (unsigned)a->arg[1];
    const unsigned known = LINUX_MFD_CLOEXEC | LINUX_MFD_ALLOW_SEALING | LINUX_MFD_HUGETLB |
                           LINUX_MFD_NOEXEC_SEAL | LINUX_MFD_EXEC;
    if (flags & LINUX_MFD_HUGETLB) {
        if (flags & ~(known | MFD_HUGE_MASK))
            return -EINVAL;
        log_warn_once("memfd_create: MFD_HUGETLB unsupported");
        return -EINVAL;
    }
    if (flags & ~known)
        return -EINVAL;
    if ((flags & LINUX_MFD_EXEC) && (flags & LINUX_MFD_NOEXEC_SEAL))
        return -EINVAL;
    char name[MFD_NAME_MAX + 2];
    long n = mm_strncpy_in(t->mm, name, a->arg[0], sizeof(name));
    if (n == -ENAMETOOLONG || n > MFD_NAME_MAX)
        return -EINVAL;
    if (n < 0)
        return n;
    char dname[MFD_NAME_MAX + 32];
    snprintf(dname, sizeof(dname), "/memfd:%s (deleted)", name);
    /* vm.memfd_noexec is 0: without either flag the file is executable. */
    uint32_t perm = 0777;
    unsigned seals = SHMEM_SEAL_SEAL;
    if (flags & LINUX_MFD_NOEXEC_SEAL) {
        perm &= ~0111u;
        seals = SHMEM_SEAL_EXEC;
    } else if (flags & LINUX_MFD_ALLOW_SEALING) {
        seals = 0;
    }
    struct inode *inode;
    int r = shmem_inode_new(dname, perm, 0, seals, &t->cred, &inode);
    if (r < 0)
        return r;
    struct file *f = shmem_file_open(inode, O_RDWR | L_O_LARGEFILE, NULL, NULL);
    inode_put(inode);
    if (!f)
        return -ENOMEM;
    int limit = (int)t->tg->rlim[RLIMIT_NOFILE].rlim_cur;
    int fd = fdtable_alloc(t->files, 0, limit, f, flags & LINUX_MFD_CLOEXEC);
    file_put(f);
    return fd;
}
SYSCALL_DEFINE(memfd_create, sys_memfd_create, "sx", SYS_PARTIAL,
               "MFD_HUGETLB is EINVAL; F_SEAL_WRITE is EBUSY while any page is mapped shared");
