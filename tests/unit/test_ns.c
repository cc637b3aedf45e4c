/* test_ns.c — the namespace table: which binds conflict or share (Linux's
 * rules for TCP), what releases a port, and where a connect is routed. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ns.h"
#include "core/testfail.h"

static struct ps_ns ns;

static void setup(void) { ps_ns_init(&ns); }
static void teardown(void) { ps_ns_free(&ns); }

TestSuite(ns, .init = setup, .fini = teardown);

static struct ps_addr A(const char *s)
{
    struct ps_addr a;
    cr_assert_eq(ps_addr_parse(s, &a), 0, "cannot parse '%s'", s);
    return a;
}

/* A successful remap-mode bind of sid (pid = the number before the dot). */
static struct ps_event bindev(const char *sid, const char *addr, int vport, int rport)
{
    struct ps_event e;
    ps_event_init(&e, PS_EV_BIND);
    e.pid = atoi(sid);
    strcpy(e.prog, "server");
    strcpy(e.sid, sid);
    strcpy(e.mode, "remap");
    e.has_addr = true;
    e.addr = A(addr);
    e.fam = e.addr.fam;
    e.port = vport;
    e.has_raddr = true;
    e.raddr = A(addr);
    e.rport = rport;
    e.uid = 1000;
    return e;
}

static void bind_(const char *sid, const char *addr, int vport)
{
    struct ps_event e = bindev(sid, addr, vport, 40000 + vport % 1000);
    ps_ns_apply(&ns, &e);
}

static void sock_ev(enum ps_ev kind, const char *sid, int pid, int holder)
{
    struct ps_event e;
    ps_event_init(&e, kind);
    strcpy(e.sid, sid);
    e.pid = pid;
    e.holder = holder;
    ps_ns_apply(&ns, &e);
}

static void listen_(const char *sid) { sock_ev(PS_EV_LISTEN, sid, atoi(sid), 0); }

static void exit_(int pid)
{
    struct ps_event e;
    ps_event_init(&e, PS_EV_EXIT);
    e.pid = pid;
    ps_ns_apply(&ns, &e);
}

static struct ps_bindreq req(const char *addr, bool v6only, uint16_t port)
{
    struct ps_bindreq r;
    memset(&r, 0, sizeof r);
    r.baddr.addr = A(addr);
    r.baddr.v6only = v6only;
    r.port = port;
    r.uid = 1000;
    return r;
}

static const char *sid_of(const struct ps_entry *e) { return e ? e->sid : "(none)"; }

static const struct ps_entry *route(const char *dst, uint16_t port, bool local)
{
    struct ps_addr d = A(dst);
    return ps_ns_route(&ns, &d, port, local, NULL, NULL);
}

static void assert_routed_to(const char *dst, uint16_t port, const char *sid)
{
    const struct ps_entry *e = route(dst, port, false);
    if (!sid) {
        cr_assert_null(e, "%s:%u routed to %s", dst, port, sid_of(e));
        return;
    }
    cr_assert_not_null(e, "%s:%u not routed, want %s", dst, port, sid);
    cr_assert_str_eq(e->sid, sid, "%s:%u", dst, port);
}

/* ---- applying events --------------------------------------------------- */

Test(ns, bind_records_the_mapping)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41234);
    e.reuseaddr = true;
    e.ts = 12.5;
    ps_ns_apply(&ns, &e);
    cr_assert_eq(ns.n, 1);
    const struct ps_entry *x = ps_ns_find(&ns, "100.1");
    cr_assert_not_null(x);
    cr_assert_eq(x->pid, 100);
    cr_assert_str_eq(x->prog, "server");
    cr_assert_eq(x->vport, 8000);
    cr_assert_eq(x->rport, 41234);
    cr_assert_eq(x->fam, AF_INET);
    cr_assert(x->reuseaddr);
    cr_assert_not(x->reuseport);
    cr_assert_eq(x->uid, 1000);
    cr_assert_not(x->listening);
    cr_assert(ps_entry_held_by(x, 100));
    cr_assert_eq(x->holders.n, 1);
    cr_assert_float_eq(x->ts_bind, 12.5, 1e-9);
    cr_assert_null(ps_ns_find(&ns, "100.2"));
}

Test(ns, unix_mode_bind_claims_too)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, -1);
    strcpy(e.mode, "unix");
    e.has_raddr = false;
    strcpy(e.rpath, "/tmp/ns/8000.sock");
    ps_ns_apply(&ns, &e);
    const struct ps_entry *x = ps_ns_find(&ns, "100.1");
    cr_assert_not_null(x);
    cr_assert_str_eq(x->rpath, "/tmp/ns/8000.sock");
    cr_assert_eq(x->rport, 0);
}

Test(ns, listen_marks_listening)
{
    bind_("100.1", "127.0.0.1", 8000);
    listen_("100.1");
    cr_assert(ps_ns_find(&ns, "100.1")->listening);
}

Test(ns, failed_listen_does_not_mark)
{
    bind_("100.1", "127.0.0.1", 8000);
    struct ps_event e;
    ps_event_init(&e, PS_EV_LISTEN);
    strcpy(e.sid, "100.1");
    e.ok = false;
    ps_ns_apply(&ns, &e);
    cr_assert_not(ps_ns_find(&ns, "100.1")->listening);
}

