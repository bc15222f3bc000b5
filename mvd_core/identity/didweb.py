"""did:web identifiers <-> HTTPS URLs, by the W3C CCG did:web method specification.

``did:web:example.com`` -> ``https://example.com/.well-known/did.json``
``did:web:example.com%3A8443:user:alice`` -> ``https://example.com:8443/user/alice/did.json``
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote, urlsplit

import idna

from mvd_core.dataspace.models import (
    AzureBlobDidHost,
    CloudflareDidHost,
    DidHost,
    LocalDidHost,
    S3DidHost,
    char_name,
    dns_name_problem,
    is_ip_literal,
    show,
)
from mvd_core.errors import MvdError

_RAW_SEGMENT = re.compile(r"[A-Za-z0-9._~%-]+")
_PORT = re.compile(r"[0-9]{1,5}")
# After decoding, a path segment is one segment: no separator, no dot-segment, nothing hidden.
_NOT_IN_SEGMENT = set("/\\?#")
_HIDDEN = ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")


class InvalidDid(MvdError):
    status = 400


class IpLiteralDid(InvalidDid):
    """did:web names a domain: the method forbids IP addresses."""


def did_from_host_and_path(host: str, port: int | None = None, path: list[str] | tuple[str, ...] = ()) -> str:
    """Build a did:web from a host, optional port (encoded as %3A) and path segments."""
    authority = host.lower() + (f"%3A{port}" if port else "")
    return ":".join(["did", "web", authority, *(quote(seg, safe="") for seg in path)])


def _decoded(did: str, part: str, what: str) -> str:
    """``part`` percent-decoded as UTF-8, refusing (never dropping) what a name cannot hold."""
    try:
        text = unquote(part, errors="strict")
    except UnicodeDecodeError:
        raise InvalidDid(f"{show(did)} has a {what} that is not percent-encoded UTF-8") from None
    hidden = next((c for c in text if unicodedata.category(c) in _HIDDEN), None)
    if hidden is not None:
        raise InvalidDid(
            f"{show(did)} has a {what} containing {char_name(hidden)}; control characters, spaces and "
            "invisible characters are refused, never dropped"
        )
    return text


def _host_and_port(did: str, authority: str) -> tuple[str, int | None]:
    """The ASCII (A-label) host and the port of a did:web's percent-decoded authority."""
    decoded = _decoded(did, authority, "host")
    host, sep, port_text = decoded.partition(":") if not is_ip_literal(decoded) else (decoded, "", "")
    if is_ip_literal(host):
        raise IpLiteralDid(
            f"{show(did)} names the IP address {host.strip('[]')} (an IP literal); a did:web host must be a domain name"
        )
    port = None
    if sep:
        port = int(port_text) if _PORT.fullmatch(port_text) else 0
        if not 1 <= port <= 65535:
            raise InvalidDid(f"{show(did)} has an invalid port {show(port_text, 20)} (a number from 1 to 65535)")
    name = "".join(c.lower() if c.isascii() else c for c in host)
    if not name.isascii() or any(label.startswith("xn--") for label in name.split(".")):
        try:
            name = idna.encode(name).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidDid(
                f"{show(did)} has the host {show(host)}, which is not a valid internationalized domain name "
                f"(IDNA 2008: {exc})"
            ) from None
    problem = dns_name_problem(name)
    if problem:
        raise InvalidDid(f"{show(did)} has the host {show(host)}, which {problem}")
    return name, port


def did_to_url(did: str, *, scheme: str = "https") -> str:
    """The URL of a did:web's DID document. Raises ``InvalidDid`` naming the problem
    (``IpLiteralDid`` for an IP address). The host is checked after percent-decoding: a valid
    DNS name (Unicode as IDNA 2008, sent as its A-label), never an address, and nothing in
    it is dropped."""
    if not isinstance(did, str) or not did.startswith("did:web:"):
        raise InvalidDid(f"{show(did)} is not a did:web DID (it must start with 'did:web:')")
    if len(did) > 2048:
        raise InvalidDid("DID is longer than 2048 characters")
    if any(c in did for c in "/?#") or any(ord(c) < 0x21 or ord(c) > 0x7E for c in did):
        raise InvalidDid(f"{show(did)} contains characters not allowed in a did:web method-specific id")
    parts = did[len("did:web:") :].split(":")
    if not parts[0]:
        raise InvalidDid(f"{show(did)} has an empty host")
    host, port = _host_and_port(did, parts[0])
    for seg in parts[1:]:
        if not _RAW_SEGMENT.fullmatch(seg):
            raise InvalidDid(f"{show(did)} has an invalid path segment {show(seg)}")
        decoded = _decoded(did, seg, f"path segment {seg!r}")
        if decoded in (".", "..") or _NOT_IN_SEGMENT & set(decoded):
            raise InvalidDid(f"{show(did)} has an invalid path segment {seg!r} (it decodes to {show(decoded)})")
    netloc = host + (f":{port}" if port else "")
    if len(parts) == 1:
        return f"{scheme}://{netloc}/.well-known/did.json"
    return f"{scheme}://{netloc}/" + "/".join(parts[1:]) + "/did.json"


def document_path(path: list[str] | tuple[str, ...]) -> str:
    """The object key of did.json inside a host's bucket/container/directory."""
    return "/".join([*path, "did.json"]) if path else ".well-known/did.json"


def public_host(host: DidHost) -> str:
    """The DNS name a did:web on this host carries (for ``local``, see ``did_for``)."""
    match host:
        case CloudflareDidHost() | AzureBlobDidHost() | S3DidHost():
            return host.public_host
        case LocalDidHost():
            raise MvdError("a local DID host has no public name of its own; pass the server's base URL")
    raise MvdError(f"unknown DID host kind {host!r}")  # pragma: no cover


def did_for(host: DidHost, participant_id: str, *, local_base_url: str | None = None) -> str:
    """The participant's DID on its host.

    A ``local`` host serves documents at ``<base>/dids/<participant-id>/[path/]did.json``,
    so its DID is ``did:web:<host>%3A<port>:dids:<participant-id>[:path...]`` (``localhost``
    for a loopback base URL).
    """
    if isinstance(host, LocalDidHost):
        split = urlsplit(local_base_url or "http://127.0.0.1:7080")
        name = split.hostname or "127.0.0.1"
        # did:web forbids IP addresses; a loopback address is named "localhost" instead
        if name in ("127.0.0.1", "::1", "0.0.0.0"):
            name = "localhost"
        return did_from_host_and_path(name, split.port, ["dids", participant_id, *host.path])
    return did_from_host_and_path(public_host(host), None, host.path)
