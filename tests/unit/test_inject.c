/* test_inject.c — the --inject grammar, its canonical text, and the seeded
 * decisions: pure, replayable, and different for different seeds. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/inject.h"

static struct ps_inject in;
static char err[256];

static int parse(const char *s)
{
    memset(err, 0, sizeof err);
    memset(&in, 0x5a, sizeof in);
    return ps_inject_parse(s, &in, err, sizeof err);
}

static void assert_rejected(const char *spec, const char *needle)
{
    cr_assert_eq(parse(spec), -1, "'%s' accepted", spec);
    cr_assert(strstr(err, needle), "error '%s' does not contain '%s'", err, needle);
    cr_assert(!strncmp(err, "--inject '", 10), "error '%s' does not name --inject", err);
    cr_assert_null(strchr(err, '\n'), "error is not one line: '%s'", err);
    cr_assert(!in.any, "a rejected spec leaves injection on");
}

Test(inject, fixed_delay_with_probability)
{
    cr_assert_eq(parse("accept-delay=30ms@0.3"), 0, "%s", err);
    cr_assert(in.any);
    cr_assert_eq(in.accept_delay.lo_us, 30000);
    cr_assert_eq(in.accept_delay.hi_us, 30000);
    cr_assert_float_eq(in.accept_delay.p, 0.3, 1e-12);
    cr_assert_eq(in.connect_delay.p, 0);
    cr_assert_eq(in.bind_eaddrinuse, 0);
    cr_assert_eq(in.connect_refused, 0);
}

Test(inject, range_with_bare_lo_takes_hi_unit_and_percent_probability)
{
    cr_assert_eq(parse("connect-delay=0-50ms,connect-refused=2%"), 0, "%s", err);
    cr_assert_eq(in.connect_delay.lo_us, 0);
    cr_assert_eq(in.connect_delay.hi_us, 50000);
    cr_assert_eq(in.connect_delay.p, 1.0);
    cr_assert_float_eq(in.connect_refused, 0.02, 1e-12);
    cr_assert_eq(in.accept_delay.p, 0);
}

Test(inject, every_unit_and_mixed_range_units)
{
    cr_assert_eq(parse("accept-delay=250us-1.5s,bind-eaddrinuse=1"), 0, "%s", err);
    cr_assert_eq(in.accept_delay.lo_us, 250);
    cr_assert_eq(in.accept_delay.hi_us, 1500000);
    cr_assert_eq(in.bind_eaddrinuse, 1.0);
}

Test(inject, zero_probabilities_leave_injection_off)
{
    cr_assert_eq(parse("bind-eaddrinuse=0,accept-delay=5ms@0%"), 0, "%s", err);
    cr_assert(!in.any);
}

Test(inject, bad_duration_is_named_with_the_item)
{
    assert_rejected("accept-delay=5xs", "bad duration '5xs' (use 10us, 5ms or 1s)");
    cr_assert_str_eq(err, "--inject 'accept-delay=5xs': bad duration '5xs' (use 10us, 5ms or 1s)");
    assert_rejected("connect-delay=ms", "bad duration");
    assert_rejected("connect-delay=", "bad duration");
    assert_rejected("connect-delay=5", "bad duration '5'");
    assert_rejected("connect-delay=1,5ms", "bad duration");
}

Test(inject, a_negative_delay_or_a_range_without_its_upper_end_says_so)
{
    assert_rejected("connect-delay=-5ms", "a delay cannot be negative ('-5ms'");
    assert_rejected("accept-delay=-1ms@0.5", "a delay cannot be negative ('-1ms'");
    assert_rejected("accept-delay=1ms-", "range '1ms-' has no upper end");
    assert_rejected("accept-delay=-", "cannot be negative");
}

Test(inject, over_sixty_seconds_and_backwards_ranges_rejected)
{
    assert_rejected("accept-delay=61s", "over 60s");
    assert_rejected("accept-delay=1-90s", "over 60s");
    cr_assert_eq(parse("accept-delay=60s"), 0, "%s", err);
    assert_rejected("accept-delay=50ms-10ms", "runs backwards");
}

Test(inject, bad_probabilities_rejected)
{
    assert_rejected("connect-refused=1.5", "bad probability '1.5'");
    assert_rejected("connect-refused=150%", "bad probability");
    assert_rejected("bind-eaddrinuse=-0.1", "bad probability");
    assert_rejected("bind-eaddrinuse=half", "bad probability");
    assert_rejected("accept-delay=5ms@", "bad probability");
    assert_rejected("accept-delay=5ms@2", "bad probability '2'");
}

Test(inject, unknown_duplicate_and_empty_items_rejected)
{
    assert_rejected("accept-latency=5ms", "'accept-latency=5ms': expected connect-delay=");
    assert_rejected("bind-eaddrinuse", "expected connect-delay=");
    assert_rejected("bind-eaddrinuse=1%,bind-eaddrinuse=2%", "given twice");
    assert_rejected("bind-eaddrinuse=1%,", "empty item");
    assert_rejected("", "empty spec");
}

Test(inject, messages_stay_one_line_and_take_a_label)
{
    struct ps_inject x;
    cr_assert_eq(ps_inject_parse_as("PORTSHIM_INJECT", "accept-delay=5\nms", &x, err, sizeof err), -1);
    cr_assert(!strncmp(err, "PORTSHIM_INJECT 'accept-delay=5?ms'", 35), "%s", err);
    cr_assert_null(strchr(err, '\n'));
}

Test(inject, numbers_ignore_the_locale_and_accept_exponents)
{
    cr_assert_eq(parse("connect-refused=1e-05,accept-delay=.5ms"), 0, "%s", err);
    cr_assert_float_eq(in.connect_refused, 1e-5, 1e-18);
    cr_assert_eq(in.accept_delay.hi_us, 500);
}

static void roundtrip(const char *spec, const char *canonical)
{
    char buf[256];
    cr_assert_eq(parse(spec), 0, "%s", err);
    struct ps_inject a = in;
    ps_inject_format(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, canonical);
    cr_assert_eq(parse(buf), 0, "canonical '%s' rejected: %s", buf, err);
    cr_assert_eq(memcmp(&a, &in, sizeof a), 0, "'%s' parses back differently", buf);
}

Test(inject, canonical_text_parses_back_to_the_same_spec)
{
    roundtrip("connect-refused=2%,accept-delay=30ms@0.3", "accept-delay=30ms@0.3,connect-refused=0.02");
    roundtrip("connect-delay=0-50ms", "connect-delay=0us-50ms");
    roundtrip("connect-delay=1000ms-2s@100%,bind-eaddrinuse=33.3%",
              "connect-delay=1s-2s,bind-eaddrinuse=0.333");
    roundtrip("accept-delay=1234us", "accept-delay=1234us");
    char buf[64] = "x";
    cr_assert_eq(parse("bind-eaddrinuse=0"), 0);
    ps_inject_format(&in, buf, sizeof buf);
    cr_assert_str_eq(buf, "");
}

/* Found by the fuzzer: a probability far from the numbers people write was
 * scaled by repeated divisions, off in its last bits, so its canonical
 * text (the replay command stress prints) parsed to another spec. */
