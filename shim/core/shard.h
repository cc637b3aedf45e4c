/* shard.h — which runs of a `portshim stress` plan a shard owns, and the
 * shard a CI engine's variables name. Pure: the caller reads the
 * environment and passes the values in (unit-tested in test_shard.c). */
#ifndef PS_SHARD_H
#define PS_SHARD_H

#include <stddef.h>

/* Shard k of n, 1 <= k <= n: the runs whose index i has i % n == k - 1.
 * Unsharded is 1/1. */
struct ps_shard {
    long k, n;
};

/* The values that can name a shard, NULL when not given or not set. */
struct ps_shard_src {
    const char *opt;            /* --shard K/N (K from 1) */
    const char *total;          /* --shards N */
    const char *ci_index;       /* CI_NODE_INDEX (GitLab; from 1) */
    const char *ci_total;       /* CI_NODE_TOTAL */
    const char *job_index;      /* JOB_COMPLETION_INDEX (Kubernetes Indexed Job; from 0) */
};

/* --shard first, then CI_NODE_INDEX/CI_NODE_TOTAL, then JOB_COMPLETION_INDEX
 * with --shards; 1/1 when none is given (JOB_COMPLETION_INDEX alone is not
 * enough: the total is not in a pod's environment). *from names what was
 * used ("--shard", "CI_NODE_INDEX", "JOB_COMPLETION_INDEX"; NULL for 1/1).
 * 0, or -1 with a one-line reason in err. */
int ps_shard_resolve(const struct ps_shard_src *src, struct ps_shard *out, const char **from,
                     char *err, size_t errlen);

/* How many of a plan of `runs` runs the shard owns. */
long ps_shard_count(const struct ps_shard *s, long runs);
/* The plan index of the shard's pos-th run (from 0). */
long ps_shard_index(const struct ps_shard *s, long pos);

/* "90", "90s", "500ms", "1.5m", "2h" -> seconds (> 0, at most a year). */
int ps_duration_parse(const char *v, double *secs);

#endif
