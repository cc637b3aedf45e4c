/* remap.c — the namespace semantics of remap mode, end to end.
 *
 * docs/design.md "How a bind is claimed" and "How a connect is routed": binds are remapped and names stay
 * virtual, kernel bind rules hold inside the namespace, claims are atomic,
 * close and exit release, connects are routed exactly as the kernel would
 * route them, everything else is untouched and errnos are the kernel's.
 * Virtual ports (8000, ...) are hard-coded on purpose: under the shim each
 * test has its own namespace, which is the point. */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(remap, .init = e2e_setup, .fini = e2e_teardown, .timeout = 90);
TestSuite(route, .init = e2e_setup, .fini = e2e_teardown, .timeout = 90);
TestSuite(passthrough, .init = e2e_setup, .fini = e2e_teardown, .timeout = 90);

/* A fresh namespace and an environment preloading the shim into it. */
static void shimmed(struct e2e_ns *ns, struct e2e_env *env, const char *ports)
{
    e2e_need_lib();
    e2e_ns_new(ns, "ns");
    e2e_env_shim(env, ns, "remap", ports);
}

/* Starts an echo-server and waits for its READY line; returns the port
 * getsockname() reported. */
static int serve(struct e2e_proc **out, const struct e2e_env *env, const char *addr,
                 const char *port, const char *name, const char *opt, const char *val)
{
    const char *argv[8] = {"echo-server", addr, port, "--name", name};
    int n = 5;
    if (opt)
        argv[n++] = opt;
    if (opt && val)
        argv[n++] = val;
    argv[n] = NULL;
    struct e2e_proc *s = e2e_start(env, argv);
    const char *r = e2e_expect(s, "READY ", E2E_MS);
    cr_assert(r, "%s on %s:%s did not get ready:\n%s", name, addr, port, e2e_describe(s));
    if (out)
        *out = s;
    return atoi(r);
}

/* One echo request from a shimmed client process: its exit status; the
 * reply line (after "REPLY ") and the getpeername port it printed. */
struct dial {
    int status;
    char reply[512];
    int peer;
    const char *describe;
};

static struct dial dial(const struct e2e_env *env, const char *addr, const char *port)
{
    struct dial d = {.peer = -1};
    struct e2e_proc *c = e2e_runl(env, E2E_MS, "client", addr, port, "hello");
    d.status = e2e_status(c);
    d.describe = e2e_describe(c);
    const char *r = e2e_expect(c, "REPLY ", 0);
    snprintf(d.reply, sizeof d.reply, "%s", r ? r : "");
    const char *p = e2e_expect(c, "PEER ", 0);
    d.peer = p ? atoi(p) : -1;
    return d;
}

/* binder once, no gate: its exit status (0 bound, 1 EADDRINUSE). */
static int try_bind(const struct e2e_env *env, const char *addr, const char *port,
                    const char **describe)
{
    struct e2e_proc *b = e2e_runl(env, E2E_MS, "binder", addr, port, "--listen");
    if (describe)
        *describe = e2e_describe(b);
    return e2e_status(b);
}

/* Lines of text starting with prefix. */
static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        n += !strncmp(l, prefix, pl);
    return n;
}

/* ---- bind P != 0 is remapped; getsockname reports P ---------------------- */

static void bind_is_remapped(const char *addr, const char *dial_addr)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (strchr(addr, ':') && !e2e_have_ipv6())
        e2e_skip("IPv6 loopback is not available here");
    int reported = serve(NULL, &env, addr, "8000", "srv", NULL, NULL);
    cr_assert_eq(reported, 8000, "getsockname() on %s:8000 reported port %d", addr, reported);

    int real = e2e_real_port(ns.manifest, 8000, E2E_MS);
    cr_assert(real > 0, "no live mapping of 8000 in the manifest:\n%s", e2e_slurp(ns.manifest));
    cr_assert_neq(real, 8000, "the real port is the virtual one: nothing was remapped");
    char reply[256];
    int rc = e2e_request(dial_addr, real, "outside", reply, sizeof reply);
    cr_assert_eq(rc, 0, "nothing really listens on %s:%d (the real port): %s", dial_addr, real,
                 strerror(-rc));
    cr_assert(!strncmp(reply, "srv ", 4), "the real port answered '%s', not our server", reply);
}

