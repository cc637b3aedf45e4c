/* e2e.c — the end-to-end tests' shared machinery (see e2e.h). */
#include "e2e.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/ns.h"

extern char **environ;

/* Everything a test allocated, released in teardown. */
#define MAX_PROCS 256
#define MAX_KEEP 1024
static struct e2e_proc *g_procs[MAX_PROCS];
static int g_nprocs;
static void *g_keep[MAX_KEEP];
static int g_nkeep;
static char g_tmp[256];

static void *keep(void *p)
{
    if (!p)
        cr_assert_fail("out of memory");
    if (g_nkeep < MAX_KEEP)
        g_keep[g_nkeep++] = p;
    return p;
}

static char *keep_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *keep_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return keep(s);
}

/* ---- setup and teardown ---------------------------------------------------- */

void e2e_setup(void)
{
    /* A helper that dies while we write to it must not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/portshim-e2e-XXXXXX");
    if (!mkdtemp(g_tmp))
        cr_assert_fail("mkdtemp: %s", strerror(errno));
    chmod(g_tmp, 0755);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void e2e_teardown(void)
{
    for (int i = 0; i < g_nprocs; i++) {
        struct e2e_proc *p = g_procs[i];
        if (!p->exited) {
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            p->exited = true;
        } else {
            kill(-p->pid, SIGKILL); /* background children of a shell */
        }
        if (p->in >= 0)
            close(p->in);
        if (p->out >= 0)
            close(p->out);
        if (p->err >= 0)
            close(p->err);
        free(p->obuf);
        free(p->ebuf);
        free(p);
    }
    g_nprocs = 0;
    /* reap anything reparented to us */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    if (g_tmp[0] && !getenv("PORTSHIM_E2E_KEEP"))
        nftw(g_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < g_nkeep; i++)
        free(g_keep[i]);
    g_nkeep = 0;
}

/* ---- paths ------------------------------------------------------------------ */

const char *e2e_build(void)
{
    static char build[1024];
    if (!build[0]) {
        const char *b = getenv("PORTSHIM_BUILD");
        if (b && b[0] == '/')
            snprintf(build, sizeof build, "%s", b);
        else {
            char cwd[900];
            if (!getcwd(cwd, sizeof cwd))
                cr_assert_fail("getcwd: %s", strerror(errno));
            snprintf(build, sizeof build, "%s/%s", cwd, b ? b : "build");
        }
    }
    return build;
}

const char *e2e_lib(void)
{
    static char lib[1100];
    snprintf(lib, sizeof lib, "%s/libportshim.so", e2e_build());
    return lib;
}

const char *e2e_portshim(void)
{
    static char path[1100];
    const char *src = getenv("PORTSHIM_SRC");
    if (src)
        snprintf(path, sizeof path, "%s/scripts/portshim", src);
    else {
        char cwd[900];
        if (!getcwd(cwd, sizeof cwd))
            cr_assert_fail("getcwd: %s", strerror(errno));
        snprintf(path, sizeof path, "%s/scripts/portshim", cwd);
    }
    return path;
}

const char *e2e_helper(const char *name)
{
    return keep_printf("%s/helpers/%s", e2e_build(), name);
}

const char *e2e_tmp(void)
{
    return g_tmp;
}

const char *e2e_path(const char *fmt, ...)
{
    char rel[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    return keep_printf("%s/%s", g_tmp, rel);
}

void e2e_write_file(const char *path, const char *text, bool exec)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, exec ? 0755 : 0644);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    cr_assert(write_all(fd, text, strlen(text)) == 0, "write %s: %s", path, strerror(errno));
    close(fd);
}

const char *e2e_slurp(const char *path)
{
    size_t cap = 256 * 1024;
    char *buf = keep(malloc(cap + 1));
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r;
        while (got < cap && (r = read(fd, buf + got, cap - got)) > 0)
            got += (size_t)r;
        close(fd);
    }
    buf[got] = '\0';
    return buf;
}

bool e2e_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int e2e_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

int e2e_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        n += !strncmp(l, prefix, pl);
    return n;
}

