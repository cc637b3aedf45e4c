/* close.c — close() and close_range(): the last descriptor of a bound socket
 * releases its virtual port. The check for "ours?" is lock-free, so closing
 * ordinary files costs one table read. */
#include <errno.h>
#include <unistd.h>

#include "preload/real.h"
#include "preload/state.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)   /* <linux/close_range.h>, absent from musl */
#endif

/* glibc declares it in <unistd.h> since 2.34; musl does not. */
int close_range(unsigned first, unsigned last, int flags);

PS_EXPORT int close(int fd)
{
    if (ps_fd_kind(fd) == PS_FD_NONE && !ps_is_manifest_fd(fd))
        return real_close(fd);
    if (!ps_enter())
        return real_close(fd);
    ps_lock();
    if (ps_is_manifest_fd(fd))
        ps_manifest_fd_lost();
    struct ps_sock *sk = ps_fd_detach(fd);
    int rc = real_close(fd);
    int err = errno;
    if (sk)
        ps_sock_gone(sk);
    ps_unlock();
    ps_leave();
    errno = err;
    return rc;
}

PS_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    if ((flags & CLOSE_RANGE_CLOEXEC) || !ps_enter())
        return real_close_range(first, last, flags);
    /* Under the lock, as close() does: a number the range frees may be
     * taken at once by another thread's new socket, whose bind must not be
     * forgotten here. */
    ps_lock();
    int rc = real_close_range(first, last, flags);
    int err = errno;
    if (rc == 0) {
        /* Our own descriptor first, if the range took it: the closes
         * recorded below must go to a reopened manifest. */
        int mfd = ps_manifest_fd();
        if (mfd >= 0 && (unsigned)mfd >= first && (unsigned)mfd <= last)
            ps_manifest_fd_lost();
        unsigned end = last < PS_FD_LIMIT - 1 ? last : PS_FD_LIMIT - 1;
        for (unsigned fd = first; fd <= end; fd++)
            if (ps_fd_kind((int)fd) != PS_FD_NONE)
                ps_fd_release((int)fd);
    }
    ps_unlock();
    ps_leave();
    errno = err;
    return rc;
}
