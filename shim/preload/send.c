/* send.c — sendto(), sendmsg(), sendmmsg(): a datagram to a virtual port
 * goes to the real port of the UDP socket of the namespace bound there.
 *
 * Only the destination's port is rewritten, in the shim's own copy of the
 * address, so every error the kernel gives (a bad buffer, a short or
 * foreign address, EMSGSIZE, a v4-mapped destination on a v6-only socket)
 * is the kernel's own. A destination no socket of the namespace has bound
 * passes through untouched (a DNS server outside the run still answers).
 * A process's first datagram to each virtual port is a `connect` line with
 * proto udp and note "datagram" (docs/manifest.md); later ones are not
 * recorded. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "core/log.h"
#include "core/sockaddr.h"
#include "engine/engine.h"
#include "preload/dgram.h"
#include "preload/faults.h"
#include "preload/real.h"
#include "preload/state.h"
#include "preload/umem.h"

#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024   /* the kernel's cap on sendmmsg's and recvmmsg's vlen */
#endif

/* The virtual ports this process has sent a datagram to (recorded once):
 * a bit per port, set atomically; a forked child starts afresh. */
static uint64_t g_sent[65536 / 64];
static int g_sent_pid;

static bool first_datagram(uint16_t port)
{
    int was = __atomic_load_n(&g_sent_pid, __ATOMIC_RELAXED);
    if (was != ps_pid() &&
        __atomic_compare_exchange_n(&g_sent_pid, &was, ps_pid(), false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
        /* A new process (the first call, or a forked child): its own
         * first datagrams. Atomic stores: another thread may be setting
         * bits meanwhile, and a lost bit is one more line, never a wrong
         * route. */
        for (size_t i = 0; i < sizeof g_sent / sizeof *g_sent; i++)
            __atomic_store_n(&g_sent[i], 0, __ATOMIC_RELAXED);
    }
    uint64_t bit = (uint64_t)1 << (port % 64);
    return !(__atomic_fetch_or(&g_sent[port / 64], bit, __ATOMIC_RELAXED) & bit);
}

/* A datagram marked first that was never sent: the next one is first. */
static void not_sent(uint16_t port)
{
    __atomic_fetch_and(&g_sent[port / 64], ~((uint64_t)1 << (port % 64)), __ATOMIC_RELAXED);
}

/* The receivers a datagram was last routed to and found alive, and until
 * when that is believed (CLOCK_MONOTONIC_COARSE, ns): a process sending a
 * datagram a millisecond asks the kernel whether the receiver's holder
 * still exists (kill(pid, 0)) once per ALIVE_NS, not per datagram. A holder
 * killed without a close is noticed that much later: its datagrams are
 * lost meanwhile, as they would be sent to its port without the shim. */
#define ALIVE_MAX 16
#define ALIVE_NS (100 * 1000 * 1000LL)
static struct {
    char sid[PS_SID_MAX];
    long long until;
} g_alive[ALIVE_MAX];
static const struct ps_engine_ops *g_alive_ops;   /* the session's own */
static struct ps_engine_ops g_memo_ops;

static long long coarse_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static unsigned sid_slot(const char *sid)
{
    unsigned h = 2166136261u;
    for (; *sid; sid++)
        h = (h ^ (unsigned char)*sid) * 16777619u;
    return h % ALIVE_MAX;
}

/* Under ps_lock: the session's alive, remembered for ALIVE_NS. */
static bool memo_alive(void *ctx, const struct ps_entry *e)
{
    unsigned i = sid_slot(e->sid);
    long long now = coarse_ns();
    if (!strcmp(g_alive[i].sid, e->sid) && now < g_alive[i].until)
        return true;
    if (!g_alive_ops->alive(ctx, e))
        return false;
    memcpy(g_alive[i].sid, e->sid, sizeof g_alive[i].sid);
    g_alive[i].until = now + ALIVE_NS;
    return true;
}

/* Under ps_lock: ps_engine_route with memo_alive standing in for the
 * session's alive for this one call (nobody else uses the session while
 * the lock is held). */
static void route_datagram(enum ps_connect_kind k, const struct ps_addr *a, uint16_t port,
                           struct ps_route *r)
{
    struct ps_session *s = ps_session();
    const struct ps_engine_ops *own = s->ops;
    if (g_alive_ops != own) {
        g_alive_ops = own;
        g_memo_ops = *own;
        g_memo_ops.alive = memo_alive;
    }
    s->ops = &g_memo_ops;
    ps_engine_route(s, PS_PROTO_UDP, k, a, port, r);
    s->ops = own;
}

/* One datagram's destination as the namespace sees it. */
struct dst {
    struct sockaddr_storage ss;   /* the program's address, its port translated */
    socklen_t len;
    bool use;                     /* send to ss, not the program's address */
    bool drop;                    /* not sent: reported sent (a lost datagram) */
    bool record;                  /* the process's first datagram to vport */
    bool routed;
    struct ps_addr a;
    uint16_t vport, rport;        /* vport 0: not the namespace's */
    const char *note;
};

static int sock_domain(int fd)
{
    int v = 0;
    socklen_t l = sizeof v;
    return real_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) == 0 ? v : -1;
}

