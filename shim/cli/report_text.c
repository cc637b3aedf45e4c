/* report_text.c — the report for a person: a header line, then aligned
 * tables of sockets and failed calls, then the malformed lines skipped. */
#include "cli/report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXCOLS 10
#define BAD_LINES_SHOWN 20

struct table {
    int ncols;
    unsigned right;             /* bit i: right-align column i */
    char **cells;               /* row-major; NULL cells print empty */
    size_t nrows, cap;
};

static void table_init(struct table *t, int ncols, unsigned right)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->right = right;
}

/* A copy fit for a terminal: control characters become '?'. */
static char *clean_dup(const char *s)
{
    char *d = strdup(s ? s : "");
    for (char *p = d; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return d;
}

static void table_row(struct table *t, ...)
{
    va_list ap;
    if (t->nrows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **nc = realloc(t->cells, ncap * (size_t)t->ncols * sizeof *nc);
        if (!nc)
            return;
        t->cells = nc;
        t->cap = ncap;
    }
    char **row = &t->cells[t->nrows++ * (size_t)t->ncols];
    va_start(ap, t);
    for (int i = 0; i < t->ncols; i++)
        row[i] = clean_dup(va_arg(ap, const char *));
    va_end(ap);
}

static void table_print(const struct table *t, FILE *f)
{
    size_t w[MAXCOLS] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t n = s ? strlen(s) : 0;
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        char **row = &t->cells[r * (size_t)t->ncols];
        int last = t->ncols - 1;   /* no trailing blanks: stop at the last non-empty cell */
        while (last > 0 && (!row[last] || !row[last][0]) && !(t->right & (1u << last)))
            last--;
        for (int c = 0; c <= last; c++) {
            const char *s = row[c] ? row[c] : "";
            if (c)
                fputs("  ", f);
            if (t->right & (1u << c))
                fprintf(f, "%*s", (int)w[c], s);
            else if (c == last)
                fputs(s, f);
            else
                fprintf(f, "%-*s", (int)w[c], s);
        }
        fputc('\n', f);
    }
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
}

static const char *rel(double ts, double t0, char *buf, size_t len)
{
    snprintf(buf, len, "%+.3fs", ts - t0);
    return buf;
}

static void header(const struct report *r, FILE *f)
{
    if (r->worker)
        fprintf(f, "worker %s, ", r->worker);
    fprintf(f, "manifest %s: ", r->path);
    if (!r->nmodes)
        fputs("mode unknown (no start event)", f);
    else
        for (int i = 0; i < r->nmodes; i++)
            fprintf(f, "%s%s", i ? "+" : "mode ", r->modes[i]);
    fprintf(f, ", %ld event%s", r->events, r->events == 1 ? "" : "s");
    if (r->events) {
        char when[64];
        time_t t = (time_t)r->t0;
        struct tm tm;
        if (localtime_r(&t, &tm) && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm))
            fprintf(f, " over %.3fs from %s%s", r->t_last - r->t0, when,
                    r->has_start || r->worker ? " (the run's start)" : "");
    }
    fputc('\n', f);
}

static void sockets(const struct report *r, FILE *f)
{
    struct table t;
    char virt[PS_ADDRSTRLEN + 16], real[PS_UPATH_MAX + 16], pid[16], opened[32], closed[48],
        conn[24];
    if (!r->nsocks) {
        fputs("\nno sockets were bound\n", f);
        return;
    }
    table_init(&t, 9, 1u << 3 | 1u << 8);
    table_row(&t, "SOCKET", "VIRTUAL", "REAL", "PID", "PROG", "LISTEN", "OPENED", "CLOSED",
              "CONNECTS");
    for (size_t i = 0; i < r->nsocks; i++) {
        const struct rsock *s = &r->socks[i];
        report_endpoint_of(&s->addr, s->has_addr, s->port, s->proto, virt, sizeof virt);
        if (s->rpath[0])
            snprintf(real, sizeof real, "%s", s->rpath);
        else
            report_endpoint_of(&s->raddr, s->has_raddr, s->rport, s->proto, real, sizeof real);
        snprintf(pid, sizeof pid, "%d", s->pid);
        rel(s->ts_open, r->t0, opened, sizeof opened);
        if (s->closed)
            snprintf(closed, sizeof closed, "%+.3fs%s", s->ts_close - r->t0,
                     s->stale ? " (stale)" : "");
        else
            snprintf(closed, sizeof closed, "open");
        snprintf(conn, sizeof conn, "%ld", s->connects);
        /* A UDP socket has nothing to listen with: "-", not "no". */
        table_row(&t, s->sid, virt, real, pid, s->prog,
                  s->proto == PS_PROTO_UDP ? "-" : s->listening ? "yes" : "no", opened,
                  closed, conn);
    }
    fputc('\n', f);
    table_print(&t, f);
    table_free(&t);
}

