/* test_holder.c — naming the process that holds a port, from a fake proc
 * tree: net/tcp{,6} lines, <pid>/fd links, cmdline, stat and status. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/holder.h"

static char root[64];

static void put(const char *rel, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fwrite(text, 1, len, f);
    fclose(f);
}

static void dir(const char *rel)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    cr_assert_eq(mkdir(path, 0755), 0, "%s: %s", path, strerror(errno));
}

static void sock_fd(int pid, int fd, unsigned long inode)
{
    char path[256], target[64];
    snprintf(path, sizeof path, "%s/%d/fd/%d", root, pid, fd);
    snprintf(target, sizeof target, "socket:[%lu]", inode);
    cr_assert_eq(symlink(target, path), 0);
}

/* A process: cmdline (NUL-separated, len bytes), start 500 ticks after boot. */
static void proc(int pid, const char *cmdline, size_t len, int uid)
{
    char rel[64], text[512];
    snprintf(rel, sizeof rel, "%d", pid);
    dir(rel);
    snprintf(rel, sizeof rel, "%d/fd", pid);
    dir(rel);
    snprintf(rel, sizeof rel, "%d/cmdline", pid);
    put(rel, cmdline, len);
    /* comm with a space and a parenthesis: the parser must find the last ')'. */
    int n = snprintf(text, sizeof text, "%d (a b) c) S 1 %d %d 0 -1 4194560 100 0 0 0 1 2 0 0 "
                     "20 0 1 0 500 1000000 100 18446744073709551615\n", pid, pid, pid);
    snprintf(rel, sizeof rel, "%d/stat", pid);
    put(rel, text, (size_t)n);
    n = snprintf(text, sizeof text, "Name:\tx\nUmask:\t0022\nUid:\t%d\t%d\t%d\t%d\n", uid, uid,
                 uid, uid);
    snprintf(rel, sizeof rel, "%d/status", pid);
    put(rel, text, (size_t)n);
}

#define TCP_HDR "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
#define TCP6_HDR "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