static bool v6only(int fd)
{
    int v = 0;
    socklen_t l = sizeof v;
    return real_getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l) == 0 && v;
}

/* Decides where a datagram to the program's address (ulen bytes at uaddr)
 * goes. An address the shim cannot read, or one too long, is left to the
 * kernel (EFAULT, EINVAL); so is anything that is not an inet address with
 * a port. clamp: a longer name is cut to a sockaddr_storage, as the
 * kernel's sendmsg does (sendto refuses it: the kernel's EINVAL). */
static void route(int fd, const void *uaddr, socklen_t ulen, bool clamp, struct dst *d)
{
    memset(d, 0, sizeof *d);
    socklen_t len = ulen;
    if (len > sizeof d->ss) {
        if (!clamp || (int)len < 0)
            return;
        len = sizeof d->ss;
    }
    if (ps_uread(&d->ss, uaddr, len) < 0)
        return;
    d->len = len;
    struct ps_addr a;
    uint16_t port;
    int rc = ps_addr_from_sockaddr((struct sockaddr *)&d->ss, len, &a, &port);
    if (rc < 0 && d->ss.ss_family == AF_UNSPEC && len >= sizeof(struct sockaddr_in) &&
        sock_domain(fd) == AF_INET) {
        /* An IPv4 UDP socket takes AF_UNSPEC for AF_INET (udp_sendmsg; an
         * IPv6 one reads it as "no address"): parsed as one, sent as is. */
        struct sockaddr_in in;
        memcpy(&in, &d->ss, sizeof in);
        in.sin_family = AF_INET;
        rc = ps_addr_from_sockaddr((struct sockaddr *)&in, sizeof in, &a, &port);
    }
    if (rc < 0 || port == 0)
        return;
    const struct ps_config *cfg = ps_cfg();
    enum ps_connect_kind k = ps_engine_connect_kind(cfg, port);
    if (k == PS_CONNECT_PASS)
        return;
    d->a = a;
    if (k == PS_CONNECT_OBSERVE) {
        d->vport = d->rport = port;
        d->record = first_datagram(port);
        return;
    }
    /* A v4-mapped destination on a v6-only socket: the kernel's error. */
    if (a.fam == AF_INET6 && ps_addr_is_v4(&a) && v6only(fd))
        return;
    struct ps_route r;
    ps_lock();
    ps_dgram_refresh();
    route_datagram(k, &a, port, &r);
    if (r.kind == PS_ROUTE_PORT)
        ps_dgram_routed(&a, r.rport, port);
    ps_unlock();
    if (r.kind == PS_ROUTE_PASS)
        return;
    d->vport = port;
    d->record = first_datagram(port);
    if (r.kind != PS_ROUTE_PORT) {
        /* A strictly virtual port nobody in the namespace bound: the
         * datagram must not leave the namespace, and UDP tells its sender
         * nothing of a datagram nobody receives. */
        d->drop = true;
        d->note = "no receiver in the namespace: dropped";
        if (d->record) {
            char ab[PS_ADDRSTRLEN];
            ps_log(PS_LOG_INFO, "datagram to %s:%u in pid %d: dropped: no receiver for this "
                   "strictly virtual port", ps_addr_format(&a, ab), port, ps_pid());
        }
        return;
    }
    d->routed = true;
    d->rport = r.rport;
    if (cfg->inject.any && ps_inj_udp_drop(fd, (struct sockaddr *)&d->ss, len, port)) {
        d->drop = true;
        d->record = false;   /* the drop is its own line */
        return;
    }
    /* sin_port and sin6_port are the same bytes (AF_UNSPEC's too, above). */
    ((struct sockaddr_in *)&d->ss)->sin_port = htons(r.rport);
    d->use = true;
}

