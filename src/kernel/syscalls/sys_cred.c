/*
 * Credentials: setuid, setgid, setreuid, setregid, setresuid, setresgid,
 * setfsuid, setfsgid, setgroups (getgroups is in sys_task.c), capget,
 * capset.
 *
 * The rules are Linux's credentials(7) with "privileged" meaning euid 0
 * (CAP_SETUID/CAP_SETGID). FIXME(issue 4): per-task capability sets applied
 * to moat's permission checks; until then capget reports the full set for
 * euid 0 and the empty set otherwise, and capset accepts only that.
 */
#include <errno.h>
#include <string.h>

#include "kernel/syscalls/syscall.h"
#include "lib/log.h"

#define ID_KEEP ((uint32_t)-1)

static bool privileged(const struct task *t)
{
    return t->cred.euid == 0;
}

/* Linux drops fsuid with euid, and all caps when the last 0 uid goes; with
 * euid-0 privilege only, updating fsuid is all there is to do. */
static void fix_fs_ids(struct task *t)
{
    t->cred.fsuid = t->cred.euid;
    t->cred.fsgid = t->cred.egid;
}

static bool one_of(uint32_t v, uint32_t a, uint32_t b, uint32_t c)
{
    return v == a || v == b || v == c;
}

static long sys_setuid(struct task *t, const struct sys_args *a)
{
    uint32_t uid = (uint32_t)a->arg[0];
    if (uid == ID_KEEP)
        return -EINVAL;
    if (privileged(t)) {
        t->cred.uid = t->cred.euid = t->cred.suid = uid;
    } else if (uid == t->cred.uid || uid == t->cred.suid) {
        t->cred.euid = uid;
    } else {
        return -EPERM;
    }
    fix_fs_ids(t);
    return 0;
}
SYSCALL_DEFINE(setuid, sys_setuid, "u", SYS_FULL, NULL);

static long sys_setgid(struct task *t, const struct sys_args *a)
{
    uint32_t gid = (uint32_t)a->arg[0];
    if (gid == ID_KEEP)
        return -EINVAL;
    if (privileged(t)) {
        t->cred.gid = t->cred.egid = t->cred.sgid = gid;
    } else if (gid == t->cred.gid || gid == t->cred.sgid) {
        t->cred.egid = gid;
    } else {
        return -EPERM;
    }
    fix_fs_ids(t);
    return 0;
}
SYSCALL_DEFINE(setgid, sys_setgid, "u", SYS_FULL, NULL);

static long set_res(struct task *t, uint32_t r, uint32_t e, uint32_t s, bool group)
{
    uint32_t *pr = group ? &t->cred.gid : &t->cred.uid;
    uint32_t *pe = group ? &t->cred.egid : &t->cred.euid;
    uint32_t *ps = group ? &t->cred.sgid : &t->cred.suid;
    if (!privileged(t)) {
        if ((r != ID_KEEP && !one_of(r, *pr, *pe, *ps)) ||
            (e != ID_KEEP && !one_of(e, *pr, *pe, *ps)) ||
            (s != ID_KEEP && !one_of(s, *pr, *pe, *ps)))
            return -EPERM;
    }
    if (r != ID_KEEP)
        *pr = r;
    if (e != ID_KEEP)
        *pe = e;
    if (s != ID_KEEP)
        *ps = s;
    fix_fs_ids(t);
    return 0;
}

static long sys_setresuid(struct task *t, const struct sys_args *a)
{
    return set_res(t, (uint32_t)a->arg[0], (uint32_t)a->arg[1], (uint32_t)a->arg[2], false);
}
SYSCALL_DEFINE(setresuid, sys_setresuid, "uuu", SYS_FULL, NULL);

static long sys_setresgid(struct task *t, const struct sys_args *a)
{
    return set_res(t, (uint32_t)a->arg[0], (uint32_t)a->arg[1], (uint32_t)a->arg[2], true);
}
SYSCALL_DEFINE(setresgid, sys_setresgid, "uuu", SYS_FULL, NULL);

/* setreuid/setregid: the saved id follows the new effective one when the
 * real one is set or the effective one changes to something else. */
static long set_re(struct task *t, uint32_t r, uint32_t e, bool group)
{
    uint32_t oldr = group ? t->cred.gid : t->cred.uid;
    uint32_t olde = group ? t->cred.egid : t->cred.euid;
    uint32_t olds = group ? t->cred.sgid : t->cred.suid;
    if (!privileged(t)) {
        if (r != ID_KEEP && r != oldr && r != olde)
            return -EPERM;
        if (e != ID_KEEP && !one_of(e, oldr, olde, olds))
            return -EPERM;
    }
    uint32_t s = ID_KEEP;
    if (r != ID_KEEP || (e != ID_KEEP && e != oldr))
        s = e != ID_KEEP ? e : olde;
    return set_res(t, r, e, s, group) == 0 ? 0 : -EPERM;
}

static long sys_setreuid(struct task *t, const struct sys_args *a)
{
    return set_re(t, (uint32_t)a->arg[0], (uint32_t)a->arg[1], false);
}
SYSCALL_DEFINE(setreuid, sys_setreuid, "uu", SYS_FULL, NULL);

