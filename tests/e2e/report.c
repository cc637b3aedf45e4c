/* report.c — `portshim report` on manifests whose every event is known,
 * on damaged ones (it reports what it can and names what it skipped), and
 * on the manifest a failed run keeps. */
#include <criterion/criterion.h>
#include <fcntl.h>

#include "e2e.h"

TestSuite(report, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

/* Line 1 is an event from before the run's start (a namespace joined
 * later): times must count from the start event on line 2. The connect
 * failure (line 6) is older than the bind failure (line 7) is not: it is
 * newer, and written first, so "newest last" needs sorting. */
static const char *const known[] = {
    "{\"v\":1,\"ev\":\"exit\",\"ts\":1795312345.050000,\"pid\":4000,\"prog\":\"old\",\"ok\":true}",
    "{\"v\":1,\"ev\":\"start\",\"ts\":1795312345.100000,\"pid\":4100,\"prog\":\"portshim\",\"mode\":\"remap\",\"ok\":true}",
    "{\"v\":1,\"ev\":\"bind\",\"ts\":1795312345.120001,\"pid\":4101,\"prog\":\"server\",\"sid\":\"4101.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234,\"reuseaddr\":true,\"reuseport\":false,\"uid\":1000}",
    "{\"v\":1,\"ev\":\"listen\",\"ts\":1795312345.120050,\"pid\":4101,\"prog\":\"server\",\"sid\":\"4101.1\",\"ok\":true}",
    "{\"v\":1,\"ev\":\"connect\",\"ts\":1795312345.200000,\"pid\":4102,\"prog\":\"client\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234,\"routed\":true}",
    "{\"v\":1,\"ev\":\"connect\",\"ts\":1795312345.350000,\"pid\":4102,\"prog\":\"client\",\"ok\":false,\"errno\":111,\"err\":\"ECONNREFUSED\",\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":9000,\"raddr\":\"127.0.0.1\",\"rport\":9000,\"routed\":false,\"note\":\"injected\",\"inj\":\"connect-refused\",\"inj_us\":1500}",
    "{\"v\":1,\"ev\":\"bind\",\"ts\":1795312345.300000,\"pid\":4103,\"prog\":\"server2\",\"mode\":\"remap\",\"ok\":false,\"errno\":98,\"err\":\"EADDRINUSE\",\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"reuseaddr\":true,\"reuseport\":false,\"uid\":1000,\"note\":\"virtual port 8000 is held by pid 4101 (server), sid 4101.1\",\"hpid\":4101,\"hcmd\":\"./server --port 8000\",\"huid\":1000,\"huser\":\"dev\",\"hsince\":1795312345.120001}",
    "{\"v\":1,\"ev\":\"connect\",\"ts\":1795312345.400000,\"pid\":4102,\"prog\":\"client\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234,\"routed\":true}",
    "{\"v\":1,\"ev\":\"bind\",\"ts\":1795312345.500000,\"pid\":4104,\"prog\":\"db\",\"sid\":\"4104.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":6,\"addr\":\"::1\",\"port\":6379,\"raddr\":\"::1\",\"rport\":40001,\"reuseaddr\":false,\"reuseport\":false,\"uid\":1000}",
    "{\"v\":1,\"ev\":\"listen\",\"ts\":1795312345.500100,\"pid\":4104,\"prog\":\"db\",\"sid\":\"4104.1\",\"ok\":true}",
    "{\"v\":1,\"ev\":\"close\",\"ts\":1795312346.000000,\"pid\":4101,\"prog\":\"server\",\"sid\":\"4101.1\",\"ok\":true}",
};
#define NKNOWN (sizeof known / sizeof *known)

/* The known lines, with `bad` inserted before line numbers in at[]
 * (1-based positions in the result), and `tail` appended without '\n'. */
static const char *manifest(const char *name, const int *at, size_t nat, const char *tail)
{
    static char text[16384];
    size_t n = 0, out = 1, k = 0;
    for (size_t i = 0; i < NKNOWN; i++) {
        while (k < nat && (size_t)at[k] == out) {
            n += (size_t)snprintf(text + n, sizeof text - n, "{\"v\":1,\"ev\":\"bind\",\"ts\":\"x\n");
            out++;
            k++;
        }
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", known[i]);
        out++;
    }
    if (tail)
        snprintf(text + n, sizeof text - n, "%s", tail);
    const char *path = e2e_path("%s", name);
    e2e_write_file(path, text, false);
    return path;
}

static struct e2e_proc *report(const char *path, bool json)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = json ? e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--json",
                                         "--manifest", path)
                              : e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest",
                                         path);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    return p;
}

