/* udp.c — UDP in the namespace, end to end (docs/design.md, "UDP").
 *
 * A bind of a UDP socket to virtual port P gets a fresh real port; a
 * datagram sent to P from inside the run reaches it; the receiver sees the
 * sender's virtual port, so its reply finds the sender; getsockname and
 * getpeername keep P; the kernel's bind rules hold among the run's UDP
 * sockets; a port nobody in the run bound passes through. Every program
 * here is a helper under the shim (sockctl, udpecho, udperr); the test
 * process itself is never preloaded. */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(udp, .init = e2e_setup, .fini = e2e_teardown, .timeout = 90);

static void shimmed(struct e2e_ns *ns, struct e2e_env *env, const char *mode, const char *ports)
{
    e2e_need_lib();
    e2e_ns_new(ns, "ns");
    e2e_env_shim(env, ns, mode, ports);
}

/* A sockctl process with a UDP socket of family fam (4/6) bound to
 * addr:port; the socket's fd in *fd. */
static struct e2e_proc *udp_bound(const struct e2e_env *env, int fam, const char *addr, int port,
                                  const char *opt, int *fd)
{
    struct e2e_proc *p = e2e_startl(env, "sockctl");
    *fd = e2e_cmd_fd(p, fam == 4 ? "udp4" : "udp6");
    if (opt)
        cr_assert_str_eq(e2e_cmd(p, "opt %d %s 1", *fd, opt), "OK");
    const char *r = e2e_cmd(p, "bind %d %s %d", *fd, addr, port);
    cr_assert_str_eq(r, "OK", "bind %s:%d: %s", addr, port, r);
    return p;
}

/* The last successful UDP bind of vport in the manifest. */
static const struct ps_event *udp_bind_event(struct e2e_events *ev, const char *manifest,
                                             int vport)
{
    e2e_events_read(manifest, ev);
    const struct ps_event *b = NULL;
    for (size_t i = 0; i < ev->n; i++)
        if (ev->v[i].ev == PS_EV_BIND && ev->v[i].ok && ev->v[i].port == vport &&
            ev->v[i].proto == PS_PROTO_UDP)
            b = &ev->v[i];
    cr_assert(b, "no UDP bind of %d in the manifest:\n%s", vport, e2e_slurp(manifest));
    return b;
}

/* Server on saddr:7000, client on caddr:7001 (each its own process), the
 * client's datagram sent to daddr:7000 with api, the server's reply sent
 * to the source it saw: both ends see the other's virtual port. */
static void request_reply(const char *mode, int sfam, const char *saddr, int cfam,
                          const char *caddr, const char *daddr, const char *api,
                          const char *recv_api)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, mode, NULL);
    int sfd, cfd;
    struct e2e_proc *s = udp_bound(&env, sfam, saddr, 7000, NULL, &sfd);
    struct e2e_proc *c = udp_bound(&env, cfam, caddr, 7001, NULL, &cfd);
    char want[128];
    snprintf(want, sizeof want, "OK %s 7000", saddr);
    cr_assert_str_eq(e2e_cmd(s, "name %d", sfd), want, "getsockname keeps the virtual port");

    const char *r = e2e_cmd(c, "sendto %d %s 7000 hello %s", cfd, daddr, api);
    cr_assert(!strncmp(r, "OK", 2), "%s: %s", api, r);
    r = e2e_cmd(s, "reply %d", sfd);
    cr_assert(!strncmp(r, "OK ", 3) && strstr(r, " 7001 hello"),
              "the server saw the client's virtual port 7001: '%s'", r);
    r = e2e_cmd(c, "recvfrom %d %s", cfd, recv_api);
    cr_assert(!strncmp(r, "OK ", 3) && strstr(r, " 7000 ECHO:hello"),
              "the reply came from virtual 7000 to the client: '%s'", r);

    struct e2e_events ev;
    const struct ps_event *b = udp_bind_event(&ev, ns.manifest, 7000);
    cr_assert_str_eq(b->mode, "remap", "UDP is remapped in %s mode", mode);
    cr_assert(b->rport > 0 && b->rport != 7000 && !b->rpath[0],
              "a fresh real port, not 7000 (rport %d)", b->rport);
    /* the first datagram to each virtual port is a line; a process's
     * later ones are not */
    size_t first = 0;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_CONNECT && ev.v[i].proto == PS_PROTO_UDP && ev.v[i].port == 7000)
            first++;
    cr_assert_eq(first, 1, "one datagram line for 7000:\n%s", e2e_slurp(ns.manifest));
    e2e_events_free(&ev);
}