Test(remap, bind_on_v4_loopback_reports_virtual_port_and_listens_on_a_real_one)
{
    bind_is_remapped("127.0.0.1", "127.0.0.1");
}

Test(remap, bind_on_v4_wildcard_reports_virtual_port_and_listens_on_a_real_one)
{
    bind_is_remapped("0.0.0.0", "127.0.0.1");
}

Test(remap, bind_on_v6_loopback_reports_virtual_port_and_listens_on_a_real_one)
{
    bind_is_remapped("::1", "::1");
}

Test(remap, bind_on_v6_wildcard_reports_virtual_port_and_listens_on_a_real_one)
{
    bind_is_remapped("::", "::1");
}

/* ---- accepted and routed sockets report the virtual port ----------------- */

Test(remap, accepted_and_routed_sockets_report_the_virtual_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    serve(NULL, &env, "127.0.0.1", "8000", "srv", NULL, NULL);
    struct dial d = dial(&env, "127.0.0.1", "8000");
    cr_assert_eq(d.status, 0, "client failed:\n%s", d.describe);
    /* the server answers "NAME <getsockname port of the accepted socket> TEXT" */
    cr_assert_str_eq(d.reply, "srv 8000 hello",
                     "accepted socket's getsockname() is not the virtual port:\n%s", d.describe);
    cr_assert_eq(d.peer, 8000, "routed client's getpeername() reported %d, want 8000", d.peer);

    /* the same through sockctl: getpeername on a connected socket, twice */
    struct e2e_proc *c = e2e_startl(&env, "sockctl");
    int fd = e2e_cmd_fd(c, "tcp4");
    cr_assert_str_eq(e2e_cmd(c, "connect %d 127.0.0.1 8000", fd), "OK");
    const char *peer = e2e_cmd(c, "peer %d", fd);
    cr_assert_str_eq(peer, "OK 127.0.0.1 8000", "getpeername: %s", peer);
}

Test(remap, accepted_and_routed_v6_sockets_report_the_virtual_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (!e2e_have_ipv6())
        e2e_skip("IPv6 loopback is not available here");
    serve(NULL, &env, "::1", "8000", "srv6", NULL, NULL);
    struct dial d = dial(&env, "::1", "8000");
    cr_assert_eq(d.status, 0, "client failed:\n%s", d.describe);
    cr_assert_str_eq(d.reply, "srv6 8000 hello", "%s", d.describe);
    cr_assert_eq(d.peer, 8000, "getpeername() reported %d", d.peer);
}

/* ---- kernel bind rules inside the namespace ------------------------------- */

Test(remap, second_bind_of_live_virtual_port_fails_with_eaddrinuse)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    serve(NULL, &env, "127.0.0.1", "8000", "first", NULL, NULL);
    const char *why;
    int st = try_bind(&env, "127.0.0.1", "8000", &why);
    cr_assert_eq(st, 1, "a second process's bind of live 8000 did not fail with EADDRINUSE:\n%s",
                 why);
    cr_assert(strstr(why, "ERR EADDRINUSE"), "%s", why);
    struct dial d = dial(&env, "127.0.0.1", "8000");
    cr_assert_eq(d.status, 0, "the first listener stopped serving:\n%s", d.describe);
    cr_assert_str_eq(d.reply, "first 8000 hello", "%s", d.describe);
}

Test(remap, second_bind_in_the_same_process_fails_with_eaddrinuse)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", a), "OK");
    int b = e2e_cmd_fd(p, "tcp4");
    const char *r = e2e_cmd(p, "bind %d 127.0.0.1 8000", b);
    cr_assert_str_eq(r, "ERR EADDRINUSE", "second bind in one process answered '%s'", r);
    cr_assert_str_eq(e2e_cmd(p, "serve %d first", a), "OK");
    r = e2e_cmd(p, "talk 127.0.0.1 8000 again");
    cr_assert_str_eq(r, "OK 8000 first 8000 again", "the first listener: '%s'", r);
}

Test(remap, bind_under_live_wildcard_fails_with_eaddrinuse)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    serve(NULL, &env, "0.0.0.0", "8000", "any", NULL, NULL);
    const char *why;
    cr_assert_eq(try_bind(&env, "127.0.0.1", "8000", &why), 1,
                 "127.0.0.1:8000 under a live 0.0.0.0:8000 must be EADDRINUSE:\n%s", why);
}

