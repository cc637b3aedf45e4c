/* engine.c — the namespace's decisions (engine.h). */
#include "engine/engine.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/unixname.h"

/* Ephemeral-looking virtual numbers for port-0 binds whose kernel port is
 * already a virtual port of the namespace. */
#define VPORT_LO 49152
#define VPORT_HI 65535
/* Unix mode's port 0: the range the kernel would pick from. */
#define EPHEMERAL_LO 32768
#define EPHEMERAL_HI 60999

enum ps_bind_kind ps_engine_bind_kind(const struct ps_config *cfg, uint16_t port,
                                      const char **mode)
{
    return ps_engine_bind_kind_of(cfg, PS_PROTO_TCP, port, mode);
}

enum ps_bind_kind ps_engine_bind_kind_of(const struct ps_config *cfg, enum ps_proto proto,
                                         uint16_t port, const char **mode)
{
    if (cfg->mode == PS_MODE_OBSERVE) {
        *mode = "observe";
        return PS_BIND_RECORD;
    }
    if (port != 0 && cfg->ports.n && !ps_portspec_contains(&cfg->ports, port)) {
        *mode = "pass";
        return PS_BIND_RECORD;
    }
    bool swap = ps_engine_swaps(cfg, proto);
    *mode = swap || cfg->mode != PS_MODE_UNIX ? ps_mode_name(cfg->mode) : "remap";
    return port == 0 && !swap ? PS_BIND_ANY : PS_BIND_CLAIM;
}

void ps_engine_event_new(const struct ps_proc *p, struct ps_event *e, enum ps_ev ev)
{
    struct timespec ts;
    ps_event_init(e, ev);
    clock_gettime(CLOCK_REALTIME, &ts);
    e->ts = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) / 1e6;
    e->pid = p->pid;
    const char *prog = p->prog ? p->prog : "";
    size_t n = strnlen(prog, sizeof e->prog - 1);
    memcpy(e->prog, prog, n);
    e->prog[n] = 0;
}

long ps_engine_uid(const struct ps_proc *p)
{
    return p->uid >= 0 ? p->uid : (long)geteuid();
}

static uint16_t pick_vport(struct ps_session *s, uint16_t want, uint16_t lo, uint16_t hi)
{
    ps_ns_used_ports(s->table, &s->used);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint32_t start = want ? want * 2654435761u
                          : (uint32_t)ts.tv_nsec ^ (uint32_t)s->proc->pid * 2654435761u;
    return ps_reserve_pick(&s->table->res, &s->used, want, lo, hi, start);
}

uint16_t ps_engine_bind_any(struct ps_session *s, uint16_t kport)
{
    return pick_vport(s, kport, VPORT_LO, VPORT_HI);
}

static bool path_taken(const struct ps_session *s, const char *path)
{
    const struct ps_ns *ns = s->table;
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i].rpath, path) && s->ops->alive(s->ctx, &ns->v[i]))
            return true;
    return false;
}

static void refuse(struct ps_bind_plan *p, int err)
{
    p->plan = PS_PLAN_REFUSE;
    p->err = err;
}

/* Unix mode, no conflict: DIR/<port>@<addr>, or DIR/<port>@<addr>#<n>
 * beside the sockets it shares the port with. */
static void decide_unix(struct ps_session *s, const struct ps_bindreq *req,
                        struct ps_bind_plan *p)
{
    if (p->vport == 0) {
        p->chosen = true;
        if (!(p->vport = pick_vport(s, 0, EPHEMERAL_LO, EPHEMERAL_HI)))
            return refuse(p, EADDRINUSE);
    }
    struct ps_uname u = {.port = p->vport, .addr = req->baddr.addr};
    size_t nlen = 0;
    for (u.n = 0; u.n <= PS_UNAME_SHARE_MAX; u.n++) {
        nlen = ps_uname_format(p->path, sizeof p->path, s->cfg->dir, &u);
        if (!nlen || !path_taken(s, p->path))
            break;
    }
    if (!nlen || u.n > PS_UNAME_SHARE_MAX)
        return refuse(p, nlen ? EADDRINUSE : ENAMETOOLONG);
    p->plan = PS_PLAN_UNIX_PATH;
}