Test(ns, listen_of_unknown_sid_is_ignored)
{
    bind_("100.1", "127.0.0.1", 8000);
    listen_("999.1");
    cr_assert_eq(ns.n, 1);
    cr_assert_not(ps_ns_find(&ns, "100.1")->listening);
}

Test(ns, rebind_of_a_sid_replaces_its_entry)
{
    bind_("100.1", "127.0.0.1", 8000);
    bind_("100.1", "127.0.0.1", 9000);
    cr_assert_eq(ns.n, 1);
    cr_assert_eq(ps_ns_find(&ns, "100.1")->vport, 9000);
    cr_assert_not(ps_ns_port_used(&ns, 8000));
}

Test(ns, observe_mode_bind_does_not_claim)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 8000);
    strcpy(e.mode, "observe");
    ps_ns_apply(&ns, &e);
    cr_assert_eq(ns.n, 0);
}

Test(ns, pass_bind_does_not_claim)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 8000);
    strcpy(e.mode, "pass");
    ps_ns_apply(&ns, &e);
    cr_assert_eq(ns.n, 0);
}

Test(ns, failed_bind_does_not_claim)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 8000);
    e.ok = false;
    e.err = 98;
    ps_ns_apply(&ns, &e);
    cr_assert_eq(ns.n, 0);
}

Test(ns, bind_without_sid_does_not_claim)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 8000);
    e.sid[0] = 0;
    ps_ns_apply(&ns, &e);
    cr_assert_eq(ns.n, 0);
}

Test(ns, bind_without_port_or_address_does_not_claim)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 8000);
    e.port = -1;
    ps_ns_apply(&ns, &e);
    e = bindev("100.2", "127.0.0.1", 8000, 8000);
    e.has_addr = false;
    ps_ns_apply(&ns, &e);
    cr_assert_eq(ns.n, 0);
}

Test(ns, bind_without_mode_does_not_claim)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 8000);
    e.mode[0] = 0;
    ps_ns_apply(&ns, &e);
    cr_assert_eq(ns.n, 0);
}

Test(ns, many_entries_grow_the_table)
{
    char sid[PS_SID_MAX];
    for (int i = 1; i <= 1000; i++) {
        snprintf(sid, sizeof sid, "%d.1", i);
        bind_(sid, "127.0.0.1", (uint16_t)(1000 + i));
    }
    cr_assert_eq(ns.n, 1000);
    cr_assert(ps_ns_port_used(&ns, 1001));
    cr_assert(ps_ns_port_used(&ns, 2000));
    cr_assert_str_eq(ps_ns_find(&ns, "500.1")->sid, "500.1");
}

/* Out of memory for a new entry, the table leaves the bind out and goes on;
 * the first time, one line says so (stderr read through a pipe). */
Test(ns, a_bind_without_memory_for_its_entry_is_left_out_and_said_once)
{
    bind_("100.1", "127.0.0.1", 8000);
    listen_("100.1");
    int p[2], saved = dup(2);
    cr_assert(pipe(p) == 0 && saved >= 0 && dup2(p[1], 2) == 2);
    close(p[1]);
    ps_testfail_set(PS_TF_TABLE_OOM);
    bind_("101.1", "127.0.0.1", 8001);
    bind_("102.1", "127.0.0.1", 8002);
    ps_testfail_set(0);
    cr_assert_eq(dup2(saved, 2), 2);
    close(saved);
    char out[4096];
    ssize_t n = read(p[0], out, sizeof out - 1);
    close(p[0]);
    out[n > 0 ? n : 0] = 0;
    cr_assert_eq(ns.n, 1, "the binds without memory are left out");
    cr_assert_null(ps_ns_find(&ns, "101.1"));
    cr_assert(!ps_ns_port_used(&ns, 8002));
    const char *want = "portshim: out of memory: the namespace table leaves out socket 101.1 "
                       "(virtual port 8001, bound by pid 101)";
    cr_assert(!strncmp(out, want, strlen(want)), "got '%s'", out);
    char *nl = strchr(out, '\n');
    cr_assert(nl && !nl[1], "one line, once: '%s'", out);
    bind_("103.1", "127.0.0.1", 8003);
    cr_assert_eq(ns.n, 2, "with memory again, binds are entries again");
    assert_routed_to("127.0.0.1", 8000, "100.1");
}

/* ---- conflicts --------------------------------------------------------- */

Test(ns, second_bind_of_live_virtual_port_conflicts)
{
    bind_("100.1", "127.0.0.1", 8000);
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    const struct ps_entry *c = ps_ns_conflict(&ns, &r);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->sid, "100.1");
    cr_assert_null(ps_ns_sharer(&ns, &r));
}

Test(ns, bind_conflicts_while_listening_too)
{
    bind_("100.1", "127.0.0.1", 8000);
    listen_("100.1");
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
}

Test(ns, wildcard_bind_conflicts_with_specific_address)
{
    bind_("100.1", "127.0.0.1", 8000);
    struct ps_bindreq r = req("0.0.0.0", false, 8000);
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
}

Test(ns, specific_bind_conflicts_with_wildcard)
{
    bind_("100.1", "0.0.0.0", 8000);
    struct ps_bindreq r = req("127.0.0.5", false, 8000);
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
}

