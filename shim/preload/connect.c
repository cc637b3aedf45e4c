/* connect.c — connect(): route a dial of a virtual port to its listener.
 *
 * A connect is routed exactly when the same connect would have reached that
 * listener without the shim (family, wildcard or specific address, dual
 * stack); everything else goes to the kernel untouched, except ports made
 * strictly virtual by PORTSHIM_PORTS, which are refused. The namespace lock
 * is never held across the real connect. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "core/log.h"
#include "core/sockaddr.h"
#include "core/unixname.h"
#include "engine/engine.h"
#include "preload/counts.h"
#include "preload/dgram.h"
#include "preload/faults.h"
#include "preload/real.h"
#include "preload/state.h"
#include "preload/umem.h"
#include "preload/unix.h"

/* The listener a routed connect went to: its counter (preload/counts.h). */
struct dest {
    int cslot;
    char sid[PS_SID_MAX];
};

static void record_proto(int fd, enum ps_proto proto, const struct ps_addr *a, uint16_t port,
                         uint16_t rport, bool routed, int rc, int err, const char *note,
                         const char *rpath, const struct dest *d)
{
    struct ps_event e;
    ps_event_new(&e, PS_EV_CONNECT);
    e.proto = proto;
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
    enum ps_fdkind kind = ps_fd_kind(fd);
    ps_record_locked(fd, &e, observed && (kind == PS_FD_NONE || kind == PS_FD_DGRAM));
    if (routed && started)
        ps_fd_set_peer(fd, port, rport);
    else if (proto == PS_PROTO_UDP && rc == 0)
        ps_fd_set_peer(fd, 0, 0);   /* connected elsewhere: its peer is its own name */
    if (proto == PS_PROTO_UDP)
        ps_fd_set_udp(fd);
    ps_unlock();
}

static void record(int fd, const struct ps_addr *a, uint16_t port, uint16_t rport, bool routed,
                   int rc, int err, const char *note, const char *rpath, const struct dest *d)
{
    record_proto(fd, PS_PROTO_TCP, a, port, rport, routed, rc, err, note, rpath, d);
}

/* ---- unix mode ---------------------------------------------------------- */

/* The address the kernel would give a client dialling dst: dst itself for
 * loopback and local addresses, loopback for a wildcard. */
static struct ps_addr client_addr(const struct ps_addr *dst)
{
    if (!ps_addr_is_wildcard(dst))
        return *dst;
    struct ps_addr lo = ps_addr_loopback(ps_addr_is_v4(dst) ? AF_INET : AF_INET6);
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

/* How long TCP's connect keeps trying before ETIMEDOUT: TCP_USER_TIMEOUT
 * when set; otherwise its SYN retries (TCP_SYNCNT, else
 * net.ipv4.tcp_syn_retries), the first after 1 s, each wait doubling up to
 * 120 s: 127 s for the default 6. */
static int g_syn_retries;   /* net.ipv4.tcp_syn_retries, read once */

static long tcp_connect_ms(const struct ps_opts *opts)
{
    int ut = 0, syn = 0;
    if (opts) {
        ps_lock();
        ps_opts_get(opts, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut);
        ps_opts_get(opts, IPPROTO_TCP, TCP_SYNCNT, &syn);
        ps_unlock();
    }
    if (ut > 0)
        return ut;
    if (syn <= 0 && (syn = __atomic_load_n(&g_syn_retries, __ATOMIC_RELAXED)) <= 0) {
        syn = 6;
        FILE *f = fopen("/proc/sys/net/ipv4/tcp_syn_retries", "re");
        if (f) {
            if (fscanf(f, "%d", &syn) != 1 || syn <= 0)
                syn = 6;
            fclose(f);
        }
        __atomic_store_n(&g_syn_retries, syn, __ATOMIC_RELAXED);
    }
    long s = 0;
    for (int i = 0; i <= syn && i < 256; i++)
        s += i < 7 ? 1L << i : 120;
    return s * 1000;
}

/* TCP restarts an interrupted connect that has no timeout of its own when
 * the signal's handler has SA_RESTART. Which signal interrupted is not
 * known here: restart only when every handler the program installed has it.
 * Handlers of the faults a thread raises itself (SIGSEGV, SIGBUS, ...; a
 * sanitizer's, a runtime's) cannot have interrupted a wait: not counted. */
static bool handlers_restart(void)
{
    static const int sync_sigs = 1 << SIGSEGV | 1 << SIGBUS | 1 << SIGFPE | 1 << SIGILL |
                                 1 << SIGTRAP | 1 << SIGSYS | 1 << SIGKILL | 1 << SIGSTOP;
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if ((sig >= 32 || !(sync_sigs >> sig & 1)) && sigaction(sig, NULL, &sa) == 0 &&
            sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN && !(sa.sa_flags & SA_RESTART))
            return false;
    }
    return true;
}

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A blocking AF_UNIX connect waits for room in a full backlog as long as its
 * SO_SNDTIMEO says, forever by default. Here it waits as long as TCP's would
 * (tcp_connect_ms): SO_SNDTIMEO is set for the call to what is left of that
 * bound, or to the program's own timeout when shorter, and restored. The
 * bound running out is ETIMEDOUT; the program's own timeout running out is
 * TCP's EINPROGRESS, the connect then pending (ps_unix_pending_set). A
 * signal interrupts it as it would TCP's connect: EINTR, or a restart. */
