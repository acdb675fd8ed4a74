/*
 * Escape attempts through other syscall ABIs and at moat's own processes,
 * run inside `moat do` on each platform (test_abi_escape.py). One line per
 * attempt, "NAME: RESULT", where RESULT is "ret N", an errno name, or
 * "signal N" when the attempt (run in a child) died of a signal.
 *
 *   abi-escape HOST_PID    HOST_PID: a process outside the sandbox
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

static void show(const char *name, long r)
{
    if (r == -1)
        printf("%s: %s\n", name, ename(errno));
    else
        printf("%s: ret %ld\n", name, r);
}

/* Runs FN in a child: its result line, or the signal that ended it. */
static void in_child(const char *name, long (*fn)(void))
{
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        errno = 0;
        long r = fn();
        if (r < 0 && r > -4096) /* a raw syscall result */
            printf("%s: %s\n", name, ename((int)-r));
        else
            printf("%s: ret %ld\n", name, r);
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    waitpid(p, &st, 0);
    if (WIFSIGNALED(st))
        printf("%s: signal %d\n", name, WTERMSIG(st));
}

/* int 0x80: i386 getpid (20), i386 mkdir (39; x86-64's getpid), and an
 * i386 number out of x86-64's range. */
static long int80(long nr, long a, long b)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b) : "memory");
    return r;
}
static long int80_getpid(void)
{
    return int80(20, 0, 0);
}
static long int80_mkdir(void)
{
    return int80(39, (long)(uintptr_t) "/int80-made-this", 0755);
}
static long int80_big(void)
{
    return int80(1000, 0, 0);
}
static long int80_kill(void)
{
    /* i386 kill(-1, SIGKILL) */
    return int80(37, -1, SIGKILL);
}

/* libc's syscall() result as a raw one (-errno). */
static long raw(long r)
{
    return r == -1 ? -errno : r;
}
static long x32_getpid(void)
{
    return raw(syscall(0x40000000L | 39));
}
static long x32_compat_ioctl(void)
{
    return raw(syscall(0x40000000L | 514, 0, 0, 0)); /* x32 ioctl */
}
static long big_nr(void)
{
    return raw(syscall(100000));
}
static long negative_nr(void)
{
    return raw(syscall(-1L));
}

static long vsyscall_gettimeofday(void)
{
    long (*vgtod)(void *, void *) = (long (*)(void *, void *))0xffffffffff600000UL;
    char tv[16];
    return vgtod(tv, NULL);
}
static long vsyscall_time(void)
{
    long (*vtime)(long *) = (long (*)(long *))0xffffffffff600400UL;
    return vtime(NULL);
}

static long do_sysenter(void)
{
    long r;
    __asm__ volatile("sysenter" : "=a"(r) : "a"(39L) : "memory", "rcx", "r11");
    return r;
}

