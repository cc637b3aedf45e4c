/* msession.h — a session's manifest: the descriptor it reads and appends
 * through, the incremental reader, the table made from what it read, the
 * claim (the manifest's flock) and the one way to write an event.
 *
 * Shared by the backends: the preload library keeps one per process
 * (preload/state.c, which also keeps the descriptor valid across fork and
 * against a program that closes it), the seccomp supervisor one per run
 * (cli/supervise.c). No lock of its own: the backend's lock guards every
 * call, and a claim is taken only under it. */
#ifndef PS_MSESSION_H
#define PS_MSESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/manifest.h"
#include "core/ns.h"

struct ps_msession {
    const struct ps_config *cfg;
    struct ps_reader rd;       /* rd.fd: the manifest descriptor, -1 none */
    struct ps_ns ns;           /* the table */
    unsigned sid_counter;
    bool flocked;              /* this hold of the backend's lock has the claim */
    uint64_t fresh_at;         /* see ps_ms_emit */
    unsigned bad_warned;       /* malformed lines reported (at most 10) */
};

/* fd open on cfg->manifest (O_APPEND). The reader skips the kinds the table
 * is not made of (connect, accept, start, conns): most of a busy manifest. */
void ps_ms_init(struct ps_msession *m, const struct ps_config *cfg, int fd);
void ps_ms_free(struct ps_msession *m);
/* The descriptor changed (a reopen): same file, same read position. */
static inline void ps_ms_set_fd(struct ps_msession *m, int fd) { m->rd.fd = fd; }
static inline int ps_ms_fd(const struct ps_msession *m) { return m->rd.fd; }

/* Reads what others appended into the table. An event naming a socket file
 * outside PORTSHIM_DIR is not this namespace's: ignored, with a warning (at
 * most 10). 0, or -1 with errno when reading failed. */
int ps_ms_refresh(struct ps_msession *m);
/* The claim: the flock, then the table read to the end; the flock is
 * released by ps_ms_claim_end. Without the flock (an error) the claim goes
 * on unserialised, as it always has, said once per process ("log once and
 * degrade", docs/design.md). */
void ps_ms_claim_begin(struct ps_msession *m);
/* fd_ok: the descriptor is still the manifest (the backend checked). */
void ps_ms_claim_end(struct ps_msession *m, bool fd_ok);
/* Appends e as one whole line (one O_APPEND write); a line the last read
 * left unfinished (a writer killed mid-line) is ended first. 0, or -1 with
 * errno when the write failed (nothing encoded: 0). */
int ps_ms_emit(struct ps_msession *m, const struct ps_event *e);
/* The next socket id of process pid: "pid.n" (infix "") or "pid.<infix>n". */
void ps_ms_next_sid(struct ps_msession *m, int pid, const char *infix, char sid[PS_SID_MAX]);

#endif
