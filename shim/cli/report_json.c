/* report_json.c — the report for machines: one JSON object on one line.
 * Times are seconds relative to the run's start event (the first event when
 * there is none; "t0" is that epoch time), each with its absolute twin (_ts);
 * absent values are null, so every object of a list has the same keys. */
#include "cli/report.h"

#include "cli/cli.h"

static void jstr_or_null(FILE *f, const char *s)
{
    if (s && *s)
        cli_json_str(f, s);
    else
        fputs("null", f);
}

static void jaddr(FILE *f, const struct ps_addr *a, bool has)
{
    char t[PS_ADDRSTRLEN];
    jstr_or_null(f, has ? ps_addr_format(a, t) : NULL);
}

static void jint_or_null(FILE *f, long v)
{
    if (v < 0)
        fputs("null", f);
    else
        fprintf(f, "%ld", v);
}

static void socket_obj(FILE *f, const struct rsock *s, double t0)
{
    fputs("{\"sid\":", f);
    cli_json_str(f, s->sid);
    fprintf(f, ",\"pid\":%d,\"prog\":", s->pid);
    cli_json_str(f, s->prog);
    fputs(",\"mode\":", f);
    jstr_or_null(f, s->mode);
    fputs(",\"fam\":", f);
    jint_or_null(f, s->fam ? ps_fam_code(s->fam) : -1);
    fputs(",\"addr\":", f);
    jaddr(f, &s->addr, s->has_addr);
    fputs(",\"port\":", f);
    jint_or_null(f, s->port);
    fputs(",\"raddr\":", f);
    jaddr(f, &s->raddr, s->has_raddr);
    fputs(",\"rport\":", f);
    jint_or_null(f, s->rport);
    fputs(",\"rpath\":", f);
    jstr_or_null(f, s->rpath);
    fprintf(f, ",\"listen\":%s,\"opened\":%.6f,\"opened_ts\":%.6f,\"listened\":",
            s->listening ? "true" : "false", s->ts_open - t0, s->ts_open);
    if (s->listening)
        fprintf(f, "%.6f,\"listened_ts\":%.6f", s->ts_listen - t0, s->ts_listen);
    else
        fputs("null,\"listened_ts\":null", f);
    fputs(",\"closed\":", f);
    if (s->closed)
        fprintf(f, "%.6f,\"closed_ts\":%.6f", s->ts_close - t0, s->ts_close);
    else
        fputs("null,\"closed_ts\":null", f);
    fprintf(f, ",\"stale\":%s,\"connects\":%ld,\"line\":%llu}", s->stale ? "true" : "false",
            s->connects, (unsigned long long)s->line);
}

static void failure_obj(FILE *f, const struct rfail *x, double t0)
{
    const struct ps_event *e = &x->e;
    fprintf(f, "{\"t\":%.6f,\"ts\":%.6f,\"pid\":%d,\"prog\":", e->ts - t0, e->ts, e->pid);
    cli_json_str(f, e->prog);
    fputs(",\"call\":", f);
    cli_json_str(f, ps_ev_name(e->ev));
    fputs(",\"sid\":", f);
    jstr_or_null(f, e->sid);
    fputs(",\"fam\":", f);
    jint_or_null(f, e->fam ? ps_fam_code(e->fam) : -1);
    fputs(",\"addr\":", f);
    jaddr(f, &e->addr, e->has_addr);
    fputs(",\"port\":", f);
    jint_or_null(f, e->port);
    fprintf(f, ",\"errno\":%d,\"err\":", e->err);
    jstr_or_null(f, ps_errno_name(e->err));
    fputs(",\"note\":", f);
    jstr_or_null(f, e->note);
    fputs(",\"holder\":", f);
    if (e->hpid > 0 || e->huid >= 0) {
        fputs("{\"pid\":", f);
        jint_or_null(f, e->hpid > 0 ? e->hpid : -1);
        fputs(",\"uid\":", f);
        jint_or_null(f, e->huid);
        fputs(",\"user\":", f);
        jstr_or_null(f, e->huser);
        fputs(",\"cmd\":", f);
        jstr_or_null(f, e->hcmd);
        if (e->hsince > 0)
            fprintf(f, ",\"since\":%.6f,\"since_ts\":%.6f}", e->hsince - t0, e->hsince);
        else
            fputs(",\"since\":null,\"since_ts\":null}", f);
    } else {
        fputs("null", f);
    }
    fputs(",\"inj\":", f);
    jstr_or_null(f, e->inj);
    fputs(",\"inj_us\":", f);
    if (e->inj[0] && e->inj_us >= 0)
        fprintf(f, "%lld", e->inj_us);
    else
        fputs("null", f);
    fprintf(f, ",\"line\":%llu}", (unsigned long long)x->line);
}

