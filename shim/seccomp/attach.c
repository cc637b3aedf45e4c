/* attach.c — the run's seccomp user-notification filter (attach.h).
 *
 * Raw BPF, no libseccomp: the program is a dozen instructions, and the
 * library must be able to install it between vfork and exec, where nothing
 * may allocate. Every call here is a bare system call (syscall(2)), so the
 * preload library's own wrappers of connect and close never see them. */
#include "seccomp/attach.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#if defined(__x86_64__)
#define PS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

/* The mark: prctl(PS_MARK_OPTION, cookie) fails with ENOTUNIQ under the
 * run's filter; the kernel itself says EINVAL to an option it does not know. */
#define PS_MARK_OPTION 0x7073686dU   /* "pshm" */
#define PS_MARK_ERRNO ENOTUNIQ

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * 8)
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * 8 + 4)
#endif

uint32_t ps_seccomp_cookie(const char *path)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

bool ps_seccomp_attached(const char *path)
{
    long r = syscall(SYS_prctl, PS_MARK_OPTION, (unsigned long)ps_seccomp_cookie(path), 0, 0, 0);
    return r < 0 && errno == PS_MARK_ERRNO;
}

#ifdef PS_AUDIT_ARCH
/* The calls the supervisor answers; the last four only when it asks for
 * them (unix mode: a socket standing in for TCP hands out connections
 * whose peers are AF_UNIX names, and answers TCP's options). */
static const int trapped[] = {
    __NR_bind, __NR_listen, __NR_connect, __NR_getsockname, __NR_getpeername,
    __NR_accept, __NR_accept4, __NR_getsockopt, __NR_setsockopt,
};
#define N_TRAPPED (int)(sizeof trapped / sizeof trapped[0])
#define N_UNIX_ONLY 4
/* arch check (3), nr load (1), x32 (1), one jump per trapped call, the
 * prctl mark (6), notify, allow. */
#define N_INSNS(nt) (5 + (nt) + 6 + 2)

/* Fills f (N_INSNS(nt) of N_INSNS(N_TRAPPED)); no allocation. */
static int build_filter(struct sock_filter *f, uint32_t cookie, bool sockopt)
{
    int i = 0;
    const int nt = N_TRAPPED - (sockopt ? 0 : N_UNIX_ONLY);
    const int notify = N_INSNS(nt) - 2, allow = N_INSNS(nt) - 1;
    /* A jump's offsets count from the next instruction. */
#define TO(target) ((unsigned char)((target) - i - 1))
    f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, arch));
    f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PS_AUDIT_ARCH, 1, 0);
    i++;
    f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
    /* x32 system calls (nr with bit 30): not the run's to answer. */
    f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, TO(allow), 0);
#else
    f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0);
#endif
    i++;
    for (int k = 0; k < nt; k++) {
        f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)trapped[k],
                                            TO(notify), 0);
        i++;
    }
    f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, TO(allow));
    i++;
    f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0));
    f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PS_MARK_OPTION, 0, TO(allow));
    i++;
    f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1));
    f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, cookie, 0, TO(allow));
    i++;
    f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | PS_MARK_ERRNO);
    f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
#undef TO
    return i;
}

/* The listener fd, or a negative errno. Without CAP_SYS_ADMIN the kernel
 * wants no_new_privs (EACCES): only then is it set. */
