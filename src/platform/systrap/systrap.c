/*
 * The systrap platform: seccomp SECCOMP_RET_TRAP plus a SIGSYS handler in
 * the stub that hands the app's registers to the kernel through memory
 * both map, with a futex for the handoff. No ptrace anywhere.
 *
 * An address space is one stub process (src/platform/systrap/stub_systrap.c)
 * exec'd from a memfd by the spawner thread (so its parent-death signal is
 * tied to a thread that lives as long as the kernel). Its first thread, the
 * helper, runs the host calls the kernel writes in the request page:
 * mmap/munmap/mprotect of the memory file, and clone of app threads. Each
 * context is one app thread in it with a slot (systrap_abi.h): the thread
 * page (state word, trap details) and the signal stack its handler runs on.
 * All of them are memory-file pages, which the kernel reaches through its
 * own mapping (memfile_ptr).
 *
 * A switch: the kernel writes the registers into the waiting signal frame,
 * sets the state to RUN and wakes the stub if it sleeps; the handler
 * returns into the app (rt_sigreturn); the next syscall or fault enters
 * the handler, which publishes the new frame, sets TRAPPED and wakes the
 * kernel thread if it sleeps. Each kernel thread and its app thread are
 * pinned to one CPU (cross-core wake-ups cost 40-60 us on our machines),
 * except in fast mode (below); the helper is moved to the CPU of whoever
 * calls it.
 *
 * Read-only private file mappings (map_file, for mm's lazy VMAs): the
 * kernel sends the host fd over the stub's socket pair (SCM_RIGHTS, a
 * numbered message), the helper receives it (recvmsg: one round trip,
 * which need not wait for batched maps), and the stub keeps it (struct
 * stub_fd, STUB_FDS of them, by host device and inode; a recycled stub
 * keeps them for the next process, so a program's fork children and a
 * library's several segments send nothing). The map itself is an mmap
 * MAP_PRIVATE|MAP_FIXED without PROT_WRITE, batched like memory-file maps
 * before the address space runs (the entry's prot carries fd + 1). What
 * the helper received is hostile input: the message number must match and
 * kcmp(KCMP_FILE) must find the stub's descriptor to be the file sent, or
 * it is closed and the memory file backs the mapping. The stub's filter
 * allows recvmsg, close and such mmaps at the helper's instruction only,
 * never on the memory file or the socket.
 *
 * Everything in the slot and result pages is written by app code as it
 * likes: the kernel reads each value once, checks addresses against the
 * slot and never follows a pointer it did not check. Lying hurts only the
 * liar's own threads.
 *
 * Fork and exec cost (fork+wait was 1.3-1.8 ms, now below ptrace's):
 * - The spawner thread keeps POOL_MAX stubs ready (exec'd, emptied, first
 *   thread stopped), so as_new takes one in ~10 us instead of ~350 us. A
 *   pooled stub sleeps in FUTEX_WAIT: it costs no CPU. The spawner makes
 *   them on the CPU after the last as_new's, pinned there with the stub
 *   (same-core handshakes, and off the core of the task that is waiting);
 *   as_new moves the stub to its own CPU. Made unpinned, stubs were slow
 *   under load (their handshakes crossed cores).
 *   MOAT_SYSTRAP_NO_POOL=1 turns the pool off (for measuring).
 * - Maps made before an address space first runs (mm_attach after fork
 *   or exec) are batched: one helper round trip maps them all
 *   (SYSTRAP_NR_MAP_BATCH); any other helper call or the first switch
 *   sends the batch first, so the stub sees calls in the kernel's order.
 * - The last context's destroy recycles the stub into the pool (see
 *   as_recycle: cleaned, its app thread replaced); when it cannot, it
 *   kills the stub and the reaper thread waits for it, off the exiting
 *   task's path (a process exit takes ~0.7 ms). The reaper recycles on
 *   the CPU after the stub's, with the stub moved there, and starts the
 *   new app thread itself: that work (~200 us) then overlaps the parent's
 *   wake-up and next fork instead of delaying them on their core
 *   (fork+exit+wait 475 -> ~250 us idle). When that CPU is busy with other
 *   work its wake-ups take a time slice (ms) and as_new ends up waiting
 *   for recycles (10-17 ms a fork at load 15): after a wait over
 *   REAP_SLOW_NS the reaper stays on the stub's CPU for a second (longer
 *   each time it is slow again soon after).
 * - The only app thread a stub had reports the stub process's CPU time
 *   (less what it used before: cpu_base), read with one clock_gettime;
 *   the thread's /proc schedstat file cost ~15 us to open and read on
 *   every process's exit.
 * - A task thread keeps the one CPU it inherited from its creator, and its
 *   stub goes there: before, a child's stub stayed wherever it was made
 *   and every handoff crossed cores (40-60 us each).
 *
 * Placement: MOAT_SYSTRAP_NO_PIN=1 leaves every thread unpinned (for
 * measuring). Under heavy load from other jobs (load average ~20 on 2
 * vCPUs) `find /usr/lib/python3` took 1.0-2.3 s pinned and 0.3-1.9 s
 * unpinned, ptrace 0.6-0.9 s: too noisy to choose; pinning stays.
 *
 * Handoff: slow and fast mode. A same-core handoff costs two host
 * context switches, ~3.5-4 us each on these VMs whatever the address
 * spaces (a futex ping-pong between two threads of one process costs as
 * much as between processes), so a slow-mode getppid was ~9 us, as with
 * ptrace. In fast mode the app thread runs on another CPU and each side
 * polls the state word for up to MOAT_SYSTRAP_SPIN_US (20) before
 * FUTEX_WAIT: no context switch at all while the app makes syscalls in
 * quick succession (getppid 2.7 us, open+close 5.9 us; slow: 8.8, 18.5).
 * kwait/swait in the thread page say that a side sleeps, so the other
 * wakes it only then (a Dekker pair: each stores its flag or the state
 * seq_cst, then reads the other's). A context goes fast after 16 quick
 * cycles in a row (trap to trap under the poll time + 10 us) and back to
 * slow after two handoffs in a row where a side had to sleep (the app
 * computes, or the kernel blocks): polling then only burns CPU and a
 * cross-core wake-up costs 40-60 us. Each fall-back soon after going fast
 * doubles the quick cycles needed (up to 4096). Fast pairs are limited to
 * one per two CPUs (polling on a shared CPU costs ~45 us a handoff) and
 * need pinning; a context goes or stays fast only while no other app
 * thread ran during its handoff (a sandbox-wide count of running
 * contexts). MOAT_SYSTRAP_FAST=0 turns fast mode off. An idle sandbox
 * polls for at most 20 us after its last syscall, then sleeps.
 *
 * Syscall patching (on by default; `--no-syscall-patch` or
 * MOAT_SYSTRAP_PATCH=0 turns it off): a hot syscall site skips seccomp and
 * signal delivery (~0.9 us of the 2.7 us of a fast-mode getppid).
 * - Encoding: `b8 nr32 0f 05` (mov $nr,%eax; syscall) and glibc
 *   syscall()'s `4c 8b 4c 24 08 0f 05` (mov 8(%rsp),%r9; syscall) become
 *   `b9 T32 ff e1` (mov $T,%ecx; jmp *%rcx: rcx is the syscall's anyway),
 *   T the site's trampoline; `jmp`, never `call`: the red zone below the
 *   app's rsp is not written. A trampoline (systrap_abi.h) runs the
 *   site's first instruction, sets rcx = site+7 and jumps to the stub's
 *   stub_tramp_entry (stub_systrap.c), which saves the registers in the
 *   thread page and hands off exactly as the handler does (state word,
 *   kwait/swait, polling in fast mode), then restores what the kernel
 *   wrote and jumps back. No host syscall on the way in fast mode.
 * - Which sites: the kernel (task_patch_site, task.c) tries a site when
 *   its syscall traps through SIGSYS for the second time (mm_patch_worth:
 *   a site run once is not worth a copy of its text): the 7 bytes before the return
 *   address must be one of the two forms (the mov's immediate the very
 *   number made), not preceded by a prefix byte, in one page, in a
 *   private, file-backed, executable, non-writable mapping;
 *   mm_patch_text gives the mm its own copy of the page first (the
 *   file's cached page, shared by every process, is never written) and
 *   writes the 7 bytes with one lock cmpxchg16b where they share an
 *   aligned 16-byte block. Sites refused are remembered (neg, a small
 *   cache per address space).
 * - Atomicity: a site is patched only while its address space has a
 *   single context (the one trapping there, stopped): no other thread can
 *   be between its old mov and syscall, and none can appear meanwhile.
 *   So a multi-threaded process keeps the patches it made before its
 *   second thread and makes no new ones (simpler than stopping every
 *   thread; python, bash and most programs patch their hot sites early).
 *   A thread can still come back to a patched site's old `syscall`
 *   (site+5, now `jmp *%rcx`): a restarted syscall (-ERESTART*: rip -= 2)
 *   or an rt_sigreturn to a frame saved there. The kernel checks every
 *   resume at a rip other than the stop's (task_patch_fix_resume): at a
 *   patched site+5 it resumes at the trampoline's raw entry (T+5), which
 *   makes the syscall in rax (restart_syscall included) and returns past
 *   the site.
 * - Trampolines live in [SYSTRAP_TRAMP_ADDR, PLATFORM_APP_MIN), 32 bytes
 *   each, where apps can never map (mm refuses below PLATFORM_APP_MIN) and
 *   which the stub can map only if the host's vm.mmap_min_addr allows it
 *   (4096 here; 65536 on stock Debian: patching then stays off, logged
 *   at debug level). They are written by the kernel only, before any
 *   patch points at them, and mapped read+exec. One table per fork
 *   family (struct patch_family): a fork child's text holds its parent's
 *   patches, so mm_fork takes a reference on the parent's table and
 *   mm_attach maps it into the child; exec starts a new mm, a new stub
 *   and no table. Up to 1920 sites per family.
 * - Per-thread data: the trampoline finds its thread page through %gs
 *   base, which is the thread's slot while the app's own gs base is 0
 *   (regs_to_frame; the kernel shows the app 0). An app that reads
 *   rdgsbase sees the slot (a deviation); one whose gs base is not 0
 *   (arch_prctl(ARCH_SET_GS)) or not a slot falls back: the trampoline
 *   executes ud2 and the handler turns it into the ordinary trapped
 *   syscall.
 * - Patched stops: kind PATCHED in the thread page, registers in
 *   th->regs, the FPU state live in the host thread (the trampoline uses
 *   general registers only), no signal frame. The kernel reads each
 *   register once; nothing there is an address it follows. Resuming it
 *   the trampoline restores every general register, rip and the
 *   user-settable flags; a resume that changes fs or gs base or sets TF,
 *   and ctx_get/set_fpstate (signal delivery, sigreturn, thread
 *   creation), first turn it into a frame stop (convert_stop: state
 *   CONVERT, the trampoline executes ud2 at stub_tramp_convert, the
 *   handler publishes its frame): one more round trip, rare.
 * - Signals arriving in the trampoline (only the kernel's interrupt can:
 *   faults there are the app's own doing and are reported as usual):
 *   before the trap is published it is moot (the kernel looks at signals
 *   after it gets the trap); while the kernel has the trap (TRAPPED,
 *   CONVERT) it may already have looked, so the handler notes it (intr)
 *   and the trampoline's return path (or the handler's, after a
 *   conversion) stops the thread where it lands; once the kernel answered
 *   (RUN), the handler rewrites its frame to the registers the kernel
 *   wrote and reports the interrupt there. Any other state (an app
 *   jumping in with garbage) gets the plain handler: a frame stop.
 *   tests/syscalls/syspatch.c covers signal storms over patched sites,
 *   SA_RESTART, sigreturn onto a site, threads, fork and exec, also with
 *   patching off; tests/security (stub_attack, mode tramp) jumps into the
 *   trampolines and their code with garbage registers and a garbage
 *   thread page.
 * - Visible to the app: its own text shows the patch (/proc/PID/mem,
 *   process_vm_readv, ptrace PEEKTEXT inside the sandbox), rdgsbase
 *   shows the slot, and a single-step (TF) through a patched site steps
 *   into the trampoline. `--no-syscall-patch` avoids all three.
 * - rt_sigaction queries (act NULL, sigsetsize 8) at a patched site are
 *   answered by the trampoline itself (stub_sa_fast) from the signal
 *   actions page, which the kernel keeps equal to the actions of the
 *   thread group running in the address space (sigactions_sync, before
 *   every resume whose actions changed): python asks 62 of them at
 *   start-up, each a ~5 us round trip in slow mode. The page is
 *   read-only in the stub; what the app could change there is its own
 *   answer only. An address space where a second set of actions ran
 *   (CLONE_VM without CLONE_SIGHAND: vfork, posix_spawn) has it
 *   withdrawn for good. Anything unusual (an old pointer in or next to
 *   the stub region, a fault copying out, a kernel interrupt before the
 *   answer is given) goes to the kernel as usual; an interrupt after it
 *   stops the thread where the app resumes.
 * - Moved text: a trampoline returns to its site+7, so text that mremap
 *   moves gets its sites' original bytes back (mm's unpatch_moved_locked,
 *   from systrap_patch_sites); they are patched again where they trap.
 * - Not handled (found in review; the flag is the way out): a path that
 *   jumps straight to a patched site's `syscall` (two paths sharing one
 *   `syscall` instruction) runs `ff e1` with whatever rcx holds, and text
 *   the app copies elsewhere itself returns to the old site+7.
 *   FIXME(issue 8): for the shared-tail case, patch only sites whose
 *   syscall is not a jump target (needs knowing the function's code) or
 *   use a form that keeps `0f 05`.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <linux/seccomp.h>

#include "kernel/host/seccomp_allow.h"
#include "kernel/mm/memfile.h"
#include "lib/log.h"
#include "lib/util.h"
#include "platform/platform.h"
#include "platform/systrap/systrap_abi.h"

#define STUB_EXEC_FD 5
#define WAIT_SLICE_NS 100000000LL /* how often a waiting kernel thread checks the stub lives */
#define EXIT_WAIT_NS  1000000000LL
#define FAST_QUICK_MIN 16    /* quick cycles before a context first goes fast */
#define FAST_QUICK_MAX 4096  /* the most, after it kept falling back */
#define FAST_MISSES    2     /* handoffs in a row where a side slept: back to slow */

