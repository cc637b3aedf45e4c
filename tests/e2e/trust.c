/* trust.c — a namespace's files as a way in: a manifest another user can
 * write, reach through a link, or swap for a FIFO or a device must be
 * refused (the library: one line, status 78; the commands: status 2);
 * socket files named by the manifest are never routed to or unlinked
 * outside PORTSHIM_DIR; and `portshim run --share-with` gives a namespace
 * to exactly one other user or group (README "Sharing a namespace"). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "e2e.h"

/* ---- throwaway users and groups (root only) -------------------------------- */

static char g_user[2][32], g_group[32];

static int sh(const char *cmd)
{
    /* useradd fails while another process holds /etc/passwd's lock: retry,
     * a bounded number of times. */
    for (int i = 0; i < 50; i++) {
        int st = system(cmd);
        if (st == 0)
            return 0;
        usleep(100 * 1000);
    }
    return -1;
}

static void trust_teardown(void)
{
    char cmd[128];
    /* The test's processes first (some run as the throwaway user):
     * userdel refuses a user that still has processes. */
    e2e_teardown();
    for (int i = 0; i < 2; i++)
        if (g_user[i][0]) {
            snprintf(cmd, sizeof cmd, "userdel %s 2>/dev/null", g_user[i]);
            if (sh(cmd))
                fprintf(stderr, "trust: could not remove the throwaway user %s\n", g_user[i]);
            g_user[i][0] = 0;
        }
    if (g_group[0]) {
        snprintf(cmd, sizeof cmd, "groupdel %s 2>/dev/null", g_group);
        if (sh(cmd))
            fprintf(stderr, "trust: could not remove the throwaway group %s\n", g_group);
        g_group[0] = 0;
    }
}

TestSuite(trust, .init = e2e_setup, .fini = trust_teardown, .timeout = 90);

static void need_root(void)
{
    if (geteuid() != 0 || access("/usr/sbin/useradd", X_OK) || access("/usr/bin/setpriv", X_OK))
        e2e_skip("needs root, useradd and setpriv to act as a throwaway user");
}

/* A new user with no home and no group of its own (in group, if given);
 * deleted in the suite's teardown. Returns its name. */
static const char *throwaway_user(int i, const char *group)
{
    char cmd[256];
    snprintf(g_user[i], sizeof g_user[i], "pst%d%c", (int)getpid() % 1000000, 'a' + i);
    snprintf(cmd, sizeof cmd, "useradd -M -N -g nogroup -s /usr/sbin/nologin %s%s %s",
             group ? "-G " : "", group ? group : "", g_user[i]);
    if (sh(cmd)) {
        g_user[i][0] = 0;
        cr_assert_fail("%s failed", cmd);
    }
    return g_user[i];
}

static const char *throwaway_group(void)
{
    char cmd[128];
    snprintf(g_group, sizeof g_group, "psg%d", (int)getpid() % 1000000);
    snprintf(cmd, sizeof cmd, "groupadd %s", g_group);
    if (sh(cmd)) {
        g_group[0] = 0;
        cr_assert_fail("%s failed", cmd);
    }
    return g_group;
}

/* ---- helpers ---------------------------------------------------------------- */

/* A bind under env exits 78 by itself (no hang) with one "portshim:" line
 * naming needle, and never runs unisolated. */
