/* inject.c — the --inject grammar, its canonical text, and the seeded
 * decisions. No allocation and no locale: the library parses
 * PORTSHIM_INJECT inside programs that may have set LC_NUMERIC. */
#include "core/inject.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[PS_INJ_KINDS] = {
    [PS_INJ_CONNECT_DELAY] = "connect-delay",
    [PS_INJ_ACCEPT_DELAY] = "accept-delay",
    [PS_INJ_BIND_EADDRINUSE] = "bind-eaddrinuse",
    [PS_INJ_CONNECT_REFUSED] = "connect-refused",
    [PS_INJ_UDP_DROP] = "udp-drop",
};

const char *ps_inject_kind_name(int kind)
{
    return kind >= 0 && kind < PS_INJ_KINDS ? kind_names[kind] : "?";
}

static bool isdig(char c) { return c >= '0' && c <= '9'; }

/* NUMBER := DIGITS ['.' DIGITS] [('e'|'E') ['+'|'-'] DIGITS], or '.' DIGITS ...
 * Decimal, whatever the locale. Parses s[0..n); returns 0 when all of it
 * is one number. */
static int parse_number_scaled(const char *s, size_t n, int shift, double *out)
{
    size_t i = 0;
    uint64_t mant = 0;
    int exp10 = shift, digits = 0, sig = 0;
    for (; i < n && isdig(s[i]); i++, digits++)
        if (sig < 19) { mant = mant * 10 + (uint64_t)(s[i] - '0'); if (mant) sig++; }
        else exp10++;
    if (i < n && s[i] == '.') {
        for (i++; i < n && isdig(s[i]); i++, digits++)
            if (sig < 19) { mant = mant * 10 + (uint64_t)(s[i] - '0'); exp10--; if (mant) sig++; }
    }
    if (!digits)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int sign = 1, e = 0, edig = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            sign = s[i++] == '-' ? -1 : 1;
        for (; i < n && isdig(s[i]); i++, edig++)
            if (e < 1000) e = e * 10 + (s[i] - '0');
        if (!edig)
            return -1;
        exp10 += sign * e;
    }
    if (i != n)
        return -1;
    double v = (double)mant;
    /* Exact for the short numbers people write (mantissa < 2^53, |exp| <= 22). */
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
                                 1e20, 1e21, 1e22};
    if (mant < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        *out = exp10 >= 0 ? v * p10[exp10] : v / p10[-exp10];
        return 0;
    }
    /* Otherwise strtod, correctly rounded, on text with no decimal point
     * (the only locale-dependent part): repeated scaling was off in the
     * last bits, so a formatted spec did not parse back to itself. */
    char t[48];
    snprintf(t, sizeof t, "%llue%d", (unsigned long long)mant, exp10);
    *out = strtod(t, NULL);
    return 0;
}

static int parse_number(const char *s, size_t n, double *out)
{
    return parse_number_scaled(s, n, 0, out);
}

static int parse_prob(const char *s, size_t n, double *p)
{
    bool pct = n > 0 && s[n - 1] == '%';
    double v;
    /* 33.3% is 333e-3, the same double as 0.333. */
    if (parse_number_scaled(s, pct ? n - 1 : n, pct ? -2 : 0, &v))
        return -1;
    if (!(v >= 0.0 && v <= 1.0))
        return -1;
    *p = v;
    return 0;
}

/* Unit suffix of s[0..n): its length and microseconds per unit, or 0. */
static size_t unit_of(const char *s, size_t n, uint64_t *per)
{
    if (n >= 2 && !memcmp(s + n - 2, "us", 2)) { *per = 1; return 2; }
    if (n >= 2 && !memcmp(s + n - 2, "ms", 2)) { *per = 1000; return 2; }
    if (n >= 1 && s[n - 1] == 's') { *per = 1000000; return 1; }
    return 0;
}

/* 0, or -1 bad syntax, -2 over 60 s. per_default: unit of a bare number (0: none). */
static int parse_dur(const char *s, size_t n, uint64_t per_default, uint64_t *us)
{
    uint64_t per = 0;
    size_t ul = unit_of(s, n, &per);
    if (!ul) {
        if (!per_default)
            return -1;
        per = per_default;
    }
    double v;
    if (parse_number(s, n - ul, &v))
        return -1;
    v *= (double)per;
    if (v > (double)PS_INJ_MAX_US)
        return -2;
    *us = (uint64_t)(v + 0.5);
    return 0;
}

struct perr { const char *label; char *err; size_t errlen; const char *item; size_t itemlen; };

#define ITEM_FMT "%s '%.*s': "
#define ITEM_ARGS(e) (e)->label, (int)((e)->itemlen > 80 ? 80 : (e)->itemlen), (e)->item

