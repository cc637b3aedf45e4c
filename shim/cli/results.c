/* results.c — a stress run's record as one JSON line (--results), the
 * summary and failure lines stress and `stress merge` share, and `stress
 * merge`: read the records of a plan's shards back and judge them as one.
 *
 * Results files are input like a manifest: a line that is not a record
 * gets a one-line message naming file and line and is skipped. */
#include "cli/stress.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/manifest.h"

#define LINE_MAX_BYTES (1 << 20)   /* a record is a few KiB: 10 tail lines of 400 bytes */
#define TAIL_SHOWN 400

/* ---- shared output ------------------------------------------------------- */

const char *stress_exit_text(const struct stress_run *r, char *buf, size_t len)
{
    if (r->timeout)
        snprintf(buf, len, "timeout");
    else if (r->sig)
        snprintf(buf, len, "signal %d", r->sig);
    else
        snprintf(buf, len, "%d", r->exit);
    return buf;
}

void stress_wilson(long f, long n, double *lo, double *hi)
{
    const double z = 1.959963984540054;
    double p = (double)f / (double)n, z2 = z * z, nn = (double)n;
    double den = 1 + z2 / nn;
    double mid = (p + z2 / (2 * nn)) / den;
    double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / den;
    *lo = mid - half < 0 ? 0 : mid - half;
    *hi = mid + half > 1 ? 1 : mid + half;
}

void stress_summary(FILE *f, long runs, long failed, double secs)
{
    double lo, hi;
    stress_wilson(failed, runs, &lo, &hi);
    fprintf(f, "stress: %ld run%s, %ld failed (%.1f%%, 95%% CI %.1f%%-%.1f%%)", runs,
            runs == 1 ? "" : "s", failed, 100.0 * (double)failed / (double)runs, 100 * lo,
            100 * hi);
    if (secs >= 0)
        fprintf(f, ", %.1f s", secs);
    fputc('\n', f);
}

/* Text from a file or a results line, fit for one terminal line. */
static void put_clean(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        fputc(c == '\t' || (c >= 0x20 && c != 0x7f) ? c : '?', f);
    }
}

void stress_print_failure(FILE *f, const struct stress_run *r)
{
    char x[32];
    fprintf(f, "FAIL run %ld seed %llu exit %s manifest ", r->idx, (unsigned long long)r->seed,
            stress_exit_text(r, x, sizeof x));
    put_clean(f, r->manifest ? r->manifest : "-");
    fputc('\n', f);
    for (const char *p = r->tail; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, n);
        fputs("  | ", f);
        put_clean(f, line ? line : "");
        fputc('\n', f);
        free(line);
        p += n + (nl != NULL);
    }
    if (r->replay) {
        fputs("replay: ", f);
        put_clean(f, r->replay);
        fputc('\n', f);
    }
}

char *stress_tail(const char *path, int want)
{
    static char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return strdup("");
    struct stat st;
    off_t off = 0;
    if (fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof buf)
        off = st.st_size - (off_t)sizeof buf;
    ssize_t n = pread(fd, buf, sizeof buf, off);
    close(fd);
    if (n <= 0)
        return strdup("");
    size_t len = (size_t)n;
    if (buf[len - 1] == '\n')
        len--;
    size_t start = len;
    int lines = 0;
    while (start > 0 && lines < want) {
        start--;
        if (buf[start] == '\n' && ++lines == want) {
            start++;
            break;
        }
    }
    if (off > 0 && start == 0) {
        /* The first line in the buffer began before it (a line longer than
         * the buffer): its end, at most the bytes a line shows. */
        char *nl = memchr(buf, '\n', len);
        size_t end = nl ? (size_t)(nl - buf) : len;
        start = end > TAIL_SHOWN ? end - TAIL_SHOWN : 0;
    }
    char *out = malloc(len - start + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = start; i < len;) {
        char *nl = memchr(buf + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - buf) : len;
        if (o != out)
            *o++ = '\n';
        for (size_t k = i; k < e && k - i < TAIL_SHOWN; k++) {
            unsigned char ch = (unsigned char)buf[k];
            *o++ = (char)(ch == '\t' || (ch >= 0x20 && ch != 0x7f) ? ch : '?');
        }
        if (!nl)
            break;
        i = e + 1;
    }
    *o = 0;
    return out;
}

