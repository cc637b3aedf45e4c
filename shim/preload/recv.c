/* recv.c — recvfrom(), recvmsg(), recvmmsg(): a datagram's source, as the
 * receiver sees it, is the sender's virtual port, so that a reply sent to
 * it finds the sender again (send.c routes it).
 *
 * The kernel writes a source address after it has taken the datagram; so
 * does the shim: the real call fills the shim's own storage, the port is
 * translated, and the name is copied out as the kernel's move_addr_to_user
 * does (the program's length read then, truncated to it, the full length
 * written back; a bad pointer is EFAULT with the datagram consumed, as
 * without the shim). MSG_PEEK, MSG_DONTWAIT, MSG_TRUNC and MSG_ERRQUEUE
 * (whose name is the destination of the failed datagram) go to the kernel
 * as given. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/sockaddr.h"
#include "engine/engine.h"
#include "preload/counts.h"
#include "preload/dgram.h"
#include "preload/real.h"
#include "preload/state.h"
#include "preload/umem.h"

#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024
#endif

/* The generation this process's table was last brought up to (the
 * table's copy in a forked child is as new as its parent's). */
static uint64_t g_gen;
static bool g_have_gen;

void ps_dgram_refresh(void)
{
    uint64_t gen;
    bool have = ps_cnt_gen(&gen);
    if (have && g_have_gen && gen == g_gen)
        return;
    /* Read before the manifest: a change appended after this read bumps
     * the generation again, so it is read next time. */
    ps_refresh();
    g_gen = gen;
    g_have_gen = have;
}

/* Where this process's routed datagrams went, by real port (a small
 * direct-mapped memory; a slot taken over forgets an older route). */
#define ROUTED_MAX 64
static struct {
    struct ps_addr a;
    uint16_t rport, vport;
} g_routed[ROUTED_MAX];

void ps_dgram_routed(const struct ps_addr *a, uint16_t rport, uint16_t vport)
{
    unsigned i = rport % ROUTED_MAX;
    g_routed[i].a = *a;
    g_routed[i].rport = rport;
    g_routed[i].vport = vport;
}

static uint16_t routed_to(const struct ps_addr *a, uint16_t rport)
{
    unsigned i = rport % ROUTED_MAX;
    if (!g_routed[i].vport || g_routed[i].rport != rport)
        return 0;
    /* The reply's source is the address sent to, or, for a wildcard
     * destination, whichever local address the receiver answered from. */
    const struct ps_addr *d = &g_routed[i].a;
    return ps_addr_equal(d, a) || (ps_addr_is_wildcard(d) && ps_addr_is_v4(d) == ps_addr_is_v4(a))
               ? g_routed[i].vport
               : 0;
}

void ps_dgram_source(int fd, struct sockaddr *sa, socklen_t len)
{
    struct ps_addr a;
    uint16_t port;
    if (ps_addr_from_sockaddr(sa, len, &a, &port) < 0 || port == 0)
        return;
    struct ps_fdinfo fi = ps_fd_get(fd);
    if (fi.pvport && port == fi.prport) {
        /* The peer this socket was connected to (connect.c). */
        ps_sockaddr_set_port(sa, fi.pvport);
        return;
    }
    ps_lock();
    ps_dgram_refresh();
    const struct ps_entry *e = ps_ns_by_real_proto(ps_table(), PS_PROTO_UDP, &a, port, false);
    uint16_t v = e ? e->vport : routed_to(&a, port);
    ps_unlock();
    if (v && v != port)
        ps_sockaddr_set_port(sa, v);
}

int ps_dgram_name_out(const struct sockaddr_storage *k, socklen_t klen, void *uaddr,
                      socklen_t *ulen)
{
    int want;
    if (ps_uread(&want, ulen, sizeof want) < 0)
        return -1;
    int n = want > (int)klen ? (int)klen : want;
    if (n < 0) {
        errno = EINVAL;
        return -1;
    }
    return ps_uwrite(uaddr, k, (size_t)n, ulen, &klen, sizeof klen);
}

/* Nothing is translated in observe mode. */
static bool translating(void) { return ps_cfg()->mode != PS_MODE_OBSERVE; }

static ssize_t shim_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                             socklen_t *len)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    ssize_t rc = real_recvfrom(fd, buf, n, flags, (struct sockaddr *)&ss, &l);
    if (rc < 0)
        return rc;
    if (l > sizeof ss)
        l = sizeof ss;
    ps_dgram_source(fd, (struct sockaddr *)&ss, l);
    if (ps_dgram_name_out(&ss, l, addr, len) < 0)
        return -1;
    return rc;
}

PS_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                           socklen_t *len)
{
    if (!addr || !ps_dgram_fd(fd) || !ps_enter())
        return real_recvfrom(fd, buf, n, flags, addr, len);
    ssize_t rc = translating() ? shim_recvfrom(fd, buf, n, flags, addr, len)
                               : real_recvfrom(fd, buf, n, flags, addr, len);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}

/* After the kernel filled k (the shim's copy of the program's msghdr um,
 * with the shim's name storage ss): the name translated and copied out, then
 * msg_flags and msg_controllen, in the kernel's order. */
