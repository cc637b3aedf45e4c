/* state.c — init, the guard, the manifest descriptor, fork and exit. */
#include "preload/state.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
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
#include "core/testfail.h"
#include "core/trust.h"
#include "core/unixname.h"
#include "engine/engine.h"
#include "engine/msession.h"
#include "preload/counts.h"
#include "core/execkind.h"
#include "preload/real.h"
#include "preload/umem.h"

#define EXIT_CONFIG 78

/* INIT_OFF: a child fork() made from a vfork child (see atfork_child):
 * every call is passed through. */
enum { INIT_NONE, INIT_RUNNING, INIT_CONFIGURED, INIT_ACTIVE, INIT_OFF };

/* The process's state, in one place, with what guards each field:
 *   [once]   written while initialising (the constructor, before other
 *            threads; or activate(), under act_mu) or by fork's child
 *            handler (one thread), read freely afterwards;
 *   [mu]     under mu (ps_lock);
 *   [atomic] read lock-free with __atomic loads; written as the tag before
 *            it says.
 * The manifest's flock (flocked) is taken only under mu, inside a claim. */
static struct {
    int init;                  /* [atomic] INIT_*; written by configure/activate/fork */
    struct ps_config cfg;      /* [once] */
    pthread_mutex_t mu;        /* the namespace lock (ps_lock) */
    pthread_mutex_t act_mu;    /* held while activating; the fork handlers take it
                                * too, so no child inherits a half-done activation */
    int mfd;                   /* [mu] written; [atomic] read by close() */
    bool mfd_shared;           /* [mu] inherited over fork: reopen before locking */
    /* [mu] The file mfd was opened on; whether its open file description
     * carries the shim's mark (see note_manifest); and whether this critical
     * section (one hold of mu) has checked that mfd is still it. */
    dev_t mdev;
    ino_t mino;
    bool mfd_marked;
    bool mfd_checked;
    /* [mu] The manifest as this process reads and appends it: the reader
     * (on mfd), the table, the claim, the sid counter (engine/msession.h). */
    struct ps_msession ms;
    /* [once, atomic] The process whose memory this is: set at configure and
     * by fork's child handler. Another pid running this code (a vfork
     * child, a clone(CLONE_VM) child) shares the memory without being that
     * process. Its program name and uid are read at each event (prog
     * points at the libc's program_invocation_short_name; uid -1: geteuid). */
    struct ps_proc proc;
    unsigned write_warned;     /* [mu] log once */
    char open_why[200];        /* [mu] why the last reopen failed (ensure_mfd) */
} g = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .act_mu = PTHREAD_MUTEX_INITIALIZER,
    .mfd = -1,
    .proc = {.uid = -1},
};

/* initial-exec: no __tls_get_addr, so no allocation on first access. */
#define PS_TLS __thread __attribute__((tls_model("initial-exec")))
static PS_TLS int t_in_shim;
/* Which of g.act_mu (HOLD_ACT) and g.mu (HOLD_MU) this thread holds or is
 * about to take: set before locking, cleared after unlocking, so a fork()
 * from a signal handler that interrupted the shim never waits on itself. */
enum { HOLD_ACT = 1, HOLD_MU = 2 };
static PS_TLS int t_holds;

/* A vfork child, or any child sharing our memory: nothing here is its own.
 * glibc (since 2.25) and musl do not cache the pid, so this is one system
 * call; it is made only where a call would touch the shim's state. */
static bool borrowed(void)
{
    return getpid() != __atomic_load_n(&g.proc.pid, __ATOMIC_RELAXED);
}

static void fatal_config(const char *msg)
{
    ps_log(PS_LOG_ERROR, "%s", msg);
    _exit(EXIT_CONFIG);
}

/* Under g.mu (or before anyone else can see it): fd is the manifest now.
 * Besides its device and inode, its open file description gets a mark that
 * one cheap call reads back: the signal F_SETSIG names, which does nothing
 * on a file without O_ASYNC and which no program sets on a regular file.
 * An fstat on every record costs about 2 us after an append on ext4 (a
 * tenth of a bind+listen+close); F_GETSIG costs a bare system call. Where
 * the mark cannot be set, the device and inode are checked instead. */
