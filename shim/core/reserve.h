/* reserve.h — the namespace's port-0 numbers: which it handed out, and in
 * what order they were let go.
 *
 * A number the namespace reported for a bind to port 0 stays reserved for
 * the run after its socket closes (the #2787 idiom: bind 0, read, close,
 * bind the number later). A later bind(0) gets a number never handed out
 * before one that was, and among handed-out ones the least recently
 * released. Derived from manifest events by every process alike (ns.c feeds
 * it), so the order is the namespace's, not a process's. Pure logic. */
#ifndef PS_RESERVE_H
#define PS_RESERVE_H

#include <stdbool.h>
#include <stdint.h>

struct ps_reserve {
    /* 65,536 entries, allocated on the first hand-out (zero pages cost
     * nothing until touched): 0 = never handed out; otherwise the sequence
     * number of its latest hand-out or release (larger = more recent). */
    uint32_t *seq;
    uint32_t clock;
};

/* A set of numbers in use in the namespace (live sockets), one bit each. */
struct ps_portset {
    uint64_t w[65536 / 64];
};

static inline bool ps_portset_has(const struct ps_portset *s, uint16_t p)
{
    return (s->w[p >> 6] >> (p & 63)) & 1;
}
static inline void ps_portset_add(struct ps_portset *s, uint16_t p)
{
    s->w[p >> 6] |= (uint64_t)1 << (p & 63);
}

void ps_reserve_init(struct ps_reserve *r);
void ps_reserve_free(struct ps_reserve *r);
/* The namespace reported port for a bind to port 0. */
void ps_reserve_handout(struct ps_reserve *r, uint16_t port);
/* A socket on port went away (a no-op for a number never handed out). */
void ps_reserve_release(struct ps_reserve *r, uint16_t port);
/* port was handed out by a bind to port 0 in this namespace. */
bool ps_reserve_reserved(const struct ps_reserve *r, uint16_t port);

/* The number a bind to port 0 gets. want (0: none) is the kernel's own
 * choice: it is kept when it is neither in use nor reserved. Otherwise a
 * number of [lo, hi] neither in use nor ever handed out, searched from
 * lo + start % (hi - lo + 1); otherwise the least recently released number
 * of [lo, hi] (or want) not in use. 0 when every number is in use: the
 * caller fails the bind with EADDRINUSE, as the kernel does when its range
 * is exhausted. */
uint16_t ps_reserve_pick(const struct ps_reserve *r, const struct ps_portset *used,
                         uint16_t want, uint16_t lo, uint16_t hi, uint32_t start);

#endif
