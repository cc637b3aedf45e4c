# A suite in the shape that cannot run under `pytest -n N`: every test's
# fixture starts an HTTP server on the fixed port 127.0.0.1:8000 and checks
# that its client reaches its own server (a per-test token). Used by
# tests/e2e/workers.c, bare and under `portshim run [--per-worker]`.
#
# RDV_DIR and RDV_WORKERS: the first test of each worker waits (at most 30 s)
# until every worker has tried to bind, so that the workers' servers are up
# at the same time and, without a namespace per worker, collide every time
# rather than by luck of timing.
import http.server
import os
import threading
import time
import uuid

import pytest

PORT = 8000
_first = [True]


def _tried():
    d = os.environ["RDV_DIR"]
    me = os.environ.get("PYTEST_XDIST_WORKER", "main")
    open(os.path.join(d, "tried." + me), "w").close()


def _rendezvous():
    d, n = os.environ["RDV_DIR"], int(os.environ["RDV_WORKERS"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sum(f.startswith("tried.") for f in os.listdir(d)) >= n:
            return
        time.sleep(0.02)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.token.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    token = uuid.uuid4().hex
    first, _first[0] = _first[0], False
    try:
        srv = http.server.HTTPServer(("127.0.0.1", PORT), _Handler)
    finally:
        if first:
            _tried()
    srv.token = token
    if first:
        _rendezvous()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield token
    srv.shutdown()
    srv.server_close()
