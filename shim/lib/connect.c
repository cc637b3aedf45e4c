/* connect.c — connect(): route a dial of a virtual port to its listener.
 *
 * A connect is routed exactly when the same connect would have reached that
 * listener without the shim (family, wildcard or specific address, dual
 * stack); everything else goes to the kernel untouched, except ports made
 * strictly virtual by PORTSHIM_PORTS, which are refused. The namespace lock
 * is never held across the real connect. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/sockaddr.h"
#include "lib/faults.h"
#include "lib/real.h"
#include "lib/state.h"

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

static void record(int fd, const struct ps_addr *a, uint16_t port, uint16_t rport, bool routed,
                   int rc, int err, const char *note)
{
    struct ps_event e;
    ps_event_new(&e, PS_EV_CONNECT);
    e.fam = a->fam;
    e.has_addr = e.has_raddr = true;
    e.addr = e.raddr = *a;
    e.port = port;
    e.rport = rport;
    e.routed = routed;
    e.ok = rc == 0;
    e.err = rc ? err : 0;
    if (note)
        strncpy(e.note, note, sizeof e.note - 1);
    ps_inj_take(&e);
    bool started = rc == 0 || err == EINPROGRESS;
    bool observed = started && ps_cfg()->mode == PS_MODE_OBSERVE;
    ps_lock();
    if (observed && ps_fd_kind(fd) == PS_FD_NONE)
        ps_next_sid(e.sid);
    ps_emit(&e);
    if (observed && e.sid[0])
        ps_track(fd, &e);
    if (routed && started)
        ps_fd_set_peer(fd, port, rport);
    ps_unlock();
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
        record(fd, &a, port, port, false, rc, err, NULL);
        errno = err;
        return rc;
    }
    bool strict = cfg->ports.n && ps_portspec_contains(&cfg->ports, port);
    if (cfg->ports.n && !strict)
        return real_connect(fd, addr, len);

    ps_lock();
    ps_refresh();
    struct ps_ns *ns = ps_table();
    /* A family mismatch is left for the kernel to refuse, with the routed
     * address just as with the original one. */
    if ((!strict && !ps_ns_port_listening(ns, port)) || !ps_is_tcp(fd)) {
        ps_unlock();
        return real_connect(fd, addr, len);
    }
    bool local = ps_addr_is_loopback(&a) || ps_addr_is_wildcard(&a);
    const struct ps_entry *e = ps_ns_route(ns, &a, port, local, ps_entry_alive, NULL);
    if (!e && !local && is_local_address(&a))
        e = ps_ns_route(ns, &a, port, true, ps_entry_alive, NULL);
    if (!e) {
        ps_unlock();
        if (!strict)
            return real_connect(fd, addr, len);
        char ab[PS_ADDRSTRLEN];
        ps_log(PS_LOG_INFO, "connect %s:%u in pid %d: ECONNREFUSED: no listener for this "
               "strictly virtual port", ps_addr_format(&a, ab), port, ps_pid());
        record(fd, &a, port, 0, true, -1, ECONNREFUSED, "no listener in the namespace");
        errno = ECONNREFUSED;
        return -1;
    }
    uint16_t rport = e->rport;
    ps_unlock();

    struct sockaddr_storage ss;
    memcpy(&ss, addr, len < sizeof ss ? len : sizeof ss);
    ps_sockaddr_set_port((struct sockaddr *)&ss, rport);
    int rc = real_connect(fd, (struct sockaddr *)&ss, len);
    int err = errno;
    record(fd, &a, port, rport, true, rc, err, NULL);
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
