/* Probe: SysV shared memory (shmget, shmat, shmdt, shmctl). Runs in a fresh
 * IPC namespace natively (--host-state), so ids start at 0. */
#include <signal.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "tap.h"

#define SZ 10000 /* not a page multiple */

static int nattch(int id)
{
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) < 0)
        return -errno;
    return (int)ds.shm_nattch;
}

static int wait_child(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return st;
}

static void test_get(void)
{
    int id = T_OK(shmget(IPC_PRIVATE, SZ, IPC_CREAT | 0600), "shmget IPC_PRIVATE");
    T_EQ(id, 0, "the first id of a fresh namespace is 0");
    int id2 = T_OK(shmget(IPC_PRIVATE, SZ, 0600), "a second private segment");
    T_EQ(id2, 1, "ids are handed out in turn");
    T_OK(shmctl(id2, IPC_RMID, NULL), "remove it");
    int k = T_OK(shmget(0x1234, 4096, IPC_CREAT | 0640), "shmget with a key");
    T_EQ(k, 2, "indexes are cyclic: 2, not the freed 1");
    T_EQ(shmget(0x1234, 0, 0), k, "lookup by key");
    T_EQ(shmget(0x1234, 4096, IPC_CREAT), k, "IPC_CREAT on an existing key finds it");
    T_ERRNO(shmget(0x1234, 4096, IPC_CREAT | IPC_EXCL), EEXIST, "IPC_EXCL: EEXIST");
    T_ERRNO(shmget(0x1234, 8192, 0), EINVAL, "bigger than the segment: EINVAL");
    T_ERRNO(shmget(0x4321, 4096, 0), ENOENT, "missing key without IPC_CREAT: ENOENT");
    T_ERRNO(shmget(IPC_PRIVATE, 0, 0600), EINVAL, "size 0: EINVAL");
    struct shmid_ds ds;
    T_OK(shmctl(k, IPC_STAT, &ds), "IPC_STAT");
    T_EQ(ds.shm_perm.__key, 0x1234, "key");
    T_EQ(ds.shm_perm.mode, 0640, "mode");
    T_EQ(ds.shm_segsz, 4096, "size");
    T_EQ(ds.shm_cpid, getpid(), "creator pid");
    T_EQ(ds.shm_lpid, 0, "no attach yet");
    T_EQ(ds.shm_perm.uid, geteuid(), "owner uid");
    T_EQ(ds.shm_perm.cuid, geteuid(), "creator uid");
    ds.shm_perm.mode = 0600;
    T_OK(shmctl(k, IPC_SET, &ds), "IPC_SET");
    T_OK(shmctl(k, IPC_STAT, &ds), "IPC_STAT again");
    T_EQ(ds.shm_perm.mode, 0600, "IPC_SET changed the mode");
    T_ERRNO(shmctl(k, 99, &ds), EINVAL, "unknown command: EINVAL");
    T_ERRNO(shmctl(12345, IPC_STAT, &ds), EINVAL, "unknown id: EINVAL");
    T_ERRNO(shmctl(k, IPC_STAT, BAD_PTR), EFAULT, "IPC_STAT to a bad pointer: EFAULT");
    struct shminfo info;
    T_EQ(shmctl(0, IPC_INFO, (struct shmid_ds *)&info), 2, "IPC_INFO returns the highest index");
    T_EQ(info.shmmni, 4096, "shmmni");
    T_EQ(info.shmmin, 1, "shmmin");
    struct shm_info si;
    T_EQ(shmctl(0, SHM_INFO, (struct shmid_ds *)&si), 2, "SHM_INFO returns the highest index");
    T_EQ(si.used_ids, 2, "two segments in use");
    T_EQ(si.shm_tot, 3 + 1, "pages of all segments");
    T_EQ(shmctl(2, SHM_STAT, &ds), k, "SHM_STAT by index returns the id");
    T_ERRNO(shmctl(1, SHM_STAT, &ds), EINVAL, "SHM_STAT of a free index: EINVAL");
    T_OK(shmctl(k, IPC_RMID, NULL), "IPC_RMID of an unattached segment");
    T_ERRNO(shmctl(k, IPC_STAT, &ds), EINVAL, "gone at once");
    T_ERRNO(shmget(0x1234, 0, 0), ENOENT, "its key is free");
    T_OK(shmctl(id, IPC_RMID, NULL), "remove the first");
}

