/* Descriptors passed with a message (SCM_RIGHTS) over a unix socket: one,
 * or up to SCM_MAX. */
#ifndef MOAT_LIB_SCM_H
#define MOAT_LIB_SCM_H

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCM_MAX 8

/* Room for the control message of up to SCM_MAX descriptors. */
union scm_one {
    struct cmsghdr h;
    char buf[CMSG_SPACE(SCM_MAX * sizeof(int))];
};

/* Attaches the N (1 to SCM_MAX) descriptors FDS to M, the control message
 * in ROOM. */
static inline void scm_put_fds(struct msghdr *m, union scm_one *room, const int *fds, int n)
{
    memset(room, 0, sizeof(*room));
    m->msg_control = room->buf;
    m->msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
    struct cmsghdr *h = CMSG_FIRSTHDR(m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
    memcpy(CMSG_DATA(h), fds, (size_t)n * sizeof(int));
}

static inline void scm_put_fd(struct msghdr *m, union scm_one *room, int fd)
{
    scm_put_fds(m, room, &fd, 1);
}

/* Makes ROOM M's buffer for receiving at most one descriptor. */
static inline void scm_room(struct msghdr *m, union scm_one *room)
{
    memset(room, 0, sizeof(*room));
    m->msg_control = room->buf;
    m->msg_controllen = sizeof(room->buf);
}

/* The descriptors a received M carries, into OUT (room for SCM_MAX): how
 * many. */
static inline int scm_get_fds(struct msghdr *m, int *out)
{
    int n = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
            h->cmsg_len < CMSG_LEN(0))
            continue;
        size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
            if (n < SCM_MAX)
                out[n++] = fd;
            else
                close(fd);
        }
    }
    return n;
}

/* The one descriptor a received M should carry, or -1 (any others are
 * closed). */
static inline int scm_get_fd(struct msghdr *m)
{
    int fds[SCM_MAX];
    int n = scm_get_fds(m, fds);
    for (int i = 1; i < n; i++)
        close(fds[i]);
    return n > 0 ? fds[0] : -1;
}

#endif
