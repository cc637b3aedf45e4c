/* threads — many threads binding and dialling at once in one process.
 *
 *   threads ADDR BASEPORT N ROUNDS
 *
 * Thread i binds and listens on BASEPORT+i; once all listen, every thread,
 * ROUNDS times, dials its neighbour's port (BASEPORT+(i+1)%N), answers the
 * connection from its other neighbour and checks the reply names the
 * neighbour and getpeername() reports the neighbour's port. Prints
 * "THREADS ok=<n> fail=<n>" (and a line per failure); exit 0 if none failed. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

static const char *g_addr;
static int g_base, g_n, g_rounds;
static pthread_barrier_t g_barrier;
static _Atomic int g_ok, g_fail;

static void fail(int i, const char *what, int e)
{
    say("FAIL thread %d %s %s", i, what, errname(e));
    atomic_fetch_add(&g_fail, 1);
}

static void *run(void *arg)
{
    int i = (int)(long)arg;
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_addr(g_addr, g_base + i, &ss, &sl);
    int lfd = socket(fam, SOCK_STREAM, 0);
    int bound = lfd >= 0 && bind(lfd, (struct sockaddr *)&ss, sl) == 0 && listen(lfd, 64) == 0;
    if (!bound)
        fail(i, "bind", errno);
    else if (sock_port(lfd, 0) != g_base + i)
        fail(i, "getsockname", 0);
    pthread_barrier_wait(&g_barrier);
    if (!bound)
        return NULL;

    int next = (i + 1) % g_n;
    for (int r = 0; r < g_rounds; r++) {
        parse_addr(g_addr, g_base + next, &ss, &sl);
        int c = socket(fam, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&ss, sl) < 0) {
            fail(i, "connect", errno);
            if (c >= 0)
                close(c);
            continue;
        }
        if (sock_port(c, 1) != g_base + next)
            fail(i, "getpeername", 0);
        char msg[32];
        int n = snprintf(msg, sizeof msg, "from-%d\n", i);
        write_all(c, msg, (size_t)n);

        char name[32];
        snprintf(name, sizeof name, "t%d", i);
        if (serve_one(lfd, name, 10000) < 0)
            fail(i, "accept", errno);

        char reply[256], want[64];
        snprintf(want, sizeof want, "t%d %d from-%d", next, g_base + next, i);
        if (read_reply(c, reply, sizeof reply, 10000, 1) < 0)
            fail(i, "read", errno);
        else {
            chomp(reply);
            if (strcmp(reply, want)) {
                say("FAIL thread %d got '%s' want '%s'", i, reply, want);
                atomic_fetch_add(&g_fail, 1);
            } else {
                atomic_fetch_add(&g_ok, 1);
            }
        }
        close(c);
    }
    close(lfd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        die("usage: threads ADDR BASEPORT N ROUNDS");
    g_addr = argv[1];
    g_base = parse_port(argv[2]);
    g_n = parse_int(argv[3]);
    g_rounds = parse_int(argv[4]);
    lifetime(60);
    pthread_t *t = calloc((size_t)g_n, sizeof *t);
    pthread_barrier_init(&g_barrier, NULL, (unsigned)g_n);
    for (long i = 0; i < g_n; i++)
        if (pthread_create(&t[i], NULL, run, (void *)i) != 0)
            die("pthread_create failed");
    for (int i = 0; i < g_n; i++)
        pthread_join(t[i], NULL);
    free(t);
    pthread_barrier_destroy(&g_barrier);
    say("THREADS ok=%d fail=%d", atomic_load(&g_ok), atomic_load(&g_fail));
    return atomic_load(&g_fail) != 0;
}
