/* leak.c — after CMD exits: which listeners of the namespace are still open,
 * which processes hold them, and (--reap) ending those processes.
 *
 * A listener is leaked when the manifest still maps it (no close, release or
 * exit retired it), it was bound after this run's start event, and a holder
 * is alive. A holder is only believed (reported, and signalled) when its
 * /proc/PID/environ names this manifest in PORTSHIM_MANIFEST: a pid that
 * exited and was reused by an unrelated process is never touched: each
 * holder is pinned, once believed, by a pidfd (and its start time), and
 * every later look and signal goes to that process alone. */
#include "cli/leak.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/ns.h"
#include "core/probe.h"
#include "core/procfs.h"

struct scan {
    struct ps_ns ns;
    int self;
    bool started;              /* our start event was read */
    double since;              /* its time; a worker's manifest: binds from then on */
    char (*sids)[PS_SID_MAX];  /* sockets bound after it */
    size_t nsids, cap;
};

static void on_event(void *ctx, const struct ps_event *e)
{
    struct scan *s = ctx;
    if (e->ev == PS_EV_START && e->pid == s->self && !s->started) {
        s->started = true;
        s->since = e->ts;
    } else if (s->started && e->ts >= s->since && e->ev == PS_EV_BIND && e->ok && e->sid[0]) {
        if (s->nsids == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 16;
            void *n = realloc(s->sids, ncap * sizeof *s->sids);
            if (n) {
                s->sids = n;
                s->cap = ncap;
            }
        }
        if (s->nsids < s->cap)
            memcpy(s->sids[s->nsids++], e->sid, PS_SID_MAX);
    }
    ps_ns_apply(&s->ns, e);
}

static bool ours(const struct scan *s, const char *sid)
{
    for (size_t i = 0; i < s->nsids; i++)
        if (!strcmp(s->sids[i], sid))
            return true;
    return false;
}

/* Up to len bytes of /proc/PID/WHAT (procfs.h); its length, or -1. */
static ssize_t slurp(int pid, const char *what, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, what);
    return ps_proc_read(path, buf, len);
}

/* Alive and not a zombie (a zombie holds no socket and ignores signals):
 * its start time (stat field 22), or 0. */
static unsigned long long started(int pid)
{
    char st[1024];
    ssize_t n = slurp(pid, "stat", st, sizeof st - 1);
    if (n <= 0)
        return 0;
    st[n] = 0;
    char state;
    unsigned long long t;
    if (ps_proc_stat_parse(st, &state, &t) || state == 'Z' || state == 'X')
        return 0;
    return t + 1;   /* + 1: a start at tick 0 is still a start */
}

/* A holder, pinned: a pid that exits and comes back as another process
 * is neither counted as running nor signalled. */
struct target {
    int pid;
    int pidfd;                  /* -1: none (kernel before 5.3) */
    unsigned long long start;
};

static bool running(const struct target *t)
{
    return started(t->pid) == t->start;
}

static int send_signal(const struct target *t, int sig)
{
#ifdef SYS_pidfd_send_signal
    if (t->pidfd >= 0)
        return (int)syscall(SYS_pidfd_send_signal, t->pidfd, sig, NULL, 0);
#endif
    if (!running(t)) {
        errno = ESRCH;
        return -1;
    }
    return kill(t->pid, sig);
}

/* Is pid a process of the namespace whose manifest is path? */
static bool in_namespace(int pid, const char *path)
{
    static char env[1 << 20];   /* ARG_MAX-sized environments fit */
    ssize_t n = slurp(pid, "environ", env, sizeof env);
    if (n <= 0)
        return false;
    size_t want = strlen("PORTSHIM_MANIFEST=") + strlen(path) + 1;
    for (size_t i = 0; i < (size_t)n;) {
        const char *v = env + i;
        size_t len = strnlen(v, (size_t)n - i);
        if (len + 1 == want && !strncmp(v, "PORTSHIM_MANIFEST=", 18) && !strcmp(v + 18, path))
            return true;
        i += len + 1;
    }
    return false;
}

static void cmdline(int pid, char *out, size_t len)
{
    ssize_t n = slurp(pid, "cmdline", out, len - 1);
    if (n <= 0) {
        snprintf(out, len, "?");
        return;
    }
    while (n > 0 && out[n - 1] == 0)
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (out[i] == 0)
            out[i] = ' ';
    out[n] = 0;
}

static void endpoint(const struct ps_addr *a, int port, char *buf, size_t len)
{
    char t[PS_ADDRSTRLEN];
    ps_addr_format(a, t);
    snprintf(buf, len, a->fam == AF_INET6 ? "[%s]:%d" : "%s:%d", t, port);
}

/* pid, if it is a live process of the namespace (pinned then, so that
 * what was checked is what is signalled), into v unless there; false if
 * it is not one. */
static bool add_target(struct target **v, size_t *n, int pid, const char *manifest)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i].pid == pid)
            return running(&(*v)[i]);
    struct target t = {pid, -1, 0};
#ifdef SYS_pidfd_open
    t.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    /* The pidfd and start time are taken before the checks: a pid reused in
     * between shows another start time afterwards. */
    t.start = started(pid);
    if (!t.start || !in_namespace(pid, manifest) || started(pid) != t.start) {
        if (t.pidfd >= 0)
            close(t.pidfd);
        return false;
    }
    struct target *nv = realloc(*v, (*n + 1) * sizeof **v);
    if (!nv) {
        if (t.pidfd >= 0)
            close(t.pidfd);
        return true;   /* reported, not signalled */
    }
    *v = nv;
    (*v)[(*n)++] = t;
    return true;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) && errno == EINTR)
        ;
}

