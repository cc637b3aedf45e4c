/* udpcli.c — `portshim port --udp` and the report's UDP marking, on
 * manifests written by hand: a UDP bind is a port of its own (TCP and UDP
 * port P are different ports), found only with --udp, and the report says
 * which endpoints are UDP and which datagrams udp-drop lost. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

TestSuite(udpcli, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

/* A bind line of pid (which must be alive for `port` to believe it). */
static void bind_line(char *buf, size_t len, int pid, int n, const char *proto,
                      const char *addr, int port, int rport, const char *rpath)
{
    char fam = strchr(addr, ':') ? '6' : '4';
    int k = snprintf(buf, len, "{\"v\":2,\"ev\":\"bind\",\"ts\":1795312345.%06d,\"pid\":%d,"
                     "\"prog\":\"srv\",\"sid\":\"%d.%d\",\"mode\":\"%s\",\"ok\":true,"
                     "\"fam\":%c,", n, pid, pid, n, rpath ? "unix" : "remap", fam);
    if (proto)
        k += snprintf(buf + k, len - (size_t)k, "\"proto\":\"%s\",", proto);
    k += snprintf(buf + k, len - (size_t)k, "\"addr\":\"%s\",\"port\":%d,", addr, port);
    if (rpath)
        k += snprintf(buf + k, len - (size_t)k, "\"rpath\":\"%s\",", rpath);
    else
        k += snprintf(buf + k, len - (size_t)k, "\"raddr\":\"%s\",\"rport\":%d,", addr, rport);
    snprintf(buf + k, len - (size_t)k, "\"reuseaddr\":true,\"reuseport\":false,\"uid\":%ld}\n",
             (long)getuid());
}

static void listen_line(char *buf, size_t len, int pid, int n)
{
    snprintf(buf, len, "{\"v\":2,\"ev\":\"listen\",\"ts\":1795312346.%06d,\"pid\":%d,"
             "\"prog\":\"srv\",\"sid\":\"%d.%d\",\"ok\":true}\n", n, pid, pid, n);
}

static void append(const char *path, const char *line)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    close(fd);
}

/* A real socket of this process on addr, port chosen by the kernel: `port`
 * believes a mapping only while its real endpoint is there (a TCP one must
 * listen). Returns its port; the socket stays open for the test. */
static int real_sock(int type, const char *addr)
{
    struct sockaddr_storage ss;
    struct ps_addr a;
    cr_assert_eq(ps_addr_parse(addr, &a), 0);
    socklen_t len = ps_addr_to_sockaddr(&a, 0, &ss);
    int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind %s: %s", addr, strerror(errno));
    if (type == SOCK_STREAM)
        cr_assert_eq(listen(fd, 8), 0);
    len = sizeof ss;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    uint16_t port;
    cr_assert_eq(ps_addr_from_sockaddr((struct sockaddr *)&ss, len, &a, &port), 0);
    return port;
}

/* A manifest with a TCP listener on 5353 (real *tcp) and a UDP socket
 * bound to 5353 (real *udp), both held by this (live) process. */
static const char *tcp_and_udp(int *tcp, int *udp)
{
    char l[1024];
    const char *m = e2e_path("manifest.jsonl");
    e2e_write_file(m, "", false);
    *tcp = real_sock(SOCK_STREAM, "127.0.0.1");
    *udp = real_sock(SOCK_DGRAM, "127.0.0.1");
    bind_line(l, sizeof l, getpid(), 1, NULL, "127.0.0.1", 5353, *tcp, NULL);
    append(m, l);
    listen_line(l, sizeof l, getpid(), 1);
    append(m, l);
    bind_line(l, sizeof l, getpid(), 2, "udp", "127.0.0.1", 5353, *udp, NULL);
    append(m, l);
    return m;
}

static struct e2e_proc *port(const char *m, const char *a1, const char *a2, const char *a3)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_unset(&env, "PORTSHIM_LOG");
    const char *argv[8] = {e2e_portshim(), "port", "--manifest", m};
    int n = 4;
    if (a1)
        argv[n++] = a1;
    if (a2)
        argv[n++] = a2;
    if (a3)
        argv[n++] = a3;
    argv[n] = NULL;
    return e2e_run(&env, E2E_MS, argv);
}

static void assert_printed(struct e2e_proc *p, int port)
{
    char want[16];
    snprintf(want, sizeof want, "%d\n", port);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), want, "%s", e2e_describe(p));
}

