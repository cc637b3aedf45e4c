/* faults.c — injected faults (docs/inject.md) and holder naming.
 *
 * The decisions are the engine's (engine/faults.h): key is this program's
 * command line, the counters this process's (bss: only the pages of ports
 * in use are ever touched); a forked child keeps its parent's and so
 * continues the same sequence. What is the library's: sleeping the delays
 * in the calling thread and handing a decision to the call's record. */
#include "preload/faults.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/holder.h"
#include "core/inject.h"
#include "core/log.h"
#include "core/probe.h"
#include "core/sockaddr.h"
#include "engine/engine.h"
#include "engine/faults.h"
#include "preload/real.h"
#include "preload/state.h"

/* The program's name as it goes into a one-line message: it is whatever
 * the program was run as, newlines and escapes included. */
static const char *prog_of(const struct ps_event *e, char *buf, size_t len)
{
    size_t i = 0;
    for (; e->prog[i] && i + 1 < len; i++) {
        unsigned char c = (unsigned char)e->prog[i];
        buf[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    buf[i] = 0;
    return buf;
}

static struct ps_inj_counts g_count;
static uint64_t g_key;
static int g_key_done;

/* This program's key, read once. */
static uint64_t proc_key(void)
{
    if (__atomic_load_n(&g_key_done, __ATOMIC_ACQUIRE))
        return __atomic_load_n(&g_key, __ATOMIC_RELAXED);
    uint64_t h = ps_inj_cmdline_key("/proc/self/cmdline");
    /* Two threads may both get here: they store the same value. */
    __atomic_store_n(&g_key, h, __ATOMIC_RELAXED);
    __atomic_store_n(&g_key_done, 1, __ATOMIC_RELEASE);
    return h;
}

static uint64_t next_n(int kind, uint16_t port)
{
    return ps_inj_next(&g_count, kind, port);
}

static void sleep_us(uint64_t us)
{
    int saved = errno;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    errno = saved;
}

/* This thread's decision, waiting for the call's record to take it. */
static __thread struct { int kind; long long us; bool pending; } t_pend
    __attribute__((tls_model("initial-exec")));
/* The accept delay still to sleep once the accept is recorded. */
static __thread uint64_t t_accept_sleep __attribute__((tls_model("initial-exec")));

void ps_inj_take(struct ps_event *e)
{
    if (!t_pend.pending)
        return;
    t_pend.pending = false;
    strcpy(e->inj, ps_inject_kind_name(t_pend.kind));
    e->inj_us = t_pend.us;
    if (!e->ok && t_pend.kind == PS_INJ_CONNECT_REFUSED && !e->note[0])
        strcpy(e->note, "injected");
}

static void pend(int kind, long long us)
{
    t_pend.kind = kind;
    t_pend.us = us;
    t_pend.pending = true;
}

bool ps_inj_bind(struct ps_event *e)
{
    const struct ps_config *c = ps_cfg();
    uint16_t port = (uint16_t)(e->port < 0 ? 0 : e->port);
    if (!ps_engine_inj_bind(c, proc_key(), &g_count, e))
        return false;
    ps_lock();
    ps_emit(e);
    ps_unlock();
    char a[PS_ADDRSTRLEN], prog[sizeof e->prog];
    ps_log(PS_LOG_INFO, "bind %s:%u in pid %d (%s): EADDRINUSE injected (seed %llu)",
           ps_addr_format(&e->addr, a), port, e->pid, prog_of(e, prog, sizeof prog),
           (unsigned long long)c->seed);
    errno = EADDRINUSE;
    return true;
}

bool ps_inj_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    const struct ps_config *c = ps_cfg();
    struct ps_addr a;
    uint16_t port;
    t_pend.pending = false;
    if (!(c->inject.connect_delay.p > 0 || c->inject.connect_refused > 0) ||
        ps_addr_from_sockaddr(addr, len, &a, &port) < 0 || port == 0 || ps_sock_proto(fd) != PS_PROTO_TCP)
        return false;
    struct ps_inj_connect d;
    ps_engine_inj_connect(c, proc_key(), &g_count, port, &d);
    if (d.delay_us) {
        pend(PS_INJ_CONNECT_DELAY, (long long)d.delay_us);
        sleep_us(d.delay_us);
    }
    if (!d.refused)
        return false;
    pend(PS_INJ_CONNECT_REFUSED, d.us);
    char ab[PS_ADDRSTRLEN];
    ps_log(PS_LOG_INFO, "connect %s:%u in pid %d: ECONNREFUSED injected (seed %llu)",
           ps_addr_format(&a, ab), port, ps_pid(), (unsigned long long)c->seed);
    errno = ECONNREFUSED;
    return true;
}

void ps_inj_connect_done(const struct sockaddr *addr, socklen_t len, int rc, int err)
{
    struct ps_addr a;
    uint16_t port;
    if (!t_pend.pending || ps_addr_from_sockaddr(addr, len, &a, &port) < 0) {
        t_pend.pending = false;
        return;
    }
    /* Nothing recorded this connect (a pass-through one): record it here. */
    struct ps_event e;
    ps_event_new(&e, PS_EV_CONNECT);
    e.fam = a.fam;
    e.has_addr = true;
    e.addr = a;
    e.port = port;
    e.ok = rc == 0;
    e.err = rc ? err : 0;
    ps_inj_take(&e);
    ps_lock();
    ps_emit(&e);
    ps_unlock();
}

bool ps_inj_udp_drop(int fd, const struct sockaddr *dst, socklen_t len, uint16_t vport)
{
    const struct ps_config *c = ps_cfg();
    if (!(c->inject.udp_drop > 0) || vport == 0 ||
        !ps_inject_fail(&c->inject, c->seed, proc_key(), PS_INJ_UDP_DROP, vport,
                        next_n(PS_INJ_UDP_DROP, vport)))
        return false;
    /* Every drop is a line, as every other injected decision is: a replay
     * is checked against the manifest. The datagram's "connect" record is
     * the manifest's one event for "this socket addressed that port". */
    struct ps_event e;
    struct ps_addr a;
    uint16_t port;
    ps_event_new(&e, PS_EV_CONNECT);
    e.proto = PS_PROTO_UDP;
    if (dst && ps_addr_from_sockaddr(dst, len, &a, &port) == 0) {
        e.fam = a.fam;
        e.has_addr = true;
        e.addr = a;
    }
    e.port = vport;
    e.ok = true;   /* the program is told it was sent: it was lost on the way */
    strcpy(e.inj, ps_inject_kind_name(PS_INJ_UDP_DROP));
    strcpy(e.note, "dropped");
    ps_lock();
    if (ps_fd_kind(fd) == PS_FD_BOUND) {
        struct ps_fdinfo fi = ps_fd_get(fd);
        if (fi.sock)
            memcpy(e.sid, fi.sock->sid, sizeof e.sid);
    }
    ps_emit(&e);
    ps_unlock();
    char ab[PS_ADDRSTRLEN];
    ps_log(PS_LOG_INFO, "datagram to %s:%u in pid %d: dropped (udp-drop injected, seed %llu)",
           e.has_addr ? ps_addr_format(&a, ab) : "its peer", (unsigned)vport, ps_pid(),
           (unsigned long long)c->seed);
    return true;
}

/* The listener's virtual port: ours, or its real name (observe, pass). */
static int listener_port(int lfd, uint16_t *port)
{
    if (ps_fd_kind(lfd) == PS_FD_BOUND) {
        *port = ps_fd_get(lfd).vport;
        return 0;
    }
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    if (real_getsockname(lfd, (struct sockaddr *)&ss, &l) < 0 ||
        ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, port) < 0)
        return -1;
    return 0;
}

