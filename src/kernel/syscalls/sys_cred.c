/*
 * Credentials: setuid, setgid, setreuid, setregid, setresuid, setresgid,
 * setfsuid, setfsgid, setgroups, getgroups, capget, capset.
 *
 * The rules are Linux's credentials(7) and capabilities(7): changing ids
 * needs CAP_SETUID / CAP_SETGID, and a change of uids adjusts the
 * capability sets (kernel/task/cred.c). Files have no file capabilities.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/syscalls/syscall.h"
#include "kernel/task/task_internal.h"
#include "lib/log.h"

#define ID_KEEP ((uint32_t)-1)

static bool one_of(uint32_t v, uint32_t a, uint32_t b, uint32_t c)
{
    return v == a || v == b || v == c;
}

/* Commits NEW (a copy of T's cred with the same group reference) after a
 * change of uids: the capability fix-ups of Linux's cap_task_fix_setuid. */
static void commit_uids(struct task *t, struct cred *new)
{
    new->fsuid = new->euid;
    cred_fixup_setuid(new, &t->cred);
    group_info_get(new->groups);
    task_commit_cred(t, new);
}

static void commit_gids(struct task *t, struct cred *new)
{
    new->fsgid = new->egid;
    group_info_get(new->groups);
    task_commit_cred(t, new);
}

static long sys_setuid(struct task *t, const struct sys_args *a)
{
    uint32_t uid = (uint32_t)a->arg[0];
    struct cred c = t->cred;
    if (uid == ID_KEEP)
        return -EINVAL;
    if (task_capable(t, CAP_SETUID))
        c.uid = c.suid = uid;
    else if (uid != c.uid && uid != c.suid)
        return -EPERM;
    c.euid = uid;
    commit_uids(t, &c);
    return 0;
}
SYSCALL_DEFINE(setuid, sys_setuid, "u", SYS_FULL, NULL);

static long sys_setgid(struct task *t, const struct sys_args *a)
{
    uint32_t gid = (uint32_t)a->arg[0];
    struct cred c = t->cred;
    if (gid == ID_KEEP)
        return -EINVAL;
    if (task_capable(t, CAP_SETGID))
        c.gid = c.sgid = gid;
    else if (gid != c.gid && gid != c.sgid)
        return -EPERM;
    c.egid = gid;
    commit_gids(t, &c);
    return 0;
}
SYSCALL_DEFINE(setgid, sys_setgid, "u", SYS_FULL, NULL);