Test(udp, request_and_reply_between_two_virtual_ports_v4)
{
    request_reply("remap", 4, "127.0.0.1", 4, "127.0.0.1", "127.0.0.1", "sendto", "recvfrom");
}

Test(udp, request_and_reply_between_two_virtual_ports_v6)
{
    if (!e2e_have_ipv6())
        e2e_skip("no IPv6 loopback here: the IPv6 UDP test did not run");
    request_reply("remap", 6, "::1", 6, "::1", "::1", "sendto", "recvfrom");
}

Test(udp, v4_mapped_datagram_from_a_dual_stack_socket_reaches_a_v4_receiver)
{
    if (!e2e_have_ipv6())
        e2e_skip("no IPv6 here: the v4-mapped UDP test did not run");
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    int sfd, cfd;
    struct e2e_proc *s = udp_bound(&env, 4, "127.0.0.1", 7000, NULL, &sfd);
    struct e2e_proc *c = udp_bound(&env, 6, "::", 7001, NULL, &cfd);
    const char *r = e2e_cmd(c, "sendto %d ::ffff:127.0.0.1 7000 hello", cfd);
    cr_assert_str_eq(r, "OK 1");
    r = e2e_cmd(s, "reply %d", sfd);
    cr_assert_str_eq(r, "OK 127.0.0.1 7001 hello", "the v4 receiver saw the sender's virtual port");
    r = e2e_cmd(c, "recvfrom %d", cfd);
    cr_assert_str_eq(r, "OK ::ffff:127.0.0.1 7000 ECHO:hello",
                     "the dual-stack sender saw the reply from virtual 7000 as v4-mapped");
}

Test(udp, sendmsg_and_recvmsg_translate_like_sendto)
{
    request_reply("remap", 4, "127.0.0.1", 4, "127.0.0.1", "127.0.0.1", "sendmsg", "recvmsg");
}

Test(udp, sendmmsg_and_recvmmsg_translate_every_datagram)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    int sfd, cfd;
    struct e2e_proc *s = udp_bound(&env, 4, "127.0.0.1", 7000, NULL, &sfd);
    struct e2e_proc *c = udp_bound(&env, 4, "127.0.0.1", 7001, NULL, &cfd);
    cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 7000 hi sendmmsg", cfd), "OK 2");
    const char *r = e2e_cmd(s, "recvfrom %d recvmmsg", sfd);
    cr_assert_str_eq(r, "OK 127.0.0.1 7001 hi-1|127.0.0.1 7001 hi-2",
                     "both datagrams arrived, each from the sender's virtual port");
}

Test(udp, connected_socket_sends_to_the_virtual_port_and_names_its_peer_so)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    int sfd;
    struct e2e_proc *s = udp_bound(&env, 4, "127.0.0.1", 7000, NULL, &sfd);
    struct e2e_proc *c = e2e_startl(&env, "sockctl");
    int cfd = e2e_cmd_fd(c, "udp4");
    cr_assert_str_eq(e2e_cmd(c, "connect %d 127.0.0.1 7000", cfd), "OK");
    cr_assert_str_eq(e2e_cmd(c, "peer %d", cfd), "OK 127.0.0.1 7000");
    cr_assert_str_eq(e2e_cmd(c, "sendc %d hello", cfd), "OK");
    const char *r = e2e_cmd(s, "reply %d", sfd);
    cr_assert(!strncmp(r, "OK 127.0.0.1 ", 13) && strstr(r, " hello"), "%s", r);
    /* a connected socket gets only its peer's datagrams: the reply came
     * from the real port it was connected to */
    r = e2e_cmd(c, "recvfrom %d", cfd);
    cr_assert_str_eq(r, "OK 127.0.0.1 7000 ECHO:hello");
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    size_t n = 0;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_CONNECT && ev.v[i].proto == PS_PROTO_UDP && ev.v[i].routed &&
            ev.v[i].port == 7000 && !ev.v[i].note[0])
            n++;
    cr_assert_eq(n, 1, "the connect is recorded:\n%s", e2e_slurp(ns.manifest));
    e2e_events_free(&ev);
}

