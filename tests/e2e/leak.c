/* leak.c — listeners left open when the command of `portshim run` exits:
 * reported with their holders, ended with --reap, and only ever those of
 * the run's own namespace. */
#include <criterion/criterion.h>
#include <signal.h>

#include "e2e.h"

TestSuite(leak, .init = e2e_setup, .fini = e2e_teardown, .timeout = 90);

/* Running and not a zombie (the test process may be the reaper of orphans). */
static bool running(int pid)
{
    char path[64], st[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(st, 1, sizeof st - 1, f);
    fclose(f);
    st[n] = 0;
    const char *p = strrchr(st, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* `portshim run [opt] -- sh`: a server on 8000 started in the background
 * (prefix: shell text before its command, e.g. a trap), its pid printed as
 * "PID n", and the shell exits 0 once the server listens — leaving it. */
static struct e2e_proc *leave_a_named_server(const char *opt, const char *prefix,
                                             const char *name, int *pid)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    e2e_env_set(&env, "NAME", name);
    char script[1024];
    snprintf(script, sizeof script,
             "(%s exec \"$H/echo-server\" 127.0.0.1 8000 --name \"$NAME\" --ready-file "
             "\"$PORTSHIM_DIR/ready\" >/dev/null) &\n"
             "echo \"PID $!\"\n"
             "i=0; while [ ! -e \"$PORTSHIM_DIR/ready\" ] && [ $i -lt 500 ]; do sleep 0.02; "
             "i=$((i+1)); done\n"
             "exit 0\n",
             prefix);
    const char *sh = e2e_path("leave.sh");
    e2e_write_file(sh, script, false);
    struct e2e_proc *p = opt ? e2e_runl(&env, 30000, e2e_portshim(), "run", opt, "--",
                                        "/bin/sh", sh)
                             : e2e_runl(&env, 30000, e2e_portshim(), "run", "--", "/bin/sh", sh);
    const char *v = e2e_expect(p, "PID ", 0);
    cr_assert(v && atoi(v) > 0, "no server pid: %s", e2e_describe(p));
    *pid = atoi(v);
    return p;
}

static struct e2e_proc *leave_a_server(const char *opt, const char *prefix, int *pid)
{
    return leave_a_named_server(opt, prefix, "leaky", pid);
}

Test(leak, leaked_listener_is_reported_with_its_pid_and_command_line)
{
    int pid;
    struct e2e_proc *p = leave_a_server(NULL, "", &pid);
    cr_assert_eq(e2e_status(p), 0, "a leak must not change the status: %s", e2e_describe(p));
    const char *err = e2e_err(p);
    const char *line = strstr(err, "portshim: leaked listener 127.0.0.1:8000 (real 127.0.0.1:");
    cr_assert(line, "no leak reported: %s", e2e_describe(p));
    char want[96];
    snprintf(want, sizeof want, "held by pid %d (", pid);
    const char *held = strstr(line, want);
    const char *eol = strchr(line, '\n');
    cr_assert(held && (!eol || held < eol), "the holder pid %d is not named: %s", pid,
              e2e_describe(p));
    cr_assert(strstr(held, "echo-server 127.0.0.1 8000 --name leaky"),
              "the holder's command line is not shown: %s", e2e_describe(p));
    int real = atoi(line + strlen("portshim: leaked listener 127.0.0.1:8000 (real 127.0.0.1:"));
    cr_assert(real > 0 && real != 8000, "%s", e2e_describe(p));
    cr_assert(running(pid), "without --reap the server must be left running");
}

Test(leak, reap_ends_the_processes_holding_leaked_listeners)
{
    int pid;
    struct e2e_proc *p = leave_a_server("--reap", "", &pid);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "leaked listener 127.0.0.1:8000"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "reaped 1 process"), "nothing says what was done: %s",
              e2e_describe(p));
    cr_assert(!running(pid), "pid %d still runs after --reap: %s", pid, e2e_describe(p));
}

/* A command line is any bytes: the warning stays one line. */
Test(leak, a_holder_command_line_with_control_bytes_stays_one_line)
{
    int pid;
    struct e2e_proc *p = leave_a_named_server("--reap", "", "lea\nky\033[2J\x7f", &pid);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *line = strstr(e2e_err(p), "portshim: leaked listener 127.0.0.1:8000");
    cr_assert(line, "no leak reported: %s", e2e_describe(p));
    const char *eol = strchr(line, '\n');
    cr_assert(eol, "%s", e2e_describe(p));
    const char *held = strstr(line, "--name lea?ky?[2J?");
    cr_assert(held && held < eol, "the command line is not one clean line: %s", e2e_describe(p));
    cr_assert(!running(pid), "pid %d still runs after --reap: %s", pid, e2e_describe(p));
}

