/* test_config.c — PORTSHIM_* parsing: defaults, every value, and errors that
 * name the variable and the value (README "Environment"). */
#include <criterion/criterion.h>
#include <string.h>

#include "core/config.h"
#include "core/testfail.h"

/* A fake environment: ps_getenv_fn takes no context, so the table is global
 * (each Criterion test runs in its own process). */
struct kv { const char *k, *v; };
static const struct kv *g_env;

static const char *fake_getenv(const char *name)
{
    for (const struct kv *p = g_env; p && p->k; p++)
        if (!strcmp(p->k, name))
            return p->v;
    return NULL;
}

static struct ps_config cfg;
static char err[512];

static int load(const struct kv *env)
{
    g_env = env;
    memset(err, 0, sizeof err);
    memset(&cfg, 0x5a, sizeof cfg);  /* load must initialise every field */
    return ps_config_load(&cfg, fake_getenv, err, sizeof err);
}

#define MANIFEST {"PORTSHIM_MANIFEST", "/tmp/ns/manifest"}

static void assert_error_names(const char *what)
{
    cr_assert(strstr(err, what), "error '%s' does not contain '%s'", err, what);
    cr_assert_null(strchr(err, '\n'), "error is not one line: '%s'", err);
}

Test(config, defaults_are_remap_mode_and_warn_level)
{
    const struct kv env[] = {MANIFEST, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(cfg.mode, PS_MODE_REMAP);
    cr_assert_eq(cfg.log, PS_LOG_WARN);
    cr_assert_str_eq(cfg.manifest, "/tmp/ns/manifest");
    cr_assert_str_eq(cfg.dir, "");
    cr_assert_eq(cfg.ports.n, 0);
}

Test(config, set_but_empty_variables_are_errors_naming_them)
{
    const char *names[] = {"PORTSHIM_MODE", "PORTSHIM_LOG", "PORTSHIM_PORTS", "PORTSHIM_DIR",
                           "PORTSHIM_INJECT", "PORTSHIM_SEED", "PORTSHIM_SHARE_UID",
                           "PORTSHIM_SHARE_GID", "PORTSHIM_TEST_FAIL"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const struct kv env[] = {MANIFEST, {names[i], ""}, {0}};
        cr_assert_eq(load(env), -1, "%s='' accepted", names[i]);
        assert_error_names(names[i]);
        assert_error_names("empty");
    }
}

Test(config, relative_manifest_or_dir_is_an_error)
{
    const struct kv m[] = {{"PORTSHIM_MANIFEST", "ns/manifest.jsonl"}, {0}};
    cr_assert_eq(load(m), -1);
    assert_error_names("PORTSHIM_MANIFEST='ns/manifest.jsonl': not an absolute path");
    const struct kv d[] = {MANIFEST, {"PORTSHIM_DIR", "./ns"}, {0}};
    cr_assert_eq(load(d), -1);
    assert_error_names("PORTSHIM_DIR='./ns': not an absolute path");
}

Test(config, share_ids_are_parsed_and_default_to_none)
{
    const struct kv none[] = {MANIFEST, {0}};
    cr_assert_eq(load(none), 0, "%s", err);
    cr_assert_eq(cfg.share_uid, -1);
    cr_assert_eq(cfg.share_gid, -1);
    const struct kv both[] = {MANIFEST, {"PORTSHIM_SHARE_UID", "1001"},
                              {"PORTSHIM_SHARE_GID", "0"}, {0}};
    cr_assert_eq(load(both), 0, "%s", err);
    cr_assert_eq(cfg.share_uid, 1001);
    cr_assert_eq(cfg.share_gid, 0);
    const char *bad[] = {"-1", "abc", "4294967295", "1 ", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const struct kv env[] = {MANIFEST, {"PORTSHIM_SHARE_UID", bad[i]}, {0}};
        cr_assert_eq(load(env), -1, "'%s' accepted", bad[i]);
        assert_error_names("PORTSHIM_SHARE_UID='");
    }
}

Test(config, mode_remap)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_MODE", "remap"}, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(cfg.mode, PS_MODE_REMAP);
}

Test(config, mode_unix)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_MODE", "unix"}, {"PORTSHIM_DIR", "/tmp/ns"}, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(cfg.mode, PS_MODE_UNIX);
}

