/* fdtable.h — what this process knows about each descriptor.
 *
 * A bound socket of ours is a refcounted ps_sock shared by every descriptor
 * that dup() made of it; accepted and routed sockets carry just the virtual
 * and real ports their names translate between. Lookups of the kind are
 * lock-free (close() of an ordinary file must stay cheap); every change is
 * made by the caller under its own mutex. */
#ifndef PS_FDTABLE_H
#define PS_FDTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/manifest.h"

enum ps_fdkind {
    PS_FD_NONE = 0,
    PS_FD_BOUND,       /* a socket we bound (listener or client): owns a sid */
    PS_FD_ACCEPTED,    /* accepted from one of our listeners */
    PS_FD_ROUTED,      /* only its peer is ours: a client we routed */
    PS_FD_DGRAM,       /* a UDP socket, neither bound nor routed by us (yet):
                          its datagrams' addresses are translated */
};

struct ps_sock {
    char sid[PS_SID_MAX];
    int refs;               /* descriptors in this process */
    bool listening;
    bool shared;            /* a forked child may hold it too */
    int fam;
    uint16_t vport, rport;
    char upath[108];        /* unix mode: its socket file, removed on the last close */
    int cslot;              /* its connect counter (preload/counts.h), -1 none */
    long long cbase;        /* the counter's value at its bind */
    struct ps_sock *next, *prev;
};

/* unix mode: what a program set on a socket that AF_UNIX has no place for
 * (TCP-level options, IPV6_V6ONLY, SO_REUSEPORT), shared by its dups. */
#define PS_OPTS_MAX 16
struct ps_opts {
    int refs;
    int n;
    struct { int level, name, val; } v[PS_OPTS_MAX];
};

struct ps_fdinfo {
    unsigned char kind;     /* enum ps_fdkind; read with atomics */
    unsigned char ufam;     /* unix mode: an AF_UNIX socket standing in for a
                               TCP socket of this family (AF_INET or
                               AF_INET6); 0: none */
    unsigned char udp;      /* a UDP socket (any kind but NONE): send and
                               receive calls translate its datagrams' ports */
    struct ps_opts *opts;   /* with ufam: the emulated options (may be NULL) */
    uint16_t vport, rport;  /* own name: the kernel's rport reads as vport */
    uint16_t pvport, prport;/* peer's name: prport reads as pvport (0: none) */
    struct ps_sock *sock;   /* PS_FD_BOUND only */
};

#define PS_FD_LIMIT (1 << 20)

/* Lock-free: the kind of fd, PS_FD_NONE for unknown or out of range. */
enum ps_fdkind ps_fd_kind(int fd);
/* Copy of the entry (kind NONE if none). */
struct ps_fdinfo ps_fd_get(int fd);

/* Under the caller's lock. Return -1 if fd is out of range or memory ran out. */
int ps_fd_set(int fd, enum ps_fdkind kind, uint16_t vport, uint16_t rport, struct ps_sock *s);
/* fd is a UDP socket: an unknown fd becomes PS_FD_DGRAM; a known one keeps
 * its kind. */
int ps_fd_set_udp(int fd);
/* Records the peer's virtual name; an unknown fd becomes PS_FD_ROUTED. */
int ps_fd_set_peer(int fd, uint16_t pvport, uint16_t prport);
/* Forgets fd. If it held a bound socket whose last descriptor this was, the
 * socket is returned (unlinked; the caller records the close and frees it). */
struct ps_sock *ps_fd_detach(int fd);
/* Marks fd (of any kind but NONE) as swapped for an AF_UNIX socket standing
 * in for a TCP socket of family fam; takes over opts (may be NULL). */
void ps_fd_set_unix(int fd, int fam, struct ps_opts *opts);
/* The options of a swapped fd, created on demand (NULL: out of memory). */
struct ps_opts *ps_fd_opts(int fd);
/* An option's stored value: true and *val, or false when never set. */
bool ps_opts_get(const struct ps_opts *o, int level, int name, int *val);
/* Stores an option; false when the table is full. */
bool ps_opts_set(struct ps_opts *o, int level, int name, int val);
struct ps_opts *ps_opts_new(void);
void ps_opts_unref(struct ps_opts *o);
/* newfd becomes another descriptor of oldfd's socket (newfd must be clear). */
void ps_fd_dup(int oldfd, int newfd);

struct ps_sock *ps_sock_new(const char *sid, int fam, uint16_t vport, uint16_t rport);
void ps_sock_free(struct ps_sock *s);
/* The bound sockets this process holds, for fork and exit records. */
struct ps_sock *ps_sock_first(void);
/* After fork in the child: nothing else needs resetting; marks all shared. */
void ps_sock_mark_all_shared(void);

#endif