Test(udp, reply_from_a_server_gone_before_it_is_read_names_the_virtual_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    /* a one-shot server: answers one datagram and exits (its socket leaves
     * the table) before the client reads the answer */
    struct e2e_proc *s = e2e_startl(&env, "udpecho", "serve", "127.0.0.1", "7000", "once", "1");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *c = e2e_startl(&env, "sockctl");
    int cfd = e2e_cmd_fd(c, "udp4");
    cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 7000 hi", cfd), "OK 1");
    cr_assert(e2e_wait(s, E2E_MS) && e2e_status(s) == 0, "%s", e2e_describe(s));
    cr_assert_str_eq(e2e_cmd(c, "recvfrom %d", cfd), "OK 127.0.0.1 7000 once:hi",
                     "the answer names the port the client asked, as without the shim");
}

Test(udp, socket_inherited_over_exec_keeps_its_virtual_name)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    int fd;
    struct e2e_proc *s = udp_bound(&env, 4, "127.0.0.1", 7000, NULL, &fd);
    cr_assert_str_eq(e2e_cmd(s, "reexec"), "OK");
    cr_assert_str_eq(e2e_cmd(s, "name %d", fd), "OK 127.0.0.1 7000",
                     "after exec, the UDP socket's name is still the virtual one");
}

Test(udp, second_plain_bind_of_a_virtual_port_is_eaddrinuse_naming_the_holder)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    int afd;
    struct e2e_proc *a = udp_bound(&env, 4, "0.0.0.0", 7000, NULL, &afd);
    int apid = e2e_cmd_fd(a, "pid");
    struct e2e_proc *b = e2e_startl(&env, "sockctl");
    int bfd = e2e_cmd_fd(b, "udp4");
    cr_assert_str_eq(e2e_cmd(b, "bind %d 127.0.0.1 7000", bfd), "ERR EADDRINUSE");
    /* TCP's port space is apart: a TCP listener on 7000 binds */
    int tfd = e2e_cmd_fd(b, "tcp4");
    cr_assert_str_eq(e2e_cmd(b, "bind %d 127.0.0.1 7000", tfd), "OK");
    cr_assert(strstr(e2e_err(b), "EADDRINUSE in this namespace") || strstr(e2e_err(b), "EADDRINUSE"),
              "%s", e2e_err(b));
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const struct ps_event *f = NULL;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_BIND && !ev.v[i].ok && ev.v[i].port == 7000)
            f = &ev.v[i];
    cr_assert(f && f->err == EADDRINUSE && f->hpid == apid && f->proto == PS_PROTO_UDP,
              "the failed bind names pid %d:\n%s", apid, e2e_slurp(ns.manifest));
    e2e_events_free(&ev);
    /* once the holder closes it, the port is free again */
    cr_assert_str_eq(e2e_cmd(a, "close %d", afd), "OK");
    cr_assert_str_eq(e2e_cmd(b, "bind %d 127.0.0.1 7000", bfd), "OK");
}

/* Two receivers sharing 7000 (opt on both), then a client's datagram: one
 * of them gets it, with the client's virtual port. */
