/*
 * The IPC namespace's /proc files: /proc/sysvipc/{shm,sem,msg} listing the
 * sandbox's SysV objects, and the tunables under /proc/sys/kernel
 * (shmmax, shmall, shmmni, sem, msgmax, msgmnb, msgmni) and of POSIX
 * message queues (/proc/sys/fs/mqueue), which root may write as on Linux.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/proc/proc_internal.h"
#include "kernel/ipc/sysv.h"

static void sbuf_vprintf_cb(void *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sbuf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static int show_shm(struct gen_inode *gi, struct sbuf *b)
{
    struct ipc_sbuf_fn out = {sbuf_vprintf_cb, b};
    shm_proc_show(&out);
    return 0;
}

static int show_sem(struct gen_inode *gi, struct sbuf *b)
{
    struct ipc_sbuf_fn out = {sbuf_vprintf_cb, b};
    sem_proc_show(&out);
    return 0;
}

static int show_msg(struct gen_inode *gi, struct sbuf *b)
{
    struct ipc_sbuf_fn out = {sbuf_vprintf_cb, b};
    msg_proc_show(&out);
    return 0;
}

const struct gen_entry g_proc_sysvipc_children[] = {
        {.name = "msg", .mode = VFS_S_IFREG | 0444, .show = show_msg},
        {.name = "sem", .mode = VFS_S_IFREG | 0444, .show = show_sem},
        {.name = "shm", .mode = VFS_S_IFREG | 0444, .show = show_shm},
        {0},
};

/* ---- tunables ---- */

/* Parses up to N unsigned decimals separated by blanks from BUF (LEN
 * bytes). The count parsed, or -EINVAL. */
static int parse_nums(const char *buf, size_t len, uint64_t *out, int n)
{
    char tmp[128];
    if (len >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, buf, len);
    tmp[len] = 0;
    char *p = tmp;
    int got = 0;
    while (got < n) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        char *end;
        out[got++] = strtoull(p, &end, 10);
        p = end;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    return *p || got == 0 ? -EINVAL : got;
}

#define U64_TUNABLE(name, field)                                                                   \
    int proc_ipc_show_##name(struct gen_inode *gi, struct sbuf *b)                                  \
    {                                                                                              \
        sbuf_printf(b, "%" PRIu64 "\n", __atomic_load_n(&g_ipc_limits.field, __ATOMIC_RELAXED));  \
        return 0;                                                                                  \
    }                                                                                              \
    ssize_t proc_ipc_store_##name(struct gen_inode *gi, const char *buf, size_t n)                   \
    {                                                                                              \
        uint64_t v;                                                                                \
        if (parse_nums(buf, n, &v, 1) != 1)                                                        \
            return -EINVAL;                                                                        \
        __atomic_store_n(&g_ipc_limits.field, v, __ATOMIC_RELAXED);                                \
        return (ssize_t)n;                                                                         \
    }

#define INT_TUNABLE(name, field, hi)                                                           \
    int proc_ipc_show_##name(struct gen_inode *gi, struct sbuf *b)                                  \
    {                                                                                              \
        sbuf_printf(b, "%d\n", __atomic_load_n(&g_ipc_limits.field, __ATOMIC_RELAXED));           \
        return 0;                                                                                  \
    }                                                                                              \
    ssize_t proc_ipc_store_##name(struct gen_inode *gi, const char *buf, size_t n)                   \
    {                                                                                              \
        uint64_t v;                                                                                \
        if (parse_nums(buf, n, &v, 1) != 1 || v > (hi))                                \
            return -EINVAL;                                                                        \
        __atomic_store_n(&g_ipc_limits.field, (int32_t)v, __ATOMIC_RELAXED);                       \
        return (ssize_t)n;                                                                         \
    }

U64_TUNABLE(shmmax, shmmax)
U64_TUNABLE(shmall, shmall)
INT_TUNABLE(msgmax, msgmax, INT32_MAX)
INT_TUNABLE(msgmnb, msgmnb, INT32_MAX)
INT_TUNABLE(msgmni, msgmni, IPC_MNI)
INT_TUNABLE(mq_queues_max, mq_queues_max, INT32_MAX)
INT_TUNABLE(mq_msg_max, mq_msg_max, 65536)
INT_TUNABLE(mq_msgsize_max, mq_msgsize_max, 16777216)
INT_TUNABLE(mq_msg_default, mq_msg_default, 65536)
INT_TUNABLE(mq_msgsize_default, mq_msgsize_default, 16777216)

int proc_ipc_show_shmmni(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "%" PRIu64 "\n", __atomic_load_n(&g_ipc_limits.shmmni, __ATOMIC_RELAXED));
    return 0;
}

ssize_t proc_ipc_store_shmmni(struct gen_inode *gi, const char *buf, size_t n)
{
    uint64_t v;
    if (parse_nums(buf, n, &v, 1) != 1 || v > IPC_MNI)
        return -EINVAL;
    __atomic_store_n(&g_ipc_limits.shmmni, v, __ATOMIC_RELAXED);
    return (ssize_t)n;
}

int proc_ipc_show_sem_limits(struct gen_inode *gi, struct sbuf *b)
{
    sbuf_printf(b, "%d\t%d\t%d\t%d\n", __atomic_load_n(&g_ipc_limits.semmsl, __ATOMIC_RELAXED),
                __atomic_load_n(&g_ipc_limits.semmns, __ATOMIC_RELAXED),
                __atomic_load_n(&g_ipc_limits.semopm, __ATOMIC_RELAXED),
                __atomic_load_n(&g_ipc_limits.semmni, __ATOMIC_RELAXED));
    return 0;
}

ssize_t proc_ipc_store_sem_limits(struct gen_inode *gi, const char *buf, size_t n)
{
    uint64_t v[4];
    if (parse_nums(buf, n, v, 4) != 4)
        return -EINVAL;
    for (int i = 0; i < 4; i++)
        if (v[i] > INT32_MAX)
            return -EINVAL;
    if (v[3] > IPC_MNI)
        return -EINVAL; /* Linux: semmni is capped at IPCMNI */
    __atomic_store_n(&g_ipc_limits.semmsl, (int32_t)v[0], __ATOMIC_RELAXED);
    __atomic_store_n(&g_ipc_limits.semmns, (int32_t)v[1], __ATOMIC_RELAXED);
    __atomic_store_n(&g_ipc_limits.semopm, (int32_t)v[2], __ATOMIC_RELAXED);
    __atomic_store_n(&g_ipc_limits.semmni, (int32_t)v[3], __ATOMIC_RELAXED);
    return (ssize_t)n;
}

const struct gen_entry g_proc_sys_fs_mqueue[] = {
        PROC_IPC_ENTRY("msg_default", mq_msg_default),
        PROC_IPC_ENTRY("msg_max", mq_msg_max),
        PROC_IPC_ENTRY("msgsize_default", mq_msgsize_default),
        PROC_IPC_ENTRY("msgsize_max", mq_msgsize_max),
        PROC_IPC_ENTRY("queues_max", mq_queues_max),
        {0},
};
