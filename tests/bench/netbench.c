/* netbench.c — the TCP workloads of `make bench`, one per run.
 *
 *   netbench rtt  PORT N     ping-pong 1 byte N times over one connection
 *                            -> nanoseconds per round trip
 *   netbench bulk PORT MIB   send MIB MiB one way over one connection
 *                            -> MiB per second
 *   netbench cce  PORT N     N connections: connect, 16 bytes echoed, close
 *                            -> nanoseconds per connection
 *   netbench ccek PORT N K   K clients at once, each with its own server
 *                            (PORT, PORT+1, ...; one namespace), each making
 *                            N connections as cce does
 *                            -> nanoseconds of wall time per connection
 *                               round (all K clients' N connections / N)
 *   netbench blc  PORT N     socket + bind + listen + close of PORT, N times
 *                            -> nanoseconds per iteration, then (second
 *                               number) nanoseconds of the first, untimed one
 *   netbench --unix DIR rtt|bulk|cce PORT N
 *                            the same workload over plain AF_UNIX stream
 *                            sockets: the server binds the socket file
 *                            DIR/PORT, the client connects to it (no
 *                            TCP_NODELAY: it has no meaning there). This is
 *                            the floor that unix mode is measured against.
 *
 * PORT is a hard-coded port, as a test suite would use: the server bind()s it
 * and the client connect()s to it, so under the shim the bind is remapped and
 * the connect routed. The server is a forked child, so the connect crosses
 * processes as in a real suite. Run bare, PORT may be in use by something
 * else on the machine; then the next free port is taken (outside the timed
 * part) — under the shim the namespace is private and PORT itself is used.
 *
 * Only 127.0.0.1 is used. The measurement is printed on stdout as one line;
 * errors go to stderr with a non-zero exit. tests/bench/run drives it. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PORT_TRIES 100

/* --unix DIR: plain AF_UNIX sockets in DIR instead of TCP on 127.0.0.1. */
static const char *unix_dir;

static void die(const char *what)
{
    fprintf(stderr, "netbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void fail(const char *msg)
{
    fprintf(stderr, "netbench: %s\n", msg);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static struct sockaddr_un unix_path(uint16_t port)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if ((size_t)snprintf(a.sun_path, sizeof a.sun_path, "%s/%u", unix_dir, port) >=
        sizeof a.sun_path)
        fail("--unix DIR is too long for a socket path");
    return a;
}

/* A listener on 127.0.0.1:*port, or the next free port when *port is taken
 * (only ever bare). *port is updated to the port bound. With --unix, a
 * listener on the socket file DIR/PORT (replacing a stale one). */
static int listen_on(uint16_t *port, int backlog)
{
    if (unix_dir) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket");
        struct sockaddr_un a = unix_path(*port);
        unlink(a.sun_path);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
            die("bind");
        if (listen(fd, backlog) < 0)
            die("listen");
        return fd;
    }
    for (int i = 0; i < PORT_TRIES; i++) {
        uint16_t p = (uint16_t)(*port + i);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket");
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            die("setsockopt SO_REUSEADDR");
        struct sockaddr_in a = loopback(p);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            if (listen(fd, backlog) < 0)
                die("listen");
            *port = p;
            return fd;
        }
        if (errno != EADDRINUSE)
            die("bind");
        close(fd);
    }
    fail("no free port near the requested one");
    return -1;
}

static int dial(uint16_t port, int nodelay)
{
    if (unix_dir) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket");
        struct sockaddr_un a = unix_path(port);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
            die("connect");
        return fd;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    if (nodelay) {
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
            die("setsockopt TCP_NODELAY");
    }
    struct sockaddr_in a = loopback(port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    return fd;
}

static void read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("read");
        if (r == 0)
            fail("unexpected end of stream");
        p += r;
        n -= (size_t)r;
    }
}

static void write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            die("write");
        p += w;
        n -= (size_t)w;
    }
}

/* The server side of each workload, run in the forked child. */
typedef void (*serve_fn)(int lfd, long n);

