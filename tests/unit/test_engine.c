/* test_engine.c — the namespace engine's decisions, called directly with a
 * table and a fake backend (no LD_PRELOAD): what a bind of a virtual port
 * does (refuse, let the kernel answer, bind a real port, bind a socket
 * file) and where a connect goes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

/* ---- a fake backend ------------------------------------------------------- */

struct fake {
    int dead[8];            /* pids that no longer hold anything */
    int ndead;
    int retired;            /* op calls */
    int local_asked;
    bool refuses_first;     /* the socket is already bound */
    bool local;             /* local_address's answer */
};

static struct ps_ns ns;
static struct ps_config cfg;
static struct fake fk;

static bool f_alive(void *ctx, const struct ps_entry *e)
{
    struct fake *f = ctx;
    for (int i = 0; i < f->ndead; i++)
        if (f->dead[i] == e->pid)
            return false;
    return true;
}

static bool f_live(void *ctx, const struct ps_entry *e) { return f_alive(ctx, e); }

static void f_retire(void *ctx, const struct ps_entry *e)
{
    struct fake *f = ctx;
    f->retired++;
    struct ps_event st;
    ps_event_init(&st, PS_EV_STALE);
    strcpy(st.sid, e->sid);
    ps_ns_apply(&ns, &st);
}

static bool f_refuses_first(void *ctx, int sock, int fam) { return ((struct fake *)ctx)->refuses_first; }

static bool f_local(void *ctx, const struct ps_addr *dst)
{
    struct fake *f = ctx;
    f->local_asked++;
    return f->local;
}

static const struct ps_engine_ops ops = {f_alive, f_live, f_retire, f_refuses_first, f_local};
static struct ps_session *S;
static struct ps_proc proc;

static void setup(void)
{
    ps_ns_init(&ns);
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = PS_MODE_REMAP;
    strcpy(cfg.dir, "/tmp/ps-ns");
    memset(&fk, 0, sizeof fk);
    S = calloc(1, sizeof *S);
    S->cfg = &cfg;
    S->table = &ns;
    S->ops = &ops;
    S->ctx = &fk;
    proc = (struct ps_proc){.pid = 500, .prog = "server", .uid = -1};
    S->proc = &proc;
}

static void teardown(void)
{
    ps_ns_free(&ns);
    free(S);
}

TestSuite(engine, .init = setup, .fini = teardown);

static struct ps_addr A(const char *s)
{
    struct ps_addr a;
    cr_assert_eq(ps_addr_parse(s, &a), 0, "cannot parse '%s'", s);
    return a;
}

/* A bind of sid (pid = the number before the dot) of addr:vport, bound to
 * real port rport (remap) or to the socket file rpath (unix). */
static void bound(const char *sid, const char *addr, int vport, int rport, const char *rpath,
                  bool reuseport)
{
    struct ps_event e;
    ps_event_init(&e, PS_EV_BIND);
    e.pid = atoi(sid);
    strcpy(e.prog, "server");
    strcpy(e.sid, sid);
    strcpy(e.mode, rpath ? "unix" : "remap");
    e.has_addr = true;
    e.addr = A(addr);
    e.fam = e.addr.fam;
    e.port = vport;
    if (rpath) {
        strcpy(e.rpath, rpath);
    } else {
        e.has_raddr = true;
        e.raddr = A(addr);
        e.rport = rport;
    }
    e.reuseport = reuseport;
    e.uid = 1000;
    ps_ns_apply(&ns, &e);
}

static void listening(const char *sid)
{
    struct ps_event e;
    ps_event_init(&e, PS_EV_LISTEN);
    strcpy(e.sid, sid);
    e.pid = atoi(sid);
    ps_ns_apply(&ns, &e);
}

static struct ps_bindreq req(const char *addr, uint16_t port, bool reuseport)
{
    struct ps_bindreq r;
    memset(&r, 0, sizeof r);
    r.baddr.addr = A(addr);
    r.port = port;
    r.reuseport = reuseport;
    r.uid = 1000;
    return r;
}

/* ---- bind ------------------------------------------------------------------ */