Test(leak, reap_kills_a_holder_that_ignores_sigterm)
{
    int pid;
    struct e2e_proc *p = leave_a_server("--reap", "trap '' TERM;", &pid);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "SIGKILL"), "no SIGKILL after the ignored SIGTERM: %s",
              e2e_describe(p));
    cr_assert(!running(pid), "pid %d survived --reap: %s", pid, e2e_describe(p));
}

Test(leak, closed_listener_is_not_reported)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    struct e2e_proc *p = e2e_runl(
        &env, 30000, e2e_portshim(), "run", "--reap", "--", "/bin/sh", "-c",
        /* the client only once the server listens: before its bind, 8000 is
         * the machine's real port 8000, which anything may hold */
        "\"$H/echo-server\" 127.0.0.1 8000 --count 1 --name once "
        "--ready-file \"$PORTSHIM_DIR/ready\" & "
        "i=0; while [ ! -e \"$PORTSHIM_DIR/ready\" ] && [ $i -lt 500 ]; do sleep 0.02; "
        "i=$((i+1)); done; "
        "\"$H/client\" 127.0.0.1 8000 hi --retry-ms 10000; rc=$?; wait; exit $rc");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY once 8000 hi"), "%s", e2e_describe(p));
    cr_assert(!strstr(e2e_err(p), "leaked"), "a closed listener was reported: %s",
              e2e_describe(p));
}

/* A server of the namespace started before the run joined it is not the
 * run's leak: it is neither reported nor signalled. */
Test(leak, listener_bound_before_the_run_is_never_touched)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env shim, plain;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&shim, &ns, NULL, NULL);
    e2e_env_plain(&plain);
    struct e2e_proc *s = e2e_startl(&shim, "echo-server", "127.0.0.1", "8000", "--name", "before");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "%s", e2e_describe(s));
    struct e2e_proc *p = e2e_runl(&plain, 30000, e2e_portshim(), "run", "--manifest",
                                  ns.manifest, "--reap", "--", "/bin/true");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(!strstr(e2e_err(p), "leaked"), "the older listener was reported: %s",
              e2e_describe(p));
    cr_assert(running(s->pid), "the older listener's process was signalled: %s",
              e2e_describe(s));
}

/* The manifest names pids; a pid that has exited may by now be another
 * program's. --reap believes a holder only when its environment names the
 * run's manifest: here two listeners are forged into the manifest with
 * every mark of a leak (bound after the start, listening, the socket's
 * inode in the holder's descriptors), one held by a process of the run
 * (its PORTSHIM_MANIFEST, no library), one by a process that never was in
 * the namespace, as a reused pid would be. Only the first is reported and
 * ended. */
