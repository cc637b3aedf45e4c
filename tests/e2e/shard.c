/* shard.c — `portshim stress` spread over many processes, as CI engines
 * run it: shards of one plan (--shard, CI_NODE_INDEX, JOB_COMPLETION_INDEX)
 * merged back give exactly the unsharded run; --results and --junit are
 * read back with independent parsers (Python's json and xml); `stress
 * merge` survives malformed input; --for and --until-fail stop when they
 * should; off a terminal the progress lines are few. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "e2e.h"

TestSuite(shard, .init = e2e_setup, .fini = e2e_teardown, .timeout = 150);

/* Fails exactly when its seed is 2 mod 5: deterministic per seed. */
#define FLAKY "echo \"run=$PORTSHIM_STRESS_RUN seed=$PORTSHIM_SEED\"; " \
              "test $((PORTSHIM_SEED % 5)) -ne 2"

static struct e2e_proc *stress_env(struct e2e_env *env, int timeout_ms, const char *const *argv)
{
    e2e_need_lib();
    const char *full[64] = {e2e_portshim(), "stress"};
    int n = 2;
    for (; argv[n - 2] && n < 63; n++)
        full[n] = argv[n - 2];
    full[n] = NULL;
    return e2e_run(env, timeout_ms, full);
}

static struct e2e_proc *stress(int timeout_ms, const char *const *argv)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_unset(&env, "CI_NODE_INDEX");
    e2e_env_unset(&env, "CI_NODE_TOTAL");
    e2e_env_unset(&env, "JOB_COMPLETION_INDEX");
    return stress_env(&env, timeout_ms, argv);
}
#define stressl(ms, ...) stress((ms), (const char *const[]){__VA_ARGS__, NULL})

/* Runs python3 CODE ARG and returns its stdout (the test fails on a
 * non-zero exit). */
static const char *py(const char *code, const char *arg)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, 60000, "/usr/bin/python3", "-c", code, arg);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    return e2e_out(p);
}

/* "index seed passed exit\n" for every record of a results file, sorted by
 * index, read by Python's json (so the file is real JSON Lines). */
static const char *records(const char *path)
{
    return py("import json,sys\n"
              "rs=[json.loads(l) for l in open(sys.argv[1])]\n"
              "for r in sorted(rs,key=lambda r:r['index']):\n"
              "  assert set(r)>={'index','seed','passed','exit','signal','timeout','time',"
              "'tail','manifest','replay','shard','base_seed','runs'}, r\n"
              "  assert isinstance(r['tail'],list) and (r['manifest'] is None)==r['passed'], r\n"
              "  print(r['index'],r['seed'],r['passed'],r['exit'])\n",
              path);
}

/* The "FAIL run ..." lines of a stress or merge output, "run seed exit"
 * each, sorted (stress lists them in finishing order, merge by run). */
static const char *fail_set(const char *out, char *acc, size_t cap)
{
    size_t n = 0;
    acc[0] = 0;
    const char *lines[256];
    int k = 0;
    for (const char *s = out; (s = strstr(s, "FAIL run ")) && k < 256; s++)
        if (s == out || s[-1] == '\n')
            lines[k++] = s;
    /* sort by run index */
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            if (atol(lines[j] + 9) < atol(lines[i] + 9)) {
                const char *t = lines[i];
                lines[i] = lines[j];
                lines[j] = t;
            }
    for (int i = 0; i < k; i++) {
        long run;
        unsigned long long seed;
        char x[32];
        cr_assert_eq(sscanf(lines[i], "FAIL run %ld seed %llu exit %31s", &run, &seed, x), 3);
        n += (size_t)snprintf(acc + n, cap - n, "%ld %llu %s\n", run, seed, x);
        cr_assert(n < cap);
    }
    return acc;
}

/* "stress: N runs, F failed " of the summary line, into line. */
static const char *summary(const char *out, char *line, size_t cap)
{
    const char *s = strstr(out, "\nstress: ");
    while (s && !strstr(s, " failed ("))
        s = strstr(s + 1, "\nstress: ");
    cr_assert(s, "no summary in %s", out);
    size_t n = strcspn(s + 1, ",");   /* "stress: N runs" */
    const char *f = strstr(s + 1, ", ");
    snprintf(line, cap, "%.*s%.*s", (int)n, s + 1, (int)strcspn(f, "("), f);
    return line;
}

