/* udpservers.c — real UDP servers, unmodified, in parallel copies on one
 * hard-coded port: a Debian DNS server (dnsmasq, queried by dig, itself a
 * dynamic program routed by the same run) and a language runtime
 * (/usr/bin/python3's socketserver.UDPServer), in remap and unix mode. Each
 * copy must be answered by its own server, and only once all four are up.
 * Then the udp-drop fault: the same seed loses the same datagrams again. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2e.h"

TestSuite(udpservers, .init = e2e_setup, .fini = e2e_teardown, .timeout = 180);

static const char *find_program(const char *name)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    const char *dirs[] = {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin",
                          "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(p, 256, "%s/%s", dirs[i], name);
        if (access(p, X_OK) == 0)
            return p;
    }
    return NULL;
}

/* Every copy: start dnsmasq on 5353 answering copy.test with 10.0.0.1<i>
 * (bounded by timeout(1) even if this test dies), ask it with dig until it
 * answers (before its bind a query goes to the real 5353, where no such
 * answer is), wait until all four answer, then ask once more and print the
 * answer. Without UDP in the namespace three of the four binds fail, or
 * one server answers everyone. */
static void dnsmasq_copies(const char *mode)
{
    e2e_need_lib();
    const char *dnsmasq = find_program("dnsmasq"), *dig = find_program("dig");
    if (!dnsmasq || !dig)
        e2e_skip("%s is not installed (scripts/ensure-deps installs dnsmasq-base and "
                 "bind9-dnsutils for make test where it can): the dnsmasq test did not run",
                 dnsmasq ? "dig" : "dnsmasq");
    char script[4096];
    snprintf(script, sizeof script,
             "timeout 120 %s --keep-in-foreground --conf-file=/dev/null --port 5353 "
             "--no-resolv --no-hosts --address=/copy.test/10.0.0.1$1 --listen-address=127.0.0.1 "
             "--bind-interfaces --user=\"$(id -un)\" --pid-file= "
             "--log-facility=\"$2/dnsmasq$1.log\" &\n"
             "pid=$!\n"
             "ask() { %s @127.0.0.1 -p 5353 copy.test +short +time=2 +tries=1 2>/dev/null; }\n"
             "n=0\n"
             "until [ \"$(ask)\" = 10.0.0.1$1 ]; do\n"
             "  n=$((n+1)); [ $n -lt 200 ] || { kill $pid; cat \"$2/dnsmasq$1.log\" >&2; "
             "echo \"copy $1: dnsmasq never answered\" >&2; exit 1; }\n"
             "  sleep 0.05\n"
             "done\n"
             ": > \"$2/up.$1\"\n"
             "n=0\n"
             "until [ -e \"$2/up.0\" ] && [ -e \"$2/up.1\" ] && [ -e \"$2/up.2\" ] && "
             "[ -e \"$2/up.3\" ]; do\n"
             "  n=$((n+1)); [ $n -lt 1200 ] || { kill $pid; echo 'not all up' >&2; exit 1; }\n"
             "  sleep 0.05\n"
             "done\n"
             "echo \"ANSWER $(ask)\"\n"
             "kill $pid\nwait $pid\nexit 0\n",
             dnsmasq, dig);
    e2e_parallel_runs(script, 4, "ANSWER 10.0.0.1", "\n", mode, NULL, 150000);
}

Test(udpservers, four_dnsmasq_copies_on_5353_each_answer_their_own_dig_remap)
{
    dnsmasq_copies(NULL);
}

Test(udpservers, four_dnsmasq_copies_on_5353_each_answer_their_own_dig_unix)
{
    dnsmasq_copies("unix");
}

/* A UDPServer on 127.0.0.1:5353 that answers "NAME: DATA"; it says it is
 * up (a file) once bound. */
static const char py_server[] =
    "import socketserver, sys\n"
    "name, ready = sys.argv[1], sys.argv[2]\n"
    "class Handler(socketserver.BaseRequestHandler):\n"
    "    def handle(self):\n"
    "        data, sock = self.request\n"
    "        sock.sendto(name.encode() + b': ' + data, self.client_address)\n"
    "server = socketserver.UDPServer(('127.0.0.1', 5353), Handler)\n"
    "open(ready, 'w').close()\n"
    "server.serve_forever()\n";

