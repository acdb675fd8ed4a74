/* The CLI's side of the control channel to a running sandbox kernel
 * (protocol: src/kernel/task/ctl.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kernel/task/ctl.h"
#include "oci/err.h"

/* How long a request (ps, stats, kill --all, update) waits for its reply. */
#define CTL_REPLY_TIMEOUT_S 10

/* The socket's address: DIR/ctl, or through /proc/self/fd when that is too
 * long for sun_path (Docker's state directories come close). *out_dirfd
 * must then stay open while the address is used. */
static int ctl_addr(const char *dir, struct sockaddr_un *sa, int *out_dirfd)
{
    *out_dirfd = -1;
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, CTL_SOCKET_NAME);
    if (n > 0 && (size_t)n < sizeof(sa->sun_path))
        return 0;
    int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return -errno;
    snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", d, CTL_SOCKET_NAME);
    *out_dirfd = d;
    return 0;
}

int cli_ctl_listen(const char *dir, struct rt_err **err)
{
    struct sockaddr_un sa;
    int d;
    int r = ctl_addr(dir, &sa, &d);
    if (r < 0)
        return rt_err_make(err, -r, "control socket in `%s`", dir);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 16) < 0) {
        int e = errno;
        if (s >= 0)
            close(s);
        if (d >= 0)
            close(d);
        return rt_err_make(err, e, "control socket `%s/%s`", dir, CTL_SOCKET_NAME);
    }
    if (d >= 0)
        close(d);
    return s;
}

int cli_ctl_connect(const char *dir, struct rt_err **err)
{
    struct sockaddr_un sa;
    int d;
    int r = ctl_addr(dir, &sa, &d);
    if (r < 0)
        return rt_err_make(err, -r, "control socket in `%s`", dir);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        if (s >= 0)
            close(s);
        if (d >= 0)
            close(d);
        return rt_err_make(err, e, "connecting to the sandbox's control socket `%s/%s`", dir,
                           CTL_SOCKET_NAME);
    }
    if (d >= 0)
        close(d);
    return s;
}

int cli_ctl_send(int s, const char *msg, size_t len, const int *fds, int nfds)
{
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    memset(cbuf, 0, sizeof(cbuf));
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    ssize_t n;
    while ((n = sendmsg(s, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return n < 0 ? -errno : 0;
}

int cli_ctl_request(const char *dir, const char *msg, size_t len, char **out, struct rt_err **err)
{
    int s = cli_ctl_connect(dir, err);
    if (s < 0)
        return s;
    int r = cli_ctl_send(s, msg, len, NULL, 0);
    if (r < 0) {
        close(s);
        return rt_err_make(err, -r, "control socket: sending the request");
    }
    char *buf = malloc(CTL_MSG_MAX + 1);
    if (!buf) {
        close(s);
        return rt_err_make(err, ENOMEM, "control socket");
    }
    /* A kernel that stopped answering (frozen by hand, stuck) must not
     * hang the caller (containerd's shim waits on us). */
    struct timeval tv = {.tv_sec = CTL_REPLY_TIMEOUT_S};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n;
    while ((n = recv(s, buf, CTL_MSG_MAX, 0)) < 0 && errno == EINTR)
        ;
    int e = errno;
    close(s);
    if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
        free(buf);
        return rt_err_make(err, 0, "control socket: the sandbox did not answer within %d s",
                           CTL_REPLY_TIMEOUT_S);
    }
    if (n <= 0) {
        free(buf);
        return rt_err_make(err, n < 0 ? e : 0,
                           "control socket: the sandbox closed the connection without a "
                           "reply (it has ended or failed: see its log)");
    }
    buf[n] = '\0';
    if (buf[0] == 'F') {
        buf[strcspn(buf, "\n")] = '\0';
        int code = atoi(buf + 2);
        const char *why = strchr(buf + 2, ' ');
        r = rt_err_make(err, 0, "the sandbox refused: %s", why ? why + 1 : buf);
        (void)code;
        free(buf);
        return r;
    }
    *out = buf;
    return 0;
}