Test(config, mode_unix_without_dir_is_an_error)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_MODE", "unix"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_DIR");
}

Test(config, mode_observe)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_MODE", "observe"}, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(cfg.mode, PS_MODE_OBSERVE);
}

Test(config, bad_mode_fails_naming_variable_and_value)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_MODE", "fast"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_MODE='fast'");
}

Test(config, mode_is_an_exact_word)
{
    const char *bad[] = {"Remap", "remap ", "remapx", "unix\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct kv env[] = {MANIFEST, {"PORTSHIM_MODE", bad[i]}, {0}};
        cr_assert_eq(load(env), -1, "mode '%s' accepted", bad[i]);
        assert_error_names("PORTSHIM_MODE='");
    }
}

Test(config, bad_mode_fails_even_without_manifest)
{
    const struct kv env[] = {{"PORTSHIM_MODE", "fast"}, {0}};
    cr_assert_eq(load(env), -1);
    cr_assert_neq(err[0], 0);
}

Test(config, missing_manifest_fails_naming_it)
{
    const struct kv env[] = {{"PORTSHIM_MODE", "remap"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_MANIFEST");
}

Test(config, empty_manifest_fails_naming_it)
{
    const struct kv env[] = {{"PORTSHIM_MANIFEST", ""}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_MANIFEST");
}

Test(config, too_long_manifest_path_fails_naming_it)
{
    static char path[PS_PATH_MAX + 1];
    memset(path, 'a', PS_PATH_MAX);
    path[0] = '/';
    path[PS_PATH_MAX] = 0;                      /* PS_PATH_MAX bytes: one too many */
    const struct kv env[] = {{"PORTSHIM_MANIFEST", path}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_MANIFEST");
}

Test(config, longest_manifest_path_that_fits_is_kept_whole)
{
    static char path[PS_PATH_MAX];
    memset(path, 'b', PS_PATH_MAX - 1);
    path[0] = '/';
    path[PS_PATH_MAX - 1] = 0;                  /* PS_PATH_MAX-1 bytes + NUL */
    const struct kv env[] = {{"PORTSHIM_MANIFEST", path}, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_str_eq(cfg.manifest, path);
}

Test(config, dir_is_copied)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_DIR", "/tmp/ns"}, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_str_eq(cfg.dir, "/tmp/ns");
}

Test(config, too_long_dir_fails_naming_it)
{
    static char path[PS_PATH_MAX + 1];
    memset(path, 'd', PS_PATH_MAX);
    path[PS_PATH_MAX] = 0;
    const struct kv env[] = {MANIFEST, {"PORTSHIM_DIR", path}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_DIR");
}

Test(config, ports_spec_is_parsed)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_PORTS", "80,8000-8100"}, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(cfg.ports.n, 2);
    cr_assert_eq(cfg.ports.r[0].lo, 80);
    cr_assert_eq(cfg.ports.r[0].hi, 80);
    cr_assert_eq(cfg.ports.r[1].lo, 8000);
    cr_assert_eq(cfg.ports.r[1].hi, 8100);
}

Test(config, bad_ports_spec_fails_naming_variable_and_value)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_PORTS", "8000-80"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_PORTS='8000-80'");
}

Test(config, log_levels)
{
    const struct { const char *s; enum ps_loglevel l; } t[] = {
        {"error", PS_LOG_ERROR}, {"warn", PS_LOG_WARN},
        {"info", PS_LOG_INFO}, {"debug", PS_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const struct kv env[] = {MANIFEST, {"PORTSHIM_LOG", t[i].s}, {0}};
        cr_assert_eq(load(env), 0, "%s: %s", t[i].s, err);
        cr_assert_eq(cfg.log, t[i].l, "PORTSHIM_LOG=%s", t[i].s);
    }
}

Test(config, bad_log_level_fails_naming_variable_and_value)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_LOG", "verbose"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_LOG='verbose'");
}

Test(config, error_is_cut_to_errlen)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_MODE", "fast"}, {0}};
    char small[16 + 8];
    memset(small, '#', sizeof small);
    g_env = env;
    cr_assert_eq(ps_config_load(&cfg, fake_getenv, small, 16), -1);
    cr_assert_eq(strlen(small), 15);
    for (size_t i = 16; i < sizeof small; i++)
        cr_assert_eq(small[i], '#', "byte %zu past errlen written", i);
}

