/*
 * ELF loading and the initial stack, for x86-64.
 *
 * Layout, as Linux's with randomize_va_space=2 (unless the persona has
 * ADDR_NO_RANDOMIZE): the stack top goes up to 16 GiB below the top of the
 * app's range (22 bits of pages) plus up to 8 KiB within the page; mmap(NULL)
 * allocations go below a base under the stack's RLIMIT_STACK gap, lowered by
 * up to 1 TiB (28 bits of pages), so the interpreter and the vDSO move with
 * it; a PIE program goes at ELF_ET_DYN_BASE plus up to 1 TiB (28 bits); the
 * break starts up to 32 MiB past the end of the image.
 *
 * Each PT_LOAD span is created as anonymous private memory, filled from the
 * file, then given the segment's protection: the same contents a private
 * file mapping would show. FIXME(issue 3): map file pages from a page cache
 * so text is shared between processes instead of copied per exec.
 */
#include "kernel/loader/loader.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include "abi/linux/types.h"
#include "kernel/host/host.h"
#include "kernel/loader/elf_parse.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task.h"
#include "kernel/time/vdso.h"
#include "kernel/vfs/notify.h"
#include "kernel/vfs/vfs.h"
#include "lib/log.h"
#include "lib/util.h"

#define ELF_ET_DYN_BASE   0x555555554000ULL /* where Linux puts PIE programs */
#define STACK_SIZE        (8ULL << 20)      /* mapped at exec; grows on faults past it */
#define STACK_MIN_GAP     (128ULL << 20)    /* Linux's MIN_GAP below the stack */
#define STACK_MAX_GAP     (PLATFORM_APP_MAX / 6 * 5)
#define MAX_ARG_STRLEN    (32 * PAGE_SIZE)
#define MAX_ARG_TOTAL     (6ULL << 20)      /* Linux: 3/4 of _STK_LIM */
#define MIN_ARG_TOTAL     (32 * PAGE_SIZE)  /* Linux: ARG_MAX */
#define STACK_RND_BITS    22                /* pages of stack-top randomisation */
#define MMAP_RND_BITS     28                /* pages of mmap/PIE randomisation */
#define BRK_RND_RANGE     (32ULL << 20)
#define STACK_SUBPAGE_RND 8192
#define COPY_CHUNK        (256 * 1024)

int loader_check_elf(const uint8_t *hdr, size_t len)
{
    return elf_check_header(hdr, len);
}

static int prot_of(uint32_t flags)
{
    return ((flags & PF_R) ? PROT_READ : 0) | ((flags & PF_W) ? PROT_WRITE : 0) |
           ((flags & PF_X) ? PROT_EXEC : 0);
}

/* Copies LEN bytes of FILE at OFF to app address ADDR. */
static int copy_file_to(struct mm *mm, struct file *file, uint64_t off, uint64_t addr,
                        uint64_t len)
{
    _cleanup_free_ uint8_t *buf = malloc(MIN(len, (uint64_t)COPY_CHUNK) + 1);
    if (!buf)
        return -ENOMEM;
    while (len) {
        size_t n = MIN(len, (uint64_t)COPY_CHUNK);
        ssize_t got = vfs_pread(file, buf, n, off);
        if (got < 0)
            return (int)got;
        if ((size_t)got != n)
            return -EIO; /* the file is shorter than its headers say */
        int r = mm_copy_out_force(mm, addr, buf, n);
        if (r < 0)
            return r;
        off += n;
        addr += n;
        len -= n;
    }
    return 0;
}

struct elf_info {
    uint64_t bias;
    uint64_t entry;
    uint64_t phdr_addr;
    uint16_t phnum;
    uint64_t end; /* highest address of the image */
};

/* Maps one ELF image. BASE is where an ET_DYN image goes (0: wherever
 * mmap(NULL) would put it); ET_EXEC images go where they say.
 * If OUT_INTERP is set, the PT_INTERP path is copied there ("" if none). */
