/*
 * seccomp-exec PROG ARGV...: installs the classic-BPF program in the file
 * PROG (struct sock_filter records, as test_seccomp_profile.py writes
 * them) with no_new_privs, then execs ARGV. As an OCI runtime applies
 * linux.seccomp just before the container's process starts.
 */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static struct sock_filter prog[4096];
    if (argc < 3) {
        fprintf(stderr, "usage: seccomp-exec PROG ARGV...\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 2;
    }
    ssize_t n = read(fd, prog, sizeof(prog));
    close(fd);
    if (n <= 0 || n % sizeof(prog[0])) {
        fprintf(stderr, "%s: not a BPF program\n", argv[1]);
        return 2;
    }
    struct sock_fprog fp = {(unsigned short)(n / sizeof(prog[0])), prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) != 0) {
        perror("seccomp");
        return 2;
    }
    execv(argv[2], argv + 2);
    perror(argv[2]);
    return 127;
}