Test(shard, shards_merged_give_the_runs_seeds_and_failures_of_one_unsharded_run)
{
    const char *whole = e2e_path("whole.jsonl");
    struct e2e_proc *w = stressl(120000, "-n", "17", "-j", "2", "--seed", "40", "--results",
                                 whole, "--", "/bin/sh", "-c", FLAKY);
    cr_assert_eq(e2e_status(w), 1, "%s", e2e_describe(w));

    /* shard 1 by option, shard 2 as a GitLab parallel job (index from 1),
     * shard 3 as a Kubernetes Indexed Job (index from 0) */
    const char *part[3] = {e2e_path("s1.jsonl"), e2e_path("s2.jsonl"), e2e_path("s3.jsonl")};
    struct e2e_proc *s[3];
    s[0] = stressl(120000, "-n", "17", "-j", "2", "--seed", "40", "--shard", "1/3", "--results",
                   part[0], "--", "/bin/sh", "-c", FLAKY);
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "CI_NODE_INDEX", "2");
    e2e_env_set(&env, "CI_NODE_TOTAL", "3");
    s[1] = stress_env(&env, 120000, (const char *const[]){"-n", "17", "-j", "2", "--seed", "40",
                                                          "--results", part[1], "--", "/bin/sh",
                                                          "-c", FLAKY, NULL});
    e2e_env_plain(&env);
    e2e_env_set(&env, "JOB_COMPLETION_INDEX", "2");
    s[2] = stress_env(&env, 120000, (const char *const[]){"-n", "17", "-j", "2", "--seed", "40",
                                                          "--shards", "3", "--results", part[2],
                                                          "--", "/bin/sh", "-c", FLAKY, NULL});
    int failing = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert(e2e_status(s[i]) == 0 || e2e_status(s[i]) == 1, "%s", e2e_describe(s[i]));
        failing += e2e_status(s[i]) == 1;
        /* shard i+1 of 3 holds exactly the runs i, i+3, i+6, ... */
        const char *recs = records(part[i]);
        long idx;
        int n = 0;
        for (const char *l = recs; *l; l = strchr(l, '\n') + 1, n++) {
            cr_assert_eq(sscanf(l, "%ld", &idx), 1);
            cr_assert_eq(idx % 3, i, "run %ld in shard %d: %s", idx, i + 1, recs);
        }
        cr_assert_eq(n, (17 - i + 2) / 3, "shard %d ran %d runs: %s", i + 1, n, recs);
    }
    cr_assert_eq(failing, 3, "seeds 42, 47 and 52 fail: one in each shard");

    struct e2e_proc *m = e2e_runl(&env, 60000, e2e_portshim(), "stress", "merge", part[0], part[1],
                                  part[2]);
    cr_assert_eq(e2e_status(m), 1, "a failed run makes merge exit 1: %s", e2e_describe(m));
    cr_assert_str_eq(e2e_err(m), "", "%s", e2e_describe(m));
    char a[1024], b[1024];
    cr_assert_str_eq(fail_set(e2e_out(m), a, sizeof a), fail_set(e2e_out(w), b, sizeof b),
                     "merged: %s\nwhole: %s", e2e_out(m), e2e_out(w));
    cr_assert_str_eq(a, "2 42 1\n7 47 1\n12 52 1\n", "%s", e2e_out(m));
    cr_assert_str_eq(summary(e2e_out(m), a, sizeof a), summary(e2e_out(w), b, sizeof b));
    cr_assert_str_eq(a, "stress: 17 runs, 3 failed ");
    cr_assert(strstr(e2e_out(m), "\nreplay: portshim stress --seed 47 -n 1 -- /bin/sh -c '"),
              "%s", e2e_out(m));

    /* the records themselves, index by index */
    const char *cat = e2e_path("all.jsonl");
    char all[8192] = "";
    for (int i = 0; i < 3; i++)
        strcat(all, e2e_slurp(part[i]));
    e2e_write_file(cat, all, false);
    snprintf(a, sizeof a, "%s", records(cat));
    cr_assert_str_eq(a, records(whole));
    /* without shard 2: merge says which runs are missing */
    m = e2e_runl(&env, 60000, e2e_portshim(), "stress", "merge", part[0], part[2]);
    cr_assert_eq(e2e_status(m), 1, "%s", e2e_describe(m));
    cr_assert(strstr(e2e_err(m), "portshim: stress merge: 6 of the plan's 17 runs are in no "
                                 "file (a shard missing?): runs 1, 4, 7, 10, 13, 16\n"),
              "%s", e2e_describe(m));
}

