/* test_fdtable.c — descriptor records: kinds, dup refcounts, the socket
 * list. The table is process-global; each Criterion test runs in its own
 * process, so every test starts from an empty table. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/fdtable.h"

static struct ps_sock *new_sock(const char *sid)
{
    struct ps_sock *s = ps_sock_new(sid, AF_INET, 8000, 41234);
    cr_assert_not_null(s);
    return s;
}

static int list_len(void)
{
    int n = 0;
    for (struct ps_sock *s = ps_sock_first(); s; s = s->next)
        n++;
    return n;
}

Test(fdtable, unknown_fd_is_none)
{
    cr_assert_eq(ps_fd_kind(3), PS_FD_NONE);
    struct ps_fdinfo fi = ps_fd_get(3);
    cr_assert_eq(fi.kind, PS_FD_NONE);
    cr_assert_null(fi.sock);
    cr_assert_null(ps_fd_detach(3));
    cr_assert_null(ps_sock_first());
}

Test(fdtable, sock_new_fills_and_links)
{
    struct ps_sock *s = ps_sock_new("4101.1", AF_INET6, 8000, 41234);
    cr_assert_not_null(s);
    cr_assert_str_eq(s->sid, "4101.1");
    cr_assert_eq(s->fam, AF_INET6);
    cr_assert_eq(s->vport, 8000);
    cr_assert_eq(s->rport, 41234);
    cr_assert_eq(s->refs, 0);
    cr_assert_not(s->listening);
    cr_assert_not(s->shared);
    cr_assert_eq(ps_sock_first(), s);
    ps_sock_free(s);
}

Test(fdtable, sock_new_cuts_an_overlong_sid)
{
    char sid[PS_SID_MAX * 2];
    memset(sid, '7', sizeof sid - 1);
    sid[sizeof sid - 1] = 0;
    struct ps_sock *s = ps_sock_new(sid, AF_INET, 1, 2);
    cr_assert_eq(strlen(s->sid), PS_SID_MAX - 1);
    ps_sock_free(s);
}

Test(fdtable, set_get_and_kind)
{
    struct ps_sock *s = new_sock("1.1");
    cr_assert_eq(ps_fd_set(5, PS_FD_BOUND, 8000, 41234, s), 0);
    cr_assert_eq(ps_fd_kind(5), PS_FD_BOUND);
    struct ps_fdinfo fi = ps_fd_get(5);
    cr_assert_eq(fi.kind, PS_FD_BOUND);
    cr_assert_eq(fi.vport, 8000);
    cr_assert_eq(fi.rport, 41234);
    cr_assert_eq(fi.pvport, 0);
    cr_assert_eq(fi.sock, s);
    cr_assert_eq(s->refs, 1);
    cr_assert_eq(ps_fd_kind(4), PS_FD_NONE, "neighbours untouched");
    cr_assert_eq(ps_fd_kind(6), PS_FD_NONE, "neighbours untouched");
    cr_assert_eq(ps_fd_detach(5), s, "the only descriptor: the socket is gone");
    ps_sock_free(s);
}

Test(fdtable, accepted_and_routed_kinds_carry_ports)
{
    cr_assert_eq(ps_fd_set(7, PS_FD_ACCEPTED, 8000, 41234, NULL), 0);
    cr_assert_eq(ps_fd_set(8, PS_FD_ROUTED, 0, 0, NULL), 0);
    cr_assert_eq(ps_fd_kind(7), PS_FD_ACCEPTED);
    cr_assert_eq(ps_fd_get(7).vport, 8000);
    cr_assert_eq(ps_fd_get(7).rport, 41234);
    cr_assert_eq(ps_fd_kind(8), PS_FD_ROUTED);
    cr_assert_null(ps_fd_detach(7), "only bound sockets are returned");
    cr_assert_null(ps_fd_detach(8));
    cr_assert_eq(ps_fd_kind(7), PS_FD_NONE);
    cr_assert_eq(ps_fd_kind(8), PS_FD_NONE);
}

Test(fdtable, set_peer_on_unknown_fd_makes_it_routed)
{
    cr_assert_eq(ps_fd_set_peer(9, 8000, 41234), 0);
    struct ps_fdinfo fi = ps_fd_get(9);
    cr_assert_eq(fi.kind, PS_FD_ROUTED);
    cr_assert_eq(fi.pvport, 8000);
    cr_assert_eq(fi.prport, 41234);
    cr_assert_eq(fi.vport, 0);
    cr_assert_null(fi.sock);
}

Test(fdtable, set_peer_on_bound_fd_keeps_its_own_name)
{
    struct ps_sock *s = new_sock("1.1");
    ps_fd_set(5, PS_FD_BOUND, 9000, 42000, s);
    cr_assert_eq(ps_fd_set_peer(5, 8000, 41234), 0);
    struct ps_fdinfo fi = ps_fd_get(5);
    cr_assert_eq(fi.kind, PS_FD_BOUND);
    cr_assert_eq(fi.vport, 9000);
    cr_assert_eq(fi.rport, 42000);
    cr_assert_eq(fi.pvport, 8000);
    cr_assert_eq(fi.prport, 41234);
    cr_assert_eq(fi.sock, s);
    cr_assert_eq(ps_fd_detach(5), s);
    cr_assert_eq(ps_fd_get(5).pvport, 0, "clear forgets the peer");
    ps_sock_free(s);
}

Test(fdtable, dup_increments_refs_and_shares_the_sock)
{
    struct ps_sock *s = new_sock("1.1");
    ps_fd_set(5, PS_FD_BOUND, 8000, 41234, s);
    ps_fd_dup(5, 6);
    cr_assert_eq(s->refs, 2);
    cr_assert_eq(ps_fd_kind(6), PS_FD_BOUND);
    cr_assert_eq(ps_fd_get(6).sock, s);
    cr_assert_eq(ps_fd_get(6).vport, 8000);
    cr_assert_eq(ps_fd_get(6).rport, 41234);
    ps_fd_dup(6, 700);
    cr_assert_eq(s->refs, 3);
}

Test(fdtable, clear_of_a_dup_keeps_the_sock_until_the_last_descriptor)
{
    struct ps_sock *s = new_sock("1.1");
    ps_fd_set(5, PS_FD_BOUND, 8000, 41234, s);
    ps_fd_dup(5, 6);
    ps_fd_dup(5, 70000);
    cr_assert_null(ps_fd_detach(5), "two descriptors remain");
    cr_assert_eq(s->refs, 2);
    cr_assert_eq(ps_sock_first(), s, "still listed");
    cr_assert_null(ps_fd_detach(70000), "one descriptor remains");
    cr_assert_eq(ps_fd_kind(6), PS_FD_BOUND);
    cr_assert_eq(ps_fd_detach(6), s, "the last descriptor returns the socket");
    cr_assert_eq(s->refs, 0);
    cr_assert_null(ps_sock_first(), "and it is unlinked");
    ps_sock_free(s);
}

Test(fdtable, clear_twice_returns_the_sock_once)
{
    struct ps_sock *s = new_sock("1.1");
    ps_fd_set(5, PS_FD_BOUND, 8000, 41234, s);
    cr_assert_eq(ps_fd_detach(5), s);
    cr_assert_null(ps_fd_detach(5));
    ps_sock_free(s);
}

Test(fdtable, dup_of_routed_keeps_the_peer)
{
    ps_fd_set_peer(9, 8000, 41234);
    ps_fd_dup(9, 10);
    struct ps_fdinfo fi = ps_fd_get(10);
    cr_assert_eq(fi.kind, PS_FD_ROUTED);
    cr_assert_eq(fi.pvport, 8000);
    cr_assert_eq(fi.prport, 41234);
}

Test(fdtable, dup_of_unknown_fd_does_nothing)
{
    ps_fd_dup(3, 4);
    cr_assert_eq(ps_fd_kind(4), PS_FD_NONE);
}

Test(fdtable, out_of_range_fds_are_ignored)
{
    struct ps_sock *s = new_sock("1.1");
    cr_assert_eq(ps_fd_set(-1, PS_FD_BOUND, 1, 2, s), -1);
    cr_assert_eq(ps_fd_set(PS_FD_LIMIT, PS_FD_BOUND, 1, 2, s), -1);
    cr_assert_eq(ps_fd_set(-2147483647 - 1, PS_FD_BOUND, 1, 2, s), -1);
    cr_assert_eq(s->refs, 0, "a refused set takes no reference");
    cr_assert_eq(ps_fd_set_peer(-1, 1, 2), -1);
    cr_assert_eq(ps_fd_set_peer(PS_FD_LIMIT, 1, 2), -1);
    cr_assert_eq(ps_fd_kind(-1), PS_FD_NONE);
    cr_assert_eq(ps_fd_kind(PS_FD_LIMIT), PS_FD_NONE);
    cr_assert_eq(ps_fd_get(PS_FD_LIMIT).kind, PS_FD_NONE);
    cr_assert_null(ps_fd_detach(-1));
    cr_assert_null(ps_fd_detach(PS_FD_LIMIT));
    ps_fd_set(5, PS_FD_BOUND, 1, 2, s);
    ps_fd_dup(5, PS_FD_LIMIT);
    ps_fd_dup(5, -1);
    cr_assert_eq(s->refs, 1, "a dup to an out-of-range fd takes no reference");
    cr_assert_eq(ps_fd_detach(5), s);
    ps_sock_free(s);
}

Test(fdtable, highest_and_large_fds_work)
{
    struct ps_sock *s = new_sock("1.1");
    cr_assert_eq(ps_fd_set(500000, PS_FD_BOUND, 8000, 41234, s), 0);
    cr_assert_eq(ps_fd_set(PS_FD_LIMIT - 1, PS_FD_ACCEPTED, 9000, 42000, NULL), 0);
    cr_assert_eq(ps_fd_kind(500000), PS_FD_BOUND);
    cr_assert_eq(ps_fd_get(500000).vport, 8000);
    cr_assert_eq(ps_fd_kind(PS_FD_LIMIT - 1), PS_FD_ACCEPTED);
    cr_assert_eq(ps_fd_kind(499999), PS_FD_NONE);
    cr_assert_eq(ps_fd_kind(500001), PS_FD_NONE);
    cr_assert_eq(ps_fd_detach(500000), s);
    ps_sock_free(s);
}

Test(fdtable, sock_list_tracks_every_live_sock)
{
    struct ps_sock *a = new_sock("1.1"), *b = new_sock("1.2"), *c = new_sock("1.3");
    ps_fd_set(3, PS_FD_BOUND, 1, 1, a);
    ps_fd_set(4, PS_FD_BOUND, 2, 2, b);
    ps_fd_set(5, PS_FD_BOUND, 3, 3, c);
    cr_assert_eq(list_len(), 3);
    cr_assert_eq(ps_fd_detach(4), b);        /* from the middle */
    ps_sock_free(b);
    cr_assert_eq(list_len(), 2);
    cr_assert_eq(ps_fd_detach(5), c);        /* the head (newest first) */
    ps_sock_free(c);
    cr_assert_eq(list_len(), 1);
    cr_assert_eq(ps_sock_first(), a);
    cr_assert_null(a->prev);
    cr_assert_null(a->next);
    cr_assert_eq(ps_fd_detach(3), a);
    ps_sock_free(a);
    cr_assert_null(ps_sock_first());
}