Test(udpcli, port_udp_prints_the_udp_sockets_real_port_and_the_default_stays_tcp)
{
    int tcp, udp;
    const char *m = tcp_and_udp(&tcp, &udp);
    assert_printed(port(m, "--udp", "5353", NULL), udp);
    assert_printed(port(m, "5353", NULL, NULL), tcp);
    assert_printed(port(m, "5353", "--udp", NULL), udp);   /* an option after the port */
}

Test(udpcli, port_of_a_udp_only_port_without_udp_fails_and_says_to_add_it)
{
    char l[1024];
    const char *m = e2e_path("manifest.jsonl");
    e2e_write_file(m, "", false);
    bind_line(l, sizeof l, getpid(), 1, "udp", "0.0.0.0", 5353, real_sock(SOCK_DGRAM, "0.0.0.0"),
              NULL);
    append(m, l);
    bind_line(l, sizeof l, getpid(), 2, NULL, "127.0.0.1", 8000,
              real_sock(SOCK_STREAM, "127.0.0.1"), NULL);
    append(m, l);
    listen_line(l, sizeof l, getpid(), 2);
    append(m, l);

    struct e2e_proc *p = port(m, "5353", NULL, NULL);
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "");
    cr_assert(strstr(e2e_err(p), "portshim: no live listener for port 5353 in ") &&
              strstr(e2e_err(p), "a UDP socket is bound to it: 'portshim port --udp 5353'"),
              "%s", e2e_describe(p));
    cr_assert_eq(strchr(e2e_err(p), '\n'), e2e_err(p) + strlen(e2e_err(p)) - 1,
                 "not one line: %s", e2e_err(p));

    p = port(m, "--udp", "8000", NULL);
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "portshim: no live UDP socket bound to port 8000") &&
              strstr(e2e_err(p), "a TCP listener has it: 'portshim port 8000', without --udp"),
              "%s", e2e_describe(p));
    p = port(m, "--udp", "--udp", "8000");
    cr_assert_eq(e2e_status(p), 2, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "--udp given twice"), "%s", e2e_describe(p));
}

Test(udpcli, port_udp_wait_returns_once_the_udp_bind_is_written)
{
    const char *m = e2e_path("manifest.jsonl");
    e2e_write_file(m, "", false);
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_startl(&env, e2e_portshim(), "port", "--manifest", m, "--wait", "30",
                                    "--udp", "5353");
    /* A TCP listener on the port is not what it waits for. */
    char l[1024];
    bind_line(l, sizeof l, getpid(), 1, NULL, "127.0.0.1", 5353,
              real_sock(SOCK_STREAM, "127.0.0.1"), NULL);
    append(m, l);
    listen_line(l, sizeof l, getpid(), 1);
    append(m, l);
    usleep(100 * 1000);
    cr_assert(!p->exited && p->olen == 0, "it returned for a TCP listener: %s", e2e_describe(p));
    int udp = real_sock(SOCK_DGRAM, "127.0.0.1");
    bind_line(l, sizeof l, getpid(), 2, "udp", "127.0.0.1", 5353, udp, NULL);
    append(m, l);
    cr_assert(e2e_wait(p, 20000), "port --wait --udp did not return: %s", e2e_describe(p));
    assert_printed(p, udp);
}

Test(udpcli, port_udp_wait_runs_out_naming_udp)
{
    int tcp, udp;
    const char *m = tcp_and_udp(&tcp, &udp);
    char l[1024];
    snprintf(l, sizeof l, "{\"v\":2,\"ev\":\"close\",\"ts\":1795312347.0,\"pid\":%d,"
             "\"prog\":\"srv\",\"sid\":\"%d.2\",\"ok\":true}\n", getpid(), getpid());
    append(m, l);
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_unset(&env, "PORTSHIM_LOG");
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", m,
                                  "--wait", "0.2", "--udp", "5353");
    cr_assert_eq(e2e_status(p), 1, "a closed UDP socket was reported: %s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "port 5353: no UDP socket bound to it after 0.2s") &&
              strstr(e2e_err(p), "a TCP listener has it"), "%s", e2e_describe(p));
}

