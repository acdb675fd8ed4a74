/*
 * libFuzzer target: the ELF loader's header and program-header validation
 * (src/kernel/loader/elf_parse.c). The input is an ELF file; its program
 * headers are taken from e_phoff as the loader reads them. A layout the
 * parser accepts must be consistent: page-aligned lo < hi covering every
 * PT_LOAD, a sane alignment, and a placement inside the app's range.
 * Built with -Dlibfuzzer=true (clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/loader/elf_parse.h"
#include "lib/util.h"
#include "platform/platform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                  \
    do {                                                          \
        if (!(c)) {                                               \
            fprintf(stderr, "fuzz-elf: %s failed\n", #c);         \
            abort();                                              \
        }                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The header on the heap at exactly its length, so ASan sees overruns. */
    uint8_t *hdr = malloc(size ? size : 1);
    if (!hdr)
        return 0;
    memcpy(hdr, data, size);
    if (elf_check_header(hdr, size) < 0) {
        free(hdr);
        return 0;
    }
    Elf64_Ehdr eh;
    memcpy(&eh, hdr, sizeof(eh));
    free(hdr);
    size_t phsize = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
    if (eh.e_phoff > size || size - eh.e_phoff < phsize)
        return 0; /* the loader's pread comes up short: -ENOEXEC */
    Elf64_Phdr *ph = malloc(phsize);
    if (!ph)
        return 0;
    memcpy(ph, data + eh.e_phoff, phsize);
    struct elf_layout l;
    for (int pass = 0; pass < 2; pass++) {
        size_t interp_max = pass ? 4096 : 0;
        if (elf_parse(&eh, ph, interp_max, &l) < 0)
            continue;
        CHECK(l.lo < l.hi);
        CHECK(l.lo % PAGE_SIZE == 0 && l.hi % PAGE_SIZE == 0);
        CHECK(l.max_align >= PAGE_SIZE && (l.max_align & (l.max_align - 1)) == 0 &&
              l.max_align <= (1ULL << 30));
        CHECK(interp_max ? (l.interp_size == 0 ||
                            (l.interp_size >= 2 && l.interp_size <= interp_max))
                         : l.interp_size == 0);
        for (int i = 0; i < eh.e_phnum; i++) {
            const Elf64_Phdr *p = &ph[i];
            if (p->p_type != PT_LOAD || !p->p_memsz)
                continue;
            CHECK(p->p_filesz <= p->p_memsz);
            CHECK(p->p_vaddr >= l.lo && p->p_vaddr + p->p_memsz <= l.hi);
        }
        static const uint64_t bases[] = {0, 0x555555554000ULL, 0x7f0000000000ULL,
                                         0x10000ULL, 0x7ffffffff000ULL};
        for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
            uint64_t bias;
            if (elf_place(&l, eh.e_type, bases[b], &bias) < 0)
                continue;
            if (eh.e_type == ET_DYN && bases[b] == 0)
                continue; /* placed by mmap(NULL) */
            /* The whole image lies in the app's range, without wrapping. */
            CHECK(l.lo + bias >= PLATFORM_APP_MIN && l.hi + bias <= PLATFORM_APP_MAX);
            CHECK(l.hi + bias > l.lo + bias);
            if (eh.e_type == ET_DYN)
                CHECK((l.lo + bias) % l.max_align == 0);
            else
                CHECK(bias == 0);
        }
    }
    free(ph);
    return 0;
}
