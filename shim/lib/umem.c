/* umem.c — EFAULT-safe copies of the program's memory (see umem.h). */
#include "lib/umem.h"

#include "lib/state.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* Set once process_vm_* turned out to be unavailable here. */
static bool g_plain;

/* The calling thread's stack, found once per thread. process_vm_readv costs
 * several microseconds; most programs pass sockaddrs and lengths that live
 * on their stack, and everything between the stack pointer and the top of
 * the stack is mapped and writable, so those are copied directly. */
static __thread uintptr_t t_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t t_hi __attribute__((tls_model("initial-exec")));

/* Finds the calling thread's stack once. pthread_getattr_np allocates, so
 * the fork handler calls this in the parent (ps_umem_prime): a child of a
 * multithreaded parent must not allocate for it, where an allocator that is
 * not fork-safe (AddressSanitizer's) may have been locked by another thread
 * at the fork. */
static void stack_bounds(void)
{
    if (t_hi)
        return;
    pthread_attr_t at;
    void *lo = NULL;
    size_t sz = 0;
    t_hi = 1;   /* not known: never "on the stack" */
    if (pthread_getattr_np(pthread_self(), &at) == 0) {
        if (pthread_attr_getstack(&at, &lo, &sz) == 0 && sz) {
            t_lo = (uintptr_t)lo;
            t_hi = (uintptr_t)lo + sz;
        }
        pthread_attr_destroy(&at);
    }
}

void ps_umem_prime(void) { stack_bounds(); }

static bool on_stack(const void *p, size_t n)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0), a = (uintptr_t)p;
    stack_bounds();
    /* sp outside that stack: a signal handler on an alternate stack */
    return sp >= t_lo && sp < t_hi && a >= sp && n <= t_hi - a;
}

static bool unavailable(int err)
{
    if (err != ENOSYS && err != EPERM)
        return false;
    __atomic_store_n(&g_plain, true, __ATOMIC_RELAXED);
    return true;
}

static long vm_copy(bool write, struct iovec *local, struct iovec *remote, unsigned long n)
{
    long nr = write ? SYS_process_vm_writev : SYS_process_vm_readv;
    /* The raw call: glibc's wrapper is fine too, but musl's may be absent.
     * ps_pid() is cached (getpid() is a system call of its own). */
    int pid = ps_pid();
    return syscall(nr, (long)(pid > 0 ? pid : getpid()), local, n, remote, n, 0UL);
}

int ps_uread(void *dst, const void *src, size_t n)
{
    if (!n)
        return 0;
    if (!on_stack(src, n) && !__atomic_load_n(&g_plain, __ATOMIC_RELAXED)) {
        struct iovec l = {dst, n}, r = {(void *)src, n};
        long got = vm_copy(false, &l, &r, 1);
        if (got == (long)n)
            return 0;
        if (got >= 0 || !unavailable(errno)) {
            errno = EFAULT;
            return -1;
        }
    }
    if (!src) {
        errno = EFAULT;
        return -1;
    }
    memcpy(dst, src, n);
    return 0;
}

int ps_uwrite(void *d1, const void *s1, size_t n1, void *d2, const void *s2, size_t n2)
{
    if (!(on_stack(d1, n1) && (!n2 || on_stack(d2, n2))) &&
        !__atomic_load_n(&g_plain, __ATOMIC_RELAXED)) {
        struct iovec l[2] = {{(void *)s1, n1}, {(void *)s2, n2}};
        struct iovec r[2] = {{d1, n1}, {d2, n2}};
        unsigned long cnt = n2 ? 2 : 1;
        if (!n1) {
            l[0] = l[1];
            r[0] = r[1];
            cnt = n2 ? 1 : 0;
        }
        if (!cnt)
            return 0;
        long put = vm_copy(true, l, r, cnt);
        if (put == (long)(n1 + n2))
            return 0;
        if (put >= 0 || !unavailable(errno)) {
            errno = EFAULT;
            return -1;
        }
    }
    if ((n1 && !d1) || (n2 && !d2)) {
        errno = EFAULT;
        return -1;
    }
    if (n1)
        memcpy(d1, s1, n1);
    if (n2)
        memcpy(d2, s2, n2);
    return 0;
}