static void note_manifest(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0) {
        g.mdev = st.st_dev;
        g.mino = st.st_ino;
    }
    g.mfd_marked = real_fcntl(fd, F_SETSIG, (void *)(long)SIGRTMAX) == 0 &&
                   real_fcntl(fd, F_GETSIG, NULL) == SIGRTMAX;
}

static struct ps_trust trust(void)
{
    struct ps_trust t = {geteuid(), g.cfg.share_uid, g.cfg.share_gid};
    return t;
}

/* Every open of the manifest, the first and each reopen, is judged on its
 * own descriptor (core/trust.c): a regular file of this user (or root, or
 * PORTSHIM_SHARE_UID) that no one else may write, reached without a
 * symbolic link, opened without blocking (a FIFO). -1 with why set. */
static int open_manifest_low_why(char *why, size_t len)
{
    enum ps_trust_verdict v;
    struct ps_trust t = trust();
    return ps_trust_open(g.cfg.manifest, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, false, &t, &v,
                         why, len);
}

static int open_manifest_low(void)
{
    return open_manifest_low_why(g.open_why, sizeof g.open_why);
}

/* Opens the manifest and parks the descriptor high, out of the way of
 * programs that expect the lowest free numbers. */
static int open_manifest_why(char *why, size_t len)
{
    int fd = open_manifest_low_why(why, len);
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

static int open_manifest(void)
{
    return open_manifest_why(g.open_why, sizeof g.open_why);
}

/* The PORTSHIM_* variables, found in one pass over the environment. */
static const char *const env_names[] = {"PORTSHIM_MANIFEST", "PORTSHIM_MODE", "PORTSHIM_PORTS",
                                        "PORTSHIM_DIR", "PORTSHIM_LOG", "PORTSHIM_INJECT",
                                        "PORTSHIM_SEED", "PORTSHIM_SHARE_UID",
                                        "PORTSHIM_SHARE_GID", "PORTSHIM_PER_WORKER",
                                        "PORTSHIM_TEST_FAIL"};
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
 * program before main, with one line naming the variable. Cheap: one system
 * call (getpid), no page beyond the few it reads. */
static void configure(void)
{
    int expect = INIT_NONE;
    if (!__atomic_compare_exchange_n(&g.init, &expect, INIT_RUNNING, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;
    char err[PS_PATH_MAX + 200];
    __atomic_store_n(&g.proc.pid, getpid(), __ATOMIC_RELAXED);
    g.proc.prog = program_invocation_short_name;
    scan_env();
    if (ps_config_load(&g.cfg, env, err, sizeof err))
        fatal_config(err);
    ps_log_set_level(g.cfg.log);
    ps_testfail_set(g.cfg.test_fail);
    /* Here, while the process is still single-threaded: registering later
     * could race with a fork in another thread. */
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    __atomic_store_n(&g.init, INIT_CONFIGURED, __ATOMIC_RELEASE);
}

static const char *live_env(const char *name) { return getenv(name); }

/* --per-worker: a worker's process moves into its sub-namespace, a private
 * 0700 directory under the run's (ps_config_worker), made by the first
 * process of the worker. Read from the environment as it is now, not at
 * exec: pytest-xdist sets PYTEST_XDIST_WORKER in the worker before its
 * first test. Decided once: the process keeps it for its life. */
/* With --share-with, a worker's sub-namespace is the shared user's or
 * group's as the run's own is (run.c): its directory, made by whichever
 * process of the worker comes first, and its manifest and connect counters,
 * made here before anyone opens them with O_CREAT as their own 0600 file
 * (the other side would then stop with status 78). Each process of the
 * worker gives away what it finds its own, so the order does not matter. */
static void share_worker(const struct ps_trust *t)
{
    char path[PS_PATH_MAX + 8], why[200];
    enum ps_trust_verdict v;
    int fd = open(g.cfg.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid())
        ps_trust_give(fd, true, t);
    if (fd >= 0)
        real_close(fd);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s%s", g.cfg.manifest, i ? ".cnt" : "");
        /* The other side's first process may be between making a file (or
         * the directory) and giving it away: EACCES for a moment. Waited
         * for, at most 2 s; then the open that uses it says why. */
        for (int tries = 0;; tries++) {
            fd = ps_trust_open(path, O_RDWR | O_CREAT | O_CLOEXEC, false, t, &v, why, sizeof why);
            if (fd >= 0 || v != PS_TRUST_OK || errno != EACCES || tries == 400)
                break;
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && ps_trust_give(fd, false, t))
            ps_log(PS_LOG_WARN, "worker %s: cannot give %s to the shared user or group: %s",
                   g.cfg.worker, path, strerror(errno));
        real_close(fd);
    }
}

static void enter_worker(void)
{
    char note[256], err[PS_PATH_MAX + 200], why[200];
    struct stat st;
    int r = ps_config_worker(&g.cfg, live_env, note, sizeof note, err, sizeof err);
    if (r < 0)
        fatal_config(err);
    if (r == 0)
        return;
    struct ps_trust t = trust();
    bool shared = t.share_uid >= 0 || t.share_gid >= 0;
    if (mkdir(g.cfg.dir, 0700) == 0) {
        if (note[0])   /* once per worker: its first process */
            ps_log(PS_LOG_WARN, "%s", note);
        if (shared)
            share_worker(&t);
        return;
    }
    /* Made by another process of the worker; or planted: then refuse it.
     * Unshared, it must be this user's alone; shared, the run's own rule. */
    int e = errno;
    bool ok = false;
    /* Shared, the worker's first process may be between its mkdir and
     * giving the directory away: waited for, at most 2 s. */
    for (int tries = 0; e == EEXIST && !ok && tries <= (shared ? 400 : 0); tries++) {
        if (tries) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        ok = lstat(g.cfg.dir, &st) == 0 && S_ISDIR(st.st_mode) &&
             (shared ? ps_trust_check(&st, true, &t, why, sizeof why) == PS_TRUST_OK
                     : st.st_uid == geteuid() && !(st.st_mode & 077));
    }
    if (!ok) {
        snprintf(err, sizeof err, "worker %s: '%s' must be a directory of this user that nobody "
                 "else may open (mode 0700)%s%s", g.cfg.worker, g.cfg.dir,
                 e != EEXIST ? ": " : "", e != EEXIST ? strerror(e) : "");
        fatal_config(err);
    }
    if (shared)
        share_worker(&t);
}

static void act_unlock(void)
{
    pthread_mutex_unlock(&g.act_mu);
    t_holds &= ~HOLD_ACT;
}

/* Unix mode's socket directory: it must be there (not an ENOENT at the
 * first bind) and as trustworthy as the manifest, since its entries are
 * routed to and unlinked. lstat: a symbolic link is refused. */
static void check_dir(void)
{
    char err[PS_PATH_MAX + 300], why[200];
    struct stat st;
    struct ps_trust t = trust();
    if (lstat(g.cfg.dir, &st) < 0)
        snprintf(why, sizeof why, "cannot be used (%s)", strerror(errno));
    else if (S_ISLNK(st.st_mode))
        snprintf(why, sizeof why, "is a symbolic link (not followed)");
    else if (ps_trust_check(&st, true, &t, why, sizeof why) == PS_TRUST_OK)
        return;
    snprintf(err, sizeof err, "PORTSHIM_DIR='%s' %s: unix mode keeps its sockets there",
             g.cfg.dir, why);
    fatal_config(err);
}

/* Stage two, at the first socket call: the worker's sub-namespace, the
 * manifest, the reader and the table (the fork handlers were registered in
 * stage one, while the process was single-threaded). A program that never
 * touches a socket (a compiler, /bin/true) never pays for it. An unwritable
 * manifest stops the program here, just as loudly. */
static void activate(void)
{
    t_holds |= HOLD_ACT;
    pthread_mutex_lock(&g.act_mu);
    if (__atomic_load_n(&g.init, __ATOMIC_ACQUIRE) != INIT_CONFIGURED) {
        act_unlock();
        return;
    }
    /* A Go program linked dynamically loads the library but makes its
     * socket calls itself: the run's supervisor answers them (exec.c put
     * it under the filter). The library stays out of the way, or a call
     * made through libc (cgo's) would be translated twice. */
    if (ps_exec_kind_of("/proc/self/exe") == PS_EXEC_GO) {
        __atomic_store_n(&g.init, INIT_OFF, __ATOMIC_RELEASE);
        act_unlock();
        return;
    }
    if (g.cfg.workers[0])
        enter_worker();
    if (g.cfg.mode == PS_MODE_UNIX && !ps_uname_dir_fits(g.cfg.dir)) {
        char err[PS_PATH_MAX + 200];
        snprintf(err, sizeof err, "PORTSHIM_DIR='%s' is %zu bytes long: unix mode's socket names "
                 "need it to be at most %d (sun_path is %d bytes)", g.cfg.dir, strlen(g.cfg.dir),
                 PS_UNAME_DIR_MAX, PS_SUN_PATH);
        fatal_config(err);
    }
    if (g.cfg.mode == PS_MODE_UNIX)
        check_dir();
    char why[200];
    __atomic_store_n(&g.mfd, open_manifest_why(why, sizeof why), __ATOMIC_RELAXED);
    if (g.mfd < 0) {
        char err[PS_PATH_MAX + 300];
        snprintf(err, sizeof err, "PORTSHIM_MANIFEST='%s' %s: refusing to run with it",
                 g.cfg.manifest, why);
        fatal_config(err);
    }
    note_manifest(g.mfd);
    /* The table is made of binds, listens and what ends them; connect and
     * accept records are most of a busy manifest and need no decoding. */
    ps_ms_init(&g.ms, &g.cfg, g.mfd);
    __atomic_store_n(&g.init, INIT_ACTIVE, __ATOMIC_RELEASE);
    act_unlock();
}

__attribute__((constructor)) static void ps_ctor(void)
{
    t_in_shim = 1;
    configure();
    t_in_shim = 0;
}

/* In a vfork child the caller's memory is the parent's, its thread-local
 * variables included: on that path nothing is written before borrowed()
 * says no. */
bool ps_enter(void)
{
    if (t_in_shim)
        return false;
    int s = __atomic_load_n(&g.init, __ATOMIC_ACQUIRE);
    if (s != INIT_ACTIVE) {
        if (s == INIT_OFF || (s == INIT_CONFIGURED && borrowed()))
            return false;
        /* The first socket call; or one made before our constructor (from
         * another library's); or while another thread initialises. */
        t_in_shim = 1;
        configure();
        /* configure() may be running in another thread (a call made before
         * our constructor); activate() waits on its mutex. */
        while ((s = __atomic_load_n(&g.init, __ATOMIC_ACQUIRE)) == INIT_RUNNING)
            sched_yield();
        if (s == INIT_CONFIGURED) {
            activate();
            s = __atomic_load_n(&g.init, __ATOMIC_ACQUIRE);
        }
        t_in_shim = 0;
        if (s != INIT_ACTIVE)
            return false;
    } else if (borrowed()) {
        return false;
    }
    t_in_shim = 1;
    return true;
}

bool ps_active(void) { return __atomic_load_n(&g.init, __ATOMIC_ACQUIRE) == INIT_ACTIVE; }

void ps_leave(void) { t_in_shim = 0; }
const struct ps_config *ps_cfg(void) { return &g.cfg; }
int ps_pid(void) { return g.proc.pid; }
const struct ps_proc *ps_proc(void) { return &g.proc; }

void ps_lock(void)
{
    t_holds |= HOLD_MU;
    pthread_mutex_lock(&g.mu);
}

void ps_unlock(void)
{
    g.mfd_checked = false;
    pthread_mutex_unlock(&g.mu);
    t_holds &= ~HOLD_MU;
}
struct ps_ns *ps_table(void) { return &g.ms.ns; }

/* Is g.mfd still the file we opened? A program can close it unseen
 * (closefrom(), a raw close_range or close system call) and then reuse the
 * number for a file of its own: the shim must never write, flock or read
 * that one. Checked once per critical section (ps_unlock forgets it). */
static bool mfd_is_ours(void)
{
    struct stat st;
    if (g.mfd_checked)
        return true;
    if (g.mfd_marked)
        g.mfd_checked = real_fcntl(g.mfd, F_GETSIG, NULL) == SIGRTMAX;
    else
        g.mfd_checked = fstat(g.mfd, &st) == 0 && st.st_dev == g.mdev && st.st_ino == g.mino;
    return g.mfd_checked;
}

/* Under g.mu, before every use of g.mfd. After fork the child shares the
 * parent's open file description, and so its flock: give the child a
 * description of its own, on the same number. */
static bool ensure_mfd(void)
{
    if (g.mfd >= 0 && !mfd_is_ours())
        ps_manifest_fd_lost();   /* the number is not ours to touch any more */
    if (g.mfd >= 0 && !g.mfd_shared)
        return true;
    /* Shared: a new description onto the same number. Lost: a new one. */
    int fd = g.mfd >= 0 ? open_manifest_low() : open_manifest();
    if (fd < 0) {
        if (!g.write_warned++)
            ps_log(PS_LOG_ERROR, "manifest %s %s: cannot reopen it (pid %d)", g.cfg.manifest,
                   g.open_why, g.proc.pid);
        return false;
    }
    if (g.mfd >= 0 && real_dup3(fd, g.mfd, O_CLOEXEC) >= 0) {
        real_close(fd);
        fd = g.mfd;
    }
    __atomic_store_n(&g.mfd, fd, __ATOMIC_RELAXED);
    g.mfd_shared = false;
    note_manifest(fd);
    g.mfd_checked = true;
    ps_ms_set_fd(&g.ms, fd);
    return true;
}

int ps_manifest_fd(void) { return __atomic_load_n(&g.mfd, __ATOMIC_RELAXED); }

bool ps_is_manifest_fd(int fd) { return fd >= 0 && fd == __atomic_load_n(&g.mfd, __ATOMIC_RELAXED); }

void ps_manifest_fd_lost(void)
{
    /* The program closed or replaced our descriptor; the number is its own now. */
    __atomic_store_n(&g.mfd, -1, __ATOMIC_RELAXED);
    g.mfd_shared = false;
    g.mfd_checked = false;
    /* Its flock went with the description; never unlock the program's. */
    g.ms.flocked = false;
}

void ps_unlink_socket(const char *path)
{
    struct stat st;
    /* Only unix mode makes socket files, in a directory checked at
     * activation to be writable by no one else, so its entries cannot be
     * swapped between the lstat and the unlink (which would not follow a
     * link anyway). */
    if (g.cfg.mode == PS_MODE_UNIX && ps_path_in_dir(path, g.cfg.dir) &&
        lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
}

void ps_refresh(void)
{
    if (!ensure_mfd())
        return;
    if (ps_ms_refresh(&g.ms) < 0 && !g.write_warned++)
        ps_log(PS_LOG_ERROR, "cannot read manifest %s: %s (pid %d)", g.cfg.manifest,
               strerror(errno), g.proc.pid);
}

void ps_claim_begin(void)
{
    if (ensure_mfd())
        ps_ms_claim_begin(&g.ms);
    ps_refresh();
}

void ps_claim_end(void)
{
    ps_ms_claim_end(&g.ms, g.ms.flocked && g.mfd >= 0 && mfd_is_ours());
}

void ps_event_new(struct ps_event *e, enum ps_ev ev)
{
    ps_engine_event_new(&g.proc, e, ev);
}

/* One line, one write (engine/msession.c says how a line stays whole). */
void ps_emit(const struct ps_event *e)
{
    if (!ensure_mfd())
        return;
    if (ps_ms_emit(&g.ms, e) < 0) {
        if (!g.write_warned++)
            ps_log(PS_LOG_ERROR, "cannot write manifest %s: %s (pid %d); namespace records "
                   "are incomplete from here", g.cfg.manifest, strerror(errno), g.proc.pid);
    } else if ((e->ev == PS_EV_BIND && e->ok && e->sid[0]) || e->ev == PS_EV_CLOSE ||
               e->ev == PS_EV_RELEASE || e->ev == PS_EV_EXIT || e->ev == PS_EV_STALE) {
        /* The mappings changed: readers that route datagrams by the table
         * they have must read the manifest again (counts.h). */
        ps_cnt_bump();
    }
}

void ps_next_sid(char sid[PS_SID_MAX])
{
    ps_ms_next_sid(&g.ms, g.proc.pid, "", sid);
}

void ps_record_locked(int fd, struct ps_event *e, bool track)
{
    if (track)
        ps_next_sid(e->sid);
    ps_emit(e);
    if (track)
        ps_track(fd, e);
}

void ps_record(int fd, struct ps_event *e, bool track)
{
    ps_lock();
    ps_record_locked(fd, e, track);
    ps_unlock();
}

bool ps_entry_pid_alive(void *ctx, const struct ps_entry *e)
{
    (void)ctx;
    return ps_probe_any_alive(&e->holders, g.proc.pid);
}

bool ps_entry_still_held(const struct ps_entry *e)
{
    return ps_probe_entry_live(e, g.proc.pid);
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
        const struct ps_entry *e = ps_ns_find(&g.ms.ns, sk->sid);
        if (!e)
            return;
        for (int i = 0; i < e->holders.n; i++)
            if (e->holders.v[i] != g.proc.pid && ps_probe_pid_alive(e->holders.v[i]))
                return;
    }
    ps_unlink_socket(sk->upath);
}

/* Under ps_lock, as this process lets go of sk: the count of connects
 * made to it (preload/counts.h). Absolute, so every holder may write it. */
static void retire_counts(const struct ps_sock *sk)
{
    ps_cnt_emit(sk->sid, sk->cslot, sk->cbase);
}

void ps_sock_gone(struct ps_sock *sk)
{
    struct ps_event e;
    /* A forked child may still hold it: then only this holder lets go. */
    ps_event_new(&e, sk->shared ? PS_EV_RELEASE : PS_EV_CLOSE);
    unlink_if_last(sk);
    retire_counts(sk);
    memcpy(e.sid, sk->sid, sizeof e.sid);
    if (sk->shared)
        e.holder = g.proc.pid;
    ps_emit(&e);
    ps_sock_free(sk);
}

/* A socket that cannot be tracked (no memory, or an fd number past the
 * table's limit) still works; only this process no longer sees its names,
 * dups and close: its close goes unrecorded and readers find it gone later
 * (stale). Said once. */
void ps_track(int fd, const struct ps_event *e)
{
    /* Whatever this number held before was closed behind our back. */
    ps_fd_release(fd);
    struct ps_sock *sk = ps_testfail(PS_TF_TRACK_OOM)
                             ? NULL
                             : ps_sock_new(e->sid, e->fam, (uint16_t)(e->port < 0 ? 0 : e->port),
                                           (uint16_t)(e->rport < 0 ? 0 : e->rport));
    if (sk) {
        sk->cslot = e->cslot;
        sk->cbase = e->cbase;
        /* Failing, sk stays on the process's list: fork and exit still
         * record it. */
        if (ps_fd_set(fd, PS_FD_BOUND, sk->vport, sk->rport, sk) == 0)
            return;
    }
    ps_log_once(PS_LOG_WARN, "cannot track socket %s on fd %d (pid %d): out of memory or "
                "fd past the table; its close will not be recorded", e->sid, fd, g.proc.pid);
}

void ps_fd_release(int fd)
{
    struct ps_sock *sk = ps_fd_detach(fd);
    if (sk)
        ps_sock_gone(sk);
}

int ps_sock_proto(int fd)
{
    int proto = 0;
    socklen_t l = sizeof proto;
    if (real_getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) < 0)
        return -1;
    return proto == IPPROTO_TCP || proto == IPPROTO_MPTCP ? PS_PROTO_TCP
           : proto == IPPROTO_UDP                        ? PS_PROTO_UDP
                                                         : PS_PROTO_OTHER;
}

/* ---- fork and exit ---------------------------------------------------- */

/* What prepare did, for the parent and child handlers to undo: the locks it
 * took (HOLD_*), FORK_BORROWED, the thread's guard and signal mask. */
enum { FORK_BORROWED = 4 };
static PS_TLS int t_fork;
static PS_TLS int t_fork_in_shim;
static PS_TLS sigset_t t_fork_mask;

/* Takes both locks so that no child inherits one held by another thread or a
 * table half changed. Signals are blocked first and the thread is marked as
 * inside the shim: a handler that closes or dups a socket while fork() runs
 * would otherwise wait for a lock its own thread holds. Blocked, it runs
 * when the parent handler is done, and its call is tracked as any other;
 * the mark covers wrapped calls made by other libraries' fork handlers
 * (they pass through). A lock this thread already holds (a fork from a
 * handler that interrupted the shim) is not taken again. */
static void atfork_prepare(void)
{
    if (borrowed()) {
        /* fork() in a vfork child: the locks and tables are the parent's,
         * and one of its threads may hold them. Touch nothing. */
        t_fork = FORK_BORROWED;
        return;
    }
    /* The child is this thread, in a copy of memory taken while the other
     * threads ran: whatever it must find by allocating is found here. */
    ps_umem_prime();
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &t_fork_mask);
    t_fork_in_shim = t_in_shim;
    t_in_shim = 1;
    t_fork = 0;
    if (!(t_holds & HOLD_ACT)) {
        t_holds |= HOLD_ACT;
        pthread_mutex_lock(&g.act_mu);
        t_fork |= HOLD_ACT;
    }
    if (!(t_holds & HOLD_MU)) {
        t_holds |= HOLD_MU;
        pthread_mutex_lock(&g.mu);
        t_fork |= HOLD_MU;
    }
}

