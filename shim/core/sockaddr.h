/* sockaddr.h — inet addresses as the namespace sees them.
 *
 * Every address is kept as 16 IPv6 bytes with IPv4 stored v4-mapped
 * (::ffff:a.b.c.d), plus the family of the socket it came from, so the
 * matching rules (wildcard, dual stack, v4-mapped) are one set of byte
 * comparisons. Pure: no sockets are touched here. */
#ifndef PS_SOCKADDR_H
#define PS_SOCKADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>

struct ps_addr {
    uint8_t fam;       /* AF_INET or AF_INET6: the sockaddr's family */
    uint8_t b[16];     /* IPv6 bytes; IPv4 is stored as ::ffff:a.b.c.d */
};

#define PS_ADDRSTRLEN 64

/* Reads an AF_INET/AF_INET6 sockaddr. Returns 0 and fills *a and *port, or
 * -1 when sa is NULL, too short for its family, or not inet. */
int ps_addr_from_sockaddr(const struct sockaddr *sa, size_t len,
                          struct ps_addr *a, uint16_t *port);
/* Rewrites the port of an inet sockaddr in place (len already validated). */
void ps_sockaddr_set_port(struct sockaddr *sa, uint16_t port);
/* Builds a sockaddr of family a->fam; returns its length. */
socklen_t ps_addr_to_sockaddr(const struct ps_addr *a, uint16_t port,
                              struct sockaddr_storage *ss);

void ps_addr_v4(struct ps_addr *a, uint32_t host_order_ip);   /* AF_INET */
bool ps_addr_is_v4(const struct ps_addr *a);   /* AF_INET, or v4-mapped */
bool ps_addr_is_wildcard(const struct ps_addr *a); /* 0.0.0.0, ::, ::ffff:0.0.0.0 */
bool ps_addr_is_loopback(const struct ps_addr *a); /* 127/8, ::1, ::ffff:127/8 */
bool ps_addr_equal(const struct ps_addr *x, const struct ps_addr *y); /* bytes only */

/* Text form: "127.0.0.1" for v4 (and v4-mapped on an AF_INET address), "::1",
 * "::ffff:127.0.0.1" for a v4-mapped address of an AF_INET6 socket. */
const char *ps_addr_format(const struct ps_addr *a, char buf[PS_ADDRSTRLEN]);
/* Parses the text form back; fam is AF_INET for dotted quads, AF_INET6
 * otherwise. */
int ps_addr_parse(const char *s, struct ps_addr *a);

/* A family as the manifest and report --json write it (docs/manifest.md):
 * 4 for AF_INET, 6 for AF_INET6, 0 for anything else. Only those formats
 * speak in codes; the code everywhere else holds AF_INET/AF_INET6. */
int ps_fam_code(int af);
/* The code back: AF_INET for 4, AF_INET6 for 6, 0 for anything else. */
int ps_fam_from_code(int code);

/* A bound socket's address as the kernel's bind-conflict rules see it. */
struct ps_bindaddr {
    struct ps_addr addr;
    bool v6only;       /* IPV6_V6ONLY of an AF_INET6 socket */
};

/* Would two bound sockets on the same port cover a common address?
 * 0.0.0.0 covers every IPv4 address, :: covers every IPv6 address and,
 * without IPV6_V6ONLY, every IPv4 address too. */
bool ps_bindaddr_overlap(const struct ps_bindaddr *x, const struct ps_bindaddr *y);

/* Would a connect to dst reach a listener bound to l? dst_local says whether
 * dst is an address of this host (loopback and wildcard always are). Returns
 * 0 for no, 2 for an exact address match, 1 for a wildcard match (the kernel
 * prefers exact listeners). */
int ps_listener_match(const struct ps_bindaddr *l, const struct ps_addr *dst,
                      bool dst_local);

#endif
