/*
 * The control channel's server in the kernel process (protocol: ctl.h).
 *
 * Host calls: accept4, recvmsg, sendmsg, poll, eventfd2, read, write,
 * close, clock_nanosleep, clone3 (threads) -- all on the kernel's seccomp
 * allow-list. FIXME(issue 9): they belong in src/kernel/host/.
 */
#include "kernel/task/ctl.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kernel/mm/memfile.h"
#include "kernel/mm/mm.h"
#include "kernel/signal/signal.h"
#include "kernel/task/task_internal.h"
#include "kernel/vfs/vfs.h"
#include "lib/list.h"
#include "lib/log.h"

static const struct sandbox_init *g_defaults;

struct conn {
    int fd;
};

/* send(2)/recv(2) through sendmsg/recvmsg: the kernel's seccomp allow-list
 * (host/seccomp_allow.c) has those, not sendto/recvfrom. */
static ssize_t msg_send(int fd, const void *buf, size_t len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    return sendmsg(fd, &mh, MSG_NOSIGNAL);
}

static ssize_t msg_recv(int fd, void *buf, size_t len)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    return recvmsg(fd, &mh, 0);
}

static void reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(int fd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    if (msg_send(fd, buf, (size_t)n) < 0)
        log_debug("ctl: reply: %s", strerror(errno));
}

/* Sends TEXT (LEN bytes) as one message. */
static void reply_buf(int fd, const char *text, size_t len)
{
    if (msg_send(fd, text, len) < 0)
        log_debug("ctl: reply: %s", strerror(errno));
}

/* Takes the next NUL-terminated field of [*p, end); NULL when none. */
static char *next_field(char **p, char *end)
{
    if (*p >= end)
        return NULL;
    char *s = *p;
    char *z = memchr(s, '\0', (size_t)(end - s));
    if (!z)
        return NULL;
    *p = z + 1;
    return s;
}

static char **take_strv(char **p, char *end)
{
    char *n = next_field(p, end);
    if (!n)
        return NULL;
    long cnt = strtol(n, NULL, 10);
    if (cnt < 0 || cnt > 65536)
        return NULL;
    char **v = calloc((size_t)cnt + 1, sizeof(char *));
    if (!v)
        return NULL;
    for (long i = 0; i < cnt; i++)
        if (!(v[i] = next_field(p, end))) {
            free(v);
            return NULL;
        }
    return v;
}

/* ---- signals ---- */

static int signal_one(int pid, int sig)
{
    pthread_mutex_lock(&g_tasks_lock);
    struct thread_group *tg = task_lookup_tg_locked(pid);
    int r = tg && !tg->zombie ? signal_send_tg_locked(tg, sig, NULL, true) : -ESRCH;
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}

/* Init last: when it dies the sandbox ends, and the others should have
 * seen their signal first. */
static void signal_each(struct thread_group *tg, void *arg)
{
    if (!tg->zombie && tg->pid != 1)
        signal_send_tg_locked(tg, *(int *)arg, NULL, true);
}

static void count_live(struct thread_group *tg, void *arg)
{
    if (!tg->zombie)
        ++*(int *)arg;
}

static int live_count(void)
{
    int n = 0;
    task_for_each_tg(count_live, &n);
    return n;
}

/* ---- exec ---- */

struct exec_wait {
    struct waiter w;
    int efd;
    struct thread_group *tg;
    struct list_head node; /* in g_execs while the end is unreported */
};

/* The exec'd processes whose connection has not reported their end yet:
 * kill --all waits for those reports before it ends init (and with it this
 * process). */
static pthread_mutex_t g_execs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_execs = LIST_HEAD_INIT(g_execs);

static int unreported_exits(void)
{
    int n = 0;
    pthread_mutex_lock(&g_execs_lock);
    struct exec_wait *ew;
    list_for_each_entry(ew, &g_execs, node)
    {
        pthread_mutex_lock(&g_tasks_lock);
        n += ew->tg->zombie;
        pthread_mutex_unlock(&g_tasks_lock);
    }
    pthread_mutex_unlock(&g_execs_lock);
    return n;
}

static void exit_wake(struct waiter *w, unsigned key)
{
    struct exec_wait *ew = (struct exec_wait *)w; /* W is its first member */
    uint64_t one = 1;
    if (write(ew->efd, &one, sizeof(one)) < 0) {
        /* the counter is already non-zero */
    }
}

