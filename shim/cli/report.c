/* report.c — `portshim report`: read a manifest once and gather its sockets
 * (by sid, with their lifetimes and the connects routed to them), its failed
 * calls and its malformed lines. */
#include "cli/report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"

void usage_report(FILE *f)
{
    fputs("usage: portshim report [--manifest FILE] [--worker W] [--json]\n"
          "\n"
          "Tells what happened in a namespace: every socket bound in it (virtual and\n"
          "real endpoint, process, whether it listened, when it opened and closed, how\n"
          "many connects were routed to it), every failed call and conflict (newest\n"
          "last), and the manifest lines it could not read (malformed, or a last line\n"
          "cut short). Times count from the run's start. Inside 'portshim run' the\n"
          "manifest comes from $PORTSHIM_MANIFEST. A 'run --per-worker' has a section\n"
          "per worker after the run's own. See docs/report.md.\n"
          "\n"
          "  --manifest FILE  the namespace's manifest\n"
          "  --worker W       only the sub-namespace of worker W (its variable's value)\n"
          "  --json           one JSON object: listeners, failures, skipped_lines\n"
          "                   (relative and absolute times; docs/report.md)\n",
          f);
}

/* Grows *v (of *cap elements of size sz) to hold one more than n. */
static bool grow(void *v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *nv = realloc(*(void **)v, ncap * sz);
    if (!nv)
        return false;
    *(void **)v = nv;
    *cap = ncap;
    return true;
}

/* ---- sid -> socket and rpath -> socket indexes ------------------------ */

static size_t str_hash(const char *s)
{
    size_t h = 1469598103934665603ULL & SIZE_MAX;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
    return h;
}

static const char *key_of(const struct report *r, const struct rindex *x, size_t idx)
{
    return (const char *)&r->socks[idx] + x->key_off;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t *hash_slot(const struct report *r, const struct rindex *x, const char *key)
{
    size_t i = str_hash(key) & (x->cap - 1);
    for (;; i = (i + 1) & (x->cap - 1))
        if (!x->v[i] || !strcmp(key_of(r, x, x->v[i] - 1), key))
            return &x->v[i];
}

/* socks[idx] is the newest socket with its key. */
static bool hash_put(struct report *r, struct rindex *x, size_t idx)
{
    if ((x->used + 1) * 2 > x->cap) {
        size_t ncap = x->cap ? x->cap * 2 : 64;
        size_t *old = x->v, oldcap = x->cap;
        if (!(x->v = calloc(ncap, sizeof *x->v))) {
            x->v = old;
            return false;
        }
        x->cap = ncap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i])
                *hash_slot(r, x, key_of(r, x, old[i] - 1)) = old[i];
        free(old);
    }
    size_t *slot = hash_slot(r, x, key_of(r, x, idx));
    if (!*slot)
        x->used++;
    *slot = idx + 1;   /* a re-used key now means its newest socket */
    return true;
}

static struct rsock *sock_by(const struct report *r, const struct rindex *x, const char *key)
{
    if (!x->cap || !key[0])
        return NULL;
    size_t slot = *hash_slot(r, x, key);
    return slot ? &r->socks[slot - 1] : NULL;
}

static struct rsock *sock_by_sid(const struct report *r, const char *sid)
{
    return sock_by(r, &r->by_sid, sid);
}

/* ---- socket lifetimes (the same holder rules as core/ns.c) ------------- */

static void close_sock(struct report *r, struct rsock *s, double ts, bool stale)
{
    if (s->closed)
        return;
    s->closed = true;
    s->stale = stale;
    s->ts_close = ts;
    size_t last = r->open[--r->nopen];
    r->open[s->open_pos] = last;
    r->socks[last].open_pos = s->open_pos;
}

static bool holds(void *ctx, int pid, const char *sid)
{
    const struct rsock *s = sock_by_sid(ctx, sid);
    return s && !s->closed && ps_pidset_has(&s->holders, pid);
}

