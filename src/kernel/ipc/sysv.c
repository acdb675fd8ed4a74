/*
 * The SysV IPC tables shared by shared memory, semaphores and message
 * queues: ids, keys and permissions (see sysv.h).
 */
#include "kernel/ipc/sysv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/host/host.h"
#include "kernel/task/task.h"

struct ipc_limits g_ipc_limits = {
        .shmmax = UINT64_MAX - (1ULL << 24),
        .shmall = UINT64_MAX - (1ULL << 24),
        .shmmni = 4096,
        .semmsl = 32000,
        .semmns = 1024000000,
        .semopm = 500,
        .semmni = 32000,
        .msgmax = 8192,
        .msgmnb = 16384,
        .msgmni = 32000,
        .mq_queues_max = 256,
        .mq_msg_max = 10,
        .mq_msgsize_max = 8192,
        .mq_msg_default = 10,
        .mq_msgsize_default = 8192,
};

int ipc_ids_add(struct ipc_ids *ids, struct ipc_obj *o, int max)
{
    if (ids->in_use >= max || ids->in_use >= IPC_MNI)
        return -ENOSPC;
    if (ids->nslots == 0)
        ids->last_idx = -1;
    /* Cyclic, as Linux's idr_alloc_cyclic: after the last one handed out. */
    int idx = -1;
    for (int n = 0; n < IPC_MNI; n++) {
        int i = (ids->last_idx + 1 + n) % IPC_MNI;
        if (i >= ids->nslots || !ids->slot[i]) {
            idx = i;
            break;
        }
    }
    if (idx < 0)
        return -ENOSPC;
    if (idx >= ids->nslots) {
        int n = ids->nslots ? ids->nslots : 16;
        while (n <= idx)
            n *= 2;
        if (n > IPC_MNI)
            n = IPC_MNI;
        struct ipc_obj **s = realloc(ids->slot, (size_t)n * sizeof(*s));
        if (!s)
            return -ENOMEM;
        memset(s + ids->nslots, 0, (size_t)(n - ids->nslots) * sizeof(*s));
        ids->slot = s;
        ids->nslots = n;
    }
    if (idx <= ids->last_idx) {
        ids->seq++;
        if (ids->seq >= (INT32_MAX >> IPC_SEQ_SHIFT))
            ids->seq = 0;
    }
    ids->last_idx = idx;
    o->seq = (uint16_t)ids->seq;
    o->id = (ids->seq << IPC_SEQ_SHIFT) + idx;
    o->deleted = false;
    ids->slot[idx] = o;
    ids->in_use++;
    return 0;
}

void ipc_ids_remove(struct ipc_ids *ids, struct ipc_obj *o)
{
    int idx = o->id % IPC_MNI;
    if (idx < ids->nslots && ids->slot[idx] == o) {
        ids->slot[idx] = NULL;
        ids->in_use--;
    }
    o->deleted = true;
}

struct ipc_obj *ipc_ids_find_key(struct ipc_ids *ids, int32_t key)
{
    for (int i = 0; i < ids->nslots; i++)
        if (ids->slot[i] && ids->slot[i]->key == key)
            return ids->slot[i];
    return NULL;
}

struct ipc_obj *ipc_ids_find_id(struct ipc_ids *ids, int id)
{
    if (id < 0)
        return NULL;
    struct ipc_obj *o = ipc_ids_at(ids, id % IPC_MNI);
    return o && o->id == id ? o : NULL;
}

struct ipc_obj *ipc_ids_at(struct ipc_ids *ids, int idx)
{
    if (idx < 0 || idx >= ids->nslots)
        return NULL;
    return ids->slot[idx];
}

int ipc_ids_max_idx(struct ipc_ids *ids)
{
    for (int i = ids->nslots - 1; i >= 0; i--)
        if (ids->slot[i])
            return i;
    return -1;
}

int ipc_check_perms(const struct cred *cred, const struct ipc_obj *o, int flag)
{
    int requested = (flag >> 6) | (flag >> 3) | flag;
    int granted = (int)o->mode;
    if (cred->euid == o->cuid || cred->euid == o->uid)
        granted >>= 6;
    else if (cred_in_group(cred, o->cgid) || cred_in_group(cred, o->gid))
        granted >>= 3;
    if ((requested & ~granted & 07) && !cred_capable(cred, CAP_IPC_OWNER))
        return -EACCES;
    return 0;
}

bool ipc_may_control(const struct cred *cred, const struct ipc_obj *o)
{
    return cred->euid == o->uid || cred->euid == o->cuid || cred_capable(cred, CAP_SYS_ADMIN);
}

void ipc_fill_perm(const struct ipc_obj *o, struct linux_ipc64_perm *out)
{
    memset(out, 0, sizeof(*out));
    out->key = o->key;
    out->uid = o->uid;
    out->gid = o->gid;
    out->cuid = o->cuid;
    out->cgid = o->cgid;
    out->mode = o->mode;
    out->seq = o->seq;
}

void ipc_set_perm(struct ipc_obj *o, const struct linux_ipc64_perm *in)
{
    o->uid = in->uid;
    o->gid = in->gid;
    o->mode = (o->mode & ~0777u) | (in->mode & 0777u);
}

void ipc_obj_init(struct ipc_obj *o, const struct cred *cred, int32_t key, int flags)
{
    o->key = key;
    o->uid = o->cuid = cred->euid;
    o->gid = o->cgid = cred->egid;
    o->mode = (uint32_t)flags & 0777;
}

long ipc_get_existing(const struct cred *cred, const struct ipc_obj *o, int flags, bool fits)
{
    if ((flags & LINUX_IPC_CREAT) && (flags & LINUX_IPC_EXCL))
        return -EEXIST;
    if (!fits)
        return -EINVAL;
    int r = ipc_check_perms(cred, o, flags);
    return r < 0 ? r : o->id;
}

long ipc_stat_lookup(struct ipc_ids *ids, const struct cred *cred, int id, bool by_id, bool any,
                     struct ipc_obj **out)
{
    struct ipc_obj *o = by_id ? ipc_ids_find_id(ids, id) : ipc_ids_at(ids, id);
    *out = o;
    if (!o)
        return -EINVAL;
    if (!any) {
        int r = ipc_check_perms(cred, o, 0444);
        if (r < 0)
            return r;
    }
    return by_id ? 0 : o->id;
}

struct ipc_obj *ipc_ctl_lookup(struct ipc_ids *ids, const struct cred *cred, int id, long *err)
{
    struct ipc_obj *o = ipc_ids_find_id(ids, id);
    if (!o) {
        *err = -EINVAL;
        return NULL;
    }
    if (!ipc_may_control(cred, o)) {
        *err = -EPERM;
        return NULL;
    }
    return o;
}

int64_t ipc_now(void)
{
    int64_t s = 0, ns = 0;
    host_clock_gettime(CLOCK_REALTIME, &s, &ns);
    return s;
}