Test(shard, junit_has_a_testcase_per_run_counts_and_escaped_output)
{
    const char *xml = e2e_path("junit.xml");
    /* run 1 prints markup, quotes and control bytes, then fails */
    struct e2e_proc *p = stressl(60000, "-n", "4", "-j", "2", "--seed", "3", "--junit", xml,
                                 "--", "/bin/sh", "-c",
                                 "if [ $PORTSHIM_STRESS_RUN = 1 ]; then "
                                 "printf '</failure><x a=\"1\">&amp; \\001\\033[31m'\"'\"'\\n'; "
                                 "exit 4; fi");
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    const char *got = py(
        "import sys,xml.etree.ElementTree as E\n"
        "root=E.parse(sys.argv[1]).getroot()\n"
        "assert root.tag=='testsuites', root.tag\n"
        "(s,)=root.findall('testsuite')\n"
        "cases=s.findall('testcase')\n"
        "fails=[c for c in cases if c.find('failure') is not None]\n"
        "assert int(s.get('tests'))==len(cases) and int(s.get('failures'))==len(fails)\n"
        "assert int(root.get('tests'))==len(cases) and int(root.get('failures'))==len(fails)\n"
        "assert s.get('errors')=='0' and float(s.get('time'))>=0\n"
        "props={q.get('name'):q.get('value') for q in s.find('properties')}\n"
        "assert props['base_seed']=='3' and props['runs']=='4', props\n"
        "for c in cases: assert c.get('classname') and float(c.get('time'))>=0\n"
        "print(len(cases),len(fails),[c.get('name') for c in fails])\n"
        "f=fails[0].find('failure')\n"
        "print(f.get('type'),f.get('message').split(';')[0])\n"
        "print(repr(f.text.split(chr(10))[0]))\n"
        "print('replay: portshim stress --seed 4 -n 1' in f.get('message'))\n",
        xml);
    cr_assert_str_eq(got, "4 1 ['run 1 seed 4']\n"
                          "exit exit 4\n"
                          "'</failure><x a=\"1\">&amp; ??[31m\\''\n"
                          "True\n");
}