static void binder_refused(const struct e2e_env *env, const char *needle)
{
    struct e2e_proc *b = e2e_runl(env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
    cr_assert(!b->timed_out, "the program hung: %s", e2e_describe(b));
    cr_assert_eq(e2e_status(b), 78, "want exit 78: %s", e2e_describe(b));
    cr_assert(!strstr(e2e_out(b), "OK"), "the program ran: %s", e2e_describe(b));
    cr_assert(!strncmp(e2e_err(b), "portshim: ", 10), "%s", e2e_describe(b));
    cr_assert(strstr(e2e_err(b), needle), "stderr does not say '%s': %s", needle,
              e2e_describe(b));
    cr_assert_eq(e2e_lines(e2e_err(b)), 1, "want one line: %s", e2e_describe(b));
}

/* A portshim command exits 2 by itself with one line saying needle. */
static void command_refused(struct e2e_proc *p, const char *needle)
{
    cr_assert(!p->timed_out, "the command hung: %s", e2e_describe(p));
    cr_assert_eq(e2e_status(p), 2, "want exit 2: %s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), needle), "stderr does not say '%s': %s", needle,
              e2e_describe(p));
    cr_assert_eq(e2e_lines(e2e_err(p)), 1, "want one line: %s", e2e_describe(p));
}

static void append(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    cr_assert(write_all(fd, text, strlen(text)) == 0);
    close(fd);
}

/* A pid that is certainly dead: a child that has exited and been reaped. */
static int dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return (int)p;
}

/* A forged claim of port 8000: bound, listening, by pid, at rpath. */
static void forge(const char *manifest, int pid, const char *sid, const char *rpath)
{
    char line[1024];
    snprintf(line, sizeof line,
             "{\"v\":1,\"ev\":\"bind\",\"ts\":1,\"pid\":%d,\"prog\":\"x\",\"sid\":\"%s\","
             "\"mode\":\"unix\",\"ok\":true,\"fam\":4,\"addr\":\"127.0.0.1\",\"port\":8000,"
             "\"rpath\":\"%s\",\"reuseaddr\":false,\"reuseport\":false,\"uid\":0}\n"
             "{\"v\":1,\"ev\":\"listen\",\"ts\":1,\"pid\":%d,\"prog\":\"x\",\"sid\":\"%s\","
             "\"ok\":true}\n", pid, sid, rpath, pid, sid);
    append(manifest, line);
}

/* ---- the library ---------------------------------------------------------- */

Test(trust, library_refuses_a_manifest_others_may_write)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    chmod(ns.manifest, 0666);
    binder_refused(&env, "PORTSHIM_MANIFEST");
    binder_refused(&env, "writable by others");
    chmod(ns.manifest, 0620);
    binder_refused(&env, "writable by group");
    chmod(ns.manifest, 0600);
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
    cr_assert_eq(e2e_status(b), 0, "a private manifest must work: %s", e2e_describe(b));
}

Test(trust, library_refuses_a_manifest_reached_through_a_symlink)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    const char *link = e2e_path("ns/link.jsonl");
    cr_assert_eq(symlink(ns.manifest, link), 0);
    e2e_env_set(&env, "PORTSHIM_MANIFEST", link);
    binder_refused(&env, "symbolic link");
    cr_assert_str_eq(e2e_slurp(ns.manifest), "", "the link's target was written");
    /* a dangling link is not followed to create its target either */
    const char *dangling = e2e_path("ns/dangling.jsonl");
    cr_assert_eq(symlink(e2e_path("ns/created-through-link"), dangling), 0);
    e2e_env_set(&env, "PORTSHIM_MANIFEST", dangling);
    binder_refused(&env, "symbolic link");
    cr_assert(!e2e_exists(e2e_path("ns/created-through-link")));
}

/* The descriptor number of the manifest in process pid, or -1. */
static int manifest_fd_of(int pid, const char *manifest)
{
    for (int fd = 3; fd < 1024; fd++) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/%d/fd/%d", pid, fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = 0;
            if (!strcmp(target, manifest))
                return fd;
        }
    }
    return -1;
}

