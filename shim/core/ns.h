/* ns.h — the namespace's live mappings, derived from manifest events.
 *
 * Pure logic: the table is fed events (ps_ns_apply) and answers the three
 * questions the library asks — would this bind conflict, which real port
 * must a sharing bind take, and where does this connect go — by the Linux
 * rules for TCP (address overlap, SO_REUSEADDR, SO_REUSEPORT, dual stack). */
#ifndef PS_NS_H
#define PS_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/manifest.h"
#include "core/pidset.h"
#include "core/reserve.h"
#include "core/sockaddr.h"

struct ps_entry {
    char sid[PS_SID_MAX];
    int pid;                    /* the binding process */
    char prog[PS_PROG_MAX];
    double ts_bind, ts_listen;
    int fam;                    /* AF_INET or AF_INET6 */
    enum ps_proto proto;        /* binds of other protocols never conflict */
    struct ps_bindaddr baddr;   /* the virtual address, as bound */
    uint16_t vport;
    struct ps_addr raddr;
    uint16_t rport;
    char rpath[PS_UPATH_MAX];   /* unix mode: the socket file */
    bool reuseaddr, reuseport;
    long uid;
    unsigned long long ino;     /* the socket's inode (0: not recorded) */
    bool listening;
    struct ps_pidset holders;   /* pids that hold a descriptor of it */
    uint64_t seq;               /* bind order: among equals the oldest wins */
    size_t rprev, rnext;        /* by real port (index + 1, 0 none); not unix */
    int cslot;                  /* its connect counter (-1: connects are lined) */
    long long cbase;            /* the counter's value at its bind */
};

/* The entries v[0..n) are in no particular order (a removal moves the last
 * entry into the gap); where order decides, the oldest bind (seq) wins.
 * Indexes keep every event's update O(1): sid -> entry, pid -> the sids it
 * held (stale ones are skipped and pruned), and real port -> entries (for
 * ps_ns_by_real, asked once per routed connect by the report), so reading a
 * manifest is linear in its length whatever the number of live entries. */
struct ps_ns {
    struct ps_entry *v;
    size_t n, cap;
    uint64_t seq;               /* the next bind's */
    size_t *sidx;               /* sid hash: index + 1, 0 empty */
    size_t sidx_cap;
    struct ps_pidmap pids;      /* pid -> the sids it held */
    size_t *rb;                 /* real port hash: first entry's index + 1 */
    size_t rb_cap;
    struct ps_reserve res;      /* numbers handed out by binds to port 0 */
};

void ps_ns_init(struct ps_ns *ns);
void ps_ns_free(struct ps_ns *ns);
void ps_ns_apply(struct ps_ns *ns, const struct ps_event *e);
/* The holder rules, in one place for every reader that follows a socket's
 * holders (this table, the report's socket lifetimes): an inherit adds
 * e->holder (when the event names one); a release drops e->holder, or e->pid
 * when it names none; an exit drops e->pid from every socket it held. Each
 * returns true when the socket was held and is now held by nobody: it is
 * closed for everyone. */
void ps_holders_inherit(struct ps_pidset *h, const struct ps_event *e);
bool ps_holders_release(struct ps_pidset *h, const struct ps_event *e);
bool ps_holders_exit(struct ps_pidset *h, int pid);
/* ps_event_fn-shaped wrapper: ctx is the struct ps_ns. */
void ps_ns_apply_cb(void *ns, const struct ps_event *e);

struct ps_bindreq {
    enum ps_proto proto;
    struct ps_bindaddr baddr;
    uint16_t port;
    bool reuseaddr, reuseport;
    long uid;
};

/* The first entry that makes this bind fail with EADDRINUSE, or NULL. */
const struct ps_entry *ps_ns_conflict(const struct ps_ns *ns, const struct ps_bindreq *r);
/* An entry the bind overlaps but may share (reuse flags): the new socket
 * must take the same real port so the kernel applies the sharing rules. */
const struct ps_entry *ps_ns_sharer(const struct ps_ns *ns, const struct ps_bindreq *r);

typedef bool (*ps_alive_fn)(void *ctx, const struct ps_entry *e);

/* The listener a TCP connect to dst:port reaches, or NULL (alive may be
 * NULL). */
const struct ps_entry *ps_ns_route(const struct ps_ns *ns, const struct ps_addr *dst,
                                   uint16_t port, bool dst_local, ps_alive_fn alive,
                                   void *ctx);
/* The same for a protocol: the TCP listener, or the bound UDP socket, that
 * a connect or datagram to dst:port reaches (the kernel's choice among
 * sockets bound to one port: exact address before wildcard, own family). */
const struct ps_entry *ps_ns_route_proto(const struct ps_ns *ns, enum ps_proto proto,
                                         const struct ps_addr *dst, uint16_t port,
                                         bool dst_local, ps_alive_fn alive, void *ctx);
/* e receives what is sent to its port: a TCP listener, any bound UDP
 * socket (UDP has no listen). */
bool ps_entry_receives(const struct ps_entry *e, enum ps_proto proto);
/* The entry whose real endpoint is addr:rport (wildcard real addresses match
 * any address of their family), or NULL. */
const struct ps_entry *ps_ns_by_real(const struct ps_ns *ns, const struct ps_addr *addr,
                                     uint16_t rport, bool listening_only);
/* The same among the entries of one protocol (TCP's and UDP's port
 * spaces are apart, as in the kernel; ps_ns_by_real is TCP's). */
const struct ps_entry *ps_ns_by_real_proto(const struct ps_ns *ns, enum ps_proto proto,
                                           const struct ps_addr *addr, uint16_t rport,
                                           bool listening_only);
const struct ps_entry *ps_ns_find(const struct ps_ns *ns, const char *sid);
bool ps_ns_port_used(const struct ps_ns *ns, uint16_t vport);
bool ps_ns_port_listening(const struct ps_ns *ns, uint16_t vport);   /* TCP */
/* Some entry of proto receives on vport (ps_entry_receives). */
bool ps_ns_port_receiving(const struct ps_ns *ns, enum ps_proto proto, uint16_t vport);
/* The lowest connect-counter slot no live entry holds, or -1. */
int ps_ns_free_cslot(const struct ps_ns *ns);
/* Every virtual port of a live entry, into *set (cleared first). */
void ps_ns_used_ports(const struct ps_ns *ns, struct ps_portset *set);
bool ps_entry_held_by(const struct ps_entry *e, int pid);

#endif