static int parse_delay(const char *v, size_t n, struct ps_inj_delay *d, struct perr *e)
{
    const char *at = memchr(v, '@', n);
    size_t dn = at ? (size_t)(at - v) : n;
    d->p = 1.0;
    if (at && parse_prob(at + 1, n - dn - 1, &d->p)) {
        snprintf(e->err, e->errlen, ITEM_FMT "bad probability '%.*s' (use 0.25 or 25%%)",
                 ITEM_ARGS(e), (int)(n - dn - 1 > 40 ? 40 : n - dn - 1), at + 1);
        return -1;
    }
    const char *dash = memchr(v, '-', dn);
    const char *hs = dash ? dash + 1 : v;
    size_t hn = dash ? dn - (size_t)(hs - v) : dn;
    /* "-1ms" reads as a range with no low end: say what was meant. */
    if (dash && (dash == v || !hn)) {
        snprintf(e->err, e->errlen, dash == v
                 ? ITEM_FMT "a delay cannot be negative ('%.*s'; a range is LO-HI, e.g. 0-30ms)"
                 : ITEM_FMT "range '%.*s' has no upper end (a range is LO-HI, e.g. 0-30ms)",
                 ITEM_ARGS(e), (int)(dn > 40 ? 40 : dn), v);
        return -1;
    }
    int rc = parse_dur(hs, hn, 0, &d->hi_us);
    const char *bad = hs;
    size_t badn = hn;
    if (!rc) {
        d->lo_us = d->hi_us;
        if (dash) {
            uint64_t per = 0;
            unit_of(hs, hn, &per);
            rc = parse_dur(v, (size_t)(dash - v), per, &d->lo_us);
            bad = v;
            badn = (size_t)(dash - v);
        }
    }
    if (rc == -1) {
        snprintf(e->err, e->errlen, ITEM_FMT "bad duration '%.*s' (use 10us, 5ms or 1s)",
                 ITEM_ARGS(e), (int)(badn > 40 ? 40 : badn), bad);
        return -1;
    }
    if (rc == -2) {
        snprintf(e->err, e->errlen, ITEM_FMT "duration '%.*s' is over 60s",
                 ITEM_ARGS(e), (int)(badn > 40 ? 40 : badn), bad);
        return -1;
    }
    if (d->lo_us > d->hi_us) {
        snprintf(e->err, e->errlen, ITEM_FMT "range '%.*s' runs backwards",
                 ITEM_ARGS(e), (int)(dn > 40 ? 40 : dn), v);
        return -1;
    }
    return 0;
}

