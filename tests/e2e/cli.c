/* cli.c — the portshim command end to end: run, port, report, and loud
 * failure on bad configuration (portshim(1); README "Environment"). */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "e2e.h"

TestSuite(cli, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);
TestSuite(config, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

/* ---- eight copies of a hard-coded-port server at once --------------------- */

Test(cli, eight_copies_of_a_hard_coded_port_server_each_reach_their_own)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    /* every client waits until all eight servers listen on "8000" at once */
    char waits[2048] = "";
    for (int i = 0; i < 8; i++) {
        size_t n = strlen(waits);
        snprintf(waits + n, sizeof waits - n, " --wait-file \"$2/ready.%d\"", i);
    }
    char script[4096];
    snprintf(script, sizeof script,
             "\"$H/echo-server\" 127.0.0.1 8000 --name copy$1 --ready-file \"$2/ready.$1\" "
             "--count 1 &\n"
             "\"$H/client\" 127.0.0.1 8000 from$1 %s\n"
             "rc=$?\nwait\nexit $rc\n",
             waits);
    const char *sh = e2e_path("copy.sh");
    e2e_write_file(sh, script, false);

    struct e2e_proc *runs[8];
    for (int i = 0; i < 8; i++) {
        char idx[8];
        snprintf(idx, sizeof idx, "%d", i);
        runs[i] = e2e_startl(&env, e2e_portshim(), "run", "--", "/bin/sh", sh, idx, e2e_tmp());
    }
    for (int i = 0; i < 8; i++) {
        e2e_wait(runs[i], 40000);
        char want[64];
        snprintf(want, sizeof want, "REPLY copy%d 8000 from%d\n", i, i);
        cr_assert_eq(e2e_status(runs[i]), 0, "copy %d failed:\n%s", i, e2e_describe(runs[i]));
        cr_assert(strstr(e2e_out(runs[i]), want), "copy %d's client did not reach copy %d:\n%s",
                  i, i, e2e_describe(runs[i]));
    }
}

/* ---- an unshimmed client through portshim port --wait --------------------- */

Test(cli, unshimmed_client_reaches_shimmed_server_through_portshim_port)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *dir = e2e_path("ns");
    cr_assert(mkdir(dir, 0700) == 0);
    const char *m = e2e_path("ns/manifest.jsonl");
    struct e2e_proc *srv = e2e_startl(&env, e2e_portshim(), "run", "--manifest", m, "--",
                                      e2e_helper("echo-server"), "127.0.0.1", "8000", "--name",
                                      "shimmed");
    /* no waiting for READY: --wait is what the test relies on */
    struct e2e_proc *port = e2e_runl(&env, 20000, e2e_portshim(), "port", "--manifest", m,
                                     "--wait", "10", "8000");
    cr_assert_eq(e2e_status(port), 0, "%s\nserver: %s", e2e_describe(port), e2e_describe(srv));
    int real = atoi(e2e_out(port));
    cr_assert_eq(e2e_lines(e2e_out(port)), 1, "portshim port prints one line: %s",
                 e2e_describe(port));
    cr_assert(real > 0 && real != 8000, "portshim port printed '%s'", e2e_out(port));
    char reply[256];
    int rc = e2e_request("127.0.0.1", real, "outside", reply, sizeof reply);
    cr_assert_eq(rc, 0, "connect to 127.0.0.1:%d: %s", real, strerror(-rc));
    cr_assert_str_eq(reply, "shimmed 8000 outside");
}

/* ---- bad configuration fails loudly ---------------------------------------- */

/* Runs a program that binds with the given environment: it must exit 78
 * with one "portshim:" line naming `needle`, and never bind. With
 * before_main, /bin/true must fail the same way (the variables are checked
 * before main); without, a program that never touches a socket runs (the
 * manifest is opened at the first socket call, so exec stays cheap). */