void e2e_need_lib(void)
{
    if (access(e2e_lib(), R_OK) != 0)
        e2e_skip("%s is not built: run make first", e2e_lib());
}

bool e2e_have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("::1", 0, &ss, &sl);
    bool ok = bind(fd, (struct sockaddr *)&ss, sl) == 0;
    close(fd);
    return ok;
}

/* ---- namespaces and environments ------------------------------------------- */

void e2e_ns_new(struct e2e_ns *ns, const char *name)
{
    snprintf(ns->dir, sizeof ns->dir, "%s/%s", g_tmp, name);
    cr_assert(mkdir(ns->dir, 0700) == 0, "mkdir %s: %s", ns->dir, strerror(errno));
    snprintf(ns->manifest, sizeof ns->manifest, "%s/manifest.jsonl", ns->dir);
    int fd = open(ns->manifest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "create %s: %s", ns->manifest, strerror(errno));
    close(fd);
}

void e2e_env_plain(struct e2e_env *e)
{
    e->n = 0;
    for (char **v = environ; *v && e->n < E2E_ENV_MAX - 16; v++)
        if (strncmp(*v, "LD_PRELOAD=", 11) && strncmp(*v, "PORTSHIM_", 9))
            e->v[e->n++] = *v; /* environ's strings outlive the test */
    e->v[e->n] = NULL;
    /* scripts/portshim takes the library from the build tree under test */
    e2e_env_set(e, "PORTSHIM_BUILD", e2e_build());
    /* portshim run makes its namespaces here: removed with the test */
    e2e_env_set(e, "TMPDIR", g_tmp);
}

void e2e_env_unset(struct e2e_env *e, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; i < e->n; i++)
        if (!strncmp(e->v[i], key, kl) && e->v[i][kl] == '=') {
            e->v[i] = e->v[--e->n];
            e->v[e->n] = NULL;
            i--;
        }
}

void e2e_env_set(struct e2e_env *e, const char *key, const char *value)
{
    e2e_env_unset(e, key);
    cr_assert(e->n < E2E_ENV_MAX - 1, "environment full");
    e->v[e->n++] = keep_printf("%s=%s", key, value);
    e->v[e->n] = NULL;
}

void e2e_env_shim(struct e2e_env *e, const struct e2e_ns *ns, const char *mode,
                  const char *ports)
{
    e2e_env_plain(e);
    e2e_env_set(e, "LD_PRELOAD", e2e_lib());
    e2e_env_set(e, "PORTSHIM_MANIFEST", ns->manifest);
    e2e_env_set(e, "PORTSHIM_DIR", ns->dir);
    e2e_env_set(e, "PORTSHIM_MODE", mode ? mode : "remap");
    if (ports)
        e2e_env_set(e, "PORTSHIM_PORTS", ports);
}

/* ---- processes ------------------------------------------------------------- */

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap ? *cap * 2 : 8192);
        while (ncap < *len + n + 1)
            ncap *= 2;
        char *nb = realloc(*buf, ncap);
        cr_assert(nb, "out of memory");
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Reads whatever stdout/stderr have, waiting up to ms for something. */
static void pump(struct e2e_proc *p, int ms)
{
    struct pollfd fds[2];
    int n = 0;
    if (p->out >= 0)
        fds[n++] = (struct pollfd){.fd = p->out, .events = POLLIN};
    if (p->err >= 0)
        fds[n++] = (struct pollfd){.fd = p->err, .events = POLLIN};
    if (n == 0) {
        if (ms > 0)
            sleep_ms(ms < 20 ? ms : 20);
        return;
    }
    if (poll(fds, (nfds_t)n, ms) <= 0)
        return;
    for (int i = 0; i < n; i++) {
        if (!fds[i].revents)
            continue;
        char buf[8192];
        ssize_t r = read(fds[i].fd, buf, sizeof buf);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        bool is_out = fds[i].fd == p->out;
        if (r <= 0) {
            close(fds[i].fd);
            if (is_out)
                p->out = -1;
            else
                p->err = -1;
        } else if (is_out) {
            append(&p->obuf, &p->olen, &p->ocap, buf, (size_t)r);
        } else {
            append(&p->ebuf, &p->elen, &p->ecap, buf, (size_t)r);
        }
    }
}

