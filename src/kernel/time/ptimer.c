/* POSIX per-process timers (see ptimer.h). */
#include "kernel/time/ptimer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/host/host.h"
#include "kernel/signal/signal.h"
#include "kernel/task/ktimer.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/refcount.h"

#define CLK_REALTIME         0
#define CLK_MONOTONIC        1
#define CLK_PROCESS_CPUTIME  2
#define CLK_THREAD_CPUTIME   3
#define CLK_MONOTONIC_RAW    4
#define CLK_REALTIME_COARSE  5
#define CLK_MONOTONIC_COARSE 6
#define CLK_BOOTTIME         7
#define CLK_REALTIME_ALARM   8
#define CLK_BOOTTIME_ALARM   9
#define CLK_TAI              11

#define SIGEV_SIGNAL_L    0
#define SIGEV_NONE_L      1
#define SIGEV_THREAD_L    2
#define SIGEV_THREAD_ID_L 4
#define SI_TIMER_L        (-2)

/* Timers per process, a sanity bound besides RLIMIT_SIGPENDING (each
 * timer holds an entry of it, as in Linux). */
#define PTIMER_MAX 4096
/* The shortest wait before a CPU-time timer looks at the clock again. */
#define CPU_RECHECK_MIN_NS 100000ULL

struct ptimer {
    struct refcount ref;
    struct list_head link;       /* (g) tg->lock: in ptimer_set.list */
    int id;                      /* (c) */
    int clockid;                 /* (c) */
    struct ptimer_event ev;      /* (c) */
    int cpu_tid;                 /* (c) THREAD_CPUTIME: the thread whose time counts */
    struct thread_group *tg;     /* (c) not counted: deleted before their process is freed */
    struct ktimer kt;
    pthread_mutex_t lock;
    bool deleted;                /* (l) */
    uint64_t deadline;           /* (l) next expiry (monotonic ns, or CPU ns); 0 = disarmed */
    uint64_t interval;           /* (l) ns */
    struct sigqueue_owner owner; /* (s) tg->sighand->lock */
    uint32_t charged_uid;        /* (c) charged one entry of RLIMIT_SIGPENDING */
};

struct ptimer_set {
    struct list_head list; /* (g) tg->lock */
    int next_id;           /* (g) */
    int count;             /* (g) */
};

static bool is_cpu_clock(int clockid)
{
    return clockid == CLK_PROCESS_CPUTIME || clockid == CLK_THREAD_CPUTIME;
}

static void ptimer_put(struct ptimer *pt)
{
    if (!pt || !refcount_dec(&pt->ref))
        return;
    signal_uncharge_prealloc(pt->charged_uid);
    pthread_mutex_destroy(&pt->lock);
    free(pt);
}

