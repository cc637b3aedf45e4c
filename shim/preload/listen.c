/* listen.c — listen(): the moment a mapping becomes connectable. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/sockaddr.h"
#include "engine/engine.h"
#include "preload/real.h"
#include "preload/state.h"

static void record_observed(int fd, int rc, int err)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    uint16_t port;
    if (ps_sock_proto(fd) != PS_PROTO_TCP || real_getsockname(fd, (struct sockaddr *)&ss, &l) < 0 ||
        ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, &port) < 0)
        return;
    struct ps_event e;
    ps_event_new(&e, PS_EV_LISTEN);
    e.fam = a.fam;
    e.has_addr = e.has_raddr = true;
    e.addr = e.raddr = a;
    e.port = e.rport = port;
    e.ok = rc == 0;
    e.err = rc ? err : 0;
    /* A listener the kernel bound itself (listen without bind) gets an id
     * too, so its close is recorded like any other. */
    ps_record(fd, &e, rc == 0);
}

PS_EXPORT int listen(int fd, int backlog)
{
    if (!ps_enter())
        return real_listen(fd, backlog);
    /* unix mode: AF_UNIX refuses a connect once the backlog is full (EAGAIN,
     * or a blocking wait) where TCP would still complete the handshake or
     * retry its SYN, so a listener standing in for TCP takes the deepest
     * backlog the kernel allows (net.core.somaxconn): clients of a listener
     * that accepts slowly connect instead of waiting (connect.c). */
    int rc = real_listen(fd, ps_fd_get(fd).ufam ? INT_MAX : backlog);
    int err = errno;
    if (ps_fd_kind(fd) == PS_FD_BOUND) {
        ps_lock();
        struct ps_fdinfo fi = ps_fd_get(fd);
        if (fi.kind == PS_FD_BOUND && fi.sock && (rc < 0 || !fi.sock->listening)) {
            struct ps_event e;
            ps_event_new(&e, PS_EV_LISTEN);
            memcpy(e.sid, fi.sock->sid, sizeof e.sid);
            e.ok = rc == 0;
            e.err = rc ? err : 0;
            if (rc == 0)
                fi.sock->listening = true;
            ps_emit(&e);
        }
        ps_unlock();
    } else if (ps_cfg()->mode == PS_MODE_OBSERVE) {
        record_observed(fd, rc, err);
    }
    ps_leave();
    errno = err;
    return rc;
}
