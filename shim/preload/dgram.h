/* dgram.h — what the UDP send and receive wrappers (send.c, recv.c) share.
 *
 * A datagram's address names a port: a destination the program gives
 * (sendto, sendmsg, sendmmsg) is translated from the virtual port a socket
 * of the namespace bound to its real one; a source the kernel reports
 * (recvfrom, recvmsg, recvmmsg) from a real port back to the virtual one,
 * so that a reply to it finds the sender. Only UDP sockets the fd table
 * knows (made by socket() in this process, or bound or connected through
 * the shim) are looked at: any other descriptor costs one table read. */
#ifndef PS_DGRAM_H
#define PS_DGRAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/fdtable.h"
#include "core/sockaddr.h"

/* Lock-free: fd is a UDP socket the namespace knows. One table read for
 * every other descriptor. */
static inline bool ps_dgram_fd(int fd)
{
    return ps_fd_kind(fd) != PS_FD_NONE && ps_fd_get(fd).udp;
}

/* Under ps_lock: brings the table up to date for routing a datagram. It
 * reads the manifest only when the namespace's table generation moved
 * since this process last read it (counts.h), so a datagram costs no
 * system call of the shim's while the namespace's mappings stay as they
 * are. */
void ps_dgram_refresh(void);

/* Under ps_lock: this process routed a datagram for virtual port vport to
 * a:rport. A reply from there names vport even once its sender's socket is
 * gone from the table (a server that answers and exits before the reply is
 * read): ps_dgram_source falls back on what this process sent to. */
void ps_dgram_routed(const struct ps_addr *a, uint16_t rport, uint16_t vport);

/* Rewrites in place the port of a datagram's source address (the kernel's
 * name of its sender, len bytes) from the real port of a UDP socket of the
 * namespace to its virtual one. Takes ps_lock itself. */
void ps_dgram_source(int fd, struct sockaddr *sa, socklen_t len);

/* Copies a name out as the kernel's move_addr_to_user does, after the
 * datagram was taken: *ulen read (EFAULT), negative (EINVAL), truncated to
 * it, then the full length klen written to *ulen. 0 or -1 with errno. */
int ps_dgram_name_out(const struct sockaddr_storage *k, socklen_t klen, void *uaddr,
                      socklen_t *ulen);

#endif