void ps_inj_accept(int lfd)
{
    const struct ps_config *c = ps_cfg();
    uint16_t port;
    t_pend.pending = false;
    if (!(c->inject.accept_delay.p > 0) || listener_port(lfd, &port) < 0)
        return;
    uint64_t us = ps_inject_delay_us(&c->inject, c->seed, proc_key(), PS_INJ_ACCEPT_DELAY,
                                     port, next_n(PS_INJ_ACCEPT_DELAY, port));
    t_accept_sleep = us;
    if (us)
        pend(PS_INJ_ACCEPT_DELAY, (long long)us);
}

void ps_inj_accept_done(int lfd, int nfd)
{
    uint64_t us = t_accept_sleep;
    t_accept_sleep = 0;
    if (nfd < 0 || !us) {
        t_pend.pending = false;
        return;
    }
    if (t_pend.pending) {
        /* No accept record took it (outside observe mode): write one. */
        struct ps_event e;
        uint16_t port = 0;
        ps_event_new(&e, PS_EV_ACCEPT);
        if (listener_port(lfd, &port) == 0)
            e.port = port;
        ps_inj_take(&e);
        ps_lock();
        ps_emit(&e);
        ps_unlock();
    }
    /* After the record, before the program sees the connection: requests
     * are served out of their arrival order. */
    sleep_us(us);
}

/* ---- who holds the port ------------------------------------------------ */

#define PS_HOLDER_LOOKS_MAX 100

