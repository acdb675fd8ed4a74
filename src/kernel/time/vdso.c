/*
 * The kernel side of the vDSO: the data page and the time thread that keeps
 * it in step with the host clocks.
 *
 * One timeline, CLOCK_MONOTONIC, is extrapolated from the TSC; the other
 * clocks are offsets from it (vdso_data.h). Each refresh samples the TSC and
 * the host clocks together and republishes the parameters so that the
 * published curve stays continuous (no step, so monotonic never goes back)
 * while steering towards the host: the new rate is the host's measured rate
 * over the last interval plus whatever corrects the remaining error by the
 * next refresh. The error is then bounded by how much the host's rate
 * changes within a second (NTP slews a few ppm: well under 1 us).
 *
 * The TSC is used only when CPUID says it is invariant (constant rate in
 * every P/C-state, Linux's constant_tsc + nonstop_tsc). Otherwise, or if
 * the host and the TSC ever disagree by more than VDSO_MAX_ERR_NS, the page
 * says VDSO_MODE_SYSCALL and the vDSO makes real (trapped) syscalls.
 */
#include "kernel/time/vdso.h"

#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "abi/linux/types.h"
#include "kernel/host/host.h"
#include "kernel/mm/memfile.h"
#include "kernel/mm/mm.h"
#include "kernel/time/vdso_data.h"
#include "lib/log.h"
#include "lib/util.h"

/* The image, embedded by vdso_embed.py: page-multiple size, linked at 0. */
extern const unsigned char g_vdso_image[];
extern const size_t g_vdso_image_size;

#define NSEC_PER_SEC       1000000000LL
#define VDSO_SHIFT         32
/* The first rate estimate spans 2 ms (longer while the samples are too
 * noisy for it), so that short-lived sandboxes (a program start takes tens
 * of ms) read clocks without trapping; refreshes then come after 10, 50
 * and 250 ms, then every second, each steering onto the host's rate. */
#define VDSO_CALIBRATE_NS     2000000LL
#define VDSO_CALIBRATE_MAX_NS 100000000LL
#define VDSO_REFRESH_SEC      1
#define VDSO_MAX_ERR_NS    20000000LL /* beyond this the TSC is not trusted */
#define VDSO_OFF_JITTER_NS 500        /* offset changes smaller than this are noise */

_Static_assert(sizeof(struct vdso_data) <= VDSO_DATA_SIZE && VDSO_DATA_SIZE == PAGE_SIZE,
               "the data page is one page");

static pthread_once_t g_vdso_once = PTHREAD_ONCE_INIT;
static int g_vdso_init_err;           /* (c) after g_vdso_once */
static uint64_t g_vdso_data_off;      /* (c) memory-file offset of the data page */
static struct vdso_data *g_vdso_data; /* (c) kernel view of the page; time thread writes */

/* One reading of the TSC and the host clocks, taken close together. */
struct vdso_sample {
    uint64_t tsc;
    int64_t mono;     /* CLOCK_MONOTONIC at tsc, ns */
    int64_t real_off; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
    int64_t boot_off; /* CLOCK_BOOTTIME - CLOCK_MONOTONIC */
    int64_t tai_off;  /* CLOCK_TAI - CLOCK_REALTIME, whole seconds */
};

/* The time thread's state (only it touches these). */
static struct vdso_sample g_prev; /* the sample the current rate came from */

static uint64_t tsc_ordered(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static int64_t host_ns(int clock)
{
    int64_t s = 0, ns = 0;
    host_clock_gettime(clock, &s, &ns);
    return s * NSEC_PER_SEC + ns;
}

/* CPUID says the TSC runs at a constant rate through all power states. */
static bool tsc_invariant(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
        return false;
    __get_cpuid(0x80000007, &a, &b, &c, &d);
    return d & (1u << 8);
}

static bool cpu_has_rdtscp(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000001, &a, &b, &c, &d))
        return false;
    return d & (1u << 27);
}

/* Takes the tightest of a few tries: the monotonic reading is placed at the
 * middle of the two TSC reads around it, each offset between monotonic
 * readings on both sides of it. */