static bool reap(struct e2e_proc *p, bool block)
{
    if (p->exited)
        return true;
    int st;
    pid_t r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
    if (r == p->pid) {
        p->exited = true;
        p->status = st;
    }
    return p->exited;
}

struct e2e_proc *e2e_start(const struct e2e_env *env, const char *const *argv)
{
    cr_assert(g_nprocs < MAX_PROCS, "too many processes in one test");
    const char *path = strchr(argv[0], '/') ? argv[0] : e2e_helper(argv[0]);
    struct e2e_proc *p = calloc(1, sizeof *p);
    cr_assert(p, "out of memory");
    size_t off = 0;
    for (int i = 0; argv[i] && off < sizeof p->cmd - 2; i++)
        off += (size_t)snprintf(p->cmd + off, sizeof p->cmd - off, "%s%s", i ? " " : "",
                                argv[i]);

    int in[2], out[2], err[2];
    cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
                  pipe2(err, O_CLOEXEC) == 0,
              "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(SIGPIPE, &dfl, NULL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close_range(3, ~0U, 0);
        execve(path, (char *const *)argv, env ? (char *const *)env->v : environ);
        static const char msg[] = "e2e: exec failed\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    setpgid(pid, pid);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    p->pid = pid;
    p->in = in[1];
    p->out = out[0];
    p->err = err[0];
    fcntl(p->out, F_SETFL, O_NONBLOCK);
    fcntl(p->err, F_SETFL, O_NONBLOCK);
    g_procs[g_nprocs++] = p;
    return p;
}

struct e2e_proc *e2e_run(const struct e2e_env *env, int timeout_ms, const char *const *argv)
{
    struct e2e_proc *p = e2e_start(env, argv);
    e2e_close_stdin(p);
    e2e_wait(p, timeout_ms);
    return p;
}

/* name's absolute path in $PATH or the system directories, or NULL. */
static const char *which(const char *name)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        const char *f = keep_printf("%s/%s", d, name);
        if (d[0] == '/' && access(f, X_OK) == 0)
            return f;
    }
    return NULL;
}

struct e2e_proc *e2e_run_netns(const struct e2e_env *env, int timeout_ms,
                               const char *const *argv)
{
    const char *unshare = which("unshare"), *ip = which("ip");
    const char *flag = geteuid() == 0 ? "-n" : "-rn";
    /* $0 is ip; exit 125 says the loopback could not be brought up */
    static const char script[] = "\"$0\" link set lo up || exit 125; exec \"$@\"";
    if (!unshare || !ip)
        e2e_skip("no %s here: a bare run binding fixed ports needs a network namespace of its "
                 "own, and this test did not run", unshare ? "ip" : "unshare");
    static bool probed;   /* once per test (each runs in a process of its own) */
    if (!probed) {
        struct e2e_proc *probe = e2e_runl(env, E2E_MS, unshare, flag, "/bin/sh", "-c", script,
                                          ip, "true");
        if (e2e_status(probe) != 0)
            e2e_skip("cannot make a network namespace here (%s %s: %s): a bare run binding "
                     "fixed ports needs one of its own, and this test did not run", unshare,
                     flag, e2e_err(probe)[0] ? e2e_err(probe) : "no message");
        probed = true;
    }
    const char *v[64] = {unshare, flag, "/bin/sh", "-c", script, ip};
    int n = 6;
    for (int i = 0; argv[i]; i++) {
        cr_assert_lt(n, 63, "too many arguments");
        v[n++] = i || strchr(argv[0], '/') ? argv[i] : e2e_helper(argv[0]);
    }
    v[n] = NULL;
    return e2e_run(env, timeout_ms, v);
}

int e2e_line(struct e2e_proc *p, char *buf, size_t len, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *start = p->obuf ? p->obuf + p->opos : NULL;
        char *nl = start ? memchr(start, '\n', p->olen - p->opos) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - start);
            snprintf(buf, len, "%.*s", (int)n, start);
            p->opos += n + 1;
            return 0;
        }
        long left = deadline - now_ms();
        if (left <= 0 || (p->out < 0 && reap(p, false)))
            return -1;
        pump(p, (int)(left < 100 ? left : 100));
    }
}

