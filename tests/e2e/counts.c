/* counts.c — routed connects are counted, not lined: a process's first
 * connect to a listener is a manifest line, the rest add one to the
 * namespace's shared counter (<manifest>.cnt), and `portshim report` adds
 * them up — for a listener still open, one killed, and one closed. A
 * counter file the run cannot trust is not used: every connect is lined. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"

TestSuite(counts, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

static long report_connects(const char *manifest)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--json",
                                  "--manifest", manifest);
    cr_assert(e2e_wait(p, E2E_MS) && e2e_status(p) == 0, "%s", e2e_describe(p));
    const char *c = strstr(e2e_out(p), "\"connects\":");
    cr_assert(c, "%s", e2e_describe(p));
    return atol(c + 11);
}

static size_t client_lines(const char *manifest)
{
    struct e2e_events ev;
    e2e_events_read(manifest, &ev);
    cr_assert_eq(ev.bad, 0, "%s", e2e_slurp(manifest));
    size_t n = 0;
    for (size_t i = 0; i < ev.n; i++)
        n += ev.v[i].ev == PS_EV_CONNECT && ev.v[i].routed && !strcmp(ev.v[i].prog, "client");
    e2e_events_free(&ev);
    return n;
}

/* A server on 8000 and a client making 40 connects to it. */
static struct e2e_proc *dial_40(struct e2e_ns *ns, const char *mode)
{
    e2e_need_lib();
    e2e_ns_new(ns, "ns");
    struct e2e_env env;
    e2e_env_shim(&env, ns, mode, NULL);
    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8000");
    cr_assert(e2e_expect(s, "READY 8000", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *c = e2e_runl(&env, 30000, "client", "127.0.0.1", "8000", "x", "--repeat",
                                  "40");
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    return s;
}

static void repeated_connects_are_counted(const char *mode)
{
    struct e2e_ns ns;
    struct e2e_proc *s = dial_40(&ns, mode);
    cr_assert_eq(client_lines(ns.manifest), 1, "one line for the client's first connect:\n%s",
                 e2e_slurp(ns.manifest));
    cr_assert_eq(report_connects(ns.manifest), 40, "the listener is still open");
    /* killed: no close, no conns event; the count is in the shared file */
    e2e_kill(s, SIGKILL);
    e2e_wait(s, E2E_MS);
    cr_assert_eq(report_connects(ns.manifest), 40, "the listener was killed");
}

Test(counts, repeated_connects_are_one_line_and_a_count_report_adds_up_in_remap_mode)
{
    repeated_connects_are_counted("remap");
}

Test(counts, repeated_connects_are_one_line_and_a_count_report_adds_up_in_unix_mode)
{
    repeated_connects_are_counted("unix");
}

Test(counts, a_closed_listener_leaves_its_count_in_the_manifest)
{
    e2e_need_lib();
    struct e2e_ns ns;
    e2e_ns_new(&ns, "ns");
    struct e2e_env env;
    e2e_env_shim(&env, &ns, "remap", NULL);
    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8000", "--count", "25");
    cr_assert(e2e_expect(s, "READY 8000", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *c = e2e_runl(&env, 30000, "client", "127.0.0.1", "8000", "x", "--repeat",
                                  "25");
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    cr_assert(e2e_wait(s, E2E_MS) && e2e_status(s) == 0, "%s", e2e_describe(s));
    /* the counter file gone, the manifest alone still says 25 */
    char cnt[700];
    snprintf(cnt, sizeof cnt, "%s.cnt", ns.manifest);
    cr_assert_eq(unlink(cnt), 0, "no counter file %s", cnt);
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    long long counted = -1;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_CONNS)
            counted = ev.v[i].count;
    e2e_events_free(&ev);
    cr_assert_eq(counted, 24, "conns event:\n%s", e2e_slurp(ns.manifest));
    cr_assert_eq(report_connects(ns.manifest), 25);
}

/* A counter file others may write, or one this code did not make,
 * is not used: routing goes on and every connect is a line. */
static void untrusted_counter_file(const char *content, mode_t mode)
{
    e2e_need_lib();
    struct e2e_ns ns;
    e2e_ns_new(&ns, "ns");
    char cnt[700];
    snprintf(cnt, sizeof cnt, "%s.cnt", ns.manifest);
    e2e_write_file(cnt, content, false);
    cr_assert_eq(chmod(cnt, mode), 0);
    struct e2e_env env;
    e2e_env_shim(&env, &ns, "remap", NULL);
    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8000");
    cr_assert(e2e_expect(s, "READY 8000", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *c = e2e_runl(&env, 30000, "client", "127.0.0.1", "8000", "x", "--repeat",
                                  "10");
    cr_assert_eq(e2e_status(c), 0, "the connects failed:\n%s", e2e_describe(c));
    cr_assert_eq(client_lines(ns.manifest), 10, "%s", e2e_slurp(ns.manifest));
    cr_assert_eq(report_connects(ns.manifest), 10);
    cr_assert(strstr(e2e_err(s), "portshim: ") && strstr(e2e_err(s), "connect counters"),
              "no warning: %s", e2e_describe(s));
}

Test(counts, a_counter_file_others_may_write_is_not_used)
{
    untrusted_counter_file("", 0666);
}

Test(counts, a_counter_file_of_another_shape_is_not_used)
{
    static char junk[64 + 4096 * 8 + 1];
    memset(junk, 'A', sizeof junk - 1);
    untrusted_counter_file(junk, 0600);
}
