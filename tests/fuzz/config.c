/* config.c — libFuzzer target: the PORTSHIM_* values and the specs inside
 * them (port spec, inject spec, seed, mode, addresses). The first byte picks
 * the parser; the rest is the value (the environment: NUL-separated values
 * of the nine variables). Properties beyond "no crash": an error always
 * comes with a one-line message, and a parsed inject spec formats to text
 * that parses back to the same spec. Run by `make fuzz` (scripts/fuzz). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/inject.h"
#include "core/sockaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"PORTSHIM_MANIFEST", "PORTSHIM_MODE", "PORTSHIM_PORTS",
                                    "PORTSHIM_DIR", "PORTSHIM_LOG", "PORTSHIM_INJECT",
                                    "PORTSHIM_SEED", "PORTSHIM_SHARE_UID",
                                    "PORTSHIM_SHARE_GID"};
#define NVARS (sizeof names / sizeof names[0])
static const char *values[NVARS];

static const char *get(const char *name)
{
    for (size_t i = 0; i < NVARS; i++)
        if (!strcmp(name, names[i]))
            return values[i];
    return NULL;
}

static void one_line(int rc, const char *err)
{
    if (rc && (!err[0] || strchr(err, '\n')))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    char err[PS_PATH_MAX + 256] = "";
    int rc;
    switch (data[0] % 5) {
    case 0: {                                 /* the whole environment */
        char *p = s, *end = s + size - 1;
        for (size_t i = 0; i < NVARS; i++) {
            values[i] = p < end || (p == end && i == 0) ? p : NULL;
            if (p < end)
                p += strlen(p) + 1;
        }
        static struct ps_config c;
        rc = ps_config_load(&c, get, err, sizeof err);
        one_line(rc, err);
        break;
    }
    case 1: {
        struct ps_portspec spec;
        rc = ps_portspec_parse(s, &spec, err, sizeof err);
        one_line(rc, err);
        if (!rc)
            for (int i = 0; i < spec.n; i++)
                if (spec.r[i].lo == 0 || spec.r[i].lo > spec.r[i].hi ||
                    !ps_portspec_contains(&spec, spec.r[i].lo))
                    abort();
        break;
    }
    case 2: {
        struct ps_inject in, again;
        rc = ps_inject_parse(s, &in, err, sizeof err);
        one_line(rc, err);
        if (!rc) {
            char text[512], text2[512];
            ps_inject_format(&in, text, sizeof text);
            if (text[0]) {
                if (ps_inject_parse(text, &again, err, sizeof err))
                    abort();                  /* the canonical text must parse */
                ps_inject_format(&again, text2, sizeof text2);
                if (strcmp(text, text2))
                    abort();
            }
        }
        break;
    }
    case 3: {
        uint64_t seed;
        rc = ps_seed_parse(s, &seed, err, sizeof err);
        one_line(rc, err);
        break;
    }
    default: {
        struct ps_addr a, b;
        char text[PS_ADDRSTRLEN];
        if (ps_addr_parse(s, &a) == 0) {
            if (ps_addr_parse(ps_addr_format(&a, text), &b) || !ps_addr_equal(&a, &b))
                abort();                      /* formatting round-trips */
        }
        enum ps_mode m;
        (void)ps_mode_parse(s, &m);
        break;
    }
    }
    free(s);
    return 0;
}