static void fails_loudly_when(const struct e2e_env *env, const char *needle, bool before_main)
{
    struct e2e_proc *b = e2e_runl(env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
    cr_assert(b->exited && !WIFSIGNALED(b->status), "killed by a signal (abort?): %s",
              e2e_describe(b));
    cr_assert_eq(e2e_status(b), 78, "want exit 78: %s", e2e_describe(b));
    cr_assert(!strstr(e2e_out(b), "OK"), "the program ran unisolated: %s", e2e_describe(b));
    const char *err = e2e_err(b);
    cr_assert(strstr(err, needle), "stderr does not name %s: %s", needle, e2e_describe(b));
    cr_assert(!strncmp(err, "portshim: ", 10), "stderr: '%s'", err);
    cr_assert_eq(e2e_lines(err), 1, "want one line on stderr: %s", e2e_describe(b));

    struct e2e_proc *t = e2e_runl(env, E2E_MS, "/bin/true");
    if (!before_main) {
        cr_assert_eq(e2e_status(t), 0, "/bin/true never opens the manifest: %s",
                     e2e_describe(t));
        return;
    }
    cr_assert_eq(e2e_status(t), 78, "/bin/true under a bad configuration: %s", e2e_describe(t));
    cr_assert(strstr(e2e_err(t), needle), "%s", e2e_describe(t));
}

static void fails_loudly(const struct e2e_env *env, const char *needle)
{
    fails_loudly_when(env, needle, true);
}

Test(config, bad_mode_exits_78_naming_the_variable_and_value)
{
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_need_lib();
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "fast", NULL);
    fails_loudly(&env, "PORTSHIM_MODE='fast'");
}

Test(config, bad_port_spec_exits_78_naming_the_variable_and_value)
{
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_need_lib();
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, "abc");
    fails_loudly(&env, "PORTSHIM_PORTS='abc'");
    e2e_env_set(&env, "PORTSHIM_PORTS", "9000-8000");
    fails_loudly(&env, "PORTSHIM_PORTS='9000-8000'");
    e2e_env_set(&env, "PORTSHIM_PORTS", "70000");
    fails_loudly(&env, "PORTSHIM_PORTS='70000'");
}

Test(config, missing_manifest_variable_exits_78)
{
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_need_lib();
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    e2e_env_unset(&env, "PORTSHIM_MANIFEST");
    fails_loudly(&env, "PORTSHIM_MANIFEST");
}

Test(config, unwritable_manifest_exits_78_with_one_line)
{
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_need_lib();
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    e2e_env_set(&env, "PORTSHIM_MANIFEST", "/nonexistent-portshim-dir/sub/manifest.jsonl");
    fails_loudly_when(&env, "/nonexistent-portshim-dir/sub/manifest.jsonl", false);
    e2e_env_set(&env, "PORTSHIM_MANIFEST", "/proc/portshim-manifest.jsonl");
    fails_loudly_when(&env, "/proc/portshim-manifest.jsonl", false);
}

Test(config, run_with_bad_mode_or_ports_fails_with_one_line)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--mode", "fast", "--",
                                  "/bin/true");
    cr_assert(p->exited && !WIFSIGNALED(p->status), "%s", e2e_describe(p));
    cr_assert_neq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "fast"), "the message does not name the value: %s",
              e2e_describe(p));
    cr_assert_eq(e2e_lines(e2e_err(p)), 1, "want a one-line message: %s", e2e_describe(p));

    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--ports", "abc", "--", "/bin/true");
    cr_assert(p->exited && !WIFSIGNALED(p->status), "%s", e2e_describe(p));
    cr_assert_neq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "abc"), "%s", e2e_describe(p));
    cr_assert_eq(e2e_lines(e2e_err(p)), 1, "want a one-line message: %s", e2e_describe(p));
}

/* ---- portshim run ----------------------------------------------------------- */

Test(cli, run_exits_with_the_command_status)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--", "/bin/sh", "-c",
                                  "exit 7");
    cr_assert_eq(e2e_status(p), 7, "%s", e2e_describe(p));
    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--", "/bin/true");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
}

Test(cli, run_removes_the_namespace_on_success)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p =
        e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--", "/bin/sh", "-c",
                 "d=$(dirname \"$PORTSHIM_MANIFEST\"); echo \"$d\"; stat -c %a \"$d\"; "
                 "test -f \"$PORTSHIM_MANIFEST\" && echo manifest-exists");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    char dir[512], mode[16], present[64];
    cr_assert_eq(e2e_line(p, dir, sizeof dir, 0), 0, "%s", e2e_describe(p));
    cr_assert_eq(e2e_line(p, mode, sizeof mode, 0), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(mode, "700", "the namespace directory %s has mode %s", dir, mode);
    cr_assert_eq(e2e_line(p, present, sizeof present, 0), 0, "no manifest inside the run: %s",
                 e2e_describe(p));
    cr_assert(dir[0] == '/' && !e2e_exists(dir), "namespace %s was not removed after success", dir);
}

