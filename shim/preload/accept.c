/* accept.c — accept() and accept4(): a connection accepted from one of our
 * listeners carries the listener's virtual port as its own name. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/sockaddr.h"
#include "preload/faults.h"
#include "preload/names.h"
#include "preload/real.h"
#include "preload/state.h"
#include "preload/umem.h"
#include "preload/unix.h"

static void record_observed(const struct sockaddr_storage *ss, socklen_t l, int rc, int err)
{
    struct ps_addr a;
    uint16_t port;
    if (rc >= 0 && ps_addr_from_sockaddr((const struct sockaddr *)ss, l, &a, &port) < 0)
        return;   /* not an inet connection */
    if (rc < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR))
        return;   /* the ordinary "nothing yet" of an event loop */
    struct ps_event e;
    ps_event_new(&e, PS_EV_ACCEPT);
    if (rc >= 0) {
        e.fam = a.fam;
        e.has_addr = true;
        e.addr = a;
        e.port = port;
    }
    e.ok = rc >= 0;
    e.err = rc < 0 ? err : 0;
    ps_inj_take(&e);
    ps_record(rc, &e, rc >= 0);
}

static int shim_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags, bool four)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    bool want = addr && len;
    int nfd = four ? real_accept4(fd, (struct sockaddr *)&ss, &l, flags)
                   : real_accept(fd, (struct sockaddr *)&ss, &l);
    int err = errno;
    bool inj = ps_cfg()->inject.any && nfd >= 0;
    if (inj)
        ps_inj_accept(fd);
    if (nfd >= 0 && ss.ss_family == AF_UNIX && ps_cfg()->mode == PS_MODE_UNIX) {
        /* From a listener standing in for a TCP one: the peer in inet form,
         * of the listener's family. */
        struct sockaddr_storage in;
        socklen_t il;
        int fam;
        if (ps_unix_accepted_peer(fd, &ss, l, &in, &il, &fam)) {
            ps_lock();
            ps_fd_release(nfd);
            ps_fd_set(nfd, PS_FD_ACCEPTED, 0, 0, NULL);
            /* Like TCP's, an accepted socket starts with its listener's options. */
            struct ps_fdinfo li = ps_fd_get(fd);
            struct ps_opts *o = li.opts ? ps_opts_new() : NULL;
            if (o) {
                memcpy(o->v, li.opts->v, sizeof o->v);
                o->n = li.opts->n;
            }
            ps_fd_set_unix(nfd, fam, o);
            ps_unlock();
            ss = in;
            l = il;
        }
    } else if (ps_cfg()->mode == PS_MODE_OBSERVE) {
        /* Failures only of listeners it saw bound; successes of inet ones. */
        if (ps_fd_kind(fd) != PS_FD_NONE || nfd >= 0)
            record_observed(&ss, l, nfd, err);
    } else if (nfd >= 0 && ps_fd_kind(fd) == PS_FD_BOUND) {
        struct ps_fdinfo li = ps_fd_get(fd);
        ps_lock();
        ps_fd_release(nfd);
        ps_fd_set(nfd, PS_FD_ACCEPTED, li.vport, li.rport, NULL);
        /* A client that bound a virtual port of its own is seen by it. */
        struct ps_addr pa;
        uint16_t pport;
        if (want && ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &pa, &pport) == 0) {
            ps_refresh();
            const struct ps_entry *e = ps_ns_by_real(ps_table(), &pa, pport, false);
            if (e && !e->listening && e->vport != pport) {
                ps_fd_set_peer(nfd, e->vport, pport);
                ps_sockaddr_set_port((struct sockaddr *)&ss, e->vport);
            }
        }
        ps_unlock();
    }
    /* Like the kernel, a name that cannot be written out (EFAULT) or a
     * negative length (EINVAL) fails the accept and drops the connection. */
    socklen_t wl;
    if (nfd >= 0 && want &&
        (ps_uread(&wl, len, sizeof wl) < 0 || ((int)wl < 0 && (errno = EINVAL)) ||
         ps_copy_name(&ss, l, addr, wl, len) < 0)) {
        err = errno;
        ps_lock();
        ps_fd_release(nfd);
        ps_unlock();
        real_close(nfd);
        nfd = -1;
    }
    if (inj)
        ps_inj_accept_done(fd, nfd);
    errno = err;
    return nfd;
}

PS_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    if ((addr && !len) || !ps_enter())
        return real_accept(fd, addr, len);
    int rc = shim_accept(fd, addr, len, 0, false);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}

PS_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len,
                                                   int flags)
{
    if ((addr && !len) || !ps_enter())
        return real_accept4(fd, addr, len, flags);
    int rc = shim_accept(fd, addr, len, flags, true);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}
