/* exec.c — execve and its family, fexecve, posix_spawn and posix_spawnp:
 * the moment a process of the run starts a program the library will not be
 * loaded into (a static ELF) or whose socket calls bypass libc (Go).
 *
 * Such a program is put under the run's seccomp supervisor before it
 * starts (ps_seccomp_attach, here, in the process that execs; the filter
 * then follows its descendants). A dynamic program costs one read of its
 * first 4 KiB, which the kernel is about to read anyway, and is otherwise
 * left alone. Where there is no supervisor, the program still runs, but
 * never silently: one `portshim:` line names it and says why it is not
 * isolated.
 *
 * glibc's execl*, execvp* and posix_spawn* call the kernel's execve from
 * inside libc, never through this library's execve: each is wrapped.
 * posix_spawn runs its child in the caller's memory (CLONE_VM|CLONE_VFORK)
 * and applies the caller's file actions and attributes there, out of reach
 * of a wrapper; a program that needs the supervisor is therefore spawned
 * through `portshim-helper attach-exec` (PORTSHIM_HELPER), which attaches
 * and then execs it with the same arguments, in the same process, after
 * those file actions and attributes. Everything here is safe in a vfork
 * child: no malloc, no lock, errno kept. */
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/execkind.h"
#include "core/log.h"
#include "preload/real.h"
#include "seccomp/attach.h"

extern char **environ;

/* The wrappers that become the program run in a vfork child on the
 * parent's stack and never return there. Under ASan a frame of theirs
 * would leave its redzones poisoned in the shadow the parent shares, and
 * the parent's next instrumented frame at those addresses would fail a
 * false check: they are not instrumented (what they call returns and
 * cleans up after itself). */
#define PS_EXEC_WRAPPER PS_EXPORT __attribute__((no_sanitize_address))

/* The helper's trampoline command (shim/cli/attach_exec.c). */
#define ATTACH_EXEC_CMD "attach-exec"

/* What an exec of path needs. For a program the library cannot see,
 * attaches it (attach true: this process is the one that execs) or says
 * whether the caller must spawn it through the helper (*sup set); when it
 * cannot be isolated, says so in one line. */
static void prepare(const char *path, bool attach, const char **sup)
{
    *sup = NULL;
    enum ps_exec_kind k = ps_exec_kind_of(path);
    if (!ps_exec_needs_supervisor(k))
        return;
    const char *why, *s = getenv(PS_SUPERVISOR_ENV), *be = getenv("PORTSHIM_BACKEND");
    char buf[128];
    int pid = (int)getpid();
    if (be && !strcmp(be, "preload")) {
        why = "portshim run --backend preload";
    } else if ((why = ps_seccomp_unavailable())) {
        snprintf(buf, sizeof buf, "seccomp user notification is unavailable: %s", why);
        why = buf;
    } else if (!be) {
        why = "no seccomp supervisor: the library was preloaded without portshim run, which "
              "starts one";
    } else if (!s || !*s) {
        why = "no seccomp supervisor in this run (PORTSHIM_SUPERVISOR is not set)";
    } else if (!attach) {
        *sup = s;
        return;
    } else {
        int r = ps_seccomp_attach(s);
        if (r == 0)
            return;
        snprintf(buf, sizeof buf, "the seccomp supervisor did not take it: %s", strerror(-r));
        why = buf;
    }
    ps_log(PS_LOG_WARN, "exec %s in pid %d: a %s program, its socket calls escape the "
           "namespace: %s", path, pid, ps_exec_kind_name(k), why);
}

static void before_exec(const char *path)
{
    int saved = errno;
    const char *sup;
    prepare(path, true, &sup);
    errno = saved;
}

/* execvp's search, for the decision only: the real call searches again. */
static void before_execp(const char *file)
{
    char path[PATH_MAX];
    int saved = errno;
    if (ps_exec_resolve(file, path, sizeof path))
        before_exec(path);
    errno = saved;
}

PS_EXEC_WRAPPER int execve(const char *path, char *const argv[], char *const envp[])
{
    before_exec(path);
    return real_execve(path, argv, envp);
}

PS_EXEC_WRAPPER int execv(const char *path, char *const argv[])
{
    before_exec(path);
    return real_execv(path, argv);
}

PS_EXEC_WRAPPER int execvp(const char *file, char *const argv[])
{
    before_execp(file);
    return real_execvp(file, argv);
}

