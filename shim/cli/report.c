/* report.c — `portshim report`: read a manifest once and gather its sockets
 * (by sid, with their lifetimes and the connects routed to them), its failed
 * calls and its malformed lines. */
#include "cli/report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"

void usage_report(FILE *f)
{
    fputs("usage: portshim report [--manifest FILE] [--worker W]\n"
          "                       [--json | --html FILE [--compare OTHER]]\n"
          "\n"
          "Tells what happened in a namespace: every socket bound in it (virtual and\n"
          "real endpoint, process, whether it listened, when it opened and closed, how\n"
          "many connects were routed to it), the connects that passed through to\n"
          "the host, by destination, every failed call and conflict (newest\n"
          "last), and the manifest lines it could not read (malformed, or a last line\n"
          "cut short). Times count from the run's start. Inside 'portshim run' the\n"
          "manifest comes from $PORTSHIM_MANIFEST. A 'run --per-worker' has a section\n"
          "per worker after the run's own. See docs/report.md.\n"
          "\n"
          "  --manifest FILE  the namespace's manifest\n"
          "  --worker W       only the sub-namespace of worker W (its variable's value)\n"
          "  --json           one JSON object: listeners, passthrough, failures,\n"
          "                   skipped_lines\n"
          "  --html FILE      write the run as a picture instead: one self-contained\n"
          "                   HTML file (a lane per process, listeners as bars,\n"
          "                   connects and accepts as marks, failures highlighted)\n"
          "  --compare OTHER  draw manifest OTHER beside it, aligned by virtual port\n"
          "                   (relative and absolute times; docs/report.md)\n"
          "\n"
          "Exit status: 0; 2 usage error, unreadable manifest, or (with --worker) a\n"
          "worker with no sub-namespace.\n",
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

/* ---- socket lifetimes (core/ns.h's holder rules, ps_holders_*) ---------- */

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
    s->cslot = e->cslot >= 0 && e->cbase >= 0 ? e->cslot : -1;
    s->cbase = e->cbase;
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
static struct rsock *credit_connect(struct report *r, const struct ps_event *e)
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
    return s;
}

/* ---- pass-through connects, by destination -------------------------------- */

static size_t dest_hash(int fam, const struct ps_addr *a, int port)
{
    size_t h = 1469598103934665603ULL & SIZE_MAX;
    h = (h ^ (size_t)fam) * (size_t)1099511628211ULL;
    for (int i = 0; i < 16; i++)
        h = (h ^ a->b[i]) * (size_t)1099511628211ULL;
    return (h ^ (size_t)port) * (size_t)1099511628211ULL;
}

static size_t *dest_slot(const struct report *r, int fam, const struct ps_addr *a, int port)
{
    for (size_t i = dest_hash(fam, a, port) & (r->dhcap - 1);; i = (i + 1) & (r->dhcap - 1)) {
        const struct rdest *d = r->dhash[i] ? &r->dests[r->dhash[i] - 1] : NULL;
        if (!d || (d->fam == fam && d->port == port && ps_addr_equal(&d->addr, a)))
            return &r->dhash[i];
    }
}

static void add_passthrough(struct report *r, const struct ps_event *e)
{
    if (!strcmp(e->inj, "connect-refused"))
        return;   /* refused by the shim: it never went anywhere */
    struct ps_addr none = {0};
    const struct ps_addr *a = e->has_addr ? &e->addr : &none;
    if ((r->ndests + 1) * 2 > r->dhcap) {
        size_t ncap = r->dhcap ? r->dhcap * 2 : 64;
        size_t *old = r->dhash, oldcap = r->dhcap;
        if (!(r->dhash = calloc(ncap, sizeof *r->dhash))) {
            r->dhash = old;
            r->oom = true;
            return;
        }
        r->dhcap = ncap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i]) {
                const struct rdest *d = &r->dests[old[i] - 1];
                *dest_slot(r, d->fam, &d->addr, d->port) = old[i];
            }
        free(old);
    }
    size_t *slot = dest_slot(r, e->fam, a, e->port);
    if (!*slot) {
        if (!grow(&r->dests, &r->capdests, r->ndests, sizeof *r->dests)) {
            r->oom = true;
            return;
        }
        struct rdest *d = &r->dests[r->ndests];
        memset(d, 0, sizeof *d);
        d->fam = e->fam;
        d->addr = *a;
        d->port = e->port;
        d->ts_first = e->ts;
        *slot = ++r->ndests;
    }
    struct rdest *d = &r->dests[*slot - 1];
    d->connects++;
    r->passed++;
    if (!e->ok && e->err != EINPROGRESS)
        d->failed++;
    if (e->ts < d->ts_first)
        d->ts_first = e->ts;
    if (e->ts > d->ts_last)
        d->ts_last = e->ts;
    int i = 0;
    while (i < d->nprogs && strcmp(d->progs[i], e->prog))
        i++;
    if (i == d->nprogs) {
        if (d->nprogs < RDEST_PROGS)
            memcpy(d->progs[d->nprogs++], e->prog, sizeof d->progs[0]);
        else
            d->more_progs = true;
    }
}

