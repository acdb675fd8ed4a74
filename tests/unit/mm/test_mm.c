/* Unit tests of address spaces (kernel/mm/mm.c) and the mm syscalls, with a
 * fake platform that models the stub's mappings (fakes.c). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "fakes.h"
#include "kernel/mm/memfile.h"
#include "kernel/mm/mm.h"
#include "kernel/mm/mm_internal.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/vfs/vfs.h"
#include "lib/util.h"

#define PG     PAGE_SIZE
#define RW     (PROT_READ | PROT_WRITE)
#define ANON   (MAP_PRIVATE | MAP_ANONYMOUS)
#define FIXED  (MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
#define SANON  (MAP_SHARED | MAP_ANONYMOUS)
#define BASE   0x100000000ULL
#define MM_COW_RUN_TEST (64 * PAGE_SIZE) /* MM_COW_RUN in mm.c */

static struct mm *g_mm;
static struct platform_as *g_as;

static void setup(void)
{
    ck_assert_int_eq(memfile_init(64ULL << 30), 0);
    g_mm = mm_new();
    ck_assert_ptr_nonnull(g_mm);
    g_as = fake_as_new();
    ck_assert_int_eq(mm_attach(g_mm, g_as), 0);
    /* Forks share everything copy-on-write unless a test says otherwise. */
    g_mm_fork_copy_max = 0;
}

static void teardown(void)
{
    mm_put(g_mm);
    uint64_t used;
    memfile_stats(&used, NULL, NULL);
    ck_assert_uint_eq(used, 0); /* everything went back */
    fake_as_free(g_as);
}

static uint64_t used_bytes(void)
{
    uint64_t n;
    memfile_stats(&n, NULL, NULL);
    return n;
}

static uint64_t map(uint64_t addr, uint64_t len, int prot, int flags)
{
    uint64_t out = 0;
    int r = mm_mmap(g_mm, addr, len, prot, flags, NULL, 0, &out);
    ck_assert_msg(r == 0, "mmap(%#lx, %#lx) = %d", (unsigned long)addr, (unsigned long)len, r);
    return out;
}

static void check(void)
{
    fake_check_consistent(g_mm, g_as);
    ck_assert_uint_eq(used_bytes(), fake_mm_backing_bytes(g_mm));
}

static void put_byte(uint64_t addr, uint8_t v)
{
    ck_assert_int_eq(mm_copy_out(g_mm, addr, &v, 1), 0);
}

static uint8_t get_byte(uint64_t addr)
{
    uint8_t v = 0xee;
    ck_assert_int_eq(mm_copy_in(g_mm, &v, addr, 1), 0);
    return v;
}

static uint8_t stub_byte(uint64_t addr)
{
    uint8_t v = 0xee;
    ck_assert(fake_as_read(g_as, addr, &v, 1));
    return v;
}

/* ---- mmap ---- */

START_TEST(mmap_anon_basic)
{
    uint64_t a = map(0, 3 * PG, RW, ANON);
    ck_assert(IS_ALIGNED(a, PG));
    ck_assert(a + 3 * PG <= PLATFORM_STUB_BASE);
    ck_assert_int_eq(g_as->nr_map, 1); /* one eager map, no per-page work */
    check();
    char buf[] = "hello";
    ck_assert_int_eq(mm_copy_out(g_mm, a + PG - 2, buf, sizeof(buf)), 0);
    char got[6];
    ck_assert(fake_as_read(g_as, a + PG - 2, got, sizeof(got)));
    ck_assert_str_eq(got, "hello");
    ck_assert(fake_as_write(g_as, a + 2 * PG, "xyz", 4));
    ck_assert_int_eq(mm_copy_in(g_mm, got, a + 2 * PG, 4), 0);
    ck_assert_str_eq(got, "xyz");
    ck_assert_uint_eq(get_byte(a + 2 * PG + 100), 0);
    /* The next one goes right below (top-down). */
    uint64_t b = map(0, PG, RW, ANON);
    ck_assert_uint_eq(b, a - PG);
    check();
}
END_TEST

START_TEST(mmap_errors)
{
    uint64_t out;
    struct mm *mm = g_mm;
    ck_assert_int_eq(mm_mmap(mm, 0, 0, RW, ANON, NULL, 0, &out), -EINVAL);
    ck_assert_int_eq(mm_mmap(mm, 0, PG, RW, ANON, NULL, 1, &out), -EINVAL);
    ck_assert_int_eq(mm_mmap(mm, 0, PG, RW, MAP_ANONYMOUS, NULL, 0, &out), -EINVAL);
    ck_assert_int_eq(mm_mmap(mm, 0, PG, RW, MAP_ANONYMOUS | 0xf, NULL, 0, &out), -EINVAL);
    ck_assert_int_eq(mm_mmap(mm, BASE + 1, PG, RW, FIXED, NULL, 0, &out), -EINVAL);
    ck_assert_int_eq(mm_mmap(mm, 0, ~0ULL - 10, RW, ANON, NULL, 0, &out), -ENOMEM);
    ck_assert_int_eq(mm_mmap(mm, PLATFORM_STUB_BASE, PG, RW, FIXED, NULL, 0, &out), -ENOMEM);
    ck_assert_int_eq(mm_mmap(mm, PLATFORM_STUB_BASE - PG, 2 * PG, RW, FIXED, NULL, 0, &out),
                     -ENOMEM);
    ck_assert_int_eq(mm_mmap(mm, PLATFORM_STUB_END - PG, PG, RW, FIXED, NULL, 0, &out), -ENOMEM);
    ck_assert_int_eq(mm_mmap(mm, PLATFORM_APP_MAX, PG, RW, FIXED, NULL, 0, &out), -ENOMEM);
    ck_assert_int_eq(mm_mmap(mm, 0x1000, PG, RW, FIXED, NULL, 0, &out), -EPERM);
    /* Linux validates flags for file mappings only: anonymous is EINVAL. */
    ck_assert_int_eq(mm_mmap(mm, 0, PG, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | 0x200000,
                             NULL, 0, &out),
                     -EINVAL);
    ck_assert_int_eq(mm_mmap(mm, 0, PG, RW, MAP_PRIVATE, NULL, 0, &out), -EBADF);
    /* Right after the stub is fine, and the stub itself was never touched. */
    ck_assert_int_eq(mm_mmap(mm, PLATFORM_STUB_END, PG, RW, FIXED, NULL, 0, &out), 0);
    ck_assert_int_eq(mm_mmap(mm, PLATFORM_APP_MAX - PG, PG, RW, FIXED, NULL, 0, &out), 0);
    ck_assert_uint_eq(g_mm->nr_vmas, 2);
    check();
}
END_TEST

START_TEST(mmap_fixed_replaces)
{
    uint64_t a = map(BASE, 4 * PG, RW, FIXED);
    ck_assert_uint_eq(a, BASE);
    for (int i = 0; i < 4; i++)
        put_byte(a + i * PG, 'a' + i);
    uint64_t m = map(a + PG, 2 * PG, PROT_READ, FIXED);
    ck_assert_uint_eq(m, a + PG);
    ck_assert_uint_eq(g_mm->nr_vmas, 3);
    ck_assert_uint_eq(stub_byte(a), 'a');
    ck_assert_uint_eq(stub_byte(a + PG), 0);
    ck_assert_uint_eq(stub_byte(a + 2 * PG), 0);
    ck_assert_uint_eq(stub_byte(a + 3 * PG), 'd');
    ck_assert_uint_eq(used_bytes(), 4 * PG); /* the replaced pages were freed */
    check();
    /* Replacing across several VMAs. */
    map(a, 4 * PG, RW, FIXED);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    ck_assert_uint_eq(get_byte(a), 0);
    check();
}
END_TEST

START_TEST(mmap_noreplace_and_hint)
{
    uint64_t out;
    map(BASE, 2 * PG, RW, FIXED);
    ck_assert_int_eq(mm_mmap(g_mm, BASE + PG, PG, RW, ANON | MAP_FIXED_NOREPLACE, NULL, 0, &out),
                     -EEXIST);
    ck_assert_int_eq(mm_mmap(g_mm, BASE + 2 * PG, PG, RW, ANON | MAP_FIXED_NOREPLACE, NULL, 0,
                             &out),
                     0);
    ck_assert_uint_eq(out, BASE + 2 * PG);
    /* A free hint is used (rounded up to a page), a taken one is not. */
    ck_assert_uint_eq(map(BASE + 10 * PG + 5, PG, RW, ANON), BASE + 11 * PG);
    uint64_t b = map(BASE, PG, RW, ANON);
    ck_assert_uint_ne(b, BASE);
    /* MAP_32BIT stays in [1 GiB, 2 GiB). */
    uint64_t c = map(0, PG, RW, ANON | MAP_32BIT);
    ck_assert(c >= 0x40000000 && c + PG <= 0x80000000);
    check();
}
END_TEST

START_TEST(mmap_skips_stub)
{
    /* Occupy the top of the space below the stub: mmap(NULL) goes below
     * that, and nothing is ever placed in the stub's range. */
    uint64_t top = map(PLATFORM_STUB_BASE - 4 * PG, 4 * PG, RW, FIXED);
    uint64_t a = map(0, 2 * PG, RW, ANON);
    ck_assert_uint_eq(a, top - 2 * PG);
    /* A hint inside the stub is ignored. */
    uint64_t b = map(PLATFORM_STUB_BASE, PG, RW, ANON);
    ck_assert(b + PG <= PLATFORM_STUB_BASE || b >= PLATFORM_STUB_END);
    ck_assert_uint_eq(b, a - PG);
    check();
}
END_TEST

/* ---- munmap ---- */