Test(ns, dual_stack_bind_conflicts_with_v4)
{
    bind_("100.1", "127.0.0.1", 8000);
    struct ps_bindreq r = req("::", false, 8000);
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
    r = req("::ffff:127.0.0.1", false, 8000);
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
}

Test(ns, different_port_does_not_conflict)
{
    bind_("100.1", "127.0.0.1", 8000);
    struct ps_bindreq r = req("127.0.0.1", false, 8001);
    cr_assert_null(ps_ns_conflict(&ns, &r));
    cr_assert_null(ps_ns_sharer(&ns, &r));
}

Test(ns, non_overlapping_addresses_do_not_conflict)
{
    bind_("100.1", "127.0.0.1", 8000);
    struct ps_bindreq r = req("127.0.0.2", false, 8000);
    cr_assert_null(ps_ns_conflict(&ns, &r));
    r = req("::1", false, 8000);
    cr_assert_null(ps_ns_conflict(&ns, &r));
    r = req("::", true, 8000);
    cr_assert_null(ps_ns_conflict(&ns, &r));
}

Test(ns, v6only_wildcard_does_not_conflict_with_v4_wildcard)
{
    struct ps_event e = bindev("100.1", "::", 8000, 41000);
    e.v6only = true;
    ps_ns_apply(&ns, &e);
    struct ps_bindreq r = req("0.0.0.0", false, 8000);
    cr_assert_null(ps_ns_conflict(&ns, &r));
    r = req("::1", false, 8000);
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
}

Test(ns, reuseaddr_on_both_and_not_listening_shares)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41000);
    e.reuseaddr = true;
    ps_ns_apply(&ns, &e);
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    r.reuseaddr = true;
    cr_assert_null(ps_ns_conflict(&ns, &r));
    const struct ps_entry *s = ps_ns_sharer(&ns, &r);
    cr_assert_not_null(s);
    cr_assert_str_eq(s->sid, "100.1");
    cr_assert_eq(s->rport, 41000, "the sharer tells which real port to take");
}

Test(ns, reuseaddr_on_new_socket_only_conflicts)
{
    bind_("100.1", "127.0.0.1", 8000);
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    r.reuseaddr = true;
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
    cr_assert_null(ps_ns_sharer(&ns, &r));
}

Test(ns, reuseaddr_on_existing_socket_only_conflicts)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41000);
    e.reuseaddr = true;
    ps_ns_apply(&ns, &e);
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
}

Test(ns, reuseaddr_with_listening_existing_socket_conflicts)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41000);
    e.reuseaddr = true;
    ps_ns_apply(&ns, &e);
    listen_("100.1");
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    r.reuseaddr = true;
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
    cr_assert_null(ps_ns_sharer(&ns, &r));
}

Test(ns, reuseport_same_uid_shares_even_listening)
{
    struct ps_event e = bindev("100.1", "0.0.0.0", 8000, 41000);
    e.reuseport = true;
    ps_ns_apply(&ns, &e);
    listen_("100.1");
    struct ps_bindreq r = req("0.0.0.0", false, 8000);
    r.reuseport = true;
    cr_assert_null(ps_ns_conflict(&ns, &r));
    cr_assert_str_eq(sid_of(ps_ns_sharer(&ns, &r)), "100.1");
}

Test(ns, reuseport_different_uid_conflicts)
{
    struct ps_event e = bindev("100.1", "0.0.0.0", 8000, 41000);
    e.reuseport = true;
    ps_ns_apply(&ns, &e);
    listen_("100.1");
    struct ps_bindreq r = req("0.0.0.0", false, 8000);
    r.reuseport = true;
    r.uid = 1001;
    cr_assert_str_eq(sid_of(ps_ns_conflict(&ns, &r)), "100.1");
    cr_assert_null(ps_ns_sharer(&ns, &r));
}

Test(ns, reuseport_on_one_side_only_conflicts)
{
    struct ps_event e = bindev("100.1", "0.0.0.0", 8000, 41000);
    e.reuseport = true;
    ps_ns_apply(&ns, &e);
    struct ps_bindreq r = req("0.0.0.0", false, 8000);
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
    bind_("200.1", "0.0.0.0", 9000);
    r = req("0.0.0.0", false, 9000);
    r.reuseport = true;
    cr_assert_not_null(ps_ns_conflict(&ns, &r));
}

Test(ns, reuseaddr_and_reuseport_listening_same_uid_shares)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41000);
    e.reuseaddr = e.reuseport = true;
    ps_ns_apply(&ns, &e);
    listen_("100.1");
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    r.reuseaddr = r.reuseport = true;
    cr_assert_null(ps_ns_conflict(&ns, &r));
    cr_assert_not_null(ps_ns_sharer(&ns, &r));
}

Test(ns, one_sharer_does_not_hide_another_conflict)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41000);
    e.reuseaddr = true;
    ps_ns_apply(&ns, &e);
    bind_("200.1", "0.0.0.0", 8000);   /* no reuse flags */
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    r.reuseaddr = true;
    cr_assert_str_eq(sid_of(ps_ns_conflict(&ns, &r)), "200.1");
}

Test(ns, sharer_ignores_entries_that_do_not_overlap)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41000);
    e.reuseaddr = true;
    ps_ns_apply(&ns, &e);
    struct ps_bindreq r = req("127.0.0.2", false, 8000);
    r.reuseaddr = true;
    cr_assert_null(ps_ns_sharer(&ns, &r));
}

