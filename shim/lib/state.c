/* state.c — init, the guard, the manifest descriptor, fork and exit. */
#include "lib/state.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/probe.h"
#include "core/unixname.h"
#include "lib/real.h"

#define EXIT_CONFIG 78

enum { INIT_NONE, INIT_RUNNING, INIT_CONFIGURED, INIT_ACTIVE };

static int g_init;
static struct ps_config g_cfg;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_mfd = -1;         /* written under g_mu; read lock-free by close() */
static bool g_mfd_shared;      /* inherited over fork: reopen before locking */
static bool g_flocked;
static struct ps_reader g_rd;
static struct ps_ns g_ns;
static unsigned g_sid_counter;
static int g_pid;
static unsigned g_bad_warned, g_write_warned;

/* initial-exec: no __tls_get_addr, so no allocation on first access. */
static __thread int t_in_shim __attribute__((tls_model("initial-exec")));

static void fatal_config(const char *msg)
{
    ps_log(PS_LOG_ERROR, "%s", msg);
    _exit(EXIT_CONFIG);
}

static int open_manifest_low(void)
{
    return open(g_cfg.manifest, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

/* Opens the manifest and parks the descriptor high, out of the way of
 * programs that expect the lowest free numbers. */
static int open_manifest(void)
{
    int fd = open_manifest_low();
    if (fd < 0)
        return -1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 128) {
        long base = (rl.rlim_cur > 1024 ? 1024 : (long)rl.rlim_cur) - 24;
        int hi = real_fcntl(fd, F_DUPFD_CLOEXEC, (void *)base);
        if (hi >= 0) {
            real_close(fd);
            fd = hi;
        }
    }
    return fd;
}

/* The PORTSHIM_* variables, found in one pass over the environment. */
static const char *const env_names[] = {"PORTSHIM_MANIFEST", "PORTSHIM_MODE", "PORTSHIM_PORTS",
                                        "PORTSHIM_DIR", "PORTSHIM_LOG", "PORTSHIM_INJECT",
                                        "PORTSHIM_SEED", "PORTSHIM_PER_WORKER"};
#define N_ENV (sizeof env_names / sizeof env_names[0])
static const char *env_values[N_ENV];

static void scan_env(void)
{
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "PORTSHIM_", 9))
            continue;
        for (size_t i = 0; i < N_ENV; i++) {
            size_t n = strlen(env_names[i]);
            if (!strncmp(*e, env_names[i], n) && (*e)[n] == '=')
                env_values[i] = *e + n + 1;
        }
    }
}

static const char *env(const char *name)
{
    for (size_t i = 0; i < N_ENV; i++)
        if (!strcmp(name, env_names[i]))
            return env_values[i];
    return NULL;
}

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);

/* Stage one, in the constructor: the configuration. A bad setting stops the
 * program before main, with one line naming the variable. Cheap: no system
 * call, no page beyond the few it reads. */
