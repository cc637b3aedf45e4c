/* attach_exec.c — `portshim-helper attach-exec SUP PATH ARGV0 [ARG...]`:
 * the library's posix_spawn of a static or Go program (preload/exec.c)
 * spawns this instead, so that the attach happens in the spawned process
 * after the caller's file actions and attributes, which glibc applies in a
 * child sharing the caller's memory, out of the wrapper's reach. Puts this
 * process under the supervisor at SUP, then becomes PATH with ARGV0 ARG...
 * and the environment it was given: the same process, the caller's pid.
 * Not a command for people: scripts/portshim does not offer it. */
#include "cli/cli.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/execkind.h"
#include "seccomp/attach.h"

extern char **environ;

int cmd_attach_exec(int argc, char **argv)
{
    if (argc < 4) {
        cli_log(PS_LOG_ERROR, "attach-exec: expected SUPERVISOR PATH ARGV0 [ARG...]");
        return EXIT_USAGE;
    }
    const char *sup = argv[1], *path = argv[2];
    int r = ps_seccomp_attach(sup);
    if (r < 0)   /* never silently: said, and run all the same, as an exec would be */
        cli_log(PS_LOG_WARN, "spawn %s in pid %d: a %s program, its socket calls escape the "
                "namespace: the seccomp supervisor did not take it: %s", path, (int)getpid(),
                ps_exec_kind_name(ps_exec_kind_of(path)), strerror(-r));
    /* The bare call: this helper's own preloaded execve would decide again. */
    syscall(SYS_execve, path, argv + 3, environ);
    int e = errno;
    cli_log(PS_LOG_ERROR, "cannot run '%s': %s", path, strerror(e));
    return e == ENOENT ? 127 : 126;
}
