/* config.c — parse and validate PORTSHIM_* variables. */
#include "core/config.h"

#include "core/testfail.h"
#include "core/trust.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ps_mode_name(enum ps_mode m)
{
    switch (m) {
    case PS_MODE_REMAP: return "remap";
    case PS_MODE_UNIX: return "unix";
    case PS_MODE_OBSERVE: return "observe";
    }
    return "?";
}

int ps_mode_parse(const char *s, enum ps_mode *m)
{
    if (!strcmp(s, "remap")) *m = PS_MODE_REMAP;
    else if (!strcmp(s, "unix")) *m = PS_MODE_UNIX;
    else if (!strcmp(s, "observe")) *m = PS_MODE_OBSERVE;
    else return -1;
    return 0;
}

static int parse_port(const char **p, uint16_t *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65535)
            return -1;
        s++;
    }
    if (v == 0)
        return -1;
    *out = (uint16_t)v;
    *p = s;
    return 0;
}

/* Values are quoted into messages: keep a message one line whatever the
 * value holds (a newline in an environment variable, say). */
static void one_line(char *msg)
{
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static int parse_spec(const char *s, struct ps_portspec *spec, char *err, size_t errlen)
{
    const char *p = s;
    memset(spec, 0, sizeof *spec);
    if (!*p) {
        snprintf(err, errlen, "empty port spec");
        return -1;
    }
    for (;;) {
        uint16_t lo, hi;
        if (parse_port(&p, &lo)) {
            snprintf(err, errlen, "expected a port 1-65535 at '%s'", p);
            return -1;
        }
        hi = lo;
        if (*p == '-') {
            p++;
            if (parse_port(&p, &hi)) {
                snprintf(err, errlen, "expected a port 1-65535 at '%s'", p);
                return -1;
            }
            if (hi < lo) {
                snprintf(err, errlen, "range %u-%u runs backwards", lo, hi);
                return -1;
            }
        }
        if (spec->n == PS_PORTSPEC_MAX) {
            snprintf(err, errlen, "more than %d ranges", PS_PORTSPEC_MAX);
            return -1;
        }
        spec->r[spec->n].lo = lo;
        spec->r[spec->n].hi = hi;
        spec->n++;
        if (!*p)
            return 0;
        if (*p != ',') {
            snprintf(err, errlen, "unexpected '%c' (ports are N, N-M, joined by commas)", *p);
            return -1;
        }
        p++;
    }
}

int ps_portspec_parse(const char *s, struct ps_portspec *spec, char *err, size_t errlen)
{
    int rc = parse_spec(s, spec, err, errlen);
    if (rc && errlen)
        one_line(err);
    return rc;
}

bool ps_portspec_contains(const struct ps_portspec *spec, uint16_t port)
{
    for (int i = 0; i < spec->n; i++)
        if (port >= spec->r[i].lo && port <= spec->r[i].hi)
            return true;
    return false;
}

static int copy_path(char *dst, const char *name, const char *v, char *err, size_t errlen)
{
    if (!*v) {
        snprintf(err, errlen, "%s is empty", name);
        return -1;
    }
    /* A relative path names another file in every working directory:
     * processes of one run would end up in different namespaces. */
    if (v[0] != '/') {
        snprintf(err, errlen, "%s='%.64s': not an absolute path ('portshim run' makes it "
                 "absolute)", name, v);
        return -1;
    }
    if (strlen(v) >= PS_PATH_MAX) {
        snprintf(err, errlen, "%s is longer than %d bytes", name, PS_PATH_MAX - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static bool var_start(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static bool var_char(char ch) { return var_start(ch) || (ch >= '0' && ch <= '9'); }

int ps_workervars_parse(const char *s, char *err, size_t errlen)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *start = p;
        if (!var_start(*p)) {
            snprintf(err, errlen, "expected a variable name ([A-Za-z_][A-Za-z0-9_]*) at '%.40s'",
                     p);
            break;
        }
        while (var_char(*p))
            p++;
        if (p - start > PS_WORKER_VAR_MAX) {
            snprintf(err, errlen, "variable name '%.20s...' is longer than %d bytes", start,
                     PS_WORKER_VAR_MAX);
            break;
        }
        if (++n > PS_WORKER_VARS_MAX) {
            snprintf(err, errlen, "more than %d variables", PS_WORKER_VARS_MAX);
            break;
        }
        if (!*p)
            return n;
        if (*p != ',') {
            snprintf(err, errlen, "unexpected '%c' in a variable name (names are joined by "
                     "commas)", *p);
            break;
        }
        p++;
    }
    if (errlen)
        one_line(err);
    return -1;
}

static bool name_char(unsigned char ch)
{
    return var_char((char)ch) || ch == '.' || ch == '-';
}

/* FNV-1a: the same name in every process and every build. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int ps_worker_name(const char *value, char out[PS_WORKER_NAME_MAX + 1])
{
    static const char hex[] = "0123456789ABCDEF";
    char enc[PS_WORKER_NAME_MAX + 4];
    size_t n = 0;
    bool changed = false, fits = true;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        bool safe = name_char(*p) && !(p == (const unsigned char *)value && *p == '.');
        size_t need = safe ? 1 : 3;
        changed |= !safe;
        if (n + need > PS_WORKER_NAME_MAX) {
            fits = false;
            break;
        }
        if (safe) {
            enc[n++] = (char)*p;
        } else {
            enc[n++] = '%';
            enc[n++] = hex[*p >> 4];
            enc[n++] = hex[*p & 15];
        }
    }
    enc[n] = 0;
    if (!fits) {
        /* '~' is never in an encoded name otherwise ('~' itself becomes %7E). */
        snprintf(out, PS_WORKER_NAME_MAX + 1, "%.3s~%08x", enc, (unsigned)name_hash(value));
        return 1;
    }
    memcpy(out, enc, n);
    out[n] = 0;
    return changed;
}

const char *ps_worker_find(const char *vars, ps_getenv_fn get, char *var)
{
    const char *p = vars;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n <= PS_WORKER_VAR_MAX) {
            memcpy(var, p, n);
            var[n] = 0;
            const char *v = get(var);
            if (v && *v)
                return v;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    var[0] = 0;
    return NULL;
}

int ps_worker_paths(const char *root, const char *name, char *dir, char *manifest)
{
    int a = snprintf(dir, PS_PATH_MAX, "%s/" PS_WORKER_PREFIX "%s", root, name);
    int b = snprintf(manifest, PS_PATH_MAX, "%s/" PS_WORKER_PREFIX "%s/manifest.jsonl", root, name);
    return a < 0 || b < 0 || a >= PS_PATH_MAX || b >= PS_PATH_MAX ? -1 : 0;
}

int ps_config_worker(struct ps_config *c, ps_getenv_fn get, char *note, size_t notelen,
                     char *err, size_t errlen)
{
    char var[PS_WORKER_VAR_MAX + 1], name[PS_WORKER_NAME_MAX + 1];
    char dir[PS_PATH_MAX], manifest[PS_PATH_MAX];
    const char *v;
    if (notelen)
        note[0] = 0;
    if (!c->workers[0] || !(v = ps_worker_find(c->workers, get, var)))
        return 0;
    int changed = ps_worker_name(v, name);
    if (ps_worker_paths(c->dir, name, dir, manifest)) {
        snprintf(err, errlen, "PORTSHIM_DIR='%.64s...': too long for the sub-namespace of "
                 "worker %s", c->dir, name);
        if (errlen)
            one_line(err);
        return -1;
    }
    if (changed && notelen) {
        snprintf(note, notelen, "%s='%.40s%s' is not a safe directory name (at most %d bytes "
                 "of A-Z a-z 0-9 . _ -, not starting with '.'): its sub-namespace is " 
                 PS_WORKER_PREFIX "%s", var, v, strlen(v) > 40 ? "..." : "", PS_WORKER_NAME_MAX,
                 name);
        one_line(note);
    }
    memcpy(c->dir, dir, strlen(dir) + 1);
    memcpy(c->manifest, manifest, strlen(manifest) + 1);
    memcpy(c->worker, name, sizeof name);
    return 1;
}

static int load(struct ps_config *c, ps_getenv_fn get, char *err, size_t errlen)
{
    char why[160];
    const char *v;
    /* Field by field, not memset: the struct is 8 KiB of path buffers, and
     * touching all of it costs page faults in every program started. */
    c->mode = PS_MODE_REMAP;
    c->log = PS_LOG_WARN;
    c->manifest[0] = c->dir[0] = 0;
    c->ports.n = 0;
    memset(&c->inject, 0, sizeof c->inject);
    c->seed = 0;
    c->workers[0] = c->worker[0] = 0;
    c->share_uid = c->share_gid = -1;
    c->test_fail = 0;

    /* Set but empty is a mistake (a template that lost its value), not a
     * default: said, like every other bad value. */
    static const char *const names[] = {"PORTSHIM_MODE", "PORTSHIM_DIR", "PORTSHIM_PORTS",
                                        "PORTSHIM_LOG", "PORTSHIM_SEED", "PORTSHIM_INJECT",
                                        "PORTSHIM_SHARE_UID", "PORTSHIM_SHARE_GID",
                                        "PORTSHIM_PER_WORKER", "PORTSHIM_TEST_FAIL"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((v = get(names[i])) && !*v) {
            snprintf(err, errlen, "%s is set but empty: unset it or give it a value", names[i]);
            return -1;
        }

    if ((v = get("PORTSHIM_MODE")) && *v && ps_mode_parse(v, &c->mode)) {
        snprintf(err, errlen, "PORTSHIM_MODE='%.64s': expected remap, unix or observe", v);
        return -1;
    }
    v = get("PORTSHIM_MANIFEST");
    if (!v) {
        snprintf(err, errlen, "PORTSHIM_MANIFEST is not set: run the program under "
                              "'portshim run', or set it to the manifest file");
        return -1;
    }
    if (copy_path(c->manifest, "PORTSHIM_MANIFEST", v, err, errlen))
        return -1;
    if ((v = get("PORTSHIM_DIR")) && *v && copy_path(c->dir, "PORTSHIM_DIR", v, err, errlen))
        return -1;
    if (c->mode == PS_MODE_UNIX && !c->dir[0]) {
        snprintf(err, errlen, "PORTSHIM_DIR is not set: unix mode keeps its sockets there "
                              "(run the program under 'portshim run --mode unix')");
        return -1;
    }
    if ((v = get("PORTSHIM_PORTS")) && *v && ps_portspec_parse(v, &c->ports, why, sizeof why)) {
        snprintf(err, errlen, "PORTSHIM_PORTS='%.64s': %s", v, why);
        return -1;
    }
    if ((v = get("PORTSHIM_LOG")) && *v) {
        if (!strcmp(v, "error")) c->log = PS_LOG_ERROR;
        else if (!strcmp(v, "warn")) c->log = PS_LOG_WARN;
        else if (!strcmp(v, "info")) c->log = PS_LOG_INFO;
        else if (!strcmp(v, "debug")) c->log = PS_LOG_DEBUG;
        else {
            snprintf(err, errlen, "PORTSHIM_LOG='%.64s': expected error, warn, info or debug", v);
            return -1;
        }
    }
    /* Without PORTSHIM_SEED the seed is 0; portshim run sets it with --seed, or
     * with --inject to a random seed it prints. */
    if ((v = get("PORTSHIM_SEED")) && *v && ps_seed_parse(v, &c->seed, why, sizeof why)) {
        snprintf(err, errlen, "PORTSHIM_SEED='%.64s': expected a decimal number "
                 "0-18446744073709551615", v);
        return -1;
    }
    if ((v = get("PORTSHIM_INJECT")) && *v &&
        ps_inject_parse_as("PORTSHIM_INJECT", v, &c->inject, err, errlen))
        return -1;
    if ((v = get("PORTSHIM_PER_WORKER")) && *v) {
        if (ps_workervars_parse(v, why, sizeof why) < 0) {
            snprintf(err, errlen, "PORTSHIM_PER_WORKER='%.64s': %s", v, why);
            return -1;
        }
        if (!c->dir[0]) {
            snprintf(err, errlen, "PORTSHIM_PER_WORKER is set but PORTSHIM_DIR is not: the "
                     "workers' sub-namespaces go under the run's private directory");
            return -1;
        }
        memcpy(c->workers, v, strlen(v) + 1);
    }
    if ((v = get("PORTSHIM_TEST_FAIL")) && *v &&
        ps_testfail_parse(v, &c->test_fail, why, sizeof why)) {
        snprintf(err, errlen, "PORTSHIM_TEST_FAIL='%.64s': %s", v, why);
        return -1;
    }
    if ((v = get("PORTSHIM_SHARE_UID")) && ps_trust_id_parse(v, &c->share_uid)) {
        snprintf(err, errlen, "PORTSHIM_SHARE_UID='%.64s': expected a uid (decimal)", v);
        return -1;
    }
    if ((v = get("PORTSHIM_SHARE_GID")) && ps_trust_id_parse(v, &c->share_gid)) {
        snprintf(err, errlen, "PORTSHIM_SHARE_GID='%.64s': expected a gid (decimal)", v);
        return -1;
    }
    return 0;
}

int ps_config_load(struct ps_config *c, ps_getenv_fn get, char *err, size_t errlen)
{
    int rc = load(c, get, err, errlen);
    if (rc && errlen)
        one_line(err);
    return rc;
}
