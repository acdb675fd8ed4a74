/* Wait queues and task sleeps (see waitq.h for the protocol). */
#include "kernel/task/waitq.h"

#include <errno.h>

#include "kernel/host/host.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task.h"

void waitq_init(struct waitq *wq)
{
    pthread_mutex_init(&wq->lock, NULL);
    list_init(&wq->waiters);
}

void waitq_add(struct waitq *wq, struct waiter *w, struct task *t)
{
    w->task = t;
    w->func = NULL;
    pthread_mutex_lock(&wq->lock);
    list_add_tail(&w->link, &wq->waiters);
    pthread_mutex_unlock(&wq->lock);
}

void waitq_add_func(struct waitq *wq, struct waiter *w, waiter_func_t *func)
{
    w->task = NULL;
    w->func = func;
    pthread_mutex_lock(&wq->lock);
    list_add_tail(&w->link, &wq->waiters);
    pthread_mutex_unlock(&wq->lock);
}

void waitq_del(struct waitq *wq, struct waiter *w)
{
    pthread_mutex_lock(&wq->lock);
    list_del(&w->link);
    pthread_mutex_unlock(&wq->lock);
}

void waitq_wake_key(struct waitq *wq, unsigned key)
{
    struct waiter *w;
    pthread_mutex_lock(&wq->lock);
    list_for_each_entry(w, &wq->waiters, link) {
        if (w->func)
            w->func(w, key);
        else
            task_wake(w->task);
    }
    pthread_mutex_unlock(&wq->lock);
}

void waitq_wake_all(struct waitq *wq)
{
    waitq_wake_key(wq, 0);
}

uint32_t task_wake_seq(struct task *t)
{
    return __atomic_load_n(&t->wake_seq, __ATOMIC_ACQUIRE);
}

void task_wake(struct task *t)
{
    __atomic_add_fetch(&t->wake_seq, 1, __ATOMIC_RELEASE);
    host_futex_wake(&t->wake_seq, 1);
}

int task_sleep(struct task *t, uint32_t seq, uint64_t deadline_ns)
{
    for (;;) {
        if (signal_pending(t))
            return -EINTR;
        if (task_wake_seq(t) != seq)
            return 0;
        if (deadline_ns && host_monotonic_ns() >= deadline_ns)
            return -ETIMEDOUT;
        int r = host_futex_wait(&t->wake_seq, seq, deadline_ns);
        if (r == -ETIMEDOUT)
            return signal_pending(t) ? -EINTR : -ETIMEDOUT;
    }
}