static int load_image(struct mm *mm, struct file *file, const uint8_t *hdr, uint64_t base,
                      char *out_interp, size_t interp_size, struct elf_info *out)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)hdr;
    size_t phsize = (size_t)eh->e_phnum * sizeof(Elf64_Phdr);
    _cleanup_free_ Elf64_Phdr *ph = malloc(phsize);
    if (!ph)
        return -ENOMEM;
    ssize_t got = vfs_pread(file, ph, phsize, eh->e_phoff);
    if (got < 0)
        return (int)got;
    if ((size_t)got != phsize)
        return -ENOEXEC;

    struct elf_layout l;
    int r = elf_parse(eh, ph, out_interp ? interp_size : 0, &l);
    if (r < 0)
        return r;
    if (out_interp) {
        out_interp[0] = '\0';
        if (l.interp_size) {
            got = vfs_pread(file, out_interp, l.interp_size, l.interp_off);
            if (got != (ssize_t)l.interp_size || out_interp[l.interp_size - 1] != '\0')
                return -ENOEXEC;
        }
    }
    uint64_t lo = l.lo, hi = l.hi;
    bool anywhere = eh->e_type == ET_DYN && base == 0;
    uint64_t bias;
    r = elf_place(&l, eh->e_type, base, &bias);
    if (r < 0)
        return r;

    /* One writable span for the whole image, filled, then protected. */
    uint64_t addr;
    r = mm_mmap(mm, anywhere ? 0 : lo + bias, hi - lo, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | (anywhere ? 0 : MAP_FIXED), NULL, 0, &addr);
    if (r < 0)
        return r;
    if (anywhere)
        bias = addr - lo;
    /* Each segment's file pages are mapped privately as Linux does (a
     * read-only rootfs file shares one cached copy among all its mappings,
     * copy-on-write); what lies past p_filesz in its last page is zeroed
     * when the segment has bss. A segment whose pages overlap the one
     * before, or whose offset is not congruent to its address, is copied. */
    uint64_t prev_end = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        const Elf64_Phdr *p = &ph[i];
        if (p->p_type != PT_LOAD || !p->p_filesz)
            continue;
        uint64_t s = ALIGN_DOWN(p->p_vaddr, PAGE_SIZE) + bias;
        uint64_t e = ALIGN_UP(p->p_vaddr + p->p_filesz, PAGE_SIZE) + bias;
        uint64_t fend = p->p_vaddr + p->p_filesz + bias;
        if ((p->p_offset - p->p_vaddr) % PAGE_SIZE != 0 || s < prev_end) {
            r = copy_file_to(mm, file, p->p_offset, p->p_vaddr + bias, p->p_filesz);
        } else {
            uint64_t got_addr;
            /* Writable segments get a private copy at once (see mm_mmap). */
            r = mm_mmap(mm, s, e - s, PROT_READ | (prot_of(p->p_flags) & PROT_WRITE),
                        MAP_PRIVATE | MAP_FIXED, file, ALIGN_DOWN(p->p_offset, PAGE_SIZE),
                        &got_addr);
            if (r == 0 && p->p_memsz > p->p_filesz && fend < e) {
                static const uint8_t zeroes[PAGE_SIZE];
                r = mm_copy_out_force(mm, fend, zeroes, e - fend);
            }
        }
        if (r < 0)
            return r;
        prev_end = e;
    }
    /* Protections: gaps between segments become inaccessible. */
    r = mm_mprotect(mm, lo + bias, hi - lo, PROT_NONE);
    for (int i = 0; r == 0 && i < eh->e_phnum; i++) {
        const Elf64_Phdr *p = &ph[i];
        if (p->p_type != PT_LOAD || !p->p_memsz)
            continue;
        uint64_t s = ALIGN_DOWN(p->p_vaddr, PAGE_SIZE) + bias;
        uint64_t e = ALIGN_UP(p->p_vaddr + p->p_memsz, PAGE_SIZE) + bias;
        r = mm_mprotect(mm, s, e - s, prot_of(p->p_flags));
    }
    if (r < 0)
        return r;

    out->bias = bias;
    out->entry = eh->e_entry + bias;
    out->phdr_addr = l.have_phdr ? l.phdr_vaddr + bias : 0;
    out->phnum = eh->e_phnum;
    out->end = hi + bias;
    return 0;
}

/* ---- the initial stack ---- */

