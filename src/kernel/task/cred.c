/*
 * Credentials: the capability rules of capabilities(7) (setuid fix-ups,
 * execve's transformation) and supplementary group lists.
 */
#include "kernel/task/cred.h"

#include <stdlib.h>
#include <string.h>

#define S_ISUID_L 04000
#define S_ISGID_L 02000
#define S_IXGRP_L 00010

/* What a change of fsuid away from 0 drops from the effective set. */
#define CAP_FS_SET                                                                          \
    (CAP_BIT(CAP_CHOWN) | CAP_BIT(CAP_MKNOD) | CAP_BIT(CAP_DAC_OVERRIDE) |                  \
     CAP_BIT(CAP_DAC_READ_SEARCH) | CAP_BIT(CAP_FOWNER) | CAP_BIT(CAP_FSETID) |             \
     CAP_BIT(CAP_MAC_OVERRIDE) | CAP_BIT(CAP_LINUX_IMMUTABLE))

static int gid_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

struct group_info *group_info_new(const uint32_t *gids, int n)
{
    struct group_info *g = malloc(sizeof(*g) + (size_t)n * sizeof(uint32_t));
    if (!g)
        return NULL;
    refcount_init(&g->ref);
    g->ngroups = n;
    if (n)
        memcpy(g->gid, gids, (size_t)n * sizeof(uint32_t));
    qsort(g->gid, (size_t)n, sizeof(uint32_t), gid_cmp);
    return g;
}

void group_info_get(struct group_info *g)
{
    if (g)
        refcount_inc(&g->ref);
}

void group_info_put(struct group_info *g)
{
    if (g && refcount_dec(&g->ref))
        free(g);
}

void cred_copy(struct cred *dst, const struct cred *src)
{
    *dst = *src;
    group_info_get(dst->groups);
}

void cred_release(struct cred *c)
{
    group_info_put(c->groups);
    c->groups = NULL;
}

bool cred_in_group(const struct cred *c, uint32_t gid)
{
    if (c->fsgid == gid)
        return true;
    const struct group_info *g = c->groups;
    if (!g)
        return false;
    int lo = 0, hi = g->ngroups - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (g->gid[mid] == gid)
            return true;
        if (g->gid[mid] < gid)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return false;
}

void cred_fixup_setuid(struct cred *c, const struct cred *old)
{
    if (c->securebits & SECBIT_NO_SETUID_FIXUP)
        return;
    bool had_root = old->uid == 0 || old->euid == 0 || old->suid == 0;
    bool has_root = c->uid == 0 || c->euid == 0 || c->suid == 0;
    if (had_root && !has_root) {
        if (!(c->securebits & SECBIT_KEEP_CAPS)) {
            c->cap_permitted = 0;
            c->cap_effective = 0;
        }
        c->cap_ambient = 0;
    }
    if (old->euid == 0 && c->euid != 0)
        c->cap_effective = 0;
    if (old->euid != 0 && c->euid == 0)
        c->cap_effective = c->cap_permitted;
}

void cred_fixup_setfsuid(struct cred *c, const struct cred *old)
{
    if (c->securebits & SECBIT_NO_SETUID_FIXUP)
        return;
    if (old->fsuid == 0 && c->fsuid != 0)
        c->cap_effective &= ~CAP_FS_SET;
    if (old->fsuid != 0 && c->fsuid == 0)
        c->cap_effective |= c->cap_permitted & CAP_FS_SET;
}

bool cred_exec(struct cred *c, uint32_t mode, uint32_t file_uid, uint32_t file_gid, bool suid_ok,
               bool no_new_privs)
{
    const struct cred old = *c;
    /* Set-id bits (ignored on nosuid mounts and under no_new_privs). */
    if (suid_ok && !no_new_privs) {
        if (mode & S_ISUID_L)
            c->euid = file_uid;
        if ((mode & (S_ISGID_L | S_IXGRP_L)) == (S_ISGID_L | S_IXGRP_L))
            c->egid = file_gid;
    }
    /* No file capabilities: pP' = 0 | pA', except that root is treated as
     * if the file had every capability (fP = fI = all, fE for euid 0). */
    c->cap_permitted = 0;
    bool effective = false;
    if (!(c->securebits & SECBIT_NOROOT)) {
        if (c->euid == 0 || c->uid == 0)
            c->cap_permitted = old.cap_bset | old.cap_inheritable;
        if (c->euid == 0)
            effective = true;
    }
    bool is_setid = c->euid != old.uid || c->egid != old.gid;
    bool gained = (c->cap_permitted & ~old.cap_permitted) != 0;
    if ((is_setid || gained) && no_new_privs) {
        c->euid = c->uid;
        c->egid = c->gid;
        c->cap_permitted &= old.cap_permitted;
    }
    c->suid = c->fsuid = c->euid;
    c->sgid = c->fsgid = c->egid;
    if (is_setid)
        c->cap_ambient = 0;
    c->cap_permitted |= c->cap_ambient;
    c->cap_effective = effective ? c->cap_permitted : c->cap_ambient;
    c->securebits &= ~SECBIT_KEEP_CAPS;
    return is_setid || (c->uid != 0 && (effective || (c->cap_permitted & ~c->cap_ambient)));
}

bool cred_may_ptrace_read(const struct cred *caller, const struct cred *target, bool fscreds)
{
    uint32_t uid = fscreds ? caller->fsuid : caller->uid;
    uint32_t gid = fscreds ? caller->fsgid : caller->gid;
    if (uid == target->uid && uid == target->euid && uid == target->suid && gid == target->gid &&
        gid == target->egid && gid == target->sgid)
        return true;
    return cred_capable(caller, CAP_SYS_PTRACE);
}
