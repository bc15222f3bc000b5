"""The HTTP front of the simulated clusters: the Kubernetes REST paths the control plane uses.

Paths are the real API's, below ``/clusters/<cluster>``:
``/api/v1/namespaces[/<ns>]``, ``/api/v1/namespaces/<ns>/{configmaps,secrets,services}[/<name>]``,
``/apis/apps/v1/namespaces/<ns>/deployments[/<name>[/status]]``, ``/apis/batch/v1/.../jobs``,
``/apis/networking.k8s.io/v1/.../ingresses``, plus cluster-wide lists and ``/version``.
Verbs: GET, LIST (label/field selectors), WATCH (chunked JSON events), POST, PUT, PATCH (apply,
merge, strategic merge), DELETE. Errors are ``Status`` bodies with the real reasons and codes.
``/clusters/<cluster>/_sim/requests`` reports the request counts.

Pods exist only where a test maps one (``map_pod``): a simulated cluster runs no container, so
``/api/v1/namespaces/<ns>/pods`` lists the mapped pods (GET, label selectors) and
``.../pods/<name>/portforward`` speaks the real port-forward websocket protocol
(``simulator/portforward.py``), bridged to the local addresses the pod's ports are mapped to.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from mvd_core.logs import get_logger
from mvd_core.platforms.kubernetes.simulator.portforward import PROTOCOL, Forwarding, MappedPod, accept_key
from mvd_core.platforms.kubernetes.simulator.resources import RESOURCES, Resource
from mvd_core.platforms.kubernetes.simulator.selectors import field_matcher, label_matcher
from mvd_core.platforms.kubernetes.simulator.store import ApiError, ClusterStore

log = get_logger(__name__)

WRITE_VERBS = ("create", "update", "patch", "delete")
_PATCH_TYPES = {
    "application/apply-patch+yaml": "apply",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
}


@dataclass
class Faults:
    """Injected failures: a share of API requests answered 500/503, and added latency."""

    error_rate: float = 0.0
    latency_seconds: float = 0.0
    seed: int | None = None


@dataclass
class _Route:
    cluster: str
    resource: Resource | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    special: str | None = None


def _parse(path: str) -> _Route:
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "clusters":
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    route = _Route(cluster=parts[1])
    rest = parts[2:]
    if rest in (["version"], ["_sim", "requests"]):
        route.special = "/".join(rest)
        return route
    if rest[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", rest[2:]
    elif len(rest) >= 3 and rest[0] == "apis":
        group, version, rest = rest[1], rest[2], rest[3:]
    else:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    # namespaces/<ns>/<plural>/<name>/<sub>  |  namespaces[/<ns>[/status]]  |  <plural>
    if group == "" and rest[:1] == ["namespaces"] and len(rest) <= 3 and (len(rest) < 3 or rest[2] == "status"):
        route.resource = RESOURCES[("", "v1", "namespaces")]
        route.namespace = ""
        route.name = rest[1] if len(rest) > 1 else None
        route.subresource = rest[2] if len(rest) > 2 else None
        return route
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        route.namespace, plural, tail = rest[1], rest[2], rest[3:]
    elif len(rest) == 1:
        plural, tail = rest[0], []
    else:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    res = RESOURCES.get((group, version, plural))
    if res is None or len(tail) > 2 or (len(tail) == 2 and tail[1] != "status"):
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    route.resource = res
    route.name = tail[0] if tail else None
    route.subresource = tail[1] if len(tail) > 1 else None
    return route


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that went away (e.g. a stopped watch) is not an error
        super().handle_error(request, client_address)


class SimulatorServer:
    """A loopback HTTP server hosting every simulated cluster of one state directory."""

    def __init__(
        self,
        db_path: Path,
        *,
        ready_delay: float = 0.2,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.store = ClusterStore(db_path, ready_delay=ready_delay)
        self.faults = faults or Faults()
        self._random = random.Random(self.faults.seed)
        self._counts: dict[str, Counter[str]] = {}
        self._counts_lock = threading.Lock()
        self.changed = threading.Condition()
        self._pods: dict[tuple[str, str, str], MappedPod] = {}
        self._pods_lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"sim": self})
        self._httpd = _QuietServer((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        assert isinstance(host, str)  # an AF_INET address; bytes only come with AF_UNIX
        return f"http://{host}:{port}"

    def cluster_url(self, cluster: str) -> str:
        return f"{self.url}/clusters/{cluster}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="k8s-sim", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- pods a test maps to local addresses --------------------------------------------

    def map_pod(self, cluster: str, pod: MappedPod) -> None:
        """Pretend ``pod`` runs in ``cluster``: it is listed, and a port-forward to one of its
        ports reaches the local address mapped to it."""
        with self._pods_lock:
            self._pods[(cluster, pod.namespace, pod.name)] = pod

    def unmap_pod(self, cluster: str, namespace: str, name: str) -> None:
        with self._pods_lock:
            self._pods.pop((cluster, namespace, name), None)

    def pods(self, cluster: str, namespace: str) -> list[MappedPod]:
        with self._pods_lock:
            return [p for (c, ns, _), p in sorted(self._pods.items()) if (c, ns) == (cluster, namespace)]

    def pod(self, cluster: str, namespace: str, name: str) -> MappedPod:
        with self._pods_lock:
            found = self._pods.get((cluster, namespace, name))
        if found is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found')
        return found

    # --- request accounting -----------------------------------------------------------

    def count(self, cluster: str, key: str) -> None:
        with self._counts_lock:
            self._counts.setdefault(cluster, Counter())[key] += 1

    def requests(self, cluster: str) -> Counter[str]:
        """Requests served, keyed ``"<verb> <resource>"`` (e.g. ``"patch deployments"``), plus ``"fault"``."""
        with self._counts_lock:
            return Counter(self._counts.get(cluster, Counter()))

    def writes(self, cluster: str) -> int:
        return sum(n for key, n in self.requests(cluster).items() if key.split(" ")[0] in WRITE_VERBS)

    def reset_counts(self, cluster: str | None = None) -> None:
        with self._counts_lock:
            if cluster is None:
                self._counts.clear()
            else:
                self._counts.pop(cluster, None)

    def inject_fault(self) -> bool:
        if self.faults.latency_seconds:
            time.sleep(self.faults.latency_seconds)
        return self.faults.error_rate > 0 and self._random.random() < self.faults.error_rate

    def notify(self) -> None:
        with self.changed:
            self.changed.notify_all()


class _Handler(BaseHTTPRequestHandler):
    sim: SimulatorServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "mvd-k8s-sim/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("k8s-sim %s", format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- plumbing ---------------------------------------------------------------------

    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            try:
                import yaml

                return yaml.safe_load(raw)
            except Exception as exc:  # noqa: BLE001
                raise ApiError(400, "BadRequest", f"the request body is not valid JSON or YAML: {exc}") from None

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if self._pods_route(method, url.path, query):
                return
            route = _parse(url.path)
            body = self._body() if method in ("POST", "PUT", "PATCH") else None
            if route.special == "_sim/requests":
                self._send(200, dict(self.sim.requests(route.cluster)))
                return
            if not self.sim.store.has_cluster(route.cluster):
                raise ApiError(404, "NotFound", f'simulated cluster "{route.cluster}" does not exist')
            if self.sim.inject_fault():
                self.sim.count(route.cluster, "fault")
                code = self.sim._random.choice([500, 503])
                reason = "InternalError" if code == 500 else "ServiceUnavailable"
                raise ApiError(code, reason, "injected fault (simulated cluster)")
            if route.special == "version":
                self._send(
                    200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-mvd-simulated", "platform": "simulated"}
                )
                return
            self.sim.store.settle(route.cluster)
            self._dispatch(method, route, query, body)
        except ApiError as err:
            self._send(err.code, err.status_body())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:
            log.exception("k8s-sim: internal error")
            self._send(500, ApiError(500, "InternalError", f"simulator error: {type(exc).__name__}").status_body())

    def _pods_route(self, method: str, path: str, query: dict[str, str]) -> bool:
        """Pods (only those a test mapped) and their port-forward; False for any other path."""
        parts = [p for p in path.split("/") if p]
        if len(parts) < 7 or parts[0] != "clusters" or parts[2:5] != ["api", "v1", "namespaces"] or parts[6] != "pods":
            return False
        cluster, namespace, rest = parts[1], parts[5], parts[7:]
        if not self.sim.store.has_cluster(cluster):
            raise ApiError(404, "NotFound", f'simulated cluster "{cluster}" does not exist')
        if method != "GET" or len(rest) > 2 or (len(rest) == 2 and rest[1] != "portforward"):
            raise ApiError(405, "MethodNotAllowed", "the simulated cluster only reads pods and forwards their ports")
        if not rest:
            self.sim.count(cluster, "list pods")
            labels = label_matcher(query.get("labelSelector"))
            items = [_as_item(p.as_object()) for p in self.sim.pods(cluster, namespace) if labels(dict(p.labels))]
            self._send(
                200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "0"}, "items": items}
            )
            return True
        pod = self.sim.pod(cluster, namespace, rest[0])
        if len(rest) == 1:
            self.sim.count(cluster, "get pods")
            self._send(200, pod.as_object())
            return True
        self.sim.count(cluster, "portforward pods")
        self._port_forward(pod, query)
        return True

    def _port_forward(self, pod: MappedPod, query: dict[str, str]) -> None:
        if (self.headers.get("Upgrade") or "").lower() != "websocket" or not self.headers.get("Sec-WebSocket-Key"):
            raise ApiError(400, "BadRequest", "Upgrade request required")
        offered = [p.strip() for p in (self.headers.get("Sec-WebSocket-Protocol") or "").split(",")]
        if PROTOCOL not in offered:
            raise ApiError(400, "BadRequest", f"port-forward needs the {PROTOCOL} websocket subprotocol")
        try:
            ports = [int(p) for p in (query.get("ports") or "").split(",") if p]
        except ValueError:
            ports = []
        if not ports or any(not 0 < p < 65536 for p in ports):
            raise ApiError(400, "BadRequest", "query parameter ports must list port numbers (1-65535)")
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(self.headers["Sec-WebSocket-Key"]))
        self.send_header("Sec-WebSocket-Protocol", PROTOCOL)
        self.end_headers()
        self.wfile.flush()
        Forwarding(pod, ports, self.rfile, self.wfile).run()
        self.close_connection = True

    def _dispatch(self, method: str, route: _Route, query: dict[str, str], body: Any) -> None:
        res = route.resource
        assert res is not None
        store, cluster = self.sim.store, route.cluster
        sub = f"/{route.subresource}" if route.subresource else ""
        if method == "GET" and route.name is None:
            if query.get("watch") in ("1", "true", "True"):
                self.sim.count(cluster, f"watch {res.plural}")
                self._watch(route, query)
                return
            self.sim.count(cluster, f"list {res.plural}")
            items, rv = store.list_objects(cluster, res, route.namespace if res.namespaced else None)
            labels, fields = label_matcher(query.get("labelSelector")), field_matcher(query.get("fieldSelector"))
            items = [_as_item(i) for i in items if labels(i["metadata"].get("labels") or {}) and fields(i)]
            self._send(
                200,
                {
                    "kind": f"{res.kind}List",
                    "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(rv)},
                    "items": items,
                },
            )
            return
        if res.namespaced and route.namespace is None:  # a namespaced kind's cluster-wide path only lists
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        ns = route.namespace if res.namespaced and route.namespace is not None else ""
        if method == "POST" and route.name is None:
            self.sim.count(cluster, f"create {res.plural}")
            name = ((body or {}).get("metadata") or {}).get("name") if isinstance(body, dict) else None
            if not name:
                raise ApiError(
                    422,
                    "Invalid",
                    f"{res.kind} is invalid: metadata.name: Required value",
                    {
                        "kind": res.kind,
                        "causes": [
                            {"reason": "FieldValueRequired", "message": "Required value", "field": "metadata.name"}
                        ],
                    },
                )
            target_ns = name if res.plural == "namespaces" else ns
            obj, _ = store.write(
                cluster,
                res,
                "" if res.plural == "namespaces" else target_ns,
                name,
                "create",
                body=body,
                manager=query.get("fieldManager"),
            )
            self.sim.notify()
            self._send(201, obj)
            return
        if route.name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        name = route.name
        if method == "GET":
            self.sim.count(cluster, f"get {res.plural}{sub}")
            self._send(200, store.get(cluster, res, ns, name))
        elif method == "PUT":
            self.sim.count(cluster, f"update {res.plural}{sub}")
            obj, _ = store.write(
                cluster,
                res,
                ns,
                name,
                "replace",
                body=body,
                manager=query.get("fieldManager"),
                subresource=route.subresource,
            )
            self.sim.notify()
            self._send(200, obj)
        elif method == "PATCH":
            self.sim.count(cluster, f"patch {res.plural}{sub}")
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            op = _PATCH_TYPES.get(ctype)
            if op is None:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - "
                    f"accepted media types include: {', '.join(_PATCH_TYPES)}",
                )
            if op == "apply" and not query.get("fieldManager"):
                raise ApiError(400, "BadRequest", "PATCH request with apply content type requires a fieldManager")
            obj, created = store.write(
                cluster,
                res,
                ns,
                name,
                op,
                body=body,
                manager=query.get("fieldManager"),
                force=query.get("force") in ("true", "1"),
                subresource=route.subresource,
            )
            self.sim.notify()
            self._send(201 if created else 200, obj)
        elif method == "DELETE":
            self.sim.count(cluster, f"delete {res.plural}")
            obj = store.delete(cluster, res, ns, name)
            self.sim.notify()
            self._send(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": name,
                        "group": res.group,
                        "kind": res.plural,
                        "uid": obj["metadata"].get("uid"),
                    },
                },
            )

    # --- watch ------------------------------------------------------------------------

    def _watch(self, route: _Route, query: dict[str, str]) -> None:
        res, store, cluster = route.resource, self.sim.store, route.cluster
        assert res is not None
        ns = route.namespace if res.namespaced else None
        labels, fields = label_matcher(query.get("labelSelector")), field_matcher(query.get("fieldSelector"))
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def emit(kind: str, obj: dict[str, Any]) -> None:
            if labels(obj["metadata"].get("labels") or {}) and fields(obj):
                self._chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

        since_param = query.get("resourceVersion")
        if since_param and since_param != "0":
            since = int(since_param)
        else:
            items, since = store.list_objects(cluster, res, ns)
            for obj in items:
                emit("ADDED", obj)
        while True:
            store.settle(cluster)
            for event in store.events_since(cluster, res, ns, since):
                emit(event.type, event.object)
                since = event.rv
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = min(remaining, 0.25)
            due = store.next_ready_at(cluster)
            if due is not None:
                wait = max(0.0, min(wait, due - time.time()))
            # Woken by a write in this process; the short cap covers writes by other processes.
            with self.sim.changed:
                self.sim.changed.wait(wait)
        self._chunk(b"")
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _as_item(obj: dict[str, Any]) -> dict[str, Any]:
    """List items carry no apiVersion/kind, as in the real API's typed lists."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


_shared: dict[Path, SimulatorServer] = {}
_shared_lock = threading.Lock()


def shared_simulator(home: Path | None = None) -> SimulatorServer:
    """The process's simulator over ``<home>/clusters/simulated.db`` (started on first use).

    Another process (``mvd plan`` while ``mvd serve`` runs) starts its own loopback server
    over the same database, so both see the same clusters.
    """
    from mvd_core.settings import get_settings

    settings = get_settings()
    db = ((home or settings.home) / "clusters" / "simulated.db").resolve()
    with _shared_lock:
        server = _shared.get(db)
        if server is None:
            faults = Faults(
                error_rate=settings.sim_error_rate,
                latency_seconds=settings.sim_latency_seconds,
                seed=settings.sim_fault_seed,
            )
            server = SimulatorServer(db, ready_delay=settings.sim_ready_delay, faults=faults).start()
            _shared[db] = server
        return server


def stop_shared_simulators() -> None:
    with _shared_lock:
        for server in _shared.values():
            server.stop()
        _shared.clear()