struct stack_builder {
    uint8_t *buf;   /* kernel copy of the top of the stack */
    uint64_t size;  /* bytes in buf */
    uint64_t top;   /* app address of buf + size */
    uint64_t used;  /* bytes used from the top */
};

/* Reserves LEN bytes below what is used; returns the app address. */
static int sb_push(struct stack_builder *sb, const void *data, size_t len, uint64_t *out_addr)
{
    if (sb->used + len > sb->size)
        return -E2BIG;
    sb->used += len;
    if (data)
        memcpy(sb->buf + sb->size - sb->used, data, len);
    *out_addr = sb->top - sb->used;
    return 0;
}

static int count_strings(char *const *v, size_t *out_count, size_t *out_bytes)
{
    size_t n = 0, bytes = 0;
    for (; v && v[n]; n++) {
        size_t len = strlen(v[n]) + 1;
        if (len > MAX_ARG_STRLEN)
            return -E2BIG;
        bytes += len;
    }
    *out_count = n;
    *out_bytes = bytes;
    return 0;
}

static int build_stack(struct task *t, struct mm *mm, char *const *argv, char *const *envp,
                       const char *execfn, const struct elf_info *prog, uint64_t interp_base,
                       uint64_t vdso_base, const struct mm_limits *lim, uint64_t pad_rnd,
                       uint64_t *out_sp, struct loader_image *img)
{
    size_t argc, envc, argb, envb;
    int r = count_strings(argv, &argc, &argb);
    if (r == 0)
        r = count_strings(envp, &envc, &envb);
    if (r < 0)
        return r;
    uint64_t need = argb + envb + strlen(execfn) + 1 + 64 + (argc + envc + 2) * 8 + 64 * 16;
    /* Linux: the strings may use a quarter of RLIMIT_STACK, at least
     * ARG_MAX, at most 3/4 of the default stack. */
    if (need > MIN(MAX_ARG_TOTAL, MAX(lim->stack / 4, (uint64_t)MIN_ARG_TOTAL)))
        return -E2BIG;
    need += pad_rnd;

    /* STACK_SIZE now (or RLIMIT_STACK if smaller); faults below grow it up
     * to RLIMIT_STACK (mm_fault). */
    uint64_t top = mm_stack_top(mm);
    uint64_t stack_size = MIN(STACK_SIZE, ALIGN_DOWN(lim->stack, PAGE_SIZE));
    stack_size = MAX(stack_size, ALIGN_UP(need + PAGE_SIZE, PAGE_SIZE));
    uint64_t addr;
    r = mm_mmap(mm, top - stack_size, stack_size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, NULL, 0, &addr);
    if (r < 0)
        return r;

    struct stack_builder sb = {.size = ALIGN_UP(need + PAGE_SIZE, PAGE_SIZE), .top = top};
    sb.buf = calloc(1, sb.size);
    if (!sb.buf)
        return -ENOMEM;
    _cleanup_free_ uint64_t *argp = calloc(argc + 1, sizeof(uint64_t));
    _cleanup_free_ uint64_t *envpp = calloc(envc + 1, sizeof(uint64_t));
    if (!argp || !envpp) {
        free(sb.buf);
        return -ENOMEM;
    }

    uint64_t a, execfn_addr, platform_addr, random_addr = 0;
    static const uint8_t end_marker[8];
    /* Strings at the very top, as Linux lays them out. */
    r = sb_push(&sb, end_marker, sizeof(end_marker), &a);
    if (r == 0)
        r = sb_push(&sb, execfn, strlen(execfn) + 1, &execfn_addr);
    img->env_end = sb.top - sb.used;
    for (size_t i = envc; r == 0 && i-- > 0;)
        r = sb_push(&sb, envp[i], strlen(envp[i]) + 1, &envpp[i]);
    img->env_start = img->arg_end = sb.top - sb.used;
    for (size_t i = argc; r == 0 && i-- > 0;)
        r = sb_push(&sb, argv[i], strlen(argv[i]) + 1, &argp[i]);
    img->arg_start = sb.top - sb.used;
    if (r == 0)
        r = sb_push(&sb, "x86_64", 7, &platform_addr);
    uint8_t rnd[16];
    if (r == 0)
        r = host_getrandom(rnd, sizeof(rnd));
    if (r == 0)
        r = sb_push(&sb, rnd, sizeof(rnd), &random_addr);
    /* Linux's arch_align_stack(): up to 8 KiB below the strings. */
    if (r == 0 && pad_rnd)
        r = sb_push(&sb, NULL, pad_rnd, &a);
    if (r < 0) {
        free(sb.buf);
        return r;
    }

    uint64_t auxv[] = {
        LINUX_AT_PHDR,     prog->phdr_addr,
        LINUX_AT_PHENT,    sizeof(Elf64_Phdr),
        LINUX_AT_PHNUM,    prog->phnum,
        LINUX_AT_PAGESZ,   PAGE_SIZE,
        LINUX_AT_BASE,     interp_base,
        LINUX_AT_FLAGS,    0,
        LINUX_AT_ENTRY,    prog->entry,
        LINUX_AT_UID,      t->cred.uid,
        LINUX_AT_EUID,     t->cred.euid,
        LINUX_AT_GID,      t->cred.gid,
        LINUX_AT_EGID,     t->cred.egid,
        LINUX_AT_SECURE,   t->secureexec,
        LINUX_AT_RANDOM,   random_addr,
        LINUX_AT_HWCAP,    host_hwcap(),
        LINUX_AT_HWCAP2,   0,
        LINUX_AT_CLKTCK,   100,
        LINUX_AT_PLATFORM, platform_addr,
        LINUX_AT_EXECFN,   execfn_addr,
        LINUX_AT_SYSINFO_EHDR, vdso_base,
        LINUX_AT_NULL,     0,
    };
    /* Below the strings: argc, argv[], NULL, envp[], NULL, auxv, with the
     * final stack pointer 16-byte aligned at argc. */
    size_t words = 1 + argc + 1 + envc + 1 + ARRAY_SIZE(auxv);
    uint64_t sp = ALIGN_DOWN(sb.top - sb.used - words * 8, 16);
    uint64_t pad = (sb.top - sb.used) - (sp + words * 8);
    r = sb_push(&sb, NULL, pad, &a);
    if (r == 0)
        r = sb_push(&sb, auxv, sizeof(auxv), &a);
    uint64_t zero = 0;
    if (r == 0)
        r = sb_push(&sb, &zero, 8, &a);
    for (size_t i = envc; r == 0 && i-- > 0;)
        r = sb_push(&sb, &envpp[i], 8, &a);
    if (r == 0)
        r = sb_push(&sb, &zero, 8, &a);
    for (size_t i = argc; r == 0 && i-- > 0;)
        r = sb_push(&sb, &argp[i], 8, &a);
    uint64_t argc64 = argc;
    if (r == 0)
        r = sb_push(&sb, &argc64, 8, &a);
    if (r == 0 && a != sp)
        r = -EINVAL;
    if (r == 0)
        r = mm_copy_out(mm, sb.top - sb.used, sb.buf + sb.size - sb.used, sb.used);
    free(sb.buf);
    if (r < 0)
        return r;
    *out_sp = sp;
    return 0;
}