static int wait_connect(int fd, const struct sockaddr_un *su, socklen_t sl,
                        const struct ps_opts *opts)
{
    struct timeval own = {0, 0};
    socklen_t ol = sizeof own;
    if (real_getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &own, &ol) < 0)
        own = (struct timeval){0, 0};
    long own_ms = (long)own.tv_sec * 1000 + (own.tv_usec + 999) / 1000;
    long deadline = now_ms() + tcp_connect_ms(opts);
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        bool mine = own_ms > 0 && own_ms <= left;
        long t = mine ? own_ms : left;
        struct timeval tv = {t / 1000, (t % 1000) * 1000};
        real_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int rc = real_connect(fd, (const struct sockaddr *)su, sl);
        int err = errno;
        real_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &own, sizeof own);
        if (rc == 0 || (err != EAGAIN && err != EINTR)) {
            errno = err;
            return rc;
        }
        if (err == EAGAIN) {
            if (mine)
                ps_unix_pending_set(fd, su->sun_path);
            errno = mine ? EINPROGRESS : ETIMEDOUT;
            return -1;
        }
        if (own_ms > 0 || !handlers_restart()) {
            errno = EINTR;
            return -1;
        }
    }
}

/* AF_UNIX says EAGAIN when the listener's backlog is full; TCP never does.
 * Listeners take the deepest backlog the kernel allows (listen.c), so this
 * is rare. A blocking connect waits as TCP's would (wait_connect). A
 * non-blocking one says EINPROGRESS at once, as TCP's does; the socket is
 * left unconnected, so it polls writable (with POLLHUP) at once, and the
 * program's SO_ERROR query completes it: one more non-blocking connect,
 * then 0 (connected) or ECONNREFUSED (still no room), as a TCP listener
 * with tcp_abort_on_overflow answers (sockopt.c, ps_unix_pending_take).
 * fl: the program's status flags when fd was just swapped and is
 * non-blocking for now (the first try then costs no system call of its
 * own: a blocking socket's flags are put back after it), else -1. */
