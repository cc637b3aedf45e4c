/* test_manifest.c — one manifest line: encode, decode, and what the decoder
 * refuses (docs/manifest.md is the contract). */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/manifest.h"

static struct ps_addr A(const char *s)
{
    struct ps_addr a;
    cr_assert_eq(ps_addr_parse(s, &a), 0, "cannot parse '%s'", s);
    return a;
}

static int dec(const char *line, struct ps_event *e)
{
    return ps_event_decode(line, strlen(line), e);
}

static void assert_malformed(const char *line)
{
    struct ps_event e;
    cr_assert_eq(dec(line, &e), -1, "accepted: %s", line);
}

/* An event with every field set to something other than its default. */
static void fill(struct ps_event *e, enum ps_ev ev, const char *addr, const char *raddr)
{
    ps_event_init(e, ev);
    e->ts = 1795312345.123456;
    e->pid = 4101;
    strcpy(e->prog, "redis-server");
    strcpy(e->sid, "4101.17");
    strcpy(e->mode, "unix");
    e->ok = false;
    e->err = EADDRINUSE;
    e->fam = AF_INET6;
    e->v6only = true;
    e->has_addr = true;
    e->addr = A(addr);
    e->port = 8000;
    e->has_raddr = true;
    e->raddr = A(raddr);
    e->rport = 41234;
    strcpy(e->rpath, "/tmp/portshim.Xy12/8000.sock");
    e->reuseaddr = true;
    e->reuseport = true;
    e->uid = 1000;
    e->ino = 123456789012345ULL;
    e->routed = true;
    e->holder = 4102;
    strcpy(e->note, "said \"hi\\there\"\nthen\ttab\x01\x1f\x7f end");
    e->hpid = 4242;
    strcpy(e->hcmd, "redis-server \"*:8000\"");
    e->huid = 0;
    strcpy(e->huser, "root");
    e->hsince = 1795312000.5;
    strcpy(e->inj, "bind-eaddrinuse");
    e->inj_us = 30000;
    strcpy(e->be, "seccomp");
}

static void assert_addr_eq(const struct ps_addr *got, const struct ps_addr *want,
                           const char *what)
{
    cr_assert_eq(got->fam, want->fam, "%s: family", what);
    cr_assert_arr_eq(got->b, want->b, 16, "%s: bytes", what);
}

/* got must equal want in every field the format carries for want->ev. */
static void assert_event_eq(const struct ps_event *got, const struct ps_event *want)
{
    const char *k = ps_ev_name(want->ev);
    cr_assert_eq(got->v, want->v, "%s: v", k);
    cr_assert_eq(got->ev, want->ev, "%s: ev", k);
    cr_assert_float_eq(got->ts, want->ts, 1e-7, "%s: ts", k);
    cr_assert_eq(got->pid, want->pid, "%s: pid", k);
    cr_assert_str_eq(got->prog, want->prog, "%s: prog", k);
    cr_assert_str_eq(got->sid, want->sid, "%s: sid", k);
    cr_assert_str_eq(got->mode, want->mode, "%s: mode", k);
    cr_assert_eq(got->ok, want->ok, "%s: ok", k);
    cr_assert_eq(got->err, want->ok ? 0 : want->err, "%s: errno", k);
    cr_assert_eq(got->fam, want->fam, "%s: fam", k);
    cr_assert_eq(got->v6only, want->fam == AF_INET6 && want->v6only, "%s: v6only", k);
    cr_assert_eq(got->has_addr, want->has_addr, "%s: has_addr", k);
    if (want->has_addr)
        assert_addr_eq(&got->addr, &want->addr, "addr");
    cr_assert_eq(got->port, want->port, "%s: port", k);
    cr_assert_eq(got->has_raddr, want->has_raddr, "%s: has_raddr", k);
    if (want->has_raddr)
        assert_addr_eq(&got->raddr, &want->raddr, "raddr");
    cr_assert_eq(got->rport, want->rport, "%s: rport", k);
    cr_assert_str_eq(got->rpath, want->rpath, "%s: rpath", k);
    /* reuse flags are bind fields, routed a connect field (docs/manifest.md) */
    bool bind = want->ev == PS_EV_BIND, conn = want->ev == PS_EV_CONNECT;
    cr_assert_eq(got->reuseaddr, bind && want->reuseaddr, "%s: reuseaddr", k);
    cr_assert_eq(got->reuseport, bind && want->reuseport, "%s: reuseport", k);
    cr_assert_eq(got->uid, want->uid, "%s: uid", k);
    cr_assert_eq(got->ino, want->ino, "%s: ino", k);
    cr_assert_eq(got->routed, conn && want->routed, "%s: routed", k);
    cr_assert_eq(got->holder, want->holder, "%s: holder", k);
    cr_assert_str_eq(got->note, want->note, "%s: note", k);
    cr_assert_eq(got->hpid, want->hpid, "%s: hpid", k);
    cr_assert_str_eq(got->hcmd, want->hpid > 0 ? want->hcmd : "", "%s: hcmd", k);
    cr_assert_eq(got->huid, want->huid, "%s: huid", k);
    cr_assert_str_eq(got->huser, want->huser, "%s: huser", k);
    cr_assert_float_eq(got->hsince, want->hsince, 1e-7, "%s: hsince", k);
    cr_assert_str_eq(got->inj, want->inj, "%s: inj", k);
    cr_assert_eq(got->inj_us, want->inj_us, "%s: inj_us", k);
    cr_assert_str_eq(got->be, want->be, "%s: be", k);
}

