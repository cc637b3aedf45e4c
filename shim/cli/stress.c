/* stress.c — `portshim stress`: run CMD many times at once, each copy a full
 * `portshim run` in its own namespace (so copies of a hard-coded-port suite
 * never collide), and say how often it failed and how to replay each failure.
 *
 * Copy i gets seed base+i in PORTSHIM_SEED (and the --inject spec in
 * PORTSHIM_INJECT); its stdout and stderr go to output.log in its namespace
 * directory, which is removed when it passes and kept when it fails. */
#include "cli/cli.h"
#include "cli/stress.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/inject.h"
#include "core/shard.h"
#include "core/unixname.h"
#include "core/log.h"

#define TAIL_LINES 10
#define KILL_GRACE 2.0

void usage_stress(FILE *f)
{
    fputs("usage: portshim stress [-n RUNS] [-j PARALLEL] [--timeout S] [--inject SPEC] [--seed S]\n"
          "                       [--mode remap|unix|observe] [--ports SPEC] [--shard K/N]\n"
          "                       [--shards N] [--for DURATION] [--until-fail] [--results FILE]\n"
          "                       [--junit FILE] [--per-worker[=VAR[,VAR...]]] -- CMD [ARG...]\n"
          "       portshim stress merge FILE...\n"
          "\n"
          "Runs CMD RUNS times, PARALLEL at once, each copy under its own 'portshim run\n"
          "--reap' (own namespace, so copies of a suite with hard-coded ports do not\n"
          "collide), then prints the failure rate with a 95% confidence interval and,\n"
          "for each failed run, its seed, exit status, the end of its output, its kept\n"
          "manifest and the command that replays it. Exits 0 if every run passed, 1 if\n"
          "any failed, 2 on a usage error (or when a copy could not be started and none\n"
          "failed), 128+N when stopped by signal N.\n"
          "\n"
          "  -n, --runs RUNS  how many runs (default 20)\n"
          "  -j, --jobs PARALLEL\n"
          "                   how many at once (default: the number of online CPUs)\n"
          "  --timeout S      seconds per run (default 60); a run still going is killed\n"
          "                   with its process group (TERM, KILL 2 s later) and fails\n"
          "  --inject SPEC    fault injection for every run (PORTSHIM_INJECT)\n"
          "  --seed S         base seed (default: random, printed); run i gets S+i in\n"
          "                   PORTSHIM_SEED, and PORTSHIM_STRESS_RUN=i\n"
          "  --mode, --ports, --per-worker\n"
          "                   as for 'portshim run'\n"
          "  --shard K/N      run only shard K (from 1) of N of the plan: the runs whose\n"
          "                   index i has i mod N = K-1; default from CI_NODE_INDEX (from\n"
          "                   1) and CI_NODE_TOTAL, or JOB_COMPLETION_INDEX (from 0) with\n"
          "  --shards N       (the total a Kubernetes Indexed Job does not export)\n"
          "  --for DURATION   start runs until DURATION (90, 30s, 10m, 2h) is up; with no\n"
          "                   -n, as many as fit\n"
          "  --until-fail     start no run after the first failure\n"
          "  --results FILE   every run as a JSON line, written as it finishes\n"
          "                   ('portshim stress merge' combines shards' files)\n"
          "  --junit FILE     every run as a JUnit XML testcase\n",
          f);
}

struct opts {
    long runs, jobs;            /* runs: of the whole plan; -1 unbounded (--for, no -n) */
    double timeout;
    const char *inject;         /* canonical spec, or NULL */
    char inject_buf[512];
    uint64_t seed;
    bool seed_given;
    const char *mode, *ports;   /* as given, passed on to run */
    bool unix_mode;             /* --mode parsed: unix */
    const char *workers;        /* --per-worker's variables, or NULL */
    const char *workers_arg;    /* that option as given, passed on to run */
    const char *timeout_arg;    /* --timeout as given, or NULL */
    struct shard shard;
    double for_secs;            /* --for, or 0 */
    bool until_fail;
    const char *results, *junit;
    char **cmd;
};