Test(shard, merge_names_bad_lines_and_never_crashes_on_them)
{
    const char *good = e2e_path("good.jsonl");
    struct e2e_proc *p = stressl(60000, "-n", "3", "--seed", "0", "--results", good, "--",
                                 "/bin/sh", "-c", "test $PORTSHIM_SEED != 1");
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    char text[16384];
    snprintf(text, sizeof text,
             "%s"
             "not json\n"
             "{\"index\":5}\n"
             "{\"index\":\"7\",\"seed\":7,\"passed\":true}\n"
             "{\"index\":8,\"seed\":-1,\"passed\":true}\n"
             "{\"index\":9,\"seed\":9,\"passed\":true,\"exit\":3}\n"
             "{\"index\":10,\"seed\":10,\"passed\":false,\"exit\":1,\"tail\":[\"a\\u0000\\ud800\"],"
             "\"x\":[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]}\n"
             "{\"index\":11,\"seed\":11,\"passed\":true,\"exit\":0,\"tail\":\"x\n"
             "[1,2\n"
             "{\"index\":12,\"seed\":99999999999999999999,\"passed\":true}\n"
             "\n"
             "{\"index\":13,\"seed\":13,\"passed\":false,\"exit\":2,\"tail\":[\"\\u001b[2J\"],"
             "\"future\":{\"k\":[1,null]}}\n"
             "{\"index\":14,\"seed\":14,\"passed\":true}\n",
             e2e_slurp(good));
    const char *bad = e2e_path("bad.jsonl");
    e2e_write_file(bad, text, false);
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *m = e2e_runl(&env, 60000, e2e_portshim(), "stress", "merge", bad);
    cr_assert_eq(e2e_status(m), 1, "%s", e2e_describe(m));
    /* the three good runs, run 13 (unknown keys are passed over) and run 14
     * (a record that says only whether it passed) */
    cr_assert(strstr(e2e_out(m), "stress: 5 runs, 2 failed "), "%s", e2e_describe(m));
    cr_assert(strstr(e2e_out(m), "\nFAIL run 13 seed 13 exit 2 manifest -\n  | ?[2J\n"), "%s",
              e2e_describe(m));
    static const int badlines[] = {4, 5, 6, 7, 8, 9, 10, 11, 12};
    const char *err = e2e_err(m);
    for (size_t i = 0; i < sizeof badlines / sizeof *badlines; i++) {
        char want[700];
        snprintf(want, sizeof want, "portshim: %s:%d: not a stress result (", bad, badlines[i]);
        cr_assert(strstr(err, want), "no '%s' in %s", want, err);
    }
    for (const char *l = err; *l; l = strchr(l, '\n') + 1)
        cr_assert(!strncmp(l, "portshim: ", 10) && strchr(l, '\n'), "not one line: %s", err);

    /* a line of 2 MiB is named and passed over, the next one read */
    size_t big = 2u << 20;
    const char *first = e2e_slurp(good);
    char *huge = malloc(big + strlen(first) + 2);
    cr_assert(huge);
    memset(huge, 'x', big);
    huge[big] = '\n';
    strcpy(huge + big + 1, first);
    const char *hf = e2e_path("huge.jsonl");
    e2e_write_file(hf, huge, false);
    free(huge);
    m = e2e_runl(&env, 60000, e2e_portshim(), "stress", "merge", hf);
    cr_assert_eq(e2e_status(m), 1, "%s", e2e_describe(m));
    cr_assert(strstr(e2e_out(m), "stress: 3 runs, 1 failed "), "%s", e2e_describe(m));
    cr_assert(strstr(e2e_err(m), "huge.jsonl:1: not a stress result (line longer than 1 MiB)"),
              "%s", e2e_describe(m));

    /* nothing readable, a missing file, no file: exit 2 with one line */
    const char *junk = e2e_path("junk");
    e2e_write_file(junk, "\x01\x02<html>\n", false);
    m = e2e_runl(&env, 60000, e2e_portshim(), "stress", "merge", junk);
    cr_assert_eq(e2e_status(m), 2, "%s", e2e_describe(m));
    cr_assert(strstr(e2e_err(m), "no runs read (1 malformed line)"), "%s", e2e_describe(m));
    m = e2e_runl(&env, 60000, e2e_portshim(), "stress", "merge", e2e_path("nothere"));
    cr_assert_eq(e2e_status(m), 2, "%s", e2e_describe(m));
    cr_assert(!strncmp(e2e_err(m), "portshim: stress merge: cannot read ", 36), "%s",
              e2e_describe(m));
    m = e2e_runl(&env, 60000, e2e_portshim(), "stress", "merge");
    cr_assert_eq(e2e_status(m), 2, "%s", e2e_describe(m));

    /* a missing shard's file: named, not counted as read; a failed run
     * read elsewhere is still the verdict (1), else the missing file is (2) */
    m = e2e_runl(&env, 60000, e2e_portshim(), "stress", "merge", good, e2e_path("nothere"));
    cr_assert_eq(e2e_status(m), 1, "%s", e2e_describe(m));
    cr_assert(strstr(e2e_out(m), "stress merge: 3 runs from 1 file\n"), "%s", e2e_describe(m));
    cr_assert(strstr(e2e_err(m), "portshim: stress merge: cannot read "), "%s", e2e_describe(m));
    const char *pass = e2e_path("pass.jsonl");
    p = stressl(60000, "-n", "2", "--seed", "0", "--results", pass, "--", "/bin/true");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    m = e2e_runl(&env, 60000, e2e_portshim(), "stress", "merge", pass, e2e_path("nothere"));
    cr_assert_eq(e2e_status(m), 2, "%s", e2e_describe(m));
    cr_assert(strstr(e2e_out(m), "stress merge: 2 runs from 1 file\n"), "%s", e2e_describe(m));
}