static void round_trip(const struct ps_event *e)
{
    char line[PS_LINE_MAX];
    struct ps_event back;
    size_t n = ps_event_encode(e, line, sizeof line);
    cr_assert_gt(n, 0, "%s: encode failed", ps_ev_name(e->ev));
    cr_assert_eq(line[n - 1], '\n', "a line ends with a newline");
    cr_assert_null(memchr(line, '\n', n - 1), "one event, one line");
    int rc = ps_event_decode(line, n - 1, &back);
    cr_assert_eq(rc, 0, "%s: decode failed: %.*s", ps_ev_name(e->ev), (int)n, line);
    assert_event_eq(&back, e);
}

/* ---- names ---------------------------------------------------------- */

Test(manifest, event_names_round_trip)
{
    for (int ev = PS_EV_BIND; ev <= PS_EV_START; ev++) {
        const char *name = ps_ev_name((enum ps_ev)ev);
        cr_assert_neq(name[0], 0, "event %d has no name", ev);
        cr_assert_eq(ps_ev_parse(name), ev, "%s", name);
    }
    cr_assert_str_eq(ps_ev_name(PS_EV_STALE), "stale");
    cr_assert_eq(ps_ev_parse("teleport"), PS_EV_NONE);
    cr_assert_eq(ps_ev_parse(""), PS_EV_NONE);
    cr_assert_str_eq(ps_ev_name((enum ps_ev)999), "");
}

Test(manifest, errno_names)
{
    cr_assert_str_eq(ps_errno_name(EADDRINUSE), "EADDRINUSE");
    cr_assert_str_eq(ps_errno_name(ECONNREFUSED), "ECONNREFUSED");
    cr_assert_null(ps_errno_name(0));
    cr_assert_null(ps_errno_name(4000));
}

Test(manifest, init_marks_optional_numbers_absent)
{
    struct ps_event e;
    memset(&e, 0x5a, sizeof e);
    ps_event_init(&e, PS_EV_LISTEN);
    cr_assert_eq(e.v, 2);
    cr_assert_eq(e.ev, PS_EV_LISTEN);
    cr_assert(e.ok);
    cr_assert_eq(e.port, -1);
    cr_assert_eq(e.rport, -1);
    cr_assert_eq(e.uid, -1);
    cr_assert_eq(e.holder, 0);
    cr_assert_not(e.has_addr);
    cr_assert_str_eq(e.note, "");
}

/* ---- round trips ------------------------------------------------------ */

Test(manifest, round_trip_every_kind_with_every_field)
{
    for (int ev = PS_EV_BIND; ev <= PS_EV_START; ev++) {
        struct ps_event e;
        fill(&e, (enum ps_ev)ev, "::ffff:127.0.0.1", "::1");
        round_trip(&e);
    }
}

Test(manifest, round_trip_every_kind_ok_without_optional_fields)
{
    for (int ev = PS_EV_BIND; ev <= PS_EV_START; ev++) {
        struct ps_event e;
        ps_event_init(&e, (enum ps_ev)ev);
        e.ts = 1795312345.5;
        e.pid = 1;
        round_trip(&e);
    }
}

Test(manifest, round_trip_v4_addresses)
{
    struct ps_event e;
    fill(&e, PS_EV_BIND, "127.0.0.1", "0.0.0.0");
    e.fam = AF_INET;
    round_trip(&e);
    fill(&e, PS_EV_CONNECT, "10.1.2.3", "127.0.0.1");
    e.fam = AF_INET;
    e.ok = true;
    round_trip(&e);
}

Test(manifest, round_trip_v6_addresses)
{
    struct ps_event e;
    fill(&e, PS_EV_BIND, "::", "::1");
    e.v6only = false;
    round_trip(&e);
    fill(&e, PS_EV_CONNECT, "2001:db8::7", "fe80::1");
    round_trip(&e);
}

Test(manifest, round_trip_v4_mapped_keeps_socket_family)
{
    struct ps_event e, back;
    char line[PS_LINE_MAX];
    fill(&e, PS_EV_BIND, "::ffff:127.0.0.1", "::ffff:0.0.0.0");
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0);
    line[n] = 0;
    cr_assert(strstr(line, "\"addr\":\"::ffff:127.0.0.1\""), "%s", line);
    cr_assert(strstr(line, "\"raddr\":\"::ffff:0.0.0.0\""), "%s", line);
    cr_assert_eq(ps_event_decode(line, n - 1, &back), 0);
    cr_assert_eq(back.addr.fam, AF_INET6);
    cr_assert(ps_addr_is_v4(&back.addr));
}

Test(manifest, round_trip_extreme_numbers)
{
    struct ps_event e;
    fill(&e, PS_EV_BIND, "127.0.0.1", "127.0.0.1");
    e.pid = 0x7fffffff;
    e.port = 0;
    e.rport = 65535;
    e.uid = 0xffffffffL;
    e.err = 4095;
    e.holder = 0x7fffffff;
    round_trip(&e);
    e.uid = 0;
    e.port = 65535;
    e.rport = 0;
    round_trip(&e);
}

