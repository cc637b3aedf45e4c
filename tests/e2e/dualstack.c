/* dualstack.c — a server that listens on 0.0.0.0 and on :: (redis, Ruby,
 * many others) gets two mappings of one virtual port: `portshim port`
 * prints the one localhost reaches and says there is another, `--all`
 * lists both. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "e2e.h"

TestSuite(dualstack, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

static struct e2e_proc *port(const char *manifest, const char *arg)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_unset(&env, "PORTSHIM_LOG");
    if (arg)
        return e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", manifest, arg, "6379");
    return e2e_runl(&env, E2E_MS, e2e_portshim(), "port", "--manifest", manifest, "6379");
}

Test(dualstack, port_says_which_of_two_listeners_it_printed_and_all_lists_both)
{
    e2e_need_lib();
    if (!e2e_have_ipv6())
        e2e_skip("no IPv6 loopback here: a dual-stack server cannot listen on ::");
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    struct e2e_proc *v4 = e2e_startl(&env, "echo-server", "0.0.0.0", "6379", "--name", "four");
    cr_assert(e2e_expect(v4, "READY ", E2E_MS), "%s", e2e_describe(v4));
    struct e2e_proc *v6 = e2e_startl(&env, "echo-server", "::", "6379", "--v6only", "1", "--name",
                                     "six");
    cr_assert(e2e_expect(v6, "READY ", E2E_MS), "%s", e2e_describe(v6));

    struct e2e_proc *p = port(ns.manifest, NULL);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    int r4 = atoi(e2e_out(p));
    char reply[128];
    cr_assert_eq(e2e_request("127.0.0.1", r4, "x", reply, sizeof reply), 0);
    cr_assert_str_eq(reply, "four 6379 x", "the printed port is the one localhost reaches");
    const char *err = e2e_err(p);
    static const char pre[] = "portshim: port 6379 has 2 live listeners: printed ";
    cr_assert(!strncmp(err, pre, strlen(pre)) &&
                  strstr(err, "the one on 0.0.0.0:6379") && strstr(err, " on [::]:6379") &&
                  strstr(err, "--all") && strchr(err, '\n') == err + strlen(err) - 1,
              "one line naming both: %s", e2e_describe(p));

    p = port(ns.manifest, "--all");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_err(p), "", "%s", e2e_describe(p));
    int a = 0, b = 0;
    char want[64];
    snprintf(want, sizeof want, "%d 0.0.0.0:6379\n", r4);
    cr_assert(!strncmp(e2e_out(p), want, strlen(want)), "the chosen one first: %s",
              e2e_describe(p));
    cr_assert_eq(sscanf(e2e_out(p), "%d 0.0.0.0:6379\n%d [::]:6379\n", &a, &b), 2, "%s",
                 e2e_describe(p));
    cr_assert(b > 0 && b != a, "%s", e2e_describe(p));
    cr_assert_eq(e2e_request("::1", b, "y", reply, sizeof reply), 0);
    cr_assert_str_eq(reply, "six 6379 y");

    /* one listener left: one line out, nothing said */
    e2e_kill(v6, SIGKILL);
    e2e_wait(v6, E2E_MS);
    p = port(ns.manifest, NULL);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_eq(atoi(e2e_out(p)), r4);
    cr_assert_str_eq(e2e_err(p), "", "%s", e2e_describe(p));
    p = port(ns.manifest, "--all");
    cr_assert_str_eq(e2e_out(p), want, "%s", e2e_describe(p));
}
