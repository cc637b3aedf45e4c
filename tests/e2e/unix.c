/* unix.c — unix mode (docs/design.md "Unix mode"): TCP servers become AF_UNIX
 * sockets in the namespace's private directory, and programs never notice. */
#include <criterion/criterion.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "e2e.h"

TestSuite(unix, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

static void shimmed(struct e2e_ns *ns, struct e2e_env *env, const char *ports)
{
    e2e_need_lib();
    e2e_ns_new(ns, "ns");
    e2e_env_shim(env, ns, "unix", ports);
}

/* The last bind of port in the manifest was a unix-mode one (a socket file). */
static void assert_unix_bind(const struct e2e_ns *ns, int port)
{
    struct e2e_events ev;
    e2e_events_read(ns->manifest, &ev);
    const struct ps_event *b = e2e_last_bind(&ev, port);
    cr_assert(b && b->rpath[0], "the last bind of %d was not a unix-mode one", port);
    e2e_events_free(&ev);
}

static int serve(const struct e2e_env *env, const char *addr, const char *port, const char *name)
{
    struct e2e_proc *s = e2e_startl(env, "echo-server", addr, port, "--name", name);
    const char *r = e2e_expect(s, "READY ", E2E_MS);
    cr_assert(r, "%s on %s:%s did not get ready:\n%s", name, addr, port, e2e_describe(s));
    return atoi(r);
}

static bool is_socket(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The one line a helper printed that starts with prefix (whole line). */
static const char *line_of(struct e2e_proc *p, const char *prefix)
{
    p->opos = 0;
    const char *r = e2e_expect(p, prefix, 0);
    cr_assert(r, "no '%s' line:\n%s", prefix, e2e_describe(p));
    return r;
}

/* A shimmed program's request from an unshimmed process, over the socket file. */
static int unix_request(const char *path, const char *msg, char *reply, size_t len)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    snprintf(su.sun_path, sizeof su.sun_path, "%s", path);
    if (s < 0 || connect(s, (struct sockaddr *)&su, sizeof su) < 0) {
        int err = errno;
        if (s >= 0)
            close(s);
        return -err;
    }
    char line[256];
    snprintf(line, sizeof line, "%s\n", msg);
    write_all(s, line, strlen(line));
    ssize_t n = read_reply(s, reply, len, E2E_MS, true);
    close(s);
    if (n < 0)
        return -EIO;
    chomp(reply);
    return 0;
}

/* ---- the swap --------------------------------------------------------------- */

Test(unix, tcp_bind_becomes_a_socket_file_named_for_port_and_address)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", a), "OK");
    const char *path = e2e_path("ns/8000@127.0.0.1");
    cr_assert(is_socket(path), "no socket file %s", path);
    cr_assert_str_eq(e2e_cmd(p, "name %d", a), "OK 127.0.0.1 8000");
    if (e2e_have_ipv6()) {
        int b = e2e_cmd_fd(p, "tcp6");
        cr_assert_str_eq(e2e_cmd(p, "bind %d ::1 8000", b), "OK");
        cr_assert(is_socket(e2e_path("ns/8000@::1")));
        cr_assert_str_eq(e2e_cmd(p, "name %d", b), "OK ::1 8000");
    }
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const struct ps_event *b = e2e_last_bind(&ev, 8000);
    cr_assert(b, "no bind of 8000 recorded");
    cr_assert_str_eq(b->mode, "unix");
    cr_assert(!strcmp(b->rpath, path) || !strcmp(b->rpath, e2e_path("ns/8000@::1")), "rpath %s",
              b->rpath);
    e2e_events_free(&ev);
}

Test(unix, swap_keeps_fd_number_flags_options_and_the_name_of_a_cloexec_dup)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, "unixcheck", "opts", "127.0.0.1", "8000");
    const char *r = line_of(p, "OPTS ");
    cr_assert_str_eq(r, "same_fd=1 nonblock=1 cloexec=1 nodelay=1 domain=2 type=1 proto=6 "
                        "keepidle=30 keepcnt=9 dup_port=8000 accepted_nodelay=1 "
                        "accepted_domain=2", "%s", e2e_describe(p));
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const struct ps_event *b = e2e_last_bind(&ev, 8000);
    cr_assert(b && b->rpath[0], "the bind was not a unix one:\n%s", e2e_describe(p));
    e2e_events_free(&ev);
    if (e2e_have_ipv6()) {
        p = e2e_runl(&env, E2E_MS, "unixcheck", "opts", "::1", "8001");
        cr_assert_str_eq(line_of(p, "OPTS "),
                         "same_fd=1 nonblock=1 cloexec=1 nodelay=1 domain=10 type=1 proto=6 "
                         "keepidle=30 keepcnt=9 dup_port=8001 accepted_nodelay=1 "
                         "accepted_domain=10", "%s", e2e_describe(p));
    }
}

