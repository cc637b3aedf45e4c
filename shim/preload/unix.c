/* unix.c — unix mode's socket swap and name translation.
 *
 * Names are stateless: everything a program would see of an inet name is
 * in the AF_UNIX names themselves (core/unixname.h), so a socket inherited
 * over exec, with no record in this process, still answers correctly. */
#include "preload/unix.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "preload/real.h"
#include "preload/state.h"

/* SOL_SOCKET options that mean the same on AF_UNIX: carried over as bytes. */
static const int carried[] = {SO_RCVTIMEO, SO_SNDTIMEO, SO_LINGER, SO_KEEPALIVE, SO_REUSEADDR};

/* Options AF_UNIX has no place for: read from the TCP socket, emulated. */
static const struct { int level, name; } kept[] = {
    {IPPROTO_TCP, TCP_NODELAY},    {IPPROTO_TCP, TCP_KEEPIDLE}, {IPPROTO_TCP, TCP_KEEPINTVL},
    {IPPROTO_TCP, TCP_KEEPCNT},    {IPPROTO_TCP, TCP_USER_TIMEOUT}, {IPPROTO_TCP, TCP_SYNCNT},
    {IPPROTO_IPV6, IPV6_V6ONLY},   {SOL_SOCKET, SO_REUSEPORT},
};

static void carry(int from, int to)
{
    for (size_t i = 0; i < sizeof carried / sizeof carried[0]; i++) {
        char buf[32];
        socklen_t l = sizeof buf;
        if (real_getsockopt(from, SOL_SOCKET, carried[i], buf, &l) == 0)
            real_setsockopt(to, SOL_SOCKET, carried[i], buf, l);
    }
}

/* s takes fd's number with fd's descriptor flags. */
static int take_number(int s, int fd, int fdfl)
{
    int rc = real_dup3(s, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
    int err = errno;
    real_close(s);
    errno = err;
    return rc < 0 ? -1 : 0;
}

/* The swap needs a descriptor of its own for a moment: out of descriptors
 * (EMFILE, ENFILE), or a fd number above a lowered RLIMIT_NOFILE (dup3's
 * EBADF), is no answer bind or connect gives on a good socket. */
static int swap_errno(int err)
{
    return err == ENOMEM || err == ENOBUFS ? err : ENOBUFS;
}

int ps_unix_swap(int fd, int fam, struct ps_opts **opts)
{
    return ps_unix_swap_nb(fd, fam, opts, NULL);
}

int ps_unix_swap_nb(int fd, int fam, struct ps_opts **opts, int *flp)
{
    *opts = NULL;
    int fl = real_fcntl(fd, F_GETFL, NULL), fdfl = real_fcntl(fd, F_GETFD, NULL);
    if (fl < 0 || fdfl < 0)
        return -1;
    if (flp)
        *flp = fl;
    int nb = (fl & O_NONBLOCK) || flp ? SOCK_NONBLOCK : 0;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | nb, 0);
    if (s < 0) {
        errno = swap_errno(errno);
        return -1;
    }
    carry(fd, s);
    struct ps_opts *o = ps_opts_new();
    for (size_t i = 0; o && i < sizeof kept / sizeof kept[0]; i++) {
        int v = 0;
        socklen_t l = sizeof v;
        if ((kept[i].level != IPPROTO_IPV6 || fam == AF_INET6) &&
            real_getsockopt(fd, kept[i].level, kept[i].name, &v, &l) == 0)
            ps_opts_set(o, kept[i].level, kept[i].name, v);
    }
    if (take_number(s, fd, fdfl) < 0) {
        int err = swap_errno(errno);
        ps_opts_unref(o);
        errno = err;
        return -1;
    }
    *opts = o;
    return 0;
}

int ps_unix_unswap(int fd, int fam, const struct ps_opts *opts)
{
    int fl = real_fcntl(fd, F_GETFL, NULL), fdfl = real_fcntl(fd, F_GETFD, NULL);
    if (fl < 0 || fdfl < 0)
        return -1;
    int s = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | ((fl & O_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);
    if (s < 0)
        return -1;
    carry(fd, s);
    for (int i = 0; opts && i < opts->n; i++)
        real_setsockopt(s, opts->v[i].level, opts->v[i].name, &opts->v[i].val, sizeof(int));
    return take_number(s, fd, fdfl);
}

socklen_t ps_unix_sockaddr(const char *name, size_t len, struct sockaddr_un *su)
{
    memset(su, 0, sizeof *su);
    su->sun_family = AF_UNIX;
    memcpy(su->sun_path, name, len);
    /* A path's length includes its NUL; an abstract name's is exact. */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] ? 1 : 0));
}

static int parse_sa(const struct sockaddr_storage *k, socklen_t kl, struct ps_uname *u)
{
    const struct sockaddr_un *su = (const struct sockaddr_un *)k;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (k->ss_family != AF_UNIX)
        return -1;
    if (kl <= off)
        return 1;   /* unnamed */
    return ps_uname_parse(su->sun_path, kl - off, ps_cfg()->dir, u);
}

int ps_unix_uname(int fd, bool peer, struct ps_uname *u)
{
    struct sockaddr_storage k;
    socklen_t kl = sizeof k;
    int rc = peer ? real_getpeername(fd, (struct sockaddr *)&k, &kl)
                  : real_getsockname(fd, (struct sockaddr *)&k, &kl);
    if (rc < 0)
        return -1;
    rc = parse_sa(&k, kl, u);
    return peer || rc == 0 ? rc : -1;
}