Test(cli, run_keeps_and_prints_the_namespace_on_failure)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--", "/bin/sh", "-c",
                                  "dirname \"$PORTSHIM_MANIFEST\"; exit 3");
    cr_assert_eq(e2e_status(p), 3, "%s", e2e_describe(p));
    char dir[512];
    cr_assert_eq(e2e_line(p, dir, sizeof dir, 0), 0, "%s", e2e_describe(p));
    cr_assert(e2e_exists(dir), "namespace %s was removed although the command failed", dir);
    cr_assert(strstr(e2e_err(p), dir), "the kept namespace's path is not printed: %s",
              e2e_describe(p));
}

Test(cli, run_prepends_the_library_to_an_existing_ld_preload)
{
    e2e_need_lib();
    const char *candidates[] = {"/lib/x86_64-linux-gnu/libm.so.6",
                                "/usr/lib/x86_64-linux-gnu/libm.so.6",
                                "/lib/aarch64-linux-gnu/libm.so.6", "/lib64/libm.so.6"};
    const char *user = NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !user; i++)
        if (access(candidates[i], R_OK) == 0)
            user = candidates[i];
    if (!user)
        e2e_skip("no libm.so.6 to stand for a user's own LD_PRELOAD entry");
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "LD_PRELOAD", user);
    e2e_env_set(&env, "H", e2e_helper(""));
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--", "/bin/sh", "-c",
                                  "echo \"$LD_PRELOAD\"; \"$H/echo-server\" 127.0.0.1 8000 "
                                  "--count 0");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *out = e2e_out(p);
    const char *shim = strstr(out, "libportshim.so");
    const char *mine = strstr(out, user);
    cr_assert(mine, "the user's LD_PRELOAD entry was dropped: %s", e2e_describe(p));
    cr_assert(shim && shim < mine, "the library is not prepended: %s", e2e_describe(p));
    cr_assert(strstr(out, "READY 8000"), "%s", e2e_describe(p));
}

/* Runs, under `portshim run`, a script with an outer server on 8000 and
 * then `inner` (shell text); afterwards an outer client dials 8000. */
static struct e2e_proc *nested(const char *inner)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    e2e_env_set(&env, "PS", e2e_portshim());
    e2e_env_set(&env, "D", e2e_tmp());
    char script[2048];
    snprintf(script, sizeof script,
             "\"$H/echo-server\" 127.0.0.1 8000 --name outer --ready-file \"$D/outer\" &\n"
             "spid=$!\n"
             "i=0; while [ ! -e \"$D/outer\" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done\n"
             "%s\n"
             "echo INNER-EXIT $?\n"
             "\"$H/client\" 127.0.0.1 8000 out\n"
             "rc=$?\nkill $spid\nwait\nexit $rc\n",
             inner);
    const char *sh = e2e_path("nested.sh");
    e2e_write_file(sh, script, false);
    return e2e_runl(&env, 40000, e2e_portshim(), "run", "--", "/bin/sh", sh);
}

Test(cli, nested_run_gets_its_own_namespace)
{
    /* the inner server binds 8000 too; the inner client reaches it, the
     * outer client still reaches the outer one */
    struct e2e_proc *p = nested(
        "\"$PS\" run -- /bin/sh -c '\"$H/echo-server\" 127.0.0.1 8000 --name inner --count 1 & "
        "\"$H/client\" 127.0.0.1 8000 in --retry-ms 10000; rc=$?; kill $! 2>/dev/null; "
        "exit $rc'");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *out = e2e_out(p);
    cr_assert(strstr(out, "REPLY inner 8000 in"), "inner client: %s", e2e_describe(p));
    cr_assert(strstr(out, "INNER-EXIT 0"), "%s", e2e_describe(p));
    cr_assert(strstr(out, "REPLY outer 8000 out"), "outer client: %s", e2e_describe(p));
}

Test(cli, nested_run_with_manifest_joins_the_outer_namespace)
{
    struct e2e_proc *p = nested(
        "\"$PS\" run --manifest \"$PORTSHIM_MANIFEST\" -- \"$H/echo-server\" 127.0.0.1 8000 "
        "--name inner --count 0");
    const char *out = e2e_out(p);
    cr_assert(strstr(out, "ERR bind EADDRINUSE"),
              "the inner server joined the outer namespace: its bind of 8000 must fail: %s",
              e2e_describe(p));
    cr_assert(strstr(out, "INNER-EXIT 1"), "%s", e2e_describe(p));
    cr_assert(strstr(out, "REPLY outer 8000 out"), "outer client: %s", e2e_describe(p));
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
}