/* ---- writing --------------------------------------------------------------- */

/* A JSON string: escapes, and valid UTF-8 whatever the bytes ('?' else). */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf(f, "\\u%04x", *c);
        else if (*c >= 0x80) {
            size_t n = ps_utf8_seq((const char *)c);
            if (n) {
                fwrite(c, 1, n, f);
                c += n - 1;
            } else {
                fputc('?', f);
            }
        } else
            fputc(*c, f);
    }
    fputc('"', f);
}

static void jstr_or_null(FILE *f, const char *s)
{
    if (s)
        jstr(f, s);
    else
        fputs("null", f);
}

int results_write(FILE *f, const struct stress_plan *p, const struct stress_run *r)
{
    fprintf(f, "{\"v\":1,\"index\":%ld,\"seed\":%llu,\"base_seed\":%llu,\"runs\":", r->idx,
            (unsigned long long)r->seed, (unsigned long long)p->base_seed);
    if (p->runs >= 0)
        fprintf(f, "%ld", p->runs);
    else
        fputs("null", f);
    fprintf(f, ",\"shard\":\"%ld/%ld\",\"passed\":%s,\"exit\":", p->shard.k, p->shard.n,
            stress_run_failed(r) ? "false" : "true");
    if (r->exit >= 0)
        fprintf(f, "%d", r->exit);
    else
        fputs("null", f);
    fputs(",\"signal\":", f);
    if (r->sig)
        fprintf(f, "%d", r->sig);
    else
        fputs("null", f);
    fprintf(f, ",\"timeout\":%s,\"start\":%.6f,\"time\":%.6f,\"manifest\":",
            r->timeout ? "true" : "false", r->start, r->secs);
    jstr_or_null(f, r->manifest);
    fputs(",\"tail\":[", f);
    bool first = true;
    for (const char *s = r->tail; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char *line = strndup(s, n);
        if (!first)
            fputc(',', f);
        first = false;
        jstr(f, line ? line : "");
        free(line);
        s += n + (nl != NULL);
    }
    fputs("],\"replay\":", f);
    jstr_or_null(f, r->replay);
    fputs("}\n", f);
    return fflush(f) ? -1 : 0;
}

/* ---- reading: a small JSON reader for one record --------------------------- */

struct jp {
    const char *s, *end;
    const char *err;
};

static void ws(struct jp *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\r' || *p->s == '\n'))
        p->s++;
}

static bool lit(struct jp *p, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(p->end - p->s) >= n && !memcmp(p->s, w, n)) {
        p->s += n;
        return true;
    }
    return false;
}

static void put_utf8(char **o, unsigned long cp)
{
    unsigned char *u = (unsigned char *)*o;
    if (cp < 0x80) {
        *u++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *u++ = (unsigned char)(0xc0 | cp >> 6);
        *u++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *u++ = (unsigned char)(0xe0 | cp >> 12);
        *u++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        *u++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *u++ = (unsigned char)(0xf0 | cp >> 18);
        *u++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        *u++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        *u++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    *o = (char *)u;
}

static int hex4(struct jp *p, unsigned long *v)
{
    *v = 0;
    if (p->end - p->s < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = *p->s++;
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned long)(c - 'A' + 10);
        else return -1;
    }
    return 0;
}

/* A string value, decoded (malloc'd; NULL and p->err on error). A decoded
 * string is never longer than its JSON text. */