struct copy {
    long idx;
    uint64_t seed;
    pid_t pid;                  /* also its process group */
    char *dir;                  /* its namespace directory (malloc'd) */
    double t_start, t_term;     /* t_term: when TERM was sent (timeout), or 0 */
    double wall_start;          /* epoch seconds */
    bool running, timed_out, killed, done;
    int status;                 /* waitpid status */
    long finish;                /* order of completion */
    struct stress_run run;      /* what it left, once done */
};

static int parse_long(const char *name, const char *v, long lo, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > 1000000) {
        cli_log(PS_LOG_ERROR, "%s '%.64s': expected a whole number from %ld to 1000000", name, v,
                lo);
        return -1;
    }
    *out = n;
    return 0;
}

/* How many of the plan's runs are this shard's (-1: unbounded). */
static long shard_runs(const struct opts *o)
{
    struct ps_shard sh = {o->shard.k, o->shard.n};
    return o->runs < 0 ? -1 : ps_shard_count(&sh, o->runs);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    const char *n = NULL, *j = NULL, *t = NULL, *inj = NULL, *seed = NULL, *shard = NULL,
               *shards = NULL, *dur = NULL;
    int i = 1, r;
    memset(o, 0, sizeof *o);
    while (i < argc) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (cli_is_help(a)) {
            usage_stress(stdout);
            return 0;
        }
        if ((r = cli_opt(argc, argv, &i, "-n", &n)) || (r = cli_opt(argc, argv, &i, "-j", &j)) ||
            (r = cli_opt(argc, argv, &i, "--runs", &n)) ||
            (r = cli_opt(argc, argv, &i, "--jobs", &j)) ||
            (r = cli_opt(argc, argv, &i, "--timeout", &t)) ||
            (r = cli_opt(argc, argv, &i, "--inject", &inj)) ||
            (r = cli_opt(argc, argv, &i, "--seed", &seed)) ||
            (r = cli_opt(argc, argv, &i, "--mode", &o->mode)) ||
            (r = cli_opt(argc, argv, &i, "--ports", &o->ports)) ||
            (r = cli_opt(argc, argv, &i, "--shard", &shard)) ||
            (r = cli_opt(argc, argv, &i, "--shards", &shards)) ||
            (r = cli_opt(argc, argv, &i, "--for", &dur)) ||
            (r = cli_opt(argc, argv, &i, "--results", &o->results)) ||
            (r = cli_opt(argc, argv, &i, "--junit", &o->junit))) {
            if (r < 0)
                return usage_hint("stress");
            continue;
        }
        if (!strcmp(a, "--per-worker") || !strncmp(a, "--per-worker=", 13)) {
            char why[160];
            if (o->workers) {   /* as every option: last-wins would hide a mistake */
                cli_log(PS_LOG_ERROR, "--per-worker given twice");
                return usage_hint("stress");
            }
            o->workers = a[12] ? a + 13 : PS_WORKER_DEFAULT_VARS;
            o->workers_arg = a;
            if (ps_workervars_parse(o->workers, why, sizeof why) < 0) {
                cli_log(PS_LOG_ERROR, "--per-worker='%.64s': %s", o->workers, why);
                return EXIT_USAGE;
            }
            i++;
            continue;
        }
        if ((r = cli_flag(a, "--until-fail", &o->until_fail))) {
            if (r < 0)
                return usage_hint("stress");
            i++;
            continue;
        }
        if (a[0] == '-' && a[1]) {
            cli_log(PS_LOG_ERROR, "stress: unknown option '%s'", a);
            return usage_hint("stress");
        }
        break;
    }
    if (i >= argc) {
        cli_log(PS_LOG_ERROR, "stress: no command given (portshim stress [OPTIONS] -- CMD [ARG...])");
        return usage_hint("stress");
    }
    o->cmd = argv + i;

    o->runs = dur && !n ? -1 : 20;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->jobs = cpus > 0 ? cpus : 1;
    o->timeout = 60;
    if ((n && parse_long("-n", n, 1, &o->runs)) || (j && parse_long("-j", j, 1, &o->jobs)))
        return EXIT_USAGE;
    if (dur && ps_duration_parse(dur, &o->for_secs)) {
        cli_log(PS_LOG_ERROR, "--for '%.64s': expected a duration > 0, e.g. 90, 30s, 10m or 2h",
                dur);
        return EXIT_USAGE;
    }
    if (shard_resolve(shard, shards, &o->shard))
        return EXIT_USAGE;
    if ((o->results && !*o->results) || (o->junit && !*o->junit)) {
        cli_log(PS_LOG_ERROR, "%s is empty", o->results && !*o->results ? "--results" : "--junit");
        return EXIT_USAGE;
    }
    if (t) {
        o->timeout_arg = t;
        char *end;
        errno = 0;
        o->timeout = strtod(t, &end);
        if (errno || end == t || *end || !(o->timeout > 0) || o->timeout > 86400 * 7) {
            cli_log(PS_LOG_ERROR, "--timeout '%.64s': expected seconds > 0, e.g. 30 or 2.5", t);
            return EXIT_USAGE;
        }
    }
    char err[256];
    if (inj) {
        struct ps_inject in;
        if (ps_inject_parse(inj, &in, err, sizeof err)) {
            cli_log(PS_LOG_ERROR, "%s", err);
            return EXIT_USAGE;
        }
        ps_inject_format(&in, o->inject_buf, sizeof o->inject_buf);
        if (o->inject_buf[0])
            o->inject = o->inject_buf;
    }
    if (seed) {
        if (ps_seed_parse(seed, &o->seed, err, sizeof err)) {
            cli_log(PS_LOG_ERROR, "%s", err);
            return EXIT_USAGE;
        }
        o->seed_given = true;
    } else if (getrandom(&o->seed, sizeof o->seed, 0) != (ssize_t)sizeof o->seed) {
        o->seed = (uint64_t)time(NULL) * 6364136223846793005ULL ^ (uint64_t)getpid();
    }
    enum ps_mode m;
    if (o->mode && ps_mode_parse(o->mode, &m)) {
        cli_log(PS_LOG_ERROR, "--mode='%.64s': expected remap, unix or observe", o->mode);
        return EXIT_USAGE;
    }
    o->unix_mode = o->mode && m == PS_MODE_UNIX;
    if (o->ports) {
        struct ps_portspec spec;
        char why[160];
        if (ps_portspec_parse(o->ports, &spec, why, sizeof why)) {
            cli_log(PS_LOG_ERROR, "--ports='%.64s': %s", o->ports, why);
            return EXIT_USAGE;
        }
    }
    long mine = shard_runs(o);
    if (mine >= 0 && o->jobs > mine)
        o->jobs = mine > 0 ? mine : 1;
    return -1;
}

