/* socket.c — socket(): the namespace learns which descriptors are UDP
 * sockets when they are made, so that the send and receive calls
 * (dgram.c) know a descriptor's protocol from one table read, with no
 * system call, and every other descriptor costs them nothing more. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "preload/real.h"
#include "preload/state.h"

static bool is_udp(int domain, int type, int protocol)
{
    return (domain == AF_INET || domain == AF_INET6) &&
           (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_DGRAM &&
           (protocol == 0 || protocol == IPPROTO_UDP);
}

PS_EXPORT int socket(int domain, int type, int protocol)
{
    int fd = real_socket(domain, type, protocol);
    if (fd < 0 || !is_udp(domain, type, protocol))
        return fd;
    int err = errno;
    if (ps_enter()) {
        ps_lock();
        ps_fd_set_udp(fd);
        ps_unlock();
        ps_leave();
    }
    errno = err;
    return fd;
}
