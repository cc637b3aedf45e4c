/* faults.h — the engine's side of injected faults (docs/inject.md): one
 * process's decisions, whichever backend sees its calls.
 *
 * A decision is ps_inject_draw(seed, key, kind, port, n) (core/inject.h):
 * key is the process's command line, n counts that process's decisions of
 * that kind at that port. The preload library keeps one set of counters per
 * process (a forked child continues its parent's); the seccomp supervisor
 * one per supervised process. */
#ifndef PS_ENGINE_FAULTS_H
#define PS_ENGINE_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/inject.h"
#include "core/manifest.h"

/* A process's counters: a plain array (1 MiB; only the pages of ports in
 * use are ever touched), bumped atomically. */
struct ps_inj_counts {
    uint32_t n[PS_INJ_KINDS][65536];
};

/* The next decision's number of kind at port (atomic, post-increment). */
static inline uint64_t ps_inj_next(struct ps_inj_counts *c, int kind, uint16_t port)
{
    return __atomic_fetch_add(&c->n[kind][port], 1, __ATOMIC_RELAXED);
}

/* The key of a process's decisions: FNV-1a of the command line at path
 * (/proc/self/cmdline, /proc/PID/cmdline), read in pieces; the empty
 * command line's key when it cannot be read. Bare system calls: callable
 * inside the preload library. */
uint64_t ps_inj_cmdline_key(const char *path);

/* A bind of e->port (the event as described so far) is failed by an
 * injected EADDRINUSE: true, with e filled as the record of the injected
 * failure (mode, ok false, errno, note, inj). */
bool ps_engine_inj_bind(const struct ps_config *c, uint64_t key, struct ps_inj_counts *cnt,
                        struct ps_event *e);

/* A connect to port: the injected delay (0: none) and whether it is then
 * refused; *kind and *us the decision a record takes (kind -1: none). */
struct ps_inj_connect {
    uint64_t delay_us;
    bool refused;
    int kind;          /* PS_INJ_CONNECT_REFUSED, PS_INJ_CONNECT_DELAY, or -1 */
    long long us;      /* for the record's inj_us, -1 absent */
};
void ps_engine_inj_connect(const struct ps_config *c, uint64_t key, struct ps_inj_counts *cnt,
                           uint16_t port, struct ps_inj_connect *d);

/* The decision into a connect's record (inj, inj_us; note "injected" for a
 * refusal with no note of its own). */
void ps_engine_inj_take(const struct ps_inj_connect *d, struct ps_event *e);

#endif