/* ---- release ------------------------------------------------------------ */

Test(ns, close_releases_the_port)
{
    bind_("100.1", "127.0.0.1", 8000);
    listen_("100.1");
    sock_ev(PS_EV_CLOSE, "100.1", 100, 0);
    cr_assert_eq(ns.n, 0);
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    cr_assert_null(ps_ns_conflict(&ns, &r));
    cr_assert_not(ps_ns_port_used(&ns, 8000));
}

Test(ns, stale_releases_the_port)
{
    bind_("100.1", "127.0.0.1", 8000);
    bind_("200.1", "127.0.0.1", 9000);
    sock_ev(PS_EV_STALE, "100.1", 300, 0);   /* written by whoever noticed */
    cr_assert_eq(ns.n, 1);
    cr_assert_null(ps_ns_find(&ns, "100.1"));
    cr_assert_not_null(ps_ns_find(&ns, "200.1"));
}

Test(ns, close_of_unknown_sid_changes_nothing)
{
    bind_("100.1", "127.0.0.1", 8000);
    sock_ev(PS_EV_CLOSE, "100.2", 100, 0);
    cr_assert_eq(ns.n, 1);
}

Test(ns, inherit_adds_a_holder)
{
    bind_("100.1", "127.0.0.1", 8000);
    sock_ev(PS_EV_INHERIT, "100.1", 100, 200);
    const struct ps_entry *x = ps_ns_find(&ns, "100.1");
    cr_assert(ps_entry_held_by(x, 100));
    cr_assert(ps_entry_held_by(x, 200));
    cr_assert_not(ps_entry_held_by(x, 300));
    cr_assert_eq(x->holders.n, 2);
    sock_ev(PS_EV_INHERIT, "100.1", 100, 200);
    cr_assert_eq(ps_ns_find(&ns, "100.1")->holders.n, 2, "a holder is counted once");
}

Test(ns, release_removes_only_when_last_holder_gone)
{
    bind_("100.1", "127.0.0.1", 8000);
    sock_ev(PS_EV_INHERIT, "100.1", 100, 200);
    sock_ev(PS_EV_INHERIT, "100.1", 100, 300);
    sock_ev(PS_EV_RELEASE, "100.1", 100, 100);
    cr_assert_not_null(ps_ns_find(&ns, "100.1"), "children still hold it");
    cr_assert_not(ps_entry_held_by(ps_ns_find(&ns, "100.1"), 100));
    sock_ev(PS_EV_RELEASE, "100.1", 300, 300);
    cr_assert_not_null(ps_ns_find(&ns, "100.1"));
    sock_ev(PS_EV_RELEASE, "100.1", 200, 200);
    cr_assert_null(ps_ns_find(&ns, "100.1"), "the last holder is gone");
}

Test(ns, release_without_holder_field_drops_the_writer)
{
    bind_("100.1", "127.0.0.1", 8000);
    sock_ev(PS_EV_INHERIT, "100.1", 100, 200);
    sock_ev(PS_EV_RELEASE, "100.1", 200, 0);
    const struct ps_entry *x = ps_ns_find(&ns, "100.1");
    cr_assert_not_null(x);
    cr_assert_not(ps_entry_held_by(x, 200));
    cr_assert(ps_entry_held_by(x, 100));
}

Test(ns, release_by_a_non_holder_changes_nothing)
{
    bind_("100.1", "127.0.0.1", 8000);
    sock_ev(PS_EV_RELEASE, "100.1", 999, 999);
    cr_assert_not_null(ps_ns_find(&ns, "100.1"));
    cr_assert_eq(ps_ns_find(&ns, "100.1")->holders.n, 1);
}

Test(ns, exit_removes_the_pid_from_all_entries)
{
    bind_("100.1", "127.0.0.1", 8000);    /* held by 100 only */
    bind_("100.2", "127.0.0.1", 8001);    /* held by 100 and 200 */
    sock_ev(PS_EV_INHERIT, "100.2", 100, 200);
    bind_("100.3", "127.0.0.1", 8002);    /* held by 100 only */
    bind_("300.1", "127.0.0.1", 8003);    /* another process */
    exit_(100);
    cr_assert_null(ps_ns_find(&ns, "100.1"));
    cr_assert_null(ps_ns_find(&ns, "100.3"));
    const struct ps_entry *x = ps_ns_find(&ns, "100.2");
    cr_assert_not_null(x);
    cr_assert_not(ps_entry_held_by(x, 100));
    cr_assert(ps_entry_held_by(x, 200));
    cr_assert_not_null(ps_ns_find(&ns, "300.1"));
    cr_assert_eq(ns.n, 2);
    exit_(200);
    cr_assert_null(ps_ns_find(&ns, "100.2"));
    cr_assert_eq(ns.n, 1);
}

Test(ns, exit_of_unrelated_pid_changes_nothing)
{
    bind_("100.1", "127.0.0.1", 8000);
    exit_(555);
    cr_assert_eq(ns.n, 1);
}

/* ---- routing ------------------------------------------------------------ */

Test(ns, route_reaches_a_listening_entry)
{
    bind_("100.1", "127.0.0.1", 8000);
    listen_("100.1");
    assert_routed_to("127.0.0.1", 8000, "100.1");
    assert_routed_to("127.0.0.1", 8001, NULL);
}

