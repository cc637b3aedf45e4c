/* ns.c — live mappings and the kernel's bind/route rules over them. */
#include "core/ns.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/testfail.h"

_Static_assert(PS_PIDMAP_SID == PS_SID_MAX, "the pid map holds sids");

void ps_ns_init(struct ps_ns *ns) { memset(ns, 0, sizeof *ns); }

void ps_ns_free(struct ps_ns *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        ps_pidset_free(&ns->v[i].holders);
    free(ns->v);
    free(ns->sidx);
    free(ns->rb);
    ps_pidmap_free(&ns->pids);
    ps_reserve_free(&ns->res);
    memset(ns, 0, sizeof *ns);
}

/* ---- sid -> entry: open addressing, linear probing --------------------- */

static size_t sid_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 32));
}

/* The slot holding sid, or the empty slot where it would go. */
static size_t *sid_slot(const struct ps_ns *ns, const char *sid)
{
    size_t m = ns->sidx_cap - 1;
    for (size_t i = sid_hash(sid) & m;; i = (i + 1) & m)
        if (!ns->sidx[i] || !strcmp(ns->v[ns->sidx[i] - 1].sid, sid))
            return &ns->sidx[i];
}

/* Room for one more entry at most half full; rebuilt from v. */
static bool sidx_reserve(struct ps_ns *ns)
{
    if ((ns->n + 1) * 2 <= ns->sidx_cap)
        return true;
    size_t ncap = ns->sidx_cap ? ns->sidx_cap * 2 : 64;
    size_t *nx = calloc(ncap, sizeof *nx);
    if (!nx)
        return false;
    free(ns->sidx);
    ns->sidx = nx;
    ns->sidx_cap = ncap;
    for (size_t i = 0; i < ns->n; i++)
        *sid_slot(ns, ns->v[i].sid) = i + 1;
    return true;
}

/* Empties a slot, moving later entries of its probe run back (no
 * tombstones: lookups stay short however many entries come and go). */
static void sidx_delete(struct ps_ns *ns, size_t *slot)
{
    size_t m = ns->sidx_cap - 1, i = (size_t)(slot - ns->sidx), j = i;
    for (;;) {
        j = (j + 1) & m;
        if (!ns->sidx[j])
            break;
        size_t k = sid_hash(ns->v[ns->sidx[j] - 1].sid) & m;
        bool home_between = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!home_between) {
            ns->sidx[i] = ns->sidx[j];
            i = j;
        }
    }
    ns->sidx[i] = 0;
}

static struct ps_entry *find(struct ps_ns *ns, const char *sid)
{
    if (!ns->sidx_cap)
        return NULL;
    size_t slot = *sid_slot(ns, sid);
    return slot ? &ns->v[slot - 1] : NULL;
}

const struct ps_entry *ps_ns_find(const struct ps_ns *ns, const char *sid)
{
    return find((struct ps_ns *)ns, sid);
}

/* ---- real port -> entries: chains through the entries ------------------ */

static size_t *rb_head(const struct ps_ns *ns, uint16_t rport)
{
    return &ns->rb[(rport * 40503u) & (ns->rb_cap - 1)];
}

/* Unix-mode entries have no real port: by_real never wants them. */
static void rb_link(struct ps_ns *ns, size_t i)
{
    struct ps_entry *e = &ns->v[i];
    e->rprev = e->rnext = 0;
    if (e->rpath[0])
        return;
    size_t *head = rb_head(ns, e->rport);
    e->rnext = *head;
    if (*head)
        ns->v[*head - 1].rprev = i + 1;
    *head = i + 1;
}

/* Whatever pointed at entry `from` points at `to` (to == SIZE_MAX: at what
 * followed it, the entry leaving its chain). */
static void rb_repoint(struct ps_ns *ns, size_t from, size_t to)
{
    struct ps_entry *e = &ns->v[to == SIZE_MAX ? from : to];
    if (e->rpath[0])
        return;
    size_t target = to == SIZE_MAX ? e->rnext : to + 1;
    if (e->rprev)
        ns->v[e->rprev - 1].rnext = target;
    else
        *rb_head(ns, e->rport) = target;
    if (e->rnext)
        ns->v[e->rnext - 1].rprev = to == SIZE_MAX ? e->rprev : to + 1;
}

