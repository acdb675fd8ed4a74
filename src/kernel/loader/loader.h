/*
 * The ELF loader: maps an x86-64 ELF executable (static, static-PIE, or
 * dynamic with its PT_INTERP loader) into a fresh address space and builds
 * the initial stack (argc, argv, envp, auxv) as Linux's binfmt_elf does.
 */
#ifndef MOAT_KERNEL_LOADER_LOADER_H
#define MOAT_KERNEL_LOADER_LOADER_H

#include <stddef.h>
#include <stdint.h>

struct mm;
struct file;
struct task;

#define LOADER_HDR_SIZE 256

/* Checks an ELF header: 0, or -ENOEXEC (not ELF, wrong class, endianness
 * or machine, or not an executable/shared object). */
int loader_check_elf(const uint8_t *hdr, size_t len);

struct loader_image {
    uint64_t entry;    /* where the app starts (the interpreter's entry if any) */
    uint64_t sp;       /* initial stack pointer */
    uint64_t arg_start, arg_end, env_start, env_end; /* the strings on the stack */
};

/* Loads FILE (borrowed; HDR holds its first LOADER_HDR_SIZE bytes) into MM,
 * which must be empty and attached. T (borrowed) is the task for opening the
 * interpreter and for the credentials in auxv. EXECFN is the path as passed
 * to execve. 0 or -errno (-ENOEXEC, -ENOMEM, -E2BIG …); on failure MM is
 * left half-built and the caller discards it. */
int loader_load(struct task *t, struct mm *mm, struct file *file, const uint8_t *hdr,
                char *const *argv, char *const *envp, const char *execfn,
                struct loader_image *out);

#endif
