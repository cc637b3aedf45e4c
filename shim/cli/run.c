/* run.c — `portshim run`: make (or join) a namespace, run CMD inside it with
 * the library preloaded, and pass on CMD's exit status. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/leak.h"
#include "cli/supervise.h"
#include "core/config.h"
#include "core/execkind.h"
#include "core/log.h"
#include "core/trust.h"
#include "core/unixname.h"
#include "seccomp/attach.h"

void usage_run(FILE *f)
{
    fputs("usage: portshim run [--mode remap|unix|observe] [--manifest FILE] [--ports SPEC]\n"
          "                    [--inject SPEC [--seed S]] [--per-worker[=VAR[,VAR...]]]\n"
          "                    [--reap] [--share-with USER|GROUP]\n"
          "                    [--backend auto|preload|seccomp] -- CMD [ARG...]\n"
          "\n"
          "Runs CMD in a new private port namespace (a 0700 directory under $TMPDIR\n"
          "holding the manifest) and exits with CMD's status. The namespace is removed\n"
          "when CMD succeeds and kept, with its path printed, when CMD fails.\n"
          "\n"
          "  --mode MODE      remap (default): binds get a fresh kernel port;\n"
          "                   unix: binds become UNIX sockets in the namespace directory\n"
          "                   (under /tmp when $TMPDIR is too long for socket names);\n"
          "                   observe: nothing changes, everything is recorded\n"
          "  --manifest FILE  join (or create) the namespace of FILE instead; nothing\n"
          "                   is removed afterwards\n"
          "  --ports SPEC     ports that are strictly virtual, e.g. 8000-8100,6379: a\n"
          "                   connect to one with no listener is refused; binds of\n"
          "                   other ports are left alone\n"
          "  --inject SPEC    seeded faults, e.g. accept-delay=30ms@0.3,connect-refused=2%\n"
          "                   or udp-drop=10% (docs/inject.md)\n"
          "  --seed S         the seed of --inject's decisions (decimal); without it a\n"
          "                   random one, printed for replay\n"
          "  --per-worker[=VAR,...]\n"
          "                   one sub-namespace per test worker: a process whose\n"
          "                   environment has VAR gets the sub-namespace named by its\n"
          "                   value (its children too); others stay in the run's.\n"
          "                   Default: PYTEST_XDIST_WORKER, JEST_WORKER_ID,\n"
          "                   MOCHA_WORKER_ID, VITEST_POOL_ID, VITEST_WORKER_ID,\n"
          "                   TEST_WORKER_INDEX (e.g. run --per-worker -- pytest -n 8)\n"
          "  --reap           end the processes that still hold listeners of the\n"
          "                   namespace when CMD exits (SIGTERM, SIGKILL after 2 s);\n"
          "                   without it they are only reported\n"
          "  --share-with NAME\n"
          "                   make the namespace usable by user NAME (needs root) or,\n"
          "                   when no such user exists, group NAME, and no one else:\n"
          "                   for a server that drops to that user (runuser, su, User=)\n"
          "  --backend B      who sees the programs' socket calls. auto (default): the\n"
          "                   preload library for dynamic programs, a seccomp\n"
          "                   supervisor for static and Go ones (the command, and any\n"
          "                   such program exec'd in the run); where the supervisor\n"
          "                   cannot run, a static or Go command is refused (status 2).\n"
          "                   preload: the library only; static and Go programs run\n"
          "                   outside the namespace, each with a warning.\n"
          "                   seccomp: the supervisor for every program, no library\n"
          "\n"
          "Exit status: CMD's (128+N if a signal N killed it); 127 CMD not found, 126\n"
          "not executable; 2 usage error, a manifest not to be trusted, or a static or\n"
          "Go CMD that no seccomp supervisor can isolate here (CMD not run).\n",
          f);
}

/* --backend: who answers the socket calls of the run's programs. */
enum backend { BACKEND_AUTO, BACKEND_PRELOAD, BACKEND_SECCOMP };
static const char *const backend_names[] = {"auto", "preload", "seccomp"};