Test(inject, canonical_text_of_extreme_probabilities_parses_back_to_the_same_spec)
{
    roundtrip("accept-delay=30ms@0.0000000000000000000000000000000000000000000000000000000000"
              "00000014347467612885206811",
              "accept-delay=30ms@1.4347467612885206e-65");
    roundtrip("connect-refused=1.4347467612885208e-65", "connect-refused=1.4347467612885208e-65");
    roundtrip("bind-eaddrinuse=12345678901234567890123e-30",
              "bind-eaddrinuse=1.2345678901234567e-08");
    roundtrip("connect-refused=0.99999999999999989", "connect-refused=0.99999999999999989");
}

Test(inject, canonical_text_is_truncated_safely)
{
    char buf[8];
    cr_assert_eq(parse("connect-delay=0-50ms,connect-refused=2%"), 0);
    ps_inject_format(&in, buf, sizeof buf);
    cr_assert_eq(strlen(buf), 7);
}

Test(inject, seeds_are_decimal_u64)
{
    uint64_t s = 7;
    cr_assert_eq(ps_seed_parse("0", &s, err, sizeof err), 0);
    cr_assert_eq(s, 0);
    cr_assert_eq(ps_seed_parse("18446744073709551615", &s, err, sizeof err), 0);
    cr_assert_eq(s, UINT64_MAX);
    cr_assert_eq(ps_seed_parse("18446744073709551616", &s, err, sizeof err), -1);
    cr_assert(strstr(err, "'18446744073709551616'"), "%s", err);
    cr_assert_eq(ps_seed_parse("", &s, err, sizeof err), -1);
    cr_assert_eq(ps_seed_parse("-1", &s, err, sizeof err), -1);
    cr_assert_eq(ps_seed_parse("12x", &s, err, sizeof err), -1);
    cr_assert_eq(ps_seed_parse("0x10", &s, err, sizeof err), -1);
    cr_assert(strstr(err, "decimal"), "%s", err);
}

Test(inject, key_is_fnv1a_of_the_command_line)
{
    cr_assert_eq(ps_inject_key("", 0), 0xcbf29ce484222325ull);
    cr_assert_eq(ps_inject_key("a", 1), 0xaf63dc4c8601ec8cull);   /* FNV-1a 64 test vector */
    const char a[] = "srv\0-p\0008000", b[] = "srv\0-p\0008001";
    cr_assert_neq(ps_inject_key(a, sizeof a), ps_inject_key(b, sizeof b));
}