static void serve_rtt(int lfd, long n)
{
    int c = accept(lfd, NULL, NULL);
    if (c < 0)
        die("accept");
    int one = 1;
    if (!unix_dir)
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char b;
    ssize_t r;
    while ((r = read(c, &b, 1)) == 1)
        write_full(c, &b, 1);
    if (r < 0)
        die("server read");
    close(c);
}

static void serve_bulk(int lfd, long mib)
{
    int c = accept(lfd, NULL, NULL);
    if (c < 0)
        die("accept");
    static char buf[256 * 1024];
    uint64_t left = (uint64_t)mib << 20;
    while (left > 0) {
        ssize_t r = read(c, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("server read");
        if (r == 0)
            fail("server: stream ended early");
        left -= (uint64_t)r;
    }
    write_full(c, "k", 1);
    close(c);
}

static void serve_cce(int lfd, long n)
{
    char buf[16], eof;
    for (long i = 0; i < n; i++) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            die("accept");
        read_full(c, buf, sizeof buf);
        write_full(c, buf, sizeof buf);
        /* The client closes first, as a test's client does. */
        if (read(c, &eof, 1) != 0)
            fail("server: expected the client to close");
        close(c);
    }
}

/* Forks the server; returns its pid and the port it listens on. */
static pid_t start_server(uint16_t *port, serve_fn fn, long n)
{
    int p[2];
    if (pipe(p) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        /* Never outlive the client (it may die on an error): a server left
         * behind would hold the runner's output pipe open. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
            _exit(1);
        alarm(300);
        close(p[0]);
        int lfd = listen_on(port, 128);
        write_full(p[1], port, sizeof *port);
        close(p[1]);
        fn(lfd, n);
        close(lfd);
        if (unix_dir) {
            struct sockaddr_un a = unix_path(*port);
            unlink(a.sun_path);
        }
        _exit(0);
    }
    close(p[1]);
    if (read(p[0], port, sizeof *port) != (ssize_t)sizeof *port)
        fail("server did not start");
    close(p[0]);
    return pid;
}

static void reap(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) < 0)
        die("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("server failed");
}

static void bench_rtt(uint16_t port, long n)
{
    pid_t srv = start_server(&port, serve_rtt, n);
    int fd = dial(port, 1);
    char b = 'x';
    for (int i = 0; i < 200; i++) {          /* warm up */
        write_full(fd, &b, 1);
        read_full(fd, &b, 1);
    }
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        write_full(fd, &b, 1);
        read_full(fd, &b, 1);
    }
    uint64_t t1 = now_ns();
    close(fd);
    reap(srv);
    printf("%.1f\n", (double)(t1 - t0) / (double)n);
}

static void bench_bulk(uint16_t port, long mib)
{
    pid_t srv = start_server(&port, serve_bulk, mib);
    int fd = dial(port, 0);
    static char buf[256 * 1024];
    memset(buf, 'b', sizeof buf);
    uint64_t left = (uint64_t)mib << 20;
    uint64_t t0 = now_ns();
    while (left > 0) {
        size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
        write_full(fd, buf, n);
        left -= n;
    }
    char k;
    read_full(fd, &k, 1);
    uint64_t t1 = now_ns();
    close(fd);
    reap(srv);
    printf("%.1f\n", (double)mib / ((double)(t1 - t0) / 1e9));
}

static void bench_cce(uint16_t port, long n)
{
    const long warm = 50;
    pid_t srv = start_server(&port, serve_cce, n + warm);
    char out[16], in[16];
    memcpy(out, "0123456789abcdef", sizeof out);
    uint64_t t0 = 0;
    for (long i = 0; i < n + warm; i++) {
        if (i == warm)
            t0 = now_ns();
        int fd = dial(port, 1);
        write_full(fd, out, sizeof out);
        read_full(fd, in, sizeof in);
        if (memcmp(in, out, sizeof in) != 0)
            fail("echo differs");
        close(fd);
    }
    uint64_t t1 = now_ns();
    reap(srv);
    printf("%.1f\n", (double)(t1 - t0) / (double)n);
}

