/*
 * devpts: pseudo-terminals in the kernel. Opening /dev/ptmx makes a pty
 * pair and its slave /dev/pts/N (this file system, mounted on /dev/pts).
 *
 * A pty is two byte rings: INPUT (master writes, after the line discipline,
 * for the slave to read) and OUTPUT (slave writes, after output processing,
 * plus echoes, for the master to read). The line discipline does what
 * programs on a terminal rely on: ICRNL/INLCR/IGNCR, ICANON line editing
 * (ERASE, KILL, EOF, EOL), ECHO (with ECHOE, ECHOCTL, ECHONL), ISIG (INTR,
 * QUIT, SUSP → SIGINT, SIGQUIT, SIGTSTP to the foreground process group),
 * OPOST/ONLCR. Noncanonical reads honour VMIN = 0 (no waiting); VTIME is
 * not timed.
 *
 * Sessions: TIOCSCTTY, or an open without O_NOCTTY by the leader of a
 * session made inside the sandbox that has none, makes the pty the
 * controlling terminal of the caller's session; the pty records the
 * session and its foreground group (TIOCGPGRP/TIOCSPGRP/TIOCGSID). The
 * task side has no controlling-tty field: /dev/tty finds the pty whose
 * session is the caller's. Job control as Linux's: a background group
 * reading gets SIGTTIN, writing with TOSTOP or changing the terminal
 * gets SIGTTOU (EIO when ignored for reads or the group is orphaned);
 * the session leader's exit hangs up the foreground group (SIGHUP).
 *
 * Lock order: g_pty_lock, then pty->lock, then waitq locks; signals are
 * sent after pty->lock is dropped (g_tasks_lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/signal/signal.h"
#include "kernel/syscalls/syscall.h"
#include "kernel/task/task.h"
#include "kernel/task/task_internal.h"
#include "kernel/vfs/poll.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/list.h"
#include "lib/util.h"

#define PTY_RING    16384
#define PTY_LINE    4096
#define PTY_MAX     1024
#define PTS_MAJOR   136
#define TTY_GID     5

/* termios bits (Linux values). */
#define T_IGNCR  0000200
#define T_ICRNL  0000400
#define T_INLCR  0000100
#define T_IXON   0002000
#define T_IUTF8  0040000
#define T_OPOST  0000001
#define T_ONLCR  0000004
#define T_ISIG   0000001
#define T_ICANON 0000002
#define T_ECHO   0000010
#define T_TOSTOP 0000400
#define T_ECHOE  0000020
#define T_ECHOK  0000040
#define T_ECHONL 0000100
#define T_NOFLSH 0000200
#define T_ECHOCTL 0001000
#define T_ECHOKE 0004000
#define T_IEXTEN 0100000
#define T_B38400 0000017
#define T_CS8    0000060
#define T_CREAD  0000200
#define T_HUPCL  0002000

#define V_INTR  0
#define V_QUIT  1
#define V_ERASE 2
#define V_KILL  3
#define V_EOF   4
#define V_TIME  5
#define V_MIN   6
#define V_START 8
#define V_STOP  9
#define V_SUSP  10
#define V_EOL   11

/* ioctls. */
#define L_TCGETS     0x5401
#define L_TCSETS     0x5402
#define L_TCSETSW    0x5403
#define L_TCSETSF    0x5404
#define L_TCSBRK     0x5409
#define L_TCXONC     0x540A
#define L_TCFLSH     0x540B
#define L_TIOCSCTTY  0x540E
#define L_TIOCGPGRP  0x540F
#define L_TIOCSPGRP  0x5410
#define L_TIOCOUTQ   0x5411
#define L_TIOCGWINSZ 0x5413
#define L_TIOCSWINSZ 0x5414
#define L_FIONREAD   0x541B
#define L_TIOCNOTTY  0x5422
#define L_TIOCGSID   0x5429
#define L_TIOCGPTN   0x80045430
#define L_TIOCSPTLCK 0x40045431
#define L_TIOCGPTLCK 0x80045439
#define L_TIOCGPTPEER 0x5441

struct ring {
    uint8_t buf[PTY_RING];
    size_t head, len;
};

struct pty {
    struct refcount ref;
    int index;                 /* (c) */
    pthread_mutex_t lock;
    struct ring in;            /* (l) to the slave */
    struct ring out;           /* (l) to the master */
    char line[PTY_LINE];       /* (l) the canonical line being edited */
    size_t line_len;           /* (l) */
    int eofs;                  /* (l) EOF characters at the start of a line, unread */
    struct linux_termios tio;  /* (l) */
    struct linux_winsize ws;   /* (l) */
    bool locked;               /* (l) TIOCSPTLCK */
    bool master_open;          /* (l) */
    int slaves;                /* (l) open slave files */
    bool slave_opened;         /* (l) a slave was ever opened */
    int sid, pgrp;             /* (l) controlling session and foreground group; 0: none */
    uint32_t uid, gid;         /* (c) owner of pts/N */
    struct waitq mwq;          /* master readers and writers */
    struct waitq swq;          /* slave readers and writers */
    struct list_head link;     /* (g) g_ptys while the master is open */
};