/* A listener still open has written no "conns" yet: its count is in the
 * namespace's counter file (preload/counts.h), read as untrusted input. */
static void read_live_counts(struct report *r)
{
    char path[PATH_MAX + 8];
    if (!r->nopen || (size_t)snprintf(path, sizeof path, "%s.cnt", r->path) >= sizeof path)
        return;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    char magic[8];
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == PS_CNT_SIZE &&
        pread(fd, magic, 8, 0) == 8 && !memcmp(magic, PS_CNT_MAGIC, 8)) {
        for (size_t i = 0; i < r->nopen; i++) {
            struct rsock *s = &r->socks[r->open[i]];
            uint64_t v;
            if (s->cslot < 0 || s->cslot >= PS_CSLOT_MAX ||
                pread(fd, &v, 8, PS_CNT_HDR + (off_t)s->cslot * 8) != 8 ||
                v < (uint64_t)s->cbase || v - (uint64_t)s->cbase > (1ULL << 53))
                continue;
            if ((long long)(v - (uint64_t)s->cbase) > s->counted)
                s->counted = (long long)(v - (uint64_t)s->cbase);
        }
    }
    close(fd);
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
    struct rsock *s, *target = NULL;
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
            target = credit_connect(r, e);
        else
            add_passthrough(r, e);
        break;
    case PS_EV_CONNS:
        /* counts are absolute: every holder may write one */
        if ((s = sock_by_sid(r, e->sid)) && e->count > s->counted)
            s->counted = e->count;
        break;
    case PS_EV_CLOSE:
    case PS_EV_STALE:
        if ((s = sock_by_sid(r, e->sid)))
            close_sock(r, s, e->ts, e->ev == PS_EV_STALE);
        break;
    case PS_EV_INHERIT:
        if ((s = sock_by_sid(r, e->sid)) && !s->closed && e->holder > 0) {
            ps_holders_inherit(&s->holders, e);
            ps_pidmap_note(&r->pids, e->holder, e->sid, holds, r);
        }
        break;
    case PS_EV_RELEASE:
        if ((s = sock_by_sid(r, e->sid)) && !s->closed && ps_holders_release(&s->holders, e))
            close_sock(r, s, e->ts, false);
        break;
    case PS_EV_EXIT: {
        const struct ps_pidsids *p = ps_pidmap_get(&r->pids, e->pid);
        for (unsigned i = 0; p && i < p->n; i++)
            if ((s = sock_by_sid(r, p->sid[i])) && !s->closed &&
                ps_holders_exit(&s->holders, e->pid))
                close_sock(r, s, e->ts, false);
        ps_pidmap_forget(&r->pids, e->pid);
        break;
    }
    default:
        break;
    }
    if (r->html)
        report_html_event(r, e, target);
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

void report_free(struct report *r)
{
    for (size_t i = 0; i < r->nworkers; i++)
        report_free(&r->workers[i]);
    free(r->workers);
    report_html_free(r->html);
    for (size_t i = 0; i < r->nsocks; i++)
        ps_pidset_free(&r->socks[i].holders);
    free(r->socks);
    free(r->fails);
    free(r->bad);
    free(r->open);
    free(r->by_sid.v);
    free(r->by_rpath.v);
    ps_pidmap_free(&r->pids);
    free(r->dests);
    free(r->dhash);
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
    else if (a->fam == AF_INET6)
        snprintf(buf, len, "[%s]:%d", ps_addr_format(a, t), port);
    else
        snprintf(buf, len, "%s:%d", ps_addr_format(a, t), port);
    return buf;
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
        w->worker = names[i];
        r->nworkers++;
        if (report_load(w, paths[i]))
            return EXIT_USAGE;
        if (r->events)
            w->t0 = r->t0;
        if (!w->nmodes)   /* the run's start event says the mode for all */
            memcpy(w->modes, r->modes, sizeof w->modes), w->nmodes = r->nmodes;
    }
    return 0;
}

/* Says that a --per-worker run's picture is of its own namespace only, and
 * how to draw a worker's. */
static void html_workers_note(const char *path, const char *root, const char *how)
{
    char (*names)[PS_WORKER_NAME_MAX + 1] = NULL;
    size_t n = cli_workers_list(root, &names);
    if (n) {
        char wpath[PS_PATH_MAX];
        bool compare = strncmp(how, "--worker", 8) != 0;
        if (compare && cli_worker_manifest(root, names[0], wpath))
            wpath[0] = 0;
        cli_log(PS_LOG_WARN, "report: the picture of %s is of the run's own namespace; its %zu "
                "worker%s (%s%s) %s own: %s %s draws one", path, n, n == 1 ? "" : "s", names[0],
                n > 1 ? ", ..." : "", n == 1 ? "has its" : "have their", how,
                compare ? wpath : names[0]);
    }
    free(names);
}