/* One bucket per entry at least; rebuilt from v. */
static bool rb_reserve(struct ps_ns *ns)
{
    if (ns->n + 1 <= ns->rb_cap)
        return true;
    size_t ncap = ns->rb_cap ? ns->rb_cap * 2 : 64;
    size_t *nb = calloc(ncap, sizeof *nb);
    if (!nb)
        return false;
    free(ns->rb);
    ns->rb = nb;
    ns->rb_cap = ncap;
    for (size_t i = 0; i < ns->n; i++)
        rb_link(ns, i);
    return true;
}

/* O(1): the last entry moves into the gap. */
static void remove_entry(struct ps_ns *ns, struct ps_entry *e)
{
    size_t i = (size_t)(e - ns->v), last = ns->n - 1;
    ps_pidset_free(&e->holders);
    ps_reserve_release(&ns->res, e->vport);
    sidx_delete(ns, sid_slot(ns, e->sid));
    rb_repoint(ns, i, SIZE_MAX);
    if (i != last) {
        ns->v[i] = ns->v[last];
        *sid_slot(ns, ns->v[i].sid) = i + 1;
        rb_repoint(ns, last, i);
    }
    ns->n--;
}

/* ---- pid -> sids ------------------------------------------------------- */

static bool holds(void *ns, int pid, const char *sid)
{
    const struct ps_entry *e = find(ns, sid);
    return e && ps_pidset_has(&e->holders, pid);
}

static void pid_note(struct ps_ns *ns, int pid, const char *sid)
{
    ps_pidmap_note(&ns->pids, pid, sid, holds, ns);
}

/* pid exited: it holds nothing; what it alone held is gone. */
static void pid_exit(struct ps_ns *ns, int pid)
{
    const struct ps_pidsids *p = ps_pidmap_get(&ns->pids, pid);
    for (unsigned i = 0; p && i < p->n; i++) {
        struct ps_entry *e = find(ns, p->sid[i]);
        if (e && ps_holders_exit(&e->holders, pid))
            remove_entry(ns, e);
    }
    ps_pidmap_forget(&ns->pids, pid);
}

bool ps_entry_held_by(const struct ps_entry *e, int pid)
{
    return ps_pidset_has(&e->holders, pid);
}

void ps_holders_inherit(struct ps_pidset *h, const struct ps_event *e)
{
    if (e->holder > 0)
        ps_pidset_add(h, e->holder);
}

bool ps_holders_release(struct ps_pidset *h, const struct ps_event *e)
{
    return ps_holders_exit(h, e->holder > 0 ? e->holder : e->pid);
}

bool ps_holders_exit(struct ps_pidset *h, int pid)
{
    return ps_pidset_drop(h, pid) && h->n == 0;
}

/* Room for one more entry (its index slots and node included). */
static bool grow(struct ps_ns *ns)
{
    if (ps_testfail(PS_TF_TABLE_OOM) || !sidx_reserve(ns) || !rb_reserve(ns))
        return false;
    if (ns->n == ns->cap) {
        size_t ncap = ns->cap ? ns->cap * 2 : 16;
        struct ps_entry *nv = realloc(ns->v, ncap * sizeof *nv);
        if (!nv)
            return false;
        ns->v = nv;
        ns->cap = ncap;
    }
    return true;
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
    if (!grow(ns)) {
        /* The mapping is left out: binds and connects of this process go
         * on, only blind to it (a conflict on its port missed, a connect to
         * it passed through). Said once. */
        ps_log_once(PS_LOG_WARN, "out of memory: the namespace table leaves out socket %s "
                    "(virtual port %d, bound by pid %d); this process's view of the "
                    "namespace is incomplete from here", ev->sid, ev->port, ev->pid);
        return;
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
    e->proto = ev->proto;
    e->uid = ev->uid;
    e->ino = ev->ino;
    e->seq = ns->seq++;
    *sid_slot(ns, e->sid) = ns->n;
    rb_link(ns, ns->n - 1);
    ps_pidset_add(&e->holders, ev->pid);
    pid_note(ns, ev->pid, e->sid);
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
        if ((e = find(ns, ev->sid)) && ev->holder > 0) {
            ps_holders_inherit(&e->holders, ev);
            pid_note(ns, ev->holder, e->sid);
        }
        break;
    case PS_EV_RELEASE:
        if ((e = find(ns, ev->sid)) && ps_holders_release(&e->holders, ev))
            remove_entry(ns, e);
        break;
    case PS_EV_EXIT:
        pid_exit(ns, ev->pid);
        break;
    default:
        break;
    }
}

void ps_ns_apply_cb(void *ns, const struct ps_event *e) { ps_ns_apply(ns, e); }