struct run_opts {
    enum ps_mode mode;
    const char *manifest;       /* --manifest, or NULL for a new namespace */
    const char *ports;          /* --ports, or NULL */
    const char *inject;         /* --inject, or NULL */
    const char *seed;           /* --seed, or NULL */
    const char *workers;        /* --per-worker's variables, or NULL */
    bool reap;                  /* --reap: end leaked listeners' processes */
    const char *share;          /* --share-with, or NULL */
    enum backend backend;       /* --backend */
    long share_uid, share_gid;  /* what it resolved to, -1 none */
    char **cmd;
};

/* --share-with NAME: a user if there is one (the namespace's files become
 * its own; only root can give them), else a group (they become writable by
 * it; its members and root can do that). A group share also trusts files
 * owned by this run's user, whom the group's other members are not. */
static int resolve_share(struct run_opts *o)
{
    o->share_uid = o->share_gid = -1;
    if (!o->share)
        return 0;
    struct passwd *pw = *o->share ? getpwnam(o->share) : NULL;
    struct group *gr = pw || !*o->share ? NULL : getgrnam(o->share);
    if (pw) {
        if (geteuid() != 0 && pw->pw_uid != geteuid()) {
            cli_log(PS_LOG_ERROR, "--share-with '%.64s': giving the namespace to another user "
                    "needs root; share it with a group of yours instead", o->share);
            return -1;
        }
        o->share_uid = (long)pw->pw_uid;
        return 0;
    }
    if (gr) {
        o->share_gid = (long)gr->gr_gid;
        o->share_uid = (long)geteuid();
        return 0;
    }
    cli_log(PS_LOG_ERROR, "--share-with '%.64s': no such user or group", o->share);
    return -1;
}

static struct ps_trust run_trust(const struct run_opts *o)
{
    struct ps_trust t = {geteuid(), o->share_uid, o->share_gid};
    return t;
}

/* Gives a file or directory of the namespace to the shared user (mode
 * 0600/0700) or group (0660/0770), on its descriptor. */
static int share_fd(int fd, const char *path, bool dir, const struct run_opts *o)
{
    if (!o->share)
        return 0;
    struct ps_trust t = run_trust(o);
    if (ps_trust_give(fd, dir, &t)) {
        cli_log(PS_LOG_ERROR, "--share-with '%.64s': cannot give %s to it: %s", o->share, path,
                strerror(errno));
        return -1;
    }
    return 0;
}