/* ---- one copy --------------------------------------------------------------- */

/* Each copy joins DIR/manifest.jsonl (run keeps its private directory
 * beside it, cli_make_ns_dir judges whether unix mode's names fit there). */
static int make_dir(const struct opts *o, struct copy *c)
{
    char dir[PATH_MAX];
    if (cli_make_ns_dir(o->unix_mode, o->workers != NULL, true, dir))
        return -1;
    if (!(c->dir = strdup(dir))) {
        cli_log(PS_LOG_ERROR, "stress: out of memory");
        rmdir(dir);
        return -1;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (remove(path))
        cli_log(PS_LOG_WARN, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static const char *self_exe(void)
{
    static char self[PATH_MAX];
    if (!self[0]) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
    }
    return self;
}

/* Forks `portshim-helper run --manifest DIR/manifest.jsonl --reap --seed S
 * [--inject SPEC] ... -- CMD`
 * as the leader of a new process group, output to DIR/output.log. */
static int start_copy(const struct opts *o, struct copy *c, const sigset_t *oldmask)
{
    char manifest[PATH_MAX + 32], log[PATH_MAX + 32], seed[24], idx[24];
    if (make_dir(o, c))
        return -1;
    snprintf(manifest, sizeof manifest, "%s/" CLI_MANIFEST_NAME, c->dir);
    snprintf(log, sizeof log, "%s/output.log", c->dir);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    snprintf(idx, sizeof idx, "%ld", c->idx);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_log(PS_LOG_ERROR, "cannot create %s: %s", log, strerror(errno));
        return -1;
    }
    size_t ncmd = 0;
    while (o->cmd[ncmd])
        ncmd++;
    const char **argv = calloc(ncmd + 16, sizeof *argv);
    if (!argv) {
        close(fd);
        return -1;
    }
    size_t k = 0;
    argv[k++] = self_exe();
    argv[k++] = "run";
    argv[k++] = "--manifest";
    argv[k++] = manifest;
    argv[k++] = "--reap";
    /* run exports PORTSHIM_SEED and PORTSHIM_INJECT from these (and clears
     * them when absent) */
    argv[k++] = "--seed";
    argv[k++] = seed;
    if (o->inject) {
        argv[k++] = "--inject";
        argv[k++] = o->inject;
    }
    if (o->mode) {
        argv[k++] = "--mode";
        argv[k++] = o->mode;
    }
    if (o->ports) {
        argv[k++] = "--ports";
        argv[k++] = o->ports;
    }
    if (o->workers)
        argv[k++] = o->workers_arg;
    argv[k++] = "--";
    for (size_t i = 0; i < ncmd; i++)
        argv[k++] = o->cmd[i];

    c->t_start = cli_mono();
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0 && null != 0) {
            dup2(null, 0);
            close(null);
        }
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("PORTSHIM_STRESS_RUN", idx, 1);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigprocmask(SIG_SETMASK, oldmask, NULL);
        execv(argv[0], (char *const *)argv);
        dprintf(2, "portshim: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(126);
    }
    int e = errno;
    free(argv);
    close(fd);
    if (pid < 0) {
        cli_log(PS_LOG_ERROR, "fork: %s", strerror(e));
        return -1;
    }
    setpgid(pid, pid);   /* both sides, so killpg works whoever runs first */
    c->pid = pid;
    c->running = true;
    return 0;
}

