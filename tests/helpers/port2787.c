/* port2787 — allocates a port the way Tahoe-LAFS ticket #2787 did.
 *
 *   port2787 [--sleep-ms MS]
 *
 * Binds 127.0.0.1:0, reads the port the kernel chose, closes the socket,
 * waits (the window in which anything else may take the port), then binds
 * 0.0.0.0 on that number and listens, as the server would. Prints
 * "OK <port>" or "ERR <ENAME> <port>"; exits 0 on success, 1 on EADDRINUSE,
 * 2 on anything else. */
#include "common.h"

int main(int argc, char **argv)
{
    int pause_ms = 30;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sleep-ms") && i + 1 < argc)
            pause_ms = parse_int(argv[++i]);
        else
            die("unknown option '%s'", argv[i]);
    }
    lifetime(30);

    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("127.0.0.1", 0, &ss, &sl);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        int e = errno;
        say("ERR %s 0", errname(e));
        return e == EADDRINUSE ? 1 : 2;
    }
    int port = sock_port(fd, 0);
    close(fd);

    sleep_ms(pause_ms);

    parse_addr("0.0.0.0", port, &ss, &sl);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 8) < 0) {
        int e = errno;
        say("ERR %s %d", errname(e), port);
        return e == EADDRINUSE ? 1 : 2;
    }
    say("OK %d", port);
    close(fd);
    return 0;
}