Test(remap, v4_bind_under_live_dual_stack_listener_fails_with_eaddrinuse)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (!e2e_have_ipv6())
        e2e_skip("IPv6 loopback is not available here");
    serve(NULL, &env, "::", "8000", "dual", "--v6only", "0");
    const char *why;
    cr_assert_eq(try_bind(&env, "0.0.0.0", "8000", &why), 1,
                 "0.0.0.0:8000 beside a dual-stack [::]:8000 must be EADDRINUSE:\n%s", why);
    cr_assert_eq(try_bind(&env, "127.0.0.1", "8000", &why), 1,
                 "127.0.0.1:8000 beside a dual-stack [::]:8000 must be EADDRINUSE:\n%s", why);
}

Test(remap, v4_bind_beside_live_v6only_listener_binds)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    if (!e2e_have_ipv6())
        e2e_skip("IPv6 loopback is not available here");
    serve(NULL, &env, "::", "8000", "six", "--v6only", "1");
    serve(NULL, &env, "0.0.0.0", "8000", "four", NULL, NULL);
    struct dial d4 = dial(&env, "127.0.0.1", "8000");
    struct dial d6 = dial(&env, "::1", "8000");
    cr_assert_str_eq(d4.reply, "four 8000 hello", "%s", d4.describe);
    cr_assert_str_eq(d6.reply, "six 8000 hello", "%s", d6.describe);
}

Test(remap, reuseaddr_on_both_with_first_not_listening_binds)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "opt %d reuseaddr 1", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");

    struct e2e_proc *y = e2e_startl(&env, "sockctl");
    int b = e2e_cmd_fd(y, "tcp4");
    cr_assert_str_eq(e2e_cmd(y, "opt %d reuseaddr 1", b), "OK");
    const char *r = e2e_cmd(y, "bind %d 127.0.0.1 8000", b);
    cr_assert_str_eq(r, "OK", "SO_REUSEADDR on both, first not listening: bind answered '%s'", r);
    cr_assert_str_eq(e2e_cmd(y, "listen %d", b), "OK");
    cr_assert_str_eq(e2e_cmd(y, "serve %d second", b), "OK");
    struct dial d = dial(&env, "127.0.0.1", "8000");
    cr_assert_str_eq(d.reply, "second 8000 hello", "the listening one must answer:\n%s",
                     d.describe);
    /* and, as on Linux, the first may no longer listen */
    r = e2e_cmd(x, "listen %d", a);
    cr_assert_str_eq(r, "ERR EADDRINUSE", "listen on the first answered '%s'", r);
}

Test(remap, reuseaddr_with_first_listening_fails_with_eaddrinuse)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "opt %d reuseaddr 1", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "listen %d", a), "OK");
    struct e2e_proc *y = e2e_startl(&env, "sockctl");
    int b = e2e_cmd_fd(y, "tcp4");
    cr_assert_str_eq(e2e_cmd(y, "opt %d reuseaddr 1", b), "OK");
    const char *r = e2e_cmd(y, "bind %d 127.0.0.1 8000", b);
    cr_assert_str_eq(r, "ERR EADDRINUSE", "SO_REUSEADDR with a listening first: '%s'", r);
}

Test(remap, reuseport_on_both_shares_the_port_and_both_serve)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    serve(NULL, &env, "127.0.0.1", "8000", "A", "--reuseport", NULL);
    struct e2e_proc *b = e2e_startl(&env, "echo-server", "127.0.0.1", "8000", "--name", "B",
                                    "--reuseport");
    const char *r = e2e_expect(b, "READY ", E2E_MS);
    cr_assert(r, "SO_REUSEPORT on both: the second bind failed:\n%s", e2e_describe(b));
    cr_assert_eq(atoi(r), 8000);

    /* the kernel spreads connections by hash of the 4-tuple: 64 connections
     * from 64 source ports all landing on one socket has odds of 2^-63 */
    struct e2e_proc *c = e2e_runl(&env, 30000, "client", "127.0.0.1", "8000", "x", "--repeat",
                                  "64");
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    const char *out = e2e_out(c);
    cr_assert(strstr(out, "REPLY A 8000 x"), "A never answered:\n%s", e2e_describe(c));
    cr_assert(strstr(out, "REPLY B 8000 x"), "B never answered:\n%s", e2e_describe(c));
}

