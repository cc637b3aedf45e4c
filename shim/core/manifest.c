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
    [PS_EV_STALE] = "stale", [PS_EV_START] = "start", [PS_EV_CONNS] = "conns",
};
#define N_EV (sizeof ev_names / sizeof ev_names[0])

const char *ps_ev_name(enum ps_ev ev)
{
    return (unsigned)ev < N_EV ? ev_names[ev] : "";
}

const char *ps_proto_name(enum ps_proto p)
{
    return p == PS_PROTO_TCP ? "tcp" : p == PS_PROTO_UDP ? "udp" : "other";
}

enum ps_proto ps_proto_parse(const char *name)
{
    return !strcmp(name, "tcp") ? PS_PROTO_TCP
           : !strcmp(name, "udp") ? PS_PROTO_UDP : PS_PROTO_OTHER;
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
    e->huid = -1;
    e->inj_us = -1;
    e->cslot = -1;
    e->cbase = -1;
    e->count = -1;
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

/* Digits by hand: printf is most of the cost of a line otherwise. */
static void put_u64(struct out *o, unsigned long long v, int min_digits)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n < min_digits);
    put(o, tmp + sizeof tmp - n, (size_t)n);
}

static void put_key(struct out *o, const char *key)
{
    put(o, ",\"", 2);
    put(o, key, strlen(key));
    put(o, "\":", 2);
}

static void put_int(struct out *o, const char *key, long long v)
{
    put_key(o, key);
    if (v < 0) {
        put(o, "-", 1);
        put_u64(o, (unsigned long long)-v, 1);
    } else {
        put_u64(o, (unsigned long long)v, 1);
    }
}

/* A time in whole microseconds: 0 for one that is negative, NaN or too
 * large (ts * 1e6 must fit in 64 bits). */
static unsigned long long ts_us(double ts)
{
    if (!(ts >= 0) || ts >= 1e13)
        return 0;
    return (unsigned long long)(ts * 1e6 + 0.5);
}

/* Seconds with exactly six decimals, from integers. */
static void put_ts(struct out *o, double ts)
{
    unsigned long long us = ts_us(ts);
    put_u64(o, us / 1000000, 1);
    put(o, ".", 1);
    put_u64(o, us % 1000000, 6);
}

size_t ps_utf8_seq(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;   /* the second byte's range */
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        if (s[0] == 0xe0) lo = 0xa0;          /* overlong */
        else if (s[0] == 0xed) hi = 0x9f;     /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        if (s[0] == 0xf0) lo = 0x90;          /* overlong */
        else if (s[0] == 0xf4) hi = 0x8f;     /* past U+10FFFF */
    } else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