/* ---- output ----------------------------------------------------------------- */

static void progress(long done, long total, long failed, double secs, bool tty, bool final)
{
    char line[128];
    int n;
    if (total >= 0)
        n = snprintf(line, sizeof line, "stress: %ld/%ld runs, %ld failed, %.1f s", done, total,
                     failed, secs);
    else
        n = snprintf(line, sizeof line, "stress: %ld runs, %ld failed, %.1f s", done, failed,
                     secs);
    if (tty)
        fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "%.*s\n", n, line);
    fflush(stderr);
}

/* Not on a terminal (a CI log), a progress line is worth printing when
 * another tenth of the runs is done or 30 s have passed since the last. */
#define LOG_PROGRESS_SECS 30.0
static bool log_progress_due(long done, long total, long shown_done, double since)
{
    if (since >= LOG_PROGRESS_SECS)
        return true;
    return total > 0 && done * 10 / total > shown_done * 10 / total;
}

/* Shell-quotes s when it needs it. */
static void shq(FILE *f, const char *s)
{
    bool plain = *s;
    for (const char *p = s; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-",
                       *p) != NULL;
    if (plain) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else if ((unsigned char)*p < 0x20 || *p == 0x7f)
            fputc('?', f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

/* The command that runs exactly this seed again (malloc'd, or NULL). */
static char *replay_cmd(const struct opts *o, uint64_t seed)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "portshim stress --seed %llu -n 1", (unsigned long long)seed);
    if (o->inject)
        fprintf(f, " --inject '%s'", o->inject);   /* canonical: no quotes in it */
    if (o->timeout_arg) {   /* a failure that is a timeout replays only with it */
        fputs(" --timeout ", f);
        shq(f, o->timeout_arg);
    }
    if (o->mode)
        fprintf(f, " --mode %s", o->mode);
    if (o->ports) {
        fputs(" --ports ", f);
        shq(f, o->ports);
    }
    if (o->workers) {
        fputc(' ', f);
        shq(f, o->workers_arg);
    }
    fputs(" --", f);
    for (char **a = o->cmd; *a; a++) {
        fputc(' ', f);
        shq(f, *a);
    }
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The command line as one string, for the JUnit properties. */
static char *cmdline(const struct opts *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    for (char **a = o->cmd; *a; a++) {
        if (a != o->cmd)
            fputc(' ', f);
        shq(f, *a);
    }
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}

static bool failed(const struct copy *c)
{
    return c->timed_out || !WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0;
}

/* What a finished copy leaves: read before a passed run's directory goes. */
static void finish_run(const struct opts *o, struct copy *c, double now)
{
    struct stress_run *r = &c->run;
    char log[PATH_MAX + 32];
    r->idx = c->idx;
    r->seed = c->seed;
    r->timeout = c->timed_out;
    r->exit = !c->timed_out && WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
    r->sig = !c->timed_out && WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0;
    r->start = c->wall_start;
    r->secs = now - c->t_start;
    snprintf(log, sizeof log, "%s/output.log", c->dir);
    r->tail = stress_tail(log, TAIL_LINES);
    if (failed(c)) {
        if (asprintf(&r->manifest, "%s/" CLI_MANIFEST_NAME, c->dir) < 0)
            r->manifest = NULL;
        r->replay = replay_cmd(o, c->seed);
    }
}

static int by_finish(const void *a, const void *b)
{
    const struct copy *x = *(const struct copy *const *)a, *y = *(const struct copy *const *)b;
    return (x->finish > y->finish) - (x->finish < y->finish);
}

/* ---- the loop ----------------------------------------------------------------- */

/* The plan, before the runs. Not in the shape of the summary line, which
 * tests and scripts grep. */
static void announce(const struct opts *o, long mine)
{
    printf("stress: base seed %llu%s, ", (unsigned long long)o->seed,
           o->seed_given ? "" : " (random)");
    if (o->runs >= 0)
        printf("%ld run%s", o->runs, o->runs == 1 ? "" : "s");
    else
        printf("runs for %g s", o->for_secs);
    if (o->shard.n > 1)
        printf(" in %ld shards; shard %ld (%s) runs ", o->shard.n, o->shard.k, o->shard.from);
    if (o->shard.n > 1 && mine >= 0)
        printf("%ld", mine);
    else if (o->shard.n > 1)   /* no "every 2th": the indices it takes */
        printf("the runs whose index mod %ld is %ld", o->shard.n, o->shard.k - 1);
    if (o->for_secs > 0 && o->runs >= 0)
        printf(", for at most %g s", o->for_secs);
    printf(", %ld at a time, timeout %g s%s\n", o->jobs, o->timeout,
           o->until_fail ? ", until the first failure" : "");
    fflush(stdout);
}

/* A copy past its timeout gets SIGTERM (its whole group), one that
 * outlived KILL_GRACE after that SIGKILL. */
static void enforce_deadlines(const struct opts *o, struct copy *c, long from, long to, double now)
{
    for (long i = from; i < to; i++) {
        if (!c[i].running)
            continue;
        if (!c[i].t_term && now >= c[i].t_start + o->timeout) {
            c[i].timed_out = true;
            c[i].t_term = now;
            killpg(c[i].pid, SIGTERM);
        } else if (c[i].t_term && !c[i].killed && now >= c[i].t_term + KILL_GRACE) {
            c[i].killed = true;
            killpg(c[i].pid, SIGKILL);
        }
    }
}

/* The failed runs, in the order they finished. */
static void print_failures(const struct copy *c, long n, long nfailed)
{
    const struct copy **f = calloc((size_t)(nfailed ? nfailed : 1), sizeof *f);
    long nf = 0;
    for (long i = 0; f && i < n; i++)
        if (c[i].done && failed(&c[i]))
            f[nf++] = &c[i];
    if (f)
        qsort(f, (size_t)nf, sizeof *f, by_finish);
    for (long i = 0; i < nf; i++)
        stress_print_failure(stdout, &f[i]->run);
    fflush(stdout);
    free(f);
}

static void free_copies(struct copy *c, long n)
{
    for (long i = 0; i < n; i++) {
        free(c[i].dir);
        free(c[i].run.tail);
        free(c[i].run.manifest);
        free(c[i].run.replay);
    }
    free(c);
}


/* What the runs left, for the report. */
struct collected {
    struct copy *c;             /* the copies started: next of them */
    long next, done, nfailed;
    double wall0, secs;         /* when the first started (epoch), how long it took */
    int stop_sig;               /* the signal that stopped the runs, or 0 */
    bool setup_failed;          /* a copy could not be started */
    bool stopped_fail;          /* --until-fail stopped at a failure */
    bool results_failed;        /* a --results write failed (said once) */
};

/* Starts the shard's copies, jobs at a time, waits for each (children,
 * signals, deadlines and progress ticks in one sigtimedwait loop), keeps
 * what each left and writes it to results as it finishes. c (cap entries,
 * zeroed) grows as --for needs; *r gets it back. */
static void collect(const struct opts *o, long mine, const struct stress_plan *plan,
                    FILE *results, struct copy *c, size_t cap, struct collected *r)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);

    bool tty = isatty(2);
    double t0 = cli_mono(), last_shown = t0;
    long next = 0, active = 0, done = 0, nfailed = 0, finish = 0, first_live = 0, shown_done = 0;
    bool stop = false, results_failed = false;
    int stop_sig = 0;
    r->wall0 = cli_now();
    r->setup_failed = r->stopped_fail = false;
    for (;;) {
        double now = cli_mono();
        if (!stop && o->for_secs > 0 && now - t0 >= o->for_secs)
            stop = true;   /* time is up: start nothing more */
        if (done >= next && (stop || (mine >= 0 && next >= mine)))
            break;
        while (!stop && active < o->jobs && (mine < 0 || next < mine)) {
            if ((size_t)next == cap) {
                struct copy *nc = realloc(c, cap * 2 * sizeof *c);
                if (!nc) {
                    cli_log(PS_LOG_ERROR, "stress: out of memory after %ld runs", next);
                    stop = true;
                    break;
                }
                memset(nc + cap, 0, cap * sizeof *c);
                c = nc;
                cap *= 2;
            }
            struct copy *k = &c[next];
            k->idx = ps_shard_index(&(struct ps_shard){o->shard.k, o->shard.n}, next);
            k->seed = o->seed + (uint64_t)k->idx;
            k->wall_start = cli_now();
            if (start_copy(o, k, &old)) {
                stop = r->setup_failed = true;
                break;
            }
            next++;
            active++;
        }
        /* Wait for a child, a signal, a deadline or the next progress tick. */
        double wait = tty ? 0.1 : 1.0;
        for (long i = first_live; i < next; i++) {
            if (!c[i].running)
                continue;
            double dl = c[i].t_term ? c[i].t_term + KILL_GRACE : c[i].t_start + o->timeout;
            if (dl - now < wait)
                wait = dl - now;
        }
        if (o->for_secs > 0 && !stop && t0 + o->for_secs - now < wait)
            wait = t0 + o->for_secs - now;
        if (wait < 0.001)
            wait = 0.001;
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
            stop = true;
            stop_sig = sig;
            for (long i = first_live; i < next; i++)
                if (c[i].running && !c[i].t_term) {
                    killpg(c[i].pid, SIGTERM);
                    c[i].t_term = cli_mono();
                }
        }
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG)) > 0)
            for (long i = first_live; i < next; i++)
                if (c[i].running && c[i].pid == p) {
                    c[i].running = false;
                    c[i].done = true;
                    c[i].status = st;
                    c[i].finish = finish++;
                    if (c[i].t_term)   /* whatever the copy left in its group goes too */
                        killpg(c[i].pid, SIGKILL);
                    active--;
                    done++;
                    finish_run(o, &c[i], cli_mono());
                    if (failed(&c[i])) {
                        nfailed++;
                        if (o->until_fail && !stop)
                            stop = r->stopped_fail = true;
                    } else {
                        nftw(c[i].dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
                    }
                    if (results && !results_failed &&
                        results_write(results, plan, &c[i].run)) {
                        cli_log(PS_LOG_ERROR, "--results: cannot write %s: %s", o->results,
                                strerror(errno));
                        results_failed = true;
                    }
                    break;
                }
        while (first_live < next && c[first_live].done)
            first_live++;
        now = cli_mono();
        enforce_deadlines(o, c, first_live, next, now);
        if (tty ? now - last_shown >= 0.1 : log_progress_due(done, mine, shown_done,
                                                             now - last_shown)) {
            if (tty || done < mine || mine < 0)   /* the last one is the final line */
                progress(done, mine, nfailed, now - t0, tty, false);
            last_shown = now;
            shown_done = done;
        }
    }
    double secs = cli_mono() - t0;
    progress(done, mine, nfailed, secs, tty, true);
    sigprocmask(SIG_SETMASK, &old, NULL);
    r->c = c;
    r->next = next;
    r->done = done;
    r->nfailed = nfailed;
    r->secs = secs;
    r->stop_sig = stop_sig;
    r->results_failed = results_failed;
}

