/* attach.h — putting a process of the run under the run's seccomp
 * user-notification filter (the supervisor backend, shim/cli/supervise.h).
 *
 * The filter traps the socket calls the namespace rules (bind, listen,
 * connect, getsockname, getpeername; in unix mode also accept, accept4,
 * getsockopt and setsockopt, which the supervisor asks for) and nothing else;
 * the data path (read, write, send*, recv*, poll) never leaves the kernel.
 * The filter follows the process's descendants over fork, clone and exec. */
#ifndef PS_SECCOMP_ATTACH_H
#define PS_SECCOMP_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

/* The supervisor's socket path; set by `portshim run`. */
#define PS_SUPERVISOR_ENV "PORTSHIM_SUPERVISOR"

/* Installs the run's seccomp user-notification filter on the calling
 * process (TSYNC) and hands its listener fd to the supervisor listening at
 * path (SCM_RIGHTS over an AF_UNIX socket), then closes it. Sets
 * no_new_privs only when the caller lacks CAP_SYS_ADMIN. Does nothing,
 * returns 0, when the process is already under the run's filter (the one
 * of this path). No malloc, async-signal-safe: callable in a fork/vfork
 * child just before exec. 0, or a negative errno (nothing installed; the
 * one exception, -EPIPE: the filter went in but the supervisor vanished
 * before taking its listener, so the trapped calls fail with ENOSYS). */
int ps_seccomp_attach(const char *path);

/* NULL when seccomp user notification works here, else a short reason for
 * a one-line diagnostic. Probed once. */
const char *ps_seccomp_unavailable(void);

/* The run's mark, answered by its filter (a prctl no kernel knows): the
 * cookie is a hash of the supervisor's path, so a nested run's filter is
 * told from its outer run's. Exposed for the tests. */
uint32_t ps_seccomp_cookie(const char *path);
bool ps_seccomp_attached(const char *path);

#endif