static void shared_port(const char *opt)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    int afd, bfd, cfd;
    struct e2e_proc *a = udp_bound(&env, 4, "127.0.0.1", 7000, opt, &afd);
    struct e2e_proc *b = udp_bound(&env, 4, "127.0.0.1", 7000, opt, &bfd);
    struct e2e_proc *c = udp_bound(&env, 4, "127.0.0.1", 7001, NULL, &cfd);
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    int rports[2], n = 0;
    for (size_t i = 0; i < ev.n && n < 2; i++)
        if (ev.v[i].ev == PS_EV_BIND && ev.v[i].ok && ev.v[i].port == 7000)
            rports[n++] = ev.v[i].rport;
    cr_assert(n == 2 && rports[0] == rports[1] && rports[0] != 7000,
              "both share one real port:\n%s", e2e_slurp(ns.manifest));
    e2e_events_free(&ev);
    /* a socket without the option is refused, as by the kernel */
    struct e2e_proc *d = e2e_startl(&env, "sockctl");
    int dfd = e2e_cmd_fd(d, "udp4");
    cr_assert_str_eq(e2e_cmd(d, "bind %d 127.0.0.1 7000", dfd), "ERR EADDRINUSE");
    cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 7000 hello", cfd), "OK 1");
    /* whichever of the two the kernel picked has it */
    cr_assert_str_eq(e2e_cmd(a, "opt %d reuseaddr 1", afd), "OK");   /* a no-op round trip */
    const char *ra = e2e_cmd(a, "recvfrom %d recvmmsg", afd);
    const char *got = strstr(ra, "hello") ? ra : e2e_cmd(b, "recvfrom %d", bfd);
    cr_assert(strstr(got, "127.0.0.1 7001 hello"), "a sharer got the datagram: '%s'", got);
}

Test(udp, reuseport_on_both_shares_the_port)
{
    shared_port("reuseport");
}

Test(udp, reuseaddr_on_both_shares_the_port)
{
    shared_port("reuseaddr");
}

Test(udp, tcp_and_udp_on_one_virtual_port_are_apart)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    /* the TCP listener first: the datagram must still find the UDP socket */
    struct e2e_proc *t = e2e_startl(&env, "sockctl");
    int tfd = e2e_cmd_fd(t, "tcp4");
    cr_assert_str_eq(e2e_cmd(t, "bind %d 127.0.0.1 7000", tfd), "OK");
    cr_assert_str_eq(e2e_cmd(t, "listen %d", tfd), "OK");
    cr_assert_str_eq(e2e_cmd(t, "serve %d tcpserver", tfd), "OK");
    int ufd;
    struct e2e_proc *u = udp_bound(&env, 4, "127.0.0.1", 7000, NULL, &ufd);
    struct e2e_proc *c = e2e_startl(&env, "sockctl");
    const char *r = e2e_cmd(c, "talk 127.0.0.1 7000 hi");
    cr_assert(strstr(r, "tcpserver"), "the TCP client reached the TCP listener: '%s'", r);
    int cfd = e2e_cmd_fd(c, "udp4");
    cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 7000 dgram", cfd), "OK 1");
    r = e2e_cmd(u, "recvfrom %d", ufd);
    cr_assert(strstr(r, " dgram"), "the datagram reached the UDP socket: '%s'", r);
}

Test(udp, datagram_to_a_port_nobody_in_the_run_bound_passes_through)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    /* a server outside the run (the test process itself) on a real port */
    int out = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("127.0.0.1", 0, &ss, &sl);
    cr_assert(bind(out, (struct sockaddr *)&ss, sl) == 0);
    int port = sock_port(out, 0);
    int cfd;
    struct e2e_proc *c = udp_bound(&env, 4, "127.0.0.1", 7001, NULL, &cfd);
    cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 %d outside", cfd, port), "OK 1");
    cr_assert(wait_readable(out, E2E_MS) > 0, "the datagram never reached the outside server");
    char buf[64];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(out, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    cr_assert(n == 7 && !memcmp(buf, "outside", 7));
    /* the outside sees the client's real port; a reply to it arrives, and
     * the client sees it from the outside server's port, untouched */
    cr_assert(sendto(out, "back", 4, 0, (struct sockaddr *)&from, fl) == 4);
    char want[64];
    snprintf(want, sizeof want, "OK 127.0.0.1 %d back", port);
    cr_assert_str_eq(e2e_cmd(c, "recvfrom %d", cfd), want);
    close(out);
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    for (size_t i = 0; i < ev.n; i++)
        cr_assert(!(ev.v[i].ev == PS_EV_CONNECT && ev.v[i].port == port),
                  "a datagram passed through is not the namespace's record:\n%s",
                  e2e_slurp(ns.manifest));
    e2e_events_free(&ev);
}

