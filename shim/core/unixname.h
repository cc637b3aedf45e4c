/* unixname.h — the names of unix-mode sockets, and reading them back.
 *
 * In unix mode every inet name a program would see is written into the
 * AF_UNIX name of the socket that replaced its TCP socket, so it can be
 * read back statelessly (across exec, in any process of the namespace):
 *
 *   listener (path):   DIR/<port>@<addr>[#<n>]    e.g. DIR/8000@127.0.0.1
 *   client (abstract): "\0" DIR/c/<port>@<addr>   e.g. "\0DIR/c/41234@::1"
 *
 * <addr> is the text form of ps_addr_format: dotted quad for AF_INET,
 * IPv6 text (v4-mapped as ::ffff:a.b.c.d) for AF_INET6, so the text gives
 * the family back. #<n> tells apart sockets that share a port (SO_REUSEPORT,
 * SO_REUSEADDR). Pure: no sockets are touched here. */
#ifndef PS_UNIXNAME_H
#define PS_UNIXNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sockaddr.h"

#define PS_SUN_PATH 108   /* sizeof(((struct sockaddr_un *)0)->sun_path) */
/* The longest name after DIR: "/c/65535@ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
 * (abstract, plus its leading NUL) or "/65535@...#NN" (path, plus the
 * terminating NUL). */
#define PS_UNAME_TAIL_MAX 56
/* The longest PORTSHIM_DIR unix mode accepts. */
#define PS_UNAME_DIR_MAX (PS_SUN_PATH - PS_UNAME_TAIL_MAX)
#define PS_UNAME_SHARE_MAX 99   /* #1 .. #99 */

struct ps_uname {
    bool client;          /* the abstract client form */
    uint16_t port;
    struct ps_addr addr;  /* fam AF_INET or AF_INET6, from the text */
    int n;                /* 0: no #n */
};

/* Writes the name into buf (cap bytes): for a listener the NUL-terminated
 * path; for a client the abstract name, starting with its NUL byte (not
 * terminated). Returns the length that goes into sun_path (path: without
 * its NUL), or 0 when it does not fit. */
size_t ps_uname_format(char *buf, size_t cap, const char *dir, const struct ps_uname *u);
/* Reads a sun_path of len bytes (abstract when it starts with NUL). Returns
 * 0 and fills *u when it is a name of this namespace (under dir), -1 when
 * not. */
int ps_uname_parse(const char *sun_path, size_t len, const char *dir, struct ps_uname *u);
/* Does every name fit sun_path under dir? */
bool ps_uname_dir_fits(const char *dir);

/* addr as a socket of family fam (AF_INET or AF_INET6) sees it: an IPv4 address on an
 * AF_INET6 socket is v4-mapped, a v4-mapped one on AF_INET is plain. */
struct ps_addr ps_addr_as_family(const struct ps_addr *a, int fam);
/* 127.0.0.1 (AF_INET) or ::1 (AF_INET6). */
struct ps_addr ps_addr_loopback(int fam);

#endif