Test(engine, bind_kind_follows_mode_and_port_spec)
{
    const char *mode;
    cr_assert_eq(ps_engine_bind_kind(&cfg, 8000, &mode), PS_BIND_CLAIM);
    cr_assert_str_eq(mode, "remap");
    cr_assert_eq(ps_engine_bind_kind(&cfg, 0, &mode), PS_BIND_ANY);
    char err[128];
    cr_assert_eq(ps_portspec_parse("8000-8010", &cfg.ports, err, sizeof err), 0);
    cr_assert_eq(ps_engine_bind_kind(&cfg, 9000, &mode), PS_BIND_RECORD);
    cr_assert_str_eq(mode, "pass");
    cr_assert_eq(ps_engine_bind_kind(&cfg, 8005, &mode), PS_BIND_CLAIM);
    cfg.mode = PS_MODE_UNIX;
    cr_assert_eq(ps_engine_bind_kind(&cfg, 0, &mode), PS_BIND_CLAIM, "unix mode claims port 0");
    cr_assert_str_eq(mode, "unix");
    cfg.mode = PS_MODE_OBSERVE;
    cr_assert_eq(ps_engine_bind_kind(&cfg, 8005, &mode), PS_BIND_RECORD);
    cr_assert_str_eq(mode, "observe");
}

Test(engine, bind_of_a_free_virtual_port_binds_any_real_port)
{
    struct ps_bindreq r = req("127.0.0.1", 8000, false);
    struct ps_bind_plan p;
    ps_engine_bind_decide(S, 3, 4, &r, &p);
    cr_assert_eq(p.plan, PS_PLAN_REAL_PORT);
    cr_assert_eq(p.rport, 0);
    cr_assert_eq(p.vport, 8000);
}

Test(engine, bind_of_a_held_virtual_port_is_refused_naming_the_holder)
{
    bound("100.1", "0.0.0.0", 8000, 41000, NULL, false);
    struct ps_bindreq r = req("127.0.0.1", 8000, false);
    struct ps_bind_plan p;
    ps_engine_bind_decide(S, 3, 4, &r, &p);
    cr_assert_eq(p.plan, PS_PLAN_REFUSE);
    cr_assert_eq(p.err, EADDRINUSE);
    cr_assert_not_null(p.holder);
    cr_assert_str_eq(p.holder->sid, "100.1");
    cr_assert_eq(fk.retired, 0);
}

Test(engine, bind_retires_a_dead_holder_and_takes_the_port)
{
    bound("100.1", "127.0.0.1", 8000, 41000, NULL, false);
    bound("101.1", "127.0.0.1", 8000, 41001, NULL, false);   /* a second stale one */
    fk.dead[fk.ndead++] = 100;
    fk.dead[fk.ndead++] = 101;
    struct ps_bindreq r = req("127.0.0.1", 8000, false);
    struct ps_bind_plan p;
    ps_engine_bind_decide(S, 3, 4, &r, &p);
    cr_assert_eq(fk.retired, 2);
    cr_assert_eq(ns.n, 0);
    cr_assert_eq(p.plan, PS_PLAN_REAL_PORT);
}

Test(engine, bind_of_an_already_bound_socket_is_the_kernels_to_refuse)
{
    bound("100.1", "127.0.0.1", 8000, 41000, NULL, false);
    fk.refuses_first = true;
    struct ps_bindreq r = req("127.0.0.1", 8000, false);
    struct ps_bind_plan p;
    ps_engine_bind_decide(S, 3, 4, &r, &p);
    cr_assert_eq(p.plan, PS_PLAN_KERNEL);
}

Test(engine, reuseport_bind_shares_the_real_port_of_a_live_sharer)
{
    bound("100.1", "127.0.0.1", 8000, 41000, NULL, true);
    struct ps_bindreq r = req("127.0.0.1", 8000, true);
    struct ps_bind_plan p;
    ps_engine_bind_decide(S, 3, 4, &r, &p);
    cr_assert_eq(p.plan, PS_PLAN_REAL_PORT);
    cr_assert_eq(p.rport, 41000);
    fk.dead[fk.ndead++] = 100;
    ps_engine_bind_decide(S, 3, 4, &r, &p);
    cr_assert_eq(p.plan, PS_PLAN_REAL_PORT);
    cr_assert_eq(p.rport, 0, "a dead sharer's real port is not taken");
}

Test(engine, unix_mode_bind_names_a_socket_file_beside_its_sharers)
{
    cfg.mode = PS_MODE_UNIX;
    struct ps_bindreq r = req("127.0.0.1", 8000, true);
    struct ps_bind_plan p;
    ps_engine_bind_decide(S, 3, 4, &r, &p);
    cr_assert_eq(p.plan, PS_PLAN_UNIX_PATH);
    cr_assert_eq(strncmp(p.path, "/tmp/ps-ns/", 11), 0, "path %s", p.path);
    cr_assert_not_null(strstr(p.path, "8000"), "path %s", p.path);
    cr_assert_null(strchr(p.path, '#'), "path %s", p.path);
    char first[PS_UPATH_MAX];
    strcpy(first, p.path);
    bound("100.1", "127.0.0.1", 8000, 0, first, true);
    ps_engine_bind_decide(S, 3, 4, &r, &p);
    cr_assert_eq(p.plan, PS_PLAN_UNIX_PATH);
    cr_assert_str_neq(p.path, first);
    cr_assert_not_null(strstr(p.path, "#1"), "path %s", p.path);
}