static void report_obj(const struct report *r, FILE *f)
{
    fputs("{\"manifest\":", f);
    cli_json_str(f, r->path);
    fputs(",\"worker\":", f);
    jstr_or_null(f, r->worker);
    fputs(",\"mode\":", f);
    jstr_or_null(f, r->nmodes ? r->modes[0] : NULL);
    fputs(",\"modes\":[", f);
    for (int i = 0; i < r->nmodes; i++) {
        if (i)
            fputc(',', f);
        cli_json_str(f, r->modes[i]);
    }
    fprintf(f, "],\"events\":%ld,\"t0\":", r->events);
    if (r->events)
        fprintf(f, "%.6f,\"span\":%.6f", r->t0, r->t_last - r->t0);
    else
        fputs("null,\"span\":0", f);
    fputs(",\"listeners\":[", f);
    for (size_t i = 0; i < r->nsocks; i++) {
        if (i)
            fputc(',', f);
        socket_obj(f, &r->socks[i], r->t0);
    }
    fputs("],\"passthrough\":[", f);
    for (size_t i = 0; i < r->ndests; i++) {
        const struct rdest *d = &r->dests[i];
        fputs(i ? ",{\"fam\":" : "{\"fam\":", f);
        jint_or_null(f, d->fam ? ps_fam_code(d->fam) : -1);
        fputs(",\"addr\":", f);
        jaddr(f, &d->addr, d->fam != 0);
        fputs(",\"port\":", f);
        jint_or_null(f, d->port);
        fprintf(f, ",\"connects\":%ld,\"failed\":%ld,\"first\":%.6f,\"first_ts\":%.6f,"
                   "\"last\":%.6f,\"last_ts\":%.6f,\"progs\":[", d->connects, d->failed,
                d->ts_first - r->t0, d->ts_first, d->ts_last - r->t0, d->ts_last);
        for (int j = 0; j < d->nprogs; j++) {
            if (j)
                fputc(',', f);
            cli_json_str(f, d->progs[j]);
        }
        fprintf(f, "],\"more_progs\":%s}", d->more_progs ? "true" : "false");
    }
    fputs("],\"failures\":[", f);
    for (size_t i = 0; i < r->nfails; i++) {
        if (i)
            fputc(',', f);
        failure_obj(f, &r->fails[i], r->t0);
    }
    fputs("],\"workers\":[", f);
    for (size_t i = 0; i < r->nworkers; i++) {
        if (i)
            fputc(',', f);
        report_obj(&r->workers[i], f);
    }
    fputs("],\"skipped_lines\":[", f);
    for (size_t i = 0; i < r->nbad; i++)
        fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)r->bad[i]);
    fputs("],\"truncated_line\":", f);
    if (r->trunc_line)
        fprintf(f, "%llu,\"truncated_read\":%s", (unsigned long long)r->trunc_line,
                r->trunc_read ? "true" : "false");
    else
        fputs("null,\"truncated_read\":false", f);
    fputc('}', f);
}

void report_json(const struct report *r, FILE *f)
{
    report_obj(r, f);
    fputc('\n', f);
}
