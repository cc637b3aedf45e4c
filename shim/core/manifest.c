/* manifest.c — encode, decode, read and append manifest lines. */
#include "core/manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static const char *const ev_names[] = {
    [PS_EV_NONE] = "", [PS_EV_BIND] = "bind", [PS_EV_LISTEN] = "listen",
    [PS_EV_CONNECT] = "connect", [PS_EV_ACCEPT] = "accept", [PS_EV_CLOSE] = "close",
    [PS_EV_INHERIT] = "inherit", [PS_EV_RELEASE] = "release", [PS_EV_EXIT] = "exit",
    [PS_EV_STALE] = "stale", [PS_EV_START] = "start",
};
#define N_EV (sizeof ev_names / sizeof ev_names[0])

const char *ps_ev_name(enum ps_ev ev)
{
    return (unsigned)ev < N_EV ? ev_names[ev] : "";
}

enum ps_ev ps_ev_parse(const char *name)
{
    for (unsigned i = 1; i < N_EV; i++)
        if (!strcmp(name, ev_names[i]))
            return (enum ps_ev)i;
    return PS_EV_NONE;
}

const char *ps_errno_name(int err)
{
    switch (err) {
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EINPROGRESS: return "EINPROGRESS";
    case EALREADY: return "EALREADY";
    case EISCONN: return "EISCONN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ECONNABORTED: return "ECONNABORTED";
    case ECONNRESET: return "ECONNRESET";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOENT: return "ENOENT";
    }
    return NULL;
}

void ps_event_init(struct ps_event *e, enum ps_ev ev)
{
    memset(e, 0, sizeof *e);
    e->v = PS_MANIFEST_VERSION;
    e->ev = ev;
    e->ok = true;
    e->port = -1;
    e->rport = -1;
    e->uid = -1;
}

/* ---- encoding ---------------------------------------------------------- */

struct out { char *p; size_t left; bool full; };

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || n >= o->left) {
        o->full = true;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
    o->left -= n;
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        o->full = true;
    else
        put(o, tmp, (size_t)n);
}

static void put_str(struct out *o, const char *key, const char *s)
{
    putf(o, ",\"%s\":\"", key);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char esc[2] = {'\\', (char)*c};
            put(o, esc, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            putf(o, "\\u%04x", *c);
        } else {
            put(o, (const char *)c, 1);
        }
    }
    put(o, "\"", 1);
}

static void put_bool(struct out *o, const char *key, bool b)
{
    putf(o, ",\"%s\":%s", key, b ? "true" : "false");
}

size_t ps_event_encode(const struct ps_event *e, char *buf, size_t len)
{
    char a[PS_ADDRSTRLEN];
    struct out o = {buf, len, false};
    putf(&o, "{\"v\":%d,\"ev\":\"%s\",\"ts\":%.6f,\"pid\":%d", e->v, ps_ev_name(e->ev), e->ts,
         e->pid);
    if (e->prog[0]) put_str(&o, "prog", e->prog);
    if (e->sid[0]) put_str(&o, "sid", e->sid);
    if (e->mode[0]) put_str(&o, "mode", e->mode);
    put_bool(&o, "ok", e->ok);
    if (!e->ok) {
        putf(&o, ",\"errno\":%d", e->err);
        const char *n = ps_errno_name(e->err);
        if (n) put_str(&o, "err", n);
    }
    if (e->fam) {
        putf(&o, ",\"fam\":%d", e->fam);
        if (e->fam == 6) put_bool(&o, "v6only", e->v6only);
    }
    if (e->has_addr) put_str(&o, "addr", ps_addr_format(&e->addr, a));
    if (e->port >= 0) putf(&o, ",\"port\":%d", e->port);
    if (e->has_raddr) put_str(&o, "raddr", ps_addr_format(&e->raddr, a));
    if (e->rport >= 0) putf(&o, ",\"rport\":%d", e->rport);
    if (e->rpath[0]) put_str(&o, "rpath", e->rpath);
    if (e->ev == PS_EV_BIND) {
        put_bool(&o, "reuseaddr", e->reuseaddr);
        put_bool(&o, "reuseport", e->reuseport);
    }
    if (e->uid >= 0) putf(&o, ",\"uid\":%ld", e->uid);
    if (e->ev == PS_EV_CONNECT) put_bool(&o, "routed", e->routed);
    if (e->holder > 0) putf(&o, ",\"holder\":%d", e->holder);
    if (e->note[0]) put_str(&o, "note", e->note);
    put(&o, "}\n", 2);
    return o.full ? 0 : len - o.left;
}

