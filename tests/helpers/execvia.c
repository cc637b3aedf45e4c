/* execvia — start a program by one named member of the exec family.
 *
 *   execvia HOW PROG [ARG...]
 *
 * HOW: execve execv execvp execvpe execl execle execlp fexecve (this
 * process becomes PROG), or posix_spawn posix_spawnp vfork (a child runs
 * PROG; execvia waits for it and exits with its status). The p variants
 * search PATH for PROG; the others take it as a path. execl* pass at most
 * four arguments. With EXECVIA_OUT=FILE the spawned child's stdout goes to
 * FILE through a posix_spawn file action (open), and with EXECVIA_PGROUP=1
 * the child gets a process group of its own (an attribute): both must
 * still hold for a program spawned through portshim's helper. Exit 100 when
 * the exec or the spawn fails (ERR <ENAME> printed). */
#include "common.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/wait.h>

extern char **environ;

static int wait_child(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

static int spawn(bool search, char **argv)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    const char *out = getenv("EXECVIA_OUT");
    if (out && *out)
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const char *pg = getenv("EXECVIA_PGROUP");
    if (pg && !strcmp(pg, "1")) {
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attr, 0);
    }
    pid_t pid;
    int r = search ? posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ)
                   : posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (r) {
        say("ERR %s", errname(r));
        return EXIT_SETUP;
    }
    say("SPAWNED %d", (int)pid);
    return wait_child(pid);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        die("usage: execvia HOW PROG [ARG...]");
    const char *how = argv[1];
    char **av = argv + 2;
    int n = argc - 2;
    const char *a[5] = {NULL, NULL, NULL, NULL, NULL};
    for (int i = 1; i < n && i < 5; i++)
        a[i - 1] = av[i];
    if (n > 5 && !strncmp(how, "execl", 5))
        die("execl*: at most four arguments");
    if (!strcmp(how, "execve"))
        execve(av[0], av, environ);
    else if (!strcmp(how, "execv"))
        execv(av[0], av);
    else if (!strcmp(how, "execvp"))
        execvp(av[0], av);
    else if (!strcmp(how, "execvpe"))
        execvpe(av[0], av, environ);
    else if (!strcmp(how, "execl"))
        execl(av[0], av[0], a[0], a[1], a[2], a[3], (char *)NULL);
    else if (!strcmp(how, "execle"))
        execle(av[0], av[0], a[0], a[1], a[2], a[3], (char *)NULL, environ);
    else if (!strcmp(how, "execlp"))
        execlp(av[0], av[0], a[0], a[1], a[2], a[3], (char *)NULL);
    else if (!strcmp(how, "fexecve")) {
        int fd = open(av[0], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die("open %s: %s", av[0], strerror(errno));
        fexecve(fd, av, environ);
    } else if (!strcmp(how, "posix_spawn"))
        return spawn(false, av);
    else if (!strcmp(how, "posix_spawnp"))
        return spawn(true, av);
    else if (!strcmp(how, "vfork")) {
        pid_t pid = vfork();
        if (pid == 0) {
            execve(av[0], av, environ);
            _exit(EXIT_SETUP);
        }
        if (pid < 0)
            die("vfork: %s", strerror(errno));
        return wait_child(pid);
    } else
        die("unknown HOW '%s'", how);
    say("ERR %s", errname(errno));
    return EXIT_SETUP;
}
