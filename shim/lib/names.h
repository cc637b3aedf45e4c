/* names.h — keeping names virtual: the kernel reports real ports; programs
 * must see the virtual ones they asked for. */
#ifndef PS_NAMES_H
#define PS_NAMES_H

#include <stdbool.h>
#include <sys/socket.h>

/* Rewrites, in place, the port of a name the kernel returned for fd: its own
 * name (peer=false) or its peer's (peer=true). */
void ps_virtual_name(int fd, struct sockaddr *sa, socklen_t len, bool peer);
/* Copies a name out as the kernel does: truncated to *outlen, which is set
 * to the full length. */
void ps_copy_name(const struct sockaddr_storage *ss, socklen_t real_len, struct sockaddr *out,
                  socklen_t *outlen);

#endif