static pthread_mutex_t g_pty_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head g_ptys = LIST_HEAD_INIT(g_ptys); /* (g) */
static struct vfs_sb *g_devpts_sb;
static struct inode *g_devpts_root;

static const struct file_ops g_master_fops, g_slave_fops;

/* ---- rings ---- */

static size_t ring_put(struct ring *r, const void *p, size_t n)
{
    n = MIN(n, PTY_RING - r->len);
    for (size_t i = 0; i < n; i++)
        r->buf[(r->head + r->len + i) % PTY_RING] = ((const uint8_t *)p)[i];
    r->len += n;
    return n;
}

static size_t ring_get(struct ring *r, void *p, size_t n)
{
    n = MIN(n, r->len);
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)p)[i] = r->buf[(r->head + i) % PTY_RING];
    r->head = (r->head + n) % PTY_RING;
    r->len -= n;
    if (r->len == 0)
        r->head = 0;
    return n;
}

/* Bytes up to and including the first '\n' (or all) of R, at most N. */
static size_t ring_line_len(const struct ring *r, size_t n)
{
    size_t lim = MIN(n, r->len);
    for (size_t i = 0; i < lim; i++)
        if (r->buf[(r->head + i) % PTY_RING] == '\n')
            return i + 1;
    return lim;
}

/* ---- lifetime ---- */

static void pty_put(struct pty *p)
{
    if (!refcount_dec(&p->ref))
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static bool nonblocking(struct file *f)
{
    return (vfs_file_flags(f) & O_NONBLOCK) != 0;
}

/* Sleeps on WQ with P->lock held on entry and exit. 0 or -ERESTARTSYS. */
static int pty_wait(struct pty *p, struct waitq *wq, uint32_t seq)
{
    struct task *t = task_current();
    struct waiter w;
    waitq_add(wq, &w, t);
    pthread_mutex_unlock(&p->lock);
    int r = task_sleep(t, seq, 0);
    waitq_del(wq, &w);
    pthread_mutex_lock(&p->lock);
    return r == -EINTR ? -ERESTARTSYS : 0;
}

/* Sends SIG to every process of group PGRP. */
static void signal_pgrp(int pgrp, int sig)
{
    if (pgrp <= 0)
        return;
    pthread_mutex_lock(&g_tasks_lock);
    struct thread_group *tg;
    list_for_each_entry(tg, task_all_tgs(), all)
    {
        if (!tg->zombie && tg->pgid == pgrp)
            signal_send_tg_locked(tg, sig, NULL, false);
    }
    pthread_mutex_unlock(&g_tasks_lock);
}

/* Linux's __tty_check_change: T touches P, its controlling terminal, from
 * outside the foreground group. 0: go on; -EIO; -ERESTARTSYS once SIG
 * (SIGTTIN for reads, SIGTTOU for writes and settings) went to T's group.
 * Takes P->lock, then g_tasks_lock: call with neither held. */
static int job_check(struct pty *p, struct task *t, int sig)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&p->lock);
    int psid = p->sid, fg = p->pgrp;
    pthread_mutex_unlock(&p->lock);
    int r = 0;
    pthread_mutex_lock(&g_tasks_lock);
    struct thread_group *tg = t->tg;
    if (psid && psid == tg->sid && fg && tg->pgid != fg) {
        pthread_mutex_lock(&tg->sighand->lock);
        bool ignored = (t->sigmask & SIG_BIT(sig)) ||
                       tg->sighand->action[sig - 1].handler == (uint64_t)(uintptr_t)SIG_IGN;
        pthread_mutex_unlock(&tg->sighand->lock);
        if (ignored) {
            r = sig == SIGTTIN ? -EIO : 0;
        } else if (task_pgrp_orphaned_locked(tg->pgid, NULL)) {
            r = -EIO;
        } else {
            struct thread_group *m;
            list_for_each_entry(m, task_all_tgs(), all)
                if (!m->zombie && m->pgid == tg->pgid)
                    signal_send_tg_locked(m, sig, NULL, false);
            r = -ERESTARTSYS;
        }
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return r;
}