Test(unix, a_swap_without_a_free_descriptor_leaves_the_tcp_socket_and_says_enobufs)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (access("/usr/bin/python3", X_OK))
        e2e_skip("needs /usr/bin/python3");
    /* every descriptor in use: the swap cannot make its AF_UNIX socket */
    const char *prog =
        "import errno, os, resource, socket\n"
        "def tryit(f):\n"
        "    try:\n"
        "        f(); return 'ok'\n"
        "    except OSError as e:\n"
        "        return errno.errorcode.get(e.errno)\n"
        "l = socket.socket(); l.bind(('127.0.0.1', 8001)); l.listen(8)\n"
        "s = socket.socket(); c = socket.socket()\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE,\n"
        "                   (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
        "fill = []\n"
        "try:\n"
        "    while True: fill.append(os.open('/dev/null', os.O_RDONLY))\n"
        "except OSError:\n"
        "    pass\n"
        "b = tryit(lambda: s.bind(('127.0.0.1', 8000)))\n"
        "k = tryit(lambda: c.connect(('127.0.0.1', 8001)))\n"
        "tcp = [x.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN) == socket.AF_INET\n"
        "       for x in (s, c)]\n"
        "os.close(fill.pop()); os.close(fill.pop())\n"
        "print('SWAP', b, k, tcp, tryit(lambda: s.bind(('127.0.0.1', 8000))),\n"
        "      tryit(lambda: c.connect(('127.0.0.1', 8001))), flush=True)\n";
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, "/usr/bin/python3", "-c", prog);
    cr_assert_str_eq(line_of(p, "SWAP "), "ENOBUFS ENOBUFS [True, True] ok ok", "%s",
                     e2e_describe(p));
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    size_t failed = 0;
    for (size_t i = 0; i < ev.n; i++)
        failed += ev.v[i].ev == PS_EV_CONNECT && !ev.v[i].ok && ev.v[i].err == ENOBUFS;
    cr_assert_eq(failed, 1, "the failed connect was not recorded");
    e2e_events_free(&ev);
}

Test(unix, a_bind_to_an_address_of_no_interface_fails_as_tcp_does)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(p, "tcp4");
    /* TEST-NET-1: on no interface of this host */
    cr_assert_str_eq(e2e_cmd(p, "bind %d 192.0.2.1 8000", a), "ERR EADDRNOTAVAIL");
    cr_assert(!exists(e2e_path("ns/8000@192.0.2.1")), "a socket file for it");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", a), "OK", "the socket is still usable");
}

Test(unix, so_reuseaddr_set_before_the_bind_reads_back_set)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (access("/usr/bin/python3", X_OK))
        e2e_skip("needs /usr/bin/python3");
    const char *prog =
        "import socket\n"
        "S, R = socket.SOL_SOCKET, socket.SO_REUSEADDR\n"
        "s = socket.socket(); s.setsockopt(S, R, 1); s.bind(('127.0.0.1', 8000))\n"
        "print('REUSEADDR', s.getsockopt(S, R) != 0, flush=True)\n";
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, "/usr/bin/python3", "-c", prog);
    cr_assert_str_eq(line_of(p, "REUSEADDR "), "True", "%s", e2e_describe(p));
    assert_unix_bind(&ns, 8000);
}

/* ---- routing and names ------------------------------------------------------ */

Test(unix, routed_client_reaches_its_listener_and_both_see_inet_names)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    serve(&env, "127.0.0.1", "8000", "srv");
    struct e2e_proc *c = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", "8000", "hello");
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    cr_assert_str_eq(line_of(c, "REPLY "), "srv 8000 hello", "%s", e2e_describe(c));
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    size_t routed = 0;
    for (size_t i = 0; i < ev.n; i++)
        routed += ev.v[i].ev == PS_EV_CONNECT && ev.v[i].routed && ev.v[i].ok &&
                  !strcmp(ev.v[i].rpath, e2e_path("ns/8000@127.0.0.1"));
    cr_assert_eq(routed, 1, "the connect was not routed to the socket file");
    e2e_events_free(&ev);

    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int fd = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "connect %d 127.0.0.1 8000", fd), "OK");
    cr_assert_str_eq(e2e_cmd(p, "peer %d", fd), "OK 127.0.0.1 8000");
    const char *name = e2e_cmd(p, "name %d", fd);
    cr_assert(!strncmp(name, "OK 127.0.0.1 ", 13), "client getsockname: %s", name);
}

Test(unix, the_clients_own_port_is_the_port_the_server_sees_as_its_peer)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int l = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", l), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", l), "OK");
    struct e2e_proc *q = e2e_startl(&env, "sockctl");
    int c = e2e_cmd_fd(q, "tcp4");
    cr_assert_str_eq(e2e_cmd(q, "connect %d 127.0.0.1 8000", c), "OK");
    char client[128], seen[128];
    snprintf(client, sizeof client, "%s", e2e_cmd(q, "name %d", c));
    int a = e2e_cmd_fd(p, "accept %d", l);
    snprintf(seen, sizeof seen, "%s", e2e_cmd(p, "peer %d", a));
    cr_assert(!strncmp(client, "OK 127.0.0.1 ", 13) && atoi(client + 13) > 0, "%s", client);
    cr_assert_str_eq(seen, client, "server sees the peer as '%s', the client itself as '%s'", seen,
                     client);
    cr_assert_str_eq(e2e_cmd(p, "name %d", a), "OK 127.0.0.1 8000");
    /* accept()'s own address agrees, in family and length */
    struct e2e_proc *u = e2e_runl(&env, E2E_MS, "unixcheck", "accept", "127.0.0.1", "8001",
                                  "127.0.0.1");
    const char *r = line_of(u, "ACCEPT ");
    int port = -1, cport = -2;
    cr_assert(sscanf(strstr(r, "port="), "port=%d client_port=%d", &port, &cport) == 2, "%s", r);
    cr_assert(!strncmp(r, "fam=2 len=16 addr=127.0.0.1 ", 28), "%s", r);
    cr_assert_eq(port, cport, "%s", r);
}

Test(unix, short_and_negative_name_lengths_are_answered_as_tcp_answers_them)
{
    struct e2e_ns ns;
    struct e2e_env env, plain;
    shimmed(&ns, &env, NULL);
    e2e_env_plain(&plain);
    char port[8];
    snprintf(port, sizeof port, "%d", e2e_free_port(SOCK_STREAM));
    struct e2e_proc *t = e2e_runl(&plain, E2E_MS, "unixcheck", "names", "127.0.0.1", port);
    const char *want = "neg=EINVAL negpeer=EINVAL short_len=16 short_port=1 untouched=1 "
                       "accept_len=16 accept_untouched=1";
    cr_assert_str_eq(line_of(t, "NAMES "), want, "TCP itself: %s", e2e_describe(t));
    struct e2e_proc *u = e2e_runl(&env, E2E_MS, "unixcheck", "names", "127.0.0.1", "8000");
    cr_assert_str_eq(line_of(u, "NAMES "), want, "%s", e2e_describe(u));
}

