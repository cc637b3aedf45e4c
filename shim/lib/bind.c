/* bind.c — bind(): claim a virtual port in the namespace and bind the real
 * socket somewhere that cannot collide (remap: the same address, port 0).
 *
 * The claim (read new events, check for a conflict, bind, append) runs under
 * the manifest's flock, so two processes never both get one virtual port. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sockaddr.h"
#include "core/unixname.h"
#include "lib/counts.h"
#include "lib/faults.h"
#include "lib/real.h"
#include "lib/state.h"
#include "lib/umem.h"
#include "lib/unix.h"

/* Ephemeral-looking virtual numbers for port-0 binds whose kernel port is
 * already a virtual port of the namespace. */
#define VPORT_LO 49152
#define VPORT_HI 65535

static int sockopt_int(int fd, int level, int name)
{
    int v = 0;
    socklen_t l = sizeof v;
    return real_getsockopt(fd, level, name, &v, &l) == 0 ? v : 0;
}

static void describe_bind(struct ps_event *e, int fd, const struct ps_addr *a, uint16_t port,
                          int fam)
{
    e->fam = fam;
    if (fam == 6)
        e->v6only = sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    e->has_addr = true;
    e->addr = *a;
    e->port = port;
    e->reuseaddr = sockopt_int(fd, SOL_SOCKET, SO_REUSEADDR);
    e->reuseport = sockopt_int(fd, SOL_SOCKET, SO_REUSEPORT);
    e->uid = (long)geteuid();
}

static int real_port(int fd, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    if (real_getsockname(fd, (struct sockaddr *)&ss, &l) < 0 ||
        ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, port) < 0)
        return -1;
    return 0;
}

/* Would the kernel refuse this bind before looking at the port (socket
 * already bound, or of another family)? Asked only on the conflict path:
 * elsewhere the real bind gives the kernel's own answer. */
static bool kernel_refuses_first(int fd, int family)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    uint16_t port;
    if (real_getsockname(fd, (struct sockaddr *)&ss, &l) < 0)
        return true;
    return ss.ss_family != family ||
           ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, &port) < 0 || port != 0;
}

/* A bind the namespace does not remap, recorded for the report. */
static int bind_recorded(int fd, const struct sockaddr *addr, socklen_t len, struct ps_event *e)
{
    int rc = real_bind(fd, addr, len);
    int err = errno;
    e->ok = rc == 0;
    e->err = rc ? err : 0;
    if (rc && err == EADDRINUSE)
        ps_name_real_holder(e);
    uint16_t r;
    if (rc == 0 && real_port(fd, &r) == 0) {
        e->has_raddr = true;
        e->raddr = e->addr;
        e->rport = r;
    }
    ps_lock();
    /* Observed sockets get an id too, so their close can be recorded. */
    bool observed = rc == 0 && ps_cfg()->mode == PS_MODE_OBSERVE;
    if (observed)
        ps_next_sid(e->sid);
    ps_emit(e);
    if (observed)
        ps_track(fd, e);
    ps_unlock();
    errno = err;
    return rc;
}

/* Under the claim: the number a bind to port 0 gets (core/reserve.h):
 * want, the kernel's own, when the namespace neither uses nor reserved it;
 * else one of lo..hi never handed out; else the least recently released.
 * 0: every number is in use. */
static uint16_t pick_vport(uint16_t want, uint16_t lo, uint16_t hi)
{
    static struct ps_portset used; /* under ps_lock; 8 KiB off the stack */
    struct ps_ns *ns = ps_table();
    ps_ns_used_ports(ns, &used);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint32_t start = want ? want * 2654435761u
                          : (uint32_t)ts.tv_nsec ^ (uint32_t)ps_pid() * 2654435761u;
    return ps_reserve_pick(&ns->res, &used, want, lo, hi, start);
}

/* Under the lock (and the claim, if taken): record the failed bind and
 * release both. Returns -1 with errno err. */
static int refused(struct ps_event *e, int err)
{
    e->ok = false;
    e->err = err;
    ps_emit(e);
    ps_claim_end();
    ps_unlock();
    errno = err;
    return -1;
}

/* Under the claim: the bind to real port r succeeded; record it as e's
 * virtual port and make fd ours. Releases the claim and the lock. */
/* The socket's inode: readers check that a holder still has it open
 * before they believe a live pid holds the port (ps_entry_live). */
static void note_inode(int fd, struct ps_event *e)
{
    struct stat st;
    if (fstat(fd, &st) == 0)
        e->ino = (unsigned long long)st.st_ino;
}

