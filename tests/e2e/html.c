/* html.c — `portshim report --html`: the page, as a browser shows it.
 *
 * tests/browser/page.py loads the written page in headless Chromium (over
 * the DevTools protocol) and prints what it saw: console errors, uncaught
 * exceptions, the counts the page exposes as data- attributes, what
 * hovering shows. Where Chromium is missing (scripts/ensure-deps installs
 * it when it can) the browser half of a test is skipped with a message; the
 * file's own checks (self-contained, escaped) always run. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "e2e.h"

TestSuite(html, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

#define EV(rest) "{\"v\":1," rest "}\n"
#define T(x) "\"ts\":17953123" x

/* Every count is known: 5 processes, 2 listeners, 5 connects and
 * accepts (2 passed through, 1 of them refused by an injected fault, 1
 * delayed), 1 injected accept delay, 1 conflict with its holder. */
static const char known[] =
    EV("\"ev\":\"start\"," T("45.000000") ",\"pid\":100,\"prog\":\"portshim\",\"mode\":\"remap\",\"ok\":true")
    EV("\"ev\":\"bind\"," T("45.010000") ",\"pid\":101,\"prog\":\"server\",\"sid\":\"101.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234")
    EV("\"ev\":\"listen\"," T("45.011000") ",\"pid\":101,\"prog\":\"server\",\"sid\":\"101.1\",\"ok\":true")
    EV("\"ev\":\"connect\"," T("45.100000") ",\"pid\":102,\"prog\":\"client\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234,\"routed\":true")
    EV("\"ev\":\"accept\"," T("45.150000") ",\"pid\":101,\"prog\":\"server\",\"ok\":true,\"port\":8000,\"inj\":\"accept-delay\",\"inj_us\":20000")
    EV("\"ev\":\"connect\"," T("45.200000") ",\"pid\":102,\"prog\":\"client\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234,\"routed\":true,\"inj\":\"connect-delay\",\"inj_us\":1500")
    EV("\"ev\":\"bind\"," T("45.300000") ",\"pid\":103,\"prog\":\"server2\",\"mode\":\"remap\",\"ok\":false,\"errno\":98,\"err\":\"EADDRINUSE\",\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"note\":\"virtual port 8000 is held by pid 101 (server), sid 101.1\",\"hpid\":101,\"hcmd\":\"./server --port 8000\",\"huid\":1000,\"huser\":\"dev\",\"hsince\":1795312345.010000")
    EV("\"ev\":\"connect\"," T("45.350000") ",\"pid\":102,\"prog\":\"client\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":5432,\"raddr\":\"127.0.0.1\",\"rport\":5432,\"routed\":false")
    EV("\"ev\":\"connect\"," T("45.400000") ",\"pid\":102,\"prog\":\"client\",\"ok\":false,\"errno\":111,\"err\":\"ECONNREFUSED\",\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":9000,\"raddr\":\"127.0.0.1\",\"rport\":9000,\"routed\":false,\"note\":\"injected\",\"inj\":\"connect-refused\"")
    EV("\"ev\":\"bind\"," T("45.500000") ",\"pid\":104,\"prog\":\"db\",\"sid\":\"104.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":6,\"addr\":\"::1\",\"port\":6379,\"raddr\":\"::1\",\"rport\":40001")
    EV("\"ev\":\"listen\"," T("45.501000") ",\"pid\":104,\"prog\":\"db\",\"sid\":\"104.1\",\"ok\":true")
    EV("\"ev\":\"close\"," T("46.000000") ",\"pid\":101,\"prog\":\"server\",\"sid\":\"101.1\",\"ok\":true")
    EV("\"ev\":\"exit\"," T("46.100000") ",\"pid\":102,\"prog\":\"client\",\"ok\":true");

static struct e2e_proc *portshim(const char *const *argv)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *full[16] = {e2e_portshim()};
    int n = 1;
    for (; argv[n - 1] && n < 15; n++)
        full[n] = argv[n - 1];
    full[n] = NULL;
    return e2e_run(&env, 60000, full);
}
#define portshiml(...) portshim((const char *const[]){__VA_ARGS__, NULL})