static int share_dir(const char *path, const struct run_opts *o)
{
    if (!o->share)
        return 0;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        cli_log(PS_LOG_ERROR, "--share-with: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int r = share_fd(fd, path, true, o);
    close(fd);
    return r;
}

/* A shared namespace's connect counters (MANIFEST.cnt, docs/manifest.md)
 * are made here, empty, and given away like the manifest. Left to the
 * library, the first process to connect would make them its own, 0600:
 * with a group share, or a user share whose first connect is the caller's,
 * the other side then distrusts them or cannot open them (a warning in
 * every such run, and connects written as lines). */
static void share_counters(const char *manifest, const struct run_opts *o)
{
    char path[PATH_MAX + 8], why[200];
    struct ps_trust t = run_trust(o);
    enum ps_trust_verdict v;
    if (!o->share || (size_t)snprintf(path, sizeof path, "%s.cnt", manifest) >= sizeof path)
        return;
    int fd = ps_trust_open(path, O_RDWR | O_CREAT | O_CLOEXEC, false, &t, &v, why, sizeof why);
    if (fd < 0) {   /* the library will say so too, and count in lines */
        cli_log(PS_LOG_WARN, "--share-with: connect counters %s %s", path, why);
        return;
    }
    share_fd(fd, path, false, o);
    close(fd);
}

/* --inject and --seed: validated here, exported by export_inject. */
static int check_inject(const struct run_opts *o)
{
    struct ps_inject in;
    uint64_t seed;
    char why[256];
    if (o->inject && ps_inject_parse(o->inject, &in, why, sizeof why)) {
        cli_log(PS_LOG_ERROR, "%s", why);
        return -1;
    }
    if (o->seed && ps_seed_parse(o->seed, &seed, why, sizeof why)) {
        cli_log(PS_LOG_ERROR, "%s", why);
        return -1;
    }
    return 0;
}

/* PORTSHIM_INJECT and PORTSHIM_SEED; with --inject but no --seed, a random
 * seed, printed so the run can be replayed. */
static int export_inject(const struct run_opts *o)
{
    char seed[24];
    if (!o->inject)
        return unsetenv("PORTSHIM_INJECT") || (o->seed ? setenv("PORTSHIM_SEED", o->seed, 1)
                                                       : unsetenv("PORTSHIM_SEED"));
    if (o->seed) {
        snprintf(seed, sizeof seed, "%s", o->seed);
    } else {
        uint64_t s = 0;
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, &s, sizeof s) != (ssize_t)sizeof s)
            s = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)(cli_now() * 1e6);
        if (fd >= 0)
            close(fd);
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)s);
        cli_log(PS_LOG_ERROR, "seed %s (replay: --seed %s)", seed, seed);
    }
    return setenv("PORTSHIM_INJECT", o->inject, 1) || setenv("PORTSHIM_SEED", seed, 1);
}

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
    const char *mode = NULL, *backend = NULL;
    int i = 1, r;
    memset(o, 0, sizeof *o);
    while (i < argc) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (cli_is_help(a)) {
            usage_run(stdout);
            return 0;
        }
        if ((r = cli_opt(argc, argv, &i, "--mode", &mode)) ||
            (r = cli_opt(argc, argv, &i, "--manifest", &o->manifest)) ||
            (r = cli_opt(argc, argv, &i, "--ports", &o->ports)) ||
            (r = cli_opt(argc, argv, &i, "--inject", &o->inject)) ||
            (r = cli_opt(argc, argv, &i, "--seed", &o->seed)) ||
            (r = cli_opt(argc, argv, &i, "--share-with", &o->share)) ||
            (r = cli_opt(argc, argv, &i, "--backend", &backend))) {
            if (r < 0)
                return usage_hint("run");
            continue;
        }
        if ((r = cli_flag(a, "--reap", &o->reap))) {
            if (r < 0)
                return usage_hint("run");
            i++;
            continue;
        }
        /* No "--per-worker VARS" form: a bare --per-worker never takes the
         * next argument (the command) as its value. */
        if (!strcmp(a, "--per-worker") || !strncmp(a, "--per-worker=", 13)) {
            if (o->workers) {   /* as every option: last-wins would hide a mistake */
                cli_log(PS_LOG_ERROR, "--per-worker given twice");
                return usage_hint("run");
            }
            o->workers = a[12] ? a + 13 : PS_WORKER_DEFAULT_VARS;
            i++;
            continue;
        }
        if (a[0] == '-' && a[1]) {
            cli_log(PS_LOG_ERROR, "run: unknown option '%s'", a);
            return usage_hint("run");
        }
        break;   /* CMD without "--" */
    }
    if (i >= argc) {
        cli_log(PS_LOG_ERROR, "run: no command given (portshim run [OPTIONS] -- CMD [ARG...])");
        return usage_hint("run");
    }
    o->cmd = argv + i;

    o->mode = PS_MODE_REMAP;
    if (mode && ps_mode_parse(mode, &o->mode)) {
        cli_log(PS_LOG_ERROR, "--mode='%.64s': expected remap, unix or observe", mode);
        return EXIT_USAGE;
    }
    o->backend = BACKEND_AUTO;
    if (backend) {
        for (r = 0; r < 3 && strcmp(backend, backend_names[r]); r++)
            ;
        if (r == 3) {
            cli_log(PS_LOG_ERROR, "--backend='%.64s': expected auto, preload or seccomp", backend);
            return EXIT_USAGE;
        }
        o->backend = (enum backend)r;
    }
    if (o->ports) {
        struct ps_portspec spec;
        char why[160];
        if (ps_portspec_parse(o->ports, &spec, why, sizeof why)) {
            cli_log(PS_LOG_ERROR, "--ports='%.64s': %s", o->ports, why);
            return EXIT_USAGE;
        }
    }
    if (o->manifest && !*o->manifest) {
        cli_log(PS_LOG_ERROR, "--manifest is empty");
        return EXIT_USAGE;
    }
    if (check_inject(o) || resolve_share(o))
        return EXIT_USAGE;
    if (o->workers) {
        char why[160];
        if (ps_workervars_parse(o->workers, why, sizeof why) < 0) {
            cli_log(PS_LOG_ERROR, "--per-worker='%.64s': %s", o->workers, why);
            return EXIT_USAGE;
        }
    }
    return -1;   /* go on */
}

