/* test_probe.c — what the kernel really has: live pids and TCP listeners.
 * Real sockets, opened by the test itself (this binary is never preloaded). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/probe.h"

static struct ps_addr A(const char *s)
{
    struct ps_addr a;
    cr_assert_eq(ps_addr_parse(s, &a), 0, "cannot parse '%s'", s);
    return a;
}

/* A TCP socket bound to ip:0, listening if asked; returns fd, sets *port.
 * -1 when the address family is not available here. */
static int tcp_socket(const char *ip, bool listening, uint16_t *port)
{
    struct ps_addr a = A(ip);
    struct sockaddr_storage ss;
    socklen_t len = ps_addr_to_sockaddr(&a, 0, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    if (listening)
        cr_assert_eq(listen(fd, 8), 0, "listen: %s", strerror(errno));
    len = sizeof ss;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    struct ps_addr got;
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&ss, len, &got, port), 0);
    cr_assert_neq(*port, 0);
    return fd;
}

static int probe(const char *ip, uint16_t port)
{
    struct ps_addr a = A(ip);
    return ps_probe_tcp_listening(&a, port);
}

Test(probe, own_pid_is_alive)
{
    cr_assert(ps_probe_pid_alive(getpid()));
    cr_assert(ps_probe_pid_alive(getppid()));
}

Test(probe, init_is_alive)
{
    cr_assert(ps_probe_pid_alive(1));
}

/* A child that is gone at once. It execs rather than returning, so that no
 * copy of the test runner's state lives on in it (valgrind would report
 * that copy's heap as leaked). */
static pid_t short_child(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(0);
    }
    return pid;
}

Test(probe, reaped_child_is_not_alive)
{
    pid_t pid = short_child();
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert_not(ps_probe_pid_alive(pid));
}

Test(probe, zombie_child_is_still_alive)
{
    /* kill(pid, 0) succeeds on a zombie: its socket may be gone, but the
     * probe must not call a pid dead while it still exists. */
    pid_t pid = short_child();
    siginfo_t si;
    cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);  /* a zombie now */
    cr_assert(ps_probe_pid_alive(pid));
    waitpid(pid, NULL, 0);
}

/* kill(pid, 0) of another user's process fails with EPERM: alive all the
 * same. Root becomes nobody for the check (keeping root as the saved uid so
 * it can come back, and tools like valgrind can clean up after it). */
Test(probe, pid_of_another_user_is_alive)
{
    bool root = geteuid() == 0;
    if (root)
        cr_assert_eq(setresuid(65534, 65534, 0), 0);
    int rc = kill(1, 0), err = errno;
    bool alive = ps_probe_pid_alive(1);
    if (root)
        cr_assert_eq(setresuid(0, 0, 0), 0);
    if (rc == 0)
        cr_skip_test("pid 1 belongs to this user here");
    cr_assert_eq(err, EPERM);
    cr_assert(alive);
}

Test(probe, non_positive_pids_are_not_alive)
{
    cr_assert_not(ps_probe_pid_alive(0));
    cr_assert_not(ps_probe_pid_alive(-1));
}