PS_EXEC_WRAPPER int execvpe(const char *file, char *const argv[], char *const envp[])
{
    before_execp(file);
    return real_execvpe(file, argv, envp);
}

PS_EXEC_WRAPPER int fexecve(int fd, char *const argv[], char *const envp[])
{
    char path[40];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    before_exec(path);
    return real_fexecve(fd, argv, envp);
}

/* execl, execle, execlp: their arguments as an argv on the stack, as libc
 * builds it; an absurd count fails with E2BIG, as the kernel would. */
#define ARGV_MAX 65536

static size_t count_args(va_list ap)
{
    size_t n = 1;
    while (va_arg(ap, const char *) && n < ARGV_MAX)
        n++;
    return n;
}

#define ARGV_FROM_VA(arg0, argv, n, ...)                          \
    va_list ap;                                                   \
    va_start(ap, arg0);                                           \
    size_t n = count_args(ap);                                    \
    va_end(ap);                                                   \
    if (n >= ARGV_MAX)                                            \
        return errno = E2BIG, -1;                                 \
    char *argv[n + 1];                                            \
    argv[0] = (char *)arg0;                                       \
    va_start(ap, arg0);                                           \
    for (size_t i_ = 1; i_ <= n; i_++)                            \
        argv[i_] = va_arg(ap, char *);                            \
    __VA_ARGS__;                                                  \
    va_end(ap)

PS_EXEC_WRAPPER int execl(const char *path, const char *arg0, ...)
{
    ARGV_FROM_VA(arg0, argv, n, (void)0);
    before_exec(path);
    return real_execv(path, argv);
}

PS_EXEC_WRAPPER int execlp(const char *file, const char *arg0, ...)
{
    ARGV_FROM_VA(arg0, argv, n, (void)0);
    before_execp(file);
    return real_execvp(file, argv);
}

/* execle's environment follows the argument list's NULL. */
PS_EXEC_WRAPPER int execle(const char *path, const char *arg0, ...)
{
    char *const *envp;
    ARGV_FROM_VA(arg0, argv, n, envp = va_arg(ap, char *const *));
    before_exec(path);
    return real_execve(path, argv, envp);
}

/* posix_spawn of a program that needs the supervisor: through the helper,
 * "attach-exec SUP PATH ARGV...", which attaches and execs in the spawned
 * process, after the caller's file actions and attributes. Otherwise the
 * real spawn of path as it is. */
static int spawn_via(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    const char *sup, *helper = getenv("PORTSHIM_HELPER");
    int saved = errno;
    prepare(path, false, &sup);
    size_t n = 0;
    while (sup && argv && argv[n] && n < ARGV_MAX)
        n++;
    if (sup && helper && *helper && access(helper, X_OK) == 0 && n < ARGV_MAX) {
        char *targv[n + 5];
        targv[0] = (char *)helper;
        targv[1] = (char *)ATTACH_EXEC_CMD;
        targv[2] = (char *)sup;
        targv[3] = (char *)path;
        for (size_t i = 0; i < n; i++)
            targv[4 + i] = argv[i];
        targv[4 + n] = NULL;
        errno = saved;
        return real_posix_spawn(pid, helper, fa, attr, targv, envp);
    }
    if (sup)
        ps_log(PS_LOG_WARN, "spawn %s in pid %d: its socket calls escape the namespace: "
               "PORTSHIM_HELPER does not name the portshim helper that would put it under the "
               "supervisor", path, (int)getpid());
    errno = saved;
    return real_posix_spawn(pid, path, fa, attr, argv, envp);
}

PS_EXPORT int posix_spawn(pid_t *restrict pid, const char *restrict path,
                          const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                          char *const envp[restrict])
{
    return spawn_via(pid, path, fa, attr, argv, envp);
}

PS_EXPORT int posix_spawnp(pid_t *restrict pid, const char *restrict file,
                           const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                           char *const envp[restrict])
{
    char path[PATH_MAX];
    int saved = errno;
    if (ps_exec_resolve(file, path, sizeof path) &&
        ps_exec_needs_supervisor(ps_exec_kind_of(path))) {
        errno = saved;
        return spawn_via(pid, path, fa, attr, argv, envp);
    }
    errno = saved;
    return real_posix_spawnp(pid, file, fa, attr, argv, envp);
}