START_TEST(munmap_split)
{
    uint64_t a = map(BASE, 3 * PG, RW, FIXED);
    put_byte(a, 1);
    put_byte(a + 2 * PG, 3);
    ck_assert_int_eq(mm_munmap(g_mm, a + PG, PG), 0);
    ck_assert_uint_eq(g_mm->nr_vmas, 2);
    ck_assert_uint_eq(used_bytes(), 2 * PG);
    ck_assert_uint_eq(stub_byte(a), 1);
    ck_assert_uint_eq(stub_byte(a + 2 * PG), 3);
    uint8_t b;
    ck_assert(!fake_as_read(g_as, a + PG, &b, 1));
    ck_assert_int_eq(mm_copy_in(g_mm, &b, a + PG, 1), -EFAULT);
    char buf[8];
    ck_assert_int_eq(mm_copy_in(g_mm, buf, a + PG - 4, 8), -EFAULT); /* partial */
    check();
    ck_assert_int_eq(mm_munmap(g_mm, a + 1, PG), -EINVAL);
    ck_assert_int_eq(mm_munmap(g_mm, a, 0), -EINVAL);
    ck_assert_int_eq(mm_munmap(g_mm, PLATFORM_APP_MAX, PG), -EINVAL);
    ck_assert_int_eq(mm_munmap(g_mm, BASE * 2, PG), 0); /* nothing there */
    ck_assert_int_eq(mm_munmap(g_mm, a, 3 * PG), 0);
    ck_assert_uint_eq(g_mm->nr_vmas, 0);
    ck_assert_uint_eq(used_bytes(), 0);
    check();
}
END_TEST

/* ---- mprotect and copy checks ---- */

START_TEST(mprotect_split_merge)
{
    uint64_t a = map(BASE, 4 * PG, RW, FIXED);
    ck_assert_int_eq(mm_mprotect(g_mm, a + PG, 2 * PG, PROT_READ), 0);
    ck_assert_uint_eq(g_mm->nr_vmas, 3);
    check();
    uint8_t v = 1;
    ck_assert_int_eq(mm_copy_out(g_mm, a + PG, &v, 1), -EFAULT);
    ck_assert_int_eq(mm_copy_out_force(g_mm, a + PG, &v, 1), 0);
    ck_assert_uint_eq(get_byte(a + PG), 1);
    ck_assert(!fake_as_write(g_as, a + PG, &v, 1));
    ck_assert_int_eq(mm_mprotect(g_mm, a, 4 * PG, PROT_NONE), 0);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    ck_assert_int_eq(mm_copy_in(g_mm, &v, a, 1), -EFAULT);
    ck_assert_int_eq(mm_mprotect(g_mm, a, 4 * PG, RW), 0);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    check();
    ck_assert_int_eq(mm_mprotect(g_mm, a, 5 * PG, RW), -ENOMEM);
    ck_assert_int_eq(mm_mprotect(g_mm, a + 1, PG, RW), -EINVAL);
    ck_assert_int_eq(mm_mprotect(g_mm, a, PG, 0x100), -EINVAL);
    ck_assert_int_eq(mm_mprotect(g_mm, a, 0, RW), 0);
    ck_assert_int_eq(mm_mprotect(g_mm, a + PG, PG, PROT_READ | PROT_GROWSDOWN), -EINVAL);
    uint64_t s = map(BASE * 2, 4 * PG, RW, FIXED | MAP_GROWSDOWN);
    ck_assert_int_eq(mm_mprotect(g_mm, s + 2 * PG, PG, PROT_READ | PROT_GROWSDOWN), 0);
    ck_assert_int_eq(mm_copy_out(g_mm, s, &v, 1), -EFAULT); /* down to the start */
    ck_assert_uint_eq(get_byte(s + 3 * PG), 0);
    put_byte(s + 3 * PG, 5);
    check();
}
END_TEST

START_TEST(copy_across_vmas)
{
    map(BASE, PG, RW, FIXED);
    map(BASE + PG, PG, PROT_READ | PROT_WRITE | PROT_EXEC, FIXED);
    map(BASE + 3 * PG, PG, RW, FIXED);
    ck_assert_uint_eq(g_mm->nr_vmas, 3);
    char buf[2 * PG];
    memset(buf, 'x', sizeof(buf));
    ck_assert_int_eq(mm_copy_out(g_mm, BASE + 100, buf, 2 * PG - 100), 0);
    ck_assert_int_eq(mm_copy_out(g_mm, BASE + 100, buf, 2 * PG), -EFAULT);
    ck_assert_uint_eq(stub_byte(BASE + 2 * PG - 1), 'x'); /* partial copy happened */
    ck_assert_int_eq(mm_copy_in(g_mm, buf, BASE + 3 * PG - 1, 2), -EFAULT);
    ck_assert_int_eq(mm_copy_in(g_mm, buf, ~0ULL - 2, 8), -EFAULT);
    ck_assert_int_eq(mm_copy_in(g_mm, buf, 0, 0), 0);
    check();
}
END_TEST

