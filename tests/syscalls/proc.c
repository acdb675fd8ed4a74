/* Probe: /proc (procfs) and a little of /sys, checked against the calling
 * process's own view (getpid, getcwd, getrlimit, sigprocmask...); prints
 * only formats and relations, never pids, sizes or times. */
#include <signal.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>

#include "tap.h"

static char g_cmdline[4096];
static size_t g_cmdline_len;
static char g_environ[65536];
static size_t g_environ_len;
static struct stat g_exe_st;

/* The whole file PATH, NUL-terminated, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    ssize_t n;
    while (done + 1 < size && (n = read(fd, buf + done, size - 1 - done)) > 0)
        done += (size_t)n;
    buf[done] = '\0';
    close(fd);
    return (ssize_t)done;
}

/* The value after "KEY:\t" in a status-style file, or NULL. */
static const char *field(const char *buf, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\n%s:", key);
    const char *p = strncmp(buf, pat + 1, strlen(pat + 1)) == 0 ? buf - 1 : strstr(buf, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == '\t' || *p == ' ')
        p++;
    size_t n = strcspn(p, "\n");
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static int has_entry(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, name) == 0)
            found = 1;
    closedir(d);
    return found;
}

static void test_self_links(void)
{
    char buf[512], want[512];
    ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    snprintf(want, sizeof(want), "%d", getpid());
    T_STREQ(buf, want, "/proc/self names the caller's pid");
    n = readlink("/proc/thread-self", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    snprintf(want, sizeof(want), "%d/task/%d", getpid(), (int)syscall(SYS_gettid));
    T_STREQ(buf, want, "/proc/thread-self is pid/task/tid");
    snprintf(want, sizeof(want), "%d", getpid());
    T_TRUE(has_entry("/proc", want), "/proc lists the caller's pid");
    T_TRUE(has_entry("/proc", "self"), "/proc lists self");
    snprintf(want, sizeof(want), "/proc/%d/task", getpid());
    snprintf(buf, sizeof(buf), "%d", getpid());
    T_TRUE(has_entry(want, buf), "task/ lists the main thread");

    n = readlink("/proc/self/cwd", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    T_STREQ(buf, getcwd(want, sizeof(want)), "cwd link is getcwd()");
    n = readlink("/proc/self/root", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    T_STREQ(buf, "/", "root link is /");
    struct stat st;
    T_OK(stat("/proc/self/exe", &st), "stat through the exe link");
    T_TRUE(st.st_ino == g_exe_st.st_ino && st.st_dev == g_exe_st.st_dev,
           "exe link reaches the running program");
    T_OK(stat("/proc/self/cwd/.", &st), "walk through the cwd link");
    n = readlink("/proc/self/ns/pid", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    unsigned id;
    T_TRUE(sscanf(buf, "pid:[%u]", &id) == 1, "ns/pid reads pid:[N]");
}

static void test_fds(void)
{
    char path[512], buf[512], want[512];
    int fd = open("f", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    T_OK(fd, "open a file");
    T_EQ(write(fd, "hello world", 11), 11, "write it");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    snprintf(want, sizeof(want), "%s/f", getcwd(path, sizeof(path)));
    T_STREQ(buf, want, "fd link names the file");
    snprintf(buf, sizeof(buf), "%d", fd);
    T_TRUE(has_entry("/proc/self/fd", buf), "fd/ lists it");
    T_TRUE(has_entry("/proc/self/fdinfo", buf), "fdinfo/ lists it");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int fd2 = open(path, O_RDONLY);
    struct stat a, b;
    T_TRUE(fd2 >= 0 && fstat(fd, &a) == 0 && fstat(fd2, &b) == 0 && a.st_ino == b.st_ino,
           "opening the fd link opens the same file");
    char c[6] = "";
    T_EQ(read(fd2, c, 5), 5, "the reopened file has its own offset");
    close(fd2);
    lseek(fd, 3, SEEK_SET);
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    char info[512], v[64];
    T_TRUE(slurp(path, info, sizeof(info)) > 0, "read fdinfo");
    T_STREQ(field(info, "pos", v, sizeof(v)), "3", "fdinfo pos follows lseek");
    T_STREQ(field(info, "flags", v, sizeof(v)), "02100002",
            "fdinfo flags: O_RDWR|O_LARGEFILE|O_CLOEXEC in octal");
    T_TRUE(field(info, "mnt_id", v, sizeof(v)) != NULL, "fdinfo has mnt_id");
    close(fd);
    T_ERRNO(readlink(path, buf, sizeof(buf)), ENOENT, "a closed fd has no fdinfo");
}

static void test_stat_status(void)
{
    char buf[8192], v[256], want[64];
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGUSR2, SIG_IGN);

    T_TRUE(slurp("/proc/self/status", buf, sizeof(buf)) > 0, "read status");
    T_STREQ(field(buf, "Name", v, sizeof(v)), "probe-proc", "status Name");
    T_STREQ(field(buf, "State", v, sizeof(v)), "R (running)", "status State of the reader");
    snprintf(want, sizeof(want), "%d", getpid());
    T_STREQ(field(buf, "Tgid", v, sizeof(v)), want, "status Tgid");
    T_STREQ(field(buf, "Pid", v, sizeof(v)), want, "status Pid");
    snprintf(want, sizeof(want), "%d", getppid());
    T_STREQ(field(buf, "PPid", v, sizeof(v)), want, "status PPid");
    snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", getuid(), geteuid(), geteuid(), geteuid());
    T_STREQ(field(buf, "Uid", v, sizeof(v)), want, "status Uid");
    T_STREQ(field(buf, "Threads", v, sizeof(v)), "1", "status Threads");
    T_TRUE(field(buf, "SigBlk", v, sizeof(v)) && strlen(v) == 16 &&
                   (strtoull(v, NULL, 16) & (1ULL << (SIGUSR1 - 1))),
           "status SigBlk has SIGUSR1");
    T_TRUE(field(buf, "SigIgn", v, sizeof(v)) && (strtoull(v, NULL, 16) & (1ULL << (SIGUSR2 - 1))),
           "status SigIgn has SIGUSR2");
    T_TRUE(field(buf, "SigCgt", v, sizeof(v)) && strlen(v) == 16, "status SigCgt");
    T_TRUE(field(buf, "NoNewPrivs", v, sizeof(v)) != NULL, "status NoNewPrivs");
    T_TRUE(field(buf, "Seccomp", v, sizeof(v)) != NULL, "status Seccomp");
    T_TRUE(field(buf, "VmRSS", v, sizeof(v)) && strstr(v, " kB"), "status VmRSS in kB");
    T_TRUE(field(buf, "VmSize", v, sizeof(v)) && strstr(v, " kB"), "status VmSize in kB");

    T_TRUE(slurp("/proc/self/stat", buf, sizeof(buf)) > 0, "read stat");
    int pid = 0, ppid = 0;
    char comm[64] = "", state = 0;
    T_EQ(sscanf(buf, "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid), 4, "stat parses");
    T_TRUE(pid == getpid() && ppid == getppid(), "stat pid and ppid");
    T_STREQ(comm, "probe-proc", "stat comm");
    T_EQ(state, 'R', "stat state");
    int fields = 0;
    for (char *p = strrchr(buf, ')'); p && *p; p++)
        if (*p == ' ')
            fields++;
    T_TRUE(fields >= 50, "stat has 52 fields");
    unsigned long long statm[7];
    T_TRUE(slurp("/proc/self/statm", buf, sizeof(buf)) > 0, "read statm");
    T_EQ(sscanf(buf, "%llu %llu %llu %llu %llu %llu %llu", &statm[0], &statm[1], &statm[2],
                &statm[3], &statm[4], &statm[5], &statm[6]),
         7, "statm has 7 numbers");
    T_TRUE(statm[1] <= statm[0] && statm[1] > 0, "statm resident <= size");
    T_TRUE(slurp("/proc/self/comm", buf, sizeof(buf)) > 0, "read comm");
    T_STREQ(buf, "probe-proc\n", "comm");
    ssize_t n = slurp("/proc/self/cmdline", buf, sizeof(buf));
    T_TRUE(n == (ssize_t)g_cmdline_len && memcmp(buf, g_cmdline, (size_t)n) == 0,
           "cmdline is argv, NUL-separated");
    static char env[sizeof(g_environ)];
    n = slurp("/proc/self/environ", env, sizeof(env));
    T_TRUE(n == (ssize_t)g_environ_len && memcmp(env, g_environ, (size_t)n) == 0,
           "environ is the initial environment");
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    signal(SIGUSR2, SIG_DFL);
}

static void test_pid_files(void)
{
    static char buf[65536];
    char want[256];
    T_TRUE(slurp("/proc/self/maps", buf, sizeof(buf)) > 0, "read maps");
    unsigned long lo, hi;
    char perms[8];
    T_EQ(sscanf(buf, "%lx-%lx %4s", &lo, &hi, perms), 3, "maps line format");
    T_TRUE(strstr(buf, "[stack]") != NULL, "maps shows [stack]");
    T_TRUE(slurp("/proc/self/limits", buf, sizeof(buf)) > 0, "read limits");
    T_TRUE(strncmp(buf, "Limit                     Soft Limit           Hard Limit           Units     \n",
                   strlen("Limit                     Soft Limit           Hard Limit           Units     \n")) == 0,
           "limits header");
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    snprintf(want, sizeof(want), "\nMax open files            %-20llu %-20llu files     \n",
             (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    T_TRUE(strstr(buf, want) != NULL, "limits: Max open files matches getrlimit");
    T_TRUE(strstr(buf, "\nMax realtime timeout      ") != NULL, "limits: 16 limits");
    T_TRUE(slurp("/proc/self/mounts", buf, sizeof(buf)) > 0, "read mounts");
    T_TRUE(strstr(buf, " /proc proc ") != NULL, "mounts has /proc");
    T_TRUE(slurp("/proc/mounts", want, sizeof(want)) > 0 && strncmp(buf, want, strlen(want)) == 0,
           "/proc/mounts is self/mounts");
    T_TRUE(slurp("/proc/self/mountinfo", buf, sizeof(buf)) > 0, "read mountinfo");
    int id, parent;
    unsigned ma, mi;
    T_EQ(sscanf(buf, "%d %d %u:%u", &id, &parent, &ma, &mi), 4, "mountinfo line format");
    T_TRUE(strstr(buf, " /proc ") && strstr(buf, " - proc "), "mountinfo has /proc");
    T_TRUE(slurp("/proc/self/cgroup", buf, sizeof(buf)) > 0, "read cgroup");
    T_TRUE(strncmp(buf, "0::/", 4) == 0 || strstr(buf, "\n0::/"), "cgroup has the v2 line");
    T_TRUE(slurp("/proc/self/oom_score_adj", buf, sizeof(buf)) > 0, "read oom_score_adj");
    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    T_EQ(write(fd, "123\n", 4), 4, "write oom_score_adj");
    T_ERRNO(write(fd, "2000", 4), EINVAL, "oom_score_adj out of range: EINVAL");
    close(fd);
    slurp("/proc/self/oom_score_adj", buf, sizeof(buf));
    T_STREQ(buf, "123\n", "oom_score_adj remembered");
    T_TRUE(slurp("/proc/self/loginuid", buf, sizeof(buf)) >= 0, "read loginuid");
    if (geteuid() == 0) {
        fd = open("/proc/self/status", O_WRONLY);
        T_ERRNO(write(fd, "x", 1), EINVAL, "status cannot be written (root may open it)");
        close(fd);
    } else {
        T_ERRNO(open("/proc/self/status", O_WRONLY), EACCES, "status cannot be opened for writing");
    }
    T_ERRNO(open("/proc/self/nonexistent", O_RDONLY), ENOENT, "no such entry: ENOENT");
}

static void test_system_files(void)
{
    static char buf[1 << 20];
    char v[256];
    T_TRUE(slurp("/proc/meminfo", buf, sizeof(buf)) > 0, "read meminfo");
    unsigned long long total = 0, freeb = 0, avail = 0;
    T_TRUE(field(buf, "MemTotal", v, sizeof(v)) && sscanf(v, "%llu kB", &total) == 1 && total,
           "meminfo MemTotal");
    T_TRUE(field(buf, "MemFree", v, sizeof(v)) && sscanf(v, "%llu kB", &freeb) == 1 &&
                   freeb <= total,
           "meminfo MemFree <= MemTotal");
    T_TRUE(field(buf, "MemAvailable", v, sizeof(v)) && sscanf(v, "%llu kB", &avail) == 1 &&
                   avail <= total,
           "meminfo MemAvailable <= MemTotal");
    T_TRUE(field(buf, "SwapTotal", v, sizeof(v)) && field(buf, "Cached", v, sizeof(v)),
           "meminfo SwapTotal, Cached");
    struct sysinfo si;
    sysinfo(&si);
    T_EQ(total, (unsigned long long)si.totalram * si.mem_unit / 1024, "MemTotal is sysinfo's");

    T_TRUE(slurp("/proc/cpuinfo", buf, sizeof(buf)) > 0, "read cpuinfo");
    int cpus = 0;
    for (char *p = buf; (p = strstr(p, "processor\t: ")); p++)
        cpus++;
    T_EQ(cpus, get_nprocs(), "cpuinfo: one entry per CPU");
    T_TRUE(strstr(buf, "\nvendor_id\t: ") && strstr(buf, "\nmodel name\t: ") &&
                   strstr(buf, "\nflags\t\t: "),
           "cpuinfo vendor, model name, flags");
    T_TRUE(slurp("/proc/stat", buf, sizeof(buf)) > 0, "read stat");
    T_TRUE(strncmp(buf, "cpu ", 4) == 0 && strstr(buf, "\ncpu0 "), "stat cpu lines");
    T_TRUE(strstr(buf, "\nbtime ") && strstr(buf, "\nprocesses ") &&
                   strstr(buf, "\nprocs_running "),
           "stat btime, processes, procs_running");
    double up, idle;
    T_TRUE(slurp("/proc/uptime", buf, sizeof(buf)) > 0 &&
                   sscanf(buf, "%lf %lf", &up, &idle) == 2 && up > 0,
           "uptime: two numbers");
    double l1, l5, l15;
    int run, all, last;
    T_TRUE(slurp("/proc/loadavg", buf, sizeof(buf)) > 0 &&
                   sscanf(buf, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &run, &all, &last) == 6 &&
                   run >= 1 && run <= all,
           "loadavg format");
    T_TRUE(slurp("/proc/version", buf, sizeof(buf)) > 0 && strncmp(buf, "Linux version ", 14) == 0,
           "version");
    T_TRUE(slurp("/proc/filesystems", buf, sizeof(buf)) > 0 && strstr(buf, "nodev\tproc\n"),
           "filesystems lists proc");
    T_TRUE(slurp("/proc/sys/kernel/ostype", buf, sizeof(buf)) > 0, "read ostype");
    T_STREQ(buf, "Linux\n", "ostype");
    T_TRUE(slurp("/proc/sys/kernel/osrelease", buf, sizeof(buf)) > 1, "osrelease");
    T_TRUE(slurp("/proc/sys/kernel/hostname", buf, sizeof(buf)) > 1, "hostname");
    T_TRUE(slurp("/proc/sys/kernel/pid_max", buf, sizeof(buf)) > 0 && atoi(buf) >= 32768,
           "pid_max");
    char a[64], b[64];
    slurp("/proc/sys/kernel/random/boot_id", a, sizeof(a));
    slurp("/proc/sys/kernel/random/boot_id", b, sizeof(b));
    T_TRUE(strlen(a) == 37 && strcmp(a, b) == 0, "boot_id: a stable uuid");
    slurp("/proc/sys/kernel/random/uuid", a, sizeof(a));
    slurp("/proc/sys/kernel/random/uuid", b, sizeof(b));
    T_TRUE(strlen(a) == 37 && a[14] == '4' && strcmp(a, b) != 0, "uuid: a fresh v4 uuid");
    T_TRUE(slurp("/proc/sys/vm/overcommit_memory", buf, sizeof(buf)) > 0, "overcommit_memory");
    T_TRUE(slurp("/proc/sys/vm/max_map_count", buf, sizeof(buf)) > 0 && atoi(buf) > 0,
           "max_map_count");
    T_TRUE(slurp("/proc/sys/fs/nr_open", buf, sizeof(buf)) > 0 && atoi(buf) >= 1024, "nr_open");
    T_TRUE(slurp("/proc/sys/fs/file-max", buf, sizeof(buf)) > 0, "file-max");
}

static void test_sys(void)
{
    char buf[256], want[64];
    int n = get_nprocs_conf();
    if (n == 1)
        snprintf(want, sizeof(want), "0\n");
    else
        snprintf(want, sizeof(want), "0-%d\n", n - 1);
    T_TRUE(slurp("/sys/devices/system/cpu/possible", buf, sizeof(buf)) > 0, "read cpu/possible");
    T_TRUE(slurp("/sys/devices/system/cpu/online", buf, sizeof(buf)) > 0, "read cpu/online");
    T_STREQ(buf, want, "cpu/online is every CPU");
    T_TRUE(has_entry("/sys/devices/system/cpu", "cpu0"), "cpu0/ exists");
    T_TRUE(slurp("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) > 0 &&
                   strchr(buf, '[') && strstr(buf, "never"),
           "transparent_hugepage/enabled format");
    /* A host's /sys is mounted rw (its files say EACCES), a container's ro
     * (EROFS), as the sandbox's is. */
    int sfd = open("/sys/devices/system/cpu/online", O_WRONLY);
    T_TRUE(sfd < 0 && (errno == EACCES || errno == EROFS), "sysfs is not writable");
}

int main(int argc, char **argv, char **envp)
{
    /* What the kernel should show as cmdline, environ and exe, before
     * tap_init changes directory. */
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        if (g_cmdline_len + n <= sizeof(g_cmdline)) {
            memcpy(g_cmdline + g_cmdline_len, argv[i], n);
            g_cmdline_len += n;
        }
    }
    for (char **e = envp; *e; e++) {
        size_t n = strlen(*e) + 1;
        if (g_environ_len + n <= sizeof(g_environ)) {
            memcpy(g_environ + g_environ_len, *e, n);
            g_environ_len += n;
        }
    }
    stat(argv[0], &g_exe_st);
    tap_init("proc");
    test_self_links();
    test_fds();
    test_stat_status();
    test_pid_files();
    test_system_files();
    test_sys();
    return tap_done();
}
