/* test_sockaddr.c — address parsing and the kernel's bind-overlap and
 * connect-match rules (wildcard, dual stack, v4-mapped), as Linux has them. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "core/sockaddr.h"

static struct ps_addr A(const char *s)
{
    struct ps_addr a;
    cr_assert_eq(ps_addr_parse(s, &a), 0, "cannot parse '%s'", s);
    return a;
}

static struct ps_bindaddr B(const char *s, bool v6only)
{
    struct ps_bindaddr b = {A(s), v6only};
    return b;
}

/* Overlap is a relation between two sockets: it must not depend on order. */
static bool overlap(const char *x, bool xv6only, const char *y, bool yv6only)
{
    struct ps_bindaddr bx = B(x, xv6only), by = B(y, yv6only);
    bool a = ps_bindaddr_overlap(&bx, &by), b = ps_bindaddr_overlap(&by, &bx);
    cr_assert_eq(a, b, "overlap(%s, %s) is not symmetric", x, y);
    return a;
}

static int match(const char *listener, bool v6only, const char *dst, bool dst_local)
{
    struct ps_bindaddr l = B(listener, v6only);
    struct ps_addr d = A(dst);
    return ps_listener_match(&l, &d, dst_local);
}

static struct sockaddr_in sin4(const char *ip, uint16_t port)
{
    struct sockaddr_in s;
    memset(&s, 0, sizeof s);
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    cr_assert_eq(inet_pton(AF_INET, ip, &s.sin_addr), 1);
    return s;
}

static struct sockaddr_in6 sin6(const char *ip, uint16_t port)
{
    struct sockaddr_in6 s;
    memset(&s, 0, sizeof s);
    s.sin6_family = AF_INET6;
    s.sin6_port = htons(port);
    cr_assert_eq(inet_pton(AF_INET6, ip, &s.sin6_addr), 1);
    return s;
}

/* ---- reading sockaddrs ------------------------------------------------- */

Test(sockaddr, from_sockaddr_rejects_null)
{
    struct ps_addr a;
    uint16_t port = 7;
    cr_assert_eq(ps_addr_from_sockaddr(NULL, sizeof(struct sockaddr_in), &a, &port), -1);
    cr_assert_eq(port, 7);
}

Test(sockaddr, from_sockaddr_rejects_lengths_too_short_for_the_family)
{
    struct ps_addr a;
    uint16_t port = 7;
    struct sockaddr_in s4 = sin4("127.0.0.1", 80);
    struct sockaddr_in6 s6 = sin6("::1", 80);
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s4, 0, &a, &port), -1);
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s4, sizeof(sa_family_t) - 1, &a,
                                       &port), -1);
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s4, sizeof(sa_family_t), &a, &port),
                 -1);
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s4, sizeof s4 - 1, &a, &port), -1);
    /* The kernel takes an AF_INET6 sockaddr without sin6_scope_id (RFC 2133's
     * 24 bytes), not one shorter. */
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s6, 23, &a, &port), -1);
    /* An AF_INET6 sockaddr cut to sockaddr_in's length is still too short. */
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s6, sizeof s4, &a, &port), -1);
    cr_assert_eq(port, 7, "a rejected sockaddr must not set the port");
}

Test(sockaddr, from_sockaddr_takes_a_v6_sockaddr_without_scope_id)
{
    struct ps_addr a;
    uint16_t port = 0;
    struct sockaddr_in6 s6 = sin6("::1", 80);
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s6, 24, &a, &port), 0);
    cr_assert_eq(port, 80);
    cr_assert_eq(a.fam, AF_INET6);
}

Test(sockaddr, from_sockaddr_rejects_other_families)
{
    struct ps_addr a;
    uint16_t port;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNSPEC;
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&ss, sizeof ss, &a, &port), -1);
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, "/tmp/x.sock");
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&un, sizeof un, &a, &port), -1);
}

