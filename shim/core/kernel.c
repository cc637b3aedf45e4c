/* kernel.c — see kernel.h. */
#include "core/kernel.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

bool ps_kernel_refuses_first(int fd, int fam)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    uint16_t port;
    if (syscall(SYS_getsockname, fd, &ss, &l) < 0)
        return true;
    return ss.ss_family != fam ||
           ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, &port) < 0 || port != 0;
}

bool ps_kernel_local_address(const struct ps_addr *dst)
{
    struct ps_addr tmp = *dst;
    if (ps_addr_is_v4(&tmp))
        tmp.fam = AF_INET;
    struct sockaddr_storage ss;
    socklen_t l = ps_addr_to_sockaddr(&tmp, 0, &ss);
    int u = (int)syscall(SYS_socket, ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (u < 0)
        return false;
    bool local = syscall(SYS_bind, u, &ss, l) == 0;
    syscall(SYS_close, u);
    return local;
}

static const struct { int level, name, val; } tcp_defaults[] = {
    {IPPROTO_TCP, TCP_NODELAY, 0},      {IPPROTO_TCP, TCP_MAXSEG, 536},
    {IPPROTO_TCP, TCP_CORK, 0},         {IPPROTO_TCP, TCP_KEEPIDLE, 7200},
    {IPPROTO_TCP, TCP_KEEPINTVL, 75},   {IPPROTO_TCP, TCP_KEEPCNT, 9},
    {IPPROTO_TCP, TCP_SYNCNT, 6},       {IPPROTO_TCP, TCP_LINGER2, 60},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT, 0}, {IPPROTO_TCP, TCP_WINDOW_CLAMP, 0},
    {IPPROTO_TCP, TCP_QUICKACK, 1},     {IPPROTO_TCP, TCP_USER_TIMEOUT, 0},
    {IPPROTO_TCP, TCP_FASTOPEN, 0},     {IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0},
    {IPPROTO_IP, IP_TOS, 0},            {IPPROTO_IP, IP_TTL, 64},
    {IPPROTO_IPV6, IPV6_V6ONLY, 0},     {IPPROTO_IPV6, IPV6_TCLASS, 0},
    {IPPROTO_IPV6, IPV6_UNICAST_HOPS, 64},
    {SOL_SOCKET, SO_REUSEPORT, 0},
};

bool ps_tcp_default(int level, int name, int *val)
{
    for (size_t i = 0; i < sizeof tcp_defaults / sizeof tcp_defaults[0]; i++)
        if (tcp_defaults[i].level == level && tcp_defaults[i].name == name) {
            *val = tcp_defaults[i].val;
            return true;
        }
    return false;
}
