/* unixcheck — checks of what a program sees of a TCP socket, one per
 * subcommand, each printing one result line (tests/e2e/unix.c runs them
 * with the shim in unix mode, and compares with what TCP answers).
 *
 *   opts ADDR PORT         flags, fd number and options across bind/listen:
 *                          "OPTS same_fd=1 nonblock=1 cloexec=1 nodelay=1
 *                           domain=D type=T proto=P keepidle=30 keepcnt=9
 *                           dup_port=PORT accepted_nodelay=1 accepted_domain=D"
 *   nbconnect ADDR PORT    a non-blocking connect: "NBCONNECT rc=0|EINPROGRESS|ERRNO
 *                          writable=0|1 soerr=ERRNO|0"
 *   bigwrite ADDR PORT N   listener, client, one write of N bytes:
 *                          "BIG wrote=W read=R"
 *   backlog ADDR PORT N    N non-blocking connects to a listener with backlog 1
 *                          that accepts only later: "BACKLOG started=S eagain=E other=O"
 *   overflow ADDR PORT     connects beyond a full backlog (filled to the
 *                          kernel's limit): "OVERFLOW nb=E pollout=0|1 soerr=E
 *                          later=E later_soerr=E later_write=N own_timeout=E
 *                          blocking=E intr=E restart=E handled=N" — a
 *                          non-blocking connect, its SO_ERROR; one made when
 *                          an accept made room; blocking ones with SO_SNDTIMEO
 *                          0.2 s, with TCP_SYNCNT 1 (TCP's bound: 3 s), and
 *                          with TCP_SYNCNT 1 and a signal after 0.3 s whose
 *                          handler lacks / has SA_RESTART
 *   accept ADDR PORT CADDR listener on ADDR, client dialling CADDR; what
 *                          accept() returned: "ACCEPT fam=F len=L addr=A port=P
 *                          client_port=C"
 *   names ADDR PORT        getsockname/getpeername with a negative length,
 *                          and they and accept with a 4-byte buffer:
 *                          "NAMES neg=ERRNO negpeer=ERRNO short_len=L
 *                           short_port=1 untouched=1 accept_len=L
 *                           accept_untouched=1" (short_port: the 4 bytes
 *                          hold the family and the port a full call gives) */
#include "common.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

static int opt_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(fd, level, name, &v, &l) < 0)
        return -errno;
    return v;
}

static int bound_listener(const char *addr, int port, int flags)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(addr, port, &ss, &sl) < 0)
        die("bad address %s", addr);
    int s = socket(ss.ss_family, SOCK_STREAM | flags, 0);
    int one = 1;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        die("socket: %s", strerror(errno));
    if (bind(s, (struct sockaddr *)&ss, sl) < 0 || listen(s, 16) < 0)
        die("bind/listen %s %d: %s", addr, port, strerror(errno));
    return s;
}

static int dial(const char *addr, int port, int flags, int *rc_errno)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(addr, port, &ss, &sl) < 0)
        die("bad address %s", addr);
    int c = socket(ss.ss_family, SOCK_STREAM | flags, 0);
    if (c < 0)
        die("socket: %s", strerror(errno));
    *rc_errno = connect(c, (struct sockaddr *)&ss, sl) < 0 ? errno : 0;
    return c;
}