extern const unsigned char g_systrap_stub_elf[];
extern const size_t g_systrap_stub_elf_size;
extern const uint64_t g_systrap_tramp_entry;

/* The trampolines of a fork family (see "Syscall patching"). */
#define FAM_HASH 4096
struct patch_family {
    int ref;              /* (a) address spaces (and mm forks in flight) holding it */
    pthread_mutex_t lock;
    uint64_t off;         /* (c) memory-file range of SYSTRAP_TRAMP_LEN bytes */
    uint8_t *k;           /* (c) the kernel's view of it */
    uint32_t n;           /* (lock) trampolines made */
    struct fam_ent {
        uint64_t site;
        uint8_t insn[5];
        uint16_t idx1;    /* trampoline index + 1; 0: empty */
    } tab[FAM_HASH];      /* (lock) open addressing on site */
};
#define NEG_CACHE 64
static void fam_put(struct patch_family *f);

enum slot_use { SLOT_FREE, SLOT_USED, SLOT_LEAKED };

/* A host file the stub holds a descriptor of (map_file), kept for the
 * next mapping of it: the same program's fork children (recycled stubs) and
 * a library's several segments map without sending it again. */
struct stub_fd {
    dev_t dev;
    ino_t ino;
    int sfd; /* its number in the stub; -1: a free entry */
    uint32_t used;
};
#define STUB_FDS 32

struct platform_as {
    pthread_mutex_t lock; /* helper requests, slots, nr_ctx */
    pid_t pid;            /* (c) the stub process, also its helper thread */
    int pidfd;            /* (c) */
    int sock;             /* (c) our end of the socket pair (SYSTRAP_SOCKFD), or -1 */
    uint64_t fd_seq;      /* (l) number of the last descriptor sent */
    struct stub_fd fds[STUB_FDS]; /* (l) host files the stub holds (map_file) */
    uint32_t fd_clock;    /* (l) for the least recently used of them */
    uint64_t ctl_off;     /* (c) memory-file offset of the request and result pages */
    struct systrap_req *req; /* (c) kernel view of the request page */
    struct systrap_res *res; /* (c) kernel view of the result page (hostile) */
    uint32_t seq;         /* (l) last request issued */
    int helper_cpu;       /* (l) CPU the helper is pinned to, or -1 */
    int nr_ctx;           /* (l) live contexts */
    bool started;         /* (l) a context of it has run: maps are no longer batched */
    int nr_batch;         /* (l) maps waiting in batch[] */
    struct systrap_map_ent batch[SYSTRAP_MAP_BATCH_MAX]; /* (l) */
    struct platform_as *next; /* (g_pool_lock) in the pool or the reap list */
    struct platform_ctx *pool_ctx; /* (g_pool_lock) in the pool: its first context */
    bool moved;           /* the stub went to another platform_as (recycled): free only this */
    struct platform_ctx *recycle_ctx; /* (g_pool_lock) on the reap list: recycle, its last context */
    uint64_t cpu_base;    /* (c) process CPU time the stub had used before this address space */
    bool had_threads;     /* (l, read relaxed) a second app thread was ever made in it */
    uint8_t slot_use[SYSTRAP_NSLOTS];     /* (l) enum slot_use */
    bool slot_mapped[SYSTRAP_NSLOTS];     /* (l) the slot's pages are in the stub */
    uint64_t slot_off[SYSTRAP_NSLOTS];    /* (l) their memory-file offsets */
    struct patch_family *fam; /* (l) its fork family's trampolines, mapped, or NULL */
    bool no_patch;        /* (l) the trampolines cannot be mapped here */
    uint64_t neg[NEG_CACHE]; /* (a) sites not to patch (patch_refuse), by hash */
    /* The signal actions page (systrap_sigactions_sync): */
    struct systrap_sigacts *sigacts; /* (c) kernel view of it */
    uint32_t sig_seq;     /* (l) its seq */
    uint64_t sig_owner;   /* (l) whose actions it holds (0: nobody's yet) */
    uint64_t sig_gen;     /* (l, read acquire) their generation */
    bool sig_mixed;       /* (l, read relaxed) two owners ran here: withdrawn for good */
};

struct platform_ctx {
    struct platform_as *as; /* (c) */
    int slot;               /* (c) */
    pid_t tid;              /* (c) host tid of the app thread */
    uint64_t slot_addr;     /* (c) stub address of the slot */
    uint8_t *kslot;         /* (c) kernel address of the slot */
    struct systrap_thread *th; /* (c) == kslot */
    uint32_t uc_off;        /* (o) the waiting frame's ucontext, slot offset */
    uint32_t fp_off;        /* (o) its xsave area, slot offset */
    uint32_t fp_size;       /* (o) bytes of it */
    int stat_fd;            /* (o) /proc/<pid>/task/<tid>/schedstat, or -1 */
    bool running;           /* (a) in ctx_switch with the app running */
    /* Fast mode (see "Handoff" above), all (o): */
    bool fast;              /* holds a fast token; the app thread runs on stub_cpu */
    int stub_cpu;           /* CPU the app thread is pinned to, or -1 */
    uint32_t quick;         /* slow mode: consecutive quick cycles */
    uint32_t quick_need;    /* quick cycles needed to go fast */
    uint32_t misses;        /* fast mode: consecutive handoffs where a side slept */
    uint64_t fast_runs;     /* fast mode: handoffs since it began */
    uint64_t last_trap;     /* TSC when the last trap was seen */
    uint64_t n_fast, n_slow; /* handoffs in each mode (for --debug) */
    uint32_t n_periods;     /* times it went fast */
    bool lost;              /* (o) the thread died or published a bad frame */
    bool patched_stop;      /* (o) stopped in the trampoline: registers in th->regs,
                             * FPU state live, no signal frame */
    uint64_t stop_fs;       /* (o) patched stop: the fs base it had */
    bool intr_sent;         /* (a) an interrupt was sent since the last resume */
};

static int g_memfd = -1;
static int g_fast_tokens;      /* (a) contexts that may still go fast */
static int g_nr_running;       /* (a) contexts whose app thread runs or traps now */
static uint64_t g_spin_ns = 20000; /* (c) how long each side polls in fast mode */
static uint64_t g_tsc_per_us;  /* (a) 0 until calibrated */
static uint64_t g_cal_tsc, g_cal_ns; /* (c) calibration start */
static cpu_set_t g_all_cpus;   /* (c) the kernel's allowed CPUs at init */
static int g_stub_fd = -1;
static int g_nr_cpus = 1;
static unsigned g_next_cpu;
static uint32_t g_mxcsr_mask = 0xffbf;
static __thread int t_cpu = -1; /* CPU the calling kernel thread is pinned to */
static bool g_patch;           /* (c) syscall patching is on */

/* ---- small host helpers ---- */

static long futex_wait(uint32_t *word, uint32_t val, long long timeout_ns)
{
    struct timespec ts = {timeout_ns / 1000000000LL, timeout_ns % 1000000000LL};
    long r = syscall(SYS_futex, word, FUTEX_WAIT, val, timeout_ns ? &ts : NULL, NULL, 0);
    return r < 0 ? -errno : r;
}

static void futex_wake(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static bool process_alive(struct platform_as *as)
{
    struct pollfd p = {.fd = as->pidfd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

static bool thread_alive(struct platform_ctx *ctx)
{
    return syscall(SYS_tgkill, ctx->as->pid, ctx->tid, 0) == 0 && process_alive(ctx->as);
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* TSC ticks per microsecond, measured against CLOCK_MONOTONIC over the
 * kernel's first 20 ms or more; 0 before that. */
static uint64_t tsc_per_us(void)
{
    uint64_t v = __atomic_load_n(&g_tsc_per_us, __ATOMIC_RELAXED);
    if (v)
        return v;
    uint64_t ns = mono_ns() - g_cal_ns, ticks = rdtsc() - g_cal_tsc;
    if (ns < 20000000)
        return 0;
    v = ticks * 1000 / ns;
    if (v == 0)
        v = 1;
    __atomic_store_n(&g_tsc_per_us, v, __ATOMIC_RELAXED);
    return v;
}

static int pick_cpu(cpu_set_t *out, int *out_cpu)
{
    cpu_set_t allowed;
    CPU_ZERO(out);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
        return -errno;
    int want = (int)(__atomic_fetch_add(&g_next_cpu, 1, __ATOMIC_RELAXED) % g_nr_cpus);
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        if (seen++ == want) {
            CPU_SET(cpu, out);
            *out_cpu = cpu;
            return 0;
        }
    }
    return -EINVAL;
}

static void systrap_kthread_reset(void)
{
    t_cpu = -1; /* pinned again from the CPUs its new task's creator gave it */
}

/* Pins the calling kernel thread (once: a thread that execs keeps its CPU). */
static bool g_no_pin;

static void pin_self(void)
{
    if (t_cpu >= 0 || g_no_pin)
        return;
    cpu_set_t set;
    int cpu = -1;
    /* A task thread inherits its creator's single CPU (pick_cpu could only
     * pick that one): keep it, so its stub is pinned with it. */
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1) {
        for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set); cpu++)
            ;
        t_cpu = cpu;
        return;
    }
    if (pick_cpu(&set, &cpu) == 0 && pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0)
        t_cpu = cpu;
}

static void pin_tid(pid_t tid, int cpu)
{
    if (cpu < 0 || g_no_pin)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(tid, sizeof(set), &set) < 0)
        log_debug("systrap: cannot pin thread %d to CPU %d: %s", tid, cpu, strerror(errno));
}

/* ---- init and the spawner thread ---- */

struct spawn_req {
    char arg[24]; /* argv[1]: hex memory-file offset of the control pages */
    int cpu;
    int sock; /* the stub's end of its socket pair */
    pid_t pid; /* out: the stub, or -errno */
    bool done;
    struct spawn_req *next;
};

/* g_pool_lock guards the spawn queue, the pool of ready stubs and the reap
 * list. Lock order: as->lock, then g_pool_lock. */
static pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_spawn_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_reap_cond = PTHREAD_COND_INITIALIZER;
static struct spawn_req *g_spawn_queue; /* (g_pool_lock) */
static struct platform_as *g_pool;       /* (g_pool_lock) ready stubs, not pinned */
static int g_pool_nr;                    /* (g_pool_lock) */
static int g_pool_max;                   /* (g_pool_lock) */
static bool g_pool_building;             /* (g_pool_lock) the spawner is making one */
static int g_recycling;                  /* (g_pool_lock) stubs the reaper is recycling */
static int g_pool_cpu = -1;              /* (a) CPU of the last as_new: where the next is likely */
static struct platform_as *g_reap_list;  /* (g_pool_lock) killed stubs to wait for */
static uint64_t g_reap_here_until;       /* (a) until then recycle on the stub's CPU (mono_ns) */
#define REAP_HERE_NS 1000000000ULL        /* after as_new waited this long for a recycle: */
#define REAP_SLOW_NS 1000000ULL
#define REAP_HERE_MAX_NS 30000000000ULL   /* (doubling each time it is slow again soon) */
static uint64_t g_reap_here_ns = REAP_HERE_NS; /* (g_pool_lock) the last stay */

#define POOL_MAX 2 /* ready stubs kept ahead: each is two idle host threads */
#define POOL_RECYCLED_EXTRA 2 /* recycled stubs may fill the pool this far beyond */

