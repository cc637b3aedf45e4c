/* test_reserve.c — the order in which a namespace hands out numbers for
 * binds to port 0: the kernel's own when free, never-handed-out numbers
 * before reserved ones, then the least recently released; an explicit bind
 * takes a reserved number; a full range is EADDRINUSE (pick returns 0). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/manifest.h"
#include "core/ns.h"
#include "core/reserve.h"

static struct ps_reserve res;
static struct ps_portset used;

static void setup(void)
{
    ps_reserve_init(&res);
    memset(&used, 0, sizeof used);
}
static void teardown(void) { ps_reserve_free(&res); }

TestSuite(reserve, .init = setup, .fini = teardown);

Test(reserve, the_kernels_own_number_is_kept_when_free_in_the_namespace)
{
    cr_assert_eq(ps_reserve_pick(&res, &used, 40001, 50000, 50009, 0), 40001);
}

Test(reserve, a_handed_out_number_is_not_given_again_after_its_release)
{
    ps_reserve_handout(&res, 40001);
    ps_reserve_release(&res, 40001);
    /* the kernel offers it again: the namespace gives a fresh one */
    uint16_t p = ps_reserve_pick(&res, &used, 40001, 50000, 50009, 0);
    cr_assert_eq(p, 50000);
}

Test(reserve, a_number_in_use_is_never_picked)
{
    ps_portset_add(&used, 40001);
    ps_portset_add(&used, 50000);
    cr_assert_eq(ps_reserve_pick(&res, &used, 40001, 50000, 50009, 0), 50001);
}

Test(reserve, never_handed_out_numbers_come_before_any_released_one)
{
    /* 50000..50008 handed out and released long ago; 50009 never */
    for (uint16_t p = 50000; p < 50009; p++) {
        ps_reserve_handout(&res, p);
        ps_reserve_release(&res, p);
    }
    cr_assert_eq(ps_reserve_pick(&res, &used, 0, 50000, 50009, 0), 50009);
    cr_assert_eq(ps_reserve_pick(&res, &used, 50003, 50000, 50009, 3), 50009);
}

Test(reserve, when_all_were_handed_out_the_least_recently_released_comes_first)
{
    for (uint16_t p = 50000; p <= 50009; p++)
        ps_reserve_handout(&res, p);
    /* released in the order 50004, 50002, 50007, then the rest */
    ps_reserve_release(&res, 50004);
    ps_reserve_release(&res, 50002);
    ps_reserve_release(&res, 50007);
    for (uint16_t p = 50000; p <= 50009; p++)
        if (p != 50004 && p != 50002 && p != 50007)
            ps_reserve_release(&res, p);
    cr_assert_eq(ps_reserve_pick(&res, &used, 0, 50000, 50009, 5), 50004);
    ps_portset_add(&used, 50004);
    cr_assert_eq(ps_reserve_pick(&res, &used, 0, 50000, 50009, 5), 50002);
    ps_portset_add(&used, 50002);
    cr_assert_eq(ps_reserve_pick(&res, &used, 0, 50000, 50009, 5), 50007);
    /* the kernel's offer competes by its own release time */
    ps_reserve_handout(&res, 40001);
    ps_reserve_release(&res, 40001);
    cr_assert_eq(ps_reserve_pick(&res, &used, 40001, 50000, 50009, 5), 50007);
}

Test(reserve, a_full_range_gives_no_number)
{
    for (uint16_t p = 50000; p <= 50009; p++)
        ps_portset_add(&used, p);
    cr_assert_eq(ps_reserve_pick(&res, &used, 0, 50000, 50009, 0), 0);
    ps_portset_add(&used, 40001);
    cr_assert_eq(ps_reserve_pick(&res, &used, 40001, 50000, 50009, 0), 0);
}

Test(reserve, an_explicit_number_is_not_reserved_by_being_used)
{
    /* binds of chosen numbers only reserve: 50000 used explicitly, then
     * free again, is as good as never handed out */
    ps_reserve_release(&res, 50000);
    cr_assert_not(ps_reserve_reserved(&res, 50000));
    cr_assert_eq(ps_reserve_pick(&res, &used, 0, 50000, 50009, 0), 50000);
}

/* ---- derived from manifest events (every process of the run alike) ---- */