Test(trust, a_reopen_of_the_manifest_is_judged_like_the_first_open)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    struct e2e_proc *x = e2e_startl(&env, "sockctl");
    int a = e2e_cmd_fd(x, "tcp4");
    cr_assert_str_eq(e2e_cmd(x, "bind %d 127.0.0.1 8000", a), "OK");
    const char *pid = e2e_cmd(x, "pid");
    cr_assert(!strncmp(pid, "OK ", 3), "%s", pid);
    int mfd = manifest_fd_of(atoi(pid + 3), ns.manifest);
    cr_assert(mfd >= 0, "the manifest is not open in sockctl");
    /* Someone replaces the manifest by a link to a file of theirs, and the
     * program closes the shim's descriptor (closefrom-style). */
    const char *target = e2e_path("target.txt");
    e2e_write_file(target, "", false);
    cr_assert_eq(rename(ns.manifest, e2e_path("ns/old.jsonl")), 0);
    cr_assert_eq(symlink(target, ns.manifest), 0);
    cr_assert_str_eq(e2e_cmd(x, "close %d", mfd), "OK");
    int b = e2e_cmd_fd(x, "tcp4");
    e2e_cmd(x, "bind %d 127.0.0.1 8001", b);
    e2e_close_stdin(x);
    cr_assert(e2e_wait(x, E2E_MS), "%s", e2e_describe(x));
    cr_assert_str_eq(e2e_slurp(target), "", "the shim wrote through the link");
    cr_assert(strstr(e2e_err(x), "symbolic link (not followed): cannot reopen it"), "%s",
              e2e_describe(x));
    cr_assert_eq(e2e_lines(e2e_err(x)), 1, "%s", e2e_describe(x));
}

Test(trust, library_refuses_non_regular_manifests_without_hanging)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    const char *fifo = e2e_path("ns/fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    const char *files[] = {"/dev/null", "/dev/zero", "/dev/full", fifo};
    for (size_t i = 0; i < 4; i++) {
        e2e_env_set(&env, "PORTSHIM_MANIFEST", files[i]);
        binder_refused(&env, "not a regular file");
    }
}

Test(trust, library_refuses_a_manifest_of_another_user)
{
    e2e_need_lib();
    need_root();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    struct passwd *pw = getpwnam(throwaway_user(0, NULL));
    cr_assert(pw);
    cr_assert_eq(chown(ns.manifest, pw->pw_uid, (gid_t)-1), 0);
    binder_refused(&env, "is owned by uid");
    /* ... unless the namespace is shared with that user */
    char uid[16];
    snprintf(uid, sizeof uid, "%ld", (long)pw->pw_uid);
    e2e_env_set(&env, "PORTSHIM_SHARE_UID", uid);
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
    cr_assert_eq(e2e_status(b), 0, "%s", e2e_describe(b));
}

Test(trust, unix_mode_refuses_a_missing_or_open_socket_directory_at_activation)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "unix", NULL);
    e2e_env_set(&env, "PORTSHIM_DIR", e2e_path("no-such-dir"));
    binder_refused(&env, "PORTSHIM_DIR");
    /* checked at the first socket call, not before main */
    struct e2e_proc *t = e2e_runl(&env, E2E_MS, "/bin/true");
    cr_assert_eq(e2e_status(t), 0, "%s", e2e_describe(t));

    e2e_env_set(&env, "PORTSHIM_DIR", ns.dir);
    chmod(ns.dir, 0777);
    binder_refused(&env, "writable by others");
    chmod(ns.dir, 0700);
    const char *link = e2e_path("dirlink");
    cr_assert_eq(symlink(ns.dir, link), 0);
    e2e_env_set(&env, "PORTSHIM_DIR", link);
    binder_refused(&env, "symbolic link");
}

