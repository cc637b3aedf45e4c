/* port.c — `portshim port`: the real endpoint of a live listener on a
 * virtual port, read incrementally from the manifest (optionally waiting). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/ns.h"
#include "core/probe.h"
#include "core/trust.h"

void usage_port(FILE *f)
{
    fputs("usage: portshim port [--manifest FILE] [--worker W] [--wait SECONDS] [--all] PORT\n"
          "\n"
          "Prints the real port (remap mode) or socket path (unix mode) of the live\n"
          "listener on virtual PORT, e.g. curl localhost:$(portshim port 8000).\n"
          "Inside 'portshim run' the manifest comes from $PORTSHIM_MANIFEST (inside a\n"
          "worker of 'run --per-worker', that worker's sub-namespace).\n"
          "\n"
          "  --manifest FILE  the namespace's manifest\n"
          "  --worker W       the sub-namespace of worker W of a 'run --per-worker'\n"
          "                   (W: the value of its variable, e.g. gw0)\n"
          "  --wait SECONDS   wait up to SECONDS (e.g. 5 or 0.5) for a listener (and,\n"
          "                   with --worker, for that worker's sub-namespace)\n"
          "  --all            every live listener on PORT, one a line: REAL VIRTUAL\n"
          "                   (a dual-stack server has one on 0.0.0.0 and one on ::)\n"
          "\n"
          "When several listeners share PORT, the one a connect to 127.0.0.1 (then ::1)\n"
          "reaches is printed, and a line on stderr says which and lists the others.\n"
          "\n"
          "Exit status: 0 found, 1 no live listener (or none before the wait ran out),\n"
          "2 usage error, unreadable or untrusted manifest, or no such --worker.\n",
          f);
}

#define POLL_INTERVAL 0.010     /* read new manifest lines this often */
#define RECHECK_INTERVAL 0.100  /* re-probe liveness even when nothing changed */

struct port_state {
    const char *path;
    int fd;
    struct ps_reader rd;
    struct ps_ns ns;
    /* Where unix mode's sockets of this manifest can be: beside it (a
     * namespace run created) or in FILE.d (run --manifest FILE). */
    char dir[2][PATH_MAX + 8];
    unsigned warned;
    bool sub;   /* this worker's own sub-namespace (cli_manifest_here) */
};

static void socket_dirs(struct port_state *s)
{
    char real[PATH_MAX];
    const char *m = realpath(s->path, real) ? real : s->path;
    snprintf(s->dir[0], sizeof s->dir[0], "%s", m);
    char *slash = strrchr(s->dir[0], '/');
    if (slash)
        *slash = 0;
    snprintf(s->dir[1], sizeof s->dir[1], "%s.d", m);
}

static void apply(void *ctx, const struct ps_event *e)
{
    struct port_state *s = ctx;
    /* A socket path elsewhere was not made by this namespace: printing it
     * would send a client to whoever wrote the line. */
    if (e->rpath[0] && !ps_path_in_dir(e->rpath, s->dir[0]) &&
        !ps_path_in_dir(e->rpath, s->dir[1])) {
        if (!s->warned++)
            cli_log(PS_LOG_WARN, "%s: ignored sid %s: its socket file '%.200s' is not in the "
                    "namespace's directory", s->path, e->sid, e->rpath);
        return;
    }
    ps_ns_apply(&s->ns, e);
}

static void badline(void *ctx, uint64_t lineno, const char *line, size_t len)
{
    const struct port_state *s = ctx;
    cli_log(PS_LOG_WARN, "%s:%" PRIu64 ": skipped malformed line", s->path, lineno);
}

/* Live as the library judges a conflict (ps_probe_entry_live): in unix
 * mode a socket file that nobody listens on any more is not a listener. */
static bool entry_live(void *ctx, const struct ps_entry *e)
{
    (void)ctx;
    return ps_probe_entry_live(e, 0);
}

/* Several listeners may share a virtual port (distinct addresses,
 * SO_REUSEPORT): prefer the one a connect to localhost would reach. */
static const struct ps_entry *find_live(struct port_state *s, uint16_t port)
{
    struct ps_addr lo4, lo6;
    ps_addr_v4(&lo4, 0x7f000001);
    ps_addr_parse("::1", &lo6);
    const struct ps_entry *e = ps_ns_route(&s->ns, &lo4, port, true, entry_live, s);
    if (!e)
        e = ps_ns_route(&s->ns, &lo6, port, true, entry_live, s);
    for (size_t i = 0; !e && i < s->ns.n; i++) {
        const struct ps_entry *c = &s->ns.v[i];
        if (c->vport == port && c->listening && entry_live(s, c))
            e = c;
    }
    return e;
}

