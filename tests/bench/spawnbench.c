/* spawnbench.c — the cost of starting a trivial program, bare or preloaded.
 *
 *   spawnbench N [PROGRAM]   posix_spawn + waitpid of PROGRAM (/bin/true) N
 *                            times -> nanoseconds per spawn
 *
 * When BENCH_CHILD_PRELOAD is set and not empty, the children (only) get
 * LD_PRELOAD=$BENCH_CHILD_PRELOAD, so what is measured is a program that
 * starts, and exits, under the library — without the spawner itself being
 * preloaded. The rest of the environment (PORTSHIM_*) passes through. */
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* environ without LD_PRELOAD, plus LD_PRELOAD=preload when given. */
static char **child_env(const char *preload)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env) {
        perror("spawnbench: calloc");
        exit(1);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            env[k++] = environ[i];
    if (preload && *preload) {
        size_t len = strlen(preload) + sizeof "LD_PRELOAD=";
        char *kv = malloc(len);
        if (!kv) {
            perror("spawnbench: malloc");
            exit(1);
        }
        snprintf(kv, len, "LD_PRELOAD=%s", preload);
        env[k++] = kv;
    }
    env[k] = NULL;
    return env;
}

static void spawn_once(const char *prog, char **env)
{
    char *argv[] = {(char *)prog, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, prog, NULL, NULL, argv, env);
    if (rc != 0) {
        fprintf(stderr, "spawnbench: posix_spawn %s: %s\n", prog, strerror(rc));
        exit(1);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            perror("spawnbench: waitpid");
            exit(1);
        }
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "spawnbench: %s failed (status %d)\n", prog, st);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: spawnbench N [PROGRAM]\n");
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    const char *prog = argc == 3 ? argv[2] : "/bin/true";
    if (n < 1) {
        fprintf(stderr, "spawnbench: bad N '%s'\n", argv[1]);
        return 2;
    }
    char **env = child_env(getenv("BENCH_CHILD_PRELOAD"));
    for (int i = 0; i < 10; i++)          /* warm the page cache */
        spawn_once(prog, env);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        spawn_once(prog, env);
    uint64_t t1 = now_ns();
    printf("%.1f\n", (double)(t1 - t0) / (double)n);
    return 0;
}