static int install(uint32_t cookie, bool sockopt)
{
    struct sock_filter f[N_INSNS(N_TRAPPED)];
    struct sock_fprog prog = {.len = (unsigned short)build_filter(f, cookie, sockopt), .filter = f};
    unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
                          SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    for (int tries = 0; tries < 3; tries++) {
        long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        if (fd >= 0)
            return (int)fd;
        int e = errno;
        if (e == EACCES && !tries &&
            syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
            continue;
        /* A kernel before 5.7 has no TSYNC_ESRCH, and TSYNC alone cannot
         * go with a listener: a single-threaded caller (a child about to
         * exec) needs neither. */
        if (e == EINVAL && (flags & SECCOMP_FILTER_FLAG_TSYNC)) {
            flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
            continue;
        }
        return -e;
    }
    return -EACCES;
}
#endif

int ps_seccomp_attach(const char *path)
{
#ifndef PS_AUDIT_ARCH
    (void)path;
    return -ENOSYS;
#else
    int saved = errno;
    if (!path || !*path) {
        errno = saved;
        return -EINVAL;
    }
    if (ps_seccomp_attached(path)) {
        errno = saved;
        return 0;
    }
    struct sockaddr_un su;
    size_t n = strlen(path);
    if (n >= sizeof su.sun_path) {
        errno = saved;
        return -ENAMETOOLONG;
    }
    memset(&su, 0, sizeof su);
    su.sun_family = AF_UNIX;
    memcpy(su.sun_path, path, n);
    int r;
    long s = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        r = -errno;
        goto out;
    }
    /* Bounded: a supervisor that stopped answering must not hang the exec. */
    struct timeval tv = {5, 0};
    syscall(SYS_setsockopt, s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    syscall(SYS_setsockopt, s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* Connected first: with no supervisor there, nothing is installed. */
    if (syscall(SYS_connect, s, &su, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1)) <
        0) {
        r = -errno;
        goto close_s;
    }
    /* The supervisor's first byte says which calls it answers: 'S' the
     * socket calls that name ports, 'O' those and accept and the socket
     * options too (unix mode). */
    char hello = 0;
    long h;
    do
        h = syscall(SYS_read, s, &hello, 1);
    while (h < 0 && errno == EINTR);
    if (h != 1 || (hello != 'S' && hello != 'O')) {
        r = h < 0 ? -errno : -EPROTO;
        goto close_s;
    }
    int lfd = install(ps_seccomp_cookie(path), hello == 'O');
    if (lfd < 0) {
        r = lfd;
        goto close_s;
    }
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    char byte = 'L';
    struct iovec iov = {&byte, 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &lfd, sizeof lfd);
    long w;
    do
        w = syscall(SYS_sendmsg, s, &mh, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    /* The supervisor's byte says it holds the listener: from here on a
     * trapped call of this process is answered. */
    long rd = -1;
    if (w == 1)
        do
            rd = syscall(SYS_read, s, &byte, 1);
        while (rd < 0 && errno == EINTR);
    syscall(SYS_close, lfd);
    r = rd == 1 ? 0 : -EPIPE;
close_s:
    syscall(SYS_close, s);
out:
    errno = saved;
    return r;
#endif
}

/* Probed once; two threads may both probe and store the same answer. */
static int g_probe;   /* 0 not yet, 1 works, else 2 + reason index */

static const char *const reasons[] = {
    "this architecture is not supported by the seccomp supervisor",
    "the kernel has no seccomp user notification (needs Linux 5.9 or later)",
    "seccomp is forbidden here (EPERM/EACCES)",
    "the kernel has no pidfd_getfd (needs Linux 5.6 or later)",
    "the kernel has no seccomp filters",
};

const char *ps_seccomp_unavailable(void)
{
    int p = __atomic_load_n(&g_probe, __ATOMIC_ACQUIRE);
    if (!p) {
        int saved = errno;
#ifndef PS_AUDIT_ARCH
        p = 2;
#else
        uint32_t act = SECCOMP_RET_USER_NOTIF;
        struct seccomp_notif_sizes sz;
        if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act) < 0)
            p = errno == EPERM || errno == EACCES ? 4 : errno == ENOSYS ? 6 : 3;
        /* SECCOMP_IOCTL_NOTIF_ADDFD came with 5.9, as did the sizes' use
         * here; pidfd_getfd (5.6) answers EBADF to a bad pidfd. */
        else if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
            p = errno == EPERM || errno == EACCES ? 4 : 3;
        else if (syscall(SYS_pidfd_getfd, -1, 0, 0) < 0 && errno == ENOSYS)
            p = 5;
        else
            p = 1;
#endif
        errno = saved;
        __atomic_store_n(&g_probe, p, __ATOMIC_RELEASE);
    }
    return p == 1 ? NULL : reasons[p - 2];
}