/* Opens the manifest if not yet open: 0 open, 1 not there yet, -1 error. */
static int open_manifest(struct port_state *s, bool may_wait)
{
    if (s->fd >= 0)
        return 0;
    /* Its answer is what a client connects to: a manifest anyone else may
     * write is refused, another user's is read with a warning. */
    s->fd = cli_open_manifest(s->path, true);
    if (s->fd >= 0) {
        socket_dirs(s);   /* now that it exists, its real path */
        ps_reader_init(&s->rd, s->fd);
        return 0;
    }
    if (s->fd == -2 && may_wait)
        return 1;
    if (s->fd == -2)
        cli_log(PS_LOG_ERROR, "cannot read manifest %s: %s", s->path, strerror(ENOENT));
    s->fd = -1;
    return -1;
}

static int parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < 0 || v > 1e7)
        return -1;
    *out = v;
    return 0;
}

static void sleep_for(double sec)
{
    struct timespec t = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* "0.0.0.0:6379" or "[::]:6379" */
static const char *virt(const struct ps_entry *e, char *buf, size_t len)
{
    char a[PS_ADDRSTRLEN];
    ps_addr_format(&e->baddr.addr, a);
    snprintf(buf, len, e->baddr.addr.fam == AF_INET6 ? "[%s]:%u" : "%s:%u", a, (unsigned)e->vport);
    return buf;
}

static const char *real(const struct ps_entry *e, char *buf, size_t len)
{
    if (e->rpath[0])
        snprintf(buf, len, "%s", e->rpath);
    else
        snprintf(buf, len, "%u", (unsigned)e->rport);
    return buf;
}

/* Prints the chosen listener (all of them, chosen first, with --all); with
 * more than one live and no --all, says on stderr which one it printed. */
static void print_found(struct port_state *s, const struct ps_entry *chosen, bool all)
{
    char v[PS_ADDRSTRLEN + 16], r[PS_UPATH_MAX + 8], others[768];
    size_t n = 0, live = 1;
    others[0] = 0;
    if (all)
        printf("%s %s\n", real(chosen, r, sizeof r), virt(chosen, v, sizeof v));
    else
        printf("%s\n", real(chosen, r, sizeof r));
    for (size_t i = 0; i < s->ns.n; i++) {
        const struct ps_entry *c = &s->ns.v[i];
        if (c == chosen || c->vport != chosen->vport || !c->listening || !entry_live(s, c))
            continue;
        live++;
        if (all)
            printf("%s %s\n", real(c, r, sizeof r), virt(c, v, sizeof v));
        else if (n < sizeof others)
            n += (size_t)snprintf(others + n, sizeof others - n, ", %s on %s",
                                  real(c, r, sizeof r), virt(c, v, sizeof v));
    }
    if (!all && live > 1) {
        fflush(stdout);
        cli_log(PS_LOG_WARN, "port %u has %zu live listeners: printed %s, the one on %s (a "
                "connect to localhost reaches it); also %s ('portshim port --all %u' lists "
                "them)", (unsigned)chosen->vport, live, real(chosen, r, sizeof r),
                virt(chosen, v, sizeof v), others + 2, (unsigned)chosen->vport);
    }
}

static int lookup(struct port_state *s, uint16_t port, bool waiting, double wait, bool all)
{
    double start = cli_mono(), deadline = start + wait, last_check = -1;
    for (;;) {
        /* A worker's own sub-namespace not there yet: no process of the
         * worker used a socket, so nothing listens. */
        int o = open_manifest(s, waiting || s->sub);
        if (o < 0)
            return EXIT_USAGE;
        long n = 0;
        if (o == 0 && (n = ps_reader_poll(&s->rd, apply, badline, s)) < 0) {
            cli_log(PS_LOG_ERROR, "cannot read manifest %s: %s", s->path, strerror(errno));
            return EXIT_USAGE;
        }
        double now = cli_mono();
        if (o == 0 && (n > 0 || last_check < 0 || now - last_check >= RECHECK_INTERVAL)) {
            last_check = now;
            const struct ps_entry *e = find_live(s, port);
            if (e) {
                print_found(s, e, all);
                if (fflush(stdout)) {
                    cli_log(PS_LOG_ERROR, "cannot write to stdout: %s", strerror(errno));
                    return EXIT_USAGE;
                }
                return 0;
            }
        }
        if (!waiting) {
            cli_log(PS_LOG_ERROR, "no live listener for port %u in %s%s", (unsigned)port, s->path,
                    o == 1 ? " (not there yet: no process of this worker used a socket)" : "");
            return EXIT_NOTFOUND;
        }
        if (now >= deadline) {
            cli_log(PS_LOG_ERROR, "port %u: no listener after %gs (%s)", (unsigned)port, wait,
                   s->path);
            return EXIT_NOTFOUND;
        }
        sleep_for(deadline - now < POLL_INTERVAL ? deadline - now : POLL_INTERVAL);
    }
}

int cmd_port(int argc, char **argv)
{
    const char *manifest = NULL, *wait_s = NULL, *port_s = NULL, *worker = NULL;
    bool all = false;
    int i = 1, r;
    while (i < argc) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage_port(stdout);
            return 0;
        }
        if ((r = cli_opt(argc, argv, &i, "--manifest", &manifest)) ||
            (r = cli_opt(argc, argv, &i, "--wait", &wait_s)) ||
            (r = cli_opt(argc, argv, &i, "--worker", &worker))) {
            if (r < 0)
                return usage_hint("port");
            continue;
        }
        if ((r = cli_flag(a, "--all", &all))) {
            if (r < 0)
                return usage_hint("port");
            i++;
            continue;
        }
        if (!strcmp(a, "--") && i + 1 < argc && !port_s) {
            port_s = argv[i + 1];
            i += 2;
            continue;
        }
        if ((a[0] == '-' && a[1]) || port_s) {
            cli_log(PS_LOG_ERROR, port_s ? "port: unexpected argument '%s'"
                                        : "port: unknown option '%s'", a);
            return usage_hint("port");
        }
        port_s = a;
        i++;
    }
    uint16_t port;
    double wait = 0;
    if (!port_s) {
        cli_log(PS_LOG_ERROR, "port: which port? (portshim port [--wait SECONDS] PORT)");
        return usage_hint("port");
    }
    if (parse_port(port_s, &port)) {
        cli_log(PS_LOG_ERROR, "port '%.64s': expected a port 1-65535", port_s);
        return EXIT_USAGE;
    }
    if (wait_s && parse_seconds(wait_s, &wait)) {
        cli_log(PS_LOG_ERROR, "--wait='%.64s': expected seconds, e.g. 5 or 0.5", wait_s);
        return EXIT_USAGE;
    }

    struct port_state s;
    memset(&s, 0, sizeof s);
    s.fd = -1;
    char root[PATH_MAX], wpath[PS_PATH_MAX];
    if (!(s.path = worker ? cli_manifest_path(manifest) : cli_manifest_here(manifest, &s.sub)))
        return EXIT_USAGE;
    if (worker) {
        if (cli_worker_root(manifest, s.path, root, sizeof root)) {
            cli_log(PS_LOG_ERROR, "--worker: %s has no private directory for sub-namespaces "
                    "(not a 'portshim run --per-worker' manifest)", s.path);
            return EXIT_USAGE;
        }
        /* With --wait, the worker may not have used a socket yet: its
         * sub-namespace is waited for like a manifest that is not there
         * yet, and checked as always once it is. */
        double deadline = cli_mono() + wait;
        while ((r = wait_s ? cli_worker_manifest_wait(root, worker, wpath)
                           : cli_worker_manifest(root, worker, wpath)) == 1 &&
               cli_mono() < deadline)
            sleep_for(POLL_INTERVAL);
        if (r == 1) {
            cli_log(PS_LOG_ERROR, "port %u: worker '%.40s' had no sub-namespace after %gs "
                    "(no process of that worker used a socket)", (unsigned)port, worker, wait);
            return EXIT_NOTFOUND;
        }
        if (r)
            return EXIT_USAGE;
        wait = deadline - cli_mono();
        if (wait < 0)
            wait = 0;
        s.path = wpath;
    }
    ps_ns_init(&s.ns);
    r = lookup(&s, port, wait_s != NULL, wait, all);
    if (s.fd >= 0) {
        ps_reader_free(&s.rd);
        close(s.fd);
    }
    ps_ns_free(&s.ns);
    return r;
}