Test(unix, dual_stack_listener_serves_v4_and_v6_clients_with_their_own_families)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (!e2e_have_ipv6())
        e2e_skip("IPv6 loopback is not available here");
    struct { const char *laddr, *caddr, *want; } cases[] = {
        {"::", "127.0.0.1", "fam=10 len=28 addr=::ffff:127.0.0.1 "},
        {"::", "::1", "fam=10 len=28 addr=::1 "},
        {"0.0.0.0", "::ffff:127.0.0.1", "fam=2 len=16 addr=127.0.0.1 "},
        {"::1", "::1", "fam=10 len=28 addr=::1 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char port[8];
        snprintf(port, sizeof port, "%zu", 8100 + i);
        struct e2e_proc *u = e2e_runl(&env, E2E_MS, "unixcheck", "accept", cases[i].laddr, port,
                                      cases[i].caddr);
        const char *r = line_of(u, "ACCEPT ");
        cr_assert(!strncmp(r, cases[i].want, strlen(cases[i].want)), "%s <- %s: %s",
                  cases[i].laddr, cases[i].caddr, r);
        int p = -1, c = -2;
        cr_assert(sscanf(strstr(r, "port="), "port=%d client_port=%d", &p, &c) == 2);
        cr_assert_eq(p, c, "%s", r);
    }
    /* two clients of one :: listener in other processes */
    serve(&env, "::", "8000", "dual");
    char reply[256];
    struct e2e_proc *c4 = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", "8000", "four");
    struct e2e_proc *c6 = e2e_runl(&env, E2E_MS, "client", "::1", "8000", "six");
    snprintf(reply, sizeof reply, "%s", line_of(c4, "REPLY "));
    cr_assert_str_eq(reply, "dual 8000 four", "%s", e2e_describe(c4));
    cr_assert_str_eq(line_of(c6, "REPLY "), "dual 8000 six", "%s", e2e_describe(c6));
}

Test(unix, writes_of_100000_bytes_are_taken_whole)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *u = e2e_runl(&env, E2E_MS, "unixcheck", "bigwrite", "127.0.0.1", "8000",
                                  "100000");
    cr_assert_str_eq(line_of(u, "BIG "), "wrote=100000 read=100000", "%s", e2e_describe(u));
    assert_unix_bind(&ns, 8000);
}

/* ---- non-blocking connect --------------------------------------------------- */

Test(unix, nonblocking_connect_to_a_live_listener_completes_as_tcp_does)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    serve(&env, "127.0.0.1", "8000", "srv");
    struct e2e_proc *u = e2e_runl(&env, E2E_MS, "unixcheck", "nbconnect", "127.0.0.1", "8000");
    const char *r = line_of(u, "NBCONNECT ");
    cr_assert(!strcmp(r, "rc=0 writable=1 soerr=0") ||
              !strcmp(r, "rc=EINPROGRESS writable=1 soerr=0"), "%s", e2e_describe(u));
}

Test(unix, nonblocking_connect_to_a_full_backlog_never_says_eagain)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *u = e2e_runl(&env, 30000, "unixcheck", "backlog", "127.0.0.1", "8000", "6");
    cr_assert_str_eq(line_of(u, "BACKLOG "), "started=6 eagain=0 other=0", "%s", e2e_describe(u));
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    /* the process's first connect to the listener is a line, the rest are
     * counted (preload/counts.h); it _exits, so the report reads the count */
    size_t routed = 0;
    for (size_t i = 0; i < ev.n; i++)
        routed += ev.v[i].ev == PS_EV_CONNECT && ev.v[i].routed && ev.v[i].rpath[0];
    cr_assert_eq(routed, 1, "the first connect was not routed to the socket file");
    struct e2e_env plain;
    e2e_env_plain(&plain);
    struct e2e_proc *r = e2e_runl(&plain, E2E_MS, e2e_portshim(), "report", "--json",
                                  "--manifest", ns.manifest);
    cr_assert(e2e_wait(r, E2E_MS) && e2e_status(r) == 0, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_out(r), "\"connects\":6"), "6 connects were not routed:\n%s",
              e2e_describe(r));
    e2e_events_free(&ev);
}

/* Beyond a backlog filled to the kernel's limit (listeners take the deepest
 * one): a non-blocking connect says EINPROGRESS at once and polls writable,
 * and SO_ERROR tells how it went — refused while there is no room, connected
 * (data flows) once an accept made room; blocking ones end as TCP's do: the
 * program's own SO_SNDTIMEO gives EINPROGRESS, TCP's SYN retries
 * (TCP_SYNCNT 1: 3 s) ETIMEDOUT, a signal EINTR, or a restart with
 * SA_RESTART. */
Test(unix, connects_beyond_a_full_backlog_end_as_tcp_connects_do)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *u = e2e_runl(&env, 40000, "unixcheck", "overflow", "127.0.0.1", "8000");
    cr_assert_str_eq(line_of(u, "OVERFLOW "),
                     "nb=EINPROGRESS pollout=1 soerr=ECONNREFUSED later=EINPROGRESS "
                     "later_soerr=OK later_write=1 own_timeout=EINPROGRESS blocking=ETIMEDOUT "
                     "intr=EINTR restart=ETIMEDOUT handled=2", "%s", e2e_describe(u));
}

