/* testfail.h — failures on demand, for the shim's own tests only.
 *
 * A few internal failures the shim survives by degrading (docs/design.md,
 * "Log once and degrade") are too rare to meet in a test: the manifest's
 * flock refused, no memory to track a socket, no memory to grow the table.
 * PORTSHIM_TEST_FAIL=flock,track-oom,table-oom makes them happen on every
 * occasion, so a test can check that each is said once and survived. Parsed
 * once with the rest of the configuration; absent, nothing fails. Not a
 * user's setting: it only makes the shim worse. */
#ifndef PS_TESTFAIL_H
#define PS_TESTFAIL_H

#include <stdbool.h>
#include <stddef.h>

enum {
    PS_TF_FLOCK = 1u,       /* "flock": the claim's flock on the manifest fails */
    PS_TF_TRACK_OOM = 2u,   /* "track-oom": no memory to track a bound socket */
    PS_TF_TABLE_OOM = 4u,   /* "table-oom": no memory for a new table entry */
};

/* "flock,track-oom,table-oom", any of them, each at most once. Returns 0
 * with the set in *mask, or -1 with a one-line reason in err. */
int ps_testfail_parse(const char *s, unsigned *mask, char *err, size_t errlen);
/* Set once, while the process is still single-threaded (configure). */
void ps_testfail_set(unsigned mask);
/* Should the failure `what` (one PS_TF_*) happen now? */
bool ps_testfail(unsigned what);

#endif
