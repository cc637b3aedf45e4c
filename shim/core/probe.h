/* probe.h — ask the kernel what is really there, for the slow paths only
 * (a bind conflict, `portshim port`): never on every connect. */
#ifndef PS_PROBE_H
#define PS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ns.h"
#include "core/pidset.h"
#include "core/sockaddr.h"

/* 1 if a TCP socket listens on port at addr (a wildcard listener counts for
 * any address of its family, and a listener on addr counts for a wildcard
 * query), 0 if none, -1 if /proc/net/tcp{,6} cannot be read. */
int ps_probe_tcp_listening(const struct ps_addr *addr, uint16_t port);
/* TCP states as /proc/net/tcp prints them. */
#define PS_TCP_TIME_WAIT 0x06
#define PS_TCP_LISTEN 0x0A

/* One row of <proc>/net/tcp{,6}: "  0: 0100007F:1F40 00000000:0000 0A
 * 00000000:00000000 00:00000000 00000000  1000        0 12345 1 ...". */
struct ps_tcp_row {
    struct ps_addr addr;      /* local address (a v4 one v4-mapped) */
    unsigned port;            /* local port */
    unsigned state;           /* PS_TCP_* */
    long uid;
    unsigned long inode;      /* 0: no process's (time-wait) */
};
/* The one parser of those rows: 0 with *r filled, -1 for a line that is
 * not one (the header, a cut line). */
int ps_proc_tcp_row(const char *line, bool v6, struct ps_tcp_row *r);
/* Calls fn for each row of the file at path (fam v6 or not) until fn
 * returns nonzero; lines that are not rows are skipped. Returns fn's
 * nonzero value, 0 when every row was seen, -1 when the file cannot be
 * read. */
int ps_proc_tcp_scan(const char *path, bool v6,
                     int (*fn)(void *ctx, const struct ps_tcp_row *r), void *ctx);
/* 1 if an AF_UNIX socket bound to the socket file path listens, 0 if none,
 * -1 if /proc/net/unix cannot be read. */
int ps_probe_unix_listening(const char *path);
/* The address column of /proc/net/tcp{,6}: nwords 32-bit words, each
 * printed as %08X of its host-order value; out gets 4 * nwords bytes in
 * network order. -1 on a character that is not a hex digit. */
int ps_proc_hexaddr(const char *p, size_t nwords, uint8_t *out);
/* 1 if a process of the set has a descriptor open on the socket whose
 * inode is ino (<proc>/<pid>/fd, proc "/proc" or a test's fake tree), 0 if
 * none has (each holder's descriptors read, or the holder gone), -1 if some
 * holder's descriptors could not be read (another user's: trust it). A
 * live pid is no proof on its own: it may be reused, or the socket closed
 * unseen (a raw close, an exec with FD_CLOEXEC). */
int ps_probe_sock_held(const struct ps_pidset *s, unsigned long long ino, const char *proc);
/* false only when no process pid exists (kill(pid, 0) gives ESRCH). */
bool ps_probe_pid_alive(int pid);
/* Some pid of the set is alive (self counts without a system call). */
bool ps_probe_any_alive(const struct ps_pidset *s, int self);

/* The one definition of a live entry of the namespace, for the library (a
 * bind conflict) and the command (`portshim port`): some holder exists
 * (self counts without a system call; 0: none is self), and a holder still
 * has the socket open when its inode is recorded (not in unix mode: a
 * swapped socket that dials out is swapped back to TCP, another inode, and
 * still holds its port); a listener still listens — on its real TCP
 * endpoint, or on its socket file in unix mode (a listener closed with no
 * close call, at an exec with FD_CLOEXEC, leaves its pid alive and its file
 * behind). What /proc cannot tell (unreadable) counts as live. */
bool ps_probe_entry_live(const struct ps_entry *e, int self);

#endif
