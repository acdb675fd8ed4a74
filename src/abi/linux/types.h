/*
 * Our own definitions of the Linux x86-64 structures presented to apps.
 * Constants (errno values, O_*, PROT_*, MAP_*, AT_*) are taken from the C
 * library's headers, whose values on x86-64 Linux are the kernel ABI itself;
 * abi/linux/abi_check.c asserts the ones moat relies on at compile time.
 * Structures are defined here, so host headers never change what apps see.
 */
#ifndef MOAT_ABI_LINUX_TYPES_H
#define MOAT_ABI_LINUX_TYPES_H

#include <stdint.h>

#define LINUX_NSIG         64
#define LINUX_RLIM_NLIMITS 16
#define LINUX_RLIM_INFINITY (~0ULL)
#define LINUX_PATH_MAX     4096

struct linux_timespec {
    int64_t tv_sec;
    int64_t tv_nsec;
};

struct linux_timeval {
    int64_t tv_sec;
    int64_t tv_usec;
};

struct linux_timezone {
    int32_t tz_minuteswest;
    int32_t tz_dsttime;
};

struct linux_iovec {
    uint64_t iov_base;
    uint64_t iov_len;
};

struct linux_rlimit {
    uint64_t rlim_cur;
    uint64_t rlim_max;
};

/* The kernel's struct sigaction (not glibc's). */
struct linux_sigaction {
    uint64_t handler;
    uint64_t flags;
    uint64_t restorer;
    uint64_t mask;
};

struct linux_stack {
    uint64_t ss_sp;
    int32_t ss_flags;
    int32_t pad;
    uint64_t ss_size;
};

struct linux_stat {
    uint64_t st_dev;
    uint64_t st_ino;
    uint64_t st_nlink;
    uint32_t st_mode;
    uint32_t st_uid;
    uint32_t st_gid;
    uint32_t pad0;
    uint64_t st_rdev;
    int64_t st_size;
    int64_t st_blksize;
    int64_t st_blocks;
    struct linux_timespec st_atim;
    struct linux_timespec st_mtim;
    struct linux_timespec st_ctim;
    int64_t unused[3];
};

struct linux_statx_timestamp {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};

struct linux_statx {
    uint32_t stx_mask;
    uint32_t stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink;
    uint32_t stx_uid;
    uint32_t stx_gid;
    uint16_t stx_mode;
    uint16_t spare0;
    uint64_t stx_ino;
    uint64_t stx_size;
    uint64_t stx_blocks;
    uint64_t stx_attributes_mask;
    struct linux_statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor;
    uint32_t stx_dev_major, stx_dev_minor;
    uint64_t stx_mnt_id;
    uint32_t stx_dio_mem_align, stx_dio_offset_align;
    uint64_t spare3[12];
};

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
    char d_name[];
};

struct linux_utsname {
    char sysname[65];
    char nodename[65];
    char release[65];
    char version[65];
    char machine[65];
    char domainname[65];
};

struct linux_sysinfo {
    int64_t uptime;
    uint64_t loads[3];
    uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    uint16_t procs;
    uint16_t pad;
    uint64_t totalhigh, freehigh;
    uint32_t mem_unit;
    char _f[0];
};

struct linux_winsize {
    uint16_t ws_row, ws_col, ws_xpixel, ws_ypixel;
};

struct linux_termios {
    uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
    uint8_t c_line;
    uint8_t c_cc[19];
};

/* siginfo_t: 128 bytes; the union member used depends on the signal. */
struct linux_siginfo {
    int32_t si_signo;
    int32_t si_errno;
    int32_t si_code;
    int32_t pad0;
    union {
        uint8_t raw[112];
        struct { /* kill, tkill, sigqueue */
            int32_t pid;
            uint32_t uid;
            uint64_t value;
        } kill;
        struct { /* SIGCHLD */
            int32_t pid;
            uint32_t uid;
            int32_t status;
            int32_t pad;
            int64_t utime, stime;
        } chld;
        struct { /* SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP */
            uint64_t addr;
        } fault;
        struct { /* POSIX timers */
            int32_t tid;
            int32_t overrun;
            uint64_t value;
        } timer;
    };
};

/* struct sigcontext (x86-64), the uc_mcontext of a signal frame. */
struct linux_sigcontext {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2;
    uint64_t fpstate; /* app address of the xsave area, or 0 */
    uint64_t reserved1[8];
};

struct linux_ucontext {
    uint64_t uc_flags;
    uint64_t uc_link;
    struct linux_stack uc_stack;
    struct linux_sigcontext uc_mcontext;
    uint64_t uc_sigmask;
};

/* The frame a signal handler runs on: its return address is sa_restorer. */
struct linux_rt_sigframe {
    uint64_t pretcode;
    struct linux_ucontext uc;
    struct linux_siginfo info;
};

/* In the FXSAVE area's software-reserved bytes (offset 464) when the frame
 * carries the full xsave state. */
struct linux_fpx_sw_bytes {
    uint32_t magic1;
    uint32_t extended_size;
    uint64_t xfeatures;
    uint32_t xstate_size;
    uint32_t padding[7];
};
#define LINUX_FP_XSTATE_MAGIC1      0x46505853U
#define LINUX_FP_XSTATE_MAGIC2      0x46505845U
#define LINUX_FP_SW_BYTES_OFFSET    464
#define LINUX_UC_FP_XSTATE          0x1
#define LINUX_UC_SIGCONTEXT_SS      0x2
#define LINUX_UC_STRICT_RESTORE_SS  0x4

/* Auxiliary vector keys. */
#define LINUX_AT_NULL          0
#define LINUX_AT_PHDR          3
#define LINUX_AT_PHENT         4
#define LINUX_AT_PHNUM         5
#define LINUX_AT_PAGESZ        6
#define LINUX_AT_BASE          7
#define LINUX_AT_FLAGS         8
#define LINUX_AT_ENTRY         9
#define LINUX_AT_UID           11
#define LINUX_AT_EUID          12
#define LINUX_AT_GID           13
#define LINUX_AT_EGID          14
#define LINUX_AT_PLATFORM      15
#define LINUX_AT_HWCAP         16
#define LINUX_AT_CLKTCK        17
#define LINUX_AT_SECURE        23
#define LINUX_AT_RANDOM        25
#define LINUX_AT_HWCAP2        26
#define LINUX_AT_EXECFN        31
#define LINUX_AT_SYSINFO_EHDR  33
#define LINUX_AT_MINSIGSTKSZ   51

#endif