/* The whitespace-separated words of the output line starting with first. */
static int row(const char *out, const char *first, char words[][64], int max)
{
    size_t fl = strlen(first);
    const char *l = out;
    while (l && strncmp(l, first, fl))
        l = (l = strchr(l, '\n')) ? l + 1 : NULL;
    if (!l)
        return 0;
    const char *end = strchr(l, '\n');
    if (!end)
        end = l + strlen(l);
    int n = 0;
    while (l < end && n < max) {
        while (l < end && *l == ' ')
            l++;
        size_t w = strcspn(l, " \n");
        if (l + w > end)
            w = (size_t)(end - l);
        if (!w)
            break;
        snprintf(words[n++], 64, "%.*s", (int)w, l);
        l += w;
    }
    return n;
}

static void check_rows(const char *out, bool closed_known, const char *who)
{
    char w[16][64];
    int n = row(out, "4101.1 ", w, 16);
    cr_assert_eq(n, 9, "%s: no full row for 4101.1:\n%s", who, out);
    cr_assert_str_eq(w[1], "127.0.0.1:8000", "%s virtual", who);
    cr_assert_str_eq(w[2], "127.0.0.1:41234", "%s real", who);
    cr_assert_str_eq(w[3], "4101", "%s pid", who);
    cr_assert_str_eq(w[4], "server", "%s prog", who);
    cr_assert_str_eq(w[6], "+0.020s", "%s: opened counts from the start event:\n%s", who, out);
    cr_assert_str_eq(w[7], closed_known ? "+0.900s" : "open", "%s closed:\n%s", who, out);
    cr_assert_str_eq(w[8], "2", "%s: two connects were routed to it:\n%s", who, out);

    n = row(out, "4104.1 ", w, 16);
    cr_assert_eq(n, 9, "%s: no full row for 4104.1:\n%s", who, out);
    cr_assert_str_eq(w[1], "[::1]:6379");
    cr_assert_str_eq(w[2], "[::1]:40001");
    cr_assert_str_eq(w[4], "db");
    cr_assert_str_eq(w[6], "+0.400s");
    cr_assert_str_eq(w[7], "open");
    cr_assert_str_eq(w[8], "0");
}

static void check_failures(const char *out)
{
    char w[16][64];
    const char *bind = strstr(out, "+0.200s");
    const char *conn = strstr(out, "+0.250s");
    cr_assert(bind && conn && bind < conn, "failures are not newest last:\n%s", out);
    int n = row(bind, "+0.200s", w, 16);
    cr_assert(n >= 7, "%s", out);
    cr_assert_str_eq(w[1], "4103");
    cr_assert_str_eq(w[2], "server2");
    cr_assert_str_eq(w[3], "bind");
    cr_assert_str_eq(w[4], "127.0.0.1:8000");
    cr_assert_str_eq(w[5], "EADDRINUSE");
    cr_assert(strstr(bind, "held by pid 4101 (server), sid 4101.1"), "the note is missing:\n%s",
              out);
    cr_assert(strstr(bind, "  pid 4101 (./server --port 8000) user dev since +0.020s  "),
              "the holder is missing:\n%s", out);
    cr_assert(strstr(conn, "  injected connect-refused (1500 us)\n"),
              "the injected fault is not named:\n%s", out);
    n = row(conn, "+0.250s", w, 16);
    cr_assert(n >= 6, "%s", out);
    cr_assert_str_eq(w[3], "connect");
    cr_assert_str_eq(w[4], "127.0.0.1:9000");
    cr_assert_str_eq(w[5], "ECONNREFUSED");
}

