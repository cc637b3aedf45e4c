/* binder — one bind, taken at a moment the caller chooses.
 *
 *   binder ADDR PORT [--listen] [--gate] [--hold] [--reuseaddr] [--reuseport]
 *
 * PORT may be "BASE+OFFSET" (spawnmany writes the offset). With --gate the
 * bind waits for EOF on stdin, so that many binders started by spawnmany
 * bind at once. Prints "OK <port getsockname reports>" or "ERR <ENAME>".
 * With --hold a successful binder keeps its socket until EOF on fd 3, so a
 * winner holds the port until every rival has tried. Then it closes the
 * socket and exits: 0 bound, 1 EADDRINUSE, 2 any other error. */
#include "common.h"

static int parse_sum(const char *s)
{
    const char *plus = strchr(s, '+');
    if (!plus)
        return parse_port(s);
    char base[16];
    snprintf(base, sizeof base, "%.*s", (int)(plus - s), s);
    return parse_int(base) + parse_int(plus + 1);
}

static void wait_eof(int fd)
{
    char buf[64];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EINTR))
            return;
    }
}

int main(int argc, char **argv)
{
    int do_listen = 0, gate = 0, hold = 0, reuseaddr = 0, reuseport = 0;
    if (argc < 3)
        die("usage: binder ADDR PORT [--listen] [--gate] [--hold] [--reuseaddr] [--reuseport]");
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--listen"))
            do_listen = 1;
        else if (!strcmp(argv[i], "--gate"))
            gate = 1;
        else if (!strcmp(argv[i], "--hold"))
            hold = 1;
        else if (!strcmp(argv[i], "--reuseaddr"))
            reuseaddr = 1;
        else if (!strcmp(argv[i], "--reuseport"))
            reuseport = 1;
        else
            die("unknown option '%s'", argv[i]);
    }
    lifetime(60);

    struct sockaddr_storage ss;
    socklen_t sl;
    int port = parse_sum(argv[2]);
    int fam = parse_addr(argv[1], port, &ss, &sl);
    int fd = socket(fam, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    if (reuseaddr)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (gate)
        wait_eof(0);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        int e = errno;
        say("ERR %s", errname(e));
        return e == EADDRINUSE ? 1 : 2;
    }
    if (do_listen && listen(fd, 16) < 0) {
        int e = errno;
        say("ERR listen %s", errname(e));
        return 2;
    }
    say("OK %d", sock_port(fd, 0));
    if (hold)
        wait_eof(3);
    close(fd);
    return 0;
}