/* RANGE random bytes' worth (a power of two), page aligned. */
static uint64_t random_below(uint64_t range, uint64_t align)
{
    uint64_t x = 0;
    if (host_getrandom(&x, sizeof(x)) < 0)
        return 0;
    return ALIGN_DOWN(x & (range - 1), align);
}

/* The persona of the first process: the kernel's own (so `setarch -R moat
 * do ...` gives a fixed layout, as it would natively). */
static uint32_t host_persona(void)
{
    int p = personality(0xffffffff);
    return p < 0 ? 0 : (uint32_t)p;
}

static void read_limits(struct task *t, struct mm_limits *out)
{
    pthread_mutex_lock(&t->tg->lock);
    out->as = t->tg->rlim[RLIMIT_AS].rlim_cur;
    out->data = t->tg->rlim[RLIMIT_DATA].rlim_cur;
    out->stack = t->tg->rlim[RLIMIT_STACK].rlim_cur;
    out->memlock = MM_UNLIMITED; /* refreshed before each mapping call (sys_mm.c) */
    pthread_mutex_unlock(&t->tg->lock);
}

/* Chooses MM's layout (see the top of this file). */
static void choose_layout(struct mm *mm, bool randomize, const struct mm_limits *lim,
                          uint64_t *out_pie_base, uint64_t *out_brk_rnd, uint64_t *out_pad)
{
    uint64_t top = PLATFORM_APP_MAX;
    if (randomize)
        top -= random_below(PAGE_SIZE << STACK_RND_BITS, PAGE_SIZE);
    /* The gap below the stack: RLIMIT_STACK clamped as Linux's mmap_base(),
     * plus the guard gap, so mmap(NULL) never takes the stack's room. */
    uint64_t gap = MAX(MIN(lim->stack, STACK_MAX_GAP), STACK_MIN_GAP) + MM_STACK_GUARD_GAP;
    uint64_t base = MIN(PLATFORM_STUB_BASE, top - gap);
    if (randomize)
        base -= random_below(PAGE_SIZE << MMAP_RND_BITS, PAGE_SIZE);
    mm_set_layout(mm, top, base);
    *out_pie_base = ELF_ET_DYN_BASE +
                    (randomize ? random_below(PAGE_SIZE << MMAP_RND_BITS, PAGE_SIZE) : 0);
    *out_brk_rnd = randomize ? random_below(BRK_RND_RANGE, PAGE_SIZE) : 0;
    *out_pad = randomize ? random_below(STACK_SUBPAGE_RND, 16) : 0;
}