static void do_exec(int fd, char *p, char *end, int *fds, int nfds)
{
    struct sandbox_init init;
    memset(&init, 0, sizeof(init));
    for (int i = 0; i < 3; i++)
        init.host_stdio[i] = i < nfds ? fds[i] : -1;
    char *uid = next_field(&p, end), *gid = next_field(&p, end);
    char *cwd = next_field(&p, end);
    char **argv = take_strv(&p, end);
    char **envp = argv ? take_strv(&p, end) : NULL;
    struct exec_wait ew = {.efd = -1};
    struct thread_group *tg = NULL;
    int r = -EINVAL;
    if (!uid || !gid || !cwd || !argv || !envp || !argv[0]) {
        reply(fd, "F %d malformed exec request\n", EINVAL);
        goto out;
    }
    uint32_t u = (uint32_t)strtoul(uid, NULL, 10), g = (uint32_t)strtoul(gid, NULL, 10);
    init.argv = argv;
    init.envp = envp;
    init.cwd = cwd;
    init.cred = (struct cred){u, u, u, u, g, g, g, g};
    /* The container's capability sets and supplementary groups, as runc
     * gives an exec'd process those of the container's process. */
    if (g_defaults) {
        const struct cred *d = &g_defaults->cred;
        init.cred.cap_effective = d->cap_effective;
        init.cred.cap_permitted = d->cap_permitted;
        init.cred.cap_inheritable = d->cap_inheritable;
        init.cred.cap_bset = d->cap_bset;
        init.cred.cap_ambient = d->cap_ambient;
        init.cred.groups = d->groups;
    }
    init.strace = g_defaults ? g_defaults->strace : false;
    init.nice = g_defaults ? g_defaults->nice : 0;
    /* As runc: exec'd processes get the container's seccomp profile. */
    if (g_defaults) {
        init.seccomp_prog = g_defaults->seccomp_prog;
        init.seccomp_len = g_defaults->seccomp_len;
        init.seccomp_flags = g_defaults->seccomp_flags;
    }
    /* The root (and mounts) of the first process; cwd comes from CWD. A
     * request may arrive before task_run_init has made pid 1. */
    task_wait_init_started();
    struct thread_group *first = task_lookup_tg(1);
    struct fs_struct *fs = first ? tg_get_fs(first) : NULL;
    if (first)
        tg_put(first);
    if (!fs) {
        reply(fd, "F %d the container's first process has exited\n", ESRCH);
        goto out;
    }
    r = fs_struct_copy(fs, &init.fs);
    fs_struct_put(fs);
    if (r < 0) {
        reply(fd, "F %d %s\n", -r, strerror(-r));
        goto out;
    }
    ew.efd = eventfd(0, EFD_CLOEXEC);
    if (ew.efd < 0) {
        r = -errno;
        fs_struct_put(init.fs);
        reply(fd, "F %d eventfd: %s\n", -r, strerror(-r));
        goto out;
    }
    r = task_spawn(&init, &tg);
    if (r < 0) {
        fs_struct_put(init.fs);
        reply(fd, "F %d cannot start the process: %s\n", -r, strerror(-r));
        goto out;
    }
    /* The task owns the stdio fds and fs now. */
    for (int i = 0; i < 3; i++)
        fds[i] = -1;
    waitq_add_func(&tg->exit_wq, &ew.w, exit_wake);
    ew.tg = tg;
    pthread_mutex_lock(&g_execs_lock);
    list_add(&ew.node, &g_execs);
    pthread_mutex_unlock(&g_execs_lock);
    reply(fd, "P %d\n", tg->pid);
    bool killed = false;
    for (;;) {
        pthread_mutex_lock(&g_tasks_lock);
        bool done = tg->zombie;
        int status = tg->exit_status;
        pthread_mutex_unlock(&g_tasks_lock);
        if (done) {
            if (!killed)
                reply(fd, "X %d\n", status);
            break;
        }
        struct pollfd pf[2] = {{.fd = killed ? -1 : fd, .events = POLLIN},
                               {.fd = ew.efd, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            usleep(10000); /* never leave before the process ends (INIT) */
        if (pf[1].revents & POLLIN) {
            uint64_t v;
            if (read(ew.efd, &v, sizeof(v)) < 0) {
                /* reset races are harmless: the state is re-read */
            }
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char msg[64];
            ssize_t n = msg_recv(fd, msg, sizeof(msg) - 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                /* The CLI that stood for the process is gone: the process
                 * goes too. Wait for its end all the same: its task may
                 * still read INIT (on this stack) while it starts. */
                if (!killed)
                    signal_one(tg->pid, SIGKILL);
                killed = true;
                continue;
            }
            msg[n] = '\0';
            if (msg[0] == 'K')
                signal_one(tg->pid, atoi(msg + 1));
        }
    }
    pthread_mutex_lock(&g_execs_lock);
    list_del(&ew.node);
    pthread_mutex_unlock(&g_execs_lock);
    waitq_del(&tg->exit_wq, &ew.w);
out:
    if (tg)
        tg_put(tg);
    if (ew.efd >= 0)
        close(ew.efd);
    free(argv);
    free(envp);
}

int ctl_run_process(struct sandbox_init *init, int timeout, int *out_status)
{
    for (int i = 0; i < 3; i++)
        if (init->host_stdio[i] < 0)
            init->host_stdio[i] = -1;
    struct thread_group *first = task_lookup_tg(1);
    struct fs_struct *fs = first ? tg_get_fs(first) : NULL;
    if (first)
        tg_put(first);
    if (!fs)
        return -ESRCH;
    int r = fs_struct_copy(fs, &init->fs);
    fs_struct_put(fs);
    if (r < 0)
        return r;
    struct exec_wait ew = {.efd = eventfd(0, EFD_CLOEXEC)};
    if (ew.efd < 0) {
        r = -errno;
        fs_struct_put(init->fs);
        return r;
    }
    struct thread_group *tg = NULL;
    r = task_spawn(init, &tg);
    if (r < 0) {
        fs_struct_put(init->fs);
        close(ew.efd);
        return r;
    }
    /* The task owns the stdio fds and fs now. */
    waitq_add_func(&tg->exit_wq, &ew.w, exit_wake);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool killed = false;
    for (;;) {
        pthread_mutex_lock(&g_tasks_lock);
        bool done = tg->zombie;
        int status = tg->exit_status;
        pthread_mutex_unlock(&g_tasks_lock);
        if (done) {
            *out_status = status;
            break;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (timeout > 0 && !killed && now.tv_sec - t0.tv_sec >= timeout) {
            signal_one(tg->pid, SIGKILL);
            killed = true;
        }
        struct pollfd pf = {.fd = ew.efd, .events = POLLIN};
        if (poll(&pf, 1, 100) > 0) {
            uint64_t v;
            if (read(ew.efd, &v, sizeof(v)) < 0) {
                /* the state is re-read */
            }
        }
    }
    waitq_del(&tg->exit_wq, &ew.w);
    tg_put(tg);
    close(ew.efd);
    return killed ? -ETIMEDOUT : 0;
}

/* ---- ps, stats ---- */

struct pid_list {
    int *pids;
    size_t len, cap;
};

static void collect_pid(struct thread_group *tg, void *arg)
{
    struct pid_list *l = arg;
    if (tg->zombie)
        return;
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int *n = realloc(l->pids, cap * sizeof(int));
        if (!n)
            return;
        l->pids = n;
        l->cap = cap;
    }
    l->pids[l->len++] = tg->pid;
}

/* TG's command line (NULs as spaces) into BUF, or "" when unreadable. */
static void cmdline_of(struct thread_group *tg, char *buf, size_t size)
{
    buf[0] = '\0';
    struct mm *mm = tg_get_mm(tg);
    if (!mm)
        return;
    pthread_mutex_lock(&tg->lock);
    uint64_t a = tg->arg_start, e = tg->arg_end;
    pthread_mutex_unlock(&tg->lock);
    size_t n = e > a ? (size_t)(e - a) : 0;
    if (n >= size)
        n = size - 1;
    if (n && mm_copy_in(mm, buf, a, n) == 0) {
        buf[n] = '\0';
        while (n > 0 && buf[n - 1] == '\0')
            n--;
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\0' || buf[i] == '\n' || buf[i] == '\t')
                buf[i] = ' ';
        buf[n] = '\0';
    } else {
        buf[0] = '\0';
    }
    mm_put(mm);
}

static void do_ps(int fd)
{
    struct pid_list l = {0};
    task_for_each_tg(collect_pid, &l);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    for (size_t i = 0; out && i < l.len; i++) {
        struct thread_group *tg = task_lookup_tg(l.pids[i]);
        if (!tg)
            continue;
        struct tg_info in;
        tg_info(tg, &in);
        char cmd[1024];
        cmdline_of(tg, cmd, sizeof(cmd));
        tg_put(tg);
        if (cap - len < sizeof(cmd) + 128) {
            char *n = realloc(out, cap * 2);
            if (!n)
                break;
            out = n;
            cap *= 2;
        }
        len += (size_t)snprintf(out + len, cap - len, "%d %d %c %u %d %.16s\t%s\n", l.pids[i],
                                in.ppid, in.state, in.cred.uid, in.nr_threads, in.comm, cmd);
        if (len >= CTL_MSG_MAX - 2048)
            break;
    }
    if (out)
        reply_buf(fd, out, len ? len : 1);
    free(out);
    free(l.pids);
}

static void do_stats(int fd)
{
    struct pid_list l = {0};
    task_for_each_tg(collect_pid, &l);
    uint64_t used = 0, size = 0, holes = 0, user = 0, sys = 0;
    for (size_t i = 0; i < l.len; i++) {
        struct thread_group *tg = task_lookup_tg(l.pids[i]);
        if (!tg)
            continue;
        struct tg_info in;
        tg_info(tg, &in);
        tg_put(tg);
        user += in.utime + in.cutime;
        sys += in.stime + in.cstime;
    }
    memfile_stats(&used, &size, &holes);
    reply(fd,
          "pids %zu\npids_limit %d\nmemory_used %llu\nmemory_resident %llu\nmemory_limit %llu\n"
          "cpu_user_ns %llu\ncpu_system_ns %llu\nmemory_mount_fd %d\n",
          l.len, task_get_max(), (unsigned long long)used, (unsigned long long)memfile_resident(),
          (unsigned long long)g_memfile_limit, (unsigned long long)user,
          (unsigned long long)sys, memfile_mount_fd());
    free(l.pids);
}

/* ---- connections ---- */

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    char *buf = malloc(CTL_MSG_MAX + 1);
    int fds[3] = {-1, -1, -1};
    int nfds = 0;
    if (!buf)
        goto out;
    struct iovec iov = {.iov_base = buf, .iov_len = CTL_MSG_MAX};
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof(cbuf)};
    ssize_t n;
    while ((n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n <= 0) {
        log_debug("ctl: request: %s", n < 0 ? strerror(errno) : "connection closed");
        goto out;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int f;
            memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (nfds < 3)
                fds[nfds++] = f;
            else
                close(f);
        }
    }
    buf[n] = '\0';
    char *p = buf + 1, *end = buf + n;
    switch (buf[0]) {
    case 'E':
        do_exec(c->fd, p, end, fds, nfds);
        break;
    case 'A': {
        int sig = atoi(p);
        if (sig <= 0 || sig >= LINUX_NSIG) {
            reply(c->fd, "F %d bad signal\n", EINVAL);
            break;
        }
        task_for_each_tg(signal_each, &sig);
        /* Give those it ends a moment to go (and their exec connections to
         * report it) before init's end takes the sandbox down. */
        for (int i = 0; i < 50 && live_count() > 1; i++)
            usleep(10000);
        for (int i = 0; i < 200 && unreported_exits() > 0; i++)
            usleep(10000);
        /* The reply goes first: a signal that ends init ends this process
         * too, and the caller must not read that as no reply. */
        reply(c->fd, "O\n");
        signal_one(1, sig);
        break;
    }
    case 'S':
        do_ps(c->fd);
        break;
    case 'T':
        do_stats(c->fd);
        break;
    case 'L': {
        char *e;
        long lim = strtol(p, &e, 10);
        if (e == p || *e || lim < 0 || lim > 4194304) {
            reply(c->fd, "F %d bad task limit\n", EINVAL);
            break;
        }
        task_set_max((int)lim);
        log_info("ctl: the sandbox's task limit is now %ld (0: none)", lim);
        reply(c->fd, "O\n");
        break;
    }
    case 'M': {
        /* The apps' memory limit (`moat update --memory`; the caller
         * resizes the memory file's tmpfs). */
        char *e;
        unsigned long long lim = strtoull(p, &e, 10);
        if (e == p || *e || lim == 0) {
            reply(c->fd, "F %d bad memory limit\n", EINVAL);
            break;
        }
        if (memfile_set_limit(lim) < 0) {
            reply(c->fd, "F %d the sandbox was created without a memory limit\n", EINVAL);
            break;
        }
        log_info("ctl: the apps' memory limit is now %llu bytes", lim);
        reply(c->fd, "O\n");
        break;
    }
    default:
        reply(c->fd, "F %d unknown request\n", EINVAL);
        break;
    }
out:
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(buf);
    close(c->fd);
    free(c);
    return NULL;
}

static void *listen_main(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                continue;
            log_debug("ctl: accept: %s", strerror(errno));
            return NULL;
        }
        struct conn *c = malloc(sizeof(*c));
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        int r = c ? (c->fd = fd, pthread_create(&th, &attr, conn_main, c)) : ENOMEM;
        if (r != 0) {
            /* The caller gets a reason rather than a closed connection. */
            log_error("ctl: cannot serve a request: %s", strerror(r));
            reply(fd, "F %d cannot serve the request: %s\n", r, strerror(r));
            free(c);
            close(fd);
        }
        pthread_attr_destroy(&attr);
    }
}

int ctl_start(int listen_fd, const struct sandbox_init *defaults)
{
    g_defaults = defaults;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int r = pthread_create(&th, &attr, listen_main, (void *)(intptr_t)listen_fd);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        close(listen_fd);
        return -r;
    }
    return 0;
}
