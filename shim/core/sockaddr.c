/* sockaddr.c — inet address tests and the kernel's overlap/match rules. */
#include "core/sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0,0,0,0, 0,0,0,0, 0,0,0xff,0xff};

int ps_addr_from_sockaddr(const struct sockaddr *sa, size_t len,
                          struct ps_addr *a, uint16_t *port)
{
    if (!sa || len < sizeof(sa_family_t))
        return -1;
    memset(a, 0, sizeof *a);
    if (sa->sa_family == AF_INET) {
        if (len < sizeof(struct sockaddr_in))
            return -1;
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        a->fam = AF_INET;
        memcpy(a->b, v4mapped_prefix, 12);
        memcpy(a->b + 12, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        /* The kernel takes one without sin6_scope_id (SIN6_LEN_RFC2133). */
        if (len < offsetof(struct sockaddr_in6, sin6_scope_id))
            return -1;
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        a->fam = AF_INET6;
        memcpy(a->b, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
        return 0;
    }
    return -1;
}

void ps_sockaddr_set_port(struct sockaddr *sa, uint16_t port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

socklen_t ps_addr_to_sockaddr(const struct ps_addr *a, uint16_t port,
                              struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->fam == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        memcpy(&in->sin_addr, a->b + 12, 4);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    memcpy(&in6->sin6_addr, a->b, 16);
    return sizeof *in6;
}

void ps_addr_v4(struct ps_addr *a, uint32_t ip)
{
    uint32_t n = htonl(ip);
    memset(a, 0, sizeof *a);
    a->fam = AF_INET;
    memcpy(a->b, v4mapped_prefix, 12);
    memcpy(a->b + 12, &n, 4);
}

bool ps_addr_is_v4(const struct ps_addr *a)
{
    return a->fam == AF_INET || memcmp(a->b, v4mapped_prefix, 12) == 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

bool ps_addr_is_wildcard(const struct ps_addr *a)
{
    if (ps_addr_is_v4(a))
        return all_zero(a->b + 12, 4);
    return all_zero(a->b, 16);
}

bool ps_addr_is_loopback(const struct ps_addr *a)
{
    if (ps_addr_is_v4(a))
        return a->b[12] == 127;
    return all_zero(a->b, 15) && a->b[15] == 1;
}

bool ps_addr_equal(const struct ps_addr *x, const struct ps_addr *y)
{
    return memcmp(x->b, y->b, 16) == 0;
}

const char *ps_addr_format(const struct ps_addr *a, char buf[PS_ADDRSTRLEN])
{
    if (a->fam == AF_INET) {   /* by hand: glibc's inet_ntop uses sprintf */
        char *p = buf;
        for (int i = 12; i < 16; i++) {
            unsigned v = a->b[i];
            if (v >= 100) *p++ = (char)('0' + v / 100);
            if (v >= 10) *p++ = (char)('0' + v / 10 % 10);
            *p++ = (char)('0' + v % 10);
            *p++ = i < 15 ? '.' : 0;
        }
    } else if (!inet_ntop(AF_INET6, a->b, buf, PS_ADDRSTRLEN)) {
        strcpy(buf, "?");
    }
    return buf;
}

int ps_addr_parse(const char *s, struct ps_addr *a)
{
    struct in_addr v4;
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, &v4) == 1) {
        a->fam = AF_INET;
        memcpy(a->b, v4mapped_prefix, 12);
        memcpy(a->b + 12, &v4, 4);
        return 0;
    }
    if (inet_pton(AF_INET6, s, a->b) == 1) {
        a->fam = AF_INET6;
        return 0;
    }
    return -1;
}

int ps_fam_code(int af)
{
    return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0;
}

int ps_fam_from_code(int code)
{
    return code == 4 ? AF_INET : code == 6 ? AF_INET6 : 0;
}

/* What a bound address covers, per family: none, one address, or all. */
enum cover { COVER_NONE, COVER_ONE, COVER_ALL };

static enum cover covers_v4(const struct ps_bindaddr *b)
{
    const struct ps_addr *a = &b->addr;
    if (a->fam == AF_INET)
        return ps_addr_is_wildcard(a) ? COVER_ALL : COVER_ONE;
    if (ps_addr_is_v4(a))        /* ::ffff:x on an AF_INET6 socket */
        return b->v6only ? COVER_NONE : (all_zero(a->b + 12, 4) ? COVER_ALL : COVER_ONE);
    if (all_zero(a->b, 16))      /* :: */
        return b->v6only ? COVER_NONE : COVER_ALL;
    return COVER_NONE;
}

static enum cover covers_v6(const struct ps_bindaddr *b)
{
    const struct ps_addr *a = &b->addr;
    if (a->fam == AF_INET || ps_addr_is_v4(a))
        return COVER_NONE;
    return all_zero(a->b, 16) ? COVER_ALL : COVER_ONE;
}

static bool cover_meet(enum cover x, enum cover y, const struct ps_addr *ax,
                       const struct ps_addr *ay)
{
    if (x == COVER_NONE || y == COVER_NONE)
        return false;
    if (x == COVER_ALL || y == COVER_ALL)
        return true;
    return ps_addr_equal(ax, ay);
}

bool ps_bindaddr_overlap(const struct ps_bindaddr *x, const struct ps_bindaddr *y)
{
    return cover_meet(covers_v4(x), covers_v4(y), &x->addr, &y->addr) ||
           cover_meet(covers_v6(x), covers_v6(y), &x->addr, &y->addr);
}

int ps_listener_match(const struct ps_bindaddr *l, const struct ps_addr *dst,
                      bool dst_local)
{
    /* Connecting to 0.0.0.0 or :: reaches the local host on Linux. */
    bool local = dst_local || ps_addr_is_loopback(dst) || ps_addr_is_wildcard(dst);
    enum cover c = ps_addr_is_v4(dst) ? covers_v4(l) : covers_v6(l);
    if (c == COVER_NONE)
        return 0;
    if (c == COVER_ONE) {
        if (ps_addr_equal(&l->addr, dst))
            return 2;
        /* A connect to 0.0.0.0 / :: goes to 127.0.0.1 / ::1. */
        return ps_addr_is_wildcard(dst) && ps_addr_is_loopback(&l->addr) &&
               (ps_addr_is_v4(dst) ? l->addr.b[15] == 1 && l->addr.b[12] == 127 &&
                                     !l->addr.b[13] && !l->addr.b[14]
                                   : true) ? 2 : 0;
    }
    return local ? 1 : 0;
}
