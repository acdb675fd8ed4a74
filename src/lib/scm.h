/* One descriptor passed with a message (SCM_RIGHTS) over a unix socket. */
#ifndef MOAT_LIB_SCM_H
#define MOAT_LIB_SCM_H

#include <string.h>
#include <sys/socket.h>

/* Room for one descriptor's control message. */
union scm_one {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
};

/* Attaches FD to M, its control message in ROOM. */
static inline void scm_put_fd(struct msghdr *m, union scm_one *room, int fd)
{
    memset(room, 0, sizeof(*room));
    m->msg_control = room->buf;
    m->msg_controllen = sizeof(room->buf);
    struct cmsghdr *h = CMSG_FIRSTHDR(m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof(int));
}

/* Makes ROOM M's buffer for receiving at most one descriptor. */
static inline void scm_room(struct msghdr *m, union scm_one *room)
{
    memset(room, 0, sizeof(*room));
    m->msg_control = room->buf;
    m->msg_controllen = sizeof(room->buf);
}

/* The descriptor a received M carries, or -1. */
static inline int scm_get_fd(struct msghdr *m)
{
    for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
            h->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            memcpy(&fd, CMSG_DATA(h), sizeof(int));
            return fd;
        }
    }
    return -1;
}

#endif
