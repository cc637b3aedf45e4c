/* forker — a server and a client split across fork, exec, posix_spawn and
 * vfork, the ways test suites start their processes.
 *
 *   forker MODE ADDR PORT NAME [CLIENT]
 *
 *   fork-client   listen on PORT, fork; the child dials PORT
 *   exec-client   listen on PORT, fork+exec CLIENT (the client helper)
 *   spawn-client  listen on PORT, posix_spawn CLIENT
 *   vfork-client  listen on PORT, vfork+exec CLIENT
 *   fork-bind     fork; the child binds and listens on PORT, the parent dials it
 *   inherit       listen on PORT, fork; the parent closes its copy, the child
 *                 reports getsockname() of the inherited listener and serves
 *   orphan        listen on PORT, fork; the parent exits at once, the child
 *                 keeps the listener and serves one connection
 *   fork-threads  four threads bind/listen/close PORT+1..PORT+4 in a loop
 *                 while the main thread forks 40 children that each bind
 *                 PORT+100+k: a lock held across fork would hang a child
 *
 * Every line a process prints starts with PARENT or CHILD. Exit status 0
 * when every step worked. Replies use the echo protocol (common.h). */
#include "common.h"

#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>

extern char **environ;

static int listener(const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_addr(addr, port, &ss, &sl);
    int fd = socket(fam, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int child_status(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int request(const char *who, const char *addr, int port)
{
    char reply[1200];
    int peer = -1;
    if (echo_request(addr, port, who, reply, sizeof reply, &peer) < 0) {
        say("%s ERR %s", who, errname(errno));
        return 1;
    }
    say("%s REPLY %s", who, reply);
    say("%s PEER %d", who, peer);
    return 0;
}

static int serve_and_reap(int lfd, const char *name, pid_t child)
{
    int rc = 0;
    if (serve_one(lfd, name, 10000) < 0) {
        say("PARENT ERR serve %s", errname(errno));
        rc = 1;
    }
    int st = child_status(child);
    say("PARENT CHILD-EXIT %d", st);
    return rc || st != 0;
}

static _Atomic int stop_threads;
static int thread_base;
static const char *thread_addr;

static void *churn(void *arg)
{
    int port = thread_base + (int)(long)arg;
    while (!atomic_load(&stop_threads)) {
        int fd = listener(thread_addr, port);
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

static int fork_threads(const char *addr, int base)
{
    thread_base = base;
    thread_addr = addr;
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, churn, (void *)(i + 1)) != 0)
            die("pthread_create failed");
    int ok = 0, bad = 0;
    for (int k = 0; k < 40; k++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(10); /* a deadlocked child dies of SIGALRM */
            int fd = listener(addr, base + 100 + k);
            if (fd < 0) {
                say("CHILD %d ERR %s", k, errname(errno));
                exit(1);
            }
            int got = sock_port(fd, 0);
            close(fd);
            exit(got == base + 100 + k ? 0 : 2);
        }
        int st = child_status(pid);
        if (st == 0)
            ok++;
        else {
            bad++;
            say("PARENT child %d status %d", k, st);
        }
    }
    atomic_store(&stop_threads, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    say("PARENT FORKS ok=%d bad=%d", ok, bad);
    return bad != 0;
}

int main(int argc, char **argv)
{
    if (argc < 5)
        die("usage: forker MODE ADDR PORT NAME [CLIENT]");
    const char *mode = argv[1], *addr = argv[2], *name = argv[4];
    const char *client = argc > 5 ? argv[5] : NULL;
    int port = parse_port(argv[3]);
    lifetime(60);

    if (!strcmp(mode, "fork-threads"))
        return fork_threads(addr, port);

    if (!strcmp(mode, "fork-bind")) {
        int sync[2];
        if (pipe(sync) < 0)
            die("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid == 0) {
            close(sync[0]);
            int fd = listener(addr, port);
            if (fd < 0) {
                say("CHILD ERR bind %s", errname(errno));
                exit(1);
            }
            say("CHILD READY %d", sock_port(fd, 0));
            ssize_t w = write(sync[1], "x", 1);
            (void)w;
            exit(serve_one(fd, name, 10000) < 0);
        }
        close(sync[1]);
        char c;
        if (read(sync[0], &c, 1) != 1) {
            say("PARENT ERR child did not bind");
            return 1;
        }
        int rc = request("PARENT", addr, port);
        int st = child_status(pid);
        say("PARENT CHILD-EXIT %d", st);
        return rc || st != 0;
    }

    int lfd = listener(addr, port);
    if (lfd < 0) {
        say("PARENT ERR bind %s", errname(errno));
        return 1;
    }
    say("PARENT READY %d", sock_port(lfd, 0));

    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    char *cargv[] = {(char *)client, (char *)addr, portstr, "CHILD", NULL};

    if (!strcmp(mode, "fork-client")) {
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd);
            exit(request("CHILD", addr, port));
        }
        return serve_and_reap(lfd, name, pid);
    }
    if (!strcmp(mode, "exec-client") || !strcmp(mode, "vfork-client")) {
        if (!client)
            die("%s needs CLIENT", mode);
        pid_t pid = mode[0] == 'e' ? fork() : vfork();
        if (pid == 0) {
            execv(client, cargv);
            _exit(127);
        }
        if (pid < 0)
            die("fork: %s", strerror(errno));
        return serve_and_reap(lfd, name, pid);
    }
    if (!strcmp(mode, "spawn-client")) {
        if (!client)
            die("spawn-client needs CLIENT");
        pid_t pid;
        int e = posix_spawn(&pid, client, NULL, NULL, cargv, environ);
        if (e != 0)
            die("posix_spawn: %s", strerror(e));
        return serve_and_reap(lfd, name, pid);
    }
    if (!strcmp(mode, "inherit")) {
        int sync[2];
        if (pipe(sync) < 0)
            die("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid == 0) {
            close(sync[0]);
            say("CHILD NAME %d", sock_port(lfd, 0));
            ssize_t w = write(sync[1], "x", 1);
            (void)w;
            exit(serve_one(lfd, name, 10000) < 0);
        }
        close(sync[1]);
        close(lfd); /* the child alone holds the listener now */
        say("PARENT CLOSED");
        char c;
        if (read(sync[0], &c, 1) != 1)
            return 1;
        int rc = request("PARENT", addr, port);
        int st = child_status(pid);
        say("PARENT CHILD-EXIT %d", st);
        return rc || st != 0;
    }
    if (!strcmp(mode, "orphan")) {
        int sync[2];
        if (pipe(sync) < 0)
            die("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid == 0) {
            close(sync[0]);
            say("CHILD PID %d NAME %d", (int)getpid(), sock_port(lfd, 0));
            ssize_t w = write(sync[1], "x", 1);
            (void)w;
            close(sync[1]);
            exit(serve_one(lfd, name, 20000) < 0);
        }
        close(sync[1]);
        char c;
        if (read(sync[0], &c, 1) != 1)
            return 1;
        say("PARENT EXITING");
        return 0; /* normal exit: the child still holds the listener */
    }
    die("unknown mode '%s'", mode);
}
