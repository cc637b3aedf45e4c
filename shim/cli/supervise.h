/* supervise.h — the seccomp supervisor inside `portshim run`: the
 * namespace's backend for the processes of the run that the preload
 * library cannot see (static and Go programs; shim/seccomp/attach.h).
 *
 * A thread of `portshim run` listens on an AF_UNIX socket in the run's
 * private namespace directory (PORTSHIM_SUPERVISOR) for the listener fds
 * of processes that attach themselves, and answers their trapped socket
 * calls with the engine's decisions (engine/engine.h), recording the same
 * events as the library, with "be":"seccomp". */
#ifndef PS_SUPERVISE_H
#define PS_SUPERVISE_H

#include <stdbool.h>

struct ps_supervisor;

/* Starts the supervisor of the run whose PORTSHIM_* environment is set
 * (the run's export_env), its socket in dir when dir is private to the run
 * and short enough, else in a private directory of its own; exports
 * PORTSHIM_SUPERVISOR. NULL, with one `portshim:` line saying why, when it
 * cannot start (seccomp user notification unavailable: the reason). */
struct ps_supervisor *ps_supervise_start(const char *dir, bool dir_private);
/* Stops the thread, closes every listener (their processes' trapped calls
 * then fail with ENOSYS) and removes the socket. NULL is a no-op. */
void ps_supervise_stop(struct ps_supervisor *s);

#endif