static void test_attach(void)
{
    int id = T_OK(shmget(IPC_PRIVATE, SZ, 0600), "shmget");
    char *p = shmat(id, NULL, 0);
    T_TRUE(p != (void *)-1, "shmat");
    T_EQ(p[0], 0, "fresh memory is zero");
    strcpy(p, "parent");
    T_EQ(nattch(id), 1, "one attach");
    struct shmid_ds ds;
    shmctl(id, IPC_STAT, &ds);
    T_EQ(ds.shm_lpid, getpid(), "lpid is the attacher");
    pid_t c = fork();
    if (c == 0) {
        /* The child inherits the attach and shares the pages. */
        int ok = strcmp(p, "parent") == 0 && nattch(id) == 2;
        strcpy(p + 100, "child");
        _exit(ok ? 0 : 1);
    }
    T_EQ(wait_child(c), 0, "the child saw the parent's data and two attaches");
    T_STREQ(p + 100, "child", "the parent sees the child's write");
    T_EQ(nattch(id), 1, "the child's exit detached it");
    char *q = shmat(id, NULL, 0);
    T_TRUE(q != (void *)-1 && q != p, "a second attach at another address");
    T_STREQ(q, "parent", "same memory");
    T_EQ(nattch(id), 2, "two attaches");
    T_OK(shmdt(q), "shmdt the second");
    T_EQ(nattch(id), 1, "one left");
    T_ERRNO(shmdt(q), EINVAL, "shmdt of a detached address: EINVAL");
    T_ERRNO(shmdt(p + 1), EINVAL, "shmdt of an unaligned address: EINVAL");
    T_ERRNO(shmdt(p + 4096), EINVAL, "shmdt inside the segment: EINVAL");

    /* IPC_RMID while attached: the segment lives until the last detach. */
    T_OK(shmctl(id, IPC_RMID, NULL), "IPC_RMID while attached");
    T_OK(shmctl(id, IPC_STAT, &ds), "still there");
    T_EQ(ds.shm_perm.__key, IPC_PRIVATE, "key reset to IPC_PRIVATE");
    T_EQ(ds.shm_perm.mode & SHM_DEST, SHM_DEST, "marked SHM_DEST");
    q = shmat(id, NULL, 0);
    T_TRUE(q != (void *)-1, "Linux still lets it be attached");
    T_OK(shmdt(q), "detach that");
    T_STREQ(p, "parent", "the memory is intact");
    T_OK(shmdt(p), "the last detach");
    T_ERRNO(shmctl(id, IPC_STAT, &ds), EINVAL, "then it is gone");
    T_TRUE(shmat(id, NULL, 0) == (void *)-1 && errno == EINVAL, "shmat of a gone id: EINVAL");
}

/* exec(2) detaches: a child attached through fork execs this probe again
 * (which just waits), and the segment loses that attach. */