Test(udpcli, port_udp_prints_the_socket_a_datagram_to_localhost_reaches_and_all_lists_both)
{
    char l[1024], want[256];
    const char *m = e2e_path("manifest.jsonl");
    e2e_write_file(m, "", false);
    int wild = real_sock(SOCK_DGRAM, "0.0.0.0"), lo = real_sock(SOCK_DGRAM, "127.0.0.1");
    bind_line(l, sizeof l, getpid(), 1, "udp", "0.0.0.0", 5353, wild, NULL);
    append(m, l);
    bind_line(l, sizeof l, getpid(), 2, "udp", "127.0.0.1", 5353, lo, NULL);
    append(m, l);
    struct e2e_proc *p = port(m, "--udp", "5353", NULL);
    assert_printed(p, lo);
    snprintf(want, sizeof want, "UDP port 5353 has 2 live sockets: printed %d, the one on "
             "127.0.0.1:5353 (a datagram to localhost reaches it); also %d on 0.0.0.0:5353 "
             "('portshim port --all --udp 5353' lists them)", lo, wild);
    cr_assert(strstr(e2e_err(p), want), "%s", e2e_describe(p));
    p = port(m, "--udp", "--all", "5353");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    snprintf(want, sizeof want, "%d 127.0.0.1:5353\n%d 0.0.0.0:5353\n", lo, wild);
    cr_assert_str_eq(e2e_out(p), want, "%s", e2e_describe(p));
}

/* ---- report --------------------------------------------------------------- */

/* TCP listener 8000 (real 42000) and UDP socket 5353 (real 42000 too: a
 * UDP real port is not a TCP one), a client's first datagram routed to the
 * UDP socket, one dropped by udp-drop, and DNS queries to a resolver
 * outside the run over UDP and TCP (two destinations). */
static const char *report_manifest(void)
{
    static const char *const lines[] = {
        "{\"v\":2,\"ev\":\"start\",\"ts\":1795312345.000000,\"pid\":4100,\"prog\":\"portshim\",\"mode\":\"remap\",\"ok\":true}",
        "{\"v\":2,\"ev\":\"bind\",\"ts\":1795312345.100000,\"pid\":4101,\"prog\":\"web\",\"sid\":\"4101.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":42000,\"uid\":1000}",
        "{\"v\":2,\"ev\":\"listen\",\"ts\":1795312345.100100,\"pid\":4101,\"prog\":\"web\",\"sid\":\"4101.1\",\"ok\":true}",
        "{\"v\":2,\"ev\":\"bind\",\"ts\":1795312345.200000,\"pid\":4102,\"prog\":\"dnsmasq\",\"sid\":\"4102.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"proto\":\"udp\",\"addr\":\"127.0.0.1\",\"port\":5353,\"raddr\":\"127.0.0.1\",\"rport\":42000,\"uid\":1000}",
        "{\"v\":2,\"ev\":\"connect\",\"ts\":1795312345.300000,\"pid\":4103,\"prog\":\"dig\",\"ok\":true,\"fam\":4,\"proto\":\"udp\",\"addr\":\"127.0.0.1\",\"port\":5353,\"raddr\":\"127.0.0.1\",\"rport\":42000,\"routed\":true}",
        "{\"v\":2,\"ev\":\"connect\",\"ts\":1795312345.400000,\"pid\":4104,\"prog\":\"dig\",\"sid\":\"4104.1\",\"ok\":true,\"fam\":4,\"proto\":\"udp\",\"addr\":\"127.0.0.1\",\"port\":5353,\"note\":\"dropped\",\"inj\":\"udp-drop\"}",
        "{\"v\":2,\"ev\":\"connect\",\"ts\":1795312345.500000,\"pid\":4105,\"prog\":\"curl\",\"ok\":true,\"fam\":4,\"proto\":\"udp\",\"addr\":\"127.0.0.53\",\"port\":53,\"raddr\":\"127.0.0.53\",\"rport\":53,\"routed\":false}",
        "{\"v\":2,\"ev\":\"connect\",\"ts\":1795312345.600000,\"pid\":4105,\"prog\":\"curl\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.53\",\"port\":53,\"raddr\":\"127.0.0.53\",\"rport\":53,\"routed\":false}",
    };
    char text[8192];
    size_t n = 0;
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", lines[i]);
    const char *m = e2e_path("manifest.jsonl");
    e2e_write_file(m, text, false);
    return m;
}

static struct e2e_proc *report(const char *m, const char *opt, const char *arg)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = opt && arg
        ? e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest", m, opt, arg)
        : opt ? e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest", m, opt)
              : e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest", m);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    return p;
}

/* The line of out that contains needle, its runs of blanks (a table's
 * alignment) squeezed to one. */
static const char *line_with(const char *out, const char *needle)
{
    static char line[1024];
    const char *at = strstr(out, needle);
    cr_assert(at, "no line with '%s' in:\n%s", needle, out);
    const char *b = at;
    while (b > out && b[-1] != '\n')
        b--;
    const char *e = strchr(at, '\n');
    size_t len = e ? (size_t)(e - b) : strlen(b);
    if (len >= sizeof line)
        len = sizeof line - 1;
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (b[i] != ' ' || (k && line[k - 1] != ' '))
            line[k++] = b[i];
    line[k] = 0;
    return line;
}