static void configure(void)
{
    int expect = INIT_NONE;
    if (!__atomic_compare_exchange_n(&g_init, &expect, INIT_RUNNING, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;
    char err[PS_PATH_MAX + 200];
    scan_env();
    if (ps_config_load(&g_cfg, env, err, sizeof err))
        fatal_config(err);
    ps_log_set_level(g_cfg.log);
    /* Here, while the process is still single-threaded: registering later
     * could race with a fork in another thread. */
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    __atomic_store_n(&g_init, INIT_CONFIGURED, __ATOMIC_RELEASE);
}

/* Stage two, at the first socket call: the manifest and the fork handlers.
 * A program that never touches a socket (a compiler, /bin/true) never pays
 * for it. An unwritable manifest stops the program here, just as loudly. */
/* Held while activating; the fork handlers take it too, so a fork waits for
 * an activation to finish and no child inherits a half-done one. */
static pthread_mutex_t g_act_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *live_env(const char *name) { return getenv(name); }

/* --per-worker: a worker's process moves into its sub-namespace, a private
 * 0700 directory under the run's (ps_config_worker), made by the first
 * process of the worker. Read from the environment as it is now, not at
 * exec: pytest-xdist sets PYTEST_XDIST_WORKER in the worker before its
 * first test. Decided once: the process keeps it for its life. */
static void enter_worker(void)
{
    char note[256], err[PS_PATH_MAX + 200];
    struct stat st;
    int r = ps_config_worker(&g_cfg, live_env, note, sizeof note, err, sizeof err);
    if (r < 0)
        fatal_config(err);
    if (r == 0)
        return;
    if (mkdir(g_cfg.dir, 0700) == 0) {
        if (note[0])   /* once per worker: its first process */
            ps_log(PS_LOG_WARN, "%s", note);
        return;
    }
    /* Made by another process of the worker; or planted: then refuse it. */
    int e = errno;
    if (e != EEXIST || lstat(g_cfg.dir, &st) || !S_ISDIR(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 077)) {
        snprintf(err, sizeof err, "worker %s: '%s' must be a directory of this user that nobody "
                 "else may open (mode 0700)%s%s", g_cfg.worker, g_cfg.dir,
                 e != EEXIST ? ": " : "", e != EEXIST ? strerror(e) : "");
        fatal_config(err);
    }
}

static void activate(void)
{
    pthread_mutex_lock(&g_act_mu);
    if (__atomic_load_n(&g_init, __ATOMIC_ACQUIRE) != INIT_CONFIGURED) {
        pthread_mutex_unlock(&g_act_mu);
        return;
    }
    g_pid = getpid();
    if (g_cfg.workers[0])
        enter_worker();
    if (g_cfg.mode == PS_MODE_UNIX && !ps_uname_dir_fits(g_cfg.dir)) {
        char err[PS_PATH_MAX + 200];
        snprintf(err, sizeof err, "PORTSHIM_DIR='%s' is %zu bytes long: unix mode's socket names "
                 "need it to be at most %d (sun_path is %d bytes)", g_cfg.dir, strlen(g_cfg.dir),
                 PS_UNAME_DIR_MAX, PS_SUN_PATH);
        fatal_config(err);
    }
    __atomic_store_n(&g_mfd, open_manifest(), __ATOMIC_RELAXED);
    if (g_mfd < 0) {
        char err[PS_PATH_MAX + 200];
        snprintf(err, sizeof err, "PORTSHIM_MANIFEST='%s': cannot open for writing: %s",
                 g_cfg.manifest, strerror(errno));
        fatal_config(err);
    }
    ps_reader_init(&g_rd, g_mfd);
    /* The table is made of binds, listens and what ends them; connect and
     * accept records are most of a busy manifest and need no decoding. */
    g_rd.skip = PS_EV_BIT(PS_EV_CONNECT) | PS_EV_BIT(PS_EV_ACCEPT) | PS_EV_BIT(PS_EV_START);
    ps_ns_init(&g_ns);
    __atomic_store_n(&g_init, INIT_ACTIVE, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_act_mu);
}

__attribute__((constructor)) static void ps_ctor(void)
{
    t_in_shim = 1;
    configure();
    t_in_shim = 0;
}

bool ps_enter(void)
{
    if (t_in_shim)
        return false;
    int s = __atomic_load_n(&g_init, __ATOMIC_ACQUIRE);
    if (s != INIT_ACTIVE) {
        /* The first socket call; or one made before our constructor (from
         * another library's); or while another thread initialises. */
        t_in_shim = 1;
        configure();
        /* configure() may be running in another thread (a call made before
         * our constructor); activate() waits on its mutex. */
        while ((s = __atomic_load_n(&g_init, __ATOMIC_ACQUIRE)) == INIT_RUNNING)
            sched_yield();
        if (s == INIT_CONFIGURED) {
            activate();
            s = __atomic_load_n(&g_init, __ATOMIC_ACQUIRE);
        }
        t_in_shim = 0;
        if (s != INIT_ACTIVE)
            return false;
    }
    t_in_shim = 1;
    return true;
}

bool ps_active(void) { return __atomic_load_n(&g_init, __ATOMIC_ACQUIRE) == INIT_ACTIVE; }

void ps_leave(void) { t_in_shim = 0; }
const struct ps_config *ps_cfg(void) { return &g_cfg; }
int ps_pid(void) { return g_pid; }

void ps_lock(void) { pthread_mutex_lock(&g_mu); }
void ps_unlock(void) { pthread_mutex_unlock(&g_mu); }
struct ps_ns *ps_table(void) { return &g_ns; }

/* After fork the child shares the parent's open file description, and so
 * its flock: give the child a description of its own, on the same number. */
static bool ensure_mfd(void)
{
    if (g_mfd >= 0 && !g_mfd_shared)
        return true;
    /* Shared: a new description onto the same number. Lost: a new one. */
    int fd = g_mfd >= 0 ? open_manifest_low() : open_manifest();
    if (fd < 0) {
        if (!g_write_warned++)
            ps_log(PS_LOG_ERROR, "cannot reopen manifest %s: %s (pid %d)", g_cfg.manifest,
                   strerror(errno), g_pid);
        return false;
    }
    if (g_mfd >= 0 && real_dup3(fd, g_mfd, O_CLOEXEC) >= 0) {
        real_close(fd);
        fd = g_mfd;
    }
    __atomic_store_n(&g_mfd, fd, __ATOMIC_RELAXED);
    g_mfd_shared = false;
    g_rd.fd = fd;
    return true;
}

int ps_manifest_fd(void) { return __atomic_load_n(&g_mfd, __ATOMIC_RELAXED); }

bool ps_is_manifest_fd(int fd) { return fd >= 0 && fd == __atomic_load_n(&g_mfd, __ATOMIC_RELAXED); }

void ps_manifest_fd_lost(void)
{
    /* The program closed or replaced our descriptor; the number is its own now. */
    __atomic_store_n(&g_mfd, -1, __ATOMIC_RELAXED);
    g_mfd_shared = false;
}

static void bad_line(void *ctx, uint64_t lineno, const char *line, size_t len)
{
    (void)ctx;
    if (g_bad_warned++ < 10)
        ps_log(PS_LOG_WARN, "manifest %s line %llu: skipped malformed line (%.40s%s)",
               g_cfg.manifest, (unsigned long long)lineno, line, len > 40 ? "..." : "");
}

void ps_refresh(void)
{
    if (!ensure_mfd())
        return;
    if (ps_reader_poll(&g_rd, ps_ns_apply_cb, bad_line, &g_ns) < 0 && !g_write_warned++)
        ps_log(PS_LOG_ERROR, "cannot read manifest %s: %s (pid %d)", g_cfg.manifest,
               strerror(errno), g_pid);
}

void ps_claim_begin(void)
{
    if (ensure_mfd() && ps_manifest_lock(g_mfd) == 0)
        g_flocked = true;
    ps_refresh();
}

void ps_claim_end(void)
{
    if (g_flocked) {
        ps_manifest_unlock(g_mfd);
        g_flocked = false;
    }
}

void ps_event_new(struct ps_event *e, enum ps_ev ev)
{
    struct timespec ts;
    ps_event_init(e, ev);
    clock_gettime(CLOCK_REALTIME, &ts);
    e->ts = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) / 1e6;
    e->pid = g_pid;
    size_t n = strnlen(program_invocation_short_name, sizeof e->prog - 1);
    memcpy(e->prog, program_invocation_short_name, n);
    e->prog[n] = 0;
}

/* One line, one write(2) on an O_APPEND descriptor: the kernel holds the
 * inode's lock across it, so the line lands whole and never interleaves with
 * another writer's. The flock is only for claims (ps_claim_begin), which
 * must read, check and append with no other claim in between. */
void ps_emit(const struct ps_event *e)
{
    char line[PS_LINE_MAX];
    size_t n = ps_event_encode(e, line, sizeof line);
    if (!n || !ensure_mfd())
        return;
    if (ps_manifest_append(g_mfd, line, n) < 0 && !g_write_warned++)
        ps_log(PS_LOG_ERROR, "cannot write manifest %s: %s (pid %d); namespace records "
               "are incomplete from here", g_cfg.manifest, strerror(errno), g_pid);
}

/* "pid.n", by hand: on every bind. */
static char *put_dec(char *p, unsigned long v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

void ps_next_sid(char sid[PS_SID_MAX])
{
    char *p = put_dec(sid, (unsigned long)g_pid);
    *p++ = '.';
    p = put_dec(p, ++g_sid_counter);
    *p = 0;
}

bool ps_entry_alive(void *ctx, const struct ps_entry *e)
{
    (void)ctx;
    return ps_probe_any_alive(&e->holders, g_pid);
}

bool ps_entry_live(const struct ps_entry *e)
{
    if (!ps_entry_alive(NULL, e))
        return false;
    if (e->listening && !e->rpath[0] && ps_probe_tcp_listening(&e->raddr, e->rport) == 0)
        return false;
    /* unix mode: a listener closed with no close call (FD_CLOEXEC at an
     * exec) leaves its pid alive and its file behind, listened on by none. */
    if (e->listening && e->rpath[0] && ps_probe_unix_listening(e->rpath) == 0)
        return false;
    return true;
}

/* Under ps_lock, as this process lets go of sk: unix mode's socket file goes
 * with the last holder in the namespace. A forked child may hold it too: then
 * the table says who else does. An entry already retired is left alone: its
 * name may be someone else's by now. */
static void unlink_if_last(const struct ps_sock *sk)
{
    if (!sk->upath[0])
        return;
    if (sk->shared) {
        ps_refresh();
        const struct ps_entry *e = ps_ns_find(&g_ns, sk->sid);
        if (!e)
            return;
        for (int i = 0; i < e->holders.n; i++)
            if (e->holders.v[i] != g_pid && ps_probe_pid_alive(e->holders.v[i]))
                return;
    }
    unlink(sk->upath);
}

void ps_sock_gone(struct ps_sock *sk)
{
    struct ps_event e;
    /* A forked child may still hold it: then only this holder lets go. */
    ps_event_new(&e, sk->shared ? PS_EV_RELEASE : PS_EV_CLOSE);
    unlink_if_last(sk);
    memcpy(e.sid, sk->sid, sizeof e.sid);
    if (sk->shared)
        e.holder = g_pid;
    ps_emit(&e);
    ps_sock_free(sk);
}

void ps_track(int fd, const struct ps_event *e)
{
    /* Whatever this number held before was closed behind our back. */
    ps_fd_forget(fd);
    struct ps_sock *sk = ps_sock_new(e->sid, e->fam, (uint16_t)(e->port < 0 ? 0 : e->port),
                                     (uint16_t)(e->rport < 0 ? 0 : e->rport));
    if (sk)
        ps_fd_set(fd, PS_FD_BOUND, sk->vport, sk->rport, sk);
}

void ps_fd_forget(int fd)
{
    struct ps_sock *sk = ps_fd_clear(fd);
    if (sk)
        ps_sock_gone(sk);
}

bool ps_is_tcp(int fd)
{
    int proto = 0;
    socklen_t l = sizeof proto;
    return real_getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) == 0 &&
           (proto == IPPROTO_TCP || proto == IPPROTO_MPTCP);
}

/* ---- fork and exit ---------------------------------------------------- */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&g_act_mu);
    pthread_mutex_lock(&g_mu);
}

