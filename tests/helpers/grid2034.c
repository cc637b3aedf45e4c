/* grid2034.c — an ordering race of the Tahoe-LAFS #2034 kind, as a small
 * client/server program with hard-coded ports.
 *
 *   grid2034 [--servers N] [--quorum K] [--base PORT] [--slow-ms MS]
 *
 * Forks N servers on 127.0.0.1:BASE+1 .. BASE+N (defaults: 7 servers, base
 * 7000). Server 1 holds the newest version of a record (v2) and answers at
 * once; the others hold v1 and are slow: each waits MS milliseconds (default
 * 50, a slow disk) before it answers. The client connects to every server,
 * sends one query to each and — the bug — decides as soon as K answers
 * (default 3) have arrived, taking the newest version among them, instead of
 * waiting for the server that matters. It prints
 *
 *   decided vX from servers A,B,C
 *
 * then reads the late answers (printed as "late ... ignored", as the real
 * updater rejected them), waits for every server to exit, and exits 0 when it
 * decided v2, 1 when it decided v1 (EXIT_SETUP when it could not run).
 *
 * Run bare, server 1 answers MS milliseconds before any other, so it is
 * always in the quorum and every run passes. Under `portshim stress --inject
 * 'accept-delay=100ms@0.4'` each server's accept is delayed by 100 ms
 * with probability 0.4, decided by the run's seed: when server 1 is delayed
 * and at least K slow servers are not, server 1's answer comes after the
 * quorum (at 100 ms against MS) and the client decides v1. The delays are
 * fixed and every gap between the arrival times is at least min(MS, 100 - MS)
 * = 50 ms: on a loaded machine a process woken by its connection or its
 * timer was seen running up to ~45 ms late (two cores, ASan, eight busy
 * loops), which a 25 ms gap did not survive (a failing seed then replayed as a
 * pass). So the seed, not the scheduler, decides the outcome, and a failing
 * seed replays as a failure. Which seeds fail depends on the decisions only
 * (the probability, not the length of a delay). With N = 7, K = 3 and p = 0.4 about a third of the
 * seeds fail; with fewer servers, fewer do — the race hides in a small grid,
 * as #2034 did.
 *
 * Servers exit by themselves after one query (and within their lifetime);
 * nothing is left behind. */
#include <stdbool.h>
#include <sys/wait.h>

#include "common.h"

#define MAX_SERVERS 32
#define QUERY "get record 2034\n"

static void serve(int idx, uint16_t port, int slow_ms, int ready)
{
    lifetime(10);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        die("server %d: socket: %s", idx, errname(errno));
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4) < 0) {
        int e = errno;
        ssize_t w = write(ready, "E", 1);
        (void)w;
        die("server %d: bind/listen 127.0.0.1:%u: %s", idx, port, errname(e));
    }
    if (write(ready, "R", 1) != 1)
        die("server %d: readiness pipe: %s", idx, errname(errno));
    close(ready);
    int c = accept(lfd, NULL, NULL);
    if (c < 0)
        die("server %d: accept: %s", idx, errname(errno));
    char q[64];
    if (read_reply(c, q, sizeof q, 5000, 1) < 0)
        die("server %d: no query", idx);
    if (idx > 1)
        sleep_ms(slow_ms);
    char ans[16];
    int n = snprintf(ans, sizeof ans, "v%d\n", idx == 1 ? 2 : 1);
    if (write_all(c, ans, (size_t)n) < 0)
        _exit(0);   /* the client may have gone: not this server's problem */
    close(c);
    close(lfd);
    _exit(0);
}

static int opt_int(int argc, char **argv, int *i, int lo, int hi)
{
    if (*i + 1 >= argc)
        die("%s needs a value", argv[*i]);
    int v = parse_int(argv[++*i]);
    if (v < lo || v > hi)
        die("%s: %s is out of range %d..%d", argv[*i - 1], argv[*i], lo, hi);
    return v;
}