/* K client processes, each dialling its own server, released at once
 * after their warm-up; the wall time until the last one is done. */
static void bench_ccek(uint16_t port, long n, long k)
{
    const long warm = 50;
    int go[2], ready[2];
    if (pipe(go) < 0 || pipe(ready) < 0)
        die("pipe");
    pid_t *pids = calloc((size_t)k, sizeof *pids);
    if (!pids)
        die("calloc");
    for (long j = 0; j < k; j++) {
        if ((pids[j] = fork()) < 0)
            die("fork");
        if (pids[j] == 0) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                _exit(1);
            close(go[1]);
            close(ready[0]);
            uint16_t p = (uint16_t)(port + j * 3);
            pid_t srv = start_server(&p, serve_cce, n + warm);
            char out[16], in[16], b;
            memcpy(out, "0123456789abcdef", sizeof out);
            for (long i = 0; i < n + warm; i++) {
                if (i == warm) {
                    write_full(ready[1], "r", 1);
                    if (read(go[0], &b, 1) != 0)
                        fail("start signal");
                }
                int fd = dial(p, 1);
                write_full(fd, out, sizeof out);
                read_full(fd, in, sizeof in);
                if (memcmp(in, out, sizeof in) != 0)
                    fail("echo differs");
                close(fd);
            }
            reap(srv);
            _exit(0);
        }
    }
    close(go[0]);
    close(ready[1]);
    char b;
    for (long j = 0; j < k; j++)
        read_full(ready[0], &b, 1);
    uint64_t t0 = now_ns();
    close(go[1]);   /* EOF releases every client at once */
    for (long j = 0; j < k; j++)
        reap(pids[j]);
    uint64_t t1 = now_ns();
    printf("%.1f\n", (double)(t1 - t0) / (double)n);
}

static void bench_blc(uint16_t port, long n)
{
    /* The first bind finds a free port when bare, and under the shim reads
     * the manifest from its start: timed on its own, reported second. */
    uint64_t f0 = now_ns();
    close(listen_on(&port, 16));
    uint64_t f1 = now_ns();
    struct sockaddr_in a = loopback(port);
    int one = 1;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket");
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            die("setsockopt");
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
            die("bind");
        if (listen(fd, 16) < 0)
            die("listen");
        if (close(fd) < 0)
            die("close");
    }
    uint64_t t1 = now_ns();
    printf("%.1f %.1f\n", (double)(t1 - t0) / (double)n, (double)(f1 - f0));
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--unix") == 0) {
        unix_dir = argv[2];
        argv += 2;
        argc -= 2;
        if (strcmp(argv[1], "blc") == 0)
            fail("blc has no --unix variant");
    }
    if (argc == 5 && strcmp(argv[1], "ccek") == 0) {
        long port = strtol(argv[2], NULL, 10), n = strtol(argv[3], NULL, 10);
        long k = strtol(argv[4], NULL, 10);
        if (port < 1 || port + 3 * k > 65535 - PORT_TRIES || n < 1 || k < 1 || k > 64)
            fail("bad PORT, N or K");
        signal(SIGPIPE, SIG_IGN);
        bench_ccek((uint16_t)port, n, k);
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: netbench [--unix DIR] rtt|bulk|cce PORT N\n"
                        "       netbench ccek PORT N K\n"
                        "       netbench blc PORT N\n");
        return 2;
    }
    long port = strtol(argv[2], NULL, 10);
    long n = strtol(argv[3], NULL, 10);
    if (port < 1 || port > 65535 - PORT_TRIES || n < 1)
        fail("bad PORT or N");
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(argv[1], "rtt") == 0)
        bench_rtt((uint16_t)port, n);
    else if (strcmp(argv[1], "bulk") == 0)
        bench_bulk((uint16_t)port, n);
    else if (strcmp(argv[1], "cce") == 0)
        bench_cce((uint16_t)port, n);
    else if (strcmp(argv[1], "blc") == 0)
        bench_blc((uint16_t)port, n);
    else
        fail("unknown workload (rtt, bulk, cce, blc)");
    return 0;
}