/* ---- portshim port ------------------------------------------------------------ */

/* A namespace with a listener on 8000 held by sockctl. */
static struct e2e_proc *listener_8000(struct e2e_ns *ns)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_ns_new(ns, "ns");
    e2e_env_shim(&env, ns, NULL, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");
    cr_assert_str_eq(e2e_cmd(x, "listen %d", a), "OK");
    return x;
}

Test(cli, port_of_an_unknown_port_fails_with_a_message)
{
    struct e2e_ns ns;
    listener_8000(&ns);
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest",
                                  ns.manifest, "8123");
    cr_assert(p->exited && !WIFSIGNALED(p->status));
    cr_assert_neq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strlen(e2e_err(p)) > 0, "no message: %s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "", "nothing may go to stdout: %s", e2e_describe(p));

    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", ns.manifest, "--wait",
                 "0.5", "8123");
    cr_assert(!p->timed_out, "--wait 0.5 did not return: %s", e2e_describe(p));
    cr_assert_neq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strlen(e2e_err(p)) > 0, "no message after the wait ran out: %s", e2e_describe(p));

    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", ns.manifest, "8000");
    cr_assert_eq(e2e_status(p), 0, "the live listener: %s", e2e_describe(p));
}

Test(cli, port_inside_run_needs_no_manifest_option)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    e2e_env_set(&env, "PS", e2e_portshim());
    struct e2e_proc *p = e2e_runl(
        &env, 30000, e2e_portshim(), "run", "--", "/bin/sh", "-c",
        "\"$H/echo-server\" 127.0.0.1 8000 --count 1 --name inside & "
        "r=$(\"$PS\" port --wait 10 8000) || exit 9; echo \"REAL $r\"; "
        "\"$H/client\" 127.0.0.1 \"$r\" direct; wait");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *real = e2e_expect(p, "REAL ", 0);
    cr_assert(real && atoi(real) > 0 && atoi(real) != 8000, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY inside 8000 direct"), "%s", e2e_describe(p));
}

Test(cli, port_does_not_report_a_killed_listener)
{
    struct e2e_ns ns;
    struct e2e_proc *x = listener_8000(&ns);
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest",
                                  ns.manifest, "8000");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    e2e_kill(x, SIGKILL);
    e2e_wait(x, E2E_MS);
    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", ns.manifest, "8000");
    cr_assert_neq(e2e_status(p), 0, "a SIGKILLed listener is still reported: %s",
                  e2e_describe(p));
}

/* ---- portshim report ---------------------------------------------------------- */

Test(cli, report_shows_listeners_and_failures)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env, plain;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    e2e_env_plain(&plain);
    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8000");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
    cr_assert_eq(e2e_status(b), 1, "%s", e2e_describe(b));

    struct e2e_proc *r = e2e_runl(&plain, E2E_MS, e2e_portshim(), "report", "--manifest",
                                  ns.manifest);
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    const char *out = e2e_out(r);
    cr_assert(strstr(out, "8000"), "no virtual port in the report: %s", e2e_describe(r));
    cr_assert(strstr(out, "echo-server"), "the listener's program is not named: %s",
              e2e_describe(r));
    cr_assert(strstr(out, "EADDRINUSE"), "the failed bind is not reported: %s",
              e2e_describe(r));
    cr_assert(strstr(out, "binder"), "the failing program is not named: %s", e2e_describe(r));
    int real = e2e_real_port(ns.manifest, 8000, 0);
    char realstr[16];
    snprintf(realstr, sizeof realstr, "%d", real);
    cr_assert(real > 0 && strstr(out, realstr), "the real port %d is not in the report: %s", real,
              e2e_describe(r));
}

/* ---- every synopsis names every option -------------------------------------- */

/* Whether option opt (e.g. "--worker") appears in text as a whole option
 * name: not as the start of a longer one ("--worker" in "--per-worker"). */
static bool names_option(const char *text, const char *opt)
{
    size_t n = strlen(opt);
    for (const char *p = text; (p = strstr(p, opt)); p++) {
        char before = p == text ? ' ' : p[-1], after = p[n];
        bool word = (after >= 'a' && after <= 'z') || after == '-' ||
                    (after >= '0' && after <= '9');
        if (before != '-' && !(before >= 'a' && before <= 'z') && !word)
            return true;
    }
    return false;
}