static int connect_path(int fd, const struct sockaddr_un *su, socklen_t sl,
                        const struct ps_opts *opts, int fl)
{
    int rc;
    if (fl >= 0 && !(fl & O_NONBLOCK)) {
        rc = real_connect(fd, (const struct sockaddr *)su, sl);
        int err = errno;
        real_fcntl(fd, F_SETFL, (void *)(long)fl);
        if (rc < 0 && err == EAGAIN)
            rc = wait_connect(fd, su, sl, opts);
        else
            errno = err;
        if (rc < 0 && errno == ENOENT)
            errno = ECONNREFUSED;
        return rc;
    }
    if (fl < 0 && (fl = real_fcntl(fd, F_GETFL, NULL)) >= 0 && !(fl & O_NONBLOCK)) {
        rc = wait_connect(fd, su, sl, opts);
        if (rc < 0 && errno == ENOENT)
            errno = ECONNREFUSED;
        return rc;
    }
    rc = real_connect(fd, (const struct sockaddr *)su, sl);
    if (rc < 0 && errno == EAGAIN) {
        /* A second connect while one is pending: TCP's EALREADY. */
        errno = ps_unix_pending_set(fd, su->sun_path) ? EALREADY : EINPROGRESS;
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
    int fl = -1;
    if (!swapped) {
        if (ps_unix_swap_nb(fd, a->fam, &opts, &fl) < 0) {
            int err = errno;
            record(fd, a, port, 0, true, -1, err, "no AF_UNIX socket for the swap", path, NULL);
            errno = err;
            return -1;
        }
        name_client(fd, a);
    }
    struct sockaddr_un su;
    socklen_t sl = ps_unix_sockaddr(path, strlen(path), &su);
    int rc = connect_path(fd, &su, sl, swapped ? ps_fd_get(fd).opts : opts, fl);
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

static bool v6only(int fd)
{
    struct ps_fdinfo fi = ps_fd_get(fd);
    int v = 0;
    if (fi.ufam) {
        ps_lock();
        ps_opts_get(ps_fd_get(fd).opts, IPPROTO_IPV6, IPV6_V6ONLY, &v);
        ps_unlock();
        return v != 0;
    }
    socklen_t l = sizeof v;
    return real_getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l) == 0 && v;
}

static int family_of(int fd)
{
    int d = 0;
    socklen_t l = sizeof d;
    return real_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &d, &l) == 0 ? d : -1;
}

/* A UDP socket's connect: its peer is the namespace's UDP socket bound to
 * the port, if any (its real port; getpeername reports the virtual one),
 * and the connect is recorded, as a TCP one is. UDP is remapped in every
 * mode (no swap). */
static int connect_udp(int fd, const struct sockaddr *addr, socklen_t len,
                       const struct ps_addr *a, uint16_t port, enum ps_connect_kind k)
{
    int rc, err;
    if (k == PS_CONNECT_OBSERVE || k == PS_CONNECT_PASS) {
        rc = real_connect(fd, addr, len);
        err = errno;
        if (k == PS_CONNECT_OBSERVE)
            record_proto(fd, PS_PROTO_UDP, a, port, port, false, rc, err, NULL, NULL, NULL);
        errno = err;
        return rc;
    }
    struct ps_route r;
    ps_lock();
    ps_refresh();
    ps_engine_route(ps_session(), PS_PROTO_UDP, k, a, port, &r);
    ps_unlock();
    if (r.kind == PS_ROUTE_REFUSE) {
        record_proto(fd, PS_PROTO_UDP, a, port, 0, true, -1, ECONNREFUSED,
                     "no receiver in the namespace", NULL, NULL);
        errno = ECONNREFUSED;
        return -1;
    }
    if (r.kind != PS_ROUTE_PORT) {
        rc = real_connect(fd, addr, len);
        err = errno;
        if (rc == 0) {
            ps_lock();
            ps_fd_set_peer(fd, 0, 0);
            ps_unlock();
        }
        errno = err;
        return rc;
    }
    struct sockaddr_storage ss;
    memcpy(&ss, addr, len < sizeof ss ? len : sizeof ss);
    ps_sockaddr_set_port((struct sockaddr *)&ss, r.rport);
    rc = real_connect(fd, (struct sockaddr *)&ss, len);
    err = errno;
    record_proto(fd, PS_PROTO_UDP, a, port, r.rport, true, rc, err, NULL, NULL, NULL);
    errno = err;
    return rc;
}

