/* client — dials a server the way a test's client would.
 *
 *   client ADDR PORT [MSG] [--raw] [--repeat N] [--retry-ms MS]
 *          [--wait-file FILE]...
 *
 * Echo mode (default): sends MSG (default "hello") as one line and prints
 * "REPLY <answer>" and "PEER <port getpeername reports>" per connection.
 * --raw: MSG's \r, \n and \\ escapes are decoded, sent as is, and everything
 * the server sends until it closes is printed after "REPLY ".
 * --retry-ms: keep retrying a refused connect for up to MS milliseconds.
 * --wait-file: wait (up to 20 s) until FILE exists before dialling.
 *
 * Exit status: 0 ok, 3 ECONNREFUSED, 4 another connect error (printed as
 * "ERR connect <ENAME>"), 5 no answer. */
#include "common.h"

#include <sys/stat.h>

static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *o++ = *s == 'r' ? '\r' : *s == 'n' ? '\n' : *s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static int dial(const char *host, int port, long retry_until)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_addr(host, port, &ss, &sl);
    for (;;) {
        int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
            return fd;
        int e = errno;
        close(fd);
        if (e == ECONNREFUSED && now_ms() < retry_until) {
            sleep_ms(20);
            continue;
        }
        errno = e;
        return -1;
    }
}

int main(int argc, char **argv)
{
    const char *msg = "hello";
    const char *waits[16];
    int nwaits = 0, raw = 0, repeat = 1, retry = 0;
    if (argc < 3)
        die("usage: client ADDR PORT [MSG] [--raw] [--repeat N] [--retry-ms MS] "
            "[--wait-file F]...");
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--raw"))
            raw = 1;
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = parse_int(argv[++i]);
        else if (!strcmp(argv[i], "--retry-ms") && i + 1 < argc)
            retry = parse_int(argv[++i]);
        else if (!strcmp(argv[i], "--wait-file") && i + 1 < argc && nwaits < 16)
            waits[nwaits++] = argv[++i];
        else if (argv[i][0] != '-' && i == 3)
            msg = argv[i];
        else
            die("unknown option '%s'", argv[i]);
    }
    lifetime(60);

    for (int i = 0; i < nwaits; i++) {
        struct stat st;
        long until = now_ms() + 20000;
        while (stat(waits[i], &st) < 0) {
            if (now_ms() > until)
                die("%s did not appear", waits[i]);
            sleep_ms(10);
        }
    }

    char *text = strdup(msg);
    if (raw)
        unescape(text);
    int port = parse_port(argv[2]);
    for (int n = 0; n < repeat; n++) {
        int fd = dial(argv[1], port, now_ms() + retry);
        if (fd < 0) {
            int e = errno;
            say("ERR connect %s", errname(e));
            return e == ECONNREFUSED ? 3 : 4;
        }
        int peer = sock_port(fd, 1);
        char reply[8192];
        if (raw) {
            if (write_all(fd, text, strlen(text)) < 0)
                die("write: %s", strerror(errno));
            /* the server closes when done (e.g. after a RESP QUIT) */
            size_t got = 0;
            long until = now_ms() + 10000;
            while (got + 1 < sizeof reply && now_ms() < until) {
                if (wait_readable(fd, 200) <= 0)
                    continue;
                ssize_t r = read(fd, reply + got, sizeof reply - 1 - got);
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            reply[got] = '\0';
            if (got == 0) {
                say("ERR no reply");
                return 5;
            }
        } else {
            char line[1100];
            int len = snprintf(line, sizeof line, "%s\n", text);
            if (write_all(fd, line, (size_t)len) < 0 ||
                read_reply(fd, reply, sizeof reply, 5000, 1) < 0) {
                say("ERR no reply");
                return 5;
            }
            chomp(reply);
        }
        say("REPLY %s", reply);
        say("PEER %d", peer);
        close(fd);
    }
    free(text);
    return 0;
}