static void setup(void)
{
    strcpy(root, "/tmp/ps-holder-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    chmod(root, 0755);
    dir("net");
    put("stat", "cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n", 46);
    /* 127.0.0.1:8000 listening (inode 111, uid 0); *:9000 time-wait (inode 0);
     * 127.0.0.1:8001 established from a listener on [::]:8001 (inode 333). */
    const char tcp[] = TCP_HDR
        "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0\n"
        "   1: 00000000:2328 0100007F:9C40 06 00000000:00000000 03:00000F9F 00000000     0        0 0 3 0000000000000000\n"
        "   2: 0100007F:1F41 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1001        0 444 1 0000000000000000 20 4 30 10 -1\n";
    put("net/tcp", tcp, sizeof tcp - 1);
    const char tcp6[] = TCP6_HDR
        "   0: 00000000000000000000000000000000:1F41 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 333 1 0000000000000000 100 0 0 10 0\n"
        "   1: 00000000000000000000000001000000:1F42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  4242        0 555 1 0000000000000000 100 0 0 10 0\n";
    put("net/tcp6", tcp6, sizeof tcp6 - 1);
    const char redis[] = "redis-server\0*:8000\0";
    proc(4242, redis, sizeof redis - 1, 0);
    sock_fd(4242, 3, 99);
    sock_fd(4242, 7, 111);
    const char py[] = "python3\0-m\0http.server\0008001";
    proc(5151, py, sizeof py - 1, 1001);
    sock_fd(5151, 4, 333);
    sock_fd(5151, 5, 444);
    dir("self");    /* not a pid: skipped */
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(holder, .init = setup, .fini = teardown);

static struct ps_addr v4(const char *s)
{
    struct ps_addr a;
    cr_assert_eq(ps_addr_parse(s, &a), 0);
    return a;
}

Test(holder, v4_listener_is_named_with_pid_cmdline_user_and_start)
{
    struct ps_holder h;
    struct ps_addr a = v4("127.0.0.1");
    cr_assert_eq(ps_holder_find(root, &a, 8000, &h), 0);
    cr_assert_eq(h.pid, 4242);
    cr_assert_str_eq(h.cmd, "redis-server *:8000");
    cr_assert_eq(h.uid, 0);
    cr_assert_str_eq(h.user, "root");
    cr_assert_eq(h.state, 0x0A);
    long hz = sysconf(_SC_CLK_TCK);
    cr_assert_float_eq(h.since, 1700000000.0 + 500.0 / (double)hz, 1e-6);
    cr_assert(!h.other_user);
}

Test(holder, a_wildcard_request_finds_a_specific_holder)
{
    struct ps_holder h;
    struct ps_addr a = v4("0.0.0.0");
    cr_assert_eq(ps_holder_find(root, &a, 8000, &h), 0);
    cr_assert_eq(h.pid, 4242);
}

Test(holder, dual_stack_listener_before_an_established_socket)
{
    /* 8001: an established v4 socket (444, uid 1001) and a [::] listener
     * (333): the listener is the one that makes a bind fail. */
    struct ps_holder h;
    struct ps_addr a = v4("127.0.0.1");
    cr_assert_eq(ps_holder_find(root, &a, 8001, &h), 0);
    cr_assert_eq(h.pid, 5151);
    cr_assert_str_eq(h.cmd, "python3 -m http.server 8001");
    cr_assert_eq(h.uid, 1001);
}

Test(holder, v6_address_words_are_decoded)
{
    struct ps_holder h;
    struct ps_addr a;
    cr_assert_eq(ps_addr_parse("::1", &a), 0);
    /* 8002 is held by [::1] (inode 555) which no process has: found, no pid. */
    cr_assert_eq(ps_holder_find(root, &a, 8002, &h), 0);
    cr_assert_eq(h.pid, 0);
    cr_assert_eq(h.uid, 4242);
    cr_assert(!h.other_user, "every fd directory was readable");
}

Test(holder, free_port_has_no_holder)
{
    struct ps_holder h;
    struct ps_addr a = v4("127.0.0.1");
    cr_assert_eq(ps_holder_find(root, &a, 8003, &h), -1);
}

Test(holder, time_wait_socket_is_said_to_have_no_process)
{
    struct ps_holder h;
    char buf[200];
    struct ps_addr a = v4("0.0.0.0");
    cr_assert_eq(ps_holder_find(root, &a, 9000, &h), 0);
    cr_assert_eq(h.pid, 0);
    ps_holder_format(&h, buf, sizeof buf);
    cr_assert_str_eq(buf, "a socket in TIME_WAIT (no process)");
}

Test(holder, unreadable_fds_give_another_user_with_the_uid)
{
    /* 8002's socket belongs to a process we may not look into. */
    dir("6000");
    dir("6000/fd");
    char path[256];
    snprintf(path, sizeof path, "%s/6000/fd", root);
    cr_assert_eq(chmod(path, 0700), 0);
    /* Look in a child: as root (which reads anything) it looks as nobody,
     * and the tree stays removable by the teardown. */
    pid_t c = fork();
    cr_assert_geq(c, 0);
    if (c == 0) {
        if (geteuid() == 0 ? setgid(65534) || setuid(65534) : chmod(path, 0) != 0)
            _exit(2);
        struct ps_holder h;
        struct ps_addr a;
        char buf[200];
        if (ps_addr_parse("::1", &a) || ps_holder_find(root, &a, 8002, &h))
            _exit(3);
        ps_holder_format(&h, buf, sizeof buf);
        _exit(h.pid == 0 && h.other_user && !strcmp(buf, "another user (uid 4242)") ? 0 : 4);
    }
    int st = 0;
    cr_assert_eq(waitpid(c, &st, 0), c);
    chmod(path, 0700);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
}

Test(holder, empty_cmdline_falls_back_to_the_process_name)
{
    struct ps_holder h = {.uid = -1};
    proc(7000, "", 0, 0);
    cr_assert_eq(ps_holder_describe(root, 7000, &h), 0);
    cr_assert_str_eq(h.cmd, "[a b) c]");
    cr_assert_eq(h.uid, 0);
    cr_assert_eq(ps_holder_describe(root, 7001, &h), -1);
}

Test(holder, long_and_unprintable_cmdlines_are_cut_and_cleaned)
{
    char cmd[400];
    memset(cmd, 'x', sizeof cmd);
    cmd[1] = '\n';
    cmd[2] = 0;
    proc(7100, cmd, sizeof cmd, 0);
    struct ps_holder h = {.uid = -1};
    cr_assert_eq(ps_holder_describe(root, 7100, &h), 0);
    cr_assert_eq(strlen(h.cmd), PS_HOLDER_CMD_MAX - 1);
    cr_assert(!strncmp(h.cmd, "x? x", 4), "%s", h.cmd);
}

Test(holder, a_process_name_with_control_bytes_stays_one_printable_line)
{
    /* A process may blank its argv and name itself anything (prctl
     * PR_SET_NAME, or exec of a file called so). */
    proc(7200, "", 0, 0);
    static const char st[] = "7200 (a\nb\x1b\xff) S 1 7200 7200 0 -1 4194560 100 0 0 0 1 2 0 0 "
                             "20 0 1 0 500 1000000 100 18446744073709551615\n";
    put("7200/stat", st, sizeof st - 1);
    struct ps_holder h = {.uid = -1};
    cr_assert_eq(ps_holder_describe(root, 7200, &h), 0);
    cr_assert_str_eq(h.cmd, "[a?b??]");
}

Test(holder, a_user_name_with_control_bytes_is_cleaned)
{
    static const char pw[] = "ev\x1bil\xff:x:77:77::/:/bin/sh\n";
    put("passwd", pw, sizeof pw - 1);
    char path[256], name[33];
    snprintf(path, sizeof path, "%s/passwd", root);
    cr_assert_eq(ps_holder_username(path, 77, name, sizeof name), 0);
    cr_assert_str_eq(name, "ev?il?");
}

Test(holder, username_from_a_passwd_file)
{
    put("passwd", "root:x:0:0::/root:/bin/sh\nbad line\nredis:x:999:999::/:/bin/false\n", 66);
    char path[256], name[33];
    snprintf(path, sizeof path, "%s/passwd", root);
    cr_assert_eq(ps_holder_username(path, 999, name, sizeof name), 0);
    cr_assert_str_eq(name, "redis");
    cr_assert_eq(ps_holder_username(path, 0, name, sizeof name), 0);
    cr_assert_str_eq(name, "root");
    cr_assert_eq(ps_holder_username(path, 5, name, sizeof name), -1);
}

Test(holder, format_names_pid_command_user_and_time)
{
    struct ps_holder h = {.pid = 4242, .uid = 0, .since = (double)time(NULL)};
    strcpy(h.cmd, "redis-server *:8000");
    strcpy(h.user, "root");
    char buf[200];
    ps_holder_format(&h, buf, sizeof buf);
    cr_assert(!strncmp(buf, "pid 4242 (redis-server *:8000), user root, since ", 49), "%s", buf);
    cr_assert(strstr(buf, " UTC"), "%s", buf);
    h.since = 0;
    h.user[0] = 0;
    h.uid = 77;
    ps_holder_format(&h, buf, sizeof buf);
    cr_assert_str_eq(buf, "pid 4242 (redis-server *:8000), uid 77");
}

Test(holder, boot_time_is_found_after_a_very_long_intr_line)
{
    /* Machines with many interrupts print an intr line of tens of KiB. */
    size_t n = 64 * 1024;
    char *text = malloc(n + 64);
    cr_assert_not_null(text);
    strcpy(text, "cpu  1 2 3\nintr");
    size_t at = strlen(text);
    while (at < n) {
        memcpy(text + at, " 12345", 6);
        at += 6;
    }
    at += (size_t)sprintf(text + at, "\nbtime 1600000000\n");
    put("stat", text, at);
    free(text);
    struct ps_holder h = {.uid = -1};
    cr_assert_eq(ps_holder_describe(root, 4242, &h), 0);
    long hz = sysconf(_SC_CLK_TCK);
    cr_assert_float_eq(h.since, 1600000000.0 + 500.0 / (double)hz, 1e-6);
}
