/*
 * The vDSO data page ("vvar"): what the kernel publishes and the vDSO reads.
 * One memory-file page, written only by the kernel's time thread
 * (src/kernel/time/vdso.c) and mapped read-only into every address space,
 * one page below the vDSO image. Shared by the kernel and the freestanding
 * vDSO build, so it includes nothing but <stdint.h>.
 *
 * Clocks, all in ns:
 *   monotonic(tsc) = mono_ns + ((tsc - tsc_base) * mult) >> shift
 *   realtime       = monotonic + real_off_ns
 *   boottime       = monotonic + boot_off_ns
 *   tai            = realtime + tai_off_ns
 * (tsc - tsc_base) counts as 0 when negative: a CPU whose TSC lags the
 * writer's by a few cycles reads the base, never less.
 *
 * Seqlock: the writer makes SEQ odd, writes the fields, makes SEQ even.
 * A reader takes SEQ (retrying while odd), reads the fields and the TSC,
 * and retries if SEQ changed. x86-64 keeps loads in order with loads and
 * stores with stores (TSO), so compiler barriers suffice on both sides:
 *
 *   writer (kernel)            reader (vDSO, any process)
 *   seq = 1                    s = seq (0)
 *   mult = ...                 m = mult     <- may see old or new
 *   seq = 2                    seq != s ?   <- sees 1 or 2: retry
 */
#ifndef MOAT_KERNEL_TIME_VDSO_DATA_H
#define MOAT_KERNEL_TIME_VDSO_DATA_H

#include <stdint.h>

enum {
    VDSO_MODE_SYSCALL = 0, /* the vDSO makes the real syscall */
    VDSO_MODE_TSC = 1,     /* the fields below are valid */
};

enum {
    VDSO_CPU_RDTSCP = 1u << 0, /* rdtscp works and TSC_AUX holds node << 12 | cpu */
};

struct vdso_data {
    volatile uint32_t seq; /* odd while the kernel writes */
    uint32_t mode;         /* VDSO_MODE_* */
    uint32_t cpu_flags;    /* VDSO_CPU_*: set once, before the first mapping */
    uint32_t shift;
    uint64_t mult; /* ns per TSC tick, << shift */
    uint64_t tsc_base;
    uint64_t mono_ns;      /* CLOCK_MONOTONIC at tsc_base */
    int64_t real_off_ns;   /* CLOCK_REALTIME - CLOCK_MONOTONIC */
    int64_t boot_off_ns;   /* CLOCK_BOOTTIME - CLOCK_MONOTONIC */
    int64_t tai_off_ns;    /* CLOCK_TAI - CLOCK_REALTIME */
    int64_t hres_res_ns;   /* clock_getres of the clocks above */
    int64_t coarse_res_ns; /* clock_getres of the *_COARSE clocks */
};

#define VDSO_DATA_SIZE 4096 /* one page, just below the vDSO image */

#endif
