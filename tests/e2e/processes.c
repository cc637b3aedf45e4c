/* processes.c — the namespace across fork, exec, posix_spawn, vfork and
 * threads (docs/design.md "fork, exec, spawn, exit"), and many writers at
 * once (docs/manifest.md "Writing and reading"). */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(procs, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

static void shimmed(struct e2e_ns *ns, struct e2e_env *env)
{
    e2e_need_lib();
    e2e_ns_new(ns, "ns");
    e2e_env_shim(env, ns, "remap", NULL);
}

/* Runs forker MODE on 127.0.0.1:8000 under the shim; expects exit 0. */
static struct e2e_proc *forker(const char *mode, const char *name, struct e2e_ns *ns)
{
    struct e2e_env env;
    shimmed(ns, &env);
    struct e2e_proc *p = e2e_runl(&env, 30000, "forker", mode, "127.0.0.1", "8000", name,
                                  e2e_helper("client"));
    cr_assert_eq(e2e_status(p), 0, "forker %s failed:\n%s\nmanifest:\n%s", mode,
                 e2e_describe(p), e2e_slurp(ns->manifest));
    return p;
}

static void out_has(struct e2e_proc *p, const char *text)
{
    cr_assert(strstr(e2e_out(p), text), "want '%s' in the output:\n%s", text, e2e_describe(p));
}

Test(procs, forked_child_client_reaches_server_in_parent)
{
    struct e2e_ns ns;
    struct e2e_proc *p = forker("fork-client", "parent", &ns);
    out_has(p, "PARENT READY 8000\n");
    out_has(p, "CHILD REPLY parent 8000 CHILD\n");
    out_has(p, "CHILD PEER 8000\n");
}

Test(procs, execd_client_reaches_server_in_parent)
{
    struct e2e_ns ns;
    struct e2e_proc *p = forker("exec-client", "parent", &ns);
    out_has(p, "REPLY parent 8000 CHILD\n");
    out_has(p, "PEER 8000\n");
}

Test(procs, posix_spawned_client_reaches_server_in_parent)
{
    struct e2e_ns ns;
    struct e2e_proc *p = forker("spawn-client", "parent", &ns);
    out_has(p, "REPLY parent 8000 CHILD\n");
    out_has(p, "PEER 8000\n");
}

Test(procs, vforked_client_reaches_server_in_parent)
{
    struct e2e_ns ns;
    struct e2e_proc *p = forker("vfork-client", "parent", &ns);
    out_has(p, "REPLY parent 8000 CHILD\n");
    out_has(p, "PEER 8000\n");
}

Test(procs, child_binds_after_fork_and_parent_reaches_it)
{
    struct e2e_ns ns;
    struct e2e_proc *p = forker("fork-bind", "kid", &ns);
    out_has(p, "CHILD READY 8000\n");
    out_has(p, "PARENT REPLY kid 8000 PARENT\n");
    out_has(p, "PARENT PEER 8000\n");
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const struct ps_event *b = e2e_last_bind(&ev, 8000);
    cr_assert(b && b->rport > 0 && b->rport != 8000, "the child's bind was not remapped:\n%s",
              e2e_slurp(ns.manifest));
    e2e_events_free(&ev);
}

Test(procs, inherited_listener_keeps_its_virtual_name_in_the_child)
{
    struct e2e_ns ns;
    struct e2e_proc *p = forker("inherit", "kid", &ns);
    out_has(p, "CHILD NAME 8000\n");
    out_has(p, "PARENT CLOSED\n");
    /* the parent closed its copy: the child's copy still holds and serves 8000 */
    out_has(p, "PARENT REPLY kid 8000 PARENT\n");
}

Test(procs, listener_kept_by_a_child_serves_after_the_parent_exits)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env);
    struct e2e_proc *p = e2e_startl(&env, "forker", "orphan", "127.0.0.1", "8000", "orphan");
    cr_assert(e2e_expect(p, "CHILD PID ", E2E_MS), "%s", e2e_describe(p));
    cr_assert(strstr(p->reply, "NAME 8000"), "the child's getsockname: %s", p->reply);
    e2e_wait(p, E2E_MS);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));

    /* the binder is gone, its child holds the listener: 8000 is still live */
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
    cr_assert_eq(e2e_status(b), 1,
                 "8000 must still be held (EADDRINUSE) while the child listens:\n%s\n"
                 "manifest:\n%s",
                 e2e_describe(b), e2e_slurp(ns.manifest));
    struct e2e_proc *c = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(c), 0, "%s\nmanifest:\n%s", e2e_describe(c), e2e_slurp(ns.manifest));
    cr_assert(strstr(e2e_out(c), "REPLY orphan 8000 hello"), "%s", e2e_describe(c));
}

Test(procs, threads_bind_and_connect_concurrently)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env);
    struct e2e_proc *p = e2e_runl(&env, 60000, "threads", "127.0.0.1", "9000", "16", "20");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "THREADS ok=320 fail=0"), "%s", e2e_describe(p));
}