Test(shard, until_fail_starts_no_run_after_the_first_failure)
{
    const char *res = e2e_path("r.jsonl");
    struct e2e_proc *p = stressl(120000, "-n", "40", "-j", "1", "--seed", "0", "--until-fail",
                                 "--results", res, "--", "/bin/sh", "-c",
                                 "test $PORTSHIM_STRESS_RUN != 4");
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    cr_assert_str_eq(records(res), "0 0 True 0\n1 1 True 0\n2 2 True 0\n3 3 True 0\n4 4 False 1\n");
    cr_assert(strstr(e2e_out(p), "\nstress: stopped at the first failure (--until-fail): 5 of 40 "
                                 "runs done\nstress: 5 runs, 1 failed "),
              "%s", e2e_describe(p));
    /* every run passes: all of them run */
    p = stressl(120000, "-n", "3", "-j", "2", "--until-fail", "--", "/bin/true");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "\nstress: 3 runs, 0 failed "), "%s", e2e_describe(p));
}

Test(shard, for_duration_stops_starting_runs_when_the_time_is_up)
{
    /* no -n: as many runs as fit; the process must end by itself */
    const char *res = e2e_path("r.jsonl");
    struct e2e_proc *p = stressl(120000, "--for", "1s", "-j", "1", "--seed", "100", "--results",
                                 res, "--", "/bin/sh", "-c", "sleep 0.2");
    cr_assert(!p->timed_out && e2e_status(p) == 0, "%s", e2e_describe(p));
    const char *recs = records(res);
    int n = 0;
    for (const char *l = recs; *l; l = strchr(l, '\n') + 1) {
        long idx;
        unsigned long long seed;
        cr_assert_eq(sscanf(l, "%ld %llu", &idx, &seed), 2);
        cr_assert_eq(idx, n, "runs are numbered in order: %s", recs);
        cr_assert_eq(seed, 100 + (unsigned long long)n);
        n++;
    }
    cr_assert(n >= 1, "%s", e2e_describe(p));
    char want[64];
    snprintf(want, sizeof want, "\nstress: %d run%s, 0 failed ", n, n == 1 ? "" : "s");
    cr_assert(strstr(e2e_out(p), want), "want '%s': %s", want + 1, e2e_describe(p));
    /* -n still bounds it */
    p = stressl(120000, "--for", "1h", "-n", "3", "-j", "2", "--", "/bin/true");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "\nstress: 3 runs, 0 failed "), "%s", e2e_describe(p));
    /* sharded and unbounded: shard 2 of 2 runs the odd indices */
    p = stressl(120000, "--for", "0.5s", "-j", "1", "--shard", "2/2", "--results", res, "--",
                "/bin/true");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    recs = records(res);
    for (const char *l = recs; *l; l = strchr(l, '\n') + 1)
        cr_assert_eq(atol(l) % 2, 1, "%s", recs);
    cr_assert(strstr(e2e_out(p), "runs for 0.5 s in 2 shards; shard 2 (--shard) runs the runs "
                                 "whose index mod 2 is 1, 1 at a time"),
              "the first line says which runs: %s", e2e_describe(p));
}

Test(shard, off_a_terminal_progress_is_printed_per_tenth_of_the_runs_not_per_second)
{
    /* two runs of 1.5 s one after the other: per second, "0/2" and "1/2"
     * would each be printed more than once */
    struct e2e_proc *p = stressl(120000, "-n", "2", "-j", "1", "--", "/bin/sh", "-c", "sleep 1.5");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *err = e2e_err(p);
    int lines = 0;
    long last = -1;
    for (const char *l = err; *l; l = strchr(l, '\n') + 1) {
        long done;
        cr_assert_eq(sscanf(l, "stress: %ld/2 runs,", &done), 1, "%s", err);
        cr_assert(done > last, "a progress line with no more runs done: %s", err);
        last = done;
        lines++;
    }
    cr_assert(lines >= 1 && lines <= 2 && last == 2, "%s", err);
}