/* Connects that went past the namespace, by destination. */
static void passthrough(const struct report *r, FILE *f)
{
    struct table t;
    char dest[PS_ADDRSTRLEN + 16], n[24], nf[24], first[32], last[32],
        progs[RDEST_PROGS * (PS_PROG_MAX + 2) + 8];
    if (!r->ndests)
        return;
    table_init(&t, 6, 1u << 1 | 1u << 2);
    table_row(&t, "DESTINATION", "CONNECTS", "FAILED", "FIRST", "LAST", "PROGRAMS");
    for (size_t i = 0; i < r->ndests; i++) {
        const struct rdest *d = &r->dests[i];
        report_endpoint_of(&d->addr, d->fam != 0, d->port, d->proto, dest, sizeof dest);
        snprintf(n, sizeof n, "%ld", d->connects);
        snprintf(nf, sizeof nf, "%ld", d->failed);
        size_t k = 0;
        progs[0] = 0;
        for (int j = 0; j < d->nprogs; j++)
            k += (size_t)snprintf(progs + k, sizeof progs - k, "%s%s", j ? ", " : "",
                                  d->progs[j]);
        if (d->more_progs)
            snprintf(progs + k, sizeof progs - k, ", ...");
        table_row(&t, dest, n, nf, rel(d->ts_first, r->t0, first, sizeof first),
                  rel(d->ts_last, r->t0, last, sizeof last), progs);
    }
    fprintf(f, "\n%ld connect%s passed through to %zu destination%s (no listener of the "
               "namespace):\n", r->passed, r->passed == 1 ? "" : "s", r->ndests,
            r->ndests == 1 ? "" : "s");
    table_print(&t, f);
    table_free(&t);
}

/* Who held the port of a failed bind, from the event's holder fields. */
static void holder(const struct ps_event *e, double t0, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    if (e->hpid > 0)
        n += (size_t)snprintf(buf, len, "pid %d (%s)", e->hpid, e->hcmd[0] ? e->hcmd : "?");
    if (n < len && (e->huser[0] || e->huid >= 0)) {
        if (e->huser[0])
            n += (size_t)snprintf(buf + n, len - n, "%suser %s", n ? " " : "", e->huser);
        else
            n += (size_t)snprintf(buf + n, len - n, "%suid %ld", n ? " " : "", e->huid);
    }
    if (n < len && n && e->hsince > 0)
        snprintf(buf + n, len - n, " since %+.3fs", e->hsince - t0);
}

/* The note, with an injected fault named. */
static void note(const struct ps_event *e, char *buf, size_t len)
{
    if (!e->inj[0]) {
        snprintf(buf, len, "%s", e->note);
        return;
    }
    size_t n = (size_t)snprintf(buf, len, "injected %s", e->inj);
    if (n < len && e->inj_us >= 0)
        n += (size_t)snprintf(buf + n, len - n, " (%lld us)", e->inj_us);
    if (n < len && e->note[0] && strcmp(e->note, "injected"))
        snprintf(buf + n, len - n, "; %s", e->note);
}

