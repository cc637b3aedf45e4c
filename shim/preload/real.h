/* real.h — the libc functions the shim wraps, resolved lazily with
 * dlsym(RTLD_NEXT) so the next definition (libc's, or another preloaded
 * library's) is the one called. The shim's own code calls these, never the
 * exported names.
 *
 * PS_REAL_SYMBOLS is the one list of them: real.c generates each real_NAME
 * from it, and every entry has a wrapper of the same name exported with
 * PS_EXPORT and listed in exports.map (docs/design.md, "Adding a wrapped
 * call"). X(ret, name, (params), (args)). fcntl and fcntl64 are written by
 * hand: libc's are variadic, so they are called through a variadic type, and
 * fcntl64 falls back to fcntl. */
#ifndef PS_REAL_H
#define PS_REAL_H

#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

/* sendmmsg's and recvmmsg's flags: int in glibc, unsigned int in musl. */
#ifdef __GLIBC__
typedef int ps_mmsg_flags;
#else
typedef unsigned int ps_mmsg_flags;
#endif

#define PS_REAL_SYMBOLS(X)                                                                    \
    X(int, bind, (int fd, const struct sockaddr *addr, socklen_t len), (fd, addr, len))       \
    X(int, listen, (int fd, int backlog), (fd, backlog))                                      \
    X(int, connect, (int fd, const struct sockaddr *addr, socklen_t len), (fd, addr, len))    \
    X(int, accept, (int fd, struct sockaddr *addr, socklen_t *len), (fd, addr, len))          \
    X(int, accept4, (int fd, struct sockaddr *addr, socklen_t *len, int flags),               \
      (fd, addr, len, flags))                                                                 \
    X(int, getsockname, (int fd, struct sockaddr *addr, socklen_t *len), (fd, addr, len))     \
    X(int, getpeername, (int fd, struct sockaddr *addr, socklen_t *len), (fd, addr, len))     \
    X(int, close, (int fd), (fd))                                                             \
    X(int, close_range, (unsigned first, unsigned last, int flags), (first, last, flags))     \
    X(int, dup, (int fd), (fd))                                                               \
    X(int, dup2, (int fd, int fd2), (fd, fd2))                                                \
    X(int, dup3, (int fd, int fd2, int flags), (fd, fd2, flags))                              \
    X(pid_t, fork, (void), ())                                                                \
    X(int, getsockopt, (int fd, int level, int name, void *val, socklen_t *len),              \
      (fd, level, name, val, len))                                                            \
    X(int, setsockopt, (int fd, int level, int name, const void *val, socklen_t len),         \
      (fd, level, name, val, len))                                                            \
    X(int, execve, (const char *path, char *const argv[], char *const envp[]),                \
      (path, argv, envp))                                                                     \
    X(int, execv, (const char *path, char *const argv[]), (path, argv))                       \
    X(int, execvp, (const char *file, char *const argv[]), (file, argv))                      \
    X(int, execvpe, (const char *file, char *const argv[], char *const envp[]),               \
      (file, argv, envp))                                                                     \
    X(int, fexecve, (int fd, char *const argv[], char *const envp[]), (fd, argv, envp))       \
    X(int, posix_spawn, (pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,  \
                         const posix_spawnattr_t *attr, char *const argv[],                   \
                         char *const envp[]),                                                 \
      (pid, path, fa, attr, argv, envp))                                                      \
    X(int, posix_spawnp, (pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa, \
                          const posix_spawnattr_t *attr, char *const argv[],                  \
                          char *const envp[]),                                                \
      (pid, file, fa, attr, argv, envp))                                                      \
    X(int, socket, (int domain, int type, int protocol), (domain, type, protocol))            \
    X(ssize_t, sendto, (int fd, const void *buf, size_t n, int flags,                         \
                        const struct sockaddr *addr, socklen_t len),                          \
      (fd, buf, n, flags, addr, len))                                                         \
    X(ssize_t, sendmsg, (int fd, const struct msghdr *msg, int flags), (fd, msg, flags))      \
    X(int, sendmmsg, (int fd, struct mmsghdr *vec, unsigned vlen, ps_mmsg_flags flags),       \
      (fd, vec, vlen, flags))                                                                 \
    X(ssize_t, recvfrom, (int fd, void *buf, size_t n, int flags, struct sockaddr *addr,      \
                          socklen_t *len),                                                    \
      (fd, buf, n, flags, addr, len))                                                         \
    X(ssize_t, recvmsg, (int fd, struct msghdr *msg, int flags), (fd, msg, flags))            \
    X(int, recvmmsg, (int fd, struct mmsghdr *vec, unsigned vlen, ps_mmsg_flags flags,        \
                      struct timespec *timeout),                                              \
      (fd, vec, vlen, flags, timeout))

#define PS_REAL_DECLARE(ret, name, params, args) ret real_##name params;
PS_REAL_SYMBOLS(PS_REAL_DECLARE)
#undef PS_REAL_DECLARE

/* execl, execle and execlp are wrapped too (exec.c), and call real_execv,
 * real_execve and real_execvp: libc's would reach the kernel's execve from
 * inside libc, past the wrapper's decision. */

/* fcntl's third argument is read as a pointer-sized value, as libc does. */
int real_fcntl(int fd, int cmd, void *arg);
int real_fcntl64(int fd, int cmd, void *arg);

/* The one way a wrapper leaves the library: the definition of a libc name,
 * with default visibility (everything else is hidden by -fvisibility=hidden
 * and the version script). */
#define PS_EXPORT __attribute__((visibility("default")))

#endif