/* Threads that each listen on one port and dial it while the others do the
 * same: every connect finds room, nothing waits forever. */
Test(unix, threads_racing_bind_connect_and_close_on_one_port_all_finish)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    e2e_env_set(&env, "PORTSHIM_LOG", "error");
    struct e2e_proc *u = e2e_runl(&env, 40000, "connrace", "127.0.0.1", "8000", "4", "200");
    cr_assert_eq(e2e_status(u), 0, "%s", e2e_describe(u));
    cr_assert(strstr(line_of(u, "CONNRACE "), "rounds=800 "), "%s", e2e_describe(u));
}

Test(unix, nonblocking_connect_with_nobody_listening_is_refused)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "8000");
    struct e2e_proc *u = e2e_runl(&env, E2E_MS, "unixcheck", "nbconnect", "127.0.0.1", "8000");
    const char *r = line_of(u, "NBCONNECT ");
    cr_assert(!strcmp(r, "rc=ECONNREFUSED writable=0 soerr=0") ||
              !strcmp(r, "rc=EINPROGRESS writable=1 soerr=ECONNREFUSED"), "%s", e2e_describe(u));
    /* a listener that went away without closing leaves a file nobody listens on */
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", a), "OK");
    e2e_cmd(p, "kill");
    e2e_wait(p, E2E_MS);
    u = e2e_runl(&env, E2E_MS, "unixcheck", "nbconnect", "127.0.0.1", "8000");
    r = line_of(u, "NBCONNECT ");
    cr_assert(strstr(r, "ECONNREFUSED"), "%s", e2e_describe(u));
}

/* ---- namespace semantics ---------------------------------------------------- */

Test(unix, second_bind_of_a_live_virtual_port_fails_with_eaddrinuse)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    serve(&env, "127.0.0.1", "8000", "first");
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int b = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", b), "ERR EADDRINUSE");
    int w = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 0.0.0.0 8000", w), "ERR EADDRINUSE");
    cr_assert_str_eq(e2e_cmd(p, "talk 127.0.0.1 8000 still"), "OK 8000 first 8000 still");
}

Test(unix, port_zero_gets_a_namespace_unique_virtual_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int ports[4];
    for (int i = 0; i < 4; i++) {
        int fd = e2e_cmd_fd(p, "tcp4");
        cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 0", fd), "OK");
        cr_assert_str_eq(e2e_cmd(p, "listen %d", fd), "OK");
        const char *n = e2e_cmd(p, "name %d", fd);
        cr_assert(!strncmp(n, "OK 127.0.0.1 ", 13), "%s", n);
        ports[i] = atoi(n + 13);
        cr_assert_gt(ports[i], 0);
        for (int j = 0; j < i; j++)
            cr_assert_neq(ports[i], ports[j], "port 0 gave %d twice", ports[i]);
        cr_assert(is_socket(e2e_path("ns/%d@127.0.0.1", ports[i])));
        if (i == 0)
            cr_assert_str_eq(e2e_cmd(p, "serve %d zero", fd), "OK");
    }
    /* another process reaches it by the number getsockname reported */
    char port[8];
    snprintf(port, sizeof port, "%d", ports[0]);
    struct e2e_proc *c = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", port, "hi");
    char want[64];
    snprintf(want, sizeof want, "zero %d hi", ports[0]);
    cr_assert_str_eq(line_of(c, "REPLY "), want, "%s", e2e_describe(c));
}

Test(unix, close_releases_the_port_and_removes_the_socket_file)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", a), "OK");
    const char *path = e2e_path("ns/8000@127.0.0.1");
    cr_assert(is_socket(path));
    cr_assert_str_eq(e2e_cmd(p, "close %d", a), "OK");
    cr_assert_not(exists(path), "%s is still there after close", path);
    struct e2e_proc *q = e2e_startl(&env, "sockctl");
    int b = e2e_cmd_fd(q, "tcp4");
    cr_assert_str_eq(e2e_cmd(q, "bind %d 127.0.0.1 8000", b), "OK");
    cr_assert_str_eq(e2e_cmd(q, "listen %d", b), "OK");
    /* and a process that exits takes its file with it */
    e2e_cmd(q, "exit 0");
    e2e_wait(q, E2E_MS);
    cr_assert_not(exists(path), "%s is still there after exit", path);
}

Test(unix, close_range_removes_the_socket_files_of_the_listeners_it_closes)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (access("/usr/bin/python3", X_OK))
        e2e_skip("needs /usr/bin/python3");
    const char *prog =
        "import os, socket, sys\n"
        "ls = []\n"
        "for p in (8000, 8001):\n"
        "    s = socket.socket(); s.bind(('127.0.0.1', p)); s.listen(8); ls.append(s)\n"
        "keep = socket.socket(); keep.bind(('127.0.0.1', 8002)); keep.listen(8)\n"
        "lo, hi = sorted(s.fileno() for s in ls)\n"
        "assert keep.fileno() > hi\n"
        "print('BOUND', flush=True)\n"
        "sys.stdin.readline()\n"
        "os.closerange(lo, hi + 1)\n"   /* close_range() */
        "print('CLOSED', flush=True)\n"
        "sys.stdin.readline()\n";
    struct e2e_proc *p = e2e_startl(&env, "/usr/bin/python3", "-c", prog);
    cr_assert(e2e_expect(p, "BOUND", E2E_MS), "%s", e2e_describe(p));
    cr_assert(is_socket(e2e_path("ns/8000@127.0.0.1")), "no socket file for 8000");
    cr_assert(is_socket(e2e_path("ns/8001@127.0.0.1")), "no socket file for 8001");
    cr_assert_eq(write(p->in, "go\n", 3), 3);
    cr_assert(e2e_expect(p, "CLOSED", E2E_MS), "%s", e2e_describe(p));
    cr_assert(!exists(e2e_path("ns/8000@127.0.0.1")), "8000's socket file is left");
    cr_assert(!exists(e2e_path("ns/8001@127.0.0.1")), "8001's socket file is left");
    cr_assert(is_socket(e2e_path("ns/8002@127.0.0.1")), "8002's socket file went too");
    e2e_close_stdin(p);
    cr_assert(e2e_wait(p, E2E_MS) && e2e_status(p) == 0, "%s", e2e_describe(p));
}