Test(trust, empty_or_relative_variables_exit_78)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    const char *empty[] = {"PORTSHIM_MODE", "PORTSHIM_LOG", "PORTSHIM_PORTS", "PORTSHIM_DIR",
                           "PORTSHIM_INJECT", "PORTSHIM_SEED"};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        e2e_env_shim(&env, &ns, NULL, NULL);
        e2e_env_set(&env, empty[i], "");
        binder_refused(&env, empty[i]);
        struct e2e_proc *t = e2e_runl(&env, E2E_MS, "/bin/true");
        cr_assert_eq(e2e_status(t), 78, "checked before main: %s", e2e_describe(t));
    }
    e2e_env_shim(&env, &ns, NULL, NULL);
    e2e_env_set(&env, "PORTSHIM_MANIFEST", "ns/manifest.jsonl");
    binder_refused(&env, "not an absolute path");
    e2e_env_shim(&env, &ns, "unix", NULL);
    e2e_env_set(&env, "PORTSHIM_DIR", "ns");
    binder_refused(&env, "not an absolute path");
}

/* ---- what the manifest names ---------------------------------------------- */

Test(trust, a_forged_socket_path_outside_the_namespace_is_never_routed_to)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, "unix", "8000");
    /* Someone else's listener, outside PORTSHIM_DIR, held by a live pid
     * (this test's), claimed for port 8000 by a forged line. */
    const char *evil = e2e_path("evil.sock");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    snprintf(su.sun_path, sizeof su.sun_path, "%s", evil);
    cr_assert_eq(bind(s, (struct sockaddr *)&su, sizeof su), 0, "%s", strerror(errno));
    cr_assert_eq(listen(s, 8), 0);
    forge(ns.manifest, (int)getpid(), "1.1", evil);

    struct e2e_proc *c = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", "8000");
    /* 8000 is strictly virtual and nobody of the namespace serves it. */
    cr_assert_eq(e2e_status(c), 3, "want ECONNREFUSED: %s", e2e_describe(c));
    cr_assert(strstr(e2e_err(c), "not in PORTSHIM_DIR"), "%s", e2e_describe(c));
    cr_assert_eq(e2e_lines(e2e_err(c)), 1, "%s", e2e_describe(c));
    /* portshim port does not hand it out either */
    struct e2e_env plain;
    e2e_env_plain(&plain);
    struct e2e_proc *p = e2e_runl(&plain, E2E_MS, e2e_portshim(), "port", "--manifest",
                                  ns.manifest, "8000");
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    cr_assert(!strstr(e2e_out(p), "evil"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "not in the namespace's directory"), "%s", e2e_describe(p));
    close(s);
}

Test(trust, retiring_a_stale_entry_never_unlinks_what_the_manifest_names)
{
    e2e_need_lib();
    const char *modes[] = {"unix", "remap"};
    for (int m = 0; m < 2; m++) {
        struct e2e_ns ns;
        struct e2e_env env;
        char name[16];
        snprintf(name, sizeof name, "ns%d", m);
        e2e_ns_new(&ns, name);
        e2e_env_shim(&env, &ns, modes[m], NULL);
        /* Victims: a file outside the namespace, a regular file and a
         * symbolic link inside it (where socket files live). */
        const char *out = e2e_path("victim-%d.txt", m);
        const char *in = e2e_path("%s/victim.txt", name);
        const char *lnk = e2e_path("%s/9999@127.0.0.1", name);
        e2e_write_file(out, "keep\n", false);
        e2e_write_file(in, "keep\n", false);
        cr_assert_eq(symlink(out, lnk), 0);
        forge(ns.manifest, dead_pid(), "1.1", out);
        forge(ns.manifest, dead_pid(), "1.2", in);
        forge(ns.manifest, dead_pid(), "1.3", lnk);
        struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
        cr_assert_eq(e2e_status(b), 0, "%s: %s", modes[m], e2e_describe(b));
        cr_assert_str_eq(e2e_slurp(out), "keep\n", "%s: %s was removed", modes[m], out);
        cr_assert_str_eq(e2e_slurp(in), "keep\n", "%s: %s was removed", modes[m], in);
        struct stat st;
        cr_assert(lstat(lnk, &st) == 0 && S_ISLNK(st.st_mode), "%s: %s was removed", modes[m],
                  lnk);
    }
}

/* ---- the commands ----------------------------------------------------------- */

