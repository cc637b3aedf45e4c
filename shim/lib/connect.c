/* connect.c — connect(): route a dial of a virtual port to its listener.
 *
 * A connect is routed exactly when the same connect would have reached that
 * listener without the shim (family, wildcard or specific address, dual
 * stack); everything else goes to the kernel untouched, except ports made
 * strictly virtual by PORTSHIM_PORTS, which are refused. The namespace lock
 * is never held across the real connect. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "core/sockaddr.h"
#include "core/unixname.h"
#include "lib/counts.h"
#include "lib/faults.h"
#include "lib/real.h"
#include "lib/state.h"
#include "lib/unix.h"

/* Is dst an address of this host? Only asked for non-loopback destinations
 * that a wildcard listener might serve: a UDP bind to it succeeds exactly
 * when it is local. */
static bool is_local_address(const struct ps_addr *dst)
{
    struct ps_addr tmp = *dst;
    if (ps_addr_is_v4(&tmp))
        tmp.fam = 4;
    struct sockaddr_storage ss;
    socklen_t l = ps_addr_to_sockaddr(&tmp, 0, &ss);
    int s = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return false;
    bool local = real_bind(s, (struct sockaddr *)&ss, l) == 0;
    real_close(s);
    return local;
}

/* The listener a routed connect went to: its counter (lib/counts.h). */
struct dest {
    int cslot;
    char sid[PS_SID_MAX];
};

static void record(int fd, const struct ps_addr *a, uint16_t port, uint16_t rport, bool routed,
                   int rc, int err, const char *note, const char *rpath, const struct dest *d)
{
    struct ps_event e;
    ps_event_new(&e, PS_EV_CONNECT);
    if (rpath)
        snprintf(e.rpath, sizeof e.rpath, "%s", rpath);
    e.fam = a->fam;
    e.has_addr = true;
    e.has_raddr = !rpath;   /* unix mode: the endpoint is the socket file */
    e.addr = e.raddr = *a;
    e.port = port;
    e.rport = rpath ? -1 : rport;
    e.routed = routed;
    e.ok = rc == 0;
    e.err = rc ? err : 0;
    if (note)
        strncpy(e.note, note, sizeof e.note - 1);
    ps_inj_take(&e);
    bool started = rc == 0 || err == EINPROGRESS;
    bool observed = started && ps_cfg()->mode == PS_MODE_OBSERVE;
    ps_lock();
    /* A started connect of this process to a listener it dialled before,
     * with nothing injected: counted, not lined. */
    if (routed && started && d && !e.inj[0] && ps_cnt_take(d->cslot, d->sid)) {
        ps_fd_set_peer(fd, port, rport);
        ps_unlock();
        return;
    }
    if (observed && ps_fd_kind(fd) == PS_FD_NONE)
        ps_next_sid(e.sid);
    ps_emit(&e);
    if (observed && e.sid[0])
        ps_track(fd, &e);
    if (routed && started)
        ps_fd_set_peer(fd, port, rport);
    ps_unlock();
}

/* ---- unix mode ---------------------------------------------------------- */

/* The address the kernel would give a client dialling dst: dst itself for
 * loopback and local addresses, loopback for a wildcard. */
static struct ps_addr client_addr(const struct ps_addr *dst)
{
    if (!ps_addr_is_wildcard(dst))
        return *dst;
    struct ps_addr lo = ps_addr_loopback(ps_addr_is_v4(dst) ? 4 : 6);
    return ps_addr_as_family(&lo, dst->fam);
}

/* Names a fresh client "\0DIR/c/<port>@<addr>" with a port from the
 * ephemeral range; the kernel keeps abstract names unique, so a taken
 * number is just skipped. */
static void name_client(int fd, const struct ps_addr *dst)
{
    enum { LO = 32768, HI = 60999 };
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned span = HI - LO + 1;
    unsigned start = ((unsigned)ts.tv_nsec ^ ((unsigned)ps_pid() * 2654435761u)) % span;
    struct ps_uname u = {.client = true, .addr = client_addr(dst)};
    for (unsigned i = 0; i < span; i++) {
        u.port = (uint16_t)(LO + (start + i) % span);
        char name[PS_SUN_PATH];
        size_t n = ps_uname_format(name, sizeof name, ps_cfg()->dir, &u);
        struct sockaddr_un su;
        if (!n)
            return;
        socklen_t sl = ps_unix_sockaddr(name, n, &su);
        if (real_bind(fd, (struct sockaddr *)&su, sl) == 0 || errno != EADDRINUSE)
            return;
    }
}