Test(unix, strict_ports_refuse_and_other_ports_pass_through_to_tcp)
{
    struct e2e_ns ns;
    struct e2e_env env, plain;
    shimmed(&ns, &env, NULL);
    e2e_env_plain(&plain);
    /* an unshimmed server outside the namespace, on a real TCP port */
    int q = e2e_free_port(SOCK_STREAM);
    char port[8];
    snprintf(port, sizeof port, "%d", q);
    struct e2e_proc *s = e2e_startl(&plain, "echo-server", "127.0.0.1", port, "--name", "outside");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *c = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", port, "out");
    char want[64];
    snprintf(want, sizeof want, "outside %d out", q);
    cr_assert_str_eq(line_of(c, "REPLY "), want, "%s", e2e_describe(c));
    /* the same port declared strictly virtual: refused */
    struct e2e_env strict;
    e2e_env_shim(&strict, &ns, "unix", port);
    c = e2e_runl(&strict, E2E_MS, "client", "127.0.0.1", port, "out");
    cr_assert_neq(e2e_status(c), 0, "a strictly virtual port reached the outside:\n%s",
                  e2e_describe(c));
    cr_assert(strstr(e2e_out(c), "ECONNREFUSED") || strstr(e2e_err(c), "ECONNREFUSED") ||
              e2e_status(c) == 3, "%s", e2e_describe(c));
}

/* ---- outside the shim ------------------------------------------------------- */

Test(unix, portshim_port_prints_the_socket_path_that_reaches_the_server)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_plain(&env);
    struct e2e_proc *s = e2e_startl(&env, e2e_portshim(), "run", "--mode", "unix", "--manifest",
                                    ns.manifest, "--", e2e_helper("echo-server"), "127.0.0.1",
                                    "8000", "--name", "srv");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest",
                                  ns.manifest, "--wait", "10", "8000");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    char want[640];
    snprintf(want, sizeof want, "%s.d/8000@127.0.0.1\n", ns.manifest);
    cr_assert_str_eq(e2e_out(p), want);
    want[strlen(want) - 1] = 0;
    char reply[256];
    cr_assert_eq(unix_request(want, "hi", reply, sizeof reply), 0);
    cr_assert_str_eq(reply, "srv 8000 hi");
    /* The README's promise: curl reaches the server from outside the shim
     * (scripts/ensure-deps installs curl). */
    cr_assert(access("/usr/bin/curl", X_OK) == 0, "curl is missing: run scripts/ensure-deps");
    {
        e2e_write_file(e2e_path("curl.sh"),
                       "curl -s -m 10 --unix-socket \"$1\" http://x/ -o /dev/null "
                       "-w '%{http_code}'\n"
                       "echo\n", false);
        struct e2e_proc *h = e2e_startl(&env, e2e_portshim(), "run", "--mode", "unix",
                                        "--manifest", ns.manifest, "--", "/usr/bin/python3",
                                        "-m", "http.server", "8001", "--bind", "127.0.0.1");
        (void)h;
        p = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", ns.manifest, "--wait",
                     "10", "8001");
        char path[600];
        snprintf(path, sizeof path, "%s", e2e_out(p));
        chomp(path);
        struct e2e_proc *c = e2e_runl(&env, E2E_MS, "/bin/sh", e2e_path("curl.sh"), path);
        cr_assert_str_eq(e2e_out(c), "200\n", "%s", e2e_describe(c));
    }
}

Test(unix, namespaces_named_by_manifest_in_one_directory_keep_their_own_socket_files)
{
    /* Two --manifest namespaces side by side: each gets its own private
     * "<manifest>.d", so neither replaces the other's 8000. */
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_plain(&env);
    char m[2][660];
    struct e2e_proc *s[2];
    for (int i = 0; i < 2; i++) {
        snprintf(m[i], sizeof m[i], "%.600s/side%d.jsonl", ns.dir, i);
        char name[8];
        snprintf(name, sizeof name, "s%d", i);
        s[i] = e2e_startl(&env, e2e_portshim(), "run", "--mode", "unix", "--manifest", m[i],
                          "--", e2e_helper("echo-server"), "127.0.0.1", "8000", "--name", name);
        cr_assert(e2e_expect(s[i], "READY ", E2E_MS), "%s", e2e_describe(s[i]));
    }
    for (int i = 0; i < 2; i++) {
        char path[700], want[32], reply[256];
        snprintf(path, sizeof path, "%.660s.d/8000@127.0.0.1", m[i]);
        cr_assert(is_socket(path), "%s is not a socket", path);
        snprintf(path, sizeof path, "%.660s.d", m[i]);
        struct stat st;
        cr_assert_eq(lstat(path, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0700, "%s has mode %o", path, st.st_mode & 0777);
        snprintf(path, sizeof path, "%.660s.d/8000@127.0.0.1", m[i]);
        cr_assert_eq(unix_request(path, "hi", reply, sizeof reply), 0);
        snprintf(want, sizeof want, "s%d 8000 hi", i);
        cr_assert_str_eq(reply, want);
    }
}

Test(unix, another_user_cannot_connect_to_a_unix_mode_server)
{
    struct e2e_ns ns;
    struct e2e_env env, plain;
    shimmed(&ns, &env, NULL);
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) || access("/usr/bin/python3", X_OK))
        e2e_skip("needs root, setpriv and /usr/bin/python3 to act as another user");
    serve(&env, "127.0.0.1", "8000", "srv");
    e2e_env_plain(&plain);
    const char *py = "import socket, sys\n"
                     "s = socket.socket(socket.AF_UNIX)\n"
                     "try:\n"
                     "    s.connect(sys.argv[1]); print('CONNECTED')\n"
                     "except OSError as e:\n"
                     "    print('ERR', e.__class__.__name__)\n";
    const char *path = e2e_path("ns/8000@127.0.0.1");
    struct e2e_proc *owner = e2e_runl(&plain, E2E_MS, "/usr/bin/python3", "-c", py, path);
    cr_assert_str_eq(e2e_out(owner), "CONNECTED\n", "the owner must reach it: %s",
                     e2e_describe(owner));
    struct e2e_proc *other = e2e_runl(&plain, E2E_MS, "/usr/bin/setpriv", "--reuid=nobody",
                                      "--regid=nogroup", "--clear-groups", "/usr/bin/python3",
                                      "-c", py, path);
    cr_assert_str_eq(e2e_out(other), "ERR PermissionError\n", "%s", e2e_describe(other));
}

