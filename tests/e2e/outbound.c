/* outbound.c — observe mode records every connect, also those that go
 * past the namespace to the host (a database, a server the test did not
 * start): `portshim report` shows them, grouped by destination, in text
 * and in --json. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "e2e.h"

TestSuite(outbound, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

Test(outbound, report_groups_observed_pass_through_connects_by_destination)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    /* a server outside any namespace, and a port nobody listens on */
    char up[16], down[16];
    snprintf(up, sizeof up, "%d", e2e_free_port(SOCK_STREAM));
    struct e2e_proc *srv = e2e_startl(&env, "echo-server", "127.0.0.1", up, "--name", "host");
    cr_assert(e2e_expect(srv, "READY ", E2E_MS), "%s", e2e_describe(srv));
    snprintf(down, sizeof down, "%d", e2e_free_port(SOCK_STREAM));

    const char *m = e2e_path("observe.jsonl");
    char script[1024];
    snprintf(script, sizeof script,
             "\"$H/client\" 127.0.0.1 %s one && \"$H/client\" 127.0.0.1 %s two && "
             "{ \"$H/client\" 127.0.0.1 %s three; test $? = 3; }", up, up, down);
    e2e_env_set(&env, "H", e2e_helper(""));
    struct e2e_proc *run = e2e_runl(&env, 30000, e2e_portshim(), "run", "--mode", "observe",
                                    "--manifest", m, "--", "/bin/sh", "-c", script);
    cr_assert_eq(e2e_status(run), 0, "%s", e2e_describe(run));

    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest", m);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *out = e2e_out(p);
    cr_assert(strstr(out, "\n3 connects passed through to 2 destinations (no listener of the "
                          "namespace):\nDESTINATION "), "%s", out);
    char row[128];
    const char *at;
    snprintf(row, sizeof row, "\n127.0.0.1:%s ", up);
    cr_assert((at = strstr(out, row)), "no row for %s: %s", up, out);
    long n, nf;
    char first[32], last[32], prog[64];
    cr_assert_eq(sscanf(at + strlen(row), "%ld %ld %31s %31s %63s", &n, &nf, first, last, prog),
                 5, "%s", out);
    cr_assert(n == 2 && nf == 0 && !strcmp(prog, "client"), "%s", out);
    snprintf(row, sizeof row, "\n127.0.0.1:%s ", down);
    cr_assert((at = strstr(out, row)), "no row for %s: %s", down, out);
    cr_assert_eq(sscanf(at + strlen(row), "%ld %ld", &n, &nf), 2);
    cr_assert(n == 1 && nf == 1, "the refused connect counts as failed: %s", out);

    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--json", "--manifest", m);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *jf = e2e_path("report.json");
    e2e_write_file(jf, e2e_out(p), false);
    struct e2e_proc *py = e2e_runl(&env, E2E_MS, "/usr/bin/python3", "-c",
        "import json,sys\n"
        "r=json.load(open(sys.argv[1]))\n"
        "for d in r['passthrough']:\n"
        "  assert d['first']<=d['last'] and d['first_ts']>=r['t0'], d\n"
        "  print(d['fam'],d['addr'],d['port'],d['connects'],d['failed'],d['progs'],"
        "d['more_progs'])\n",
        jf);
    cr_assert_eq(e2e_status(py), 0, "%s", e2e_describe(py));
    char want[256];
    snprintf(want, sizeof want,
             "4 127.0.0.1 %s 2 0 ['client'] False\n4 127.0.0.1 %s 1 1 ['client'] False\n", up,
             down);
    cr_assert_str_eq(e2e_out(py), want);
}

Test(outbound, remap_mode_report_has_an_empty_list_and_no_section)
{
    /* routed connects are the listeners' CONNECTS, never pass-through */
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    const char *m = e2e_path("remap.jsonl");
    struct e2e_proc *run = e2e_runl(&env, 30000, e2e_portshim(), "run", "--manifest", m, "--",
                                    "/bin/sh", "-c",
                                    "\"$H/echo-server\" 127.0.0.1 8000 --count 1 & "
                                    "\"$H/client\" 127.0.0.1 8000 x --retry-ms 10000; wait");
    cr_assert_eq(e2e_status(run), 0, "%s", e2e_describe(run));
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest", m);
    cr_assert(!strstr(e2e_out(p), "passed through"), "%s", e2e_describe(p));
    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--json", "--manifest", m);
    cr_assert(strstr(e2e_out(p), ",\"passthrough\":[],"), "%s", e2e_describe(p));
}
