/* etcd.c — four etcd servers at once, each on its fixed client and peer
 * ports (2379, 2380), each under its own `portshim run`: etcd and etcdctl
 * are Go programs, so every socket call goes through the run's seccomp
 * supervisor. Skipped, saying so, where etcd-server and etcd-client are
 * not installed (scripts/ensure-deps installs them when it can). */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(etcd, .init = e2e_setup, .fini = e2e_teardown, .timeout = 240);

static void need_etcd(void)
{
    if (system("command -v etcd >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1"))
        e2e_skip("etcd or etcdctl is not installed (Debian: etcd-server, etcd-client): skipped");
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--backend", "seccomp",
                                  "--", "/bin/true");
    if (e2e_status(p) != 0)
        e2e_skip("no seccomp supervisor here: %s", e2e_err(p));
}

/* Each copy puts its own value, waits until all four have, and reads back
 * its own: a copy reaching another's etcd would read that one's value. */
static void four_etcds(const char *mode)
{
    e2e_need_lib();
    need_etcd();
    char script[4096];
    snprintf(script, sizeof script,
             "etcd --name n$1 --data-dir \"$2/etcd.$1\" "
             "--listen-client-urls http://127.0.0.1:2379 "
             "--advertise-client-urls http://127.0.0.1:2379 "
             "--listen-peer-urls http://127.0.0.1:2380 "
             "--initial-advertise-peer-urls http://127.0.0.1:2380 "
             "--initial-cluster n$1=http://127.0.0.1:2380 >\"$2/etcd.$1.log\" 2>&1 &\n"
             "\"%s\" port --wait 60 2379 >/dev/null || { echo NO LISTENER; kill $!; exit 1; }\n"
             "ctl() { ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:2379 --dial-timeout=20s "
             "--command-timeout=30s \"$@\"; }\n"
             "ctl put key value$1 >/dev/null || { echo PUT FAILED; kill $!; exit 1; }\n"
             ": >\"$2/put.$1\"\n"
             "n=0; while [ $n -lt 1200 ]; do\n"
             "  [ -e \"$2/put.0\" ] && [ -e \"$2/put.1\" ] && [ -e \"$2/put.2\" ] && "
             "[ -e \"$2/put.3\" ] && break\n"
             "  n=$((n+1)); sleep 0.05\n"
             "done\n"
             "echo \"GOT $(ctl get key --print-value-only)\"\n"
             "kill $!\nwait\n",
             e2e_portshim());
    e2e_parallel_runs(script, 4, "GOT value", "\n", mode, NULL, 180000);
}

Test(etcd, four_etcd_servers_on_2379_and_2380_each_keep_their_own_value_remap)
{
    four_etcds("remap");
}

Test(etcd, four_etcd_servers_on_2379_and_2380_each_keep_their_own_value_unix)
{
    four_etcds("unix");
}
