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
#include "engine/engine.h"
#include "preload/counts.h"
#include "preload/faults.h"
#include "preload/real.h"
#include "preload/state.h"
#include "preload/umem.h"
#include "preload/unix.h"

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
    if (fam == AF_INET6)
        e->v6only = sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    e->has_addr = true;
    e->addr = *a;
    e->port = port;
    e->reuseaddr = sockopt_int(fd, SOL_SOCKET, SO_REUSEADDR);
    e->reuseport = sockopt_int(fd, SOL_SOCKET, SO_REUSEPORT);
    e->uid = ps_engine_uid(ps_proc());
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
    /* Observed sockets get an id too, so their close can be recorded. */
    ps_lock();
    ps_record_locked(fd, e, rc == 0 && ps_cfg()->mode == PS_MODE_OBSERVE);
    if (rc == 0 && e->proto == PS_PROTO_UDP)
        ps_fd_set_udp(fd);
    ps_unlock();
    errno = err;
    return rc;
}

/* Under the lock (and the claim, if taken): a failed bind's record. */
static void record_refused(int fd, struct ps_event *e, int err)
{
    e->ok = false;
    e->err = err;
    ps_record_locked(fd, e, false);
}

/* The socket's inode: readers check that a holder still has it open
 * before they believe a live pid holds the port (ps_entry_still_held). */
static void note_inode(int fd, struct ps_event *e)
{
    struct stat st;
    if (fstat(fd, &st) == 0)
        e->ino = (unsigned long long)st.st_ino;
}

/* Under the lock and the claim: fd is bound where e says (real port or
 * socket file); record it as e's virtual port and make fd ours. */
static void record_claimed(int fd, struct ps_event *e)
{
    note_inode(fd, e);
    /* Connect counters count a listener's connects; UDP has none. */
    if (e->proto == PS_PROTO_TCP)
        ps_cnt_claim(ps_table(), &e->cslot, &e->cbase);
    ps_record_locked(fd, e, true);
    /* Its datagrams' addresses are translated (dgram.h), whoever made it. */
    if (e->proto == PS_PROTO_UDP)
        ps_fd_set_udp(fd);
}

/* Port 0 in remap mode: the kernel's choice is the name, unless the
 * namespace already uses that number virtually (ps_engine_bind_any). */
static int bind_any(int fd, const struct sockaddr *addr, socklen_t len, struct ps_event *e)
{
    int rc = real_bind(fd, addr, len);
    int err = errno;
    uint16_t r = 0;
    if (rc == 0 && (real_port(fd, &r) < 0 || !r)) {
        rc = -1;
        err = EINVAL;
    }
    ps_lock();
    if (rc == 0) {
        ps_claim_begin();
        e->chosen = true;
        if ((e->port = ps_engine_bind_any(ps_session(), r))) {
            e->has_raddr = true;
            e->raddr = e->addr;
            e->rport = r;
            record_claimed(fd, e);
        } else {
            rc = -1;
            err = EADDRINUSE;
        }
    }
    if (rc < 0)
        record_refused(fd, e, err);
    ps_claim_end();
    ps_unlock();
    if (rc < 0)
        errno = err;
    return rc;
}

/* PS_PLAN_UNIX_PATH, under the lock and the claim: fd becomes an AF_UNIX
 * socket bound to the socket file name. -1 with *err on failure. */
static int act_unix(int fd, struct ps_event *e, const char *name, int *err)
{
    size_t nlen = strlen(name);
    struct ps_opts *opts;
    if (ps_unix_swap(fd, e->fam, &opts) < 0) {
        *err = errno;
        return -1;
    }
    /* A file left by a holder that died without closing. */
    ps_unlink_socket(name);
    struct sockaddr_un su;
    socklen_t sl = ps_unix_sockaddr(name, nlen, &su);
    if (real_bind(fd, (struct sockaddr *)&su, sl) < 0) {
        *err = errno;
        ps_unix_unswap(fd, e->fam, opts);
        ps_opts_unref(opts);
        ps_log(PS_LOG_WARN, "bind %s in pid %d (%s): %s", name, e->pid, e->prog, strerror(*err));
        return -1;
    }
    /* A namespace shared with another user (run --share-with): the private
     * directory decides who may reach the socket, so its own mode must not
     * stop the other user's connects (umask made it 0755 for a root run). */
    if (ps_cfg()->share_uid >= 0 || ps_cfg()->share_gid >= 0)
        chmod(name, 0666);
    memcpy(e->rpath, name, nlen + 1);
    record_claimed(fd, e);
    struct ps_fdinfo fi = ps_fd_get(fd);
    if (fi.sock)
        memcpy(fi.sock->upath, name, nlen + 1);
    ps_fd_set_unix(fd, e->fam, opts);
    return 0;
}

