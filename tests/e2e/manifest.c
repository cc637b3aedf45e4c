/* manifest.c — the manifest as a shared, hostile file: malformed lines
 * appended by someone else are skipped and routing keeps working
 * (docs/manifest.md "Writing and reading"). */
#include <criterion/criterion.h>
#include <fcntl.h>

#include "e2e.h"

TestSuite(manifest, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

Test(manifest, malformed_lines_in_a_live_manifest_are_skipped)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "remap", NULL);

    /* a long-lived process that has read the manifest before the garbage */
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "listen %d", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "serve %d A", a), "OK");

    int fd = open(ns.manifest, O_WRONLY | O_APPEND | O_CLOEXEC);
    cr_assert(fd >= 0);
    static const char *const garbage[] = {
        "garbage\n",
        "{not json at all\n",
        "[1,2,3]\n",
        "{\"v\":1,\"ev\":\"bind\",\"port\":\"eight thousand\"}\n",
        "{\"v\":99,\"ev\":\"bind\",\"ok\":true,\"port\":8001}\n",
        "{\"ev\":\"bind\",\"ok\":true}\n",
        "{\"v\":1,\"ev\":\"from-the-future\",\"ok\":true}\n",
        "\x01\x02\xff\xfe\n",
        "\n",
        "{\"v\":1,\"ev\":\"bind\",\"ts\":1,\"pid\":1,\"prog\":\"x\",\"sid\":\"1.1\",\"mode\":"
        "\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8001,\"raddr\":",
        "\n",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++)
        cr_assert(write_all(fd, garbage[i], strlen(garbage[i])) == 0);
    char longline[6000];
    memset(longline, 'x', sizeof longline - 2);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    cr_assert(write_all(fd, longline, strlen(longline)) == 0);
    close(fd);

    /* new binds after the garbage: a new process, and the old one */
    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8001", "--name", "B");
    cr_assert(e2e_expect(s, "READY 8001", E2E_MS), "%s", e2e_describe(s));
    int b = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8002", b), "OK");
    cr_assert_str_eq(e2e_cmd(x, "listen %d", b), "OK");
    cr_assert_str_eq(e2e_cmd(x, "serve %d C", b), "OK");

    const char *ports[] = {"8000", "8001", "8002"};
    const char *names[] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++) {
        struct e2e_proc *c = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", ports[i]);
        char want[64];
        snprintf(want, sizeof want, "REPLY %s %s hello\n", names[i], ports[i]);
        cr_assert_eq(e2e_status(c), 0, "%s\nmanifest:\n%s", e2e_describe(c),
                     e2e_slurp(ns.manifest));
        cr_assert(strstr(e2e_out(c), want), "%s", e2e_describe(c));
    }
    /* conflicts are still seen across the garbage */
    struct e2e_proc *d = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
    cr_assert_eq(e2e_status(d), 1, "%s", e2e_describe(d));
    d = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8001", "--listen");
    cr_assert_eq(e2e_status(d), 1, "%s", e2e_describe(d));

    /* nobody crashed */
    cr_assert(!strncmp(e2e_cmd(x, "pid"), "OK ", 3), "sockctl stopped answering: %s",
              e2e_describe(x));
    cr_assert(!x->exited && !s->exited, "a shimmed process died:\n%s\n%s", e2e_describe(x),
              e2e_describe(s));
}

/* The record a person reads when a test flakes: every call with its
 * program, pid, virtual and real endpoints, and who held a contested port. */
