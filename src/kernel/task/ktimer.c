/* The timer service (see ktimer.h). */
#include "kernel/task/ktimer.h"

#include <pthread.h>
#include <time.h>

#include "kernel/host/host.h"
#include "lib/log.h"
#include "lib/util.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond;          /* the service thread sleeps here */
static pthread_cond_t g_done;          /* a callback finished */
static struct list_head g_armed = LIST_HEAD_INIT(g_armed); /* (l) by deadline */
static struct ktimer *g_running;       /* (l) the timer whose callback runs */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void *ktimer_thread(void *arg)
{
    pthread_mutex_lock(&g_lock);
    for (;;) {
        if (list_empty(&g_armed)) {
            pthread_cond_wait(&g_cond, &g_lock);
            continue;
        }
        struct ktimer *k = list_first_entry(&g_armed, struct ktimer, link);
        uint64_t now = host_monotonic_ns();
        if (k->deadline > now) {
            struct timespec ts = {(time_t)(k->deadline / 1000000000ULL),
                                  (long)(k->deadline % 1000000000ULL)};
            pthread_cond_timedwait(&g_cond, &g_lock, &ts);
            continue;
        }
        list_del(&k->link);
        uint64_t gen = k->generation;
        if (k->interval) {
            /* Overruns collapse into one expiry, as for a late itimer. */
            uint64_t next = k->deadline + k->interval;
            if (next <= now)
                next = now + k->interval;
            k->deadline = next;
            struct ktimer *it;
            list_for_each_entry(it, &g_armed, link)
                if (it->deadline > next)
                    break;
            list_add_tail(&k->link, &it->link);
        } else {
            k->deadline = 0;
        }
        g_running = k;
        pthread_mutex_unlock(&g_lock);
        (void)gen;
        k->fire(k, k->arg);
        pthread_mutex_lock(&g_lock);
        g_running = NULL;
        pthread_cond_broadcast(&g_done);
    }
    return NULL;
}

static void ktimer_start(void)
{
    cond_init_monotonic(&g_cond);
    pthread_cond_init(&g_done, NULL);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, ktimer_thread, NULL) != 0)
        log_error("cannot start the timer service");
    pthread_attr_destroy(&attr);
}

void ktimer_init(struct ktimer *k, void (*fire)(struct ktimer *k, void *arg), void *arg)
{
    list_init(&k->link);
    k->deadline = 0;
    k->interval = 0;
    k->generation = 0;
    k->fire = fire;
    k->arg = arg;
}

static void unlink_locked(struct ktimer *k)
{
    if (k->deadline)
        list_del(&k->link);
    k->deadline = 0;
    k->generation++;
}

void ktimer_arm(struct ktimer *k, uint64_t deadline, uint64_t interval)
{
    pthread_once(&g_once, ktimer_start);
    if (!deadline)
        deadline = 1;
    pthread_mutex_lock(&g_lock);
    unlink_locked(k);
    k->deadline = deadline;
    k->interval = interval;
    struct ktimer *it;
    list_for_each_entry(it, &g_armed, link)
        if (it->deadline > deadline)
            break;
    list_add_tail(&k->link, &it->link);
    pthread_cond_signal(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

void ktimer_cancel(struct ktimer *k)
{
    pthread_once(&g_once, ktimer_start);
    pthread_mutex_lock(&g_lock);
    unlink_locked(k);
    k->interval = 0;
    while (g_running == k)
        pthread_cond_wait(&g_done, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

void ktimer_get(struct ktimer *k, uint64_t *out_deadline, uint64_t *out_interval)
{
    pthread_mutex_lock(&g_lock);
    *out_deadline = k->deadline;
    *out_interval = k->interval;
    pthread_mutex_unlock(&g_lock);
}