Test(leak, reap_never_touches_a_holder_pid_that_is_not_the_namespaces)
{
    e2e_need_lib();
    struct e2e_env env, plain;
    e2e_env_plain(&plain);
    struct e2e_proc *b = e2e_startl(&plain, "sockctl");
    int fd = e2e_cmd_fd(b, "tcp4");
    cr_assert_str_eq(e2e_cmd(b, "bind %d 127.0.0.1 0", fd), "OK");
    cr_assert_str_eq(e2e_cmd(b, "listen %d", fd), "OK");
    int port = 0;
    cr_assert_eq(sscanf(e2e_cmd(b, "name %d", fd), "OK 127.0.0.1 %d", &port), 1);
    char link[64], target[64] = "";
    snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)b->pid, fd);
    cr_assert_gt(readlink(link, target, sizeof target - 1), 0, "%s", link);
    unsigned long long ino = 0;
    cr_assert_eq(sscanf(target, "socket:[%llu]", &ino), 1, "%s", target);

    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    char v[32];
    snprintf(v, sizeof v, "%d", (int)b->pid);
    e2e_env_set(&env, "B_PID", v);
    snprintf(v, sizeof v, "%d", port);
    e2e_env_set(&env, "B_PORT", v);
    snprintf(v, sizeof v, "%llu", ino);
    e2e_env_set(&env, "B_INO", v);
    const char *sh = e2e_path("forge.sh");
    e2e_write_file(sh,
        "D=$PORTSHIM_DIR\n"
        "env -u LD_PRELOAD \"$H/echo-server\" 127.0.0.1 0 --name a >\"$D/a.out\" &\n"
        "a=$!\n"
        "i=0; while ! grep -q READY \"$D/a.out\" && [ $i -lt 500 ]; do sleep 0.02; "
        "i=$((i+1)); done\n"
        "aport=$(sed -n 's/^READY //p' \"$D/a.out\")\n"
        "for f in /proc/$a/fd/*; do l=$(readlink \"$f\"); case $l in socket:*) "
        "aino=$(echo \"$l\" | tr -dc 0-9);; esac; done\n"
        "echo \"A $a\"\n"
        "ts=$(( $(date +%s) + 1 ))\n"
        "ev() { printf '{\"v\":2,\"ev\":\"bind\",\"ts\":%s.0,\"pid\":%s,\"prog\":\"x\","
        "\"sid\":\"%s.1\",\"mode\":\"remap\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\","
        "\"port\":%s,\"raddr\":\"127.0.0.1\",\"rport\":%s,\"ino\":%s}\\n"
        "{\"v\":2,\"ev\":\"listen\",\"ts\":%s.0,\"pid\":%s,\"prog\":\"x\",\"sid\":\"%s.1\","
        "\"ok\":true}\\n' \"$ts\" \"$1\" \"$1\" \"$2\" \"$3\" \"$4\" \"$ts\" \"$1\" \"$1\" "
        ">>\"$PORTSHIM_MANIFEST\"; }\n"
        "ev \"$a\" 8000 \"$aport\" \"$aino\"\n"
        "ev \"$B_PID\" 8001 \"$B_PORT\" \"$B_INO\"\n",
        false);
    struct e2e_proc *p = e2e_runl(&env, 30000, e2e_portshim(), "run", "--reap", "--", "/bin/sh",
                                  sh);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *a = e2e_expect(p, "A ", 0);
    cr_assert(a && atoi(a) > 0, "%s", e2e_describe(p));
    int apid = atoi(a);
    char want[64];
    snprintf(want, sizeof want, "held by pid %d (", apid);
    const char *line = strstr(e2e_err(p), "portshim: leaked listener 127.0.0.1:8000 ");
    cr_assert(line && strstr(line, want), "the run's own holder is not reported: %s",
              e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "reaped 1 process "), "%s", e2e_describe(p));
    cr_assert(!running(apid), "the run's own holder %d still runs: %s", apid, e2e_describe(p));
    cr_assert_null(strstr(e2e_err(p), "127.0.0.1:8001"), "a process outside the namespace was "
                   "reported: %s", e2e_describe(p));
    cr_assert(running(b->pid), "a process outside the namespace was signalled: %s",
              e2e_describe(p));
    const char *r = e2e_cmd(b, "name %d", fd);
    cr_assert(!strncmp(r, "OK ", 3), "it still answers: %s", r);
}

/* Unix mode: a listener closed with no close call (FD_CLOEXEC at an exec)
 * leaves its holder alive and its socket file behind, listened on by none:
 * no leak (the same rule remap mode's kernel check gives). */
Test(leak, unix_mode_listener_closed_by_exec_is_not_reported)
{
    e2e_need_lib();
    if (access("/usr/bin/python3", X_OK))
        e2e_skip("needs /usr/bin/python3");
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_write_file(e2e_path("listen-then-exec.py"),
                   "import os, socket, sys\n"
                   "s = socket.socket(); s.bind(('127.0.0.1', 8000)); s.listen(8)\n"
                   "open(os.environ['PORTSHIM_DIR'] + '/ready', 'w').close()\n"
                   "os.execv('/bin/sleep', ['sleep', '20'])\n", false);
    e2e_env_set(&env, "PY", e2e_path("listen-then-exec.py"));
    struct e2e_proc *p = e2e_runl(
        &env, 30000, e2e_portshim(), "run", "--mode", "unix", "--reap", "--", "/bin/sh", "-c",
        "/usr/bin/python3 \"$PY\" & echo \"PID $!\"; "
        "i=0; while [ ! -e \"$PORTSHIM_DIR/ready\" ] && [ $i -lt 500 ]; do sleep 0.02; "
        "i=$((i+1)); done; exit 0");
    const char *v = e2e_expect(p, "PID ", 0);
    cr_assert(v && atoi(v) > 0, "no pid: %s", e2e_describe(p));
    int pid = atoi(v);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    bool reported = strstr(e2e_err(p), "leaked") != NULL;
    if (running(pid))
        kill(pid, SIGKILL);
    cr_assert(!reported, "a listener closed by exec was reported: %s", e2e_describe(p));
}