Test(trust, run_refuses_a_manifest_it_must_not_trust)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *fifo = e2e_path("fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", fifo, "--",
                                  "/bin/true");
    command_refused(r, "not a regular file");

    const char *target = e2e_path("target.txt"), *link = e2e_path("link.jsonl");
    e2e_write_file(target, "mine\n", false);
    cr_assert_eq(symlink(target, link), 0);
    r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", link, "--", "/bin/true");
    command_refused(r, "symbolic link");
    cr_assert_str_eq(e2e_slurp(target), "mine\n", "run wrote through the link");

    const char *open_ = e2e_path("open.jsonl");
    e2e_write_file(open_, "", false);
    chmod(open_, 0666);
    r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", open_, "--", "/bin/true");
    command_refused(r, "writable by others");
    cr_assert_str_eq(e2e_slurp(open_), "", "run wrote to it");
}

Test(trust, run_refuses_a_manifest_of_another_user)
{
    e2e_need_lib();
    need_root();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct passwd *pw = getpwnam(throwaway_user(0, NULL));
    cr_assert(pw);
    const char *m = e2e_path("theirs.jsonl");
    e2e_write_file(m, "", false);
    cr_assert_eq(chown(m, pw->pw_uid, (gid_t)-1), 0);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--",
                                  "/bin/true");
    command_refused(r, "is owned by uid");

    /* Reading it: report warns and reads; port warns too. */
    r = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest", m);
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "is owned by uid"), "%s", e2e_describe(r));
    r = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", m, "8000");
    cr_assert_eq(e2e_status(r), 1, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "is owned by uid"), "%s", e2e_describe(r));
}

Test(trust, run_does_not_hang_when_its_manifest_became_a_fifo)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    /* The leak check at exit reads the manifest again. */
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--", "/bin/sh", "-c",
                                  "rm \"$PORTSHIM_MANIFEST\" && mkfifo \"$PORTSHIM_MANIFEST\"");
    cr_assert(!r->timed_out, "run hung: %s", e2e_describe(r));
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "leak check: cannot read manifest"), "%s", e2e_describe(r));
}

Test(trust, port_and_report_refuse_non_regular_files_without_hanging)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *fifo = e2e_path("fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    const char *files[] = {fifo, "/dev/zero", "/dev/full"};
    for (size_t i = 0; i < 3; i++) {
        struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest",
                                      files[i]);
        command_refused(r, "not a regular file");
        r = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", files[i], "8000");
        command_refused(r, "not a regular file");
        r = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", files[i], "--wait",
                     "1", "8000");
        command_refused(r, "not a regular file");
    }
}

Test(trust, port_refuses_a_manifest_others_may_write_and_report_warns)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("open.jsonl");
    e2e_write_file(m, "", false);
    chmod(m, 0666);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", m, "8000");
    command_refused(r, "writable by others");
    r = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest", m);
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "writable by others"), "%s", e2e_describe(r));
}

/* ---- small input handling --------------------------------------------------- */