static int first_live_holder(const struct ps_entry *ns)
{
    for (int i = 0; i < ns->holders.n; i++)
        if (ps_probe_pid_alive(ns->holders.v[i]))
            return ns->holders.v[i];
    return ps_probe_pid_alive(ns->pid) ? ns->pid : 0;
}

/* Under ps_lock: the first live holder of a namespace entry, described;
 * "since" is its bind. 0, or -1 when none is alive. */
static int describe_entry(const struct ps_entry *ns, struct ps_holder *h)
{
    memset(h, 0, sizeof *h);
    h->uid = ns->uid;
    int pid = first_live_holder(ns);
    if (!pid || ps_holder_describe("/proc", pid, h))
        return -1;
    if (ns->ts_bind > 0)
        h->since = ns->ts_bind;   /* since it holds the port, not since it started */
    return 0;
}

/* The holder, into the failed bind's record. */
static void fill_holder(struct ps_event *e, const struct ps_holder *h)
{
    e->hpid = h->pid;
    if (h->pid) {
        memcpy(e->hcmd, h->cmd, sizeof e->hcmd < sizeof h->cmd ? sizeof e->hcmd : sizeof h->cmd);
        e->hcmd[sizeof e->hcmd - 1] = 0;
    }
    e->huid = h->uid;
    memcpy(e->huser, h->user, sizeof e->huser < sizeof h->user ? sizeof e->huser : sizeof h->user);
    e->huser[sizeof e->huser - 1] = 0;
    e->hsince = h->since;
}

static void report(struct ps_event *e, int found, const struct ps_holder *h, bool inside)
{
    char a[PS_ADDRSTRLEN], who[256], prog[sizeof e->prog];
    ps_addr_format(&e->addr, a);
    prog_of(e, prog, sizeof prog);
    if (found < 0) {
        ps_log(PS_LOG_WARN, "bind %s:%d in pid %d (%s): EADDRINUSE, holder not found",
               a, e->port, e->pid, prog);
        return;
    }
    fill_holder(e, h);
    ps_holder_format(h, who, sizeof who);
    ps_log(PS_LOG_WARN, "bind %s:%d in pid %d (%s): EADDRINUSE%s, held by %s", a, e->port,
           e->pid, prog, inside ? " in this namespace" : "", who);
}

void ps_name_holder(struct ps_event *e, const struct ps_entry *ns)
{
    struct ps_holder h;
    if (ns) {
        /* A race of binds in the namespace (a pool of workers all taking
         * one port) must not fill stderr: like the real-port case, one
         * more line after PS_HOLDER_LOOKS_MAX and then only the manifest.
         * The holder is still looked up (cheap: one pid's /proc). */
        static unsigned lines;
        unsigned n = __atomic_add_fetch(&lines, 1, __ATOMIC_RELAXED);
        int found = describe_entry(ns, &h);
        if (n <= PS_HOLDER_LOOKS_MAX) {
            report(e, found, &h, true);
            return;
        }
        if (found == 0)
            fill_holder(e, &h);
        if (n == PS_HOLDER_LOOKS_MAX + 1) {
            char prog[sizeof e->prog];
            ps_log(PS_LOG_WARN, "pid %d (%s): %d binds failed with EADDRINUSE in this "
                   "namespace; further ones are only in the manifest", e->pid,
                   prog_of(e, prog, sizeof prog), PS_HOLDER_LOOKS_MAX);
        }
        return;
    }
    /* Each look walks every process's descriptors (milliseconds on a
     * busy machine): a program that hunts for a free port by failing
     * binds must not pay that a thousand times. */
    static unsigned looks;
    unsigned n = __atomic_add_fetch(&looks, 1, __ATOMIC_RELAXED);
    if (n > PS_HOLDER_LOOKS_MAX) {
        char prog[sizeof e->prog];
        if (n == PS_HOLDER_LOOKS_MAX + 1)
            ps_log(PS_LOG_WARN, "pid %d (%s): %d binds failed with EADDRINUSE; holders of "
                   "further ones are not looked up", e->pid, prog_of(e, prog, sizeof prog),
                   PS_HOLDER_LOOKS_MAX);
        return;
    }
    report(e, ps_holder_find("/proc", &e->addr, (uint16_t)e->port, &h), &h, false);
}

void ps_name_real_holder(struct ps_event *e)
{
    struct ps_holder h;
    ps_lock();
    ps_refresh();
    const struct ps_entry *c = ps_ns_by_real(ps_table(), &e->addr, (uint16_t)e->port, false);
    int found = c ? describe_entry(c, &h) : -1;
    ps_unlock();
    if (found == 0)
        report(e, 0, &h, true);
    else
        ps_name_holder(e, NULL);
}