Test(manifest, round_trip_errno_without_a_name)
{
    struct ps_event e, back;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_CONNECT);
    e.ok = false;
    e.err = 200;
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0);
    line[n] = 0;
    cr_assert(strstr(line, "\"errno\":200"), "%s", line);
    cr_assert_null(strstr(line, "\"err\":"), "%s", line);
    cr_assert_eq(ps_event_decode(line, n - 1, &back), 0);
    cr_assert_eq(back.err, 200);
    cr_assert_not(back.ok);
}

Test(manifest, note_escapes_are_json)
{
    struct ps_event e;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_BIND);
    strcpy(e.note, "a\"b\\c\nd\x01");
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0);
    line[n] = 0;
    cr_assert(strstr(line, "\"note\":\"a\\\"b\\\\c\\u000ad\\u0001\""), "%s", line);
}

/* A program's name is whatever bytes it was run as: the line stays valid
 * UTF-8 (well-formed characters kept, any other byte '?'). */
Test(manifest, strings_are_written_as_valid_utf8)
{
    struct ps_event e;
    char line[PS_LINE_MAX];
    fill(&e, PS_EV_BIND, "127.0.0.1", "127.0.0.1");
    strcpy(e.prog, "caf\xc3\xa9 \xff\xc3x\xed\xa0\x80\xf0\x9f\x98\x80\xc0\xaf\xf4\x90\x80\x80");
    e.hpid = 7;
    strcpy(e.hcmd, "x\xe2\x82");
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0);
    line[n] = 0;
    cr_assert(strstr(line, "\"prog\":\"caf\xc3\xa9 ??x???\xf0\x9f\x98\x80??????\""), "%s", line);
    cr_assert(strstr(line, "\"hcmd\":\"x??\""), "%s", line);
    struct ps_event d;
    cr_assert_eq(ps_event_decode(line, n - 1, &d), 0);
    cr_assert_str_eq(d.prog, "caf\xc3\xa9 ??x???\xf0\x9f\x98\x80??????");
}

/* 1e999 is a JSON number, but no time: a reader writing it back as JSON
 * would print "inf". */
Test(manifest, times_past_a_double_are_malformed)
{
    static const char *const bad[] = {
        "{\"v\":1,\"ev\":\"exit\",\"ts\":1e999,\"pid\":1,\"prog\":\"p\",\"ok\":true}",
        "{\"v\":1,\"ev\":\"exit\",\"ts\":-1e999,\"pid\":1,\"prog\":\"p\",\"ok\":true}",
        "{\"v\":1,\"ev\":\"bind\",\"ts\":1.5,\"pid\":1,\"prog\":\"p\",\"ok\":false,\"errno\":98,"
        "\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":80,\"hpid\":2,\"hsince\":1e999}",
    };
    struct ps_event e;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(ps_event_decode(bad[i], strlen(bad[i]), &e), -1, "%s", bad[i]);
    static const char ok[] = "{\"v\":1,\"ev\":\"exit\",\"ts\":1.5e9,\"pid\":1,\"prog\":\"p\",\"ok\":true}";
    cr_assert_eq(ps_event_decode(ok, strlen(ok), &e), 0);
    cr_assert_float_eq(e.ts, 1.5e9, 1e-3);
}

Test(manifest, note_with_every_byte_round_trips)
{
    struct ps_event e;
    fill(&e, PS_EV_CONNECT, "127.0.0.1", "127.0.0.1");
    e.prog[0] = 0;
    e.rpath[0] = 0;
    /* 1..127: every ASCII byte, escaped where JSON needs it */
    for (int part = 0; part < 2; part++) {
        int lo = part ? 64 : 1, hi = part ? 127 : 63;
        int i = 0;
        for (int c = lo; c <= hi; c++)
            e.note[i++] = (char)c;
        e.note[i] = 0;
        round_trip(&e);
    }
}

/* The line docs/manifest.md shows is exactly what the encoder writes. */
Test(manifest, encode_matches_documented_bind_line)
{
    struct ps_event e;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_BIND);
    e.ts = 1795312345.120001;
    e.pid = 4101;
    strcpy(e.prog, "server");
    strcpy(e.sid, "4101.1");
    strcpy(e.mode, "remap");
    e.fam = AF_INET;
    e.has_addr = e.has_raddr = true;
    e.addr = A("127.0.0.1");
    e.port = 8000;
    e.raddr = A("127.0.0.1");
    e.rport = 41234;
    e.reuseaddr = true;
    e.uid = 1000;
    e.ino = 918273;
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0);
    line[n] = 0;
    cr_assert_str_eq(line,
        "{\"v\":2,\"ev\":\"bind\",\"ts\":1795312345.120001,\"pid\":4101,\"prog\":\"server\","
        "\"sid\":\"4101.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\","
        "\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234,\"reuseaddr\":true,"
        "\"reuseport\":false,\"uid\":1000,\"ino\":918273}\n");
}