const char *e2e_expect(struct e2e_proc *p, const char *prefix, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    size_t pl = strlen(prefix);
    for (;;) {
        long left = deadline - now_ms();
        if (e2e_line(p, p->reply, sizeof p->reply, left > 0 ? (int)left : 0) < 0)
            return NULL;
        if (!strncmp(p->reply, prefix, pl))
            return p->reply + pl;
    }
}

const char *e2e_cmd(struct e2e_proc *p, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    if (p->in < 0 || write_all(p->in, line, (size_t)n) < 0)
        return "ERR stdin-closed";
    if (e2e_line(p, p->reply, sizeof p->reply, E2E_MS) < 0)
        return "TIMEOUT";
    return p->reply;
}

int e2e_cmd_fd(struct e2e_proc *p, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const char *r = e2e_cmd(p, "%s", line);
    int fd = -1;
    cr_assert(sscanf(r, "OK %d", &fd) == 1, "'%s' answered '%s' (%s)", line, r, e2e_describe(p));
    return fd;
}

void e2e_close_stdin(struct e2e_proc *p)
{
    if (p->in >= 0) {
        close(p->in);
        p->in = -1;
    }
}

bool e2e_wait(struct e2e_proc *p, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    while (!reap(p, false)) {
        long left = deadline - now_ms();
        if (left <= 0) {
            p->timed_out = true;
            e2e_kill(p, SIGKILL);
            reap(p, true);
            break;
        }
        pump(p, (int)(left < 50 ? left : 50));
    }
    /* What it printed before exiting (grandchildren may hold the pipes:
     * take what is there, do not wait for EOF). */
    for (int i = 0; i < 64 && (p->out >= 0 || p->err >= 0); i++) {
        size_t before = p->olen + p->elen;
        pump(p, i == 0 ? 20 : 0);
        if (p->olen + p->elen == before && i > 0)
            break;
    }
    return !p->timed_out;
}

void e2e_kill(struct e2e_proc *p, int sig)
{
    if (p->exited)
        return;
    kill(-p->pid, sig);
    kill(p->pid, sig);
}

int e2e_status(const struct e2e_proc *p)
{
    if (!p->exited || !WIFEXITED(p->status))
        return -1;
    return WEXITSTATUS(p->status);
}

const char *e2e_out(struct e2e_proc *p)
{
    pump(p, 0);
    return p->obuf ? p->obuf : "";
}

const char *e2e_err(struct e2e_proc *p)
{
    pump(p, 0);
    return p->ebuf ? p->ebuf : "";
}

const char *e2e_describe(struct e2e_proc *p)
{
    char status[64];
    if (!p->exited)
        snprintf(status, sizeof status, "running");
    else if (p->timed_out)
        snprintf(status, sizeof status, "killed after timeout");
    else if (WIFSIGNALED(p->status))
        snprintf(status, sizeof status, "signal %d", WTERMSIG(p->status));
    else
        snprintf(status, sizeof status, "exit %d", WEXITSTATUS(p->status));
    const char *o = e2e_out(p), *e = e2e_err(p);
    size_t ol = strlen(o), el = strlen(e);
    return keep_printf("[%s] %s\n--- stdout%s:\n%s\n--- stderr%s:\n%s", p->cmd, status,
                       ol > 3000 ? " (tail)" : "", ol > 3000 ? o + ol - 3000 : o,
                       el > 3000 ? " (tail)" : "", el > 3000 ? e + el - 3000 : e);
}

/* ---- the manifest ---------------------------------------------------------- */

static void collect(void *ctx, const struct ps_event *e)
{
    struct e2e_events *ev = ctx;
    if (ev->n == ev->cap) {
        ev->cap = ev->cap ? ev->cap * 2 : 256;
        ev->v = realloc(ev->v, ev->cap * sizeof *ev->v);
        cr_assert(ev->v, "out of memory");
    }
    ev->v[ev->n++] = *e;
}

