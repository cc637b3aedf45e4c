/* stress.c — `portshim stress`: exact counts on a command that fails in a
 * known share of runs, seeds and replay lines, timeouts, usage errors, and
 * copies of a hard-coded-port server running at once without colliding. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>

#include "e2e.h"

TestSuite(stress, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

static struct e2e_proc *stress(int timeout_ms, const char *const *argv)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    e2e_env_set(&env, "D", e2e_tmp());
    const char *full[64] = {e2e_portshim(), "stress"};
    int n = 2;
    for (; argv[n - 2] && n < 63; n++)
        full[n] = argv[n - 2];
    full[n] = NULL;
    return e2e_run(&env, timeout_ms, full);
}
#define stressl(ms, ...) stress((ms), (const char *const[]){__VA_ARGS__, NULL})

/* Namespace directories (portshim.*) left in the test's TMPDIR. */
static int kept_namespaces(void)
{
    DIR *d = opendir(e2e_tmp());
    int n = 0;
    struct dirent *de;
    cr_assert(d);
    while ((de = readdir(d)))
        n += !strncmp(de->d_name, "portshim.", 9);
    closedir(d);
    return n;
}

/* The 95% Wilson score interval, computed here independently. */
static void wilson(int f, int n, double *lo, double *hi)
{
    double z = 1.96, p = (double)f / n, d = 1 + z * z / n;
    double c = (p + z * z / (2.0 * n)) / d;
    double h = z * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / d;
    *lo = c - h;
    *hi = c + h;
}

Test(stress, counts_exactly_the_runs_that_fail_on_purpose)
{
    /* fails exactly when its seed is a multiple of 4: seeds 0..19 -> 5 */
    struct e2e_proc *p = stressl(90000, "--seed", "0", "-n", "20", "-j", "2", "--", "/bin/sh",
                                 "-c", "echo \"seed=$PORTSHIM_SEED run=$PORTSHIM_STRESS_RUN\"; "
                                       "test $((PORTSHIM_SEED % 4)) -ne 0");
    cr_assert_eq(e2e_status(p), 1, "any failed run means exit 1: %s", e2e_describe(p));
    double lo, hi;
    wilson(5, 20, &lo, &hi);
    char want[128];
    snprintf(want, sizeof want, "\nstress: 20 runs, 5 failed (25.0%%, 95%% CI %.1f%%-%.1f%%), ",
             100 * lo, 100 * hi);
    cr_assert(strstr(e2e_out(p), want), "want '%s' in %s", want + 1, e2e_describe(p));

    bool seen[20] = {false};
    int fails = 0;
    char line[1024];
    p->opos = 0;
    while (e2e_line(p, line, sizeof line, 0) == 0) {
        unsigned run;
        unsigned long long seed;
        char exit_[32], man[700];
        if (strncmp(line, "FAIL ", 5))
            continue;
        cr_assert_eq(sscanf(line, "FAIL run %u seed %llu exit %31s manifest %699s", &run, &seed,
                            exit_, man),
                     4, "bad FAIL line '%s'", line);
        cr_assert(seed < 20 && seed % 4 == 0 && !seen[seed], "seed %llu should not fail: %s",
                  seed, line);
        cr_assert_eq(run, seed, "run i gets seed base+i: %s", line);
        cr_assert_str_eq(exit_, "1");
        seen[seed] = true;
        fails++;
        cr_assert(e2e_exists(man), "the failed run's manifest %s was not kept", man);
        char want_tail[64];
        snprintf(want_tail, sizeof want_tail, "  | seed=%llu run=%u", seed, run);
        cr_assert_eq(e2e_line(p, line, sizeof line, 0), 0);
        cr_assert_str_eq(line, want_tail, "the output tail follows the FAIL line");
        while (e2e_line(p, line, sizeof line, 0) == 0 && !strncmp(line, "  | ", 4))
            ;
        char replay[128];
        snprintf(replay, sizeof replay, "replay: portshim stress --seed %llu -n 1 -- /bin/sh -c '",
                 seed);
        cr_assert(!strncmp(line, replay, strlen(replay)), "want '%s...', got '%s'", replay,
                  line);
    }
    cr_assert_eq(fails, 5, "%s", e2e_describe(p));
    cr_assert_eq(kept_namespaces(), 5, "passing runs' namespaces must go, failing ones stay");
}