Test(manifest, encode_matches_documented_failed_bind_line)
{
    struct ps_event e;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_BIND);
    e.ts = 1795312345.3;
    e.pid = 4103;
    strcpy(e.prog, "server");
    strcpy(e.mode, "remap");
    e.ok = false;
    e.err = EADDRINUSE;
    e.fam = AF_INET;
    e.has_addr = true;
    e.addr = A("127.0.0.1");
    e.port = 8000;
    e.reuseaddr = true;
    e.uid = 1000;
    strcpy(e.note, "virtual port 8000 is held by pid 4101 (server), sid 4101.1");
    e.hpid = 4101;
    strcpy(e.hcmd, "./server --port 8000");
    e.huid = 1000;
    strcpy(e.huser, "dev");
    e.hsince = 1795312345.120001;
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0);
    line[n] = 0;
    cr_assert_str_eq(line,
        "{\"v\":2,\"ev\":\"bind\",\"ts\":1795312345.300000,\"pid\":4103,\"prog\":\"server\","
        "\"mode\":\"remap\",\"ok\":false,\"errno\":98,\"err\":\"EADDRINUSE\",\"fam\":4,"
        "\"addr\":\"127.0.0.1\",\"port\":8000,\"reuseaddr\":true,\"reuseport\":false,"
        "\"uid\":1000,\"note\":\"virtual port 8000 is held by pid 4101 (server), sid 4101.1\","
        "\"hpid\":4101,\"hcmd\":\"./server --port 8000\",\"huid\":1000,\"huser\":\"dev\","
        "\"hsince\":1795312345.120001}\n");
}

Test(manifest, decode_documented_lines)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"start\",\"ts\":1795312345.100000,\"pid\":4100,"
                     "\"prog\":\"portshim\",\"mode\":\"remap\",\"ok\":true}", &e), 0);
    cr_assert_eq(e.ev, PS_EV_START);
    cr_assert_str_eq(e.mode, "remap");
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"connect\",\"ts\":1795312345.200000,\"pid\":4102,"
                     "\"prog\":\"client\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\","
                     "\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234,\"routed\":true}",
                     &e), 0);
    cr_assert_eq(e.ev, PS_EV_CONNECT);
    cr_assert(e.routed);
    cr_assert_eq(e.rport, 41234);
    cr_assert_eq(e.fam, AF_INET);
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"close\",\"ts\":1795312346.000000,\"pid\":4101,"
                     "\"prog\":\"server\",\"sid\":\"4101.1\",\"ok\":true}", &e), 0);
    cr_assert_eq(e.ev, PS_EV_CLOSE);
    cr_assert_str_eq(e.sid, "4101.1");
    cr_assert_eq(e.port, -1, "absent port reads as -1");
    cr_assert_eq(e.uid, -1, "absent uid reads as -1");
}

Test(manifest, decode_needs_only_v_and_ev)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"exit\"}", &e), 0);
    cr_assert_eq(e.ev, PS_EV_EXIT);
    cr_assert(e.ok, "ok defaults to true");
    cr_assert_eq(dec("{\"ev\":\"exit\",\"v\":1}", &e), 0, "key order is free");
}

Test(manifest, decode_allows_whitespace_and_carriage_return)
{
    struct ps_event e;
    cr_assert_eq(dec(" { \"v\" : 1 ,\t\"ev\" : \"listen\" , \"ok\" : false } \r", &e), 0);
    cr_assert_eq(e.ev, PS_EV_LISTEN);
    cr_assert_not(e.ok);
}

Test(manifest, decode_reads_standard_escapes)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"note\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\"}",
                     &e), 0);
    cr_assert_str_eq(e.note, "\"\\/\b\f\n\r\tA?");
}

/* ---- malformed lines ---------------------------------------------------- */

Test(manifest, decode_rejects_empty)
{
    assert_malformed("");
    assert_malformed("   ");
}

Test(manifest, decode_rejects_unfinished_object)
{
    assert_malformed("{");
    assert_malformed("{\"v\":1,\"ev\":\"bind\"");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",");
    assert_malformed("{\"v\":1,\"ev\":\"bi");
    assert_malformed("{\"v\":");
    assert_malformed("{\"v\"");
}

Test(manifest, decode_rejects_non_objects)
{
    assert_malformed("[1,2]");
    assert_malformed("\"bind\"");
    assert_malformed("1");
    assert_malformed("null");
    assert_malformed("{}");
}

Test(manifest, decode_rejects_bad_syntax)
{
    assert_malformed("{\"v\":1 \"ev\":\"bind\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",}");
    assert_malformed("{\"v\" 1,\"ev\":\"bind\"}");
    assert_malformed("{v:1,\"ev\":\"bind\"}");
    assert_malformed("{\"v\":1,,\"ev\":\"bind\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ok\":tru}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ok\":truex}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ts\":1.}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ts\":-}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ts\":1e}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"x\":[1,]}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"x\":{\"a\"}}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"x\":[1}");
}

Test(manifest, decode_rejects_trailing_garbage)
{
    assert_malformed("{\"v\":1,\"ev\":\"bind\"}x");
    assert_malformed("{\"v\":1,\"ev\":\"bind\"}{}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\"}}");
}

Test(manifest, decode_rejects_missing_v)
{
    assert_malformed("{\"ev\":\"bind\",\"pid\":1}");
}

Test(manifest, decode_rejects_missing_ev)
{
    assert_malformed("{\"v\":1,\"pid\":1}");
}

