/* testfail.c — PORTSHIM_TEST_FAIL (testfail.h). */
#include "core/testfail.h"

#include <stdio.h>
#include <string.h>

static unsigned g_mask;

static const struct {
    const char *name;
    unsigned bit;
} names[] = {{"flock", PS_TF_FLOCK}, {"track-oom", PS_TF_TRACK_OOM}, {"table-oom", PS_TF_TABLE_OOM}};

int ps_testfail_parse(const char *s, unsigned *mask, char *err, size_t errlen)
{
    unsigned m = 0;
    for (const char *p = s;; p++) {
        size_t n = strcspn(p, ",");
        size_t i = 0;
        while (i < sizeof names / sizeof names[0] &&
               (strlen(names[i].name) != n || strncmp(p, names[i].name, n)))
            i++;
        if (i == sizeof names / sizeof names[0]) {
            snprintf(err, errlen, "'%.*s': expected flock, track-oom or table-oom, "
                     "separated by commas", (int)(n > 32 ? 32 : n), p);
            return -1;
        }
        if (m & names[i].bit) {
            snprintf(err, errlen, "'%s' is given twice", names[i].name);
            return -1;
        }
        m |= names[i].bit;
        p += n;
        if (!*p)
            break;
    }
    *mask = m;
    return 0;
}

void ps_testfail_set(unsigned mask) { g_mask = mask; }

bool ps_testfail(unsigned what) { return (g_mask & what) != 0; }
