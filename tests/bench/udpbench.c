/* udpbench.c — the UDP workloads of `make bench` (tests/bench/udp), one per
 * run.
 *
 *   udpbench rr    PORT N [--raw]   request/reply: the client sendto()s 64
 *                                   bytes to PORT, the server answers them
 *                                   to the address recvfrom() gave it, N
 *                                   times -> round trips per second
 *   udpbench flood PORT N [--raw]   one-way flood: the client sends N
 *                                   datagrams of 1,400 bytes to PORT
 *                                   -> MiB per second received
 *
 * PORT is a hard-coded port, as a test suite would use: the server (a forked
 * child, so datagrams cross processes as in a real suite) bind()s it and the
 * client sends to it with unconnected sendto() and reads with recvfrom(),
 * the DNS client's way; under the shim the bind is remapped, every sendto
 * translated and every recvfrom's source address rewritten.
 *
 * The flood is paced so that it measures the data path, not the kernel's
 * drops: the server answers one byte for every window of 32 datagrams it
 * has read (45 KB, well inside a socket's default receive buffer) and the
 * client sends the next window when that answer comes. Loopback then loses
 * nothing; a lost datagram would stop the run at its 5 s receive timeout
 * (an error, never a figure).
 *
 * --raw: both sockets are made and bound with syscall(2), which the shim
 * does not see: they are sockets the namespace does not know, and the
 * shim's sendto/recvfrom wrappers must pass them straight to the kernel
 * (one table read). PORT is then a real port.
 *
 * Run bare, PORT may be in use by something else on the machine; then the
 * next free port is taken (outside the timed part). Only 127.0.0.1 is used.
 * The measurement is printed on stdout as one line; errors go to stderr with
 * a non-zero exit. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PORT_TRIES 100
#define WARMUP 200
#define RR_BYTES 64
#define FLOOD_BYTES 1400
#define WINDOW 32

static int raw;

static void die(const char *what)
{
    fprintf(stderr, "udpbench: %s: %s\n", what, strerror(errno));
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

static int udp_socket(void)
{
    int fd = raw ? (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)
                 : socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct timeval tv = {5, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        die("SO_RCVTIMEO");
    return fd;
}

static int do_bind(int fd, uint16_t port)
{
    struct sockaddr_in a = loopback(port);
    return raw ? (int)syscall(SYS_bind, fd, (struct sockaddr *)&a, sizeof a)
               : bind(fd, (struct sockaddr *)&a, sizeof a);
}

/* The server's socket on port (or the next free one, bare), and the port. */
static int server_socket(uint16_t *port)
{
    int fd = udp_socket();
    for (int i = 0; i < PORT_TRIES; i++, (*port)++)
        if (do_bind(fd, *port) == 0)
            return fd;
        else if (errno != EADDRINUSE)
            die("bind");
    die("bind (no free port)");
    return -1;
}

static void recv_exact(int fd, char *buf, size_t len, struct sockaddr_in *from)
{
    socklen_t fl = sizeof *from;
    ssize_t n = recvfrom(fd, buf, len, 0, (struct sockaddr *)from, &fl);
    if (n < 0)
        die("recvfrom");
    if ((size_t)n != len) {
        fprintf(stderr, "udpbench: a datagram of %zd bytes, not %zu\n", n, len);
        exit(1);
    }
}

static void send_to(int fd, const char *buf, size_t len, const struct sockaddr_in *to)
{
    if (sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof *to) != (ssize_t)len)
        die("sendto");
}

/* Server: rr answers every datagram; flood answers a byte per window. */
static void serve(int fd, int rr, long total)
{
    char buf[FLOOD_BYTES];
    struct sockaddr_in from;
    size_t len = rr ? RR_BYTES : FLOOD_BYTES;
    for (long i = 0; i < total; i++) {
        recv_exact(fd, buf, len, &from);
        if (rr)
            send_to(fd, buf, len, &from);
        else if ((i + 1) % WINDOW == 0)
            send_to(fd, buf, 1, &from);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (argc == 5 && strcmp(argv[4], "--raw")) || argc > 5) {
        fprintf(stderr, "usage: udpbench rr|flood PORT N [--raw]\n");
        return 2;
    }
    int rr = !strcmp(argv[1], "rr");
    if (!rr && strcmp(argv[1], "flood")) {
        fprintf(stderr, "udpbench: unknown workload '%s'\n", argv[1]);
        return 2;
    }
    uint16_t port = (uint16_t)atoi(argv[2]);
    long n = atol(argv[3]);
    raw = argc == 5;
    if (n <= 0 || (!rr && n % WINDOW)) {
        fprintf(stderr, "udpbench: N must be positive (a multiple of %d for flood)\n", WINDOW);
        return 2;
    }
    long warm = rr ? WARMUP : WINDOW * 8;
    int sfd = server_socket(&port);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        serve(sfd, rr, warm + n);
    }
    close(sfd);
    int fd = udp_socket();
    struct sockaddr_in to = loopback(port), from;
    char buf[FLOOD_BYTES];
    memset(buf, 'x', sizeof buf);
    uint64_t t0 = 0;
    if (rr) {
        for (long i = 0; i < warm + n; i++) {
            if (i == warm)
                t0 = now_ns();
            send_to(fd, buf, RR_BYTES, &to);
            recv_exact(fd, buf, RR_BYTES, &from);
        }
    } else {
        for (long i = 0; i < warm + n; i++) {
            if (i == warm)
                t0 = now_ns();
            send_to(fd, buf, FLOOD_BYTES, &to);
            if ((i + 1) % WINDOW == 0)
                recv_exact(fd, buf, 1, &from);
        }
    }
    uint64_t dt = now_ns() - t0;
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "udpbench: the server failed\n");
        return 1;
    }
    if (rr)
        printf("%.1f\n", (double)n * 1e9 / (double)dt);
    else
        printf("%.1f\n", (double)n * FLOOD_BYTES / (1024.0 * 1024.0) * 1e9 / (double)dt);
    return 0;
}