Test(udp, datagrams_to_a_receiver_killed_without_closing_pass_through_again)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", NULL);
    int sfd;
    struct e2e_proc *s = udp_bound(&env, 4, "127.0.0.1", 7000, NULL, &sfd);
    struct e2e_proc *c = e2e_startl(&env, "sockctl");
    int cfd = e2e_cmd_fd(c, "udp4");
    cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 7000 first", cfd), "OK 1");
    cr_assert(strstr(e2e_cmd(s, "recvfrom %d", sfd), " first"));
    e2e_cmd(s, "kill");   /* SIGKILL: no close, no exit record */
    e2e_wait(s, E2E_MS);
    /* a server outside the run on the real port 7000 */
    int out = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("127.0.0.1", 7000, &ss, &sl);
    if (bind(out, (struct sockaddr *)&ss, sl) != 0)
        e2e_skip("real UDP port 7000 is taken here: the test did not run");
    /* the client's datagrams reach it once the shim has seen the receiver
     * gone (it asks again at most every 100 ms): bounded, not timed */
    bool got = false;
    for (int i = 0; i < 100 && !got; i++) {
        cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 7000 again", cfd), "OK 1");
        got = wait_readable(out, 200) > 0;
    }
    close(out);
    cr_assert(got, "datagrams to 7000 never passed through after its receiver was killed");
}

Test(udp, strictly_virtual_port_without_receiver_drops_the_datagram)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "remap", "7000");
    /* someone outside really holds 7000: it must not get the datagram */
    int out = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("127.0.0.1", 7000, &ss, &sl);
    if (bind(out, (struct sockaddr *)&ss, sl) != 0)
        e2e_skip("real UDP port 7000 is taken here: the test did not run");
    struct e2e_proc *c = e2e_startl(&env, "sockctl");
    int cfd = e2e_cmd_fd(c, "udp4");
    cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 7000 lost", cfd), "OK 1");
    /* then a receiver of the namespace: the next datagram is its */
    int sfd;
    struct e2e_proc *s = udp_bound(&env, 4, "127.0.0.1", 7000, NULL, &sfd);
    cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 7000 found", cfd), "OK 1");
    const char *r = e2e_cmd(s, "recvfrom %d", sfd);
    cr_assert(strstr(r, " found"), "%s", r);
    char buf[16];
    cr_assert(recv(out, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN,
              "the outside holder of real 7000 got a datagram of the namespace");
    close(out);
}

Test(udp, unix_mode_remaps_udp)
{
    request_reply("unix", 4, "127.0.0.1", 4, "127.0.0.1", "127.0.0.1", "sendto", "recvfrom");
}

Test(udp, observe_mode_records_binds_connects_and_each_ports_first_datagram)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "observe", NULL);
    int port = e2e_free_port(SOCK_DGRAM);
    int sfd;
    struct e2e_proc *s = udp_bound(&env, 4, "127.0.0.1", port, NULL, &sfd);
    struct e2e_proc *c = e2e_startl(&env, "sockctl");
    int cfd = e2e_cmd_fd(c, "udp4");
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(e2e_cmd(c, "sendto %d 127.0.0.1 %d m%d", cfd, port, i), "OK 1");
        const char *r = e2e_cmd(s, "recvfrom %d", sfd);
        cr_assert(strstr(r, " m"), "%s", r);
    }
    int kfd = e2e_cmd_fd(c, "udp4");
    cr_assert_str_eq(e2e_cmd(c, "connect %d 127.0.0.1 %d", kfd, port), "OK");
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    size_t binds = 0, dgrams = 0, connects = 0;
    for (size_t i = 0; i < ev.n; i++) {
        const struct ps_event *e = &ev.v[i];
        if (e->proto != PS_PROTO_UDP || e->port != port)
            continue;
        binds += e->ev == PS_EV_BIND && e->ok && !strcmp(e->mode, "observe") && e->rport == port;
        dgrams += e->ev == PS_EV_CONNECT && !strcmp(e->note, "datagram");
        connects += e->ev == PS_EV_CONNECT && !e->note[0] && e->ok;
    }
    cr_assert(binds == 1 && dgrams == 1 && connects == 1,
              "one bind, one first-datagram line (of 3 datagrams), one connect; got %zu, %zu, "
              "%zu:\n%s", binds, dgrams, connects, e2e_slurp(ns.manifest));
    e2e_events_free(&ev);
}

