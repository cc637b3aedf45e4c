/* names.c — real-to-virtual port translation shared by getsockname,
 * getpeername and accept. */
#include "preload/names.h"

#include <string.h>

#include "core/sockaddr.h"
#include "preload/state.h"
#include "preload/umem.h"

void ps_virtual_name(int fd, struct sockaddr *sa, socklen_t len, bool peer)
{
    struct ps_addr a;
    uint16_t port;
    if (ps_addr_from_sockaddr(sa, len, &a, &port) < 0)
        return;
    struct ps_fdinfo fi = ps_fd_get(fd);
    if (peer && fi.pvport) {
        if (port == fi.prport)
            ps_sockaddr_set_port(sa, fi.pvport);
        return;
    }
    if (!peer && (fi.kind == PS_FD_BOUND || fi.kind == PS_FD_ACCEPTED)) {
        if (port == fi.rport)
            ps_sockaddr_set_port(sa, fi.vport);
        return;
    }
    if (fi.kind != PS_FD_NONE)
        return;
    /* A socket this process did not bind or route: inherited across exec,
     * or accepted from such a listener. Its real endpoint says whose it is. */
    enum ps_proto proto = ps_sock_proto(fd) == PS_PROTO_UDP ? PS_PROTO_UDP : PS_PROTO_TCP;
    ps_lock();
    ps_refresh();
    const struct ps_entry *e = ps_ns_by_real_proto(ps_table(), proto, &a, port, false);
    if (e && ps_entry_pid_alive(NULL, e))
        ps_sockaddr_set_port(sa, e->vport);
    ps_unlock();
}

int ps_copy_name(const struct sockaddr_storage *ss, socklen_t real_len, struct sockaddr *out,
                 socklen_t want, socklen_t *outlen)
{
    socklen_t n = real_len < want ? real_len : want;
    return ps_uwrite(out, ss, n, outlen, &real_len, sizeof real_len);
}
