/* vforker — a listener whose descriptor number a child sharing its memory
 * closes or replaces before it execs, the way CPython's subprocess (vfork,
 * then close_range(3, ...)) and other spawners do.
 *
 *   vforker MODE ADDR PORT
 *
 * Listens on ADDR:PORT, then makes a child that does MODE and waits for it:
 *
 *   close        vfork; the child close()s the listener, then execs /bin/true
 *   close-range  vfork; the child calls close_range(3, ~0U, 0), then execs
 *   dup2         vfork; the child dup2()s stdin onto the listener's number
 *                and closes that, then execs
 *   exit         vfork; the child calls exit(0), which runs the destructors
 *   fork         vfork; the child forks, its child closes the listener and
 *                _exits; the vfork child waits for it and _exits
 *   clone        clone(CLONE_VM) with a stack of its own, running beside the
 *                parent: close, close_range(3, ~0U, 0), _exit
 *   spawn        posix_spawn /bin/true with the file actions close and dup2
 *                onto the listener's number
 *   late         the child is made before the parent's first socket call
 *                (the listener is made after it): it calls close_range(3,
 *                ~0U, 0), binds a close-on-exec socket to ADDR:PORT itself,
 *                and execs, so its calls are the process's first ones
 *
 * Then prints "CHILD <exit status>", "NAME <port getsockname reports>" and
 * "READY", serves one echo connection as "vforker" ("SERVED" or "ERR ..."),
 * and waits for EOF on stdin before exiting. Exit status 0 when the child
 * exited 0 and the connection was served. */
#include "common.h"

#include <sched.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/wait.h>

extern char **environ;

int close_range(unsigned first, unsigned last, int flags);

static int g_lfd = -1;
static struct sockaddr_storage g_ss;
static socklen_t g_sl;

static int wait_child(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, __WALL) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static _Noreturn void exec_true(void)
{
    char *const argv[] = {"true", NULL};
    execve("/bin/true", argv, environ);
    _exit(127);
}

static int clone_child(void *arg)
{
    (void)arg;
    close(g_lfd);
    close_range(3, ~0U, 0);
    _exit(0);
}

/* The child's part; returns its exit status. */
static int run_child(const char *mode)
{
    if (!strcmp(mode, "spawn")) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addclose(&fa, g_lfd);
        posix_spawn_file_actions_adddup2(&fa, 0, g_lfd);
        char *const argv[] = {"true", NULL};
        pid_t pid;
        int e = posix_spawn(&pid, "/bin/true", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (e)
            die("posix_spawn: %s", strerror(e));
        return wait_child(pid);
    }
    if (!strcmp(mode, "clone")) {
        enum { STACK = 256 * 1024 };
        static char stack[STACK] __attribute__((aligned(16)));
        pid_t pid = clone(clone_child, stack + STACK, CLONE_VM | SIGCHLD, NULL);
        if (pid < 0)
            die("clone: %s", strerror(errno));
        return wait_child(pid);
    }
    pid_t pid = vfork();
    if (pid < 0)
        die("vfork: %s", strerror(errno));
    if (pid == 0) {
        /* The parent's memory: only calls, no stores of our own. */
        if (!strcmp(mode, "close")) {
            close(g_lfd);
        } else if (!strcmp(mode, "close-range")) {
            close_range(3, ~0U, 0);
        } else if (!strcmp(mode, "late")) {
            close_range(3, ~0U, 0);
            int s = socket(g_ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (s >= 0)
                bind(s, (struct sockaddr *)&g_ss, g_sl);
        } else if (!strcmp(mode, "dup2")) {
            dup2(0, g_lfd);
            close(g_lfd);
        } else if (!strcmp(mode, "exit")) {
            exit(0);
        } else if (!strcmp(mode, "fork")) {
            pid_t g = fork();
            if (g == 0) {
                close(g_lfd);
                _exit(0);
            }
            _exit(g < 0 ? 1 : wait_child(g));
        }
        exec_true();
    }
    return wait_child(pid);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        die("usage: vforker MODE ADDR PORT");
    lifetime(60);
    const char *mode = argv[1];
    int port = parse_port(argv[3]);
    static const char *const modes[] = {"close", "close-range", "dup2", "exit", "fork",
                                        "clone", "spawn", "late"};
    bool known = false;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        known |= !strcmp(mode, modes[i]);
    if (!known)
        die("unknown mode '%s'", mode);

    parse_addr(argv[2], port, &g_ss, &g_sl);
    int st;
    if (!strcmp(mode, "late")) {
        /* The number the listener will get, closed by the child first. */
        st = run_child(mode);
        g_lfd = listen_or_die(argv[2], port);
    } else {
        g_lfd = listen_or_die(argv[2], port);
        st = run_child(mode);
    }
    say("CHILD %d", st);
    say("NAME %d", sock_port(g_lfd, 0));
    say("READY");
    int served = serve_one(g_lfd, "vforker", 20000);
    if (served < 0)
        say("ERR serve %s", errname(errno));
    else
        say("SERVED");
    char buf[64];
    for (;;) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EINTR))
            break;
    }
    return st == 0 && served == 0 ? 0 : 1;
}