static char *str(struct jp *p)
{
    if (p->s >= p->end || *p->s != '"') {
        p->err = "expected a string";
        return NULL;
    }
    p->s++;
    const char *q = p->s;
    while (q < p->end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    if (q >= p->end) {
        p->err = "unterminated string";
        return NULL;
    }
    char *out = malloc((size_t)(q - p->s) + 1), *o = out;
    if (!out) {
        p->err = "out of memory";
        return NULL;
    }
    while (*p->s != '"') {
        unsigned char c = (unsigned char)*p->s++;
        if (c < 0x20) {
            p->err = "control character in a string";
            free(out);
            return NULL;
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        c = (unsigned char)*p->s++;
        unsigned long cp, lo;
        switch (c) {
        case '"': case '\\': case '/': *o++ = (char)c; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (hex4(p, &cp)) {
                p->err = "bad \\u escape";
                free(out);
                return NULL;
            }
            if (cp >= 0xd800 && cp < 0xdc00 && p->end - p->s >= 6 && p->s[0] == '\\' &&
                p->s[1] == 'u') {
                const char *save = p->s;
                p->s += 2;
                if (!hex4(p, &lo) && lo >= 0xdc00 && lo < 0xe000)
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                else
                    p->s = save;
            }
            if (cp >= 0xd800 && cp < 0xe000)
                cp = '?';   /* a lone surrogate */
            put_utf8(&o, cp);   /* at most 4 bytes for 6 or 12 of text */
            break;
        default:
            p->err = "bad escape";
            free(out);
            return NULL;
        }
    }
    p->s++;
    *o = 0;
    return out;
}

/* The raw text of a number (validated by the caller). */
static bool number(struct jp *p, const char **start, size_t *len)
{
    const char *q = p->s;
    while (q < p->end && strchr("+-0123456789.eE", *q))
        q++;
    if (q == p->s)
        return false;
    *start = p->s;
    *len = (size_t)(q - p->s);
    p->s = q;
    return true;
}

static int skip_value(struct jp *p, int depth);

static int skip_container(struct jp *p, char close, int depth)
{
    p->s++;
    ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        return 0;
    }
    for (;;) {
        ws(p);
        if (close == '}') {
            char *k = str(p);
            if (!k)
                return -1;
            free(k);
            ws(p);
            if (p->s >= p->end || *p->s++ != ':') {
                p->err = "expected ':'";
                return -1;
            }
        }
        if (skip_value(p, depth + 1))
            return -1;
        ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            return 0;
        }
        p->err = "expected ',' or the end of a list";
        return -1;
    }
}

static int skip_value(struct jp *p, int depth)
{
    const char *n;
    size_t len;
    ws(p);
    if (depth > 16) {
        p->err = "nested too deep";
        return -1;
    }
    if (p->s >= p->end) {
        p->err = "expected a value";
        return -1;
    }
    if (*p->s == '"') {
        char *s = str(p);
        free(s);
        return s ? 0 : -1;
    }
    if (*p->s == '{')
        return skip_container(p, '}', depth);
    if (*p->s == '[')
        return skip_container(p, ']', depth);
    if (lit(p, "true") || lit(p, "false") || lit(p, "null") || number(p, &n, &len))
        return 0;
    p->err = "expected a value";
    return -1;
}

/* ---- a record ---------------------------------------------------------------- */

struct rec {
    struct stress_run r;
    uint64_t base_seed;
    long runs;                  /* -1: unbounded or absent */
    long shard_k, shard_n;
    const char *file;
    unsigned long line;
};

