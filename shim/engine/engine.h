/* engine.h — the namespace's decisions, as functions of explicit inputs.
 *
 * A backend (today shim/preload, the LD_PRELOAD library) sees a program's
 * socket calls; the engine decides what each one means in the namespace and
 * hands back a plan; the backend carries it out and records the outcome.
 * The engine never calls the socket functions, defines no libc name, keeps
 * no thread-local state and takes no lock: the backend holds its session's
 * lock (and, for a bind's decision, the manifest's claim) around each call
 * below that says so. What the engine needs to know about the world beyond
 * the table (is a holder still there, is an address this host's) it asks
 * through the session's ops, the way redis's ae.c asks its ae_epoll.c or
 * ae_kqueue.c: the engine never knows which backend it has.
 *
 * The two decisions a reader looks for: ps_engine_bind_decide (what a bind
 * of a virtual port does) and ps_engine_connect_route (where a connect goes).
 * Both are unit-tested without LD_PRELOAD (tests/unit/test_engine.c). */
#ifndef PS_ENGINE_H
#define PS_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/manifest.h"
#include "core/ns.h"
#include "core/reserve.h"

/* What the engine asks of the backend. ctx is the session's. */
struct ps_engine_ops {
    /* Cheap: some holder of e still exists. */
    bool (*alive)(void *ctx, const struct ps_entry *e);
    /* Thorough, for a conflict: a holder still holds it, a listener still
     * listens. */
    bool (*live)(void *ctx, const struct ps_entry *e);
    /* e's holders died without a close: retire it for everyone (record a
     * stale event, remove its socket file) and bring the table up to date. */
    void (*retire)(void *ctx, const struct ps_entry *e);
    /* Would the kernel refuse a bind of sock before looking at the port
     * (already bound, or of another family than fam, AF_INET or AF_INET6)? */
    bool (*refuses_first)(void *ctx, int sock, int fam);
    /* dst is an address of this host (not loopback or a wildcard). */
    bool (*local_address)(void *ctx, const struct ps_addr *dst);
};

/* The process a call and its events are about. For the LD_PRELOAD backend
 * it is the calling process itself; a supervisor backend (seccomp user
 * notification, ptrace) answers calls of another process and records
 * events about that one, not about itself. */
struct ps_proc {
    int pid;
    /* Its short program name, read at each event: a program that rewrites
     * its argv[0] (setproctitle) is named as it names itself then. */
    const char *prog;
    /* Its effective uid, or -1: the caller's own at the call (geteuid), as
     * a program may drop privileges between two binds. */
    long uid;
};

/* One namespace as one process sees it: the configuration, the table the
 * backend keeps current from the manifest, and the process the events are
 * about. */
struct ps_session {
    const struct ps_config *cfg;
    struct ps_ns *table;
    const struct ps_engine_ops *ops;
    void *ctx;
    const struct ps_proc *proc; /* the process a call is about */
    struct ps_portset used;     /* scratch for picking a number (8 KiB) */
};

/* ---- events ------------------------------------------------------------------ */

/* A new event of kind ev about process p (a session's proc): the time now,
 * p's pid and program name. Needs no lock (p is written before any call). */
void ps_engine_event_new(const struct ps_proc *p, struct ps_event *e, enum ps_ev ev);
/* p's effective uid for a bind event (geteuid() when p->uid is -1). */
long ps_engine_uid(const struct ps_proc *p);

/* The protocols the namespace serves (a ps_sock_proto-like value; -1: not
 * a socket): TCP and UDP. The one place that says so. */
static inline bool ps_engine_serves(int proto)
{
    return proto == PS_PROTO_TCP || proto == PS_PROTO_UDP;
}
/* Unix mode swaps TCP sockets for AF_UNIX stream sockets; a UDP socket of
 * a unix-mode namespace is remapped instead (docs/design.md, "UDP"). */
static inline bool ps_engine_swaps(const struct ps_config *cfg, int proto)
{
    return cfg->mode == PS_MODE_UNIX && proto == PS_PROTO_TCP;
}

/* ---- bind ------------------------------------------------------------------ */

/* Before the claim: what kind of bind this is (mode, PORTSHIM_PORTS, port 0).
 * *mode is the manifest's name for it ("observe", "pass", "remap", "unix"). */
