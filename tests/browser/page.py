#!/usr/bin/python3
"""page.py — load a `portshim report --html` page in headless Chromium and
say what a person would see: console errors, uncaught exceptions, the
summary the page exposes (data- attributes), and optionally a screenshot
or what hovering a point shows.

    page.py [--chromium PATH] [--size WxH] [--screenshot OUT.png]
            [--hover X,Y]... [--eval JS] FILE.html

Prints one JSON object on stdout. Drives Chromium through the DevTools
protocol over --remote-debugging-pipe (fds 3 and 4, NUL-separated JSON),
with the standard library only. Every wait is bounded; exit 3 when
Chromium cannot be started or does not answer (the caller skips), 1 when
the page never says it is ready."""
import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import base64

DEADLINE = 30.0   # seconds for any one answer


class Browser:
    def __init__(self, exe, width, height):
        self.tmp = tempfile.mkdtemp(prefix="portshim-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-default-apps",
                "--disable-extensions", "--mute-audio", "--hide-scrollbars",
                "--user-data-dir=" + self.tmp, "--remote-debugging-pipe",
                "--window-size=%d,%d" % (width, height), "about:blank"]

        def fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=fds,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def read_one(self, timeout):
        end = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from chromium")
            r, _, _ = select.select([self.from_child], [], [], left)
            if not r:
                continue
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=DEADLINE):
        i = self.send(method, params, session)
        end = time.monotonic() + timeout
        while True:
            m = self.read_one(max(0.01, end - time.monotonic()))
            if m.get("id") == i:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.events.append(self.read_one(max(0.01, end - time.monotonic())))
            except TimeoutError:
                return

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--size", default="1200x700")
    ap.add_argument("--screenshot")
    ap.add_argument("--hover", action="append", default=[],
                    help="X,Y in the viewport, or pF,Y: F of the first canvas's plot "
                         "width (0..1) and Y pixels below its top")
    ap.add_argument("--eval", default="null")
    ap.add_argument("file")
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    if not os.access(a.chromium, os.X_OK):
        print(json.dumps({"error": "no chromium at %s" % a.chromium}))
        return 3
    try:
        b = Browser(a.chromium, w, h)
    except OSError as e:
        print(json.dumps({"error": "cannot start chromium: %s" % e}))
        return 3
    try:
        try:
            t = b.call("Target.createTarget", {"url": "about:blank"})
            s = b.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True})
        except (TimeoutError, EOFError) as e:
            print(json.dumps({"error": "chromium does not answer: %s" % e}))
            return 3
        sid = s["sessionId"]
        for m in ("Runtime.enable", "Log.enable", "Page.enable"):
            b.call(m, session=sid)
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False}, session=sid)
        url = "file://" + os.path.abspath(a.file)
        t0 = time.monotonic()
        b.call("Page.navigate", {"url": url}, session=sid)
        ready = None
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            r = b.call("Runtime.evaluate", {
                "expression": "(document.getElementById('summary')||{dataset:{}}).dataset.ready",
                "returnByValue": True}, session=sid)
            if r.get("result", {}).get("value") == "1":
                ready = time.monotonic() - t0
                break
            b.pump(0.05)
        b.pump(0.2)   # late console messages
        out = {"ready": ready is not None, "ready_s": ready}
        expr = """(() => {
          const ds = (e) => Object.assign({}, e.dataset);
          return {
            summary: ds(document.getElementById('summary')),
            heads: [...document.querySelectorAll('.panel-head')].map(ds),
            headText: [...document.querySelectorAll('.panel-head')].map(e => e.textContent),
            title: document.title,
            elements: [...document.querySelectorAll('*')].map(e => e.tagName.toLowerCase()),
            scripts: document.scripts.length,
            pwned: typeof window.pwned !== 'undefined',
            value: (%s)
          };
        })()""" % a.eval
        r = b.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=sid)
        if "exceptionDetails" in r:
            out["eval_error"] = r["exceptionDetails"].get("text")
        out.update(r.get("result", {}).get("value") or {})
        hovers = []
        for hv in a.hover:
            rel = hv.startswith("p")
            x, y = (float(v) for v in hv.lstrip("p").split(","))
            if rel:   # the page's plot starts 170 px into a canvas, 8 px before its end
                r = b.call("Runtime.evaluate", {
                    "expression": "(() => { const r = document.querySelector('canvas')"
                                  ".getBoundingClientRect(); return [r.left, r.top, r.width]; })()",
                    "returnByValue": True}, session=sid)
                left, top, width = r["result"]["value"]
                x, y = left + 170 + x * (width - 178), top + y
            b.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y}, session=sid)
            b.pump(0.1)
            r = b.call("Runtime.evaluate", {
                "expression": "(() => { const t = document.getElementById('tip');"
                              " return t.hidden ? null : t.textContent; })()",
                "returnByValue": True}, session=sid)
            hovers.append(r.get("result", {}).get("value"))
        out["hovers"] = hovers
        if a.screenshot:
            r = b.call("Page.captureScreenshot", {"format": "png"}, session=sid)
            with open(a.screenshot, "wb") as f:
                f.write(base64.b64decode(r["data"]))
        errors = []
        for m in b.events:
            meth, p = m.get("method"), m.get("params", {})
            if meth == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append("console: " + " ".join(str(x.get("value", x.get("description")))
                                                     for x in p.get("args", [])))
            elif meth == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                errors.append("exception: %s %s" % (d.get("text"),
                              d.get("exception", {}).get("description", "")))
            elif meth == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                errors.append("log: " + p["entry"].get("text", ""))
        out["errors"] = errors
        print(json.dumps(out))
        return 0 if ready is not None else 1
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