/* A send on a connected socket (no address): only an injected drop can
 * concern it, for a peer of the namespace. */
static bool drop_connected(int fd)
{
    if (!ps_cfg()->inject.any)
        return false;
    struct ps_fdinfo fi = ps_fd_get(fd);
    return fi.udp && fi.pvport && ps_inj_udp_drop(fd, NULL, 0, fi.pvport);
}

static void record_first(int fd, const struct dst *d, ssize_t rc, int err)
{
    if (!d->record)
        return;
    struct ps_event e;
    ps_event_new(&e, PS_EV_CONNECT);
    e.proto = PS_PROTO_UDP;
    e.fam = d->a.fam;
    e.has_addr = e.has_raddr = true;
    e.addr = e.raddr = d->a;
    e.port = d->vport;
    e.rport = d->drop ? -1 : d->rport;
    if (d->drop)
        e.has_raddr = false;
    e.routed = d->routed;
    e.ok = rc >= 0;
    e.err = rc < 0 ? err : 0;
    snprintf(e.note, sizeof e.note, "%s", d->note ? d->note : "datagram");
    ps_record(fd, &e, false);
}

static ssize_t iov_len(const struct msghdr *m)
{
    struct iovec v[64];
    size_t n = m->msg_iovlen, total = 0;
    for (size_t i = 0; i < n; i += 64) {
        size_t c = n - i < 64 ? n - i : 64;
        if (ps_uread(v, m->msg_iov + i, c * sizeof *v) < 0)
            return -1;
        for (size_t j = 0; j < c; j++)
            total += v[j].iov_len;
    }
    return (ssize_t)total;
}

static ssize_t shim_sendto(int fd, const void *buf, size_t n, int flags,
                           const struct sockaddr *addr, socklen_t len)
{
    if (!addr)
        return drop_connected(fd) ? (ssize_t)n : real_sendto(fd, buf, n, flags, addr, len);
    struct dst d;
    route(fd, addr, len, false, &d);
    ssize_t rc = d.drop ? (ssize_t)n
                        : real_sendto(fd, buf, n, flags,
                                      d.use ? (struct sockaddr *)&d.ss : addr, len);
    int err = errno;
    record_first(fd, &d, rc, err);
    errno = err;
    return rc;
}

PS_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                         const struct sockaddr *addr, socklen_t len)
{
    if (!ps_dgram_fd(fd) || !ps_enter())
        return real_sendto(fd, buf, n, flags, addr, len);
    ssize_t rc = shim_sendto(fd, buf, n, flags, addr, len);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}

static ssize_t shim_sendmsg(int fd, const struct msghdr *umsg, int flags)
{
    struct msghdr m;
    if (!umsg || ps_uread(&m, umsg, sizeof m) < 0)
        return real_sendmsg(fd, umsg, flags);
    if (!m.msg_name) {
        ssize_t total;
        if (drop_connected(fd) && (total = iov_len(&m)) >= 0)
            return total;
        return real_sendmsg(fd, umsg, flags);
    }
    struct dst d;
    route(fd, m.msg_name, m.msg_namelen, true, &d);
    ssize_t rc;
    if (d.drop && (rc = iov_len(&m)) >= 0) {
        /* reported sent */
    } else if (d.use) {
        m.msg_name = &d.ss;
        m.msg_namelen = d.len;
        rc = real_sendmsg(fd, &m, flags);
    } else {
        d.drop = false;
        rc = real_sendmsg(fd, umsg, flags);
    }
    int err = errno;
    record_first(fd, &d, rc, err);
    errno = err;
    return rc;
}