/* Writes the page of manifest (beside other, may be NULL) and returns it. */
static const char *page(const char *manifest, const char *other)
{
    const char *out = e2e_path("page-%d.html", rand());
    struct e2e_proc *p = other ? portshiml("report", "--manifest", manifest, "--html", out,
                                           "--compare", other)
                               : portshiml("report", "--manifest", manifest, "--html", out);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "", "%s", e2e_describe(p));
    return out;
}

/* The page as Chromium saw it (page.py's JSON), or skips the test. */
static const char *browse(const char *html, const char *const *extra)
{
    if (access("/usr/bin/chromium", X_OK))
        e2e_skip("chromium is not installed (scripts/ensure-deps installs it as root): "
                 "the browser half of this test is skipped");
    char script[1024];
    snprintf(script, sizeof script, "%s", e2e_portshim());
    *strrchr(script, '/') = 0;
    strcat(script, "/../tests/browser/page.py");
    const char *argv[16] = {"/usr/bin/python3", script, "--chromium", "/usr/bin/chromium"};
    int n = 4;
    for (; extra && *extra && n < 14; extra++)
        argv[n++] = *extra;
    argv[n++] = html;
    argv[n] = NULL;
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_run(&env, 90000, argv);
    if (e2e_status(p) == 3)
        e2e_skip("chromium could not be started here: the browser half is skipped (%s)",
                 e2e_out(p));
    cr_assert_eq(e2e_status(p), 0, "the page never said it was ready: %s", e2e_describe(p));
    const char *out = e2e_out(p);
    cr_assert(strstr(out, "\"errors\": []"), "console errors: %s", out);
    cr_assert(strstr(out, "\"pwned\": false"), "%s", out);
    return out;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *s = hay; (s = strstr(s, needle)); s += strlen(needle))
        n++;
    return n;
}

/* The file alone: one document, nothing fetched, data only inside its
 * JSON element. */
static void self_contained(const char *html)
{
    const char *t = e2e_slurp(html);
    cr_assert(!strncmp(t, "<!DOCTYPE html>", 15), "%.80s", t);
    cr_assert(strstr(t, "default-src 'none'"), "no policy forbidding the network");
    cr_assert(!strstr(t, "src=\"http") && !strstr(t, "href=\"http") && !strstr(t, "url(") &&
                  !strstr(t, "@import") && !strstr(t, "<link"),
              "the page fetches something");
    cr_assert_eq(count(t, "<script"), 2, "one data element, one script");
    cr_assert_eq(count(t, "</script"), 2, "markup from the manifest closes the script");
    cr_assert_eq(count(t, "<!--"), 1, "only the template's own comment");
    cr_assert(!strstr(t, "\xe2\x80\xa8") && !strstr(t, "\xe2\x80\xa9"), "a raw U+2028/9");
}

Test(html, page_has_a_lane_per_process_and_every_listener_mark_and_failure)
{
    const char *m = e2e_path("known.jsonl");
    e2e_write_file(m, known, false);
    const char *html = page(m, NULL);
    self_contained(html);
    /* hover: the server's listener (lane 2, its bar) at mid-run, and the
     * conflict's diamond (lane 4) at +0.300s; see the layout in report.html */
    const char *out = browse(html, (const char *const[]){"--hover", "p0.5,66", "--hover",
                                                         "p0.28147,110", NULL});
    cr_assert(strstr(out, "\"summary\": {\"ready\": \"1\", \"panels\": \"1\", \"lanes\": \"5\", "
                          "\"mode\": \"proc\""), "%s", out);
    cr_assert(strstr(out, "\"heads\": [{\"run\": \"0\", \"lanes\": \"5\", \"processes\": \"5\", "
                          "\"bars\": \"2\", \"marks\": \"5\", \"fails\": \"2\", \"conflicts\": "
                          "\"1\", \"injected\": \"3\", \"passthrough\": \"2\", \"events\": "
                          "\"13\"}]"), "%s", out);
    cr_assert(strstr(out, "\"hovers\": [\"listener 127.0.0.1:8000  (real 127.0.0.1:41234)\\n"
                          "server pid 101, socket 101.1\\nbound +0.010s, listening +0.011s, "
                          "closed +1.000s\\n2 connects routed to it\", "
                          "\"bind 127.0.0.1:8000 failed with EADDRINUSE at +0.300s\\nserver2 pid "
                          "103\\nport held by pid 101 (./server --port 8000) user dev since "
                          "+0.010s\\nvirtual port 8000 is held by pid 101 (server), sid "
                          "101.1\"]"),
              "%s", out);
    /* something was drawn for every item on screen */
    const char *d = strstr(out, "\"drawn\": \"");
    cr_assert(d && atoi(d + 10) >= 2 + 5 + 2, "%s", out);
}

