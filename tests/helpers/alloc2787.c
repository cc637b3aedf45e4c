/* alloc2787 — the #2787 idiom with the port-taker inside the same program.
 *
 *   alloc2787 [--count N] [--sleep-ms MS] [--hold H] [--until-failure]
 *   alloc2787 --exhaust
 *
 * The main thread allocates N ports the way Tahoe-LAFS did (bind
 * 127.0.0.1:0, read the number P, close, wait MS, then bind 0.0.0.0:P with
 * SO_REUSEADDR and listen) while a second thread keeps taking ephemeral
 * ports the two ways real programs do: binds to port 0, and outgoing
 * loopback connects (to a listener of its own), holding up to H of them and
 * cycling the oldest. Run several copies in one namespace and the takers of
 * the siblings join in.
 *
 * Prints "ERR <step> <ENAME> <port>" for the first few failures and then
 * "ALLOC ok=<n> inuse=<n> other=<n>" (inuse: the later bind of P failed with
 * EADDRINUSE, the #2787 failure); exits 0 when every allocation succeeded,
 * 1 otherwise. --until-failure stops at the first failed allocation (to
 * show that the idiom can fail without spending the time of N).
 *
 * --exhaust: takes every port of the ephemeral range with binds to port 0
 * (until one fails), then binds 0.0.0.0:8000, listens and connects to it;
 * prints "EXHAUSTED <n> <ENAME>" and "EXPLICIT OK" or "EXPLICIT ERR <step>
 * <ENAME>". */
#include "common.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>

static atomic_int g_stop;
static int g_hold = 24;

static void close_abort(int fd)
{
    /* An abortive close: no TIME_WAIT, so the taker's connects never use
     * the range up by themselves. */
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void *taker(void *arg)
{
    (void)arg;
    struct sockaddr_storage any, dst;
    socklen_t al, dl;
    parse_addr("127.0.0.1", 0, &any, &al);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&any, al) < 0 || listen(lfd, 64) < 0)
        die("taker listener: %s", strerror(errno));
    parse_addr("127.0.0.1", sock_port(lfd, 0), &dst, &dl);
    int *ring = calloc((size_t)g_hold, sizeof *ring);
    for (int i = 0; i < g_hold; i++)
        ring[i] = -1;
    for (unsigned n = 0; !atomic_load(&g_stop); n++) {
        int k = (int)(n % (unsigned)g_hold);
        if (ring[k] >= 0)
            close_abort(ring[k]);
        ring[k] = -1;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        if (n % 2 == 0) {
            if (bind(fd, (struct sockaddr *)&any, al) == 0)
                ring[k] = fd;
            else
                close(fd);
        } else if (connect(fd, (struct sockaddr *)&dst, dl) == 0) {
            int c = accept(lfd, NULL, NULL);
            if (c >= 0)
                close(c);
            ring[k] = fd;
        } else {
            close(fd);
        }
        if (n % 4 == 3)
            sleep_ms(1);
    }
    for (int i = 0; i < g_hold; i++)
        if (ring[i] >= 0)
            close_abort(ring[i]);
    close(lfd);
    free(ring);
    return NULL;
}

static int exhaust(void)
{
    lifetime(30);
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("127.0.0.1", 0, &ss, &sl);
    int n = 0, err = 0;
    for (; n < 70000; n++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
            err = errno;
            close(fd);
            break;
        }
    }
    say("EXHAUSTED %d %s", n, errname(err));
    parse_addr("0.0.0.0", 8000, &ss, &sl);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        say("EXPLICIT ERR bind %s", errname(errno));
        return 1;
    }
    if (listen(fd, 8) < 0) {
        say("EXPLICIT ERR listen %s", errname(errno));
        return 1;
    }
    parse_addr("127.0.0.1", 8000, &ss, &sl);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    /* no ephemeral port is left for the client either: the kernel's own
     * answer, whatever it is, is not the shim's business */
    if (connect(c, (struct sockaddr *)&ss, sl) < 0)
        say("CONNECT %s", errname(errno));
    say("EXPLICIT OK");
    return 0;
}

int main(int argc, char **argv)
{
    int count = 500, pause_ms = 3;
    bool until_failure = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = parse_int(argv[++i]);
        else if (!strcmp(argv[i], "--sleep-ms") && i + 1 < argc)
            pause_ms = parse_int(argv[++i]);
        else if (!strcmp(argv[i], "--until-failure"))
            until_failure = true;
        else if (!strcmp(argv[i], "--exhaust"))
            return exhaust();
        else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
            g_hold = parse_int(argv[++i]);
        else
            die("unknown option '%s'", argv[i]);
    }
    if (g_hold < 1)
        die("--hold must be at least 1");
    lifetime(100);

    pthread_t th;
    if (pthread_create(&th, NULL, taker, NULL))
        die("pthread_create");
    int ok = 0, inuse = 0, other = 0, shown = 0;
    for (int i = 0; i < count && !(until_failure && inuse + other); i++) {
        struct sockaddr_storage ss;
        socklen_t sl;
        parse_addr("127.0.0.1", 0, &ss, &sl);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
            if (shown++ < 5)
                say("ERR bind0 %s 0", errname(errno));
            close(fd);
            other++;
            continue;
        }
        int port = sock_port(fd, 0);
        close(fd);

        sleep_ms(pause_ms);

        parse_addr("0.0.0.0", port, &ss, &sl);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            die("socket: %s", strerror(errno));
        if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 8) < 0) {
            int e = errno;
            if (shown++ < 5)
                say("ERR rebind %s %d", errname(e), port);
            if (e == EADDRINUSE)
                inuse++;
            else
                other++;
        } else {
            ok++;
        }
        close(fd);
    }
    atomic_store(&g_stop, 1);
    pthread_join(th, NULL);
    say("ALLOC ok=%d inuse=%d other=%d", ok, inuse, other);
    return ok == count ? 0 : 1;
}