static void one_line(char *msg)
{
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static int parse(const char *label, const char *s, struct ps_inject *in, char *err,
                 size_t errlen)
{
    struct perr e = {label, err, errlen, s, strlen(s)};
    unsigned seen = 0;
    if (!*s) {
        snprintf(err, errlen, "%s '': empty spec (e.g. accept-delay=30ms@0.3)", label);
        return -1;
    }
    for (const char *p = s;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        e.item = p;
        e.itemlen = n;
        const char *eq = memchr(p, '=', n);
        int kind = -1;
        if (eq)
            for (int k = 0; k < PS_INJ_KINDS; k++)
                if ((size_t)(eq - p) == strlen(kind_names[k]) &&
                    !memcmp(p, kind_names[k], (size_t)(eq - p)))
                    kind = k;
        if (!n) {
            snprintf(err, errlen, "%s '%.80s': empty item", label, s);
            return -1;
        }
        if (kind < 0) {
            snprintf(err, errlen, ITEM_FMT "expected connect-delay=, accept-delay=, "
                     "bind-eaddrinuse=, connect-refused= or udp-drop=", ITEM_ARGS(&e));
            return -1;
        }
        if (seen & (1u << kind)) {
            snprintf(err, errlen, ITEM_FMT "%s given twice", ITEM_ARGS(&e), kind_names[kind]);
            return -1;
        }
        seen |= 1u << kind;
        const char *v = eq + 1;
        size_t vn = n - (size_t)(v - p);
        switch (kind) {
        case PS_INJ_CONNECT_DELAY:
        case PS_INJ_ACCEPT_DELAY:
            if (parse_delay(v, vn, kind == PS_INJ_CONNECT_DELAY ? &in->connect_delay
                                                               : &in->accept_delay, &e))
                return -1;
            break;
        default:
            if (parse_prob(v, vn, kind == PS_INJ_BIND_EADDRINUSE ? &in->bind_eaddrinuse
                                  : kind == PS_INJ_CONNECT_REFUSED ? &in->connect_refused
                                                                   : &in->udp_drop)) {
                snprintf(err, errlen, ITEM_FMT "bad probability '%.*s' (use 0.25 or 25%%)",
                         ITEM_ARGS(&e), (int)(vn > 40 ? 40 : vn), v);
                return -1;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    in->any = in->connect_delay.p > 0 || in->accept_delay.p > 0 ||
              in->bind_eaddrinuse > 0 || in->connect_refused > 0 || in->udp_drop > 0;
    return 0;
}

int ps_inject_parse_as(const char *label, const char *s, struct ps_inject *in,
                       char *err, size_t errlen)
{
    memset(in, 0, sizeof *in);
    int rc = parse(label, s, in, err, errlen);
    if (rc) {
        memset(in, 0, sizeof *in);
        if (errlen)
            one_line(err);
    }
    return rc;
}

int ps_inject_parse(const char *s, struct ps_inject *in, char *err, size_t errlen)
{
    return ps_inject_parse_as("--inject", s, in, err, errlen);
}

int ps_seed_parse(const char *s, uint64_t *seed, char *err, size_t errlen)
{
    uint64_t v = 0;
    const char *p = s;
    if (!isdig(*p))
        goto bad;
    for (; isdig(*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            goto bad;
        v = v * 10 + d;
    }
    if (*p)
        goto bad;
    *seed = v;
    return 0;
bad:
    snprintf(err, errlen, "--seed '%.40s': expected a decimal number 0-18446744073709551615", s);
    if (errlen)
        one_line(err);
    return -1;
}

static size_t put(char *buf, size_t len, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t put(char *buf, size_t len, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(at < len ? buf + at : NULL, at < len ? len - at : 0, fmt, ap);
    va_end(ap);
    return n > 0 ? at + (size_t)n : at;
}

static size_t put_dur(char *buf, size_t len, size_t at, uint64_t us)
{
    if (us && us % 1000000 == 0)
        return put(buf, len, at, "%llus", (unsigned long long)(us / 1000000));
    if (us && us % 1000 == 0)
        return put(buf, len, at, "%llums", (unsigned long long)(us / 1000));
    return put(buf, len, at, "%lluus", (unsigned long long)us);
}

/* Shortest of %.15g / %.17g that parses back to p. */
static size_t put_prob(char *buf, size_t len, size_t at, double p)
{
    char t[40];
    double back = -1;
    snprintf(t, sizeof t, "%.15g", p);
    if (parse_number(t, strlen(t), &back) || back != p)
        snprintf(t, sizeof t, "%.17g", p);
    return put(buf, len, at, "%s", t);
}

void ps_inject_format(const struct ps_inject *in, char *buf, size_t len)
{
    size_t at = 0;
    if (len)
        buf[0] = 0;
    const struct ps_inj_delay *d[2] = {&in->connect_delay, &in->accept_delay};
    for (int k = 0; k < 2; k++) {
        if (!(d[k]->p > 0))
            continue;
        at = put(buf, len, at, "%s%s=", at ? "," : "", kind_names[k]);
        if (d[k]->lo_us != d[k]->hi_us) {
            at = put_dur(buf, len, at, d[k]->lo_us);
            at = put(buf, len, at, "-");
        }
        at = put_dur(buf, len, at, d[k]->hi_us);
        if (d[k]->p < 1) {
            at = put(buf, len, at, "@");
            at = put_prob(buf, len, at, d[k]->p);
        }
    }
    const double pr[3] = {in->bind_eaddrinuse, in->connect_refused, in->udp_drop};
    const int prk[3] = {PS_INJ_BIND_EADDRINUSE, PS_INJ_CONNECT_REFUSED, PS_INJ_UDP_DROP};
    for (int k = 0; k < 3; k++) {
        if (!(pr[k] > 0))
            continue;
        at = put(buf, len, at, "%s%s=", at ? "," : "", kind_names[prk[k]]);
        at = put_prob(buf, len, at, pr[k]);
    }
}

uint64_t ps_inject_key(const char *cmdline, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)cmdline[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t ps_inject_draw(uint64_t seed, uint64_t key, int kind, uint16_t port, uint64_t n)
{
    uint64_t h = mix(seed);
    h = mix(h ^ key);
    h = mix(h ^ (((uint64_t)(unsigned)kind << 16) | port));
    return mix(h ^ n);
}

/* Uniform in [0,1) from the top 53 bits. */
static double unit(uint64_t x)
{
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

static bool happens(double p, uint64_t draw)
{
    return p > 0 && (p >= 1 || unit(draw) < p);
}

bool ps_inject_fail(const struct ps_inject *in, uint64_t seed, uint64_t key, int kind,
                    uint16_t port, uint64_t n)
{
    double p = kind == PS_INJ_BIND_EADDRINUSE ? in->bind_eaddrinuse
             : kind == PS_INJ_CONNECT_REFUSED ? in->connect_refused
             : kind == PS_INJ_UDP_DROP ? in->udp_drop : 0;
    return happens(p, ps_inject_draw(seed, key, kind, port, n));
}

uint64_t ps_inject_delay_us(const struct ps_inject *in, uint64_t seed, uint64_t key,
                            int kind, uint16_t port, uint64_t n)
{
    const struct ps_inj_delay *d = kind == PS_INJ_CONNECT_DELAY ? &in->connect_delay
                                 : kind == PS_INJ_ACCEPT_DELAY ? &in->accept_delay : NULL;
    if (!d)
        return 0;
    uint64_t r = ps_inject_draw(seed, key, kind, port, n);
    if (!happens(d->p, r))
        return 0;
    /* The amount from a second, independent draw. */
    return d->lo_us + mix(r) % (d->hi_us - d->lo_us + 1);
}