static long sys_setregid(struct task *t, const struct sys_args *a)
{
    return set_re(t, (uint32_t)a->arg[0], (uint32_t)a->arg[1], true);
}
SYSCALL_DEFINE(setregid, sys_setregid, "uu", SYS_FULL, NULL);

static long sys_setfsuid(struct task *t, const struct sys_args *a)
{
    uint32_t old = t->cred.fsuid, id = (uint32_t)a->arg[0];
    if (id != ID_KEEP && (privileged(t) || one_of(id, t->cred.uid, t->cred.euid, t->cred.suid) ||
                          id == t->cred.fsuid))
        t->cred.fsuid = id;
    return old;
}
SYSCALL_DEFINE(setfsuid, sys_setfsuid, "u", SYS_FULL, NULL);

static long sys_setfsgid(struct task *t, const struct sys_args *a)
{
    uint32_t old = t->cred.fsgid, id = (uint32_t)a->arg[0];
    if (id != ID_KEEP && (privileged(t) || one_of(id, t->cred.gid, t->cred.egid, t->cred.sgid) ||
                          id == t->cred.fsgid))
        t->cred.fsgid = id;
    return old;
}
SYSCALL_DEFINE(setfsgid, sys_setfsgid, "u", SYS_FULL, NULL);

static long sys_setgroups(struct task *t, const struct sys_args *a)
{
    int n = (int)a->arg[0];
    if (n < 0 || n > 65536)
        return -EINVAL;
    if (!privileged(t))
        return -EPERM;
    /* FIXME(issue 4): keep the list for permission checks and getgroups. */
    if (n > 0) {
        uint32_t first;
        if (copy_in(t, &first, a->arg[1], sizeof(first)) < 0)
            return -EFAULT;
    }
    if (n != 0)
        log_warn_once("setgroups: supplementary groups are not kept yet");
    return 0;
}
SYSCALL_DEFINE(setgroups, sys_setgroups, "dp", SYS_PARTIAL,
               "accepted for root; supplementary groups are not kept yet");

struct cap_header {
    uint32_t version;
    int32_t pid;
};

struct cap_data {
    uint32_t effective, permitted, inheritable;
};

#define CAP_V1 0x19980330
#define CAP_V2 0x20071026
#define CAP_V3 0x20080522
#define CAP_LAST 40

static long cap_header_check(struct task *t, uint64_t hdr_addr, struct cap_header *h,
                             int *out_words)
{
    if (copy_in(t, h, hdr_addr, sizeof(*h)) < 0)
        return -EFAULT;
    if (h->version == CAP_V1) {
        *out_words = 1;
    } else if (h->version == CAP_V2 || h->version == CAP_V3) {
        *out_words = 2;
    } else {
        uint32_t v3 = CAP_V3;
        copy_out(t, hdr_addr, &v3, sizeof(v3));
        return -EINVAL;
    }
    if (h->pid < 0)
        return -EINVAL;
    return 0;
}

static long sys_capget(struct task *t, const struct sys_args *a)
{
    struct cap_header h;
    int words;
    long r = cap_header_check(t, a->arg[0], &h, &words);
    if (r < 0)
        return a->arg[1] || r != -EINVAL ? r : 0;
    if (h.pid != 0 && h.pid != t->tid) {
        struct thread_group *tg = task_lookup_tg(h.pid);
        if (!tg)
            return -ESRCH;
        tg_put(tg);
    }
    if (!a->arg[1])
        return 0;
    struct cap_data d[2];
    memset(d, 0, sizeof(d));
    if (privileged(t)) {
        d[0].effective = d[0].permitted = 0xffffffff;
        d[1].effective = d[1].permitted = (1u << (CAP_LAST - 31)) - 1;
    }
    return copy_out(t, a->arg[1], d, (size_t)words * sizeof(d[0]));
}
SYSCALL_DEFINE(capget, sys_capget, "pp", SYS_PARTIAL,
               "full set for euid 0, empty otherwise; per-task sets come later");

static long sys_capset(struct task *t, const struct sys_args *a)
{
    struct cap_header h;
    int words;
    long r = cap_header_check(t, a->arg[0], &h, &words);
    if (r < 0)
        return r;
    if (h.pid != 0 && h.pid != t->tid)
        return -EPERM;
    struct cap_data d[2];
    memset(d, 0, sizeof(d));
    if (copy_in(t, d, a->arg[1], (size_t)words * sizeof(d[0])) < 0)
        return -EFAULT;
    /* Raising above the permitted set is never allowed. */
    uint32_t perm0 = privileged(t) ? 0xffffffff : 0;
    uint32_t perm1 = privileged(t) ? (1u << (CAP_LAST - 31)) - 1 : 0;
    if ((d[0].permitted & ~perm0) || (d[1].permitted & ~perm1) ||
        (d[0].effective & ~d[0].permitted) || (d[1].effective & ~d[1].permitted))
        return -EPERM;
    if (d[0].permitted != perm0 || (words == 2 && d[1].permitted != perm1)) {
        log_warn_once("capset: dropping capabilities is not tracked yet");
        return -EPERM;
    }
    return 0;
}
SYSCALL_DEFINE(capset, sys_capset, "pp", SYS_PARTIAL,
               "only the current set is accepted; dropping capabilities comes later");