/* Linux's inet_csk_bind_conflict, for two TCP sockets on one port, and
 * udp_lib_lport_inuse for two UDP sockets: SO_REUSEADDR on both shares a
 * port unless the first listens, which a UDP socket never does (so two
 * UDP receivers, a multicast or broadcast pair say, always share). */
static bool may_share(const struct ps_entry *e, const struct ps_bindreq *r)
{
    if (r->reuseaddr && e->reuseaddr && !e->listening)
        return true;
    if (r->reuseport && e->reuseport && r->uid == e->uid)
        return true;
    return false;
}

static bool older(const struct ps_entry *e, const struct ps_entry *than)
{
    return !than || e->seq < than->seq;
}

const struct ps_entry *ps_ns_conflict(const struct ps_ns *ns, const struct ps_bindreq *r)
{
    const struct ps_entry *found = NULL;
    for (size_t i = 0; i < ns->n; i++) {
        const struct ps_entry *e = &ns->v[i];
        if (e->vport == r->port && e->proto == r->proto &&
            ps_bindaddr_overlap(&e->baddr, &r->baddr) && !may_share(e, r) && older(e, found))
            found = e;
    }
    return found;
}

const struct ps_entry *ps_ns_sharer(const struct ps_ns *ns, const struct ps_bindreq *r)
{
    const struct ps_entry *found = NULL;
    for (size_t i = 0; i < ns->n; i++) {
        const struct ps_entry *e = &ns->v[i];
        if (e->vport == r->port && e->proto == r->proto &&
            ps_bindaddr_overlap(&e->baddr, &r->baddr) && may_share(e, r) && older(e, found))
            found = e;
    }
    return found;
}

bool ps_entry_receives(const struct ps_entry *e, enum ps_proto proto)
{
    return e->proto == proto && (proto == PS_PROTO_UDP || e->listening);
}

const struct ps_entry *ps_ns_route(const struct ps_ns *ns, const struct ps_addr *dst,
                                   uint16_t port, bool dst_local, ps_alive_fn alive,
                                   void *ctx)
{
    return ps_ns_route_proto(ns, PS_PROTO_TCP, dst, port, dst_local, alive, ctx);
}

const struct ps_entry *ps_ns_route_proto(const struct ps_ns *ns, enum ps_proto proto,
                                         const struct ps_addr *dst, uint16_t port,
                                         bool dst_local, ps_alive_fn alive, void *ctx)
{
    const struct ps_entry *best = NULL;
    int best_score = 0;
    for (size_t i = 0; i < ns->n; i++) {
        const struct ps_entry *e = &ns->v[i];
        if (e->vport != port || !ps_entry_receives(e, proto))
            continue;
        int s = ps_listener_match(&e->baddr, dst, dst_local);
        if (!s)
            continue;
        /* Among equals the kernel prefers a socket of the caller's family. */
        s = s * 2 + (ps_addr_is_v4(dst) == (e->fam == AF_INET));
        if ((s > best_score || (s == best_score && older(e, best))) &&
            (!alive || alive(ctx, e))) {
            best = e;
            best_score = s;
        }
    }
    return best;
}

const struct ps_entry *ps_ns_by_real(const struct ps_ns *ns, const struct ps_addr *addr,
                                     uint16_t rport, bool listening_only)
{
    return ps_ns_by_real_proto(ns, PS_PROTO_TCP, addr, rport, listening_only);
}

const struct ps_entry *ps_ns_by_real_proto(const struct ps_ns *ns, enum ps_proto proto,
                                           const struct ps_addr *addr, uint16_t rport,
                                           bool listening_only)
{
    const struct ps_entry *found = NULL;
    for (size_t i = ns->rb_cap ? *rb_head(ns, rport) : 0; i; i = ns->v[i - 1].rnext) {
        const struct ps_entry *e = &ns->v[i - 1];
        if (e->rport != rport || e->rpath[0] || e->proto != proto ||
            (listening_only && !e->listening))
            continue;
        if ((ps_addr_equal(&e->raddr, addr) ||
             (ps_addr_is_wildcard(&e->raddr) && ps_addr_is_v4(&e->raddr) == ps_addr_is_v4(addr)) ||
             (ps_addr_is_wildcard(&e->raddr) && e->fam == AF_INET6 && !e->baddr.v6only)) &&
            older(e, found))
            found = e;
    }
    return found;
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
    return ps_ns_port_receiving(ns, PS_PROTO_TCP, vport);
}

bool ps_ns_port_receiving(const struct ps_ns *ns, enum ps_proto proto, uint16_t vport)
{
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i].vport == vport && ps_entry_receives(&ns->v[i], proto))
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
