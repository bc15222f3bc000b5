"""A stand-in runtime for the processes platform's tests: behaves like an EDC runtime where
the platform looks (a properties file as its one argument, ``web.http.port``, a readiness
endpoint, a log on stdout) and fails on demand.

Settings it reads besides ``web.http.port``:
- ``standin.fail``: print a few lines and exit 3 at once (a runtime that cannot start)
- ``standin.ignore-sigterm``: ``true`` keeps it running on SIGTERM (a stop must SIGKILL it)
- ``standin.ready-when``: a path; readiness answers 503 until that file exists
- ``standin.child``: ``true`` starts a grandchild (``sleep``) in its process group and logs its pid
- ``standin.log-ready-when``: a path; EDC's "Runtime ... ready" line is logged only once that file
  exists (else right after it listens), and a readiness request before it logs "probed before ready"
GET /die makes it log "dying on request" and exit 7.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def read_properties(path: str) -> dict[str, str]:
    """key=value lines as the platform writes them (``=`` inside a key is escaped)."""
    settings = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.rstrip("\n")
            i = 0
            while line[i] != "=":
                i += 2 if line[i] == "\\" else 1
            settings[unescape_value(line[:i])] = unescape_value(line[i + 1 :])
    return settings


def unescape_value(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1]
            if nxt == "u":
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")


def main() -> None:
    settings = read_properties(sys.argv[1])
    print(f"standin pid {os.getpid()} pgrp {os.getpgrp()} ppid {os.getppid()}", flush=True)
    print("env: " + " ".join(sorted(os.environ)), flush=True)
    if "standin.fail" in settings:
        print("SEVERE: booting failed", flush=True)
        print(f"reason: {settings['standin.fail']}", flush=True)
        sys.exit(3)
    if settings.get("standin.ignore-sigterm") == "true":
        signal.signal(signal.SIGTERM, lambda *_: print("ignoring SIGTERM", flush=True))
    if settings.get("standin.child") == "true":
        child = subprocess.Popen(["sleep", "600"])
        print(f"grandchild pid {child.pid}", flush=True)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/die":
                print("dying on request", flush=True)
                os._exit(7)
            if self.path == "/api/check/readiness":
                if not logged_ready.is_set():
                    print("probed before ready", flush=True)
                healthy = os.path.exists(settings.get("standin.ready-when", "/"))
                body = json.dumps({"isSystemHealthy": healthy, "settings": settings}).encode()
                self.send_response(200 if healthy else 503)
            else:
                body = b"{}"
                self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    logged_ready = threading.Event()

    def log_ready() -> None:
        while not os.path.exists(settings.get("standin.log-ready-when", "/")):
            time.sleep(0.05)
        print(f"INFO Runtime standin-{os.getpid()} ready", flush=True)  # as EDC's BaseRuntime logs it
        logged_ready.set()

    server = ThreadingHTTPServer(("0.0.0.0", int(settings["web.http.port"])), Handler)
    print(f"listening on {settings['web.http.port']}", flush=True)
    threading.Thread(target=log_ready, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
