/*
 * execve: replace a task's image. Scripts starting with "#!" run their
 * interpreter as Linux's binfmt_script does; ELF files go to the loader.
 * The new image is built in a fresh address space (a new stub); only once
 * it is complete does the task switch to it, so a failing exec leaves the
 * caller intact.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fs/fs.h"
#include "kernel/ipc/futex.h"
#include "kernel/loader/loader.h"
#include "kernel/mm/mm.h"
#include "kernel/task/task_internal.h"
#include "kernel/time/ptimer.h"
#include "kernel/vfs/notify.h"
#include "kernel/vfs/vfs.h"
#include "kernel/vfs/vfs_fs.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_INTERP_DEPTH 4
#define BINPRM_BUF_SIZE  256
#define ST_NOSUID_L      0x0002

/* Parses a "#!" line in HDR (LEN bytes): interpreter into INTERP, its single
 * optional argument into ARG (may be ""). -ENOEXEC if malformed. */
static int parse_shebang(const uint8_t *hdr, size_t len, char *interp, char *arg)
{
    char line[BINPRM_BUF_SIZE + 1];
    size_t n = MIN(len, (size_t)BINPRM_BUF_SIZE);
    memcpy(line, hdr, n);
    line[n] = '\0';
    char *nl = memchr(line, '\n', n);
    if (nl)
        *nl = '\0';
    else if (n == BINPRM_BUF_SIZE)
        return -ENOEXEC; /* the interpreter line does not fit */
    char *p = line + 2;
    while (*p == ' ' || *p == '\t')
        p++;
    char *end = p;
    while (*end && *end != ' ' && *end != '\t')
        end++;
    if (end == p)
        return -ENOEXEC;
    memcpy(interp, p, end - p);
    interp[end - p] = '\0';
    p = end;
    while (*p == ' ' || *p == '\t')
        p++;
    /* Linux passes the rest of the line, trailing blanks trimmed, as one. */
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    memcpy(arg, p, end - p);
    arg[end - p] = '\0';
    return 0;
}

static void reset_signal_actions(struct thread_group *tg)
{
    struct sighand *sh = tg->sighand;
    pthread_mutex_lock(&sh->lock);
    for (int i = 0; i < LINUX_NSIG; i++) {
        if (sh->action[i].handler != (uint64_t)(uintptr_t)SIG_IGN) {
            memset(&sh->action[i], 0, sizeof(sh->action[i]));
        } else {
            sh->action[i].flags = 0;
            sh->action[i].mask = 0;
        }
    }
    sighand_changed_locked(sh);
    pthread_mutex_unlock(&sh->lock);
}

/* Linux's execve credential rules for T running the file F into C. */
static void exec_creds(struct task *t, struct file *f, struct cred *c)
{
    struct linux_stat st;
    struct linux_statfs sfs;
    bool suid_ok = true;
    if (vfs_getattr(f->inode, &st) < 0)
        st.st_mode = 0;
    if (f->path.mnt && vfs_statfs(f->path.mnt, &sfs) == 0 && (sfs.f_flags & ST_NOSUID_L))
        suid_ok = false;
    t->secureexec = cred_exec(c, st.st_mode, st.st_uid, st.st_gid, suid_ok, t->no_new_privs);
}