Test(html, hostile_manifest_strings_cannot_inject_markup)
{
    /* a directory named "<" makes the manifest's path contain "</script>" */
    cr_assert_eq(mkdir(e2e_path("<"), 0700), 0);
    const char *m = e2e_path("</script><img src=x onerror=window.pwned=1>.jsonl");
    e2e_write_file(m,
        EV("\"ev\":\"start\"," T("45.000000") ",\"pid\":100,\"prog\":\"portshim\",\"mode\":\"remap\",\"ok\":true")
        EV("\"ev\":\"bind\"," T("45.010000") ",\"pid\":101,\"prog\":\"</script><script>window.pwned=2</script>\",\"sid\":\"101.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41234")
        EV("\"ev\":\"listen\"," T("45.011000") ",\"pid\":101,\"prog\":\"x\\\"'\\u0001\\u001b[31m\xe2\x80\xa8\xff</SCRIPT>\",\"sid\":\"101.1\",\"ok\":true")
        EV("\"ev\":\"bind\"," T("45.300000") ",\"pid\":103,\"prog\":\"<!--\",\"mode\":\"remap\",\"ok\":false,\"errno\":98,\"err\":\"EADDRINUSE\",\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"note\":\"<!-- <script>window.pwned=3</script> \xe2\x80\xa9 &amp; ]]>\",\"hpid\":101,\"hcmd\":\"<img src=x onerror=window.pwned=4>\""),
        false);
    const char *html = page(m, NULL);
    self_contained(html);
    const char *t = e2e_slurp(html);
    cr_assert(strstr(t, "\\u003c/script\\u003e\\u003cscript\\u003ewindow.pwned=2"), "%s", t);
    /* the strings arrive intact, as text */
    const char *out = browse(html, (const char *const[]){
        "--eval", "(() => { const d = JSON.parse(document.getElementById('portshim-data')"
                  ".textContent).runs[0]; return [d.manifest, d.procs.map(p => p[1]).join('|'), "
                  "d.fails[0][6], d.fails[0][7]]; })()", NULL});
    cr_assert(!strstr(out, "\"img\""), "an img element appeared: %s", out);
    cr_assert(strstr(out, "\"scripts\": 2"), "%s", out);
    cr_assert(strstr(out, "</script><img src=x onerror=window.pwned=1>.jsonl\", "
                          "\"portshim|x\\\"'\\u0001\\u001b[31m\\u2028?</SCRIPT>|<!--\", "
                          "\"<!-- <script>window.pwned=3</script> \\u2029 &amp; ]]>\", "
                          "\"pid 101 (<img src=x onerror=window.pwned=4>)\"]"),
              "%s", out);
    cr_assert(strstr(out, "\"headText\": [\"") && strstr(out, "/</script><img src=x onerror"),
              "the path shows as text: %s", out);
}