static void put(const struct ps_addr *a, uint16_t port, struct sockaddr_storage *out,
                socklen_t *outl)
{
    *outl = ps_addr_to_sockaddr(a, port, out);
}

/* The peer as a socket whose own name is self sees it. */
static void peer_seen_by(const struct ps_uname *self, int prc, const struct ps_uname *p,
                         struct sockaddr_storage *out, socklen_t *outl)
{
    int fam = self->addr.fam;
    if (prc != 0) {   /* an unshimmed client: unnamed */
        struct ps_addr lo = ps_addr_loopback(fam);
        put(&lo, 0, out, outl);
        return;
    }
    struct ps_addr a = ps_addr_as_family(&p->addr, fam);
    /* A client's peer is a listener, perhaps a wildcard one: the address
     * it dialled is in its own name. */
    if (ps_addr_is_wildcard(&p->addr))
        a = ps_addr_is_wildcard(&self->addr) ? ps_addr_loopback(fam) : self->addr;
    put(&a, p->port, out, outl);
}

bool ps_unix_inet_name(int fd, bool peer, const struct sockaddr_storage *k, socklen_t kl,
                       struct sockaddr_storage *out, socklen_t *outl)
{
    struct ps_uname self, p;
    if (!peer) {
        if (parse_sa(k, kl, &self) != 0)
            return false;
        struct ps_addr a = self.addr;
        /* A wildcard name on a connected socket (accepted from a wildcard
         * listener): the address it was reached on, which for loopback
         * traffic is the client's own. */
        if (ps_addr_is_wildcard(&a)) {
            int prc = ps_unix_uname(fd, true, &p);
            if (prc == 0 && !ps_addr_is_wildcard(&p.addr))
                a = ps_addr_as_family(&p.addr, self.addr.fam);
            else if (prc >= 0)
                a = ps_addr_loopback(self.addr.fam);
        }
        put(&a, self.port, out, outl);
        return true;
    }
    /* A connected socket's own name is its listener's: its peer reads as
     * the listener saw it at accept. */
    int fam;
    return ps_unix_accepted_peer(fd, k, kl, out, outl, &fam);
}

bool ps_unix_accepted_peer(int lfd, const struct sockaddr_storage *k, socklen_t kl,
                           struct sockaddr_storage *out, socklen_t *outl, int *fam)
{
    struct ps_uname self, p;
    if (ps_unix_uname(lfd, false, &self) != 0)
        return false;
    int prc = parse_sa(k, kl, &p);
    if (prc < 0)
        prc = 1;   /* a name from outside the namespace: as unnamed */
    *fam = self.addr.fam;
    peer_seen_by(&self, prc, &p, out, outl);
    return true;
}

/* ---- connects pending on a full backlog -------------------------------- */

/* Rare (the backlog is as deep as the kernel allows), so a small table under
 * the namespace lock; g_npending keeps every other SO_ERROR query at one load. */
#define PENDING_MAX 32
static struct {
    int fd;
    ino_t ino;
    char path[sizeof ((struct sockaddr_un *)0)->sun_path];
} g_pending[PENDING_MAX];
static int g_npending;

static ino_t inode_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static int pending_find(int fd, ino_t ino)
{
    for (int i = 0; i < g_npending; i++)
        if (g_pending[i].fd == fd && g_pending[i].ino == ino)
            return i;
    return -1;
}

bool ps_unix_pending_set(int fd, const char *path)
{
    ino_t ino = inode_of(fd);
    ps_lock();
    int i = pending_find(fd, ino);
    bool was = i >= 0;
    if (i < 0) {
        /* a full table forgets its oldest entry: that one's SO_ERROR says 0 */
        if (g_npending == PENDING_MAX)
            memmove(&g_pending[0], &g_pending[1], sizeof g_pending[0] * (PENDING_MAX - 1));
        else
            __atomic_store_n(&g_npending, g_npending + 1, __ATOMIC_RELAXED);
        i = g_npending - 1;
    }
    g_pending[i].fd = fd;
    g_pending[i].ino = ino;
    snprintf(g_pending[i].path, sizeof g_pending[i].path, "%s", path);
    ps_unlock();
    return was;
}

bool ps_unix_pending_take(int fd, int *err)
{
    if (!__atomic_load_n(&g_npending, __ATOMIC_RELAXED))
        return false;
    ino_t ino = inode_of(fd);
    char path[sizeof g_pending[0].path];
    ps_lock();
    int i = pending_find(fd, ino);
    if (i >= 0) {
        memcpy(path, g_pending[i].path, sizeof path);
        g_pending[i] = g_pending[g_npending - 1];
        __atomic_store_n(&g_npending, g_npending - 1, __ATOMIC_RELAXED);
    }
    ps_unlock();
    if (i < 0)
        return false;
    /* one more try, without waiting: the program only asked how it went */
    int fl = real_fcntl(fd, F_GETFL, NULL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        real_fcntl(fd, F_SETFL, (void *)(long)(fl | O_NONBLOCK));
    struct sockaddr_un su;
    socklen_t sl = ps_unix_sockaddr(path, strlen(path), &su);
    int rc = real_connect(fd, (struct sockaddr *)&su, sl);
    *err = rc == 0 ? 0 : errno == EAGAIN || errno == ENOENT ? ECONNREFUSED : errno;
    if (fl >= 0 && !(fl & O_NONBLOCK))
        real_fcntl(fd, F_SETFL, (void *)(long)fl);
    return true;
}
