/* test_unixname.c — unix-mode socket names: encoding, parsing back, limits. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/unixname.h"

#define DIR "/tmp/portshim.Ab12cd"

static struct ps_uname U(bool client, unsigned port, const char *addr, int n)
{
    struct ps_uname u = {.client = client, .port = (uint16_t)port, .n = n};
    cr_assert_eq(ps_addr_parse(addr, &u.addr), 0);
    return u;
}

static void roundtrip(bool client, unsigned port, const char *addr, int n, const char *want)
{
    char buf[PS_SUN_PATH];
    struct ps_uname u = U(client, port, addr, n), back;
    size_t len = ps_uname_format(buf, sizeof buf, DIR, &u);
    cr_assert_gt(len, 0, "%s does not fit", want);
    if (client) {
        cr_assert_eq(buf[0], 0);
        cr_assert_eq(len, strlen(want) + 1);
        cr_assert_eq(memcmp(buf + 1, want, len - 1), 0, "got %.*s", (int)len - 1, buf + 1);
    } else {
        cr_assert_str_eq(buf, want);
        cr_assert_eq(len, strlen(want));
    }
    cr_assert_eq(ps_uname_parse(buf, len, DIR, &back), 0, "cannot parse back %s", want);
    cr_assert_eq(back.client, client);
    cr_assert_eq(back.port, port);
    cr_assert_eq(back.n, n);
    cr_assert_eq(back.addr.fam, u.addr.fam);
    cr_assert(ps_addr_equal(&back.addr, &u.addr));
}

Test(unixname, listener_names_encode_port_and_address)
{
    roundtrip(false, 8000, "127.0.0.1", 0, DIR "/8000@127.0.0.1");
    roundtrip(false, 8000, "0.0.0.0", 0, DIR "/8000@0.0.0.0");
    roundtrip(false, 6379, "::1", 0, DIR "/6379@::1");
    roundtrip(false, 1, "::", 0, DIR "/1@::");
    roundtrip(false, 65535, "::ffff:127.0.0.1", 0, DIR "/65535@::ffff:127.0.0.1");
}

Test(unixname, sharers_carry_a_number)
{
    roundtrip(false, 8000, "0.0.0.0", 1, DIR "/8000@0.0.0.0#1");
    roundtrip(false, 8000, "::", 99, DIR "/8000@::#99");
}

Test(unixname, client_names_are_abstract_under_c)
{
    roundtrip(true, 41234, "127.0.0.1", 0, DIR "/c/41234@127.0.0.1");
    roundtrip(true, 32768, "::ffff:127.0.0.1", 0, DIR "/c/32768@::ffff:127.0.0.1");
}

Test(unixname, the_text_gives_the_family)
{
    struct ps_uname u;
    const char *v4 = DIR "/80@127.0.0.1", *v6 = DIR "/80@::ffff:127.0.0.1";
    cr_assert_eq(ps_uname_parse(v4, strlen(v4), DIR, &u), 0);
    cr_assert_eq(u.addr.fam, AF_INET);
    cr_assert_eq(ps_uname_parse(v6, strlen(v6), DIR, &u), 0);
    cr_assert_eq(u.addr.fam, AF_INET6);
}

Test(unixname, foreign_and_malformed_names_are_not_ours)
{
    const char *bad[] = {
        "/tmp/other/8000@127.0.0.1", DIR "x/8000@127.0.0.1", DIR "/manifest.jsonl",
        DIR "/8000", DIR "/@127.0.0.1", DIR "/70000@127.0.0.1", DIR "/123456@::1",
        DIR "/8000@localhost", DIR "/8000@127.0.0.1#", DIR "/8000@127.0.0.1#0",
        DIR "/8000@127.0.0.1#100", DIR "/8000@127.0.0.1#x", DIR "/c/8000@::1", DIR,
        DIR "/", "",
    };
    struct ps_uname u;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(ps_uname_parse(bad[i], strlen(bad[i]), DIR, &u), -1, "parsed '%s'", bad[i]);
    /* An abstract name must be in c/ and has no #n; a path never is a client. */
    const char abs1[] = "\0" DIR "/8000@::1", abs2[] = "\0" DIR "/c/8000@::1#1";
    cr_assert_eq(ps_uname_parse(abs1, sizeof abs1 - 1, DIR, &u), -1);
    cr_assert_eq(ps_uname_parse(abs2, sizeof abs2 - 1, DIR, &u), -1);
    /* An unnamed peer (length 0) is not ours either. */
    cr_assert_eq(ps_uname_parse("", 0, DIR, &u), -1);
}

Test(unixname, path_with_trailing_bytes_after_its_nul_parses)
{
    char p[PS_SUN_PATH] = DIR "/8000@::1";
    struct ps_uname u;
    cr_assert_eq(ps_uname_parse(p, sizeof p, DIR, &u), 0);
    cr_assert_eq(u.port, 8000);
}

Test(unixname, dir_limit_admits_every_longest_name)
{
    char dir[PS_SUN_PATH + 8];
    memset(dir, 'd', sizeof dir);
    dir[0] = '/';
    dir[PS_UNAME_DIR_MAX] = 0;
    cr_assert(ps_uname_dir_fits(dir));
    const char *longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
    char buf[PS_SUN_PATH];
    struct ps_uname l = U(false, 65535, longest, 99), c = U(true, 65535, longest, 0);
    cr_assert_gt(ps_uname_format(buf, sizeof buf, dir, &l), 0);
    cr_assert_gt(ps_uname_format(buf, sizeof buf, dir, &c), 0);
    dir[PS_UNAME_DIR_MAX] = 'd';
    dir[PS_UNAME_DIR_MAX + 1] = 0;
    cr_assert_not(ps_uname_dir_fits(dir));
    /* A name that does not fit is refused, never cut. */
    memset(dir + 1, 'd', PS_SUN_PATH - 10);
    dir[PS_SUN_PATH - 9] = 0;
    cr_assert_eq(ps_uname_format(buf, sizeof buf, dir, &l), 0);
    cr_assert_eq(ps_uname_format(buf, sizeof buf, dir, &c), 0);
    cr_assert_not(ps_uname_dir_fits(""));
}

Test(unixname, family_conversion_maps_and_unmaps_v4)
{
    struct ps_addr a, m;
    ps_addr_parse("127.0.0.1", &a);
    m = ps_addr_as_family(&a, AF_INET6);
    char b[PS_ADDRSTRLEN];
    cr_assert_str_eq(ps_addr_format(&m, b), "::ffff:127.0.0.1");
    a = ps_addr_as_family(&m, AF_INET);
    cr_assert_str_eq(ps_addr_format(&a, b), "127.0.0.1");
    struct ps_addr l6 = ps_addr_loopback(AF_INET6), l4 = ps_addr_loopback(AF_INET);
    cr_assert_str_eq(ps_addr_format(&l6, b), "::1");
    cr_assert_str_eq(ps_addr_format(&l4, b), "127.0.0.1");
}