static void failures(const struct report *r, FILE *f)
{
    struct table t;
    char when[32], pid[16], addr[PS_ADDRSTRLEN + 16], err[24], held[PS_HCMD_MAX + 96],
        why[PS_NOTE_MAX + 64];
    bool any_holder = false;
    if (!r->nfails) {
        fputs("\nno failed calls\n", f);
        return;
    }
    for (size_t i = 0; i < r->nfails; i++)
        any_holder |= r->fails[i].e.hpid > 0 || r->fails[i].e.huid >= 0;
    table_init(&t, any_holder ? 8 : 7, 1u << 1);
    if (any_holder)
        table_row(&t, "TIME", "PID", "PROG", "CALL", "ADDRESS", "ERROR", "HOLDER", "NOTE");
    else
        table_row(&t, "TIME", "PID", "PROG", "CALL", "ADDRESS", "ERROR", "NOTE");
    for (size_t i = 0; i < r->nfails; i++) {
        const struct ps_event *e = &r->fails[i].e;
        const char *name = ps_errno_name(e->err);
        rel(e->ts, r->t0, when, sizeof when);
        snprintf(pid, sizeof pid, "%d", e->pid);
        report_endpoint_of(&e->addr, e->has_addr, e->port, e->proto, addr, sizeof addr);
        if (name)
            snprintf(err, sizeof err, "%s", name);
        else
            snprintf(err, sizeof err, "errno %d", e->err);
        note(e, why, sizeof why);
        if (any_holder) {
            holder(e, r->t0, held, sizeof held);
            table_row(&t, when, pid, e->prog, ps_ev_name(e->ev), addr, err, held[0] ? held : "-",
                      why);
        } else {
            table_row(&t, when, pid, e->prog, ps_ev_name(e->ev), addr, err, why);
        }
    }
    fprintf(f, "\n%zu failed call%s:\n", r->nfails, r->nfails == 1 ? "" : "s");
    table_print(&t, f);
    table_free(&t);
}

/* Datagrams udp-drop lost on purpose: each send the program was told
 * succeeded, and which socket sent it. */
static void drops(const struct report *r, FILE *f)
{
    struct table t;
    char when[32], pid[16], addr[PS_ADDRSTRLEN + 16];
    if (!r->ndrops)
        return;
    table_init(&t, 5, 1u << 1);
    table_row(&t, "TIME", "PID", "PROG", "DESTINATION", "SOCKET");
    for (size_t i = 0; i < r->ndrops; i++) {
        const struct ps_event *e = &r->drops[i].e;
        snprintf(pid, sizeof pid, "%d", e->pid);
        report_endpoint_of(&e->addr, e->has_addr, e->port, e->proto, addr, sizeof addr);
        table_row(&t, rel(e->ts, r->t0, when, sizeof when), pid, e->prog, addr,
                  e->sid[0] ? e->sid : "-");
    }
    fprintf(f, "\n%zu datagram%s dropped on purpose (injected udp-drop):\n", r->ndrops,
            r->ndrops == 1 ? "" : "s");
    table_print(&t, f);
    table_free(&t);
}

void report_text(const struct report *r, FILE *f)
{
    header(r, f);
    sockets(r, f);
    passthrough(r, f);
    failures(r, f);
    drops(r, f);
    if (r->nbad) {
        fprintf(f, "\nskipped %zu malformed line%s: ", r->nbad, r->nbad == 1 ? "" : "s");
        for (size_t i = 0; i < r->nbad && i < BAD_LINES_SHOWN; i++)
            fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)r->bad[i]);
        if (r->nbad > BAD_LINES_SHOWN)
            fprintf(f, ", ... (%zu more)", r->nbad - BAD_LINES_SHOWN);
        fputc('\n', f);
    }
    if (r->trunc_line)
        fprintf(f, "%sline %llu, the last, is cut short (no newline): %s\n", r->nbad ? "" : "\n",
                (unsigned long long)r->trunc_line,
                r->trunc_read ? "read all the same" : "skipped");
    for (size_t i = 0; i < r->nworkers; i++) {
        fputc('\n', f);
        report_text(&r->workers[i], f);
    }
}