static long int81(void)
{
    __asm__ volatile("int $0x81");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    pid_t host_pid = argc > 1 ? atoi(argv[1]) : 999999;

    in_child("int80 getpid", int80_getpid);
    in_child("int80 mkdir", int80_mkdir);
    in_child("int80 nr1000", int80_big);
    in_child("int80 kill -1", int80_kill);
    printf("int80 mkdir made a dir: %s\n", access("/int80-made-this", F_OK) == 0 ? "yes" : "no");
    in_child("x32 getpid", x32_getpid);
    in_child("x32 ioctl", x32_compat_ioctl);
    in_child("syscall 100000", big_nr);
    in_child("syscall -1", negative_nr);
    in_child("vsyscall gettimeofday", vsyscall_gettimeofday);
    in_child("vsyscall time", vsyscall_time);
    in_child("sysenter", do_sysenter);
    in_child("int 0x81", int81);

    /* Processes outside the sandbox: by pid, by group, and everybody. */
    show("kill host pid", syscall(SYS_kill, host_pid, 0));
    show("kill host pid SIGKILL", syscall(SYS_kill, host_pid, SIGKILL));
    show("kill host pgrp", syscall(SYS_kill, -host_pid, SIGKILL));
    show("tgkill host pid", syscall(SYS_tgkill, host_pid, host_pid, SIGKILL));
    show("pidfd_open host pid", syscall(SYS_pidfd_open, host_pid, 0));
    show("ptrace attach host pid", syscall(SYS_ptrace, PTRACE_ATTACH, host_pid, 0, 0));
    char buf[64];
    struct iovec local = {buf, sizeof(buf)}, remote = {(void *)0x400000, sizeof(buf)};
    show("process_vm_readv host pid",
         syscall(SYS_process_vm_readv, host_pid, &local, 1, &remote, 1, 0));
    snprintf(buf, sizeof(buf), "/proc/%d/mem", host_pid);
    show("open host /proc/PID/mem", open(buf, O_RDONLY));
    snprintf(buf, sizeof(buf), "/proc/%d/root", host_pid);
    show("open host /proc/PID/root", open(buf, O_RDONLY | O_DIRECTORY));

    /* Every pid the sandbox can name is one of its own: ptrace, /proc/PID/mem
     * and process_vm_readv reach nothing else (moat's kernel process and its
     * stubs have no pid in here). */
    int named = 0, outside = 0;
    for (pid_t p = 2; p < 32768; p++) {
        if (syscall(SYS_kill, p, 0) == 0 || errno == EPERM) {
            named++;
            char path[64];
            snprintf(path, sizeof(path), "/proc/%d/comm", p);
            if (access(path, F_OK) != 0)
                outside++;
        }
    }
    printf("pids named besides 1: %d, without a /proc entry: %d\n", named, outside);
    /* Pid 1 is this process; kill(-1) reaches only the sandbox. */
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    long pr = syscall(SYS_ptrace, PTRACE_ATTACH, child, 0, 0);
    show("ptrace attach own child", pr);
    int st;
    if (pr == 0) {
        waitpid(child, &st, __WALL);
        syscall(SYS_ptrace, PTRACE_DETACH, child, 0, 0);
    }
    snprintf(buf, sizeof(buf), "/proc/%d/mem", child);
    int mfd = open(buf, O_RDONLY);
    char word[8];
    printf("own child /proc/PID/mem: %s\n", mfd >= 0 && pread(mfd, word, 8, 0xffffffff81000000L) < 0
                                                    ? "kernel half unreadable"
                                            : mfd >= 0 ? "kernel half READ"
                                                       : ename(errno));
    show("kill -1 SIGKILL", syscall(SYS_kill, -1, SIGKILL));
    waitpid(child, &st, 0);
    printf("own child after kill -1: %s\n", WIFSIGNALED(st) ? "killed" : "alive");

    /* Host facilities moat does not offer. */
    show("keyctl", syscall(SYS_keyctl, 0, -1, 0, 0, 0));
    show("add_key", syscall(SYS_add_key, "user", "k", "v", 1, -3));
    show("request_key", syscall(SYS_request_key, "user", "k", NULL, 0));
    show("bpf", syscall(SYS_bpf, 0, buf, 48));
    show("perf_event_open", syscall(SYS_perf_event_open, buf, 0, -1, -1, 0));
    show("userfaultfd", syscall(SYS_userfaultfd, 0));
    show("io_uring_setup", syscall(SYS_io_uring_setup, 8, buf));
    show("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
    show("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
    show("init_module", syscall(SYS_init_module, buf, 16, ""));
    show("finit_module", syscall(SYS_finit_module, 0, "", 0));
    show("delete_module", syscall(SYS_delete_module, "ext4", 0));
    show("iopl", syscall(SYS_iopl, 3));
    show("ioperm", syscall(SYS_ioperm, 0x60, 1, 1));
    show("swapon", syscall(SYS_swapon, "/dev/null", 0));
    show("acct", syscall(SYS_acct, "/tmp/acct"));
    show("lookup_dcookie", syscall(SYS_lookup_dcookie, 0, buf, 16));

    /* Devices: a disk node made inside, /dev/mem, /dev/kmem, /dev/port. */
    long mk = syscall(SYS_mknod, "/tmp/sda-escape", S_IFBLK | 0600, makedev(8, 0));
    show("mknod block 8:0", mk);
    char sector[512];
    int dfd = open("/tmp/sda-escape", O_RDONLY);
    show("open mknod'ed disk", dfd);
    if (dfd >= 0)
        show("read mknod'ed disk", read(dfd, sector, sizeof(sector)));
    show("open /dev/mem", open("/dev/mem", O_RDONLY));
    show("open /dev/kmem", open("/dev/kmem", O_RDONLY));
    show("open /dev/port", open("/dev/port", O_RDONLY));

    /* A host abstract unix socket (argv[2]): the sandbox's unix sockets
     * are moat's own, the host's abstract namespace is not reachable. */
    if (argc > 2) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t n = strlen(argv[2]);
        memcpy(sa.sun_path + 1, argv[2], n);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        show("connect host abstract socket",
             connect(s, (struct sockaddr *)&sa,
                     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)));
        close(s);
    }

    /* chroot and mount tricks: a new procfs shows only the sandbox. */
    mkdir("/tmp/p", 0755);
    show("mount proc", syscall(SYS_mount, "proc", "/tmp/p", "proc", 0, NULL));
    int others = 0;
    DIR *d = opendir("/tmp/p");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (atoi(e->d_name) > 1)
            others++;
    if (d)
        closedir(d);
    printf("pids in a new procfs besides 1: %d\n", others);
    mkdir("/tmp/jail", 0755);
    show("chroot jail", syscall(SYS_chroot, "/tmp/jail"));
    for (int i = 0; i < 8; i++)
        chdir("..");
    show("chroot . after dotdots", syscall(SYS_chroot, "."));
    show("open secret-like host path after chroot escape",
         open(argc > 3 ? argv[3] : "/nonexistent", O_RDONLY));
    printf("done\n");
    return 0;
}
