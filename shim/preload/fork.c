/* fork.c — fork(): the child holds copies of the bound sockets.
 *
 * pthread_atfork handlers (state.c) keep the locks sane and give the child
 * its own manifest descriptor; this wrapper records, from the parent, which
 * sockets the child now holds. */
#include <errno.h>
#include <unistd.h>

#include "preload/real.h"
#include "preload/state.h"

PS_EXPORT pid_t fork(void)
{
    pid_t pid = real_fork();
    if (pid <= 0 || !ps_active())   /* no socket call yet: nothing held */
        return pid;
    int err = errno;
    if (ps_enter()) {
        ps_forked(pid);
        ps_leave();
    }
    errno = err;
    return pid;
}
