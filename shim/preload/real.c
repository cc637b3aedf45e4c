/* real.c — lazily resolved next definitions of the wrapped functions,
 * generated from the one list in real.h (PS_REAL_SYMBOLS).
 *
 * Each pointer is looked up on first use; two threads racing to look it up
 * store the same value, so relaxed atomics are enough. A missing symbol
 * (close_range on an old libc) fails the call with ENOSYS. */
#include "preload/real.h"

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

#define MISSING() (errno = ENOSYS, -1)

#define PS_REAL_DEFINE(ret, name, params, args)                    \
    static void *p_##name;                                         \
    ret real_##name params                                         \
    {                                                              \
        typedef ret(*fn_t) params;                                 \
        fn_t f = (fn_t)resolve(&p_##name, #name);                  \
        return f ? f args : MISSING();                             \
    }
PS_REAL_SYMBOLS(PS_REAL_DEFINE)

/* Variadic in libc: called through a variadic type. */
typedef int (*fcntl_fn)(int, int, ...);

int real_fcntl(int fd, int cmd, void *arg)
{
    static void *p_fcntl;
    fcntl_fn f = (fcntl_fn)resolve(&p_fcntl, "fcntl");
    return f ? f(fd, cmd, arg) : MISSING();
}

int real_fcntl64(int fd, int cmd, void *arg)
{
    static void *p_fcntl64;
    fcntl_fn f = (fcntl_fn)resolve(&p_fcntl64, "fcntl64");
    if (!f)   /* musl and older glibc: fcntl is the 64-bit one */
        return real_fcntl(fd, cmd, arg);
    return f(fd, cmd, arg);
}