static void atfork_parent(void)
{
    ps_sock_mark_all_shared();
    pthread_mutex_unlock(&g_mu);
    pthread_mutex_unlock(&g_act_mu);
}

static void atfork_child(void)
{
    g_pid = getpid();
    g_mfd_shared = true;
    g_flocked = false;
    ps_sock_mark_all_shared();
    pthread_mutex_unlock(&g_mu);
    pthread_mutex_unlock(&g_act_mu);
}

void ps_forked(int child)
{
    ps_lock();
    for (struct ps_sock *sk = ps_sock_first(); sk; sk = sk->next) {
        struct ps_event e;
        ps_event_new(&e, PS_EV_INHERIT);
        memcpy(e.sid, sk->sid, sizeof e.sid);
        e.holder = child;
        ps_emit(&e);
    }
    ps_unlock();
}

__attribute__((destructor)) static void ps_dtor(void)
{
    if (__atomic_load_n(&g_init, __ATOMIC_ACQUIRE) != INIT_ACTIVE)
        return;
    /* Another thread may be inside the shim as the process exits. */
    if (pthread_mutex_trylock(&g_mu))
        return;
    if (!ps_sock_first()) {
        pthread_mutex_unlock(&g_mu);
        return;
    }
    t_in_shim = 1;
    for (struct ps_sock *sk = ps_sock_first(); sk; sk = sk->next)
        unlink_if_last(sk);
    struct ps_event e;
    ps_event_new(&e, PS_EV_EXIT);
    ps_emit(&e);
    pthread_mutex_unlock(&g_mu);
}