Test(unix, run_removes_the_namespace_and_a_too_long_dir_is_a_clear_error)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--mode", "unix", "--",
                                  "/bin/sh", "-c", "echo \"DIR=$PORTSHIM_DIR\"; exec \"$0\" opts "
                                  "127.0.0.1 8000", e2e_helper("unixcheck"));
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    char dir[600];
    snprintf(dir, sizeof dir, "%s", line_of(r, "DIR="));
    cr_assert(dir[0] == '/' && !exists(dir), "namespace %s was not removed", dir);

    /* A TMPDIR too long for sun_path: run picks /tmp. */
    char longdir[300];
    snprintf(longdir, sizeof longdir, "%s/%s", e2e_tmp(),
             "a-rather-long-temporary-directory-name-for-unix-mode-sockets");
    cr_assert(mkdir(longdir, 0700) == 0);
    e2e_env_set(&env, "TMPDIR", longdir);
    r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--mode", "unix", "--", "/bin/sh", "-c",
                 "echo \"DIR=$PORTSHIM_DIR\"; exec \"$0\" opts 127.0.0.1 8000",
                 e2e_helper("unixcheck"));
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert(!strncmp(line_of(r, "DIR="), "/tmp/portshim.", 14), "%s", e2e_describe(r));

    /* The library, given such a PORTSHIM_DIR itself: one line, status 78. */
    struct e2e_ns ns;
    snprintf(ns.dir, sizeof ns.dir, "%s", longdir);
    snprintf(ns.manifest, sizeof ns.manifest, "%s/manifest.jsonl", longdir);
    struct e2e_env shim;
    e2e_env_shim(&shim, &ns, "unix", NULL);
    r = e2e_runl(&shim, E2E_MS, "unixcheck", "opts", "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(r), 78, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "portshim: ") && strstr(e2e_err(r), "PORTSHIM_DIR='"),
              "%s", e2e_describe(r));
}

/* ---- real programs, in parallel --------------------------------------------- */

Test(unix, eight_parallel_copies_of_a_hard_coded_port_suite_with_real_servers_pass)
{
    e2e_need_lib();
    if (access("/usr/bin/redis-server", X_OK) || access("/usr/bin/python3", X_OK))
        e2e_skip("redis-server (scripts/ensure-deps) and /usr/bin/python3 are needed");
    /* Every copy: redis on 6379 and python's http.server on 8000, hard-coded;
     * its own client asks redis for its dbfilename (which names the copy) and
     * fetches a page. */
    e2e_write_file(e2e_path("get.py"),
                   "import sys, time, urllib.request\n"
                   "for i in range(300):\n"
                   "    try:\n"
                   "        r = urllib.request.urlopen('http://127.0.0.1:8000/', timeout=10)\n"
                   "        print('HTTP', r.status); break\n"
                   "    except OSError:\n"
                   "        time.sleep(0.05)\n", false);
    const char *script =
        "cd \"$2\" && mkdir -p \"www$1\" && cd \"www$1\"\n"
        "timeout 90 /usr/bin/redis-server --port 6379 --save '' --appendonly no "
        "--daemonize no --dir \"$2\" --dbfilename unixcopy$1.rdb --logfile \"$2/uredis$1.log\" &\n"
        "rpid=$!\n"
        "timeout 90 /usr/bin/python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 &\n"
        "hpid=$!\n"
        "\"$H/client\" 127.0.0.1 6379 'CONFIG GET dbfilename\\r\\nQUIT\\r\\n' --raw "
        "--retry-ms 30000\nrc=$?\n"
        "/usr/bin/python3 \"$2/get.py\" || rc=1\n"
        "kill $rpid $hpid\nwait\nexit $rc\n";
    e2e_parallel_runs(script, 8, "unixcopy", ".rdb", "unix", "6379,8000", 90000);
}

/* ---- Tahoe-LAFS #2787 --------------------------------------------------------- */