static void test_exec(void)
{
    int id = T_OK(shmget(IPC_PRIVATE, 4096, 0600), "shmget");
    char *p = shmat(id, NULL, 0);
    T_TRUE(p != (void *)-1, "shmat");
    int pfd[2];
    T_OK(pipe(pfd), "pipe");
    pid_t c = fork();
    if (c == 0) {
        char fdarg[16];
        snprintf(fdarg, sizeof(fdarg), "%d", pfd[0]);
        close(pfd[1]);
        char *argv[] = {(char *)"probe", (char *)"--wait-fd", fdarg, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(pfd[0]);
    int n = -1;
    for (int i = 0; i < 500 && (n = nattch(id)) != 1; i++)
        usleep(10000);
    T_EQ(n, 1, "after the child's exec only the parent's attach is left");
    close(pfd[1]); /* the child exits */
    T_EQ(wait_child(c), 0, "the exec'd child exited");
    T_OK(shmdt(p), "shmdt");
    T_OK(shmctl(id, IPC_RMID, NULL), "remove");
}

static void test_flags(void)
{
    int id = T_OK(shmget(IPC_PRIVATE, 8192, 0600), "shmget");
    char *p = shmat(id, NULL, SHM_RDONLY);
    T_TRUE(p != (void *)-1, "shmat SHM_RDONLY");
    T_ERRNO(mprotect(p, 4096, PROT_READ | PROT_WRITE), EACCES,
            "mprotect writable of a read-only attach: EACCES");
    pid_t c = fork();
    if (c == 0) {
        p[0] = 1;
        _exit(0);
    }
    int st = wait_child(c);
    T_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "writing a read-only attach: SIGSEGV");
    T_OK(shmdt(p), "shmdt");

    /* A fixed address: take a free range, then attach there. */
    char *base = mmap(NULL, 4 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_TRUE(base != MAP_FAILED, "reserve a range");
    munmap(base, 4 * 4096);
    T_TRUE(shmat(id, base + 1, 0) == (void *)-1 && errno == EINVAL,
           "an unaligned address without SHM_RND: EINVAL");
    p = shmat(id, base + 1, SHM_RND);
    T_TRUE(p == base, "SHM_RND rounds down");
    T_TRUE(shmat(id, base, 0) == (void *)-1 && errno == EINVAL,
           "over an existing mapping without SHM_REMAP: EINVAL");
    T_TRUE(shmat(id, NULL, SHM_REMAP) == (void *)-1 && errno == EINVAL,
           "SHM_REMAP without an address: EINVAL");
    p[0] = 'x';
    char *q = shmat(id, base + 4096, SHM_REMAP);
    T_TRUE(q == base + 4096, "SHM_REMAP replaces the mapping");
    T_EQ(q[0], 'x', "the remapped attach shows the segment");
    T_EQ(nattch(id), 2, "two attaches");
    T_OK(shmdt(q), "detach the second");
    T_EQ(nattch(id), 1, "the first attach lost its second page to the remap");
    T_OK(shmdt(p), "detach the first");
    T_EQ(nattch(id), 0, "none");
    T_OK(shmctl(id, IPC_RMID, NULL), "remove");
}

static void test_perms(void)
{
    int id = T_OK(shmget(0x777, 4096, IPC_CREAT | 0600), "a root-only segment");
    int pub = T_OK(shmget(0x778, 4096, IPC_CREAT | 0644), "a world-readable segment");
    pid_t c = fork();
    if (c == 0) {
        int bad = 0;
        if (setgid(1000) || setuid(1000))
            _exit(2);
        if (shmget(0x777, 0, 0400) != -1 || errno != EACCES)
            bad |= 1;
        if (shmat(id, NULL, SHM_RDONLY) != (void *)-1 || errno != EACCES)
            bad |= 2;
        if (shmget(0x778, 0, 0444) != pub)
            bad |= 4;
        if (shmget(0x778, 0, 0666) != -1 || errno != EACCES)
            bad |= 8;
        if (shmat(pub, NULL, 0) != (void *)-1 || errno != EACCES)
            bad |= 16;
        if (shmat(pub, NULL, SHM_RDONLY) == (void *)-1)
            bad |= 32;
        if (shmctl(pub, IPC_RMID, NULL) != -1 || errno != EPERM)
            bad |= 64;
        _exit(bad);
    }
    int st = wait_child(c);
    T_TRUE(WIFEXITED(st), "the unprivileged child exited");
    T_EQ(WEXITSTATUS(st), 0, "permissions were checked against its uid (bitmask of failures)");
    T_OK(shmctl(id, IPC_RMID, NULL), "remove");
    T_OK(shmctl(pub, IPC_RMID, NULL), "remove");
}

/* The first line of FILE into BUF. */
static void first_line(const char *file, char *buf, size_t size)
{
    buf[0] = 0;
    FILE *f = fopen(file, "r");
    if (!f)
        return;
    if (!fgets(buf, (int)size, f))
        buf[0] = 0;
    fclose(f);
}

static void test_proc(void)
{
    char line[512];
    first_line("/proc/sys/kernel/shmmni", line, sizeof(line));
    T_STREQ(line, "4096\n", "/proc/sys/kernel/shmmni");
    first_line("/proc/sys/kernel/shmmax", line, sizeof(line));
    T_STREQ(line, "18446744073692774399\n", "/proc/sys/kernel/shmmax");
    first_line("/proc/sys/kernel/shmall", line, sizeof(line));
    T_STREQ(line, "18446744073692774399\n", "/proc/sys/kernel/shmall");
    first_line("/proc/sys/kernel/sem", line, sizeof(line));
    T_STREQ(line, "32000\t1024000000\t500\t32000\n", "/proc/sys/kernel/sem");
    first_line("/proc/sys/kernel/msgmax", line, sizeof(line));
    T_STREQ(line, "8192\n", "/proc/sys/kernel/msgmax");
    first_line("/proc/sys/kernel/msgmnb", line, sizeof(line));
    T_STREQ(line, "16384\n", "/proc/sys/kernel/msgmnb");
    first_line("/proc/sys/kernel/msgmni", line, sizeof(line));
    T_STREQ(line, "32000\n", "/proc/sys/kernel/msgmni");

    int fd = T_OK(open("/proc/sys/kernel/shmmni", O_WRONLY), "open shmmni for writing (root)");
    T_EQ(write(fd, "2\n", 2), 2, "set shmmni to 2");
    close(fd);
    int a = T_OK(shmget(IPC_PRIVATE, 4096, 0600), "one segment");
    int b = T_OK(shmget(0x42, 4096, IPC_CREAT | 0600), "two segments");
    T_ERRNO(shmget(IPC_PRIVATE, 4096, 0600), ENOSPC, "a third past shmmni: ENOSPC");
    fd = open("/proc/sys/kernel/shmmni", O_WRONLY);
    T_EQ(write(fd, "4096", 4), 4, "restore shmmni");
    close(fd);

    FILE *f = fopen("/proc/sysvipc/shm", "r");
    T_TRUE(f != NULL, "open /proc/sysvipc/shm");
    int rows = 0, found = 0;
    if (f) {
        if (fgets(line, sizeof(line), f))
            T_TRUE(strncmp(line, "       key      shmid perms                  size  cpid  lpid nattch",
                           67) == 0, "the header");
        while (fgets(line, sizeof(line), f)) {
            int key, id, mode;
            unsigned long size;
            rows++;
            if (sscanf(line, "%d %d %o %lu", &key, &id, &mode, &size) == 4 && key == 0x42 &&
                id == b && mode == 0600 && size == 4096)
                found = 1;
        }
        fclose(f);
    }
    T_EQ(rows, 2, "one line per segment");
    T_TRUE(found, "the keyed segment's line");
    first_line("/proc/sysvipc/sem", line, sizeof(line));
    T_TRUE(strncmp(line, "       key      semid perms      nsems   uid   gid  cuid  cgid", 62) == 0,
           "/proc/sysvipc/sem header");
    first_line("/proc/sysvipc/msg", line, sizeof(line));
    T_TRUE(strncmp(line, "       key      msqid perms      cbytes       qnum lspid lrpid", 62) == 0,
           "/proc/sysvipc/msg header");
    shmctl(a, IPC_RMID, NULL);
    shmctl(b, IPC_RMID, NULL);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--wait-fd") == 0) {
        char b;
        while (read(atoi(argv[2]), &b, 1) > 0)
            ;
        return 0;
    }
    tap_init("sysv_shm");
    test_get();
    test_attach();
    test_exec();
    test_flags();
    test_perms();
    test_proc();
    return tap_done();
}