int cmd_stress(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "merge"))
        return cmd_stress_merge(argc - 1, argv + 1);
    struct opts o;
    int r = parse_opts(argc, argv, &o);
    if (r >= 0)
        return r;
    if (!self_exe()[0]) {
        cli_log(PS_LOG_ERROR, "stress: cannot find this program (/proc/self/exe)");
        return EXIT_USAGE;
    }
    long mine = shard_runs(&o);   /* -1: until --for's time is up */
    FILE *results = NULL;
    if (o.results && !(results = fopen(o.results, "w"))) {
        cli_log(PS_LOG_ERROR, "--results: cannot write %s: %s", o.results, strerror(errno));
        return EXIT_USAGE;
    }
    if (o.junit) {   /* a path that cannot be written is said now, not after the runs */
        int fd = open(o.junit, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            cli_log(PS_LOG_ERROR, "--junit: cannot write %s: %s", o.junit, strerror(errno));
            if (results)
                fclose(results);
            return EXIT_USAGE;
        }
        close(fd);
    }
    size_t cap = mine >= 0 ? (size_t)(mine ? mine : 1) : 64;
    struct copy *c = calloc(cap, sizeof *c);
    if (!c) {
        cli_log(PS_LOG_ERROR, "stress: out of memory");
        if (results)
            fclose(results);
        return EXIT_USAGE;
    }
    struct stress_plan plan = {o.seed, o.runs, o.shard};
    announce(&o, mine);

    struct collected run;
    collect(&o, mine, &plan, results, c, cap, &run);
    c = run.c;

    if (run.stop_sig)
        cli_log(PS_LOG_ERROR, "stress: stopped by signal %d after %ld of %ld runs; runs cut "
                "short count as failed", run.stop_sig, run.done, mine >= 0 ? mine : run.next);
    else if (run.stopped_fail && mine >= 0 && run.done < mine)
        printf("stress: stopped at the first failure (--until-fail): %ld of %ld runs done\n",
               run.done, mine);
    else if (run.stopped_fail)
        printf("stress: stopped at the first failure (--until-fail) after %ld runs\n", run.done);
    if (run.done)
        stress_summary(stdout, run.done, run.nfailed, run.secs);
    else
        printf("stress: 0 runs%s\n", mine == 0 ? " (this shard has none of the plan's runs)" : "");
    print_failures(c, run.next, run.nfailed);

    int rc = run.nfailed ? 1 : 0;
    if (results && (fclose(results) || run.results_failed)) {
        if (!run.results_failed)
            cli_log(PS_LOG_ERROR, "--results: cannot write %s", o.results);
        rc = rc ? rc : EXIT_USAGE;
    }
    if (o.junit) {
        /* in run order, as a CI page lists them */
        struct stress_run *runs = calloc((size_t)(run.done ? run.done : 1), sizeof *runs);
        long n = 0;
        for (long i = 0; runs && i < run.next; i++)
            if (c[i].done)
                runs[n++] = c[i].run;
        char *line = cmdline(&o);
        if (!runs || junit_write(o.junit, &plan, line ? line : "", runs, n, run.wall0, run.secs))
            rc = rc ? rc : EXIT_USAGE;
        free(line);
        free(runs);
    }
    free_copies(c, run.next);
    if (run.stop_sig)
        return 128 + run.stop_sig;
    if (run.setup_failed && !run.nfailed)
        return EXIT_USAGE;
    return rc;
}
