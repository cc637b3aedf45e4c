/* stress.h — what `portshim stress` shares between its files: the shard a
 * process runs (shard.c), the record of a finished run, and the two ways
 * runs leave the process besides the summary: JSON Lines (results.c, which
 * also reads them back for `stress merge`) and JUnit XML (junit.c). */
#ifndef PS_CLI_STRESS_H
#define PS_CLI_STRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Shard k of n (1 <= k <= n): the runs whose index i has i % n == k - 1
 * (core/shard.h). Unsharded is 1/1. */
struct shard {
    long k, n;
    const char *from;           /* "--shard", "CI_NODE_INDEX", ... (for messages) */
};

/* The shard from --shard K/N (opt, may be NULL), else from the environment:
 * CI_NODE_INDEX (from 1) and CI_NODE_TOTAL, or JOB_COMPLETION_INDEX (from 0)
 * with the total from --shards N (total, may be NULL). 0, or -1 with a
 * one-line message printed. */
int shard_resolve(const char *opt, const char *total, struct shard *out);

/* One finished run. */
struct stress_run {
    long idx;
    uint64_t seed;
    int exit;                   /* exit status, or -1 (a signal, a timeout) */
    int sig;                    /* the signal that ended it, or 0 */
    bool timeout;
    double start;               /* epoch seconds */
    double secs;                /* how long it ran */
    char *tail;                 /* its last output lines, '\n'-separated, printable */
    char *manifest;             /* the kept manifest (failed runs), or NULL */
    char *replay;               /* the command that replays it (failed runs), or NULL */
};

static inline bool stress_run_failed(const struct stress_run *r)
{
    return r->timeout || r->sig || r->exit != 0;
}

/* What every record carries besides the run: the plan it belongs to. */
struct stress_plan {
    uint64_t base_seed;
    long runs;                  /* -1: unbounded (--for) */
    struct shard shard;
};

/* "1", "signal 9" or "timeout" */
const char *stress_exit_text(const struct stress_run *r, char *buf, size_t len);

/* Wilson score interval for f failures in n runs, 95%. */
void stress_wilson(long f, long n, double *lo, double *hi);

/* The summary line both stress and merge print. */
void stress_summary(FILE *f, long runs, long failed, double secs);

/* A failed run: "FAIL run ..." line, its tail ("  | "-prefixed), its replay. */
void stress_print_failure(FILE *f, const struct stress_run *r);

/* The last lines of FILE (at most `lines`, each cut to 400 bytes, control
 * bytes as '?'), '\n'-separated without a final one; malloc'd ("" when
 * unreadable), NULL only when out of memory. */
char *stress_tail(const char *path, int lines);

/* One JSON line for r to f (--results). 0, or -1 when the write failed. */
int results_write(FILE *f, const struct stress_plan *p, const struct stress_run *r);

/* JUnit XML for the runs to path. 0, or -1 (message printed). */
int junit_write(const char *path, const struct stress_plan *p, const char *cmdline,
                const struct stress_run *runs, long n, double started, double secs);

int cmd_stress_merge(int argc, char **argv);
void usage_stress_merge(FILE *f);

#endif