Test(shard, bad_shard_options_are_usage_errors_with_one_line)
{
    static const char *const bad[][4] = {
        {"--shard", "0/3", NULL, "0/3"},
        {"--shard", "4/3", NULL, "4 of 3"},
        {"--shard", "2", NULL, "'2'"},
        {"--shard", "1/x", NULL, "1/x"},
        {"--shards", "3", NULL, "JOB_COMPLETION_INDEX"},
        {"--shards", "2", "JOB_COMPLETION_INDEX=2", "3 of 2"},
        {"--shards", "2", "JOB_COMPLETION_INDEX=-1", "'-1'"},
        {"--shards", "2", "CI_NODE_INDEX=1", "CI_NODE_TOTAL"},
        {"--for", "soon", NULL, "soon"},
        {"--for", "0", NULL, "'0'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct e2e_env env;
        e2e_env_plain(&env);
        e2e_env_unset(&env, "CI_NODE_INDEX");
        e2e_env_unset(&env, "CI_NODE_TOTAL");
        e2e_env_unset(&env, "JOB_COMPLETION_INDEX");
        if (bad[i][2]) {
            char k[64];
            snprintf(k, sizeof k, "%s", bad[i][2]);
            *strchr(k, '=') = 0;
            e2e_env_set(&env, k, strchr(bad[i][2], '=') + 1);
        }
        struct e2e_proc *p = stress_env(&env, E2E_MS, (const char *const[]){
                                                          bad[i][0], bad[i][1], "--",
                                                          "/bin/true", NULL});
        cr_assert_eq(e2e_status(p), 2, "%s %s: %s", bad[i][0], bad[i][1], e2e_describe(p));
        const char *err = e2e_err(p);
        cr_assert(!strncmp(err, "portshim: ", 10) && strstr(err, bad[i][3]) &&
                      strchr(err, '\n') == err + strlen(err) - 1,
                  "one line naming the value: %s", e2e_describe(p));
        cr_assert_str_eq(e2e_out(p), "", "%s", e2e_describe(p));
    }
}

/* The lines of docs/sharding.md's code blocks containing `key`, the YAML
 * around them cut off (from "portshim" on), in order. */
static int doc_lines(const char *key, char out[][1024], int max)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", e2e_portshim());
    *strrchr(path, '/') = 0;   /* scripts/ */
    *strrchr(path, '/') = 0;   /* the checkout */
    strcat(path, "/docs/sharding.md");
    const char *doc = e2e_slurp(path);
    cr_assert(*doc, "cannot read %s", path);
    int n = 0;
    bool code = false;
    for (const char *l = doc; *l && n < max;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        const char *k = strstr(l, key);
        if (!strncmp(l, "```", 3))
            code = !code;
        else if (code && k && k < l + len) {
            const char *p = strstr(l, "portshim");
            snprintf(out[n++], 1024, "%.*s", (int)(l + len - p), p);
        }
        l += len + (nl != NULL);
    }
    return n;
}

/* s with every `from` replaced by `to`, in place (room: 1024). */
static void subst(char *s, const char *from, const char *to)
{
    char buf[2048], *p;
    size_t fl = strlen(from);
    while ((p = strstr(s, from))) {
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - s), s, to, p + fl);
        cr_assert(strlen(buf) < 1024);
        strcpy(s, buf);
    }
}

/* The recipe's placeholders made local: fewer runs, a flaky command for the
 * suite, the test's directory for the volume. */
static void localise(char *line)
{
    subst(line, "-n 8000 -j 4", "-n 10 -j 2");
    subst(line, "pytest -x tests/test_net.py", "/bin/sh -c 'test $((PORTSHIM_SEED % 5)) -ne 2'");
    subst(line, "/results/", "./");
}

