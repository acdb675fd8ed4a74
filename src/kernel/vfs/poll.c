/* Poll tables and vfs_poll (see poll.h). */
#include "kernel/vfs/poll.h"

#include <errno.h>
#include <stdlib.h>

#include "kernel/vfs/vfs_fs.h"

void poll_table_init(struct poll_table *pt, struct task *t)
{
    pt->task = t;
    pt->qproc = NULL;
    pt->priv = NULL;
    pt->entries = NULL;
    pt->n = pt->cap = 0;
    pt->error = 0;
}

void poll_wait(struct poll_table *pt, struct waitq *wq)
{
    if (!pt || !wq)
        return;
    if (pt->qproc) {
        pt->qproc(pt, wq);
        return;
    }
    if (pt->n == pt->cap) {
        int cap = pt->cap ? pt->cap * 2 : 8;
        struct poll_entry **e = realloc(pt->entries, (size_t)cap * sizeof(*e));
        if (!e) {
            pt->error = -ENOMEM;
            return;
        }
        pt->entries = e;
        pt->cap = cap;
    }
    /* Each entry has its own allocation: queued waiters never move. */
    struct poll_entry *pe = malloc(sizeof(*pe));
    if (!pe) {
        pt->error = -ENOMEM;
        return;
    }
    pe->wq = wq;
    waitq_add(wq, &pe->w, pt->task);
    pt->entries[pt->n++] = pe;
}

void poll_table_free(struct poll_table *pt)
{
    for (int i = 0; i < pt->n; i++) {
        waitq_del(pt->entries[i]->wq, &pt->entries[i]->w);
        free(pt->entries[i]);
    }
    free(pt->entries);
    pt->entries = NULL;
    pt->n = pt->cap = 0;
}

unsigned vfs_poll(struct file *f, struct poll_table *pt)
{
    if (!f->ops->poll)
        return POLL_DEFAULT_MASK;
    return f->ops->poll(f, pt);
}
