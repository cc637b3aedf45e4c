/* report.h — `portshim report`: what a manifest says, gathered in one pass
 * (report.c) and printed as aligned tables (report_text.c) or as one JSON
 * object (report_json.c). */
#ifndef PS_CLI_REPORT_H
#define PS_CLI_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/manifest.h"
#include "core/pidset.h"
#include "core/ns.h"

/* One socket bound in the namespace, by sid. */
struct rsock {
    char sid[PS_SID_MAX];
    int pid;
    char prog[PS_PROG_MAX];
    char mode[12];
    int fam;
    enum ps_proto proto;        /* a UDP socket never listens: it is bound */
    bool has_addr, has_raddr;
    struct ps_addr addr, raddr;
    int port, rport;            /* -1 when absent */
    char rpath[PS_UPATH_MAX];
    bool listening, closed, stale;
    double ts_open, ts_listen, ts_close;
    long connects;              /* routed connects that reached it */
    int cslot;                  /* its connect counter (-1: none) */
    long long cbase, counted;   /* the counter at its bind; connects counted */
    uint64_t line;              /* manifest line of its bind */
    size_t open_pos;            /* index in report.open while open */
    struct ps_pidset holders;
};

struct rfail {
    struct ps_event e;
    uint64_t line;
};

/* A string key of struct rsock (at key_off) -> index + 1 (0: empty slot). */
struct rindex {
    size_t *v;
    size_t cap, used;
    size_t key_off;
};

/* Connects that passed through (not to a listener of the namespace: the
 * host's database, a DNS server), by destination. Observe mode records
 * every connect; the others record routed ones only. */
#define RDEST_PROGS 4
struct rdest {
    int fam;
    enum ps_proto proto;        /* UDP and TCP port P are different destinations */
    struct ps_addr addr;
    int port;
    long connects, failed;
    double ts_first, ts_last;
    char progs[RDEST_PROGS][PS_PROG_MAX];
    int nprogs;
    bool more_progs;
};

#define REPORT_MODES 4

struct report {
    const char *path;
    struct ps_reader *rd;
    struct rsock *socks;
    size_t nsocks, capsocks;
    struct rfail *fails;
    size_t nfails, capfails;
    struct rfail *drops;        /* datagrams lost on purpose (inj udp-drop) */
    size_t ndrops, capdrops;
    uint64_t *bad;              /* line numbers of malformed lines */
    size_t nbad, capbad;
    size_t *open;               /* indices of socks not yet closed */
    size_t nopen, capopen;
    struct rindex by_sid;       /* the newest socket of each sid */
    struct rindex by_rpath;     /* ... of each socket file (unix mode) */
    struct ps_pidmap pids;      /* pid -> sids of the sockets it held */
    struct rdest *dests;        /* pass-through connects by destination */
    size_t ndests, capdests;
    size_t *dhash;              /* destination -> index + 1 */
    size_t dhcap;
    long passed;                /* pass-through connects in all */
    struct ps_ns ns;            /* live mappings, to credit routed connects */
    long events;
    double t_first, t_last;     /* smallest and largest ts seen */
    bool has_start;             /* a start event was read: times count from it */
    double t_start;             /* ts of the first start event */
    double t0;                  /* what relative times count from */
    uint64_t trunc_line;        /* the last line had no newline (0: it did) */
    bool trunc_read;            /* ... and it decoded all the same */
    char modes[REPORT_MODES][12];
    int nmodes;
    bool oom;
    const char *worker;         /* a worker's sub-namespace: its name; else NULL */
    struct report *workers;     /* a --per-worker run's: one per worker */
    size_t nworkers;
    struct rhtml *html;         /* --html: what only the picture needs (report_html.c) */
};

/* Reads the manifest at path into r (zeroed, r->html set or not). 0, or
 * EXIT_USAGE with a message printed. report_free releases it. */
int report_load(struct report *r, const char *path);
void report_free(struct report *r);

void report_text(const struct report *r, FILE *f);
void report_json(const struct report *r, FILE *f);

/* Text helpers shared by both outputs. */
const char *report_endpoint(const struct ps_addr *a, bool has, int port, char *buf, size_t len);
/* The same, marked "/udp" for a UDP endpoint (as /etc/services writes
 * 53/udp); a TCP one is unmarked, as every endpoint was before UDP. */
const char *report_endpoint_of(const struct ps_addr *a, bool has, int port, enum ps_proto proto,
                               char *buf, size_t len);
/* A datagram lost on purpose: the record of an injected udp-drop. */
bool report_is_drop(const struct ps_event *e);

/* --html (report_html.c): collection while reading, then the page. */
struct rhtml *report_html_new(void);
void report_html_free(struct rhtml *h);
/* Every event; target is the socket a connect was routed to, or NULL. */
void report_html_event(struct report *r, const struct ps_event *e, const struct rsock *target);
/* The page for r (and other beside it, may be NULL) to path ("-": stdout).
 * 0, or EXIT_USAGE with a message printed. */
int report_html_write(const char *path, const struct report *r, const struct report *other);
/* The page's template (shim/cli/report.html, embedded at build time). */
extern const unsigned char report_html_tpl[];
extern const unsigned long report_html_tpl_len;

#endif
