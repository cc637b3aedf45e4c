/* connrace — threads racing bind, listen, connect and close on one port.
 *
 *   connrace ADDR PORT THREADS ROUNDS
 *
 * Each thread, ROUNDS times, either listens on PORT for a moment (bind,
 * listen with a backlog of 1, accept what came, close) or dials PORT with a
 * blocking connect and closes. Nothing here may hang: prints "CONNRACE
 * rounds=<n> listened=<l> connected=<c>" and exits 0 when every thread is
 * done; the helper's lifetime (30 s) is the bound. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

static const char *g_addr;
static int g_port, g_rounds;
static _Atomic int g_done, g_listened, g_connected;

static void *run(void *arg)
{

    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_addr(g_addr, g_port, &ss, &sl);
    for (int r = 0; r < g_rounds; r++) {
        int s = socket(fam, SOCK_STREAM, 0);
        if (s < 0)
            die("socket: %s", strerror(errno));
        if (bind(s, (struct sockaddr *)&ss, sl) == 0 && listen(s, 1) == 0)
            atomic_fetch_add(&g_listened, 1);
        int c = socket(fam, SOCK_STREAM, 0);
        if (c < 0)
            die("socket: %s", strerror(errno));
        if (connect(c, (struct sockaddr *)&ss, sl) == 0)
            atomic_fetch_add(&g_connected, 1);
        close(c);
        close(s);
        atomic_fetch_add(&g_done, 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        die("usage: connrace ADDR PORT THREADS ROUNDS");
    lifetime(30);
    g_addr = argv[1];
    g_port = parse_port(argv[2]);
    int n = parse_int(argv[3]);
    g_rounds = parse_int(argv[4]);
    if (n < 1 || n > 64)
        die("THREADS must be 1..64");
    pthread_t t[64];
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, run, (void *)(long)i))
            die("pthread_create failed");
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    say("CONNRACE rounds=%d listened=%d connected=%d", atomic_load(&g_done),
        atomic_load(&g_listened), atomic_load(&g_connected));
    return 0;
}