/* TERM, up to 2 s for them to go, then KILL; says what was done. */
static void reap(const struct target *pids, size_t n)
{
    size_t termed = 0, killed = 0;
    for (size_t i = 0; i < n; i++)
        if (send_signal(&pids[i], SIGTERM) == 0)
            termed++;
    double end = cli_mono() + 2.0;
    for (;;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += running(&pids[i]);
        if (!left || cli_mono() >= end)
            break;
        sleep_ms(20);
    }
    for (size_t i = 0; i < n; i++)
        if (running(&pids[i])) {
            if (send_signal(&pids[i], SIGKILL) == 0) {
                killed++;
                cli_log(PS_LOG_WARN, "reap: pid %d ignored SIGTERM for 2 s; sent SIGKILL",
                        pids[i].pid);
            }
        }
    for (int tries = 0; tries < 100; tries++) {   /* KILL is quick; wait up to 1 s more */
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            left += running(&pids[i]);
        if (!left)
            break;
        sleep_ms(10);
    }
    size_t still = 0;
    for (size_t i = 0; i < n; i++)
        still += running(&pids[i]);
    cli_log(PS_LOG_WARN, "reaped %zu process%s holding leaked listeners (%zu SIGTERM, %zu SIGKILL)%s",
            n - still, n - still == 1 ? "" : "es", termed, killed,
            still ? "; some are still running" : "");
}

/* One namespace's manifest (path): its leaks, their holders added to all.
 * A holder is believed when its environment names the run's manifest (a
 * worker's processes have the run's PORTSHIM_MANIFEST too). */
static int check_one(struct scan *s, const char *path, const char *manifest, const char *worker,
                     struct target **all, size_t *nall)
{
    struct ps_reader rd;
    /* Swapped for a FIFO or a link during the run: never block or follow. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = EINVAL;
    }
    if (fd < 0) {
        cli_log(PS_LOG_WARN, "leak check: cannot read manifest %s: %s", path, strerror(errno));
        return 0;
    }
    ps_ns_init(&s->ns);
    ps_reader_init(&rd, fd);
    /* connects and accepts make no mapping: pass over them undecoded */
    rd.skip = PS_EV_BIT(PS_EV_CONNECT) | PS_EV_BIT(PS_EV_ACCEPT);
    /* Malformed lines were already reported by the library; do not repeat. */
    enum ps_loglevel lvl = ps_log_level();
    ps_log_set_level(PS_LOG_ERROR);
    ps_reader_poll(&rd, on_event, NULL, s);
    ps_log_set_level(lvl);
    ps_reader_free(&rd);
    close(fd);

    int leaks = 0;
    for (size_t i = 0; i < s->ns.n; i++) {
        const struct ps_entry *e = &s->ns.v[i];
        if (!e->listening || !ours(s, e->sid))
            continue;
        /* Still a listener, by the library's rule (ps_probe_entry_live): the
         * kernel lists it listening on its real port or socket file. */
        if (!ps_probe_entry_live(e, 0))
            continue;
        char held[1024] = "";
        size_t hl = 0;
        int nheld = 0;
        for (int h = 0; h < e->holders.n; h++) {
            int pid = e->holders.v[h];
            if (pid == s->self || !add_target(all, nall, pid, manifest))
                continue;
            char cmd[200];
            cmdline(pid, cmd, sizeof cmd);
            if (hl < sizeof held)
                hl += (size_t)snprintf(held + hl, sizeof held - hl, "%spid %d (%s)",
                                       nheld ? ", " : "", pid, cmd);
            nheld++;
        }
        if (!nheld)
            continue;
        char virt[PS_ADDRSTRLEN + 16], real[PS_UPATH_MAX + 16];
        endpoint(&e->baddr.addr, e->vport, virt, sizeof virt);
        if (e->rpath[0])
            snprintf(real, sizeof real, "%s", e->rpath);
        else
            endpoint(&e->raddr, e->rport, real, sizeof real);
        cli_log(PS_LOG_WARN, "leaked listener %s (real %s)%s%s held by %s", virt, real,
                worker ? " in worker " : "", worker ? worker : "", held);
        leaks++;
    }
    ps_ns_free(&s->ns);
    s->nsids = 0;
    return leaks;
}

int leak_check(const char *manifest, const char *root, bool do_reap)
{
    struct scan s;
    memset(&s, 0, sizeof s);
    s.self = (int)getpid();
    struct target *all = NULL;
    size_t nall = 0;
    int leaks = check_one(&s, manifest, manifest, NULL, &all, &nall);
    if (root && s.started) {
        char (*names)[PS_WORKER_NAME_MAX + 1];
        size_t n = cli_workers_list(root, &names);
        for (size_t i = 0; i < n; i++) {
            char dir[PS_PATH_MAX], path[PS_PATH_MAX];
            if (ps_worker_paths(root, names[i], dir, path) == 0 && access(path, F_OK) == 0)
                leaks += check_one(&s, path, manifest, names[i], &all, &nall);
        }
        free(names);
    }
    if (leaks && do_reap)
        reap(all, nall);
    else if (leaks)
        cli_log(PS_LOG_WARN, "%d listener%s still open after the command exited "
                "('portshim run --reap' ends their processes)", leaks, leaks == 1 ? " is" : "s are");
    for (size_t i = 0; i < nall; i++)
        if (all[i].pidfd >= 0)
            close(all[i].pidfd);
    free(all);
    free(s.sids);
    return leaks;
}
