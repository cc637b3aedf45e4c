/* ns.c — live mappings and the kernel's bind/route rules over them. */
#include "core/ns.h"

#include <stdlib.h>
#include <string.h>

void ps_ns_init(struct ps_ns *ns) { memset(ns, 0, sizeof *ns); }

void ps_ns_free(struct ps_ns *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        ps_pidset_free(&ns->v[i].holders);
    free(ns->v);
    ps_reserve_free(&ns->res);
    memset(ns, 0, sizeof *ns);
}

static struct ps_entry *find(struct ps_ns *ns, const char *sid)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i].sid, sid))
            return &ns->v[i];
    return NULL;
}

const struct ps_entry *ps_ns_find(const struct ps_ns *ns, const char *sid)
{
    return find((struct ps_ns *)ns, sid);
}

static void remove_entry(struct ps_ns *ns, struct ps_entry *e)
{
    ps_pidset_free(&e->holders);
    ps_reserve_release(&ns->res, e->vport);
    size_t i = (size_t)(e - ns->v);
    memmove(&ns->v[i], &ns->v[i + 1], (ns->n - i - 1) * sizeof *e);
    ns->n--;
}

bool ps_entry_held_by(const struct ps_entry *e, int pid)
{
    return ps_pidset_has(&e->holders, pid);
}

static void apply_bind(struct ps_ns *ns, const struct ps_event *ev)
{
    /* Only namespace binds claim ports; observe-mode and pass-through binds
     * are records, not mappings. */
    if (!ev->ok || !ev->sid[0] || ev->port < 0 || !ev->has_addr ||
        (strcmp(ev->mode, "remap") && strcmp(ev->mode, "unix")))
        return;
    struct ps_entry *e = find(ns, ev->sid);
    if (e) {
        remove_entry(ns, e);
    }
    if (ns->n == ns->cap) {
        size_t ncap = ns->cap ? ns->cap * 2 : 16;
        struct ps_entry *nv = realloc(ns->v, ncap * sizeof *nv);
        if (!nv)
            return;
        ns->v = nv;
        ns->cap = ncap;
    }
    e = &ns->v[ns->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->sid, ev->sid, sizeof e->sid);
    e->pid = ev->pid;
    memcpy(e->prog, ev->prog, sizeof e->prog);
    e->ts_bind = ev->ts;
    e->fam = ev->fam ? ev->fam : ev->addr.fam;
    e->baddr.addr = ev->addr;
    e->baddr.v6only = ev->v6only;
    e->vport = (uint16_t)ev->port;
    if (ev->has_raddr)
        e->raddr = ev->raddr;
    else
        e->raddr = ev->addr;
    e->rport = ev->rport >= 0 ? (uint16_t)ev->rport : 0;
    memcpy(e->rpath, ev->rpath, sizeof e->rpath);
    e->reuseaddr = ev->reuseaddr;
    e->reuseport = ev->reuseport;
    e->uid = ev->uid;
    ps_pidset_add(&e->holders, ev->pid);
    if (ev->chosen)
        ps_reserve_handout(&ns->res, e->vport);
    e->cslot = ev->cslot >= 0 && ev->cslot < PS_CSLOT_MAX && ev->cbase >= 0 ? ev->cslot : -1;
    e->cbase = e->cslot >= 0 ? ev->cbase : 0;
}

void ps_ns_apply(struct ps_ns *ns, const struct ps_event *ev)
{
    struct ps_entry *e;
    switch (ev->ev) {
    case PS_EV_BIND:
        apply_bind(ns, ev);
        break;
    case PS_EV_LISTEN:
        if (ev->ok && (e = find(ns, ev->sid))) {
            e->listening = true;
            e->ts_listen = ev->ts;
        }
        break;
    case PS_EV_CLOSE:
    case PS_EV_STALE:
        if ((e = find(ns, ev->sid)))
            remove_entry(ns, e);
        break;
    case PS_EV_INHERIT:
        if ((e = find(ns, ev->sid)) && ev->holder > 0)
            ps_pidset_add(&e->holders, ev->holder);
        break;
    case PS_EV_RELEASE:
        if ((e = find(ns, ev->sid)) &&
            ps_pidset_drop(&e->holders, ev->holder > 0 ? ev->holder : ev->pid) &&
            e->holders.n == 0)
            remove_entry(ns, e);
        break;
    case PS_EV_EXIT:
        for (size_t i = ns->n; i-- > 0;) {
            e = &ns->v[i];
            if (ps_pidset_drop(&e->holders, ev->pid) && e->holders.n == 0)
                remove_entry(ns, e);
        }
        break;
    default:
        break;
    }
}

