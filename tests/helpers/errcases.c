/* errcases — calls the shim wraps, made wrongly, to compare errnos.
 *
 *   errcases PORT
 *
 * Prints "CASE <name> <ENAME or OK>" for each case. The test runs it with
 * and without the shim and expects identical output: the shim hands weird
 * arguments to the kernel and never turns one error into another. PORT is
 * a nonzero port used where a call must name one; no case here succeeds in
 * binding it for real. */
#include "common.h"

#include <fcntl.h>
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

    report("close_bad_fd", close(badfd));
    report("dup_bad_fd", dup(badfd));
    report("dup2_bad_fd", dup2(badfd, 50));
    close(notsock);
    return 0;
}