START_TEST(strncpy_in)
{
    char buf[64];
    map(BASE, PG, RW, FIXED);
    map(BASE + PG, PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
    ck_assert_int_eq(mm_copy_out(g_mm, BASE + PG - 3, "abcdef", 7), 0);
    ck_assert_int_eq(mm_strncpy_in(g_mm, buf, BASE + PG - 3, sizeof(buf)), 6);
    ck_assert_str_eq(buf, "abcdef");
    ck_assert_int_eq(mm_strncpy_in(g_mm, buf, BASE + PG - 3, 6), -ENAMETOOLONG);
    ck_assert_int_eq(mm_strncpy_in(g_mm, buf, BASE + PG - 3, 7), 6);
    ck_assert_int_eq(mm_strncpy_in(g_mm, buf, BASE + PG - 3, 0), -ENAMETOOLONG);
    /* No NUL before the end of the last VMA: -EFAULT, never a read past it. */
    char fill[PG];
    memset(fill, 'z', sizeof(fill));
    ck_assert_int_eq(mm_copy_out(g_mm, BASE + PG, fill, PG), 0);
    ck_assert_int_eq(mm_strncpy_in(g_mm, buf, BASE + 2 * PG - 10, sizeof(buf)), -EFAULT);
    ck_assert_int_eq(mm_strncpy_in(g_mm, buf, BASE + 5 * PG, sizeof(buf)), -EFAULT);
    ck_assert_int_eq(mm_mprotect(g_mm, BASE, PG, PROT_NONE), 0);
    ck_assert_int_eq(mm_strncpy_in(g_mm, buf, BASE + 10, sizeof(buf)), -EFAULT);
}
END_TEST

/* ---- brk ---- */

START_TEST(brk_grow_shrink)
{
    uint64_t start = BASE + 123;
    mm_set_brk_start(g_mm, start);
    uint64_t b0 = mm_brk(g_mm, 0);
    ck_assert_uint_eq(b0, BASE + PG);
    ck_assert_uint_eq(mm_brk(g_mm, b0 - 1), b0); /* below the start: unchanged */
    ck_assert_uint_eq(mm_brk(g_mm, b0 + 3 * PG + 5), b0 + 3 * PG + 5);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    put_byte(b0 + 4 * PG - 1, 9);
    check();
    /* Grows in place while the offsets after it are free. */
    int maps = g_as->nr_map;
    ck_assert_uint_eq(mm_brk(g_mm, b0 + 10 * PG), b0 + 10 * PG);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    ck_assert_int_eq(g_as->nr_map, maps + 1);
    ck_assert_uint_eq(stub_byte(b0 + 4 * PG - 1), 9);
    check();
    /* Shrinks, freeing memory; growing again reads zeros. */
    ck_assert_uint_eq(mm_brk(g_mm, b0 + PG), b0 + PG);
    ck_assert_uint_eq(used_bytes(), PG);
    ck_assert_uint_eq(mm_brk(g_mm, b0 + 4 * PG), b0 + 4 * PG);
    ck_assert_uint_eq(get_byte(b0 + 4 * PG - 1), 0);
    check();
    /* Never over another mapping: the old break comes back. */
    map(b0 + 8 * PG, PG, RW, FIXED);
    ck_assert_uint_eq(mm_brk(g_mm, b0 + 9 * PG), b0 + 4 * PG);
    ck_assert_uint_eq(mm_brk(g_mm, b0 + 8 * PG), b0 + 8 * PG);
    check();
    char maps_buf[512];
    mm_format_maps(g_mm, maps_buf, sizeof(maps_buf));
    ck_assert_ptr_nonnull(strstr(maps_buf, "[heap]"));
    /* Shrink to the start: no heap left. */
    ck_assert_uint_eq(mm_brk(g_mm, b0), b0);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    check();
}
END_TEST

START_TEST(brk_new_piece)
{
    mm_set_brk_start(g_mm, BASE);
    ck_assert_uint_eq(mm_brk(g_mm, BASE + PG), BASE + PG);
    /* Take the memory-file offsets right after the heap's. */
    map(0, PG, RW, ANON);
    ck_assert_uint_eq(mm_brk(g_mm, BASE + 3 * PG), BASE + 3 * PG);
    ck_assert_uint_eq(g_mm->nr_vmas, 3); /* two heap pieces + the mapping */
    put_byte(BASE + PG - 1, 1);
    put_byte(BASE + PG, 2);
    ck_assert_uint_eq(stub_byte(BASE + PG - 1), 1);
    ck_assert_uint_eq(stub_byte(BASE + PG), 2);
    check();
    char buf[512];
    mm_format_maps(g_mm, buf, sizeof(buf));
    /* One [heap] line, as Linux shows. */
    char *h = strstr(buf, "[heap]");
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_null(strstr(h + 1, "[heap]"));
    ck_assert_ptr_nonnull(strstr(buf, "100000000-100003000 rw-p"));
}
END_TEST

/* ---- mremap ---- */

START_TEST(mremap_cases)
{
    uint64_t out;
    uint64_t a = map(BASE, 4 * PG, RW, FIXED);
    put_byte(a, 'A');
    put_byte(a + 3 * PG, 'D');
    /* Shrink in place. */
    ck_assert_int_eq(mm_mremap(g_mm, a, 4 * PG, 2 * PG, 0, 0, &out), 0);
    ck_assert_uint_eq(out, a);
    ck_assert_uint_eq(used_bytes(), 2 * PG);
    check();
    /* Grow in place (offsets after it free: one VMA again). */
    ck_assert_int_eq(mm_mremap(g_mm, a, 2 * PG, 5 * PG, 0, 0, &out), 0);
    ck_assert_uint_eq(out, a);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    ck_assert_uint_eq(get_byte(a + 3 * PG), 0);
    check();
    /* Blocked: ENOMEM without MAYMOVE; moved (backing kept) with it. */
    map(a + 5 * PG, PG, RW, FIXED);
    ck_assert_int_eq(mm_mremap(g_mm, a, 5 * PG, 8 * PG, 0, 0, &out), -ENOMEM);
    uint64_t before = used_bytes();
    ck_assert_int_eq(mm_mremap(g_mm, a, 5 * PG, 8 * PG, MREMAP_MAYMOVE, 0, &out), 0);
    ck_assert_uint_ne(out, a);
    ck_assert_uint_eq(used_bytes(), before + 3 * PG);
    ck_assert_uint_eq(stub_byte(out), 'A');
    uint8_t v;
    ck_assert_int_eq(mm_copy_in(g_mm, &v, a, 1), -EFAULT);
    ck_assert(!fake_as_read(g_as, a, &v, 1));
    check();
    /* MREMAP_FIXED, onto an existing mapping, shrinking on the way. */
    uint64_t b = out;
    ck_assert_int_eq(mm_mremap(g_mm, b, 8 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
                               a + 4 * PG, &out),
                     0);
    ck_assert_uint_eq(out, a + 4 * PG);
    ck_assert_uint_eq(stub_byte(a + 4 * PG), 'A');
    check();
    /* Errors. */
    ck_assert_int_eq(mm_mremap(g_mm, a + 4 * PG, 2 * PG, 3 * PG, 8, 0, &out), -EINVAL);
    ck_assert_int_eq(mm_mremap(g_mm, a + 4 * PG, 2 * PG, 3 * PG, MREMAP_FIXED, a, &out),
                     -EINVAL);
    ck_assert_int_eq(mm_mremap(g_mm, a + 4 * PG + 1, PG, PG, 0, 0, &out), -EINVAL);
    ck_assert_int_eq(mm_mremap(g_mm, a + 4 * PG, PG, 0, 0, 0, &out), -EINVAL);
    ck_assert_int_eq(mm_mremap(g_mm, a, PG, 2 * PG, MREMAP_MAYMOVE, 0, &out), -EFAULT);
    ck_assert_int_eq(mm_mremap(g_mm, a + 4 * PG, 3 * PG, 4 * PG, MREMAP_MAYMOVE, 0, &out),
                     -EFAULT); /* spans two VMAs */
    ck_assert_int_eq(mm_mremap(g_mm, a + 4 * PG, 2 * PG, 2 * PG,
                               MREMAP_MAYMOVE | MREMAP_FIXED, a + 5 * PG, &out),
                     -EINVAL); /* overlap */
    check();
}
END_TEST

START_TEST(mremap_shared_dup)
{
    uint64_t out;
    uint64_t s = map(0, 2 * PG, RW, SANON);
    put_byte(s + PG, 7);
    ck_assert_int_eq(mm_mremap(g_mm, s, 0, 2 * PG, MREMAP_MAYMOVE, 0, &out), 0);
    ck_assert_uint_ne(out, s);
    put_byte(out, 8);
    ck_assert_uint_eq(stub_byte(s), 8); /* same pages */
    ck_assert_uint_eq(stub_byte(out + PG), 7);
    ck_assert_uint_eq(used_bytes(), 2 * PG);
    uint64_t p = map(0, PG, RW, ANON);
    ck_assert_int_eq(mm_mremap(g_mm, p, 0, PG, MREMAP_MAYMOVE, 0, &out), -EINVAL);
    check();
}
END_TEST

/* ---- shared anonymous ---- */

START_TEST(shared_anon_lifetime)
{
    uint64_t s = map(BASE, 4 * PG, RW, SANON | MAP_FIXED);
    ck_assert_uint_eq(used_bytes(), 4 * PG);
    ck_assert_int_eq(mm_munmap(g_mm, s + PG, PG), 0);
    ck_assert_uint_eq(g_mm->nr_vmas, 2);
    ck_assert_uint_eq(used_bytes(), 4 * PG); /* the object lives while mapped */
    ck_assert_int_eq(mm_munmap(g_mm, s, PG), 0);
    ck_assert_uint_eq(used_bytes(), 4 * PG);
    ck_assert_int_eq(mm_munmap(g_mm, s + 2 * PG, 2 * PG), 0);
    ck_assert_uint_eq(used_bytes(), 0);
    check();
}
END_TEST

/* ---- madvise, msync, mincore, mlock ---- */

START_TEST(madvise_cases)
{
    uint64_t a = map(BASE, 4 * PG, RW, FIXED);
    uint64_t s = map(BASE + 4 * PG, PG, RW, SANON | MAP_FIXED);
    put_byte(a + PG, 1);
    put_byte(a + 2 * PG, 2);
    put_byte(s, 3);
    ck_assert_int_eq(mm_madvise(g_mm, a + PG, PG, MADV_DONTNEED), 0);
    ck_assert_uint_eq(get_byte(a + PG), 0);
    ck_assert_uint_eq(get_byte(a + 2 * PG), 2);
    ck_assert_int_eq(mm_madvise(g_mm, a, 5 * PG, MADV_DONTNEED), 0);
    ck_assert_uint_eq(get_byte(a + 2 * PG), 0);
    ck_assert_uint_eq(get_byte(s), 3); /* shared memory keeps its data */
    ck_assert_int_eq(mm_madvise(g_mm, s, PG, MADV_FREE), -EINVAL);
    ck_assert_int_eq(mm_madvise(g_mm, s, PG, MADV_REMOVE), 0);
    ck_assert_uint_eq(get_byte(s), 0);
    put_byte(a, 4);
    ck_assert_int_eq(mm_madvise(g_mm, a, PG, MADV_FREE), 0);
    ck_assert_uint_eq(get_byte(a), 0);
    static const int hints[] = {MADV_NORMAL,    MADV_RANDOM,     MADV_SEQUENTIAL, MADV_WILLNEED,
                                MADV_HUGEPAGE,  MADV_NOHUGEPAGE, MADV_DONTDUMP,   MADV_DODUMP,
                                MADV_COLD,      MADV_PAGEOUT,    MADV_DOFORK,     MADV_KEEPONFORK};
    for (size_t i = 0; i < ARRAY_SIZE(hints); i++)
        ck_assert_int_eq(mm_madvise(g_mm, a, 4 * PG, hints[i]), 0);
    ck_assert_int_eq(mm_madvise(g_mm, a, PG, 12345), -EINVAL);
    ck_assert_int_eq(mm_madvise(g_mm, a, PG, MADV_MERGEABLE), -EINVAL);
    ck_assert_int_eq(mm_madvise(g_mm, a + 1, PG, MADV_NORMAL), -EINVAL);
    ck_assert_int_eq(mm_madvise(g_mm, a, 0, MADV_NORMAL), 0);
    ck_assert_int_eq(mm_madvise(g_mm, a, 8 * PG, MADV_NORMAL), -ENOMEM);
    ck_assert_uint_eq(g_mm->nr_vmas, 2);
    check();
}
END_TEST

START_TEST(madvise_private_file_refetches)
{
    static uint8_t data[2 * PG];
    memset(data, 'f', sizeof(data));
    struct file f = {.refs = 1, .path = "/lib/x.so", .mode = S_IFREG | 0644, .data = data,
                     .size = sizeof(data)};
    uint64_t out;
    ck_assert_int_eq(mm_mmap(g_mm, 0, 2 * PG, RW, MAP_PRIVATE, &f, 0, &out), 0);
    put_byte(out, 'w');
    ck_assert_uint_eq(get_byte(out), 'w');
    ck_assert_int_eq(mm_madvise(g_mm, out, PG, MADV_DONTNEED), 0);
    ck_assert_uint_eq(get_byte(out), 'f'); /* Linux re-reads the file */
    ck_assert_int_eq(mm_munmap(g_mm, out, 2 * PG), 0);
    ck_assert_int_eq(f.refs, 1);
}
END_TEST

START_TEST(msync_cases)
{
    uint64_t a = map(BASE, 2 * PG, RW, FIXED);
    ck_assert_int_eq(mm_msync(g_mm, a, 2 * PG, MS_SYNC), 0);
    ck_assert_int_eq(mm_msync(g_mm, a, PG, MS_ASYNC | MS_INVALIDATE), 0);
    ck_assert_int_eq(mm_msync(g_mm, a, PG, MS_ASYNC | MS_SYNC), -EINVAL);
    ck_assert_int_eq(mm_msync(g_mm, a, PG, 8), -EINVAL);
    ck_assert_int_eq(mm_msync(g_mm, a + 1, PG, MS_SYNC), -EINVAL);
    ck_assert_int_eq(mm_msync(g_mm, a, 3 * PG, MS_SYNC), -ENOMEM);
    ck_assert_int_eq(mm_msync(g_mm, a, 0, MS_SYNC), 0);
}
END_TEST

START_TEST(mincore_uses_backing)
{
    uint8_t vec[8];
    uint64_t a = map(BASE, 6 * PG, RW, FIXED);
    ck_assert_int_eq(mm_mincore(g_mm, a, 6 * PG, vec), 0);
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(vec[i], 0);
    ck_assert(fake_as_write(g_as, a + 2 * PG + 7, "x", 1)); /* the app touches page 2 */
    put_byte(a + 5 * PG, 1);
    ck_assert_int_eq(mm_mincore(g_mm, a, 6 * PG - 1, vec), 0);
    static const uint8_t want[6] = {0, 0, 1, 0, 0, 1};
    ck_assert_mem_eq(vec, want, 6);
    ck_assert_int_eq(mm_madvise(g_mm, a + 2 * PG, PG, MADV_DONTNEED), 0);
    ck_assert_int_eq(mm_mincore(g_mm, a + PG, 2 * PG, vec), 0);
    ck_assert_uint_eq(vec[1], 0);
    ck_assert_int_eq(mm_mincore(g_mm, a, 7 * PG, vec), -ENOMEM);
    ck_assert_int_eq(mm_mincore(g_mm, a + 1, PG, vec), -EINVAL);
}
END_TEST

START_TEST(mlock_accounting)
{
    uint64_t a = map(BASE, 4 * PG, RW, FIXED);
    ck_assert_int_eq(mm_mlock(g_mm, a + 10, PG, true, false, ~0ULL), 0); /* 2 pages: unaligned */
    ck_assert_uint_eq(mm_locked_bytes(g_mm), 2 * PG);
    ck_assert_int_eq(mm_mlock(g_mm, a, 4 * PG, true, false, 3 * PG), -ENOMEM);
    ck_assert_int_eq(mm_mlock(g_mm, a, 3 * PG, true, false, 3 * PG), 0);
    ck_assert_uint_eq(mm_locked_bytes(g_mm), 3 * PG);
    ck_assert_int_eq(mm_mlock(g_mm, a, 5 * PG, true, false, ~0ULL), -ENOMEM);
    ck_assert_int_eq(mm_mlock(g_mm, a, PG, false, false, 0), 0);
    ck_assert_uint_eq(mm_locked_bytes(g_mm), 2 * PG);
    ck_assert_int_eq(mm_mlockall(g_mm, MCL_CURRENT | MCL_FUTURE, ~0ULL), 0);
    ck_assert_uint_eq(mm_locked_bytes(g_mm), 4 * PG);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    map(0, PG, RW, ANON);
    ck_assert_uint_eq(mm_locked_bytes(g_mm), 5 * PG);
    ck_assert_int_eq(mm_mlockall(g_mm, MCL_CURRENT, PG), -ENOMEM);
    mm_munlockall(g_mm);
    ck_assert_uint_eq(mm_locked_bytes(g_mm), 0);
    ck_assert_uint_eq(mm_total_bytes(g_mm), 5 * PG);
    check();
}
END_TEST

/* ---- files ---- */

/* A maps line as Linux prints it: fields, padding to 72 columns, name. */
static const char *maps_line(const char *fields, const char *name)
{
    static char buf[8][256];
    static int i;
    char *b = buf[i++ % 8];
    if (name)
        snprintf(b, 256, "%-72s %s\n", fields, name);
    else
        snprintf(b, 256, "%s\n", fields);
    return b;
}

START_TEST(private_file_mapping)
{
    static uint8_t data[PG + 100];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 1);
    struct file f = {.refs = 1, .path = "/usr/lib/libfoo.so.1", .mode = S_IFREG | 0755,
                     .data = data, .size = sizeof(data)};
    uint64_t out;
    ck_assert_int_eq(mm_mmap(g_mm, BASE, 3 * PG, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED,
                             &f, 0, &out),
                     0);
    ck_assert_int_eq(f.refs, 2);
    uint8_t got[PG + 100];
    ck_assert(fake_as_read(g_as, BASE, got, sizeof(got)));
    ck_assert_mem_eq(got, data, sizeof(data));
    ck_assert_uint_eq(stub_byte(BASE + PG + 100), 0); /* zero past EOF */
    ck_assert_uint_eq(stub_byte(BASE + 3 * PG - 1), 0);
    /* At a file offset; splitting keeps file offsets straight. */
    ck_assert_int_eq(mm_mmap(g_mm, BASE + 8 * PG, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, &f,
                             PG, &out),
                     0);
    ck_assert_uint_eq(stub_byte(BASE + 8 * PG), data[PG]);
    ck_assert_int_eq(mm_mprotect(g_mm, BASE + PG, PG, PROT_READ), 0);
    char maps[1024];
    mm_format_maps(g_mm, maps, sizeof(maps));
    char want[1024];
    const char *lib = "/usr/lib/libfoo.so.1";
    snprintf(want, sizeof(want), "%s%s%s%s",
             maps_line("100000000-100001000 r-xp 00000000 00:00 0 ", lib),
             maps_line("100001000-100002000 r--p 00001000 00:00 0 ", lib),
             maps_line("100002000-100003000 r-xp 00002000 00:00 0 ", lib),
             maps_line("100008000-10000a000 r--p 00001000 00:00 0 ", lib));
    ck_assert_str_eq(maps, want);
    ck_assert_int_eq(f.refs, 5);
    /* Shared: writable needs a file open for writing, and (to be coherent)
     * data in the memory file; read-only is served as a private copy. */
    ck_assert_int_eq(mm_mmap(g_mm, 0, PG, RW, MAP_SHARED, &f, 0, &out), -EACCES);
    f.flags = O_RDWR;
    ck_assert_int_eq(mm_mmap(g_mm, 0, PG, RW, MAP_SHARED, &f, 0, &out), -ENODEV);
    f.flags = O_WRONLY;
    ck_assert_int_eq(mm_mmap(g_mm, 0, PG, PROT_READ, MAP_PRIVATE, &f, 0, &out), -EACCES);
    f.flags = O_RDONLY;
    ck_assert_int_eq(mm_mmap(g_mm, BASE + 16 * PG, PG, PROT_READ, MAP_SHARED | MAP_FIXED, &f, 0,
                             &out),
                     0);
    ck_assert_uint_eq(stub_byte(BASE + 16 * PG + 1), data[1]);
    ck_assert_int_eq(mm_mprotect(g_mm, BASE + 16 * PG, PG, RW), -EACCES);
    ck_assert_int_eq(mm_munmap(g_mm, BASE + 16 * PG, PG), 0);
    /* Refused kinds. */
    struct file dir = {.refs = 1, .path = "/tmp", .mode = S_IFDIR | 0755};
    ck_assert_int_eq(mm_mmap(g_mm, 0, PG, PROT_READ, MAP_PRIVATE, &dir, 0, &out), -ENODEV);
    struct file zero = {.refs = 1, .path = "/dev/zero", .mode = S_IFCHR | 0666};
    ck_assert_int_eq(mm_mmap(g_mm, 0, PG, RW, MAP_SHARED, &zero, 0, &out), 0);
    ck_assert_int_eq(zero.refs, 1);
    mm_put(g_mm);
    g_mm = mm_new();
    ck_assert_int_eq(f.refs, 1);
}
END_TEST

