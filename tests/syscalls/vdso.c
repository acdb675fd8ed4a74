/*
 * Probe: the vDSO. AT_SYSINFO_EHDR points at an ELF shared object that
 * exports __vdso_clock_gettime, __vdso_gettimeofday, __vdso_time and
 * __vdso_getcpu at version LINUX_2.6 (vdso(7)); called directly, they agree
 * with the raw syscalls, CLOCK_MONOTONIC never goes back (also across the
 * kernel's refreshes of the data page, and in a forked child), and a call
 * costs far less than a trap.
 */
#include <elf.h>
#include <sched.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

#define TOL_NS        50000LL    /* the vDSO against the syscall around it */
#define TOL_COARSE_NS 50000000LL /* coarse clocks tick every 1-10 ms */

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, struct timezone *);
typedef time_t (*time_fn)(time_t *);
typedef int (*getcpu_fn)(unsigned *, unsigned *, void *);
typedef int (*clock_getres_fn)(clockid_t, struct timespec *);

/* The loaded vDSO's dynamic symbol and version tables. */
struct vdso {
    uintptr_t bias;
    const Elf64_Sym *symtab;
    const char *strtab;
    const Elf64_Half *versym;
    const Elf64_Verdef *verdef;
    size_t nsyms;
    const char *soname;
    int have_hash;
};

static long long ns(const struct timespec *ts)
{
    return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int valid(const struct timespec *ts)
{
    return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

/* Number of symbols from DT_GNU_HASH: past the highest bucket, walk its
 * chain to the entry with the low bit set. */
static size_t gnu_hash_nsyms(const uint32_t *h)
{
    uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2];
    const uint32_t *buckets = h + 4 + bloom_size * 2; /* 64-bit bloom words */
    const uint32_t *chain = buckets + nbuckets;
    uint32_t last = 0;
    for (uint32_t i = 0; i < nbuckets; i++)
        if (buckets[i] > last)
            last = buckets[i];
    if (last < symoffset)
        return symoffset;
    while (!(chain[last - symoffset] & 1))
        last++;
    return last + 1;
}

static int vdso_open(uintptr_t base, struct vdso *v)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
    const Elf64_Dyn *dyn = NULL;
    int have_load = 0;
    memset(v, 0, sizeof(*v));
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && !have_load) {
            v->bias = base + ph[i].p_offset - ph[i].p_vaddr;
            have_load = 1;
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = (const Elf64_Dyn *)ph[i].p_vaddr; /* rebased below */
        }
    }
    T_TRUE(have_load, "the vDSO has a PT_LOAD");
    T_TRUE(dyn != NULL, "the vDSO has a PT_DYNAMIC");
    if (!have_load || !dyn)
        return -1;
    dyn = (const Elf64_Dyn *)((uintptr_t)dyn + v->bias);
    const uint32_t *hash = NULL, *gnu_hash = NULL;
    uintptr_t soname = 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t p = dyn->d_un.d_ptr + v->bias;
        switch (dyn->d_tag) {
        case DT_SYMTAB:
            v->symtab = (const Elf64_Sym *)p;
            break;
        case DT_STRTAB:
            v->strtab = (const char *)p;
            break;
        case DT_HASH:
            hash = (const uint32_t *)p;
            break;
        case DT_GNU_HASH:
            gnu_hash = (const uint32_t *)p;
            break;
        case DT_VERSYM:
            v->versym = (const Elf64_Half *)p;
            break;
        case DT_VERDEF:
            v->verdef = (const Elf64_Verdef *)p;
            break;
        case DT_SONAME:
            soname = dyn->d_un.d_val;
            break;
        }
    }
    v->have_hash = hash || gnu_hash;
    T_TRUE(v->symtab && v->strtab, "the vDSO has DT_SYMTAB and DT_STRTAB");
    T_TRUE(v->have_hash, "the vDSO has DT_HASH or DT_GNU_HASH");
    T_TRUE(v->versym && v->verdef, "the vDSO has DT_VERSYM and DT_VERDEF");
    if (!v->symtab || !v->strtab || !v->have_hash)
        return -1;
    v->nsyms = hash ? hash[1] : gnu_hash_nsyms(gnu_hash);
    v->soname = v->strtab + soname;
    return 0;
}

/* The name of version index NDX in DT_VERDEF, or NULL. */
static const char *vdso_version_name(const struct vdso *v, unsigned ndx)
{
    const Elf64_Verdef *d = v->verdef;
    for (;;) {
        if ((d->vd_ndx & 0x7fff) == ndx) {
            const Elf64_Verdaux *aux = (const Elf64_Verdaux *)((uintptr_t)d + d->vd_aux);
            return v->strtab + aux->vda_name;
        }
        if (!d->vd_next)
            return NULL;
        d = (const Elf64_Verdef *)((uintptr_t)d + d->vd_next);
    }
}