Test(procs, fork_while_threads_bind_leaves_no_lock_held)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env);
    struct e2e_proc *p = e2e_runl(&env, 60000, "forker", "fork-threads", "127.0.0.1", "9000",
                                  "x");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "PARENT FORKS ok=40 bad=0"), "%s", e2e_describe(p));
}

/* ---- many writers, one manifest ----------------------------------------------- */

Test(procs, two_hundred_processes_binding_at_once_leave_every_line_whole)
{
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env);
    enum { N = 200, BASE = 10000 };
    struct e2e_proc *p = e2e_runl(&env, 90000, "spawnmany", "200", "--hold", "--",
                                  e2e_helper("binder"), "127.0.0.1", "10000+{i}", "--listen",
                                  "--gate", "--hold");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "EXIT 0 200\n"), "not all 200 binders bound:\n%s",
              e2e_describe(p));

    /* every line decodes on its own; a blank line is not torn: a writer
     * whose last read caught another's line half-written starts its own
     * line with a newline (docs/manifest.md), which then stands alone */
    const char *text = e2e_slurp(ns.manifest);
    int lines = 0, torn = 0;
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        cr_assert(nl, "the manifest ends in a partial line: '%s'", l);
        struct ps_event e;
        if (nl > l && ps_event_decode(l, (size_t)(nl - l), &e) < 0) {
            torn++;
            cr_log_error("malformed line %d: %.*s", lines + 1, (int)(nl - l), l);
        }
        lines++;
        l = nl + 1;
    }
    cr_assert_eq(torn, 0, "%d of %d manifest lines are malformed", torn, lines);

    /* and none is lost: one bind, one listen and one close per binder */
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    cr_assert_eq(ev.bad, 0);
    static bool bound[N];
    int binds = 0, listens = 0, closes = 0;
    for (size_t i = 0; i < ev.n; i++) {
        const struct ps_event *e = &ev.v[i];
        if (e->ev == PS_EV_BIND && e->ok && e->port >= BASE && e->port < BASE + N) {
            cr_assert(!bound[e->port - BASE], "port %d bound twice", e->port);
            bound[e->port - BASE] = true;
            binds++;
        }
        listens += e->ev == PS_EV_LISTEN && e->ok;
        closes += e->ev == PS_EV_CLOSE;
    }
    cr_assert_eq(binds, N, "%d bind events of %d", binds, N);
    cr_assert_eq(listens, N, "%d listen events of %d", listens, N);
    cr_assert_eq(closes, N, "%d close events of %d", closes, N);
    e2e_events_free(&ev);
}

/* ---- programs that close every descriptor they did not open ----------------- */

/* A daemon's "close everything" (close_range, or close() in a loop) also
 * closes the shim's manifest descriptor: the shim must notice, reopen, and
 * lose no record — the closes of the program's own listeners included. */
Test(procs, closing_every_descriptor_loses_no_record)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        e2e_skip("/usr/bin/python3 is not installed");
    struct e2e_ns ns;
    struct e2e_env env;
    shimmed(&ns, &env);
    const char *script =
        "import socket, os\n"
        "a = socket.socket(); a.bind(('127.0.0.1', 8000)); a.listen()\n"
        "os.closerange(3, 4096)\n"                       /* close_range() */
        "b = socket.socket(); b.bind(('127.0.0.1', 8001)); b.listen()\n"
        "for fd in range(3, 4096):\n"                    /* close() one by one */
        "    if fd != b.fileno():\n"
        "        try: os.close(fd)\n"
        "        except OSError: pass\n"
        "c = socket.socket(); c.bind(('127.0.0.1', 8002)); c.listen()\n"
        "try:\n"
        "    d = socket.socket(); d.bind(('127.0.0.1', 8001)); print('REBOUND')\n"
        "except OSError as e: print('INUSE', e.errno)\n"
        "print('NAMES', b.getsockname()[1], c.getsockname()[1])\n";
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, "/usr/bin/python3", "-c", script);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "INUSE 98\n"), "live 8001 must still conflict:\n%s",
              e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "NAMES 8001 8002\n"), "%s", e2e_describe(p));
    /* Its only line names the holder of the refused 8001. */
    const char *err = e2e_err(p);
    int lines = 0;
    for (const char *q = err; (q = strstr(q, "portshim:")); q++)
        lines++;
    cr_assert(lines == 0 || (lines == 1 && strstr(err, "EADDRINUSE in this namespace, held by")),
              "the shim complained:\n%s", e2e_describe(p));

    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    cr_assert_eq(ev.bad, 0);
    for (int port = 8000; port <= 8002; port++)
        cr_assert_eq(e2e_count(&ev, PS_EV_BIND, 1, port), 1, "bind of %d not recorded", port);
    cr_assert_eq(e2e_count(&ev, PS_EV_BIND, 0, 8001), 1, "the refused bind is not recorded");
    /* 8000 closed by close_range, then 8001 and 8002 (and the refused
     * socket) at exit: a record for each of the three listeners at least */
    cr_assert_geq(e2e_count(&ev, PS_EV_CLOSE, -1, -1), 3, "closes were lost");
    e2e_events_free(&ev);
}