Test(engine, unix_mode_bind_of_port_zero_picks_an_ephemeral_number)
{
    cfg.mode = PS_MODE_UNIX;
    struct ps_bindreq r = req("127.0.0.1", 0, false);
    struct ps_bind_plan p;
    ps_engine_bind_decide(S, 3, 4, &r, &p);
    cr_assert_eq(p.plan, PS_PLAN_UNIX_PATH);
    cr_assert(p.chosen);
    cr_assert(p.vport >= 32768 && p.vport <= 60999, "vport %u", p.vport);
}

Test(engine, bind_any_keeps_the_kernels_number_unless_the_namespace_uses_it)
{
    cr_assert_eq(ps_engine_bind_any(S, 45000), 45000);
    bound("100.1", "127.0.0.1", 45000, 41000, NULL, false);
    uint16_t v = ps_engine_bind_any(S, 45000);
    cr_assert_neq(v, 45000);
    cr_assert(v >= 49152, "vport %u", v);
}

/* ---- connect ---------------------------------------------------------------- */

Test(engine, connect_kind_follows_mode_and_port_spec)
{
    cr_assert_eq(ps_engine_connect_kind(&cfg, 8000), PS_CONNECT_ROUTE);
    char err[128];
    cr_assert_eq(ps_portspec_parse("8000", &cfg.ports, err, sizeof err), 0);
    cr_assert_eq(ps_engine_connect_kind(&cfg, 8000), PS_CONNECT_STRICT);
    cr_assert_eq(ps_engine_connect_kind(&cfg, 8001), PS_CONNECT_PASS);
    cfg.mode = PS_MODE_OBSERVE;
    cr_assert_eq(ps_engine_connect_kind(&cfg, 8000), PS_CONNECT_OBSERVE);
}

Test(engine, connect_to_a_listener_goes_to_its_real_port)
{
    bound("100.1", "0.0.0.0", 8000, 41000, NULL, false);
    listening("100.1");
    struct ps_addr dst = A("127.0.0.1");
    struct ps_route r;
    ps_engine_connect_route(S, PS_CONNECT_ROUTE, &dst, 8000, &r);
    cr_assert_eq(r.kind, PS_ROUTE_PORT);
    cr_assert_eq(r.rport, 41000);
    cr_assert_str_eq(r.sid, "100.1");
}

Test(engine, connect_to_a_port_nobody_listens_on_is_passed_or_refused_if_strict)
{
    bound("100.1", "127.0.0.1", 8000, 41000, NULL, false);   /* bound, not listening */
    struct ps_addr dst = A("127.0.0.1");
    struct ps_route r;
    ps_engine_connect_route(S, PS_CONNECT_ROUTE, &dst, 8000, &r);
    cr_assert_eq(r.kind, PS_ROUTE_PASS);
    ps_engine_connect_route(S, PS_CONNECT_STRICT, &dst, 8000, &r);
    cr_assert_eq(r.kind, PS_ROUTE_REFUSE);
    ps_engine_connect_route(S, PS_CONNECT_PASS, &dst, 8000, &r);
    cr_assert_eq(r.kind, PS_ROUTE_PASS);
}

Test(engine, connect_to_a_dead_listener_is_not_routed)
{
    bound("100.1", "127.0.0.1", 8000, 41000, NULL, false);
    listening("100.1");
    fk.dead[fk.ndead++] = 100;
    struct ps_addr dst = A("127.0.0.1");
    struct ps_route r;
    ps_engine_connect_route(S, PS_CONNECT_STRICT, &dst, 8000, &r);
    cr_assert_eq(r.kind, PS_ROUTE_REFUSE);
}

Test(engine, connect_to_a_local_address_reaches_a_wildcard_listener)
{
    bound("100.1", "0.0.0.0", 8000, 41000, NULL, false);
    listening("100.1");
    struct ps_addr dst = A("10.1.2.3");
    struct ps_route r;
    ps_engine_connect_route(S, PS_CONNECT_ROUTE, &dst, 8000, &r);
    cr_assert_eq(r.kind, PS_ROUTE_PASS, "not this host's address: the kernel's");
    cr_assert_eq(fk.local_asked, 1);
    fk.local = true;
    ps_engine_connect_route(S, PS_CONNECT_ROUTE, &dst, 8000, &r);
    cr_assert_eq(r.kind, PS_ROUTE_PORT);
    cr_assert_eq(r.rport, 41000);
}

