/* report_html.c — `portshim report --html FILE [--compare OTHER]`: a run as
 * a picture. One self-contained page: the template shim/cli/report.html
 * (HTML, CSS and the drawing script, embedded at build time) with the
 * run's data in it as JSON.
 *
 * The manifest is untrusted, and its strings end up inside a <script>
 * element: every '<', '>' and '&' is written \u003c, \u003e, \u0026 (so no
 * "</script>" or "<!--" can close or confuse the element), U+2028 and
 * U+2029 as escapes (old JavaScript parsers end a line there), control
 * bytes as \u00XX and bytes that are not UTF-8 as '?'. The page shows
 * strings with textContent and canvas text only, and its Content Security
 * Policy allows no network at all. */
#include "cli/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

#define DATA_MARK "@PORTSHIM_DATA@"

struct hproc {
    int pid;
    char prog[PS_PROG_MAX];
    double first, last, exit;   /* exit: 0 when it did not exit */
};

enum { MARK_ROUTED, MARK_PASS, MARK_ACCEPT };

struct hmark {
    double ts;
    int pid;
    int kind;
    bool ok;
    long sock;                  /* index in report.socks, or -1 */
    int port;
    int fam;
    enum ps_proto proto;
    bool has_addr;
    struct ps_addr addr;
    char inj[20];
    long long inj_us;
    char note[64];              /* a failed call's errno name */
};

struct rhtml {
    struct hproc *procs;
    size_t nprocs, capprocs;
    size_t *phash;              /* pid -> index + 1 */
    size_t phcap;
    struct hmark *marks;
    size_t nmarks, capmarks;
    bool oom;
};

struct rhtml *report_html_new(void)
{
    return calloc(1, sizeof(struct rhtml));
}

void report_html_free(struct rhtml *h)
{
    if (!h)
        return;
    free(h->procs);
    free(h->phash);
    free(h->marks);
    free(h);
}

static bool grow(void *v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *nv = realloc(*(void **)v, ncap * sz);
    if (!nv)
        return false;
    *(void **)v = nv;
    *cap = ncap;
    return true;
}

static size_t *pid_slot(const struct rhtml *h, int pid)
{
    size_t i = ((size_t)(unsigned)pid * 2654435761u) & (h->phcap - 1);
    for (;; i = (i + 1) & (h->phcap - 1))
        if (!h->phash[i] || h->procs[h->phash[i] - 1].pid == pid)
            return &h->phash[i];
}

static struct hproc *proc_of(struct rhtml *h, int pid)
{
    if ((h->nprocs + 1) * 2 > h->phcap) {
        size_t ncap = h->phcap ? h->phcap * 2 : 64, *old = h->phash, oldcap = h->phcap;
        if (!(h->phash = calloc(ncap, sizeof *h->phash))) {
            h->phash = old;
            return NULL;
        }
        h->phcap = ncap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i])
                *pid_slot(h, h->procs[old[i] - 1].pid) = old[i];
        free(old);
    }
    size_t *slot = pid_slot(h, pid);
    if (*slot)
        return &h->procs[*slot - 1];
    if (!grow(&h->procs, &h->capprocs, h->nprocs, sizeof *h->procs))
        return NULL;
    struct hproc *p = &h->procs[h->nprocs];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    *slot = ++h->nprocs;
    return p;
}

/* The listener an accept came from: one of pid's that listens on the
 * port, else pid's only listener. */
static long accept_sock(const struct report *r, const struct ps_event *e)
{
    long any = -1;
    int n = 0;
    for (size_t i = 0; i < r->nopen; i++) {
        const struct rsock *s = &r->socks[r->open[i]];
        if (!s->listening || !(s->pid == e->pid || ps_pidset_has(&s->holders, e->pid)))
            continue;
        if (e->port >= 0 && s->port == e->port)
            return (long)r->open[i];
        any = (long)r->open[i];
        n++;
    }
    return n == 1 ? any : -1;
}