/* The address of NAME at version VERSION, or NULL. */
static void *vdso_sym(const struct vdso *v, const char *name, const char *version)
{
    for (size_t i = 1; i < v->nsyms; i++) {
        const Elf64_Sym *s = &v->symtab[i];
        if (s->st_shndx == SHN_UNDEF || ELF64_ST_TYPE(s->st_info) != STT_FUNC ||
            strcmp(v->strtab + s->st_name, name) != 0)
            continue;
        if (v->versym && v->verdef) {
            const char *vn = vdso_version_name(v, v->versym[i] & 0x7fff);
            if (!vn || strcmp(vn, version) != 0)
                continue;
        }
        return (void *)(v->bias + s->st_value);
    }
    return NULL;
}

static const struct {
    clockid_t id;
    const char *name;
    long long tol;
} clocks[] = {
        {CLOCK_REALTIME, "CLOCK_REALTIME", TOL_NS},
        {CLOCK_MONOTONIC, "CLOCK_MONOTONIC", TOL_NS},
        {CLOCK_BOOTTIME, "CLOCK_BOOTTIME", TOL_NS},
        {CLOCK_TAI, "CLOCK_TAI", TOL_NS},
        {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE", TOL_COARSE_NS},
        {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE", TOL_COARSE_NS},
};

static void test_clock_gettime(clock_gettime_fn vcg)
{
    for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
        struct timespec a, v = {-1, -1}, b;
        int ok = 1, rc = 0;
        /* A few tries: the check is one-sided only up to the tolerance. */
        for (int k = 0; k < 5; k++) {
            syscall(SYS_clock_gettime, clocks[i].id, &a);
            rc = vcg(clocks[i].id, &v);
            syscall(SYS_clock_gettime, clocks[i].id, &b);
            ok = rc == 0 && valid(&v) && ns(&a) - clocks[i].tol <= ns(&v) &&
                 ns(&v) <= ns(&b) + clocks[i].tol;
            if (ok)
                break;
        }
        tap_result(ok, "__vdso_clock_gettime(%s) agrees with the syscall", clocks[i].name);
        if (!ok)
            tap_printf("# rc %d: %lld <= %lld <= %lld?\n", rc, ns(&a), ns(&v), ns(&b));
    }

    struct timespec ts;
    T_EQ(vcg(CLOCK_PROCESS_CPUTIME_ID, &ts), 0, "__vdso_clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    T_TRUE(valid(&ts) && ns(&ts) > 0, "CLOCK_PROCESS_CPUTIME_ID through the vDSO: some CPU time");
    T_EQ(vcg(CLOCK_MONOTONIC_RAW, &ts), 0, "__vdso_clock_gettime(CLOCK_MONOTONIC_RAW)");
    T_EQ(vcg(-1, &ts), -EINVAL, "an invalid clock id: the vDSO returns -EINVAL");
    T_EQ(vcg(12345, &ts), -EINVAL, "an unknown clock id: the vDSO returns -EINVAL");
}

/* CLOCK_MONOTONIC and CLOCK_BOOTTIME never go back, for 1.5 s: long enough
 * to cross a refresh of the data page. */
static void test_monotonic(clock_gettime_fn vcg)
{
    struct timespec start, prev, cur, bprev, bcur;
    vcg(CLOCK_MONOTONIC, &start);
    prev = start;
    vcg(CLOCK_BOOTTIME, &bprev);
    int ok = 1, bok = 1;
    long n = 0;
    do {
        vcg(CLOCK_MONOTONIC, &cur);
        ok &= valid(&cur) && ns(&cur) >= ns(&prev);
        prev = cur;
        if ((++n & 15) == 0) {
            vcg(CLOCK_BOOTTIME, &bcur);
            bok &= valid(&bcur) && ns(&bcur) >= ns(&bprev);
            bprev = bcur;
        }
    } while (ns(&cur) - ns(&start) < 1500000000LL);
    T_TRUE(ok, "CLOCK_MONOTONIC never goes back (1.5 s of vDSO reads)");
    T_TRUE(bok, "CLOCK_BOOTTIME never goes back (1.5 s of vDSO reads)");

    struct timespec s1, s2;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &s1);
    vcg(CLOCK_MONOTONIC, &cur);
    T_TRUE(ns(&cur) >= ns(&s1) - TOL_NS, "after the loop the vDSO still agrees with the syscall");
    vcg(CLOCK_MONOTONIC, &cur);
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &s2);
    T_TRUE(ns(&cur) <= ns(&s2) + TOL_NS, "... on both sides");

    /* Cost: a trap into a sandbox's kernel costs microseconds; 100000 vDSO
     * calls must take well under 0.5 s. */
    struct timespec t0, t1;
    vcg(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 100000; i++)
        vcg(CLOCK_MONOTONIC, &cur);
    vcg(CLOCK_MONOTONIC, &t1);
    T_TRUE(ns(&t1) - ns(&t0) < 500000000LL, "100000 vDSO clock reads take less than 0.5 s");
}