Test(html, compare_draws_two_runs_with_lanes_aligned_by_virtual_port)
{
    const char *a = e2e_path("a.jsonl"), *b = e2e_path("b.jsonl");
    e2e_write_file(a,
        EV("\"ev\":\"start\"," T("45.000000") ",\"pid\":100,\"prog\":\"portshim\",\"mode\":\"remap\",\"ok\":true")
        EV("\"ev\":\"bind\"," T("45.010000") ",\"pid\":101,\"prog\":\"s\",\"sid\":\"101.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":41000")
        EV("\"ev\":\"bind\"," T("45.020000") ",\"pid\":101,\"prog\":\"s\",\"sid\":\"101.2\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":9000,\"raddr\":\"127.0.0.1\",\"rport\":41001"),
        false);
    e2e_write_file(b,
        EV("\"ev\":\"start\"," T("99.000000") ",\"pid\":200,\"prog\":\"portshim\",\"mode\":\"remap\",\"ok\":true")
        EV("\"ev\":\"bind\"," T("99.010000") ",\"pid\":201,\"prog\":\"s\",\"sid\":\"201.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":7000,\"raddr\":\"127.0.0.1\",\"rport\":42000")
        EV("\"ev\":\"bind\"," T("99.020000") ",\"pid\":202,\"prog\":\"t\",\"sid\":\"202.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":42001")
        EV("\"ev\":\"connect\"," T("99.030000") ",\"pid\":203,\"prog\":\"c\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,\"raddr\":\"127.0.0.1\",\"rport\":42001,\"routed\":true"),
        false);
    const char *html = page(a, b);
    self_contained(html);
    const char *out = browse(html, (const char *const[]){
        "--eval", "(() => { const d = JSON.parse(document.getElementById('portshim-data')"
                  ".textContent); return d.runs.map(r => r.socks.map(s => s[5]).join(',')); })()",
        NULL});
    /* lanes 7000, 8000, 9000: the union of both runs' ports, in order */
    cr_assert(strstr(out, "\"summary\": {\"ready\": \"1\", \"panels\": \"2\", \"lanes\": \"3\", "
                          "\"mode\": \"port\""), "%s", out);
    cr_assert(strstr(out, "{\"run\": \"0\", \"lanes\": \"2\", \"processes\": \"2\", \"bars\": "
                          "\"2\", \"marks\": \"0\""), "%s", out);
    cr_assert(strstr(out, "{\"run\": \"1\", \"lanes\": \"2\", \"processes\": \"4\", \"bars\": "
                          "\"2\", \"marks\": \"1\""), "%s", out);
    cr_assert(strstr(out, "\"value\": [\"8000,9000\", \"7000,8000\"]"), "%s", out);
    cr_assert(strstr(out, "\"title\": \"portshim report: ") && strstr(out, "a.jsonl vs "),
              "%s", out);
}

Test(html, bad_html_options_are_usage_errors_with_one_line)
{
    const char *m = e2e_path("known.jsonl");
    e2e_write_file(m, known, false);
    struct e2e_proc *p = portshiml("report", "--manifest", m, "--compare", m);
    cr_assert_eq(e2e_status(p), 2, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "portshim: report: --compare ") &&
                  strstr(e2e_err(p), "needs --html FILE"), "%s", e2e_describe(p));
    p = portshiml("report", "--manifest", m, "--json", "--html", e2e_path("x.html"));
    cr_assert_eq(e2e_status(p), 2, "%s", e2e_describe(p));
    p = portshiml("report", "--manifest", m, "--html", e2e_path("nodir/x.html"));
    cr_assert_eq(e2e_status(p), 2, "%s", e2e_describe(p));
    cr_assert(!strncmp(e2e_err(p), "portshim: report --html: cannot write ", 38) &&
                  strchr(e2e_err(p), '\n') == e2e_err(p) + strlen(e2e_err(p)) - 1,
              "%s", e2e_describe(p));
    p = portshiml("report", "--manifest", m, "--html", e2e_path("x.html"), "--compare",
                  e2e_path("missing.jsonl"));
    cr_assert_eq(e2e_status(p), 2, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "portshim: cannot read manifest "), "%s", e2e_describe(p));
}