/* Does session SID have a controlling terminal? Caller holds g_pty_lock. */
static bool session_has_tty_locked(int sid)
{
    struct pty *p;
    bool found = false;
    list_for_each_entry(p, &g_ptys, link)
    {
        pthread_mutex_lock(&p->lock);
        found |= p->sid == sid;
        pthread_mutex_unlock(&p->lock);
    }
    return found;
}

void devpts_session_end(int sid)
{
    int fg = 0;
    pthread_mutex_lock(&g_pty_lock);
    struct pty *p;
    list_for_each_entry(p, &g_ptys, link)
    {
        pthread_mutex_lock(&p->lock);
        if (p->sid == sid) {
            fg = p->pgrp;
            p->sid = 0;
            p->pgrp = 0;
        }
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&g_pty_lock);
    signal_pgrp(fg, SIGHUP);
}

int devpts_session_tty(int sid, int *out_tpgid)
{
    int nr = 0;
    *out_tpgid = -1;
    pthread_mutex_lock(&g_pty_lock);
    struct pty *p;
    list_for_each_entry(p, &g_ptys, link)
    {
        pthread_mutex_lock(&p->lock);
        if (sid && p->sid == sid) {
            /* new_encode_dev(MKDEV(136, index)) */
            nr = (p->index & 0xff) | (136 << 8) | ((p->index & ~0xff) << 12);
            *out_tpgid = p->pgrp ? p->pgrp : -1;
        }
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&g_pty_lock);
    return nr;
}

/* ---- line discipline ---- */

/* Output processing of C into the output ring (P->lock held). */
static void out_char(struct pty *p, uint8_t c)
{
    if ((p->tio.c_oflag & T_OPOST) && (p->tio.c_oflag & T_ONLCR) && c == '\n')
        ring_put(&p->out, "\r\n", 2);
    else
        ring_put(&p->out, &c, 1);
}

static void echo_char(struct pty *p, uint8_t c)
{
    uint32_t lf = p->tio.c_lflag;
    if (!(lf & T_ECHO)) {
        if (c == '\n' && (lf & T_ECHONL) && (lf & T_ICANON))
            out_char(p, c);
        return;
    }
    if ((lf & T_ECHOCTL) && (c < 0x20 || c == 0x7f) && c != '\n' && c != '\t') {
        uint8_t s[2] = {'^', (uint8_t)(c == 0x7f ? '?' : c + 0x40)};
        ring_put(&p->out, s, 2);
        return;
    }
    out_char(p, c);
}

static void erase_one(struct pty *p)
{
    if (p->line_len == 0)
        return;
    p->line_len--;
    if ((p->tio.c_lflag & T_ECHO) && (p->tio.c_lflag & T_ECHOE))
        ring_put(&p->out, "\b \b", 3);
}

static void push_line(struct pty *p)
{
    ring_put(&p->in, p->line, p->line_len);
    p->line_len = 0;
}

/* Input C from the master (P->lock held). Returns a signal to send to the
 * foreground group, or 0. */
static int input_char(struct pty *p, uint8_t c)
{
    uint32_t in = p->tio.c_iflag, lf = p->tio.c_lflag;
    const uint8_t *cc = p->tio.c_cc;
    if (c == '\r') {
        if (in & T_IGNCR)
            return 0;
        if (in & T_ICRNL)
            c = '\n';
    } else if (c == '\n' && (in & T_INLCR)) {
        c = '\r';
    }
    if (lf & T_ISIG) {
        int sig = 0;
        if (c == cc[V_INTR] && cc[V_INTR])
            sig = SIGINT;
        else if (c == cc[V_QUIT] && cc[V_QUIT])
            sig = SIGQUIT;
        else if (c == cc[V_SUSP] && cc[V_SUSP])
            sig = SIGTSTP;
        if (sig) {
            if (!(lf & T_NOFLSH)) {
                p->line_len = 0;
                p->in.len = 0;
                p->in.head = 0;
            }
            echo_char(p, c);
            return sig;
        }
    }
    if (lf & T_ICANON) {
        if (c == cc[V_ERASE] && cc[V_ERASE]) {
            erase_one(p);
            return 0;
        }
        if (c == cc[V_KILL] && cc[V_KILL]) {
            if ((lf & T_ECHO) && (lf & (T_ECHOKE | T_ECHOE)))
                while (p->line_len)
                    erase_one(p);
            else
                p->line_len = 0;
            return 0;
        }
        if (c == cc[V_EOF] && cc[V_EOF]) {
            if (p->line_len == 0)
                p->eofs++;
            push_line(p);
            return 0;
        }
        if (c == '\n' || (c == cc[V_EOL] && cc[V_EOL])) {
            p->line[p->line_len++] = (char)c;
            push_line(p);
            echo_char(p, c);
            return 0;
        }
        if (p->line_len < PTY_LINE - 1) {
            p->line[p->line_len++] = (char)c;
            echo_char(p, c);
        }
        return 0;
    }
    ring_put(&p->in, &c, 1);
    echo_char(p, c);
    return 0;
}