Test(trust, an_option_given_twice_is_a_usage_error)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    e2e_write_file(m, "", false);
    chmod(m, 0600);
    const char *const cases[][10] = {
        {"run", "--mode", "unix", "--mode", "remap", "--", "/bin/true"},
        {"run", "--mode=unix", "--mode=remap", "--", "/bin/true"},
        {"run", "--manifest", m, "--manifest", m, "--", "/bin/true"},
        {"run", "--ports", "1", "--ports", "2", "--", "/bin/true"},
        {"run", "--inject", "connect-refused=1%", "--inject", "connect-refused=2%", "--",
         "/bin/true"},
        {"run", "--seed", "1", "--seed", "2", "--", "/bin/true"},
        {"run", "--reap", "--reap", "--", "/bin/true"},
        {"port", "--manifest", m, "--manifest", m, "8000"},
        {"port", "--manifest", m, "--wait", "1", "--wait", "2", "8000"},
        {"report", "--manifest", m, "--manifest", m},
        {"report", "--manifest", m, "--json", "--json"},
        {"stress", "-n", "1", "--runs", "2", "--", "/bin/true"},
        {"stress", "-j", "1", "-j", "2", "--", "/bin/true"},
        {"stress", "--timeout", "1", "--timeout", "2", "--", "/bin/true"},
        {"stress", "--mode", "unix", "--mode", "remap", "--", "/bin/true"},
        {"stress", "--ports", "1", "--ports", "2", "--", "/bin/true"},
        {"stress", "--seed", "1", "--seed", "2", "--", "/bin/true"},
        {"stress", "--inject", "connect-refused=1%", "--inject", "connect-refused=1%", "--",
         "/bin/true"},
        {"run", "--per-worker", "--per-worker", "--", "/bin/true"},
        {"run", "--per-worker=A", "--per-worker=B", "--", "/bin/true"},
        {"run", "--share-with", "root", "--share-with", "root", "--", "/bin/true"},
        {"port", "--manifest", m, "--worker", "a", "--worker", "b", "8000"},
        {"port", "--manifest", m, "--all", "--all", "8000"},
        {"report", "--manifest", m, "--worker", "a", "--worker", "b"},
        {"report", "--manifest", m, "--html", "a.html", "--html", "b.html"},
        {"stress", "--per-worker", "--per-worker=A", "--", "/bin/true"},
        {"stress", "--shard", "1/2", "--shard", "2/2", "--", "/bin/true"},
        {"stress", "--for", "1s", "--for", "2s", "--", "/bin/true"},
        {"stress", "--until-fail", "--until-fail", "--", "/bin/true"},
        {"stress", "--results", "a", "--results", "b", "--", "/bin/true"},
        {"stress", "--junit", "a", "--junit", "b", "--", "/bin/true"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *argv[12] = {e2e_portshim()};
        for (int k = 0; cases[i][k]; k++)
            argv[k + 1] = cases[i][k];
        struct e2e_proc *r = e2e_run(&env, E2E_MS, argv);
        cr_assert_eq(e2e_status(r), 2, "case %zu: %s", i, e2e_describe(r));
        cr_assert(strstr(e2e_err(r), "given twice"), "case %zu: %s", i, e2e_describe(r));
    }
}

Test(trust, run_manifest_followed_by_double_dash_is_a_missing_value)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *dir = e2e_path("cwd");
    cr_assert_eq(mkdir(dir, 0700), 0);
    const char *sh = "cd \"$1\" && exec \"$2\" run --manifest -- /bin/true";
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, "/bin/sh", "-c", sh, "sh", dir, e2e_portshim());
    cr_assert_eq(e2e_status(r), 2, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "--manifest needs a value"), "%s", e2e_describe(r));
    cr_assert(!e2e_exists(e2e_path("cwd/--")), "a manifest named '--' was created");
}

Test(trust, run_makes_a_relative_manifest_absolute_for_the_library)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *sh = "cd \"$1\" && exec \"$2\" run --mode unix --manifest ns.jsonl -- "
                     "/bin/sh -c 'echo \"$PORTSHIM_MANIFEST $PORTSHIM_DIR\"'";
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, "/bin/sh", "-c", sh, "sh", e2e_tmp(),
                                  e2e_portshim());
    char want[2 * PATH_MAX + 32];
    char real[PATH_MAX];
    cr_assert(realpath(e2e_tmp(), real));
    snprintf(want, sizeof want, "%s/ns.jsonl %s/ns.jsonl.d\n", real, real);
    cr_assert_str_eq(e2e_out(r), want, "%s", e2e_describe(r));
}

Test(trust, a_negative_injected_delay_says_what_is_wrong)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--inject",
                                  "accept-delay=-1ms", "--", "/bin/true");
    command_refused(r, "cannot be negative");
    r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--inject", "accept-delay=1ms-", "--",
                 "/bin/true");
    command_refused(r, "no upper end");
}

