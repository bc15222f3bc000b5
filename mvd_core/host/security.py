"""What `mvd serve` exposes and to whom: the Host names it answers to, the security headers
on every response, and whether reading the API needs the token.

A browser page from anywhere can make requests to ``127.0.0.1:7080``; it cannot read the
answers (no CORS) unless its own name resolves to this machine (DNS rebinding), and then
the request carries that name as ``Host``. So only the names the server is reached at are
served: the loopback names with the server's port, and ``MVD_PUBLIC_URL``'s host.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders

from mvd_core.api.dashboard import SECURITY_HEADERS
from mvd_core.api.handlers import error
from mvd_core.settings import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?")

# (name, port); port None: the Host header named no port (the scheme's default).
HostKey = tuple[str, int | None]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether a bind address (``MVD_HOST``) is reachable from this machine only."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def reads_need_token(settings: Settings) -> bool:
    """GET /api/... needs the token when ``MVD_ANONYMOUS_READS`` says so, or (unset) when the
    server listens on more than loopback."""
    if settings.anonymous_reads is not None:
        return not settings.anonymous_reads
    return not is_loopback(settings.host)


def _normalise(name: str) -> str:
    return name.lower().removesuffix(".")


def parse_host(value: str) -> HostKey | None:
    """A ``Host`` header as (lower-case name without a trailing dot, port or None); None when
    it is not a host[:port] at all."""
    match = _HOST.fullmatch(value.strip())
    if not match:
        return None
    port = match.group("port")
    return _normalise(match.group("name")), int(port) if port is not None else None


def allowed_hosts(settings: Settings) -> frozenset[HostKey]:
    """The loopback names with the server's port, and the host of ``MVD_PUBLIC_URL`` (of
    http://MVD_HOST:MVD_PORT when unset), each also without a port when its port is the
    scheme's default."""
    allowed: set[HostKey] = {(_normalise(name), settings.port) for name in LOOPBACK_NAMES}
    if settings.port == _DEFAULT_PORTS["http"]:
        allowed |= {(_normalise(name), None) for name in LOOPBACK_NAMES}
    public = urlsplit(settings.base_url)
    if public.hostname:
        name = _normalise(f"[{public.hostname}]" if ":" in public.hostname else public.hostname)
        default = _DEFAULT_PORTS.get(public.scheme)
        port = public.port or default
        allowed.add((name, port))
        if port == default:
            allowed.add((name, None))
    return frozenset(allowed)


def _describe(allowed: frozenset[HostKey]) -> str:
    return ", ".join(sorted(name if port is None else f"{name}:{port}" for name, port in allowed))


class Exposure:
    """ASGI middleware: refuse a request whose ``Host`` is not one of ``allowed`` (421, JSON,
    nothing else runs), and put the security headers on every response."""

    def __init__(self, app: App, allowed: frozenset[HostKey]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = [v for k, v in scope.get("headers", []) if k == b"host"]
        host = raw[0].decode("latin-1") if len(raw) == 1 else None
        if host is None or parse_host(host) not in self.allowed:
            await self._refuse(host, len(raw), send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, host: str | None, count: int, send: Send) -> None:
        if host is None:
            status, message = 400, ("missing Host header" if count == 0 else "more than one Host header")
        else:
            status = 421
            message = (
                f"this server does not answer to the host {host[:100]!r}; it answers to "
                f"{_describe(self.allowed)} (set MVD_PUBLIC_URL to the address clients use)"
            )
        body = json.dumps(error(status, message).body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
