"""A pod's port-forward through the simulated API server, driven by the official client's own
port-forward code (``kubernetes.stream.portforward``: the v4.channel.k8s.io websocket), and the
control plane's loopback bridge over it (``PodForward``)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes.stream import portforward

from mvd_core.platforms.kubernetes.portforward import PodForward, ready_pod
from mvd_core.platforms.kubernetes.simulator import MappedPod, SimulatorServer

NAMESPACE = "space-enforcer"


def _echo(prefix: bytes) -> Iterator[tuple[str, int]]:
    """A loopback TCP echo server whose answer on each connection starts with ``prefix``."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return

            def handle(conn: socket.socket = conn) -> None:
                with conn:
                    first = prefix
                    while data := conn.recv(65536):
                        conn.sendall(first + data)
                        first = b""

            threading.Thread(target=handle, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[:2]
    server.close()


@pytest.fixture
def identity_port() -> Iterator[tuple[str, int]]:
    yield from _echo(b"identity:")


@pytest.fixture
def sts_port() -> Iterator[tuple[str, int]]:
    yield from _echo(b"sts:")


@pytest.fixture
def hub_pod(sim: SimulatorServer, identity_port, sts_port) -> MappedPod:
    pod = MappedPod(
        NAMESPACE,
        "identityhub-7d9f-abcde",
        {"app.kubernetes.io/name": "identityhub"},
        {15151: identity_port, 9292: sts_port},
    )
    sim.store.ensure_cluster("alice")
    sim.map_pod("alice", pod)
    return pod


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_bytes_flow_both_ways_on_two_ports_of_one_forward(api: k8s.ApiClient, hub_pod: MappedPod):
    core = k8s.CoreV1Api(api)
    forward = portforward(core.connect_get_namespaced_pod_portforward, hub_pod.name, NAMESPACE, ports="15151,9292")
    identity, sts = forward.socket(15151), forward.socket(9292)
    identity.setblocking(True)
    sts.setblocking(True)
    small = b"GET /api/identity"
    identity.sendall(small)
    assert _recv_exactly(identity, len(b"identity:") + len(small)) == b"identity:" + small
    # larger than one 16-bit websocket length each way (the 64-bit length form on both sides)
    big = os.urandom(200_000)
    sts.sendall(big)
    assert _recv_exactly(sts, len(b"sts:") + len(big)) == b"sts:" + big
    assert forward.error(15151) is None and forward.error(9292) is None
    identity.close()
    sts.close()


def test_a_closed_target_port_arrives_as_a_clear_error(api: k8s.ApiClient, hub_pod: MappedPod):
    core = k8s.CoreV1Api(api)
    forward = portforward(core.connect_get_namespaced_pod_portforward, hub_pod.name, NAMESPACE, ports="8080")
    stream = forward.socket(8080)
    stream.setblocking(True)
    assert stream.recv(100) == b""  # closed by the client once the error channel spoke
    error = forward.error(8080)
    assert error is not None
    assert "error forwarding port 8080 to pod identityhub-7d9f-abcde" in error and "Connection refused" in error


def test_an_unknown_pod_or_a_plain_get_is_refused(api: k8s.ApiClient, sim: SimulatorServer, hub_pod: MappedPod):
    core = k8s.CoreV1Api(api)
    with pytest.raises(Exception, match="404"):
        portforward(core.connect_get_namespaced_pod_portforward, "no-such-pod", NAMESPACE, ports="15151")
    answer = httpx.get(
        f"{sim.cluster_url('alice')}/api/v1/namespaces/{NAMESPACE}/pods/{hub_pod.name}/portforward?ports=1"
    )
    assert answer.status_code == 400 and answer.json()["message"] == "Upgrade request required"


def test_pods_are_listed_by_selector_only_where_a_test_mapped_them(api: k8s.ApiClient, hub_pod: MappedPod):
    assert ready_pod(api, NAMESPACE, "app.kubernetes.io/name=identityhub") == hub_pod.name
    assert ready_pod(api, NAMESPACE, "app.kubernetes.io/name=connector") is None
    assert ready_pod(api, "interstellar-assembly", "app.kubernetes.io/name=identityhub") is None


def test_the_bridge_reaches_a_pods_http_port_and_keeps_the_error_of_a_closed_one(
    api: k8s.ApiClient, sim: SimulatorServer
):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Hello(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            out = b"got " + body
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        sim.map_pod("alice", MappedPod(NAMESPACE, "web-0", {}, {8080: http.server_address[:2]}))
        with PodForward(api, NAMESPACE, "web-0", [8080, 9090]) as forward, httpx.Client() as client:
            for n in range(3):  # one kept-alive connection, then a new one
                assert client.post(forward.url(8080, "/x"), content=f"hi {n}").text == f"got hi {n}"
            with pytest.raises(httpx.TransportError):
                httpx.get(forward.url(9090, "/"), timeout=5)
            assert "error forwarding port 9090 to pod web-0" in forward.describe_errors()
    finally:
        http.shutdown()
        http.server_close()