Test(trust, eaddrinuse_warnings_inside_the_namespace_are_rate_limited)
{
    e2e_need_lib();
    if (access("/usr/bin/python3", X_OK))
        e2e_skip("needs /usr/bin/python3");
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8000");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "%s", e2e_describe(s));
    const char *py = "import socket\n"
                     "n = 0\n"
                     "for i in range(150):\n"
                     "    t = socket.socket()\n"
                     "    try: t.bind(('127.0.0.1', 8000))\n"
                     "    except OSError: n += 1\n"
                     "    t.close()\n"
                     "print('FAILED', n)\n";
    struct e2e_proc *p = e2e_runl(&env, 60000, "/usr/bin/python3", "-c", py);
    cr_assert_str_eq(e2e_out(p), "FAILED 150\n", "%s", e2e_describe(p));
    int lines = e2e_lines(e2e_err(p));
    cr_assert_eq(lines, 101, "want 100 holder lines and one saying the rest are not printed, "
                 "got %d: %s", lines, e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "further ones are only in the manifest"), "%s",
              e2e_describe(p));
    /* every failure is still recorded, with its holder */
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    size_t with_holder = 0;
    for (size_t i = 0; i < ev.n; i++)
        with_holder += ev.v[i].ev == PS_EV_BIND && !ev.v[i].ok && ev.v[i].hpid > 0;
    cr_assert_eq(with_holder, 150, "failed binds naming their holder: %zu", with_holder);
    e2e_events_free(&ev);
}

/* ---- run --share-with ------------------------------------------------------- */

/* The PostgreSQL shape: a root run whose server drops to another user
 * (runuser -u postgres --; setpriv here, which also runs under the ASan
 * build's preloaded library, where runuser crashes), and a client of the
 * run that reaches it; and the run's own server reached by a client of
 * that user. */
static void shared_server_is_reached_in(const char *mode, const char *share, const char *user,
                                       bool worker)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    /* With --per-worker, every process of the script is worker gw0: the
     * sub-namespace must be shared as the run's own is. */
    if (worker)
        e2e_env_set(&env, "PYTEST_XDIST_WORKER", "gw0");
    e2e_env_set(&env, "H", e2e_build());
    e2e_env_set(&env, "U", user);
    const char *script =
        /* the run's own server first: its bind makes the connect counters
         * (MANIFEST.cnt), which the shared user must still be able to use */
        "\"$H/helpers/echo-server\" 127.0.0.1 8001 --name R >\"$TMPDIR/own.log\" 2>&1 &\n"
        "setpriv --reuid=\"$U\" --regid=nogroup --init-groups -- \"$H/helpers/echo-server\" 127.0.0.1 8000 --name S "
        ">\"$TMPDIR/server.log\" 2>&1 &\n"
        "\"$H/helpers/client\" 127.0.0.1 8000 --retry-ms 10000; st=$?\n"
        /* and the other way: the run's own server, that user's client */
        "setpriv --reuid=\"$U\" --regid=nogroup --init-groups -- \"$H/helpers/client\" 127.0.0.1 8001 --retry-ms 10000 "
        "|| st=1\n"
        "if setpriv --reuid=nobody --regid=nogroup --clear-groups cat \"$PORTSHIM_MANIFEST\" >/dev/null 2>&1; then "
        "echo NOBODY-READ; fi\n"
        "cat \"$TMPDIR/server.log\" \"$TMPDIR/own.log\" >&2; exit $st\n";
    struct e2e_proc *r =
        worker ? e2e_runl(&env, 30000, e2e_portshim(), "run", "--mode", mode, "--reap",
                          "--per-worker", "--share-with", share, "--", "/bin/sh", "-c", script)
               : e2e_runl(&env, 30000, e2e_portshim(), "run", "--mode", mode, "--reap",
                          "--share-with", share, "--", "/bin/sh", "-c", script);
    cr_assert_eq(e2e_status(r), 0, "%s: %s", mode, e2e_describe(r));
    cr_assert(strstr(e2e_out(r), "REPLY S 8000 hello"), "%s: %s", mode, e2e_describe(r));
    cr_assert(strstr(e2e_out(r), "REPLY R 8001 hello"), "%s: %s", mode, e2e_describe(r));
    cr_assert(!strstr(e2e_out(r), "NOBODY-READ"), "a third user read the manifest: %s",
              e2e_describe(r));
    cr_assert(!strstr(e2e_err(r), "status 78"), "%s", e2e_describe(r));
    cr_assert(!strstr(e2e_err(r), "connect counters"), "the counters are not shared: %s: %s",
              mode, e2e_describe(r));
}