static void claimed(int fd, struct ps_event *e, uint16_t r)
{
    note_inode(fd, e);
    e->has_raddr = true;
    e->raddr = e->addr;
    e->rport = r;
    ps_next_sid(e->sid);
    ps_cnt_claim(ps_table(), &e->cslot, &e->cbase);
    ps_emit(e);
    ps_claim_end();
    ps_track(fd, e);
    ps_unlock();
}

/* Port 0: the kernel's choice is the name, unless the namespace already
 * uses that number virtually. */
static int bind_any(int fd, const struct sockaddr *addr, socklen_t len, struct ps_event *e)
{
    int rc = real_bind(fd, addr, len);
    int err = errno;
    uint16_t r = 0;
    if (rc == 0 && real_port(fd, &r) < 0)
        r = 0;
    ps_lock();
    if (rc < 0 || !r)
        return refused(e, rc < 0 ? err : EINVAL);
    ps_claim_begin();
    e->chosen = true;
    if (!(e->port = pick_vport(r, VPORT_LO, VPORT_HI)))
        return refused(e, EADDRINUSE);
    claimed(fd, e, r);
    return 0;
}

static bool path_taken(const struct ps_ns *ns, const char *path)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i].rpath, path) && ps_entry_alive(NULL, &ns->v[i]))
            return true;
    return false;
}

/* Under the lock and the claim, with no conflict: fd becomes an AF_UNIX
 * socket bound to DIR/<port>@<addr>, or DIR/<port>@<addr>#<n> beside the
 * sockets it shares the port with. */
static int bind_unix(int fd, struct ps_event *e)
{
    struct ps_ns *ns = ps_table();
    /* Port 0: from the range the kernel would pick from. */
    if (e->port == 0) {
        e->chosen = true;
        if (!(e->port = pick_vport(0, 32768, 60999)))
            return refused(e, EADDRINUSE);
    }
    struct ps_uname u = {.port = (uint16_t)e->port, .addr = e->addr};
    char name[PS_SUN_PATH];
    size_t nlen = 0;
    for (u.n = 0; u.n <= PS_UNAME_SHARE_MAX; u.n++) {
        nlen = ps_uname_format(name, sizeof name, ps_cfg()->dir, &u);
        if (!nlen || !path_taken(ns, name))
            break;
    }
    if (!nlen || u.n > PS_UNAME_SHARE_MAX)
        return refused(e, nlen ? EADDRINUSE : ENAMETOOLONG);
    struct ps_opts *opts;
    if (ps_unix_swap(fd, e->fam, &opts) < 0)
        return refused(e, errno);
    /* A file left by a holder that died without closing. */
    ps_unlink_socket(name);
    struct sockaddr_un su;
    socklen_t sl = ps_unix_sockaddr(name, nlen, &su);
    if (real_bind(fd, (struct sockaddr *)&su, sl) < 0) {
        int err = errno;
        ps_unix_unswap(fd, e->fam, opts);
        ps_opts_unref(opts);
        ps_log(PS_LOG_WARN, "bind %s in pid %d (%s): %s", name, e->pid, e->prog, strerror(err));
        return refused(e, err);
    }
    /* A namespace shared with another user (run --share-with): the private
     * directory decides who may reach the socket, so its own mode must not
     * stop the other user's connects (umask made it 0755 for a root run). */
    if (ps_cfg()->share_uid >= 0 || ps_cfg()->share_gid >= 0)
        chmod(name, 0666);
    memcpy(e->rpath, name, nlen + 1);
    note_inode(fd, e);
    ps_next_sid(e->sid);
    ps_cnt_claim(ps_table(), &e->cslot, &e->cbase);
    ps_emit(e);
    ps_claim_end();
    ps_track(fd, e);
    struct ps_fdinfo fi = ps_fd_get(fd);
    if (fi.sock)
        memcpy(fi.sock->upath, name, nlen + 1);
    ps_fd_set_unix(fd, e->fam, opts);
    ps_unlock();
    ps_log(PS_LOG_DEBUG, "bind port %u -> %s (pid %d, %s)", (unsigned)e->port, name, e->pid,
           e->prog);
    return 0;
}

/* Unix mode binds no inet address, so the kernel's check that addr is one
 * of this host's (EADDRNOTAVAIL) is asked of a UDP socket: its bind to the
 * same address, port 0, fails exactly when TCP's would. Loopback IPv4 and
 * wildcards are always there; IP_FREEBIND and IP_TRANSPARENT allow any. */