Test(remap, reuseport_on_one_side_only_fails_with_eaddrinuse)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    serve(NULL, &env, "127.0.0.1", "8000", "A", "--reuseport", NULL);
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "echo-server", "127.0.0.1", "8000", "--name",
                                  "B");
    cr_assert_eq(e2e_status(b), 1, "without SO_REUSEPORT on the second: %s", e2e_describe(b));
}

Test(remap, different_addresses_on_the_same_port_both_bind)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    serve(NULL, &env, "127.0.0.1", "8000", "one", NULL, NULL);
    serve(NULL, &env, "127.0.0.2", "8000", "two", NULL, NULL);
    struct dial d1 = dial(&env, "127.0.0.1", "8000");
    struct dial d2 = dial(&env, "127.0.0.2", "8000");
    cr_assert_str_eq(d1.reply, "one 8000 hello", "%s", d1.describe);
    cr_assert_str_eq(d2.reply, "two 8000 hello", "%s", d2.describe);
}

/* ---- claiming is atomic across processes ----------------------------------- */

Test(remap, claiming_a_port_is_atomic_across_processes)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    /* 20 binders released at one instant; the winner holds the port until
     * every one has reported */
    struct e2e_proc *p = e2e_runl(&env, 60000, "spawnmany", "20", "--hold", "--",
                                  e2e_helper("binder"), "127.0.0.1", "8000", "--listen", "--gate",
                                  "--hold");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *out = e2e_out(p);
    int ok = count_lines(out, "OK 8000"), inuse = count_lines(out, "ERR EADDRINUSE");
    cr_assert(!strstr(out, "TIMEOUT"), "%s", e2e_describe(p));
    cr_assert_eq(ok, 1, "%d of 20 racing binds of 8000 succeeded (want exactly 1):\n%s", ok,
                 e2e_describe(p));
    cr_assert_eq(inuse, 19, "%d of 19 losers saw EADDRINUSE:\n%s", inuse, e2e_describe(p));
}

/* ---- close and exit release ------------------------------------------------- */

Test(remap, close_releases_the_virtual_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "listen %d", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "close %d", a), "OK");
    /* the same process binds it again */
    int b = e2e_cmd_fd(x, "tcp4");
    const char *r = e2e_cmd(x, "bind %d 127.0.0.1 8000", b);
    cr_assert_str_eq(r, "OK", "rebind after close in the same process: '%s'", r);
    cr_assert_str_eq(e2e_cmd(x, "listen %d", b), "OK");
    cr_assert_str_eq(e2e_cmd(x, "close %d", b), "OK");
    /* and another process too */
    const char *why;
    cr_assert_eq(try_bind(&env, "127.0.0.1", "8000", &why), 0,
                 "rebind from another process after close:\n%s\nmanifest:\n%s", why,
                 e2e_slurp(ns.manifest));
}

Test(remap, exit_releases_the_virtual_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "listen %d", a), "OK");
    e2e_cmd(x, "exit 0");
    cr_assert(e2e_wait(x, E2E_MS) && e2e_status(x) == 0, "%s", e2e_describe(x));
    const char *why;
    cr_assert_eq(try_bind(&env, "127.0.0.1", "8000", &why), 0,
                 "rebind after the holder exited:\n%s\nmanifest:\n%s", why,
                 e2e_slurp(ns.manifest));
}

Test(remap, sigkill_of_the_holder_releases_the_virtual_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "listen %d", a), "OK");
    e2e_kill(x, SIGKILL);
    e2e_wait(x, E2E_MS);
    cr_assert(WIFSIGNALED(x->status), "sockctl was not killed");

    struct e2e_proc *y = e2e_startl(&env, "sockctl");
    int b = e2e_cmd_fd(y, "tcp4");
    const char *r = e2e_cmd(y, "bind %d 127.0.0.1 8000", b);
    cr_assert_str_eq(r, "OK", "rebind after SIGKILL of the holder: '%s'\nmanifest:\n%s", r,
                     e2e_slurp(ns.manifest));
    cr_assert_str_eq(e2e_cmd(y, "listen %d", b), "OK");
    cr_assert_str_eq(e2e_cmd(y, "serve %d heir", b), "OK");
    struct dial d = dial(&env, "127.0.0.1", "8000");
    cr_assert_str_eq(d.reply, "heir 8000 hello", "%s", d.describe);
}

