/* shard.c — which shard of a `portshim stress` plan this process runs.
 *
 * CI engines run one job many times and tell each copy who it is; stress
 * takes that instead of growing its own distribution. The index bases
 * differ and are the engines' own: GitLab's CI_NODE_INDEX counts from 1
 * (with CI_NODE_TOTAL), a Kubernetes Indexed Job's JOB_COMPLETION_INDEX
 * from 0 (the total is not in the environment: --shards N), --shard K/N
 * from 1. */
#include "cli/stress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

#define SHARD_MAX 1000000L

static int num(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int check(struct shard *o)
{
    if (o->k < 1 || o->k > o->n) {
        cli_log(PS_LOG_ERROR, "%s: shard %ld of %ld: the shard must be from 1 to %ld", o->from,
                o->k, o->n, o->n);
        return -1;
    }
    return 0;
}

int shard_resolve(const char *opt, const char *total, struct shard *o)
{
    long n = 0;
    o->k = o->n = 1;
    o->from = NULL;
    if (total && num(total, 1, SHARD_MAX, &n)) {
        cli_log(PS_LOG_ERROR, "--shards '%.64s': expected a whole number from 1 to %ld", total,
                SHARD_MAX);
        return -1;
    }
    if (opt) {
        const char *slash = strchr(opt, '/');
        char k[32];
        o->from = "--shard";
        if (!slash || (size_t)(slash - opt) >= sizeof k) {
            cli_log(PS_LOG_ERROR, "--shard '%.64s': expected K/N, e.g. 2/4 (shard 2 of 4)", opt);
            return -1;
        }
        memcpy(k, opt, (size_t)(slash - opt));
        k[slash - opt] = 0;
        if (num(k, 1, SHARD_MAX, &o->k) || num(slash + 1, 1, SHARD_MAX, &o->n)) {
            cli_log(PS_LOG_ERROR, "--shard '%.64s': expected K/N with 1 <= K <= N <= %ld", opt,
                    SHARD_MAX);
            return -1;
        }
        if (total && n != o->n) {
            cli_log(PS_LOG_ERROR, "--shard %.64s and --shards %ld disagree", opt, n);
            return -1;
        }
        return check(o);
    }
    const char *ci_k = getenv("CI_NODE_INDEX"), *ci_n = getenv("CI_NODE_TOTAL");
    if ((ci_k && *ci_k) || (ci_n && *ci_n)) {
        o->from = "CI_NODE_INDEX";
        if (!ci_k || !*ci_k || !ci_n || !*ci_n) {
            cli_log(PS_LOG_ERROR, "CI_NODE_INDEX and CI_NODE_TOTAL go together: only %s is set",
                    ci_k && *ci_k ? "CI_NODE_INDEX" : "CI_NODE_TOTAL");
            return -1;
        }
        if (num(ci_k, 1, SHARD_MAX, &o->k) || num(ci_n, 1, SHARD_MAX, &o->n)) {
            cli_log(PS_LOG_ERROR, "CI_NODE_INDEX='%.32s' CI_NODE_TOTAL='%.32s': expected whole "
                    "numbers, the index from 1", ci_k, ci_n);
            return -1;
        }
        if (total && n != o->n) {
            cli_log(PS_LOG_ERROR, "CI_NODE_TOTAL=%ld and --shards %ld disagree", o->n, n);
            return -1;
        }
        return check(o);
    }
    const char *job = getenv("JOB_COMPLETION_INDEX");
    if (total) {
        o->from = "JOB_COMPLETION_INDEX";
        if (!job || !*job) {
            cli_log(PS_LOG_ERROR, "--shards %ld: which shard is this? Set JOB_COMPLETION_INDEX "
                    "(from 0) or CI_NODE_INDEX (from 1), or give --shard K/N", n);
            return -1;
        }
        long i;
        if (num(job, 0, SHARD_MAX - 1, &i)) {
            cli_log(PS_LOG_ERROR, "JOB_COMPLETION_INDEX='%.32s': expected a whole number from 0",
                    job);
            return -1;
        }
        o->k = i + 1;
        o->n = n;
        return check(o);
    }
    return 0;
}