static uint64_t stub_cputime(pid_t pid, pid_t tid, int *fd);
static int as_build(int cpu, bool in_spawner, struct platform_as **out_as,
                    struct platform_ctx **out_ctx);
static void *reaper_main(void *arg);
static bool as_recycle(struct platform_ctx *ctx);
static void as_put(struct platform_as *as);

/* In the vfork child: becomes the stub. Only raw, async-signal-safe calls. */
static NORETURN void stub_child(int cpu, const char *arg, int sock)
{
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof(set), &set);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setsid();
    int mem = fcntl(g_memfd, F_DUPFD, STUB_EXEC_FD + 1);
    int prog = fcntl(g_stub_fd, F_DUPFD, STUB_EXEC_FD + 1);
    int so = fcntl(sock, F_DUPFD, STUB_EXEC_FD + 1);
    if (mem < 0 || prog < 0 || so < 0)
        _exit(126);
    if (dup2(mem, SYSTRAP_MEMFD) < 0 || dup2(so, SYSTRAP_SOCKFD) < 0 ||
        dup3(prog, STUB_EXEC_FD, O_CLOEXEC) < 0)
        _exit(126);
    syscall(SYS_close_range, 0, 2, 0);
    syscall(SYS_close_range, STUB_EXEC_FD + 1, ~0U, 0);
    char *const argv[] = {(char *)"moat-stub", (char *)arg, NULL};
    char *const envp[] = {NULL};
    syscall(SYS_execveat, STUB_EXEC_FD, "", argv, envp, AT_EMPTY_PATH);
    _exit(127);
}

/* Stubs are made by this thread, which lives as long as the kernel process:
 * PR_SET_PDEATHSIG fires when the *thread* that forked the stub ends, and a
 * stub outlives the kernel thread that asked for it. */
/* The allowed CPU after CPU (wrapping), CPU itself if it is the only one,
 * -1 for -1. */
static int next_cpu(int cpu, const cpu_set_t *all_cpus)
{
    if (cpu < 0)
        return -1;
    for (int i = 1; i <= CPU_SETSIZE; i++) {
        int c = (cpu + i) % CPU_SETSIZE;
        if (CPU_ISSET(c, all_cpus))
            return c;
    }
    return cpu;
}

static void spawner_move(int cpu, const cpu_set_t *all_cpus)
{
    static int s_cpu = -1;
    if (cpu == s_cpu)
        return;
    cpu_set_t set;
    if (cpu >= 0) {
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
    }
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), cpu >= 0 ? &set : all_cpus) == 0)
        s_cpu = cpu;
}

static void *spawner_main(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    /* Not SIGSYS: the kernel's seccomp filter reports a forbidden host call
     * through it; blocked, the call would kill the process silently. */
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    cpu_set_t all_cpus;
    if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus) < 0)
        CPU_ZERO(&all_cpus);
    pthread_mutex_lock(&g_pool_lock);
    for (;;) {
        while (!g_spawn_queue && g_pool_nr + g_recycling >= g_pool_max)
            pthread_cond_wait(&g_spawn_cond, &g_pool_lock);
        if (!g_spawn_queue) {
            g_pool_building = true;
            pthread_mutex_unlock(&g_pool_lock);
            struct platform_as *as;
            struct platform_ctx *ctx;
            int cpu = next_cpu(__atomic_load_n(&g_pool_cpu, __ATOMIC_RELAXED), &all_cpus);
            /* The spawner moves there too: the start-up handshakes stay on
             * one core, and not on the one whose task waits for the stub. */
            spawner_move(cpu, &all_cpus);
            int r = as_build(cpu, true, &as, &ctx);
            if (r == 0 && cpu >= 0)
                pin_tid(ctx->tid, cpu);
            pthread_mutex_lock(&g_pool_lock);
            g_pool_building = false;
            pthread_cond_broadcast(&g_spawn_cond);
            if (r < 0) {
                /* Stubs cannot start now: as_new will say why. */
                log_debug("systrap: cannot pre-start a stub: %s", strerror(-r));
                g_pool_max = 0;
                continue;
            }
            as->pool_ctx = ctx;
            as->next = g_pool;
            g_pool = as;
            g_pool_nr++;
            continue;
        }
        struct spawn_req *req = g_spawn_queue;
        g_spawn_queue = req->next;
        pthread_mutex_unlock(&g_pool_lock);
        spawner_move(req->cpu, &all_cpus);
        pid_t pid = vfork();
        if (pid == 0)
            stub_child(req->cpu, req->arg, req->sock);
        pthread_mutex_lock(&g_pool_lock);
        req->pid = pid < 0 ? -errno : pid;
        req->done = true;
        pthread_cond_broadcast(&g_spawn_cond);
    }
    return NULL;
}

static pid_t spawn_stub(uint64_t ctl_off, int cpu, int sock)
{
    struct spawn_req req = {.cpu = cpu, .sock = sock};
    snprintf(req.arg, sizeof(req.arg), "%llx", (unsigned long long)ctl_off);
    pthread_mutex_lock(&g_pool_lock);
    req.next = g_spawn_queue;
    g_spawn_queue = &req;
    pthread_cond_broadcast(&g_spawn_cond);
    while (!req.done)
        pthread_cond_wait(&g_spawn_cond, &g_pool_lock);
    pthread_mutex_unlock(&g_pool_lock);
    return req.pid;
}