static long set_res(struct task *t, uint32_t r, uint32_t e, uint32_t s, bool group)
{
    struct cred c = t->cred;
    uint32_t *pr = group ? &c.gid : &c.uid;
    uint32_t *pe = group ? &c.egid : &c.euid;
    uint32_t *ps = group ? &c.sgid : &c.suid;
    if (!task_capable(t, group ? CAP_SETGID : CAP_SETUID)) {
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
    if (group)
        commit_gids(t, &c);
    else
        commit_uids(t, &c);
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
    if (!task_capable(t, group ? CAP_SETGID : CAP_SETUID)) {
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
    if (id == ID_KEEP || id == old)
        return old;
    if (one_of(id, t->cred.uid, t->cred.euid, t->cred.suid) || task_capable(t, CAP_SETUID)) {
        struct cred c = t->cred;
        c.fsuid = id;
        cred_fixup_setfsuid(&c, &t->cred);
        group_info_get(c.groups);
        task_commit_cred(t, &c);
    }
    return old;
}
SYSCALL_DEFINE(setfsuid, sys_setfsuid, "u", SYS_FULL, NULL);

static long sys_setfsgid(struct task *t, const struct sys_args *a)
{
    uint32_t old = t->cred.fsgid, id = (uint32_t)a->arg[0];
    if (id == ID_KEEP || id == old)
        return old;
    if (one_of(id, t->cred.gid, t->cred.egid, t->cred.sgid) || task_capable(t, CAP_SETGID)) {
        struct cred c = t->cred;
        c.fsgid = id;
        group_info_get(c.groups);
        task_commit_cred(t, &c);
    }
    return old;
}
SYSCALL_DEFINE(setfsgid, sys_setfsgid, "u", SYS_FULL, NULL);

static long sys_setgroups(struct task *t, const struct sys_args *a)
{
    int n = (int)a->arg[0];
    if (!task_capable(t, CAP_SETGID))
        return -EPERM;
    if ((unsigned)n > NGROUPS_MAX_LINUX)
        return -EINVAL;
    uint32_t *gids = NULL;
    if (n > 0) {
        gids = malloc((size_t)n * sizeof(uint32_t));
        if (!gids)
            return -ENOMEM;
        if (copy_in(t, gids, a->arg[1], (size_t)n * sizeof(uint32_t)) < 0) {
            free(gids);
            return -EFAULT;
        }
    }
    struct cred c = t->cred;
    c.groups = NULL;
    if (n > 0) {
        c.groups = group_info_new(gids, n);
        free(gids);
        if (!c.groups)
            return -ENOMEM;
    }
    task_commit_cred(t, &c);
    return 0;
}
SYSCALL_DEFINE(setgroups, sys_setgroups, "dp", SYS_FULL, NULL);

static long sys_getgroups(struct task *t, const struct sys_args *a)
{
    int size = (int)a->arg[0];
    const struct group_info *g = t->cred.groups;
    int n = g ? g->ngroups : 0;
    if (size < 0)
        return -EINVAL;
    if (size == 0)
        return n;
    if (size < n)
        return -EINVAL;
    if (n && copy_out(t, a->arg[1], g->gid, (size_t)n * sizeof(uint32_t)) < 0)
        return -EFAULT;
    return n;
}
SYSCALL_DEFINE(getgroups, sys_getgroups, "dp", SYS_FULL, NULL);

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
        if (copy_out(t, hdr_addr, &v3, sizeof(v3)) < 0)
            return -EFAULT;
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
    struct cred c;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *target = h.pid == 0 ? t : task_lookup_tid_locked(h.pid);
    if (target)
        c = target->cred;
    pthread_mutex_unlock(&g_tasks_lock);
    if (!target)
        return -ESRCH;
    if (!a->arg[1])
        return 0;
    struct cap_data d[2] = {
        {(uint32_t)c.cap_effective, (uint32_t)c.cap_permitted, (uint32_t)c.cap_inheritable},
        {(uint32_t)(c.cap_effective >> 32), (uint32_t)(c.cap_permitted >> 32),
         (uint32_t)(c.cap_inheritable >> 32)},
    };
    return copy_out(t, a->arg[1], d, (size_t)words * sizeof(d[0]));
}
SYSCALL_DEFINE(capget, sys_capget, "pp", SYS_FULL, NULL);

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
    uint64_t eff = ((uint64_t)d[1].effective << 32 | d[0].effective) & CAP_FULL_SET;
    uint64_t prm = ((uint64_t)d[1].permitted << 32 | d[0].permitted) & CAP_FULL_SET;
    uint64_t inh = ((uint64_t)d[1].inheritable << 32 | d[0].inheritable) & CAP_FULL_SET;
    const struct cred *old = &t->cred;
    /* capabilities(7): without CAP_SETPCAP the inheritable set stays
     * within the old inheritable and permitted sets; never beyond the
     * bounding set; permitted only shrinks; effective within permitted. */
    if (!task_capable(t, CAP_SETPCAP) &&
        (inh & ~(old->cap_inheritable | old->cap_permitted)))
        return -EPERM;
    if (inh & ~(old->cap_inheritable | old->cap_bset))
        return -EPERM;
    if (prm & ~old->cap_permitted)
        return -EPERM;
    if (eff & ~prm)
        return -EPERM;
    struct cred c = t->cred;
    c.cap_effective = eff;
    c.cap_permitted = prm;
    c.cap_inheritable = inh;
    c.cap_ambient &= prm & inh;
    group_info_get(c.groups);
    task_commit_cred(t, &c);
    return 0;
}
SYSCALL_DEFINE(capset, sys_capset, "pp", SYS_FULL, NULL);