/* Waits (bounded) for all n servers, then asks 127.0.0.1:5353 and prints
 * the answer and the address it came from: the virtual port, as the
 * program asked for it. */
static const char py_client[] =
    "import os, socket, sys, time\n"
    "d, n = sys.argv[1], int(sys.argv[2])\n"
    "deadline = time.time() + 60\n"
    "while not all(os.path.exists(os.path.join(d, 'pyready.%d' % i)) for i in range(n)):\n"
    "    if time.time() > deadline:\n"
    "        sys.exit('the servers did not all start')\n"
    "    time.sleep(0.02)\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.settimeout(30)\n"
    "s.sendto(b'hello', ('127.0.0.1', 5353))\n"
    "data, addr = s.recvfrom(1024)\n"
    "print('GOT %s from %s:%d' % (data.decode(), addr[0], addr[1]))\n";

static void python_copies(const char *mode)
{
    e2e_need_lib();
    if (access("/usr/bin/python3", X_OK) != 0)
        e2e_skip("/usr/bin/python3 is not installed: the language-runtime UDP test did not run");
    e2e_write_file(e2e_path("server.py"), py_server, false);
    e2e_write_file(e2e_path("client.py"), py_client, false);
    const char *script =
        "timeout 120 /usr/bin/python3 \"$2/server.py\" copy$1 \"$2/pyready.$1\" &\n"
        "pid=$!\n"
        "/usr/bin/python3 \"$2/client.py\" \"$2\" 4\n"
        "rc=$?\nkill $pid\nwait $pid\nexit $rc\n";
    e2e_parallel_runs(script, 4, "GOT copy", ": hello from 127.0.0.1:5353\n", mode, NULL, 120000);
}

Test(udpservers, four_python_udpservers_on_5353_each_answer_their_own_client_remap)
{
    python_copies(NULL);
}

Test(udpservers, four_python_udpservers_on_5353_each_answer_their_own_client_unix)
{
    python_copies("unix");
}

/* A client outside the run (no shim) reaches the run's UDP server through
 * `portshim port --udp --wait`, in both modes (unix mode remaps UDP: the
 * answer is a real port). */
static void outside_client(const char *mode)
{
    e2e_need_lib();
    if (access("/usr/bin/python3", X_OK) != 0)
        e2e_skip("/usr/bin/python3 is not installed: the outside-client UDP test did not run");
    e2e_write_file(e2e_path("server.py"), py_server, false);
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *dir = e2e_path("ns");
    cr_assert(mkdir(dir, 0700) == 0);
    const char *m = e2e_path("ns/manifest.jsonl");
    struct e2e_proc *srv = e2e_startl(&env, e2e_portshim(), "run", "--mode", mode, "--manifest",
                                      m, "--", "timeout", "60", "/usr/bin/python3",
                                      e2e_path("server.py"), "inside", e2e_path("ready"));
    /* no waiting for the server: --wait is what the test relies on */
    struct e2e_proc *port = e2e_runl(&env, 20000, e2e_portshim(), "port", "--manifest", m,
                                     "--wait", "15", "--udp", "5353");
    cr_assert_eq(e2e_status(port), 0, "%s\nserver: %s", e2e_describe(port), e2e_describe(srv));
    int real = atoi(e2e_out(port));
    cr_assert(real > 0 && real != 5353, "portshim port --udp printed '%s'", e2e_out(port));
    char code[512];
    snprintf(code, sizeof code,
             "import socket\n"
             "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
             "s.settimeout(10)\n"
             "s.sendto(b'outside', ('127.0.0.1', %d))\n"
             "print(s.recvfrom(100)[0].decode())\n", real);
    struct e2e_proc *c = e2e_runl(&env, 20000, "/usr/bin/python3", "-c", code);
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    cr_assert_str_eq(e2e_out(c), "inside: outside\n", "%s", e2e_describe(c));
}

Test(udpservers, a_client_outside_the_run_reaches_its_udp_server_through_portshim_port_remap)
{
    outside_client("remap");
}

Test(udpservers, a_client_outside_the_run_reaches_its_udp_server_through_portshim_port_unix)
{
    outside_client("unix");
}