/* ---- decoding: a strict reader for one flat JSON object --------------- */

struct in { const char *p, *end; };

static void ws(struct in *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r'))
        s->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads a JSON string into out (truncated to cap-1 bytes); -1 if malformed. */
static int jstring(struct in *s, char *out, size_t cap)
{
    size_t n = 0;
    if (s->p >= s->end || *s->p != '"')
        return -1;
    s->p++;
    while (s->p < s->end && *s->p != '"') {
        unsigned c = (unsigned char)*s->p++;
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (s->p >= s->end)
                return -1;
            char e = *s->p++;
            switch (e) {
            case '"': case '\\': case '/': c = (unsigned)e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                if (s->end - s->p < 4)
                    return -1;
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(s->p[i]);
                    if (h < 0)
                        return -1;
                    v = v * 16 + (unsigned)h;
                }
                s->p += 4;
                c = v < 0x80 ? v : '?';  /* names and notes are ASCII */
                break;
            }
            default:
                return -1;
            }
        }
        if (out && n + 1 < cap)
            out[n++] = (char)c;
    }
    if (s->p >= s->end)
        return -1;
    s->p++;
    if (out && cap)
        out[n] = 0;
    return 0;
}

enum jtype { J_STR, J_NUM, J_BOOL, J_NULL, J_OTHER };

struct jval {
    enum jtype t;
    char str[PS_NOTE_MAX];
    double num;
    bool isint;
    long long ival;
    bool b;
};

static int jskip(struct in *s, int depth);

static int jnumber(struct in *s, struct jval *v)
{
    const char *start = s->p;
    if (s->p < s->end && *s->p == '-') s->p++;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9') return -1;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    v->isint = true;
    if (s->p < s->end && *s->p == '.') {
        v->isint = false;
        s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9') return -1;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        v->isint = false;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9') return -1;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    }
    char tmp[64];
    size_t n = (size_t)(s->p - start);
    if (n >= sizeof tmp) return -1;
    memcpy(tmp, start, n);
    tmp[n] = 0;
    v->num = strtod(tmp, NULL);
    v->ival = v->isint ? strtoll(tmp, NULL, 10) : (long long)v->num;
    v->t = J_NUM;
    return 0;
}

static int jlit(struct in *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n)) return -1;
    s->p += n;
    return 0;
}

static int jvalue(struct in *s, struct jval *v, int depth)
{
    ws(s);
    if (s->p >= s->end) return -1;
    switch (*s->p) {
    case '"': v->t = J_STR; return jstring(s, v->str, sizeof v->str);
    case 't': v->t = J_BOOL; v->b = true; return jlit(s, "true");
    case 'f': v->t = J_BOOL; v->b = false; return jlit(s, "false");
    case 'n': v->t = J_NULL; return jlit(s, "null");
    case '{': case '[': v->t = J_OTHER; return jskip(s, depth + 1);
    default: return jnumber(s, v);
    }
}