/* AF_UNIX says EAGAIN when the listener's backlog is full; TCP never does.
 * A blocking socket's own connect already waited for room: EAGAIN there
 * means its SO_SNDTIMEO ran out, which TCP reports as a failed connect at
 * once (ETIMEDOUT here). A non-blocking one is retried in short sleeps, for
 * up to 10 seconds of the monotonic clock, then ETIMEDOUT. */
static int connect_path(int fd, const struct sockaddr_un *su, socklen_t sl)
{
    int rc = real_connect(fd, (const struct sockaddr *)su, sl);
    if (rc < 0 && errno == EAGAIN) {
        int fl = real_fcntl(fd, F_GETFL, NULL);
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += 10;
        long step_us = 100;
        while (fl >= 0 && (fl & O_NONBLOCK) && rc < 0 && errno == EAGAIN) {
            struct timespec now, ts = {0, step_us * 1000};
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > end.tv_sec ||
                (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
                break;
            nanosleep(&ts, NULL);
            if (step_us < 10000)
                step_us *= 2;
            rc = real_connect(fd, (const struct sockaddr *)su, sl);
        }
        if (rc < 0 && errno == EAGAIN)
            errno = ETIMEDOUT;
    }
    /* The listener's file is gone: nobody listens there any more. */
    if (rc < 0 && errno == ENOENT)
        errno = ECONNREFUSED;
    return rc;
}

static int connect_unix(int fd, const struct ps_addr *a, uint16_t port, const char *path,
                        bool swapped, const struct dest *d)
{
    struct ps_opts *opts = NULL;
    if (!swapped) {
        if (ps_unix_swap(fd, a->fam, &opts) < 0) {
            int err = errno;
            record(fd, a, port, 0, true, -1, err, "no AF_UNIX socket for the swap", path, NULL);
            errno = err;
            return -1;
        }
        name_client(fd, a);
    }
    struct sockaddr_un su;
    socklen_t sl = ps_unix_sockaddr(path, strlen(path), &su);
    int rc = connect_path(fd, &su, sl);
    int err = errno;
    if (!swapped) {
        ps_lock();
        ps_fd_set_peer(fd, port, 0);
        ps_fd_set_unix(fd, a->fam, opts);
        ps_unlock();
    }
    record(fd, a, port, 0, true, rc, err, NULL, path, d);
    errno = err;
    return rc;
}

/* A swapped socket dialling a destination the namespace does not serve:
 * back to TCP, bound for real where the program asked (the kernel decides),
 * then the kernel's own connect. */
static int dial_out(int fd, const struct ps_fdinfo *fi, const struct sockaddr *addr,
                    socklen_t len)
{
    struct ps_uname self;
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    if (real_getpeername(fd, (struct sockaddr *)&ss, &l) == 0) {
        errno = EISCONN;
        return -1;
    }
    bool bound = ps_unix_uname(fd, false, &self) == 0 && !self.client;
    if (ps_unix_unswap(fd, fi->ufam, fi->opts) < 0)
        return -1;
    ps_lock();
    ps_fd_set_unix(fd, 0, NULL);
    ps_unlock();
    if (bound) {
        l = ps_addr_to_sockaddr(&self.addr, self.port, &ss);
        if (real_bind(fd, (struct sockaddr *)&ss, l) < 0)
            return -1;
    }
    return real_connect(fd, addr, len);
}

/* One of the live sockets sharing e's port and address (SO_REUSEPORT):
 * the kernel spreads connections over them, this picks one at random. */
static const struct ps_entry *pick_sharer(const struct ps_ns *ns, const struct ps_entry *e)
{
    const struct ps_entry *c[16];
    int n = 0;
    for (size_t i = 0; i < ns->n && n < 16; i++) {
        const struct ps_entry *x = &ns->v[i];
        if (x->vport == e->vport && x->listening && x->rpath[0] && x->fam == e->fam &&
            ps_addr_equal(&x->baddr.addr, &e->baddr.addr) && ps_entry_alive(NULL, x))
            c[n++] = x;
    }
    if (n < 2)
        return e;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return c[(unsigned)(ts.tv_nsec / 1000) % (unsigned)n];
}

static int family_of(int fd)
{
    int d = 0;
    socklen_t l = sizeof d;
    return real_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &d, &l) == 0 ? d : -1;
}

