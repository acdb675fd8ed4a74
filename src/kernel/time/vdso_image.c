/*
 * The vDSO: clock_gettime, gettimeofday, time, clock_getres and getcpu
 * answered in the app's own address space from the data page (vdso_data.h),
 * so they cost a TSC read instead of a trap into moat's kernel.
 *
 * Built freestanding as a position-independent shared object (vdso.lds) and
 * embedded in moat (vdso_embed.py); it may hold no relocations, no data and
 * no calls outside itself. Exports follow Linux's x86-64 vDSO (vdso(7)):
 * __vdso_* and the plain names, at version LINUX_2.6.
 *
 * Where the data page cannot answer (no usable TSC, a clock it does not
 * carry), the function makes the real syscall, which moat traps and
 * answers, and returns its result (-errno on failure) as Linux's vDSO does.
 */
#include <stdint.h>

#include "kernel/time/vdso_data.h"

#define NSEC_PER_SEC 1000000000LL

/* Clock ids and syscall numbers of the x86-64 Linux ABI. */
enum {
    VCLOCK_REALTIME = 0,
    VCLOCK_MONOTONIC = 1,
    VCLOCK_REALTIME_COARSE = 5,
    VCLOCK_MONOTONIC_COARSE = 6,
    VCLOCK_BOOTTIME = 7,
    VCLOCK_TAI = 11,
};
enum {
    VSYS_gettimeofday = 96,
    VSYS_time = 201,
    VSYS_clock_gettime = 228,
    VSYS_clock_getres = 229,
};

struct vdso_timespec {
    int64_t tv_sec;
    int64_t tv_nsec;
};
struct vdso_timeval {
    int64_t tv_sec;
    int64_t tv_usec;
};
struct vdso_timezone {
    int32_t tz_minuteswest;
    int32_t tz_dsttime;
};

/* The data page, one page below the image (placed by vdso.lds). Not const:
 * the kernel changes it under us, and a const object may be assumed not to
 * change even across a compiler barrier. Read-only in fact (mapped so). */
extern struct vdso_data vdso_vvar __attribute__((visibility("hidden")));

#define barrier() __asm__ __volatile__("" ::: "memory")

static long vsyscall2(long nr, long a0, long a1)
{
    long ret;
    __asm__ __volatile__("syscall"
                         : "=a"(ret)
                         : "0"(nr), "D"(a0), "S"(a1)
                         : "rcx", "r11", "memory");
    return ret;
}

/* The TSC, read after every earlier load has completed (so a read of the
 * data page cannot pair with a TSC value taken before it). */