/* The report of a real run: the server's UDP socket marked /udp, the
 * client's first datagram (the run's one record of it) credited to it. */
Test(udpservers, report_of_a_real_udp_run_marks_the_socket_and_credits_the_datagram)
{
    e2e_need_lib();
    if (access("/usr/bin/python3", X_OK) != 0)
        e2e_skip("/usr/bin/python3 is not installed: the UDP report test did not run");
    e2e_write_file(e2e_path("server.py"), py_server, false);
    e2e_write_file(e2e_path("client.py"), py_client, false);
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "T", e2e_tmp());
    const char *m = e2e_path("run.jsonl");
    e2e_write_file(e2e_path("run.sh"),
                   "timeout 60 /usr/bin/python3 \"$T/server.py\" copy0 \"$T/pyready.0\" &\n"
                   "pid=$!\n"
                   "/usr/bin/python3 \"$T/client.py\" \"$T\" 1\n"
                   "/usr/bin/python3 \"$T/client.py\" \"$T\" 1\n"
                   "rc=$?\nkill $pid\nwait $pid\nexit $rc\n", false);
    struct e2e_proc *p = e2e_runl(&env, 60000, e2e_portshim(), "run", "--manifest", m, "--",
                                  "/bin/sh", e2e_path("run.sh"));
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--manifest", m);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    /* SOCKET VIRTUAL REAL PID PROG LISTEN OPENED CLOSED CONNECTS: two
     * clients, each one's first datagram recorded */
    const char *row = strstr(e2e_out(p), "127.0.0.1:5353/udp");
    cr_assert(row, "%s", e2e_describe(p));
    const char *eol = strchr(row, '\n');
    cr_assert(eol && eol[-1] == '2' && eol[-2] == ' ', "the UDP socket's row: %s",
              e2e_describe(p));
    cr_assert(strstr(row, "/udp") && strstr(row, " - "), "%s", e2e_describe(p));
    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "report", "--json", "--manifest", m);
    cr_assert(strstr(e2e_out(p), "\"proto\":\"udp\",\"addr\":\"127.0.0.1\",\"port\":5353,"),
              "%s", e2e_describe(p));
}

/* ---- udp-drop ------------------------------------------------------------- */

/* Counts the datagrams it gets; on "END" writes what it got (the data
 * numbers, and how many ENDs) to its file and answers "ACK". */
static const char drop_server[] =
    "import socket, sys\n"
    "out, ready = sys.argv[1], sys.argv[2]\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.bind(('127.0.0.1', 5353))\n"
    "open(ready, 'w').close()\n"
    "got, ends = [], 0\n"
    "while True:\n"
    "    data, addr = s.recvfrom(1024)\n"
    "    if data == b'END':\n"
    "        ends += 1\n"
    "        with open(out + '.tmp', 'w') as f:\n"
    "            f.write('%s ends=%d\\n' % (','.join(got), ends))\n"
    "        import os; os.rename(out + '.tmp', out)\n"
    "        s.sendto(b'ACK', addr)\n"
    "    else:\n"
    "        got.append(data.decode())\n";

/* Sends 64 numbered datagrams, then END until an ACK comes (either may be
 * lost: each is a decision of its own, after the 64), and prints how many
 * ENDs it sent. */
static const char drop_client[] =
    "import os, socket, sys, time\n"
    "ready = sys.argv[1]\n"
    "deadline = time.time() + 60\n"
    "while not os.path.exists(ready):\n"
    "    if time.time() > deadline:\n"
    "        sys.exit('the server did not start')\n"
    "    time.sleep(0.02)\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "for i in range(64):\n"
    "    s.sendto(b'%d' % i, ('127.0.0.1', 5353))\n"
    "s.settimeout(0.2)\n"
    "for ends in range(1, 301):\n"
    "    s.sendto(b'END', ('127.0.0.1', 5353))\n"
    "    try:\n"
    "        if s.recvfrom(16)[0] == b'ACK':\n"
    "            print('SENT ends=%d' % ends)\n"
    "            sys.exit(0)\n"
    "    except socket.timeout:\n"
    "        pass\n"
    "sys.exit('no ACK')\n";

