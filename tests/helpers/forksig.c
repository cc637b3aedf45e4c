/* forksig — signal handlers and fork handlers that call into the shim while
 * fork() runs, or that fork while the shim is busy.
 *
 *   forksig MODE ADDR PORT
 *
 *   signal     listens on PORT and forks; a fork handler of the program's
 *              (run after the shim's prepare handler: registered before it)
 *              raises SIGUSR1, whose handler dup()s the listener and keeps
 *              the copy. Then the original is closed: the copy must still be
 *              PORT. Prints "HANDLER <times run>", "DUP NAME <port>", then
 *              "READY" and serves one echo connection on the copy.
 *   call       the same fork handler calls close(dup(listener)) itself;
 *              prints "FORKED" and "NAME <port>", "READY", serves one.
 *   interrupt  prints "BINDING <pid>" and binds PORT: the test holds the
 *              manifest's flock, so the bind waits inside the shim; the
 *              test then sends SIGUSR1, whose handler forks (the child
 *              _exits 7) and prints "FORKED <child status>". When the bind
 *              is done: "BOUND <port>".
 *
 * Every fork's child exits at once. A deadlock is the failure: the helper's
 * lifetime (60 s) and the test's deadline bound it. */
#include "common.h"

#include <pthread.h>
#include <sys/wait.h>

static int g_mode;   /* 1 signal, 2 call, 3 interrupt */
static int g_lfd = -1;
static volatile sig_atomic_t g_handled, g_dup = -1;
static volatile sig_atomic_t g_in_fork;

/* Fork handlers run in the reverse order of registration when preparing:
 * registered here, before any library constructor (the shim's included),
 * this one runs after the shim's prepare handler, with its locks held. */
static void prepare(void)
{
    if (!g_in_fork)
        return;
    if (g_mode == 1) {
        raise(SIGUSR1);
    } else if (g_mode == 2) {
        int d = dup(g_lfd);
        if (d >= 0)
            close(d);
    }
}

static void register_early(void)
{
    pthread_atfork(prepare, NULL, NULL);
}

__attribute__((section(".preinit_array"), used)) static void (*const early)(void) =
    register_early;

static void on_usr1(int sig)
{
    (void)sig;
    int e = errno;
    if (g_mode == 1) {
        g_dup = dup(g_lfd);
    } else if (g_mode == 3) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(7);
        int st = -1;
        if (pid > 0)
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        char line[64];
        int n = snprintf(line, sizeof line, "FORKED %d\n",
                         pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        ssize_t w = write(1, line, (size_t)n);
        (void)w;
    }
    g_handled++;
    errno = e;
}

static int fork_and_reap(void)
{
    g_in_fork = 1;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    g_in_fork = 0;
    if (pid < 0)
        die("fork: %s", strerror(errno));
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        die("usage: forksig signal|call|interrupt ADDR PORT");
    lifetime(60);
    g_mode = !strcmp(argv[1], "signal") ? 1 : !strcmp(argv[1], "call") ? 2
           : !strcmp(argv[1], "interrupt") ? 3 : 0;
    if (!g_mode)
        die("unknown mode '%s'", argv[1]);
    int port = parse_port(argv[3]);
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    if (g_mode == 3) {
        say("BINDING %d", (int)getpid());
        g_lfd = listen_or_die(argv[2], port);
        say("BOUND %d", sock_port(g_lfd, 0));
        return g_handled == 1 ? 0 : 1;
    }

    g_lfd = listen_or_die(argv[2], port);
    int st = fork_and_reap();
    if (st != 0)
        die("the child exited %d", st);
    int serve = g_lfd;
    if (g_mode == 1) {
        say("HANDLER %d", (int)g_handled);
        if (g_dup < 0)
            die("dup in the handler failed");
        close(g_lfd);
        serve = g_dup;
        say("DUP NAME %d", sock_port(serve, 0));
    } else {
        say("FORKED");
        say("NAME %d", sock_port(serve, 0));
    }
    say("READY");
    if (serve_one(serve, "forksig", 20000) < 0)
        die("serve: %s", errname(errno));
    return 0;
}
