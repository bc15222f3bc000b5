"""Reaching a pod's port from the control plane through the Kubernetes API (a port-forward), as
``kubectl port-forward`` does: no Ingress, and NetworkPolicy does not govern it, so an API that
stays closed to every pod (the identity hub's identity and STS APIs) is still reachable by
whoever may port-forward in the namespace.

``PodForward`` listens on a loopback port per forwarded pod port; each connection accepted there
opens its own port-forward stream through the official client (``kubernetes.stream.portforward``,
a websocket to ``.../pods/<pod>/portforward``), and bytes are copied both ways until either side
closes. What the API server reports on a port's error channel (the pod's port refused the
connection, say) is kept in ``errors`` for the caller's message.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from typing import Any, Self

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import portforward

from mvd_core.errors import ExternalError, MvdError
from mvd_core.logs import get_logger
from mvd_core.platforms.kubernetes.client import call

log = get_logger(__name__)


def ready_pod(api_client: k8s.ApiClient, namespace: str, selector: str) -> str | None:
    """The name of a running, ready pod matching the label ``selector``, or None."""
    pods = call(
        k8s.CoreV1Api(api_client).list_namespaced_pod, namespace, label_selector=selector, what=f"list pods {selector}"
    )
    for pod in sorted(pods.items, key=lambda p: str(p.metadata.name if p.metadata else "")):
        if pod.metadata is None or pod.status is None or pod.metadata.deletion_timestamp is not None:
            continue
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if pod.status.phase == "Running" and ready:
            return str(pod.metadata.name)
    return None


class PodForward:
    """Loopback addresses that reach ``ports`` of pod ``pod`` in ``namespace``, while open."""

    def __init__(self, api_client: k8s.ApiClient, namespace: str, pod: str, ports: Sequence[int]) -> None:
        self.api_client, self.namespace, self.pod = api_client, namespace, pod
        self.errors: list[str] = []
        self._listeners: dict[int, socket.socket] = {}
        self._closed = threading.Event()
        for port in ports:
            listener = socket.create_server(("127.0.0.1", 0))
            self._listeners[port] = listener
            threading.Thread(
                target=self._accept, args=(port, listener), name=f"port-forward {pod}:{port}", daemon=True
            ).start()

    def url(self, port: int, path: str = "") -> str:
        """``http://127.0.0.1:<local port><path>``: what reaches the pod's ``port``."""
        return f"http://127.0.0.1:{self._listeners[port].getsockname()[1]}{path}"

    def describe_errors(self) -> str:
        return "; ".join(dict.fromkeys(self.errors))

    def close(self) -> None:
        self._closed.set()
        for listener in self._listeners.values():
            listener.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self, port: int, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                local, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._bridge, args=(port, local), daemon=True).start()

    def _bridge(self, port: int, local: socket.socket) -> None:
        try:
            forward = self._open(port)
        except MvdError as exc:
            self.errors.append(exc.message)
            local.close()
            return
        remote = forward.socket(port)
        remote.setblocking(True)
        done = threading.Event()

        def copy(source: Any, target: Any) -> None:
            try:
                while chunk := source.recv(65536):
                    target.sendall(chunk)
            except OSError:
                pass
            done.set()

        threading.Thread(target=copy, args=(local, remote), daemon=True).start()
        threading.Thread(target=copy, args=(remote, local), daemon=True).start()
        done.wait()
        error = forward.error(port)
        if error:
            self.errors.append(error.strip())
            log.warning("port-forward to %s/%s:%d: %s", self.namespace, self.pod, port, error.strip())
        for sock in (local, remote):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        forward.close()

    def _open(self, port: int) -> Any:
        core = k8s.CoreV1Api(self.api_client)
        try:
            return portforward(core.connect_get_namespaced_pod_portforward, self.pod, self.namespace, ports=str(port))
        except ApiException as exc:
            # the websocket handshake's failure: status 0 and the server's answer as the reason
            raise ExternalError(
                f"port-forward to pod {self.namespace}/{self.pod} port {port}: {exc.reason or exc.status}"
            ) from None