/* Unix mode binds no inet address, so the kernel's check that addr is one
 * of this host's (EADDRNOTAVAIL) is asked of a UDP socket: its bind to the
 * same address, port 0, fails exactly when TCP's would. Loopback IPv4 and
 * wildcards are always there; IP_FREEBIND and IP_TRANSPARENT allow any. */
static int unix_addr_err(int fd, const struct sockaddr *addr, socklen_t len,
                         const struct ps_addr *a)
{
    if (ps_addr_is_wildcard(a) || (a->fam == AF_INET && ps_addr_is_loopback(a)) ||
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

/* The common bind, which the kernel certainly takes up to the port: an
 * address of the socket's own family, long enough for it, and for IPv6
 * neither v4-mapped (IPV6_V6ONLY decides) nor link-local (the scope id
 * decides). Everything else is asked of the kernel (kernel_bind_err): a
 * probe socket costs as much as the program's whole bind. */
static bool kernel_takes(int dom, const struct sockaddr *addr, socklen_t len)
{
    if (addr->sa_family != dom)
        return false;
    if (dom == AF_INET)
        return len >= sizeof(struct sockaddr_in);
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
    return len >= sizeof(struct sockaddr_in6) && !IN6_IS_ADDR_V4MAPPED(a6) &&
           !IN6_IS_ADDR_LINKLOCAL(a6) && !IN6_IS_ADDR_MC_LINKLOCAL(a6);
}

/* What the kernel says to this bind before it looks at the port: a fresh
 * TCP socket of fd's family (and fd's IPV6_V6ONLY) binds the same address,
 * same length, port 0. So an address of the other family (EAFNOSUPPORT), a
 * length too short for the socket's family or a v4-mapped address on a
 * v6-only socket (EINVAL) fail exactly as the real bind would have. The
 * port's own answers (EADDRINUSE, EACCES) and EADDRNOTAVAIL are left to the
 * claim and to unix_addr_err. */
static int kernel_bind_err(int fd, const struct sockaddr *addr, socklen_t len, int proto)
{
    int dom = sockopt_int(fd, SOL_SOCKET, SO_DOMAIN);
    if (dom != AF_INET && dom != AF_INET6)
        return 0;
    if (kernel_takes(dom, addr, len))
        return 0;
    struct sockaddr_storage ss;
    memcpy(&ss, addr, len);
    ps_sockaddr_set_port((struct sockaddr *)&ss, 0);
    int s = real_socket(dom, (proto == PS_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
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

/* PS_PLAN_REAL_PORT, under the lock and the claim: fd binds addr's
 * address, real port target (0: any the kernel picks). -1 with *err. */
static int act_real_port(int fd, const struct sockaddr *addr, socklen_t len,
                         struct ps_event *e, uint16_t target, int *err)
{
    struct sockaddr_storage ss;
    memcpy(&ss, addr, len < sizeof ss ? len : sizeof ss);
    ps_sockaddr_set_port((struct sockaddr *)&ss, target);
    int rc = real_bind(fd, (struct sockaddr *)&ss, len);
    *err = errno;
    if (rc < 0 && *err == EADDRINUSE && !target) {
        rc = bind_above_range(fd, &ss, len);
        *err = errno;
    }
    uint16_t r = 0;
    if (rc == 0 && real_port(fd, &r) < 0) {
        rc = -1;
        *err = EINVAL;
    }
    if (rc < 0)
        return -1;
    e->has_raddr = true;
    e->raddr = e->addr;
    e->rport = r;
    record_claimed(fd, e);
    return 0;
}

/* A bind of a virtual port: one lock scope, with the claim (the manifest's
 * flock) inside it, from the engine's decision to the record of the
 * outcome; one exit (out:). What is done outside it: the kernel's own
 * answer (PS_PLAN_KERNEL), and naming the holder of a real port the kernel
 * refused, a walk of /proc that must not stall every other bind of the
 * namespace. */
static int bind_claim(int fd, const struct sockaddr *addr, socklen_t len, struct ps_event *e)
{
    struct ps_bindreq req = {
        .proto = e->proto,
        .baddr = {.addr = e->addr, .v6only = e->v6only},
        .port = (uint16_t)e->port,
        .reuseaddr = e->reuseaddr,
        .reuseport = e->reuseport,
        .uid = e->uid,
    };
    bool unix_mode = ps_engine_swaps(ps_cfg(), e->proto);
    int err = kernel_bind_err(fd, addr, len, e->proto);
    if (!err && unix_mode)
        err = unix_addr_err(fd, addr, len, &e->addr);
    int rc = -1;
    bool kernel = false, name_real = false;
    struct ps_bind_plan p;
    ps_lock();
    if (err)
        goto out;
    ps_claim_begin();
    ps_engine_bind_decide(ps_session(), fd, e->fam, &req, &p);
    e->port = p.vport;
    e->chosen = p.chosen;
    switch (p.plan) {
    case PS_PLAN_KERNEL:
        kernel = true;
        break;
    case PS_PLAN_REFUSE:
        err = p.err;
        if (p.holder) {
            snprintf(e->note, sizeof e->note, "virtual port %u is held by pid %d (%s), sid %s",
                     req.port, p.holder->pid, p.holder->prog, p.holder->sid);
            ps_name_holder(e, p.holder);
        }
        break;
    case PS_PLAN_UNIX_PATH:
        rc = act_unix(fd, e, p.path, &err);
        break;
    case PS_PLAN_REAL_PORT:
        rc = act_real_port(fd, addr, len, e, p.rport, &err);
        /* The kernel's own refusal, of a real port: its holder is named
         * from /proc below, with neither the lock nor the claim held. */
        name_real = rc < 0 && err == EADDRINUSE;
        break;
    }
out:
    if (rc < 0 && !kernel && !name_real)
        record_refused(fd, e, err);
    ps_claim_end();
    ps_unlock();
    if (kernel)
        return real_bind(fd, addr, len);
    if (name_real) {
        ps_name_holder(e, NULL);
        ps_lock();
        record_refused(fd, e, err);
        ps_unlock();
    }
    if (rc == 0 && unix_mode) {
        ps_log(PS_LOG_DEBUG, "bind port %u -> %s (pid %d, %s)", (unsigned)e->port, e->rpath,
               e->pid, e->prog);
    } else if (rc == 0) {
        char a[PS_ADDRSTRLEN];
        ps_log(PS_LOG_DEBUG, "bind %s:%u -> real port %u (pid %d, %s)",
               ps_addr_format(&e->addr, a), req.port, (unsigned)e->rport, e->pid, e->prog);
    }
    if (rc < 0)
        errno = err;
    return rc;
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
    /* Not an inet address, or not a TCP or UDP socket (a bad fd, raw): the
     * kernel answers, errno and all. A family mismatch or an already bound socket
     * fails in the real bind, or in the engine's refuses_first on a conflict. */
    int proto;
    if (ps_addr_from_sockaddr(addr, len, &a, &port) < 0 ||
        !ps_engine_serves(proto = ps_sock_proto(fd)))
        return real_bind(fd, addr, len);
    int domain = addr->sa_family;

    struct ps_event e;
    ps_event_new(&e, PS_EV_BIND);
    describe_bind(&e, fd, &a, port, domain);
    e.proto = (enum ps_proto)proto;
    if (ps_cfg()->inject.any && ps_inj_bind(&e))
        return -1;
    const char *mode;
    enum ps_bind_kind k = ps_engine_bind_kind_of(ps_cfg(), e.proto, port, &mode);
    strcpy(e.mode, mode);
    switch (k) {
    case PS_BIND_RECORD:
        return bind_recorded(fd, addr, len, &e);
    case PS_BIND_ANY:
        return bind_any(fd, addr, len, &e);
    case PS_BIND_CLAIM:
        break;
    }
    return bind_claim(fd, addr, len, &e);
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
