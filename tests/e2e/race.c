/* race.c — Tahoe-LAFS #2787 reproduced: a port allocated by "bind 0, read,
 * close, bind it later" is stolen by a busy machine without the shim, and
 * never with it. Runs in a private network namespace (race2787 enters one)
 * with a 256-port ephemeral range, so it is quick and disturbs nothing. */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "e2e.h"

TestSuite(race, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

struct result {
    int ok, inuse, other;
};

static struct result race(bool shim)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *nsdir = e2e_path("namespaces");
    const char *argv[16] = {"race2787", "--hog", e2e_helper("porthog"), "--prog",
                            e2e_helper("port2787"), "--copies", "12", "--sleep-ms", "30"};
    int n = 9;
    if (shim) {
        cr_assert(mkdir(nsdir, 0700) == 0 || errno == EEXIST);
        argv[n++] = "--shim";
        argv[n++] = e2e_lib();
        argv[n++] = "--nsdir";
        argv[n++] = nsdir;
    }
    argv[n] = NULL;
    struct e2e_proc *p = e2e_run(&env, 60000, argv);
    const char *skip = e2e_expect(p, "SKIP ", 0);
    if (skip)
        e2e_skip("private network namespaces are not permitted here (%s); "
                     "the #2787 reproduction did not run", skip);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    struct result r = {-1, -1, -1};
    p->opos = 0;
    const char *line = e2e_expect(p, "RESULT ", 0);
    cr_assert(line && sscanf(line, "ok=%d inuse=%d other=%d", &r.ok, &r.inuse, &r.other) == 3,
              "%s", e2e_describe(p));
    cr_log_info("#2787 %s the shim: ok=%d inuse=%d other=%d", shim ? "with" : "without", r.ok,
                r.inuse, r.other);
    return r;
}

Test(race, port_allocated_the_2787_way_is_stolen_without_the_shim_and_never_with_it)
{
    e2e_need_lib();
    struct result bare = race(false);
    cr_assert_gt(bare.inuse, 0,
                 "the reproduction is broken: without the shim no copy lost its port "
                 "(ok=%d other=%d)", bare.ok, bare.other);
    struct result shim = race(true);
    cr_assert_eq(shim.inuse, 0, "%d of 12 copies still got EADDRINUSE under the shim",
                 shim.inuse);
    cr_assert_eq(shim.other, 0, "%d of 12 copies failed otherwise under the shim", shim.other);
    cr_assert_eq(shim.ok, 12);
}

/* ---- the port-taker inside the run -------------------------------------------
 * Four processes of one run each allocate 500 ports the #2787 way while a
 * thread of each keeps taking ephemeral ports (binds to port 0, outgoing
 * connects): the thief is the run itself, which no hog outside can show. */

static struct result race_in_run(const char *mode)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    char nsdir[4200];
    snprintf(nsdir, sizeof nsdir, "%s", e2e_path("%s", mode));
    cr_assert(mkdir(nsdir, 0700) == 0 || errno == EEXIST);
    /* Observe mode has only to show one failure: each copy stops at its
     * first (a slow machine need not spend the time of all 2,000). */
    bool observe = !strcmp(mode, "observe");
    const char *argv[] = {"race2787", "--hog", "none", "--prog", e2e_helper("alloc2787"),
                          "--copies", "4", "--sleep-ms", "3", "--shim", e2e_lib(), "--nsdir",
                          nsdir, "--mode", mode, "--shared", "--prog-arg", "--count",
                          "--prog-arg", "500", observe ? "--prog-arg" : NULL,
                          "--until-failure", NULL};
    struct e2e_proc *p = e2e_run(&env, 170000, argv);
    const char *skip = e2e_expect(p, "SKIP ", 0);
    if (skip)
        e2e_skip("private network namespaces are not permitted here (%s); "
                 "the in-run #2787 reproduction did not run", skip);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    struct result r = {0, 0, 0};
    p->opos = 0;
    int copies = 0;
    const char *line;
    while ((line = e2e_expect(p, "ALLOC ", 0))) {
        int ok, inuse, other;
        cr_assert(sscanf(line, "ok=%d inuse=%d other=%d", &ok, &inuse, &other) == 3, "%s", line);
        r.ok += ok;
        r.inuse += inuse;
        r.other += other;
        copies++;
    }
    cr_assert_eq(copies, 4, "%d of 4 copies reported:\n%s", copies, e2e_describe(p));
    if (!observe)
        cr_assert_eq(r.ok + r.inuse + r.other, 2000, "%s", e2e_describe(p));
    cr_log_info("#2787 inside one run, %s mode: ok=%d inuse=%d other=%d", mode, r.ok, r.inuse,
                r.other);
    return r;
}

Test(race, the_runs_own_port_taking_steals_a_2787_port_in_observe_mode, .timeout = 200)
{
    e2e_need_lib();
    struct result r = race_in_run("observe");
    cr_assert_gt(r.inuse, 0,
                 "the reproduction is broken: no allocation of up to 2,000 lost its port to "
                 "the run's own takers (ok=%d other=%d)", r.ok, r.other);
}

Test(race, no_2787_port_is_stolen_by_the_runs_own_port_taking_in_remap_mode, .timeout = 200)
{
    e2e_need_lib();
    struct result r = race_in_run("remap");
    cr_assert_eq(r.inuse, 0, "%d of 2,000 allocations got EADDRINUSE", r.inuse);
    cr_assert_eq(r.other, 0, "%d of 2,000 allocations failed otherwise", r.other);
    cr_assert_eq(r.ok, 2000);
}

Test(race, no_2787_port_is_stolen_by_the_runs_own_port_taking_in_unix_mode, .timeout = 200)
{
    e2e_need_lib();
    struct result r = race_in_run("unix");
    cr_assert_eq(r.inuse, 0, "%d of 2,000 allocations got EADDRINUSE", r.inuse);
    cr_assert_eq(r.other, 0, "%d of 2,000 allocations failed otherwise", r.other);
    cr_assert_eq(r.ok, 2000);
}

Test(race, an_exhausted_ephemeral_range_does_not_fail_the_bind_of_a_virtual_port)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *nsdir = e2e_path("exhaust");
    cr_assert(mkdir(nsdir, 0700) == 0);
    struct e2e_proc *p = e2e_runl(&env, 60000, "race2787", "--hog", "none", "--prog",
                                  e2e_helper("alloc2787"), "--copies", "1", "--shim", e2e_lib(),
                                  "--nsdir", nsdir, "--mode", "remap", "--shared", "--prog-arg",
                                  "--exhaust");
    const char *skip = e2e_expect(p, "SKIP ", 0);
    if (skip)
        e2e_skip("private network namespaces are not permitted here (%s)", skip);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    p->opos = 0;
    const char *ex = e2e_expect(p, "EXHAUSTED ", 0);
    /* the program itself used the range up; its binds to port 0 then fail
     * as the kernel's do */
    cr_assert(ex && strstr(ex, "EADDRINUSE"), "%s", e2e_describe(p));
    const char *r = e2e_expect(p, "EXPLICIT ", 0);
    cr_assert(r && !strcmp(r, "OK"), "binding virtual port 8000: %s\n%s", r ? r : "(none)",
              e2e_describe(p));
}