Test(ns, route_skips_entries_not_listening)
{
    bind_("100.1", "127.0.0.1", 8000);
    assert_routed_to("127.0.0.1", 8000, NULL);
}

Test(ns, route_prefers_exact_address_over_wildcard)
{
    bind_("100.1", "0.0.0.0", 8000);
    bind_("200.1", "127.0.0.1", 8000);
    bind_("300.1", "0.0.0.0", 8000);
    listen_("100.1");
    listen_("200.1");
    listen_("300.1");
    assert_routed_to("127.0.0.1", 8000, "200.1");
    assert_routed_to("127.0.0.2", 8000, "100.1");
}

Test(ns, route_prefers_exact_address_whatever_the_order)
{
    bind_("200.1", "127.0.0.1", 8000);
    bind_("100.1", "0.0.0.0", 8000);
    listen_("100.1");
    listen_("200.1");
    assert_routed_to("127.0.0.1", 8000, "200.1");
}

Test(ns, route_keeps_families_apart)
{
    bind_("400.1", "::1", 8000);
    bind_("100.1", "127.0.0.1", 8000);
    listen_("100.1");
    listen_("400.1");
    assert_routed_to("127.0.0.1", 8000, "100.1");
    assert_routed_to("::1", 8000, "400.1");
    assert_routed_to("::ffff:127.0.0.1", 8000, "100.1");
}

Test(ns, route_v4_destination_misses_v6_loopback_listener)
{
    bind_("400.1", "::1", 8000);
    listen_("400.1");
    assert_routed_to("127.0.0.1", 8000, NULL);
    assert_routed_to("::1", 8000, "400.1");
}

Test(ns, route_v4_destination_reaches_dual_stack_listener)
{
    bind_("600.1", "::", 8000);
    listen_("600.1");
    assert_routed_to("127.0.0.1", 8000, "600.1");
    assert_routed_to("::1", 8000, "600.1");
}

Test(ns, route_v4_destination_misses_v6only_listener)
{
    struct ps_event e = bindev("600.1", "::", 8000, 41000);
    e.v6only = true;
    ps_ns_apply(&ns, &e);
    listen_("600.1");
    assert_routed_to("127.0.0.1", 8000, NULL);
    assert_routed_to("::1", 8000, "600.1");
}

Test(ns, route_prefers_listener_of_the_destination_family)
{
    /* a dual-stack :: and a 0.0.0.0 listener (SO_REUSEPORT): the kernel
     * gives a v4 connect to the AF_INET socket */
    bind_("600.1", "::", 8000);
    bind_("100.1", "0.0.0.0", 8000);
    listen_("600.1");
    listen_("100.1");
    assert_routed_to("127.0.0.1", 8000, "100.1");
    assert_routed_to("::1", 8000, "600.1");
}

Test(ns, route_to_non_local_destination_needs_dst_local)
{
    bind_("100.1", "0.0.0.0", 8000);
    listen_("100.1");
    cr_assert_null(route("10.1.2.3", 8000, false));
    cr_assert_str_eq(sid_of(route("10.1.2.3", 8000, true)), "100.1");
}

Test(ns, route_to_wildcard_destination_reaches_loopback_listener)
{
    bind_("100.1", "127.0.0.1", 8000);
    listen_("100.1");
    assert_routed_to("0.0.0.0", 8000, "100.1");
}

static bool alive_except_200(void *ctx, const struct ps_entry *e)
{
    int *calls = ctx;
    (*calls)++;
    return e->pid != 200;
}

Test(ns, route_skips_entries_the_alive_callback_rejects)
{
    bind_("100.1", "0.0.0.0", 8000);
    bind_("200.1", "127.0.0.1", 8000);
    listen_("100.1");
    listen_("200.1");
    int calls = 0;
    struct ps_addr d = A("127.0.0.1");
    const struct ps_entry *e = ps_ns_route(&ns, &d, 8000, false, alive_except_200, &calls);
    cr_assert_str_eq(sid_of(e), "100.1", "the dead exact listener is passed over");
    cr_assert_gt(calls, 0);
}

Test(ns, route_finds_nothing_when_every_candidate_is_dead)
{
    bind_("200.1", "127.0.0.1", 8000);
    listen_("200.1");
    int calls = 0;
    struct ps_addr d = A("127.0.0.1");
    cr_assert_null(ps_ns_route(&ns, &d, 8000, false, alive_except_200, &calls));
    cr_assert_eq(calls, 1);
}

/* ---- lookups ------------------------------------------------------------ */

Test(ns, by_real_finds_the_real_endpoint)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41234);
    ps_ns_apply(&ns, &e);
    struct ps_addr lo = A("127.0.0.1"), lo2 = A("127.0.0.2"), six = A("::1");
    cr_assert_str_eq(sid_of(ps_ns_by_real(&ns, &lo, 41234, false)), "100.1");
    cr_assert_null(ps_ns_by_real(&ns, &lo, 41235, false));
    cr_assert_null(ps_ns_by_real(&ns, &lo2, 41234, false));
    cr_assert_null(ps_ns_by_real(&ns, &six, 41234, false));
    cr_assert_null(ps_ns_by_real(&ns, &lo, 41234, true), "not listening yet");
    listen_("100.1");
    cr_assert_str_eq(sid_of(ps_ns_by_real(&ns, &lo, 41234, true)), "100.1");
}

