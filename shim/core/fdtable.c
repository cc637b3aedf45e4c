/* fdtable.c — a two-level array of descriptor records, grown on demand. */
#include "core/fdtable.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_BITS 10
#define CHUNK (1 << CHUNK_BITS)
#define NCHUNKS (PS_FD_LIMIT / CHUNK)

static struct ps_fdinfo *chunks[NCHUNKS];
static struct ps_sock *socks;

static struct ps_fdinfo *slot(int fd, bool create)
{
    if (fd < 0 || fd >= PS_FD_LIMIT)
        return NULL;
    struct ps_fdinfo *c = __atomic_load_n(&chunks[fd >> CHUNK_BITS], __ATOMIC_ACQUIRE);
    if (!c) {
        if (!create)
            return NULL;
        c = calloc(CHUNK, sizeof *c);
        if (!c)
            return NULL;
        __atomic_store_n(&chunks[fd >> CHUNK_BITS], c, __ATOMIC_RELEASE);
    }
    return &c[fd & (CHUNK - 1)];
}

enum ps_fdkind ps_fd_kind(int fd)
{
    struct ps_fdinfo *s = slot(fd, false);
    return s ? (enum ps_fdkind)__atomic_load_n(&s->kind, __ATOMIC_ACQUIRE) : PS_FD_NONE;
}

struct ps_fdinfo ps_fd_get(int fd)
{
    struct ps_fdinfo out = {0};
    struct ps_fdinfo *s = slot(fd, false);
    /* The kind first: an unknown descriptor (every new socket) reads nothing
     * else, so a lock-free caller never reads fields a close is clearing. */
    unsigned char kind = s ? __atomic_load_n(&s->kind, __ATOMIC_ACQUIRE) : PS_FD_NONE;
    if (kind != PS_FD_NONE) {
        out = *s;
        out.kind = kind;
    }
    return out;
}

int ps_fd_set(int fd, enum ps_fdkind kind, uint16_t vport, uint16_t rport, struct ps_sock *sk)
{
    struct ps_fdinfo *s = slot(fd, true);
    if (!s)
        return -1;
    /* A UDP socket we knew stays one when it becomes ours (bound). */
    s->udp = __atomic_load_n(&s->kind, __ATOMIC_ACQUIRE) != PS_FD_NONE && s->udp;
    s->vport = vport;
    s->rport = rport;
    s->pvport = s->prport = 0;
    s->sock = sk;
    s->ufam = 0;
    ps_opts_unref(s->opts);
    s->opts = NULL;
    if (kind == PS_FD_BOUND && sk)
        sk->refs++;
    __atomic_store_n(&s->kind, (unsigned char)kind, __ATOMIC_RELEASE);
    return 0;
}

int ps_fd_set_udp(int fd)
{
    struct ps_fdinfo *s = slot(fd, true);
    if (!s)
        return -1;
    if (__atomic_load_n(&s->kind, __ATOMIC_ACQUIRE) == PS_FD_NONE) {
        s->vport = s->rport = s->pvport = s->prport = 0;
        s->sock = NULL;
        s->ufam = 0;
        ps_opts_unref(s->opts);
        s->opts = NULL;
        s->udp = 1;
        __atomic_store_n(&s->kind, PS_FD_DGRAM, __ATOMIC_RELEASE);
    } else {
        s->udp = 1;
    }
    return 0;
}

int ps_fd_set_peer(int fd, uint16_t pvport, uint16_t prport)
{
    struct ps_fdinfo *s = slot(fd, true);
    if (!s)
        return -1;
    if (__atomic_load_n(&s->kind, __ATOMIC_ACQUIRE) == PS_FD_NONE) {
        s->vport = s->rport = 0;
        s->sock = NULL;
        s->ufam = 0;
        ps_opts_unref(s->opts);
        s->opts = NULL;
        s->pvport = pvport;
        s->prport = prport;
        s->udp = 0;
        __atomic_store_n(&s->kind, PS_FD_ROUTED, __ATOMIC_RELEASE);
    } else {
        s->pvport = pvport;
        s->prport = prport;
    }
    return 0;
}