void report_html_event(struct report *r, const struct ps_event *e, const struct rsock *target)
{
    struct rhtml *h = r->html;
    if (h->oom)
        return;
    if (e->pid > 0) {
        struct hproc *p = proc_of(h, e->pid);
        if (!p) {
            h->oom = r->oom = true;
            return;
        }
        if (!p->first || e->ts < p->first)
            p->first = e->ts;
        if (e->ts > p->last)
            p->last = e->ts;
        if (e->prog[0])
            memcpy(p->prog, e->prog, sizeof p->prog);   /* the newest: after an exec */
        if (e->ev == PS_EV_EXIT)
            p->exit = e->ts;
    }
    if (e->ev != PS_EV_CONNECT && e->ev != PS_EV_ACCEPT)
        return;
    if (!grow(&h->marks, &h->capmarks, h->nmarks, sizeof *h->marks)) {
        h->oom = r->oom = true;
        return;
    }
    struct hmark *m = &h->marks[h->nmarks++];
    memset(m, 0, sizeof *m);
    m->ts = e->ts;
    m->pid = e->pid;
    m->ok = e->ok || e->err == EINPROGRESS;
    m->port = e->port;
    m->fam = e->fam;
    m->proto = e->proto;
    m->has_addr = e->has_addr;
    m->addr = e->addr;
    memcpy(m->inj, e->inj, sizeof m->inj);
    m->inj_us = e->inj[0] ? e->inj_us : -1;
    if (!m->ok) {
        const char *name = ps_errno_name(e->err);
        if (name)
            snprintf(m->note, sizeof m->note, "%s", name);
        else
            snprintf(m->note, sizeof m->note, "errno %d", e->err);
    }
    if (e->ev == PS_EV_ACCEPT) {
        m->kind = MARK_ACCEPT;
        m->sock = accept_sock(r, e);
    } else {
        m->kind = e->routed ? MARK_ROUTED : MARK_PASS;
        m->sock = target ? (long)(target - r->socks) : -1;
    }
}

/* ---- writing ----------------------------------------------------------------- */

/* A JSON string that is safe inside <script>: see the top of the file. */
static void hstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f || *c == '<' || *c == '>' || *c == '&')
            fprintf(f, "\\u%04x", *c);
        else if (*c >= 0x80) {
            size_t n = ps_utf8_seq((const char *)c);
            if (n == 3 && c[0] == 0xe2 && c[1] == 0x80 && (c[2] == 0xa8 || c[2] == 0xa9))
                fprintf(f, "\\u%04x", c[2] == 0xa8 ? 0x2028 : 0x2029);
            else if (n)
                fwrite(c, 1, n, f);
            else
                fputc('?', f);
            if (n)
                c += n - 1;
        } else
            fputc(*c, f);
    }
    fputc('"', f);
}

static void hnum(FILE *f, double v)
{
    fprintf(f, "%.6f", v);
}

/* UDP endpoints carry "/udp", as in the text report. */
static void endpoint(FILE *f, const struct ps_addr *a, bool has, int port, enum ps_proto proto)
{
    char buf[PS_ADDRSTRLEN + 16];
    hstr(f, report_endpoint_of(a, has, port, proto, buf, sizeof buf));
}

static void holder(FILE *f, const struct ps_event *e, double t0)
{
    char buf[PS_HCMD_MAX + PS_HUSER_MAX + 96];
    size_t n = 0;
    buf[0] = 0;
    if (e->hpid <= 0 && e->huid < 0) {
        fputs("null", f);
        return;
    }
    if (e->hpid > 0)
        n += (size_t)snprintf(buf, sizeof buf, "pid %d (%s)", e->hpid, e->hcmd[0] ? e->hcmd : "?");
    if (n < sizeof buf && e->huser[0])
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%suser %s", n ? " " : "", e->huser);
    else if (n < sizeof buf && e->huid >= 0)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%suid %ld", n ? " " : "", e->huid);
    if (n < sizeof buf && e->hsince > 0)
        snprintf(buf + n, sizeof buf - n, " since %+.3fs", e->hsince - t0);
    hstr(f, buf);
}