void ps_engine_bind_decide(struct ps_session *s, int sock, int fam,
                           const struct ps_bindreq *req, struct ps_bind_plan *p)
{
    memset(p, 0, sizeof *p);
    p->vport = req->port;
    const struct ps_entry *c;
    while ((c = ps_ns_conflict(s->table, req))) {
        if (s->ops->live(s->ctx, c))
            break;
        /* Its holders died without a close: retire it for everyone. */
        s->ops->retire(s->ctx, c);
    }
    if (c && s->ops->refuses_first(s->ctx, sock, fam)) {
        p->plan = PS_PLAN_KERNEL;
        return;
    }
    if (c) {
        p->holder = c;
        return refuse(p, EADDRINUSE);
    }
    if (ps_engine_swaps(s->cfg, req->proto))
        return decide_unix(s, req, p);
    /* Sharing (SO_REUSEADDR/SO_REUSEPORT) happens on one real port, so the
     * kernel itself judges the rest (listen on a shared port, uid rules). */
    const struct ps_entry *sh = ps_ns_sharer(s->table, req);
    p->plan = PS_PLAN_REAL_PORT;
    p->rport = sh && s->ops->alive(s->ctx, sh) ? sh->rport : 0;
}

enum ps_connect_kind ps_engine_connect_kind(const struct ps_config *cfg, uint16_t port)
{
    if (cfg->mode == PS_MODE_OBSERVE)
        return PS_CONNECT_OBSERVE;
    if (!cfg->ports.n)
        return PS_CONNECT_ROUTE;
    return ps_portspec_contains(&cfg->ports, port) ? PS_CONNECT_STRICT : PS_CONNECT_PASS;
}

/* One of the live sockets sharing e's port and address (SO_REUSEPORT):
 * the kernel spreads connections over them, this picks one at random. */
static const struct ps_entry *pick_sharer(const struct ps_session *s, const struct ps_entry *e)
{
    const struct ps_ns *ns = s->table;
    const struct ps_entry *c[16];
    int n = 0;
    for (size_t i = 0; i < ns->n && n < 16; i++) {
        const struct ps_entry *x = &ns->v[i];
        if (x->vport == e->vport && x->listening && x->rpath[0] && x->fam == e->fam &&
            ps_addr_equal(&x->baddr.addr, &e->baddr.addr) && s->ops->alive(s->ctx, x))
            c[n++] = x;
    }
    if (n < 2)
        return e;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return c[(unsigned)(ts.tv_nsec / 1000) % (unsigned)n];
}

void ps_engine_connect_route(struct ps_session *s, enum ps_connect_kind k,
                             const struct ps_addr *dst, uint16_t port, struct ps_route *r)
{
    ps_engine_route(s, PS_PROTO_TCP, k, dst, port, r);
}

void ps_engine_route(struct ps_session *s, enum ps_proto proto, enum ps_connect_kind k,
                     const struct ps_addr *dst, uint16_t port, struct ps_route *r)
{
    memset(r, 0, sizeof *r);
    r->cslot = -1;
    bool strict = k == PS_CONNECT_STRICT;
    if (k != PS_CONNECT_ROUTE && !strict)
        return;   /* PS_ROUTE_PASS */
    if (!strict && !ps_ns_port_receiving(s->table, proto, port))
        return;
    bool local = ps_addr_is_loopback(dst) || ps_addr_is_wildcard(dst);
    const struct ps_entry *e =
        ps_ns_route_proto(s->table, proto, dst, port, local, s->ops->alive, s->ctx);
    if (!e && !local && s->ops->local_address(s->ctx, dst))
        e = ps_ns_route_proto(s->table, proto, dst, port, true, s->ops->alive, s->ctx);
    if (!e) {
        r->kind = strict ? PS_ROUTE_REFUSE : PS_ROUTE_PASS;
        return;
    }
    if (e->rpath[0]) {
        e = pick_sharer(s, e);
        r->kind = PS_ROUTE_PATH;
        memcpy(r->path, e->rpath, sizeof r->path);
    } else {
        r->kind = PS_ROUTE_PORT;
        r->rport = e->rport;
    }
    r->cslot = e->cslot;
    memcpy(r->sid, e->sid, sizeof r->sid);
}