static void unlink_sock(struct ps_sock *sk)
{
    if (sk->prev) sk->prev->next = sk->next;
    else if (socks == sk) socks = sk->next;
    if (sk->next) sk->next->prev = sk->prev;
    sk->next = sk->prev = NULL;
}

struct ps_sock *ps_fd_detach(int fd)
{
    struct ps_fdinfo *s = slot(fd, false);
    if (!s || !__atomic_load_n(&s->kind, __ATOMIC_ACQUIRE))
        return NULL;
    enum ps_fdkind kind = (enum ps_fdkind)s->kind;
    struct ps_sock *sk = s->sock;
    __atomic_store_n(&s->kind, PS_FD_NONE, __ATOMIC_RELEASE);
    s->sock = NULL;
    s->pvport = s->prport = 0;
    s->ufam = 0;
    s->udp = 0;
    ps_opts_unref(s->opts);
    s->opts = NULL;
    if (kind == PS_FD_BOUND && sk && --sk->refs == 0) {
        unlink_sock(sk);
        return sk;
    }
    return NULL;
}

void ps_fd_dup(int oldfd, int newfd)
{
    struct ps_fdinfo o = ps_fd_get(oldfd);
    if (o.kind == PS_FD_NONE)
        return;
    if (ps_fd_set(newfd, (enum ps_fdkind)o.kind, o.vport, o.rport, o.sock) == 0) {
        struct ps_fdinfo *s = slot(newfd, false);
        s->pvport = o.pvport;
        s->prport = o.prport;
        s->ufam = o.ufam;
        s->udp = o.udp;
        if ((s->opts = o.opts))
            o.opts->refs++;
    }
}

void ps_fd_set_unix(int fd, int fam, struct ps_opts *opts)
{
    struct ps_fdinfo *s = slot(fd, false);
    if (!s || !__atomic_load_n(&s->kind, __ATOMIC_ACQUIRE)) {
        ps_opts_unref(opts);
        return;
    }
    s->ufam = (unsigned char)fam;
    if (opts != s->opts) {
        ps_opts_unref(s->opts);
        s->opts = opts;
    }
}

struct ps_opts *ps_fd_opts(int fd)
{
    struct ps_fdinfo *s = slot(fd, false);
    if (!s || !s->ufam)
        return NULL;
    if (!s->opts)
        s->opts = ps_opts_new();
    return s->opts;
}

struct ps_opts *ps_opts_new(void)
{
    struct ps_opts *o = calloc(1, sizeof *o);
    if (o)
        o->refs = 1;
    return o;
}

void ps_opts_unref(struct ps_opts *o)
{
    if (o && --o->refs == 0)
        free(o);
}

bool ps_opts_get(const struct ps_opts *o, int level, int name, int *val)
{
    for (int i = 0; o && i < o->n; i++)
        if (o->v[i].level == level && o->v[i].name == name) {
            *val = o->v[i].val;
            return true;
        }
    return false;
}

bool ps_opts_set(struct ps_opts *o, int level, int name, int val)
{
    for (int i = 0; i < o->n; i++)
        if (o->v[i].level == level && o->v[i].name == name) {
            o->v[i].val = val;
            return true;
        }
    if (o->n == PS_OPTS_MAX)
        return false;
    o->v[o->n].level = level;
    o->v[o->n].name = name;
    o->v[o->n++].val = val;
    return true;
}

struct ps_sock *ps_sock_new(const char *sid, int fam, uint16_t vport, uint16_t rport)
{
    struct ps_sock *sk = calloc(1, sizeof *sk);
    if (!sk)
        return NULL;
    sk->cslot = -1;
    strncpy(sk->sid, sid, sizeof sk->sid - 1);
    sk->fam = fam;
    sk->vport = vport;
    sk->rport = rport;
    sk->next = socks;
    if (socks)
        socks->prev = sk;
    socks = sk;
    return sk;
}

void ps_sock_free(struct ps_sock *sk) { free(sk); }
struct ps_sock *ps_sock_first(void) { return socks; }

void ps_sock_mark_all_shared(void)
{
    for (struct ps_sock *sk = socks; sk; sk = sk->next)
        sk->shared = true;
}
