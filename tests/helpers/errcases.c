/* errcases — calls the shim wraps, made wrongly, to compare errnos.
 *
 *   errcases PORT
 *
 * Prints "CASE <name> <ENAME or OK>" for each case. The test runs it with
 * and without the shim and expects identical output: the shim hands weird
 * arguments to the kernel and never turns one error into another. PORT is
 * a nonzero port used where a call must name one; no case here succeeds in
 * binding it for real. Connects are made to a listener of this program (on
 * a port the kernel or the namespace picks), so that a routed connect is
 * checked as closely as one that passes through. Bad pointers ((void *)1,
 * a PROT_NONE page, NULL with a length) must give the kernel's EFAULT. */
#include "common.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/un.h>

static int port;

static void report(const char *name, int rc)
{
    say("CASE %s %s", name, rc < 0 ? errname(errno) : "OK");
}

static int tcp(int fam)
{
    int fd = socket(fam, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    return fd;
}

static struct sockaddr_in v4(const char *ip, int p)
{
    struct sockaddr_in s;
    memset(&s, 0, sizeof s);
    s.sin_family = AF_INET;
    s.sin_port = htons((uint16_t)p);
    inet_pton(AF_INET, ip, &s.sin_addr);
    return s;
}

static struct sockaddr_in6 v6(const char *ip, int p)
{
    struct sockaddr_in6 s;
    memset(&s, 0, sizeof s);
    s.sin6_family = AF_INET6;
    s.sin6_port = htons((uint16_t)p);
    inet_pton(AF_INET6, ip, &s.sin6_addr);
    return s;
}

#define SA(x) ((struct sockaddr *)&(x))

static int v6only_socket(void)
{
    int fd = tcp(AF_INET6), one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    return fd;
}

/* A listener on ADDR, port chosen for it; its port in *p. */
static int listener(int fam, int *p)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr(fam == AF_INET ? "127.0.0.1" : "::", 0, &ss, &sl);
    int fd = tcp(fam);
    if (bind(fd, SA(ss), sl) < 0 || listen(fd, 8) < 0)
        die("listener: %s", strerror(errno));
    *p = sock_port(fd, 0);
    return fd;
}

/* Malformed sockaddrs: lengths, families, v4-mapped on v6-only. */
static void weird(int p)
{
    int fd;
    struct sockaddr_storage big[8];   /* room for lengths past the kernel's limit */
    memset(big, 0, sizeof big);
    struct sockaddr_in a4 = v4("127.0.0.1", p);
    struct sockaddr_in6 a6 = v6("::1", p), m6 = v6("::ffff:127.0.0.1", p);
    memcpy(big, &a4, sizeof a4);
    report("bind_len_1000", bind(fd = tcp(AF_INET), SA(big), 1000));
    close(fd);
    report("bind_len_129", bind(fd = tcp(AF_INET), SA(big), 129));
    close(fd);
    report("bind_v6_addr_on_v4_socket_2", bind(fd = tcp(AF_INET), SA(a6), sizeof a6));
    close(fd);
    report("bind_v4_on_v6_socket_len_28", bind(fd = tcp(AF_INET6), SA(big), sizeof a6));
    close(fd);
    report("bind_v6_len_23", bind(fd = tcp(AF_INET6), SA(a6), 23));
    close(fd);
    struct sockaddr_in6 z6 = v6("::1", 0);
    report("bind_v6_len_24_port0", bind(fd = tcp(AF_INET6), SA(z6), 24));
    close(fd);
    report("bind_v4_mapped_on_v6only", bind(fd = v6only_socket(), SA(m6), sizeof m6));
    close(fd);
    struct sockaddr_in u4 = v4("127.0.0.1", p);
    u4.sin_family = AF_UNSPEC;
    report("bind_unspec_loopback_len_1000", bind(fd = tcp(AF_INET), SA(u4), 1000));
    close(fd);
    struct sockaddr_in6 u6 = v6("::", p);
    u6.sin6_family = AF_UNSPEC;
    report("bind_unspec_on_v6_socket", bind(fd = tcp(AF_INET6), SA(u6), sizeof u6));
    close(fd);
    struct sockaddr_in x = v4("127.0.0.1", p);
    x.sin_family = 0x1234;
    report("bind_unknown_family", bind(fd = tcp(AF_INET), SA(x), sizeof x));
    close(fd);

    int lp4, lp6;
    int l4 = listener(AF_INET, &lp4), l6 = listener(AF_INET6, &lp6);
    a4 = v4("127.0.0.1", lp4);
    a6 = v6("::1", lp6);
    m6 = v6("::ffff:127.0.0.1", lp4);
    memset(big, 0, sizeof big);
    memcpy(big, &a4, sizeof a4);
    report("connect_len_1000", connect(fd = tcp(AF_INET), SA(big), 1000));
    close(fd);
    report("connect_len_129", connect(fd = tcp(AF_INET), SA(big), 129));
    close(fd);
    report("connect_v6_addr_on_v4_socket", connect(fd = tcp(AF_INET), SA(a6), sizeof a6));
    close(fd);
    report("connect_v4_addr_on_v6_socket", connect(fd = tcp(AF_INET6), SA(a4), sizeof a4));
    close(fd);
    report("connect_v6_len_23", connect(fd = tcp(AF_INET6), SA(a6), 23));
    close(fd);
    report("connect_v4_mapped_on_v6only", connect(fd = v6only_socket(), SA(m6), sizeof m6));
    close(fd);
    report("connect_v4_len_15", connect(fd = tcp(AF_INET), SA(a4), 15));
    close(fd);
    report("connect_v6_len_24", connect(fd = tcp(AF_INET6), SA(a6), 24));
    close(fd);
    report("connect_routed_ok", connect(fd = tcp(AF_INET), SA(a4), sizeof a4));
    close(fd);
    /* good memory off the stack (the shim copies that differently) */
    struct sockaddr_in *h4 = malloc(sizeof *h4);
    socklen_t *hl = malloc(sizeof *hl);
    *h4 = a4;
    report("connect_heap_addr_ok", connect(fd = tcp(AF_INET), (struct sockaddr *)h4, sizeof *h4));
    *hl = sizeof *h4;
    memset(h4, 0, sizeof *h4);
    getpeername(fd, (struct sockaddr *)h4, hl);
    say("CASE getpeername_heap_port_is_the_dialled_one %d", ntohs(h4->sin_port) == lp4);
    close(fd);
    free(h4);
    free(hl);
    close(l4);
    close(l6);
}