int main(int argc, char **argv)
{
    int nserv = 7, quorum = 3, base = 7000, slow = 50;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--servers"))
            nserv = opt_int(argc, argv, &i, 2, MAX_SERVERS);
        else if (!strcmp(argv[i], "--quorum"))
            quorum = opt_int(argc, argv, &i, 1, MAX_SERVERS);
        else if (!strcmp(argv[i], "--base"))
            base = opt_int(argc, argv, &i, 1, 65535 - MAX_SERVERS);
        else if (!strcmp(argv[i], "--slow-ms"))
            slow = opt_int(argc, argv, &i, 0, 5000);
        else
            die("usage: grid2034 [--servers N] [--quorum K] [--base PORT] [--slow-ms MS]");
    }
    if (quorum > nserv)
        die("--quorum %d is more than --servers %d", quorum, nserv);
    lifetime(20);

    int ready[2];
    if (pipe(ready) < 0)
        die("pipe: %s", errname(errno));
    pid_t pids[MAX_SERVERS + 1] = {0};
    for (int s = 1; s <= nserv; s++) {
        pids[s] = fork();
        if (pids[s] < 0)
            die("fork: %s", errname(errno));
        if (pids[s] == 0) {
            close(ready[0]);
            serve(s, (uint16_t)(base + s), slow, ready[1]);
        }
    }
    close(ready[1]);
    bool setup_ok = true;
    for (int got = 0; got < nserv;) {
        char b;
        if (wait_readable(ready[0], 5000) <= 0 || read(ready[0], &b, 1) != 1) {
            setup_ok = false;
            break;
        }
        if (b != 'R')
            setup_ok = false;
        got++;
    }
    close(ready[0]);

    int fds[MAX_SERVERS + 1];
    for (int s = 1; s <= nserv; s++)
        fds[s] = -1;
    if (setup_ok) {
        for (int s = 1; s <= nserv; s++) {
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(base + s)),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            fds[s] = socket(AF_INET, SOCK_STREAM, 0);
            if (fds[s] < 0 || connect(fds[s], (struct sockaddr *)&a, sizeof a) < 0 ||
                write_all(fds[s], QUERY, sizeof QUERY - 1) < 0) {
                say("grid2034: server %d (port %d): %s", s, base + s, errname(errno));
                setup_ok = false;
                break;
            }
        }
    }

    /* Answers in arrival order; the decision at the K-th one. */
    int decided = 0, answered = 0;
    char from[256] = "";
    size_t fl = 0;
    long deadline = now_ms() + 10000;
    while (setup_ok && answered < nserv) {
        struct pollfd pf[MAX_SERVERS];
        int who[MAX_SERVERS], np = 0;
        for (int s = 1; s <= nserv; s++)
            if (fds[s] >= 0) {
                pf[np] = (struct pollfd){.fd = fds[s], .events = POLLIN};
                who[np++] = s;
            }
        long left = deadline - now_ms();
        int r = left > 0 ? poll(pf, (nfds_t)np, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            say("grid2034: only %d of %d servers answered in time", answered, nserv);
            setup_ok = false;
            break;
        }
        for (int k = 0; k < np; k++) {
            if (!pf[k].revents)
                continue;
            int s = who[k];
            char ans[16];
            if (read_reply(fds[s], ans, sizeof ans, 1000, 1) < 0 || ans[0] != 'v') {
                say("grid2034: server %d gave no answer", s);
                setup_ok = false;
                break;
            }
            int v = atoi(ans + 1);
            close(fds[s]);
            fds[s] = -1;
            answered++;
            if (answered <= quorum) {
                if (v > decided)
                    decided = v;
                fl += (size_t)snprintf(from + fl, sizeof from - fl, "%s%d", fl ? "," : "", s);
                if (answered == quorum)
                    say("decided v%d from servers %s", decided, from);
            } else {
                say("late answer v%d from server %d ignored", v, s);
            }
        }
    }

    for (int s = 1; s <= nserv; s++) {
        if (fds[s] >= 0)
            close(fds[s]);
        if (!setup_ok)
            kill(pids[s], SIGTERM);
    }
    for (int s = 1; s <= nserv; s++)
        while (waitpid(pids[s], NULL, 0) < 0 && errno == EINTR)
            ;
    if (!setup_ok)
        die("the grid could not run");
    return decided == 2 ? 0 : 1;
}