static int opts(const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(addr, port, &ss, &sl) < 0)
        die("bad address %s", addr);
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, idle = 30;
    if (s < 0 || setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        die("socket/TCP_NODELAY: %s", strerror(errno));
    if (bind(s, (struct sockaddr *)&ss, sl) < 0 || listen(s, 16) < 0)
        die("bind/listen: %s", strerror(errno));
    if (setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0)
        die("TCP_KEEPIDLE: %s", strerror(errno));
    /* A dup with close-on-exec keeps the socket's name. */
    int d = fcntl(s, F_DUPFD_CLOEXEC, 0);
    /* An accepted socket starts with the listener's options. */
    int err, c = dial(addr, port, 0, &err), a = -1;
    if (err == 0 && wait_readable(s, 10000) > 0)
        a = accept(s, NULL, NULL);
    if (a < 0)
        die("connect/accept: %s", strerror(err ? err : errno));
    (void)c;
    say("OPTS same_fd=%d nonblock=%d cloexec=%d nodelay=%d domain=%d type=%d proto=%d "
        "keepidle=%d keepcnt=%d dup_port=%d accepted_nodelay=%d accepted_domain=%d",
        sock_port(s, 0) >= 0, (fcntl(s, F_GETFL) & O_NONBLOCK) != 0,
        (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0, opt_int(s, IPPROTO_TCP, TCP_NODELAY),
        opt_int(s, SOL_SOCKET, SO_DOMAIN), opt_int(s, SOL_SOCKET, SO_TYPE),
        opt_int(s, SOL_SOCKET, SO_PROTOCOL), opt_int(s, IPPROTO_TCP, TCP_KEEPIDLE),
        opt_int(s, IPPROTO_TCP, TCP_KEEPCNT), sock_port(d, 0),
        opt_int(a, IPPROTO_TCP, TCP_NODELAY), opt_int(a, SOL_SOCKET, SO_DOMAIN));
    return 0;
}

static int nbconnect(const char *addr, int port)
{
    int err;
    int c = dial(addr, port, SOCK_NONBLOCK, &err);
    struct pollfd p = {c, POLLOUT, 0};
    int w = err == 0 || err == EINPROGRESS ? poll(&p, 1, 10000) : 0;
    int soerr = opt_int(c, SOL_SOCKET, SO_ERROR);
    say("NBCONNECT rc=%s writable=%d soerr=%s", err ? errname(err) : "0",
        w > 0 && (p.revents & POLLOUT), soerr ? errname(soerr) : "0");
    return 0;
}

static int bigwrite(const char *addr, int port, int n)
{
    int l = bound_listener(addr, port, 0), err;
    int c = dial(addr, port, 0, &err);
    if (err)
        die("connect: %s", strerror(err));
    int a = accept(l, NULL, NULL);
    if (a < 0)
        die("accept: %s", strerror(errno));
    char *buf = calloc(1, (size_t)n);
    ssize_t w = write(c, buf, (size_t)n);
    close(c);
    long got = 0;
    ssize_t r;
    while (wait_readable(a, 10000) > 0 && (r = read(a, buf, (size_t)n)) > 0)
        got += r;
    say("BIG wrote=%zd read=%ld", w, got);
    return 0;
}

static int accept_name(const char *addr, int port, const char *caddr)
{
    int l = bound_listener(addr, port, 0), err;
    int c = dial(caddr, port, 0, &err);
    if (err)
        die("connect %s %d: %s", caddr, port, strerror(err));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int a = accept(l, (struct sockaddr *)&ss, &sl);
    if (a < 0)
        die("accept: %s", strerror(errno));
    char text[INET6_ADDRSTRLEN] = "?";
    int p = -1;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        p = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        p = ntohs(in6->sin6_port);
    }
    say("ACCEPT fam=%d len=%u addr=%s port=%d client_port=%d", ss.ss_family, (unsigned)sl, text,
        p, sock_port(c, 0));
    return 0;
}

static void *acceptor(void *arg)
{
    int l = *(int *)arg;
    sleep_ms(200);   /* let the backlog fill first */
    long end = now_ms() + 10000;
    while (now_ms() < end)
        if (wait_readable(l, 100) > 0) {
            int a = accept(l, NULL, NULL);
            if (a >= 0)
                close(a);
        }
    return NULL;
}

/* More non-blocking connects than the backlog holds, to a listener that
 * accepts only later: TCP never answers EAGAIN. */
static int backlog(const char *addr, int port, int n)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(addr, port, &ss, &sl) < 0)
        die("bad address %s", addr);
    int l = socket(ss.ss_family, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&ss, sl) < 0 || listen(l, 1) < 0)
        die("listener: %s", strerror(errno));
    pthread_t t;
    pthread_create(&t, NULL, acceptor, &l);
    int eagain = 0, started = 0, other = 0;
    for (int i = 0; i < n; i++) {
        int err;
        dial(addr, port, SOCK_NONBLOCK, &err);
        if (err == 0 || err == EINPROGRESS)
            started++;
        else if (err == EAGAIN)
            eagain++;
        else
            other++;
    }
    say("BACKLOG started=%d eagain=%d other=%d", started, eagain, other);
    _exit(0);
}

static _Atomic int g_handled;
static void on_usr1(int sig)
{
    (void)sig;
    g_handled++;
}

static void *poke(void *arg)
{
    sleep_ms(300);
    pthread_kill(*(pthread_t *)arg, SIGUSR1);
    return NULL;
}

/* A blocking connect with TCP_SYNCNT 1; with a SIGUSR1 after 0.3 s when
 * sa_flags is not -1. */
static const char *blocking(const struct sockaddr_storage *ss, socklen_t sl, int sa_flags)
{
    int c = socket(ss->ss_family, SOCK_STREAM, 0), one = 1;
    if (c < 0 || setsockopt(c, IPPROTO_TCP, TCP_SYNCNT, &one, sizeof one) < 0)
        die("socket/TCP_SYNCNT: %s", strerror(errno));
    pthread_t self = pthread_self(), t;
    if (sa_flags != -1) {
        struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = sa_flags};
        sigaction(SIGUSR1, &sa, NULL);
        pthread_create(&t, NULL, poke, &self);
    }
    int err = connect(c, (const struct sockaddr *)ss, sl) < 0 ? errno : 0;
    if (sa_flags != -1)
        pthread_join(t, NULL);
    return errname(err);
}

