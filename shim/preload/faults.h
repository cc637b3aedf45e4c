/* faults.h — the library's side of fault injection (PORTSHIM_INJECT) and of
 * naming who holds a port when a bind fails with EADDRINUSE.
 *
 * Injection hooks are called only when ps_cfg()->inject.any; holder naming
 * only on the EADDRINUSE failure path. */
#ifndef PS_FAULTS_H
#define PS_FAULTS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/manifest.h"
#include "core/ns.h"

/* bind: maybe fail with EADDRINUSE. true: failed, recorded, errno set. */
bool ps_inj_bind(struct ps_event *e);
/* connect, before the call: sleep an injected delay, then maybe refuse.
 * true: refused (recorded, errno ECONNREFUSED, the kernel never asked). */
bool ps_inj_connect(int fd, const struct sockaddr *addr, socklen_t len);
/* accept, once the real accept returned nfd >= 0: decide the delay. */
void ps_inj_accept(int lfd);
/* After the call: record an injected decision no record took, then (accept)
 * sleep the delay. */
void ps_inj_connect_done(const struct sockaddr *addr, socklen_t len, int rc, int err);
void ps_inj_accept_done(int lfd, int nfd);
/* A datagram to virtual port vport is about to be sent on fd (dst as the
 * program gave it; NULL for a send on a connected socket). true: drop it --
 * the caller reports success with the full length, as a datagram lost on
 * the way -- and the drop is recorded like the other injected faults
 * (seeded, replayable): a "connect" event with proto "udp", inj "udp-drop".
 * Called only when ps_cfg()->inject.any. Takes ps_lock itself: call
 * without it. */
bool ps_inj_udp_drop(int fd, const struct sockaddr *dst, socklen_t len, uint16_t vport);
/* Called by the code that records a connect or accept event: moves this
 * thread's pending injected decision into e. */
void ps_inj_take(struct ps_event *e);

/* A bind failed with EADDRINUSE: fill e's holder fields and print one
 * warning line. ns: the namespace entry that holds the virtual port, or
 * NULL for a real port (found through /proc). Scans /proc when ns is NULL:
 * call without ps_lock. */
void ps_name_holder(struct ps_event *e, const struct ps_entry *ns);
/* The same for a real port (pass-through, observe): a socket of the
 * namespace bound to it first (named with its bind time), else /proc.
 * Takes ps_lock itself: call without it. */
void ps_name_real_holder(struct ps_event *e);

#endif