int task_exec(struct task *t, const char *path, char *const *argv, char *const *envp)
{
    char cur[LINUX_PATH_MAX];
    char interp[BINPRM_BUF_SIZE + 1], iarg[BINPRM_BUF_SIZE + 1];
    uint8_t hdr[LOADER_HDR_SIZE];
    char **args = NULL; /* argv rewritten for scripts */
    struct file *f = NULL;
    int r;

    if (strlen(path) >= sizeof(cur))
        return -ENAMETOOLONG;
    r = task_exec_nproc_check(t);
    if (r < 0)
        return r;
    strcpy(cur, path);
    for (int depth = 0;; depth++) {
        r = vfs_open_exec(t, cur, &f);
        if (r < 0)
            goto out;
        memset(hdr, 0, sizeof(hdr));
        ssize_t got = vfs_pread(f, hdr, sizeof(hdr), 0);
        if (got > 0)
            fsnotify_file(f, FSN_ACCESS); /* as Linux's kernel_read */
        if (got < 0) {
            r = (int)got;
            goto out;
        }
        if (got < 2 || hdr[0] != '#' || hdr[1] != '!') {
            r = loader_check_elf(hdr, (size_t)got);
            if (r < 0)
                goto out;
            break;
        }
        if (depth >= MAX_INTERP_DEPTH) {
            r = -ELOOP;
            goto out;
        }
        r = parse_shebang(hdr, (size_t)got, interp, iarg);
        if (r < 0)
            goto out;
        /* New argv: interp [arg] script argv[1..] */
        size_t argc = 0;
        char *const *old = args ? args : argv;
        while (old[argc])
            argc++;
        char **na = calloc(argc + 4, sizeof(char *));
        if (!na) {
            r = -ENOMEM;
            goto out;
        }
        size_t k = 0;
        na[k++] = strdup(interp);
        if (iarg[0])
            na[k++] = strdup(iarg);
        na[k++] = strdup(cur);
        for (size_t i = 1; i < argc; i++)
            na[k++] = strdup(old[i]);
        na[k] = NULL;
        for (size_t i = 0; i < k; i++) {
            if (!na[i]) {
                for (size_t j = 0; j < k; j++)
                    free(na[j]);
                free(na);
                r = -ENOMEM;
                goto out;
            }
        }
        if (args) {
            for (size_t i = 0; args[i]; i++)
                free(args[i]);
            free(args);
        }
        args = na;
        strcpy(cur, interp);
        file_put(f);
        f = NULL;
    }

    /* Build the new image in a new address space. */
    struct mm *mm = mm_new();
    if (!mm) {
        r = -ENOMEM;
        goto out;
    }
    /* The new credentials (set-id bits, capabilities) are in place while
     * the loader writes AT_UID/AT_EUID/AT_SECURE; put back on failure. */
    struct cred old_cred, new_cred;
    cred_copy(&old_cred, &t->cred);
    new_cred = t->cred;
    exec_creds(t, f, &new_cred);
    group_info_get(new_cred.groups);
    task_commit_cred(t, &new_cred);
    struct loader_image img;
    r = loader_load(t, mm, f, hdr, args ? args : argv, envp, path, &img);
    /* The stub comes last: mm_attach maps the whole image in one go, and a
     * stub still being made (the sandbox's first) is made while the
     * loader works. */
    struct platform_as *as = NULL;
    struct platform_ctx *ctx = NULL;
    if (r == 0)
        r = g_platform->as_new(&as, &ctx);
    if (r == 0)
        r = mm_attach(mm, as);
    if (r < 0) {
        task_commit_cred(t, &old_cred); /* consumes the reference OLD_CRED held */
        if (ctx)
            mm_ctx_destroy(mm, ctx);
        mm_put(mm);
        goto out;
    }
    group_info_put(old_cred.groups);

    /* The point of no return. */
    task_exec_single_thread(t);
    /* Robust futexes the caller holds are released as at exit (Linux's
     * exec_mm_release), while the old memory is still its own. */
    futex_exit_robust_list(t);
    struct platform_ctx *old_ctx = t->ctx;
    struct mm *old_mm = t->mm;
    pthread_mutex_lock(&g_tasks_lock); /* against tg_get_mm and tg_cputime (task.c) */
    t->ctx = ctx;
    t->mm = mm;
    pthread_mutex_unlock(&g_tasks_lock);
    if (old_ctx)
        mm_ctx_destroy(old_mm, old_ctx);
    if (old_mm)
        mm_put(old_mm);
    memset(&t->regs, 0, sizeof(t->regs));
    t->regs.rip = img.entry;
    t->regs.rsp = img.sp;
    t->regs.eflags = 0x202;
    t->clear_child_tid = 0;
    t->robust_list = 0;
    memset(&t->altstack, 0, sizeof(t->altstack));
    t->regs_set = true;
    fdtable_close_on_exec(t->files);
    reset_signal_actions(t->tg);
    ptimer_delete_all(t->tg); /* POSIX timers do not survive exec */
    pthread_mutex_lock(&t->tg->lock);
    t->tg->arg_start = img.arg_start;
    t->tg->arg_end = img.arg_end;
    t->tg->env_start = img.env_start;
    t->tg->env_end = img.env_end;
    if (t->tg->exe)
        file_put(t->tg->exe);
    t->tg->exe = f;
    f = NULL;
    pthread_mutex_unlock(&t->tg->lock);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    memset(t->comm, 0, sizeof(t->comm));
    strncpy(t->comm, base, sizeof(t->comm) - 1);
    task_vfork_done(t);
    r = 0;

out:
    if (f)
        file_put(f);
    if (args) {
        for (size_t i = 0; args[i]; i++)
            free(args[i]);
        free(args);
    }
    return r;
}