Test(inject, draw_is_pure_and_depends_on_every_input)
{
    uint64_t d = ps_inject_draw(1, 2, PS_INJ_CONNECT_REFUSED, 8000, 5);
    cr_assert_eq(d, ps_inject_draw(1, 2, PS_INJ_CONNECT_REFUSED, 8000, 5));
    cr_assert_neq(d, ps_inject_draw(9, 2, PS_INJ_CONNECT_REFUSED, 8000, 5));
    cr_assert_neq(d, ps_inject_draw(1, 3, PS_INJ_CONNECT_REFUSED, 8000, 5));
    cr_assert_neq(d, ps_inject_draw(1, 2, PS_INJ_BIND_EADDRINUSE, 8000, 5));
    cr_assert_neq(d, ps_inject_draw(1, 2, PS_INJ_CONNECT_REFUSED, 8001, 5));
    cr_assert_neq(d, ps_inject_draw(1, 2, PS_INJ_CONNECT_REFUSED, 8000, 6));
}

/* 256 decisions at p = 0.5 as a bit pattern. */
static void pattern(uint64_t seed, uint64_t key, uint64_t out[4])
{
    struct ps_inject x = {.any = true, .connect_refused = 0.5};
    memset(out, 0, 4 * sizeof *out);
    for (uint64_t n = 0; n < 256; n++)
        if (ps_inject_fail(&x, seed, key, PS_INJ_CONNECT_REFUSED, 8000, n))
            out[n / 64] |= 1ull << (n % 64);
}

Test(inject, same_seed_same_decisions_different_seed_different)
{
    uint64_t a[4], b[4], c[4];
    pattern(42, 7, a);
    pattern(42, 7, b);
    pattern(43, 7, c);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_neq(memcmp(a, c, sizeof a), 0);
    int ones = 0;
    for (int i = 0; i < 4; i++)
        ones += __builtin_popcountll(a[i]);
    cr_assert(ones > 64 && ones < 192, "p=0.5 gave %d/256", ones);
}

Test(inject, failure_probabilities_zero_one_and_kind)
{
    struct ps_inject x = {.any = true, .bind_eaddrinuse = 1.0};
    for (uint64_t n = 0; n < 100; n++) {
        cr_assert(ps_inject_fail(&x, 1, 1, PS_INJ_BIND_EADDRINUSE, 80, n));
        cr_assert(!ps_inject_fail(&x, 1, 1, PS_INJ_CONNECT_REFUSED, 80, n));
        cr_assert(!ps_inject_fail(&x, 1, 1, PS_INJ_ACCEPT_DELAY, 80, n));
    }
    int hits = 0;
    x.bind_eaddrinuse = 0.1;
    for (uint64_t n = 0; n < 10000; n++)
        hits += ps_inject_fail(&x, 3, 1, PS_INJ_BIND_EADDRINUSE, 80, n);
    cr_assert(hits > 800 && hits < 1200, "p=0.1 gave %d/10000", hits);
}

Test(inject, delays_fall_in_range_with_their_probability)
{
    struct ps_inject x;
    cr_assert_eq(ps_inject_parse("accept-delay=10-20ms@25%", &x, err, sizeof err), 0);
    int on = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint64_t n = 0; n < 4000; n++) {
        uint64_t us = ps_inject_delay_us(&x, 5, 6, PS_INJ_ACCEPT_DELAY, 9000, n);
        cr_assert_eq(us, ps_inject_delay_us(&x, 5, 6, PS_INJ_ACCEPT_DELAY, 9000, n));
        cr_assert_eq(ps_inject_delay_us(&x, 5, 6, PS_INJ_CONNECT_DELAY, 9000, n), 0);
        if (!us)
            continue;
        on++;
        lo = us < lo ? us : lo;
        hi = us > hi ? us : hi;
    }
    cr_assert(on > 800 && on < 1200, "p=0.25 gave %d/4000", on);
    cr_assert(lo >= 10000 && hi <= 20000, "range [%llu,%llu]", (unsigned long long)lo,
              (unsigned long long)hi);
    cr_assert(lo < 11000 && hi > 19000, "not spread: [%llu,%llu]", (unsigned long long)lo,
              (unsigned long long)hi);
}

Test(inject, fixed_delay_is_exact)
{
    struct ps_inject x;
    cr_assert_eq(ps_inject_parse("connect-delay=7ms", &x, err, sizeof err), 0);
    for (uint64_t n = 0; n < 50; n++)
        cr_assert_eq(ps_inject_delay_us(&x, n, 1, PS_INJ_CONNECT_DELAY, 1, n), 7000);
}