Test(engine, unix_mode_connect_goes_to_the_socket_file)
{
    bound("100.1", "127.0.0.1", 8000, 0, "/tmp/ps-ns/8000@127.0.0.1", false);
    listening("100.1");
    struct ps_addr dst = A("127.0.0.1");
    struct ps_route r;
    ps_engine_connect_route(S, PS_CONNECT_ROUTE, &dst, 8000, &r);
    cr_assert_eq(r.kind, PS_ROUTE_PATH);
    cr_assert_str_eq(r.path, "/tmp/ps-ns/8000@127.0.0.1");
}

/* ---- events ------------------------------------------------------------------ */

/* A supervisor backend records events about the process it answers for,
 * not about itself: the event's pid, program and uid are the session's. */
Test(engine, event_is_about_the_sessions_process_not_the_caller)
{
    proc.pid = getpid() + 1000;
    proc.prog = "supervised-app";
    proc.uid = (long)geteuid() + 7;
    struct ps_event e;
    ps_engine_event_new(S->proc, &e, PS_EV_BIND);
    cr_assert_eq(e.ev, PS_EV_BIND);
    cr_assert_eq(e.pid, getpid() + 1000);
    cr_assert_str_eq(e.prog, "supervised-app");
    cr_assert_gt(e.ts, 0);
    cr_assert_eq(ps_engine_uid(S->proc), (long)geteuid() + 7);
    char line[PS_LINE_MAX + 1];
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0);
    struct ps_event back;
    cr_assert_eq(ps_event_decode(line, n - 1, &back), 0, "%s", line);
    cr_assert_eq(back.pid, getpid() + 1000);
    cr_assert_str_eq(back.prog, "supervised-app");
}

Test(engine, event_of_the_calling_process_takes_its_uid_at_the_call)
{
    proc.uid = -1;
    cr_assert_eq(ps_engine_uid(S->proc), (long)geteuid());
}

/* ---- UDP ------------------------------------------------------------------ */

static void bound_udp(const char *sid, const char *addr, int vport, int rport)
{
    bound(sid, addr, vport, rport, NULL, false);
    ns.v[ns.n - 1].proto = PS_PROTO_UDP;
}

Test(engine, udp_bind_in_unix_mode_is_remapped_not_swapped)
{
    const char *mode;
    cfg.mode = PS_MODE_UNIX;
    cr_assert_eq(ps_engine_bind_kind_of(&cfg, PS_PROTO_UDP, 0, &mode), PS_BIND_ANY);
    cr_assert_str_eq(mode, "remap");
    cr_assert_eq(ps_engine_bind_kind_of(&cfg, PS_PROTO_UDP, 5353, &mode), PS_BIND_CLAIM);
    cr_assert_str_eq(mode, "remap");
    cr_assert_eq(ps_engine_bind_kind_of(&cfg, PS_PROTO_TCP, 5353, &mode), PS_BIND_CLAIM);
    cr_assert_str_eq(mode, "unix");
    struct ps_bindreq r = req("127.0.0.1", 5353, false);
    r.proto = PS_PROTO_UDP;
    struct ps_bind_plan p;
    ps_engine_bind_decide(S, 3, AF_INET, &r, &p);
    cr_assert_eq(p.plan, PS_PLAN_REAL_PORT, "a real port, not a socket file");
}

Test(engine, datagram_to_a_bound_udp_socket_goes_to_its_real_port)
{
    bound_udp("100.1", "0.0.0.0", 5353, 41000);   /* no listen: UDP has none */
    struct ps_addr dst = A("127.0.0.1");
    struct ps_route r;
    ps_engine_route(S, PS_PROTO_UDP, PS_CONNECT_ROUTE, &dst, 5353, &r);
    cr_assert_eq(r.kind, PS_ROUTE_PORT);
    cr_assert_eq(r.rport, 41000);
    /* a TCP connect to the port is not the UDP socket's */
    ps_engine_connect_route(S, PS_CONNECT_ROUTE, &dst, 5353, &r);
    cr_assert_eq(r.kind, PS_ROUTE_PASS);
    ps_engine_route(S, PS_PROTO_UDP, PS_CONNECT_STRICT, &dst, 5354, &r);
    cr_assert_eq(r.kind, PS_ROUTE_REFUSE, "a strictly virtual port nobody bound");
}