Test(udp, kernel_answers_are_kept_for_odd_and_bad_arguments_in_every_mode)
{
    struct e2e_ns ns;
    struct e2e_env env, plain;
    shimmed(&ns, &env, "remap", NULL);
    e2e_env_plain(&plain);
    char p1[16], p2[16];
    int a = e2e_free_port(SOCK_DGRAM), b;
    do
        b = e2e_free_port(SOCK_DGRAM);
    while (b == a);
    snprintf(p1, sizeof p1, "%d", a);
    snprintf(p2, sizeof p2, "%d", b);
    struct e2e_proc *bare = e2e_runl(&plain, E2E_MS, "udperr", p1, p2);
    cr_assert_eq(e2e_status(bare), 0, "%s", e2e_describe(bare));
    const char *modes[] = {"remap", "observe", "unix"};
    for (int m = 0; m < 3; m++) {
        e2e_env_set(&env, "PORTSHIM_MODE", modes[m]);
        struct e2e_proc *shim = e2e_runl(&env, E2E_MS, "udperr", p1, p2);
        cr_assert_eq(e2e_status(shim), 0, "%s", e2e_describe(shim));
        char bl[256], sl[256];
        bare->opos = 0;
        while (e2e_line(bare, bl, sizeof bl, 0) == 0) {
            cr_assert_eq(e2e_line(shim, sl, sizeof sl, 0), 0, "%s: shimmed run stopped before '%s'",
                         modes[m], bl);
            cr_assert_str_eq(sl, bl, "%s: differs under the shim (want '%s', got '%s')", modes[m],
                             bl, sl);
        }
    }
    const char *out = e2e_out(bare);
    cr_assert(strstr(out, "CASE recvfrom_len_3 OK len=16 match=yes rest_untouched=yes\n"), "%s", out);
    cr_assert(strstr(out, "CASE recvfrom_after_peek OK len=16 match=yes\n"), "%s", out);
    cr_assert(strstr(out, "CASE recvfrom_len_negative EINVAL then=EAGAIN\n"), "%s", out);
    cr_assert(strstr(out, "CASE recvmmsg_two OK n=2"), "%s", out);
    cr_assert(strstr(out, "CASE sendto_v4_mapped_on_v6only ENETUNREACH\n"), "%s", out);
    cr_assert(strstr(out, "CASE sendto_unspec OK then=OK\n"), "%s", out);
    cr_assert(strstr(out, "CASE connected_peer OK match=yes\n"), "%s", out);
    if (!strstr(out, "skipped_under_asan")) {
        cr_assert(strstr(out, "CASE recvfrom_addr_bad EFAULT then=EAGAIN\n"), "%s", out);
        cr_assert(strstr(out, "CASE recvmsg_msghdr_bad EFAULT then=OK\n"), "%s", out);
        cr_assert(strstr(out, "CASE sendmmsg_second_entry_unreadable OK n=1"), "%s", out);
    }
}

/* Four runs at once, each with its own UDP server on 5353 (a fixture's
 * fixed port) and a client: every client gets its own copy's answer, from
 * virtual 5353. The clients ask only once all four servers are bound. */
Test(udp, four_runs_each_with_a_server_on_one_fixed_port_answer_their_own_clients)
{
    e2e_need_lib();
    const char *script =
        "\"$H/udpecho\" serve 127.0.0.1 5353 copy$1 > \"$2/ready.$1\" &\n"
        "i=0\n"
        "until [ \"$(cat \"$2\"/ready.* 2>/dev/null | grep -c READY)\" -ge 4 ]; do\n"
        "  i=$((i+1)); [ $i -lt 300 ] || { echo 'servers not ready'; kill $!; exit 1; }\n"
        "  sleep 0.1\n"
        "done\n"
        "\"$H/udpecho\" ask 127.0.0.1 5353 hi\n"
        "rc=$?\nkill $!\nexit $rc\n";
    e2e_parallel_runs(script, 4, "REPLY copy", ":hi\nFROM 5353\n", NULL, NULL, 60000);
}