static struct ps_event bindev(const char *sid, int vport, int rport, bool chosen)
{
    struct ps_event e;
    ps_event_init(&e, PS_EV_BIND);
    e.pid = atoi(sid);
    strcpy(e.sid, sid);
    strcpy(e.mode, "remap");
    e.ok = true;
    e.has_addr = true;
    ps_addr_parse("127.0.0.1", &e.addr);
    e.fam = AF_INET;
    e.port = vport;
    e.has_raddr = true;
    e.raddr = e.addr;
    e.rport = rport;
    e.uid = 1000;
    e.chosen = chosen;
    return e;
}

static void apply_line(struct ps_ns *ns, const struct ps_event *e)
{
    /* through the codec, as another process would read it */
    char line[PS_LINE_MAX];
    size_t n = ps_event_encode(e, line, sizeof line);
    cr_assert_gt(n, 0);
    struct ps_event d;
    cr_assert_eq(ps_event_decode(line, n - 1, &d), 0, "%.*s", (int)n, line);
    ps_ns_apply(ns, &d);
}

Test(reserve, a_port_0_binds_number_stays_reserved_in_the_table_after_its_close)
{
    struct ps_ns ns;
    ps_ns_init(&ns);
    struct ps_event b = bindev("10.1", 40001, 40001, true);
    apply_line(&ns, &b);
    struct ps_event c;
    ps_event_init(&c, PS_EV_CLOSE);
    strcpy(c.sid, "10.1");
    c.pid = 10;
    apply_line(&ns, &c);
    cr_assert(ps_reserve_reserved(&ns.res, 40001));
    struct ps_portset u;
    ps_ns_used_ports(&ns, &u);
    cr_assert_eq(ps_reserve_pick(&ns.res, &u, 40001, 49152, 65535, 0), 49152);

    /* an explicit bind takes it; a port-0 bind meanwhile gets another */
    struct ps_event x = bindev("11.1", 40001, 40123, false);
    apply_line(&ns, &x);
    cr_assert_not_null(ps_ns_find(&ns, "11.1"));
    ps_ns_used_ports(&ns, &u);
    cr_assert(ps_portset_has(&u, 40001));
    /* an explicit bind's number is not reserved by it */
    struct ps_event y = bindev("12.1", 40002, 40124, false);
    apply_line(&ns, &y);
    cr_assert_not(ps_reserve_reserved(&ns.res, 40002));
    ps_ns_free(&ns);
}

Test(reserve, a_line_without_chosen_reserves_nothing)
{
    const char *l = "{\"v\":1,\"ev\":\"bind\",\"ts\":1.0,\"pid\":10,\"sid\":\"10.1\","
                    "\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\","
                    "\"port\":40001,\"raddr\":\"127.0.0.1\",\"rport\":40001}";
    struct ps_event e;
    cr_assert_eq(ps_event_decode(l, strlen(l), &e), 0);
    cr_assert_not(e.chosen);
    const char *bad = "{\"v\":1,\"ev\":\"bind\",\"pid\":10,\"chosen\":1}";
    cr_assert_eq(ps_event_decode(bad, strlen(bad), &e), -1, "chosen must be a bool");
}

/* ---- connect-counter slots: one per live socket, reused after a close ---- */

Test(reserve, a_counter_slot_is_the_lowest_no_live_socket_holds)
{
    struct ps_ns ns;
    ps_ns_init(&ns);
    cr_assert_eq(ps_ns_free_cslot(&ns), 0);
    struct ps_event a = bindev("10.1", 8000, 40001, false);
    a.cslot = 0;
    a.cbase = 0;
    apply_line(&ns, &a);
    struct ps_event b = bindev("10.2", 8001, 40002, false);
    b.cslot = 1;
    b.cbase = 7;
    apply_line(&ns, &b);
    cr_assert_eq(ps_ns_find(&ns, "10.2")->cbase, 7);
    cr_assert_eq(ps_ns_free_cslot(&ns), 2);
    struct ps_event c;
    ps_event_init(&c, PS_EV_CLOSE);
    strcpy(c.sid, "10.1");
    c.pid = 10;
    apply_line(&ns, &c);
    cr_assert_eq(ps_ns_free_cslot(&ns), 0, "a closed socket's slot is free again");
    /* a slot without a base is no counter at all */
    struct ps_event d = bindev("10.3", 8002, 40003, false);
    d.cslot = 0;
    ps_ns_apply(&ns, &d);
    cr_assert_eq(ps_ns_find(&ns, "10.3")->cslot, -1);
    ps_ns_free(&ns);
}
