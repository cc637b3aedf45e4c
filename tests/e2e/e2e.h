/* e2e.h — what the end-to-end tests share: temp dirs, namespaces,
 * environments, bounded child processes and manifest reading.
 *
 * The Criterion binary itself never has the shim preloaded (its runner
 * talks over sockets); only the helper processes a test starts do, through
 * the explicit environment built here. Every process a test starts is its
 * own process group, dies with the test process (PR_SET_PDEATHSIG), and is
 * killed with its whole group in the suite's teardown even when an
 * assertion fails half-way. Every wait has a deadline. */
#ifndef E2E_H
#define E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/manifest.h"
#include "../helpers/common.h"

/* Suite hooks: use in every TestSuite(..., .init = e2e_setup, .fini = e2e_teardown). */
void e2e_setup(void);
void e2e_teardown(void);
/* Skips the running test. Criterion does not run a suite's .fini for a
 * skipped test, so this tears down first (no temporary directory is left
 * behind); the message is formatted before that. */
#define e2e_skip(...)                                                       \
    do {                                                                    \
        char e2e_skip_msg_[512];                                            \
        snprintf(e2e_skip_msg_, sizeof e2e_skip_msg_, __VA_ARGS__);         \
        e2e_teardown();                                                     \
        cr_skip_test("%s", e2e_skip_msg_);                                  \
    } while (0)

/* ---- paths ---------------------------------------------------------------- */
const char *e2e_build(void);              /* $PORTSHIM_BUILD, absolute */
const char *e2e_lib(void);                /* build/libportshim.so */
const char *e2e_portshim(void);           /* scripts/portshim */
const char *e2e_helper(const char *name); /* build/helpers/NAME */
const char *e2e_tmp(void);                /* this test's private temp dir */
/* A path under e2e_tmp(); the string lives until teardown. */
const char *e2e_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes text to a file (mode 0755 when exec). */
void e2e_write_file(const char *path, const char *text, bool exec);
/* The file's contents (up to 256 KiB), or "" when unreadable; lives until teardown. */
const char *e2e_slurp(const char *path);

/* Whether anything is at path (lstat: a dangling symbolic link counts). */
bool e2e_exists(const char *path);
/* How many lines text holds (its '\n's), and how many of them start with
 * prefix (a last line without '\n' counts there too). */
int e2e_lines(const char *text);
int e2e_lines_starting(const char *text, const char *prefix);

/* Skips the test (with a visible message) unless the library was built. */
void e2e_need_lib(void);
bool e2e_have_ipv6(void);

/* ---- namespaces and environments ----------------------------------------- */
struct e2e_ns {
    char dir[512];        /* private 0700 directory (PORTSHIM_DIR) */
    char manifest[600];   /* PORTSHIM_MANIFEST, created empty */
};
void e2e_ns_new(struct e2e_ns *ns, const char *name);

#define E2E_ENV_MAX 512
struct e2e_env {
    char *v[E2E_ENV_MAX];
    int n;
};
/* The test's environment minus LD_PRELOAD and every PORTSHIM_* variable,
 * plus PORTSHIM_BUILD (for scripts/portshim) and TMPDIR=e2e_tmp() (so the
 * namespaces portshim run creates go away with the test). */
void e2e_env_plain(struct e2e_env *e);
/* Plain plus the shim: LD_PRELOAD, PORTSHIM_MANIFEST/DIR/MODE and, when
 * ports is not NULL, PORTSHIM_PORTS. mode NULL means remap. */
void e2e_env_shim(struct e2e_env *e, const struct e2e_ns *ns, const char *mode,
                  const char *ports);
void e2e_env_set(struct e2e_env *e, const char *key, const char *value);
void e2e_env_unset(struct e2e_env *e, const char *key);

/* ---- processes ------------------------------------------------------------ */
struct e2e_proc {
    pid_t pid;
    char cmd[512];        /* for messages */
    int in, out, err;     /* our ends of its stdin/stdout/stderr, -1 when closed */
    char *obuf, *ebuf;    /* everything it printed so far */
    size_t olen, elen, ocap, ecap;
    size_t opos;          /* e2e_line's read position in obuf */
    bool exited;
    int status;           /* waitpid status once exited */
    bool timed_out;       /* e2e_wait had to kill it */
    char reply[1024];     /* the last e2e_cmd answer */
};

