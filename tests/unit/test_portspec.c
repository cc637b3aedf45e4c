/* test_portspec.c — PORTSHIM_PORTS / --ports: "N", "N-M", joined by commas. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"

static struct ps_portspec spec;
static char err[256];

static int parse(const char *s)
{
    memset(err, 0, sizeof err);
    return ps_portspec_parse(s, &spec, err, sizeof err);
}

static void assert_rejected(const char *s)
{
    cr_assert_eq(parse(s), -1, "'%s' accepted", s);
    cr_assert_neq(err[0], 0, "'%s' rejected without a message", s);
}

Test(portspec, single_port)
{
    cr_assert_eq(parse("8000"), 0, "%s", err);
    cr_assert_eq(spec.n, 1);
    cr_assert_eq(spec.r[0].lo, 8000);
    cr_assert_eq(spec.r[0].hi, 8000);
}

Test(portspec, range)
{
    cr_assert_eq(parse("8000-8100"), 0, "%s", err);
    cr_assert_eq(spec.n, 1);
    cr_assert_eq(spec.r[0].lo, 8000);
    cr_assert_eq(spec.r[0].hi, 8100);
}

Test(portspec, list_of_ports_and_ranges)
{
    cr_assert_eq(parse("80,443,8000-8100"), 0, "%s", err);
    cr_assert_eq(spec.n, 3);
    cr_assert_eq(spec.r[0].lo, 80);
    cr_assert_eq(spec.r[0].hi, 80);
    cr_assert_eq(spec.r[1].lo, 443);
    cr_assert_eq(spec.r[1].hi, 443);
    cr_assert_eq(spec.r[2].lo, 8000);
    cr_assert_eq(spec.r[2].hi, 8100);
}

Test(portspec, extremes_1_and_65535)
{
    cr_assert_eq(parse("1-65535"), 0, "%s", err);
    cr_assert_eq(spec.r[0].lo, 1);
    cr_assert_eq(spec.r[0].hi, 65535);
    cr_assert_eq(parse("65535"), 0, "%s", err);
    cr_assert_eq(parse("5-5"), 0, "%s", err);
}

Test(portspec, rejects_empty)        { assert_rejected(""); }
Test(portspec, rejects_zero)         { assert_rejected("0"); }
Test(portspec, rejects_zero_in_range){ assert_rejected("0-10"); }
Test(portspec, rejects_65536)        { assert_rejected("65536"); }
Test(portspec, rejects_huge_number)  { assert_rejected("99999999999999999999"); }
Test(portspec, rejects_backwards_range) { assert_rejected("10-5"); }
Test(portspec, rejects_trailing_comma)  { assert_rejected("8000,"); }
Test(portspec, rejects_leading_comma)   { assert_rejected(",80"); }
Test(portspec, rejects_double_comma)    { assert_rejected("80,,90"); }
Test(portspec, rejects_spaces)          { assert_rejected("80 ,90"); assert_rejected(" 80"); assert_rejected("80 "); }
Test(portspec, rejects_words)           { assert_rejected("abc"); assert_rejected("80x"); }
Test(portspec, rejects_three_part_range){ assert_rejected("1-2-3"); }
Test(portspec, rejects_open_range)      { assert_rejected("80-"); assert_rejected("-80"); }
Test(portspec, rejects_signs)           { assert_rejected("+80"); assert_rejected("80--90"); }

Test(portspec, accepts_64_ranges_and_rejects_65)
{
    char s[1024] = "";
    for (int i = 1; i <= PS_PORTSPEC_MAX; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s%d", i > 1 ? "," : "", i * 10);
        strcat(s, one);
    }
    cr_assert_eq(parse(s), 0, "%s", err);
    cr_assert_eq(spec.n, PS_PORTSPEC_MAX);
    cr_assert_eq(spec.r[PS_PORTSPEC_MAX - 1].lo, PS_PORTSPEC_MAX * 10);
    strcat(s, ",9999");
    assert_rejected(s);
}

Test(portspec, contains_edges_of_a_range)
{
    cr_assert_eq(parse("80,8000-8100"), 0, "%s", err);
    cr_assert(ps_portspec_contains(&spec, 8000));
    cr_assert(ps_portspec_contains(&spec, 8100));
    cr_assert(ps_portspec_contains(&spec, 8050));
    cr_assert_not(ps_portspec_contains(&spec, 7999));
    cr_assert_not(ps_portspec_contains(&spec, 8101));
    cr_assert(ps_portspec_contains(&spec, 80));
    cr_assert_not(ps_portspec_contains(&spec, 79));
    cr_assert_not(ps_portspec_contains(&spec, 81));
}

Test(portspec, contains_extremes)
{
    cr_assert_eq(parse("1,65535"), 0, "%s", err);
    cr_assert(ps_portspec_contains(&spec, 1));
    cr_assert(ps_portspec_contains(&spec, 65535));
    cr_assert_not(ps_portspec_contains(&spec, 0));
    cr_assert_not(ps_portspec_contains(&spec, 2));
    cr_assert_not(ps_portspec_contains(&spec, 65534));
}

Test(portspec, empty_spec_contains_nothing)
{
    struct ps_portspec none = {0};
    cr_assert_not(ps_portspec_contains(&none, 80));
}

Test(portspec, error_is_one_line_whatever_the_value_holds)
{
    assert_rejected("80\n90");
    cr_assert_null(strchr(err, '\n'), "'%s'", err);
    assert_rejected("80,\n");
    cr_assert_null(strchr(err, '\n'), "'%s'", err);
}
