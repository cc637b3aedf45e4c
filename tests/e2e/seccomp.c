/* seccomp.c — the supervisor backend of `portshim run` (docs/design.md,
 * "The seccomp supervisor"): statically linked programs, whose socket calls
 * the preload library never sees, under the run's seccomp filter, their
 * calls answered by the run's supervisor with the namespace's rules.
 *
 * The programs are the helpers built with -static (build/static/). Skipped,
 * saying why, where seccomp user notification is unavailable. */
#include <criterion/criterion.h>

#include "e2e.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seccomp/attach.h"

TestSuite(seccomp, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

/* build/static/NAME; a few rotating buffers, enough for one expression. */
static const char *stat_helper(const char *name)
{
    static char buf[4][1200];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/static/%s", e2e_build(), name);
    return b;
}

static void need_supervisor(void)
{
    const char *why = ps_seccomp_unavailable();
    if (why)
        e2e_skip("seccomp user notification unavailable here: %s", why);
    if (access(stat_helper("echo-server"), X_OK) || access(stat_helper("client"), X_OK) ||
        access(stat_helper("sockctl"), X_OK))
        e2e_skip("no static helpers in %s/static (make all builds them)", e2e_build());
}

static const struct ps_event *find_ev(const struct e2e_events *ev, enum ps_ev kind, int ok,
                                      int port)
{
    for (size_t i = 0; i < ev->n; i++)
        if (ev->v[i].ev == kind && (ok < 0 || ev->v[i].ok == ok) &&
            (port < 0 || ev->v[i].port == port))
            return &ev->v[i];
    return NULL;
}

Test(seccomp, static_servers_of_two_namespaces_on_one_hard_coded_port_each_serve_their_own)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m[2] = {e2e_path("a.jsonl"), e2e_path("b.jsonl")};
    const char *name[2] = {"alpha", "beta"};
    for (int i = 0; i < 2; i++) {
        struct e2e_proc *s = e2e_startl(&env, e2e_portshim(), "run", "--manifest", m[i], "--",
                                        stat_helper("echo-server"), "127.0.0.1", "8000",
                                        "--name", name[i]);
        const char *r = e2e_expect(s, "READY ", E2E_MS);
        cr_assert(r && atoi(r) == 8000, "static server %d: getsockname did not report the "
                  "virtual port 8000:\n%s", i, e2e_describe(s));
    }
    for (int i = 0; i < 2; i++) {
        int real = e2e_real_port(m[i], 8000, E2E_MS);
        cr_assert(real > 0 && real != 8000, "namespace %d: no remap of 8000 (got %d)", i, real);
        /* A static client and a dynamic (preloaded) one of the namespace. */
        const char *clients[2] = {stat_helper("client"), e2e_helper("client")};
        for (int k = 0; k < 2; k++) {
            struct e2e_proc *c = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest",
                                          m[i], "--", clients[k], "127.0.0.1", "8000", "hi");
            char want[64];
            snprintf(want, sizeof want, "REPLY %s 8000 hi\n", name[i]);
            cr_assert(e2e_status(c) == 0 && strstr(e2e_out(c), want),
                      "client %d of namespace %d did not reach its own copy:\n%s", k, i,
                      e2e_describe(c));
            cr_assert(strstr(e2e_out(c), "PEER 8000\n"), "getpeername not virtual:\n%s",
                      e2e_describe(c));
        }
        struct e2e_events ev;
        e2e_events_read(m[i], &ev);
        const struct ps_event *b = e2e_last_bind(&ev, 8000);
        cr_assert(b && !strcmp(b->be, "seccomp"), "the static server's bind is not recorded "
                  "as the supervisor's");
        /* the static client's connect by the supervisor, the dynamic one's by the library */
        size_t sup = 0, lib = 0;
        for (size_t j = 0; j < ev.n; j++)
            if (ev.v[j].ev == PS_EV_CONNECT && ev.v[j].routed && ev.v[j].ok)
                *(ev.v[j].be[0] ? &sup : &lib) += 1;
        cr_assert(sup == 1 && lib == 1, "routed connects: %zu by the supervisor, %zu by the "
                  "library (want 1 and 1)", sup, lib);
        e2e_events_free(&ev);
    }
}