/* Skips a nested object or array (values of keys this version ignores). */
static int jskip(struct in *s, int depth)
{
    if (depth > 16) return -1;
    char open = *s->p++, close = open == '{' ? '}' : ']';
    struct jval tmp;
    ws(s);
    if (s->p < s->end && *s->p == close) { s->p++; return 0; }
    for (;;) {
        if (open == '{') {
            ws(s);
            if (jstring(s, NULL, 0)) return -1;
            ws(s);
            if (s->p >= s->end || *s->p++ != ':') return -1;
        }
        if (jvalue(s, &tmp, depth)) return -1;
        ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == ',') { s->p++; continue; }
        if (*s->p == close) { s->p++; return 0; }
        return -1;
    }
}

/* Copies a decoded string; exact fields (ids, paths) must fit, text may be cut. */
static int scopy(char *dst, size_t cap, const char *src, bool exact)
{
    size_t n = strlen(src);
    if (n >= cap) {
        if (exact)
            return -1;
        n = cap - 1;
    }
    memcpy(dst, src, n);
    dst[n] = 0;
    return 0;
}

static int want_int(const struct jval *v, long long lo, long long hi, long long *out)
{
    if (v->t != J_NUM || !v->isint || v->ival < lo || v->ival > hi) return -1;
    *out = v->ival;
    return 0;
}

static int field(struct ps_event *e, const char *key, const struct jval *v, int *seen)
{
    long long i;
    if (!strcmp(key, "v")) {
        if (want_int(v, 0, 1000000, &i)) return -1;
        e->v = (int)i; *seen |= 1;
    } else if (!strcmp(key, "ev")) {
        if (v->t != J_STR) return -1;
        e->ev = ps_ev_parse(v->str); *seen |= 2;
    } else if (!strcmp(key, "ts")) {
        if (v->t != J_NUM) return -1;
        e->ts = v->num;
    } else if (!strcmp(key, "pid")) {
        if (want_int(v, 0, 0x7fffffff, &i)) return -1;
        e->pid = (int)i;
    } else if (!strcmp(key, "prog")) {
        if (v->t != J_STR) return -1;
        if (scopy(e->prog, sizeof e->prog, v->str, false)) return -1;
    } else if (!strcmp(key, "sid")) {
        if (v->t != J_STR) return -1;
        if (scopy(e->sid, sizeof e->sid, v->str, true)) return -1;
    } else if (!strcmp(key, "mode")) {
        if (v->t != J_STR) return -1;
        if (scopy(e->mode, sizeof e->mode, v->str, true)) return -1;
    } else if (!strcmp(key, "ok")) {
        if (v->t != J_BOOL) return -1;
        e->ok = v->b;
    } else if (!strcmp(key, "errno")) {
        if (want_int(v, 0, 4095, &i)) return -1;
        e->err = (int)i;
    } else if (!strcmp(key, "fam")) {
        if (want_int(v, 4, 6, &i) || i == 5) return -1;
        e->fam = (int)i;
    } else if (!strcmp(key, "v6only")) {
        if (v->t != J_BOOL) return -1;
        e->v6only = v->b;
    } else if (!strcmp(key, "addr") || !strcmp(key, "raddr")) {
        bool real = key[0] == 'r';
        if (v->t != J_STR || ps_addr_parse(v->str, real ? &e->raddr : &e->addr)) return -1;
        if (real) e->has_raddr = true; else e->has_addr = true;
    } else if (!strcmp(key, "port")) {
        if (want_int(v, 0, 65535, &i)) return -1;
        e->port = (int)i;
    } else if (!strcmp(key, "rport")) {
        if (want_int(v, 0, 65535, &i)) return -1;
        e->rport = (int)i;
    } else if (!strcmp(key, "rpath")) {
        if (v->t != J_STR) return -1;
        if (scopy(e->rpath, sizeof e->rpath, v->str, true)) return -1;
    } else if (!strcmp(key, "reuseaddr") || !strcmp(key, "reuseport")) {
        if (v->t != J_BOOL) return -1;
        if (!strcmp(key, "reuseaddr")) e->reuseaddr = v->b; else e->reuseport = v->b;
    } else if (!strcmp(key, "uid")) {
        if (want_int(v, 0, 0xffffffffLL, &i)) return -1;
        e->uid = (long)i;
    } else if (!strcmp(key, "routed")) {
        if (v->t != J_BOOL) return -1;
        e->routed = v->b;
    } else if (!strcmp(key, "holder")) {
        if (want_int(v, 1, 0x7fffffff, &i)) return -1;
        e->holder = (int)i;
    } else if (!strcmp(key, "note")) {
        if (v->t != J_STR) return -1;
        if (scopy(e->note, sizeof e->note, v->str, false)) return -1;
    }
    /* other keys: added by newer writers, ignored */
    return 0;
}