Test(stress, all_passing_runs_exit_zero_and_leave_nothing)
{
    struct e2e_proc *p = stressl(60000, "--seed", "7", "-n", "6", "--", "/bin/true");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "\nstress: 6 runs, 0 failed (0.0%, 95% CI 0.0%-"), "%s",
              e2e_describe(p));
    cr_assert(!strstr(e2e_out(p), "FAIL"), "%s", e2e_describe(p));
    cr_assert_eq(kept_namespaces(), 0);
    cr_assert(strstr(e2e_err(p), "stress: 6/6 runs, 0 failed"), "no final progress line: %s",
              e2e_describe(p));
}

Test(stress, copies_of_a_hard_coded_port_server_do_not_collide)
{
    /* Each copy serves on 127.0.0.1:8000 and its client dials 8000 only
     * once all eight servers listen: without a namespace each, seven binds
     * fail with EADDRINUSE. */
    char script[2048] = "\"$H/echo-server\" 127.0.0.1 8000 --name copy$PORTSHIM_STRESS_RUN "
                        "--ready-file \"$D/ready.$PORTSHIM_STRESS_RUN\" --count 1 & "
                        "\"$H/client\" 127.0.0.1 8000 from$PORTSHIM_STRESS_RUN";
    for (int i = 0; i < 8; i++) {
        size_t n = strlen(script);
        snprintf(script + n, sizeof script - n, " --wait-file \"$D/ready.%d\"", i);
    }
    strcat(script, " | grep -qx \"REPLY copy$PORTSHIM_STRESS_RUN 8000 from$PORTSHIM_STRESS_RUN\""
                   "; rc=$?; wait; exit $rc");
    struct e2e_proc *p = stressl(90000, "-n", "8", "-j", "8", "--timeout", "60", "--", "/bin/sh",
                                 "-c", script);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "\nstress: 8 runs, 0 failed (0.0%"), "%s", e2e_describe(p));
    for (int i = 0; i < 8; i++)
        cr_assert(e2e_exists(e2e_path("ready.%d", i)), "copy %d never listened", i);
}

Test(stress, unix_mode_copies_fit_their_socket_names_under_a_longer_tmpdir)
{
    /* Each copy's sockets live in DIR/manifest.jsonl.d; from a TMPDIR too
     * long for that to fit sun_path, stress makes its namespaces in /tmp. */
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    /* 31 bytes: short enough to look harmless, too long for the sockets. */
    char tmp[] = "/tmp/portshim-e2e-tmpdir-XXXXXX";
    cr_assert(mkdtemp(tmp));
    e2e_env_set(&env, "TMPDIR", tmp);
    e2e_env_set(&env, "H", e2e_helper(""));
    e2e_env_set(&env, "D", e2e_tmp());
    struct e2e_proc *p = e2e_runl(&env, 60000, e2e_portshim(), "stress", "--mode", "unix",
                                  "--seed", "1", "-n", "2", "-j", "1", "--", "/bin/sh", "-c",
                                  "r=\"$D/ready.$PORTSHIM_STRESS_RUN\"; "
                                  "\"$H/echo-server\" 127.0.0.1 8000 --count 1 "
                                  "--ready-file \"$r\" & "
                                  "\"$H/client\" 127.0.0.1 8000 hi --wait-file \"$r\"; "
                                  "rc=$?; wait; exit $rc");
    rmdir(tmp);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "\nstress: 2 runs, 0 failed"), "%s", e2e_describe(p));
}

