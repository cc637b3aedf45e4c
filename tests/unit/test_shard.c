/* test_shard.c — a stress plan over many machines: every run index in
 * exactly one shard, the CI engines' index bases, bad values named. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/shard.h"

static char err[256];

static int resolve(struct ps_shard_src src, struct ps_shard *s, const char **from)
{
    err[0] = 0;
    return ps_shard_resolve(&src, s, from, err, sizeof err);
}

Test(shard, every_run_belongs_to_exactly_one_shard_with_its_plan_index)
{
    for (long n = 1; n <= 7; n++)
        for (long runs = 0; runs <= 23; runs++) {
            int owner[23] = {0};
            long total = 0;
            for (long k = 1; k <= n; k++) {
                struct ps_shard s = {k, n};
                long c = ps_shard_count(&s, runs);
                total += c;
                for (long pos = 0; pos < c; pos++) {
                    long i = ps_shard_index(&s, pos);
                    cr_assert(i >= 0 && i < runs, "shard %ld/%ld run %ld of %ld", k, n, i, runs);
                    cr_assert_eq(i % n, k - 1);
                    owner[i]++;
                }
                cr_assert(ps_shard_index(&s, c) >= runs, "shard %ld/%ld stops short", k, n);
            }
            cr_assert_eq(total, runs, "%ld shards of %ld runs", n, runs);
            for (long i = 0; i < runs; i++)
                cr_assert_eq(owner[i], 1, "run %ld of %ld in %d of %ld shards", i, runs, owner[i], n);
        }
}

Test(shard, option_and_engines_name_the_same_shard_with_their_own_index_base)
{
    struct ps_shard s;
    const char *from;
    cr_assert_eq(resolve((struct ps_shard_src){0}, &s, &from), 0);
    cr_assert(s.k == 1 && s.n == 1 && from == NULL, "unsharded without anything");
    cr_assert_eq(resolve((struct ps_shard_src){.opt = "3/4"}, &s, &from), 0);
    cr_assert(s.k == 3 && s.n == 4 && !strcmp(from, "--shard"));
    cr_assert_eq(resolve((struct ps_shard_src){.ci_index = "3", .ci_total = "4"}, &s, &from), 0);
    cr_assert(s.k == 3 && s.n == 4 && !strcmp(from, "CI_NODE_INDEX"), "GitLab counts from 1");
    cr_assert_eq(resolve((struct ps_shard_src){.job_index = "2", .total = "4"}, &s, &from), 0);
    cr_assert(s.k == 3 && s.n == 4 && !strcmp(from, "JOB_COMPLETION_INDEX"),
              "an Indexed Job counts from 0");
    /* the option wins over the environment; JOB_COMPLETION_INDEX alone is
     * not a shard (no total) */
    cr_assert_eq(resolve((struct ps_shard_src){.opt = "1/2", .ci_index = "2", .ci_total = "2"},
                         &s, &from), 0);
    cr_assert(s.k == 1 && s.n == 2);
    cr_assert_eq(resolve((struct ps_shard_src){.job_index = "5"}, &s, &from), 0);
    cr_assert(s.k == 1 && s.n == 1);
    cr_assert_eq(resolve((struct ps_shard_src){.ci_index = "2", .ci_total = "4", .total = "4"},
                         &s, &from), 0);
}

Test(shard, bad_values_are_refused_with_a_reason_naming_them)
{
    static const struct {
        struct ps_shard_src src;
        const char *needle;
    } bad[] = {
        {{.opt = "0/3"}, "'0/3'"},
        {{.opt = "4/3"}, "shard 4 of 3"},
        {{.opt = "3"}, "'3'"},
        {{.opt = "/3"}, "'/3'"},
        {{.opt = "1/"}, "'1/'"},
        {{.opt = "-1/3"}, "'-1/3'"},
        {{.opt = "1/3x"}, "'1/3x'"},
        {{.opt = "1/99999999999999999999"}, "1/9999"},
        {{.opt = "1/3", .total = "4"}, "disagree"},
        {{.total = "0"}, "'0'"},
        {{.total = "4"}, "JOB_COMPLETION_INDEX"},
        {{.total = "4", .job_index = "4"}, "counts from 0"},
        {{.total = "4", .job_index = "x"}, "'x'"},
        {{.ci_index = "1"}, "CI_NODE_TOTAL"},
        {{.ci_total = "2"}, "only CI_NODE_TOTAL"},
        {{.ci_index = "0", .ci_total = "2"}, "from 1"},
        {{.ci_index = "3", .ci_total = "2"}, "shard 3 of 2"},
        {{.ci_index = "1", .ci_total = "2", .total = "3"}, "disagree"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ps_shard s;
        const char *from;
        cr_assert_eq(resolve(bad[i].src, &s, &from), -1, "case %zu accepted", i);
        cr_assert(strstr(err, bad[i].needle) && !strchr(err, '\n'), "case %zu: '%s'", i, err);
    }
}

Test(shard, durations_take_units_and_refuse_nonsense)
{
    static const struct {
        const char *in;
        double secs;
    } ok[] = {{"90", 90}, {"90s", 90}, {"500ms", 0.5}, {"1.5m", 90}, {"2h", 7200}, {"0.1", 0.1}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        double v = 0;
        cr_assert_eq(ps_duration_parse(ok[i].in, &v), 0, "%s", ok[i].in);
        cr_assert_float_eq(v, ok[i].secs, 1e-9, "%s", ok[i].in);
    }
    static const char *const bad[] = {"", "0", "-1", "1d", "s", "1 s", " 1", "nan", "inf",
                                      "1e400", "9999999h", "+1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double v;
        cr_assert_eq(ps_duration_parse(bad[i], &v), -1, "'%s' accepted", bad[i]);
    }
}
