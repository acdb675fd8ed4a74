/*
 * ELF header and program-header validation (see elf_parse.h). No state, no
 * I/O: the loader (elf.c) reads the headers and maps what this accepts.
 */
#include "kernel/loader/elf_parse.h"

#include <errno.h>
#include <string.h>

#include "lib/util.h"
#include "platform/platform.h"

int elf_check_header(const uint8_t *hdr, size_t len)
{
    if (len < sizeof(Elf64_Ehdr) || memcmp(hdr, ELFMAG, SELFMAG) != 0)
        return -ENOEXEC;
    Elf64_Ehdr ehb;
    memcpy(&ehb, hdr, sizeof(ehb));
    const Elf64_Ehdr *eh = &ehb;
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
        eh->e_machine != EM_X86_64 || (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) ||
        eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
        (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > ELF_MAX_PHDRS_SIZE)
        return -ENOEXEC;
    return 0;
}

int elf_parse(const Elf64_Ehdr *eh, const Elf64_Phdr *ph, size_t interp_max,
              struct elf_layout *out)
{
    uint64_t phsize = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
    memset(out, 0, sizeof(*out));
    out->lo = UINT64_MAX;
    out->max_align = PAGE_SIZE;
    for (int i = 0; i < eh->e_phnum; i++) {
        const Elf64_Phdr *p = &ph[i];
        if (p->p_type == PT_INTERP && interp_max) {
            if (p->p_filesz < 2 || p->p_filesz > interp_max)
                return -ENOEXEC;
            out->interp_off = p->p_offset;
            out->interp_size = p->p_filesz;
        } else if (p->p_type == PT_PHDR) {
            out->phdr_vaddr = p->p_vaddr;
            out->have_phdr = true;
        } else if (p->p_type == PT_LOAD && p->p_memsz) {
            if (p->p_filesz > p->p_memsz || p->p_vaddr + p->p_memsz < p->p_vaddr ||
                p->p_vaddr + p->p_memsz > UINT64_MAX - PAGE_SIZE ||
                (p->p_vaddr % PAGE_SIZE) != (p->p_offset % PAGE_SIZE))
                return -ENOEXEC;
            out->lo = MIN(out->lo, ALIGN_DOWN(p->p_vaddr, PAGE_SIZE));
            out->hi = MAX(out->hi, ALIGN_UP(p->p_vaddr + p->p_memsz, PAGE_SIZE));
        }
        /* Segments asking for more than page alignment (2 MiB text for
         * huge pages) get it, as Linux's maximum_alignment(). */
        if (p->p_type == PT_LOAD && p->p_align > out->max_align &&
            (p->p_align & (p->p_align - 1)) == 0 && p->p_align <= (1ULL << 30))
            out->max_align = p->p_align;
    }
    if (out->lo >= out->hi)
        return -ENOEXEC;
    /* No PT_PHDR: the headers are mapped if a PT_LOAD's file part holds them. */
    for (int i = 0; !out->have_phdr && i < eh->e_phnum; i++) {
        const Elf64_Phdr *p = &ph[i];
        if (p->p_type != PT_LOAD || !p->p_filesz)
            continue;
        if (p->p_offset <= eh->e_phoff && eh->e_phoff + phsize >= eh->e_phoff &&
            p->p_offset + p->p_filesz >= p->p_offset &&
            eh->e_phoff + phsize <= p->p_offset + p->p_filesz) {
            out->phdr_vaddr = p->p_vaddr + (eh->e_phoff - p->p_offset);
            out->have_phdr = true;
        }
    }
    return 0;
}

int elf_place(const struct elf_layout *l, uint16_t type, uint64_t base, uint64_t *bias)
{
    if (type == ET_DYN && base == 0) {
        *bias = 0;
        return 0;
    }
    if (type == ET_DYN)
        base = ALIGN_UP(base, l->max_align);
    *bias = type == ET_DYN ? base - l->lo : 0;
    if (l->lo + *bias < PLATFORM_APP_MIN || l->hi + *bias > PLATFORM_APP_MAX ||
        l->hi + *bias < l->hi)
        return -ENOEXEC;
    return 0;
}