Test(config, mode_names_round_trip)
{
    enum ps_mode modes[] = {PS_MODE_REMAP, PS_MODE_UNIX, PS_MODE_OBSERVE};
    for (size_t i = 0; i < 3; i++) {
        enum ps_mode m = (enum ps_mode)-1;
        cr_assert_eq(ps_mode_parse(ps_mode_name(modes[i]), &m), 0);
        cr_assert_eq(m, modes[i]);
    }
    cr_assert_str_eq(ps_mode_name(PS_MODE_UNIX), "unix");
    enum ps_mode m = PS_MODE_UNIX;
    cr_assert_eq(ps_mode_parse("pass", &m), -1);
    cr_assert_eq(m, PS_MODE_UNIX, "a failed parse must not change the mode");
}

Test(config, error_is_one_line_whatever_the_value_holds)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_PORTS", "80\n,\r90"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_PORTS='80?,?90'");
    const struct kv env2[] = {MANIFEST, {"PORTSHIM_LOG", "warn\n"}, {0}};
    cr_assert_eq(load(env2), -1);
    assert_error_names("PORTSHIM_LOG='warn?'");
}

Test(config, inject_and_seed_default_off_and_zero)
{
    const struct kv env[] = {MANIFEST, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert(!cfg.inject.any);
    cr_assert_eq(cfg.inject.bind_eaddrinuse, 0);
    cr_assert_eq(cfg.inject.accept_delay.p, 0);
    cr_assert_eq(cfg.seed, 0);
}

Test(config, inject_spec_and_seed_are_read)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_INJECT", "accept-delay=30ms@0.3,connect-refused=2%"},
                             {"PORTSHIM_SEED", "18446744073709551615"}, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert(cfg.inject.any);
    cr_assert_eq(cfg.inject.accept_delay.hi_us, 30000);
    cr_assert_float_eq(cfg.inject.connect_refused, 0.02, 1e-12);
    cr_assert_eq(cfg.seed, UINT64_MAX);
}

Test(config, inject_without_seed_uses_seed_zero)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_INJECT", "bind-eaddrinuse=1"}, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert(cfg.inject.any);
    cr_assert_eq(cfg.seed, 0);
}

Test(config, bad_inject_fails_naming_variable_and_item)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_INJECT", "connect-refused=2%,accept-delay=5xs"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_INJECT 'accept-delay=5xs': bad duration '5xs'");
}

Test(config, bad_seed_fails_naming_variable_and_value)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_SEED", "-3"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_SEED='-3'");
}

/* ---- PORTSHIM_TEST_FAIL (core/testfail.h) ------------------------------------ */

Test(config, test_failures_are_off_unless_asked_for)
{
    const struct kv env[] = {MANIFEST, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(cfg.test_fail, 0);
}

Test(config, test_failures_are_read_by_name)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_TEST_FAIL", "table-oom,flock"}, {0}};
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(cfg.test_fail, PS_TF_TABLE_OOM | PS_TF_FLOCK);
}