/* Bad pointers in every call that takes one. Not under AddressSanitizer:
 * its interceptors (in this program, and before libc in the shim's lookup)
 * dereference the pointers themselves. */
static void bad_pointers(void)
{
#if defined(__SANITIZE_ADDRESS__)
    say("CASE bad_pointers skipped_under_asan");
    return;
#endif
    void *one = (void *)1;
    void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (none == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    void *volatile null = NULL;
    int fd, lp;
    report("bind_ptr_one", bind(fd = tcp(AF_INET), one, sizeof(struct sockaddr_in)));
    close(fd);
    report("bind_ptr_prot_none", bind(fd = tcp(AF_INET), none, sizeof(struct sockaddr_in)));
    close(fd);
    report("connect_ptr_one", connect(fd = tcp(AF_INET), one, sizeof(struct sockaddr_in)));
    close(fd);
    report("connect_ptr_prot_none", connect(fd = tcp(AF_INET), none, sizeof(struct sockaddr_in)));
    close(fd);

    int l = listener(AF_INET, &lp);
    struct sockaddr_in a4 = v4("127.0.0.1", lp);
    int c = tcp(AF_INET);
    if (connect(c, SA(a4), sizeof a4) < 0)
        die("connect: %s", strerror(errno));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    const char *what[] = {"getsockname", "getpeername"};
    for (int peer = 0; peer < 2; peer++) {
        int (*call)(int, struct sockaddr *, socklen_t *) = peer ? getpeername : getsockname;
        char name[64];
        int s = peer ? c : l;
        snprintf(name, sizeof name, "%s_addr_one", what[peer]);
        sl = sizeof ss;
        report(name, call(s, one, &sl));
        snprintf(name, sizeof name, "%s_addr_prot_none", what[peer]);
        sl = sizeof ss;
        report(name, call(s, none, &sl));
        snprintf(name, sizeof name, "%s_addr_null", what[peer]);
        sl = sizeof ss;
        report(name, call(s, null, &sl));
        snprintf(name, sizeof name, "%s_len_one", what[peer]);
        report(name, call(s, SA(ss), one));
        snprintf(name, sizeof name, "%s_len_prot_none", what[peer]);
        report(name, call(s, SA(ss), none));
    }
    int v = 1;
    socklen_t vl = sizeof v;
    report("getsockopt_val_one", getsockopt(l, IPPROTO_TCP, TCP_NODELAY, one, &vl));
    vl = sizeof v;
    report("getsockopt_val_prot_none", getsockopt(l, IPPROTO_TCP, TCP_NODELAY, none, &vl));
    vl = sizeof v;
    report("getsockopt_val_null", getsockopt(l, IPPROTO_TCP, TCP_NODELAY, null, &vl));
    report("getsockopt_len_one", getsockopt(l, IPPROTO_TCP, TCP_NODELAY, &v, one));
    report("getsockopt_len_prot_none", getsockopt(l, IPPROTO_TCP, TCP_NODELAY, &v, none));
    report("getsockopt_len_null", getsockopt(l, IPPROTO_TCP, TCP_NODELAY, &v, null));
    report("setsockopt_val_one", setsockopt(l, IPPROTO_TCP, TCP_NODELAY, one, sizeof v));
    report("setsockopt_val_prot_none", setsockopt(l, IPPROTO_TCP, TCP_NODELAY, none, sizeof v));
    report("setsockopt_val_null", setsockopt(l, IPPROTO_TCP, TCP_NODELAY, null, sizeof v));
    report("setsockopt_val_null_short", setsockopt(l, IPPROTO_TCP, TCP_NODELAY, null, 2));
    report("setsockopt_reuseport_one", setsockopt(l, SOL_SOCKET, SO_REUSEPORT, one, sizeof v));
    close(c);
    close(l);
    munmap(none, 4096);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: errcases PORT");
    port = parse_port(argv[1]);
    lifetime(30);
    struct sockaddr *volatile nowhere = NULL;
    int badfd = 987; /* not open: checked below */
    if (fcntl(badfd, F_GETFD) >= 0)
        die("fd %d is open", badfd);
    int notsock = open("/dev/null", O_RDONLY);
    int fd;

    struct sockaddr_in a4 = v4("192.0.2.1", port);
    report("bind_nonlocal_v4", bind(fd = tcp(AF_INET), SA(a4), sizeof a4));
    close(fd);
    struct sockaddr_in6 a6 = v6("2001:db8::1", port);
    report("bind_nonlocal_v6", bind(fd = tcp(AF_INET6), SA(a6), sizeof a6));
    close(fd);

    a4 = v4("127.0.0.1", port);
    report("bind_not_socket", bind(notsock, SA(a4), sizeof a4));
    report("bind_bad_fd", bind(badfd, SA(a4), sizeof a4));
    report("bind_null_addr", bind(fd = tcp(AF_INET), nowhere, sizeof a4));
    close(fd);
    report("bind_short_len", bind(fd = tcp(AF_INET), SA(a4), 4));
    close(fd);
    report("bind_zero_len", bind(fd = tcp(AF_INET), SA(a4), 0));
    close(fd);

    struct sockaddr_in un = v4("127.0.0.1", port);
    un.sin_family = AF_UNSPEC;
    report("bind_unspec_loopback", bind(fd = tcp(AF_INET), SA(un), sizeof un));
    close(fd);
    un = v4("0.0.0.0", 0);
    un.sin_family = AF_UNSPEC;
    report("bind_unspec_any_port0", bind(fd = tcp(AF_INET), SA(un), sizeof un));
    close(fd);
    a6 = v6("::1", port);
    report("bind_v6_addr_on_v4_socket", bind(fd = tcp(AF_INET), SA(a6), sizeof a6));
    close(fd);
    report("bind_v4_addr_on_v6_socket", bind(fd = tcp(AF_INET6), SA(a4), sizeof a4));
    close(fd);
    a6 = v6("::1", port);
    report("bind_v6_short_len", bind(fd = tcp(AF_INET6), SA(a6), sizeof a6 - 8));
    close(fd);

    fd = tcp(AF_INET);
    struct sockaddr_in z = v4("127.0.0.1", 0);
    report("bind_first_of_two", bind(fd, SA(z), sizeof z));
    report("bind_twice_same_socket", bind(fd, SA(a4), sizeof a4));
    close(fd);

    struct sockaddr_un su;
    memset(&su, 0, sizeof su);
    su.sun_family = AF_UNIX;
    snprintf(su.sun_path + 1, sizeof su.sun_path - 1, "portshim-errcases-%d", (int)getpid());
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    report("bind_unix_abstract", bind(fd, SA(su), sizeof su));
    close(fd);

    report("connect_not_socket", connect(notsock, SA(a4), sizeof a4));
    report("connect_bad_fd", connect(badfd, SA(a4), sizeof a4));
    report("connect_null_addr", connect(fd = tcp(AF_INET), nowhere, sizeof a4));
    close(fd);
    report("connect_short_len", connect(fd = tcp(AF_INET), SA(a4), 4));
    close(fd);
    un = v4("127.0.0.1", port);
    un.sin_family = AF_UNSPEC;
    report("connect_unspec", connect(fd = tcp(AF_INET), SA(un), sizeof un));
    close(fd);

    report("listen_bad_fd", listen(badfd, 1));
    report("listen_not_socket", listen(notsock, 1));

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    report("getsockname_bad_fd", getsockname(badfd, SA(ss), &sl));
    sl = sizeof ss;
    report("getsockname_not_socket", getsockname(notsock, SA(ss), &sl));
    report("getsockname_null_len", getsockname(fd = tcp(AF_INET), SA(ss), NULL));
    close(fd);
    sl = sizeof ss;
    report("getpeername_unconnected", getpeername(fd = tcp(AF_INET), SA(ss), &sl));
    close(fd);
    sl = sizeof ss;
    report("getpeername_bad_fd", getpeername(badfd, SA(ss), &sl));

    report("accept_bad_fd", accept(badfd, NULL, NULL));
    report("accept_not_listening", accept(fd = tcp(AF_INET), NULL, NULL));
    close(fd);
    report("accept4_bad_flags", accept4(fd = tcp(AF_INET), NULL, NULL, 0x7fffffff));
    close(fd);

    weird(port);
    bad_pointers();

    report("close_bad_fd", close(badfd));
    report("dup_bad_fd", dup(badfd));
    report("dup2_bad_fd", dup2(badfd, 50));
    close(notsock);
    return 0;
}