Test(remap, duplicated_listener_keeps_its_virtual_identity)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "listen %d", a), "OK");
    int d1 = e2e_cmd_fd(x, "dup %d", a);
    int d2 = e2e_cmd_fd(x, "dup2 %d 40", a);
    int d3 = e2e_cmd_fd(x, "dup3 %d 41", a);
    int d4 = e2e_cmd_fd(x, "fcntl %d", a);
    int dups[] = {d1, d2, d3, d4};
    for (int i = 0; i < 4; i++) {
        const char *r = e2e_cmd(x, "name %d", dups[i]);
        cr_assert_str_eq(r, "OK 127.0.0.1 8000", "getsockname of duplicate %d: '%s'", dups[i], r);
    }
    /* closing the original keeps the port: the duplicates still hold it */
    cr_assert_str_eq(e2e_cmd(x, "close %d", a), "OK");
    for (int i = 1; i < 4; i++)
        cr_assert_str_eq(e2e_cmd(x, "close %d", dups[i]), "OK");
    const char *why;
    cr_assert_eq(try_bind(&env, "127.0.0.1", "8000", &why), 1,
                 "8000 was released while a duplicate still listens:\n%s", why);
    cr_assert_str_eq(e2e_cmd(x, "serve %d dup", d1), "OK");
    struct dial d = dial(&env, "127.0.0.1", "8000");
    cr_assert_str_eq(d.reply, "dup 8000 hello", "%s", d.describe);
}

/* ---- routing: a connect reaches a listener exactly when the kernel's would */

/* Runs the case twice: unshimmed on a kernel-chosen port (what the kernel
 * does) and shimmed on virtual 8000; both must match the expectation. */
static void route_case(const char *listen_addr, const char *v6only, const char *dial_addr,
                       bool reaches)
{
    e2e_need_lib();
    if ((strchr(listen_addr, ':') || strchr(dial_addr, ':')) && !e2e_have_ipv6())
        e2e_skip("IPv6 loopback is not available here");

    struct e2e_env plain;
    e2e_env_plain(&plain);
    char real[16];
    snprintf(real, sizeof real, "%d",
             serve(NULL, &plain, listen_addr, "0", "kernel", v6only ? "--v6only" : NULL, v6only));
    struct dial k = dial(&plain, dial_addr, real);
    bool ours = !strncmp(k.reply, "kernel ", 7);
    if (!reaches && k.status == 0 && !ours)
        /* the kernel gave our listener a port that an unrelated socket of
         * the other family also uses, and the dial reached that one */
        cr_log_warn("self-check inconclusive: %s:%s reached a foreign listener", dial_addr,
                    real);
    else
        cr_assert(k.status == (reaches ? 0 : 3) && (!reaches || ours),
                  "self-check without the shim: %s -> %s listener: %s", dial_addr, listen_addr,
                  k.describe);

    /* refusals are checked with 8000 declared strictly virtual, so that a
     * pass-through can never reach something outside either */
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, reaches ? NULL : "8000");
    serve(NULL, &env, listen_addr, "8000", "srv", v6only ? "--v6only" : NULL, v6only);
    struct dial d = dial(&env, dial_addr, "8000");
    if (reaches) {
        cr_assert_eq(d.status, 0, "%s -> %s listener must connect:\n%s\nmanifest:\n%s", dial_addr,
                     listen_addr, d.describe, e2e_slurp(ns.manifest));
        cr_assert_str_eq(d.reply, "srv 8000 hello", "%s", d.describe);
        cr_assert_eq(d.peer, 8000);
    } else {
        cr_assert_eq(d.status, 3, "%s -> %s listener must be ECONNREFUSED:\n%s\nmanifest:\n%s",
                     dial_addr, listen_addr, d.describe, e2e_slurp(ns.manifest));
    }
}

Test(route, v4_client_reaches_v4_wildcard_listener)
{
    route_case("0.0.0.0", NULL, "127.0.0.1", true);
}

Test(route, v4_client_reaches_v4_loopback_listener)
{
    route_case("127.0.0.1", NULL, "127.0.0.1", true);
}

