/*
 * Runs as a container's process under an OCI linux.seccomp profile
 * (test_seccomp_profile.py): one line per call, "label result", where the
 * result is "ok" or the errno name. Only calls the profile blocks, or that
 * change nothing outside this process, so it can also run natively under
 * the same filter.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *label, long r)
{
    if (r < 0)
        printf("%s %s\n", label, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    else
        printf("%s ok\n", label);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    show("getpid", syscall(SYS_getpid));
    show("unshare-mnt", syscall(SYS_unshare, CLONE_NEWNS));
    show("unshare-user", syscall(SYS_unshare, CLONE_NEWUSER));
    show("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -1, 0, 0, 0));
    show("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -1));
    show("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
    show("bpf", syscall(SYS_bpf, 0, NULL, 0));
    show("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    show("ptrace", syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
    show("personality-query", syscall(SYS_personality, 0xffffffffUL));
    show("personality-other", syscall(SYS_personality, 0x0400000UL));
    /* clone with a namespace flag: refused by the MASKED_EQ rule. */
    show("clone-newuser", syscall(SYS_clone, CLONE_NEWUSER | 17 /* SIGCHLD */, 0, 0, 0, 0));
    show("socket-inet", syscall(SYS_socket, 2, 1, 0));
    /* Argument comparisons on lseek(-1, OFFSET, WHENCE): a rule that does
     * not match lets the call through, which fails with EBADF. */
    static const uint64_t offs[] = {
            0, 5, 0xffffffffULL, 0x100000000ULL, 0x100000001ULL, 0x200000000ULL};
    for (unsigned w = 100; w <= 105; w++) {
        for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
            char label[64];
            snprintf(label, sizeof(label), "lseek-%u-%#llx", w, (unsigned long long)offs[i]);
            show(label, syscall(SYS_lseek, -1, offs[i], w));
        }
    }
    show("lseek-masked-0x5ab", syscall(SYS_lseek, -1, 0, 0x5ab));
    show("lseek-masked-0x4ab", syscall(SYS_lseek, -1, 0, 0x4ab));
    show("lseek-masked-hi", syscall(SYS_lseek, -1, 0, 0x100000500ULL));
    show("getppid", syscall(SYS_getppid));
    return 0;
}