static struct e2e_proc *sh_in_tmp(struct e2e_env *env, const char *line)
{
    char script[2048], path[1024];
    snprintf(path, sizeof path, "%s", e2e_portshim());
    *strrchr(path, '/') = 0;
    snprintf(script, sizeof script, "cd '%s' && PATH='%s':$PATH && %s", e2e_tmp(), path, line);
    return e2e_runl(env, 120000, "/bin/sh", "-c", script);
}

Test(shard, documented_recipes_run_as_local_processes)
{
    e2e_need_lib();
    char runs[4][1024], merges[4][1024], line[1024];
    cr_assert_eq(doc_lines("portshim stress -n", runs, 4), 2, "a GitHub and a Kubernetes recipe");
    cr_assert_eq(doc_lines("portshim stress merge", merges, 4), 2);
    cr_assert(strstr(runs[0], "--shard ${{ matrix.shard }}/4"), "%s", runs[0]);
    cr_assert(strstr(runs[1], "--shards 4") && strstr(runs[1], "$JOB_COMPLETION_INDEX"), "%s",
              runs[1]);

    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_unset(&env, "CI_NODE_INDEX");
    e2e_env_unset(&env, "CI_NODE_TOTAL");
    e2e_env_unset(&env, "JOB_COMPLETION_INDEX");
    /* the plan on one machine */
    snprintf(line, sizeof line, "portshim stress -n 10 -j 2 --seed 1 -- %s",
             "/bin/sh -c 'test $((PORTSHIM_SEED % 5)) -ne 2'");
    struct e2e_proc *whole = sh_in_tmp(&env, line);
    cr_assert_eq(e2e_status(whole), 1, "%s", e2e_describe(whole));
    char want[1024], got[1024], ws[128], gs[128];
    fail_set(e2e_out(whole), want, sizeof want);
    cr_assert_str_eq(want, "1 2 1\n6 7 1\n");

    /* GitHub: matrix.shard 1..4, then the merge job's command */
    for (int k = 1; k <= 4; k++) {
        char num[8];
        snprintf(num, sizeof num, "%d", k);
        snprintf(line, sizeof line, "%s", runs[0]);
        subst(line, "${{ matrix.shard }}", num);
        localise(line);
        struct e2e_proc *p = sh_in_tmp(&env, line);
        cr_assert(e2e_status(p) == 0 || e2e_status(p) == 1, "%s", e2e_describe(p));
    }
    snprintf(line, sizeof line, "%s", merges[0]);
    struct e2e_proc *m = sh_in_tmp(&env, line);
    cr_assert_eq(e2e_status(m), 1, "%s", e2e_describe(m));
    cr_assert_str_eq(fail_set(e2e_out(m), got, sizeof got), want, "%s", e2e_out(m));
    cr_assert_str_eq(summary(e2e_out(m), gs, sizeof gs), summary(e2e_out(whole), ws, sizeof ws));
    for (int k = 1; k <= 4; k++)   /* the JUnit files the workflow uploads */
        cr_assert(*e2e_slurp(e2e_path("junit-%d.xml", k)), "no junit-%d.xml", k);

    /* Kubernetes: JOB_COMPLETION_INDEX 0..3 (a failing shard still exits 0) */
    e2e_runl(&env, E2E_MS, "/bin/sh", "-c", "rm -f \"$0\"/results-*.jsonl", e2e_tmp());
    for (int i = 0; i < 4; i++) {
        char num[8];
        snprintf(num, sizeof num, "%d", i);
        e2e_env_set(&env, "JOB_COMPLETION_INDEX", num);
        snprintf(line, sizeof line, "%s", runs[1]);
        localise(line);
        struct e2e_proc *p = sh_in_tmp(&env, line);
        cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    }
    e2e_env_unset(&env, "JOB_COMPLETION_INDEX");
    snprintf(line, sizeof line, "%s", merges[1]);
    localise(line);
    m = sh_in_tmp(&env, line);
    cr_assert_eq(e2e_status(m), 1, "%s", e2e_describe(m));
    cr_assert_str_eq(fail_set(e2e_out(m), got, sizeof got), want, "%s", e2e_out(m));
    cr_assert_str_eq(summary(e2e_out(m), gs, sizeof gs), summary(e2e_out(whole), ws, sizeof ws));
}
