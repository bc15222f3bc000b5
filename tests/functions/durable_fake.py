"""A loopback fake of the Durable extension's RPC endpoints that the real
DurableOrchestrationClient calls (``POST orchestrators/{name}/{id}``,
``GET instances/{id}``), so the functions run with the SDK's own client and its
durable-client middleware, not a stand-in."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit


class FakeDurableHost:
    def __init__(self) -> None:
        self.instances: dict[str, dict] = {}
        self.starts: list[tuple[str, str, object]] = []
        self._lock = threading.Lock()
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _answer(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                parts = urlsplit(self.path).path.strip("/").split("/")
                length = int(self.headers.get("Content-Length", 0))
                # The SDK posts the input already JSON-encoded (json.dumps of the value).
                raw = self.rfile.read(length)
                payload = json.loads(raw) if raw else None
                if isinstance(payload, str):
                    payload = json.loads(payload)
                if len(parts) >= 3 and parts[-3] == "orchestrators":
                    name, instance = parts[-2], parts[-1]
                    with host._lock:
                        host.starts.append((name, instance, payload))
                        host.instances[instance] = {"name": name, "instanceId": instance, "runtimeStatus": "Pending",
                                                    "input": payload, "customStatus": None,
                                                    "createdTime": "2026-01-01T00:00:00Z",
                                                    "lastUpdatedTime": "2026-01-01T00:00:00Z"}
                    self._answer(202, {"id": instance})
                    return
                self._answer(404, "")

            def do_GET(self) -> None:
                parts = urlsplit(self.path).path.strip("/").split("/")
                if parts[-2] == "instances":
                    with host._lock:
                        status = host.instances.get(parts[-1])
                    if status is None:
                        self._answer(404, "")  # what the extension answers for an unknown instance
                    else:
                        self._answer(200 if status["runtimeStatus"] in ("Completed",) else 202, status)
                    return
                self._answer(404, "")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def rpc_base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/durabletask/"

    def binding_json(self) -> str:
        """The durableClient binding value the Functions host hands the worker."""
        base = self.rpc_base_url
        return json.dumps({
            "taskHubName": "mvdcontrolplane",
            "creationUrls": {}, "managementUrls": {},
            "rpcBaseUrl": base,
            "requiredQueryStringParameters": "",
        })

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