Test(sockaddr, from_sockaddr_reads_v4)
{
    struct ps_addr a;
    uint16_t port = 0;
    struct sockaddr_in s = sin4("127.0.0.1", 8000);
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s, sizeof s, &a, &port), 0);
    cr_assert_eq(a.fam, AF_INET);
    cr_assert_eq(port, 8000);
    const uint8_t want[16] = {0,0,0,0, 0,0,0,0, 0,0,0xff,0xff, 127,0,0,1};
    cr_assert_arr_eq(a.b, want, 16);
    /* A longer buffer (sockaddr_storage) is fine. */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, &s, sizeof s);
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&ss, sizeof ss, &a, &port), 0);
}

Test(sockaddr, from_sockaddr_reads_v6)
{
    struct ps_addr a;
    uint16_t port = 0;
    struct sockaddr_in6 s = sin6("2001:db8::7", 443);
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s, sizeof s, &a, &port), 0);
    cr_assert_eq(a.fam, AF_INET6);
    cr_assert_eq(port, 443);
    cr_assert_arr_eq(a.b, &s.sin6_addr, 16);
    cr_assert_not(ps_addr_is_v4(&a));
}

Test(sockaddr, from_sockaddr_reads_v4_mapped_as_v6_family)
{
    struct ps_addr a;
    uint16_t port = 0;
    struct sockaddr_in6 s = sin6("::ffff:127.0.0.1", 9000);
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&s, sizeof s, &a, &port), 0);
    cr_assert_eq(a.fam, AF_INET6);
    cr_assert_eq(port, 9000);
    cr_assert(ps_addr_is_v4(&a));
    cr_assert(ps_addr_is_loopback(&a));
    struct ps_addr v4 = A("127.0.0.1");
    cr_assert(ps_addr_equal(&a, &v4), "::ffff:127.0.0.1 and 127.0.0.1 are the same bytes");
}

/* ---- classification ---------------------------------------------------- */

