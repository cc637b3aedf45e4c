/* unix.h — unix mode: swapping a TCP socket for an AF_UNIX one on the same
 * descriptor, and translating AF_UNIX names back to the inet names the
 * program expects (core/unixname.h has the name format). */
#ifndef PS_UNIX_H
#define PS_UNIX_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/fdtable.h"
#include "core/unixname.h"

/* Replaces the TCP socket fd (family fam, AF_INET or AF_INET6) by a fresh AF_UNIX stream
 * socket on the same number, keeping O_NONBLOCK, FD_CLOEXEC, timeouts,
 * SO_LINGER, SO_KEEPALIVE and SO_REUSEADDR. The TCP-level options (and IPV6_V6ONLY,
 * SO_REUSEPORT) already set are returned in *opts for emulation. On failure
 * fd is untouched and errno is one bind or connect can give (ENOBUFS when
 * there was no descriptor to spare). */
int ps_unix_swap(int fd, int fam, struct ps_opts **opts);
/* The same, but the new socket is non-blocking for now whatever the
 * program's was; *fl gets the program's status flags, for F_SETFL after a
 * first connect that must not wait. */
int ps_unix_swap_nb(int fd, int fam, struct ps_opts **opts, int *fl);
/* The way back, for a swapped socket that dials a destination the namespace
 * does not serve: a fresh TCP socket of family fam with the same flags and
 * the emulated options applied. */
int ps_unix_unswap(int fd, int fam, const struct ps_opts *opts);
/* A sockaddr_un for a ps_uname_format result; returns its length. */
socklen_t ps_unix_sockaddr(const char *name, size_t len, struct sockaddr_un *su);

/* fd's own name (peer false) or its peer's as a name of this namespace:
 * 0 ours, 1 connected to an unnamed peer (peer only), -1 otherwise. */
int ps_unix_uname(int fd, bool peer, struct ps_uname *u);
/* The inet name a program sees for fd, given the kernel's AF_UNIX name k
 * (own or peer's). Returns false when fd is not a socket of this namespace. */
bool ps_unix_inet_name(int fd, bool peer, const struct sockaddr_storage *k, socklen_t kl,
                       struct sockaddr_storage *out, socklen_t *outl);
/* For accept: the peer name k of a connection accepted from listener lfd.
 * Fills *fam with the listener's family; false when lfd is not ours. */
bool ps_unix_accepted_peer(int lfd, const struct sockaddr_storage *k, socklen_t kl,
                           struct sockaddr_storage *out, socklen_t *outl, int *fam);

/* A connect of fd to path that found the backlog full and said EINPROGRESS:
 * remembered (with fd's inode, so a reused number is not mistaken for it)
 * until the program asks SO_ERROR. True when fd was already pending. */
bool ps_unix_pending_set(int fd, const char *path);
/* SO_ERROR of a pending fd: one more non-blocking connect completes it.
 * True and *err (0 connected, else the error) when fd was pending. */
bool ps_unix_pending_take(int fd, int *err);

#endif