static void count_bad(void *ctx, uint64_t lineno, const char *line, size_t len)
{
    (void)lineno, (void)line, (void)len;
    ((struct e2e_events *)ctx)->bad++;
}

void e2e_events_read(const char *manifest, struct e2e_events *ev)
{
    memset(ev, 0, sizeof *ev);
    int fd = open(manifest, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0, "open %s: %s", manifest, strerror(errno));
    struct ps_reader r;
    ps_reader_init(&r, fd);
    long n;
    while ((n = ps_reader_poll(&r, collect, count_bad, ev)) > 0)
        ev->lines += (uint64_t)n;
    ps_reader_free(&r);
    close(fd);
}

void e2e_events_free(struct e2e_events *ev)
{
    free(ev->v);
    memset(ev, 0, sizeof *ev);
}

size_t e2e_count(const struct e2e_events *ev, enum ps_ev kind, int ok, int port)
{
    size_t n = 0;
    for (size_t i = 0; i < ev->n; i++) {
        const struct ps_event *e = &ev->v[i];
        if (e->ev == kind && (ok < 0 || e->ok == (ok == 1)) && (port < 0 || e->port == port))
            n++;
    }
    return n;
}

const struct ps_event *e2e_last_bind(const struct e2e_events *ev, int vport)
{
    for (size_t i = ev->n; i-- > 0;)
        if (ev->v[i].ev == PS_EV_BIND && ev->v[i].ok && ev->v[i].port == vport)
            return &ev->v[i];
    return NULL;
}

int e2e_real_port(const char *manifest, int vport, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        struct e2e_events ev;
        e2e_events_read(manifest, &ev);
        struct ps_ns ns;
        ps_ns_init(&ns);
        for (size_t i = 0; i < ev.n; i++)
            ps_ns_apply(&ns, &ev.v[i]);
        int real = -1;
        for (size_t i = 0; i < ns.n; i++)
            if (ns.v[i].vport == vport && ns.v[i].listening && ns.v[i].rport)
                real = ns.v[i].rport;
        ps_ns_free(&ns);
        e2e_events_free(&ev);
        if (real > 0 || now_ms() >= deadline)
            return real;
        sleep_ms(20);
    }
}

/* ---- talking from the test process ---------------------------------------- */

int e2e_request(const char *addr, int port, const char *msg, char *reply, size_t len)
{
    return echo_request(addr, port, msg, reply, len, NULL) < 0 ? -errno : 0;
}

int e2e_free_port(int type)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_storage ss;
    socklen_t sl;
    parse_addr("127.0.0.1", 0, &ss, &sl);
    cr_assert(bind(fd, (struct sockaddr *)&ss, sl) == 0, "bind: %s", strerror(errno));
    int port = sock_port(fd, 0);
    close(fd);
    return port;
}

void e2e_parallel_runs(const char *script, int copies, const char *pre, const char *post,
                       const char *mode, const char *ports, int wait_ms)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    const char *sh = e2e_path("copy.sh");
    e2e_write_file(sh, script, false);
    struct e2e_proc *runs[8];
    cr_assert(copies <= 8);
    for (int i = 0; i < copies; i++) {
        char idx[8];
        snprintf(idx, sizeof idx, "%d", i);
        const char *argv[16] = {e2e_portshim(), "run"};
        int n = 2;
        if (mode) {
            argv[n++] = "--mode";
            argv[n++] = mode;
        }
        if (ports) {
            argv[n++] = "--ports";
            argv[n++] = ports;
        }
        const char *tail[] = {"--", "/bin/sh", sh, idx, e2e_tmp(), NULL};
        memcpy(argv + n, tail, sizeof tail);
        runs[i] = e2e_start(&env, argv);
    }
    for (int i = 0; i < copies; i++) {
        e2e_wait(runs[i], wait_ms);
        char want[128];
        snprintf(want, sizeof want, "%s%d%s", pre, i, post);
        cr_assert_eq(e2e_status(runs[i]), 0, "copy %d failed:\n%s", i, e2e_describe(runs[i]));
        cr_assert(strstr(e2e_out(runs[i]), want), "copy %d: want '%s':\n%s", i, want,
                  e2e_describe(runs[i]));
    }
}