/* The options in a command's usage (its --help up to the first blank line):
 * "--name" words and the short -n and -j, each once, into opts. */
static size_t usage_options(const char *help, char opts[][32], size_t max)
{
    const char *end = strstr(help, "\n\n");
    size_t n = 0;
    for (const char *p = help; p < end && *p; p++) {
        bool start = p == help || p[-1] == ' ' || p[-1] == '[' || p[-1] == '|';
        if (!start || p[0] != '-' || !p[1] || p[1] == ' ')
            continue;
        size_t len = 1;
        while (p[len] == '-' || (p[len] >= 'a' && p[len] <= 'z'))
            len++;
        if (len < 2 || len >= 32 || !strncmp(p, "--help", len) || (len == 2 && p[1] == '-'))
            continue;
        char o[32];
        memcpy(o, p, len);
        o[len] = 0;
        bool seen = false;
        for (size_t k = 0; k < n; k++)
            seen |= !strcmp(opts[k], o);
        if (!seen && n < max)
            strcpy(opts[n++], o);
    }
    return n;
}

/* From text, the part about command cmd: from "PREFIXportshim CMDSUFFIX"
 * (the first match after from) to stop. malloc'd. */
static char *section(const char *text, const char *from, const char *prefix, const char *cmd,
                     const char *suffix, const char *stop)
{
    char head[64];
    snprintf(head, sizeof head, "%sportshim %s%s", prefix, cmd, suffix);
    const char *a = strstr(from ? strstr(text, from) : text, head);
    cr_assert(a, "no '%s' in the synopsis", head);
    const char *b = strstr(a + strlen(head), stop);
    size_t len = b ? (size_t)(b - a) : strlen(a);
    char *s = strndup(a, len);
    cr_assert(s);
    return s;
}

/* The man page source with "\-" as "-" (groff's escaped hyphen). */
static char *man_text(const char *path)
{
    const char *raw = e2e_slurp(path);
    char *s = strdup(raw), *w = s;
    cr_assert(s && raw[0], "cannot read %s", path);
    for (const char *r = raw; *r; r++) {
        if (r[0] == '\\' && r[1] == '-')
            r++;
        *w++ = *r;
    }
    *w = 0;
    return s;
}

Test(cli, every_synopsis_names_every_option_of_each_commands_help)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    char root[1100], path[1200];
    snprintf(root, sizeof root, "%s", e2e_portshim());   /* ROOT/scripts/portshim */
    *strrchr(root, '/') = 0;
    *strrchr(root, '/') = 0;
    snprintf(path, sizeof path, "%s/README.md", root);
    char *readme = strdup(e2e_slurp(path));
    snprintf(path, sizeof path, "%s/docs/portshim.1", root);
    char *man = man_text(path);
    struct e2e_proc *top = e2e_runl(&env, 30000, e2e_portshim(), "--help");
    cr_assert_eq(e2e_status(top), 0, "%s", e2e_describe(top));
    char *top_usage = strndup(e2e_out(top), strstr(e2e_out(top), "\n\n") - e2e_out(top));
    static const char *const cmds[] = {"run", "port", "report", "stress"};
    for (size_t c = 0; c < sizeof cmds / sizeof *cmds; c++) {
        struct e2e_proc *h = e2e_runl(&env, 30000, e2e_portshim(), cmds[c], "--help");
        cr_assert_eq(e2e_status(h), 0, "%s", e2e_describe(h));
        char opts[40][32];
        size_t n = usage_options(e2e_out(h), opts, 40);
        cr_assert_geq(n, 3, "%s --help: %s", cmds[c], e2e_out(h));
        char *in_top = section(top_usage, NULL, "", cmds[c], " ", "portshim ");
        char *in_readme = section(readme, "## Commands", "| `", cmds[c], " ", "|\n");
        char *in_man = section(man, ".SH SYNOPSIS", ".B ", cmds[c], "\n", ".br");
        for (size_t k = 0; k < n; k++) {
            cr_expect(names_option(in_top, opts[k]), "portshim --help lacks %s %s", cmds[c],
                      opts[k]);
            cr_expect(names_option(in_readme, opts[k]), "README's Commands table lacks %s %s",
                      cmds[c], opts[k]);
            cr_expect(names_option(in_man, opts[k]), "portshim(1)'s SYNOPSIS lacks %s %s",
                      cmds[c], opts[k]);
        }
        free(in_top);
        free(in_readme);
        free(in_man);
    }
    free(top_usage);
    free(readme);
    free(man);
}
