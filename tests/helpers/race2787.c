/* race2787 — the #2787 race, reproduced in a private network namespace.
 *
 *   race2787 --hog PORTHOG|none --prog PORT2787 --copies K [--sleep-ms MS]
 *            [--shim LIB --nsdir DIR [--mode MODE] [--shared]] [--prog-arg ARG]...
 *
 * Enters a new network namespace (its own loopback and ephemeral range, so
 * nothing outside is disturbed and nothing outside disturbs it), brings lo
 * up, narrows ip_local_port_range to 256 ports, starts PORTHOG and, once it
 * holds most of the range, runs K copies of PORT2787 at once. With --shim
 * every copy runs with LIB preloaded, each in its own portshim namespace
 * (manifest DIR/ns-<i>.jsonl), the way parallel CI jobs would; with
 * --shared all copies are processes of one run (DIR/ns-0.jsonl), so their
 * port-taking is the run's own. --hog none starts no hog outside: the
 * copies take ports themselves (alloc2787). Each --prog-arg is passed on.
 *
 * Prints "RESULT ok=<n> inuse=<n> other=<n>". Prints "SKIP <reason>" and
 * exits 77 where network namespaces are not permitted. */
#include "common.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define EXIT_SKIP 77

static void skip(const char *what)
{
    say("SKIP %s: %s", what, strerror(errno));
    exit(EXIT_SKIP);
}

static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        skip("SIOCGIFFLAGS lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        skip("SIOCSIFFLAGS lo up");
    close(s);
}

static void port_range(const char *range)
{
    int fd = open("/proc/sys/net/ipv4/ip_local_port_range", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, range, strlen(range)) < 0)
        skip("writing ip_local_port_range");
    close(fd);
}

/* The environment of a copy: ours without any shim, plus the shim's. */
static const char *g_mode;   /* --mode: PORTSHIM_MODE for every copy */
static bool g_shared;        /* --shared: every copy in namespace 0 */

static char **copy_env(const char *lib, const char *nsdir, int i)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 5, sizeof *env);
    if (g_shared)
        i = 0;
    size_t k = 0;
    for (size_t j = 0; j < n; j++)
        if (strncmp(environ[j], "LD_PRELOAD=", 11) && strncmp(environ[j], "PORTSHIM_", 9))
            env[k++] = environ[j];
    if (lib) {
        char *v;
        if (asprintf(&v, "LD_PRELOAD=%s", lib) < 0)
            die("asprintf");
        env[k++] = v;
        char path[4200];
        snprintf(path, sizeof path, "%s/ns-%d.jsonl", nsdir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            die("%s: %s", path, strerror(errno));
        close(fd);
        if (asprintf(&v, "PORTSHIM_MANIFEST=%s", path) < 0)
            die("asprintf");
        env[k++] = v;
        /* unix mode keeps sockets in the directory: one per namespace. */
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/ns-%d", nsdir, i);
        if (g_mode && mkdir(dir, 0700) < 0 && errno != EEXIST)
            die("%s: %s", dir, strerror(errno));
        if (asprintf(&v, "PORTSHIM_DIR=%s", g_mode ? dir : nsdir) < 0)
            die("asprintf");
        env[k++] = v;
        if (g_mode) {
            if (asprintf(&v, "PORTSHIM_MODE=%s", g_mode) < 0)
                die("asprintf");
            env[k++] = v;
        }
    }
    env[k] = NULL;
    return env;
}

/* Starts PORTHOG outside any namespace of the shim; returns once it holds
 * most of the range. */
static pid_t start_hog(const char *hog)
{
    int hp[2];
    if (pipe(hp) < 0)
        die("pipe: %s", strerror(errno));
    pid_t hogpid = fork();
    if (hogpid == 0) {
        dup2(hp[1], 1);
        close(hp[0]);
        close(hp[1]);
        char *hargv[] = {(char *)hog, "--hold", "180", "--seconds", "30", NULL};
        execve(hog, hargv, copy_env(NULL, NULL, 0));
        die("exec %s: %s", hog, strerror(errno));
    }
    close(hp[1]);
    char line[256];
    if (read_reply(hp[0], line, sizeof line, 10000, 1) < 0 || strncmp(line, "HOGGING", 7))
        die("porthog did not start hogging");
    return hogpid;
}

int main(int argc, char **argv)
{
    const char *hog = NULL, *prog = NULL, *lib = NULL, *nsdir = NULL;
    const char *sleep_ms_arg = "30";
    int copies = 12;
    const char *pargs[8];
    int npargs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shared")) {
            g_shared = true;
            continue;
        }
        if (i + 1 >= argc)
            die("option '%s' needs a value", argv[i]);
        if (!strcmp(argv[i], "--hog"))
            hog = argv[++i];
        else if (!strcmp(argv[i], "--prog"))
            prog = argv[++i];
        else if (!strcmp(argv[i], "--copies"))
            copies = parse_int(argv[++i]);
        else if (!strcmp(argv[i], "--sleep-ms"))
            sleep_ms_arg = argv[++i];
        else if (!strcmp(argv[i], "--shim"))
            lib = argv[++i];
        else if (!strcmp(argv[i], "--nsdir"))
            nsdir = argv[++i];
        else if (!strcmp(argv[i], "--mode"))
            g_mode = argv[++i];
        else if (!strcmp(argv[i], "--prog-arg") && npargs < 8)
            pargs[npargs++] = argv[++i];
        else
            die("unknown option '%s'", argv[i]);
    }
    if (!hog || !prog || (lib && !nsdir))
        die("usage: race2787 --hog PATH --prog PATH --copies K [--shim LIB --nsdir DIR]");
    lifetime(170);

    if (unshare(CLONE_NEWNET) < 0)
        skip("unshare(CLONE_NEWNET)");
    loopback_up();
    port_range("40000 40255");

    pid_t hogpid = -1;
    if (strcmp(hog, "none"))
        hogpid = start_hog(hog);

    pid_t *pids = calloc((size_t)copies, sizeof *pids);
    for (int i = 0; i < copies; i++) {
        char **env = copy_env(lib, nsdir, i);
        pids[i] = fork();
        if (pids[i] == 0) {
            char *pargv[12] = {(char *)prog, "--sleep-ms", (char *)sleep_ms_arg};
            for (int j = 0; j < npargs; j++)
                pargv[3 + j] = (char *)pargs[j];
            execve(prog, pargv, env);
            die("exec %s: %s", prog, strerror(errno));
        }
    }
    int ok = 0, inuse = 0, other = 0;
    for (int i = 0; i < copies; i++) {
        int st;
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            ok++;
        else if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
            inuse++;
        else
            other++;
    }
    if (hogpid > 0) {
        kill(hogpid, SIGKILL);
        waitpid(hogpid, NULL, 0);
    }
    say("RESULT ok=%d inuse=%d other=%d", ok, inuse, other);
    return 0;
}