Test(inject, kind_names)
{
    cr_assert_str_eq(ps_inject_kind_name(PS_INJ_ACCEPT_DELAY), "accept-delay");
    cr_assert_str_eq(ps_inject_kind_name(PS_INJ_BIND_EADDRINUSE), "bind-eaddrinuse");
    cr_assert_str_eq(ps_inject_kind_name(99), "?");
}

Test(inject, udp_drop_is_a_probability_item)
{
    cr_assert_eq(parse("udp-drop=25%"), 0, "%s", err);
    cr_assert(in.any);
    cr_assert_float_eq(in.udp_drop, 0.25, 1e-12);
    cr_assert_eq(in.connect_refused, 0);
    cr_assert_eq(in.bind_eaddrinuse, 0);
    cr_assert_eq(parse("udp-drop=0"), 0, "%s", err);
    cr_assert(!in.any, "udp-drop=0 turns injection on");
    assert_rejected("udp-drop=1.5", "'udp-drop=1.5': bad probability '1.5'");
    assert_rejected("udp-drop=", "bad probability ''");
    assert_rejected("udp-drop=5ms", "bad probability '5ms'");
    assert_rejected("udp-drop=1%,udp-drop=2%", "udp-drop given twice");
    assert_rejected("udp-loss=1%", "bind-eaddrinuse=, connect-refused= or udp-drop=");
}

Test(inject, udp_drop_canonical_text_comes_last_and_parses_back)
{
    roundtrip("udp-drop=10%,connect-delay=5ms", "connect-delay=5ms,udp-drop=0.1");
    roundtrip("udp-drop=1,connect-refused=2%,bind-eaddrinuse=3%",
              "bind-eaddrinuse=0.03,connect-refused=0.02,udp-drop=1");
}

/* 256 udp-drop decisions at virtual port 5353 as a bit pattern. */
static void drops(const struct ps_inject *x, uint64_t seed, uint64_t key, uint64_t out[4])
{
    memset(out, 0, 4 * sizeof *out);
    for (uint64_t n = 0; n < 256; n++)
        if (ps_inject_fail(x, seed, key, PS_INJ_UDP_DROP, 5353, n))
            out[n / 64] |= 1ull << (n % 64);
}

Test(inject, udp_drops_replay_from_the_seed)
{
    struct ps_inject x;
    uint64_t a[4], b[4], c[4], d[4];
    cr_assert_eq(ps_inject_parse("udp-drop=30%", &x, err, sizeof err), 0, "%s", err);
    drops(&x, 8151040338ull, 7, a);
    drops(&x, 8151040338ull, 7, b);
    drops(&x, 8151040339ull, 7, c);
    drops(&x, 8151040338ull, 8, d);
    cr_assert_eq(memcmp(a, b, sizeof a), 0, "the same seed dropped other datagrams");
    cr_assert_neq(memcmp(a, c, sizeof a), 0, "another seed dropped the same datagrams");
    cr_assert_neq(memcmp(a, d, sizeof a), 0, "another program dropped the same datagrams");
    int ones = 0;
    for (int i = 0; i < 4; i++)
        ones += __builtin_popcountll(a[i]);
    cr_assert(ones > 40 && ones < 115, "p=0.3 dropped %d/256", ones);
    /* Its own kind: a connect-refused probability drops nothing, and
     * udp-drop refuses nothing. */
    for (uint64_t n = 0; n < 100; n++) {
        struct ps_inject r = {.any = true, .connect_refused = 1.0};
        cr_assert(!ps_inject_fail(&r, 1, 1, PS_INJ_UDP_DROP, 5353, n));
        struct ps_inject u = {.any = true, .udp_drop = 1.0};
        cr_assert(ps_inject_fail(&u, 1, 1, PS_INJ_UDP_DROP, 5353, n));
        cr_assert(!ps_inject_fail(&u, 1, 1, PS_INJ_CONNECT_REFUSED, 5353, n));
    }
    cr_assert_str_eq(ps_inject_kind_name(PS_INJ_UDP_DROP), "udp-drop");
}

/* Adding a kind must not change the decisions of the others: a seed
 * printed by an older portshim replays the same faults. */
Test(inject, adding_udp_drop_kept_the_other_kinds_numbers)
{
    cr_assert_eq(PS_INJ_CONNECT_DELAY, 0);
    cr_assert_eq(PS_INJ_ACCEPT_DELAY, 1);
    cr_assert_eq(PS_INJ_BIND_EADDRINUSE, 2);
    cr_assert_eq(PS_INJ_CONNECT_REFUSED, 3);
    cr_assert_eq(PS_INJ_UDP_DROP, 4);
}
