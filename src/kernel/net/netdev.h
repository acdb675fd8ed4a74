/*
 * Interface ioctls on any socket (SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFFLAGS,
 * SIOCGIFMTU, SIOCGIFHWADDR, SIOCGIFTXQLEN, SIOCGIFADDR, SIOCGIFNETMASK,
 * SIOCGIFBRDADDR, SIOCGIFCONF) from the sandbox's network view (rtnl.h);
 * the calls that change interfaces or routes are EPERM.
 */
#ifndef MOAT_KERNEL_NET_NETDEV_H
#define MOAT_KERNEL_NET_NETDEV_H

#include <stdbool.h>
#include <stdint.h>

struct task;

/* True for the socket ioctl range netdev_ioctl answers (0x89xx). */
bool netdev_is_ioctl(unsigned cmd);
/* The ioctl CMD with its struct ifreq or ifconf at ARG, on an inet socket
 * (INET) or another: 0 or -errno. */
long netdev_ioctl(struct task *t, bool inet, unsigned cmd, uint64_t arg);

#endif