Test(manifest, decode_rejects_other_versions)
{
    assert_malformed("{\"v\":3,\"ev\":\"bind\"}");
    assert_malformed("{\"v\":0,\"ev\":\"bind\"}");
    assert_malformed("{\"v\":-1,\"ev\":\"bind\"}");
    assert_malformed("{\"v\":1.5,\"ev\":\"bind\"}");
    assert_malformed("{\"v\":\"1\",\"ev\":\"bind\"}");
}

Test(manifest, decode_rejects_wrong_types)
{
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"pid\":\"x\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"pid\":1.5}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"pid\":-3}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"pid\":99999999999999999999}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ok\":1}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ok\":\"true\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ok\":null}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"port\":70000}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"port\":-1}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"rport\":65536}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"fam\":5}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"fam\":2}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"fam\":10}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ev\":7}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"sid\":4101}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"prog\":false}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ts\":\"now\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"uid\":-1}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"holder\":0}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"errno\":\"EADDRINUSE\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"v6only\":0}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"reuseport\":1}");
    assert_malformed("{\"v\":1,\"ev\":\"connect\",\"routed\":\"yes\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"pid\":{\"n\":1}}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"note\":[\"a\"]}");
}

Test(manifest, decode_rejects_bad_addresses)
{
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"addr\":\"127.0.0.256\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"addr\":\"localhost\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"addr\":\"\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"raddr\":\"::g\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"addr\":2130706433}");
}

Test(manifest, decode_rejects_bad_escapes)
{
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"note\":\"\\x41\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"note\":\"\\u12\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"note\":\"\\u00g1\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"note\":\"\\");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"note\":\"\\\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"no\\qte\":\"x\"}");
}

Test(manifest, decode_rejects_raw_control_characters_in_strings)
{
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"note\":\"a\x01z\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"note\":\"a\tz\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"note\":\"a\nz\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"x\":\"a\x1fz\"}");
}

Test(manifest, decode_rejects_ids_and_paths_that_do_not_fit)
{
    char line[512];
    char sid[PS_SID_MAX + 1];
    memset(sid, '1', PS_SID_MAX);
    sid[PS_SID_MAX] = 0;
    snprintf(line, sizeof line, "{\"v\":1,\"ev\":\"bind\",\"sid\":\"%s\"}", sid);
    assert_malformed(line);
    char path[PS_UPATH_MAX + 1];
    memset(path, 'p', PS_UPATH_MAX);
    path[PS_UPATH_MAX] = 0;
    snprintf(line, sizeof line, "{\"v\":1,\"ev\":\"bind\",\"rpath\":\"%s\"}", path);
    assert_malformed(line);
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"mode\":\"remap-and-more\"}");
}

Test(manifest, decode_cuts_long_free_text)
{
    struct ps_event e;
    char line[1024], prog[200], note[400];
    memset(prog, 'p', sizeof prog - 1);
    prog[sizeof prog - 1] = 0;
    memset(note, 'n', sizeof note - 1);
    note[sizeof note - 1] = 0;
    snprintf(line, sizeof line, "{\"v\":1,\"ev\":\"bind\",\"prog\":\"%s\",\"note\":\"%s\"}",
             prog, note);
    cr_assert_eq(dec(line, &e), 0);
    cr_assert_eq(strlen(e.prog), PS_PROG_MAX - 1);
    cr_assert_eq(strlen(e.note), PS_NOTE_MAX - 1);
}

Test(manifest, decode_unknown_event_kind_returns_1)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"teleport\",\"pid\":5}", &e), 1);
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"\"}", &e), 1);
    /* a malformed value still makes the line malformed */
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"teleport\",\"pid\":\"x\"}", &e), -1);
    /* a version we cannot read is malformed, whatever the kind */
    cr_assert_eq(dec("{\"v\":3,\"ev\":\"teleport\"}", &e), -1);
}

Test(manifest, decode_ignores_unknown_keys_and_nested_values)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"future\":{\"a\":[1,2,{\"b\":null}],\"c\":\"d\\\"}\"},"
                     "\"ev\":\"bind\",\"list\":[],\"obj\":{},\"n\":null,\"x\":-1.5e3,"
                     "\"s\":\"\\u0041\",\"t\":true,\"pid\":7}", &e), 0);
    cr_assert_eq(e.ev, PS_EV_BIND);
    cr_assert_eq(e.pid, 7);
}

Test(manifest, decode_respects_the_given_length)
{
    struct ps_event e;
    const char *line = "{\"v\":1,\"ev\":\"bind\",\"pid\":7}GARBAGE";
    cr_assert_eq(ps_event_decode(line, strlen(line) - 7, &e), 0);
    cr_assert_eq(e.pid, 7);
    cr_assert_eq(ps_event_decode(line, 10, &e), -1);
}

Test(manifest, decode_rejects_absurd_nesting)
{
    char line[256] = "{\"v\":1,\"ev\":\"bind\",\"x\":";
    for (int i = 0; i < 40; i++) strcat(line, "[");
    for (int i = 0; i < 40; i++) strcat(line, "]");
    strcat(line, "}");
    assert_malformed(line);
}

/* ---- buffer limits ------------------------------------------------------ */