/* The library to preload: $PORTSHIM_LIBRARY (set by scripts/portshim), else
 * next to this helper in a build tree or an installed tree. */
static int library_path(char out[PATH_MAX])
{
    const char *lib = getenv("PORTSHIM_LIBRARY");
    char guess[PATH_MAX + 64];
    if (!lib || !*lib) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            cli_log(PS_LOG_ERROR, "PORTSHIM_LIBRARY is not set; run this through scripts/portshim");
            return -1;
        }
        self[n] = 0;
        char *slash = strrchr(self, '/');
        *slash = 0;
        snprintf(guess, sizeof guess, "%s/libportshim.so", self);
        if (access(guess, R_OK))
            snprintf(guess, sizeof guess, "%s/../../lib/portshim/libportshim.so", self);
        lib = guess;
    }
    if (!realpath(lib, out)) {
        cli_log(PS_LOG_ERROR, "library not found at %s; run 'make' first", lib);
        return -1;
    }
    return 0;
}

/* Is lib already one of the entries of an LD_PRELOAD list (':' or blanks)? */
static bool preload_has(const char *list, const char *lib)
{
    char *copy = strdup(list), *save = NULL, real[PATH_MAX];
    bool found = false;
    if (!copy)
        return false;
    for (char *t = strtok_r(copy, ": \t", &save); t && !found; t = strtok_r(NULL, ": \t", &save))
        found = !strcmp(t, lib) || (strchr(t, '/') && realpath(t, real) && !strcmp(real, lib));
    free(copy);
    return found;
}

static int set_preload(const char *lib)
{
    const char *old = getenv("LD_PRELOAD");
    if (old && *old && preload_has(old, lib))
        return 0;
    if (!old || !*old)
        return setenv("LD_PRELOAD", lib, 1);
    size_t n = strlen(lib) + 1 + strlen(old) + 1;
    char *v = malloc(n);
    if (!v)
        return -1;
    snprintf(v, n, "%s:%s", lib, old);
    int r = setenv("LD_PRELOAD", v, 1);
    free(v);
    return r;
}

struct nspace {
    char dir[PATH_MAX];
    char manifest[PATH_MAX];
    bool created;               /* ours to remove */
    int fd;
};