Test(udpcli, report_text_marks_udp_endpoints_and_lists_dropped_datagrams)
{
    const char *out = e2e_out(report(report_manifest(), NULL, NULL));
    /* the routed datagram credited the UDP socket (1 connect), not the
     * TCP listener whose real port has the same number */
    cr_assert_str_eq(line_with(out, "4102.1"), "4102.1 127.0.0.1:5353/udp 127.0.0.1:42000/udp "
                     "4102 dnsmasq - +0.200s open 1", "%s", out);
    cr_assert_str_eq(line_with(out, "4101.1"), "4101.1 127.0.0.1:8000 127.0.0.1:42000 4101 web "
                     "yes +0.100s open 0", "%s", out);
    cr_assert(strstr(out, "2 connects passed through to 2 destinations"), "%s", out);
    cr_assert_str_eq(line_with(out, "127.0.0.53:53/udp"),
                     "127.0.0.53:53/udp 1 0 +0.500s +0.500s curl", "%s", out);
    cr_assert_str_eq(line_with(out, "127.0.0.53:53 "), "127.0.0.53:53 1 0 +0.600s +0.600s curl",
                     "%s", out);
    cr_assert(strstr(out, "\n1 datagram dropped on purpose (injected udp-drop):\n"), "%s", out);
    cr_assert_str_eq(line_with(out, "4104.1"), "+0.400s 4104 dig 127.0.0.1:5353/udp 4104.1",
                     "%s", out);
    cr_assert(strstr(out, "\nno failed calls\n"), "a drop was listed as a failed call:\n%s", out);
}

Test(udpcli, report_json_has_each_endpoints_protocol_and_the_drops)
{
    const char *out = e2e_out(report(report_manifest(), "--json", NULL));
    cr_assert(strstr(out, "{\"sid\":\"4102.1\",\"pid\":4102,\"prog\":\"dnsmasq\",\"mode\":\"remap\","
                          "\"fam\":4,\"proto\":\"udp\",\"addr\":\"127.0.0.1\",\"port\":5353,"), "%s",
              out);
    cr_assert(strstr(out, "{\"sid\":\"4101.1\",\"pid\":4101,\"prog\":\"web\",\"mode\":\"remap\","
                          "\"fam\":4,\"proto\":\"tcp\","), "%s", out);
    cr_assert(strstr(out, "\"stale\":false,\"connects\":1,\"line\":4}"), "UDP socket: %s", out);
    cr_assert(strstr(out, "\"stale\":false,\"connects\":0,\"line\":2}"), "TCP listener: %s", out);
    cr_assert(strstr(out, "{\"fam\":4,\"proto\":\"udp\",\"addr\":\"127.0.0.53\",\"port\":53,"
                          "\"connects\":1,"), "%s", out);
    cr_assert(strstr(out, "{\"fam\":4,\"proto\":\"tcp\",\"addr\":\"127.0.0.53\",\"port\":53,"
                          "\"connects\":1,"), "%s", out);
    cr_assert(strstr(out, "\"failures\":[],\"dropped\":[{\"t\":0.400000,\"ts\":1795312345.400000,"
                          "\"pid\":4104,\"prog\":\"dig\",\"sid\":\"4104.1\",\"fam\":4,"
                          "\"proto\":\"udp\",\"addr\":\"127.0.0.1\",\"port\":5353,\"line\":6}]"),
              "%s", out);
}

Test(udpcli, report_html_marks_udp_endpoints)
{
    const char *html = e2e_path("r.html");
    report(report_manifest(), "--html", html);
    const char *page = e2e_slurp(html);
    cr_assert(strstr(page, "[\"4102.1\",4102,\"dnsmasq\",\"127.0.0.1:5353/udp\","
                           "\"127.0.0.1:42000/udp\",5353,"), "no UDP socket marked");
    cr_assert(strstr(page, "[\"4101.1\",4101,\"web\",\"127.0.0.1:8000\",\"127.0.0.1:42000\","),
              "the TCP listener is marked");
    cr_assert(strstr(page, "\"127.0.0.53:53/udp\",\"\""), "the UDP pass-through not marked");
    cr_assert(strstr(page, "\"127.0.0.1:5353/udp\",\"udp-drop\""), "the drop is not a mark");
}