Test(sockaddr, wildcards)
{
    const char *yes[] = {"0.0.0.0", "::", "::ffff:0.0.0.0"};
    const char *no[] = {"127.0.0.1", "::1", "10.0.0.1", "::ffff:127.0.0.1", "0.0.0.1", "::2"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        struct ps_addr a = A(yes[i]);
        cr_assert(ps_addr_is_wildcard(&a), "%s is a wildcard", yes[i]);
        cr_assert_not(ps_addr_is_loopback(&a), "%s is not loopback", yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        struct ps_addr a = A(no[i]);
        cr_assert_not(ps_addr_is_wildcard(&a), "%s is not a wildcard", no[i]);
    }
}

Test(sockaddr, loopbacks)
{
    const char *yes[] = {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1", "127.0.0.0"};
    const char *no[] = {"10.0.0.1", "0.0.0.0", "::", "::2", "128.0.0.1", "126.0.0.1",
                        "::ffff:10.0.0.1", "fe80::1", "1::"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        struct ps_addr a = A(yes[i]);
        cr_assert(ps_addr_is_loopback(&a), "%s is loopback", yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        struct ps_addr a = A(no[i]);
        cr_assert_not(ps_addr_is_loopback(&a), "%s is not loopback", no[i]);
    }
}

Test(sockaddr, is_v4_for_v4_and_v4_mapped_only)
{
    struct ps_addr a = A("10.0.0.1"), m = A("::ffff:10.0.0.1"), six = A("::1"),
                   any6 = A("::");
    cr_assert(ps_addr_is_v4(&a));
    cr_assert(ps_addr_is_v4(&m));
    cr_assert_not(ps_addr_is_v4(&six));
    cr_assert_not(ps_addr_is_v4(&any6));
}

Test(sockaddr, addr_v4_builds_from_host_order)
{
    struct ps_addr a, b = A("127.0.0.1");
    ps_addr_v4(&a, 0x7f000001);
    cr_assert_eq(a.fam, AF_INET);
    cr_assert(ps_addr_equal(&a, &b));
    cr_assert_arr_eq(a.b, b.b, 16);
}

/* ---- text form --------------------------------------------------------- */

Test(sockaddr, parse_sets_family_by_form)
{
    struct ps_addr a;
    cr_assert_eq(ps_addr_parse("127.0.0.1", &a), 0);
    cr_assert_eq(a.fam, AF_INET);
    cr_assert_eq(ps_addr_parse("::1", &a), 0);
    cr_assert_eq(a.fam, AF_INET6);
    cr_assert_eq(ps_addr_parse("::ffff:127.0.0.1", &a), 0);
    cr_assert_eq(a.fam, AF_INET6);
}

Test(sockaddr, family_codes_are_4_and_6_and_nothing_else)
{
    cr_assert_eq(ps_fam_code(AF_INET), 4);
    cr_assert_eq(ps_fam_code(AF_INET6), 6);
    cr_assert_eq(ps_fam_code(AF_UNIX), 0);
    cr_assert_eq(ps_fam_code(0), 0);
    cr_assert_eq(ps_fam_from_code(4), AF_INET);
    cr_assert_eq(ps_fam_from_code(6), AF_INET6);
    for (int c = -1; c < 16; c++)
        if (c != 4 && c != 6)
            cr_assert_eq(ps_fam_from_code(c), 0, "code %d", c);
}

Test(sockaddr, parse_rejects_non_addresses)
{
    const char *bad[] = {"", "localhost", "127.0.0.256", "1.2.3", "::1%lo", "1:2:3",
                         " 127.0.0.1", "127.0.0.1 ", "[::1]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ps_addr a;
        cr_assert_eq(ps_addr_parse(bad[i], &a), -1, "'%s' parsed", bad[i]);
    }
}

Test(sockaddr, format_parse_round_trip)
{
    const char *forms[] = {"127.0.0.1", "0.0.0.0", "10.1.2.3", "255.255.255.255", "::1", "::",
                           "2001:db8::7", "fe80::1:2", "::ffff:127.0.0.1", "::ffff:0.0.0.0"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        char buf[PS_ADDRSTRLEN];
        struct ps_addr a = A(forms[i]), b;
        cr_assert_str_eq(ps_addr_format(&a, buf), forms[i]);
        cr_assert_eq(ps_addr_parse(buf, &b), 0);
        cr_assert_eq(b.fam, a.fam, "%s", forms[i]);
        cr_assert_arr_eq(b.b, a.b, 16, "%s", forms[i]);
    }
}

Test(sockaddr, format_of_v4_mapped_depends_on_socket_family)
{
    char buf[PS_ADDRSTRLEN];
    struct ps_addr a = A("::ffff:127.0.0.1");
    cr_assert_str_eq(ps_addr_format(&a, buf), "::ffff:127.0.0.1");
    a.fam = AF_INET;   /* the same bytes from an AF_INET socket */
    cr_assert_str_eq(ps_addr_format(&a, buf), "127.0.0.1");
}

/* ---- building sockaddrs ------------------------------------------------ */

Test(sockaddr, set_port_v4_and_v6)
{
    struct sockaddr_in s4 = sin4("127.0.0.1", 80);
    struct sockaddr_in6 s6 = sin6("::1", 80);
    ps_sockaddr_set_port((struct sockaddr *)&s4, 41234);
    ps_sockaddr_set_port((struct sockaddr *)&s6, 41235);
    cr_assert_eq(ntohs(s4.sin_port), 41234);
    cr_assert_eq(ntohs(s6.sin6_port), 41235);
    struct sockaddr_in want4 = sin4("127.0.0.1", 41234);
    cr_assert_arr_eq(&s4, &want4, sizeof s4, "only the port changes");
}

Test(sockaddr, set_port_leaves_other_families_alone)
{
    struct sockaddr_un un, before;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, "/tmp/zz");
    before = un;
    ps_sockaddr_set_port((struct sockaddr *)&un, 1234);
    cr_assert_arr_eq(&un, &before, sizeof un);
}

Test(sockaddr, to_sockaddr_round_trips)
{
    const char *forms[] = {"127.0.0.1", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        struct sockaddr_storage ss;
        struct ps_addr a = A(forms[i]), b;
        uint16_t port = 0;
        socklen_t len = ps_addr_to_sockaddr(&a, 5555, &ss);
        if (a.fam == AF_INET) {
            cr_assert_eq(len, sizeof(struct sockaddr_in));
            cr_assert_eq(ss.ss_family, AF_INET);
        } else {
            cr_assert_eq(len, sizeof(struct sockaddr_in6));
            cr_assert_eq(ss.ss_family, AF_INET6);
        }
        cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&ss, len, &b, &port), 0);
        cr_assert_eq(port, 5555);
        cr_assert_eq(b.fam, a.fam);
        cr_assert_arr_eq(b.b, a.b, 16, "%s", forms[i]);
    }
}

