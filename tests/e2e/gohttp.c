/* gohttp.c — a Go net/http server (tests/go/gohttp.go, built with the
 * distribution's Go) under `portshim run`: Go's net package makes raw
 * system calls that no LD_PRELOAD library sees, so every one of these goes
 * through the run's seccomp supervisor. The server is linked as Go links it
 * by default (dynamically, with cgo: the library is loaded into it and must
 * stay out of the way) and the client statically (CGO_ENABLED=0). */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(gohttp, .init = e2e_setup, .fini = e2e_teardown, .timeout = 180);

static const char *go(const char *name)
{
    static char buf[4][1200];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/go/%s", e2e_build(), name);
    if (access(b, X_OK))
        e2e_skip("%s is not built: Go is not installed (make go; scripts/ensure-deps installs "
                 "golang-go)", b);
    return b;
}

static void need_supervisor(void)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--backend", "seccomp",
                                  "--", "/bin/true");
    if (e2e_status(p) != 0)
        e2e_skip("no seccomp supervisor here: %s", e2e_err(p));
}

/* Four runs at once, each a Go server on :8000 and a client of it: each
 * client waits until all four servers listen (found by portshim port
 * --wait), then must get its own copy's answer. */
static void four_copies(const char *mode)
{
    e2e_need_lib();
    need_supervisor();
    const char *srv = go("gohttp"), *cli = go("gohttp-static");
    char script[4096];
    snprintf(script, sizeof script,
             "\"%s\" serve 127.0.0.1:8000 copy$1 >\"$2/srv.$1\" 2>&1 &\n"
             "p=$(\"%s\" port --wait 20 8000) || { echo \"NO LISTENER\"; kill $!; exit 1; }\n"
             "case $p in 8000) echo \"REAL PORT 8000\"; kill $!; exit 1;; esac\n"
             "echo \"PORT $p\"\n"
             ": >\"$2/up.$1\"\n"
             "n=0; while [ $n -lt 400 ]; do\n"
             "  [ -e \"$2/up.0\" ] && [ -e \"$2/up.1\" ] && [ -e \"$2/up.2\" ] && "
             "[ -e \"$2/up.3\" ] && break\n"
             "  n=$((n+1)); sleep 0.05\n"
             "done\n"
             "body=$(\"%s\" get http://127.0.0.1:8000/)\n"
             "rc=$?\necho \"GOT $body\"\nkill $!\nwait\nexit $rc\n",
             srv, e2e_portshim(), cli);
    e2e_parallel_runs(script, 4, "GOT copy", "\n", mode, NULL, 60000);
}

Test(gohttp, four_go_servers_on_8000_each_serve_their_own_client_remap)
{
    four_copies("remap");
}

Test(gohttp, four_go_servers_on_8000_each_serve_their_own_client_unix)
{
    four_copies("unix");
}

Test(gohttp, a_second_go_bind_of_8000_fails_with_eaddrinuse_naming_the_holder)
{
    e2e_need_lib();
    need_supervisor();
    const char *srv = go("gohttp");
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    char script[2048];
    snprintf(script, sizeof script,
             "\"%s\" serve 127.0.0.1:8000 first >/dev/null &\n"
             "echo \"HOLDER $!\"\n"
             "\"%s\" port --wait 20 8000 >/dev/null || { kill $!; exit 3; }\n"
             "\"%s\" serve 127.0.0.1:8000 second\n"
             "echo \"SECOND $?\"\nkill $!\nwait\n",
             srv, e2e_portshim(), srv);
    struct e2e_proc *p = e2e_runl(&env, 60000, e2e_portshim(), "run", "--manifest", m, "--",
                                  "/bin/sh", "-c", script);
    int holder = 0;
    cr_assert_eq(sscanf(e2e_out(p), "HOLDER %d", &holder), 1, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "SECOND 1\n"), "the second server did not fail:\n%s",
              e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "bind: address already in use"), "not EADDRINUSE:\n%s",
              e2e_describe(p));
    char want[128];
    snprintf(want, sizeof want, "held by pid %d (", holder);
    cr_assert(strstr(e2e_err(p), "portshim: bind 127.0.0.1:8000 in pid") &&
              strstr(e2e_err(p), want), "no line naming the holder (%s):\n%s", want,
              e2e_describe(p));
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    cr_assert_eq(e2e_count(&ev, PS_EV_BIND, 0, 8000), 1, "%s", e2e_slurp(m));
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_BIND && !ev.v[i].ok) {
            cr_assert_eq(ev.v[i].err, EADDRINUSE);
            cr_assert_eq(ev.v[i].hpid, holder, "the manifest names pid %d", ev.v[i].hpid);
            cr_assert_str_eq(ev.v[i].be, "seccomp");
        }
    e2e_events_free(&ev);
}

