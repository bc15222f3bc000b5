"""A did:web resolver that is safe to point at an address someone else chose.

DID -> URL by the W3C CCG rules (``didweb.did_to_url``), then one GET with:

- HTTPS with certificate checks; plain HTTP only for loopback hosts and only when
  ``allow_http_loopback`` (MVD_ALLOW_HTTP_LOOPBACK) is set;
- the host's addresses resolved once and checked: private, loopback, link-local, reserved
  or multicast addresses are refused unless ``allow_private`` (MVD_ALLOW_PRIVATE_HOSTS);
  the connection goes to the checked address (no second lookup to rebind);
- IP-literal hosts refused (did:web names a domain; spec: "MUST NOT include IP addresses"),
  in every form (``[::1]``, ``127.1``, ``2130706433``, percent-encoded); after decoding, a
  host must be a DNS name (Unicode as IDNA 2008) and nothing in it is dropped;
- connect and read timeouts plus an overall deadline, at most 64 KiB read;
- redirects followed only within the same host and port, never to http from https;
- the body must be a JSON object whose ``id`` is the DID.

Every failure is a ``ResolutionError`` subclass with a message naming the problem.
``routes`` maps URL prefixes to other URLs: tests use it to resolve ``did:web:<domain>``
against an emulator's address while every check above still applies to the routed URL.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

from mvd_core.dataspace.models import DidHost, LocalDidHost
from mvd_core.errors import MvdError
from mvd_core.identity import didweb
from mvd_core.identity.document import to_bytes, verification_keys
from mvd_core.logs import get_logger
from mvd_core.settings import Settings

log = get_logger(__name__)

MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3
JSON_TYPES = {"application/json", "application/did+json", "application/did+ld+json", "application/ld+json"}
USER_AGENT = "mvd-did-resolver/1"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ResolutionError(MvdError):
    status = 502


class NotDidWeb(ResolutionError):
    status = 400


class MalformedDid(ResolutionError):
    status = 400


class IpLiteralHost(ResolutionError):
    status = 400


class HostNotFound(ResolutionError):
    pass


class PrivateAddress(ResolutionError):
    status = 403


class InsecureScheme(ResolutionError):
    status = 403


class Unreachable(ResolutionError):
    pass


class ResolutionTimeout(ResolutionError):
    status = 504


class HttpStatusError(ResolutionError):
    pass


class RedirectRefused(ResolutionError):
    pass


class DocumentTooLarge(ResolutionError):
    pass


class NotJson(ResolutionError):
    pass


class IdMismatch(ResolutionError):
    pass


class PublishedMismatch(ResolutionError):
    pass


def options_from(settings: Settings) -> dict[str, Any]:
    """The resolver's keyword arguments from settings."""
    return {"allow_http_loopback": settings.allow_http_loopback, "allow_private": settings.allow_private_hosts}


def _ip(text: str) -> IpAddress | None:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_public(ip: IpAddress) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _addresses(host: str, port: int, allow_private: bool) -> list[str]:
    literal = _ip(host)
    if literal is not None:
        found = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise HostNotFound(f"cannot resolve host {host!r}: {getattr(exc, 'strerror', None) or exc}") from None
        found = []
        for info in infos:
            ip = _ip(str(info[4][0]))
            if ip is not None and ip not in found:
                found.append(ip)
        if not found:
            raise HostNotFound(f"host {host!r} has no addresses")
    if not allow_private:
        for ip in found:
            if not _is_public(ip):
                kind = "loopback" if ip.is_loopback else "link-local" if ip.is_link_local else "private or reserved"
                raise PrivateAddress(
                    f"host {host!r} resolves to {ip}, a {kind} address; refusing to connect "
                    "(set MVD_ALLOW_PRIVATE_HOSTS=true to allow it)"
                )
    return [str(ip) for ip in found]


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _port(parts: SplitResult, url: str) -> int | None:
    try:
        return parts.port
    except ValueError:
        raise MalformedDid(f"invalid port in {url}") from None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


@functools.lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    """Made once: loading the CA bundle costs more than a loopback request, and a client
    context can be shared between threads."""
    return ssl.create_default_context()


