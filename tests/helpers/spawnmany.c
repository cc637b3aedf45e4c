/* spawnmany — N copies of a command, released at one instant.
 *
 *   spawnmany N [--hold] -- CMD [ARG...]
 *
 * "{i}" in an argument becomes the copy's index (0..N-1). Every copy gets a
 * shared pipe as stdin and starts when spawnmany closes it (see binder
 * --gate), so they race for real. Their stdout lines are passed through;
 * with --hold, fd 3 of every copy is a second pipe closed once N lines have
 * been printed (winners hold until every copy has reported). Ends with
 * "EXIT <status> <count>" lines and "DONE". Bounded: copies still running
 * after 60 s are killed and "TIMEOUT" is printed. */
#include "common.h"

#include <sys/wait.h>

static char *subst(const char *arg, int i)
{
    const char *at = strstr(arg, "{i}");
    if (!at)
        return strdup(arg);
    char *out = malloc(strlen(arg) + 16);
    sprintf(out, "%.*s%d%s", (int)(at - arg), arg, i, at + 3);
    return out;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        die("usage: spawnmany N [--hold] -- CMD [ARG...]");
    int n = parse_int(argv[1]), hold = 0, a = 2;
    if (!strcmp(argv[a], "--hold"))
        hold = 1, a++;
    if (strcmp(argv[a], "--") || a + 1 >= argc)
        die("expected -- CMD");
    a++;
    lifetime(90);

    int gate[2], res[2], hp[2] = {-1, -1};
    if (pipe(gate) < 0 || pipe(res) < 0 || (hold && pipe(hp) < 0))
        die("pipe: %s", strerror(errno));
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    for (int i = 0; i < n; i++) {
        char **cargv = calloc((size_t)(argc - a + 1), sizeof *cargv);
        for (int k = a; k < argc; k++)
            cargv[k - a] = subst(argv[k], i);
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            dup2(gate[0], 0);
            dup2(res[1], 1);
            if (hold)
                dup2(hp[0], 3);
            for (int fd = 4; fd < 64; fd++)
                close(fd);
            execv(cargv[0], cargv);
            die("exec %s: %s", cargv[0], strerror(errno));
        }
        pids[i] = pid;
        for (int k = 0; cargv[k]; k++)
            free(cargv[k]);
        free(cargv);
    }
    close(gate[0]);
    close(res[1]);
    if (hold)
        close(hp[0]);
    close(gate[1]); /* go */

    char buf[65536];
    size_t have = 0;
    int lines = 0, timed_out = 0;
    long deadline = now_ms() + 60000;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        if (wait_readable(res[0], (int)left) <= 0)
            continue;
        ssize_t r = read(res[0], buf + have, sizeof buf - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
            size_t len = (size_t)(nl - buf) + 1;
            ssize_t w = write(1, buf, len);
            (void)w;
            memmove(buf, buf + len, have - len);
            have -= len;
            if (++lines == n && hold)
                close(hp[1]);
        }
    }
    if (timed_out) {
        for (int i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        say("TIMEOUT");
    }
    int codes[257] = {0};
    for (int i = 0; i < n; i++) {
        int st;
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
            ;
        codes[WIFEXITED(st) ? WEXITSTATUS(st) : 256]++;
    }
    for (int c = 0; c < 257; c++)
        if (codes[c])
            say("EXIT %s%d %d", c == 256 ? "signal" : "", c == 256 ? 0 : c, codes[c]);
    say("DONE");
    return 0;
}