static int msg_out(int fd, struct msghdr *um, const struct msghdr *k,
                   struct sockaddr_storage *ss)
{
    socklen_t l = k->msg_namelen > sizeof *ss ? sizeof *ss : k->msg_namelen;
    ps_dgram_source(fd, (struct sockaddr *)ss, l);
    const struct msghdr *m = um;
    void *uname;
    if (ps_uread(&uname, &m->msg_name, sizeof uname) < 0)
        return -1;
    if (ps_dgram_name_out(ss, l, uname, &um->msg_namelen) < 0)
        return -1;
    if (ps_uwrite(&um->msg_flags, &k->msg_flags, sizeof k->msg_flags, NULL, NULL, 0) < 0 ||
        ps_uwrite(&um->msg_controllen, &k->msg_controllen, sizeof k->msg_controllen, NULL,
                  NULL, 0) < 0)
        return -1;
    return 0;
}

static ssize_t shim_recvmsg(int fd, struct msghdr *umsg, int flags)
{
    struct msghdr m;
    /* An unreadable msghdr, no name wanted, or a negative name length
     * (EINVAL before anything is taken): the kernel's. */
    if (!umsg || ps_uread(&m, umsg, sizeof m) < 0 || !m.msg_name || (int)m.msg_namelen < 0)
        return real_recvmsg(fd, umsg, flags);
    struct sockaddr_storage ss;
    m.msg_name = &ss;
    m.msg_namelen = sizeof ss;
    ssize_t rc = real_recvmsg(fd, &m, flags);
    if (rc < 0)
        return rc;
    if (msg_out(fd, umsg, &m, &ss) < 0)
        return -1;
    return rc;
}

PS_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (!ps_dgram_fd(fd) || !ps_enter())
        return real_recvmsg(fd, msg, flags);
    ssize_t rc = translating() ? shim_recvmsg(fd, msg, flags) : real_recvmsg(fd, msg, flags);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}

/* recvmmsg: the vector is read whole into the shim's memory (an unreadable
 * one is the kernel's to refuse), every wanted name pointed at the shim's
 * storage, and after the real call each received entry's name, flags,
 * control length and msg_len written back. A program's buffer that cannot
 * be written at entry i ends the count there (EFAULT when i is 0). */
static int shim_recvmmsg(int fd, struct mmsghdr *uvec, unsigned vlen, ps_mmsg_flags flags,
                         struct timespec *timeout)
{
    if (vlen > UIO_MAXIOV)
        vlen = UIO_MAXIOV;
    if (vlen == 0 || !uvec)
        return real_recvmmsg(fd, uvec, vlen, flags, timeout);
    struct mmsghdr *v = malloc(vlen * sizeof *v);
    struct sockaddr_storage *ss = malloc(vlen * sizeof *ss);
    if (!v || !ss || ps_uread(v, uvec, vlen * sizeof *v) < 0) {
        free(v);
        free(ss);
        return real_recvmmsg(fd, uvec, vlen, flags, timeout);
    }
    /* No name wanted anywhere, or a negative name length (EINVAL at that
     * entry): the kernel's, untouched. */
    bool names = false, bad = false;
    for (unsigned i = 0; i < vlen; i++) {
        if (v[i].msg_hdr.msg_name) {
            names = true;
            bad |= (int)v[i].msg_hdr.msg_namelen < 0;
        }
    }
    if (!names || bad) {
        free(v);
        free(ss);
        return real_recvmmsg(fd, uvec, vlen, flags, timeout);
    }
    for (unsigned i = 0; i < vlen; i++) {
        struct msghdr *m = &v[i].msg_hdr;
        if (m->msg_name) {
            m->msg_name = &ss[i];
            m->msg_namelen = sizeof ss[i];
        }
    }
    int rc = real_recvmmsg(fd, v, vlen, flags, timeout);
    int err = errno;
    int done = rc;
    for (int i = 0; i < rc; i++) {
        struct mmsghdr *u = &uvec[i];
        if ((v[i].msg_hdr.msg_name && msg_out(fd, &u->msg_hdr, &v[i].msg_hdr, &ss[i]) < 0) ||
            (!v[i].msg_hdr.msg_name &&
             (ps_uwrite(&u->msg_hdr.msg_flags, &v[i].msg_hdr.msg_flags, sizeof(int), NULL, NULL,
                        0) < 0 ||
              ps_uwrite(&u->msg_hdr.msg_controllen, &v[i].msg_hdr.msg_controllen,
                        sizeof v[i].msg_hdr.msg_controllen, NULL, NULL, 0) < 0)) ||
            ps_uwrite(&u->msg_len, &v[i].msg_len, sizeof v[i].msg_len, NULL, NULL, 0) < 0) {
            err = errno;
            done = i;
            break;
        }
    }
    free(v);
    free(ss);
    if (rc > 0 && done == 0) {
        errno = err;
        return -1;
    }
    errno = err;
    return done;
}

PS_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen, ps_mmsg_flags flags,
                       struct timespec *timeout)
{
    if (!ps_dgram_fd(fd) || !ps_enter())
        return real_recvmmsg(fd, vec, vlen, flags, timeout);
    int rc = translating() ? shim_recvmmsg(fd, vec, vlen, flags, timeout)
                           : real_recvmmsg(fd, vec, vlen, flags, timeout);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}
