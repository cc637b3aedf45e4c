/* session.c — the LD_PRELOAD backend's side of the engine (engine/engine.h):
 * the one session of this process, and the operations the engine asks of
 * it, answered with the real calls and /proc. */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/kernel.h"
#include "core/sockaddr.h"
#include "engine/engine.h"
#include "preload/counts.h"
#include "preload/real.h"
#include "preload/state.h"

static bool op_alive(void *ctx, const struct ps_entry *e) { return ps_entry_pid_alive(ctx, e); }

static bool op_live(void *ctx, const struct ps_entry *e) { return ps_entry_still_held(e); }

/* Under the lock and the claim: c's holders died without a close. */
static void op_retire(void *ctx, const struct ps_entry *c)
{
    struct ps_event st;
    if (c->rpath[0])
        ps_unlink_socket(c->rpath);
    ps_cnt_emit(c->sid, c->cslot, c->cbase);
    ps_event_new(&st, PS_EV_STALE);
    memcpy(st.sid, c->sid, sizeof st.sid);
    ps_emit(&st);
    ps_refresh();
}

/* Asked only on the conflict path: elsewhere the real bind gives the
 * kernel's own answer. */
static bool op_refuses_first(void *ctx, int fd, int fam)
{
    return ps_kernel_refuses_first(fd, fam);
}

/* Only asked for non-loopback destinations that a wildcard listener might
 * serve. */
static bool op_local_address(void *ctx, const struct ps_addr *dst)
{
    return ps_kernel_local_address(dst);
}

static const struct ps_engine_ops g_ops = {
    .alive = op_alive,
    .live = op_live,
    .retire = op_retire,
    .refuses_first = op_refuses_first,
    .local_address = op_local_address,
};

static struct ps_session g_session;   /* under ps_lock */

struct ps_session *ps_session(void)
{
    g_session.cfg = ps_cfg();
    g_session.table = ps_table();
    g_session.ops = &g_ops;
    g_session.ctx = NULL;
    g_session.proc = ps_proc();
    return &g_session;
}
