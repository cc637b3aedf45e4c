/* kernel.h — questions asked of the kernel through bare system calls, the
 * same for every backend: the preload library (whose own exports of bind,
 * socket and getsockname must not see them) and the seccomp supervisor
 * (which asks about another process's socket it holds a copy of). */
#ifndef PS_KERNEL_H
#define PS_KERNEL_H

#include <stdbool.h>

#include "core/sockaddr.h"

/* Would the kernel refuse a bind of fd before looking at the port: fd is
 * already bound, or is not of family fam (AF_INET/AF_INET6)? */
bool ps_kernel_refuses_first(int fd, int fam);

/* dst is an address of this host: a UDP bind to it succeeds. Asked only
 * for destinations that are neither loopback nor a wildcard. */
bool ps_kernel_local_address(const struct ps_addr *dst);

/* What a fresh Linux TCP socket answers for option (level, name), for a
 * socket standing in for TCP (unix mode); false: not one of those. */
bool ps_tcp_default(int level, int name, int *val);

#endif
