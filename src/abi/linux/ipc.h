/*
 * SysV IPC, POSIX message queue and memfd structures and constants as Linux
 * presents them on x86-64 (the "64" variants: x86-64 has no IPC_64 parsing).
 */
#ifndef MOAT_ABI_LINUX_IPC_H
#define MOAT_ABI_LINUX_IPC_H

#include <stdint.h>

#define LINUX_IPC_PRIVATE 0
#define LINUX_IPC_CREAT   00001000
#define LINUX_IPC_EXCL    00002000
#define LINUX_IPC_NOWAIT  00004000

#define LINUX_IPC_RMID 0
#define LINUX_IPC_SET  1
#define LINUX_IPC_STAT 2
#define LINUX_IPC_INFO 3

/* shm */
#define LINUX_SHM_RDONLY    010000
#define LINUX_SHM_RND       020000
#define LINUX_SHM_REMAP     040000
#define LINUX_SHM_EXEC      0100000
#define LINUX_SHM_HUGETLB   04000
#define LINUX_SHM_NORESERVE 010000
#define LINUX_SHM_DEST      01000 /* mode bit: destroy on last detach */
#define LINUX_SHM_LOCKED    02000 /* mode bit: SHM_LOCK'ed */
#define LINUX_SHM_LOCK      11
#define LINUX_SHM_UNLOCK    12
#define LINUX_SHM_STAT      13
#define LINUX_SHM_INFO      14
#define LINUX_SHM_STAT_ANY  15

/* sem */
#define LINUX_GETPID      11
#define LINUX_GETVAL      12
#define LINUX_GETALL      13
#define LINUX_GETNCNT     14
#define LINUX_GETZCNT     15
#define LINUX_SETVAL      16
#define LINUX_SETALL      17
#define LINUX_SEM_STAT    18
#define LINUX_SEM_INFO    19
#define LINUX_SEM_STAT_ANY 20
#define LINUX_SEM_UNDO    0x1000

/* msg */
#define LINUX_MSG_STAT     11
#define LINUX_MSG_INFO     12
#define LINUX_MSG_STAT_ANY 13
#define LINUX_MSG_NOERROR  010000
#define LINUX_MSG_EXCEPT   020000
#define LINUX_MSG_COPY     040000

struct linux_ipc64_perm {
    int32_t key;
    uint32_t uid, gid, cuid, cgid;
    uint32_t mode;
    uint16_t seq;
    uint16_t pad2;
    uint64_t unused1, unused2;
};

struct linux_shmid64_ds {
    struct linux_ipc64_perm shm_perm;
    uint64_t shm_segsz;
    int64_t shm_atime, shm_dtime, shm_ctime;
    int32_t shm_cpid, shm_lpid;
    uint64_t shm_nattch;
    uint64_t unused4, unused5;
};

struct linux_shminfo64 {
    uint64_t shmmax, shmmin, shmmni, shmseg, shmall;
    uint64_t unused1, unused2, unused3, unused4;
};

struct linux_shm_info {
    int32_t used_ids;
    int32_t pad;
    uint64_t shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes;
};

struct linux_semid64_ds {
    struct linux_ipc64_perm sem_perm;
    int64_t sem_otime;
    uint64_t unused1;
    int64_t sem_ctime;
    uint64_t unused2;
    uint64_t sem_nsems;
    uint64_t unused3, unused4;
};

struct linux_sembuf {
    uint16_t sem_num;
    int16_t sem_op;
    int16_t sem_flg;
};

struct linux_seminfo {
    int32_t semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem;
};

struct linux_msqid64_ds {
    struct linux_ipc64_perm msg_perm;
    int64_t msg_stime, msg_rtime, msg_ctime;
    uint64_t msg_cbytes, msg_qnum, msg_qbytes;
    int32_t msg_lspid, msg_lrpid;
    uint64_t unused4, unused5;
};

struct linux_msginfo {
    int32_t msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql;
    uint16_t msgseg;
    uint16_t pad;
};

/* POSIX message queues */
struct linux_mq_attr {
    int64_t mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs;
    int64_t reserved[4];
};

#define LINUX_SIGEV_SIGNAL    0
#define LINUX_SIGEV_NONE      1
#define LINUX_SIGEV_THREAD    2
#define LINUX_SIGEV_THREAD_ID 4

struct linux_sigevent {
    uint64_t sigev_value;
    int32_t sigev_signo;
    int32_t sigev_notify;
    union {
        int32_t pad[12];
        int32_t tid;
    } un;
};

/* memfd_create flags */
#define LINUX_MFD_CLOEXEC       0x0001U
#define LINUX_MFD_ALLOW_SEALING 0x0002U
#define LINUX_MFD_HUGETLB       0x0004U
#define LINUX_MFD_NOEXEC_SEAL   0x0008U
#define LINUX_MFD_EXEC          0x0010U

_Static_assert(sizeof(struct linux_ipc64_perm) == 48, "ipc64_perm");
_Static_assert(sizeof(struct linux_shmid64_ds) == 112, "shmid64_ds");
_Static_assert(sizeof(struct linux_semid64_ds) == 104, "semid64_ds");
_Static_assert(sizeof(struct linux_msqid64_ds) == 120, "msqid64_ds");
_Static_assert(sizeof(struct linux_shm_info) == 48, "shm_info");
_Static_assert(sizeof(struct linux_msginfo) == 32, "msginfo");
_Static_assert(sizeof(struct linux_sigevent) == 64, "sigevent");
_Static_assert(sizeof(struct linux_mq_attr) == 64, "mq_attr");

#endif