/* The CPU time PT counts, or false if its thread is gone. */
static bool cpu_now(struct ptimer *pt, uint64_t *out)
{
    uint64_t u = 0, s = 0;
    if (pt->clockid == CLK_PROCESS_CPUTIME) {
        tg_cputime(pt->tg, &u, &s);
        *out = u + s;
        return true;
    }
    bool found = false;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *t;
    list_for_each_entry(t, &pt->tg->threads, thread_node) {
        if (t->tid == pt->cpu_tid) {
            task_cputime(t, false, &u, &s);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&g_tasks_lock);
    *out = u + s;
    return found;
}

/* The current time on PT's clock base: monotonic ns or CPU ns. */
static uint64_t base_now(struct ptimer *pt)
{
    if (is_cpu_clock(pt->clockid)) {
        uint64_t c = 0;
        cpu_now(pt, &c);
        return c;
    }
    return host_monotonic_ns();
}

/* Arms the service for PT's deadline. Caller holds pt->lock. */
static void arm_locked(struct ptimer *pt, uint64_t now_base)
{
    if (!pt->deadline || pt->deleted || pt->ev.notify == SIGEV_NONE_L)
        return;
    if (!is_cpu_clock(pt->clockid)) {
        ktimer_arm(&pt->kt, pt->deadline, 0);
        return;
    }
    /* CPU time grows at most host_nr_cpus() times as fast as wall time. */
    uint64_t left = pt->deadline > now_base ? pt->deadline - now_base : 0;
    int ncpu = host_nr_cpus();
    uint64_t wait = left / (uint64_t)(ncpu > 0 ? ncpu : 1);
    if (wait < CPU_RECHECK_MIN_NS)
        wait = CPU_RECHECK_MIN_NS;
    ktimer_arm(&pt->kt, host_monotonic_ns() + wait, 0);
}

static void ptimer_fire(struct ktimer *k, void *arg)
{
    struct ptimer *pt = arg;
    (void)k;
    pthread_mutex_lock(&pt->lock);
    if (pt->deleted || !pt->deadline) {
        pthread_mutex_unlock(&pt->lock);
        return;
    }
    uint64_t now = base_now(pt);
    if (now < pt->deadline) {
        /* Early (CPU time not there yet) or a stale wake-up. */
        arm_locked(pt, now);
        pthread_mutex_unlock(&pt->lock);
        return;
    }
    uint64_t n = 1;
    if (pt->interval) {
        n += (now - pt->deadline) / pt->interval;
        pt->deadline += n * pt->interval;
        arm_locked(pt, now);
    } else {
        pt->deadline = 0;
    }
    pthread_mutex_unlock(&pt->lock);

    struct linux_siginfo info;
    memset(&info, 0, sizeof(info));
    info.si_code = SI_TIMER_L;
    info.timer.tid = pt->id;
    info.timer.overrun = n - 1 > INT32_MAX ? INT32_MAX : (int32_t)(n - 1);
    info.timer.value = pt->ev.value;
    pthread_mutex_lock(&g_tasks_lock);
    if (pt->ev.notify == SIGEV_THREAD_ID_L) {
        struct task *t;
        list_for_each_entry(t, &pt->tg->threads, thread_node) {
            if (t->tid == pt->ev.tid) {
                signal_send_owned_locked(NULL, t, pt->ev.signo, &info, &pt->owner);
                break;
            }
        }
    } else {
        signal_send_owned_locked(pt->tg, NULL, pt->ev.signo, &info, &pt->owner);
    }
    pthread_mutex_unlock(&g_tasks_lock);
}

static bool thread_in_tg(struct thread_group *tg, int tid)
{
    bool found = false;
    pthread_mutex_lock(&g_tasks_lock);
    struct task *t;
    list_for_each_entry(t, &tg->threads, thread_node)
        found |= t->tid == tid;
    pthread_mutex_unlock(&g_tasks_lock);
    return found;
}

static int check_clock(int clockid)
{
    switch (clockid) {
    case CLK_REALTIME:
    case CLK_MONOTONIC:
    case CLK_PROCESS_CPUTIME:
    case CLK_THREAD_CPUTIME:
    case CLK_BOOTTIME:
    case CLK_TAI:
        return 0;
    case CLK_MONOTONIC_RAW:
    case CLK_REALTIME_COARSE:
    case CLK_MONOTONIC_COARSE:
        return -EOPNOTSUPP; /* clocks without timers, as in Linux */
    case CLK_REALTIME_ALARM:
    case CLK_BOOTTIME_ALARM:
        log_warn_once("timer_create: alarm clocks are not supported (no RTC wake-ups)");
        return -EOPNOTSUPP;
    default:
        if (clockid < 0)
            log_warn_once("timer_create: CPU clocks of other processes are not supported");
        return -EINVAL;
    }
}

int ptimer_create(struct task *t, int clockid, const struct ptimer_event *ev, int *out_id)
{
    int r = check_clock(clockid);
    if (r < 0)
        return r;
    /* Each timer holds a signal queue entry of RLIMIT_SIGPENDING for its
     * life (Linux preallocates it, before looking at the event). */
    uint32_t uid;
    r = signal_charge_prealloc(t, &uid);
    if (r < 0)
        return r;
    struct ptimer_event e = {SIGEV_SIGNAL_L, SIGALRM, 0, 0};
    if (ev) {
        e = *ev;
        switch (e.notify) {
        case SIGEV_THREAD_ID_L:
            if (!thread_in_tg(t->tg, e.tid))
                r = -EINVAL;
            /* fall through */
        case SIGEV_SIGNAL_L:
        case SIGEV_THREAD_L: /* the C library's business: a signal to the process */
            if (e.signo <= 0 || e.signo > LINUX_NSIG)
                r = -EINVAL;
            break;
        case SIGEV_NONE_L:
            break;
        default:
            r = -EINVAL;
        }
    }
    struct ptimer *pt = r < 0 ? NULL : calloc(1, sizeof(*pt));
    if (!pt) {
        signal_uncharge_prealloc(uid);
        return r < 0 ? r : -ENOMEM;
    }
    pt->charged_uid = uid;
    refcount_init(&pt->ref);
    pthread_mutex_init(&pt->lock, NULL);
    pt->clockid = clockid;
    pt->ev = e;
    pt->cpu_tid = t->tid;
    pt->tg = t->tg;
    ktimer_init(&pt->kt, ptimer_fire, pt);

    struct thread_group *tg = t->tg;
    pthread_mutex_lock(&tg->lock);
    if (!tg->ptimers) {
        tg->ptimers = calloc(1, sizeof(*tg->ptimers));
        if (tg->ptimers)
            list_init(&tg->ptimers->list);
    }
    struct ptimer_set *set = tg->ptimers;
    if (!set || set->count >= PTIMER_MAX) {
        pthread_mutex_unlock(&tg->lock);
        ptimer_put(pt);
        return set ? -EAGAIN : -ENOMEM;
    }
    /* The lowest free id from the rolling counter, as Linux hands them out. */
    for (;;) {
        int id = set->next_id;
        set->next_id = set->next_id == INT32_MAX ? 0 : set->next_id + 1;
        bool used = false;
        struct ptimer *o;
        list_for_each_entry(o, &set->list, link)
            used |= o->id == id;
        if (!used) {
            pt->id = id;
            break;
        }
    }
    if (!ev)
        pt->ev.value = (uint64_t)pt->id;
    list_add_tail(&pt->link, &set->list);
    set->count++;
    pthread_mutex_unlock(&tg->lock);
    *out_id = pt->id;
    return 0;
}

/* Timer ID of TG, or NULL (tg->lock held). */
static struct ptimer *find_locked(struct thread_group *tg, int id)
{
    struct ptimer *pt;
    if (!tg->ptimers)
        return NULL;
    list_for_each_entry(pt, &tg->ptimers->list, link) {
        if (pt->id == id)
            return pt;
    }
    return NULL;
}

/* Timer ID of T's process with a new reference, or NULL. */
static struct ptimer *lookup(struct task *t, int id)
{
    struct thread_group *tg = t->tg;
    pthread_mutex_lock(&tg->lock);
    struct ptimer *found = find_locked(tg, id);
    if (found)
        refcount_inc(&found->ref);
    pthread_mutex_unlock(&tg->lock);
    return found;
}

/* Ends PT once it is off the set: no callback runs after this, and its
 * queued signal is dropped. Consumes the set's reference. */
static void destroy(struct ptimer *pt)
{
    pthread_mutex_lock(&pt->lock);
    pt->deleted = true;
    pthread_mutex_unlock(&pt->lock);
    ktimer_cancel(&pt->kt);
    pthread_mutex_lock(&g_tasks_lock);
    signal_disown_locked(pt->tg, &pt->owner);
    pthread_mutex_unlock(&g_tasks_lock);
    ptimer_put(pt);
}

int ptimer_delete(struct task *t, int id)
{
    struct thread_group *tg = t->tg;
    pthread_mutex_lock(&tg->lock);
    struct ptimer *found = find_locked(tg, id);
    if (found) {
        list_del(&found->link);
        tg->ptimers->count--;
    }
    pthread_mutex_unlock(&tg->lock);
    if (!found)
        return -EINVAL;
    destroy(found);
    return 0;
}

void ptimer_delete_all(struct thread_group *tg)
{
    pthread_mutex_lock(&tg->lock);
    struct ptimer_set *set = tg->ptimers;
    tg->ptimers = NULL;
    pthread_mutex_unlock(&tg->lock);
    if (!set)
        return;
    struct ptimer *pt, *n;
    list_for_each_entry_safe(pt, n, &set->list, link) {
        list_del(&pt->link);
        destroy(pt);
    }
    free(set);
}

/* Time left and interval. Caller holds pt->lock. */
static void get_locked(struct ptimer *pt, uint64_t *out_value, uint64_t *out_interval)
{
    *out_interval = pt->interval;
    *out_value = 0;
    if (!pt->deadline)
        return;
    uint64_t now = base_now(pt);
    uint64_t next = pt->deadline;
    if (next <= now && pt->interval)
        next += ((now - next) / pt->interval + 1) * pt->interval;
    if (next > now)
        *out_value = next - now;
    else if (pt->ev.notify != SIGEV_NONE_L)
        *out_value = 1; /* due: its signal is on the way */
}

int ptimer_gettime(struct task *t, int id, uint64_t *out_value, uint64_t *out_interval)
{
    struct ptimer *pt = lookup(t, id);
    if (!pt)
        return -EINVAL;
    pthread_mutex_lock(&pt->lock);
    get_locked(pt, out_value, out_interval);
    pthread_mutex_unlock(&pt->lock);
    ptimer_put(pt);
    return 0;
}

/* The time on CLOCKID (a wall clock) in ns. */
static uint64_t wall_now(int clockid)
{
    int64_t s, ns;
    if (host_clock_gettime(clockid, &s, &ns) < 0)
        return host_monotonic_ns();
    return (uint64_t)s * 1000000000ULL + (uint64_t)ns;
}

int ptimer_settime(struct task *t, int id, bool abstime, uint64_t value, uint64_t interval,
                   uint64_t *out_value, uint64_t *out_interval)
{
    struct ptimer *pt = lookup(t, id);
    if (!pt)
        return -EINVAL;
    ktimer_cancel(&pt->kt);
    pthread_mutex_lock(&pt->lock);
    uint64_t ov, oi;
    get_locked(pt, &ov, &oi);
    if (out_value)
        *out_value = ov;
    if (out_interval)
        *out_interval = oi;
    pt->deadline = 0;
    pt->interval = value ? interval : 0;
    if (value) {
        uint64_t now = base_now(pt);
        uint64_t deadline;
        if (is_cpu_clock(pt->clockid)) {
            deadline = abstime ? value : now + value;
        } else if (abstime) {
            uint64_t cnow = wall_now(pt->clockid);
            deadline = value > cnow ? now + (value - cnow) : now;
        } else {
            deadline = now + value;
        }
        pt->deadline = deadline ? deadline : 1;
        if (pt->deadline <= now) {
            /* Already due: the service runs it at once. */
            if (pt->ev.notify != SIGEV_NONE_L)
                ktimer_arm(&pt->kt, host_monotonic_ns(), 0);
        } else {
            arm_locked(pt, now);
        }
    }
    pthread_mutex_unlock(&pt->lock);
    /* A new setting starts a new overrun count. */
    pthread_mutex_lock(&pt->tg->sighand->lock);
    pt->owner.last_overrun = 0;
    pthread_mutex_unlock(&pt->tg->sighand->lock);
    ptimer_put(pt);
    return 0;
}

int ptimer_getoverrun(struct task *t, int id)
{
    struct ptimer *pt = lookup(t, id);
    if (!pt)
        return -EINVAL;
    pthread_mutex_lock(&pt->tg->sighand->lock);
    int o = pt->owner.last_overrun;
    pthread_mutex_unlock(&pt->tg->sighand->lock);
    ptimer_put(pt);
    return o;
}