static int systrap_init(int memfd)
{
    if (!(getauxval(AT_HWCAP2) & 2 /* HWCAP2_FSGSBASE */)) {
        snprintf(g_platform_why, sizeof(g_platform_why),
                 "the host does not allow wrfsbase (no FSGSBASE)");
        return -ENOTSUP;
    }
    /* The stub's filters trap app syscalls and kill on misuse. */
    static const uint32_t actions[] = {SECCOMP_RET_TRAP, SECCOMP_RET_KILL_PROCESS};
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        uint32_t a = actions[i];
        if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a) != 0) {
            int e = errno;
            snprintf(g_platform_why, sizeof(g_platform_why),
                     "the host's seccomp lacks action %#x (%s)", actions[i], strerror(e));
            return -e;
        }
    }
    g_memfd = memfd;
    g_no_pin = getenv("MOAT_SYSTRAP_NO_PIN") != NULL;
    if (sched_getaffinity(0, sizeof(g_all_cpus), &g_all_cpus) == 0)
        g_nr_cpus = CPU_COUNT(&g_all_cpus) > 0 ? CPU_COUNT(&g_all_cpus) : 1;
    else
        CPU_ZERO(&g_all_cpus);
    /* One fast pair per two CPUs: a polling thread never shares a CPU
     * with the thread it waits for. */
    g_fast_tokens = g_no_pin ? 0 : g_nr_cpus / 2;
    const char *fast = getenv("MOAT_SYSTRAP_FAST");
    if (fast && *fast == '0')
        g_fast_tokens = 0;
    const char *spin = getenv("MOAT_SYSTRAP_SPIN_US");
    if (spin)
        g_spin_ns = strtoull(spin, NULL, 10) * 1000;
    g_cal_ns = mono_ns();
    g_cal_tsc = rdtsc();
    uint8_t fx[512] __attribute__((aligned(16)));
    memset(fx, 0, sizeof(fx));
    __asm__ volatile("fxsave %0" : "=m"(fx));
    uint32_t mask;
    memcpy(&mask, fx + 28, 4);
    if (mask)
        g_mxcsr_mask = mask;

    int fd = memfd_create("moat-systrap-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    size_t done = 0;
    while (done < g_systrap_stub_elf_size) {
        ssize_t n = write(fd, g_systrap_stub_elf + done, g_systrap_stub_elf_size - done);
        if (n < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        done += n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        log_debug("systrap: cannot seal the stub memfd: %s", strerror(errno));
    g_stub_fd = fd;
    /* Trampolines live below PLATFORM_APP_MIN, where the host lets the
     * stub map only if its vm.mmap_min_addr allows (4096 here, 65536 on
     * stock Debian): elsewhere patching stays off. */
    const char *patch = getenv("MOAT_SYSTRAP_PATCH");
    g_patch = !g_platform_no_patch && !(patch && *patch == '0');
    if (g_patch) {
        unsigned long long min = ~0ULL;
        FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "re");
        if (f) {
            if (fscanf(f, "%llu", &min) != 1)
                min = ~0ULL;
            fclose(f);
        }
        if (min > SYSTRAP_TRAMP_ADDR) {
            log_debug("systrap: syscall patching off: the host's vm.mmap_min_addr is %llu, "
                      "the trampolines need %#llx",
                      min, (unsigned long long)SYSTRAP_TRAMP_ADDR);
            g_patch = false;
        }
    }
    const char *no_pool = getenv("MOAT_SYSTRAP_NO_POOL");
    g_pool_max = no_pool && *no_pool == '1' ? 0 : POOL_MAX;
    return 0;
}

/* The reaper and the spawner start once the kernel is confined: stubs are
 * forked by the spawner and must inherit its empty capability sets. */
static int systrap_start(void)
{
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int r = pthread_create(&th, &attr, reaper_main, NULL);
    if (r == 0)
        r = pthread_create(&th, &attr, spawner_main, NULL);
    pthread_attr_destroy(&attr);
    return -r;
}

/* ---- the helper ---- */

static long helper_call_locked(struct platform_as *as, long nr, uint64_t a0, uint64_t a1,
                               uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);

/* Sends the batched maps. Caller holds as->lock. 0 or -errno. */
static int flush_maps_locked(struct platform_as *as)
{
    int n = as->nr_batch;
    if (n == 0)
        return 0;
    as->nr_batch = 0;
    memcpy(as->req->ent, as->batch, (size_t)n * sizeof(as->batch[0]));
    long r = helper_call_locked(as, (long)SYSTRAP_NR_MAP_BATCH, (uint64_t)n, 0, 0, 0, 0, 0);
    if (r == 0)
        return 0;
    log_debug("systrap: a batch of %d maps failed: %ld", n, r);
    return r < 0 && r > -4096 ? (int)r : -EFAULT;
}

/* Runs one host call in the stub through its helper thread, after the maps
 * batched before it. Caller holds as->lock. Returns the call's result, or
 * -ESRCH if the stub is gone. */
static long helper_raw_locked(struct platform_as *as, long nr, uint64_t a0, uint64_t a1,
                              uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);

static long helper_call_locked(struct platform_as *as, long nr, uint64_t a0, uint64_t a1,
                               uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    if (as->nr_batch && nr != (long)SYSTRAP_NR_MAP_BATCH && !as->moved) {
        int e = flush_maps_locked(as);
        if (e < 0)
            return e;
    }
    return helper_raw_locked(as, nr, a0, a1, a2, a3, a4, a5);
}

/* As helper_call_locked, for a call that leaves the address space alone
 * (recvmsg): the batched maps may wait. */
static long helper_raw_locked(struct platform_as *as, long nr, uint64_t a0, uint64_t a1,
                              uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    /* Recycled: the stub serves another address space now. */
    if (as->moved)
        return -ESRCH;
    if (t_cpu >= 0 && as->helper_cpu != t_cpu) {
        pin_tid(as->pid, t_cpu);
        as->helper_cpu = t_cpu;
    }
    struct systrap_req *req = as->req;
    uint32_t seq = as->seq;
    __atomic_store_n(&req->seq, seq + 1, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    req->nr = (uint64_t)nr;
    req->arg[0] = a0;
    req->arg[1] = a1;
    req->arg[2] = a2;
    req->arg[3] = a3;
    req->arg[4] = a4;
    req->arg[5] = a5;
    seq += 2;
    as->seq = seq;
    __atomic_store_n(&req->seq, seq, __ATOMIC_RELEASE);
    futex_wake(&req->seq);
    for (;;) {
        uint32_t done = __atomic_load_n(&as->res->seq, __ATOMIC_ACQUIRE);
        if (done == seq)
            break;
        long r = futex_wait(&as->res->seq, done, WAIT_SLICE_NS);
        if (r == -ETIMEDOUT && !process_alive(as))
            return -ESRCH;
    }
    return __atomic_load_n(&as->res->ret, __ATOMIC_RELAXED);
}

static bool range_ok(uint64_t addr, uint64_t len)
{
    if (len == 0 || addr + len < addr || addr < PLATFORM_APP_MIN || addr + len > PLATFORM_APP_MAX)
        return false;
    return addr + len <= PLATFORM_STUB_BASE || addr >= PLATFORM_STUB_END;
}

/* Adds ENT to the batch of maps made before the address space first runs
 * (mm_attach after fork or exec): the first switch sends it and fails if it
 * fails, as the task could not have run anyway. 0 or -errno (a full batch
 * that could not be sent). as->lock held. */
static int batch_map_locked(struct platform_as *as, struct systrap_map_ent ent)
{
    int e = as->nr_batch == SYSTRAP_MAP_BATCH_MAX ? flush_maps_locked(as) : 0;
    if (e == 0)
        as->batch[as->nr_batch++] = ent;
    return e;
}

static int systrap_map(struct platform_as *as, uint64_t addr, uint64_t len, int prot,
                       uint64_t file_off)
{
    if (!range_ok(addr, len))
        return -EINVAL;
    pthread_mutex_lock(&as->lock);
    if (!as->started && !as->moved) {
        int e = batch_map_locked(as, (struct systrap_map_ent){addr, len, (uint64_t)prot, file_off});
        pthread_mutex_unlock(&as->lock);
        return e;
    }
    long r = helper_call_locked(as, SYS_mmap, addr, len, (uint64_t)prot, MAP_SHARED | MAP_FIXED,
                                SYSTRAP_MEMFD, file_off);
    pthread_mutex_unlock(&as->lock);
    if (r < 0 && r > -4096)
        return (int)r;
    return (uint64_t)r == addr ? 0 : -EFAULT;
}

/* The msghdr, iovec, byte and control buffer of the helper's recvmsg, in
 * the result page at SYSTRAP_RES_MSG_OFF. */
struct res_msg {
    struct msghdr msg;
    struct iovec iov;
    uint64_t seq;
    union {
        struct cmsghdr hdr;
        uint8_t buf[CMSG_SPACE(sizeof(int))];
    } ctl;
};
_Static_assert(SYSTRAP_RES_MSG_OFF + sizeof(struct res_msg) <= 0x1000, "in the result page");

/* Forgets every cached stub descriptor numbered SFD. */
static void stub_fd_forget_locked(struct platform_as *as, int sfd)
{
    for (int i = 0; i < STUB_FDS; i++)
        if (as->fds[i].sfd == sfd)
            as->fds[i].sfd = -1;
}

/* Hands HOST_FD to the stub: one SCM_RIGHTS message, numbered, which the
 * helper receives. A message left in the stub's queue (app code made the
 * helper's recvmsg fail by rewriting its msghdr) is never taken for a
 * later one: its number tells, and its descriptor is closed. A recycled
 * stub keeps the count. Returns the stub's descriptor, or -errno.
 * as->lock held. */
static int send_fd_locked(struct platform_as *as, int host_fd)
{
    if (as->sock < 0)
        return -ENOTSUP;
    union {
        struct cmsghdr hdr;
        uint8_t buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    uint64_t seq = ++as->fd_seq;
    struct iovec iov = {.iov_base = &seq, .iov_len = sizeof(seq)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &host_fd, sizeof(int));
    if (sendmsg(as->sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(seq))
        return -errno;
    /* The helper's side, built in the result page (stub addresses). */
    struct res_msg *km = (struct res_msg *)((uint8_t *)as->res + SYSTRAP_RES_MSG_OFF);
    uint64_t sm = SYSTRAP_RES_ADDR + SYSTRAP_RES_MSG_OFF;
    for (int tries = 0; tries < 8; tries++) {
        memset(km, 0, sizeof(*km));
        km->iov.iov_base = (void *)(uintptr_t)(sm + offsetof(struct res_msg, seq));
        km->iov.iov_len = sizeof(km->seq);
        km->msg.msg_iov = (struct iovec *)(uintptr_t)(sm + offsetof(struct res_msg, iov));
        km->msg.msg_iovlen = 1;
        km->msg.msg_control = (void *)(uintptr_t)(sm + offsetof(struct res_msg, ctl));
        km->msg.msg_controllen = sizeof(km->ctl.buf);
        long r = helper_raw_locked(as, SYS_recvmsg, SYSTRAP_SOCKFD, sm,
                                   MSG_CMSG_CLOEXEC | MSG_DONTWAIT, 0, 0, 0);
        if (r < 0 && r > -4096)
            return (int)r; /* -EAGAIN: ours was lost with a stale one */
        /* App code may have rewritten all of it meanwhile: one copy,
         * checked. */
        struct cmsghdr h;
        int fd;
        uint64_t got;
        memcpy(&h, km->ctl.buf, sizeof(h));
        memcpy(&fd, km->ctl.buf + CMSG_LEN(0), sizeof(fd));
        memcpy(&got, &km->seq, sizeof(got));
        if (h.cmsg_level != SOL_SOCKET || h.cmsg_type != SCM_RIGHTS ||
            h.cmsg_len != CMSG_LEN(sizeof(int)) || fd < 0 || fd > 0xffff ||
            fd == SYSTRAP_MEMFD || fd == SYSTRAP_SOCKFD)
            return -EPROTO;
        /* A descriptor the stub receives takes a free number, so a cached
         * entry with the same number (or this number) is made up: app code
         * wrote it over the result page. Neither is used again, and what
         * is open at that number is closed: the cache never names a
         * descriptor of another file (a recycled stub serves the next
         * process with it). */
        bool clash = false;
        for (int i = 0; i < STUB_FDS; i++)
            clash |= as->fds[i].sfd == fd;
        /* And the host says whether the stub's descriptor is the very
         * file sent (KCMP_FILE: the same open file description). */
        if (r == (long)sizeof(seq) && got == seq && !clash &&
            syscall(SYS_kcmp, getpid(), as->pid, 0 /* KCMP_FILE */, host_fd, fd) == 0)
            return fd;
        stub_fd_forget_locked(as, fd);
        helper_call_locked(as, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
        if (clash || got == seq)
            return -EPROTO;
    }
    return -EPROTO;
}

/* The stub's descriptor of the host file HOST_FD: one it holds already,
 * else sent now (the least recently used one closed if all are taken).
 * -errno. as->lock held. */
static int stub_fd_locked(struct platform_as *as, int host_fd)
{
    struct stat st;
    if (fstat(host_fd, &st) < 0)
        return -errno;
    struct stub_fd *e = NULL;
    for (int i = 0; i < STUB_FDS; i++) {
        struct stub_fd *f = &as->fds[i];
        if (f->sfd >= 0 && f->dev == st.st_dev && f->ino == st.st_ino) {
            f->used = ++as->fd_clock;
            return f->sfd;
        }
        if (!e || (e->sfd >= 0 && (f->sfd < 0 || f->used < e->used)))
            e = f;
    }
    if (e->sfd >= 0) {
        /* After the batched maps that may name it. */
        helper_call_locked(as, SYS_close, (uint64_t)e->sfd, 0, 0, 0, 0, 0);
        e->sfd = -1;
    }
    int sfd = send_fd_locked(as, host_fd);
    if (sfd < 0)
        return sfd;
    *e = (struct stub_fd){.dev = st.st_dev, .ino = st.st_ino, .sfd = sfd, .used = ++as->fd_clock};
    return sfd;
}

static int systrap_map_file(struct platform_as *as, uint64_t addr, uint64_t len, int prot,
                            int host_fd, uint64_t file_off)
{
    if (!range_ok(addr, len) || (prot & PROT_WRITE) || host_fd < 0)
        return -EINVAL;
    pthread_mutex_lock(&as->lock);
    int sfd = stub_fd_locked(as, host_fd);
    long r = sfd;
    if (sfd >= 0 && !as->started && !as->moved) {
        r = batch_map_locked(as, (struct systrap_map_ent){
                                         addr, len, (uint64_t)prot | ((uint64_t)(sfd + 1) << 32),
                                         file_off});
        if (r == 0)
            r = (long)addr;
    } else if (sfd >= 0) {
        r = helper_call_locked(as, SYS_mmap, addr, len, (uint64_t)prot, MAP_PRIVATE | MAP_FIXED,
                               (uint64_t)sfd, file_off);
        if (r == -EBADF)
            stub_fd_forget_locked(as, sfd);
    }
    pthread_mutex_unlock(&as->lock);
    if ((uint64_t)r != addr)
        log_debug("systrap: mapping a host file at %#llx in stub %d failed (%ld): the memory "
                  "file backs it", (unsigned long long)addr, as->pid, r);
    if (r < 0 && r > -4096)
        return (int)r;
    return (uint64_t)r == addr ? 0 : -EFAULT;
}

static int systrap_unmap(struct platform_as *as, uint64_t addr, uint64_t len)
{
    if (!range_ok(addr, len))
        return -EINVAL;
    pthread_mutex_lock(&as->lock);
    long r = helper_call_locked(as, SYS_munmap, addr, len, 0, 0, 0, 0);
    pthread_mutex_unlock(&as->lock);
    return r < 0 && r > -4096 ? (int)r : 0;
}

static int systrap_protect(struct platform_as *as, uint64_t addr, uint64_t len, int prot)
{
    if (!range_ok(addr, len))
        return -EINVAL;
    pthread_mutex_lock(&as->lock);
    long r = helper_call_locked(as, SYS_mprotect, addr, len, (uint64_t)prot, 0, 0, 0);
    pthread_mutex_unlock(&as->lock);
    return r < 0 && r > -4096 ? (int)r : 0;
}

/* ---- frames ---- */

#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_SW_OFF        464

/* Reads the frame the thread published and checks it lies in its slot's
 * signal stack. 0, or -EFAULT for a frame the app made up. */
static int capture_frame(struct platform_ctx *ctx)
{
    uint64_t uc = __atomic_load_n(&ctx->th->uc, __ATOMIC_RELAXED);
    uint64_t lo = ctx->slot_addr + SYSTRAP_SLOT_PAGE, hi = ctx->slot_addr + SYSTRAP_SLOT_SIZE;
    if (uc < lo || uc > hi - sizeof(struct systrap_ucontext) || (uc & 7))
        return -EFAULT;
    uint32_t uc_off = (uint32_t)(uc - ctx->slot_addr);
    uint64_t fp;
    memcpy(&fp, ctx->kslot + uc_off + offsetof(struct systrap_ucontext, mc.fpstate), 8);
    if (fp < lo || fp > hi - 512 || (fp & 63))
        return -EFAULT;
    uint32_t fp_off = (uint32_t)(fp - ctx->slot_addr);
    uint32_t sw[2]; /* magic1, extended_size */
    uint32_t xsize;
    memcpy(sw, ctx->kslot + fp_off + FP_SW_OFF, sizeof(sw));
    memcpy(&xsize, ctx->kslot + fp_off + FP_SW_OFF + 12, 4); /* xstate_size */
    if (sw[0] != FP_XSTATE_MAGIC1 || xsize < 576 || xsize > PLATFORM_XSTATE_MAX ||
        fp + xsize > hi)
        xsize = 512;
    ctx->uc_off = uc_off;
    ctx->fp_off = fp_off;
    ctx->fp_size = xsize;
    return 0;
}

static void frame_to_regs(struct platform_ctx *ctx, struct platform_regs *r)
{
    struct systrap_mcontext mc;
    memcpy(&mc, ctx->kslot + ctx->uc_off + offsetof(struct systrap_ucontext, mc), sizeof(mc));
    r->r8 = mc.r8;
    r->r9 = mc.r9;
    r->r10 = mc.r10;
    r->r11 = mc.r11;
    r->r12 = mc.r12;
    r->r13 = mc.r13;
    r->r14 = mc.r14;
    r->r15 = mc.r15;
    r->rdi = mc.rdi;
    r->rsi = mc.rsi;
    r->rbp = mc.rbp;
    r->rbx = mc.rbx;
    r->rdx = mc.rdx;
    r->rax = mc.rax;
    r->rcx = mc.rcx;
    r->rsp = mc.rsp;
    r->rip = mc.rip;
    r->eflags = mc.eflags;
    r->cs = 0x33;
    r->ss = 0x2b;
    r->ds = r->es = r->fs = r->gs = 0;
    r->orig_rax = (uint64_t)-1;
    r->fs_base = __atomic_load_n(&ctx->th->fs_base, __ATOMIC_RELAXED);
    uint64_t gs = __atomic_load_n(&ctx->th->gs_base, __ATOMIC_RELAXED);
    r->gs_base = g_patch && gs == ctx->slot_addr ? 0 : gs;
}

/* With patching on, a thread whose gs base is 0 for the app runs with its
 * slot there: the trampoline finds its thread page through it. */
static uint64_t real_gs(struct platform_ctx *ctx, uint64_t gs)
{
    return g_patch && gs == 0 ? ctx->slot_addr : gs;
}

/* A patched stop's registers (the trampoline's, read once each). */
static void pregs_to_regs(struct platform_ctx *ctx, struct platform_regs *r)
{
    struct systrap_pregs p;
    memcpy(&p, (const void *)&ctx->th->regs, sizeof(p));
    r->rax = p.rax;
    r->rbx = p.rbx;
    r->rcx = p.rip; /* as `syscall` leaves them */
    r->rdx = p.rdx;
    r->rsi = p.rsi;
    r->rdi = p.rdi;
    r->rbp = p.rbp;
    r->rsp = p.rsp;
    r->r8 = p.r8;
    r->r9 = p.r9;
    r->r10 = p.r10;
    r->r11 = p.rflags;
    r->r12 = p.r12;
    r->r13 = p.r13;
    r->r14 = p.r14;
    r->r15 = p.r15;
    r->rip = p.rip;
    r->eflags = p.rflags;
    r->cs = 0x33;
    r->ss = 0x2b;
    r->ds = r->es = r->fs = r->gs = 0;
    r->orig_rax = (uint64_t)-1;
    r->fs_base = p.fs_base;
    r->gs_base = 0; /* it was the slot, or the trampoline would not have stopped */
}

/* The flags a user-mode popfq may set (CF PF AF ZF SF DF OF AC ID), plus
 * the always-one bit 1 and IF. */
#define PATCH_FLAGS 0x240cd5ULL

static void regs_to_pregs(struct platform_ctx *ctx, const struct platform_regs *r)
{
    volatile struct systrap_pregs *p = &ctx->th->regs;
    p->rax = r->rax;
    p->rbx = r->rbx;
    p->rcx = r->rcx;
    p->rdx = r->rdx;
    p->rsi = r->rsi;
    p->rdi = r->rdi;
    p->rbp = r->rbp;
    p->rsp = r->rsp;
    p->r8 = r->r8;
    p->r9 = r->r9;
    p->r10 = r->r10;
    p->r11 = r->r11;
    p->r12 = r->r12;
    p->r13 = r->r13;
    p->r14 = r->r14;
    p->r15 = r->r15;
    p->rip = r->rip;
    p->rflags = (r->eflags & PATCH_FLAGS) | 0x202;
}

static void regs_to_frame(struct platform_ctx *ctx, const struct platform_regs *r)
{
    struct systrap_mcontext *mc =
            (struct systrap_mcontext *)(ctx->kslot + ctx->uc_off + offsetof(struct systrap_ucontext, mc));
    /* cs, ss and the rest stay as the host wrote them. */
    mc->r8 = r->r8;
    mc->r9 = r->r9;
    mc->r10 = r->r10;
    mc->r11 = r->r11;
    mc->r12 = r->r12;
    mc->r13 = r->r13;
    mc->r14 = r->r14;
    mc->r15 = r->r15;
    mc->rdi = r->rdi;
    mc->rsi = r->rsi;
    mc->rbp = r->rbp;
    mc->rbx = r->rbx;
    mc->rdx = r->rdx;
    mc->rax = r->rax;
    mc->rcx = r->rcx;
    mc->rsp = r->rsp;
    mc->rip = r->rip;
    mc->eflags = r->eflags;
    ctx->th->fs_base = r->fs_base;
    ctx->th->gs_base = real_gs(ctx, r->gs_base);
}

/* ---- waiting for a thread ---- */

/* An app thread answers the kernel's interrupt signal within
 * microseconds: its handler runs, publishes the trap and wakes us. One
 * that has not after this many wait slices (5 s of waiting) cannot: its
 * own process's app code wrote its thread page (state word) so that its
 * handler waits for a resume that never comes, with every signal blocked.
 * Its process is killed, so that what waits for it (an exit, a kill) ends
 * instead of hanging forever. Slices, not wall time: a frozen sandbox
 * (moat pause) thaws with at most one slice gone. */
#define STUCK_SLICES 50

static void check_stuck(struct platform_ctx *ctx, int *slices)
{
    if (!__atomic_load_n(&ctx->intr_sent, __ATOMIC_RELAXED) || ++*slices < STUCK_SLICES)
        return;
    log_warn("systrap: app thread %d did not stop within %d s of an interrupt (its thread "
             "page was overwritten?): killing its stub process %d",
             ctx->tid, STUCK_SLICES * (int)(WAIT_SLICE_NS / 1000000) / 1000, ctx->as->pid);
    kill(ctx->as->pid, SIGKILL);
    *slices = 0;
}

/* Waits until CTX's state is WANT, polling for up to SPIN TSC ticks first.
 * 0, or -ESRCH once the thread is gone. *SLEPT: it had to sleep. */
static int wait_state_spin(struct platform_ctx *ctx, uint32_t want, uint64_t spin, bool *slept)
{
    struct systrap_thread *th = ctx->th;
    uint32_t *state = &th->state;
    uint64_t t0 = spin ? rdtsc() : 0;
    int r = 0, stuck = 0;
    for (;;) {
        uint32_t s = __atomic_load_n(state, __ATOMIC_ACQUIRE);
        if (s == want)
            break;
        if (spin && s != SYSTRAP_DEAD && rdtsc() - t0 < spin) {
            __builtin_ia32_pause();
            continue;
        }
        /* Dekker with the stub's handler: kwait before state is read
         * again, its TRAPPED before it reads kwait. A stub that clears
         * kwait only delays its own thread (to the next slice). */
        if (!__atomic_load_n(&th->kwait, __ATOMIC_RELAXED)) {
            __atomic_store_n(&th->kwait, 1, __ATOMIC_SEQ_CST);
            *slept = true;
            continue;
        }
        long e = futex_wait(state, s, s == SYSTRAP_DEAD ? 1000000 : WAIT_SLICE_NS);
        if ((e == -ETIMEDOUT || s == SYSTRAP_DEAD) && !thread_alive(ctx)) {
            r = -ESRCH;
            break;
        }
        if (e == -ETIMEDOUT)
            check_stuck(ctx, &stuck);
    }
    __atomic_store_n(&th->kwait, 0, __ATOMIC_RELAXED);
    return r;
}

static int wait_state(struct platform_ctx *ctx, uint32_t want)
{
    bool slept;
    return wait_state_spin(ctx, want, 0, &slept);
}

/* ---- contexts ---- */

static void slot_release(struct platform_as *as, int slot, bool dead)
{
    pthread_mutex_lock(&as->lock);
    as->slot_use[slot] = dead ? SLOT_FREE : SLOT_LEAKED;
    pthread_mutex_unlock(&as->lock);
}

/* A new app thread in AS, stopped at its first trap. */
static int thread_new(struct platform_as *as, struct platform_ctx **out)
{
    struct platform_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    ctx->as = as;
    ctx->stat_fd = -1;
    pthread_mutex_lock(&as->lock);
    int slot = -1;
    for (int i = 0; i < (int)SYSTRAP_NSLOTS; i++) {
        if (as->slot_use[i] == SLOT_FREE) {
            slot = i;
            break;
        }
    }
    long r;
    if (slot < 0) {
        r = -EAGAIN;
        goto out_unlock;
    }
    uint64_t addr = SYSTRAP_SLOTS_ADDR + (uint64_t)slot * SYSTRAP_SLOT_SIZE;
    if (!as->slot_mapped[slot]) {
        uint64_t off;
        r = memfile_alloc(SYSTRAP_SLOT_SIZE, &off);
        if (r < 0)
            goto out_unlock;
        r = helper_call_locked(as, SYS_mmap, addr, SYSTRAP_SLOT_SIZE, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_FIXED, SYSTRAP_MEMFD, off);
        if ((uint64_t)r != addr) {
            memfile_free(off, SYSTRAP_SLOT_SIZE);
            r = r < 0 && r > -4096 ? r : -EIO;
            goto out_unlock;
        }
        as->slot_off[slot] = off;
        as->slot_mapped[slot] = true;
    }
    ctx->slot = slot;
    ctx->slot_addr = addr;
    ctx->kslot = memfile_ptr(as->slot_off[slot]);
    ctx->th = (struct systrap_thread *)ctx->kslot;
    memset(ctx->th, 0, sizeof(*ctx->th));
    ctx->stub_cpu = -1;
    ctx->quick_need = FAST_QUICK_MIN;
    __atomic_store_n(&ctx->th->state, SYSTRAP_STARTING, __ATOMIC_RELEASE);
    r = helper_call_locked(as, SYS_clone, SYSTRAP_THREAD_FLAGS, addr + SYSTRAP_SLOT_PAGE, 0,
                           addr + offsetof(struct systrap_thread, state), 0, 0);
    if (r <= 0 || r > INT32_MAX || syscall(SYS_tgkill, as->pid, (pid_t)r, 0) != 0 ||
        (pid_t)r == as->pid) {
        r = r < 0 && r > -4096 ? r : -EIO;
        goto out_unlock;
    }
    ctx->tid = (pid_t)r;
    as->slot_use[slot] = SLOT_USED;
    if (++as->nr_ctx > 1)
        __atomic_store_n(&as->had_threads, true, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&as->lock);

    r = wait_state(ctx, SYSTRAP_TRAPPED);
    if (r == 0)
        r = capture_frame(ctx);
    if (r < 0) {
        pthread_mutex_lock(&as->lock);
        as->nr_ctx--;
        as->slot_use[slot] = SLOT_LEAKED;
        pthread_mutex_unlock(&as->lock);
        free(ctx);
        return (int)r;
    }
    *out = ctx;
    return 0;

out_unlock:
    pthread_mutex_unlock(&as->lock);
    free(ctx);
    return (int)r;
}

/* Reaps a killed stub and frees what it used. */
static void as_reap(struct platform_as *as)
{
    if (as->moved) {
        pthread_mutex_destroy(&as->lock);
        free(as);
        return;
    }
    if (as->pid > 0) {
        int status;
        while (waitpid(as->pid, &status, __WALL) < 0 && errno == EINTR)
            ;
    }
    if (as->pidfd >= 0)
        close(as->pidfd);
    if (as->sock >= 0)
        close(as->sock);
    /* The stub is gone: nothing maps these pages any more. */
    for (size_t i = 0; i < SYSTRAP_NSLOTS; i++)
        if (as->slot_mapped[i])
            memfile_free(as->slot_off[i], SYSTRAP_SLOT_SIZE);
    memfile_free(as->ctl_off, SYSTRAP_CTL_SIZE);
    fam_put(as->fam);
    pthread_mutex_destroy(&as->lock);
    free(as);
}

/* Kills the stub; the reaper thread waits for it (a process exit takes
 * hundreds of microseconds that the exiting task need not wait for). */
static void as_free(struct platform_as *as)
{
    if (as->pid > 0)
        kill(as->pid, SIGKILL);
    pthread_mutex_lock(&g_pool_lock);
    as->next = g_reap_list;
    g_reap_list = as;
    pthread_cond_broadcast(&g_reap_cond);
    pthread_mutex_unlock(&g_pool_lock);
}

static void *reaper_main(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    /* Not SIGSYS: the kernel's seccomp filter reports a forbidden host call
     * through it; blocked, the call would kill the process silently. */
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&g_pool_lock);
    for (;;) {
        while (!g_reap_list)
            pthread_cond_wait(&g_reap_cond, &g_pool_lock);
        struct platform_as *as = g_reap_list;
        g_reap_list = as->next;
        struct platform_ctx *ctx = as->recycle_ctx;
        as->recycle_ctx = NULL;
        pthread_mutex_unlock(&g_pool_lock);
        if (ctx) {
            /* On the CPU after the stub's, with the stub: its handoffs
             * stay on one core, and off the core where the exiting task's
             * parent (likely waiting for it) runs. When that core is busy
             * with other work, a wake-up there waits for its time slice
             * (ms), recycles fall behind and as_new waits for them: after
             * a wait of over REAP_SLOW_NS, on the stub's own CPU for a
             * while, as before (g_reap_here_until, set by as_new). Shorter
             * waits happen with the other core idle too, and it still wins
             * there. */
            if (!g_no_pin && as->helper_cpu >= 0) {
                bool away = mono_ns() >= __atomic_load_n(&g_reap_here_until, __ATOMIC_RELAXED);
                int cpu = away ? next_cpu(as->helper_cpu, &g_all_cpus) : as->helper_cpu;
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(cpu, &set);
                pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
                if (cpu != as->helper_cpu) {
                    pin_tid(ctx->tid, cpu);
                    pin_tid(as->pid, cpu);
                    as->helper_cpu = cpu;
                }
            }
            if (!as_recycle(ctx))
                as_put(as);
            free(ctx);
            pthread_mutex_lock(&g_pool_lock);
            g_recycling--;
            pthread_cond_broadcast(&g_spawn_cond);
            continue;
        }
        as_reap(as);
        pthread_mutex_lock(&g_pool_lock);
    }
    return NULL;
}

/* A new stub with its first app thread stopped at its first trap, for a
 * kernel thread pinned to CPU (or none, -1). IN_SPAWNER: called by the
 * spawner thread itself. */
static int as_build(int cpu, bool in_spawner, struct platform_as **out_as,
                    struct platform_ctx **out_ctx)
{
    struct platform_as *as = calloc(1, sizeof(*as));
    if (!as)
        return -ENOMEM;
    pthread_mutex_init(&as->lock, NULL);
    as->pidfd = -1;
    as->helper_cpu = -1;
    for (int i = 0; i < STUB_FDS; i++)
        as->fds[i].sfd = -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = -errno;
        pthread_mutex_destroy(&as->lock);
        free(as);
        return e;
    }
    as->sock = sv[0];
    int r = memfile_alloc(SYSTRAP_CTL_SIZE, &as->ctl_off);
    if (r < 0) {
        close(sv[0]);
        close(sv[1]);
        pthread_mutex_destroy(&as->lock);
        free(as);
        return r;
    }
    as->req = memfile_ptr(as->ctl_off);
    as->res = memfile_ptr(as->ctl_off + 0x1000);
    as->sigacts = memfile_ptr(as->ctl_off + 0x2000);
    memset(as->req, 0, SYSTRAP_CTL_SIZE);

    pid_t pid;
    if (in_spawner) {
        char arg[24];
        snprintf(arg, sizeof(arg), "%llx", (unsigned long long)as->ctl_off);
        pid = vfork();
        if (pid == 0)
            stub_child(cpu, arg, sv[1]);
        if (pid < 0)
            pid = -errno;
    } else {
        pid = spawn_stub(as->ctl_off, cpu, sv[1]);
    }
    close(sv[1]);
    if (pid < 0) {
        r = pid;
        goto out_free;
    }
    as->pid = pid;
    as->helper_cpu = cpu;
    as->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (as->pidfd < 0) {
        r = -errno;
        goto out_free;
    }
    while (__atomic_load_n(&as->res->ready, __ATOMIC_ACQUIRE) != SYSTRAP_READY) {
        if (futex_wait(&as->res->ready, 0, WAIT_SLICE_NS) == -ETIMEDOUT && !process_alive(as)) {
            log_error("systrap: the stub did not start");
            r = -ECHILD;
            goto out_free;
        }
    }
    /* Leave nothing in the stub but the stub region. */
    pthread_mutex_lock(&as->lock);
    long ret = helper_call_locked(as, SYS_munmap, 0, PLATFORM_STUB_BASE, 0, 0, 0, 0);
    if (ret == 0)
        ret = helper_call_locked(as, SYS_munmap, PLATFORM_STUB_END,
                                 PLATFORM_APP_MAX - PLATFORM_STUB_END, 0, 0, 0, 0);
    pthread_mutex_unlock(&as->lock);
    if (ret != 0) {
        log_error("systrap: cannot clear the stub's address space: %s", strerror((int)-ret));
        r = ret < 0 ? (int)ret : -EIO;
        goto out_free;
    }
    struct platform_ctx *ctx;
    r = thread_new(as, &ctx);
    if (r < 0)
        goto out_free;
    /* The process's clocks start near 0, without the stub's start-up. */
    as->cpu_base = stub_cputime(as->pid, 0, NULL);
    *out_as = as;
    *out_ctx = ctx;
    return 0;

out_free:
    as_free(as);
    return r;
}

static int systrap_as_new(struct platform_as **out_as, struct platform_ctx **out_ctx)
{
    pin_self();
    __atomic_store_n(&g_pool_cpu, t_cpu, __ATOMIC_RELAXED);
    struct platform_as *as = NULL;
    pthread_mutex_lock(&g_pool_lock);
    /* A stub on its way is ready sooner than one asked for now. */
    uint64_t t0 = !g_pool && g_recycling > 0 ? mono_ns() : 0;
    while (!g_pool && (g_pool_building || g_recycling > 0))
        pthread_cond_wait(&g_spawn_cond, &g_pool_lock);
    if (t0) {
        uint64_t now = mono_ns();
        if (now - t0 > REAP_SLOW_NS) {
            /* Slow again soon after the last time: stay longer. */
            uint64_t until = __atomic_load_n(&g_reap_here_until, __ATOMIC_RELAXED);
            uint64_t here = now < until + REAP_HERE_NS ? MIN(g_reap_here_ns * 2, REAP_HERE_MAX_NS)
                                                       : REAP_HERE_NS;
            g_reap_here_ns = here;
            __atomic_store_n(&g_reap_here_until, now + here, __ATOMIC_RELAXED);
        }
    }
    if (g_pool) {
        as = g_pool;
        g_pool = as->next;
        g_pool_nr--;
        /* The spawner makes the next one (a wake-up crosses cores: only
         * when it has something to do). */
        if (g_pool_nr + g_recycling < g_pool_max)
            pthread_cond_broadcast(&g_spawn_cond);
    }
    pthread_mutex_unlock(&g_pool_lock);
    if (as) {
        /* A pooled stub: move it to this thread's CPU. */
        struct platform_ctx *ctx = as->pool_ctx;
        as->pool_ctx = NULL;
        as->next = NULL;
        pthread_mutex_lock(&as->lock);
        if (as->helper_cpu != t_cpu) {
            pin_tid(as->pid, t_cpu);
            if (ctx)
                pin_tid(ctx->tid, t_cpu);
            as->helper_cpu = t_cpu;
        }
        pthread_mutex_unlock(&as->lock);
        /* A recycled stub gets its app thread now (the helper is here). */
        if (!ctx && thread_new(as, &ctx) < 0) {
            as_free(as);
            ctx = NULL;
        }
        if (ctx) {
            *out_as = as;
            *out_ctx = ctx;
            return 0;
        }
    }
    struct platform_ctx *ctx;
    int r = as_build(t_cpu, false, &as, &ctx);
    if (r < 0)
        return r;
    pin_tid(ctx->tid, t_cpu);
    *out_as = as;
    *out_ctx = ctx;
    return 0;
}

static int systrap_get_fpstate(struct platform_ctx *ctx, struct platform_fpstate *out);
static int systrap_set_fpstate(struct platform_ctx *ctx, const struct platform_fpstate *fp);

static void systrap_ctx_destroy(struct platform_ctx *ctx);

static int systrap_ctx_new(struct platform_ctx *from, struct platform_ctx **out)
{
    struct platform_ctx *ctx;
    int r = thread_new(from->as, &ctx);
    if (r < 0)
        return r;
    struct platform_fpstate *fp = malloc(sizeof(*fp));
    if (!fp) {
        systrap_ctx_destroy(ctx);
        return -ENOMEM;
    }
    r = systrap_get_fpstate(from, fp);
    if (r == 0)
        r = systrap_set_fpstate(ctx, fp);
    free(fp);
    if (r < 0)
        log_debug("systrap: new thread keeps the initial FPU state: %s", strerror(-r));
    *out = ctx;
    return 0;
}

static int systrap_ctx_adopt(struct platform_ctx *ctx)
{
    pin_self();
    pin_tid(ctx->tid, t_cpu);
    return 0;
}

/* Drops one context's hold on AS; the last one kills the stub. */
static void as_put(struct platform_as *as)
{
    pthread_mutex_lock(&as->lock);
    bool last = --as->nr_ctx == 0;
    pthread_mutex_unlock(&as->lock);
    if (last)
        as_free(as);
}

/* CPU time of a stub process (all its threads) or of one of its threads,
 * in ns; 0 if unknown. */
static uint64_t stub_cputime(pid_t pid, pid_t tid, int *fd)
{
    if (!tid) {
        clockid_t clk = (clockid_t)((~(unsigned)pid << 3) | 2);
        struct timespec ts;
        if (clock_gettime(clk, &ts) < 0)
            return 0;
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    }
    /* The host refuses thread CPU clocks of other processes. Opened under
     * the kernel's /proc fd when it has one: an open of "/proc/..." traps
     * into the kernel's SIGSYS handler, which does just that. */
    if (*fd < 0) {
        char path[64];
        if (g_host_proc_fd >= 0) {
            snprintf(path, sizeof(path), "%d/task/%d/schedstat", pid, tid);
            *fd = openat(g_host_proc_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        } else {
            snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", pid, tid);
            *fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (*fd < 0)
            return 0;
    }
    char buf[96];
    ssize_t n = pread(*fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return strtoull(buf, NULL, 10);
}

/* Ends CTX's host thread (not the last of its stub): true once the host
 * cleared its state word, false if it did not within EXIT_WAIT_NS. */
static bool thread_end(struct platform_ctx *ctx)
{
    uint32_t *state = &ctx->th->state;
    __atomic_store_n(state, SYSTRAP_EXIT, __ATOMIC_SEQ_CST);
    futex_wake(state);
    for (long long waited = 0; waited < EXIT_WAIT_NS; waited += 10000000) {
        uint32_t s = __atomic_load_n(state, __ATOMIC_ACQUIRE);
        if (s == SYSTRAP_DEAD)
            return true;
        if (!thread_alive(ctx))
            return __atomic_load_n(state, __ATOMIC_ACQUIRE) == SYSTRAP_DEAD;
        futex_wait(state, s, 10000000);
    }
    return false;
}

/*
 * Recycling: the last context of an address space hands its stub, cleaned,
 * to the pool instead of killing it (fork+exit+wait paid ~400 us of CPU
 * for a new stub, its start-up, the kill and the reap). The clean-up runs
 * no app code and leaves nothing of the old process:
 * - its last app thread ends (EXIT; the host clears its state word), so
 *   no thread that ran the old app's code is left; a stub that leaked a
 *   thread (one that did not end in time) is killed instead;
 * - the helper unmaps everything outside the stub region, as for a new
 *   stub; res->seq is reset first (the app is gone), so a value the app
 *   planted there cannot fake the munmap's completion;
 * - every slot page and the result page (but for its header) is zeroed,
 *   and a new app thread starts in a free slot as in a new stub (its FPU
 *   state is the helper's, never the app's): here, or under a memory limit
 *   in the as_new that takes the stub;
 * - the stub moves to a new platform_as (the old one is freed as before,
 *   and refuses helper calls meanwhile), with a CPU-time baseline so the
 *   next process's clocks start near 0.
 * The reaper thread runs it (as_new waits for recycles under way rather
 * than make a stub). MOAT_SYSTRAP_NO_POOL=1 also turns this off. Returns
 * true if AS's stub went to the pool; CTX is then gone (the caller frees
 * the struct); on false the caller drops AS (as_put).
 */
static bool as_recycle(struct platform_ctx *ctx)
{
    struct platform_as *as = ctx->as;
    if (ctx->lost || g_pool_max == 0 || as->pid <= 0)
        return false;
    pthread_mutex_lock(&g_pool_lock);
    bool room = g_pool_nr < g_pool_max + POOL_RECYCLED_EXTRA;
    pthread_mutex_unlock(&g_pool_lock);
    if (!room)
        return false;
    struct platform_as *nas = calloc(1, sizeof(*nas));
    if (!nas)
        return false;
    if (ctx->fast) {
        ctx->fast = false;
        __atomic_fetch_add(&g_fast_tokens, 1, __ATOMIC_RELEASE);
    }
    if (!thread_end(ctx))
        goto fail;
    pthread_mutex_lock(&as->lock);
    as->slot_use[ctx->slot] = SLOT_FREE;
    for (size_t i = 0; i < SYSTRAP_NSLOTS; i++) {
        if (as->slot_use[i] != SLOT_FREE) {
            pthread_mutex_unlock(&as->lock);
            goto fail;
        }
    }
    as->nr_batch = 0;
    __atomic_store_n(&as->res->seq, as->seq, __ATOMIC_RELEASE);
    long r = helper_call_locked(as, SYS_munmap, 0, PLATFORM_STUB_BASE, 0, 0, 0, 0);
    if (r == 0)
        r = helper_call_locked(as, SYS_munmap, PLATFORM_STUB_END,
                               PLATFORM_APP_MAX - PLATFORM_STUB_END, 0, 0, 0, 0);
    if (r != 0) {
        pthread_mutex_unlock(&as->lock);
        goto fail;
    }
    /* Punched, not written: zero pages without allocating any (a memset
     * of never-touched pages fails at the sandbox memory limit). */
    for (size_t i = 0; i < SYSTRAP_NSLOTS; i++)
        if (as->slot_mapped[i])
            memfile_discard(as->slot_off[i], SYSTRAP_SLOT_SIZE);
    memset((uint8_t *)as->res + sizeof(*as->res), 0, 0x1000 - sizeof(*as->res));
    /* The trampolines went with the munmap: the next process has none. */
    fam_put(as->fam);
    as->fam = NULL;
    as->no_patch = false;
    memset(as->neg, 0, sizeof(as->neg));
    __atomic_store_n(&as->sigacts->seq, 0, __ATOMIC_RELEASE);
    as->sig_seq = 0;
    as->sig_owner = as->sig_gen = 0;
    as->sig_mixed = false;
    *nas = *as;
    pthread_mutex_init(&nas->lock, NULL);
    nas->next = NULL;
    nas->pool_ctx = NULL;
    nas->nr_ctx = 0;
    nas->started = false;
    nas->had_threads = false;
    nas->helper_cpu = as->helper_cpu;
    nas->cpu_base = stub_cputime(as->pid, 0, NULL);
    /* The old platform_as keeps nothing: the reaper only frees it. */
    as->moved = true;
    as->pid = -1;
    as->pidfd = -1;
    as->sock = -1;
    as->nr_ctx = 0;
    as->req = NULL;
    as->res = NULL;
    as->sigacts = NULL;
    pthread_mutex_unlock(&as->lock);
    as_free(as);

    /* Its new app thread starts now, off the path of the as_new that
     * takes it; under a memory limit as_new starts it (the old process's
     * memory may still fill the limit now). */
    struct platform_ctx *nctx = NULL;
    if (!g_memfile_limit && thread_new(nas, &nctx) < 0) {
        as_free(nas);
        return true;
    }
    /* Back to the CPU of the last as_new, where the next one likely runs:
     * moved from here, off its path, it needs no moving there. */
    int home = __atomic_load_n(&g_pool_cpu, __ATOMIC_RELAXED);
    if (!g_no_pin && home >= 0 && nas->helper_cpu != home) {
        pin_tid(nas->pid, home);
        if (nctx)
            pin_tid(nctx->tid, home);
        nas->helper_cpu = home;
    }
    pthread_mutex_lock(&g_pool_lock);
    nas->pool_ctx = nctx;
    nas->next = g_pool;
    g_pool = nas;
    g_pool_nr++;
    pthread_cond_broadcast(&g_spawn_cond);
    pthread_mutex_unlock(&g_pool_lock);
    log_debug("systrap: stub %d recycled", nas->pid);
    return true;

fail:
    free(nas);
    return false;
}

static void systrap_ctx_destroy(struct platform_ctx *ctx)
{
    if (!ctx)
        return;
    struct platform_as *as = ctx->as;
    if (ctx->fast) {
        ctx->fast = false;
        __atomic_fetch_add(&g_fast_tokens, 1, __ATOMIC_RELEASE);
    }
    log_debug("systrap: thread %d: %llu fast handoffs, %llu slow, %u fast periods", ctx->tid,
              (unsigned long long)ctx->n_fast, (unsigned long long)ctx->n_slow, ctx->n_periods);
    if (ctx->stat_fd >= 0)
        close(ctx->stat_fd);
    ctx->stat_fd = -1;
    /* nr_ctx counts the contexts that still use AS, and this one does
     * until its slot is released: dropping it first let the process's
     * last thread free AS (through the reaper) while this one still
     * waited for its host thread and then wrote its slot state into
     * freed memory (the heap corruption and hangs seen with threads in
     * short-lived forked processes). If this is the only context, the
     * stub dies with it and its threads need no goodbye. */
    pthread_mutex_lock(&as->lock);
    bool only = as->nr_ctx == 1;
    pthread_mutex_unlock(&as->lock);
    if (!only) {
        /* End the thread; its slot is reused once the host cleared its
         * state word (CLONE_CHILD_CLEARTID), else never. */
        uint32_t *state = &ctx->th->state;
        __atomic_store_n(state, SYSTRAP_EXIT, __ATOMIC_RELEASE);
        futex_wake(state);
        bool dead = false;
        for (long long waited = 0; waited < EXIT_WAIT_NS; waited += 10000000) {
            uint32_t s = __atomic_load_n(state, __ATOMIC_ACQUIRE);
            if (s == SYSTRAP_DEAD || !thread_alive(ctx)) {
                dead = true;
                break;
            }
            futex_wait(state, s, 10000000);
        }
        slot_release(as, ctx->slot, dead);
    } else if (!ctx->lost && g_pool_max > 0 && as->pid > 0) {
        /* Recycled by the reaper thread, off the exiting task's path
         * (~100-200 us, most of it the munmaps). */
        pthread_mutex_lock(&g_pool_lock);
        as->recycle_ctx = ctx;
        as->next = g_reap_list;
        g_reap_list = as;
        g_recycling++;
        pthread_cond_broadcast(&g_reap_cond);
        pthread_mutex_unlock(&g_pool_lock);
        return;
    }
    as_put(as);
    free(ctx);
}

static struct platform_as *systrap_ctx_as(struct platform_ctx *ctx)
{
    return ctx->as;
}

/* ---- syscall patching: trampolines of a fork family ---- */

static struct patch_family *fam_new(void)
{
    struct patch_family *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    if (memfile_alloc(SYSTRAP_TRAMP_LEN, &f->off) < 0) {
        free(f);
        return NULL;
    }
    f->k = memfile_ptr(f->off);
    f->ref = 1;
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

static void fam_put(struct patch_family *f)
{
    if (!f || __atomic_sub_fetch(&f->ref, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    /* No stub maps it any more: every address space holding it did. */
    memfile_free(f->off, SYSTRAP_TRAMP_LEN);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static unsigned fam_hash(uint64_t site)
{
    return (unsigned)((site * 0x9e3779b97f4a7c15ULL) >> 52) & (FAM_HASH - 1);
}

/* The trampoline index for SITE running INSN first (made if ADD), or -1. */
static int fam_find_locked(struct patch_family *f, uint64_t site, const uint8_t *insn, bool add)
{
    unsigned h = fam_hash(site);
    for (unsigned i = 0; i < FAM_HASH; i++, h = (h + 1) & (FAM_HASH - 1)) {
        struct fam_ent *e = &f->tab[h];
        if (e->idx1 == 0) {
            if (!add || f->n >= SYSTRAP_TRAMP_MAX || f->n * 2 >= FAM_HASH)
                return -1;
            uint32_t idx = f->n;
            uint8_t *t = f->k + (uint64_t)idx * SYSTRAP_TRAMP_SIZE;
            uint64_t ret = site + 7;
            memcpy(t, insn, 5);
            t[5] = 0x48; /* movabs $ret, %rcx */
            t[6] = 0xb9;
            memcpy(t + 7, &ret, 8);
            t[15] = 0x49; /* movabs $stub_tramp_entry, %r11 */
            t[16] = 0xbb;
            memcpy(t + 17, &g_systrap_tramp_entry, 8);
            t[25] = 0x41; /* jmp *%r11 */
            t[26] = 0xff;
            t[27] = 0xe3;
            memset(t + 28, 0xcc, SYSTRAP_TRAMP_SIZE - 28);
            /* The stubs see the bytes before any patch points at them. */
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            e->site = site;
            memcpy(e->insn, insn, 5);
            e->idx1 = (uint16_t)(idx + 1);
            f->n++;
            return (int)idx;
        }
        if (e->site == site && (!insn || memcmp(e->insn, insn, 5) == 0))
            return e->idx1 - 1;
    }
    return -1;
}

/* Maps F's trampolines into AS. Caller holds as->lock. */
static int fam_map_locked(struct platform_as *as, struct patch_family *f)
{
    long r = helper_call_locked(as, SYS_mmap, SYSTRAP_TRAMP_ADDR, SYSTRAP_TRAMP_LEN,
                                PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, SYSTRAP_MEMFD,
                                f->off);
    if ((uint64_t)r == SYSTRAP_TRAMP_ADDR)
        return 0;
    as->no_patch = true;
    log_debug("systrap: cannot map the syscall trampolines: %ld", r);
    return r < 0 && r > -4096 ? (int)r : -EIO;
}

/* The address of trampoline IDX. */
static uint64_t tramp_addr(int idx)
{
    return SYSTRAP_TRAMP_ADDR + (uint64_t)idx * SYSTRAP_TRAMP_SIZE;
}

static unsigned neg_slot(uint64_t site)
{
    return (unsigned)((site * 0x9e3779b97f4a7c15ULL) >> 58) & (NEG_CACHE - 1);
}

static int systrap_patch_site(struct platform_ctx *ctx, uint64_t site, const uint8_t insn[5],
                              uint64_t *out_tramp)
{
    struct platform_as *as = ctx->as;
    if (!g_patch)
        return -EOPNOTSUPP;
    int r = 0;
    pthread_mutex_lock(&as->lock);
    if (as->nr_ctx != 1 || as->no_patch) {
        r = as->no_patch ? -EOPNOTSUPP : -EBUSY;
        goto out;
    }
    if (!as->fam) {
        struct patch_family *f = fam_new();
        if (!f) {
            r = -ENOMEM;
            goto out;
        }
        r = fam_map_locked(as, f);
        if (r < 0) {
            fam_put(f);
            goto out;
        }
        as->fam = f;
    }
    pthread_mutex_lock(&as->fam->lock);
    int idx = fam_find_locked(as->fam, site, insn, true);
    pthread_mutex_unlock(&as->fam->lock);
    if (idx < 0)
        r = -ENOSPC;
    else
        *out_tramp = tramp_addr(idx);
out:
    pthread_mutex_unlock(&as->lock);
    return r;
}

static void systrap_patch_refuse(struct platform_ctx *ctx, uint64_t site)
{
    __atomic_store_n(&ctx->as->neg[neg_slot(site)], site, __ATOMIC_RELAXED);
}

static uint64_t systrap_patch_lookup(struct platform_as *as, uint64_t site)
{
    uint64_t t = 0;
    pthread_mutex_lock(&as->lock);
    struct patch_family *f = as->fam;
    if (f) {
        pthread_mutex_lock(&f->lock);
        int idx = fam_find_locked(f, site, NULL, false);
        pthread_mutex_unlock(&f->lock);
        if (idx >= 0)
            t = tramp_addr(idx);
    }
    pthread_mutex_unlock(&as->lock);
    return t;
}

static size_t systrap_patch_sites(struct platform_as *as, uint64_t lo, uint64_t hi,
                                  struct platform_patch *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&as->lock);
    struct patch_family *f = as->fam;
    if (f) {
        pthread_mutex_lock(&f->lock);
        for (unsigned h = 0; h < FAM_HASH; h++) {
            const struct fam_ent *e = &f->tab[h];
            if (e->idx1 == 0 || e->site < lo || e->site >= hi)
                continue;
            if (n < max) {
                out[n].site = e->site;
                out[n].tramp = tramp_addr(e->idx1 - 1);
                memcpy(out[n].insn, e->insn, 5);
            }
            n++;
        }
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&as->lock);
    return n;
}

static void *systrap_patch_family_get(struct platform_as *as)
{
    pthread_mutex_lock(&as->lock);
    struct patch_family *f = as->fam;
    if (f)
        __atomic_add_fetch(&f->ref, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&as->lock);
    return f;
}

static int systrap_patch_family_set(struct platform_as *as, void *fam)
{
    struct patch_family *f = fam;
    int r = 0;
    pthread_mutex_lock(&as->lock);
    if (f && !as->fam && !as->started && !as->moved && as->nr_batch < SYSTRAP_MAP_BATCH_MAX) {
        /* A forked child before it first runs: with its other maps, in
         * the one batch its first switch sends (a helper round trip
         * less per fork). The stub cannot tell the two apart. */
        as->batch[as->nr_batch++] = (struct systrap_map_ent){
                SYSTRAP_TRAMP_ADDR, SYSTRAP_TRAMP_LEN, PROT_READ | PROT_EXEC, f->off};
        __atomic_add_fetch(&f->ref, 1, __ATOMIC_RELAXED);
        as->fam = f;
    } else if (f && !as->fam) {
        r = fam_map_locked(as, f);
        if (r == 0) {
            __atomic_add_fetch(&f->ref, 1, __ATOMIC_RELAXED);
            as->fam = f;
        }
    }
    pthread_mutex_unlock(&as->lock);
    return r;
}

static void systrap_patch_family_put(void *fam)
{
    fam_put(fam);
}

/* ---- rt_sigaction answers (stub_sa_fast) ---- */

static void systrap_sigactions_sync(struct platform_ctx *ctx, uint64_t owner, uint64_t gen,
                                    const void *acts)
{
    struct platform_as *as = ctx->as;
    if (__atomic_load_n(&as->sig_gen, __ATOMIC_ACQUIRE) == gen ||
        __atomic_load_n(&as->sig_mixed, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&as->lock);
    struct systrap_sigacts *p = as->sigacts;
    if (as->sig_owner && as->sig_owner != owner) {
        __atomic_store_n(&p->seq, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&as->sig_mixed, true, __ATOMIC_RELAXED);
        log_debug("systrap: stub %d: a second set of signal actions, queries trap", as->pid);
    } else if (!as->sig_mixed) {
        /* A seqlock write: seq odd, the actions, seq even again. */
        __atomic_store_n(&p->seq, as->sig_seq + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        memcpy(p->act, acts, sizeof(p->act));
        as->sig_seq += 2;
        __atomic_store_n(&p->seq, as->sig_seq, __ATOMIC_RELEASE);
        as->sig_owner = owner;
        __atomic_store_n(&as->sig_gen, gen, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&as->lock);
}

/* A patched stop becomes a signal-frame stop (for its FPU state, or to
 * resume with what the trampoline cannot restore): the trampoline, told
 * CONVERT, executes ud2 and the handler publishes its frame. */
static int convert_stop(struct platform_ctx *ctx)
{
    struct systrap_thread *th = ctx->th;
    /* Must be answered as an interrupt is (check_stuck): a thread page
     * whose kind was forged to PATCHED has a handler that ignores it. */
    __atomic_store_n(&ctx->intr_sent, true, __ATOMIC_RELAXED);
    __atomic_store_n(&th->state, SYSTRAP_CONVERT, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&th->swait, __ATOMIC_SEQ_CST))
        futex_wake(&th->state);
    int r = wait_state(ctx, SYSTRAP_TRAPPED);
    if (r == 0 && __atomic_load_n(&th->kind, __ATOMIC_RELAXED) != SYSTRAP_KIND_FRAME)
        r = -EFAULT;
    if (r == 0)
        r = capture_frame(ctx);
    if (r < 0) {
        ctx->lost = true;
        log_debug("systrap: thread %d: a patched stop did not convert: %s", ctx->tid,
                  strerror(-r));
        return r;
    }
    ctx->patched_stop = false;
    return 0;
}

/* ---- switch ---- */

/* Fast mode on: the app thread moves to another CPU and both sides poll. */
static void fast_enter(struct platform_ctx *ctx, uint64_t tpu)
{
    int cpu = next_cpu(t_cpu, &g_all_cpus);
    if (cpu < 0 || cpu == t_cpu)
        return;
    int n = __atomic_load_n(&g_fast_tokens, __ATOMIC_RELAXED);
    do {
        if (n <= 0)
            return;
    } while (!__atomic_compare_exchange_n(&g_fast_tokens, &n, n - 1, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_RELAXED));
    __atomic_store_n(&ctx->th->spin_tsc, g_spin_ns * tpu / 1000, __ATOMIC_RELAXED);
    pin_tid(ctx->tid, cpu);
    ctx->stub_cpu = cpu;
    ctx->fast = true;
    ctx->n_periods++;
    ctx->misses = 0;
    ctx->fast_runs = 0;
}

/* Back to slow mode: the app thread sleeps between traps on our CPU. */
static void fast_leave(struct platform_ctx *ctx)
{
    if (!ctx->fast)
        return;
    __atomic_store_n(&ctx->th->spin_tsc, 0, __ATOMIC_RELAXED);
    pin_tid(ctx->tid, t_cpu);
    ctx->stub_cpu = t_cpu;
    ctx->fast = false;
    __atomic_fetch_add(&g_fast_tokens, 1, __ATOMIC_RELEASE);
    /* Fell back soon: wait longer before trying again. */
    if (ctx->fast_runs < 1000)
        ctx->quick_need = ctx->quick_need * 2 > FAST_QUICK_MAX ? FAST_QUICK_MAX : ctx->quick_need * 2;
    else
        ctx->quick_need = FAST_QUICK_MIN;
    ctx->quick = 0;
}

/* After a handoff: chooses the mode for the next. CYCLE is the TSC time
 * since the previous trap (kernel work + app run + handoffs), SLEPT
 * whether either side had to sleep. */
static void fast_adapt(struct platform_ctx *ctx, uint64_t cycle, bool slept)
{
    /* Another app thread ran meanwhile: polling would share its CPU. */
    bool crowded = __atomic_load_n(&g_nr_running, __ATOMIC_RELAXED) > 0;
    if (ctx->fast) {
        ctx->n_fast++;
        ctx->fast_runs++;
        ctx->misses = slept || crowded ? ctx->misses + 1 : 0;
        if (ctx->misses >= FAST_MISSES)
            fast_leave(ctx);
        return;
    }
    ctx->n_slow++;
    if (g_fast_tokens <= 0 || t_cpu < 0)
        return;
    uint64_t tpu = tsc_per_us();
    if (!tpu)
        return;
    /* Quick: polling would have caught the reply (the slow handoffs
     * themselves cost ~8 us of the cycle). */
    if (cycle < (g_spin_ns / 1000 + 10) * tpu && !crowded)
        ctx->quick++;
    else
        ctx->quick = 0;
    if (ctx->quick >= ctx->quick_need)
        fast_enter(ctx, tpu);
}

static int systrap_switch(struct platform_ctx *ctx, struct platform_regs *regs,
                          struct platform_trap *out)
{
    struct systrap_thread *th = ctx->th;
    struct platform_as *as = ctx->as;
    if (!__atomic_load_n(&as->started, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&as->lock);
        int e = flush_maps_locked(as);
        __atomic_store_n(&as->started, true, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&as->lock);
        if (e < 0)
            return e;
    }
    if (ctx->patched_stop) {
        /* The trampoline restores general registers, rip and flags; fs
         * and gs bases, TF and FPU state need the frame. */
        if (!(regs->eflags & 0x100) && regs->gs_base == 0 && regs->fs_base == ctx->stop_fs) {
            regs_to_pregs(ctx, regs);
        } else {
            int e = convert_stop(ctx);
            if (e < 0)
                return e;
            regs_to_frame(ctx, regs);
        }
    } else {
        regs_to_frame(ctx, regs);
    }
    /* An interrupt sent before now was for a stop that has happened. */
    __atomic_store_n(&ctx->intr_sent, false, __ATOMIC_RELAXED);
    __atomic_store_n(&ctx->running, true, __ATOMIC_RELEASE);
    __atomic_fetch_add(&g_nr_running, 1, __ATOMIC_RELAXED);
    /* Dekker with the handler: RUN before swait is read, its swait
     * before it reads state again. */
    __atomic_store_n(&th->state, SYSTRAP_RUN, __ATOMIC_SEQ_CST);
    bool slept = false;
    if (__atomic_load_n(&th->swait, __ATOMIC_SEQ_CST)) {
        futex_wake(&th->state);
        slept = true;
    }
    uint64_t spin = ctx->fast ? __atomic_load_n(&th->spin_tsc, __ATOMIC_RELAXED) : 0;
    int r = wait_state_spin(ctx, SYSTRAP_TRAPPED, spin, &slept);
    __atomic_fetch_sub(&g_nr_running, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&ctx->running, false, __ATOMIC_RELEASE);
    if (r < 0) {
        ctx->lost = true;
        return r;
    }
    if (g_fast_tokens > 0 || ctx->fast) {
        uint64_t now = rdtsc();
        fast_adapt(ctx, now - ctx->last_trap, slept);
        ctx->last_trap = now;
    }
    out->patchable = false;
    if (__atomic_load_n(&th->kind, __ATOMIC_RELAXED) == SYSTRAP_KIND_PATCHED) {
        /* From the trampoline: a syscall, registers in the thread page. */
        pregs_to_regs(ctx, regs);
        ctx->patched_stop = true;
        ctx->stop_fs = regs->fs_base;
        regs->orig_rax = regs->rax;
        regs->rax = (uint64_t)-ENOSYS;
        out->ev = PLATFORM_EV_SYSCALL;
        return 0;
    }
    ctx->patched_stop = false;
    r = capture_frame(ctx);
    if (r < 0) {
        ctx->lost = true;
        log_debug("systrap: thread %d published a bad signal frame", ctx->tid);
        return r;
    }
    frame_to_regs(ctx, regs);
    uint32_t signo = __atomic_load_n(&th->signo, __ATOMIC_RELAXED);
    int code = __atomic_load_n(&th->code, __ATOMIC_RELAXED);
    switch (signo) {
    case SIGSYS:
        if (code == 1 /* SYS_SECCOMP */) {
            regs->orig_rax = (uint64_t)(int64_t)__atomic_load_n(&th->nr, __ATOMIC_RELAXED);
            regs->rax = (uint64_t)-ENOSYS;
            out->ev = PLATFORM_EV_SYSCALL;
            if (g_patch && regs->rip > PLATFORM_APP_MIN) {
                uint64_t site = regs->rip - 7;
                out->patchable = __atomic_load_n(&as->neg[neg_slot(site)], __ATOMIC_RELAXED) != site &&
                                 __atomic_load_n(&as->nr_ctx, __ATOMIC_RELAXED) == 1;
            }
            return 0;
        }
        break;
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
        if (code > 0 || signo == SIGTRAP) {
            uint64_t trapno;
            memcpy(&trapno,
                   ctx->kslot + ctx->uc_off + offsetof(struct systrap_ucontext, mc.trapno), 8);
            out->ev = PLATFORM_EV_FAULT;
            out->signo = (int)signo;
            out->code = code;
            out->addr = __atomic_load_n(&th->addr, __ATOMIC_RELAXED);
            out->trapno = trapno < 32 ? (int)trapno : -1;
            return 0;
        }
        break;
    default:
        break;
    }
    /* The interrupt signal, or one someone else sent. */
    out->ev = PLATFORM_EV_INTERRUPTED;
    return 0;
}

/* Always signals, as ptrace does: the kernel calls this once it saw
 * t->in_app, which is set before ctx_switch sets ctx->running, so checking
 * running lost interrupts sent in between (the app thread then ran on,
 * e.g. spinning on a flag, and the task never saw its signal). A signal
 * sent while the thread waits in its handler stays pending (the handler
 * blocks everything) and traps it right after it resumes: at worst one
 * spurious INTERRUPTED. */
static void systrap_interrupt(struct platform_ctx *ctx)
{
    __atomic_store_n(&ctx->intr_sent, true, __ATOMIC_RELAXED);
    syscall(SYS_tgkill, ctx->as->pid, ctx->tid, SYSTRAP_SIG_INTERRUPT);
}

/* ---- FPU state: the xsave area of the waiting frame ---- */

static int systrap_get_fpstate(struct platform_ctx *ctx, struct platform_fpstate *out)
{
    if (ctx->patched_stop) {
        int r = convert_stop(ctx);
        if (r < 0)
            return r;
    }
    uint32_t size = platform_xstate_size();
    uint32_t n = ctx->fp_size < size ? ctx->fp_size : size;
    memcpy(out->bytes, ctx->kslot + ctx->fp_off, n);
    memset(out->bytes + n, 0, size - n);
    return 0;
}

static int systrap_set_fpstate(struct platform_ctx *ctx, const struct platform_fpstate *fp)
{
    if (ctx->patched_stop) {
        int r = convert_stop(ctx);
        if (r < 0)
            return r;
    }
    uint32_t mxcsr;
    memcpy(&mxcsr, fp->bytes + 24, 4);
    if (mxcsr & ~g_mxcsr_mask)
        return -EINVAL;
    uint8_t *dst = ctx->kslot + ctx->fp_off;
    if (ctx->fp_size > 512) {
        uint64_t hdr[8];
        memcpy(hdr, fp->bytes + 512, sizeof(hdr));
        if ((hdr[0] & ~platform_xfeatures()) || hdr[1])
            return -EINVAL;
        for (int i = 2; i < 8; i++)
            if (hdr[i])
                return -EINVAL;
        uint32_t size = platform_xstate_size();
        uint32_t n = ctx->fp_size < size ? ctx->fp_size : size;
        memcpy(dst + 512, fp->bytes + 512, n - 512);
    }
    /* The software-reserved bytes (464..511) stay as the host wrote them:
     * its rt_sigreturn reads the frame's layout from them. */
    memcpy(dst, fp->bytes, FP_SW_OFF);
    return 0;
}

static int systrap_cputime(struct platform_ctx *ctx, bool process, uint64_t *out_ns)
{
    /* The only app thread its stub has had: its time is the process's (with
     * the helper's, which works for it alone), without a /proc file to
     * open and read (~15 us, on every process's exit path). */
    bool whole = process || !__atomic_load_n(&ctx->as->had_threads, __ATOMIC_RELAXED);
    uint64_t v = whole ? stub_cputime(ctx->as->pid, 0, NULL)
                       : stub_cputime(ctx->as->pid, ctx->tid, &ctx->stat_fd);
    if (!v)
        return -ESRCH;
    uint64_t base = whole ? ctx->as->cpu_base : 0;
    *out_ns = v > base ? v - base : 0;
    return 0;
}

const struct platform_ops g_systrap_platform = {
    .name = "systrap",
    .init = systrap_init,
    .start = systrap_start,
    .as_new = systrap_as_new,
    .ctx_new = systrap_ctx_new,
    .ctx_adopt = systrap_ctx_adopt,
    .ctx_destroy = systrap_ctx_destroy,
    .ctx_as = systrap_ctx_as,
    .map = systrap_map,
    .map_file = systrap_map_file,
    .unmap = systrap_unmap,
    .protect = systrap_protect,
    .ctx_switch = systrap_switch,
    .ctx_get_fpstate = systrap_get_fpstate,
    .ctx_set_fpstate = systrap_set_fpstate,
    .ctx_cputime = systrap_cputime,
    .ctx_interrupt = systrap_interrupt,
    .patch_site = systrap_patch_site,
    .patch_refuse = systrap_patch_refuse,
    .kthread_reset = systrap_kthread_reset,
    .patch_lookup = systrap_patch_lookup,
    .patch_sites = systrap_patch_sites,
    .patch_family_get = systrap_patch_family_get,
    .patch_family_set = systrap_patch_family_set,
    .patch_family_put = systrap_patch_family_put,
    .sigactions_sync = systrap_sigactions_sync,
};