Test(gohttp, observe_mode_records_go_binds_and_connects)
{
    e2e_need_lib();
    need_supervisor();
    const char *srv = go("gohttp"), *cli = go("gohttp-static");
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    char script[2048];
    /* observe mode maps nothing, so portshim port has nothing to show:
     * the server's READY line says it listens */
    snprintf(script, sizeof script,
             "\"%s\" serve 127.0.0.1:8000 seen >\"$0.out\" &\n"
             "n=0; until grep -q READY \"$0.out\"; do\n"
             "  n=$((n+1)); [ $n -lt 400 ] || { kill $!; exit 3; }; sleep 0.05\n"
             "done\n"
             "\"%s\" get http://127.0.0.1:8000/\nrc=$?\nkill $!\nwait\nexit $rc\n",
             srv, cli);
    struct e2e_proc *p = e2e_runl(&env, 60000, e2e_portshim(), "run", "--mode", "observe",
                                  "--manifest", m, "--", "/bin/sh", "-c", script,
                                  e2e_path("srv"));
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "seen\n");
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    const struct ps_event *b = e2e_last_bind(&ev, 8000);
    cr_assert(b, "no bind of 8000 recorded:\n%s", e2e_slurp(m));
    cr_assert_eq(b->rport, 8000, "observe mode changes nothing");
    cr_assert_str_eq(b->be, "seccomp");
    cr_assert_str_eq(b->prog, "gohttp");
    bool connect = false;
    for (size_t i = 0; i < ev.n; i++)
        connect |= ev.v[i].ev == PS_EV_CONNECT && ev.v[i].port == 8000 &&
                   !strcmp(ev.v[i].be, "seccomp") && !strcmp(ev.v[i].prog, "gohttp-static");
    cr_assert(connect, "no connect of gohttp-static to 8000 recorded:\n%s", e2e_slurp(m));
    e2e_events_free(&ev);
}

/* connect-refused at one half, seeded: sixteen requests of one Go client
 * (each on a new connection) fail and succeed in one pattern, the same
 * again with the same seed, each refusal recorded as injected. */
static const char *fault_run(const char *seed, const char *m, const char *srv, const char *cli)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    char script[2048];
    snprintf(script, sizeof script,
             "\"%s\" serve 127.0.0.1:8000 up >/dev/null &\n"
             "\"%s\" port --wait 20 8000 >/dev/null || { kill $!; exit 3; }\n"
             "\"%s\" get http://127.0.0.1:8000/ 16\nkill $!\nwait\n",
             srv, e2e_portshim(), cli);
    struct e2e_proc *p = e2e_runl(&env, 60000, e2e_portshim(), "run", "--inject",
                                  "connect-refused=50%", "--seed", seed, "--manifest", m, "--",
                                  "/bin/sh", "-c", script);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    return e2e_out(p);
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *at = s; (at = strstr(at, needle)); at++)
        n++;
    return n;
}

Test(gohttp, seeded_faults_apply_to_a_go_client_and_replay)
{
    e2e_need_lib();
    need_supervisor();
    const char *srv = go("gohttp-static"), *cli = go("gohttp");
    const char *m1 = e2e_path("m1.jsonl"), *m2 = e2e_path("m2.jsonl");
    const char *first = fault_run("7", m1, srv, cli);
    const char *again = fault_run("7", m2, srv, cli);
    int refused = count(first, "connection refused"), ok = count(first, "up\n");
    cr_assert_eq(refused + ok, 16, "%s", first);
    cr_assert(refused > 0 && ok > 0, "at 50%%, both outcomes are expected:\n%s", first);
    cr_assert_str_eq(first, again, "the same seed did not replay");
    struct e2e_events ev;
    e2e_events_read(m1, &ev);
    int injected = 0;
    for (size_t i = 0; i < ev.n; i++)
        injected += ev.v[i].ev == PS_EV_CONNECT && !strcmp(ev.v[i].inj, "connect-refused") &&
                    !strcmp(ev.v[i].be, "seccomp");
    cr_assert_eq(injected, refused, "%d refusals recorded as injected, %d seen:\n%s", injected,
                 refused, e2e_slurp(m1));
    e2e_events_free(&ev);
}

/* A Go program's call through libc (cgo) is the supervisor's like the rest:
 * the library loaded into the program stays off, so the bind is
 * translated and recorded once, not once by each backend. */
Test(gohttp, a_go_programs_socket_calls_through_cgo_are_translated_once)
{
    e2e_need_lib();
    need_supervisor();
    const char *prog = go("gocgo");
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--",
                                  prog, "8000");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "BOUND 8000\n", "%s", e2e_describe(p));
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    cr_assert_eq(e2e_count(&ev, PS_EV_BIND, -1, -1), 1, "one bind, not one per backend:\n%s",
                 e2e_slurp(m));
    const struct ps_event *b = e2e_last_bind(&ev, 8000);
    cr_assert(b && !strcmp(b->be, "seccomp") && b->rport != 8000, "%s", e2e_slurp(m));
    e2e_events_free(&ev);
}