static void test_fork(clock_gettime_fn vcg)
{
    struct timespec before;
    vcg(CLOCK_MONOTONIC, &before);
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec now, s;
        int ok = vcg(CLOCK_MONOTONIC, &now) == 0 && ns(&now) >= ns(&before);
        syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &s);
        ok &= ns(&now) <= ns(&s) + TOL_NS;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    T_TRUE(pid > 0 && waitpid(pid, &status, 0) == pid, "fork and wait");
    T_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "a forked child's vDSO CLOCK_MONOTONIC continues the parent's");
}

static void test_gettimeofday(gettimeofday_fn vgtod)
{
    struct timeval a, v, b;
    int ok = 0;
    for (int k = 0; k < 5 && !ok; k++) {
        syscall(SYS_gettimeofday, &a, NULL);
        int rc = vgtod(&v, NULL);
        syscall(SYS_gettimeofday, &b, NULL);
        long long av = a.tv_sec * 1000000LL + a.tv_usec, vv = v.tv_sec * 1000000LL + v.tv_usec,
                  bv = b.tv_sec * 1000000LL + b.tv_usec;
        ok = rc == 0 && v.tv_usec >= 0 && v.tv_usec < 1000000 && av - TOL_NS / 1000 <= vv &&
             vv <= bv + TOL_NS / 1000;
    }
    T_TRUE(ok, "__vdso_gettimeofday agrees with the syscall");
    struct timezone vtz = {12345, 12345}, stz = {54321, 54321};
    T_EQ(vgtod(NULL, &vtz), 0, "__vdso_gettimeofday(NULL, tz)");
    syscall(SYS_gettimeofday, NULL, &stz);
    T_TRUE(vtz.tz_minuteswest == stz.tz_minuteswest && vtz.tz_dsttime == stz.tz_dsttime,
           "the vDSO's timezone is the syscall's");
    T_EQ(vgtod(NULL, NULL), 0, "__vdso_gettimeofday(NULL, NULL)");
}

static void test_time(time_fn vtime)
{
    int ok = 0;
    for (int k = 0; k < 5 && !ok; k++) {
        time_t a = syscall(SYS_time, NULL);
        time_t stored = -1;
        time_t v = vtime(&stored);
        time_t b = syscall(SYS_time, NULL);
        ok = a <= v && v <= b && stored == v;
    }
    T_TRUE(ok, "__vdso_time agrees with the syscall and stores its result");
    T_TRUE(vtime(NULL) > 1600000000, "__vdso_time(NULL) is after 2020");
}

static void test_getres(clock_getres_fn vres)
{
    for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
        struct timespec v = {-1, -1}, s = {-2, -2};
        int rc = vres(clocks[i].id, &v);
        syscall(SYS_clock_getres, clocks[i].id, &s);
        tap_result(rc == 0 && ns(&v) == ns(&s), "__vdso_clock_getres(%s) is the syscall's",
                   clocks[i].name);
    }
    T_EQ(vres(CLOCK_MONOTONIC, NULL), 0, "__vdso_clock_getres with a NULL timespec");
    T_EQ(vres(-1, NULL), -EINVAL, "__vdso_clock_getres of an invalid clock: -EINVAL");
}

static void test_getcpu(getcpu_fn vgetcpu)
{
    unsigned cpu = ~0u, node = ~0u;
    T_EQ(vgetcpu(&cpu, &node, NULL), 0, "__vdso_getcpu");
    T_TRUE(cpu < CPU_SETSIZE, "the CPU number is in range");
    T_TRUE(node < 1024, "the node number is in range");
    T_EQ(vgetcpu(NULL, NULL, NULL), 0, "__vdso_getcpu(NULL, NULL, NULL)");
}

int main(void)
{
    tap_init("vdso");

    uintptr_t base = getauxval(AT_SYSINFO_EHDR);
    if (!T_TRUE(base != 0, "AT_SYSINFO_EHDR is in the auxiliary vector"))
        return tap_done();
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    T_TRUE(memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64,
           "it points at a 64-bit ELF header");
    T_EQ(eh->e_type, ET_DYN, "the vDSO is a shared object");
    T_EQ(eh->e_machine, EM_X86_64, "for x86-64");

    struct vdso v;
    if (vdso_open(base, &v) < 0)
        return tap_done();
    T_STREQ(v.soname, "linux-vdso.so.1", "DT_SONAME");

    static const char *const names[] = {
            "__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
            "__vdso_getcpu",        "__vdso_clock_getres",
    };
    void *fns[5];
    int all = 1;
    for (int i = 0; i < 5; i++) {
        fns[i] = vdso_sym(&v, names[i], "LINUX_2.6");
        all &= tap_result(fns[i] != NULL, "%s@LINUX_2.6 is exported", names[i]);
    }
    if (!all)
        return tap_done();

    test_clock_gettime((clock_gettime_fn)fns[0]);
    test_gettimeofday((gettimeofday_fn)fns[1]);
    test_time((time_fn)fns[2]);
    test_getcpu((getcpu_fn)fns[3]);
    test_getres((clock_getres_fn)fns[4]);
    test_monotonic((clock_gettime_fn)fns[0]);
    test_fork((clock_gettime_fn)fns[0]);
    return tap_done();
}