static int shim_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct ps_addr a;
    uint16_t port;
    if (ps_addr_from_sockaddr(addr, len, &a, &port) < 0 || port == 0)
        return real_connect(fd, addr, len);
    const struct ps_config *cfg = ps_cfg();

    if (cfg->mode == PS_MODE_OBSERVE) {
        if (!ps_is_tcp(fd))
            return real_connect(fd, addr, len);
        int rc = real_connect(fd, addr, len);
        int err = errno;
        record(fd, &a, port, port, false, rc, err, NULL, NULL, NULL);
        errno = err;
        return rc;
    }
    bool strict = cfg->ports.n && ps_portspec_contains(&cfg->ports, port);
    if (cfg->ports.n && !strict)
        return real_connect(fd, addr, len);

    struct ps_fdinfo fi = ps_fd_get(fd);
    bool swapped = fi.ufam != 0;
    if (swapped && fi.ufam != a.fam) {
        /* What the TCP socket would have said. */
        errno = fi.ufam == 6 ? EINVAL : EAFNOSUPPORT;
        return -1;
    }
    ps_lock();
    ps_refresh();
    struct ps_ns *ns = ps_table();
    /* A family mismatch is left for the kernel to refuse, with the routed
     * address just as with the original one. */
    if ((!strict && !ps_ns_port_listening(ns, port)) || !(swapped || ps_is_tcp(fd))) {
        ps_unlock();
        return swapped ? dial_out(fd, &fi, addr, len) : real_connect(fd, addr, len);
    }
    bool local = ps_addr_is_loopback(&a) || ps_addr_is_wildcard(&a);
    const struct ps_entry *e = ps_ns_route(ns, &a, port, local, ps_entry_alive, NULL);
    if (!e && !local && is_local_address(&a))
        e = ps_ns_route(ns, &a, port, true, ps_entry_alive, NULL);
    if (!e) {
        ps_unlock();
        if (!strict)
            return swapped ? dial_out(fd, &fi, addr, len) : real_connect(fd, addr, len);
        char ab[PS_ADDRSTRLEN];
        ps_log(PS_LOG_INFO, "connect %s:%u in pid %d: ECONNREFUSED: no listener for this "
               "strictly virtual port", ps_addr_format(&a, ab), port, ps_pid());
        record(fd, &a, port, 0, true, -1, ECONNREFUSED, "no listener in the namespace", NULL,
               NULL);
        errno = ECONNREFUSED;
        return -1;
    }
    struct dest d;
    if (e->rpath[0]) {
        char path[PS_UPATH_MAX];
        e = pick_sharer(ns, e);
        memcpy(path, e->rpath, sizeof path);
        d.cslot = e->cslot;
        memcpy(d.sid, e->sid, sizeof d.sid);
        ps_unlock();
        /* A socket of the other family is the kernel's to refuse. */
        if (!swapped && family_of(fd) != (a.fam == 4 ? AF_INET : AF_INET6))
            return real_connect(fd, addr, len);
        return connect_unix(fd, &a, port, path, swapped, &d);
    }
    uint16_t rport = e->rport;
    d.cslot = e->cslot;
    memcpy(d.sid, e->sid, sizeof d.sid);
    ps_unlock();

    struct sockaddr_storage ss;
    memcpy(&ss, addr, len < sizeof ss ? len : sizeof ss);
    ps_sockaddr_set_port((struct sockaddr *)&ss, rport);
    int rc = real_connect(fd, (struct sockaddr *)&ss, len);
    int err = errno;
    record(fd, &a, port, rport, true, rc, err, NULL, NULL, &d);
    errno = err;
    return rc;
}

__attribute__((visibility("default"))) int connect(int fd, const struct sockaddr *addr,
                                                   socklen_t len)
{
    if (!ps_enter())
        return real_connect(fd, addr, len);
    bool inj = ps_cfg()->inject.any;
    int rc;
    if (inj && ps_inj_connect(fd, addr, len)) {
        rc = -1;   /* an injected refusal: recorded below */
        errno = ECONNREFUSED;
    } else {
        rc = shim_connect(fd, addr, len);
    }
    int err = errno;
    if (inj)
        ps_inj_connect_done(addr, len, rc, err);
    ps_leave();
    errno = err;
    return rc;
}