Test(ns, by_real_wildcard_matches_any_address_of_its_family)
{
    struct ps_event e = bindev("100.1", "0.0.0.0", 8000, 41234);
    ps_ns_apply(&ns, &e);
    struct ps_addr lo = A("127.0.0.1"), other = A("10.0.0.7"), six = A("::1");
    cr_assert_not_null(ps_ns_by_real(&ns, &lo, 41234, false));
    cr_assert_not_null(ps_ns_by_real(&ns, &other, 41234, false));
    cr_assert_null(ps_ns_by_real(&ns, &six, 41234, false));
}

Test(ns, by_real_dual_stack_wildcard_matches_both_families)
{
    struct ps_event e = bindev("100.1", "::", 8000, 41234);
    ps_ns_apply(&ns, &e);
    struct ps_addr lo = A("127.0.0.1"), six = A("::1");
    cr_assert_not_null(ps_ns_by_real(&ns, &lo, 41234, false));
    cr_assert_not_null(ps_ns_by_real(&ns, &six, 41234, false));
}

Test(ns, by_real_v6only_wildcard_matches_v6_only)
{
    struct ps_event e = bindev("100.1", "::", 8000, 41234);
    e.v6only = true;
    ps_ns_apply(&ns, &e);
    struct ps_addr lo = A("127.0.0.1"), six = A("::1");
    cr_assert_null(ps_ns_by_real(&ns, &lo, 41234, false));
    cr_assert_not_null(ps_ns_by_real(&ns, &six, 41234, false));
}

Test(ns, by_real_ignores_unix_mode_entries)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41234);
    strcpy(e.mode, "unix");
    strcpy(e.rpath, "/tmp/ns/8000.sock");
    ps_ns_apply(&ns, &e);
    struct ps_addr lo = A("127.0.0.1");
    cr_assert_null(ps_ns_by_real(&ns, &lo, 41234, false));
}

Test(ns, port_used_and_port_listening)
{
    cr_assert_not(ps_ns_port_used(&ns, 8000));
    bind_("100.1", "127.0.0.1", 8000);
    cr_assert(ps_ns_port_used(&ns, 8000));
    cr_assert_not(ps_ns_port_listening(&ns, 8000));
    cr_assert_not(ps_ns_port_used(&ns, 8001));
    listen_("100.1");
    cr_assert(ps_ns_port_listening(&ns, 8000));
    cr_assert_not(ps_ns_port_listening(&ns, 8001));
    sock_ev(PS_EV_CLOSE, "100.1", 100, 0);
    cr_assert_not(ps_ns_port_used(&ns, 8000));
    cr_assert_not(ps_ns_port_listening(&ns, 8000));
}

/* The table the library keeps is fed by the reader; the two fit together. */
Test(ns, fed_from_a_manifest_through_the_reader)
{
    char path[] = "/tmp/portshim-unit-ns.XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *log =
        "{\"v\":1,\"ev\":\"bind\",\"pid\":4101,\"sid\":\"4101.1\",\"mode\":\"remap\",\"ok\":true,"
        "\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234,"
        "\"reuseaddr\":true,\"reuseport\":false,\"uid\":1000}\n"
        "{\"v\":1,\"ev\":\"listen\",\"pid\":4101,\"sid\":\"4101.1\",\"ok\":true}\n"
        "{\"v\":1,\"ev\":\"bind\",\"pid\":4102,\"sid\":\"4102.1\",\"mode\":\"remap\",\"ok\":true,"
        "\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":9000,\"raddr\":\"127.0.0.1\",\"rport\":41235,"
        "\"reuseaddr\":false,\"reuseport\":false,\"uid\":1000}\n"
        "{\"v\":1,\"ev\":\"close\",\"pid\":4102,\"sid\":\"4102.1\",\"ok\":true}\n";
    cr_assert_eq(ps_manifest_append(fd, log, strlen(log)), 0);
    struct ps_reader rd;
    ps_reader_init(&rd, fd);
    cr_assert_eq(ps_reader_poll(&rd, ps_ns_apply_cb, NULL, &ns), 4);
    ps_reader_free(&rd);
    close(fd);
    unlink(path);
    cr_assert_eq(ns.n, 1);
    assert_routed_to("127.0.0.1", 8000, "4101.1");
    cr_assert_eq(route("127.0.0.1", 8000, false)->rport, 41234);
    cr_assert_not(ps_ns_port_used(&ns, 9000));
}

/* ---- size and order --------------------------------------------------- */

/* Reading a manifest must be linear in its length: a sid lookup, a removal
 * and an exit each cost O(1) whatever the number of live entries (they were
 * linear, so 200,000 live binds took minutes). The bound is the timeout,
 * far above the second this takes, far below the quadratic hours. */