PS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (!ps_dgram_fd(fd) || !ps_enter())
        return real_sendmsg(fd, msg, flags);
    ssize_t rc = shim_sendmsg(fd, msg, flags);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}

/* sendmmsg: the vector is read into the shim's memory (entries up to the
 * first unreadable one: the kernel sends those and stops there), each
 * destination routed, and the datagrams sent in runs between dropped ones;
 * each sent entry's msg_len is written back as the kernel writes it. */
static int shim_sendmmsg(int fd, struct mmsghdr *uvec, unsigned vlen, ps_mmsg_flags flags)
{
    if (vlen > UIO_MAXIOV)
        vlen = UIO_MAXIOV;
    if (vlen == 0 || !uvec)
        return real_sendmmsg(fd, uvec, vlen, flags);
    struct mmsghdr *v = malloc(vlen * sizeof *v);
    struct dst *d = malloc(vlen * sizeof *d);
    if (!v || !d) {
        free(v);
        free(d);
        return real_sendmmsg(fd, uvec, vlen, flags);
    }
    unsigned n = 0;
    while (n < vlen && ps_uread(&v[n], &uvec[n], sizeof v[n]) == 0)
        n++;
    if (n == 0) {
        free(v);
        free(d);
        return real_sendmmsg(fd, uvec, vlen, flags);
    }
    for (unsigned i = 0; i < n; i++) {
        struct msghdr *m = &v[i].msg_hdr;
        if (!m->msg_name) {
            memset(&d[i], 0, sizeof d[i]);
            continue;
        }
        route(fd, m->msg_name, m->msg_namelen, true, &d[i]);
        ssize_t l;
        if (d[i].drop && (l = iov_len(m)) >= 0) {
            v[i].msg_len = (unsigned)l;
        } else if (d[i].use) {
            d[i].drop = false;
            m->msg_name = &d[i].ss;
            m->msg_namelen = d[i].len;
        } else {
            d[i].drop = false;
        }
    }
    /* Runs of datagrams to send, between the dropped ones. */
    int sent = 0, rc = 0, err = 0;
    unsigned i = 0;
    while (i < n) {
        if (d[i].drop) {
            i++;
            sent++;
            continue;
        }
        unsigned j = i;
        while (j < n && !d[j].drop)
            j++;
        rc = real_sendmmsg(fd, v + i, j - i, flags);
        err = errno;
        if (rc < 0)
            break;
        sent += rc;
        if ((unsigned)rc < j - i)
            break;
        i = j;
    }
    unsigned done = (unsigned)sent;
    for (unsigned k = 0; k < done; k++)
        if (ps_uwrite(&uvec[k].msg_len, &v[k].msg_len, sizeof v[k].msg_len, NULL, NULL, 0) < 0) {
            done = k;
            break;
        }
    for (unsigned k = 0; k < n; k++) {
        if (!d[k].record)
            continue;
        if (k < done || (k == done && rc < 0))
            record_first(fd, &d[k], k < done ? 0 : -1, k < done ? 0 : err);
        else
            not_sent(d[k].vport);
    }
    free(v);
    free(d);
    if (done == 0 && rc < 0) {
        errno = err;
        return -1;
    }
    if (done == 0 && sent > 0) {
        errno = EFAULT;
        return -1;
    }
    return (int)done;
}

PS_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, ps_mmsg_flags flags)
{
    if (!ps_dgram_fd(fd) || !ps_enter())
        return real_sendmmsg(fd, vec, vlen, flags);
    int rc = shim_sendmmsg(fd, vec, vlen, flags);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}
