/* musl.c — the library built with musl-gcc, preloaded into musl programs.
 *
 * `make e2e` builds build/musl/ (library and the echo helpers) when
 * musl-gcc is installed; scripts/ensure-deps installs it for `make test`. */
#include <criterion/criterion.h>

#include "e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(musl, .init = e2e_setup, .fini = e2e_teardown, .timeout = 90);

/* build/musl/NAME; a few rotating buffers, enough for one expression. */
static const char *musl(const char *name)
{
    static char buf[4][1200];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/musl/%s", e2e_build(), name);
    return b;
}

static void need_musl(void)
{
    if (access(musl("libportshim.so"), R_OK) || access(musl("helpers/echo-server"), X_OK) ||
        access(musl("helpers/client"), X_OK))
        e2e_skip("no musl build in %s/musl: install musl-tools and run make e2e",
                     e2e_build());
}

static void musl_env(struct e2e_env *env, struct e2e_ns *ns, const char *name)
{
    e2e_ns_new(ns, name);
    e2e_env_shim(env, ns, "remap", NULL);
    e2e_env_set(env, "LD_PRELOAD", musl("libportshim.so"));
}

Test(musl, musl_servers_on_one_hard_coded_port_each_serve_their_own_namespace)
{
    need_musl();
    struct e2e_ns ns[2];
    struct e2e_env env[2];
    char name[2][16];
    for (int i = 0; i < 2; i++) {
        snprintf(name[i], sizeof name[i], "musl%d", i);
        musl_env(&env[i], &ns[i], name[i]);
        struct e2e_proc *s = e2e_startl(&env[i], musl("helpers/echo-server"), "127.0.0.1",
                                        "8000", "--name", name[i]);
        const char *r = e2e_expect(s, "READY ", E2E_MS);
        cr_assert(r && atoi(r) == 8000, "musl server %d did not report 8000:\n%s", i,
                  e2e_describe(s));
    }
    /* the kernel port is not 8000: the musl library really remapped it */
    int real = e2e_real_port(ns[0].manifest, 8000, E2E_MS);
    cr_assert(real > 0 && real != 8000, "manifest of musl0 has no remap of 8000 (got %d)", real);

    for (int i = 0; i < 2; i++) {
        struct e2e_proc *c = e2e_runl(&env[i], E2E_MS, musl("helpers/client"), "127.0.0.1",
                                      "8000", "hi");
        cr_assert_eq(e2e_status(c), 0, "musl client %d failed:\n%s", i, e2e_describe(c));
        char want[64];
        snprintf(want, sizeof want, "REPLY %s 8000 hi\n", name[i]);
        cr_assert(strstr(e2e_out(c), want), "musl client %d did not reach its own copy:\n%s", i,
                  e2e_describe(c));
        cr_assert(strstr(e2e_out(c), "PEER 8000\n"), "getpeername not virtual:\n%s",
                  e2e_describe(c));
    }
    /* a second musl server on the live virtual port: EADDRINUSE (exit 1) */
    struct e2e_proc *dup = e2e_runl(&env[0], E2E_MS, musl("helpers/echo-server"), "127.0.0.1",
                                    "8000", "--name", "second");
    cr_assert_eq(e2e_status(dup), 1, "second bind of live 8000 under musl did not fail "
                 "with EADDRINUSE:\n%s", e2e_describe(dup));
}
