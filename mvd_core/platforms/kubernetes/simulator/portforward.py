"""A pod's port-forward on the simulated API server: the real websocket protocol, bridged to
local addresses a test maps the pod's ports to.

The official client (``kubernetes.stream.portforward``) opens
``GET .../namespaces/<ns>/pods/<pod>/portforward?ports=<p>[,<q>...]`` as a websocket offering the
``v5.channel.k8s.io`` and ``v4.channel.k8s.io`` subprotocols; the API server (through the
kubelet) accepts ``v4.channel.k8s.io`` for a port-forward. Every binary message starts with a
channel byte: port ``i`` (in the order of ``ports``) has data channel ``2i`` and error channel
``2i+1``. The server's first message on each channel is the port number, little-endian uint16;
then data flows both ways on the data channel, and a failure to reach the pod's port arrives on
the error channel as text (``error forwarding port <p> to pod <pod>, uid ...: ...``), after which
that port is closed. The websocket closes once every port's connection has ended. (The kubelet's
``pkg/kubelet/cri/streaming/portforward/websocket.go`` does this; the API server relays it.)
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BufferedIOBase
from typing import Final

from mvd_core.logs import get_logger

log = get_logger(__name__)

PROTOCOL: Final = "v4.channel.k8s.io"
_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


@dataclass(frozen=True)
class MappedPod:
    """A pod the simulated cluster pretends runs: its labels and, per container port, the local
    address that stands in for it (a port not mapped refuses connections, as a closed port does)."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    ports: Mapping[int, tuple[str, int]]
    uid: str = field(default="")

    def as_object(self) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(self.labels), "uid": self.uid},
            "spec": {"containers": [{"name": self.name, "ports": [{"containerPort": p} for p in sorted(self.ports)]}]},
            "status": {
                "phase": "Running",
                "podIP": "127.0.0.1",
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` answer to a client's ``Sec-WebSocket-Key`` (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame (servers never mask)."""
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 1 << 16:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


def read_frame(stream: BufferedIOBase) -> tuple[int, bytes] | None:
    """The next (opcode, unmasked payload) from a client, or None at the end of the stream."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    opcode, size, masked = head[0] & 0x0F, head[1] & 0x7F, bool(head[1] & 0x80)
    if size == 126:
        size = struct.unpack("!H", stream.read(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", stream.read(8))[0]
    mask = stream.read(4) if masked else b""
    payload = stream.read(size)
    if len(payload) < size:
        return None
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


class Forwarding:
    """One accepted port-forward websocket: a connection to each requested port's stand-in."""

    def __init__(self, pod: MappedPod, ports: list[int], reader: BufferedIOBase, writer: BufferedIOBase) -> None:
        self.pod, self.ports = pod, ports
        self._reader, self._writer = reader, writer
        self._write_lock = threading.Lock()
        self._targets: dict[int, socket.socket | None] = {}
        self._open = 0
        self._open_lock = threading.Lock()
        self._done = threading.Event()

    def _send(self, opcode: int, payload: bytes) -> None:
        with self._write_lock:
            try:
                self._writer.write(frame(opcode, payload))
                self._writer.flush()
            except OSError:
                self._done.set()

    def run(self) -> None:
        for index, port in enumerate(self.ports):
            number = struct.pack("<H", port)
            self._send(_OP_BINARY, bytes([2 * index]) + number)
            self._send(_OP_BINARY, bytes([2 * index + 1]) + number)
        for index, port in enumerate(self.ports):
            self._connect(index, port)
        if self._open == 0:
            self._close()
            return
        reader = threading.Thread(target=self._from_client, name="k8s-sim-portforward-in", daemon=True)
        reader.start()
        self._done.wait()
        self._close()

    def _connect(self, index: int, port: int) -> None:
        address = self.pod.ports.get(port)
        try:
            if address is None:
                raise ConnectionRefusedError(111, "Connection refused")
            target = socket.create_connection(address, timeout=5)
            target.settimeout(None)
        except OSError as exc:
            self._targets[index] = None
            reason = exc.strerror or type(exc).__name__
            message = (
                f"error forwarding port {port} to pod {self.pod.name}, uid {self.pod.uid}: "
                f"failed to connect to localhost:{port} inside namespace {self.pod.namespace!r}: {reason}"
            )
            self._send(_OP_BINARY, bytes([2 * index + 1]) + message.encode())
            return
        self._targets[index] = target
        with self._open_lock:
            self._open += 1
        threading.Thread(
            target=self._from_target, args=(index, target), name="k8s-sim-portforward-out", daemon=True
        ).start()

    def _from_target(self, index: int, target: socket.socket) -> None:
        try:
            while chunk := target.recv(65536):
                self._send(_OP_BINARY, bytes([2 * index]) + chunk)
        except OSError:
            pass
        with self._open_lock:
            self._open -= 1
            if self._open == 0:
                self._done.set()

    def _from_client(self) -> None:
        while True:
            try:
                got = read_frame(self._reader)
            except OSError:
                got = None
            if got is None or got[0] == _OP_CLOSE:
                break
            opcode, payload = got
            if opcode == _OP_PING:
                self._send(_OP_PONG, payload)
            elif opcode in (_OP_BINARY, _OP_CONT) and payload:
                channel, data = payload[0], payload[1:]
                target = self._targets.get(channel // 2) if channel % 2 == 0 else None
                if target is not None and data:
                    try:
                        target.sendall(data)
                    except OSError:
                        pass
        self._done.set()

    def _close(self) -> None:
        for target in self._targets.values():
            if target is not None:
                try:
                    target.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                target.close()
        self._send(_OP_CLOSE, struct.pack("!H", 1000))