void ps_ns_apply_cb(void *ns, const struct ps_event *e) { ps_ns_apply(ns, e); }

/* Linux's inet_csk_bind_conflict, for two sockets on one port. */
static bool may_share(const struct ps_entry *e, const struct ps_bindreq *r)
{
    if (r->reuseaddr && e->reuseaddr && !e->listening)
        return true;
    if (r->reuseport && e->reuseport && r->uid == e->uid)
        return true;
    return false;
}

const struct ps_entry *ps_ns_conflict(const struct ps_ns *ns, const struct ps_bindreq *r)
{
    for (size_t i = 0; i < ns->n; i++) {
        const struct ps_entry *e = &ns->v[i];
        if (e->vport == r->port && ps_bindaddr_overlap(&e->baddr, &r->baddr) &&
            !may_share(e, r))
            return e;
    }
    return NULL;
}

const struct ps_entry *ps_ns_sharer(const struct ps_ns *ns, const struct ps_bindreq *r)
{
    for (size_t i = 0; i < ns->n; i++) {
        const struct ps_entry *e = &ns->v[i];
        if (e->vport == r->port && ps_bindaddr_overlap(&e->baddr, &r->baddr) &&
            may_share(e, r))
            return e;
    }
    return NULL;
}

const struct ps_entry *ps_ns_route(const struct ps_ns *ns, const struct ps_addr *dst,
                                   uint16_t port, bool dst_local, ps_alive_fn alive,
                                   void *ctx)
{
    const struct ps_entry *best = NULL;
    int best_score = 0;
    for (size_t i = 0; i < ns->n; i++) {
        const struct ps_entry *e = &ns->v[i];
        if (e->vport != port || !e->listening)
            continue;
        int s = ps_listener_match(&e->baddr, dst, dst_local);
        if (!s)
            continue;
        /* Among equals the kernel prefers a socket of the caller's family. */
        s = s * 2 + (ps_addr_is_v4(dst) == (e->fam == 4));
        if (s > best_score && (!alive || alive(ctx, e))) {
            best = e;
            best_score = s;
        }
    }
    return best;
}

const struct ps_entry *ps_ns_by_real(const struct ps_ns *ns, const struct ps_addr *addr,
                                     uint16_t rport, bool listening_only)
{
    for (size_t i = 0; i < ns->n; i++) {
        const struct ps_entry *e = &ns->v[i];
        if (e->rport != rport || e->rpath[0] || (listening_only && !e->listening))
            continue;
        if (ps_addr_equal(&e->raddr, addr) ||
            (ps_addr_is_wildcard(&e->raddr) && ps_addr_is_v4(&e->raddr) == ps_addr_is_v4(addr)) ||
            (ps_addr_is_wildcard(&e->raddr) && e->fam == 6 && !e->baddr.v6only))
            return e;
    }
    return NULL;
}

bool ps_ns_port_used(const struct ps_ns *ns, uint16_t vport)
{
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i].vport == vport)
            return true;
    return false;
}

bool ps_ns_port_listening(const struct ps_ns *ns, uint16_t vport)
{
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i].vport == vport && ns->v[i].listening)
            return true;
    return false;
}

void ps_ns_used_ports(const struct ps_ns *ns, struct ps_portset *set)
{
    memset(set, 0, sizeof *set);
    for (size_t i = 0; i < ns->n; i++)
        ps_portset_add(set, ns->v[i].vport);
}

int ps_ns_free_cslot(const struct ps_ns *ns)
{
    uint64_t used[PS_CSLOT_MAX / 64];
    memset(used, 0, sizeof used);
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i].cslot >= 0 && ns->v[i].cslot < PS_CSLOT_MAX)
            used[ns->v[i].cslot / 64] |= (uint64_t)1 << (ns->v[i].cslot % 64);
    for (int w = 0; w < PS_CSLOT_MAX / 64; w++)
        if (~used[w])
            return w * 64 + __builtin_ctzll(~used[w]);
    return -1;
}