static void run_json(FILE *f, const struct report *r)
{
    const struct rhtml *h = r->html;
    double t0 = r->t0;
    fputs("{\"manifest\":", f);
    hstr(f, r->path);
    fputs(",\"mode\":", f);
    hstr(f, r->nmodes ? r->modes[0] : "");
    fprintf(f, ",\"events\":%ld,\"t0\":", r->events);
    hnum(f, r->events ? t0 : 0);
    fputs(",\"span\":", f);
    hnum(f, r->events ? r->t_last - t0 : 0);
    fprintf(f, ",\"skipped\":%zu,\"procs\":[", r->nbad + (r->trunc_line && !r->trunc_read));
    for (size_t i = 0; i < h->nprocs; i++) {
        const struct hproc *p = &h->procs[i];
        fprintf(f, "%s[%d,", i ? "," : "", p->pid);
        hstr(f, p->prog);
        fputc(',', f);
        hnum(f, p->first - t0);
        fputc(',', f);
        hnum(f, p->last - t0);
        fputc(',', f);
        if (p->exit)
            hnum(f, p->exit - t0);
        else
            fputs("null", f);
        fputc(']', f);
    }
    /* [sid, pid, prog, virtual, real, vport, opened, listened|null,
     *  closed|null, stale, connects] */
    fputs("],\"socks\":[", f);
    for (size_t i = 0; i < r->nsocks; i++) {
        const struct rsock *s = &r->socks[i];
        fputs(i ? ",[" : "[", f);
        hstr(f, s->sid);
        fprintf(f, ",%d,", s->pid);
        hstr(f, s->prog);
        fputc(',', f);
        endpoint(f, &s->addr, s->has_addr, s->port, s->proto);
        fputc(',', f);
        if (s->rpath[0])
            hstr(f, s->rpath);
        else
            endpoint(f, &s->raddr, s->has_raddr, s->rport, s->proto);
        fprintf(f, ",%d,", s->port);
        hnum(f, s->ts_open - t0);
        fputc(',', f);
        if (s->listening)
            hnum(f, s->ts_listen - t0);
        else
            fputs("null", f);
        fputc(',', f);
        if (s->closed)
            hnum(f, s->ts_close - t0);
        else
            fputs("null", f);
        fprintf(f, ",%d,%ld]", s->stale, s->connects);
    }
    /* [t, pid, kind, ok, sock|-1, port, destination, inj|"", inj_us|-1, error|""] */
    fputs("],\"marks\":[", f);
    for (size_t i = 0; i < h->nmarks; i++) {
        const struct hmark *m = &h->marks[i];
        fputs(i ? ",[" : "[", f);
        hnum(f, m->ts - t0);
        fprintf(f, ",%d,%d,%d,%ld,%d,", m->pid, m->kind, m->ok, m->sock, m->port);
        endpoint(f, &m->addr, m->has_addr, m->port, m->proto);
        fputc(',', f);
        hstr(f, m->inj);
        fprintf(f, ",%lld,", m->inj_us);
        hstr(f, m->note);
        fputc(']', f);
    }
    /* [t, pid, prog, call, address, error, note, holder|null, hpid, inj, inj_us, port] */
    fputs("],\"fails\":[", f);
    for (size_t i = 0; i < r->nfails; i++) {
        const struct ps_event *e = &r->fails[i].e;
        const char *name = ps_errno_name(e->err);
        char err[24];
        if (name)
            snprintf(err, sizeof err, "%s", name);
        else
            snprintf(err, sizeof err, "errno %d", e->err);
        fputs(i ? ",[" : "[", f);
        hnum(f, e->ts - t0);
        fprintf(f, ",%d,", e->pid);
        hstr(f, e->prog);
        fputc(',', f);
        hstr(f, ps_ev_name(e->ev));
        fputc(',', f);
        endpoint(f, &e->addr, e->has_addr, e->port, e->proto);
        fputc(',', f);
        hstr(f, err);
        fputc(',', f);
        hstr(f, e->note);
        fputc(',', f);
        holder(f, e, t0);
        fprintf(f, ",%d,", e->hpid > 0 ? e->hpid : 0);
        hstr(f, e->inj);
        fprintf(f, ",%lld,%d]", e->inj[0] ? e->inj_us : -1, e->port);
    }
    fputs("]}", f);
}

int report_html_write(const char *path, const struct report *r, const struct report *other)
{
    const char *tpl = (const char *)report_html_tpl;
    const char *mark = strstr(tpl, DATA_MARK);
    if (!mark) {
        cli_log(PS_LOG_ERROR, "report --html: the page template has no data mark (a bad build)");
        return EXIT_USAGE;
    }
    bool out = !strcmp(path, "-");
    FILE *f = out ? stdout : fopen(path, "w");
    if (!f) {
        cli_log(PS_LOG_ERROR, "report --html: cannot write %s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    fwrite(tpl, 1, (size_t)(mark - tpl), f);
    fputs("{\"v\":1,\"runs\":[", f);
    run_json(f, r);
    if (other) {
        fputc(',', f);
        run_json(f, other);
    }
    fputs("]}", f);
    const char *rest = mark + strlen(DATA_MARK);
    fwrite(rest, 1, report_html_tpl_len - (size_t)(rest - tpl), f);
    int bad = ferror(f);
    if (out ? fflush(f) : fclose(f))
        bad = 1;
    if (bad) {
        cli_log(PS_LOG_ERROR, "report --html: cannot write %s", path);
        return EXIT_USAGE;
    }
    return 0;
}