START_TEST(maps_format)
{
    mm_set_brk_start(g_mm, 0x555555560000);
    mm_brk(g_mm, 0x555555581000);
    uint64_t top = mm_stack_top(g_mm);
    map(top - 8 * 1024 * 1024, 8 * 1024 * 1024, RW, FIXED | MAP_GROWSDOWN);
    map(0x7ffff7ff0000, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
    map(0x7ffff7ff2000, PG, PROT_NONE, FIXED);
    char buf[1024];
    size_t n = mm_format_maps(g_mm, buf, sizeof(buf));
    ck_assert_uint_eq(n, strlen(buf));
    char want[1024];
    snprintf(want, sizeof(want), "%s%s%s%s",
             maps_line("555555560000-555555581000 rw-p 00000000 00:00 0 ", "[heap]"),
             maps_line("7ffff7ff0000-7ffff7ff2000 rw-s 00000000 00:00 0 ", "/dev/zero (deleted)"),
             maps_line("7ffff7ff2000-7ffff7ff3000 ---p 00000000 00:00 0 ", NULL),
             maps_line("7fffff7ff000-7ffffffff000 rw-p 00000000 00:00 0 ", "[stack]"));
    ck_assert_str_eq(buf, want);
    /* Truncation keeps a NUL-terminated prefix. */
    char small[20];
    ck_assert_uint_eq(mm_format_maps(g_mm, small, sizeof(small)), sizeof(small) - 1);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

/* ---- attach, fork, faults ---- */

START_TEST(attach_maps_existing)
{
    struct mm *mm = mm_new();
    uint64_t out;
    ck_assert_int_eq(mm_mmap(mm, BASE, PG, RW, FIXED, NULL, 0, &out), 0);
    ck_assert_int_eq(mm_mmap(mm, BASE * 2, 2 * PG, PROT_READ, FIXED, NULL, 0, &out), 0);
    ck_assert_int_eq(mm_copy_out(mm, BASE, "q", 1), 0);
    struct platform_as *as = fake_as_new();
    ck_assert_ptr_null(mm_as(mm));
    ck_assert_int_eq(mm_attach(mm, as), 0);
    ck_assert_ptr_eq(mm_as(mm), as);
    ck_assert_int_eq(as->nr_map, 2);
    fake_check_consistent(mm, as);
    char c;
    ck_assert(fake_as_read(as, BASE, &c, 1));
    ck_assert_int_eq(c, 'q');
    mm_put(mm);
    fake_as_free(as);
}
END_TEST

/* The address space goes with its last context: the mm forgets it then,
 * and a holder of the mm that outlives it never calls the platform with it
 * (ASan: the freed platform_as). */
START_TEST(last_ctx_clears_as)
{
    struct mm *mm = mm_new();
    uint64_t out;
    ck_assert_int_eq(mm_mmap(mm, BASE, 4 * PG, RW, FIXED, NULL, 0, &out), 0);
    struct platform_as *as = fake_as_new();
    struct platform_ctx c1 = {0}, c2 = {0};
    ck_assert_int_eq(mm_attach(mm, as), 0);
    mm_ctx_add(mm); /* a thread */
    mm_ctx_destroy(mm, &c1);
    ck_assert_int_eq(c1.destroyed, 1);
    ck_assert_ptr_eq(mm_as(mm), as);
    mm_ctx_destroy(mm, &c2);
    ck_assert_int_eq(c2.destroyed, 1);
    ck_assert_ptr_null(mm_as(mm));
    fake_as_free(as);
    ck_assert_int_eq(mm_mprotect(mm, BASE, PG, PROT_READ), 0);
    ck_assert_int_eq(mm_mmap(mm, BASE + PG, PG, RW, FIXED, NULL, 0, &out), 0);
    ck_assert_int_eq(mm_munmap(mm, BASE + 2 * PG, PG), 0);
    ck_assert_int_eq(mm_copy_out(mm, BASE + PG, "q", 1), 0);
    mm_ctx_destroy(NULL, NULL);
    mm_put(mm);
}
END_TEST

START_TEST(fork_private_and_shared)
{
    uint64_t p = map(BASE, 2 * PG, RW, FIXED);
    uint64_t s = map(BASE + 4 * PG, PG, RW, SANON | MAP_FIXED);
    uint64_t d = map(BASE + 8 * PG, PG, RW, FIXED);
    uint64_t w = map(BASE + 10 * PG, PG, RW, FIXED);
    put_byte(p, 1);
    put_byte(s, 2);
    put_byte(d, 3);
    put_byte(w, 4);
    ck_assert_int_eq(mm_madvise(g_mm, d, PG, MADV_DONTFORK), 0);
    ck_assert_int_eq(mm_madvise(g_mm, w, PG, MADV_WIPEONFORK), 0);
    ck_assert_int_eq(mm_mlock(g_mm, p, PG, true, false, ~0ULL), 0);
    mm_set_brk_start(g_mm, BASE * 4);
    struct mm *c;
    ck_assert_int_eq(mm_fork(g_mm, &c), 0);
    struct platform_as *cas = fake_as_new();
    ck_assert_int_eq(mm_attach(c, cas), 0);
    fake_check_consistent(c, cas);
    uint8_t v;
    ck_assert_int_eq(mm_copy_in(c, &v, p, 1), 0);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(mm_copy_in(c, &v, d, 1), -EFAULT); /* DONTFORK */
    ck_assert_int_eq(mm_copy_in(c, &v, w, 1), 0);
    ck_assert_uint_eq(v, 0); /* WIPEONFORK */
    ck_assert_uint_eq(mm_locked_bytes(c), 0);
    ck_assert_uint_eq(mm_brk(c, 0), BASE * 4);
    /* Private: independent (copy-on-write: the stub faults first). Shared:
     * the same pages. */
    ck_assert(!fake_as_write(cas, p, "\x09", 1));
    int code;
    ck_assert_int_eq(mm_fault(c, p, false, &code), 0);
    ck_assert(fake_as_write(cas, p, "\x09", 1));
    ck_assert_uint_eq(stub_byte(p), 1);
    fake_check_consistent(c, cas);
    ck_assert(fake_as_write(cas, s, "\x08", 1));
    ck_assert_uint_eq(stub_byte(s), 8);
    /* The shared object outlives the parent's mapping. */
    ck_assert_int_eq(mm_munmap(g_mm, s, PG), 0);
    ck_assert(fake_as_read(cas, s, &v, 1));
    ck_assert_uint_eq(v, 8);
    mm_put(c);
    fake_as_free(cas);
    check();
}
END_TEST


/* ---- copy-on-write fork and shared file mappings ---- */

static uint64_t vma_off(struct mm *mm, uint64_t addr)
{
    for (size_t i = 0; i < mm->nr_vmas; i++)
        if (mm->vmas[i].start <= addr && addr < mm->vmas[i].end)
            return mm->vmas[i].off + (addr - mm->vmas[i].start);
    ck_abort_msg("no vma at %#lx", (unsigned long)addr);
    return 0;
}

START_TEST(fork_cow)
{
    uint64_t len = 256 * PG;
    uint64_t a = map(BASE, len, RW, FIXED);
    for (uint64_t o = 0; o < len; o += 16 * PG)
        put_byte(a + o, (uint8_t)(o / PG + 1));
    uint64_t before = used_bytes();
    struct mm *c;
    ck_assert_int_eq(mm_fork(g_mm, &c), 0);
    struct platform_as *cas = fake_as_new();
    ck_assert_int_eq(mm_attach(c, cas), 0);
    /* Nothing copied; both stubs read-only; the pages have two owners. */
    ck_assert_uint_eq(used_bytes(), before);
    fake_check_consistent(g_mm, g_as);
    fake_check_consistent(c, cas);
    ck_assert(!fake_as_write(g_as, a, "x", 1));
    ck_assert(!fake_as_write(cas, a, "x", 1));
    ck_assert_uint_eq(vma_off(c, a), vma_off(g_mm, a));
    ck_assert_uint_eq(memfile_refcount(vma_off(g_mm, a)), 2);
    /* A kernel write copies just the pages it writes. */
    uint8_t v = 0x77;
    ck_assert_int_eq(mm_copy_out(c, a + 16 * PG, &v, 1), 0);
    ck_assert_uint_eq(used_bytes(), before + PG);
    ck_assert_uint_eq(get_byte(a + 16 * PG), 17);
    ck_assert_int_eq(mm_copy_in(c, &v, a + 16 * PG, 1), 0);
    ck_assert_uint_eq(v, 0x77);
    fake_check_consistent(c, cas);
    /* A fault copies a run around the page, one fault for the run. */
    int code;
    ck_assert_int_eq(mm_fault(g_mm, a + 100 * PG + 5, false, &code), 0);
    ck_assert(fake_as_write(g_as, a + 100 * PG, "\x55", 1));
    ck_assert(fake_as_write(g_as, a + 64 * PG, "\x56", 1));
    ck_assert(fake_as_write(g_as, a + 127 * PG, "\x57", 1));
    ck_assert(!fake_as_write(g_as, a + 128 * PG, "x", 1));
    ck_assert_uint_eq(used_bytes(), before + PG + MM_COW_RUN_TEST);
    ck_assert_int_eq(mm_copy_in(c, &v, a + 64 * PG, 1), 0);
    ck_assert_uint_eq(v, 65);
    ck_assert_uint_eq(get_byte(a + 64 * PG), 0x56);
    ck_assert_uint_eq(get_byte(a + 96 * PG), 97);
    fake_check_consistent(g_mm, g_as);
    /* mprotect keeps COW pages read-only in the stub. */
    ck_assert_int_eq(mm_mprotect(g_mm, a, len, PROT_READ), 0);
    ck_assert_int_eq(mm_mprotect(g_mm, a, len, RW), 0);
    fake_check_consistent(g_mm, g_as);
    ck_assert(!fake_as_write(g_as, a, "x", 1));
    ck_assert(fake_as_write(g_as, a + 100 * PG, "x", 1));
    /* DONTNEED in the child leaves the parent's copy alone. */
    ck_assert_int_eq(mm_madvise(c, a, 32 * PG, MADV_DONTNEED), 0);
    ck_assert_int_eq(mm_copy_in(c, &v, a + 16 * PG, 1), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_uint_eq(get_byte(a + 16 * PG), 17);
    ck_assert_uint_eq(get_byte(a), 1);
    fake_check_consistent(c, cas);
    /* Once the child is gone, a write fault needs no copy at all. */
    mm_put(c);
    fake_as_free(cas);
    uint64_t alone = used_bytes();
    ck_assert_int_eq(mm_fault(g_mm, a, false, &code), 0);
    ck_assert_uint_eq(used_bytes(), alone);
    ck_assert(fake_as_write(g_as, a, "\x01", 1));
    for (uint64_t o = 0; o < len; o += PG)
        REQUIRE(!(g_mm->vmas[0].flags & VMA_COW) || g_mm->vmas[0].start > a + o);
    check();
}
END_TEST

/* A small single-threaded fork: the child gets its own copy of the private
 * writable pages at once; the parent keeps its pages writable. Past the
 * budget, with another thread, and for shared memory it is copy-on-write
 * or sharing as before. */
START_TEST(fork_copy_small)
{
    g_mm_fork_copy_max = 4 * PG;
    uint64_t a = map(BASE, 8 * PG, RW, FIXED);      /* 2 data pages: copied */
    uint64_t big = map(BASE + 16 * PG, 8 * PG, RW, FIXED); /* 5: over the budget */
    uint64_t s = map(BASE + 32 * PG, PG, RW, SANON | MAP_FIXED);
    uint64_t ro = map(BASE + 40 * PG, PG, PROT_READ, FIXED);
    put_byte(a, 1);
    put_byte(a + 5 * PG, 2);
    for (int i = 0; i < 5; i++)
        put_byte(big + (uint64_t)i * PG, (uint8_t)(10 + i));
    put_byte(s, 3);
    uint64_t before = used_bytes();
    struct mm *c;
    ck_assert_int_eq(mm_fork(g_mm, &c), 0);
    struct platform_as *cas = fake_as_new();
    ck_assert_int_eq(mm_attach(c, cas), 0);
    fake_check_consistent(g_mm, g_as);
    fake_check_consistent(c, cas);
    /* Copied: 8 pages of offsets, the 2 data pages; holes stay holes. */
    ck_assert_uint_eq(used_bytes(), before + 8 * PG);
    ck_assert_uint_ne(vma_off(c, a), vma_off(g_mm, a));
    ck_assert_uint_eq(memfile_refcount(vma_off(g_mm, a)), 1);
    uint64_t ds, de;
    ck_assert_int_eq(memfile_next_data(vma_off(c, a), vma_off(c, a) + 8 * PG, &ds, &de), 0);
    ck_assert_uint_eq(ds, vma_off(c, a));
    ck_assert_uint_eq(de, vma_off(c, a) + PG);
    /* Both stubs write in place, and neither sees the other's writes. */
    ck_assert(fake_as_write(g_as, a, "\x41", 1));
    ck_assert(fake_as_write(cas, a + 5 * PG, "\x42", 1));
    uint8_t v;
    ck_assert_int_eq(mm_copy_in(c, &v, a, 1), 0);
    ck_assert_uint_eq(v, 1);
    ck_assert_uint_eq(get_byte(a + 5 * PG), 2);
    ck_assert_int_eq(mm_copy_in(c, &v, a + 5 * PG, 1), 0);
    ck_assert_uint_eq(v, 0x42);
    ck_assert_uint_eq(get_byte(a), 0x41);
    /* Over the budget: shared copy-on-write, read-only in both stubs. */
    ck_assert_uint_eq(vma_off(c, big), vma_off(g_mm, big));
    ck_assert_uint_eq(memfile_refcount(vma_off(g_mm, big)), 2);
    ck_assert(!fake_as_write(g_as, big, "x", 1));
    ck_assert(!fake_as_write(cas, big, "x", 1));
    /* Read-only private memory is shared; shared memory stays shared. */
    ck_assert_uint_eq(vma_off(c, ro), vma_off(g_mm, ro));
    ck_assert(fake_as_write(cas, s, "\x43", 1));
    ck_assert_uint_eq(get_byte(s), 0x43);
    mm_put(c);
    fake_as_free(cas);
    ck_assert_uint_eq(used_bytes(), before);
    /* With a second thread in the parent, nothing is copied at fork. */
    mm_ctx_add(g_mm);
    ck_assert_int_eq(mm_fork(g_mm, &c), 0);
    ck_assert_uint_eq(used_bytes(), before);
    ck_assert_uint_eq(vma_off(c, a), vma_off(g_mm, a));
    ck_assert(!fake_as_write(g_as, a, "x", 1));
    mm_put(c);
    check();
}
END_TEST

static int add_one(uint32_t *w, void *arg)
{
    (void)arg;
    return (int)++*w;
}

START_TEST(fork_cow_word_and_exit)
{
    uint64_t a = map(BASE, 4 * PG, RW, FIXED);
    put_byte(a, 5);
    struct mm *c;
    ck_assert_int_eq(mm_fork(g_mm, &c), 0);
    /* A futex-style atomic write breaks the sharing too. */
    ck_assert_int_eq(mm_word_op(c, a, true, add_one, NULL, NULL), 6);
    ck_assert_uint_eq(get_byte(a), 5);
    /* The parent exits first: the child's pages stay. */
    mm_put(g_mm);
    g_mm = c;
    ck_assert_uint_eq(get_byte(a), 6);
    /* An unattached mm forks too (nothing to protect). */
    struct mm *gc;
    ck_assert_int_eq(mm_fork(c, &gc), 0);
    ck_assert_int_eq(mm_copy_out(gc, a, "\x09", 1), 0);
    ck_assert_uint_eq(get_byte(a), 6);
    mm_put(gc);
}
END_TEST

START_TEST(shared_file_mapping)
{
    static uint8_t data[8 * PG];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i / PG + 1);
    struct file f = {.refs = 1, .path = "/tmp/shm", .mode = S_IFREG | 0644, .data = data,
                     .size = sizeof(data), .flags = O_RDWR};
    fake_file_back(&f, 2 * PG);
    uint64_t out, a = BASE;
    /* File pages 1..6: three pieces at the file's own memory-file pages. */
    ck_assert_int_eq(mm_mmap(g_mm, a, 6 * PG, RW, MAP_SHARED | MAP_FIXED, &f, PG, &out), 0);
    ck_assert_int_eq(g_mm->nr_vmas, 4);
    ck_assert_int_eq(f.refs, 5);
    fake_check_consistent(g_mm, g_as);
    ck_assert_uint_eq(vma_off(g_mm, a), f.moff[0] + PG);
    ck_assert_uint_eq(vma_off(g_mm, a + 5 * PG), f.moff[3]);
    ck_assert_uint_eq(stub_byte(a), 2);
    /* Writes through the mapping are the file's data, and back. */
    ck_assert(fake_as_write(g_as, a + 2 * PG, "\xaa", 1));
    ck_assert_uint_eq(*(uint8_t *)memfile_ptr(f.moff[1] + PG), 0xaa);
    *(uint8_t *)memfile_ptr(f.moff[2]) = 0xbb;
    ck_assert_uint_eq(stub_byte(a + 3 * PG), 0xbb);
    char maps[1024];
    mm_format_maps(g_mm, maps, sizeof(maps));
    ck_assert_str_eq(maps, maps_line("100000000-100006000 rw-s 00001000 00:00 0 ", "/tmp/shm"));
    /* Fork shares the pages (no copy-on-write). */
    struct mm *c;
    ck_assert_int_eq(mm_fork(g_mm, &c), 0);
    struct platform_as *cas = fake_as_new();
    ck_assert_int_eq(mm_attach(c, cas), 0);
    ck_assert(fake_as_write(cas, a + 4 * PG, "\xcc", 1));
    ck_assert_uint_eq(stub_byte(a + 4 * PG), 0xcc);
    mm_put(c);
    fake_as_free(cas);
    /* The file goes away (unlinked, closed): the mapping keeps its pages. */
    fake_file_unback(&f);
    ck_assert_uint_eq(stub_byte(a + 4 * PG), 0xcc);
    ck_assert_uint_eq(memfile_refcount(f.moff[1]), 1);
    /* Read-only opens give mappings that can never become writable. */
    ck_assert_int_eq(mm_msync(g_mm, a, 6 * PG, MS_SYNC), 0);
    ck_assert_int_eq(mm_munmap(g_mm, a, 6 * PG), 0);
    ck_assert_int_eq(f.refs, 1);
    f.flags = O_RDONLY;
    fake_file_back(&f, 2 * PG);
    ck_assert_int_eq(mm_mmap(g_mm, a, 2 * PG, PROT_READ, MAP_SHARED | MAP_FIXED, &f, 0, &out), 0);
    ck_assert_uint_eq(vma_off(g_mm, a), f.moff[0]);
    ck_assert_int_eq(mm_mprotect(g_mm, a, PG, RW), -EACCES);
    ck_assert_int_eq(mm_munmap(g_mm, a, 2 * PG), 0);
    fake_file_unback(&f);
    check();
}
END_TEST

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(fork_sparse_heap)
{
    uint64_t len = 1ULL << 30;
    uint64_t a = map(0, len, RW, ANON);
    /* 64 touched pages spread over 1 GiB. */
    for (int i = 0; i < 64; i++)
        put_byte(a + (uint64_t)i * (len / 64) + 5, (uint8_t)(i + 1));
    double t0 = now();
    struct mm *c;
    ck_assert_int_eq(mm_fork(g_mm, &c), 0);
    double dt = now() - t0;
    for (int i = 0; i < 64; i++) {
        uint8_t v;
        ck_assert_int_eq(mm_copy_in(c, &v, a + (uint64_t)i * (len / 64) + 5, 1), 0);
        ck_assert_uint_eq(v, i + 1);
    }
    /* Only the touched pages were copied into the child. */
    uint8_t *vec = malloc(len / PG);
    ck_assert_int_eq(mm_mincore(c, a, len, vec), 0);
    uint64_t resident = 0;
    for (uint64_t i = 0; i < len / PG; i++)
        resident += vec[i];
    ck_assert_uint_le(resident, 64 + 64); /* mincore's own reads may not add pages */
    printf("mm: fork of a 1 GiB private mapping with 64 touched pages: %.3f ms, "
           "%lu child pages resident\n",
           dt * 1e3, (unsigned long)resident);
    /* And a dense 64 MiB one, for scale. */
    uint64_t dlen = 64ULL << 20;
    uint64_t dstart = map(0, dlen, RW, ANON);
    char *junk = malloc(dlen);
    memset(junk, 0x5a, dlen);
    ck_assert_int_eq(mm_copy_out(g_mm, dstart, junk, dlen), 0);
    free(junk);
    struct mm *c2;
    t0 = now();
    ck_assert_int_eq(mm_fork(g_mm, &c2), 0);
    dt = now() - t0;
    printf("mm: fork copying 64 MiB of touched private memory: %.1f ms (%.2f GB/s)\n", dt * 1e3,
           dlen / dt / 1e9);
    free(vec);
    mm_put(c);
    mm_put(c2);
}
END_TEST

START_TEST(fault_codes)
{
    int code = 0;
    uint64_t a = map(BASE, PG, PROT_READ, FIXED);
    ck_assert_int_eq(mm_fault(g_mm, BASE * 3, false, &code), -EFAULT);
    ck_assert_int_eq(code, SEGV_MAPERR);
    ck_assert_int_eq(mm_fault(g_mm, a + 8, true, &code), -EFAULT);
    ck_assert_int_eq(code, SEGV_ACCERR);
    /* Allowed by the VMA: re-mapped once, then the app's error. */
    int maps = g_as->nr_map;
    ck_assert_int_eq(mm_fault(g_mm, a + 8, false, &code), 0);
    ck_assert_int_eq(g_as->nr_map, maps + 1);
    ck_assert_int_eq(mm_fault(g_mm, a + 16, false, &code), -EFAULT);
    ck_assert_int_eq(code, SEGV_ACCERR);
    ck_assert_int_eq(mm_mprotect(g_mm, a, PG, PROT_NONE), 0);
    ck_assert_int_eq(mm_fault(g_mm, a, false, &code), -EFAULT);
    ck_assert_int_eq(code, SEGV_ACCERR);
    check();
}
END_TEST

START_TEST(limits_enforced)
{
    uint64_t out;
    struct mm_limits lim = {.as = 64 * PG, .data = 16 * PG, .stack = MM_UNLIMITED,
                            .memlock = MM_UNLIMITED};
    mm_set_limits(g_mm, &lim);
    /* RLIMIT_DATA: private writable only. */
    ck_assert_int_eq(mm_mmap(g_mm, 0, 17 * PG, RW, ANON, NULL, 0, &out), -ENOMEM);
    uint64_t ro = map(0, 17 * PG, PROT_READ, ANON);
    uint64_t sh = map(0, 17 * PG, RW, SANON);
    /* RLIMIT_AS: everything, replaced bytes of MAP_FIXED excepted. */
    ck_assert_int_eq(mm_mmap(g_mm, 0, 31 * PG, PROT_READ, ANON, NULL, 0, &out), -ENOMEM);
    ck_assert_uint_eq(map(ro, 17 * PG, PROT_READ, FIXED), ro);
    mm_set_brk_start(g_mm, BASE);
    ck_assert_uint_eq(mm_brk(g_mm, BASE + 17 * PG), BASE); /* RLIMIT_DATA */
    ck_assert_uint_eq(mm_brk(g_mm, BASE + 8 * PG), BASE + 8 * PG);
    ck_assert_int_eq(mm_mremap(g_mm, BASE, 8 * PG, 40 * PG, MREMAP_MAYMOVE, 0, &out), -ENOMEM);
    ck_assert_int_eq(mm_munmap(g_mm, ro, 17 * PG), 0);
    ck_assert_int_eq(mm_munmap(g_mm, sh, 17 * PG), 0);
    check();
}
END_TEST

START_TEST(stack_grows_down)
{
    int code = 0, signo = 0;
    struct mm_limits lim = {.as = MM_UNLIMITED, .data = MM_UNLIMITED, .stack = 1 << 20,
                            .memlock = MM_UNLIMITED};
    mm_set_limits(g_mm, &lim);
    uint64_t top = BASE + (64ULL << 20);
    map(top - PG, PG, RW, FIXED | MAP_GROWSDOWN);
    /* A fault below grows it (the whole step), copy-out below too. */
    ck_assert_int_eq(mm_fault_signal(g_mm, top - 10 * PG, true, SIGSEGV, 1, &signo, &code), 0);
    put_byte(top - 100 * PG, 7);
    ck_assert_uint_eq(get_byte(top - 100 * PG), 7);
    ck_assert_uint_eq(stub_byte(top - 100 * PG), 7);
    /* Past RLIMIT_STACK from the top: SIGSEGV MAPERR. */
    ck_assert_int_eq(mm_fault_signal(g_mm, top - (2 << 20), true, SIGSEGV, 1, &signo, &code),
                     -EFAULT);
    ck_assert_int_eq(signo, SIGSEGV);
    ck_assert_int_eq(code, SEGV_MAPERR);
    /* An accessible mapping below keeps the guard gap. */
    map(top - (1 << 20) - 2 * PG, PG, PROT_READ, FIXED);
    ck_assert_int_eq(mm_fault(g_mm, top - (1 << 20) + 8 * PG, true, &code), -EFAULT);
    /* mmap(NULL) leaves the gap below a stack free. */
    mm_set_layout(g_mm, top, top);
    uint64_t a = map(0, PG, RW, ANON);
    ck_assert(a + PG <= top - (1 << 20) - 2 * PG || a >= top);
    check();
}
END_TEST

START_TEST(file_past_eof_sigbus)
{
    static uint8_t data[PG + 10];
    struct file f = {.refs = 1, .path = "/f", .mode = S_IFREG | 0644, .data = data,
                     .size = sizeof(data)};
    int code = 0, signo = 0;
    uint64_t out;
    memset(data, 'a', sizeof(data));
    ck_assert_int_eq(mm_mmap(g_mm, 0, 4 * PG, PROT_READ, MAP_PRIVATE, &f, 0, &out), 0);
    check(); /* pages 2 and 3 mapped past the memory file's end */
    ck_assert_uint_eq(stub_byte(out + PG + 9), 'a');
    ck_assert_int_eq(mm_fault_signal(g_mm, out + 2 * PG + 5, false, SIGBUS, 1, &signo, &code),
                     -EFAULT);
    ck_assert_int_eq(signo, SIGBUS);
    ck_assert_int_eq(code, BUS_ADRERR);
    ck_assert_int_eq(mm_munmap(g_mm, out, 4 * PG), 0);
    ck_assert_int_eq(f.refs, 1);
    check();
}
END_TEST

START_TEST(layout_and_smaps)
{
    mm_set_layout(g_mm, 0x7ff000000000ULL, 0x7fe000000000ULL);
    ck_assert_uint_eq(mm_stack_top(g_mm), 0x7ff000000000ULL);
    uint64_t a = map(0, 4 * PG, RW, ANON);
    ck_assert_uint_eq(a, 0x7fe000000000ULL - 4 * PG);
    put_byte(a, 1);
    put_byte(a + 2 * PG, 1);
    char buf[4096];
    mm_format_smaps(g_mm, buf, sizeof(buf));
    unsigned size = 0, rss = 0, pss = 0;
    ck_assert_ptr_nonnull(strstr(buf, "Size:"));
    sscanf(strstr(buf, "Size:"), "Size: %u kB", &size);
    sscanf(strstr(buf, "Rss:"), "Rss: %u kB", &rss);
    sscanf(strstr(buf, "Pss:"), "Pss: %u kB", &pss);
    ck_assert_uint_eq(size, 16);
    ck_assert_uint_eq(rss, 8);
    ck_assert_uint_eq(pss, 8);
    ck_assert_uint_eq(mm_resident_bytes(g_mm), 2 * PG);
    mm_set_personality(g_mm, 0x0040000);
    ck_assert_uint_eq(mm_personality(g_mm), 0x0040000);
    check();
}
END_TEST

START_TEST(platform_failure_unwinds)
{
    uint64_t out;
    uint64_t a = map(BASE, 2 * PG, RW, FIXED);
    g_as->fail_next = -ESRCH;
    ck_assert_int_eq(mm_mmap(g_mm, 0, PG, RW, ANON, NULL, 0, &out), -ESRCH);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    g_as->fail_next = -ESRCH;
    ck_assert_int_eq(mm_mprotect(g_mm, a, PG, PROT_READ), -ESRCH);
    ck_assert_uint_eq(g_mm->vmas[0].prot, RW);
    check();
    /* A failed unmap leaks the offsets but still removes the VMA. */
    g_as->fail_next = -ESRCH;
    ck_assert_int_eq(mm_munmap(g_mm, a, PG), 0);
    ck_assert_uint_eq(g_mm->nr_vmas, 1);
    ck_assert_uint_eq(used_bytes(), 2 * PG);
    memfile_free(g_mm->vmas[0].off - PG, PG); /* the test gives the leak back */
}
END_TEST

/* Random operations; after each one the stub must map exactly the VMAs and
 * the memory file must hold exactly their backing. */
START_TEST(random_ops)
{
    enum { SPAN = 64 };
    uint64_t out;
    srand(3);
    mm_set_brk_start(g_mm, BASE + SPAN * PG);
    for (int it = 0; it < 20000; it++) {
        uint64_t a = BASE + (uint64_t)(rand() % SPAN) * PG;
        uint64_t len = (uint64_t)(1 + rand() % 8) * PG;
        int prot = rand() % 8;
        switch (rand() % 9) {
        case 0:
            mm_mmap(g_mm, a, len, prot, FIXED, NULL, 0, &out);
            break;
        case 1:
            mm_mmap(g_mm, a, len, prot, SANON | MAP_FIXED, NULL, 0, &out);
            break;
        case 2:
            mm_munmap(g_mm, a, len);
            break;
        case 3:
            mm_mprotect(g_mm, a, len, prot);
            break;
        case 4:
            mm_mremap(g_mm, a, len, (uint64_t)(1 + rand() % 8) * PG,
                      rand() % 2 ? MREMAP_MAYMOVE : 0, 0, &out);
            break;
        case 5:
            mm_mremap(g_mm, a, len, (uint64_t)(1 + rand() % 8) * PG,
                      MREMAP_MAYMOVE | MREMAP_FIXED, BASE + (uint64_t)(rand() % SPAN) * PG,
                      &out);
            break;
        case 6:
            mm_madvise(g_mm, a, len, rand() % 2 ? MADV_DONTNEED : MADV_DONTFORK);
            break;
        case 7:
            mm_brk(g_mm, BASE + (uint64_t)(SPAN + rand() % 16) * PG);
            break;
        case 8:
            mm_mmap(g_mm, a, len, prot, ANON, NULL, 0, &out);
            break;
        }
        fake_check_consistent(g_mm, g_as);
        REQUIRE(used_bytes() == fake_mm_backing_bytes(g_mm));
        if (it % 1000 == 999) {
            struct mm *c;
            REQUIRE(mm_fork(g_mm, &c) == 0);
            mm_put(c);
        }
    }
}
END_TEST

/* ---- the syscall handlers ---- */

extern const struct syscall_def __start_moat_syscalls[], __stop_moat_syscalls[];

static long call(struct task *t, const char *name, uint64_t a0, uint64_t a1, uint64_t a2,
                 uint64_t a3, uint64_t a4, uint64_t a5)
{
    for (const struct syscall_def *d = __start_moat_syscalls; d < __stop_moat_syscalls; d++)
        if (strcmp(d->name, name) == 0) {
            struct sys_args a = {(uint64_t)d->nr, {a0, a1, a2, a3, a4, a5}};
            return d->fn(t, &a);
        }
    ck_abort_msg("syscall %s not registered", name);
    return -ENOSYS;
}

static struct file *g_fd3;

struct file *fdtable_get_file(struct fdtable *fdt, int fd)
{
    (void)fdt;
    if (fd != 3 || !g_fd3)
        return NULL;
    file_get(g_fd3); /* fakes.c */
    return g_fd3;
}

START_TEST(syscall_handlers)
{
    static struct thread_group tg;
    struct task t = {.tg = &tg, .mm = g_mm};
    pthread_mutex_init(&tg.lock, NULL);
    tg.rlim[RLIMIT_MEMLOCK].rlim_cur = 2 * PG;
    tg.rlim[RLIMIT_AS].rlim_cur = RLIM_INFINITY;
    tg.rlim[RLIMIT_DATA].rlim_cur = RLIM_INFINITY;
    tg.rlim[RLIMIT_STACK].rlim_cur = 8 << 20;
    t.cred.euid = 1000;
    t.cred.cap_effective = 0;
    static uint8_t data[PG] = {42};
    struct file f = {.refs = 1, .path = "/f", .mode = S_IFREG | 0644, .data = data, .size = PG};
    g_fd3 = &f;

    const char *names[] = {"brk",    "mmap",    "munmap", "mprotect", "mremap",
                           "madvise", "msync",  "mincore", "mlock",   "mlock2",
                           "munlock", "mlockall", "munlockall"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        bool found = false;
        for (const struct syscall_def *d = __start_moat_syscalls; d < __stop_moat_syscalls; d++)
            found |= strcmp(d->name, names[i]) == 0;
        ck_assert_msg(found, "%s", names[i]);
    }

    long a = call(&t, "mmap", 0, 3 * PG, RW, ANON, (uint64_t)-1, 0);
    ck_assert_int_gt(a, 0);
    ck_assert_int_eq(call(&t, "mmap", 0, PG, RW, MAP_PRIVATE, 4, 0), -EBADF);
    ck_assert_int_eq(call(&t, "mmap", 0, PG, RW, MAP_PRIVATE, 4, 1), -EINVAL);
    long fm = call(&t, "mmap", 0, PG, PROT_READ, MAP_PRIVATE, 3, 0);
    ck_assert_int_gt(fm, 0);
    ck_assert_uint_eq(get_byte((uint64_t)fm), 42);
    ck_assert_int_eq(f.refs, 2);

    /* mincore writes the vector into app memory. */
    put_byte((uint64_t)a + PG, 1);
    ck_assert_int_eq(call(&t, "mincore", (uint64_t)a, 3 * PG, (uint64_t)a + 2 * PG, 0, 0, 0), 0);
    uint8_t vec[3];
    ck_assert_int_eq(mm_copy_in(g_mm, vec, (uint64_t)a + 2 * PG, 3), 0);
    ck_assert_uint_eq(vec[0], 0);
    ck_assert_uint_eq(vec[1], 1);
    ck_assert_int_eq(call(&t, "mincore", (uint64_t)a, PG, (uint64_t)fm, 0, 0, 0), -EFAULT);
    ck_assert_int_eq(call(&t, "mincore", PLATFORM_APP_MAX, PG, (uint64_t)a, 0, 0, 0), -ENOMEM);

    /* mlock family against RLIMIT_MEMLOCK. */
    ck_assert_int_eq(call(&t, "mlock", (uint64_t)a, 2 * PG, 0, 0, 0, 0), 0);
    ck_assert_int_eq(call(&t, "mlock2", (uint64_t)a, 3 * PG, 0, 0, 0, 0), -ENOMEM);
    ck_assert_int_eq(call(&t, "mlock2", (uint64_t)a, PG, 2, 0, 0, 0), -EINVAL);
    ck_assert_int_eq(call(&t, "munlock", (uint64_t)a, 3 * PG, 0, 0, 0, 0), 0);
    ck_assert_int_eq(call(&t, "mlockall", 0, 0, 0, 0, 0, 0), -EINVAL);
    ck_assert_int_eq(call(&t, "mlockall", MCL_ONFAULT, 0, 0, 0, 0, 0), -EINVAL);
    ck_assert_int_eq(call(&t, "mlockall", 64, 0, 0, 0, 0, 0), -EINVAL);
    ck_assert_int_eq(call(&t, "mlockall", MCL_CURRENT, 0, 0, 0, 0, 0), -ENOMEM);
    t.cred.euid = 0;
    t.cred.cap_effective = CAP_BIT(CAP_IPC_LOCK);
    ck_assert_int_eq(call(&t, "mlockall", MCL_CURRENT, 0, 0, 0, 0, 0), 0);
    ck_assert_int_eq(call(&t, "munlockall", 0, 0, 0, 0, 0, 0), 0);
    t.cred.euid = 1000;
    t.cred.cap_effective = 0;
    tg.rlim[RLIMIT_MEMLOCK].rlim_cur = 0;
    ck_assert_int_eq(call(&t, "mlock", (uint64_t)a, PG, 0, 0, 0, 0), -EPERM);

    ck_assert_int_eq(call(&t, "mprotect", (uint64_t)a, PG, PROT_READ, 0, 0, 0), 0);
    ck_assert_int_eq(call(&t, "madvise", (uint64_t)a, PG, MADV_WILLNEED, 0, 0, 0), 0);
    ck_assert_int_eq(call(&t, "msync", (uint64_t)a, PG, MS_SYNC, 0, 0, 0), 0);
    long m = call(&t, "mremap", (uint64_t)a + PG, 2 * PG, PG, 0, 0, 0);
    ck_assert_int_eq(m, a + PG);
    ck_assert_int_eq(call(&t, "munmap", (uint64_t)a, PG, 0, 0, 0, 0), 0);
    mm_set_brk_start(g_mm, BASE);
    ck_assert_int_eq(call(&t, "brk", 0, 0, 0, 0, 0, 0), (long)BASE);
    ck_assert_int_eq(call(&t, "brk", BASE + 10, 0, 0, 0, 0, 0), (long)BASE + 10);
    ck_assert_int_eq(call(&t, "munmap", (uint64_t)fm, PG, 0, 0, 0, 0), 0);
    ck_assert_int_eq(f.refs, 1);
    g_fd3 = NULL;
}
END_TEST

/* ---- threads ---- */

struct hammer {
    struct mm *mm;
    uint64_t base;
    volatile int stop;
};

static void *copier(void *arg)
{
    struct hammer *h = arg;
    char buf[3 * PG];
    while (!h->stop) {
        mm_copy_out(h->mm, h->base + PG / 2, buf, sizeof(buf));
        mm_copy_in(h->mm, buf, h->base, sizeof(buf));
        mm_strncpy_in(h->mm, buf, h->base + PG, 100);
    }
    return NULL;
}

START_TEST(concurrent_copy_and_remap)
{
    struct hammer h = {.mm = g_mm, .base = BASE};
    uint64_t out;
    map(BASE, 8 * PG, RW, FIXED);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, copier, &h);
    for (int it = 0; it < 3000; it++) {
        mm_munmap(g_mm, BASE + (uint64_t)(it % 8) * PG, PG);
        mm_mmap(g_mm, BASE + (uint64_t)(it % 8) * PG, PG, it % 3 ? RW : PROT_READ, FIXED, NULL,
                0, &out);
        mm_mprotect(g_mm, BASE, 4 * PG, it % 2 ? RW : PROT_READ);
    }
    h.stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    check();
}
END_TEST

static Suite *mm_suite(void)
{
    Suite *s = suite_create("mm");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, mmap_anon_basic);
    tcase_add_test(tc, mmap_errors);
    tcase_add_test(tc, mmap_fixed_replaces);
    tcase_add_test(tc, mmap_noreplace_and_hint);
    tcase_add_test(tc, mmap_skips_stub);
    tcase_add_test(tc, munmap_split);
    tcase_add_test(tc, mprotect_split_merge);
    tcase_add_test(tc, copy_across_vmas);
    tcase_add_test(tc, strncpy_in);
    tcase_add_test(tc, brk_grow_shrink);
    tcase_add_test(tc, brk_new_piece);
    tcase_add_test(tc, mremap_cases);
    tcase_add_test(tc, mremap_shared_dup);
    tcase_add_test(tc, shared_anon_lifetime);
    tcase_add_test(tc, madvise_cases);
    tcase_add_test(tc, madvise_private_file_refetches);
    tcase_add_test(tc, msync_cases);
    tcase_add_test(tc, mincore_uses_backing);
    tcase_add_test(tc, mlock_accounting);
    tcase_add_test(tc, private_file_mapping);
    tcase_add_test(tc, maps_format);
    tcase_add_test(tc, attach_maps_existing);
    tcase_add_test(tc, last_ctx_clears_as);
    tcase_add_test(tc, fork_private_and_shared);
    tcase_add_test(tc, fork_cow);
    tcase_add_test(tc, fork_copy_small);
    tcase_add_test(tc, fork_cow_word_and_exit);
    tcase_add_test(tc, shared_file_mapping);
    tcase_add_test(tc, fault_codes);
    tcase_add_test(tc, limits_enforced);
    tcase_add_test(tc, stack_grows_down);
    tcase_add_test(tc, file_past_eof_sigbus);
    tcase_add_test(tc, layout_and_smaps);
    tcase_add_test(tc, platform_failure_unwinds);
    tcase_add_test(tc, syscall_handlers);
    suite_add_tcase(s, tc);
    /* Heavier tests, a meson test of their own (CK_RUN_CASE=stress). */
    TCase *st = tcase_create("stress");
    tcase_add_checked_fixture(st, setup, teardown);
    tcase_set_timeout(st, 120);
    tcase_add_test(st, fork_sparse_heap);
    tcase_add_test(st, random_ops);
    tcase_add_test(st, concurrent_copy_and_remap);
    suite_add_tcase(s, st);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mm_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