int ps_event_decode(const char *line, size_t len, struct ps_event *e)
{
    struct in s = {line, line + len};
    struct jval v;
    char key[32];
    int seen = 0;
    ps_event_init(e, PS_EV_NONE);
    e->v = 0;
    ws(&s);
    if (s.p >= s.end || *s.p++ != '{')
        return -1;
    ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
    } else {
        for (;;) {
            ws(&s);
            if (jstring(&s, key, sizeof key)) return -1;
            ws(&s);
            if (s.p >= s.end || *s.p++ != ':') return -1;
            if (jvalue(&s, &v, 0)) return -1;
            if (field(e, key, &v, &seen)) return -1;
            ws(&s);
            if (s.p >= s.end) return -1;
            if (*s.p == ',') { s.p++; continue; }
            if (*s.p == '}') { s.p++; break; }
            return -1;
        }
    }
    ws(&s);
    if (s.p != s.end)
        return -1;
    if ((seen & 3) != 3 || e->v != PS_MANIFEST_VERSION)
        return -1;
    return e->ev == PS_EV_NONE ? 1 : 0;
}

/* ---- reading ----------------------------------------------------------- */

void ps_reader_init(struct ps_reader *r, int fd)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
}

void ps_reader_free(struct ps_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = r->len = 0;
}

#define READ_CHUNK 65536

long ps_reader_poll(struct ps_reader *r, ps_event_fn fn, ps_badline_fn bad, void *ctx)
{
    long lines = 0;
    for (;;) {
        if (r->cap - r->len < READ_CHUNK) {
            size_t ncap = r->cap ? r->cap * 2 : READ_CHUNK * 2;
            while (ncap - r->len < READ_CHUNK)
                ncap *= 2;
            char *nb = realloc(r->buf, ncap);
            if (!nb) {
                errno = ENOMEM;
                return -1;
            }
            r->buf = nb;
            r->cap = ncap;
        }
        ssize_t n = pread(r->fd, r->buf + r->len, r->cap - r->len, (off_t)(r->off + r->len));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            return lines;
        r->len += (size_t)n;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(r->buf + start, '\n', r->len - start);
            if (!nl)
                break;
            size_t llen = (size_t)(nl - (r->buf + start));
            const char *line = r->buf + start;
            r->lineno++;
            lines++;
            if (llen) {
                struct ps_event e;
                int rc = ps_event_decode(line, llen, &e);
                if (rc == 0) {
                    if (fn) fn(ctx, &e);
                } else if (rc < 0) {
                    r->bad++;
                    if (bad) bad(ctx, r->lineno, line, llen);
                }
            }
            start += llen + 1;
        }
        if (start) {
            memmove(r->buf, r->buf + start, r->len - start);
            r->len -= start;
            r->off += start;
        }
        if ((size_t)n < READ_CHUNK && r->cap - r->len >= READ_CHUNK)
            continue;   /* short read: one more pread confirms the end */
    }
}

/* ---- writing ----------------------------------------------------------- */

int ps_manifest_lock(int fd)
{
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

int ps_manifest_unlock(int fd)
{
    while (flock(fd, LOCK_UN) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

int ps_manifest_append(int fd, const char *line, size_t len)
{
    while (len) {
        ssize_t n = write(fd, line, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        line += n;
        len -= (size_t)n;
    }
    return 0;
}