Test(route, other_loopback_address_is_refused_by_a_specific_listener)
{
    route_case("127.0.0.1", NULL, "127.0.0.2", false);
}

Test(route, other_loopback_address_reaches_a_wildcard_listener)
{
    route_case("0.0.0.0", NULL, "127.0.0.2", true);
}

Test(route, v6_client_reaches_v6_wildcard_listener)
{
    route_case("::", NULL, "::1", true);
}

Test(route, v6_client_reaches_v6_loopback_listener)
{
    route_case("::1", NULL, "::1", true);
}

Test(route, v4_client_reaches_dual_stack_listener)
{
    route_case("::", "0", "127.0.0.1", true);
}

Test(route, v4_client_is_refused_by_v6only_listener)
{
    route_case("::", "1", "127.0.0.1", false);
}

Test(route, v4_mapped_client_reaches_v4_listener)
{
    route_case("127.0.0.1", NULL, "::ffff:127.0.0.1", true);
}

Test(route, v4_mapped_client_reaches_dual_stack_listener)
{
    route_case("::", "0", "::ffff:127.0.0.1", true);
}

Test(route, v6_client_is_refused_by_v4_listener)
{
    route_case("127.0.0.1", NULL, "::1", false);
}

Test(route, v6_client_is_refused_by_v4_wildcard_listener)
{
    route_case("0.0.0.0", NULL, "::1", false);
}

Test(route, v4_client_is_refused_by_v6_loopback_listener)
{
    route_case("::1", NULL, "127.0.0.1", false);
}

/* ---- pass-through and --ports ---------------------------------------------- */


Test(passthrough, connect_to_port_without_namespace_listener_reaches_outside_server)
{
    struct e2e_ns ns;
    struct e2e_env env, plain;
    shimmed(&ns, &env, NULL);
    e2e_env_plain(&plain);
    char real[16];
    snprintf(real, sizeof real, "%d", serve(NULL, &plain, "127.0.0.1", "0", "outside", NULL, NULL));
    struct dial d = dial(&env, "127.0.0.1", real);
    cr_assert_eq(d.status, 0, "shimmed client could not reach an outside server on %s:\n%s", real,
                 d.describe);
    char want[64];
    snprintf(want, sizeof want, "outside %s hello", real);
    cr_assert_str_eq(d.reply, want, "%s", d.describe);
}

Test(passthrough, declared_port_without_listener_is_refused_even_if_outside_listens)
{
    struct e2e_ns ns;
    struct e2e_env env, plain;
    e2e_env_plain(&plain);
    char real[16];
    snprintf(real, sizeof real, "%d", serve(NULL, &plain, "127.0.0.1", "0", "outside", NULL, NULL));
    char spec[64];
    snprintf(spec, sizeof spec, "7999,%s", real);
    shimmed(&ns, &env, spec);
    struct dial d = dial(&env, "127.0.0.1", real);
    cr_assert_eq(d.status, 3,
                 "port %s is declared (PORTSHIM_PORTS=%s): with no namespace listener the "
                 "connect must be ECONNREFUSED, not reach the outside server:\n%s",
                 real, spec, d.describe);
}

Test(passthrough, ports_outside_the_declared_spec_are_untouched)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, "8000-8010");
    /* a declared port is still remapped */
    cr_assert_eq(serve(NULL, &env, "127.0.0.1", "8000", "virtual", NULL, NULL), 8000);
    int real8000 = e2e_real_port(ns.manifest, 8000, E2E_MS);
    cr_assert(real8000 > 0 && real8000 != 8000, "8000 is declared and must be remapped: %d",
              real8000);

    /* an undeclared one is really bound: the test itself can dial it */
    struct e2e_proc *s = NULL;
    int q = -1;
    for (int attempt = 0; attempt < 5 && q < 0; attempt++) {
        char port[16];
        snprintf(port, sizeof port, "%d", e2e_free_port(SOCK_STREAM));
        s = e2e_startl(&env, "echo-server", "127.0.0.1", port, "--name", "plain");
        const char *r = e2e_expect(s, "READY ", E2E_MS);
        if (r) {
            cr_assert_str_eq(r, port, "getsockname of an untouched port");
            q = atoi(port);
        } else {
            e2e_wait(s, E2E_MS);
            cr_assert_eq(e2e_status(s), 1, "%s", e2e_describe(s)); /* taken meanwhile: retry */
        }
    }
    cr_assert(q > 0, "no free port to test with after 5 attempts");
    char reply[256];
    int rc = e2e_request("127.0.0.1", q, "direct", reply, sizeof reply);
    cr_assert_eq(rc, 0, "an undeclared port %d was not really bound: %s", q, strerror(-rc));
    cr_assert(!strncmp(reply, "plain ", 6), "reply '%s'", reply);
}


