/* config.h — the PORTSHIM_* environment, parsed once into an immutable struct.
 *
 * Every error names the variable and the value in one line, so a wrong
 * setting fails loudly instead of running unisolated. */
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/inject.h"

enum ps_mode { PS_MODE_REMAP, PS_MODE_UNIX, PS_MODE_OBSERVE };

#define PS_PORTSPEC_MAX 64
struct ps_portspec {
    int n;                                   /* 0: no spec given */
    struct { uint16_t lo, hi; } r[PS_PORTSPEC_MAX];
};

enum ps_loglevel { PS_LOG_ERROR, PS_LOG_WARN, PS_LOG_INFO, PS_LOG_DEBUG };

#define PS_PATH_MAX 4096
struct ps_config {
    enum ps_mode mode;
    char manifest[PS_PATH_MAX];              /* PORTSHIM_MANIFEST */
    char dir[PS_PATH_MAX];                   /* PORTSHIM_DIR, may be empty */
    struct ps_portspec ports;                /* PORTSHIM_PORTS: strictly virtual ports */
    enum ps_loglevel log;                    /* PORTSHIM_LOG */
    struct ps_inject inject;                 /* PORTSHIM_INJECT (docs/inject.md) */
    uint64_t seed;                           /* PORTSHIM_SEED, 0 when unset */
    long share_uid, share_gid;               /* PORTSHIM_SHARE_UID/GID, -1 when unset */
};

typedef const char *(*ps_getenv_fn)(const char *name);

/* Fills *c from the environment. Returns 0, or -1 with a one-line message
 * such as "PORTSHIM_MODE='fast': expected remap, unix or observe" in err. */
int ps_config_load(struct ps_config *c, ps_getenv_fn get, char *err, size_t errlen);

/* "8000", "8000-8100", "80,443,8000-8100"; ports 1..65535, lo <= hi. */
int ps_portspec_parse(const char *s, struct ps_portspec *spec, char *err, size_t errlen);
bool ps_portspec_contains(const struct ps_portspec *spec, uint16_t port);

const char *ps_mode_name(enum ps_mode m);
int ps_mode_parse(const char *s, enum ps_mode *m);

#endif