static void shared_server_is_reached(const char *mode, const char *share, const char *user)
{
    shared_server_is_reached_in(mode, share, user, false);
}

Test(trust, a_shared_run_shares_each_workers_sub_namespace_too)
{
    e2e_need_lib();
    need_root();
    const char *g = throwaway_group();
    const char *u = throwaway_user(0, NULL);
    const char *gu = throwaway_user(1, g);
    shared_server_is_reached_in("remap", u, u, true);
    shared_server_is_reached_in("unix", u, u, true);
    shared_server_is_reached_in("remap", g, gu, true);
    shared_server_is_reached_in("unix", g, gu, true);
}

Test(trust, a_server_dropping_to_the_shared_user_joins_the_namespace)
{
    e2e_need_lib();
    need_root();
    const char *u = throwaway_user(0, NULL);
    char want[64];
    shared_server_is_reached("remap", u, u);
    shared_server_is_reached("unix", u, u);
    /* the manifest is that user's, private */
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--share-with", u, "--",
                                  "/bin/sh", "-c", "stat -c '%a %U' \"$PORTSHIM_MANIFEST\"; "
                                  "echo \"$PORTSHIM_SHARE_UID\"");
    snprintf(want, sizeof want, "600 %s\n%ld\n", u, (long)getpwnam(u)->pw_uid);
    cr_assert_str_eq(e2e_out(r), want, "%s", e2e_describe(r));
}

Test(trust, a_server_of_the_shared_group_joins_the_namespace)
{
    e2e_need_lib();
    need_root();
    const char *g = throwaway_group();
    const char *u = throwaway_user(0, g);
    shared_server_is_reached("remap", g, u);
    shared_server_is_reached("unix", g, u);
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--share-with", g, "--",
                                  "/bin/sh", "-c", "stat -c '%a %G' \"$PORTSHIM_MANIFEST\"");
    char want[64];
    snprintf(want, sizeof want, "660 %s\n", g);
    cr_assert_str_eq(e2e_out(r), want, "%s", e2e_describe(r));
}

Test(trust, without_share_with_a_server_that_drops_to_another_user_is_refused)
{
    e2e_need_lib();
    need_root();
    const char *u = throwaway_user(0, NULL);
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_build());
    e2e_env_set(&env, "U", u);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--", "/bin/sh", "-c",
                                  "setpriv --reuid=\"$U\" --regid=nogroup --init-groups -- \"$H/helpers/echo-server\" 127.0.0.1 8000");
    cr_assert_eq(e2e_status(r), 78, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "PORTSHIM_MANIFEST"), "%s", e2e_describe(r));
    /* and --share-with a user needs root */
    r = e2e_runl(&env, E2E_MS, "/usr/bin/setpriv", "--reuid", u, "--regid=nogroup",
                 "--init-groups", e2e_portshim(), "run", "--share-with", "root", "--",
                 "/bin/true");
    cr_assert_eq(e2e_status(r), 2, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "needs root"), "%s", e2e_describe(r));
}