/* ---- port 0 ----------------------------------------------------------------- */

Test(remap, bind_to_port_zero_is_recorded_with_the_kernel_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    int port = serve(NULL, &env, "127.0.0.1", "0", "zero", NULL, NULL);
    cr_assert(port > 0, "getsockname after bind to port 0 reported %d", port);
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const struct ps_event *b = e2e_last_bind(&ev, port);
    cr_assert(b, "no bind event with port %d (what getsockname reported):\n%s", port,
              e2e_slurp(ns.manifest));
    cr_assert_eq(b->rport, port, "port 0: the real port is the kernel's own (%d), got %d", port,
                 b->rport);
    e2e_events_free(&ev);
    char reply[256];
    cr_assert_eq(e2e_request("127.0.0.1", port, "x", reply, sizeof reply), 0,
                 "the kernel's port %d does not answer", port);
}

/* ---- errnos are the kernel's ---------------------------------------------- */

Test(remap, kernel_errors_are_preserved_for_malformed_addresses_and_bad_pointers_in_every_mode)
{
    struct e2e_ns ns;
    struct e2e_env env, plain;
    shimmed(&ns, &env, NULL);
    e2e_env_plain(&plain);
    struct e2e_proc *bare = e2e_runl(&plain, E2E_MS, "errcases", "8000");
    cr_assert_eq(e2e_status(bare), 0, "%s", e2e_describe(bare));
    const char *modes[] = {"remap", "observe", "unix"};
    for (int m = 0; m < 3; m++) {
        e2e_env_set(&env, "PORTSHIM_MODE", modes[m]);
        struct e2e_proc *shim = e2e_runl(&env, E2E_MS, "errcases", "8000");
        cr_assert_eq(e2e_status(shim), 0, "%s", e2e_describe(shim));
        /* line by line, so the message names the case that differs */
        char bl[256], sl[256];
        bare->opos = 0;
        while (e2e_line(bare, bl, sizeof bl, 0) == 0) {
            cr_assert_eq(e2e_line(shim, sl, sizeof sl, 0), 0, "%s: shimmed run stopped before '%s'",
                         modes[m], bl);
            cr_assert_str_eq(sl, bl, "%s: errno differs under the shim (want '%s', got '%s')",
                             modes[m], bl, sl);
        }
    }
    /* and the kernel's answers are the ones the contract names */
    const char *out = e2e_out(bare);
    cr_assert(strstr(out, "CASE bind_nonlocal_v4 EADDRNOTAVAIL\n"), "%s", out);
    cr_assert(strstr(out, "CASE bind_not_socket ENOTSOCK\n"), "%s", out);
    cr_assert(strstr(out, "CASE bind_bad_fd EBADF\n"), "%s", out);
    cr_assert(strstr(out, "CASE bind_null_addr EFAULT\n"), "%s", out);
    cr_assert(strstr(out, "CASE bind_short_len EINVAL\n"), "%s", out);
    cr_assert(strstr(out, "CASE bind_twice_same_socket EINVAL\n"), "%s", out);
    cr_assert(strstr(out, "CASE bind_v6_addr_on_v4_socket EAFNOSUPPORT\n"), "%s", out);
    cr_assert(strstr(out, "CASE bind_v4_addr_on_v6_socket EINVAL\n"), "%s", out);
    cr_assert(strstr(out, "CASE bind_len_1000 EINVAL\n"), "%s", out);
    cr_assert(strstr(out, "CASE bind_v4_mapped_on_v6only EINVAL\n"), "%s", out);
    cr_assert(strstr(out, "CASE connect_v4_mapped_on_v6only ENETUNREACH\n"), "%s", out);
    cr_assert(strstr(out, "CASE connect_routed_ok OK\n"), "%s", out);
    if (!strstr(out, "CASE bad_pointers skipped_under_asan\n")) {
        cr_assert(strstr(out, "CASE getpeername_len_prot_none EFAULT\n"), "%s", out);
        cr_assert(strstr(out, "CASE setsockopt_val_one EFAULT\n"), "%s", out);
    }
}

