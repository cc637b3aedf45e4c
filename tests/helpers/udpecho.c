/* udpecho — a UDP server on a fixed port and its client, as a suite's
 * fixture would write them.
 *
 *   udpecho serve ADDR PORT NAME [COUNT]
 *                                  binds ADDR:PORT, prints "READY <port>"
 *                                  (getsockname), answers every datagram
 *                                  with "NAME:<datagram>" to its source,
 *                                  until killed (or 60 s pass), or COUNT
 *                                  answers (recvmsg/sendmsg for odd ones)
 *   udpecho ask ADDR PORT MSG      sends MSG (again every 500 ms, at most
 *                                  10 s, in case the server is not bound
 *                                  yet) and prints "REPLY <reply>" and
 *                                  "FROM <port>" (the reply's source port);
 *                                  exit 1 when no reply came */
#include "common.h"

#include <sys/uio.h>

static int serve(const char *addr, int port, const char *name, int count)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_addr(addr, port, &ss, &sl);
    int fd = socket(fam, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0)
        die("bind %s:%d: %s", addr, port, strerror(errno));
    say("READY %d", sock_port(fd, 0));
    for (int i = 0; count <= 0 || i < count; i++) {
        char in[512], out[600];
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        struct iovec iv = {in, sizeof in};
        struct msghdr mh = {.msg_name = &from, .msg_namelen = fl, .msg_iov = &iv, .msg_iovlen = 1};
        ssize_t n = i % 2 ? recvmsg(fd, &mh, 0)
                          : recvfrom(fd, in, sizeof in, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            die("recv: %s", strerror(errno));
        if (i % 2)
            fl = mh.msg_namelen;
        int m = snprintf(out, sizeof out, "%s:%.*s", name, (int)n, in);
        struct iovec ov = {out, (size_t)m};
        struct msghdr oh = {.msg_name = &from, .msg_namelen = fl, .msg_iov = &ov, .msg_iovlen = 1};
        if ((i % 2 ? sendmsg(fd, &oh, 0) : sendto(fd, out, (size_t)m, 0, (struct sockaddr *)&from, fl)) < 0)
            die("send: %s", strerror(errno));
    }
    return 0;
}

static int ask(const char *addr, int port, const char *msg)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_addr(addr, port, &ss, &sl);
    int fd = socket(fam, SOCK_DGRAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    for (int i = 0; i < 20; i++) {
        if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&ss, sl) < 0)
            die("sendto: %s", strerror(errno));
        if (wait_readable(fd, 500) <= 0)
            continue;
        char in[600];
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, in, sizeof in - 1, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            die("recvfrom: %s", strerror(errno));
        in[n] = 0;
        say("REPLY %s", in);
        say("FROM %d", ntohs(((struct sockaddr_in *)&from)->sin_port));
        return 0;
    }
    say("NOREPLY");
    return 1;
}

int main(int argc, char **argv)
{
    lifetime(60);
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "serve"))
        return serve(argv[2], parse_port(argv[3]), argv[4], argc == 6 ? parse_int(argv[5]) : 0);
    if (argc == 5 && !strcmp(argv[1], "ask"))
        return ask(argv[2], parse_port(argv[3]), argv[4]);
    die("usage: udpecho serve ADDR PORT NAME [COUNT] | udpecho ask ADDR PORT MSG");
}