/* ---- bind overlap: as Linux's inet_csk_bind_conflict sees addresses ---- */

Test(overlap, v4_wildcard_covers_v4_loopback)
{
    cr_assert(overlap("0.0.0.0", false, "127.0.0.1", false));
}

Test(overlap, two_v4_loopback_addresses_are_distinct)
{
    cr_assert_not(overlap("127.0.0.1", false, "127.0.0.2", false));
}

Test(overlap, same_v4_address)
{
    cr_assert(overlap("127.0.0.1", false, "127.0.0.1", false));
    cr_assert(overlap("0.0.0.0", false, "0.0.0.0", false));
}

Test(overlap, dual_stack_v6_wildcard_covers_v4_wildcard)
{
    cr_assert(overlap("::", false, "0.0.0.0", false));
    cr_assert(overlap("::", false, "127.0.0.1", false));
}

Test(overlap, v6only_wildcard_does_not_cover_v4)
{
    cr_assert_not(overlap("::", true, "0.0.0.0", false));
    cr_assert_not(overlap("::", true, "127.0.0.1", false));
    cr_assert_not(overlap("::", true, "::ffff:127.0.0.1", false));
}

Test(overlap, v6_loopback_and_v4_loopback_are_distinct)
{
    cr_assert_not(overlap("::1", false, "127.0.0.1", false));
    cr_assert_not(overlap("::1", false, "0.0.0.0", false));
    cr_assert_not(overlap("::1", true, "0.0.0.0", false));
}

Test(overlap, v4_mapped_is_the_v4_address)
{
    cr_assert(overlap("::ffff:127.0.0.1", false, "127.0.0.1", false));
    cr_assert(overlap("::ffff:0.0.0.0", false, "127.0.0.1", false));
    cr_assert(overlap("::ffff:127.0.0.1", false, "0.0.0.0", false));
    cr_assert_not(overlap("::ffff:127.0.0.1", false, "127.0.0.2", false));
    cr_assert_not(overlap("::ffff:127.0.0.1", false, "::1", false));
}

Test(overlap, v6_wildcard_covers_v6_addresses)
{
    cr_assert(overlap("::", false, "::1", false));
    cr_assert(overlap("::", true, "::1", false));
    cr_assert(overlap("::", true, "::", false));
    cr_assert(overlap("::", true, "::", true));
    cr_assert_not(overlap("::1", false, "::2", false));
    cr_assert(overlap("::1", true, "::1", false));
}

/* ---- connect matching -------------------------------------------------- */

Test(listener_match, v4_wildcard_listener_is_a_wildcard_match)
{
    cr_assert_eq(match("0.0.0.0", false, "127.0.0.1", false), 1);
}

Test(listener_match, exact_listener_is_an_exact_match)
{
    cr_assert_eq(match("127.0.0.1", false, "127.0.0.1", false), 2);
    cr_assert_eq(match("::1", false, "::1", false), 2);
}

