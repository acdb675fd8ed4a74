/*
 * Credentials: user and group ids, supplementary groups, capability sets
 * and securebits, with Linux's rules (credentials(7), capabilities(7)).
 *
 * A task's cred is changed only by the task itself, through
 * task_commit_cred(), which takes g_tasks_lock; other threads read a task's
 * cred under g_tasks_lock (kill permission, /proc, capget). The task reads
 * its own cred without a lock.
 */
#ifndef MOAT_KERNEL_TASK_CRED_H
#define MOAT_KERNEL_TASK_CRED_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/refcount.h"

/* Capability numbers (linux/capability.h). */
enum {
    CAP_CHOWN = 0,
    CAP_DAC_OVERRIDE = 1,
    CAP_DAC_READ_SEARCH = 2,
    CAP_FOWNER = 3,
    CAP_FSETID = 4,
    CAP_KILL = 5,
    CAP_SETGID = 6,
    CAP_SETUID = 7,
    CAP_SETPCAP = 8,
    CAP_LINUX_IMMUTABLE = 9,
    CAP_NET_BIND_SERVICE = 10,
    CAP_NET_BROADCAST = 11,
    CAP_NET_ADMIN = 12,
    CAP_NET_RAW = 13,
    CAP_IPC_LOCK = 14,
    CAP_IPC_OWNER = 15,
    CAP_SYS_MODULE = 16,
    CAP_SYS_RAWIO = 17,
    CAP_SYS_CHROOT = 18,
    CAP_SYS_PTRACE = 19,
    CAP_SYS_PACCT = 20,
    CAP_SYS_ADMIN = 21,
    CAP_SYS_BOOT = 22,
    CAP_SYS_NICE = 23,
    CAP_SYS_RESOURCE = 24,
    CAP_SYS_TIME = 25,
    CAP_SYS_TTY_CONFIG = 26,
    CAP_MKNOD = 27,
    CAP_LEASE = 28,
    CAP_AUDIT_WRITE = 29,
    CAP_AUDIT_CONTROL = 30,
    CAP_SETFCAP = 31,
    CAP_MAC_OVERRIDE = 32,
    CAP_MAC_ADMIN = 33,
    CAP_SYSLOG = 34,
    CAP_WAKE_ALARM = 35,
    CAP_BLOCK_SUSPEND = 36,
    CAP_AUDIT_READ = 37,
    CAP_PERFMON = 38,
    CAP_BPF = 39,
    CAP_CHECKPOINT_RESTORE = 40,
    CAP_LAST_CAP = CAP_CHECKPOINT_RESTORE,
};

#define CAP_BIT(c)    (1ULL << (c))
#define CAP_FULL_SET  ((1ULL << (CAP_LAST_CAP + 1)) - 1)
#define CAP_VALID(c)  ((c) >= 0 && (c) <= CAP_LAST_CAP)

/* securebits (linux/securebits.h): each bit has a lock bit above it. */
#define SECBIT_NOROOT                 (1u << 0)
#define SECBIT_NO_SETUID_FIXUP        (1u << 2)
#define SECBIT_KEEP_CAPS              (1u << 4)
#define SECBIT_KEEP_CAPS_LOCKED       (1u << 5)
#define SECBIT_NO_CAP_AMBIENT_RAISE   (1u << 6)
#define SECBIT_ALL_BITS               0x55u
#define SECBIT_ALL_LOCKS              0xaau

#define NGROUPS_MAX_LINUX 65536

/* An immutable, shared list of supplementary groups, sorted ascending. */
struct group_info {
    struct refcount ref;
    int ngroups;
    uint32_t gid[];
};

struct cred {
    uint32_t uid, euid, suid, fsuid;
    uint32_t gid, egid, sgid, fsgid;
    uint64_t cap_inheritable, cap_permitted, cap_effective, cap_bset, cap_ambient;
    uint32_t securebits;
    struct group_info *groups; /* counted; NULL: none */
};

/* The cred of the kernel's own work (no task): root with every capability. */
#define CRED_KERNEL_INIT                                                                  \
    {                                                                                     \
        .cap_permitted = CAP_FULL_SET, .cap_effective = CAP_FULL_SET,                     \
        .cap_bset = CAP_FULL_SET                                                          \
    }

/* A new list of N groups (unsorted GIDS, copied), or NULL for ENOMEM. */
struct group_info *group_info_new(const uint32_t *gids, int n);
void group_info_get(struct group_info *g);
void group_info_put(struct group_info *g);

/* Copies SRC into DST with a new reference on its groups. */
void cred_copy(struct cred *dst, const struct cred *src);
/* Drops C's group reference. */
void cred_release(struct cred *c);

/* True if C has capability CAP in its effective set. */
static inline bool cred_capable(const struct cred *c, int cap)
{
    return CAP_VALID(cap) && (c->cap_effective & CAP_BIT(cap));
}
/* True if GID is C's fsgid or one of its supplementary groups. */
bool cred_in_group(const struct cred *c, uint32_t gid);

/* Linux's ptrace_may_access() in a read mode, credentials part: CALLER's
 * real (FSCREDS false) or filesystem ids are every uid and every gid of
 * TARGET, or CALLER has CAP_SYS_PTRACE. (Same-process access is the
 * caller's to allow before asking.) */
bool cred_may_ptrace_read(const struct cred *caller, const struct cred *target, bool fscreds);

/* Linux's cap_emulate_setxuid: what a change of uids from OLD to C does to
 * C's capabilities (unless SECBIT_NO_SETUID_FIXUP). */
void cred_fixup_setuid(struct cred *c, const struct cred *old);
/* The same for a change of fsuid alone (setfsuid). */
void cred_fixup_setfsuid(struct cred *c, const struct cred *old);

/* execve's transformation of C (cap_bprm_creds_from_file) for a file
 * without file capabilities, owned by FILE_UID/FILE_GID with MODE, on a
 * mount that honours set-id bits if SUID_OK. NO_NEW_PRIVS: the task's
 * flag. Returns true for a privilege-raising exec (AT_SECURE). */
bool cred_exec(struct cred *c, uint32_t mode, uint32_t file_uid, uint32_t file_gid, bool suid_ok,
               bool no_new_privs);

#endif
