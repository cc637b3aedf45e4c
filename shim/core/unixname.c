/* unixname.c — encode and parse unix-mode socket names. */
#include "core/unixname.h"

#include <stdio.h>
#include <string.h>

size_t ps_uname_format(char *buf, size_t cap, const char *dir, const struct ps_uname *u)
{
    char a[PS_ADDRSTRLEN];
    char share[16] = "";
    ps_addr_format(&u->addr, a);
    if (u->n > 0)
        snprintf(share, sizeof share, "#%d", u->n);
    size_t off = u->client ? 1 : 0;
    if (cap <= off)
        return 0;
    int n = snprintf(buf + off, cap - off, "%s/%s%u@%s%s", dir, u->client ? "c/" : "",
                     (unsigned)u->port, a, share);
    size_t need = off + (size_t)(n < 0 ? 0 : n) + (u->client ? 0 : 1);   /* path: its NUL */
    if (n < 0 || need > cap || need > PS_SUN_PATH)
        return 0;
    if (u->client)
        buf[0] = 0;
    return (size_t)n + off;
}

int ps_uname_parse(const char *sun_path, size_t len, const char *dir, struct ps_uname *u)
{
    char s[PS_SUN_PATH + 1];
    if (len == 0 || len > PS_SUN_PATH)
        return -1;
    bool abstract = sun_path[0] == 0;
    const char *p = sun_path + abstract;
    len -= abstract;
    if (!abstract)
        len = strnlen(p, len);
    memcpy(s, p, len);
    s[len] = 0;
    size_t dl = strlen(dir);
    if (!dl || len <= dl || memcmp(s, dir, dl) || s[dl] != '/')
        return -1;
    const char *t = s + dl + 1;
    memset(u, 0, sizeof *u);
    u->client = abstract;
    if (abstract) {
        if (strncmp(t, "c/", 2))
            return -1;
        t += 2;
    }
    unsigned long port = 0;
    int digits = 0;
    while (*t >= '0' && *t <= '9' && digits < 6)
        port = port * 10 + (unsigned long)(*t++ - '0'), digits++;
    if (!digits || digits > 5 || port > 65535 || *t++ != '@')
        return -1;
    u->port = (uint16_t)port;
    char a[PS_ADDRSTRLEN];
    const char *hash = strchr(t, '#');
    size_t al = hash ? (size_t)(hash - t) : strlen(t);
    if (!al || al >= sizeof a)
        return -1;
    memcpy(a, t, al);
    a[al] = 0;
    if (ps_addr_parse(a, &u->addr))
        return -1;
    if (hash) {
        if (abstract)
            return -1;
        int n = 0, nd = 0;
        for (const char *h = hash + 1; *h; h++) {
            if (*h < '0' || *h > '9' || ++nd > 2)
                return -1;
            n = n * 10 + (*h - '0');
        }
        if (n < 1)
            return -1;
        u->n = n;
    }
    return 0;
}

bool ps_uname_dir_fits(const char *dir)
{
    return *dir && strlen(dir) <= PS_UNAME_DIR_MAX;
}

struct ps_addr ps_addr_as_family(const struct ps_addr *a, int fam)
{
    struct ps_addr r = *a;
    if (fam == AF_INET6)
        r.fam = AF_INET6;
    else if (ps_addr_is_v4(a))
        r.fam = AF_INET;
    return r;
}

struct ps_addr ps_addr_loopback(int fam)
{
    struct ps_addr r;
    ps_addr_v4(&r, 0x7f000001);
    if (fam == AF_INET6) {
        memset(&r, 0, sizeof r);
        r.fam = AF_INET6;
        r.b[15] = 1;
    }
    return r;
}
