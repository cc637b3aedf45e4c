/* counts.h — routed connects counted in shared memory, not lined.
 *
 * A namespace's connect counters live in "<manifest>.cnt" beside the
 * manifest: PS_CSLOT_MAX 64-bit counters after a 64-byte header, mapped
 * shared by every process of the run. A listener's bind takes a slot (under
 * the manifest's flock) and records it with the counter's value then
 * (cslot, cbase). A process's first routed connect to a listener is written
 * to the manifest in full; later ones only add one to the counter, so a
 * connect costs no write and no other process reads it. Whoever lets the
 * listener go (close, exit, a stale retirement) writes a "conns" event with
 * the count, and `portshim report` reads the counter of a listener still
 * open. A process killed before that loses nothing: the count is in the
 * file, not in it.
 *
 * The file is untrusted like the manifest: used only if it passes the
 * manifest's own checks (core/trust.h: a regular file, not a link, of this
 * user, root or the shared uid, writable by no one else) and has the
 * expected size and header; a slot is bounds-checked. A bad file, or none, means connects are
 * lined as in manifest version 1: counts can go wrong, routing never. */
#ifndef PS_COUNTS_H
#define PS_COUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ns.h"

/* Under ps_lock and the claim: a slot for a new listener and the counter's
 * value now; false when there is no usable counter file or no free slot. */
bool ps_cnt_claim(const struct ps_ns *ns, int *slot, long long *base);
/* Under ps_lock, after a routed connect started: true when it was counted
 * (a later connect of this process to that listener); false: record it. */
bool ps_cnt_take(int slot, const char *sid);
/* The table's generation (the header's second 8 bytes, PS_CNT_GEN): every
 * writer adds one after it appends an event that changes the mappings
 * (ps_emit), so a process whose table is as new as the generation it last
 * read need not read the manifest to route a datagram (dgram.h). Under
 * ps_lock. ps_cnt_gen: false when there is no usable counter file (then
 * read the manifest every time). */
void ps_cnt_bump(void);
bool ps_cnt_gen(uint64_t *gen);
/* Under ps_lock: write the "conns" event of socket sid, whose counter is
 * slot (-1: none) from base. */
void ps_cnt_emit(const char *sid, int slot, long long base);

#endif