class _Fetcher:
    def __init__(
        self,
        *,
        allow_http_loopback: bool,
        allow_private: bool,
        timeout: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.allow_http_loopback = allow_http_loopback
        self.allow_private = allow_private
        self.timeout = timeout
        self.deadline = time.monotonic() + 3 * timeout
        self._ssl_context = ssl_context

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self._ssl_context or _default_ssl_context()

    def _remaining(self, url: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ResolutionTimeout(f"GET {url} took longer than {3 * self.timeout:g}s")
        return min(self.timeout, left)

    def fetch(self, url: str) -> tuple[str, bytes, str | None]:
        """GET with redirects inside the origin; returns final URL, body, content type."""
        origin = None
        for _ in range(MAX_REDIRECTS + 1):
            status, location, body, content_type, url = self._get_once(url)
            # the origin as fetched (a loopback https URL may have become http)
            origin = origin or urlsplit(url)
            if location is None:
                if status != 200:
                    raise HttpStatusError(f"GET {url} answered HTTP {status}, not 200")
                return url, body, content_type
            target = urlsplit(urljoin(url, location))
            same_origin = (target.hostname, _port(target, location) or _DEFAULT_PORTS.get(target.scheme)) == (
                origin.hostname,
                _port(origin, url) or _DEFAULT_PORTS.get(origin.scheme),
            )
            if same_origin and origin.scheme == "https" and target.scheme != "https":
                raise RedirectRefused(f"GET {url} redirects from HTTPS to {target.scheme}: refusing the downgrade")
            if not same_origin:
                where = target.netloc or location
                raise RedirectRefused(
                    f"GET {url} redirects to another host ({target.scheme}://{where}); "
                    "a did:web document must be served by the DID's own host"
                )
            url = target.geturl()
        raise RedirectRefused(f"more than {MAX_REDIRECTS} redirects resolving {url}")

    def _get_once(self, url: str) -> tuple[int, str | None, bytes, str | None, str]:
        parts = urlsplit(url)
        host = parts.hostname or ""
        scheme = parts.scheme
        if scheme not in ("http", "https"):
            raise InsecureScheme(f"refusing scheme {scheme!r} in {url}")
        explicit_port = _port(parts, url)
        addresses = _addresses(host, explicit_port or 443, self.allow_private)
        loopback = all(_ip(a).is_loopback for a in addresses)  # type: ignore[union-attr]
        if scheme == "https" and loopback and self.allow_http_loopback:
            scheme = "http"  # the setting: loopback hosts (a local server) speak plain HTTP
            url = parts._replace(scheme="http").geturl()
        if scheme == "http" and not (loopback and self.allow_http_loopback):
            raise InsecureScheme(
                f"refusing plain HTTP to {host}: did:web needs HTTPS "
                "(plain HTTP is allowed only for loopback hosts with MVD_ALLOW_HTTP_LOOPBACK=true)"
            )
        port = explicit_port or (443 if scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        last_error: OSError | None = None
        for address in addresses:
            timeout = self._remaining(url)
            conn: http.client.HTTPConnection
            if scheme == "https":
                conn = _PinnedHTTPSConnection(host, port, address, timeout, self.ssl_context)
            else:
                conn = _PinnedHTTPConnection(host, port, address, timeout)
            try:
                try:
                    conn.connect()
                except ssl.SSLError as exc:
                    raise Unreachable(f"TLS with {host}:{port} failed: {exc.reason or exc}") from None
                except TimeoutError:
                    raise ResolutionTimeout(f"connecting to {host}:{port} timed out after {timeout:g}s") from None
                except OSError as exc:
                    last_error = exc
                    continue
                return self._exchange(conn, url, path)
            finally:
                conn.close()
        reason = last_error.strerror if last_error and last_error.strerror else str(last_error)
        raise Unreachable(f"cannot connect to {host}:{port}: {reason}")

    def _exchange(
        self, conn: http.client.HTTPConnection, url: str, path: str
    ) -> tuple[int, str | None, bytes, str | None, str]:
        try:
            conn.request(
                "GET",
                path,
                headers={
                    "Accept": "application/did+json, application/json;q=0.9",
                    "Accept-Encoding": "identity",
                    "User-Agent": USER_AGENT,
                },
            )
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                return response.status, response.getheader("Location") or "", b"", None, url
            length = response.getheader("Content-Length")
            # ASCII digits only: "²".isdigit() is true and int("²") raises; a bad length is ignored
            # (the read below still stops at the limit)
            if length and re.fullmatch(r"[0-9]{1,20}", length) and int(length) > MAX_BYTES:
                raise DocumentTooLarge(f"document at {url} is {int(length)} bytes, over the {MAX_BYTES}-byte limit")
            chunks: list[bytes] = []
            size = 0
            while True:
                if conn.sock is not None:
                    conn.sock.settimeout(self._remaining(url))
                chunk = response.read(8192)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BYTES:
                    raise DocumentTooLarge(f"document at {url} is over the {MAX_BYTES}-byte limit")
                chunks.append(chunk)
            return response.status, None, b"".join(chunks), response.getheader("Content-Type"), url
        except TimeoutError:
            raise ResolutionTimeout(f"GET {url} timed out (no data for {self.timeout:g}s)") from None
        except (http.client.HTTPException, OSError) as exc:
            raise Unreachable(f"GET {url} failed: {type(exc).__name__}: {exc}") from None


def _route(url: str, routes: Mapping[str, str] | None) -> str:
    for prefix, target in (routes or {}).items():
        if url.startswith(prefix):
            return target + url[len(prefix) :]
    return url


def _parse(did: str, url: str, body: bytes, content_type: str | None) -> dict[str, Any]:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media and media not in JSON_TYPES and not media.endswith("+json"):
        raise NotJson(f"{url} is served as {media!r}, not as JSON (application/did+json or application/json)")
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise NotJson(f"{url} is not UTF-8 text, so not a JSON DID document") from None
    except json.JSONDecodeError as exc:
        raise NotJson(
            f"{url} does not contain valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # an integer longer than Python converts; the advice after ';' is for programmers
        raise NotJson(f"{url} does not contain valid JSON ({str(exc).split(';')[0]})") from None
    if not isinstance(document, dict):
        raise NotJson(f"{url} holds a JSON {type(document).__name__}, not a DID document object")
    if document.get("id") != did:
        raise IdMismatch(f"the document at {url} has id {document.get('id')!r}, which is not the DID {did!r}")
    return document


def did_url(did: str) -> str:
    """The HTTPS URL of a did:web's document, with did:web-specific errors."""
    if not isinstance(did, str) or not did.startswith("did:web:"):
        method = (
            did.split(":", 2)[1] if isinstance(did, str) and did.startswith("did:") and did.count(":") >= 2 else None
        )
        what = f"a did:{method} DID" if method else "not a DID"
        raise NotDidWeb(f"{did!r} is {what}; only did:web DIDs can be resolved here")
    try:
        url = didweb.did_to_url(did)
    except didweb.IpLiteralDid as exc:
        raise IpLiteralHost(exc.message) from None
    except didweb.InvalidDid as exc:
        raise MalformedDid(exc.message) from None
    host = urlsplit(url).hostname or ""
    if _ip(host) is not None:
        raise IpLiteralHost(f"{did!r} names the IP address {host}; a did:web host must be a domain name")
    return url


def resolve(
    did: str,
    *,
    allow_http_loopback: bool = False,
    allow_private: bool = False,
    timeout: float = 5.0,
    routes: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> dict[str, Any]:
    """Fetch and check the DID document of a did:web DID."""
    url = _route(did_url(did), routes)
    fetcher = _Fetcher(
        allow_http_loopback=allow_http_loopback, allow_private=allow_private, timeout=timeout, ssl_context=ssl_context
    )
    log.debug("resolving %s at %s", did, url)
    final_url, body, content_type = fetcher.fetch(url)
    return _parse(did, final_url, body, content_type)


def check_endpoint(url: str, *, allow_http_loopback: bool = False, allow_private: bool = False) -> None:
    """Refuse (``ResolutionError``) to call ``url``, an endpoint that a resolved document named,
    unless it passes the resolver's own rules: http(s) only, its host's addresses public unless
    ``allow_private``, plain HTTP only to loopback with ``allow_http_loopback``."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureScheme(f"refusing endpoint {str(url)[:200]!r}: not an http(s) URL with a host")
    addresses = _addresses(parts.hostname, _port(parts, url) or _DEFAULT_PORTS[parts.scheme], allow_private)
    loopback = all(_ip(a).is_loopback for a in addresses)  # type: ignore[union-attr]
    if parts.scheme == "http" and not (loopback and allow_http_loopback):
        raise InsecureScheme(
            f"refusing plain HTTP to {parts.hostname}: endpoints need HTTPS "
            "(plain HTTP is allowed only for loopback hosts with MVD_ALLOW_HTTP_LOOPBACK=true)"
        )


def verify_published(did: str, expected_document: dict[str, Any], **resolve_options: Any) -> dict[str, Any]:
    """Resolve ``did`` and check that it serves exactly ``expected_document``.

    Raises ``PublishedMismatch`` naming what differs (a stale CDN copy shows as a different
    key); otherwise returns the resolved document.
    """
    served = resolve(did, **resolve_options)
    if to_bytes(served) == to_bytes(expected_document):
        return served
    published_kids = [k.get("kid") for k in verification_keys(expected_document)]
    served_kids = [k.get("kid") for k in verification_keys(served)]
    if published_kids != served_kids:
        raise PublishedMismatch(
            f"{did} serves key(s) {served_kids or 'none'} but key(s) {published_kids or 'none'} were published "
            "(a cache may still serve the old document)"
        )
    fields = sorted(k for k in set(served) | set(expected_document) if served.get(k) != expected_document.get(k))
    raise PublishedMismatch(f"{did} serves a document that differs from the published one in: {', '.join(fields)}")


def options_for(host: DidHost, settings: Settings) -> dict[str, Any]:
    """Resolver options for a DID on ``host``: the settings, except that a ``local`` host is
    the control plane's own server, usually on loopback over plain HTTP, and always reachable."""
    if isinstance(host, LocalDidHost):
        return {"allow_http_loopback": True, "allow_private": True}
    return options_from(settings)