Test(manifest, encode_returns_0_when_buffer_too_small_and_never_overruns)
{
    struct ps_event e;
    char full[PS_LINE_MAX];
    fill(&e, PS_EV_BIND, "::ffff:127.0.0.1", "::1");
    size_t need = ps_event_encode(&e, full, sizeof full);
    cr_assert_gt(need, 100);
    enum { CANARY = 32 };
    for (size_t len = 0; len < need; len++) {
        char buf[PS_LINE_MAX + CANARY];
        memset(buf, 0xA5, sizeof buf);
        cr_assert_eq(ps_event_encode(&e, buf, len), 0, "len %zu < %zu accepted", len, need);
        for (size_t i = len; i < len + CANARY; i++)
            cr_assert_eq((unsigned char)buf[i], 0xA5, "len %zu: byte %zu overwritten", len, i);
    }
    char buf[PS_LINE_MAX];
    cr_assert_eq(ps_event_encode(&e, buf, need + 1), need);
    cr_assert_arr_eq(buf, full, need);
}

Test(manifest, encode_with_zero_length_touches_nothing)
{
    struct ps_event e;
    ps_event_init(&e, PS_EV_EXIT);
    cr_assert_eq(ps_event_encode(&e, NULL, 0), 0);
}

/* The longest fields the struct can hold, in plain text, still make a line. */
Test(manifest, largest_plain_event_fits_in_a_line)
{
    struct ps_event e;
    char line[PS_LINE_MAX];
    fill(&e, PS_EV_BIND, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    e.ts = 4102444800.999999;     /* 2100-01-01 */
    e.pid = 0x7fffffff;
    e.holder = 0x7fffffff;
    e.uid = 0xffffffffL;
    e.err = ECONNABORTED;
    strcpy(e.mode, "observe");
    memset(e.prog, 'p', PS_PROG_MAX - 1);
    e.prog[PS_PROG_MAX - 1] = 0;
    memset(e.sid, '9', PS_SID_MAX - 1);
    e.sid[PS_SID_MAX - 1] = 0;
    memset(e.rpath, 'r', PS_UPATH_MAX - 1);
    e.rpath[PS_UPATH_MAX - 1] = 0;
    memset(e.note, 'n', PS_NOTE_MAX - 1);
    e.note[PS_NOTE_MAX - 1] = 0;
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0, "a full event does not fit in PS_LINE_MAX");
    round_trip(&e);
}

Test(manifest, ts_keeps_microseconds)
{
    struct ps_event e, back;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_LISTEN);
    e.ts = 1795312345.000001;
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0);
    cr_assert_eq(ps_event_decode(line, n - 1, &back), 0);
    cr_assert_lt(fabs(back.ts - e.ts), 5e-7);
    cr_assert_gt(back.ts, 1795312345.0000005);
}

/* Numbers far outside every field's range are values like any other: an
 * unknown key may hold one, and a known integer key refuses it. */
Test(manifest, decode_survives_huge_numbers)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"x\":1e999,\"y\":-1e300,\"z\":12345678901234567890123}",
                     &e), 0);
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"ts\":1e300}", &e), 0);
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"pid\":1e300}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"port\":-1e300}");
    assert_malformed("{\"v\":1e0,\"ev\":\"bind\"}");
}

Test(manifest, decode_keeps_the_sign_of_every_number_form)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"ts\":-2.5}", &e), 0);
    cr_assert_float_eq(e.ts, -2.5, 1e-12);
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"ts\":-1.5e3}", &e), 0);
    cr_assert_float_eq(e.ts, -1500.0, 1e-9);
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"ts\":1.5E+3}", &e), 0);
    cr_assert_float_eq(e.ts, 1500.0, 1e-9);
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"ts\":-12}", &e), 0);
    cr_assert_float_eq(e.ts, -12.0, 1e-12);
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"ts\":2e-3}", &e), 0);
    cr_assert_float_eq(e.ts, 0.002, 1e-12);
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"ts\":1795312345.123456}", &e), 0);
    cr_assert_float_eq(e.ts, 1795312345.123456, 1e-7);
}

Test(manifest, decode_reads_the_largest_integers_fields_take)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"uid\":4294967295,\"pid\":2147483647,"
                     "\"holder\":2147483647,\"rport\":65535}", &e), 0);
    cr_assert_eq(e.uid, 4294967295L);
    cr_assert_eq(e.pid, 2147483647);
    cr_assert_eq(e.holder, 2147483647);
    cr_assert_eq(e.rport, 65535);
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"uid\":4294967296}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"pid\":2147483648}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"pid\":1234567890123456789}");
}

/* Timestamps a clock cannot give are written as 0, never as garbage. */
Test(manifest, encode_writes_absurd_timestamps_as_zero)
{
    struct ps_event e;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_EXIT);
    const double absurd[] = {-1.0, 1e14, 1e300, 1.0 / 0.0};
    for (size_t i = 0; i < sizeof absurd / sizeof *absurd; i++) {
        e.ts = absurd[i];
        size_t n = ps_event_encode(&e, line, sizeof line);
        cr_assert_gt(n, 0);
        line[n] = 0;
        cr_assert(strstr(line, "\"ts\":0.000000,"), "ts %g: %s", absurd[i], line);
    }
    e.ts = 1e12;
    size_t n = ps_event_encode(&e, line, sizeof line);
    line[n] = 0;
    cr_assert(strstr(line, "\"ts\":1000000000000.000000,"), "%s", line);
}