struct drop_run {
    char got[1024];     /* the server's file: "0,1,3,... ends=N" */
    int sent_ends, got_ends, received;
    size_t drops;       /* udp-drop records to port 5353 in the manifest */
};

static void drop_run(const char *seed, const char *name, struct drop_run *r)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *manifest = e2e_path("%s.jsonl", name), *out = e2e_path("got");
    const char *ready = e2e_path("ready");
    char script[2048];
    /* The client's command line is the same in every run (its process key,
     * docs/inject.md): only the seed differs. The runs are one after the
     * other, so they share the file names. */
    snprintf(script, sizeof script,
             "rm -f \"%s\" \"%s\"\n"
             "timeout 120 /usr/bin/python3 \"$T/server.py\" \"%s\" \"%s\" &\n"
             "pid=$!\n"
             "/usr/bin/python3 \"$T/client.py\" \"%s\"\n"
             "rc=$?\nkill $pid\nwait $pid\nexit $rc\n",
             ready, out, out, ready, ready);
    e2e_write_file(e2e_path("%s.sh", name), script, false);
    e2e_env_set(&env, "T", e2e_tmp());
    struct e2e_proc *p = e2e_runl(&env, 120000, e2e_portshim(), "run", "--manifest", manifest,
                                  "--inject", "udp-drop=40%", "--seed", seed, "--", "/bin/sh",
                                  e2e_path("%s.sh", name));
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    const char *sent = strstr(e2e_out(p), "SENT ends=");
    cr_assert(sent, "%s", e2e_describe(p));
    r->sent_ends = atoi(sent + 10);
    snprintf(r->got, sizeof r->got, "%s", e2e_slurp(out));
    const char *ge = strstr(r->got, " ends=");
    cr_assert(ge, "server wrote '%s'", r->got);
    r->got_ends = atoi(ge + 6);
    r->received = r->got[0] == ' ' ? 0 : 1;
    for (const char *c = r->got; c < ge; c++)
        r->received += *c == ',';
    struct e2e_events ev;
    e2e_events_read(manifest, &ev);
    r->drops = 0;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_CONNECT && ev.v[i].port == 5353 &&
            !strcmp(ev.v[i].inj, "udp-drop")) {
            cr_assert(ev.v[i].ok && ev.v[i].proto == PS_PROTO_UDP &&
                      !strcmp(ev.v[i].note, "dropped"), "a drop record is not as documented");
            r->drops++;
        }
    e2e_events_free(&ev);
}

Test(udpservers, udp_drop_loses_the_same_datagrams_again_with_the_same_seed)
{
    e2e_need_lib();
    if (access("/usr/bin/python3", X_OK) != 0)
        e2e_skip("/usr/bin/python3 is not installed: the udp-drop test did not run");
    e2e_write_file(e2e_path("server.py"), drop_server, false);
    e2e_write_file(e2e_path("client.py"), drop_client, false);
    struct drop_run a, b, c;
    drop_run("7", "a", &a);
    drop_run("7", "b", &b);
    drop_run("8", "c", &c);
    /* What reached the server: the data part (the 64 are the client's
     * first 64 decisions at port 5353, whatever happened to the ENDs). */
    *strstr(a.got, " ends=") = 0;
    *strstr(b.got, " ends=") = 0;
    *strstr(c.got, " ends=") = 0;
    cr_assert_str_eq(a.got, b.got, "seed 7 dropped other datagrams the second time");
    cr_assert_str_neq(a.got, c.got, "seed 8 dropped the same datagrams as seed 7: %s", a.got);
    cr_assert(a.received > 0 && a.received < 64, "40%% dropped %d of 64", 64 - a.received);
    /* Every lost datagram (data and ENDs) is a record, and nothing else is:
     * loopback loses none of its own. */
    const struct drop_run *runs[] = {&a, &b, &c};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(runs[i]->drops,
                     (size_t)(64 + runs[i]->sent_ends - runs[i]->received - runs[i]->got_ends),
                     "run %d: %zu drop records, %d+%d sent, %d+%d received", i, runs[i]->drops,
                     64, runs[i]->sent_ends, runs[i]->received, runs[i]->got_ends);
}