static void add_sock(struct report *r, const struct ps_event *e)
{
    if (!grow(&r->socks, &r->capsocks, r->nsocks, sizeof *r->socks) ||
        !grow(&r->open, &r->capopen, r->nopen, sizeof *r->open)) {
        r->oom = true;
        return;
    }
    struct rsock *s = &r->socks[r->nsocks];
    memset(s, 0, sizeof *s);
    memcpy(s->sid, e->sid, sizeof s->sid);
    s->pid = e->pid;
    memcpy(s->prog, e->prog, sizeof s->prog);
    memcpy(s->mode, e->mode, sizeof s->mode);
    s->fam = e->fam;
    s->has_addr = e->has_addr;
    s->addr = e->addr;
    s->port = e->port;
    s->has_raddr = e->has_raddr;
    s->raddr = e->raddr;
    s->rport = e->rport;
    memcpy(s->rpath, e->rpath, sizeof s->rpath);
    s->ts_open = e->ts;
    s->line = r->rd->lineno;
    s->open_pos = r->nopen;
    if (!hash_put(r, &r->by_sid, r->nsocks) ||
        (s->rpath[0] && !hash_put(r, &r->by_rpath, r->nsocks))) {
        r->oom = true;
        return;
    }
    ps_pidset_add(&s->holders, e->pid);
    r->open[r->nopen++] = r->nsocks++;
    ps_pidmap_note(&r->pids, e->pid, e->sid, holds, r);
}

/* A routed connect: credit the socket listening on its real endpoint. */
static void credit_connect(struct report *r, const struct ps_event *e)
{
    struct rsock *s = NULL;
    if (e->rpath[0]) {
        if ((s = sock_by(r, &r->by_rpath, e->rpath)) && s->closed)
            s = NULL;
    } else if (e->has_raddr && e->rport >= 0) {
        const struct ps_entry *en = ps_ns_by_real(&r->ns, &e->raddr, (uint16_t)e->rport, true);
        if (!en)
            en = ps_ns_by_real(&r->ns, &e->raddr, (uint16_t)e->rport, false);
        if (en)
            s = sock_by_sid(r, en->sid);
    }
    if (s)
        s->connects++;
}

static void add_fail(struct report *r, const struct ps_event *e)
{
    if (!grow(&r->fails, &r->capfails, r->nfails, sizeof *r->fails)) {
        r->oom = true;
        return;
    }
    r->fails[r->nfails].e = *e;
    r->fails[r->nfails].line = r->rd->lineno;
    r->nfails++;
}

static void note_mode(struct report *r, const char *mode)
{
    for (int i = 0; i < r->nmodes; i++)
        if (!strcmp(r->modes[i], mode))
            return;
    if (r->nmodes < REPORT_MODES)
        memcpy(r->modes[r->nmodes++], mode, sizeof r->modes[0]);
}

static void on_event(void *ctx, const struct ps_event *e)
{
    struct report *r = ctx;
    struct rsock *s;
    if (r->events++ == 0 || e->ts < r->t_first)
        r->t_first = e->ts;
    if (e->ts > r->t_last)
        r->t_last = e->ts;
    if (!e->ok && !(e->ev == PS_EV_CONNECT && e->err == EINPROGRESS))
        add_fail(r, e);

    switch (e->ev) {
    case PS_EV_START:
        if (!r->has_start) {
            r->has_start = true;
            r->t_start = e->ts;
        }
        if (e->mode[0])
            note_mode(r, e->mode);
        break;
    case PS_EV_BIND:
        if (e->ok && e->sid[0])
            add_sock(r, e);
        break;
    case PS_EV_LISTEN:
        if (e->ok && (s = sock_by_sid(r, e->sid)) && !s->listening) {
            s->listening = true;
            s->ts_listen = e->ts;
        }
        break;
    case PS_EV_CONNECT:
        if (e->routed)
            credit_connect(r, e);
        break;
    case PS_EV_CLOSE:
    case PS_EV_STALE:
        if ((s = sock_by_sid(r, e->sid)))
            close_sock(r, s, e->ts, e->ev == PS_EV_STALE);
        break;
    case PS_EV_INHERIT:
        if ((s = sock_by_sid(r, e->sid)) && !s->closed && e->holder > 0) {
            ps_pidset_add(&s->holders, e->holder);
            ps_pidmap_note(&r->pids, e->holder, e->sid, holds, r);
        }
        break;
    case PS_EV_RELEASE:
        if ((s = sock_by_sid(r, e->sid)) && !s->closed &&
            ps_pidset_drop(&s->holders, e->holder > 0 ? e->holder : e->pid) && s->holders.n == 0)
            close_sock(r, s, e->ts, false);
        break;
    case PS_EV_EXIT: {
        const struct ps_pidsids *p = ps_pidmap_get(&r->pids, e->pid);
        for (unsigned i = 0; p && i < p->n; i++)
            if ((s = sock_by_sid(r, p->sid[i])) && !s->closed &&
                ps_pidset_drop(&s->holders, e->pid) && s->holders.n == 0)
                close_sock(r, s, e->ts, false);
        ps_pidmap_forget(&r->pids, e->pid);
        break;
    }
    default:
        break;
    }
    ps_ns_apply(&r->ns, e);
}

