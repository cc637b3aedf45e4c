/* programs.c — real programs, unmodified, in parallel copies on one
 * hard-coded port: a Debian server (redis-server) and a language runtime
 * (/usr/bin/python3's http.server). Each copy runs in its own portshim run
 * and must be reached by its own client. */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(programs, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

static const char *find_program(const char *name)
{
    static char path[256];
    const char *dirs[] = {"/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

Test(programs, parallel_redis_servers_on_6379_each_answer_their_own_client)
{
    e2e_need_lib();
    const char *redis = find_program("redis-server");
    if (!redis)
        e2e_skip("redis-server is not installed (scripts/ensure-deps installs it for "
                     "make test): the real-server test did not run");
    /* Every copy: start redis on 6379 (bounded by timeout(1) even if this
     * test dies), PING it until it answers (6379 is declared strictly
     * virtual, so an early PING is refused, never sent to a redis outside),
     * wait until all four answer, then ask each for its own dbfilename,
     * which names the copy. */
    char script[4096];
    snprintf(script, sizeof script,
             "timeout 90 %s --port 6379 --save '' --appendonly no --daemonize no --dir \"$2\" "
             "--dbfilename copy$1.rdb --logfile \"$2/redis$1.log\" &\n"
             "pid=$!\n"
             "\"$H/client\" 127.0.0.1 6379 'PING\\r\\nQUIT\\r\\n' --raw --retry-ms 30000 || "
             "{ kill $pid; cat \"$2/redis$1.log\" >&2; exit 1; }\n"
             ": > \"$2/up.$1\"\n"
             "\"$H/client\" 127.0.0.1 6379 'CONFIG GET dbfilename\\r\\nQUIT\\r\\n' --raw "
             "--wait-file \"$2/up.0\" --wait-file \"$2/up.1\" --wait-file \"$2/up.2\" "
             "--wait-file \"$2/up.3\"\n"
             "rc=$?\nkill $pid\nwait $pid\nexit $rc\n",
             redis);
    e2e_parallel_runs(script, 4, "copy", ".rdb", NULL, "6379", 60000);
}

static const char py_server[] =
    "import http.server, sys\n"
    "name, ready = sys.argv[1], sys.argv[2]\n"
    "class Handler(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = ('%s %d\\n' % (name, self.connection.getsockname()[1])).encode()\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "server = http.server.HTTPServer(('127.0.0.1', 8000), Handler)\n"
    "open(ready, 'w').close()\n"
    "server.timeout = 40\n"
    "server.handle_request()\n";

static const char py_client[] =
    "import os, sys, time, urllib.request\n"
    "d, n = sys.argv[1], int(sys.argv[2])\n"
    "deadline = time.time() + 30\n"
    "while not all(os.path.exists(os.path.join(d, 'pyready.%d' % i)) for i in range(n)):\n"
    "    if time.time() > deadline:\n"
    "        sys.exit('the servers did not all start')\n"
    "    time.sleep(0.02)\n"
    "print('GOT', urllib.request.urlopen('http://127.0.0.1:8000/', timeout=20).read()"
    ".decode().strip())\n";

Test(programs, parallel_python_http_servers_on_8000_each_answer_their_own_client)
{
    e2e_need_lib();
    if (access("/usr/bin/python3", X_OK) != 0)
        e2e_skip("/usr/bin/python3 is not installed: the language-runtime test did not run");
    e2e_write_file(e2e_path("server.py"), py_server, false);
    e2e_write_file(e2e_path("client.py"), py_client, false);
    const char *script =
        "/usr/bin/python3 \"$2/server.py\" copy$1 \"$2/pyready.$1\" &\n"
        "/usr/bin/python3 \"$2/client.py\" \"$2\" 4\n"
        "rc=$?\nwait\nexit $rc\n";
    e2e_parallel_runs(script, 4, "GOT copy", " 8000\n", NULL, NULL, 60000);
}