Test(fdtable, mark_all_shared)
{
    struct ps_sock *a = new_sock("1.1"), *b = new_sock("1.2");
    ps_sock_mark_all_shared();
    cr_assert(a->shared);
    cr_assert(b->shared);
    struct ps_sock *c = new_sock("1.3");
    cr_assert_not(c->shared, "a socket made after the fork is not shared");
    ps_fd_set(3, PS_FD_BOUND, 1, 1, a);
    ps_fd_set(4, PS_FD_BOUND, 1, 1, b);
    ps_fd_set(5, PS_FD_BOUND, 1, 1, c);
    ps_sock_free(ps_fd_detach(3));
    ps_sock_free(ps_fd_detach(4));
    ps_sock_free(ps_fd_detach(5));
    cr_assert_null(ps_sock_first());
}

/* unix mode: emulated options belong to the socket, shared by its dups. */
Test(fdtable, unix_options_are_shared_by_dups_and_dropped_with_the_last)
{
    struct ps_sock *s = new_sock("2.1");
    ps_fd_set(40, PS_FD_BOUND, 8000, 0, s);
    cr_assert_null(ps_fd_opts(40), "not swapped: no options");
    ps_fd_set_unix(40, AF_INET6, NULL);
    struct ps_opts *o = ps_fd_opts(40);
    cr_assert_not_null(o);
    cr_assert_eq(ps_fd_get(40).ufam, AF_INET6);
    cr_assert(ps_opts_set(o, 6, 1, 1));
    ps_fd_dup(40, 41);
    cr_assert_eq(ps_fd_get(41).ufam, AF_INET6);
    cr_assert_eq(ps_fd_opts(41), o, "a dup shares the options");
    cr_assert_eq(o->refs, 2);
    int v = 0;
    cr_assert(ps_opts_get(ps_fd_opts(41), 6, 1, &v) && v == 1);
    cr_assert_not(ps_opts_get(o, 6, 2, &v), "never set");
    cr_assert_null(ps_fd_detach(40));
    cr_assert_eq(o->refs, 1);
    cr_assert_eq(ps_fd_get(40).ufam, 0);
    for (int i = 0; i < PS_OPTS_MAX - 1; i++)
        cr_assert(ps_opts_set(o, 100, i, i));
    cr_assert_not(ps_opts_set(o, 101, 0, 0), "the table is full");
    cr_assert(ps_opts_set(o, 6, 1, 0), "an option already set can still change");
    cr_assert_eq(ps_fd_detach(41), s);
    ps_sock_free(s);
}