Test(ns, table_of_200000_entries_is_built_and_emptied, .timeout = 120)
{
    enum { N = 200000 };
    char sid[PS_SID_MAX];
    for (int i = 1; i <= N; i++) {
        snprintf(sid, sizeof sid, "%d.1", i);
        struct ps_event e = bindev(sid, "127.0.0.1", 1 + i % 65535, 1 + i % 65535);
        ps_ns_apply(&ns, &e);
        listen_(sid);
        if (i % 2)
            sock_ev(PS_EV_INHERIT, sid, i, N + i);   /* a forked child holds it too */
    }
    cr_assert_eq(ns.n, (size_t)N);
    const struct ps_entry *x = ps_ns_find(&ns, "123457.1");
    cr_assert(x && x->listening && ps_entry_held_by(x, N + 123457));
    /* the oldest go first: each removal from the front of the table */
    for (int i = 1; i <= N / 2; i++) {
        snprintf(sid, sizeof sid, "%d.1", i);
        sock_ev(PS_EV_CLOSE, sid, i, 0);
    }
    cr_assert_eq(ns.n, (size_t)N / 2);
    cr_assert_null(ps_ns_find(&ns, "1.1"));
    cr_assert_not_null(ps_ns_find(&ns, "100001.1"));
    /* the others by exit: the binder, then (odd ones) the child */
    for (int i = N / 2 + 1; i <= N; i++) {
        exit_(i);
        if (i % 2)
            exit_(N + i);
    }
    cr_assert_eq(ns.n, 0);
}

/* A model of the table (sid -> live, holders) against the real one, over a
 * long random mix of binds, closes, inherits, releases and exits: every sid
 * is found, by its sid and by its real port, exactly when the model says it
 * is live. */
Test(ns, random_events_agree_with_a_model, .timeout = 60)
{
    enum { SIDS = 500, PIDS = 40, OPS = 40000 };
    static bool live[SIDS];
    static unsigned long long held[SIDS];   /* bit p: pid p + 1 holds it */
    unsigned long long rnd = 88172645463325252ULL;
    char sid[PS_SID_MAX];
    for (int op = 0; op < OPS; op++) {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        int s = (int)(rnd % SIDS), p = (int)((rnd >> 20) % PIDS), kind = (int)((rnd >> 40) % 6);
        snprintf(sid, sizeof sid, "%d.%d", s % PIDS + 1, s);
        if (kind == 0 || kind == 1) {         /* bind (a re-bind replaces) */
            struct ps_event e = bindev(sid, "127.0.0.1", 1 + s, 1 + s);
            ps_ns_apply(&ns, &e);
            live[s] = true;
            held[s] = 1ULL << (s % PIDS);
        } else if (kind == 2) {
            sock_ev(PS_EV_CLOSE, sid, s % PIDS + 1, 0);
            live[s] = false;
        } else if (kind == 3) {
            sock_ev(PS_EV_INHERIT, sid, s % PIDS + 1, p + 1);
            if (live[s])
                held[s] |= 1ULL << p;
        } else if (kind == 4) {
            sock_ev(PS_EV_RELEASE, sid, p + 1, p + 1);
            if (live[s] && (held[s] & (1ULL << p)) && !(held[s] &= ~(1ULL << p)))
                live[s] = false;
        } else {
            exit_(p + 1);
            for (int k = 0; k < SIDS; k++)
                if (live[k] && (held[k] & (1ULL << p)) && !(held[k] &= ~(1ULL << p)))
                    live[k] = false;
        }
        if (op % 97 && op != OPS - 1)
            continue;
        size_t n = 0;
        for (int k = 0; k < SIDS; k++) {
            snprintf(sid, sizeof sid, "%d.%d", k % PIDS + 1, k);
            const struct ps_entry *x = ps_ns_find(&ns, sid);
            cr_assert_eq(x != NULL, live[k], "op %d: sid %s found %d, live %d", op, sid,
                         x != NULL, live[k]);
            struct ps_addr lo = A("127.0.0.1");
            const struct ps_entry *y = ps_ns_by_real(&ns, &lo, (uint16_t)(1 + k), false);
            cr_assert_eq(y, x, "op %d: sid %s by its real port", op, sid);
            for (int q = 0; x && q < PIDS; q++)
                cr_assert_eq(ps_entry_held_by(x, q + 1), !!(held[k] & (1ULL << q)),
                             "op %d: sid %s pid %d", op, sid, q + 1);
            n += live[k];
        }
        cr_assert_eq(ns.n, n, "op %d", op);
    }
}

/* Removals reorder the table; where order decides, the oldest bind wins,
 * as it did when the table was kept in bind order. */
Test(ns, conflict_and_route_name_the_oldest_bind_whatever_the_table_order)
{
    struct ps_event e;
    bind_("99.1", "127.0.0.1", 7000);
    e = bindev("100.1", "127.0.0.1", 8000, 41000);
    e.reuseport = true;
    ps_ns_apply(&ns, &e);
    listen_("100.1");
    e = bindev("101.1", "127.0.0.1", 8000, 41000);
    e.reuseport = true;
    ps_ns_apply(&ns, &e);
    listen_("101.1");
    sock_ev(PS_EV_CLOSE, "99.1", 99, 0);  /* 101.1 moves ahead of 100.1 */
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    cr_assert_str_eq(ps_ns_conflict(&ns, &r)->sid, "100.1");
    r.reuseport = true;
    cr_assert_str_eq(ps_ns_sharer(&ns, &r)->sid, "100.1");
    struct ps_addr lo = A("127.0.0.1");
    cr_assert_str_eq(ps_ns_route(&ns, &lo, 8000, true, NULL, NULL)->sid, "100.1");
    cr_assert_str_eq(ps_ns_by_real(&ns, &lo, 41000, true)->sid, "100.1");
}

