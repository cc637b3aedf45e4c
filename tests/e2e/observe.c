/* observe.c — observe mode changes nothing and records everything
 * (README "Modes"; docs/design.md "Observe mode"): the program really binds the port it asks for, and
 * bind, listen, connect, accept, close and failed binds all reach the
 * manifest. Observe mode binds real ports, so the port comes from the
 * kernel (a free one right now), never a hard-coded one. */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(observe, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

Test(observe, observe_mode_changes_nothing_and_records_everything)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "observe", NULL);

    struct e2e_proc *s = NULL;
    char port[16] = "";
    for (int attempt = 0; attempt < 5 && !port[0]; attempt++) {
        char want[16];
        snprintf(want, sizeof want, "%d", e2e_free_port(SOCK_STREAM));
        s = e2e_startl(&env, "echo-server", "127.0.0.1", want, "--name", "obs", "--count", "1");
        const char *r = e2e_expect(s, "READY ", E2E_MS);
        if (r) {
            cr_assert_str_eq(r, want, "getsockname must be the real port in observe mode");
            snprintf(port, sizeof port, "%s", want);
        } else {
            e2e_wait(s, E2E_MS);
            cr_assert_eq(e2e_status(s), 1, "%s", e2e_describe(s)); /* taken meanwhile */
        }
    }
    cr_assert(port[0], "no free port after 5 attempts");
    int q = atoi(port);

    /* really bound: a bind of the same port elsewhere fails in the kernel,
     * and the failure is recorded */
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", port, "--listen");
    cr_assert_eq(e2e_status(b), 1, "%s", e2e_describe(b));

    struct e2e_proc *c = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", port);
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    char want[64];
    snprintf(want, sizeof want, "REPLY obs %d hello\nPEER %d\n", q, q);
    cr_assert(strstr(e2e_out(c), want), "%s", e2e_describe(c));
    e2e_wait(s, E2E_MS);
    cr_assert_eq(e2e_status(s), 0, "%s", e2e_describe(s));

    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const char *m = e2e_slurp(ns.manifest);
    const struct ps_event *bind = e2e_last_bind(&ev, q);
    cr_assert(bind, "no bind of %d recorded:\n%s", q, m);
    cr_assert_str_eq(bind->mode, "observe", "%s", m);
    cr_assert_eq(bind->rport, q, "observe: the real port is the port asked for\n%s", m);
    cr_assert_geq(e2e_count(&ev, PS_EV_BIND, 0, q), 1, "the failed bind is not recorded:\n%s", m);
    bool named = false;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_BIND && !ev.v[i].ok && ev.v[i].port == q)
            named = ev.v[i].err == EADDRINUSE;
    cr_assert(named, "the failed bind's errno is not EADDRINUSE:\n%s", m);
    cr_assert_geq(e2e_count(&ev, PS_EV_LISTEN, 1, -1), 1, "no listen recorded:\n%s", m);
    cr_assert_geq(e2e_count(&ev, PS_EV_CONNECT, -1, q), 1, "no connect recorded:\n%s", m);
    cr_assert_geq(e2e_count(&ev, PS_EV_CLOSE, -1, -1), 1, "no close recorded:\n%s", m);
    cr_expect_geq(e2e_count(&ev, PS_EV_ACCEPT, -1, -1), 1,
                  "docs/manifest.md: observe mode records accepts; none recorded:\n%s", m);
    e2e_events_free(&ev);
}