Test(config, unknown_or_repeated_test_failures_fail_naming_the_variable)
{
    const char *bad[] = {"oom", "flock,", ",flock", "flock,flock", "track-oom,table-om",
                         "FLOCK", "flock track-oom"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const struct kv env[] = {MANIFEST, {"PORTSHIM_TEST_FAIL", bad[i]}, {0}};
        cr_assert_eq(load(env), -1, "'%s' accepted", bad[i]);
        assert_error_names("PORTSHIM_TEST_FAIL='");
    }
    const struct kv env[] = {MANIFEST, {"PORTSHIM_TEST_FAIL", "flock,nope"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_TEST_FAIL='flock,nope': 'nope': expected flock, track-oom or "
                       "table-oom");
}

/* ---- per-worker sub-namespaces --------------------------------------------- */

#define RUNDIR {"PORTSHIM_DIR", "/tmp/portshim.abc123"}

Test(config, per_worker_off_by_default)
{
    const struct kv env[] = {MANIFEST, RUNDIR, {"PYTEST_XDIST_WORKER", "gw0"}, {0}};
    char note[256];
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_str_eq(cfg.workers, "");
    cr_assert_eq(ps_config_worker(&cfg, fake_getenv, note, sizeof note, err, sizeof err), 0);
    cr_assert_str_eq(cfg.manifest, "/tmp/ns/manifest");
    cr_assert_str_eq(cfg.worker, "");
}

Test(config, worker_variable_moves_the_process_into_its_sub_namespace)
{
    const struct kv env[] = {MANIFEST, RUNDIR, {"PORTSHIM_PER_WORKER", PS_WORKER_DEFAULT_VARS},
                             {"PYTEST_XDIST_WORKER", "gw3"}, {0}};
    char note[256];
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(ps_config_worker(&cfg, fake_getenv, note, sizeof note, err, sizeof err), 1, "%s",
                 err);
    cr_assert_str_eq(cfg.dir, "/tmp/portshim.abc123/w-gw3");
    cr_assert_str_eq(cfg.manifest, "/tmp/portshim.abc123/w-gw3/manifest.jsonl");
    cr_assert_str_eq(cfg.worker, "gw3");
    cr_assert_str_eq(note, "");
}

Test(config, process_without_a_worker_variable_stays_in_the_run_namespace)
{
    const struct kv env[] = {MANIFEST, RUNDIR, {"PORTSHIM_PER_WORKER", PS_WORKER_DEFAULT_VARS},
                             {"PYTEST_XDIST_WORKER", ""}, {0}};
    char note[256];
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(ps_config_worker(&cfg, fake_getenv, note, sizeof note, err, sizeof err), 0);
    cr_assert_str_eq(cfg.manifest, "/tmp/ns/manifest");
    cr_assert_str_eq(cfg.dir, "/tmp/portshim.abc123");
}

Test(config, first_listed_worker_variable_wins)
{
    const struct kv env[] = {MANIFEST, RUNDIR, {"PORTSHIM_PER_WORKER", "MINE,JEST_WORKER_ID"},
                             {"JEST_WORKER_ID", "2"}, {"MINE", "x"}, {0}};
    char note[256];
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(ps_config_worker(&cfg, fake_getenv, note, sizeof note, err, sizeof err), 1);
    cr_assert_str_eq(cfg.worker, "x");
    const struct kv env2[] = {MANIFEST, RUNDIR, {"PORTSHIM_PER_WORKER", "MINE,JEST_WORKER_ID"},
                              {"JEST_WORKER_ID", "2"}, {0}};
    cr_assert_eq(load(env2), 0, "%s", err);
    cr_assert_eq(ps_config_worker(&cfg, fake_getenv, note, sizeof note, err, sizeof err), 1);
    cr_assert_str_eq(cfg.worker, "2");
}

Test(config, per_worker_without_dir_is_an_error)
{
    const struct kv env[] = {MANIFEST, {"PORTSHIM_PER_WORKER", "A"}, {0}};
    cr_assert_eq(load(env), -1);
    assert_error_names("PORTSHIM_PER_WORKER");
    assert_error_names("PORTSHIM_DIR");
}

Test(config, bad_worker_variable_lists_fail_naming_the_variable)
{
    const char *bad[] = {",A", "A,", "A,,B", "1A", "A-B", "A B", "A=1", "A/B",
                         "A,B,C,D,E,F,G,H,I",
                         "A234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const struct kv env[] = {MANIFEST, RUNDIR, {"PORTSHIM_PER_WORKER", bad[i]}, {0}};
        cr_assert_eq(load(env), -1, "'%s' was accepted", bad[i]);
        assert_error_names("PORTSHIM_PER_WORKER=");
    }
}

Test(config, good_worker_variable_lists_are_counted)
{
    char why[200];
    cr_assert_eq(ps_workervars_parse("A", why, sizeof why), 1);
    cr_assert_eq(ps_workervars_parse("_a1,B_2", why, sizeof why), 2);
    cr_assert_eq(ps_workervars_parse(PS_WORKER_DEFAULT_VARS, why, sizeof why), 6);
    cr_assert_eq(ps_workervars_parse("A,B,C,D,E,F,G,H", why, sizeof why), 8);
}

Test(config, safe_worker_values_are_their_own_names)
{
    const char *ok[] = {"gw0", "1", "worker-3", "a.b", "A_b-9", "123456789012"};
    char name[PS_WORKER_NAME_MAX + 1];
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        cr_assert_eq(ps_worker_name(ok[i], name), 0, "%s", ok[i]);
        cr_assert_str_eq(name, ok[i]);
    }
}

