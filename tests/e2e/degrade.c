/* degrade.c — "log once and degrade" (docs/design.md): the rare internal
 * failures the library survives — the manifest's flock refused, no memory
 * to track a socket, no memory for a table entry — are each said in one
 * `portshim:` line, once per process, and the program's calls go on.
 * PORTSHIM_TEST_FAIL (core/testfail.h) makes each happen on every occasion. */
#include <criterion/criterion.h>
#include <string.h>

#include "e2e.h"

TestSuite(degrade, .init = e2e_setup, .fini = e2e_teardown, .timeout = 90);

/* sockctl under the shim with PORTSHIM_TEST_FAIL=fail (NULL: unset) binds
 * three sockets to 8000-8002, each a claim of its own, listens on them and
 * closes the first; then its stdin closes and it exits. Returns it, exited;
 * the manifest's events in *ev. */
static struct e2e_proc *three_binds(const char *fail, struct e2e_events *ev)
{
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_need_lib();
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "remap", NULL);
    if (fail)
        e2e_env_set(&env, "PORTSHIM_TEST_FAIL", fail);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int fd[3];
    for (int i = 0; i < 3; i++) {
        fd[i] = e2e_cmd_fd(p, "tcp4");
        const char *r = e2e_cmd(p, "bind %d 127.0.0.1 %d", fd[i], 8000 + i);
        cr_assert_str_eq(r, "OK", "bind to %d with %s: %s\n%s", 8000 + i, fail, r,
                         e2e_describe(p));
        cr_assert_str_eq(e2e_cmd(p, "listen %d", fd[i]), "OK");
    }
    cr_assert_str_eq(e2e_cmd(p, "close %d", fd[0]), "OK");
    e2e_close_stdin(p);
    cr_assert(e2e_wait(p, E2E_MS), "%s", e2e_describe(p));
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    e2e_events_read(ns.manifest, ev);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(e2e_count(ev, PS_EV_BIND, 1, 8000 + i), 1, "bind of %d recorded once\n%s",
                     8000 + i, e2e_slurp(ns.manifest));
    return p;
}

/* The one line for fail, once, and nothing else from the shim. */
static void assert_said_once(struct e2e_proc *p, const char *line_start)
{
    const char *err = e2e_err(p);
    cr_assert_eq(e2e_lines_starting(err, line_start), 1, "want one '%s...' line:\n%s", line_start,
                 e2e_describe(p));
    cr_assert_eq(e2e_lines_starting(err, "portshim:"), 1, "only that line:\n%s", e2e_describe(p));
}

Test(degrade, without_test_failures_the_shim_says_nothing)
{
    struct e2e_events ev;
    struct e2e_proc *p = three_binds(NULL, &ev);
    cr_assert_eq(e2e_lines_starting(e2e_err(p), "portshim:"), 0, "%s", e2e_describe(p));
    cr_assert_eq(e2e_count(&ev, PS_EV_CLOSE, -1, -1), 1, "the close is recorded");
    e2e_events_free(&ev);
}

Test(degrade, a_claim_without_the_manifests_flock_is_said_once_and_binds_go_on)
{
    struct e2e_events ev;
    struct e2e_proc *p = three_binds("flock", &ev);
    assert_said_once(p, "portshim: cannot lock manifest ");
    cr_assert(strstr(e2e_err(p), "binds are not serialised"), "%s", e2e_describe(p));
    cr_assert_eq(e2e_count(&ev, PS_EV_CLOSE, -1, -1), 1, "the close is recorded");
    e2e_events_free(&ev);
}

Test(degrade, a_socket_without_memory_to_track_it_is_said_once_and_binds_go_on)
{
    struct e2e_events ev;
    struct e2e_proc *p = three_binds("track-oom", &ev);
    assert_said_once(p, "portshim: cannot track socket ");
    /* what the line says: an untracked socket's close goes unrecorded */
    cr_assert_eq(e2e_count(&ev, PS_EV_CLOSE, -1, -1), 0, "no close can be recorded");
    e2e_events_free(&ev);
}

Test(degrade, a_mapping_without_memory_for_its_entry_is_said_once_and_binds_go_on)
{
    struct e2e_events ev;
    struct e2e_proc *p = three_binds("table-oom", &ev);
    assert_said_once(p, "portshim: out of memory: the namespace table leaves out socket ");
    cr_assert_eq(e2e_count(&ev, PS_EV_CLOSE, -1, -1), 1, "the close is recorded");
    e2e_events_free(&ev);
}

Test(degrade, a_bad_test_failure_name_stops_the_program_with_one_line)
{
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_need_lib();
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "remap", NULL);
    e2e_env_set(&env, "PORTSHIM_TEST_FAIL", "flock,oom");
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, "sockctl");
    cr_assert_eq(e2e_status(p), 78, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_err(p), "portshim: PORTSHIM_TEST_FAIL='flock,oom': 'oom': expected "
                     "flock, track-oom or table-oom, separated by commas\n", "%s",
                     e2e_describe(p));
}