Test(report, known_manifest_gives_one_row_per_listener_and_failures_newest_last)
{
    const char *m = manifest("known.jsonl", NULL, 0, NULL);
    struct e2e_proc *p = report(m, false);
    const char *out = e2e_out(p);
    check_rows(out, true, "text");
    check_failures(out);
    cr_assert(strstr(out, "(the run's start)"), "%s", out);
    cr_assert(!strstr(out, "skipped"), "nothing was skipped:\n%s", out);
    cr_assert(!strstr(out, "cut short"), "%s", out);
    cr_assert_str_eq(e2e_err(p), "", "%s", e2e_describe(p));
}

Test(report, json_has_relative_and_absolute_times_and_stable_keys)
{
    const char *m = manifest("known.jsonl", NULL, 0, NULL);
    struct e2e_proc *p = report(m, true);
    const char *out = e2e_out(p);
    static const char *const want[] = {
        "\"t0\":1795312345.100000",
        "{\"sid\":\"4101.1\",\"pid\":4101,\"prog\":\"server\",\"mode\":\"remap\",\"fam\":4,"
        "\"proto\":\"tcp\",\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234,"
        "\"rpath\":null,\"listen\":true,\"opened\":0.020001,\"opened_ts\":1795312345.120001,"
        "\"listened\":0.020050,\"listened_ts\":1795312345.120050,\"closed\":0.900000,"
        "\"closed_ts\":1795312346.000000,\"stale\":false,\"connects\":2,\"line\":3}",
        "\"closed\":null,\"closed_ts\":null,\"stale\":false,\"connects\":0,\"line\":9}",
        "\"skipped_lines\":[],\"truncated_line\":null,\"truncated_read\":false}",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(strstr(out, want[i]), "missing %s in\n%s", want[i], out);
    const char *a = strstr(out, "\"err\":\"EADDRINUSE\"");
    const char *b = strstr(out, "\"err\":\"ECONNREFUSED\"");
    cr_assert(a && b && a < b, "failures are not newest last:\n%s", out);
    cr_assert(strstr(out, "{\"t\":0.200000,\"ts\":1795312345.300000,\"pid\":4103"), "%s", out);
    cr_assert(strstr(out, "\"holder\":{\"pid\":4101,\"uid\":1000,\"user\":\"dev\",\"cmd\":"
                          "\"./server --port 8000\",\"since\":0.020001,\"since_ts\":1795312345.120001},"
                          "\"inj\":null,\"inj_us\":null,\"line\":7}"),
              "%s", out);
    cr_assert(strstr(out, "\"note\":\"injected\",\"holder\":null,\"inj\":\"connect-refused\","
                          "\"inj_us\":1500,\"line\":6}"),
              "%s", out);
    cr_assert_eq(out[strlen(out) - 1], '\n');
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "--json is one line:\n%s", out);
}

Test(report, garbled_manifest_reports_what_it_can_and_names_skipped_lines)
{
    /* malformed lines at 5 and 9, and a last line cut mid-JSON (13) */
    const int at[] = {5, 9};
    const char *m = manifest("garbled.jsonl", at, 2,
                             "{\"v\":1,\"ev\":\"close\",\"ts\":1795312346.5,\"pid\":4104,\"pr");
    struct e2e_proc *p = report(m, false);
    const char *out = e2e_out(p);
    check_rows(out, true, "garbled");
    check_failures(out);
    cr_assert(strstr(out, "\nskipped 3 malformed lines: 5, 9, 14\n"), "%s", out);
    cr_assert(strstr(out, "\nline 14, the last, is cut short (no newline): skipped\n"), "%s", out);

    p = report(m, true);
    out = e2e_out(p);
    cr_assert(strstr(out, "\"skipped_lines\":[5,9,14],\"truncated_line\":14,"
                          "\"truncated_read\":false}"),
              "%s", out);
}

