/* inject.h — seeded fault injection: the --inject grammar and the decisions.
 *
 * Every decision is a pure function of (seed, process key, kind, port, n):
 * the same seed replays the same decisions in each process of a run,
 * whatever order threads and children make their calls in. */
#ifndef PS_INJECT_H
#define PS_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ps_inj_kind { PS_INJ_CONNECT_DELAY, PS_INJ_ACCEPT_DELAY,
                   PS_INJ_BIND_EADDRINUSE, PS_INJ_CONNECT_REFUSED,
                   /* Added last: the kinds before it keep their numbers, so a
                    * seed replays the same decisions as before it existed. */
                   PS_INJ_UDP_DROP, PS_INJ_KINDS };

struct ps_inj_delay { uint64_t lo_us, hi_us; double p; };   /* p = 0: off */

struct ps_inject {
    bool any;
    struct ps_inj_delay connect_delay, accept_delay;
    double bind_eaddrinuse, connect_refused;                  /* 0: off */
    double udp_drop;                                          /* 0: off */
};

#define PS_INJ_MAX_US 60000000ull                /* a delay is at most 60 s */

/* Grammar (docs/inject.md):
 *   SPEC  := ITEM [',' ITEM]...
 *   ITEM  := connect-delay=DELAY | accept-delay=DELAY
 *          | bind-eaddrinuse=PROB | connect-refused=PROB | udp-drop=PROB
 *   DELAY := DUR ['-' DUR] ['@' PROB]    fixed, or uniform in [lo,hi]; with probability PROB (default 1)
 *   DUR   := NUMBER ('us'|'ms'|'s')      at most 60s; lo <= hi
 *                                        (in a range a bare lo takes hi's unit: 0-50ms)
 *   PROB  := NUMBER in [0,1] | NUMBER '%'
 * Each item at most once. Examples: "accept-delay=30ms@0.3",
 * "connect-delay=0-50ms,connect-refused=2%".
 * Errors are one line naming the item, e.g.
 *   "--inject 'accept-delay=5xs': bad duration '5xs' (use 10us, 5ms or 1s)".
 * Returns 0, or -1 with the message in err (*in is then all off). */
int ps_inject_parse(const char *s, struct ps_inject *in, char *err, size_t errlen);
/* The same, with label in place of "--inject" in messages
 * ("PORTSHIM_INJECT 'accept-delay=5xs': bad duration ..."). */
int ps_inject_parse_as(const char *label, const char *s, struct ps_inject *in,
                       char *err, size_t errlen);

/* Decimal 0..2^64-1. */
int ps_seed_parse(const char *s, uint64_t *seed, char *err, size_t errlen);

/* Canonical text of a parsed spec (for printing replay commands): items in
 * grammar order, parses back to the same spec; "" when nothing is on. */
void ps_inject_format(const struct ps_inject *in, char *buf, size_t len);

/* A stable key of the process: FNV-1a of its command line (NUL-separated argv). */
uint64_t ps_inject_key(const char *cmdline, size_t len);

/* The n-th decision of kind at virtual port in the process keyed key, for seed:
 * pure function (splitmix64-style mixing). */
uint64_t ps_inject_draw(uint64_t seed, uint64_t key, int kind, uint16_t port, uint64_t n);
bool ps_inject_fail(const struct ps_inject *in, uint64_t seed, uint64_t key, int kind,
                    uint16_t port, uint64_t n);    /* bind, refused, udp-drop kinds */
uint64_t ps_inject_delay_us(const struct ps_inject *in, uint64_t seed, uint64_t key,
                            int kind, uint16_t port, uint64_t n);  /* 0: no delay */

/* "connect-delay", "accept-delay", "bind-eaddrinuse", "connect-refused",
 * "udp-drop". */
const char *ps_inject_kind_name(int kind);

#endif