Test(unix, the_2787_reproduction_passes_in_unix_mode, .timeout = 150)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *nsdir = e2e_path("namespaces");
    cr_assert(mkdir(nsdir, 0700) == 0);
    struct e2e_proc *p = e2e_runl(&env, 60000, "race2787", "--hog", e2e_helper("porthog"),
                                  "--prog", e2e_helper("port2787"), "--copies", "12",
                                  "--sleep-ms", "30", "--shim", e2e_lib(), "--nsdir", nsdir,
                                  "--mode", "unix");
    const char *skip = e2e_expect(p, "SKIP ", 0);
    if (skip)
        e2e_skip("private network namespaces are not permitted here (%s)", skip);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    int ok = -1, inuse = -1, other = -1;
    const char *line = line_of(p, "RESULT ");
    cr_assert(sscanf(line, "ok=%d inuse=%d other=%d", &ok, &inuse, &other) == 3, "%s", line);
    cr_assert_eq(inuse, 0, "%s", e2e_describe(p));
    cr_assert_eq(other, 0, "%s", e2e_describe(p));
    cr_assert_eq(ok, 12);
    /* and the copies really ran in unix mode: no port of the kernel's used */
    struct e2e_events ev;
    e2e_events_read(e2e_path("namespaces/ns-0.jsonl"), &ev);
    size_t unix_binds = 0;
    for (size_t i = 0; i < ev.n; i++)
        unix_binds += ev.v[i].ev == PS_EV_BIND && ev.v[i].ok && ev.v[i].rpath[0] &&
                      !strcmp(ev.v[i].mode, "unix");
    cr_assert_geq(unix_binds, 2, "copy 0 made %zu unix-mode binds", unix_binds);
    e2e_events_free(&ev);
}

/* ---- sharing and exec ----------------------------------------------------- */

Test(unix, reuseport_sharers_each_get_a_socket_file_and_connects_reach_them)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *a = e2e_startl(&env, "echo-server", "127.0.0.1", "8000", "--name", "a",
                                    "--reuseport");
    cr_assert(e2e_expect(a, "READY 8000", E2E_MS), "%s", e2e_describe(a));
    struct e2e_proc *b = e2e_startl(&env, "echo-server", "127.0.0.1", "8000", "--name", "b",
                                    "--reuseport");
    cr_assert(e2e_expect(b, "READY 8000", E2E_MS), "the second sharer did not bind:\n%s",
              e2e_describe(b));
    cr_assert(is_socket(e2e_path("ns/8000@127.0.0.1")));
    cr_assert(is_socket(e2e_path("ns/8000@127.0.0.1#1")));
    /* without the option on both, the port is taken */
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int c = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", c), "ERR EADDRINUSE");
    bool seen_a = false, seen_b = false;
    for (int i = 0; i < 60 && !(seen_a && seen_b); i++) {
        const char *r = e2e_cmd(p, "talk 127.0.0.1 8000 x");
        seen_a |= !strcmp(r, "OK 8000 a 8000 x");
        seen_b |= !strcmp(r, "OK 8000 b 8000 x");
        cr_assert(!strncmp(r, "OK 8000 ", 8), "%s", r);
    }
    cr_assert(seen_a && seen_b, "connects reached only one sharer (a %d, b %d)", seen_a, seen_b);
}

Test(unix, a_listener_inherited_over_exec_keeps_its_inet_names)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (access("/usr/bin/python3", X_OK))
        e2e_skip("needs /usr/bin/python3");
    /* bind in one program, exec another that only has the descriptor */
    const char *server =
        "import os, socket, sys\n"
        "if len(sys.argv) == 1:\n"
        "    s = socket.socket(socket.AF_INET6)\n"
        "    s.bind(('::', 8000)); s.listen(8)\n"
        "    os.set_inheritable(s.fileno(), True)\n"
        "    os.execv(sys.executable, [sys.executable, __file__, str(s.fileno())])\n"
        "s = socket.socket(fileno=int(sys.argv[1]))\n"
        "print('NAME', s.getsockname()[:2], s.family == socket.AF_INET6,\n"
        "      s.proto == socket.IPPROTO_TCP, flush=True)\n"
        "c, peer = s.accept()\n"
        "print('PEER', peer[0], peer[1] == int(c.recv(100).decode()), flush=True)\n";
    e2e_write_file(e2e_path("inherit.py"), server, false);
    struct e2e_proc *s = e2e_startl(&env, "/usr/bin/python3", e2e_path("inherit.py"));
    const char *name = e2e_expect(s, "NAME ", E2E_MS);
    cr_assert(name, "%s", e2e_describe(s));
    cr_assert_str_eq(name, "('::', 8000) True True", "%s", e2e_describe(s));
    const char *client =
        "import socket\n"
        "c = socket.create_connection(('127.0.0.1', 8000), timeout=10)\n"
        "c.sendall(str(c.getsockname()[1]).encode())\n"
        "c.close()\n";
    struct e2e_proc *c = e2e_runl(&env, E2E_MS, "/usr/bin/python3", "-c", client);
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    const char *peer = e2e_expect(s, "PEER ", E2E_MS);
    cr_assert(peer, "%s", e2e_describe(s));
    cr_assert_str_eq(peer, "::ffff:127.0.0.1 True", "%s", e2e_describe(s));
}

Test(unix, a_listener_inherited_over_exec_takes_tcp_options)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (access("/usr/bin/python3", X_OK))
        e2e_skip("needs /usr/bin/python3");
    const char *prog =
        "import os, socket, sys\n"
        "T = socket.IPPROTO_TCP\n"
        "if len(sys.argv) == 1:\n"
        "    s = socket.socket()\n"
        "    s.bind(('127.0.0.1', 8000)); s.listen(8)\n"
        "    os.set_inheritable(s.fileno(), True)\n"
        "    os.execv(sys.executable, [sys.executable, __file__, str(s.fileno())])\n"
        "s = socket.socket(fileno=int(sys.argv[1]))\n"
        "idle = s.getsockopt(T, socket.TCP_KEEPIDLE)\n"
        "s.setsockopt(T, socket.TCP_NODELAY, 1)\n"
        "print('OPTS', idle, s.getsockopt(T, socket.TCP_NODELAY), flush=True)\n";
    e2e_write_file(e2e_path("inherit.py"), prog, false);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, "/usr/bin/python3", e2e_path("inherit.py"));
    cr_assert_str_eq(line_of(p, "OPTS "), "7200 1", "%s", e2e_describe(p));
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
}

