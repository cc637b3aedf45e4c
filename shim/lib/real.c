/* real.c — lazily resolved next definitions of the wrapped functions.
 *
 * Each pointer is looked up on first use; two threads racing to look it up
 * store the same value, so relaxed atomics are enough. A missing symbol
 * (close_range on an old libc) fails the call with ENOSYS. */
#include "lib/real.h"

#include <dlfcn.h>
#include <errno.h>

static void *resolve(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (!p) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELAXED);
    }
    return p;
}

typedef int (*addr_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*name_fn)(int, struct sockaddr *, socklen_t *);

static void *p_bind, *p_listen, *p_connect, *p_accept, *p_accept4, *p_getsockname,
    *p_getpeername, *p_close, *p_close_range, *p_dup, *p_dup2, *p_dup3, *p_fcntl, *p_fcntl64, *p_fork;

#define MISSING() (errno = ENOSYS, -1)

int real_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    addr_fn f = (addr_fn)resolve(&p_bind, "bind");
    return f ? f(fd, addr, len) : MISSING();
}

int real_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    addr_fn f = (addr_fn)resolve(&p_connect, "connect");
    return f ? f(fd, addr, len) : MISSING();
}

int real_listen(int fd, int backlog)
{
    int (*f)(int, int) = (int (*)(int, int))resolve(&p_listen, "listen");
    return f ? f(fd, backlog) : MISSING();
}

int real_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    name_fn f = (name_fn)resolve(&p_accept, "accept");
    return f ? f(fd, addr, len) : MISSING();
}

int real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int (*f)(int, struct sockaddr *, socklen_t *, int) =
        (int (*)(int, struct sockaddr *, socklen_t *, int))resolve(&p_accept4, "accept4");
    return f ? f(fd, addr, len, flags) : MISSING();
}

int real_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    name_fn f = (name_fn)resolve(&p_getsockname, "getsockname");
    return f ? f(fd, addr, len) : MISSING();
}

int real_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    name_fn f = (name_fn)resolve(&p_getpeername, "getpeername");
    return f ? f(fd, addr, len) : MISSING();
}

int real_close(int fd)
{
    int (*f)(int) = (int (*)(int))resolve(&p_close, "close");
    return f ? f(fd) : MISSING();
}

int real_close_range(unsigned first, unsigned last, int flags)
{
    int (*f)(unsigned, unsigned, int) =
        (int (*)(unsigned, unsigned, int))resolve(&p_close_range, "close_range");
    return f ? f(first, last, flags) : MISSING();
}

int real_dup(int fd)
{
    int (*f)(int) = (int (*)(int))resolve(&p_dup, "dup");
    return f ? f(fd) : MISSING();
}

int real_dup2(int fd, int fd2)
{
    int (*f)(int, int) = (int (*)(int, int))resolve(&p_dup2, "dup2");
    return f ? f(fd, fd2) : MISSING();
}

int real_dup3(int fd, int fd2, int flags)
{
    int (*f)(int, int, int) = (int (*)(int, int, int))resolve(&p_dup3, "dup3");
    return f ? f(fd, fd2, flags) : MISSING();
}

/* fcntl's third argument is read as a pointer-sized value, as libc does. */
int real_fcntl(int fd, int cmd, void *arg)
{
    int (*f)(int, int, ...) = (int (*)(int, int, ...))resolve(&p_fcntl, "fcntl");
    return f ? f(fd, cmd, arg) : MISSING();
}

int real_fcntl64(int fd, int cmd, void *arg)
{
    int (*f)(int, int, ...) = (int (*)(int, int, ...))resolve(&p_fcntl64, "fcntl64");
    if (!f)   /* musl and older glibc: fcntl is the 64-bit one */
        return real_fcntl(fd, cmd, arg);
    return f(fd, cmd, arg);
}

pid_t real_fork(void)
{
    pid_t (*f)(void) = (pid_t (*)(void))resolve(&p_fork, "fork");
    return f ? f() : MISSING();
}

static void *p_getsockopt, *p_setsockopt;

int real_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    int (*f)(int, int, int, void *, socklen_t *) =
        (int (*)(int, int, int, void *, socklen_t *))resolve(&p_getsockopt, "getsockopt");
    return f ? f(fd, level, name, val, len) : MISSING();
}

int real_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    int (*f)(int, int, int, const void *, socklen_t) =
        (int (*)(int, int, int, const void *, socklen_t))resolve(&p_setsockopt, "setsockopt");
    return f ? f(fd, level, name, val, len) : MISSING();
}
