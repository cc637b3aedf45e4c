/* config.c — parse and validate PORTSHIM_* variables. */
#include "core/config.h"

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
    c->share_uid = c->share_gid = -1;

    /* Set but empty is a mistake (a template that lost its value), not a
     * default: said, like every other bad value. */
    static const char *const names[] = {"PORTSHIM_MODE", "PORTSHIM_DIR", "PORTSHIM_PORTS",
                                        "PORTSHIM_LOG", "PORTSHIM_SEED", "PORTSHIM_INJECT",
                                        "PORTSHIM_SHARE_UID", "PORTSHIM_SHARE_GID"};
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