static uint64_t take_sample(struct vdso_sample *out)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t1 = tsc_ordered();
        int64_t m1 = host_ns(CLOCK_MONOTONIC);
        uint64_t t2 = tsc_ordered();
        int64_t real = host_ns(CLOCK_REALTIME);
        int64_t m2 = host_ns(CLOCK_MONOTONIC);
        int64_t boot = host_ns(CLOCK_BOOTTIME);
        int64_t m3 = host_ns(CLOCK_MONOTONIC);
        int64_t tai = host_ns(CLOCK_TAI);
        int64_t real2 = host_ns(CLOCK_REALTIME);
        if (t2 - t1 >= best)
            continue;
        best = t2 - t1;
        out->tsc = t1 + (t2 - t1) / 2;
        out->mono = m1;
        out->real_off = real - m1 - (m2 - m1) / 2;
        out->boot_off = boot - m2 - (m3 - m2) / 2;
        /* TAI - UTC is a whole number of seconds (0 where never set). */
        int64_t tai_off = tai - real2;
        out->tai_off = (tai_off + NSEC_PER_SEC / 2) / NSEC_PER_SEC * NSEC_PER_SEC;
    }
    return best; /* the TSC window the monotonic reading lies in */
}

/* The vDSO's CLOCK_MONOTONIC at TSC with the published parameters: the
 * same arithmetic as vdso_image.c, so the kernel can continue the curve. */
static uint64_t curve_at(const struct vdso_data *d, uint64_t tsc)
{
    uint64_t delta = tsc > d->tsc_base ? tsc - d->tsc_base : 0;
    return d->mono_ns + (uint64_t)(((unsigned __int128)delta * d->mult) >> d->shift);
}

/* ns per tick << VDSO_SHIFT, from two samples. */
static uint64_t rate_between(const struct vdso_sample *a, const struct vdso_sample *b)
{
    return (uint64_t)(((unsigned __int128)(uint64_t)(b->mono - a->mono) << VDSO_SHIFT) /
                      (b->tsc - a->tsc));
}

static void write_begin(struct vdso_data *d)
{
    d->seq++;
    /* The odd seq must be visible before the TSC read that follows (see
     * publish): a full fence, then the lfence in tsc_ordered. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void write_end(struct vdso_data *d)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* stores stay in order on x86 */
    d->seq++;
}

/* Offsets that moved by less than the sampling noise keep their old value,
 * so CLOCK_REALTIME does not wobble by a few ns every second. */
static void set_offsets(struct vdso_data *d, const struct vdso_sample *s, bool force)
{
    if (force || llabs(s->real_off - d->real_off_ns) > VDSO_OFF_JITTER_NS) {
        if (!force)
            log_debug("vdso: CLOCK_REALTIME steps by %lld ns",
                      (long long)(s->real_off - d->real_off_ns));
        d->real_off_ns = s->real_off;
    }
    if (force || llabs(s->boot_off - d->boot_off_ns) > VDSO_OFF_JITTER_NS)
        d->boot_off_ns = s->boot_off;
    d->tai_off_ns = s->tai_off;
}

/* Starts the curve at sample S with rate MULT (a step: only before the
 * page is in TSC mode). */
static void publish_first(struct vdso_data *d, const struct vdso_sample *s, uint64_t mult)
{
    write_begin(d);
    d->shift = VDSO_SHIFT;
    d->mult = mult;
    d->tsc_base = s->tsc;
    d->mono_ns = (uint64_t)s->mono;
    set_offsets(d, s, true);
    d->mode = VDSO_MODE_TSC;
    write_end(d);
}

static void publish_syscall_mode(struct vdso_data *d)
{
    write_begin(d);
    d->mode = VDSO_MODE_SYSCALL;
    write_end(d);
}

/* One refresh from sample S, the next one NEXT_NS later. Returns false
 * when the TSC cannot be trusted any more. */
static bool refresh(struct vdso_data *d, const struct vdso_sample *s, int64_t next_ns)
{
    if (s->tsc <= g_prev.tsc || s->mono <= g_prev.mono)
        return false;
    int64_t err = s->mono - (int64_t)curve_at(d, s->tsc); /* > 0: the curve is behind */
    if (err > VDSO_MAX_ERR_NS || err < -VDSO_MAX_ERR_NS) {
        log_warn("vdso: the TSC and the host's CLOCK_MONOTONIC differ by %lld ns; "
                 "clock reads trap from now on",
                 (long long)err);
        return false;
    }
    uint64_t host_rate = rate_between(&g_prev, s);
    /* Steer: cancel ERR by the next refresh, slewing at most 1/1024
     * (~1000 ppm). */
    uint64_t interval = (uint64_t)((unsigned __int128)(s->tsc - g_prev.tsc) * (uint64_t)next_ns /
                                   (uint64_t)(s->mono - g_prev.mono));
    if (interval == 0)
        interval = 1;
    __int128 corr = (__int128)err * ((__int128)1 << VDSO_SHIFT) / (__int128)interval;
    __int128 limit = host_rate >> 10;
    corr = corr > limit ? limit : corr < -limit ? -limit : corr;
    uint64_t mult = (uint64_t)((__int128)host_rate + corr);

    write_begin(d);
    /* Continue the curve from now: a reader that got the old parameters
     * read the TSC before this point (its seq check would fail otherwise),
     * so it saw at most curve_at(now), where the new curve starts. */
    uint64_t now = tsc_ordered();
    d->mono_ns = curve_at(d, now);
    d->tsc_base = now;
    d->mult = mult;
    set_offsets(d, s, false);
    write_end(d);
    g_prev = *s;
    log_debug("vdso: refresh err %lld ns, rate %llu", (long long)err, (unsigned long long)mult);
    return true;
}