static int int_of(const char *s, size_t len, long long lo, long long hi, long long *out)
{
    char buf[32], *end;
    if (!len || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int u64_of(const char *s, size_t len, uint64_t *out)
{
    char buf[32], *end;
    if (!len || len >= sizeof buf || s[0] == '-' || s[0] == '+')
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int dbl_of(const char *s, size_t len, double *out)
{
    char buf[64], *end;
    if (!len || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static void rec_free(struct rec *x)
{
    free(x->r.tail);
    free(x->r.manifest);
    free(x->r.replay);
}

/* The tail: a list of strings joined by '\n'. */
static int tail_list(struct jp *p, char **out)
{
    size_t len = 0;
    char *acc = NULL;
    p->s++;
    ws(p);
    if (p->s < p->end && *p->s == ']') {
        p->s++;
        *out = strdup("");
        return *out ? 0 : -1;
    }
    for (;;) {
        ws(p);
        char *s = str(p);
        if (!s) {
            free(acc);
            return -1;
        }
        for (char *c = s; *c; c++)   /* one list item is one line */
            if (*c == '\n')
                *c = '?';
        size_t n = strlen(s);
        char *na = realloc(acc, len + n + 2);
        if (!na) {
            free(s);
            free(acc);
            p->err = "out of memory";
            return -1;
        }
        acc = na;
        if (len)
            acc[len++] = '\n';
        memcpy(acc + len, s, n + 1);
        len += n;
        free(s);
        ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == ']') {
            p->s++;
            *out = acc ? acc : strdup("");
            return 0;
        }
        free(acc);
        p->err = "expected ',' or ']' in \"tail\"";
        return -1;
    }
}

/* Parses one record; NULL when it is one, else why not. */
static const char *rec_parse(const char *line, size_t len, struct rec *x)
{
    struct jp p = {line, line + len, NULL};
    static char why[96];
    bool have_index = false, have_seed = false, have_passed = false, passed = false;
    memset(x, 0, sizeof *x);
    x->r.exit = -1;
    x->runs = -1;
    ws(&p);
    if (p.s >= p.end || *p.s != '{')
        return "not a JSON object";
    p.s++;
    ws(&p);
    if (p.s < p.end && *p.s == '}')
        p.s++;
    else
        for (;;) {
            ws(&p);
            char *key = str(&p);
            if (!key)
                goto bad;
            ws(&p);
            if (p.s >= p.end || *p.s++ != ':') {
                free(key);
                p.err = "expected ':'";
                goto bad;
            }
            ws(&p);
            const char *n;
            size_t nl;
            long long v;
            bool isnull = lit(&p, "null");
            bool ok = true;
            if (isnull) {
                ok = strcmp(key, "index") && strcmp(key, "seed") && strcmp(key, "passed");
            } else if (!strcmp(key, "index") || !strcmp(key, "exit") || !strcmp(key, "signal") ||
                       !strcmp(key, "runs") || !strcmp(key, "v")) {
                ok = number(&p, &n, &nl) && !int_of(n, nl, 0, !strcmp(key, "exit") ? 255 :
                                                                 !strcmp(key, "signal") ? 128 :
                                                                 1000000000LL, &v);
                if (ok && !strcmp(key, "index"))
                    x->r.idx = (long)v, have_index = true;
                else if (ok && !strcmp(key, "exit"))
                    x->r.exit = (int)v;
                else if (ok && !strcmp(key, "signal"))
                    x->r.sig = (int)v;
                else if (ok && !strcmp(key, "runs"))
                    x->runs = (long)v;
                else if (ok && v != 1)
                    ok = false;   /* another version of the format */
            } else if (!strcmp(key, "seed") || !strcmp(key, "base_seed")) {
                ok = number(&p, &n, &nl) &&
                     !u64_of(n, nl, !strcmp(key, "seed") ? &x->r.seed : &x->base_seed);
                have_seed |= ok && !strcmp(key, "seed");
            } else if (!strcmp(key, "start") || !strcmp(key, "time")) {
                ok = number(&p, &n, &nl) &&
                     !dbl_of(n, nl, !strcmp(key, "start") ? &x->r.start : &x->r.secs);
            } else if (!strcmp(key, "passed") || !strcmp(key, "timeout")) {
                bool t = lit(&p, "true");
                ok = t || lit(&p, "false");
                if (!strcmp(key, "passed"))
                    passed = t, have_passed = ok;
                else
                    x->r.timeout = t;
            } else if (!strcmp(key, "shard")) {
                char *s = str(&p), *end;
                ok = s && sscanf(s, "%ld/%ld", &x->shard_k, &x->shard_n) == 2 &&
                     (end = strchr(s, '/')) && x->shard_k >= 1 && x->shard_k <= x->shard_n;
                free(s);
            } else if (!strcmp(key, "manifest") || !strcmp(key, "replay")) {
                char **dst = !strcmp(key, "manifest") ? &x->r.manifest : &x->r.replay;
                free(*dst);
                ok = (*dst = str(&p)) != NULL;
            } else if (!strcmp(key, "tail")) {
                free(x->r.tail);
                x->r.tail = NULL;
                ok = p.s < p.end && *p.s == '[' && !tail_list(&p, &x->r.tail);
            } else {
                ok = !skip_value(&p, 1);   /* a key a newer writer added */
            }
            if (!ok) {
                snprintf(why, sizeof why, "bad value for \"%.32s\"", key);
                free(key);
                p.err = why;
                goto bad;
            }
            free(key);
            ws(&p);
            if (p.s < p.end && *p.s == ',') {
                p.s++;
                continue;
            }
            if (p.s < p.end && *p.s == '}') {
                p.s++;
                break;
            }
            p.err = "expected ',' or '}'";
            goto bad;
        }
    ws(&p);
    if (p.s != p.end) {
        p.err = "text after the object";
        goto bad;
    }
    if (!have_index || !have_seed || !have_passed) {
        p.err = !have_index ? "no \"index\"" : !have_seed ? "no \"seed\"" : "no \"passed\"";
        goto bad;
    }
    if (x->r.exit < 0 && !x->r.sig && !x->r.timeout)
        x->r.exit = passed ? 0 : 1;   /* a hand-written record may say only "passed" */
    if (passed == stress_run_failed(&x->r)) {
        p.err = "\"passed\" disagrees with \"exit\", \"signal\" and \"timeout\"";
        goto bad;
    }
    return NULL;
bad:
    rec_free(x);
    return p.err ? p.err : "malformed";
}

/* ---- merge ------------------------------------------------------------------------ */

void usage_stress_merge(FILE *f)
{
    fputs("usage: portshim stress merge FILE...\n"
          "\n"
          "Reads the --results files of the shards of one stress plan and prints the\n"
          "combined failure rate with its 95% confidence interval and, for each failed\n"
          "run, its seed, exit status, output tail, kept manifest and replay command, in\n"
          "run order. A line that is not a run record is named (FILE:LINE) and skipped;\n"
          "a run found twice counts once; runs of the plan that no file holds are\n"
          "named. Exits 0 if every run passed, 1 if any failed, else 2 when a file\n"
          "could not be read, no run could be read, or on a usage error.\n",
          f);
}

struct merge {
    struct rec *v;
    size_t n, cap;
    long bad;
};

/* The next line of f into *buf (without its newline): its length, -1 at
 * the end, or LINE_TOO_LONG after passing over a line longer than
 * LINE_MAX_BYTES (a results file is input: no line may take all memory). */
#define LINE_TOO_LONG (-2)
static long next_line(FILE *f, char **buf, size_t *cap)
{
    size_t n = 0;
    bool too_long = false;
    int c;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (too_long)
            continue;
        if (n + 1 >= *cap) {
            size_t nc = *cap ? *cap * 2 : 4096;
            char *nb = n + 1 >= LINE_MAX_BYTES ? NULL : realloc(*buf, nc);
            if (!nb) {
                too_long = true;
                continue;
            }
            *buf = nb;
            *cap = nc;
        }
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && !n && !too_long)
        return -1;
    if (too_long)
        return LINE_TOO_LONG;
    (*buf)[n] = 0;
    return (long)n;
}

static int read_file(struct merge *m, const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        cli_log(PS_LOG_ERROR, "stress merge: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    long len;
    unsigned long lineno = 0;
    while ((len = next_line(f, &line, &cap)) != -1) {
        lineno++;
        while (len > 0 && line[len - 1] == '\r')
            len--;
        long i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (len >= 0 && i == len)
            continue;   /* blank lines are nothing, not errors */
        if (m->n == m->cap) {
            size_t nc = m->cap ? m->cap * 2 : 64;
            struct rec *nv = realloc(m->v, nc * sizeof *nv);
            if (!nv) {
                cli_log(PS_LOG_ERROR, "stress merge: out of memory");
                free(line);
                if (f != stdin)
                    fclose(f);
                return -1;
            }
            m->v = nv;
            m->cap = nc;
        }
        struct rec *x = &m->v[m->n];
        const char *why = len < 0 ? "line longer than 1 MiB" : rec_parse(line, (size_t)len, x);
        if (why) {
            cli_log(PS_LOG_ERROR, "%s:%lu: not a stress result (%s); line skipped", path, lineno,
                    why);
            m->bad++;
            continue;
        }
        x->file = path;
        x->line = lineno;
        m->n++;
    }
    int err = ferror(f);
    free(line);
    if (f != stdin)
        fclose(f);
    if (err) {
        cli_log(PS_LOG_ERROR, "stress merge: error reading %s", path);
        return -1;
    }
    return 0;
}

static int by_index(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->r.idx != y->r.idx)
        return x->r.idx < y->r.idx ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

int cmd_stress_merge(int argc, char **argv)
{
    struct merge m = {0};
    int files = 0, read = 0;   /* given; read (the summary counts only those) */
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage_stress_merge(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--")) {
            cli_log(PS_LOG_ERROR, "stress merge: unknown option '%s'", argv[i]);
            fputs("Try 'portshim stress merge --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            continue;
        files++;
        if (read_file(&m, argv[i]))
            rc = EXIT_USAGE;
        else
            read++;
    }
    if (!files) {
        cli_log(PS_LOG_ERROR, "stress merge: no results files given (portshim stress merge "
                "FILE...)");
        fputs("Try 'portshim stress merge --help'.\n", stderr);
        return EXIT_USAGE;
    }
    if (m.n)
        qsort(m.v, m.n, sizeof *m.v, by_index);
    /* One record per run index: a file given twice, or a shard re-run. */
    size_t w = 0;
    long dups = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (w && m.v[w - 1].r.idx == m.v[i].r.idx) {
            if (dups++ < 5)
                cli_log(PS_LOG_WARN, "%s:%lu: run %ld is also in %s:%lu; counted once",
                        m.v[i].file, m.v[i].line, m.v[i].r.idx, m.v[w - 1].file, m.v[w - 1].line);
            rec_free(&m.v[i]);
            continue;
        }
        m.v[w++] = m.v[i];
    }
    m.n = w;
    if (dups > 5)
        cli_log(PS_LOG_WARN, "stress merge: %ld runs found more than once in all", dups);

    long failed = 0, plan = m.n ? m.v[0].runs : -1;
    uint64_t base = m.n ? m.v[0].base_seed : 0;
    bool one_plan = true;
    for (size_t i = 0; i < m.n; i++) {
        failed += stress_run_failed(&m.v[i].r);
        if (m.v[i].runs != plan || m.v[i].base_seed != base)
            one_plan = false;
    }
    if (!one_plan)
        cli_log(PS_LOG_WARN, "stress merge: the files hold runs of more than one plan (base "
                "seeds or run counts differ)");
    if (one_plan && plan > 0) {
        long missing = plan - (long)m.n, shown = 0;
        char list[256] = "";
        size_t len = 0;
        for (long idx = 0, j = 0; missing > 0 && idx < plan && shown < 10; idx++) {
            while ((size_t)j < m.n && m.v[j].r.idx < idx)
                j++;
            if ((size_t)j < m.n && m.v[j].r.idx == idx)
                continue;
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%ld", shown ? ", " : "",
                                    idx);
            if (len >= sizeof list)
                len = sizeof list - 1;
            shown++;
        }
        if (missing > 0)
            cli_log(PS_LOG_WARN, "stress merge: %ld of the plan's %ld runs are in no file "
                    "(a shard missing?): runs %s%s", missing, plan, list,
                    missing > shown ? ", ..." : "");
    }
    if (!m.n) {
        cli_log(PS_LOG_ERROR, "stress merge: no runs read (%ld malformed line%s)", m.bad,
                m.bad == 1 ? "" : "s");
        free(m.v);
        return EXIT_USAGE;
    }
    printf("stress merge: %zu run%s from %d file%s\n", m.n, m.n == 1 ? "" : "s", read,
           read == 1 ? "" : "s");
    stress_summary(stdout, (long)m.n, failed, -1);
    for (size_t i = 0; i < m.n; i++)
        if (stress_run_failed(&m.v[i].r))
            stress_print_failure(stdout, &m.v[i].r);
    for (size_t i = 0; i < m.n; i++)
        rec_free(&m.v[i]);
    free(m.v);
    if (fflush(stdout)) {
        cli_log(PS_LOG_ERROR, "cannot write to stdout: %s", strerror(errno));
        return EXIT_USAGE;
    }
    if (failed)
        return 1;
    return rc;
}
