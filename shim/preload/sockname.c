/* sockname.c — getsockname() and getpeername() report virtual ports. */
#include <errno.h>
#include <sys/socket.h>

#include "preload/names.h"
#include "preload/real.h"
#include "preload/state.h"
#include "preload/umem.h"
#include "preload/unix.h"

typedef int (*name_call)(int, struct sockaddr *, socklen_t *);

static int virtual_name(name_call call, int fd, struct sockaddr *addr, socklen_t *len, bool peer)
{
    /* A negative length (EINVAL) and a length the program cannot read
     * (EFAULT) are the kernel's to refuse. */
    socklen_t want;
    if (!addr || !len || ps_cfg()->mode == PS_MODE_OBSERVE || ps_uread(&want, len, sizeof want) < 0 ||
        (int)want < 0)
        return call(fd, addr, len);
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    int rc = call(fd, (struct sockaddr *)&ss, &l);
    if (rc < 0)
        return rc;
    if (ss.ss_family == AF_UNIX && ps_cfg()->mode == PS_MODE_UNIX) {
        struct sockaddr_storage in;
        socklen_t il;
        if (ps_unix_inet_name(fd, peer, &ss, l, &in, &il)) {
            ss = in;
            l = il;
        }
    }
    ps_virtual_name(fd, (struct sockaddr *)&ss, l, peer);
    return ps_copy_name(&ss, l, addr, want, len);
}

PS_EXPORT int getsockname(int fd, struct sockaddr *addr,
                                                       socklen_t *len)
{
    if (!ps_enter())
        return real_getsockname(fd, addr, len);
    int rc = virtual_name(real_getsockname, fd, addr, len, false);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}

PS_EXPORT int getpeername(int fd, struct sockaddr *addr,
                                                       socklen_t *len)
{
    if (!ps_enter())
        return real_getpeername(fd, addr, len);
    int rc = virtual_name(real_getpeername, fd, addr, len, true);
    int err = errno;
    ps_leave();
    errno = err;
    return rc;
}