static void on_badline(void *ctx, uint64_t lineno, const char *line, size_t len)
{
    struct report *r = ctx;
    if (!grow(&r->bad, &r->capbad, r->nbad, sizeof *r->bad)) {
        r->oom = true;
        return;
    }
    r->bad[r->nbad++] = lineno;
}

/* Failures newest last, by time; equal times keep manifest order. */
static int fail_cmp(const void *a, const void *b)
{
    const struct rfail *x = a, *y = b;
    if (x->e.ts != y->e.ts)
        return x->e.ts < y->e.ts ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void report_free(struct report *r)
{
    for (size_t i = 0; i < r->nworkers; i++)
        report_free(&r->workers[i]);
    free(r->workers);
    for (size_t i = 0; i < r->nsocks; i++)
        ps_pidset_free(&r->socks[i].holders);
    free(r->socks);
    free(r->fails);
    free(r->bad);
    free(r->open);
    free(r->by_sid.v);
    free(r->by_rpath.v);
    ps_pidmap_free(&r->pids);
    ps_ns_free(&r->ns);
}

const char *report_endpoint(const struct ps_addr *a, bool has, int port, char *buf, size_t len)
{
    char t[PS_ADDRSTRLEN];
    if (!has && port < 0)
        snprintf(buf, len, "-");
    else if (!has)
        snprintf(buf, len, "*:%d", port);
    else if (port < 0)
        snprintf(buf, len, "%s", ps_addr_format(a, t));
    else if (a->fam == 6)
        snprintf(buf, len, "[%s]:%d", ps_addr_format(a, t), port);
    else
        snprintf(buf, len, "%s:%d", ps_addr_format(a, t), port);
    return buf;
}

/* Reads r->path into r; 0, or EXIT_USAGE (message printed). */
static int report_read(struct report *r)
{
    struct ps_reader rd;
    /* A post-mortem may read anyone's manifest: warnings, not refusals. */
    int fd = cli_open_manifest(r->path, false);
    if (fd == -2)
        cli_log(PS_LOG_ERROR, "cannot read manifest %s: %s", r->path, strerror(ENOENT));
    if (fd < 0)
        return EXIT_USAGE;
    r->by_sid.key_off = offsetof(struct rsock, sid);
    r->by_rpath.key_off = offsetof(struct rsock, rpath);
    ps_reader_init(&rd, fd);
    ps_ns_init(&r->ns);
    r->rd = &rd;
    long n = ps_reader_poll(&rd, on_event, on_badline, r);
    int err = errno;
    if (n >= 0 && rd.skipping) {
        /* The last line is over-long and has no newline: the reader has
         * reported it (at its number) and dropped what it read of it. */
        r->trunc_line = rd.lineno;
    } else if (n >= 0 && rd.len) {
        /* The last line has no newline: a writer died mid-line, or the file
         * was cut. Read what it holds if it is whole JSON, else skip it. */
        struct ps_event e;
        rd.lineno++;
        r->trunc_line = rd.lineno;
        int d = ps_event_decode(rd.buf, rd.len, &e);
        if (d == 0) {
            r->trunc_read = true;
            on_event(r, &e);
        } else if (d < 0) {
            on_badline(r, rd.lineno, rd.buf, rd.len);
        }
    }
    r->t0 = r->has_start ? r->t_start : r->t_first;
    ps_reader_free(&rd);
    r->rd = NULL;
    close(fd);
    if (n < 0) {
        cli_log(PS_LOG_ERROR, "cannot read manifest %s: %s", r->path, strerror(err));
        return EXIT_USAGE;
    }
    if (r->oom) {
        cli_log(PS_LOG_ERROR, "out of memory reading manifest %s", r->path);
        return EXIT_USAGE;
    }
    if (r->nfails > 1)
        qsort(r->fails, r->nfails, sizeof *r->fails, fail_cmp);
    return 0;
}

/* A --per-worker run: a section per worker's sub-namespace, its times
 * counted from the run's start like the run's own. */
static int read_workers(struct report *r, const char *root, char (*names)[PS_WORKER_NAME_MAX + 1],
                        char (*paths)[PS_PATH_MAX], size_t n)
{
    if (!n || !(r->workers = calloc(n, sizeof *r->workers)))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char dir[PS_PATH_MAX];
        struct report *w = &r->workers[r->nworkers];
        if (ps_worker_paths(root, names[i], dir, paths[i]) || access(paths[i], F_OK))
            continue;
        w->path = paths[i];
        w->worker = names[i];
        r->nworkers++;
        if (report_read(w))
            return EXIT_USAGE;
        if (r->events)
            w->t0 = r->t0;
        if (!w->nmodes)   /* the run's start event says the mode for all */
            memcpy(w->modes, r->modes, sizeof w->modes), w->nmodes = r->nmodes;
    }
    return 0;
}