/* ---- master ---- */

static ssize_t master_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct pty *p = f->priv;
    struct task *t = task_current();
    if (n == 0)
        return 0;
    pthread_mutex_lock(&p->lock);
    while (p->out.len == 0) {
        if (p->slave_opened && p->slaves == 0) {
            pthread_mutex_unlock(&p->lock);
            return -EIO;
        }
        if (nonblocking(f)) {
            pthread_mutex_unlock(&p->lock);
            return -EAGAIN;
        }
        int r = pty_wait(p, &p->mwq, task_wake_seq(t));
        if (r < 0) {
            pthread_mutex_unlock(&p->lock);
            return r;
        }
    }
    size_t got = ring_get(&p->out, buf, n);
    pthread_mutex_unlock(&p->lock);
    waitq_wake_all(&p->swq);
    return (ssize_t)got;
}

static ssize_t master_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct pty *p = f->priv;
    int sigs[8], nsig = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < n; i++) {
        int sig = input_char(p, ((const uint8_t *)buf)[i]);
        if (sig && nsig < 8)
            sigs[nsig++] = sig;
    }
    int pgrp = p->pgrp;
    pthread_mutex_unlock(&p->lock);
    waitq_wake_all(&p->swq);
    waitq_wake_all(&p->mwq);
    for (int i = 0; i < nsig; i++)
        signal_pgrp(pgrp, sigs[i]);
    return (ssize_t)n;
}

static unsigned master_poll(struct file *f, struct poll_table *pt)
{
    struct pty *p = f->priv;
    poll_wait(pt, &p->mwq);
    unsigned mask = LPOLLOUT | LPOLLWRNORM;
    pthread_mutex_lock(&p->lock);
    if (p->out.len)
        mask |= LPOLLIN | LPOLLRDNORM;
    if (p->slave_opened && p->slaves == 0)
        mask |= LPOLLHUP;
    pthread_mutex_unlock(&p->lock);
    return mask;
}

static void master_release(struct file *f)
{
    struct pty *p = f->priv;
    pthread_mutex_lock(&g_pty_lock);
    list_del(&p->link);
    pthread_mutex_unlock(&g_pty_lock);
    pthread_mutex_lock(&p->lock);
    p->master_open = false;
    int pgrp = p->sid ? p->pgrp : 0;
    pthread_mutex_unlock(&p->lock);
    waitq_wake_all(&p->swq);
    signal_pgrp(pgrp, SIGHUP);
    pty_put(p);
}

/* ---- slave ---- */

