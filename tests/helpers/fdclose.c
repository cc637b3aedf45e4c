/* fdclose — a program that closes every descriptor behind the shim's back
 * (closefrom(), or close_range as a raw system call: neither goes through a
 * wrapper) and may then reuse the number the shim kept its manifest on.
 *
 *   fdclose closefrom|syscall ADDR PORT FILE [--fill]
 *
 * 1. Listens on PORT (the shim opens its manifest) and prints "NAME <port>".
 * 2. Closes every descriptor from 3 up, the shim's among them.
 * 3. With --fill: opens FILE (append) again and again until it holds the
 *    number the shim parks its descriptor at, min(RLIMIT_NOFILE, 1024) - 24,
 *    and prints "FILLED <that number>".
 * 4. Listens on PORT+1 and closes it, listens on PORT+2 and keeps it, and
 *    prints "NAMES <port> <port>" (records the shim must still write).
 * 5. Appends "own line" to FILE through the last descriptor it opened (or a
 *    new one) and exits 0. */
#include "common.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6 || (argc == 6 && strcmp(argv[5], "--fill")))
        die("usage: fdclose closefrom|syscall ADDR PORT FILE [--fill]");
    lifetime(60);
    const char *how = argv[1], *addr = argv[2], *file = argv[4];
    int port = parse_port(argv[3]);
    if (strcmp(how, "closefrom") && strcmp(how, "syscall"))
        die("unknown way to close '%s'", how);

    int a = listen_or_die(addr, port);
    say("NAME %d", sock_port(a, 0));
    if (!strcmp(how, "closefrom"))
        closefrom(3);
    else if (syscall(SYS_close_range, 3U, ~0U, 0) < 0)
        die("close_range: %s", strerror(errno));

    int own = -1;
    if (argc == 6) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
            die("getrlimit: %s", strerror(errno));
        long target = (rl.rlim_cur > 1024 ? 1024 : (long)rl.rlim_cur) - 24;
        while (own < target) {
            own = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            if (own < 0)
                die("open %s: %s", file, strerror(errno));
        }
        say("FILLED %d", own);
    }

    int b = listen_or_die(addr, port + 1);
    int bport = sock_port(b, 0);
    close(b);
    int c = listen_or_die(addr, port + 2);
    say("NAMES %d %d", bport, sock_port(c, 0));

    if (own < 0 && (own = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
        die("open %s: %s", file, strerror(errno));
    if (write_all(own, "own line\n", 9) < 0)
        die("write %s: %s", file, strerror(errno));
    return 0;
}