Test(listener_match, specific_listener_not_reached_at_another_address)
{
    cr_assert_eq(match("127.0.0.1", false, "127.0.0.2", false), 0);
    cr_assert_eq(match("127.0.0.2", false, "127.0.0.1", true), 0);
}

Test(listener_match, dual_stack_listener_reached_by_v4)
{
    cr_assert_eq(match("::", false, "127.0.0.1", false), 1);
    cr_assert_eq(match("::", false, "::ffff:127.0.0.1", false), 1);
    cr_assert_eq(match("::", false, "::1", false), 1);
}

Test(listener_match, v6only_listener_not_reached_by_v4)
{
    cr_assert_eq(match("::", true, "127.0.0.1", false), 0);
    cr_assert_eq(match("::", true, "::ffff:127.0.0.1", false), 0);
    cr_assert_eq(match("::", true, "::1", false), 1);
}

Test(listener_match, v6_loopback_listener_not_reached_by_v4_loopback)
{
    cr_assert_eq(match("::1", false, "127.0.0.1", false), 0);
    cr_assert_eq(match("127.0.0.1", false, "::1", false), 0);
}

Test(listener_match, v4_wildcard_listener_not_reached_by_v6)
{
    cr_assert_eq(match("0.0.0.0", false, "::1", false), 0);
}

Test(listener_match, v4_listener_reached_by_v4_mapped_destination)
{
    cr_assert_eq(match("127.0.0.1", false, "::ffff:127.0.0.1", false), 2);
    cr_assert_eq(match("::ffff:127.0.0.1", false, "127.0.0.1", false), 2);
}

Test(listener_match, non_local_destination_not_reached_via_wildcard)
{
    cr_assert_eq(match("0.0.0.0", false, "10.1.2.3", false), 0);
    cr_assert_eq(match("::", false, "10.1.2.3", false), 0);
    cr_assert_eq(match("::", false, "2001:db8::1", false), 0);
}

Test(listener_match, local_destination_reached_via_wildcard)
{
    cr_assert_eq(match("0.0.0.0", false, "10.1.2.3", true), 1);
    cr_assert_eq(match("::", false, "2001:db8::1", true), 1);
    cr_assert_eq(match("10.1.2.3", false, "10.1.2.3", true), 2);
}

Test(listener_match, connect_to_v4_wildcard_reaches_127_0_0_1)
{
    cr_assert_eq(match("127.0.0.1", false, "0.0.0.0", false), 2);
    cr_assert_eq(match("0.0.0.0", false, "0.0.0.0", false), 1);
    /* Linux sends 0.0.0.0 to 127.0.0.1 only, not to the rest of 127/8. */
    cr_assert_eq(match("127.0.0.2", false, "0.0.0.0", false), 0);
    cr_assert_eq(match("10.1.2.3", false, "0.0.0.0", false), 0);
}

Test(listener_match, connect_to_v6_wildcard_reaches_v6_loopback)
{
    cr_assert_eq(match("::1", false, "::", false), 2);
    cr_assert_eq(match("::", false, "::", false), 1);
    cr_assert_eq(match("127.0.0.1", false, "::", false), 0);
}

/* The v4 text form is written by hand: check it against inet_ntop for every
 * octet value in every position. */
Test(sockaddr, format_v4_matches_inet_ntop_for_every_octet)
{
    for (int pos = 0; pos < 4; pos++) {
        for (int v = 0; v < 256; v++) {
            uint8_t ip[4] = {10, 200, 0, 99};
            ip[pos] = (uint8_t)v;
            struct ps_addr a;
            ps_addr_v4(&a, (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 |
                               (uint32_t)ip[2] << 8 | ip[3]);
            char got[PS_ADDRSTRLEN], want[INET_ADDRSTRLEN];
            cr_assert_not_null(inet_ntop(AF_INET, ip, want, sizeof want));
            cr_assert_str_eq(ps_addr_format(&a, got), want);
        }
    }
}
