/* test_attach.c — the run's seccomp filter (seccomp/attach.h), installed in
 * a forked child of the test, with the test process as its supervisor:
 * what is trapped, what is not, the mark, and a supervisor that goes away.
 * Skipped, saying why, where seccomp user notification is unavailable. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp/attach.h"

static char g_dir[64];
static char g_path[128];
static int g_lsock = -1;

static void need_seccomp(void)
{
    const char *why = ps_seccomp_unavailable();
    if (why)
        cr_skip_test("seccomp user notification unavailable here: %s", why);
}

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ps-attach.XXXXXX");
    cr_assert(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/sup", g_dir);
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    strcpy(su.sun_path, g_path);
    g_lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(g_lsock >= 0);
    cr_assert_eq(bind(g_lsock, (struct sockaddr *)&su, sizeof su), 0);
    cr_assert_eq(listen(g_lsock, 8), 0);
}

static void teardown(void)
{
    if (g_lsock >= 0)
        close(g_lsock);
    unlink(g_path);
    rmdir(g_dir);
}

TestSuite(attach, .init = setup, .fini = teardown, .timeout = 30);

/* Accepts one attach within 10 s, saying hello ('S': the socket calls,
 * 'O': the socket options too); the listener fd, acknowledged. */
static int take_listener_saying(char hello)
{
    struct pollfd p = {g_lsock, POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 10000), 1, "no process attached within 10 s");
    int c = accept4(g_lsock, NULL, NULL, SOCK_CLOEXEC);
    cr_assert(c >= 0);
    cr_assert_eq(write(c, &hello, 1), 1);
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    char byte;
    struct iovec iov = {&byte, 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    cr_assert_eq(recvmsg(c, &mh, MSG_CMSG_CLOEXEC), 1);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cr_assert(cm && cm->cmsg_type == SCM_RIGHTS);
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    cr_assert_eq(write(c, "A", 1), 1);
    close(c);
    return fd;
}

static int take_listener(void) { return take_listener_saying('S'); }

/* One notification within 10 s: its system call number; answered with
 * err (negative errno) or, when err is 0, let through. */
static int answer_one(int lfd, int err)
{
    struct seccomp_notif_sizes sz;
    cr_assert_eq(syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz), 0);
    struct seccomp_notif *req = calloc(1, sz.seccomp_notif > sizeof *req ? sz.seccomp_notif
                                                                         : sizeof *req);
    struct seccomp_notif_resp *resp =
        calloc(1, sz.seccomp_notif_resp > sizeof *resp ? sz.seccomp_notif_resp : sizeof *resp);
    struct pollfd p = {lfd, POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 10000), 1, "no notification within 10 s");
    cr_assert_eq(ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req), 0, "RECV: %s", strerror(errno));
    int nr = req->data.nr;
    resp->id = req->id;
    if (err)
        resp->error = err;
    else
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    cr_assert_eq(ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp), 0, "SEND: %s", strerror(errno));
    free(req);
    free(resp);
    return nr;
}

static int child_status(pid_t pid)
{
    int st;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    cr_assert_fail("the child did not exit within 10 s");
    return -1;
}

static int tcp_bind_errno(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    int r = bind(s, (struct sockaddr *)&a, sizeof a);
    int e = r ? errno : 0;
    close(s);
    return e;
}

Test(attach, a_trapped_call_waits_for_the_supervisors_answer_and_others_do_not)
{
    need_seccomp();
    pid_t pid = fork();
    if (pid == 0) {
        if (ps_seccomp_attach(g_path) != 0)
            _exit(10);
        /* socket() is not trapped: no answer needed. bind is: the
         * supervisor's EADDRNOTAVAIL comes back. */
        if (tcp_bind_errno() != EADDRNOTAVAIL)
            _exit(11);
        _exit(0);
    }
    int lfd = take_listener();
    cr_assert_eq(answer_one(lfd, -EADDRNOTAVAIL), __NR_bind);
    cr_assert_eq(child_status(pid), 0, "the child's bind did not get the supervisor's answer");
    close(lfd);
}

Test(attach, a_second_attach_to_the_same_run_is_a_no_op_and_another_runs_is_told_apart)
{
    need_seccomp();
    pid_t pid = fork();
    if (pid == 0) {
        if (ps_seccomp_attached(g_path))
            _exit(9);
        if (ps_seccomp_attach(g_path) != 0)
            _exit(10);
        if (!ps_seccomp_attached(g_path) || ps_seccomp_attached("/tmp/another-run/sup"))
            _exit(11);
        /* No second connection, no second filter. */
        if (ps_seccomp_attach(g_path) != 0)
            _exit(12);
        /* A fork of it is under the filter too. */
        pid_t c = fork();
        if (c == 0)
            _exit(ps_seccomp_attached(g_path) ? 0 : 13);
        int st;
        waitpid(c, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 14);
    }
    int lfd = take_listener();
    cr_assert_eq(child_status(pid), 0, "the mark was not as expected");
    struct pollfd p = {g_lsock, POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 0), 0, "the second attach connected again");
    close(lfd);
}

Test(attach, with_no_supervisor_listening_nothing_is_installed)
{
    need_seccomp();
    pid_t pid = fork();
    if (pid == 0) {
        int r = ps_seccomp_attach("/tmp/ps-attach-nobody-listens-here/sup");
        if (r >= 0)
            _exit(10);
        if (ps_seccomp_attached("/tmp/ps-attach-nobody-listens-here/sup"))
            _exit(11);
        /* Not trapped: the kernel binds. */
        _exit(tcp_bind_errno() == 0 ? 0 : 12);
    }
    cr_assert_eq(child_status(pid), 0, "a failed attach left a filter behind");
}

Test(attach, once_the_supervisor_is_gone_a_trapped_call_fails_with_enosys_and_never_hangs)
{
    need_seccomp();
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        if (ps_seccomp_attach(g_path) != 0)
            _exit(10);
        char b;
        if (read(go[0], &b, 1) != 0)
            _exit(11);
        _exit(tcp_bind_errno() == ENOSYS ? 0 : 12);
    }
    close(go[0]);
    int lfd = take_listener();
    close(lfd);   /* the supervisor's end is gone */
    close(go[1]);
    cr_assert_eq(child_status(pid), 0, "the trapped call did not fail with ENOSYS");
}

static int sockopt_then_bind(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int v = 0;
    socklen_t l = sizeof v;
    int r = getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &l);
    int e = r ? errno : 0;
    close(s);
    return e;
}

Test(attach, accept_and_the_socket_options_are_trapped_only_when_the_supervisor_asks)
{
    need_seccomp();
    for (int asks = 0; asks < 2; asks++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (ps_seccomp_attach(g_path) != 0)
                _exit(10);
            int e = sockopt_then_bind();
            /* asked: the supervisor's ENOPROTOOPT; else the kernel's 0 */
            if (e != (asks ? ENOPROTOOPT : 0))
                _exit(11);
            _exit(tcp_bind_errno() == EADDRNOTAVAIL ? 0 : 12);
        }
        int lfd = take_listener_saying(asks ? 'O' : 'S');
        if (asks)
            cr_assert_eq(answer_one(lfd, -ENOPROTOOPT), __NR_getsockopt);
        cr_assert_eq(answer_one(lfd, -EADDRNOTAVAIL), __NR_bind);
        cr_assert_eq(child_status(pid), 0, "asks=%d: the options were %s", asks,
                     asks ? "not trapped" : "trapped");
        close(lfd);
    }
}
