/* umem.h — copying the program's memory in and out of the shim so that a
 * bad pointer gives EFAULT, as the kernel's own copy would, never SIGSEGV.
 *
 * The copies are process_vm_readv/writev on this process: the kernel checks
 * the program's side. Where those calls are unavailable (a seccomp filter
 * refusing them), a plain copy is used, as before. */
#ifndef PS_UMEM_H
#define PS_UMEM_H

#include <stddef.h>

/* 0, or -1 with errno EFAULT when src[0..n) is not readable. */
int ps_uread(void *dst, const void *src, size_t n);
/* Writes n1 bytes to d1, then n2 to d2 (n2 may be 0), stopping at the first
 * unwritable byte as the kernel's copies do: 0, or -1 with errno EFAULT. */
int ps_uwrite(void *d1, const void *s1, size_t n1, void *d2, const void *s2, size_t n2);

/* Before fork(), in the parent: the forking thread's stack is found now, so
 * that its child never allocates for it (see umem.c). */
void ps_umem_prime(void);

#endif
