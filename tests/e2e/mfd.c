/* mfd.c — the shim's manifest descriptor closed behind its back (closefrom,
 * a raw close_range) and its number reused by the program: the shim writes
 * nothing into the program's file and keeps recording in the manifest. */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(mfd, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

static void records_continue(const char *how, bool fill)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "remap", NULL);
    const char *own = e2e_path("own.txt");
    struct e2e_proc *p = fill ? e2e_runl(&env, 30000, "fdclose", how, "127.0.0.1", "8000", own,
                                         "--fill")
                              : e2e_runl(&env, 30000, "fdclose", how, "127.0.0.1", "8000", own);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "NAME 8000\n"), "%s", e2e_describe(p));
    if (fill)
        cr_assert(strstr(e2e_out(p), "FILLED "), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "NAMES 8001 8002\n"), "the binds after the close:\n%s",
              e2e_describe(p));
    cr_assert(!strstr(e2e_err(p), "portshim:"), "the shim complained:\n%s", e2e_describe(p));

    /* The program's file holds its own line and nothing of the shim's. */
    cr_assert_str_eq(e2e_slurp(own), "own line\n", "the program's file was written to");

    /* Every record after the close reached the manifest. */
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    cr_assert_eq(ev.bad, 0, "%s", e2e_slurp(ns.manifest));
    for (int port = 8000; port <= 8002; port++)
        cr_assert_eq(e2e_count(&ev, PS_EV_BIND, 1, port), 1, "the bind of %d is missing:\n%s",
                     port, e2e_slurp(ns.manifest));
    cr_assert_eq(e2e_count(&ev, PS_EV_LISTEN, 1, -1), 3, "listens are missing:\n%s",
                 e2e_slurp(ns.manifest));
    const struct ps_event *b = e2e_last_bind(&ev, 8001);
    bool closed = false;
    for (size_t i = 0; i < ev.n; i++)
        closed |= ev.v[i].ev == PS_EV_CLOSE && !strcmp(ev.v[i].sid, b->sid);
    cr_assert(closed, "the close of 8001 is missing:\n%s", e2e_slurp(ns.manifest));
    e2e_events_free(&ev);

    /* And the namespace still works for the next process: 8002 was held
     * until the program exited, so it is free again. */
    struct e2e_proc *n = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8002", "--listen");
    cr_assert_eq(e2e_status(n), 0, "%s\nmanifest:\n%s", e2e_describe(n), e2e_slurp(ns.manifest));
}

Test(mfd, closefrom_loses_no_record)
{
    records_continue("closefrom", false);
}

Test(mfd, raw_close_range_loses_no_record)
{
    records_continue("syscall", false);
}

Test(mfd, closefrom_then_reusing_the_number_keeps_records_out_of_the_programs_file)
{
    records_continue("closefrom", true);
}

Test(mfd, raw_close_range_then_reusing_the_number_keeps_records_out_of_the_programs_file)
{
    records_continue("syscall", true);
}