static int shim_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct ps_addr a;
    uint16_t port;
    if (ps_addr_from_sockaddr(addr, len, &a, &port) < 0 || port == 0)
        return real_connect(fd, addr, len);
    const struct ps_config *cfg = ps_cfg();
    /* A v4-mapped destination on a v6-only socket: the kernel's ENETUNREACH. */
    if (a.fam == AF_INET6 && ps_addr_is_v4(&a) && v6only(fd))
        return ps_fd_get(fd).ufam ? (errno = ENETUNREACH, -1) : real_connect(fd, addr, len);

    enum ps_connect_kind k = ps_engine_connect_kind(cfg, port);
    if (ps_dgram_fd(fd))
        return connect_udp(fd, addr, len, &a, port, k);
    if (k == PS_CONNECT_OBSERVE) {
        int proto = ps_sock_proto(fd);
        if (proto == PS_PROTO_UDP)
            return connect_udp(fd, addr, len, &a, port, k);
        if (!ps_engine_serves(proto))
            return real_connect(fd, addr, len);
        int rc = real_connect(fd, addr, len);
        int err = errno;
        record(fd, &a, port, port, false, rc, err, NULL, NULL, NULL);
        errno = err;
        return rc;
    }
    if (k == PS_CONNECT_PASS)
        return real_connect(fd, addr, len);

    struct ps_fdinfo fi = ps_fd_get(fd);
    bool swapped = fi.ufam != 0;
    if (swapped && fi.ufam != a.fam) {
        /* What the TCP socket would have said. */
        errno = fi.ufam == AF_INET6 ? EINVAL : EAFNOSUPPORT;
        return -1;
    }
    struct ps_route r;
    ps_lock();
    ps_refresh();
    ps_engine_connect_route(ps_session(), k, &a, port, &r);
    ps_unlock();
    /* Not the namespace's, or not a TCP socket: the kernel's. A family
     * mismatch is left for the kernel to refuse, with the routed address
     * just as with the original one. A UDP socket this process did not make
     * (inherited over exec) is routed as one from here on. */
    if (r.kind == PS_ROUTE_PASS)
        return swapped ? dial_out(fd, &fi, addr, len) : real_connect(fd, addr, len);
    if (!swapped) {
        int proto = ps_sock_proto(fd);
        if (proto == PS_PROTO_UDP)
            return connect_udp(fd, addr, len, &a, port, k);
        if (!ps_engine_serves(proto))
            return real_connect(fd, addr, len);
    }
    struct dest d = {.cslot = r.cslot};
    memcpy(d.sid, r.sid, sizeof d.sid);
    switch (r.kind) {
    case PS_ROUTE_REFUSE: {
        char ab[PS_ADDRSTRLEN];
        ps_log(PS_LOG_INFO, "connect %s:%u in pid %d: ECONNREFUSED: no listener for this "
               "strictly virtual port", ps_addr_format(&a, ab), port, ps_pid());
        record(fd, &a, port, 0, true, -1, ECONNREFUSED, "no listener in the namespace", NULL,
               NULL);
        errno = ECONNREFUSED;
        return -1;
    }
    case PS_ROUTE_PATH:
        /* A socket of the other family is the kernel's to refuse. */
        if (!swapped && family_of(fd) != a.fam)
            return real_connect(fd, addr, len);
        return connect_unix(fd, &a, port, r.path, swapped, &d);
    default:
        break;
    }
    struct sockaddr_storage ss;
    memcpy(&ss, addr, len < sizeof ss ? len : sizeof ss);
    ps_sockaddr_set_port((struct sockaddr *)&ss, r.rport);
    int rc = real_connect(fd, (struct sockaddr *)&ss, len);
    int err = errno;
    record(fd, &a, port, r.rport, true, rc, err, NULL, NULL, &d);
    errno = err;
    return rc;
}

PS_EXPORT int connect(int fd, const struct sockaddr *uaddr,
                                                   socklen_t len)
{
    if (!ps_enter())
        return real_connect(fd, uaddr, len);
    /* The program's sockaddr is read once, EFAULT-safely; an address it
     * cannot read, none at all, or a length over the kernel's limit is the
     * kernel's to refuse (EFAULT, EINVAL). */
    struct sockaddr_storage copy;
    if (!uaddr || len > sizeof copy || ps_uread(&copy, uaddr, len) < 0) {
        ps_leave();
        return real_connect(fd, uaddr, len);
    }
    const struct sockaddr *addr = (const struct sockaddr *)&copy;
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
