/* shard.c — a stress plan split over many processes (see shard.h).
 *
 * The index bases differ and are the engines' own: GitLab's CI_NODE_INDEX
 * counts from 1, a Kubernetes Indexed Job's JOB_COMPLETION_INDEX from 0;
 * --shard K/N counts from 1 like the first. Shards take every N-th run
 * (round robin), not a block, so a plan's early and late seeds spread over
 * all machines. */
#include "core/shard.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int check(const struct ps_shard *o, const char *from, char *err, size_t errlen)
{
    if (o->k >= 1 && o->k <= o->n)
        return 0;
    snprintf(err, errlen, "%s: shard %ld of %ld: the shard must be from 1 to %ld%s", from, o->k,
             o->n, o->n, !strcmp(from, "JOB_COMPLETION_INDEX") ? " (the index counts from 0)" : "");
    return -1;
}

static bool set(const char *s)
{
    return s && *s;
}

int ps_shard_resolve(const struct ps_shard_src *src, struct ps_shard *o, const char **from,
                     char *err, size_t errlen)
{
    long n = 0;
    o->k = o->n = 1;
    *from = NULL;
    if (src->total && num(src->total, 1, SHARD_MAX, &n)) {
        snprintf(err, errlen, "--shards '%.64s': expected a whole number from 1 to %ld",
                 src->total, SHARD_MAX);
        return -1;
    }
    if (src->opt) {
        const char *opt = src->opt, *slash = strchr(opt, '/');
        char k[32];
        *from = "--shard";
        if (!slash || (size_t)(slash - opt) >= sizeof k) {
            snprintf(err, errlen, "--shard '%.64s': expected K/N, e.g. 2/4 (shard 2 of 4)", opt);
            return -1;
        }
        memcpy(k, opt, (size_t)(slash - opt));
        k[slash - opt] = 0;
        if (num(k, 1, SHARD_MAX, &o->k) || num(slash + 1, 1, SHARD_MAX, &o->n)) {
            snprintf(err, errlen, "--shard '%.64s': expected K/N with 1 <= K <= N <= %ld", opt,
                     SHARD_MAX);
            return -1;
        }
        if (src->total && n != o->n) {
            snprintf(err, errlen, "--shard %.64s and --shards %ld disagree", opt, n);
            return -1;
        }
        return check(o, *from, err, errlen);
    }
    if (set(src->ci_index) || set(src->ci_total)) {
        *from = "CI_NODE_INDEX";
        if (!set(src->ci_index) || !set(src->ci_total)) {
            snprintf(err, errlen, "CI_NODE_INDEX and CI_NODE_TOTAL go together: only %s is set",
                     set(src->ci_index) ? "CI_NODE_INDEX" : "CI_NODE_TOTAL");
            return -1;
        }
        if (num(src->ci_index, 1, SHARD_MAX, &o->k) || num(src->ci_total, 1, SHARD_MAX, &o->n)) {
            snprintf(err, errlen, "CI_NODE_INDEX='%.32s' CI_NODE_TOTAL='%.32s': expected whole "
                     "numbers, the index from 1", src->ci_index, src->ci_total);
            return -1;
        }
        if (src->total && n != o->n) {
            snprintf(err, errlen, "CI_NODE_TOTAL=%ld and --shards %ld disagree", o->n, n);
            return -1;
        }
        return check(o, *from, err, errlen);
    }
    if (src->total) {
        long i;
        *from = "JOB_COMPLETION_INDEX";
        if (!set(src->job_index)) {
            snprintf(err, errlen, "--shards %ld: which shard is this? Set JOB_COMPLETION_INDEX "
                     "(from 0) or CI_NODE_INDEX (from 1), or give --shard K/N", n);
            return -1;
        }
        if (num(src->job_index, 0, SHARD_MAX - 1, &i)) {
            snprintf(err, errlen, "JOB_COMPLETION_INDEX='%.32s': expected a whole number from 0",
                     src->job_index);
            return -1;
        }
        o->k = i + 1;
        o->n = n;
        return check(o, *from, err, errlen);
    }
    return 0;
}

long ps_shard_count(const struct ps_shard *s, long runs)
{
    return runs / s->n + (runs % s->n >= s->k);
}

long ps_shard_index(const struct ps_shard *s, long pos)
{
    return pos * s->n + (s->k - 1);
}

int ps_duration_parse(const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || !(x > 0) || *v == ' ' || *v == '+')
        return -1;
    if (!strcmp(end, "ms"))
        x /= 1000;
    else if (!strcmp(end, "m"))
        x *= 60;
    else if (!strcmp(end, "h"))
        x *= 3600;
    else if (*end && strcmp(end, "s"))
        return -1;
    if (!(x > 0) || x > 86400.0 * 365)
        return -1;
    *out = x;
    return 0;
}