static inline uint64_t tsc_read_ordered(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

/* CLOCK_MONOTONIC in ns plus the offset of clock ID; false if the data
 * page cannot answer (the caller makes the syscall). */
static inline int vvar_read(int id, int64_t *out_ns)
{
    const struct vdso_data *d = &vdso_vvar;
    for (;;) {
        uint32_t seq = d->seq;
        barrier();
        if (seq & 1) {
            __asm__ __volatile__("pause");
            continue;
        }
        if (d->mode != VDSO_MODE_TSC)
            return 0;
        uint64_t base = d->tsc_base, mult = d->mult, mono = d->mono_ns;
        uint32_t shift = d->shift;
        int64_t off = 0;
        if (id == VCLOCK_REALTIME || id == VCLOCK_REALTIME_COARSE)
            off = d->real_off_ns;
        else if (id == VCLOCK_BOOTTIME)
            off = d->boot_off_ns;
        else if (id == VCLOCK_TAI)
            off = d->real_off_ns + d->tai_off_ns;
        uint64_t tsc = tsc_read_ordered();
        barrier();
        if (d->seq != seq)
            continue;
        uint64_t delta = tsc > base ? tsc - base : 0;
        mono += (uint64_t)(((unsigned __int128)delta * mult) >> shift);
        *out_ns = (int64_t)mono + off;
        return 1;
    }
}

static inline int clock_in_page(int id)
{
    return id == VCLOCK_REALTIME || id == VCLOCK_MONOTONIC || id == VCLOCK_BOOTTIME ||
           id == VCLOCK_TAI || id == VCLOCK_REALTIME_COARSE || id == VCLOCK_MONOTONIC_COARSE;
}

int __vdso_clock_gettime(int id, struct vdso_timespec *ts);
int __vdso_clock_gettime(int id, struct vdso_timespec *ts)
{
    int64_t ns;
    if (!clock_in_page(id) || !vvar_read(id, &ns))
        return (int)vsyscall2(VSYS_clock_gettime, id, (long)ts);
    int64_t sec = ns / NSEC_PER_SEC, rem = ns % NSEC_PER_SEC;
    if (rem < 0) {
        rem += NSEC_PER_SEC;
        sec--;
    }
    ts->tv_sec = sec;
    ts->tv_nsec = rem;
    return 0;
}

int __vdso_gettimeofday(struct vdso_timeval *tv, struct vdso_timezone *tz);
int __vdso_gettimeofday(struct vdso_timeval *tv, struct vdso_timezone *tz)
{
    int64_t ns;
    if (!vvar_read(VCLOCK_REALTIME, &ns))
        return (int)vsyscall2(VSYS_gettimeofday, (long)tv, (long)tz);
    if (tv) {
        int64_t us = ns / 1000;
        int64_t sec = us / 1000000, rem = us % 1000000;
        if (rem < 0) {
            rem += 1000000;
            sec--;
        }
        tv->tv_sec = sec;
        tv->tv_usec = rem;
    }
    if (tz) {
        /* moat keeps no kernel timezone: as its gettimeofday syscall. */
        tz->tz_minuteswest = 0;
        tz->tz_dsttime = 0;
    }
    return 0;
}

int64_t __vdso_time(int64_t *t);
int64_t __vdso_time(int64_t *t)
{
    int64_t ns;
    if (!vvar_read(VCLOCK_REALTIME, &ns))
        return vsyscall2(VSYS_time, (long)t, 0);
    int64_t sec = ns / NSEC_PER_SEC;
    if (ns < 0 && sec * NSEC_PER_SEC != ns)
        sec--;
    if (t)
        *t = sec;
    return sec;
}

int __vdso_clock_getres(int id, struct vdso_timespec *res);
int __vdso_clock_getres(int id, struct vdso_timespec *res)
{
    const struct vdso_data *d = &vdso_vvar;
    if (!clock_in_page(id) || d->mode != VDSO_MODE_TSC)
        return (int)vsyscall2(VSYS_clock_getres, id, (long)res);
    int64_t ns = d->hres_res_ns;
    if (id == VCLOCK_REALTIME_COARSE || id == VCLOCK_MONOTONIC_COARSE)
        ns = d->coarse_res_ns;
    if (res) {
        res->tv_sec = ns / NSEC_PER_SEC;
        res->tv_nsec = ns % NSEC_PER_SEC;
    }
    return 0;
}

/* getcpu(2): the CPU and NUMA node from TSC_AUX, which Linux sets to
 * node << 12 | cpu on every CPU; 0 and 0 where rdtscp is missing. The
 * cache argument is unused, as in Linux since 2.6.24. */
int __vdso_getcpu(unsigned *cpu, unsigned *node, void *cache);
int __vdso_getcpu(unsigned *cpu, unsigned *node, void *cache)
{
    (void)cache;
    uint32_t aux = 0;
    if (vdso_vvar.cpu_flags & VDSO_CPU_RDTSCP) {
        uint32_t lo, hi;
        __asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    }
    if (cpu)
        *cpu = aux & 0xfff;
    if (node)
        *node = aux >> 12;
    return 0;
}

/* The plain names, as Linux exports them too. */
int clock_gettime(int id, struct vdso_timespec *ts)
        __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct vdso_timeval *tv, struct vdso_timezone *tz)
        __attribute__((weak, alias("__vdso_gettimeofday")));
int64_t time(int64_t *t) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int id, struct vdso_timespec *res)
        __attribute__((weak, alias("__vdso_clock_getres")));
int getcpu(unsigned *cpu, unsigned *node, void *cache)
        __attribute__((weak, alias("__vdso_getcpu")));

/* An ELF note naming the kernel version apps see (uname -r 6.1.0), as
 * Linux's vDSO carries; older glibc read it. */
struct vdso_note {
    uint32_t namesz, descsz, type;
    char name[8];
    uint32_t version;
};
#define VDSO_NOTE_SECTION __attribute__((section(".note.Linux"), aligned(4), used))
static const struct vdso_note g_linux_note VDSO_NOTE_SECTION = {6, 4, 0, "Linux",
                                                                (6u << 16) | (1u << 8) | 0};