static int unix_addr_err(int fd, const struct sockaddr *addr, socklen_t len,
                         const struct ps_addr *a)
{
    if (ps_addr_is_wildcard(a) || (a->fam == 4 && ps_addr_is_loopback(a)) ||
        sockopt_int(fd, IPPROTO_IP, IP_FREEBIND) || sockopt_int(fd, IPPROTO_IP, IP_TRANSPARENT))
        return 0;
    struct sockaddr_storage ss;
    memcpy(&ss, addr, len < sizeof ss ? len : sizeof ss);
    ps_sockaddr_set_port((struct sockaddr *)&ss, 0);
    int s = socket(addr->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    int err = real_bind(s, (struct sockaddr *)&ss, len) < 0 ? errno : 0;
    real_close(s);
    return err == EADDRNOTAVAIL ? err : 0;
}

/* The kernel's ephemeral range is exhausted (the run's own outgoing
 * connections and port-0 binds can do that): a virtual port's real one is
 * taken above the range instead, where the kernel never picks, so that no
 * real port ever makes a bind of a virtual port fail. Returns bind's
 * result; errno EADDRINUSE when nothing was free there either. */
static int bind_above_range(int fd, struct sockaddr_storage *ss, socklen_t len)
{
    unsigned lo = 32768, hi = 60999;
    char buf[64];
    int pf = open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY | O_CLOEXEC);
    if (pf >= 0) {
        ssize_t n = read(pf, buf, sizeof buf - 1);
        real_close(pf);
        if (n > 0) {
            buf[n] = 0;
            if (sscanf(buf, "%u %u", &lo, &hi) != 2 || hi > 65535 || lo > hi)
                hi = 65535;
        }
    }
    if (hi >= 65535) {
        errno = EADDRINUSE;
        return -1;
    }
    unsigned span = 65535 - hi;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned start = (unsigned)ts.tv_nsec % span;
    for (unsigned i = 0; i < span && i < 256; i++) {
        ps_sockaddr_set_port((struct sockaddr *)ss, (uint16_t)(hi + 1 + (start + i) % span));
        if (real_bind(fd, (struct sockaddr *)ss, len) == 0)
            return 0;
        if (errno != EADDRINUSE)
            return -1;
    }
    errno = EADDRINUSE;
    return -1;
}

/* What the kernel says to this bind before it looks at the port: a fresh
 * TCP socket of fd's family (and fd's IPV6_V6ONLY) binds the same address,
 * same length, port 0. So an address of the other family (EAFNOSUPPORT), a
 * length too short for the socket's family or a v4-mapped address on a
 * v6-only socket (EINVAL) fail exactly as the real bind would have. The
 * port's own answers (EADDRINUSE, EACCES) and EADDRNOTAVAIL are left to the
 * claim and to unix_addr_err. */
