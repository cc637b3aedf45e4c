/* config.h — the PORTSHIM_* environment, parsed once into an immutable struct.
 *
 * Every error names the variable and the value in one line, so a wrong
 * setting fails loudly instead of running unisolated. */
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/inject.h"
#include "core/unixname.h"

enum ps_mode { PS_MODE_REMAP, PS_MODE_UNIX, PS_MODE_OBSERVE };

#define PS_PORTSPEC_MAX 64
struct ps_portspec {
    int n;                                   /* 0: no spec given */
    struct { uint16_t lo, hi; } r[PS_PORTSPEC_MAX];
};

enum ps_loglevel { PS_LOG_ERROR, PS_LOG_WARN, PS_LOG_INFO, PS_LOG_DEBUG };

#define PS_PATH_MAX 4096

/* Per-worker sub-namespaces (`portshim run --per-worker`): the variables a
 * test runner sets in each worker, the longest list and name accepted, and
 * the longest sub-namespace name (the encoded value; see ps_worker_name).
 * A worker's sub-namespace is ROOT/w-NAME, ROOT the run's private directory
 * (PORTSHIM_DIR): 3 + 12 bytes, so a ROOT of up to PS_WORKER_ROOT_MAX bytes
 * leaves room for unix mode's socket names (PS_UNAME_DIR_MAX). */
#define PS_WORKER_DEFAULT_VARS                                                      \
    "PYTEST_XDIST_WORKER,JEST_WORKER_ID,MOCHA_WORKER_ID,VITEST_POOL_ID,VITEST_WORKER_ID," \
    "TEST_WORKER_INDEX"
#define PS_WORKER_VARS_MAX 8
#define PS_WORKER_VAR_MAX 63
#define PS_WORKER_NAME_MAX 12
#define PS_WORKER_PREFIX "w-"
#define PS_WORKER_ROOT_MAX (PS_UNAME_DIR_MAX - 1 - 2 - PS_WORKER_NAME_MAX)

struct ps_config {
    enum ps_mode mode;
    char manifest[PS_PATH_MAX];              /* PORTSHIM_MANIFEST */
    char dir[PS_PATH_MAX];                   /* PORTSHIM_DIR, may be empty */
    struct ps_portspec ports;                /* PORTSHIM_PORTS: strictly virtual ports */
    enum ps_loglevel log;                    /* PORTSHIM_LOG */
    struct ps_inject inject;                 /* PORTSHIM_INJECT (docs/inject.md) */
    uint64_t seed;                           /* PORTSHIM_SEED, 0 when unset */
    /* PORTSHIM_PER_WORKER, validated ("A,B"); empty: no sub-namespaces */
    char workers[PS_WORKER_VARS_MAX * (PS_WORKER_VAR_MAX + 1)];
    /* Set by ps_config_worker: this process's sub-namespace name, or empty */
    char worker[PS_WORKER_NAME_MAX + 1];
    long share_uid, share_gid;               /* PORTSHIM_SHARE_UID/GID, -1 when unset */
    unsigned test_fail;                      /* PORTSHIM_TEST_FAIL (core/testfail.h) */
};

typedef const char *(*ps_getenv_fn)(const char *name);

/* Fills *c from the environment. Returns 0, or -1 with a one-line message
 * such as "PORTSHIM_MODE='fast': expected remap, unix or observe" in err. */
int ps_config_load(struct ps_config *c, ps_getenv_fn get, char *err, size_t errlen);

/* "8000", "8000-8100", "80,443,8000-8100"; ports 1..65535, lo <= hi. */
int ps_portspec_parse(const char *s, struct ps_portspec *spec, char *err, size_t errlen);
bool ps_portspec_contains(const struct ps_portspec *spec, uint16_t port);

/* "VAR[,VAR...]": 1-8 names of [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes
 * each. Returns how many, or -1 with a one-line reason in err. */
int ps_workervars_parse(const char *s, char *err, size_t errlen);

/* The sub-namespace name of a worker variable's value (not empty): the value
 * itself when it is a safe path component — [A-Za-z0-9._-], not starting
 * with '.', at most PS_WORKER_NAME_MAX bytes — else an encoding that is one:
 * every other byte (and a leading '.') as %XX, and a result still too long
 * as its first 3 bytes, '~' and 8 hex digits of a hash of the whole value.
 * Distinct values give distinct names (but for hash collisions among
 * over-long values). Returns 0 when the name is the value, 1 when encoded. */
int ps_worker_name(const char *value, char out[PS_WORKER_NAME_MAX + 1]);

/* Which worker this environment is: the first variable of vars (a validated
 * list) that get() finds set and not empty. Returns its value (and its name
 * in var, PS_WORKER_VAR_MAX + 1 bytes), or NULL when none is. */
const char *ps_worker_find(const char *vars, ps_getenv_fn get, char *var);

/* ROOT/w-NAME and ROOT/w-NAME/manifest.jsonl into dir and manifest
 * (PS_PATH_MAX bytes each). -1 when they do not fit. */
int ps_worker_paths(const char *root, const char *name, char *dir, char *manifest);

/* Moves c into its worker's sub-namespace when c->workers is set and get()
 * finds one of the variables: c->dir and c->manifest become the worker's,
 * c->worker its name. Returns 0 (not a worker: c unchanged), 1 (a worker;
 * note holds a one-line warning when the value had to be encoded, else ""),
 * or -1 with a one-line error. Pure: creates nothing. */
int ps_config_worker(struct ps_config *c, ps_getenv_fn get, char *note, size_t notelen,
                     char *err, size_t errlen);

const char *ps_mode_name(enum ps_mode m);
int ps_mode_parse(const char *s, enum ps_mode *m);

#endif
