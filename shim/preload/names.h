/* names.h — keeping names virtual: the kernel reports real ports; programs
 * must see the virtual ones they asked for. */
#ifndef PS_NAMES_H
#define PS_NAMES_H

#include <stdbool.h>
#include <sys/socket.h>

/* Rewrites, in place, the port of a name the kernel returned for fd: its own
 * name (peer=false) or its peer's (peer=true). */
void ps_virtual_name(int fd, struct sockaddr *sa, socklen_t len, bool peer);
/* Copies a name out as the kernel does: truncated to want (the program's
 * *outlen, already read), then *outlen set to the full length. 0, or -1 with
 * errno EFAULT when the program's buffers are not writable. */
int ps_copy_name(const struct sockaddr_storage *ss, socklen_t real_len, struct sockaddr *out,
                 socklen_t want, socklen_t *outlen);

#endif