Test(unix, a_listener_closed_by_exec_frees_its_port_for_the_new_program)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (access("/usr/bin/python3", X_OK))
        e2e_skip("needs /usr/bin/python3");
    /* FD_CLOEXEC closes the listener with no close call; the pid lives on */
    const char *prog =
        "import errno, os, socket, sys\n"
        "s = socket.socket()\n"
        "try:\n"
        "    s.bind(('127.0.0.1', 8000)); s.listen(8); r = 'ok'\n"
        "except OSError as e:\n"
        "    r = errno.errorcode.get(e.errno)\n"
        "if len(sys.argv) == 1:\n"
        "    os.execv(sys.executable, [sys.executable, __file__, 'again'])\n"
        "print('REBIND', r, flush=True)\n";
    e2e_write_file(e2e_path("reexec.py"), prog, false);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, "/usr/bin/python3", e2e_path("reexec.py"));
    cr_assert_str_eq(line_of(p, "REBIND "), "ok", "%s", e2e_describe(p));
}

Test(unix, portshim_port_does_not_hand_out_a_socket_file_nobody_listens_on)
{
    struct e2e_ns ns;
    struct e2e_env env, plain;
    shimmed(&ns, &env, NULL);
    e2e_env_plain(&plain);
    if (access("/usr/bin/python3", X_OK))
        e2e_skip("needs /usr/bin/python3");
    /* FD_CLOEXEC closes the listener at the exec with no close call: the
     * pid lives on and the socket file stays, listened on by none. */
    const char *prog =
        "import os, socket, sys, time\n"
        "if len(sys.argv) == 1:\n"
        "    s = socket.socket(); s.bind(('127.0.0.1', 8000)); s.listen(8)\n"
        "    print('LISTENING', flush=True)\n"
        "    sys.stdin.readline()\n"
        "    os.execv(sys.executable, [sys.executable, __file__, 'again'])\n"
        "print('EXECED', flush=True)\n"
        "sys.stdin.readline()\n";
    e2e_write_file(e2e_path("closed-by-exec.py"), prog, false);
    struct e2e_proc *s = e2e_startl(&env, "/usr/bin/python3", e2e_path("closed-by-exec.py"));
    cr_assert(e2e_expect(s, "LISTENING", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *p = e2e_runl(&plain, E2E_MS, e2e_portshim(), "port", "--manifest",
                                  ns.manifest, "8000");
    cr_assert_eq(e2e_status(p), 0, "while it listens: %s", e2e_describe(p));
    char file[640];
    snprintf(file, sizeof file, "%s", e2e_out(p));
    chomp(file);
    cr_assert_eq(write(s->in, "\n", 1), 1);
    cr_assert(e2e_expect(s, "EXECED", E2E_MS), "%s", e2e_describe(s));
    cr_assert_eq(access(file, F_OK), 0, "the socket file %s stays behind", file);
    p = e2e_runl(&plain, E2E_MS, e2e_portshim(), "port", "--manifest", ns.manifest, "8000");
    cr_assert_eq(e2e_status(p), 1, "a socket file nobody listens on is no listener: %s",
                 e2e_describe(p));
    e2e_close_stdin(s);
    cr_assert(e2e_wait(s, E2E_MS), "%s", e2e_describe(s));
}

Test(unix, a_bound_socket_that_dials_outside_the_namespace_goes_back_to_tcp)
{
    struct e2e_ns ns;
    struct e2e_env env, plain;
    shimmed(&ns, &env, NULL);
    e2e_env_plain(&plain);
    int q = e2e_free_port(SOCK_STREAM), mine = e2e_free_port(SOCK_STREAM);
    char port[8];
    snprintf(port, sizeof port, "%d", q);
    struct e2e_proc *s = e2e_startl(&plain, "echo-server", "127.0.0.1", port, "--name", "outside");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int fd = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 %d", fd, mine), "OK");
    cr_assert(is_socket(e2e_path("ns/%d@127.0.0.1", mine)), "the bind was not swapped");
    cr_assert_str_eq(e2e_cmd(p, "connect %d 127.0.0.1 %d", fd, q), "OK");
    char want[64];
    snprintf(want, sizeof want, "OK 127.0.0.1 %d", mine);
    cr_assert_str_eq(e2e_cmd(p, "name %d", fd), want, "bound for real where it asked");
    cr_assert_str_eq(e2e_cmd(p, "send %d hello", fd), "OK");
    snprintf(want, sizeof want, "OK outside %d hello", q);
    cr_assert_str_eq(e2e_cmd(p, "recv %d", fd), want);
}

Test(unix, servers_and_clients_split_across_fork_exec_and_spawn_work_and_clean_up)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    const char *modes[] = {"fork-client", "exec-client", "spawn-client", "vfork-client",
                           "fork-bind",   "inherit",     "fork-threads"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char port[8];
        snprintf(port, sizeof port, "%zu", 8000 + 200 * i);
        struct e2e_proc *p = e2e_runl(&env, 60000, "forker", modes[i], "127.0.0.1", port, "srv",
                                      e2e_helper("client"));
        cr_assert_eq(e2e_status(p), 0, "%s:\n%s", modes[i], e2e_describe(p));
        /* the last holder took the socket file with it */
        const char *path = e2e_path("ns/%s@127.0.0.1", port);
        cr_assert_not(exists(path), "%s: %s is left behind", modes[i], path);
    }
}
