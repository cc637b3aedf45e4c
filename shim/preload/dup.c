/* dup.c — dup(), dup2(), dup3() and fcntl(F_DUPFD*): a duplicated socket
 * keeps its identity, and a descriptor replaced by dup2 is closed for us
 * too. Other fcntl commands pass straight through. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "preload/real.h"
#include "preload/state.h"

/* glibc declares it for _FILE_OFFSET_BITS=64 builds only; musl never. */
int fcntl64(int fd, int cmd, ...);

/* After the kernel made newfd a copy of oldfd. */
static void copied(int oldfd, int newfd, bool replaced)
{
    ps_lock();
    if (replaced && ps_is_manifest_fd(newfd))
        ps_manifest_fd_lost();
    ps_fd_release(newfd);
    ps_fd_dup(oldfd, newfd);
    ps_unlock();
}

static bool interesting(int oldfd, int newfd)
{
    return ps_fd_kind(oldfd) != PS_FD_NONE || ps_fd_kind(newfd) != PS_FD_NONE ||
           ps_is_manifest_fd(newfd);
}

PS_EXPORT int dup(int fd)
{
    int nfd = real_dup(fd);
    if (nfd < 0 || !interesting(fd, nfd) || !ps_enter())
        return nfd;
    copied(fd, nfd, false);
    ps_leave();
    return nfd;
}

static int dup_to(int fd, int fd2, int flags, bool three)
{
    if (!interesting(fd, fd2) || !ps_enter())
        return three ? real_dup3(fd, fd2, flags) : real_dup2(fd, fd2);
    int rc = three ? real_dup3(fd, fd2, flags) : real_dup2(fd, fd2);
    int err = errno;
    if (rc >= 0 && fd != fd2)
        copied(fd, fd2, true);
    ps_leave();
    errno = err;
    return rc;
}

PS_EXPORT int dup2(int fd, int fd2)
{
    return dup_to(fd, fd2, 0, false);
}

PS_EXPORT int dup3(int fd, int fd2, int flags)
{
    return dup_to(fd, fd2, flags, true);
}

static int shim_fcntl(int (*call)(int, int, void *), int fd, int cmd, void *arg)
{
    int rc = call(fd, cmd, arg);
    if (rc < 0 || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) || !interesting(fd, rc))
        return rc;
    int err = errno;
    if (ps_enter()) {
        copied(fd, rc, false);
        ps_leave();
    }
    errno = err;
    return rc;
}

PS_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return shim_fcntl(real_fcntl, fd, cmd, arg);
}

PS_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return shim_fcntl(real_fcntl64, fd, cmd, arg);
}