Test(report, whole_last_line_without_newline_is_read)
{
    /* the file ends with the close of 4104.1, complete but without '\n' */
    const char *m = manifest("nonl.jsonl", NULL, 0,
                             "{\"v\":1,\"ev\":\"close\",\"ts\":1795312346.5,\"pid\":4104,"
                             "\"prog\":\"db\",\"sid\":\"4104.1\",\"ok\":true}");
    struct e2e_proc *p = report(m, false);
    const char *out = e2e_out(p);
    char w[16][64];
    cr_assert_eq(row(out, "4104.1 ", w, 16), 9, "%s", out);
    cr_assert_str_eq(w[7], "+1.400s", "the last line's close was not read:\n%s", out);
    cr_assert(strstr(out, "\nline 12, the last, is cut short (no newline): read all the same\n"),
              "%s", out);
    cr_assert(!strstr(out, "malformed"), "%s", out);
}

/* Names are whatever bytes a program ran as, and a manifest may be garbled:
 * --json still writes valid UTF-8 (any other byte as '?'). */
Test(report, json_is_valid_utf8_whatever_bytes_the_manifest_holds)
{
    const char *m = manifest("bytes.jsonl", NULL, 0,
                             "{\"v\":1,\"ev\":\"bind\",\"ts\":1795312346.6,\"pid\":4105,"
                             "\"prog\":\"\xff\xfe\xc3ok\xc3\xa9\",\"sid\":\"4105.1\",\"mode\":\"remap\","
                             "\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8100,"
                             "\"raddr\":\"127.0.0.1\",\"rport\":41299}\n");
    struct e2e_proc *p = report(m, true);
    const char *out = e2e_out(p);
    cr_assert(strstr(out, "\"prog\":\"???ok\xc3\xa9\""), "%s", out);
    if (access("/usr/bin/python3", X_OK) == 0) {
        const char *j = e2e_path("bytes.json");
        e2e_write_file(j, out, false);
        struct e2e_env env;
        e2e_env_plain(&env);
        struct e2e_proc *v = e2e_runl(&env, E2E_MS, "/usr/bin/python3", "-m", "json.tool", j);
        cr_assert_eq(e2e_status(v), 0, "%s", e2e_describe(v));
    }
}

Test(report, works_on_the_manifest_a_failed_run_keeps)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    struct e2e_proc *p = e2e_runl(
        &env, 30000, e2e_portshim(), "run", "--", "/bin/sh", "-c",
        "\"$H/echo-server\" 127.0.0.1 8000 --name first --ready-file \"$PORTSHIM_DIR/r\" & "
        "i=0; while [ ! -e \"$PORTSHIM_DIR/r\" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); "
        "done; \"$H/binder\" 127.0.0.1 8000 --listen; kill $!; wait; exit 3");
    cr_assert_eq(e2e_status(p), 3, "%s", e2e_describe(p));
    const char *kept = strstr(e2e_err(p), "portshim report --manifest ");
    cr_assert(kept, "no kept manifest named: %s", e2e_describe(p));
    char path[600];
    snprintf(path, sizeof path, "%.*s", (int)strcspn(kept + 27, ")\n"), kept + 27);
    struct e2e_proc *r = report(path, false);
    const char *out = e2e_out(r);
    char w[16][64];
    cr_assert(strstr(out, "mode remap"), "%s", out);
    cr_assert_eq(row(strstr(out, "\nSOCKET") + 1, "SOCKET", w, 16), 9, "%s", out);
    const char *srv = strstr(out, "127.0.0.1:8000");
    cr_assert(srv && strstr(out, "echo-server"), "the listener is missing:\n%s", out);
    cr_assert(strstr(out, "binder") && strstr(out, "EADDRINUSE"), "the conflict is missing:\n%s",
              out);
}