Test(remap, failed_bind_does_not_claim_the_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    /* a socket already bound cannot bind again (EINVAL); that must not
     * leave virtual 8000 claimed */
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 0", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "ERR EINVAL");
    const char *why;
    cr_assert_eq(try_bind(&env, "127.0.0.1", "8000", &why), 0,
                 "8000 stayed claimed after a failed bind:\n%s", why);
}

Test(remap, udp_bind_takes_a_fresh_real_port_that_outside_datagrams_reach)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int fd = e2e_cmd_fd(x, "udp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", fd), "OK");
    cr_assert_str_eq(e2e_cmd(x, "name %d", fd), "OK 127.0.0.1 8000");
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const struct ps_event *b = e2e_last_bind(&ev, 8000);
    cr_assert(b && b->proto == PS_PROTO_UDP && b->rport > 0 && b->rport != 8000,
              "a UDP bind of 8000 with a real port of its own:\n%s", e2e_slurp(ns.manifest));
    int q = b->rport;
    e2e_events_free(&ev);

    /* a datagram from the unshimmed test to the real port arrives */
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("127.0.0.1", q, &ss, &sl);
    cr_assert(sendto(s, "ping\n", 5, 0, (struct sockaddr *)&ss, sl) == 5);
    close(s);
    const char *r = e2e_cmd(x, "recv %d", fd);
    cr_assert_str_eq(r, "OK ping", "the datagram sent to real port %d: '%s'", q, r);
}

/* A live pid is no proof that the port is held: the socket may be closed
 * unseen (here by a raw close(2) the shim cannot see) while the process
 * lives on. A bound socket that never listened kept its port forever. */
Test(remap, bound_socket_closed_unseen_in_a_live_process_releases_its_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");
    struct e2e_proc *y = e2e_startl(&env, "sockctl");
    int b = e2e_cmd_fd(y, "tcp4");
    cr_assert_str_eq(e2e_cmd(y, "bind %d 127.0.0.1 8000", b), "ERR EADDRINUSE",
                     "the port is held while its socket is open");
    cr_assert_str_eq(e2e_cmd(x, "rawclose %d", a), "OK");
    const char *r = e2e_cmd(y, "bind %d 127.0.0.1 8000", b);
    cr_assert_str_eq(r, "OK", "bind after the holder's socket is gone: '%s'\nmanifest:\n%s", r,
                     e2e_slurp(ns.manifest));
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    cr_assert_eq(e2e_count(&ev, PS_EV_STALE, 1, -1), 1, "the old entry was not retired");
    e2e_events_free(&ev);
    cr_assert(!strncmp(e2e_cmd(x, "pid"), "OK ", 3), "the old holder lives on");
}

/* A bound socket that never listened, whose holder was SIGKILLed and its
 * pid handed to another process: the entry (forged here with a live pid
 * that holds no such socket) must not keep the port. */
Test(remap, entry_whose_live_pid_does_not_hold_its_socket_releases_its_port)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env, NULL);
    char line[512];
    snprintf(line, sizeof line,
             "{\"v\":1,\"ev\":\"bind\",\"ts\":1795312345.1,\"pid\":%d,\"prog\":\"gone\","
             "\"sid\":\"%d.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\","
             "\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":1,\"reuseaddr\":false,"
             "\"reuseport\":false,\"uid\":0,\"ino\":1}\n",
             (int)getpid(), (int)getpid());
    e2e_write_file(ns.manifest, line, false);
    struct e2e_proc *y = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(y), 0, "the forged entry kept the port: %s\nmanifest:\n%s",
                 e2e_describe(y), e2e_slurp(ns.manifest));

    /* without a recorded inode (an older writer) the live pid is trusted */
    char *noino = strstr(line, ",\"ino\":1");
    memmove(noino, noino + 8, strlen(noino + 8) + 1);
    e2e_write_file(ns.manifest, line, false);
    y = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(y), 1, "%s", e2e_describe(y));
}