static void put_str(struct out *o, const char *key, const char *s)
{
    put_key(o, key);
    put(o, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char esc[2] = {'\\', (char)*c};
            put(o, esc, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            char esc[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
            put(o, esc, 6);
        } else if (*c >= 0x80) {
            size_t n = ps_utf8_seq((const char *)c);
            put(o, n ? (const char *)c : "?", n ? n : 1);
            if (n)
                c += n - 1;
        } else {
            put(o, (const char *)c, 1);
        }
    }
    put(o, "\"", 1);
}

static void put_bool(struct out *o, const char *key, bool b)
{
    put_key(o, key);
    if (b)
        put(o, "true", 4);
    else
        put(o, "false", 5);
}

size_t ps_event_encode(const struct ps_event *e, char *buf, size_t len)
{
    char a[PS_ADDRSTRLEN];
    struct out o = {buf, len, false};
    const char *ev = ps_ev_name(e->ev);
    put(&o, "{\"v\":", 5);
    put_u64(&o, (unsigned)e->v, 1);
    put(&o, ",\"ev\":\"", 7);
    put(&o, ev, strlen(ev));
    put(&o, "\",\"ts\":", 7);
    put_ts(&o, e->ts);
    put_int(&o, "pid", e->pid);
    if (e->prog[0]) put_str(&o, "prog", e->prog);
    if (e->sid[0]) put_str(&o, "sid", e->sid);
    if (e->mode[0]) put_str(&o, "mode", e->mode);
    put_bool(&o, "ok", e->ok);
    if (!e->ok) {
        put_int(&o, "errno", e->err);
        const char *n = ps_errno_name(e->err);
        if (n) put_str(&o, "err", n);
    }
    if (ps_fam_code(e->fam)) {
        put_int(&o, "fam", ps_fam_code(e->fam));
        if (e->fam == AF_INET6) put_bool(&o, "v6only", e->v6only);
    }
    if (e->proto != PS_PROTO_TCP) put_str(&o, "proto", ps_proto_name(e->proto));
    if (e->has_addr) put_str(&o, "addr", ps_addr_format(&e->addr, a));
    if (e->port >= 0) put_int(&o, "port", e->port);
    if (e->has_raddr) put_str(&o, "raddr", ps_addr_format(&e->raddr, a));
    if (e->rport >= 0) put_int(&o, "rport", e->rport);
    if (e->rpath[0]) put_str(&o, "rpath", e->rpath);
    if (e->ev == PS_EV_BIND) {
        put_bool(&o, "reuseaddr", e->reuseaddr);
        put_bool(&o, "reuseport", e->reuseport);
        if (e->chosen) put_bool(&o, "chosen", true);
        if (e->cslot >= 0 && e->cbase >= 0) {
            put_int(&o, "cslot", e->cslot);
            put_int(&o, "cbase", e->cbase);
        }
    }
    if (e->count >= 0) put_int(&o, "count", e->count);
    if (e->uid >= 0) put_int(&o, "uid", e->uid);
    if (e->ino) {
        put_key(&o, "ino");
        put_u64(&o, e->ino, 1);
    }
    if (e->ev == PS_EV_CONNECT) put_bool(&o, "routed", e->routed);
    if (e->holder > 0) put_int(&o, "holder", e->holder);
    if (e->note[0]) put_str(&o, "note", e->note);
    if (e->hpid > 0) {
        put_int(&o, "hpid", e->hpid);
        if (e->hcmd[0]) put_str(&o, "hcmd", e->hcmd);
    }
    if (e->huid >= 0) put_int(&o, "huid", e->huid);
    if (e->huser[0]) put_str(&o, "huser", e->huser);
    if (ts_us(e->hsince) > 0) {   /* 0 means absent: never write 0.000000 */
        put_key(&o, "hsince");
        put_ts(&o, e->hsince);
    }
    if (e->inj[0]) put_str(&o, "inj", e->inj);
    if (e->be[0]) put_str(&o, "be", e->be);
    if (e->inj_us >= 0) put_int(&o, "inj_us", e->inj_us);
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
    /* Integers and plain decimals by hand; strtod only for exponents. */
    const char *q = start;
    bool neg = *q == '-';
    if (neg)
        q++;
    unsigned long long ip = 0;
    int digits = 0;
    while (q < s->p && *q >= '0' && *q <= '9') {
        if (++digits > 18) {
            /* More than any integer field holds: still a JSON number (an
             * unknown key may carry one), read as a double below. */
            v->isint = false;
            break;
        }
        ip = ip * 10 + (unsigned)(*q++ - '0');
    }
    double num = (double)ip;
    if (q < s->p && *q == '.') {
        double scale = 0.1;
        for (q++; q < s->p && *q >= '0' && *q <= '9'; q++, scale /= 10)
            num += (*q - '0') * scale;
    }
    if (q < s->p) {   /* an exponent, or too many digits: never an int */
        char tmp[64];
        const char *from = neg ? start + 1 : start;   /* the sign is applied below */
        size_t n = (size_t)(s->p - from);
        if (n >= sizeof tmp) return -1;
        memcpy(tmp, from, n);
        tmp[n] = 0;
        num = strtod(tmp, NULL);   /* may be inf: converting it to an int is UB */
    }
    v->num = neg ? -num : num;
    v->ival = neg ? -(long long)ip : (long long)ip;
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

enum key {
    K_OTHER,
    K_ADDR,
    K_ERRNO,
    K_EV,
    K_FAM,
    K_HCMD,
    K_HOLDER,
    K_HPID,
    K_HSINCE,
    K_HUID,
    K_HUSER,
    K_INJ,
    K_INJ_US,
    K_INO,
    K_MODE,
    K_NOTE,
    K_OK,
    K_PID,
    K_PORT,
    K_PROG,
    K_PROTO,
    K_RADDR,
    K_REUSEADDR,
    K_REUSEPORT,
    K_ROUTED,
    K_RPATH,
    K_RPORT,
    K_SID,
    K_TS,
    K_UID,
    K_V,
    K_V6ONLY,
    K_CHOSEN,
    K_CSLOT,
    K_CBASE,
    K_COUNT,
    K_BE,
};

/* Which field a key names: a switch on its first letter, then one or two
 * comparisons (every line has a dozen keys; a strcmp chain was a third of a
 * decode). */
static enum key key_id(const char *key)
{
    static const struct { const char *name; enum key id; } known[] = {
        {"addr", K_ADDR},
        {"errno", K_ERRNO},
        {"ev", K_EV},
        {"fam", K_FAM},
        {"hcmd", K_HCMD},
        {"holder", K_HOLDER},
        {"hpid", K_HPID},
        {"hsince", K_HSINCE},
        {"huid", K_HUID},
        {"huser", K_HUSER},
        {"inj", K_INJ},
        {"inj_us", K_INJ_US},
        {"ino", K_INO},
        {"mode", K_MODE},
        {"note", K_NOTE},
        {"ok", K_OK},
        {"pid", K_PID},
        {"port", K_PORT},
        {"prog", K_PROG},
        {"proto", K_PROTO},
        {"raddr", K_RADDR},
        {"reuseaddr", K_REUSEADDR},
        {"reuseport", K_REUSEPORT},
        {"routed", K_ROUTED},
        {"rpath", K_RPATH},
        {"rport", K_RPORT},
        {"sid", K_SID},
        {"ts", K_TS},
        {"uid", K_UID},
        {"v", K_V},
        {"v6only", K_V6ONLY},
        {"chosen", K_CHOSEN},
        {"cslot", K_CSLOT},
        {"cbase", K_CBASE},
        {"count", K_COUNT},
        {"be", K_BE},
    };
    size_t lo, hi;
    switch (key[0]) {
    case 'a': lo = 0; hi = 1; break;
    case 'e': lo = 1; hi = 3; break;
    case 'f': lo = 3; hi = 4; break;
    case 'h': lo = 4; hi = 10; break;
    case 'i': lo = 10; hi = 13; break;
    case 'm': lo = 13; hi = 14; break;
    case 'n': lo = 14; hi = 15; break;
    case 'o': lo = 15; hi = 16; break;
    case 'p': lo = 16; hi = 20; break;
    case 'r': lo = 20; hi = 26; break;
    case 's': lo = 26; hi = 27; break;
    case 't': lo = 27; hi = 28; break;
    case 'u': lo = 28; hi = 29; break;
    case 'v': lo = 29; hi = 31; break;
    case 'c': lo = 31; hi = 35; break;
    case 'b': lo = 35; hi = 36; break;
    default: return K_OTHER;
    }
    for (size_t i = lo; i < hi; i++)
        if (!strcmp(key, known[i].name))
            return known[i].id;
    return K_OTHER;
}

static int field(struct ps_event *e, const char *key, const struct jval *v, int *seen)
{
    long long i;
    enum key k = key_id(key);
    if (k == K_V) {
        if (want_int(v, 0, 1000000, &i)) return -1;
        e->v = (int)i; *seen |= 1;
    } else if (k == K_EV) {
        if (v->t != J_STR) return -1;
        e->ev = ps_ev_parse(v->str); *seen |= 2;
    } else if (k == K_TS) {
        /* finite: readers print times as JSON numbers, which have no inf */
        if (v->t != J_NUM || !__builtin_isfinite(v->num)) return -1;
        e->ts = v->num;
    } else if (k == K_PID) {
        if (want_int(v, 0, 0x7fffffff, &i)) return -1;
        e->pid = (int)i;
    } else if (k == K_PROG) {
        if (v->t != J_STR) return -1;
        if (scopy(e->prog, sizeof e->prog, v->str, false)) return -1;
    } else if (k == K_SID) {
        if (v->t != J_STR) return -1;
        if (scopy(e->sid, sizeof e->sid, v->str, true)) return -1;
    } else if (k == K_BE) {
        /* a longer name is a newer writer's backend: cut, not refused */
        if (v->t != J_STR) return -1;
        if (scopy(e->be, sizeof e->be, v->str, false)) return -1;
    } else if (k == K_MODE) {
        if (v->t != J_STR) return -1;
        if (scopy(e->mode, sizeof e->mode, v->str, true)) return -1;
    } else if (k == K_OK) {
        if (v->t != J_BOOL) return -1;
        e->ok = v->b;
    } else if (k == K_ERRNO) {
        if (want_int(v, 0, 4095, &i)) return -1;
        e->err = (int)i;
    } else if (k == K_FAM) {
        if (want_int(v, 4, 6, &i) || !(e->fam = ps_fam_from_code((int)i))) return -1;
    } else if (k == K_PROTO) {
        char p[8];
        if (v->t != J_STR) return -1;
        /* an unknown protocol (or a long name) is a newer writer's: OTHER */
        e->proto = scopy(p, sizeof p, v->str, true) ? PS_PROTO_OTHER : ps_proto_parse(p);
    } else if (k == K_V6ONLY) {
        if (v->t != J_BOOL) return -1;
        e->v6only = v->b;
    } else if (k == K_ADDR || k == K_RADDR) {
        bool real = key[0] == 'r';
        if (v->t != J_STR || ps_addr_parse(v->str, real ? &e->raddr : &e->addr)) return -1;
        if (real) e->has_raddr = true; else e->has_addr = true;
    } else if (k == K_PORT) {
        if (want_int(v, 0, 65535, &i)) return -1;
        e->port = (int)i;
    } else if (k == K_RPORT) {
        if (want_int(v, 0, 65535, &i)) return -1;
        e->rport = (int)i;
    } else if (k == K_RPATH) {
        if (v->t != J_STR) return -1;
        if (scopy(e->rpath, sizeof e->rpath, v->str, true)) return -1;
    } else if (k == K_REUSEADDR || k == K_REUSEPORT) {
        if (v->t != J_BOOL) return -1;
        if (k == K_REUSEADDR) e->reuseaddr = v->b; else e->reuseport = v->b;
    } else if (k == K_UID) {
        if (want_int(v, 0, 0xffffffffLL, &i)) return -1;
        e->uid = (long)i;
    } else if (k == K_CHOSEN) {
        if (v->t != J_BOOL) return -1;
        e->chosen = v->b;
    } else if (k == K_CSLOT) {
        if (want_int(v, 0, PS_CSLOT_MAX - 1, &i)) return -1;
        e->cslot = (int)i;
    } else if (k == K_CBASE || k == K_COUNT) {
        if (want_int(v, 0, (long long)1 << 53, &i)) return -1;
        if (k == K_CBASE) e->cbase = i; else e->count = i;
    } else if (k == K_ROUTED) {
        if (v->t != J_BOOL) return -1;
        e->routed = v->b;
    } else if (k == K_HOLDER) {
        if (want_int(v, 1, 0x7fffffff, &i)) return -1;
        e->holder = (int)i;
    } else if (k == K_NOTE) {
        if (v->t != J_STR) return -1;
        if (scopy(e->note, sizeof e->note, v->str, false)) return -1;
    } else if (k == K_HPID) {
        if (want_int(v, 1, 0x7fffffff, &i)) return -1;
        e->hpid = (int)i;
    } else if (k == K_HUID) {
        if (want_int(v, 0, 0xffffffffLL, &i)) return -1;
        e->huid = (long)i;
    } else if (k == K_HCMD || k == K_HUSER) {
        if (v->t != J_STR) return -1;
        if (k == K_HCMD ? scopy(e->hcmd, sizeof e->hcmd, v->str, false)
                        : scopy(e->huser, sizeof e->huser, v->str, false)) return -1;
    } else if (k == K_HSINCE) {
        if (v->t != J_NUM || !(v->num >= 0) || !__builtin_isfinite(v->num)) return -1;
        e->hsince = v->num;
    } else if (k == K_INJ) {
        if (v->t != J_STR) return -1;
        if (scopy(e->inj, sizeof e->inj, v->str, true)) return -1;
    } else if (k == K_INO) {
        /* up to 18 digits: every inode number a kernel hands out */
        if (want_int(v, 1, 999999999999999999LL, &i)) return -1;
        e->ino = (unsigned long long)i;
    } else if (k == K_INJ_US) {
        if (want_int(v, 0, 3600000000LL, &i)) return -1;
        e->inj_us = (long long)i;
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
    if ((seen & 3) != 3 || e->v < PS_MANIFEST_VERSION_MIN || e->v > PS_MANIFEST_VERSION)
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

static void reader_bad(struct ps_reader *r, ps_badline_fn bad, void *ctx, const char *line,
                       size_t len)
{
    r->bad++;
    if (bad)
        bad(ctx, r->lineno, line, len);
}

/* Where a record starts: every writer begins its line with it, and inside a
 * JSON string a '"' is always escaped, so in a well-formed line it occurs
 * only at the start. */
static const char rec_start[] = "{\"v\":";
#define REC_START_LEN (sizeof rec_start - 1)

/* The next record start after line[0], or NULL. A '{' is rare in a line
 * (only in free text), so this is one memchr over the line. */
static const char *next_record(const char *line, size_t len)
{
    const char *end = line + len, *p = line + 1;
    while (p < end && (p = memchr(p, '{', (size_t)(end - p)))) {
        if ((size_t)(end - p) >= REC_START_LEN && !memcmp(p, rec_start, REC_START_LEN))
            return p;
        p++;
    }
    return NULL;
}

/* {"v":N,"ev":"KIND" with N a version read and KIND in the mask. Decoding
 * is the slow part of reading; this is a prefix compare, a short name
 * lookup and one memchr:
 * a line that a torn write glued onto another record is not passed over,
 * so the record can be found in it. */
static bool skippable(unsigned mask, const char *line, size_t len)
{
    static const char prefix[] = "{\"v\":1,\"ev\":\"";
    const size_t pl = sizeof prefix - 1;
    if (len <= pl || memcmp(line, prefix, 5) || line[5] < '0' + PS_MANIFEST_VERSION_MIN ||
        line[5] > '0' + PS_MANIFEST_VERSION || memcmp(line + 6, prefix + 6, pl - 6) ||
        next_record(line, len))
        return false;
    const char *name = line + pl;
    const char *q = memchr(name, '"', len - pl);
    char buf[16];
    size_t n = q ? (size_t)(q - name) : sizeof buf;
    if (n >= sizeof buf)
        return false;
    memcpy(buf, name, n);
    buf[n] = 0;
    enum ps_ev kind = ps_ev_parse(buf);
    return kind != PS_EV_NONE && (mask & PS_EV_BIT(kind));
}

/* One line: passed over (a kind the caller does not want, recognised by its
 * prefix), decoded, or malformed. A malformed line may be the fragment a
 * killed writer left with the next writer's record glued on: the fragment is
 * reported and reading resumes at the next record start in the line. */
static void read_line(struct ps_reader *r, ps_event_fn fn, ps_badline_fn bad, void *ctx,
                      const char *line, size_t len)
{
    const char *end = line + len;
    bool reported = false;
    for (;;) {
        if (r->skip && skippable(r->skip, line, (size_t)(end - line)))
            return;
        struct ps_event e;
        int rc = ps_event_decode(line, (size_t)(end - line), &e);
        if (rc == 0 && fn)
            fn(ctx, &e);
        if (rc >= 0)
            return;
        const char *next = next_record(line, (size_t)(end - line));
        if (!reported) {
            reader_bad(r, bad, ctx, line, (size_t)((next ? next : end) - line));
            reported = true;
        }
        if (!next)
            return;
        line = next;
    }
}

bool ps_reader_mid_line(const struct ps_reader *r)
{
    return r->len > 0 || r->skipping;
}

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
        bool short_read = (size_t)n < r->cap - r->len;
        r->len += (size_t)n;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(r->buf + start, '\n', r->len - start);
            if (!nl)
                break;
            size_t llen = (size_t)(nl - (r->buf + start));
            const char *line = r->buf + start;
            start += llen + 1;
            if (r->skipping) {      /* the end of a line already reported */
                r->skipping = false;
                continue;
            }
            r->lineno++;
            lines++;
            if (llen > PS_READ_LINE_MAX)
                reader_bad(r, bad, ctx, line, PS_READ_LINE_MAX);
            else if (llen)
                read_line(r, fn, bad, ctx, line, llen);
        }
        if (r->len - start > PS_READ_LINE_MAX) {
            /* Too long already: report it now and drop what is held, so a
             * line without a newline cannot grow the buffer. */
            if (!r->skipping) {
                r->lineno++;
                lines++;
                reader_bad(r, bad, ctx, r->buf + start, PS_READ_LINE_MAX);
                r->skipping = true;
            }
            start = r->len;
        } else if (r->skipping) {
            start = r->len;
        }
        if (start) {
            memmove(r->buf, r->buf + start, r->len - start);
            r->len -= start;
            r->off += start;
        }
        if (short_read)
            return lines;   /* a regular file's short read: the end, for now */
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