static void *vdso_time_thread(void *arg)
{
    struct vdso_data *d = arg;
    struct vdso_sample s;

    uint64_t w0 = take_sample(&g_prev), w1;
    for (int64_t span = VDSO_CALIBRATE_NS;; span *= 2) {
        host_nanosleep(0, span);
        w1 = take_sample(&s);
        if (s.tsc <= g_prev.tsc || s.mono <= g_prev.mono)
            return NULL; /* stays in syscall mode */
        /* The windows (preemption widens them) bound the rate's error:
         * at most 1/2000 (500 ppm, 1 us over the 2 ms before the next
         * refresh), or the longest span there is. */
        if ((w0 + w1) * 2000 <= s.tsc - g_prev.tsc || span >= VDSO_CALIBRATE_MAX_NS)
            break;
    }
    publish_first(d, &s, rate_between(&g_prev, &s));
    g_prev = s;
    static const int64_t early_ns[] = {10000000, 40000000, 200000000, 750000000};
    int64_t wait_ns = early_ns[0];
    for (size_t k = 0;; k++) {
        int64_t next_ns = k + 1 < sizeof(early_ns) / sizeof(early_ns[0]) ? early_ns[k + 1]
                                                                         : VDSO_REFRESH_SEC * NSEC_PER_SEC;
        while (host_nanosleep(wait_ns / NSEC_PER_SEC, wait_ns % NSEC_PER_SEC) == -EINTR)
            ;
        take_sample(&s);
        if (!refresh(d, &s, next_ns)) {
            publish_syscall_mode(d);
            return NULL;
        }
        wait_ns = next_ns;
    }
}

static void vdso_init(void)
{
    int64_t s, ns;
    int r = memfile_alloc(PAGE_SIZE, &g_vdso_data_off);
    if (r < 0) {
        g_vdso_init_err = r;
        return;
    }
    g_vdso_data = memfile_ptr(g_vdso_data_off);
    memset(g_vdso_data, 0, PAGE_SIZE);
    g_vdso_data->mode = VDSO_MODE_SYSCALL;
    g_vdso_data->cpu_flags = cpu_has_rdtscp() ? VDSO_CPU_RDTSCP : 0;
    g_vdso_data->hres_res_ns =
            host_clock_getres(CLOCK_MONOTONIC, &s, &ns) == 0 ? s * NSEC_PER_SEC + ns : 1;
    g_vdso_data->coarse_res_ns = host_clock_getres(CLOCK_MONOTONIC_COARSE, &s, &ns) == 0
                                         ? s * NSEC_PER_SEC + ns
                                         : 4000000;
    if (!tsc_invariant()) {
        log_info("vdso: the TSC is not invariant; clock reads trap");
        return;
    }
    /* The thread blocks every signal: host signals are for task threads. */
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSYS); /* the kernel's seccomp filter reports through it */
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&thread, &attr, vdso_time_thread, g_vdso_data);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (r != 0)
        log_warn("vdso: no time thread (%s); clock reads trap", strerror(r));
}

int vdso_map(struct mm *mm, uint64_t *out_base)
{
    pthread_once(&g_vdso_once, vdso_init);
    if (g_vdso_init_err < 0)
        return g_vdso_init_err;

    uint64_t addr;
    uint64_t len = VDSO_DATA_SIZE + g_vdso_image_size;
    int r = mm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0,
                    &addr);
    if (r < 0)
        return r;
    uint64_t base = addr + VDSO_DATA_SIZE;
    r = mm_copy_out(mm, base, g_vdso_image, g_vdso_image_size);
    if (r == 0)
        r = mm_mprotect(mm, base, g_vdso_image_size, PROT_READ | PROT_EXEC);
    if (r == 0)
        r = mm_map_kernel_range(mm, addr, VDSO_DATA_SIZE, PROT_READ, g_vdso_data_off);
    if (r < 0) {
        mm_munmap(mm, addr, len);
        return r;
    }
    *out_base = base;
    return 0;
}