Test(ns, bind_records_the_socket_inode)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41000);
    e.ino = 98765;
    ps_ns_apply(&ns, &e);
    cr_assert_eq(ps_ns_find(&ns, "100.1")->ino, 98765);
}

/* ---- protocols ----------------------------------------------------------- */

Test(ns, binds_of_other_protocols_neither_conflict_nor_share)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 8000, 41000);
    e.proto = PS_PROTO_UDP;
    e.reuseport = true;
    ps_ns_apply(&ns, &e);
    cr_assert_eq(ps_ns_find(&ns, "100.1")->proto, PS_PROTO_UDP);
    struct ps_bindreq r = req("127.0.0.1", false, 8000);
    cr_assert_null(ps_ns_conflict(&ns, &r), "a UDP socket does not hold a TCP port");
    r.reuseport = true;
    cr_assert_null(ps_ns_sharer(&ns, &r));
    r.proto = PS_PROTO_UDP;
    r.reuseport = false;
    cr_assert_not_null(ps_ns_conflict(&ns, &r), "it holds the UDP port");
}

/* ---- UDP ------------------------------------------------------------------ */

static void bind_udp(const char *sid, const char *addr, int vport, int rport)
{
    struct ps_event e = bindev(sid, addr, vport, rport);
    e.proto = PS_PROTO_UDP;
    ps_ns_apply(&ns, &e);
}

Test(ns, a_bound_udp_socket_receives_datagrams_without_listening)
{
    bind_udp("100.1", "127.0.0.1", 5353, 41000);
    struct ps_addr d = A("127.0.0.1");
    const struct ps_entry *e = ps_ns_route_proto(&ns, PS_PROTO_UDP, &d, 5353, true, NULL, NULL);
    cr_assert_str_eq(sid_of(e), "100.1");
    cr_assert(ps_ns_port_receiving(&ns, PS_PROTO_UDP, 5353));
    /* a TCP connect to 5353 finds no listener there */
    cr_assert_null(ps_ns_route(&ns, &d, 5353, true, NULL, NULL));
    cr_assert_not(ps_ns_port_listening(&ns, 5353));
}

Test(ns, tcp_and_udp_entries_on_one_port_are_routed_and_found_apart)
{
    /* the TCP listener is older: a datagram must still find the UDP socket */
    bind_("100.1", "127.0.0.1", 5353);
    listen_("100.1");
    bind_udp("101.1", "127.0.0.1", 5353, 41999);
    struct ps_addr d = A("127.0.0.1");
    cr_assert_str_eq(sid_of(ps_ns_route_proto(&ns, PS_PROTO_UDP, &d, 5353, true, NULL, NULL)),
                     "101.1");
    cr_assert_str_eq(sid_of(ps_ns_route_proto(&ns, PS_PROTO_TCP, &d, 5353, true, NULL, NULL)),
                     "100.1");
    /* the same real port number in both spaces: each finds its own */
    bind_udp("102.1", "127.0.0.1", 6000, 40353);   /* bind_ gave the TCP one 40353 */
    cr_assert_str_eq(sid_of(ps_ns_by_real_proto(&ns, PS_PROTO_UDP, &d, 40353, false)), "102.1");
    cr_assert_str_eq(sid_of(ps_ns_by_real(&ns, &d, 40353, false)), "100.1");
    /* and they never conflict */
    struct ps_bindreq r = req("127.0.0.1", false, 5353);
    r.proto = PS_PROTO_UDP;
    cr_assert_str_eq(sid_of(ps_ns_conflict(&ns, &r)), "101.1");
    r.proto = PS_PROTO_TCP;
    cr_assert_str_eq(sid_of(ps_ns_conflict(&ns, &r)), "100.1");
}

Test(ns, udp_sockets_share_a_port_with_reuseaddr_on_both)
{
    struct ps_event e = bindev("100.1", "0.0.0.0", 5353, 41000);
    e.proto = PS_PROTO_UDP;
    e.reuseaddr = true;
    ps_ns_apply(&ns, &e);
    struct ps_bindreq r = req("0.0.0.0", false, 5353);
    r.proto = PS_PROTO_UDP;
    cr_assert_not_null(ps_ns_conflict(&ns, &r), "without SO_REUSEADDR: EADDRINUSE");
    r.reuseaddr = true;
    cr_assert_null(ps_ns_conflict(&ns, &r));
    cr_assert_str_eq(sid_of(ps_ns_sharer(&ns, &r)), "100.1");
}

Test(ns, udp_reuseport_shares_only_between_sockets_of_one_uid)
{
    struct ps_event e = bindev("100.1", "127.0.0.1", 5353, 41000);
    e.proto = PS_PROTO_UDP;
    e.reuseport = true;
    ps_ns_apply(&ns, &e);
    struct ps_bindreq r = req("127.0.0.1", false, 5353);
    r.proto = PS_PROTO_UDP;
    r.reuseport = true;
    cr_assert_null(ps_ns_conflict(&ns, &r), "same uid: shared");
    cr_assert_str_eq(sid_of(ps_ns_sharer(&ns, &r)), "100.1");
    r.uid = 1001;
    cr_assert_str_eq(sid_of(ps_ns_conflict(&ns, &r)), "100.1", "another uid: EADDRINUSE");
}
