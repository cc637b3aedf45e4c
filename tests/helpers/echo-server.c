/* echo-server — a TCP server on a fixed address and port, as a test suite's
 * server would be.
 *
 *   echo-server ADDR PORT [--name NAME] [--reuseaddr] [--reuseport]
 *               [--v6only 0|1] [--count N] [--ready-file FILE] [--lifetime S]
 *
 * Binds, listens, prints "READY <port getsockname reports>" (and creates
 * FILE), then answers connections with the echo protocol (common.h): N of
 * them, or until killed. A failed bind prints "ERR bind <ENAME>" and exits 1
 * for EADDRINUSE, 2 for any other errno. */
#include "common.h"

#include <fcntl.h>
#include <netinet/in.h>

int main(int argc, char **argv)
{
    const char *name = "echo", *ready = NULL;
    int reuseaddr = 0, reuseport = 0, v6only = -1, count = -1;
    unsigned life = 60;
    if (argc < 3)
        die("usage: echo-server ADDR PORT [--name N] [--reuseaddr] [--reuseport] "
            "[--v6only 0|1] [--count N] [--ready-file F] [--lifetime S]");
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--reuseaddr"))
            reuseaddr = 1;
        else if (!strcmp(argv[i], "--reuseport"))
            reuseport = 1;
        else if (!strcmp(argv[i], "--v6only") && i + 1 < argc)
            v6only = parse_int(argv[++i]);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = parse_int(argv[++i]);
        else if (!strcmp(argv[i], "--ready-file") && i + 1 < argc)
            ready = argv[++i];
        else if (!strcmp(argv[i], "--lifetime") && i + 1 < argc)
            life = (unsigned)parse_int(argv[++i]);
        else
            die("unknown option '%s'", argv[i]);
    }
    lifetime(life);

    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_addr(argv[1], parse_port(argv[2]), &ss, &sl);
    int fd = socket(fam, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    if (reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        die("SO_REUSEADDR: %s", strerror(errno));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        die("SO_REUSEPORT: %s", strerror(errno));
    if (v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
        die("IPV6_V6ONLY: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        int e = errno;
        say("ERR bind %s", errname(e));
        return e == EADDRINUSE ? 1 : 2;
    }
    if (listen(fd, 128) < 0) {
        int e = errno;
        say("ERR listen %s", errname(e));
        return e == EADDRINUSE ? 1 : 2;
    }
    say("READY %d", sock_port(fd, 0));
    if (ready) {
        int rfd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (rfd < 0)
            die("%s: %s", ready, strerror(errno));
        close(rfd);
    }
    for (int served = 0; count < 0 || served < count; served++)
        if (serve_one(fd, name, -1) < 0)
            die("accept: %s", strerror(errno));
    close(fd);
    return 0;
}
