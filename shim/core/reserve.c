/* reserve.c — the order in which a namespace hands out port-0 numbers. */
#include "core/reserve.h"

#include <stdlib.h>
#include <string.h>

void ps_reserve_init(struct ps_reserve *r) { memset(r, 0, sizeof *r); }

void ps_reserve_free(struct ps_reserve *r)
{
    free(r->seq);
    memset(r, 0, sizeof *r);
}

static void stamp(struct ps_reserve *r, uint16_t port)
{
    /* 2^32 events would wrap the clock: renumber in order, oldest first
     * (never reached by a real run; kept correct anyway). */
    if (r->clock == UINT32_MAX) {
        uint32_t n = 0;
        for (;;) {
            uint32_t min = UINT32_MAX;
            for (uint32_t p = 0; p < 65536; p++)
                if (r->seq[p] > n && r->seq[p] < min)
                    min = r->seq[p];
            if (min == UINT32_MAX)
                break;
            n++;
            for (uint32_t p = 0; p < 65536; p++)
                if (r->seq[p] == min)
                    r->seq[p] = n;
        }
        r->clock = n;
    }
    r->seq[port] = ++r->clock;
}

void ps_reserve_handout(struct ps_reserve *r, uint16_t port)
{
    if (!port)
        return;
    /* Without memory the order degrades to "any free number", never to a
     * crash of the program under the shim. */
    if (!r->seq && !(r->seq = calloc(65536, sizeof *r->seq)))
        return;
    stamp(r, port);
}

void ps_reserve_release(struct ps_reserve *r, uint16_t port)
{
    if (r->seq && r->seq[port])
        stamp(r, port);
}

bool ps_reserve_reserved(const struct ps_reserve *r, uint16_t port)
{
    return r->seq && r->seq[port];
}

uint16_t ps_reserve_pick(const struct ps_reserve *r, const struct ps_portset *used,
                         uint16_t want, uint16_t lo, uint16_t hi, uint32_t start)
{
    if (want && !ps_portset_has(used, want) && !ps_reserve_reserved(r, want))
        return want;
    if (lo == 0)
        lo = 1;
    if (hi < lo)
        return 0;
    uint32_t span = (uint32_t)hi - lo + 1;
    start %= span;
    for (uint32_t i = 0; i < span; i++) {
        uint16_t p = (uint16_t)(lo + (start + i) % span);
        if (!ps_portset_has(used, p) && !ps_reserve_reserved(r, p))
            return p;
    }
    if (!r->seq)
        return 0;
    /* Every free number of the range has been handed out: the one released
     * longest ago. */
    uint16_t best = 0;
    uint32_t best_seq = UINT32_MAX;
    if (want && !ps_portset_has(used, want)) {
        best = want;
        best_seq = r->seq[want];
    }
    for (uint32_t p = lo; p <= hi; p++)
        if (!ps_portset_has(used, (uint16_t)p) && r->seq[p] < best_seq) {
            best = (uint16_t)p;
            best_seq = r->seq[p];
        }
    return best;
}