static int overflow(const char *addr, int port)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max < 10000 ? rl.rlim_max : 10000;
    setrlimit(RLIMIT_NOFILE, &rl);
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(addr, port, &ss, &sl) < 0)
        die("bad address %s", addr);
    int l = socket(ss.ss_family, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&ss, sl) < 0 || listen(l, 1) < 0)
        die("listener: %s", strerror(errno));
    int c = -1, err = 0, n = 0;
    for (; n < 9000 && !err; n++)
        c = dial(addr, port, SOCK_NONBLOCK, &err);
    if (!err)
        die("the backlog never filled (%d connects)", n);
    struct pollfd p = {c, POLLOUT, 0};
    int pollout = poll(&p, 1, 5000) > 0 && (p.revents & POLLOUT);
    int soerr = opt_int(c, SOL_SOCKET, SO_ERROR);
    char nb[16], so[16];
    snprintf(nb, sizeof nb, "%s", errname(err));
    snprintf(so, sizeof so, "%s", errname(soerr));
    /* room for one: a connect pending now completes */
    int later_err;
    int c2 = dial(addr, port, SOCK_NONBLOCK, &later_err);
    char later[16];
    snprintf(later, sizeof later, "%s", errname(later_err));
    int a = accept(l, NULL, NULL);
    if (a < 0)
        die("accept: %s", strerror(errno));
    struct pollfd p2 = {c2, POLLOUT, 0};
    poll(&p2, 1, 5000);
    int later_soerr = opt_int(c2, SOL_SOCKET, SO_ERROR);
    char lso[16];
    snprintf(lso, sizeof lso, "%s", errname(later_soerr));
    ssize_t w = write(c2, "x", 1);
    /* the backlog is full again: blocking connects */
    int c5 = socket(ss.ss_family, SOCK_STREAM, 0);
    struct timeval tv = {0, 200000};
    setsockopt(c5, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int own = connect(c5, (struct sockaddr *)&ss, sl) < 0 ? errno : 0;
    char owns[16], b[16], in[16];
    snprintf(owns, sizeof owns, "%s", errname(own));
    snprintf(b, sizeof b, "%s", blocking(&ss, sl, -1));
    snprintf(in, sizeof in, "%s", blocking(&ss, sl, 0));
    const char *re = blocking(&ss, sl, SA_RESTART);
    say("OVERFLOW nb=%s pollout=%d soerr=%s later=%s later_soerr=%s later_write=%zd "
        "own_timeout=%s blocking=%s intr=%s restart=%s handled=%d", nb, pollout, so, later, lso,
        w, owns, b, in, re, (int)g_handled);
    _exit(0);
}

static int names(const char *addr, int port)
{
    int l = bound_listener(addr, port, 0), err;
    int c = dial(addr, port, 0, &err);
    if (err)
        die("connect %s %d: %s", addr, port, strerror(err));
    struct sockaddr_storage ss, full;
    socklen_t sl = (socklen_t)-1, fl = sizeof full;
    int neg = getsockname(c, (struct sockaddr *)&ss, &sl) < 0 ? errno : 0;
    sl = (socklen_t)-1;
    int negpeer = getpeername(c, (struct sockaddr *)&ss, &sl) < 0 ? errno : 0;
    if (getsockname(c, (struct sockaddr *)&full, &fl) < 0)
        die("getsockname: %s", strerror(errno));
    memset(&ss, 0xab, sizeof ss);
    sl = 4;
    if (getsockname(c, (struct sockaddr *)&ss, &sl) < 0)
        die("getsockname 4: %s", strerror(errno));
    const unsigned char *b = (const unsigned char *)&ss;
    unsigned short_len = (unsigned)sl;
    int short_port = !memcmp(&ss, &full, 4), untouched = b[4] == 0xab;
    memset(&ss, 0xab, sizeof ss);
    sl = 4;
    int a = accept(l, (struct sockaddr *)&ss, &sl);
    if (a < 0)
        die("accept: %s", strerror(errno));
    say("NAMES neg=%s negpeer=%s short_len=%u short_port=%d untouched=%d accept_len=%u "
        "accept_untouched=%d", neg ? errname(neg) : "0", negpeer ? errname(negpeer) : "0",
        short_len, short_port, untouched, (unsigned)sl, b[4] == 0xab);
    return 0;
}

int main(int argc, char **argv)
{
    lifetime(30);
    if (argc == 4 && !strcmp(argv[1], "opts"))
        return opts(argv[2], parse_port(argv[3]));
    if (argc == 4 && !strcmp(argv[1], "nbconnect"))
        return nbconnect(argv[2], parse_port(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "bigwrite"))
        return bigwrite(argv[2], parse_port(argv[3]), parse_int(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "backlog"))
        return backlog(argv[2], parse_port(argv[3]), parse_int(argv[4]));
    if (argc == 4 && !strcmp(argv[1], "overflow"))
        return overflow(argv[2], parse_port(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "accept"))
        return accept_name(argv[2], parse_port(argv[3]), argv[4]);
    if (argc == 4 && !strcmp(argv[1], "names"))
        return names(argv[2], parse_port(argv[3]));
    die("usage: unixcheck opts|nbconnect|bigwrite|backlog|accept|names ...");
}
