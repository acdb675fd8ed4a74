/*
 * IPC: shmget, shmat, shmdt, shmctl, semget, semop, semtimedop, semctl,
 * msgget, msgsnd, msgrcv, msgctl, mq_open, mq_unlink, mq_timedsend,
 * mq_timedreceive, mq_notify, mq_getsetattr, memfd_create.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "abi/linux/ipc.h"
#include "kernel/ipc/mqueue.h"
#include "kernel/ipc/shmem.h"
#include "kernel/ipc/sysv.h"
#include "kernel/net/netlink.h"
#include "kernel/net/socket.h"
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

/* ---- POSIX message queues ---- */

#define MQ_PRIO_MAX 32768

static long sys_mq_open(struct task *t, const struct sys_args *a)
{
    int oflag = (int)a->arg[1];
    struct linux_mq_attr attr, *pattr = NULL;
    char name[LINUX_PATH_MAX];
    long n = mm_strncpy_in(t->mm, name, a->arg[0], sizeof(name));
    if (n < 0)
        return n;
    if ((oflag & O_CREAT) && a->arg[3]) {
        if (copy_in(t, &attr, a->arg[3], sizeof(attr)) < 0)
            return -EFAULT;
        pattr = &attr;
    }
    struct file *f;
    int r = mq_open_name(t, name, oflag, (uint32_t)a->arg[2], pattr, &f);
    if (r < 0)
        return r;
    int limit = (int)t->tg->rlim[RLIMIT_NOFILE].rlim_cur;
    int fd = fdtable_alloc(t->files, 0, limit, f, oflag & O_CLOEXEC);
    file_put(f);
    return fd;
}
SYSCALL_DEFINE(mq_open, sys_mq_open, "sxop", SYS_FULL, NULL);

static long sys_mq_unlink(struct task *t, const struct sys_args *a)
{
    char name[LINUX_PATH_MAX];
    long n = mm_strncpy_in(t->mm, name, a->arg[0], sizeof(name));
    if (n < 0)
        return n;
    return mq_unlink_name(t, name);
}
SYSCALL_DEFINE(mq_unlink, sys_mq_unlink, "s", SYS_FULL, NULL);

/* The absolute timeout at ADDR (0: none) into *TS; *out_p NULL or TS. */
static int copy_timeout(struct task *t, uint64_t addr, struct linux_timespec *ts,
                        const struct linux_timespec **out_p)
{
    *out_p = NULL;
    if (!addr)
        return 0;
    if (copy_in(t, ts, addr, sizeof(*ts)) < 0)
        return -EFAULT;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
        return -EINVAL;
    *out_p = ts;
    return 0;
}

static long sys_mq_timedsend(struct task *t, const struct sys_args *a)
{
    struct linux_timespec ts;
    const struct linux_timespec *abs;
    int r = copy_timeout(t, a->arg[4], &ts, &abs);
    if (r < 0)
        return r;
    uint64_t len = a->arg[2];
    unsigned prio = (unsigned)a->arg[3];
    if (prio >= MQ_PRIO_MAX)
        return -EINVAL;
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    long max = f ? mq_file_msgsize(f, true) : -EBADF;
    long res = max;
    if (max >= 0 && len > (uint64_t)max)
        res = -EMSGSIZE;
    void *buf = NULL;
    if (res >= 0) {
        buf = malloc(len ? len : 1);
        res = !buf ? -ENOMEM : copy_in(t, buf, a->arg[1], len) < 0 ? -EFAULT : 0;
    }
    if (res >= 0)
        res = mq_send_file(t, f, buf, len, prio, abs);
    free(buf);
    file_put(f);
    return res;
}
SYSCALL_DEFINE(mq_timedsend, sys_mq_timedsend, "fbuup", SYS_FULL, NULL);

static long sys_mq_timedreceive(struct task *t, const struct sys_args *a)
{
    struct linux_timespec ts;
    const struct linux_timespec *abs;
    int r = copy_timeout(t, a->arg[4], &ts, &abs);
    if (r < 0)
        return r;
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    void *msg = NULL;
    unsigned prio = 0;
    long res = mq_receive_file(t, f, &msg, a->arg[2], &prio, abs);
    file_put(f);
    if (res < 0)
        return res;
    if (copy_out(t, a->arg[1], msg, (size_t)res) < 0 ||
        (a->arg[3] && copy_out(t, a->arg[3], &prio, sizeof(prio)) < 0))
        res = -EFAULT;
    free(msg);
    return res;
}
SYSCALL_DEFINE(mq_timedreceive, sys_mq_timedreceive, "fpupp", SYS_FULL, NULL);

static long sys_mq_notify(struct task *t, const struct sys_args *a)
{
    struct linux_sigevent ev, *pev = NULL;
    struct file *sock = NULL;
    uint8_t cookie[MQ_COOKIE_LEN];
    if (a->arg[1]) {
        if (copy_in(t, &ev, a->arg[1], sizeof(ev)) < 0)
            return -EFAULT;
        if (ev.sigev_notify != LINUX_SIGEV_NONE && ev.sigev_notify != LINUX_SIGEV_SIGNAL &&
            ev.sigev_notify != LINUX_SIGEV_THREAD)
            return -EINVAL;
        if (ev.sigev_notify == LINUX_SIGEV_SIGNAL &&
            (ev.sigev_signo < 0 || ev.sigev_signo > LINUX_NSIG))
            return -EINVAL;
        if (ev.sigev_notify == LINUX_SIGEV_THREAD) {
            /* glibc's: the cookie at sigev_value goes back on the netlink
             * socket whose fd is sigev_signo. */
            if (copy_in(t, cookie, ev.sigev_value, sizeof(cookie)) < 0)
                return -EFAULT;
            sock = fdtable_get_file(t->files, ev.sigev_signo);
            if (!sock)
                return -EBADF;
            if (!netlink_is_socket(sock)) {
                bool is_sock = sock_is_socket(sock);
                file_put(sock);
                return is_sock ? -EINVAL : -ENOTSOCK;
            }
        }
        pev = &ev;
    }
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    int r = f ? mq_notify_file(t, f, pev, sock, cookie) : -EBADF;
    file_put(f);
    file_put(sock);
    return r;
}
SYSCALL_DEFINE(mq_notify, sys_mq_notify, "fp", SYS_FULL, NULL);

static long sys_mq_getsetattr(struct task *t, const struct sys_args *a)
{
    struct linux_mq_attr set, old;
    if (a->arg[1]) {
        if (copy_in(t, &set, a->arg[1], sizeof(set)) < 0)
            return -EFAULT;
        if (set.mq_flags & ~(int64_t)O_NONBLOCK)
            return -EINVAL;
    }
    struct file *f = fdtable_get_file(t->files, (int)a->arg[0]);
    if (!f)
        return -EBADF;
    int r = mq_getsetattr_file(f, a->arg[1] ? &set : NULL, &old);
    file_put(f);
    if (r == 0 && a->arg[2] && copy_out(t, a->arg[2], &old, sizeof(old)) < 0)
        r = -EFAULT;
    return r;
}
SYSCALL_DEFINE(mq_getsetattr, sys_mq_getsetattr, "fpp", SYS_FULL, NULL);

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