Test(stress, seeds_wrap_and_inject_reaches_every_copy)
{
    struct e2e_proc *p =
        stressl(60000, "--seed", "18446744073709551615", "-n", "2", "-j", "1", "--inject",
                "connect-refused=0.5", "--", "/bin/sh", "-c",
                "echo \"seed=$PORTSHIM_SEED inject=$PORTSHIM_INJECT\"; exit 2");
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    const char *out = e2e_out(p);
    cr_assert(strstr(out, "FAIL run 0 seed 18446744073709551615 exit 2 manifest "), "%s", out);
    cr_assert(strstr(out, "FAIL run 1 seed 0 exit 2 manifest "), "base+i wraps mod 2^64: %s", out);
    cr_assert(strstr(out, "  | seed=0 inject=connect-refused="), "%s", out);
    cr_assert(strstr(out, "replay: portshim stress --seed 0 -n 1 --inject 'connect-refused="),
              "%s", out);
    const char *a = strstr(out, "FAIL run 0 "), *b = strstr(out, "FAIL run 1 ");
    cr_assert(a < b, "with -j 1, run 0 finished first and is listed first: %s", out);
}

Test(stress, a_run_past_its_timeout_is_killed_and_fails_as_timeout)
{
    struct e2e_proc *p = stressl(60000, "-n", "2", "-j", "2", "--timeout", "0.5", "--seed", "3",
                                 "--", "/bin/sh", "-c", "echo started; sleep 50; echo never");
    cr_assert(!p->timed_out, "stress did not end its hung runs: %s", e2e_describe(p));
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    const char *out = e2e_out(p);
    cr_assert(strstr(out, "\nstress: 2 runs, 2 failed (100.0%"), "%s", out);
    cr_assert(strstr(out, "seed 3 exit timeout manifest ") &&
                  strstr(out, "seed 4 exit timeout manifest "),
              "%s", out);
    cr_assert(strstr(out, "  | started\n") && !strstr(out, "  | never"), "%s", out);
    /* replayed with the default 60 s, a timeout would not replay */
    cr_assert(strstr(out, "\nreplay: portshim stress --seed 3 -n 1 --timeout 0.5 -- /bin/sh -c "),
              "%s", out);
}

/* The output tail of a failed run whose last line is longer than what is
 * read back (64 KiB): that line's end, not nothing. */
Test(stress, a_huge_last_line_still_shows_in_the_tail)
{
    struct e2e_proc *p = stressl(60000, "-n", "1", "--seed", "5", "--", "/bin/sh", "-c",
                                 "i=0; while [ $i -lt 1100 ]; do printf %s "
                                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
                                 "i=$((i+1)); done; echo END; exit 3");
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    const char *out = e2e_out(p);
    cr_assert(strstr(out, "seed 5 exit 3 manifest "), "%s", out);
    cr_assert(strstr(out, "\n  | xxxx") && strstr(out, "xxxxEND\n  | portshim: "),
              "the long line's end is not in the tail: %s", out);
}

Test(stress, bad_options_are_usage_errors_with_one_line)
{
    static const char *const bad[][3] = {
        {"--seed", "abc", "abc"},
        {"--seed", "18446744073709551616", "18446744073709551616"},
        {"--inject", "bogus=1", "bogus"},
        {"-n", "0", "0"},
        {"--timeout", "-1", "-1"},
        {"--mode", "fast", "fast"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct e2e_proc *p = stressl(E2E_MS, bad[i][0], bad[i][1], "--", "/bin/true");
        cr_assert_eq(e2e_status(p), 2, "%s %s: %s", bad[i][0], bad[i][1], e2e_describe(p));
        const char *err = e2e_err(p);
        cr_assert(!strncmp(err, "portshim: ", 10) && strstr(err, bad[i][2]),
                  "the message does not name the value: %s", e2e_describe(p));
        cr_assert_str_eq(e2e_out(p), "", "%s", e2e_describe(p));
    }
}
