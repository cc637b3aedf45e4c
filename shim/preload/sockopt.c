/* sockopt.c — getsockopt() and setsockopt(): in unix mode an AF_UNIX socket
 * standing in for a TCP one answers as the TCP socket would.
 *
 * SO_DOMAIN, SO_PROTOCOL and SO_TYPE give the inet family, IPPROTO_TCP and
 * SOCK_STREAM; int options at IPPROTO_TCP, IPPROTO_IP and IPPROTO_IPV6 (and
 * SO_REUSEPORT, which AF_UNIX may refuse) are stored per socket and read
 * back, with Linux's defaults for those never set. Every other option, and
 * every other socket, goes to the kernel: the check is one lock-free table
 * read. A socket inherited over exec is unknown here: when the kernel
 * refuses it an option of those levels, its name tells whether it is one of
 * the namespace's, and it is taken on as swapped. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "core/kernel.h"
#include "preload/real.h"
#include "preload/state.h"
#include "preload/umem.h"
#include "preload/unix.h"


static bool emulated_level(int level)
{
    return level == IPPROTO_TCP || level == IPPROTO_IP || level == IPPROTO_IPV6;
}

/* As the kernel answers an int option: the length is read, then written
 * back, then the value (each copy EFAULT-safe, in the kernel's order). */
static int answer(int v, void *val, socklen_t *len)
{
    socklen_t want;
    if (ps_uread(&want, len, sizeof want) < 0)
        return -1;
    if ((int)want < 0) {
        errno = EINVAL;
        return -1;
    }
    socklen_t n = want < sizeof v ? want : sizeof v;
    return ps_uwrite(len, &n, sizeof n, val, &v, n);
}

/* 1 answered, 0 for the kernel. Under the lock. */
static int get_emulated(int fd, const struct ps_fdinfo *fi, int level, int name, int *v)
{
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_DOMAIN: *v = fi->ufam; return 1;
        case SO_PROTOCOL: *v = IPPROTO_TCP; return 1;
        case SO_TYPE: *v = SOCK_STREAM; return 1;
        case SO_REUSEPORT: break;
        default: return 0;
        }
    } else if (!emulated_level(level)) {
        return 0;
    }
    if (ps_opts_get(fi->opts, level, name, v))
        return 1;
    return ps_tcp_default(level, name, v) ? 1 : 0;
}

/* A socket this process never saw (inherited over exec) that the kernel
 * calls AF_UNIX: is it one of the namespace's, standing in for TCP? Its name
 * says so, and of which family. */
static int inherited(int fd, int level, int name, void *val, socklen_t *len, int rc)
{
    int v = 0;
    if (rc < 0 || level != SOL_SOCKET || *len != sizeof v ||
        (name != SO_DOMAIN && name != SO_PROTOCOL))
        return rc;
    memcpy(&v, val, sizeof v);
    if ((name == SO_DOMAIN && v != AF_UNIX) || (name == SO_PROTOCOL && v != 0) || !ps_enter())
        return rc;
    struct ps_uname u;
    if (ps_cfg()->mode == PS_MODE_UNIX && ps_unix_uname(fd, false, &u) == 0) {
        v = name == SO_PROTOCOL ? IPPROTO_TCP : u.addr.fam;
        memcpy(val, &v, sizeof v);
    }
    ps_leave();
    return rc;
}

/* The kernel refused (errno err) an option on fd, a descriptor the shim
 * does not know: if the option is one AF_UNIX has no place for and fd is an
 * AF_UNIX socket of the namespace standing in for TCP (inherited over exec),
 * fd is taken on as swapped, with no options set yet. True when fd is now
 * swapped. Any other refusal costs nothing more. */
static bool adopt(int fd, int level, int name, int err)
{
    if ((err != EOPNOTSUPP && err != ENOPROTOOPT) ||
        !(emulated_level(level) || (level == SOL_SOCKET && name == SO_REUSEPORT)) ||
        !ps_enter())
        return false;
    struct ps_uname u;
    bool ok = false;
    if (ps_cfg()->mode == PS_MODE_UNIX && ps_unix_uname(fd, false, &u) == 0) {
        ps_lock();
        if (ps_fd_kind(fd) == PS_FD_NONE && ps_fd_set(fd, PS_FD_ACCEPTED, 0, 0, NULL) == 0)
            ps_fd_set_unix(fd, u.addr.fam, NULL);
        ok = ps_fd_get(fd).ufam != 0;
        ps_unlock();
    }
    ps_leave();
    return ok;
}

PS_EXPORT int getsockopt(int fd, int level, int name, void *val,
                                                      socklen_t *len)
{
    bool unknown = ps_fd_kind(fd) == PS_FD_NONE;
    if (unknown && val && len && level == SOL_SOCKET &&
        (name == SO_DOMAIN || name == SO_PROTOCOL)) {
        int err = errno;
        int rc = inherited(fd, level, name, val, len, real_getsockopt(fd, level, name, val, len));
        if (rc == 0)
            errno = err;
        return rc;
    }
    if (unknown) {
        int rc = real_getsockopt(fd, level, name, val, len);
        if (rc == 0 || !val || !len)
            return rc;
        int err = errno;
        if (!adopt(fd, level, name, err)) {
            errno = err;
            return rc;
        }
    }
    /* Known to the shim but not swapped (remap mode's sockets): no lock. */
    if (!ps_fd_get(fd).ufam || !ps_enter())
        return real_getsockopt(fd, level, name, val, len);
    int v = 0, rc;
    /* A connect left pending on a full backlog completes here (connect.c). */
    int got = level == SOL_SOCKET && name == SO_ERROR && ps_unix_pending_take(fd, &v);
    if (!got) {
        ps_lock();
        struct ps_fdinfo fi = ps_fd_get(fd);
        got = fi.ufam ? get_emulated(fd, &fi, level, name, &v) : 0;
        ps_unlock();
    }
    rc = got ? answer(v, val, len) : real_getsockopt(fd, level, name, val, len);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}

PS_EXPORT int setsockopt(int fd, int level, int name,
                                                      const void *val, socklen_t len)
{
    if (ps_fd_kind(fd) == PS_FD_NONE) {
        int rc = real_setsockopt(fd, level, name, val, len);
        if (rc == 0)
            return rc;
        int err = errno;
        if (!adopt(fd, level, name, err)) {
            errno = err;
            return rc;
        }
    }
    if (!ps_fd_get(fd).ufam || !ps_enter())
        return real_setsockopt(fd, level, name, val, len);
    struct ps_fdinfo fi = ps_fd_get(fd);
    bool reuseport = level == SOL_SOCKET && name == SO_REUSEPORT;
    if (!fi.ufam || !(emulated_level(level) || reuseport)) {
        ps_leave();
        return real_setsockopt(fd, level, name, val, len);
    }
    int rc = 0, err = 0;
    int v;
    if (len < sizeof(int) || ps_uread(&v, val, sizeof v) < 0) {
        rc = -1;
        err = len < sizeof(int) ? EINVAL : EFAULT;   /* the kernel's order */
    } else {
        ps_lock();
        struct ps_opts *o = ps_fd_opts(fd);
        if (!o || !ps_opts_set(o, level, name, v)) {
            rc = -1;
            err = ENOMEM;
        }
        ps_unlock();
        if (reuseport)
            real_setsockopt(fd, level, name, val, len);   /* AF_UNIX may refuse it */
    }
    ps_leave();
    if (rc < 0)
        errno = err;
    return rc;
}