Test(seccomp, a_second_static_bind_of_a_live_virtual_port_fails_naming_its_holder)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *s = e2e_startl(&env, e2e_portshim(), "run", "--manifest", m, "--",
                                    stat_helper("echo-server"), "127.0.0.1", "8000", "--name",
                                    "first");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "first server:\n%s", e2e_describe(s));
    struct e2e_proc *dup = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--",
                                    stat_helper("echo-server"), "127.0.0.1", "8000", "--name",
                                    "second");
    cr_assert_eq(e2e_status(dup), 1, "the second bind did not fail with EADDRINUSE:\n%s",
                 e2e_describe(dup));
    cr_assert(strstr(e2e_err(dup), "portshim: bind 127.0.0.1:8000 in pid") &&
                  strstr(e2e_err(dup), "held by pid"),
              "no line naming the holder:\n%s", e2e_describe(dup));
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    const struct ps_event *ok = find_ev(&ev, PS_EV_BIND, 1, 8000);
    const struct ps_event *bad = find_ev(&ev, PS_EV_BIND, 0, 8000);
    cr_assert(ok && bad, "manifest lacks the two binds");
    cr_assert_eq(bad->err, EADDRINUSE);
    cr_assert_eq(bad->hpid, ok->pid, "the holder named is pid %d, not the first server %d",
                 bad->hpid, ok->pid);
    cr_assert(strstr(bad->hcmd, "--name first"), "holder command '%s'", bad->hcmd);
    cr_assert_str_eq(bad->be, "seccomp");
    e2e_events_free(&ev);
}

Test(seccomp, observe_mode_records_a_static_programs_binds_listens_and_connects)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    int port = e2e_free_port(1);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct e2e_proc *s = e2e_startl(&env, e2e_portshim(), "run", "--mode", "observe",
                                    "--manifest", m, "--", stat_helper("echo-server"),
                                    "127.0.0.1", ps, "--name", "seen");
    const char *r = e2e_expect(s, "READY ", E2E_MS);
    cr_assert(r && atoi(r) == port, "observed server:\n%s", e2e_describe(s));
    struct e2e_proc *c = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--mode", "observe",
                                  "--manifest", m, "--", stat_helper("client"), "127.0.0.1", ps,
                                  "hi");
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    const struct ps_event *b = find_ev(&ev, PS_EV_BIND, 1, port);
    cr_assert(b && b->rport == port && !strcmp(b->mode, "observe") && !strcmp(b->be, "seccomp"),
              "the bind is not recorded as observed by the supervisor");
    bool listened = false;
    for (size_t i = 0; i < ev.n; i++)
        listened |= ev.v[i].ev == PS_EV_LISTEN && !strcmp(ev.v[i].sid, b->sid);
    cr_assert(listened, "no listen of sid %s", b->sid);
    const struct ps_event *cn = find_ev(&ev, PS_EV_CONNECT, 1, port);
    cr_assert(cn && !cn->routed && !strcmp(cn->be, "seccomp"), "the connect is not recorded");
    e2e_events_free(&ev);
}

Test(seccomp, a_static_program_whose_supervisor_was_killed_gets_enosys_not_a_hang)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_startl(&env, e2e_portshim(), "run", "--manifest", m, "--",
                                    stat_helper("sockctl"));
    int fd = e2e_cmd_fd(p, "tcp4");
    /* supervised while the run lives */
    const char *a = e2e_cmd(p, "bind %d 127.0.0.1 8000", fd);
    cr_assert(!strncmp(a, "OK", 2), "bind under the supervisor: %s", a);
    const char *n = e2e_cmd(p, "name %d", fd);
    cr_assert(strstr(n, " 8000"), "getsockname under the supervisor: %s", n);
    /* p->pid is portshim run itself (the script execs it): the supervisor */
    kill(p->pid, SIGKILL);
    int fd2 = e2e_cmd_fd(p, "tcp4");
    const char *b = e2e_cmd(p, "bind %d 127.0.0.1 8001", fd2);
    cr_assert_str_eq(b, "ERR ENOSYS", "a trapped call without a supervisor: %s", b);
    const char *c = e2e_cmd(p, "connect %d 127.0.0.1 8000", fd2);
    cr_assert_str_eq(c, "ERR ENOSYS", "a trapped call without a supervisor: %s", c);
}

Test(seccomp, a_dynamic_program_execd_by_a_static_one_is_left_to_the_preload_library)
{
    need_supervisor();
    if (access(stat_helper("spawnmany"), X_OK))
        e2e_skip("no static spawnmany in %s/static", e2e_build());
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    /* The static spawnmany is supervised; the dynamic binder it execs
     * inherits the filter and has the library preloaded: its calls are the
     * library's, passed through by the supervisor, never remapped twice. */
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--",
                                  stat_helper("spawnmany"), "1", "--", e2e_helper("binder"),
                                  "127.0.0.1", "8000", "--listen");
    cr_assert(e2e_status(p) == 0 && strstr(e2e_out(p), "OK 8000\n"), "%s", e2e_describe(p));
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    size_t binds = 0, sup = 0;
    for (size_t i = 0; i < ev.n; i++) {
        binds += ev.v[i].ev == PS_EV_BIND;
        sup += ev.v[i].be[0] != 0;
    }
    cr_assert(binds == 1 && sup == 0, "%zu binds, %zu events by the supervisor (want 1, 0)",
              binds, sup);
    e2e_events_free(&ev);
}