int cmd_report(int argc, char **argv)
{
    const char *manifest = NULL, *worker = NULL, *html = NULL, *compare = NULL;
    bool json = false;
    int i = 1, rc;
    while (i < argc) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage_report(stdout);
            return 0;
        }
        if ((rc = cli_opt(argc, argv, &i, "--manifest", &manifest)) ||
            (rc = cli_opt(argc, argv, &i, "--worker", &worker)) ||
            (rc = cli_opt(argc, argv, &i, "--html", &html)) ||
            (rc = cli_opt(argc, argv, &i, "--compare", &compare))) {
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

    if (json && html) {
        cli_log(PS_LOG_ERROR, "report: --json or --html, not both");
        return usage_hint("report");
    }
    if (html && !*html) {
        cli_log(PS_LOG_ERROR, "--html is empty");
        return EXIT_USAGE;
    }
    if (compare && !html) {
        cli_log(PS_LOG_ERROR, "report: --compare draws a second manifest beside the first: it "
                "needs --html FILE");
        return usage_hint("report");
    }
    struct report r, other;
    char root[PATH_MAX], wpath[PS_PATH_MAX];
    char (*names)[PS_WORKER_NAME_MAX + 1] = NULL;
    char (*paths)[PS_PATH_MAX] = NULL;
    size_t nnames = 0;
    memset(&r, 0, sizeof r);
    memset(&other, 0, sizeof other);
    const char *path = cli_manifest_path(manifest);
    if (!path)
        return EXIT_USAGE;
    bool has_root = cli_worker_root(manifest, path, root, sizeof root) == 0;
    if (worker && !has_root) {
        cli_log(PS_LOG_ERROR, "--worker: %s has no private directory for sub-namespaces "
                "(not a 'portshim run --per-worker' manifest)", path);
        return EXIT_USAGE;
    }
    if (worker && cli_worker_manifest(root, worker, wpath))
        return EXIT_USAGE;
    if (html && (!(r.html = report_html_new()) || (compare && !(other.html = report_html_new())))) {
        cli_log(PS_LOG_ERROR, "report: out of memory");
        report_free(&r);
        report_free(&other);
        return EXIT_USAGE;
    }
    if (worker) {
        /* Its times count from the run's start: read the run's first. */
        struct report run;
        memset(&run, 0, sizeof run);
        rc = report_load(&run, path);
        report_free(&run);
        if (!rc) {
            rc = report_load(&r, wpath);
            r.worker = worker;
        }
        if (!rc && run.events)
            r.t0 = run.t0;
        if (!rc && !r.nmodes)
            memcpy(r.modes, run.modes, sizeof r.modes), r.nmodes = run.nmodes;
    } else {
        rc = report_load(&r, path);
        /* The picture is of one namespace; the text and JSON of every worker's. */
        if (!rc && !html && has_root && (nnames = cli_workers_list(root, &names)) &&
            (paths = calloc(nnames, sizeof *paths)))
            rc = read_workers(&r, root, names, paths, nnames);
        /* A --per-worker run's own namespace is mostly empty (its workers
         * bind in theirs): an empty picture must not pass for the run's. */
        if (!rc && html && has_root)
            html_workers_note(path, root, "--worker");
    }
    char oroot[PATH_MAX];
    if (!rc && compare && cli_worker_root(compare, compare, oroot, sizeof oroot) == 0)
        html_workers_note(compare, oroot, "--compare with its worker's manifest");
    if (!rc && compare)
        rc = report_load(&other, compare);
    if (rc) {
        /* nothing more */
    } else if (html) {
        rc = report_html_write(html, &r, compare ? &other : NULL);
    } else {
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
    report_free(&other);
    free(names);
    free(paths);
    return rc;
}

int report_load(struct report *r, const char *path)
{
    struct ps_reader rd;
    r->path = path;
    r->by_sid.key_off = offsetof(struct rsock, sid);
    r->by_rpath.key_off = offsetof(struct rsock, rpath);
    /* A post-mortem may read anyone's manifest: warnings, not refusals. */
    int fd = cli_open_manifest(r->path, false);
    if (fd == -2)
        cli_log(PS_LOG_ERROR, "cannot read manifest %s: %s", r->path, strerror(ENOENT));
    if (fd < 0)
        return EXIT_USAGE;
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
    read_live_counts(r);
    for (size_t k = 0; k < r->nsocks; k++)
        r->socks[k].connects += (long)r->socks[k].counted;
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
