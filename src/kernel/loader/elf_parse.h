/*
 * The pure part of the ELF loader: validating an x86-64 ELF header and its
 * program headers and working out the image's layout, with no memory map or
 * file behind it (so it can be unit-tested and fuzzed on a plain buffer).
 */
#ifndef MOAT_KERNEL_LOADER_ELF_PARSE_H
#define MOAT_KERNEL_LOADER_ELF_PARSE_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_PHDRS_SIZE 65536

/* What the program headers say about an image. */
struct elf_layout {
    uint64_t lo, hi;          /* page-aligned span of the PT_LOAD segments, lo < hi */
    uint64_t phdr_vaddr;      /* (unbiased) address of the program headers, if have_phdr */
    bool have_phdr;           /* PT_PHDR, or the headers lie in a PT_LOAD's file part */
    uint64_t max_align;       /* largest power-of-two PT_LOAD p_align up to 1 GiB, >= page */
    uint64_t interp_off;      /* the (last) PT_INTERP in the file; interp_size 0: none */
    uint64_t interp_size;     /* 2..interp_max bytes, NUL included (checked by the caller) */
};

/* Checks an ELF header: 0, or -ENOEXEC (not ELF, wrong class, endianness
 * or machine, or not an executable/shared object). */
int elf_check_header(const uint8_t *hdr, size_t len);

/* Validates the E_PHNUM program headers PH of the header EH (which passed
 * elf_check_header) and fills OUT. INTERP_MAX: the largest PT_INTERP
 * accepted, 0 to ignore PT_INTERP. 0 or -ENOEXEC. */
int elf_parse(const Elf64_Ehdr *eh, const Elf64_Phdr *ph, size_t interp_max,
              struct elf_layout *out);

/* Where an image with layout L and type TYPE goes when asked for BASE (an
 * ET_DYN image: BASE aligned up to L->max_align; 0 means anywhere, *BIAS is
 * then only known after mapping). 0 with *BIAS set, or -ENOEXEC if the image
 * would not fit in the app's address range. */
int elf_place(const struct elf_layout *l, uint16_t type, uint64_t base, uint64_t *bias);

#endif