enum ps_bind_kind {
    PS_BIND_RECORD,  /* the real bind, as asked, recorded (observe, pass) */
    PS_BIND_ANY,     /* port 0 in remap mode: the kernel's number, unless used */
    PS_BIND_CLAIM,   /* a virtual port: ps_engine_bind_decide under the claim */
};
enum ps_bind_kind ps_engine_bind_kind(const struct ps_config *cfg, uint16_t port,
                                      const char **mode);
/* The same for a socket of protocol proto (ps_engine_bind_kind is TCP's): a
 * UDP bind in unix mode is a remap one ("remap"; port 0: PS_BIND_ANY). */
enum ps_bind_kind ps_engine_bind_kind_of(const struct ps_config *cfg, enum ps_proto proto,
                                         uint16_t port, const char **mode);

enum ps_plan {
    PS_PLAN_REFUSE,     /* fail the call with err (and record it) */
    PS_PLAN_KERNEL,     /* the real call as asked, unrecorded: the kernel answers */
    PS_PLAN_REAL_PORT,  /* bind real port rport (0: any the kernel picks) */
    PS_PLAN_UNIX_PATH,  /* bind the socket file path (unix mode) */
};

struct ps_bind_plan {
    enum ps_plan plan;
    int err;                          /* PS_PLAN_REFUSE */
    const struct ps_entry *holder;    /* EADDRINUSE by a live entry, or NULL */
    uint16_t rport;                   /* PS_PLAN_REAL_PORT */
    uint16_t vport;                   /* the virtual port (picked if req's is 0) */
    bool chosen;                      /* vport was picked by the namespace */
    char path[PS_UPATH_MAX];          /* PS_PLAN_UNIX_PATH */
};

/* Under the lock and the claim, the table current: the decision for a bind
 * of req (fam AF_INET or AF_INET6) on sock. Retires the stale entries it
 * meets (ops->retire). A port 0 in unix mode gets a number from the kernel's range. */
void ps_engine_bind_decide(struct ps_session *s, int sock, int fam,
                           const struct ps_bindreq *req, struct ps_bind_plan *p);

/* Under the lock and the claim, for PS_BIND_ANY once the kernel bound port
 * kport: the virtual number — kport itself when the namespace neither uses
 * nor reserved it, else an ephemeral-looking one never handed out, else the
 * least recently released; 0 when every number is in use (core/reserve.h). */
uint16_t ps_engine_bind_any(struct ps_session *s, uint16_t kport);

/* ---- connect ---------------------------------------------------------------- */

/* Before the table is read: does the namespace route a connect to port? */
enum ps_connect_kind {
    PS_CONNECT_OBSERVE,  /* the real connect, recorded */
    PS_CONNECT_PASS,     /* the real connect, unrecorded (outside PORTSHIM_PORTS) */
    PS_CONNECT_ROUTE,    /* routed if a listener of the namespace has the port */
    PS_CONNECT_STRICT,   /* a strictly virtual port: routed, or refused */
};
enum ps_connect_kind ps_engine_connect_kind(const struct ps_config *cfg, uint16_t port);

enum ps_route_kind {
    PS_ROUTE_PASS,       /* not the namespace's: the real connect, as asked */
    PS_ROUTE_REFUSE,     /* a strictly virtual port nobody listens on */
    PS_ROUTE_PORT,       /* connect to the same address, real port rport */
    PS_ROUTE_PATH,       /* connect to the socket file path (unix mode) */
};

struct ps_route {
    enum ps_route_kind kind;
    uint16_t rport;
    char path[PS_UPATH_MAX];
    char sid[PS_SID_MAX];   /* the listener's */
    int cslot;              /* its connect counter (-1: none) */
};

/* Under the lock, the table current: where a TCP connect of kind k (ROUTE
 * or STRICT) to dst:port goes. Among SO_REUSEPORT sharers of a unix-mode
 * listener one is picked at random, as the kernel spreads connections. */
void ps_engine_connect_route(struct ps_session *s, enum ps_connect_kind k,
                             const struct ps_addr *dst, uint16_t port, struct ps_route *r);
/* The same for a socket of protocol proto: a UDP connect, or a datagram
 * sent to dst:port, goes to the real port of the UDP socket of the
 * namespace bound there (PS_ROUTE_PORT; never a path: UDP is remapped in
 * every mode), else passes (or is refused, for a strictly virtual port). */
void ps_engine_route(struct ps_session *s, enum ps_proto proto, enum ps_connect_kind k,
                     const struct ps_addr *dst, uint16_t port, struct ps_route *r);

#endif