static int kernel_bind_err(int fd, const struct sockaddr *addr, socklen_t len)
{
    int dom = sockopt_int(fd, SOL_SOCKET, SO_DOMAIN);
    if (dom != AF_INET && dom != AF_INET6)
        return 0;
    struct sockaddr_storage ss;
    memcpy(&ss, addr, len);
    ps_sockaddr_set_port((struct sockaddr *)&ss, 0);
    int s = socket(dom, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    if (dom == AF_INET6) {
        int v6only = sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY);
        real_setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    int err = real_bind(s, (struct sockaddr *)&ss, len) < 0 ? errno : 0;
    real_close(s);
    return err == EADDRINUSE || err == EACCES || err == EADDRNOTAVAIL ? 0 : err;
}

static int bind_remap(int fd, const struct sockaddr *addr, socklen_t len, struct ps_event *e)
{
    struct ps_bindreq req = {
        .baddr = {.addr = e->addr, .v6only = e->v6only},
        .port = (uint16_t)e->port,
        .reuseaddr = e->reuseaddr,
        .reuseport = e->reuseport,
        .uid = e->uid,
    };
    char a[PS_ADDRSTRLEN];
    int aerr = kernel_bind_err(fd, addr, len);
    if (!aerr && ps_cfg()->mode == PS_MODE_UNIX)
        aerr = unix_addr_err(fd, addr, len, &e->addr);
    ps_lock();
    if (aerr)
        return refused(e, aerr);
    ps_claim_begin();
    const struct ps_entry *c;
    while ((c = ps_ns_conflict(ps_table(), &req))) {
        if (ps_entry_live(c))
            break;
        /* Its holders died without a close: retire it for everyone. */
        struct ps_event st;
        if (c->rpath[0])
            ps_unlink_socket(c->rpath);
        ps_cnt_emit(c->sid, c->cslot, c->cbase);
        ps_event_new(&st, PS_EV_STALE);
        memcpy(st.sid, c->sid, sizeof st.sid);
        ps_emit(&st);
        ps_refresh();
    }
    if (c && kernel_refuses_first(fd, e->fam == 4 ? AF_INET : AF_INET6)) {
        ps_claim_end();
        ps_unlock();
        return real_bind(fd, addr, len);
    }
    if (c) {
        snprintf(e->note, sizeof e->note, "virtual port %u is held by pid %d (%s), sid %s",
                 req.port, c->pid, c->prog, c->sid);
        ps_name_holder(e, c);
        return refused(e, EADDRINUSE);
    }
    if (ps_cfg()->mode == PS_MODE_UNIX)
        return bind_unix(fd, e);
    /* Sharing (SO_REUSEADDR/SO_REUSEPORT) happens on one real port, so the
     * kernel itself judges the rest (listen on a shared port, uid rules). */
    const struct ps_entry *sh = ps_ns_sharer(ps_table(), &req);
    uint16_t target = sh && ps_entry_alive(NULL, sh) ? sh->rport : 0;

    struct sockaddr_storage ss;
    memcpy(&ss, addr, len < sizeof ss ? len : sizeof ss);
    ps_sockaddr_set_port((struct sockaddr *)&ss, target);
    int rc = real_bind(fd, (struct sockaddr *)&ss, len);
    int err = errno;
    if (rc < 0 && err == EADDRINUSE && !target) {
        rc = bind_above_range(fd, &ss, len);
        err = errno;
    }
    uint16_t r = 0;
    if (rc == 0 && real_port(fd, &r) < 0) {
        rc = -1;
        err = EINVAL;
    }
    if (rc < 0 && err == EADDRINUSE) {
        /* The kernel's own refusal, of a real port: name its holder from
         * /proc with neither the lock nor the claim held (a walk of /proc
         * must not stall every other bind of the namespace). */
        ps_claim_end();
        ps_unlock();
        ps_name_holder(e, NULL);
        ps_lock();
        return refused(e, err);
    }
    if (rc < 0)
        return refused(e, err);
    claimed(fd, e, r);
    ps_log(PS_LOG_DEBUG, "bind %s:%u -> real port %u (pid %d, %s)",
           ps_addr_format(&e->addr, a), req.port, r, e->pid, e->prog);
    return 0;
}

static int shim_bind(int fd, const struct sockaddr *uaddr, socklen_t len)
{
    /* The program's sockaddr is read once, EFAULT-safely; an address it
     * cannot read, none at all, or a length over the kernel's limit is the
     * kernel's to refuse (EFAULT, EINVAL), with nothing bound. */
    struct sockaddr_storage copy;
    if (!uaddr || len > sizeof copy || ps_uread(&copy, uaddr, len) < 0)
        return real_bind(fd, uaddr, len);
    const struct sockaddr *addr = (const struct sockaddr *)&copy;
    struct ps_addr a;
    uint16_t port;
    /* Not an inet address, or not a TCP socket (a bad fd, UDP): the kernel
     * answers, errno and all. A family mismatch or an already bound socket
     * fails in the real bind, or in kernel_refuses_first on a conflict. */
    if (ps_addr_from_sockaddr(addr, len, &a, &port) < 0 || !ps_is_tcp(fd))
        return real_bind(fd, addr, len);
    int domain = addr->sa_family;

    const struct ps_config *cfg = ps_cfg();
    struct ps_event e;
    ps_event_new(&e, PS_EV_BIND);
    describe_bind(&e, fd, &a, port, domain == AF_INET ? 4 : 6);
    if (cfg->inject.any && ps_inj_bind(&e))
        return -1;

    if (cfg->mode == PS_MODE_OBSERVE) {
        strcpy(e.mode, "observe");
        return bind_recorded(fd, addr, len, &e);
    }
    if (port != 0 && cfg->ports.n && !ps_portspec_contains(&cfg->ports, port)) {
        strcpy(e.mode, "pass");
        return bind_recorded(fd, addr, len, &e);
    }
    strcpy(e.mode, ps_mode_name(cfg->mode));
    if (port == 0 && cfg->mode != PS_MODE_UNIX)
        return bind_any(fd, addr, len, &e);
    return bind_remap(fd, addr, len, &e);
}

PS_EXPORT int bind(int fd, const struct sockaddr *addr,
                                                socklen_t len)
{
    if (!ps_enter())
        return real_bind(fd, addr, len);
    int rc = shim_bind(fd, addr, len);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}
