/* test_config.c — PORTSHIM_* parsing: defaults, every value, and errors that
 * name the variable and the value (design.md, behaviour 10). */
#include <criterion/criterion.h>
#include <string.h>

#include "core/config.h"

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
                           "PORTSHIM_SHARE_GID"};
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