/* ---- size ------------------------------------------------------------- */

/* 200,000 live binds (pids far past pid_max: none alive), each listening,
 * and an exit for every other binder. Reading them was quadratic: report
 * and port took minutes, a process joining the namespace waited at its
 * first bind. Each must now finish well inside its generous timeout. */
Test(report, report_port_and_a_joining_process_read_200000_live_binds, .timeout = 400)
{
    e2e_need_lib();
    enum { N = 200000 };
    struct e2e_ns ns;
    e2e_ns_new(&ns, "big");
    FILE *f = fopen(ns.manifest, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < N; i++) {
        int pid = 10000000 + i;
        fprintf(f, "{\"v\":1,\"ev\":\"bind\",\"ts\":1795312345.5,\"pid\":%d,\"sid\":\"%d.1\","
                   "\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":%d,"
                   "\"raddr\":\"127.0.0.1\",\"rport\":%d}\n"
                   "{\"v\":1,\"ev\":\"listen\",\"pid\":%d,\"sid\":\"%d.1\",\"ok\":true}\n",
                pid, pid, 10000 + i % 50000, 10000 + i % 50000, pid, pid);
    }
    for (int i = 0; i < N; i += 2)
        fprintf(f, "{\"v\":1,\"ev\":\"exit\",\"ts\":1795312346.5,\"pid\":%d,\"ok\":true}\n",
                10000000 + i);
    cr_assert_eq(fclose(f), 0);

    struct e2e_env plain, shim;
    e2e_env_plain(&plain);
    e2e_env_shim(&shim, &ns, "remap", NULL);
    struct e2e_proc *p = e2e_runl(&plain, 120000, e2e_portshim(), "report", "--json",
                                  "--manifest", ns.manifest);
    cr_assert(!p->timed_out, "report did not finish: %s", e2e_describe(p));
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *out = e2e_out(p);
    cr_assert(strstr(out, "\"sid\":\"10199999.1\""), "the last socket is missing");
    cr_assert(strstr(out, "\"truncated_line\":null"), "%.300s", out + strlen(out) - 300);

    p = e2e_runl(&plain, 120000, e2e_portshim(), "port", "--manifest", ns.manifest, "10001");
    cr_assert(!p->timed_out, "port did not finish: %s", e2e_describe(p));
    cr_assert_eq(e2e_status(p), 1, "its holders are all dead: %s", e2e_describe(p));

    p = e2e_runl(&shim, 120000, "binder", "127.0.0.1", "9999");
    cr_assert(!p->timed_out, "the bind did not finish: %s", e2e_describe(p));
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
}

/* A last line without a newline that is too long to be a record (50 MB: a
 * writer gone mad, or a file cut in the middle of garbage) is still named
 * as cut short, though the reader never buffers it. */
Test(report, huge_last_line_without_newline_is_named_cut_short)
{
    const char *m = manifest("huge.jsonl", NULL, 0, NULL);
    int fd = open(m, O_WRONLY | O_APPEND | O_CLOEXEC);
    cr_assert(fd >= 0);
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof chunk);
    const char *head = "{\"v\":1,\"ev\":\"close\",\"pid\":4104,\"sid\":\"4104.1\",\"note\":\"";
    cr_assert(write_all(fd, head, strlen(head)) == 0);
    for (int i = 0; i < 50; i++)
        cr_assert(write_all(fd, chunk, sizeof chunk) == 0);
    close(fd);

    struct e2e_proc *p = report(m, false);
    const char *out = e2e_out(p);
    check_rows(out, true, "huge");
    cr_assert(strstr(out, "\nskipped 1 malformed line: 12\n"), "%s", out);
    cr_assert(strstr(out, "\nline 12, the last, is cut short (no newline): skipped\n"), "%s", out);

    p = report(m, true);
    out = e2e_out(p);
    cr_assert(strstr(out, "\"skipped_lines\":[12],\"truncated_line\":12,"
                          "\"truncated_read\":false}"),
              "%s", out);
}
