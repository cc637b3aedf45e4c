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
    bool has_addr, has_raddr;
    struct ps_addr addr, raddr;
    int port, rport;            /* -1 when absent */
    char rpath[PS_UPATH_MAX];
    bool listening, closed, stale;
    double ts_open, ts_listen, ts_close;
    long connects;              /* routed connects that reached it */
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

#define REPORT_MODES 4

struct report {
    const char *path;
    struct ps_reader *rd;
    struct rsock *socks;
    size_t nsocks, capsocks;
    struct rfail *fails;
    size_t nfails, capfails;
    uint64_t *bad;              /* line numbers of malformed lines */
    size_t nbad, capbad;
    size_t *open;               /* indices of socks not yet closed */
    size_t nopen, capopen;
    struct rindex by_sid;       /* the newest socket of each sid */
    struct rindex by_rpath;     /* ... of each socket file (unix mode) */
    struct ps_pidmap pids;      /* pid -> sids of the sockets it held */
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
};

void report_text(const struct report *r, FILE *f);
void report_json(const struct report *r, FILE *f);

/* Text helpers shared by both outputs. */
const char *report_endpoint(const struct ps_addr *a, bool has, int port, char *buf, size_t len);

#endif
