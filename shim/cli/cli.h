/* cli.h — the portshim command's helper: shared declarations.
 *
 * scripts/portshim finds the library and this helper, exports
 * PORTSHIM_LIBRARY and execs us; each subcommand lives in its own file
 * (run.c, leak.c, port.c, report*.c, stress.c). Exit codes: 0 ok, 1 "not found" (port),
 * 2 usage or setup error; run passes on its command's status; stress
 * exits 1 when any run failed. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/config.h"
#include "core/manifest.h"

#define PORTSHIM_VERSION "0.1.0"

#define EXIT_NOTFOUND 1
#define EXIT_USAGE 2

int cmd_run(int argc, char **argv);
int cmd_port(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_stress(int argc, char **argv);
/* The library's trampoline for posix_spawn (attach_exec.c). */
int cmd_attach_exec(int argc, char **argv);

void usage_run(FILE *f);
void usage_port(FILE *f);
void usage_report(FILE *f);
void usage_stress(FILE *f);
/* "Try 'portshim CMD --help'." after a usage error; returns EXIT_USAGE. */
int usage_hint(const char *cmd);

/* Option scanning over argv[*i]: "--name VALUE" or "--name=VALUE".
 * Returns 1 (and advances *i past it) when argv[*i] is that option, 0 when
 * it is not, -1 (message printed) when its value is missing. */
/* *val must start NULL: an option given twice is a usage error, as is a
 * missing value or "--" in its place. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* A flag: 1 (and *flag set) when arg is name, 0 when not, -1 (message
 * printed) when it was given before. */
int cli_flag(const char *arg, const char *name, bool *flag);
bool cli_is_help(const char *arg);

/* The manifest a reader should use: --manifest, else $PORTSHIM_MANIFEST.
 * NULL (message printed) when there is none. */
const char *cli_manifest_path(const char *opt);

/* Like cli_manifest_path; without --manifest, inside a worker of a
 * `run --per-worker`, the worker's own sub-namespace (then *sub is set: a
 * manifest not there yet is a worker that has used no socket yet). */
const char *cli_manifest_here(const char *opt, bool *sub);

/* The run's private directory, under which its workers' sub-namespaces are
 * (ROOT/w-NAME): $PORTSHIM_DIR inside a run (manifest_opt NULL), else FILE.d
 * when that is a directory, else the directory of a FILE named
 * manifest.jsonl. -1 when there is none. */
int cli_worker_root(const char *manifest_opt, const char *manifest, char *root, size_t len);
/* The names of the sub-namespaces under root, sorted (gw2 before gw10);
 * *names is malloc'd. */
size_t cli_workers_list(const char *root, char (**names)[PS_WORKER_NAME_MAX + 1]);
/* The manifest (PS_PATH_MAX bytes) of worker W (its variable's value, or the
 * name a report shows) under root; -1 (message printed) when it has none. */
int cli_worker_manifest(const char *root, const char *worker, char *out);
/* The same, saying nothing when the sub-namespace does not exist yet (it
 * returns 1 then): for 'port --wait', whose worker may not have started. */
int cli_worker_manifest_wait(const char *root, const char *worker, char *out);
/* Opens a manifest to read (port, report): a descriptor; -2 when it does
 * not exist (nothing said); -1 (said) when it cannot be read or is not a
 * regular file (a FIFO, /dev/zero: never blocks). Owned by another user:
 * a warning. Writable by others (or a group not PORTSHIM_SHARE_GID): a
 * warning, or with refuse_writable an error. */
int cli_open_manifest(const char *path, bool refuse_writable);

/* A namespace's layout, shared by run (which makes it) and stress (which
 * makes directories for runs that join them): a created namespace is a
 * directory holding CLI_MANIFEST_NAME; a joined manifest FILE keeps its
 * private directory (unix mode's sockets, workers' sub-namespaces) at
 * FILE.d. */
#define CLI_MANIFEST_NAME "manifest.jsonl"
/* FILE.d into out; -1 when it does not fit len. */
int cli_joined_dir(const char *manifest, char *out, size_t len);
/* Unix mode's socket names must fit sun_path under dir, and with workers
 * under every worker's directory in it. Other modes: always. */
bool cli_socket_dir_fits(const char *dir, bool unix_mode, bool workers);
/* Creates $TMPDIR/portshim.XXXXXX (/tmp without TMPDIR), its real path in
 * out (PATH_MAX bytes). When the socket directory it will have (the
 * directory itself, or with joined that of its manifest, FILE.d) does not
 * fit (cli_socket_dir_fits), it is removed and made in /tmp instead. -1
 * (said) on failure. */
int cli_make_ns_dir(bool unix_mode, bool workers, bool joined, char *out);

/* Seconds since the epoch (real time) and a monotonic clock in seconds. */
double cli_now(void);
/* Writes s as a JSON string (quotes included) to f. */
void cli_json_str(FILE *f, const char *s);
double cli_mono(void);

/* ps_log with control characters in the message replaced by '?'. */
void cli_log(enum ps_loglevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the helper's own log level from PORTSHIM_LOG (invalid: left as is;
 * `run` validates it properly before starting anything). */
void cli_log_init(void);

#endif