Test(probe, v4_listener_found_then_gone_after_close)
{
    uint16_t port;
    int fd = tcp_socket("127.0.0.1", true, &port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(probe("127.0.0.1", port), 1);
    close(fd);
    cr_assert_eq(probe("127.0.0.1", port), 0);
}

Test(probe, bound_but_not_listening_is_not_found)
{
    uint16_t port;
    int fd = tcp_socket("127.0.0.1", false, &port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(probe("127.0.0.1", port), 0);
    close(fd);
}

Test(probe, connected_sockets_are_not_listeners)
{
    uint16_t port;
    int l = tcp_socket("127.0.0.1", true, &port);
    cr_assert_geq(l, 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(c, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    cr_assert_eq(getsockname(c, (struct sockaddr *)&sin, &len), 0);
    /* the client's own port is in /proc/net/tcp, ESTABLISHED, not LISTEN */
    cr_assert_eq(probe("127.0.0.1", ntohs(sin.sin_port)), 0);
    cr_assert_eq(probe("127.0.0.1", port), 1);
    close(c);
    close(l);
}

Test(probe, listener_found_only_at_its_port)
{
    uint16_t port;
    int fd = tcp_socket("127.0.0.1", true, &port);
    cr_assert_geq(fd, 0);
    /* a neighbouring port nobody listens on (checked with a real bind) */
    uint16_t other = (uint16_t)(port + 1);
    cr_assert_eq(probe("127.0.0.1", port), 1);
    int fd2 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(other)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd2, (struct sockaddr *)&sin, sizeof sin) == 0)
        cr_assert_eq(probe("127.0.0.1", other), 0);
    close(fd2);
    close(fd);
}

Test(probe, specific_listener_not_found_at_another_address)
{
    uint16_t port;
    int fd = tcp_socket("127.0.0.1", true, &port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(probe("127.0.0.2", port), 0);
    cr_assert_eq(probe("::1", port), 0);
    close(fd);
}

Test(probe, wildcard_listener_matches_a_loopback_query)
{
    uint16_t port;
    int fd = tcp_socket("0.0.0.0", true, &port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(probe("127.0.0.1", port), 1);
    cr_assert_eq(probe("0.0.0.0", port), 1);
    close(fd);
}

Test(probe, wildcard_query_matches_a_specific_listener)
{
    uint16_t port;
    int fd = tcp_socket("127.0.0.1", true, &port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(probe("0.0.0.0", port), 1);
    close(fd);
}

Test(probe, v6_loopback_listener_found)
{
    uint16_t port;
    int fd = tcp_socket("::1", true, &port);
    if (fd < 0)
        cr_skip_test("no IPv6 loopback here");
    cr_assert_eq(probe("::1", port), 1);
    cr_assert_eq(probe("::", port), 1);
    cr_assert_eq(probe("127.0.0.1", port), 0, "::1 is not 127.0.0.1");
    close(fd);
    cr_assert_eq(probe("::1", port), 0);
}

Test(probe, v6_wildcard_listener_matches_v4_and_v6_queries)
{
    uint16_t port;
    int fd = tcp_socket("::", true, &port);
    if (fd < 0)
        cr_skip_test("no IPv6 here");
    cr_assert_eq(probe("::1", port), 1);
    cr_assert_eq(probe("127.0.0.1", port), 1, "a dual-stack listener takes v4 too");
    close(fd);
}

Test(probe, v4_mapped_listener_found_by_v4_query)
{
    uint16_t port;
    int fd = tcp_socket("::ffff:127.0.0.1", true, &port);
    if (fd < 0)
        cr_skip_test("no IPv6 here");
    cr_assert_eq(probe("127.0.0.1", port), 1);
    cr_assert_eq(probe("::ffff:127.0.0.1", port), 1);
    close(fd);
}

/* ---- /proc/net/unix ----------------------------------------------------- */

static int unix_bound(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    snprintf(su.sun_path, sizeof su.sun_path, "%s", path);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&su, sizeof su) == 0, "bind %s: %s", path,
              strerror(errno));
    return fd;
}

Test(probe, unix_listener_is_found_by_its_socket_file_and_only_while_listening)
{
    char dir[] = "/tmp/ps-probe-XXXXXX";
    cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    char path[128], other[128];
    snprintf(path, sizeof path, "%s/8000@127.0.0.1", dir);
    snprintf(other, sizeof other, "%s/8000@127.0.0.1 x", dir);
    int fd = unix_bound(path);
    int o = unix_bound(other);
    cr_assert_eq(listen(o, 8), 0);
    cr_expect_eq(ps_probe_unix_listening(path), 0, "bound but not listening");
    cr_assert_eq(listen(fd, 8), 0);
    cr_expect_eq(ps_probe_unix_listening(path), 1);
    snprintf(other, sizeof other, "%s/8000@127.0.0", dir);
    cr_expect_eq(ps_probe_unix_listening(other), 0, "a prefix of a listening path");
    close(fd);
    cr_expect_eq(ps_probe_unix_listening(path), 0, "closed, its file left behind");
    close(o);
    snprintf(other, sizeof other, "%s/8000@127.0.0.1 x", dir);
    unlink(path);
    unlink(other);
    rmdir(dir);
}

/* ---- is the socket still open in a holder? (a fake /proc) --------------- */

static char fake[64];

static void fake_fd(int pid, int fd, const char *target)
{
    char p[200];
    snprintf(p, sizeof p, "%s/%d", fake, pid);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%d/fd", fake, pid);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%d/fd/%d", fake, pid, fd);
    cr_assert_eq(symlink(target, p), 0, "symlink %s: %s", p, strerror(errno));
}

static int held(unsigned long long ino, int a, int b)
{
    struct ps_pidset s = {0};
    ps_pidset_add(&s, a);
    if (b)
        ps_pidset_add(&s, b);
    int r = ps_probe_sock_held(&s, ino, fake);
    ps_pidset_free(&s);
    return r;
}

Test(probe, socket_is_held_only_by_a_pid_with_its_inode_among_its_descriptors)
{
    strcpy(fake, "/tmp/portshim-unit-proc.XXXXXX");
    cr_assert_not_null(mkdtemp(fake));
    fake_fd(100, 0, "/dev/null");
    fake_fd(100, 3, "socket:[5551]");
    fake_fd(100, 4, "socket:[55512]");
    fake_fd(200, 7, "socket:[777]");
    fake_fd(200, 8, "pipe:[5551]");
    cr_assert_eq(held(5551, 100, 0), 1);
    cr_assert_eq(held(777, 100, 0), 0, "another process's socket");
    cr_assert_eq(held(555, 100, 0), 0, "a prefix of an inode is not it");
    cr_assert_eq(held(5551, 200, 0), 0, "a pipe with that number is no socket");
    cr_assert_eq(held(777, 100, 200), 1, "any holder will do");
    cr_assert_eq(held(777, 300, 0), 0, "a process gone holds nothing");
    /* descriptors that cannot be read: unknown, so the holder is trusted */
    char p[200];
    snprintf(p, sizeof p, "%s/400", fake);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/400/fd", fake);
    int f = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);   /* not a directory */
    cr_assert(f >= 0);
    close(f);
    cr_assert_eq(held(777, 400, 0), -1);
    cr_assert_eq(held(777, 400, 200), 1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fake);
    cr_assert_eq(system(cmd), 0);
}

Test(probe, own_socket_is_found_in_the_real_proc)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(s >= 0);
    struct stat st;
    cr_assert_eq(fstat(s, &st), 0);
    struct ps_pidset set = {0};
    ps_pidset_add(&set, getpid());
    cr_assert_eq(ps_probe_sock_held(&set, (unsigned long long)st.st_ino, "/proc"), 1);
    close(s);
    cr_assert_eq(ps_probe_sock_held(&set, (unsigned long long)st.st_ino, "/proc"), 0);
    ps_pidset_free(&set);
}