/* Found by the fuzzer: an hsince that rounds to 0 µs (or past what a time
 * holds) was written as "hsince":0.000000, which reads back as absent: the
 * line a reader re-encodes differed from the one it read. */
Test(manifest, hsince_that_rounds_to_nothing_is_not_written)
{
    struct ps_event e;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_BIND);
    const double nothing[] = {1e-7, 4.9e-7, 1e13, 1e300};
    for (size_t i = 0; i < sizeof nothing / sizeof *nothing; i++) {
        e.hsince = nothing[i];
        size_t n = ps_event_encode(&e, line, sizeof line);
        cr_assert_gt(n, 0);
        line[n] = 0;
        cr_assert_null(strstr(line, "hsince"), "hsince %g: %s", nothing[i], line);
    }
    e.hsince = 5e-7;
    size_t n = ps_event_encode(&e, line, sizeof line);
    line[n] = 0;
    cr_assert(strstr(line, "\"hsince\":0.000001}"), "%s", line);
    struct ps_event back;
    cr_assert_eq(ps_event_decode(line, n - 1, &back), 0);
    cr_assert_float_eq(back.hsince, 1e-6, 1e-12);
}

/* A record the library writes must never be dropped for length: the worst
 * event (every string field full of characters that need \u escapes) fits. */
Test(manifest, worst_case_event_fits_in_line_max)
{
    struct ps_event e;
    ps_event_init(&e, PS_EV_BIND);
    e.ts = 1795312345.123456;
    e.pid = 2147483647;
    e.ok = false;
    e.err = 4095;
    e.fam = AF_INET6;
    e.has_addr = e.has_raddr = true;
    ps_addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &e.addr);
    ps_addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &e.raddr);
    e.port = e.rport = 65535;
    e.uid = 4294967295L;
    e.holder = 2147483647;
    memset(e.prog, 0x01, sizeof e.prog - 1);
    memset(e.sid, 0x01, sizeof e.sid - 1);
    memset(e.mode, 0x01, sizeof e.mode - 1);
    memset(e.rpath, 0x01, sizeof e.rpath - 1);
    memset(e.note, 0x01, sizeof e.note - 1);
    e.hpid = 2147483647;
    e.huid = 4294967295L;
    e.hsince = 4102444800.999999;
    memset(e.hcmd, 0x01, sizeof e.hcmd - 1);
    memset(e.huser, 0x01, sizeof e.huser - 1);
    memset(e.inj, 0x01, sizeof e.inj - 1);
    e.inj_us = 3600000000LL;
    char line[PS_LINE_MAX];
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0, "the worst-case event does not fit in PS_LINE_MAX (%d)", PS_LINE_MAX);
    struct ps_event back;
    cr_assert_eq(ps_event_decode(line, n - 1, &back), 0, "%.*s", (int)n, line);
    cr_assert_eq(strlen(back.note), sizeof e.note - 1);
}

Test(manifest, holder_and_injection_fields_are_optional_and_named)
{
    struct ps_event e;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_BIND);
    e.ok = false;
    e.err = EADDRINUSE;
    size_t n = ps_event_encode(&e, line, sizeof line);
    line[n] = 0;
    cr_assert_null(strstr(line, "\"h"), "absent holder fields written: %s", line);
    cr_assert_null(strstr(line, "\"inj"), "absent injection fields written: %s", line);
    e.hpid = 4242;
    strcpy(e.hcmd, "redis-server *:8000");
    e.huid = 0;
    strcpy(e.huser, "root");
    e.hsince = 1795312000.25;
    strcpy(e.inj, "accept-delay");
    e.inj_us = 0;
    n = ps_event_encode(&e, line, sizeof line);
    line[n] = 0;
    cr_assert(strstr(line, ",\"hpid\":4242,\"hcmd\":\"redis-server *:8000\",\"huid\":0,"
                           "\"huser\":\"root\",\"hsince\":1795312000.250000,"
                           "\"inj\":\"accept-delay\",\"inj_us\":0}"), "%s", line);
    struct ps_event back;
    const char doc[] = "{\"v\":1,\"ev\":\"bind\",\"ok\":false,\"errno\":98,\"hpid\":7,"
                       "\"hcmd\":\"nc -l 8000\",\"huid\":1001,\"hsince\":1795312000}";
    cr_assert_eq(ps_event_decode(doc, sizeof doc - 1, &back), 0);
    cr_assert_eq(back.hpid, 7);
    cr_assert_str_eq(back.hcmd, "nc -l 8000");
    cr_assert_eq(back.huid, 1001);
    cr_assert_float_eq(back.hsince, 1795312000.0, 1e-9);
    cr_assert_eq(back.inj_us, -1);
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"hpid\":\"x\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"inj_us\":-5}");
}