int cmd_report(int argc, char **argv)
{
    const char *manifest = NULL, *worker = NULL;
    bool json = false;
    int i = 1, rc;
    while (i < argc) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage_report(stdout);
            return 0;
        }
        if ((rc = cli_opt(argc, argv, &i, "--manifest", &manifest)) ||
            (rc = cli_opt(argc, argv, &i, "--worker", &worker))) {
            if (rc < 0)
                return usage_hint("report");
            continue;
        }
        if ((rc = cli_flag(a, "--json", &json))) {
            if (rc < 0)
                return usage_hint("report");
            i++;
            continue;
        }
        cli_log(PS_LOG_ERROR, a[0] == '-' ? "report: unknown option '%s'"
                                         : "report: unexpected argument '%s'", a);
        return usage_hint("report");
    }

    struct report r;
    char root[PATH_MAX], wpath[PS_PATH_MAX];
    char (*names)[PS_WORKER_NAME_MAX + 1] = NULL;
    char (*paths)[PS_PATH_MAX] = NULL;
    size_t nnames = 0;
    memset(&r, 0, sizeof r);
    if (!(r.path = cli_manifest_path(manifest)))
        return EXIT_USAGE;
    bool has_root = cli_worker_root(manifest, r.path, root, sizeof root) == 0;
    if (worker) {
        if (!has_root) {
            cli_log(PS_LOG_ERROR, "--worker: %s has no private directory for sub-namespaces "
                    "(not a 'portshim run --per-worker' manifest)", r.path);
            return EXIT_USAGE;
        }
        if (cli_worker_manifest(root, worker, wpath))
            return EXIT_USAGE;
        /* Its times count from the run's start: read the run's first. */
        struct report run;
        memset(&run, 0, sizeof run);
        run.path = r.path;
        rc = report_read(&run);
        report_free(&run);
        if (rc)
            return rc;
        r.path = wpath;
        r.worker = worker;
        rc = report_read(&r);
        if (!rc && run.events)
            r.t0 = run.t0;
        if (!rc && !r.nmodes)
            memcpy(r.modes, run.modes, sizeof r.modes), r.nmodes = run.nmodes;
    } else {
        rc = report_read(&r);
        if (!rc && has_root && (nnames = cli_workers_list(root, &names)) &&
            (paths = calloc(nnames, sizeof *paths)))
            rc = read_workers(&r, root, names, paths, nnames);
    }
    if (!rc) {
        if (json)
            report_json(&r, stdout);
        else
            report_text(&r, stdout);
        if (fflush(stdout)) {
            cli_log(PS_LOG_ERROR, "cannot write to stdout: %s", strerror(errno));
            rc = EXIT_USAGE;
        }
    }
    report_free(&r);
    free(names);
    free(paths);
    return rc;
}