/* ---- the one parser of /proc/net/tcp{,6} rows ---------------------------------- */

Test(probe, tcp_row_gives_address_port_state_uid_and_inode)
{
    struct ps_tcp_row r;
    cr_assert_eq(ps_proc_tcp_row("   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 "
                                 "00:00000000 00000000  1001        0 111 1 0000000000000000",
                                 false, &r), 0);
    struct ps_addr lo = A("127.0.0.1");
    cr_assert(ps_addr_equal(&r.addr, &lo));
    cr_assert_eq(r.port, 8000);
    cr_assert_eq(r.state, PS_TCP_LISTEN);
    cr_assert_eq(r.uid, 1001);
    cr_assert_eq(r.inode, 111);
    cr_assert_eq(ps_proc_tcp_row("   1: 00000000000000000000000001000000:1F42 "
                                 "00000000000000000000000000000000:0000 06 00000000:00000000 "
                                 "03:00000F9F 00000000     0        0 0 3 0000000000000000",
                                 true, &r), 0);
    struct ps_addr lo6 = A("::1");
    cr_assert(ps_addr_equal(&r.addr, &lo6));
    cr_assert_eq(r.port, 8002);
    cr_assert_eq(r.state, PS_TCP_TIME_WAIT);
    cr_assert_eq(r.inode, 0);
}

Test(probe, tcp_row_rejects_the_header_a_cut_line_and_the_other_familys_width)
{
    struct ps_tcp_row r;
    cr_assert_eq(ps_proc_tcp_row("  sl  local_address rem_address   st tx_queue rx_queue tr "
                                 "tm->when retrnsmt   uid  timeout inode", false, &r), -1);
    cr_assert_eq(ps_proc_tcp_row("   0: 0100007F:1F40 00000000:0000 0A 00000000", false, &r), -1);
    cr_assert_eq(ps_proc_tcp_row("   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 "
                                 "00:00000000 00000000  1001        0 111 1", true, &r), -1);
    cr_assert_eq(ps_proc_tcp_row("   0: 0100007G:1F40 00000000:0000 0A 00000000:00000000 "
                                 "00:00000000 00000000  1001        0 111 1", false, &r), -1);
}

static int count_rows(void *ctx, const struct ps_tcp_row *r)
{
    int *n = ctx;
    (*n)++;
    return r->port == 8001 ? 7 : 0;
}

Test(probe, tcp_scan_skips_lines_that_are_not_rows_and_stops_when_asked)
{
    char path[] = "/tmp/ps-tcp-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char body[] =
        "  sl  local_address rem_address   st\n"
        "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        "   garbage\n"
        "   1: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n"
        "   2: 0100007F:1F42 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1\n";
    cr_assert_eq(write(fd, body, sizeof body - 1), (ssize_t)(sizeof body - 1));
    close(fd);
    int n = 0;
    cr_assert_eq(ps_proc_tcp_scan(path, false, count_rows, &n), 7);
    cr_assert_eq(n, 2, "the header and the garbage line are no rows; the scan stops at 8001");
    unlink(path);
    cr_assert_eq(ps_proc_tcp_scan(path, false, count_rows, &n), -1);
}