Test(manifest, version_1_lines_are_still_read_and_writers_write_version_2)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"connect\",\"pid\":5,\"routed\":true}", &e), 0);
    cr_assert_eq(e.v, 1);
    cr_assert(e.routed);
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_CONNS);
    strcpy(e.sid, "7.1");
    e.count = 41;
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert(n > 0 && !strncmp(line, "{\"v\":2,\"ev\":\"conns\",", 20), "%s", line);
    cr_assert(strstr(line, "\"count\":41"), "%s", line);
    struct ps_event d;
    cr_assert_eq(ps_event_decode(line, n - 1, &d), 0, "%s", line);
    cr_assert_eq(d.ev, PS_EV_CONNS);
    cr_assert_eq(d.count, 41);
    cr_assert_str_eq(d.sid, "7.1");
}

Test(manifest, counter_slot_and_base_round_trip_and_are_bounds_checked)
{
    struct ps_event e, d;
    ps_event_init(&e, PS_EV_BIND);
    strcpy(e.sid, "7.1");
    e.cslot = 4095;
    e.cbase = 123456789;
    char line[PS_LINE_MAX];
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_eq(ps_event_decode(line, n - 1, &d), 0, "%s", line);
    cr_assert_eq(d.cslot, 4095);
    cr_assert_eq(d.cbase, 123456789);
    assert_malformed("{\"v\":2,\"ev\":\"bind\",\"cslot\":4096,\"cbase\":0}");
    assert_malformed("{\"v\":2,\"ev\":\"bind\",\"cslot\":-1,\"cbase\":0}");
    assert_malformed("{\"v\":2,\"ev\":\"bind\",\"cslot\":1,\"cbase\":-5}");
    assert_malformed("{\"v\":2,\"ev\":\"conns\",\"count\":1e300}");
    assert_malformed("{\"v\":2,\"ev\":\"conns\",\"count\":\"9\"}");
}

Test(manifest, socket_inode_is_read_and_checked)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\",\"ino\":4242}", &e), 0);
    cr_assert_eq(e.ino, 4242);
    cr_assert_eq(dec("{\"v\":1,\"ev\":\"bind\"}", &e), 0);
    cr_assert_eq(e.ino, 0, "absent");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ino\":0}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ino\":-5}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ino\":\"5\"}");
    assert_malformed("{\"v\":1,\"ev\":\"bind\",\"ino\":1.5}");
}

/* ---- the socket's protocol -------------------------------------------- */

Test(manifest, protocol_other_than_tcp_is_written_and_read_back)
{
    struct ps_event e, got;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_BIND);
    e.pid = 4101;
    e.proto = PS_PROTO_UDP;
    size_t n = ps_event_encode(&e, line, sizeof line);
    cr_assert_gt(n, 0);
    line[n] = 0;
    cr_assert_not_null(strstr(line, "\"proto\":\"udp\""), "%s", line);
    cr_assert_eq(ps_event_decode(line, n - 1, &got), 0, "%s", line);
    cr_assert_eq(got.proto, PS_PROTO_UDP);
    e.proto = PS_PROTO_TCP;
    n = ps_event_encode(&e, line, sizeof line);
    line[n] = 0;
    cr_assert_null(strstr(line, "proto"), "tcp is the default, not written: %s", line);
}

Test(manifest, protocol_absent_is_tcp_and_unknown_is_other)
{
    struct ps_event e;
    cr_assert_eq(dec("{\"v\":2,\"ev\":\"bind\",\"pid\":1}", &e), 0);
    cr_assert_eq(e.proto, PS_PROTO_TCP);
    cr_assert_eq(dec("{\"v\":2,\"ev\":\"bind\",\"pid\":1,\"proto\":\"tcp\"}", &e), 0);
    cr_assert_eq(e.proto, PS_PROTO_TCP);
    cr_assert_eq(dec("{\"v\":2,\"ev\":\"bind\",\"pid\":1,\"proto\":\"sctp\"}", &e), 0);
    cr_assert_eq(e.proto, PS_PROTO_OTHER);
    cr_assert_eq(dec("{\"v\":2,\"ev\":\"bind\",\"pid\":1,\"proto\":\"a-very-long-name\"}", &e), 0);
    cr_assert_eq(e.proto, PS_PROTO_OTHER);
    assert_malformed("{\"v\":2,\"ev\":\"bind\",\"pid\":1,\"proto\":6}");
}

Test(manifest, the_backend_is_written_only_when_not_the_library)
{
    struct ps_event e, back;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_CONNECT);
    size_t n = ps_event_encode(&e, line, sizeof line);
    line[n] = 0;
    cr_assert_null(strstr(line, "\"be\""), "the library's record names a backend: %s", line);
    strcpy(e.be, "seccomp");
    n = ps_event_encode(&e, line, sizeof line);
    line[n] = 0;
    cr_assert(strstr(line, ",\"be\":\"seccomp\"}"), "%s", line);
    cr_assert_eq(ps_event_decode(line, n - 1, &back), 0);
    cr_assert_str_eq(back.be, "seccomp");
    /* a newer writer's longer backend name is cut, not a malformed line */
    const char doc[] = "{\"v\":2,\"ev\":\"bind\",\"be\":\"a-much-longer-backend\"}";
    cr_assert_eq(ps_event_decode(doc, sizeof doc - 1, &back), 0);
    cr_assert_str_eq(back.be, "a-much-");
    const char bad[] = "{\"v\":2,\"ev\":\"bind\",\"be\":7}";
    cr_assert_eq(ps_event_decode(bad, sizeof bad - 1, &back), -1);
}