/* A value becomes a path component: nothing may climb out of the run's
 * directory, hide, or name a socket file. */
Test(config, unsafe_worker_values_are_encoded_never_a_path)
{
    const char *bad[] = {"..", ".", "../x", "a/b", "/", ".hidden", "a b", "8000@::1", "x\ny",
                         "\xff", "a%2Fb", "~", "1234567890123"};
    char name[PS_WORKER_NAME_MAX + 1];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(ps_worker_name(bad[i], name), 1, "'%s' kept as is", bad[i]);
        cr_assert(strlen(name) > 0 && strlen(name) <= PS_WORKER_NAME_MAX, "%s", name);
        cr_assert_null(strchr(name, '/'), "%s", name);
        cr_assert_neq(name[0], '.', "%s", name);
        for (const char *p = name; *p; p++)
            cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-%~",
                             *p), "'%s' has '%c'", name, *p);
    }
    cr_assert_eq(ps_worker_name("../x", name), 1);
    cr_assert_str_eq(name, "%2E.%2Fx");
    cr_assert_eq(ps_worker_name("a/b", name), 1);
    cr_assert_str_eq(name, "a%2Fb");
}

Test(config, distinct_worker_values_get_distinct_names)
{
    const char *v[] = {"a/b", "a%2Fb", "a_b", "a%b", ".x", "%2Ex", "123456789012",
                       "1234567890123", "1234567890124", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab"};
    char names[sizeof v / sizeof *v][PS_WORKER_NAME_MAX + 1];
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        ps_worker_name(v[i], names[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(names[i], names[j], "'%s' and '%s' share '%s'", v[i], v[j],
                              names[i]);
    }
}

Test(config, encoded_worker_value_comes_with_a_one_line_note)
{
    const struct kv env[] = {MANIFEST, RUNDIR, {"PORTSHIM_PER_WORKER", "W"},
                             {"W", "../../etc\nx"}, {0}};
    char note[256];
    cr_assert_eq(load(env), 0, "%s", err);
    cr_assert_eq(ps_config_worker(&cfg, fake_getenv, note, sizeof note, err, sizeof err), 1);
    cr_assert(strstr(note, "W='"), "%s", note);
    cr_assert(strstr(note, "w-"), "%s", note);
    cr_assert_null(strchr(note, '\n'), "%s", note);
    cr_assert(!strncmp(cfg.dir, "/tmp/portshim.abc123/w-", 23), "%s", cfg.dir);
    cr_assert_null(strstr(cfg.dir + 20, "/.."), "%s", cfg.dir);
    cr_assert_null(strchr(cfg.dir + 21, '/'), "%s", cfg.dir);
}

/* Unix mode: a root of PS_WORKER_ROOT_MAX bytes leaves room for every
 * worker name and every socket name. */
Test(config, longest_worker_dir_under_the_longest_root_fits_socket_names)
{
    char root[PS_WORKER_ROOT_MAX + 1], dir[PS_PATH_MAX], man[PS_PATH_MAX];
    char name[PS_WORKER_NAME_MAX + 1];
    memset(root, 'r', sizeof root - 1);
    root[0] = '/';
    root[sizeof root - 1] = 0;
    ps_worker_name("a-value-far-too-long-for-a-name", name);
    cr_assert_eq(strlen(name), PS_WORKER_NAME_MAX);
    cr_assert_eq(ps_worker_paths(root, name, dir, man), 0);
    cr_assert(ps_uname_dir_fits(dir), "%s (%zu bytes)", dir, strlen(dir));
    char longer[PS_WORKER_ROOT_MAX + 2];
    memset(longer, 'r', sizeof longer - 1);
    longer[0] = '/';
    longer[sizeof longer - 1] = 0;
    cr_assert_eq(ps_worker_paths(longer, name, dir, man), 0);
    cr_assert_not(ps_uname_dir_fits(dir), "%s", dir);
}
