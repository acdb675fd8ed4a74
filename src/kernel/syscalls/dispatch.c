/*
 * The syscall table and dispatcher. Handlers register themselves with
 * SYSCALL_DEFINE (a linker section); the table is built once at start-up.
 * A number nobody registered returns -ENOSYS and is logged once.
 */
#include <stdio.h>
#include <string.h>

#include "abi/linux/syscall_names.h"
#include "kernel/seccomp/seccomp.h"
#include "kernel/syscalls/strace.h"
#include "kernel/syscalls/syscall.h"
#include "lib/log.h"
#include "lib/util.h"

extern const struct syscall_def __start_moat_syscalls[];
extern const struct syscall_def __stop_moat_syscalls[];

static const struct syscall_def *g_table[LINUX_SYS_MAX];
static uint8_t g_enosys_logged[LINUX_SYS_MAX];

void syscall_table_init(void)
{
    for (const struct syscall_def *d = __start_moat_syscalls; d < __stop_moat_syscalls; d++) {
        if (d->nr < 0 || d->nr >= LINUX_SYS_MAX || g_table[d->nr]) {
            log_error("internal: bad or duplicate syscall registration %s", d->name);
            abort();
        }
        g_table[d->nr] = d;
    }
}

const struct syscall_def *syscall_lookup(int nr)
{
    if (nr < 0 || nr >= LINUX_SYS_MAX)
        return NULL;
    return g_table[nr];
}

const char *syscall_name(uint64_t nr)
{
    if (nr < ARRAY_SIZE(g_linux_syscall_names) && g_linux_syscall_names[nr])
        return g_linux_syscall_names[nr];
    return NULL;
}

static void log_enosys(uint64_t nr)
{
    if (nr < LINUX_SYS_MAX) {
        if (__atomic_exchange_n(&g_enosys_logged[nr], 1, __ATOMIC_RELAXED))
            return;
    }
    /* At info level: shown with --debug or in the --debug-log file, not
     * mixed into the app's own stderr. */
    const char *name = syscall_name(nr);
    if (name)
        log_info("unsupported syscall %s (%llu): returning ENOSYS", name,
                 (unsigned long long)nr);
    else
        log_info("unknown syscall %llu: returning ENOSYS", (unsigned long long)nr);
}

void syscall_dispatch(struct task *t)
{
    struct sys_args a = {
        .nr = t->regs.orig_rax,
        .arg = {t->regs.rdi, t->regs.rsi, t->regs.rdx, t->regs.r10, t->regs.r8, t->regs.r9},
    };
    const struct syscall_def *d = a.nr < LINUX_SYS_MAX ? g_table[a.nr] : NULL;
    long r;
    if (unlikely(t->strace))
        strace_enter(t, d, &a);
    t->regs_set = false;
    if (unlikely(__atomic_load_n(&t->seccomp_mode, __ATOMIC_RELAXED)) &&
        !seccomp_syscall_allowed(t, a.nr, a.arg, &r)) {
        /* A seccomp filter (or strict mode) chose the result instead. */
    } else if (d) {
        r = d->fn(t, &a);
    } else {
        log_enosys(a.nr);
        r = -ENOSYS;
    }
    if (unlikely(t->strace))
        strace_exit(t, d, &a, r);
    /* execve and rt_sigreturn replace the registers: keep their rax. An
     * internal -ERESTART* result is resolved by signal_deliver() before the
     * app runs again: it never reaches the app. */
    if (!t->regs_set) {
        t->regs.rax = (uint64_t)r;
        t->after_syscall = true;
    }
}

void syscall_print_table(int fd)
{
    static const char *const status[] = {"full", "partial"};
    dprintf(fd, "| # | syscall | status | notes |\n|---:|---|---|---|\n");
    for (size_t nr = 0; nr < ARRAY_SIZE(g_linux_syscall_names); nr++) {
        const char *name = g_linux_syscall_names[nr];
        if (!name)
            continue;
        const struct syscall_def *d = g_table[nr];
        dprintf(fd, "| %zu | %s | %s | %s |\n", nr, name, d ? status[d->status] : "ENOSYS",
                d && d->note ? d->note : "");
    }
}