static ssize_t slave_read(struct file *f, void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct pty *p = f->priv;
    struct task *t = task_current();
    int jr = job_check(p, t, SIGTTIN);
    if (jr < 0)
        return jr;
    if (n == 0)
        return 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        bool canon = p->tio.c_lflag & T_ICANON;
        if (p->in.len) {
            size_t want = canon ? ring_line_len(&p->in, n) : n;
            size_t got = ring_get(&p->in, buf, want);
            pthread_mutex_unlock(&p->lock);
            waitq_wake_all(&p->mwq);
            return (ssize_t)got;
        }
        if (canon && p->eofs) {
            p->eofs--;
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        if (!p->master_open) {
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        if (!canon && p->tio.c_cc[V_MIN] == 0 && p->tio.c_cc[V_TIME] == 0) {
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        if (nonblocking(f)) {
            pthread_mutex_unlock(&p->lock);
            return -EAGAIN;
        }
        int r = pty_wait(p, &p->swq, task_wake_seq(t));
        if (r < 0) {
            pthread_mutex_unlock(&p->lock);
            return r;
        }
    }
}

static ssize_t slave_write(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
    (void)pos;
    struct pty *p = f->priv;
    struct task *t = task_current();
    size_t done = 0;
    pthread_mutex_lock(&p->lock);
    bool tostop = p->tio.c_lflag & T_TOSTOP;
    pthread_mutex_unlock(&p->lock);
    if (tostop) {
        int jr = job_check(p, t, SIGTTOU);
        if (jr < 0)
            return jr;
    }
    pthread_mutex_lock(&p->lock);
    while (done < n) {
        if (!p->master_open) {
            pthread_mutex_unlock(&p->lock);
            return done ? (ssize_t)done : -EIO;
        }
        /* Room for the worst case ("\r\n") of the next byte. */
        if (PTY_RING - p->out.len < 2) {
            if (nonblocking(f)) {
                pthread_mutex_unlock(&p->lock);
                return done ? (ssize_t)done : -EAGAIN;
            }
            waitq_wake_all(&p->mwq);
            int r = pty_wait(p, &p->swq, task_wake_seq(t));
            if (r < 0) {
                pthread_mutex_unlock(&p->lock);
                return done ? (ssize_t)done : r;
            }
            continue;
        }
        while (done < n && PTY_RING - p->out.len >= 2)
            out_char(p, ((const uint8_t *)buf)[done++]);
    }
    pthread_mutex_unlock(&p->lock);
    waitq_wake_all(&p->mwq);
    return (ssize_t)done;
}

static unsigned slave_poll(struct file *f, struct poll_table *pt)
{
    struct pty *p = f->priv;
    poll_wait(pt, &p->swq);
    unsigned mask = 0;
    pthread_mutex_lock(&p->lock);
    if (p->in.len || ((p->tio.c_lflag & T_ICANON) && p->eofs))
        mask |= LPOLLIN | LPOLLRDNORM;
    if (PTY_RING - p->out.len >= 2)
        mask |= LPOLLOUT | LPOLLWRNORM;
    if (!p->master_open)
        mask |= LPOLLHUP | LPOLLIN | LPOLLRDNORM;
    pthread_mutex_unlock(&p->lock);
    return mask;
}

static void slave_release(struct file *f)
{
    struct pty *p = f->priv;
    pthread_mutex_lock(&p->lock);
    p->slaves--;
    pthread_mutex_unlock(&p->lock);
    waitq_wake_all(&p->mwq);
    pty_put(p);
}

static int64_t tty_llseek(struct file *f, int64_t off, int whence)
{
    (void)f;
    (void)off;
    (void)whence;
    return -ESPIPE;
}

/* ---- ioctls (both ends) ---- */

/* Is there a process group PGRP in session SID? */
static bool pgrp_in_session(int pgrp, int sid)
{
    bool found = false;
    pthread_mutex_lock(&g_tasks_lock);
    struct thread_group *tg;
    list_for_each_entry(tg, task_all_tgs(), all)
    {
        if (!tg->zombie && tg->pgid == pgrp && tg->sid == sid)
            found = true;
    }
    pthread_mutex_unlock(&g_tasks_lock);
    return found;
}

static void tg_ids(struct task *t, int *pid, int *pgid, int *sid)
{
    pthread_mutex_lock(&g_tasks_lock);
    *pid = t->tg->pid;
    *pgid = t->tg->pgid;
    *sid = t->tg->sid;
    pthread_mutex_unlock(&g_tasks_lock);
}

static long pty_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg, bool master)
{
    struct pty *p = f->priv;
    int pid, pgid, sid;
    long r = 0;
    /* Changing the terminal from a background group: SIGTTOU. */
    if (!master && (cmd == L_TCSETS || cmd == L_TCSETSW || cmd == L_TCSETSF ||
                    cmd == L_TIOCSPGRP || cmd == L_TCFLSH || cmd == L_TCXONC)) {
        r = job_check(p, t, SIGTTOU);
        if (r < 0)
            return r;
    }
    switch (cmd) {
    case L_TCGETS: {
        pthread_mutex_lock(&p->lock);
        struct linux_termios tio = p->tio;
        pthread_mutex_unlock(&p->lock);
        return copy_out(t, arg, &tio, sizeof(tio));
    }
    case L_TCSETS:
    case L_TCSETSW:
    case L_TCSETSF: {
        struct linux_termios tio;
        if (copy_in(t, &tio, arg, sizeof(tio)) < 0)
            return -EFAULT;
        pthread_mutex_lock(&p->lock);
        if (cmd == L_TCSETSF) {
            p->in.len = p->in.head = 0;
            p->line_len = 0;
            p->eofs = 0;
        }
        if ((p->tio.c_lflag & T_ICANON) && !(tio.c_lflag & T_ICANON))
            push_line(p); /* what was being edited becomes readable */
        p->tio = tio;
        pthread_mutex_unlock(&p->lock);
        waitq_wake_all(&p->swq);
        return 0;
    }
    case L_TIOCGWINSZ: {
        pthread_mutex_lock(&p->lock);
        struct linux_winsize ws = p->ws;
        pthread_mutex_unlock(&p->lock);
        return copy_out(t, arg, &ws, sizeof(ws));
    }
    case L_TIOCSWINSZ: {
        struct linux_winsize ws;
        if (copy_in(t, &ws, arg, sizeof(ws)) < 0)
            return -EFAULT;
        pthread_mutex_lock(&p->lock);
        bool changed = memcmp(&ws, &p->ws, sizeof(ws)) != 0;
        p->ws = ws;
        int pgrp = p->pgrp;
        pthread_mutex_unlock(&p->lock);
        if (changed)
            signal_pgrp(pgrp, SIGWINCH);
        return 0;
    }
    case L_FIONREAD:
    case L_TIOCOUTQ: {
        pthread_mutex_lock(&p->lock);
        int32_t v;
        if (cmd == L_FIONREAD)
            v = (int32_t)(master ? p->out.len : p->in.len);
        else
            v = (int32_t)(master ? p->in.len : p->out.len);
        pthread_mutex_unlock(&p->lock);
        return copy_out(t, arg, &v, sizeof(v));
    }
    case L_TCFLSH:
        if (arg > 2)
            return -EINVAL;
        pthread_mutex_lock(&p->lock);
        /* The queue called "input" is the reader's side of this end. */
        if (arg == 0 || arg == 2) {
            struct ring *rq = master ? &p->out : &p->in;
            rq->len = rq->head = 0;
            if (!master)
                p->line_len = 0;
        }
        if (arg == 1 || arg == 2) {
            struct ring *wq = master ? &p->in : &p->out;
            wq->len = wq->head = 0;
        }
        pthread_mutex_unlock(&p->lock);
        waitq_wake_all(&p->mwq);
        waitq_wake_all(&p->swq);
        return 0;
    case L_TCSBRK:
    case L_TCXONC:
        return 0;
    case L_TIOCGPTN: {
        if (!master)
            return -ENOTTY;
        uint32_t n = (uint32_t)p->index;
        return copy_out(t, arg, &n, sizeof(n));
    }
    case L_TIOCSPTLCK:
    case L_TIOCGPTLCK: {
        if (!master)
            return -ENOTTY;
        int32_t v;
        if (cmd == L_TIOCGPTLCK) {
            pthread_mutex_lock(&p->lock);
            v = p->locked;
            pthread_mutex_unlock(&p->lock);
            return copy_out(t, arg, &v, sizeof(v));
        }
        if (copy_in(t, &v, arg, sizeof(v)) < 0)
            return -EFAULT;
        pthread_mutex_lock(&p->lock);
        p->locked = v != 0;
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    case L_TIOCGPTPEER: {
        if (!master)
            return -ENOTTY;
        if (arg & ~(uint64_t)(O_ACCMODE | O_NOCTTY | O_NONBLOCK | O_CLOEXEC))
            return -EINVAL;
        char path[32];
        snprintf(path, sizeof(path), "/dev/pts/%d", p->index);
        struct file *sf;
        r = vfs_openat(t, AT_FDCWD, path, (int)arg | O_NOCTTY, 0, &sf);
        if (r < 0)
            return r;
        r = fdtable_alloc(t->files, 0, VFS_NR_OPEN, sf, arg & O_CLOEXEC);
        file_put(sf);
        return r;
    }
    case L_TIOCSCTTY: {
        tg_ids(t, &pid, &pgid, &sid);
        pthread_mutex_lock(&g_pty_lock);
        bool has = session_has_tty_locked(sid);
        pthread_mutex_unlock(&g_pty_lock);
        pthread_mutex_lock(&p->lock);
        if (p->sid == sid) {
            r = 0;
        } else if (pid != sid || has) {
            r = -EPERM; /* not a session leader, or its session has a terminal */
        } else if (p->sid && !(arg == 1 && task_capable(t, CAP_SYS_ADMIN))) {
            r = -EPERM; /* another session's terminal */
        } else {
            p->sid = sid;
            p->pgrp = pgid;
        }
        pthread_mutex_unlock(&p->lock);
        return r;
    }
    case L_TIOCNOTTY: {
        tg_ids(t, &pid, &pgid, &sid);
        pthread_mutex_lock(&p->lock);
        int fg = 0;
        if (p->sid != sid || master) {
            r = -ENOTTY;
        } else if (pid == sid) {
            fg = p->pgrp;
            p->sid = 0;
            p->pgrp = 0;
        }
        pthread_mutex_unlock(&p->lock);
        if (fg) {
            signal_pgrp(fg, SIGHUP);
            signal_pgrp(fg, SIGCONT);
        }
        return r;
    }
    case L_TIOCGPGRP:
    case L_TIOCGSID: {
        tg_ids(t, &pid, &pgid, &sid);
        pthread_mutex_lock(&p->lock);
        int32_t v = cmd == L_TIOCGPGRP ? p->pgrp : p->sid;
        bool ours = master || (p->sid && p->sid == sid);
        pthread_mutex_unlock(&p->lock);
        if (!ours)
            return -ENOTTY;
        if (cmd == L_TIOCGSID && v == 0)
            return -ENOTTY;
        return copy_out(t, arg, &v, sizeof(v));
    }
    case L_TIOCSPGRP: {
        int32_t v;
        if (copy_in(t, &v, arg, sizeof(v)) < 0)
            return -EFAULT;
        tg_ids(t, &pid, &pgid, &sid);
        pthread_mutex_lock(&p->lock);
        int tsid = p->sid;
        pthread_mutex_unlock(&p->lock);
        if (!tsid || tsid != sid)
            return -ENOTTY;
        if (v < 0)
            return -EINVAL;
        if (!pgrp_in_session(v, sid))
            return -EPERM;
        pthread_mutex_lock(&p->lock);
        p->pgrp = v;
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    default:
        return -ENOTTY;
    }
}

static long master_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg)
{
    return pty_ioctl(f, t, cmd, arg, true);
}

static long slave_ioctl(struct file *f, struct task *t, unsigned cmd, uint64_t arg)
{
    return pty_ioctl(f, t, cmd, arg, false);
}

static int master_dname(struct file *f, char *buf, size_t size)
{
    (void)f;
    int n = snprintf(buf, size, "/dev/ptmx");
    return n < (int)size ? n : -ENAMETOOLONG;
}

static const struct file_ops g_master_fops = {
        .read = master_read,
        .write = master_write,
        .llseek = tty_llseek,
        .ioctl = master_ioctl,
        .poll = master_poll,
        .dname = master_dname,
        .release = master_release,
};

static const struct file_ops g_slave_fops = {
        .read = slave_read,
        .write = slave_write,
        .llseek = tty_llseek,
        .ioctl = slave_ioctl,
        .poll = slave_poll,
        .release = slave_release,
};

/* ---- opening ---- */

static void termios_default(struct linux_termios *tio)
{
    memset(tio, 0, sizeof(*tio));
    tio->c_iflag = T_ICRNL | T_IXON | T_IUTF8;
    tio->c_oflag = T_OPOST | T_ONLCR;
    tio->c_cflag = T_B38400 | T_CS8 | T_CREAD | T_HUPCL;
    tio->c_lflag = T_ISIG | T_ICANON | T_ECHO | T_ECHOE | T_ECHOK | T_ECHOCTL | T_ECHOKE | T_IEXTEN;
    static const uint8_t cc[] = {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0};
    memcpy(tio->c_cc, cc, sizeof(cc));
}

static struct pty *find_locked(int index)
{
    struct pty *p;
    list_for_each_entry(p, &g_ptys, link)
    {
        if (p->index == index)
            return p;
    }
    return NULL;
}

int devpts_open_master(struct inode *inode, struct file *f)
{
    (void)inode;
    struct task *t = task_current();
    struct pty *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    refcount_init(&p->ref);
    pthread_mutex_init(&p->lock, NULL);
    waitq_init(&p->mwq);
    waitq_init(&p->swq);
    termios_default(&p->tio);
    p->locked = true;
    p->master_open = true;
    p->uid = t ? t->cred.euid : 0;
    p->gid = TTY_GID;
    pthread_mutex_lock(&g_pty_lock);
    int idx = 0;
    while (idx < PTY_MAX && find_locked(idx))
        idx++;
    if (idx == PTY_MAX) {
        pthread_mutex_unlock(&g_pty_lock);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return -ENOSPC;
    }
    p->index = idx;
    list_add_tail(&p->link, &g_ptys);
    pthread_mutex_unlock(&g_pty_lock);
    f->ops = &g_master_fops;
    f->priv = p;
    return 0;
}

/* Opens the slave of P (a reference consumed) as F. An open without
 * O_NOCTTY does not make it a controlling terminal (the session may have
 * one outside the sandbox's view): TIOCSCTTY does. */
static int open_slave(struct pty *p, struct file *f)
{
    pthread_mutex_lock(&p->lock);
    if (p->locked || !p->master_open) {
        pthread_mutex_unlock(&p->lock);
        pty_put(p);
        return -EIO;
    }
    p->slaves++;
    p->slave_opened = true;
    pthread_mutex_unlock(&p->lock);
    f->ops = &g_slave_fops;
    f->priv = p;
    return 0;
}

int devpts_open_ctty(struct file *f)
{
    struct task *t = task_current();
    if (!t)
        return -ENXIO;
    int pid, pgid, sid;
    tg_ids(t, &pid, &pgid, &sid);
    pthread_mutex_lock(&g_pty_lock);
    struct pty *p, *found = NULL;
    list_for_each_entry(p, &g_ptys, link)
    {
        pthread_mutex_lock(&p->lock);
        if (p->sid && p->sid == sid)
            found = p;
        pthread_mutex_unlock(&p->lock);
    }
    if (found)
        refcount_inc(&found->ref);
    pthread_mutex_unlock(&g_pty_lock);
    if (!found)
        return -ENXIO;
    return open_slave(found, f);
}

/* ---- the file system: /dev/pts ---- */

struct pts_inode {
    struct inode base;
    int index;
};

static int pts_open(struct inode *inode, struct file *f)
{
    int index = container_of(inode, struct pts_inode, base)->index;
    pthread_mutex_lock(&g_pty_lock);
    struct pty *p = find_locked(index);
    if (p)
        refcount_inc(&p->ref);
    pthread_mutex_unlock(&g_pty_lock);
    if (!p)
        return -EIO;
    /* A session leader without a terminal acquires this one (not sessions
     * made outside, which may have the host's). */
    struct task *t = task_current();
    bool acquire = false;
    int pid = 0, pgid = 0, sid = 0;
    if (t && !(f->fmode & FMODE_NOCTTY)) {
        tg_ids(t, &pid, &pgid, &sid);
        pthread_mutex_lock(&g_tasks_lock);
        acquire = pid == sid && !t->tg->host_session;
        pthread_mutex_unlock(&g_tasks_lock);
    }
    struct pty *keep = p;
    int r = open_slave(p, f); /* consumes the reference */
    if (r < 0 || !acquire)
        return r;
    pthread_mutex_lock(&g_pty_lock);
    if (!session_has_tty_locked(sid)) {
        pthread_mutex_lock(&keep->lock);
        if (!keep->sid) {
            keep->sid = sid;
            keep->pgrp = pgid;
        }
        pthread_mutex_unlock(&keep->lock);
    }
    pthread_mutex_unlock(&g_pty_lock);
    return 0;
}

static void pts_evict(struct inode *inode)
{
    free(container_of(inode, struct pts_inode, base));
}

static const struct inode_ops g_pts_iops = {
        .open = pts_open,
        .evict = pts_evict,
};

static int root_lookup(struct inode *dir, const char *name, struct inode **out)
{
    (void)dir;
    char *end;
    long idx = strtol(name, &end, 10);
    if (*name < '0' || *name > '9' || *end || idx < 0 || idx >= PTY_MAX ||
        (name[0] == '0' && name[1]))
        return -ENOENT;
    pthread_mutex_lock(&g_pty_lock);
    struct pty *p = find_locked((int)idx);
    uint32_t uid = p ? p->uid : 0, gid = p ? p->gid : 0;
    pthread_mutex_unlock(&g_pty_lock);
    if (!p)
        return -ENOENT;
    struct pts_inode *pi = calloc(1, sizeof(*pi));
    if (!pi)
        return -ENOMEM;
    inode_init(&pi->base, g_devpts_sb, &g_pts_iops, VFS_S_IFCHR | 0620);
    pi->base.ino = (uint64_t)idx + 3;
    pi->base.rdev = VFS_MKDEV(PTS_MAJOR, idx);
    pi->base.uid = uid;
    pi->base.gid = gid;
    pi->index = (int)idx;
    *out = &pi->base;
    return 0;
}

static int root_readdir(struct inode *dir, struct dir_emit *ctx)
{
    (void)dir;
    int idx[PTY_MAX];
    int n = 0;
    pthread_mutex_lock(&g_pty_lock);
    struct pty *p;
    list_for_each_entry(p, &g_ptys, link)
    {
        if (n < PTY_MAX)
            idx[n++] = p->index;
    }
    pthread_mutex_unlock(&g_pty_lock);
    for (int i = 0; i < n; i++) {
        char name[16];
        int len = snprintf(name, sizeof(name), "%d", idx[i]);
        int r = ctx->emit(ctx, name, (size_t)len, (uint64_t)idx[i] + 3, vfs_dtype(VFS_S_IFCHR));
        if (r < 0)
            return r;
    }
    return 0;
}

static void root_evict(struct inode *inode)
{
    free(inode);
}

static const struct inode_ops g_root_iops = {
        .lookup = root_lookup,
        .readdir = root_readdir,
        .evict = root_evict,
};

int devpts_new(struct inode **out_root)
{
    if (!g_devpts_sb) {
        g_devpts_sb = vfs_sb_new("devpts", true);
        if (!g_devpts_sb)
            return -ENOMEM;
    }
    if (!g_devpts_root) {
        struct inode *root = calloc(1, sizeof(*root));
        if (!root)
            return -ENOMEM;
        inode_init(root, g_devpts_sb, &g_root_iops, VFS_S_IFDIR | 0755);
        root->ino = 1;
        root->nlink = 2;
        g_devpts_root = root;
    }
    inode_get(g_devpts_root);
    *out_root = g_devpts_root;
    return 0;
}