/* Undoes prepare, in the reverse order: the locks, then the guard, then
 * the signal mask (a pending handler runs from here, locks free). */
static void fork_done(void)
{
    if (t_fork & HOLD_MU) {
        pthread_mutex_unlock(&g.mu);
        t_holds &= ~HOLD_MU;
    }
    if (t_fork & HOLD_ACT) {
        pthread_mutex_unlock(&g.act_mu);
        t_holds &= ~HOLD_ACT;
    }
    t_fork = 0;
    t_in_shim = t_fork_in_shim;
    pthread_sigmask(SIG_SETMASK, &t_fork_mask, NULL);
}

static void atfork_parent(void)
{
    if (t_fork == FORK_BORROWED) {
        t_fork = 0;
        return;
    }
    ps_sock_mark_all_shared();
    fork_done();
}

static void atfork_child(void)
{
    if (t_fork == FORK_BORROWED) {
        /* A child of a vfork child: its memory is a copy of the parent's,
         * taken with none of the shim's locks held while the parent's
         * threads ran. Nothing in it can be trusted: every call passes
         * through (an exec starts the shim afresh). */
        t_fork = 0;
        __atomic_store_n(&g.init, INIT_OFF, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(&g.proc.pid, getpid(), __ATOMIC_RELAXED);
    g.mfd_shared = true;
    g.mfd_checked = false;
    g.ms.flocked = false;
    ps_sock_mark_all_shared();
    fork_done();
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
    if (__atomic_load_n(&g.init, __ATOMIC_ACQUIRE) != INIT_ACTIVE)
        return;
    /* exit() in a vfork child runs this on the parent's memory: its sockets
     * and files are the parent's, still in use. */
    if (borrowed())
        return;
    /* Another thread may be inside the shim as the process exits. */
    if (t_holds || pthread_mutex_trylock(&g.mu))
        return;
    t_holds |= HOLD_MU;
    if (ps_sock_first()) {
        t_in_shim = 1;
        for (struct ps_sock *sk = ps_sock_first(); sk; sk = sk->next) {
            unlink_if_last(sk);
            retire_counts(sk);
        }
        struct ps_event e;
        ps_event_new(&e, PS_EV_EXIT);
        ps_emit(&e);
    }
    ps_unlock();
}