Test(manifest, remap_records_bind_listen_connect_close_and_failures)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "remap", NULL);
    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8000", "--count", "1");
    cr_assert(e2e_expect(s, "READY 8000", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
    cr_assert_eq(e2e_status(b), 1, "%s", e2e_describe(b));
    struct e2e_proc *c = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    e2e_wait(s, E2E_MS);
    cr_assert_eq(e2e_status(s), 0, "%s", e2e_describe(s));

    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const char *m = e2e_slurp(ns.manifest);
    cr_assert_eq(ev.bad, 0, "the library wrote malformed lines:\n%s", m);
    const struct ps_event *bind = NULL, *fail = NULL, *conn = NULL;
    bool listened = false, closed = false;
    char addr[PS_ADDRSTRLEN];
    for (size_t i = 0; i < ev.n; i++) {
        const struct ps_event *e = &ev.v[i];
        cr_assert_eq(e->v, 2, "%s", m);
        cr_assert(e->ts > 1e9 && e->pid > 0 && e->prog[0], "v/ts/pid/prog missing:\n%s", m);
        if (e->ev == PS_EV_BIND && e->ok && e->port == 8000)
            bind = e;
        else if (e->ev == PS_EV_BIND && !e->ok && e->port == 8000)
            fail = e;
        else if (e->ev == PS_EV_CONNECT && e->port == 8000)
            conn = e;
        else if (bind && e->ev == PS_EV_LISTEN && e->ok && !strcmp(e->sid, bind->sid))
            listened = true;
        else if (bind && e->ev == PS_EV_CLOSE && !strcmp(e->sid, bind->sid))
            closed = true;
    }
    cr_assert(bind, "no bind of 8000:\n%s", m);
    cr_assert_eq(bind->pid, s->pid, "%s", m);
    cr_assert_str_eq(bind->prog, "echo-server", "%s", m);
    cr_assert_str_eq(bind->mode, "remap", "%s", m);
    cr_assert(bind->sid[0], "the bind has no sid:\n%s", m);
    cr_assert_eq(bind->fam, AF_INET, "%s", m);
    cr_assert(bind->has_addr, "%s", m);
    cr_assert_str_eq(ps_addr_format(&bind->addr, addr), "127.0.0.1", "%s", m);
    cr_assert(bind->rport > 0 && bind->rport != 8000, "%s", m);
    cr_assert(listened, "no listen with the bind's sid %s:\n%s", bind->sid, m);
    cr_assert(closed, "no close with the bind's sid %s:\n%s", bind->sid, m);

    cr_assert(fail, "the failed bind is not recorded:\n%s", m);
    cr_assert_str_eq(fail->prog, "binder", "%s", m);
    cr_assert_eq(fail->err, EADDRINUSE, "%s", m);
    char holder[32];
    snprintf(holder, sizeof holder, "%d", (int)s->pid);
    cr_assert(strstr(fail->note, holder), "the note does not name the holder (pid %s):\n%s",
              holder, m);

    cr_assert(conn, "the routed connect is not recorded:\n%s", m);
    cr_assert_str_eq(conn->prog, "client", "%s", m);
    cr_assert(conn->ok && conn->routed, "%s", m);
    cr_assert_eq(conn->rport, bind->rport, "the connect went to %d, the listener is on %d\n%s",
                 conn->rport, bind->rport, m);
    e2e_events_free(&ev);
}

/* A writer killed mid-line leaves a fragment without a newline. The next
 * claim must start a line of its own: glued onto the fragment, its bind
 * was skipped as malformed, so `port` found no listener and a second bind
 * of the port succeeded. */
Test(manifest, bind_after_a_torn_last_line_claims_its_port)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env, plain;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "remap", NULL);
    e2e_env_plain(&plain);

    static const char fragment[] = "{\"v\":1,\"ev\":\"connect\",\"ts\":1795312345.2,\"pid\":4";
    int fd = open(ns.manifest, O_WRONLY | O_APPEND | O_CLOEXEC);
    cr_assert(fd >= 0);
    cr_assert(write_all(fd, fragment, strlen(fragment)) == 0);
    close(fd);

    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8003", "--name", "A");
    cr_assert(e2e_expect(s, "READY 8003", E2E_MS), "%s", e2e_describe(s));

    /* the bind is a line of its own, after the fragment */
    char want[128];
    snprintf(want, sizeof want, "%s\n{\"v\":%d,\"ev\":\"bind\"", fragment, PS_MANIFEST_VERSION);
    const char *text = e2e_slurp(ns.manifest);
    cr_assert(strstr(text, want), "the bind was not written on a fresh line:\n%s", text);

    struct e2e_proc *p = e2e_runl(&plain, E2E_MS, e2e_portshim(), "port", "--manifest",
                                  ns.manifest, "8003");
    cr_assert_eq(e2e_status(p), 0, "no listener found after the torn line: %s\nmanifest:\n%s",
                 e2e_describe(p), text);
    struct e2e_proc *d = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8003");
    cr_assert_eq(e2e_status(d), 1, "a second bind of 8003 was not refused: %s",
                 e2e_describe(d));
    cr_assert(strstr(e2e_out(d), "ERR EADDRINUSE"), "%s", e2e_describe(d));
}

/* A record glued onto a fragment (written by a writer that did not know
 * the file ended mid-line) is still read: the reader resynchronises at the
 * record start, and a claim made after it sees the port as taken. */
Test(manifest, record_glued_onto_a_torn_line_is_still_read)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env, plain;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "remap", NULL);
    e2e_env_plain(&plain);

    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8004", "--name", "A");
    cr_assert(e2e_expect(s, "READY 8004", E2E_MS), "%s", e2e_describe(s));
    /* the server's own lines, each glued onto a fragment */
    const char *orig = e2e_slurp(ns.manifest);
    char *glued = malloc(strlen(orig) * 2 + 64);
    cr_assert_not_null(glued);
    size_t n = 0;
    for (const char *l = orig; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) + 1 : strlen(l);
        n += (size_t)sprintf(glued + n, "{\"v\":1,\"ev\":\"listen\",\"pid\":7,\"si");
        memcpy(glued + n, l, len);
        n += len;
        l += len;
    }
    int fd = open(ns.manifest, O_WRONLY | O_TRUNC | O_CLOEXEC);
    cr_assert(fd >= 0);
    cr_assert(write_all(fd, glued, n) == 0);
    close(fd);
    free(glued);

    struct e2e_proc *p = e2e_runl(&plain, E2E_MS, e2e_portshim(), "port", "--manifest",
                                  ns.manifest, "8004");
    cr_assert_eq(e2e_status(p), 0, "%s\nmanifest:\n%s", e2e_describe(p),
                 e2e_slurp(ns.manifest));
    struct e2e_proc *d = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8004");
    cr_assert_eq(e2e_status(d), 1, "a second bind of 8004 was not refused: %s",
                 e2e_describe(d));
}