/* Starts argv[0] (a helper name such as "echo-server", or a path) with the
 * given environment; stdin, stdout and stderr are pipes. Fails the test if
 * it cannot start. */
struct e2e_proc *e2e_start(const struct e2e_env *env, const char *const *argv);
#define e2e_startl(env, ...) e2e_start((env), (const char *const[]){__VA_ARGS__, NULL})
/* Starts `copies` (at most 8) `portshim run [--mode M] [--ports P] -- /bin/sh
 * SCRIPT i TMPDIR` at once (H in their environment is the helpers' directory)
 * and asserts that each exits 0 within wait_ms and that run i printed
 * "<pre><i><post>". mode and ports may be NULL. */
void e2e_parallel_runs(const char *script, int copies, const char *pre, const char *post,
                       const char *mode, const char *ports, int wait_ms);
/* Starts, closes stdin, waits (killing it after timeout_ms). */
struct e2e_proc *e2e_run(const struct e2e_env *env, int timeout_ms, const char *const *argv);
#define e2e_runl(env, ms, ...) e2e_run((env), (ms), (const char *const[]){__VA_ARGS__, NULL})

/* e2e_run inside a network namespace of its own with its loopback up
 * (unshare -n as root, unshare -rn otherwise; ip link set lo up): for a
 * program run bare, without the shim, that binds fixed ports, so that it
 * never meets another suite's on this machine. Skips the test, visibly,
 * when no such namespace can be made here. */
struct e2e_proc *e2e_run_netns(const struct e2e_env *env, int timeout_ms,
                               const char *const *argv);
#define e2e_runl_netns(env, ms, ...) \
    e2e_run_netns((env), (ms), (const char *const[]){__VA_ARGS__, NULL})

/* Next stdout line (without '\n') within timeout_ms: 0, or -1 on EOF/timeout. */
int e2e_line(struct e2e_proc *p, char *buf, size_t len, int timeout_ms);
/* Reads lines until one starts with prefix; returns the rest of that line
 * (static storage in p), or NULL on EOF/timeout. */
const char *e2e_expect(struct e2e_proc *p, const char *prefix, int timeout_ms);
/* Sends one sockctl command and returns its one-line answer ("OK ..." or
 * "ERR ..."; "TIMEOUT" if none came within 15 s). */
const char *e2e_cmd(struct e2e_proc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An "OK N" answer's N, failing the test on anything else. */
int e2e_cmd_fd(struct e2e_proc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void e2e_close_stdin(struct e2e_proc *p);
/* Waits for exit: true if it exited by itself within timeout_ms; otherwise
 * it (and its process group) is killed and false is returned. */
bool e2e_wait(struct e2e_proc *p, int timeout_ms);
void e2e_kill(struct e2e_proc *p, int sig);
/* Exit status, or -1 if it died of a signal (or has not exited). */
int e2e_status(const struct e2e_proc *p);
const char *e2e_out(struct e2e_proc *p);
const char *e2e_err(struct e2e_proc *p);
/* "cmd=... status=... stdout=... stderr=..." for assertion messages. */
const char *e2e_describe(struct e2e_proc *p);

/* ---- the manifest --------------------------------------------------------- */
struct e2e_events {
    struct ps_event *v;
    size_t n, cap;
    uint64_t lines, bad;
};
/* Reads every event (ps_reader); malformed lines are counted in bad. */
void e2e_events_read(const char *manifest, struct e2e_events *ev);
void e2e_events_free(struct e2e_events *ev);
/* Events of a kind; ok -1 any, 0 failed, 1 succeeded; port -1 any. */
size_t e2e_count(const struct e2e_events *ev, enum ps_ev kind, int ok, int port);
/* The last successful bind of virtual port vport, or NULL. */
const struct ps_event *e2e_last_bind(const struct e2e_events *ev, int vport);
/* The real port of a live, listening mapping of vport (bind ok + listen,
 * no close/stale/exit since), or -1. Waits up to timeout_ms for one. */
int e2e_real_port(const char *manifest, int vport, int timeout_ms);

/* ---- talking from the (unshimmed) test process ---------------------------- */
/* One echo request; 0 and the reply, or -errno. */
int e2e_request(const char *addr, int port, const char *msg, char *reply, size_t len);
/* A port the kernel considers free right now (bind 0, read, close). Only
 * for things that must really bind a port outside any namespace. */
int e2e_free_port(int type);

#define E2E_MS 15000   /* default deadline for one step */

#endif