static int create_namespace(struct nspace *ns, const struct run_opts *o)
{
    if (cli_make_ns_dir(o->mode == PS_MODE_UNIX, o->workers != NULL, false, ns->dir))
        return -1;
    ns->created = true;
    if ((size_t)snprintf(ns->manifest, sizeof ns->manifest, "%s/" CLI_MANIFEST_NAME, ns->dir) >=
        sizeof ns->manifest) {
        cli_log(PS_LOG_ERROR, "namespace path '%.64s...' is too long", ns->dir);
        return -1;
    }
    ns->fd = open(ns->manifest, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (ns->fd < 0) {
        cli_log(PS_LOG_ERROR, "cannot create manifest %s: %s", ns->manifest, strerror(errno));
        return -1;
    }
    if (share_fd(ns->fd, ns->manifest, false, o) || share_dir(ns->dir, o))
        return -1;
    share_counters(ns->manifest, o);
    return 0;
}

/* Unix mode in a namespace named by --manifest: its socket files go to a
 * private 0700 directory beside the manifest, "<manifest>.d", which every
 * run joining that manifest finds again. Never the manifest's own directory:
 * two namespaces there would replace each other's socket files, and other
 * users could reach them. */
static int join_socket_dir(struct nspace *ns, const struct run_opts *o)
{
    struct stat st;
    struct ps_trust t = run_trust(o);
    char why[200] = "is not private";
    if (cli_joined_dir(ns->manifest, ns->dir, sizeof ns->dir) ||
        !cli_socket_dir_fits(ns->dir, o->mode == PS_MODE_UNIX, o->workers != NULL)) {
        cli_log(PS_LOG_ERROR, "--manifest '%s': the socket directory '%s.d' is too long for "
                "unix socket names (at most %d bytes%s); use a shorter manifest path",
                ns->manifest, ns->manifest, o->workers ? PS_WORKER_ROOT_MAX : PS_UNAME_DIR_MAX,
                o->workers ? " with --per-worker" : "");
        return -1;
    }
    if (mkdir(ns->dir, 0700) && errno != EEXIST) {
        cli_log(PS_LOG_ERROR, "--manifest '%s': cannot create '%s': %s", ns->manifest, ns->dir,
                strerror(errno));
        return -1;
    }
    /* No one but its owner (and the --share-with group) may even enter it:
     * that is what keeps other users from connecting to its sockets. */
    if (lstat(ns->dir, &st) || ps_trust_check(&st, true, &t, why, sizeof why) ||
        (st.st_mode & 007) || ((st.st_mode & 070) && (long)st.st_gid != o->share_gid)) {
        cli_log(PS_LOG_ERROR, "--manifest '%s': '%s' %s; it must be a directory of this user "
                "that nobody else may open (mode 0700)", ns->manifest, ns->dir, why);
        return -1;
    }
    return share_dir(ns->dir, o);
}

static int join_namespace(struct nspace *ns, const char *path, const struct run_opts *o)
{
    enum ps_mode mode = o->mode;
    enum ps_trust_verdict v;
    struct ps_trust t = run_trust(o);
    char why[200];
    /* Its lines decide where this run's connects go: the same checks as
     * the library's (core/trust.c), before anything is written. */
    ns->fd = ps_trust_open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, false, &t, &v, why,
                           sizeof why);
    if (ns->fd < 0) {
        cli_log(PS_LOG_ERROR, "--manifest '%s' %s", path, why);
        return -1;
    }
    if (share_fd(ns->fd, path, false, o))
        return -1;
    if (!realpath(path, ns->manifest)) {
        cli_log(PS_LOG_ERROR, "--manifest '%s': %s", path, strerror(errno));
        return -1;
    }
    share_counters(ns->manifest, o);
    /* Workers' sub-namespaces need a private directory in every mode. */
    if (mode == PS_MODE_UNIX || o->workers)
        return join_socket_dir(ns, o);
    snprintf(ns->dir, sizeof ns->dir, "%s", ns->manifest);
    char *slash = strrchr(ns->dir, '/');
    if (slash == ns->dir)
        slash[1] = 0;   /* a manifest in / */
    else
        *slash = 0;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (remove(path))
        cli_log(PS_LOG_WARN, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static void remove_namespace(const struct nspace *ns)
{
    if (ns->created)
        nftw(ns->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static int write_start(const struct nspace *ns, enum ps_mode mode)
{
    struct ps_event e;
    char line[PS_LINE_MAX];
    ps_event_init(&e, PS_EV_START);
    e.ts = cli_now();
    e.pid = (int)getpid();
    snprintf(e.prog, sizeof e.prog, "portshim");
    snprintf(e.mode, sizeof e.mode, "%s", ps_mode_name(mode));
    size_t len = ps_event_encode(&e, line, sizeof line);
    int r = -1;
    if (len && ps_manifest_lock(ns->fd) == 0) {
        r = ps_manifest_append(ns->fd, line, len);
        ps_manifest_unlock(ns->fd);
    }
    if (r)
        cli_log(PS_LOG_ERROR, "cannot write to manifest %s: %s", ns->manifest, strerror(errno));
    return r;
}

static const char *env_get(const char *name) { return getenv(name); }

/* Set for a shared namespace, unset otherwise (not inherited from an
 * outer run: a new namespace is shared only when asked). */
static int export_id(const char *name, long id)
{
    char v[24];
    if (id < 0)
        return unsetenv(name);
    snprintf(v, sizeof v, "%ld", id);
    return setenv(name, v, 1);
}

/* PORTSHIM_HELPER: this helper, through which the library spawns a static
 * or Go program (posix_spawn, preload/exec.c). */
static int export_helper(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return unsetenv("PORTSHIM_HELPER");
    self[n] = '\0';
    return setenv("PORTSHIM_HELPER", self, 1);
}

static int export_env(const struct nspace *ns, const struct run_opts *o, const char *lib)
{
    char err[256];
    struct ps_config c;
    if (setenv("PORTSHIM_MANIFEST", ns->manifest, 1) ||
        setenv("PORTSHIM_MODE", ps_mode_name(o->mode), 1) ||
        setenv("PORTSHIM_DIR", ns->dir, 1) ||
        setenv("PORTSHIM_LIBRARY", lib, 1) ||
        (o->ports ? setenv("PORTSHIM_PORTS", o->ports, 1) : unsetenv("PORTSHIM_PORTS")) ||
        (o->workers ? setenv("PORTSHIM_PER_WORKER", o->workers, 1)
                    : unsetenv("PORTSHIM_PER_WORKER")) ||
        export_id("PORTSHIM_SHARE_UID", o->share_uid) ||
        export_id("PORTSHIM_SHARE_GID", o->share_gid) ||
        setenv("PORTSHIM_BACKEND", backend_names[o->backend], 1) ||
        export_helper() ||
        /* never an outer run's supervisor: this run starts its own, or none */
        unsetenv(PS_SUPERVISOR_ENV) ||
        export_inject(o) || (o->backend != BACKEND_SECCOMP && set_preload(lib))) {
        cli_log(PS_LOG_ERROR, "cannot set the environment: %s", strerror(errno));
        return -1;
    }
    /* What the library will read, checked now: a bad PORTSHIM_LOG would
     * otherwise stop every program of the run (status 78). */
    if (ps_config_load(&c, env_get, err, sizeof err)) {
        cli_log(PS_LOG_ERROR, "%s", err);
        return -1;
    }
    return 0;
}

static volatile sig_atomic_t g_child;

static void forward_signal(int sig)
{
    int saved = errno;
    if (g_child > 0)
        kill((pid_t)g_child, sig);
    errno = saved;
}

/* Starts cmd; returns its pid, or -1 with the exec errno in *exec_err
 * (negative: putting it under the supervisor at sup failed). sup: the
 * supervisor's socket when cmd needs it (a static or Go program), else NULL. */
static pid_t spawn(char **cmd, const char *sup, int *exec_err)
{
    int pfd[2];
    sigset_t block, old;
    struct sigaction fwd, ign;

    if (pipe2(pfd, O_CLOEXEC)) {
        *exec_err = errno;
        return -1;
    }
    /* Block until the handlers are in place so that a SIGTERM arriving just
     * after fork is forwarded, not lost with the child orphaned. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGQUIT);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        sigprocmask(SIG_SETMASK, &old, NULL);
        int e = sup ? ps_seccomp_attach(sup) : 0;
        if (e == 0) {
            execvp(cmd[0], cmd);
            e = errno;
        }
        ssize_t w = write(pfd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(pfd[1]);
    if (pid < 0) {
        *exec_err = errno;
        close(pfd[0]);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    g_child = pid;
    memset(&fwd, 0, sizeof fwd);
    fwd.sa_handler = forward_signal;
    fwd.sa_flags = SA_RESTART;
    sigemptyset(&fwd.sa_mask);
    sigaction(SIGTERM, &fwd, NULL);
    sigaction(SIGHUP, &fwd, NULL);
    /* The terminal already sends SIGINT/SIGQUIT to CMD's process group. */
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGQUIT, &ign, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);

    int e = 0;
    ssize_t n;
    while ((n = read(pfd[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(pfd[0]);
    if (n == (ssize_t)sizeof e) {
        *exec_err = e;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return -1;
    }
    return pid;
}

static int wait_status(pid_t pid, int *sig)
{
    int st;
    *sig = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            cli_log(PS_LOG_ERROR, "waitpid: %s", strerror(errno));
            return 1;
        }
    if (WIFSIGNALED(st)) {
        *sig = WTERMSIG(st);
        return 128 + *sig;
    }
    return WEXITSTATUS(st);
}

/* Which backend the command itself gets, decided before it starts: the
 * supervisor (*attach: its socket) for a static or Go program, or for any
 * program with --backend seccomp; nothing more for a dynamic one, whose
 * library is preloaded. Never silently unisolated: a command that needs
 * the supervisor where there is none is refused (-1), unless --backend
 * preload asked for exactly that, which is said in one line. */
static int decide_backend(const struct run_opts *o, struct ps_supervisor *sup,
                          const char **attach)
{
    char resolved[PATH_MAX];
    enum ps_exec_kind kind = PS_EXEC_UNKNOWN;
    if (ps_exec_resolve(o->cmd[0], resolved, sizeof resolved))
        kind = ps_exec_kind_of(resolved);
    bool needs = o->backend == BACKEND_SECCOMP || ps_exec_needs_supervisor(kind);
    *attach = NULL;
    if (!needs)
        return 0;
    if (sup) {
        *attach = getenv(PS_SUPERVISOR_ENV);
        return 0;
    }
    const char *why = ps_seccomp_unavailable();
    char because[200];
    snprintf(because, sizeof because, "%s%s", why ? "seccomp user notification is unavailable: "
                                                  : "its seccomp supervisor could not start",
             why ? why : "");
    if (o->backend == BACKEND_PRELOAD) {
        cli_log(PS_LOG_WARN, "'%s' is a %s program: its socket calls escape the namespace "
                "(--backend preload)", o->cmd[0], ps_exec_kind_name(kind));
        return 0;
    }
    if (o->backend == BACKEND_SECCOMP)
        cli_log(PS_LOG_ERROR, "--backend seccomp: %s", because);
    else
        cli_log(PS_LOG_ERROR, "not running '%s': it is a %s program, whose socket calls only a "
                "seccomp supervisor can see, and %s (--backend preload runs it unisolated)",
                o->cmd[0], ps_exec_kind_name(kind), because);
    return -1;
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o;
    struct nspace ns;
    char lib[PATH_MAX];
    int r = parse_opts(argc, argv, &o);
    if (r >= 0)
        return r;
    if (library_path(lib))
        return EXIT_USAGE;

    memset(&ns, 0, sizeof ns);
    ns.fd = -1;
    r = o.manifest ? join_namespace(&ns, o.manifest, &o) : create_namespace(&ns, &o);
    if (r == 0)
        r = write_start(&ns, o.mode);
    if (ns.fd >= 0)
        close(ns.fd);
    if (r == 0)
        r = export_env(&ns, &o, lib);
    if (r) {
        remove_namespace(&ns);
        return EXIT_USAGE;
    }
    /* The backend for the programs the library cannot see (static, Go):
     * the command itself when it is one, and any such program a process of
     * the run execs (the library's exec wrappers attach it). Its socket is
     * in the namespace's directory when that is the run's alone. */
    struct ps_supervisor *sup = NULL;
    if (o.backend != BACKEND_PRELOAD)
        sup = ps_supervise_start(ns.dir, ns.created || o.mode == PS_MODE_UNIX || o.workers);
    const char *attach = NULL;
    if (decide_backend(&o, sup, &attach)) {
        ps_supervise_stop(sup);
        remove_namespace(&ns);
        return EXIT_USAGE;
    }

    int exec_err = 0, sig;
    pid_t pid = spawn(o.cmd, attach, &exec_err);
    if (pid < 0) {
        if (exec_err < 0)
            cli_log(PS_LOG_ERROR, "cannot put '%s' under the seccomp supervisor: %s", o.cmd[0],
                    strerror(-exec_err));
        else
            cli_log(PS_LOG_ERROR, "cannot run '%s': %s", o.cmd[0], strerror(exec_err));
        ps_supervise_stop(sup);
        remove_namespace(&ns);
        return exec_err == ENOENT ? 127 : 126;
    }
    int status = wait_status(pid, &sig);
    ps_supervise_stop(sup);
    /* A leak is reported (and reaped with --reap), never a failure: the
     * status stays CMD's. */
    leak_check(ns.manifest, o.workers ? ns.dir : NULL, o.reap);
    if (status == 0) {
        remove_namespace(&ns);
        return 0;
    }
    char why[96] = "";
    if (sig)
        snprintf(why, sizeof why, " (killed by signal %d, %s)", sig, strsignal(sig));
    if (ns.created)
        cli_log(PS_LOG_ERROR, "%s exited with status %d%s; namespace kept at %s "
               "(portshim report --manifest %s)", o.cmd[0], status, why, ns.dir, ns.manifest);
    else
        cli_log(PS_LOG_ERROR, "%s exited with status %d%s (portshim report --manifest %s)",
               o.cmd[0], status, why, ns.manifest);
    return status;
}