int loader_load(struct task *t, struct mm *mm, struct file *file, const uint8_t *hdr,
                char *const *argv, char *const *envp, const char *execfn,
                struct loader_image *out)
{
    char interp[LINUX_PATH_MAX];
    struct elf_info prog, ld = {0};
    struct mm_limits lim;
    uint64_t pie_base, brk_rnd, pad_rnd;

    read_limits(t, &lim);
    uint32_t persona = t->mm ? mm_personality(t->mm) : host_persona();
    mm_set_personality(mm, persona);
    mm_set_pid(mm, t->tg->pid);
    choose_layout(mm, !(persona & ADDR_NO_RANDOMIZE), &lim, &pie_base, &brk_rnd, &pad_rnd);
    int r = load_image(mm, file, hdr, pie_base, interp, sizeof(interp), &prog);
    if (r < 0)
        return r;
    mm_set_brk_start(mm, prog.end + brk_rnd);

    uint64_t entry = prog.entry;
    uint64_t interp_base = 0;
    if (interp[0]) {
        struct file *lf;
        r = vfs_open_exec(t, interp, &lf);
        if (r < 0) {
            log_debug("exec: interpreter %s: %s", interp, strerror(-r));
            return r == -EACCES ? -EACCES : -ENOENT;
        }
        uint8_t lhdr[LOADER_HDR_SIZE] = {0};
        ssize_t got = vfs_pread(lf, lhdr, sizeof(lhdr), 0);
        if (got > 0)
            fsnotify_file(lf, FSN_ACCESS); /* as Linux's kernel_read */
        r = got < 0 ? (int)got : loader_check_elf(lhdr, (size_t)got);
        if (r == 0 && ((const Elf64_Ehdr *)lhdr)->e_type != ET_DYN)
            r = -ELIBBAD;
        if (r == 0)
            r = load_image(mm, lf, lhdr, 0, NULL, 0, &ld);
        file_put(lf);
        if (r < 0)
            return r == -ENOEXEC ? -ELIBBAD : r;
        entry = ld.entry;
        interp_base = ld.bias;
    }
    uint64_t vdso_base;
    r = vdso_map(mm, &vdso_base);
    if (r < 0)
        return r;
    uint64_t sp;
    r = build_stack(t, mm, argv, envp, execfn, &prog, interp_base, vdso_base, &lim, pad_rnd, &sp,
                    out);
    if (r < 0)
        return r;
    /* From here on the app's own mappings count against its limits (the
     * image was mapped writable while being filled, which Linux does not
     * charge to RLIMIT_DATA). */
    mm_set_limits(mm, &lim);
    out->entry = entry;
    out->sp = sp;
    return 0;
}
