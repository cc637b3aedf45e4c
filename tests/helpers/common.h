/* common.h — what every test helper shares: dying loudly, addresses,
 * bounded reads and writes, and the one-line "echo" protocol.
 *
 * Helpers are plain C programs that the e2e tests run with or without the
 * shim preloaded. They print results as whole lines on stdout (one write(2)
 * per line, so lines from many processes sharing a pipe never interleave)
 * and never hang: every wait has a deadline and every helper has a lifetime.
 *
 * The echo protocol: a client sends one line; the server answers
 * "NAME SOCKPORT TEXT\n" — its own name, the port getsockname() reports on
 * the accepted socket, and the text it received — then closes. */
#ifndef HELPERS_COMMON_H
#define HELPERS_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Exit status of a helper that could not do its job at all (bad usage, a
 * call that must not fail). Distinct from the statuses helpers use to report
 * results (0 ok, 1 EADDRINUSE, 3 ECONNREFUSED, ...). */
#define EXIT_SETUP 100
/* Exit status when the helper's lifetime ran out. */
#define EXIT_LIFETIME 124

static inline const char *prog_name(void)
{
    extern char *program_invocation_short_name;
    return program_invocation_short_name;
}

/* One line on stdout in a single write(2). */
static inline void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void say(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(1, line, (size_t)n);
    (void)w;
}

static inline void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void die(const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: ", prog_name());
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m > 0)
        n += m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
    exit(EXIT_SETUP);
}

static inline const char *errname(int e)
{
    switch (e) {
    case 0: return "OK";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case EFAULT: return "EFAULT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EINPROGRESS: return "EINPROGRESS";
    case EISCONN: return "EISCONN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case EMFILE: return "EMFILE";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    case ENOTCONN: return "ENOTCONN";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ENOENT: return "ENOENT";
    case ENOSYS: return "ENOSYS";
    }
    static __thread char other[32];
    snprintf(other, sizeof other, "E%d", e);
    return other;
}

static inline long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static inline void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

__attribute__((unused)) static void lifetime_expired(int sig)
{
    (void)sig;
    static const char msg[] = "helper lifetime expired\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(EXIT_LIFETIME);
}

/* No helper outlives its test by much, even if the test forgets it. */
static inline void lifetime(unsigned seconds)
{
    signal(SIGALRM, lifetime_expired);
    signal(SIGPIPE, SIG_IGN);
    alarm(seconds);
}

/* "127.0.0.1", "::1", "::ffff:127.0.0.1" -> sockaddr. Returns the family. */
static inline int parse_addr(const char *host, int port, struct sockaddr_storage *ss,
                             socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof *s4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        return AF_INET6;
    }
    die("bad address '%s'", host);
}

/* A TCP socket listening on addr:port (backlog 16), or death with the
 * failing call's errno. */
static inline int listen_or_die(const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_addr(addr, port, &ss, &sl);
    int fd = socket(fam, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0)
        die("listen on %s:%d: %s", addr, port, errname(errno));
    return fd;
}

static inline int parse_port(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 65535)
        die("bad port '%s'", s);
    return (int)v;
}

static inline int parse_int(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0')
        die("bad number '%s'", s);
    return (int)v;
}

/* The port getsockname() (peer=0) or getpeername() (peer=1) reports, and
 * the address as text; -1 with errno on failure. */
static inline int sock_addr(int fd, int peer, char *addr, size_t addrlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
              : getsockname(fd, (struct sockaddr *)&ss, &len)) < 0)
        return -1;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        if (addr)
            inet_ntop(AF_INET, &s4->sin_addr, addr, (socklen_t)addrlen);
        return ntohs(s4->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (addr)
            inet_ntop(AF_INET6, &s6->sin6_addr, addr, (socklen_t)addrlen);
        return ntohs(s6->sin6_port);
    }
    if (addr && addrlen)
        snprintf(addr, addrlen, "family-%d", ss.ss_family);
    return 0;
}

static inline int sock_port(int fd, int peer)
{
    return sock_addr(fd, peer, NULL, 0);
}

/* Waits up to ms for fd to become readable: 1 ready, 0 timeout, -1 error. */
static inline int wait_readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

static inline int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Reads until a '\n' (stop_at_newline), EOF, or the deadline; NUL-terminates.
 * Returns the bytes read, or -1 if nothing came before an error/timeout. */
static inline ssize_t read_reply(int fd, char *buf, size_t len, int timeout_ms,
                                 int stop_at_newline)
{
    size_t got = 0;
    long deadline = now_ms() + timeout_ms;
    while (got + 1 < len) {
        long left = deadline - now_ms();
        if (left <= 0 || wait_readable(fd, (int)left) <= 0)
            break;
        ssize_t r = read(fd, buf + got, len - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (stop_at_newline && memchr(buf, '\n', got))
            break;
    }
    buf[got] = '\0';
    return got > 0 ? (ssize_t)got : -1;
}

static inline void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* The server half of the echo protocol on an accepted socket. */
static inline int echo_reply(int cfd, const char *name)
{
    char in[1024];
    if (read_reply(cfd, in, sizeof in, 5000, 1) < 0)
        in[0] = '\0';
    chomp(in);
    char out[1200];
    int n = snprintf(out, sizeof out, "%s %d %s\n", name, sock_port(cfd, 0), in);
    return write_all(cfd, out, (size_t)n);
}

/* Accepts one connection (waiting up to timeout_ms) and answers it.
 * Returns 0, or -1 with errno (ETIMEDOUT when nobody came). */
static inline int serve_one(int lfd, const char *name, int timeout_ms)
{
    int r = wait_readable(lfd, timeout_ms);
    if (r == 0)
        errno = ETIMEDOUT;
    if (r <= 0)
        return -1;
    int cfd = accept(lfd, NULL, NULL);
    if (cfd < 0)
        return -1;
    echo_reply(cfd, name);
    close(cfd);
    return 0;
}

/* The client half: connect to host:port, send one line, read the answer.
 * Returns 0 and fills reply (and *peer: the port getpeername() reports), or
 * -1 with errno from the failing call. */
static inline int echo_request(const char *host, int port, const char *msg, char *reply,
                               size_t len, int *peer)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_addr(host, port, &ss, &sl);
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (peer)
        *peer = sock_port(fd, 1);
    char line[1100];
    int n = snprintf(line, sizeof line, "%s\n", msg);
    if (write_all(fd, line, (size_t)n) < 0 || read_reply(fd, reply, len, 5000, 1) < 0) {
        int e = errno ? errno : EIO;
        close(fd);
        errno = e;
        return -1;
    }
    chomp(reply);
    close(fd);
    return 0;
}

#endif
